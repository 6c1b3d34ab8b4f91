"""Monte Carlo simulation of cascade models on a given graph.

:func:`simulate` runs one cascade of a model (a :class:`~cascades.models.CascadeModel`
or directly a :class:`~cascades.models.SimulationRule`) on a
:class:`~cascades.graphs.Graph` from a set of seed nodes and returns a frozen
:class:`CascadeResult`. :func:`simulate_ensemble` runs many independent
realisations in threads; :func:`cascade_size_histogram` and
:func:`global_cascade_frequency` summarise the final sizes.

Conventions
-----------
* Activity spreads along CSR rows: row j lists the nodes that j influences, so
  on a directed graph a node counts its active *in*-neighbours. Undirected
  graphs are stored symmetric, so there it is simply the neighbours.
* Seeds are active at step 0. A node that activates by itself (threshold 0,
  theta <= 0, initial load above capacity) does so at step 1. Node i activates
  at step t + 1 when the state after step t satisfies its rule.
* Randomness enters through the keyword-only ``rng`` (see :mod:`cascades._rng`)
  and is consumed in a fixed order: first ``model.rule(graph, rng=...)``
  (random thresholds, edge weights), then the random seed set, then, for the
  independent cascade, one uniform per CSR entry. A model whose thresholds
  depend on the in-degree only (``model.degree_thresholds`` is not None: one
  number phi, m or exposure theta) skips ``rule``, which would draw nothing;
  no generator is built at all when nothing is random.
* The kernels live in :mod:`cascades._sim_kernels`; this module validates,
  allocates and draws, so no bad input ever reaches numba.
"""

from __future__ import annotations

import math
import numbers
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from . import _sim_kernels as _k
from ._arrays import readonly as _readonly
from ._memory import check_memory
from ._rng import as_generator, spawn
from ._validation import check_int, check_probability, check_real
from .graphs import Graph
from .models import CascadeModel, SimulationRule

__all__ = [
    "CascadeResult",
    "EnsembleResult",
    "EnsembleInterrupted",
    "SizeHistogram",
    "CascadeFrequency",
    "simulate",
    "simulate_ensemble",
    "cascade_size_histogram",
    "global_cascade_frequency",
]

#: Round-off tolerance of the real-valued comparisons ("load": load >= theta - TOL;
#: "fiber": fails when load > capacity + TOL).
TOL = 1e-12

_DYNAMICS = ("async", "sync")
_REM_DTYPES = ((2**7 - 1, np.int8), (2**15 - 1, np.int16), (2**31 - 1, np.int32), (2**63 - 1, np.int64))

#: Graphs with at most this many nodes reuse their kernels' scratch arrays (see :func:`_scratch`).
SCRATCH_MAX_N = 1 << 21

_scratch_store = threading.local()

# Memory of simulate_ensemble per run, measured with tracemalloc (numpy 2): the run's Generator (PCG64,
# ~0.9 KiB) and the SeedSequence child it is made from (~0.4 KiB), alive together while spawn() builds the
# list; the list slots and the fraction (8 B each). With return_results, each CascadeResult adds its two
# arrays (bool state and int32 activation steps: 5 B per node) and ~0.3 KiB of objects. A pending chunk
# of runs (a Future with its lock) is ~2 KiB.
_ENSEMBLE_RUN_BYTES = 912 + 368 + 3 * 8
_RESULT_BYTES, _RESULT_NODE_BYTES = 320, 5
_FUTURE_BYTES = 2048


def _scratch(n: int, ids, rem_dtype):
    """Scratch arrays ``(queue, omark, level_end, rem)`` of the count kernels, reused within a thread.

    Several fresh O(n) arrays per call cost more than the cascade itself on
    mid-sized graphs: the allocator hands out new pages and every first touch
    is a page fault (about 1 ms per call at n = 10^5 on the development
    machine, for a 5 ms cascade). The kernels leave ``omark`` all zero and
    overwrite the rest before reading it, so one set per thread (threads of
    :func:`simulate_ensemble` get their own) is reused when the next call has
    the same size and dtypes. Only scratch is reused: the arrays handed to the
    user are always fresh. Graphs above :data:`SCRATCH_MAX_N` nodes allocate
    per call (their cascades take long enough for this not to matter), so the
    memory kept is at most about 14 bytes per node of such a graph per thread.
    """
    key = (n, np.dtype(ids), np.dtype(rem_dtype))
    cached = getattr(_scratch_store, "arrays", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    arrays = (
        np.empty(n + 1, dtype=ids),
        np.zeros(n, dtype=np.uint8),
        np.empty(n + 2, dtype=np.int64),
        np.empty(n, dtype=rem_dtype),
    )
    if n <= SCRATCH_MAX_N:
        _scratch_store.arrays = (key, arrays)
    return arrays


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class CascadeResult:
    """The outcome of one simulated cascade (arrays are read-only).

    Attributes
    ----------
    active : numpy.ndarray
        bool (n,): the final state (True = active / failed).
    activation_step : numpy.ndarray
        int32 (n,): the step at which each node activated; 0 for the seeds,
        -1 for nodes that never did.
    final_fraction : float
        Fraction of active nodes at the end, seeds included (0.0 when n = 0).
    n_steps : int
        The last step at which some node activated (0 if nothing spread).
    steps : numpy.ndarray or None
        float64 (n_steps + 1,): active fraction after steps 0, ..., n_steps,
        when ``record_steps=True``; else None. Nondecreasing; the last entry
        equals ``final_fraction``.
    n_seeds : int
        Number of distinct seeds.
    """

    active: np.ndarray
    activation_step: np.ndarray
    final_fraction: float
    n_steps: int
    steps: np.ndarray | None
    n_seeds: int

    @property
    def n_active(self) -> int:
        """Number of active nodes at the end."""
        return int(np.count_nonzero(self.active))

    def __repr__(self) -> str:
        return (
            f"CascadeResult(n={self.active.shape[0]}, n_seeds={self.n_seeds}, "
            f"final_fraction={self.final_fraction:.6g}, n_steps={self.n_steps})"
        )


@dataclass(frozen=True, eq=False)
class EnsembleResult:
    """Final sizes of an ensemble together with each run's :class:`CascadeResult`.

    Attributes
    ----------
    fractions : numpy.ndarray
        float64 (n_runs,): final active fraction of each run (NaN for runs
        that did not finish because of an interrupt).
    results : list
        The :class:`CascadeResult` of each run, in run order (None for runs
        that did not finish).
    """

    fractions: np.ndarray
    results: list


class EnsembleInterrupted(KeyboardInterrupt):
    """Raised by :func:`simulate_ensemble` on Ctrl-C; carries the finished runs.

    Attributes
    ----------
    fractions : numpy.ndarray
        float64 (n_runs,): final fraction of every finished run, NaN for the
        runs that did not finish (run i is at index i, as without interrupt).
    results : list or None
        With ``return_results=True``: the :class:`CascadeResult` of each
        finished run, None for the others; else None.
    n_completed : int
        Number of finished runs.
    """

    def __init__(self, fractions, results, n_completed):
        super().__init__(f"ensemble interrupted after {n_completed} of {len(fractions)} runs")
        self.fractions = fractions
        self.results = results
        self.n_completed = n_completed


# ---------------------------------------------------------------------------
# argument handling
# ---------------------------------------------------------------------------


def _check_graph(graph) -> Graph:
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a cascades.Graph, got {type(graph).__name__}")
    return graph


def _check_dynamics(dynamics) -> str:
    if dynamics not in _DYNAMICS:
        raise ValueError(f"dynamics must be one of {_DYNAMICS}, got {dynamics!r}")
    return dynamics


def _check_seed_options(seeds, seed_fraction, n_seeds) -> None:
    given = [
        name
        for name, v in (("seeds", seeds), ("seed_fraction", seed_fraction), ("n_seeds", n_seeds))
        if v is not None
    ]
    if len(given) > 1:
        raise ValueError(f"give at most one of seeds, seed_fraction and n_seeds, got {', '.join(given)}")
    if seed_fraction is not None:
        check_probability("seed_fraction", seed_fraction)


def _seed_count(n: int, seed_fraction, n_seeds) -> int | None:
    """Number of random seeds asked for, or None when no random seed set is wanted."""
    if seed_fraction is not None:
        f = check_probability("seed_fraction", seed_fraction)
        return min(n, math.floor(f * n + 0.5))  # round half up
    if n_seeds is not None:
        return check_int("n_seeds", n_seeds, low=0, high=n)
    return None


def _explicit_seeds(seeds, n: int, index_dtype) -> np.ndarray:
    """Node ids from an id array/list/int or a bool mask; range-checked (the kernels skip repeats)."""
    arr = np.asarray(seeds)
    if arr.dtype == bool:
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(f"seeds as a bool mask must have shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr).astype(index_dtype, copy=False)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(
            f"seeds must be a 1-dimensional array of node ids or a bool mask, got shape {arr.shape}"
        )
    if arr.size == 0:
        return np.empty(0, dtype=index_dtype)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(
                f"seeds must hold integer node ids in [0, {n - 1}] or be a bool mask, got dtype {arr.dtype}"
            )
    lo, hi = arr.min(), arr.max()
    if lo < 0 or hi >= n:
        bad = int(lo) if lo < 0 else int(hi)
        raise ValueError(f"seeds must be node ids in [0, {n - 1}], got {bad}")
    return arr.astype(index_dtype, copy=False)


# id(graph) -> (weak reference to the graph, its largest in-degree). Graphs are immutable but
# unhashable (array-valued ==), so the key is the object id, checked against the weak reference and
# dropped by its callback when the graph is collected. No lock: single dict operations are atomic
# under the GIL, two threads that miss at once store the same value, and a callback runs while its
# graph is being freed, before any new object can take over its id (a lock here could deadlock when
# the garbage collector runs a callback inside the locked section).
_MAX_IN_DEGREE: dict = {}


def _forget_graph(key: int):
    def callback(ref):
        entry = _MAX_IN_DEGREE.get(key)
        if entry is not None and entry[0] is ref:
            _MAX_IN_DEGREE.pop(key, None)

    return callback


def _max_in_degree(graph: Graph) -> int:
    """Largest in-degree (0 for n = 0), computed once per graph object (a Graph is immutable)."""
    key = id(graph)
    entry = _MAX_IN_DEGREE.get(key)
    if entry is not None and entry[0]() is graph:
        return entry[1]
    k_max = int(graph.in_degrees.max()) if graph.n else 0
    _MAX_IN_DEGREE[key] = (weakref.ref(graph, _forget_graph(key)), k_max)
    return k_max


def _check_rng(rng) -> None:
    """Check ``rng`` like :func:`~cascades._rng.as_generator` without building a generator."""
    if rng is None or isinstance(rng, (np.random.Generator, np.random.SeedSequence)):
        return
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0:
        return
    as_generator(rng)  # raises with the package's message


_TABLE_TRUSTED = weakref.WeakKeyDictionary()  # model class -> does its degree_thresholds go with its rule


def _table_trusted(cls) -> bool:
    """True unless ``cls`` inherits ``degree_thresholds`` from above the class that defines its ``rule``.

    A subclass that overrides ``rule`` but not ``degree_thresholds`` would
    otherwise be simulated with its parent's thresholds; then the rule runs.
    """
    trusted = _TABLE_TRUSTED.get(cls)
    if trusted is None:
        owner = {
            name: next(c for c in cls.__mro__ if name in vars(c)) for name in ("rule", "degree_thresholds")
        }
        trusted = issubclass(owner["degree_thresholds"], owner["rule"])
        _TABLE_TRUSTED[cls] = trusted
    return trusted


def _degree_table(model, k_max: int):
    """The model's thresholds by in-degree (int64, length k_max + 1), or None (see ``degree_thresholds``)."""
    if not isinstance(model, CascadeModel) or not _table_trusted(type(model)):
        return None
    table = model.degree_thresholds(k_max)
    if table is None:
        return None
    if not (
        isinstance(table, np.ndarray)
        and table.shape == (k_max + 1,)
        and table.dtype.kind in "iu"
        and table.dtype.itemsize <= 8
    ):
        raise TypeError(
            f"{type(model).__name__}.degree_thresholds({k_max}) must return None or an integer array "
            f"of shape ({k_max + 1},), got {table!r}"
        )
    return table


def _check_model(model, dynamics: str) -> None:
    """Type of ``model``, and async dynamics only for monotone models (before any rule is built)."""
    if isinstance(model, SimulationRule):
        kind, name = model.kind, "the fiber bundle rule"
        monotone = kind != "fiber"
    elif isinstance(model, CascadeModel):
        monotone, name = bool(model.monotone), type(model).__name__
    else:
        raise TypeError(f"model must be a CascadeModel or a SimulationRule, got {type(model).__name__}")
    if dynamics == "async" and not monotone:
        raise ValueError(
            f"dynamics='async' is not defined for {name} (the outcome depends on the update order); "
            "use dynamics='sync'"
        )


def _resolve_rule(graph: Graph, model, gen, dynamics: str) -> SimulationRule:
    """The checked rule of ``model`` on ``graph`` (drawn with ``gen`` for a model)."""
    if isinstance(model, SimulationRule):
        rule = model
    else:
        rule = model.rule(graph, rng=gen)
        if not isinstance(rule, SimulationRule):
            raise TypeError(
                f"{type(model).__name__}.rule must return a SimulationRule, got {type(rule).__name__}"
            )
    rule.check_graph(graph)
    kind = rule.kind
    if kind == "load" and rule.weight.shape[0]:
        if not np.all(np.isfinite(rule.weight)):
            raise ValueError("weight must hold finite numbers")
        if dynamics == "async" and rule.weight.min() < 0:
            raise ValueError(
                "dynamics='async' is not defined for a load rule with negative weights (a later "
                "negative weight can undo a crossing, so the outcome depends on the order); "
                "use dynamics='sync'"
            )
    elif kind == "independent" and rule.p_edge.shape[0]:
        if not (rule.p_edge.min() >= 0 and rule.p_edge.max() <= 1):  # also catches NaN
            raise ValueError("p_edge must hold probabilities in [0, 1]")
    for name in ("theta", "capacity", "initial_load"):
        arr = getattr(rule, name)
        if arr is not None and np.isnan(arr).any():
            raise ValueError(f"{name} must not contain NaN")
    return rule


# ---------------------------------------------------------------------------
# one cascade
# ---------------------------------------------------------------------------


def simulate(
    graph,
    model,
    *,
    seeds=None,
    seed_fraction=None,
    n_seeds=None,
    rng=None,
    record_steps=False,
    dynamics="async",
) -> CascadeResult:
    """Simulate one cascade of ``model`` on ``graph``.

    Parameters
    ----------
    graph : Graph
        The network. Activity spreads along CSR rows (from a node to its
        out-neighbours); a node's rule counts its in-neighbours.
    model : CascadeModel or SimulationRule
        A model (its :meth:`~cascades.models.CascadeModel.rule` is called with
        this function's generator, so random thresholds and weights are drawn
        anew in every call) or a ready rule for this graph.
    seeds : array_like of int or of bool, optional
        Seed node ids (a repeated id counts once) or a bool mask of length n.
    seed_fraction : float, optional
        Seed a uniformly random set of exactly ``floor(seed_fraction * n +
        0.5)`` distinct nodes (``seed_fraction * n`` rounded half up).
    n_seeds : int, optional
        Seed a uniformly random set of exactly ``n_seeds`` distinct nodes.
        Give at most one of ``seeds``, ``seed_fraction`` and ``n_seeds``;
        with none of them, only self-activating nodes start the cascade.
    rng : None, int or numpy.random.Generator
        Randomness (see :mod:`cascades._rng`), consumed in this order: the
        model's rule, the random seed set, the independent cascade's uniforms.
    record_steps : bool
        Also return the active fraction after every step (``steps``).
    dynamics : {"async", "sync"}
        ``"async"``: exact propagation with one FIFO queue. ``"sync"``:
        synchronous rounds in which every node updates from the state after
        the previous round. For monotone rules both give the same final state
        and the same activation steps. The fiber bundle model and load rules
        with negative weights are history dependent and need ``"sync"``.

    Returns
    -------
    CascadeResult

    Raises
    ------
    ValueError
        If ``dynamics`` is unknown, or ``"async"`` for a non-monotone model;
        if more than one seed option is given; if a seed id is outside
        [0, n), a bool mask has the wrong length, ``seed_fraction`` is outside
        [0, 1] or ``n_seeds`` outside [0, n]; if the rule's arrays do not
        match the graph (the message names the array). All checks run before
        any kernel.
    TypeError
        If ``graph`` is not a :class:`~cascades.graphs.Graph` or ``model`` is
        neither a model nor a rule, or the model's ``degree_thresholds``
        returns neither None nor an integer array of length k_max + 1.

    Notes
    -----
    Algorithms (kernels in :mod:`cascades._sim_kernels`), by rule kind:

    * ``"count"`` (integer thresholds: fractional and absolute thresholds,
      exposure weights). With one number as threshold the kernel reads the
      model's per-degree table (``degree_thresholds``) and no per-node
      threshold array is built. Async: FIFO queue with a branch-free inner loop.
      Each node holds the number of active in-neighbours it still misses (in
      the narrowest integer type that fits the largest in-degree); an edge
      decrements it and appends the target to the queue, advancing the tail
      only when the counter reaches 0, which happens once per node. Sync:
      explicit rounds; after round 0 every node is tested, later a node joins
      the next frontier when its counter reaches 0 (the count only grows, so
      this is the test after the round).
    * ``"load"`` (real thresholds on summed edge weights: damage and iid
      weights). Async: the same queue on an interleaved (load, threshold)
      array; needs weights >= 0. Sync: rounds that push the weights and then
      test the touched nodes, exact for weights of any sign. A node activates
      when its load reaches ``theta - 1e-12`` (tolerance against summation
      round-off).
    * ``"independent"`` (independent cascade model, Kempe et al. 2003): one
      uniform u[e] per CSR entry is drawn before the kernel runs, and edge e
      transmits iff ``u[e] < p_edge[e]``; each newly active node tries each
      out-edge once. Async and sync read the same uniforms and agree exactly.
    * ``"fiber"`` (fiber bundle model with local load sharing, Burkholz &
      Schweitzer 2018, Sec. 1.2.1, the rule stated with their eq. (1)):
      synchronous rounds only. Seeds fail at step 0; every node that fails
      at step t passes its whole current load in equal parts to its
      out-neighbours that are still functional after step t (none to nodes
      failing in the same round; without functional neighbours the load is
      lost); then every functional node whose load exceeds its capacity by
      more than 1e-12 fails at step t + 1. A node whose initial load exceeds
      its capacity fails at step 1. Same conventions as
      :class:`~cascades.models.FiberBundle`.

    The queue is consumed level by level (the nodes appended while level t is
    processed form level t + 1), so the level of a node is its synchronous
    activation step; this is why async and sync agree for monotone rules.
    Each simulator costs O(n + sum of the out-degrees of the active nodes),
    touching every out-edge of an active node once (twice for the fiber
    bundle). A level holding more than n/16 nodes is visited in node-id order
    (one O(n) sweep over a byte mask): the order inside a level changes no
    output, and reading the CSR rows front to back instead of in random
    order is several times faster once the graph outgrows the cache.

    Seeds count as a set: a repeated id is seeded once, and ``n_seeds`` of
    the result is the number of distinct seeds. Random seed sets are drawn
    with ``rng.choice(n, size, replace=False, shuffle=False)``.

    References
    ----------
    D. J. Watts, "A simple model of global cascades on random networks",
    PNAS 99, 5766 (2002).
    D. Kempe, J. Kleinberg and E. Tardos, "Maximizing the spread of influence
    through a social network", Proc. KDD 2003, 137-146.
    R. Burkholz and F. Schweitzer, "A framework for cascade size calculations
    on random networks", Phys. Rev. E 97, 042312 (2018), arXiv:1701.06970.

    Examples
    --------
    A path 0 - 1 - 2 - 3 with threshold 1 everywhere, seeded at one end:

    >>> import numpy as np
    >>> from cascades.graphs import erdos_renyi, from_edges
    >>> from cascades.models import FractionalThreshold, SimulationRule
    >>> path = from_edges([[0, 1], [1, 2], [2, 3]])
    >>> rule = SimulationRule("count", threshold=np.ones(4, dtype=np.int64))
    >>> r = simulate(path, rule, seeds=[0], record_steps=True)
    >>> r.activation_step
    array([0, 1, 2, 3], dtype=int32)
    >>> r.steps
    array([0.25, 0.5 , 0.75, 1.  ])

    Watts' model on a random graph from 1% random seeds: async and sync
    agree, and the final state is a fixed point of the rule.

    >>> g = erdos_renyi(2000, 4.0, rng=0)
    >>> a = simulate(g, FractionalThreshold(0.18), seed_fraction=0.01, rng=1)
    >>> s = simulate(g, FractionalThreshold(0.18), seed_fraction=0.01, rng=1, dynamics="sync")
    >>> a.n_seeds, bool(np.array_equal(a.activation_step, s.activation_step))
    (20, True)
    >>> rows = np.repeat(np.arange(g.n), g.degrees)
    >>> m = np.bincount(g.indices[a.active[rows]], minlength=g.n)  # active neighbours
    >>> threshold = FractionalThreshold(0.18).rule(g).threshold
    >>> bool(np.all(m[~a.active] < threshold[~a.active]))
    True
    """
    _check_graph(graph)
    dynamics = _check_dynamics(dynamics)
    _check_seed_options(seeds, seed_fraction, n_seeds)
    n = graph.n
    index_dtype = graph.indices.dtype
    explicit = None if seeds is None else _explicit_seeds(seeds, n, index_dtype)
    k = _seed_count(n, seed_fraction, n_seeds)
    _check_model(model, dynamics)
    k_max = _max_in_degree(graph)
    # thresholds that depend on the in-degree only (one number phi, theta or m) go straight
    # into the kernel as a table: no per-node rule is built, and nothing random is drawn for it
    table = _degree_table(model, k_max)
    needs_gen = k is not None or (
        table is None and (isinstance(model, CascadeModel) or model.kind == "independent")
    )
    if needs_gen:
        gen = as_generator(rng)
    else:  # nothing random: only check rng (skipping the cost of a fresh generator)
        gen = None
        _check_rng(rng)
    rule = None if table is not None else _resolve_rule(graph, model, gen, dynamics)
    if explicit is not None:
        seed_ids = explicit
    elif k is not None:
        seed_ids = gen.choice(n, size=k, replace=False, shuffle=False).astype(index_dtype, copy=False)
    else:
        seed_ids = np.empty(0, dtype=index_dtype)
    return _run(graph, rule, table, k_max, seed_ids, gen, record_steps, dynamics)


def _run(graph: Graph, rule, table, k_max: int, seed_ids, gen, record_steps: bool, dynamics: str):
    """Allocate, call the kernel for ``rule.kind`` (or the degree ``table``) and ``dynamics``, package."""
    n = graph.n
    indptr, indices = graph.indptr, graph.indices
    ids = indices.dtype
    active = np.empty(n, dtype=np.bool_)
    step = np.empty(n, dtype=np.int32)
    sync = dynamics == "sync"
    kind = "count" if table is not None else rule.kind
    if kind == "count":
        # rem stays in [-cap, cap], cap = k_max + 1: the narrowest such dtype keeps the
        # randomly accessed counter array small (1 byte per node for k_max <= 126)
        cap = k_max + 1
        queue, omark, level_end, rem = _scratch(n, ids, next(d for top, d in _REM_DTYPES if cap <= top))
    else:
        queue, omark = np.empty(n + 1, dtype=ids), np.zeros(n, dtype=np.uint8)
        level_end = np.empty(n + 2, dtype=np.int64)
    out = (queue, omark, active, step, level_end)
    if kind == "count":
        if table is not None:
            kernel = _k.count_sync_by_degree if sync else _k.count_async_by_degree
            n_seeds, t = kernel(indptr, indices, graph.in_degrees, table, seed_ids, cap, rem, *out)
        elif sync:
            n_seeds, t = _k.count_sync(indptr, indices, rule.threshold, seed_ids, cap, rem, *out)
        else:
            n_seeds, t = _k.count_async(indptr, indices, rule.threshold, seed_ids, cap, rem, *out)
    elif kind == "load":
        if sync:
            load, cand, mark = np.empty(n), np.empty(n, dtype=ids), np.zeros(n, dtype=np.uint8)
            n_seeds, t = _k.load_sync(
                indptr, indices, rule.theta, rule.weight, seed_ids, TOL, load, cand, mark, *out
            )
        else:
            state = np.empty((n, 2))
            n_seeds, t = _k.load_async(indptr, indices, rule.theta, rule.weight, seed_ids, TOL, state, *out)
    elif kind == "independent":
        # one uniform per CSR entry, turned into the live-edge mask u < p (1 byte per edge)
        live = np.less(gen.random(graph.nnz), rule.p_edge)
        mark = np.zeros(n, dtype=np.uint8)
        if sync:
            cand = np.empty(n, dtype=ids)
            n_seeds, t = _k.independent_sync(indptr, indices, live, seed_ids, mark, cand, *out)
        else:
            n_seeds, t = _k.independent_async(indptr, indices, live, seed_ids, mark, *out)
    else:  # "fiber": sync only (checked by the caller)
        load, cand, mark = np.empty(n), np.empty(n, dtype=ids), np.zeros(n, dtype=np.uint8)
        n_seeds, t = _k.fiber_sync(
            indptr, indices, rule.capacity, rule.initial_load, seed_ids, TOL, load, cand, mark, *out
        )
    n_seeds, t = int(n_seeds), int(t)
    n_active = int(level_end[t]) if n else 0
    fraction = n_active / n if n else 0.0
    steps = None
    if record_steps:
        steps = _readonly(level_end[: t + 1] / n if n else np.zeros(1))
    return CascadeResult(
        active=_readonly(active),
        activation_step=_readonly(step),
        final_fraction=fraction,
        n_steps=t,
        steps=steps,
        n_seeds=n_seeds,
    )


# ---------------------------------------------------------------------------
# ensembles
# ---------------------------------------------------------------------------


def simulate_ensemble(
    graph_or_factory,
    model,
    n_runs,
    *,
    seed_fraction=None,
    n_seeds=None,
    rng=None,
    workers=None,
    dynamics="async",
    return_results=False,
    progress=False,
):
    """Simulate ``n_runs`` independent cascades, in parallel threads.

    Run i uses the i-th child generator of ``spawn(rng, n_runs)`` (see
    :mod:`cascades._rng`) for everything random in it: the graph (factory
    mode), the model's random parameters and the seed set. The result
    therefore depends on ``rng`` only, never on ``workers``.

    Parameters
    ----------
    graph_or_factory : Graph or callable
        One fixed graph for all runs, or a factory ``rng -> Graph`` called
        once per run with that run's child generator (a new random graph per
        run, e.g. ``lambda g: erdos_renyi(10**4, 4.0, rng=g)``).
    model : CascadeModel or SimulationRule
        As in :func:`simulate`; a model draws its random thresholds/weights
        anew in every run.
    n_runs : int
        Number of runs, >= 0.
    seed_fraction, n_seeds : optional
        As in :func:`simulate` (a new random seed set per run); with neither,
        only self-activating nodes start a cascade.
    rng : None, int or numpy.random.Generator
        Root of the per-run generators.
    workers : int, optional
        Number of threads (default: ``os.cpu_count()``). The kernels release
        the GIL, so threads run in parallel; ``workers=1`` runs in the calling
        thread.
    dynamics : {"async", "sync"}
        As in :func:`simulate`.
    return_results : bool
        Also keep every run's :class:`CascadeResult` (memory: O(n) per run).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    numpy.ndarray or EnsembleResult
        float64 (n_runs,): the final active fraction of each run, in run order;
        with ``return_results=True`` an :class:`EnsembleResult` holding these
        fractions and the list of results.

    Raises
    ------
    EnsembleInterrupted
        On Ctrl-C (KeyboardInterrupt): running runs are finished, pending runs
        cancelled, and the exception (a subclass of KeyboardInterrupt) carries
        ``fractions`` (NaN for unfinished runs), ``results`` and
        ``n_completed``. In IPython, after the traceback,
        ``sys.last_value.fractions`` recovers them.
    ValueError
        As :func:`simulate`, checked once before any run (for a fixed graph);
        ``n_runs`` < 0 or ``workers`` < 1.
    MemoryLimitError
        Before anything is allocated, when ``n_runs`` is too large for the
        memory available: every run's generator is spawned up front (about
        1.3 KiB per run), plus with ``return_results`` every run's
        :class:`CascadeResult` (5 bytes per node of a fixed graph). A
        subclass of ValueError and MemoryError; see :func:`cascades.memory_limit`.

    Notes
    -----
    Runs are handed to a :class:`concurrent.futures.ThreadPoolExecutor` in
    chunks of consecutive runs. With a factory, the graph generators of
    :mod:`cascades.graphs` run in the threads too; they scale only as far as
    their kernels release the GIL.

    Examples
    --------
    Watts' model (phi = 0.18) from one random seed, on a fixed graph and on a
    new graph per run; the numbers do not depend on ``workers``:

    >>> import numpy as np
    >>> from cascades.graphs import erdos_renyi
    >>> from cascades.models import FractionalThreshold
    >>> model = FractionalThreshold(0.18)
    >>> g = erdos_renyi(2000, 5.0, rng=0)
    >>> f1 = simulate_ensemble(g, model, 40, n_seeds=1, rng=2, workers=1)
    >>> f2 = simulate_ensemble(g, model, 40, n_seeds=1, rng=2, workers=2)
    >>> f1.shape, bool(np.array_equal(f1, f2)), bool(np.all(f1 >= 1 / 2000))
    ((40,), True, True)
    >>> r = global_cascade_frequency(f1)
    >>> 0 < r.frequency < 1  # some seeds trigger a global cascade, others do not
    True
    >>> def new_graph(gen):
    ...     return erdos_renyi(2000, 5.0, rng=gen)
    >>> f3 = simulate_ensemble(new_graph, model, 8, n_seeds=1, rng=2, workers=2)
    >>> bool(np.array_equal(f3, simulate_ensemble(new_graph, model, 8, n_seeds=1, rng=2, workers=1)))
    True
    """
    n_runs = check_int("n_runs", n_runs, low=0)
    dynamics = _check_dynamics(dynamics)
    _check_seed_options(None, seed_fraction, n_seeds)
    if workers is None:
        workers = os.cpu_count() or 1
    workers = check_int("workers", workers, low=1)
    if isinstance(graph_or_factory, Graph):
        graph = graph_or_factory
        _seed_count(graph.n, seed_fraction, n_seeds)  # fail early on n_seeds > n

        def make_graph(_gen):
            return graph
    elif callable(graph_or_factory):
        factory = graph_or_factory

        def make_graph(gen):
            g = factory(gen)
            if not isinstance(g, Graph):
                raise TypeError(f"the graph factory must return a cascades.Graph, got {type(g).__name__}")
            return g
    else:
        raise TypeError(
            "graph_or_factory must be a cascades.Graph or a callable rng -> Graph, got "
            f"{type(graph_or_factory).__name__}"
        )
    _check_model(model, dynamics)
    if isinstance(model, SimulationRule) and isinstance(graph_or_factory, Graph):
        model.check_graph(graph_or_factory)

    size = max(1, min(64, n_runs // (8 * workers)))  # runs per task of the thread pool
    per_run = _ENSEMBLE_RUN_BYTES
    if return_results:  # a factory's graph sizes are unknown: count the objects only (a lower bound)
        n_nodes = graph_or_factory.n if isinstance(graph_or_factory, Graph) else 0
        per_run += _RESULT_BYTES + _RESULT_NODE_BYTES * n_nodes
    n_tasks = 0 if workers == 1 or n_runs <= 1 else -(-n_runs // size)
    check_memory(
        n_runs * per_run + n_tasks * _FUTURE_BYTES,
        parameter=f"n_runs = {n_runs}",
        what="a random generator per run, spawned up front, ~1.3 KiB each"
        + (", and every run's CascadeResult (return_results=True)" if return_results else ""),
    )
    gens = spawn(rng, n_runs)
    fractions = np.full(n_runs, np.nan)
    results = [None] * n_runs if return_results else None
    stop = threading.Event()
    lock = threading.Lock()
    bar = _progress_bar(n_runs, progress)

    def one(i):
        gen = gens[i]
        res = simulate(
            make_graph(gen), model, seed_fraction=seed_fraction, n_seeds=n_seeds, rng=gen, dynamics=dynamics
        )
        fractions[i] = res.final_fraction
        if results is not None:
            results[i] = res
        gens[i] = None  # free the generator
        if bar is not None:
            with lock:
                bar.update(1)

    def chunk(lo, hi):
        for i in range(lo, hi):
            if stop.is_set():
                return
            one(i)

    try:
        if workers == 1 or n_runs <= 1:
            chunk(0, n_runs)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cascades") as pool:
                futures = [pool.submit(chunk, lo, min(lo + size, n_runs)) for lo in range(0, n_runs, size)]
                try:
                    pending = set(futures)
                    while pending:
                        # a timeout keeps the main thread responsive to Ctrl-C
                        done, pending = wait(pending, timeout=0.2, return_when="FIRST_EXCEPTION")
                        for f in done:
                            f.result()  # re-raise a worker's exception here
                except BaseException:
                    stop.set()
                    for f in futures:
                        f.cancel()
                    raise
    except KeyboardInterrupt:
        stop.set()
        done = int(np.count_nonzero(~np.isnan(fractions)))
        raise EnsembleInterrupted(fractions, results, done) from None
    finally:
        if bar is not None:
            bar.close()
    if return_results:
        return EnsembleResult(fractions=_readonly(fractions), results=results)
    return fractions


def _progress_bar(total: int, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="cascades", unit="run")


# ---------------------------------------------------------------------------
# summaries of final sizes
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SizeHistogram:
    """Histogram of final cascade sizes.

    Attributes
    ----------
    counts : numpy.ndarray
        int64 (n_bins,): runs per bin.
    edges : numpy.ndarray
        float64 (n_bins + 1,): bin edges; bin b is [edges[b], edges[b + 1]),
        the last bin also includes its right edge.
    probabilities : numpy.ndarray
        float64 (n_bins,): ``counts / n_runs`` (zeros when n_runs = 0).
    n_runs : int
        Number of runs counted (NaN entries, i.e. unfinished runs, are left out).
    """

    counts: np.ndarray
    edges: np.ndarray
    probabilities: np.ndarray
    n_runs: int


def _finite_fractions(fractions) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.ndim != 1:
        raise ValueError(f"fractions must be a 1-dimensional array, got shape {f.shape}")
    f = f[~np.isnan(f)]
    if f.size and (f.min() < 0 or f.max() > 1):
        raise ValueError("fractions must lie in [0, 1] (NaN entries are ignored)")
    return f


def cascade_size_histogram(fractions, bins=20) -> SizeHistogram:
    """Histogram of final cascade sizes (fractions in [0, 1]).

    Parameters
    ----------
    fractions : array_like of float
        Final active fractions, e.g. from :func:`simulate_ensemble`. NaN
        entries (unfinished runs) are ignored.
    bins : int or array_like of float
        Number of equal-width bins on [0, 1] (>= 1), or increasing bin edges.

    Returns
    -------
    SizeHistogram

    Raises
    ------
    ValueError
        If a fraction lies outside [0, 1], ``bins`` < 1 or the edges do not
        increase.

    Examples
    --------
    >>> h = cascade_size_histogram([0.01, 0.02, 0.9, 0.95, float("nan")], bins=2)
    >>> h.counts, h.n_runs
    (array([2, 2]), 4)
    >>> h.probabilities
    array([0.5, 0.5])
    """
    f = _finite_fractions(fractions)
    if isinstance(bins, numbers.Integral) and not isinstance(bins, bool):
        nb = check_int("bins", bins, low=1)
        edges = np.linspace(0.0, 1.0, nb + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if (
            edges.ndim != 1
            or edges.shape[0] < 2
            or np.any(np.diff(edges) <= 0)
            or not np.all(np.isfinite(edges))
        ):
            raise ValueError("bins must be an integer >= 1 or at least two strictly increasing finite edges")
    counts, edges = np.histogram(f, bins=edges)
    counts = counts.astype(np.int64)
    probs = counts / f.size if f.size else np.zeros(counts.shape[0])
    return SizeHistogram(
        counts=_readonly(counts), edges=_readonly(edges), probabilities=_readonly(probs), n_runs=int(f.size)
    )


@dataclass(frozen=True, eq=False)
class CascadeFrequency:
    """Frequency of global cascades in an ensemble.

    Attributes
    ----------
    frequency : float
        Fraction of runs whose final size exceeds ``threshold`` (NaN if no run).
    stderr : float
        Binomial standard error sqrt(frequency (1 - frequency) / n_runs).
    n_global : int
        Number of runs above the threshold.
    n_runs : int
        Number of runs counted (NaN entries left out).
    threshold : float
        The size threshold used.
    """

    frequency: float
    stderr: float
    n_global: int
    n_runs: int
    threshold: float


def global_cascade_frequency(fractions, threshold=0.05) -> CascadeFrequency:
    """Fraction of runs that end in a global cascade (final size > ``threshold``).

    Parameters
    ----------
    fractions : array_like of float
        Final active fractions in [0, 1]; NaN entries (unfinished runs) are
        ignored.
    threshold : float
        Size threshold in [0, 1); a run counts as global if its final fraction
        is strictly larger.

    Returns
    -------
    CascadeFrequency
        The frequency and its binomial standard error
        sqrt(p (1 - p) / n_runs).

    Examples
    --------
    >>> r = global_cascade_frequency([0.001, 0.8, 0.002, 0.75], threshold=0.05)
    >>> r.frequency, r.n_global, r.n_runs
    (0.5, 2, 4)
    >>> round(r.stderr, 6)
    0.25
    """
    f = _finite_fractions(fractions)
    threshold = check_real("threshold", threshold, low=0, high=1, high_open=True)
    n = int(f.size)
    k = int(np.count_nonzero(f > threshold))
    p = k / n if n else float("nan")
    se = math.sqrt(p * (1 - p) / n) if n else float("nan")
    return CascadeFrequency(frequency=p, stderr=se, n_global=k, n_runs=n, threshold=threshold)
