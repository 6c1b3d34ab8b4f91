"""Dynamic sparse training of a recommended network on a real data set.

:func:`train` builds a masked network from :func:`cascades.bridge.recommend` (an MLP from its
widths, or any torch module the bridge reads), trains it with SGD on one of the offline data sets
of :mod:`cascades.datasets` while a :class:`~cascades.dst.DropAndGrow` changes its masks, and
returns the final test accuracy, the per-epoch curves and the final masks as a frozen
:class:`TrainResult`. torch is imported inside the function only.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .._rng import as_generator, spawn
from .._validation import check_int, check_real
from .core import GROW_INITS, METHODS, SCHEDULES, DropAndGrow

__all__ = ["DATASETS", "TrainResult", "train"]

#: Data sets :func:`train` trains on (loaders of :mod:`cascades.datasets`).
DATASETS = ("mnist5k", "digits")
#: Default steps between mask updates (RigL used 100 on ImageNet; an MNIST-5k epoch at batch 64 is 63 steps).
DEFAULT_UPDATE_EVERY = 50
#: The default ``update_every`` is lowered for short runs so that at least this many updates happen.
MIN_UPDATES = 10
#: Fraction of the optimizer steps after which the masks stay fixed (the cosine schedule reaches 0 there).
END_FRACTION = 0.75


@dataclass(frozen=True, eq=False)
class TrainResult:
    """What :func:`train` returns (``==`` is identity: compare the fields).

    Attributes
    ----------
    test_accuracy : float
        Final test accuracy in percent (0..100).
    history : xarray.Dataset
        Indexed by ``epoch`` = 0 (before training), 1, ..., epochs, with variables ``train_loss``
        and ``test_loss`` (mean cross-entropy on the whole set, model in eval mode),
        ``test_accuracy`` (percent), ``explored_fraction`` (fraction of the sparse layers' weights
        ever active, :meth:`DropAndGrow.explored_fraction`) and ``dead_units`` (units with
        in-degree 0, summed over the weight layers; for a Conv2d a unit is an output channel).
    masks : tuple of numpy.ndarray
        Final boolean masks, one per Linear / Conv2d layer in forward order (all True for a dense
        layer).
    updates : tuple of UpdateRecord
        The mask updates (:attr:`DropAndGrow.history`); empty for ``method="static"``.
    settings : dict
        The arguments (JSON-friendly), the resolved ``update_every`` and ``end_step``, the steps
        per epoch, the per-layer densities, the active weights per layer at initialisation
        (``initial_active``) and at the end (``active``), ``n_train`` / ``n_test``, the torch version and
        ``seconds`` (wall time of the training loop).
    recommendation : cascades.bridge.Recommendation
        The recommendation the network was built from.
    """

    test_accuracy: float
    history: object
    masks: tuple
    updates: tuple
    settings: dict = field(default_factory=dict)
    recommendation: object = None

    def __repr__(self):
        s = self.settings
        return (f"TrainResult({s.get('method')!r}, density={s.get('density')}, epochs={s.get('epochs')}, "
                f"test_accuracy={self.test_accuracy:.2f}%, updates={len(self.updates)})")


def _load(dataset):
    from .. import datasets

    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {dataset!r}")
    return getattr(datasets, dataset)()


def _dead_units(masks) -> int:
    return int(sum(int((m.reshape(m.shape[0], -1).sum(1) == 0).sum()) for m in masks))


def train(
    architecture,
    dataset="mnist5k",
    *,
    density,
    method="set",
    epochs=20,
    scheme="erk",
    rng=0,
    lr=0.05,
    momentum=0.9,
    weight_decay=5e-5,
    batch_size=64,
    update_every=None,
    drop_fraction=0.3,
    schedule="cosine",
    grow_init="theory",
    per_neuron=False,
    flow_preserving=False,
    activation="relu",
    progress=False,
) -> TrainResult:
    """Train a sparse network with drop-and-grow (or a fixed mask) on MNIST-5k or digits.

    Parameters
    ----------
    architecture : sequence of int, torch.nn.Module or callable
        MLP widths (n_0, ..., n_L), e.g. LeNet-300-100 ``[784, 300, 100, 10]``, with ``activation``
        after every layer but the last; or a torch module (trained in place) or a function with no
        arguments returning one, whose Linear / Conv2d layers and activations
        :func:`cascades.bridge.recommend` reads. n_0 must be the data's feature count (784 for
        mnist5k, 64 for digits), or its 1 channel when the first layer is a Conv2d (the images are
        then given as (n, 1, h, w)); the last layer must have the 10 classes.
    dataset : {"mnist5k", "digits"}
        :func:`cascades.datasets.mnist5k` (4000 / 1000 images) or :func:`cascades.datasets.digits`
        (1346 / 451), standardised (q0 = 1, which the recommendation is given).
    density : float
        Overall density in (0, 1] (keyword-only).
    method : {"set", "rigl", "random", "theory", "static"}
        Growth rule of :class:`~cascades.dst.DropAndGrow`; "static" keeps the initial mask.
    epochs : int
        Passes over the training set (>= 1).
    scheme : str
        Density scheme of :func:`cascades.bridge.recommend` ("erk", "uniform", ...).
    rng : None, int or numpy.random.Generator
        Source of all randomness (keyword-only): the mask and weights, the drop-and-grow draws
        and the seed of a torch.Generator for the batch order and of torch's (forked) global
        random state for dropout and the like. The same ``rng`` gives the same result.
    lr, momentum, weight_decay : float
        SGD learning rate (> 0), momentum in [0, 1) and L2 weight decay (>= 0).
    batch_size : int
        Mini-batch size (>= 1); the last batch of an epoch may be smaller.
    update_every : int, optional
        Optimizer steps between mask updates (>= 1). Default ``DEFAULT_UPDATE_EVERY`` = 50 (about
        1.3 updates per MNIST-5k epoch at batch 64, 18 updates in 20 epochs), lowered for short
        runs to ``end_step // MIN_UPDATES`` (at least 1) so that at least 10 updates happen.
    drop_fraction : float
        Initial drop fraction f_0 in [0, 1).
    schedule : {"cosine", "constant"}
        Drop-fraction schedule; updates stop after ``END_FRACTION`` = 75 % of the optimizer steps
        (``end_step``), where the cosine schedule reaches 0.
    grow_init : {"zero", "dense", "theory"}
        Value of grown weights (see :class:`~cascades.dst.DropAndGrow`).
    per_neuron : bool
        Per-neuron weight scale sigma_w^2 / k_i, both at initialisation (recommendation) and for
        grown weights.
    flow_preserving : bool
        Flow-preserving initial masks (recommendation) and drops that never disconnect a unit.
    activation : str
        The MLP's activation (ignored for a module: read from it).
    progress : bool
        Show a tqdm progress bar (one step per epoch).

    Returns
    -------
    TrainResult
        Final test accuracy (percent), per-epoch history, final masks, the mask updates and the
        settings.

    Raises
    ------
    ValueError
        For a density outside (0, 1], epochs < 1, update_every < 1, a drop fraction outside
        [0, 1), an unknown method, schedule, grow_init, data set or activation, non-positive lr,
        momentum outside [0, 1), negative weight decay, batch_size < 1, or an architecture that
        does not match the data.
    TypeError
        If ``architecture`` is neither widths, a torch module nor a callable returning one.
    ImportError
        When the data set's package is missing (the message names the extra to install).

    Notes
    -----
    One optimizer step per mini-batch (SGD with ``momentum`` and L2 ``weight_decay``, float32,
    CPU), then :meth:`DropAndGrow.step`. The training loop runs with torch's global random state
    forked (restored afterwards). The thread count is left as it is: call
    ``torch.set_num_threads(1)`` for benchmarks on shared machines. Cost: O(epochs * n_train *
    weights) for the dense-masked forward and backward passes, plus O(weights log weights) per
    mask update.

    References
    ----------
    Mocanu et al., Nature Communications 9, 2383 (2018) (SET); Evci et al., ICML 2020 (RigL);
    Liu et al., ICML 2021 (in-time over-parameterization).

    Examples
    --------
    >>> res = train([64, 32, 10], "digits", density=0.2, method="set", epochs=2, rng=0)
    >>> res.history.sizes["epoch"], len(res.updates) >= 1
    (3, True)
    >>> 0 <= res.test_accuracy <= 100
    True
    >>> [int(m.sum()) for m in res.masks] == res.settings["initial_active"]   # densities kept exactly
    True
    """
    import torch
    import xarray as xr

    from ..bridge import apply_to, masks_from, recommend, to_torch

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}")
    if grow_init not in GROW_INITS:
        raise ValueError(f"grow_init must be one of {', '.join(GROW_INITS)}; got {grow_init!r}")
    density = check_real("density", density, low=0, high=1, low_open=True)
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    if update_every is not None:
        update_every = check_int("update_every", update_every, low=1)
    drop_fraction = check_real("drop_fraction", drop_fraction, low=0, high=1, high_open=True)
    lr = check_real("lr", lr, low=0, low_open=True)
    momentum = check_real("momentum", momentum, low=0, high=1, high_open=True)
    weight_decay = check_real("weight_decay", weight_decay, low=0)
    gen = as_generator(rng)  # validates rng before the data are read
    data = _load(dataset)

    module = None
    if isinstance(architecture, torch.nn.Module):
        module = architecture
    elif callable(architecture):
        module = architecture()
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"architecture() must return a torch.nn.Module, got {type(module).__name__}")
    elif isinstance(architecture, (str, bytes)) or not hasattr(architecture, "__iter__"):
        raise TypeError(f"architecture must be MLP widths, a torch.nn.Module or a callable returning one, "
                        f"got {type(architecture).__name__}")
    if module is None:
        widths = [int(w) for w in architecture]
        rec = recommend(widths, activation, density, scheme, q0=data.q0, per_neuron=per_neuron,
                        flow_preserving=flow_preserving)
    else:
        widths = None
        rec = recommend(module, None, density, scheme, q0=data.q0, per_neuron=per_neuron,
                        flow_preserving=flow_preserving)
    first, last = rec.shapes[0], rec.shapes[-1]
    image = first.kind == "conv2d"
    need_in = data.image_shape[0] if image else data.n_features
    if first.in_channels != need_in or last.out_channels != data.n_classes:
        unit = "channels" if image else "features"
        raise ValueError(f"architecture must take {need_in} input {unit} ({dataset}) and end at "
                         f"{data.n_classes} classes; got {first.in_channels} -> {last.out_channels}")

    g_model, g_dst, g_torch = spawn(gen, 3)
    torch_seed = int(g_torch.integers(2**63))
    n_train = data.X_train.shape[0]
    steps_per_epoch = math.ceil(n_train / batch_size)
    total = epochs * steps_per_epoch
    end_step = max(1, int(END_FRACTION * total))
    if update_every is None:
        update_every = max(1, min(DEFAULT_UPDATE_EVERY, end_step // MIN_UPDATES))

    model = to_torch(rec, rng=g_model) if module is None else apply_to(module, rec, rng=g_model)
    initial_active = [int(m.sum()) for m in masks_from(model)]
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    sparse = any(lay.density < 1 for lay in rec.layers)
    if not sparse and method != "static":
        raise ValueError(f"method {method!r} needs a sparse network; density={density} gives dense layers "
                         f"only (use method='static' or a density < 1)")
    dg = (DropAndGrow(model, rec, method=method, update_every=update_every, drop_fraction=drop_fraction,
                      schedule=schedule, end_step=end_step, grow_init=grow_init, per_neuron=per_neuron,
                      flow_preserving=flow_preserving, optimizer=opt, rng=g_dst) if sparse else None)

    shape = (-1, *data.image_shape) if image else (-1, data.n_features)
    xtr = torch.from_numpy(np.array(data.X_train, dtype=np.float32)).reshape(shape)
    xte = torch.from_numpy(np.array(data.X_test, dtype=np.float32)).reshape(shape)
    ttr = torch.from_numpy(np.array(data.y_train))
    tte = torch.from_numpy(np.array(data.y_test))

    n_e = epochs + 1
    curves = {k: np.full(n_e, np.nan) for k in ("train_loss", "test_loss", "test_accuracy",
                                                 "explored_fraction")}
    dead = np.zeros(n_e, dtype=np.int64)
    ce = torch.nn.functional.cross_entropy

    def evaluate(e):
        model.eval()
        with torch.no_grad():
            curves["train_loss"][e] = ce(model(xtr), ttr).item()
            out = model(xte)
            curves["test_loss"][e] = ce(out, tte).item()
            curves["test_accuracy"][e] = 100.0 * (out.argmax(dim=1) == tte).double().mean().item()
        curves["explored_fraction"][e] = dg.explored_fraction() if dg is not None else 1.0
        dead[e] = _dead_units(masks_from(model))
        model.train()

    bar = None
    t0 = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed)
            shuffle = torch.Generator().manual_seed(torch_seed)
            evaluate(0)
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=epochs, desc=f"train {method}", unit="epoch")
            for e in range(1, n_e):
                model.train()
                order = torch.randperm(n_train, generator=shuffle)
                for start in range(0, n_train, batch_size):
                    idx = order[start:start + batch_size]
                    opt.zero_grad()
                    ce(model(xtr[idx]), ttr[idx]).backward()
                    opt.step()
                    if dg is not None:
                        dg.step()
                evaluate(e)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(acc=f"{curves['test_accuracy'][e]:.1f}")
    finally:
        if bar is not None:
            bar.close()
        if dg is not None:
            dg.remove()
    seconds = time.perf_counter() - t0

    masks = masks_from(model)
    history = xr.Dataset(
        {**{k: ("epoch", v) for k, v in curves.items()}, "dead_units": ("epoch", dead)},
        coords={"epoch": np.arange(n_e)},
        attrs={"method": method, "dataset": dataset, "density": density,
               "test_accuracy_unit": "percent"},
    )
    settings = {
        "architecture": widths if widths is not None else type(module).__name__,
        "layers": [list(s.to_tuple()) for s in rec.shapes], "activation": rec.activation,
        "dataset": dataset, "density": density, "method": method, "epochs": epochs, "scheme": scheme,
        "rng": rng if isinstance(rng, int) else None, "lr": lr, "momentum": momentum,
        "weight_decay": weight_decay, "batch_size": batch_size, "update_every": update_every,
        "end_step": end_step, "steps_per_epoch": steps_per_epoch, "drop_fraction": drop_fraction,
        "schedule": schedule, "grow_init": grow_init, "per_neuron": bool(per_neuron),
        "flow_preserving": bool(flow_preserving), "layer_densities": [float(x) for x in rec.densities],
        "initial_active": initial_active, "active": [int(m.sum()) for m in masks],
        "n_train": int(n_train), "n_test": int(xte.shape[0]),
        "torch_version": torch.__version__, "threads": torch.get_num_threads(), "seconds": seconds,
    }
    return TrainResult(
        test_accuracy=float(curves["test_accuracy"][-1]), history=history, masks=tuple(masks),
        updates=tuple(dg.history) if dg is not None else (), settings=settings, recommendation=rec,
    )
