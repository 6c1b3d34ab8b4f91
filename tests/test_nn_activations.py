"""Activations: registry, derivatives, closed-form Gaussian kernels against quadrature.

Tolerances: closed forms vs scipy.integrate.quad / high-order quadrature at 1e-10 (tier a); the
fixed rules (an explicit ``n``: trapezoid, Gauss-Hermite) are tested at the accuracy they
actually reach (stated next to each assertion). The default panel rule is checked against
independent adaptive quadrature for every activation in ``tests/test_nn_quadrature.py``.
"""

import numpy as np
import pytest
from scipy import integrate

from cascades.nn import activations as A
from cascades.nn.activations import (
    Activation,
    available_activations,
    custom_activation,
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
    quadrature_rule,
)

NAMES = [
    "relu", "leaky_relu", "linear", "tanh", "erf", "sigmoid", "hardtanh", "gelu", "gelu_tanh", "silu", "selu",
    "elu", "heaviside",
]
X = np.linspace(-3.3, 3.1, 37)  # avoids the kinks at 0 and +-1


def quad_gauss(f, q):
    """E[f(sqrt(q) z)] by adaptive quadrature, split at 0 and at u = +-1 (the kinks)."""
    s = np.sqrt(q)
    pts = sorted({0.0, 1.0 / s, -1.0 / s})
    g = lambda z: f(s * z) * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)  # noqa: E731
    edges = [-14.0, *pts, 14.0]
    pieces = zip(edges[:-1], edges[1:], strict=True)
    return sum(integrate.quad(g, a, b, epsabs=1e-15, epsrel=1e-13, limit=200)[0] for a, b in pieces)


def test_registry_names_and_aliases():
    names = available_activations()
    for name in NAMES:
        assert name in names
        assert get_activation(name).name == name
    assert get_activation("swish").name == "silu"
    assert get_activation("SiLU").name == "silu"
    assert get_activation("step").name == "heaviside"
    assert get_activation("hard-tanh").name == "hardtanh"
    assert get_activation("gelu-tanh").name == "gelu_tanh"
    assert set(available_activations()) >= set(NAMES)
    act = get_activation("tanh")
    assert get_activation(act) is act


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="activation.*relu.*tanh.*heaviside.*got 'softsign'"):
        get_activation("softsign")
    with pytest.raises(ValueError, match="custom_activation"):
        get_activation(np.tanh)
    with pytest.raises(ValueError, match="activation"):
        get_activation(3)


def test_activation_is_frozen():
    act = get_activation("relu")
    with pytest.raises(AttributeError):
        act.name = "other"


@pytest.mark.parametrize("name", [n for n in NAMES if n != "heaviside"])
def test_derivatives_against_finite_differences(name):
    act = get_activation(name)
    h = 1e-6
    fd1 = (act.phi(X + h) - act.phi(X - h)) / (2 * h)
    np.testing.assert_allclose(act.dphi(X), fd1, atol=1e-8)  # central differences: O(h^2) + 1e-16/h
    fd2 = (act.dphi(X + h) - act.dphi(X - h)) / (2 * h)
    np.testing.assert_allclose(act.d2phi(X), fd2, atol=1e-7)


def test_torch_conventions():
    # values that torch.nn.functional gives (constants checked by hand, torch not imported)
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_allclose(get_activation("leaky_relu").phi(x), np.where(x > 0, x, 0.01 * x))
    np.testing.assert_allclose(get_activation("hardtanh").phi(x), np.clip(x, -1, 1))
    np.testing.assert_allclose(get_activation("silu").phi(x), x / (1 + np.exp(-x)), rtol=1e-14)
    selu = get_activation("selu")
    assert selu.phi(np.array(-50.0)) == pytest.approx(-1.0507009873554805 * 1.6732632423543772, rel=1e-12)
    np.testing.assert_allclose(get_activation("elu").phi(x), np.where(x > 0, x, np.expm1(x)), rtol=1e-15)
    lam, alpha = 1.0507009873554805, 1.6732632423543772
    np.testing.assert_allclose(selu.phi(x), lam * np.where(x > 0, x, alpha * np.expm1(x)), rtol=1e-15)
    from scipy.special import erf
    np.testing.assert_allclose(get_activation("gelu").phi(x), 0.5 * x * (1 + erf(x / np.sqrt(2))), rtol=1e-14)
    step = get_activation("heaviside").phi(np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(step, [0.0, 0.0, 1.0])


def test_quadrature_rules_integrate_polynomials():
    for rule, n in (("gauss-hermite", 20), ("trapezoid", 201)):
        z, w = quadrature_rule(n, rule=rule)
        assert w.sum() == pytest.approx(1.0, abs=1e-14)
        for k, m in ((2, 1.0), (4, 3.0), (6, 15.0), (8, 105.0)):
            assert w @ z**k == pytest.approx(m, rel=1e-12)
    with pytest.raises(ValueError, match="rule"):
        quadrature_rule(10, rule="simpson")
    with pytest.raises(ValueError, match="n must"):
        quadrature_rule(400, rule="gauss-hermite")


# ---- tier (a): closed forms against adaptive quadrature -----------------------------------------


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "linear", "erf", "hardtanh", "heaviside"])
@pytest.mark.parametrize("q", [0.05, 1.0, 7.5])
def test_one_dimensional_closed_forms(name, q):
    act = get_activation(name)
    assert act.mean_sq(q) == pytest.approx(quad_gauss(lambda u: act.phi(u) ** 2, q), rel=1e-10, abs=1e-13)
    if name != "heaviside":
        assert act.mean_dsq(q) == pytest.approx(quad_gauss(lambda u: act.dphi(u) ** 2, q), rel=1e-10)
    # the slope d/dq E[phi^2] against a central difference of the closed form (step 1e-5: O(1e-10))
    h = 1e-5 * q
    fd = (act.mean_sq(q + h) - act.mean_sq(q - h)) / (2 * h)
    assert act.dmean_sq(q) == pytest.approx(fd, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "linear", "erf", "heaviside"])
@pytest.mark.parametrize(
    "cov",
    [
        (1.0, 2.0, 0.5),
        (3.0, 0.5, -1.2),
        pytest.param((0.7, 0.7, -0.3), marks=pytest.mark.slow),
        pytest.param((2.0, 2.0, 1.99), marks=pytest.mark.slow),
    ],
)
def test_two_dimensional_closed_forms(name, cov):
    q11, q22, q12 = cov
    act = get_activation(name)
    c = q12 / np.sqrt(q11 * q22)
    s = np.sqrt(1 - c * c)

    def inner(f, g):
        # E[f(u1) g(u2)] as an iterated adaptive integral (split at the kinks z1 = 0, z2 = -c z1 / s)
        def outer(z1):
            mid = -c * z1 / s
            h = lambda z2: g(np.sqrt(q22) * (c * z1 + s * z2)) * np.exp(-0.5 * z2 * z2)  # noqa: E731
            val = sum(integrate.quad(h, a, b, epsabs=1e-14, epsrel=1e-12)[0]
                      for a, b in ((-12.0, mid), (mid, 12.0)))
            return f(np.sqrt(q11) * z1) * val * np.exp(-0.5 * z1 * z1) / (2 * np.pi)

        return sum(integrate.quad(outer, a, b, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
                   for a, b in ((-12.0, 0.0), (0.0, 12.0)))

    ref = inner(act.phi, act.phi)
    assert act.kernel(q11, q22, q12) == pytest.approx(ref, rel=1e-8, abs=1e-10)
    if name != "heaviside":
        ref_d = inner(act.dphi, act.dphi)
        assert act.dkernel(q11, q22, q12) == pytest.approx(ref_d, rel=1e-8, abs=1e-10)


def test_kernels_reduce_to_one_dimensional_forms_on_the_diagonal():
    for name in ("relu", "leaky_relu", "linear", "erf", "heaviside"):
        act = get_activation(name)
        for q in (0.3, 2.0):
            assert act.kernel(q, q, q) == pytest.approx(act.mean_sq(q), rel=1e-12)
            if name != "heaviside":
                assert act.dkernel(q, q, q) == pytest.approx(act.mean_dsq(q), rel=1e-12)


@pytest.mark.parametrize("cov", [(1.0, 2.0, 0.5), (0.7, 0.7, -0.3), (4.0, 4.0, 3.6)])
def test_quadrature_matches_smooth_closed_forms(cov):
    # erf and linear are smooth: the default panel rule and the 2-D trapezoid rule (n = 121, 121^2
    # nodes) are both spectrally accurate at these lengths (measured < 1e-14)
    for name in ("erf", "linear"):
        act = get_activation(name)
        for n in (None, 121):
            got = gaussian_expectation_2d(act.phi, act.phi, *cov, n=n)
            assert got == pytest.approx(act.kernel(*cov), abs=1e-12)
            got = gaussian_expectation_2d(act.dphi, act.dphi, *cov, n=n)
            assert got == pytest.approx(act.dkernel(*cov), abs=1e-12)
    # the Gauss-Hermite rule too; it degrades as q grows (measured 1.3e-6 at q = 4 with 61 nodes)
    act = get_activation("erf")
    got = gaussian_expectation_2d(act.phi, act.phi, *cov, n=61, rule="gauss-hermite")
    assert got == pytest.approx(act.kernel(*cov), abs=1e-9 if max(cov) <= 2 else 1e-5)


def test_fixed_rules_on_kinked_activations_are_only_algebraically_accurate():
    # honest accuracy of the fixed trapezoid rule (an explicit n) for ReLU (kink on the diagonal of
    # the 2-D grid is harmless, off-diagonal kinks cost O(h^2)) and hardtanh; the default panel rule,
    # split at the kinks, is accurate (1e-12 here; measured 1e-14)
    relu = get_activation("relu")
    for cov, tol in (((1.0, 2.0, 0.5), 2e-3), ((2.0, 2.0, 1.99), 2e-4)):
        got = gaussian_expectation_2d(relu.phi, relu.phi, *cov, n=121)
        assert abs(got - relu.kernel(*cov)) < tol
        got = gaussian_expectation_2d(relu.phi, relu.phi, *cov, kinks=relu.kinks)
        assert abs(got - relu.kernel(*cov)) < 1e-12
    hard = get_activation("hardtanh")
    for q in (0.3, 2.0):
        got = gaussian_expectation(lambda u: hard.phi(u) ** 2, q, n=301)
        assert abs(got - hard.mean_sq(q)) < 1e-4  # measured: about 1e-5
        got = gaussian_expectation(lambda u: hard.phi(u) ** 2, q, kinks=hard.kinks)
        assert abs(got - hard.mean_sq(q)) < 1e-12


@pytest.mark.parametrize("q", [0.2, 1.0, 10.0, 40.0])
def test_tanh_at_large_q_default_and_trapezoid_rules(q):
    # the default panel rule: 1e-12 at every q (measured 5e-16). The 301-node trapezoid rule (n=301):
    # its error grows like exp(-c / sqrt(q)), measured 7e-11 (phi^2) and 3e-9 (phi'^2) at q = 40
    ref = quad_gauss(lambda u: np.tanh(u) ** 2, q)
    ref_d = quad_gauss(lambda u: 1 / np.cosh(u) ** 4, q)
    assert float(expect_phi_sq("tanh", q)) == pytest.approx(ref, rel=1e-12)
    assert float(expect_dphi_sq("tanh", q)) == pytest.approx(ref_d, rel=1e-12)
    tol = 1e-12 if q <= 10 else 1e-8
    assert float(expect_phi_sq("tanh", q, n=301)) == pytest.approx(ref, abs=tol)
    assert float(expect_dphi_sq("tanh", q, n=301)) == pytest.approx(ref_d, abs=tol)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "selu", "elu"])
def test_quadrature_slope_matches_difference_quotient(name):
    act = get_activation(name)
    for q in (0.4, 3.0):
        h = 1e-4
        fd = (expect_phi_sq(name, q + h) - expect_phi_sq(name, q - h)) / (2 * h)
        assert float(expect_phi_sq_slope(name, q)) == pytest.approx(float(fd), rel=1e-6)  # O(h^2)
    # q = 0: the limit E[phi'^2 + phi phi''] at 0, averaged over the two sides of a kink
    if name in ("selu", "elu"):
        lam, alpha = (1.0507009873554805, 1.6732632423543772) if name == "selu" else (1.0, 1.0)
        expected = lam**2 * (1 + alpha**2) / 2
    else:
        zero = np.array(0.0)
        expected = float(act.dphi(zero) ** 2 + act.phi(zero) * act.d2phi(zero))
    assert float(expect_phi_sq_slope(name, 0.0)) == pytest.approx(expected, rel=1e-10)


def test_monte_carlo_of_the_kernels():
    # tier (c)-like check of the quadrature path with seeded draws: 4 * 10^5 samples,
    # standard error below 2e-3, tolerance 5 standard errors
    rng = np.random.default_rng(12345)
    n = 400_000
    q11, q22, q12 = 1.5, 0.8, 0.6
    L = np.linalg.cholesky(np.array([[q11, q12], [q12, q22]]))
    u = rng.standard_normal((n, 2)) @ L.T
    for name in ("tanh", "gelu", "selu"):
        act = get_activation(name)
        samples = act.phi(u[:, 0]) * act.phi(u[:, 1])
        se = samples.std() / np.sqrt(n)
        assert abs(float(expect_phi_phi(name, q11, q22, q12)) - samples.mean()) < 5 * se


def test_expect_dphi_power():
    assert float(expect_dphi_power("relu", 2.0, 3)) == 0.5
    assert float(expect_dphi_power("linear", 2.0, 2)) == 1.0
    q = 0.7
    ref = quad_gauss(lambda u: (1 / np.cosh(u)) ** 8, q)
    assert float(expect_dphi_power("tanh", q, 2)) == pytest.approx(ref, abs=1e-12)
    leaky = leaky_relu_activation(0.2)
    assert float(expect_dphi_power(leaky, 1.0, 2)) == pytest.approx((1 + 0.2**4) / 2, rel=1e-14)


def test_heaviside_is_the_watts_unit():
    act = get_activation("heaviside")
    # E[H(u1) H(u2)] = 1/4 + arcsin(c) / (2 pi) (Sheppard)
    for c in (-0.9, 0.0, 0.4, 1.0):
        assert float(act.kernel(1.0, 1.0, c)) == pytest.approx(0.25 + np.arcsin(c) / (2 * np.pi), abs=1e-14)
    assert float(expect_dphi_sq(act, 1.0)) == np.inf
    assert float(expect_dphi_dphi(act, 1.0, 1.0, 0.0)) == pytest.approx(1 / (2 * np.pi))


def test_custom_activation_finite_differences_and_supplied_derivatives():
    act = custom_activation(np.sin, name="sin")
    np.testing.assert_allclose(act.dphi(X), np.cos(X), atol=1e-7)
    np.testing.assert_allclose(act.d2phi(X), -np.sin(X), atol=1e-5)
    exact = custom_activation(np.sin, np.cos, lambda x: -np.sin(x))
    # E[sin(sqrt(q) z)^2] = (1 - exp(-2q)) / 2
    assert float(expect_phi_sq(exact, 0.8)) == pytest.approx((1 - np.exp(-1.6)) / 2, abs=1e-13)
    assert isinstance(act, Activation)
    with pytest.raises(ValueError, match="phi must be callable"):
        custom_activation("sin")
    with pytest.raises(ValueError, match="step"):
        custom_activation(np.sin, step=0.0)


def test_factories_validate():
    with pytest.raises(ValueError, match="negative_slope"):
        leaky_relu_activation(-0.1)
    with pytest.raises(ValueError, match="scale"):
        erf_activation(0.0)
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        A.elu_activation(-1.0)
    with pytest.raises(ValueError, match="kinks"):
        custom_activation(np.sin, kinks=(np.nan,))
    with pytest.raises(ValueError, match="rule"):
        gaussian_expectation(np.sin, 1.0, rule="simpson")
    assert leaky_relu_activation(0.0).kernel(1.0, 1.0, 0.0) == pytest.approx(1 / (2 * np.pi))


def test_bad_variances():
    with pytest.raises(ValueError, match="q must hold finite variances"):
        expect_phi_sq("tanh", -1.0)
    with pytest.raises(ValueError, match="q11"):
        expect_phi_phi("relu", -1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="q12"):
        gaussian_expectation_2d(np.tanh, np.tanh, 1.0, 1.0, np.nan)


def test_two_dimensional_quadrature_is_chunked(monkeypatch):
    monkeypatch.setattr(A, "_CHUNK", 1000)
    q = np.linspace(0.1, 3.0, 50)
    got = gaussian_expectation_2d(np.tanh, np.tanh, q, q, 0.3 * q, n=41)
    monkeypatch.setattr(A, "_CHUNK", 10**9)
    np.testing.assert_array_equal(got, gaussian_expectation_2d(np.tanh, np.tanh, q, q, 0.3 * q, n=41))


# ---- the sympy derivations in theory/nn_kernels.py ---------------------------------------------


@pytest.mark.parametrize("cov", [(1.0, 2.0, 0.5), (0.7, 0.7, -0.3), (2.0, 2.0, 1.99), (3.0, 0.5, -1.2)])
def test_closed_forms_against_theory(cov):
    nk = pytest.importorskip("theory.nn_kernels")
    relu, heavi, erf = get_activation("relu"), get_activation("heaviside"), get_activation("erf")
    assert float(relu.kernel(*cov)) == pytest.approx(float(nk.relu_kernel(*cov)), rel=1e-12)
    assert float(relu.dkernel(*cov)) == pytest.approx(float(nk.relu_dkernel(*cov)), rel=1e-12)
    assert float(heavi.kernel(*cov)) == pytest.approx(float(nk.heaviside_kernel(*cov)), rel=1e-12)
    assert float(erf.kernel(*cov)) == pytest.approx(float(nk.erf_kernel(*cov)), rel=1e-12)
    assert float(erf.dkernel(*cov)) == pytest.approx(float(nk.erf_dkernel(*cov)), rel=1e-12)
    scaled = erf_activation(0.6)
    assert float(scaled.kernel(*cov)) == pytest.approx(float(nk.erf_kernel(*cov, 0.6)), rel=1e-12)
    assert float(scaled.dkernel(*cov)) == pytest.approx(float(nk.erf_dkernel(*cov, 0.6)), rel=1e-12)


@pytest.mark.parametrize("which", ["elu", "elu(0.5)", "selu"])
def test_elu_closed_forms_against_theory(which):
    # tier (a): the library's erfcx forms (and small-q series) against the sympy-derived moments,
    # evaluated by mpmath at 40 digits; 1e-12 relative over q from 1e-8 to 300
    nk = pytest.importorskip("theory.nn_kernels")
    act = get_activation(which)
    alpha, scale = {"elu": (1.0, 1.0), "elu(0.5)": (0.5, 1.0), "selu": (nk.SELU_ALPHA, nk.SELU_LAMBDA)}[which]
    q = np.array([1e-8, 1e-3, 0.2, 0.26, 1.0, 7.5, 300.0])
    np.testing.assert_allclose(act.mean_sq(q), nk.elu_mean_sq(q, alpha, scale), rtol=1e-12)
    np.testing.assert_allclose(act.dmean_sq(q), nk.elu_dmean_sq(q, alpha, scale), rtol=1e-12)
    np.testing.assert_allclose(act.mean_dsq(q), nk.elu_mean_dsq(q, alpha, scale), rtol=1e-12)
    for k in (2, 3):
        np.testing.assert_allclose(act.dphi_power(q, k), nk.elu_dphi_power(q, k, alpha, scale), rtol=1e-12)


def test_gaussian_smoothing_against_theory():
    # tier (a): the closed-form inner averages of the 2-D kernels (hardtanh, elu, selu) against the
    # sympy-derived expressions at 40 digits; 1e-13 relative to max(1, |m|)
    nk = pytest.importorskip("theory.nn_kernels")
    cases = [(get_activation("hardtanh"), lambda m, s: nk.hardtanh_smoothed(m, s)),
             (get_activation("elu(0.5)"), lambda m, s: nk.elu_smoothed(m, s, 0.5)),
             (get_activation("selu"), lambda m, s: nk.elu_smoothed(m, s, nk.SELU_ALPHA, nk.SELU_LAMBDA))]
    for act, ref in cases:
        for m in (-3.0, -0.4, 0.0, 0.8, 2.5):
            for s in (0.1, 1.0, 3.0):
                got = [float(v) for v in act.smoothed(m, s)]
                assert got == pytest.approx(ref(m, s), rel=0, abs=1e-13 * max(1.0, abs(m))), (act.name, m, s)
