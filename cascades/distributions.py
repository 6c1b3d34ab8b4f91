"""Cascade size distributions on finite networks, not only their means.

On a finite network the final cascade size is a random variable whose law is
often broad or bimodal, so that its mean is not a likely outcome (Burkholz,
Herrmann & Schweitzer 2018). This module computes the whole law:

:func:`size_distribution`
    The probability of every final size 0..n. Exact on trees and forests
    (message passing in the Fourier domain, Burkholz 2019; Burkholz &
    Quackenbush 2021) for the independent cascade model and for threshold
    models; on graphs with cycles the *bp-tree* approximation (belief
    propagation + maximum spanning tree).
:func:`conditional_activation`
    P(node i active | final size s) for every node and size (Burkholz &
    Quackenbush 2021).
:func:`complete_graph_size_distribution`, :func:`star_size_distribution`
    Closed forms for the complete graph and the star with iid (random)
    thresholds (Burkholz, Herrmann & Schweitzer 2018).
:func:`empirical_size_distribution`, :func:`total_variation`, :func:`sampling_tv_bound`
    The Monte Carlo side: a histogram of simulated sizes with confidence
    bands, and the distance between two size distributions. This module never
    runs the simulators (see :mod:`cascades.simulation`); pass it the sizes.

Conventions
-----------
* Seeds: every node i is a seed independently with probability
  ``seed_probability`` (a number, or one per node). A seed is equivalent to a
  node that activates by itself, so a threshold node is active once m of its
  neighbours are with probability G_i(m) = p_i + (1 - p_i) F_i(m), F the
  model's response (Watts 2002; Gleeson & Cahalane 2007). To compare with
  :func:`cascades.simulation.simulate`, draw such seed sets yourself (a bool
  mask ``rng.random(n) < p``) or, for a common p, draw K ~ Binomial(n, p)
  and simulate with ``n_seeds=K`` (a uniform K-set given K is exactly the
  Bernoulli seed set).
* Sizes count active nodes, seeds included; a :class:`SizeDistribution` is
  the pmf over 0..n.
* Graphs must be undirected and simple. Directional ICM probabilities are
  given per CSR entry (entry e in row j, column i: the probability that j
  activates i), as for the simulator.
"""

from __future__ import annotations

import functools
import math
import numbers
import time
import warnings
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import sparse, stats
from scipy.sparse import csgraph

from . import _dist_kernels as _k
from ._arrays import readonly
from ._memory import check_memory
from ._rng import as_generator
from ._special import binom_pmf
from ._validation import check_int, check_probability, check_real
from .graphs import Graph
from .meanfield import MAX_TOL
from .messages import _reverse  # rev[e]: the CSR entry paired with e, O(n + nnz)
from .models import (
    AbsoluteThreshold,
    CascadeModel,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    WeightedThreshold,
)

__all__ = [
    "SizeDistribution",
    "ConditionalActivation",
    "EmpiricalSizeDistribution",
    "ConditionalActivationInterrupted",
    "size_distribution",
    "conditional_activation",
    "complete_graph_size_distribution",
    "star_size_distribution",
    "empirical_size_distribution",
    "total_variation",
    "sampling_tv_bound",
]

_METHODS = ("auto", "tree", "bp-tree", "two-branch")
_FOLDS = ("bp", "tree")

#: Default ceiling on the estimated work (complex multiply-adds) of one tree sweep over all frequencies.
MAX_WORK = 4e10

#: Below this probability of a global cascade the two-branch approximation skips its global branch.
_GLOBAL_MIN = 1e-12

_REFS = """
    R. Burkholz, "Efficient message passing for cascade size distributions",
    Sci. Rep. 9, 6561 (2019).
    R. Burkholz and J. Quackenbush, "Cascade size distributions: why they
    matter and how to compute them efficiently", Proc. AAAI 35 (2021),
    arXiv:1909.05416.
"""


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


_readonly = functools.partial(readonly, copy=True)


@dataclass(frozen=True, eq=False)
class SizeDistribution:
    """The law of the final cascade size (number of active nodes, seeds included).

    Attributes
    ----------
    pmf : numpy.ndarray
        float64 (n + 1,), read-only: P(S = s) for s = 0..n.
    method : str
        How it was computed: ``"tree"`` (exact), ``"two-branch"`` or
        ``"bp-tree"`` (approximations), ``"complete"``, ``"star"`` (closed
        forms).
    info : Mapping
        Diagnostics (e.g. the number of belief-propagation sweeps and of
        deleted edges for ``"bp-tree"``; for ``"two-branch"`` also the
        global weight (``giant_weight`` + ``ignited``), the local
        branch's frequencies and sweeps and, for threshold models, the loop
        scale s* and loopy BP's mean size ``bp_mean``).

    Examples
    --------
    >>> d = SizeDistribution(np.array([0.25, 0.5, 0.25]))
    >>> d.n, d.mean, d.var
    (2, 1.0, 0.5)
    >>> d.cdf
    array([0.25, 0.75, 1.  ])
    >>> d.sample(4, rng=0).shape
    (4,)
    """

    pmf: np.ndarray
    method: str = "given"
    info: Any = field(default_factory=dict)

    def __post_init__(self):
        pmf = np.asarray(self.pmf, dtype=np.float64)
        if pmf.ndim != 1 or pmf.size == 0:
            raise ValueError(f"pmf must be a non-empty 1-dimensional array, got shape {pmf.shape}")
        if not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
            raise ValueError("pmf must hold finite numbers >= 0")
        total = float(pmf.sum())
        if abs(total - 1.0) > 1e-8:
            raise ValueError(f"pmf must sum to 1 (within 1e-8), got {total!r}")
        object.__setattr__(self, "pmf", _readonly(pmf))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def n(self) -> int:
        """Number of nodes (the largest size)."""
        return self.pmf.size - 1

    @property
    def sizes(self) -> np.ndarray:
        """The sizes 0..n."""
        return np.arange(self.pmf.size)

    @property
    def mean(self) -> float:
        """E[S]."""
        return float(self.sizes @ self.pmf)

    @property
    def var(self) -> float:
        """Var[S]."""
        return float(((self.sizes - self.mean) ** 2) @ self.pmf)

    @property
    def std(self) -> float:
        """Standard deviation of S."""
        return math.sqrt(self.var)

    @property
    def cdf(self) -> np.ndarray:
        """P(S <= s), s = 0..n."""
        c = np.cumsum(self.pmf)
        return np.minimum(c, 1.0)

    def sample(self, size, *, rng=None) -> np.ndarray:
        """``size`` iid draws of S (int64), with the package's ``rng`` convention."""
        size = check_int("size", size, low=0)
        check_memory(24 * size, parameter=f"size = {size}", what="the draws and their uniform variates")
        gen = as_generator(rng)
        return gen.choice(self.pmf.size, size=size, p=self.pmf / self.pmf.sum()).astype(np.int64)

    def tv_distance(self, other) -> float:
        """Total variation distance to another distribution (see :func:`total_variation`)."""
        return total_variation(self, other)

    def __repr__(self) -> str:
        return (
            f"SizeDistribution(n={self.n}, method={self.method!r}, mean={self.mean:.6g}, std={self.std:.6g})"
        )


@dataclass(frozen=True, eq=False)
class ConditionalActivation:
    """Activation probabilities of nodes jointly with, and given, the final size.

    Attributes
    ----------
    joint : numpy.ndarray
        float64 (n + 1, len(nodes)): P(node ``nodes[j]`` active, S = s).
    distribution : SizeDistribution
        The law of S.
    nodes : numpy.ndarray
        The node ids of the columns.
    """

    joint: np.ndarray
    distribution: SizeDistribution
    nodes: np.ndarray

    @property
    def probability(self) -> np.ndarray:
        """P(node active | S = s), shape (n + 1, len(nodes)); NaN where P(S = s) < 1e-300."""
        pmf = self.distribution.pmf[:, None]
        out = np.full(self.joint.shape, np.nan)
        np.divide(self.joint, pmf, out=out, where=pmf >= 1e-300)
        return np.clip(out, 0.0, 1.0)

    @property
    def marginal(self) -> np.ndarray:
        """P(node active), summed over the sizes."""
        return self.joint.sum(axis=0)

    def at(self, size) -> np.ndarray:
        """P(node active | S = ``size``) for every node of ``nodes``."""
        size = check_int("size", size, low=0, high=self.distribution.n)
        return self.probability[size]


class ConditionalActivationInterrupted(KeyboardInterrupt):
    """Raised by :func:`conditional_activation` on Ctrl-C; carries the nodes finished so far.

    Attributes
    ----------
    partial : ConditionalActivation or None
        The result for the nodes completed before the interrupt (None if
        none was).
    """

    def __init__(self, partial, n_total, detail=""):
        done = 0 if partial is None else partial.nodes.size
        where = f" ({detail})" if detail else ""
        super().__init__(f"conditional_activation interrupted after {done} of {n_total} nodes{where}")
        self.partial = partial


@dataclass(frozen=True, eq=False)
class EmpiricalSizeDistribution:
    """A histogram of simulated cascade sizes with confidence bands.

    Attributes
    ----------
    counts : numpy.ndarray
        int64 (n + 1,): how often each size occurred.
    pmf : numpy.ndarray
        counts / n_samples.
    lower, upper : numpy.ndarray
        Pointwise confidence interval of each P(S = s) (Wilson score
        interval, or Clopper-Pearson with ``interval="exact"``).
    cdf, cdf_lower, cdf_upper : numpy.ndarray
        Empirical cdf with a simultaneous band from the
        Dvoretzky-Kiefer-Wolfowitz inequality (Massart's constant):
        eps = sqrt(log(2 / alpha) / (2 N)).
    n_samples : int
    confidence : float
    """

    counts: np.ndarray
    pmf: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    cdf: np.ndarray
    cdf_lower: np.ndarray
    cdf_upper: np.ndarray
    n_samples: int
    confidence: float

    @property
    def n(self) -> int:
        return self.pmf.size - 1

    @property
    def mean(self) -> float:
        return float(np.arange(self.pmf.size) @ self.pmf)

    def tv_distance(self, other) -> float:
        """Total variation distance to another distribution (see :func:`total_variation`)."""
        return total_variation(self, other)

    def __repr__(self) -> str:
        return f"EmpiricalSizeDistribution(n={self.n}, n_samples={self.n_samples}, mean={self.mean:.6g})"


# ---------------------------------------------------------------------------
# input handling
# ---------------------------------------------------------------------------


def _check_graph(graph) -> Graph:
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a cascades Graph, got {type(graph).__name__}")
    if graph.directed:
        raise ValueError(
            "size distributions need an undirected graph (the tree recursion runs over undirected "
            "edges); give directional independent-cascade probabilities per CSR entry of an "
            "undirected graph instead"
        )
    if not graph.is_simple:
        raise ValueError(
            f"size distributions need a simple graph, got {graph.n_self_loops} self-loops and "
            f"{graph.n_multi_edges} multi-edges (erase them, e.g. from_edges(..., self_loops='erase', "
            "multi_edges='erase'))"
        )
    return graph


def _check_bp_tol(bp_tol) -> float:
    """Belief propagation's tolerance on its messages (probabilities): in (0, MAX_TOL]."""
    return check_real("bp_tol", bp_tol, low=0, high=MAX_TOL, low_open=True)


def _seed_array(seed_probability, n: int) -> np.ndarray:
    if np.ndim(seed_probability) == 0:
        p = check_probability("seed_probability", seed_probability)
        return np.full(n, p)
    arr = np.asarray(seed_probability)
    if arr.shape != (n,):
        raise ValueError(f"seed_probability must be a number or an array of shape ({n},), got {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"seed_probability must hold numbers in [0, 1], got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~((arr >= 0) & (arr <= 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"seed_probability must hold numbers in [0, 1]; entry {i} is {arr[i]!r}")
    return arr


def _model_kind(model) -> str:
    if isinstance(model, FiberBundle):
        raise TypeError(
            "FiberBundle has no size-distribution recursion: the model is history dependent (a failing "
            "node passes on the load it has accumulated), so the state of a node is not a function of "
            "the number of its active neighbours; simulate it instead"
        )
    if isinstance(model, IndependentCascade):
        return "icm"
    if isinstance(model, (FractionalThreshold, AbsoluteThreshold)):
        return "threshold"
    if isinstance(model, WeightedThreshold):
        if isinstance(model.weights, str) and model.weights == "exposure":
            return "threshold"
        raise TypeError(
            "WeightedThreshold with damage or iid random weights is not supported: a node's state "
            "depends on which neighbours are active, not only on how many (only exposure weights, "
            "w_ji = 1/k_i, reduce to a count threshold)"
        )
    if isinstance(model, CascadeModel):
        raise TypeError(f"{type(model).__name__} is not supported by size_distribution")
    raise TypeError(f"model must be a cascades CascadeModel, got {type(model).__name__}")


def _lumped_tables(graph: Graph, model, p_seed: np.ndarray):
    """Per-node lumped tables G_i(m) = p_i + (1 - p_i) F_i(m), m = 0..cut_i (see _dist_kernels)."""
    n = graph.n
    k = graph.degrees.astype(np.int64)
    param = model.phi if isinstance(model, FractionalThreshold) else getattr(model, "theta", None)
    random = param is not None and not isinstance(param, (numbers.Real, np.ndarray))
    if not random:
        # deterministic integer thresholds: F_i(m) = 1[m >= T_i], T_i = k_i + 1 means never
        t = np.asarray(model.rule(graph).threshold, dtype=np.int64)
        never = t > k
        cut = np.where(never, 0, t)
        g_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(cut + 1, out=g_ptr[1:])
        g = np.repeat(p_seed, cut + 1)
        last = g_ptr[1:] - 1
        g[last] = np.where(never, p_seed, 1.0)
        return g_ptr, g, cut
    # random thresholds: F(m, k) = model.response(m, k), one table per degree
    tables = {}
    for kk in np.unique(k):
        f = np.asarray(model.response(np.arange(kk + 1), kk), dtype=np.float64)
        f = np.maximum.accumulate(np.clip(f, 0.0, 1.0))  # monotone in m (guards round-off)
        c = kk
        while c > 0 and f[c - 1] == f[kk]:
            c -= 1
        tables[int(kk)] = f[: c + 1]
    cut = np.array([tables[int(kk)].size - 1 for kk in k], dtype=np.int64)
    g_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(cut + 1, out=g_ptr[1:])
    g = np.empty(int(g_ptr[-1]))
    for i in range(n):
        g[g_ptr[i] : g_ptr[i + 1]] = p_seed[i] + (1.0 - p_seed[i]) * tables[int(k[i])]
    return g_ptr, g, cut


def _entry_keys(graph: Graph) -> np.ndarray:
    rows = np.repeat(np.arange(graph.n, dtype=np.int64), graph.degrees)
    return rows * graph.n + graph.indices.astype(np.int64)  # ascending: rows and columns are sorted


@dataclass
class _Plan:
    """Everything the tree kernels need, for one graph, model and seed law."""

    kind: str
    n: int
    method: str
    forest: sparse.csr_matrix  # symmetric adjacency of the spanning forest
    p_seed: np.ndarray  # (n,), after folding deleted edges (ICM)
    p_edge: np.ndarray | None = None  # ICM, per CSR entry of the graph
    keys: np.ndarray | None = None
    g_ptr: np.ndarray | None = None
    g: np.ndarray | None = None
    cut: np.ndarray | None = None
    ext_ptr: np.ndarray | None = None
    ext_q: np.ndarray | None = None
    info: dict = field(default_factory=dict)


def _plan(
    graph, model, seed_probability, method, bp_tol, bp_max_iter, fold="bp", auto_loopy="bp-tree"
) -> _Plan:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if fold not in _FOLDS:
        raise ValueError(f"fold must be one of {_FOLDS}, got {fold!r}")
    bp_tol = _check_bp_tol(bp_tol)  # checked even where no belief propagation runs (trees)
    bp_max_iter = check_int("bp_max_iter", bp_max_iter, low=1)
    graph = _check_graph(graph)
    kind = _model_kind(model)
    n = graph.n
    p_seed = _seed_array(seed_probability, n)
    adj = graph.to_scipy()
    n_comp = csgraph.connected_components(adj, directed=False)[0] if n else 0
    is_forest = graph.m == n - n_comp
    if method == "tree" and not is_forest:
        raise ValueError(
            f"method='tree' needs a tree or forest (m = n - #components), got n = {n}, m = {graph.m} with "
            f"{n_comp} component(s); use method='bp-tree' (an approximation) for graphs with cycles"
        )
    if method == "auto":
        method = "tree" if is_forest else auto_loopy
    elif method == "two-branch" and is_forest:
        method = "tree"  # exact there
    plan = _Plan(kind=kind, n=n, method=method, forest=adj, p_seed=p_seed)
    plan.info["components"] = n_comp
    keys = _entry_keys(graph)
    plan.keys = keys
    if kind == "icm":
        plan.p_edge = np.asarray(model.rule(graph).p_edge, dtype=np.float64)
    else:
        plan.g_ptr, plan.g, plan.cut = _lumped_tables(graph, model, p_seed)
        plan.ext_ptr = np.zeros(n + 1, dtype=np.int64)
        plan.ext_q = np.zeros(0)
    if method == "bp-tree" and not is_forest:
        _fold_loops(graph, plan, keys, bp_tol, bp_max_iter, fold)
    return plan


def _fold_loops(graph: Graph, plan: _Plan, keys: np.ndarray, tol: float, max_iter: int, fold: str) -> None:
    """Belief propagation, maximum spanning tree, deleted edges folded into their end nodes."""
    n = graph.n
    indptr = graph.indptr.astype(np.int64)
    cols = graph.indices.astype(np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), graph.degrees)
    rev = _reverse(graph).astype(np.int64)
    q = np.zeros(graph.nnz)
    if plan.kind == "icm":
        sweeps = _k.icm_bp(indptr, rev, plan.p_seed, plan.p_edge, tol, max_iter, q)
        # weight of {i, j}: probability that activity crosses it in either direction
        weight = q * plan.p_edge + q[rev] * plan.p_edge[rev]
    else:
        sweeps = _k.threshold_bp(indptr, rev, plan.g_ptr, plan.g, plan.cut, tol, max_iter, q)
        weight = q + q[rev]
    if sweeps > max_iter:
        warnings.warn(
            f"belief propagation did not converge in {max_iter} sweeps (tol {tol:g}); the bp-tree "
            "approximation uses the last messages",
            RuntimeWarning,
            stacklevel=3,
        )
    plan.info["bp_sweeps"] = int(min(sweeps, max_iter))
    marg = np.zeros(n)
    if plan.kind == "icm":
        _k.icm_marginals(indptr, rev, plan.p_seed, plan.p_edge, q, marg)
    else:
        _k.threshold_marginals(indptr, rev, plan.g_ptr, plan.g, plan.cut, q, marg)
    plan.info["bp_mean"] = float(marg.sum())  # the mean size by loopy belief propagation
    upper = rows < cols
    # maximum spanning tree = minimum spanning tree of 3 - weight (weights lie in [0, 2]; all entries > 0)
    w = sparse.csr_matrix((3.0 - weight[upper], (rows[upper], cols[upper])), shape=(n, n))
    mst = csgraph.minimum_spanning_tree(w).tocoo()
    tree_keys = np.concatenate([mst.row * n + mst.col, mst.col * n + mst.row]).astype(np.int64)
    in_tree = np.zeros(graph.nnz, dtype=bool)
    in_tree[np.searchsorted(keys, tree_keys)] = True
    data = np.ones(int(in_tree.sum()))
    plan.forest = sparse.csr_matrix((data, (rows[in_tree], cols[in_tree])), shape=(n, n))
    deleted = ~in_tree  # CSR entries e = (i -> j) of deleted edges, both directions
    plan.info["deleted_edges"] = int(deleted.sum() // 2)
    if fold == "tree":
        # replace the loopy messages of deleted edges by the activation probability of the row node i
        # in the spanning forest alone (exact there, no echo through cycles)
        t_rows, t_cols = rows[in_tree], cols[in_tree]
        t_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(t_rows, minlength=n), out=t_indptr[1:])
        t_keys = t_rows * n + t_cols
        t_rev = np.searchsorted(t_keys, t_cols * n + t_rows)
        tq = np.zeros(t_rows.size)
        marg = np.zeros(n)
        if plan.kind == "icm":
            t_w = plan.p_edge[in_tree]
            _k.icm_bp(t_indptr, t_rev, plan.p_seed, t_w, tol, n + 2, tq)
            _k.icm_marginals(t_indptr, t_rev, plan.p_seed, t_w, tq, marg)
        else:
            _k.threshold_bp(t_indptr, t_rev, plan.g_ptr, plan.g, plan.cut, tol, n + 2, tq)
            _k.threshold_marginals(t_indptr, t_rev, plan.g_ptr, plan.g, plan.cut, tq, marg)
        q = marg[rows]
    # entry e = (i -> j) deleted: j sees i as an outside neighbour active with probability q[e]
    tgt = cols[deleted]
    qd = q[deleted]
    if plan.kind == "icm":
        fail = np.ones(n)
        np.multiply.at(fail, tgt, 1.0 - qd * plan.p_edge[deleted])
        plan.p_seed = 1.0 - (1.0 - plan.p_seed) * fail
    else:
        order = np.argsort(tgt, kind="stable")
        plan.ext_q = qd[order]
        plan.ext_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(tgt, minlength=n), out=plan.ext_ptr[1:])


def _rooted(plan: _Plan, root=None, focus=None):
    """Post-order, parents and children CSR of the spanning forest (``focus`` roots its component)."""
    n = plan.n
    forest = plan.forest
    _, labels = csgraph.connected_components(forest, directed=False)
    roots = {}
    for node in (focus, root):
        if node is not None and labels[node] not in roots:
            roots[labels[node]] = node
    first = np.unique(labels, return_index=True)[1]
    parent = np.full(n, -1, dtype=np.int64)
    orders = []
    comp_roots = []
    for lab, default in enumerate(first):
        r = int(roots.get(lab, default))
        order, pred = csgraph.breadth_first_order(forest, r, directed=False, return_predecessors=True)
        orders.append(order[::-1])
        members = order[1:]
        parent[members] = pred[members]
        comp_roots.append(r)
    order = np.concatenate(orders).astype(np.int64) if orders else np.zeros(0, np.int64)
    child_order = np.argsort(parent, kind="stable")
    child_order = child_order[parent[child_order] >= 0]
    ch_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(parent[parent >= 0], minlength=n), out=ch_ptr[1:])
    return order, parent, ch_ptr, child_order.astype(np.int64), np.array(comp_roots, dtype=np.int64)


def _work(plan: _Plan, n_freq: int) -> float:
    deg = np.diff(plan.forest.indptr)
    if plan.kind == "icm":
        return float(n_freq) * (plan.n + deg.sum())
    ext = np.diff(plan.ext_ptr)
    return float(n_freq) * float(((deg + ext + 1) * (plan.cut + 1)).sum())


def _edge_probabilities(plan: _Plan, parent: np.ndarray):
    """ICM: (w_up[i], w_down[i]) = P(i activates its parent), P(the parent activates i); 0 at roots."""
    n = plan.n
    w_up = np.zeros(n)
    w_down = np.zeros(n)
    child = np.flatnonzero(parent >= 0)
    par = parent[child]
    w_up[child] = plan.p_edge[np.searchsorted(plan.keys, child * n + par)]
    w_down[child] = plan.p_edge[np.searchsorted(plan.keys, par * n + child)]
    return w_up, w_down


#: Target duration in seconds of one call of a compiled kernel over a block of frequencies (or of one
#: block of inversions). A Ctrl-C raised while compiled code runs waits for it to return, so the loops
#: below call the kernels on blocks of about this duration and react to Ctrl-C within about as long.
_CHUNK_SECONDS = 0.2


def _blocks(n_points: int, progress: bool, desc: str, unit: str = "frequency"):
    """Yield (lo, hi) covering 0..n_points in order, each block taking about ``_CHUNK_SECONDS``.

    The first block has one point (a single frequency of a large graph may take a good fraction of
    a second); each next one is sized from the time per point measured on the previous block (at
    most 4 times longer, at least 1 point). Every point is computed on its own
    (the kernels run each frequency independently, or carry their state across calls), so the results
    do not depend on the block sizes. ``progress`` shows a tqdm bar over the points.
    """
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_points, desc=desc, unit=unit)
    try:
        lo, size = 0, 1
        while lo < n_points:
            hi = min(n_points, lo + size)
            start = time.perf_counter()
            yield lo, hi
            per_point = (time.perf_counter() - start) / (hi - lo)
            if bar is not None:
                bar.update(hi - lo)
            limit = _CHUNK_SECONDS / per_point if per_point > 0 else math.inf
            size = int(max(1, min(4 * size, limit)))
            lo = hi
    finally:
        if bar is not None:
            bar.close()


def _sweep(plan: _Plan, rooted, slot_of_root, n_slots, xs, progress=False):
    """Run the tree kernel at the points ``xs``; returns the (full, active) products per slot."""
    order, parent, ch_ptr, ch_idx, comp_roots = rooted
    root_slot = np.zeros(plan.n, dtype=np.int64)
    root_slot[comp_roots] = slot_of_root
    full = np.ones((n_slots, xs.size), dtype=np.complex128)
    act = np.ones((n_slots, xs.size), dtype=np.complex128)
    if plan.kind == "icm":
        w_up, w_down = _edge_probabilities(plan, parent)
    for lo, hi in _blocks(xs.size, progress, "size distribution"):
        fv = full[:, lo:hi].copy()
        av = act[:, lo:hi].copy()
        if plan.kind == "icm":
            _k.icm_tree_gf(
                order, parent, ch_ptr, ch_idx, root_slot, plan.p_seed, w_up, w_down, xs[lo:hi], fv, av
            )
        else:
            _k.threshold_tree_gf(
                order,
                parent,
                ch_ptr,
                ch_idx,
                root_slot,
                plan.g_ptr,
                plan.g,
                plan.cut,
                plan.ext_ptr,
                plan.ext_q,
                xs[lo:hi],
                fv,
                av,
            )
        full[:, lo:hi] = fv
        act[:, lo:hi] = av
    return full, act


def _frequencies(n: int) -> np.ndarray:
    L = n + 1
    return np.exp(-2j * np.pi * np.arange(L // 2 + 1) / L)


def _invert(values: np.ndarray, n: int) -> np.ndarray:
    pmf = np.fft.irfft(values, n=n + 1)
    return np.clip(pmf, 0.0, None)


# ---------------------------------------------------------------------------
# public: the message passing
# ---------------------------------------------------------------------------


def size_distribution(
    graph,
    model,
    seed_probability,
    *,
    root=None,
    method="auto",
    max_work=MAX_WORK,
    bp_tol=1e-12,
    bp_max_iter=1000,
    fold="bp",
    progress=False,
) -> SizeDistribution:
    """The probability of every final cascade size 0..n on a given finite graph.

    Exact on trees and forests: message passing from the leaves to a root,
    where products over children are convolutions in the size and are done
    as pointwise products at the n + 1 roots of unity x_l =
    exp(-2 pi i l / (n + 1)), then one inverse FFT (Burkholz 2019, Burkholz
    & Quackenbush 2021). On graphs with cycles (``method="bp-tree"``, the
    default there): an approximation, see Notes.

    Parameters
    ----------
    graph : Graph
        Undirected and simple. A forest (any number of components) gives an
        exact result.
    model : IndependentCascade, FractionalThreshold, AbsoluteThreshold or WeightedThreshold
        The independent cascade model (one p or one per CSR entry, i.e.
        directional), or a threshold model: fixed, per-node or random
        (scipy.stats) fractional thresholds, absolute thresholds, or
        weighted thresholds with exposure weights. Random thresholds enter
        through the response F(m, k) = P[phi <= m/k] (iid per node).
    seed_probability : float or array_like
        Each node is a seed independently with this probability (one number
        or one per node), in [0, 1].
    root : int, optional
        Node at which to root the tree of its component (default: the
        smallest id of each component). Does not change the result beyond
        round-off.
    method : {"auto", "tree", "two-branch", "bp-tree"}
        ``"tree"`` refuses graphs with cycles; ``"auto"`` uses ``"tree"`` on
        forests and ``"two-branch"`` otherwise (both approximations on
        graphs with cycles are described in the Notes; on forests both
        give the exact ``"tree"`` result).
    max_work : float
        Refuse (ValueError) when the estimated work exceeds this many complex
        multiply-adds (default 4e10, minutes on one core).
    bp_tol, bp_max_iter : float, int
        Convergence of the belief propagation of ``"bp-tree"``: the
        largest change of a message in a sweep, in (0, 0.1]
        (``cascades.meanfield.MAX_TOL``), and the number of sweeps, >= 1.
    fold : {"bp", "tree"}
        ``"bp-tree"`` (and the global branch of ``"two-branch"``): the
        activation probability given to the far end
        of a deleted edge. ``"bp"`` (default; Burkholz 2019): the loopy
        belief-propagation message q_{i->j}. ``"tree"``: the probability
        that i is active in the spanning forest alone (no echo through
        cycles, but blind to activity that reaches i only through deleted
        edges).
    progress : bool
        Show a tqdm progress bar over blocks of frequencies. (An interrupt
        leaves nothing usable: every frequency is needed for the inversion.)

    Returns
    -------
    SizeDistribution

    Raises
    ------
    TypeError
        For a model without a count response (FiberBundle; WeightedThreshold
        with damage or iid weights) or a non-Graph.
    ValueError
        For a directed or non-simple graph, seed probabilities outside
        [0, 1], ``method="tree"`` on a graph with cycles, or an estimated
        work above ``max_work``.

    Notes
    -----
    Independent cascade model (the messages of Burkholz 2019 and Burkholz &
    Quackenbush 2021, equation numbers unverified): each node sends its
    parent three generating functions of its subtree's size, B (it does not
    activate the parent, which stays inactive), A0 (the parent is active and
    not activated by it) and Asum (the parent is active), with
    pwf = (1 - p_i) prod B_c, plfp = (1 - p_i) x prod A0_c and
    pf = x prod Asum_c - plfp.

    Threshold models (derived here for a node-wise threshold, and checked
    against enumeration of all thresholds and seed sets): with
    G_i(m) = p_i + (1 - p_i) F_i(m) the probability that node i is active
    given m active neighbours, the messages are A (the node is active
    without its parent), B (it is not, and the parent stays inactive) and C
    (it is not, and the parent becomes active), built from the 2-variable
    products prod_c (A_c y + B_c) and prod_c (A_c y + C_c), y counting the
    active children; see :mod:`cascades._dist_kernels`. Counts beyond the
    point where F_i stops changing are lumped, so a node of degree d with
    threshold T costs O(d T) per frequency.

    Cost: O((n + 1) / 2 * sum_i (d_i + 1)(c_i + 1)) operations and O(n)
    memory, d_i the number of tree neighbours and c_i the lumping cut (c_i
    = 0 for the ICM, the threshold for fixed thresholds, up to d_i for
    random ones): O(n^2) for the ICM and bounded-degree trees. A tree with
    10^4 nodes takes seconds (see benchmarks/bench_distributions.py).

    bp-tree approximation (graphs with cycles): belief propagation gives,
    for every directed edge, the probability q_{i->j} that i activates
    without j (Gleeson & Porter 2017; Shrestha & Moore 2014); a maximum spanning tree
    with edge weight q_{i->j} w_ij + q_{j->i} w_ji (ICM) or
    q_{i->j} + q_{j->i} (thresholds) is kept (our choice of weight; the
    paper's exact weighting is unverified). Every deleted edge (i, j) is
    folded into its end nodes: for the ICM into the seed probability,
    1 - p_j -> (1 - p_j)(1 - q_{i->j} w_ij); for threshold models as an
    outside neighbour of j active with probability q_{i->j}, independent of
    everything else, which counts towards j's m but not towards the size.
    Correlations through cycles are lost, and each deleted edge becomes an
    independent source of activity: with few seeds that doubles their
    effective number (ER, n = 1000, z = 3, ICM w = 0.25, five expected
    seeds: TV 0.29 from simulation), and where BP sits on its
    global-cascade branch every deleted edge is almost surely active, so
    all the mass goes to the upper mode even when the simulated law is
    bimodal (Watts' window, below: TV 0.32 at n = 1000, 0.42 at n = 10^4).
    ``fold="tree"`` misses the upper mode instead.

    two-branch approximation (graphs with cycles, the default there; our
    construction from standard pieces): with few seeds, a cascade either
    stays in the finite clusters that the seeds reach through single
    activations, or one of them reaches the infinite (giant) cluster of
    such activations and the cascade goes global. The *local branch*
    takes, for every directed edge e = (i -> j), r_e = P(j activates with i
    as its only active neighbour) (w_ij for the ICM; F_j(1) for threshold
    models: Watts' vulnerable nodes, Watts 2002) and the message-passing
    percolation messages on the given graph (Karrer, Newman & Zdeborova
    2014), as generating functions of the size of finite clusters
    (Newman 2007),
    H_e(x) = 1 - r_e + r_e x prod_{l != i} H_{j->l}(x), iterated from 0;
    the seeds' clusters are added as if disjoint,
    T(x) = prod_i (1 - p_i + p_i x prod_j H_{i->j}(x)).
    T(1) = prod_i (1 - p_i tau_i) is the probability that no seed reaches
    the giant (tau_i = 1 - prod_j H_{i->j}(1), the message-passing form of
    Watts' global-cascade probability); the rest, 1 - T(1)
    (``info["giant_weight"]``), goes to the global branch, which has the
    bp-tree law. Threshold models add *ignition*: a cluster of s active
    nodes has about s^2 <k(k-1)> / (2n) outside neighbours with two active
    neighbours, so beyond the loop scale s* = sqrt(2n / <k(k-1)>) its
    spreading is no longer through single activations and the tree-like
    local branch stops being self-consistent. Where loopy BP has a global
    branch (its mean size above twice the local branch's plus 0.05 n), the
    local-branch probability of more than s* active nodes
    (``info["ignited"]``) is moved to the global branch too (our closure;
    s* is derived, not fitted: 8 nodes at n = 1000 and 25 at n = 10^4 for
    z = 5.6, where single-seed simulations show clusters of 20-30 nodes
    starting global cascades at n = 1000). T is
    evaluated at 256 points first and at twice as many while the result
    holds more than 1e-10 in the upper half of its range (aliasing), up to
    n + 1; cost O(#points x sweeps x #edges) plus the bp-tree's when the
    global weight is not negligible. Measured against simulation (ER, two
    expected seeds unless said, n = 1000 unless said; the sampling bound
    on the TV is 0.01-0.02 at n = 2000, 0.05-0.08 at n = 1000 and
    0.06-0.17 at n = 10^4;
    tests/test_distributions_sim.py):

    ==========================================  =========  =======
    case                                        two-branch bp-tree
    ==========================================  =========  =======
    Watts phi = 0.18, z = 5.6 (window edge),    TV 0.052   0.42
    n = 10^4, four graph draws (P(small)        0.067      0.46
    0.39-0.45 vs simulated 0.42-0.51)           0.056      0.45
                                                0.097      0.5
    same, n = 1000 (P(small) 0.28 vs 0.32)      TV 0.057   0.32
    n = 2000, phi ~ N(0.2, 0.05), z = 4         TV 0.020   0.20
    n = 2000, phi ~ N(0.18, 0.05), z = 6        TV 0.010   0.17
    n = 2000, exposure weights, phi 0.2, z = 4  TV 0.008   0.18
    ICM z = 3, w = 0.25, five seeds             TV 0.058   0.288
    ICM z = 3, w = 0.5 (P(small) 0.321 vs .322) TV 0.19    0.45
    Watts phi = 0.3, z = 3, 20 seeds            TV 0.52    0.52
    ==========================================  =========  =======

    Where it errs: (i) the ignition closure sends a little too much to the
    global branch (P(small) 0.03-0.06 below simulation at the window
    edge): not every cluster beyond s* starts a global cascade. It acts on
    the total local size, so with many seeds (20 above) everything is sent
    to the global branch and the small mode is lost. (ii) The upper mode
    is the bp-tree law's: for the ICM its width is too small (sd 20 vs 31
    nodes; the giant's size fluctuations come from correlations through
    cycles). (iii) Seeds that start cascades together without a global
    branch of BP's cannot be represented; for threshold models (in the ICM,
    BP has a global branch exactly when there is a giant cluster) a
    RuntimeWarning says so when loopy BP's mean size is more than twice
    the approximation's (plus 0.05 n) while the global weight is below
    0.01. (iv) For fixed
    thresholds, a cycle of vulnerable nodes counts as infinite in message
    passing (its messages stay 0), so seeds next to small vulnerable cycles
    are sent to the global branch (ER z = 0.9, phi = 0.18: weight 0.15,
    TV 0.12).
    Exact results need a tree; on loopy graphs check against simulation.

    References
    ----------
    R. Burkholz, "Efficient message passing for cascade size distributions",
    Sci. Rep. 9, 6561 (2019).
    R. Burkholz and J. Quackenbush, "Cascade size distributions: why they
    matter and how to compute them efficiently", Proc. AAAI 35 (2021),
    arXiv:1909.05416.
    J. P. Gleeson and M. A. Porter, "Message-passing methods for complex
    contagions", in Complex Spreading Phenomena in Social Systems (2018),
    arXiv:1703.08046.
    D. J. Watts, "A simple model of global cascades on random networks",
    PNAS 99, 5766 (2002).
    B. Karrer, M. E. J. Newman and L. Zdeborova, "Percolation on sparse
    networks", Phys. Rev. Lett. 113, 208702 (2014).
    M. E. J. Newman, "Component sizes in networks with arbitrary degree
    distributions", Phys. Rev. E 76, 045101 (2007).

    Examples
    --------
    A path of three nodes, the middle one a seed for sure, p = 1/2 per edge:

    >>> from cascades.graphs import from_edges
    >>> from cascades.models import IndependentCascade
    >>> path = from_edges([(0, 1), (1, 2)])
    >>> d = size_distribution(path, IndependentCascade(0.5), [0.0, 1.0, 0.0])
    >>> np.round(d.pmf, 12)
    array([0.  , 0.25, 0.5 , 0.25])

    Watts' model on a star with centre 0 and random thresholds:

    >>> from scipy import stats
    >>> from cascades.models import FractionalThreshold
    >>> star = from_edges([(0, i) for i in range(1, 6)])
    >>> d = size_distribution(star, FractionalThreshold(stats.uniform(0, 1)), 0.1)
    >>> d.n, round(float(d.pmf.sum()), 12)
    (6, 1.0)
    """
    plan = _plan(graph, model, seed_probability, method, bp_tol, bp_max_iter, fold, auto_loopy="two-branch")
    n = plan.n
    if root is not None:
        root = check_int("root", root, low=0, high=max(n - 1, 0))
    max_work = check_real("max_work", max_work, low=0, low_open=True)
    if n == 0:
        return SizeDistribution(np.ones(1), plan.method, plan.info)
    if plan.method == "two-branch":
        return _two_branch(graph, model, plan, root, max_work, bp_tol, bp_max_iter, fold, progress)
    return _tree_distribution(plan, root, max_work, progress)


def _tree_distribution(plan: _Plan, root, max_work: float, progress: bool) -> SizeDistribution:
    """The tree recursion over all n + 1 frequencies (exact on forests; bp-tree on folded plans)."""
    n = plan.n
    xs = _frequencies(n)
    work = _work(plan, xs.size)
    if work > max_work:
        raise ValueError(
            f"the {plan.method} message passing would need about {work:.3g} operations on this graph "
            f"(n = {n}), above max_work = {max_work:.3g}; the cost grows like n^2 times the degrees "
            f"(and thresholds) of the tree nodes: raise max_work if you can wait, or simulate"
        )
    rooted = _rooted(plan, root=root)
    # one slot: the kernel multiplies the generating functions of all components (convolution)
    full, _ = _sweep(plan, rooted, 0, 1, xs, progress)
    pmf = _invert(full[0], n)
    pmf /= pmf.sum()
    info = dict(plan.info, work=work)
    return SizeDistribution(pmf, plan.method, info)


#: Frequencies of the local branch's first pass; doubled (up to n + 1) while the aliasing check fails.
_LOCAL_FREQ0 = 256
#: Largest probability the local branch may hold in the upper half of its size range before doubling it.
_ALIAS_TOL = 1e-10
#: Convergence of the local branch's messages (largest change of a message in one sweep).
_LOCAL_TOL = 1e-13
_LOCAL_MAX_ITER = 100_000


def _linear_response(graph: Graph, model, plan: _Plan):
    """Per CSR entry e = (i -> j): P(j activates with i as its only active neighbour); seed probabilities.

    Threshold models: r_e = F_j(1) and the seeds include spontaneous activation, G_i(0) = p_i + (1 - p_i)
    F_i(0). ICM: r_e = w_ij and the seeds as given.
    """
    if plan.kind == "icm":
        return plan.p_edge, plan.p_seed.copy()
    g_ptr, f, cut = _lumped_tables(graph, model, np.zeros(plan.n))
    f1 = f[g_ptr[:-1] + np.minimum(1, cut)]
    f0 = f[g_ptr[:-1]]
    r = f1[graph.indices.astype(np.int64)]
    return r, plan.p_seed + (1.0 - plan.p_seed) * f0


def _local_branch(graph: Graph, r, p_seed, max_work: float, progress: bool):
    """Law of the total size of the seeds' finite clusters (sub-probability: its mass is P(no global))."""
    n = graph.n
    indptr = graph.indptr.astype(np.int64)
    cols = graph.indices.astype(np.int64)
    rev = _reverse(graph).astype(np.int64)
    r = np.ascontiguousarray(r, dtype=np.float64)
    p_seed = np.ascontiguousarray(p_seed, dtype=np.float64)

    messages = np.zeros(graph.nnz, dtype=np.complex128)
    order = np.empty(n, dtype=np.int64)
    _k.peeling_order(indptr, cols, (r > 0) & (r[rev] > 0), order)

    def run(xs, progress=False):
        messages[:] = 0.0  # x = 1 comes first: iterate from 0 to the finite-cluster fixed point
        out = np.empty(xs.size, dtype=np.complex128)
        sweeps = np.zeros(xs.size, dtype=np.int64)
        for lo, hi in _blocks(xs.size, progress, "size distribution (local branch)"):
            _k.linear_cluster_gf(
                indptr,
                rev,
                r,
                p_seed,
                order,
                xs[lo:hi],
                _LOCAL_TOL,
                _LOCAL_MAX_ITER,
                messages,
                out[lo:hi],
                sweeps[lo:hi],
            )
        if sweeps.max(initial=0) >= _LOCAL_MAX_ITER:
            warnings.warn(
                f"the local-branch messages did not converge in {_LOCAL_MAX_ITER} sweeps at "
                f"{int((sweeps >= _LOCAL_MAX_ITER).sum())} frequencies; the result uses the last messages",
                RuntimeWarning,
                stacklevel=5,
            )
        return out, sweeps

    at_one, sweeps_one = run(np.ones(1, dtype=np.complex128))
    p_local = float(np.clip(at_one[0].real, 0.0, 1.0))
    per_sweep = 4.0 * max(graph.nnz, 1) + n
    L = min(n + 1, _LOCAL_FREQ0)
    while True:
        n_freq = L // 2 + 1
        work = float(n_freq) * float(sweeps_one[0]) * per_sweep
        if work > max_work:
            raise ValueError(
                f"the local branch of the two-branch approximation would need about {work:.3g} operations "
                f"({n_freq} frequencies, {int(sweeps_one[0])} sweeps of {graph.nnz} messages), above "
                f"max_work = {max_work:.3g}: raise max_work if you can wait, or simulate"
            )
        xs = np.exp(-2j * np.pi * np.arange(n_freq) / L)
        out, sweeps = run(xs, progress)
        local = np.clip(np.fft.irfft(out, n=L), 0.0, None)
        if L >= n + 1 or local[L // 2 :].sum() <= _ALIAS_TOL:
            break
        L = min(2 * L, n + 1)
    pmf = np.zeros(n + 1)
    pmf[: min(L, n + 1)] = local[: n + 1]
    info = {
        "local_frequencies": L,
        "local_sweeps": int(sweeps.max(initial=0)),
        "local_work": work,
    }
    return pmf, p_local, info


def _two_branch(graph, model, plan: _Plan, root, max_work, bp_tol, bp_max_iter, fold, progress):
    """Local branch (finite linear-response clusters) plus the bp-tree law weighted by P(global)."""
    r, p_eff = _linear_response(graph, model, plan)
    local, p_local, info = _local_branch(graph, r, p_eff, max_work, progress)
    weight = max(0.0, 1.0 - p_local)
    info = dict(plan.info, **info, giant_weight=weight, ignited=0.0)
    folded = False
    if plan.kind == "threshold":
        # ignition (see Notes): where loopy BP has a global branch, local clusters beyond the loop scale
        # s* = sqrt(2 n / <k(k-1)>) go to it
        _fold_plan(graph, plan, bp_tol, bp_max_iter, fold)
        folded = True
        k = graph.degrees.astype(np.float64)
        pairs = float(np.mean(k * (k - 1.0))) if plan.n else 0.0
        s_star = math.sqrt(2.0 * plan.n / pairs) if pairs > 0 else math.inf
        info["loop_scale"] = s_star
        local_mean = float(np.arange(local.size) @ local) / p_local if p_local > 0 else 0.0
        if plan.info["bp_mean"] > 2.0 * local_mean + 0.05 * plan.n and s_star < plan.n:
            cut = int(math.floor(s_star))
            ignited = float(local[cut + 1 :].sum())
            local = local.copy()
            local[cut + 1 :] = 0.0
            weight += ignited
            info["ignited"] = ignited
    info["global_weight"] = weight
    pmf = local
    if weight > _GLOBAL_MIN:
        if not folded:
            _fold_plan(graph, plan, bp_tol, bp_max_iter, fold)
        upper = _tree_distribution(plan, root, max_work, progress)
        pmf = pmf + weight * upper.pmf
        info.update(
            bp_sweeps=upper.info["bp_sweeps"],
            deleted_edges=upper.info["deleted_edges"],
            bp_mean=upper.info["bp_mean"],
            work=info["local_work"] + upper.info["work"],
        )
    else:
        info["work"] = info["local_work"]
        if folded:
            info["bp_mean"] = plan.info["bp_mean"]
    del info["local_work"]
    pmf /= pmf.sum()
    if plan.kind == "threshold" and weight < _COLLECTIVE_WEIGHT:
        _check_collective(plan.n, pmf, info["bp_mean"])
    return SizeDistribution(pmf, "two-branch", info)


def _fold_plan(graph, plan: _Plan, bp_tol, bp_max_iter, fold) -> None:
    """Turn a two-branch plan into the bp-tree plan of its global branch (belief propagation, tree, folds)."""
    plan.method = "bp-tree"
    _fold_loops(
        graph, plan, plan.keys, _check_bp_tol(bp_tol), check_int("bp_max_iter", bp_max_iter, low=1), fold
    )


#: Global weights below this trigger the check for cascades that only many seeds together can start.
_COLLECTIVE_WEIGHT = 0.01


def _check_collective(n: int, pmf, bp_mean: float) -> None:
    """Warn when loopy BP spreads far more than the approximation: seeds that act together (see Notes).

    Threshold models only: in the ICM, BP has a global branch exactly when there is a giant cluster.
    """
    mean = float(np.arange(pmf.size) @ pmf)
    if bp_mean > 2.0 * mean + 0.05 * n:
        warnings.warn(
            f"loopy belief propagation activates {bp_mean:.4g} nodes on average, the two-branch "
            f"approximation {mean:.4g}: the seeds are dense enough to start cascades together, which its "
            "local branch (independent clusters of single seeds) cannot represent; check against simulation",
            RuntimeWarning,
            stacklevel=4,
        )


_ALGORITHMS = ("two-pass", "reroot")

#: numpy evaluates ``a * temporary`` in place into the temporary from this size on (NPY_MIN_ELIDE_BYTES).
_ELIDED_BYTES = 256 * 1024

#: Working memory (complex numbers) allowed for the prefix polynomials of the two-pass threshold kernel.
_TWO_PASS_MEMORY = 2**22


def _two_pass_work(plan: _Plan, n_freq: int) -> float:
    """Estimated work of the two-pass (all roots at once) message passing over ``n_freq`` frequencies."""
    if plan.kind == "icm":
        return 3.0 * _work(plan, n_freq)
    deg = np.diff(plan.forest.indptr)
    # upward + downward sweeps and the roots, plus the lumped products "all neighbours but one"
    return 3.0 * _work(plan, n_freq) + float(n_freq) * float((deg * (plan.cut + 1) ** 2).sum())


def _two_pass(plan: _Plan, uniq: np.ndarray, xs: np.ndarray, progress: bool):
    """Upward + downward passes at the points ``xs``, in blocks of frequencies (Ctrl-C acts between them).

    Returns ``act`` (len(uniq), len(xs)): the GF of (v active, size of v's
    component) for the distinct requested nodes ``uniq``; ``full``
    (n_components, len(xs)): the GF of each component's size; and the
    component label of every node.
    """
    n = plan.n
    order, parent, ch_ptr, ch_idx, comp_roots = _rooted(plan)
    labels = csgraph.connected_components(plan.forest, directed=False)[1].astype(np.int64)
    n_comp = comp_roots.size
    root_slot = np.zeros(n, dtype=np.int64)
    root_slot[comp_roots] = labels[comp_roots]
    node_slot = np.full(n, -1, dtype=np.int64)
    node_slot[uniq] = np.arange(uniq.size)
    act = np.zeros((uniq.size, xs.size), dtype=np.complex128)
    full = np.ones((n_comp, xs.size), dtype=np.complex128)
    if plan.kind == "icm":
        w_up, w_down = _edge_probabilities(plan, parent)
        nb = 1
    else:
        n_ch = np.diff(ch_ptr)
        per_freq = 2 * int(((n_ch + 1) * (plan.cut + 1)).max(initial=1))
        nb = int(max(1, min(_k._BLOCK, _TWO_PASS_MEMORY // per_freq)))
    for lo, hi in _blocks(xs.size, progress, "conditional activation"):
        fv = np.ones((n_comp, hi - lo), dtype=np.complex128)
        av = np.zeros((uniq.size, hi - lo), dtype=np.complex128)
        if plan.kind == "icm":
            _k.icm_tree_gf_all(
                order,
                parent,
                ch_ptr,
                ch_idx,
                root_slot,
                plan.p_seed,
                w_up,
                w_down,
                xs[lo:hi],
                node_slot,
                fv,
                av,
            )
        else:
            _k.threshold_tree_gf_all(
                order,
                parent,
                ch_ptr,
                ch_idx,
                root_slot,
                plan.g_ptr,
                plan.g,
                plan.cut,
                plan.ext_ptr,
                plan.ext_q,
                xs[lo:hi],
                node_slot,
                nb,
                fv,
                av,
            )
        full[:, lo:hi] = fv
        act[:, lo:hi] = av
    return act, full, labels


def _distinct_in_order(nodes: np.ndarray):
    """(uniq, first, inv): the distinct ``nodes`` in the order they first appear, the position of that
    first appearance, and ``inv`` with ``nodes == uniq[inv]``."""
    _, first, inv = np.unique(nodes, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")
    position = np.empty(by_first.size, dtype=np.int64)
    position[by_first] = np.arange(by_first.size)
    return nodes[first[by_first]], first[by_first], position[inv.ravel()]


def _two_pass_bytes(plan: _Plan, n_nodes: int, n_uniq: int, n_freq: int) -> int:
    """Bytes the two-pass scheme holds at once (a lower bound): the output, every requested node's GF
    at every frequency, and the components' GFs with their prefix, suffix and leave-one-out products."""
    n_comp = int(plan.info.get("components", 1))
    return 8 * (plan.n + 1) * n_nodes + 16 * n_uniq * n_freq + 4 * 16 * n_comp * n_freq


def _conditional_two_pass(plan: _Plan, nodes: np.ndarray, xs: np.ndarray, progress: bool):
    """(joint, dist) by the two-pass scheme, Ctrl-C acting within about ``_CHUNK_SECONDS``.

    The message passes give every node's GF at a block of frequencies at a
    time, so until the last block is done no node is finished: a Ctrl-C
    there keeps nothing (``partial`` is None). Then the nodes are inverted
    (one inverse FFT each) in blocks, in the order of ``nodes``: a Ctrl-C
    there keeps the nodes finished so far, ``nodes[:done]``, like the
    rerooting algorithm. The numbers do not depend on the blocks.
    """
    n = plan.n
    uniq, first, inv = _distinct_in_order(nodes)
    joint = None
    done = 0
    try:
        act, full, labels = _two_pass(plan, uniq, xs, progress)
        # others[k]: product of the full GFs of all components but k (prefix x suffix, no division)
        pre = np.cumprod(np.vstack([np.ones((1, xs.size)), full[:-1]]), axis=0)
        suf = np.cumprod(np.vstack([np.ones((1, xs.size)), full[:0:-1]]), axis=0)[::-1]
        others = pre * suf
        pmf = _invert(full[-1] * pre[-1], n)
        del pre, suf
        dist = SizeDistribution(pmf / pmf.sum(), plan.method, plan.info)
        # column-major: a node's column is contiguous, written once, and kept without a copy on Ctrl-C
        joint = np.empty((n + 1, nodes.size), order="F")
        columns = np.argsort(inv, kind="stable")  # the positions in ``nodes`` of uniq[0], uniq[1], ...
        bounds = np.searchsorted(inv[columns], np.arange(uniq.size + 1))
        # GF of (v active, S) = GF of v's component with v active x the other components' GFs. The last
        # bit of numpy's complex product depends on the operand order (not on the blocks), and the
        # numbers are kept as they were when this was one expression, act * others[labels[uniq]]:
        # numpy evaluated it as others[...] * act into its temporary when that held at least 256 KiB
        # (its "temporary elision"), else as act * others[...]. Small arrays: at once; large: by blocks.
        in_blocks = act.nbytes >= _ELIDED_BYTES
        if not in_blocks:
            act = act * others[labels[uniq]]
        for lo, hi in _blocks(uniq.size, False, "", unit="node"):
            block = act[lo:hi]
            if in_blocks:
                np.multiply(others[labels[uniq[lo:hi]]], block, out=block)
            values = _invert(block, n)  # one inverse FFT per row: the same numbers in any blocks
            cols = columns[bounds[lo] : bounds[hi]]
            joint[:, cols] = np.minimum(values[inv[cols] - lo].T, dist.pmf[:, None])
            done = hi
    except KeyboardInterrupt:
        finished = 0  # nodes[:finished] are done
        if joint is not None:
            finished = int(first[done]) if done < uniq.size else nodes.size
        partial = None
        if finished:
            partial = ConditionalActivation(readonly(joint[:, :finished]), dist, _readonly(nodes[:finished]))
        where = "while inverting the GFs" if joint is not None else "during the message passes"
        raise ConditionalActivationInterrupted(partial, nodes.size, where) from None
    return joint, dist


def conditional_activation(
    graph,
    model,
    seed_probability,
    *,
    nodes=None,
    method="auto",
    max_work=MAX_WORK,
    bp_tol=1e-12,
    bp_max_iter=1000,
    fold="bp",
    progress=False,
    algorithm="two-pass",
) -> ConditionalActivation:
    """P(node i active, S = s) and P(node i active | S = s) for every size s.

    The quantity Burkholz & Quackenbush (2021) use for influence and
    clustering: which nodes are active in cascades of a given size. For
    each requested node v, the part of the generating function of v's
    (spanning) tree in which v is active, seen with v as the root, times
    the full generating functions of the other components. Same models as
    :func:`size_distribution`; on graphs with cycles ``method="auto"``
    means ``"bp-tree"`` here (the two-branch mixture has no single tree to
    root, and ``"two-branch"`` is refused).

    Parameters
    ----------
    graph, model, seed_probability, method, max_work, bp_tol, bp_max_iter, fold
        As in :func:`size_distribution`; ``max_work`` bounds the total work
        (of the whole two-pass computation, or of all the rerooted sweeps).
    nodes : array_like of int, optional
        The nodes to report (default: all).
    progress : bool
        A tqdm progress bar (over blocks of frequencies for ``"two-pass"``,
        over the nodes for ``"reroot"``).
    algorithm : {"two-pass", "reroot"}
        ``"two-pass"`` (default): one upward and one downward message pass
        per frequency give every node's value at once (see Notes).
        ``"reroot"``: the reference implementation, one full sweep of the
        tree rerooted at each requested node.

    Returns
    -------
    ConditionalActivation

    Raises
    ------
    ConditionalActivationInterrupted
        On Ctrl-C (a KeyboardInterrupt), within about a second (the
        compiled kernels run on blocks of frequencies of about 0.2 s each,
        and Ctrl-C acts between blocks). Its ``partial`` attribute holds
        the result for the nodes finished so far, ``nodes[:done]`` (None
        if none is): with ``algorithm="reroot"`` node after node; with
        ``"two-pass"`` the message passes give every node its values at
        all frequencies only at their very end (``partial`` is None before
        that), and then the nodes are inverted (one inverse FFT each) in
        the order of ``nodes``, those done so far being kept.
    cascades.MemoryLimitError
        If the output, O(len(nodes) n), and the working arrays would not
        fit in memory (see :func:`cascades.memory_limit`).
    TypeError, ValueError
        As :func:`size_distribution`; also for node ids outside [0, n) and
        an unknown ``algorithm``.

    Notes
    -----
    ``"two-pass"`` is the usual all-roots-at-once message passing: at each
    frequency, an upward pass (children before parents, as in
    :func:`size_distribution`) and a downward pass that sends every node
    the message of the rest of the tree (its parent's side), computed with
    prefix and suffix products over the parent's neighbours so that leaving
    out one neighbour costs no division. Each node then combines the
    messages of all its tree neighbours as if it were the root. For the
    ICM the messages are scalars; for threshold models they are count
    polynomials lumped at ``cut``, and leaving out one child costs a lumped
    polynomial product, O(cut^2) (the external factors of the bp-tree
    folding belong to the node, not to a neighbour).

    Cost: ``"two-pass"`` about three sweeps of :func:`size_distribution`
    for the ICM; for threshold models about three sweeps plus
    sum_i deg_i (cut_i + 1)^2 per frequency (small unless hubs have large
    cuts), whatever the number of requested nodes. Memory: the output,
    O(len(nodes) n), plus O(n) messages per frequency (threshold models:
    blocks of up to 32 frequencies); ``"two-pass"`` also holds every
    requested node's GF at every frequency, O(len(nodes) n) complex
    numbers. ``"reroot"``: len(nodes) times :func:`size_distribution`.
    The two agree to round-off.

    References
    ----------
    R. Burkholz and J. Quackenbush, "Cascade size distributions: why they
    matter and how to compute them efficiently", Proc. AAAI 35 (2021),
    arXiv:1909.05416.

    Examples
    --------
    On a path 0 - 1 - 2 with one sure seed at 0 and p = 1 per edge, every
    node is active and the size is 3:

    >>> from cascades.graphs import from_edges
    >>> from cascades.models import IndependentCascade
    >>> c = conditional_activation(from_edges([(0, 1), (1, 2)]), IndependentCascade(1.0), [1.0, 0, 0])
    >>> np.round(c.at(3), 12)
    array([1., 1., 1.])
    """
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"algorithm must be one of {_ALGORITHMS}, got {algorithm!r}")
    if method == "two-branch":
        raise ValueError(
            "conditional_activation supports method 'auto', 'tree' or 'bp-tree' (one tree to reroot); "
            "'two-branch' is a mixture of two approximations and is only available in size_distribution"
        )
    plan = _plan(graph, model, seed_probability, method, bp_tol, bp_max_iter, fold)
    n = plan.n
    nodes = np.arange(n) if nodes is None else np.asarray(nodes)
    if nodes.ndim != 1 or (nodes.size and nodes.dtype.kind not in "iu"):
        raise ValueError("nodes must be a 1-dimensional array of node ids")
    if nodes.size and (nodes.min() < 0 or nodes.max() >= n):
        raise ValueError(f"nodes must be node ids in [0, {n - 1}]")
    nodes = nodes.astype(np.int64)
    max_work = check_real("max_work", max_work, low=0, low_open=True)
    xs = _frequencies(n)
    if algorithm == "two-pass" and n:
        n_uniq = int(np.unique(nodes).size)
        check_memory(
            _two_pass_bytes(plan, nodes.size, n_uniq, xs.size),
            parameter=f"nodes ({nodes.size} of them, n = {n})",
            what="P(active, S = s) for every requested node and size, and every node's GF at every frequency",
        )
        work = _two_pass_work(plan, xs.size)
        if work > max_work:
            raise ValueError(
                f"conditional_activation would need about {work:.3g} operations (two-pass message passing, "
                f"n = {n}), above max_work = {max_work:.3g}; raise max_work if you can wait, or simulate"
            )
        joint, dist = _conditional_two_pass(plan, nodes, xs, progress)
        return ConditionalActivation(readonly(joint), dist, _readonly(nodes))
    work = _work(plan, xs.size) * max(1, nodes.size)
    if work > max_work:
        raise ValueError(
            f"conditional_activation would need about {work:.3g} operations ({nodes.size} rerooted sweeps, "
            f"n = {n}), above max_work = {max_work:.3g}; ask for fewer nodes or raise max_work"
        )
    check_memory(
        8 * (n + 1) * nodes.size + 4 * 16 * xs.size,
        parameter=f"nodes ({nodes.size} of them, n = {n})",
        what="P(active, S = s) for every requested node and size",
    )
    joint = np.zeros((n + 1, nodes.size))
    dist = None
    done = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=nodes.size, desc="conditional activation", unit="node")
    try:
        for j, v in enumerate(nodes):
            rooted = _rooted(plan, focus=int(v))
            slots = np.where(rooted[4] == v, 0, 1)  # slot 0: v's component rooted at v; 1: the others
            full, act = _sweep(plan, rooted, slots, 2, xs)
            others = full[1]
            joint[:, j] = _invert(act[0] * others, n)
            if dist is None:
                pmf = _invert(full[0] * others, n)
                dist = SizeDistribution(pmf / pmf.sum(), plan.method, plan.info)
            done = j + 1
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        partial = None
        if dist is not None and done:
            part = np.minimum(joint[:, :done], dist.pmf[:, None])
            partial = ConditionalActivation(_readonly(part), dist, _readonly(nodes[:done]))
        raise ConditionalActivationInterrupted(partial, nodes.size) from None
    finally:
        if bar is not None:
            bar.close()
    if dist is None:
        dist = size_distribution(graph, model, seed_probability, method=method, max_work=max_work)
    joint = np.minimum(joint, dist.pmf[:, None])
    return ConditionalActivation(_readonly(joint), dist, _readonly(nodes))


# ---------------------------------------------------------------------------
# public: closed forms
# ---------------------------------------------------------------------------


def _threshold_cdf(model_or_cdf, k: int, strict_name: str) -> np.ndarray:
    """F(m, k), m = 0..k, from a model with a response or from a cdf of the fractional threshold."""
    if isinstance(model_or_cdf, CascadeModel):
        if _model_kind(model_or_cdf) != "threshold":
            raise TypeError(f"{strict_name} is for threshold models; use size_distribution")
        if not model_or_cdf.has_response:
            raise ValueError(
                f"{strict_name} needs a model with a common response F(m, k) (iid thresholds), got "
                f"per-node parameters in {model_or_cdf!r}"
            )
        f = np.asarray(model_or_cdf.response(np.arange(k + 1), k), dtype=np.float64)
    elif callable(model_or_cdf) or callable(getattr(model_or_cdf, "cdf", None)):
        cdf = model_or_cdf.cdf if callable(getattr(model_or_cdf, "cdf", None)) else model_or_cdf
        x = np.arange(k + 1) / k if k > 0 else np.zeros(1)
        f = np.asarray(cdf(x), dtype=np.float64).reshape(k + 1)
    else:
        raise TypeError(
            f"{strict_name}: model must be a CascadeModel with a response or a threshold cdf "
            f"(a callable or a frozen scipy.stats distribution), got {type(model_or_cdf).__name__}"
        )
    if not np.all(np.isfinite(f)) or np.any(f < -1e-12) or np.any(f > 1 + 1e-12):
        raise ValueError(f"{strict_name}: the response F(m, k) must lie in [0, 1]")
    return np.maximum.accumulate(np.clip(f, 0.0, 1.0))


def complete_graph_size_distribution(n, model, seed_probability) -> SizeDistribution:
    """Final-size law of a threshold cascade on the complete graph K_n with iid thresholds.

    Every node has k = n - 1 neighbours; with G(m) = p + (1 - p) F(m, n - 1)
    the probability that a node is active once m others are (seed or
    threshold), the size is the first m with N(m) <= m, where N(m) counts
    the nodes with (effective integer) threshold <= m (Burkholz, Herrmann &
    Schweitzer 2018). Equivalently (derived in
    ``theory/size_distributions.py`` and checked there in exact rationals):

        P(S = s) = C(n, s) Q_s (1 - G(s))^(n - s),
        Q_s = G(s-1)^s - sum_{j<s} C(s, j) Q_j (G(s-1) - G(j))^(s-j),  Q_0 = 1,

    (eq. number in the paper unverified). The recursion cancels
    catastrophically for large n, so the numbers are computed by an
    equivalent forward recursion over the threshold levels with only
    positive terms, O(n^3) (:func:`cascades._dist_kernels.complete_graph_dp`).

    Parameters
    ----------
    n : int
        Number of nodes, >= 1.
    model : CascadeModel or callable
        A model with a response F(m, k) (FractionalThreshold with a number
        or a scipy.stats distribution, AbsoluteThreshold, WeightedThreshold
        with exposure weights), or the cdf of the fractional threshold phi
        (a callable or frozen distribution; F(m, k) = cdf(m / k)).
    seed_probability : float
        Each node is a seed independently with this probability.

    Returns
    -------
    SizeDistribution

    References
    ----------
    R. Burkholz, H. J. Herrmann and F. Schweitzer, "Explicit size
    distributions of failure cascades redefine systemic risk on finite
    networks", Sci. Rep. 8, 6878 (2018).

    Examples
    --------
    >>> from cascades.models import FractionalThreshold
    >>> d = complete_graph_size_distribution(4, FractionalThreshold(0.5), 0.25)
    >>> round(float(d.pmf.sum()), 12), round(float(d.pmf[0]), 6)  # no seed: 0.75^4
    (1.0, 0.316406)
    """
    n = check_int("n", n, low=1, high=5000)
    p = check_probability("seed_probability", seed_probability)
    f = _threshold_cdf(model, n - 1, "complete_graph_size_distribution")
    g = p + (1.0 - p) * f
    out = np.zeros(n + 1)
    _k.complete_graph_dp(np.ascontiguousarray(g), out)
    out = np.clip(out, 0.0, None)
    return SizeDistribution(out / out.sum(), "complete", {"n": n})


def star_size_distribution(n_leaves, model, seed_probability, *, leaf_model=None) -> SizeDistribution:
    """Final-size law of a threshold cascade on a star (one centre, ``n_leaves`` leaves), iid thresholds.

    With a = G_leaf(0) (a leaf active on its own), b = (G_leaf(1) - a) / (1 - a)
    (a leaf not active on its own that the failed centre activates) and
    G_c(m) the centre's activation probability given m active leaves, and
    M ~ Binomial(d, a) the leaves active on their own (d = ``n_leaves``):

        P(S = s) = sum_M Bin(M; d, a) [ (1 - G_c(M)) 1{s = M}
                   + G_c(M) Bin(s - 1 - M; d - M, b) ]

    (Burkholz, Herrmann & Schweitzer 2018; eq. number unverified, derived in
    ``theory/size_distributions.py``). O(d^2).

    Parameters
    ----------
    n_leaves : int
        Number of leaves d >= 0 (the star has d + 1 nodes; node 0 is the
        centre).
    model : CascadeModel or callable
        As in :func:`complete_graph_size_distribution`; the centre uses
        F(m, d), the leaves F(m, 1).
    seed_probability : float
    leaf_model : optional
        A different model (or cdf) for the leaves.

    Returns
    -------
    SizeDistribution

    References
    ----------
    R. Burkholz, H. J. Herrmann and F. Schweitzer, "Explicit size
    distributions of failure cascades redefine systemic risk on finite
    networks", Sci. Rep. 8, 6878 (2018).

    Examples
    --------
    >>> from scipy import stats
    >>> d = star_size_distribution(10, stats.uniform(0, 1), 0.05)
    >>> d.n, round(float(d.pmf.sum()), 12)
    (11, 1.0)
    """
    d = check_int("n_leaves", n_leaves, low=0, high=10**6)
    p = check_probability("seed_probability", seed_probability)
    gc = p + (1.0 - p) * _threshold_cdf(model, d, "star_size_distribution")
    leaf = model if leaf_model is None else leaf_model
    gl = p + (1.0 - p) * _threshold_cdf(leaf, 1, "star_size_distribution")
    a = float(gl[0])
    b = 0.0 if a >= 1.0 else float(min(1.0, max(0.0, (gl[1] - a) / (1.0 - a))))
    pmf = np.zeros(d + 2)
    m = np.arange(d + 1)
    bm = binom_pmf(m, d, a)
    pmf[: d + 1] += bm * (1.0 - gc)
    for mm in range(d + 1):
        if bm[mm] * gc[mm] == 0.0:
            continue
        extra = binom_pmf(np.arange(d - mm + 1), d - mm, b)
        pmf[mm + 1 : d + 2] += bm[mm] * gc[mm] * extra
    pmf = np.clip(pmf, 0.0, None)
    return SizeDistribution(pmf / pmf.sum(), "star", {"n_leaves": d})


# ---------------------------------------------------------------------------
# public: the Monte Carlo side
# ---------------------------------------------------------------------------


#: Bytes per size 0..n of empirical_size_distribution: counts, pmf, bounds, cdf and bands, temporaries.
_EMPIRICAL_BYTES = 96

#: How far from 1 the sum of a pmf given to total_variation / sampling_tv_bound may be.
_PMF_SUM_TOL = 1e-8


def _as_pmf(x, name: str) -> np.ndarray:
    """A valid pmf over sizes 0, 1, ...: non-empty, 1-d, finite, >= 0, summing to 1 within 1e-8."""
    if isinstance(x, (SizeDistribution, EmpiricalSizeDistribution)):
        return np.asarray(x.pmf, dtype=np.float64)
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.size == 0:
        empty = " (an empty array is no probability distribution)" if arr.size == 0 else ""
        raise ValueError(
            f"{name} must be a non-empty 1-dimensional pmf or a SizeDistribution, "
            f"got shape {arr.shape}{empty}"
        )
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold probabilities (real numbers), got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must hold finite probabilities >= 0; entry {i} is {float(arr[i])!r}")
    total = math.fsum(arr)
    if abs(total - 1.0) > _PMF_SUM_TOL:
        raise ValueError(f"{name} must sum to 1 (within {_PMF_SUM_TOL:g}), got sum {total!r}")
    return arr


def total_variation(p, q) -> float:
    """Total variation distance sup_A |P(A) - Q(A)| = (1/2) sum_s |p_s - q_s|.

    Parameters
    ----------
    p, q : array_like or SizeDistribution or EmpiricalSizeDistribution
        Two pmfs over the sizes 0, 1, ...: non-empty, finite, >= 0 and
        summing to 1 (within 1e-8). They may have different lengths (e.g.
        a law over 0..n and a histogram of the sizes seen so far): the
        shorter one is padded with zeros, i.e. it gives probability 0 to
        the sizes it does not list.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        If ``p`` or ``q`` is not such a pmf (empty, not 1-dimensional,
        negative or non-finite entries, a sum other than 1).

    Examples
    --------
    >>> total_variation([0.5, 0.5], [1.0])
    0.5
    """
    a = _as_pmf(p, "p")
    b = _as_pmf(q, "q")
    size = max(a.size, b.size)
    a = np.pad(a, (0, size - a.size))
    b = np.pad(b, (0, size - b.size))
    return float(0.5 * np.abs(a - b).sum())


def sampling_tv_bound(pmf, n_samples) -> float:
    """Upper bound on the expected TV distance between ``pmf`` and an N-sample histogram of it.

    E TV = (1/2) sum_s E|p_hat_s - p_s| <= (1/2) sum_s sqrt(p_s (1 - p_s) / N)
    (Jensen: E|X| <= sqrt(E X^2), and N p_hat_s is binomial). Use it to set
    the tolerance of a theory-vs-simulation comparison, with a margin (TV
    concentrates: it changes by at most 1/N when one sample changes, so by
    McDiarmid P(TV > E TV + t) <= exp(-2 N t^2)).

    Raises
    ------
    ValueError
        If ``pmf`` is not a pmf (as in :func:`total_variation`) or
        ``n_samples`` < 1.

    Examples
    --------
    >>> round(sampling_tv_bound([0.5, 0.5], 100), 6)
    0.05
    """
    p = _as_pmf(pmf, "pmf")
    n_samples = check_int("n_samples", n_samples, low=1)
    return float(0.5 * np.sqrt(p * np.clip(1.0 - p, 0.0, None) / n_samples).sum())


def empirical_size_distribution(
    sizes, n, *, confidence=0.95, interval="wilson", fractions=False
) -> EmpiricalSizeDistribution:
    """Histogram of simulated final sizes over 0..n with pointwise and cdf confidence bands.

    Parameters
    ----------
    sizes : array_like
        Simulated final sizes: integers in [0, n] (numbers of active nodes),
        or, with ``fractions=True``, active fractions in [0, 1] (as returned
        by :func:`cascades.simulation.simulate_ensemble`), rounded to the
        nearest count.
    n : int
        Number of nodes.
    confidence : float
        Confidence level of the bands, in (0, 1).
    interval : {"wilson", "exact"}
        Pointwise interval of each P(S = s): Wilson score or Clopper-Pearson.
    fractions : bool
        Read ``sizes`` as fractions of n.

    Returns
    -------
    EmpiricalSizeDistribution

    Raises
    ------
    ValueError
        For sizes outside [0, n] (or [0, 1] with ``fractions=True``), NaN
        sizes, a confidence outside (0, 1) or an unknown interval;
        :class:`cascades.MemoryLimitError` if the histogram over 0..n would
        not fit in memory.

    Notes
    -----
    The cdf band is the DKW band with Massart's constant,
    eps = sqrt(log(2 / (1 - confidence)) / (2 N)), valid simultaneously for
    all sizes. The pointwise intervals are not simultaneous.

    References
    ----------
    E. B. Wilson, J. Am. Stat. Assoc. 22, 209 (1927); C. J. Clopper and
    E. S. Pearson, Biometrika 26, 404 (1934); P. Massart, Ann. Probab. 18,
    1269 (1990).

    Examples
    --------
    >>> e = empirical_size_distribution([0, 1, 1, 3], 3)
    >>> e.pmf
    array([0.25, 0.5 , 0.  , 0.25])
    >>> bool(np.all(e.lower <= e.pmf) and np.all(e.pmf <= e.upper))
    True
    """
    n = check_int("n", n, low=0)
    check_memory(_EMPIRICAL_BYTES * (n + 1), parameter=f"n = {n}", what="the histogram over 0..n, its bands")
    confidence = check_real("confidence", confidence, low=0, high=1, low_open=True, high_open=True)
    if interval not in ("wilson", "exact"):
        raise ValueError(f"interval must be 'wilson' or 'exact', got {interval!r}")
    arr = np.asarray(sizes)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"sizes must be a non-empty 1-dimensional array, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"sizes must hold numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("sizes must be finite (NaN marks an unfinished run: drop it first)")
    if fractions:
        if np.any((arr < 0) | (arr > 1)):
            raise ValueError("with fractions=True, sizes must lie in [0, 1]")
        counts_of = np.rint(arr * n).astype(np.int64)
    else:
        if np.any(arr != np.round(arr)) or np.any((arr < 0) | (arr > n)):
            raise ValueError(f"sizes must be integers in [0, {n}] (pass fractions=True for active fractions)")
        counts_of = arr.astype(np.int64)
    N = counts_of.size
    counts = np.bincount(counts_of, minlength=n + 1)
    pmf = counts / N
    alpha = 1.0 - confidence
    if interval == "wilson":
        zq = stats.norm.ppf(1.0 - alpha / 2)
        denom = 1.0 + zq**2 / N
        centre = (pmf + zq**2 / (2 * N)) / denom
        half = zq * np.sqrt(pmf * (1 - pmf) / N + zq**2 / (4 * N**2)) / denom
        lower, upper = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    else:
        lower = np.where(counts > 0, stats.beta.ppf(alpha / 2, counts, N - counts + 1), 0.0)
        upper = np.where(counts < N, stats.beta.ppf(1 - alpha / 2, counts + 1, N - counts), 1.0)
    lower = np.minimum(lower, pmf)
    upper = np.maximum(upper, pmf)
    cdf = np.cumsum(pmf)
    eps = math.sqrt(math.log(2.0 / alpha) / (2.0 * N))
    return EmpiricalSizeDistribution(
        counts=_readonly(counts.astype(np.int64)),
        pmf=_readonly(pmf),
        lower=_readonly(lower),
        upper=_readonly(upper),
        cdf=_readonly(np.minimum(cdf, 1.0)),
        cdf_lower=_readonly(np.clip(cdf - eps, 0, 1)),
        cdf_upper=_readonly(np.clip(cdf + eps, 0, 1)),
        n_samples=int(N),
        confidence=confidence,
    )
