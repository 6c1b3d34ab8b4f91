"""Time the mean-field phase diagram of cascades.nn on Poole et al.'s (2016) grid.

Usage (from the repository root)::

    python benchmarks/bench_nn_meanfield.py            # 41 x 41 and 201 x 201 grids (several minutes)
    python benchmarks/bench_nn_meanfield.py --quick    # 41 x 41 grids only

The grid is Poole's: sigma_w in [1, 5] and sigma_b in [0, 4] as standard deviations
(``axes="std"``). Each case is timed end to end (best of ``--repeats`` runs), for

* ``relu`` (every expectation in closed form),
* ``erf`` (closed forms: arcsine kernel),
* ``tanh`` with ``correlations=False`` (q*, chi_1 and the classification: 1-D quadrature only),
* ``tanh`` with ``correlations=True`` (plus c* and chi_c: 2-D quadrature on the chaotic points).

Results go to ``benchmarks/results/bench_nn_meanfield-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascades.nn import phase_diagram  # noqa: E402


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="41 x 41 grids only")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [41] if args.quick else [41, 201]
    cases = [
        ("relu", {}),
        ("erf", {}),
        ("tanh", {"correlations": False}),
        ("tanh", {"correlations": True}),  # library defaults: n = 301, n2 = 121
        ("tanh", {"correlations": True, "n": 201, "n2": 61}),  # cheaper, less accurate at large q*
    ]
    rows = []
    for size in sizes:
        w = np.linspace(1.0, 5.0, size)
        b = np.linspace(0.0, 4.0, size)
        for name, kw in cases:
            seconds, pd = best_time(
                lambda name=name, kw=kw, w=w, b=b: phase_diagram(name, w, b, **kw), args.repeats
            )
            row = {
                "activation": name,
                "grid": f"{size}x{size}",
                "correlations": kw.get("correlations", True),
                "n": kw.get("n", 301),
                "n2": kw.get("n2", 121),
                "seconds": round(seconds, 3),
                "chaotic_fraction": round(float(pd.chaotic.mean()), 4),
                "max_q_star": float(np.nanmax(np.where(np.isfinite(pd.q_star), pd.q_star, np.nan))),
            }
            rows.append(row)
            print(f"{name:5s} {size:4d}x{size:<4d} correlations={row['correlations']!s:5s} "
                  f"n={row['n']} n2={row['n2']} "
                  f"{seconds:8.2f} s  chaotic {row['chaotic_fraction']:.3f}", flush=True)
    out = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
        },
        "rows": rows,
    }
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results / f"bench_nn_meanfield-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
