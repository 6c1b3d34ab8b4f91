"""Numba kernels of :mod:`cascades.distributions` (arrays in, arrays out, no validation).

The tree recursions run one frequency at a time: for every point x_l on the
unit circle the whole forest is swept once in post-order with scalar (complex)
messages, so memory stays O(n + max cut) whatever the tree, and the root
values are the generating function of the cascade size at x_l. The caller
inverts them with one real FFT.

Notation shared by the kernels
------------------------------
* ``order``: the nodes of a forest in post-order (children before parents);
  ``parent[i] = -1`` for a root; the children of i are
  ``ch_idx[ch_ptr[i]:ch_ptr[i + 1]]``; ``root_slot[r]`` numbers the roots.
* Threshold models: ``g[g_ptr[i] + m]`` (m = 0..cut[i]) is G_i(m), the
  probability that node i is active once m of its neighbours are
  (seed included: G_i(m) = p_i + (1 - p_i) F_i(m)); ``g[g_ptr[i] + cut[i]]``
  is the common value for every m >= cut[i] (a *lumped* table, as in
  :mod:`cascades._mp_kernels`).
* ``ext_q[ext_ptr[i]:ext_ptr[i + 1]]``: activation probabilities of
  neighbours outside the tree (deleted edges of the bp-tree approximation);
  they count towards m but not towards the size.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__: list[str] = []

#: Frequencies processed together by the threshold kernel (memory 3 n _BLOCK complex numbers).
_BLOCK = 32


@numba.njit(cache=True, nogil=True)
def _times_linear(poly, cut, a, b):
    """poly(y) <- poly(y) * (a y + b), lumped at ``cut`` (poly[cut] holds all powers >= cut)."""
    if cut == 0:
        poly[0] = (a + b) * poly[0]
        return
    top = (a + b) * poly[cut] + a * poly[cut - 1]
    for j in range(cut - 1, 0, -1):
        poly[j] = b * poly[j] + a * poly[j - 1]
    poly[0] = b * poly[0]
    poly[cut] = top


@numba.njit(cache=True, nogil=True)
def icm_tree_gf(order, parent, ch_ptr, ch_idx, root_slot, p_seed, w_up, w_down, xs, out_full, out_act):
    """Generating functions of the ICM cascade size on a forest, at the points ``xs``.

    ``w_up[i]``: probability that i activates its parent; ``w_down[i]``: that
    the parent activates i. Writes, for each root r (slot s = root_slot[r])
    and frequency l, the generating function of its component's size
    (``out_full[s, l]``) and its part where r is active (``out_act[s, l]``).
    """
    n = order.shape[0]
    B = np.empty(n, dtype=np.complex128)
    A0 = np.empty(n, dtype=np.complex128)
    As = np.empty(n, dtype=np.complex128)
    for li in range(xs.shape[0]):
        x = xs[li]
        for t in range(n):
            i = order[t]
            pb = 1.0 + 0.0j
            pa0 = 1.0 + 0.0j
            pas = 1.0 + 0.0j
            for e in range(ch_ptr[i], ch_ptr[i + 1]):
                c = ch_idx[e]
                pb *= B[c]
                pa0 *= A0[c]
                pas *= As[c]
            q = 1.0 - p_seed[i]
            pwf = q * pb  # i never active
            plfp = q * x * pa0  # i not active without its parent, activated by it
            pf = x * pas - plfp  # i active without its parent
            if parent[i] < 0:
                s = root_slot[i]
                out_full[s, li] *= pwf + pf
                out_act[s, li] *= pf
            else:
                wu = w_up[i]
                wd = w_down[i]
                B[i] = pwf + pf * (1.0 - wu)
                A0[i] = pwf * (1.0 - wd) + pf * (1.0 - wu) + plfp * wd
                As[i] = A0[i] + pf * wu


@numba.njit(cache=True, nogil=True)
def _times_linear_block(poly, cut, a, b):
    """poly[:, l] <- poly[:, l] * (a[l] y + b[l]) for every frequency l of the block, lumped at ``cut``."""
    nb = a.shape[0]
    if cut == 0:
        for l in range(nb):
            poly[0, l] = (a[l] + b[l]) * poly[0, l]
        return
    for l in range(nb):
        poly[cut, l] = (a[l] + b[l]) * poly[cut, l] + a[l] * poly[cut - 1, l]
    for j in range(cut - 1, 0, -1):
        for l in range(nb):
            poly[j, l] = b[l] * poly[j, l] + a[l] * poly[j - 1, l]
    for l in range(nb):
        poly[0, l] = b[l] * poly[0, l]


@numba.njit(cache=True, nogil=True, inline="always")
def _children_products(i, c_i, w, ch_ptr, ch_idx, A, B, C, ext_ptr, ext_q, pa, pi, qa, qb):
    """pa <- prod_c (A_c y + C_c), pi <- prod_c (A_c y + B_c) over the children c of i, times the external
    factors (q y + 1 - q); lumped at ``c_i``, frequencies l < w."""
    for j in range(c_i + 1):
        for l in range(w):
            pa[j, l] = 0.0
            pi[j, l] = 0.0
    for l in range(w):
        pa[0, l] = 1.0
        pi[0, l] = 1.0
    for e in range(ch_ptr[i], ch_ptr[i + 1]):
        c = ch_idx[e]
        _times_linear_block(pa[:, :w], c_i, A[c, :w], C[c, :w])
        _times_linear_block(pi[:, :w], c_i, A[c, :w], B[c, :w])
    for e in range(ext_ptr[i], ext_ptr[i + 1]):
        for l in range(w):
            qa[l] = ext_q[e]
            qb[l] = 1.0 - ext_q[e]
        _times_linear_block(pa[:, :w], c_i, qa[:w], qb[:w])
        _times_linear_block(pi[:, :w], c_i, qa[:w], qb[:w])


@numba.njit(cache=True, nogil=True, inline="always")
def _threshold_sums(pa, pi, g, base, c_i, w, acc_a, acc_b, acc_c, acc_d):
    """The four G-weighted sums of the message rule of :func:`threshold_tree_gf` (frequencies l < w)."""
    for l in range(w):
        acc_a[l] = 0.0
        acc_b[l] = 0.0
        acc_c[l] = 0.0
        acc_d[l] = 0.0
    for m in range(c_i + 1):
        gm = g[base + m]
        g1 = g[base + min(m + 1, c_i)]
        for l in range(w):
            acc_a[l] += gm * pa[m, l]
            acc_b[l] += (1.0 - gm) * pi[m, l]
            acc_c[l] += (g1 - gm) * pa[m, l]
            acc_d[l] += (1.0 - g1) * pi[m, l]


@numba.njit(cache=True, nogil=True)
def threshold_tree_gf(
    order, parent, ch_ptr, ch_idx, root_slot, g_ptr, g, cut, ext_ptr, ext_q, xs, out_full, out_act
):
    """Generating functions of the cascade size of a threshold-type model on a forest.

    Messages of node i to its parent (functions of x): ``A`` = i active
    without its parent; ``B`` = i not active without its parent and the
    parent never active; ``C`` = i not active without its parent and the
    parent active. With Pa[m] = [y^m] prod_c (A_c y + C_c) and
    Pi[m] = [y^m] prod_c (A_c y + B_c) (times the external factors
    (q y + 1 - q)): A = x sum G(m) Pa[m], B = sum (1 - G(m)) Pi[m],
    C = sum (G(m+1) - G(m)) x Pa[m] + (1 - G(m+1)) Pi[m]; a root gives
    sum G(m) x Pa[m] + (1 - G(m)) Pi[m]. The frequencies are processed in
    blocks of ``_BLOCK`` (memory O(n _BLOCK)), the innermost loops running
    over the block.
    """
    n = order.shape[0]
    nx = xs.shape[0]
    nb = min(_BLOCK, nx)
    A = np.empty((n, nb), dtype=np.complex128)
    B = np.empty((n, nb), dtype=np.complex128)
    C = np.empty((n, nb), dtype=np.complex128)
    maxcut = 0
    for i in range(n):
        maxcut = max(maxcut, cut[i])
    pa = np.empty((maxcut + 1, nb), dtype=np.complex128)
    pi = np.empty((maxcut + 1, nb), dtype=np.complex128)
    qa = np.empty(nb, dtype=np.complex128)
    qb = np.empty(nb, dtype=np.complex128)
    acc_a = np.empty(nb, dtype=np.complex128)
    acc_b = np.empty(nb, dtype=np.complex128)
    acc_c = np.empty(nb, dtype=np.complex128)
    acc_d = np.empty(nb, dtype=np.complex128)
    for start in range(0, nx, nb):
        stop = min(start + nb, nx)
        w = stop - start
        x = xs[start:stop]
        for t in range(n):
            i = order[t]
            c_i = cut[i]
            _children_products(i, c_i, w, ch_ptr, ch_idx, A, B, C, ext_ptr, ext_q, pa, pi, qa, qb)
            _threshold_sums(pa, pi, g, g_ptr[i], c_i, w, acc_a, acc_b, acc_c, acc_d)
            if parent[i] < 0:
                s = root_slot[i]
                for l in range(w):
                    out_act[s, start + l] *= x[l] * acc_a[l]
                    out_full[s, start + l] *= x[l] * acc_a[l] + acc_b[l]
            else:
                for l in range(w):
                    A[i, l] = x[l] * acc_a[l]
                    B[i, l] = acc_b[l]
                    C[i, l] = x[l] * acc_c[l] + acc_d[l]


@numba.njit(cache=True, nogil=True)
def _lumped_value(q_in, lo, hi, skip, gi, cut, work):
    """E G(min(S, cut)), S the Poisson-binomial sum of q_in[lo:hi] without entry ``skip``."""
    for j in range(cut + 1):
        work[j] = 0.0
    work[0] = 1.0
    for e in range(lo, hi):
        if e == skip:
            continue
        q = q_in[e]
        if cut == 0:
            continue
        top = work[cut] + q * work[cut - 1]
        for j in range(cut - 1, 0, -1):
            work[j] = (1.0 - q) * work[j] + q * work[j - 1]
        work[0] = (1.0 - q) * work[0]
        work[cut] = top
    v = 0.0
    for j in range(cut + 1):
        v += gi[j] * work[j]
    return v


@numba.njit(cache=True, nogil=True)
def threshold_bp(indptr, rev, g_ptr, g, cut, tol, max_iter, q):
    """Belief propagation for threshold-type models: q[e] = P(row node active without column node).

    For the CSR entry e = (i -> j): q[e] = E G_i(min(S, cut_i)), S the
    number of active neighbours l != j of i, independent Bernoulli with
    probabilities q[rev[e']] for the entries e' = (i -> l). Synchronous
    iteration from q = 0 (the smallest fixed point); returns the number of
    sweeps (max_iter + 1 when it did not converge).
    """
    n = indptr.shape[0] - 1
    nnz = q.shape[0]
    q_in = np.empty(nnz)
    new = np.empty(nnz)
    maxcut = 0
    for i in range(n):
        maxcut = max(maxcut, cut[i])
    work = np.empty(maxcut + 1)
    for it in range(max_iter):
        for e in range(nnz):
            q_in[e] = q[rev[e]]
        diff = 0.0
        for i in range(n):
            lo = indptr[i]
            hi = indptr[i + 1]
            gi = g[g_ptr[i] : g_ptr[i] + cut[i] + 1]
            for e in range(lo, hi):
                new[e] = _lumped_value(q_in, lo, hi, e, gi, cut[i], work)
                diff = max(diff, abs(new[e] - q[e]))
        for e in range(nnz):
            q[e] = new[e]
        if diff < tol:
            return it + 1
    return max_iter + 1


@numba.njit(cache=True, nogil=True)
def icm_bp(indptr, rev, p_seed, w, tol, max_iter, q):
    """Belief propagation for the ICM: q[e] = P(row node i active without column node j).

    q[e] = 1 - (1 - p_i) prod_{l != j} (1 - w_{l -> i} q_{l -> i}), with
    w_{l -> i} = w[rev[e']] for the entry e' = (i -> l); prefix and suffix
    products avoid dividing by zero. Returns the number of sweeps.
    """
    n = indptr.shape[0] - 1
    nnz = q.shape[0]
    f = np.empty(nnz)
    new = np.empty(nnz)
    for it in range(max_iter):
        for e in range(nnz):
            f[e] = 1.0 - w[rev[e]] * q[rev[e]]
        diff = 0.0
        for i in range(n):
            lo = indptr[i]
            hi = indptr[i + 1]
            pre = 1.0
            for e in range(lo, hi):  # new[e] <- product of the factors before e
                new[e] = pre
                pre *= f[e]
            suf = 1.0
            for e in range(hi - 1, lo - 1, -1):
                v = 1.0 - (1.0 - p_seed[i]) * new[e] * suf
                suf *= f[e]
                new[e] = v
                diff = max(diff, abs(v - q[e]))
        for e in range(nnz):
            q[e] = new[e]
        if diff < tol:
            return it + 1
    return max_iter + 1


@numba.njit(cache=True, nogil=True)
def complete_graph_dp(g, out):
    """Final-size pmf of a threshold model on the complete graph K_n (positive terms only).

    ``g[m]`` (m = 0..n-1) is G(m) = P(T <= m) for the iid effective count
    thresholds T (seeds count as T = 0); T > n - 1 means never. The process
    stops at the first level m with N(m) = #{i: T_i <= m} <= m, and then
    S = m. The state after level m is N(m) (>= m + 1 while running); the
    number of nodes with T = m + 1 among the n - N(m) with T > m is binomial
    with probability (G(m+1) - G(m)) / (1 - G(m)). Binomial terms further
    than 40 standard deviations + 40 from their mean (below e^-800
    relative) are skipped, so the cost is O(n^2 sqrt(n)) rather than O(n^3).
    """
    n = g.shape[0]
    logf = np.zeros(n + 2)
    for i in range(1, n + 2):
        logf[i] = logf[i - 1] + math.log(i)
    cur = np.zeros(n + 1)
    _binom_add(n, g[0], 1.0, 0, cur, logf)  # level 0: N(0) ~ Binomial(n, G(0))
    for c in range(n + 1):
        out[c] = 0.0
    out[0] = cur[0]
    cur[0] = 0.0
    nxt = np.zeros(n + 1)
    for m in range(0, n - 1):
        # running states: c >= m + 1; add level m + 1
        for c in range(n + 1):
            nxt[c] = 0.0
        denom = 1.0 - g[m]
        h = 0.0 if denom <= 0.0 else min(1.0, max(0.0, (g[m + 1] - g[m]) / denom))
        for c in range(m + 1, n + 1):
            pc = cur[c]
            if pc < 1e-300:
                continue
            _binom_add(n - c, h, pc, c, nxt, logf)
        # stop at level m + 1 when N(m + 1) == m + 1
        out[m + 1] += nxt[m + 1]
        nxt[m + 1] = 0.0
        for c in range(n + 1):
            cur[c] = nxt[c]
    # whatever still runs after level n - 1 has N = n: everybody active
    for c in range(n + 1):
        out[n] += cur[c]


@numba.njit(cache=True, nogil=True)
def _binom_add(r, h, weight, shift, target, logf):
    """target[shift + a] += weight * Binomial(a; r, h), skipping the negligible far tails."""
    if h <= 0.0:
        target[shift] += weight
        return
    if h >= 1.0:
        target[shift + r] += weight
        return
    mu = r * h
    spread = 40.0 * math.sqrt(r * h * (1.0 - h)) + 40.0
    lo = max(0, int(mu - spread))
    hi = min(r, int(mu + spread) + 1)
    lh = math.log(h)
    l1h = math.log1p(-h)
    for a in range(lo, hi + 1):
        target[shift + a] += weight * math.exp(logf[r] - logf[a] - logf[r - a] + a * lh + (r - a) * l1h)


@numba.njit(cache=True, nogil=True)
def threshold_marginals(indptr, rev, g_ptr, g, cut, q, out):
    """out[i] = P(i active) = E G_i(min(S, cut_i)), S the sum over all neighbours of Bernoulli(q[rev[e]])."""
    n = indptr.shape[0] - 1
    nnz = q.shape[0]
    q_in = np.empty(nnz)
    for e in range(nnz):
        q_in[e] = q[rev[e]]
    maxcut = 0
    for i in range(n):
        maxcut = max(maxcut, cut[i])
    work = np.empty(maxcut + 1)
    for i in range(n):
        gi = g[g_ptr[i] : g_ptr[i] + cut[i] + 1]
        out[i] = _lumped_value(q_in, indptr[i], indptr[i + 1], -1, gi, cut[i], work)


@numba.njit(cache=True, nogil=True)
def icm_marginals(indptr, rev, p_seed, w, q, out):
    """out[i] = P(i active) = 1 - (1 - p_i) prod_l (1 - w_{l -> i} q_{l -> i}) over all neighbours l."""
    n = indptr.shape[0] - 1
    for i in range(n):
        f = 1.0 - p_seed[i]
        for e in range(indptr[i], indptr[i + 1]):
            f *= 1.0 - w[rev[e]] * q[rev[e]]
        out[i] = 1.0 - f


@numba.njit(cache=True, nogil=True)
def linear_cluster_gf(indptr, rev, r, p_seed, order, xs, tol, max_iter, H, out, sweeps):
    """Generating function of the total size of the finite linear-response clusters of the seeds.

    For the CSR entry e = (i -> j), ``r[e]`` is the probability that j
    activates when i does and no other neighbour of j is active (the ICM's
    w_ij; F_j(1) for threshold models). At each point x = xs[l] the messages

        H[e] = 1 - r[e] + r[e] x prod_{e' = (j -> l), l != i} H[e']

    (the generating function of the part of i's cluster behind e, restricted
    to finite clusters) are iterated, Gauss-Seidel, until no message moves by
    more than ``tol`` (or ``max_iter`` sweeps; the sweeps used are written
    to ``sweeps[l]``). The iteration starts from the messages passed in
    ``H`` (zeros for the first point x = 1: the smallest fixed point, i.e.
    finite clusters only; then each point starts from the previous point's
    messages, a few sweeps away) and leaves the last messages there. Sweeps
    visit the rows in ``order`` and in reverse, alternately: with ``order``
    a peeling order (leaves first, see :func:`peeling_order`) the messages
    on tree-like parts are exact after two sweeps. Then

        out[l] = prod_i (1 - p_i + p_i x prod_{e = (i -> j)} H[e]),

    the generating function of the sum of the seeds' cluster sizes over the
    event that no seed reaches an infinite (in the message-passing sense)
    cluster; at x = 1 it is that event's probability.
    """
    n = indptr.shape[0] - 1
    nnz = rev.shape[0]
    before = np.empty(nnz, dtype=np.complex128)
    tol2 = tol * tol
    for l in range(xs.shape[0]):
        x = xs[l]
        it = 0
        while it < max_iter:
            it += 1
            diff2 = 0.0
            for jj in range(n):
                j = order[jj] if it % 2 == 1 else order[n - 1 - jj]
                lo = indptr[j]
                hi = indptr[j + 1]
                pre = 1.0 + 0.0j
                for e2 in range(lo, hi):  # before[e2]: product of the row's messages before e2
                    before[e2] = pre
                    pre *= H[e2]
                suf = 1.0 + 0.0j
                for e2 in range(hi - 1, lo - 1, -1):
                    e = rev[e2]  # the message (i -> j) excludes the entry (j -> i) = e2
                    v = 1.0 - r[e] + r[e] * x * before[e2] * suf
                    d = v - H[e]
                    d2 = d.real * d.real + d.imag * d.imag
                    if d2 > diff2:
                        diff2 = d2
                    H[e] = v
                    suf *= H[e2]
            if diff2 < tol2:
                break
        sweeps[l] = it
        total = 1.0 + 0.0j
        for i in range(n):
            prod = x
            for e in range(indptr[i], indptr[i + 1]):
                prod *= H[e]
            total *= 1.0 - p_seed[i] + p_seed[i] * prod
        out[l] = total



@numba.njit(cache=True, nogil=True)
def peeling_order(indptr, indices, keep, out):
    """Nodes in the order in which repeatedly removing nodes of degree <= 1 removes them.

    Degrees count the CSR entries with ``keep``; the nodes that are never
    removed (the 2-core) come last, in id order.
    """
    n = indptr.shape[0] - 1
    deg = np.zeros(n, dtype=np.int64)
    for i in range(n):
        for e in range(indptr[i], indptr[i + 1]):
            if keep[e]:
                deg[i] += 1
    placed = np.zeros(n, dtype=np.bool_)
    head = 0
    tail = 0
    for i in range(n):
        if deg[i] <= 1:
            out[tail] = i
            placed[i] = True
            tail += 1
    while head < tail:
        i = out[head]
        head += 1
        for e in range(indptr[i], indptr[i + 1]):
            if keep[e]:
                j = indices[e]
                deg[j] -= 1
                if deg[j] <= 1 and not placed[j]:
                    placed[j] = True
                    out[tail] = j
                    tail += 1
    for i in range(n):
        if not placed[i]:
            out[tail] = i
            tail += 1


@numba.njit(cache=True, nogil=True)
def icm_tree_gf_all(order, parent, ch_ptr, ch_idx, root_slot, p_seed, w_up, w_down, xs, node_slot,
                    out_full, out_act):
    """All-roots-at-once version of :func:`icm_tree_gf`: the joint GF of (v active, S) for every node v.

    Two passes per frequency x. Upward (``order``, children first): the
    messages B, A0, As of node i to its parent, as in :func:`icm_tree_gf`
    (B: i not active without its parent and the parent never active; A0:
    the part of the subtree GF with i's state towards the parent inactive;
    As: the same with the parent active). Downward (reverse ``order``,
    parents first): the same three messages Bd[c], A0d[c], Asd[c] sent by
    the parent p of c to c, computed as if p were a child of c, its
    "children" being all its tree neighbours but c (the other children's
    upward messages and p's own downward message), with the edge
    probabilities of the reversed edge (up: w_down[c], down: w_up[c]).
    Prefix and suffix products over the children make the exclusion of one
    neighbour O(1) (no division). Then every node v seen as a root with all
    its tree neighbours as children gives pf = x prod As - (1 - p_v) x prod A0,
    the GF of its component's size where v is active; it is written to
    ``out_act[node_slot[v], l]`` when ``node_slot[v] >= 0``, and the full GF of
    each component (pwf + pf at its root) to ``out_full[root_slot[r], l]``.
    """
    n = order.shape[0]
    B = np.empty(n, dtype=np.complex128)
    A0 = np.empty(n, dtype=np.complex128)
    As = np.empty(n, dtype=np.complex128)
    Bd = np.empty(n, dtype=np.complex128)
    A0d = np.empty(n, dtype=np.complex128)
    Asd = np.empty(n, dtype=np.complex128)
    maxdeg = 0
    for i in range(n):
        maxdeg = max(maxdeg, ch_ptr[i + 1] - ch_ptr[i])
    preb = np.empty(maxdeg + 1, dtype=np.complex128)
    prea0 = np.empty(maxdeg + 1, dtype=np.complex128)
    preas = np.empty(maxdeg + 1, dtype=np.complex128)
    for li in range(xs.shape[0]):
        x = xs[li]
        for t in range(n):  # upward
            i = order[t]
            if parent[i] < 0:
                continue
            pb = 1.0 + 0.0j
            pa0 = 1.0 + 0.0j
            pas = 1.0 + 0.0j
            for e in range(ch_ptr[i], ch_ptr[i + 1]):
                c = ch_idx[e]
                pb *= B[c]
                pa0 *= A0[c]
                pas *= As[c]
            q = 1.0 - p_seed[i]
            pwf = q * pb
            plfp = q * x * pa0
            pf = x * pas - plfp
            wu = w_up[i]
            wd = w_down[i]
            B[i] = pwf + pf * (1.0 - wu)
            A0[i] = pwf * (1.0 - wd) + pf * (1.0 - wu) + plfp * wd
            As[i] = A0[i] + pf * wu
        for t in range(n - 1, -1, -1):  # downward
            i = order[t]
            lo = ch_ptr[i]
            hi = ch_ptr[i + 1]
            d = hi - lo
            if parent[i] >= 0:
                preb[0] = Bd[i]
                prea0[0] = A0d[i]
                preas[0] = Asd[i]
            else:
                preb[0] = 1.0
                prea0[0] = 1.0
                preas[0] = 1.0
            for k in range(d):
                c = ch_idx[lo + k]
                preb[k + 1] = preb[k] * B[c]
                prea0[k + 1] = prea0[k] * A0[c]
                preas[k + 1] = preas[k] * As[c]
            q = 1.0 - p_seed[i]
            # i as the root of everything
            pwf = q * preb[d]
            pf = x * preas[d] - q * x * prea0[d]
            s = node_slot[i]
            if s >= 0:
                out_act[s, li] = pf
            if parent[i] < 0:
                out_full[root_slot[i], li] = pwf + pf
            sb = 1.0 + 0.0j
            sa0 = 1.0 + 0.0j
            sas = 1.0 + 0.0j
            for k in range(d - 1, -1, -1):
                c = ch_idx[lo + k]
                pb = preb[k] * sb
                pa0 = prea0[k] * sa0
                pas = preas[k] * sas
                pwf = q * pb
                plfp = q * x * pa0
                pf = x * pas - plfp
                wu = w_down[c]  # i activates c
                wd = w_up[c]  # c activates i
                Bd[c] = pwf + pf * (1.0 - wu)
                A0d[c] = pwf * (1.0 - wd) + pf * (1.0 - wu) + plfp * wd
                Asd[c] = A0d[c] + pf * wu
                sb *= B[c]
                sa0 *= A0[c]
                sas *= As[c]


@numba.njit(cache=True, nogil=True)
def _lumped_mul_block(P, S, cut, w, tail, out):
    """out[:, l] <- P[:, l] * S[:, l] lumped at ``cut`` (both lumped), for l < w; ``tail`` is scratch."""
    for l in range(w):
        tail[cut, l] = S[cut, l]
    for k in range(cut - 1, -1, -1):
        for l in range(w):
            tail[k, l] = tail[k + 1, l] + S[k, l]
    for j in range(cut + 1):
        for l in range(w):
            out[j, l] = 0.0
    for i in range(cut + 1):
        for k in range(cut - i):
            for l in range(w):
                out[i + k, l] += P[i, l] * S[k, l]
        for l in range(w):
            out[cut, l] += P[i, l] * tail[cut - i, l]


@numba.njit(cache=True, nogil=True)
def threshold_tree_gf_all(
    order, parent, ch_ptr, ch_idx, root_slot, g_ptr, g, cut, ext_ptr, ext_q, xs, node_slot, nb,
    out_full, out_act
):
    """All-roots-at-once version of :func:`threshold_tree_gf`: the joint GF of (v active, S) for every v.

    Upward pass (``order``, children first): the messages A, B, C of node i
    to its parent, as in :func:`threshold_tree_gf`. Downward pass (parents
    first): the same messages Ad[c], Bd[c], Cd[c] sent by the parent p of c
    to c, computed as if p were a child of c: its count polynomials
    Pa = prod (A y + C), Pi = prod (A y + B) run over all its tree
    neighbours but c (the other children's upward messages and p's own
    downward message) times p's external factors (q y + 1 - q), which belong
    to p, lumped at cut[p]. For each node the prefix products (base = the
    external factors and the downward message, then the children in turn)
    are stored and a running suffix product is kept; the polynomial of "all
    but child k" is the lumped product prefix_k * suffix_{k+1} (O(cut^2)).
    The prefix over all neighbours gives node v as a root: x sum G(m) Pa[m]
    (v active) is written to ``out_act[node_slot[v], l]`` when
    ``node_slot[v] >= 0``, and x sum G Pa + sum (1 - G) Pi at each root r
    to ``out_full[root_slot[r], l]``. Frequencies in blocks of ``nb``.
    """
    n = order.shape[0]
    nx = xs.shape[0]
    nb = max(1, min(nb, nx))
    A = np.empty((n, nb), dtype=np.complex128)
    B = np.empty((n, nb), dtype=np.complex128)
    C = np.empty((n, nb), dtype=np.complex128)
    Ad = np.empty((n, nb), dtype=np.complex128)
    Bd = np.empty((n, nb), dtype=np.complex128)
    Cd = np.empty((n, nb), dtype=np.complex128)
    maxcut = 0
    maxpre = 1
    for i in range(n):
        maxcut = max(maxcut, cut[i])
        maxpre = max(maxpre, (ch_ptr[i + 1] - ch_ptr[i] + 1) * (cut[i] + 1))
    pa = np.empty((maxcut + 1, nb), dtype=np.complex128)
    pi = np.empty((maxcut + 1, nb), dtype=np.complex128)
    pre_a = np.empty((maxpre, nb), dtype=np.complex128)
    pre_i = np.empty((maxpre, nb), dtype=np.complex128)
    suf_a = np.empty((maxcut + 1, nb), dtype=np.complex128)
    suf_i = np.empty((maxcut + 1, nb), dtype=np.complex128)
    tail = np.empty((maxcut + 1, nb), dtype=np.complex128)
    qa = np.empty(nb, dtype=np.complex128)
    qb = np.empty(nb, dtype=np.complex128)
    acc_a = np.empty(nb, dtype=np.complex128)
    acc_b = np.empty(nb, dtype=np.complex128)
    acc_c = np.empty(nb, dtype=np.complex128)
    acc_d = np.empty(nb, dtype=np.complex128)
    for start in range(0, nx, nb):
        stop = min(start + nb, nx)
        w = stop - start
        x = xs[start:stop]
        for t in range(n):  # upward
            i = order[t]
            if parent[i] < 0:
                continue
            c_i = cut[i]
            _children_products(i, c_i, w, ch_ptr, ch_idx, A, B, C, ext_ptr, ext_q, pa, pi, qa, qb)
            _threshold_sums(pa, pi, g, g_ptr[i], c_i, w, acc_a, acc_b, acc_c, acc_d)
            for l in range(w):
                A[i, l] = x[l] * acc_a[l]
                B[i, l] = acc_b[l]
                C[i, l] = x[l] * acc_c[l] + acc_d[l]
        for t in range(n - 1, -1, -1):  # downward
            i = order[t]
            c_i = cut[i]
            h = c_i + 1
            lo = ch_ptr[i]
            d = ch_ptr[i + 1] - lo
            base = g_ptr[i]
            for j in range(h):
                for l in range(w):
                    pre_a[j, l] = 0.0
                    pre_i[j, l] = 0.0
            for l in range(w):
                pre_a[0, l] = 1.0
                pre_i[0, l] = 1.0
            if parent[i] >= 0:
                _times_linear_block(pre_a[0:h, :w], c_i, Ad[i, :w], Cd[i, :w])
                _times_linear_block(pre_i[0:h, :w], c_i, Ad[i, :w], Bd[i, :w])
            for e in range(ext_ptr[i], ext_ptr[i + 1]):
                for l in range(w):
                    qa[l] = ext_q[e]
                    qb[l] = 1.0 - ext_q[e]
                _times_linear_block(pre_a[0:h, :w], c_i, qa[:w], qb[:w])
                _times_linear_block(pre_i[0:h, :w], c_i, qa[:w], qb[:w])
            for k in range(d):
                c = ch_idx[lo + k]
                o = k * h
                for j in range(h):
                    for l in range(w):
                        pre_a[o + h + j, l] = pre_a[o + j, l]
                        pre_i[o + h + j, l] = pre_i[o + j, l]
                _times_linear_block(pre_a[o + h:o + 2 * h, :w], c_i, A[c, :w], C[c, :w])
                _times_linear_block(pre_i[o + h:o + 2 * h, :w], c_i, A[c, :w], B[c, :w])
            # i as the root of everything
            o = d * h
            _threshold_sums(pre_a[o:o + h], pre_i[o:o + h], g, base, c_i, w, acc_a, acc_b, acc_c, acc_d)
            s = node_slot[i]
            if s >= 0:
                for l in range(w):
                    out_act[s, start + l] = x[l] * acc_a[l]
            if parent[i] < 0:
                for l in range(w):
                    out_full[root_slot[i], start + l] = x[l] * acc_a[l] + acc_b[l]
            for j in range(h):
                for l in range(w):
                    suf_a[j, l] = 0.0
                    suf_i[j, l] = 0.0
            for l in range(w):
                suf_a[0, l] = 1.0
                suf_i[0, l] = 1.0
            for k in range(d - 1, -1, -1):
                c = ch_idx[lo + k]
                o = k * h
                if k == d - 1:  # empty suffix
                    _threshold_sums(pre_a[o:o + h], pre_i[o:o + h], g, base, c_i, w,
                                    acc_a, acc_b, acc_c, acc_d)
                else:
                    _lumped_mul_block(pre_a[o:o + h], suf_a, c_i, w, tail, pa)
                    _lumped_mul_block(pre_i[o:o + h], suf_i, c_i, w, tail, pi)
                    _threshold_sums(pa, pi, g, base, c_i, w, acc_a, acc_b, acc_c, acc_d)
                for l in range(w):
                    Ad[c, l] = x[l] * acc_a[l]
                    Bd[c, l] = acc_b[l]
                    Cd[c, l] = x[l] * acc_c[l] + acc_d[l]
                if k > 0:
                    _times_linear_block(suf_a[0:h, :w], c_i, A[c, :w], C[c, :w])
                    _times_linear_block(suf_i[0:h, :w], c_i, A[c, :w], B[c, :w])
