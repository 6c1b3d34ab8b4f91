"""Tests of cascades.bridge (numpy side): density schemes, masks, recommend, JSON, warnings, bad input."""

import math

import numpy as np
import pytest
from scipy import special

from cascades.bridge import (
    SCHEMES,
    LayerShape,
    Recommendation,
    draw_masks,
    layer_densities,
    parse_architecture,
    recommend,
)
from cascades.nn import critical_weight_variance, input_connectivity, q_fixed_point, sparse_signal_propagation

MLP = [784, 300, 100, 10]
CONV = [("conv2d", 3, 16, 3, 3), ("conv2d", 16, 32, 3, 3), ("linear", 32 * 8 * 8, 100), ("linear", 100, 10)]


def _N(arch):
    return np.array([s.n_weights for s in parse_architecture(arch)], dtype=float)


@pytest.mark.parametrize("arch", [MLP, CONV, [20, 500, 500, 500, 3]])
@pytest.mark.parametrize("scheme", ["uniform", "erk", "balanced", "pyramidal", "set"])
@pytest.mark.parametrize("p", [0.01, 0.1, 0.5, 0.9])
def test_schemes_meet_overall_density(arch, scheme, p):
    dens = layer_densities(arch, p, scheme)
    N = _N(arch)
    assert abs(dens @ N - p * N.sum()) <= 1e-9 * N.sum()
    assert np.all(dens > 0) and np.all(dens <= 1.0)


def test_uniform_and_density_one():
    assert np.all(layer_densities(MLP, 0.3, "uniform") == 0.3)
    for scheme in SCHEMES:
        assert np.all(layer_densities(MLP, 1.0, scheme) == 1.0)


def test_erk_formula_and_redistribution():
    dens = layer_densities(MLP, 0.1, "erk")
    # the small last layer saturates and is made dense; the others follow eps (n_in + n_out)/(n_in n_out)
    assert dens[2] == 1.0
    eps0 = dens[0] / ((784 + 300) / (784 * 300))
    eps1 = dens[1] / ((300 + 100) / (300 * 100))
    assert eps0 == pytest.approx(eps1, rel=1e-12)
    # conv: ERK uses the kernel dims
    dens = layer_densities(CONV, 0.05, "erk")
    shapes = parse_architecture(CONV)
    free = dens < 1
    eps = dens[free] / np.array([sum(s.weight_shape) / np.prod(s.weight_shape) for s in shapes])[free]
    assert np.allclose(eps, eps[0], rtol=1e-12)


def test_balanced_and_pyramidal_structure():
    dens = layer_densities([20, 500, 500, 500, 3], 0.1, "balanced")
    N = _N([20, 500, 500, 500, 3])
    kept = dens * N
    assert np.allclose(kept[dens < 1], kept[dens < 1][0])
    dens = layer_densities(MLP, 0.1, "pyramidal")
    r = dens[0]
    assert np.allclose(dens, r ** np.arange(1, 4), rtol=1e-12)


def test_set_epsilon_and_overrides():
    dens = layer_densities(MLP, 0.1, "set", epsilon=20)
    assert dens[0] == pytest.approx(20 * (784 + 300) / (784 * 300))
    dens = layer_densities(MLP, 0.1, "erk", overrides={0: 0.05})
    N = _N(MLP)
    assert dens[0] == 0.05
    assert abs(dens @ N - 0.1 * N.sum()) <= 1e-9 * N.sum()


def test_layer_shape_fans():
    s = LayerShape("conv2d", 3, 16, (5, 3))
    assert (s.fan_in, s.fan_out, s.weight_shape) == (45, 240, (16, 3, 5, 3))


@pytest.mark.parametrize("p", [0.02, 0.3])
def test_draw_masks_density_within_binomial_se(p):
    arch = [200, 300, 100, 10]
    dens = layer_densities(arch, p, "erk")
    masks = draw_masks(arch, dens, rng=1)
    for m, q, s in zip(masks, dens, parse_architecture(arch), strict=True):
        assert m.shape == s.weight_shape and m.dtype == bool
        n = m.size
        se = math.sqrt(q * (1 - q) / n)
        assert abs(m.mean() - q) <= 5 * se + 1e-12


def test_draw_masks_conv_shapes_reproducible_regular_and_flow():
    dens = layer_densities(CONV, 0.1, "erk")
    a = draw_masks(CONV, dens, rng=3)
    b = draw_masks(CONV, dens, rng=3)
    assert all(x.shape == s.weight_shape for x, s in zip(a, parse_architecture(CONV), strict=True))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    reg = draw_masks([100, 50, 40], [0.1, 0.2], rng=0, in_degree_regular=True)
    assert set(reg[0].sum(axis=1)) == {10} and set(reg[1].sum(axis=1)) == {10}
    flow = draw_masks([100, 50, 40], 0.005, rng=0, flow_preserving=True)
    for m in flow:
        assert m.any(axis=1).all() and m.any(axis=0).all()


def test_recommend_relu_std_and_predictions():
    rec = recommend(MLP, "relu", density=0.1)
    assert rec.sigma_w2 == 2.0 and rec.q_star == 2.0 and rec.point == "critical"
    hidden, out = rec.layers[:-1], rec.layers[-1]
    for lay in rec.layers:
        std = math.sqrt(lay.sigma_w2 / (lay.density * lay.fan_in))
        assert lay.weight_std == pytest.approx(std, rel=1e-12)
        assert lay.bias_std == 0.0
        assert lay.expected_in_degree == pytest.approx(lay.density * lay.fan_in)
        assert lay.dead_fraction == pytest.approx((1 - lay.density) ** lay.fan_in)
    for lay in hidden:  # He et al. 2015 (first layer included), chi_1 = 1, q = q*
        assert lay.sigma_w2 == 2.0 and lay.chi1 == pytest.approx(1.0) and lay.q == 2.0
        assert lay.activation == "relu" and not lay.readout
    # read-out: logits of variance 1, E[relu(sqrt(2) z)^2] = 1 -> sigma_w^2 = 1
    assert out.readout and out.activation is None and out.sigma_w2 == pytest.approx(1.0) and out.q == 1.0
    assert math.isnan(out.chi1)
    assert [lay.fan_out for lay in rec.layers] == [300, 100, 10]
    assert rec.achieved_density == pytest.approx(0.1, rel=1e-12)
    assert rec.depth_scale == math.inf and rec.trainable_depth == math.inf
    assert rec.warnings == () and rec.notes == ()
    # the spread of q and the connectivity agree with the library's own sparse propagation
    st = sparse_signal_propagation("relu", 2.0, 0.0, MLP[:3], rec.densities[:2])
    assert np.allclose([lay.q for lay in hidden], [s.q_mean for s in st], rtol=1e-10)
    assert np.allclose([lay.q_std for lay in hidden], [s.q_std for s in st], rtol=1e-10)
    P = input_connectivity(MLP, rec.densities)
    assert np.allclose([lay.p_connected_to_input for lay in rec.layers], P[1:], rtol=1e-12)


def test_recommend_tanh_critical_and_per_neuron():
    rec = recommend([50, 40, 30], "tanh", density=0.5, scheme="uniform", sigma_b2=0.05, per_neuron=True,
                    readout=False)
    sw2 = critical_weight_variance("tanh", 0.05)  # brentq on chi_1(q*(sigma_w^2)) = 1: another route
    assert rec.sigma_w2 == pytest.approx(sw2, rel=1e-8)
    assert rec.chi1 == pytest.approx(1.0, abs=1e-9)
    assert rec.q_star == pytest.approx(q_fixed_point("tanh", sw2, 0.05), rel=1e-8)
    assert all(lay.init_rule == "neuron" for lay in rec.layers)
    assert [lay.bias_std for lay in rec.layers] == pytest.approx([math.sqrt(0.05)] * 2)
    # first layer: inputs of mean square q0 = 1 are mapped to q*
    lay0 = rec.layers[0]
    assert lay0.sigma_w2 * 1.0 + lay0.sigma_b2 == pytest.approx(rec.q_star, rel=1e-12)
    assert [lay.q for lay in rec.layers] == pytest.approx([rec.q_star] * 2, rel=1e-12)
    st = sparse_signal_propagation("tanh", lay0.sigma_w2, 0.05, [50, 40], 0.5, scaling="neuron")
    assert lay0.q_std == pytest.approx(st[0].q_std, rel=1e-10)


def test_json_round_trip_and_table():
    rec = recommend(CONV, "relu", density=0.05, scheme="balanced", sigma_b2=0.0)
    back = Recommendation.from_json(rec.to_json())
    assert back == rec
    rec2 = recommend([30, 20, 10], "tanh", 0.5, "set", sigma_w2=3.0, epsilon=2.0)
    assert Recommendation.from_json(rec2.to_json()) == rec2
    text = str(rec)
    assert "fan_in" in text and "conv2d" in text and len(text.splitlines()) >= 1 + 1 + len(rec.layers)


def test_warnings_fire():
    rec = recommend([1000, 1000, 1000, 10], "relu", density=0.002, scheme="uniform")
    # one warning per in-degree and threshold, naming its layers
    assert any("connectivity threshold" in w and w.startswith("layers 0-1:") for w in rec.warnings)
    assert sum("connectivity threshold" in w for w in rec.warnings) == 2  # ln(1000) for 0-1, ln(10) for 2
    # orthogonal weights on masks too thin for an isometry; SELU's LeCun point explained
    ortho = recommend([784] + [256] * 6 + [10], "relu", density=0.02, weights="orthogonal")
    assert any(w.startswith("orthogonal weights on layers 1-5") for w in ortho.warnings)
    assert any("LeCun" in n for n in recommend([784, 256, 10], "selu").notes)
    assert any("output layer" in w for w in rec.warnings)
    assert any("chaotic" in w for w in recommend([10, 10, 10], "tanh", sigma_w2=4.0).warnings)
    assert any("ordered" in w for w in recommend([10, 10, 10], "tanh", sigma_w2=0.5, sigma_b2=0.1).warnings)
    rec = recommend(MLP, "relu", 0.1, "set", epsilon=1.0)
    assert any("overall density not met" in w for w in rec.warnings)
    deep = recommend([10] * 30, "tanh", sigma_w2=1.0, sigma_b2=0.05)  # 6 xi_c ~ 21.8
    assert any("trainable depth" in w for w in deep.warnings)


@pytest.mark.parametrize("density", [0.0, -0.1, 1.5, float("nan")])
def test_bad_density(density):
    with pytest.raises(ValueError, match="density"):
        recommend(MLP, density=density)
    with pytest.raises(ValueError, match="density"):
        layer_densities(MLP, density)


def test_bad_input():
    with pytest.raises(ValueError, match="scheme"):
        recommend(MLP, density=0.1, scheme="magic")
    with pytest.raises(ValueError, match="activation"):
        recommend(MLP, activation="nope")
    with pytest.raises(ValueError, match="widths"):
        recommend([784, 0, 10])
    with pytest.raises(ValueError, match="architecture"):
        recommend([("dense", 3, 4)])
    with pytest.raises(ValueError, match="connected topology"):
        recommend([1000, 1000, 1000], density=1e-4)
    with pytest.raises(ValueError, match="epsilon"):
        layer_densities(MLP, 0.1, "erk", epsilon=3)
    with pytest.raises(ValueError, match="overrides"):
        layer_densities(MLP, 0.01, "erk", overrides={0: 0.5})
    with pytest.raises(ValueError, match="densities"):
        draw_masks(MLP, [0.1, 0.2], rng=0)


def test_in_degree_regular_recommendation_uses_exact_in_degree():
    rec = recommend([100, 50, 40], "relu", density=0.104, scheme="uniform", in_degree_regular=True)
    lay = rec.layers[0]
    assert lay.expected_in_degree == 10 and lay.dead_fraction == 0.0
    assert lay.weight_std == pytest.approx(math.sqrt(2 / 10))


@pytest.mark.parametrize("widths", [[784, 0, 10], [0, 10], [10, 10, 0], [10, -3, 10], [10, 2.5, 3], [10]])
def test_bad_widths_name_the_parameter(widths):
    with pytest.raises(ValueError, match="widths|architecture"):
        recommend(widths)
    with pytest.raises(ValueError, match="widths|architecture"):
        draw_masks(widths, 0.5, rng=0)


def test_bad_density_for_draw_masks_and_unknown_weights():
    for bad in (0.0, 1.2, -1.0):
        with pytest.raises(ValueError, match="densities"):
            draw_masks([10, 10], bad, rng=0)
    with pytest.raises(ValueError, match="weights"):
        recommend([10, 10], weights="xavier")


# --------------------------------------------------------------------------------------------
# the operating point: header and table agree, and a wide network stays there
# --------------------------------------------------------------------------------------------

ACTS = ["relu", "leaky_relu", "linear", "tanh", "erf", "sigmoid", "hardtanh", "gelu", "silu", "selu", "elu",
        "gelu_tanh"]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("q_star", [None, 0.5, 2.0, 10.0])
def test_header_and_table_agree(act, q_star):
    from cascades.nn import available_activations, expect_dphi_sq, expect_phi_sq

    if act not in available_activations():
        pytest.skip(f"{act} not in the registry")
    rec = recommend([64, 128, 128, 128, 10], act, q_star=q_star)
    hidden = [lay for lay in rec.layers if not lay.readout]
    assert rec.point == "critical" and rec.kind in ("stable", "neutral", "unstable")
    assert (rec.kind == "unstable") == any("unstable" in w for w in rec.notes + rec.warnings)
    for lay in hidden:  # every hidden layer at the header's q* with the header's chi_1
        assert lay.q == rec.q_star and lay.chi1 == pytest.approx(rec.chi1, abs=1e-12)
    assert rec.chi1 == pytest.approx(1.0, abs=1e-9)
    # the mean-field maps, layer by layer, from inputs of mean square q0 = 1
    q = rec.layers[0].sigma_w2 * rec.q0 + rec.layers[0].sigma_b2
    assert q == pytest.approx(rec.q_star, rel=1e-12)
    for lay in rec.layers[1:]:
        q = lay.sigma_w2 * float(expect_phi_sq(act, q)) + lay.sigma_b2
        assert q == pytest.approx(lay.q, rel=1e-9)
    out = rec.layers[-1]
    assert out.readout and out.q == pytest.approx(rec.readout_variance) and out.sigma_b2 == 0.0
    assert rec.sigma_w2 * float(expect_dphi_sq(act, rec.q_star)) == pytest.approx(rec.chi1, rel=1e-12)
    # the printed header carries the same numbers as the table
    text = str(rec)
    assert f"q* = {rec.q_star:.6g}" in text and f"chi_1 = {rec.chi1:.6g}" in text
    if q_star is not None and not rec.notes:
        assert rec.q_star == q_star


def test_header_never_claims_criticality_the_layers_lack():
    # tanh at sigma_b^2 = 0: the only critical point is q* = 0; the layers are ordered and say so
    rec = recommend([784, 300, 100, 10], "tanh", sigma_b2=0.0)
    assert rec.point == "trajectory" and rec.kind == "degenerate" and math.isnan(rec.chi1)
    chis = [lay.chi1 for lay in rec.layers if not lay.readout]
    assert max(chis) < 0.8 and "chi_1 = 1" not in str(rec).splitlines()[1]
    assert any("no critical point at a finite q*" in w for w in rec.warnings)
    qs = [lay.q for lay in rec.layers[:-1]]
    assert qs[1] < qs[0]  # q decays towards 0
    with pytest.raises(ValueError, match="no critical point with sigma_b2 = 0"):
        recommend([784, 300, 100, 10], "gelu", sigma_b2=0.0)
    # an unstable target is kept by default while its drift over the hidden layers stays <= 20 ...
    rec = recommend([784] + [256] * 5 + [10], "gelu")
    assert rec.kind == "unstable" and rec.q_star == 1.0 and rec.q_slope == pytest.approx(1.067, abs=1e-3)
    assert any("grows by that factor" in n and "x1.3" in n for n in rec.notes) and not rec.warnings
    # ... moved beyond (SiLU, 39 hidden layers: 1.099^39 = 40) ...
    deep = [784] + [256] * 40 + [10]
    rec = recommend(deep, "silu")
    assert rec.kind == "stable" and rec.q_star == pytest.approx(25.16, rel=1e-3)
    assert any("x40" in n and "moved" in n for n in rec.notes)
    # ... kept on request with a warning, or moved on request with a note
    rec = recommend(deep, "silu", stability="keep")
    assert rec.kind == "unstable" and any("x40" in w for w in rec.warnings)
    rec = recommend([784] + [256] * 5 + [10], "gelu", stability="nearest")
    assert rec.kind == "stable" and rec.q_star > 4 and rec.notes and "moved" in rec.notes[0]
    assert not any("unstable" in w for w in rec.warnings)
    with pytest.raises(ValueError, match="stability"):
        recommend([784, 10], stability="sometimes")
    # SELU at its self-normalising LeCun point: a fixed point at q* = 1, mildly chaotic, said so
    rec = recommend([784, 256, 256, 10], "selu", sigma_w2=1.0, sigma_b2=0.0)
    assert rec.point == "fixed" and rec.q_star == pytest.approx(1.0, abs=1e-6)
    assert rec.chi1 == pytest.approx(1.0717, abs=2e-4) and any("chaotic" in w for w in rec.warnings)


_PHI = {
    "tanh": np.tanh,
    "gelu": lambda x: x * special.ndtr(x),
    "silu": lambda x: x * special.expit(x),
}


@pytest.mark.parametrize("act,stability", [("tanh", "keep"), ("gelu", "keep"), ("gelu", "nearest"),
                                           ("silu", "keep"), ("silu", "nearest")])
def test_wide_network_stays_at_q_star(act, stability):
    """30 layers of width 1000 drawn by draw_weights keep q^l within 5 sigma of q*.

    sigma_l is the finite-width prediction of the linearised length map: given layer l - 1, the
    pre-activations of layer l are iid N(0, v_l) with v_l = sigma_w^2 m_{l-1} + sigma_b^2 and
    m_{l-1} = mean_j phi(h_j)^2, so dv_l = s dv_{l-1} + sigma_w^2 eps with Var(eps) =
    Var(phi(sqrt(q*) z)^2) / n and s the length map's slope at q*; the measured
    q^l = mean_j h_j^2 = v_l chi^2_n / n adds 2 q*^2 / n. v_1 = q* exactly for an input of exact norm.
    At a stable point (s <= 0.99) sigma_30 stays within ~5 times the one-layer noise; at the unstable
    points GELU and SiLU keep at q* = 1 by default (s = 1.067, 1.099) the prediction grows like s^l
    and the measured spread has to follow it.
    """
    from cascades.bridge import draw_weights
    from cascades.nn import gaussian_expectation

    n, depth = 1000, 30
    rec = recommend([n] * (depth + 1), act, readout=False, stability=stability)
    assert rec.kind == ("unstable" if act != "tanh" and stability == "keep" else "stable")
    qs, sw2, s = rec.q_star, rec.sigma_w2, rec.q_slope
    phi = _PHI[act]
    m2 = float(gaussian_expectation(lambda x: phi(x) ** 2, qs))
    V = float(gaussian_expectation(lambda x: phi(x) ** 4, qs)) - m2 * m2
    var_v = np.zeros(depth)
    for l in range(1, depth):
        var_v[l] = s * s * var_v[l - 1] + sw2 * sw2 * V / n
    sigma = np.sqrt(var_v + 2 * qs * qs / n)
    if rec.kind == "stable":
        assert sigma[-1] <= 6 * sigma[1]
    masks = draw_masks(rec.shapes, rec.densities, rng=0)
    for seed in range(2):
        ws, bs = draw_weights(rec, masks, rng=seed)
        x = np.random.default_rng(100 + seed).standard_normal(n)
        x *= math.sqrt(n * rec.q0) / np.linalg.norm(x)  # mean square exactly q0
        for l, (w, b) in enumerate(zip(ws, bs, strict=True)):
            h = w @ x + b
            q = float(np.mean(h * h))
            assert abs(q - qs) <= 5 * sigma[l], (act, seed, l, q, qs, sigma[l])
            x = phi(h)
