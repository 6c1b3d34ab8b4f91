"""Monte Carlo simulation of random dense and sparse feed-forward networks (numpy, float64).

A network of widths (n_0, ..., n_L) maps an input x^0 to

    h^l = W^l (m^l * x^{l-1} / r) + b^l,    x^l = phi(h^l),    l = 1..L,

with W^l of shape (n_l, n_{l-1}) (PyTorch's layout), b^l_i ~ N(0, sigma_b^2), and, with dropout
of keep probability r, an independent Bernoulli(r) mask m^l per input (m = 1, r = 1 without
dropout). Weights are drawn as

* ``weights="gaussian"``, dense: W_ij ~ N(0, sigma_w^2 / n_{l-1});
* ``weights="gaussian"``, sparse (``densities`` given): the Erdos-Renyi mask of
  :func:`cascades.graphs.layered` times N(0, s) with s = sigma_w^2 / (p_l n_{l-1})
  (``scaling="layer"``, Gadhikar, Mukherjee & Burkholz 2023) or s = sigma_w^2 / k_i for a neuron
  of in-degree k_i (``scaling="neuron"``);
* ``weights="orthogonal"``: sqrt(sigma_w^2 max(1, n_l / n_{l-1})) times a Haar-random matrix with
  orthonormal rows or columns (so that the mean squared pre-activation is sigma_w^2 times the
  mean squared input, as for Gaussian weights).

All inputs are propagated at once as the columns of one matrix. The result keeps the
pre-activations, so the theory of :mod:`cascades.nn.meanfield` (q^l, c^l, chi_1) and of
:mod:`cascades.nn.sparse` can be compared with it in one line (tests/test_nn_simulate.py).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .._rng import as_generator
from .._validation import check_int, check_int_array, check_real
from ..graphs import LayeredGraph, layered
from ._guard import F8, guard, shown
from .activations import Activation, get_activation
from .exact import _haar_orthogonal, _haar_peak_bytes
from .meanfield import _VARIANCE_MAX

__all__ = ["NetworkSimulation", "gaussian_inputs", "simulate_network"]


def gaussian_inputs(n_inputs, width, *, q0=1.0, c0=0.0, rng=None) -> np.ndarray:
    """Inputs with exactly |x_a|^2 / width = q0 and pairwise correlation exactly c0.

    Parameters
    ----------
    n_inputs : int
        Number of inputs, 1 <= n_inputs <= width.
    width : int
        n_0, >= 1.
    q0 : float
        Mean squared entry of every input, > 0.
    c0 : float
        Correlation between any two inputs, in (-1 / (n_inputs - 1), 1].
    rng : None, int or numpy.random.Generator
        Randomness (keyword-only).

    Returns
    -------
    numpy.ndarray
        float64 (n_inputs, width), one input per row.

    Notes
    -----
    X = sqrt(q0 width) C^{1/2} Q^T with Q a Haar-random (width, n_inputs) matrix with orthonormal
    columns and C the equicorrelation matrix, so X X^T / width = q0 C exactly.

    Examples
    --------
    >>> X = gaussian_inputs(2, 50, q0=2.0, c0=0.3, rng=0)
    >>> np.round(X @ X.T / 50, 12).tolist()
    [[2.0, 0.6], [0.6, 2.0]]
    """
    width = check_int("width", width, low=1)
    n_inputs = check_int("n_inputs", n_inputs, low=1, high=width)
    q0 = check_real("q0", q0, low=0, high=_VARIANCE_MAX, low_open=True)
    lo = -1.0 / (n_inputs - 1) if n_inputs > 1 else -1.0
    c0 = check_real("c0", c0, low=lo, high=1.0, low_open=n_inputs > 1)
    guard(
        _inputs_peak_bytes(n_inputs, width),
        parameter=f"n_inputs = {n_inputs}, width = {width}",
        what="the inputs and the Haar matrix they are built from",
    )
    gen = as_generator(rng)
    C = np.full((n_inputs, n_inputs), c0)
    np.fill_diagonal(C, 1.0)
    evals, evecs = np.linalg.eigh(C)
    root = (evecs * np.sqrt(np.clip(evals, 0.0, None))) @ evecs.T
    Q = _haar_orthogonal(gen, width, n_inputs)
    return math.sqrt(q0 * width) * root @ Q.T


def _inputs_peak_bytes(n_inputs: int, width: int) -> int:
    """Peak bytes of :func:`gaussian_inputs`: the equicorrelation matrix, its eigenvectors and root, and
    the Haar matrix (:func:`cascades.nn.exact._haar_orthogonal`) the inputs are built from.

    Measured with tracemalloc: 8.0 (n_inputs = width = 3000), 4.0 (1000 x 4000) and 3.07 (50 x 3000)
    float64 arrays of n_inputs x width; this gives 7, 4.0 and 3.07.
    """
    return 3 * F8 * n_inputs * n_inputs + _haar_peak_bytes(width, n_inputs)


def _simulation_peak_bytes(widths, n_inputs: int, dens, weights: str, dropout: bool, generated: bool) -> int:
    """Peak bytes of :func:`simulate_network` (Python ints; a lower bound of the measured peak).

    Kept to the end: every weight matrix (float64), bias, pre-activation (n_l, n_inputs) and
    dropout mask, the inputs and the Erdos-Renyi graph (int64 indptr and one id of 4 or 8 bytes
    per expected edge). On top, the largest layer's transient: the dense float64 mask with, inside
    :meth:`cascades.graphs.LayeredGraph.mask`, the shifted ids, the int64 row of every edge and its
    intp copy, then the mask and one temporary of ``draw * scale * mask`` (NumPy reuses the other
    in place; the dense ``draw * scale`` costs nothing beyond the weight it becomes) (sparse), or
    the CholeskyQR of the Haar matrix (orthogonal); the current activation phi(h) and the dropout
    draw. The inputs are made first, alone: their peak (:func:`_inputs_peak_bytes`) counts apart.

    Measured with tracemalloc (tanh, rng=0; estimate in brackets): widths [3000, 3000, 3000] dense
    144.4 MB (144.2), sparse p = 0.3 324.0 MB (309.9), orthogonal 432.2 MB (360.2); [500, 6000, 6000]
    sparse p = 0.05 896.2 MB (896.3); [1000] * 3 with 1000 inputs and dropout 72.1 MB (72.0);
    [3000, 3000] with 3000 inputs 576.0 MB (504.0).
    """
    pairs = list(zip(widths, widths[1:], strict=False))
    kept = F8 * (widths[0] * n_inputs + sum(a * b + b + b * n_inputs for a, b in pairs))
    if dropout:
        kept += F8 * sum(a * n_inputs for a, _ in pairs)
    edges = [0] * len(pairs)
    if dens is not None:
        n = sum(widths)
        ids = 4 if n < 2**31 else 8
        edges = [int(a * b * p) for (a, b), p in zip(pairs, dens, strict=True)]
        kept += F8 * (n + 1) + ids * sum(edges)
    transient = 0
    for (a, b), e in zip(pairs, edges, strict=True):
        if weights == "orthogonal":
            t = _haar_peak_bytes(b, a) - F8 * a * b  # its result is the kept weight
        elif dens is not None:
            # the float64 mask with ids (4), rows (8) and their intp copy (8) per edge while it is
            # built, then the mask and one temporary of draw * scale * mask beside the weight
            t = max(F8 * a * b + 20 * e, 2 * F8 * a * b)
        else:
            t = 0
        t += F8 * b * n_inputs + F8 * a * n_inputs * dropout
        transient = max(transient, t)
    return max(kept + transient, _inputs_peak_bytes(n_inputs, widths[0]) if generated else 0)


@dataclass(frozen=True, eq=False)
class NetworkSimulation:
    """One random network applied to a batch of inputs (arrays read-only in spirit; not copied).

    Attributes
    ----------
    widths : tuple of int
        (n_0, ..., n_L).
    activation : Activation
    inputs : numpy.ndarray
        (n_0, n_inputs): x^0, one input per column.
    preactivations : tuple of numpy.ndarray
        h^1..h^L, each (n_l, n_inputs).
    weights, biases : tuple of numpy.ndarray
        W^l (n_l, n_{l-1}) and b^l (n_l,), l = 1..L.
    dropout_masks : tuple of numpy.ndarray or None
        Bernoulli masks (n_{l-1}, n_inputs) already divided by r, or None.
    graph : LayeredGraph or None
        The sparse topology (None for dense networks).
    q : numpy.ndarray
        (L + 1, n_inputs): q^l = mean_i (h^l_i)^2 per input; q^0 = |x^0|^2 / n_0.
    c : numpy.ndarray
        (L + 1,): correlation of the pre-activations of inputs 0 and 1,
        sum_i h_i(0) h_i(1) / sqrt(sum_i h_i(0)^2 sum_i h_i(1)^2) (NaN with one input).
    dead_fraction : numpy.ndarray
        (L + 1,): fraction of neurons of layer l with in-degree 0 (entry 0 is 0).
    q_neuron_std : numpy.ndarray
        (L + 1,): standard deviation across the neurons of layer l of their per-neuron
        q_i = mean over inputs of (h^l_i)^2 (NaN at l = 0).
    """

    widths: tuple
    activation: Activation
    inputs: np.ndarray
    preactivations: tuple
    weights: tuple
    biases: tuple
    dropout_masks: tuple | None
    graph: LayeredGraph | None
    q: np.ndarray
    c: np.ndarray
    dead_fraction: np.ndarray
    q_neuron_std: np.ndarray

    @property
    def n_layers(self) -> int:
        """L."""
        return len(self.widths) - 1

    def in_degrees(self, l) -> np.ndarray:
        """In-degrees (nonzero weights per row) of layer l, 1 <= l <= L."""
        l = check_int("l", l, low=1, high=self.n_layers)
        if self.graph is None:
            return np.full(self.widths[l], self.widths[l - 1], dtype=np.int64)
        return np.count_nonzero(self.graph.mask(l, dense=True), axis=1).astype(np.int64)

    def neuron_q(self, l) -> np.ndarray:
        """Per-neuron q_i = mean over inputs of (h^l_i)^2, shape (n_l,), 1 <= l <= L."""
        l = check_int("l", l, low=1, high=self.n_layers)
        return np.mean(self.preactivations[l - 1] ** 2, axis=1)

    def _layer_input(self, l) -> np.ndarray:
        x = self.inputs if l == 1 else self.activation.phi(self.preactivations[l - 2])
        return x if self.dropout_masks is None else x * self.dropout_masks[l - 1]

    def gradient_norms(self, *, rng=None) -> np.ndarray:
        """Squared norms of the back-propagated gradient of a random output vector, per layer.

        For each input a = 0..n_inputs-1, g_a ~ N(0, I_{n_L}) is the gradient of a loss with
        respect to the output x^L; then delta^L = phi'(h^L) g, delta^l = phi'(h^l) (W^{l+1})^T
        (dropout mask) delta^{l+1}.

        Returns
        -------
        numpy.ndarray
            float64 (L + 1, n_inputs): entry [l] = |delta^l|^2 for l >= 1 and the squared norm
            of the gradient with respect to the input x^0 at l = 0. For equal widths,
            E|delta^l|^2 / E|delta^{l+1}|^2 -> chi_1 (Schoenholz et al. 2017).
        """
        gen = as_generator(rng)
        L = self.n_layers
        act = self.activation
        g = gen.standard_normal((self.widths[L], self.inputs.shape[1]))
        out = np.empty((L + 1, self.inputs.shape[1]))
        delta = act.dphi(self.preactivations[L - 1]) * g
        out[L] = np.sum(delta**2, axis=0)
        for l in range(L, 0, -1):
            back = self.weights[l - 1].T @ delta
            if self.dropout_masks is not None:
                back = back * self.dropout_masks[l - 1]
            delta = back if l == 1 else act.dphi(self.preactivations[l - 2]) * back
            out[l - 1] = np.sum(delta**2, axis=0)
        return out

    def jacobian(self, input_index=0) -> np.ndarray:
        """Input-output Jacobian dx^L/dx^0 = D^L W^L ... D^1 W^1 at one input, shape (n_L, n_0).

        D^l = diag(phi'(h^l)) (times the dropout mask of the layer, if any).
        """
        a = check_int("input_index", input_index, low=0, high=self.inputs.shape[1] - 1)
        n0 = self.widths[0]
        # the identity, then per layer W @ M and the scaled product (measured 144 MB for widths
        # [2000, 3000, 3000]; this gives 128 MB)
        guard(
            F8 * (n0 * n0 + 2 * max(self.widths) * n0),
            parameter=f"widths = {shown(self.widths)}",
            what="the (n_l, n_0) Jacobian products",
        )
        J = np.eye(n0)
        for l in range(1, self.n_layers + 1):
            M = J if self.dropout_masks is None else self.dropout_masks[l - 1][:, a : a + 1] * J
            J = self.activation.dphi(self.preactivations[l - 1][:, a])[:, None] * (self.weights[l - 1] @ M)
        return J

    def jacobian_singular_values(self, input_index=0) -> np.ndarray:
        """Singular values of :meth:`jacobian` (descending)."""
        J = self.jacobian(input_index)
        guard(2 * J.nbytes, parameter=f"widths = {shown(self.widths)}", what="the SVD's copy of the Jacobian")
        return np.linalg.svd(J, compute_uv=False)


def _check_densities(densities, L):
    if isinstance(densities, numbers.Real) and not isinstance(densities, bool):
        dens = [float(densities)] * L
    else:
        arr = np.asarray(densities, dtype=float)
        if arr.ndim != 1 or arr.shape[0] != L:
            raise ValueError(
                f"densities must be a number or have len(widths) - 1 = {L} entries, got shape {arr.shape}"
            )
        dens = [float(v) for v in arr]
    for i, p in enumerate(dens):
        check_real(f"densities[{i}]" if L > 1 else "densities", p, low=0, high=1, low_open=True)
    return dens


def simulate_network(
    activation,
    sigma_w2,
    sigma_b2,
    widths,
    *,
    densities=None,
    scaling="layer",
    inputs=None,
    n_inputs=2,
    q0=1.0,
    c0=0.5,
    weights="gaussian",
    dropout_keep=None,
    rng=None,
) -> NetworkSimulation:
    """Draw one random (dense or sparse) network and propagate a batch of inputs through it.

    Parameters
    ----------
    activation : str or Activation
        A name of :func:`cascades.nn.activations.get_activation` or an Activation.
    sigma_w2, sigma_b2 : float
        Weight variance (times the fan-in) and bias variance, >= 0.
    widths : sequence of int
        (n_0, ..., n_L), each >= 1, at least two entries.
    densities : float or sequence of float, optional
        Erdos-Renyi mask densities p_l in (0, 1] (one number for all layers); None: dense.
    scaling : {"layer", "neuron"}
        Sparse weight variance sigma_w2 / (p_l n_{l-1}) or sigma_w2 / k_i (see module docstring).
    inputs : array_like, optional
        (n_inputs, n_0) inputs, one per row. Default: :func:`gaussian_inputs` with ``n_inputs``,
        ``q0`` and ``c0``.
    n_inputs : int
        Number of generated inputs (used when ``inputs`` is None), 1 <= n_inputs <= n_0.
    q0, c0 : float
        Mean squared entry and pairwise correlation of the generated inputs.
    weights : {"gaussian", "orthogonal"}
        Weight law; "orthogonal" requires a dense network.
    dropout_keep : float, optional
        Keep probability r in (0, 1] of dropout applied to every layer's input (inverted dropout:
        kept units are divided by r, masks independent per input); None: no dropout.
    rng : None, int or numpy.random.Generator
        Randomness (keyword-only), consumed in this order: generated inputs, the mask graph, then
        per layer the weights, the biases and the dropout mask.

    Returns
    -------
    NetworkSimulation

    Raises
    ------
    ValueError
        For negative variances, densities outside (0, 1], an unknown activation, ``scaling`` or
        ``weights``, widths that are not positive integers, inputs of the wrong shape, or
        orthogonal weights with a sparse mask.
    cascades.MemoryLimitError
        If the weights, pre-activations and masks (all kept in the result) do not fit in memory:
        checked before anything is drawn (8 bytes per weight and per pre-activation, plus the
        largest layer's temporaries: 16 bytes per weight of a sparse layer, 24 of an orthogonal one;
        see ``_simulation_peak_bytes``).

    Notes
    -----
    Cost O(sum_l n_l n_{l-1} n_inputs) (dense matrix products; masks are applied as dense 0/1
    arrays). The topology is :func:`cascades.graphs.layered`, so a network and a cascade can run
    on the same :class:`~cascades.graphs.LayeredGraph` (``result.graph``).

    Examples
    --------
    >>> sim = simulate_network("tanh", 1.5, 0.05, [100, 100, 100], rng=0)
    >>> sim.q.shape, sim.c.shape
    ((3, 2), (3,))
    >>> bool(abs(sim.c[0] - 0.5) < 1e-12)
    True
    """
    act = get_activation(activation)
    # the statistics square the squared pre-activations: beyond 1e100 they overflow float64
    sw2 = check_real("sigma_w2", sigma_w2, low=0, high=_VARIANCE_MAX)
    sb2 = check_real("sigma_b2", sigma_b2, low=0, high=_VARIANCE_MAX)
    w = check_int_array("widths", widths, low=1)
    if w.shape[0] < 2:
        raise ValueError(f"widths must list at least two layer widths, got {list(w)}")
    widths_t = tuple(int(v) for v in w)
    L = len(widths_t) - 1
    if scaling not in ("layer", "neuron"):
        raise ValueError(f"scaling must be 'layer' or 'neuron', got {scaling!r}")
    if weights not in ("gaussian", "orthogonal"):
        raise ValueError(f"weights must be 'gaussian' or 'orthogonal', got {weights!r}")
    dens = None if densities is None else _check_densities(densities, L)
    if dens is not None and weights == "orthogonal":
        raise ValueError("weights='orthogonal' needs a dense network (densities=None)")
    keep = None
    if dropout_keep is not None:
        keep = check_real("dropout_keep", dropout_keep, low=0, high=1, low_open=True)
    if inputs is None:
        n_in = check_int("n_inputs", n_inputs, low=1)
        if n_in > widths_t[0]:
            raise ValueError(
                f"n_inputs must be at most the input width n_0 = {widths_t[0]} (inputs with a prescribed "
                f"correlation c0 span at most n_0 dimensions), got {n_in}"
            )
    else:
        X = np.asarray(inputs, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != widths_t[0] or X.shape[0] < 1 or not np.all(np.isfinite(X)):
            raise ValueError(
                f"inputs must be a finite (n_inputs, n_0 = {widths_t[0]}) array, got shape {X.shape}"
            )
        n_in = X.shape[0]
    guard(
        _simulation_peak_bytes(widths_t, n_in, dens, weights, keep is not None, inputs is None),
        parameter=f"widths = {shown(widths_t)} with {n_in} inputs",
        what="the weights, pre-activations and masks of every layer",
    )
    gen = as_generator(rng)
    if inputs is None:
        X = gaussian_inputs(n_in, widths_t[0], q0=q0, c0=c0, rng=gen).T
    else:
        X = X.T.copy()
    graph = None if dens is None else layered(widths_t, dens, rng=gen)
    Ws, bs, masks, hs = [], [], [] if keep is not None else None, []
    x = X
    for l in range(1, L + 1):
        a, b = widths_t[l - 1], widths_t[l]
        if weights == "orthogonal":
            W = math.sqrt(sw2 * max(1.0, b / a)) * _haar_orthogonal(gen, b, a)
        elif graph is None:
            W = gen.standard_normal((b, a)) * math.sqrt(sw2 / a)
        else:
            mask = graph.mask(l, dense=True, dtype=np.float64)
            if scaling == "layer":
                scale = np.full((b, 1), math.sqrt(sw2 / (dens[l - 1] * a)))
            else:
                k = mask.sum(axis=1, keepdims=True)
                scale = np.sqrt(sw2 / np.maximum(k, 1.0))
            W = gen.standard_normal((b, a)) * scale * mask
        bias = gen.standard_normal(b) * math.sqrt(sb2)
        if keep is not None:
            m = (gen.random((a, n_in)) < keep) / keep
            masks.append(m)
            x = x * m
        h = W @ x + bias[:, None]
        q_max = float(np.max(np.abs(h))) ** 2 if h.size else 0.0
        if not q_max <= _VARIANCE_MAX:  # also nan
            raise ValueError(
                f"the pre-activations of layer {l} reach a squared size of {q_max:.3g}, beyond "
                f"{_VARIANCE_MAX:g} where float64 statistics overflow: with sigma_w2 = {sw2:g} and "
                f"sigma_b2 = {sb2:g} the signal grows too fast; use at most {l - 1} layers (widths) or "
                "smaller variances"
            )
        Ws.append(W)
        bs.append(bias)
        hs.append(h)
        x = act.phi(h)
    q = np.empty((L + 1, n_in))
    q[0] = np.mean(X**2, axis=0)
    c = np.full(L + 1, np.nan)
    dead = np.zeros(L + 1)
    spread = np.full(L + 1, np.nan)
    for l, h in enumerate([X, *hs]):
        if l > 0:
            q[l] = np.mean(h**2, axis=0)
            spread[l] = float(np.std(np.mean(h**2, axis=1)))
        if n_in > 1:
            den = math.sqrt(float(h[:, 0] @ h[:, 0]) * float(h[:, 1] @ h[:, 1]))
            c[l] = float(h[:, 0] @ h[:, 1]) / den if den > 0 else np.nan
    if graph is not None:
        for l in range(1, L + 1):
            dead[l] = float(np.mean(graph.mask(l, dense=True).sum(axis=1) == 0))
    return NetworkSimulation(
        widths=widths_t,
        activation=act,
        inputs=X,
        preactivations=tuple(hs),
        weights=tuple(Ws),
        biases=tuple(bs),
        dropout_masks=None if masks is None else tuple(masks),
        graph=graph,
        q=q,
        c=c,
        dead_fraction=dead,
        q_neuron_std=spread,
    )
