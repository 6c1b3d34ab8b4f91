"""Exact finite-width signal propagation in random ReLU networks (Burkholz & Dubatovka, NeurIPS 2019).

For a fully connected ReLU layer with iid Gaussian weights W_ij ~ N(0, sigma_w^2 / n_in)
and biases b_i ~ N(0, sigma_b^2), and a fixed input x^{l-1}, the pre-activations
h_i = sum_j W_ij x_j + b_i are iid N(0, v) with

    v = sigma_w^2 |x^{l-1}|^2 / n_{l-1} + sigma_b^2 .

A ReLU keeps the positive ones, so

    |x^l|^2 = v * chi^2_K ,   K ~ Binomial(n_l, 1/2),

with chi^2_0 = 0: the signal dies in layer l with probability 2^{-n_l}. Layer by layer
(fresh weights per layer) the squared norms form a Markov chain, which gives

* exact moments of every order (:func:`relu_norm_moments`): E[(a s + b)^m] expands into the
  moments of s, and E[(chi^2_K)^m] = sum_k Bin(k; n, 1/2) k (k + 2) ... (k + 2m - 2);
* exact sampling in O(L) per sample (:func:`sample_relu_norms`);
* the exact law of one layer as a binomial mixture of scaled chi-squares with an atom at 0
  (:class:`ReluLayerNormLaw`);
* for zero bias, |x^L|^2 / |x^0|^2 = prod_l (sigma_w^2 / n_{l-1}) chi^2_{K_l} with independent
  factors, whose log-density on a grid is a numerical convolution
  (:func:`relu_output_norm_cdf`; exact up to the stated grid error).

Under He initialisation (sigma_w^2 = 2, sigma_b^2 = 0) and equal widths n the layer ratio
r = |x^l|^2 / |x^{l-1}|^2 has E[r] = 1 and E[r^2] = 1 + 5/n (derived in
``theory/relu_finite_width.py``).

The looks-linear construction (:func:`looks_linear_weights`) shares parameters so that a
ReLU network is exactly linear at initialisation.

References
----------
R. Burkholz and A. Dubatovka, "Initialization of ReLUs for dynamical isometry",
NeurIPS 32 (2019), pp. 2385-2395: the exact signal distribution of ReLU networks with
Gaussian weights and biases, and the parameter-sharing (looks-linear) initialisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy import linalg, special, stats

from .._rng import as_generator
from .._validation import check_int, check_int_array, check_real
from ._guard import F8, guard, shown

__all__ = [
    "ReluLayerNormLaw",
    "relu_norm_moments",
    "relu_dead_signal_probability",
    "sample_relu_norms",
    "relu_output_norm_cdf",
    "looks_linear_weights",
]


def _check_widths(widths) -> np.ndarray:
    w = check_int_array("widths", widths, low=1)
    if w.shape[0] < 2:
        raise ValueError(f"widths must list at least two layer widths (n_0, ..., n_L), got {list(w)}")
    return w


def _chi2_binomial_moments(n: int, order: int) -> np.ndarray:
    """E[(chi^2_K)^m], K ~ Bin(n, 1/2), for m = 0..order, exactly rounded, in O(order^2) (any n).

    E[(chi^2_k)^m] = k (k + 2) ... (k + 2m - 2) =: P_m(k). In the falling-factorial basis
    k^(i) = k (k - 1) ... (k - i + 1), where E[K^(i)] = n^(i) / 2^i, multiplying by (k + c) maps
    k^(i) to k^(i + 1) + (i + c) k^(i); the coefficients are integers, so the moment is the exact
    rational sum_i b_i n^(i) / 2^i, rounded once (inf past the float range). No array of size n.
    """
    out = np.ones(order + 1)
    coef = [1]  # P_0 = 1 in the falling-factorial basis
    falling = [1]  # n^(i) 2^(order - i), exact integers
    for i in range(1, order + 1):
        falling.append(falling[-1] * max(n - i + 1, 0))
    for m in range(1, order + 1):
        c = 2 * (m - 1)
        new = [0] * (len(coef) + 1)
        for i, b in enumerate(coef):
            new[i + 1] += b
            new[i] += (i + c) * b
        coef = new
        exact = Fraction(sum(b * falling[i] * 2 ** (m - i) for i, b in enumerate(coef)), 2**m)
        try:
            out[m] = float(exact)
        except OverflowError:
            out[m] = math.inf
    return out


def _half_binomial_support(n: int) -> tuple[int, int]:
    """The k range [lo, hi] outside which Bin(k; n, 1/2) underflows to 0 in float64.

    Hoeffding's bound P[|K - n/2| >= t] <= 2 exp(-2 t^2 / n) is below 2^-1075 (half the smallest
    subnormal) for t > sqrt(372.6 n), so the pmf there is exactly 0 in float64 and the mixtures over
    k lose nothing by stopping at these ends: about 38.6 sqrt(n) terms instead of n + 1.
    """
    t = math.isqrt(373 * n) + 2
    return max(0, n // 2 - t), min(n, (n + 1) // 2 + t)


def _support_peak_bytes(n: int) -> int:
    """Bytes of k and Bin(k; n, 1/2) over :func:`_half_binomial_support`: with scipy's temporaries,
    measured 7.25 float64 arrays of the support's size."""
    lo, hi = _half_binomial_support(n)
    return 7 * F8 * (hi - lo + 1)


# x points per chunk of the (points, k) matrices of ReluLayerNormLaw.pdf / cdf and the columns per
# chunk of the (grid, k) matrix of relu_output_norm_cdf: about 2^20 float64 entries (8 MiB) each
_MIX_CHUNK = 2**20
# relu_output_norm_cdf refuses more chi-square density values than this (~100 ns each, measured: one
# layer of width 1e6 at the default grid is 6.3e8 values in 66 s); widths up to ~1e7 pass
_MAX_MIX_EVALUATIONS = 2**31


@dataclass(frozen=True)
class ReluLayerNormLaw:
    """Exact law of |x^l|^2 = scale * chi^2_K, K ~ Binomial(n, 1/2), for one ReLU layer.

    ``scale`` is the pre-activation variance v = sigma_w^2 |x^{l-1}|^2 / n_{l-1} + sigma_b^2
    given the previous layer. The law has an atom ``atom = 2^{-n}`` at 0 (all pre-activations
    negative: the signal dies) and, on (0, inf), the density
    sum_{k >= 1} Bin(k; n, 1/2) f_{chi^2_k}(x / scale) / scale.

    Parameters
    ----------
    n : int
        Width of the layer, >= 1.
    scale : float
        Pre-activation variance v, > 0.

    Examples
    --------
    >>> law = ReluLayerNormLaw(4, 0.5)
    >>> law.atom
    0.0625
    >>> round(law.moment(1), 12)  # v * n / 2
    1.0
    >>> round(float(law.cdf(1e300)), 12)
    1.0
    """

    n: int
    scale: float

    def __post_init__(self):
        object.__setattr__(self, "n", check_int("n", self.n, low=1))
        object.__setattr__(self, "scale", check_real("scale", self.scale, low=0, low_open=True))

    @property
    def atom(self) -> float:
        """P[|x^l|^2 = 0] = 2^{-n}."""
        return 2.0 ** (-self.n)

    def _mixture(self):
        """k >= 1 where Bin(k; n, 1/2) > 0 in float64 (see :func:`_half_binomial_support`), and the pmf."""
        lo, hi = _half_binomial_support(self.n)
        guard(
            _support_peak_bytes(self.n),
            parameter=f"n = {self.n}",
            what="the binomial weights of the mixture (about 38.6 sqrt(n) of them)",
        )
        k = np.arange(max(lo, 1), hi + 1)
        return k, stats.binom.pmf(k, self.n, 0.5)

    def _mix(self, x, term):
        """sum_k Bin(k; n, 1/2) term(x / scale, k) at every x (nan at nan), in chunks of x."""
        x = np.asarray(x, dtype=float)
        k, w = self._mixture()
        flat = x.ravel()
        out = np.empty(flat.size)
        step = max(1, _MIX_CHUNK // k.size)
        for lo in range(0, flat.size, step):
            y = np.clip(flat[lo : lo + step], 0.0, None)[:, None] / self.scale
            out[lo : lo + step] = term(y, k) @ w
        return out.reshape(x.shape)

    def pdf(self, x):
        """Density of the continuous part on x > 0 (integrates to 1 - atom); 0 for x <= 0, nan at nan."""
        x = np.asarray(x, dtype=float)
        dens = self._mix(x, stats.chi2.pdf) / self.scale
        return np.where(np.isnan(x), np.nan, np.where(x > 0, dens, 0.0))

    def cdf(self, x):
        """P[|x^l|^2 <= x] = 2^{-n} + sum_{k >= 1} Bin(k; n, 1/2) P[chi^2_k <= x / scale] (x >= 0).

        0 for x < 0 and nan at nan (no probability for an undefined point).
        """
        x = np.asarray(x, dtype=float)
        mix = self._mix(x, stats.chi2.cdf)
        return np.where(np.isnan(x), np.nan, np.where(x >= 0, self.atom + mix, 0.0))

    def moment(self, m: int) -> float:
        """E[(|x^l|^2)^m] = scale^m sum_k Bin(k; n, 1/2) k (k + 2) ... (k + 2m - 2)."""
        m = check_int("m", m, low=0)
        return float(self.scale**m * _chi2_binomial_moments(self.n, m)[m])

    def sample(self, size, *, rng=None) -> np.ndarray:
        """Exact samples: K ~ Bin(n, 1/2), then scale * chi^2_K (2 * Gamma(K/2), 0 when K = 0)."""
        count = math.prod(np.atleast_1d(np.asarray(size, dtype=np.int64)).tolist()) if size is not None else 1
        # K (int64), the output, the mask and the K / 2 and Gamma draws of _chi2_of_dof, the product
        guard(6 * F8 * count, parameter=f"size = {size!r}", what="the samples and their temporaries")
        gen = as_generator(rng)
        K = gen.binomial(self.n, 0.5, size=size)
        return self.scale * _chi2_of_dof(gen, K)


def _chi2_of_dof(gen: np.random.Generator, K: np.ndarray) -> np.ndarray:
    """chi^2 samples with per-entry degrees of freedom K >= 0 (chi^2_0 = 0)."""
    K = np.asarray(K)
    out = np.zeros(K.shape)
    pos = K > 0
    out[pos] = 2.0 * gen.standard_gamma(K[pos] / 2.0)
    return out


def relu_norm_moments(widths, sigma_w2=2.0, sigma_b2=0.0, *, input_norm2=None, order=2) -> np.ndarray:
    """Exact moments E[(|x^l|^2)^m] of the squared signal norm of a random ReLU network.

    Parameters
    ----------
    widths : sequence of int
        (n_0, ..., n_L), each >= 1.
    sigma_w2, sigma_b2 : float
        Weight and bias variances (>= 0); W_ij ~ N(0, sigma_w2 / n_{l-1}), b_i ~ N(0, sigma_b2).
    input_norm2 : float, optional
        |x^0|^2 of the (fixed) input; default n_0 (entries of unit mean square).
    order : int
        Highest moment, >= 1.

    Returns
    -------
    numpy.ndarray
        float64 (L + 1, order + 1): entry [l, m] = E[(|x^l|^2)^m] (column 0 is 1).

    Raises
    ------
    ValueError
        For widths that are not positive integers, negative variances or ``order < 1``.

    Notes
    -----
    Given s = |x^{l-1}|^2, |x^l|^2 = (a s + b) chi^2_K with a = sigma_w2 / n_{l-1}, b = sigma_b2,
    K ~ Bin(n_l, 1/2) independent of s, so E[(|x^l|^2)^m] = E[(chi^2_K)^m] sum_j C(m, j) a^j
    b^(m-j) E[s^j]: exact, O(L order^3) whatever the widths (E[(chi^2_K)^m] from the factorial
    moments of K, see :func:`_chi2_binomial_moments`). For He initialisation and equal widths,
    E[r] = 1 and E[r^2] = 1 + 5/n for r = |x^l|^2 / |x^{l-1}|^2 (``theory/relu_finite_width.py``).

    References
    ----------
    Burkholz & Dubatovka, NeurIPS 2019 (the ReLU case of their exact signal distribution).

    Examples
    --------
    >>> mom = relu_norm_moments([10, 10], 2.0, 0.0, input_norm2=1.0)
    >>> [round(float(v), 12) for v in mom[1]]  # 1, E[r], E[r^2] = 1 + 5/10
    [1.0, 1.0, 1.5]
    """
    w = _check_widths(widths)
    sw2 = check_real("sigma_w2", sigma_w2, low=0)
    sb2 = check_real("sigma_b2", sigma_b2, low=0)
    s0 = float(w[0]) if input_norm2 is None else check_real("input_norm2", input_norm2, low=0)
    order = check_int("order", order, low=1)
    L = w.shape[0] - 1
    guard(2 * F8 * (L + 1) * (order + 1), parameter=f"order = {order} with {L} layers", what="the moments")
    out = np.empty((L + 1, order + 1))
    out[0] = s0 ** np.arange(order + 1)
    for l in range(1, L + 1):
        a, b = sw2 / float(w[l - 1]), sb2
        chi = _chi2_binomial_moments(int(w[l]), order)
        for m in range(order + 1):
            j = np.arange(m + 1)
            affine = float(np.sum(special.comb(m, j) * a**j * b ** (m - j) * out[l - 1, : m + 1]))
            out[l, m] = chi[m] * affine
    return out


def relu_dead_signal_probability(widths, sigma_b2=0.0) -> np.ndarray:
    """Probability that the signal of a random ReLU network is exactly 0 at each layer.

    Parameters
    ----------
    widths : sequence of int
        (n_0, ..., n_L), each >= 1.
    sigma_b2 : float
        Bias variance (>= 0).

    Returns
    -------
    numpy.ndarray
        float64 (L + 1,): P[x^l = 0] for a nonzero input (entry 0 is 0). With zero bias a
        dead signal stays dead, so P[x^l = 0] = 1 - prod_{j <= l} (1 - 2^{-n_j}) (died within
        l layers); with sigma_b2 > 0 the bias revives it and P[x^l = 0] = 2^{-n_l}.

    Notes
    -----
    A layer kills the signal iff all its n_l iid symmetric pre-activations are negative,
    probability 2^{-n_l} (Burkholz & Dubatovka 2019; ``theory/relu_finite_width.py``).

    Examples
    --------
    >>> relu_dead_signal_probability([5, 1, 1]).tolist()
    [0.0, 0.5, 0.75]
    """
    w = _check_widths(widths)
    sb2 = check_real("sigma_b2", sigma_b2, low=0)
    die = np.concatenate([[0.0], 2.0 ** (-w[1:].astype(float))])
    if sb2 > 0:
        return die
    return -np.expm1(np.cumsum(np.log1p(-die)))


def sample_relu_norms(widths, sigma_w2=2.0, sigma_b2=0.0, n_samples=1, *, input_norm2=None, rng=None):
    """Exact samples of the squared norms |x^l|^2, l = 0..L, of random ReLU networks.

    Each sample is a fresh network (weights and biases) applied to a fixed input with
    |x^0|^2 = ``input_norm2``. O(L) per sample: no matrix is formed.

    Parameters
    ----------
    widths, sigma_w2, sigma_b2, input_norm2
        As in :func:`relu_norm_moments`.
    n_samples : int
        Number of networks, >= 0.
    rng : None, int or numpy.random.Generator
        Randomness (keyword-only).

    Returns
    -------
    numpy.ndarray
        float64 (n_samples, L + 1).

    Notes
    -----
    Algorithm: s_0 = |x^0|^2; for each layer draw K ~ Bin(n_l, 1/2) and
    s_l = (sigma_w2 s_{l-1} / n_{l-1} + sigma_b2) chi^2_K, chi^2_K = 2 Gamma(K/2). This is the
    exact law of the Markov chain of squared norms (module docstring), not an approximation.

    Examples
    --------
    >>> s = sample_relu_norms([3, 4, 4], n_samples=5, rng=0)
    >>> s.shape, bool(np.all(s[:, 0] == 3.0))
    ((5, 3), True)
    """
    w = _check_widths(widths)
    sw2 = check_real("sigma_w2", sigma_w2, low=0)
    sb2 = check_real("sigma_b2", sigma_b2, low=0)
    s0 = float(w[0]) if input_norm2 is None else check_real("input_norm2", input_norm2, low=0)
    n_samples = check_int("n_samples", n_samples, low=0)
    L = w.shape[0] - 1
    # the output, and per layer K (int64) and the five arrays of _chi2_of_dof and the product
    guard(
        F8 * n_samples * (L + 1 + 7),
        parameter=f"n_samples = {n_samples} with {L} layers",
        what="the sampled norms",
    )
    gen = as_generator(rng)
    out = np.empty((n_samples, L + 1))
    out[:, 0] = s0
    for l in range(1, L + 1):
        K = gen.binomial(int(w[l]), 0.5, size=n_samples)
        out[:, l] = (sw2 * out[:, l - 1] / float(w[l - 1]) + sb2) * _chi2_of_dof(gen, K)
    return out


def relu_output_norm_cdf(x, widths, sigma_w2=2.0, *, input_norm2=None, grid_points=2**14, log_range=None):
    """CDF of |x^L|^2 of a random zero-bias ReLU network, by numerical convolution of log-densities.

    Parameters
    ----------
    x : array_like
        Points (>= 0 for a nontrivial value) at which to evaluate P[|x^L|^2 <= x].
    widths : sequence of int
        (n_0, ..., n_L), each >= 1.
    sigma_w2 : float
        Weight variance (> 0); the bias is zero.
    input_norm2 : float, optional
        |x^0|^2 (> 0), default n_0.
    grid_points : int
        Points of the uniform grid in log-space (>= 256).
    log_range : (float, float), optional
        Grid interval for log(chi^2) of one layer. Default: the union over the layers of the
        interval that holds log chi^2_K but 1e-17 of its mass, for K in n_l / 2 +- 4.5 sqrt(n_l)
        (the binomial weights beyond are below 1e-17 of the largest), cut at -60 (which loses
        about 1e-13 for one degree of freedom, whose density grows as y^(1/2)). For wide layers
        this is narrow (log chi^2_K is within O(1 / sqrt(n)) of log(n / 2)), so the grid resolves
        it: the fixed interval (-60, log(n_max) + 8) used before left errors of 1.4e-5 at n = 100,
        2e-4 at 1000, 2e-3 at 10^4 and 2e-2 at 10^5 (one layer, default grid, against the exact
        binomial mixture; now 1e-7 to 1.4e-6 for n = 1 to 10^5).

    Returns
    -------
    numpy.ndarray
        P[|x^L|^2 <= x], the shape of ``x``; nan where x is nan (as scipy's distributions: an
        undefined point gets no probability), 0 for x < 0, 1 - (the mass lost below the grid)
        at x = inf.

    Raises
    ------
    ValueError
        For invalid widths, sigma_w2, input_norm2, grid_points or log_range, and when the mixtures
        need more than 2**31 chi-square density values (minutes of work; widths beyond ~1e7 at the
        default grid).
    cascades.MemoryLimitError
        If the grid of L (grid_points - 1) + 1 points of the convolved density (about
        40 (L + 1) grid_points bytes at the peak, measured) does not fit in memory.

    Notes
    -----
    With zero bias, |x^L|^2 = |x^0|^2 prod_l c_l chi^2_{K_l}, c_l = sigma_w2 / n_{l-1}, with
    independent factors. The atom at 0 (some K_l = 0) has the exact mass
    1 - prod_l (1 - 2^{-n_l}). Conditioned on all K_l >= 1, log|x^L|^2 is a sum of independent
    terms with densities sum_{k >= 1} Bin(k; n_l, 1/2) / (1 - 2^{-n_l}) f_{log chi^2_k}; these are
    tabulated on one uniform grid and convolved with FFTs (``scipy.signal.fftconvolve``), then
    integrated with the trapezoidal rule and interpolated linearly. The atom is exact; the
    continuous part carries a discretisation error that shrinks as O(h^2) with the grid step h
    (about 1e-6 at the default grid for L <= 20; measured 1e-7 to 1.4e-6 for one layer of
    n = 1 to 10^5). The mixture over k runs only where
    Bin(k; n_l, 1/2) > 0 in float64 (about 38.6 sqrt(n_l) values of k; the others are exactly 0),
    in chunks of k, so the memory is O(L N) whatever the widths. Cost
    O(N sum_l min(n_l, 38.6 sqrt(n_l)) + L^2 N log N) for N grid points.

    Examples
    --------
    >>> F = relu_output_norm_cdf([0.0, 1e12], [10, 10, 10], input_norm2=1.0)
    >>> round(float(F[0]), 12) == round(1 - (1 - 2**-10) ** 2, 12), round(float(F[1]), 6)
    (True, 1.0)
    """
    w = _check_widths(widths)
    sw2 = check_real("sigma_w2", sigma_w2, low=0, low_open=True)
    s0 = float(w[0]) if input_norm2 is None else check_real("input_norm2", input_norm2, low=0, low_open=True)
    N = check_int("grid_points", grid_points, low=256)
    L = w.shape[0] - 1
    lo, hi = _default_log_range([int(v) for v in w[1:]]) if log_range is None else map(float, log_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"log_range must be an increasing pair of finite numbers, got {log_range!r}")
    xx = np.asarray(x, dtype=float)
    guard(
        _cdf_peak_bytes(N, L, xx.size, [int(v) for v in w[1:]]),
        parameter=f"grid_points = {N} with widths = {shown(w.tolist())} ({L} layers)",
        what="the convolved log-density and the FFT buffers",
    )
    # the run time, like the memory, is checked before the work: ~100 ns per chi-square density value
    evaluations = 0
    for n in (int(v) for v in w[1:]):
        k0, k1 = _half_binomial_support(n)
        evaluations += (k1 - max(k0, 1) + 1) * N
    if evaluations > _MAX_MIX_EVALUATIONS:
        raise ValueError(
            f"widths = {shown(w.tolist())} with grid_points = {N} need about {evaluations:.3g} chi-square "
            f"density values (about {evaluations * 1e-7 / 60:.3g} minutes), beyond the limit of "
            f"{_MAX_MIX_EVALUATIONS:.3g} (a few minutes): the mixture over k has about 38.6 sqrt(n_l) terms "
            "per layer; lower grid_points or the widths"
        )
    y = np.linspace(lo, hi, N)
    h = y[1] - y[0]
    ey = np.exp(y)
    dens = None
    shift = math.log(s0)
    for l in range(1, L + 1):
        n = int(w[l])
        k0, k1 = _half_binomial_support(n)
        k = np.arange(max(k0, 1), k1 + 1)
        wk = stats.binom.pmf(k, n, 0.5)
        wk = wk / wk.sum()
        # density of Y = log chi^2_k: f(y) = chi2.pdf(e^y, k) e^y, computed in logs, over chunks of k
        f = np.zeros(N)
        step = max(1, _MIX_CHUNK // N)
        for a in range(0, k.size, step):
            f += np.exp(stats.chi2.logpdf(ey[:, None], k[a : a + step]) + y[:, None]) @ wk[a : a + step]
        dens = f if dens is None else _fftconvolve()(dens, f)[: dens.shape[0] + f.shape[0] - 1] * h
        shift += math.log(sw2 / float(w[l - 1]))
    grid = lo * L + shift + h * np.arange(dens.shape[0])
    cdf_cont = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * h)])
    atom = float(relu_dead_signal_probability(w)[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        lx = np.log(np.where(xx > 0, xx, 1.0))
    # the quadrature's total mass may pass 1 by ~1e-12: a cdf stays in [0, 1]
    cont = np.minimum(np.interp(lx, grid, cdf_cont, left=0.0, right=float(cdf_cont[-1])), 1.0)
    out = np.where(xx >= 0, atom + (1.0 - atom) * np.where(xx > 0, cont, 0.0), 0.0)
    return np.where(np.isnan(xx), np.nan, out)


def _default_log_range(widths) -> tuple[float, float]:
    """The default ``log_range`` of :func:`relu_output_norm_cdf` (see there)."""
    lo, hi = math.inf, -math.inf
    for n in widths:
        spread = math.ceil(4.5 * math.sqrt(n))
        ka, kb = max(1, n // 2 - spread), max(1, min(n, (n + 1) // 2 + spread))
        lo = min(lo, math.log(float(stats.chi2.ppf(1e-17, ka))))
        hi = max(hi, math.log(float(stats.chi2.isf(1e-17, kb))))
    return max(lo, -60.0), hi


def _cdf_peak_bytes(N: int, L: int, n_x: int, widths) -> int:
    """Peak bytes of :func:`relu_output_norm_cdf`: the convolution or the chunks of k, and the x arrays.

    After layer l the density has l (N - 1) + 1 points; ``fftconvolve`` holds the two padded real
    FFTs, their product and the inverse, then the slice times h; the trapezoid CDF adds the grid,
    two differences and the cumulative sum: measured 4.9-5.1 float64 arrays of N (L + 1) points
    at the peak (L = 20 to 80, N = 2^15 to 2^18). While the mixture over k is summed, about 7.5
    arrays of the 2^20-entry chunk are alive (measured 60-65 MB). The points x take 5 float64
    arrays (x, log x, the interpolation and two ``where``), and each layer's binomial weights
    :func:`_support_peak_bytes`.
    """
    return (
        F8 * max(19 * N * (L + 1) // 4, 7 * _MIX_CHUNK)
        + F8 * 5 * n_x
        + max(_support_peak_bytes(n) for n in widths)
    )


def _haar_orthogonal(gen: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A Haar-random (rows, cols) matrix with orthonormal rows (rows <= cols) or columns.

    The Q factor with positive-diagonal R of a Gaussian matrix is Haar distributed (Mezzadri
    2007). It is computed by CholeskyQR2 (two rounds of Q <- Q R^{-1}, R the Cholesky factor of
    Q^T Q; the product of the two R is the positive-diagonal R of A), which is exact to round-off
    for Gaussian matrices and avoids LAPACK's QR, slow under thread contention; if a Cholesky
    factorisation fails, Householder QR with the sign fix is used instead.
    """
    a = gen.standard_normal((max(rows, cols), min(rows, cols)))
    try:
        q = a
        for _ in range(2):
            r = np.linalg.cholesky(q.T @ q).T
            q = linalg.solve_triangular(r, q.T, trans="T", lower=False).T
    except np.linalg.LinAlgError:
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
    return q if rows >= cols else q.T


def _haar_peak_bytes(rows: int, cols: int) -> int:
    """Peak bytes of :func:`_haar_orthogonal`: the Gaussian matrix, two CholeskyQR iterates, the Gram
    matrix and its factor (the result included).

    Measured with tracemalloc: 5.0 (3000 x 3000), 3.25 (4000 x 1000) and 3.02 (3000 x 50) float64
    arrays of rows x cols; this gives 4, 3.25 and 3.02.
    """
    big, small = max(rows, cols), min(rows, cols)
    return F8 * (3 * big * small + small * small)


def looks_linear_weights(widths, *, rng=None) -> list[np.ndarray]:
    """Looks-linear (parameter-sharing) ReLU weights: the network is exactly linear at initialisation.

    Parameters
    ----------
    widths : sequence of int
        (n_0, n_1, ..., n_L), L >= 2. Hidden widths n_1..n_{L-1} must be even, n_l = 2 m_l; the
        input n_0 and output n_L are arbitrary. Set m_0 = n_0, m_L = n_L.
    rng : None, int or numpy.random.Generator
        Randomness (keyword-only).

    Returns
    -------
    list of numpy.ndarray
        L weight matrices in (out, in) layout, biases zero: the first [W0; -W0], shape
        (n_1, n_0); the hidden [[W0, -W0], [-W0, W0]], shape (n_l, n_{l-1}); the last (linear
        read-out) [W0, -W0], shape (n_L, n_{L-1}); each W0 (m_l, m_{l-1}) Haar orthogonal (rows
        or columns orthonormal).

    Notes
    -----
    With u = W0 x, the ReLU layer outputs [relu(u); relu(-u)], and the next layer gives
    W0' (relu(u) - relu(-u)) = W0' u: the network with ReLU hidden layers and a linear read-out
    computes x -> W0^L ... W0^1 x exactly. When all m_l are equal this product is orthogonal, so
    every singular value of the input-output Jacobian equals 1 (dynamical isometry).

    References
    ----------
    Burkholz & Dubatovka, NeurIPS 2019 (parameter sharing for ReLUs); the same "looks linear"
    construction appears in Balduzzi et al., ICML 2017.

    Examples
    --------
    >>> W = looks_linear_weights([3, 6, 6, 3], rng=0)
    >>> [w.shape for w in W]
    [(6, 3), (6, 6), (3, 6)]
    """
    w = _check_widths(widths)
    L = w.shape[0] - 1
    if L < 2:
        raise ValueError(f"widths must have at least one hidden layer (len >= 3), got {list(w)}")
    hidden = w[1:L]
    if np.any(hidden % 2):
        raise ValueError(f"widths: hidden widths must be even (n_l = 2 m_l), got {list(w)}")
    m = [int(w[0])] + [int(x) // 2 for x in hidden] + [int(w[L])]
    ws = [int(v) for v in w]
    # every output matrix, plus the largest block's CholeskyQR and the two negated copies np.block joins
    kept = F8 * sum(a * b for a, b in zip(ws, ws[1:], strict=False))
    block = max(_haar_peak_bytes(a, b) + 2 * F8 * a * b for a, b in zip(m, m[1:], strict=False))
    guard(kept + block, parameter=f"widths = {shown(ws)}", what="the weight matrices")
    gen = as_generator(rng)
    out = []
    for l in range(1, L + 1):
        W0 = _haar_orthogonal(gen, m[l], m[l - 1])
        if l == 1:
            out.append(np.vstack([W0, -W0]))
        elif l == L:
            out.append(np.hstack([W0, -W0]))
        else:
            out.append(np.block([[W0, -W0], [-W0, W0]]))
    return out


def _fftconvolve():
    """scipy.signal.fftconvolve, imported on first use (scipy.signal costs ~1 s at import)."""
    from scipy.signal import fftconvolve

    return fftconvolve
