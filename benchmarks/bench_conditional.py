"""Time ``conditional_activation``: the two-pass (all roots at once) scheme against per-node rerooting.

Usage (from the repository root)::

    python benchmarks/bench_conditional.py            # n = 200, 1000 and, when rerooting is fast enough, 3000
    python benchmarks/bench_conditional.py --quick    # n = 200 and 500

Random recursive trees (node i attached to a uniform earlier node), every node requested, each node a
seed with probability 0.01; the independent cascade model (p = 0.5), Watts' threshold (phi = 0.3) and
random thresholds phi ~ N(0.25, 0.1). Best of ``--repeats`` wall times after a warm-up call on a small
tree that compiles the numba kernels. The largest n is skipped for a model when the rerooting time
extrapolated from the previous n (cubic growth) exceeds ``--max-reroot`` seconds. The table also gives
the largest difference between the two joint tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascades.distributions import conditional_activation  # noqa: E402
from cascades.graphs import from_edges  # noqa: E402
from cascades.models import FractionalThreshold, IndependentCascade  # noqa: E402


def random_tree(n, rng):
    parents = rng.integers(0, np.arange(1, n))
    return from_edges(np.column_stack([parents, np.arange(1, n)]), n=n)


def best_of(repeats, f):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 200 and 500 only")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many runs (default 2)")
    ap.add_argument("--max-reroot", type=float, default=120.0,
                    help="skip a size whose extrapolated rerooting time exceeds this (s, default 120)")
    args = ap.parse_args(argv)
    sizes = [200, 500] if args.quick else [200, 1000, 3000]
    models = {
        "icm p=0.5": IndependentCascade(0.5),
        "watts phi=0.3": FractionalThreshold(0.3),
        "random phi": FractionalThreshold(stats.norm(0.25, 0.1)),
    }
    p = 0.01
    small = random_tree(30, np.random.default_rng(0))
    for model in models.values():  # compile the kernels
        for algorithm in ("two-pass", "reroot"):
            conditional_activation(small, model, p, algorithm=algorithm)
    print(f"{'n':>6}  {'model':<14} {'reroot (s)':>11} {'two-pass (s)':>13} {'ratio':>8} {'max |diff|':>11}")
    last = {}
    for n in sizes:
        g = random_tree(n, np.random.default_rng(n))
        for name, model in models.items():
            t_two, two = best_of(args.repeats, lambda g=g, model=model: conditional_activation(
                g, model, p, max_work=1e300))
            prev = last.get(name)
            if prev is not None and prev[1] * (n / prev[0]) ** 3 > args.max_reroot:
                print(f"{n:>6}  {name:<14} {'skipped':>11} {t_two:>13.4f} {'':>8} {'':>11}", flush=True)
                continue
            t_re, re = best_of(args.repeats, lambda g=g, model=model: conditional_activation(
                g, model, p, max_work=1e300, algorithm="reroot"))
            last[name] = (n, t_re)
            diff = float(np.abs(two.joint - re.joint).max())
            print(f"{n:>6}  {name:<14} {t_re:>11.4f} {t_two:>13.4f} {t_re / t_two:>8.1f} {diff:>11.2e}",
                  flush=True)


if __name__ == "__main__":
    main()
