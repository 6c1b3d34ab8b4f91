"""Regression tests for issue 15, analytic side: no crash, no runaway allocation, no silent wrong answer.

One test per reproducer. Each asserts either a ValueError / TypeError (or MemoryLimitError, a
ValueError) whose message names the parameter, or the right answer against a value that does not come
from the code path under test: a closed form worked out by hand (AbsoluteThreshold(0) activates
everyone, rho = 1; a threshold above every degree or p = 0 activates nobody beyond the seeds,
rho = rho0), or the uncorrelated mean-field solver (cascades.meanfield.final_size, a separate
implementation) for the degree-class and module solvers of cascades.messages. Tolerances: 1e-12 for
closed forms; 1e-9 against final_size (the module tables are renormalised after a 1e-12 tail cut).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
from scipy import stats

import cascades
from cascades import distributions as dist_module
from cascades.degrees import Binomial, Empirical, Poisson, PowerLaw, Regular
from cascades.distributions import (
    ConditionalActivationInterrupted,
    SizeDistribution,
    conditional_activation,
    empirical_size_distribution,
    sampling_tv_bound,
    size_distribution,
    total_variation,
)
from cascades.graphs import erdos_renyi, from_edges
from cascades.meanfield import cascade_window, final_size
from cascades.messages import (
    DegreeCorrelation,
    ModularNetwork,
    final_size_correlated,
    final_size_modular,
    message_passing,
)
from cascades.models import (
    AbsoluteThreshold,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    WeightedThreshold,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RHO0 = 0.01

# The four valid models that used to crash the degree-class solvers, with their exact final sizes:
# m = 0 / phi = 0 activate every node by itself; p = 0 and m = 10**6 (above every degree) add nobody.
EXTREME = [
    (AbsoluteThreshold(0), 1.0),
    (FractionalThreshold(0.0), 1.0),
    (IndependentCascade(0.0), RHO0),
    (AbsoluteThreshold(10**6), RHO0),
]
EXTREME_IDS = ["m=0", "phi=0", "p=0", "m=1e6"]


def _pmf():
    p = np.zeros(9)
    p[[1, 3, 8]] = [0.2, 0.5, 0.3]
    return p


# ---------------------------------------------------------------------------
# 1. crashes on valid models
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "exact"), EXTREME, ids=EXTREME_IDS)
def test_final_size_correlated_constant_responses(model, exact):
    # reproducer: an empty weighted np.bincount is int64, and adding floats to it raised UFuncTypeError
    e = DegreeCorrelation.uncorrelated(_pmf())
    r = final_size_correlated(model, e, RHO0)
    assert r.converged
    assert r.size == pytest.approx(exact, abs=1e-12)
    np.testing.assert_allclose(r.group_sizes, exact, atol=1e-12)


@pytest.mark.parametrize(
    "model",
    [FractionalThreshold(0.3), IndependentCascade(0.4), *(m for m, _ in EXTREME)],
    ids=["phi=0.3", "icm", *EXTREME_IDS],
)
def test_final_size_correlated_without_correlations_is_the_uncorrelated_lta(model):
    # e_kk' = q_k q_k': the degree classes see the same neighbours, so the result is the uncorrelated
    # recursion of cascades.meanfield.final_size (another implementation) on the same p_k
    joint = DegreeCorrelation(np.outer(*(2 * [np.arange(9) * _pmf() / (np.arange(9) @ _pmf())])))
    r = final_size_correlated(model, joint, RHO0)
    ref = final_size(model, Empirical(_pmf()), RHO0)
    assert r.size == pytest.approx(ref.rho, abs=1e-9)


@pytest.mark.parametrize(("model", "exact"), EXTREME, ids=EXTREME_IDS)
@pytest.mark.parametrize(
    "network",
    [
        lambda: ModularNetwork([1.0], [Poisson(4.0)], [[1.0]]),  # one module
        lambda: ModularNetwork([0.5, 0.5], [Poisson(3.0), Poisson(10.0)], [[1, 0], [0, 1]]),  # no coupling
        lambda: ModularNetwork(
            [0.5, 0.5], [Poisson(3.0), Regular(0)], [[1, 0], [0, 1]]
        ),  # a module w/o edges
        lambda: ModularNetwork([0.3, 0.7], [Regular(0), Regular(0)], [[0, 0], [0, 0]]),  # no edges at all
        lambda: ModularNetwork([0.5, 0.5], [Poisson(3.0), Poisson(10.0)], [[0.9, 0.1], [0.03, 0.97]]),
    ],
    ids=["one-module", "uncoupled", "edgeless-module", "no-edges", "coupled"],
)
def test_final_size_modular_edge_cases(network, model, exact):
    # reproducers: the same empty bincount; no edge type at all (np.concatenate of nothing); q rounding
    # to 1 + 1 ulp (the transfer rows sum to 1 up to round-off), where scipy's binomial law is NaN
    r = final_size_modular(model, network(), RHO0)
    assert r.converged
    assert r.size == pytest.approx(exact, abs=1e-12)
    np.testing.assert_allclose(r.group_sizes, exact, atol=1e-12)


def test_final_size_modular_one_module_and_uncoupled_modules_are_the_uncorrelated_lta():
    model = FractionalThreshold(0.18)
    one = final_size_modular(model, ModularNetwork([1.0], [Poisson(4.0)], [[1.0]]), RHO0)
    assert one.size == pytest.approx(final_size(model, Poisson(4.0), RHO0).rho, abs=1e-9)
    apart = ModularNetwork([0.5, 0.5], [Poisson(3.0), Regular(0)], [[1, 0], [0, 1]])
    r = final_size_modular(model, apart, RHO0)
    # module 0 on its own; module 1 has no edges and phi > 0: its nodes are just the seeds
    assert r.group_sizes[0] == pytest.approx(final_size(model, Poisson(3.0), RHO0).rho, abs=1e-9)
    assert r.group_sizes[1] == pytest.approx(RHO0, abs=1e-15)


# ---------------------------------------------------------------------------
# 2. silent wrong answers
# ---------------------------------------------------------------------------


class _NanInside:
    """A duck-typed threshold law whose cdf is NaN on (0.1, 0.15): passes a few probe points only."""

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        return np.where((x > 0.1) & (x < 0.15), np.nan, np.clip(x, 0.0, 1.0))

    def rvs(self, size, random_state):
        return random_state.random(size)


@pytest.mark.parametrize(
    "law",
    [
        stats.norm(np.nan, 0.05),
        stats.norm(0.2, -1),
        stats.norm(0.2, 0),
        stats.norm(0.2, np.inf),
        stats.norm(np.inf, 1),
        stats.uniform(0, np.nan),
        stats.beta(-1, 2),
    ],
    ids=["nan-loc", "negative-scale", "zero-scale", "inf-scale", "inf-loc", "nan-scale", "bad-shape"],
)
def test_invalid_threshold_distributions_are_refused(law):
    # reproducer: these gave rho = 1, converged (the cdf is NaN everywhere, read as "activated")
    with pytest.raises(ValueError, match="phi"):
        final_size(FractionalThreshold(law), Poisson(4.0), RHO0)
    with pytest.raises(ValueError, match="theta"):
        WeightedThreshold(law, "damage")
    with pytest.raises(ValueError, match="capacity"):
        FiberBundle(law)


def test_threshold_law_with_nan_cdf_between_probe_points_is_refused_where_it_is_evaluated():
    model = FractionalThreshold(_NanInside())  # valid at the construction's probe points
    with pytest.raises(ValueError, match="phi.*cdf"):
        final_size(model, Poisson(4.0), RHO0)
    with pytest.raises(ValueError, match="phi.*cdf"):
        model.response(1, 7)


def test_valid_threshold_distributions_still_work():
    for law in (stats.norm(0.2, 0.05), stats.uniform(0, 1), stats.poisson(3), stats.expon(scale=0.5)):
        FractionalThreshold(law)
    # a closed form: phi ~ U(0, 1) on a 1-regular graph (pairs), F(1, 1) = 1, F(0, 1) = 0:
    # a node is active iff it or its partner is a seed
    r = final_size(FractionalThreshold(stats.uniform(0, 1)), Regular(1), RHO0)
    assert r.rho == pytest.approx(1 - (1 - RHO0) ** 2, abs=1e-12)


@pytest.mark.parametrize(
    ("p", "q", "name"),
    [
        ([], [0.2, 0.8], "p"),
        ([0.2, 0.8], [], "q"),
        ([[0.5, 0.5]], [1.0], "p"),
        ([0.3, 0.3], [1.0], "p"),
        ([1.0], [0.5, 0.6], "q"),
        ([np.nan, 1.0], [1.0], "p"),
        ([1.5, -0.5], [1.0], "p"),
        (["a"], [1.0], "p"),
    ],
)
def test_total_variation_refuses_what_is_not_a_pmf(p, q, name):
    # reproducer: total_variation([], [0.2, 0.8]) returned 0.5
    with pytest.raises(ValueError, match=rf"^{name} must"):
        total_variation(p, q)
    with pytest.raises(ValueError, match="pmf"):
        sampling_tv_bound([], 10)


def test_total_variation_pads_the_shorter_pmf_with_zeros():
    # documented: pmfs of different lengths; by hand, (|0.5 - 1| + |0.5 - 0|) / 2 = 0.5
    assert total_variation([0.5, 0.5], [1.0]) == 0.5
    assert total_variation(SizeDistribution(np.array([0.25, 0.75])), [0.25, 0.75, 0.0]) == 0.0


@pytest.mark.parametrize("bad", [{"tol": 1e10}, {"tol": 0.5}, {"tol": 0.0}, {"tol": np.nan}, {"max_iter": 0}])
def test_iteration_parameters_are_bounded(bad):
    # reproducer: message_passing(graph, model, 0.01, tol=1e10) reported converged
    name = next(iter(bad))
    g = erdos_renyi(200, 4.0, rng=0)
    model = FractionalThreshold(0.18)
    net = ModularNetwork([1.0], [Poisson(4.0)], [[1.0]])
    calls = [
        lambda: message_passing(g, model, RHO0, **bad),
        lambda: final_size_correlated(model, DegreeCorrelation.uncorrelated(_pmf()), RHO0, **bad),
        lambda: final_size_modular(model, net, RHO0, **bad),
        lambda: final_size(model, Poisson(4.0), RHO0, **bad),
        lambda: cascade_window([2.0], [0.18], seed_fraction=RHO0, **bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=name):
            call()


@pytest.mark.parametrize("bad", [1e10, 0.5, 0.0, np.nan])
def test_belief_propagation_and_tail_tolerances_are_bounded(bad):
    tree = from_edges([(0, 1), (1, 2)])  # bp_tol is checked even where no belief propagation runs
    with pytest.raises(ValueError, match="bp_tol"):
        size_distribution(tree, IndependentCascade(0.5), 0.1, bp_tol=bad)
    with pytest.raises(ValueError, match="bp_tol"):
        conditional_activation(tree, IndependentCascade(0.5), 0.1, bp_tol=bad)
    with pytest.raises(ValueError, match="tol"):
        Poisson(2.0).pmf(tol=bad)
    with pytest.raises(ValueError, match="tol"):
        PowerLaw(3.5).g0(0.5, tol=bad)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_parameters_are_refused(value):
    g = from_edges([(0, 1), (1, 2)])
    model = FractionalThreshold(0.3)
    checks = [
        (lambda: final_size(model, Poisson(4.0), value), "seed_fraction"),
        (lambda: message_passing(g, model, value), "seed_fraction"),
        (
            lambda: final_size_correlated(model, DegreeCorrelation.uncorrelated(_pmf()), value),
            "seed_fraction",
        ),
        (lambda: size_distribution(g, model, value), "seed_probability"),
        (lambda: FractionalThreshold(value), "phi"),
        (lambda: IndependentCascade(value), "p"),
        (lambda: WeightedThreshold(value, "damage"), "theta"),
        (lambda: Poisson(value), "mean"),
        (lambda: Binomial(10, value), "p"),
        (lambda: PowerLaw(value), "exponent"),
        (lambda: Empirical([value, 1.0]), "pmf"),
        (lambda: FractionalThreshold(stats.norm(value, 0.05)), "phi"),
    ]
    for call, name in checks:
        with pytest.raises(ValueError, match=name):
            call()


# ---------------------------------------------------------------------------
# 3. Ctrl-C in the two-pass conditional activation
# ---------------------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from scipy import stats
    from cascades.distributions import ConditionalActivationInterrupted, conditional_activation
    from cascades.graphs import from_edges
    from cascades.models import FractionalThreshold

    # a preferential-attachment tree of 30000 nodes (hubs of degree ~300) and random thresholds: the
    # lumped count polynomials of the hubs make one frequency cost ~1e8 operations, the whole run hours
    n = 30000
    rng = np.random.default_rng(0)
    ends, parents = [0], np.zeros(n - 1, dtype=np.int64)
    for i in range(2, n):
        parents[i - 1] = ends[int(rng.integers(0, len(ends)))]
        ends += [int(parents[i - 1]), i]
    tree = from_edges(np.column_stack([parents, np.arange(1, n)]), n=n)
    model = FractionalThreshold(stats.norm(0.25, 0.1))
    conditional_activation(from_edges([(0, 1), (1, 2)]), model, 0.1)  # compile (or load) the kernels
    print("started", flush=True)
    try:
        conditional_activation(tree, model, 0.01, nodes=np.arange(50), max_work=1e16)
        out = {"finished": True}
    except ConditionalActivationInterrupted as exc:
        out = {"finished": False, "partial": None if exc.partial is None else int(exc.partial.nodes.size),
               "message": str(exc)}
    out["end"] = time.time()
    print(json.dumps(out), flush=True)
    """
)


def test_two_pass_reacts_to_ctrl_c_within_a_second(tmp_path):
    # reproducer: Ctrl-C took 40-80 s to act (a compiled kernel ran on 1/50 of all frequencies at once)
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "started"
        time.sleep(1.0)  # inside the message passes
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    out = json.loads(stdout.strip().splitlines()[-1])
    assert not out["finished"]
    assert out["partial"] is None  # no node is finished before the last frequency
    assert "during the message passes" in out["message"]
    # the blocks take about 0.2 s; a shared 2-core machine may stretch that
    assert out["end"] - sent < 2.0


def test_two_pass_keeps_the_finished_nodes_when_interrupted_while_inverting(monkeypatch):
    rng = np.random.default_rng(9)
    tree = from_edges([(int(rng.integers(0, i)), i) for i in range(1, 40)])
    model = FractionalThreshold(0.3)
    nodes = np.array([7, 3, 7, 0, 12, 5, 3, 30, 2, 9])
    full = conditional_activation(tree, model, 0.05, nodes=nodes)
    real = dist_module._invert
    calls = {"n": 0}

    def flaky(values, n):
        if values.ndim == 2:  # the nodes' inversions (the size law is a 1-d call)
            calls["n"] += 1
            if calls["n"] == 3:
                raise KeyboardInterrupt
        return real(values, n)

    monkeypatch.setattr(dist_module, "_CHUNK_SECONDS", 0.0)  # one node per block
    monkeypatch.setattr(dist_module, "_invert", flaky)
    with pytest.raises(ConditionalActivationInterrupted) as info:
        conditional_activation(tree, model, 0.05, nodes=nodes)
    part = info.value.partial
    # distinct nodes finish in the order asked: 7 and 3 done, 0 not, so nodes[:3] = [7, 3, 7] are done
    np.testing.assert_array_equal(part.nodes, nodes[:3])
    np.testing.assert_array_equal(part.joint, full.joint[:, :3])
    np.testing.assert_array_equal(part.distribution.pmf, full.distribution.pmf)


def test_two_pass_numbers_do_not_depend_on_the_blocks(monkeypatch):
    # loopy and with several components (the bp-tree forest): the other components' GFs multiply in;
    # n = 60 and 300 hold the nodes' GFs in less and in more than 256 KiB (two ways of multiplying)
    for n in (60, 300):
        g = erdos_renyi(n, 2.0, rng=3)
        for model in (IndependentCascade(0.4), FractionalThreshold(stats.norm(0.25, 0.1))):
            ref = conditional_activation(g, model, 0.05)
            with monkeypatch.context() as m:
                m.setattr(dist_module, "_CHUNK_SECONDS", 0.0)  # blocks of one frequency / one node
                tiny = conditional_activation(g, model, 0.05)
            np.testing.assert_array_equal(tiny.joint, ref.joint)
            np.testing.assert_array_equal(tiny.distribution.pmf, ref.distribution.pmf)


# ---------------------------------------------------------------------------
# 4. misleading errors
# ---------------------------------------------------------------------------


def test_power_law_without_cutoff_refuses_heavy_tails_naming_the_range():
    # reproducer: PowerLaw(1.01).pmf() raised OverflowError
    with pytest.raises(ValueError, match=r"kmax.*exponent >= 2\.6"):
        PowerLaw(1.01).pmf()
    with pytest.raises(ValueError, match=r"kmax.*exponent >= 3\.6"):
        PowerLaw(2.01).edge_biased_pmf()
    # with a cutoff the table is the normalised k^-g (by hand)
    k = np.arange(1, 1001)
    want = k**-1.01 / np.sum(k**-1.01)
    np.testing.assert_allclose(PowerLaw(1.01, kmax=1000).pmf()[1:], want, rtol=1e-12)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: Binomial(10**30, 0.5), "n"),
        (lambda: Regular(2**63), "k"),
        (lambda: Poisson(1e19), "mean"),
        (lambda: PowerLaw(2.5, kmin=2**60), "kmin"),
    ],
)
def test_degree_parameters_beyond_exact_integers_are_refused(make, name):
    # reproducers: sample() raised OverflowError / numpy's "lam value too large"
    with pytest.raises(ValueError, match=rf"^{name} must be <= 2\*\*53"):
        make()


# ---------------------------------------------------------------------------
# 5. memory guards
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: Poisson(3.0).sample(10**10), "n = "),
        (lambda: SizeDistribution(np.array([0.5, 0.5])).sample(10**10), "size = "),
        (lambda: empirical_size_distribution([0, 1], 10**10), "n = "),
        (lambda: FractionalThreshold(0.5).degree_thresholds(10**10), "k_max = "),
        (lambda: AbsoluteThreshold(2).degree_thresholds(10**10), "k_max = "),
        (
            lambda: FractionalThreshold(0.5).response(np.zeros((10**5, 1), int), np.full((1, 10**5), 10**5)),
            "m and k",
        ),
        (lambda: cascade_window(np.linspace(1, 10, 10**5), np.linspace(0.1, 0.3, 10**5)), "grid"),
        (lambda: conditional_activation(from_edges([], n=20000), IndependentCascade(0.5), 0.1), "nodes"),
        (
            lambda: conditional_activation(
                from_edges([], n=20000), IndependentCascade(0.5), 0.1, algorithm="reroot", max_work=1e20
            ),
            "nodes",
        ),
        (
            lambda: final_size_modular(
                IndependentCascade(0.5),
                ModularNetwork(np.full(3000, 1 / 3000), [Poisson(4.0)] * 3000, np.eye(3000)),
                0.1,
            ),
            "network",
        ),
        (
            lambda: final_size(
                FractionalThreshold(stats.norm(0.2, 0.05)), PowerLaw(2.5, kmax=2 * 10**6), 0.01
            ),
            "degrees",
        ),
    ],
    ids=[
        "degree-sample",
        "size-sample",
        "histogram",
        "fractional-table",
        "absolute-table",
        "response",
        "window",
        "two-pass",
        "reroot",
        "modular",
        "band-response",
    ],
)
def test_memory_guards(call, name):
    with cascades.memory_limit("1G"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(cascades.MemoryLimitError, match=name):
            call()


def test_message_passing_probabilities_never_pass_one():
    # Found by the property tests: rho0 + (1 - rho0) v rounded to 1 + 2**-52 on this directed graph.
    indptr = np.array([0, 2, 3, 5, 6, 6, 11, 12, 16])
    indices = np.array([0, 4, 6, 6, 7, 6, 0, 3, 5, 6, 7, 3, 0, 2, 6, 7], dtype=np.int32)
    g = cascades.Graph(indptr, indices, directed=True)
    mp = cascades.message_passing(g, cascades.FractionalThreshold(0.3), 0.1)
    assert np.all(mp.node_probabilities <= 1.0) and np.all(mp.messages <= 1.0)
    undirected = cascades.erdos_renyi(300, 6, rng=1)
    mp = cascades.message_passing(undirected, cascades.FractionalThreshold(0.05), 0.2)
    assert np.all(mp.node_probabilities <= 1.0) and np.all(mp.messages <= 1.0)


@pytest.mark.parametrize("tiny", [2.225073858507203e-309, 2.2250738585072014e-308, 1e-305])
def test_binomials_survive_probabilities_near_the_smallest_float(tiny):
    # Found by the slow property profile: scipy's binom.pmf raised OverflowError (Boost's
    # ibeta_derivative) at p = 2.2250738585072014e-308 inside final_size_correlated.
    rng = np.random.default_rng(0)
    joint = rng.random((5, 5))
    joint[0, :] = joint[:, 0] = 0
    joint = joint + joint.T
    joint /= joint.sum()
    res = cascades.final_size_correlated(
        cascades.FractionalThreshold(0.25), cascades.DegreeCorrelation(joint), tiny
    )
    assert tiny * (1 - 1e-12) <= res.size <= 1.0  # a probability, and the seeds stay active
    assert cascades.Binomial(10, tiny).pmf()[0] == 1.0
