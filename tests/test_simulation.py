"""Tests of cascades.simulation and its kernels.

Tiers (the three ways of testing in README.md, Contributing):
(a) exact: every kernel (async and sync, every rule kind) against slow, readable
    pure-Python references on small random graphs (ER, configuration model with
    loops and multi-edges, directed graphs, layered DAGs), with the same rule,
    seeds and, for the independent cascade, the same uniforms; plus small cases
    solved by hand (path, star, complete graph, isolated nodes, thresholds 0 and
    above the degree, the fiber bundle's sharing rule);
(b) invariants: fixed point of the rule, monotonicity in phi and in the seed
    set, the recorded steps, async == sync, seeded determinism, ensembles that
    do not depend on the number of workers, argument checks;
(c) one slow statistical check (independent cascade on ER against the
    percolation fixed point), tolerance stated next to the assertion.
"""

from __future__ import annotations

import gc
import math
from collections import deque
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from cascades import _sim_kernels as sk
from cascades import simulation as sim_module
from cascades._rng import spawn
from cascades.graphs import Graph, configuration_model, erdos_renyi, from_edges, layered, random_regular
from cascades.models import (
    AbsoluteThreshold,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    SimulationRule,
    WeightedThreshold,
)
from cascades.simulation import (
    CascadeFrequency,
    CascadeResult,
    EnsembleInterrupted,
    EnsembleResult,
    SizeHistogram,
    cascade_size_histogram,
    global_cascade_frequency,
    simulate,
    simulate_ensemble,
)

TOL = 1e-12

# ---------------------------------------------------------------------------
# pure-Python references
# ---------------------------------------------------------------------------


def in_edges(graph):
    """For each node i, the list of (j, e): CSR entry e is an edge j -> i."""
    lists = [[] for _ in range(graph.n)]
    for j in range(graph.n):
        for e in range(graph.indptr[j], graph.indptr[j + 1]):
            lists[int(graph.indices[e])].append((j, e))
    return lists


def ref_sync(graph, rule, seeds, uniforms=None):
    """Synchronous rounds from the definition: every node is re-evaluated from the previous state.

    Returns (active, activation_step) as Python lists. Slow (O(rounds * m)) and
    literal: node i activates at step t + 1 iff the state after step t
    satisfies its rule.
    """
    n = graph.n
    ins = in_edges(graph)
    step = [-1] * n
    for s in seeds:
        step[int(s)] = 0
    if rule.kind == "fiber":
        return ref_fiber(graph, rule, seeds)
    t = 0
    while True:
        new = []
        for i in range(n):
            if step[i] != -1:
                continue
            if rule.kind == "count":
                m = sum(1 for j, _ in ins[i] if step[j] != -1)
                ok = m >= rule.threshold[i]
            elif rule.kind == "load":
                load = sum(rule.weight[e] for j, e in ins[i] if step[j] != -1)
                ok = load >= rule.theta[i] - TOL
            else:  # independent: only nodes activated at step t transmit, once per edge
                ok = any(step[j] == t and uniforms[e] < rule.p_edge[e] for j, e in ins[i])
            if ok:
                new.append(i)
        if not new:
            break
        t += 1
        for i in new:
            step[i] = t
    return [s != -1 for s in step], step


def ref_fiber(graph, rule, seeds):
    """Fiber bundle model, synchronous rounds, written from the model's definition.

    Step 0: the seeds fail. Then repeatedly: every node that failed in the last
    step gives its whole current load, in equal parts per CSR entry, to its
    out-neighbours that are functional after that step (nothing if there are
    none); afterwards every functional node whose load exceeds its capacity
    fails (in the first round every functional node is tested).
    """
    n = graph.n
    failed = [False] * n
    step = [-1] * n
    load = [float(x) for x in rule.initial_load]
    last = sorted({int(s) for s in seeds})
    for s in last:
        failed[s] = True
        step[s] = 0
    t = 0
    while True:
        received = set(range(n)) if t == 0 else set()
        for j in last:
            targets = [
                int(graph.indices[e])
                for e in range(graph.indptr[j], graph.indptr[j + 1])
                if not failed[int(graph.indices[e])]
            ]
            for i in targets:
                load[i] += load[j] / len(targets)
                received.add(i)
        new = sorted(i for i in received if not failed[i] and load[i] > rule.capacity[i] + TOL)
        if not new:
            break
        t += 1
        for i in new:
            failed[i] = True
            step[i] = t
        last = new
    return failed, step


def ref_queue_count(graph, threshold, seeds):
    """Count rule by a plain FIFO queue (deque) with a per-node counter; step = parent's step + 1."""
    n = graph.n
    count = [0] * n
    step = [-1] * n
    queue = deque()
    for s in seeds:
        if step[int(s)] == -1:
            step[int(s)] = 0
            queue.append(int(s))
    for i in range(n):  # threshold <= 0: active at step 1 by itself
        if step[i] == -1 and threshold[i] <= 0:
            step[i] = 1
            queue.append(i)
    while queue:
        j = queue.popleft()
        for e in range(graph.indptr[j], graph.indptr[j + 1]):
            i = int(graph.indices[e])
            count[i] += 1
            if step[i] == -1 and count[i] >= threshold[i]:
                step[i] = step[j] + 1
                queue.append(i)
    return [s != -1 for s in step], step


def ref_random_order_count(graph, threshold, seeds, gen):
    """Asynchronous updating in random order (Watts 2002): activate random eligible nodes one at a time."""
    ins = in_edges(graph)
    active = [False] * graph.n
    for s in seeds:
        active[int(s)] = True
    while True:
        eligible = [
            i for i in range(graph.n) if not active[i] and sum(active[j] for j, _ in ins[i]) >= threshold[i]
        ]
        if not eligible:
            return active
        active[eligible[int(gen.integers(len(eligible)))]] = True


# ---------------------------------------------------------------------------
# small random instances
# ---------------------------------------------------------------------------


def random_directed(n, m, gen):
    """A directed multigraph with self-loops: m uniformly random (source, target) pairs."""
    edges = gen.integers(0, n, size=(m, 2))
    return from_edges(edges, n=n, directed=True)


def graph_zoo(seed):
    """Small graphs of every flavour the simulators must handle."""
    gen = np.random.default_rng(seed)
    n = int(gen.integers(1, 40))
    deg = gen.poisson(3.0, size=n)
    deg[0] += deg.sum() % 2  # an even stub count
    return [
        erdos_renyi(n, min(float(gen.uniform(0.5, 5.0)), n - 1), rng=gen),
        configuration_model(deg, rng=gen, self_loops="keep", multi_edges="keep"),
        random_directed(n, int(gen.integers(0, 4 * n + 1)), gen),
        layered([int(gen.integers(1, 8)) for _ in range(4)], float(gen.uniform(0.2, 0.9)), rng=gen),
    ]


def random_seeds(graph, gen, max_frac=0.3):
    k = int(gen.integers(0, max(1, int(max_frac * graph.n)) + 1))
    seeds = gen.integers(0, graph.n, size=k) if graph.n else np.empty(0, int)
    return seeds  # may repeat: the simulator counts a repeated seed once


def random_rule(kind, graph, gen, negative=False):
    n, nnz = graph.n, graph.nnz
    k = graph.in_degrees
    if kind == "count":
        return SimulationRule("count", threshold=gen.integers(0, k + 2))
    if kind == "load":
        low = -0.5 if negative else 0.0
        theta = gen.uniform(-0.1, 1.5, size=n)
        return SimulationRule("load", theta=theta, weight=gen.uniform(low, 1.0, size=nnz))
    if kind == "independent":
        return SimulationRule("independent", p_edge=gen.uniform(0, 1, size=nnz))
    return SimulationRule(
        "fiber", capacity=gen.uniform(0.5, 3.0, size=n), initial_load=gen.uniform(0.0, 1.0, size=n)
    )


def run(graph, rule, seeds, dynamics, rng=0):
    return simulate(graph, rule, seeds=seeds, dynamics=dynamics, rng=rng, record_steps=True)


def uniforms_for(graph, rng):
    """The uniforms simulate() draws for an independent cascade given a rule and explicit seeds."""
    return np.random.default_rng(rng).random(graph.nnz)


def assert_matches(res, ref_active, ref_step):
    np.testing.assert_array_equal(res.active, np.array(ref_active, dtype=bool))
    np.testing.assert_array_equal(res.activation_step, np.array(ref_step, dtype=np.int32))


# ---------------------------------------------------------------------------
# (a) kernels against the references
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kind", ["count", "load", "independent"])
@pytest.mark.parametrize("dynamics", ["async", "sync"])
def test_monotone_kernels_match_sync_reference(seed, kind, dynamics):
    for gi, graph in enumerate(graph_zoo(seed)):
        gen = np.random.default_rng([seed, gi])
        rule = random_rule(kind, graph, gen)
        seeds = random_seeds(graph, gen)
        res = run(graph, rule, seeds, dynamics, rng=seed)
        u = uniforms_for(graph, seed) if kind == "independent" else None
        assert_matches(res, *ref_sync(graph, rule, seeds, u))


@pytest.mark.parametrize("seed", range(12))
def test_count_matches_plain_queue_and_random_order(seed):
    for gi, graph in enumerate(graph_zoo(seed)):
        gen = np.random.default_rng([seed, gi, 1])
        rule = random_rule("count", graph, gen)
        seeds = random_seeds(graph, gen)
        res = simulate(graph, rule, seeds=seeds)
        assert_matches(res, *ref_queue_count(graph, rule.threshold, seeds))
        # asynchronous updating in a random order ends in the same set (monotone model)
        order_active = ref_random_order_count(graph, rule.threshold, seeds, gen)
        np.testing.assert_array_equal(res.active, order_active)


@pytest.mark.parametrize("seed", range(12))
def test_load_sync_with_negative_weights_matches_reference(seed):
    for gi, graph in enumerate(graph_zoo(seed)):
        gen = np.random.default_rng([seed, gi, 2])
        rule = random_rule("load", graph, gen, negative=True)
        seeds = random_seeds(graph, gen)
        assert_matches(run(graph, rule, seeds, "sync"), *ref_sync(graph, rule, seeds))


@pytest.mark.parametrize("seed", range(16))
def test_fiber_matches_reference(seed):
    for gi, graph in enumerate(graph_zoo(seed)):
        gen = np.random.default_rng([seed, gi, 3])
        rule = random_rule("fiber", graph, gen)
        seeds = random_seeds(graph, gen)
        assert_matches(run(graph, rule, seeds, "sync"), *ref_fiber(graph, rule, seeds))


def test_fiber_reference_cascades_are_nontrivial():
    """Guard against a vacuous comparison: the random fiber instances above do spread."""
    spread = 0
    for seed in range(16):
        for gi, graph in enumerate(graph_zoo(seed)):
            gen = np.random.default_rng([seed, gi, 3])
            rule = random_rule("fiber", graph, gen)
            seeds = random_seeds(graph, gen)
            res = run(graph, rule, seeds, "sync")
            spread += res.n_steps >= 2
    assert spread >= 10


def test_kernels_directly_leave_work_arrays_clean():
    """The omark array (and the kernel contract) after a large-level run: all zero again."""
    g = erdos_renyi(3000, 6.0, rng=5)
    n = g.n
    thr = np.ones(n, dtype=np.int64)
    seeds = np.arange(0, n, 7, dtype=np.int32)  # level 0 is larger than n / ORDER_DIV
    rem = np.empty(n, np.int8)  # the dtype simulate() picks here (max degree < 127)
    queue = np.empty(n + 1, np.int32)
    omark = np.zeros(n, np.uint8)
    active = np.empty(n, bool)
    step = np.empty(n, np.int32)
    level_end = np.empty(n + 2, np.int64)
    n_seeds, t = sk.count_async(
        g.indptr, g.indices, thr, seeds, g.max_degree + 1, rem, queue, omark, active, step, level_end
    )
    assert n_seeds == seeds.size
    assert not omark.any()
    # queue lists the active nodes level by level
    order = queue[: level_end[t]]
    assert np.all(np.diff(step[order]) >= 0)
    assert set(order.tolist()) == set(np.flatnonzero(active).tolist())


# ---------------------------------------------------------------------------
# (a) small cases by hand
# ---------------------------------------------------------------------------


def count_rule(thresholds):
    return SimulationRule("count", threshold=np.asarray(thresholds, dtype=np.int64))


def watts_rule(graph, phi):
    """Watts' rule m/k >= phi in integers; a node without in-neighbours never activates (phi > 0)."""
    return count_rule(np.maximum(np.ceil(phi * graph.in_degrees - 1e-12), 1))


DYN = pytest.mark.parametrize("dynamics", ["async", "sync"])


@DYN
def test_path(dynamics):
    g = from_edges([[0, 1], [1, 2], [2, 3], [3, 4]])
    r = simulate(g, count_rule([1] * 5), seeds=[2], dynamics=dynamics, record_steps=True)
    np.testing.assert_array_equal(r.activation_step, [2, 1, 0, 1, 2])
    np.testing.assert_allclose(r.steps, [0.2, 0.6, 1.0], atol=1e-15)
    assert (r.n_steps, r.n_seeds, r.final_fraction) == (2, 1, 1.0)


@DYN
def test_star_hub_vs_leaf(dynamics):
    # centre 0 with leaves 1..4; centre needs 2 active neighbours, leaves 1
    g = from_edges([[0, i] for i in range(1, 5)])
    rule = count_rule([2, 1, 1, 1, 1])
    hub = simulate(g, rule, seeds=[0], dynamics=dynamics)
    np.testing.assert_array_equal(hub.activation_step, [0, 1, 1, 1, 1])
    leaf = simulate(g, rule, seeds=[3], dynamics=dynamics)
    np.testing.assert_array_equal(leaf.activation_step, [-1, -1, -1, 0, -1])
    assert leaf.final_fraction == 0.2 and leaf.n_steps == 0
    two = simulate(g, rule, seeds=[1, 4], dynamics=dynamics)
    np.testing.assert_array_equal(two.activation_step, [1, 0, 2, 2, 0])


@DYN
def test_complete_graph(dynamics):
    n = 6
    g = from_edges([[i, j] for i in range(n) for j in range(i + 1, n)])
    rule = count_rule([3] * n)  # each node needs 3 of its 5 neighbours
    assert simulate(g, rule, seeds=[0, 1], dynamics=dynamics).final_fraction == 2 / 6
    r = simulate(g, rule, seeds=[0, 1, 2], dynamics=dynamics)
    np.testing.assert_array_equal(r.activation_step, [0, 0, 0, 1, 1, 1])


@DYN
def test_isolated_nodes_threshold_zero_and_unreachable_thresholds(dynamics):
    # 0 - 1 - 2, isolated 3 and 4; node 4 has threshold 0 (active by itself at step 1)
    g = from_edges([[0, 1], [1, 2]], n=5)
    r = simulate(g, count_rule([1, 1, 1, 1, 0]), seeds=[0], dynamics=dynamics)
    np.testing.assert_array_equal(r.activation_step, [0, 1, 2, -1, 1])
    # thresholds above the degree: never (even next to the seed)
    r = simulate(g, count_rule([1, 3, 2, 1, 1]), seeds=[0], dynamics=dynamics)
    np.testing.assert_array_equal(r.activation_step, [0, -1, -1, -1, -1])
    # no seeds at all: only the self-activating node starts, then spreads
    g2 = from_edges([[0, 1], [1, 2]])
    r = simulate(g2, count_rule([0, 1, 1]), dynamics=dynamics, record_steps=True)
    np.testing.assert_array_equal(r.activation_step, [1, 2, 3])
    np.testing.assert_allclose(r.steps, [0, 1 / 3, 2 / 3, 1])
    assert r.n_seeds == 0
    # a seed with threshold 0 stays a seed (step 0); negative thresholds mean threshold 0
    r = simulate(g2, count_rule([0, -3, 5]), seeds=[0], dynamics=dynamics)
    np.testing.assert_array_equal(r.activation_step, [0, 1, -1])


@DYN
def test_directed_counts_in_neighbours(dynamics):
    # 0 -> 2, 1 -> 2, 2 -> 3: node 2 has in-degree 2
    g = from_edges([[0, 2], [1, 2], [2, 3]], directed=True)
    rule = count_rule([1, 1, 2, 1])
    assert simulate(g, rule, seeds=[0], dynamics=dynamics).final_fraction == 0.25
    r = simulate(g, rule, seeds=[0, 1], dynamics=dynamics)
    np.testing.assert_array_equal(r.activation_step, [0, 0, 1, 2])
    # activity does not flow against the edges
    r = simulate(g, rule, seeds=[3], dynamics=dynamics)
    np.testing.assert_array_equal(r.activation_step, [-1, -1, -1, 0])


@DYN
def test_load_tolerance_and_weights(dynamics):
    # three in-neighbours of node 3, weight 0.1 each: 0.1 + 0.1 + 0.1 != 0.3 in floats
    g = from_edges([[0, 3], [1, 3], [2, 3]], directed=True)
    rule = SimulationRule("load", theta=[1, 1, 1, 0.3], weight=[0.1, 0.1, 0.1])
    r = simulate(g, rule, seeds=[0, 1, 2], dynamics=dynamics)
    assert r.activation_step[3] == 1
    r = simulate(g, rule, seeds=[0, 1], dynamics=dynamics)
    assert r.activation_step[3] == -1
    # theta <= 0 activates by itself at step 1
    rule0 = SimulationRule("load", theta=[1, 1, 1, 0.0], weight=[0.1, 0.1, 0.1])
    assert simulate(g, rule0, dynamics=dynamics).activation_step.tolist() == [-1, -1, -1, 1]


def test_load_negative_weights_sync_by_hand():
    # node 2 has theta 0 (would self-activate) but a seed pushes it below: it must stay inactive
    g = from_edges([[0, 2], [1, 2]], directed=True)
    rule = SimulationRule("load", theta=[1.0, 1.0, 0.0], weight=[-0.5, 0.2])
    r = simulate(g, rule, seeds=[0], dynamics="sync")
    assert r.activation_step.tolist() == [0, -1, -1]
    r = simulate(g, rule, seeds=[1], dynamics="sync")
    assert r.activation_step.tolist() == [-1, 0, 1]
    with pytest.raises(ValueError, match="negative weights"):
        simulate(g, rule, seeds=[0], dynamics="async")


@DYN
def test_independent_cascade_extremes(dynamics):
    g = erdos_renyi(200, 3.0, rng=1)
    one = simulate(g, SimulationRule("independent", p_edge=np.ones(g.nnz)), seeds=[0], dynamics=dynamics)
    # p = 1: breadth-first distances from the seed
    from scipy.sparse.csgraph import shortest_path

    dist = shortest_path(g.to_scipy(), indices=0, unweighted=True)
    expect = np.where(np.isinf(dist), -1, dist).astype(np.int32)
    np.testing.assert_array_equal(one.activation_step, expect)
    zero = simulate(g, SimulationRule("independent", p_edge=np.zeros(g.nnz)), seeds=[0, 5], dynamics=dynamics)
    assert zero.final_fraction == 2 / 200 and zero.n_steps == 0


def test_fiber_by_hand_shares_only_with_functional_neighbours():
    # edges 0-1, 0-2, 1-2, 2-3; loads 1. Seed 0 fails and gives 1/2 to each of 1 and 2:
    # both reach 1.5 > 1.4 and fail at step 1, together. Node 1 has no functional
    # neighbour left (0 and 2 failed): its load is lost. Node 2 gives all its 1.5 to
    # node 3 (nothing to 1, which fails in the same round): 1 + 1.5 = 2.5.
    g = from_edges([[0, 1], [0, 2], [1, 2], [2, 3]])
    for cap3, step3 in [(2.4, 2), (2.5, -1), (2.6, -1)]:
        rule = SimulationRule("fiber", capacity=[9, 1.4, 1.4, cap3], initial_load=[1, 1, 1, 1])
        r = simulate(g, rule, seeds=[0], dynamics="sync")
        assert r.activation_step.tolist() == [0, 1, 1, step3], cap3


def test_fiber_initial_overload_fails_at_step_one_and_async_is_refused():
    g = from_edges([[0, 1], [1, 2]])
    rule = SimulationRule("fiber", capacity=[0.5, 1.2, 1.2], initial_load=[1, 1, 1])
    r = simulate(g, rule, dynamics="sync")  # no seeds: node 0 is overloaded from the start
    # 0 fails at 1 and gives 1 to node 1 (2 > 1.2), which gives its 2 to node 2 at step 3
    assert r.activation_step.tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="sync"):
        simulate(g, rule, dynamics="async")


def test_fiber_path_load_accumulates():
    # path 0-1-2, loads 1: seed 0 gives 1 to node 1 (load 2 > 1.5, fails at step 1),
    # which gives its whole load 2 to node 2 (load 3)
    g = from_edges([[0, 1], [1, 2]])
    for cap2, expect in [(2.9, [0, 1, 2]), (3.0, [0, 1, -1])]:
        rule = SimulationRule("fiber", capacity=[9, 1.5, cap2], initial_load=[1, 1, 1])
        assert simulate(g, rule, seeds=[0], dynamics="sync").activation_step.tolist() == expect


def test_empty_and_edgeless_graphs():
    empty = Graph.from_csr([0], [])
    r = simulate(empty, count_rule([]), record_steps=True)
    assert r.final_fraction == 0.0 and r.active.shape == (0,) and r.n_steps == 0
    g = Graph.from_csr(np.zeros(4, dtype=np.int64), [])
    r = simulate(g, count_rule([1, 0, 1]), seeds=[2], record_steps=True)
    assert r.activation_step.tolist() == [-1, 1, 0]
    np.testing.assert_allclose(r.steps, [1 / 3, 2 / 3])


# ---------------------------------------------------------------------------
# (b) invariants
# ---------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["count", "load", "independent"]))
def test_async_equals_sync(seed, kind):
    for graph in graph_zoo(seed):
        gen = np.random.default_rng(seed)
        rule = random_rule(kind, graph, gen)
        seeds = random_seeds(graph, gen)
        a = run(graph, rule, seeds, "async", rng=seed)
        s = run(graph, rule, seeds, "sync", rng=seed)
        np.testing.assert_array_equal(a.active, s.active)
        np.testing.assert_array_equal(a.activation_step, s.activation_step)
        np.testing.assert_array_equal(a.steps, s.steps)
        assert (a.n_steps, a.n_seeds) == (s.n_steps, s.n_seeds)


def active_in_counts(graph, active):
    """Number of active in-neighbours of every node (CSR entries counted with multiplicity)."""
    rows = np.repeat(np.arange(graph.n), graph.degrees)
    return np.bincount(graph.indices[active[rows]], minlength=graph.n)


@pytest.mark.parametrize("seed", range(5))
def test_final_state_is_a_fixed_point(seed):
    gen = np.random.default_rng(seed)
    g = erdos_renyi(3000, float(gen.uniform(1.5, 6.0)), rng=gen)
    rule = SimulationRule("count", threshold=np.ceil(gen.uniform(0.05, 0.4, g.n) * g.in_degrees))
    r = simulate(g, rule, seed_fraction=0.005, rng=gen)
    m = active_in_counts(g, r.active)
    inactive = ~r.active
    assert np.all(m[inactive] < rule.threshold[inactive])
    # and every non-seed active node satisfied its threshold
    nonseed = r.active & (r.activation_step > 0)
    assert np.all(m[nonseed] >= rule.threshold[nonseed])


def test_monotone_in_phi_and_in_seeds():
    g = erdos_renyi(4000, 4.0, rng=3)
    seeds = np.random.default_rng(4).choice(g.n, 40, replace=False)
    prev = None
    for phi in [0.1, 0.15, 0.18, 0.2, 0.25, 0.3, 0.5]:
        r = simulate(g, watts_rule(g, phi), seeds=seeds)
        if prev is not None:
            assert np.all(r.active <= prev)  # larger phi: subset
        prev = r.active
    rule = watts_rule(g, 0.22)
    small = simulate(g, rule, seeds=seeds[:10])
    large = simulate(g, rule, seeds=seeds)
    assert np.all(small.active <= large.active)
    assert large.final_fraction > small.final_fraction  # the check is not vacuous


@pytest.mark.parametrize("kind", ["count", "load", "independent", "fiber"])
def test_steps_invariants(kind):
    gen = np.random.default_rng(7)
    g = erdos_renyi(2000, 4.0, rng=gen)
    rule = {
        "count": watts_rule(g, 0.18),
        "load": SimulationRule("load", theta=np.full(g.n, 0.3), weight=gen.uniform(0, 0.6, g.nnz)),
        "independent": SimulationRule("independent", p_edge=np.full(g.nnz, 0.4)),
        "fiber": SimulationRule("fiber", capacity=gen.uniform(1, 2.5, g.n), initial_load=np.ones(g.n)),
    }[kind]
    r = simulate(g, rule, seed_fraction=0.01, rng=gen, record_steps=True, dynamics="sync")
    assert r.steps.shape == (r.n_steps + 1,)
    assert np.all(np.diff(r.steps) > 0)  # something activates at every recorded step
    assert r.steps[-1] == r.final_fraction == r.active.mean()
    assert r.steps[0] == r.n_seeds / g.n == 0.01
    assert r.activation_step.max() == r.n_steps
    assert np.array_equal(r.active, r.activation_step >= 0)
    for t in range(r.n_steps + 1):
        assert r.steps[t] * g.n == pytest.approx(
            np.count_nonzero((r.activation_step >= 0) & (r.activation_step <= t))
        )
    assert r.n_steps >= 2  # the cascades spread


def test_result_is_frozen_and_read_only():
    g = erdos_renyi(100, 3.0, rng=0)
    r = simulate(g, count_rule(np.ones(100)), seeds=[0], record_steps=True)
    assert isinstance(r, CascadeResult)
    for arr in (r.active, r.activation_step, r.steps):
        assert not arr.flags.writeable
    with pytest.raises(AttributeError):
        r.final_fraction = 0.5
    assert r.n_active == int(r.active.sum())
    assert "CascadeResult(n=100" in repr(r)
    assert r.activation_step.dtype == np.int32 and r.active.dtype == bool
    # the graph's arrays are untouched and still read-only
    assert not g.indices.flags.writeable


# ---------------------------------------------------------------------------
# seeds and randomness
# ---------------------------------------------------------------------------


def test_seed_forms_and_duplicates():
    g = erdos_renyi(50, 3.0, rng=2)
    rule = watts_rule(g, 0.3)
    mask = np.zeros(50, bool)
    mask[[3, 7, 11]] = True
    by_ids = simulate(g, rule, seeds=[3, 7, 11])
    by_mask = simulate(g, rule, seeds=mask)
    by_dups = simulate(g, rule, seeds=[11, 3, 3, 7, 11, 11])
    by_float = simulate(g, rule, seeds=np.array([3.0, 7.0, 11.0]))
    for r in (by_mask, by_dups, by_float):
        np.testing.assert_array_equal(r.activation_step, by_ids.activation_step)
        assert r.n_seeds == 3
    one = simulate(g, rule, seeds=np.int64(3))
    assert one.n_seeds == 1 and one.activation_step[3] == 0
    assert simulate(g, rule, seeds=[]).n_seeds == 0


def test_random_seed_count_and_rounding():
    g = erdos_renyi(1001, 0.0, rng=0)  # no edges: the active set is the seed set
    rule = count_rule(np.full(1001, 1))
    r = simulate(g, rule, seed_fraction=0.01, rng=1)
    assert r.n_seeds == 10 and r.n_active == 10  # 10.01 -> 10
    assert simulate(g, rule, seed_fraction=0.0015, rng=1).n_seeds == 2  # 1.5015 -> 2
    assert simulate(g, rule, seed_fraction=1.0, rng=1).n_seeds == 1001
    assert simulate(g, rule, seed_fraction=0.0, rng=1).n_seeds == 0
    assert simulate(g, rule, n_seeds=17, rng=1).n_seeds == 17
    g2 = from_edges([], n=4)
    assert simulate(g2, count_rule([1] * 4), seed_fraction=0.5 / 4, rng=0).n_seeds == 1  # 0.5 -> 1 (half up)


def test_seeded_determinism():
    g = erdos_renyi(5000, 4.0, rng=11)
    rule = watts_rule(g, 0.18)
    a = simulate(g, rule, seed_fraction=0.002, rng=5)
    b = simulate(g, rule, seed_fraction=0.002, rng=5)
    c = simulate(g, rule, seed_fraction=0.002, rng=6)
    np.testing.assert_array_equal(a.activation_step, b.activation_step)
    assert not np.array_equal(a.activation_step, c.activation_step)
    # a Generator is advanced in place: two calls give two different seed sets
    gen = np.random.default_rng(5)
    first = simulate(g, rule, seed_fraction=0.002, rng=gen)
    second = simulate(g, rule, seed_fraction=0.002, rng=gen)
    np.testing.assert_array_equal(first.activation_step, a.activation_step)
    assert not np.array_equal(first.activation_step, second.activation_step)


def test_randomness_consumption_order_for_independent_cascade():
    # documented order: model rule, then random seeds, then one uniform per CSR entry
    g = erdos_renyi(300, 3.0, rng=1)
    rule = SimulationRule("independent", p_edge=np.full(g.nnz, 0.5))
    r = simulate(g, rule, n_seeds=3, rng=9)
    gen = np.random.default_rng(9)
    seeds = gen.choice(g.n, size=3, replace=False, shuffle=False)
    u = gen.random(g.nnz)
    assert_matches(r, *ref_sync(g, rule, seeds, u))


# ---------------------------------------------------------------------------
# the models of cascades.models through simulate
# ---------------------------------------------------------------------------


MODELS = {
    "fractional": FractionalThreshold(0.18),
    "fractional-strict": FractionalThreshold(0.2, strict=True),
    "fractional-random": FractionalThreshold(stats.norm(0.2, 0.05)),
    "absolute": AbsoluteThreshold(2),
    "exposure": WeightedThreshold(0.25, "exposure"),
    "damage": WeightedThreshold(0.3, "damage"),
    "iid-weights": WeightedThreshold(0.6, stats.expon(scale=0.3)),
    "independent": IndependentCascade(0.3),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_through_simulate(name):
    model = MODELS[name]
    g = erdos_renyi(400, 4.0, rng=3)
    a = simulate(g, model, seed_fraction=0.02, rng=8, record_steps=True)
    s = simulate(g, model, seed_fraction=0.02, rng=8, record_steps=True, dynamics="sync")
    np.testing.assert_array_equal(a.activation_step, s.activation_step)
    # the same numbers through the rule: model.rule(graph, rng) first, then the seeds
    gen = np.random.default_rng(8)
    rule = model.rule(g, rng=gen)
    seeds = gen.choice(g.n, size=8, replace=False, shuffle=False)
    u = gen.random(g.nnz) if rule.kind == "independent" else None
    assert_matches(a, *ref_sync(g, rule, seeds, u))


def test_fractional_threshold_model_by_hand():
    star = from_edges([[0, i] for i in range(1, 4)])
    model = FractionalThreshold(0.5)  # centre needs 2 of 3, leaves 1 of 1
    assert simulate(star, model, seeds=[1]).activation_step.tolist() == [-1, 0, -1, -1]
    assert simulate(star, model, seeds=[0]).activation_step.tolist() == [0, 1, 1, 1]
    assert simulate(star, model, seeds=[1, 2]).activation_step.tolist() == [1, 0, 0, 2]


def test_fiber_bundle_model_through_simulate():
    g = erdos_renyi(300, 4.0, rng=2)
    model = FiberBundle(stats.uniform(1.0, 1.5), initial_load=1.0)
    with pytest.raises(ValueError, match="sync"):
        simulate(g, model, n_seeds=3, rng=0)
    r = simulate(g, model, n_seeds=3, rng=0, dynamics="sync")
    gen = np.random.default_rng(0)
    rule = model.rule(g, rng=gen)
    seeds = gen.choice(g.n, size=3, replace=False, shuffle=False)
    assert_matches(r, *ref_fiber(g, rule, seeds))
    with pytest.raises(ValueError, match="sync"):
        simulate_ensemble(g, model, 2, n_seeds=1, rng=0)


# ---------------------------------------------------------------------------
# argument checks (all before any kernel runs)
# ---------------------------------------------------------------------------


def test_bad_arguments():
    g = erdos_renyi(20, 3.0, rng=0)
    rule = count_rule(np.ones(20))
    with pytest.raises(ValueError, match=r"seeds must be node ids in \[0, 19\], got 20"):
        simulate(g, rule, seeds=[0, 20])
    with pytest.raises(ValueError, match="seeds must be node ids"):
        simulate(g, rule, seeds=[-1])
    with pytest.raises(ValueError, match=r"seeds as a bool mask must have shape \(20,\)"):
        simulate(g, rule, seeds=np.ones(19, bool))
    with pytest.raises(ValueError, match="seeds must hold integer node ids"):
        simulate(g, rule, seeds=[0.5])
    with pytest.raises(ValueError, match="seeds must be a 1-dimensional"):
        simulate(g, rule, seeds=[[0, 1]])
    with pytest.raises(ValueError, match=r"seed_fraction must be a finite number in \[0, 1\]"):
        simulate(g, rule, seed_fraction=1.5)
    with pytest.raises(ValueError, match="seed_fraction"):
        simulate(g, rule, seed_fraction=-0.1)
    with pytest.raises(ValueError, match=r"n_seeds must be an integer in \[0, 20\]"):
        simulate(g, rule, n_seeds=21)
    with pytest.raises(ValueError, match="at most one of seeds, seed_fraction and n_seeds"):
        simulate(g, rule, seeds=[0], n_seeds=1)
    with pytest.raises(ValueError, match="at most one"):
        simulate(g, rule, seed_fraction=0.1, n_seeds=1)
    with pytest.raises(ValueError, match="dynamics must be one of"):
        simulate(g, rule, seeds=[0], dynamics="random")
    with pytest.raises(ValueError, match="threshold has 19 entries"):
        simulate(g, count_rule(np.ones(19)), seeds=[0])
    with pytest.raises(ValueError, match="p_edge has 3 entries"):
        simulate(g, SimulationRule("independent", p_edge=[0.5, 0.5, 0.5]), seeds=[0])
    with pytest.raises(ValueError, match="p_edge must hold probabilities"):
        simulate(g, SimulationRule("independent", p_edge=np.full(g.nnz, 1.5)), seeds=[0])
    with pytest.raises(ValueError, match="weight has"):
        simulate(g, SimulationRule("load", theta=np.ones(20), weight=[1.0]), seeds=[0])
    with pytest.raises(ValueError, match="weight must hold finite"):
        simulate(g, SimulationRule("load", theta=np.ones(20), weight=np.full(g.nnz, np.nan)), seeds=[0])
    with pytest.raises(ValueError, match="theta must not contain NaN"):
        simulate(g, SimulationRule("load", theta=np.full(20, np.nan), weight=np.ones(g.nnz)), seeds=[0])
    with pytest.raises(ValueError, match="capacity has 2 entries"):
        simulate(g, SimulationRule("fiber", capacity=[1, 1], initial_load=np.ones(20)), dynamics="sync")
    with pytest.raises(ValueError, match="dynamics='async' is not defined"):
        simulate(g, SimulationRule("fiber", capacity=np.ones(20), initial_load=np.ones(20)))
    with pytest.raises(TypeError, match="graph must be a cascades.Graph"):
        simulate(g.to_scipy(), rule)
    with pytest.raises(TypeError, match="model must be a CascadeModel or a SimulationRule"):
        simulate(g, "watts")


def test_validation_precedes_random_draws():
    # a bad seed argument fails before the generator is touched
    g = erdos_renyi(20, 3.0, rng=0)
    gen = np.random.default_rng(0)
    state = gen.bit_generator.state
    with pytest.raises(ValueError):
        simulate(g, count_rule(np.ones(20)), n_seeds=50, rng=gen)
    assert gen.bit_generator.state == state


# ---------------------------------------------------------------------------
# the per-degree threshold table (the fast path of one-number thresholds)
# ---------------------------------------------------------------------------

_DEGREE_MODELS = [
    FractionalThreshold(0.18),
    FractionalThreshold(0.2, strict=True),
    FractionalThreshold(0.0),
    FractionalThreshold(1 / 3),
    AbsoluteThreshold(0),
    AbsoluteThreshold(2),
    AbsoluteThreshold(10**30),
    WeightedThreshold(0.25, "exposure"),
    WeightedThreshold(1.5, "exposure"),
]


def assert_same_result(a, b):
    np.testing.assert_array_equal(a.active, b.active)
    np.testing.assert_array_equal(a.activation_step, b.activation_step)
    assert (a.n_seeds, a.n_steps, a.final_fraction) == (b.n_seeds, b.n_steps, b.final_fraction)
    assert (a.steps is None) == (b.steps is None)
    if a.steps is not None:
        np.testing.assert_array_equal(a.steps, b.steps)


@pytest.mark.parametrize("seed", range(6))
@DYN
def test_degree_table_path_equals_the_rule_path(seed, dynamics):
    """A model with one-number thresholds (table path) gives exactly what its rule gives (array path)."""
    for gi, graph in enumerate(graph_zoo(seed)):
        gen = np.random.default_rng([seed, gi, 4])
        seeds = random_seeds(graph, gen)
        for model in _DEGREE_MODELS:
            assert model.degree_thresholds(graph.max_degree) is not None  # the table path is taken
            rule = model.rule(graph)
            a = simulate(graph, model, seeds=seeds, dynamics=dynamics, record_steps=True)
            b = simulate(graph, rule, seeds=seeds, dynamics=dynamics, record_steps=True)
            assert_same_result(a, b)
            assert_matches(a, *ref_queue_count(graph, rule.threshold, seeds))
            # random seeds: the same seeds are drawn, and the generator ends in the same state
            g1, g2 = np.random.default_rng(seed), np.random.default_rng(seed)
            k = int(gen.integers(0, graph.n + 1))
            a = simulate(graph, model, n_seeds=k, rng=g1, dynamics=dynamics)
            b = simulate(graph, rule, n_seeds=k, rng=g2, dynamics=dynamics)
            assert_same_result(a, b)
            assert g1.bit_generator.state == g2.bit_generator.state


@DYN
def test_watts_model_against_exact_fractions_and_documented_seed_draw(dynamics):
    """Thresholds from exact rational arithmetic, seeds from the documented draw, the reference queue."""
    g = erdos_renyi(3000, 4.0, rng=0)
    for phi, strict in ((0.18, False), (0.2, False), (0.2, True), (0.25, False)):
        model = FractionalThreshold(phi, strict=strict)
        exact = [
            (math.floor(Fraction(str(phi)) * k) + 1 if strict else max(math.ceil(Fraction(str(phi)) * k), 1))
            for k in g.in_degrees.tolist()
        ]
        seeds = np.random.default_rng(1).choice(g.n, size=30, replace=False, shuffle=False)
        res = simulate(g, model, seed_fraction=0.01, rng=1, dynamics=dynamics)
        assert res.n_seeds == 30
        assert_matches(res, *ref_queue_count(g, exact, seeds))
    assert res.final_fraction > 0.5  # phi = 0.25 from 1% seeds on z = 4 still spreads: not vacuous


@pytest.mark.parametrize("seed", range(8))
def test_by_degree_kernels_equal_the_threshold_kernels(seed):
    """count_*_by_degree(table) == count_*(table[in_degrees]), also for tables outside [0, k + 1]."""
    for gi, graph in enumerate(graph_zoo(seed)):
        gen = np.random.default_rng([seed, gi, 5])
        n, k = graph.n, graph.in_degrees
        cap = (int(k.max()) if n else 0) + 1
        table = gen.integers(-2, cap + 3, size=cap)  # clipped to [0, cap] by both kernels
        seeds = random_seeds(graph, gen).astype(graph.indices.dtype)
        for by_degree, plain in (
            (sk.count_async_by_degree, sk.count_async),
            (sk.count_sync_by_degree, sk.count_sync),
        ):
            outs = []
            for kernel, thresholds in ((by_degree, (k, table)), (plain, (table[k],))):
                out = (
                    np.empty(n, np.int16),
                    np.empty(n + 1, graph.indices.dtype),
                    np.zeros(n, np.uint8),
                    np.empty(n, bool),
                    np.empty(n, np.int32),
                    np.empty(n + 2, np.int64),
                )
                n_seeds, t = kernel(graph.indptr, graph.indices, *thresholds, seeds, cap, *out)
                assert not out[2].any()  # omark left clean
                outs.append((n_seeds, t, out[3], out[4], out[5][: t + 1]))
            (s1, t1, a1, st1, l1), (s2, t2, a2, st2, l2) = outs
            assert (s1, t1) == (s2, t2)
            np.testing.assert_array_equal(a1, a2)
            np.testing.assert_array_equal(st1, st2)
            np.testing.assert_array_equal(l1, l2)


class _TableModel(FractionalThreshold):
    """A user model whose degree_thresholds returns a given table (thresholds outside [0, k + 1] too)."""

    def degree_thresholds(self, k_max):
        return np.array([-1, 1, 9, 2, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1][: k_max + 1])


class _BadTableModel(FractionalThreshold):
    def degree_thresholds(self, k_max):
        return np.zeros(k_max)  # wrong length and dtype


def test_user_degree_tables_are_checked_and_clipped():
    g = erdos_renyi(200, 4.0, rng=6)
    assert g.max_degree < 17
    table = _TableModel(0.2).degree_thresholds(g.max_degree)
    for dynamics in ("async", "sync"):
        a = simulate(g, _TableModel(0.2), seeds=[0, 5, 9], dynamics=dynamics)
        b = simulate(g, count_rule(table[g.in_degrees]), seeds=[0, 5, 9], dynamics=dynamics)
        assert_same_result(a, b)
        assert a.n_active > 3  # threshold 0 (clipped -1) and 1 make it spread
    with pytest.raises(TypeError, match=r"degree_thresholds\(\d+\) must return None or an integer array"):
        simulate(g, _BadTableModel(0.2), seeds=[0])


def test_rng_checked_without_a_generator():
    # with a one-number threshold and explicit seeds nothing is random, but rng is still checked
    g = erdos_renyi(30, 3.0, rng=0)
    model = FractionalThreshold(0.2)
    with pytest.raises(ValueError, match="rng must be a non-negative integer seed"):
        simulate(g, model, seeds=[0], rng=-1)
    with pytest.raises(TypeError, match="rng must be None"):
        simulate(g, model, seeds=[0], rng="0")
    with pytest.raises(TypeError, match="rng must be None"):
        simulate(g, model, seeds=[0], rng=np.random.RandomState(0))
    gen = np.random.default_rng(3)
    state = gen.bit_generator.state
    a = simulate(g, model, seeds=[0], rng=gen)
    assert gen.bit_generator.state == state  # nothing drawn
    for rng in (None, 5, np.random.SeedSequence(2)):
        assert_same_result(simulate(g, model, seeds=[0], rng=rng), a)


class _NoRuleModel(FractionalThreshold):
    """A one-number threshold model whose per-node rule must not be built by simulate."""

    def rule(self, graph, *, rng=None):
        raise AssertionError("simulate built the per-node rule of a degree-only model")

    def degree_thresholds(self, k_max):
        return super().degree_thresholds(k_max)


class _OwnRuleModel(FractionalThreshold):
    """Overrides rule only: its inherited degree table must not be used (thresholds all 1 here)."""

    def rule(self, graph, *, rng=None):
        return SimulationRule("count", threshold=np.ones(graph.n, dtype=np.int64))


def test_inherited_table_not_used_when_rule_is_overridden():
    g = erdos_renyi(300, 4.0, rng=2)
    r = simulate(g, _OwnRuleModel(0.9), seeds=[0])
    assert_same_result(r, simulate(g, count_rule(np.ones(g.n)), seeds=[0]))
    assert r.n_active > simulate(g, FractionalThreshold(0.9), seeds=[0]).n_active


def test_degree_model_builds_no_rule_and_no_generator(monkeypatch):
    # the per-call work the fast path removes stays removed (a guard on the overhead, not on timing)
    g = erdos_renyi(300, 4.0, rng=2)
    expected = simulate(g, FractionalThreshold(0.18).rule(g), seeds=[0, 1, 2])

    def no_generator(rng=None):
        raise AssertionError("simulate built a generator although nothing is random")

    monkeypatch.setattr(sim_module, "as_generator", no_generator)
    for rng in (None, 3, np.random.default_rng(0)):
        assert_same_result(simulate(g, _NoRuleModel(0.18), seeds=[0, 1, 2], rng=rng), expected)
    with pytest.raises(AssertionError, match="built a generator"):
        simulate(g, _NoRuleModel(0.18), n_seeds=3, rng=0)  # random seeds do need one


def test_per_graph_cache_follows_the_graph_objects():
    # the largest in-degree is cached per graph object; new graphs (possibly at a recycled id) must
    # not see a stale value, and collected graphs leave the cache
    model = AbsoluteThreshold(2)
    for i in range(15):
        g = erdos_renyi(50 + i, 1.0 + i / 2, rng=i)
        a = simulate(g, model, seeds=[0, 1, 2, 3])
        assert_same_result(a, simulate(g, model.rule(g), seeds=[0, 1, 2, 3]))
        assert sim_module._max_in_degree(g) == g.max_degree
        del g, a
    gc.collect()
    assert len(sim_module._MAX_IN_DEGREE) < 5


# ---------------------------------------------------------------------------
# ensembles
# ---------------------------------------------------------------------------


def test_ensemble_independent_of_workers_and_equal_to_a_loop():
    g = erdos_renyi(3000, 5.0, rng=0)  # near the upper edge of the window: some seeds trigger
    rule = watts_rule(g, 0.18)
    f1 = simulate_ensemble(g, rule, 40, n_seeds=1, rng=3, workers=1)
    f2 = simulate_ensemble(g, rule, 40, n_seeds=1, rng=3, workers=2)
    f3 = simulate_ensemble(g, rule, 40, n_seeds=1, rng=3, workers=3, dynamics="sync")
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(f1, f3)
    loop = [simulate(g, rule, n_seeds=1, rng=child).final_fraction for child in spawn(3, 40)]
    np.testing.assert_array_equal(f1, loop)
    assert np.min(f1) >= 1 / 3000 and np.max(f1) > 0.5 and np.min(f1) < 0.01  # both outcomes occur


def test_ensemble_factory_mode():
    def factory(gen):
        return erdos_renyi(800, 3.0, rng=gen)

    model = SimulationRule("independent", p_edge=[])  # wrong size for any graph with edges
    with pytest.raises(ValueError, match="p_edge has 0 entries"):
        simulate_ensemble(factory, model, 3, n_seeds=1, rng=0, workers=1)

    model = FractionalThreshold(0.2)
    res1 = simulate_ensemble(factory, model, 12, n_seeds=3, rng=4, workers=1, return_results=True)
    res2 = simulate_ensemble(factory, model, 12, n_seeds=3, rng=4, workers=2, return_results=True)
    assert isinstance(res1, EnsembleResult)
    np.testing.assert_array_equal(res1.fractions, res2.fractions)
    for a, b in zip(res1.results, res2.results, strict=True):
        np.testing.assert_array_equal(a.activation_step, b.activation_step)
    # run i used child i for the graph and then for the model and the seeds
    child = spawn(4, 12)[5]
    graph = factory(child)
    expect = simulate(graph, model, n_seeds=3, rng=child)
    np.testing.assert_array_equal(res1.results[5].activation_step, expect.activation_step)
    assert len({r.active.shape for r in res1.results}) == 1  # same n, different graphs
    assert len({int(r.active.sum()) for r in res1.results}) > 1


def test_ensemble_interrupt_keeps_finished_runs():
    g = erdos_renyi(500, 3.0, rng=0)
    rule = watts_rule(g, 0.2)
    full = simulate_ensemble(g, rule, 10, n_seeds=2, rng=1, workers=1)
    for workers in (1, 2):
        calls = []

        def factory(gen, calls=calls):
            calls.append(1)
            if len(calls) == 6:
                raise KeyboardInterrupt
            return g

        with pytest.raises(EnsembleInterrupted) as info:
            simulate_ensemble(factory, rule, 10, n_seeds=2, rng=1, workers=workers, return_results=True)
        exc = info.value
        assert isinstance(exc, KeyboardInterrupt)
        done = ~np.isnan(exc.fractions)
        assert exc.n_completed == done.sum() >= (5 if workers == 1 else 1)
        assert exc.n_completed < 10
        np.testing.assert_array_equal(exc.fractions[done], full[done])
        assert all((r is None) == (not d) for r, d in zip(exc.results, done, strict=True))
        if workers == 1:
            assert done.tolist() == [True] * 5 + [False] * 5


def test_ensemble_worker_exception_propagates():
    def factory(gen):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        simulate_ensemble(factory, count_rule([1]), 8, rng=0, workers=2)
    with pytest.raises(TypeError, match="factory must return"):
        simulate_ensemble(lambda gen: None, count_rule([1]), 2, rng=0, workers=1)


def test_ensemble_arguments_and_progress(capsys):
    g = erdos_renyi(100, 3.0, rng=0)
    rule = count_rule(np.ones(100))
    f = simulate_ensemble(g, rule, 5, seed_fraction=0.05, rng=0, workers=2, progress=True)
    assert f.shape == (5,) and f.dtype == np.float64
    np.testing.assert_array_equal(f, simulate_ensemble(g, rule, 5, seed_fraction=0.05, rng=0, workers=1))
    assert "5/5" in capsys.readouterr().err
    assert simulate_ensemble(g, rule, 0, rng=0).shape == (0,)
    with pytest.raises(ValueError, match="n_runs"):
        simulate_ensemble(g, rule, -1)
    with pytest.raises(ValueError, match="workers"):
        simulate_ensemble(g, rule, 2, workers=0)
    with pytest.raises(ValueError, match="n_seeds"):
        simulate_ensemble(g, rule, 2, n_seeds=101)
    with pytest.raises(ValueError, match="at most one"):
        simulate_ensemble(g, rule, 2, n_seeds=1, seed_fraction=0.1)
    with pytest.raises(ValueError, match="threshold has 3 entries"):
        simulate_ensemble(g, count_rule([1, 1, 1]), 2)
    with pytest.raises(TypeError, match="graph_or_factory"):
        simulate_ensemble("graph", rule, 2)


# ---------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------


def test_cascade_size_histogram():
    f = np.array([0.0, 0.01, 0.26, 0.5, 0.99, 1.0, np.nan])
    h = cascade_size_histogram(f, bins=4)
    assert isinstance(h, SizeHistogram)
    np.testing.assert_array_equal(h.edges, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(h.counts, [2, 1, 1, 2])  # 1.0 falls in the last bin
    assert h.n_runs == 6
    np.testing.assert_allclose(h.probabilities, [2 / 6, 1 / 6, 1 / 6, 2 / 6])
    h2 = cascade_size_histogram(f, bins=[0, 0.05, 1])
    np.testing.assert_array_equal(h2.counts, [2, 4])
    assert cascade_size_histogram([], bins=3).probabilities.tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="fractions must lie in"):
        cascade_size_histogram([1.5])
    with pytest.raises(ValueError, match="bins"):
        cascade_size_histogram(f, bins=0)
    with pytest.raises(ValueError, match="bins"):
        cascade_size_histogram(f, bins=[0.5, 0.2])


def test_global_cascade_frequency():
    f = np.array([0.001, 0.002, 0.05, 0.051, 0.9, np.nan])
    r = global_cascade_frequency(f)
    assert isinstance(r, CascadeFrequency)
    assert (r.n_global, r.n_runs, r.threshold) == (2, 5, 0.05)  # 0.05 itself is not above
    assert r.frequency == 0.4
    assert r.stderr == pytest.approx(math.sqrt(0.4 * 0.6 / 5), rel=1e-15)
    r = global_cascade_frequency(f, threshold=0.0)
    assert r.n_global == 5 and r.stderr == 0.0
    empty = global_cascade_frequency([])
    assert math.isnan(empty.frequency) and empty.n_runs == 0
    with pytest.raises(ValueError, match="threshold"):
        global_cascade_frequency(f, threshold=1.0)


# ---------------------------------------------------------------------------
# larger graphs: the locality path (levels in node order) against the references
# ---------------------------------------------------------------------------


def test_large_levels_path_matches_plain_queue():
    """Levels larger than n / ORDER_DIV are reordered: check a graph where that happens often."""
    for seed in range(3):
        gen = np.random.default_rng(seed)
        g = random_regular(1500, 4, rng=gen)
        thr = gen.integers(0, 3, g.n)  # many self-activating nodes: large level 1
        seeds = gen.choice(g.n, 200, replace=False)  # large level 0
        for dynamics in ("async", "sync"):
            r = simulate(g, count_rule(thr), seeds=seeds, dynamics=dynamics)
            assert_matches(r, *ref_queue_count(g, thr, seeds))
        rule = SimulationRule("independent", p_edge=gen.uniform(0.2, 0.8, g.nnz))
        u = uniforms_for(g, seed)
        for dynamics in ("async", "sync"):
            assert_matches(run(g, rule, seeds, dynamics, rng=seed), *ref_sync(g, rule, seeds, u))


# ---------------------------------------------------------------------------
# (c) a statistical check
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_independent_cascade_on_er_matches_percolation_fixed_point():
    """ICM on ER(n, z): a large outbreak has size S = 1 - exp(-z p S); its probability is S too.

    With one draw per direction of each edge, the outbreak from a seed is its
    out-component in a directed bond percolation with probability p, whose
    giant out- and in-components both have the relative size S (Newman, PRE 66,
    016128 (2002), for transmissibility T = p). z p = 2: S = 0.79681.
    """
    z, p, n, runs = 4.0, 0.5, 100_000, 200
    s = 0.5
    for _ in range(200):
        s = 1 - math.exp(-z * p * s)
    g = erdos_renyi(n, z, rng=123)
    rule = SimulationRule("independent", p_edge=np.full(g.nnz, p))
    f = simulate_ensemble(g, rule, runs, n_seeds=1, rng=7)
    big = f[f > 0.05]
    # size: the giant out-component fluctuates by O(n^-1/2) ~ 0.003; tolerance 0.01
    assert abs(big.mean() - s) < 0.01
    # frequency: binomial standard error sqrt(S (1 - S) / 200) = 0.028; tolerance 4 SE
    freq = global_cascade_frequency(f, threshold=0.05)
    assert abs(freq.frequency - s) < 4 * math.sqrt(s * (1 - s) / runs)


def test_reused_scratch_arrays_do_not_leak_between_calls():
    """The count kernels' scratch arrays are reused per thread: results must not depend on earlier calls."""
    big = erdos_renyi(3000, 5.0, rng=11)
    small = erdos_renyi(500, 3.0, rng=12)
    model = FractionalThreshold(0.2)
    first = sim_module.simulate(big, model, seed_fraction=0.02, rng=5)
    sim_module.simulate(small, model, seed_fraction=0.1, rng=6)  # other size: the cache is replaced
    sim_module.simulate(big, model, seed_fraction=0.5, rng=7)  # same size: the cache is reused
    again = sim_module.simulate(big, model, seed_fraction=0.02, rng=5)
    assert np.array_equal(first.active, again.active)
    assert np.array_equal(first.activation_step, again.activation_step)
    assert first.final_fraction == again.final_fraction
    # the result arrays are fresh, never the reused scratch
    assert not np.shares_memory(first.active, again.active)
