"""Message passing on a given graph, and cascades on degree-correlated and modular networks.

Three analytic solvers for the expected final size of a cascade started from
a random seed fraction rho0 (every node a seed independently with
probability rho0), for any model with a response function F(m, k)
(:mod:`cascades.models`):

:func:`message_passing`
    Edge messages on one given graph (Shrestha & Moore 2014; Gleeson &
    Porter 2017; Melnik et al. 2011). Exact on trees and forests, accurate on
    sparse, locally tree-like graphs. :func:`message_passing_condition` is its
    cascade condition: the spectral radius of the non-backtracking matrix
    weighted by the response slopes.
:func:`final_size_correlated`
    Random graphs with degree-degree correlations, given by the joint degree
    distribution of the edge ends (:class:`DegreeCorrelation`), one q per
    degree class (Gleeson 2008).
:func:`final_size_modular`
    Modular random graphs (:class:`ModularNetwork`): modules with their own
    degree distributions and a mixing matrix, one q per module (Gleeson 2008).

Conventions
-----------
* Activity spreads along CSR rows, as in :mod:`cascades.simulation`: row j lists
  the nodes that j influences, and k_i is the in-degree of i (the degree on
  undirected graphs).
* Seeds are active at step 0; the recursions are iterated synchronously from
  q = rho0, and iteration t is read as synchronous time: ``trajectory[t]`` is
  the expected active fraction after step t (``trajectory[0] = rho0``), the
  quantity :func:`cascades.simulation.simulate` records with
  ``record_steps=True, dynamics="sync"`` (exact on trees). A node that
  activates by itself (F(0, k) > 0) does so at step 1.
* Convergence: the iteration stops when the estimated distance to the limit,
  from the last change d_t and the contraction rate r = d_t / d_{t-1},
  d_t r / (1 - r), is at most ``tol`` (or nothing changed any more). The
  results say whether that happened (``converged``); when ``max_iter`` runs
  out first, a :class:`cascades.meanfield.ConvergenceWarning` (a
  ``RuntimeWarning``) says so too. For monotone responses the
  iterates increase monotonically from rho0 to the smallest fixed point
  above rho0 (the one the cascade reaches, not just any root).
* Models: any :class:`~cascades.models.CascadeModel` with a response.
  :class:`~cascades.models.FiberBundle` (history dependent) and weighted
  thresholds with damage or iid weights have none and are refused with a
  ``ValueError`` that says to simulate them instead.

References
----------
J. P. Gleeson and D. J. Cahalane, "Seed size strongly affects cascades on
random networks", Phys. Rev. E 75, 056103 (2007).
J. P. Gleeson, "Cascades on correlated and modular random networks",
Phys. Rev. E 77, 046117 (2008).
S. Melnik, A. Hackett, M. A. Porter, P. J. Mucha and J. P. Gleeson, "The
unreasonable effectiveness of tree-based theory for networks with
clustering", Phys. Rev. E 83, 036112 (2011).
M. Shrestha and C. Moore, "Message-passing approach for threshold models of
behavior in networks", Phys. Rev. E 89, 022805 (2014).
J. P. Gleeson and M. A. Porter, "Message-passing methods for complex
contagions", in *Complex Spreading Phenomena in Social Systems*, Springer
(2018), arXiv:1703.08046.

The equations are written out in each docstring rather than cited by
number: only the abstracts of these papers could be consulted while this
module was written, so their equation numbers were not checked.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.sparse import linalg as splinalg

from . import _mp_kernels as _k
from ._arrays import readonly as _readonly
from ._memory import check_memory
from ._special import binom_pmf, binom_sf
from ._validation import check_int, check_int_array, check_probability, check_real
from .degrees import PMF_SUM_TOL, TAIL_TOL, DegreeDistribution, Empirical
from .graphs import Graph
from .meanfield import MAX_TOL, ConvergenceWarning
from .models import (
    AbsoluteThreshold,
    CascadeModel,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    WeightedThreshold,
)

__all__ = [
    "MessagePassingResult",
    "message_passing",
    "message_passing_condition",
    "DegreeCorrelation",
    "ModularNetwork",
    "CorrelatedResult",
    "final_size_correlated",
    "final_size_modular",
]

#: Largest scratch (in float64 entries) of the O(k c) leave-one-out scan of one node; nodes
#: needing more use the O(k c log k) divide and conquer, whose memory is O(c log k).
_SCAN_LIMIT = 1 << 22

#: Largest core of the linearised operator whose spectrum is computed densely.
_DENSE_LIMIT = 600

#: Relative accuracy asked of ARPACK for the Perron root.
_ARPACK_TOL = 1e-10

#: Largest degree of a dense degree-correlation matrix (its size is (K + 1)^2).
MAX_CORRELATION_DEGREE = 4096


# ---------------------------------------------------------------------------
# Argument checks shared by the solvers
# ---------------------------------------------------------------------------


def _check_graph(graph) -> Graph:
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a cascades Graph, got {type(graph).__name__}")
    return graph


def _check_iteration(tol, max_iter) -> tuple[float, int]:
    """tol in (0, MAX_TOL] (iterates are probabilities: larger steps are no convergence), max_iter >= 1."""
    tol = check_real("tol", tol, low=0.0, high=MAX_TOL, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    return tol, max_iter


_NO_RESPONSE_HINT = (
    "simulate it instead: cascades.simulate(graph, model, ...) or cascades.simulate_ensemble(...)"
)


def _check_model(model) -> CascadeModel:
    """A model the analytic solvers can take (FiberBundle and non-models are refused)."""
    if not isinstance(model, CascadeModel):
        raise TypeError(f"model must be a cascades CascadeModel, got {type(model).__name__}")
    if isinstance(model, FiberBundle):
        raise ValueError(
            "model: FiberBundle has no analytic solver in cascades. It has no response function "
            "F(m, k) (a failing node passes on all the load it has accumulated, so the outcome is "
            "history dependent), and the load-distribution recursions of Burkholz & Schweitzer "
            "(Phys. Rev. E 97, 042312, 2018) are not implemented; simulate it with "
            "cascades.simulate(graph, model, dynamics='sync')"
        )
    return model


def _response(model, m, k) -> np.ndarray:
    """model.response(m, k) as a checked float64 array; ValueError naming ``model`` otherwise."""
    try:
        values = model.response(m, k)
    except NotImplementedError as err:
        raise ValueError(f"model: {err}; {_NO_RESPONSE_HINT}") from None
    values = np.asarray(values, dtype=np.float64)
    if values.shape != np.shape(m):
        values = np.broadcast_to(values, np.shape(m)).copy()
    if not (np.all(np.isfinite(values)) and values.min(initial=0.0) >= 0 and values.max(initial=0.0) <= 1):
        raise ValueError(f"model: {type(model).__name__}.response returned values outside [0, 1]")
    return values


def _degree_tables(model, degrees: np.ndarray):
    """Response tables of the (distinct, sorted) ``degrees``, cut where F stops changing.

    Returns ``(ftab, foff, cut)``: for degree ``degrees[u]``, F(m, k) is
    ``ftab[foff[u] + min(m, cut[u])]``, with ``cut[u]`` the smallest c such
    that F(m, k) = F(c, k) for all m >= c (the threshold of a threshold
    model, 0 for a constant response).
    """
    degrees = np.asarray(degrees, dtype=np.int64)
    lengths = degrees + 1
    starts = np.cumsum(lengths) - lengths  # (also for no degrees at all: a network without edges)
    m = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(starts, lengths)
    k = np.repeat(degrees, lengths)
    F = _response(model, m, k)
    last = np.repeat(F[starts + degrees], lengths)
    marks = np.where(F != last, m + 1, 0)
    cut = np.maximum.reduceat(marks, starts) if degrees.size else np.zeros(0, dtype=np.int64)
    cut = cut.astype(np.int64)
    keep = cut + 1
    foff = (np.cumsum(keep) - keep).astype(np.int64)
    take = np.repeat(starts, keep) + (np.arange(int(keep.sum())) - np.repeat(foff, keep))
    return np.ascontiguousarray(F[take]), foff, cut


def _per_node_count_model(model) -> bool:
    """True for threshold models with a deterministic per-node parameter array (no response)."""
    if isinstance(model, FractionalThreshold):
        return isinstance(model.phi, np.ndarray)
    if isinstance(model, AbsoluteThreshold):
        return isinstance(model.m, np.ndarray)
    if isinstance(model, WeightedThreshold):
        return (
            isinstance(model.weights, str)
            and model.weights == "exposure"
            and isinstance(model.theta, np.ndarray)
        )
    return False


@dataclass(frozen=True)
class _GraphTables:
    """Per-node response tables and per-entry message weights of a model on a graph."""

    node_cut: np.ndarray  # int64 (n,)
    node_foff: np.ndarray  # int64 (n,)
    ftab: np.ndarray  # float64
    weight: np.ndarray  # float64 (nnz,): the factor of the message carried by each CSR entry

    def slope(self) -> np.ndarray:
        """F(1, k_i) - F(0, k_i) per node (0 for constant responses)."""
        c, fo = self.node_cut, self.node_foff
        return np.where(c > 0, self.ftab[fo + np.minimum(c, 1)] - self.ftab[fo], 0.0)


def _graph_tables(graph: Graph, model) -> _GraphTables:
    """Response tables for ``model`` on ``graph`` (k_i = in-degree); validates the pair."""
    _check_model(model)
    k = graph.in_degrees
    n = graph.n
    src = np.repeat(np.arange(n, dtype=np.int64), graph.degrees)
    loops = src == graph.indices  # a node never counts itself: its self-loop carries no message
    if isinstance(model, IndependentCascade):
        # F(m, k) = 1 - (1 - p)^m is the threshold-1 response of the messages p q (exact: both
        # are 1 - prod(1 - p q)); this also covers a per-edge p.
        rule = model.rule(graph)
        weight = np.array(rule.p_edge, dtype=np.float64)
        ftab = np.array([0.0, 0.0, 1.0])
        node_cut = (k > 0).astype(np.int64)
        node_foff = node_cut.copy()
    elif model.has_response:
        distinct, idx = np.unique(k, return_inverse=True)
        ftab, foff, cut = _degree_tables(model, distinct)
        node_cut, node_foff = cut[idx], foff[idx]
        weight = np.ones(graph.nnz)
    elif _per_node_count_model(model):
        threshold = model.rule(graph).threshold  # deterministic: nothing is drawn
        const = (threshold == 0) | (threshold > k)
        cuts = np.where(const, 0, threshold)
        distinct, idx = np.unique(cuts, return_inverse=True)
        pieces = [np.array([0.0]), np.array([1.0])]  # constants 0 (never) and 1 (by itself)
        offsets, at = [], 2
        for c in distinct:
            offsets.append(at)
            if c > 0:
                pieces.append(np.r_[np.zeros(c), 1.0])
                at += c + 1
        ftab = np.concatenate(pieces)
        node_foff = np.asarray(offsets, dtype=np.int64)[idx]
        node_foff = np.where(const, np.where(threshold == 0, 1, 0), node_foff)
        node_cut = cuts.astype(np.int64)
        weight = np.ones(graph.nnz)
    else:
        _response(model, np.zeros(1, dtype=np.int64), np.ones(1, dtype=np.int64))  # raises the reason
        raise ValueError(  # pragma: no cover - every model without response raises above
            f"model: {type(model).__name__} has no response function F(m, k); {_NO_RESPONSE_HINT}"
        )
    weight[loops] = 0.0
    return _GraphTables(
        node_cut.astype(np.int64), node_foff.astype(np.int64), np.ascontiguousarray(ftab, np.float64), weight
    )


class _Convergence:
    """Stopping rule: estimated distance to the limit d_t r / (1 - r) <= tol, r = d_t / d_{t-1}."""

    def __init__(self, tol: float):
        self.tol = tol
        self.previous = math.inf

    def done(self, change: float) -> bool:
        if change == 0.0:
            return True
        finished = False
        if change <= self.tol and self.previous < math.inf:
            r = change / self.previous
            finished = r < 1.0 and change * r / (1.0 - r) <= self.tol
        self.previous = change
        return finished


def _warn_not_converged(what: str, max_iter: int, change: float) -> None:
    warnings.warn(
        f"{what} did not converge within max_iter = {max_iter} iterations (last change {change:.3g}); "
        "the result holds the last iterate with converged=False: raise max_iter or tol",
        ConvergenceWarning,
        stacklevel=3,
    )


# ---------------------------------------------------------------------------
# Message passing on a given graph
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class MessagePassingResult:
    """Outcome of :func:`message_passing` (arrays are read-only).

    Attributes
    ----------
    node_probabilities : numpy.ndarray
        float64 (n,): probability that each node is active at the end.
    messages : numpy.ndarray
        float64 (nnz,), aligned with the graph's CSR entries: for the entry
        e = (i -> j), the probability that i is active in the graph without j
        (undirected), or that i is active (directed formulation).
    size : float
        Expected final active fraction, the mean of ``node_probabilities``.
    trajectory : numpy.ndarray
        float64 (n_iter + 1,): expected active fraction after synchronous
        step t = 0, ..., n_iter (``trajectory[0]`` is the seed fraction,
        ``trajectory[-1]`` is ``size``).
    n_iter : int
        Number of synchronous updates of the messages.
    converged : bool
        Whether the stopping rule was met before ``max_iter`` ran out.
    residual : float
        Largest change of a message in the last update.
    """

    node_probabilities: np.ndarray
    messages: np.ndarray
    size: float
    trajectory: np.ndarray
    n_iter: int
    converged: bool
    residual: float

    def __repr__(self) -> str:
        return (
            f"MessagePassingResult(n={self.node_probabilities.shape[0]}, size={self.size:.6g}, "
            f"n_iter={self.n_iter}, converged={self.converged})"
        )


def message_passing(graph, model, seed_fraction, *, tol=1e-10, max_iter=10_000) -> MessagePassingResult:
    """Expected final cascade size on a given graph by edge message passing.

    Each CSR entry e = (i -> j) carries a message q_{i->j}, the probability
    that i is active when j is removed from the graph. Synchronously from
    q = rho0,

        q_{i->j} <- rho0 + (1 - rho0) sum_m PB(m; {q_{l->i} : l in N(i), l != j}) F(m, k_i),
        rho_i     = rho0 + (1 - rho0) sum_m PB(m; {q_{l->i} : l in N(i)}) F(m, k_i),

    PB the Poisson-binomial distribution of the number of active neighbours
    (Shrestha & Moore 2014; Gleeson & Porter 2017, message passing on
    specific finite networks; Melnik et al. 2011). On a directed graph node
    i hears its in-neighbours l, whose state does not depend on i when the
    graph has no directed path back from i, so there is no excluded parent
    (see Notes).

    Parameters
    ----------
    graph : Graph
        The network, undirected or directed.
    model : CascadeModel
        A model with a response F(m, k) (``model.has_response``). Threshold
        models with a deterministic per-node threshold array and the
        independent cascade with a per-edge array p are supported too (the
        per-node threshold, or the edge's p, enters the equations directly).
    seed_fraction : float
        rho0 in [0, 1]: each node is a seed independently with this
        probability.
    tol : float, optional
        Stop when the estimated distance of the messages to their limit is at
        most ``tol``, in (0, 0.1] (``cascades.meanfield.MAX_TOL``).
    max_iter : int, optional
        Largest number of synchronous updates (>= 1).

    Returns
    -------
    MessagePassingResult

    Raises
    ------
    ValueError
        If ``seed_fraction`` is outside [0, 1], ``tol`` is outside (0, 0.1]
        or ``max_iter`` < 1; if a per-node or per-edge parameter array of the
        model does not match the graph; if the model has no response
        function (:class:`~cascades.models.FiberBundle`, damage or iid
        weights: simulate those instead).
    TypeError
        If ``graph`` is not a :class:`~cascades.graphs.Graph` or ``model``
        not a :class:`~cascades.models.CascadeModel`.

    Warns
    -----
    cascades.meanfield.ConvergenceWarning
        If ``max_iter`` runs out before convergence (``converged=False``).

    Notes
    -----
    *Exactness.* On a tree or forest the messages of different neighbours
    of i are independent (their subtrees are disjoint), so the equations
    are exact, and iteration t gives the exact expected fraction after
    synchronous step t. With quenched random thresholds the response is the
    threshold law's average F, still exact on trees. On graphs with cycles
    it is the tree-like approximation, accurate on sparse random graphs and
    often on clustered real networks (Melnik et al. 2011). A repeated edge
    is treated as independent edges (not exact). A self-loop counts in k_i,
    as in the simulator, but carries no message (a node cannot activate
    itself).

    *Directed formulation.* The message along j -> i is the marginal
    probability that j is active, computed from all in-neighbours of j:
    p_i <- rho0 + (1 - rho0) sum_m PB(m; {p_l : l -> i}) F(m, k_i^in). It
    is exact on directed graphs whose underlying undirected graph is a
    forest (polytrees: the ancestors of different in-neighbours are
    disjoint, and no ancestor depends on i). A reciprocal pair i <-> j is
    *not* treated as one undirected edge: pass an undirected graph for that.

    *Algorithm and cost.* Messages are indexed by CSR entry, and stored so
    that each node reads its incoming messages in row order and writes each
    outgoing one to the reverse entry (the reverse-entry map comes from an
    O(n + nnz) pass). For node i the incoming messages give all k_i
    leave-one-out values at once, with the response cut at c_i (F constant
    for m >= c_i; c_i is the threshold of a threshold model, so only
    P[count >= M] is tracked): for c_i = 1 (threshold 1, independent
    cascade) by prefix and suffix products of 1 - q, in O(k_i); otherwise a
    prefix sweep of the lumped count distribution meets a suffix table of
    expected responses, H[s, a] = E F(a + count of messages s..k-1), in
    O(k_i c_i) time and scratch; nodes whose table would exceed 2^22
    entries use an all-but-one divide and conquer in O(k_i c_i log k_i)
    time and O(c_i log k_i) memory. All three only multiply and add
    nonnegative terms: no deconvolution (dividing out a message is unstable
    when it is close to 1). One update costs O(sum_i k_i c_i) <=
    O(sum_i k_i^2); memory O(n + nnz). Measured on an Erdos-Renyi graph with
    n = 10^5, z = 4 (nnz = 4 10^5), on a shared 2-core machine: 15-35 ms per
    update, 0.4-1.8 s for a whole solve. The kernels are in
    :mod:`cascades._mp_kernels`.

    References
    ----------
    M. Shrestha and C. Moore, Phys. Rev. E 89, 022805 (2014).
    J. P. Gleeson and M. A. Porter, arXiv:1703.08046 (2017), in *Complex
    Spreading Phenomena in Social Systems*, Springer (2018).
    S. Melnik, A. Hackett, M. A. Porter, P. J. Mucha and J. P. Gleeson,
    Phys. Rev. E 83, 036112 (2011).

    Examples
    --------
    A path 0 - 1 - 2 with F(m, k) = 1[m >= 1] (threshold 1/2: the middle
    node needs one of its two neighbours). On a tree the result is exact:
    a node stays inactive only if no node is a seed, so the size is
    1 - (1 - rho0)^3.

    >>> from cascades.graphs import from_edges
    >>> from cascades.models import FractionalThreshold
    >>> path = from_edges([(0, 1), (1, 2)])
    >>> r = message_passing(path, FractionalThreshold(0.5), 0.1)
    >>> round(r.size, 12), round(1 - 0.9**3, 12)
    (0.271, 0.271)
    >>> r.trajectory.round(4)  # after steps 0, 1, 2: the ends wait one step for the middle
    array([0.1  , 0.217, 0.271])
    >>> r.converged
    True

    On a random graph (Watts' model, 1% seeds):

    >>> from cascades.graphs import erdos_renyi
    >>> g = erdos_renyi(10_000, 4.0, rng=0)
    >>> r = message_passing(g, FractionalThreshold(0.18), 0.01)
    >>> bool(0.5 < r.size <= 1.0), r.converged
    (True, True)
    """
    graph = _check_graph(graph)
    rho0 = check_probability("seed_fraction", seed_fraction)
    tol, max_iter = _check_iteration(tol, max_iter)
    n, nnz = graph.n, graph.nnz
    if n == 0:
        _check_model(model)
        empty = _readonly(np.zeros(0))
        return MessagePassingResult(
            empty, _readonly(np.zeros(0)), 0.0, _readonly(np.array([rho0])), 0, True, 0.0
        )
    tables = _graph_tables(graph, model)
    if graph.directed:
        return _run_directed(graph, tables, rho0, tol, max_iter)
    indptr = graph.indptr
    rev = _reverse(graph)
    in_weight = tables.weight[rev]  # incoming layout: entry x = (i -> l) of row i holds l -> i
    k = graph.degrees
    kmax = int(k.max())
    cmax = int(tables.node_cut.max())
    need = int(((k + 1) * (tables.node_cut + 1)).max())
    hbuf = np.empty(min(need, _SCAN_LIMIT))
    depth = max(1, kmax).bit_length() + 2
    qin, loo = np.empty(kmax), np.empty(kmax)
    pre, dbuf = np.empty(cmax + 1), np.empty(depth * (cmax + 1))
    stack = np.empty((4, depth), dtype=np.int64)
    q_old, q_new = np.full(nnz, rho0), np.empty(nnz)
    marginal = np.empty(n)
    trajectory = [rho0]
    stop = _Convergence(tol)
    converged, change, n_iter = False, 0.0, 0
    for it in range(1, max_iter + 1):
        n_iter = it
        change, total = _k.sweep_undirected(
            indptr, rev, in_weight, tables.node_cut, tables.node_foff, tables.ftab, rho0,
            q_old, q_new, marginal, qin, loo, hbuf, pre, dbuf, stack,
        )  # fmt: skip
        trajectory.append(total / n)
        if stop.done(change):
            converged = True
            break
        q_old, q_new = q_new, q_old
    else:
        q_old, q_new = q_new, q_old  # undo the last swap: q_old holds the messages of the marginals
    if not converged:
        _warn_not_converged("message_passing", max_iter, change)
    # the marginals of the last sweep were computed from q_old
    return MessagePassingResult(
        node_probabilities=_readonly(marginal),
        messages=_readonly(q_old[rev]),  # back to entry layout: messages[e] for e = (i -> j) is i -> j
        size=float(marginal.mean()),
        trajectory=_readonly(np.asarray(trajectory)),
        n_iter=n_iter,
        converged=converged,
        residual=float(change),
    )


def _reverse(graph: Graph) -> np.ndarray:
    """rev[e]: the CSR entry (j -> i) paired with e = (i -> j) of an undirected graph (O(n + nnz))."""
    rev = np.empty(graph.nnz, dtype=np.int32 if graph.nnz < 2**31 else np.int64)
    _k.reverse_entries(graph.indptr, graph.indices, rev)
    return rev


def _in_csr(graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    """(in_indptr, in_entries): the CSR entries into each node, grouped by target, by source."""
    order = np.argsort(graph.indices, kind="stable").astype(np.int64)
    in_indptr = np.zeros(graph.n + 1, dtype=np.int64)
    np.cumsum(graph.in_degrees, out=in_indptr[1:])
    return in_indptr, order


def _run_directed(graph: Graph, tables: _GraphTables, rho0, tol, max_iter) -> MessagePassingResult:
    n = graph.n
    in_indptr, order = _in_csr(graph)
    src = np.repeat(np.arange(n, dtype=np.int64), graph.degrees)
    in_src = src[order]
    in_weight = tables.weight[order]
    kmax = int(graph.in_degrees.max())
    qin, pre = np.empty(kmax), np.empty(int(tables.node_cut.max()) + 1)
    p_old, p_new = np.full(n, rho0), np.empty(n)
    trajectory = [rho0]
    stop = _Convergence(tol)
    converged, change, n_iter = False, 0.0, 0
    for it in range(1, max_iter + 1):
        n_iter = it
        change, total = _k.sweep_directed(
            in_indptr, in_src, in_weight, tables.node_cut, tables.node_foff, tables.ftab, rho0,
            p_old, p_new, qin, pre,
        )  # fmt: skip
        trajectory.append(total / n)
        p_old, p_new = p_new, p_old
        if stop.done(change):
            converged = True
            break
    if not converged:
        _warn_not_converged("message_passing", max_iter, change)
    return MessagePassingResult(
        node_probabilities=_readonly(p_old),
        messages=_readonly(p_old[src]),
        size=float(p_old.mean()),
        trajectory=_readonly(np.asarray(trajectory)),
        n_iter=n_iter,
        converged=converged,
        residual=float(change),
    )


def message_passing_condition(graph, model) -> float:
    """Cascade condition of message passing: spectral radius of the weighted non-backtracking matrix.

    Linearising the message-passing equations of :func:`message_passing` at
    q = 0 (rho0 -> 0) gives q <- D B W q, with B the non-backtracking matrix
    of the graph (B_{(i->j),(l->i')} = 1 iff i' = i and l != j), D the
    diagonal of the response slopes F(1, k_i) - F(0, k_i) of the node each
    message leaves, and W the message weights (1; the transmission
    probabilities for the independent cascade). A vanishing seed fraction
    can grow into a global cascade iff the spectral radius of D B W exceeds
    1 (Gleeson & Porter 2017, the condition rho(D B) > 1 for specific
    networks; for the Watts model F(1, k) = 1[k <= 1/phi]). On a
    configuration-model graph it approaches Watts' C1 =
    sum_k k (k - 1) p_k F(1, k) / z.

    Parameters
    ----------
    graph : Graph
        Undirected or directed (directed: no backtracking exclusion, the
        matrix D A^T W on nodes, see :func:`message_passing`).
    model : CascadeModel
        A model with a response, as for :func:`message_passing`.

    Returns
    -------
    float
        The spectral radius (0.0 when the weighted graph has no cycle, e.g.
        on a tree).

    Raises
    ------
    ValueError
        If the model has no response function, or its response decreases
        from m = 0 to m = 1 (the linearisation is then not a nonnegative
        matrix).
    TypeError
        For a graph or model of the wrong type.

    Notes
    -----
    Accuracy: about 1e-10 relative (dense: round-off). Cost: messages that
    lie on no cycle of D B W (no input or no output,
    repeatedly) are peeled off first in O(n + nnz), which leaves a core
    with the same spectral radius (every cycle stays); a tree has an empty
    core and radius 0. A core of at most 600 messages is solved densely
    (``numpy.linalg.eigvals``); a larger one by ARPACK
    (``scipy.sparse.linalg.eigs``, the few eigenvalues of largest modulus)
    on a matrix-free operator whose product costs O(n + core size). The
    Perron root of the nonnegative operator is its spectral radius. If
    F(0, k) > 0 for some k, q = 0 is not a fixed point and the radius only
    describes the linearisation there.

    References
    ----------
    J. P. Gleeson and M. A. Porter, arXiv:1703.08046 (2017).
    M. Shrestha and C. Moore, Phys. Rev. E 89, 022805 (2014).
    D. J. Watts, PNAS 99, 5766 (2002) (the condition C1 > 1).

    Examples
    --------
    On a connected k-regular graph the non-backtracking matrix has spectral
    radius k - 1; with phi <= 1/k every node is vulnerable:

    >>> from cascades.graphs import from_edges, random_regular
    >>> from cascades.models import FractionalThreshold
    >>> g = random_regular(1000, 4, rng=0)
    >>> round(message_passing_condition(g, FractionalThreshold(0.25)), 8)
    3.0
    >>> message_passing_condition(g, FractionalThreshold(0.3))  # nobody is vulnerable
    0.0
    >>> message_passing_condition(from_edges([(0, 1), (1, 2), (1, 3)]), FractionalThreshold(0.1))
    0.0
    """
    graph = _check_graph(graph)
    if graph.nnz == 0:
        _check_model(model)
        return 0.0
    tables = _graph_tables(graph, model)
    slope = tables.slope()
    if np.any(slope < 0):
        i = int(np.flatnonzero(slope < 0)[0])
        raise ValueError(
            f"model: the response decreases from m = 0 to m = 1 (at k = {int(graph.in_degrees[i])}); "
            "the cascade condition needs a nondecreasing response"
        )
    n, nnz = graph.n, graph.nnz
    src = np.repeat(np.arange(n, dtype=np.int64), graph.degrees)
    dst = graph.indices.astype(np.int64)
    if graph.directed:
        rev = np.full(nnz, -1, dtype=np.int64)
        in_indptr, in_list = _in_csr(graph)
    else:
        rev = _reverse(graph).astype(np.int64)
        in_indptr, in_list = graph.indptr, rev
    alive = (slope[src] > 0) & (tables.weight > 0)
    _k.peel(in_indptr, in_list, graph.indptr, src, dst, rev, alive)
    core = np.flatnonzero(alive).astype(np.int64)
    N = core.size
    if N == 0:
        return 0.0
    pos = np.full(nnz, -1, dtype=np.int64)
    pos[core] = np.arange(N)
    if N <= _DENSE_LIMIT:
        M = np.zeros((N, N))
        _k.linear_dense(core, pos, in_indptr, in_list, src, rev, slope, tables.weight, M)
        return float(np.abs(np.linalg.eigvals(M)).max())
    # compact per-message arrays: the product then reads each message's data in order
    c_src, c_dst = src[core], dst[core]
    c_back = np.where(rev[core] >= 0, pos[np.maximum(rev[core], 0)], -1)
    c_weight, c_slope = tables.weight[core], slope[c_src]
    node_sum = np.zeros(n)

    def matvec(x):
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float64).ravel())
        y = np.empty(N)
        _k.linear_matvec(c_src, c_dst, c_back, c_weight, c_slope, x, node_sum, y)
        return y

    op = splinalg.LinearOperator((N, N), matvec=matvec, dtype=np.float64)
    try:
        values = splinalg.eigs(op, k=1, which="LR", v0=np.ones(N), maxiter=max(1000, 10 * N),
                               tol=_ARPACK_TOL, return_eigenvectors=False)  # fmt: skip
    except splinalg.ArpackNoConvergence as err:  # pragma: no cover - not seen in the tests
        if err.eigenvalues.size == 0:
            raise RuntimeError(
                f"ARPACK did not converge on the {N}-message core of the linearised operator"
            ) from None
        values = err.eigenvalues
    return float(np.abs(values).max())


# ---------------------------------------------------------------------------
# Binomial response sums (degree-class and module solvers)
# ---------------------------------------------------------------------------


class _BinomialSums:
    """s_u(q) = sum_{m=0}^{n_u} Bin(m; n_u, q) F(m, d_u) for items u (trials n_u, degree d_u).

    With c the cut of F(., d_u) (see :func:`_degree_tables`), the terms
    m < c are summed and the rest is F(c, d_u) P[Bin(n_u, q) >= c], so a
    threshold model costs one survival function per item. Index arrays are
    built once; each evaluation costs O(number of items + sum of the cuts).
    """

    def __init__(self, model, trials: np.ndarray, degree: np.ndarray):
        trials = np.asarray(trials, dtype=np.int64)
        degree = np.asarray(degree, dtype=np.int64)
        self.size = trials.size
        distinct, idx = np.unique(degree, return_inverse=True)
        ftab, foff, cut = _degree_tables(model, distinct)
        c = cut[idx]
        fo = foff[idx]
        n_terms = np.minimum(c, trials + 1)  # terms m = 0 .. min(c - 1, n)
        self.item = np.repeat(np.arange(self.size), n_terms)
        starts = np.cumsum(n_terms) - n_terms
        self.m = np.arange(int(n_terms.sum())) - np.repeat(starts, n_terms)
        self.n = trials[self.item]
        self.f = ftab[np.repeat(fo, n_terms) + self.m]
        self.has_tail = c <= trials
        self.tail_c = c[self.has_tail]
        self.tail_n = trials[self.has_tail]
        self.tail_f = ftab[fo[self.has_tail] + c[self.has_tail]]

    def __call__(self, q: np.ndarray) -> np.ndarray:
        out = np.zeros(self.size)
        if self.item.size:  # (np.bincount of no items is an int64 array even with float weights)
            out += np.bincount(
                self.item, weights=binom_pmf(self.m, self.n, q[self.item]) * self.f, minlength=self.size
            )
        if self.tail_c.size:
            out[self.has_tail] += self.tail_f * binom_sf(self.tail_c - 1, self.tail_n, q[self.has_tail])
        return out


@dataclass(frozen=True, eq=False, repr=False)
class CorrelatedResult:
    """Outcome of :func:`final_size_correlated` and :func:`final_size_modular` (read-only arrays).

    Attributes
    ----------
    size : float
        Expected final active fraction.
    groups : numpy.ndarray
        Labels of the node groups: the degrees k with p_k > 0
        (:func:`final_size_correlated`) or the module indices
        (:func:`final_size_modular`).
    group_sizes : numpy.ndarray
        Expected final active fraction within each group.
    q_groups : numpy.ndarray
        Labels of the entries of ``q``: the degrees k that are edge ends, or
        the module indices.
    q : numpy.ndarray
        Fixed point q_k (q_i): probability that the node at the end of an
        edge leaving a node of degree k (of module i) is active, that node
        excluded.
    trajectory : numpy.ndarray
        Expected active fraction after synchronous step t = 0, ..., n_iter.
    n_iter : int
        Number of synchronous updates.
    converged : bool
        Whether the stopping rule was met before ``max_iter`` ran out.
    residual : float
        Largest change of q in the last update.
    """

    size: float
    groups: np.ndarray
    group_sizes: np.ndarray
    q_groups: np.ndarray
    q: np.ndarray
    trajectory: np.ndarray
    n_iter: int
    converged: bool
    residual: float

    def __repr__(self) -> str:
        return (
            f"CorrelatedResult(size={self.size:.6g}, groups={self.groups.size}, "
            f"n_iter={self.n_iter}, converged={self.converged})"
        )


def _solve_classes(what, model, rho0, tol, max_iter, *, transfer, edge_class, edge_degree,
                   node_weight, node_class, node_degree, node_group, groups, q_groups):  # fmt: skip
    """Iterate q_a <- rho0 + (1 - rho0) sum_b T[a, b] g_b(q_{class b}) from q = rho0.

    Edge types b have degree d_b and g_b(q) = sum_m Bin(m; d_b - 1, q) F(m, d_b);
    node types u have weight w_u, degree d_u and h_u(q) = sum_m Bin(m; d_u, q) F(m, d_u);
    rho = rho0 + (1 - rho0) sum_u w_u h_u(q_{class u}).
    """
    g = _BinomialSums(model, edge_degree - 1, edge_degree)
    h = _BinomialSums(model, node_degree, node_degree)
    q = np.full(transfer.shape[0], rho0)
    trajectory = [rho0]
    stop = _Convergence(tol)
    converged, change = False, 0.0
    node_rho = np.full(node_weight.size, rho0)
    q_used = q
    n_iter = 0
    for it in range(1, max_iter + 1):
        n_iter = it
        q_used = q
        # probabilities: the transfer rows sum to 1 only up to round-off, so q could exceed 1 by an ulp
        # (where scipy's binomial laws return NaN); clip where the values are made
        node_rho = np.minimum(rho0 + (1.0 - rho0) * h(q[node_class]), 1.0)
        trajectory.append(float(node_weight @ node_rho))
        q_new = np.minimum(rho0 + (1.0 - rho0) * (transfer @ g(q[edge_class])), 1.0)
        change = float(np.abs(q_new - q).max()) if q.size else 0.0
        if stop.done(change):
            converged = True
            break
        q = q_new
    if not converged:
        _warn_not_converged(what, max_iter, change)
    mass = np.bincount(node_group, weights=node_weight, minlength=groups.size)
    active = np.bincount(node_group, weights=node_weight * node_rho, minlength=groups.size)
    group_sizes = np.divide(active, mass, out=np.full(groups.size, rho0), where=mass > 0)
    return CorrelatedResult(
        size=float(trajectory[-1]),
        groups=_readonly(np.asarray(groups, dtype=np.int64)),
        group_sizes=_readonly(group_sizes),
        q_groups=_readonly(np.asarray(q_groups, dtype=np.int64)),
        q=_readonly(q_used.copy()),
        trajectory=_readonly(np.asarray(trajectory)),
        n_iter=n_iter,
        converged=converged,
        residual=change,
    )


# ---------------------------------------------------------------------------
# Degree-correlated networks
# ---------------------------------------------------------------------------


def _square_matrix(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square 2-dimensional array, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite numbers")
    if arr.min() < 0:
        i, j = np.unravel_index(int(np.argmin(arr)), arr.shape)
        raise ValueError(f"{name} must be nonnegative; entry ({i}, {j}) is {arr[i, j]!r}")
    return arr


def _pmf_table(name: str, value, tol: float = TAIL_TOL) -> np.ndarray:
    """A degree pmf table (renormalised to sum 1) from a DegreeDistribution or an array."""
    if isinstance(value, DegreeDistribution):
        p = np.array(value.pmf(tol), dtype=np.float64)
        if p.size - 1 > MAX_CORRELATION_DEGREE:
            raise ValueError(
                f"{name}: the table of {value!r} reaches degree {p.size - 1} > "
                f"MAX_CORRELATION_DEGREE = {MAX_CORRELATION_DEGREE}; give a distribution with a kmax"
            )
        return p / p.sum()
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} must be a DegreeDistribution or a 1-dimensional pmf table p[k], got {value!r}"
        )
    try:
        return np.array(Empirical.from_pmf(arr.astype(np.float64)).pmf(), dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None


@dataclass(frozen=True, eq=False, repr=False)
class DegreeCorrelation:
    """Degree-degree correlations of a random graph: the joint degree distribution of edge ends.

    ``joint[k, k']`` = e_{kk'} is the probability that a random edge, with a
    random orientation, leads from a node of degree k to a node of degree
    k' (Gleeson 2008; Newman 2002 uses excess degrees, the same matrix
    shifted by one). It is symmetric, nonnegative and sums to 1; its row
    sums are the edge-end degree distribution q_k = k p_k / z, and
    P(k' | k) = e_{kk'} / q_k.

    Parameters
    ----------
    joint : array_like, shape (K + 1, K + 1)
        e_{kk'} for degrees 0..K. Row and column 0 must vanish.
    degree_pmf : array_like or DegreeDistribution, optional
        The node degree distribution p_k. It must agree with ``joint``:
        sum_{k'} e_{kk'} = k p_k / z. When omitted it is derived from
        ``joint`` with p_0 = 0 (``joint`` fixes p_k only for k >= 1).

    Raises
    ------
    ValueError
        If ``joint`` is not square, has negative or non-finite entries, does
        not sum to 1 (within 1e-9), is not symmetric (within 1e-12), gives
        weight to degree 0, is larger than MAX_CORRELATION_DEGREE; if
        ``degree_pmf`` is not a pmf or disagrees with ``joint`` (within
        1e-9).

    Examples
    --------
    >>> import numpy as np
    >>> from cascades.degrees import Regular
    >>> c = DegreeCorrelation.uncorrelated(Regular(3))
    >>> c.joint.shape, float(c.joint[3, 3])
    ((4, 4), 1.0)
    >>> e = np.zeros((3, 3)); e[1, 2] = e[2, 1] = 0.5  # stars of one centre, two leaves
    >>> star = DegreeCorrelation(e)
    >>> star.degree_pmf.round(4), float(star.assortativity)
    (array([0.    , 0.6667, 0.3333]), -1.0)
    """

    joint: np.ndarray
    degree_pmf: np.ndarray | DegreeDistribution | None = None

    def __post_init__(self):
        e = _square_matrix("joint", self.joint)
        K = e.shape[0] - 1
        if K > MAX_CORRELATION_DEGREE:
            raise ValueError(f"joint reaches degree {K} > MAX_CORRELATION_DEGREE = {MAX_CORRELATION_DEGREE}")
        total = math.fsum(e.ravel())
        if abs(total - 1.0) > PMF_SUM_TOL:
            raise ValueError(f"joint must sum to 1 within {PMF_SUM_TOL:g}, got sum {total!r}")
        e /= total
        asym = float(np.abs(e - e.T).max())
        if asym > 1e-12:
            i, j = np.unravel_index(int(np.argmax(np.abs(e - e.T))), e.shape)
            raise ValueError(
                f"joint must be symmetric (each edge has two ends); e[{i}, {j}] = {e[i, j]!r} but "
                f"e[{j}, {i}] = {e[j, i]!r}"
            )
        e = (e + e.T) / 2
        if e[0].any():
            raise ValueError("joint must vanish in row and column 0 (a node of degree 0 is no edge end)")
        q = e.sum(axis=1)
        degrees = np.arange(K + 1)
        if self.degree_pmf is None:
            p = np.zeros(K + 1)
            p[1:] = q[1:] / degrees[1:]
            p /= p.sum()
        else:
            p = _pmf_table("degree_pmf", self.degree_pmf)
            if p.size < K + 1:
                p = np.r_[p, np.zeros(K + 1 - p.size)]
            z = float(np.arange(p.size) @ p)
            if z == 0:
                raise ValueError("degree_pmf has mean degree 0 but joint describes edges")
            expected = np.arange(p.size) * p / z
            q_full = np.r_[q, np.zeros(p.size - q.size)]
            bad = np.abs(expected - q_full) > PMF_SUM_TOL
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"degree_pmf disagrees with joint: sum_k' e[{k}, k'] = {q_full[k]!r} but "
                    f"k p_k / z = {expected[k]!r} at k = {k}"
                )
        object.__setattr__(self, "joint", _readonly(e))
        object.__setattr__(self, "degree_pmf", _readonly(p))

    @classmethod
    def uncorrelated(cls, degrees, *, tol=TAIL_TOL) -> DegreeCorrelation:
        """No correlations: e_{kk'} = q_k q_k' with q_k = k p_k / z.

        Parameters
        ----------
        degrees : DegreeDistribution or array_like
            p_k (a table is renormalised; an unbounded distribution is cut
            where its tail is below ``tol``).
        """
        p = _pmf_table("degrees", degrees, tol)
        z = float(np.arange(p.size) @ p)
        if z == 0:
            raise ValueError("degrees has mean degree 0: there are no edges to correlate")
        q = np.arange(p.size) * p / z
        return cls(np.outer(q, q), p)

    @classmethod
    def from_conditional(cls, conditional, degrees) -> DegreeCorrelation:
        """From P(k' | k) (rows k, summing to 1 where q_k > 0) and p_k: e_{kk'} = q_k P(k' | k).

        Raises
        ------
        ValueError
            If a used row of ``conditional`` does not sum to 1, or the joint
            it gives is not symmetric (P(k'|k) q_k must equal P(k|k') q_k').
        """
        P = _square_matrix("conditional", conditional)
        p = _pmf_table("degrees", degrees)
        K = max(P.shape[0], p.size) - 1
        P = np.pad(P, (0, K + 1 - P.shape[0]))
        p = np.r_[p, np.zeros(K + 1 - p.size)]
        z = float(np.arange(K + 1) @ p)
        if z == 0:
            raise ValueError("degrees has mean degree 0: there are no edges to correlate")
        q = np.arange(K + 1) * p / z
        rows = P.sum(axis=1)
        bad = (q > 0) & (np.abs(rows - 1) > PMF_SUM_TOL)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"conditional: row k = {k} must sum to 1, got {rows[k]!r}")
        return cls(q[:, None] * P, p)

    @classmethod
    def from_graph(cls, graph) -> DegreeCorrelation:
        """The empirical joint degree distribution of an undirected graph's edge ends.

        Every CSR entry (i -> j) counts once (so each edge twice, once per
        orientation); p_k is the graph's degree frequency.

        Examples
        --------
        >>> from cascades.graphs import from_edges
        >>> c = DegreeCorrelation.from_graph(from_edges([(0, 1), (0, 2)]))
        >>> c.joint
        array([[0. , 0. , 0. ],
               [0. , 0. , 0.5],
               [0. , 0.5, 0. ]])
        """
        graph = _check_graph(graph)
        if graph.directed:
            raise ValueError("graph must be undirected (in- and out-degrees of directed ends differ)")
        if graph.nnz == 0:
            raise ValueError("graph has no edges: there are no degree correlations")
        k = graph.degrees
        K = int(k.max())
        if K > MAX_CORRELATION_DEGREE:
            raise ValueError(
                f"graph has maximum degree {K} > MAX_CORRELATION_DEGREE = {MAX_CORRELATION_DEGREE}"
            )
        src = np.repeat(k, k)
        dst = k[graph.indices]
        e = np.bincount(src * (K + 1) + dst, minlength=(K + 1) ** 2).reshape(K + 1, K + 1) / graph.nnz
        return cls(e, np.bincount(k, minlength=K + 1) / graph.n)

    @property
    def kmax(self) -> int:
        """Largest degree of the tables."""
        return self.joint.shape[0] - 1

    @property
    def edge_pmf(self) -> np.ndarray:
        """q_k = sum_k' e_{kk'} = k p_k / z."""
        return self.joint.sum(axis=1)

    @property
    def conditional(self) -> np.ndarray:
        """P(k' | k) = e_{kk'} / q_k (rows with q_k = 0 are 0)."""
        q = self.edge_pmf
        return np.divide(self.joint, q[:, None], out=np.zeros_like(self.joint), where=q[:, None] > 0)

    @property
    def assortativity(self) -> float:
        """Pearson correlation of the degrees at the two ends of an edge (Newman 2002)."""
        k = np.arange(self.kmax + 1, dtype=np.float64)
        q = self.edge_pmf
        mean = k @ q
        var = (k * k) @ q - mean * mean
        if var <= 0:
            return math.nan
        return float((k @ self.joint @ k - mean * mean) / var)

    def __repr__(self) -> str:
        return f"DegreeCorrelation(kmax={self.kmax}, assortativity={self.assortativity:.4g})"


def final_size_correlated(
    model, correlation, seed_fraction, *, tol=1e-12, max_iter=100_000
) -> CorrelatedResult:
    """Expected final cascade size on random graphs with degree-degree correlations.

    One q per degree class: q_k is the probability that the node at the end
    of an edge leaving a degree-k node is active, that degree-k node
    excluded. Synchronously from q = rho0 (Gleeson 2008, the degree-correlated
    generalisation of the Gleeson-Cahalane recursion),

        q_k <- rho0 + (1 - rho0) sum_k' P(k'|k) sum_{m=0}^{k'-1} Bin(m; k'-1, q_k') F(m, k'),
        rho  = rho0 + (1 - rho0) sum_k p_k sum_{m=0}^{k} Bin(m; k, q_k) F(m, k).

    Without correlations, P(k'|k) = k' p_k' / z, every q_k is the same and
    this is the uncorrelated recursion of Gleeson & Cahalane (2007).

    Parameters
    ----------
    model : CascadeModel
        A model with a response F(m, k).
    correlation : DegreeCorrelation or array_like
        The joint edge-end degree distribution e_{kk'} (an array is passed
        to ``DegreeCorrelation(joint)``).
    seed_fraction : float
        rho0 in [0, 1].
    tol : float, optional
        Stop when the estimated distance of q to its limit is at most tol,
        in (0, 0.1] (``cascades.meanfield.MAX_TOL``).
    max_iter : int, optional
        Largest number of synchronous updates (>= 1).

    Returns
    -------
    CorrelatedResult
        ``groups`` are the degrees with p_k > 0 (``group_sizes`` is the
        final active fraction of degree-k nodes), ``q_groups`` the degrees
        that are edge ends.

    Raises
    ------
    ValueError
        If ``seed_fraction`` is outside [0, 1], ``tol`` outside (0, 0.1],
        ``max_iter`` < 1; if ``correlation`` is not a
        valid joint distribution (see :class:`DegreeCorrelation`); if the
        model has no response (FiberBundle, damage or iid weights, per-node
        parameter arrays: simulate those instead).

    Warns
    -----
    cascades.meanfield.ConvergenceWarning
        If ``max_iter`` runs out before convergence.

    Notes
    -----
    Exact for the infinite random-graph ensemble with these correlations
    (locally tree-like); ``trajectory`` is the synchronous time course.
    Cost per update: O(K^2) for P(k'|k) times the vector of g_k', plus one
    binomial term per m below the response's cut and one survival function
    per degree (a threshold model needs only P[Bin >= M]).

    References
    ----------
    J. P. Gleeson, Phys. Rev. E 77, 046117 (2008).
    J. P. Gleeson and D. J. Cahalane, Phys. Rev. E 75, 056103 (2007).

    Examples
    --------
    Half the nodes have degree 3, half degree 8; with phi = 0.3 a degree-3
    node needs one active neighbour, a degree-8 node three. Without
    correlations too few edges join the vulnerable degree-3 nodes for a
    global cascade; assortative mixing joins them:

    >>> import numpy as np
    >>> from cascades.models import FractionalThreshold
    >>> p = np.zeros(9); p[3] = p[8] = 0.5
    >>> flat = DegreeCorrelation.uncorrelated(p)
    >>> e = flat.joint.copy(); d = 0.8 * e[3, 8]
    >>> e[3, 3] += d; e[8, 8] += d; e[3, 8] -= d; e[8, 3] -= d
    >>> assortative = DegreeCorrelation(e, p)
    >>> round(assortative.assortativity, 3)
    0.8
    >>> model = FractionalThreshold(0.3)
    >>> [round(final_size_correlated(model, c, 0.02).size, 3) for c in (flat, assortative)]
    [0.087, 0.522]
    >>> r = final_size_correlated(model, assortative, 0.02)
    >>> r.groups, r.group_sizes.round(3), r.converged
    (array([3, 8]), array([0.996, 0.048]), True)
    """
    rho0 = check_probability("seed_fraction", seed_fraction)
    tol, max_iter = _check_iteration(tol, max_iter)
    _check_model(model)
    if not isinstance(correlation, DegreeCorrelation):
        correlation = DegreeCorrelation(correlation)
    e, p = correlation.joint, correlation.degree_pmf
    K = max(e.shape[0], p.size) - 1
    q_edge = np.r_[correlation.edge_pmf, np.zeros(K + 1 - e.shape[0])]
    p = np.r_[p, np.zeros(K + 1 - p.size)]
    ends = np.flatnonzero(q_edge > 0)  # the degree classes with a q
    cls_of = np.zeros(K + 1, dtype=np.int64)
    cls_of[ends] = np.arange(ends.size)
    transfer = correlation.conditional[np.ix_(ends, ends)]
    nodes = np.flatnonzero(p > 0)
    return _solve_classes(
        "final_size_correlated", model, rho0, tol, max_iter,
        transfer=transfer, edge_class=np.arange(ends.size), edge_degree=ends,
        node_weight=p[nodes], node_class=cls_of[nodes], node_degree=nodes,
        node_group=np.arange(nodes.size), groups=nodes, q_groups=ends,
    )  # fmt: skip


# ---------------------------------------------------------------------------
# Modular networks
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class ModularNetwork:
    """A modular random graph: module sizes, degree distributions and a mixing matrix.

    A fraction ``fractions[i]`` of the nodes forms module i; its nodes have
    degrees drawn from ``degrees[i]``, and each edge end of a module-i node
    leads to module j with probability ``mixing[i, j]`` = P(j | i),
    independently (Gleeson 2008).

    Parameters
    ----------
    fractions : array_like
        n_i > 0, summing to 1 (within 1e-9).
    degrees : sequence of DegreeDistribution or pmf arrays
        One degree distribution per module (unbounded ones are cut where the
        tail is below 1e-12 and renormalised).
    mixing : array_like, shape (M, M)
        P(j | i), rows summing to 1 for modules with edges. Edges have two
        ends, so n_i z_i P(j|i) = n_j z_j P(i|j) must hold (within 1e-9
        relative), z_i the mean degree of module i.

    Raises
    ------
    ValueError
        For inconsistent shapes, fractions that are not positive or do not
        sum to 1, invalid pmfs, mixing rows that do not sum to 1, or
        unbalanced mixing.

    Examples
    --------
    Two equal modules of mean degree 4, a quarter of the edge ends crossing:

    >>> from cascades.degrees import Poisson
    >>> net = ModularNetwork([0.5, 0.5], [Poisson(4), Poisson(4)], [[0.75, 0.25], [0.25, 0.75]])
    >>> net.n_modules, net.mean_degrees.round(6)
    (2, array([4., 4.]))
    """

    fractions: np.ndarray
    degrees: tuple
    mixing: np.ndarray

    def __post_init__(self):
        n_i = np.asarray(self.fractions)
        if n_i.ndim != 1 or n_i.size == 0 or n_i.dtype.kind not in "iuf":
            raise ValueError(
                f"fractions must be a non-empty 1-dimensional array of numbers, got {self.fractions!r}"
            )
        n_i = np.array(n_i, dtype=np.float64)
        if not (np.all(np.isfinite(n_i)) and n_i.min() > 0):
            raise ValueError(f"fractions must hold positive numbers, got {n_i}")
        if abs(math.fsum(n_i) - 1.0) > PMF_SUM_TOL:
            raise ValueError(f"fractions must sum to 1 within {PMF_SUM_TOL:g}, got sum {math.fsum(n_i)!r}")
        n_i /= n_i.sum()
        M = n_i.size
        degrees = self.degrees
        if isinstance(degrees, DegreeDistribution) or len(degrees) != M:
            raise ValueError(f"degrees must hold one degree distribution per module ({M})")
        tables = tuple(_readonly(_pmf_table(f"degrees[{i}]", d)) for i, d in enumerate(degrees))
        mixing = _square_matrix("mixing", self.mixing)
        if mixing.shape[0] != M:
            raise ValueError(f"mixing must have shape ({M}, {M}) for {M} modules, got {mixing.shape}")
        z = np.array([np.arange(t.size) @ t for t in tables])
        rows = mixing.sum(axis=1)
        bad = (z > 0) & (np.abs(rows - 1) > PMF_SUM_TOL)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"mixing: row {i} must sum to 1 (P(j | i) over j), got {rows[i]!r}")
        E = (n_i * z)[:, None] * mixing
        E[z == 0] = 0.0
        scale = E.sum()
        if not np.allclose(E, E.T, rtol=1e-9, atol=1e-12 * max(scale, 1e-300)):
            i, j = np.unravel_index(int(np.argmax(np.abs(E - E.T))), E.shape)
            raise ValueError(
                f"mixing is not balanced: every edge between modules {i} and {j} has one end in each, so "
                f"n_i z_i P(j|i) = {E[i, j]!r} must equal n_j z_j P(i|j) = {E[j, i]!r}"
            )
        object.__setattr__(self, "fractions", _readonly(n_i))
        object.__setattr__(self, "degrees", tables)
        object.__setattr__(self, "mixing", _readonly(mixing))

    @classmethod
    def from_graph(cls, graph, membership) -> ModularNetwork:
        """Empirical modules of an undirected graph: sizes, degree frequencies, edge-end mixing.

        Parameters
        ----------
        graph : Graph
            Undirected.
        membership : array_like of int
            Module index (0..M-1) of every node; every module must be used.

        Examples
        --------
        >>> from cascades.graphs import from_edges
        >>> g = from_edges([(0, 1), (1, 2), (2, 3)])
        >>> net = ModularNetwork.from_graph(g, [0, 0, 1, 1])
        >>> net.mixing
        array([[0.66666667, 0.33333333],
               [0.33333333, 0.66666667]])
        """
        graph = _check_graph(graph)
        if graph.directed:
            raise ValueError("graph must be undirected")
        member = check_int_array("membership", membership, low=0)
        if member.size != graph.n:
            raise ValueError(f"membership has {member.size} entries but the graph has n = {graph.n} nodes")
        if graph.n == 0:
            raise ValueError("graph has no nodes")
        M = int(member.max()) + 1
        counts = np.bincount(member, minlength=M)
        if np.any(counts == 0):
            raise ValueError(
                f"membership must use every module 0..{M - 1}; module {int(np.argmin(counts))} is empty"
            )
        k = graph.degrees
        tables = [np.bincount(k[member == i], minlength=1) / counts[i] for i in range(M)]
        a = np.repeat(member, k)
        b = member[graph.indices]
        ends = np.bincount(a * M + b, minlength=M * M).reshape(M, M).astype(np.float64)
        out = ends.sum(axis=1)
        mixing = np.divide(ends, out[:, None], out=np.eye(M), where=out[:, None] > 0)
        return cls(counts / graph.n, tables, mixing)

    @property
    def n_modules(self) -> int:
        """Number of modules."""
        return self.fractions.size

    @property
    def mean_degrees(self) -> np.ndarray:
        """Mean degree z_i of each module."""
        return np.array([np.arange(t.size) @ t for t in self.degrees])

    def __repr__(self) -> str:
        return f"ModularNetwork(n_modules={self.n_modules}, fractions={np.round(self.fractions, 4).tolist()})"


def final_size_modular(model, network, seed_fraction, *, tol=1e-12, max_iter=100_000) -> CorrelatedResult:
    """Expected final cascade size on a modular random graph, one q per module.

    q_i is the probability that the node at the end of an edge leaving a
    module-i node is active, that node excluded. That end lies in module j
    with probability P(j|i) and has degree k with the module's edge-biased
    probability k p^(j)_k / z_j; its other k - 1 edges lead on like any
    edge of module j. Synchronously from q = rho0 (Gleeson 2008, modular
    networks),

        q_i <- rho0 + (1 - rho0) sum_j P(j|i) sum_k (k p^(j)_k / z_j) sum_{m<k} Bin(m; k-1, q_j) F(m, k),
        rho  = rho0 + (1 - rho0) sum_i n_i sum_k p^(i)_k sum_{m<=k} Bin(m; k, q_i) F(m, k).

    Parameters
    ----------
    model : CascadeModel
        A model with a response F(m, k).
    network : ModularNetwork
        Module fractions, degree distributions and mixing matrix.
    seed_fraction : float
        rho0 in [0, 1].
    tol, max_iter : optional
        Stopping rule and iteration budget, as in :func:`final_size_correlated`.

    Returns
    -------
    CorrelatedResult
        ``groups`` and ``q_groups`` are the module indices;
        ``group_sizes[i]`` is the final active fraction of module i.

    Raises
    ------
    ValueError
        If ``seed_fraction`` is outside [0, 1], ``tol`` outside (0, 0.1],
        ``max_iter`` < 1, or the model has no response (FiberBundle, damage
        or iid weights: simulate those instead).
    TypeError
        If ``network`` is not a :class:`ModularNetwork`.
    cascades.MemoryLimitError
        If the transfer matrix (modules x (module, degree) pairs) would not
        fit in memory.

    Warns
    -----
    cascades.meanfield.ConvergenceWarning
        If ``max_iter`` runs out before convergence.

    Notes
    -----
    Exact for the infinite modular ensemble (locally tree-like). With one
    module it is the Gleeson-Cahalane recursion; with regular modules it is
    :func:`final_size_correlated` with the modules as degree classes. Cost
    per update: O(M * number of (module, degree) pairs) plus one binomial
    term per m below the response's cut.

    References
    ----------
    J. P. Gleeson, Phys. Rev. E 77, 046117 (2008).

    Examples
    --------
    With phi = 0.18, a sparse module (z = 3) cascades; a dense one (z = 10)
    would not on its own, but a few edges from the sparse module carry the
    cascade into it (n_0 z_0 P(1|0) = 0.5 * 3 * 0.1 = 0.5 * 10 * 0.03):

    >>> from cascades.degrees import Poisson
    >>> from cascades.models import FractionalThreshold
    >>> model = FractionalThreshold(0.18)
    >>> alone = ModularNetwork([0.5, 0.5], [Poisson(3), Poisson(10)], [[1, 0], [0, 1]])
    >>> final_size_modular(model, alone, 0.01).group_sizes.round(3)
    array([0.941, 0.02 ])
    >>> coupled = ModularNetwork([0.5, 0.5], [Poisson(3), Poisson(10)], [[0.9, 0.1], [0.03, 0.97]])
    >>> r = final_size_modular(model, coupled, 0.01)
    >>> r.groups, r.group_sizes.round(3), r.converged
    (array([0, 1]), array([0.942, 1.   ]), True)
    """
    rho0 = check_probability("seed_fraction", seed_fraction)
    tol, max_iter = _check_iteration(tol, max_iter)
    _check_model(model)
    if not isinstance(network, ModularNetwork):
        raise TypeError(f"network must be a ModularNetwork, got {type(network).__name__}")
    M = network.n_modules
    z = network.mean_degrees
    # every list starts with an empty piece of the right dtype: a network without edges (all z_j = 0)
    # has no edge types, and its nodes keep what they do alone (rho0 + (1 - rho0) F(0, 0))
    e_mod, e_deg, e_w = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
    n_cls, n_deg, n_w = [], [], []
    for j, p in enumerate(network.degrees):
        ks = np.flatnonzero(p > 0)
        n_cls.append(np.full(ks.size, j))
        n_deg.append(ks)
        n_w.append(network.fractions[j] * p[ks])
        if z[j] > 0:
            ke = ks[ks > 0]
            e_mod.append(np.full(ke.size, j))
            e_deg.append(ke)
            e_w.append(ke * p[ke] / z[j])
    e_mod = np.concatenate(e_mod).astype(np.int64)
    e_deg = np.concatenate(e_deg).astype(np.int64)
    check_memory(
        2 * 8 * M * e_mod.size,
        parameter=f"network ({M} modules, {e_mod.size} (module, degree) pairs of edge ends)",
        what="the transfer matrix from every module to every (module, degree) pair",
    )
    transfer = network.mixing[:, e_mod] * np.concatenate(e_w)[None, :]
    transfer[z == 0] = 0.0
    n_cls = np.concatenate(n_cls).astype(np.int64)
    return _solve_classes(
        "final_size_modular", model, rho0, tol, max_iter,
        transfer=transfer, edge_class=e_mod, edge_degree=e_deg,
        node_weight=np.concatenate(n_w), node_class=n_cls, node_degree=np.concatenate(n_deg),
        node_group=n_cls, groups=np.arange(M), q_groups=np.arange(M),
    )  # fmt: skip
