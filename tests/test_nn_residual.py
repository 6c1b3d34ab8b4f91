"""Mean-field residual networks (cascades.nn.residual): closed forms, invariants, simulation."""

import math

import numpy as np
import pytest

from cascades import nn


def relu_kernel(q1, q2, q12):
    """E[relu(u1) relu(u2)] (Cho & Saul 2009, the arc-cosine kernel of degree 1), written independently."""
    root = math.sqrt(q1 * q2)
    c = max(-1.0, min(1.0, q12 / root))
    return root / (2 * math.pi) * (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c)


@pytest.mark.parametrize("alpha, beta, sigma_w2, sigma_b2", [(1.0, 0.3, 2.0, 0.0), (0.8, 1.0, 1.5, 0.1)])
def test_relu_against_the_arc_cosine_kernel(alpha, beta, sigma_w2, sigma_b2):
    depth, q1, q2, c0 = 12, 1.3, 0.7, 0.2
    t = nn.residual_propagate("relu", sigma_w2, sigma_b2, q1, depth, q22=q2, c=c0, alpha=alpha, beta=beta)
    a, b, q12 = q1, q2, c0 * math.sqrt(q1 * q2)
    for l in range(depth + 1):
        assert t.q11[l] == pytest.approx(a, rel=1e-11)
        assert t.q22[l] == pytest.approx(b, rel=1e-11)
        assert t.q12[l] == pytest.approx(q12, rel=1e-10, abs=1e-12)
        branch = sigma_w2 * relu_kernel(a, b, q12) + sigma_b2
        a, b = (alpha**2 * x + beta**2 * (sigma_w2 * x / 2 + sigma_b2) for x in (a, b))
        q12 = alpha**2 * q12 + beta**2 * branch


def test_stable_scale_bounds_relu_lengths_by_e():
    # alpha = 1, beta^2 = 1/L, sigma_w^2 = 2: q^L = (1 + 1/L)^L q^0 <= e q^0 (Hayou et al. 2021)
    for depth in (1, 7, 50, 400):
        t = nn.residual_propagate("relu", 2.0, 0.0, 1.0, depth)
        assert t.q11[-1] == pytest.approx((1 + 1 / depth) ** depth, rel=1e-12)
        assert t.q11[-1] <= math.e
    assert nn.stable_branch_scale(400) == 0.05


def test_a_zero_branch_is_the_identity_and_invariants_hold():
    t = nn.residual_propagate("tanh", 1.7, 0.2, 0.9, 5, q22=0.4, c=-0.3, beta=0.0)
    assert np.all(t.q11 == 0.9) and np.all(t.q22 == 0.4) and np.allclose(t.c, -0.3)
    rng = np.random.default_rng(0)
    for _ in range(20):
        act = rng.choice(["tanh", "relu", "erf", "gelu", "selu"])
        sw, sb, c0 = rng.uniform(0.5, 3), rng.uniform(0, 0.5), rng.uniform(-1, 1)
        t = nn.residual_propagate(act, sw, sb, 1.0, 10, q22=rng.uniform(0.2, 2), c=c0)
        assert np.all(np.abs(t.c) <= 1) and np.all(t.q11 > 0)
        # with alpha = 1 the branch only adds variance: the lengths never shrink
        assert np.all(np.diff(t.q11) >= -1e-12) and np.all(np.diff(t.q22) >= -1e-12)


def simulate_residual(act, sigma_w2, sigma_b2, widths_n, depth, beta, q0, c0, rng):
    """A random reduced residual network x <- x + beta (W phi(x) + b), two inputs; q and c per block."""
    phi = nn.get_activation(act).phi
    z = rng.standard_normal((widths_n, 2))
    x = np.empty_like(z)
    x[:, 0] = z[:, 0]
    x[:, 1] = c0 * z[:, 0] + math.sqrt(1 - c0 * c0) * z[:, 1]
    x *= math.sqrt(q0)
    qs, cs = [], []
    for _ in range(depth + 1):
        q = np.mean(x**2, axis=0)
        qs.append(q[0])
        cs.append(float(x[:, 0] @ x[:, 1]) / math.sqrt(float(x[:, 0] @ x[:, 0]) * float(x[:, 1] @ x[:, 1])))
        W = rng.standard_normal((widths_n, widths_n)) * math.sqrt(sigma_w2 / widths_n)
        bias = rng.standard_normal(widths_n) * math.sqrt(sigma_b2)
        x = x + beta * (W @ phi(x) + bias[:, None])
    return np.array(qs), np.array(cs)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_theory_against_simulated_wide_networks(act):
    # R independent networks of width N; the theory must lie within 5 standard errors of their mean
    # (the spread measured across the replicas), plus the O(1/N) finite-width bias.
    N, depth, R = 768, 8, 8
    sw, sb, beta, q0, c0 = 1.6, 0.05, 0.6, 1.0, 0.4
    rng = np.random.default_rng(2026)
    runs = [simulate_residual(act, sw, sb, N, depth, beta, q0, c0, rng) for _ in range(R)]
    q_sim = np.array([r[0] for r in runs])
    c_sim = np.array([r[1] for r in runs])
    t = nn.residual_propagate(act, sw, sb, q0, depth, c=c0, beta=beta)
    for theory, sim in ((t.q11, q_sim), (t.c, c_sim)):
        mean = sim.mean(axis=0)
        se = sim.std(axis=0, ddof=1) / math.sqrt(R)
        assert np.all(np.abs(mean - theory) <= 5 * se + 5 * np.abs(theory) / N + 1e-12), (mean, theory, se)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(beta=-0.1), "beta"),
        (dict(alpha=float("nan")), "alpha"),
        (dict(alpha=1e200), "alpha"),
        (dict(beta=1e200), "beta"),
        (dict(depth=-1), "depth"),
        (dict(c=1.5), "c must"),
        (dict(sigma_w2=1e300), "sigma_w2"),
        (dict(depth=400, beta=10.0, sigma_w2=2.0), "use depth <="),
    ],
)
def test_bad_input_names_the_parameter(kwargs, match):
    args = dict(activation="relu", sigma_w2=2.0, sigma_b2=0.0, q11=1.0, depth=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        nn.residual_propagate(**args)
