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
* Graphs with cycles (Erdos-Renyi): the two-branch approximation (the default there) and the bp-tree
  approximation against simulated histograms, near the upper boundary of the Watts window (phi = 0.18,
  z = 5.6, two expected seeds; n = 10^4 on three graph draws, not with ``--quick``) and for the ICM without
  and with a giant cluster: time, total variation, weight of the small mode.

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
import warnings
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

    # graphs with cycles: the two-branch (default) and bp-tree approximations against simulation
    loopy = [
        ("Watts phi = 0.18, z = 5.6 (window edge)", 1000, 5.6, FractionalThreshold(0.18), 2.0, 1),
        ("ICM w = 0.25, z = 3 (no giant)", 1000, 3.0, IndependentCascade(0.25), 5.0, 1),
        ("ICM w = 0.5, z = 3 (giant)", 1000, 3.0, IndependentCascade(0.5), 2.0, 1),
    ]
    if not args.quick:
        loopy += [
            (f"Watts phi = 0.18, z = 5.6, graph {gs}", 10**4, 5.6, FractionalThreshold(0.18), 2.0, gs)
            for gs in (1, 2, 3)
        ]
    for label, n, z, model, seeds, gs in loopy:
        g = erdos_renyi(n, z, rng=gs)
        pp = seeds / n
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t, cpu, d = best_time(lambda g=g, model=model, pp=pp: size_distribution(g, model, pp), repeats)
        warned = sorted({str(w.message).split(":")[0][:60] for w in caught if w.category is RuntimeWarning})
        t_bp, cpu_bp, d_bp = best_time(
            lambda g=g, model=model, pp=pp: size_distribution(g, model, pp, method="bp-tree"), repeats
        )
        runs = n_sim if n == 1000 else n_sim // 2
        t0 = time.process_time()
        sizes = simulate_sizes(g, model, pp, runs, 3)
        per_run = (time.process_time() - t0) / runs
        e = empirical_size_distribution(sizes, n)
        small = int(0.1 * n)
        rows.append(
            {
                "case": f"ER n = {n}, {label}, {seeds:g} expected seeds",
                "seconds": t,
                "cpu_seconds": cpu,
                "notes": (
                    f"two-branch TV {total_variation(d, e):.3f}, P(S < n/10) {d.pmf[:small].sum():.3f}, "
                    f"global weight {d.info['global_weight']:.3f} (ignited {d.info['ignited']:.3f}), "
                    f"{d.info['local_frequencies']} frequencies x {d.info['local_sweeps']} sweeps"
                    f"{', warned: ' + '; '.join(warned) if warned else ''} | bp-tree {t_bp:.3g} s (CPU "
                    f"{cpu_bp:.3g} s) TV {total_variation(d_bp, e):.3f} | simulation ({runs} runs, "
                    f"{per_run * 1e3:.3g} ms each): P(S < n/10) {(sizes < small).mean():.3f}, sampling TV "
                    f"bound {sampling_tv_bound(d.pmf, runs):.3f}"
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
