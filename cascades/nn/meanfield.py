"""Mean-field signal propagation in deep random networks (the edge of chaos).

A fully connected network with pre-activations h^l = W^l phi(h^{l-1}) + b^l, weights
W_ij ~ N(0, sigma_w^2 / n_in) and biases b_i ~ N(0, sigma_b^2). **Every function takes the
variances** ``sigma_w2`` = sigma_w^2 and ``sigma_b2`` = sigma_b^2 (Schoenholz et al. 2017 and
Pennington et al. use variances; Poole et al. 2016 plot standard deviations: see
:func:`phase_diagram`, whose grid axes are standard deviations by default). In the wide limit
the pre-activations of two inputs are a centred Gaussian pair whose covariance obeys

* the length map  q^l = sigma_w^2 / r * E[phi(sqrt(q^{l-1}) z)^2] + sigma_b^2
  (Poole et al. 2016, eq. 3; Schoenholz et al. 2017, eq. 3);
* the covariance map  q12^l = sigma_w^2 * E[phi(u1) phi(u2)] + sigma_b^2,
  u1 = sqrt(q11) z1, u2 = sqrt(q22) (c z1 + sqrt(1 - c^2) z2) (Poole et al. 2016, eq. 5),
  c^l = q12^l / sqrt(q11^l q22^l);

with r in (0, 1] the dropout keep probability (r = 1: no dropout), which multiplies only the
diagonal term by 1 / r (Schoenholz et al. 2017, Sec. 4), so that c = 1 stops being a fixed point.
The slope of the correlation map at c = 1 is chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]
(Poole et al. 2016, eq. 7; Schoenholz et al. 2017, eq. 6): chi_1 < 1 is the ordered phase,
chi_1 > 1 the chaotic one, chi_1 = 1 the edge of chaos. It is also the mean factor by which
squared gradient norms grow per layer going backwards (Schoenholz et al. 2017, Sec. 5).

The expectations come from :mod:`cascades.nn.activations` (closed forms where known, else
quadrature). **The quadrature arguments** ``n`` (1-D) and ``n2`` (2-D, per axis) default to
None: the accurate panel rule of :mod:`cascades.nn.activations`, split at the activation's kinks
(about 1e-14 in 1-D, 1e-12 in 2-D, for q from 1e-4 to 1e4). An explicit int keeps the fixed
n-point trapezoid rule (reproducible and fast, but its error grows with q and it converges only
algebraically across kinks). On grids (:func:`phase_diagram`, :func:`depth_scales`,
:func:`chi_c`) the quadrature of the registered smooth activations runs in numba kernels
(``cascades/nn/_kernels.py``) with the stopping rules of the numpy solvers, which remain the
reference (``phase_diagram(..., method="numpy")``); by default each point gets a trapezoid rule
large enough for its q* (see :func:`phase_diagram`). torch is never imported here.

References
----------
Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli, "Exponential expressivity in deep neural
networks through transient chaos", NeurIPS 2016.
Schoenholz, Gilmer, Ganguli & Sohl-Dickstein, "Deep information propagation", ICLR 2017.
Pennington, Schoenholz & Ganguli, "Resurrecting the sigmoid in deep learning through dynamical
isometry: theory and practice", NeurIPS 2017.
Pennington, Schoenholz & Ganguli, "The emergence of spectral universality in deep networks",
AISTATS 2018.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .._validation import check_int, check_real
from . import _kernels
from ._guard import F8, guard
from .activations import (
    Activation,
    ActivationLike,
    _panel_expect_2d,
    _slope_at_zero,
    _smoothed_expect_2d,
    expect_dphi_power,
    expect_dphi_sq,
    expect_phi_phi,
    expect_phi_sq,
    expect_phi_sq_slope,
    get_activation,
    quadrature_rule,
)

__all__ = [
    "Covariance",
    "Trajectory",
    "DepthScales",
    "PhaseDiagram",
    "JacobianMoments",
    "q_map",
    "covariance_map",
    "c_map",
    "q_fixed_point",
    "c_fixed_point",
    "chi1",
    "chi_c",
    "depth_scales",
    "critical_weight_variance",
    "propagate",
    "q_trajectory",
    "c_trajectory",
    "phase_diagram",
    "gradient_norms",
    "jacobian_spectrum_moments",
]

Array = np.ndarray

# The length map is declared divergent (q* = inf) when it is still above the diagonal at
# q = _Q_MAX * max(1, sigma_w^2 / r, sigma_b^2): relative to the variances, so that a bounded
# activation's q* (at most sigma_w^2 / r sup phi^2 + sigma_b^2) is always found, whatever the scale.
_Q_MAX = 1e12
# Largest number of grid points phase_diagram accepts (about 20 float64 grids of this size).
_MAX_GRID_POINTS = 5_000_000
# Largest variance accepted (sigma_w^2, sigma_w^2 / keep, sigma_b^2, q, q0): the 2-D expectations
# form products of two lengths (q11 q22; q* can exceed the variances by 1e12, see _Q_MAX), which
# overflow float64 past about 1e154, and the closed forms (erf's kernel) past 1e150.
_VARIANCE_MAX = 1e100
# float64 arrays of the broadcast parameter shape alive at the peak of the vectorised solvers
# (q*, c*, chi_1, the depth scales, their brackets and masks): measured with tracemalloc, per point,
# 13.4 (depth_scales, tanh and gelu, numba path) to 30 (selu, numpy path; 19-25 for relu, erf) for
# depth_scales, q_fixed_point, c_fixed_point and phase_diagram. For the memory guard of a broadcast
# far larger than its inputs.
_SOLVER_ARRAYS = 13


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------

_WHY_MAX = "beyond it the products of two variances in the Gaussian expectations overflow float64"


def _variances(name: str, value) -> Array:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be a finite variance >= 0 (or an array of them), got {value!r}")
    if np.any(arr > _VARIANCE_MAX):
        raise ValueError(f"{name} must be a variance in [0, {_VARIANCE_MAX:g}] ({_WHY_MAX}), got "
                         f"{float(np.max(arr))!r}")
    return arr


def _variance(name: str, value) -> float:
    """A scalar variance in [0, _VARIANCE_MAX] (ValueError naming ``name``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite variance >= 0, got {value!r}")
    return float(_variances(name, value))


def _keep(keep, sigma_w2=None) -> float:
    """The keep probability r in (0, 1]; with ``sigma_w2``, also sigma_w^2 / r <= _VARIANCE_MAX."""
    r = check_real("keep", keep, low=0, high=1, low_open=True)
    if sigma_w2 is not None:
        big = float(np.max(np.asarray(sigma_w2, dtype=float), initial=0.0)) / r
        if big > _VARIANCE_MAX:
            raise ValueError(f"sigma_w2 / keep must be <= {_VARIANCE_MAX:g} (dropout divides the weight "
                             f"variance by the keep probability; {_WHY_MAX}), got {big!r}")
    return r


def _guard_points(n_arrays: int, what: str, **arrays) -> tuple:
    """The broadcast shape of ``arrays``; MemoryLimitError naming them if ``n_arrays`` float64 arrays
    of that shape do not fit (a broadcast of small inputs can be huge: (10^5, 1) with (1, 10^5))."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))
    size = math.prod(shape)
    guard(n_arrays * F8 * size, parameter=f"{', '.join(arrays)} broadcast to shape {shape} ({size} points)",
          what=what)
    return shape


def _scalar_or_array(x: Array):
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


def _nodes(name: str, value):
    """None (the accurate default rule) or a node count >= 2 of the fixed trapezoid rule.

    ``n2`` is checked against the memory its n2 x n2 grid takes (about three float64 grids per
    parameter point at a time: the quadrature is chunked over the points, not within a grid).
    """
    if value is None:
        return None
    value = check_int(name, value, low=2)
    if name == "n2":
        guard(3 * F8 * value * value, parameter=f"n2 = {value}", what="the n2 x n2 quadrature grid")
    return value


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Covariance:
    """Covariance [[q11, q12], [q12, q22]] of a pair of pre-activations (arrays broadcast).

    Attributes
    ----------
    q11, q22 : float or ndarray
        Variances (lengths) of the two pre-activations.
    q12 : float or ndarray
        Their covariance.
    """

    q11: float | Array
    q22: float | Array
    q12: float | Array

    @property
    def c(self):
        """The correlation q12 / sqrt(q11 q22) (1 where a variance is 0)."""
        q11, q22, q12 = (np.asarray(a, dtype=float) for a in (self.q11, self.q22, self.q12))
        den = np.sqrt(q11 * q22)
        with np.errstate(invalid="ignore", divide="ignore"):
            return _scalar_or_array(np.where(den > 0, q12 / np.where(den > 0, den, 1.0), 1.0))


@dataclass(frozen=True)
class Trajectory:
    """Layer-by-layer covariance of two inputs' pre-activations; index l = 0 is the input layer.

    Attributes
    ----------
    q11, q22, q12, c : ndarray
        Arrays of length ``depth + 1``.
    """

    q11: Array
    q22: Array
    q12: Array
    c: Array


@dataclass(frozen=True)
class DepthScales:
    """Depth scales of Schoenholz et al. (2017), eqs. 4 and 9, at the fixed point (q*, c*).

    Attributes
    ----------
    xi_q : float or ndarray
        Depth over which the length q^l approaches q*: -1 / ln(sigma_w^2 / r * d/dq E[phi^2]),
        i.e. -1 / ln(chi_1 + sigma_w^2 E[phi'' phi]) without dropout.
    xi_c : float or ndarray
        Depth over which correlations approach c*: -1 / ln(chi_c). Infinite at the edge of chaos.
    q_star, c_star, chi1, chi_c : float or ndarray
        The fixed point and the slopes at it.
    reason : str
        Why some depth scale is inf or nan because there is no fixed point (q* = inf); "" when every
        point has a finite q*.
    """

    xi_q: float | Array
    xi_c: float | Array
    q_star: float | Array
    c_star: float | Array
    chi1: float | Array
    chi_c: float | Array
    reason: str = ""


@dataclass(frozen=True)
class PhaseDiagram:
    """Order-to-chaos phase diagram on a (sigma_w, sigma_b) grid (Poole et al. 2016, Fig. 2).

    Grids have shape ``(len(sigma_w), len(sigma_b))``: rows follow the weight axis.

    Attributes
    ----------
    sigma_w, sigma_b : ndarray
        The axes exactly as given, in the units named by ``axes``.
    axes : str
        ``"std"`` (standard deviations, Poole's convention) or ``"variance"``.
    sigma_w2, sigma_b2 : ndarray
        The variance grids, shape (len(sigma_w), len(sigma_b)).
    q_star, c_star, chi1, chi_c : ndarray
        The length fixed point (inf where the length map diverges), the correlation fixed point
        (1 in the ordered phase; nan where q* is 0 or inf and r < 1), chi_1 and chi_c.
    chaotic : ndarray of bool
        chi_1 > 1 (for r < 1 this is the gradient criterion sigma_w^2 / r E[phi'^2] > 1).
    """

    sigma_w: Array
    sigma_b: Array
    axes: str
    sigma_w2: Array
    sigma_b2: Array
    q_star: Array
    c_star: Array
    chi1: Array
    chi_c: Array
    chaotic: Array


@dataclass(frozen=True)
class JacobianMoments:
    """Moments of the squared singular values of the input-output Jacobian J (J J^T spectrum).

    Attributes
    ----------
    mean : float
        m1 = (sigma_w^2 mu_1)^L = chi_1^L.
    variance : float
        m2 - m1^2 = chi_1^{2L} L (mu_2 / mu_1^2 - 1 - s_1) (Pennington, Schoenholz & Ganguli 2017,
        eqs. 16-18).
    mu1, mu2 : float
        mu_k = E[phi'(sqrt(q*) z)^(2k)].
    s1 : float
        -1 for Gaussian, 0 for orthogonal weights.
    chi1 : float
    depth : int
    q_star : float
    """

    mean: float
    variance: float
    mu1: float
    mu2: float
    s1: float
    chi1: float
    depth: int
    q_star: float


# ---------------------------------------------------------------------------------------------
# the maps
# ---------------------------------------------------------------------------------------------


def q_map(activation: ActivationLike, sigma_w2, sigma_b2, q, *, keep: float = 1.0, n: int | None = None):
    """Length map q -> sigma_w^2 / r E[phi(sqrt(q) z)^2] + sigma_b^2 (variances; Poole et al. 2016, eq. 3).

    Parameters
    ----------
    activation : str or Activation
        See :func:`cascades.nn.activations.get_activation`.
    sigma_w2, sigma_b2 : float or array_like
        Weight variance sigma_w^2 (times fan-in) and bias variance sigma_b^2, >= 0.
    q : float or array_like
        Length (variance) of the previous layer's pre-activations, >= 0.
    keep : float
        Dropout keep probability r in (0, 1]; 1 means no dropout (Schoenholz et al. 2017, Sec. 4).
    n : int, optional
        Quadrature for activations without a closed form: None (default) the panel rule of
        :mod:`cascades.nn.activations` (split at the kinks, accurate to about 1e-14); an int, the
        n-point trapezoid rule (reproducible, but its error grows with q and across kinks).

    Returns
    -------
    float or ndarray
        The next layer's length, broadcast over the inputs.

    Raises
    ------
    ValueError
        For negative variances or ``keep`` outside (0, 1].

    Examples
    --------
    >>> q_map("relu", 2.0, 0.0, 1.5)   # He initialisation keeps the length
    1.5
    >>> q_map("relu", 2.0, 0.0, 1.5, keep=0.5)
    3.0
    """
    sw, sb, q = _variances("sigma_w2", sigma_w2), _variances("sigma_b2", sigma_b2), _variances("q", q)
    r = _keep(keep, sw)
    _guard_points(1, "the lengths", sigma_w2=sw, sigma_b2=sb, q=q)
    return _scalar_or_array(sw / r * expect_phi_sq(activation, q, n=n) + sb)


def covariance_map(
    activation: ActivationLike,
    sigma_w2,
    sigma_b2,
    q11,
    q22,
    q12,
    *,
    keep: float = 1.0,
    n: int | None = None,
    n2: int | None = None,
) -> Covariance:
    """One layer of the covariance map of two inputs' pre-activations (variances throughout).

    q_aa -> sigma_w^2 / r E[phi(sqrt(q_aa) z)^2] + sigma_b^2 and
    q12 -> sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2 (Poole et al. 2016, eqs. 3 and 5; dropout as
    in Schoenholz et al. 2017, Sec. 4: the keep probability r divides only the diagonal).

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Weight and bias variances, >= 0.
    q11, q22, q12 : float or array_like
        Input covariance; |q12| <= sqrt(q11 q22).
    keep : float
        Dropout keep probability in (0, 1].
    n, n2 : int, optional
        Quadrature for activations without closed forms (1-D; per axis in 2-D): None (default) the
        panel rules of :mod:`cascades.nn.activations` (split at the kinks; 1-D about 1e-14, 2-D
        about 1e-12); ints, the n-point and n2 x n2 trapezoid rules (reproducible, but their error
        grows with q and across kinks).

    Returns
    -------
    Covariance

    Examples
    --------
    >>> cov = covariance_map("linear", 1.0, 0.5, 2.0, 1.0, 0.5)
    >>> float(cov.q11), float(cov.q22), float(cov.q12)
    (2.5, 1.5, 1.0)
    """
    sw, sb = _variances("sigma_w2", sigma_w2), _variances("sigma_b2", sigma_b2)
    q11, q22 = _variances("q11", q11), _variances("q22", q22)
    q12 = np.asarray(q12, dtype=float)
    _guard_points(3, "the covariances", sigma_w2=sw, sigma_b2=sb, q11=q11, q22=q22, q12=q12)
    bound = np.sqrt(q11) * np.sqrt(q22) * (1 + 1e-12) + 1e-300
    if not np.all(np.isfinite(q12)) or np.any(np.abs(q12) > bound):
        raise ValueError("q12 must be a finite covariance with |q12| <= sqrt(q11 q22)")
    r = _keep(keep, sw)
    n, n2 = _nodes("n", n), _nodes("n2", n2)
    new11 = sw / r * expect_phi_sq(activation, q11, n=n) + sb
    new22 = sw / r * expect_phi_sq(activation, q22, n=n) + sb
    new12 = sw * expect_phi_phi(activation, q11, q22, q12, n=n2) + sb
    return Covariance(_scalar_or_array(new11), _scalar_or_array(new22), _scalar_or_array(new12))


def c_map(
    activation: ActivationLike,
    sigma_w2,
    sigma_b2,
    c,
    *,
    q=None,
    keep: float = 1.0,
    n: int | None = None,
    n2: int | None = None,
):
    """Correlation map c -> (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q_map(q) at equal lengths q.

    With ``q = q*`` (the default) this is the map of Poole et al. (2016, eq. 5) whose slope at
    c = 1 is chi_1. Variances sigma_w^2, sigma_b^2 as parameters.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Weight and bias variances, >= 0.
    c : float or array_like
        Input correlations in [-1, 1].
    q : float or array_like, optional
        Length of both inputs; default the fixed point :func:`q_fixed_point`.
    keep : float
        Dropout keep probability in (0, 1].
    n, n2 : int, optional
        Quadrature for activations without closed forms (1-D; per axis in 2-D): None (default) the
        panel rules of :mod:`cascades.nn.activations` (split at the kinks; 1-D about 1e-14, 2-D
        about 1e-12); ints, the n-point and n2 x n2 trapezoid rules (reproducible, but their error
        grows with q and across kinks).

    Returns
    -------
    float or ndarray
        The output correlation, in [-1, 1].

    Examples
    --------
    >>> c_map("relu", 2.0, 0.0, 0.0, q=1.0)   # (sin t + (pi - t) cos t) / pi at t = pi/2
    0.3183098861837907
    >>> c_map("tanh", 1.5, 0.05, 1.0)
    1.0
    """
    c = np.asarray(c, dtype=float)
    if not np.all(np.isfinite(c)) or np.any(np.abs(c) > 1):
        raise ValueError(f"c must hold correlations in [-1, 1], got {c!r}")
    sw, sb = _variances("sigma_w2", sigma_w2), _variances("sigma_b2", sigma_b2)
    r = _keep(keep, sw)
    n, n2 = _nodes("n", n), _nodes("n2", n2)
    if q is None:
        q = q_fixed_point(activation, sw, sb, keep=r, n=n)
    q = _variances("q", q)
    _guard_points(4, "the correlations", sigma_w2=sw, sigma_b2=sb, c=c, q=q)
    if np.any(np.isinf(q)):
        raise ValueError("the length map has no finite fixed point here (q* = inf); pass q explicitly")
    num = sw * expect_phi_phi(activation, q, q, c * q, n=n2) + sb
    den = sw / r * expect_phi_sq(activation, q, n=n) + sb
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
    return _scalar_or_array(np.clip(out, -1.0, 1.0))


# ---------------------------------------------------------------------------------------------
# fixed points
# ---------------------------------------------------------------------------------------------


def _vanishes_at_zero(act: Activation) -> bool:
    """phi(0) = 0 and phi continuous there: q = 0 is a fixed point of the length map at sigma_b^2 = 0."""
    v = np.asarray(act.phi(np.array([-1e-250, 0.0, 1e-250])), dtype=float)
    return bool(np.all(np.abs(v) < 1e-200))


def _zero_fixed_point(act: Activation, a: Array, sb: Array) -> tuple[Array, Array]:
    """Where q* = 0 exactly, and where Newton's tolerance must be absolute (see :func:`_q_star`)."""
    if not (np.any(sb == 0) and _vanishes_at_zero(act)):
        none = np.zeros(a.shape, dtype=bool)
        return none, none
    slope0 = a * float(expect_phi_sq_slope(act, 0.0))
    return (sb == 0) & (slope0 < 1), (sb == 0) & (slope0 == 1)


def _q_star(act: Activation, sw: Array, sb: Array, r: float, n, tol: float, max_iter: int) -> Array:
    """Vectorised safeguarded Newton for the attracting root of g(q) = q_map(q) - q.

    The tolerance is relative (q* may be tiny, and near a kink at 0 E[phi'^2] moves like
    sqrt(q)). With sigma_b^2 = 0 and phi(0) = 0, q = 0 is a fixed point; where the map's slope
    there is below 1 it attracts and the iteration from q = sigma_b^2 = 0 never leaves it, so
    q* = 0 exactly; at slope exactly 1 (Newton only creeps towards 0) the tolerance is absolute.
    """
    sw, sb = np.broadcast_arrays(sw, sb)
    shape = sw.shape
    sw, sb = sw.ravel().astype(float), sb.ravel().astype(float)
    a = sw / r

    def g_dg(q, idx):
        g = a[idx] * expect_phi_sq(act, q, n=n) + sb[idx] - q
        dg = a[idx] * expect_phi_sq_slope(act, q, n=n) - 1.0
        return g, dg

    out = np.full(sw.size, np.nan)
    zero, degenerate = _zero_fixed_point(act, a, sb)
    out[zero] = 0.0
    floor = np.where(degenerate, 1.0, 1e-300)
    # lo: g(sigma_b2) = a E[phi^2] >= 0. hi: expand until g(hi) < 0 (a downward crossing exists),
    # or past q_max, relative to the variances (see _Q_MAX), where the map is declared divergent
    q_max = _Q_MAX * np.maximum(1.0, np.maximum(a, sb))
    lo = sb.copy()
    hi = np.maximum(2.0 * lo, 1.0)
    idx_all = np.flatnonzero(~zero)
    todo = np.zeros(sw.size, dtype=bool)
    if idx_all.size:
        g_hi, _ = g_dg(hi[idx_all], idx_all)
        todo[idx_all[g_hi >= 0]] = True
    while np.any(todo):
        lo[todo] = hi[todo]
        hi[todo] *= 16.0
        sub = np.flatnonzero(todo)
        g_new, _ = g_dg(hi[sub], sub)
        todo[sub[g_new < 0]] = False
        over = hi > q_max
        out[todo & over] = np.inf
        todo &= ~over
    active = np.flatnonzero(np.isnan(out))
    # Newton from the right end: monotone when the length map is concave (tanh, erf, relu, ...)
    x = hi.copy()
    for it in range(max_iter):
        if active.size == 0:
            break
        xa, la, ha = x[active], lo[active], hi[active]
        g, dg = g_dg(xa, active)
        pos = g >= 0
        la = np.where(pos, xa, la)
        ha = np.where(pos, ha, xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = xa - g / dg
        ok = np.isfinite(newton) & (newton >= la) & (newton <= ha) & (it < 50)
        # bisect in log scale while the bracket spans orders of magnitude (sigma_b^2 = 1e-142 and
        # hi = 1 would take ~470 halvings), arithmetically once it is narrow
        wide = (la > 0) & (ha > 4.0 * la)
        xn = np.where(ok, newton, np.where(wide, np.sqrt(la) * np.sqrt(ha), 0.5 * (la + ha)))
        scale = np.maximum(np.abs(xn), floor[active])
        done = (np.abs(xn - xa) <= tol * scale) & (np.abs(g) <= 1e3 * tol * scale)
        done |= (ha - la) <= tol * np.maximum(ha, 1e-300)
        lo[active], hi[active], x[active] = la, ha, xn
        out[active[done]] = xn[done]
        active = active[~done]
    if active.size:
        raise RuntimeError(
            f"q_fixed_point did not converge for {active.size} parameter point(s) in {max_iter} "
            f"iterations (e.g. sigma_w2={sw[active[0]]!r}, sigma_b2={sb[active[0]]!r})"
        )
    return out.reshape(shape)


def q_fixed_point(
    activation: ActivationLike,
    sigma_w2,
    sigma_b2,
    *,
    keep: float = 1.0,
    n: int | None = None,
    tol: float = 1e-13,
    max_iter: int = 200,
):
    """The attracting fixed point q* of the length map (variances; Poole et al. 2016, eq. 3).

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Weight and bias variances, >= 0 (broadcast; the solver is vectorised).
    keep : float
        Dropout keep probability in (0, 1].
    n : int, optional
        Quadrature for activations without a closed form: None (default) the panel rule of
        :mod:`cascades.nn.activations` (split at the kinks, accurate to about 1e-14); an int, the
        n-point trapezoid rule (reproducible, but its error grows with q and across kinks).
    tol : float
        Relative tolerance on q* (and on the residual, times 1000).
    max_iter : int
        Newton/bisection iterations allowed.

    Returns
    -------
    float or ndarray
        q*, or ``inf`` where the length map has no finite attracting fixed point (it grows without
        bound, e.g. ReLU with sigma_w^2 >= 2 r; at sigma_w^2 = 2 r, sigma_b^2 = 0 every q is fixed
        and ``inf`` is returned too).

    Raises
    ------
    ValueError
        For variances outside [0, 1e100] (or sigma_w^2 / keep above 1e100), ``keep`` outside
        (0, 1], or invalid ``tol`` / ``max_iter``.
    cascades.MemoryLimitError
        If the solver's arrays for the broadcast shape of the variances do not fit in memory.
    RuntimeError
        If the iteration does not converge (never silently).

    Notes
    -----
    Safeguarded Newton on g(q) = q_map(q) - q inside a bracket [lo, hi] with g(lo) >= 0 > g(hi):
    lo = sigma_b^2, hi found by expansion; where g(hi) is still >= 0 at
    hi = 1e12 max(1, sigma_w^2 / r, sigma_b^2) the map is declared divergent (q* = inf). The bound
    is relative to the variances: a bounded activation has q* <= sigma_w^2 / r sup phi^2 +
    sigma_b^2, so its q* is always found (tanh at sigma_w^2 = 1e13 has q* = 1e13, not inf), and
    an unbounded one is declared divergent only when q* would exceed 1e12 times the variances
    (ReLU within about 1e-12 relative of sigma_w^2 = 2 r). The bracket only ever shrinks onto a
    downward crossing of the diagonal, i.e. a fixed point attracting from both sides (the one the
    iteration of the map reaches from q = sigma_b^2). The derivative is sigma_w^2 / r * d/dq E[phi^2] (Stein).
    The tolerance is relative, also for tiny q* (for a kink at 0, as in selu, E[phi'^2] moves
    like sqrt(q), so an absolute 1e-13 on q* would cost 3e-7 in chi_1). With sigma_b^2 = 0 and
    phi(0) = 0, q = 0 is a fixed point; where the map's slope there is below 1 the iteration from
    q = sigma_b^2 = 0 stays at it and q* = 0 exactly (at slope exactly 1, e.g. tanh with
    sigma_w^2 = 1, Newton only creeps towards 0 and stops within 1e-13 absolute).

    Examples
    --------
    >>> q_fixed_point("relu", 1.0, 0.5)   # sigma_b^2 / (1 - sigma_w^2 / 2)
    1.0
    >>> round(q_fixed_point("tanh", 1.76, 0.05), 6)
    0.569463
    """
    act = get_activation(activation)
    sw, sb = _variances("sigma_w2", sigma_w2), _variances("sigma_b2", sigma_b2)
    r = _keep(keep, sw)
    tol = check_real("tol", tol, low=0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    _guard_points(_SOLVER_ARRAYS, "the fixed-point solver's arrays", sigma_w2=sw, sigma_b2=sb)
    return _scalar_or_array(_q_star(act, sw, sb, r, n, tol, max_iter))


def _dkernels_equal(act: Activation, q: Array, c: Array, n2, need_value: bool = True):
    """E[phi(u1) phi(u2)] and E[phi'(u1) phi'(u2)] at q11 = q22 = q, q12 = c q (fused quadrature)."""
    if act.kernel is not None and act.dkernel is not None:
        val = act.kernel(q, q, c * q) if need_value else None
        return val, act.dkernel(q, q, c * q)
    q, c = np.broadcast_arrays(np.asarray(q, dtype=float), np.asarray(c, dtype=float))
    shape = q.shape
    if n2 is None:
        qf, cf = q.ravel(), np.clip(c.ravel(), -1.0, 1.0)
        if act.smoothed is not None:  # the inner average in closed form: a 1-D rule
            res = _smoothed_expect_2d(act, ("phi", "dphi") if need_value else ("dphi",), qf, qf, cf)
        else:
            pairs = [(act.phi, act.phi), (act.dphi, act.dphi)] if need_value else [(act.dphi, act.dphi)]
            res = _panel_expect_2d(pairs, qf, qf, cf, act.kinks, act.kinks)
        return (res[0].reshape(shape) if need_value else None), res[-1].reshape(shape)
    z, w = quadrature_rule(n2)
    sq, cf = np.sqrt(q.ravel()), np.clip(c.ravel(), -1.0, 1.0)
    sf = np.sqrt(np.maximum(0.0, 1 - cf * cf))
    val = np.empty(cf.size)
    dval = np.empty(cf.size)
    step = max(1, 2_000_000 // (n2 * n2))
    for s in range(0, cf.size, step):
        sl = slice(s, s + step)
        u1 = sq[sl, None] * z
        u2 = sq[sl, None, None] * (cf[sl, None, None] * z[:, None] + sf[sl, None, None] * z[None, :])
        if need_value:
            val[sl] = np.einsum("mi,mi,i->m", act.phi(u1), act.phi(u2) @ w, w)
        dval[sl] = np.einsum("mi,mi,i->m", act.dphi(u1), act.dphi(u2) @ w, w)
    return (val.reshape(shape) if need_value else None), dval.reshape(shape)


def _c_star(act, sw, sb, qs, chi, r, n, n2, tol, max_iter):
    """Safeguarded Newton from c = 0 on f(c) = c_map(c) - c (convex on [0, 1]); vectorised."""
    sw, sb, qs, chi = (a.ravel() for a in np.broadcast_arrays(sw, sb, qs, chi))
    out = np.full(sw.size, np.nan)
    finite = np.isfinite(qs) & (qs > 0)
    if r == 1.0:
        ordered = finite & (chi <= 1.0 + 1e-12)
        out[ordered] = 1.0
        out[(qs == 0) | ~np.isfinite(qs)] = 1.0  # convention: the ordered phase's c* = 1
        active = np.flatnonzero(finite & ~ordered)
    else:
        active = np.flatnonzero(finite)
    den = sw / r * expect_phi_sq(act, np.where(finite, qs, 0.0), n=n) + sb  # = q* at the fixed point
    c = np.zeros(sw.size)
    lo = np.zeros(sw.size)  # f(lo) >= 0
    hi = np.ones(sw.size)  # f(hi) < 0, or hi = 1
    for it in range(max_iter):
        if active.size == 0:
            break
        ca, qa = c[active], qs[active]
        k, dk = _dkernels_equal(act, qa, ca, n2)
        f = (sw[active] * k + sb[active]) / den[active] - ca
        df = sw[active] * dk * qa / den[active] - 1.0
        pos = f >= 0
        la = np.where(pos, ca, lo[active])
        ha = np.where(pos, hi[active], ca)
        with np.errstate(divide="ignore", invalid="ignore"):
            cn = ca - f / df
        # Newton while it stays inside the bracket (convexity makes it monotone from the left);
        # bisection once quadrature round-off makes it oscillate (after 30 steps)
        newton = np.isfinite(cn) & (cn >= la) & (cn <= ha) & (it < 30)
        cn = np.where(newton, cn, 0.5 * (la + ha))
        done = ((np.abs(cn - ca) <= tol) & (np.abs(f) <= 1e3 * tol)) | (ha - la <= tol) | (f == 0)
        cn = np.where(f == 0, ca, cn)
        c[active], lo[active], hi[active] = cn, la, ha
        out[active[done]] = cn[done]
        active = active[~done]
    if active.size:
        raise RuntimeError(
            f"c_fixed_point did not converge for {active.size} parameter point(s) in {max_iter} iterations"
        )
    return out


def c_fixed_point(
    activation: ActivationLike,
    sigma_w2,
    sigma_b2,
    *,
    keep: float = 1.0,
    n: int | None = None,
    n2: int | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
):
    """The stable fixed point c* of the correlation map at q* (variances; Poole et al. 2016, Sec. 3).

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Weight and bias variances, >= 0 (broadcast).
    keep : float
        Dropout keep probability in (0, 1]. For r < 1, c = 1 is no longer a fixed point and
        c* < 1 everywhere (Schoenholz et al. 2017, Sec. 4).
    n, n2 : int, optional
        Quadrature for activations without closed forms (1-D; per axis in 2-D): None (default) the
        panel rules of :mod:`cascades.nn.activations` (split at the kinks; 1-D about 1e-14, 2-D
        about 1e-12); ints, the n-point and n2 x n2 trapezoid rules (reproducible, but their error
        grows with q and across kinks).
    tol : float
        Absolute tolerance on c*.
    max_iter : int
        Newton iterations allowed.

    Returns
    -------
    float or ndarray
        c* in [0, 1]: 1 in the ordered phase (chi_1 <= 1) without dropout; nan where q* is
        infinite (or 0) with dropout.

    Raises
    ------
    RuntimeError
        If Newton does not converge.

    Notes
    -----
    At equal lengths the correlation map is a power series in c with non-negative coefficients
    (Mehler's expansion: the Hermite coefficients of phi enter squared), so f(c) = c_map(c) - c
    is convex on [0, 1] with f(0) >= 0 and f(1) <= 0. Newton started at c = 0 therefore increases
    monotonically to the smallest root in [0, 1), which is the stable fixed point (chaotic phase
    or dropout); in the ordered phase without dropout that root is c = 1. The slope of the map
    is sigma_w^2 E[phi'(u1) phi'(u2)] (Price's theorem).

    Examples
    --------
    >>> c_fixed_point("tanh", 1.0, 0.05)
    1.0
    >>> round(c_fixed_point("erf", 4.0, 0.0), 12)   # odd activation, no bias: c* = 0
    0.0
    """
    act = get_activation(activation)
    sw, sb = _variances("sigma_w2", sigma_w2), _variances("sigma_b2", sigma_b2)
    r = _keep(keep, sw)
    tol = check_real("tol", tol, low=0, low_open=True)
    max_iter = check_int("max_iter", max_iter, low=1)
    n, n2 = _nodes("n", n), _nodes("n2", n2)
    _guard_points(_SOLVER_ARRAYS, "the fixed-point solvers' arrays", sigma_w2=sw, sigma_b2=sb)
    qs = _q_star(act, sw, sb, r, n, 1e-13, 200)
    chi = _chi1_at(act, np.broadcast_to(sw, qs.shape), qs, r, n)
    shape = np.broadcast_shapes(sw.shape, sb.shape)
    return _scalar_or_array(_c_star(act, sw, sb, qs, chi, r, n, n2, tol, max_iter).reshape(shape))


# ---------------------------------------------------------------------------------------------
# slopes, depth scales, the edge of chaos
# ---------------------------------------------------------------------------------------------


def _chi1_at(act: Activation, sw: Array, qs: Array, r: float, n: int) -> Array:
    sw, qs = np.broadcast_arrays(np.asarray(sw, dtype=float), np.asarray(qs, dtype=float))
    finite = np.isfinite(qs)
    m = np.asarray(expect_dphi_sq(act, np.where(finite, qs, 0.0), n=n), dtype=float) * np.ones(qs.shape)
    if act.mean_dsq is not None and np.any(~finite):
        m = np.where(finite, m, act.mean_dsq(np.where(finite, 0.0, np.inf)) * np.ones(qs.shape))
    else:
        m = np.where(finite, m, np.inf)
    with np.errstate(invalid="ignore"):
        return np.where(sw == 0, 0.0, sw / r * m)


def chi1(activation: ActivationLike, sigma_w2, sigma_b2, *, q=None, keep: float = 1.0, n: int | None = None):
    """chi_1 = sigma_w^2 / r E[phi'(sqrt(q*) z)^2] (variances; Poole et al. 2016, eq. 7).

    The slope of the correlation map at c = 1 and the mean growth factor of squared gradient norms
    per layer (Schoenholz et al. 2017, eq. 6 and Sec. 5). With dropout (keep probability r < 1)
    the 1 / r comes from the backward pass through the dropout mask, E[(m / r)^2] = 1 / r.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Weight and bias variances, >= 0.
    q : float or array_like, optional
        Length at which to evaluate; default q* (:func:`q_fixed_point`).
    keep : float
        Dropout keep probability in (0, 1].
    n : int, optional
        Quadrature for activations without a closed form: None (default) the panel rule of
        :mod:`cascades.nn.activations` (split at the kinks, accurate to about 1e-14); an int, the
        n-point trapezoid rule (reproducible, but its error grows with q and across kinks).

    Returns
    -------
    float or ndarray
        chi_1; where q* = inf it is the closed-form limit if the activation has one (ReLU:
        sigma_w^2 / (2 r)), else inf.

    Examples
    --------
    >>> chi1("relu", 3.0, 0.1)   # sigma_w^2 / 2
    1.5
    >>> chi1("tanh", 1.0, 0.0)   # q* = 0, phi'(0) = 1
    1.0
    """
    act = get_activation(activation)
    sw, sb = _variances("sigma_w2", sigma_w2), _variances("sigma_b2", sigma_b2)
    r = _keep(keep, sw)
    if q is None:
        _guard_points(_SOLVER_ARRAYS, "the fixed-point solver's arrays", sigma_w2=sw, sigma_b2=sb)
        qs = _q_star(act, sw, sb, r, n, 1e-13, 200)
    else:
        qs = _variances("q", q)
        _guard_points(4, "chi_1 and its expectations", sigma_w2=sw, q=qs)
    return _scalar_or_array(_chi1_at(act, sw, qs, r, n))


def chi_c(
    activation: ActivationLike,
    sigma_w2,
    sigma_b2,
    *,
    keep: float = 1.0,
    n: int | None = None,
    n2: int | None = None,
):
    """chi_c = sigma_w^2 E[phi'(u1*) phi'(u2*)] at (q*, c*) (variances; Schoenholz et al. 2017, eq. 9).

    Equals chi_1 when c* = 1 (ordered phase, no dropout); at c* < 1 it is the slope of the
    correlation map at its stable fixed point.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Weight and bias variances, >= 0.
    keep : float
        Dropout keep probability in (0, 1].
    n, n2 : int, optional
        Quadrature for activations without closed forms (1-D; per axis in 2-D): None (default) the
        panel rules of :mod:`cascades.nn.activations` (split at the kinks; 1-D about 1e-14, 2-D
        about 1e-12); ints, the n-point and n2 x n2 trapezoid rules (reproducible, but their error
        grows with q and across kinks).

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> chi_c("relu", 1.5, 0.1)   # ordered: c* = 1, chi_c = chi_1 = 0.75
    0.75
    >>> round(chi_c("hardtanh", 4.0, 0.05), 6)   # chaotic: 2-D quadrature split at the kinks +-1
    0.805146
    """
    return _scalar_or_array(_scales(activation, sigma_w2, sigma_b2, keep, n, n2)["chi_c"])


def _kernel_code(act: Activation) -> int:
    """Numba kernel code of a registered activation; -1 (numpy path) for anything else.

    Only the registry's own objects are dispatched by name: an :class:`Activation` built by the
    user (say a custom one called "tanh") keeps the numpy path with its own phi.
    """
    code = _kernels.CODES.get(act.name, -1)
    if code < 0:
        return -1
    try:
        return code if get_activation(act.name) is act else -1
    except ValueError:
        return -1


def _as_rows(a: Array) -> Array:
    """A contiguous float grid of shape (rows, cols): 2-D arrays as they are, else one row."""
    a = np.asarray(a, dtype=float)
    return np.ascontiguousarray(a if a.ndim == 2 else a.reshape(1, -1))


# The numba path with n=None / n2=None (the default): the trapezoid rule of the kernels, its size
# chosen per point from q*. For phi(sqrt(q) z) analytic in the strip |Im z| < d the trapezoid error
# is ~exp(-2 pi d / h) (d = pi / (2 sqrt q) for tanh, pi / sqrt q for sigmoid and silu), so the node
# count must grow like sqrt(q). Measured against the panel rule over q in [4, 400]: 1e-9 relative on
# E[phi^2], E[phi'^2], d/dq E[phi^2] and E[phi'^4] needs n = 70 sqrt(q) (tanh), 40 sqrt(q) (gelu),
# 36 sqrt(q) (sigmoid), 35 sqrt(q) (silu); 1e-8 on both 2-D kernels (c in [0, 0.999]) needs
# n2 = 47 sqrt(q) + 20 outer nodes (tanh; 44 sqrt(q) for 1e-7) and 30 sqrt(q) (the others). The
# sizes below add a margin, and a point gets the smallest size of the ladder that is large enough
# (points beyond the ladder fall back to the numpy panel rule). The floor is the previous default
# (301 / 121 nodes).
_TRAP_SLOPE_1D = {_kernels.TANH: 72.0, _kernels.SIGMOID: 38.0, _kernels.GELU: 42.0, _kernels.SILU: 38.0}
_TRAP_SLOPE_2D = {_kernels.TANH: 48.0, _kernels.SIGMOID: 32.0, _kernels.GELU: 32.0, _kernels.SILU: 32.0}
_TRAP_OFFSET_1D = 41.0
_TRAP_OFFSET_2D = 21.0
_TRAP_1D = np.array([301, 401, 501, 701, 1001, 1401, 2001, 2801, 4001, 5601, 8001])
_TRAP_2D = np.array([121, 141, 161, 185, 211, 241, 277, 317, 361, 415, 475, 541, 621, 711, 811])
# The inner integrand of the 2-D rule, phi(sqrt(q) (c z1 + sqrt(1 - c^2) z2)) in z2, varies on the
# scale 1 / (sqrt(q) sqrt(1 - c^2)): measured, 1e-9 relative on both kernels needs an inner size of
# 44 sqrt(q (1 - c^2)) + 21 (tanh), 21 (sigmoid), 15 (gelu) and 17 (silu) times that + 21, for q up
# to 100 and c in [0, 0.99999] (with a fine outer rule). Each evaluation takes the smallest inner
# size of the ladder that is large enough, capped at the outer size.
_TRAP_SLOPE_INNER = {_kernels.TANH: 50.0, _kernels.SIGMOID: 25.0, _kernels.GELU: 25.0, _kernels.SILU: 25.0}
_TRAP_OFFSET_INNER = 31.0
_TRAP_INNER = np.array([41, 61, 81, 101])


def _trap_level(code: int, q: Array, two_d: bool) -> Array:
    """Index into the ladder of the smallest trapezoid size accurate at length q (len(ladder): none is)."""
    if two_d:
        need = _TRAP_SLOPE_2D[code] * np.sqrt(q) + _TRAP_OFFSET_2D
        return np.searchsorted(_TRAP_2D, need)
    need = _TRAP_SLOPE_1D[code] * np.sqrt(q) + _TRAP_OFFSET_1D
    return np.searchsorted(_TRAP_1D, need)


def _length_fast(code: int, act: Activation, sw: Array, sb: Array, r: float, n):
    """q*, E[phi^2], d/dq E[phi^2] and E[phi'^2] at q* by the numba kernel (same algorithm as _q_star).

    With ``n=None`` every point is solved with the smallest trapezoid size accurate at its q*
    (:data:`_TRAP_1D`): first with 301 nodes, then again with more where q* needs them (each
    new q* can only ask for more), and by the numpy panel rule past the ladder.
    """
    shape = sw.shape
    sw2, sb2 = _as_rows(sw), _as_rows(sb)
    outs = [np.full(sw2.shape, np.nan) for _ in range(4)]
    status = np.zeros(sw2.shape, dtype=np.int8)
    n_eval = np.zeros(sw2.shape, dtype=np.int64)
    slope0 = _slope_at_zero(act)
    zero_fixed = _vanishes_at_zero(act)

    def solve(size, active):
        z, w = quadrature_rule(int(size))
        _kernels.q_star_grid(
            code, sw2, sb2, float(r), z, w, w * z, slope0, zero_fixed, 1e-13, 200, 50, _Q_MAX, active,
            *outs, status, n_eval,
        )

    fallback = np.zeros(sw2.shape, dtype=bool)
    if n is not None:
        solve(n, np.ones(sw2.shape, dtype=bool))
    else:
        level = np.zeros(sw2.shape, dtype=np.int64)
        pending = np.ones(sw2.shape, dtype=bool)
        while np.any(pending):
            for k in np.unique(level[pending]):
                solve(_TRAP_1D[k], pending & (level == k))
            q = outs[0]
            ok = np.isfinite(q)
            need = np.where(ok, _trap_level(code, np.where(ok, q, 0.0), two_d=False), 0)
            fallback |= ok & (need >= _TRAP_1D.size)
            pending = ok & (need > level) & ~fallback
            level = np.where(pending, need, level)
    _LAST_Q_EVALS[0] = int(n_eval.sum())
    if np.any(status != _kernels.STATUS_OK):
        k = np.flatnonzero(status.ravel() != _kernels.STATUS_OK)
        raise RuntimeError(
            f"q_fixed_point did not converge for {k.size} parameter point(s) in 200 iterations "
            f"(e.g. sigma_w2={sw2.ravel()[k[0]]!r}, sigma_b2={sb2.ravel()[k[0]]!r})"
        )
    if np.any(fallback):
        qf = _q_star(act, sw2[fallback], sb2[fallback], r, None, 1e-13, 200)
        outs[0][fallback] = qf
        outs[1][fallback] = expect_phi_sq(act, qf)
        outs[2][fallback] = expect_phi_sq_slope(act, qf)
        outs[3][fallback] = expect_dphi_sq(act, qf)
    return tuple(o.reshape(shape) for o in outs)


# product weights w_i w_j below this fraction of the largest are left out of the 2-D rule: with
# n2 <= 10^3 nodes (largest weight <= 0.06) their total weight is < 10^-13, far below the rule's
# own error (measured effect on the 2-D expectations: < 2e-15 relative; 10909 of 121^2 cells kept)
_TAIL = 1e-17
# numbers of 1-D / 2-D quadrature evaluations of the last fast q* / c* solve (for the benchmark)
_LAST_Q_EVALS = [0]
_LAST_C_EVALS = [0]
# a Halley step on c* below _EARLY * (1 - c) with a small predicted error ends the iteration
# without one more 2-D evaluation (measured on Poole's grid: c* within 3e-12 of the numpy
# reference, chi_c within 3e-11; 1e-6 gave 1e-10 and 7e-10)
_EARLY = 1e-8


def _inner_ranges(z: Array, w: Array, zi: Array | None = None, wi: Array | None = None):
    """Per outer row i of the 2-D rule (outer z, w; inner zi, wi, default the same): the kept inner
    nodes [jlo, jhi) and the sums of wi_j, wi_j zi_j there."""
    zi, wi = (z, w) if zi is None else (zi, wi)
    keep = np.outer(w, wi) >= _TAIL * w.max() * wi.max()
    any_ = keep.any(axis=1)
    jlo = np.where(any_, np.argmax(keep, axis=1), 0).astype(np.int64)
    jhi = np.where(any_, wi.size - np.argmax(keep[:, ::-1], axis=1), 0).astype(np.int64)
    inside = (np.arange(wi.size) >= jlo[:, None]) & (np.arange(wi.size) < jhi[:, None])
    return jlo, jhi, inside @ wi, inside @ (wi * zi)


def _inner_ladder(n_outer: int, inner_sizes) -> tuple:
    """What c_star_grid takes for the inner rules of sizes ``inner_sizes`` under the outer rule of n_outer."""
    z, w = quadrature_rule(n_outer)
    sizes = np.asarray(inner_sizes, dtype=np.int64)
    zi_all = np.zeros((sizes.size, sizes.max()))
    wi_all = np.zeros((sizes.size, sizes.max()))
    ranges = [np.zeros((sizes.size, n_outer), dtype=np.int64) for _ in range(2)]
    ranges += [np.zeros((sizes.size, n_outer)) for _ in range(2)]
    for k, m in enumerate(sizes):
        zi, wi = quadrature_rule(int(m))
        zi_all[k, :m], wi_all[k, :m] = zi, wi
        for arr, val in zip(ranges, _inner_ranges(z, w, zi, wi), strict=True):
            arr[k] = val
    return z, w, zi_all, wi_all, sizes, *ranges


def _c_star_fast(code, act, sw, sb, qs, chi, e2, r, n2, tol, max_iter):
    """c* and E[phi'(u1) phi'(u2)] at (q*, c*) by the numba kernel (same algorithm as _c_star).

    With ``n2=None`` each point gets the smallest 2-D trapezoid size accurate at its q*
    (:data:`_TRAP_2D`, one kernel call per size), and the numpy panel rule past the ladder.
    """
    shape = qs.shape
    sw, sb, qs, chi, e2 = (_as_rows(np.broadcast_to(a, shape)) for a in (sw, sb, qs, chi, e2))
    out = np.full(qs.shape, np.nan)
    dk = np.full(qs.shape, np.nan)
    finite = np.isfinite(qs) & (qs > 0)
    if r == 1.0:
        ordered = finite & (chi <= 1.0 + 1e-12)
        out[ordered] = 1.0
        out[(qs == 0) | ~np.isfinite(qs)] = 1.0
        active = finite & ~ordered
    else:
        active = finite
    den = np.where(active, sw / r * np.where(active, e2, 0.0) + sb, 1.0)
    if n2 is None:
        level = np.where(active, _trap_level(code, np.where(active, qs, 0.0), two_d=True), 0)
        fallback = active & (level >= _TRAP_2D.size)
        todo = active & ~fallback
        calls = [(_TRAP_2D[k], todo & (level == k)) for k in np.unique(level[todo])]
    else:
        fallback = np.zeros(qs.shape, dtype=bool)
        calls = [(n2, active)]
    status = np.zeros(qs.shape, dtype=np.int8)
    total = 0
    for size, sub in calls:
        size = int(size)
        if n2 is None:  # inner rules from the ladder, up to the outer size
            inner = [m for m in (*_TRAP_INNER, *_TRAP_2D) if m < size] + [size]
            slope, offset = _TRAP_SLOPE_INNER[code], _TRAP_OFFSET_INNER
        else:  # the square n2 x n2 rule
            inner, slope, offset = [size], 0.0, 0.0
        n_eval = np.zeros(qs.shape, dtype=np.int64)
        _kernels.c_star_grid(
            code, sw, sb, np.where(sub, qs, 1.0), den, sub, *_inner_ladder(size, inner), slope, offset, tol,
            max_iter, 30, out, dk, status, n_eval, _EARLY,
        )
        total += int(n_eval.sum())
    _LAST_C_EVALS[0] = total
    if np.any(status != _kernels.STATUS_OK):
        k = int(np.count_nonzero(status != _kernels.STATUS_OK))
        raise RuntimeError(
            f"c_fixed_point did not converge for {k} parameter point(s) in {max_iter} iterations"
        )
    if np.any(fallback):
        cf = _c_star(act, sw[fallback], sb[fallback], qs[fallback], chi[fallback], r, None, None, tol,
                     max_iter)
        out[fallback] = cf
        _, dk[fallback] = _dkernels_equal(act, qs[fallback], cf, None, need_value=False)
    return out.reshape(shape), dk.reshape(shape)


def _scales(activation, sigma_w2, sigma_b2, keep, n, n2, correlations=True, method="auto"):
    act = get_activation(activation)
    sw, sb = _variances("sigma_w2", sigma_w2), _variances("sigma_b2", sigma_b2)
    r = _keep(keep, sw)
    n, n2 = _nodes("n", n), _nodes("n2", n2)
    shape = _guard_points(_SOLVER_ARRAYS, "the fixed-point solvers' arrays", sigma_w2=sw, sigma_b2=sb)
    sw, sb = (np.broadcast_to(a, shape) for a in (sw, sb))
    code = _kernel_code(act) if method == "auto" else -1
    # numba for what needs quadrature; closed forms (and custom callables) stay on the numpy path,
    # and so do kinked activations (selu, hardtanh) unless a fixed rule is asked for: a trapezoid
    # rule across a kink converges only algebraically
    fast1 = code >= 0 and act.mean_sq is None and act.dmean_sq is None and act.mean_dsq is None
    fast1 = fast1 and (n is not None or code in _TRAP_SLOPE_1D)
    fast2 = code >= 0 and act.kernel is None and act.dkernel is None
    fast2 = fast2 and (n2 is not None or code in _TRAP_SLOPE_2D)
    if fast1:
        qs, e2, slope_q, d2 = _length_fast(code, act, sw, sb, r, n)
        with np.errstate(invalid="ignore"):
            ch1 = np.where(sw == 0, 0.0, sw / r * np.where(np.isfinite(qs), d2, np.inf))
    else:
        qs = _q_star(act, sw, sb, r, n, 1e-13, 200)
        ch1 = _chi1_at(act, sw, qs, r, n)
    fin = np.isfinite(qs)
    dk = None
    if correlations:
        if fast2:
            e2c = e2 if fast1 else expect_phi_sq(act, np.where(fin, qs, 0.0), n=n)
            cs, dk = _c_star_fast(code, act, sw, sb, qs, ch1, e2c, r, n2, 1e-12, 100)
        else:
            cs = _c_star(act, sw, sb, qs, ch1, r, n, n2, 1e-12, 100).reshape(shape)
    else:
        cs = np.where((r == 1.0) & ((ch1 <= 1.0 + 1e-12) | (qs == 0) | ~np.isfinite(qs)), 1.0, np.nan)
    finite = np.isfinite(qs) & np.isfinite(cs)
    chic = np.where(cs == 1.0, ch1, np.nan)
    inner = finite & (cs < 1.0)
    if np.any(inner):
        if dk is not None:
            chic[inner] = sw[inner] * dk[inner]
        else:
            _, dki = _dkernels_equal(act, qs[inner], cs[inner], n2, need_value=False)
            chic[inner] = sw[inner] * dki
    if fast1:
        slope = np.where(fin, sw / r * np.where(fin, slope_q, 0.0), np.nan)
    else:
        slope = np.where(fin, sw / r * expect_phi_sq_slope(act, np.where(fin, qs, 0.0), n=n), np.nan)
    marginal = np.abs(chic - 1) <= 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        xi_q = np.where(slope > 0, -1.0 / np.log(slope), 0.0)
        xi_q = np.where(slope >= 1, np.inf, xi_q)
        xi_q = np.where(np.isnan(slope), np.nan, xi_q)
        xi_c = np.where(chic > 0, -1.0 / np.log(chic), 0.0)
        xi_c = np.where(marginal, np.inf, xi_c)
        xi_c = np.where(np.isnan(chic), np.nan, xi_c)
    # no finite fixed point (q* = inf): q never settles (xi_q = inf); the depth scale of c, defined at
    # a fixed point, exists only as the marginal limit chi_c = 1 (inf); else nan (see depth_scales)
    xi_q = np.where(fin, xi_q, np.inf)
    xi_c = np.where(fin | (marginal & np.isfinite(cs)), xi_c, np.nan)
    return {"q_star": qs, "c_star": cs, "chi1": ch1, "chi_c": chic, "xi_q": xi_q, "xi_c": xi_c,
            "reason": _no_fixed_point_reason(sw, sb, fin, marginal)}


def _no_fixed_point_reason(sw: Array, sb: Array, fin: Array, marginal: Array) -> str:
    """Why the depth scales are inf / nan where q* = inf ("" where every point has a finite q*)."""
    bad = ~np.asarray(fin, dtype=bool)
    if not np.any(bad):
        return ""
    i = int(np.flatnonzero(bad.ravel())[0])
    at = f"sigma_w2 = {float(sw.ravel()[i]):g}, sigma_b2 = {float(sb.ravel()[i]):g}"
    where = at if bad.size == 1 else f"{int(bad.sum())} of {bad.size} points (e.g. {at})"
    text = (f"no finite attracting fixed point at {where} (q* = inf): q^l grows without bound (or, where "
            "the length map is the diagonal, as for ReLU at sigma_w^2 = 2 r and sigma_b^2 = 0, stays where "
            "it starts); xi_q = inf there (q never settles)")
    if np.any(bad & ~marginal):
        text += ("; xi_c = nan where chi_c != 1 (Schoenholz et al. 2017 define the depth scales at a "
                 "fixed point, and -1 / ln chi_c with chi_c = chi_1 > 1 is no depth; chi1 is then the "
                 "per-layer growth factor of squared gradients)")
    if np.any(bad & marginal):
        text += "; xi_c = inf where chi_c = 1 (the marginal case, e.g. ReLU at sigma_w^2 = 2 r)"
    return text


def depth_scales(
    activation: ActivationLike,
    sigma_w2,
    sigma_b2,
    *,
    keep: float = 1.0,
    n: int | None = None,
    n2: int | None = None,
) -> DepthScales:
    """Depth scales xi_q and xi_c of Schoenholz et al. (2017), eqs. 4 and 9 (variances).

    xi_q = -1 / ln(sigma_w^2 / r * d/dq E[phi(sqrt(q) z)^2] at q*), which without dropout is
    -1 / ln(chi_1 + sigma_w^2 E[phi''(sqrt(q*) z) phi(sqrt(q*) z)]) (their eq. 4, by Stein's
    lemma); xi_c = -1 / ln chi_c. xi_c diverges at the edge of chaos (chi_1 = 1); the trainable
    depth is about 6 xi_c (their empirical constant).

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float or array_like
        Weight and bias variances, >= 0.
    keep : float
        Dropout keep probability in (0, 1].
    n, n2 : int, optional
        Quadrature for activations without closed forms (1-D; per axis in 2-D): None (default) the
        panel rules of :mod:`cascades.nn.activations` (split at the kinks; 1-D about 1e-14, 2-D
        about 1e-12); ints, the n-point and n2 x n2 trapezoid rules (reproducible, but their error
        grows with q and across kinks).

    Returns
    -------
    DepthScales
        ``xi_c = inf`` where chi_c = 1 (to 1e-12); ``0`` where a slope is 0 (e.g. Heaviside's
        length map). Where the length map has no finite fixed point (q* = inf: it stays above the
        diagonal and q^l grows without bound, as for ReLU with sigma_w^2 > 2 r, which is also how
        :func:`q_fixed_point` and :func:`cascades.nn.critical_point` report it): ``xi_q = inf``
        (q never settles; also at sigma_w^2 = 2 r, sigma_b^2 = 0, where every q is fixed),
        ``xi_c = inf`` if chi_c = 1 (ReLU at sigma_w^2 = 2 r) and ``nan`` otherwise, since the
        depth scales of Schoenholz et al. are defined at a fixed point and -1 / ln chi_c with
        chi_c = chi_1 > 1 is no depth; ``chi1`` there is the per-layer growth factor of squared
        gradients, and ``reason`` says which points are affected.

    Raises
    ------
    ValueError
        For variances outside [0, 1e100] (or sigma_w^2 / keep above 1e100) or ``keep`` outside (0, 1].
    cascades.MemoryLimitError
        If the solvers' arrays for the broadcast shape of the variances do not fit in memory.

    Examples
    --------
    >>> ds = depth_scales("relu", 1.5, 0.1)
    >>> round(ds.xi_c, 6)   # -1 / ln(0.75)
    3.476059
    >>> ds = depth_scales("relu", 2.5, 0.1)   # no fixed point: q grows like 1.25^l
    >>> ds.q_star, ds.xi_q, ds.xi_c, ds.chi1
    (inf, inf, nan, 1.25)
    >>> ds.reason[:66]
    'no finite attracting fixed point at sigma_w2 = 2.5, sigma_b2 = 0.1'
    """
    d = _scales(activation, sigma_w2, sigma_b2, keep, n, n2)
    fields = DepthScales.__dataclass_fields__
    return DepthScales(**{k: v if k == "reason" else _scalar_or_array(v) for k, v in d.items()
                          if k in fields})


def critical_weight_variance(
    activation: ActivationLike,
    sigma_b2,
    *,
    keep: float = 1.0,
    n: int | None = None,
    xtol: float = 1e-13,
):
    """The edge of chaos: the weight variance sigma_w^2 with chi_1 = 1 at q* (Poole et al. 2016, Sec. 3).

    Parameters
    ----------
    activation : str or Activation
    sigma_b2 : float or array_like
        Bias variance(s), >= 0. (The result is a variance too.)
    keep : float
        Dropout keep probability in (0, 1]: then the root of the gradient criterion
        sigma_w^2 / r E[phi'^2] = 1; for ReLU sigma_w^2 = 2 r (derived; see Notes).
    n : int, optional
        Quadrature for activations without a closed form: None (default) the panel rule of
        :mod:`cascades.nn.activations` (split at the kinks, accurate to about 1e-14); an int, the
        n-point trapezoid rule (reproducible, but its error grows with q and across kinks).
    xtol : float
        Absolute tolerance of :func:`scipy.optimize.brentq` (the ``n``-int route only).

    Returns
    -------
    float or ndarray
        sigma_w^2 on the critical line.

    Raises
    ------
    ValueError
        If there is no critical point with this sigma_b^2: Heaviside (chi_1 infinite), ReLU with
        sigma_b^2 > 0, and GELU or SiLU at sigma_b^2 = 0, where chi_1 = 1 only at q = 0 (sigma_w^2 = 4)
        and q moves away from 0 (the length map has no finite fixed point with chi_1 = 1 there: a
        solver on chi_1(sigma_w^2) finds only the jump of q* from 0 to a finite value).

    Notes
    -----
    Default (``n=None``): the point of the edge-of-chaos curve with this sigma_b^2
    (:func:`cascades.nn.criticality.critical_point`; Hayou, Doucet & Rousseau 2019): the roots of
    sigma_b^2(q*) = q* - E[phi^2] / E[phi'^2] = sigma_b^2, sigma_w^2 = r / E[phi'(sqrt(q*) z)^2] (dropout
    divides sigma_w^2 by r in both the length map and chi_1, so it scales the critical sigma_w^2 by
    r). The stable root is taken when there are several. At sigma_b^2 = 0 odd activations (tanh,
    erf, SELU) have only the degenerate point q* = 0, sigma_w^2 = r / E[phi'(0)^2] (one-sided limits
    averaged at a kink: 2 r / (lambda^2 (1 + alpha^2)) for SELU), which the length map approaches
    algebraically. With an int ``n`` (the trapezoid rule): brentq on sigma_w^2 -> chi_1(sigma_w^2,
    sigma_b^2) - 1 with q* recomputed at each step (bracket [1e-8, 1], doubled until chi_1 > 1), the
    classical route of Poole et al. (2016), which at GELU's sigma_b^2 = 0 returns the jump at 4.
    For ReLU, chi_1 = sigma_w^2 / (2 r) whatever q*, so the critical point is sigma_w^2 = 2 r (for
    r = 1: He et al. 2015); the correlation map has no critical point for r < 1 (Schoenholz et al.
    2017, Sec. 4).

    Examples
    --------
    >>> critical_weight_variance("relu", 0.0)
    2.0
    >>> round(critical_weight_variance("tanh", 0.05), 6)
    1.760955
    >>> round(critical_weight_variance("selu", 0.05), 6)   # Klambauer et al. 2017's SELU
    0.901766
    >>> critical_weight_variance("tanh", 0.0)               # the degenerate point q* = 0
    1.0
    """
    act = get_activation(activation)
    sb = _variances("sigma_b2", sigma_b2)
    r = _keep(keep)
    if n is None:
        from .criticality import critical_point

        def curve(b):
            return r * critical_point(act, sigma_b2=float(b)).sigma_w2

        return _scalar_or_array(np.vectorize(curve, otypes=[float])(sb))

    def h(sw, b):
        qs = _q_star(act, np.asarray(sw), np.asarray(b), r, n, 1e-14, 200)
        return float(_chi1_at(act, np.asarray(sw), qs, r, n)) - 1.0

    def solve(b):
        lo, hi = 1e-8, 1.0
        h_lo = h(lo, b)
        if not h_lo < 0:
            raise ValueError(
                f"chi_1 = {h_lo + 1.0} >= 1 already at sigma_w2 = {lo} for {act.name} "
                f"(sigma_b2 = {b}): no edge of chaos"
            )
        while h(hi, b) <= 0:
            hi *= 2.0
            if hi > 1e8:
                raise ValueError(f"chi_1 stays below 1 up to sigma_w2 = 1e8 for {act.name}: no edge of chaos")
        return optimize.brentq(h, lo, hi, args=(b,), xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200)

    out = np.vectorize(solve, otypes=[float])(sb)
    return _scalar_or_array(out)


# ---------------------------------------------------------------------------------------------
# trajectories
# ---------------------------------------------------------------------------------------------


def propagate(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float,
    q11: float,
    depth: int,
    *,
    q22: float | None = None,
    c: float = 1.0,
    keep: float = 1.0,
    n: int | None = None,
    n2: int | None = None,
) -> Trajectory:
    """Iterate the covariance map for ``depth`` layers from two inputs (Poole et al. 2016, eqs. 3, 5).

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances, >= 0.
    q11 : float
        Length of the first input's pre-activations at layer 0, >= 0.
    depth : int
        Number of layers to apply, >= 0.
    q22 : float, optional
        Length of the second input (default ``q11``).
    c : float
        Initial correlation in [-1, 1].
    keep : float
        Dropout keep probability in (0, 1].
    n, n2 : int, optional
        Quadrature for activations without closed forms (1-D; per axis in 2-D): None (default) the
        panel rules of :mod:`cascades.nn.activations` (split at the kinks; 1-D about 1e-14, 2-D
        about 1e-12); ints, the n-point and n2 x n2 trapezoid rules (reproducible, but their error
        grows with q and across kinks).

    Returns
    -------
    Trajectory
        Arrays of length ``depth + 1`` (index 0: the input).

    Raises
    ------
    ValueError
        For variances outside [0, 1e100], c outside [-1, 1] or a negative depth, and when the
        lengths pass 1e100 before the last layer (a diverging length map: the 2-D expectations
        would overflow float64; the message gives the largest depth that works).
    cascades.MemoryLimitError
        If the trajectory (4 (depth + 1) floats) does not fit in memory.

    Examples
    --------
    >>> t = propagate("relu", 2.0, 0.0, 1.0, 3, c=0.0)
    >>> t.q11.tolist()
    [1.0, 1.0, 1.0, 1.0]
    >>> round(float(t.c[1]), 12)   # 1 / pi
    0.318309886184
    """
    act = get_activation(activation)
    sw = _variance("sigma_w2", sigma_w2)
    sb = _variance("sigma_b2", sigma_b2)
    a = _variance("q11", q11)
    b = a if q22 is None else _variance("q22", q22)
    c0 = check_real("c", c, low=-1, high=1)
    depth = check_int("depth", depth, low=0)
    r = _keep(keep, sw)
    n, n2 = _nodes("n", n), _nodes("n2", n2)
    advice = "q_trajectory for the lengths"
    return _covariance_iteration(act, sw, sb, a, b, c0, depth, keep=r, n=n, n2=n2, advice=advice)


def _covariance_iteration(act, sw, sb, a, b, c0, depth, *, skip2=0.0, branch2=1.0, keep=1.0, n=None,
                          n2=None, unit="layers", advice=""):
    """(q11, q22, q12) <- skip2 (q11, q22, q12) + branch2 C(q11, q22, q12) for ``depth`` steps.

    C is :func:`covariance_map`. A plain network (:func:`propagate`) has skip2 = 0 and branch2 = 1
    (then the update is exactly C); a residual one (:func:`cascades.nn.residual_propagate`) has
    alpha^2 and beta^2. Arguments are validated by the callers. Returns the :class:`Trajectory`.
    """
    guard(4 * F8 * (depth + 1), parameter=f"depth = {depth}", what="the trajectory")
    out = np.empty((4, depth + 1))
    q12 = c0 * math.sqrt(a) * math.sqrt(b)
    for l in range(depth + 1):
        den = math.sqrt(a) * math.sqrt(b)
        out[:, l] = a, b, q12, (q12 / den if den > 0 else 1.0)
        if l == depth:
            break
        if max(a, b) > _VARIANCE_MAX:
            raise ValueError(
                f"depth = {depth}: the lengths pass {_VARIANCE_MAX:g} after {l} {unit} (q11 = {a:.4g}, "
                f"q22 = {b:.4g}: the map of sigma_w2 = {sw:g}, sigma_b2 = {sb:g} diverges), where "
                f"the 2-D expectations overflow float64; use depth <= {l}"
                + (f", or {advice}" if advice else "")
            )
        cov = covariance_map(act, sw, sb, a, b, q12, keep=keep, n=n, n2=n2)
        # a plain layer (0, 1) gives exactly the covariance map: a, q12 are finite, 0 * a + 1 * x == x
        a = skip2 * a + branch2 * float(cov.q11)
        b = skip2 * b + branch2 * float(cov.q22)
        q12 = skip2 * q12 + branch2 * float(cov.q12)
        root = math.sqrt(a) * math.sqrt(b)
        q12 = float(np.clip(q12, -root, root))
    return Trajectory(*out)


def q_trajectory(
    activation: ActivationLike, sigma_w2: float, sigma_b2: float, q0: float, depth: int,
    *, keep: float = 1.0, n: int | None = None,
) -> Array:
    """Lengths q^0 = q0, q^1, ..., q^depth under the length map (variances; Poole et al. 2016, eq. 3).

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances, >= 0.
    q0 : float
        Initial length, >= 0.
    depth : int
        Number of layers, >= 0.
    keep : float
        Dropout keep probability in (0, 1].
    n : int, optional
        Quadrature for activations without a closed form: None (default) the panel rule of
        :mod:`cascades.nn.activations` (split at the kinks, accurate to about 1e-14); an int, the
        n-point trapezoid rule (reproducible, but its error grows with q and across kinks).

    Returns
    -------
    ndarray
        Length ``depth + 1``; ``inf`` from the layer where q passes float64's range (a diverging
        length map, e.g. ReLU with sigma_w^2 > 2 r over thousands of layers).

    Raises
    ------
    ValueError
        For variances outside [0, 1e100] or a negative depth.
    cascades.MemoryLimitError
        If the ``depth + 1`` lengths do not fit in memory.

    Examples
    --------
    >>> q_trajectory("linear", 0.5, 1.0, 4.0, 3).tolist()
    [4.0, 3.0, 2.5, 2.25]
    """
    act = get_activation(activation)
    sw = _variance("sigma_w2", sigma_w2)
    sb = _variance("sigma_b2", sigma_b2)
    q = _variance("q0", q0)
    depth = check_int("depth", depth, low=0)
    r = _keep(keep, sw)
    guard(F8 * (depth + 1), parameter=f"depth = {depth}", what="the trajectory")
    out = np.empty(depth + 1)
    out[0] = q
    for l in range(1, depth + 1):
        if math.isinf(out[l - 1]):  # past float64's range: the length map diverged and stays infinite
            out[l:] = np.inf
            break
        with np.errstate(over="ignore"):
            out[l] = sw / r * float(expect_phi_sq(act, out[l - 1], n=n)) + sb
    return out


def c_trajectory(
    activation: ActivationLike, sigma_w2: float, sigma_b2: float, c0: float, depth: int,
    *, q0: float | None = None, keep: float = 1.0, n: int | None = None, n2: int | None = None,
) -> Array:
    """Correlations c^0 = c0, ..., c^depth of two inputs of equal length (Poole et al. 2016, eq. 5).

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances, >= 0.
    c0 : float
        Initial correlation in [-1, 1].
    depth : int
        Number of layers, >= 0.
    q0 : float, optional
        Initial length of both inputs; default q* (then the lengths stay at q* and only c moves).
    keep : float
        Dropout keep probability in (0, 1].
    n, n2 : int, optional
        Quadrature for activations without closed forms (1-D; per axis in 2-D): None (default) the
        panel rules of :mod:`cascades.nn.activations` (split at the kinks; 1-D about 1e-14, 2-D
        about 1e-12); ints, the n-point and n2 x n2 trapezoid rules (reproducible, but their error
        grows with q and across kinks).

    Returns
    -------
    ndarray
        Length ``depth + 1``.

    Examples
    --------
    >>> ct = c_trajectory("tanh", 1.2, 0.05, 0.5, 50)   # ordered phase: c -> 1
    >>> bool(ct[-1] > 0.99)
    True
    """
    sw = _variance("sigma_w2", sigma_w2)
    sb = _variance("sigma_b2", sigma_b2)
    r = _keep(keep, sw)
    if q0 is None:
        q0 = float(q_fixed_point(activation, sw, sb, keep=r, n=n))
        if not math.isfinite(q0):
            raise ValueError("q* is infinite here; pass q0 explicitly")
    q0 = _variance("q0", q0)
    return propagate(activation, sw, sb, q0, depth, c=c0, keep=r, n=n, n2=n2).c


# ---------------------------------------------------------------------------------------------
# phase diagram
# ---------------------------------------------------------------------------------------------


def phase_diagram(
    activation: ActivationLike,
    sigma_w,
    sigma_b,
    *,
    axes: str = "std",
    keep: float = 1.0,
    correlations: bool = True,
    n: int | None = None,
    n2: int | None = None,
    method: str = "auto",
) -> PhaseDiagram:
    """chi_1, q*, c* and the order/chaos classification on a (sigma_w, sigma_b) grid.

    **The axes are standard deviations by default** (``axes="std"``), as in Poole et al. (2016),
    Fig. 2 (sigma_w in [1, 5], sigma_b in [0, 4]); pass ``axes="variance"`` to give sigma_w^2 and
    sigma_b^2 directly. Everything is computed from the variances sigma_w^2, sigma_b^2.

    Parameters
    ----------
    activation : str or Activation
    sigma_w, sigma_b : array_like
        1-D grids (>= 0) of the weight and bias axes, in the units set by ``axes``.
    axes : {"std", "variance"}
        Units of the axes.
    keep : float
        Dropout keep probability in (0, 1].
    correlations : bool
        Compute c* and chi_c (the expensive 2-D part). With ``False`` they are nan except where
        c* = 1 is known (ordered phase without dropout, chi_c = chi_1 there).
    n, n2 : int, optional
        The quadrature. None (default): accurate rules, chosen per point. In the numba path
        (``method="auto"``; tanh, sigmoid, gelu, silu) the trapezoid rule with a node count
        chosen from q* so that its error stays below about 1e-9 (1-D) and 1e-8 (2-D kernels)
        relative (see Notes); kinked activations (selu, elu, hardtanh: closed forms in 1-D, a
        1-D rule over the closed-form Gaussian smoothing of phi in 2-D) and the numpy path use
        the panel rules of :mod:`cascades.nn.activations` (about 1e-14 in 1-D, 1e-12 in 2-D).
        Ints: the fixed n-point / n2 x n2 trapezoid rule everywhere (the numba kernels for every
        registered activation), reproducible but not accurate at large q* or across kinks:
        measured for tanh on Poole's range (q* up to 38) with n = 301, n2 = 121, chi_1 to 1e-8,
        c* to 1e-5 and chi_c to 7e-4 at the largest q*; for hardtanh at (4, 0.05) (variances),
        chi_c 0.711 instead of 0.805.
    method : {"auto", "numpy"}
        ``"auto"``: numba kernels (``cascades/nn/_kernels.py``) for the registered activations
        whose expectations need quadrature (tanh, sigmoid, gelu, silu; with explicit ``n2`` also
        the 2-D kernels of selu and hardtanh), closed forms where known, numpy for anything else
        (custom callables, elu, gelu_tanh). ``"numpy"``: the vectorised numpy solvers of
        :func:`q_fixed_point` and :func:`c_fixed_point` throughout (the reference; slower). With
        a fixed rule both use the same quadrature and stopping rules and agree to about 1e-10
        (measured on Poole's grid: q*, chi_1 and c* to 1e-11, chi_c to 3e-11 relative); with the
        default rules they agree to the accuracy of the trapezoid sizes (measured on Poole's
        41 x 41 grid for tanh: q* and chi_1 to 5e-11, c* to 7e-11, chi_c to 6e-10).

    Returns
    -------
    PhaseDiagram
        Grids of shape ``(len(sigma_w), len(sigma_b))``.

    Raises
    ------
    ValueError
        For bad axes or method, or a grid larger than 5 * 10^6 points (it would not fit in memory).
    RuntimeError
        If a fixed-point iteration does not converge (never silently).

    Notes
    -----
    q* and chi_1: the safeguarded Newton iteration of :func:`q_fixed_point` at every point, O(n)
    per step. c* and chi_c: on the chaotic points only (c* = 1 is exact in the ordered phase
    without dropout), the bracketed iteration of :func:`c_fixed_point` on the convex function
    c_map(c) - c, O(n2^2) per step. With ``method="auto"`` each row of the grid (fixed sigma_w) is
    swept along sigma_b and every solve starts from the extrapolation of its neighbours' solutions
    (q* linearly, c* quadratically); c* uses Halley steps (the slope and curvature of the map come
    from the same pass, by Price's theorem) and stops one evaluation early when Halley's predicted
    error is below the tolerance. For tanh, sigmoid and silu each quadrature row costs two
    exponentials (the rest is a geometric sequence), and the mirror symmetry of smooth activations
    (phi(-x) from phi(x)) halves the 2-D rule.

    The trapezoid sizes of the default numba path: the error of the trapezoid rule for an
    integrand analytic in the strip |Im z| < d is about exp(-2 pi d / h), and phi(sqrt(q) z) has
    d = pi / (2 sqrt(q)) for tanh (pi / sqrt(q) for sigmoid and silu), so the node count must
    grow like sqrt(q). Measured against the panel rule, 1e-9 relative on the 1-D expectations
    needs n = 70 sqrt(q) for tanh and about 40 sqrt(q) for sigmoid, gelu and silu, and 1e-8 on
    both 2-D kernels needs n2 = 47 sqrt(q) (tanh) and 30 sqrt(q) outer nodes, while the inner
    sum, whose integrand varies on the scale 1 / sqrt(q (1 - c^2)), needs only 44 sqrt(q (1 - c^2))
    (tanh) and 21 sqrt(q (1 - c^2)) nodes. Each point is solved with the smallest size of a
    ladder that meets these counts with a margin (at least the fixed rule's 301 and 121): 1-D
    first with 301 nodes and again with more where the q* found asks for them; 2-D with an outer
    size from q* and, at every evaluation, an inner size from q* and the current c. Points past
    the ladder (q* above about 1.2e4 in 1-D; 270 in 2-D for tanh, 600 for the others) by the panel
    rule. Measured on Poole's grid for tanh: 2.0 (201 x 201) to 2.4 (41 x 41) evaluations of the
    2-D rule per chaotic point; 201 x 201 takes about 2-3 times as long as with the fixed
    301 / 121 rule (``benchmarks/bench_nn_meanfield.py``).
    q* = inf (an unbounded activation whose length map outgrows the diagonal, e.g. gelu with
    sigma_w^2 > 2) is decided with 301 nodes while the bracket grows to 1e12 max(1, sigma_w^2 / r,
    sigma_b^2), where that rule is
    good to 2e-6 relative for gelu and silu (measured; at q ~ 1e4, 1e-12 beyond 1e8): within
    about 1e-6 of that boundary in sigma_w^2 the decision can differ from the numpy path's.
    Activations with closed forms (relu, leaky_relu, linear, erf, heaviside) take milliseconds
    either way; hardtanh, elu and selu take the numpy path with their 1-D closed forms and 1-D
    rules for the 2-D kernels (measured for hardtanh: 0.7 s for 41 x 41, 11 s for 201 x 201).

    Examples
    --------
    >>> pd = phase_diagram("relu", [1.0, 2.0], [0.0, 0.5])
    >>> pd.chi1.tolist()   # sigma_w^2 / 2
    [[0.5, 0.5], [2.0, 2.0]]
    >>> pd.chaotic.tolist()
    [[False, False], [True, True]]
    """
    if axes not in ("std", "variance"):
        raise ValueError(f"axes must be 'std' or 'variance', got {axes!r}")
    if method not in ("auto", "numpy"):
        raise ValueError(f"method must be 'auto' or 'numpy', got {method!r}")
    w = np.asarray(sigma_w, dtype=float)
    b = np.asarray(sigma_b, dtype=float)
    for name, arr in (("sigma_w", w), ("sigma_b", b)):
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D grid, got shape {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"{name} must hold finite values >= 0")
    if w.size * b.size > _MAX_GRID_POINTS:
        raise ValueError(
            f"sigma_w, sigma_b: a {w.size} x {b.size} grid has more than {_MAX_GRID_POINTS} points "
            "and would not fit in memory; use a coarser grid or tiles"
        )
    act = get_activation(activation)
    for name, arr in (("sigma_w", w), ("sigma_b", b)):
        if np.any((arr**2 if axes == "std" else arr) > _VARIANCE_MAX):
            unit = "squares of the " if axes == "std" else ""
            raise ValueError(f"{name}: the {unit}values must be variances <= {_VARIANCE_MAX:g} ({_WHY_MAX}), "
                             f"got {float(np.max(arr))!r}")
    r = _keep(keep, w**2 if axes == "std" else w)
    guard(_SOLVER_ARRAYS * F8 * w.size * b.size, parameter=f"sigma_w, sigma_b: a {w.size} x {b.size} grid",
          what="the solvers' arrays")
    sw2 = (w**2 if axes == "std" else w)[:, None] * np.ones(b.size)
    sb2 = np.ones(w.size)[:, None] * (b**2 if axes == "std" else b)
    d = _scales(act, sw2, sb2, r, n, n2, correlations=correlations, method=method)
    return PhaseDiagram(
        sigma_w=w, sigma_b=b, axes=axes, sigma_w2=sw2, sigma_b2=sb2,
        q_star=d["q_star"], c_star=d["c_star"], chi1=d["chi1"], chi_c=d["chi_c"],
        chaotic=d["chi1"] > 1.0,
    )


# ---------------------------------------------------------------------------------------------
# gradients and the Jacobian spectrum
# ---------------------------------------------------------------------------------------------


def gradient_norms(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    *,
    q0: float | None = None,
    keep: float = 1.0,
    n: int | None = None,
) -> Array:
    """Expected squared gradient norms per layer relative to the last layer (variances).

    In the mean-field theory of backpropagation (Schoenholz et al. 2017, Sec. 5, eqs. 13-15),
    with delta^l = dE/dh^l and equal widths, E|delta^l|^2 = chi_1(q^l) E|delta^{l+1}|^2 where
    chi_1(q) = sigma_w^2 / r E[phi'(sqrt(q) z)^2]. So the ratio at layer l is
    prod_{k=l}^{L-1} chi_1(q^k) = chi_1^{L-l} when q^k = q*.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances, >= 0.
    depth : int
        Number of layers L >= 1.
    q0 : float, optional
        Length of the first layer's pre-activations (default q*: the lengths stay at q*).
    keep : float
        Dropout keep probability in (0, 1].
    n : int, optional
        Quadrature for activations without a closed form: None (default) the panel rule of
        :mod:`cascades.nn.activations` (split at the kinks, accurate to about 1e-14); an int, the
        n-point trapezoid rule (reproducible, but its error grows with q and across kinks).

    Returns
    -------
    ndarray
        Length L: entry l - 1 is E|delta^l|^2 / E|delta^L|^2 for l = 1, ..., L (the last is 1).

    Examples
    --------
    >>> gradient_norms("relu", 1.0, 0.1, 3).tolist()   # chi_1 = 1/2
    [0.25, 0.5, 1.0]
    """
    act = get_activation(activation)
    sw = _variance("sigma_w2", sigma_w2)
    sb = _variance("sigma_b2", sigma_b2)
    L = check_int("depth", depth, low=1)
    r = _keep(keep, sw)
    # the lengths, sigma_w^2 per layer, chi_1 with its masks and expectations, the ratios
    guard(6 * F8 * L, parameter=f"depth = {L}", what="the per-layer lengths and ratios")
    if q0 is None:
        qs = float(q_fixed_point(act, sw, sb, keep=r, n=n))
        q = np.full(L, qs)
    else:
        q = q_trajectory(act, sw, sb, _variance("q0", q0), L - 1, keep=r, n=n)
    ch = _chi1_at(act, np.full(L, sw), q, r, n)
    out = np.ones(L)
    with np.errstate(over="ignore"):  # a ratio past float64's range is inf, as it should be
        for l in range(L - 2, -1, -1):
            out[l] = out[l + 1] * ch[l]
    return out


def jacobian_spectrum_moments(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float,
    depth: int,
    *,
    weights: str = "gaussian",
    n: int | None = None,
) -> JacobianMoments:
    """Mean and variance of the spectrum of J J^T for the input-output Jacobian J (variances).

    J = prod_l D^l W^l, D^l = diag(phi'(h^l)), at the fixed point q*. Free probability gives
    m1 = (sigma_w^2 mu_1)^L = chi_1^L and
    m2 = (sigma_w^2 mu_1)^{2L} L (mu_2 / mu_1^2 + 1 / L - 1 - s_1), so the variance is
    m2 - m1^2 = chi_1^{2L} L (mu_2 / mu_1^2 - 1 - s_1), mu_k = E[phi'(sqrt(q*) z)^(2k)],
    s_1 = -1 for Gaussian and 0 for orthogonal weights (Pennington, Schoenholz & Ganguli 2017,
    eqs. 16-18; 2018). At chi_1 = 1 ReLU gives 2L (Gaussian) or L (orthogonal).

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float
        Weight and bias variances, >= 0.
    depth : int
        Number of layers L >= 1.
    weights : {"gaussian", "orthogonal"}
        The weight ensemble (orthogonal W scaled by sigma_w).
    n : int, optional
        Quadrature for activations without a closed form: None (default) the panel rule of
        :mod:`cascades.nn.activations` (split at the kinks, accurate to about 1e-14); an int, the
        n-point trapezoid rule (reproducible, but its error grows with q and across kinks).

    Returns
    -------
    JacobianMoments

    Raises
    ------
    ValueError
        For an unknown ensemble, or when q* is infinite.

    Examples
    --------
    >>> m = jacobian_spectrum_moments("relu", 2.0, 0.0, 10)
    >>> m.mean, m.variance
    (1.0, 20.0)
    >>> jacobian_spectrum_moments("relu", 2.0, 0.0, 10, weights="orthogonal").variance
    10.0
    """
    if weights not in ("gaussian", "orthogonal"):
        raise ValueError(f"weights must be 'gaussian' or 'orthogonal', got {weights!r}")
    act = get_activation(activation)
    sw = _variance("sigma_w2", sigma_w2)
    sb = _variance("sigma_b2", sigma_b2)
    L = check_int("depth", depth, low=1)
    qs = float(_q_star(act, np.asarray(sw), np.asarray(sb), 1.0, n, 1e-13, 200))
    if not math.isfinite(qs):
        if act.dphi_power is None:
            raise ValueError("q* is infinite for these variances: the Jacobian moments are undefined")
        q_eval = np.inf
    else:
        q_eval = qs
    if math.isinf(q_eval):
        mu1 = float(act.mean_dsq(np.inf))
        mu2 = float(act.dphi_power(np.inf, 2))
    else:
        mu1 = float(expect_dphi_sq(act, q_eval, n=n))
        mu2 = float(expect_dphi_power(act, q_eval, 2, n=n))
    s1 = -1.0 if weights == "gaussian" else 0.0
    ch = sw * mu1
    mean = ch**L
    variance = ch ** (2 * L) * L * (mu2 / mu1**2 - 1.0 - s1) if mu1 > 0 else 0.0
    return JacobianMoments(
        mean=float(mean),
        variance=float(variance),
        mu1=mu1,
        mu2=mu2,
        s1=s1,
        chi1=float(ch),
        depth=L,
        q_star=qs,
    )
