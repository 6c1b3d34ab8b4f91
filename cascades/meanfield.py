"""Mean-field theory of cascades on configuration-model random graphs.

The local tree approximation (LTA) of Gleeson & Cahalane (2007) gives the
final size of a cascade of any monotone binary-state model with a response
function F(m, k) on a configuration-model graph with degree distribution p_k;
read in time it gives the course of synchronous dynamics (Burkholz &
Schweitzer 2018). Around it sit the conditions for global cascades (Watts
2002), the probability that one seed triggers one, the cascade window in a
parameter plane, and the giant component (Newman, Strogatz & Watts 2001).

Public functions
----------------
:func:`final_size`, :func:`final_size_from_graph`
    The fixed point reached from the seed fraction, and optionally its time
    course.
:func:`cascade_condition`, :func:`cascade_condition_from_graph`
    Watts' C1 > 1 and the second-order coefficient C2.
:func:`global_cascade_probability`, :func:`global_cascade_probability_from_graph`
    Probability that one random seed triggers a global cascade (extended
    vulnerable cluster).
:func:`cascade_window`
    The cascade region on a (z, phi) grid, for rho0 -> 0 and for a finite seed.
:func:`giant_component`, :func:`giant_component_from_graph`
    u = G1(u), S = 1 - G0(u).

Conventions
-----------
Notation: p_k the degree distribution, z = sum_k k p_k its mean, e_k = k p_k / z
the degree of the node at the end of a random edge, rho0 the seed fraction.
Solvers take a :class:`~cascades.degrees.DegreeDistribution` and a
:class:`~cascades.models.CascadeModel` (the same model object the simulator
takes); the ``*_from_graph`` helpers build the empirical degree distribution of
an undirected graph and call the solver. Probability tables of unbounded
distributions are cut where the left-out tail is at most
:data:`cascades.degrees.TAIL_TOL` (1e-12), which bounds the accuracy of every
result. Results are frozen dataclasses. Iterations stop by the rule of
:func:`final_size` (Notes) and report ``converged=False`` with a
:class:`ConvergenceWarning` when they cannot certify convergence.

This module never imports the simulators; theory and simulation meet in
``tests/test_theory_vs_simulation.py``.

References
----------
J. P. Gleeson and D. J. Cahalane, "Seed size strongly affects cascades on
random networks", Phys. Rev. E 75, 056103 (2007).
D. J. Watts, "A simple model of global cascades on random networks",
PNAS 99, 5766 (2002).
R. Burkholz and F. Schweitzer, "A framework for cascade size calculations on
random networks", Phys. Rev. E 97, 042312 (2018).
R. Burkholz, A. Garas and F. Schweitzer, "How damage diversification can
reduce systemic risk", Phys. Rev. E 93, 042313 (2016).
M. E. J. Newman, S. H. Strogatz and D. J. Watts, "Random graphs with
arbitrary degree distributions and their applications", Phys. Rev. E 64,
026118 (2001).
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from . import _meanfield_kernels as _k
from ._arrays import readonly
from ._memory import check_memory
from ._validation import check_int, check_real
from .degrees import DegreeDistribution, Empirical, Poisson
from .graphs import Graph
from .models import (
    AbsoluteThreshold,
    CascadeModel,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    WeightedThreshold,
    _cdf,  # a law's cdf as checked probabilities (ValueError naming it on NaN)
)

__all__ = [
    "ConvergenceWarning",
    "FinalSize",
    "CascadeCondition",
    "GlobalCascadeProbability",
    "GiantComponent",
    "CascadeWindow",
    "final_size",
    "final_size_from_graph",
    "cascade_condition",
    "cascade_condition_from_graph",
    "global_cascade_probability",
    "global_cascade_probability_from_graph",
    "giant_component",
    "giant_component_from_graph",
    "cascade_window",
]

#: Largest table end K for which a dense (K + 1) x (K + 1) response table is used.
DENSE_MAX = 512

#: Largest number of lattice points used to discretise summed loads (damage and iid weights).
LATTICE_MAX = 2**15

#: Round-off tolerance of the simulator's load rule (load >= theta - 1e-12), mirrored here.
_LOAD_TOL = 1e-12

#: Left-out tail of the tables of the percolation solvers (O(K) work, so a tight tail is cheap;
#: near the threshold the relative accuracy of the root is about this tail / (C1 - 1)).
_PERCOLATION_TAIL = 1e-16

#: Largest far-tail mass of p_k + e_k dropped from a table (far below TAIL_TOL).
_TRIM_TOL = 1e-18

#: Mass left out of each binomial row by the band evaluation (Bernstein's inequality).
_BAND_EPS = 1e-17

#: Bytes per point (m, k) of the band evaluation: m, k, the response and the model's temporaries.
_BAND_BYTES = 48

#: Bytes per degree of the solvers' per-degree arrays (tables, thresholds, binomial terms; a lower bound).
_DEGREE_BYTES = 64

#: Largest convergence tolerance of the iterative solvers: the iterates are probabilities, so a step
#: of more than 0.1 is no convergence at all (tol = 1e10 would certify the first iterate).
MAX_TOL = 0.1

_DEFAULT_TOL = 1e-12
_DEFAULT_MAX_ITER = 100_000


class ConvergenceWarning(RuntimeWarning):
    """A fixed-point iteration stopped at ``max_iter`` without certified convergence."""


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


_readonly = functools.partial(readonly, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class FinalSize:
    """The fixed point of the local tree approximation reached from the seed fraction.

    Attributes
    ----------
    rho : float
        Final active fraction (seeds included).
    q : float
        Probability that the node at the end of a random edge is active, when
        computed without the edge's other end (the fixed point q_inf).
    n_iter : int
        Number of iterations q_n -> q_{n+1} performed.
    converged : bool
        Whether the stopping rule certified convergence (see
        :func:`final_size`, Notes).
    seed_fraction : float
        The seed fraction rho0.
    rho_t : numpy.ndarray or None
        With ``trajectory=True``: rho_t[t] is the active fraction after t
        synchronous steps, t = 0..n_iter + 1 (rho_t[0] = rho0, the last entry
        equals ``rho``); comparable entry by entry with the ``steps`` of a
        synchronous simulation (pad the shorter with its last value).
    q_t : numpy.ndarray or None
        With ``trajectory=True``: q_t[t], t = 0..n_iter (q_0 = rho0).
    error : float
        Bound on the discretisation error of ``rho`` (and of every entry of
        ``rho_t``): 0.0 where F(m, k) is computed exactly; for damage and iid
        random weights, half the gap between the lower and upper bound
        solutions (see :func:`final_size`, Notes).
    """

    rho: float
    q: float
    n_iter: int
    converged: bool
    seed_fraction: float
    rho_t: np.ndarray | None = None
    q_t: np.ndarray | None = None
    error: float = 0.0

    def __repr__(self) -> str:
        extra = "" if self.rho_t is None else f", len(rho_t)={self.rho_t.size}"
        err = "" if self.error == 0 else f", error={self.error:.3g}"
        return (
            f"FinalSize(rho={self.rho:.10g}, q={self.q:.10g}, n_iter={self.n_iter}, "
            f"converged={self.converged}{err}{extra})"
        )


@dataclass(frozen=True)
class CascadeCondition:
    """Watts' cascade condition and the expansion coefficients of the q-map.

    With G(q) = sum_k e_k sum_{m<k} Bin(m; k-1, q) F(m, k) expanded as
    G(q) = c0 + c1 q + c2 q^2 + O(q^3):

    Attributes
    ----------
    c0 : float
        G(0) = sum_k e_k F(0, k): the probability that a node at the end of an
        edge activates by itself (0 for the usual models).
    c1 : float
        sum_k e_k (k - 1) [F(1, k) - F(0, k)] (Watts' sum_k k (k-1) p_k F(1, k) / z
        when F(0, k) = 0).
    c2 : float
        sum_k e_k C(k-1, 2) [F(2, k) - 2 F(1, k) + F(0, k)]
        (= sum_k e_k (k-1)(k-2) [F(2, k)/2 - F(1, k)] when F(0, k) = 0).
        NaN for damage diversification (the map is not scalar there).
    cascades : bool
        Watts' condition c1 > 1: a single seed can trigger a global cascade.
    seed_fraction : float
        rho0 used for ``seeded_cascade``.
    seeded_cascade : bool
        The quadratic criterion of Gleeson & Cahalane for a finite seed: with
        the map q -> a0 + a1 q + a2 q^2, a0 = rho0 + (1 - rho0) c0,
        a1 = (1 - rho0) c1, a2 = (1 - rho0) c2, the small-q fixed point is
        absent when a1 > 1 or (1 - a1)^2 < 4 a0 a2. Equals ``cascades`` for
        rho0 = 0 and c0 = 0. An approximation: :func:`final_size` is exact
        within the LTA.
    """

    c0: float
    c1: float
    c2: float
    cascades: bool
    seed_fraction: float = 0.0
    seeded_cascade: bool = False


@dataclass(frozen=True)
class GlobalCascadeProbability:
    """Probability that a single random seed triggers a global cascade.

    Attributes
    ----------
    probability : float
        1 - sum_k p_k (1 - v)^k: the fraction of nodes in the extended
        vulnerable cluster (the vulnerable cluster and its neighbours).
    v : float
        Probability that an edge from an active node leads into an infinite
        vulnerable subtree (largest root of the equation in the Notes of
        :func:`global_cascade_probability`).
    vulnerable_fraction : float
        Fraction of nodes in the giant vulnerable cluster,
        sum_k p_k F(1, k) (1 - (1 - v)^k) (NaN for damage diversification).
    c1 : float
        Watts' C1; ``probability > 0`` iff c1 > 1.
    """

    probability: float
    v: float
    vulnerable_fraction: float
    c1: float


@dataclass(frozen=True)
class GiantComponent:
    """Giant component of a configuration-model graph.

    Attributes
    ----------
    size : float
        S = 1 - G0(u), the fraction of nodes in the giant component.
    u : float
        Probability that a random edge does not lead to the giant component,
        the smallest root of u = G1(u) in [0, 1].
    mean_excess : float
        <k(k-1)>/<k>; a giant component exists iff it exceeds 1.
    """

    size: float
    u: float
    mean_excess: float


@dataclass(frozen=True, eq=False)
class CascadeWindow:
    """The cascade region on a grid of a degree parameter z and a model parameter phi.

    Arrays have shape ``(len(z), len(phi))`` and are read-only.

    Attributes
    ----------
    z, phi : numpy.ndarray
        The grid axes.
    c1, c2 : numpy.ndarray
        Watts' C1 and the second-order coefficient C2 (:class:`CascadeCondition`).
    cascades : numpy.ndarray
        bool, C1 > 1: the window for rho0 -> 0 (a single seed can trigger a
        global cascade).
    seed_fraction : float
        rho0 of the finite-seed fields (0.0: they are None).
    final_size : numpy.ndarray or None
        The LTA final size reached from rho0 (:func:`final_size`).
    global_cascades : numpy.ndarray or None
        bool, ``final_size > size_threshold``: the window for the finite seed.
    size_threshold : float
        The size above which a finite-seed cascade counts as global.
    converged : numpy.ndarray or None
        bool, whether each finite-seed iteration converged.
    n_iter : numpy.ndarray or None
        int, iterations per grid point.
    """

    z: np.ndarray
    phi: np.ndarray
    c1: np.ndarray
    c2: np.ndarray
    cascades: np.ndarray
    seed_fraction: float
    final_size: np.ndarray | None
    global_cascades: np.ndarray | None
    size_threshold: float
    converged: np.ndarray | None
    n_iter: np.ndarray | None

    def __repr__(self) -> str:
        return (
            f"CascadeWindow({self.z.size} z x {self.phi.size} phi, seed_fraction={self.seed_fraction:g}, "
            f"{int(self.cascades.sum())} points with C1 > 1)"
        )


# ---------------------------------------------------------------------------
# input checks and tables
# ---------------------------------------------------------------------------


def _fiber_hint() -> str:
    """Where to go for the fiber bundle model, which has no analytic solver here."""
    return (
        "the fiber bundle model is history dependent and has no analytic solver in cascades; "
        "simulate it with cascades.simulate(graph, model, dynamics='sync')"
    )


def _is_random(value) -> bool:
    """A frozen distribution (a ``cdf`` and an ``rvs`` or ``sample`` method), as in cascades.models."""
    if isinstance(value, (str, bytes, np.ndarray)):
        return False
    return callable(getattr(value, "cdf", None)) and (
        callable(getattr(value, "rvs", None)) or callable(getattr(value, "sample", None))
    )


def _check_model(model, what: str) -> CascadeModel:
    if isinstance(model, FiberBundle):
        raise TypeError(
            f"{what} needs a model with a response function F(m, k); FiberBundle is history dependent "
            f"and has none: {_fiber_hint()}"
        )
    if not isinstance(model, CascadeModel):
        raise TypeError(
            f"model must be a cascades model (FractionalThreshold, AbsoluteThreshold, WeightedThreshold, "
            f"IndependentCascade), got {type(model).__name__}"
        )
    if _is_load_model(model):
        theta = model.theta
        if isinstance(theta, np.ndarray) and theta.size and np.any(theta != theta[0]):
            raise TypeError(
                f"{what}: a per-node array theta with unequal entries has no mean-field description; "
                "give a number or a frozen scipy.stats distribution of the thresholds"
            )
        return model
    if not model.has_response:
        raise TypeError(
            f"{what} needs a response function F(m, k), and {model!r} has none (a per-node or per-edge "
            "array parameter with unequal entries makes F depend on the node); give a number or a frozen "
            "scipy.stats distribution instead"
        )
    return model


def _is_load_model(model) -> bool:
    """WeightedThreshold with damage or iid weights: F is computed here, not by the model."""
    return isinstance(model, WeightedThreshold) and not (
        isinstance(model.weights, str) and model.weights == "exposure"
    )


def _is_damage(model) -> bool:
    return (
        isinstance(model, WeightedThreshold) and isinstance(model.weights, str) and model.weights == "damage"
    )


def _check_degrees(degrees, what: str) -> DegreeDistribution:
    if not isinstance(degrees, DegreeDistribution):
        raise TypeError(
            f"degrees must be a cascades degree distribution (Poisson, PowerLaw, Empirical, ...), "
            f"got {type(degrees).__name__}; for a concrete graph use {what}_from_graph"
        )
    z = degrees.mean
    if z == 0:
        raise ValueError(
            f"{what}: {degrees!r} has mean degree 0, so the graph has no edges and nothing can spread "
            "(the final size is just the seed fraction plus the nodes that activate by themselves); "
            "give a distribution with a positive mean"
        )
    if not math.isfinite(z):
        raise ValueError(
            f"{what}: {degrees!r} has an infinite mean degree, for which the local tree approximation is "
            "undefined; give a finite kmax (e.g. PowerLaw(exponent, kmin, kmax=...))"
        )
    return degrees


def _check_seed_fraction(seed_fraction) -> float:
    return check_real("seed_fraction", seed_fraction, low=0.0, high=1.0)


def _check_tol(tol) -> float:
    """A convergence tolerance in (0, MAX_TOL]."""
    return check_real("tol", tol, low=0.0, high=MAX_TOL, low_open=True)


def _check_max_iter(max_iter) -> int:
    return check_int("max_iter", max_iter, low=1)


def _tables(degrees: DegreeDistribution, tol=None):
    """(p, e, K): degree and edge-biased tables p[k], e[k], k = 0..K, padded to one length.

    ``tol`` is the left-out tail (default TAIL_TOL); a smaller one is tried and, if the table
    would be too long, the default is used.
    """
    if tol is not None:
        try:
            p = degrees.pmf(tol)
            e = degrees.edge_biased_pmf(tol)
        except ValueError:
            p = degrees.pmf()
            e = degrees.edge_biased_pmf()
    else:
        p = degrees.pmf()
        e = degrees.edge_biased_pmf()
    K = max(p.size, e.size) - 1
    check_memory(
        _DEGREE_BYTES * (K + 1),
        parameter=f"degrees = {degrees!r} (a table up to degree K = {K})",
        what="the solver's per-degree arrays",
    )
    P = np.zeros(K + 1)
    E = np.zeros(K + 1)
    P[: p.size] = p
    E[: e.size] = e
    # drop a far tail of negligible mass (Binomial(n, p) with large n has n + 1 entries, most ~1e-300)
    tail = np.cumsum((P + E)[::-1])[::-1]
    keep = np.flatnonzero(tail > _TRIM_TOL)
    K = int(keep[-1]) if keep.size else 0
    return P[: K + 1].copy(), E[: K + 1].copy(), K


def _graph_degrees(graph, what: str) -> Empirical:
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a cascades Graph, got {type(graph).__name__}")
    if graph.directed:
        raise ValueError(
            f"{what}_from_graph supports undirected graphs only: on a directed graph the local tree "
            "approximation needs the joint in/out-degree distribution; use message passing on the graph"
        )
    if graph.n == 0:
        raise ValueError(f"{what}_from_graph: the graph has no nodes")
    return Empirical.from_degrees(graph.degrees)


# ---------------------------------------------------------------------------
# the response F(m, k) and the maps G(q), H(q)
# ---------------------------------------------------------------------------


def _response_fn(model):
    """F(m, k) for arrays with 0 <= m <= k (the model's own response)."""
    return lambda m, k: np.asarray(model.response(m, k), dtype=np.float64)


def _is_step_model(model) -> bool:
    """Deterministic integer thresholds: F(m, k) = 1[m >= M_k]."""
    if isinstance(model, AbsoluteThreshold):
        return True
    if isinstance(model, FractionalThreshold):
        return not _is_random(model.phi)
    if isinstance(model, WeightedThreshold):
        return not _is_load_model(model) and not _is_random(model.theta)
    return False


def _step_thresholds(model, K: int) -> np.ndarray:
    """M_k = min{m : F(m, k) = 1} (k + 1 if none), k = 0..K, by bisection on the model's response."""
    k = np.arange(K + 1, dtype=np.int64)
    lo = np.zeros(K + 1, dtype=np.int64)
    hi = k + 1  # F(k + 1, k) := 1
    while True:
        act = np.flatnonzero(lo < hi)
        if act.size == 0:
            return lo
        mid = (lo[act] + hi[act]) // 2
        one = np.asarray(model.response(mid, k[act])) >= 1.0
        hi[act] = np.where(one, mid, hi[act])
        lo[act] = np.where(one, lo[act], mid + 1)


def _binomial_tail(n, M, q):
    """P[Bin(n, q) >= M] for integer arrays n >= 0, M (any integers): a regularized incomplete beta."""
    out = (M <= 0).astype(np.float64)
    mid = (M >= 1) & (M <= n)
    if np.any(mid):
        out[mid] = special.betainc(M[mid], n[mid] - M[mid] + 1, q)
    return out


class _Maps:
    """G(q) = sum_k e_k A_k(q) and H(q) = sum_k p_k B_k(q) for one model and one degree table."""

    def __init__(self, P, E, K):
        self.P, self.E, self.K = P, E, K

    def g(self, q: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def h(self, q: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


class _StepMaps(_Maps):
    """Integer thresholds M_k: A_k = P[Bin(k-1, q) >= M_k], B_k = P[Bin(k, q) >= M_k]; O(K) per call."""

    def __init__(self, P, E, K, M):
        super().__init__(P, E, K)
        ke = np.flatnonzero(E)
        kp = np.flatnonzero(P)
        self._ke, self._we, self._Me = ke - 1, E[ke], M[ke]
        self._kp, self._wp, self._Mp = kp, P[kp], M[kp]

    def g(self, q):
        return float(self._we @ _binomial_tail(self._ke, self._Me, q))

    def h(self, q):
        return float(self._wp @ _binomial_tail(self._kp, self._Mp, q))


class _IndependentMaps(_Maps):
    """Independent cascade, F(m, k) = 1 - (1 - p)^m: A_k = 1 - (1 - p q)^(k-1) in closed form."""

    def __init__(self, P, E, K, p):
        super().__init__(P, E, K)
        self.p = p
        self._n = np.arange(K + 1, dtype=np.float64)

    def _sum(self, w, n, q):
        x = self.p * q
        if x >= 1.0:
            return float(w @ (n > 0))
        return float(w @ -np.expm1(n * math.log1p(-x)))

    def g(self, q):
        return self._sum(self.E[1:], self._n[:-1], q)

    def h(self, q):
        return self._sum(self.P, self._n, q)


class _DenseMaps(_Maps):
    """Any response as a dense table F[k, m] (K <= DENSE_MAX): Pascal rows in a kernel, O(K^2) per call."""

    def __init__(self, P, E, K, F):
        super().__init__(P, E, K)
        self.F = F
        self._out = np.zeros(2)

    def g(self, q):
        _k.pascal_maps(q, self.E, self.P, self.F, self.K, self._out)
        return float(self._out[0])

    def h(self, q):
        _k.pascal_maps(q, self.E, self.P, self.F, self.K, self._out)
        return float(self._out[1])


class _BandMaps(_Maps):
    """Any response, large K: each binomial row only where its mass is not negligible.

    Row n of Bin(.; n, q) is evaluated on m in [nq - t, nq + t] with
    t = L/3 + sqrt(L^2/9 + 2 L n q (1 - q)), L = ln(1/_BAND_EPS), so by
    Bernstein's inequality each side leaves out less than _BAND_EPS of the
    mass. The cost per call is O(sum_n (sqrt(n q (1-q)) + L)), not O(K^2).
    """

    def __init__(self, P, E, K, values):
        super().__init__(P, E, K)
        self.values = values
        ke = np.flatnonzero(E)
        kp = np.flatnonzero(P)
        self._ge = ("g", ke - 1, ke, E[ke])
        self._hp = ("h", kp, kp, P[kp])
        self._cache = {}

    def _response(self, key, rows, cols, lo, hi):
        """F on the bands, from a cache of wider bands (the bands move little between iterations)."""
        cached = self._cache.get(key)
        if cached is None or np.any(lo < cached[0]) or np.any(hi > cached[1]):
            w = (hi - lo) // 4 + 1
            a = np.maximum(lo - w, 0)
            b = np.minimum(hi + w, rows)
            length = b - a + 1
            start = np.zeros(rows.size, dtype=np.int64)
            np.cumsum(length[:-1], out=start[1:])
            total = int(start[-1] + length[-1])
            check_memory(
                _BAND_BYTES * total,
                parameter=f"degrees (a table up to degree K = {self.K}, with a response that is no step)",
                what=f"F(m, k) on the {total} points (m, k) where Bin(m; k, q) is not negligible, about "
                "K^1.5 of them; give the degree distribution a smaller kmax",
            )
            m = np.arange(total, dtype=np.int64) - np.repeat(start - a, length)
            cached = (a, b, start, self.values(m, np.repeat(cols, length)))
            self._cache[key] = cached
        a, _, start, vals = cached
        length = hi - lo + 1
        offset = np.zeros(rows.size, dtype=np.int64)
        np.cumsum(length[:-1], out=offset[1:])
        idx = np.arange(int(offset[-1] + length[-1]), dtype=np.int64) + np.repeat(
            start + lo - a - offset, length
        )
        return vals[idx], offset, length

    def _sum(self, key, rows, cols, w, q):
        n = rows.astype(np.float64)
        L = math.log(1.0 / _BAND_EPS)
        t = L / 3.0 + np.sqrt(L * L / 9.0 + 2.0 * L * n * q * (1.0 - q))
        lo = np.clip(np.floor(n * q - t), 0, n).astype(np.int64)
        hi = np.clip(np.ceil(n * q + t), 0, n).astype(np.int64)
        f, start, length = self._response(key, rows, cols, lo, hi)
        pmf = np.empty(f.size)
        _k.band_pmf(rows, q, lo, length, start, pmf)
        dots = np.empty(rows.size)
        _k.segment_dot(pmf, f, start, length, dots)
        return float(w @ dots)

    def g(self, q):
        return self._sum(*self._ge, q)

    def h(self, q):
        return self._sum(*self._hp, q)


def _general_maps(P, E, K, values) -> _Maps:
    """Dense Pascal table for K <= DENSE_MAX, band evaluation beyond."""
    if K <= DENSE_MAX:
        return _DenseMaps(P, E, K, _dense_table(values, K))
    return _BandMaps(P, E, K, values)


def _dense_table(values, K: int) -> np.ndarray:
    """F[k, m] = F(m, k) for 0 <= m <= k <= K (zero above the diagonal)."""
    k, m = np.tril_indices(K + 1)
    F = np.zeros((K + 1, K + 1))
    F[k, m] = values(m, k)
    return F


# ---------------------------------------------------------------------------
# summed loads: damage diversification and iid random weights
# ---------------------------------------------------------------------------


def _theta_support(theta):
    """(T, cdf_fn): loads above T always activate; cdf_fn(x) = P[theta <= x] (None for a fixed theta)."""
    if _is_random(theta):
        T = float(theta.isf(1e-16)) if callable(getattr(theta, "isf", None)) else float(theta.ppf(1 - 1e-16))
        if not math.isfinite(T):
            raise ValueError(f"theta {theta!r}: its 1 - 1e-16 quantile is not finite")
        return T, lambda x: _cdf("theta", theta, x)
    if isinstance(theta, np.ndarray):
        theta = float(theta[0])
    return float(theta), None


def _lattice_cdf(T: float, scale: float, cdf_fn):
    """(N, cdf): lattice points j/scale, j = 0..N-1, below the activation range, and P[theta <= j/scale]."""
    if cdf_fn is None:
        # j/scale >= theta - 1e-12  <=>  j >= ceil(scale theta - 1e-12 scale)
        N = max(0, math.ceil(T * scale - _LOAD_TOL * scale))
        return N, np.zeros(N)
    N = math.floor(T * scale) + 1
    return N, cdf_fn(np.arange(N) / scale + _LOAD_TOL)


def _sum_response(law: np.ndarray, over: float, cdf: np.ndarray, nmax: int) -> np.ndarray:
    """F(n) = P[theta <= X_1 + ... + X_n], n = 0..nmax, X_i iid with ``law`` on 0..N-1 and ``over`` beyond.

    Sparse shift-and-add in a kernel when the law has few atoms, truncated FFT
    convolution powers otherwise.
    """
    N = cdf.size
    out = np.empty(nmax + 1)
    if N == 0:
        out[:] = 1.0
        return out
    law = np.clip(law, 0.0, None)
    over_tail = np.empty(N + 1)
    over_tail[N] = over
    over_tail[:N] = np.cumsum(law[::-1])[::-1] + over
    shift = np.flatnonzero(law)
    if shift.size <= 64:
        _k.lattice_sum_response(shift.astype(np.int64), law[shift], over_tail, cdf, nmax, out)
        return out
    from scipy import fft

    M = fft.next_fast_len(2 * N, real=True)
    law_f = fft.rfft(law, M)
    d = np.zeros(N)
    d[0] = 1.0
    absorbed = 0.0
    tail_rev = over_tail[N:0:-1]  # over_tail[N - j], j = 0..N-1
    out[0] = min(cdf[0], 1.0)
    for n in range(1, nmax + 1):
        absorbed += float(d @ tail_rev)
        d = fft.irfft(fft.rfft(d, M) * law_f, M)[:N]
        np.clip(d, 0.0, None, out=d)
        out[n] = min(absorbed + float(d @ cdf), 1.0)
        if d.sum() < 1e-17:
            out[n + 1 :] = 1.0
            break
    return out


def _iid_weight_response(model, K: int):
    """(f_lo, f_hi): bounds of F(m) = P[theta <= W_1 + ... + W_m], m = 0..K, iid weights W.

    The weights are binned on the lattice h * j, h = T / LATTICE_MAX: rounded
    down (floor bins, exact bin masses from the cdf) the sums are smaller, so
    F is a lower bound; rounded up, an upper bound.
    """
    T, cdf_fn = _theta_support(model.theta)
    W = model.weights
    if T <= 0:
        ones = np.ones(K + 1)
        return ones, ones
    N0 = LATTICE_MAX
    h = T / N0
    scale = 1.0 / h
    N, cdf = _lattice_cdf(T, scale, cdf_fn) if cdf_fn is not None else (N0, np.zeros(N0))
    grid = np.arange(N + 1) * h

    def below(x):  # P[W < x]
        return _cdf("weights", W, np.nextafter(x, -np.inf))

    def at_most(x):  # P[W <= x]
        return _cdf("weights", W, x)

    lt = below(grid)
    le = at_most(grid)
    law_lo = np.diff(lt)  # P[j h <= W < (j+1) h]
    law_lo[0] += lt[0]  # nothing below 0 for a nonnegative law; keep any round-off mass
    over_lo = 1.0 - lt[N]
    law_hi = np.empty(N)
    law_hi[0] = le[0]  # P[W <= 0]
    law_hi[1:] = np.diff(le[:N])  # P[(j-1) h < W <= j h]
    over_hi = 1.0 - le[N - 1]
    f_lo = _sum_response(law_lo, max(over_lo, 0.0), cdf, K)
    f_hi = _sum_response(law_hi, max(over_hi, 0.0), cdf, K)
    return f_lo, np.maximum(f_hi, f_lo)


def _damage_lattice(theta, E: np.ndarray):
    """The lattice 1/L of the loads 1/k' of damage diversification.

    L = lcm of the degrees in the support when theta * L <= LATTICE_MAX (then
    every load is a lattice point and the result is exact); otherwise the
    largest lcm(1..k0) that fits, so the loads of the small (most frequent)
    degrees stay exact and the others are rounded down and up for bounds.
    """
    T, cdf_fn = _theta_support(theta)
    if T <= 0:  # every node fails without load: no lattice needed
        return T, cdf_fn, 1, True
    support = np.flatnonzero(E[1:]) + 1
    budget = LATTICE_MAX / T
    L = 1
    for k in support.tolist():
        L = math.lcm(L, k)
        if L > budget:
            break
    if L <= budget:
        return T, cdf_fn, L, True
    L = 1
    k0 = 1
    while math.lcm(L, k0 + 1) <= budget:
        k0 += 1
        L = math.lcm(L, k0)
    if L < 2 and budget < 1:  # theta beyond LATTICE_MAX: a non-integer scale
        return T, cdf_fn, budget, False
    return T, cdf_fn, L, False


def _damage_shifts(L, K: int, rounding: str) -> np.ndarray:
    """Lattice position of the load 1/k', k' = 1..K (index 0 unused)."""
    kp = np.arange(1, K + 1)
    if isinstance(L, int):
        lo = L // kp
        if rounding == "floor" or rounding == "exact":
            s = lo
        else:
            s = lo + (L % kp != 0)
    else:
        x = L / kp
        s = np.floor(x - 1e-9) if rounding == "floor" else np.ceil(x + 1e-9)
    out = np.zeros(K + 1, dtype=np.int64)
    out[1:] = s
    return out


def _damage_run(model, P, E, K, rho0, tol, max_iter, record, rounding):
    """The degree-resolved LTA of damage diversification (see final_size, Notes).

    State: a_k = probability that a node of degree k reached along an edge is
    active, computed without that edge. A failing child of degree k' loads its
    parent with 1/k', so the load X of one child has atoms 1/k' with mass
    e_k' a_k' and 0 otherwise; a_k <- rho0 + (1 - rho0) P[theta <= X_1 + ... + X_{k-1}].
    """
    T, cdf_fn, L, exact = _damage_lattice(model.theta, E)
    if exact:
        rounding = "exact"
    N, cdf = _lattice_cdf(T, float(L), cdf_fn)
    shifts = _damage_shifts(L, K, rounding)
    kk = np.arange(K + 1)
    live = E > 0
    live[0] = False

    def step(a):
        if N == 0:  # theta <= 0: every node fails without load
            return np.ones(K + 1)
        mass = E * a
        mass[0] = 0.0
        inside = shifts < N
        law = np.zeros(N)
        np.add.at(law, shifts[inside & live], mass[inside & live])
        over = float(mass[~inside & live].sum())
        law[0] += max(0.0, 1.0 - float(mass[live].sum()))  # inactive children load 0
        return _sum_response(law, over, cdf, K)

    a = np.full(K + 1, rho0)
    qs = [float(E @ a)] if record else None
    rhos = [rho0] if record else None
    prev = -1.0
    conv = False
    n = 0
    d = 0.0
    f = step(a)
    while n < max_iter:
        if record:
            rhos.append(rho0 + (1.0 - rho0) * float(P @ f))
        a_new = np.empty(K + 1)
        a_new[0] = rho0
        a_new[1:] = rho0 + (1.0 - rho0) * f[kk[1:] - 1]
        n += 1
        d = float(np.max(np.abs(a_new - a)[live])) if live.any() else 0.0
        a = a_new
        f = step(a)
        if record:
            qs.append(float(E @ a))
        if _k.converged_step(d, prev, tol):
            conv = True
            break
        prev = d
    rho = rho0 + (1.0 - rho0) * float(P @ f)
    if record:
        rhos.append(rho)
    return float(E @ a), rho, n, conv, d, rhos, qs


# ---------------------------------------------------------------------------
# final size
# ---------------------------------------------------------------------------


def _maps(model, P, E, K) -> list[_Maps]:
    """One map, or two (lower and upper bound) for iid random weights."""
    if _is_step_model(model):
        return [_StepMaps(P, E, K, _step_thresholds(model, K))]
    if isinstance(model, IndependentCascade):
        return [_IndependentMaps(P, E, K, float(np.asarray(model.p, dtype=np.float64).ravel()[0]))]
    if _is_load_model(model):  # iid weights (damage is handled by _damage_run)
        f_lo, f_hi = _iid_weight_response(model, K)
        out = [_general_maps(P, E, K, lambda m, k, f=f_lo: f[m])]
        if not np.array_equal(f_lo, f_hi):
            out.append(_general_maps(P, E, K, lambda m, k, f=f_hi: f[m]))
        return out
    return [_general_maps(P, E, K, _response_fn(model))]


def _iterate(maps: _Maps, rho0, tol, max_iter, record):
    """q_{n+1} = rho0 + (1 - rho0) G(q_n) from q_0 = rho0, with the stopping rule of final_size."""
    q = rho0
    qs = [q] if record else None
    rhos = [rho0] if record else None
    prev = -1.0
    conv = False
    n = 0
    d = 0.0
    while n < max_iter:
        if record:
            rhos.append(min(1.0, rho0 + (1.0 - rho0) * maps.h(q)))
        q_new = min(1.0, rho0 + (1.0 - rho0) * maps.g(q))
        n += 1
        d = abs(q_new - q)
        q = q_new
        if record:
            qs.append(q)
        if _k.converged_step(d, prev, tol):
            conv = True
            break
        prev = d
    rho = min(1.0, rho0 + (1.0 - rho0) * maps.h(q))
    if record:
        rhos.append(rho)
    return q, rho, n, conv, d, rhos, qs


def _pad(seqs):
    n = max(len(s) for s in seqs)
    return np.array([list(s) + [s[-1]] * (n - len(s)) for s in seqs])


def _combine(runs, rho0, record, max_iter, what):
    """One FinalSize from one run, or from a lower and an upper bound run (midpoint, half gap)."""
    qs = np.array([r[0] for r in runs])
    rhos = np.array([r[1] for r in runs])
    n_iter = max(r[2] for r in runs)
    conv = all(r[3] for r in runs)
    error = float(rhos.max() - rhos.min()) / 2
    rho_t = q_t = None
    if record:
        R = _pad([r[5] for r in runs])
        Q = _pad([r[6] for r in runs])
        rho_t, q_t = R.mean(axis=0), Q.mean(axis=0)
        error = max(error, float((R.max(axis=0) - R.min(axis=0)).max()) / 2)
    if not conv:
        last = max(r[4] for r in runs)
        warnings.warn(
            f"{what}: no certified convergence after max_iter = {max_iter} iterations "
            f"(last step {last:.3g}); "
            "the parameters may sit at a discontinuous transition, where the iteration slows down without "
            "bound. The result has converged=False; raise max_iter or tol, or move away from the transition",
            ConvergenceWarning,
            stacklevel=3,
        )
    return FinalSize(
        rho=float(rhos.mean()),
        q=float(qs.mean()),
        n_iter=int(n_iter),
        converged=conv,
        seed_fraction=rho0,
        rho_t=_readonly(rho_t),
        q_t=_readonly(q_t),
        error=error,
    )


def final_size(
    model, degrees, seed_fraction=0.0, *, trajectory=False, tol=_DEFAULT_TOL, max_iter=_DEFAULT_MAX_ITER
) -> FinalSize:
    """Final cascade size in the local tree approximation, from a random seed fraction.

    Iterates the recursion of Gleeson & Cahalane (2007), Eqs. (1)-(2),

        q_{n+1} = rho0 + (1 - rho0) sum_k e_k sum_{m=0}^{k-1} Bin(m; k-1, q_n) F(m, k),
        rho     = rho0 + (1 - rho0) sum_k p_k sum_{m=0}^{k}   Bin(m; k,   q)   F(m, k),

    from q_0 = rho0, with e_k = k p_k / z: the sum in the q-equation runs over
    the k - 1 other neighbours of the node at the end of an edge (its parent
    counted inactive), the one in the rho-equation over all k neighbours.

    Parameters
    ----------
    model : CascadeModel
        Any model with a response F(m, k) (``model.has_response``), random
        thresholds included (the model's response integrates them), and
        :class:`~cascades.models.WeightedThreshold` with damage or iid random
        weights, whose F is computed here (Notes).
    degrees : DegreeDistribution
        The degree distribution of the configuration-model graph.
    seed_fraction : float
        rho0 in [0, 1], the fraction of nodes active at step 0 (chosen at random).
    trajectory : bool
        Also return the time course rho_t, q_t (Burkholz & Schweitzer 2018):
        rho_t[t] is the active fraction after t synchronous steps.
    tol : float
        Convergence tolerance on q (Notes), in (0, MAX_TOL] (MAX_TOL = 0.1).
    max_iter : int
        Largest number of iterations.

    Returns
    -------
    FinalSize

    Raises
    ------
    TypeError
        If ``model`` has no response function (:class:`~cascades.models.FiberBundle`,
        or per-node arrays with unequal entries), or ``degrees`` is not a
        degree distribution.
    ValueError
        If ``seed_fraction`` is outside [0, 1], the mean degree is 0 or
        infinite, or ``tol``/``max_iter`` are out of range; a
        :class:`cascades.MemoryLimitError` (a ValueError) if the degree table
        or, for a response that is no step with K > DENSE_MAX, its binomial
        bands (about K^1.5 points) would not fit in memory.

    Warns
    -----
    ConvergenceWarning
        When the stopping rule is not met within ``max_iter`` iterations (then
        ``converged`` is False).

    Notes
    -----
    *The fixed point.* The result is the limit of the iteration from
    q_0 = rho0, not an arbitrary root: for monotone models the q_n increase to
    the smallest fixed point above rho0. Near a discontinuous transition that
    limit jumps, and the iteration slows down without bound. The iteration
    stops when the step d_n = |q_{n+1} - q_n| is below ``tol`` *and* the
    contraction estimate r = d_n / d_{n-1} < 1 bounds the remaining distance
    to the fixed point, d_n r / (1 - r), below ``tol`` too (or when the step is
    at the rounding level, 16 ulp). Otherwise it runs to ``max_iter`` and
    reports ``converged=False`` with a :class:`ConvergenceWarning`, never
    silently.

    *Time course.* Seeds are active at step 0 and a node that activates by
    itself (F(0, k) > 0) does so at step 1, as in the simulators. In
    synchronous dynamics on a tree, q_t is the probability that a neighbour
    is active after step t when computed without the focal node, and the
    focal node is active after step t + 1 with probability
    rho0 + (1 - rho0) sum_k p_k sum_m Bin(m; k, q_t) F(m, k), so
    rho_t[0] = rho0 and rho_t[t + 1] is the rho-map at q_t. This is the
    recursion read in time (Burkholz & Schweitzer 2018).

    *Algorithms and cost per iteration* (K = the end of the degree table):

    * integer thresholds (:class:`~cascades.models.FractionalThreshold` and
      exposure-weighted :class:`~cascades.models.WeightedThreshold` with a
      number, :class:`~cascades.models.AbsoluteThreshold`):
      sum_{m >= M_k} Bin(m; n, q) is the regularized incomplete beta function
      I_q(M_k, n - M_k + 1) (``scipy.special.betainc``): O(K), stable for
      K up to 10^7. The M_k come from the model's own response by bisection.
    * independent cascade: sum_m Bin(m; n, q) (1 - (1-p)^m) = 1 - (1 - p q)^n,
      in closed form, O(K).
    * any other response (random thresholds, iid weights): a dense table
      F[k, m] and Pascal's rule for the binomial rows, O(K^2), for
      K <= DENSE_MAX = 512; beyond, each row Bin(.; n, q) is evaluated only on
      the band nq +- t where Bernstein's inequality leaves out less than 1e-17
      of its mass, with a ratio recurrence normalised by the band's sum, so the
      cost is O(sum_n sqrt(n q (1 - q)) + K), not O(K^2).

    *Random edge weights* (``WeightedThreshold(theta, distribution)``):
    F(m, k) = P[theta <= W_1 + ... + W_m] (+ 1e-12, the simulator's round-off
    allowance), the m-fold convolution of the weight law, computed on a
    lattice of LATTICE_MAX = 2^15 points below theta (truncated FFT
    convolution powers, with the mass beyond theta absorbed). Weights binned
    down give a lower bound of F and binned up an upper bound; the LTA is
    monotone in F, so the two solutions bracket the exact one. ``rho`` is
    their midpoint and ``error`` half their gap.

    *Damage diversification* (``WeightedThreshold(theta, "damage")``): a
    failing neighbour of degree k' adds the load 1/k' (Burkholz, Garas &
    Schweitzer 2016). A first guess would be
    F(m, k) = P[sum of m iid 1/K' >= theta] with K' ~ k' p_k' / z. That
    neglects that whether a neighbour has failed depends on its degree (in
    this model high-degree nodes fail more easily, so failed neighbours are
    biased towards high degree and small loads); the paper computes failure
    probabilities conditional on the degree. This solver does the same, which
    is what the tree approximation gives: it iterates a degree-resolved vector
    a_k (the probability that a node of degree k at the end of an edge is
    active), the load of one child being 1/k' with probability e_k' a_k',

        a_k <- rho0 + (1 - rho0) P[theta <= X_1 + ... + X_{k-1}],
        rho  = rho0 + (1 - rho0) sum_k p_k P[theta <= X_1 + ... + X_k],

    and reports q = sum_k e_k a_k. The sums of loads live on the lattice
    1/L, L = lcm of the degrees in the support when it fits in LATTICE_MAX
    points below theta (exact), else the largest lcm(1..k0) that fits (small
    degrees exact, the rest rounded down and up for bounds, as above).
    ``tests/test_theory_vs_simulation.py`` compares both forms with
    simulation; the degree-resolved one agrees, the iid-1/K' one does not.

    The accuracy is limited by the degree table's left-out tail
    (:data:`cascades.degrees.TAIL_TOL`), by ``tol``, and for summed loads by
    ``error``. The equation numbers of Gleeson & Cahalane (2007) and of
    Burkholz et al. could not be checked against the papers' text here.
    ``theory/tree_fixed_point.py`` derives exact fixed points and
    trajectories (regular graphs with absolute thresholds, the independent
    cascade on Erdos-Renyi graphs) that the tests compare with this function.

    References
    ----------
    J. P. Gleeson and D. J. Cahalane, Phys. Rev. E 75, 056103 (2007), Eqs. (1)-(2).
    R. Burkholz and F. Schweitzer, Phys. Rev. E 97, 042312 (2018).
    R. Burkholz, A. Garas and F. Schweitzer, Phys. Rev. E 93, 042313 (2016).

    Examples
    --------
    Watts' model on an Erdos-Renyi graph with z = 4 and phi = 0.18, 1% seeds:
    a global cascade.

    >>> from cascades.degrees import Poisson
    >>> from cascades.models import FractionalThreshold
    >>> r = final_size(FractionalThreshold(0.18), Poisson(4.0), 0.01)
    >>> round(r.rho, 6), r.converged
    (0.980388, True)

    At z = 12 the same seeds stay small (at z = 8 they would still cascade:
    the finite seed widens the window beyond z = 5.76); the time course
    starts at the seeds and ends at rho:

    >>> r = final_size(FractionalThreshold(0.18), Poisson(12.0), 0.01, trajectory=True)
    >>> round(r.rho, 4), float(r.rho_t[0]), bool(r.rho_t[-1] == r.rho)
    (0.0137, 0.01, True)
    """
    model = _check_model(model, "final_size")
    degrees = _check_degrees(degrees, "final_size")
    rho0 = _check_seed_fraction(seed_fraction)
    if not isinstance(trajectory, (bool, np.bool_)):
        raise ValueError(f"trajectory must be True or False, got {trajectory!r}")
    tol = _check_tol(tol)
    max_iter = _check_max_iter(max_iter)
    P, E, K = _tables(degrees)
    record = bool(trajectory)
    if _is_damage(model):
        roundings = ["floor"]
        if not _damage_lattice(model.theta, E)[3]:
            roundings.append("ceil")
        runs = [_damage_run(model, P, E, K, rho0, tol, max_iter, record, r) for r in roundings]
    else:
        runs = [_iterate(m, rho0, tol, max_iter, record) for m in _maps(model, P, E, K)]
    return _combine(runs, rho0, record, max_iter, "final_size")


def final_size_from_graph(
    graph, model, seed_fraction=0.0, *, trajectory=False, tol=_DEFAULT_TOL, max_iter=_DEFAULT_MAX_ITER
) -> FinalSize:
    """:func:`final_size` with the empirical degree distribution of an undirected graph.

    The graph enters only through its degree sequence: the result is the
    configuration-model prediction for graphs with these degrees.

    Raises
    ------
    TypeError
        If ``graph`` is not a :class:`~cascades.graphs.Graph` (and as :func:`final_size`).
    ValueError
        If the graph is directed or empty (and as :func:`final_size`).

    Examples
    --------
    >>> from cascades.graphs import erdos_renyi
    >>> from cascades.models import FractionalThreshold
    >>> g = erdos_renyi(10**4, 4.0, rng=0)
    >>> r = final_size_from_graph(g, FractionalThreshold(0.18), 0.01)
    >>> bool(0.97 < r.rho < 0.99)
    True
    """
    degrees = _graph_degrees(graph, "final_size")
    return final_size(model, degrees, seed_fraction, trajectory=trajectory, tol=tol, max_iter=max_iter)


# ---------------------------------------------------------------------------
# cascade condition, global cascade probability, giant component
# ---------------------------------------------------------------------------


def _columns(model, K: int):
    """(F0, F1, F2): F(m, k) for m = 0, 1, 2 and k = 0..K (0 where m > k).

    For iid random weights F depends on m only and is the midpoint of the
    lattice bounds (their half gap is returned as the fourth value).
    """
    k = np.arange(K + 1)
    cols = []
    err = 0.0
    if _is_load_model(model):  # iid weights
        f_lo, f_hi = _iid_weight_response(model, min(K, 2) if K >= 2 else K)
        f = (f_lo + f_hi) / 2
        err = float((f_hi - f_lo).max()) / 2
        for m in range(3):
            col = np.zeros(K + 1)
            if m < f.size:
                col[m:] = f[m]
            cols.append(col)
        return cols[0], cols[1], cols[2], err
    for m in range(3):
        col = np.zeros(K + 1)
        ok = k >= m
        if ok.any():
            col[ok] = np.asarray(model.response(np.full(int(ok.sum()), m), k[ok]), dtype=np.float64)
        cols.append(col)
    return cols[0], cols[1], cols[2], err


def _damage_transmission(theta, K: int) -> np.ndarray:
    """T_k = P[theta <= 1/k + 1e-12]: the probability that a failing node of degree k topples a neighbour."""
    k = np.arange(K + 1, dtype=np.float64)
    inv = np.zeros(K + 1)
    inv[1:] = 1.0 / k[1:]
    T, cdf_fn = _theta_support(theta)
    if cdf_fn is None:
        out = (inv >= T - _LOAD_TOL).astype(np.float64)
    else:
        out = cdf_fn(inv + _LOAD_TOL)
    out[0] = 0.0
    return out


def _coefficients(model, E, K):
    """(c0, c1, c2, F1 or None, T or None) of the q-map (see CascadeCondition)."""
    k = np.arange(K + 1, dtype=np.float64)
    if _is_damage(model):
        T = _damage_transmission(model.theta, K)
        theta0 = _damage_transmission_zero(model.theta)
        return theta0 * float(E[1:].sum()), float(E @ ((k - 1).clip(0) * T)), math.nan, None, T
    F0, F1, F2, _ = _columns(model, K)
    km1 = (k - 1).clip(0)
    c0 = float(E @ F0)
    c1 = float(E @ (km1 * (F1 - F0)))
    c2 = float(E @ (km1 * (km1 - 1).clip(0) / 2 * (F2 - 2 * F1 + F0)))
    return c0, c1, c2, F1, None


def _damage_transmission_zero(theta) -> float:
    """P[theta <= 0]: the probability that a node fails without load."""
    T, cdf_fn = _theta_support(theta)
    if cdf_fn is None:
        return 1.0 if T <= _LOAD_TOL else 0.0
    return float(cdf_fn(np.array([_LOAD_TOL]))[0])


def cascade_condition(model, degrees, *, seed_fraction=0.0) -> CascadeCondition:
    """Watts' cascade condition C1 > 1 and the second-order coefficient C2.

    With e_k = k p_k / z,

        C1 = sum_k e_k (k - 1) [F(1, k) - F(0, k)],
        C2 = sum_k e_k (k-1)(k-2)/2 [F(2, k) - 2 F(1, k) + F(0, k)],

    the first two Taylor coefficients at q = 0 of the map of
    :func:`final_size`. For F(0, k) = 0 they are Watts' (2002)
    C1 = sum_k k (k-1) p_k F(1, k) / z (global cascades from a single seed are
    possible iff C1 > 1) and C2 = sum_k e_k (k-1)(k-2) [F(2, k)/2 - F(1, k)]
    (Watts 2002; Gleeson & Cahalane 2007).

    Parameters
    ----------
    model : CascadeModel
        As in :func:`final_size`.
    degrees : DegreeDistribution
    seed_fraction : float, keyword-only
        rho0 for the quadratic finite-seed criterion ``seeded_cascade``.

    Returns
    -------
    CascadeCondition

    Raises
    ------
    TypeError, ValueError
        As :func:`final_size`.

    Notes
    -----
    For an Erdos-Renyi graph and a homogeneous threshold phi (">="),
    F(1, k) = 1[k <= K*] with K* = floor(1/phi), and
    C1 = z Q(K* - 1, z) = z P[Poisson(z) <= K* - 2], so the window depends on
    phi only through K* (a staircase). ``theory/watts_condition.py`` derives
    this and C2 with sympy; for phi = 0.18 (K* = 5) the window is
    1.0207 < z < 5.7647.

    Damage diversification: one failing node of degree k topples a neighbour
    with probability T_k = P[theta <= 1/k], so C1 = sum_k e_k (k-1) T_k (the
    linearisation of the degree-resolved map of :func:`final_size` is rank one
    with this eigenvalue); ``c2`` is NaN there.

    References
    ----------
    D. J. Watts, PNAS 99, 5766 (2002), the cascade condition.
    J. P. Gleeson and D. J. Cahalane, Phys. Rev. E 75, 056103 (2007), the
    expansion of the map and the finite-seed criterion.

    Examples
    --------
    >>> from cascades.degrees import Poisson
    >>> from cascades.models import FractionalThreshold
    >>> c = cascade_condition(FractionalThreshold(0.18), Poisson(4.0))
    >>> round(c.c1, 6), c.cascades  # C1 = 4 P[Poisson(4) <= 3]
    (1.73388, True)
    >>> cascade_condition(FractionalThreshold(0.18), Poisson(6.0)).cascades
    False
    """
    model = _check_model(model, "cascade_condition")
    degrees = _check_degrees(degrees, "cascade_condition")
    rho0 = _check_seed_fraction(seed_fraction)
    P, E, K = _tables(degrees)
    c0, c1, c2, _, _ = _coefficients(model, E, K)
    a0 = rho0 + (1 - rho0) * c0
    a1 = (1 - rho0) * c1
    a2 = (1 - rho0) * c2
    seeded = bool(a1 > 1 or (a0 > 0 and (1 - a1) ** 2 < 4 * a0 * a2))
    return CascadeCondition(
        c0=c0, c1=c1, c2=c2, cascades=bool(c1 > 1), seed_fraction=rho0, seeded_cascade=seeded
    )


def cascade_condition_from_graph(graph, model, *, seed_fraction=0.0) -> CascadeCondition:
    """:func:`cascade_condition` with the empirical degree distribution of an undirected graph."""
    degrees = _graph_degrees(graph, "cascade_condition")
    return cascade_condition(model, degrees, seed_fraction=seed_fraction)


def _percolation(E, K, edge_factor, spread_factor):
    """Largest root y in [0, 1] of y = sum_k E_k a_k (1 - (1 - b_k y)^(k-1)).

    The right side is concave in y and 0 at y = 0, so a root y > 0 exists iff
    its slope at 0, sum_k E_k a_k b_k (k - 1), exceeds 1, and then it is
    unique: bracketed and found by Brent's method on (rhs/y - 1), which is
    decreasing, to relative accuracy 4 ulp.
    """
    k = np.arange(K + 1, dtype=np.float64)
    w = E * edge_factor
    live = w > 0
    w, b, km1 = w[live], spread_factor[live], (k - 1)[live]
    slope = float(w @ (b * km1))
    if slope <= 1.0:
        return 0.0, slope

    def rhs_over_y(y):
        x = b * y
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(
                x >= 1.0, (km1 > 0).astype(np.float64), -np.expm1(km1 * np.log1p(-np.minimum(x, 1.0)))
            )
        t = np.where(km1 == 0, 0.0, t)
        return float(w @ t) / y - 1.0

    if rhs_over_y(1.0) >= 0.0:
        return 1.0, slope
    y = optimize.brentq(rhs_over_y, 1e-300, 1.0, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    return float(y), slope


def _one_minus_power_sum(P, K, b, y):
    """sum_k P_k (1 - b_k y)^k."""
    k = np.arange(K + 1, dtype=np.float64)
    x = np.minimum(b * y, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(x >= 1.0, (k == 0).astype(np.float64), np.exp(k * np.log1p(-x)))
    return float(P @ t)


def global_cascade_probability(model, degrees) -> GlobalCascadeProbability:
    """Probability that one random seed triggers a global cascade (extended vulnerable cluster).

    A node is vulnerable when one active neighbour suffices, with
    probability F(1, k). With v the probability that an edge from an active
    node leads into an infinite vulnerable subtree,

        v = sum_k e_k F(1, k) (1 - (1 - v)^(k-1)),     P_global = 1 - sum_k p_k (1 - v)^k,

    (largest root v; Watts 2002, Gleeson & Cahalane 2007): the seed triggers a global cascade
    iff one of its neighbours leads into the giant vulnerable cluster
    (Watts 2002; Gleeson & Cahalane 2007). P_global > 0 iff C1 > 1.

    Parameters
    ----------
    model : CascadeModel
        As in :func:`final_size`.
    degrees : DegreeDistribution

    Returns
    -------
    GlobalCascadeProbability

    Raises
    ------
    TypeError, ValueError
        As :func:`final_size`.

    Notes
    -----
    The equation is site percolation with occupation probability F(1, k)
    (bond percolation for the independent cascade and iid weights, where
    F(1, k) = p resp. P[theta <= W]: the same equation). Models with
    F(0, k) > 0 start cascades without seeds; the result ignores that.

    Damage diversification: whether a failing node topples a neighbour
    depends on the failing node's degree (T_k = P[theta <= 1/k]), so
    y = sum_k e_k (1 - (1 - T_k y)^(k-1)) and P_global = 1 - sum_k p_k (1 - T_k y)^k,
    with y the probability that a node at the end of an edge, once failed,
    starts an infinite chain of single-neighbour failures;
    ``vulnerable_fraction`` is NaN there.

    For an Erdos-Renyi graph and a homogeneous threshold the equation has the
    closed form v = Q(K*, z) - e^{-z v} Q(K*, z(1 - v)) and P_global = 1 - e^{-z v}
    (Q the regularized upper incomplete gamma function), derived in
    ``theory/vulnerable_cluster.py``.

    References
    ----------
    D. J. Watts, PNAS 99, 5766 (2002).
    J. P. Gleeson and D. J. Cahalane, Phys. Rev. E 75, 056103 (2007).

    Examples
    --------
    >>> from cascades.degrees import Poisson
    >>> from cascades.models import FractionalThreshold
    >>> r = global_cascade_probability(FractionalThreshold(0.18), Poisson(4.0))
    >>> round(r.probability, 6), round(r.vulnerable_fraction, 6)
    (0.865296, 0.652635)
    >>> global_cascade_probability(FractionalThreshold(0.18), Poisson(6.0)).probability
    0.0
    """
    model = _check_model(model, "global_cascade_probability")
    degrees = _check_degrees(degrees, "global_cascade_probability")
    P, E, K = _tables(degrees, _PERCOLATION_TAIL)
    _, c1, _, F1, T = _coefficients(model, E, K)
    if T is not None:  # damage diversification
        y, slope = _percolation(E, K, np.ones(K + 1), T)
        prob = 1.0 - _one_minus_power_sum(P, K, T, y) if y > 0 else 0.0
        return GlobalCascadeProbability(probability=max(prob, 0.0), v=y, vulnerable_fraction=math.nan, c1=c1)
    ones = np.ones(K + 1)
    v, slope = _percolation(E, K, F1, ones)
    prob = 1.0 - _one_minus_power_sum(P, K, ones, v) if v > 0 else 0.0
    k = np.arange(K + 1, dtype=np.float64)
    if v > 0:
        reach = -np.expm1(k * np.log1p(-v)) if v < 1 else (k > 0).astype(np.float64)
    else:
        reach = np.zeros(K + 1)
    vulnerable = float(P @ (F1 * reach))
    return GlobalCascadeProbability(probability=max(prob, 0.0), v=v, vulnerable_fraction=vulnerable, c1=c1)


def global_cascade_probability_from_graph(graph, model) -> GlobalCascadeProbability:
    """:func:`global_cascade_probability` with the empirical degree distribution of an undirected graph."""
    degrees = _graph_degrees(graph, "global_cascade_probability")
    return global_cascade_probability(model, degrees)


def giant_component(degrees) -> GiantComponent:
    """Giant component of a configuration-model graph: u = G1(u), S = 1 - G0(u).

    u is the smallest root in [0, 1] (Newman, Strogatz & Watts 2001). It is
    computed as v = 1 - u, the largest root of v = sum_k e_k (1 - (1 - v)^(k-1))
    (percolation with every node occupied), with the terms evaluated as
    -expm1((k-1) log1p(-v)) so that S keeps its relative accuracy just above
    the threshold <k(k-1)>/<k> = 1; the degree table leaves out a tail of at
    most 1e-16 where that is cheap (else TAIL_TOL), which bounds the relative
    accuracy of S by about that tail / (<k(k-1)>/<k> - 1).

    Parameters
    ----------
    degrees : DegreeDistribution

    Returns
    -------
    GiantComponent

    Raises
    ------
    TypeError
        If ``degrees`` is not a degree distribution.
    ValueError
        If the mean degree is 0 or infinite.

    Notes
    -----
    For Erdos-Renyi graphs S = 1 + W(-z e^{-z})/z, derived in
    ``theory/giant_component.py`` and compared in the tests.

    References
    ----------
    M. E. J. Newman, S. H. Strogatz and D. J. Watts, Phys. Rev. E 64, 026118
    (2001), Sec. II (u = G1(u), S = 1 - G0(u); equation numbers not checked here).

    Examples
    --------
    >>> from cascades.degrees import Poisson, Regular
    >>> round(giant_component(Poisson(2.0)).size, 12)
    0.79681213002
    >>> giant_component(Regular(3)).size
    1.0
    """
    degrees = _check_degrees(degrees, "giant_component")
    P, E, K = _tables(degrees, _PERCOLATION_TAIL)
    ones = np.ones(K + 1)
    v, slope = _percolation(E, K, ones, ones)
    size = 1.0 - _one_minus_power_sum(P, K, ones, v) if v > 0 else 0.0
    return GiantComponent(size=max(size, 0.0), u=1.0 - v, mean_excess=slope)


def giant_component_from_graph(graph) -> GiantComponent:
    """:func:`giant_component` with the empirical degree distribution of an undirected graph.

    This is the configuration-model prediction for the graph's degree
    sequence, not the graph's own largest component.
    """
    degrees = _graph_degrees(graph, "giant_component")
    return giant_component(degrees)


# ---------------------------------------------------------------------------
# cascade window
# ---------------------------------------------------------------------------

# Entries of the (n_phi, K + 1, K + 1) response tables handed to the window kernel at once.
_WINDOW_CHUNK = 4_000_000

# Bytes per grid point of cascade_window: c1, c2, the final sizes, q and the iteration counts, the flags.
_WINDOW_POINT_BYTES = 56


def _axis(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-dimensional array of numbers, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers")
    out = arr.copy()
    out.setflags(write=False)
    return out


def _window_table(model, K: int) -> np.ndarray:
    """Dense F[k, m] of one model for the window kernel."""
    if _is_step_model(model):
        M = _step_thresholds(model, K)
        m = np.arange(K + 1)
        return (m[None, :] >= M[:, None]).astype(np.float64)
    if isinstance(model, IndependentCascade):
        p = float(np.asarray(model.p, dtype=np.float64).ravel()[0])
        m = np.arange(K + 1, dtype=np.float64)
        row = -np.expm1(m * math.log1p(-p)) if p < 1 else (m > 0).astype(np.float64)
        return np.tril(np.broadcast_to(row, (K + 1, K + 1)))
    return _dense_table(_response_fn(model), K)


def cascade_window(
    z,
    phi,
    *,
    degrees=Poisson,
    model=FractionalThreshold,
    seed_fraction=0.0,
    strict=False,
    size_threshold=0.05,
    tol=1e-10,
    max_iter=_DEFAULT_MAX_ITER,
) -> CascadeWindow:
    """The region of a (z, phi) parameter plane where global cascades occur.

    For every grid point, ``degrees(z)`` gives the degree distribution and
    ``model(phi)`` the cascade model (by default an Erdos-Renyi graph of mean
    degree z and Watts' threshold phi). The window for rho0 -> 0 is Watts'
    condition C1 > 1 (:func:`cascade_condition`); for a finite seed fraction
    it is where the fixed point of :func:`final_size` reached from rho0 lies
    above ``size_threshold`` (the jump of the fixed point).

    Parameters
    ----------
    z : array_like
        1-d grid of the degree parameter (the mean degree for the default).
    phi : array_like
        1-d grid of the model parameter (the threshold for the default).
    degrees : callable, keyword-only
        z -> DegreeDistribution (default :class:`~cascades.degrees.Poisson`).
    model : callable, keyword-only
        phi -> CascadeModel (default :class:`~cascades.models.FractionalThreshold`,
        called as ``FractionalThreshold(phi, strict=strict)``).
    seed_fraction : float, keyword-only
        rho0 for the finite-seed window; 0 (default) computes only C1 and C2.
    strict : bool, keyword-only
        The strict rule m/k > phi of the default model (an error with another ``model``).
    size_threshold : float, keyword-only
        Final size above which a finite-seed cascade counts as global, in
        [0, 1) (default 0.05, as ``cascades.simulation.global_cascade_frequency``).
    tol, max_iter : keyword-only
        As in :func:`final_size` (``tol`` defaults to 1e-10 here).

    Returns
    -------
    CascadeWindow

    Raises
    ------
    ValueError
        For empty or non-finite axes, ``strict=True`` with a custom ``model``,
        out-of-range ``seed_fraction``, ``size_threshold``, ``tol``, ``max_iter``;
        :class:`cascades.MemoryLimitError` if the grid's arrays would not fit in memory.
    TypeError
        If ``degrees`` or ``model`` do not return a degree distribution / a
        model with a response function.

    Warns
    -----
    ConvergenceWarning
        If some finite-seed iterations did not converge (see ``converged``).

    Notes
    -----
    Vectorised: the degree tables of all z and the dense response tables
    F[k, m] of all phi are built once; C1 and C2 are matrix products, and the
    finite-seed fixed points run in one compiled kernel over the grid (Pascal
    rows, O(K^2) per iteration and point, the stopping rule of
    :func:`final_size`). Damage and iid-weight models, and degree tables
    longer than DENSE_MAX = 512, fall back to one :func:`final_size` and
    :func:`cascade_condition` call per point.

    For Erdos-Renyi graphs and a homogeneous threshold, C1 = z P[Poisson(z) <= K* - 2]
    depends on phi only through K* = floor(1/phi) (ceil(1/phi) - 1 for the
    strict rule), so the boundary is a staircase; ``theory/watts_condition.py``
    derives it. A finite seed moves the upper boundary to larger z and makes
    it a jump (Gleeson & Cahalane 2007).

    References
    ----------
    D. J. Watts, PNAS 99, 5766 (2002), Fig. 1.
    J. P. Gleeson and D. J. Cahalane, Phys. Rev. E 75, 056103 (2007).

    Examples
    --------
    >>> import numpy as np
    >>> w = cascade_window(np.linspace(0.5, 8, 16), [0.18, 0.19])
    >>> w.z[w.cascades[:, 0]].min(), w.z[w.cascades[:, 0]].max()
    (np.float64(1.5), np.float64(5.5))
    >>> bool((w.cascades[:, 0] == w.cascades[:, 1]).all())  # floor(1/phi) = 5 for both
    True
    >>> w = cascade_window([6.0, 8.0, 12.0], [0.18], seed_fraction=0.01)
    >>> w.cascades[:, 0], w.global_cascades[:, 0]
    (array([False, False, False]), array([ True,  True, False]))
    """
    zs = _axis("z", z)
    phis = _axis("phi", phi)
    grid = f"the grid of len(z) x len(phi) = {zs.size} x {phis.size} points"
    check_memory(_WINDOW_POINT_BYTES * zs.size * phis.size, parameter=grid, what="the result arrays")
    rho0 = _check_seed_fraction(seed_fraction)
    threshold = check_real("size_threshold", size_threshold, low=0.0, high=1.0, high_open=True)
    tol = _check_tol(tol)
    max_iter = _check_max_iter(max_iter)
    if not isinstance(strict, (bool, np.bool_)):
        raise ValueError(f"strict must be True or False, got {strict!r}")
    if model is FractionalThreshold:
        models = [FractionalThreshold(float(x), strict=bool(strict)) for x in phis]
    else:
        if strict:
            raise ValueError(
                "strict=True applies to the default model only; build the strict rule into `model`"
            )
        models = [model(float(x)) for x in phis]
    models = [_check_model(m, "cascade_window") for m in models]
    dists = [_check_degrees(degrees(float(x)), "cascade_window") for x in zs]
    tables = [_tables(d) for d in dists]
    Kmax = max(t[2] for t in tables)
    nz, nphi = zs.size, phis.size
    check_memory(
        _WINDOW_POINT_BYTES * nz * nphi + 3 * 8 * nz * (Kmax + 1) + 16 * _WINDOW_CHUNK,
        parameter=f"{grid}, degree tables up to K = {Kmax}",
        what="the result arrays, the padded degree tables and a chunk of response tables",
    )
    P = np.zeros((nz, Kmax + 1))
    E = np.zeros((nz, Kmax + 1))
    Ks = np.empty(nz, dtype=np.int64)
    for i, (Pi, Ei, Ki) in enumerate(tables):
        P[i, : Ki + 1] = Pi
        E[i, : Ki + 1] = Ei
        Ks[i] = Ki

    c1 = np.empty((nz, nphi))
    c2 = np.empty((nz, nphi))
    k = np.arange(Kmax + 1, dtype=np.float64)
    km1 = (k - 1).clip(0)
    # damage / iid weights, and degree tables too long for dense response tables: one solve per point
    load = [j for j, m in enumerate(models) if _is_load_model(m) or Kmax > DENSE_MAX]
    plain = [j for j in range(nphi) if j not in set(load)]
    for j in load:
        for i in range(nz):
            c = cascade_condition(models[j], dists[i])
            c1[i, j], c2[i, j] = c.c1, c.c2
    cols = []
    for j in plain:
        F0, F1, F2, _ = _columns(models[j], Kmax)
        cols.append((F1 - F0, (F2 - 2 * F1 + F0)))
    if plain:
        D1 = np.stack([c[0] for c in cols], axis=1)
        D2 = np.stack([c[1] for c in cols], axis=1)
        c1[:, plain] = (E * km1) @ D1
        c2[:, plain] = (E * km1 * (km1 - 1).clip(0) / 2) @ D2

    final = glob = conv = n_iter = None
    if rho0 > 0:
        final = np.empty((nz, nphi))
        q = np.empty((nz, nphi))
        conv = np.zeros((nz, nphi), dtype=bool)
        n_iter = np.zeros((nz, nphi), dtype=np.int64)
        chunk = max(1, _WINDOW_CHUNK // (Kmax + 1) ** 2)
        for s in range(0, len(plain), chunk):
            idx = plain[s : s + chunk]
            F = np.stack([_window_table(models[j], Kmax) for j in idx])
            qo = np.empty((nz, len(idx)))
            ro = np.empty((nz, len(idx)))
            no = np.empty((nz, len(idx)), dtype=np.int64)
            co = np.empty((nz, len(idx)), dtype=np.bool_)
            _k.window_solve(E, P, Ks, F, rho0, tol, max_iter, qo, ro, no, co)
            q[:, idx], final[:, idx], n_iter[:, idx], conv[:, idx] = qo, ro, no, co
        for j in load:
            for i in range(nz):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    r = final_size(models[j], dists[i], rho0, tol=tol, max_iter=max_iter)
                final[i, j], conv[i, j], n_iter[i, j] = r.rho, r.converged, r.n_iter
        glob = final > threshold
        if not conv.all():
            warnings.warn(
                f"cascade_window: {int((~conv).sum())} of {conv.size} finite-seed iterations "
                "did not converge "
                f"within max_iter = {max_iter} (see .converged); they sit at or next to the jump",
                ConvergenceWarning,
                stacklevel=2,
            )
    return CascadeWindow(
        z=zs,
        phi=phis,
        c1=_readonly(c1),
        c2=_readonly(c2),
        cascades=_ro_bool(c1 > 1),
        seed_fraction=rho0,
        final_size=_readonly(final),
        global_cascades=_ro_bool(glob),
        size_threshold=threshold,
        converged=_ro_bool(conv),
        n_iter=None if n_iter is None else _ro_int(n_iter),
    )


def _ro_bool(a):
    if a is None:
        return None
    a = np.asarray(a, dtype=bool)
    a.setflags(write=False)
    return a


def _ro_int(a):
    a = np.asarray(a, dtype=np.int64)
    a.setflags(write=False)
    return a
