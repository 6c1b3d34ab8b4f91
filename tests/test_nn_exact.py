"""Exact finite-width ReLU results (cascades.nn.exact) against sympy, closed forms and exact sampling."""

import math

import numpy as np
import pytest
from scipy import stats

from cascades.nn.exact import (
    ReluLayerNormLaw,
    looks_linear_weights,
    relu_dead_signal_probability,
    relu_norm_moments,
    relu_output_norm_cdf,
    sample_relu_norms,
)
from tests._stats import chi_square_pvalue
from theory import relu_finite_width as rfw

# -- tier (a): closed forms -----------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 10, 37, 100])
def test_he_ratio_moments_match_sympy(n):
    """E[r] = 1, E[r^2] = 1 + 5/n (He, zero bias), and moments 3, 4 against the derivation."""
    mom = relu_norm_moments([n, n], 2.0, 0.0, input_norm2=1.0, order=4)
    assert mom[1, 1] == pytest.approx(1.0, rel=1e-12)
    assert mom[1, 2] == pytest.approx(1.0 + 5.0 / n, rel=1e-12)
    for m in range(5):
        assert mom[1, m] == pytest.approx(float(rfw.relu_ratio_moment(m, n, n, 2)), rel=1e-10)


def test_multilayer_zero_bias_moments_are_products():
    widths = [7, 4, 9, 3]
    mom = relu_norm_moments(widths, 1.7, 0.0, input_norm2=2.5, order=3)
    for m in range(4):
        expect = 2.5**m
        for l in range(1, 4):
            expect *= float(rfw.relu_ratio_moment(m, widths[l], widths[l - 1], sp_rational(1.7)))
            assert mom[l, m] == pytest.approx(expect, rel=1e-10)


def sp_rational(v):
    import sympy as sp

    return sp.nsimplify(v)


def test_moments_with_bias_one_layer_closed_form():
    """E[s1] = v n/2, E[s1^2] = v^2 n (n + 5)/4 with v = sw2 s0/n0 + sb2."""
    n0, n1, sw2, sb2, s0 = 5, 8, 1.3, 0.4, 3.0
    v = sw2 * s0 / n0 + sb2
    mom = relu_norm_moments([n0, n1], sw2, sb2, input_norm2=s0)
    assert mom[1, 1] == pytest.approx(v * n1 / 2, rel=1e-12)
    assert mom[1, 2] == pytest.approx(v**2 * n1 * (n1 + 5) / 4, rel=1e-12)


def test_dead_probability():
    assert relu_dead_signal_probability([3, 2, 3]).tolist() == pytest.approx([0.0, 0.25, 1 - 0.75 * 0.875])
    assert relu_dead_signal_probability([3, 2, 3], 0.1).tolist() == pytest.approx([0.0, 0.25, 0.125])
    assert float(rfw.relu_dead_probability(6)) == ReluLayerNormLaw(6, 1.0).atom


def test_layer_law_is_consistent():
    law = ReluLayerNormLaw(6, 0.7)
    # substitute x = u^2 to remove the x^(-1/2) singularity of the one-degree-of-freedom term
    for top, want in ((40.0, 1 - law.atom), (5.0, law.cdf(5.0) - law.atom)):
        h = math.sqrt(top) / 200000
        u = (np.arange(200000) + 0.5) * h  # midpoint rule
        assert np.sum(law.pdf(u**2) * 2 * u) * h == pytest.approx(want, abs=1e-8)
    assert law.cdf(0.0) == pytest.approx(law.atom)
    assert law.cdf(-1.0) == 0.0
    assert law.moment(2) == pytest.approx(0.7**2 * 6 * 11 / 4, rel=1e-12)


def test_output_cdf_one_layer_equals_exact_law():
    """The convolution code with L = 1 against the exact binomial chi-square mixture (1e-6)."""
    law = ReluLayerNormLaw(12, 2.0 * 3.0 / 5)  # n0 = 5, |x0|^2 = 3, sigma_w2 = 2
    xs = np.array([0.0, 0.01, 0.5, 1.0, 3.0, 10.0, 40.0])
    got = relu_output_norm_cdf(xs, [5, 12], 2.0, input_norm2=3.0)
    assert np.allclose(got, law.cdf(xs), atol=1e-6)


def test_output_cdf_two_layers_matches_quadrature():
    """L = 2: P[R <= x] = atom + E over layer 1 of the layer-2 cdf (1-d quadrature), to 1e-5."""
    n0, n1, n2 = 4, 6, 5
    law1 = ReluLayerNormLaw(n1, 2.0 * 1.0 / n0)
    h = math.sqrt(60.0) / 700
    u = (np.arange(700) + 0.5) * h  # y = u^2 removes the y^(-1/2) singularity; midpoint rule
    weight = law1.pdf(u**2) * 2 * u
    for xv in (0.3, 1.0, 4.0):
        inner = np.array([ReluLayerNormLaw(n2, 2.0 * y / n1).cdf(xv) for y in u**2])
        quad = law1.atom + np.sum(weight * inner) * h
        got = float(relu_output_norm_cdf(xv, [n0, n1, n2], 2.0, input_norm2=1.0))
        assert got == pytest.approx(quad, abs=1e-5)


# -- tier (c): exact sampling and a direct network simulation -------------------------------


def test_sampler_moments():
    """Mean of s_L against the exact moment; tolerance 5 standard errors from the exact variance."""
    widths = [10, 20, 15, 10]
    N = 40000
    s = sample_relu_norms(widths, 2.0, 0.1, N, input_norm2=10.0, rng=1)
    mom = relu_norm_moments(widths, 2.0, 0.1, input_norm2=10.0)
    for l in range(1, 4):
        se = math.sqrt((mom[l, 2] - mom[l, 1] ** 2) / N)
        assert abs(s[:, l].mean() - mom[l, 1]) < 5 * se


def test_network_norms_match_exact_cdf():
    """Real networks (Gaussian matrices, width 20, 3 layers) vs the exact cdf: KS at 1e-3.

    Under H0 the KS p-value is uniform, so the test fails with probability 1e-3 for a correct
    implementation (seeded: deterministic). The atom at 0 (prob. ~3e-6) is negligible here.
    """
    rng = np.random.default_rng(2)
    widths = [20, 20, 20, 20]
    N = 3000
    x0 = rng.standard_normal(20)
    s0 = float(x0 @ x0)
    out = np.empty(N)
    for i in range(N):
        x = x0
        for l in range(1, 4):
            W = rng.standard_normal((widths[l], widths[l - 1])) * math.sqrt(2.0 / widths[l - 1])
            x = np.maximum(W @ x, 0.0)
        out[i] = x @ x
    p = stats.kstest(out, lambda v: relu_output_norm_cdf(v, widths, 2.0, input_norm2=s0)).pvalue
    assert p > 1e-3


def test_sampler_histogram_chi_square():
    """Exact sampler vs the one-layer law: chi-square on 30 equiprobable-ish bins, p > 1e-3."""
    law = ReluLayerNormLaw(10, 0.3)
    samples = law.sample(20000, rng=3)
    edges = np.concatenate([[-1.0, 0.0], np.linspace(1e-9, 10, 40), [np.inf]])
    counts = np.histogram(samples, bins=edges)[0]
    probs = np.diff(law.cdf(np.where(np.isinf(edges), 1e300, edges)))
    probs[0] = law.atom  # the bin [-1, 0] holds the atom
    counts[0] = np.count_nonzero(samples == 0)
    counts[1] -= counts[0]
    assert chi_square_pvalue(counts, probs) > 1e-3


# -- looks-linear ---------------------------------------------------------------------------


def test_looks_linear_is_linear_and_isometric():
    widths = [6, 12, 12, 12, 6]
    Ws = looks_linear_weights(widths, rng=4)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 50))
    H = X
    for W in Ws[:-1]:
        H = np.maximum(W @ H, 0.0)
    out = Ws[-1] @ H
    # the linear map: product of the W0 blocks (top-left m x m of each)
    lin = Ws[-1][:, :6] @ Ws[2][:6, :6] @ Ws[1][:6, :6] @ Ws[0][:6, :]
    assert np.allclose(out, lin @ X, atol=1e-12)
    # Jacobian at a single input: product of D W, with the linear read-out
    x = X[:, 0]
    J = np.eye(6)
    h = x
    for W in Ws[:-1]:
        pre = W @ h
        J = (pre > 0)[:, None] * (W @ J)
        h = np.maximum(pre, 0.0)
    J = Ws[-1] @ J
    assert np.allclose(np.linalg.svd(J, compute_uv=False), 1.0, atol=1e-12)


def test_haar_orthogonal_first_entry_is_uniform():
    """Haar O(3): the first column is uniform on the sphere, so Q[0, 0] ~ U(-1, 1) (Archimedes); KS 1e-3."""
    from cascades.nn.exact import _haar_orthogonal

    g = np.random.default_rng(6)
    vals = np.array([_haar_orthogonal(g, 3, 3)[0, 0] for _ in range(250)])
    assert stats.kstest(vals, stats.uniform(-1, 2).cdf).pvalue > 1e-3


def test_looks_linear_rejects_odd_hidden_width():
    with pytest.raises(ValueError, match="widths"):
        looks_linear_weights([4, 5, 4])


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: relu_norm_moments([3, 0], 2.0), "widths"),
        (lambda: relu_norm_moments([3, 2.5], 2.0), "widths"),
        (lambda: relu_norm_moments([3, 3], -1.0), "sigma_w2"),
        (lambda: relu_norm_moments([3, 3], 1.0, -0.1), "sigma_b2"),
        (lambda: sample_relu_norms([3, 3], 1.0, 0.0, -1), "n_samples"),
        (lambda: relu_dead_signal_probability([3], 0.0), "widths"),
        (lambda: ReluLayerNormLaw(0, 1.0), "n"),
        (lambda: ReluLayerNormLaw(3, 0.0), "scale"),
    ],
)
def test_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()
