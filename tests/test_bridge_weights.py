"""Tests of cascades.bridge.weights (orthogonal weights, approximate isometry on a mask) and the
orthogonal recommendation's Jacobian predictions, against closed forms, invariants and seeded networks."""

import math

import numpy as np
import pytest

from cascades.bridge import (
    Recommendation,
    approximate_isometry,
    draw_masks,
    draw_weights,
    jacobian_singular_values,
    orthogonal_matrix,
    orthogonality_defect,
    recommend,
    signal_statistics,
)
from cascades.nn import gaussian_inputs, jacobian_spectrum_moments, q_fixed_point, sparse_signal_propagation


@pytest.mark.parametrize("shape", [(7, 7), (3, 9), (9, 3)])
def test_orthogonal_matrix_is_orthonormal_and_reproducible(shape):
    q = orthogonal_matrix(*shape, rng=1)
    assert q.shape == shape
    g = q @ q.T if shape[0] <= shape[1] else q.T @ q
    assert np.allclose(g, np.eye(min(shape)), atol=1e-12)
    assert np.array_equal(q, orthogonal_matrix(*shape, rng=1))
    assert not np.array_equal(q, orthogonal_matrix(*shape, rng=2))


def test_orthogonal_matrix_sign_correction_gives_haar():
    # Haar: Q[0, 0] is symmetric about 0 with E[Q00^2] = 1/3 for 3 x 3. Without the sign correction
    # LAPACK's Householder QR makes Q[0, 0] = -|a_00| / |a_0| < 0 always (mean about -0.5).
    gen = np.random.default_rng(0)
    n = 4000
    v = np.array([orthogonal_matrix(3, 3, rng=gen)[0, 0] for _ in range(n)])
    se = math.sqrt(1 / 3 / n)  # sd of the sample mean
    assert abs(v.mean()) <= 5 * se
    # Var(Q00^2) = E[Q00^4] - 1/9 = 3/15 - 1/9 for a uniform unit vector in R^3
    assert abs((v**2).mean() - 1 / 3) <= 5 * math.sqrt((3 / 15 - 1 / 9) / n)


def test_orthogonality_defect_closed_forms():
    assert orthogonality_defect(np.eye(5)) == 0.0
    assert orthogonality_defect(np.diag([1.0, 1.0, 1.0, 0.0])) == pytest.approx(0.5, abs=1e-15)
    # rms of s_i^2 - 1 for s = (2, 1): sqrt((9 + 0) / 2)
    assert orthogonality_defect(np.diag([2.0, 1.0])) == pytest.approx(math.sqrt(4.5), rel=1e-14)
    with pytest.raises(ValueError, match="weight"):
        orthogonality_defect(np.ones(3))


@pytest.mark.parametrize("shape,p", [((60, 60), 0.5), ((40, 90), 0.4), ((90, 40), 0.4)])
def test_approximate_isometry_respects_mask_and_reduces_defect(shape, p):
    mask = np.random.default_rng(3).random(shape) < p
    start = approximate_isometry(mask, steps=0, rng=5)
    w = approximate_isometry(mask, rng=5)
    assert np.all(w[~mask] == 0) and np.all(start[~mask] == 0)
    assert np.linalg.norm(start, 2) == pytest.approx(1.0, rel=1e-12)  # start: spectral norm 1
    before, after = orthogonality_defect(start), orthogonality_defect(w)
    assert before > 0.5
    assert after < 0.05 and after < before / 10
    s = np.linalg.svd(w, compute_uv=False)[: min(shape)]
    assert s.min() > 0.9 and s.max() < 1.1
    assert np.array_equal(w, approximate_isometry(mask, rng=5))  # deterministic given rng


def test_approximate_isometry_conv_mask_and_bad_input():
    mask = np.random.default_rng(0).random((8, 4, 3, 3)) < 0.6
    w = approximate_isometry(mask, rng=0)
    assert w.shape == mask.shape and np.all(w[~mask] == 0)
    assert orthogonality_defect(w.reshape(8, -1)) < 0.1
    with pytest.raises(ValueError, match="step_size"):
        approximate_isometry(mask, step_size=2.0)
    with pytest.raises(ValueError, match="steps"):
        approximate_isometry(mask, steps=-1)
    with pytest.raises(ValueError, match="mask"):
        approximate_isometry(np.ones(4, dtype=bool))


def test_dense_orthogonal_layers_singular_value_convention():
    # square: all sigma_w; wide (out < in): out values sigma_w; tall: in values sigma_w sqrt(out / in)
    rec = recommend([30, 30, 12, 40], "tanh", sigma_b2=0.05, weights="orthogonal")
    sw = [math.sqrt(lay.sigma_w2) for lay in rec.layers]  # each layer's own sigma_w^2
    ws, _ = draw_weights(rec, draw_masks(rec.shapes, 1.0, rng=0), rng=0)
    s = [np.linalg.svd(w, compute_uv=False) for w in ws]
    assert np.allclose(s[0], sw[0], rtol=1e-12)
    assert np.allclose(s[1], sw[1], rtol=1e-12)
    assert np.allclose(s[2][:12], sw[2] * math.sqrt(40 / 12), rtol=1e-12)
    for w, lay in zip(ws, rec.layers, strict=True):  # mean squared entry sigma_w^2 / fan_in, as Gaussian
        assert np.mean(w**2) == pytest.approx(lay.weight_std**2, rel=1e-12)


def test_masked_orthogonal_layers_scale_and_mask():
    rec = recommend([50, 50, 50], "relu", density=0.4, scheme="uniform", weights="orthogonal")
    masks = draw_masks(rec.shapes, rec.densities, rng=1)
    ws, bs = draw_weights(rec, masks, rng=2)
    for w, m, lay in zip(ws, masks, rec.layers, strict=True):
        assert np.all(w[~m] == 0)
        assert np.mean(w[m] ** 2) == pytest.approx(lay.weight_std**2, rel=1e-12)
        s = np.linalg.svd(w, compute_uv=False) / math.sqrt(lay.sigma_w2)
        assert s.min() > 0.85 and s.max() < 1.15
    # Gaussian draws on the same mask are far from isometric
    wg, _ = draw_weights(rec, masks, rng=2, weights="gaussian")
    assert orthogonality_defect(wg[0] / math.sqrt(2)) > 10 * orthogonality_defect(ws[0] / math.sqrt(2))
    with pytest.raises(ValueError, match="weights"):
        draw_weights(rec, masks, rng=0, weights="uniform")
    with pytest.raises(ValueError, match="masks"):
        draw_weights(rec, masks[:1], rng=0)


def test_recommend_orthogonal_predictions_closed_forms():
    L = 3
    g = recommend([100, 100, 100, 100], "relu", readout=False)
    o = recommend([100, 100, 100, 100], "relu", weights="orthogonal", readout=False)
    # ReLU at chi_1 = 1: mu_1 = 1/2, mu_2 = 1/4 -> variance L (1 - 1 - s1) ... = 2L (Gaussian), L (orthogonal)
    assert (g.jacobian_mean, g.jacobian_variance) == (1.0, 2.0 * L)
    assert (o.jacobian_mean, o.jacobian_variance) == (1.0, 1.0 * L)
    assert o.weights == "orthogonal" and g.weights == "gaussian"
    t = recommend([40] * 6, "tanh", sigma_b2=0.05, weights="orthogonal", readout=False)
    jm = jacobian_spectrum_moments("tanh", t.sigma_w2, 0.05, 5, weights="orthogonal")
    # the first layer maps q0 = 1 to q*: its factor sigma_w,0^2 mu_1 scales the mean, not the shape
    assert t.jacobian_mean == pytest.approx(t.layers[0].sigma_w2 / t.sigma_w2, rel=1e-9)
    assert t.jacobian_variance == pytest.approx(t.jacobian_mean**2 * jm.variance, rel=1e-8)
    # the q maps are the same; on a mask the spread across units is the per-neuron rule's
    for lay_g, lay_o in zip(g.layers, o.layers, strict=True):
        assert lay_o.q == pytest.approx(lay_g.q, rel=1e-12) and lay_o.weight_std == lay_g.weight_std
    so = recommend([200, 200, 200], "tanh", 0.05, "uniform", sigma_b2=0.05, weights="orthogonal")
    lay0 = so.layers[0]
    st = sparse_signal_propagation("tanh", lay0.sigma_w2, 0.05, [200, 200], 0.05, scaling="neuron")
    assert lay0.q_std == pytest.approx(st[0].q_std, rel=1e-10)
    assert lay0.q == so.q_star  # mean field; per-neuron scaling misses only the dead units' signal
    assert st[0].q_mean == pytest.approx(so.q_star - (so.q_star - 0.05) * st[0].dead_fraction, rel=1e-10)
    assert Recommendation.from_json(so.to_json()) == so
    assert "orthogonal weights" in str(so)


def test_recommend_weights_bad_input():
    with pytest.raises(ValueError, match="weights"):
        recommend([10, 10], weights="haar")
    with pytest.raises(ValueError, match="per_neuron"):
        recommend([10, 10], weights="orthogonal", per_neuron=True)


def test_masked_orthogonal_rows_equalise_q_spread():
    # invariant: an isometry's rows all have norm sigma_w, so the spread of q across units due to the
    # in-degree (present for Gaussian weights) disappears
    # (a few rows of very sparse masks stay short where the isometry is rank deficient: compare the
    # median absolute deviation of the squared row norms, relative to their median)
    rec_g = recommend([80, 80], "linear", density=0.25, scheme="uniform")
    rec_o = recommend([80, 80], "linear", density=0.25, scheme="uniform", weights="orthogonal")
    masks = draw_masks(rec_g.shapes, rec_g.densities, rng=0)
    wg, _ = draw_weights(rec_g, masks, rng=1)
    wo, _ = draw_weights(rec_o, masks, rng=1)

    def rel_mad(v):
        return np.median(np.abs(v - np.median(v))) / np.median(v)

    ng, no = (wg[0] ** 2).sum(axis=1), (wo[0] ** 2).sum(axis=1)
    assert rel_mad(no) < 0.02 and rel_mad(ng) > 0.1  # Gaussian: about 1 / sqrt(20) relative spread


@pytest.mark.parametrize("density", [1.0, 0.5])
def test_jacobian_spread_orthogonal_vs_gaussian(density):
    # tanh at the edge of chaos with a tiny bias: q* ~ 0.1, mu2/mu1^2 - 1 ~ 0.04, so the predicted variance
    # of the squared singular values is L(0.04 + 1) for Gaussian and L * 0.04 for orthogonal weights.
    L, n, seeds = 6, 64, 4
    out = {}
    for law in ("gaussian", "orthogonal"):
        rec = recommend([n] * (L + 1), "tanh", density, "uniform", sigma_b2=1e-3, weights=law)
        qs = float(q_fixed_point("tanh", rec.sigma_w2, 1e-3))
        sv2 = []
        for seed in range(seeds):
            ws, bs = draw_weights(rec, draw_masks(rec.shapes, rec.densities, rng=seed), rng=seed)
            x = gaussian_inputs(1, n, q0=(qs - 1e-3) / rec.sigma_w2, rng=seed)[0]
            sv2.append(jacobian_singular_values(ws, bs, "tanh", x) ** 2)
        sv2 = np.concatenate(sv2)
        out[law] = (sv2.var(), rec.jacobian_variance)
    # finite width (n = 64) and 4 networks: the sample variance of these heavy-tailed spectra is
    # within a factor 2.5 of the large-width prediction (measured 0.9-1.3x at n = 100, 4 networks)
    for var, pred in out.values():
        assert pred / 2.5 < var < 2.5 * pred
    assert out["orthogonal"][0] < 0.2 * out["gaussian"][0]


def test_signal_statistics_linear_closed_form_and_bad_input():
    # a linear network with W = a I: q^l = a^{2l} q0, c stays, gradients a^{-2} per layer back
    x = gaussian_inputs(3, 5, q0=2.0, c0=0.25, rng=0)
    st = signal_statistics([1.5 * np.eye(5)] * 3, None, "linear", x, rng=0)
    assert np.allclose(st.q, 2.0 * 1.5 ** (2 * np.arange(1, 4)), rtol=1e-12)
    assert np.allclose(st.c, 0.25, atol=1e-12)
    assert np.allclose(st.grad_norms, 1.5 ** (2 * np.arange(2, -1, -1)), rtol=1e-12)
    assert np.all(st.dead_fraction == 0) and np.all(st.disconnected_fraction == 0)
    w = np.eye(5)
    w[2, 2] = 0.0
    st = signal_statistics([w, np.ones((5, 5))], None, "linear", x, rng=0)
    assert st.dead_fraction.tolist() == [0.2, 0.0] and st.disconnected_fraction.tolist() == [0.2, 0.0]
    with pytest.raises(ValueError, match="inputs"):
        signal_statistics([w], None, "linear", np.ones((2, 4)))
    with pytest.raises(ValueError, match="weights"):
        signal_statistics([np.ones((3, 4)), np.ones((2, 2))], None, "linear", np.ones((2, 4)))


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_signal_statistics_agrees_with_cascades_nn_simulator(act):
    # an independent implementation: cascades.nn.simulate_network's own statistics of the same network
    from cascades.nn import simulate_network

    sim = simulate_network(act, 1.8, 0.05, [60, 50, 40, 30], densities=0.2, n_inputs=2, c0=0.4, rng=3)
    st = signal_statistics(sim.weights, sim.biases, act, sim.inputs.T, rng=7)
    assert np.allclose(st.q, sim.q[1:].mean(axis=1), rtol=1e-12)
    assert np.allclose(st.q_neuron_std, sim.q_neuron_std[1:], rtol=1e-12)
    assert np.allclose(st.c, sim.c[1:], rtol=1e-12)
    assert np.array_equal(st.dead_fraction, sim.dead_fraction[1:])
    g = sim.gradient_norms(rng=7).mean(axis=1)
    assert np.allclose(st.grad_norms, g[1:] / g[-1], rtol=1e-12)
    # conditional spread: v_i = sum_j W_ij^2 <x_j^2> + b_i^2, recomputed by hand for layer 1
    v = sim.weights[0] ** 2 @ np.mean(sim.inputs**2, axis=1) + sim.biases[0] ** 2
    assert st.conditional_spread[0] == pytest.approx(np.std(v) / np.mean(v), rel=1e-12)
    s = jacobian_singular_values(sim.weights, sim.biases, act, sim.inputs[:, 0])
    assert np.allclose(s, sim.jacobian_singular_values(0), rtol=1e-10)
