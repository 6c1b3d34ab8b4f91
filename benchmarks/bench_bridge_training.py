"""Does the recommended initialization matter? A deep sparse MLP trained on digits from four inits.

Usage (from the repository root; needs torch and scikit-learn)::

    python benchmarks/bench_bridge_training.py              # relu and tanh, 20 x 256, density 0.1, 5 epochs
    python benchmarks/bench_bridge_training.py --quick      # the quick network (a few seconds per activation)
    python benchmarks/bench_bridge_training.py --activations relu --epochs 5

Runs :func:`cascades.bridge.train_comparison`: the MLP 64 -> 20 hidden layers of 256 -> 10 with one
Erdos-Renyi mask of density 0.1 (uniform over layers), trained with Adam (lr 1e-3, batch 64) on
scikit-learn's digits (75/25 split) from

* ``recommended``: :func:`cascades.bridge.recommend`'s Gaussian init on the mask (edge of chaos with
  the effective fan-in p n);
* ``orthogonal``: the same recommendation with ``weights="orthogonal"`` (approximate isometry on the
  mask, Lee et al. 2020);
* ``torch-default``: PyTorch's nn.Linear default, then masked;
* ``he-dense-mask``: dense He init sqrt(2 / fan_in), then masked (not corrected for density).

Prints the per-epoch curves and writes ``benchmarks/results/bench_bridge_training-<timestamp>.json``.
Measured: 94.5 s per activation (5 epochs, 4 inits, 1 torch thread; 2-core machine shared with other
jobs, load average 5-7), so about 3-4 minutes for both activations.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascades.bridge import train_comparison  # noqa: E402

INITS = ("recommended", "orthogonal", "torch-default", "he-dense-mask")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--activations", default="relu,tanh")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import torch

    out = {"benchmark": "bench_bridge_training", "runs": [],
           "machine": {"platform": platform.platform(), "python": platform.python_version(),
                       "torch": torch.__version__, "cores_visible": torch.get_num_threads()}}
    for act in args.activations.split(","):
        t0 = time.perf_counter()
        res = train_comparison(activation=act, inits=INITS, epochs=args.epochs, rng=args.seed,
                               quick=args.quick, progress=False)
        elapsed = time.perf_counter() - t0
        cfg = res.config
        print(f"\n{act}: widths {cfg['widths'][0]} -> {len(cfg['widths']) - 2} x {cfg['widths'][1]} -> "
              f"{cfg['widths'][-1]}, density {cfg['density']} (achieved {cfg['achieved_density']:.4f}), "
              f"{cfg['epochs']} epochs, {elapsed:.1f} s (1 torch thread)")
        print(res.table())
        acc = res.final("test_accuracy")
        loss = res.final("test_loss")
        print("final test accuracy: " + ", ".join(f"{k} {v:.4f}" for k, v in acc.items()))
        print("final test loss:     " + ", ".join(f"{k} {v:.4f}" for k, v in loss.items()))
        run = res.to_dict()
        run["elapsed_s"] = elapsed
        out["runs"].append(run)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = "-quick" if args.quick else ""
    path = ROOT / "benchmarks" / "results" / f"bench_bridge_training-{stamp}{suffix}.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"\nresults written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
