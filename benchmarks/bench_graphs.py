"""Time the graph generators of cascades against networkx, networkit and igraph.

Usage (from the repository root)::

    python benchmarks/bench_graphs.py            # full run (several minutes: the slow libraries)
    python benchmarks/bench_graphs.py --quick    # n = 10^5 only, no 10^8-edge memory run

Every case is timed end to end (Python call to finished graph object), best of
``--repeats`` runs after a warm-up call that compiles the numba kernels. An
alternative whose first run takes longer than ``--slow`` seconds is timed once.
Missing optional libraries are skipped with a note. The table gives seconds
and the ratio t(alternative) / t(cascades) (> 1: cascades is faster).
Results go to ``benchmarks/results/bench_graphs-<timestamp>.json``.

The memory case builds an Erdos-Renyi graph with n = 2 * 10^7 and mean
degree 10 (about 10^8 edges) in a child process and reports the graph's
``nbytes`` and the child's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cascades  # noqa: E402
from cascades import graphs  # noqa: E402

MEAN_DEGREE = 10.0


def best_time(fn, repeats, slow):
    """Best wall time of ``repeats`` calls (one call if the first exceeds ``slow`` seconds)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if times[0] > slow:
            break
    return min(times), len(times)


def poisson_sequence(n, seed=0):
    deg = np.random.default_rng(seed).poisson(MEAN_DEGREE, n)
    deg[0] += deg.sum() % 2
    return deg


def alternatives():
    """Import the optional libraries; return a dict name -> module (or a skip note)."""
    libs, notes = {}, []
    import networkx

    libs["networkx"] = networkx
    for name in ("networkit", "igraph"):
        try:
            libs[name] = __import__(name)
        except ImportError:
            notes.append(f"{name} not installed: skipped")
    return libs, notes


def cases(args, libs):
    """Yield (family, n, library, callable)."""
    ours_er = [10**5] if args.quick else [10**5, 10**6, 10**7]
    alt_n = 10**5 if args.quick else 10**6
    nx_er = [10**5] if args.quick else [10**5, 10**6]
    nx, nk, ig = libs.get("networkx"), libs.get("networkit"), libs.get("igraph")
    for n in ours_er:
        p = MEAN_DEGREE / (n - 1)
        yield "erdos_renyi", n, "cascades", lambda n=n: graphs.erdos_renyi(n, MEAN_DEGREE, rng=1)
        if nx is not None and n in nx_er:
            yield (
                "erdos_renyi",
                n,
                "networkx fast_gnp_random_graph",
                (lambda n=n, p=p: nx.fast_gnp_random_graph(n, p, seed=1)),
            )
        if nk is not None:
            yield (
                "erdos_renyi",
                n,
                "networkit ErdosRenyiGenerator",
                (lambda n=n, p=p: nk.generators.ErdosRenyiGenerator(n, p).generate()),
            )
        if ig is not None:
            yield "erdos_renyi", n, "igraph Erdos_Renyi", lambda n=n, p=p: ig.Graph.Erdos_Renyi(n, p)

    n = alt_n
    deg = poisson_sequence(n)
    deg_list = deg.tolist()
    yield "configuration_model", n, "cascades", lambda: graphs.configuration_model(deg, rng=1)
    yield (
        "configuration_model",
        n,
        "cascades (keep loops/multi)",
        (lambda: graphs.configuration_model(deg, rng=1, self_loops="keep", multi_edges="keep")),
    )
    if nx is not None:
        yield (
            "configuration_model",
            n,
            "networkx configuration_model",
            (lambda: nx.configuration_model(deg_list, seed=1)),
        )
    if nk is not None:
        yield (
            "configuration_model",
            n,
            "networkit ConfigurationModelGenerator",
            (lambda: nk.generators.ConfigurationModelGenerator(deg_list).generate()),
        )
    if ig is not None:
        yield (
            "configuration_model",
            n,
            "igraph Degree_Sequence configuration",
            (lambda: ig.Graph.Degree_Sequence(deg_list, method="configuration")),
        )
        yield (
            "configuration_model",
            n,
            "igraph Degree_Sequence fast_heur_simple",
            (lambda: ig.Graph.Degree_Sequence(deg_list, method="fast_heur_simple")),
        )

    k = int(MEAN_DEGREE)
    yield "random_regular", n, "cascades", lambda: graphs.random_regular(n, k, rng=1)
    if nx is not None:
        yield (
            "random_regular",
            n,
            "networkx random_regular_graph",
            lambda: nx.random_regular_graph(k, n, seed=1),
        )
    if nk is not None:
        yield (
            "random_regular",
            n,
            "networkit EdgeSwitchingMarkovChainGenerator",
            (lambda: nk.generators.EdgeSwitchingMarkovChainGenerator([k] * n).generate()),
        )
    if ig is not None:
        yield "random_regular", n, "igraph K_Regular", lambda: ig.Graph.K_Regular(n, k)

    widths = [1000] * 11 if args.quick else [10_000] * 11
    yield "layered", sum(widths), "cascades", lambda: graphs.layered(widths, 0.01, rng=1)


def memory_child(n):
    """Build ER(n, 10) and print a JSON line with timings and memory."""
    graphs.erdos_renyi(1000, MEAN_DEGREE, rng=0)  # compile
    t0 = time.perf_counter()
    g = graphs.erdos_renyi(n, MEAN_DEGREE, rng=1)
    seconds = time.perf_counter() - t0
    record = {"n": n, "m": g.m, "seconds": seconds, "graph_nbytes": g.nbytes, "peak_rss": peak_rss()}
    print(json.dumps(record))


def peak_rss():
    """Peak resident memory of this process in bytes.

    Linux: VmHWM of /proc/self/status. Not ``ru_maxrss``, which after fork + exec
    still holds the parent's high-water mark.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux; approximate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only, no memory run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--slow", type=float, default=None, help="time cases slower than this once (default 10 s, quick 1 s)"
    )
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.slow is None:
        args.slow = 1.0 if args.quick else 10.0
    if args.memory_child is not None:
        memory_child(args.memory_child)
        return

    libs, notes = alternatives()
    print(
        f"cascades {cascades.__version__}, numpy {np.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} cpus"
    )
    for note in notes:
        print("note:", note)
    # warm-up: compile every kernel once
    graphs.erdos_renyi(1000, 5.0, rng=0)
    graphs.configuration_model(poisson_sequence(1000), rng=0)
    graphs.configuration_model(poisson_sequence(1000), rng=0, self_loops="keep", multi_edges="keep")
    graphs.random_regular(1000, 10, rng=0)
    graphs.layered([100, 100], 0.1, rng=0)

    rows = []
    ours = {}
    header = f"{'generator':<20} {'n':>10}  {'library':<44} {'seconds':>9} {'runs':>4} {'alt/ours':>9}"
    print(header)
    print("-" * len(header))
    for family, n, lib, fn in cases(args, libs):
        seconds, runs = best_time(fn, args.repeats, args.slow)
        if lib == "cascades":
            ours[(family, n)] = seconds
            ratio = None
        else:
            ratio = seconds / ours[(family, n)]
        rows.append(
            {
                "generator": family,
                "n": n,
                "library": lib,
                "seconds": seconds,
                "runs": runs,
                "ratio_alt_over_ours": ratio,
            }
        )
        shown = "" if ratio is None else f"{ratio:9.1f}"
        print(f"{family:<20} {n:>10}  {lib:<44} {seconds:9.3f} {runs:>4} {shown}", flush=True)

    memory = None
    if not args.quick:
        n = 2 * 10**7
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n)], capture_output=True, text=True, check=True
        )
        memory = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"\nER n = {n}, mean degree 10: m = {memory['m']}, {memory['seconds']:.1f} s, "
            f"graph {memory['graph_nbytes'] / 1e9:.2f} GB, peak RSS {memory['peak_rss'] / 1e9:.2f} GB"
        )

    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results / f"bench_graphs-{stamp}{'-quick' if args.quick else ''}.json"
    meta = {
        "cascades": cascades.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "notes": notes,
        "versions": {name: getattr(mod, "__version__", "?") for name, mod in libs.items()},
    }
    path.write_text(json.dumps({"meta": meta, "rows": rows, "memory": memory}, indent=2))
    print(f"\nwritten: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
