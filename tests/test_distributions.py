"""Size distributions on finite networks (cascades.distributions): exact cases and invariants.

Tier (a): the tree message passing and the closed forms against brute-force enumeration of every seed set
and every threshold (or every live-edge set of the independent cascade), and against the exact-rational
derivations of theory/size_distributions.py, at 1e-12. Tier (b): invariants (normalisation, stochastic
monotonicity in the seed probability, root independence, forests as convolutions). Simulations are in
tests/test_distributions_sim.py.
"""

import functools
import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from cascades import distributions as dist_module
from cascades.distributions import (
    ConditionalActivation,
    SizeDistribution,
    complete_graph_size_distribution,
    conditional_activation,
    empirical_size_distribution,
    sampling_tv_bound,
    size_distribution,
    star_size_distribution,
    total_variation,
)
from cascades.graphs import erdos_renyi, from_edges, random_regular
from cascades.models import (
    AbsoluteThreshold,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    WeightedThreshold,
)

TOL = 1e-12


# ---------------------------------------------------------------------------
# slow, readable references
# ---------------------------------------------------------------------------


def neighbours(n, edges):
    nb = [[] for _ in range(n)]
    for a, b in edges:
        nb[a].append(b)
        nb[b].append(a)
    return nb


def final_threshold(nb, T):
    """Final active set of a count-threshold cascade: i active once #active neighbours >= T[i]."""
    n = len(nb)
    active = [T[i] <= 0 for i in range(n)]
    changed = True
    while changed:
        changed = False
        for i in range(n):
            if not active[i] and sum(active[j] for j in nb[i]) >= T[i]:
                active[i] = True
                changed = True
    return active


def response_table(phi, k, strict=False):
    """F(m, k), m = 0..k, of a fractional threshold written out directly (number or scipy distribution)."""
    m = np.arange(k + 1)
    x = m / k if k > 0 else np.zeros(1)
    if hasattr(phi, "cdf"):
        return phi.cdf(x)
    return np.array([float(mm >= math.ceil(phi * k - 1e-9)) if k > 0 else float(phi <= 0) for mm in m])


def brute_threshold(n, edges, F, p):
    """pmf and joint P(i active, S = s) by enumerating every effective threshold T_i in 0..k_i + 1.

    F[i] is node i's response table F_i(m), m = 0..k_i; a seed (probability p[i]) is a node with T_i = 0,
    so P(T_i <= m) = G_i(m) = p_i + (1 - p_i) F_i(m).
    """
    nb = neighbours(n, edges)
    laws = []
    for i in range(n):
        G = np.append(p[i] + (1 - p[i]) * np.asarray(F[i], float), 1.0)  # m = 0..k_i, then 'never'
        laws.append(np.diff(np.concatenate([[0.0], G])))
    pmf = np.zeros(n + 1)
    joint = np.zeros((n + 1, n))
    for T in itertools.product(*[range(len(law)) for law in laws]):
        w = math.prod(laws[i][T[i]] for i in range(n))
        if w == 0:
            continue
        active = final_threshold(nb, T)
        s = sum(active)
        pmf[s] += w
        joint[s] += w * np.array(active)
    return pmf, joint


def brute_icm(n, edges, p_dir, p):
    """pmf and joint by enumerating seed sets and the live directed edges of the independent cascade.

    p_dir[(a, b)]: probability that a activates b.
    """
    arcs = list(p_dir)
    pmf = np.zeros(n + 1)
    joint = np.zeros((n + 1, n))
    for live in itertools.product((0, 1), repeat=len(arcs)):
        w_live = math.prod(p_dir[a] if x else 1 - p_dir[a] for a, x in zip(arcs, live, strict=True))
        if w_live == 0:
            continue
        out = [[] for _ in range(n)]
        for (a, b), x in zip(arcs, live, strict=True):
            if x:
                out[a].append(b)
        for seeds in itertools.product((0, 1), repeat=n):
            w = w_live * math.prod(p[i] if s else 1 - p[i] for i, s in enumerate(seeds))
            if w == 0:
                continue
            active = list(seeds)
            stack = [i for i in range(n) if seeds[i]]
            while stack:
                a = stack.pop()
                for b in out[a]:
                    if not active[b]:
                        active[b] = 1
                        stack.append(b)
            s = sum(active)
            pmf[s] += w
            joint[s] += w * np.array(active)
    return pmf, joint


def degrees(n, edges):
    return [len(x) for x in neighbours(n, edges)]


TREES = {
    "path5": (5, [(0, 1), (1, 2), (2, 3), (3, 4)]),
    "star6": (6, [(0, i) for i in range(1, 6)]),
    "spider7": (7, [(0, 1), (1, 2), (0, 3), (3, 4), (0, 5), (5, 6)]),
    "caterpillar7": (7, [(0, 1), (1, 2), (2, 3), (1, 4), (2, 5), (2, 6)]),
}


# ---------------------------------------------------------------------------
# tier (a): exact on trees vs enumeration
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TREES))
@pytest.mark.parametrize(
    "phi", [0.5, 0.34, stats.uniform(0, 1), stats.norm(0.3, 0.2)], ids=["0.5", "0.34", "U", "N"]
)
def test_fractional_tree_vs_enumeration(name, phi):
    n, edges = TREES[name]
    g = from_edges(edges)
    p = np.linspace(0.05, 0.3, n)  # per-node seed probabilities
    F = [response_table(phi, k) for k in degrees(n, edges)]
    want, joint = brute_threshold(n, edges, F, p)
    d = size_distribution(g, FractionalThreshold(phi), p)
    assert d.method == "tree"
    np.testing.assert_allclose(d.pmf, want, atol=TOL, rtol=0)
    c = conditional_activation(g, FractionalThreshold(phi), p)
    np.testing.assert_allclose(c.joint, joint, atol=TOL, rtol=0)
    np.testing.assert_allclose(c.distribution.pmf, want, atol=TOL, rtol=0)


@pytest.mark.parametrize("name", list(TREES))
def test_absolute_and_per_node_thresholds_vs_enumeration(name):
    n, edges = TREES[name]
    g = from_edges(edges)
    k = degrees(n, edges)
    # per-node absolute thresholds, one of them 0 (activates by itself) and one above its degree (never)
    M = np.array([(i % 3) for i in range(n)])
    M[-1] = k[-1] + 2
    F = [np.array([float(m >= M[i]) for m in range(k[i] + 1)]) for i in range(n)]
    want, _ = brute_threshold(n, edges, F, np.full(n, 0.1))
    d = size_distribution(g, AbsoluteThreshold(M), 0.1)
    np.testing.assert_allclose(d.pmf, want, atol=TOL, rtol=0)
    # per-node fractional thresholds and the equivalent exposure-weighted model
    phi = np.linspace(0.2, 0.9, n)
    F = [response_table(phi[i], k[i]) for i in range(n)]
    want, _ = brute_threshold(n, edges, F, np.full(n, 0.15))
    for model in (FractionalThreshold(phi), WeightedThreshold(phi, "exposure")):
        np.testing.assert_allclose(size_distribution(g, model, 0.15).pmf, want, atol=TOL, rtol=0)


ICM_TREES = {
    "path5": TREES["path5"],
    "star5": (5, [(0, i) for i in range(1, 5)]),
    "spider6": (6, [(0, 1), (1, 2), (0, 3), (3, 4), (0, 5)]),
}


@pytest.mark.parametrize("name", list(ICM_TREES))
def test_icm_directional_vs_enumeration(name):
    n, edges = ICM_TREES[name]
    g = from_edges(edges)
    rng = np.random.default_rng(3)
    # directional probabilities, one per CSR entry (row a, column b: a activates b)
    p_edge = rng.uniform(0.1, 0.9, g.nnz)
    rows = np.repeat(np.arange(n), g.degrees)
    p_dir = {(int(a), int(b)): float(w) for a, b, w in zip(rows, g.indices, p_edge, strict=True)}
    p = rng.uniform(0.0, 0.4, n)
    if n > 5:
        p[:2] = 0.0  # keeps the enumeration small: nodes that are never seeds
    want, joint = brute_icm(n, edges, p_dir, p)
    d = size_distribution(g, IndependentCascade(p_edge), p)
    np.testing.assert_allclose(d.pmf, want, atol=TOL, rtol=0)
    c = conditional_activation(g, IndependentCascade(p_edge), p)
    np.testing.assert_allclose(c.joint, joint, atol=TOL, rtol=0)
    prob = c.probability
    ok = want > 1e-9
    np.testing.assert_allclose(prob[ok], joint[ok] / want[ok, None], atol=1e-9)


def test_forest_is_the_convolution_of_its_trees():
    a = (4, [(0, 1), (1, 2), (1, 3)])
    b = (3, [(0, 1), (1, 2)])
    g = from_edges([(0, 1), (1, 2), (1, 3), (4, 5), (5, 6)], n=8)  # node 7 isolated
    model = FractionalThreshold(stats.uniform(0, 1))
    da = size_distribution(from_edges(a[1]), model, 0.2).pmf
    db = size_distribution(from_edges(b[1]), model, 0.2).pmf
    dc = np.array([0.8 + 0.2 * model.response(0, 0), 0.2 + 0.8 * model.response(0, 0)])  # isolated node
    want = np.convolve(np.convolve(da, db), dc)
    np.testing.assert_allclose(size_distribution(g, model, 0.2).pmf, want, atol=TOL, rtol=0)
    F = [response_table(stats.uniform(0, 1), k) for k in g.degrees]
    brute, _ = brute_threshold(8, [tuple(e) for e in g.edges()], F, np.full(8, 0.2))
    np.testing.assert_allclose(want, brute, atol=TOL, rtol=0)


# ---------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 4, 5])
@pytest.mark.parametrize("phi", [0.5, stats.norm(0.4, 0.3)], ids=["0.5", "N"])
def test_complete_graph_vs_enumeration(n, phi):
    edges = [(i, j) for i in range(n) for j in range(i + 1, n)]
    F = [response_table(phi, n - 1) for _ in range(n)]
    want, _ = brute_threshold(n, edges, F, np.full(n, 0.15))
    got = complete_graph_size_distribution(n, FractionalThreshold(phi), 0.15)
    np.testing.assert_allclose(got.pmf, want, atol=TOL, rtol=0)
    if n > 1 and hasattr(phi, "cdf"):  # a bare cdf gives the same
        np.testing.assert_allclose(complete_graph_size_distribution(n, phi, 0.15).pmf, want, atol=TOL)


@pytest.mark.parametrize("d", [0, 1, 3, 8])
@pytest.mark.parametrize("phi", [0.3, stats.uniform(0, 1), stats.norm(0.4, 0.3)], ids=["0.3", "U", "N"])
def test_star_closed_form_vs_tree_and_enumeration(d, phi):
    model = FractionalThreshold(phi)
    star = star_size_distribution(d, model, 0.1)
    if d == 0:
        g0 = 0.1 + 0.9 * float(model.response(0, 0))
        np.testing.assert_allclose(star.pmf, [1 - g0, g0], atol=TOL)
        return
    g = from_edges([(0, i) for i in range(1, d + 1)])
    np.testing.assert_allclose(star.pmf, size_distribution(g, model, 0.1).pmf, atol=TOL, rtol=0)
    if d <= 3:
        F = [response_table(phi, k) for k in g.degrees]
        want, _ = brute_threshold(d + 1, [tuple(e) for e in g.edges()], F, np.full(d + 1, 0.1))
        np.testing.assert_allclose(star.pmf, want, atol=TOL, rtol=0)


def test_closed_forms_vs_exact_rational_theory():
    from theory import size_distributions as sd

    assert sd.derivation().steps  # raises AssertionError if a step of the derivation fails
    for n in (1, 3, 5, 9):
        for p in (0.0, 0.1, 0.5):
            want = sd.complete_graph_pmf_float(n, 0.5, p)  # Q_s recursion in exact rationals
            got = complete_graph_size_distribution(n, FractionalThreshold(0.5), p).pmf
            np.testing.assert_allclose(got, want, atol=TOL, rtol=0)
    for d in (1, 4, 10):
        want = sd.star_pmf_float(d, 0.3, 0.2)
        got = star_size_distribution(d, FractionalThreshold(0.3), 0.2).pmf
        np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


def test_complete_graph_large_n_is_a_distribution_and_bimodal():
    # near the Sci. Rep. 2018 setting: normal thresholds, few seeds; mass at both ends
    d = complete_graph_size_distribution(1000, stats.norm(0.3, 0.1), 0.1)
    assert abs(d.pmf.sum() - 1) < 1e-12 and np.all(d.pmf >= 0)
    # measured 0.305 and 0.695: a mean of 732 that almost never happens
    assert d.pmf[:200].sum() > 0.25 and d.pmf[800:].sum() > 0.6 and d.pmf[200:800].sum() < 0.01


# ---------------------------------------------------------------------------
# tier (b): invariants
# ---------------------------------------------------------------------------


def random_tree(n, rng):
    parents = [int(rng.integers(0, i)) for i in range(1, n)]
    return from_edges([(parents[i - 1], i) for i in range(1, n)])


@pytest.mark.parametrize(
    "model",
    [IndependentCascade(0.35), FractionalThreshold(0.3), FractionalThreshold(stats.norm(0.25, 0.1)),
     AbsoluteThreshold(2)],
    ids=["icm", "watts", "random", "bootstrap"],
)
def test_invariants_on_a_random_tree(model):
    g = random_tree(120, np.random.default_rng(1))
    dists = [size_distribution(g, model, p) for p in (0.0, 0.01, 0.05, 0.2)]
    for d in dists:
        assert abs(d.pmf.sum() - 1) < 1e-12 and np.all(d.pmf >= 0) and d.pmf.size == 121
    # more seeds -> stochastically larger cascades (monotone model): cdfs decrease pointwise
    for a, b in zip(dists, dists[1:], strict=False):
        assert np.all(b.cdf <= a.cdf + 1e-12)
    # the mean equals the sum of the node marginals; the root does not matter
    c = conditional_activation(g, model, 0.05, nodes=[0, 7, 50])
    assert np.all(c.marginal <= 1 + 1e-12)
    other = size_distribution(g, model, 0.05, root=77)
    np.testing.assert_allclose(other.pmf, dists[2].pmf, atol=1e-12)
    # S = 0 iff no node is active on its own: P = prod_i (1 - p)(1 - F(0, k_i)) (ICM: F(0, k) = 0)
    for p, d in zip((0.0, 0.01, 0.05, 0.2), dists, strict=True):
        f0 = 0.0 if isinstance(model, IndependentCascade) else model.response(0, g.degrees)
        none = np.broadcast_to((1 - p) * (1 - f0), (g.n,))
        assert d.pmf[0] == pytest.approx(np.prod(none), rel=1e-9, abs=1e-14)


def test_mean_is_sum_of_marginals():
    g = random_tree(40, np.random.default_rng(2))
    model = FractionalThreshold(stats.uniform(0, 0.8))
    c = conditional_activation(g, model, 0.1)
    assert c.marginal.sum() == pytest.approx(c.distribution.mean, abs=1e-9)
    # given S = n everybody is active, given S = 0 nobody
    assert np.allclose(c.at(40)[~np.isnan(c.at(40))], 1.0)
    np.testing.assert_allclose(c.at(0), 0.0, atol=1e-12)
    assert isinstance(c, ConditionalActivation)


def test_bp_tree_on_a_tree_is_the_tree_method():
    g = random_tree(60, np.random.default_rng(4))
    for model in (IndependentCascade(0.5), FractionalThreshold(0.3)):
        a = size_distribution(g, model, 0.03, method="tree")
        b = size_distribution(g, model, 0.03, method="bp-tree")
        np.testing.assert_allclose(a.pmf, b.pmf, atol=1e-14)


def test_bp_tree_on_a_unicyclic_graph_is_close_to_enumeration():
    # ICM on a 4-cycle with a tail: one deleted edge; the approximation is close, not exact
    edges = [(0, 1), (1, 2), (2, 3), (3, 0), (2, 4)]
    g = from_edges(edges)
    n = 5
    p = np.array([0.1, 0.0, 0.2, 0.05, 0.1])
    rows = np.repeat(np.arange(n), g.degrees)
    p_dir = {(int(a), int(b)): 0.3 for a, b in zip(rows, g.indices, strict=True)}
    want, _ = brute_icm(n, edges, p_dir, p)
    d = size_distribution(g, IndependentCascade(0.3), p, method="bp-tree")
    assert d.method == "bp-tree" and d.info["deleted_edges"] == 1 and d.info["bp_sweeps"] < 100
    tv = total_variation(d, want)
    assert 0 < tv < TV_UNICYCLIC, tv
    assert abs(d.mean - want @ np.arange(n + 1)) < 0.1
    # the two-branch approximation (the default on graphs with cycles): no giant here, so it is its
    # local branch, the seeds' clusters added as if they were disjoint; measured TV 0.030
    d2 = size_distribution(g, IndependentCascade(0.3), p)
    assert d2.method == "two-branch" and d2.info["global_weight"] < 1e-12
    assert 0 < total_variation(d2, want) < TV_UNICYCLIC


TV_UNICYCLIC = 0.08  # regression bound: measured TV 0.053 (the loop makes the approximation inexact)


@pytest.mark.parametrize("fold", ["bp", "tree"])
@pytest.mark.parametrize("model", [IndependentCascade(0.4), FractionalThreshold(0.3)], ids=["icm", "watts"])
def test_bp_tree_limits_on_loopy_graphs(model, fold):
    g = erdos_renyi(300, 3.0, rng=3)
    bp = functools.partial(size_distribution, method="bp-tree", fold=fold)
    assert bp(g, model, 0.0).pmf[0] == pytest.approx(1.0, abs=1e-12)
    assert bp(g, model, 1.0).pmf[-1] == pytest.approx(1.0, abs=1e-12)
    d = bp(g, model, 0.01)
    assert d.method == "bp-tree" and d.info["deleted_edges"] == g.m - (g.n - d.info["components"])
    assert abs(d.pmf.sum() - 1) < 1e-12
    # on a tree the fold is irrelevant
    tree = random_tree(50, np.random.default_rng(6))
    np.testing.assert_allclose(
        size_distribution(tree, model, 0.05, fold=fold, method="bp-tree").pmf,
        size_distribution(tree, model, 0.05).pmf,
        atol=1e-14,
    )


# ---------------------------------------------------------------------------
# Monte Carlo helpers
# ---------------------------------------------------------------------------


def test_empirical_size_distribution_bands():
    rng = np.random.default_rng(0)
    pmf = stats.binom.pmf(np.arange(21), 20, 0.3)
    sizes = rng.choice(21, size=4000, p=pmf)
    e = empirical_size_distribution(sizes, 20)
    assert e.n_samples == 4000 and e.counts.sum() == 4000
    assert np.all(e.lower <= e.pmf) and np.all(e.pmf <= e.upper)
    assert np.all(e.cdf_lower <= e.cdf) and np.all(e.cdf <= e.cdf_upper)
    # the DKW band holds simultaneously with probability >= 95 %: here it contains the true cdf
    true_cdf = np.cumsum(pmf)
    assert np.all(e.cdf_lower <= true_cdf + 1e-12) and np.all(true_cdf <= e.cdf_upper + 1e-12)
    # exact intervals are wider than Wilson's at 0 counts on the lower side? both contain 0 there
    x = empirical_size_distribution(sizes, 20, interval="exact")
    assert np.all(x.lower <= x.pmf) and np.all(x.pmf <= x.upper)
    # the TV of 4000 samples is below the bound (E TV <= bound; margin 1.5)
    assert total_variation(e, pmf) < 1.5 * sampling_tv_bound(pmf, 4000)
    f = empirical_size_distribution(sizes / 20, 20, fractions=True)
    np.testing.assert_array_equal(f.counts, e.counts)


def test_pointwise_coverage_of_wilson_intervals():
    # 400 replicates of N = 500 draws at p = 0.1: coverage of a 95 % interval is 0.95 +- 3 sd (sd = 0.011)
    rng = np.random.default_rng(5)
    pmf = np.array([0.9, 0.1])
    hits = 0
    for _ in range(400):
        e = empirical_size_distribution(rng.choice(2, size=500, p=pmf), 1)
        hits += e.lower[1] <= 0.1 <= e.upper[1]
    assert 0.95 - 3 * 0.011 <= hits / 400 <= 1.0


def test_total_variation_and_size_distribution_methods():
    a = SizeDistribution([0.2, 0.3, 0.5])
    b = SizeDistribution([0.5, 0.5])
    assert total_variation(a, b) == pytest.approx(0.5)
    assert a.tv_distance(b) == pytest.approx(0.5)
    assert total_variation(a, a) == 0.0
    s = a.sample(20000, rng=1)
    # the mean of 20000 draws: sd = sqrt(var / N) = 0.0055; 5 sd
    assert abs(s.mean() - a.mean) < 5 * math.sqrt(a.var / 20000)
    np.testing.assert_array_equal(a.sample(5, rng=2), a.sample(5, rng=2))
    assert a.mean == pytest.approx(1.3) and a.var == pytest.approx(0.61)


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_bad_input():
    path = from_edges([(0, 1), (1, 2)])
    with pytest.raises(ValueError, match="seed_probability"):
        size_distribution(path, IndependentCascade(0.5), 1.5)
    with pytest.raises(ValueError, match="seed_probability"):
        size_distribution(path, IndependentCascade(0.5), [0.1, -0.1, 0.2])
    with pytest.raises(ValueError, match="shape"):
        size_distribution(path, IndependentCascade(0.5), [0.1, 0.2])
    with pytest.raises(TypeError, match="FiberBundle"):
        size_distribution(path, FiberBundle(1.5), 0.1)
    with pytest.raises(TypeError, match="damage"):
        size_distribution(path, WeightedThreshold(0.5, "damage"), 0.1)
    with pytest.raises(TypeError, match="Graph"):
        size_distribution([[0, 1]], IndependentCascade(0.5), 0.1)
    with pytest.raises(ValueError, match="undirected"):
        size_distribution(from_edges([(0, 1)], directed=True), IndependentCascade(0.5), 0.1)
    with pytest.raises(ValueError, match="simple"):
        size_distribution(from_edges([(0, 1), (0, 1)]), IndependentCascade(0.5), 0.1)
    with pytest.raises(ValueError, match="method='tree' needs a tree"):
        size_distribution(from_edges([(0, 1), (1, 2), (2, 0)]), IndependentCascade(0.5), 0.1, method="tree")
    with pytest.raises(ValueError, match="fold must be"):
        size_distribution(from_edges([(0, 1), (1, 2), (2, 0)]), IndependentCascade(0.5), 0.1, fold="x")
    with pytest.raises(ValueError, match="method must be"):
        size_distribution(path, IndependentCascade(0.5), 0.1, method="fft")
    with pytest.raises(ValueError, match="max_work"):
        size_distribution(erdos_renyi(3000, 1.0, rng=0), FractionalThreshold(0.5), 0.1, max_work=1e6)
    with pytest.raises(ValueError, match="n must be"):
        complete_graph_size_distribution(0, FractionalThreshold(0.5), 0.1)
    with pytest.raises(TypeError, match="threshold models"):
        star_size_distribution(3, IndependentCascade(0.5), 0.1)
    with pytest.raises(ValueError, match="sizes must be integers"):
        empirical_size_distribution([0.5, 1], 3)
    with pytest.raises(ValueError, match="confidence"):
        empirical_size_distribution([0, 1], 3, confidence=1.0)
    with pytest.raises(ValueError, match="pmf must sum to 1"):
        SizeDistribution([0.5, 0.4])


def test_conditional_activation_keeps_finished_nodes_on_interrupt(monkeypatch):
    # the rerooting algorithm finishes node after node (two-pass needs every frequency for every node:
    # tests/test_conditional_two_pass.py checks that it keeps nothing)
    from cascades.distributions import ConditionalActivationInterrupted

    g = random_tree(20, np.random.default_rng(9))
    model = IndependentCascade(0.5)
    full = conditional_activation(g, model, 0.1)
    real = dist_module._sweep
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(dist_module, "_sweep", flaky)
    with pytest.raises(ConditionalActivationInterrupted) as info:
        conditional_activation(g, model, 0.1, algorithm="reroot")
    part = info.value.partial
    assert isinstance(info.value, KeyboardInterrupt)
    np.testing.assert_array_equal(part.nodes, [0, 1, 2])
    np.testing.assert_allclose(part.joint, full.joint[:, :3], atol=1e-15)


# ---------------------------------------------------------------------------
# the two-branch approximation on graphs with cycles
# ---------------------------------------------------------------------------


def local_branch(graph, model, p):
    """The local branch alone (internal): pmf, P(no seed reaches a giant), info."""
    plan = dist_module._plan(graph, model, p, "two-branch", 1e-12, 1000)
    plan.method = "two-branch"  # also on forests (the local branch does not need cycles)
    r, p_eff = dist_module._linear_response(graph, model, plan)
    return dist_module._local_branch(graph, r, p_eff, 1e12, False)


@pytest.mark.parametrize(
    "model",
    [
        IndependentCascade(0.6),
        FractionalThreshold(0.3),
        FractionalThreshold(stats.uniform(0, 0.7)),
        AbsoluteThreshold(1),
    ],
    ids=["icm", "watts", "random-phi", "absolute"],
)
def test_local_branch_of_one_sure_seed_on_a_tree_is_exact(model):
    # one seed on a tree: every activation comes from a single active neighbour (the one towards the
    # seed), so the finite linear-response cluster is the whole cascade
    g = random_tree(70, np.random.default_rng(21))
    for v in (0, 33):
        p = np.zeros(g.n)
        p[v] = 1.0
        pmf, p_local, info = local_branch(g, model, p)
        assert p_local == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(pmf, size_distribution(g, model, p).pmf, atol=1e-12)


def test_two_branch_without_spreading_counts_the_seeds():
    # w = 0 on a loopy graph: the size is the number of seeds, a Poisson-binomial law
    g = erdos_renyi(200, 4.0, rng=5)
    p = np.random.default_rng(6).uniform(0, 0.05, g.n)
    want = np.ones(1)
    for pi in p:
        want = np.convolve(want, [1 - pi, pi])
    d = size_distribution(g, IndependentCascade(0.0), p)
    assert d.method == "two-branch" and d.info["global_weight"] == 0.0
    np.testing.assert_allclose(d.pmf, want, atol=1e-12)


@pytest.mark.parametrize("w", [0.2, 0.5, 0.8])
def test_two_branch_global_weight_on_a_random_regular_graph(w):
    # all messages equal by symmetry: u = 1 - w + w u^(d-1) (smallest root), P(no global) = (1 - p + p u^d)^n
    n, d, p = 400, 4, 0.01
    g = random_regular(n, d, rng=7)
    u = optimize.brentq(lambda x: 1 - w + w * x ** (d - 1) - x, 0.0, 1.0 - 1e-12) if w * (d - 1) > 1 else 1.0
    dist = size_distribution(g, IndependentCascade(w), p)
    assert dist.info["global_weight"] == pytest.approx(1 - (1 - p + p * u**d) ** n, abs=1e-9)
    assert dist.pmf.min() >= 0 and dist.pmf.sum() == pytest.approx(1.0, abs=1e-12)
    if w * (d - 1) > 1:  # the global branch is the bp-tree law
        bp = size_distribution(g, IndependentCascade(w), p, method="bp-tree")
        local, p_local, _ = local_branch(g, IndependentCascade(w), p)
        np.testing.assert_allclose(dist.pmf, local + (1 - p_local) * bp.pmf, atol=1e-12)
        assert dist.info["bp_mean"] == pytest.approx(bp.info["bp_mean"], rel=1e-12)


def test_two_branch_frequencies_grow_until_no_aliasing(monkeypatch):
    g = erdos_renyi(1500, 3.0, rng=8)
    model = IndependentCascade(0.2)
    a = size_distribution(g, model, 0.002)
    assert a.info["local_frequencies"] < g.n + 1
    monkeypatch.setattr(dist_module, "_LOCAL_FREQ0", g.n + 1)
    b = size_distribution(g, model, 0.002)
    assert b.info["local_frequencies"] == g.n + 1
    np.testing.assert_allclose(a.pmf, b.pmf, atol=1e-9)


def test_two_branch_is_the_default_on_loopy_graphs_and_exact_on_forests():
    g = erdos_renyi(100, 3.0, rng=9)
    assert size_distribution(g, IndependentCascade(0.3), 0.02).method == "two-branch"
    tree = random_tree(40, np.random.default_rng(10))
    d = size_distribution(tree, FractionalThreshold(0.3), 0.02, method="two-branch")
    assert d.method == "tree"


def test_two_branch_warns_when_seeds_start_cascades_together():
    # the check itself: loopy BP far above the approximation's mean while its global weight is ~0
    g = erdos_renyi(400, 3.0, rng=11)
    point_mass = np.zeros(g.n + 1)
    point_mass[5] = 1.0
    with pytest.warns(RuntimeWarning, match="start cascades together"):
        dist_module._check_collective(g.n, point_mass, 100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist_module._check_collective(g.n, point_mass, 20.0)
        # dense seeds: the total local size passes the loop scale and is sent to the global branch
        d = size_distribution(g, FractionalThreshold(0.3), 0.03)
        assert d.info["ignited"] > 0.9
        size_distribution(g, FractionalThreshold(0.3), 0.002)


def test_conditional_activation_refuses_two_branch():
    g = erdos_renyi(50, 3.0, rng=12)
    with pytest.raises(ValueError, match="two-branch"):
        conditional_activation(g, IndependentCascade(0.3), 0.05, method="two-branch")


def test_two_branch_ignition_moves_local_clusters_beyond_the_loop_scale():
    # ER n = 1000 at the upper edge of Watts' window: loopy BP has a global branch, so the local branch's
    # probability of more than s* = sqrt(2 n / <k(k-1)>) active nodes goes to the global branch
    g = erdos_renyi(1000, 5.6, rng=1)
    model = FractionalThreshold(0.18)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = size_distribution(g, model, 0.002)
    k = g.degrees.astype(float)
    s_star = math.sqrt(2 * g.n / np.mean(k * (k - 1)))
    assert d.info["loop_scale"] == pytest.approx(s_star, rel=1e-12)
    local, p_local, _ = local_branch(g, model, 0.002)
    cut = int(s_star)
    assert d.info["ignited"] == pytest.approx(local[cut + 1 :].sum(), abs=1e-12)
    assert d.info["giant_weight"] == pytest.approx(1 - p_local, abs=1e-12)
    assert d.info["global_weight"] == pytest.approx(d.info["giant_weight"] + d.info["ignited"], abs=1e-12)
    bp = size_distribution(g, model, 0.002, method="bp-tree")
    kept = np.where(np.arange(g.n + 1) <= cut, local, 0.0)
    np.testing.assert_allclose(d.pmf, kept + d.info["global_weight"] * bp.pmf, atol=1e-12)
    # the ICM has no ignition (its clusters are its outbreaks)
    icm = size_distribution(erdos_renyi(1000, 3.0, rng=1), IndependentCascade(0.5), 0.002)
    assert icm.info["ignited"] == 0.0 and "loop_scale" not in icm.info
