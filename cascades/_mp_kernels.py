"""Numba kernels of :mod:`cascades.messages` (arrays in, arrays out, no validation).

Every kernel takes CSR arrays and preallocated buffers, writes its outputs in
place and trusts its caller (:mod:`cascades.messages`) for every check.

Notation shared by the kernels
------------------------------
* A *lumped count distribution* with cut c >= 1 is a float array ``dist[0..c]``
  where ``dist[a]`` (a < c) is P[S = a] and ``dist[c]`` is P[S >= c]: once the
  response F(m, k) is constant for m >= c, counts above c need not be told
  apart (for a threshold model c is the threshold, so only P[S >= M] is kept).
* ``f[0..c]`` is the response table of one node, F(m, k) for m < c and the
  common value F(m, k), m >= c, in ``f[c]``. A node with c = 0 has a constant
  response f[0].
* ``value`` of a set of independent Bernoulli(q_t) messages is E f[min(S, c)],
  S their sum (a Poisson-binomial count).
"""

from __future__ import annotations

import numba
import numpy as np

__all__: list[str] = []


# ---------------------------------------------------------------------------
# Poisson-binomial values with leave-one-out
# ---------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _add_message(dist, off, c, top, q):
    """Add one Bernoulli(q) to the lumped count distribution ``dist[off:off + c + 1]`` in place.

    ``top`` is the largest index that may hold mass; returns the new one.
    Every operation is a convex combination of nonnegative numbers (stable).
    (Kernels pass base arrays and offsets, never slices: a slice per node
    costs more than the arithmetic.)
    """
    p = 1.0 - q
    new_top = top + 1 if top < c else c
    a = new_top
    if a == c:
        dist[off + c] += q * dist[off + c - 1]
        a = c - 1
    while a >= 1:
        dist[off + a] = p * dist[off + a] + q * dist[off + a - 1]
        a -= 1
    dist[off] *= p
    return new_top


@numba.njit(cache=True, inline="always")
def _full_value(qin, k, c, ftab, fo, dist):
    """E f[min(S, c)] for S the sum of Bernoulli(qin[0..k-1]), f = ftab[fo:]; O(k c)."""
    if c == 0:
        return ftab[fo]
    for a in range(c + 1):
        dist[a] = 0.0
    dist[0] = 1.0
    top = 0
    for t in range(k):
        top = _add_message(dist, 0, c, top, qin[t])
    acc = 0.0
    for a in range(top + 1):
        acc += dist[a] * ftab[fo + a]
    return acc


@numba.njit(cache=True, inline="always")
def _values_scan(qin, k, c, ftab, fo, hbuf, pre, loo):
    """Full value and leave-one-out values by a prefix sweep and a suffix value table.

    H[s, a] = E f[min(a + S_{s..k-1}, c)] (the value still to come when the
    first s messages have put a into the count) is built backwards,
    H[s, a] = (1 - q_s) H[s+1, a] + q_s H[s+1, min(a+1, c)]; then the value
    without message t is sum_a pre_t[a] H[t+1, a], pre_t the lumped
    distribution of messages 0..t-1, built forwards. O(k c) time, (k+1)(c+1)
    scratch. Needs c >= 1. Returns the full value H[0, 0].
    """
    w = c + 1
    base = k * w
    for a in range(w):
        hbuf[base + a] = ftab[fo + a]
    for s in range(k - 1, -1, -1):
        q = qin[s]
        p = 1.0 - q
        row = s * w
        nxt = row + w
        for a in range(c):
            hbuf[row + a] = p * hbuf[nxt + a] + q * hbuf[nxt + a + 1]
        hbuf[row + c] = hbuf[nxt + c]
    for a in range(w):
        pre[a] = 0.0
    pre[0] = 1.0
    top = 0
    for t in range(k):
        row = (t + 1) * w
        acc = 0.0
        for a in range(top + 1):
            acc += pre[a] * hbuf[row + a]
        loo[t] = acc
        top = _add_message(pre, 0, c, top, qin[t])
    return hbuf[0]


@numba.njit(cache=True, inline="always")
def _values_cut1(qin, k, ftab, fo, loo):
    """The scan for c = 1 (threshold 1, independent cascade): P[S = 0] by prefix and suffix products.

    Without message t, P[S = 0] = prod_{s<t} (1 - q_s) prod_{s>t} (1 - q_s):
    the suffix products are stored in ``loo`` first. O(k), no division.
    """
    f0 = ftab[fo]
    f1 = ftab[fo + 1]
    acc = 1.0
    for s in range(k - 1, -1, -1):
        loo[s] = acc  # prod_{s' > s} (1 - q_s')
        acc *= 1.0 - qin[s]
    full = f0 * acc + f1 * (1.0 - acc)
    prefix = 1.0
    for t in range(k):
        none = prefix * loo[t]
        loo[t] = f0 * none + f1 * (1.0 - none)
        prefix *= 1.0 - qin[t]
    return full


@numba.njit(cache=True)
def _values_split(qin, k, c, ftab, fo, dbuf, lo, hi, phase, tops, loo):
    """Leave-one-out values by divide and conquer (the all-but-one products trick).

    For a segment [l, h) of the messages, the distribution of all messages
    outside it is kept at the segment's depth; a child segment adds the
    messages of its sibling to that distribution. A leaf's distribution is
    the one without its message. O(k c log k) time, O(c log k) memory
    (``dbuf`` holds one distribution per depth). Needs c >= 1 and k >= 1.
    """
    w = c + 1
    depth = 0
    lo[0] = 0
    hi[0] = k
    phase[0] = 0
    for a in range(w):
        dbuf[a] = 0.0
    dbuf[0] = 1.0
    tops[0] = 0
    while depth >= 0:
        l = lo[depth]
        h = hi[depth]
        base = depth * w
        if h - l == 1:
            acc = 0.0
            for a in range(tops[depth] + 1):
                acc += dbuf[base + a] * ftab[fo + a]
            loo[l] = acc
            depth -= 1
            continue
        if phase[depth] == 2:
            depth -= 1
            continue
        mid = (l + h) // 2
        child = base + w
        for a in range(w):
            dbuf[child + a] = dbuf[base + a]
        top = tops[depth]
        if phase[depth] == 0:  # the left child [l, mid) gets the messages of [mid, h)
            for t in range(mid, h):
                top = _add_message(dbuf, child, c, top, qin[t])
            phase[depth] = 1
            nl, nh = l, mid
        else:  # the right child [mid, h) gets the messages of [l, mid)
            for t in range(l, mid):
                top = _add_message(dbuf, child, c, top, qin[t])
            phase[depth] = 2
            nl, nh = mid, h
        depth += 1
        lo[depth] = nl
        hi[depth] = nh
        phase[depth] = 0
        tops[depth] = top


@numba.njit(cache=True, inline="always")
def node_values(qin, k, c, ftab, fo, hbuf, pre, dbuf, stack, loo, want_loo):
    """Full value of a node and, if ``want_loo``, its k leave-one-out values.

    Uses O(k) prefix and suffix products for c = 1, the O(k c) scan when
    (k + 1)(c + 1) fits in ``hbuf``, the O(k c log k) divide and conquer
    otherwise. ``stack`` is int64 (4, depth) scratch for the latter.
    """
    if c == 0:
        if want_loo:
            for t in range(k):
                loo[t] = ftab[fo]
        return ftab[fo]
    if not want_loo or k == 0:
        return _full_value(qin, k, c, ftab, fo, pre)
    if c == 1:
        return _values_cut1(qin, k, ftab, fo, loo)
    if (k + 1) * (c + 1) <= hbuf.size:
        return _values_scan(qin, k, c, ftab, fo, hbuf, pre, loo)
    _values_split(qin, k, c, ftab, fo, dbuf, stack[0], stack[1], stack[2], stack[3], loo)
    return _full_value(qin, k, c, ftab, fo, pre)


# ---------------------------------------------------------------------------
# One synchronous sweep of the message-passing equations
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def sweep_undirected(
    indptr, rev, in_weight, node_cut, node_foff, ftab, rho0, q_old, q_new, marginal,
    qin, loo, hbuf, pre, dbuf, stack,
):  # fmt: skip
    """One synchronous update of all messages, stored in *incoming* layout; marginals of all nodes.

    ``q[x]`` for the CSR entry x = (i -> l) of row i is the message l -> i,
    so node i reads its incoming messages in row order (``in_weight[x]`` is
    the factor of that message) and writes its outgoing message to l at
    ``rev[x]``, the entry (l -> i) of row l: one random write per message
    instead of random reads. The message i -> l is
    rho0 + (1 - rho0) value(i without the message from l); ``marginal[i]``
    uses all incoming messages. Returns (max |q_new - q_old|, sum of the
    marginals).
    """
    n = indptr.size - 1
    total = 0.0
    for i in range(n):
        a0 = indptr[i]
        k = indptr[i + 1] - a0
        c = node_cut[i]
        fo = node_foff[i]
        for t in range(k):
            qin[t] = in_weight[a0 + t] * q_old[a0 + t]
        full = node_values(qin, k, c, ftab, fo, hbuf, pre, dbuf, stack, loo, True)
        m = min(1.0, rho0 + (1.0 - rho0) * full)  # a probability; round-off may pass 1 by an ulp
        marginal[i] = m
        total += m
        for t in range(k):
            q_new[rev[a0 + t]] = min(1.0, rho0 + (1.0 - rho0) * loo[t])
    maxdiff = 0.0
    for x in range(q_new.size):
        d = abs(q_new[x] - q_old[x])
        if d > maxdiff:
            maxdiff = d
    return maxdiff, total


@numba.njit(cache=True)
def sweep_directed(
    in_indptr, in_src, in_weight, node_cut, node_foff, ftab, rho0, p_old, p_new,
    qin, pre,
):  # fmt: skip
    """p_new[i] = rho0 + (1 - rho0) value(i), in-messages in_weight[e] p_old[in_src[e]].

    Returns (max |p_new - p_old|, sum of p_new).
    """
    n = in_indptr.size - 1
    maxdiff = 0.0
    total = 0.0
    for i in range(n):
        a0 = in_indptr[i]
        k = in_indptr[i + 1] - a0
        c = node_cut[i]
        fo = node_foff[i]
        for t in range(k):
            qin[t] = in_weight[a0 + t] * p_old[in_src[a0 + t]]
        v = min(1.0, rho0 + (1.0 - rho0) * _full_value(qin, k, c, ftab, fo, pre))
        d = abs(v - p_old[i])
        if d > maxdiff:
            maxdiff = d
        p_new[i] = v
        total += v
    return maxdiff, total


# ---------------------------------------------------------------------------
# Graph helpers: reverse-entry map, in-entry lists
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def reverse_entries(indptr, indices, rev):
    """rev[e] = the CSR entry (j -> i) paired with e = (i -> j) of a symmetric CSR.

    Rows must be sorted. Rows are visited in increasing i, so the entries
    (j -> i) of row j are met in their row order: the c-th copy of a repeated
    edge is paired with the c-th copy of its reverse. A self-loop entry is
    paired with itself. O(n + nnz).
    """
    n = indptr.size - 1
    cursor = indptr[:-1].copy()
    for i in range(n):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            rev[e] = cursor[j]
            cursor[j] += 1


# ---------------------------------------------------------------------------
# The linearised operator (cascade condition)
# ---------------------------------------------------------------------------


@numba.njit(cache=True)
def peel(in_indptr, in_list, indptr, src, dst, rev, alive):
    """Remove the messages that lie on no cycle of the linearised operator, in place.

    Message e = (i -> j) (``alive[e]`` on entry: its weight and its node's
    slope are positive) takes input from the alive messages into i other than
    rev[e] and gives output to the alive messages out of j other than rev[e]
    (``rev[e] = -1``: no exclusion, the directed formulation). A message
    without input or without output is removed, repeatedly. Node counters
    make this O(n + nnz): a node's out-messages are rescanned only when its
    number of alive in-messages drops to 1 or 0, and its in-messages only when
    its number of alive out-messages does. The spectral radius of the
    operator equals that of its restriction to the messages left.
    """
    n = indptr.size - 1
    nnz = src.size
    in_cnt = np.zeros(n, dtype=np.int64)
    out_cnt = np.zeros(n, dtype=np.int64)
    for e in range(nnz):
        if alive[e]:
            in_cnt[dst[e]] += 1
            out_cnt[src[e]] += 1
    stack = np.empty(nnz, dtype=np.int64)
    size = 0
    # first pass: every message
    for e in range(nnz):
        if alive[e]:
            r = rev[e]
            back = 1 if (r >= 0 and alive[r]) else 0
            if in_cnt[src[e]] - back <= 0 or out_cnt[dst[e]] - back <= 0:
                alive[e] = False
                in_cnt[dst[e]] -= 1
                out_cnt[src[e]] -= 1
                stack[size] = e
                size += 1
    in_level = in_cnt.copy()  # the counts at which each node was last scanned
    out_level = out_cnt.copy()
    while size > 0:
        size -= 1
        e = stack[size]
        j = dst[e]  # fewer inputs for the messages out of j
        if in_cnt[j] <= 1 and in_level[j] > in_cnt[j]:
            in_level[j] = in_cnt[j]
            for x in range(indptr[j], indptr[j + 1]):
                if alive[x]:
                    r = rev[x]
                    back = 1 if (r >= 0 and alive[r]) else 0
                    if in_cnt[j] - back <= 0:
                        alive[x] = False
                        in_cnt[dst[x]] -= 1
                        out_cnt[j] -= 1
                        stack[size] = x
                        size += 1
        i = src[e]  # fewer outputs for the messages into i
        if out_cnt[i] <= 1 and out_level[i] > out_cnt[i]:
            out_level[i] = out_cnt[i]
            for y in range(in_indptr[i], in_indptr[i + 1]):
                x = in_list[y]
                if alive[x]:
                    r = rev[x]
                    back = 1 if (r >= 0 and alive[r]) else 0
                    if out_cnt[i] - back <= 0:
                        alive[x] = False
                        in_cnt[i] -= 1
                        out_cnt[src[x]] -= 1
                        stack[size] = x
                        size += 1


@numba.njit(cache=True)
def linear_matvec(c_src, c_dst, c_back, c_weight, c_slope, x, node_sum, y):
    """y = (D B W) x on the core messages a = 0..N-1 (compact arrays, see below).

    (D B W x)_a = c_slope[a] (sum_{b into c_src[a]} c_weight[b] x[b] - c_weight[c_back[a]] x[c_back[a]]),
    with c_src / c_dst the nodes of message a, c_back[a] the core index of its
    reverse (-1: none or not in the core, or the directed formulation) and
    c_slope[a] the slope of its source node. ``node_sum`` is zeroed scratch
    of length n and is left zeroed. O(N).
    """
    N = c_src.size
    for a in range(N):
        node_sum[c_dst[a]] += c_weight[a] * x[a]
    for a in range(N):
        s = node_sum[c_src[a]]
        b = c_back[a]
        if b >= 0:
            s -= c_weight[b] * x[b]
        y[a] = c_slope[a] * s
    for a in range(N):
        node_sum[c_dst[a]] = 0.0


@numba.njit(cache=True)
def linear_dense(core, pos, in_indptr, in_list, src, rev, slope, weight, out):
    """The matrix of :func:`linear_matvec` on the core as a dense array ``out`` (N x N)."""
    for a in range(core.size):
        e = core[a]
        i = src[e]
        r = rev[e]
        for y in range(in_indptr[i], in_indptr[i + 1]):
            x = in_list[y]
            b = pos[x]
            if b >= 0 and x != r:
                out[a, b] += slope[i] * weight[x]
