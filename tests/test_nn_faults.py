"""Issue 15 for cascades.nn and cascades.bridge: no crash, no runaway allocation, no silent wrong answer.

One test per reproducer. Each asserts either an error that names the parameter (ValueError,
TypeError, cascades.MemoryLimitError) or the right answer against an independent value: a closed
form, scipy's own distributions, or a Monte Carlo written here with numpy, never a value the code
under test produced.
"""

import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats

import cascades
from cascades import nn
from cascades.bridge import (
    LayerShape,
    Recommendation,
    apply_to,
    draw_masks,
    draw_weights,
    layer_densities,
    load_torch,
    masks_from,
    read_module,
    recommend,
    save_torch,
    signal_statistics,
    to_torch,
    train_comparison,
)
from cascades.bridge.topology import _masks_peak_bytes
from cascades.models import AbsoluteThreshold, FractionalThreshold
from cascades.nn.simulate import _simulation_peak_bytes
from cascades.nn.sparse import _cascade_peak_bytes, _propagation_peak_bytes

BIG = [100000, 100000]


def _peak(f):
    """Peak bytes numpy allocates while f() runs (tracemalloc)."""
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- 1. unbounded allocations ---------------------------------------------------------------


def test_relu_output_norm_cdf_of_a_wide_layer_is_small_and_right():
    """Reproducer: relu_output_norm_cdf(x, [100000, 100000]) asked for 12 GiB (a grid x n matrix).

    The mixture now runs only over the k where Bin(k; n, 1/2) > 0 in float64, in chunks: the peak
    is O(grid) whatever n. The value is checked against the exact one-layer law computed here with
    scipy over all k: P = 2^-n + sum_k Bin(k; n, 1/2) P[chi^2_k <= x n_0 / (|x^0|^2 sigma_w^2)].
    """
    n = 100000
    x = n * np.exp(np.array([-0.02, -0.005, 0.0, 0.005, 0.02]))  # around the median |x^1|^2 = n
    with cascades.memory_limit("1G"):
        peak = _peak(lambda: nn.relu_output_norm_cdf(x, BIG, grid_points=2**11))
    assert peak < 100e6  # measured 60 MB (the chunks of k); it was 12 GiB
    k = np.arange(1, n + 1)
    exact = stats.chi2.cdf(x[:, None] / 2.0, k) @ stats.binom.pmf(k, n, 0.5)  # 2^-n underflows
    got = nn.relu_output_norm_cdf(x, BIG, grid_points=2**11)
    # the grid step is 8e-5 in log x over a density of width 6e-3: O(h^2) error well below 1e-4
    np.testing.assert_allclose(got, exact, atol=1e-4)


def test_relu_output_norm_cdf_guards_the_grid():
    with (
        cascades.memory_limit("1G"),
        pytest.raises(cascades.MemoryLimitError, match="grid_points = 134217728"),
    ):
        nn.relu_output_norm_cdf(1.0, [10, 10, 10], grid_points=2**27)


def test_simulate_network_is_refused_before_drawing():
    """Reproducer: simulate_network('tanh', 1.5, 0.05, [100000, 100000]) asked numpy for 74.5 GiB."""
    with cascades.memory_limit("1G"), pytest.raises(cascades.MemoryLimitError) as err:
        nn.simulate_network("tanh", 1.5, 0.05, BIG)
    assert "widths = [100000, 100000]" in str(err.value) and "74.5 GiB" in str(err.value)


@pytest.mark.parametrize("kw", [{}, {"densities": 0.3}, {"n_inputs": 400, "dropout_keep": 0.5}])
def test_simulate_network_estimate_matches_the_measured_peak(kw):
    w = (1200, 1200, 1200)
    dens = None if "densities" not in kw else [kw["densities"]] * 2
    est = _simulation_peak_bytes(w, kw.get("n_inputs", 2), dens, "gaussian", "dropout_keep" in kw, True)
    nn.simulate_network("tanh", 1.5, 0.05, [20, 20, 20], densities=0.5, rng=0)  # load numba kernels first
    peak = _peak(lambda: nn.simulate_network("tanh", 1.5, 0.05, list(w), rng=0, **kw))
    assert 0.8 * peak <= est <= 1.05 * peak  # a lower bound within 20 % (measured 0.96-1.0)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: nn.gaussian_inputs(100000, 100000), "n_inputs = 100000"),
        (lambda: nn.sample_relu_norms([10, 10], n_samples=10**9), "n_samples = 1000000000"),
        (lambda: nn.ReluLayerNormLaw(10, 1.0).sample(10**9), "size = 1000000000"),
        (lambda: nn.ReluLayerNormLaw(10**16, 1.0).cdf(1.0), "n = 10000000000000000"),
        (lambda: nn.relu_norm_moments([10, 10], order=10**8), "order = 100000000"),
        (lambda: nn.looks_linear_weights([100000, 100000, 100000]), "widths = [100000, 100000, 100000]"),
        (
            lambda: nn.sparse_signal_propagation("tanh", 2.0, 0.1, [10**9, 10], 0.5),
            "widths = [1000000000, 10]",
        ),
        (
            lambda: nn.layered_cascade_sizes(FractionalThreshold(0.2), [100000, 10], 0.1, rho0=0.1),
            "widths = [100000, 10]",
        ),
        (
            lambda: nn.input_connectivity([100000] * 3, 0.1, method="exact"),
            "widths = [100000, 100000, 100000]",
        ),
        (
            lambda: nn.q_fixed_point("tanh", np.ones((100000, 1)), np.ones((1, 100000))),
            "sigma_w2, sigma_b2 broadcast to shape (100000, 100000)",
        ),
        (
            lambda: nn.covariance_map("relu", 1.0, 0.1, np.ones((100000, 1)), np.ones((1, 100000)), 0.0),
            "broadcast to shape (100000, 100000)",
        ),
        (
            lambda: nn.expect_phi_phi("relu", np.ones((100000, 1)), np.ones((1, 100000)), 0.0),
            "q11, q22, q12 broadcast",
        ),
        (lambda: nn.propagate("tanh", 1.5, 0.1, 1.0, 10**10), "depth = 10000000000"),
        (lambda: nn.q_trajectory("tanh", 1.5, 0.1, 1.0, 10**10), "depth = 10000000000"),
        (lambda: nn.gradient_norms("tanh", 1.5, 0.1, 10**10), "depth = 10000000000"),
        (lambda: nn.q_map("tanh", 1.5, 0.1, 1.0, n=10**10), "n = 10000000000"),
        (lambda: nn.chi_c("tanh", 3.0, 0.1, n2=100000), "n2 = 100000"),
        (lambda: nn.gaussian_expectation_2d(np.tanh, np.tanh, 1.0, 1.0, 0.5, n=100000), "n = 100000"),
        (lambda: draw_masks(BIG, 0.5), "architecture = [100000, 100000]"),
        (lambda: draw_masks(BIG, 0.01, in_degree_regular=True), "architecture = [100000, 100000]"),
        (lambda: recommend([2**40, 2**40]), "architecture = [1099511627776, 1099511627776]"),
        (
            lambda: signal_statistics([np.eye(3)], None, "relu", np.ones((100000, 3))),
            "inputs of shape (100000, 3)",
        ),
    ],
)
def test_allocations_proportional_to_the_input_are_guarded(call, fragment):
    with cascades.memory_limit("1G"), pytest.raises(cascades.MemoryLimitError, match="needs about") as err:
        call()
    assert fragment in str(err.value)


def test_input_connectivity_tree_needs_no_table():
    """The tree recursion has the closed form 1 - (1 - p P)^n: any width, O(L) memory."""
    with cascades.memory_limit("1G"):
        P = nn.input_connectivity([10**12] * 4, 1e-12)
    q = [1.0]
    for _ in range(3):
        q.append(1 - (1 - 1e-12 * q[-1]) ** 1e12)  # (1 - x/n)^n, evaluated naively in float64
    np.testing.assert_allclose(P, q, rtol=1e-3)  # the naive power loses about n * eps = 1e-4


@pytest.mark.parametrize(
    "what, measure, estimate",
    [
        (
            "draw_masks",
            lambda: draw_masks([2000, 2000, 2000], 0.05, rng=0),
            lambda: _masks_peak_bytes((LayerShape("linear", 2000, 2000),) * 2, [0.05, 0.05], False),
        ),
        (
            "sparse_signal_propagation",
            lambda: nn.sparse_signal_propagation("relu", 2.0, 0.1, [10**6, 10], 1.0, method="mean"),
            lambda: _propagation_peak_bytes(10**6),
        ),
        (
            "layered_cascade_sizes",
            lambda: nn.layered_cascade_sizes(FractionalThreshold(0.2), [300, 300, 300], 0.1, rho0=0.3),
            lambda: _cascade_peak_bytes([300, 300, 300], "tree"),
        ),
    ],
)
def test_memory_estimates_match_measured_peaks(what, measure, estimate):
    peak, est = _peak(measure), estimate()
    assert 0.75 * peak <= est <= 1.05 * peak, (what, peak, est)


def test_to_torch_huge_is_refused_but_meta_is_not():
    """A dense float32 weight of 1e5 x 1e5 is 40 GB; on the meta device nothing is allocated."""
    torch = pytest.importorskip("torch")
    rec = recommend(BIG, "relu", density=0.5, scheme="uniform")
    with cascades.memory_limit("1G"):
        with pytest.raises(cascades.MemoryLimitError, match="recommendation for \\[100000, 100000\\]"):
            to_torch(rec)
        model = to_torch(rec, device="meta")
        assert model[0].weight_orig.is_meta
        meta = torch.nn.Sequential(torch.nn.Linear(100000, 100000, device="meta"))
        apply_to(meta, rec)  # structure only: allowed
        with pytest.raises(cascades.MemoryLimitError, match="module Sequential"):
            masks_from(torch.nn.Sequential(torch.nn.Linear(100000, 100000, device="meta")))


def test_draw_weights_is_guarded():
    rec = recommend(BIG, "relu", density=0.5, scheme="uniform")
    masks = [np.zeros((1, 1), dtype=bool)]  # refused before the shapes are looked at
    with cascades.memory_limit("1G"), pytest.raises(cascades.MemoryLimitError, match="10000000000 weights"):
        draw_weights(rec, masks)


# -- 2. silent wrong answers ----------------------------------------------------------------


def test_depth_scales_without_a_fixed_point():
    """Reproducer: depth_scales('relu', 2.5, 0.1) gave xi_q = nan and xi_c = -4.48.

    ReLU's length map is q -> sigma_w^2 q / 2 + sigma_b^2 = 1.25 q + 0.1: above the diagonal for
    every q >= 0, so q^l grows geometrically and there is no fixed point (q* = inf). Schoenholz et
    al. define xi_q, xi_c at a fixed point: xi_q = inf (q never settles), xi_c = nan (undefined;
    -1/ln(1.25) < 0 is no depth), and the reason says so.
    """
    q = [1.0]
    for _ in range(200):
        q.append(1.25 * q[-1] + 0.1)
    assert q[-1] > 1e19  # no fixed point: the map runs away (independently of the package)
    ds = nn.depth_scales("relu", 2.5, 0.1)
    assert ds.q_star == math.inf and ds.xi_q == math.inf and math.isnan(ds.xi_c)
    assert ds.chi1 == pytest.approx(1.25, rel=1e-15)  # sigma_w^2 / 2: the gradients' growth per layer
    assert "no finite attracting fixed point" in ds.reason and "sigma_w2 = 2.5" in ds.reason
    # at sigma_w^2 = 2, sigma_b^2 = 0 every q is fixed (neutral): xi_q = inf as documented, and chi_c = 1
    ds = nn.depth_scales("relu", 2.0, 0.0)
    assert ds.xi_q == math.inf and ds.xi_c == math.inf
    # consistent with q_fixed_point and critical_point, which report q* = inf the same way
    assert nn.q_fixed_point("relu", 2.5, 0.1) == math.inf
    assert nn.critical_point("relu", sigma_b2=0.1).q_star == math.inf
    # and nothing changes where a fixed point exists (ordered ReLU: xi = -1 / ln(sigma_w^2 / 2))
    ds = nn.depth_scales("relu", [1.5, 2.5], 0.1)
    assert ds.xi_c[0] == pytest.approx(-1 / math.log(0.75), rel=1e-12) and math.isnan(ds.xi_c[1])


def test_bounded_activation_has_a_finite_fixed_point_at_any_scale():
    """tanh's q* <= sigma_w^2 + sigma_b^2 is finite; a fixed divergence cut at 1e12 reported inf.

    For large q, E[tanh(sqrt(q) z)^2] = 1 - E[sech^2] = 1 - 2 / sqrt(2 pi q) + O(q^-3/2) (the
    integral of sech^2 is 2), so q* solves q = sigma_w^2 (1 - 2 / sqrt(2 pi q)).
    """
    sw = 1e13
    q = sw
    for _ in range(50):
        q = sw * (1 - 2 / math.sqrt(2 * math.pi * q))
    assert nn.q_fixed_point("tanh", sw, 0.0) == pytest.approx(q, rel=1e-12)
    assert nn.phase_diagram("tanh", [math.sqrt(sw)], [0.0]).q_star[0, 0] == pytest.approx(q, rel=1e-9)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: nn.q_map("tanh", 1e300, 0.1, 1.0), "sigma_w2"),
        (lambda: nn.q_map("tanh", 1.0, 1e300, 1.0), "sigma_b2"),
        (lambda: nn.q_map("relu", 1.0, 0.1, 1e300), "q must"),
        (lambda: nn.q_fixed_point("tanh", 1e300, 0.1), "sigma_w2"),
        (lambda: nn.depth_scales("tanh", 1e300, 0.1), "sigma_w2"),
        (lambda: nn.c_map("tanh", 1.0, 1e300, 0.5), "sigma_b2"),
        (lambda: nn.covariance_map("relu", 1.0, 0.1, 1e300, 1e300, 1e300), "q11"),
        (lambda: nn.propagate("tanh", 1.0, 0.1, 1e300, 3), "q11"),
        (lambda: nn.q_trajectory("relu", 1.0, 0.1, 1e300, 3), "q0"),
        (lambda: nn.c_trajectory("tanh", 1.0, 0.1, 0.5, 3, q0=1e300), "q0"),
        (lambda: nn.gradient_norms("tanh", 1e300, 0.1, 3), "sigma_w2"),
        (lambda: nn.jacobian_spectrum_moments("tanh", 1e300, 0.1, 3), "sigma_w2"),
        (lambda: nn.q_map("tanh", 1.0, 0.1, 1.0, keep=1e-300), "sigma_w2 / keep"),
        (lambda: nn.phase_diagram("tanh", [1e150], [1.0]), "sigma_w"),
        (lambda: nn.sparse_signal_propagation("tanh", 1.0, 0.1, [10, 10], 0.5, q0=1e300), "q0"),
        (lambda: recommend([10, 10, 10], "tanh", q0=1e300), "q0"),
        (lambda: recommend([10, 10, 10], "tanh", sigma_w2=1e300), "sigma_w2"),
    ],
)
def test_huge_variances_are_refused_by_name(call, name):
    """Variances of 1e300 gave inf / nan with only a numpy warning; now [0, 1e100] is the range."""
    with pytest.raises(ValueError, match="1e\\+100") as err:
        call()
    assert name in str(err.value)


def test_diverging_trajectories_are_inf_or_refused():
    """ReLU with sigma_w^2 = 4 doubles q per layer: 2^l passes float64's range after 1024 layers."""
    q = nn.q_trajectory("relu", 4.0, 0.0, 1.0, 1100)
    assert q[1000] == pytest.approx(2.0**1000, rel=1e-12) and np.all(np.isinf(q[1025:]))
    with pytest.raises(ValueError, match="depth = 400.*after 333 layers"):
        nn.propagate("relu", 4.0, 0.0, 1.0, 400)  # the 2-D expectations would overflow past 1e100
    # q^2 ~ 1e100 q^1 ~ 1e200, whose square the closure needs: a named error, not an OverflowError
    with pytest.raises(ValueError, match="pre-activation variance reaches .* at layer 2"):
        nn.sparse_signal_propagation("relu", 1e100, 0.1, [10, 10, 10, 10], 0.5)


def test_relu_output_norm_cdf_at_nan_is_nan():
    """Reproducer: relu_output_norm_cdf([nan], ...) returned 0, a confident probability."""
    F = nn.relu_output_norm_cdf([np.nan, -1.0, np.inf], [10, 10])
    assert np.isnan(F[0]) and F[1] == 0.0 and F[2] == pytest.approx(1.0, abs=1e-12)
    law = nn.ReluLayerNormLaw(10, 0.5)
    assert np.isnan(law.cdf(np.nan)) and np.isnan(law.pdf(np.nan))


def _reachable_fraction(widths, p, networks, rng):
    """Monte Carlo: Erdos-Renyi masks drawn with numpy, the fraction of units with a path from the input."""
    gen = np.random.default_rng(rng)
    out = np.zeros((networks, len(widths)))
    for r in range(networks):
        reach = np.ones(widths[0], dtype=bool)
        out[r, 0] = 1.0
        for l in range(1, len(widths)):
            mask = gen.random((widths[l], widths[l - 1])) < p
            reach = (mask.astype(np.int64) @ reach.astype(np.int64)) > 0
            out[r, l] = reach.mean()
    return out


def test_input_connectivity_is_a_probability():
    """Reproducer: input_connectivity([500] * 6, 0.5) was [1, 1, nan, nan, nan, nan].

    A unit is unreachable with probability 2^-250 per layer here: a Monte Carlo over numpy masks
    reaches every unit, and so must the theory (1.0000000000000002 made binom.pmf nan).
    """
    mc = _reachable_fraction([500] * 6, 0.5, 3, rng=0)
    assert np.all(mc == 1.0)
    for method in ("tree", "exact"):
        P = nn.input_connectivity([500] * 6, 0.5, method=method)
        assert np.all(P == 1.0), (method, P)
    rho = nn.layered_cascade_sizes(AbsoluteThreshold(1), [500] * 6, 0.5, rho0=1.0, method="exact")
    assert np.all(rho == 1.0)


def test_input_connectivity_exact_against_monte_carlo():
    """The exact chain is the mean reachable fraction of finite ER networks: Monte Carlo with
    400 networks of widths [60] * 5 at p = 0.03 (about 1.8 inputs per unit), tolerance 4.5
    standard errors of the mean per layer."""
    widths, p, R = [60] * 5, 0.03, 400
    mc = _reachable_fraction(widths, p, R, rng=1)
    P = nn.input_connectivity(widths, p, method="exact")
    se = mc.std(axis=0, ddof=1) / math.sqrt(R)
    assert np.all(np.abs(mc.mean(axis=0) - P) <= 4.5 * se + 1e-12), (mc.mean(axis=0), P, se)
    assert np.all((P >= 0) & (P <= 1))


# -- 3. misleading errors -------------------------------------------------------------------


def test_layer_densities_of_huge_layers():
    """Reproducer: layer_densities([2**40, 2**40], 0.5) said "overrides keep 0 weights" (int64
    wrap-around of 2^80 to 0); the counts are Python ints now."""
    assert LayerShape("linear", 2**40, 2**40).n_weights == 2**80
    assert LayerShape("conv2d", 2**30, 2**30, (2**10, 2**10)).fan_in == 2**50
    np.testing.assert_array_equal(layer_densities([2**40, 2**40], 0.5), [0.5])
    with cascades.memory_limit("1G"), pytest.raises(cascades.MemoryLimitError, match="architecture"):
        draw_masks([2**40, 2**40], 0.5)  # and drawing such masks is refused by name


def _rec():
    return recommend([8, 16, 4], "relu", density=0.5, scheme="uniform")


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: recommend(None), "architecture must be"),
        (lambda: recommend(3), "architecture must be"),
        (lambda: draw_weights(None, []), "recommendation must be"),
        (lambda: draw_weights(_rec(), None), "masks must be"),
        (lambda: layer_densities([3, 3], 0.5, overrides=3), "overrides must be"),
        (lambda: draw_masks([3, 3], None), "densities must be"),
        (lambda: signal_statistics(None, None, "relu", [[1.0]]), "weights must be"),
        (lambda: Recommendation.from_json(None), "text must be"),
        (lambda: train_comparison(3, progress=False), "widths must be"),
        (lambda: train_comparison(inits=3, progress=False), "inits must be"),
        (lambda: train_comparison(model=3, progress=False), "model must be a callable"),
    ],
)
def test_wrong_kinds_of_objects_are_type_errors(call, fragment):
    with pytest.raises(TypeError, match=fragment):
        call()


def test_from_json_names_what_is_missing():
    with pytest.raises(ValueError, match="missing activation"):
        Recommendation.from_json('{"layers": []}')


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda torch: to_torch(None), "recommendation must be"),
        (lambda torch: to_torch(3), "recommendation must be"),
        (lambda torch: apply_to(None, _rec()), "module must be a torch.nn.Module"),
        (lambda torch: apply_to(torch.nn.Linear(8, 16), None), "recommendation must be"),
        (lambda torch: masks_from(3), "module must be a torch.nn.Module"),
        (lambda torch: read_module(3), "module must be a torch.nn.Module"),
        (lambda torch: save_torch(None, "x.pt"), "model must be a torch.nn.Module"),
        (lambda torch: save_torch(torch.nn.Linear(2, 2), None), "path must be"),
        (lambda torch: save_torch(torch.nn.Linear(2, 2), "x.pt", recommendation=3), "recommendation must be"),
        (lambda torch: load_torch(None), "path must be"),
        (lambda torch: load_torch("x.pt", model=3), "model must be"),
    ],
)
def test_torch_wrong_kinds_of_objects_are_type_errors(call, fragment):
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=fragment):
        call(torch)


def test_to_torch_bad_device_is_a_value_error():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="device must be"):
        to_torch(_rec(), device="nodev")


def test_save_torch_bad_paths_name_the_path(tmp_path):
    """Reproducer: `recommend --torch-out /no/such/dir/x.pt` printed a traceback; save_torch named only
    its temporary file. Now the missing directory is an OSError naming the path, before any work."""
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(3, 2)
    missing = str(tmp_path / "no" / "such" / "x.pt")
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        save_torch(model, missing)
    assert missing in str(err.value) and isinstance(err.value, OSError)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save_torch(model, tmp_path)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_torch(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left
    path = save_torch(model, tmp_path / "ok.pt")
    assert torch.equal(load_torch(path, torch.nn.Linear(3, 2)).weight, model.weight)


@pytest.mark.parametrize("sigma_b2", [8.6e-142, 1e-300, 5e-324])
@pytest.mark.parametrize("sigma_w2", [0.0, 0.5, 1.0])
def test_tiny_bias_variances_converge_to_the_closed_form(sigma_w2, sigma_b2):
    # Found by tests/test_properties.py: bisection from [sigma_b2, 1] needed ~470 halvings; the bracket
    # is now bisected in log scale. ReLU: q* = sigma_b^2 / (1 - sigma_w^2 / 2) (Poole et al. 2016, eq. 3).
    expected = sigma_b2 / (1 - sigma_w2 / 2)
    assert nn.q_fixed_point("relu", sigma_w2, sigma_b2) == pytest.approx(expected, rel=1e-12)
    assert nn.q_fixed_point("relu", np.array([sigma_w2, 1.2]), sigma_b2)[0] == pytest.approx(
        expected, rel=1e-12
    )
    assert nn.q_fixed_point("tanh", 0.0, sigma_b2) == sigma_b2


def test_critical_point_q_star_beyond_the_variance_bound_is_refused_by_name():
    # Found by the slow property profile: erf at q* = 5.9e204 overflowed with only a numpy warning.
    for call in (
        lambda: nn.critical_point("erf", q_star=5.9e204),
        lambda: nn.edge_of_chaos("erf", [1.0, 1e200]),
        lambda: nn.critical_point("tanh", sigma_b2=1e300),
    ):
        with pytest.raises(ValueError, match="q_star|sigma_b2"):
            call()
    assert nn.critical_point("erf", q_star=1e100).sigma_w2 > 0  # the bound itself is fine


def test_n_inputs_beyond_the_input_width_names_the_width():
    with pytest.raises(ValueError, match=r"n_inputs must be at most the input width n_0 = 1"):
        nn.simulate_network("relu", 2.0, 0.0, [1, 1])


def test_simulate_network_refuses_variances_that_overflow_its_statistics():
    # Found by the slow property profile: sigma_b2 = 8e153 overflowed np.std of the squared
    # pre-activations with only a numpy warning; a signal growing past 1e100 now names its layer.
    with pytest.raises(ValueError, match="sigma_b2"):
        nn.simulate_network("relu", 0.0, 8e153, [2, 2], rng=0)
    with pytest.raises(ValueError, match="q0"):
        nn.simulate_network("relu", 2.0, 0.0, [2, 2], q0=1e300, rng=0)
    with pytest.raises(ValueError, match="layer 2 .* use at most 1 layers"):
        nn.simulate_network("relu", 1e99, 0.1, [5, 5, 5, 5], rng=0)


def test_relu_output_norm_cdf_never_passes_one():
    # Found by the slow property profile: the quadrature's mass reached 1 + 1e-12.
    values = nn.relu_output_norm_cdf([0.5, 1.0, 2.0, 100.0], [1, 48, 2], 0.125)
    assert np.all(values <= 1.0) and values[-1] == 1.0


def test_relu_output_norm_cdf_refuses_hours_of_work_by_name():
    # Found by the slow property profile: widths [2**31, 2**31] ran for ~50 minutes (memory was bounded,
    # time was not).
    with pytest.raises(ValueError, match=r"widths = \[2147483648, 2147483648\] with grid_points = 16384"):
        nn.relu_output_norm_cdf([1.0], [2**31, 2**31], 2.0)


def test_sparse_signal_propagation_at_vanishing_densities():
    # Found by the slow property profile: density 1e-300 gave inf * 0 = nan, and 1.1e-308 an
    # OverflowError inside scipy's binomial pmf.
    for density in (1e-300, 1.1e-308):
        with pytest.raises(ValueError, match=r"densities must be a finite number in \[1e-100, 1\]"):
            nn.sparse_signal_propagation("relu", 1.0, 0.0, [2, 1], density)
    with pytest.raises(ValueError, match="sigma_w2 = 1e\\+100: the pre-activation variance reaches"):
        nn.sparse_signal_propagation("relu", 1e100, 0.0, [10**6, 1], 1e-100)


def test_subnormal_q_star_is_refused_by_name():
    # Found by the slow property profile: hardtanh's E[phi^2] and sigmoid's boundary search overflowed
    # at q* = 5e-324 with only numpy warnings.
    for act in ("hardtanh", "sigmoid"):
        with pytest.raises(ValueError, match=r"q_star must be a finite number in \[1e-100, 1e\+100\]"):
            nn.critical_point(act, q_star=5e-324)
        with pytest.raises(ValueError, match="q_star must hold fixed points"):
            nn.edge_of_chaos(act, [1.0, 5e-324])


def test_integer_arrays_beyond_int64_are_refused_not_wrapped():
    # Found by the slow property profile: widths = [2**63 - 1, 0.0] (a float array) cast with a numpy
    # warning; a uint64 2**64 - 1 wrapped to -1 silently.
    with pytest.raises(ValueError, match="widths must hold integers >= 1 within int64"):
        nn.input_connectivity([2**63 - 1, 0.0], 0.5)
    with pytest.raises(ValueError, match="within int64"):
        nn.relu_output_norm_cdf([1.0], np.array([2**64 - 1, 3], dtype=np.uint64))
