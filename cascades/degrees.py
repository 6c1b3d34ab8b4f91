"""Degree distributions p_k of configuration-model random graphs.

Every distribution is a frozen dataclass, validated at construction, that gives

* its probability table ``pmf(tol)`` indexed by degree ``0..K``;
* the moments ``mean``, ``second_moment``, ``variance`` and the branching
  factor ``mean_excess`` = <k(k-1)>/<k>;
* the edge-biased and excess degree distributions (the degree of the node at
  the end of a random edge, and that degree minus one);
* the generating functions ``g0`` (degree) and ``g1`` (excess degree) of
  Newman, Strogatz & Watts (2001);
* exact iid sampling, ``sample(n, rng=...)``.

Conventions
-----------
Tables. ``pmf(tol)`` is a read-only float64 array ``p`` with ``p[k]`` the
probability of degree ``k``, for ``k = 0..K``. For finite support ``K = kmax``
and the table is the distribution. For infinite support (:class:`Poisson`,
:class:`PowerLaw` without ``kmax``) ``K`` is the smallest degree whose upper
tail mass ``sum_{k>K} p_k`` is at most ``tol`` (default :data:`TAIL_TOL`); the
entries are the exact probabilities, *not* renormalised, so
``1 - tol <= p.sum() <= 1``. Tables longer than :data:`MAX_PMF_LENGTH` entries
are refused with a ``ValueError`` that says what to change.

Generating functions. ``g0(x) = sum_k p_k x^k`` and
``g1(x) = g0'(x) / g0'(1) = sum_k q_k x^k`` with ``q_k = (k+1) p_{k+1} / z``.
They are vectorised over ``x`` (any array shape, real or complex); closed forms
are used where they exist, otherwise the table is summed.

Randomness. ``sample`` takes the package-wide keyword ``rng`` (``None``, an
``int`` seed or a :class:`numpy.random.Generator`; see :mod:`cascades._rng`).

References
----------
M. E. J. Newman, S. H. Strogatz and D. J. Watts, "Random graphs with arbitrary
degree distributions and their applications", Phys. Rev. E 64, 026118 (2001).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from ._arrays import readonly as _readonly
from ._memory import check_memory
from ._rng import as_generator
from ._special import binom_pmf
from ._validation import check_int, check_int_array, check_probability, check_real

__all__ = [
    "TAIL_TOL",
    "MAX_TAIL_TOL",
    "MAX_PMF_LENGTH",
    "PMF_SUM_TOL",
    "DegreeDistribution",
    "Poisson",
    "Binomial",
    "PowerLaw",
    "Regular",
    "Empirical",
]

#: Default upper-tail mass left out of the table of an infinite distribution.
TAIL_TOL = 1e-12

#: Largest tail mass (``tol``) a table or a summed series may leave out.
MAX_TAIL_TOL = 0.1

#: Largest number of entries (degrees 0..K) a probability table may have.
MAX_PMF_LENGTH = 10**7

#: How far from 1 the sum of a user-supplied pmf may be.
PMF_SUM_TOL = 1e-9

# Degrees above 2**53 are not exactly representable as float64.
_EXACT_INT = 2**53

# Bytes per degree held while a table is built and cached: the table, its edge-biased form and
# their temporaries (a lower bound, as the memory guard asks).
_TABLE_BYTES = 32

# Bytes per draw of ``sample``: the int64 degrees, the uniform draws and the inverse-cdf indices.
_SAMPLE_BYTES = 24

# A table end beyond exp(690) ~ 1e300 is reported as "more than 1e300" (it would overflow a float).
_LOG_HUGE_DEGREE = 690.0

# The exact power-law sampler uses a table below this degree and a rejection
# sampler above it (see PowerLaw.sample).
_POWER_LAW_TABLE_END = 1000


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------


def _check_tol(tol) -> float:
    """A tail (truncation) tolerance in (0, MAX_TAIL_TOL]: a table missing more mass is no table of p_k."""
    return check_real("tol", tol, low=0.0, high=MAX_TAIL_TOL, low_open=True)


def _check_exact(name: str, check, value, low=0):
    """A degree parameter in [low, 2**53]: larger degrees are not exact in float64 (nor int64-safe)."""
    value = check(name, value, low=low)
    if value > _EXACT_INT:
        raise ValueError(
            f"{name} must be <= 2**53 = {_EXACT_INT} (larger degrees are not exactly representable in "
            f"float64), got {value!r}"
        )
    return value


def _check_sample_size(n) -> int:
    """The number of draws of ``sample``, an integer >= 0 whose arrays fit in memory."""
    n = check_int("n", n, low=0)
    check_memory(_SAMPLE_BYTES * n, parameter=f"n = {n}", what="the sampled degrees and their uniform draws")
    return n


def _as_points(x) -> np.ndarray:
    """Return ``x`` as a float64 or complex128 array (any shape)."""
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        return arr.astype(np.complex128, copy=False)
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64, copy=False)
    raise ValueError(f"x must hold real or complex numbers, got dtype {arr.dtype}")


def _unwrap(arr: np.ndarray):
    """Return a numpy scalar for 0-d input, the array otherwise."""
    return arr[()] if arr.ndim == 0 else arr


def _series(coef: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Evaluate ``sum_j coef[j] x**j`` elementwise.

    Horner's rule (one vectorised step per coefficient) when ``x`` is large,
    an explicit power table multiplied by ``coef`` when the coefficient list is
    long and ``x`` is small; both are stable for ``|x| <= 1`` and nonnegative
    coefficients.
    """
    n_coef, n_x = coef.size, x.size
    if n_coef == 0:
        return np.zeros(x.shape, dtype=x.dtype)
    # rough costs in ns: a numpy call ~1000 plus ~2 per element; a power ~10
    if n_coef * (1000 + 2 * n_x) <= 10 * n_coef * n_x or n_coef <= 8:
        acc = np.full(x.shape, coef[-1], dtype=x.dtype)
        for c in coef[-2::-1]:
            acc *= x
            acc += c
        return acc
    flat = x.ravel()
    out = np.empty(flat.shape, dtype=x.dtype)
    powers = np.arange(n_coef)
    rows = max(1, (1 << 21) // n_coef)
    for start in range(0, flat.size, rows):
        block = flat[start : start + rows]
        out[start : start + rows] = np.power(block[:, None], powers) @ coef
    return out.reshape(x.shape)


def _smallest_true(pred, lo: int, hi: int):
    """Smallest integer ``k`` in ``[lo, hi]`` with ``pred(k)``, for monotone ``pred``.

    Returns ``None`` when ``pred(hi)`` is false.
    """
    if pred(lo):
        return lo
    if not pred(hi):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _inverse_cdf(pmf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Degrees ``k`` with ``cdf[k-1] <= u < cdf[k]`` (never a zero-probability degree)."""
    cdf = np.cumsum(pmf)
    k = np.searchsorted(cdf, u, side="right")
    # u can exceed cdf[-1] = 1 - O(1e-16) by rounding: give it the largest degree
    last = int(np.flatnonzero(pmf)[-1])
    return np.minimum(k, last).astype(np.int64)


def _checked_pmf(values, name: str) -> np.ndarray:
    """Validate a pmf table; return it normalised, trailing zeros trimmed, read-only."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold nonnegative real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-dimensional array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must be non-empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers >= 0")
    bad = np.flatnonzero(arr < 0)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name} must hold probabilities >= 0; entry {i} is {arr[i]!r}")
    total = math.fsum(arr)
    if abs(total - 1.0) > PMF_SUM_TOL:
        hint = ""
        if np.all(arr == np.round(arr)):
            hint = " (to pass a degree sequence, use an integer array or Empirical.from_degrees)"
        raise ValueError(f"{name} must sum to 1 within {PMF_SUM_TOL:g}, got sum {total!r}{hint}")
    if abs(total - 1.0) > 1e-15:  # renormalise once; a second pass leaves it unchanged
        arr = arr / total
    arr = arr[: int(np.flatnonzero(arr)[-1]) + 1].copy()
    return _readonly(arr)


def _pmf_from_degrees(values, name: str) -> np.ndarray:
    degrees = check_int_array(name, values, low=0, high=MAX_PMF_LENGTH - 1)
    if degrees.size == 0:
        raise ValueError(f"{name} must be a non-empty degree sequence")
    return np.bincount(degrees) / degrees.size


# ----------------------------------------------------------------------------
# base class
# ----------------------------------------------------------------------------


class DegreeDistribution(abc.ABC):
    """Abstract base of the degree distributions p_k, k = 0, 1, 2, ...

    Subclasses are frozen dataclasses. Each provides the attributes ``mean``
    (float, ``inf`` when it diverges), ``second_moment``, ``kmin`` and ``kmax``
    (``None`` for unbounded support), and the private hooks ``_table(K)``
    (exact ``p_0..p_K``) and, for unbounded support, ``_infinite_cutoff``.
    Everything else (tables, edge-biased and excess distributions, generating
    functions by summation, moments of finite tables, sampling by inverse CDF)
    is implemented here and overridden where a closed form exists.

    Tables are cached on the instance (outside the dataclass fields, so
    equality, hashing and pickling ignore them) and returned read-only.
    """

    # hint appended to the "table too long" error
    _too_long_hint = "use a larger tol"

    # ---- hooks -------------------------------------------------------------

    @property
    @abc.abstractmethod
    def kmin(self) -> int:
        """Smallest degree with nonzero probability."""

    @property
    @abc.abstractmethod
    def kmax(self) -> int | None:
        """Largest degree with nonzero probability, ``None`` if unbounded."""

    @property
    @abc.abstractmethod
    def second_moment(self) -> float:
        """<k^2> = sum_k k^2 p_k (``inf`` when it diverges)."""

    @abc.abstractmethod
    def _table(self, K: int) -> np.ndarray:
        """Exact ``p_0..p_K`` as a new float64 array (``K <= kmax`` if finite)."""

    def _infinite_cutoff(self, tol: float, weight: int) -> int:
        """Smallest K with sum_{k>K} k^weight p_k <= tol * <k^weight>."""
        raise NotImplementedError  # pragma: no cover - every unbounded subclass overrides

    # ---- cache -------------------------------------------------------------

    def _cache(self) -> dict:
        # the instance is frozen: write to __dict__ directly
        return self.__dict__.setdefault("_cache_", {})

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_cache_", None)
        return state

    def _cutoff(self, tol: float, weight: int) -> int:
        """Table end K for relative tail ``tol`` of the weight-``weight`` distribution."""
        if self.kmax is not None:
            return self.kmax
        key = ("cutoff", tol, weight)
        cache = self._cache()
        if key not in cache:
            cache[key] = self._infinite_cutoff(tol, weight)
        return cache[key]

    def _too_long(self, tol, weight: int) -> str:
        """What to change when a table would exceed MAX_PMF_LENGTH (the parameter and its range)."""
        return self._too_long_hint

    def _prefix(self, K: int, tol=None, weight: int = 0) -> np.ndarray:
        """Read-only exact ``p_0..p_K`` (a view of the longest table computed so far)."""
        if K + 1 > MAX_PMF_LENGTH:
            what = f" whose left-out tail is <= tol = {tol:g}" if tol is not None else ""
            reach = f"up to about {K:.3g}" if math.log(K) < _LOG_HUGE_DEGREE - 1e-9 else "beyond 1e+300"
            raise ValueError(
                f"{self!r}: a table{what} needs degrees {reach}, more than "
                f"MAX_PMF_LENGTH = {MAX_PMF_LENGTH} entries; {self._too_long(tol, weight)}"
            )
        cache = self._cache()
        table = cache.get("prefix")
        if table is None or table.size <= K:
            check_memory(
                _TABLE_BYTES * (K + 1),
                parameter=f"{self!r} (a table of degrees 0..{K})",
                what="the probability table, its edge-biased form and their temporaries",
            )
            table = _readonly(np.asarray(self._table(K), dtype=np.float64))
            cache["prefix"] = table
        return table[: K + 1]

    # ---- tables ------------------------------------------------------------

    def pmf(self, tol: float = TAIL_TOL) -> np.ndarray:
        """Probability table ``p[k]``, ``k = 0..K``.

        Parameters
        ----------
        tol : float, optional
            For unbounded support, the largest upper-tail mass
            ``sum_{k>K} p_k`` left out, in (0, MAX_TAIL_TOL] (0.1); ``K`` is
            the smallest degree that achieves it. Ignored for bounded support
            (``K = kmax``).

        Returns
        -------
        numpy.ndarray
            Read-only float64 array of exact probabilities (not renormalised:
            ``1 - tol <= p.sum() <= 1``). Copy it before modifying.

        Raises
        ------
        ValueError
            If ``tol`` is not in (0, 0.1], or the table would exceed
            :data:`MAX_PMF_LENGTH` entries.

        Examples
        --------
        >>> from cascades.degrees import Poisson, Regular
        >>> Regular(3).pmf()
        array([0., 0., 0., 1.])
        >>> p = Poisson(2.0).pmf(tol=1e-6)
        >>> len(p), bool(1 - 1e-6 <= p.sum() <= 1)
        (13, True)
        """
        tol = _check_tol(tol)
        key = ("pmf", tol)
        cache = self._cache()
        if key not in cache:
            cache[key] = self._prefix(self._cutoff(tol, 0), tol)
        return cache[key]

    def _positive_mean(self, what: str) -> float:
        z = self.mean
        if z == 0:
            raise ValueError(f"{what} is undefined for {self!r}: the mean degree is 0")
        if not math.isfinite(z):
            raise ValueError(f"{what} is undefined for {self!r}: the mean degree is infinite")
        return z

    def edge_biased_pmf(self, tol: float = TAIL_TOL) -> np.ndarray:
        """Degree distribution of the node at the end of a random edge, ``k p_k / z``.

        Indexed by degree ``k = 0..K`` (entry 0 is 0). For unbounded support
        ``K`` is the smallest degree with ``sum_{k>K} k p_k / z <= tol``.

        Returns
        -------
        numpy.ndarray
            Read-only float64 array; its sum is in ``[1 - tol, 1]``.

        Raises
        ------
        ValueError
            If the mean degree is 0 or infinite.

        Examples
        --------
        >>> from cascades.degrees import Empirical
        >>> Empirical.from_pmf([0.5, 0.0, 0.5]).edge_biased_pmf()
        array([0., 0., 1.])
        """
        z = self._positive_mean("edge_biased_pmf")
        tol = _check_tol(tol)
        key = ("edge", tol)
        cache = self._cache()
        if key not in cache:
            K = self._cutoff(tol, 1)
            p = self._prefix(K, tol, 1)
            cache[key] = _readonly(np.arange(K + 1) * p / z)
        return cache[key]

    def excess_pmf(self, tol: float = TAIL_TOL) -> np.ndarray:
        """Excess degree distribution ``q_k = (k+1) p_{k+1} / z``, indexed by ``k = 0..K-1``.

        ``q_k`` is the probability that the node reached along a random edge
        has ``k`` other edges (Newman's q_k); ``g1`` is its generating
        function. It is ``edge_biased_pmf(tol)[1:]``, with the same tail bound.

        Raises
        ------
        ValueError
            If the mean degree is 0 or infinite.

        Examples
        --------
        >>> from cascades.degrees import Regular
        >>> Regular(3).excess_pmf()
        array([0., 0., 1.])
        """
        return self.edge_biased_pmf(tol)[1:]

    # ---- moments -----------------------------------------------------------

    def _table_moments(self) -> tuple[float, float, float]:
        """(mean, second moment, variance) summed over the finite table."""
        cache = self._cache()
        if "moments" not in cache:
            p = self.pmf()
            k = np.arange(p.size, dtype=np.float64)
            mean = float(k @ p)
            second = float((k * k) @ p)
            var = float(((k - mean) ** 2) @ p)
            cache["moments"] = (mean, second, var)
        return cache["moments"]

    @property
    def variance(self) -> float:
        """Variance <k^2> - <k>^2 (``inf`` when it diverges)."""
        mean, second = self.mean, self.second_moment
        if math.isinf(second):
            return math.inf
        return second - mean * mean

    @property
    def mean_excess(self) -> float:
        """Mean excess degree <k(k-1)>/<k>, the branching factor of the excess degree.

        ``inf`` when the second moment diverges. Raises ``ValueError`` when the
        mean degree is 0 (no edges: the excess degree is undefined).
        """
        mean, second = self.mean, self.second_moment
        if mean == 0:
            raise ValueError(f"mean_excess is undefined for {self!r}: the mean degree is 0")
        if math.isinf(second):
            return math.inf
        return (second - mean) / mean

    # ---- generating functions ------------------------------------------------

    def g0(self, x, *, tol: float = TAIL_TOL):
        """Degree generating function G0(x) = sum_k p_k x^k.

        Parameters
        ----------
        x : array_like, real or complex
            Evaluation points, any shape. Closed forms (Poisson, Binomial,
            Regular) accept any complex ``x``; finite tables are polynomials
            and accept any ``x`` too; an unbounded power law needs ``|x| <= 1``.
        tol : float, optional
            Truncation error allowed where the series is summed over an
            unbounded support, in (0, MAX_TAIL_TOL] (0.1); ignored otherwise.

        Returns
        -------
        numpy.ndarray or numpy scalar
            Same shape as ``x``; float64 for real ``x``, complex128 otherwise.

        References
        ----------
        Newman, Strogatz & Watts, Phys. Rev. E 64, 026118 (2001), definition of G0.

        Examples
        --------
        >>> from cascades.degrees import Empirical
        >>> d = Empirical.from_pmf([0.25, 0.5, 0.25])
        >>> d.g0([0.0, 0.5, 1.0])
        array([0.25  , 0.5625, 1.    ])
        """
        tol = _check_tol(tol)
        x = _as_points(x)
        return _unwrap(_series(self.pmf(tol), x))

    def g1(self, x, *, tol: float = TAIL_TOL):
        """Excess-degree generating function G1(x) = G0'(x) / G0'(1) = sum_k q_k x^k.

        Same conventions as :meth:`g0`.

        Raises
        ------
        ValueError
            If the mean degree is 0 or infinite (G1 is undefined).

        References
        ----------
        Newman, Strogatz & Watts, Phys. Rev. E 64, 026118 (2001), definition of G1.

        Examples
        --------
        >>> from cascades.degrees import Empirical
        >>> d = Empirical.from_pmf([0.25, 0.5, 0.25])
        >>> d.g1([0.0, 0.5, 1.0])
        array([0.5 , 0.75, 1.  ])
        """
        tol = _check_tol(tol)
        self._positive_mean("g1")
        x = _as_points(x)
        return _unwrap(_series(self.excess_pmf(tol), x))

    # ---- sampling ------------------------------------------------------------

    def sample(self, n: int, *, rng=None) -> np.ndarray:
        """Draw ``n`` iid degrees.

        Parameters
        ----------
        n : int
            Number of draws, ``n >= 0``.
        rng : None, int or numpy.random.Generator, keyword-only
            Source of randomness; see :mod:`cascades._rng`.

        Returns
        -------
        numpy.ndarray
            int64 array of shape ``(n,)``.

        Examples
        --------
        >>> from cascades.degrees import Empirical
        >>> d = Empirical([2, 3, 3])
        >>> s = d.sample(1000, rng=0)
        >>> sorted(set(s.tolist())), bool((d.sample(5, rng=1) == d.sample(5, rng=1)).all())
        ([2, 3], True)
        """
        n = _check_sample_size(n)
        gen = as_generator(rng)
        return _inverse_cdf(self.pmf(), gen.random(n))


# ----------------------------------------------------------------------------
# distributions
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Poisson(DegreeDistribution):
    """Poisson degree distribution p_k = e^{-z} z^k / k!, the Erdos-Renyi limit.

    Parameters
    ----------
    mean : float
        The mean degree, 0 <= z <= 2**53 (larger degrees are not exact in float64).

    Notes
    -----
    G0(x) = G1(x) = exp(z (x - 1)); <k> = z, <k^2> = z + z^2, mean excess z.
    The closed forms are derived in ``theory/generating_functions.py``.

    References
    ----------
    Newman, Strogatz & Watts, Phys. Rev. E 64, 026118 (2001), the Poisson example.

    Examples
    --------
    >>> from cascades.degrees import Poisson
    >>> d = Poisson(3.0)
    >>> d.mean, d.second_moment, d.mean_excess
    (3.0, 12.0, 3.0)
    >>> round(float(d.g0(0.5)), 12)
    0.22313016015
    >>> d.sample(5, rng=0)
    array([2, 0, 7, 1, 4])
    """

    mean: float

    _too_long_hint = "the mean degree is too large for a table (mean must lie well below MAX_PMF_LENGTH)"

    def __post_init__(self):
        object.__setattr__(self, "mean", _check_exact("mean", check_real, self.mean))

    @property
    def kmin(self) -> int:
        return 0

    @property
    def kmax(self) -> int | None:
        return 0 if self.mean == 0 else None

    @property
    def second_moment(self) -> float:
        return self.mean + self.mean**2

    @property
    def variance(self) -> float:
        return self.mean

    @property
    def mean_excess(self) -> float:
        if self.mean == 0:
            raise ValueError(f"mean_excess is undefined for {self!r}: the mean degree is 0")
        return self.mean

    def _table(self, K):
        return stats.poisson.pmf(np.arange(K + 1), self.mean)

    def _infinite_cutoff(self, tol, weight):
        # sum_{k>K} p_k = pdtrc(K, z); sum_{k>K} k p_k / z = sum_{j>K-1} p_j
        z = self.mean
        hi = int(z + 10.0 * math.sqrt(z)) + 10
        while special.pdtrc(hi, z) > tol:
            hi *= 2
        K = _smallest_true(lambda K: special.pdtrc(K, z) <= tol, 0, hi)
        return K + weight

    def g0(self, x, *, tol: float = TAIL_TOL):
        """G0(x) = exp(z (x - 1)) (closed form; any complex x). See :meth:`DegreeDistribution.g0`."""
        _check_tol(tol)
        return _unwrap(np.exp(self.mean * (_as_points(x) - 1.0)))

    def g1(self, x, *, tol: float = TAIL_TOL):
        """G1(x) = exp(z (x - 1)) (closed form; any complex x). See :meth:`DegreeDistribution.g1`."""
        _check_tol(tol)
        self._positive_mean("g1")
        return _unwrap(np.exp(self.mean * (_as_points(x) - 1.0)))

    def sample(self, n: int, *, rng=None) -> np.ndarray:
        """Draw ``n`` iid degrees with :meth:`numpy.random.Generator.poisson`."""
        n = _check_sample_size(n)
        return as_generator(rng).poisson(self.mean, size=n).astype(np.int64)


@dataclass(frozen=True)
class Binomial(DegreeDistribution):
    """Binomial degree distribution Bin(n, p), e.g. G(n+1, p) or a sparse layer's fan-in.

    Parameters
    ----------
    n : int
        Number of trials, ``0 <= n <= 2**53``.
    p : float
        Success probability in [0, 1].

    Notes
    -----
    G0(x) = (1 - p + p x)^n, G1(x) = (1 - p + p x)^(n-1); <k> = n p,
    <k^2> = n p (1 - p) + (n p)^2, mean excess (n - 1) p. Derived in
    ``theory/generating_functions.py``.

    Examples
    --------
    >>> from cascades.degrees import Binomial
    >>> d = Binomial(10, 0.3)
    >>> round(d.mean, 12), round(d.variance, 12), round(d.mean_excess, 12)
    (3.0, 2.1, 2.7)
    >>> float(d.g1(1.0))
    1.0
    """

    n: int
    p: float

    _too_long_hint = "n is too large for a table (n must be < MAX_PMF_LENGTH)"

    def __post_init__(self):
        object.__setattr__(self, "n", _check_exact("n", check_int, self.n))
        object.__setattr__(self, "p", check_probability("p", self.p))

    @property
    def kmin(self) -> int:
        return self.n if self.p == 1 else 0

    @property
    def kmax(self) -> int:
        return 0 if self.p == 0 else self.n

    @property
    def mean(self) -> float:
        return self.n * self.p

    @property
    def second_moment(self) -> float:
        return self.n * self.p * (1.0 - self.p) + (self.n * self.p) ** 2

    @property
    def variance(self) -> float:
        return self.n * self.p * (1.0 - self.p)

    @property
    def mean_excess(self) -> float:
        if self.mean == 0:
            raise ValueError(f"mean_excess is undefined for {self!r}: the mean degree is 0")
        return (self.n - 1) * self.p

    def _table(self, K):
        k = np.arange(K + 1)
        try:
            return binom_pmf(k, self.n, self.p)
        except OverflowError:  # scipy (boost) overflows for subnormal p: use logs
            n, p = self.n, self.p
            log_pmf = (
                special.gammaln(n + 1)
                - special.gammaln(k + 1)
                - special.gammaln(n - k + 1)
                + special.xlogy(k, p)
                + special.xlog1py(n - k, -p)
            )
            return np.exp(log_pmf)

    def g0(self, x, *, tol: float = TAIL_TOL):
        """G0(x) = (1 - p + p x)^n (closed form; any complex x)."""
        _check_tol(tol)
        return _unwrap((1.0 - self.p + self.p * _as_points(x)) ** self.n)

    def g1(self, x, *, tol: float = TAIL_TOL):
        """G1(x) = (1 - p + p x)^(n-1) (closed form; any complex x)."""
        _check_tol(tol)
        self._positive_mean("g1")
        return _unwrap((1.0 - self.p + self.p * _as_points(x)) ** (self.n - 1))

    def sample(self, n: int, *, rng=None) -> np.ndarray:
        """Draw ``n`` iid degrees with :meth:`numpy.random.Generator.binomial`."""
        size = _check_sample_size(n)
        return as_generator(rng).binomial(self.n, self.p, size=size).astype(np.int64)


@dataclass(frozen=True)
class Regular(DegreeDistribution):
    """Every node has degree ``k`` (random regular graphs).

    Parameters
    ----------
    k : int
        The degree, ``0 <= k <= 2**53``.

    Notes
    -----
    G0(x) = x^k, G1(x) = x^(k-1); <k> = k, <k^2> = k^2, mean excess k - 1.

    Examples
    --------
    >>> from cascades.degrees import Regular
    >>> d = Regular(4)
    >>> d.mean, d.variance, d.mean_excess, float(d.g1(0.5))
    (4.0, 0.0, 3.0, 0.125)
    >>> d.sample(3, rng=0)
    array([4, 4, 4])
    """

    k: int

    _too_long_hint = "k is too large for a table (k must be < MAX_PMF_LENGTH)"

    def __post_init__(self):
        object.__setattr__(self, "k", _check_exact("k", check_int, self.k))

    @property
    def kmin(self) -> int:
        return self.k

    @property
    def kmax(self) -> int:
        return self.k

    @property
    def mean(self) -> float:
        return float(self.k)

    @property
    def second_moment(self) -> float:
        return float(self.k) ** 2

    @property
    def variance(self) -> float:
        return 0.0

    @property
    def mean_excess(self) -> float:
        if self.k == 0:
            raise ValueError(f"mean_excess is undefined for {self!r}: the mean degree is 0")
        return float(self.k - 1)

    def _table(self, K):
        p = np.zeros(K + 1)
        p[self.k] = 1.0
        return p

    def g0(self, x, *, tol: float = TAIL_TOL):
        """G0(x) = x^k (any complex x)."""
        _check_tol(tol)
        return _unwrap(_as_points(x) ** self.k)

    def g1(self, x, *, tol: float = TAIL_TOL):
        """G1(x) = x^(k-1) (any complex x)."""
        _check_tol(tol)
        self._positive_mean("g1")
        return _unwrap(_as_points(x) ** (self.k - 1))

    def sample(self, n: int, *, rng=None) -> np.ndarray:
        """Return ``n`` copies of ``k`` (``rng`` is validated, not used)."""
        n = _check_sample_size(n)
        as_generator(rng)
        return np.full(n, self.k, dtype=np.int64)


@dataclass(frozen=True)
class PowerLaw(DegreeDistribution):
    """Discrete power law p_k = k^-g / C on kmin <= k <= kmax (kmax may be infinite).

    Parameters
    ----------
    exponent : float
        The exponent g. Without ``kmax`` it must exceed 1 (otherwise the
        distribution cannot be normalised); with ``kmax`` any finite value is
        allowed (0 gives the uniform distribution).
    kmin : int, optional
        Smallest degree, ``1 <= kmin <= 2**53`` (default 1).
    kmax : int or None, optional
        Largest degree, ``kmin <= kmax < MAX_PMF_LENGTH``; ``None`` (default)
        for no cutoff.

    Notes
    -----
    Without cutoff, C = zeta(g, kmin) (Hurwitz zeta), <k> = zeta(g-1, kmin)/C
    (``inf`` for g <= 2) and <k^2> = zeta(g-2, kmin)/C (``inf`` for g <= 3).
    With a cutoff, every quantity is an exact finite sum.

    Without cutoff and g close to 2 or below, the table needed for a tail mass
    of 1e-12 has more than :data:`MAX_PMF_LENGTH` entries (g = 2.5 needs
    about 6e7): ``pmf()`` then raises and asks for ``kmax`` or a larger
    ``tol``. The moments, ``sample`` and ``g0``/``g1`` at ``|x| < 1`` do not
    need the full table: the series are truncated where the bound
    ``|x|^(K+1) * (tail mass beyond K)`` falls below ``tol``, and at ``x == 1``
    the exact value 1 (the normalisation) is returned.

    For kmin = 1, G0(x) = Li_g(x)/zeta(g) and G1(x) = Li_{g-1}(x)/(x zeta(g-1));
    ``theory/generating_functions.py`` derives these and the tests compare.

    Examples
    --------
    >>> from cascades.degrees import PowerLaw
    >>> d = PowerLaw(3.5)
    >>> round(d.mean, 10), round(d.second_moment, 10)
    (1.1905981494, 2.3185380545)
    >>> PowerLaw(2.5).second_moment
    inf
    >>> float(PowerLaw(2.5).g0(1.0))
    1.0
    >>> s = PowerLaw(2.5).sample(10**4, rng=0)
    >>> int(s.min()) >= 1, s.dtype
    (True, dtype('int64'))
    >>> PowerLaw(2.0, kmin=2, kmax=4).pmf().round(4)
    array([0.    , 0.    , 0.5902, 0.2623, 0.1475])
    """

    exponent: float
    kmin: int = 1
    kmax: int | None = None

    _too_long_hint = "pass a finite kmax or a larger tol"

    def _too_long(self, tol, weight: int) -> str:
        """The hint, with the exponents whose table fits at this tol (found by bisection)."""
        if tol is None:
            return self._too_long_hint

        def fits(g: float) -> bool:
            return PowerLaw(g, self.kmin)._coefficient_cutoff(0.0, weight, tol) is not None

        lo, hi = 1.0 + weight, 1.0e3
        if not fits(hi):
            return self._too_long_hint
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if fits(mid) else (mid, hi)
        what = "the table" if weight == 0 else "the edge-biased table"
        return (
            f"{self._too_long_hint} (without kmax, {what} at tol = {tol:g} needs exponent >= {hi:.4g} "
            f"for kmin = {self.kmin})"
        )

    def __post_init__(self):
        kmin = _check_exact("kmin", check_int, self.kmin, low=1)
        object.__setattr__(self, "kmin", kmin)
        if self.kmax is None:
            try:
                g = check_real("exponent", self.exponent, low=1.0, low_open=True)
            except ValueError as err:
                raise ValueError(
                    f"{err} (without kmax a power law is normalisable only for exponent > 1; "
                    "pass a finite kmax for smaller exponents)"
                ) from None
            if g * math.log(kmin) > 700.0:
                raise ValueError(
                    f"exponent * ln(kmin) must be <= 700 (else kmin**-exponent underflows), "
                    f"got exponent={g!r}, kmin={kmin}"
                )
        else:
            g = check_real("exponent", self.exponent)
            kmax = check_int("kmax", self.kmax, low=kmin, high=MAX_PMF_LENGTH - 1)
            object.__setattr__(self, "kmax", kmax)
        object.__setattr__(self, "exponent", g)

    # ---- unbounded helpers --------------------------------------------------

    def _zeta(self, s: float, q) -> float:
        return float(special.zeta(s, q))

    def _log_tail_bound(self, log_r: float, weight: int):
        """log of J -> |x|^(J+1) * sum_{k>J+weight} k^weight p_k / <k^weight>."""
        s = self.exponent - weight
        log_norm = math.log(self._zeta(s, self.kmin))

        def f(J):
            tail = self._zeta(s, J + 1 + weight)
            if tail == 0.0 or log_r == -math.inf:
                return -math.inf
            return (J + 1) * log_r + math.log(tail) - log_norm

        return f

    def _coefficient_cutoff(self, log_r: float, weight: int, tol: float):
        """Smallest coefficient index J whose truncated-series error bound is <= tol."""
        f = self._log_tail_bound(log_r, weight)
        log_tol = math.log(tol)
        lo = max(self.kmin - weight, 0)
        return _smallest_true(lambda J: f(J) <= log_tol, lo, MAX_PMF_LENGTH - 1 - weight)

    def _infinite_cutoff(self, tol, weight):
        J = self._coefficient_cutoff(0.0, weight, tol)
        if J is None:
            # estimate for the error message: zeta(s, q) ~ q^(1-s)/(s-1)
            # in logs: for exponents close to 1 the power overflows a float (PowerLaw(1.01): 1e1200)
            s = self.exponent - weight
            log_q = -(math.log(tol) + math.log(self._zeta(s, self.kmin)) + math.log(s - 1.0)) / (s - 1.0)
            return int(math.exp(min(log_q, _LOG_HUGE_DEGREE)))
        return J + weight

    def _series_unbounded(self, x, weight: int, tol: float):
        x = _as_points(x)
        at_one = x == 1
        rest = np.abs(x[~at_one])
        r = float(rest.max()) if rest.size else 0.0
        if not r <= 1.0:
            raise ValueError(
                f"x must satisfy |x| <= 1 for {self!r} (the series diverges), got max |x| = {r!r}"
            )
        log_r = math.log(r) if r > 0 else -math.inf
        J = self._coefficient_cutoff(log_r, weight, tol)
        if J is None:
            raise ValueError(
                f"{self!r}: summing the series to accuracy tol={tol:g} at |x| = {r!r} needs more "
                f"than MAX_PMF_LENGTH = {MAX_PMF_LENGTH} terms; pass a finite kmax or a larger tol"
            )
        if weight == 0:
            coef = self._prefix(J)
        else:
            p = self._prefix(J + 1)
            coef = np.arange(1, J + 2) * p[1:] / self.mean
        out = _series(coef, x)
        return _unwrap(np.where(at_one, 1.0, out).astype(x.dtype, copy=False))

    # ---- interface ------------------------------------------------------------

    def _table(self, K):
        g = self.exponent
        p = np.zeros(K + 1)
        k = np.arange(self.kmin, K + 1, dtype=np.float64)
        if self.kmax is None:
            p[self.kmin :] = np.power(k, -g) / self._zeta(g, self.kmin)
        else:
            # scale by the largest weight so nothing overflows or underflows first
            ref = self.kmin if g >= 0 else self.kmax
            w = np.exp(-g * (np.log(k) - math.log(ref)))
            p[self.kmin :] = w / w.sum()
        return p

    @property
    def mean(self) -> float:
        """<k>: zeta(g-1, kmin)/zeta(g, kmin) without cutoff (``inf`` for g <= 2)."""
        if self.kmax is not None:
            return self._table_moments()[0]
        g = self.exponent
        if g <= 2.0:
            return math.inf
        return self._zeta(g - 1.0, self.kmin) / self._zeta(g, self.kmin)

    @property
    def second_moment(self) -> float:
        """<k^2>: zeta(g-2, kmin)/zeta(g, kmin) without cutoff (``inf`` for g <= 3)."""
        if self.kmax is not None:
            return self._table_moments()[1]
        g = self.exponent
        if g <= 3.0:
            return math.inf
        return self._zeta(g - 2.0, self.kmin) / self._zeta(g, self.kmin)

    @property
    def variance(self) -> float:
        if self.kmax is not None:
            return self._table_moments()[2]
        return super().variance

    def g0(self, x, *, tol: float = TAIL_TOL):
        """G0(x) = sum_k p_k x^k, summed over the table (``|x| <= 1`` without kmax).

        Without ``kmax`` the series is truncated adaptively with error at most
        ``tol``; ``g0(1) = 1`` exactly. See :class:`PowerLaw` Notes.
        """
        if self.kmax is not None:
            return super().g0(x, tol=tol)
        return self._series_unbounded(x, 0, _check_tol(tol))

    def g1(self, x, *, tol: float = TAIL_TOL):
        """G1(x) = sum_k q_k x^k; needs a finite mean (exponent > 2 without kmax)."""
        if self.kmax is not None:
            return super().g1(x, tol=tol)
        tol = _check_tol(tol)
        self._positive_mean("g1")
        return self._series_unbounded(x, 1, tol)

    def sample(self, n: int, *, rng=None) -> np.ndarray:
        """Draw ``n`` iid degrees exactly.

        With ``kmax``: inverse CDF on the table. Without: inverse CDF on the
        table of degrees ``kmin <= k < K0`` (``K0 = max(kmin, 1000)``) and, with
        probability equal to the tail mass zeta(g, K0)/zeta(g, kmin), a draw
        from the tail by rejection: ``Y`` continuous Pareto on ``[K0, inf)``
        with density proportional to ``y^-g``, ``k = floor(Y)``, accepted with
        probability ``k^-g / (M * int_k^{k+1} y^-g dy)``, ``M = (1 + 1/K0)^g``.
        The acceptance rate is at least ``1/M``.

        Raises
        ------
        ValueError
            If a drawn degree exceeds 2**53 (then it is not exactly
            representable; only likely for exponents close to 1: pass ``kmax``).
        """
        size = _check_sample_size(n)
        gen = as_generator(rng)
        if self.kmax is not None:
            return _inverse_cdf(self.pmf(), gen.random(size))
        kmin = self.kmin
        K0 = max(kmin, _POWER_LAW_TABLE_END)
        head = self._prefix(K0 - 1) if K0 > kmin else np.zeros(0)
        head_mass = float(np.sum(head))
        u = gen.random(size)
        out = np.empty(size, dtype=np.int64)
        in_head = u < head_mass
        if head.size:
            out[in_head] = _inverse_cdf(head, u[in_head])
        n_tail = int(size - np.count_nonzero(in_head))
        if n_tail:
            out[~in_head] = self._sample_tail(n_tail, K0, gen)
        return out

    def _sample_tail(self, n_tail: int, K0: int, gen: np.random.Generator) -> np.ndarray:
        """``n_tail`` exact draws from p_k restricted to k >= K0, by rejection."""
        g = self.exponent
        log_M = g * math.log1p(1.0 / K0)
        found = []
        n_found = 0
        while n_found < n_tail:
            batch = int(1.1 * math.exp(log_M) * (n_tail - n_found)) + 16
            # 1 - U lies in (0, 1]: Y = K0 * V^(-1/(g-1)) is Pareto on [K0, inf)
            with np.errstate(over="ignore"):
                y = K0 * np.power(1.0 - gen.random(batch), -1.0 / (g - 1.0))
            v = gen.random(batch)
            k = np.floor(np.minimum(y, _EXACT_INT))
            # int_k^{k+1} y^-g dy = k^(1-g) * (-expm1((1-g) log1p(1/k))) / (g-1), so the
            # acceptance probability k^-g / (M * integral) is:
            accept = (g - 1.0) / (k * math.exp(log_M) * -np.expm1((1.0 - g) * np.log1p(1.0 / k)))
            accepted = v < accept
            if np.any(accepted & (y >= _EXACT_INT)):
                raise ValueError(
                    f"{self!r}: a sampled degree exceeded 2**53 and cannot be represented "
                    "exactly; pass a finite kmax (exponents close to 1 have extremely heavy tails)"
                )
            kept = k[accepted].astype(np.int64)
            found.append(kept)
            n_found += kept.size
        return np.concatenate(found)[:n_tail]


@dataclass(frozen=True, eq=False)
class Empirical(DegreeDistribution):
    """A degree distribution given by a table or by an observed degree sequence.

    Parameters
    ----------
    pmf_or_degree_sequence : array_like
        Either a pmf ``p[k]`` (a **float** array: nonnegative, summing to 1
        within :data:`PMF_SUM_TOL`) or a degree sequence (an **integer** array
        of degrees >= 0, turned into frequencies). The dtype decides:
        ``Empirical([3, 3, 4])`` is a degree sequence, ``Empirical([0.5, 0.5])``
        a pmf. Use :meth:`from_pmf` or :meth:`from_degrees` to be explicit.

    Notes
    -----
    After construction the field ``pmf_or_degree_sequence`` holds the pmf:
    a read-only float64 array, renormalised to sum 1, with trailing zeros
    removed (so ``kmax`` is the largest degree of positive probability and
    the ``repr`` reconstructs the object). Equality and hashing compare it.

    Examples
    --------
    >>> from cascades.degrees import Empirical
    >>> d = Empirical([1, 2, 2, 3])
    >>> d.pmf()
    array([0.  , 0.25, 0.5 , 0.25])
    >>> d == Empirical.from_pmf([0, 0.25, 0.5, 0.25, 0.0])
    True
    >>> d.kmin, d.kmax, d.mean, d.mean_excess
    (1, 3, 2.0, 1.25)
    """

    pmf_or_degree_sequence: np.ndarray

    def __post_init__(self):
        name = "pmf_or_degree_sequence"
        arr = np.asarray(self.pmf_or_degree_sequence)
        if arr.dtype.kind in "iu":
            arr = _pmf_from_degrees(arr, name)
        elif arr.dtype.kind != "f":
            raise ValueError(
                f"{name} must be a float pmf or an integer degree sequence, got dtype {arr.dtype}"
            )
        object.__setattr__(self, name, _checked_pmf(arr, name))

    @classmethod
    def from_pmf(cls, pmf) -> Empirical:
        """Build from a pmf table ``pmf[k]`` (integers such as ``[0, 1]`` are allowed).

        Examples
        --------
        >>> Empirical.from_pmf([0, 1]).mean
        1.0
        """
        return cls(_checked_pmf(pmf, "pmf"))

    @classmethod
    def from_degrees(cls, degrees) -> Empirical:
        """Build from a degree sequence (integral floats are accepted).

        Examples
        --------
        >>> Empirical.from_degrees([2.0, 2.0, 4.0]).pmf().round(3)
        array([0.   , 0.   , 0.667, 0.   , 0.333])
        """
        return cls(_pmf_from_degrees(degrees, "degrees"))

    @property
    def probabilities(self) -> np.ndarray:
        """The pmf table (read-only), the same as ``pmf()``."""
        return self.pmf_or_degree_sequence

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return np.array_equal(self.pmf_or_degree_sequence, other.pmf_or_degree_sequence)

    def __hash__(self):
        return hash((type(self).__name__, self.pmf_or_degree_sequence.tobytes()))

    @property
    def kmin(self) -> int:
        return int(np.flatnonzero(self.pmf_or_degree_sequence)[0])

    @property
    def kmax(self) -> int:
        return self.pmf_or_degree_sequence.size - 1

    @property
    def mean(self) -> float:
        return self._table_moments()[0]

    @property
    def second_moment(self) -> float:
        return self._table_moments()[1]

    @property
    def variance(self) -> float:
        return self._table_moments()[2]

    def _table(self, K):
        return self.pmf_or_degree_sequence[: K + 1].copy()
