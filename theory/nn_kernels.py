"""Gaussian kernels of activation functions and the edge of chaos, derived with sympy.

For a centred Gaussian pair (u1, u2) with covariance [[q11, q12], [q12, q22]] and
c = q12 / sqrt(q11 q22) = cos t, the mean-field theory of deep networks (Poole et al. 2016;
Schoenholz et al. 2017) needs K(phi) = E[phi(u1) phi(u2)] and K(phi'). Derived here:

1. **ReLU, arc-cosine kernel** (Cho & Saul 2009). In polar coordinates z = r (cos th, sin th)
   the Cholesky construction gives u1 = sqrt(q11) r cos th, u2 = sqrt(q22) r cos(th - t); both
   are positive for th in (t - pi/2, pi/2), so
   E[relu(u1) relu(u2)] = sqrt(q11 q22) / (2 pi) * int_0^oo r^3 e^{-r^2/2} dr * int cos th cos(th - t) dth
   = sqrt(q11 q22) / (2 pi) (sin t + (pi - t) cos t).
   The same computation with r^1 and the constant 1 gives E[H(u1) H(u2)] = (pi - t) / (2 pi)
   (the Heaviside / Watts unit, and E[relu'(u1) relu'(u2)]).
2. **erf, arcsine kernel** (Williams 1998). Price's theorem dK/dq12 = E[phi'(u1) phi'(u2)],
   with phi' = (2a / sqrt(pi)) exp(-a^2 u^2), is a Gaussian integral:
   (4 a^2 / pi) det(I + 2 a^2 Sigma)^(-1/2); integrating in q12 from 0 (where K = 0 by oddness)
   gives (2 / pi) arcsin(2 a^2 q12 / sqrt((1 + 2 a^2 q11)(1 + 2 a^2 q22))).
3. **chi_1 of ReLU** = sigma_w^2 int Dz H(sqrt(q) z) = sigma_w^2 / 2, whatever q: the edge of
   chaos of ReLU is sigma_w^2 = 2 (He initialisation).
4. **tanh sanity point** (THEORY.md B1: sigma_b^2 = 0.05, critical sigma_w^2 "close to 1.76"):
   solved with mpmath at 20 digits (q* = sigma_w^2 E tanh^2 + sigma_b^2 and
   sigma_w^2 E sech^4(sqrt(q*) z) = 1 simultaneously, by mpmath.findroot). Not a closed form.

Each symbolic step is checked by sympy (simplify to 0); the Gaussian integral behind the erf
kernel and the kernel itself are checked numerically with scipy's dblquad (about 1e-12), and the
antiderivative sympy finds is compared with the closed form with mpmath at 30 digits. Run ``python -m theory.nn_kernels`` to print the derivation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp
from scipy import integrate, special

from ._check import check as _check

__all__ = [
    "NNKernelsDerivation",
    "derivation",
    "relu_kernel",
    "relu_dkernel",
    "heaviside_kernel",
    "erf_kernel",
    "erf_dkernel",
    "relu_chi1",
    "tanh_critical_point",
    "main",
]

q11, q22 = sp.symbols("q11 q22", positive=True)
q12 = sp.symbols("q12", real=True)
a = sp.symbols("a", positive=True)
t = sp.symbols("t", real=True)
r, th = sp.symbols("r theta", real=True)
sw2, q = sp.symbols("sigma_w2 q", positive=True)


@dataclass(frozen=True)
class NNKernelsDerivation:
    """The derived kernels (sympy expressions) and the log of checks."""

    relu_kernel: sp.Expr  # in q11, q22, t (c = cos t)
    relu_dkernel: sp.Expr  # = heaviside kernel, in t
    erf_kernel: sp.Expr  # in q11, q22, q12, a
    erf_dkernel: sp.Expr
    relu_chi1: sp.Expr  # in sigma_w2
    steps: tuple[str, ...]




def _double_integral(f, point) -> float:
    """E[f(u1, u2)] at the covariance of ``point`` by scipy.integrate.dblquad (about 1e-12)."""
    c11, c22, c12 = (float(point[v]) for v in (q11, q22, q12))
    L = np.linalg.cholesky(np.array([[c11, c12], [c12, c22]]))

    def integrand(z2, z1):
        x = L[0, 0] * z1
        y = L[1, 0] * z1 + L[1, 1] * z2
        return f(x, y) * np.exp(-0.5 * (z1 * z1 + z2 * z2)) / (2 * np.pi)

    return integrate.dblquad(integrand, -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-12)[0]


@functools.cache
def derivation() -> NNKernelsDerivation:
    """Derive the kernels; every step is checked (AssertionError on failure)."""
    steps = []
    # --- 1. arc-cosine kernels, polar coordinates, t in [0, pi]
    radial3 = sp.integrate(r**3 * sp.exp(-(r**2) / 2), (r, 0, sp.oo))
    radial1 = sp.integrate(r * sp.exp(-(r**2) / 2), (r, 0, sp.oo))
    _check(radial3 == 2 and radial1 == 1, "radial integrals 2 and 1")
    angular1 = sp.integrate(sp.cos(th) * sp.cos(th - t), (th, t - sp.pi / 2, sp.pi / 2))
    relu_k = sp.sqrt(q11 * q22) / (2 * sp.pi) * radial3 * angular1
    relu_closed = sp.sqrt(q11 * q22) / (2 * sp.pi) * (sp.sin(t) + (sp.pi - t) * sp.cos(t))
    _check(sp.simplify(sp.expand_trig(relu_k - relu_closed)) == 0, "ReLU arc-cosine kernel")
    steps.append("E[relu relu] = sqrt(q11 q22)/(2 pi) * 2 * int cos(th) cos(th - t) dth = "
                 f"{sp.simplify(relu_closed)}")
    angular0 = sp.integrate(sp.Integer(1), (th, t - sp.pi / 2, sp.pi / 2))
    heavi = radial1 * angular0 / (2 * sp.pi)
    _check(sp.simplify(heavi - (sp.pi - t) / (2 * sp.pi)) == 0, "arc-cosine kernel of order 0")
    steps.append(f"E[H(u1) H(u2)] = E[relu'(u1) relu'(u2)] = {sp.simplify(heavi)}")
    # diagonal: t = 0 gives q / 2 (E relu^2) and 1/2 (E relu'^2)
    _check(sp.simplify(relu_closed.subs({t: 0, q22: q11}) - q11 / 2) == 0, "E relu^2 = q/2")
    _check(sp.simplify(heavi.subs(t, 0) - sp.Rational(1, 2)) == 0, "E relu'^2 = 1/2")

    # --- 2. erf: Price's theorem, Gaussian integral, integrate in q12
    Sigma = sp.Matrix([[q11, q12], [q12, q22]])
    # E[exp(-a^2 (u1^2 + u2^2))] = det(I + 2 a^2 Sigma)^(-1/2) (Gaussian integral; checked at a point)
    det = sp.expand((sp.eye(2) + 2 * a**2 * Sigma).det())
    dk = 4 * a**2 / sp.pi / sp.sqrt(det)
    point = {q11: sp.Rational(3, 2), q22: sp.Rational(1, 2), q12: sp.Rational(1, 3), a: sp.Rational(7, 10)}
    _check(abs(_double_integral(lambda x, y: np.exp(-0.49 * (x * x + y * y)), point)
               - float(1 / sp.sqrt(det.subs(point)))) < 1e-11, "Gaussian integral of exp(-a^2 |u|^2)")
    s = sp.symbols("s", real=True)
    K = sp.integrate(dk.subs(q12, s), (s, 0, q12))
    erf_closed = 2 / sp.pi * sp.asin(2 * a**2 * q12 / sp.sqrt((1 + 2 * a**2 * q11) * (1 + 2 * a**2 * q22)))
    # compare derivatives in q12 symbolically and values at q12 = 0; sympy's antiderivative form
    # may differ, so the value check is also numeric at a few points (mpmath, 30 digits)
    _check(sp.simplify(sp.diff(erf_closed, q12) - dk) == 0, "d/dq12 arcsine kernel = E[phi' phi']")
    _check(erf_closed.subs(q12, 0) == 0, "arcsine kernel vanishes at q12 = 0")
    for pt in ({q11: 1, q22: 2, q12: sp.Rational(1, 2), a: 1}, {q11: 3, q22: 3, q12: -2, a: sp.Rational(1, 3)}):
        _check(abs(sp.N((K - erf_closed).subs(pt), 30)) < 1e-25, f"integral of Price's derivative at {pt}")
    steps.append("checked numerically: the Gaussian integral and the kernel against scipy dblquad (1e-11)")
    steps.append("dK/dq12 = E[phi' phi'] = 4 a^2 / (pi sqrt(det(I + 2 a^2 Sigma))), det = " + str(det))
    steps.append(f"K = int_0^q12 ... = {erf_closed}")
    # numeric check of the kernel itself against a double integral of erf(a u1) erf(a u2)
    num = _double_integral(lambda x, y: special.erf(0.7 * x) * special.erf(0.7 * y), point)
    _check(abs(num - float(erf_closed.subs(point))) < 1e-11, "arcsine kernel against a double integral")

    # --- 3. chi_1 of ReLU
    z = sp.symbols("z", real=True)
    gauss = sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)
    chi = sw2 * sp.integrate(gauss, (z, 0, sp.oo))  # relu'(sqrt(q) z)^2 = H(z)
    _check(sp.simplify(chi - sw2 / 2) == 0, "chi_1(relu) = sigma_w^2 / 2")
    _check(sp.solve(sp.Eq(chi, 1), sw2) == [2], "ReLU edge of chaos sigma_w^2 = 2")
    steps.append("chi_1(relu) = sigma_w2 * int_0^oo Dz = sigma_w2 / 2; chi_1 = 1 at sigma_w2 = 2")
    return NNKernelsDerivation(
        relu_kernel=relu_closed,
        relu_dkernel=heavi,
        erf_kernel=erf_closed,
        erf_dkernel=dk,
        relu_chi1=chi,
        steps=tuple(steps),
    )


@functools.cache
def _lambdas():
    d = derivation()
    return {
        "relu": sp.lambdify((q11, q22, t), d.relu_kernel, "numpy"),
        "heavi": sp.lambdify(t, d.relu_dkernel, "numpy"),
        "erf": sp.lambdify((q11, q22, q12, a), d.erf_kernel, "numpy"),
        "derf": sp.lambdify((q11, q22, q12, a), d.erf_dkernel, "numpy"),
        "chi": sp.lambdify(sw2, d.relu_chi1, "numpy"),
    }


def _angle(x11, x22, x12):
    return np.arccos(np.clip(np.asarray(x12, float) / np.sqrt(np.asarray(x11, float) * x22), -1, 1))


def relu_kernel(x11, x22, x12):
    """E[relu(u1) relu(u2)] from the derived arc-cosine kernel."""
    return _lambdas()["relu"](x11, x22, _angle(x11, x22, x12))


def relu_dkernel(x11, x22, x12):
    """E[relu'(u1) relu'(u2)] = (pi - t) / (2 pi)."""
    return _lambdas()["heavi"](_angle(x11, x22, x12))


def heaviside_kernel(x11, x22, x12):
    """E[H(u1) H(u2)] = (pi - t) / (2 pi)."""
    return relu_dkernel(x11, x22, x12)


def erf_kernel(x11, x22, x12, scale=1.0):
    """E[erf(a u1) erf(a u2)] from the derived arcsine kernel."""
    return _lambdas()["erf"](x11, x22, x12, scale)


def erf_dkernel(x11, x22, x12, scale=1.0):
    """E[phi'(u1) phi'(u2)] for phi = erf(a u)."""
    return _lambdas()["derf"](x11, x22, x12, scale)


def relu_chi1(sigma_w2):
    """chi_1 of ReLU, sigma_w^2 / 2."""
    return _lambdas()["chi"](sigma_w2)


@functools.cache
def tanh_critical_point(sigma_b2: float = 0.05, dps: int = 20) -> tuple[float, float]:
    """(sigma_w^2, q*) on the tanh edge of chaos at bias variance sigma_b2, by mpmath at ``dps`` digits.

    Solves q = s E[tanh(sqrt(q) z)^2] + sigma_b2 and s E[sech(sqrt(q) z)^4] = 1 with
    mpmath.findroot; the Gaussian expectations by mpmath.quad on [-inf, 0, inf].
    """
    with mpmath.workdps(dps):
        sb = mpmath.mpf(sigma_b2)

        def E(f, qq):
            s = mpmath.sqrt(qq)
            return mpmath.quad(lambda x: f(s * x) * mpmath.npdf(x), [-mpmath.inf, -2, 0, 2, mpmath.inf])

        def eqs(s, qq):
            return (s * E(lambda u: mpmath.tanh(u) ** 2, qq) + sb - qq, s * E(lambda u: mpmath.sech(u) ** 4, qq) - 1)

        s, qq = mpmath.findroot(eqs, (mpmath.mpf("1.76"), mpmath.mpf("0.57")))
        return float(s), float(qq)


def main() -> None:
    d = derivation()
    print(__doc__)
    for step in d.steps:
        print(" *", step)
    s, qq = tanh_critical_point(0.05)
    print(f" * tanh, sigma_b2 = 0.05: critical sigma_w2 = {s:.12f}, q* = {qq:.12f}")


if __name__ == "__main__":
    main()
