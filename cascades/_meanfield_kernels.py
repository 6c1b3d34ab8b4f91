"""Numba kernels of the mean-field solvers (arrays in, arrays out, no validation).

The public wrappers in :mod:`cascades.meanfield` validate the input, build the
tables and allocate the outputs. Conventions shared by the kernels:

* ``edge[k]`` is the edge-biased degree distribution k p_k / z, ``node[k]`` the
  degree distribution p_k, both indexed by the degree k = 0..K.
* ``F[k, m]`` is the response F(m, k) for 0 <= m <= k (entries with m > k are
  never read).
* The maps of the local tree approximation (Gleeson & Cahalane 2007) are

      G(q) = sum_k edge[k] sum_{m<k}  Bin(m; k-1, q) F[k, m]
      H(q) = sum_k node[k] sum_{m<=k} Bin(m; k,   q) F[k, m]

  and the iteration is q <- rho0 + (1 - rho0) G(q).
"""

from __future__ import annotations

import math

import numba
import numpy as np

_EPS = 2.220446049250313e-16


@numba.njit(cache=True)
def pascal_maps(q, edge, node, F, K, out):
    """G(q) and H(q) for a dense response table, in O(K^2) (out[0] = G, out[1] = H).

    The binomial rows Bin(.; n, q), n = 0..K, are built by Pascal's rule
    row_{n+1}[m] = (1 - q) row_n[m] + q row_n[m - 1], which is stable (sums of
    nonnegative terms) and never underflows to a wrong value. Row n serves
    H's degree n and G's degree n + 1.
    """
    row = np.zeros(K + 1)
    row[0] = 1.0
    p = 1.0 - q
    g = 0.0
    h = 0.0
    for n in range(K + 1):
        if n > 0:
            for m in range(n, 0, -1):
                row[m] = p * row[m] + q * row[m - 1]
            row[0] = p * row[0]
        if node[n] != 0.0:
            s = 0.0
            for m in range(n + 1):
                s += row[m] * F[n, m]
            h += node[n] * s
        if n < K and edge[n + 1] != 0.0:
            s = 0.0
            for m in range(n + 1):
                s += row[m] * F[n + 1, m]
            g += edge[n + 1] * s
    out[0] = g
    out[1] = h


@numba.njit(cache=True)
def _pascal_g(q, edge, F, K, row):
    """G(q) only, for the window kernel (``row`` is scratch of length K + 1)."""
    row[:] = 0.0
    row[0] = 1.0
    p = 1.0 - q
    g = 0.0
    for n in range(K):
        if n > 0:
            for m in range(n, 0, -1):
                row[m] = p * row[m] + q * row[m - 1]
            row[0] = p * row[0]
        w = edge[n + 1]
        if w != 0.0:
            s = 0.0
            for m in range(n + 1):
                s += row[m] * F[n + 1, m]
            g += w * s
    return g


@numba.njit(cache=True)
def _pascal_h(q, node, F, K, row):
    row[:] = 0.0
    row[0] = 1.0
    p = 1.0 - q
    h = 0.0
    for n in range(K + 1):
        if n > 0:
            for m in range(n, 0, -1):
                row[m] = p * row[m] + q * row[m - 1]
            row[0] = p * row[0]
        w = node[n]
        if w != 0.0:
            s = 0.0
            for m in range(n + 1):
                s += row[m] * F[n, m]
            h += w * s
    return h


@numba.njit(cache=True)
def converged_step(d, prev_d, tol):
    """The stopping rule shared by every fixed-point iteration of the package.

    ``d`` is the last step |q_{n+1} - q_n|, ``prev_d`` the one before (negative
    if there was none). Converged when the step is at the rounding level, or
    when it is below ``tol`` and the contraction estimate r = d / prev_d < 1
    bounds the remaining distance to the fixed point, d r / (1 - r), below
    ``tol`` too.
    """
    if d <= 16.0 * _EPS:
        return True
    if d < tol and prev_d > 0.0:
        r = d / prev_d
        if r < 1.0 and d * r / (1.0 - r) < tol:
            return True
    return False


@numba.njit(cache=True)
def window_solve(edge, node, K, F, rho0, tol, max_iter, q_out, rho_out, n_out, conv_out):
    """The fixed point reached from q_0 = rho0 for every (z, phi) pair of a grid.

    ``edge``, ``node``: (nz, Kmax + 1) tables, ``K``: (nz,) table ends;
    ``F``: (nphi, Kmax + 1, Kmax + 1) responses. Outputs have shape (nz, nphi).
    """
    nz = edge.shape[0]
    nphi = F.shape[0]
    row = np.zeros(edge.shape[1])
    for i in range(nz):
        Ki = K[i]
        for j in range(nphi):
            Fj = F[j]
            q = rho0
            prev_d = -1.0
            conv = False
            it = 0
            while it < max_iter:
                it += 1
                q_new = rho0 + (1.0 - rho0) * _pascal_g(q, edge[i], Fj, Ki, row)
                d = abs(q_new - q)
                q = q_new
                if converged_step(d, prev_d, tol):
                    conv = True
                    break
                prev_d = d
            q_out[i, j] = q
            rho_out[i, j] = rho0 + (1.0 - rho0) * _pascal_h(q, node[i], Fj, Ki, row)
            n_out[i, j] = it
            conv_out[i, j] = conv


@numba.njit(cache=True)
def band_pmf(n, q, lo, length, start, out):
    """Binomial pmf Bin(m; n_i, q) for m = lo_i .. lo_i + length_i - 1, row by row.

    Row i is written to ``out[start_i : start_i + length_i]``. Each row is built
    by the ratio recurrence outward from the point of the band nearest the
    mode, starting at 1, and then normalised by its sum: the band must hold all
    but a negligible part of the mass (the caller chooses it by Bernstein's
    inequality), and the normalisation removes every log-gamma round-off, so
    the values are accurate to a few ulps relative to the row maximum.
    """
    nrows = n.shape[0]
    for i in range(nrows):
        ni = n[i]
        a = lo[i]
        L = length[i]
        s0 = start[i]
        if q <= 0.0 or q >= 1.0 or ni == 0:
            target = 0 if q <= 0.0 else ni
            for t in range(L):
                out[s0 + t] = 1.0 if a + t == target else 0.0
            continue
        ratio = q / (1.0 - q)
        m0 = int(math.floor((ni + 1) * q))
        if m0 < a:
            m0 = a
        if m0 > a + L - 1:
            m0 = a + L - 1
        out[s0 + m0 - a] = 1.0
        v = 1.0
        for m in range(m0, a + L - 1):  # up: p(m+1) = p(m) (n - m)/(m + 1) q/(1 - q)
            v = v * (ni - m) / (m + 1) * ratio
            out[s0 + m + 1 - a] = v
        v = 1.0
        for m in range(m0, a, -1):  # down: p(m-1) = p(m) m / (n - m + 1) (1 - q)/q
            v = v * m / (ni - m + 1) / ratio
            out[s0 + m - 1 - a] = v
        tot = 0.0
        for t in range(L):
            tot += out[s0 + t]
        for t in range(L):
            out[s0 + t] /= tot


@numba.njit(cache=True)
def segment_dot(a, b, start, length, out):
    """out[i] = sum of a[j] b[j] over row i's segment."""
    for i in range(start.shape[0]):
        s = 0.0
        for t in range(start[i], start[i] + length[i]):
            s += a[t] * b[t]
        out[i] = s


@numba.njit(cache=True)
def lattice_sum_response(shift, weight, over_tail, cdf, nmax, out):
    """F(n) = P[theta <= X_1 + ... + X_n] for n = 0..nmax, X_i iid on a lattice.

    The law of X is ``weight[i]`` at lattice point ``shift[i]`` (0 <= shift < N)
    plus ``over_tail[r]`` = P[X >= r], r = 0..N, for the mass that jumps to or past
    the end N of the lattice. ``cdf[j]`` is P[theta <= j] for j = 0..N-1, and
    every sum >= N counts as activated (probability 1). Sums are tracked on
    0..N-1; the absorbed mass is accumulated directly (not as 1 - kept), so
    small F(n) keep their absolute accuracy. Stops early, filling 1.0, once the
    kept mass is below 1e-17. O(N * len(shift)) per n.
    """
    N = cdf.shape[0]
    d = np.zeros(N)
    nd = np.zeros(N)
    d[0] = 1.0
    absorbed = 0.0
    top = 0  # d is zero above index top
    for n in range(nmax + 1):
        if n > 0:
            # absorbed: mass at j that jumps to >= N
            add = 0.0
            for j in range(top + 1):
                if d[j] != 0.0:
                    add += d[j] * over_tail[N - j]
            new_top = top
            for i in range(shift.shape[0]):
                s = shift[i]
                w = weight[i]
                if w == 0.0:
                    continue
                hi = top
                if hi + s > N - 1:
                    hi = N - 1 - s
                for j in range(hi + 1):
                    nd[j + s] += w * d[j]
                if hi + s > new_top:
                    new_top = hi + s
            top = new_top
            for j in range(top + 1):  # nd is zero above top: copy and clear
                d[j] = nd[j]
                nd[j] = 0.0
            absorbed += add
        kept = 0.0
        val = absorbed
        for j in range(top + 1):
            kept += d[j]
            val += d[j] * cdf[j]
        out[n] = min(val, 1.0)
        if kept < 1e-17:
            for t in range(n + 1, nmax + 1):
                out[t] = 1.0
            return
