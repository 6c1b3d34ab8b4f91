"""The Gaussian expectations of cascades.nn.activations against independent adaptive quadrature.

Every registry activation (and a custom kinked one) is written out again here with the ``math``
module, from its definition (torch's formulas), and integrated with ``scipy.integrate.quad``
(nested for 2-D), split at the kinks and at a few u-scales chosen here (not the library's
panel ends); the library is not called to build any reference. The library's default rule
(``n=None``) must match at **1e-8 relative** to the size of the value: the accuracy the
mean-field solvers are documented with, 1000 times the measured worst error (1e-11). The
closed forms (relu, leaky relu, linear, erf, hardtanh, elu, selu, heaviside) go through the
same checks.
"""

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

from cascades.nn import activations as A
from cascades.nn.activations import (
    custom_activation,
    elu_activation,
    erf_activation,
    expect_dphi_dphi,
    expect_dphi_power,
    expect_dphi_sq,
    expect_phi_phi,
    expect_phi_sq,
    expect_phi_sq_slope,
    gaussian_expectation,
    gaussian_expectation_2d,
    get_activation,
    leaky_relu_activation,
)
from cascades.nn.meanfield import chi_c, critical_weight_variance, q_fixed_point

# ---- the activations, from their definitions ------------------------------------------------

SELU_ALPHA = 1.6732632423543772848170429916717  # torch.nn.SELU (Klambauer et al. 2017)
SELU_LAMBDA = 1.0507009873554804934193349852946
GK, GB = math.sqrt(2 / math.pi), 0.044715  # torch's gelu(approximate="tanh")


def _sigmoid(u):
    return 1 / (1 + math.exp(-u)) if u >= 0 else math.exp(u) / (1 + math.exp(u))


def _sech2(u):
    e = math.exp(-2 * abs(u))
    return 4 * e / (1 + e) ** 2


def _ndtr(u):
    return 0.5 * math.erfc(-u / math.sqrt(2))


def _npdf(u):
    return math.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)


def _elu(alpha, lam):
    return (lambda u: lam * (u if u > 0 else alpha * math.expm1(u)),
            lambda u: lam * (1.0 if u > 0 else alpha * math.exp(u)))


def _gelu_tanh_d(u):
    # d/du [0.5 u (1 + tanh g)] = 0.5 (1 + tanh g) + 0.5 u sech^2(g) g', g = k (u + b u^3)
    g = GK * (u + GB * u**3)
    return _sigmoid(2 * g) + 0.5 * u * _sech2(g) * GK * (1 + 3 * GB * u * u)


def _leaky(a):
    return lambda u: u if u > 0 else a * u, lambda u: 1.0 if u > 0 else a


# name -> (phi, phi', kinks, odd)
DEFS = {
    "relu": (lambda u: max(u, 0.0), lambda u: 1.0 if u > 0 else 0.0, (0.0,), False),
    "leaky_relu": (*_leaky(0.01), (0.0,), False),
    "leaky_relu(0.2)": (*_leaky(0.2), (0.0,), False),
    "linear": (lambda u: u, lambda u: 1.0, (), True),
    "tanh": (math.tanh, _sech2, (), True),
    "erf": (math.erf, lambda u: 2 / math.sqrt(math.pi) * math.exp(-u * u), (), True),
    "erf(0.5)": (lambda u: math.erf(u / 2), lambda u: math.exp(-u * u / 4) / math.sqrt(math.pi), (), True),
    "sigmoid": (_sigmoid, lambda u: _sigmoid(u) * _sigmoid(-u), (), False),
    "hardtanh": (lambda u: min(max(u, -1.0), 1.0), lambda u: 1.0 if abs(u) < 1 else 0.0, (-1.0, 1.0), True),
    "gelu": (lambda u: u * _ndtr(u), lambda u: _ndtr(u) + u * _npdf(u), (), False),
    # 0.5 (1 + tanh g) written as 1 / (1 + e^{-2g}): 1 + tanh(g) is all round-off for g < -18
    "gelu_tanh": (lambda u: u * _sigmoid(2 * GK * (u + GB * u**3)), _gelu_tanh_d, (), False),
    "silu": (lambda u: u * _sigmoid(u), lambda u: _sigmoid(u) * (1 + u * _sigmoid(-u)), (), False),
    "selu": (*_elu(SELU_ALPHA, SELU_LAMBDA), (0.0,), False),
    "elu": (*_elu(1.0, 1.0), (0.0,), False),
    "elu(0.5)": (*_elu(0.5, 1.0), (0.0,), False),
    "heaviside": (lambda u: 1.0 if u > 0 else 0.0, None, (0.0,), False),
    "softsign": (lambda u: u / (1 + abs(u)), lambda u: 1 / (1 + abs(u)) ** 2, (0.0,), True),
}


def library(name):
    if name == "softsign":  # a custom activation with a kink in phi'' at 0
        return custom_activation(lambda x: x / (1 + np.abs(x)), lambda x: 1 / (1 + np.abs(x)) ** 2,
                                 lambda x: -2 * np.sign(x) / (1 + np.abs(x)) ** 3, name="softsign",
                                 kinks=(0.0,))
    return get_activation(name)


# ---- the references: scipy.integrate.quad split at the kinks and at u = 0, +-0.25, +-1, ... ----

L = 11.0  # P(|z| > 11) = 4e-28
U_SPLIT = (0.0, 0.25, -0.25, 1.0, -1.0, 3.0, -3.0, 10.0, -10.0, 30.0, -30.0)


def _split(points):
    pts = sorted({p for p in points if -L < p < L})
    return list(zip([-L, *pts], [*pts, L], strict=True))


def ref_1d(f, q, kinks=()):
    """E[f(sqrt(q) z)] by quad, pieces split at (kinks and U_SPLIT) / sqrt(q); relative 1e-13."""
    s = math.sqrt(q)
    pieces = _split([u / s for u in (*U_SPLIT, *kinks)])
    h = lambda z: f(s * z) * _npdf(z)  # noqa: E731
    return sum(integrate.quad(h, a, b, epsabs=0.0, epsrel=1e-13, limit=400)[0] for a, b in pieces)


def ref_2d(f, g, q11, q22, c, kinks=()):
    """E[f(u1) g(u2)] by nested quad, u1 = s1 z1, u2 = s2 (c z1 + sqrt(1 - c^2) z2); relative 1e-12,
    absolute 1e-16 per piece (the pieces where g is ~0, e.g. gelu at u << 0, end on round-off)."""
    s1, s2 = math.sqrt(q11), math.sqrt(q22)
    sf = math.sqrt(max(0.0, 1.0 - c * c))

    def inner(z1):
        if sf == 0.0:
            return g(s2 * c * z1)
        pieces = _split([(u / s2 - c * z1) / sf for u in (*U_SPLIT, *kinks)])
        h = lambda z2: g(s2 * (c * z1 + sf * z2)) * _npdf(z2)  # noqa: E731
        return sum(integrate.quad(h, a, b, epsabs=1e-16, epsrel=1e-12, limit=400)[0] for a, b in pieces)

    outer_pts = [u / s1 for u in (*U_SPLIT, *kinks)]
    if c != 0.0:
        outer_pts += [u / (s2 * c) for u in (*U_SPLIT, *kinks)]
    h = lambda z1: f(s1 * z1) * inner(z1) * _npdf(z1)  # noqa: E731
    pieces = _split(outer_pts)
    return sum(integrate.quad(h, a, b, epsabs=1e-16, epsrel=1e-12, limit=400)[0] for a, b in pieces)


def close(got, ref, scale=None, tol=1e-8):
    """|got - ref| <= tol * max(|ref|, scale): relative to the size of the value (scale: its natural size
    when the value itself can be 0, e.g. E[phi(u1) phi(u2)] of an odd phi near c = 0)."""
    size = max(abs(ref), scale if scale is not None else 0.0)
    return abs(float(got) - ref) <= tol * size


# ---- 1-D: E[phi^2], E[phi'^2], mu_2 = E[phi'^4], d/dq E[phi^2] ---------------------------------

QS = (1e-3, 0.05, 1.0, 7.0, 150.0, 1e4)


@pytest.mark.parametrize("name", list(DEFS))
def test_one_dimensional_expectations_against_quad(name):
    phi, dphi, kinks, _ = DEFS[name]
    act = library(name)
    assert act.kinks == kinks
    for q in QS:
        ref = ref_1d(lambda u: phi(u) ** 2, q, kinks)
        # 1e-8 relative: the promised accuracy (measured <= 1e-14 for the panel rule and closed forms)
        assert close(expect_phi_sq(act, q), ref), (name, q)
        if dphi is None:  # heaviside: phi' is a Dirac delta
            assert float(expect_dphi_sq(act, q)) == np.inf
            continue
        assert close(expect_dphi_sq(act, q), ref_1d(lambda u: dphi(u) ** 2, q, kinks)), (name, q)
        assert close(expect_dphi_power(act, q, 2), ref_1d(lambda u: dphi(u) ** 4, q, kinks)), (name, q)


@pytest.mark.parametrize("name", list(DEFS))
def test_slope_of_the_length_map_against_a_difference_quotient(name):
    # d/dq E[phi^2] against the fourth-order central difference of the quad reference, step
    # h = 1e-3 q: truncation ~ h^4 |f^(5)| ~ 1e-12 relative, round-off ~ 1.5 * 1e-14 / 1e-3 = 1.5e-11
    # (quad at 1e-13, in practice 1e-15); hence 1e-8 relative. No phi'' is used: this also checks the
    # Dirac terms of hardtanh's closed form.
    phi, _, kinks, _ = DEFS[name]
    act = library(name)
    for q in QS:
        h = 1e-3 * q
        e = [ref_1d(lambda u: phi(u) ** 2, q + k * h, kinks) for k in (-2, -1, 1, 2)]
        ref = (e[0] - 8 * e[1] + 8 * e[2] - e[3]) / (12 * h)
        # relative to E[phi^2] / q, the size of the slope (heaviside's slope is 0)
        assert close(expect_phi_sq_slope(act, q), ref, scale=0.5 * (e[1] + e[2]) / q), (name, q)


def test_slope_at_zero_is_the_limit():
    # q -> 0+: E[phi'^2 + phi phi''] at u = 0, one-sided values averaged at a kink (selu: the
    # closed form's lambda^2 (1 + alpha^2) / 2)
    assert float(expect_phi_sq_slope("selu", 0.0)) == pytest.approx(SELU_LAMBDA**2 * (1 + SELU_ALPHA**2) / 2,
                                                                    rel=1e-14)
    assert float(expect_phi_sq_slope("tanh", 0.0)) == pytest.approx(1.0, rel=1e-14)
    soft = library("softsign")
    assert float(expect_phi_sq_slope(soft, 0.0)) == pytest.approx(1.0, rel=1e-10)
    # the limit is approached continuously: phi'^2 + phi phi'' = 1 - 6 |u| + 18 u^2 + O(|u|^3) for
    # softsign (a kink in phi''), so the slope is 1 - 6 sqrt(q) E|z| + 18 q + O(q^1.5)
    expected = 1 - 6e-4 * math.sqrt(2 / math.pi) + 18e-8
    assert float(expect_phi_sq_slope(soft, 1e-8)) == pytest.approx(expected, abs=1e-10)


# ---- 2-D: E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)] ----------------------------------------

COVS_QUICK = [(1.0, 1.0, 0.5), (0.3, 5.0, -0.7), (38.0, 38.0, 0.999999)]
COVS_SLOW = [
    (1.0, 1.0, 0.0), (1.0, 1.0, -0.5), (1.0, 1.0, 0.99), (1.0, 1.0, 0.999999), (1.0, 1.0, -1.0),
    (2.0, 2.0, 1.0),
    (5.0, 0.3, 0.5), (1e-3, 1e-3, 0.5), (38.0, 38.0, 0.9), (4000.0, 4000.0, 0.9), (1e4, 1e4, 0.999999),
    (1e4, 1e-2, 0.6), (150.0, 7.0, -0.99),
]


def _check_2d(name, cov):
    phi, dphi, kinks, _ = DEFS[name]
    act = library(name)
    q11, q22, c = cov
    q12 = c * math.sqrt(q11 * q22)
    # scale: sqrt(E[phi(u1)^2] E[phi(u2)^2]) bounds |E[phi(u1) phi(u2)]| (Cauchy-Schwarz); the kernel
    # can vanish (odd phi near c = 0), so the error is measured against that bound
    scale = math.sqrt(ref_1d(lambda u: phi(u) ** 2, q11, kinks) * ref_1d(lambda u: phi(u) ** 2, q22, kinks))
    ref = ref_2d(phi, phi, q11, q22, c, kinks)
    # 1e-8 relative to the bound (measured <= 5e-12 for the panel rule)
    assert close(expect_phi_phi(act, q11, q22, q12), ref, scale=scale), (name, cov)
    if dphi is not None:
        dscale = math.sqrt(ref_1d(lambda u: dphi(u) ** 2, q11, kinks)
                           * ref_1d(lambda u: dphi(u) ** 2, q22, kinks))
        ref_d = ref_2d(dphi, dphi, q11, q22, c, kinks)
        assert close(expect_dphi_dphi(act, q11, q22, q12), ref_d, scale=dscale), (name, cov)


@pytest.mark.parametrize("cov", COVS_QUICK)
@pytest.mark.parametrize("name", list(DEFS))
def test_two_dimensional_kernels_against_nested_quad(name, cov):
    _check_2d(name, cov)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # the reference's round-off notes
@pytest.mark.parametrize("cov", COVS_SLOW)
@pytest.mark.parametrize("name", list(DEFS))
def test_two_dimensional_kernels_against_nested_quad_everywhere(name, cov):
    _check_2d(name, cov)


def test_heaviside_dkernel_is_the_density_at_the_origin():
    # E[delta(u1) delta(u2)] = the bivariate normal density at (0, 0), from scipy.stats
    from scipy.stats import multivariate_normal

    for q11, q22, c in ((1.0, 1.0, 0.3), (0.5, 4.0, -0.8)):
        q12 = c * math.sqrt(q11 * q22)
        ref = multivariate_normal(mean=[0, 0], cov=[[q11, q12], [q12, q22]]).pdf([0.0, 0.0])
        assert float(expect_dphi_dphi("heaviside", q11, q22, q12)) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("name", ["hardtanh", "selu", "elu", "elu(0.5)"])
def test_closed_form_gaussian_smoothing(name):
    # (E[phi(m + s Z)], E[phi'(m + s Z)]) in closed form, against quad (1e-12 relative to the
    # size of phi there, max(1, |m|)); s = 0 is the limit (phi(m), phi'(m))
    phi, dphi, kinks, _ = DEFS[name]
    act = library(name)
    for m in (-40.0, -3.0, -1.0, -0.2, 0.0, 0.7, 1.0, 5.0, 300.0):
        for s in (0.0, 1e-3, 0.3, 1.0, 4.0, 60.0):
            g0, g1 = (float(v) for v in act.smoothed(m, s))
            if s == 0.0:
                ref0, ref1 = phi(m), dphi(m) if m not in kinks else g1
            else:
                pieces = _split([(u - m) / s for u in (*kinks, *U_SPLIT)])

                def avg(f, m=m, s=s, pieces=pieces):
                    h = lambda z: f(m + s * z) * _npdf(z)  # noqa: E731
                    return sum(integrate.quad(h, a, b, epsabs=0, epsrel=1e-13)[0] for a, b in pieces)

                ref0, ref1 = avg(phi), avg(dphi)
            size = max(1.0, abs(m))
            assert abs(g0 - ref0) <= 1e-12 * size, (m, s, g0, ref0)
            assert abs(g1 - ref1) <= 1e-12 * size, (m, s, g1, ref1)


def test_smoothed_kernels_match_the_two_dimensional_rule():
    # two numerical routes to the same kernels: the 1-D rule over the closed-form inner average
    # (the default for hardtanh, elu, selu) and the 2-D panel rule (measured to agree to 2e-15)
    for name in ("hardtanh", "selu", "elu(0.5)"):
        act = library(name)
        for q11, q22, c in ((1.0, 1.0, 0.999999), (38.0, 38.0, 0.9), (0.3, 5.0, -0.7), (1e4, 1e-2, 0.6)):
            q12 = c * math.sqrt(q11 * q22)
            for fn, f in ((expect_phi_phi, act.phi), (expect_dphi_dphi, act.dphi)):
                ref = float(gaussian_expectation_2d(f, f, q11, q22, q12, kinks=act.kinks))
                assert float(fn(act, q11, q22, q12)) == pytest.approx(ref, rel=1e-12, abs=1e-15)


# ---- invariants (tier b) ----------------------------------------------------------------------

QUAD_NAMES = ["tanh", "sigmoid", "hardtanh", "gelu", "gelu_tanh", "silu", "selu", "elu", "softsign"]


@pytest.mark.parametrize("name", QUAD_NAMES)
def test_two_dimensional_kernels_reduce_to_one_dimensional_ones_at_c_equal_one(name):
    # c = 1, q11 = q22: u1 = u2, so the 2-D rules must give the 1-D expectations (to the accuracy of
    # the two rules, 1e-10; measured 1e-13)
    act = library(name)
    for q in (1e-3, 1.0, 38.0, 1e4):
        one_d = float(expect_phi_sq(act, q)), float(expect_dphi_sq(act, q))
        assert float(expect_phi_phi(act, q, q, q)) == pytest.approx(one_d[0], rel=1e-10)
        assert float(expect_dphi_dphi(act, q, q, q)) == pytest.approx(one_d[1], rel=1e-10)


@pytest.mark.parametrize("name", QUAD_NAMES)
def test_two_dimensional_kernels_are_symmetric(name):
    # swapping the two inputs: a different panel layout, the same integral (1e-10; measured 1e-13)
    act = library(name)
    for q11, q22, c in ((0.3, 5.0, 0.6), (1e-3, 40.0, -0.9), (2.0, 1e3, 0.999)):
        q12 = c * math.sqrt(q11 * q22)
        for fn in (expect_phi_phi, expect_dphi_dphi):
            a, b = float(fn(act, q11, q22, q12)), float(fn(act, q22, q11, q12))
            assert a == pytest.approx(b, rel=1e-10, abs=1e-14), (fn.__name__, q11, q22, c)


@pytest.mark.parametrize("name", [n for n, d in DEFS.items() if d[3]])
def test_odd_activations_are_uncorrelated_at_c_zero(name):
    # E[phi(u1) phi(u2)] = E[phi(u1)] E[phi(u2)] = 0 at c = 0 for odd phi (round-off: 1e-15 of the
    # bound sqrt(E phi^2 E phi^2))
    act = library(name)
    for q11, q22 in ((1.0, 1.0), (0.2, 300.0), (1e4, 1e4)):
        bound = math.sqrt(float(expect_phi_sq(act, q11)) * float(expect_phi_sq(act, q22)))
        assert abs(float(expect_phi_phi(act, q11, q22, 0.0))) <= 1e-14 * bound


def test_vectorised_and_chunked_evaluation_match_pointwise(monkeypatch):
    # the rule depends on each point only: chunks of any size and broadcasting give the same numbers
    q11 = np.array([1e-3, 0.5, 38.0, 1e4])
    q22 = np.array([[2.0], [40.0]])
    q12 = 0.7 * np.sqrt(q11 * q22)
    act = get_activation("selu")
    full = expect_phi_phi(act, q11, q22, q12)
    monkeypatch.setattr(A, "_CHUNK", 1000)
    small = expect_phi_phi(act, q11, q22, q12)
    assert full.shape == (2, 4)
    np.testing.assert_allclose(small, full, rtol=1e-14)
    for i in range(2):
        for j in range(4):
            one = float(expect_phi_phi(act, q11[j], q22[i, 0], q12[i, j]))
            assert one == pytest.approx(full[i, j], rel=1e-13)


def test_generic_expectations_take_kinks():
    # |u|: E|u| = sqrt(2 q / pi); the kink at 0 is a panel end
    got = float(gaussian_expectation(np.abs, 3.0, kinks=(0.0,)))
    assert got == pytest.approx(math.sqrt(6 / math.pi), rel=1e-14)
    relu = lambda x: np.maximum(x, 0.0)  # noqa: E731
    # arc-cosine kernel (Cho & Saul 2009) at unequal lengths, from the closed form of the registry
    got = gaussian_expectation_2d(relu, relu, 0.4, 9.0, -1.2, kinks=(0.0,))
    assert float(got) == pytest.approx(float(get_activation("relu").kernel(0.4, 9.0, -1.2)), rel=1e-10)
    # the fixed rules stay available
    assert float(gaussian_expectation(np.square, 2.0, n=41)) == pytest.approx(2.0, rel=1e-12)


# ---- closed forms of ELU and SELU (Clevert et al. 2016; Klambauer et al. 2017) ---------------


def test_selu_chi1_values():
    # E[selu'(z)^2] at q = 1 by mpmath at 30 digits: lambda^2 (1/2 + alpha^2 e^2 erfc(sqrt 2) / 2)
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(30):
        lam, alpha = mpmath.mpf(SELU_LAMBDA), mpmath.mpf(SELU_ALPHA)
        ref = mpmath.quad(lambda z: (lam * (alpha * mpmath.exp(z) if z < 0 else 1)) ** 2 * mpmath.npdf(z),
                          [-mpmath.inf, 0, mpmath.inf])
    assert float(expect_dphi_sq("selu", 1.0)) == pytest.approx(float(ref), rel=1e-14)
    assert float(ref) == pytest.approx(1.0715749924558, rel=1e-12)
    # (the 1.07168 is a Monte Carlo estimate: 1.05e-4 away, under 2 standard errors at 1e8 samples)
    # the q -> 0 limit lambda^2 (1 + alpha^2) / 2 (half the mass on each side of the kink)
    limit = SELU_LAMBDA**2 * (1 + SELU_ALPHA**2) / 2
    assert float(expect_dphi_sq("selu", 0.0)) == pytest.approx(limit, rel=1e-15)


def test_elu_closed_forms_at_extreme_lengths():
    # small q: the series branch (the closed form cancels there) against mpmath at 40 digits;
    # large q: erfcx keeps every moment finite (q = 1e12 is reached by the q* bracket expansion)
    mpmath = pytest.importorskip("mpmath")
    act = elu_activation(0.5)
    for q in (1e-12, 1e-6, 0.2, 0.26, 3.0):
        with mpmath.workdps(40):
            s = mpmath.sqrt(mpmath.mpf(q))
            ref = mpmath.quad(lambda z, s=s: (0.5 * mpmath.expm1(s * z)) ** 2 * mpmath.npdf(z),
                              [-mpmath.inf, 0])
            ref += q / 2
        assert float(expect_phi_sq(act, q)) == pytest.approx(float(ref), rel=1e-13), q
    big = np.array([1e6, 1e12])
    assert np.all(np.isfinite(act.mean_dsq(big))) and np.all(np.isfinite(act.dmean_sq(big)))
    np.testing.assert_allclose(act.mean_dsq(big), 0.5, rtol=1e-3)
    assert float(act.mean_dsq(np.inf)) == 0.5


def test_critical_point_of_selu_against_an_independent_solve():
    # the reference 0.90177 at sigma_b^2 = 0.05; solved here with quad + brentq only: on the
    # critical line sigma_w^2 = 1 / E[phi'^2](q*) and q* = E[phi^2](q*) / E[phi'^2](q*) + sigma_b^2
    # (Hayou et al. 2019), a root in q alone. Both sides at ~1e-12, compared at 1e-9.
    phi, dphi, kinks, _ = DEFS["selu"]

    def e2(q):
        return ref_1d(lambda u: phi(u) ** 2, q, kinks)

    def d2(q):
        return ref_1d(lambda u: dphi(u) ** 2, q, kinks)

    qs = optimize.brentq(lambda q: e2(q) / d2(q) + 0.05 - q, 1e-3, 10.0, xtol=1e-14)
    ref = 1 / d2(qs)
    got = critical_weight_variance("selu", 0.05)
    assert got == pytest.approx(ref, rel=1e-9)
    assert round(got, 5) == 0.90177
    assert q_fixed_point("selu", got, 0.05) == pytest.approx(qs, rel=1e-8)
    # sigma_b^2 = 0: below the critical point q* = 0 and chi_1 = sigma_w^2 lim E[phi'^2], so the
    # critical point is 2 / (lambda^2 (1 + alpha^2)). Just above it q* ~ eps^2 and the sqrt(q) terms of
    # E[phi^2] and E[phi'^2] cancel in chi_1 = 1 + O(eps^2): the root is found only to ~sqrt(1e-16)
    # (measured 3e-9), hence 1e-7
    limit = 2 / (SELU_LAMBDA**2 * (1 + SELU_ALPHA**2))
    assert critical_weight_variance("selu", 0.0) == pytest.approx(limit, rel=1e-7)


def test_chi_c_of_hardtanh_against_an_independent_solve():
    # the reference chi_c = 0.80517 at (sigma_w^2, sigma_b^2) = (4, 0.05). Here the inner
    # Gaussian average of hardtanh is in closed form, E[clip(m + sd Z, -1, 1)] (a piecewise-linear
    # function against a Gaussian), so the kernels are 1-D quads; q* and c* by brentq. 1e-9.
    sw, sb = 4.0, 0.05
    phi, _, kinks, _ = DEFS["hardtanh"]
    qs = optimize.brentq(lambda q: sw * ref_1d(lambda u: phi(u) ** 2, q, kinks) + sb - q, 1e-6, 10.0,
                         xtol=1e-15)
    s = math.sqrt(qs)

    def clip_mean(m, sd):
        a, b = (-1 - m) / sd, (1 - m) / sd
        return m * (_ndtr(b) - _ndtr(a)) + sd * (_npdf(a) - _npdf(b)) + (1 - _ndtr(b)) - _ndtr(a)

    def kernel(c, deriv):
        sf = math.sqrt(1 - c * c)
        if deriv:  # E[1{|u1| < 1} 1{|u2| < 1}]
            h = lambda z: _npdf(z) * (_ndtr((1 / s - c * z) / sf) - _ndtr((-1 / s - c * z) / sf))  # noqa: E731
            return integrate.quad(h, -1 / s, 1 / s, epsabs=0, epsrel=1e-13)[0]
        h = lambda z: _npdf(z) * phi(s * z) * clip_mean(s * c * z, s * sf)  # noqa: E731
        pieces = _split([-1 / s, 0.0, 1 / s])
        return sum(integrate.quad(h, a, b, epsabs=0, epsrel=1e-13)[0] for a, b in pieces)

    cs = optimize.brentq(lambda c: (sw * kernel(c, False) + sb) / qs - c, 0.0, 0.999, xtol=1e-15)
    ref = sw * kernel(cs, True)
    got = chi_c("hardtanh", sw, sb)
    assert got == pytest.approx(ref, rel=1e-9)
    assert round(got, 6) == 0.805146
    # the 0.80517 is a Monte Carlo estimate: within its standard error (1.6e-4 at 1e8 samples)
    assert abs(got - 0.80517) < 1.6e-4


# ---- Monte Carlo (tier c) ---------------------------------------------------------------------


def test_monte_carlo_selu_chi1_and_hardtanh_kernel():
    # seeded draws; tolerance 5 standard errors of the sample mean (estimated from the same sample)
    rng = np.random.default_rng(20240611)
    m = 2_000_000
    z = rng.standard_normal(m)
    vals = get_activation("selu").dphi(z) ** 2  # q = 1
    assert abs(vals.mean() - float(expect_dphi_sq("selu", 1.0))) < 5 * vals.std() / math.sqrt(m)
    q11, q22, c = 2.0, 0.7, 0.6
    z1, z2 = rng.standard_normal((2, m))
    u1 = math.sqrt(q11) * z1
    u2 = math.sqrt(q22) * (c * z1 + math.sqrt(1 - c * c) * z2)
    ht = get_activation("hardtanh")
    q12 = c * math.sqrt(q11 * q22)
    for vals, value in ((ht.phi(u1) * ht.phi(u2), expect_phi_phi(ht, q11, q22, q12)),
                        (ht.dphi(u1) * ht.dphi(u2), expect_dphi_dphi(ht, q11, q22, q12))):
        assert abs(vals.mean() - float(value)) < 5 * vals.std() / math.sqrt(m)


# ---- the old fixed rules stay reproducible, and are what the issue measured --------------------


def test_fixed_trapezoid_rule_is_kept_for_an_explicit_n():
    # an explicit n keeps the trapezoid rule node for node (reproducible); it is the inaccurate
    # one the issue reported for selu (2.3 % too high at q = 1 with 301 nodes)
    selu = get_activation("selu")
    trap = float(gaussian_expectation(lambda u: selu.dphi(u) ** 2, 1.0, n=301))
    assert trap == pytest.approx(1.096095, rel=1e-6)
    ref = float(expect_dphi_sq("selu", 1.0))
    assert trap / ref - 1 == pytest.approx(0.0229, abs=2e-4)
    z, w = A.quadrature_rule(121)
    u = math.sqrt(3.0) * z
    assert float(expect_phi_sq("tanh", 3.0, n=121)) == pytest.approx(float(np.tanh(u) ** 2 @ w), rel=1e-15)


def test_parameterised_names_round_trip():
    for act in (leaky_relu_activation(0.2), elu_activation(0.5), erf_activation(0.5), elu_activation(2.0),
                leaky_relu_activation(1e-5)):
        assert get_activation(act.name) is act
    assert leaky_relu_activation(0.2).name == "leaky_relu(0.2)"
    assert elu_activation(0.5).name == "elu(0.5)"
    assert erf_activation(0.5).name == "erf(0.5)"
    assert elu_activation(2.0).name == "elu(2)"
    assert get_activation("Leaky_ReLU( 0.2 )") is leaky_relu_activation(0.2)
    factories = (("leaky_relu", leaky_relu_activation), ("elu", elu_activation), ("erf", erf_activation))
    for plain, factory in factories:
        assert factory().name == plain and factory() is get_activation(plain)
    assert get_activation("leaky_relu(0.01)") is get_activation("leaky_relu")
    assert get_activation("elu(1)") is get_activation("elu")
    with pytest.raises(ValueError, match="alpha"):
        get_activation("elu(-1)")
    with pytest.raises(ValueError, match="must be a number"):
        get_activation("elu(abc)")
    with pytest.raises(ValueError, match="activation must be"):
        get_activation("tanh(2)")


def test_gelu_tanh_is_torchs_approximation():
    # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (torch's nn.GELU(approximate="tanh")), within
    # 5e-4 of the exact GELU (Hendrycks & Gimpel 2016)
    act = get_activation("gelu_tanh")
    x = np.linspace(-8, 8, 161)
    ref = 0.5 * x * (1 + np.tanh(GK * (x + GB * x**3)))
    np.testing.assert_allclose(act.phi(x), ref, rtol=1e-14, atol=1e-15)  # the library keeps -1e-20 at x = -8
    assert np.max(np.abs(act.phi(x) - x * special.ndtr(x))) < 5e-4
    h = 1e-6
    np.testing.assert_allclose(act.dphi(x), (act.phi(x + h) - act.phi(x - h)) / (2 * h), atol=1e-8)
    np.testing.assert_allclose(act.d2phi(x), (act.dphi(x + h) - act.dphi(x - h)) / (2 * h), atol=1e-7)
