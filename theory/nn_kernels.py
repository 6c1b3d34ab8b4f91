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
4. **tanh sanity point** (sigma_b^2 = 0.05, critical sigma_w^2 close to 1.76; Poole et al. 2016,
   Fig. 2): solved with mpmath at 20 digits (q* = sigma_w^2 E tanh^2 + sigma_b^2 and
   sigma_w^2 E sech^4(sqrt(q*) z) = 1 simultaneously, by mpmath.findroot). Not a closed form.
5. **ELU and SELU, the 1-D moments** (Clevert et al. 2016; Klambauer et al. 2017: SELU =
   lambda ELU_alpha). With u = s z, s = sqrt(q), the one integral needed on the negative side is
   M(a) = E[e^{a z}; z < 0] = e^{a^2/2} erfc(a / sqrt 2) / 2 = erfcx(a / sqrt 2) / 2 (sympy
   integrates it); expanding (e^{sz} - 1)^2 gives
   E[phi^2] = q / 2 + alpha^2 (M(2s) - 2 M(s) + 1/2), E[phi'^2] = 1/2 + alpha^2 M(2s),
   E[phi'^(2k)] = 1/2 + alpha^(2k) M(2ks), and both d/dq E[phi^2] (sympy's derivative) and
   E[phi'^2 + phi phi''] (integrated; phi(0) = 0, so phi' 's jump at 0 adds no Dirac term) equal
   1/2 + alpha^2 (2 M(2s) - M(s)). The Taylor series of M(2s) - 2 M(s) + 1/2 (which the library sums
   for small s, where the closed form cancels) is checked against
   d_k = (-1)^k (2^k - 2) E|z|^k / (2 k!) up to s^11. As q -> 0, E[phi'^2] -> (1 + alpha^2) / 2, so
   SELU's critical sigma_w^2 at sigma_b^2 = 0 is 2 / (lambda^2 (1 + alpha^2)).
6. **Gaussian smoothing of hardtanh and ELU** (the inner integral of their 2-D kernels, which
   the library evaluates in closed form): for x ~ N(m, s^2), with a = (-1 - m) / s and
   b = (1 - m) / s, E[clip(x, -1, 1)] = m (Phi(b) - Phi(a)) + s (pdf(a) - pdf(b)) + Phi(-b) - Phi(a)
   and P(|x| < 1) = Phi(b) - Phi(a); E[x; x > 0] = m Phi(m/s) + s pdf(m/s) and
   E[e^x; x < 0] = e^{m + s^2/2} Phi(-(m + s^2) / s), which give E[ELU_alpha(x)] and E[ELU_alpha'(x)].

Each symbolic step is checked by sympy (simplify to 0); the Gaussian integral behind the erf
kernel and the kernel itself are checked numerically with scipy's dblquad (about 1e-12), the
antiderivative sympy finds is compared with the closed form with mpmath at 30 digits, and the ELU
moments against mpmath quadrature at 30 digits. Run ``python -m theory.nn_kernels`` to print the
derivation.

References
----------
Cho & Saul, "Kernel methods for deep learning", NeurIPS 2009.
Williams, "Computation with infinite neural networks", Neural Computation 10, 1998.
Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli, "Exponential expressivity in deep neural networks
through transient chaos", NeurIPS 2016.
Clevert, Unterthiner & Hochreiter, "Fast and accurate deep network learning by exponential linear
units (ELUs)", ICLR 2016.
Klambauer, Unterthiner, Mayr & Hochreiter, "Self-normalizing neural networks", NeurIPS 2017.
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
    "elu_mean_sq",
    "elu_dmean_sq",
    "elu_mean_dsq",
    "elu_dphi_power",
    "hardtanh_smoothed",
    "elu_smoothed",
    "SELU_ALPHA",
    "SELU_LAMBDA",
    "main",
]

#: torch.nn.SELU's constants (Klambauer et al. 2017), as strings for mpmath
SELU_ALPHA = "1.6732632423543772848170429916717"
SELU_LAMBDA = "1.0507009873554804934193349852946"

q11, q22 = sp.symbols("q11 q22", positive=True)
q12 = sp.symbols("q12", real=True)
a = sp.symbols("a", positive=True)
t = sp.symbols("t", real=True)
r, th = sp.symbols("r theta", real=True)
sw2, q = sp.symbols("sigma_w2 q", positive=True)
alpha, s_ = sp.symbols("alpha s", positive=True)
mm = sp.symbols("m", real=True)
kk = sp.symbols("k", positive=True, integer=True)


@dataclass(frozen=True)
class NNKernelsDerivation:
    """The derived kernels (sympy expressions) and the log of checks."""

    relu_kernel: sp.Expr  # in q11, q22, t (c = cos t)
    relu_dkernel: sp.Expr  # = heaviside kernel, in t
    erf_kernel: sp.Expr  # in q11, q22, q12, a
    erf_dkernel: sp.Expr
    relu_chi1: sp.Expr  # in sigma_w2
    elu_mean_sq: sp.Expr  # E[ELU_alpha(sqrt(q) z)^2], in q, alpha
    elu_dmean_sq: sp.Expr  # d/dq of it
    elu_mean_dsq: sp.Expr  # E[ELU_alpha'(sqrt(q) z)^2]
    elu_dphi_power: sp.Expr  # E[ELU_alpha'(sqrt(q) z)^(2k)], in q, alpha, k
    hardtanh_smoothed: tuple[sp.Expr, sp.Expr]  # E[clip(x)], P(|x| < 1) for x ~ N(m, s^2)
    elu_smoothed: tuple[sp.Expr, sp.Expr]  # E[ELU_alpha(x)], E[ELU_alpha'(x)] for x ~ N(m, s^2)
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

    # --- 5. ELU_alpha (SELU = lambda ELU_alpha): the 1-D moments, u = s z, s = sqrt(q)
    ea = sp.symbols("a", positive=True)
    m_int = sp.integrate(sp.exp(ea * z) * gauss, (z, -sp.oo, 0))
    m_closed = sp.exp(ea**2 / 2) * sp.erfc(ea / sp.sqrt(2)) / 2

    def m_of(x):
        return m_closed.subs(ea, x)

    _check(sp.simplify(m_int - m_closed) == 0, "M(a) = E[e^{a z}; z < 0] = e^{a^2/2} erfc(a / sqrt 2) / 2")
    steps.append(f"M(a) = E[exp(a z); z < 0] = {m_closed} (= erfcx(a / sqrt 2) / 2)")
    phi_neg = alpha * (sp.exp(s_ * z) - 1)  # ELU on u = s z < 0
    e2_int = (sp.integrate((s_ * z) ** 2 * gauss, (z, 0, sp.oo))
              + sp.integrate(sp.expand(phi_neg**2) * gauss, (z, -sp.oo, 0)))
    e2_closed = s_**2 / 2 + alpha**2 * (m_of(2 * s_) - 2 * m_of(s_) + sp.Rational(1, 2))
    _check(sp.simplify(e2_int - e2_closed) == 0, "E[elu^2] = q/2 + alpha^2 (M(2s) - 2 M(s) + 1/2)")
    d2_int = sp.integrate(gauss, (z, 0, sp.oo)) + sp.integrate(alpha**2 * sp.exp(2 * s_ * z) * gauss, (z, -sp.oo, 0))
    d2_closed = sp.Rational(1, 2) + alpha**2 * m_of(2 * s_)
    _check(sp.simplify(d2_int - d2_closed) == 0, "E[elu'^2] = 1/2 + alpha^2 M(2s)")
    dk_int = (sp.integrate(gauss, (z, 0, sp.oo))
              + sp.integrate(alpha ** (2 * kk) * sp.exp(2 * kk * s_ * z) * gauss, (z, -sp.oo, 0)))
    dk_closed = sp.Rational(1, 2) + alpha ** (2 * kk) * m_of(2 * kk * s_)
    _check(sp.simplify(dk_int - dk_closed) == 0, "E[elu'^(2k)] = 1/2 + alpha^(2k) M(2ks)")
    slope_closed = sp.Rational(1, 2) + alpha**2 * (2 * m_of(2 * s_) - m_of(s_))
    by_q = sp.diff(e2_closed.subs(s_, sp.sqrt(q)), q)
    _check(sp.simplify(by_q - slope_closed.subs(s_, sp.sqrt(q))) == 0, "d/dq E[elu^2] = 1/2 + alpha^2 (2 M(2s) - M(s))")
    # Stein: E[phi'^2 + phi phi''], phi'' = alpha e^u for u < 0, no Dirac term since phi(0) = 0
    stein = d2_int + sp.integrate(phi_neg * alpha * sp.exp(s_ * z) * gauss, (z, -sp.oo, 0))
    _check(sp.simplify(stein - slope_closed) == 0, "E[elu'^2 + elu elu''] = d/dq E[elu^2]")
    steps.append(f"E[elu^2] = {e2_closed}")
    steps.append(f"E[elu'^2] = {d2_closed};  E[elu'^(2k)] = {dk_closed}")
    steps.append(f"d/dq E[elu^2] = E[elu'^2 + elu elu''] = {slope_closed}")
    # the series the library sums for small s, against d_k = (-1)^k (2^k - 2) E|z|^k / (2 k!)
    neg_sq = m_of(2 * s_) - 2 * m_of(s_) + sp.Rational(1, 2)
    series = sp.expand(sp.series(neg_sq, s_, 0, 12).removeO())
    _check(series.coeff(s_, 0) == 0, "series: no constant term")
    for k in range(1, 12):
        abs_moment = 2 ** sp.Rational(k, 2) * sp.gamma(sp.Rational(k + 1, 2)) / sp.sqrt(sp.pi)
        d_k = (-1) ** k * (2**k - 2) * abs_moment / (2 * sp.factorial(k))
        _check(sp.simplify(series.coeff(s_, k) - d_k) == 0, f"series coefficient d_{k}")
    steps.append(f"M(2s) - 2 M(s) + 1/2 = {sp.series(neg_sq, s_, 0, 6)}  (d_k checked to s^11)")
    # q -> 0: E[elu'^2] -> (1 + alpha^2) / 2, hence SELU's critical point at sigma_b^2 = 0
    _check(sp.simplify(sp.limit(d2_closed, s_, 0) - (1 + alpha**2) / 2) == 0, "lim E[elu'^2] = (1 + alpha^2) / 2")
    steps.append("q -> 0: E[elu'^2] -> (1 + alpha^2) / 2; SELU: sigma_w^2 = 2 / (lambda^2 (1 + alpha^2)) at "
                 "sigma_b^2 = 0")
    # numeric check of the moments against mpmath quadrature at 30 digits
    with mpmath.workdps(30):
        for qv, av in ((mpmath.mpf("0.3"), mpmath.mpf("1.7")), (mpmath.mpf(4), mpmath.mpf("0.5"))):
            sv = mpmath.sqrt(qv)

            def elu(x, av=av):
                return x if x > 0 else av * mpmath.expm1(x)

            def delu(x, av=av):
                return 1 if x > 0 else av * mpmath.exp(x)

            num2 = mpmath.quad(lambda x, sv=sv: elu(sv * x) ** 2 * mpmath.npdf(x), [-mpmath.inf, 0, mpmath.inf])
            numd = mpmath.quad(lambda x, sv=sv: delu(sv * x) ** 2 * mpmath.npdf(x), [-mpmath.inf, 0, mpmath.inf])
            pt = {s_: sv, alpha: av}
            _check(abs(num2 - sp.N(e2_closed.subs(pt), 30)) < mpmath.mpf(10) ** -25, "E[elu^2] against mpmath")
            _check(abs(numd - sp.N(d2_closed.subs(pt), 30)) < mpmath.mpf(10) ** -25, "E[elu'^2] against mpmath")
    steps.append("checked numerically: E[elu^2] and E[elu'^2] against mpmath.quad at 30 digits")

    # --- 6. Gaussian smoothing: x = m + s z, z ~ N(0, 1)
    def cdf(x):
        return (1 + sp.erf(x / sp.sqrt(2))) / 2

    def npdf(x):
        return sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)

    def same(x, y):
        return sp.simplify((x - y).rewrite(sp.erf)) == 0

    ha, hb = (-1 - mm) / s_, (1 - mm) / s_
    x = mm + s_ * z
    clip_int = (sp.integrate(x * gauss, (z, ha, hb)) + sp.integrate(gauss, (z, hb, sp.oo))
                - sp.integrate(gauss, (z, -sp.oo, ha)))
    clip_closed = mm * (cdf(hb) - cdf(ha)) + s_ * (npdf(ha) - npdf(hb)) + cdf(-hb) - cdf(ha)
    _check(same(clip_int, clip_closed), "E[clip(m + s z, -1, 1)]")
    inside = cdf(hb) - cdf(ha)
    _check(same(sp.integrate(gauss, (z, ha, hb)), inside), "P(|m + s z| < 1)")
    steps.append(f"E[clip(m + s z)] = {clip_closed};  P(|m + s z| < 1) = {inside}")
    t0 = -mm / s_
    above = sp.integrate(x * gauss, (z, t0, sp.oo))
    above_closed = mm * cdf(mm / s_) + s_ * npdf(mm / s_)
    _check(same(above, above_closed), "E[x; x > 0]")
    below = sp.integrate(sp.exp(x) * gauss, (z, -sp.oo, t0))
    below_closed = sp.exp(mm + s_**2 / 2) * cdf(-(mm + s_**2) / s_)
    _check(same(below, below_closed), "E[e^x; x < 0]")
    elu_mean = above_closed + alpha * (below_closed - cdf(-mm / s_))
    elu_dmean = cdf(mm / s_) + alpha * below_closed
    steps.append(f"E[elu(m + s z)] = {elu_mean};  E[elu'(m + s z)] = {elu_dmean}")
    return NNKernelsDerivation(
        relu_kernel=relu_closed,
        relu_dkernel=heavi,
        erf_kernel=erf_closed,
        erf_dkernel=dk,
        relu_chi1=chi,
        elu_mean_sq=e2_closed.subs(s_, sp.sqrt(q)),
        elu_dmean_sq=slope_closed.subs(s_, sp.sqrt(q)),
        elu_mean_dsq=d2_closed.subs(s_, sp.sqrt(q)),
        elu_dphi_power=dk_closed.subs(s_, sp.sqrt(q)),
        hardtanh_smoothed=(clip_closed, inside),
        elu_smoothed=(elu_mean, elu_dmean),
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
        "elu2": sp.lambdify((q, alpha), d.elu_mean_sq, "mpmath"),
        "delu2": sp.lambdify((q, alpha), d.elu_dmean_sq, "mpmath"),
        "elud2": sp.lambdify((q, alpha), d.elu_mean_dsq, "mpmath"),
        "eludk": sp.lambdify((q, alpha, kk), d.elu_dphi_power, "mpmath"),
        "ht_smooth": sp.lambdify((mm, s_), d.hardtanh_smoothed, "mpmath"),
        "elu_smooth": sp.lambdify((mm, s_, alpha), d.elu_smoothed, "mpmath"),
    }


def hardtanh_smoothed(m, s):
    """(E[clip(x, -1, 1)], P(|x| < 1)) for x ~ N(m, s^2), s > 0, at 40 digits."""
    with mpmath.workdps(40):
        return tuple(float(v) for v in _lambdas()["ht_smooth"](mpmath.mpf(float(m)), mpmath.mpf(float(s))))


def elu_smoothed(m, s, alpha_=1.0, scale=1.0):
    """(E[phi(x)], E[phi'(x)]) for x ~ N(m, s^2), s > 0, phi = scale * ELU_alpha, at 40 digits."""
    with mpmath.workdps(40):
        a_ = mpmath.mpf(alpha_) if isinstance(alpha_, str) else mpmath.mpf(float(alpha_))
        lam = mpmath.mpf(scale) if isinstance(scale, str) else mpmath.mpf(float(scale))
        vals = _lambdas()["elu_smooth"](mpmath.mpf(float(m)), mpmath.mpf(float(s)), a_)
        return tuple(float(lam * v) for v in vals)


def _elu_eval(key, x, alpha_, scale, power, *extra):
    """A derived ELU moment at 40 digits (mpmath: the closed form overflows in floats for large q)."""
    def one(xv):
        with mpmath.workdps(40):
            a_ = mpmath.mpf(alpha_) if isinstance(alpha_, str) else mpmath.mpf(float(alpha_))
            lam = mpmath.mpf(scale) if isinstance(scale, str) else mpmath.mpf(float(scale))
            return float(lam**power * _lambdas()[key](mpmath.mpf(float(xv)), a_, *extra))

    return np.vectorize(one, otypes=[float])(x)


def elu_mean_sq(x, alpha_=1.0, scale=1.0):
    """E[phi(sqrt(q) z)^2] for phi = scale * ELU_alpha (SELU: alpha_=SELU_ALPHA, scale=SELU_LAMBDA)."""
    return _elu_eval("elu2", x, alpha_, scale, 2)


def elu_dmean_sq(x, alpha_=1.0, scale=1.0):
    """d/dq E[phi(sqrt(q) z)^2] for phi = scale * ELU_alpha."""
    return _elu_eval("delu2", x, alpha_, scale, 2)


def elu_mean_dsq(x, alpha_=1.0, scale=1.0):
    """E[phi'(sqrt(q) z)^2] for phi = scale * ELU_alpha."""
    return _elu_eval("elud2", x, alpha_, scale, 2)


def elu_dphi_power(x, k, alpha_=1.0, scale=1.0):
    """E[phi'(sqrt(q) z)^(2k)] for phi = scale * ELU_alpha."""
    return _elu_eval("eludk", x, alpha_, scale, 2 * k, k)


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
    chi = float(elu_mean_dsq(1.0, SELU_ALPHA, SELU_LAMBDA))
    print(f" * selu: E[phi'(z)^2] = {chi:.13f} at q = 1; critical sigma_w2 at sigma_b2 = 0: "
          f"{2 / (float(SELU_LAMBDA) ** 2 * (1 + float(SELU_ALPHA) ** 2)):.12f}")


if __name__ == "__main__":
    main()
