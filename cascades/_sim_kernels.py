"""Numba kernels behind :mod:`cascades.simulation` (floor 1: arrays in, preallocated outputs out).

Every kernel is ``@numba.njit(cache=True, nogil=True)``: it takes the graph's
CSR arrays (``indptr`` int64, ``indices`` int32 or int64, both only read), the
rule's arrays and scalars, writes into outputs and work arrays that the caller
allocated, and never validates. The public wrapper
(:func:`cascades.simulation.simulate`) checks the arguments, allocates, draws the
randomness and calls exactly one kernel. Because the kernels release the GIL,
threads of :func:`cascades.simulation.simulate_ensemble` run them in parallel.

Common interface
----------------
Inputs: the CSR arrays, the rule's arrays, ``seeds`` (node ids in [0, n); a
repeated seed is queued once) and, for real-valued comparisons, ``tol``.
Outputs and work arrays (all of length n unless stated):

``queue``       (n + 1,) node ids. On return ``queue[:level_end[n_steps]]``
                lists the active nodes level by level (the extra slot absorbs
                the branch-free write after the last node).
``active``      bool; ``activation_step`` int32 (-1: never; 0: seeds).
``level_end``   (n + 2,) int64: ``level_end[t]`` = number of nodes active
                after step t, for t = 0 .. n_steps.
``omark``       uint8, all zero on entry and on return (see
                :func:`_order_level`).

Each kernel returns ``(n_seeds, n_steps)``: the number of distinct seeds and the
last step t at which some node activated (0 if nothing spread).

The count kernels come in two forms with identical outputs: ``count_*`` read
a per-node ``threshold`` array, ``count_*_by_degree`` a per-degree ``table``
indexed by the in-degree (one number phi or m for all nodes), which saves
building and reading an n-long threshold array on every call.

Async vs sync
-------------
``*_async`` kernels propagate with one FIFO queue: every node enters it at most
once and every out-edge of an active node is touched exactly once. The queue is
consumed level by level (the nodes appended while level t is processed form
level t + 1), so the level of a node is its synchronous activation step, and
for monotone rules the async and sync kernels return identical outputs.
``*_sync`` kernels run explicit rounds: the frontier of round t (the nodes
activated at step t) pushes its contributions; the load, independent and fiber
kernels list the nodes it touched once and test them only after the round
(exact for any history); the count kernel tests every node after round 0 and
then uses the moment a counter reaches the threshold, which is the same test
because counts only grow.

Both visit a large level in node-id order (:func:`_order_level`); the order
inside a level does not change any output, and it turns random row reads into
a forward scan, which matters once the graph no longer fits in cache.
"""

from __future__ import annotations

import numba
import numpy as np

__all__: list[str] = []  # private module; the names below are used by simulate.py

_NEG_INF = -np.inf

#: A level of more than n / ORDER_DIV nodes is processed in node-id order.
ORDER_DIV = 16


# ---------------------------------------------------------------------------
# shared pieces
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _order_level(queue, start, end, omark):
    """Rewrite ``queue[start:end]`` in increasing node order when the level is large.

    The set is unchanged, so results do not depend on it. A level of more than
    n / ORDER_DIV nodes is re-emitted by one sequential sweep over a byte mask
    (O(n)), so the push that follows reads ``indptr`` and ``indices`` front to
    back instead of in random row order: on graphs beyond the cache this is
    several times faster, and the sweep costs less than the misses it saves.
    Smaller levels are left as they are. ``omark`` is an all-zero uint8 array
    of length n and is left all zero.
    """
    n = omark.shape[0]
    if (end - start) * ORDER_DIV <= n:
        return
    for h in range(start, end):
        omark[queue[h]] = 1
    # the branch-free sweep also writes queue[end] (after the last marked node),
    # which may already hold the first node of the next level: keep it
    saved = queue[end]
    h = start
    for i in range(n):
        queue[h] = i
        h += omark[i]
        omark[i] = 0
    queue[end] = saved


@numba.njit(cache=True, nogil=True)
def _reset(active, activation_step):
    for i in range(active.shape[0]):
        active[i] = False
        activation_step[i] = -1


@numba.njit(cache=True, nogil=True)
def _fill_rem(threshold, cap, rem):
    """``rem[i]`` = ``threshold[i]`` clipped to [0, cap]; returns the number of zeros."""
    n_zero = 0
    for i in range(rem.shape[0]):
        t = threshold[i]
        if t < 0:
            t = 0
        elif t > cap:
            t = cap
        rem[i] = t
        n_zero += t == 0
    return n_zero


@numba.njit(cache=True, nogil=True)
def _fill_rem_by_degree(in_degrees, table, cap, rem):
    """``rem[i]`` = ``table[in_degrees[i]]`` clipped to [0, cap]; returns the number of zeros."""
    n_zero = 0
    for i in range(rem.shape[0]):
        t = table[in_degrees[i]]
        if t < 0:
            t = 0
        elif t > cap:
            t = cap
        rem[i] = t
        n_zero += t == 0
    return n_zero


@numba.njit(cache=True, nogil=True)
def _count_queue_start(seeds, n_zero, rem, queue):
    """Queue the seeds (level 0) and the self-activating nodes (level 1) of a filled ``rem``.

    ``rem[i]`` = active in-neighbours still missing: the threshold clipped to
    [0, cap], where cap = (largest in-degree) + 1, so a clipped value is never
    reached. Seeds get -1: decrements move them away from 0, so they are never
    queued again. Every value stays in [-cap, cap], which lets the caller
    use the narrowest integer dtype for ``rem``. The scan for threshold-0
    nodes is skipped when ``n_zero`` (their number before seeding) is 0.
    Returns ``(n_seeds, tail)``.
    """
    tail = 0
    for k in range(seeds.shape[0]):
        s = seeds[k]
        queue[tail] = s
        tail += rem[s] >= 0  # a repeated seed is queued once
        rem[s] = -1
    n_seeds = tail
    if n_zero > 0:
        for i in range(rem.shape[0]):
            queue[tail] = i
            tail += rem[i] == 0  # threshold 0: active at step 1 by itself
    return n_seeds, tail


@numba.njit(cache=True, nogil=True)
def _queue_seeds(seeds, mark, queue):
    """Queue the distinct seeds, setting ``mark`` to 1 for them; returns their number."""
    tail = 0
    for k in range(seeds.shape[0]):
        s = seeds[k]
        queue[tail] = s
        tail += mark[s] == 0
        mark[s] = 1
    return tail


# ---------------------------------------------------------------------------
# "count": integer thresholds on the number of active in-neighbours
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _count_async_run(indptr, indices, n_seeds, tail, rem, queue, omark, active, activation_step, level_end):
    """The queue loop of :func:`count_async` on a filled ``rem`` and a started queue."""
    start = 0
    end = n_seeds
    t = 0
    while True:
        _order_level(queue, start, end, omark)
        for h in range(start, end):
            j = queue[h]
            active[j] = True
            activation_step[j] = t
            for e in range(indptr[j], indptr[j + 1]):
                i = indices[e]
                r = rem[i] - 1
                rem[i] = r
                queue[tail] = i
                tail += r == 0
        level_end[t] = end
        if tail == end:
            return n_seeds, t
        start = end
        end = tail
        t += 1


@numba.njit(cache=True, nogil=True)
def count_async(
    indptr, indices, threshold, seeds, cap, rem, queue, omark, active, activation_step, level_end
):
    """Threshold cascade by a FIFO queue with a branch-free inner loop.

    Node i activates once ``threshold[i]`` of its in-neighbours are active.
    Inner loop per edge j -> i: ``rem[i] -= 1; queue[tail] = i; tail +=
    (rem[i] == 0)``, one read-modify-write of a single int array and no
    branch; ``rem[i]`` passes through 0 exactly once, so i is queued at most
    once. The queue is consumed level by level (level t + 1 = the nodes
    appended while level t is processed), and the level of a node is its
    synchronous activation step. Cost O(n + out-degrees of the active nodes).
    """
    _reset(active, activation_step)
    n_zero = _fill_rem(threshold, cap, rem)
    n_seeds, tail = _count_queue_start(seeds, n_zero, rem, queue)
    return _count_async_run(
        indptr, indices, n_seeds, tail, rem, queue, omark, active, activation_step, level_end
    )


@numba.njit(cache=True, nogil=True)
def count_async_by_degree(
    indptr, indices, in_degrees, table, seeds, cap, rem, queue, omark, active, activation_step, level_end
):
    """:func:`count_async` for thresholds that depend on the in-degree only: ``table[k]``.

    ``table`` (length k_max + 1, clipped to [0, cap] like ``threshold``)
    replaces the per-node ``threshold`` array, so the thresholds are read
    straight into ``rem`` and no O(n) threshold array is built; same outputs
    as :func:`count_async` with ``threshold = table[in_degrees]``.
    """
    _reset(active, activation_step)
    n_zero = _fill_rem_by_degree(in_degrees, table, cap, rem)
    n_seeds, tail = _count_queue_start(seeds, n_zero, rem, queue)
    return _count_async_run(
        indptr, indices, n_seeds, tail, rem, queue, omark, active, activation_step, level_end
    )


@numba.njit(cache=True, nogil=True)
def _count_sync_run(indptr, indices, seeds, rem, queue, omark, active, activation_step, level_end):
    """The rounds of :func:`count_sync` on a filled ``rem`` (thresholds clipped to [0, cap])."""
    n = rem.shape[0]
    tail = 0
    for k in range(seeds.shape[0]):
        s = seeds[k]
        queue[tail] = s
        tail += not active[s]
        active[s] = True
        rem[s] = 0  # decrements move it below 0, never back to 0
    n_seeds = tail
    # round 0: the seeds push, then every node is tested
    _order_level(queue, 0, n_seeds, omark)
    for h in range(n_seeds):
        j = queue[h]
        activation_step[j] = 0
        for e in range(indptr[j], indptr[j + 1]):
            rem[indices[e]] -= 1
    for i in range(n):
        queue[tail] = i
        tail += (rem[i] <= 0) & (not active[i])
    level_end[0] = n_seeds
    start = n_seeds
    end = tail
    t = 1
    while end > start:
        _order_level(queue, start, end, omark)
        for h in range(start, end):
            j = queue[h]
            active[j] = True
            activation_step[j] = t
            for e in range(indptr[j], indptr[j + 1]):
                i = indices[e]
                r = rem[i] - 1
                rem[i] = r
                queue[tail] = i
                tail += r == 0
        level_end[t] = end
        start = end
        end = tail
        t += 1
    return n_seeds, t - 1


@numba.njit(cache=True, nogil=True)
def count_sync(indptr, indices, threshold, seeds, cap, rem, queue, omark, active, activation_step, level_end):
    """Threshold cascade by synchronous rounds.

    Round 0: the seeds decrement ``rem`` of their out-neighbours, then every
    node is tested against the state after step 0 (``rem <= 0``: threshold
    reached, which includes threshold 0), and the inactive ones that pass form
    F_1. Round t >= 1: the frontier F_t decrements ``rem`` of its
    out-neighbours, and a node joins F_{t+1} when its ``rem`` reaches 0.
    Because the number of active in-neighbours only grows, reaching the
    threshold during the round is the same as meeting it after the round, and
    a node still inactive after round 0 has ``rem >= 1``, so it reaches 0
    exactly once. Same output as :func:`count_async`, by a different round
    structure (an explicit test of all nodes after round 0).
    """
    _reset(active, activation_step)
    _fill_rem(threshold, cap, rem)
    return _count_sync_run(indptr, indices, seeds, rem, queue, omark, active, activation_step, level_end)


@numba.njit(cache=True, nogil=True)
def count_sync_by_degree(
    indptr, indices, in_degrees, table, seeds, cap, rem, queue, omark, active, activation_step, level_end
):
    """:func:`count_sync` with the thresholds ``table[in_degrees]`` (see :func:`count_async_by_degree`)."""
    _reset(active, activation_step)
    _fill_rem_by_degree(in_degrees, table, cap, rem)
    return _count_sync_run(indptr, indices, seeds, rem, queue, omark, active, activation_step, level_end)


# ---------------------------------------------------------------------------
# "load": real thresholds on summed edge weights
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def load_async(
    indptr, indices, theta, weight, seeds, tol, state, queue, omark, active, activation_step, level_end
):
    """Weighted threshold cascade by a FIFO queue (non-negative weights).

    Node i activates once its load (the summed ``weight[e]`` over the CSR
    entries e = j -> i of its active in-neighbours j) reaches ``theta[i] -
    tol``. ``state`` is an (n, 2) float64 work array holding each node's load
    and threshold side by side, so the random access of an edge touches one
    cache line. A queued node's load is set to -inf (a branch-free select), so
    it never crosses again. Requires ``weight >= 0``: then the load only grows
    and the first crossing is final.
    """
    _reset(active, activation_step)
    n = state.shape[0]
    for i in range(n):
        state[i, 0] = 0.0
        state[i, 1] = theta[i] - tol
    tail = 0
    for k in range(seeds.shape[0]):
        s = seeds[k]
        queue[tail] = s
        tail += state[s, 0] != _NEG_INF
        state[s, 0] = _NEG_INF
    n_seeds = tail
    for i in range(n):
        hit = state[i, 0] >= state[i, 1]  # theta <= tol: active at step 1 by itself
        queue[tail] = i
        tail += hit
        state[i, 0] = _NEG_INF if hit else state[i, 0]
    start = 0
    end = n_seeds
    t = 0
    while True:
        _order_level(queue, start, end, omark)
        for h in range(start, end):
            j = queue[h]
            active[j] = True
            activation_step[j] = t
            for e in range(indptr[j], indptr[j + 1]):
                i = indices[e]
                x = state[i, 0] + weight[e]
                hit = x >= state[i, 1]
                queue[tail] = i
                tail += hit
                state[i, 0] = _NEG_INF if hit else x
        level_end[t] = end
        if tail == end:
            return n_seeds, t
        start = end
        end = tail
        t += 1


@numba.njit(cache=True, nogil=True)
def load_sync(
    indptr,
    indices,
    theta,
    weight,
    seeds,
    tol,
    load,
    cand,
    mark,
    queue,
    omark,
    active,
    activation_step,
    level_end,
):
    """Weighted threshold cascade by synchronous rounds (weights of any sign).

    Round t: the frontier F_t adds its weights to the loads of its
    out-neighbours and lists each touched, still inactive node once in
    ``cand``; then each candidate joins F_{t+1} iff its load, now the sum over
    all its in-neighbours active by step t, is >= ``theta - tol``. In round 0
    every inactive node is a candidate. Testing after the round makes the
    result exact for weights of any sign, where a first crossing would depend
    on the order. ``mark`` (uint8, all zero) is 1 for active nodes and for the
    candidates of the current round.
    """
    _reset(active, activation_step)
    n = load.shape[0]
    for i in range(n):
        load[i] = 0.0
    n_seeds = _queue_seeds(seeds, mark, queue)
    tail = n_seeds
    start = 0
    end = n_seeds
    t = 0
    while True:
        _order_level(queue, start, end, omark)
        nc = 0
        for h in range(start, end):
            j = queue[h]
            active[j] = True
            activation_step[j] = t
            for e in range(indptr[j], indptr[j + 1]):
                i = indices[e]
                load[i] += weight[e]
                cand[nc] = i
                nc += mark[i] == 0
                mark[i] = 1
        if t == 0:
            for i in range(n):
                cand[nc] = i
                nc += mark[i] == 0
                mark[i] = 1
        for c in range(nc):
            i = cand[c]
            hit = load[i] >= theta[i] - tol
            queue[tail] = i
            tail += hit
            mark[i] = hit
        level_end[t] = end
        if tail == end:
            return n_seeds, t
        start = end
        end = tail
        t += 1


# ---------------------------------------------------------------------------
# "independent": independent cascade with pre-drawn uniforms
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def independent_async(indptr, indices, live, seeds, flag, queue, omark, active, activation_step, level_end):
    """Independent cascade by a FIFO queue.

    Each newly active node j tries each out-edge e once; the attempt succeeds
    iff ``live[e]`` (bool per CSR entry: the caller's ``u[e] < p_edge[e]``
    with one uniform u[e] per entry, so the outcome does not depend on the
    processing order, and the kernel reads one byte per edge instead of two
    doubles). Inner loop: ``hit = live[e] & (flag[i] == 0); queue[tail] = i;
    tail += hit; flag[i] |= hit``. ``flag`` is an all-zero uint8 array of
    length n. The level of a node is its distance from the seeds over live
    edges.
    """
    _reset(active, activation_step)
    n_seeds = _queue_seeds(seeds, flag, queue)
    tail = n_seeds
    start = 0
    end = n_seeds
    t = 0
    while True:
        _order_level(queue, start, end, omark)
        for h in range(start, end):
            j = queue[h]
            active[j] = True
            activation_step[j] = t
            for e in range(indptr[j], indptr[j + 1]):
                i = indices[e]
                hit = live[e] & (flag[i] == 0)
                queue[tail] = i
                tail += hit
                flag[i] |= hit
        level_end[t] = end
        if tail == end:
            return n_seeds, t
        start = end
        end = tail
        t += 1


@numba.njit(cache=True, nogil=True)
def independent_sync(
    indptr, indices, live, seeds, mark, cand, queue, omark, active, activation_step, level_end
):
    """Independent cascade by synchronous rounds (collect, then commit).

    Round t: every node of F_t tries its out-edges (edge e succeeds iff
    ``live[e]``, see :func:`independent_async`); each inactive target of a
    successful attempt is listed once in ``cand``. After the round the candidates form
    F_{t+1}; ``active`` changes only then. ``mark`` (uint8, all zero) is 1
    for active nodes and the candidates of the current round.
    """
    _reset(active, activation_step)
    n_seeds = _queue_seeds(seeds, mark, queue)
    tail = n_seeds
    start = 0
    end = n_seeds
    t = 0
    while True:
        _order_level(queue, start, end, omark)
        nc = 0
        for h in range(start, end):
            j = queue[h]
            active[j] = True
            activation_step[j] = t
            for e in range(indptr[j], indptr[j + 1]):
                i = indices[e]
                hit = live[e] & (mark[i] == 0)
                cand[nc] = i
                nc += hit
                mark[i] |= hit
        for c in range(nc):
            queue[tail + c] = cand[c]
        tail += nc
        level_end[t] = end
        if tail == end:
            return n_seeds, t
        start = end
        end = tail
        t += 1


# ---------------------------------------------------------------------------
# "fiber": load redistribution (fiber bundle), synchronous only
# ---------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def fiber_sync(
    indptr,
    indices,
    capacity,
    initial_load,
    seeds,
    tol,
    load,
    cand,
    mark,
    queue,
    omark,
    active,
    activation_step,
    level_end,
):
    """Fiber bundle model by synchronous rounds (Burkholz & Schweitzer 2018, eq. (1)).

    Seeds fail at step 0. Round t: every node of F_t (failed at step t; all of
    F_t is marked failed before anyone shares) splits its current load equally
    among its out-neighbours that are still functional after step t. The
    nodes of F_t get nothing; a repeated CSR entry counts with its
    multiplicity; a node without functional out-neighbours loses its load.
    Then every functional node that received load (in round 0: every
    functional node) fails at step t + 1 iff its load exceeds ``capacity +
    tol``. ``mark`` (uint8, all zero): 1 = failed, 2 = functional candidate
    of the current round, 0 = functional.
    """
    _reset(active, activation_step)
    n = load.shape[0]
    for i in range(n):
        load[i] = initial_load[i]
    n_seeds = _queue_seeds(seeds, mark, queue)
    tail = n_seeds
    start = 0
    end = n_seeds
    t = 0
    while True:
        _order_level(queue, start, end, omark)
        nc = 0
        for h in range(start, end):
            j = queue[h]
            active[j] = True
            activation_step[j] = t
            alive = 0
            for e in range(indptr[j], indptr[j + 1]):
                alive += mark[indices[e]] != 1
            if alive == 0:
                continue  # no functional neighbour: the load is lost
            share = load[j] / alive
            for e in range(indptr[j], indptr[j + 1]):
                i = indices[e]
                if mark[i] != 1:
                    load[i] += share
                    cand[nc] = i
                    nc += mark[i] == 0
                    mark[i] = 2
        if t == 0:
            for i in range(n):
                if mark[i] == 0:
                    cand[nc] = i
                    nc += 1
                    mark[i] = 2
        for c in range(nc):
            i = cand[c]
            hit = load[i] > capacity[i] + tol
            queue[tail] = i
            tail += hit
            mark[i] = 1 if hit else 0
        level_end[t] = end
        if tail == end:
            return n_seeds, t
        start = end
        end = tail
        t += 1
