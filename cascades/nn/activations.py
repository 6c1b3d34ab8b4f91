"""Activation functions and their Gaussian expectations, for signal-propagation theory.

An :class:`Activation` bundles phi, phi' and phi'' (numpy ufunc-like callables), the points
where phi or phi' is not smooth (``kinks``) and the closed-form Gaussian expectations that are
known for it. The mean-field theory of random networks (Poole et al. 2016; Schoenholz et al.
2017; :mod:`cascades.nn.meanfield`) needs

* the one-dimensional expectations E[phi(sqrt(q) z)^2], E[phi'(sqrt(q) z)^2] and the slope
  d/dq E[phi(sqrt(q) z)^2] = E[phi'^2 + phi phi''] (Stein's lemma), z ~ N(0, 1);
* the two-dimensional kernels E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)] for a centred
  Gaussian pair (u1, u2) with covariance [[q11, q12], [q12, q22]].

They are computed from the closed forms where those exist (ReLU and leaky ReLU: the
arc-cosine kernel of Cho & Saul 2009; erf: the arcsine kernel of Williams 1998; linear;
Heaviside; the one-dimensional moments of hard-tanh, ELU and SELU) and otherwise by
quadrature against the Gaussian weight, 2-D with the Cholesky construction

    u1 = sqrt(q11) z1,    u2 = sqrt(q22) (c z1 + sqrt(1 - c^2) z2),    c = q12 / sqrt(q11 q22).

**The default rule** (``n=None`` everywhere) is composite Gauss-Legendre on panels of z: the
panels end at every kink (z = kink / sqrt(q), so no node sits on a jump of phi or phi'), at
the points z = u / sqrt(q) where an activation of unit scale bends (u = 0, +-0.5, +-1, +-2,
..., +-1024) and on a grid of step 2 in [-10, 10]; 2-D, the inner integral over z2 is split in
the same way for each outer node, and the outer one also where the smoothed inner function
bends (z1 = u / (sqrt(q22) c), and around its kinks at the scale of the smoothing). Measured
against adaptive quadrature for every registry activation with q from 1e-4 to 1e4
(``tests/test_nn_quadrature.py``): 1-D within 4e-15, 2-D within 7e-13 relative (slope of the
length map: 7e-13, the accuracy of the difference quotient it is checked against). For
hardtanh, ELU and SELU the inner average over z2 is known in closed form (a piecewise linear or
exponential function against a Gaussian: ``Activation.smoothed``), so their 2-D kernels need
only the outer rule (0.3 ms per point instead of 1-3 ms; the two routes agree to 2e-15).

An explicit ``n`` keeps the earlier rules: the trapezoid rule on n equally spaced nodes in
[-9, 9] (2-D: n x n), or probabilists' Gauss-Hermite with ``rule="gauss-hermite"``. They are
reproducible and what the numba kernels of :mod:`cascades.nn.meanfield` build on, but a fixed
node count loses accuracy as q grows (the scale of phi(sqrt(q) z) in z is 1 / sqrt(q)) and
converges only algebraically across kinks: measured for SELU at q = 1, E[phi'^2] is 2.3 % too
high with n = 301.

Names follow :mod:`torch.nn.functional` where torch has the function ("relu", "tanh",
"sigmoid", "gelu", "silu", "selu", "elu", "leaky_relu", "hardtanh"; "gelu_tanh" is torch's
``gelu(approximate="tanh")``); torch itself is never imported.

References
----------
Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli, "Exponential expressivity in deep neural
networks through transient chaos", NeurIPS 2016.
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein, "Deep information propagation", ICLR 2017.
Cho & Saul, "Kernel methods for deep learning", NeurIPS 2009 (arc-cosine kernel).
Williams, "Computation with infinite neural networks", Neural Computation 10, 1998 (arcsine kernel).
Clevert, Unterthiner & Hochreiter, "Fast and accurate deep network learning by exponential
linear units (ELUs)", ICLR 2016.
Klambauer, Unterthiner, Mayr & Hochreiter, "Self-normalizing neural networks", NeurIPS 2017 (SELU).
Hendrycks & Gimpel, "Gaussian error linear units (GELUs)", arXiv:1606.08415, 2016.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss
from scipy import special

from .._validation import check_int, check_real
from ._guard import F8, guard

__all__ = [
    "Activation",
    "ActivationLike",
    "get_activation",
    "available_activations",
    "custom_activation",
    "leaky_relu_activation",
    "elu_activation",
    "erf_activation",
    "quadrature_rule",
    "gaussian_expectation",
    "gaussian_expectation_2d",
    "expect_phi_sq",
    "expect_phi_sq_slope",
    "expect_dphi_sq",
    "expect_dphi_power",
    "expect_phi_phi",
    "expect_dphi_dphi",
    "N_QUAD_1D",
    "N_QUAD_2D",
]

#: Nodes of the trapezoid rule in 1-D when a rule is asked for without ``n`` (the earlier default).
N_QUAD_1D = 301
#: Nodes per axis of the 2-D trapezoid rule when a rule is asked for without ``n2``.
N_QUAD_2D = 121
# Half-width of the truncated z-range of the trapezoid rule: P(|z| > 9) = 2.3e-19.
_Z_MAX = 9.0

# Elements of the largest temporary array built by the 2-D quadrature (float64: 8 bytes each).
_CHUNK = 1_000_000

Array = np.ndarray

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _fmt(value: float) -> str:
    """Shortest text that reads back as the same float ("0.2", "1e-05", "2")."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class Activation:
    """An activation function phi with its derivatives and known Gaussian closed forms.

    Parameters
    ----------
    name : str
        Registry name (torch's name where torch has the function); parameterised activations
        are named like their factory call, e.g. ``"elu(0.5)"``, which :func:`get_activation`
        reads back.
    phi, dphi, d2phi : callable
        phi, phi' and phi'' acting elementwise on float arrays. For activations with kinks,
        ``d2phi`` is the classical second derivative (zero away from the kinks); the Dirac
        parts are accounted for in the closed forms ``dmean_sq``.
    smooth : bool
        True when phi is infinitely differentiable.
    mean_sq, dmean_sq, mean_dsq : callable or None
        Closed forms of q -> E[phi(sqrt(q) z)^2], q -> d/dq E[phi(sqrt(q) z)^2] and
        q -> E[phi'(sqrt(q) z)^2], z ~ N(0, 1). ``None``: use quadrature.
    kernel, dkernel : callable or None
        Closed forms of (q11, q22, q12) -> E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)] for a
        centred Gaussian pair with that covariance. ``None``: use quadrature.
    dphi_power : callable or None
        Closed form of (q, k) -> E[phi'(sqrt(q) z)^(2k)] (the moments mu_k of Pennington,
        Schoenholz & Ganguli 2017). ``None``: use quadrature.
    kinks : tuple of float
        The points u where phi, phi' or phi'' jumps (relu, leaky relu, heaviside, elu, selu: 0;
        hardtanh: -1 and 1). The default quadrature rule ends its panels there. Stored sorted.
    smoothed : callable or None
        Closed form of (m, s) -> (E[phi(m + s Z)], E[phi'(m + s Z)]), Z ~ N(0, 1), elementwise
        (s >= 0): phi and phi' averaged over a Gaussian. The inner integral of the 2-D kernels
        is such an average, so with it they need only the outer (1-D) quadrature
        (hardtanh, elu, selu). ``None``: 2-D quadrature.

    Raises
    ------
    ValueError
        If a kink is not a finite number.

    Examples
    --------
    >>> act = get_activation("relu")
    >>> act.phi(np.array([-1.0, 2.0]))
    array([0., 2.])
    >>> float(act.mean_sq(2.0))   # E[relu(sqrt(2) z)^2] = q / 2
    1.0
    >>> get_activation("hardtanh").kinks
    (-1.0, 1.0)
    """

    name: str
    phi: Callable[[Array], Array]
    dphi: Callable[[Array], Array]
    d2phi: Callable[[Array], Array]
    smooth: bool = True
    mean_sq: Callable | None = None
    dmean_sq: Callable | None = None
    mean_dsq: Callable | None = None
    kernel: Callable | None = None
    dkernel: Callable | None = None
    dphi_power: Callable | None = None
    kinks: tuple[float, ...] = ()
    smoothed: Callable | None = None

    def __post_init__(self):
        try:
            kinks = tuple(sorted(float(k) for k in np.atleast_1d(np.asarray(self.kinks, dtype=float))))
        except (TypeError, ValueError):
            raise ValueError(f"kinks must be a sequence of finite numbers, got {self.kinks!r}") from None
        if not all(math.isfinite(k) for k in kinks):
            raise ValueError(f"kinks must be a sequence of finite numbers, got {self.kinks!r}")
        object.__setattr__(self, "kinks", kinks)

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


#: An activation given by registry name or as an :class:`Activation`.
ActivationLike = str | Activation


# ---------------------------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------------------------


def _cos_angle(q11, q22, q12):
    """Correlation c = q12 / sqrt(q11 q22) clipped to [-1, 1] (1 where a variance is 0)."""
    q11, q22, q12 = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (q11, q22, q12)))
    denom = np.sqrt(q11 * q22)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(denom > 0, q12 / np.where(denom > 0, denom, 1.0), 1.0)
    return np.clip(c, -1.0, 1.0), denom


def _arccos_kernel(q11, q22, q12):
    # Cho & Saul 2009, n = 1: E[relu(u1) relu(u2)] = sqrt(q11 q22) / (2 pi) (sin t + (pi - t) cos t)
    c, denom = _cos_angle(q11, q22, q12)
    t = np.arccos(c)
    return denom / (2 * np.pi) * (np.sqrt(1.0 - c * c) + (np.pi - t) * c)


def _arccos_kernel0(q11, q22, q12):
    # Cho & Saul 2009, n = 0: E[H(u1) H(u2)] = (pi - t) / (2 pi)
    c, _ = _cos_angle(q11, q22, q12)
    return (np.pi - np.arccos(c)) / (2 * np.pi)


def _heaviside_dkernel(q11, q22, q12):
    # E[delta(u1) delta(u2)] = bivariate normal density at the origin; infinite when |c| = 1
    q11, q22, q12 = (np.asarray(a, dtype=float) for a in (q11, q22, q12))
    det = q11 * q22 - q12 * q12
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(det > 0, 1.0 / (2 * np.pi * np.sqrt(np.where(det > 0, det, 1.0))), np.inf)
    return out


def _erf_closed(a):
    a2 = a * a

    def mean_sq(q):
        q = np.asarray(q, dtype=float)
        return 2 / np.pi * np.arcsin(2 * a2 * q / (1 + 2 * a2 * q))

    def dmean_sq(q):
        q = np.asarray(q, dtype=float)
        return 4 * a2 / (np.pi * (1 + 2 * a2 * q) * np.sqrt(1 + 4 * a2 * q))

    def mean_dsq(q):
        q = np.asarray(q, dtype=float)
        return 4 * a2 / (np.pi * np.sqrt(1 + 4 * a2 * q))

    def kernel(q11, q22, q12):
        q11, q22, q12 = (np.asarray(x, dtype=float) for x in (q11, q22, q12))
        x = 2 * a2 * q12 / np.sqrt((1 + 2 * a2 * q11) * (1 + 2 * a2 * q22))
        return 2 / np.pi * np.arcsin(np.clip(x, -1.0, 1.0))

    def dkernel(q11, q22, q12):
        q11, q22, q12 = (np.asarray(x, dtype=float) for x in (q11, q22, q12))
        det = (1 + 2 * a2 * q11) * (1 + 2 * a2 * q22) - 4 * a2 * a2 * q12 * q12
        return 4 * a2 / (np.pi * np.sqrt(det))

    return mean_sq, dmean_sq, mean_dsq, kernel, dkernel


def _hardtanh_mean_sq(q):
    # E[z^2 1{|z| < a}] = erf(a / sqrt 2) - 2 a pdf(a), a = 1 / sqrt(q); outside |u| > 1 phi^2 = 1
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        a = np.where(q > 0, 1.0 / np.sqrt(np.where(q > 0, q, 1.0)), np.inf)
    af = np.where(np.isfinite(a), a, 0.0)  # a = inf (q = 0): a pdf(a) = 0
    inner = special.erf(a / math.sqrt(2)) - 2 * af * np.exp(-0.5 * af * af) / math.sqrt(2 * math.pi)
    # small a (large q): the difference cancels; its series sqrt(2/pi) sum (-1)^k a^(2k+3) / (2^k k! (2k+3))
    # (7 terms: remainder < 1e-17 relative for a <= 0.1)
    small = af <= 0.1
    a2 = np.where(small, af * af, 0.0)
    series = np.polyval([(-1) ** k / (2**k * math.factorial(k) * (2 * k + 3)) for k in range(6, -1, -1)], a2)
    inner = np.where(small, math.sqrt(2 / math.pi) * a2 * np.where(small, af, 0.0) * series, inner)
    return q * inner + special.erfc(a / math.sqrt(2))


def _hardtanh_dmean_sq(q):
    # E[phi'^2] + E[phi phi''], phi'' = delta(u + 1) - delta(u - 1): erf(a / sqrt 2) - 2 pdf_u(1)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        a = np.where(q > 0, 1.0 / np.sqrt(np.where(q > 0, q, 1.0)), np.inf)
    af = np.where(np.isfinite(a), a, 0.0)  # a = inf (q = 0): the density of u at 1 is 0
    return special.erf(a / math.sqrt(2)) - 2 * af * np.exp(-0.5 * af * af) / math.sqrt(2 * math.pi)


def _hardtanh_mean_dsq(q):
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        a = np.where(q > 0, 1.0 / np.sqrt(np.where(q > 0, q, 1.0)), np.inf)
    return special.erf(a / math.sqrt(2))


def _neg_exp_mean(a):
    """M(a) = E[exp(a z); z < 0] = exp(a^2 / 2) Phi(-a) = erfcx(a / sqrt 2) / 2, z ~ N(0, 1), a >= 0.

    erfcx keeps it finite (and accurate) for every a >= 0: M(a) ~ 1 / (a sqrt(2 pi)) as a -> oo.
    """
    return 0.5 * special.erfcx(np.asarray(a, dtype=float) / _SQRT2)


# D(s) = E[(exp(s z) - 1)^2; z < 0] = M(2 s) - 2 M(s) + 1/2 = sum_{k >= 2} d_k s^k with
# d_k = (-1)^k (2^k - 2) E|z|^k / (2 k!), E|z|^k = 2^(k/2) Gamma((k + 1) / 2) / sqrt(pi). The series
# replaces the closed form for s <= 0.5, where the closed form loses digits to cancellation (its
# value is s^2 / 2 + O(s^3)); 30 terms leave a remainder below 1e-17 relative there.
_ELU_SERIES_S = 0.5
_ELU_SERIES = np.array([
    (-1) ** k * (2.0**k - 2.0) * 2.0 ** (k / 2) * math.gamma((k + 1) / 2)
    / (math.sqrt(math.pi) * 2.0 * math.factorial(k))
    for k in range(2, 32)
])


def _elu_neg_sq(s):
    """D(s) = E[(exp(s z) - 1)^2; z < 0] for s = sqrt(q) >= 0 (series for small s, erfcx above)."""
    s = np.asarray(s, dtype=float)
    small = s <= _ELU_SERIES_S
    with np.errstate(invalid="ignore"):
        closed = _neg_exp_mean(2 * s) - 2 * _neg_exp_mean(s) + 0.5
    ss = np.where(small, s, 0.0)
    series = ss * ss * np.polyval(_ELU_SERIES[::-1], ss)
    return np.where(small, series, closed)


def _elu_closed(alpha: float, scale: float):
    """Closed-form 1-D moments of phi = scale * ELU_alpha (derived in theory.nn_kernels).

    With s = sqrt(q) and M(a) = erfcx(a / sqrt 2) / 2:
    E[phi^2] = scale^2 (q / 2 + alpha^2 (M(2s) - 2 M(s) + 1/2)),
    d/dq E[phi^2] = scale^2 (1/2 + alpha^2 (2 M(2s) - M(s))),
    E[phi'^2] = scale^2 (1/2 + alpha^2 M(2s)), E[phi'^(2k)] = scale^(2k) (1/2 + alpha^(2k) M(2ks)).
    phi is continuous at 0, so phi phi'' has no Dirac part.
    """
    a2, l2 = alpha * alpha, scale * scale

    def _s(q):
        return np.sqrt(np.asarray(q, dtype=float))

    def mean_sq(q):
        q = np.asarray(q, dtype=float)
        return l2 * (0.5 * q + a2 * _elu_neg_sq(np.sqrt(q)))

    def dmean_sq(q):
        s = _s(q)
        return l2 * (0.5 + a2 * (2 * _neg_exp_mean(2 * s) - _neg_exp_mean(s)))

    def mean_dsq(q):
        return l2 * (0.5 + a2 * _neg_exp_mean(2 * _s(q)))

    def dphi_power(q, k):
        return scale ** (2 * k) * (0.5 + alpha ** (2 * k) * _neg_exp_mean(2 * k * _s(q)))

    return mean_sq, dmean_sq, mean_dsq, dphi_power


def _smoothing_args(m, s):
    m = np.asarray(m, dtype=float)
    return m, np.maximum(np.asarray(s, dtype=float), 1e-150)  # s = 0: the limit (phi(m), phi'(m))


def _hardtanh_smoothed(m, s):
    """(E[clip(x, -1, 1)], P(|x| < 1)) for x ~ N(m, s^2): a piecewise-linear function against a Gaussian.

    With a = (-1 - m) / s, b = (1 - m) / s: E[clip] = m (Phi(b) - Phi(a)) + s (pdf(a) - pdf(b))
    + Phi(-b) - Phi(a); both are odd/even in m, and are evaluated for |m| (no cancellation of
    Phi(b) - Phi(a) near 1).
    """
    m, s = _smoothing_args(m, s)
    sign = np.where(m < 0, -1.0, 1.0)
    m = np.abs(m)
    a, b = (-1 - m) / s, (1 - m) / s
    inside = special.ndtr(b) - special.ndtr(a)
    pdf = (np.exp(-0.5 * a * a) - np.exp(-0.5 * b * b)) * _INV_SQRT_2PI
    mean = m * inside + s * pdf + special.ndtr(-b) - special.ndtr(a)
    return sign * mean, inside


def _exp_below_zero(m, s):
    """E[e^x; x < 0] = e^(m + s^2/2) Phi(-(m + s^2) / s) for x ~ N(m, s^2), without overflow.

    For t = (m + s^2) / s >= 0 it is erfcx(t / sqrt 2) / 2 * exp(-m^2 / (2 s^2)).
    """
    t = (m + s * s) / s
    pos = t >= 0
    tp = np.where(pos, t, 0.0)
    scaled = 0.5 * special.erfcx(tp / _SQRT2) * np.exp(-0.5 * (m / s) ** 2)
    direct = np.exp(np.where(pos, 0.0, m + 0.5 * s * s)) * special.ndtr(-np.where(pos, 0.0, t))
    return np.where(pos, scaled, direct)


def _elu_smoothed(alpha: float, scale: float):
    def smoothed(m, s):
        """(E[phi(x)], E[phi'(x)]) for x ~ N(m, s^2), phi = scale * ELU_alpha."""
        m, s = _smoothing_args(m, s)
        t = m / s
        above = special.ndtr(t)
        below_exp = _exp_below_zero(m, s)
        mean = m * above + s * np.exp(-0.5 * t * t) * _INV_SQRT_2PI + alpha * (below_exp - special.ndtr(-t))
        return scale * mean, scale * (above + alpha * below_exp)

    return smoothed


def _const(value):
    def f(q, *rest):
        return np.full(np.broadcast(np.asarray(q, dtype=float), *rest).shape, value)

    return f


# ---------------------------------------------------------------------------------------------
# the registry
# ---------------------------------------------------------------------------------------------


def leaky_relu_activation(negative_slope: float = 0.01) -> Activation:
    """Leaky ReLU phi(u) = max(u, a u) (torch's ``leaky_relu``), with closed-form kernels.

    Parameters
    ----------
    negative_slope : float
        The slope a in [0, 1] for u < 0 (torch's default 0.01). a = 0 is the ReLU.

    Returns
    -------
    Activation
        Named ``"leaky_relu"`` for a = 0.01, ``"relu"`` for a = 0 (the registry's objects) and
        ``"leaky_relu(a)"`` otherwise; the same object for the same a.

    Notes
    -----
    Writing phi = (1 - a) relu + a id and using E[relu(u1) u2] = q12 / 2,
    E[phi(u1) phi(u2)] = (1 - a)^2 K_relu + a q12 and
    E[phi'(u1) phi'(u2)] = a + (1 - a)^2 (pi - t) / (2 pi), c = cos t (arc-cosine kernels of
    Cho & Saul 2009, orders 1 and 0). Checked in :mod:`theory.nn_kernels`.

    Examples
    --------
    >>> act = leaky_relu_activation(0.2)
    >>> float(act.mean_dsq(1.0))   # (1 + a^2) / 2
    0.52
    >>> act.name, get_activation("leaky_relu(0.2)") is act
    ('leaky_relu(0.2)', True)
    """
    return _leaky_relu(check_real("negative_slope", negative_slope, low=0, high=1))


@functools.cache
def _leaky_relu(a: float) -> Activation:
    b = (1 - a) ** 2

    def phi(x):
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, x, a * x)

    def dphi(x):
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, 1.0, np.where(x < 0, a, 0.5 * (1 + a)))

    def kernel(q11, q22, q12):
        return b * _arccos_kernel(q11, q22, q12) + a * np.asarray(q12, dtype=float)

    def dkernel(q11, q22, q12):
        return a + b * _arccos_kernel0(q11, q22, q12)

    def dphi_power(q, k):
        return np.broadcast_to(0.5 * (1.0 + a ** (2.0 * k)), np.shape(q)) * 1.0

    m = 0.5 * (1 + a * a)
    name = "relu" if a == 0 else "leaky_relu" if a == 0.01 else f"leaky_relu({_fmt(a)})"
    return Activation(
        name=name,
        phi=phi,
        dphi=dphi,
        d2phi=_zeros,
        smooth=a == 1,
        mean_sq=lambda q: m * np.asarray(q, dtype=float),
        dmean_sq=_const(m),
        mean_dsq=_const(m),
        kernel=kernel,
        dkernel=dkernel,
        dphi_power=dphi_power,
        kinks=() if a == 1 else (0.0,),
    )


def elu_activation(alpha: float = 1.0) -> Activation:
    """ELU phi(u) = u for u > 0, alpha (e^u - 1) for u <= 0 (torch's ``nn.ELU``; Clevert et al. 2016).

    Parameters
    ----------
    alpha : float
        The saturation value -alpha for u -> -oo, >= 0 (torch's default 1).

    Returns
    -------
    Activation
        Named ``"elu"`` for alpha = 1 (the registry's object) and ``"elu(alpha)"`` otherwise;
        the same object for the same alpha. The 1-D expectations are in closed form, the 2-D
        kernels by quadrature (kink at 0).

    Notes
    -----
    With s = sqrt(q) and M(a) = E[e^{a z}; z < 0] = erfcx(a / sqrt 2) / 2 (finite for every
    q thanks to the scaled complementary error function):
    E[phi^2] = q / 2 + alpha^2 (M(2s) - 2 M(s) + 1/2), E[phi'^2] = 1/2 + alpha^2 M(2s),
    d/dq E[phi^2] = E[phi'^2 + phi phi''] = 1/2 + alpha^2 (2 M(2s) - M(s)) (phi is continuous,
    so no Dirac term), and E[phi'^(2k)] = 1/2 + alpha^(2k) M(2ks). For s <= 0.5, M(2s) - 2 M(s)
    + 1/2 is summed as its Taylor series (the closed form cancels there). Derived with sympy in
    :mod:`theory.nn_kernels`. SELU is 1.0507 * ELU_1.6733 (:func:`get_activation` ``("selu")``).

    References
    ----------
    Clevert, Unterthiner & Hochreiter, "Fast and accurate deep network learning by exponential
    linear units (ELUs)", ICLR 2016.

    Examples
    --------
    >>> act = elu_activation(0.5)
    >>> act.name, act.kinks
    ('elu(0.5)', (0.0,))
    >>> round(float(act.mean_dsq(0.0)), 12)   # q -> 0: (1 + alpha^2) / 2
    0.625
    """
    a = check_real("alpha", alpha, low=0)
    return _elu(a, 1.0, "elu" if a == 1 else f"elu({_fmt(a)})")


@functools.cache
def _elu(alpha: float, scale: float, name: str) -> Activation:
    def phi(x):
        x = np.asarray(x, dtype=float)
        return scale * np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))

    def dphi(x):
        x = np.asarray(x, dtype=float)
        return scale * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))

    def d2phi(x):
        x = np.asarray(x, dtype=float)
        return scale * np.where(x > 0, 0.0, alpha * np.exp(np.minimum(x, 0.0)))

    mean_sq, dmean_sq, mean_dsq, dphi_power = _elu_closed(alpha, scale)
    return Activation(
        name=name,
        phi=phi,
        dphi=dphi,
        d2phi=d2phi,
        smooth=False,
        mean_sq=mean_sq,
        dmean_sq=dmean_sq,
        mean_dsq=mean_dsq,
        dphi_power=dphi_power,
        kinks=(0.0,),
        smoothed=_elu_smoothed(alpha, scale),
    )


def erf_activation(scale: float = 1.0) -> Activation:
    """phi(u) = erf(a u) with the arcsine kernel of Williams (1998).

    Parameters
    ----------
    scale : float
        a > 0. ``scale = sqrt(pi) / 2`` gives phi'(0) = 1, like tanh.

    Returns
    -------
    Activation
        Named ``"erf"`` for a = 1 (the registry's object) and ``"erf(a)"`` otherwise; the same
        object for the same a.

    Notes
    -----
    E[phi(u1) phi(u2)] = (2 / pi) arcsin(2 a^2 q12 / sqrt((1 + 2 a^2 q11)(1 + 2 a^2 q22)))
    (Williams 1998, eq. 11) and E[phi'(u1) phi'(u2)] = (4 a^2 / pi) det(I + 2 a^2 Sigma)^(-1/2).
    Derived in :mod:`theory.nn_kernels`.

    Examples
    --------
    >>> act = erf_activation()
    >>> round(float(act.kernel(1.0, 1.0, 1.0)), 12)   # (2/pi) arcsin(2/3)
    0.464559054398
    >>> erf_activation(0.5).name
    'erf(0.5)'
    """
    return _erf(check_real("scale", scale, low=0, low_open=True))


@functools.cache
def _erf(a: float) -> Activation:
    mean_sq, dmean_sq, mean_dsq, kernel, dkernel = _erf_closed(a)
    c0 = 2 * a / math.sqrt(math.pi)
    return Activation(
        name="erf" if a == 1 else f"erf({_fmt(a)})",
        phi=lambda x: special.erf(a * np.asarray(x, dtype=float)),
        dphi=lambda x: c0 * np.exp(-((a * np.asarray(x, dtype=float)) ** 2)),
        d2phi=lambda x: -2 * a * a * np.asarray(x, dtype=float) * c0 * np.exp(-((a * np.asarray(x)) ** 2)),
        smooth=True,
        mean_sq=mean_sq,
        dmean_sq=dmean_sq,
        mean_dsq=mean_dsq,
        kernel=kernel,
        dkernel=dkernel,
    )


def _zeros(x):
    return np.zeros_like(np.asarray(x, dtype=float))


def _ones(x):
    return np.ones_like(np.asarray(x, dtype=float))


def _sigmoid(x):
    return special.expit(np.asarray(x, dtype=float))


def _gelu(x):
    x = np.asarray(x, dtype=float)
    return x * special.ndtr(x)


def _dgelu(x):
    x = np.asarray(x, dtype=float)
    return special.ndtr(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _d2gelu(x):
    x = np.asarray(x, dtype=float)
    return (2 - x * x) * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


# torch's gelu(approximate="tanh"): 0.5 x (1 + tanh(k (x + b x^3))) = x expit(2 g), g = k (x + b x^3)
_GELU_TANH_K = math.sqrt(2.0 / math.pi)
_GELU_TANH_B = 0.044715


def _gelu_tanh_parts(x):
    x = np.asarray(x, dtype=float)
    g = _GELU_TANH_K * (x + _GELU_TANH_B * x**3)
    s = special.expit(2 * g)  # (1 + tanh g) / 2
    sech2 = 4 * s * special.expit(-2 * g)  # 1 - tanh(g)^2, without cancellation
    dg = _GELU_TANH_K * (1 + 3 * _GELU_TANH_B * x * x)
    return x, s, sech2, dg


def _gelu_tanh(x):
    x = np.asarray(x, dtype=float)
    return x * special.expit(2 * _GELU_TANH_K * (x + _GELU_TANH_B * x**3))


def _dgelu_tanh(x):
    x, s, sech2, dg = _gelu_tanh_parts(x)
    return s + 0.5 * x * sech2 * dg


def _d2gelu_tanh(x):
    # phi'' = sech^2(g) (g' + x (g'' - 2 tanh(g) g'^2) / 2), g'' = 6 k b x
    x, s, sech2, dg = _gelu_tanh_parts(x)
    return sech2 * (dg + 0.5 * x * (6 * _GELU_TANH_K * _GELU_TANH_B * x - 2 * (2 * s - 1) * dg * dg))


def _silu(x):
    x = np.asarray(x, dtype=float)
    return x * special.expit(x)


def _dsilu(x):
    s = special.expit(np.asarray(x, dtype=float))
    return s * (1 + np.asarray(x, dtype=float) * (1 - s))


def _d2silu(x):
    x = np.asarray(x, dtype=float)
    s = special.expit(x)
    return s * (1 - s) * (2 + x * (1 - 2 * s))


# torch.nn.SELU constants (Klambauer et al. 2017)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_LAMBDA = 1.0507009873554804934193349852946


def _hardtanh(x):
    return np.clip(np.asarray(x, dtype=float), -1.0, 1.0)


def _dhardtanh(x):
    x = np.asarray(x, dtype=float)
    return np.where(np.abs(x) < 1, 1.0, np.where(np.abs(x) == 1, 0.5, 0.0))


def _heaviside(x):
    return np.heaviside(np.asarray(x, dtype=float), 0.0)


def _tanh(x):
    return np.tanh(np.asarray(x, dtype=float))


def _dtanh(x):
    # sech^2 x = 4 e^{-2|x|} / (1 + e^{-2|x|})^2: no overflow of cosh for |x| > 710
    e = np.exp(-2.0 * np.abs(np.asarray(x, dtype=float)))
    return 4.0 * e / (1.0 + e) ** 2


def _d2tanh(x):
    x = np.asarray(x, dtype=float)
    return -2.0 * np.tanh(x) * _dtanh(x)


def _dsigmoid(x):
    s = special.expit(np.asarray(x, dtype=float))
    return s * (1 - s)


def _d2sigmoid(x):
    s = special.expit(np.asarray(x, dtype=float))
    return s * (1 - s) * (1 - 2 * s)


@functools.cache
def _registry() -> dict[str, Activation]:
    linear = Activation(
        name="linear",
        phi=lambda x: np.asarray(x, dtype=float) * 1.0,
        dphi=_ones,
        d2phi=_zeros,
        smooth=True,
        mean_sq=lambda q: np.asarray(q, dtype=float) * 1.0,
        dmean_sq=_const(1.0),
        mean_dsq=_const(1.0),
        kernel=lambda q11, q22, q12: np.asarray(q12, dtype=float) * 1.0,
        dkernel=lambda q11, q22, q12: _const(1.0)(q11, q22, q12),
        dphi_power=lambda q, k: _const(1.0)(q),
    )
    heaviside = Activation(
        name="heaviside",
        phi=_heaviside,
        dphi=_zeros,  # a Dirac delta at 0: only the closed forms below know about it
        d2phi=_zeros,
        smooth=False,
        mean_sq=_const(0.5),
        dmean_sq=_const(0.0),
        mean_dsq=_const(np.inf),
        kernel=_arccos_kernel0,
        dkernel=_heaviside_dkernel,
        dphi_power=lambda q, k: _const(np.inf)(q),
        kinks=(0.0,),
    )
    acts = [
        _leaky_relu(0.0),
        _leaky_relu(0.01),
        linear,
        Activation("tanh", _tanh, _dtanh, _d2tanh, smooth=True),
        _erf(1.0),
        Activation("sigmoid", _sigmoid, _dsigmoid, _d2sigmoid, smooth=True),
        Activation(
            "hardtanh",
            _hardtanh,
            _dhardtanh,
            _zeros,
            smooth=False,
            mean_sq=_hardtanh_mean_sq,
            dmean_sq=_hardtanh_dmean_sq,
            mean_dsq=_hardtanh_mean_dsq,
            dphi_power=lambda q, k: _hardtanh_mean_dsq(q),
            kinks=(-1.0, 1.0),
            smoothed=_hardtanh_smoothed,
        ),
        Activation("gelu", _gelu, _dgelu, _d2gelu, smooth=True),
        Activation("gelu_tanh", _gelu_tanh, _dgelu_tanh, _d2gelu_tanh, smooth=True),
        Activation("silu", _silu, _dsilu, _d2silu, smooth=True),
        _elu(_SELU_ALPHA, _SELU_LAMBDA, "selu"),
        _elu(1.0, 1.0, "elu"),
        heaviside,
    ]
    return {a.name: a for a in acts}


_ALIASES = {
    "swish": "silu",
    "step": "heaviside",
    "watts": "heaviside",
    "identity": "linear",
    "hard_tanh": "hardtanh",
    "leakyrelu": "leaky_relu",
    "leaky-relu": "leaky_relu",
    "hard-tanh": "hardtanh",
    "logistic": "sigmoid",
    "gelu-tanh": "gelu_tanh",
}

# the parameterised families get_activation reads back from their names, e.g. "elu(0.5)"
_FACTORIES = {"leaky_relu": leaky_relu_activation, "elu": elu_activation, "erf": erf_activation}
_CALL = re.compile(r"^([a-z_\-]+)\s*\(\s*([^()]*?)\s*\)$")


def available_activations() -> tuple[str, ...]:
    """Names accepted by :func:`get_activation` (registry names, then aliases).

    Parameterised families are accepted too, as ``"leaky_relu(a)"``, ``"elu(alpha)"`` and
    ``"erf(a)"``.

    Examples
    --------
    >>> "relu" in available_activations() and "swish" in available_activations()
    True
    """
    return tuple(_registry()) + tuple(_ALIASES)


def get_activation(activation: ActivationLike) -> Activation:
    """Return the :class:`Activation` for a registry name (or the object itself).

    Parameters
    ----------
    activation : str or Activation
        A name from :func:`available_activations` (case-insensitive; torch's names, plus the
        aliases "swish" -> "silu", "step"/"watts" -> "heaviside", "identity" -> "linear"), a
        parameterised name ``"leaky_relu(a)"``, ``"elu(alpha)"`` or ``"erf(a)"`` (the
        ``.name`` of :func:`leaky_relu_activation`, :func:`elu_activation`,
        :func:`erf_activation`), or an :class:`Activation`, returned unchanged. Use
        :func:`custom_activation` for a callable.

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones) or a parameter out of range.

    Examples
    --------
    >>> get_activation("swish").name
    'silu'
    >>> get_activation("elu(0.5)") is elu_activation(0.5)
    True
    >>> get_activation("softsign")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: activation must be an Activation or one of relu, leaky_relu, linear, tanh, ...
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        key = activation.strip().lower()
        key = _ALIASES.get(key, key)
        reg = _registry()
        if key in reg:
            return reg[key]
        call = _CALL.match(key)
        if call is not None:
            base = _ALIASES.get(call.group(1), call.group(1))
            if base in _FACTORIES:
                try:
                    value = float(call.group(2))
                except ValueError:
                    raise ValueError(
                        f"activation {activation!r}: the parameter of {base}(...) must be a number"
                    ) from None
                return _FACTORIES[base](value)
    if callable(activation):
        raise ValueError(
            "activation must be an Activation or a registry name; wrap a callable with "
            "custom_activation(phi, dphi, d2phi)"
        )
    raise ValueError(
        f"activation must be an Activation or one of {', '.join(_registry())} "
        f"(aliases: {', '.join(_ALIASES)}; parameterised: leaky_relu(a), elu(alpha), erf(a)); "
        f"got {activation!r}"
    )


def custom_activation(
    phi: Callable[[Array], Array],
    dphi: Callable[[Array], Array] | None = None,
    d2phi: Callable[[Array], Array] | None = None,
    *,
    name: str = "custom",
    smooth: bool = True,
    kinks=(),
    step: float = 1e-4,
) -> Activation:
    """Wrap a user callable as an :class:`Activation`; missing derivatives by finite differences.

    Parameters
    ----------
    phi : callable
        Elementwise function on float arrays.
    dphi, d2phi : callable, optional
        phi' and phi''. When omitted they are central finite differences of ``phi``
        (``dphi``) and of ``dphi`` (``d2phi``) with step ``step * max(1, |x|)``; the truncation
        error is O(step^2) for smooth phi (about 1e-8 relative with the default step). Give
        them explicitly for a kinked phi: a difference across a kink is wrong within one step
        of it.
    name : str
        Label for reprs and error messages.
    smooth : bool
        Whether phi is smooth (documentation only).
    kinks : sequence of float
        The points u where phi, phi' or phi'' jumps; the default quadrature rule splits its
        panels there (without them, a kink costs accuracy: the rule then converges only
        algebraically in the panel that holds it). The rule resolves activations that bend on
        the scale |u| ~ 0.5 to 1000; give a kink at the centre of a sharper bend.
    step : float
        Relative finite-difference step, > 0.

    Returns
    -------
    Activation
        All expectations by quadrature.

    Raises
    ------
    ValueError
        If ``phi`` is not callable, ``step`` is not positive or a kink is not finite.

    Examples
    --------
    >>> act = custom_activation(np.sin, name="sin")
    >>> round(float(act.dphi(np.array(0.0))), 8)
    1.0
    >>> shifted = custom_activation(lambda x: np.maximum(x - 0.5, 0), lambda x: 1.0 * (x > 0.5),
    ...                             lambda x: 0 * x, kinks=(0.5,))
    >>> round(float(expect_dphi_sq(shifted, 1.0)), 12)   # P(z > 0.5)
    0.308537538726
    """
    if not callable(phi):
        raise ValueError(f"phi must be callable, got {phi!r}")
    h = check_real("step", step, low=0, low_open=True)

    def _fd(f):
        def df(x):
            x = np.asarray(x, dtype=float)
            e = h * np.maximum(1.0, np.abs(x))
            return (np.asarray(f(x + e), dtype=float) - np.asarray(f(x - e), dtype=float)) / (2 * e)

        return df

    def _wrap(f):
        return lambda x: np.asarray(f(np.asarray(x, dtype=float)), dtype=float)

    phi_w = _wrap(phi)
    dphi_w = _wrap(dphi) if dphi is not None else _fd(phi_w)
    d2phi_w = _wrap(d2phi) if d2phi is not None else _fd(dphi_w)
    return Activation(name=str(name), phi=phi_w, dphi=dphi_w, d2phi=d2phi_w, smooth=bool(smooth), kinks=kinks)


# ---------------------------------------------------------------------------------------------
# quadrature against the Gaussian weight
# ---------------------------------------------------------------------------------------------

# The default rule: composite Gauss-Legendre on panels of z. Panel ends: the grid below, the
# kinks and the "bends" (u = 0, +-2^k for k = -1 .. 10: activations of unit scale change there,
# exponentially (tanh, sigmoid, gelu, silu, selu) or algebraically (softsign, 1 / u: the panels
# [2^k, 2^(k+1)] resolve it at any q up to 1e4)), each mapped to z and clipped to [-10, 10]
# (P(|z| > 10) = 1.5e-23; E[phi^2] ~ q z^2 in the tails adds a factor 100 at most).
_PANEL_Z = 10.0
_PANEL_GRID = np.arange(-_PANEL_Z, _PANEL_Z + 1.0, 2.0)
# 0, +-0.5, +-1, ..., +-1024
_BENDS = np.concatenate([[0.0], np.outer(2.0 ** np.arange(-1, 11), [-1.0, 1.0]).ravel()])
# 2-D: the inner integral smooths a kink k of g over sigma = sqrt(q22 (1 - c^2)) in u; the outer
# panels also end at k +- j sigma (mapped to z1), which resolves the smoothed kink for any c
# (offsets 1 and 4 alone left 7e-9 at c = 0.999999, q = 1; 1, 2, 4, 8 leave < 1e-12)
_KINK_OFFSETS = np.array([-8.0, -4.0, -2.0, -1.0, 1.0, 2.0, 4.0, 8.0])
# Gauss-Legendre nodes per panel: 1-D; outer and inner axes of the 2-D rule (measured worst
# errors over the registry for q in [1e-4, 1e4]: 1-D 5e-16 with 12 nodes (1e-11 with 8); 2-D
# 5e-12 with 10 x 8, where 8 inner nodes on the panels of width 2 leave 1e-12 of the Gaussian
# itself (E[u1 u2] of the identity), 1e-15 with 10 x 10)
_GL_1D = 12
_GL_OUTER = 10
_GL_INNER = 10
# sqrt(q) is floored here, so that q = 0 gives the limit q -> 0+ (a kink at 0 stays a panel end)
_S_MIN = 1e-150


@functools.cache
def _legendre(m: int) -> tuple[Array, Array]:
    x, w = leggauss(m)
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def _panel_edges(*points: Array) -> Array:
    """Sorted panel ends: the grid and the given points (arrays (..., k) in z), clipped to [-Z, Z]."""
    lead = np.broadcast_shapes(*(p.shape[:-1] for p in points))
    parts = [np.broadcast_to(_PANEL_GRID, lead + _PANEL_GRID.shape)]
    parts += [np.clip(np.broadcast_to(p, lead + p.shape[-1:]), -_PANEL_Z, _PANEL_Z) for p in points]
    edges = np.concatenate(parts, axis=-1)
    edges.sort(axis=-1)
    return edges


def _panel_nodes(edges: Array, m: int) -> tuple[Array, Array]:
    """Nodes z and weights w (Gaussian density included) of m-point Gauss-Legendre on each panel.

    ``edges`` (..., E) is sorted along its last axis. Panels of zero width (clipped or repeated
    ends) are moved behind the others and dropped where every row has them, so the node count
    is that of the row with the most panels.
    """
    a, b = edges[..., :-1], edges[..., 1:]
    nonzero = b > a
    k = int(nonzero.sum(axis=-1).max())
    if k < a.shape[-1]:
        order = np.argsort(~nonzero, axis=-1, kind="stable")[..., :k]
        a = np.take_along_axis(a, order, axis=-1)
        b = np.take_along_axis(b, order, axis=-1)
    x, w = _legendre(m)
    half = 0.5 * (b - a)
    z = (0.5 * (a + b))[..., None] + half[..., None] * x
    wz = (half[..., None] * w) * np.exp(-0.5 * z * z) * _INV_SQRT_2PI
    shape = edges.shape[:-1] + (-1,)
    wz = wz.reshape(shape)
    # normalised: E[constant] is exact (the truncated tails hold < 1e-22 of the mass)
    return z.reshape(shape), wz / wz.sum(axis=-1, keepdims=True)


def _safe_div(num: Array, den: Array) -> Array:
    """num / den where den != 0, else +_PANEL_Z (a point outside the range: a zero-width panel)."""
    ok = den != 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(ok, num / np.where(ok, den, 1.0), _PANEL_Z)


def _panel_expect(funcs, q: Array, kinks=()) -> list[Array]:
    """[E[f(sqrt(q) z)] for f in funcs] by the panel rule, vectorised (and chunked) over q."""
    q = np.asarray(q, dtype=float)
    s = np.maximum(np.sqrt(q.ravel()), _S_MIN)
    pts = np.concatenate([_BENDS, np.asarray(kinks, dtype=float)])
    outs = [np.empty(s.size) for _ in funcs]
    per_point = (_PANEL_GRID.size + pts.size) * _GL_1D
    step = max(1, _CHUNK // per_point)
    for lo in range(0, s.size, step):
        sl = slice(lo, lo + step)
        sc = s[sl, None]
        z, w = _panel_nodes(_panel_edges(pts / sc), _GL_1D)
        u = sc * z
        for out, f in zip(outs, funcs, strict=True):
            out[sl] = np.einsum("pn,pn->p", np.broadcast_to(np.asarray(f(u), dtype=float), u.shape), w)
    zero = q.ravel() == 0
    if np.any(zero):  # the limit q -> 0+ exactly: f(0), or the mean of the one-sided values at a kink
        t = np.array([-1e-300, 1e-300])
        for out, f in zip(outs, funcs, strict=True):
            out[zero] = float(np.mean(np.broadcast_to(np.asarray(f(t), dtype=float), t.shape)))
    return [o.reshape(q.shape) for o in outs]


def _panel_expect_2d(pairs, q11: Array, q22: Array, c: Array, kinks_f=(), kinks_g=()) -> list[Array]:
    """[E[f(u1) g(u2)] for (f, g) in pairs] by the 2-D panel rule (flat parameter arrays).

    Outer variable z1 (u1 = s1 z1), inner z2 (u2 = s2 (c z1 + sf z2)). The outer panels end at
    the grid, at the kinks and bends of f (z1 = u / s1), at those of the inner average
    G(z1) = E[g(s2 (c z1 + sf z2)) | z1], which is g smoothed over sigma = s2 sf (z1 = u / (s2 c)),
    and around each kink k of g at z1 = (k + j sigma) / (s2 c); the inner panels of each outer
    node end at the grid and at the kinks and bends of g (z2 = (u / s2 - c z1) / sf).
    """
    s1 = np.maximum(np.sqrt(q11), _S_MIN)
    s2 = np.maximum(np.sqrt(q22), _S_MIN)
    c = np.clip(c, -1.0, 1.0)
    sf = np.sqrt(np.maximum(0.0, 1.0 - c * c))
    pf = np.concatenate([_BENDS, np.asarray(kinks_f, dtype=float)])
    kg = np.asarray(kinks_g, dtype=float)
    pg = np.concatenate([_BENDS, kg])
    outs = [np.empty(c.size) for _ in pairs]
    n1 = (_PANEL_GRID.size + pf.size + pg.size + kg.size * _KINK_OFFSETS.size) * _GL_OUTER
    n2 = (_PANEL_GRID.size + pg.size) * _GL_INNER
    step = max(1, _CHUNK // (n1 * n2))
    for lo in range(0, c.size, step):
        sl = slice(lo, lo + step)
        a1, a2, cc, ss = s1[sl, None], s2[sl, None], c[sl, None], sf[sl, None]
        z1, w1 = _panel_nodes(_outer_edges(a1, a2, cc, ss, pf, pg, kg), _GL_OUTER)  # (m, N1)
        inner = _safe_div((pg / a2)[:, None, :] - (cc * z1)[..., None], ss[..., None])  # (m, N1, k)
        z2, w2 = _panel_nodes(_panel_edges(inner), _GL_INNER)  # (m, N1, N2)
        u1 = a1 * z1
        u2 = a2[..., None] * ((cc * z1)[..., None] + ss[..., None] * z2)
        f_cache, g_cache = {}, {}
        for out, (f, g) in zip(outs, pairs, strict=True):
            if id(f) not in f_cache:
                f_cache[id(f)] = np.broadcast_to(np.asarray(f(u1), dtype=float), u1.shape)
            if id(g) not in g_cache:
                vals = np.broadcast_to(np.asarray(g(u2), dtype=float), u2.shape)
                g_cache[id(g)] = np.einsum("pij,pij->pi", vals, w2)
            out[sl] = np.einsum("pi,pi,pi->p", f_cache[id(f)], g_cache[id(g)], w1)
    return outs


def _outer_edges(a1, a2, cc, ss, pf, pg, kg):
    """Outer panel ends of the 2-D rules (per point rows): see :func:`_panel_expect_2d`."""
    den = a2 * cc
    smeared = (kg[:, None] + _KINK_OFFSETS * (a2 * ss)[..., None]).reshape(a2.shape[0], -1)
    return _panel_edges(pf / a1, _safe_div(pg, den), _safe_div(smeared, den))


def _smoothed_expect_2d(act: Activation, which, q11: Array, q22: Array, c: Array) -> list[Array]:
    """E[phi(u1) phi(u2)] ("phi") and E[phi'(u1) phi'(u2)] ("dphi") from the activation's closed-form
    Gaussian smoothing: E[f(u1) g(u2)] = E[f(s1 z1) G(s2 c z1, s2 sqrt(1 - c^2))], a 1-D panel rule
    in z1 (flat parameter arrays)."""
    s1 = np.maximum(np.sqrt(q11), _S_MIN)
    s2 = np.maximum(np.sqrt(q22), _S_MIN)
    c = np.clip(c, -1.0, 1.0)
    sf = np.sqrt(np.maximum(0.0, 1.0 - c * c))
    kg = np.asarray(act.kinks, dtype=float)
    pf = pg = np.concatenate([_BENDS, kg])
    outs = {w: np.empty(c.size) for w in which}
    per_point = (_PANEL_GRID.size + 2 * pg.size + kg.size * _KINK_OFFSETS.size) * _GL_1D
    step = max(1, _CHUNK // per_point)
    for lo in range(0, c.size, step):
        sl = slice(lo, lo + step)
        a1, a2, cc, ss = s1[sl, None], s2[sl, None], c[sl, None], sf[sl, None]
        z1, w1 = _panel_nodes(_outer_edges(a1, a2, cc, ss, pf, pg, kg), _GL_1D)
        u1 = a1 * z1
        g0, g1 = act.smoothed(a2 * cc * z1, np.broadcast_to(a2 * ss, z1.shape))
        if "phi" in outs:
            outs["phi"][sl] = np.einsum("pi,pi,pi->p", np.asarray(act.phi(u1), dtype=float), g0, w1)
        if "dphi" in outs:
            outs["dphi"][sl] = np.einsum("pi,pi,pi->p", np.asarray(act.dphi(u1), dtype=float), g1, w1)
    return [outs[w] for w in which]


def _pair(q11, q22, q12) -> tuple[Array, Array, Array]:
    """Validated variances and the correlation c = q12 / sqrt(q11 q22), broadcast together."""
    q11 = _as_q("q11", q11)
    q22 = _as_q("q22", q22)
    q12 = np.asarray(q12, dtype=float)
    if not np.all(np.isfinite(q12)):
        raise ValueError("q12 must hold finite covariances")
    _guard_broadcast(q11, q22, q12)
    c, _ = _cos_angle(q11, q22, q12)
    return tuple(np.broadcast_arrays(q11, q22, c))


def _guard_broadcast(q11, q22, q12) -> None:
    """MemoryLimitError if the broadcast of q11, q22 and q12 (small arrays can broadcast to a huge one)
    does not fit: about 6 float64 arrays of that shape (the correlation, the result and temporaries)."""
    shape = np.broadcast_shapes(np.shape(q11), np.shape(q22), np.shape(q12))
    size = math.prod(shape)
    guard(6 * F8 * size, parameter=f"q11, q22, q12 broadcast to shape {shape} ({size} points)",
          what="the 2-D expectations")


def _kernel_by_rule(act: Activation, which: str, q11, q22, q12, n) -> Array:
    """E[phi(u1) phi(u2)] or E[phi'(u1) phi'(u2)] by quadrature (n=None: the accurate rule)."""
    if n is None and act.smoothed is not None:
        q11, q22, c = _pair(q11, q22, q12)
        (val,) = _smoothed_expect_2d(act, (which,), q11.ravel(), q22.ravel(), c.ravel())
        return val.reshape(c.shape)
    f = act.phi if which == "phi" else act.dphi
    return gaussian_expectation_2d(f, f, q11, q22, q12, n=n, kinks=act.kinks)


@functools.cache
def _rule(n: int, kind: str) -> tuple[Array, Array]:
    if kind == "gauss-hermite":
        if n > 300:
            raise ValueError(f"n must be <= 300 for the Gauss-Hermite rule (its weights underflow), got {n}")
        x, w = hermegauss(n)
    else:
        x = np.linspace(-_Z_MAX, _Z_MAX, n)
        w = np.exp(-0.5 * x * x)
    w = w / w.sum()  # hermegauss weights sum to sqrt(2 pi); the truncated tails are < 1e-18
    x.setflags(write=False)
    w.setflags(write=False)
    return x, w


def quadrature_rule(n: int = N_QUAD_1D, *, rule: str = "trapezoid") -> tuple[Array, Array]:
    """Nodes and weights of an n-point rule for E[f(z)], z ~ N(0, 1) (weights sum to 1).

    These are the fixed rules behind an explicit ``n`` (and the numba kernels of
    :mod:`cascades.nn.meanfield`); the default of the expectations (``n=None``) is the panel
    rule described in :mod:`cascades.nn.activations`, which depends on q and the kinks.

    Parameters
    ----------
    n : int
        Number of nodes (>= 2; <= 300 for Gauss-Hermite).
    rule : {"trapezoid", "gauss-hermite"}
        ``"trapezoid"`` (the default): equally spaced nodes on [-9, 9] with weights
        h * pdf(z), normalised. For an integrand analytic in the strip |Im z| < d the error
        decays like exp(-2 pi d / h), h = 18 / (n - 1); for phi(sqrt(q) z) with tanh, d =
        pi / (2 sqrt(q)), so the error is about exp(-pi^2 (n - 1) / (36 sqrt(q))): the node
        count must grow like sqrt(q) (measured: 1e-9 relative on the 1-D expectations of tanh
        needs n ~ 70 sqrt(q), of sigmoid, gelu and silu n ~ 40 sqrt(q)). Across a kink the
        error is algebraic in h (2 % on SELU's E[phi'^2] with 301 nodes).
        ``"gauss-hermite"``: probabilists' Gauss-Hermite
        (:func:`numpy.polynomial.hermite_e.hermegauss`), exact for polynomials of degree
        <= 2n - 1 and best for small q (measured for E[tanh(sqrt(q) z)^2] with 101 nodes: error
        5e-4 at q = 10, 2e-2 at q = 40).

    Returns
    -------
    z, w : ndarray
        Read-only nodes and weights.

    Examples
    --------
    >>> z, w = quadrature_rule(5, rule="gauss-hermite")
    >>> round(float(w @ z**4), 12)   # E[z^4] = 3
    3.0
    >>> z, w = quadrature_rule(201)
    >>> round(float(w @ z**4), 12)
    3.0
    """
    n = check_int("n", n, low=2)
    if rule not in ("trapezoid", "gauss-hermite"):
        raise ValueError(f"rule must be 'trapezoid' or 'gauss-hermite', got {rule!r}")
    # the nodes, the weights and a temporary; then each expectation holds a few rows of n values
    guard(3 * F8 * n, parameter=f"n = {n}", what="the quadrature nodes and weights")
    return _rule(n, rule)


def _fixed_rule(n, rule, default: int):
    """None for the panel rule, else the (z, w) of the fixed rule that ``n`` and ``rule`` ask for."""
    if n is None and rule is None:
        return None
    if rule is None:
        rule = "trapezoid"
    if rule not in ("trapezoid", "gauss-hermite"):
        raise ValueError(f"rule must be 'trapezoid' or 'gauss-hermite' (or None), got {rule!r}")
    return quadrature_rule(default if n is None else n, rule=rule)


def _as_q(name, q) -> Array:
    q = np.asarray(q, dtype=float)
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError(f"{name} must hold finite variances >= 0")
    return q


def gaussian_expectation(
    f: Callable[[Array], Array], q, *, n: int | None = None, rule: str | None = None, kinks=()
) -> Array:
    """E[f(sqrt(q) z)], z ~ N(0, 1), broadcast over q.

    Parameters
    ----------
    f : callable
        Elementwise function.
    q : float or array_like
        Variances >= 0. At q = 0 the default rule gives the limit q -> 0+ (at a kink in 0, the
        mean of the one-sided values).
    n : int, optional
        None (default): the panel rule (Gauss-Legendre on panels split at ``kinks`` and at the
        scale points of :mod:`cascades.nn.activations`; about 300 nodes per q, measured within
        1e-14 relative for the registry's activations for q in [1e-4, 1e4]). An int: the fixed
        n-point ``rule`` of :func:`quadrature_rule`.
    rule : {None, "trapezoid", "gauss-hermite"}
        The fixed rule (with n = 301 when ``n`` is None); None means the panel rule when ``n``
        is None, the trapezoid rule otherwise.
    kinks : sequence of float
        Points u where f is not smooth (panel ends of the default rule).

    Returns
    -------
    ndarray
        Same shape as ``q``.

    Examples
    --------
    >>> float(gaussian_expectation(np.square, 2.5))
    2.5
    >>> round(float(gaussian_expectation(np.abs, 1.0, kinks=(0.0,))), 15)   # sqrt(2 / pi)
    0.797884560802865
    """
    q = _as_q("q", q)
    fixed = _fixed_rule(n, rule, N_QUAD_1D)
    if fixed is None:
        return _panel_expect([f], q, kinks)[0]
    z, w = fixed
    return _fixed_expect(f, w, np.sqrt(q), z)


def _fixed_expect(g, w: Array, s: Array, z: Array) -> Array:
    """sum_i w_i g(s z_i) for every s, in chunks of about _CHUNK values (bounded memory, any q.size)."""
    flat = s.ravel()
    out = np.empty(flat.size)
    step = max(1, _CHUNK // z.size)
    for lo in range(0, flat.size, step):
        u = flat[lo : lo + step, None] * z
        out[lo : lo + step] = np.broadcast_to(np.asarray(g(u), dtype=float), u.shape) @ w
    return out.reshape(s.shape)


def gaussian_expectation_2d(
    f: Callable[[Array], Array],
    g: Callable[[Array], Array],
    q11,
    q22,
    q12,
    *,
    n: int | None = None,
    rule: str | None = None,
    kinks=(),
) -> Array:
    """E[f(u1) g(u2)] for (u1, u2) centred Gaussian with covariance [[q11, q12], [q12, q22]].

    Iterated rule with the Cholesky construction u1 = sqrt(q11) z1,
    u2 = sqrt(q22) (c z1 + sqrt(1 - c^2) z2), c = q12 / sqrt(q11 q22) (Poole et al. 2016,
    eq. 5), broadcast over the parameter arrays and evaluated in chunks of bounded memory.

    Parameters
    ----------
    f, g : callable
        Elementwise functions.
    q11, q22 : array_like
        Variances >= 0.
    q12 : array_like
        Covariances with |q12| <= sqrt(q11 q22) (clipped to that range: round-off).
    n : int, optional
        None (default): the panel rule, split at ``kinks`` (z2 = (u / sqrt(q22) - c z1) / sqrt(1 - c^2)
        in the inner integral, z1 = u / sqrt(q11) and z1 = u / (sqrt(q22) c) in the outer one);
        about 50 000 evaluations of g per parameter point, measured within 1e-12 relative for
        the registry's activations for q11, q22 in [1e-3, 1e4] and every c. An int: the
        n x n tensor product of :func:`quadrature_rule` (n^2 evaluations of ``g``).
    rule : {None, "trapezoid", "gauss-hermite"}
        The fixed rule (with n = 121 when ``n`` is None); None means the panel rule when ``n``
        is None, the trapezoid rule otherwise.
    kinks : sequence of float
        Points u where f or g is not smooth.

    Returns
    -------
    ndarray
        Broadcast shape of the parameters.

    Examples
    --------
    >>> float(np.round(gaussian_expectation_2d(lambda x: x, lambda x: x, 2.0, 3.0, 1.5), 12))
    1.5
    >>> relu = lambda x: np.maximum(x, 0.0)
    >>> k = gaussian_expectation_2d(relu, relu, 1.0, 1.0, 0.0, kinks=(0.0,))
    >>> round(float(k), 12)   # 1 / (2 pi), the arc-cosine kernel at c = 0
    0.159154943092
    """
    q11, q22, c = _pair(q11, q22, q12)
    shape = c.shape
    fixed = _fixed_rule(n, rule, N_QUAD_2D)
    if fixed is None:
        return _panel_expect_2d([(f, g)], q11.ravel(), q22.ravel(), c.ravel(), kinks, kinks)[0].reshape(shape)
    s1, s2, cf = (np.sqrt(q11).ravel(), np.sqrt(q22).ravel(), c.ravel())
    sf = np.sqrt(np.maximum(0.0, 1.0 - cf * cf))
    z, w = fixed
    m = z.size
    out = np.empty(cf.size)
    step = max(1, _CHUNK // (m * m))
    # per chunk u2, g(u2) and its product with the weights: rows of m x m values
    guard(3 * F8 * min(step, cf.size) * m * m, parameter=f"n = {m}", what="the n x n quadrature grid")
    for lo in range(0, cf.size, step):
        sl = slice(lo, lo + step)
        fu1 = np.asarray(f(s1[sl, None] * z), dtype=float)  # (m, n): z1
        u2 = s2[sl, None, None] * (cf[sl, None, None] * z[:, None] + sf[sl, None, None] * z[None, :])
        gu2 = np.asarray(g(u2), dtype=float) @ w  # (m, n): averaged over z2
        out[sl] = np.einsum("mi,mi,i->m", fu1, gu2, w)
    return out.reshape(shape)


# ---------------------------------------------------------------------------------------------
# the expectations the mean-field theory needs
# ---------------------------------------------------------------------------------------------


def expect_phi_sq(activation: ActivationLike, q, *, n: int | None = None) -> Array:
    """E[phi(sqrt(q) z)^2]: the integral in the length map (Poole et al. 2016, eq. 3).

    Closed form when the activation has one, else quadrature: the panel rule split at the
    activation's kinks (``n=None``, accurate to about 1e-14), or the n-point trapezoid rule.

    Examples
    --------
    >>> float(expect_phi_sq("relu", 3.0))
    1.5
    >>> round(float(expect_phi_sq("tanh", 1.0)), 12)
    0.394294490398
    """
    act = get_activation(activation)
    q = _as_q("q", q)
    if act.mean_sq is not None:
        return np.asarray(act.mean_sq(q), dtype=float)
    return gaussian_expectation(lambda x: act.phi(x) ** 2, q, n=n, kinks=act.kinks)


def _slope_at_zero(act: Activation) -> float:
    """The q -> 0+ limit of d/dq E[phi^2] = E[phi'^2 + phi phi''] at u = 0 (one-sided values averaged)."""
    u = np.array([-1e-12, 1e-12])
    return float(np.mean(act.dphi(u) ** 2 + act.phi(u) * act.d2phi(u)))


def expect_phi_sq_slope(activation: ActivationLike, q, *, n: int | None = None) -> Array:
    """d/dq E[phi(sqrt(q) z)^2] = E[phi'^2 + phi phi''] (Stein's lemma).

    sigma_w^2 times this is the slope of the length map, whose value at q* sets the depth
    scale xi_q (Schoenholz et al. 2017, eq. 4). The quadrature uses the form
    E[phi phi'(sqrt(q) z) sqrt(q) z] / q, which needs no phi'' (valid for every continuous phi,
    kinks included); at q = 0 the limit of E[phi'^2 + phi phi''] at u = 0.

    Examples
    --------
    >>> float(expect_phi_sq_slope("linear", 0.7))
    1.0
    """
    act = get_activation(activation)
    q = _as_q("q", q)
    if act.dmean_sq is not None:
        return np.asarray(act.dmean_sq(q), dtype=float)
    out = np.empty(q.shape)
    pos = q > 0
    if np.any(pos):
        qp = q[pos]
        fixed = _fixed_rule(n, None, N_QUAD_1D)
        if fixed is None:
            (val,) = _panel_expect([lambda u: act.phi(u) * act.dphi(u) * u], qp, act.kinks)
            out[pos] = val / qp
        else:
            z, w = fixed
            out[pos] = _fixed_expect(lambda u: act.phi(u) * act.dphi(u), w * z, np.sqrt(qp), z) / np.sqrt(qp)
    if not np.all(pos):
        out[~pos] = _slope_at_zero(act)
    return out


def expect_dphi_sq(activation: ActivationLike, q, *, n: int | None = None) -> Array:
    """E[phi'(sqrt(q) z)^2]; sigma_w^2 times it is chi_1 (Poole et al. 2016, eq. 8).

    Examples
    --------
    >>> float(expect_dphi_sq("relu", 1.3))
    0.5
    >>> round(float(expect_dphi_sq("selu", 1.0)), 8)   # 1.0507^2 (1/2 + 1.6733^2 erfcx(sqrt 2) / 2)
    1.07157499
    """
    act = get_activation(activation)
    q = _as_q("q", q)
    if act.mean_dsq is not None:
        return np.asarray(act.mean_dsq(q), dtype=float)
    return gaussian_expectation(lambda x: act.dphi(x) ** 2, q, n=n, kinks=act.kinks)


def expect_dphi_power(activation: ActivationLike, q, k: int, *, n: int | None = None) -> Array:
    """mu_k = E[phi'(sqrt(q) z)^(2k)] (Pennington, Schoenholz & Ganguli 2017, eq. 14).

    Examples
    --------
    >>> float(expect_dphi_power("relu", 1.0, 2))
    0.5
    """
    act = get_activation(activation)
    q = _as_q("q", q)
    k = check_int("k", k, low=1)
    if k == 1:
        return expect_dphi_sq(act, q, n=n)
    if act.dphi_power is not None:
        return np.asarray(act.dphi_power(q, k), dtype=float)
    return gaussian_expectation(lambda x: act.dphi(x) ** (2 * k), q, n=n, kinks=act.kinks)


def expect_phi_phi(activation: ActivationLike, q11, q22, q12, *, n: int | None = None) -> Array:
    """E[phi(u1) phi(u2)], the integral of the covariance map (Poole et al. 2016, eq. 5).

    Closed form when known (arc-cosine, arcsine, linear); else, with ``n=None``, the 1-D panel
    rule over the closed-form Gaussian smoothing of phi (hardtanh, elu, selu: see
    :class:`Activation`) or the 2-D panel rule split at the activation's kinks; with an int
    ``n``, the n x n trapezoid rule.

    Examples
    --------
    >>> round(float(expect_phi_phi("relu", 1.0, 1.0, 0.0)), 12)   # 1 / (2 pi)
    0.159154943092
    """
    act = get_activation(activation)
    if act.kernel is not None:
        _as_q("q11", q11), _as_q("q22", q22)
        _guard_broadcast(q11, q22, q12)
        return np.asarray(act.kernel(q11, q22, q12), dtype=float)
    return _kernel_by_rule(act, "phi", q11, q22, q12, n)


def expect_dphi_dphi(activation: ActivationLike, q11, q22, q12, *, n: int | None = None) -> Array:
    """E[phi'(u1) phi'(u2)]: the slope of the correlation map over sigma_w^2.

    At the fixed point (q*, c*) sigma_w^2 times it is chi_c (Schoenholz et al. 2017, eq. 5).

    Examples
    --------
    >>> float(expect_dphi_dphi("relu", 1.0, 1.0, 0.0))   # (pi - pi/2) / (2 pi)
    0.25
    """
    act = get_activation(activation)
    if act.dkernel is not None:
        _as_q("q11", q11), _as_q("q22", q22)
        _guard_broadcast(q11, q22, q12)
        return np.asarray(act.dkernel(q11, q22, q12), dtype=float)
    return _kernel_by_rule(act, "dphi", q11, q22, q12, n)
