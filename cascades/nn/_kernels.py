"""Numba kernels of the mean-field theory of random networks (arrays in, arrays out, no validation).

The public wrappers in :mod:`cascades.nn.meanfield` validate, decide which activations may use
these kernels (the registered ones, by :data:`CODES`), build the quadrature rule and allocate the
outputs. Conventions shared by the kernels:

* ``code`` is an integer from :data:`CODES`; the activations are re-implemented here exactly as
  in :mod:`cascades.nn.activations` (same branches at the kinks, so that a node landing on a kink
  gets the same value as in the numpy path).
* ``z, w`` is a quadrature rule of :func:`cascades.nn.activations.quadrature_rule` (trapezoid on
  equally spaced nodes, weights summing to 1) and ``wz = w * z``; its size is the wrapper's
  choice (a fixed ``n``, or the size needed at the point's q*, see :mod:`cascades.nn.meanfield`).
* Pre-activations are evaluated at x_j = sq * (cz + sf * z_j): sq = sqrt(q) and (cz, sf) =
  (0, 1) in 1-D, (c z_i, sqrt(1 - c^2)) for the inner sum of the 2-D rule (the Cholesky
  construction of Poole et al. 2016, eq. 5; eq. number unverified).
* For the activations built from exp(-|x|) (tanh, sigmoid, silu) a row of equally spaced x_j
  needs only two exponentials: exp(-s |x_j|) is a geometric sequence on each side of x = 0,
  generated outward from the node nearest to 0 so that it can only underflow, never overflow.
  Its relative error after m steps is below 2 m eps (about 1e-13 for m = 300), far below the
  quadrature error.
* Smooth activations satisfy phi(-x) = sp phi(x) + ap x + bp (and the like for phi', phi''):
  the 2-D rule's row n - 1 - i holds the negated nodes of row i, so half the rows suffice.
* The row sums are reassociated by LLVM (``fastmath`` reassoc/contract/nsz only: no assumptions
  about nan or inf), which changes them at round-off level only.
* Grids are processed row by row (rows: sigma_w; columns: sigma_b), and a solve is warm-started
  from the previous columns of the same row, so the result never depends on how rows are split.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .activations import _SELU_ALPHA, _SELU_LAMBDA

LINEAR = 0
RELU = 1
LEAKY_RELU = 2
TANH = 3
ERF = 4
SIGMOID = 5
HARDTANH = 6
GELU = 7
SILU = 8
SELU = 9
HEAVISIDE = 10

#: Registry name -> kernel code of the activations implemented here.
CODES = {
    "linear": LINEAR,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
    "tanh": TANH,
    "erf": ERF,
    "sigmoid": SIGMOID,
    "hardtanh": HARDTANH,
    "gelu": GELU,
    "silu": SILU,
    "selu": SELU,
    "heaviside": HEAVISIDE,
}

_LEAKY_SLOPE = 0.01  # the registry's leaky_relu (torch's default negative_slope)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_TINY = 1e-300  # below this the geometric sequence is set to 0 (no denormals)

STATUS_OK = 0
STATUS_NOT_CONVERGED = 1


@numba.njit(cache=True, nogil=True)
def _expit(x):
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@numba.njit(cache=True, nogil=True)
def phi_dphi(code, x):
    """(phi(x), phi'(x)) for one activation code, as in :mod:`cascades.nn.activations`."""
    if code == TANH:
        return math.tanh(x), 1.0 / math.cosh(x) ** 2
    if code == SIGMOID:
        s = _expit(x)
        return s, s * (1.0 - s)
    if code == SILU:
        s = _expit(x)
        return x * s, s * (1.0 + x * (1.0 - s))
    if code == GELU:
        nd = 0.5 * math.erfc(-x * _INV_SQRT_2)
        return x * nd, nd + x * math.exp(-0.5 * x * x) * _INV_SQRT_2PI
    if code == SELU:
        if x > 0.0:
            return _SELU_LAMBDA * x, _SELU_LAMBDA
        return _SELU_LAMBDA * _SELU_ALPHA * math.expm1(x), _SELU_LAMBDA * _SELU_ALPHA * math.exp(x)
    if code == ERF:
        return math.erf(x), _TWO_OVER_SQRT_PI * math.exp(-x * x)
    if code == HARDTANH:
        p = min(max(x, -1.0), 1.0)
        ax = abs(x)
        return p, (1.0 if ax < 1.0 else (0.5 if ax == 1.0 else 0.0))
    if code == RELU:
        return (x if x > 0.0 else 0.0), (1.0 if x > 0.0 else (0.0 if x < 0.0 else 0.5))
    if code == LEAKY_RELU:
        a = _LEAKY_SLOPE
        return (x if x > 0.0 else a * x), (1.0 if x > 0.0 else (a if x < 0.0 else 0.5 * (1.0 + a)))
    if code == HEAVISIDE:
        return (1.0 if x > 0.0 else 0.0), 0.0
    return x, 1.0  # LINEAR


@numba.njit(cache=True, nogil=True)
def _exp_abs_row(sq, cz, sf, z, lo, hi, scale, e):
    """e[j] ~ exp(-scale |x_j|) for j in [lo, hi); returns the first j with x_j >= 0."""
    j0 = lo
    if sf > 0.0:
        h = (z[z.size - 1] - z[0]) / (z.size - 1)
        j0 = min(max(int(math.ceil((-cz / sf - z[0]) / h)), lo), hi)
        while j0 > lo and sq * (cz + sf * z[j0 - 1]) >= 0.0:
            j0 -= 1
    while j0 < hi and sq * (cz + sf * z[j0]) < 0.0:
        j0 += 1
    dx = sq * sf * (z[hi - 1] - z[lo]) / (hi - 1 - lo) if hi - 1 > lo else 0.0
    rho = math.exp(-scale * dx)
    if j0 < hi:  # x >= 0 and increasing
        v = math.exp(-scale * sq * (cz + sf * z[j0]))
        for j in range(j0, hi):
            e[j] = v
            v *= rho
            if v < _TINY:
                v = 0.0
    if j0 > lo:  # x < 0, |x| increasing as j decreases
        v = math.exp(scale * sq * (cz + sf * z[j0 - 1]))
        for j in range(j0 - 1, lo - 1, -1):
            e[j] = v
            v *= rho
            if v < _TINY:
                v = 0.0
    return j0


@numba.njit(cache=True, nogil=True)
def fill_row(code, sq, cz, sf, z, lo, hi, phi, dphi, e):
    """phi[j], dphi[j] at x_j = sq * (cz + sf * z[j]) for j in [lo, hi) (``e``: scratch)."""
    if hi <= lo:
        return
    if code == TANH or code == SIGMOID or code == SILU:
        scale = 2.0 if code == TANH else 1.0
        j0 = _exp_abs_row(sq, cz, sf, z, lo, hi, scale, e)
        if code == TANH:
            for j in range(lo, hi):
                v = e[j]
                inv = 1.0 / (1.0 + v)
                t = (1.0 - v) * inv
                phi[j] = t if j >= j0 else -t
                dphi[j] = 4.0 * v * inv * inv
        else:
            for j in range(lo, hi):
                v = e[j]
                inv = 1.0 / (1.0 + v)
                s = inv if j >= j0 else v * inv
                ds = s * (1.0 - s)
                if code == SIGMOID:
                    phi[j] = s
                    dphi[j] = ds
                else:
                    x = sq * (cz + sf * z[j])
                    phi[j] = x * s
                    dphi[j] = s * (1.0 + x * (1.0 - s))
        return
    for j in range(lo, hi):
        p, d = phi_dphi(code, sq * (cz + sf * z[j]))
        phi[j] = p
        dphi[j] = d


@numba.njit(cache=True, nogil=True)
def _length_terms(code, q, z, w, wz, slope0, phi, dphi, e):
    """(E[phi^2], d/dq E[phi^2], E[phi'^2]) at q by the 1-D rule (slope by Stein's lemma)."""
    n = z.size
    sq = math.sqrt(q)
    fill_row(code, sq, 0.0, 1.0, z, 0, n, phi, dphi, e)
    e2 = 0.0
    s = 0.0
    d2 = 0.0
    for j in range(n):
        e2 += w[j] * phi[j] * phi[j]
        s += wz[j] * phi[j] * dphi[j]
        d2 += w[j] * dphi[j] * dphi[j]
    slope = s / sq if q > 0.0 else slope0
    return e2, slope, d2


@numba.njit(cache=True, nogil=True)
def q_star_grid(code, sw, sb, r, z, w, wz, slope0, zero_fixed, tol, max_iter, newton_iter, q_max, active,
                q_out, e2_out, slope_out, d2_out, status, n_eval):
    """Attracting fixed point q* of q -> sw / r E[phi(sqrt(q) z)^2] + sb on a grid of shape (rows, cols).

    The bracket and the safeguarded Newton iteration are those of the numpy reference
    (``cascades.nn.meanfield._q_star``): lo = sb, hi = max(2 sb, 1) expanded by 16 until
    g(hi) < 0 (q* = inf past ``q_max * max(1, sw / r, sb)``), Newton inside [lo, hi] with
    bisection as the fallback, stopping at relative tolerance ``tol``. Where sb = 0 and
    ``zero_fixed`` (phi(0) = 0, so q = 0 is a fixed point) with slope sw / r * slope0 < 1 there,
    q* = 0 exactly; at slope exactly 1 (where Newton only creeps towards 0) the tolerance is
    absolute, tol * max(q, 1).
    Warm start: the linear extrapolation of the two previous columns of the row is evaluated
    first; if g < 0 there it is the upper end of the bracket and Newton starts from it, else it
    raises the lower end and one Newton step from it is tried as the upper end. Only points with
    ``active`` true are solved (the others are left as they are and break the warm start).
    Writes q*, E[phi^2], d/dq E[phi^2] and E[phi'^2] from the last evaluation (within
    tol * q* of q*; nan where q* = inf), a status and the number of 1-D evaluations per point.
    """
    n = z.size
    phi = np.empty(n)
    dphi = np.empty(n)
    e = np.empty(n)
    rows, cols = sw.shape
    for i in range(rows):
        p1 = np.nan
        p2 = np.nan
        for j in range(cols):
            if not active[i, j]:
                p1 = np.nan
                p2 = np.nan
                continue
            a = sw[i, j] / r
            b = sb[i, j]
            status[i, j] = STATUS_OK
            at_zero = b == 0.0 and zero_fixed
            if at_zero and a * slope0 < 1.0:
                # q = 0 is fixed and attracting, and the iteration from q = sb = 0 never leaves it
                e2, sl, d2 = _length_terms(code, 0.0, z, w, wz, slope0, phi, dphi, e)
                n_eval[i, j] += 1
                q_out[i, j] = 0.0
                e2_out[i, j] = e2
                slope_out[i, j] = sl
                d2_out[i, j] = d2
                p2 = p1
                p1 = 0.0
                continue
            floor = 1.0 if at_zero and a * slope0 == 1.0 else 1e-300
            guess = p1 if math.isnan(p2) else 2.0 * p1 - p2
            lo = b
            x = np.nan
            if guess > lo:  # false for nan
                # warm start: a guess with g < 0 is a valid upper end of the bracket already
                e2, sl, d2 = _length_terms(code, guess, z, w, wz, slope0, phi, dphi, e)
                n_eval[i, j] += 1
                g = a * e2 + b - guess
                dg = a * sl - 1.0
                if g < 0.0:
                    hi = guess
                    x = guess
                else:
                    lo = guess
                    # below q*: a Newton step overshoots to the right when the map is concave
                    x1 = guess - g / dg
                    if math.isfinite(x1) and x1 > lo:
                        e2, sl, d2 = _length_terms(code, x1, z, w, wz, slope0, phi, dphi, e)
                        n_eval[i, j] += 1
                        g = a * e2 + b - x1
                        dg = a * sl - 1.0
                        if g < 0.0:
                            hi = x1
                            x = x1
                        else:
                            lo = x1
            infinite = False
            if math.isnan(x):
                hi = max(2.0 * b, 1.0)
                while hi <= lo:
                    hi *= 16.0
                e2, sl, d2 = _length_terms(code, hi, z, w, wz, slope0, phi, dphi, e)
                n_eval[i, j] += 1
                g = a * e2 + b - hi
                dg = a * sl - 1.0
                while g >= 0.0:
                    lo = hi
                    hi *= 16.0
                    e2, sl, d2 = _length_terms(code, hi, z, w, wz, slope0, phi, dphi, e)
                    n_eval[i, j] += 1
                    g = a * e2 + b - hi
                    dg = a * sl - 1.0
                    if g >= 0.0 and hi > q_max * max(1.0, a, b):
                        infinite = True
                        break
                x = hi
            if infinite:
                q_out[i, j] = np.inf
                e2_out[i, j] = np.nan
                slope_out[i, j] = np.nan
                d2_out[i, j] = np.nan
                p1 = np.nan
                p2 = np.nan
                continue
            have = True  # g, dg (and e2, sl, d2) at x are known
            converged = False
            for it in range(max_iter):
                if not have:
                    e2, sl, d2 = _length_terms(code, x, z, w, wz, slope0, phi, dphi, e)
                    n_eval[i, j] += 1
                    g = a * e2 + b - x
                    dg = a * sl - 1.0
                have = False
                if g >= 0.0:
                    lo = x
                else:
                    hi = x
                xn = x - g / dg
                if not (math.isfinite(xn) and lo <= xn <= hi and it < newton_iter):
                    # log-scale bisection while the bracket spans orders of magnitude (as _q_star)
                    xn = math.sqrt(lo) * math.sqrt(hi) if 0.0 < 4.0 * lo < hi else 0.5 * (lo + hi)
                scale = max(abs(xn), floor)
                done = abs(xn - x) <= tol * scale and abs(g) <= 1e3 * tol * scale
                done = done or (hi - lo) <= tol * max(hi, 1e-300)
                x = xn
                if done:
                    converged = True
                    break
            if not converged:
                status[i, j] = STATUS_NOT_CONVERGED
                q_out[i, j] = np.nan
                p1 = np.nan
                p2 = np.nan
                continue
            # the moments of the last evaluation, within tol * q* of q*
            q_out[i, j] = x
            e2_out[i, j] = e2
            slope_out[i, j] = sl
            d2_out[i, j] = d2
            p2 = p1
            p1 = x


# (sp, ap, bp, sd, bd, s2): phi(-x) = sp phi(x) + ap x + bp, phi'(-x) = sd phi'(x) + bd,
# phi''(-x) = s2 phi''(x). Only for smooth activations (no node can sit on a kink).
_MIRROR = np.zeros((11, 6))
_MIRROR[TANH] = (-1.0, 0.0, 0.0, 1.0, 0.0, -1.0)
_MIRROR[ERF] = (-1.0, 0.0, 0.0, 1.0, 0.0, -1.0)
_MIRROR[SIGMOID] = (-1.0, 0.0, 1.0, 1.0, 0.0, -1.0)
_MIRROR[GELU] = (1.0, -1.0, 0.0, -1.0, 1.0, 1.0)
_MIRROR[SILU] = (1.0, -1.0, 0.0, -1.0, 1.0, 1.0)
_MIRRORED = np.zeros(11, dtype=np.bool_)
_MIRRORED[[TANH, ERF, SIGMOID, GELU, SILU]] = True


@numba.njit(cache=True, nogil=True)
def phi_derivs(code, x):
    """(phi, phi', phi'') at x; phi'' is the classical one (0 away from kinks) for kinked codes."""
    if code == TANH:
        t = math.tanh(x)
        d = 1.0 / math.cosh(x) ** 2
        return t, d, -2.0 * t * d
    if code == SIGMOID or code == SILU:
        s = _expit(x)
        ds = s * (1.0 - s)
        if code == SIGMOID:
            return s, ds, ds * (1.0 - 2.0 * s)
        return x * s, s * (1.0 + x * (1.0 - s)), ds * (2.0 + x * (1.0 - 2.0 * s))
    if code == GELU:
        nd = 0.5 * math.erfc(-x * _INV_SQRT_2)
        pdf = math.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return x * nd, nd + x * pdf, (2.0 - x * x) * pdf
    if code == ERF:
        d = _TWO_OVER_SQRT_PI * math.exp(-x * x)
        return math.erf(x), d, -2.0 * x * d
    p, d = phi_dphi(code, x)
    if code == SELU and x <= 0.0:
        return p, d, d
    return p, d, 0.0


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz"})
def _exp_region_sums(code, sign, anchor, m0, ja, jb, step, pw, w, sq, cz, sf, z):
    """Sums over j in [ja, jb) of w_j (phi, phi', phi'') from v_j = anchor * pw[|j - m0|] = exp(-s|x_j|).

    ``sign`` is +1 on the side x >= 0 (j increasing away from the anchor) and -1 on the side
    x < 0 (j decreasing away from it); ``step`` is +1 / -1 accordingly.
    """
    g = 0.0
    d = 0.0
    dd = 0.0
    if code == TANH:
        for j in range(ja, jb):
            v = anchor * pw[(j - m0) * step]
            inv = 1.0 / (1.0 + v)
            t = sign * (1.0 - v) * inv
            dp = 4.0 * v * inv * inv
            g += w[j] * t
            d += w[j] * dp
            dd += w[j] * (-2.0 * t * dp)
    elif code == SIGMOID:
        for j in range(ja, jb):
            v = anchor * pw[(j - m0) * step]
            inv = 1.0 / (1.0 + v)
            s = inv if sign > 0 else v * inv
            ds = s * (1.0 - s)
            g += w[j] * s
            d += w[j] * ds
            dd += w[j] * (ds * (1.0 - 2.0 * s))
    else:  # SILU
        for j in range(ja, jb):
            v = anchor * pw[(j - m0) * step]
            inv = 1.0 / (1.0 + v)
            s = inv if sign > 0 else v * inv
            ds = s * (1.0 - s)
            x = sq * (cz + sf * z[j])
            g += w[j] * (x * s)
            d += w[j] * (s * (1.0 + x * (1.0 - s)))
            dd += w[j] * (ds * (2.0 + x * (1.0 - 2.0 * s)))
    return g, d, dd


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz"})
def _direct_row_sums(code, sq, cz, sf, z, w, lo, hi):
    g = 0.0
    d = 0.0
    dd = 0.0
    for j in range(lo, hi):
        p, dp, d2p = phi_derivs(code, sq * (cz + sf * z[j]))
        g += w[j] * p
        d += w[j] * dp
        dd += w[j] * d2p
    return g, d, dd


@numba.njit(cache=True, nogil=True)
def row_sums(code, sq, cz, sf, z, w, lo, hi, pw, scale, dx):
    """(sum w_j phi(x_j), sum w_j phi'(x_j), sum w_j phi''(x_j)) over j in [lo, hi), x_j = sq (cz + sf z_j).

    For tanh, sigmoid and silu ``pw[m] = exp(-scale dx)^m`` (dx the spacing of the x_j) turns the
    row into two exponentials and a geometric sequence; other codes are evaluated node by node.
    """
    if hi <= lo:
        return 0.0, 0.0, 0.0
    if (code == TANH or code == SIGMOID or code == SILU) and dx > 0.0:
        # first node with x_j >= 0: from the spacing, then corrected on the exact x_j
        h = (z[z.size - 1] - z[0]) / (z.size - 1)
        j0 = min(max(int(math.ceil((-cz / sf - z[0]) / h)), lo), hi)
        while j0 > lo and sq * (cz + sf * z[j0 - 1]) >= 0.0:
            j0 -= 1
        while j0 < hi and sq * (cz + sf * z[j0]) < 0.0:
            j0 += 1
        g = 0.0
        d = 0.0
        dd = 0.0
        if j0 < hi:
            a = math.exp(-scale * sq * (cz + sf * z[j0]))
            g, d, dd = _exp_region_sums(code, 1.0, a, j0, j0, hi, 1, pw, w, sq, cz, sf, z)
        if j0 > lo:
            a = math.exp(scale * sq * (cz + sf * z[j0 - 1]))
            g2, d2, dd2 = _exp_region_sums(code, -1.0, a, j0 - 1, lo, j0, -1, pw, w, sq, cz, sf, z)
            g += g2
            d += d2
            dd += dd2
        return g, d, dd
    return _direct_row_sums(code, sq, cz, sf, z, w, lo, hi)


@numba.njit(cache=True, nogil=True)
def kernel_pair(code, sq, c, zo, wo, zi, wi, jlo, jhi, wrow, zrow, phi1, dphi1, d2phi1, pw):
    """E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)], E[phi''(u1) phi''(u2)] at q11 = q22 = sq^2, q12 = c sq^2.

    The 2-D rule with the Cholesky construction: outer nodes ``zo, wo`` (u1 = sq zo), inner
    nodes ``zi, wi`` (u2 = sq (c zo_i + sqrt(1 - c^2) zi_j)); both rules symmetric about 0, the
    inner one may be coarser (the inner integrand varies on the scale 1 / (sq sqrt(1 - c^2))).
    ``phi1, dphi1, d2phi1`` hold the derivatives at the outer nodes; the inner sum of row i runs
    over j in [jlo[i], jhi[i]) (the nodes whose product weight is not negligible), and
    ``wrow, zrow`` are the sums of wi_j and wi_j zi_j over that range. For smooth activations
    with a mirror relation (:data:`_MIRROR`) row n - 1 - i follows from row i, since its nodes
    are the negated ones. ``pw`` is scratch of length >= len(zi).
    """
    n = zo.size
    m = zi.size
    sf = math.sqrt(max(0.0, 1.0 - c * c))
    scale = 2.0 if code == TANH else 1.0
    dx = sq * sf * (zi[m - 1] - zi[0]) / (m - 1)
    rho = math.exp(-scale * dx)
    v = 1.0
    for j in range(m):
        pw[j] = v
        v *= rho
        if v < _TINY:
            v = 0.0
    mirror = _MIRRORED[code]
    sp, ap, bp, sd, bd, s2 = _MIRROR[code]
    k = 0.0
    dk = 0.0
    d2k = 0.0
    last = (n - 1) // 2 if mirror else n - 1
    for i in range(last + 1):
        lo = jlo[i]
        hi = jhi[i]
        if hi <= lo:
            continue
        cz = c * zo[i]
        g, d, dd = row_sums(code, sq, cz, sf, zi, wi, lo, hi, pw, scale, dx)
        k += wo[i] * phi1[i] * g
        dk += wo[i] * dphi1[i] * d
        d2k += wo[i] * d2phi1[i] * dd
        ii = n - 1 - i
        if mirror and ii != i:
            wsum = wrow[i]
            xs = sq * (cz * wsum + sf * zrow[i])  # sum_j w_j x_j of row i
            k += wo[ii] * phi1[ii] * (sp * g + ap * xs + bp * wsum)
            dk += wo[ii] * dphi1[ii] * (sd * d + bd * wsum)
            d2k += wo[ii] * d2phi1[ii] * (s2 * dd)
    return k, dk, d2k


@numba.njit(cache=True, nogil=True)
def inner_index(sizes, in_slope, in_offset, sq, c):
    """Smallest k with sizes[k] >= in_slope sq sqrt(1 - c^2) + in_offset (the last index if none)."""
    need = in_slope * sq * math.sqrt(max(0.0, 1.0 - c * c)) + in_offset
    k = 0
    while k < sizes.size - 1 and sizes[k] < need:
        k += 1
    return k


@numba.njit(cache=True, nogil=True)
def c_star_grid(code, sw, sb, q, den, active, z, w, zi_all, wi_all, sizes, jlo_all, jhi_all, wrow_all,
                zrow_all, in_slope, in_offset, tol, max_iter, newton_iter, c_out, dk_out, status, n_eval,
                early):
    """Stable fixed point c* of c -> (sw E[phi(u1) phi(u2)] + sb) / den at equal lengths q.

    Safeguarded iteration on f(c) = c_map(c) - c in the bracket [0, 1] with the stopping rule of
    the numpy reference (``cascades.nn.meanfield._c_star``); f is convex on [0, 1] with
    f(0) >= 0, f' = sw q E[phi' phi'] / den - 1 and f'' = sw q^2 E[phi'' phi''] / den (Price's
    theorem). Halley steps (Newton where phi'' is 0, i.e. kinked activations) inside the bracket,
    bisection as the fallback. The first evaluation is f(0) from the factorised rule
    E[phi(u1) phi(u2)] = E[phi]^2; the next iterate is the extrapolation of the previous solved
    columns of the row (quadratic from three, linear from two) when it lies in the bracket.
    For smooth activations a Halley step of size <= 1e-6 (1 - c) whose predicted error
    |step|^3 (f''/f')^2 is <= ``tol`` is accepted without evaluating again. Only points with
    ``active`` true are solved. Writes c*, E[phi'(u1) phi'(u2)] at c* and the number of 2-D
    evaluations per point.

    The outer rule is ``z, w``; each evaluation takes the inner rule k = :func:`inner_index` of
    the ladder ``zi_all[k, :sizes[k]], wi_all[k, :sizes[k]]`` (sizes increasing, the last one at
    most len(z)) with its ranges ``jlo_all[k], jhi_all[k], wrow_all[k], zrow_all[k]`` (see
    :func:`kernel_pair`); ``in_slope = 0`` and one entry equal to ``z, w`` give the square rule.
    """
    n = z.size
    phi1 = np.empty(n)
    dphi1 = np.empty(n)
    d2phi1 = np.empty(n)
    pw = np.empty(max(n, zi_all.shape[1]))
    smooth = _MIRRORED[code]  # phi'' is the true second derivative: Halley's error bound holds

    rows, cols = sw.shape
    for i in range(rows):
        p1 = np.nan
        p2 = np.nan
        p3 = np.nan
        for j in range(cols):
            n_eval[i, j] = 0
            if not active[i, j]:
                p1 = np.nan
                p2 = np.nan
                p3 = np.nan
                continue
            s = sw[i, j]
            b = sb[i, j]
            qq = q[i, j]
            dd = den[i, j]
            sq = math.sqrt(qq)
            e1 = 0.0
            d1 = 0.0
            for m in range(n):
                p, dp, d2p = phi_derivs(code, sq * z[m])
                phi1[m] = p
                dphi1[m] = dp
                d2phi1[m] = d2p
                e1 += w[m] * p
                d1 += w[m] * dp
            if math.isnan(p2):
                guess = p1
            elif math.isnan(p3):
                guess = 2.0 * p1 - p2
            else:
                guess = 3.0 * p1 - 3.0 * p2 + p3
            c = 0.0
            lo = 0.0
            hi = 1.0
            converged = False
            status[i, j] = STATUS_OK
            for it in range(max_iter):
                if c == 0.0:
                    k = e1 * e1
                    dk = d1 * d1
                    d2k = 0.0
                else:
                    t = inner_index(sizes, in_slope, in_offset, sq, c)
                    mi = sizes[t]
                    k, dk, d2k = kernel_pair(
                        code, sq, c, z, w, zi_all[t, :mi], wi_all[t, :mi], jlo_all[t], jhi_all[t],
                        wrow_all[t], zrow_all[t], phi1, dphi1, d2phi1, pw,
                    )
                    n_eval[i, j] += 1
                f = (s * k + b) / dd - c
                df = s * dk * qq / dd - 1.0
                d2f = s * d2k * qq * qq / dd
                if f >= 0.0:
                    lo = c
                else:
                    hi = c
                den_h = 2.0 * df * df - f * d2f
                cn = c - 2.0 * f * df / den_h if den_h > 0.0 else np.nan
                halley = math.isfinite(cn) and lo <= cn <= hi and it < newton_iter
                if not halley:
                    cn = c - f / df
                if not (math.isfinite(cn) and lo <= cn <= hi and it < newton_iter):
                    cn = 0.5 * (lo + hi)
                done = (abs(cn - c) <= tol and abs(f) <= 1e3 * tol) or (hi - lo <= tol) or f == 0.0
                if f == 0.0:
                    cn = c
                if done:
                    c_out[i, j] = cn
                    dk_out[i, j] = dk
                    converged = True
                    break
                step = cn - c
                if smooth and halley and c != 0.0 and abs(step) <= early * (1.0 - c) and (
                    abs(step) ** 3 * (d2f / df) ** 2 <= tol
                ):
                    # Halley's error after this step is about |step|^3 (f''/f')^2 <= tol: accept cn
                    # without another 2-D evaluation, moving E[phi' phi'] to cn by its slope
                    # q E[phi'' phi'']. The map's k-th derivative grows like (1 - c)^(1/2 - k)
                    # near c = 1 (an arcsine-like singularity for steep phi), so steps are measured
                    # against 1 - c: the neglected terms are O((step / (1 - c))^2) <= 1e-12.
                    c_out[i, j] = cn
                    dk_out[i, j] = dk + qq * d2k * step
                    converged = True
                    break
                if it == 0 and lo < guess < hi:
                    cn = guess
                c = cn
            if not converged:
                status[i, j] = STATUS_NOT_CONVERGED
                c_out[i, j] = np.nan
                dk_out[i, j] = np.nan
                p1 = np.nan
                p2 = np.nan
                p3 = np.nan
                continue
            p3 = p2
            p2 = p1
            p1 = c_out[i, j]
