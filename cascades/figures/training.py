"""Recipe for the bridge in action: a deep sparse MLP trained on scikit-learn's digits from the
recommended initialisation (edge of chaos with the effective fan-in) and from default ones, on the
same mask (:func:`cascades.bridge.train_comparison`; needs PyTorch, ``pip install "cascades[torch]"``).
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
    fig.suptitle(
        f"{depth}-layer {cfg.get('activation', '')} MLP on the 8x8 digits, mask density {cfg.get('density')} "
        f"({cfg.get('scheme')}), same mask and batches for every initialisation", fontsize=10,
    )
    return fig


register(
    Recipe(
        name="bridge-training",
        number=9,
        title="deep sparse MLP trained from the recommended vs default initialisations",
        source="THEORY.md Part C, Fig. 9 (this package's bridge; no paper figure)",
        params={
            "quick": dict(quick=True, epochs=2, widths=[64, 64, 64, 64, 64, 64, 10],
                          inits=["recommended", "torch-default", "he-dense-mask"]),
            "full": dict(quick=False, epochs=10, inits=["recommended", "torch-default", "he-dense-mask"]),
        },
        compute=_compute,
        plot=_plot,
    )
)
