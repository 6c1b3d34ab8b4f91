"""Activation functions and their Gaussian expectations, for signal-propagation theory.

An :class:`Activation` bundles phi, phi' and phi'' (numpy ufunc-like callables) with the
closed-form Gaussian expectations that are known for it. The mean-field theory of random
networks (Poole et al. 2016; Schoenholz et al. 2017; :mod:`cascades.nn.meanfield`) needs

* the one-dimensional expectations E[phi(sqrt(q) z)^2], E[phi'(sqrt(q) z)^2] and the slope
  d/dq E[phi(sqrt(q) z)^2] = E[phi'^2 + phi phi''] (Stein's lemma), z ~ N(0, 1);
* the two-dimensional kernels E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)] for a centred
  Gaussian pair (u1, u2) with covariance [[q11, q12], [q12, q22]].

They are computed from the closed forms where those exist (ReLU and leaky ReLU: the
arc-cosine kernel of Cho & Saul 2009; erf: the arcsine kernel of Williams 1998; linear;
Heaviside; the one-dimensional moments of hard-tanh) and otherwise by quadrature against the
Gaussian weight (:func:`quadrature_rule`): 1-D with ``n`` nodes, 2-D as an ``n x n`` tensor
product with the Cholesky construction

    u1 = sqrt(q11) z1,    u2 = sqrt(q22) (c z1 + sqrt(1 - c^2) z2),    c = q12 / sqrt(q11 q22).

The default rule is the trapezoid rule on equally spaced nodes in z in [-9, 9]; probabilists'
Gauss-Hermite (:func:`numpy.polynomial.hermite_e.hermegauss`) is available as
``rule="gauss-hermite"``. Both converge spectrally for smooth activations (tanh, erf, sigmoid,
gelu, silu), but Gauss-Hermite degrades fast as q grows (its nodes near 0 are spaced about
pi / sqrt(2 n) apart while phi(sqrt(q) z) varies on the scale 1 / sqrt(q)), which is why the
trapezoid rule is the default. For activations with kinks or jumps (relu, hard-tanh, selu,
leaky relu, heaviside) every rule converges only algebraically; the closed forms are used for
those wherever they are known, and the tests state the accuracy of the quadrature for the rest.

Names follow :mod:`torch.nn.functional` where torch has the function ("relu", "tanh",
"sigmoid", "gelu", "silu", "selu", "leaky_relu", "hardtanh"); torch itself is never imported.

References
----------
Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli, "Exponential expressivity in deep neural
networks through transient chaos", NeurIPS 2016.
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein, "Deep information propagation", ICLR 2017.
Cho & Saul, "Kernel methods for deep learning", NeurIPS 2009 (arc-cosine kernel).
Williams, "Computation with infinite neural networks", Neural Computation 10, 1998 (arcsine kernel).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy import special

from .._validation import check_int, check_real

__all__ = [
    "Activation",
    "ActivationLike",
    "get_activation",
    "available_activations",
    "custom_activation",
    "leaky_relu_activation",
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

#: Default number of quadrature nodes for one-dimensional expectations.
N_QUAD_1D = 301
#: Default number of quadrature nodes per axis for two-dimensional expectations.
N_QUAD_2D = 121
# Half-width of the truncated z-range of the trapezoid rule: P(|z| > 9) = 2.3e-19.
_Z_MAX = 9.0

# Elements of the largest temporary array built by the 2-D quadrature (float64: 8 bytes each).
_CHUNK = 4_000_000

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """An activation function phi with its derivatives and known Gaussian closed forms.

    Parameters
    ----------
    name : str
        Registry name (torch's name where torch has the function).
    phi, dphi, d2phi : callable
        phi, phi' and phi'' acting elementwise on float arrays. For activations with kinks,
        ``d2phi`` is the classical second derivative (zero away from the kinks); the Dirac
        parts are accounted for in the closed forms ``dmean_sq``.
    smooth : bool
        True when phi is infinitely differentiable (the quadrature converges spectrally).
    mean_sq, dmean_sq, mean_dsq : callable or None
        Closed forms of q -> E[phi(sqrt(q) z)^2], q -> d/dq E[phi(sqrt(q) z)^2] and
        q -> E[phi'(sqrt(q) z)^2], z ~ N(0, 1). ``None``: use quadrature.
    kernel, dkernel : callable or None
        Closed forms of (q11, q22, q12) -> E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)] for a
        centred Gaussian pair with that covariance. ``None``: use quadrature.
    dphi_power : callable or None
        Closed form of (q, k) -> E[phi'(sqrt(q) z)^(2k)] (the moments mu_k of Pennington,
        Schoenholz & Ganguli 2017). ``None``: use quadrature.

    Examples
    --------
    >>> act = get_activation("relu")
    >>> act.phi(np.array([-1.0, 2.0]))
    array([0., 2.])
    >>> float(act.mean_sq(2.0))   # E[relu(sqrt(2) z)^2] = q / 2
    1.0
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
    pdf = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    inner = special.erf(a / math.sqrt(2)) - 2 * np.where(np.isfinite(a), a * pdf, 0.0)
    return q * inner + special.erfc(a / math.sqrt(2))


def _hardtanh_dmean_sq(q):
    # E[phi'^2] + E[phi phi''], phi'' = delta(u + 1) - delta(u - 1): erf(a / sqrt 2) - 2 pdf_u(1)
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        a = np.where(q > 0, 1.0 / np.sqrt(np.where(q > 0, q, 1.0)), np.inf)
    pdf_u1 = np.where(np.isfinite(a), a * np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi), 0.0)
    return special.erf(a / math.sqrt(2)) - 2 * pdf_u1


def _hardtanh_mean_dsq(q):
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore"):
        a = np.where(q > 0, 1.0 / np.sqrt(np.where(q > 0, q, 1.0)), np.inf)
    return special.erf(a / math.sqrt(2))


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
    """
    a = check_real("negative_slope", negative_slope, low=0, high=1)
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
    name = "relu" if a == 0 else "leaky_relu" if a == 0.01 else f"leaky_relu({a:g})"
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
    """
    a = check_real("scale", scale, low=0, low_open=True)
    mean_sq, dmean_sq, mean_dsq, kernel, dkernel = _erf_closed(a)
    c0 = 2 * a / math.sqrt(math.pi)
    return Activation(
        name="erf" if a == 1 else f"erf({a:g})",
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


def _selu(x):
    x = np.asarray(x, dtype=float)
    return _SELU_LAMBDA * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))


def _dselu(x):
    x = np.asarray(x, dtype=float)
    return _SELU_LAMBDA * np.where(x > 0, 1.0, _SELU_ALPHA * np.exp(np.minimum(x, 0.0)))


def _d2selu(x):
    x = np.asarray(x, dtype=float)
    return _SELU_LAMBDA * np.where(x > 0, 0.0, _SELU_ALPHA * np.exp(np.minimum(x, 0.0)))


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
    return 1.0 / np.cosh(np.asarray(x, dtype=float)) ** 2


def _d2tanh(x):
    x = np.asarray(x, dtype=float)
    return -2.0 * np.tanh(x) / np.cosh(x) ** 2


def _dsigmoid(x):
    s = special.expit(np.asarray(x, dtype=float))
    return s * (1 - s)


def _d2sigmoid(x):
    s = special.expit(np.asarray(x, dtype=float))
    return s * (1 - s) * (1 - 2 * s)


@functools.cache
def _registry() -> dict[str, Activation]:
    relu = leaky_relu_activation(0.0)
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
    )
    acts = [
        relu,
        leaky_relu_activation(0.01),
        linear,
        Activation("tanh", _tanh, _dtanh, _d2tanh, smooth=True),
        erf_activation(1.0),
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
        ),
        Activation("gelu", _gelu, _dgelu, _d2gelu, smooth=True),
        Activation("silu", _silu, _dsilu, _d2silu, smooth=True),
        Activation("selu", _selu, _dselu, _d2selu, smooth=False),
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
}


def available_activations() -> tuple[str, ...]:
    """Names accepted by :func:`get_activation` (registry names, then aliases).

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
        aliases "swish" -> "silu", "step"/"watts" -> "heaviside", "identity" -> "linear"), or an
        :class:`Activation`, returned unchanged. Use :func:`custom_activation` for a callable.

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.

    Examples
    --------
    >>> get_activation("swish").name
    'silu'
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
    if callable(activation):
        raise ValueError(
            "activation must be an Activation or a registry name; wrap a callable with "
            "custom_activation(phi, dphi, d2phi)"
        )
    raise ValueError(
        f"activation must be an Activation or one of {', '.join(_registry())} "
        f"(aliases: {', '.join(_ALIASES)}); got {activation!r}"
    )


def custom_activation(
    phi: Callable[[Array], Array],
    dphi: Callable[[Array], Array] | None = None,
    d2phi: Callable[[Array], Array] | None = None,
    *,
    name: str = "custom",
    smooth: bool = True,
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
        error is O(step^2) for smooth phi (about 1e-8 relative with the default step).
    name : str
        Label for reprs and error messages.
    smooth : bool
        Whether phi is smooth (documentation of the quadrature's accuracy only).
    step : float
        Relative finite-difference step, > 0.

    Returns
    -------
    Activation
        All expectations by quadrature.

    Examples
    --------
    >>> act = custom_activation(np.sin, name="sin")
    >>> round(float(act.dphi(np.array(0.0))), 8)
    1.0
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
    return Activation(name=str(name), phi=phi_w, dphi=dphi_w, d2phi=d2phi_w, smooth=bool(smooth))


# ---------------------------------------------------------------------------------------------
# quadrature against the Gaussian weight
# ---------------------------------------------------------------------------------------------


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

    Parameters
    ----------
    n : int
        Number of nodes (>= 2; <= 300 for Gauss-Hermite).
    rule : {"trapezoid", "gauss-hermite"}
        ``"trapezoid"`` (the default): equally spaced nodes on [-9, 9] with weights
        h * pdf(z), normalised. For an integrand analytic in the strip |Im z| < d the error
        decays like exp(-2 pi d / h), h = 18 / (n - 1); for phi(sqrt(q) z) with tanh, d =
        pi / (2 sqrt(q)), so the error is about exp(-pi^2 (n - 1) / (36 sqrt(q))): uniformly
        accurate in q, unlike Gauss-Hermite, whose nodes near 0 are too sparse once q is large
        (measured for E[tanh(sqrt(q) z)^2] with 101 nodes: error 5e-4 at q = 10, 2e-2 at q = 40).
        ``"gauss-hermite"``: probabilists' Gauss-Hermite
        (:func:`numpy.polynomial.hermite_e.hermegauss`), exact for polynomials of degree
        <= 2n - 1 and best for small q.

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
    return _rule(n, rule)


def _as_q(name, q) -> Array:
    q = np.asarray(q, dtype=float)
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError(f"{name} must hold finite variances >= 0")
    return q


def gaussian_expectation(
    f: Callable[[Array], Array], q, *, n: int = N_QUAD_1D, rule: str = "trapezoid"
) -> Array:
    """E[f(sqrt(q) z)], z ~ N(0, 1), by an n-point rule (:func:`quadrature_rule`), broadcast over q.

    Parameters
    ----------
    f : callable
        Elementwise function.
    q : float or array_like
        Variances >= 0.
    n : int
        Number of nodes.
    rule : {"trapezoid", "gauss-hermite"}
        See :func:`quadrature_rule`.

    Returns
    -------
    ndarray
        Same shape as ``q``.

    Examples
    --------
    >>> float(gaussian_expectation(np.square, 2.5))
    2.5
    """
    q = _as_q("q", q)
    z, w = quadrature_rule(n, rule=rule)
    vals = np.asarray(f(np.sqrt(q)[..., None] * z), dtype=float)
    return vals @ w


def gaussian_expectation_2d(
    f: Callable[[Array], Array],
    g: Callable[[Array], Array],
    q11,
    q22,
    q12,
    *,
    n: int = N_QUAD_2D,
    rule: str = "trapezoid",
) -> Array:
    """E[f(u1) g(u2)] for (u1, u2) centred Gaussian with covariance [[q11, q12], [q12, q22]].

    Tensor-product rule (:func:`quadrature_rule`) with the Cholesky construction u1 = sqrt(q11) z1,
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
    n : int
        Nodes per axis (n^2 evaluations of ``g`` and n of ``f`` per parameter point).
    rule : {"trapezoid", "gauss-hermite"}
        See :func:`quadrature_rule`.

    Returns
    -------
    ndarray
        Broadcast shape of the parameters.

    Examples
    --------
    >>> float(np.round(gaussian_expectation_2d(lambda x: x, lambda x: x, 2.0, 3.0, 1.5), 12))
    1.5
    """
    q11 = _as_q("q11", q11)
    q22 = _as_q("q22", q22)
    q12 = np.asarray(q12, dtype=float)
    if not np.all(np.isfinite(q12)):
        raise ValueError("q12 must hold finite covariances")
    c, _ = _cos_angle(q11, q22, q12)
    q11, q22 = np.broadcast_arrays(q11, q22)
    q11, q22, c = np.broadcast_arrays(q11, q22, c)
    shape = c.shape
    s1, s2, cf = (np.sqrt(q11).ravel(), np.sqrt(q22).ravel(), c.ravel())
    sf = np.sqrt(np.maximum(0.0, 1.0 - cf * cf))
    z, w = quadrature_rule(n, rule=rule)
    out = np.empty(cf.size)
    step = max(1, _CHUNK // (n * n))
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


def expect_phi_sq(activation: ActivationLike, q, *, n: int = N_QUAD_1D) -> Array:
    """E[phi(sqrt(q) z)^2]: the integral in the length map (Poole et al. 2016, eq. 3).

    Closed form when the activation has one, else the n-point trapezoid rule.

    Examples
    --------
    >>> float(expect_phi_sq("relu", 3.0))
    1.5
    """
    act = get_activation(activation)
    q = _as_q("q", q)
    if act.mean_sq is not None:
        return np.asarray(act.mean_sq(q), dtype=float)
    return gaussian_expectation(lambda x: act.phi(x) ** 2, q, n=n)


def expect_phi_sq_slope(activation: ActivationLike, q, *, n: int = N_QUAD_1D) -> Array:
    """d/dq E[phi(sqrt(q) z)^2] = E[phi'^2 + phi phi''] (Stein's lemma).

    sigma_w^2 times this is the slope of the length map, whose value at q* sets the depth
    scale xi_q (Schoenholz et al. 2017, eq. 4). The quadrature uses the form
    E[phi phi'(sqrt(q) z) z] / sqrt(q), which needs no phi'' (valid for kinked activations).

    Examples
    --------
    >>> float(expect_phi_sq_slope("linear", 0.7))
    1.0
    """
    act = get_activation(activation)
    q = _as_q("q", q)
    if act.dmean_sq is not None:
        return np.asarray(act.dmean_sq(q), dtype=float)
    z, w = quadrature_rule(n)
    sq = np.sqrt(q)[..., None]
    out = np.empty(q.shape)
    pos = q > 0
    if np.any(pos):
        u = sq[pos] * z
        out[pos] = ((act.phi(u) * act.dphi(u)) @ (w * z)) / np.sqrt(q[pos])
    if not np.all(pos):
        # the limit q -> 0+: averages of the one-sided values at 0 (kinks at 0, as in selu)
        u = np.array([-1e-12, 1e-12])
        val = np.mean(act.dphi(u) ** 2 + act.phi(u) * act.d2phi(u))
        out[~pos] = val
    return out


def expect_dphi_sq(activation: ActivationLike, q, *, n: int = N_QUAD_1D) -> Array:
    """E[phi'(sqrt(q) z)^2]; sigma_w^2 times it is chi_1 (Poole et al. 2016, eq. 8).

    Examples
    --------
    >>> float(expect_dphi_sq("relu", 1.3))
    0.5
    """
    act = get_activation(activation)
    q = _as_q("q", q)
    if act.mean_dsq is not None:
        return np.asarray(act.mean_dsq(q), dtype=float)
    return gaussian_expectation(lambda x: act.dphi(x) ** 2, q, n=n)


def expect_dphi_power(activation: ActivationLike, q, k: int, *, n: int = N_QUAD_1D) -> Array:
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
    return gaussian_expectation(lambda x: act.dphi(x) ** (2 * k), q, n=n)


def expect_phi_phi(activation: ActivationLike, q11, q22, q12, *, n: int = N_QUAD_2D) -> Array:
    """E[phi(u1) phi(u2)], the integral of the covariance map (Poole et al. 2016, eq. 5).

    Closed form when known (arc-cosine, arcsine, linear), else the 2-D tensor-product rule.

    Examples
    --------
    >>> round(float(expect_phi_phi("relu", 1.0, 1.0, 0.0)), 12)   # 1 / (2 pi)
    0.159154943092
    """
    act = get_activation(activation)
    if act.kernel is not None:
        _as_q("q11", q11), _as_q("q22", q22)
        return np.asarray(act.kernel(q11, q22, q12), dtype=float)
    return gaussian_expectation_2d(act.phi, act.phi, q11, q22, q12, n=n)


def expect_dphi_dphi(activation: ActivationLike, q11, q22, q12, *, n: int = N_QUAD_2D) -> Array:
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
        return np.asarray(act.dkernel(q11, q22, q12), dtype=float)
    return gaussian_expectation_2d(act.dphi, act.dphi, q11, q22, q12, n=n)
