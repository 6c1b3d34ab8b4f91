"""Signal propagation through sparse networks with Erdos-Renyi masks (Gadhikar et al., ICML 2023).

Layer l of a sparse network keeps each weight of an n_l x n_{l-1} matrix independently with
probability p_l (the topology of :func:`cascades.graphs.layered`), so a neuron's in-degree
(fan-in) is k ~ Binomial(n_{l-1}, p_l). Seen as a cascade on the layered random graph, a layer
is one synchronous step in which a node sees its *full* in-degree k (there is no parent edge to
exclude, unlike the excess degree k - 1 of cascades on undirected graphs).

This module predicts, layer by layer,

* the effective fan-in p_l n_{l-1} and the fraction of dead neurons (in-degree 0),
  (1 - p_l)^{n_{l-1}};
* the distribution across neurons of the pre-activation variance q_i caused by the binomial
  in-degree, for the per-layer weight variance sigma_w^2 / (p_l n_{l-1}) and for the per-neuron
  variance sigma_w^2 / k_i (:func:`sparse_signal_propagation`);
* the expected active fraction of a cascade model run layer by layer, by the local tree
  recursion or by the exact Markov chain on the number of active nodes per layer
  (:func:`layered_cascade_sizes`); with ``AbsoluteThreshold(1)`` this is the probability that a
  neuron is connected to the input (:func:`input_connectivity`), and a Heaviside network with
  weights 1/k_i and bias -phi is exactly Watts' model (tests/test_nn_sparse.py).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .._special import binom_pmf
from .._validation import check_int_array, check_real
from ..models import AbsoluteThreshold, CascadeModel
from ._guard import F8, guard, shown
from .activations import expect_phi_sq, gaussian_expectation, get_activation
from .meanfield import _variance

__all__ = [
    "SparseLayerStats",
    "sparse_signal_propagation",
    "layered_cascade_sizes",
    "input_connectivity",
]


def _check_widths(widths) -> tuple[int, ...]:
    w = check_int_array("widths", widths, low=1)
    if w.shape[0] < 2:
        raise ValueError(f"widths must list at least two layer widths (n_0, ..., n_L), got {list(w)}")
    return tuple(int(v) for v in w)


def _check_densities(densities, L: int) -> tuple[float, ...]:
    if isinstance(densities, numbers.Real) and not isinstance(densities, bool):
        dens = [densities] * L
    else:
        arr = np.asarray(densities, dtype=float)
        if arr.ndim != 1 or arr.shape[0] != L:
            raise ValueError(
                f"densities must be a number or have len(widths) - 1 = {L} entries, got shape {arr.shape}"
            )
        dens = list(arr)
    # below 1e-100 no network that fits in memory keeps a weight, and sigma_w2 / (p n) overflows
    return tuple(check_real("densities", float(p), low=_DENSITY_MIN, high=1) for p in dens)


_DENSITY_MIN = 1e-100


@dataclass(frozen=True)
class SparseLayerStats:
    """Statistics of one layer of a sparse random network (see :func:`sparse_signal_propagation`).

    Attributes
    ----------
    layer : int
        l, 1 <= l <= L.
    n_in, n_out : int
        n_{l-1} and n_l.
    density : float
        p_l.
    scaling : str
        "layer" (weight variance sigma_w^2 / (p_l n_in)) or "neuron" (sigma_w^2 / k_i).
    mean_fan_in : float
        Effective fan-in p_l n_in.
    dead_fraction : float
        (1 - p_l)^{n_in}: neurons without inputs (their pre-activation is the bias alone).
    degree_pmf : numpy.ndarray
        Bin(k; n_in, p_l), k = 0..n_in.
    q_by_degree : numpy.ndarray
        q(k) = E[h_i^2 | k_i = k], k = 0..n_in.
    q_mean : float
        sum_k Bin(k) q(k) = E[h_i^2]: the layer's q^l.
    q_std : float
        Standard deviation of q(k) over k ~ Bin(n_in, p_l): the spread of q across neurons
        caused by the in-degree alone.
    mean_phi_sq : float
        E[phi(h_i)^2] over the neurons of the layer: the mean squared activation fed to l + 1.
    var_phi_sq : float
        Var[phi(h_i)^2] over neurons and inputs (used by the finite fan-in closure).
    """

    layer: int
    n_in: int
    n_out: int
    density: float
    scaling: str
    mean_fan_in: float
    dead_fraction: float
    degree_pmf: np.ndarray
    q_by_degree: np.ndarray
    q_mean: float
    q_std: float
    mean_phi_sq: float
    var_phi_sq: float


_N_GAMMA = 24  # Gauss nodes for the Gamma closure: exact for polynomials of degree <= 47 in V


def _gamma_rule(shape: float, n: int = _N_GAMMA) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rule for Gamma(shape, scale 1): nodes and weights (summing to 1), by Golub-Welsch.

    The Jacobi matrix of the generalised Laguerre polynomials (alpha = shape - 1) has diagonal
    2 i + shape and off-diagonal sqrt(i (i + shape - 1)); this stays finite for any shape,
    where scipy's ``roots_genlaguerre`` weights overflow for shape above ~170.
    """
    i = np.arange(n, dtype=float)
    diag = 2.0 * i + shape
    off = np.sqrt(i[1:] * (i[1:] + shape - 1.0))
    nodes, vecs = linalg.eigh_tridiagonal(diag, off)
    return nodes, vecs[0] ** 2


def sparse_signal_propagation(
    activation,
    sigma_w2,
    sigma_b2,
    widths,
    densities,
    *,
    scaling="layer",
    q0=1.0,
    input_kurtosis=3.0,
    method="gamma",
) -> tuple[SparseLayerStats, ...]:
    """Per-layer signal-propagation statistics of a random network with Erdos-Renyi masks.

    Parameters
    ----------
    activation : str or Activation
        See :func:`cascades.nn.activations.get_activation`.
    sigma_w2, sigma_b2 : float
        Weight and bias variances, >= 0.
    widths : sequence of int
        (n_0, ..., n_L), each >= 1.
    densities : float or sequence of float
        Mask densities p_l in (0, 1].
    scaling : {"layer", "neuron"}
        Weight variance sigma_w2 / (p_l n_{l-1}) or sigma_w2 / k_i.
    q0 : float
        Mean squared entry of the input, |x^0|^2 / n_0 (>= 0).
    input_kurtosis : float
        E[x^4] / E[x^2]^2 of the input entries (>= 1): 3 for Gaussian entries (the inputs of
        :func:`cascades.nn.simulate.gaussian_inputs`), 1 for entries of equal magnitude.
    method : {"gamma", "mean"}
        "mean": every neuron of in-degree k has pre-activation variance exactly q(k).
        "gamma": the finite fan-in closure (Notes), which also accounts for the fluctuation of
        the sum over a neuron's k inputs.

    Returns
    -------
    tuple of SparseLayerStats
        One per layer l = 1..L.

    Raises
    ------
    ValueError
        For negative variances or q0, densities outside (0, 1], widths that are not positive
        integers, an unknown activation, scaling or method.
    cascades.MemoryLimitError
        If the in-degree distribution of the widest layer (about 56 (n_in + 1) bytes: every
        in-degree 0..n_in is tabulated) does not fit in memory.

    Notes
    -----
    With Gaussian weights, a neuron of in-degree k with the weight variance s_k is, given the
    previous layer's activations y_j = x_j^2, Gaussian with variance V = s_k S + sigma_b^2,
    S = sum of its k inputs' y_j; s_k = sigma_w^2 / (p n_in) (per-layer) or sigma_w^2 / k
    (per-neuron). Averaging over the random choice of inputs gives the exact conditional mean

        q(k) = E[h_i^2 | k] = s_k k m_{l-1} + sigma_b^2,   m_{l-1} = E[y],

    (with m_0 = q0), which with p = 1 is the length map of Poole et al. (2016). Per-layer scaling
    keeps q_mean equal to the dense map with effective fan-in p n_in (Gadhikar, Mukherjee &
    Burkholz 2023) but spreads q(k) with relative standard deviation sqrt((1 - p) / (p n_in))
    (before the bias); per-neuron scaling leaves only the dead neurons off the common value.

    The next layer needs m_l = E[phi(sqrt(V) z)^2], which depends on the law of V, not only
    on its mean. ``method="mean"`` sets V = q(k) (the infinite fan-in limit at fixed k / n_in).
    ``method="gamma"`` treats the k inputs as independent draws, so S has mean k m and variance
    k v (v = Var[y], propagated from layer to layer; for the input v = (kurtosis - 1) q0^2), and
    closes S as a Gamma variable with these two moments (exact when y is itself Gamma, e.g. for
    Gaussian input entries); the expectation over S uses a 24-node Gauss rule. For ReLU,
    E[phi^2] is linear in V and both methods agree exactly; for saturating activations and
    small fan-in the closure removes most of the O(1/k) bias of "mean" (tests/test_nn_simulate.py).
    Cost O(L n_in) one-dimensional expectations (times 24 for "gamma").

    References
    ----------
    Poole et al., NeurIPS 2016 (length map); A. Gadhikar, S. Mukherjee and R. Burkholz, "Why
    random pruning is all we need to start sparse", ICML 2023 (density-scaled initialisation).

    Examples
    --------
    >>> st = sparse_signal_propagation("relu", 2.0, 0.0, [100, 100], 0.1)
    >>> round(st[0].q_mean, 12), round(st[0].dead_fraction, 8)
    (2.0, 2.656e-05)
    >>> st = sparse_signal_propagation("relu", 2.0, 0.0, [100, 100], 0.1, scaling="neuron")
    >>> round(st[0].q_mean, 8)  # only the dead neurons miss the signal
    1.99994688
    """
    act = get_activation(activation)
    sw2 = _variance("sigma_w2", sigma_w2)
    sb2 = _variance("sigma_b2", sigma_b2)
    q0 = _variance("q0", q0)
    kurt = check_real("input_kurtosis", input_kurtosis, low=1)
    w = _check_widths(widths)
    L = len(w) - 1
    dens = _check_densities(densities, L)
    if scaling not in ("layer", "neuron"):
        raise ValueError(f"scaling must be 'layer' or 'neuron', got {scaling!r}")
    if method not in ("gamma", "mean"):
        raise ValueError(f"method must be 'gamma' or 'mean', got {method!r}")
    guard(
        _propagation_peak_bytes(max(w[:-1])),
        parameter=f"widths = {shown(w)}",
        what="the in-degree distribution of the widest layer",
    )

    def phi4(v):
        return gaussian_expectation(lambda x: act.phi(x) ** 4, v)

    m_prev, v_prev = q0, (kurt - 1.0) * q0**2
    out = []
    for l in range(1, L + 1):
        n_in, p = w[l - 1], dens[l - 1]
        k = np.arange(n_in + 1)
        pmf = binom_pmf(k, n_in, p)
        s_k = np.full(n_in + 1, sw2 / (p * n_in)) if scaling == "layer" else sw2 / np.maximum(k, 1)
        with np.errstate(over="ignore"):  # an overflow to inf is refused by name just below
            qk = s_k * k * m_prev + sb2
        _check_scale(float(qk.max()), l, w, sw2)
        q_mean = float(pmf @ qk)
        q_std = float(np.sqrt(max(pmf @ (qk - q_mean) ** 2, 0.0)))
        live = np.flatnonzero(pmf > 1e-16 * pmf.max())
        if method == "mean" or v_prev <= 0.0 or m_prev <= 0.0:
            V = qk[live][:, None]
            wts = np.ones((live.size, 1))
        else:
            shape_unit = m_prev**2 / v_prev  # S ~ Gamma(k m^2 / v, scale v / m)
            V = np.empty((live.size, _N_GAMMA))
            wts = np.empty((live.size, _N_GAMMA))
            for row, kv in enumerate(live):
                if kv == 0:
                    V[row], wts[row] = sb2, 1.0 / _N_GAMMA
                    continue
                nodes, wv = _gamma_rule(kv * shape_unit)
                V[row] = s_k[kv] * nodes * (v_prev / m_prev) + sb2
                wts[row] = wv
        _check_scale(float(V.max()), l, w, sw2)
        e2 = np.asarray(expect_phi_sq(act, V), dtype=float)
        e4 = np.asarray(phi4(V), dtype=float)
        m_next = float(pmf[live] @ np.sum(wts * e2, axis=1))
        y2 = float(pmf[live] @ np.sum(wts * e4, axis=1))
        v_next = max(y2 - m_next * m_next, 0.0)
        out.append(
            SparseLayerStats(
                layer=l,
                n_in=n_in,
                n_out=w[l],
                density=p,
                scaling=scaling,
                mean_fan_in=p * n_in,
                dead_fraction=float((1.0 - p) ** n_in),
                degree_pmf=pmf,
                q_by_degree=qk,
                q_mean=q_mean,
                q_std=q_std,
                mean_phi_sq=m_next,
                var_phi_sq=v_next,
            )
        )
        m_prev, v_prev = m_next, v_next
    return tuple(out)


def _probability(value) -> float:
    """A probability computed as a weighted sum of probabilities, clipped to [0, 1].

    Sums of binomial pmfs times responses in [0, 1] are probabilities, but their float64 value can
    leave [0, 1] by round-off (1.0000000000000002 for a layer that is reached with certainty), and
    ``scipy.stats.binom.pmf`` with p > 1 is nan: the next layer would be nan.
    """
    return min(max(float(value), 0.0), 1.0)


# the spread of q and the closure's E[phi^4] grow like the square of the pre-activation variance
_MEAN_SQ_MAX = 1e150


def _check_scale(q: float, layer: int, widths, sw2: float) -> None:
    """ValueError (naming widths and sigma_w2) once a pre-activation variance passes _MEAN_SQ_MAX."""
    if not q <= _MEAN_SQ_MAX:
        raise ValueError(
            f"widths = {shown(widths)}, sigma_w2 = {sw2:g}: the pre-activation variance reaches {q:.3g} "
            f"at layer {layer} (the signal grows by about sigma_w2 per layer), past {_MEAN_SQ_MAX:g}, where "
            "its square (the spread of q and E[phi^4] of the finite fan-in closure) overflows float64; use "
            "fewer layers or a smaller sigma_w2"
        )


def _propagation_peak_bytes(n_in: int) -> int:
    """Peak bytes of one layer of :func:`sparse_signal_propagation` with fan-in n_in.

    The degrees k, their pmf (with scipy's temporaries), s_k, q(k) and the spread: measured 7.25
    float64 arrays of n_in + 1 entries (n_in = 10^6 and 10^7, tanh and relu, both methods), plus
    at most a few tens of MB for the Gamma closure's (live degrees, 24) arrays and the chunked
    quadrature.
    """
    return 7 * F8 * (n_in + 1)


def _cascade_peak_bytes(widths, method: str) -> int:
    """Peak bytes of :func:`layered_cascade_sizes`: the (n + 1)^2 response table F(m, k), the
    binomial table and their product (tree), or F and the (n_{l-1} + 1, n_l + 1) transition matrix
    (exact): measured 7.1-7.3 float64 arrays of (n + 1)^2 entries (n = 300 and 600, both methods)."""
    pairs = list(zip(widths, widths[1:], strict=False))
    if method == "tree":
        return 7 * F8 * max((a + 1) ** 2 for a, _ in pairs)
    return 7 * F8 * max((a + 1) * max(a + 1, b + 1) for a, b in pairs)


def _response_table(model: CascadeModel, n: int) -> np.ndarray:
    """F[m, k] for 0 <= m <= k <= n (0 above the diagonal)."""
    m = np.arange(n + 1)[:, None]
    k = np.arange(n + 1)[None, :]
    F = np.asarray(model.response(np.minimum(m, k), np.broadcast_to(k, (n + 1, n + 1))), dtype=float)
    return np.where(m <= k, F, 0.0)


def layered_cascade_sizes(model, widths, densities, *, rho0, method="tree") -> np.ndarray:
    """Expected active fraction per layer of a cascade run layer by layer on a layered ER graph.

    Layer 0 holds the seeds (each input node active independently with probability ``rho0``);
    a node of layer l with in-degree k ~ Bin(n_{l-1}, p_l) and m active in-neighbours is active
    with probability F(m, k) = ``model.response(m, k)``; this is one synchronous cascade step per
    layer (``cascades.simulate(graph, model, seeds=..., dynamics="sync")`` on
    :func:`cascades.graphs.layered`, where the step of a node equals its layer).

    Parameters
    ----------
    model : CascadeModel
        A model with a response function F(m, k) (e.g. ``FractionalThreshold(phi)``).
    widths : sequence of int
        (n_0, ..., n_L), each >= 1.
    densities : float or sequence of float
        p_l in (0, 1].
    rho0 : float
        Seed probability of each input node, in [0, 1].
    method : {"tree", "exact"}
        "tree": the local tree recursion
        rho_l = sum_k Bin(k; n_{l-1}, p_l) sum_m Bin(m; k, rho_{l-1}) F(m, k), O(L n^2).
        "exact": the Markov chain of the number A_l of active nodes,
        A_l | A_{l-1} = a ~ Bin(n_l, f_l(a)), f_l(a) = sum_{m, j} Bin(m; a, p_l)
        Bin(j; n_{l-1} - a, p_l) F(m, m + j) (the active and inactive in-neighbours are
        independent binomials for an ER mask), A_0 ~ Bin(n_0, rho0); exact for finite widths,
        O(L n^3) (use widths up to a few hundred).

    Returns
    -------
    numpy.ndarray
        float64 (L + 1,): E[A_l] / n_l (entry 0 is rho0).

    Raises
    ------
    ValueError
        For bad widths, densities, rho0 or method.
    cascades.MemoryLimitError
        If the O(n^2) tables of the widest layer (about 56 (n + 1)^2 bytes) do not fit in memory.

    Notes
    -----
    The tree recursion replaces the hypergeometric number of active in-neighbours of a node
    (given the active set of the previous layer) by Bin(k, rho_{l-1}) and the random active
    fraction by its mean; it is the synchronous, full-in-degree version of the local tree
    approximation of Gleeson & Cahalane (2007), eq. (1) with the excess degree k - 1 replaced
    by k, and becomes exact as the widths grow at fixed p_l n_{l-1}.

    References
    ----------
    D. J. Watts, PNAS 99, 5766 (2002); J. P. Gleeson and D. J. Cahalane, Phys. Rev. E 75,
    056103 (2007).

    Examples
    --------
    >>> from cascades.models import FractionalThreshold
    >>> rho = layered_cascade_sizes(FractionalThreshold(0.2), [50, 50, 50], 0.1, rho0=0.3)
    >>> rho.shape, float(rho[0])
    ((3,), 0.3)
    """
    if not isinstance(model, CascadeModel):
        raise ValueError(f"model must be a CascadeModel with a response F(m, k), got {type(model).__name__}")
    w = _check_widths(widths)
    L = len(w) - 1
    dens = _check_densities(densities, L)
    rho0 = check_real("rho0", rho0, low=0, high=1)
    if method not in ("tree", "exact"):
        raise ValueError(f"method must be 'tree' or 'exact', got {method!r}")
    guard(
        _cascade_peak_bytes(w, method),
        parameter=f"widths = {shown(w)} (method {method!r})",
        what="the response and binomial tables of the widest layer",
    )
    out = np.empty(L + 1)
    out[0] = rho0
    if method == "tree":
        for l in range(1, L + 1):
            n, p = w[l - 1], dens[l - 1]
            F = _response_table(model, n)
            k = np.arange(n + 1)
            pk = binom_pmf(k, n, p)
            pm = binom_pmf(k[:, None], k[None, :], out[l - 1])  # [m, k]
            out[l] = _probability(pk @ np.sum(pm * F, axis=0))
        return out
    dist = binom_pmf(np.arange(w[0] + 1), w[0], rho0)  # law of A_0
    for l in range(1, L + 1):
        n, p = w[l - 1], dens[l - 1]
        F = _response_table(model, n)
        f = np.empty(n + 1)
        for a in range(n + 1):
            bm = binom_pmf(np.arange(a + 1), a, p)
            bj = binom_pmf(np.arange(n - a + 1), n - a, p)
            idx = np.arange(a + 1)[:, None] + np.arange(n - a + 1)[None, :]
            f[a] = _probability(bm @ F[np.arange(a + 1)[:, None], idx] @ bj)
        out[l] = _probability(dist @ f)
        dist = dist @ binom_pmf(np.arange(w[l] + 1)[None, :], w[l], f[:, None])
    return out


def input_connectivity(widths, densities, *, method="tree") -> np.ndarray:
    """Probability that a neuron of layer l has a path from the input layer (ER masks).

    Tree recursion (``method="tree"``): P_0 = 1, P_l = 1 - (1 - p_l P_{l-1})^{n_{l-1}}, the
    layered local tree recursion with the full in-degree (a node is reached iff one of its
    Bin(n_{l-1}, p_l) in-neighbours is); ``method="exact"``: the exact Markov chain of
    :func:`layered_cascade_sizes`. Both are :func:`layered_cascade_sizes` with
    ``AbsoluteThreshold(1)`` and ``rho0 = 1``; the tree recursion is evaluated in this closed form
    (O(L), no table), as -expm1(n_{l-1} log1p(-p_l P_{l-1})), which stays in [0, 1].

    Parameters
    ----------
    widths : sequence of int
        (n_0, ..., n_L), each >= 1.
    densities : float or sequence of float
        p_l in (0, 1].
    method : {"tree", "exact"}
        See above; "exact" costs O(L n^3) time and O(n^2) memory.

    Returns
    -------
    numpy.ndarray
        float64 (L + 1,), entry 0 is 1.

    Raises
    ------
    ValueError
        For bad widths, densities or method.
    cascades.MemoryLimitError
        With ``method="exact"``, if the O(n^2) tables do not fit in memory.

    References
    ----------
    The recursion is the directed, layered case of the tree-based percolation equations of
    Newman, Strogatz & Watts, Phys. Rev. E 64, 026118 (2001), here with the binomial degree
    generating function G(x) = (1 - p + p x)^n evaluated at x = 1 - P_{l-1}.

    Examples
    --------
    >>> P = input_connectivity([100, 100, 100], 0.02)
    >>> bool(abs(P[1] - (1 - 0.98**100)) < 1e-12)
    True
    >>> input_connectivity([500] * 4, 0.5).tolist()   # reached with certainty, exactly 1
    [1.0, 1.0, 1.0, 1.0]
    """
    if method != "tree":
        return layered_cascade_sizes(AbsoluteThreshold(1), widths, densities, rho0=1.0, method=method)
    w = _check_widths(widths)
    dens = _check_densities(densities, len(w) - 1)
    out = np.ones(len(w))
    for l in range(1, len(w)):
        x = dens[l - 1] * out[l - 1]
        out[l] = -math.expm1(w[l - 1] * math.log1p(-x)) if x < 1.0 else 1.0
    return out
