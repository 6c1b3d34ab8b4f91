"""Evidence that the recommendation matters: one network trained from several initialisations.

:func:`train_comparison` trains the same (masked) network, an MLP given by its widths or any torch
module the bridge can read, on a real data set (:mod:`cascades.datasets`: scikit-learn's digits or
5000 MNIST digits) from the recommended initialisation and from the defaults practitioners use, on
the same mask and the same batches, and returns the curves as a
:class:`~cascades.bridge.evidence.TrainingComparison`. torch is imported inside the function only.
"""

from __future__ import annotations

import numpy as np

from .._rng import as_generator, spawn
from .._validation import check_int, check_real
from ..nn._guard import guard
from .topology import _shown_shapes, draw_masks

__all__ = ["train_comparison", "DATASETS"]

#: Data sets :func:`train_comparison` trains on (loaders of :mod:`cascades.datasets`).
DATASETS = ("digits", "mnist5k")
_QUICK_EPOCHS = 3


def _load(dataset):
    from .. import datasets

    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}; got {dataset!r}")
    return getattr(datasets, dataset)()


def _default_widths(n_in, n_out, quick):
    return [n_in] + ([128] * 8 if quick else [256] * 20) + [n_out]


def _init_model(name, build, recs, masks, gen, torch_seed):
    """A fresh network from ``build()`` initialised by ``name`` and pruned by ``masks``."""
    import torch

    from .torch import _init_layer
    from .trace import _forward_order
    from .weights import draw_weights

    model = build()
    layers = _forward_order(model)
    rec = recs["recommended-nearest" if name == "recommended-nearest" else "recommended"]
    pruned = [lay.density < 1 for lay in rec.layers]
    if name == "torch-default":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed)
            for _, layer in layers:
                layer.reset_parameters()
        for (_, layer), p, m in zip(layers, pruned, masks, strict=True):
            _init_layer(layer, p, m)
        return model
    if name in ("recommended", "recommended-nearest", "orthogonal"):
        law = "orthogonal" if name == "orthogonal" else "gaussian"
        ws, bs = draw_weights(rec, masks, rng=gen, weights=law)
    else:  # he-dense-mask: He et al. (2015) for the dense layer, then masked (no density correction)
        ws = [gen.standard_normal(lay.layer_shape.weight_shape) * np.sqrt(2.0 / lay.fan_in) * m
              for lay, m in zip(rec.layers, masks, strict=True)]
        bs = [np.zeros(lay.shape[2]) for lay in rec.layers]
    for (_, layer), p, m, w, b in zip(layers, pruned, masks, ws, bs, strict=True):
        _init_layer(layer, p, m, w, b)
    return model


def train_comparison(
    widths=None,
    *,
    model=None,
    activation="relu",
    density=0.1,
    scheme="uniform",
    dataset="digits",
    inits=("recommended", "torch-default", "he-dense-mask"),
    epochs=10,
    batch_size=64,
    lr=1e-3,
    optimizer="adam",
    momentum=0.0,
    weight_decay=0.0,
    rng=0,
    progress=True,
    quick=False,
):
    """Train one deep sparse network on a real data set from several initialisations (same mask).

    Parameters
    ----------
    widths : sequence of int, optional
        An MLP (n_0, ..., n_L) with ``activation`` after every layer but the last; n_0 must be the
        data's feature count (64 for digits, 784 for mnist5k) and n_L its 10 classes. Default: 20
        hidden layers of 256 (``quick``: 8 of 128).
    model : callable, optional
        Instead of ``widths``: a function with no arguments returning a fresh ``torch.nn.Module``
        (its layers and activations are read by :func:`cascades.bridge.trace.read_module`; a model
        whose first layer is a Conv2d gets the images as (n, 1, h, w)). Called once per init.
    activation : str
        The MLP's activation (ignored with ``model``: read from it).
    density : float
        Overall mask density in (0, 1].
    scheme : str
        Density scheme of :func:`cascades.bridge.recommend` ("uniform", "erk", ...).
    dataset : {"digits", "mnist5k"}
        :func:`cascades.datasets.digits` (1346 / 451 8x8 images) or
        :func:`cascades.datasets.mnist5k` (4000 / 1000 MNIST digits), fixed stratified splits,
        standardised with one global mean and standard deviation (mean squared entry q0 = 1 on the
        training set, which the recommendation is given).
    inits : sequence of str
        Any of

        * "recommended": :func:`cascades.bridge.recommend` (edge of chaos at q* = q0, read-out layer
          for logits), Gaussian weights on the mask;
        * "recommended-nearest": the same with ``stability="nearest"`` (moved to the nearest stable
          point where q* = q0 is unstable: GELU, SiLU);
        * "orthogonal": the recommendation with ``weights="orthogonal"`` (approximate isometry on
          the mask, :func:`cascades.bridge.weights.draw_weights`);
        * "torch-default": PyTorch's default init of every layer (``reset_parameters``: uniform,
          std 1 / sqrt(3 fan_in), i.e. sigma_w^2 = 1/3, and uniform biases), then masked;
        * "he-dense-mask": dense He init, std sqrt(2 / fan_in) and zero biases on every layer, then
          masked (not corrected for the density, so the effective sigma_w^2 is 2 p_l).
    epochs : int
        Passes over the training set (>= 1); ``quick`` caps it at 3.
    batch_size : int
        Mini-batch size (>= 1).
    lr : float
        Learning rate (> 0).
    optimizer : {"adam", "sgd"}
        torch.optim.Adam, or torch.optim.SGD with ``momentum``.
    momentum, weight_decay : float
        SGD momentum in [0, 1) and L2 weight decay (>= 0; both optimizers).
    rng : None, int or numpy.random.Generator
        Source of all randomness (keyword-only): the mask, each init's weights (numpy), the seed of
        PyTorch's default init and the batch order (shared by all inits). The data split is the
        data set's fixed one.
    progress : bool
        Show a tqdm progress bar (one step per init and epoch).
    quick : bool
        Shrink the default network and the number of epochs so the call takes a few seconds.

    Returns
    -------
    TrainingComparison
        Curves indexed by epoch (0 = before training). On Ctrl-C the finished epochs are kept,
        the rest are NaN and ``config["interrupted"]`` is True.

    Raises
    ------
    TypeError
        If ``widths`` is not a sequence (or None), ``inits`` not a sequence of names, ``model`` not
        a callable or ``model()`` not a torch module.
    ValueError
        For widths or a model that do not match the data, an unknown init, optimizer, data set or
        activation, or invalid epochs, batch size, learning rate, momentum or density.
    cascades.MemoryLimitError
        If the models of all inits with their gradients, masks and optimizer states (about
        4 (4 + 2) bytes per weight and init with Adam) do not fit in memory.
    ImportError
        When the data set's package is missing (the message names the extra to install).

    Notes
    -----
    Every init trains the same masked architecture (masks attached with
    ``torch.nn.utils.prune.custom_from_mask``, float32, CPU) on the same batch sequence,
    interleaved epoch by epoch. Losses are evaluated on the whole train and test sets after each
    epoch. torch runs single-threaded inside the call (restored afterwards) and PyTorch's global
    random state is forked, so the result depends on ``rng`` only.
    Cost: O(epochs * len(inits) * n_train * (weights of the network)).

    References
    ----------
    Poole et al., NeurIPS 2016 and Schoenholz et al., ICLR 2017 (edge of chaos); Hayou, Doucet &
    Rousseau, ICML 2019 (the curve); Gadhikar, Mukherjee & Burkholz, ICML 2023 (density-corrected
    init); He et al., ICCV 2015 (He init); Lee et al., ICLR 2020 (approximate isometry).
    """
    import torch

    from .evidence import INIT_NAMES, TrainingComparison
    from .recommend import recommend
    from .torch import _activation_module, _layer_activations, _mlp

    if widths is not None and (isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__")):
        raise TypeError(f"widths must be a sequence of layer widths (n_0, ..., n_L) or None, got "
                        f"{type(widths).__name__}")
    if isinstance(inits, str):
        inits = (inits,)
    if not hasattr(inits, "__iter__"):
        raise TypeError(f"inits must be a sequence of init names from {', '.join(INIT_NAMES)}, got "
                        f"{type(inits).__name__}")
    data = _load(dataset)
    n_in, n_out = data.n_features, data.n_classes
    inits = tuple(inits)
    bad = [n for n in inits if n not in INIT_NAMES]
    if not inits or bad or len(set(inits)) != len(inits):
        raise ValueError(f"inits must be distinct names from {', '.join(INIT_NAMES)}; got {inits!r}")
    epochs = check_int("epochs", epochs, low=1)
    if quick:
        epochs = min(epochs, _QUICK_EPOCHS)
    batch_size = check_int("batch_size", batch_size, low=1)
    lr = check_real("lr", lr, low=0, low_open=True)
    momentum = check_real("momentum", momentum, low=0, high=1, high_open=True)
    weight_decay = check_real("weight_decay", weight_decay, low=0)
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")

    if model is not None:
        if widths is not None:
            raise ValueError("give widths or model, not both")
        if not callable(model):
            raise TypeError(f"model must be a callable returning a torch.nn.Module, got "
                            f"{type(model).__name__}")
        probe = model()
        if not isinstance(probe, torch.nn.Module):
            raise TypeError(f"model() must return a torch.nn.Module, got {type(probe).__name__}")
        arch, act_arg, build = probe, None, model
    else:
        widths = _default_widths(n_in, n_out, quick) if widths is None else list(widths)
        arch, act_arg, build = widths, activation, None
    kw = dict(density=density, scheme=scheme, q0=data.q0)
    recs = {"recommended": recommend(arch, act_arg, **kw)}
    if "recommended-nearest" in inits:
        recs["recommended-nearest"] = recommend(arch, act_arg, stability="nearest", **kw)
    rec = recs["recommended"]
    first, last = rec.shapes[0], rec.shapes[-1]
    image = first.kind == "conv2d"
    need_in = data.image_shape[0] if image else n_in
    if first.in_channels != need_in or last.out_channels != n_out:
        what = "model" if model is not None else "widths"
        unit = "channels" if image else "features"
        raise ValueError(f"{what} must take {need_in} input {unit} ({dataset}) and end at {n_out} classes; "
                         f"got {first.in_channels} -> {last.out_channels}")
    if build is None:
        acts = _layer_activations(rec)
        for a in acts:  # validates the activations before any training
            if a is not None:
                _activation_module(a)

        def build():
            return _mlp(rec.shapes, acts, torch.float32)

    # per init, float32: the parameters, their gradients, the pruning mask and masked weight, and
    # the optimizer's state (Adam: two moments; SGD: the momentum buffer, if any); beside them the
    # shared boolean masks and one init's float64 numpy draw
    n_weights = sum(s.n_weights for s in rec.shapes)
    states = 2 if optimizer == "adam" else int(momentum > 0)
    guard(n_weights * (1 + 8 + 4 * (4 + states) * len(inits)),
          parameter=f"{'model' if model is not None else 'widths'} {_shown_shapes(rec.shapes)} with "
                    f"{len(inits)} inits", what="the models, their optimizers and the masks")
    gen = as_generator(rng)
    masks = draw_masks(rec.shapes, rec.densities, rng=gen)
    init_gens = dict(zip(INIT_NAMES, spawn(gen, len(INIT_NAMES)), strict=True))
    torch_seed = int(gen.integers(2**63))
    Xtr, ytr, Xte, yte = data.X_train, data.y_train, data.X_test, data.y_test
    orders = [gen.permutation(Xtr.shape[0]) for _ in range(epochs)]

    n_e = epochs + 1
    curves = {key: {n: np.full(n_e, np.nan) for n in inits} for key in ("train", "test", "acc")}
    threads = torch.get_num_threads()
    bar = None
    interrupted = False
    done = 0
    try:
        torch.set_num_threads(1)
        shape = (-1, *data.image_shape) if image else (-1, n_in)
        xtr = torch.from_numpy(np.array(Xtr, dtype=np.float32)).reshape(shape)  # writable copies
        xte = torch.from_numpy(np.array(Xte, dtype=np.float32)).reshape(shape)
        ttr, tte = torch.from_numpy(np.array(ytr)), torch.from_numpy(np.array(yte))
        models, opts = {}, {}
        for name in inits:
            models[name] = _init_model(name, build, recs, masks, init_gens[name], torch_seed)
            params = models[name].parameters()
            opts[name] = (torch.optim.Adam(params, lr=lr, weight_decay=weight_decay) if optimizer == "adam"
                          else torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay))

        def evaluate(name, e):
            net = models[name]
            with torch.no_grad():
                ltr = torch.nn.functional.cross_entropy(net(xtr), ttr).item()
                out = net(xte)
                lte = torch.nn.functional.cross_entropy(out, tte).item()
                acc = (out.argmax(dim=1) == tte).double().mean().item()
            curves["train"][name][e], curves["test"][name][e], curves["acc"][name][e] = ltr, lte, acc

        for name in inits:
            evaluate(name, 0)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=epochs * len(inits), desc="train_comparison", unit="epoch")
        for e in range(1, epochs + 1):
            order = torch.from_numpy(orders[e - 1])
            for name in inits:
                net, opt = models[name], opts[name]
                for start in range(0, order.numel(), batch_size):
                    idx = order[start:start + batch_size]
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(net(xtr[idx]), ttr[idx]).backward()
                    opt.step()
                evaluate(name, e)
                if bar is not None:
                    bar.update(1)
            done = e
    except KeyboardInterrupt:
        interrupted = True
        for key in curves:  # an epoch is kept only if every init finished it
            for name in inits:
                curves[key][name][done + 1:] = np.nan
    finally:
        torch.set_num_threads(threads)
        if bar is not None:
            bar.close()
    config = {
        "widths": [int(w) for w in widths] if widths is not None else None,
        "model": getattr(model, "__name__", repr(model)) if model is not None else None,
        "layers": [list(s.to_tuple()) for s in rec.shapes], "activation": rec.activation,
        "density": float(density), "scheme": scheme, "dataset": dataset, "epochs": epochs,
        "batch_size": batch_size, "lr": lr, "optimizer": optimizer, "momentum": momentum,
        "weight_decay": weight_decay, "rng": rng if isinstance(rng, int) else None, "quick": bool(quick),
        "n_train": int(Xtr.shape[0]), "n_test": int(Xte.shape[0]), "threads": 1,
        "torch_version": torch.__version__, "q0": float(data.q0),
        "sigma_w2": rec.sigma_w2, "sigma_b2": rec.sigma_b2, "q_star": rec.q_star,
        "q_star_nearest": recs["recommended-nearest"].q_star if "recommended-nearest" in recs else None,
        "achieved_density": float(sum(m.sum() for m in masks) / sum(m.size for m in masks)),
        "completed_epochs": done, "interrupted": interrupted,
    }
    return TrainingComparison(
        inits=inits, epochs=np.arange(n_e), train_loss=curves["train"], test_loss=curves["test"],
        test_accuracy=curves["acc"], config=config,
    )
