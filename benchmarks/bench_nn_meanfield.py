"""Time the mean-field phase diagram of cascades.nn on Poole et al.'s (2016) grid: numba vs numpy.

Usage (from the repository root)::

    python benchmarks/bench_nn_meanfield.py              # 41 x 41 and 201 x 201 (numpy reference: minutes)
    python benchmarks/bench_nn_meanfield.py --quick      # 41 x 41 only
    python benchmarks/bench_nn_meanfield.py --no-reference   # numba path only (seconds)

The grid is Poole's: sigma_w in [1, 5] and sigma_b in [0, 4] as standard deviations
(``axes="std"``). Quadrature: the default rules (``n=None``, ``n2=None``: in the numba path the
trapezoid rule sized per point from q* for about 1e-9 (1-D) and 1e-8 (2-D) relative error, in
the numpy path the panel rule of cascades.nn.activations), and, as ``tanh fixed``, the fixed
rule that was the default before (trapezoid, n = 301 nodes in 1-D, n2 = 121 per axis in 2-D).
Cases:

* ``relu`` and ``erf``: every expectation in closed form (numpy, both methods identical);
* ``tanh`` with ``correlations=False``: q*, chi_1 and the classification (1-D quadrature);
* ``tanh`` with ``correlations=True``: plus c* and chi_c (2-D quadrature on the chaotic points);
* ``tanh fixed``: the same with n = 301, n2 = 121; its largest errors against the default rule
  (accurate to 1e-8) are printed too;
* ``gelu`` with ``correlations=True`` (no exponential shortcut: erfc at every node);
* ``selu`` and ``hardtanh`` (41 x 41 only): kinked activations, whose 2-D expectations take the
  numpy panel rule by default.

Each case runs with ``method="auto"`` (the numba kernels of ``cascades/nn/_kernels.py``) and,
unless ``--no-reference``, ``method="numpy"`` (the vectorised numpy path) with the same rule,
interleaved in the same process, best of ``--repeats``; the numba compilation (or cache load) is
timed separately by a first call on a 1 x 1 grid. Wall-clock and process CPU seconds are both
recorded: on a shared machine the CPU time is the better measure. The largest differences
between the two methods are printed too, and, for the 2-D part, the number of 2-D quadrature
evaluations per chaotic point (independent of machine load). Results go to
``benchmarks/results/bench_nn_meanfield-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascades.nn import meanfield as mf  # noqa: E402
from cascades.nn import phase_diagram  # noqa: E402


def best_time(fn, repeats):
    """Best wall-clock and process CPU seconds over ``repeats`` runs (CPU time is less sensitive to load)."""
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def max_diff(a, b, relative):
    """Largest |a - b| (relative: divided by max(|b|, 1), i.e. absolute below 1), inf if nan/inf differ."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    m = np.isfinite(a) & np.isfinite(b)
    if not np.array_equal(np.isfinite(a), np.isfinite(b)):
        return float("inf")
    if not m.any():
        return 0.0
    d = np.abs(a[m] - b[m])
    if relative:
        d = d / np.maximum(np.abs(b[m]), 1.0)
    return float(d.max())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="41 x 41 grids only")
    parser.add_argument("--no-reference", action="store_true", help="skip the numpy reference path")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [41] if args.quick else [41, 201]
    fixed = {"n": 301, "n2": 121}
    cases = [
        ("relu", {}),
        ("erf", {}),
        ("tanh", {"correlations": False}),
        ("tanh", {"correlations": True}),
        ("tanh", {"correlations": True, **fixed}),
        ("gelu", {"correlations": True}),
        ("selu", {"correlations": True}),
        ("hardtanh", {"correlations": True}),
    ]
    only_small = {"selu", "hardtanh"}  # numpy's 2-D panel rule: minutes at 201 x 201
    t0 = time.perf_counter()
    for name in ("tanh", "gelu"):
        phase_diagram(name, [2.0], [0.1])  # numba compilation or cache load
    compile_seconds = time.perf_counter() - t0
    print(f"numba compilation / cache load: {compile_seconds:.2f} s "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)
    rows = []
    for size in sizes:
        w = np.linspace(1.0, 5.0, size)
        b = np.linspace(0.0, 4.0, size)
        accurate = {}  # default-rule numba results, the yardstick of the fixed rule
        for name, kw in cases:
            if size > 41 and name in only_small:
                continue
            row = {"activation": name, "grid": f"{size}x{size}", "correlations": kw.get("correlations", True),
                   "rule": "fixed n=301, n2=121" if "n" in kw else "default"}
            methods = ["auto"] if args.no_reference else ["auto", "numpy"]
            out = {}
            for method in methods:
                seconds, cpu, pd = best_time(
                    lambda name=name, kw=kw, w=w, b=b, method=method: phase_diagram(
                        name, w, b, method=method, **kw
                    ),
                    args.repeats,
                )
                row[f"seconds_{method}"] = round(seconds, 3)
                row[f"cpu_seconds_{method}"] = round(cpu, 3)
                out[method] = pd
                if method == "auto" and row["correlations"] and name in ("tanh", "gelu"):
                    chaotic = int(np.count_nonzero(pd.c_star < 1))
                    row["evals_per_chaotic_point"] = round(mf._LAST_C_EVALS[0] / max(chaotic, 1), 3)
            pd = out["auto"]
            if "n" not in kw and row["correlations"]:
                accurate[name] = pd
            elif name in accurate:
                ref = accurate[name]
                row["fixed_rule_err_chi1"] = max_diff(pd.chi1, ref.chi1, True)
                row["fixed_rule_err_c_star"] = max_diff(pd.c_star, ref.c_star, False)
                row["fixed_rule_err_chi_c"] = max_diff(pd.chi_c, ref.chi_c, True)
            row["chaotic_fraction"] = round(float(pd.chaotic.mean()), 4)
            row["max_q_star"] = float(np.nanmax(np.where(np.isfinite(pd.q_star), pd.q_star, np.nan)))
            if "numpy" in out:
                row["speedup"] = round(row["seconds_numpy"] / max(row["seconds_auto"], 1e-9), 1)
                row["cpu_speedup"] = round(row["cpu_seconds_numpy"] / max(row["cpu_seconds_auto"], 1e-9), 1)
                ref = out["numpy"]
                row["max_rel_diff_q_star"] = max_diff(pd.q_star, ref.q_star, True)
                row["max_rel_diff_chi1"] = max_diff(pd.chi1, ref.chi1, True)
                row["max_abs_diff_c_star"] = max_diff(pd.c_star, ref.c_star, False)
                row["max_rel_diff_chi_c"] = max_diff(pd.chi_c, ref.chi_c, True)
            rows.append(row)
            label = name + (" fixed" if "n" in kw else "")
            line = (f"{label:10s} {size:4d}x{size:<4d} correlations={row['correlations']!s:5s} "
                    f"numba {row['seconds_auto']:8.2f} s (cpu {row['cpu_seconds_auto']:7.2f})")
            if "numpy" in out:
                line += (f"  numpy {row['seconds_numpy']:8.2f} s (cpu {row['cpu_seconds_numpy']:7.2f})"
                         f"  x{row['speedup']:<6} (cpu x{row['cpu_speedup']:<6})"
                         f" diffs q* {row['max_rel_diff_q_star']:.1e} chi1 {row['max_rel_diff_chi1']:.1e}"
                         f" c* {row['max_abs_diff_c_star']:.1e} chi_c {row['max_rel_diff_chi_c']:.1e}")
            if "evals_per_chaotic_point" in row:
                line += f"  2-D evals/chaotic point {row['evals_per_chaotic_point']}"
            if "fixed_rule_err_chi_c" in row:
                line += (f"  errors of the fixed rule: chi1 {row['fixed_rule_err_chi1']:.1e}"
                         f" c* {row['fixed_rule_err_c_star']:.1e} chi_c {row['fixed_rule_err_chi_c']:.1e}")
            print(line, flush=True)
    result = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "load_average_at_end": os.getloadavg()[0],
        },
        "numba_compile_seconds": round(compile_seconds, 2),
        "rows": rows,
    }
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results / f"bench_nn_meanfield-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
