"""Does the recommendation matter on real data? Deep (sparse) networks on MNIST-5k from five inits.

Usage (from the repository root; needs ``pip install ".[torch,data]"``)::

    python benchmarks/bench_init_mnist.py                      # the full table (about an hour on 2 cores)
    python benchmarks/bench_init_mnist.py --quick              # 8 x 128, 2 epochs, 1 seed: a smoke run
    python benchmarks/bench_init_mnist.py --activations gelu,silu --densities 0.1 --seeds 0,1,2
    python benchmarks/bench_init_mnist.py --cnn                # the GELU CNN instead of the MLPs
    python benchmarks/bench_init_mnist.py --summarize          # print the table of the results file

What it runs: :func:`cascades.bridge.train_comparison` on :func:`cascades.datasets.mnist5k` (4000 /
1000 real MNIST digits, globally standardised, q0 = 1), for every activation x density x seed:

* MLP 784 -> 20 hidden layers of 256 -> 10, activations relu, tanh, gelu, silu; densities 1.0, 0.1
  and 0.02 (ERK layer densities); or, with ``--cnn``, a GELU CNN of six 3x3 convolutions
  (16, 16, 32 / stride 2, 32, 32 / stride 2, 32 channels) and a linear read-out, densities 1.0 and 0.1;
* inits on the same mask and batches: ``recommended`` (edge of chaos at q* = q0 = 1, kept for GELU
  and SiLU although unstable there; read-out for logits of variance 1), ``recommended-nearest``
  (moved to the nearest stable point, GELU q* = 5.11, SiLU q* = 25.2; only for gelu and silu, where
  it differs), ``torch-default``, ``he-dense-mask``
  (dense He, not corrected for the density), ``orthogonal`` (the recommendation with orthogonal /
  approximately isometric weights);
* a fixed budget: SGD with momentum 0.9, lr 0.01, batch 64, 10 epochs, no weight decay, one torch
  thread per run.

Every finished (activation, density, seed) run is appended to a JSON-lines file at once
(``benchmarks/results/bench_init_mnist[-cnn][-quick].jsonl``), and a re-run skips the runs already
there, so an interrupted benchmark loses nothing. Two processes with different ``--activations``
can share the machine's two cores. The table reports the final test accuracy (mean +- sd over
seeds), the initial training loss (ln 10 = 2.30) and the run time.
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

from cascades.bridge import train_comparison  # noqa: E402

INITS = ("recommended", "recommended-nearest", "torch-default", "he-dense-mask", "orthogonal")
UNSTABLE_AT_ONE = ("gelu", "silu")  # where "recommended-nearest" differs from "recommended"


def gelu_cnn():
    """Six 3x3 convolutions with GELU (stride-2 down-sampling, no pooling) and a linear read-out."""
    import torch.nn as nn

    def conv(i, o, s=1):
        return nn.Conv2d(i, o, 3, stride=s, padding=1)

    return nn.Sequential(
        conv(1, 16), nn.GELU(), conv(16, 16), nn.GELU(), conv(16, 32, 2), nn.GELU(),
        conv(32, 32), nn.GELU(), conv(32, 32, 2), nn.GELU(), conv(32, 32), nn.GELU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
    )


def _key(act, density, seed):
    return f"{act}|{density:g}|{seed}"


def _done(path):
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            out[rec["key"]] = rec
    return out


def summarize(path):
    runs = list(_done(path).values())
    if not runs:
        print(f"no results in {path}")
        return
    groups = {}
    for r in runs:
        groups.setdefault((r["activation"], r["density"]), []).append(r)
    print(f"\n{path.name}: final test accuracy (%), mean +- sd over seeds; initial training loss; "
          f"minutes per run")
    inits = [n for n in INITS if any(n in r["final_accuracy"] for r in runs)]
    head = ["activation", "density", "seeds"] + inits + ["loss0 rec / default", "min/run"]
    rows = []
    for (act, dens), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        row = [act, f"{dens:g}", str(len(rs))]
        for n in inits:
            acc = [100 * r["final_accuracy"][n] for r in rs if n in r["final_accuracy"]]
            sd = np.std(acc, ddof=1) if len(acc) > 1 else 0.0
            row.append(f"{np.mean(acc):.1f} +- {sd:.1f}" if acc else "-")
        l0 = [r["initial_train_loss"] for r in rs]
        l_rec, l_def = (np.mean([x.get(n, np.nan) for x in l0]) for n in ("recommended", "torch-default"))
        row.append(f"{l_rec:.2f} / {l_def:.2f}")
        row.append(f"{np.mean([r['elapsed_s'] for r in rs]) / 60:.1f}")
        rows.append(row)
    width = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, width, strict=True)))
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, width, strict=True)))
    qk = {r["activation"]: (r["config"]["q_star"], r["config"].get("q_star_nearest")) for r in runs}
    print("q* (recommended / nearest): " + ", ".join(f"{a} {q:.3g} / {k if k is None else f'{k:.3g}'}"
                                                 for a, (q, k) in sorted(qk.items())))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 x 128 MLP, 2 epochs, seed 0 (a smoke run)")
    parser.add_argument("--cnn", action="store_true", help="the GELU CNN instead of the MLPs")
    parser.add_argument("--activations", default=None,
                        help="comma-separated (MLP only); default relu,tanh,gelu,silu")
    parser.add_argument("--densities", default=None, help="comma-separated; default 1,0.1,0.02 (CNN: 1,0.1)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--depth", type=int, default=20, help="hidden layers of the MLP (default 20)")
    parser.add_argument("--width", type=int, default=256, help="hidden width of the MLP (default 256)")
    parser.add_argument("--inits", default=None, help="comma-separated subset of the inits (default: all)")
    parser.add_argument("--summarize", action="store_true", help="only print the table of the results file")
    args = parser.parse_args(argv)

    shape = "" if (args.depth, args.width) == (20, 256) else f"-{args.depth}x{args.width}"
    name = "bench_init_mnist" + ("-cnn" if args.cnn else shape) + ("-quick" if args.quick else "")
    path = ROOT / "benchmarks" / "results" / f"{name}.jsonl"
    if args.summarize:
        summarize(path)
        return
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    acts = ["gelu"] if args.cnn else (args.activations or "relu,tanh,gelu,silu").split(",")
    dens = [float(d) for d in (args.densities or ("1,0.1" if args.cnn else "1,0.1,0.02")).split(",")]
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    epochs = 2 if args.quick else args.epochs
    done = _done(path)
    for act in acts:
        for d in dens:
            for seed in seeds:
                key = _key(act, d, seed)
                if key in done:
                    continue
                inits = [n for n in INITS if n != "recommended-nearest" or act in UNSTABLE_AT_ONE]
                if args.inits:
                    inits = [n for n in inits if n in args.inits.split(",")]
                kw = dict(dataset="mnist5k", density=d, scheme="erk", inits=inits, epochs=epochs,
                          batch_size=64, lr=args.lr, optimizer="sgd", momentum=0.9, rng=seed, progress=False)
                if args.cnn:
                    kw["model"] = gelu_cnn
                else:
                    kw["activation"] = act
                    kw["widths"] = [784] + ([128] * 8 if args.quick else [args.width] * args.depth) + [10]
                load = os.getloadavg()[0]
                t0, c0 = time.perf_counter(), time.process_time()
                res = train_comparison(**kw)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                rec = {
                    "key": key, "activation": act, "density": d, "seed": seed, "cnn": args.cnn,
                    "final_accuracy": res.final("test_accuracy"), "final_test_loss": res.final("test_loss"),
                    "initial_train_loss": {n: float(res.train_loss[n][0]) for n in res.inits},
                    "curves": res.to_dict(), "config": res.config, "elapsed_s": wall, "cpu_s": cpu,
                    "load1_at_start": load, "platform": platform.platform(), "torch": torch.__version__,
                }
                with path.open("a") as fh:  # one line per finished run: an interruption loses nothing
                    fh.write(json.dumps(rec) + "\n")
                acc = ", ".join(f"{k} {100 * v:.1f}" for k, v in rec["final_accuracy"].items())
                print(f"{key}: {acc}  ({wall:.0f} s wall, {cpu:.0f} s CPU, load {load:.1f})", flush=True)
    summarize(path)


if __name__ == "__main__":
    main()
