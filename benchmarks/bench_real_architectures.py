"""Does the graph recommendation train real architectures? A deep residual MLP and a transformer.

Usage (from the repository root; needs ``pip install ".[torch,data]"``)::

    python benchmarks/bench_real_architectures.py                # A and B, 3 seeds (about 13 minutes)
    python benchmarks/bench_real_architectures.py --quick        # 8 blocks / 4 layers, 2 epochs, 1 seed, 15 s
    python benchmarks/bench_real_architectures.py --only A --seeds 0,1
    python benchmarks/bench_real_architectures.py --only B --variants pre-norm

Initialisations come from :func:`cascades.bridge.recommend` on the module itself (read as a
computation graph, ``input_shape=(batch, ...)``) and :func:`cascades.bridge.apply_to`.

Experiment A, MNIST-5k (:func:`cascades.datasets.mnist5k`: 4000 / 1000 real digits, globally
standardised): a residual MLP without normalisation, stem ``Linear(784, 128)``, 32 blocks
``x + fc2(relu(fc1(x)))`` (fc1 128 -> 128, fc2 128 -> 128) and a head ``Linear(128, 10)``, from

* ``recommended``: ``recommend(model, input_shape=(128, 784))`` (Gaussian weights, residual branches
  scaled by the stable 1 / sqrt(L), L = 32) then ``apply_to``;
* ``isometric``: the same with ``weights="isometric"`` (RISOTTO for the ReLU residual blocks,
  orthogonal stem and head);
* ``torch-default``: PyTorch's default ``nn.Linear`` init (the same weights draw for a seed);
* ``batchnorm``: the same network with ``BatchNorm1d`` after fc1 in every branch,
  ``x + fc2(relu(bn(fc1(x))))``, at PyTorch's default init (train mode: batch statistics; test:
  running statistics).

Experiment B, sorting (:func:`cascades.datasets.sequence_task`: 8 digits in 0..9 to be sorted, the
target the sorted digit at every position; 10000 training and 1000 test sequences, fixed): a
transformer ``Embedding(10, 64)`` plus a learned positional ``nn.Parameter`` of shape (8, 64) (N(0, 1),
like an ``nn.Embedding``'s default; the bridge reads it but leaves it as it is), 12
``nn.TransformerEncoderLayer(64, 4, 128, dropout=0, batch_first=True)`` and a ``Linear(64, 10)``
head per position, per-token cross-entropy. Variants: ``pre-norm`` (``norm_first=True`` and a final
LayerNorm before the head) and ``no-norm`` (the same layers with ``norm1`` and ``norm2`` replaced by
``nn.Identity`` and no final LayerNorm; MHA's inference fast path is switched off for it). Contenders
``recommended`` and ``torch-default``.

Both: Adam (lr 1e-3; ``--lr``), batch 128, a fixed number of epochs (A 10, B 10), seeds 0, 1, 2, the
contenders interleaved within each seed (same data order for all contenders of a seed), one torch thread. The
table gives the final test accuracy (B: per token and whole sequence) and test loss, mean +- sd
(ddof 1) over seeds, the accuracy after the first epoch (A: also the mean of the last 3 epochs,
as the per-epoch test accuracy moves by 1-3 points), the loss at initialisation and the wall and
CPU seconds per run; the raw curves go to
``benchmarks/results/bench_real_architectures-<timestamp>[-quick].json``. An exception from
``recommend`` / ``apply_to`` is printed and recorded verbatim, and that contender is skipped.
Measured 2026-12-07 20:34-20:47 (``results/bench_real_architectures-20261207-204732.json``): 788 s wall,
786 s CPU on one torch thread (2-core machine, another job on the other core part of the time, load
average 1.0-2.9); A 6-8 s per run (76 s for the 12 runs), B 56-67 s per run (about 12 minutes for the
12 runs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascades.bridge import apply_to, recommend  # noqa: E402
from cascades.datasets import mnist5k, sequence_task  # noqa: E402

CONTENDERS_A = ("recommended", "isometric", "torch-default", "batchnorm")
CONTENDERS_B = ("recommended", "torch-default")
VARIANTS_B = ("pre-norm", "no-norm")
BATCH = 128
LR = 1e-3


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


class Block(nn.Module):
    """``x + fc2(relu(fc1(x)))``, or with ``bn``: ``x + fc2(relu(bn(fc1(x))))``."""

    def __init__(self, width, hidden, bn=False):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.bn = nn.BatchNorm1d(hidden) if bn else None
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x):
        h = self.fc1(x)
        if self.bn is not None:
            h = self.bn(h)
        return x + self.fc2(F.relu(h))


def residual_mlp(blocks, width=128, hidden=128, bn=False):
    return nn.Sequential(nn.Linear(784, width), *[Block(width, hidden, bn) for _ in range(blocks)],
                         nn.Linear(width, 10))


class SortTransformer(nn.Module):
    """Token embedding + learned positions, ``depth`` encoder layers, a per-position read-out."""

    def __init__(self, depth, vocab=10, length=8, d=64, heads=4, norm=True):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(length, d))  # N(0, 1): nn.Embedding's default
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, batch_first=True, norm_first=True)
            for _ in range(depth)
        )
        if not norm:
            for layer in self.layers:
                layer.norm1, layer.norm2 = nn.Identity(), nn.Identity()
        self.norm = nn.LayerNorm(d) if norm else nn.Identity()
        self.head = nn.Linear(d, vocab)

    def forward(self, x):
        h = self.tok(x) + self.pos
        for layer in self.layers:
            h = layer(h)
        return self.head(self.norm(h))


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def _initialise(model, contender, input_shape, seed):
    """Apply the contender's init in place; return (recommendation text, error text or None)."""
    if contender in ("torch-default", "batchnorm"):
        return None, None
    weights = "isometric" if contender == "isometric" else "gaussian"
    try:
        rec = recommend(model, input_shape=input_shape, weights=weights)
        apply_to(model, rec, rng=seed)
    except Exception as exc:  # recorded verbatim: these are bugs to report, not to hide
        return None, "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return str(rec), None


def _evaluate(model, x, y, sequence):
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
        hit = logits.argmax(-1) == y
    model.train()
    out = {"test_loss": loss, "accuracy": hit.float().mean().item()}
    if sequence:
        out["sequence_accuracy"] = hit.all(dim=1).float().mean().item()
    return out


def train_run(model, data, *, epochs, seed, sequence, lr=LR):
    """Adam on ``data`` = (x_train, y_train, x_test, y_test); the curves at epochs 0..epochs."""
    x_tr, y_tr, x_te, y_te = data
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(10_000 + seed)  # the same batches for every contender
    curve = [_evaluate(model, x_te, y_te, sequence)]
    train_loss = []
    diverged = False
    n = x_tr.shape[0]
    for _ in range(epochs):
        perm = torch.randperm(n, generator=order)
        total, count = 0.0, 0
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            logits = model(x_tr[idx])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y_tr[idx].reshape(-1))
            if not torch.isfinite(loss):
                diverged = True
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * idx.numel()
            count += idx.numel()
        train_loss.append(total / max(count, 1))
        curve.append(_evaluate(model, x_te, y_te, sequence))
        if diverged:
            break
    return {"curve": curve, "train_loss": train_loss, "diverged": diverged}


def run_experiment(name, variants, contenders, build, data, input_shape, *, epochs, seeds, sequence, out,
                   lr=LR):
    """Every (variant, seed, contender), contenders interleaved within a seed; appends to ``out``."""
    for variant in variants:
        for seed in seeds:
            for contender in contenders:
                torch.manual_seed(seed)
                model = build(variant, contender)
                load = os.getloadavg()[0]
                t0, c0 = time.perf_counter(), time.process_time()
                rec_text, error = _initialise(model, contender, input_shape, seed)
                t_init = time.perf_counter() - t0
                key = f"{name} {variant} {contender} seed {seed}"
                run = {"experiment": name, "variant": variant, "contender": contender, "seed": seed,
                       "load1_at_start": load, "init_s": t_init, "error": error}
                if error is not None:
                    print(f"{key}: recommend/apply_to failed:\n{error}", flush=True)
                    out.append(run)
                    continue
                if rec_text is not None and seed == seeds[0]:
                    run["recommendation"] = rec_text
                    print(f"{key}: {rec_text.splitlines()[0]}", flush=True)
                run.update(train_run(model, data, epochs=epochs, seed=seed, sequence=sequence, lr=lr))
                run["wall_s"], run["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
                last = run["curve"][-1]
                extra = f", sequences {100 * last['sequence_accuracy']:.1f} %" if sequence else ""
                print(f"{key}: test accuracy {100 * last['accuracy']:.2f} %{extra}, loss "
                      f"{last['test_loss']:.4f} (initial {run['curve'][0]['test_loss']:.3f})"
                      f"{', DIVERGED' if run['diverged'] else ''}; {run['wall_s']:.1f} s wall, "
                      f"{run['cpu_s']:.1f} s CPU, load {load:.1f}", flush=True)
                out.append(run)


# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------


def _ms(values, scale=1.0, digits=1):
    v = [scale * x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "-"
    sd = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    return f"{np.mean(v):.{digits}f} +- {sd:.{digits}f}"


def summarize(runs):
    """Rows of mean +- sd per (experiment, variant, contender), and the printed tables."""
    groups = {}
    for r in runs:
        groups.setdefault((r["experiment"], r["variant"], r["contender"]), []).append(r)
    rows = []
    for (exp, variant, contender), rs in groups.items():
        ok = [r for r in rs if r.get("error") is None]
        final = [r["curve"][-1] for r in ok]
        first = [r["curve"][min(1, len(r["curve"]) - 1)] for r in ok]
        row = {
            "experiment": exp, "variant": variant, "contender": contender,
            "seeds": [r["seed"] for r in ok], "failed_seeds": [r["seed"] for r in rs if r.get("error")],
            "errors": sorted({r["error"] for r in rs if r.get("error")}),
            "diverged_seeds": [r["seed"] for r in ok if r["diverged"]],
            "accuracy": [f["accuracy"] for f in final], "test_loss": [f["test_loss"] for f in final],
            "sequence_accuracy": [f.get("sequence_accuracy") for f in final],
            "accuracy_epoch1": [f["accuracy"] for f in first],
            "accuracy_last3": [float(np.mean([c["accuracy"] for c in r["curve"][1:][-3:]])) for r in ok],
            "sequence_accuracy_epoch1": [f.get("sequence_accuracy") for f in first],
            "initial_loss": [r["curve"][0]["test_loss"] for r in ok],
            "wall_s": [r["wall_s"] for r in ok], "cpu_s": [r["cpu_s"] for r in ok],
        }
        for k in ("accuracy", "test_loss", "sequence_accuracy", "accuracy_epoch1", "sequence_accuracy_epoch1",
                  "accuracy_last3", "initial_loss", "wall_s", "cpu_s"):
            vals = [v for v in row[k] if v is not None]
            row[f"{k}_mean"] = float(np.mean(vals)) if vals else None
            row[f"{k}_sd"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
        rows.append(row)

    def seeds(r):
        return f"{len(r['seeds'])}" + (f" ({len(r['failed_seeds'])} failed)" if r["failed_seeds"] else "")

    def tail(r):
        return [_ms(r["test_loss"], 1, 3), _ms(r["initial_loss"], 1, 2), _ms(r["wall_s"], 1, 1),
                _ms(r["cpu_s"], 1, 1)]

    tables = []
    a = [r for r in rows if r["experiment"] == "A"]
    if a:
        head = ["init", "seeds", "test acc %", "last 3 epochs", "after epoch 1", "test loss", "initial loss",
                "wall s", "CPU s"]
        body = [[r["contender"], seeds(r), _ms(r["accuracy"], 100, 2), _ms(r["accuracy_last3"], 100, 2),
                 _ms(r["accuracy_epoch1"], 100, 2), *tail(r)] for r in a]
        tables.append(("A, MNIST-5k residual MLP", head, body))
    b = [r for r in rows if r["experiment"] == "B"]
    if b:
        head = ["variant", "init", "seeds", "token acc %", "sequence acc %", "seq. after epoch 1",
                "test loss", "initial loss", "wall s", "CPU s"]
        tables.append(("B, sorting transformer", head, [
            [r["variant"], r["contender"], seeds(r), _ms(r["accuracy"], 100, 2),
             _ms(r["sequence_accuracy"], 100, 1), _ms(r["sequence_accuracy_epoch1"], 100, 1), *tail(r)]
            for r in b]))
    text = []
    for title, head, body in tables:
        width = [max(len(t[i]) for t in [head, *body]) for i in range(len(head))]
        text.append(title + " (per run: wall and CPU seconds)")
        for t in [head, *body]:
            text.append("  ".join(v.ljust(w) if not any(c.isdigit() for c in v) or i == 0 else v.rjust(w)
                                  for i, (v, w) in enumerate(zip(t, width, strict=True))))
        text.append("")
    return rows, "\n".join(text)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="A: 8 blocks, B: 4 layers and 4000 sequences, 2 epochs, seed 0 (a smoke run)")
    parser.add_argument("--only", choices=("A", "B"), default=None, help="run one experiment")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--blocks", type=int, default=32, help="residual blocks of the MLP (A; default 32)")
    parser.add_argument("--depth", type=int, default=12, help="transformer layers (B; default 12)")
    parser.add_argument("--epochs-a", type=int, default=10)
    parser.add_argument("--epochs-b", type=int, default=10)
    parser.add_argument("--n-train-b", type=int, default=10000, help="B's training sequences")
    parser.add_argument("--variants", default=",".join(VARIANTS_B), help="B: comma-separated subset")
    parser.add_argument("--lr", type=float, default=LR, help=f"Adam's learning rate (default {LR:g})")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.backends.mha.set_fastpath_enabled(False)  # eval on the training path (the no-norm layers need it)
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    blocks = 8 if args.quick else args.blocks
    depth = 4 if args.quick else args.depth
    epochs_a = 2 if args.quick else args.epochs_a
    epochs_b = 2 if args.quick else args.epochs_b
    n_train_b = 4000 if args.quick else args.n_train_b
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS_B:
            parser.error(f"--variants: {v!r} is not one of {', '.join(VARIANTS_B)}")

    out = {"benchmark": "bench_real_architectures", "quick": args.quick, "runs": [],
           "config": {"seeds": seeds, "optimizer": f"Adam lr {args.lr:g}", "batch": BATCH,
                      "A": {"blocks": blocks, "width": 128, "hidden": 128, "epochs": epochs_a,
                            "batchnorm_placement": "x + fc2(relu(bn(fc1(x))))", "contenders": CONTENDERS_A},
                      "B": {"depth": depth, "d": 64, "heads": 4, "ffn": 128, "length": 8, "vocab": 10,
                            "n_train": n_train_b, "n_test": 1000, "epochs": epochs_b, "variants": variants,
                            "contenders": CONTENDERS_B}},
           "machine": {"platform": platform.platform(), "python": platform.python_version(),
                       "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                       "cpus": os.cpu_count(), "load1_at_start": os.getloadavg()[0]}}
    t0, c0 = time.perf_counter(), time.process_time()

    if args.only in (None, "A"):
        d = mnist5k()
        data = tuple(torch.as_tensor(np.array(a)) for a in (d.X_train, d.y_train, d.X_test, d.y_test))
        print(f"A: MNIST-5k {d.X_train.shape[0]} / {d.X_test.shape[0]}, residual MLP 784 -> {blocks} "
              f"blocks of 128 -> 10, {epochs_a} epochs, seeds {seeds}", flush=True)

        def build_a(variant, contender):
            return residual_mlp(blocks, bn=(contender == "batchnorm"))

        run_experiment("A", ["no-norm"], CONTENDERS_A, build_a, data, (BATCH, 784), epochs=epochs_a,
                       seeds=seeds, sequence=False, out=out["runs"], lr=args.lr)

    if args.only in (None, "B"):
        s = sequence_task("sort", n_train=n_train_b, n_test=1000, length=8, vocab=10, seed=0)
        data = tuple(torch.as_tensor(np.array(a)) for a in (s.x_train, s.y_train, s.x_test, s.y_test))
        print(f"B: sort 8 digits, {n_train_b} / 1000 sequences, transformer of {depth} layers (d 64, "
              f"4 heads), {epochs_b} epochs, variants {variants}, seeds {seeds}", flush=True)

        def build_b(variant, contender):
            return SortTransformer(depth, norm=(variant == "pre-norm"))

        run_experiment("B", variants, CONTENDERS_B, build_b, data, (BATCH, 8), epochs=epochs_b, seeds=seeds,
                       sequence=True, out=out["runs"], lr=args.lr)

    out["wall_s"], out["cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    out["machine"]["load1_at_end"] = os.getloadavg()[0]
    rows, table = summarize(out["runs"])
    out["summary"] = rows
    print(f"\nfinal test metrics, mean +- sd over seeds (Adam lr {args.lr:g}, batch {BATCH}; "
          f"A {epochs_a} epochs, B {epochs_b} epochs)")
    print(table)
    print(f"total {out['wall_s']:.0f} s wall, {out['cpu_s']:.0f} s CPU (1 torch thread); load average "
          f"{out['machine']['load1_at_start']:.1f} at start, {out['machine']['load1_at_end']:.1f} at end")
    errors = [r for r in out["runs"] if r.get("error")]
    for r in errors:
        print(f"error, {r['experiment']} {r['variant']} {r['contender']} seed {r['seed']}: {r['error']}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = "-quick" if args.quick else ""
    path = ROOT / "benchmarks" / "results" / f"bench_real_architectures-{stamp}{suffix}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"results written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
