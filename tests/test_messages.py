"""Tests of cascades.messages and its kernels.

Tiers (the three ways of testing in README.md, Contributing):
(a) exact: the Poisson-binomial leave-one-out kernels (all three code paths) against a slow, readable
    convolution at 1e-12, with messages exactly 0, 1 and within 1e-15 of 1; message passing on small
    trees, forests and directed polytrees against exact enumeration of all seed sets (and of all
    edge coins for the independent cascade, of all threshold draws for a random threshold), final
    sizes and synchronous time courses, at 1e-12; closed forms on stars and paths; the cascade
    condition against an explicitly built non-backtracking matrix, k - 1 on k-regular graphs, 1 on
    cycles, 0 on trees; the degree-class solver against an independent Gleeson-Cahalane recursion
    (and against cascades.meanfield.final_size) for uncorrelated e_kk' = q_k q_k'; the modular
    solver against the degree-class solver with regular modules; message passing on any k-regular
    graph against the Bethe-lattice recursion.
(b) invariants: sizes in [0, 1], monotone in the seed fraction and in phi; reverse-entry map;
    non-convergence is reported; argument checks and refusals (FiberBundle, models without response).
(c) against seeded simulation on the same graphs: message passing on a configuration-model graph,
    the modular solver on a generated two-module graph, the degree-class solver on a generated
    assortative graph; and message passing against the LTA, whose difference on one graph is a
    quenched O(n^-1/2) fluctuation (measured, tolerance stated). Tolerances are written next to the
    assertions; the large versions are marked slow.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cascades import _mp_kernels as mk
from cascades import messages as mp
from cascades.degrees import Binomial, Empirical, Poisson, Regular
from cascades.graphs import configuration_model, erdos_renyi, from_edges, random_regular
from cascades.messages import (
    CorrelatedResult,
    DegreeCorrelation,
    MessagePassingResult,
    ModularNetwork,
    final_size_correlated,
    final_size_modular,
    message_passing,
    message_passing_condition,
)
from cascades.models import (
    AbsoluteThreshold,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    WeightedThreshold,
)
from cascades.simulation import simulate, simulate_ensemble

# ---------------------------------------------------------------------------
# readable references
# ---------------------------------------------------------------------------


def loo_reference(q, f, c):
    """Full and leave-one-out values of E f[min(S, c)] by explicit convolution (slow, readable)."""

    def value(probs):
        dist = np.array([1.0])
        for x in probs:
            dist = np.convolve(dist, [1.0 - x, x])
        m = np.arange(dist.size)
        return float(np.sum(dist * np.asarray(f)[np.minimum(m, c)]))

    full = value(q)
    loo = [value(np.delete(q, t)) for t in range(len(q))]
    return full, np.array(loo)


def in_neighbours(graph):
    """in_nb[i] = list of the in-neighbours of i (with multiplicity), from the CSR rows."""
    in_nb = [[] for _ in range(graph.n)]
    for j in range(graph.n):
        for i in graph.indices[graph.indptr[j] : graph.indptr[j + 1]]:
            in_nb[int(i)].append(j)
    return in_nb


def propagate(in_nb, threshold, seeds):
    """Synchronous threshold dynamics; returns each node's activation step (-1: never)."""
    n = len(in_nb)
    step = [-1] * n
    for s in seeds:
        step[s] = 0
    t = 0
    while True:
        new = [
            i
            for i in range(n)
            if step[i] < 0 and sum(1 for l in in_nb[i] if step[l] >= 0 and l != i) >= threshold[i]
        ]
        if not new:
            return step
        t += 1
        for i in new:
            step[i] = t


def enumerate_threshold_cascade(graph, thresholds_and_weights, rho0, T):
    """Exact node activation probabilities and expected fraction after steps 0..T.

    ``thresholds_and_weights``: list of (integer threshold array, probability) to average over
    (one entry for deterministic thresholds). Every seed set S has weight rho0^|S| (1-rho0)^(n-|S|).
    """
    n = graph.n
    in_nb = in_neighbours(graph)
    node = np.zeros(n)
    traj = np.zeros(T + 1)
    for threshold, w_thr in thresholds_and_weights:
        for bits in itertools.product((0, 1), repeat=n):
            seeds = [i for i in range(n) if bits[i]]
            w = w_thr * rho0 ** len(seeds) * (1 - rho0) ** (n - len(seeds))
            step = np.array(propagate(in_nb, threshold, seeds))
            node += w * (step >= 0)
            for t in range(T + 1):
                traj[t] += w * np.mean((step >= 0) & (step <= t))
    return node, traj


def enumerate_independent_cascade(graph, p, rho0, T):
    """Exact ICM marginals and time course: all seed sets and all edge coins (each CSR entry j -> i)."""
    n = graph.n
    src = np.repeat(np.arange(n), graph.degrees)
    dst = graph.indices
    node = np.zeros(n)
    traj = np.zeros(T + 1)
    for coins in itertools.product((0, 1), repeat=graph.nnz):
        w_coin = np.prod([p if c else 1 - p for c in coins])
        for bits in itertools.product((0, 1), repeat=n):
            seeds = [i for i in range(n) if bits[i]]
            w = w_coin * rho0 ** len(seeds) * (1 - rho0) ** (n - len(seeds))
            step = [-1] * n
            for s in seeds:
                step[s] = 0
            frontier, t = list(seeds), 0
            while frontier:  # synchronous ICM: the newly active try their open out-edges once
                t += 1
                new = []
                for e in range(graph.nnz):
                    if coins[e] and src[e] in frontier and step[dst[e]] < 0:
                        step[dst[e]] = t
                        new.append(int(dst[e]))
                frontier = new
            step = np.array(step)
            node += w * (step >= 0)
            for t in range(T + 1):
                traj[t] += w * np.mean((step >= 0) & (step <= t))
    return node, traj


def random_tree_edges(n, rng):
    """A random recursive tree on n nodes (node i attaches to a uniform earlier node)."""
    return [(int(rng.integers(i)), i) for i in range(1, n)]


def gleeson_cahalane(model, pmf, rho0, *, tol=1e-15, max_iter=100_000):
    """The uncorrelated LTA recursion, written out term by term (independent of the package)."""
    pmf = np.asarray(pmf, dtype=float)
    k = np.arange(pmf.size)
    z = float(k @ pmf)

    def G(q):
        total = 0.0
        for kk in range(1, pmf.size):
            if pmf[kk] > 0:
                m = np.arange(kk)
                total += kk * pmf[kk] / z * np.sum(stats.binom.pmf(m, kk - 1, q) * model.response(m, kk))
        return total

    q = rho0
    for _ in range(max_iter):
        q_new = rho0 + (1 - rho0) * G(q)
        if abs(q_new - q) < tol:
            q = q_new
            break
        q = q_new
    rho = 0.0
    for kk in range(pmf.size):
        m = np.arange(kk + 1)
        rho += pmf[kk] * np.sum(stats.binom.pmf(m, kk, q) * model.response(m, kk))
    return rho0 + (1 - rho0) * rho


def nb_radius_reference(graph, slope, weight=None):
    """Spectral radius of D B W for a simple undirected graph, B built entry by entry (dense)."""
    src = np.repeat(np.arange(graph.n), graph.degrees)
    dst = graph.indices
    w = np.ones(graph.nnz) if weight is None else weight
    M = np.zeros((graph.nnz, graph.nnz))
    for e in range(graph.nnz):  # message e = (i -> j) hears e' = (l -> i), l != j
        for f in range(graph.nnz):
            if dst[f] == src[e] and src[f] != dst[e]:
                M[e, f] = slope[src[e]] * w[f]
    return float(np.abs(np.linalg.eigvals(M)).max()) if graph.nnz else 0.0


class TwoPoint:
    """A threshold law with P[phi = a] = P[phi = b] = 1/2 (duck-typed frozen distribution)."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        return 0.5 * (x >= self.a) + 0.5 * (x >= self.b)

    def rvs(self, size=None, random_state=None):
        gen = np.random.default_rng(random_state)
        return np.where(gen.random(size) < 0.5, self.a, self.b)


def modular_graph(sizes, degree_sequences, cross_edges, rng):
    """Two-module graph: given degree sequences, exactly ``cross_edges`` edges between the modules.

    The cross stubs are a uniform random subset of each module's stubs (so each stub crosses with
    probability cross_edges / stubs, exchangeably); internal and cross stubs are matched at random
    (one internal stub dropped if a module has an odd number); loops and repeats are erased.
    """
    gen = np.random.default_rng(rng)
    offsets = np.concatenate(([0], np.cumsum(sizes)))
    stubs = [np.repeat(np.arange(offsets[i], offsets[i + 1]), degree_sequences[i]) for i in range(2)]
    stubs = [gen.permutation(s) for s in stubs]
    cross = [s[:cross_edges] for s in stubs]
    internal = [s[cross_edges:] for s in stubs]
    internal = [s[: s.size - s.size % 2] for s in internal]
    edges = [np.column_stack([cross[0], gen.permutation(cross[1])])]
    edges += [gen.permutation(s).reshape(-1, 2) for s in internal]
    membership = np.repeat([0, 1], sizes)
    graph = from_edges(np.concatenate(edges), int(offsets[-1]), self_loops="erase", multi_edges="erase")
    return graph, membership


# ---------------------------------------------------------------------------
# (a) kernels against the readable convolution
# ---------------------------------------------------------------------------

_probability = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, 1.0, 1.0 - 1e-15, 1e-300, 0.5]),
)


def _kernel_values(q, f, c, *, force_split=False):
    k = len(q)
    qin = np.array(q, dtype=float)
    ftab = np.r_[np.full(3, 7.0), np.asarray(f, dtype=float)]  # offset 3: the kernel must use fo
    hbuf = np.empty(1 if force_split else (k + 1) * (c + 1))
    depth = max(1, k).bit_length() + 2
    loo = np.full(k, np.nan)
    full = mk.node_values(
        qin, k, c, ftab, 3, hbuf, np.empty(c + 1), np.empty(depth * (c + 1)),
        np.empty((4, depth), dtype=np.int64), loo, True,
    )  # fmt: skip
    return full, loo


@settings(max_examples=150, deadline=None)
@given(
    q=st.lists(_probability, min_size=1, max_size=14),
    f=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=16),
    force_split=st.booleans(),
)
def test_leave_one_out_kernel_matches_convolution(q, f, force_split):
    c = len(f) - 1
    full, loo = _kernel_values(q, f, c, force_split=force_split)
    ref_full, ref_loo = loo_reference(q, f, c)
    assert full == pytest.approx(ref_full, abs=1e-12)
    np.testing.assert_allclose(loo, ref_loo, rtol=0, atol=1e-12)


def test_leave_one_out_kernel_is_stable_near_one():
    # deconvolution (divide out 1 - q) fails here; prefix/suffix products and the scan do not
    q = [1.0 - 1e-15, 1.0, 0.3, 1.0 - 1e-12, 1e-17]
    for c, f in [(1, [0.0, 1.0]), (2, [0.0, 0.2, 1.0]), (5, [0.0, 0.1, 0.2, 0.5, 0.9, 1.0])]:
        for split in (False, True):
            full, loo = _kernel_values(q, f, c, force_split=split)
            ref_full, ref_loo = loo_reference(q, f, c)
            assert full == pytest.approx(ref_full, abs=1e-14)
            np.testing.assert_allclose(loo, ref_loo, rtol=0, atol=1e-14)


def test_large_degree_uses_divide_and_conquer_and_agrees(monkeypatch):
    # a star with 300 leaves under the independent-cascade-like response F = 1[m >= 150]:
    # the scan table (301 x 151) exceeds the patched limit, so the centre uses the split path
    rng = np.random.default_rng(3)
    q = rng.random(300)
    f = np.r_[np.zeros(150), 1.0]
    full, loo = _kernel_values(q, f, 150, force_split=True)
    full2, loo2 = _kernel_values(q, f, 150)
    np.testing.assert_allclose(loo, loo2, rtol=0, atol=1e-12)
    assert full == pytest.approx(full2, abs=1e-12)
    star = from_edges([(0, i) for i in range(1, 301)])
    model = AbsoluteThreshold(150)
    a = message_passing(star, model, 0.4)
    monkeypatch.setattr(mp, "_SCAN_LIMIT", 16)
    b = message_passing(star, model, 0.4)
    np.testing.assert_allclose(a.node_probabilities, b.node_probabilities, rtol=0, atol=1e-12)


def test_reverse_entries_pairs_every_entry_with_its_reverse():
    g = configuration_model(Poisson(3.0), 300, rng=5, self_loops="keep", multi_edges="keep")
    assert g.n_multi_edges > 0 and g.n_self_loops > 0
    rev = mp._reverse(g)
    src = np.repeat(np.arange(g.n), g.degrees)
    assert np.array_equal(rev[rev], np.arange(g.nnz))  # an involution
    assert np.array_equal(src[rev], g.indices) and np.array_equal(g.indices[rev], src)


# ---------------------------------------------------------------------------
# (a) exact on trees: enumeration of all seed sets
# ---------------------------------------------------------------------------

_TREE_MODELS = [
    FractionalThreshold(0.5),
    FractionalThreshold(0.34),
    FractionalThreshold(0.5, strict=True),
    AbsoluteThreshold(2),
    FractionalThreshold(0.0),  # every node activates by itself at step 1
    AbsoluteThreshold(1),
]


@pytest.mark.parametrize("model", _TREE_MODELS, ids=repr)
@pytest.mark.parametrize("seed", [0, 1])
def test_exact_on_random_trees_against_enumeration(model, seed):
    rng = np.random.default_rng(seed)
    n = 8
    tree = from_edges(random_tree_edges(n, rng), n)
    rho0 = 0.23
    r = message_passing(tree, model, rho0, tol=1e-14)
    assert r.converged
    threshold = model.rule(tree).threshold
    T = r.n_iter + 2
    node, traj = enumerate_threshold_cascade(tree, [(threshold, 1.0)], rho0, T)
    np.testing.assert_allclose(r.node_probabilities, node, rtol=0, atol=1e-12)
    assert r.size == pytest.approx(node.mean(), abs=1e-12)
    # the iteration is the synchronous time course (pad the trajectory with its last value)
    padded = np.r_[r.trajectory, np.full(T + 1 - r.trajectory.size, r.trajectory[-1])]
    np.testing.assert_allclose(padded, traj, rtol=0, atol=1e-12)


def test_exact_on_a_forest_with_isolated_nodes_and_per_node_thresholds():
    # two trees and two isolated nodes; per-node thresholds (no response function), one of them 0
    edges = [(0, 1), (1, 2), (1, 3), (4, 5), (5, 6)]
    forest = from_edges(edges, 9)
    model = AbsoluteThreshold([1, 2, 1, 5, 0, 1, 1, 0, 3])
    assert not model.has_response
    r = message_passing(forest, model, 0.3, tol=1e-14)
    node, traj = enumerate_threshold_cascade(forest, [(model.rule(forest).threshold, 1.0)], 0.3, r.n_iter)
    np.testing.assert_allclose(r.node_probabilities, node, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.trajectory, traj, rtol=0, atol=1e-12)


def test_exact_on_a_tree_with_random_thresholds():
    # quenched two-point thresholds: enumerate all 2^n threshold draws as well as all seed sets
    tree = from_edges([(0, 1), (1, 2), (1, 3), (3, 4), (3, 5)], 6)
    law = TwoPoint(0.3, 0.7)
    model = FractionalThreshold(law)
    k = tree.degrees
    draws = []
    for choice in itertools.product((0.3, 0.7), repeat=tree.n):
        thr = FractionalThreshold(np.array(choice)).rule(tree).threshold
        draws.append((thr, 0.5**tree.n))
    r = message_passing(tree, model, 0.2, tol=1e-14)
    node, traj = enumerate_threshold_cascade(tree, draws, 0.2, r.n_iter)
    np.testing.assert_allclose(r.node_probabilities, node, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.trajectory, traj, rtol=0, atol=1e-12)
    assert k.max() == 3


@pytest.mark.parametrize("p", [0.3, np.array([0.9, 0.1, 0.5, 0.5, 0.7, 0.2, 1.0, 0.0])])
def test_exact_independent_cascade_on_a_tree(p):
    tree = from_edges([(0, 1), (1, 2), (1, 3), (3, 4)], 5)
    model = IndependentCascade(p)
    r = message_passing(tree, model, 0.25, tol=1e-14)
    p_edge = model.rule(tree).p_edge
    if np.ndim(p) == 0:
        node, traj = enumerate_independent_cascade(tree, float(p), 0.25, r.n_iter)
    else:  # per-edge p: enumerate with the coin of entry e open with probability p_edge[e]
        node, traj = _enumerate_icm_per_edge(tree, p_edge, 0.25, r.n_iter)
    np.testing.assert_allclose(r.node_probabilities, node, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.trajectory, traj, rtol=0, atol=1e-12)


def _enumerate_icm_per_edge(graph, p_edge, rho0, T):
    n = graph.n
    src = np.repeat(np.arange(n), graph.degrees)
    dst = graph.indices
    node = np.zeros(n)
    traj = np.zeros(T + 1)
    for coins in itertools.product((0, 1), repeat=graph.nnz):
        w_coin = np.prod([p_edge[e] if c else 1 - p_edge[e] for e, c in enumerate(coins)])
        if w_coin == 0:
            continue
        for bits in itertools.product((0, 1), repeat=n):
            seeds = [i for i in range(n) if bits[i]]
            w = w_coin * rho0 ** len(seeds) * (1 - rho0) ** (n - len(seeds))
            step = [-1] * n
            for s in seeds:
                step[s] = 0
            frontier, t = set(seeds), 0
            while frontier:
                t += 1
                new = set()
                for e in range(graph.nnz):
                    if coins[e] and src[e] in frontier and step[dst[e]] < 0:
                        step[dst[e]] = t
                        new.add(int(dst[e]))
                frontier = new
            step = np.array(step)
            node += w * (step >= 0)
            for t in range(T + 1):
                traj[t] += w * np.mean((step >= 0) & (step <= t))
    return node, traj


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_on_directed_polytrees(seed):
    # a random tree with random edge directions: the directed formulation (no excluded parent)
    rng = np.random.default_rng(seed)
    n = 8
    edges = [(a, b) if rng.random() < 0.5 else (b, a) for a, b in random_tree_edges(n, rng)]
    g = from_edges(edges, n, directed=True)
    for model in (FractionalThreshold(0.5), AbsoluteThreshold(2), FractionalThreshold(0.0)):
        r = message_passing(g, model, 0.3, tol=1e-14)
        node, traj = enumerate_threshold_cascade(g, [(model.rule(g).threshold, 1.0)], 0.3, r.n_iter)
        np.testing.assert_allclose(r.node_probabilities, node, rtol=0, atol=1e-12)
        np.testing.assert_allclose(r.trajectory, traj, rtol=0, atol=1e-12)
        src = np.repeat(np.arange(n), g.degrees)
        np.testing.assert_array_equal(r.messages, r.node_probabilities[src])
    # the independent cascade along the directed edges (all seed sets and all edge coins)
    small = from_edges(edges[:4], 5, directed=True)
    r = message_passing(small, IndependentCascade(0.6), 0.3, tol=1e-14)
    node, traj = enumerate_independent_cascade(small, 0.6, 0.3, r.n_iter)
    np.testing.assert_allclose(r.node_probabilities, node, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.trajectory, traj, rtol=0, atol=1e-12)


@pytest.mark.parametrize("k,phi", [(5, 0.3), (12, 0.25), (40, 0.1)])
def test_star_closed_form(k, phi):
    # centre: active unless it is no seed and fewer than M leaves are seeds; a leaf (threshold 1)
    # is active iff it, or the centre without it, is
    rho0 = 0.07
    star = from_edges([(0, i) for i in range(1, k + 1)])
    M = math.ceil(phi * k - 1e-12)
    r = message_passing(star, FractionalThreshold(phi), rho0, tol=1e-15)
    centre = rho0 + (1 - rho0) * stats.binom.sf(M - 1, k, rho0)
    centre_without_leaf = rho0 + (1 - rho0) * stats.binom.sf(M - 1, k - 1, rho0)
    leaf = rho0 + (1 - rho0) * centre_without_leaf
    assert r.node_probabilities[0] == pytest.approx(centre, abs=1e-13)
    np.testing.assert_allclose(r.node_probabilities[1:], leaf, rtol=0, atol=1e-13)


def test_long_path_closed_form():
    # threshold 1 everywhere: node i is inactive iff no node is a seed (the path is connected)
    n, rho0 = 60, 0.02
    path = from_edges([(i, i + 1) for i in range(n - 1)])
    r = message_passing(path, AbsoluteThreshold(1), rho0, tol=1e-15)
    np.testing.assert_allclose(r.node_probabilities, 1 - (1 - rho0) ** n, rtol=0, atol=1e-13)
    # after step t, node i is active iff a seed lies within distance t
    t = np.arange(r.trajectory.size)
    i = np.arange(n)[:, None]
    within = np.minimum(i, t) + np.minimum(n - 1 - i, t) + 1
    np.testing.assert_allclose(r.trajectory, (1 - (1 - rho0) ** within).mean(axis=0), rtol=0, atol=1e-13)


@pytest.mark.parametrize("k", [3, 6])
def test_regular_graphs_match_the_bethe_lattice(k):
    # on any k-regular graph every message obeys the same recursion: the LTA of Regular(k)
    g = random_regular(2000, k, rng=k)
    for model, rho0 in [
        (FractionalThreshold(0.34), 0.1),
        (IndependentCascade(0.4), 0.01),
        (AbsoluteThreshold(2), 0.05),
    ]:
        r = message_passing(g, model, rho0, tol=1e-13)
        ref = gleeson_cahalane(model, Regular(k).pmf(), rho0)
        assert r.size == pytest.approx(ref, abs=1e-11)


# ---------------------------------------------------------------------------
# (a) the cascade condition
# ---------------------------------------------------------------------------


def test_condition_against_explicit_non_backtracking_matrix(monkeypatch):
    g = erdos_renyi(60, 3.0, rng=2)
    model = FractionalThreshold(0.2)  # vulnerable: k <= 5
    k1 = np.maximum(g.degrees, 1)  # F(1, k) needs k >= 1; an isolated node has no messages anyway
    slope = np.where(g.degrees > 0, model.response(1, k1) - model.response(0, k1), 0.0)
    ref = nb_radius_reference(g, slope)
    assert ref == pytest.approx(1.816, abs=1e-3)  # a sanity value of this graph
    assert message_passing_condition(g, model) == pytest.approx(ref, abs=1e-9)  # dense core
    assert message_passing_condition(g, FractionalThreshold(0.25)) == 0.0  # the vulnerable part is a forest
    monkeypatch.setattr(mp, "_DENSE_LIMIT", 4)
    assert message_passing_condition(g, model) == pytest.approx(ref, abs=1e-8)  # ARPACK
    icm = IndependentCascade(0.35)
    ref_icm = nb_radius_reference(g, np.ones(g.n), icm.rule(g).p_edge)
    assert message_passing_condition(g, icm) == pytest.approx(ref_icm, abs=1e-8)


@pytest.mark.parametrize("k", [3, 4, 7])
def test_condition_regular_graph_is_k_minus_one(k):
    g = random_regular(1500, k, rng=1)
    assert message_passing_condition(g, FractionalThreshold(1.0 / k)) == pytest.approx(k - 1, abs=1e-8)
    assert message_passing_condition(g, IndependentCascade(0.25)) == pytest.approx(0.25 * (k - 1), abs=1e-8)
    assert message_passing_condition(g, FractionalThreshold(1.0 / k + 0.01)) == 0.0


def test_condition_on_trees_cycles_and_directed_graphs():
    model = AbsoluteThreshold(1)
    rng = np.random.default_rng(0)
    tree = from_edges(random_tree_edges(500, rng), 500)
    assert message_passing_condition(tree, model) == 0.0
    cycle = from_edges([(i, (i + 1) % 50) for i in range(50)])
    assert message_passing_condition(cycle, model) == pytest.approx(1.0, abs=1e-12)
    dcycle = from_edges([(i, (i + 1) % 50) for i in range(50)], directed=True)
    assert message_passing_condition(dcycle, model) == pytest.approx(1.0, abs=1e-12)
    dag = from_edges([(i, j) for i in range(30) for j in range(i + 1, 30)], directed=True)
    assert message_passing_condition(dag, model) == 0.0
    # the directed formulation has no backtracking exclusion: a tree stored as a directed graph with
    # both directions of every edge gets the adjacency matrix's spectral radius, not 0
    both = from_edges([(a, b) for a, b in tree.edges()] + [(b, a) for a, b in tree.edges()], directed=True)
    adjacency = tree.to_scipy().toarray()
    assert message_passing_condition(both, model) == pytest.approx(
        np.linalg.eigvalsh(adjacency).max(), abs=1e-8
    )


def test_condition_approaches_watts_c1_on_configuration_model():
    # NB radius of a configuration-model graph -> C1 = sum_k k (k-1) p_k F(1,k) / z; with the
    # graph's own degrees the remaining difference is the O(n^-1/2) fluctuation of its structure
    # (measured on three graphs at n = 2e4: within 1%). Tolerance 2% relative.
    pytest.importorskip("cascades.meanfield")
    from cascades.meanfield import cascade_condition

    g = configuration_model(Poisson(4.0), 20000, rng=3)
    for model in (FractionalThreshold(0.18), IndependentCascade(0.3)):
        c1 = cascade_condition(model, Empirical.from_degrees(g.degrees)).c1
        assert message_passing_condition(g, model) == pytest.approx(c1, rel=0.02)


# ---------------------------------------------------------------------------
# (b) invariants and checks
# ---------------------------------------------------------------------------


def test_monotone_in_seed_fraction_and_threshold():
    g = erdos_renyi(3000, 5.0, rng=4)
    sizes = [message_passing(g, FractionalThreshold(0.25), r0).size for r0 in (0.0, 0.01, 0.05, 0.2, 1.0)]
    assert sizes[0] == 0.0 and sizes[-1] == 1.0
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(sizes))
    sizes = [message_passing(g, FractionalThreshold(phi), 0.05).size for phi in (0.1, 0.2, 0.3, 0.5, 0.9)]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(sizes))
    r = message_passing(g, FractionalThreshold(0.25), 0.05)
    assert np.all(r.node_probabilities >= 0.05 - 1e-15) and np.all(r.node_probabilities <= 1)
    assert np.all(np.diff(r.trajectory) >= -1e-15)
    assert r.size == pytest.approx(r.node_probabilities.mean(), abs=1e-15)
    assert r.trajectory[-1] == pytest.approx(r.size, abs=1e-15)


def test_result_is_frozen_and_readonly():
    r = message_passing(erdos_renyi(100, 3.0, rng=0), FractionalThreshold(0.2), 0.1)
    assert isinstance(r, MessagePassingResult)
    with pytest.raises(AttributeError):
        r.size = 0.5
    with pytest.raises(ValueError):
        r.node_probabilities[0] = 1.0
    assert "MessagePassingResult(n=100" in repr(r)


def test_non_convergence_is_reported():
    g = erdos_renyi(2000, 4.0, rng=0)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        r = message_passing(g, FractionalThreshold(0.18), 0.01, max_iter=3)
    assert not r.converged and r.n_iter == 3 and r.residual > 0
    assert r.trajectory.size == 4
    c = DegreeCorrelation.uncorrelated(Poisson(4.0))
    with pytest.warns(RuntimeWarning, match="did not converge"):
        rc = final_size_correlated(FractionalThreshold(0.18), c, 0.01, max_iter=2)
    assert not rc.converged and rc.n_iter == 2


def test_empty_graph_and_isolated_nodes():
    r = message_passing(from_edges([], 0), FractionalThreshold(0.2), 0.3)
    assert r.size == 0.0 and r.node_probabilities.size == 0
    r = message_passing(from_edges([], 4), FractionalThreshold(0.2), 0.3)
    np.testing.assert_allclose(r.node_probabilities, 0.3)
    r = message_passing(from_edges([], 4), FractionalThreshold(0.0), 0.3)  # m/k := 0 >= 0
    np.testing.assert_allclose(r.node_probabilities, 1.0)


def test_self_loops_carry_no_message():
    # node 0 with a self-loop and one neighbour: k_0 = 3 as in the simulator, its own loop never counts
    g = from_edges([(0, 0), (0, 1)])
    r = message_passing(g, AbsoluteThreshold(1), 0.2)
    node, _ = enumerate_threshold_cascade(g, [(AbsoluteThreshold(1).rule(g).threshold, 1.0)], 0.2, 3)
    np.testing.assert_allclose(r.node_probabilities, node, atol=1e-12)


def test_argument_checks_and_refusals():
    g = erdos_renyi(50, 3.0, rng=0)
    model = FractionalThreshold(0.2)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="seed_fraction"):
            message_passing(g, model, bad)
    with pytest.raises(ValueError, match="tol"):
        message_passing(g, model, 0.1, tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        message_passing(g, model, 0.1, max_iter=0)
    with pytest.raises(TypeError, match="graph"):
        message_passing(g.to_scipy(), model, 0.1)
    with pytest.raises(TypeError, match="model"):
        message_passing(g, "watts", 0.1)
    fb = FiberBundle(2.0)
    for call in (
        lambda: message_passing(g, fb, 0.1),
        lambda: message_passing_condition(g, fb),
        lambda: final_size_correlated(fb, DegreeCorrelation.uncorrelated(Poisson(3.0)), 0.1),
        lambda: final_size_modular(fb, ModularNetwork([1.0], [Poisson(3.0)], [[1.0]]), 0.1),
    ):
        with pytest.raises(ValueError, match=r"FiberBundle.*simulate\(graph, model, dynamics='sync'\)"):
            call()
    damage = WeightedThreshold(0.5, "damage")
    with pytest.raises(ValueError, match="model: .*damage.*simulate"):
        message_passing(g, damage, 0.1)
    with pytest.raises(ValueError, match="model: .*simulate"):
        final_size_correlated(
            FractionalThreshold(np.array([0.1, 0.3])), DegreeCorrelation.uncorrelated(Poisson(3.0)), 0.1
        )
    with pytest.raises(ValueError, match="phi has 3 entries"):  # graph/model mismatch
        message_passing(g, FractionalThreshold(np.array([0.1, 0.2, 0.3])), 0.1)
    with pytest.raises(ValueError, match="p has 2 entries"):
        message_passing(g, IndependentCascade(np.array([0.1, 0.2])), 0.1)


def test_degree_correlation_validation():
    e = np.zeros((3, 3))
    e[1, 2] = e[2, 1] = 0.5
    DegreeCorrelation(e)
    bad = e.copy()
    bad[1, 2] = 0.6
    bad[2, 1] = 0.4
    with pytest.raises(ValueError, match="symmetric"):
        DegreeCorrelation(bad)
    with pytest.raises(ValueError, match="sum to 1"):
        DegreeCorrelation(e * 2)
    neg = e.copy()
    neg[1, 1], neg[2, 2] = -0.1, 0.1
    with pytest.raises(ValueError, match="nonnegative"):
        DegreeCorrelation(neg)
    zero = np.zeros((3, 3))
    zero[0, 1] = zero[1, 0] = 0.5
    with pytest.raises(ValueError, match="row and column 0"):
        DegreeCorrelation(zero)
    with pytest.raises(ValueError, match="disagrees"):
        DegreeCorrelation(e, [0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="square"):
        DegreeCorrelation(np.ones((2, 3)) / 6)
    with pytest.raises(ValueError, match="conditional: row"):
        DegreeCorrelation.from_conditional([[0, 0, 0], [0, 0.5, 0.4], [0, 1, 0]], [0, 2 / 3, 1 / 3])
    with pytest.raises(ValueError, match="symmetric"):  # a stochastic but unbalanced P(k'|k)
        DegreeCorrelation.from_conditional([[0, 0, 0], [0, 0.2, 0.8], [0, 0.5, 0.5]], [0, 2 / 3, 1 / 3])
    with pytest.raises(ValueError, match="undirected"):
        DegreeCorrelation.from_graph(from_edges([(0, 1)], directed=True))
    c = DegreeCorrelation.from_conditional([[0, 0, 0], [0, 0, 1], [0, 1, 0]], [0, 2 / 3, 1 / 3])
    np.testing.assert_allclose(c.joint, e)
    np.testing.assert_allclose(c.conditional[1:, 1:], [[0, 1], [1, 0]])
    with pytest.raises(AttributeError):
        c.joint = e


def test_modular_network_validation():
    with pytest.raises(ValueError, match="balanced"):
        ModularNetwork([0.5, 0.5], [Poisson(3.0), Poisson(6.0)], [[0.9, 0.1], [0.1, 0.9]])
    with pytest.raises(ValueError, match="row 0 must sum to 1"):
        ModularNetwork([0.5, 0.5], [Poisson(3.0), Poisson(3.0)], [[0.9, 0.2], [0.1, 0.9]])
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        ModularNetwork([0.5, 0.6], [Poisson(3.0), Poisson(3.0)], [[0.9, 0.1], [0.1, 0.9]])
    with pytest.raises(ValueError, match="one degree distribution per module"):
        ModularNetwork([0.5, 0.5], [Poisson(3.0)], [[0.9, 0.1], [0.1, 0.9]])
    with pytest.raises(TypeError, match="ModularNetwork"):
        final_size_modular(FractionalThreshold(0.2), [[1.0]], 0.1)
    with pytest.raises(ValueError, match="membership has 3 entries"):
        ModularNetwork.from_graph(from_edges([(0, 1), (1, 2), (2, 3)]), [0, 1, 1])
    balanced = ModularNetwork([0.5, 0.5], [Poisson(3.0), Poisson(6.0)], [[0.8, 0.2], [0.1, 0.9]])
    assert balanced.n_modules == 2


# ---------------------------------------------------------------------------
# (a) degree-class and modular solvers: exact reductions
# ---------------------------------------------------------------------------

_LTA_MODELS = [
    (FractionalThreshold(0.18), 0.01),
    (FractionalThreshold(0.3), 0.05),
    (AbsoluteThreshold(2), 0.1),
    (IndependentCascade(0.3), 0.02),
    (FractionalThreshold(stats.norm(0.25, 0.1)), 0.02),
]


@pytest.mark.parametrize("model,rho0", _LTA_MODELS, ids=lambda v: repr(v) if not isinstance(v, float) else "")
@pytest.mark.parametrize(
    "degrees", [Poisson(4.0), Binomial(20, 0.3), Empirical.from_pmf([0.1, 0.2, 0.3, 0, 0.4])]
)
def test_uncorrelated_reduces_to_gleeson_cahalane(model, rho0, degrees):
    r = final_size_correlated(model, DegreeCorrelation.uncorrelated(degrees), rho0)
    assert isinstance(r, CorrelatedResult) and r.converged
    np.testing.assert_allclose(r.q, r.q[0], rtol=0, atol=1e-15)  # one q for every class
    pmf = DegreeCorrelation.uncorrelated(degrees).degree_pmf
    assert r.size == pytest.approx(gleeson_cahalane(model, pmf, rho0), abs=1e-11)
    # one module is the uncorrelated network as well
    m = final_size_modular(model, ModularNetwork([1.0], [degrees], [[1.0]]), rho0)
    assert m.size == pytest.approx(r.size, abs=1e-12)
    np.testing.assert_allclose(m.trajectory, r.trajectory, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "model,rho0", _LTA_MODELS[:4], ids=lambda v: repr(v) if not isinstance(v, float) else ""
)
def test_uncorrelated_matches_meanfield_final_size(model, rho0):
    meanfield = pytest.importorskip("cascades.meanfield")
    degrees = Poisson(4.0)
    ours = final_size_correlated(model, DegreeCorrelation.uncorrelated(degrees), rho0)
    theirs = meanfield.final_size(model, degrees, rho0, trajectory=True)
    assert ours.size == pytest.approx(theirs.rho, abs=1e-10)
    n = min(ours.trajectory.size, theirs.rho_t.size)
    np.testing.assert_allclose(ours.trajectory[:n], theirs.rho_t[:n], rtol=0, atol=1e-10)


def test_modular_with_regular_modules_is_the_degree_class_solver():
    # modules of degree 3 and 8 with mixing P(j|i) are degree classes with P(k'|k)
    p = np.zeros(9)
    p[3] = p[8] = 0.5
    flat = DegreeCorrelation.uncorrelated(p)
    e = flat.joint.copy()
    d = 0.6 * e[3, 8]
    e[3, 3] += d
    e[8, 8] += d
    e[3, 8] -= d
    e[8, 3] -= d
    corr = DegreeCorrelation(e, p)
    mixing = corr.conditional[np.ix_([3, 8], [3, 8])]
    net = ModularNetwork([0.5, 0.5], [Regular(3), Regular(8)], mixing)
    for model, rho0 in [
        (FractionalThreshold(0.3), 0.02),
        (IndependentCascade(0.2), 0.01),
        (AbsoluteThreshold(2), 0.1),
    ]:
        a = final_size_correlated(model, corr, rho0)
        b = final_size_modular(model, net, rho0)
        assert a.size == pytest.approx(b.size, abs=1e-12)
        np.testing.assert_allclose(a.group_sizes, b.group_sizes, rtol=0, atol=1e-12)
        np.testing.assert_allclose(a.q, b.q, rtol=0, atol=1e-12)


def test_correlations_change_the_size():
    # the doctest example: assortativity lets the vulnerable degree-3 nodes percolate
    p = np.zeros(9)
    p[3] = p[8] = 0.5
    flat = DegreeCorrelation.uncorrelated(p)
    e = flat.joint.copy()
    d = 0.8 * e[3, 8]
    e[3, 3] += d
    e[8, 8] += d
    e[3, 8] -= d
    e[8, 3] -= d
    model = FractionalThreshold(0.3)
    a = final_size_correlated(model, flat, 0.02)
    b = final_size_correlated(model, DegreeCorrelation(e, p), 0.02)
    assert a.size < 0.1 and b.group_sizes[0] > 0.99 and b.size > 0.5


def test_from_graph_tables_are_consistent():
    g = configuration_model(Poisson(3.0), 500, rng=1)
    c = DegreeCorrelation.from_graph(g)
    np.testing.assert_allclose(c.degree_pmf, np.bincount(g.degrees) / g.n)
    np.testing.assert_allclose(c.joint, c.joint.T, atol=0)
    assert -1 <= c.assortativity <= 1
    member = np.arange(g.n) % 3
    net = ModularNetwork.from_graph(g, member)
    assert net.n_modules == 3
    np.testing.assert_allclose(net.fractions, np.bincount(member) / g.n)
    np.testing.assert_allclose(net.mixing.sum(axis=1), 1.0)


# ---------------------------------------------------------------------------
# (c) against the LTA and against simulation
# ---------------------------------------------------------------------------


def test_message_passing_agrees_with_lta_on_configuration_model():
    # On one graph, MP differs from the LTA of the graph's own degree distribution by the quenched
    # fluctuation of its local structure, O(n^-1/2) (the average over graphs converges to the LTA;
    # see the slow test). Measured over 20 graphs at n = 2e4 (Poisson(4)): sd of the difference
    # 3.3e-4 for Watts phi = 0.18, 1.2e-3 for bootstrap M = 2 at rho0 = 0.1 (both halve at 8e4).
    # Tolerance: 5 sd, written as A / sqrt(n).
    n = 20000
    g = configuration_model(Poisson(4.0), n, rng=11)
    pmf = np.bincount(g.degrees) / g.n
    for model, rho0, A in [(FractionalThreshold(0.18), 0.01, 0.25), (AbsoluteThreshold(2), 0.1, 0.9)]:
        r = message_passing(g, model, rho0)
        assert r.converged
        assert abs(r.size - gleeson_cahalane(model, pmf, rho0)) <= A / math.sqrt(n)


@pytest.mark.slow
def test_message_passing_averaged_over_graphs_converges_to_lta():
    # mean over 12 graphs: |mean diff| <= 4 sd / sqrt(12) + 2/n (the O(1/n) bias)
    n = 20000
    diffs = []
    model, rho0 = AbsoluteThreshold(2), 0.1
    for seed in range(12):
        g = configuration_model(Poisson(4.0), n, rng=100 + seed)
        pmf = np.bincount(g.degrees) / g.n
        diffs.append(message_passing(g, model, rho0).size - gleeson_cahalane(model, pmf, rho0))
    diffs = np.array(diffs)
    assert abs(diffs.mean()) <= 4 * diffs.std(ddof=1) / math.sqrt(diffs.size) + 2 / n


def _simulated(graph, model, rho0, runs, rng):
    fractions = simulate_ensemble(graph, model, runs, seed_fraction=rho0, rng=rng, workers=1)
    return np.asarray(getattr(fractions, "fractions", fractions))


@pytest.mark.parametrize(
    "model,rho0",
    [(FractionalThreshold(0.18), 0.01), (AbsoluteThreshold(2), 0.1), (IndependentCascade(0.4), 0.01)],
    ids=repr,
)
def test_message_passing_agrees_with_simulation_on_the_same_graph(model, rho0):
    # Simulations seed exactly round(rho0 n) nodes, the theory each node with probability rho0,
    # and the graph has a few short cycles: both systematic effects are O(1/n) (measured with 400
    # runs at n = 2e4: |MP - sim| <= 1.1e-4, within one standard error). Tolerance: 4 standard
    # errors of the simulated mean + 2/n.
    n, runs = 20000, 40
    g = configuration_model(Poisson(4.0), n, rng=1)
    r = message_passing(g, model, rho0)
    f = _simulated(g, model, rho0, runs, rng=7)
    assert abs(r.size - f.mean()) <= 4 * f.std(ddof=1) / math.sqrt(runs) + 2 / n


def test_message_passing_time_course_agrees_with_synchronous_simulation():
    # the iteration read as time: trajectory[t] vs the mean active fraction after step t
    n, runs, rho0 = 20000, 30, 0.01
    g = configuration_model(Poisson(4.0), n, rng=2)
    model = FractionalThreshold(0.18)
    r = message_passing(g, model, rho0)
    steps = []
    for run in range(runs):
        s = simulate(g, model, seed_fraction=rho0, rng=1000 + run, record_steps=True, dynamics="sync").steps
        steps.append(np.r_[s, np.full(100, s[-1])][:20])
    steps = np.array(steps)
    traj = np.r_[r.trajectory, np.full(20, r.trajectory[-1])][:20]
    sem = steps.std(axis=0, ddof=1) / math.sqrt(runs)
    assert np.all(np.abs(traj - steps.mean(axis=0)) <= 4 * sem + 5e-3)  # 5e-3: loops, seed count


def _two_module_setup(n, seed):
    # module 0: n/2 nodes, Poisson(3) (in Watts' window for phi = 0.18); module 1: n/2 nodes,
    # Poisson(10) (outside it: alone it does not cascade); 10% of module 0's edge ends cross
    gen = np.random.default_rng(seed)
    half = n // 2
    d0 = gen.poisson(3.0, half)
    d1 = gen.poisson(10.0, half)
    cross = int(0.1 * d0.sum())
    return modular_graph([half, half], [d0, d1], cross, gen)


def test_modular_agrees_with_simulation_on_a_two_module_graph():
    # Theory input: the generated graph's own modules, degrees and mixing (from_graph), so that the
    # comparison tests the equations, not the sampling of the parameters. The remaining difference
    # is the graph's quenched O(n^-1/2) structure, measured at n = 2e4 below 1e-3 in size
    # (|sim - MP on the same graph| ~ 1e-4). Tolerance: 4 standard errors + 0.5 / sqrt(n).
    n, runs, rho0 = 20000, 20, 0.01
    g, member = _two_module_setup(n, seed=5)
    net = ModularNetwork.from_graph(g, member)
    model = FractionalThreshold(0.18)
    theory = final_size_modular(model, net, rho0)
    f = _simulated(g, model, rho0, runs, rng=3)
    assert abs(theory.size - f.mean()) <= 4 * f.std(ddof=1) / math.sqrt(runs) + 0.5 / math.sqrt(n)
    # the uncoupled modules: module 1 alone would stay near rho0
    alone = ModularNetwork(net.fractions, net.degrees, np.eye(2))
    assert final_size_modular(model, alone, rho0).group_sizes[1] < 0.05 < theory.group_sizes[1]
    # message passing on the same graph agrees per module too
    mp_r = message_passing(g, model, rho0)
    per_module = np.bincount(member, weights=mp_r.node_probabilities) / np.bincount(member)
    np.testing.assert_allclose(per_module, theory.group_sizes, rtol=0, atol=0.5 / math.sqrt(n))


def test_degree_correlated_agrees_with_simulation_on_an_assortative_graph():
    # degrees 3 and 8 (n/2 each) with assortative mixing (r = 0.8 in the construction): the
    # degree-3 nodes percolate (size ~0.52, uncorrelated prediction ~0.09). The graph's own joint
    # degree table is the theory input; tolerance 4 standard errors + 0.5 / sqrt(n), as above.
    n, runs, rho0 = 20000, 20, 0.02
    half = n // 2
    d3, d8 = np.full(half, 3), np.full(half, 8)
    q3 = 3 / 11
    e38 = q3 * (1 - q3) * 0.2  # 20% of the uncorrelated cross weight
    cross = int(e38 * (d3.sum() + d8.sum()))
    g, _ = modular_graph([half, half], [d3, d8], cross, rng=9)
    corr = DegreeCorrelation.from_graph(g)
    assert corr.assortativity > 0.6
    model = FractionalThreshold(0.3)
    theory = final_size_correlated(model, corr, rho0)
    flat = final_size_correlated(
        model, DegreeCorrelation.uncorrelated(Empirical.from_degrees(g.degrees)), rho0
    )
    f = _simulated(g, model, rho0, runs, rng=4)
    assert abs(theory.size - f.mean()) <= 4 * f.std(ddof=1) / math.sqrt(runs) + 0.5 / math.sqrt(n)
    assert flat.size < 0.2 < theory.size


@pytest.mark.slow
def test_message_passing_agrees_with_simulation_large():
    # n = 2e5, 20 runs, three models: tolerance 4 standard errors + 2/n
    n, runs = 200_000, 20
    g = configuration_model(Poisson(5.0), n, rng=21)
    for model, rho0 in [
        (FractionalThreshold(0.2), 0.005),
        (AbsoluteThreshold(3), 0.15),
        (IndependentCascade(0.3), 0.005),
    ]:
        r = message_passing(g, model, rho0)
        f = _simulated(g, model, rho0, runs, rng=22)
        assert abs(r.size - f.mean()) <= 4 * f.std(ddof=1) / math.sqrt(runs) + 2 / n


def test_fiber_bundle_is_refused_everywhere_with_the_simulator_named():
    # no fiber-bundle solver: the equations of Burkholz & Schweitzer could not be established
    assert not any("fiber" in name.lower() for name in mp.__all__)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="dynamics='sync'"):
            message_passing(from_edges([(0, 1)]), FiberBundle(1.5), 0.5)
