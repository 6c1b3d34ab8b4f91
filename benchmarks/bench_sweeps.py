"""Time cascades.sweep: throughput with 1 vs 2 workers (processes and Dask) and the overhead per task.

Usage (from the repository root)::

    python benchmarks/bench_sweeps.py            # about 3 minutes on 2 idle cores
    python benchmarks/bench_sweeps.py --quick    # fewer tasks (about a minute)

What it measures:

* **Overhead per task**: a trivial function (one ``rng.random()``) over N grid points, one
  realization each, ``chunk_size=1``, so every realization is one task (and, with ``out``, one
  chunk file written atomically with fsync). The per-task overhead is the slope
  (t(N) - t(20)) / (N - 20), best of the rounds for each size, which removes the fixed start-up
  (a process pool is started by every ``sweep`` call; a Dask cluster is started once, outside the
  timing). Backends: serial without and with ``out``, processes with 1 and 2 workers, Dask
  (LocalCluster, 1 thread per worker process) with 1 and 2 workers.
* **Throughput**: the "watts-window" realization (fresh Erdos-Renyi graph with n = 10^4, z = 4,
  phi = 0.18, one random seed) over 128 grid points x 4 realizations (``--quick``: 64 x 4),
  ``chunk_size=8``, in realizations per second, for the same backends, and the speedup of 2
  workers over 1 per backend. The process pool's start-up is part of every call: the raw rate
  includes it, the "net" rate subtracts the time of a 1-task sweep.

The configurations run in interleaved rounds (every configuration once per round, ``--rounds``
rounds); the best round counts. The machine is shared: the load average before and after is
printed and stored, and timings on a loaded machine are noisy. Results go to
``benchmarks/results/bench_sweeps-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cascades  # noqa: E402
from cascades import campaigns  # noqa: E402
from cascades.sweeps import sweep  # noqa: E402


def trivial(i, *, rng):
    """The cheapest possible realization: one uniform."""
    return rng.random()


def _timed(function, grid, n_realizations, backend, **kw):
    t = time.perf_counter()
    sweep(function, grid, n_realizations, rng=0, backend=backend, progress=False, **kw)
    return time.perf_counter() - t


def _load():
    return os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3, quick 2)")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask backend")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 3)
    n_trivial = 200 if args.quick else 500
    watts_grid = {"z": np.full(64 if args.quick else 128, 4.0)}  # identical points: equal work per task
    watts_fn = functools.partial(campaigns.watts_realization, n=10**4, phi=0.18)
    watts_real = 4

    clusters = {}
    if not args.no_dask:
        try:
            import distributed
        except ImportError:
            print("distributed is not installed: skipping the Dask backend")
        else:
            for w in (1, 2):
                cluster = distributed.LocalCluster(
                    n_workers=w, threads_per_worker=1, dashboard_address=":0", silence_logs=40
                )
                client = distributed.Client(cluster)
                _timed(watts_fn, {"z": [4.0] * (2 * w)}, 1, client)  # workers import and compile
                clusters[f"dask, {w} worker{'s' if w > 1 else ''}"] = (cluster, client)

    backends = {"serial": ("serial", {}), "processes, 1 worker": ("processes", {"workers": 1})}
    backends["processes, 2 workers"] = ("processes", {"workers": 2})
    for name, (_, client) in clusters.items():
        backends[name] = (client, {})

    print(f"cascades {cascades.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores")
    load_before = _load()
    print(f"load average before: {load_before}")
    _timed(watts_fn, {"z": [4.0]}, 1, "serial")  # compile the kernels in this process

    n_small = 20
    t_small, t_big, t_watts, t_one = {}, {}, {}, {}
    for r in range(rounds):
        print(f"round {r + 1} of {rounds}")
        for name, (backend, kw) in backends.items():
            t_one.setdefault(name, []).append(_timed(trivial, {"i": [0]}, 1, backend, chunk_size=1, **kw))
            t_small.setdefault(name, []).append(
                _timed(trivial, {"i": np.arange(n_small)}, 1, backend, chunk_size=1, **kw)
            )
            t_big.setdefault(name, []).append(
                _timed(trivial, {"i": np.arange(n_trivial)}, 1, backend, chunk_size=1, **kw)
            )
            t_watts.setdefault(name, []).append(
                _timed(watts_fn, watts_grid, watts_real, backend, chunk_size=8, **kw)
            )
        with tempfile.TemporaryDirectory() as tmp:
            name = "serial with out (file per chunk)"
            grid_small, grid_big = {"i": np.arange(n_small)}, {"i": np.arange(n_trivial)}
            out_small, out_big = os.path.join(tmp, "a"), os.path.join(tmp, "b")
            t_small.setdefault(name, []).append(
                _timed(trivial, grid_small, 1, "serial", chunk_size=1, out=out_small)
            )
            t_big.setdefault(name, []).append(
                _timed(trivial, grid_big, 1, "serial", chunk_size=1, out=out_big)
            )

    load_after = _load()
    for _, (cluster, client) in clusters.items():
        client.close()
        cluster.close()

    n_watts = len(watts_grid["z"]) * watts_real
    rows = []
    header = f"{'backend':34s} {'overhead/task ms':>16s} {'1-task sweep s':>15s} {'real./s':>9s}"
    header += f" {'real./s net':>12s}"
    print("\n" + header)
    for name in t_big:
        # best of the rounds for each size, then the slope (the fixed start-up cancels)
        oh = (min(t_big[name]) - min(t_small[name])) / (n_trivial - n_small)
        st = min(t_one[name]) if name in t_one else float("nan")
        tw = min(t_watts[name]) if name in t_watts else float("nan")
        row = {
            "backend": name,
            "overhead_ms": oh * 1e3,
            "one_task_s": st,
            "realizations_per_s": n_watts / tw,
            "realizations_per_s_without_startup": n_watts / max(tw - st, 1e-9),
        }
        rows.append(row)
        print(
            f"{name:34s} {row['overhead_ms']:16.3f} {st:15.3f} {row['realizations_per_s']:9.1f} "
            f"{row['realizations_per_s_without_startup']:12.1f}"
        )
    speedups = {}
    for kind in ("processes", "dask"):
        one = [r for r in rows if r["backend"].startswith(kind) and "1 worker" in r["backend"]]
        two = [r for r in rows if r["backend"].startswith(kind) and "2 workers" in r["backend"]]
        if one and two:
            speedups[kind] = two[0]["realizations_per_s"] / one[0]["realizations_per_s"]
            print(f"speedup of 2 workers over 1 ({kind}): {speedups[kind]:.2f}")
    print(f"load average after: {load_after}")

    versions = {}
    for pkg in ("numpy", "numba", "xarray", "dask", "distributed"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    record = {
        "benchmark": "bench_sweeps",
        "quick": args.quick,
        "rounds": rounds,
        "n_trivial_tasks": n_trivial,
        "watts_tasks": len(watts_grid["z"]) * watts_real,
        "python": platform.python_version(),
        "cascades": cascades.__version__,
        "versions": versions,
        "cpu_count": os.cpu_count(),
        "load_before": load_before,
        "load_after": load_after,
        "rows": rows,
        "all_rounds_s": {"one_task": t_one, "small": t_small, "big": t_big, "watts": t_watts},
        "n_small_tasks": n_small,
        "speedup_2_over_1": speedups,
    }
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results / f"bench_sweeps-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(record, indent=1))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
