"""Theory against simulated random networks (cascades.nn.simulate): the third way of testing (README.md).

Tolerances are derived next to each assertion from the width n, the number of independent
networks R and, where the theory gives it, the variance of the per-layer noise. Every random
check is seeded, so each assertion is deterministic; the quoted significance is the probability
that a correct implementation would fail it for a random seed.
"""

import math

import numpy as np
import pytest
from scipy import stats

from cascades.nn import meanfield as mf
from cascades.nn.activations import gaussian_expectation, get_activation
from cascades.nn.exact import relu_output_norm_cdf, sample_relu_norms
from cascades.nn.simulate import gaussian_inputs, simulate_network
from cascades.nn.sparse import sparse_signal_propagation

# (activation, sigma_w2, sigma_b2): ordered (chi_1 < 1) and chaotic (chi_1 > 1) cases
ORDERED = [("tanh", 1.2, 0.05), ("tanh", 2.0, 0.3), ("relu", 1.5, 0.1), ("relu", 1.0, 0.5)]
CHAOTIC = [("tanh", 3.0, 0.05), ("tanh", 4.0, 0.2)]


def q_noise_sd(act, sw2, sb2, q, n):
    """Stationary sd of the simulated q^l around the map: AR(1) with slope a and innovation sigma.

    Given the previous layer, q^l is the mean of n iid (h_i)^2 with h_i ~ N(0, v): variance
    2 v^2 / n; v itself carries the noise of the n squared activations, sw2^2 Var[phi^2] / n.
    The map's slope a = exp(-1/xi_q) propagates the innovations: variance sigma^2 / (1 - a^2).
    """
    a = get_activation(act)
    e2 = float(gaussian_expectation(lambda x: a.phi(x) ** 2, q))
    e4 = float(gaussian_expectation(lambda x: a.phi(x) ** 4, q))
    sigma2 = (2 * q**2 + sw2**2 * (e4 - e2**2)) / n
    slope = math.exp(-1.0 / float(mf.depth_scales(act, sw2, sb2).xi_q))
    return math.sqrt(sigma2 / (1 - slope**2))


@pytest.mark.parametrize("act, sw2, sb2", ORDERED + CHAOTIC)
def test_fixed_points_q_and_c(act, sw2, sb2):
    """Start the network at (q*, c*) and check every layer stays there.

    q: 5 sd of the mean of R networks, sd from :func:`q_noise_sd` (significance ~6e-7 per layer).
    c: the sample correlation of n Gaussian pairs has sd (1 - c^2) / sqrt(n); the map's slope
    chi_c < 1 amplifies the innovations by 1 / sqrt(1 - chi_c^2); 5 sd of the R-network mean,
    plus 2 / n for the O(1/n) bias of the correlation estimator.
    """
    n, L, R = 500, 10, 4
    qs = float(mf.q_fixed_point(act, sw2, sb2))
    cs = float(mf.c_fixed_point(act, sw2, sb2))
    chic = float(mf.chi_c(act, sw2, sb2))
    q0 = (qs - sb2) / sw2  # x^0 enters the first layer directly: q^1 = sw2 q0 + sb2 = q*
    c0 = min((cs * qs - sb2) / (sw2 * q0), 1.0)  # so that c^1 = c*
    Q, C = [], []
    for r in range(R):
        sim = simulate_network(act, sw2, sb2, [n] * (L + 1), n_inputs=2, q0=q0, c0=c0, rng=r)
        Q.append(sim.q[1:].mean(axis=1))
        C.append(sim.c[1:])
    Q, C = np.mean(Q, axis=0), np.mean(C, axis=0)
    tol_q = 5 * q_noise_sd(act, sw2, sb2, qs, n) / math.sqrt(R)
    assert np.all(np.abs(Q - qs) < tol_q), (Q, qs, tol_q)
    tol_c = 5 * (1 - cs**2) / math.sqrt(n * (1 - min(chic, 0.99) ** 2) * R) + 2 / n
    assert np.all(np.abs(C - cs) < tol_c), (C, cs, tol_c)
    if (act, sw2, sb2) in CHAOTIC:
        assert cs < 0.9  # the chaotic cases really test c* < 1


@pytest.mark.parametrize("act, sw2, sb2", [ORDERED[0], ORDERED[2], CHAOTIC[0]])
def test_trajectories_from_off_fixed_point_start(act, sw2, sb2):
    """q^l and c^l from q^0 = 1, c^0 = 0.6 follow the mean-field trajectories (tolerances as above)."""
    n, L, R, q0, c0 = 500, 10, 4, 1.0, 0.6
    q1 = sw2 * q0 + sb2
    c1 = (sw2 * c0 * q0 + sb2) / q1
    qt = mf.q_trajectory(act, sw2, sb2, q1, L - 1)
    ct = mf.c_trajectory(act, sw2, sb2, c1, L - 1, q0=q1)
    chic = min(float(mf.chi_c(act, sw2, sb2)), 0.99)
    Q, C = [], []
    for r in range(R):
        sim = simulate_network(act, sw2, sb2, [n] * (L + 1), n_inputs=2, q0=q0, c0=c0, rng=100 + r)
        Q.append(sim.q[1:].mean(axis=1))
        C.append(sim.c[1:])
    Q, C = np.mean(Q, axis=0), np.mean(C, axis=0)
    tol_q = np.array([5 * q_noise_sd(act, sw2, sb2, q, n) / math.sqrt(R) for q in qt])
    assert np.all(np.abs(Q - qt) < tol_q)
    tol_c = 5 * (1 - ct**2) / math.sqrt(n * (1 - chic**2) * R) + 2 / n
    assert np.all(np.abs(C - ct) < tol_c)


def test_relu_chaotic_growth_rate():
    """ReLU with sigma_w2 > 2 has no finite q*: q^l grows by sigma_w2 / 2 per layer (bias washed out).

    The ratio q^{l+1} / q^l of one wide network has relative sd about sqrt(2 / n) per layer;
    averaged over 10 layers and R = 4 networks, 5 sd is 5 sqrt(2 / n) / sqrt(40) + the bias term.
    """
    n, L, R, sw2, sb2 = 500, 12, 4, 2.5, 0.1
    assert math.isinf(float(mf.q_fixed_point("relu", sw2, sb2)))
    ratios = []
    for r in range(R):
        sim = simulate_network("relu", sw2, sb2, [n] * (L + 1), n_inputs=1, rng=200 + r)
        q = sim.q[:, 0]
        ratios.append(q[3:] / q[2:-1])
    growth = float(np.mean(ratios))
    assert abs(growth - sw2 / 2) < 5 * math.sqrt(2 / n) / math.sqrt(40) * sw2 / 2 + 0.01


@pytest.mark.slow
def test_xi_c_from_correlation_decay():
    """Fit 1 - c^l ~ exp(-l / xi_c) in the ordered phase (tanh, sigma_w2 = 1.2, sigma_b2 = 0.05).

    Width 2000, 8 networks, fit over layers 4..24 by least squares on log(1 - c); the fitted
    xi_c agrees with Schoenholz et al.'s -1 / ln chi_c within 8% (the estimator noise of 1 - c at
    layer 24 is about 5% of its value, and the approach is only asymptotically exponential).
    """
    act, sw2, sb2, n, L, R = "tanh", 1.2, 0.05, 2000, 24, 8
    qs = float(mf.q_fixed_point(act, sw2, sb2))
    q0 = (qs - sb2) / sw2
    one_minus_c = []
    for r in range(R):
        sim = simulate_network(act, sw2, sb2, [n] * (L + 1), n_inputs=2, q0=q0, c0=0.2, rng=300 + r)
        one_minus_c.append(1 - sim.c)
    y = np.log(np.mean(one_minus_c, axis=0))
    ls = np.arange(4, L + 1)
    slope = np.polyfit(ls, y[ls], 1)[0]
    xi_fit = -1.0 / slope
    xi = float(mf.depth_scales(act, sw2, sb2).xi_c)
    assert xi_fit == pytest.approx(xi, rel=0.08)


# -- dropout --------------------------------------------------------------------------------


def test_dropout_fixed_points():
    """keep r = 0.8: q* = sigma_w2 / r E[phi^2] + sigma_b2 and c* < 1 (Schoenholz et al., Sec. 4).

    Dropout adds Bernoulli noise to every squared activation, so the per-layer innovation of q
    is larger than without it; the tolerance doubles :func:`q_noise_sd` for that.
    """
    act, sw2, sb2, r, n, L, R = "tanh", 1.5, 0.1, 0.8, 500, 8, 4
    qs = float(mf.q_fixed_point(act, sw2, sb2, keep=r))
    cs = float(mf.c_fixed_point(act, sw2, sb2, keep=r))
    assert cs < 0.99
    q0 = (qs - sb2) * r / sw2  # dropout acts on the input too: q^1 = sw2 / r q0 + sb2 = q*
    c0 = (cs * qs - sb2) / (sw2 * q0)
    Q, C = [], []
    for i in range(R):
        sim = simulate_network(
            act, sw2, sb2, [n] * (L + 1), n_inputs=2, q0=q0, c0=c0, dropout_keep=r, rng=400 + i
        )
        Q.append(sim.q[1:].mean(axis=1))
        C.append(sim.c[1:])
    Q, C = np.mean(Q, axis=0), np.mean(C, axis=0)
    assert np.all(np.abs(Q - qs) < 10 * q_noise_sd(act, sw2, sb2, qs, n) / math.sqrt(R))
    assert np.all(np.abs(C - cs) < 10 * (1 - cs**2) / math.sqrt(n * R) + 2 / n)


# -- sparse networks: dense vs per-layer vs per-neuron scaling ------------------------------


@pytest.mark.parametrize("act, R", [("tanh", 16), ("relu", 8)])
@pytest.mark.parametrize("scaling", ["layer", "neuron"])
def test_sparse_q_mean_and_degree_slope(act, scaling, R):
    """Mean q^l and the dependence of a neuron's q_i on its in-degree k_i vs sparse_signal_propagation.

    Small fan-in (p n = 6, width 400) where finite fan-in matters:

    * q^l (over neurons and inputs) against the Gamma closure: 5 standard errors of the mean
      over R networks, the SE estimated from their spread (t with R - 1 dof: P(|t| > 5) < 2e-4
      for R = 16 per layer). For tanh the plain "mean" method misses by about 10 SE here.
    * slope of q_i against k_i (least squares over the neurons of the first network, 16
      inputs): the exact E[h_i^2 | k] is linear in k with slope sigma_w2 m / (p n) for per-layer
      and 0 for per-neuron scaling; 5 OLS standard errors (the residual is the weight noise,
      relative sd about sqrt(2 / k)).
    """
    sw2, sb2, p, n, L = 1.8, 0.05, 0.015, 400, 3
    widths = [n] * (L + 1)
    st = sparse_signal_propagation(act, sw2, sb2, widths, p, scaling=scaling)
    Q = []
    for r in range(R):
        sim = simulate_network(
            act, sw2, sb2, widths, densities=p, scaling=scaling, n_inputs=16, q0=1.0, c0=0.0, rng=500 + r
        )
        Q.append(sim.q[1:].mean(axis=1))
        if r == 0:
            for l in range(1, L + 1):
                k, qi = sim.in_degrees(l), sim.neuron_q(l)
                live = k > 0
                kk, yy = k[live].astype(float), qi[live]
                slope, icpt = np.polyfit(kk, yy, 1)
                resid = yy - (slope * kk + icpt)
                se = math.sqrt(resid.var() * kk.size / (kk.size - 2) / np.sum((kk - kk.mean()) ** 2))
                s = st[l - 1]
                theory = s.q_by_degree[2] - s.q_by_degree[1]  # q(k) is linear in k >= 1
                assert abs(slope - theory) < 5 * se
    Q = np.array(Q)
    se = Q.std(axis=0, ddof=1) / math.sqrt(R)
    assert np.all(np.abs(Q.mean(axis=0) - [s.q_mean for s in st]) < 5 * se)


def test_dense_and_layer_scaled_sparse_share_the_length_map():
    """Per-layer scaling keeps the dense q map up to O(1 / fan-in): dense vs sparse (p n = 100).

    The dense simulation is compared with q_trajectory, the sparse one with the Gamma closure of
    sparse_signal_propagation, each within 5 SE of the mean over R = 8 networks (t with 7 dof:
    P(|t| > 5) = 1.6e-3 per layer); the two theories differ by less than 1% here.
    """
    act, sw2, sb2, n, p, L, R = "tanh", 1.8, 0.05, 500, 0.2, 3, 8
    qt = mf.q_trajectory(act, sw2, sb2, sw2 * 1.0 + sb2, L - 1)
    closure = np.array([s.q_mean for s in sparse_signal_propagation(act, sw2, sb2, [n] * (L + 1), p)])
    assert np.all(np.abs(closure - qt) < 0.01 * qt)
    for dens, theory in ((None, qt), (p, closure)):
        sims = [
            simulate_network(act, sw2, sb2, [n] * (L + 1), densities=dens, n_inputs=16, c0=0.0, rng=600 + r)
            for r in range(R)
        ]
        Q = np.array([sim.q[1:].mean(axis=1) for sim in sims])
        se = Q.std(axis=0, ddof=1) / math.sqrt(R)
        assert np.all(np.abs(Q.mean(axis=0) - theory) < 5 * se)


def test_dead_neuron_fraction():
    """Fraction of neurons with in-degree 0 vs (1 - p)^n: 5 binomial standard errors over n R neurons."""
    n, p, L, R = 1000, 0.003, 3, 4
    expect = (1 - p) ** n
    sims = [simulate_network("relu", 2.0, 0.0, [n] * (L + 1), densities=p, rng=700 + r) for r in range(R)]
    dead = np.array([sim.dead_fraction[1:] for sim in sims])
    se = math.sqrt(expect * (1 - expect) / (n * R))
    assert np.all(np.abs(dead.mean(axis=0) - expect) < 5 * se)
    st = sparse_signal_propagation("relu", 2.0, 0.0, [n] * (L + 1), p)
    assert st[0].dead_fraction == pytest.approx(expect, rel=1e-12)


# -- exact finite-width ReLU distribution ---------------------------------------------------


def test_relu_norm_distribution_vs_simulated_networks():
    """|x^L|^2 of R simulated He networks (width 16, 3 layers, one input each) vs the exact cdf.

    KS test at significance 1e-3. The atom at 0 has mass 1 - (1 - 2^-16)^3 ~ 5e-5.
    """
    widths, R = [16, 16, 16, 16], 1500
    x0 = gaussian_inputs(1, 16, q0=1.0, rng=0)
    rng = np.random.default_rng(800)
    norms = np.empty(R)
    for r in range(R):
        sim = simulate_network("relu", 2.0, 0.0, widths, inputs=x0, rng=rng)
        norms[r] = float(np.sum(np.maximum(sim.preactivations[-1][:, 0], 0.0) ** 2))
    p = stats.kstest(norms, lambda v: relu_output_norm_cdf(v, widths, 2.0, input_norm2=16.0)).pvalue
    assert p > 1e-3


def test_relu_norms_with_bias_vs_exact_sampler():
    """With a bias the law is a Markov chain: simulated networks vs the exact O(L) sampler.

    Two-sample KS at significance 1e-3 on the last layer (width 12 and 30, 4 layers).
    """
    widths, sw2, sb2, R = [30, 12, 30, 12, 30], 2.0, 0.3, 1200
    x0 = gaussian_inputs(1, 30, q0=0.5, rng=1)
    rng = np.random.default_rng(900)
    norms = np.empty(R)
    for r in range(R):
        sim = simulate_network("relu", sw2, sb2, widths, inputs=x0, rng=rng)
        norms[r] = float(np.sum(np.maximum(sim.preactivations[-1][:, 0], 0.0) ** 2))
    exact = sample_relu_norms(widths, sw2, sb2, 20000, input_norm2=15.0, rng=901)[:, -1]
    assert stats.ks_2samp(norms, exact).pvalue > 1e-3


# -- gradients and the Jacobian spectrum ----------------------------------------------------


def test_gradient_norms_vs_chi1():
    """|delta^l|^2 / |delta^L|^2 vs meanfield.gradient_norms (chi_1 per layer) at q*.

    Mean of the log-ratio over R networks x 4 inputs; each layer adds relative noise about
    sqrt(2 / n) to |delta|^2, so the log-ratio at distance L - l has sd about sqrt(2 (L - l) / n);
    tolerance 5 sd / sqrt(R) (inputs of one network are not independent; not counted).
    """
    act, sw2, sb2, n, L, R = "tanh", 1.5, 0.05, 400, 8, 6
    qs = float(mf.q_fixed_point(act, sw2, sb2))
    theory = mf.gradient_norms(act, sw2, sb2, L)
    logs = []
    for r in range(R):
        q0 = (qs - sb2) / sw2
        sim = simulate_network(act, sw2, sb2, [n] * (L + 1), n_inputs=4, q0=q0, c0=0.0, rng=1000 + r)
        g = sim.gradient_norms(rng=r)
        logs.append(np.log(g[1:] / g[L]).mean(axis=1))
    got = np.mean(logs, axis=0)
    dist = np.arange(L - 1, -1, -1)
    tol = 5 * np.sqrt(2 * np.maximum(dist, 1) / n) / math.sqrt(R)
    assert np.all(np.abs(got - np.log(theory)) < tol)


JACOBIAN_CASES = [  # orthogonal cases are slow: Haar matrices and SVDs cost LAPACK calls
    ("relu", 2.0, 0.0, "gaussian"),
    pytest.param("relu", 2.0, 0.0, "orthogonal", marks=pytest.mark.slow),
    pytest.param("tanh", 1.2, 0.05, "gaussian", marks=pytest.mark.slow),
    pytest.param("tanh", 1.2, 0.05, "orthogonal", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("act, sw2, sb2, weights", JACOBIAN_CASES)
def test_jacobian_spectrum_moments(act, sw2, sb2, weights):
    """Mean and variance of the squared singular values of J vs jacobian_spectrum_moments.

    Width 200, depth 4, R = 5 networks at q*; 5 standard errors over the networks plus a
    finite-width allowance of 4 L / n relative (the free-probability moments are n -> inf
    limits; at n = 200 the observed deviations are below 6%).
    """
    n, L, R = 200, 4, 5
    m = mf.jacobian_spectrum_moments(act, sw2, sb2, L, weights=weights)
    q0 = (m.q_star - sb2) / sw2 if math.isfinite(m.q_star) and m.q_star > 0 else 1.0
    means, variances = [], []
    for r in range(R):
        sim = simulate_network(act, sw2, sb2, [n] * (L + 1), n_inputs=1, q0=q0, weights=weights, rng=1100 + r)
        s2 = sim.jacobian_singular_values() ** 2
        means.append(s2.mean())
        variances.append(s2.var())
    slack = 4 * L / n
    for got, want in ((means, m.mean), (variances, m.variance)):
        se = np.std(got, ddof=1) / math.sqrt(R)
        assert abs(np.mean(got) - want) < 5 * se + slack * want


# -- the simulator itself -------------------------------------------------------------------


def test_jacobian_matches_finite_differences():
    sim = simulate_network("tanh", 1.5, 0.1, [7, 9, 6, 5], n_inputs=1, rng=3)
    J = sim.jacobian()
    x = sim.inputs[:, 0]
    act = sim.activation

    def f(v):
        h = v
        for l, (W, b) in enumerate(zip(sim.weights, sim.biases, strict=True)):
            h = W @ (h if l == 0 else act.phi(h)) + b
        return act.phi(h)

    eps = 1e-6
    num = np.column_stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(7)])
    assert np.allclose(J, num, atol=1e-8)


def test_orthogonal_weights_are_scaled_isometries():
    """W^T W = sigma_w2 I (n_l >= n_{l-1}, times n_l / n_{l-1}) and W W^T = sigma_w2 I (n_l <= n_{l-1})."""
    sim = simulate_network("tanh", 1.5, 0.0, [20, 30, 30, 10], weights="orthogonal", rng=6)
    W1, W2, W3 = sim.weights
    assert np.allclose(W1.T @ W1, 1.5 * 30 / 20 * np.eye(20), atol=1e-12)
    assert np.allclose(W2.T @ W2, 1.5 * np.eye(30), atol=1e-12)
    assert np.allclose(W3 @ W3.T, 1.5 * np.eye(10), atol=1e-12)


def test_per_neuron_scaling_row_variance():
    """Per-neuron scaling: the nonzero weights of a row with in-degree k have variance sigma_w2 / k."""
    sim = simulate_network("relu", 2.0, 0.0, [2000, 300], densities=0.1, scaling="neuron", rng=4)
    W = sim.weights[0]
    k = np.count_nonzero(W, axis=1)
    # sum_j W_ij^2 * k_i / sigma_w2 ~ chi^2_k / k * k: the row sums of squares average to sigma_w2
    ss = np.sum(W**2, axis=1)
    assert np.mean(ss) == pytest.approx(2.0, rel=5 * math.sqrt(2 / 200) / math.sqrt(300))
    assert np.array_equal(k, sim.in_degrees(1))


def test_reproducible_and_validated():
    a = simulate_network("tanh", 1.0, 0.1, [20, 20, 20], densities=0.3, rng=5)
    b = simulate_network("tanh", 1.0, 0.1, [20, 20, 20], densities=0.3, rng=5)
    assert np.array_equal(a.q, b.q)
    bad = [
        ({"sigma_w2": -1.0}, "sigma_w2"),
        ({"sigma_b2": -1.0}, "sigma_b2"),
        ({"densities": 0.0}, "densities"),
        ({"densities": [0.5, 1.2]}, "densities"),
        ({"activation": "softsign"}, "activation"),
        ({"widths": [20, -3, 20]}, "widths"),
        ({"widths": [20, 2.5, 20]}, "widths"),
        ({"scaling": "global"}, "scaling"),
        ({"weights": "uniform"}, "weights"),
        ({"dropout_keep": 0.0}, "dropout_keep"),
        ({"densities": 0.5, "weights": "orthogonal"}, "orthogonal"),
        ({"inputs": np.ones((2, 19))}, "inputs"),
    ]
    for change, name in bad:
        kw = {"activation": "tanh", "sigma_w2": 1.0, "sigma_b2": 0.1, "widths": [20, 20, 20]}
        kw.update(change)
        with pytest.raises(ValueError, match=name):
            simulate_network(**kw)
