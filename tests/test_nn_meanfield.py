"""Mean-field signal propagation: closed forms (tier a), invariants (tier b), Monte Carlo (tier c).

All parameters are variances (sigma_w2, sigma_b2). Independent references use
scipy.integrate.quad + scipy.optimize.brentq, written out here so that they share no code with
the library.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, optimize

from cascades.nn import meanfield as mf
from cascades.nn.meanfield import (
    DepthScales,
    c_fixed_point,
    c_map,
    c_trajectory,
    chi1,
    chi_c,
    covariance_map,
    critical_weight_variance,
    depth_scales,
    gradient_norms,
    jacobian_spectrum_moments,
    phase_diagram,
    propagate,
    q_fixed_point,
    q_map,
    q_trajectory,
)


def gauss(f, q):
    # split at z = 0 and +-1 / sqrt(q) (tanh turns there; at q = 600 it is a near-step in z)
    s = math.sqrt(q)
    pts = sorted({-13.0, 0.0, 13.0, *[p / s for p in (-1.0, 1.0) if s > 1 / 13]})
    def h(z):
        return f(s * z) * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    pieces = zip(pts[:-1], pts[1:], strict=True)
    return sum(integrate.quad(h, a, b, epsabs=1e-15, epsrel=1e-13, limit=400)[0] for a, b in pieces)


def ref_tanh_qstar(sw, sb):
    def g(q):
        return sw * gauss(lambda u: math.tanh(u) ** 2, q) + sb - q

    return optimize.brentq(g, 1e-9, 2 * sw + sb + 1, xtol=1e-15, rtol=1e-15)


def ref_tanh_chi1(sw, sb):
    return sw * gauss(lambda u: (1 / math.cosh(u)) ** 4, ref_tanh_qstar(sw, sb))


# ---- tier (a): closed forms and independent references ---------------------------------------


@pytest.mark.parametrize("sb", [0.0, 0.05, 1.0])
def test_relu_critical_point_is_two(sb):
    assert critical_weight_variance("relu", sb) == pytest.approx(2.0, abs=1e-12)


@pytest.mark.parametrize("keep", [0.5, 0.8, 1.0])
def test_relu_dropout_critical_point_is_two_r(keep):
    # chi_1 = sigma_w^2 / (2 r) and the length map's slope is the same: both cross 1 at 2 r
    assert critical_weight_variance("relu", 0.1, keep=keep) == pytest.approx(2 * keep, abs=1e-12)
    assert q_fixed_point("relu", 2 * keep * 0.9, 0.1, keep=keep) == pytest.approx(0.1 / (1 - 0.9), rel=1e-12)
    assert q_fixed_point("relu", 2 * keep * 1.01, 0.1, keep=keep) == np.inf


def test_relu_chi1_and_fixed_points():
    sw = np.linspace(0.1, 3.9, 20)
    np.testing.assert_allclose(chi1("relu", sw, 0.3), sw / 2, rtol=1e-15)
    below = sw < 2
    np.testing.assert_allclose(q_fixed_point("relu", sw[below], 0.3), 0.3 / (1 - sw[below] / 2), rtol=1e-12)
    assert np.all(np.isinf(q_fixed_point("relu", sw[~below], 0.3)))
    assert q_fixed_point("relu", 2.0, 0.0) == np.inf  # every q is fixed: no attracting point
    assert q_fixed_point("relu", 1.0, 0.0) == 0.0
    ds = depth_scales("relu", 1.2, 0.3)
    assert ds.xi_q == pytest.approx(-1 / math.log(0.6), rel=1e-12)  # slope of the length map
    assert ds.xi_c == pytest.approx(-1 / math.log(0.6), rel=1e-12)  # ordered: chi_c = chi_1


def test_tanh_critical_point_against_independent_reference():
    # the critical sigma_w^2 of tanh at sigma_b^2 = 0.05 is "close to 1.76" (Schoenholz et al. 2017);
    # both computations give 1.760955 (to 1e-9)
    ref = optimize.brentq(lambda s: ref_tanh_chi1(s, 0.05) - 1, 1.2, 3, xtol=1e-14)
    got = critical_weight_variance("tanh", 0.05)
    assert got == pytest.approx(ref, abs=1e-9)
    assert round(got, 4) == 1.7610
    assert q_fixed_point("tanh", got, 0.05) == pytest.approx(ref_tanh_qstar(ref, 0.05), rel=1e-9)


@pytest.mark.parametrize(
    "sw, sb", [(0.5, 0.0), (1.3, 0.05), (2.5, 0.3), (9.0, 4.0), (25.0, 16.0), (400.0, 1.0)]
)
def test_tanh_q_star_and_chi1_against_quad(sw, sb):
    # the default (panel) rule: measured 1e-14 for q* up to 400, hence 1e-10 everywhere; the
    # 301-node trapezoid rule (n=301) degrades with q*: 2e-8 relative on chi_1 at q* = 38, 4e-3 at 400
    q_ref = ref_tanh_qstar(sw, sb) if sb > 0 or sw > 1 else 0.0
    assert q_fixed_point("tanh", sw, sb) == pytest.approx(q_ref, rel=1e-10, abs=1e-300)
    c_ref = sw * gauss(lambda u: (1 / math.cosh(u)) ** 4, q_ref)
    assert chi1("tanh", sw, sb) == pytest.approx(c_ref, rel=1e-10)
    if q_ref > 100:
        assert abs(chi1("tanh", sw, sb, n=301) / c_ref - 1) > 1e-4


def test_erf_q_star_uses_the_arcsine_closed_form():
    for sw, sb in ((0.8, 0.1), (3.0, 0.5)):
        def g(q, sw=sw, sb=sb):
            return sw * 2 / math.pi * math.asin(2 * q / (1 + 2 * q)) + sb - q

        ref = optimize.brentq(g, 1e-9, 100, xtol=1e-15)
        assert q_fixed_point("erf", sw, sb) == pytest.approx(ref, rel=1e-12)


def test_linear_maps_are_exact():
    cov = covariance_map("linear", 0.8, 0.2, 1.0, 3.0, 0.9)
    assert (cov.q11, cov.q22, cov.q12) == pytest.approx((1.0, 2.6, 0.92), rel=1e-14)
    assert cov.c == pytest.approx(0.92 / math.sqrt(2.6), rel=1e-14)
    np.testing.assert_allclose(q_trajectory("linear", 0.5, 1.0, 4.0, 3), [4.0, 3.0, 2.5, 2.25])
    assert q_fixed_point("linear", 0.5, 1.0) == pytest.approx(2.0, rel=1e-13)


def test_relu_c_map_is_the_normalised_arccos_kernel():
    for c in (-1.0, -0.3, 0.0, 0.5, 1.0):
        t = math.acos(c)
        expected = (math.sin(t) + (math.pi - t) * math.cos(t)) / math.pi
        assert c_map("relu", 2.0, 0.0, c, q=1.7) == pytest.approx(expected, abs=1e-14)


def test_erf_chaotic_c_star_without_bias_is_zero_and_chi_c_closed_form():
    assert c_fixed_point("erf", 4.0, 0.0) == pytest.approx(0.0, abs=1e-14)
    qs = q_fixed_point("erf", 4.0, 0.0)
    assert chi_c("erf", 4.0, 0.0) == pytest.approx(4.0 * 4 / math.pi / (1 + 2 * qs), rel=1e-12)


# ---- tier (b): invariants --------------------------------------------------------------------


@given(
    c=st.floats(-1.0, 1.0),
    sw=st.floats(0.1, 6.0),
    sb=st.floats(0.0, 2.0),
    name=st.sampled_from(["tanh", "relu", "erf", "sigmoid", "heaviside"]),
)
def test_c_map_maps_the_interval_into_itself(c, sw, sb, name):
    q = 0.8  # fixed length keeps this fast; the map is evaluated as defined, at equal lengths q
    out = c_map(name, sw, sb, c, q=q, n2=41)
    assert -1.0 <= out <= 1.0


@pytest.mark.parametrize("name", ["tanh", "relu", "erf", "sigmoid", "gelu"])
def test_c_equal_one_is_fixed_without_dropout_but_not_with(name):
    sw, sb = 1.5, 0.2
    assert c_map(name, sw, sb, 1.0) == pytest.approx(1.0, abs=1e-12)
    assert c_map(name, sw, sb, 1.0, keep=0.8) < 1.0 - 1e-3
    assert c_fixed_point(name, sw, sb, keep=0.8) < 1.0


@pytest.mark.parametrize("name", ["tanh", "erf", "sigmoid"])
def test_q_star_increases_with_weight_variance(name):
    sw = np.linspace(0.2, 6.0, 30)
    qs = q_fixed_point(name, sw, 0.1)
    assert np.all(np.diff(qs) > 0)


@pytest.mark.parametrize(
    "name, sb", [("tanh", 0.0), ("tanh", 0.05), ("tanh", 0.5), ("erf", 0.2), ("sigmoid", 0.1)]
)
def test_chi1_is_one_on_the_critical_line(name, sb):
    sw = critical_weight_variance(name, sb)
    assert chi1(name, sw, sb) == pytest.approx(1.0, abs=1e-10)
    assert chi1(name, 0.98 * sw, sb) < 1 < chi1(name, 1.02 * sw, sb)


def test_depth_scales_diverge_at_criticality():
    sw_c = critical_weight_variance("tanh", 0.05)
    eps = np.array([0.1, 0.03, 0.01, 0.003])
    below = depth_scales("tanh", sw_c - eps, 0.05)
    above = depth_scales("tanh", sw_c + eps, 0.05)
    assert isinstance(below, DepthScales)
    assert np.all(np.diff(below.xi_c) > 0) and np.all(np.diff(above.xi_c) > 0)
    assert below.xi_c[-1] > 300 and above.xi_c[-1] > 300
    # xi_q stays finite across the transition (Schoenholz et al. 2017, Fig. 1)
    assert np.all(np.isfinite(below.xi_q)) and np.all(below.xi_q < 3)
    at = depth_scales("tanh", sw_c, 0.05)
    assert at.xi_c > 1e5


def test_chaotic_fixed_point_is_a_stable_fixed_point():
    for name, sw, sb in (("tanh", 2.5, 0.05), ("tanh", 4.0, 1.0), ("relu", 2.0, 0.0)):
        if name == "relu":
            continue  # relu at 2: ordered/critical, c* = 1
        cs = c_fixed_point(name, sw, sb)
        assert 0 < cs < 1
        assert c_map(name, sw, sb, cs) == pytest.approx(cs, abs=1e-10)
        assert 0 < chi_c(name, sw, sb) < 1
        traj = c_trajectory(name, sw, sb, 0.6, 200)  # contraction chi_c^200 < 1e-7
        assert traj[-1] == pytest.approx(cs, abs=1e-8)


def test_dropout_destroys_the_critical_point():
    # with r < 1, c* < 1 on both sides and xi_c stays bounded (Schoenholz et al. 2017, Sec. 4)
    sws = np.linspace(1.0, 3.0, 9)
    ds = depth_scales("tanh", sws, 0.05, keep=0.9)
    assert np.all(ds.c_star < 1)
    assert np.all(np.isfinite(ds.xi_c)) and ds.xi_c.max() < 20


def test_gradient_norms_are_powers_of_chi1():
    ch = chi1("tanh", 1.5, 0.05)
    g = gradient_norms("tanh", 1.5, 0.05, 6)
    np.testing.assert_allclose(g, ch ** np.arange(5, -1, -1), rtol=1e-12)
    # from a length away from q*, the product of chi_1(q^l) along the trajectory
    q = q_trajectory("tanh", 1.5, 0.05, 3.0, 3)
    chis = [chi1("tanh", 1.5, 0.05, q=v) for v in q]
    g = gradient_norms("tanh", 1.5, 0.05, 4, q0=3.0)
    np.testing.assert_allclose(g, [chis[0] * chis[1] * chis[2], chis[1] * chis[2], chis[2], 1.0], rtol=1e-12)


def test_jacobian_spectrum_moments():
    g = jacobian_spectrum_moments("relu", 2.0, 0.0, 7)
    o = jacobian_spectrum_moments("relu", 2.0, 0.0, 7, weights="orthogonal")
    assert (g.mean, g.variance, o.variance) == (1.0, 14.0, 7.0)  # 2L and L (Pennington et al. 2017)
    sw = critical_weight_variance("tanh", 1e-4)
    t = jacobian_spectrum_moments("tanh", sw, 1e-4, 50, weights="orthogonal")
    assert t.mean == pytest.approx(1.0, rel=1e-8)
    # small q*: mu2 / mu1^2 - 1 is small, so orthogonal tanh is nearly isometric
    assert t.variance < 0.1 * jacobian_spectrum_moments("relu", 2.0, 0.0, 50, weights="orthogonal").variance
    off = jacobian_spectrum_moments("tanh", 3.0, 0.1, 4)
    assert off.mean == pytest.approx(off.chi1**4, rel=1e-14)
    assert off.variance == pytest.approx(off.chi1**8 * 4 * (off.mu2 / off.mu1**2 - 1 + 1), rel=1e-14)


def test_propagate_matches_separate_trajectories():
    t = propagate("tanh", 1.8, 0.1, 1.2, 5, q22=0.4, c=0.3)
    np.testing.assert_allclose(t.q11, q_trajectory("tanh", 1.8, 0.1, 1.2, 5), rtol=1e-14)
    np.testing.assert_allclose(t.q22, q_trajectory("tanh", 1.8, 0.1, 0.4, 5), rtol=1e-14)
    np.testing.assert_allclose(t.c, t.q12 / np.sqrt(t.q11 * t.q22), rtol=1e-14)
    assert t.c[0] == pytest.approx(0.3)


def test_phase_diagram_small_grid():
    w = np.array([1.0, 1.3, 2.0, 3.0])  # standard deviations
    b = np.array([0.0, 0.3, 1.0])
    pd = phase_diagram("tanh", w, b)
    coarse = phase_diagram("tanh", w, b, n=201, n2=61)  # cheaper quadrature
    assert np.nanmax(np.abs(coarse.c_star - pd.c_star)) < 1e-4  # measured 1.5e-5 at q* = 9.6
    assert np.nanmax(np.abs(coarse.chi1 - pd.chi1)) < 1e-7
    assert pd.chi1.shape == (4, 3) and pd.axes == "std"
    np.testing.assert_allclose(pd.sigma_w2, np.outer(w**2, np.ones(3)))
    for i, j in ((1, 1), (3, 2), (2, 0)):
        assert pd.q_star[i, j] == pytest.approx(q_fixed_point("tanh", w[i] ** 2, b[j] ** 2, n=301), rel=1e-8)
        assert pd.chi1[i, j] == pytest.approx(chi1("tanh", w[i] ** 2, b[j] ** 2), rel=1e-8)
        assert pd.c_star[i, j] == pytest.approx(c_fixed_point("tanh", w[i] ** 2, b[j] ** 2), abs=1e-10)
    np.testing.assert_array_equal(pd.chaotic, pd.chi1 > 1)
    # the classification flips at the critical line
    for j in range(3):
        crit = critical_weight_variance("tanh", b[j] ** 2)
        np.testing.assert_array_equal(pd.chaotic[:, j], w**2 > crit)
    pv = phase_diagram("tanh", w**2, b**2, axes="variance", correlations=False)
    np.testing.assert_allclose(pv.chi1, pd.chi1, rtol=1e-14)
    assert np.all(pv.c_star[~pv.chaotic] == 1) and np.all(np.isnan(pv.c_star[pv.chaotic]))


# ---- tier (c): Monte Carlo of the maps with seeded draws -------------------------------------


def test_q_map_and_covariance_map_against_monte_carlo():
    # one wide random layer: h_i = sum_j W_ij phi(x_j) + b_i with x ~ N(0, q) iid; the empirical
    # second moments over n * m samples have relative standard error about sqrt(2 / (n m))
    rng = np.random.default_rng(2024)
    n_in, n_out, sw, sb = 2000, 400, 1.7, 0.2
    q11, q22, c = 0.9, 1.6, 0.6
    L = np.linalg.cholesky(np.array([[q11, c * math.sqrt(q11 * q22)], [c * math.sqrt(q11 * q22), q22]]))
    x = rng.standard_normal((n_in, 2)) @ L.T
    phi = np.tanh(x)
    W = rng.normal(0.0, math.sqrt(sw / n_in), (n_out, n_in))
    bias = rng.normal(0.0, math.sqrt(sb), n_out)
    h = W @ phi + bias[:, None]
    cov = covariance_map("tanh", sw, sb, q11, q22, c * math.sqrt(q11 * q22))
    emp = h.T @ h / n_out
    # the finite input sample adds O(1/sqrt(n_in)) relative noise; 0.1 covers > 4 standard errors
    assert emp[0, 0] == pytest.approx(cov.q11, rel=0.1)
    assert emp[1, 1] == pytest.approx(cov.q22, rel=0.1)
    assert emp[0, 1] == pytest.approx(cov.q12, rel=0.1)
    assert q_map("tanh", sw, sb, q11) == pytest.approx(cov.q11, rel=1e-14)


@pytest.mark.slow
def test_gradient_norm_ratio_against_a_random_network():
    # backpropagate a random unit vector through a random tanh network of width 1000
    rng = np.random.default_rng(7)
    width, depth, sw, sb = 1000, 6, 1.5, 0.05
    qs = q_fixed_point("tanh", sw, sb)
    h = rng.normal(0, math.sqrt(qs), width)
    Ws, hs = [], []
    for _ in range(depth):
        W = rng.normal(0, math.sqrt(sw / width), (width, width))
        hs.append(h)
        h = W @ np.tanh(h) + rng.normal(0, math.sqrt(sb), width)
        Ws.append(W)
    delta = rng.standard_normal(width)
    norms = [delta @ delta]
    for W, hprev in zip(reversed(Ws), reversed(hs), strict=True):
        delta = (W.T @ delta) / np.cosh(hprev) ** 2
        norms.append(delta @ delta)
    ratio = norms[-1] / norms[0]
    expected = chi1("tanh", sw, sb) ** depth
    assert ratio == pytest.approx(expected, rel=0.15)  # 6 layers of relative noise ~ sqrt(2/1000) each


# ---- bad input -------------------------------------------------------------------------------


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="sigma_w2"):
        q_map("tanh", -1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="sigma_b2"):
        q_fixed_point("tanh", 1.0, -0.1)
    with pytest.raises(ValueError, match="sigma_b2"):
        critical_weight_variance("tanh", -0.1)
    with pytest.raises(ValueError, match="keep"):
        q_map("tanh", 1.0, 0.0, 1.0, keep=0.0)
    with pytest.raises(ValueError, match="keep"):
        chi1("tanh", 1.0, 0.0, keep=1.5)
    with pytest.raises(ValueError, match="relu.*tanh"):
        chi1("softplus", 1.0, 0.0)
    with pytest.raises(ValueError, match="sigma_w, sigma_b"):
        phase_diagram("tanh", np.linspace(1, 5, 3000), np.linspace(0, 4, 3000))
    with pytest.raises(ValueError, match="axes"):
        phase_diagram("tanh", [1.0], [0.0], axes="log")
    with pytest.raises(ValueError, match="sigma_w"):
        phase_diagram("tanh", [-1.0], [0.0])
    with pytest.raises(ValueError, match="c must"):
        c_map("tanh", 1.0, 0.0, 1.5)
    with pytest.raises(ValueError, match="q12"):
        covariance_map("tanh", 1.0, 0.0, 1.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="depth"):
        gradient_norms("tanh", 1.0, 0.0, 0)
    with pytest.raises(ValueError, match="weights"):
        jacobian_spectrum_moments("tanh", 1.0, 0.0, 3, weights="uniform")
    with pytest.raises(ValueError, match="no edge of chaos"):
        critical_weight_variance("heaviside", 0.1)
    # the quadrature sizes: None (the accurate default) or an int >= 2
    with pytest.raises(ValueError, match="n2 must be an integer >= 2"):
        phase_diagram("tanh", [1.0], [0.0], n2=1)
    with pytest.raises(ValueError, match="n2 must be an integer >= 2"):
        c_map("tanh", 1.0, 0.0, 0.5, q=1.0, n2=0.5)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        q_fixed_point("tanh", 1.0, 0.1, n=1)


def test_no_silent_early_stop(monkeypatch):
    with pytest.raises(RuntimeError, match="did not converge"):
        q_fixed_point("tanh", 2.0, 0.1, max_iter=2)
    with pytest.raises(RuntimeError, match="did not converge"):
        c_fixed_point("tanh", 3.0, 0.1, max_iter=2)


def test_results_are_frozen():
    ds = depth_scales("tanh", 1.5, 0.05)
    with pytest.raises(AttributeError):
        ds.xi_c = 1.0
    assert mf.Trajectory.__dataclass_params__.frozen


# ---- the sympy / mpmath derivations in theory/nn_kernels.py -----------------------------------


def test_against_theory():
    nk = pytest.importorskip("theory.nn_kernels")
    sw = np.linspace(0.2, 4.0, 7)
    np.testing.assert_allclose(chi1("relu", sw, 0.1), nk.relu_chi1(sw), rtol=1e-15)
    s_ref, q_ref = nk.tanh_critical_point(0.05)  # mpmath, 20 digits
    assert critical_weight_variance("tanh", 0.05) == pytest.approx(s_ref, abs=1e-10)
    assert q_fixed_point("tanh", s_ref, 0.05) == pytest.approx(q_ref, rel=1e-10)


# ---- the numba fast path (cascades/nn/_kernels.py) against the numpy reference -----------------

from cascades.nn import _kernels as K  # noqa: E402
from cascades.nn.activations import (  # noqa: E402
    custom_activation,
    expect_phi_sq,
    get_activation,
    quadrature_rule,
)


def _rel(a, b, floor):
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), floor))


def _assert_same_diagram(fast, ref, rtol=1e-10):
    # q* -> 0 (sigma_b = 0, sigma_w <= 1) is reached by Newton only to ~1e-11 absolute, hence the
    # atol on q*; c* in [0, 1] is compared absolutely (c* ~ 1e-5 occurs with small biases)
    for field, tols in (("q_star", {"rtol": rtol, "atol": 1e-10}), ("chi1", {"rtol": rtol}),
                        ("c_star", {"rtol": 0, "atol": 1e-10}), ("chi_c", {"rtol": rtol})):
        a, b = getattr(fast, field), getattr(ref, field)
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b), err_msg=field)
        m = np.isfinite(b)
        np.testing.assert_allclose(a[m], b[m], err_msg=field, **tols)
    np.testing.assert_array_equal(fast.chaotic, ref.chaotic)


def _assert_close_diagram(fast, ref):
    # the default rules: the numba path's trapezoid sizes are chosen per point for 1e-9 (1-D) and
    # 1e-8 (2-D kernels) relative, the numpy path's panel rule is good to 1e-14; c* moves with the
    # kernel error over 1 - chi_c and chi_c with both (measured on Poole's grid: q*, chi_1 3e-12,
    # c* 2e-11, chi_c 3e-10), hence 1e-9 and 1e-8
    for field, tols in (("q_star", {"rtol": 1e-9, "atol": 1e-10}), ("chi1", {"rtol": 1e-9}),
                        ("c_star", {"rtol": 0, "atol": 1e-8}), ("chi_c", {"rtol": 1e-8})):
        a, b = getattr(fast, field), getattr(ref, field)
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b), err_msg=field)
        m = np.isfinite(b)
        np.testing.assert_allclose(a[m], b[m], err_msg=field, **tols)
    # the classification agrees except on the critical line itself (gelu at sigma_w^2 = 4,
    # sigma_b^2 = 0 has q* = 0 and chi_1 = 4 * 1/4 = 1 up to the last bit of either rule)
    sure = np.abs(ref.chi1 - 1) > 1e-9
    np.testing.assert_array_equal(fast.chaotic[sure], ref.chaotic[sure])


def test_fast_phase_diagram_matches_the_scalar_functions_on_random_points():
    # tier (a): with a fixed rule (n = 301, n2 = 121) both methods use the same quadrature and
    # stopping rules, so the only differences are round-off and where Newton stops inside the
    # 1e-12 tolerance
    rng = np.random.default_rng(5)
    w = np.sort(rng.uniform(1.0, 5.0, 5))
    b = np.sort(rng.uniform(0.0, 4.0, 4))
    pd = phase_diagram("tanh", w, b, n=301, n2=121)
    ref = phase_diagram("tanh", w, b, method="numpy", n=301, n2=121)
    _assert_same_diagram(pd, ref)
    assert 0 < pd.chaotic.sum() < pd.chaotic.size  # both phases are exercised
    for i, j in ((0, 0), (2, 1), (4, 3), (3, 0)):
        sw, sb = w[i] ** 2, b[j] ** 2
        assert pd.q_star[i, j] == pytest.approx(mf._q_star(get_activation("tanh"), np.asarray(sw),
                                                           np.asarray(sb), 1.0, 301, 1e-13, 200), rel=1e-10)
        assert pd.q_star[i, j] == pytest.approx(q_fixed_point("tanh", sw, sb, n=301), rel=1e-10)
        assert pd.chi1[i, j] == pytest.approx(chi1("tanh", sw, sb, n=301), rel=1e-10)
        assert pd.c_star[i, j] == pytest.approx(c_fixed_point("tanh", sw, sb, n=301, n2=121), abs=1e-10)
    # the default rules: trapezoid sizes chosen from q* in numba, the panel rule in numpy
    _assert_close_diagram(phase_diagram("tanh", w, b), phase_diagram("tanh", w, b, method="numpy"))


@pytest.mark.parametrize("name", ["sigmoid", "gelu", "silu", "selu", "hardtanh"])
def test_fast_phase_diagram_matches_numpy_for_every_quadrature_activation(name):
    w = np.array([1.2, 2.0, 3.5])
    b = np.array([0.0, 0.2, 1.0])
    # a fixed rule: the numba kernels (selu and hardtanh included) against numpy with the same rule
    fast = phase_diagram(name, w, b, keep=0.9, n=301, n2=121)  # dropout: c* < 1 is solved at every point
    ref = phase_diagram(name, w, b, keep=0.9, method="numpy", n=301, n2=121)
    _assert_same_diagram(fast, ref)
    # gelu, silu and selu grow without bound: q* = inf; with sigma_b = 0 and a small sigma_w, q* = 0
    # (gelu, silu, selu); c* = nan at both
    fin = np.isfinite(fast.q_star) & (fast.q_star > 0)
    assert fin.sum() >= 2 and np.all(fast.c_star[fin] < 1) and np.all(np.isnan(fast.c_star[~fin]))
    # the default rules (selu and hardtanh: numpy's panel rule on both paths)
    default = phase_diagram(name, w, b, keep=0.9)
    _assert_close_diagram(default, phase_diagram(name, w, b, keep=0.9, method="numpy"))


def test_fast_path_is_only_for_the_registry_objects():
    mine = mf.Activation("tanh", np.tanh, lambda x: 1 / np.cosh(x) ** 2, lambda x: 0 * x)
    assert mf._kernel_code(mine) == -1
    assert mf._kernel_code(get_activation("tanh")) == K.TANH
    assert mf._kernel_code(get_activation("relu")) == K.RELU
    sin = custom_activation(np.sin, np.cos, lambda x: -np.sin(x), name="sin")
    assert mf._kernel_code(sin) == -1
    # the numpy fallback still runs for a callable: sin is odd, so without bias c* = 0 when chaotic
    pd = phase_diagram(sin, [3.0], [0.0])
    assert pd.chaotic[0, 0] and pd.c_star[0, 0] == pytest.approx(0.0, abs=1e-10)


def test_kernel_phi_matches_the_numpy_activations():
    # every kernel code against the numpy activation it re-implements, kinks included
    x = np.concatenate([np.linspace(-30, 30, 601), [-1.0, 0.0, 1.0, 1e-300, -1e-300]])
    for name, code in K.CODES.items():
        act = get_activation(name)
        got = np.array([K.phi_derivs(code, v) for v in x])
        np.testing.assert_allclose(got[:, 0], act.phi(x), rtol=1e-14, atol=1e-15, err_msg=name)
        np.testing.assert_allclose(got[:, 1], act.dphi(x), rtol=1e-13, atol=1e-15, err_msg=name)
        if act.smooth and name != "linear":
            np.testing.assert_allclose(got[:, 2], act.d2phi(x), rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("code", [K.TANH, K.SIGMOID, K.SILU, K.GELU])
def test_row_sums_against_direct_evaluation(code):
    # the geometric-sequence rows (two exponentials per row) against phi evaluated node by node;
    # the recurrence loses at most 2 m eps relative over m <= 121 steps
    act = get_activation({v: k for k, v in K.CODES.items()}[code])
    z, w = quadrature_rule(121)
    for sq, cz, sf in ((0.3, 0.1, 0.9), (6.2, -2.5, 0.2), (30.0, 4.0, 0.99), (1.0, 0.0, 1.0)):
        x = sq * (cz + sf * z)
        pw = np.empty(121)
        dx = sq * sf * (z[-1] - z[0]) / 120
        scale = 2.0 if code == K.TANH else 1.0
        pw[:] = np.exp(-scale * dx) ** np.arange(121)
        got = K.row_sums(code, sq, cz, sf, z, w, 3, 118, pw, scale, dx)
        sl = slice(3, 118)
        with np.errstate(over="ignore"):  # numpy's 1 / cosh(x)^2 overflows to 0 for |x| > 355
            ref = (w[sl] @ act.phi(x[sl]), w[sl] @ act.dphi(x[sl]), w[sl] @ act.d2phi(x[sl]))
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)


def _kernel_pair(name, q, c, n2=121, inner=None):
    # the numba 2-D rule: n2 outer nodes, ``inner`` inner nodes (default n2: the square rule)
    code = K.CODES[name]
    z, w = quadrature_rule(n2)
    zi, wi = quadrature_rule(inner or n2)
    sq = math.sqrt(q)
    d = np.array([K.phi_derivs(code, v) for v in sq * z])
    jlo, jhi, wrow, zrow = mf._inner_ranges(z, w, zi, wi)
    return K.kernel_pair(code, sq, c, z, w, zi, wi, jlo, jhi, wrow, zrow, d[:, 0].copy(), d[:, 1].copy(),
                         d[:, 2].copy(), np.empty(n2))


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu", "silu"])
def test_kernel_pair_with_the_default_sizes_is_accurate(name):
    # tier (a): the sizes the default numba path picks (outer from q, inner from q (1 - c^2), as in
    # meanfield._c_star_fast) against the panel rule: 1e-8 relative, the accuracy they are chosen for
    act = get_activation(name)
    code = K.CODES[name]
    for q in (0.5, 9.0, 38.0, 200.0):
        n2 = int(mf._TRAP_2D[mf._trap_level(code, np.array(q), two_d=True)])
        ladder = np.array([m for m in (*mf._TRAP_INNER, *mf._TRAP_2D) if m < n2] + [n2])
        for c in (0.0, 0.3, 0.8, 0.99, 0.99999):
            inner = int(ladder[K.inner_index(ladder, mf._TRAP_SLOPE_INNER[code], mf._TRAP_OFFSET_INNER,
                                             math.sqrt(q), c)])
            k, dk, _ = _kernel_pair(name, q, c, n2, inner)
            k_ref, dk_ref = mf._dkernels_equal(act, np.array([q]), np.array([c]), None)
            bound = float(expect_phi_sq(act, q))  # |E[phi phi]| <= E[phi^2]
            assert abs(k - k_ref[0]) <= 1e-8 * bound, (q, c, n2, inner)
            assert dk == pytest.approx(dk_ref[0], rel=1e-8), (q, c, n2, inner)


def test_kernel_pair_closed_forms():
    # tier (a): erf against the arcsine kernel (Williams 1998) and its derivatives; the 121-node
    # trapezoid rule is spectrally accurate for erf at these lengths (measured < 1e-14)
    act = get_activation("erf")
    for q, c in ((0.5, 0.3), (2.0, 0.8), (4.0, -0.6), (1.0, 0.0)):
        k, dk, _ = _kernel_pair("erf", q, c)
        assert k == pytest.approx(float(act.kernel(q, q, c * q)), abs=1e-13)
        assert dk == pytest.approx(float(act.dkernel(q, q, c * q)), abs=1e-13)
    k, dk, d2k = _kernel_pair("linear", 3.0, 0.4)  # E[u1 u2] = c q, E[1] = 1, E[0] = 0
    assert (k, dk, d2k) == pytest.approx((1.2, 1.0, 0.0), abs=1e-13)


def test_kernel_pair_second_derivative_is_the_slope_of_the_first():
    # invariant: d/dc E[phi'(u1) phi'(u2)] = q E[phi''(u1) phi''(u2)] (Price's theorem), here by a
    # central difference of step 1e-4 (truncation ~1e-8 relative)
    for name, q, c in (("tanh", 3.0, 0.5), ("gelu", 2.0, 0.7), ("sigmoid", 5.0, 0.2), ("silu", 1.5, 0.9)):
        _, dk_p, _ = _kernel_pair(name, q, c + 1e-4)
        _, dk_m, _ = _kernel_pair(name, q, c - 1e-4)
        _, _, d2k = _kernel_pair(name, q, c)
        assert (dk_p - dk_m) / 2e-4 == pytest.approx(q * d2k, rel=1e-6)


def test_kernel_pair_matches_the_numpy_two_dimensional_rule():
    for name in ("tanh", "sigmoid", "gelu", "silu", "selu", "hardtanh"):
        act = get_activation(name)
        for q, c in ((0.7, 0.2), (9.0, 0.95), (38.0, 0.6)):
            k, dk, _ = _kernel_pair(name, q, c)
            k_ref, dk_ref = mf._dkernels_equal(act, np.array([q]), np.array([c]), 121)
            assert k == pytest.approx(k_ref[0], rel=1e-12, abs=1e-14), name
            assert dk == pytest.approx(dk_ref[0], rel=1e-12, abs=1e-14), name


def test_kernel_pair_against_monte_carlo():
    # tier (c): E[tanh(u1) tanh(u2)] from 4 * 10^5 seeded Gaussian pairs; the tolerance is five
    # standard errors of the sample mean (estimated from the same sample)
    rng = np.random.default_rng(11)
    q, c, m = 2.5, 0.7, 400_000
    z1, z2 = rng.standard_normal((2, m))
    u1 = math.sqrt(q) * z1
    u2 = math.sqrt(q) * (c * z1 + math.sqrt(1 - c * c) * z2)
    k, dk, _ = _kernel_pair("tanh", q, c)
    for vals, value in ((np.tanh(u1) * np.tanh(u2), k), (1 / np.cosh(u1) ** 2 / np.cosh(u2) ** 2, dk)):
        assert abs(vals.mean() - value) < 5 * vals.std() / math.sqrt(m)


def test_fast_phase_diagram_invariants():
    # tier (b): c* is a fixed point of the numpy correlation map, stable (chi_c < 1), in [0, 1]
    w = np.linspace(1.0, 5.0, 9)
    b = np.linspace(0.0, 4.0, 7)
    pd = phase_diagram("tanh", w, b)
    assert np.all((pd.c_star >= 0) & (pd.c_star <= 1))
    np.testing.assert_array_equal(pd.c_star < 1, pd.chaotic)
    assert np.all(pd.chi_c[pd.chaotic] < 1)
    np.testing.assert_array_equal(pd.chi_c[~pd.chaotic], pd.chi1[~pd.chaotic])
    for i, j in zip(*np.nonzero(pd.chaotic), strict=True):
        sw, sb = pd.sigma_w2[i, j], pd.sigma_b2[i, j]
        got = c_map("tanh", sw, sb, pd.c_star[i, j], q=pd.q_star[i, j])
        assert got == pytest.approx(pd.c_star[i, j], abs=1e-11)
    # q* grows with sigma_w along every column, with sigma_b along every row
    assert np.all(np.diff(pd.q_star, axis=0) > 0) and np.all(np.diff(pd.q_star[:, 1:], axis=1) > 0)
    without = phase_diagram("tanh", w, b, correlations=False)
    np.testing.assert_array_equal(without.q_star, pd.q_star)
    np.testing.assert_array_equal(without.chi1, pd.chi1)


def test_phase_diagram_method_is_checked():
    with pytest.raises(ValueError, match="method"):
        phase_diagram("tanh", [1.0], [0.0], method="fast")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu", "silu"])
def test_default_phase_diagram_on_poole_grid_matches_numpy(name):
    # Poole et al.'s 41 x 41 grid with the default rules: trapezoid sizes from q* (numba) against
    # the panel rule (numpy), at the accuracy the sizes are chosen for
    w = np.linspace(1.0, 5.0, 41)
    b = np.linspace(0.0, 4.0, 41)
    _assert_close_diagram(phase_diagram(name, w, b), phase_diagram(name, w, b, method="numpy"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu", "silu", "selu", "hardtanh"])
def test_fast_phase_diagram_on_poole_grid_matches_numpy(name):
    # Poole et al.'s 41 x 41 grid (sigma_w in [1, 5], sigma_b in [0, 4]), both phases, with the
    # fixed rule (n = 301, n2 = 121) shared by the numba kernels and the numpy reference
    w = np.linspace(1.0, 5.0, 41)
    b = np.linspace(0.0, 4.0, 41)
    fast = phase_diagram(name, w, b, n=301, n2=121)
    ref = phase_diagram(name, w, b, method="numpy", n=301, n2=121)
    if name != "hardtanh":
        # chi_c near the critical line (chi_c -> 1) is ill-conditioned: measured 3e-11
        _assert_same_diagram(fast, ref, rtol=1e-10)
        return
    # hardtanh: a kinked activation without a closed-form kernel. Near the critical line the
    # 121-node quadrature of its correlation map is not convex and has extra roots close to c = 1
    # (it even overshoots 1 there); the two methods start from different points (the numpy one
    # from c = 0, the numba one from its neighbours' c*) and may stop at different roots: measured
    # 4 of 1681 points, all with c* > 0.85. Both answers are fixed points of the quadrature map.
    for field in ("q_star", "chi1"):
        np.testing.assert_allclose(getattr(fast, field), getattr(ref, field), rtol=1e-10)
    same = np.abs(fast.c_star - ref.c_star) <= 1e-10
    assert np.count_nonzero(~same) <= 6
    assert np.all(fast.chaotic[~same]) and np.all(np.minimum(fast.c_star, ref.c_star)[~same] > 0.8)
    for i, j in zip(*np.nonzero(~same), strict=True):
        sw, sb, q = fast.sigma_w2[i, j], fast.sigma_b2[i, j], fast.q_star[i, j]
        for cs in (fast.c_star[i, j], ref.c_star[i, j]):
            assert c_map("hardtanh", sw, sb, cs, q=q, n=301, n2=121) == pytest.approx(cs, abs=1e-10)
