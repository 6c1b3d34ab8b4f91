"""Time the cascade size distributions of cascades.distributions against the Monte Carlo effort.

Usage (from the repository root)::

    python benchmarks/bench_distributions.py            # full run (a few minutes)
    python benchmarks/bench_distributions.py --quick    # smaller trees and fewer simulated cascades

Cases:

* ``size_distribution`` on a random recursive tree with 10^4 nodes (``--quick``: 2000): the independent
  cascade model (p = 0.5), Watts' threshold (phi = 0.3) and random thresholds phi ~ N(0.25, 0.1), each
  node a seed with probability 10^-3. The result is exact up to round-off (~1e-13).
* The Monte Carlo effort for the same accuracy: the time of one simulated cascade on the same tree
  (``cascades.simulation.simulate`` with a precomputed rule and a Bernoulli seed mask, mean of many), and
  the number of cascades N(eps) for an expected total variation eps between the histogram and the law,
  N(eps) = (sum_s sqrt(p_s (1 - p_s)) / (2 eps))^2 (the bound of ``sampling_tv_bound``, checked by the
  TV actually measured with a few thousand cascades).
* The bp-tree approximation on Erdos-Renyi graphs near the upper boundary of the Watts window (phi = 0.18,
  z = 5.6, two expected seeds): time, and the weights of the two modes against simulation.

Best of ``--repeats`` after a warm-up call that compiles the numba kernels, as wall time and as CPU time
of this process (the kernels are single-threaded, so on a shared machine the CPU time is the better
measure). Monte Carlo per-cascade costs are CPU times. Results go to
``benchmarks/results/bench_distributions-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numba  # noqa: E402
from scipy import stats  # noqa: E402

from cascades.distributions import (  # noqa: E402
    empirical_size_distribution,
    sampling_tv_bound,
    size_distribution,
    total_variation,
)
from cascades.graphs import erdos_renyi, from_edges  # noqa: E402
from cascades.models import FractionalThreshold, IndependentCascade  # noqa: E402
from cascades.simulation import simulate  # noqa: E402


def best_time(fn, repeats):
    """(best wall time, best CPU time of this process, last result) of ``repeats`` calls."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def random_tree(n, seed):
    gen = np.random.default_rng(seed)
    parents = (gen.random(n - 1) * np.arange(1, n)).astype(np.int64)  # uniform over the earlier nodes
    return from_edges(np.column_stack([parents, np.arange(1, n)]))


def simulate_sizes(graph, model, p, n_runs, seed):
    gen = np.random.default_rng(seed)
    random_rule = hasattr(getattr(model, "phi", None), "cdf")
    rule = None if random_rule else model.rule(graph)
    sizes = np.empty(n_runs, dtype=np.int64)
    for r in range(n_runs):
        run_rule = model.rule(graph, rng=gen) if random_rule else rule
        sizes[r] = simulate(graph, run_rule, seeds=gen.random(graph.n) < p, rng=gen).n_active
    return sizes


def runs_for(pmf, eps):
    return float((np.sqrt(pmf * (1 - pmf)).sum() / (2 * eps)) ** 2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller trees, fewer simulated cascades")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    n_tree = 2000 if args.quick else 10**4
    n_sim = 1000 if args.quick else 4000
    rows = []

    tree = random_tree(n_tree, 0)
    p = 1e-3
    models = {
        "ICM p = 0.5": IndependentCascade(0.5),
        "Watts phi = 0.3": FractionalThreshold(0.3),
        "phi ~ N(0.25, 0.1)": FractionalThreshold(stats.norm(0.25, 0.1)),
    }
    small = random_tree(50, 1)
    for model in models.values():  # compile
        size_distribution(small, model, p)
    for label, model in models.items():
        t, cpu, d = best_time(lambda model=model: size_distribution(tree, model, p), repeats)
        # Monte Carlo: CPU time per cascade, the runs needed for an expected TV of 1e-2 and 1e-3
        c0 = time.process_time()
        sizes = simulate_sizes(tree, model, p, n_sim, 2)
        per_run = (time.process_time() - c0) / n_sim
        tv = total_variation(d, empirical_size_distribution(sizes, tree.n))
        bound = sampling_tv_bound(d.pmf, n_sim)
        n2, n3 = runs_for(d.pmf, 1e-2), runs_for(d.pmf, 1e-3)
        rows.append(
            {
                "case": f"size_distribution, random tree n = {tree.n}, {label}, seed prob {p}",
                "seconds": t,
                "cpu_seconds": cpu,
                "notes": (
                    f"mean {d.mean:.4g}; Monte Carlo (CPU): {per_run * 1e3:.3g} ms per cascade; "
                    f"TV of {n_sim} runs {tv:.4f} (bound {bound:.4f}); "
                    f"TV 1e-2 needs {n2:.3g} runs ({n2 * per_run:.3g} s), "
                    f"TV 1e-3 needs {n3:.3g} runs ({n3 * per_run:.3g} s)"
                ),
            }
        )
        print(rows[-1]["case"], f"{t:.3f} s (CPU {cpu:.3f} s)", rows[-1]["notes"], flush=True)

    # bp-tree near the upper boundary of the Watts window
    for n in (1000,) if args.quick else (1000, 10**4):
        g = erdos_renyi(n, 5.6, rng=1)
        model = FractionalThreshold(0.18)
        pp = 2.0 / n
        t, cpu, d = best_time(lambda g=g, model=model, pp=pp: size_distribution(g, model, pp), repeats)
        d_tree = size_distribution(g, model, pp, fold="tree")
        runs = n_sim if n == 1000 else n_sim // 4
        sizes = simulate_sizes(g, model, pp, runs, 3)
        e = empirical_size_distribution(sizes, n)
        lo_sim, hi_sim = (sizes < 0.1 * n).mean(), (sizes > 0.9 * n).mean()
        lo_th, hi_th = d.pmf[: int(0.1 * n)].sum(), d.pmf[int(0.9 * n) + 1 :].sum()
        rows.append(
            {
                "case": f"size_distribution bp-tree, ER n = {n}, z = 5.6, phi = 0.18, 2 expected seeds",
                "seconds": t,
                "cpu_seconds": cpu,
                "notes": (
                    f"{d.info['deleted_edges']} deleted edges, {d.info['bp_sweeps']} BP sweeps; "
                    f"P(S < 0.1 n): sim {lo_sim:.3f} vs bp-tree {lo_th:.3f}; P(S > 0.9 n): sim {hi_sim:.3f} "
                    f"vs bp-tree {hi_th:.3f}; TV {total_variation(d, e):.3f} ({runs} runs); fold='tree': "
                    f"P(S < 0.1 n) {d_tree.pmf[: int(0.1 * n)].sum():.3f}, P(S > 0.9 n) "
                    f"{d_tree.pmf[int(0.9 * n) + 1 :].sum():.3f}, TV {total_variation(d_tree, e):.3f}"
                ),
            }
        )
        print(rows[-1]["case"], f"{t:.3f} s (CPU {cpu:.3f} s)", rows[-1]["notes"], flush=True)

    out = {
        "script": "bench_distributions.py",
        "quick": args.quick,
        "repeats": repeats,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "machine": platform.machine(),
        "rows": rows,
    }
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results / f"bench_distributions-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
