"""Numba kernels behind :mod:`cascades.graphs` (floor 1: arrays in, arrays out).

Every kernel takes CSR arrays (``indptr`` int64, ``indices`` int32 or int64)
and scalars, writes into preallocated outputs where it can, and never
validates: the public wrappers in :mod:`cascades.graphs` check arguments,
allocate and draw or pass the randomness.

Randomness: kernels that need random numbers receive a
:class:`numpy.random.Generator` (numba compiles ``rng.random()``,
``rng.shuffle`` and ``rng.integers`` against the generator's own bit
generator, so the stream is exactly numpy's and the caller's generator
advances). A kernel never touches numba's global ``np.random`` state.

CSR conventions: rows are sorted ascending; an undirected graph is stored
symmetric, an undirected self-loop twice in its row.
"""

from __future__ import annotations

import numba
import numpy as np

__all__: list[str] = []  # private module; the names below are used by graphs.py


# ---------------------------------------------------------------------------
# Erdos-Renyi G(n, p): Batagelj-Brandes geometric skipping
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _gnp_skip(rng, log_q):
    """Failures before the next success of Bernoulli(p) trials, ``log_q = log(1 - p)``.

    floor(log(1 - U) / log(1 - p)) with U = ``rng.random()`` in [0, 1) is
    Geometric(p) on {0, 1, ...} (1 - U is exact in floating point and lies in
    (0, 1]). Returned as a float: for tiny p it can exceed every integer type,
    so callers compare it with the remaining range before converting.
    """
    return np.floor(np.log(1.0 - rng.random()) / log_q)


@numba.njit(cache=True, nogil=True)
def er_lower(rng, n, log_q, v, w, lower, buf, filled):
    """G(n, p) by geometric skipping: write the lower triangle, resumably.

    Batagelj & Brandes (2005): the candidate pairs (v, w), w < v, are visited
    in lexicographic order and the gap to the next present pair is geometric.
    Each present pair increments ``lower[v]`` and appends w to ``buf`` at
    ``filled``, so ``buf`` ends as the indices of the lower-triangular CSR.
    ``log_q = log(1 - p)``; ``-inf`` means p = 1. Start with (v, w, filled) =
    (1, -1, 0). Returns the new ``(v, w, filled)``; generation is complete
    when ``v >= n``, otherwise ``buf`` was full: the caller grows it and calls
    again with the returned state (no random number is drawn without room
    to store its edge).
    """
    cap = buf.shape[0]
    while v < n:
        if filled == cap:
            return v, w, filled
        if log_q == -np.inf:
            w += 1
        else:
            s = _gnp_skip(rng, log_q)
            # fewer than n^2 / 2 pairs remain: a larger skip ends the graph
            if s >= 0.5 * n * n:
                v = n
                break
            w += 1 + np.int64(s)
        while w >= v and v < n:
            w -= v
            v += 1
        if v < n:
            lower[v] += 1
            buf[filled] = w
            filled += 1
    return v, w, filled


@numba.njit(cache=True, nogil=True)
def er_symmetrize(lower, lower_indices, shift, indptr, indices):
    """Symmetric CSR with sorted rows from the lower-triangular CSR of :func:`er_lower`.

    Row v is its lower neighbours (w < v, already sorted, copied) followed by
    its upper neighbours (the v' > v with w = v in row v'), i.e. the
    transpose of the lower triangle. A direct scatter of the transpose makes
    one cache miss per edge; instead the entries (v', w) are first
    partitioned, stably, into buckets of 2**shift consecutive rows w, and
    each bucket is then scattered into its own rows, a region that fits in
    cache. Visiting v' in increasing order keeps every row sorted. Costs two
    int32 temporaries of len(lower_indices). ``indptr`` (n + 1) and
    ``indices`` (2 * len(lower_indices)) are outputs.
    """
    n = lower.shape[0]
    m = lower_indices.shape[0]
    indptr[0] = 0
    if n == 0:
        return
    n_buckets = ((n - 1) >> shift) + 1
    size = 1 << shift
    starts = np.zeros(n_buckets + 1, np.int64)
    for x in range(m):
        starts[(lower_indices[x] >> shift) + 1] += 1
    for b in range(n_buckets):
        starts[b + 1] += starts[b]
    head = starts[:-1].copy()
    src = np.empty(m, lower_indices.dtype)  # v' of each upper entry, bucketed
    dst = np.empty(m, lower_indices.dtype)  # its row w
    pos = 0
    for v in range(n):
        for _ in range(lower[v]):
            w = lower_indices[pos]
            pos += 1
            b = w >> shift
            h = head[b]
            src[h] = v
            dst[h] = w
            head[b] = h + 1
    count = np.zeros(size, np.int64)
    cursor = np.zeros(size, np.int64)
    lower_pos = 0
    out = 0
    for b in range(n_buckets):
        w0 = b << shift
        rows = min(n, w0 + size) - w0
        count[:rows] = 0
        for x in range(starts[b], starts[b + 1]):
            count[dst[x] - w0] += 1
        for r in range(rows):
            v = w0 + r
            lo = lower[v]
            for t in range(lo):
                indices[out + t] = lower_indices[lower_pos + t]
            lower_pos += lo
            cursor[r] = out + lo
            out += lo + count[r]
            indptr[v + 1] = out
        for x in range(starts[b], starts[b + 1]):
            r = dst[x] - w0
            c = cursor[r]
            indices[c] = src[x]
            cursor[r] = c + 1


# ---------------------------------------------------------------------------
# Layered (bipartite) Erdos-Renyi: geometric skipping over the pair index i * b + j
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def bipartite_fill(rng, a, b, log_q, offset, i, j, row_counts, buf, filled):
    """Random bipartite graph a -> b by geometric skipping, written in CSR order, resumably.

    Pairs (i, j), i < a, j < b, are visited in lexicographic order (pair
    index i * b + j), which is CSR order: a present pair increments
    ``row_counts[i]`` and appends ``offset + j`` to ``buf`` at ``filled``.
    Start with (i, j, filled) = (0, -1, 0); the return value is the new
    state, complete when ``i >= a`` (otherwise ``buf`` is full; see
    :func:`er_lower`).
    """
    cap = buf.shape[0]
    while i < a:
        if filled == cap:
            return i, j, filled
        if log_q == -np.inf:
            j += 1
        else:
            s = _gnp_skip(rng, log_q)
            if s >= 1.0 * a * b:
                i = a
                break
            j += 1 + np.int64(s)
        while j >= b and i < a:
            j -= b
            i += 1
        if i < a:
            row_counts[i] += 1
            buf[filled] = offset + j
            filled += 1
    return i, j, filled


# ---------------------------------------------------------------------------
# Generic CSR construction and clean-up
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _sift_down(a, lo, root, end):
    """Heap sift-down on ``a[lo:lo + end]`` (max-heap, 0-based within the slice)."""
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and a[lo + child] < a[lo + child + 1]:
            child += 1
        if a[lo + root] >= a[lo + child]:
            return
        tmp = a[lo + root]
        a[lo + root] = a[lo + child]
        a[lo + child] = tmp
        root = child


@numba.njit(cache=True, nogil=True)
def _sort_rows(indptr, indices):
    """Sort every row of a CSR in place: insertion sort for short rows, heapsort otherwise.

    (Hand-written rather than ``ndarray.sort`` to keep numba compile times short.)
    """
    n = indptr.shape[0] - 1
    for i in range(n):
        a = indptr[i]
        b = indptr[i + 1]
        size = b - a
        if size <= 24:
            for x in range(a + 1, b):
                val = indices[x]
                y = x - 1
                while y >= a and indices[y] > val:
                    indices[y + 1] = indices[y]
                    y -= 1
                indices[y + 1] = val
        else:
            for root in range(size // 2 - 1, -1, -1):
                _sift_down(indices, a, root, size)
            for end in range(size - 1, 0, -1):
                tmp = indices[a]
                indices[a] = indices[a + end]
                indices[a + end] = tmp
                _sift_down(indices, a, 0, end)


@numba.njit(cache=True, nogil=True)
def csr_from_pairs(src, dst, n, symmetric, indptr, indices):
    """Fill a CSR (sorted rows) from the pairs ``(src[e], dst[e])``.

    ``indptr`` (length n + 1, int64, zeros) and ``indices`` (length m, or 2m
    when ``symmetric``) are outputs. With ``symmetric`` every pair is stored
    in both rows; a pair (i, i) then appears twice in row i.
    """
    m = src.shape[0]
    for e in range(m):
        indptr[src[e] + 1] += 1
        if symmetric:
            indptr[dst[e] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    cursor = indptr[:-1].copy()
    for e in range(m):
        u = src[e]
        v = dst[e]
        indices[cursor[u]] = v
        cursor[u] += 1
        if symmetric:
            indices[cursor[v]] = u
            cursor[v] += 1
    _sort_rows(indptr, indices)


@numba.njit(cache=True, nogil=True)
def csr_from_stub_pairs(stubs, degrees, indptr, indices):
    """Symmetric CSR of the pairing ``(stubs[2e], stubs[2e + 1])``, rows sorted.

    ``degrees`` (the stub count of each node) gives ``indptr`` directly, so no
    counting pass is needed. ``indptr`` (n + 1) and ``indices`` (len(stubs))
    are outputs.
    """
    n = degrees.shape[0]
    indptr[0] = 0
    for i in range(n):
        indptr[i + 1] = indptr[i] + degrees[i]
    cursor = indptr[:-1].copy()
    for e in range(stubs.shape[0] // 2):
        u = stubs[2 * e]
        v = stubs[2 * e + 1]
        indices[cursor[u]] = v
        cursor[u] += 1
        indices[cursor[v]] = u
        cursor[v] += 1
    _sort_rows(indptr, indices)


@numba.njit(cache=True, nogil=True)
def simplify_csr(indptr, indices, erase_loops, erase_multi, loop_entries, out_indptr):
    """Remove self-loops and/or repeated entries from a CSR with sorted rows, in place.

    A self-loop occupies ``loop_entries`` entries of its row (2 undirected,
    1 directed). With ``erase_loops`` every entry i of row i goes; with
    ``erase_multi`` an entry equal to the previous one of its row goes (for
    self-loops: every entry i beyond the first ``loop_entries``). Rows are
    compacted to the left and ``out_indptr`` (n + 1) receives the new row
    pointers; the new rows occupy ``indices[:out_indptr[n]]``. Returns
    ``(loop_entries_removed, duplicate_entries_removed)``.
    """
    n = indptr.shape[0] - 1
    loops = 0
    dups = 0
    write = 0
    out_indptr[0] = 0
    for i in range(n):
        a = indptr[i]
        b = indptr[i + 1]
        prev = -1
        own = 0
        for x in range(a, b):
            j = indices[x]
            if j == i:
                if erase_loops:
                    loops += 1
                    continue
                own += 1
                if erase_multi and own > loop_entries:
                    dups += 1
                    continue
            elif j == prev and erase_multi:
                dups += 1
                continue
            indices[write] = j
            write += 1
            prev = j
        out_indptr[i + 1] = write
    return loops, dups


@numba.njit(cache=True, nogil=True)
def loop_and_duplicate_counts(indptr, indices, loop_entries):
    """Return ``(loop_entries, duplicate_entries, isolated)`` of a CSR with sorted rows.

    ``loop_entries`` counts entries j == i in row i; ``duplicate_entries``
    counts the entries that :func:`simplify_csr` would remove as repeats
    (an entry equal to the previous one of its row, and self-loop entries
    beyond the first ``loop_entries`` of a row); ``isolated`` counts empty rows.
    """
    n = indptr.shape[0] - 1
    loops = 0
    dups = 0
    isolated = 0
    for i in range(n):
        a = indptr[i]
        b = indptr[i + 1]
        if a == b:
            isolated += 1
        prev = -1
        own = 0
        for x in range(a, b):
            j = indices[x]
            if j == i:
                loops += 1
                own += 1
                if own > loop_entries:
                    dups += 1
            elif j == prev:
                dups += 1
            prev = j
    return loops, dups, isolated


# Codes returned by :func:`csr_defect` (0: a valid CSR).
CSR_OK = 0
CSR_START = 1  # indptr[0] != 0                                  (a = indptr[0])
CSR_END = 2  # indptr[-1] != len(indices)                      (a = indptr[-1])
CSR_DECREASING = 3  # indptr[a + 1] < indptr[a]                  (a = row)
CSR_RANGE = 4  # an id outside [0, n)                           (a = row, b = entry position)
CSR_UNSORTED = 5  # row a not ascending                          (a = row, b = entry position)
CSR_ASYMMETRIC = 6  # undirected: edge a -> b lacks b -> a
CSR_LOOP_ONCE = 7  # undirected: row a holds its self-loop b times (odd)


@numba.njit(cache=True, nogil=True)
def csr_defect(indptr, indices, symmetric):
    """First defect of a CSR, as ``(code, a, b)``; ``(CSR_OK, 0, 0)`` when it is valid. O(n + m).

    Checks, in this order of priority: ``indptr`` starts at 0, ends at
    ``len(indices)`` and never decreases (one pass over ``indptr``, before any
    entry is read); then, in one pass over the entries, every id lies in
    [0, n) and every row is sorted ascending; with ``symmetric`` also that the
    CSR equals its transpose (an undirected graph stored in both rows) and
    that every self-loop occupies an even number of entries of its row.

    Symmetry without building the transpose: visiting the rows in increasing
    order, the upper entries (i, j), i < j, reach each row j in increasing i,
    which is the order of the sorted lower part of row j (its entries < j). A
    cursor per row (n int64) walks that lower part along: the entry (i, j)
    must meet ``indices[cursor[j]] == i``, and when row j is reached every
    one of its lower entries must have been met. Only the upper entries make
    a random access. The first mismatch is only recorded and the scan goes on,
    so that a range error or an unsorted row (which make the mismatch
    meaningless) take priority over it.
    """
    n = indptr.shape[0] - 1
    m = indices.shape[0]
    if indptr[0] != 0:
        return CSR_START, np.int64(indptr[0]), np.int64(0)
    if indptr[n] != m:
        return CSR_END, np.int64(indptr[n]), np.int64(0)
    for i in range(n):
        if indptr[i + 1] < indptr[i]:
            return CSR_DECREASING, np.int64(i), np.int64(0)
    cursor = np.empty(n if symmetric else 0, np.int64)
    if symmetric:
        for i in range(n):
            cursor[i] = indptr[i]
    asym_a = np.int64(-1)
    asym_b = np.int64(-1)
    loop_row = np.int64(-1)
    loop_count = np.int64(0)
    for i in range(n):
        prev = np.int64(-1)
        own = 0
        lower_end = indptr[i]
        for x in range(indptr[i], indptr[i + 1]):
            j = np.int64(indices[x])
            if j < 0 or j >= n:
                return CSR_RANGE, np.int64(i), np.int64(x)
            if j < prev:
                return CSR_UNSORTED, np.int64(i), np.int64(x)
            prev = j
            if not symmetric:
                continue
            if j < i:
                lower_end = x + 1
            elif j == i:
                own += 1
            elif asym_a < 0:
                c = cursor[j]
                if c < indptr[j + 1] and indices[c] == i:
                    cursor[j] = c + 1
                elif c < indptr[j + 1] and indices[c] < i:
                    asym_a = j  # row j holds k < i, and row k has no matching j
                    asym_b = np.int64(indices[c])
                else:
                    asym_a = np.int64(i)
                    asym_b = j
        if symmetric:
            if asym_a < 0 and cursor[i] != lower_end:
                asym_a = np.int64(i)  # row i holds k < i, and row k has no matching i
                asym_b = np.int64(indices[cursor[i]])
            if own % 2 and loop_row < 0:
                loop_row = np.int64(i)
                loop_count = np.int64(own)
    if asym_a >= 0:
        return CSR_ASYMMETRIC, asym_a, asym_b
    if loop_row >= 0:
        return CSR_LOOP_ONCE, loop_row, loop_count
    return CSR_OK, np.int64(0), np.int64(0)


@numba.njit(cache=True, nogil=True)
def layered_defect(indptr, indices, offsets):
    """First edge of a valid CSR (sorted rows) that does not go from layer l to layer l + 1.

    ``offsets`` (int64, length L + 2) are the first node ids of the layers,
    then n. Returns ``(row, entry position)`` of the first bad entry, or
    ``(-1, -1)``. Rows are sorted, so only the first and last entry of a
    row are looked at: O(n).
    """
    n_layers = offsets.shape[0] - 2
    for l in range(n_layers + 1):
        lo = offsets[l + 1]
        hi = offsets[l + 2] if l < n_layers else lo  # the last layer has no out-edges
        for i in range(offsets[l], offsets[l + 1]):
            a = indptr[i]
            b = indptr[i + 1]
            if a == b:
                continue
            if indices[a] < lo or indices[a] >= hi:
                return i, a
            if indices[b - 1] >= hi:
                return i, b - 1
    return -1, -1


@numba.njit(cache=True, nogil=True)
def rows_sorted(indptr, indices):
    """True when every row is sorted ascending (repeats allowed)."""
    n = indptr.shape[0] - 1
    for i in range(n):
        for x in range(indptr[i] + 1, indptr[i + 1]):
            if indices[x] < indices[x - 1]:
                return False
    return True


@numba.njit(cache=True, nogil=True)
def transpose_csr(indptr, indices, n_cols, out_indptr, out_indices):
    """Transpose a CSR with ``n_cols`` columns (counting sort; output rows sorted).

    Rows are visited in increasing order, so each output row receives its
    entries in increasing order: no sort is needed.
    """
    n = indptr.shape[0] - 1
    for x in range(indices.shape[0]):
        out_indptr[indices[x] + 1] += 1
    for j in range(n_cols):
        out_indptr[j + 1] += out_indptr[j]
    cursor = out_indptr[:-1].copy()
    for i in range(n):
        for x in range(indptr[i], indptr[i + 1]):
            j = indices[x]
            out_indices[cursor[j]] = i
            cursor[j] += 1


@numba.njit(cache=True, nogil=True)
def in_degree_counts(indices, n, out):
    """``out[j]`` += number of entries j in ``indices`` (a bincount without int64 temporaries)."""
    for x in range(indices.shape[0]):
        out[indices[x]] += 1


@numba.njit(cache=True, nogil=True)
def undirected_edge_list(indptr, indices, out):
    """Write each undirected edge once, as (i, j) with i <= j, into ``out`` (m x 2).

    An undirected self-loop, stored twice in its row, is written once per
    pair of entries. Returns the number of rows written.
    """
    n = indptr.shape[0] - 1
    e = 0
    for i in range(n):
        half = False
        for x in range(indptr[i], indptr[i + 1]):
            j = indices[x]
            if j > i:
                out[e, 0] = i
                out[e, 1] = j
                e += 1
            elif j == i:
                if half:
                    out[e, 0] = i
                    out[e, 1] = i
                    e += 1
                half = not half
    return e


@numba.njit(cache=True, nogil=True)
def complement_csr(indptr, indices, out_indptr, out_indices):
    """Complement of a simple graph (rows sorted, no loops): the non-neighbours j != i."""
    n = indptr.shape[0] - 1
    out_indptr[0] = 0
    pos = 0
    for i in range(n):
        x = indptr[i]
        b = indptr[i + 1]
        for j in range(n):
            if x < b and indices[x] == j:
                x += 1
                continue
            if j != i:
                out_indices[pos] = j
                pos += 1
        out_indptr[i + 1] = pos


# ---------------------------------------------------------------------------
# Random regular graphs: pairing model repaired by switchings
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _multiplicity(nbr, u, v):
    """Number of times v occurs in the neighbour row of u."""
    c = 0
    for s in range(nbr.shape[1]):
        if nbr[u, s] == v:
            c += 1
    return c


@numba.njit(cache=True, nogil=True)
def _replace_one(nbr, u, old, new):
    """Replace one occurrence of ``old`` by ``new`` in the neighbour row of u."""
    for s in range(nbr.shape[1]):
        if nbr[u, s] == old:
            nbr[u, s] = new
            return


@numba.njit(cache=True, nogil=True)
def regular_pairing_switch(rng, ends, nbr, max_tries):
    """Turn the pairing ``ends`` (m x 2) into a simple graph by random switchings, in place.

    ``nbr`` (n x k) is the neighbour table of the pairing (a self-loop
    contributes its node twice). Each edge e = {a, b} that is a self-loop or a
    repeat of an edge is rewired: a uniformly chosen edge f = {x, y} (random
    orientation, drawn with ``rng.random()``) is proposed, and {a, b}, {x, y} are replaced by {a, x},
    {b, y} when neither new edge is a loop or already present. Switchings
    never create a bad edge, so one sweep over the edges suffices. Returns
    the number of switchings, or -1 if ``max_tries`` proposals were rejected
    in a row (the caller then starts from a fresh pairing).
    """
    m = ends.shape[0]
    switches = 0
    for e in range(m):
        while True:
            a = ends[e, 0]
            b = ends[e, 1]
            if a != b and _multiplicity(nbr, a, b) == 1:
                break
            tries = 0
            done = False
            while tries < max_tries:
                tries += 1
                # uniform on {0..m-1} up to a relative bias of m / 2**53
                f = min(np.int64(rng.random() * m), m - 1)
                if f == e:
                    continue
                if rng.random() < 0.5:
                    x = ends[f, 0]
                    y = ends[f, 1]
                else:
                    x = ends[f, 1]
                    y = ends[f, 0]
                if a == x or b == y:
                    continue
                if (a == b and x == y) or (a == y and b == x):
                    continue
                if _multiplicity(nbr, a, x) > 0 or _multiplicity(nbr, b, y) > 0:
                    continue
                _replace_one(nbr, a, b, x)
                _replace_one(nbr, b, a, y)
                _replace_one(nbr, x, y, a)
                _replace_one(nbr, y, x, b)
                ends[e, 0] = a
                ends[e, 1] = x
                ends[f, 0] = b
                ends[f, 1] = y
                switches += 1
                done = True
                break
            if not done:
                return -1
    return switches


@numba.njit(cache=True, nogil=True)
def neighbour_table(ends, n, k, nbr):
    """Fill the n x k neighbour table of the pairing ``ends`` (m x 2)."""
    fill = np.zeros(n, np.int64)
    for e in range(ends.shape[0]):
        a = ends[e, 0]
        b = ends[e, 1]
        nbr[a, fill[a]] = b
        fill[a] += 1
        nbr[b, fill[b]] = a
        fill[b] += 1


@numba.njit(cache=True, nogil=True)
def pairing_is_simple(ends, nbr):
    """True when the pairing has no self-loop and no repeated edge."""
    for e in range(ends.shape[0]):
        a = ends[e, 0]
        b = ends[e, 1]
        if a == b or _multiplicity(nbr, a, b) > 1:
            return False
    return True
