"""Time the mean-field solvers of cascades.

Usage (from the repository root)::

    python benchmarks/bench_meanfield.py            # full run (about a minute)
    python benchmarks/bench_meanfield.py --quick    # one repeat, smaller per-point comparison

Cases:

* ``cascade_window`` on a 200 x 200 (z, phi) grid, Erdos-Renyi (Poisson) degrees and Watts'
  threshold: the cascade condition alone (seed_fraction = 0), and with the finite-seed final size
  (seed_fraction = 0.01, tol = 1e-10). For comparison, one ``final_size`` call per grid point,
  timed on a sub-grid and scaled to 40 000 points.
* ``final_size`` on a power law PowerLaw(2.5, kmin=2, kmax=10^4) (tables of 10^4 degrees): Watts'
  threshold (regularized incomplete beta path, O(K) per iteration) in and out of the cascade
  regime, and a random threshold (band path, O(sum_n sqrt(n q (1-q))) per iteration).

Each case is timed end to end, best of ``--repeats`` runs after a warm-up call that compiles the
numba kernels. Results go to ``benchmarks/results/bench_meanfield-<timestamp>.json``.
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

from cascades.degrees import Poisson, PowerLaw  # noqa: E402
from cascades.meanfield import cascade_window, final_size  # noqa: E402
from cascades.models import FractionalThreshold  # noqa: E402

Z = np.linspace(0.5, 10.0, 200)
PHI = np.linspace(0.05, 0.5, 200)


def best_time(fn, repeats):
    """(best wall time of ``repeats`` calls, the last result)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, a smaller per-point sub-grid")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    rows = []

    # warm-up: compile / load the kernels
    cascade_window(Z[:3], PHI[:3], seed_fraction=0.01)
    final_size(FractionalThreshold(stats.norm(0.3, 0.05)), PowerLaw(2.5, kmin=2, kmax=700), 0.01)

    t, w = best_time(lambda: cascade_window(Z, PHI), repeats)
    note = f"{int(w.cascades.sum())} points with C1 > 1"
    rows.append(("cascade_window 200x200, C1 only (rho0 -> 0)", t, note))
    t, w = best_time(lambda: cascade_window(Z, PHI, seed_fraction=0.01), repeats)
    rows.append(
        (
            "cascade_window 200x200, finite seed 0.01 (C1 + final size)",
            t,
            f"mean {w.n_iter.mean():.1f} / max {int(w.n_iter.max())} iterations, "
            f"{int((~w.converged).sum())} not converged",
        )
    )
    sub = 10 if args.quick else 20
    zs, ps = Z[:: 200 // sub], PHI[:: 200 // sub]
    t0 = time.perf_counter()
    for z in zs:
        for p in ps:
            final_size(FractionalThreshold(float(p)), Poisson(float(z)), 0.01, tol=1e-10)
    per_point = (time.perf_counter() - t0) / (zs.size * ps.size)
    rows.append(
        (
            "same grid, one final_size call per point (scaled from a sub-grid)",
            per_point * Z.size * PHI.size,
            f"{per_point * 1e3:.2f} ms per point on {zs.size}x{ps.size}",
        )
    )

    pl = PowerLaw(2.5, kmin=2, kmax=10**4)
    for phi, label in ((0.18, "global cascade"), (0.3, "no global cascade")):
        t, r = best_time(lambda phi=phi: final_size(FractionalThreshold(phi), pl, 0.01), repeats)
        name = f"final_size PowerLaw(2.5, 2, 10^4), phi = {phi} ({label})"
        rows.append((name, t, f"{r.n_iter} iterations"))
    model = FractionalThreshold(stats.norm(0.3, 0.05))
    t, r = best_time(lambda: final_size(model, pl, 0.01), repeats)
    name = "final_size PowerLaw(2.5, 2, 10^4), phi ~ N(0.3, 0.05) (band path)"
    rows.append((name, t, f"{r.n_iter} iterations"))
    t, r = best_time(lambda: final_size(FractionalThreshold(0.3), pl, 0.01, trajectory=True), repeats)
    rows.append(("final_size, the phi = 0.3 case with trajectory=True", t, f"{r.rho_t.size} time points"))

    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'seconds':>9}  notes")
    for name, sec, note in rows:
        print(f"{name:<{width}}  {sec:9.3f}  {note}")

    out = {
        "script": "bench_meanfield.py",
        "quick": args.quick,
        "repeats": repeats,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "machine": platform.machine(),
        "rows": [{"case": n, "seconds": s, "notes": note} for n, s, note in rows],
    }
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results / f"bench_meanfield-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
