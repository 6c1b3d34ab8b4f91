"""Feature selection by sparse training on MNIST-5k: 50 selected pixels vs 50 high-variance / random ones.

Usage (from the repository root; needs ``pip install ".[torch,data]"`` and scikit-learn)::

    python benchmarks/bench_feature_selection.py              # 3 seeds, SET and RigL (about 3 minutes)
    python benchmarks/bench_feature_selection.py --quick      # 1 seed, SET only, 10 epochs

What it runs: on :func:`cascades.datasets.mnist5k` (4000 / 1000 digits, globally standardised) it
picks k = 50 of the 784 pixels with

* :func:`cascades.dst.select_features` (its defaults: one hidden layer of 200 ReLU units, input
  density 0.2, 40 epochs of Adam, SET or RigL drop-and-grow), fitted on the training digits only;
* the 50 pixels of largest variance on the training digits (a filter baseline; deterministic);
* 50 pixels drawn at random (``numpy.random.default_rng(seed)``);

and scores each pixel set by the test accuracy of ``sklearn.linear_model.LogisticRegression``
(lbfgs, max_iter 2000) trained on those pixels of the training digits. Seeds 0, 1, 2; the table
gives the mean +- sd over seeds and the selection time (one torch thread). The raw results go to
``benchmarks/results/bench_feature_selection[-quick].json``.
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

from cascades.datasets import mnist5k  # noqa: E402
from cascades.dst import select_features  # noqa: E402

K = 50


def score(ds, idx) -> float:
    """Test accuracy of a logistic regression on the pixels ``idx``."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000).fit(ds.X_train[:, idx], ds.y_train)
    return float(clf.score(ds.X_test[:, idx], ds.y_test))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 seed, SET only, 10 epochs")
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    methods = ("set",) if args.quick else ("set", "rigl")
    epochs = 10 if args.quick else 40
    ds = mnist5k()
    rows = []
    var_idx = np.argsort(-ds.X_train.var(0), kind="stable")[:K]
    acc_var = score(ds, var_idx)
    acc_all = score(ds, np.arange(ds.X_train.shape[1]))
    for seed in seeds:
        rows.append({"selector": "variance", "seed": seed, "accuracy": acc_var, "seconds": 0.0})
        rnd = np.random.default_rng(seed).choice(ds.X_train.shape[1], K, replace=False)
        rows.append({"selector": "random", "seed": seed, "accuracy": score(ds, rnd), "seconds": 0.0})
        for method in methods:
            t = time.perf_counter()
            fs = select_features(ds.X_train, ds.y_train, K, method=method, epochs=epochs, rng=seed)
            dt = time.perf_counter() - t
            acc = score(ds, fs.indices)
            rows.append({"selector": f"select_features ({method})", "seed": seed, "accuracy": acc,
                         "seconds": dt, "train_accuracy": fs.train_accuracy,
                         "indices": fs.indices.tolist()})
            print(f"seed {seed} {method}: test accuracy {acc:.3f}, {dt:.1f} s", flush=True)

    print(f"\nMNIST-5k, k = {K} of 784 pixels, LogisticRegression test accuracy (%), seeds {seeds}; "
          f"all 784 pixels: {100 * acc_all:.1f}\n")
    print("| selector | accuracy (%) | selection time (s) |")
    print("|---|---:|---:|")
    for sel in dict.fromkeys(r["selector"] for r in rows):
        a = np.array([r["accuracy"] for r in rows if r["selector"] == sel]) * 100
        s = np.array([r["seconds"] for r in rows if r["selector"] == sel])
        sd = a.std(ddof=1) if a.size > 1 else 0.0
        print(f"| {sel} | {a.mean():.1f} +- {sd:.1f} | {s.mean():.1f} |")

    out = ROOT / "benchmarks" / "results" / f"bench_feature_selection{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "torch": torch.__version__, "k": K, "epochs": epochs,
            "all_pixels_accuracy": acc_all, "date": time.strftime("%Y-%m-%d %H:%M")}
    out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
