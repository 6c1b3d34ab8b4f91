"""The edge of chaos as a curve, and the operating point a network should sit at.

For a fully connected random network with weight variance sigma_w^2 / n_in and bias variance
sigma_b^2, the edge of chaos is the set of (sigma_w^2, sigma_b^2) where the length map has a fixed
point q* and the correlation map's slope at c = 1 is one, chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] = 1
(Poole et al. 2016; Schoenholz et al. 2017). Hayou, Doucet & Rousseau (ICML 2019, Sec. 3 and
Definition 2) parametrise it by the fixed point itself: for every target q* > 0 the two equations

    sigma_w^2 E[phi'(sqrt(q*) z)^2] = 1,     q* = sigma_w^2 E[phi(sqrt(q*) z)^2] + sigma_b^2

give one point of the curve,

    sigma_w^2(q*) = 1 / E[phi'^2],     sigma_b^2(q*) = q* - E[phi^2] / E[phi'^2],

admissible where sigma_b^2(q*) >= 0. Whether a network can *stay* at q* is a second question: the
length map's slope there, s(q*) = sigma_w^2 d/dq E[phi^2] = E[phi'^2 + phi phi''] / E[phi'^2]
(Stein's lemma), must be below one, otherwise a deviation from q* grows by the factor s per
layer. Measured on the registry (``tests/test_nn_criticality.py`` checks these by an independent
quadrature): at q* = 1 the slope is 0.39 for tanh, 0.86 for ELU and 0.73 for SELU (stable), but
1.07 for GELU and 1.10 for SiLU (unstable); GELU's points are stable only for q* > 3.56 and SiLU's
for q* > 14.3. Positively homogeneous activations (ReLU, leaky ReLU, linear) have a single critical
point (sigma_w^2 = 2 / (1 + a^2), sigma_b^2 = 0) with a line of neutral fixed points (slope 1).

With sigma_b^2 fixed instead of q*, the critical point is the root of sigma_b^2(q*) = sigma_b^2.
At sigma_b^2 = 0 odd activations such as tanh have no finite root: their only critical point is
q* = 0 (sigma_w^2 = 1 / phi'(0)^2), which the length map reaches only algebraically (q^l ~ 1 / l for
tanh), so every layer of a finite network has chi_1 < 1. For GELU and SiLU the point q* = 0 even
repels (q grows away from it), so sigma_b^2 = 0 has no usable critical point at all.

Everything here is numpy (no numba compilation): a recommendation needs the curve at a few
hundred points at most. torch is never imported.

References
----------
S. Hayou, A. Doucet and J. Rousseau, "On the impact of the activation function on deep neural
networks training", ICML 2019 (the edge of chaos as a curve; Definition 2, Propositions 1-3).
B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein and S. Ganguli, "Exponential expressivity in deep
neural networks through transient chaos", NeurIPS 2016 (length map, eq. 3; chi_1, eq. 7).
S. S. Schoenholz, J. Gilmer, S. Ganguli and J. Sohl-Dickstein, "Deep information propagation",
ICLR 2017 (depth scales, eqs. 4 and 9).
G. Klambauer, T. Unterthiner, A. Mayr and S. Hochreiter, "Self-normalizing neural networks",
NeurIPS 2017 (SELU's fixed point at LeCun-normal weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from .._validation import check_real
from .activations import (
    Activation,
    ActivationLike,
    expect_dphi_sq,
    expect_phi_sq,
    expect_phi_sq_slope,
    get_activation,
)
from .meanfield import _VARIANCE_MAX

# q* below this is refused: the closed forms divide by sqrt(q*) and square the result (hardtanh's
# E[phi^2] at q* = 5e-324 overflows), and no network's pre-activations are that small
_Q_STAR_MIN = 1e-100

__all__ = [
    "CriticalPoint",
    "EdgeOfChaos",
    "STABLE_SLOPE",
    "STABILITY_POLICIES",
    "critical_point",
    "edge_of_chaos",
    "is_homogeneous",
]

#: A point the ``"nearest"`` policy moves to has a length-map slope at most this (a 1 % contraction
#: of deviations from q* per layer, i.e. xi_q >= 100 layers).
STABLE_SLOPE = 0.99
#: What :func:`critical_point` does with an unstable target: keep it (and say how fast q drifts
#: away), or move to the nearest stable point of the curve.
STABILITY_POLICIES = ("keep", "nearest")

# |slope - 1| below this is neutral (the homogeneous activations' line of fixed points).
_NEUTRAL = 1e-9
# The range of q* searched for curve points (sigma_b^2 given, or a target moved).
_Q_LO, _Q_HI = 1e-6, 1e6
_GRID = np.geomspace(_Q_LO, _Q_HI, 481)  # 40 points per decade
# Known positively homogeneous activations (phi(a u) = a phi(u) for a > 0): a line of fixed points.
_HOMOGENEOUS = ("relu", "leaky_relu", "linear")


def is_homogeneous(activation: ActivationLike) -> bool:
    """True for positively homogeneous activations (relu, leaky relu, linear): phi(a u) = a phi(u), a > 0.

    Their critical point is one (sigma_w^2, sigma_b^2 = 0) pair for every q*: the length map is
    linear, q -> sigma_w^2 E[phi(z)^2] q, so at criticality every q is a (neutral) fixed point.

    Examples
    --------
    >>> is_homogeneous("relu"), is_homogeneous("leaky_relu(0.2)"), is_homogeneous("tanh")
    (True, True, False)
    """
    name = get_activation(activation).name
    return name.split("(")[0] in _HOMOGENEOUS


@dataclass(frozen=True)
class EdgeOfChaos:
    """Points of the edge-of-chaos curve, one per q* (returned by :func:`edge_of_chaos`).

    Attributes
    ----------
    activation : str
        The activation's registry name.
    q_star : ndarray
        The fixed points q* > 0.
    sigma_w2, sigma_b2 : ndarray
        sigma_w^2 = 1 / E[phi'^2] and sigma_b^2 = q* - E[phi^2] / E[phi'^2] at q*.
    q_slope : ndarray
        Slope of the length map at q*, E[phi'^2 + phi phi''] / E[phi'^2]: < 1 stable, 1 neutral,
        > 1 unstable.
    admissible : ndarray of bool
        sigma_b^2 >= 0 (a real bias variance).
    stable : ndarray of bool
        q_slope <= 1 (neutral counts as stable, to 1e-9).
    """

    activation: str
    q_star: np.ndarray
    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_slope: np.ndarray
    admissible: np.ndarray
    stable: np.ndarray


@dataclass(frozen=True)
class CriticalPoint:
    """An operating point on the edge of chaos (returned by :func:`critical_point`).

    Attributes
    ----------
    activation : str
        The activation's registry name.
    q_star : float
        The fixed point of the length map: the variance of every hidden pre-activation. 0 for the
        degenerate point of odd activations at sigma_b^2 = 0 (see ``kind``).
    sigma_w2, sigma_b2 : float
        Weight variance (times the fan-in) and bias variance.
    chi1 : float
        sigma_w^2 E[phi'(sqrt(q*) z)^2], evaluated (1 up to round-off).
    q_slope : float
        Slope of the length map at q*.
    kind : str
        ``"stable"`` (q_slope < 1), ``"neutral"`` (q_slope = 1: homogeneous activations),
        ``"unstable"`` (q_slope > 1: deviations grow by q_slope per layer) or ``"degenerate"``
        (q* = 0 at sigma_b^2 = 0, reached only algebraically: no finite network sits there).
    target : float
        The q* that was asked for (nan when sigma_b^2 was fixed instead).
    reason : str
        Why ``q_star`` differs from ``target`` ("" when it does not).
    """

    activation: str
    q_star: float
    sigma_w2: float
    sigma_b2: float
    chi1: float
    q_slope: float
    kind: str
    target: float = math.nan
    reason: str = ""

    @property
    def moved(self) -> bool:
        """True when the point differs from the requested target q*."""
        return math.isfinite(self.target) and not math.isclose(self.q_star, self.target, rel_tol=1e-12)

    @property
    def xi_q(self) -> float:
        """Depth scale of the length map, -1 / ln(q_slope) (Schoenholz et al. 2017, eq. 4).

        inf for neutral and degenerate points; for unstable points the number of layers over which
        a deviation from q* grows by e is 1 / ln(q_slope), returned as a negative number.
        """
        s = self.q_slope
        if self.kind in ("neutral", "degenerate") or s == 1.0:
            return math.inf
        if s <= 0.0:
            return 0.0
        return -1.0 / math.log(s)

    def drift(self, layers: int) -> float:
        """Factor by which a small deviation from q* changes over ``layers`` layers: q_slope ** layers."""
        return float(self.q_slope) ** int(layers)


def _curve(act: Activation, q: np.ndarray):
    """sigma_w^2, sigma_b^2 and the length-map slope at the fixed points q (vectorised)."""
    e2 = np.asarray(expect_phi_sq(act, q), dtype=float)
    d2 = np.asarray(expect_dphi_sq(act, q), dtype=float)
    sl = np.asarray(expect_phi_sq_slope(act, q), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sw2 = 1.0 / d2
        sb2 = q - e2 / d2
        slope = sl / d2
    return sw2, sb2, slope


def _check_derivative(act: Activation) -> None:
    d = float(np.asarray(expect_dphi_sq(act, 1.0)))
    if not math.isfinite(d) or d <= 0:
        raise ValueError(
            f"activation {act.name!r} has no edge of chaos: E[phi'(z)^2] = {d} (chi_1 = sigma_w^2 E[phi'^2] "
            "cannot equal 1)"
        )


def edge_of_chaos(activation: ActivationLike, q_star) -> EdgeOfChaos:
    """Points of the edge-of-chaos curve parametrised by the fixed point q* (Hayou et al. 2019).

    Parameters
    ----------
    activation : str or Activation
        See :func:`cascades.nn.get_activation`.
    q_star : float or array_like
        Fixed points q* > 0 (finite).

    Returns
    -------
    EdgeOfChaos
        Arrays of the shape of ``q_star``.

    Raises
    ------
    ValueError
        For q* <= 0 or not finite, or an activation with E[phi'^2] infinite or zero (Heaviside).

    Notes
    -----
    sigma_w^2 = 1 / E[phi'(sqrt(q*) z)^2] and sigma_b^2 = q* - E[phi(sqrt(q*) z)^2] / E[phi'^2]
    solve chi_1 = 1 and q* = q_map(q*) together (Hayou, Doucet & Rousseau 2019, Sec. 3; Poole et al.
    2016, eqs. 3 and 7). The slope of the length map at q* is sigma_w^2 d/dq E[phi^2] =
    E[phi'^2 + phi phi''] / E[phi'^2] (Stein's lemma; Schoenholz et al. 2017, eq. 4). Cost: three
    one-dimensional Gaussian expectations per point (:mod:`cascades.nn.activations`).

    References
    ----------
    Hayou, Doucet & Rousseau, ICML 2019; Poole et al., NeurIPS 2016; Schoenholz et al., ICLR 2017.

    Examples
    --------
    >>> eoc = edge_of_chaos("tanh", [0.5, 1.0])
    >>> np.round(eoc.sigma_w2, 4).tolist(), np.round(eoc.sigma_b2, 4).tolist()
    ([1.688, 2.1533], [0.038, 0.151])
    >>> bool(eoc.stable.all())
    True
    >>> float(edge_of_chaos("relu", 3.0).sigma_w2)   # He et al. 2015, whatever q*
    2.0
    """
    act = get_activation(activation)
    q = np.asarray(q_star, dtype=float)
    if q.size == 0 or not np.all((q >= _Q_STAR_MIN) & (q <= _VARIANCE_MAX)):  # false for nan
        raise ValueError(
            f"q_star must hold fixed points in [{_Q_STAR_MIN:g}, {_VARIANCE_MAX:g}], got {q_star!r}"
        )
    _check_derivative(act)
    sw2, sb2, slope = _curve(act, q)
    if is_homogeneous(act):  # exact: sigma_b^2 = 0 and a neutral slope, whatever the round-off
        sb2, slope = np.zeros_like(sb2), np.ones_like(slope)
    return EdgeOfChaos(
        activation=act.name, q_star=q, sigma_w2=sw2, sigma_b2=sb2, q_slope=slope,
        admissible=sb2 >= 0.0, stable=slope <= 1.0 + _NEUTRAL,
    )


def _kind(act: Activation, slope: float) -> str:
    if is_homogeneous(act) or abs(slope - 1.0) <= _NEUTRAL:
        return "neutral"
    return "stable" if slope < 1.0 else "unstable"


def _point(act: Activation, q: float, target: float, reason: str = "") -> CriticalPoint:
    sw2, sb2, slope = (float(v) for v in _curve(act, np.asarray(q, dtype=float)))
    if is_homogeneous(act):
        sb2, slope = 0.0, 1.0
    if abs(sb2) <= 1e-9 * q:  # a boundary point found by a root finder, or round-off
        sb2 = 0.0
    chi = sw2 * float(np.asarray(expect_dphi_sq(act, q)))
    return CriticalPoint(
        activation=act.name, q_star=float(q), sigma_w2=sw2, sigma_b2=sb2, chi1=chi, q_slope=slope,
        kind=_kind(act, slope), target=target, reason=reason,
    )


def _refine(f, a: float, b: float) -> float:
    """Root of f between grid points a < b (f changes sign), in log q."""
    return float(math.exp(optimize.brentq(lambda t: f(math.exp(t)), math.log(a), math.log(b),
                                          xtol=1e-14, rtol=1e-13, maxiter=200)))


def _feasible_boundary(act: Activation, target: float, stable: bool) -> float:
    """The q* nearest to ``target`` (log scale) with sigma_b^2 >= 0 (if ``stable``: slope <= STABLE_SLOPE)."""
    grid = np.unique(np.append(_GRID, target))

    def margin(q):
        _, sb, sl = _curve(act, np.asarray(q, dtype=float))
        return np.minimum(sb / q, STABLE_SLOPE - sl) if stable else sb / q

    m = margin(grid)
    ok = m >= 0.0
    if not np.any(ok):
        what = f"admissible (sigma_b^2 >= 0) and stable (slope <= {STABLE_SLOPE})" if stable else \
            "admissible (sigma_b^2 >= 0)"
        raise ValueError(
            f"activation {act.name!r} has no {what} point on its edge of chaos for q* in "
            f"[{_Q_LO:g}, {_Q_HI:g}]"
        )
    idx = np.flatnonzero(ok)
    j = int(idx[np.argmin(np.abs(np.log(grid[idx]) - math.log(target)))])
    nb = j - 1 if grid[j] > target else j + 1  # the infeasible neighbour on the target's side
    if not (0 <= nb < grid.size) or ok[nb]:
        return float(grid[j])
    a, b = sorted((grid[nb], grid[j]))
    q_new = _refine(lambda q: float(margin(q)), a, b)
    for k in range(60):  # the root may sit a hair on the infeasible side: step towards grid[j]
        if float(margin(q_new)) >= 0.0:
            break
        q_new += (grid[j] - q_new) * 2.0 ** (k - 45)
    return float(q_new)


def critical_point(
    activation: ActivationLike,
    *,
    q_star=None,
    sigma_b2=None,
    stability: str = "keep",
) -> CriticalPoint:
    """The operating point on the edge of chaos with a given fixed point q* or bias variance sigma_b^2.

    Parameters
    ----------
    activation : str or Activation
        See :func:`cascades.nn.get_activation`.
    q_star : float, optional
        Target fixed point q* > 0 (the variance of every hidden pre-activation). Default 1 when
        ``sigma_b2`` is not given either.
    sigma_b2 : float, optional
        Fix the bias variance instead (>= 0): the point is the root of sigma_b^2(q*) = sigma_b2.
        Exclusive with ``q_star``.
    stability : {"keep", "nearest"}
        What to do when the target q* is unstable (length-map slope > 1). ``"keep"`` (default): keep
        it (``kind == "unstable"``; a deviation from q* grows by ``q_slope`` per layer).
        ``"nearest"``: move to the nearest point of the curve (in log q*) that is admissible and has
        slope <= :data:`STABLE_SLOPE` (0.99); ``reason`` says why. A target that needs
        sigma_b^2 < 0 (sigmoid at q* = 1) is moved either way, to the nearest admissible point
        (with ``"nearest"``: admissible and stable). With ``sigma_b2`` fixed, the stable root is
        preferred; an unstable one is returned (kind "unstable") only when it is the only root.

    Returns
    -------
    CriticalPoint

    Raises
    ------
    ValueError
        For q* <= 0, sigma_b^2 < 0, both given, an unknown policy, an activation without an edge of
        chaos (E[phi'^2] infinite, as for Heaviside), no admissible point at all, or a sigma_b^2
        with no critical point (e.g. GELU or SiLU at sigma_b^2 = 0: see Notes).

    Notes
    -----
    Target q*: the curve point of :func:`edge_of_chaos`. Fixed sigma_b^2 > 0: sigma_b^2(q*) - sigma_b^2
    is scanned on a log grid of q* in [1e-6, 1e6] (40 points per decade) and every sign change is
    refined by Brent's method. Fixed sigma_b^2 = 0: besides finite roots (sigmoid has one at
    q* = 4.19), an activation with phi(0) = 0 has the degenerate point q* = 0, sigma_w^2 =
    1 / E[phi'(0)^2] (one-sided limits averaged at a kink: SELU's 2 / (lambda^2 (1 + alpha^2))).
    It is returned (kind "degenerate") when the length map approaches 0 from above (tanh, erf,
    ELU, SELU; q^l ~ 1 / l for tanh), and refused when q moves away from 0 (GELU, SiLU): then no
    critical point with sigma_b^2 = 0 exists, which is why a target q* is the better handle
    (Hayou et al. 2019, Sec. 3).

    SELU's self-normalising point (LeCun-normal weights, sigma_w^2 = 1, sigma_b^2 = 0; Klambauer et
    al. 2017) is the fixed point q* = 1 of the length map, but it is not critical: chi_1 = 1.0717
    there. The curve's point at q* = 1 is sigma_w^2 = 0.9332, sigma_b^2 = 0.0668.

    References
    ----------
    Hayou, Doucet & Rousseau, ICML 2019; Poole et al., NeurIPS 2016; Schoenholz et al., ICLR 2017;
    Klambauer et al., NeurIPS 2017.

    Examples
    --------
    >>> p = critical_point("tanh", q_star=1.0)
    >>> round(p.sigma_w2, 4), round(p.sigma_b2, 4), p.kind, round(p.q_slope, 3)
    (2.1533, 0.151, 'stable', 0.391)
    >>> critical_point("gelu", q_star=1.0).kind            # kept, flagged
    'unstable'
    >>> p = critical_point("gelu", q_star=1.0, stability="nearest")   # or moved
    >>> p.moved, round(p.q_star, 3), round(p.q_slope, 4), p.kind
    (True, 5.109, 0.99, 'stable')
    >>> round(critical_point("tanh", sigma_b2=0.05).sigma_w2, 4)   # Poole et al.'s sanity value
    1.761
    >>> critical_point("tanh", sigma_b2=0.0).kind
    'degenerate'
    """
    act = get_activation(activation)
    if stability not in STABILITY_POLICIES:
        raise ValueError(f"stability must be one of {', '.join(STABILITY_POLICIES)}; got {stability!r}")
    if q_star is not None and sigma_b2 is not None:
        raise ValueError("give either q_star or sigma_b2, not both")
    _check_derivative(act)
    if sigma_b2 is not None:
        return _at_bias(act, check_real("sigma_b2", sigma_b2, low=0, high=_VARIANCE_MAX))
    # beyond 1e100 the Gaussian expectations' products of variances overflow float64
    target = 1.0 if q_star is None else check_real("q_star", q_star, low=_Q_STAR_MIN, high=_VARIANCE_MAX)
    if not math.isfinite(target):
        raise ValueError(f"q_star must be a finite fixed point > 0, got {q_star!r}")
    p = _point(act, target, target)
    admissible = p.sigma_b2 >= 0.0
    unstable = p.kind == "unstable"
    if admissible and (not unstable or stability == "keep"):
        return p
    need_stable = stability == "nearest"
    moved = _point(act, _feasible_boundary(act, target, need_stable), target)
    why = []
    if not admissible:
        why.append(f"q* = {target:g} needs sigma_b^2 = {p.sigma_b2:.4g} < 0")
    if unstable and need_stable:
        why.append(f"q* = {target:g} is unstable (length-map slope {p.q_slope:.4g} > 1: a deviation from "
                   f"q* grows by that factor per layer)")
    which = "stable" if need_stable else "admissible"
    reason = (f"{'; '.join(why)}; moved to the nearest {which} point of the {act.name} edge of chaos, "
              f"q* = {moved.q_star:.4g} (slope {moved.q_slope:.4g})")
    return CriticalPoint(**{**moved.__dict__, "reason": reason})


def _at_bias(act: Activation, sb: float) -> CriticalPoint:
    """The critical point with sigma_b^2 = sb (see :func:`critical_point`)."""
    grid = _GRID
    _, sb2, _ = _curve(act, grid)
    if is_homogeneous(act):
        p = _point(act, 1.0, math.nan)
        if sb == 0:
            return p
        # chi_1 = 1 at the same sigma_w^2 for every q, but the length map q -> q + sigma_b^2 has no
        # fixed point: q grows by sigma_b^2 per layer (neutral, linear drift)
        return CriticalPoint(**{**p.__dict__, "q_star": math.inf, "sigma_b2": sb, "reason":
                                f"no finite fixed point: q grows by sigma_b^2 = {sb:g} per layer"})
    f = sb2 - sb
    f = np.where(np.abs(f) <= 1e-12 * np.maximum(grid, sb), 0.0, f)  # zero to round-off
    finite = np.isfinite(f)
    sign = np.sign(f)

    def gap(q):
        return float(_curve(act, np.asarray(q, dtype=float))[1]) - sb

    crossings = np.flatnonzero(finite[:-1] & finite[1:] & (sign[:-1] * sign[1:] < 0))
    roots = [_refine(gap, grid[i], grid[i + 1]) for i in crossings]
    if roots:
        pts = [_point(act, q, math.nan) for q in sorted(roots)]
        good = [p for p in pts if p.kind != "unstable"]
        return (good or pts)[0]
    phi0 = float(np.asarray(act.phi(np.array([0.0]))).ravel()[0])
    if sb == 0.0 and phi0 == 0.0 and np.all(f[finite] >= 0):
        # sigma_b^2(q*) > 0 for every q* > 0 (or 0 to round-off, where phi is linear near 0): only the
        # degenerate point q* = 0 is left; it attracts iff the length map lies below the diagonal
        d0 = float(np.asarray(expect_dphi_sq(act, 0.0)))
        sw0 = 1.0 / d0
        gap = 0.0
        for qs in (1e-4, 1e-3, 1e-2, 1e-1):  # the first q where q_map(q) - q is above round-off
            gap = sw0 * float(np.asarray(expect_phi_sq(act, qs))) - qs
            if abs(gap) > 1e-10 * qs:
                break
        if gap < 0:
            return CriticalPoint(activation=act.name, q_star=0.0, sigma_w2=sw0, sigma_b2=0.0, chi1=sw0 * d0,
                                 q_slope=1.0, kind="degenerate", target=math.nan,
                                 reason="sigma_b^2 = 0 leaves only q* = 0, which q approaches algebraically")
        raise ValueError(
            f"activation {act.name!r} has no critical point with sigma_b2 = 0: the length map at "
            f"sigma_w^2 = {sw0:.6g} (chi_1 = 1 at q = 0) moves q away from 0, and sigma_b^2(q*) > 0 for "
            "every finite q*; give sigma_b2 > 0 or a target q_star instead"
        )
    lo, hi = float(np.nanmin(sb2)), float(np.nanmax(sb2))
    raise ValueError(
        f"activation {act.name!r} has no critical point with sigma_b2 = {sb:g}: on its edge of chaos "
        f"sigma_b^2 ranges over [{lo:.4g}, {hi:.4g}] for q* in [{_Q_LO:g}, {_Q_HI:g}]; give a target q_star"
    )
