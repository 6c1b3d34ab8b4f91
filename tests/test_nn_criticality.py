"""The edge of chaos as a curve (cascades.nn.criticality) against an independent quadrature.

Every activation of the registry is re-implemented here from its formula (numpy/scipy, not the
library's code) and its Gaussian expectations are computed with scipy.integrate.quad split at the
kinks and at the activation's scale points, to ~1e-12. Tolerances: chi_1 = 1 and q* = q_map(q*) to
1e-6 (the issue's requirement; the library's quadrature is ~1e-10), slopes to 1e-6.
"""

import math

import numpy as np
import pytest
from scipy import integrate, special

from cascades.nn import available_activations, get_activation, q_trajectory
from cascades.nn.criticality import STABLE_SLOPE, critical_point, edge_of_chaos, is_homogeneous

_L = 1.0507009873554804934193349852946  # torch.nn.SELU
_A = 1.6732632423543772848170429916717
_PDF0 = 1 / math.sqrt(2 * math.pi)


def _pdf(x):
    return np.exp(-0.5 * x * x) * _PDF0


def _elu(a, lam=1.0):
    return (lambda x: lam * np.where(x > 0, x, a * np.expm1(np.minimum(x, 0.0))),
            lambda x: lam * np.where(x > 0, 1.0, a * np.exp(np.minimum(x, 0.0))))


def _gelu_tanh():
    k = math.sqrt(2 / math.pi)

    def f(x):
        return 0.5 * x * (1 + np.tanh(k * (x + 0.044715 * x**3)))

    def df(x):
        t = np.tanh(k * (x + 0.044715 * x**3))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)

    return f, df


# name -> (phi, phi', kinks in u)
REF = {
    "relu": (lambda x: np.maximum(x, 0.0), lambda x: (x > 0) * 1.0, (0.0,)),
    "leaky_relu": (lambda x: np.where(x > 0, x, 0.01 * x), lambda x: np.where(x > 0, 1.0, 0.01), (0.0,)),
    "linear": (lambda x: x * 1.0, lambda x: np.ones_like(x), ()),
    "tanh": (np.tanh, lambda x: 1 / np.cosh(np.minimum(np.abs(x), 350)) ** 2, ()),
    "erf": (special.erf, lambda x: 2 / math.sqrt(math.pi) * np.exp(-x * x), ()),
    "sigmoid": (special.expit, lambda x: special.expit(x) * special.expit(-x), ()),
    "hardtanh": (lambda x: np.clip(x, -1, 1), lambda x: (np.abs(x) < 1) * 1.0, (-1.0, 1.0)),
    "gelu": (lambda x: x * special.ndtr(x), lambda x: special.ndtr(x) + x * _pdf(x), ()),
    "silu": (lambda x: x * special.expit(x), lambda x: special.expit(x) * (1 + x * special.expit(-x)), ()),
    "selu": (*_elu(_A, _L), (0.0,)),
    "elu": (*_elu(1.0), (0.0,)),
    "gelu_tanh": (*_gelu_tanh(), ()),
}
REGISTRY = [n for n in REF if n in available_activations()]
SCALE = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)


def expect(f, q):
    """E[f(sqrt(q) z)] by adaptive quadrature, split at the kinks and the activation's scale points."""
    s = math.sqrt(q)
    pts = {0.0} | {sign * u / s for u in SCALE for sign in (-1, 1)}
    pts = sorted(p for p in pts if -12 < p < 12)
    edges = [-12.0, *pts, 12.0]
    g = lambda z: f(s * z) * _pdf(z)  # noqa: E731
    return sum(integrate.quad(g, a, b, epsabs=1e-15, epsrel=1e-13, limit=200)[0]
               for a, b in zip(edges[:-1], edges[1:], strict=True))


def ref_curve(name, q):
    """sigma_w^2, sigma_b^2, slope at q* = q from the independent quadrature."""
    f, df, _ = REF[name]
    e2 = expect(lambda u: f(u) ** 2, q)
    d2 = expect(lambda u: df(u) ** 2, q)
    # d/dq E[phi^2] = E[phi(u) phi'(u) z] / sqrt(q) (Stein's lemma; needs no phi'')
    dq = expect(lambda u: f(u) * df(u) * u, q) / q
    return 1 / d2, q - e2 / d2, dq / d2, e2, d2


@pytest.mark.parametrize("name", REGISTRY)
@pytest.mark.parametrize("q", [0.25, 1.0, 4.0, 30.0])
def test_curve_points_are_critical_fixed_points(name, q):
    eoc = edge_of_chaos(name, q)
    sw2, sb2, slope, e2, d2 = ref_curve(name, q)
    # the two defining equations, by the independent quadrature
    assert float(eoc.sigma_w2) * d2 == pytest.approx(1.0, abs=1e-6)
    if not is_homogeneous(name):
        assert float(eoc.sigma_w2) * e2 + float(eoc.sigma_b2) == pytest.approx(q, rel=1e-6)
        assert float(eoc.sigma_b2) == pytest.approx(sb2, abs=1e-6 * q)
    assert float(eoc.q_slope) == pytest.approx(slope, abs=1e-6)
    assert bool(eoc.admissible) == (float(eoc.sigma_b2) >= 0)


@pytest.mark.parametrize("name", REGISTRY)
@pytest.mark.parametrize("q", [0.25, 1.0, 4.0, 30.0])
def test_critical_point_keep_and_nearest(name, q):
    _, sb2, slope, _, d2 = ref_curve(name, q)
    if is_homogeneous(name):
        p = critical_point(name, q_star=q)
        assert p.kind == "neutral" and p.sigma_b2 == 0.0 and not p.moved
        assert p.sigma_w2 * d2 == pytest.approx(1.0, abs=1e-12)
        return
    if sb2 < 0:  # inadmissible: moved to the nearest admissible point even with "keep"
        p = critical_point(name, q_star=q, stability="keep")
        assert p.moved and "sigma_b^2" in p.reason
        _, sb2_p, _, _, d2_p = ref_curve(name, p.q_star)
        assert sb2_p == pytest.approx(0.0, abs=1e-8 * p.q_star)
        assert p.sigma_w2 * d2_p == pytest.approx(1, abs=1e-6)
    else:
        p = critical_point(name, q_star=q, stability="keep")
        assert not p.moved and p.kind == ("unstable" if slope > 1 else "stable")
        assert p.chi1 == pytest.approx(1.0, abs=1e-9)
    p = critical_point(name, q_star=q, stability="nearest")
    _, sb2_p, slope_p, e2_p, d2_p = ref_curve(name, p.q_star)
    assert p.sigma_w2 * d2_p == pytest.approx(1.0, abs=1e-6)  # chi_1 = 1 at the returned point
    assert p.sigma_w2 * e2_p + p.sigma_b2 == pytest.approx(p.q_star, rel=1e-6)  # a fixed point
    assert sb2_p >= -1e-9 * p.q_star and slope_p <= 1.0 + 1e-9
    if p.moved:
        assert (sb2 < 0 or slope > 1) and p.reason
        on_boundary = sb2_p == pytest.approx(0.0, abs=1e-8 * p.q_star)
        assert slope_p == pytest.approx(STABLE_SLOPE, abs=1e-6) or on_boundary
        # nothing feasible between the target and the returned point (the nearest one)
        between = np.geomspace(min(q, p.q_star), max(q, p.q_star), 40)[1:-1]
        eoc = edge_of_chaos(name, between)
        assert not np.any((eoc.sigma_b2 >= 0) & (eoc.q_slope <= STABLE_SLOPE - 1e-9))
    else:
        assert p.q_star == q


def test_the_issues_slopes_at_q_one():
    # q-map slope at the critical point with q* = 1 (the issue's independent numbers)
    expected = {"tanh": 0.39, "elu": 0.86, "selu": 0.73, "gelu": 1.07, "silu": 1.10}
    for name, s in expected.items():
        if name not in REGISTRY:
            continue
        assert ref_curve(name, 1.0)[2] == pytest.approx(s, abs=0.006)
        p = critical_point(name, q_star=1.0, stability="keep")
        assert p.q_slope == pytest.approx(s, abs=0.006)
    # drift and depth scales of a point
    p = critical_point("gelu", q_star=1.0)
    assert p.drift(19) == pytest.approx(p.q_slope**19) and p.xi_q == pytest.approx(-1 / math.log(p.q_slope))
    assert critical_point("tanh").xi_q == pytest.approx(-1 / math.log(ref_curve("tanh", 1.0)[2]), rel=1e-6)
    assert critical_point("relu").xi_q == math.inf
    # the slope crosses 1 at q* = 3.56 for GELU and 14.3 for SiLU (roots of the reference slope - 1)
    assert critical_point("gelu", q_star=3.4, stability="keep").kind == "unstable"
    assert critical_point("gelu", q_star=3.7, stability="keep").kind == "stable"
    assert critical_point("silu", q_star=13.5, stability="keep").kind == "unstable"
    assert critical_point("silu", q_star=15.0, stability="keep").kind == "stable"


def test_fixed_bias_variance():
    # Poole et al.'s sanity value: tanh at sigma_b^2 = 0.05 has sigma_w^2 close to 1.76
    p = critical_point("tanh", sigma_b2=0.05)
    sw2, sb2, slope, _, _ = ref_curve("tanh", p.q_star)
    assert p.sigma_w2 == pytest.approx(sw2, rel=1e-8) and sb2 == pytest.approx(0.05, abs=1e-9)
    assert p.sigma_w2 == pytest.approx(1.7609546, abs=2e-6) and p.kind == "stable"
    # sigmoid: a finite root at sigma_b^2 = 0 (phi(0) = 1/2)
    p = critical_point("sigmoid", sigma_b2=0.0)
    assert p.kind == "stable" and p.q_star == pytest.approx(45.6, rel=0.01)
    assert ref_curve("sigmoid", p.q_star)[1] == pytest.approx(0.0, abs=1e-7 * p.q_star)
    # odd activations at sigma_b^2 = 0: only the degenerate point q* = 0, sigma_w^2 = 1 / phi'(0)^2
    for name, sw0 in [("tanh", 1.0), ("erf", math.pi / 4), ("hardtanh", 1.0),
                      ("selu", 2 / (_L**2 * (1 + _A**2))), ("elu", 1.0)]:
        if name not in REGISTRY:
            continue
        p = critical_point(name, sigma_b2=0.0)
        assert p.kind == "degenerate" and p.q_star == 0.0
        assert p.sigma_w2 == pytest.approx(sw0, rel=1e-9), name
    # GELU and SiLU: q = 0 repels and sigma_b^2(q*) > 0 for every q* > 0: no critical point
    for name in ("gelu", "silu"):
        with pytest.raises(ValueError, match="no critical point with sigma_b2 = 0"):
            critical_point(name, sigma_b2=0.0)
    assert critical_point("relu", sigma_b2=0.0).sigma_w2 == 2.0
    p = critical_point("relu", sigma_b2=0.1)  # chi_1 = 1, but q grows by sigma_b^2 per layer
    assert p.sigma_w2 == 2.0 and p.q_star == math.inf and p.kind == "neutral" and "grows" in p.reason


def test_degenerate_point_decays_like_one_over_l():
    # tanh at (1, 0): q' = q - 2 q^2 + O(q^3), so q^l ~ 1 / (2 l)
    q = q_trajectory("tanh", 1.0, 0.0, 1.0, 4000)
    assert 4000 * q[-1] == pytest.approx(0.5, rel=0.02)


def test_selu_self_normalising_point_is_not_critical():
    # LeCun-normal SELU (sigma_w^2 = 1, sigma_b^2 = 0) has q* = 1 (Klambauer et al. 2017) and chi_1 = 1.0717
    f, df, _ = REF["selu"]
    assert expect(lambda u: f(u) ** 2, 1.0) == pytest.approx(1.0, abs=1e-6)
    chi = expect(lambda u: df(u) ** 2, 1.0)
    # closed form lambda^2 (1 + alpha^2 erfcx(sqrt 2)) / 2 (E[e^{2z}; z < 0] = erfcx(sqrt 2) / 2); the
    # issue's 10^8-sample Monte Carlo value 1.07168 agrees within its standard error (~1e-4)
    exact = _L**2 * (1 + _A**2 * special.erfcx(math.sqrt(2))) / 2
    assert chi == pytest.approx(exact, rel=1e-10) and exact == pytest.approx(1.07168, abs=2e-4)
    p = critical_point("selu", q_star=1.0, stability="nearest")  # stable: not moved
    assert p.sigma_w2 == pytest.approx(1 / chi, rel=1e-7)
    assert p.sigma_b2 == pytest.approx(1 - 1 / chi, abs=1e-7)


def test_bad_input():
    with pytest.raises(ValueError, match="q_star"):
        critical_point("tanh", q_star=0.0)
    with pytest.raises(ValueError, match="q_star"):
        critical_point("tanh", q_star=-1.0)
    with pytest.raises(ValueError, match="q_star"):
        edge_of_chaos("tanh", [1.0, math.inf])
    with pytest.raises(ValueError, match="either"):
        critical_point("tanh", q_star=1.0, sigma_b2=0.1)
    with pytest.raises(ValueError, match="stability"):
        critical_point("tanh", stability="maybe")
    with pytest.raises(ValueError, match="no edge of chaos"):
        critical_point("heaviside")
    with pytest.raises(ValueError, match="activation"):
        critical_point("softplus")
    assert get_activation("tanh").name == "tanh"
