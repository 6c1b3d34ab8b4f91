"""Size distributions (cascades.distributions) against seeded simulations (cascades.simulation), tier (c).

The simulator seeds an explicit bool mask drawn here, so every node is a seed independently with
probability p, as the theory assumes. Random thresholds are redrawn per run by ``model.rule``.

Tolerance of a total-variation comparison with N simulated cascades: E TV <= B = sum_s sqrt(p_s (1 - p_s)
/ N) / 2 (cascades.distributions.sampling_tv_bound), and TV changes by at most 1/N when one run changes, so
by McDiarmid's inequality P(TV > E TV + t) <= exp(-2 N t^2). With t = sqrt(log(10^6) / (2 N)) a correct
theory fails such a test with probability below 1e-6. A chi-square test (tests/_stats.py) at level 1e-4
is the sharper check.
"""

import math

import numpy as np
import pytest
from _stats import sample_pvalue
from scipy import stats

from cascades.distributions import (
    complete_graph_size_distribution,
    empirical_size_distribution,
    sampling_tv_bound,
    size_distribution,
    star_size_distribution,
    total_variation,
)
from cascades.graphs import erdos_renyi, from_edges
from cascades.models import AbsoluteThreshold, FractionalThreshold, IndependentCascade, WeightedThreshold
from cascades.simulation import simulate


def simulate_sizes(graph, model, p, n_runs, rng):
    """Final sizes of ``n_runs`` cascades with independent Bernoulli(p) seeds (p a number or per node)."""
    gen = np.random.default_rng(rng)
    random_rule = any(hasattr(getattr(model, name, None), "cdf") for name in ("phi", "theta"))
    rule = None if random_rule else model.rule(graph)
    p = np.broadcast_to(np.asarray(p, dtype=float), (graph.n,))
    sizes = np.empty(n_runs, dtype=np.int64)
    for r in range(n_runs):
        run_rule = model.rule(graph, rng=gen) if random_rule else rule
        sizes[r] = simulate(graph, run_rule, seeds=gen.random(graph.n) < p, rng=gen).n_active
    return sizes


def tv_tolerance(pmf, n_runs):
    return sampling_tv_bound(pmf, n_runs) + math.sqrt(math.log(1e6) / (2 * n_runs))


def random_tree(n, rng):
    gen = np.random.default_rng(rng)
    parents = [int(gen.integers(0, i)) for i in range(1, n)]
    return from_edges([(parents[i - 1], i) for i in range(1, n)])


def check_tv(dist, sizes):
    """TV within the sampling tolerance (for approximations: no chi-square, whose zero-probability
    check would reject a law that is only close)."""
    tv = total_variation(dist, empirical_size_distribution(sizes, dist.n))
    assert tv < tv_tolerance(dist.pmf, sizes.size), (tv, tv_tolerance(dist.pmf, sizes.size))


def check(dist, sizes):
    n_runs = sizes.size
    emp = empirical_size_distribution(sizes, dist.n)
    tv = total_variation(dist, emp)
    assert tv < tv_tolerance(dist.pmf, n_runs), (tv, tv_tolerance(dist.pmf, n_runs))
    assert sample_pvalue(sizes, dist.pmf) > 1e-4
    return tv


# ---------------------------------------------------------------------------
# quick
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", [IndependentCascade(0.5), FractionalThreshold(0.3)], ids=["icm", "watts"]
)
def test_tree_against_simulation_quick(model):
    g = random_tree(30, 1)
    d = size_distribution(g, model, 0.05)
    check(d, simulate_sizes(g, model, 0.05, 8000, 2))


def test_star_closed_form_against_simulation_quick():
    model = FractionalThreshold(stats.norm(0.3, 0.2))
    g = from_edges([(0, i) for i in range(1, 16)])
    d = star_size_distribution(15, model, 0.05)
    check(d, simulate_sizes(g, model, 0.05, 3000, 3))


# ---------------------------------------------------------------------------
# slow: 10^5 cascades per case
# ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("n", [10, 50, 200])
@pytest.mark.parametrize(
    "model",
    [IndependentCascade(0.6), FractionalThreshold(0.3), AbsoluteThreshold(1)],
    ids=["icm", "watts", "bootstrap1"],
)
def test_tree_against_simulation(n, model):
    g = random_tree(n, n)
    p = 1.0 / n
    d = size_distribution(g, model, p)
    check(d, simulate_sizes(g, model, p, 10**5, 10 + n))


@pytest.mark.slow
def test_tree_directional_icm_and_per_node_seeds_against_simulation():
    g = random_tree(60, 7)
    gen = np.random.default_rng(8)
    model = IndependentCascade(gen.uniform(0.2, 0.9, g.nnz))
    p = gen.uniform(0, 0.03, g.n)
    d = size_distribution(g, model, p)
    check(d, simulate_sizes(g, model, p, 10**5, 9))


@pytest.mark.slow
def test_tree_random_thresholds_against_simulation():
    model = FractionalThreshold(stats.norm(0.25, 0.15))
    g = random_tree(80, 11)
    d = size_distribution(g, model, 0.01)
    check(d, simulate_sizes(g, model, 0.01, 3 * 10**4, 12))


@pytest.mark.slow
def test_complete_graph_closed_form_against_simulation():
    n = 40
    model = FractionalThreshold(stats.norm(0.3, 0.1))
    g = from_edges([(i, j) for i in range(n) for j in range(i + 1, n)])
    d = complete_graph_size_distribution(n, model, 0.1)
    assert d.pmf[:10].sum() > 0.1 and d.pmf[30:].sum() > 0.1  # bimodal
    check(d, simulate_sizes(g, model, 0.1, 2 * 10**4, 13))


@pytest.mark.slow
@pytest.mark.parametrize("n, graph_seed", [(1000, 1), (10000, 1), (10000, 2), (10000, 3)])
def test_bimodality_near_the_upper_boundary_of_the_watts_window(n, graph_seed):
    # phi = 0.18 on G(n, z/n), z = 5.6 (the window's upper boundary is z ~ 5.76), two expected seeds
    z, p = 5.6, 2.0 / n
    g = erdos_renyi(n, z, rng=graph_seed)
    model = FractionalThreshold(0.18)
    runs = 4000 if n == 1000 else 2000
    sizes = simulate_sizes(g, model, p, runs, 14)
    small, big = (sizes < 0.1 * n).mean(), (sizes > 0.9 * n).mean()
    # the simulated law has two modes (measured P(small) 0.32 at n = 1000, 0.42-0.46 at n = 10^4)
    assert small > 0.2 and big > 0.5 and 1 - small - big < 0.02
    d = size_distribution(g, model, p)
    assert d.method == "two-branch"
    lo, hi = d.pmf[: n // 10].sum(), d.pmf[int(0.9 * n) :].sum()
    assert lo > 0.2 and hi > 0.4 and 1 - lo - hi < 0.02  # so has the approximation
    upper = np.arange(n + 1) >= 0.9 * n
    th_mode = (np.arange(n + 1)[upper] @ d.pmf[upper]) / d.pmf[upper].sum()
    assert abs(th_mode - sizes[sizes > 0.9 * n].mean()) < 0.005 * n
    # the weight of the small mode: the ignition closure gives slightly too little (measured 0.03-0.04
    # below the simulation; 5 sd of the simulated frequency is 0.04 at n = 1000, 0.055 at n = 10^4)
    assert -0.08 < lo - small < 0.02
    if graph_seed == 1 and n == 10000:
        check_tv(d, sizes)  # the whole law, within the sampling error (measured TV 0.052)
    else:
        assert total_variation(d, empirical_size_distribution(sizes, n)) < 0.1  # measured 0.057-0.067


@pytest.mark.slow
def test_two_branch_subcritical_icm_on_a_loopy_graph():
    g = erdos_renyi(1000, 3.0, rng=1)
    # z w = 0.75: no giant, the law is that of the seeds' clusters (measured TV 0.058)
    model = IndependentCascade(0.25)
    d = size_distribution(g, model, 0.005)
    assert d.info["global_weight"] < 1e-9
    check_tv(d, simulate_sizes(g, model, 0.005, 4000, 15))


@pytest.mark.slow
def test_two_branch_weight_of_the_giant_outbreak():
    g = erdos_renyi(1000, 3.0, rng=1)
    model = IndependentCascade(0.5)  # z w = 1.5: small outbreaks or a giant one
    runs = 4000
    d = size_distribution(g, model, 0.002)
    small = (simulate_sizes(g, model, 0.002, runs, 16) < 100).mean()
    # the weight of the local branch against the simulated frequency of small outbreaks, within 5 sd
    # (measured 0.321 vs 0.322); the shape of the upper mode is the bp-tree law's (TV 0.19, see Notes)
    assert abs(d.pmf[:100].sum() - small) < 5 * math.sqrt(small * (1 - small) / runs)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, z, seeds",
    [
        (FractionalThreshold(stats.norm(0.2, 0.05)), 4.0, 2.0),  # measured TV 0.020 (bp-tree: 0.20)
        (FractionalThreshold(stats.norm(0.18, 0.05)), 6.0, 2.0),  # 0.010 (0.17)
        (AbsoluteThreshold(2), 3.0, 4.0),  # no vulnerable node: the seeds' own clusters, 0.023 (0.024)
        (WeightedThreshold(0.2, weights="exposure"), 4.0, 2.0),  # 0.008 (0.18)
    ],
    ids=["random-phi-z4", "random-phi-z6", "absolute", "exposure"],
)
def test_two_branch_threshold_models_on_loopy_graphs(model, z, seeds):
    # inside the window, away from its edges: global cascades with probability ~0.8, the rest small
    n = 2000
    g = erdos_renyi(n, z, rng=4)
    d = size_distribution(g, model, seeds / n)
    assert d.method == "two-branch" and d.info["ignited"] < 0.01
    check_tv(d, simulate_sizes(g, model, seeds / n, 3000, 5))
