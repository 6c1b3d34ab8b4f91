"""Recipe for the bridge in action: a deep sparse MLP trained on real MNIST digits (or scikit-learn's
8x8 digits at the quick scale) from the recommended initialisation (edge of chaos with the effective
fan-in, read-out for logits) and from default ones, on the same mask
(:func:`cascades.bridge.train_comparison`; needs ``pip install "cascades[torch,data]"``).
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ._base import Recipe, register, subplots

__all__: list[str] = []

_CURVES = ("train_loss", "test_loss", "test_accuracy")


def _compute(p, gen, progress):
    from ..bridge import train_comparison  # imports torch: only when this figure is made

    kw = {k: v for k, v in p.items() if k != "inits"}
    res = train_comparison(inits=tuple(p["inits"]), rng=gen, progress=progress, **kw)
    data = {c: (("init", "epoch"), np.array([getattr(res, c)[n] for n in res.inits])) for c in _CURVES}
    cfg = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dict(res.config).items()}
    return xr.Dataset(
        data,
        coords={"init": list(res.inits), "epoch": np.asarray(res.epochs)},
        attrs={"complete": int(not cfg.get("interrupted", False)),
               "training_config": json.dumps(cfg, sort_keys=True, default=str)},
    )


def _plot(ds):
    from ..bridge.evidence import TrainingComparison

    cfg = json.loads(ds.attrs["training_config"])
    inits = tuple(str(n) for n in ds.init.values)
    res = TrainingComparison(
        inits, ds.epoch.values,
        *({n: ds[c].sel(init=n).values for n in inits} for c in _CURVES),
        config=cfg,
    )
    fig, axes = subplots(1, 2, figsize=(11, 4.2))
    res.plot(ax=list(axes))
    axes[0].set_ylabel("cross-entropy (nats per sample)")
    axes[1].set_ylabel("test accuracy (fraction correct)")
    axes[0].set_title("loss")  # the figure's suptitle names the network
    axes[1].set_title("test accuracy")
    depth = len(cfg.get("widths", ())) - 1
    data = {"mnist5k": "MNIST-5k", "digits": "the 8x8 digits"}.get(cfg.get("dataset"), "the 8x8 digits")
    opt = cfg.get("optimizer", "adam")
    opt = f"SGD (momentum {cfg.get('momentum', 0):g})" if opt == "sgd" else "Adam"
    fig.suptitle(
        f"{depth}-layer {cfg.get('activation', '')} MLP on {data}, mask density {cfg.get('density')} "
        f"({cfg.get('scheme')}), {opt}, lr {cfg.get('lr')}; same mask and batches for every initialisation",
        fontsize=10,
    )
    return fig


register(
    Recipe(
        name="bridge-training",
        number=9,
        title="deep sparse MLP trained from the recommended vs default initialisations",
        source="this package's bridge (no paper figure; the full comparison: benchmarks/bench_init_mnist.py)",
        params={
            "quick": dict(quick=True, epochs=2, widths=[64, 64, 64, 64, 64, 64, 10], dataset="digits",
                          inits=["recommended", "torch-default", "he-dense-mask"]),
            "full": dict(quick=False, epochs=10, dataset="mnist5k", activation="tanh", density=0.1,
                         scheme="erk", optimizer="sgd", momentum=0.9, lr=0.01,
                         inits=["recommended", "orthogonal", "torch-default", "he-dense-mask"]),
        },
        compute=_compute,
        plot=_plot,
    )
)
