"""In-degree-regular masks against Erdos-Renyi masks: signal propagation measured and predicted.

Usage (from the repository root)::

    python benchmarks/bench_bridge_masks.py            # 2 activations x 4 in-degrees x 3 masks x 8 networks
    python benchmarks/bench_bridge_masks.py --quick    # 2 networks each

Networks of depth 20 and width 256 (widths 256 -> 20 x 256), expected in-degree k = p * 256 in
(2, 4, 8, 32), relu (sigma_w^2 = 2, sigma_b^2 = 0) and tanh at the edge of chaos with
sigma_b^2 = 0.05, Gaussian weights at the recommendation's scale (:func:`cascades.bridge.recommend`,
:func:`cascades.bridge.draw_masks`, :func:`cascades.bridge.draw_weights`), three topologies on the
same densities:

* ``er``: Erdos-Renyi masks, weight variance sigma_w^2 / (p n) (the per-layer rule);
* ``er-neuron``: the same masks with the per-neuron rule sigma_w^2 / k_i;
* ``regular``: in-degree-regular masks (every unit exactly k inputs), variance sigma_w^2 / k.

Each network propagates 64 independent inputs with q0 = 1 (:func:`cascades.nn.gaussian_inputs`)
forward and a random output gradient backward, and 16 inputs with pairwise correlation c0 = 0.5
for c^l (:func:`cascades.bridge.signal_statistics`). Measured: q^l, the spread across units of the
per-unit variance v_i given the layer below (std / mean), the fraction of dead units (in-degree 0)
and of units with no path from the input, c^l and the gradient norm ratio |delta^1|^2 / |delta^20|^2.
Predicted:
q^l from :func:`cascades.nn.sparse_signal_propagation` (Erdos-Renyi masks; a regular mask is a dense
layer of fan-in k), dead fractions (1 - p)^n, the connectivity recursion
:func:`cascades.nn.input_connectivity`, and the dense c map and gradient ratio
(:func:`cascades.nn.propagate`, :func:`cascades.nn.gradient_norms`).

Results go to ``benchmarks/results/bench_bridge_masks-<timestamp>.json``.
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

from cascades.bridge import draw_masks, draw_weights, recommend, signal_statistics  # noqa: E402
from cascades.nn import (  # noqa: E402
    gaussian_inputs,
    gradient_norms,
    input_connectivity,
    propagate,
    sparse_signal_propagation,
)

WIDTH, DEPTH, N_INPUTS, N_PAIRS, Q0, C0 = 256, 20, 64, 16, 1.0, 0.5
IN_DEGREES = (2, 4, 8, 32)
ACTIVATIONS = (("relu", 0.0), ("tanh", 0.05))
MASKS = ("er", "er-neuron", "regular")


def predictions(act, sw2, sb2, k, mask):
    widths = [WIDTH] * (DEPTH + 1)
    p = k / WIDTH
    if mask == "regular":
        st = sparse_signal_propagation(act, sw2, sb2, [k] * (DEPTH + 1), 1.0, q0=Q0)
        dead = np.zeros(DEPTH)
        disc = np.zeros(DEPTH)
    else:
        scaling = "neuron" if mask == "er-neuron" else "layer"
        st = sparse_signal_propagation(act, sw2, sb2, widths, p, q0=Q0, scaling=scaling)
        dead = np.array([s.dead_fraction for s in st])
        disc = 1.0 - input_connectivity(widths, p)[1:]
    q = np.array([s.q_mean for s in st])
    # spread of the per-unit variance v_i: the in-degree part q_std plus the chi-square of the k Gaussian
    # weights, 2 s_k^2 k m^2 = 2 (q(k) - sigma_b^2)^2 / k given equal inputs (exact at layer 1)
    spread = []
    for s in st:
        k = np.arange(s.degree_pmf.size)
        wnoise = np.sum(s.degree_pmf[1:] * 2.0 * (s.q_by_degree[1:] - sb2) ** 2 / k[1:])
        spread.append(np.sqrt(s.q_std**2 + wnoise) / s.q_mean)
    spread = np.array(spread)
    q1 = sw2 * Q0 + sb2
    c = propagate(act, sw2, sb2, q1, DEPTH - 1, c=(sw2 * C0 * Q0 + sb2) / q1).c
    grad = gradient_norms(act, sw2, sb2, DEPTH, q0=q1)
    return {"q": q, "spread": spread, "dead": dead, "disconnected": disc, "c": np.asarray(c), "grad": grad}


def measure(act, sb2, k, mask, seed):
    widths = [WIDTH] * (DEPTH + 1)
    p = k / WIDTH
    rec = recommend(widths, act, p, "uniform", sigma_b2=sb2, per_neuron=(mask == "er-neuron"),
                    in_degree_regular=(mask == "regular"))
    gen = np.random.default_rng([seed, k, MASKS.index(mask), len(act)])
    masks = draw_masks(rec.shapes, rec.densities, rng=gen, in_degree_regular=(mask == "regular"))
    ws, bs = draw_weights(rec, masks, rng=gen)
    x = gaussian_inputs(N_INPUTS, WIDTH, q0=Q0, c0=0.0, rng=gen)
    st = signal_statistics(ws, bs, act, x, rng=gen)
    pairs = signal_statistics(ws, bs, act, gaussian_inputs(N_PAIRS, WIDTH, q0=Q0, c0=C0, rng=gen), rng=gen)
    return rec.sigma_w2, {"q": st.q, "spread": st.conditional_spread, "dead": st.dead_fraction,
                          "disconnected": st.disconnected_fraction, "c": pairs.c, "grad": st.grad_norms}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 networks per case")
    parser.add_argument("--networks", type=int, default=8)
    args = parser.parse_args(argv)
    R = 2 if args.quick else args.networks
    t0 = time.perf_counter()
    rows = []
    head = (f"{'act':>4} {'k':>3} {'mask':>9} | {'q^20 mean':>14} {'geo':>7} {'pred':>6} | "
            f"{'spr^1':>5} {'pred':>5} {'spr^20':>6} {'pred':>5} | {'dead':>6} {'pred':>6} | "
            f"{'disc^20':>7} {'pred':>6} | {'c^20':>5} {'pred':>5} | {'grad^1':>8} {'geo':>8} {'pred':>5}")
    print(head)
    print("-" * len(head))
    for act, sb2 in ACTIVATIONS:
        for k in IN_DEGREES:
            for mask in MASKS:
                runs = []
                for seed in range(R):
                    sw2, m = measure(act, sb2, k, mask, seed)
                    runs.append(m)
                pred = predictions(act, sw2, sb2, k, mask)
                meas = {key: np.array([r[key] for r in runs]) for key in runs[0]}
                mean = {key: v.mean(axis=0) for key, v in meas.items()}
                sd = {key: v.std(axis=0, ddof=1) if R > 1 else np.zeros_like(v[0]) for key, v in meas.items()}
                rows.append({
                    "activation": act, "sigma_w2": sw2, "sigma_b2": sb2, "in_degree": k, "density": k / WIDTH,
                    "mask": mask, "networks": R,
                    "measured_mean": {key: v.tolist() for key, v in mean.items()},
                    "measured_sd": {key: v.tolist() for key, v in sd.items()},
                    "predicted": {key: np.asarray(v).tolist() for key, v in pred.items()},
                })
                L = DEPTH - 1
                with np.errstate(divide="ignore"):
                    geo_q = float(np.exp(np.mean(np.log(meas["q"][:, L]))))
                    geo_g = float(np.exp(np.mean(np.log(meas["grad"][:, 0]))))
                rows[-1]["geometric_mean"] = {"q_last": geo_q, "grad_first": geo_g}
                print(f"{act:>4} {k:>3} {mask:>9} | "
                      f"{mean['q'][L]:7.4f}±{sd['q'][L]:<6.3f} {geo_q:7.3g} {pred['q'][L]:6.4f} | "
                      f"{mean['spread'][0]:5.3f} {pred['spread'][0]:5.3f} "
                      f"{mean['spread'][L]:6.3f} {pred['spread'][L]:5.3f} | "
                      f"{mean['dead'].mean():6.4f} {pred['dead'].mean():6.4f} | "
                      f"{mean['disconnected'][L]:7.4f} {pred['disconnected'][L]:6.4f} | "
                      f"{mean['c'][L]:5.3f} {pred['c'][L]:5.3f} | "
                      f"{mean['grad'][0]:8.3g} {geo_g:8.3g} {pred['grad'][0]:5.3f}", flush=True)
    elapsed = time.perf_counter() - t0
    print(f"\n{len(rows)} cases, {R} networks each, {elapsed:.1f} s.")
    print("q^20: mean ± sd over networks and geometric mean (the typical network); spr^l: std / mean across\n"
          "units of v_i = sum_j W_ij^2 <x_j^2> + b_i^2 (64 independent inputs), predicted: in-degree\n"
          "spread plus the chi-square of the Gaussian weights (exact at l = 1; no depth compounding);\n"
          "dead: in-degree 0, mean over layers;\n"
          "disc: no path from the input; c^0 = 0.5; grad^1: |delta^1|^2 / |delta^20|^2, mean and geometric\n"
          "mean over networks")
    out = {
        "benchmark": "bench_bridge_masks",
        "config": {"width": WIDTH, "depth": DEPTH, "n_inputs": N_INPUTS, "q0": Q0, "c0": C0,
                   "in_degrees": list(IN_DEGREES), "networks": R, "quick": args.quick},
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__},
        "elapsed_s": elapsed,
        "rows": rows,
    }
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = "-quick" if args.quick else ""
    path = ROOT / "benchmarks" / "results" / f"bench_bridge_masks-{stamp}{suffix}.json"
    path.write_text(json.dumps(out, indent=1))
    print(f"results written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
