"""Sparse-mask theory (cascades.nn.sparse): closed forms, the Watts equivalence, exact chains."""

import math

import numpy as np
import pytest

from cascades.graphs import layered
from cascades.models import AbsoluteThreshold, FractionalThreshold
from cascades.nn.activations import expect_phi_sq
from cascades.nn.sparse import (
    input_connectivity,
    layered_cascade_sizes,
    sparse_signal_propagation,
)
from cascades.simulation import simulate

# -- tier (a): closed forms -----------------------------------------------------------------


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_full_density_is_the_dense_length_map(act):
    sw2, sb2, q0 = 1.7, 0.2, 0.8
    st = sparse_signal_propagation(act, sw2, sb2, [30, 40, 20], 1.0, q0=q0, method="mean")
    q1 = sw2 * q0 + sb2
    q2 = sw2 * float(expect_phi_sq(act, q1)) + sb2
    assert st[0].q_mean == pytest.approx(q1, rel=1e-12)
    assert st[1].q_mean == pytest.approx(q2, rel=1e-12)
    assert st[0].q_std == pytest.approx(0.0, abs=1e-12)
    assert st[0].dead_fraction == 0.0


def test_gamma_closure_is_a_finite_width_correction():
    """p = 1: the closure moves the dense map by O(1/n) only (the sum over n inputs concentrates)."""
    for n in (50, 500):
        g = sparse_signal_propagation("tanh", 1.7, 0.2, [n, n, n], 1.0)[1].q_mean
        m = sparse_signal_propagation("tanh", 1.7, 0.2, [n, n, n], 1.0, method="mean")[1].q_mean
        assert 0 < m - g < 5.0 / n


def test_gamma_closure_is_exact_for_relu():
    """E[relu(sqrt(V) z)^2] = E[V] / 2 is linear in V: the closure cannot change the ReLU map."""
    a = sparse_signal_propagation("relu", 1.9, 0.1, [40, 30, 30, 20], 0.1)
    b = sparse_signal_propagation("relu", 1.9, 0.1, [40, 30, 30, 20], 0.1, method="mean")
    assert [s.q_mean for s in a] == pytest.approx([s.q_mean for s in b], rel=1e-12)


@pytest.mark.parametrize("shape", [0.3, 1.0, 7.5, 400.0, 1e5])
def test_gamma_rule_moments(shape):
    """The Golub-Welsch rule integrates x^j exactly against Gamma(shape): E x^j = shape (shape+1)...."""
    from cascades.nn.sparse import _gamma_rule

    x, w = _gamma_rule(shape)
    assert w.sum() == pytest.approx(1.0, rel=1e-12)
    for j in range(1, 5):
        assert np.sum(w * x**j) == pytest.approx(np.prod(shape + np.arange(j)), rel=1e-9)


def test_layer_scaling_keeps_the_dense_mean_and_spreads_q():
    """q(k) = sw2 k m / (p n) + sb2: mean = dense map, std = sw2 m sqrt(n p (1 - p)) / (p n)."""
    n, p, sw2, sb2, q0 = 200, 0.05, 2.0, 0.1, 1.3
    st = sparse_signal_propagation("relu", sw2, sb2, [n, n, n], p, q0=q0)
    assert st[0].q_mean == pytest.approx(sw2 * q0 + sb2, rel=1e-12)
    assert st[0].q_std == pytest.approx(sw2 * q0 * math.sqrt(n * p * (1 - p)) / (p * n), rel=1e-10)
    assert st[0].dead_fraction == pytest.approx((1 - p) ** n, rel=1e-12)
    assert st[0].mean_fan_in == pytest.approx(10.0)
    # relu: E phi^2 = q/2 is linear, so the second layer mean is again the dense map
    assert st[1].q_mean == pytest.approx(sw2 * (sw2 * q0 + sb2) / 2 + sb2, rel=1e-12)


def test_neuron_scaling_leaves_only_dead_neurons():
    n, p, sw2, sb2 = 50, 0.04, 2.0, 0.3
    st = sparse_signal_propagation("relu", sw2, sb2, [n, n], p, scaling="neuron")
    d = (1 - p) ** n
    assert st[0].q_mean == pytest.approx((1 - d) * sw2 + sb2, rel=1e-12)
    assert st[0].q_std == pytest.approx(sw2 * math.sqrt(d * (1 - d)), rel=1e-10)


def test_connectivity_tree_formula():
    widths, dens = [80, 60, 70, 50], [0.02, 0.05, 0.03]
    P = input_connectivity(widths, dens)
    expect = [1.0]
    for l in range(1, 4):
        expect.append(1 - (1 - dens[l - 1] * expect[-1]) ** widths[l - 1])
    assert np.allclose(P, expect, atol=1e-12)


def test_exact_chain_one_layer_equals_tree():
    """With one layer the tree recursion is exact (inputs iid): both methods agree to 1e-12."""
    model = FractionalThreshold(0.3)
    a = layered_cascade_sizes(model, [25, 30], 0.2, rho0=0.4, method="tree")
    b = layered_cascade_sizes(model, [25, 30], 0.2, rho0=0.4, method="exact")
    assert np.allclose(a, b, atol=1e-12)


# -- the Watts equivalence: a Heaviside network is the layered cascade ----------------------


def heaviside_network(graph, phi, x0):
    """A network of Heaviside units, weights 1/k_i on the mask, bias -phi: fires iff m/k >= phi."""
    states = [x0.astype(float)]
    for l in range(1, graph.n_layers + 1):
        mask = graph.mask(l, dense=True, dtype=float)
        k = mask.sum(axis=1)
        W = mask / np.where(k > 0, k, 1.0)[:, None]
        h = W @ states[-1] - phi
        fire = (h >= 0) & (k > 0)  # a unit without inputs has m/k := 0 < phi
        states.append(fire.astype(float))
    return states


@pytest.mark.parametrize("seed", range(4))
def test_heaviside_network_equals_sync_cascade(seed):
    """Identical active sets, and the cascade step of every active node is its layer.

    phi = 0.1837 avoids exact ties m/k = phi (they need k to be a multiple of 10^4), so the
    floating-point sum W x equals m/k up to round-off far from the threshold.
    """
    phi = 0.1837
    rng = np.random.default_rng(seed)
    widths = [60, 50, 40, 40, 30]
    g = layered(widths, [0.1, 0.15, 0.2, 0.1], rng=rng)
    x0 = rng.random(widths[0]) < 0.35
    states = heaviside_network(g, phi, x0)
    res = simulate(g, FractionalThreshold(phi), seeds=np.flatnonzero(x0), dynamics="sync")
    net_active = np.concatenate(states).astype(bool)
    assert np.array_equal(res.active, net_active)
    layer = g.layer_of(np.arange(g.n))
    assert np.array_equal(res.activation_step[res.active], layer[res.active])


# -- tier (c): theory against seeded simulation ---------------------------------------------


def test_watts_exact_chain_and_tree_vs_simulation():
    """Mean active fraction per layer over R seeded runs vs the exact chain (5 standard errors).

    The tree recursion is checked too, within 5 SE plus 0.03 (its finite-width bias).
    """
    phi, widths, dens, rho0, R = 0.1837, [40, 40, 40, 40], 0.15, 0.3, 600
    rng = np.random.default_rng(11)
    model = FractionalThreshold(phi)
    frac = np.empty((R, 4))
    for r in range(R):
        g = layered(widths, dens, rng=rng)
        seeds = np.flatnonzero(rng.random(widths[0]) < rho0)
        res = simulate(g, model, seeds=seeds, dynamics="sync")
        frac[r] = [res.active[g.layer_nodes(l)].mean() for l in range(4)]
    mean, se = frac.mean(axis=0), frac.std(axis=0, ddof=1) / math.sqrt(R)
    exact = layered_cascade_sizes(model, widths, dens, rho0=rho0, method="exact")
    tree = layered_cascade_sizes(model, widths, dens, rho0=rho0, method="tree")
    assert np.all(np.abs(mean - exact) <= 5 * se + 1e-12)
    assert np.all(np.abs(mean - tree) <= 5 * se + 0.03)


def test_connectivity_exact_vs_cascade_simulation():
    """Reached fraction (AbsoluteThreshold(1) cascade from all inputs) vs the exact chain, 5 SE."""
    widths, dens, R = [30, 30, 30, 30], 0.04, 800
    rng = np.random.default_rng(12)
    frac = np.empty((R, 3))
    for r in range(R):
        g = layered(widths, dens, rng=rng)
        res = simulate(g, AbsoluteThreshold(1), seeds=g.layer_nodes(0), dynamics="sync")
        frac[r] = [res.active[g.layer_nodes(l)].mean() for l in range(1, 4)]
    mean, se = frac.mean(axis=0), frac.std(axis=0, ddof=1) / math.sqrt(R)
    exact = input_connectivity(widths, dens, method="exact")[1:]
    assert np.all(np.abs(mean - exact) <= 5 * se)
    # the tree value overestimates slightly (Jensen: E[(1-p)^A] >= (1-p)^E[A])
    tree = input_connectivity(widths, dens)[1:]
    assert np.all(tree >= exact - 1e-12)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"sigma_w2": -1.0}, "sigma_w2"),
        ({"sigma_b2": -0.5}, "sigma_b2"),
        ({"densities": 0.0}, "densities"),
        ({"densities": 1.5}, "densities"),
        ({"widths": [10, 0]}, "widths"),
        ({"widths": [10, 2.5]}, "widths"),
        ({"activation": "nope"}, "activation"),
        ({"scaling": "global"}, "scaling"),
        ({"q0": -1.0}, "q0"),
        ({"input_kurtosis": 0.5}, "input_kurtosis"),
        ({"method": "exact"}, "method"),
    ],
)
def test_bad_input(kwargs, name):
    args = {"activation": "relu", "sigma_w2": 2.0, "sigma_b2": 0.0, "widths": [10, 10], "densities": 0.5}
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        sparse_signal_propagation(**args)


def test_bad_cascade_input():
    with pytest.raises(ValueError, match="method"):
        layered_cascade_sizes(FractionalThreshold(0.2), [5, 5], 0.5, rho0=0.1, method="mc")
    with pytest.raises(ValueError, match="rho0"):
        layered_cascade_sizes(FractionalThreshold(0.2), [5, 5], 0.5, rho0=1.1)
    with pytest.raises(ValueError, match="densities"):
        input_connectivity([5, 5, 5], [0.5, 0.0])
