"""Recipe for sparse training with drop-and-grow: accuracy against density for every method, and the topology
monitor over training (dead units against the Erdos-Renyi prediction, the fraction of weights explored)
(:func:`cascades.dst.train`; needs ``pip install "cascades[torch,data]"``).
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ._base import Recipe, register, subplots

__all__: list[str] = []


def _dead_expected(res):
    """sum_l n_out (1 - p_l)^(n_in k): dead units of Erdos-Renyi masks with the run's densities."""
    total = 0.0
    for m in res.masks:
        m = np.asarray(m, dtype=bool)
        fan_in = int(np.prod(m.shape[1:]))
        total += m.shape[0] * (1 - float(m.mean())) ** fan_in
    return total


def _compute(p, gen, progress):
    from ..dst import train  # imports torch: only when this figure is made

    methods, densities = list(p["methods"]), list(p["densities"])
    seed = int(gen.integers(2**31))
    acc = np.full((len(methods), len(densities)), np.nan)
    epochs = np.arange(p["epochs"] + 1)
    dead = np.full((len(methods), len(epochs)), np.nan)
    explored = np.full((len(methods), len(epochs)), np.nan)
    dead_theory = np.full(len(methods), np.nan)
    kw = dict(epochs=p["epochs"], rng=seed, lr=p["lr"], batch_size=p["batch_size"], progress=progress)
    for j, d in enumerate(densities):
        for i, m in enumerate(methods):
            grow = "theory" if m == "theory" else "zero" if m == "rigl" else "dense"
            res = train(list(p["widths"]), p["dataset"], density=d, method=m, grow_init=grow, **kw)
            acc[i, j] = res.test_accuracy
            if d == p["monitor_density"]:
                dead[i] = res.history["dead_units"].values
                explored[i] = res.history["explored_fraction"].values
                dead_theory[i] = _dead_expected(res)
    return xr.Dataset(
        {
            "test_accuracy": (("method", "density"), acc),
            "dead_units": (("method", "epoch"), dead),
            "explored_fraction": (("method", "epoch"), explored),
            "dead_theory": (("method",), dead_theory),
        },
        coords={"method": methods, "density": densities, "epoch": epochs},
        attrs={
            "complete": 1,
            "monitor_density": p["monitor_density"],
            "setup": json.dumps({k: v for k, v in p.items()}, sort_keys=True, default=str),
        },
    )


def _plot(ds):
    fig, axes = subplots(1, 3, figsize=(14, 4.2))
    for i, m in enumerate(ds.method.values):
        m = str(m)
        axes[0].plot(100 * ds.density.values, ds.test_accuracy.values[i], "o-", label=m)
        (line,) = axes[1].plot(ds.epoch.values, ds.dead_units.values[i], "-", label=m)
        axes[1].axhline(float(ds.dead_theory.values[i]), color=line.get_color(), ls=":", lw=1)
        axes[2].plot(ds.epoch.values, ds.explored_fraction.values[i], "-", label=m)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("density (% of weights kept)")
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].set_title("accuracy against density")
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("units with in-degree 0")
    axes[1].set_title(
        f"dead units at density {ds.attrs['monitor_density']:g}\n(dotted: Erdos-Renyi (1-p)^n_in)"
    )
    axes[2].set_xlabel("epoch")
    axes[2].set_ylabel("fraction of weights ever active")
    axes[2].set_title("explored (In-Time Over-Parameterization)")
    setup = json.loads(ds.attrs["setup"])
    fig.suptitle(
        f"{'-'.join(map(str, setup['widths']))} ReLU MLP on {setup['dataset']}, ERK masks, SGD "
        f"momentum 0.9, lr {setup['lr']}, {setup['epochs']} epochs",
        fontsize=10,
    )
    return fig


register(
    Recipe(
        name="dst-training",
        number=11,
        title="sparse training with drop-and-grow: accuracy against density, dead units and explored weights",
        source="Mocanu et al. 2018 (SET), Evci et al. 2020 (RigL), our theory-placed regrowth",
        params={
            "quick": dict(
                widths=[64, 32, 10],
                dataset="digits",
                densities=[0.1, 0.3],
                monitor_density=0.1,
                methods=["static", "set", "rigl", "theory"],
                epochs=2,
                lr=0.05,
                batch_size=64,
            ),
            "full": dict(
                widths=[784, 300, 100, 10],
                dataset="mnist5k",
                densities=[0.005, 0.01, 0.02],
                monitor_density=0.005,
                methods=["static", "set", "rigl", "theory"],
                epochs=20,
                lr=0.05,
                batch_size=64,
            ),
        },
        compute=_compute,
        plot=_plot,
    )
)
