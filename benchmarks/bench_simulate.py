"""Time the cascade simulator of cascades against NDlib, networkx, scipy.sparse and a numba floor.

Usage (from the repository root)::

    python benchmarks/bench_simulate.py            # full run: n = 10^5 and 10^6 (about 4 minutes)
    python benchmarks/bench_simulate.py --quick    # n = 10^4 only, small ensemble (under a minute)
    python benchmarks/bench_simulate.py --sizes 100000 --parts compare overhead   # the n = 10^5 targets
    python benchmarks/bench_simulate.py --parts ensemble compile    # only some of the measurements

The case is the issue's: Erdos-Renyi graphs with mean degree 4, the Watts
fractional threshold model with phi = 0.18 and the ">=" rule (node i activates
once its number m_i of active neighbours reaches ceil(phi * k_i); a node of
degree 0 never activates unless seeded), and one fixed random seed set of
round(0.01 n) nodes shared by every implementation:

* cascades ``simulate`` (asynchronous queue dynamics; the synchronous dynamics
  are timed too);
* (a) NDlib's ``ThresholdModel``, per-node threshold phi, iterated until an
  iteration changes nothing;
* (b) a plain networkx + ``collections.deque`` loop, written the way a user
  would write it;
* (c) a vectorised scipy.sparse synchronous iteration: counts = A @ active
  each round, activate where counts >= threshold;
* (d) a minimal single-threaded numba CSR queue kernel, the floor of what
  compiled code does;
* cascades' own kernel called bare (thresholds and work arrays prepared once,
  outside the timing): ``simulate`` minus this row is its per-call overhead,
  printed under each table with the ratios t(alternative) / t(simulate).

Every implementation must return the same final active set: the script asserts
it before it prints a time. Each case is timed end to end from the graph in the
implementation's own format (CSR ``Graph``, networkx graph, scipy matrix), phi
and the seed list to the final active set, thresholds included; building those
graph formats, and NDlib's per-node configuration, is not timed. All numba
kernels are compiled by a warm-up call first. The machine is shared and its
speed drifts, so:

* the fast cases (cascades, floor, scipy) run in interleaved rounds, each
  round calling every case 3 times in a row; the best call counts;
* each run of a slow case (networkx, NDlib) is paired with a best-of-5 of
  cascades ``simulate`` just before it, and its speedup is taken against
  those adjacent times; a slow case whose first run exceeds ``--slow``
  seconds is run once.

"Edges processed" is the number of CSR entries a queue algorithm scans: the
sum of the degrees of the finally active nodes (seeds included). The same count
is used for every implementation, so edges/s ratios are time ratios; the table's
``speedup`` is t(alternative) / t(cascades) (> 1: cascades is faster).

Also measured: ``simulate_ensemble`` throughput with 1 and 2 workers (fixed
graph, graph factory, and the factory's graph generation alone), the per-call
overhead of ``simulate`` (its time minus that of its own numba kernels inside
the same call, from 10 nodes up), and the numba compile time of ``simulate``
(first call in a fresh process with an empty ``NUMBA_CACHE_DIR`` against a
second process that loads that cache). The load average and the processes busy
before and after the run are printed and stored. Results go to
``benchmarks/results/bench_simulate-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cascades  # noqa: E402

MEAN_DEGREE = 4.0
PHI = 0.18
SEED_FRACTION = 0.01
GRAPH_SEED = 1
SEEDS_SEED = 2
ENSEMBLE_SEED = 3

TARGETS = {  # minimum speedup of cascades over each alternative at n = 10^5
    "ndlib": 500.0,
    "networkx": 100.0,
    "scipy": 4.0,
    "numba floor": 1.0,
}
ENSEMBLE_TARGET = 1.7
PARTS = ("compare", "ensemble", "overhead", "compile")


# ---------------------------------------------------------------------------
# The package under test (its simulator may be missing while it is written)
# ---------------------------------------------------------------------------


def load_cascades():
    """Return (simulate, simulate_ensemble, FractionalThreshold) or a note saying why not."""
    try:
        from cascades import FractionalThreshold, simulate, simulate_ensemble
    except ImportError as err:
        return None, f"cascades simulator not importable ({err}): cascades rows skipped"
    return (simulate, simulate_ensemble, FractionalThreshold), None


# ---------------------------------------------------------------------------
# The common rule, the seeds, the work count
# ---------------------------------------------------------------------------


def thresholds(degrees, phi):
    """Integer thresholds ceil(phi * k), and 1 (never reached) for k = 0; needs phi > 0."""
    return np.maximum(np.ceil(phi * np.asarray(degrees)), 1).astype(np.int32)


def check_threshold_rule(max_degree, phi):
    """Assert that ceil(phi * k) is the least m with m / k >= phi (NDlib's and networkx's test).

    The integer rule of (c) and (d) and the fraction rule of (a) and (b) then
    agree on every degree of the graph, float rounding included.
    """
    k = np.arange(1, max_degree + 1)
    th = np.ceil(phi * k)
    assert np.all(th / k >= phi) and np.all((th - 1) / k < phi), "ceil rule != fraction rule"


def seed_set(n, fraction=SEED_FRACTION, seed=SEEDS_SEED):
    """The fixed seed set: round(fraction * n) distinct nodes, sorted (int64)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max(1, round(fraction * n)), replace=False)).astype(np.int64)


def edges_processed(graph, active):
    """CSR entries a queue algorithm scans: the sum of the degrees of the active nodes."""
    return int(graph.degrees[active].sum())


# ---------------------------------------------------------------------------
# (d) the numba floor
# ---------------------------------------------------------------------------


@numba.njit(cache=False)
def floor_kernel(indptr, indices, threshold, seeds, active, count, queue):
    """FIFO queue over CSR rows; returns the number of active nodes."""
    tail = 0
    for s in seeds:
        if not active[s]:
            active[s] = True
            queue[tail] = s
            tail += 1
    head = 0
    while head < tail:
        j = queue[head]
        head += 1
        for e in range(indptr[j], indptr[j + 1]):
            i = indices[e]
            if not active[i]:
                count[i] += 1
                if count[i] >= threshold[i]:
                    active[i] = True
                    queue[tail] = i
                    tail += 1
    return tail


def floor_bare(graph, threshold, seeds):
    """The kernel with precomputed thresholds (only the output arrays are allocated)."""
    n = graph.n
    active = np.zeros(n, dtype=np.bool_)
    floor_kernel(
        graph.indptr,
        graph.indices,
        threshold,
        seeds,
        active,
        np.zeros(n, dtype=np.int32),
        np.empty(n, dtype=np.int32),
    )
    return active


def numba_floor(graph, phi, seeds):
    """(d): thresholds from the degrees, then the queue kernel."""
    return floor_bare(graph, thresholds(graph.degrees, phi), seeds)


def cascades_bare_kernel(graph, model, seeds):
    """cascades' own kernel called directly: thresholds table and work arrays prepared once, not timed.

    This is ``simulate`` without its per-call work (validation, the threshold
    table, allocation, the result object), so ``simulate`` minus this is the
    per-call overhead. Returns a function giving the active mask, or None when
    the private kernel (``cascades._sim_kernels.count_async_by_degree``) or
    ``degree_thresholds`` is not there.
    """
    from cascades import _sim_kernels

    kernel = getattr(_sim_kernels, "count_async_by_degree", None)
    if kernel is None or not hasattr(model, "degree_thresholds"):
        return None
    n = graph.n
    k = graph.in_degrees
    k_max = int(k.max()) if n else 0
    table = model.degree_thresholds(k_max)
    ids = graph.indices.dtype
    seed_ids = np.asarray(seeds).astype(ids)
    rem = np.empty(n, dtype=np.int8 if k_max < 126 else np.int64)
    work = (np.empty(n + 1, ids), np.zeros(n, np.uint8), np.empty(n, np.bool_), np.empty(n, np.int32))
    level_end = np.empty(n + 2, np.int64)

    def run():
        kernel(graph.indptr, graph.indices, k, table, seed_ids, k_max + 1, rem, *work, level_end)
        return work[2].copy()

    return run


# ---------------------------------------------------------------------------
# (b) networkx loop, (c) scipy iteration, (a) NDlib
# ---------------------------------------------------------------------------


def networkx_loop(G, phi, seeds):
    """(b): the readable breadth-first loop over a networkx graph; returns the set of active nodes."""
    active = set(seeds)
    count = dict.fromkeys(G, 0)
    queue = deque(seeds)
    while queue:
        u = queue.popleft()
        for v in G[u]:
            if v not in active:
                count[v] += 1
                if count[v] / G.degree[v] >= phi:
                    active.add(v)
                    queue.append(v)
    return active


def scipy_sync(A, phi, seeds):
    """(c): synchronous rounds of one sparse mat-vec each (A float32: exact counts below 2^24)."""
    threshold = thresholds(np.diff(A.indptr), phi)
    active = np.zeros(A.shape[0], dtype=bool)
    active[seeds] = True
    x = active.astype(A.dtype)
    while True:
        new = (A @ x >= threshold) & ~active
        if not new.any():
            return active
        active |= new
        x[new] = 1


def ndlib_setup(G, phi, seeds):
    """NDlib ThresholdModel with threshold phi on every node and the given infected set."""
    import ndlib.models.epidemics as ep
    import ndlib.models.ModelConfig as mc

    model = ep.ThresholdModel(G, seed=0)  # NB: seed= reseeds the global numpy RNG; nothing here uses it
    config = mc.Configuration()
    config.add_model_initial_configuration("Infected", [int(s) for s in seeds])
    for v in G.nodes():
        config.add_node_configuration("threshold", v, phi)
    model.set_initial_status(config)
    return model


def ndlib_run(model):
    """Iterate until an iteration changes no node; return (status dict, iterations run)."""
    iterations = 0
    while True:
        result = model.iteration(node_status=True)
        iterations += 1
        if result["iteration"] > 0 and not result["status"]:
            return model.status, iterations


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


def best_time(fn, repeats, slow, budget=1.0):
    """Best wall time and number of calls, and the last output.

    At least ``repeats`` calls, more (up to 10 * ``repeats``) while the calls
    so far took less than ``budget`` seconds in total, so that a fast case gets
    enough samples to escape the noise of a shared machine; one call if the
    first exceeds ``slow`` seconds.
    """
    times = []
    out = None
    while len(times) < repeats or (sum(times) < budget and len(times) < 10 * repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if times[0] > slow:
            break
    return min(times), len(times), out


def as_mask(n, active):
    """A boolean mask from a mask, a set of node ids or a node -> status dict."""
    if isinstance(active, np.ndarray):
        return active.astype(bool, copy=False)
    mask = np.zeros(n, dtype=bool)
    if isinstance(active, dict):
        active = [v for v, s in active.items() if s == 1]
    mask[np.fromiter(active, dtype=np.int64)] = True
    return mask


def compare_case(n, args, api, ndlib_ok):
    """Time every implementation at size n; return rows and a summary."""
    graph = cascades.erdos_renyi(n, MEAN_DEGREE, rng=GRAPH_SEED)
    seeds = seed_set(n)
    check_threshold_rule(int(graph.degrees.max()), PHI)
    reference = numba_floor(graph, PHI, seeds)
    work = edges_processed(graph, reference)
    info = {
        "n": n,
        "m": graph.m,
        "n_seeds": len(seeds),
        "final_fraction": float(reference.mean()),
        "edges_processed": work,
    }

    fast = {}  # the compiled and vectorised cases: timed in interleaved rounds
    if api is not None:
        simulate, _, threshold_model = api
        model = threshold_model(PHI)
        model_threshold = model.rule(graph).threshold
        assert np.array_equal(model_threshold, thresholds(graph.degrees, PHI)), "threshold rules differ"
        fast["cascades simulate"] = lambda: simulate(graph, model, seeds=seeds).active
        fast["cascades simulate (sync)"] = lambda: simulate(graph, model, seeds=seeds, dynamics="sync").active
        bare = cascades_bare_kernel(graph, model, seeds)
        if bare is not None:
            fast["cascades bare kernel"] = bare
    fast["numba floor"] = lambda: numba_floor(graph, PHI, seeds)
    A = graph.to_scipy(dtype=np.float32)
    fast["scipy"] = lambda: scipy_sync(A, PHI, seeds)

    rows = []
    for label, out in interleaved_best(fast, args.repeats, budget=3.0, block=3).items():
        assert np.array_equal(as_mask(n, out.pop("out")), reference), f"{label} at n = {n}: wrong active set"
        rows.append({"implementation": label, "n": n, **out})

    # The slow cases run for seconds, long enough for the speed of a shared machine to change.
    # Each of their runs is therefore paired with a best-of-5 of the reference just before it,
    # and their speedup is taken against the best of these adjacent reference times.
    ref_label = "cascades simulate" if api is not None else "numba floor"
    ref_fn = fast[ref_label]

    def paired(fn):
        t_ref, _, _ = best_time(ref_fn, 5, float("inf"), budget=0.0)
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, t_ref, out

    run_nx = n <= args.max_networkx
    run_ndlib = ndlib_ok and n <= args.max_ndlib
    if run_nx or run_ndlib:
        G = cascades.to_networkx(graph)
    if run_nx:
        seed_list = seeds.tolist()
        times, refs = [], []
        while len(times) < args.repeats and not (times and times[0] > args.slow):
            t, t_ref, out = paired(lambda: networkx_loop(G, PHI, seed_list))
            assert np.array_equal(as_mask(n, out), reference), f"networkx at n = {n}: wrong active set"
            times.append(t)
            refs.append(t_ref)
        rows.append(
            {
                "implementation": "networkx",
                "n": n,
                "seconds": min(times),
                "runs": len(times),
                "reference_adjacent_s": min(refs),
            }
        )
    if run_ndlib:
        rows.append(time_ndlib(G, seeds, n, reference, args, paired))
    t_ours = next(r["seconds"] for r in rows if r["implementation"] == ref_label)
    for row in rows:
        row["edges_per_s"] = work / row["seconds"]
        row["speedup"] = row["seconds"] / row.get("reference_adjacent_s", t_ours)
    return rows, info


def interleaved_best(fns, repeats, budget, block=1):
    """Best wall and CPU time of each function, called in interleaved rounds.

    Each round calls every function ``block`` times in a row. The rounds
    spread the load of a shared machine evenly over the cases, so that their
    ratios are less biased than with one case after the other; within a block
    the later calls find the case's own data in cache, as in a timeit loop. At
    least ``repeats`` rounds, more (up to 10 * ``repeats``) while the rounds
    took less than ``budget`` seconds. Returns label -> {seconds, cpu_seconds,
    runs, out}: the best wall time, the process CPU time of that same call (all
    threads), the number of calls and the last output.
    """
    res = {label: {"seconds": np.inf, "cpu_seconds": np.inf, "runs": 0, "out": None} for label in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or (time.perf_counter() - start < budget and rounds < 10 * repeats):
        for label, fn in fns.items():
            for _ in range(block):
                c0, t0 = time.process_time(), time.perf_counter()
                out = fn()
                t1, c1 = time.perf_counter(), time.process_time()
                r = res[label]
                if t1 - t0 < r["seconds"]:
                    r["seconds"], r["cpu_seconds"] = t1 - t0, c1 - c0
                r["runs"] += 1
                r["out"] = out
        rounds += 1
    return res


def time_ndlib(G, seeds, n, reference, args, paired):
    """Time NDlib's iterations (setup reported apart, not counted); one run when it is slow."""
    times, setups, refs = [], [], []
    while len(times) < args.repeats and not (times and times[0] > args.slow):
        t0 = time.perf_counter()
        model = ndlib_setup(G, PHI, seeds)
        setups.append(time.perf_counter() - t0)
        t, t_ref, (status, iterations) = paired(lambda m=model: ndlib_run(m))
        assert np.array_equal(as_mask(n, status), reference), f"NDlib at n = {n}: final active set differs"
        times.append(t)
        refs.append(t_ref)
    return {
        "implementation": "ndlib",
        "n": n,
        "seconds": min(times),
        "runs": len(times),
        "reference_adjacent_s": min(refs),
        "setup_seconds": min(setups),
        "iterations": iterations,
    }


# ---------------------------------------------------------------------------
# Ensemble scaling, per-call overhead, compile time
# ---------------------------------------------------------------------------


def ensemble_case(api, n, n_runs, repeats):
    """Runs per second of simulate_ensemble with 1 and 2 workers: fixed graph, factory, graphs alone.

    The 1- and 2-worker calls alternate (:func:`interleaved_best`), so that a
    moment when another process holds a core hits both. ``cpu/wall`` of the
    best call is the parallelism it got: close to 2 means both cores worked
    for it, close to 1 with 2 workers means the second core was busy
    elsewhere or the threads serialised.
    """
    _, simulate_ensemble, threshold_model = api
    model = threshold_model(PHI)
    graph = cascades.erdos_renyi(n, MEAN_DEGREE, rng=GRAPH_SEED)

    def factory(rng):
        return cascades.erdos_renyi(n, MEAN_DEGREE, rng=rng)

    def graphs_only(workers):  # the factory mode's graph generation alone, in the same kind of pool
        gens = [np.random.default_rng(s) for s in np.random.SeedSequence(ENSEMBLE_SEED).spawn(n_runs)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(factory, gens))

    simulate_ensemble(graph, model, 4, seed_fraction=SEED_FRACTION, rng=0, workers=2)  # warm-up
    rows = []
    for mode, source in (("fixed graph", graph), ("factory", factory), ("graphs only", None)):
        fns = {}
        for workers in (1, 2):
            if source is None:
                fns[workers] = lambda w=workers: graphs_only(w)
            else:
                fns[workers] = lambda s=source, w=workers: simulate_ensemble(
                    s, model, n_runs, seed_fraction=SEED_FRACTION, rng=ENSEMBLE_SEED, workers=w
                )
        timed = interleaved_best(fns, repeats, budget=0.0)
        if source is not None:
            outs = [np.asarray(timed[w]["out"]) for w in (1, 2)]
            assert np.array_equal(*outs), f"ensemble ({mode}) depends on the worker count"
        for workers in (1, 2):
            t = timed[workers]
            row = {
                "mode": mode,
                "n": n,
                "n_runs": n_runs,
                "workers": workers,
                "seconds": t["seconds"],
                "cpu_seconds": t["cpu_seconds"],
                "runs_per_s": n_runs / t["seconds"],
                "calls": t["runs"],
            }
            if source is not None:
                row["mean_final_fraction"] = float(np.mean(t["out"]))  # a check that the runs cascade
            rows.append(row)
        rows[-1]["scaling"] = rows[-2]["seconds"] / rows[-1]["seconds"]
    return rows


def kernel_split(simulate, model, graph, seeds, repeats):
    """Time ``simulate`` and, inside the same calls, its numba kernels.

    Every public kernel of ``cascades._sim_kernels`` (``count_async``,
    ``count_async_by_degree``, ...) is wrapped, for the duration of this
    function only, by a timer (about a microsecond of its own). Returns (best
    total, best kernel, best total - kernel over the calls), or None when
    simulate called none of them (private names changed).
    """
    import numba.core.registry

    from cascades import _sim_kernels

    names = [
        name
        for name, obj in vars(_sim_kernels).items()
        if not name.startswith("_") and isinstance(obj, numba.core.registry.CPUDispatcher)
    ]
    originals = {name: getattr(_sim_kernels, name) for name in names}
    inner = []

    def timer(kernel):
        def timed(*a, **kw):
            t0 = time.perf_counter()
            out = kernel(*a, **kw)
            inner.append(time.perf_counter() - t0)
            return out

        return timed

    totals, kernels = [], []
    for name, kernel in originals.items():
        setattr(_sim_kernels, name, timer(kernel))
    try:
        for _ in range(repeats):
            inner.clear()
            t0 = time.perf_counter()
            simulate(graph, model, seeds=seeds)
            totals.append(time.perf_counter() - t0)
            kernels.append(sum(inner) if inner else None)
    finally:
        for name, kernel in originals.items():
            setattr(_sim_kernels, name, kernel)
    if any(k is None for k in kernels):
        return None
    return min(totals), min(kernels), min(t - k for t, k in zip(totals, kernels, strict=True))


def overhead_case(api, sizes, repeats):
    """Per-call overhead of simulate: its time minus its own kernel's, on 10 nodes and at ``sizes``.

    The bare numba floor kernel (thresholds precomputed, outputs allocated) is
    listed for comparison.
    """
    simulate, _, threshold_model = api
    model = threshold_model(PHI)
    rows = []
    for n in [10, *sizes]:
        graph = cascades.erdos_renyi(n, MEAN_DEGREE if n > 10 else 3.0, rng=GRAPH_SEED)
        seeds = seed_set(n)
        th = thresholds(graph.degrees, PHI)
        k = max(repeats, 50 if n <= 10**4 else 10)
        split = kernel_split(simulate, model, graph, seeds, k)
        t_floor, _, _ = best_time(lambda g=graph, t=th, s=seeds: floor_bare(g, t, s), k, float("inf"))
        if split is None:  # simulate's kernel could not be timed apart: fall back to the floor
            t_sim, _, _ = best_time(lambda g=graph, s=seeds: simulate(g, model, seeds=s), k, float("inf"))
            split = (t_sim, None, t_sim - t_floor)
        rows.append(
            {
                "n": n,
                "simulate_s": split[0],
                "kernel_s": split[1],
                "overhead_s": split[2],
                "floor_bare_s": t_floor,
            }
        )
    return rows


COMPILE_CHILD = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
import numpy as np
import cascades
from cascades import FractionalThreshold, simulate
t1 = time.perf_counter()
graph = cascades.erdos_renyi(100, 4.0, rng=0)
model = FractionalThreshold(0.18)
seeds = np.array([0, 1])
t2 = time.perf_counter()
simulate(graph, model, seeds=seeds)
t3 = time.perf_counter()
simulate(graph, model, seeds=seeds)
t4 = time.perf_counter()
simulate(graph, model, seeds=seeds, dynamics="sync")
t5 = time.perf_counter()
simulate(graph, model, seeds=seeds, dynamics="sync")
t6 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "graph_s": t2 - t1, "first_async_s": t3 - t2,
                  "second_async_s": t4 - t3, "first_sync_s": t5 - t4, "second_sync_s": t6 - t5}}))
"""


def compile_case():
    """Time a fresh process twice on one empty NUMBA_CACHE_DIR: cold (compiles, writes), then cached.

    Reported per process: the import of cascades, a first graph (its generator
    kernels compile too when the cache is cold), and the first and second
    ``simulate`` calls for each dynamics; the first call minus the second is
    the compile (cold) or cache-load (cached) time.
    """
    out = {}
    code = COMPILE_CHILD.format(root=str(ROOT))
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold", "cached"):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
            if proc.returncode:
                raise RuntimeError(f"compile-time child failed:\n{proc.stderr}")
            rec = json.loads(proc.stdout.strip().splitlines()[-1])
            rec["process_s"] = time.perf_counter() - t0
            out[label] = rec
    return out


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def busy_processes(interval=0.5, min_share=0.1):
    """Processes that used at least ``min_share`` of a core during ``interval`` s (Linux /proc)."""

    def cpu_ticks():
        ticks = {}
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks[int(pid)] = (name, int(fields[11]) + int(fields[12]))  # utime + stime
        return ticks

    try:
        hz = os.sysconf("SC_CLK_TCK")
        before = cpu_ticks()
        time.sleep(interval)
        after = cpu_ticks()
    except (OSError, ValueError):
        return None
    busy = []
    for pid, (name, t1) in after.items():
        if pid == os.getpid() or pid not in before:
            continue
        share = (t1 - before[pid][1]) / (hz * interval)
        if share >= min_share:
            busy.append(f"{name} (pid {pid}, {100 * share:.0f}% of a core)")
    return busy


def load_snapshot():
    """Load average and the processes busy right now, to judge the noise of a run."""
    return {"loadavg": os.getloadavg(), "busy_processes": busy_processes()}


def git_state():
    """Commit of the working tree and the modified or untracked files under cascades/ (or None)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "cascades"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "cascades_changes": [line[3:] for line in status]}


def overhead_line(rows):
    """Per-call overhead of simulate from the interleaved rows: simulate minus its bare kernel."""
    by_label = {r["implementation"]: r for r in rows}
    if "cascades simulate" not in by_label or "cascades bare kernel" not in by_label:
        return None
    sim, bare = by_label["cascades simulate"], by_label["cascades bare kernel"]
    t_sim, t_bare = sim["seconds"], bare["seconds"]
    return {
        "simulate_s": t_sim,
        "bare_kernel_s": t_bare,
        "overhead_s": t_sim - t_bare,
        "overhead_share": (t_sim - t_bare) / t_sim,
        # the same from the CPU time of those calls: less disturbed when other processes share the cores
        "overhead_cpu_s": sim["cpu_seconds"] - bare["cpu_seconds"],
    }


def print_table(rows, info):
    print(
        f"\nn = {info['n']}, m = {info['m']}, {info['n_seeds']} seeds, final fraction "
        f"{info['final_fraction']:.4f}, edges processed {info['edges_processed']}"
    )
    header = (
        f"{'implementation':<26} {'seconds':>10} {'cpu s':>10} {'runs':>4} {'edges/s':>10} {'speedup':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        extra = ""
        if "reference_adjacent_s" in row:
            extra = f"   (vs {row['reference_adjacent_s']:.4f} s measured next to it"
            if row["implementation"] == "ndlib":
                extra += f"; {row['iterations']} iterations; setup {row['setup_seconds']:.2f} s not counted"
            extra += ")"
        cpu = f"{row['cpu_seconds']:10.4f}" if "cpu_seconds" in row else f"{'':>10}"
        print(
            f"{row['implementation']:<26} {row['seconds']:10.4f} {cpu} {row['runs']:>4} "
            f"{row['edges_per_s']:10.3g} {row['speedup']:9.1f}{extra}",
            flush=True,
        )


def check_targets(rows):
    """Target lines for the n = 10^5 comparison: (label, speedup, target, met)."""
    out = []
    by_label = {r["implementation"]: r for r in rows}
    if "cascades simulate" not in by_label:
        return out
    for label, target in TARGETS.items():
        if label in by_label:
            speedup = by_label[label]["speedup"]
            out.append((label, speedup, target, speedup >= target))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 10^4 only, small ensemble")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--slow", type=float, default=None, help="time cases slower than this once (default 10 s, quick 1 s)"
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=None, help="override the graph sizes")
    parser.add_argument("--max-ndlib", type=int, default=10**6, help="largest n for NDlib")
    parser.add_argument("--max-networkx", type=int, default=10**6, help="largest n for the networkx loop")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="what to measure (default: all)",
    )
    args = parser.parse_args(argv)
    if args.slow is None:
        args.slow = 1.0 if args.quick else 10.0
    sizes = args.sizes or ([10**4] if args.quick else [10**5, 10**6])
    if args.quick:
        args.max_ndlib = min(args.max_ndlib, 10**4)

    notes = []
    api, note = load_cascades()
    if note:
        notes.append(note)
    try:
        import ndlib.models.epidemics  # noqa: F401  (fails without six, which ndlib needs but does not declare)

        # the distribution's version: ndlib 6.0.1 still says "6.0.0" in ndlib.__version__
        ndlib_version = metadata.version("ndlib")
        ndlib_ok = True
    except (ImportError, metadata.PackageNotFoundError) as err:
        ndlib_ok, ndlib_version = False, None
        notes.append(f"ndlib not usable ({err}): skipped")
    import networkx
    import scipy

    print(
        f"cascades {cascades.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"numba {numba.__version__}, networkx {networkx.__version__}, ndlib {ndlib_version}, "
        f"python {platform.python_version()}, {os.cpu_count()} cpus"
    )
    before = load_snapshot()
    print(f"load average {before['loadavg']}; busy: {', '.join(before['busy_processes'] or []) or '-'}")
    for note in notes:
        print("note:", note)

    # warm-up: compile every kernel once
    warm = cascades.erdos_renyi(1000, MEAN_DEGREE, rng=0)
    warm_seeds = seed_set(1000)
    numba_floor(warm, PHI, warm_seeds)
    if api is not None:
        warm_model = api[2](PHI)
        for dynamics in ("async", "sync"):
            api[0](warm, warm_model, seeds=warm_seeds, dynamics=dynamics)

    comparisons = []
    targets = []
    for n in sizes if "compare" in args.parts else []:
        rows, info = compare_case(n, args, api, ndlib_ok)
        print_table(rows, info)
        info["overhead"] = overhead_line(rows)
        if info["overhead"]:
            o = info["overhead"]
            print(
                f"per-call overhead of simulate (best simulate - best bare kernel, interleaved): "
                f"{o['overhead_s'] * 1e3:.3f} ms = {100 * o['overhead_share']:.1f}% of simulate "
                f"(from CPU times {o['overhead_cpu_s'] * 1e3:.3f} ms)"
            )
        ratios = {
            r["implementation"]: r["speedup"] for r in rows if r["implementation"] != "cascades simulate"
        }
        print(
            "ratios t(alternative) / t(cascades simulate): "
            + ", ".join(f"{k} {v:.2f}x" for k, v in ratios.items())
        )
        comparisons.append({"info": info, "rows": rows})
        if n == 10**5:
            targets = check_targets(rows)

    ensemble = overhead = compile_times = None
    if api is not None and "ensemble" in args.parts:
        n_ens, runs_ens = (10**4, 20) if args.quick else (10**5, 40)
        ensemble = ensemble_case(api, n_ens, runs_ens, 2 if args.quick else args.repeats)
        print(f"\nsimulate_ensemble, n = {n_ens}, {runs_ens} runs, seed fraction {SEED_FRACTION}")
        print(f"{'mode':<12} {'workers':>7} {'seconds':>9} {'cpu/wall':>8} {'runs/s':>8} {'2 vs 1':>7}")
        for row in ensemble:
            scaling = f"{row['scaling']:7.2f}" if "scaling" in row else ""
            print(
                f"{row['mode']:<12} {row['workers']:>7} {row['seconds']:9.3f} "
                f"{row['cpu_seconds'] / row['seconds']:8.2f} {row['runs_per_s']:8.1f} {scaling}"
            )
    if api is not None and "overhead" in args.parts:
        overhead = overhead_case(api, [10**3, 10**4] if args.quick else [10**4, 10**5], args.repeats)
        print("\nper-call overhead: simulate minus its own numba kernel inside the same call, best calls")
        print(
            f"{'n':>8} {'simulate s':>12} {'its kernel s':>13} {'overhead s':>11} {'overhead %':>10} "
            f"{'floor bare s':>13} {'sim/floor':>9}"
        )
        for row in overhead:
            kernel_s = "-" if row["kernel_s"] is None else f"{row['kernel_s']:.6f}"
            print(
                f"{row['n']:>8} {row['simulate_s']:12.6f} {kernel_s:>13} "
                f"{row['overhead_s']:11.6f} {100 * row['overhead_s'] / row['simulate_s']:10.1f} "
                f"{row['floor_bare_s']:13.6f} {row['simulate_s'] / row['floor_bare_s']:9.2f}"
            )
    if api is not None and "compile" in args.parts:
        compile_times = compile_case()
        print("\nnumba compile time of simulate (fresh process, NUMBA_CACHE_DIR in a temp dir)")
        for label, rec in compile_times.items():
            print(
                f"{label:<7} process {rec['process_s']:.2f} s, import {rec['import_s']:.2f} s, "
                f"first graph {rec['graph_s']:.2f} s; "
                f"first async call {rec['first_async_s']:.2f} s "
                f"(then {rec['second_async_s'] * 1e3:.2f} ms); first sync call "
                f"{rec['first_sync_s']:.2f} s (then {rec['second_sync_s'] * 1e3:.2f} ms)"
            )

    if targets:
        print("\ntargets at n = 10^5 (speedup of cascades simulate over each):")
        for label, speedup, target, met in targets:
            print(f"  {label:<12} {speedup:8.1f}x  target >= {target:g}x  {'met' if met else 'MISSED'}")
    if ensemble and not args.quick:
        for row in ensemble:
            if "scaling" in row and row["mode"] != "graphs only":
                met = "met" if row["scaling"] >= ENSEMBLE_TARGET else "MISSED"
                print(
                    f"  ensemble {row['mode']:<12} 2 vs 1 workers {row['scaling']:.2f}x  "
                    f"target >= {ENSEMBLE_TARGET}x  {met}"
                )

    after = load_snapshot()
    busy = ", ".join(after["busy_processes"] or []) or "-"
    print(f"\nload average at the end {after['loadavg']}; busy: {busy}")

    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results / f"bench_simulate-{stamp}{'-quick' if args.quick else ''}.json"
    meta = {
        "cascades": cascades.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "networkx": networkx.__version__,
        "ndlib": ndlib_version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "case": {
            "graph": "erdos_renyi",
            "mean_degree": MEAN_DEGREE,
            "phi": PHI,
            "rule": "m >= ceil(phi * k), k = 0 never",
            "seed_fraction": SEED_FRACTION,
            "graph_seed": GRAPH_SEED,
            "seeds_seed": SEEDS_SEED,
        },
        "edges_processed": "sum of the degrees of the finally active nodes (CSR entries a queue scans)",
        "speedup": "t(alternative) / t(cascades simulate); networkx and NDlib against reference_adjacent_s",
        "git": git_state(),
        "notes": notes,
        "load_before": before,
        "load_after": after,
    }
    record = {
        "meta": meta,
        "comparisons": comparisons,
        "targets_n1e5": [
            {"alternative": a, "speedup": s, "target": t, "met": bool(m)} for a, s, t, m in targets
        ],
        "ensemble": ensemble,
        "overhead": overhead,
        "compile": compile_times,
    }
    path.write_text(json.dumps(record, indent=2))
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
