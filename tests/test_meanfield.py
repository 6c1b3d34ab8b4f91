"""Tests of cascades.meanfield: closed forms (tier a), invariants (tier b), kernels vs references, bad input.

Tier (a) oracles come from the sympy derivations in theory/ and hold to about 1e-10 (the degree
tables leave out a tail of at most 1e-12; the iteration stops at tol = 1e-12).
"""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special, stats

from cascades import _meanfield_kernels as _k
from cascades import meanfield as mf
from cascades.degrees import Binomial, Empirical, Poisson, PowerLaw, Regular
from cascades.graphs import erdos_renyi, from_edges
from cascades.meanfield import (
    CascadeWindow,
    ConvergenceWarning,
    cascade_condition,
    cascade_condition_from_graph,
    cascade_window,
    final_size,
    final_size_from_graph,
    giant_component,
    giant_component_from_graph,
    global_cascade_probability,
    global_cascade_probability_from_graph,
)
from cascades.models import (
    AbsoluteThreshold,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    WeightedThreshold,
)
from theory import giant_component as gc
from theory import load_sums as ls
from theory import tree_fixed_point as tfp
from theory import vulnerable_cluster as vc
from theory import watts_condition as wc

# ---------------------------------------------------------------------------
# a slow, readable reference of the maps G(q), H(q) (sums of scipy binomial pmfs)
# ---------------------------------------------------------------------------


def reference_maps(model_response, p, q):
    """G(q) = sum_k e_k sum_{m<k} Bin(m; k-1, q) F(m, k), H(q) = sum_k p_k sum_{m<=k} Bin(m; k, q) F(m, k)."""
    z = sum(k * pk for k, pk in enumerate(p))
    G = H = 0.0
    for k, pk in enumerate(p):
        if pk == 0:
            continue
        m = np.arange(k + 1)
        F = np.array([float(model_response(mm, k)) for mm in m])
        H += pk * float(stats.binom.pmf(m, k, q) @ F)
        if k >= 1:
            G += k * pk / z * float(stats.binom.pmf(m[:-1], k - 1, q) @ F[:-1])
    return G, H


def reference_final_size(model_response, p, rho0, n_iter=5000):
    q = rho0
    for _ in range(n_iter):
        q = rho0 + (1 - rho0) * reference_maps(model_response, p, q)[0]
    return rho0 + (1 - rho0) * reference_maps(model_response, p, q)[1]


# ---------------------------------------------------------------------------
# tier (a): closed forms from theory/
# ---------------------------------------------------------------------------


def test_derivations_run():
    # each derivation checks its own steps and raises AssertionError if one fails
    assert wc.derivation().steps
    assert vc.derivation().steps
    assert tfp.derivation().steps
    assert ls.derivation().steps


@pytest.mark.parametrize("phi", [0.1, 0.18, 0.2, 0.25, 1 / 3, 0.45])
@pytest.mark.parametrize("strict", [False, True])
def test_watts_c1_against_theory(phi, strict):
    for z in (0.3, 1.0207, 2.0, 4.0, 5.76, 9.0, 15.0):
        c = cascade_condition(FractionalThreshold(phi, strict=strict), Poisson(z))
        assert c.c1 == pytest.approx(wc.er_c1(z, phi, strict), rel=1e-10, abs=1e-13)
        assert c.c0 == 0.0
        if not strict:
            assert c.c2 == pytest.approx(wc.er_c2(z, phi), rel=1e-10, abs=1e-13)


def test_window_edges_phi_018():
    # theory: roots of z Q(4, z) = 1 at 40 digits
    lo, hi = wc.window_edges(0.18)
    assert lo == pytest.approx(1.0207039085, abs=1e-10)
    assert hi == pytest.approx(5.7646770872, abs=1e-10)
    # the library's C1 crosses 1 at the same points
    model = FractionalThreshold(0.18)

    def f(z):
        return cascade_condition(model, Poisson(z)).c1 - 1

    assert optimize.brentq(f, 0.5, 2.0, xtol=1e-14) == pytest.approx(lo, abs=1e-9)
    assert optimize.brentq(f, 4.0, 8.0, xtol=1e-14) == pytest.approx(hi, abs=1e-9)


def test_staircase_in_cascade_window():
    """For ER graphs the window depends on phi only through K* = floor(1/phi)."""
    z = np.linspace(0.5, 10.0, 40)
    phi = np.linspace(0.07, 0.5, 60)
    w = cascade_window(z, phi)
    kstar = np.array([wc.k_star(p) for p in phi])
    for K in np.unique(kstar):
        cols = np.flatnonzero(kstar == K)
        # identical C1 columns (bitwise: the same F(1, k) enter the same sums) and windows
        assert np.array_equal(w.c1[:, cols], np.repeat(w.c1[:, cols[:1]], cols.size, axis=1))
        assert np.array_equal(w.cascades[:, cols], np.repeat(w.cascades[:, cols[:1]], cols.size, axis=1))
        expected = np.array([wc.er_c1(zz, phi[cols[0]]) for zz in z]) > 1
        assert np.array_equal(w.cascades[:, cols[0]], expected)
    # a real staircase: the windows differ between K* = 3, 4, 5, ...
    cols = [int(np.flatnonzero(kstar == K)[0]) for K in (3, 4, 5, 6)]
    sizes = [int(w.cascades[:, c].sum()) for c in cols]
    assert sizes == sorted(sizes) and len(set(sizes)) == 4


@pytest.mark.parametrize("phi", [0.18, 0.25])
@pytest.mark.parametrize("z", [1.5, 2.0, 4.0, 5.5])
def test_global_cascade_probability_against_theory(z, phi):
    v, prob, vul = vc.er_global_cascade(z, phi)
    r = global_cascade_probability(FractionalThreshold(phi), Poisson(z))
    assert r.v == pytest.approx(v, rel=1e-9, abs=1e-12)
    assert r.probability == pytest.approx(prob, rel=1e-9, abs=1e-12)
    assert r.vulnerable_fraction == pytest.approx(vul, rel=1e-9, abs=1e-12)
    assert (r.probability > 0) == (r.c1 > 1)


@pytest.mark.parametrize("z", [1.01, 1.1, 1.5, 2.0, 3.7, 8.0, 20.0])
def test_giant_component_against_theory(z):
    r = giant_component(Poisson(z))
    assert r.size == pytest.approx(float(gc.er_giant_component(z)), rel=1e-10)
    assert r.u == pytest.approx(1 - r.size, abs=1e-12)  # u = 1 - S for Poisson
    assert r.mean_excess == pytest.approx(z, rel=1e-10)


def test_giant_component_near_threshold():
    # S ~ 2 (z - 1): relative accuracy limited by the 1e-16 tail of the table, ~1e-16 / (z - 1)
    for eps in (1e-3, 1e-5, 1e-7):
        z = 1 + eps
        assert giant_component(Poisson(z)).size == pytest.approx(
            float(gc.er_giant_component(z)), rel=max(1e-10, 10 * 1e-16 / eps)
        )
    assert giant_component(Poisson(0.9)).size == 0.0
    assert giant_component(Regular(2)).size == 0.0  # mean excess exactly 1: critical, no giant component


@pytest.mark.parametrize(
    "k, M, rho0",
    [(3, 2, "1/20"), (3, 2, "1/4"), (4, 2, "1/10"), (5, 3, "1/20"), (5, 3, "1/4"), (6, 2, "1/10")],
)
def test_regular_bootstrap_against_exact(k, M, rho0):
    q, rho = tfp.regular_bootstrap_final(k, M, rho0)
    r = final_size(AbsoluteThreshold(M), Regular(k), float(Fraction(rho0)), trajectory=True)
    assert r.converged
    assert r.q == pytest.approx(q, abs=1e-10)
    assert r.rho == pytest.approx(rho, abs=1e-10)
    # the time course, exactly (rational arithmetic), for the first 5 steps
    rho_t, q_t = tfp.regular_bootstrap_trajectory(k, M, rho0, 4)
    np.testing.assert_allclose(r.rho_t[:6], [float(x) for x in rho_t], rtol=0, atol=1e-14)
    np.testing.assert_allclose(r.q_t[:5], [float(x) for x in q_t], rtol=0, atol=1e-14)


def test_regular_32_closed_form():
    for rho0 in (0.01, 0.1, 0.3, 0.45):
        r = final_size(AbsoluteThreshold(2), Regular(3), rho0)
        assert r.q == pytest.approx(rho0 / (1 - rho0), rel=1e-10)


@pytest.mark.parametrize(
    "z, p, rho0", [(4.0, 0.3, 0.01), (2.0, 0.4, 0.001), (3.0, 0.2, 0.05), (10.0, 0.5, 1e-6)]
)
def test_independent_cascade_against_lambert_w(z, p, rho0):
    r = final_size(IndependentCascade(p), Poisson(z), rho0)
    expected = tfp.er_independent_cascade(z, p, rho0)
    assert r.rho == pytest.approx(expected, abs=1e-10)
    assert r.q == pytest.approx(expected, abs=1e-10)  # G0 = G1 for Poisson


def test_damage_against_exact_recursion():
    pk = {1: "1/5", 2: "2/5", 3: "2/5"}
    dist = Empirical.from_pmf([0, 0.2, 0.4, 0.4])
    for theta, rho0 in (("1/2", "1/10"), ("1/3", "1/20"), ("3/4", "1/5")):
        rho_t, q_t = ls.damage_trajectory(pk, theta, rho0, 4)
        r = final_size(
            WeightedThreshold(float(Fraction(theta)), "damage"), dist, float(Fraction(rho0)), trajectory=True
        )
        assert r.error == 0.0  # loads 1, 1/2, 1/3 live on the lattice 1/6: exact
        m = min(r.rho_t.size, len(rho_t))
        np.testing.assert_allclose(r.rho_t[:m], [float(x) for x in rho_t][:m], rtol=0, atol=1e-13)
        np.testing.assert_allclose(r.q_t[: m - 1], [float(x) for x in q_t][: m - 1], rtol=0, atol=1e-13)


@pytest.mark.parametrize("k, theta, rho0", [(3, 0.5, 0.1), (4, 0.3, 0.05), (5, 0.25, 0.02), (6, 0.5, 0.2)])
def test_damage_on_regular_graphs_is_exposure(k, theta, rho0):
    # all loads are 1/k: damage and exposure diversification coincide
    a = final_size(WeightedThreshold(theta, "damage"), Regular(k), rho0, trajectory=True)
    b = final_size(FractionalThreshold(theta), Regular(k), rho0, trajectory=True)
    assert a.rho == pytest.approx(b.rho, abs=1e-13)
    np.testing.assert_allclose(a.rho_t[:8], b.rho_t[:8], atol=1e-13)


def test_iid_exponential_weights_against_erlang():
    theta, scale = 0.5, 0.2
    model = WeightedThreshold(theta, stats.expon(scale=scale))
    f_lo, f_hi = mf._iid_weight_response(model, 12)
    exact = np.array([ls.exponential_weight_response(m, theta, scale) for m in range(13)])
    # the lattice bounds bracket the exact F(m) (up to round-off) and are tight
    assert np.all(f_lo <= exact + 1e-13) and np.all(exact <= f_hi + 1e-13)
    assert np.max(f_hi - f_lo) < 1e-3
    # the final size brackets the one computed from the exact F with the reference iteration
    dist = Poisson(4.0)
    r = final_size(model, dist, 0.05)
    ref = reference_final_size(lambda m, k: exact[m] if m < 13 else 1.0, dist.pmf(1e-14), 0.05, n_iter=80)
    assert abs(r.rho - ref) <= r.error + 1e-9
    assert r.error < 1e-4


# ---------------------------------------------------------------------------
# kernels and solver paths against the slow reference
# ---------------------------------------------------------------------------

MODELS = [
    FractionalThreshold(0.18),
    FractionalThreshold(0.2, strict=True),
    AbsoluteThreshold(2),
    FractionalThreshold(stats.norm(0.2, 0.07)),
    IndependentCascade(0.35),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: repr(m))
def test_maps_against_reference(model):
    dist = Binomial(12, 0.3)
    P, E, K = mf._tables(dist)
    paths = mf._maps(model, P, E, K) + [
        mf._DenseMaps(P, E, K, mf._dense_table(mf._response_fn(model), K)),
        mf._BandMaps(P, E, K, mf._response_fn(model)),
    ]
    # q = 1e-300 is the smallest value scipy's binom.pmf (the reference) takes without overflow
    for q in (0.0, 1e-300, 1e-9, 0.013, 0.2, 0.5, 0.77, 0.999999, 1.0):
        G_ref, H_ref = reference_maps(model.response, dist.pmf(), q)
        for maps in paths:
            assert maps.g(q) == pytest.approx(G_ref, abs=1e-14)
            assert maps.h(q) == pytest.approx(H_ref, abs=1e-14)
    for maps in paths:  # subnormal q: no overflow, the value at q = 0 up to 1e-300
        assert maps.g(5e-324) == pytest.approx(maps.g(0.0), abs=1e-300)


@pytest.mark.parametrize(
    "model", [FractionalThreshold(stats.norm(0.25, 0.1)), IndependentCascade(0.2)], ids=repr
)
def test_band_path_against_dense_large_k(model):
    # K > DENSE_MAX: final_size takes the band path; compare with the dense O(K^2) table
    dist = PowerLaw(2.5, kmin=2, kmax=700)
    P, E, K = mf._tables(dist)
    band = mf._BandMaps(P, E, K, mf._response_fn(model))
    dense = mf._DenseMaps(P, E, K, mf._dense_table(mf._response_fn(model), K))
    for q in (0.0, 1e-4, 0.03, 0.4, 0.97, 1.0):
        assert band.g(q) == pytest.approx(dense.g(q), abs=1e-14)
        assert band.h(q) == pytest.approx(dense.h(q), abs=1e-14)


def test_band_pmf_against_scipy():
    n = np.array([0, 1, 7, 300, 9999], dtype=np.int64)
    for q in (0.0, 0.001, 0.5, 0.999, 1.0):
        lo = np.zeros(n.size, dtype=np.int64)
        length = n + 1
        start = np.concatenate([[0], np.cumsum(length)[:-1]])
        out = np.empty(int(length.sum()))
        _k.band_pmf(n, q, lo, length, start, out)
        ref = np.concatenate([stats.binom.pmf(np.arange(k + 1), k, q) for k in n])
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-15)


def test_lattice_sum_response_against_exact():
    # loads 1/k' with k' ~ e on the lattice 1/6 (exact): F(m) = P[sum of m iid >= 1/2]
    pk = {1: "1/5", 2: "2/5", 3: "2/5"}
    law = np.zeros(3)  # theta = 1/2 = 3/6: lattice points 0, 1, 2 lie below it
    e = {
        1: Fraction(1, 5) / Fraction(11, 5),
        2: Fraction(4, 5) / Fraction(11, 5),
        3: Fraction(6, 5) / Fraction(11, 5),
    }
    law[2] = float(e[3])  # 1/3 = 2/6
    over = float(e[1] + e[2])  # 1 and 1/2 reach theta alone
    over_tail = np.array([law.sum() + over, law[1:].sum() + over, law[2] + over, over])
    out = np.empty(6)
    _k.lattice_sum_response(np.array([2], dtype=np.int64), law[[2]], over_tail, np.zeros(3), 5, out)
    exact = [float(ls.damage_iid_response(pk, "1/2", m)) for m in range(6)]
    np.testing.assert_allclose(out, exact, atol=1e-15)
    # the FFT route of _sum_response gives the same for a dense law
    rng = np.random.default_rng(0)
    dense = rng.random(200)
    dense /= dense.sum() * 1.25
    cdf = np.zeros(200)
    sparse = np.empty(8)
    t = np.empty(201)
    t[200] = 0.2
    t[:200] = np.cumsum(dense[::-1])[::-1] + 0.2
    _k.lattice_sum_response(np.arange(200, dtype=np.int64), dense, t, cdf, 7, sparse)
    np.testing.assert_allclose(mf._sum_response(dense, 0.2, cdf, 7), sparse, atol=1e-13)


def test_window_kernel_against_final_size():
    z = np.array([1.5, 4.0, 6.0, 9.0])
    phi = np.array([0.12, 0.18, 0.3])
    w = cascade_window(z, phi, seed_fraction=0.01, tol=1e-12)
    for i, zz in enumerate(z):
        for j, pp in enumerate(phi):
            r = final_size(FractionalThreshold(pp), Poisson(zz), 0.01)
            assert w.final_size[i, j] == pytest.approx(r.rho, abs=1e-10)
            c = cascade_condition(FractionalThreshold(pp), Poisson(zz))
            assert w.c1[i, j] == pytest.approx(c.c1, rel=1e-12)
            assert w.c2[i, j] == pytest.approx(c.c2, rel=1e-12, abs=1e-14)


def test_window_with_other_models():
    w = cascade_window([2.0, 4.0], [0.2, 0.4], model=IndependentCascade, seed_fraction=0.01)
    for i, z in enumerate([2.0, 4.0]):
        for j, p in enumerate([0.2, 0.4]):
            assert w.final_size[i, j] == pytest.approx(tfp.er_independent_cascade(z, p, 0.01), abs=1e-9)
            assert w.c1[i, j] == pytest.approx(z * p, rel=1e-10)  # C1 = p <k(k-1)>/<k> = p z
    w = cascade_window([3.0], [0.3], model=lambda t: WeightedThreshold(t, "damage"), seed_fraction=0.05)
    assert w.final_size[0, 0] == pytest.approx(
        final_size(WeightedThreshold(0.3, "damage"), Poisson(3.0), 0.05).rho
    )


# ---------------------------------------------------------------------------
# tier (b): invariants
# ---------------------------------------------------------------------------


@settings(max_examples=15)
@given(
    z=st.floats(0.2, 12.0),
    phi=st.floats(0.0, 1.0),
    rho0=st.floats(0.0, 1.0),
)
def test_final_size_invariants(z, phi, rho0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r = final_size(FractionalThreshold(phi), Poisson(z), rho0, trajectory=True, max_iter=2000)
    assert rho0 - 1e-15 <= r.rho <= 1.0
    assert rho0 - 1e-15 <= r.q <= 1.0
    assert r.rho_t[0] == rho0 and r.rho_t[-1] == r.rho
    assert np.all(np.diff(r.rho_t) >= -1e-15)  # monotone model: nondecreasing in time
    assert np.all(np.diff(r.q_t) >= -1e-15)


def test_final_size_monotone_in_seed_and_threshold():
    dist = Poisson(7.0)
    seeds = np.linspace(0.0, 0.2, 21)
    rho = [final_size(FractionalThreshold(0.18), dist, s).rho for s in seeds]
    assert np.all(np.diff(rho) >= 0)
    phis = np.linspace(0.05, 0.6, 23)
    rho = [final_size(FractionalThreshold(p), dist, 0.02).rho for p in phis]
    assert np.all(np.diff(rho) <= 1e-15)
    ps = np.linspace(0.0, 1.0, 11)
    rho = [final_size(IndependentCascade(p), dist, 0.01).rho for p in ps]
    assert np.all(np.diff(rho) >= 0)


def test_first_fixed_point_not_any_root():
    """Beyond the finite-seed jump a large fixed point exists too: the iteration stops at the small one."""
    model, rho0 = FractionalThreshold(0.18), 0.01

    def rho(z):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return final_size(model, Poisson(z), rho0, max_iter=5000).rho

    lo, hi = 8.0, 12.0  # cascade at 8, none at 12
    for _ in range(12):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if rho(mid) > 0.5 else (lo, mid)
    z_small = hi + 0.01  # just beyond the jump (located to 1e-3): the small branch
    dist = Poisson(z_small)
    P, E, K = mf._tables(dist)
    maps = mf._maps(model, P, E, K)[0]
    qs = np.linspace(rho0, 1.0, 4001)
    gap = np.array([rho0 + (1 - rho0) * maps.g(q) - q for q in qs])
    crossings = np.flatnonzero(np.diff(np.sign(gap)) != 0)
    assert crossings.size >= 2  # several roots: the small stable one, an unstable one, the large one
    first = optimize.brentq(
        lambda q: rho0 + (1 - rho0) * maps.g(q) - q, qs[crossings[0]], qs[crossings[0] + 1]
    )
    r = final_size(model, dist, rho0)
    assert r.q == pytest.approx(first, abs=1e-10)
    assert r.q < 0.1 and r.rho < 0.1


def test_no_silent_stop_at_the_jump():
    """At the jump the iteration slows down without bound: converged=False and a warning, never silently."""
    model, rho0 = FractionalThreshold(0.18), 0.01
    lo, hi = 8.0, 12.0
    for _ in range(32):  # locate the jump to 1e-9
        mid = (lo + hi) / 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            big = final_size(model, Poisson(mid), rho0, max_iter=1000).rho > 0.5
        lo, hi = (mid, hi) if big else (lo, mid)
    with pytest.warns(ConvergenceWarning, match="no certified convergence"):
        r = final_size(model, Poisson(lo), rho0, max_iter=300)
    assert not r.converged and r.n_iter == 300
    # a generous budget away from the jump converges quickly
    assert final_size(model, Poisson(lo - 0.5), rho0).n_iter < 200


def test_trajectory_indexing():
    r = final_size(FractionalThreshold(0.18), Poisson(4.0), 0.01, trajectory=True)
    assert r.rho_t.size == r.n_iter + 2 and r.q_t.size == r.n_iter + 1
    assert r.q_t[0] == 0.01 and r.rho_t[0] == 0.01
    # rho after one step: the seeds plus the nodes with at least M_k seeded neighbours
    dist = Poisson(4.0)
    p = dist.pmf()
    k = np.arange(p.size)
    M = np.ceil(0.18 * k - 1e-12)
    M[0] = 1  # isolated nodes never activate (phi > 0)
    step1 = 0.01 + 0.99 * float(p @ np.where(M <= k, special.betainc(np.maximum(M, 1), k - M + 1, 0.01), 0.0))
    assert r.rho_t[1] == pytest.approx(step1, rel=1e-12)
    assert not r.rho_t.flags.writeable


def test_self_activating_nodes_start_at_step_one():
    # phi = 0: every node activates at step 1, without seeds
    r = final_size(FractionalThreshold(0.0), Poisson(3.0), 0.0, trajectory=True)
    assert r.rho == pytest.approx(1.0) and r.rho_t[0] == 0.0 and r.rho_t[1] == pytest.approx(1.0)
    c = cascade_condition(FractionalThreshold(0.0), Poisson(3.0))
    assert c.c0 == pytest.approx(1.0)


def test_zero_seed_stays_zero():
    r = final_size(FractionalThreshold(0.18), Poisson(4.0), 0.0)
    assert r.rho == 0.0 and r.converged and r.n_iter == 1


def test_cascade_condition_seeded_criterion():
    model = FractionalThreshold(0.18)
    assert cascade_condition(model, Poisson(4.0)).seeded_cascade  # C1 > 1
    c = cascade_condition(model, Poisson(6.0), seed_fraction=0.01)
    assert not c.cascades and c.seeded_cascade  # the finite seed extends the window beyond 5.76 ...
    assert final_size(model, Poisson(6.0), 0.01).rho > 0.9  # ... as the full fixed point confirms
    assert not cascade_condition(model, Poisson(6.0)).seeded_cascade


def test_global_probability_independent_cascade_is_bond_percolation():
    # single-seed IC on ER: v = p (1 - exp(-z v)) (bond percolation); with s = v / p,
    # s = 1 - exp(-z p s) = 1 + W(-a e^-a)/a (a = z p), and P_global = 1 - exp(-z v) = s
    z, p = 4.0, 0.4
    r = global_cascade_probability(IndependentCascade(p), Poisson(z))
    a = z * p
    s = 1 + special.lambertw(-a * math.exp(-a)).real / a
    assert r.v == pytest.approx(p * s, rel=1e-10)
    assert r.probability == pytest.approx(s, rel=1e-10)


def test_damage_global_probability():
    # deterministic theta: the spreading equation is the exposure one, but a seed of large degree
    # cannot topple anyone: P_global = 1 - sum_k p_k (1 - T_k y)^k < the exposure value
    d = global_cascade_probability(WeightedThreshold(0.18, "damage"), Poisson(4.0))
    e = global_cascade_probability(FractionalThreshold(0.18), Poisson(4.0))
    assert d.v == pytest.approx(e.v, rel=1e-12)
    assert d.c1 == pytest.approx(e.c1, rel=1e-12)
    p = Poisson(4.0).pmf()
    k = np.arange(p.size)
    expected = 1 - float(p @ np.where(k <= 5, (1 - d.v) ** k, 1.0))
    assert d.probability == pytest.approx(expected, rel=1e-12)
    assert math.isnan(d.vulnerable_fraction)


def test_from_graph_helpers():
    g = erdos_renyi(3000, 3.0, rng=4)
    emp = Empirical.from_degrees(g.degrees)
    model = FractionalThreshold(0.2)
    assert final_size_from_graph(g, model, 0.02).rho == final_size(model, emp, 0.02).rho
    assert cascade_condition_from_graph(g, model) == cascade_condition(model, emp)
    assert global_cascade_probability_from_graph(g, model) == global_cascade_probability(model, emp)
    assert giant_component_from_graph(g) == giant_component(emp)


def test_results_are_frozen():
    r = final_size(FractionalThreshold(0.18), Poisson(4.0), 0.01)
    with pytest.raises(AttributeError):
        r.rho = 0.5
    w = cascade_window([2.0], [0.2])
    assert isinstance(w, CascadeWindow) and not w.c1.flags.writeable and w.final_size is None


def test_power_law_kmax_1e4_step_path():
    r = final_size(FractionalThreshold(0.3), PowerLaw(2.5, kmin=2, kmax=10**4), 0.01)
    assert r.converged and 0.01 < r.rho < 0.1


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


def test_fiber_bundle_is_refused_with_a_pointer():
    for fn in (
        lambda m: final_size(m, Poisson(3.0), 0.1),
        lambda m: cascade_condition(m, Poisson(3.0)),
        lambda m: global_cascade_probability(m, Poisson(3.0)),
    ):
        with pytest.raises(TypeError, match=r"FiberBundle.*no analytic solver.*dynamics=.sync."):
            fn(FiberBundle(1.5))


def test_per_node_arrays_are_refused():
    with pytest.raises(TypeError, match="per-node"):
        final_size(FractionalThreshold(np.array([0.1, 0.2])), Poisson(3.0), 0.1)
    with pytest.raises(TypeError, match="per-node"):
        final_size(WeightedThreshold(np.array([0.1, 0.2]), "damage"), Poisson(3.0), 0.1)


@pytest.mark.parametrize("seed", [-0.1, 1.5, float("nan"), "0.1"])
def test_bad_seed_fraction(seed):
    with pytest.raises(ValueError, match="seed_fraction"):
        final_size(FractionalThreshold(0.2), Poisson(3.0), seed)


def test_bad_degrees():
    with pytest.raises(ValueError, match="mean degree 0"):
        final_size(FractionalThreshold(0.2), Poisson(0.0), 0.1)
    with pytest.raises(ValueError, match="mean degree 0"):
        giant_component(Regular(0))
    with pytest.raises(ValueError, match="infinite mean degree.*kmax"):
        final_size(FractionalThreshold(0.2), PowerLaw(1.8), 0.1)
    with pytest.raises(TypeError, match="degree distribution"):
        final_size(FractionalThreshold(0.2), [0.5, 0.5], 0.1)
    with pytest.raises(TypeError, match="cascades model"):
        final_size("watts", Poisson(3.0), 0.1)


def test_bad_numerics_and_graphs():
    with pytest.raises(ValueError, match="tol"):
        final_size(FractionalThreshold(0.2), Poisson(3.0), 0.1, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        final_size(FractionalThreshold(0.2), Poisson(3.0), 0.1, max_iter=0)
    directed = from_edges([(0, 1), (1, 2)], directed=True)
    with pytest.raises(ValueError, match="undirected"):
        final_size_from_graph(directed, FractionalThreshold(0.2), 0.1)
    with pytest.raises(ValueError, match="strict"):
        cascade_window([2.0], [0.2], model=IndependentCascade, strict=True)
    with pytest.raises(ValueError, match="z must"):
        cascade_window([], [0.2])
    with pytest.raises(ValueError, match="size_threshold"):
        cascade_window([2.0], [0.2], size_threshold=1.0)
