"""The two-pass (all roots at once) conditional activation against the rerooting reference."""

import numpy as np
import pytest
from scipy import stats

from cascades import _dist_kernels
from cascades.distributions import ConditionalActivationInterrupted, conditional_activation
from cascades.graphs import erdos_renyi, from_edges
from cascades.models import (
    AbsoluteThreshold,
    FractionalThreshold,
    IndependentCascade,
    WeightedThreshold,
)

ATOL = 1e-12


def random_tree(n, rng):
    parents = [int(rng.integers(0, i)) for i in range(1, n)]
    return from_edges([(parents[i - 1], i) for i in range(1, n)])


def random_forest(sizes, rng):
    """Disjoint random trees of the given sizes (a size 1 is an isolated node)."""
    edges, offset = [], 0
    for size in sizes:
        parents = [int(rng.integers(0, i)) for i in range(1, size)]
        edges += [(offset + parents[i - 1], offset + i) for i in range(1, size)]
        offset += size
    return from_edges(edges, n=offset)


def both(graph, model, p, **kwargs):
    a = conditional_activation(graph, model, p, **kwargs)
    b = conditional_activation(graph, model, p, algorithm="reroot", **kwargs)
    np.testing.assert_array_equal(a.nodes, b.nodes)
    np.testing.assert_allclose(a.distribution.pmf, b.distribution.pmf, atol=ATOL, rtol=0)
    np.testing.assert_allclose(a.joint, b.joint, atol=ATOL, rtol=0)
    assert a.distribution.method == b.distribution.method
    return a


def threshold_models(n, rng):
    return {
        "fixed-phi": FractionalThreshold(0.3),
        "per-node-phi": FractionalThreshold(rng.uniform(0.0, 0.7, n)),
        "random-phi": FractionalThreshold(stats.norm(0.25, 0.1)),
        "absolute": AbsoluteThreshold(2),
        "exposure": WeightedThreshold(0.3, weights="exposure"),
    }


@pytest.mark.parametrize("n", [30, 80])
def test_icm_on_random_trees(n):
    rng = np.random.default_rng(n)
    g = random_tree(n, rng)
    both(g, IndependentCascade(0.4), 0.05)
    p_edge = rng.uniform(0.05, 0.95, g.nnz)  # directional, one per CSR entry
    both(g, IndependentCascade(p_edge), rng.uniform(0.0, 0.2, n))


@pytest.mark.parametrize("name", ["fixed-phi", "per-node-phi", "random-phi", "absolute", "exposure"])
def test_thresholds_on_random_trees(name):
    rng = np.random.default_rng(7)
    g = random_tree(60, rng)
    model = threshold_models(g.n, rng)[name]
    both(g, model, 0.05)
    both(g, model, rng.uniform(0.0, 0.3, g.n), nodes=[3, 0, 59, 3, 17])


@pytest.mark.parametrize("model", [IndependentCascade(0.5), FractionalThreshold(stats.uniform(0, 1)),
                                   AbsoluteThreshold(1)], ids=["icm", "random-phi", "absolute"])
def test_forest_with_three_components(model):
    rng = np.random.default_rng(11)
    g = random_forest([25, 12, 1], rng)
    both(g, model, 0.1)
    both(g, model, rng.uniform(0.0, 0.3, g.n), nodes=[37, 30, 2])


@pytest.mark.parametrize("name", ["icm", "fixed-phi", "random-phi", "absolute"])
@pytest.mark.parametrize("fold", ["bp", "tree"])
def test_bp_tree_on_an_erdos_renyi_graph(name, fold):
    rng = np.random.default_rng(5)
    g = erdos_renyi(60, 3.0, rng=np.random.default_rng(2))
    model = IndependentCascade(0.3) if name == "icm" else threshold_models(g.n, rng)[name]
    c = both(g, model, 0.05, method="bp-tree", fold=fold)
    assert c.distribution.method == "bp-tree"
    both(g, model, 0.05, method="auto", nodes=np.arange(0, 60, 7))


@pytest.mark.parametrize("model", [IndependentCascade(0.35), FractionalThreshold(stats.norm(0.25, 0.1)),
                                   AbsoluteThreshold(2)], ids=["icm", "random-phi", "absolute"])
def test_invariants(model):
    g = random_forest([40, 20, 5], np.random.default_rng(3))
    c = conditional_activation(g, model, 0.08)
    pmf = c.distribution.pmf
    assert np.all(c.joint >= 0) and np.all(c.joint <= pmf[:, None])
    # sum over s of P(v active, S = s) = P(v active) (from a single-node request, another path)
    for v in (0, 45, 64):
        single = conditional_activation(g, model, 0.08, nodes=[v])
        assert single.marginal[0] == pytest.approx(c.marginal[v], abs=1e-12)
    # sum over v of P(v active, S = s) = s P(S = s)
    np.testing.assert_allclose(c.joint.sum(axis=1), np.arange(g.n + 1) * pmf, atol=1e-11)
    assert c.marginal.sum() == pytest.approx(c.distribution.mean, abs=1e-10)


def test_invariants_of_a_certain_cascade():
    g = from_edges([(0, 1), (1, 2), (1, 3)])
    c = conditional_activation(g, IndependentCascade(1.0), [1.0, 0, 0, 0])
    np.testing.assert_allclose(c.at(4), 1.0, atol=1e-12)
    np.testing.assert_allclose(c.marginal, 1.0, atol=1e-12)


def test_empty_node_list_and_trivial_graphs():
    g = random_tree(10, np.random.default_rng(0))
    c = conditional_activation(g, IndependentCascade(0.5), 0.1, nodes=np.array([], dtype=np.int64))
    assert c.joint.shape == (11, 0)
    ref = conditional_activation(g, IndependentCascade(0.5), 0.1, algorithm="reroot")
    np.testing.assert_allclose(c.distribution.pmf, ref.distribution.pmf, atol=ATOL)
    single = from_edges([], n=1)
    c = conditional_activation(single, AbsoluteThreshold(1), 0.3)
    np.testing.assert_allclose(c.joint[:, 0], [0.0, 0.3], atol=ATOL)


def test_bad_algorithm():
    g = random_tree(5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="two-pass.*reroot"):
        conditional_activation(g, IndependentCascade(0.5), 0.1, algorithm="fast")


def test_max_work_counts_a_few_sweeps_not_one_per_node():
    g = random_tree(200, np.random.default_rng(0))
    model = IndependentCascade(0.5)
    # enough for the two-pass scheme, far too little for 200 rerooted sweeps
    conditional_activation(g, model, 0.1, max_work=3e6)
    with pytest.raises(ValueError, match="max_work"):
        conditional_activation(g, model, 0.1, max_work=3e6, algorithm="reroot")
    with pytest.raises(ValueError, match="max_work"):
        conditional_activation(g, model, 0.1, max_work=1e4)


def test_interrupt_keeps_nothing(monkeypatch):
    g = random_tree(20, np.random.default_rng(9))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_dist_kernels, "icm_tree_gf_all", interrupted)
    with pytest.raises(ConditionalActivationInterrupted) as info:
        conditional_activation(g, IndependentCascade(0.5), 0.1)
    assert info.value.partial is None
    assert isinstance(info.value, KeyboardInterrupt)


def test_progress_bar():
    pytest.importorskip("tqdm")
    g = random_tree(30, np.random.default_rng(1))
    both(g, FractionalThreshold(0.3), 0.1, progress=True)


@pytest.mark.parametrize("model", [FractionalThreshold(stats.norm(0.25, 0.1)), AbsoluteThreshold(3),
                                   FractionalThreshold(np.r_[0.0, np.full(43, 0.5)]),
                                   AbsoluteThreshold(np.r_[60, np.zeros(43, dtype=int)])],
                         ids=["random-phi", "absolute", "seed-like-hub", "hub-never"])
def test_hub_with_large_and_zero_cuts(model):
    g = from_edges([(0, i) for i in range(1, 41)] + [(1, 41), (41, 42), (2, 43)])
    both(g, model, 0.05)


def test_bp_tree_with_many_deleted_edges():
    g = erdos_renyi(50, 6.0, rng=np.random.default_rng(3))
    rng = np.random.default_rng(1)
    both(g, FractionalThreshold(stats.uniform(0, 0.5)), 0.05, method="bp-tree")
    both(g, IndependentCascade(rng.uniform(0, 1, g.nnz)), rng.uniform(0, 0.2, g.n), method="bp-tree")
