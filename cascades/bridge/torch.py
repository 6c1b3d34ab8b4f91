"""PyTorch export of a :class:`~cascades.bridge.Recommendation` (the package's only torch module).

torch is imported inside the functions, only when one of them is called, never by
``import cascades`` (STYLE.md item 6). Masks are attached with
:func:`torch.nn.utils.prune.custom_from_mask`, so a layer's ``weight`` is recomputed as
``weight_orig * weight_mask`` before every forward pass (the pruned entries stay zero through
training) and ``torch.nn.utils.prune.remove(layer, "weight")`` makes the pruning permanent.
All randomness (masks and weights) comes from the numpy generator made from ``rng``, so the
same ``rng`` gives the same model.
"""

from __future__ import annotations

import numpy as np

from .._rng import as_generator
from .topology import LayerShape, draw_masks
from .weights import approximate_isometry, draw_weights, orthogonal_matrix

__all__ = ["to_torch", "apply_to", "masks_from", "layer_shapes", "train_comparison"]

_ACTIVATIONS = {
    "relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "logistic": "Sigmoid", "gelu": "GELU",
    "silu": "SiLU", "swish": "SiLU", "selu": "SELU", "hardtanh": "Hardtanh", "hard_tanh": "Hardtanh",
    "hard-tanh": "Hardtanh", "linear": "Identity", "identity": "Identity",
}


def _weight_layers(module):
    """The Linear and Conv2d layers of ``module`` in order; ValueError naming any other weight layer."""
    import torch.nn as nn

    out = []
    for name, sub in module.named_modules():
        if isinstance(sub, (nn.Linear, nn.Conv2d)):
            if isinstance(sub, nn.Conv2d) and sub.groups != 1:
                raise ValueError(f"module layer {name!r} is a grouped Conv2d (groups={sub.groups}); "
                                 "unsupported")
            out.append((name, sub))
        elif not list(sub.children()):
            w = getattr(sub, "weight", None)
            if isinstance(w, nn.Parameter) and w.dim() >= 2:
                raise ValueError(
                    f"module layer {name!r} of type {type(sub).__name__} is not supported "
                    f"(only Linear and Conv2d weight layers)"
                )
    if not out:
        raise ValueError("module has no Linear or Conv2d layer")
    return out


def _shape_of(layer) -> LayerShape:
    import torch.nn as nn

    if isinstance(layer, nn.Linear):
        return LayerShape("linear", layer.in_features, layer.out_features)
    return LayerShape("conv2d", layer.in_channels, layer.out_channels, tuple(layer.kernel_size))


def layer_shapes(module) -> tuple:
    """The :class:`~cascades.bridge.topology.LayerShape` of a torch module's Linear / Conv2d layers, in order.

    Raises
    ------
    ValueError
        If the module has no such layer, or a weight layer of another type (named in the message).
    """
    return tuple(_shape_of(layer) for _, layer in _weight_layers(module))


def _init_layer(layer, mask, w, b, dtype):
    """Copy the numpy weights/biases (already zero off the mask) into ``layer`` and attach the mask."""
    import torch
    from torch.nn.utils import prune

    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(np.asarray(w, dtype=np.float64)).to(dtype))
        if layer.bias is not None:
            layer.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float64)).to(dtype))
    if prune.is_pruned(layer):
        prune.remove(layer, "weight")
    prune.custom_from_mask(layer, "weight", mask=torch.from_numpy(mask).to(dtype))


def _draw(rec, gen):
    return draw_masks(rec.shapes, rec.densities, rng=gen, in_degree_regular=rec.in_degree_regular,
                      flow_preserving=rec.flow_preserving)


def to_torch(recommendation, *, rng=None, dtype=None, looks_linear=False):
    """Build a masked ``torch.nn.Sequential`` MLP from a recommendation.

    Parameters
    ----------
    recommendation : Recommendation
        All layers must be Linear with matching consecutive widths.
    rng : None, int or numpy.random.Generator
        Source of randomness for masks, weights and biases (keyword-only).
    dtype : torch.dtype, optional
        torch.float32 (default) or torch.float64.
    looks_linear : bool
        ReLU only, sigma_b^2 = 0, even hidden widths: looks-linear parameter sharing (Notes).

    Returns
    -------
    torch.nn.Sequential
        Linear, activation, ..., Linear (no activation after the last layer), with each Linear
        pruned by its mask (``weight_mask`` buffer, ``weight_orig`` parameter).

    Raises
    ------
    ValueError
        If a layer is not Linear, widths do not chain, or the activation has no torch module;
        with ``looks_linear``, if the activation is not ReLU, sigma_b^2 > 0 or a hidden width is odd.

    Notes
    -----
    Masks come from :func:`cascades.bridge.draw_masks` and weights from
    :func:`cascades.bridge.draw_weights` (``recommendation.weights``: Gaussian, or orthogonal /
    approximate isometry on the mask), both from the one generator made from ``rng``, so
    ``to_torch(rec, rng=s)`` holds exactly the numpy arrays of those two calls.

    ``looks_linear=True`` is the sparse version of :func:`cascades.nn.looks_linear_weights`
    (Balduzzi et al. 2017; Burkholz & Dubatovka 2019): with half widths m_l = n_l / 2 (m_0 = n_0,
    m_L = n_L), a block W0 of shape (m_l, m_{l-1}) and an Erdos-Renyi mask
    of density p_l is tiled as [W0; -W0] (first layer), [[W0, -W0], [-W0, W0]] (hidden) and
    [W0, -W0] (last), and so is its mask; biases are zero. The network is then exactly linear at
    initialisation, x -> W0^L ... W0^1 x. The entries have mean square 1 / (p_l m_{l-1}), i.e. the
    recommended sigma_w^2 / (p_l n_{l-1}) with sigma_w^2 = 2 for hidden and last layers, and half
    the recommended variance for the first layer, so that the linear map preserves the mean
    squared activation. The blocks W0 follow ``recommendation.weights``: Gaussian, or orthogonal
    (Burkholz & Dubatovka's choice, THEORY.md B3): a dense block is sqrt(max(1, m_l / m_{l-1})) times
    a Haar matrix (all singular values 1 when m_l = m_{l-1}, so with equal half widths the whole
    network is an isometry), a masked block is the approximate isometry of
    :func:`cascades.bridge.weights.approximate_isometry` at the same mean square.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    shapes = recommendation.shapes
    for i, s in enumerate(shapes):
        if s.kind != "linear":
            raise ValueError(f"to_torch builds MLPs only; layer {i} is {s.kind} "
                             "(use apply_to on your module)")
        if i and shapes[i - 1].out_channels != s.in_channels:
            raise ValueError(f"layer {i} has {s.in_channels} inputs but layer {i - 1} has "
                             f"{shapes[i - 1].out_channels} outputs")
    model = _mlp(shapes, recommendation.activation, dtype)
    if looks_linear:
        _looks_linear(model, recommendation, as_generator(rng))
    else:
        apply_to(model, recommendation, rng=rng)
    return model


def _looks_linear(model, rec, gen):
    """Sparse looks-linear initialisation of a ReLU Sequential built by :func:`to_torch`."""
    import torch
    from torch.nn.utils import prune

    if rec.activation != "relu":
        raise ValueError(f"looks_linear needs activation 'relu', got {rec.activation!r}")
    if rec.sigma_b2 != 0:
        raise ValueError(f"looks_linear needs sigma_b2 = 0 (zero biases), got {rec.sigma_b2}")
    widths = [rec.shapes[0].in_channels] + [s.out_channels for s in rec.shapes]
    L = len(widths) - 1
    if L < 2 or any(w % 2 for w in widths[1:L]):
        raise ValueError(f"looks_linear needs at least one hidden layer and even hidden widths, got {widths}")
    half = [widths[0]] + [w // 2 for w in widths[1:L]] + [widths[L]]
    masks = draw_masks(half, rec.densities, rng=gen)
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    for i, (lin, m0) in enumerate(zip(lins, masks, strict=True)):
        std = 1.0 / np.sqrt(rec.layers[i].density * half[i])
        if getattr(rec, "weights", "gaussian") != "orthogonal":
            w0 = gen.standard_normal(m0.shape) * std * m0
        elif m0.all():
            w0 = np.sqrt(max(1.0, half[i + 1] / half[i])) * orthogonal_matrix(half[i + 1], half[i], rng=gen)
        else:
            w0 = approximate_isometry(m0, rng=gen)
            w0 *= std / np.sqrt(np.mean(w0[m0] ** 2))
        sign = np.array([[1.0, -1.0], [-1.0, 1.0]])
        if i == 0:
            sign = sign[:, :1]
        if i == L - 1:
            sign = sign[:1, :]
        w = np.kron(sign, w0)
        mask = np.kron(np.abs(sign), m0) != 0
        dtype = lin.weight.dtype
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w).to(dtype))
            lin.bias.zero_()
        prune.custom_from_mask(lin, "weight", mask=torch.from_numpy(mask).to(dtype))


def apply_to(module, recommendation, *, rng=None):
    """Apply a recommendation to an existing module's Linear and Conv2d layers, in order (in place).

    Weights and biases are redrawn at the recommended scale with the recommendation's weight law
    (:func:`cascades.bridge.weights.draw_weights`: Gaussian, or orthogonal / approximate isometry
    on the mask) and each layer is pruned with a mask drawn by
    :func:`cascades.bridge.topology.draw_masks`.

    Returns
    -------
    module
        The same module.

    Raises
    ------
    ValueError
        If the module's weight layers do not match the recommendation's layers (count or shape),
        or it has an unsupported weight layer (named).
    """
    layers = _weight_layers(module)
    shapes = recommendation.shapes
    if len(layers) != len(shapes):
        raise ValueError(f"module has {len(layers)} Linear/Conv2d layers, the recommendation {len(shapes)}")
    for (name, layer), s in zip(layers, shapes, strict=True):
        if _shape_of(layer) != s:
            raise ValueError(f"module layer {name!r} has shape {_shape_of(layer).to_tuple()}, "
                             f"the recommendation {s.to_tuple()}")
    gen = as_generator(rng)
    masks = _draw(recommendation, gen)
    ws, bs = draw_weights(recommendation, masks, rng=gen)
    for (_, layer), mask, w, b in zip(layers, masks, ws, bs, strict=True):
        _init_layer(layer, mask, w, b, layer.weight.dtype)
    return module


def masks_from(module) -> tuple:
    """Read the masks back: boolean numpy arrays, one per Linear/Conv2d layer (all True if unpruned)."""
    out = []
    for _, layer in _weight_layers(module):
        m = getattr(layer, "weight_mask", None)
        if m is None:
            out.append(np.ones(tuple(layer.weight.shape), dtype=bool))
        else:
            out.append(m.detach().cpu().numpy() != 0)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# evidence: training the same sparse MLP from several initialisations
# ---------------------------------------------------------------------------------------------

_QUICK_WIDTHS = [64] + [128] * 8 + [10]
_FULL_WIDTHS = [64] + [256] * 20 + [10]
_QUICK_EPOCHS = 3
_TEST_FRACTION = 0.25


def _digits(gen):
    """scikit-learn digits (1797 x 64, 10 classes): 75/25 split by ``gen``, standardised on the train part."""
    from sklearn.datasets import load_digits

    data = load_digits()
    X = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    perm = gen.permutation(X.shape[0])
    n_test = int(round(_TEST_FRACTION * X.shape[0]))
    test, train = perm[:n_test], perm[n_test:]
    mu = X[train].mean(axis=0)
    sd = X[train].std(axis=0)
    sd[sd == 0] = 1.0
    X = (X - mu) / sd
    return X[train], y[train], X[test], y[test]


def _mlp(shapes, activation, dtype):
    import torch.nn as nn

    act = _ACTIVATIONS.get(activation)
    if act is None:
        raise ValueError(f"activation {activation!r} has no torch module here; "
                         f"supported: {', '.join(sorted(_ACTIVATIONS))}")
    mods = []
    for i, s in enumerate(shapes):
        mods.append(nn.Linear(s.in_channels, s.out_channels, dtype=dtype))
        if i < len(shapes) - 1:
            mods.append(getattr(nn, act)())
    return nn.Sequential(*mods)


def _comparison_model(name, rec, masks, gen, seed, dtype):
    """The MLP of ``rec`` initialised by ``name`` and pruned by ``masks`` (the same masks for every init)."""
    import torch
    from torch.nn.utils import prune

    model = _mlp(rec.shapes, rec.activation, dtype)
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    if name == "torch-default":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for lin in lins:
                lin.reset_parameters()
    else:
        if name == "orthogonal":
            from .weights import draw_weights

            ws, bs = draw_weights(rec, masks, rng=gen, weights="orthogonal")
        else:
            ws, bs = [], []
            for lin, mask, lay in zip(lins, masks, rec.layers, strict=True):
                std = lay.weight_std if name == "recommended" else np.sqrt(2.0 / lay.fan_in)
                ws.append(gen.standard_normal(mask.shape) * std)
                bs.append(gen.standard_normal(lin.out_features) * lay.bias_std if name == "recommended"
                          else np.zeros(lin.out_features))
        with torch.no_grad():
            for lin, w, b in zip(lins, ws, bs, strict=True):
                lin.weight.copy_(torch.from_numpy(np.asarray(w, dtype=np.float64)).to(dtype))
                lin.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float64)).to(dtype))
    for lin, mask in zip(lins, masks, strict=True):
        prune.custom_from_mask(lin, "weight", mask=torch.from_numpy(mask).to(dtype))
    return model


def train_comparison(
    widths=None,
    *,
    activation="relu",
    density=0.1,
    scheme="uniform",
    inits=("recommended", "torch-default", "he-dense-mask"),
    epochs=10,
    batch_size=64,
    lr=1e-3,
    optimizer="adam",
    rng=0,
    progress=True,
    quick=False,
):
    """Train one deep sparse MLP on scikit-learn's digits from several initialisations (same mask).

    Parameters
    ----------
    widths : sequence of int, optional
        (64, n_1, ..., 10); default 64 -> 20 hidden layers of 256 -> 10 (``quick``: 8 hidden layers
        of 128).
    activation : str
        A hidden-layer activation with a torch module ("relu", "tanh", ...).
    density : float
        Overall mask density in (0, 1].
    scheme : str
        Density scheme of :func:`cascades.bridge.recommend`.
    inits : sequence of str
        Any of

        * "recommended": the recommendation's weight and bias std on the mask (Gaussian weights,
          sigma_w^2 / (p_l fan_in), the edge of chaos with the effective fan-in);
        * "torch-default": PyTorch's default ``nn.Linear`` init (uniform, std 1 / sqrt(3 fan_in),
          i.e. sigma_w^2 = 1/3, and uniform biases), then masked;
        * "he-dense-mask": dense He init, std sqrt(2 / fan_in) and zero biases, then masked (not
          corrected for the density, so the effective sigma_w^2 is 2 p_l);
        * "orthogonal": the recommendation with ``weights="orthogonal"`` (approximate isometry on
          the mask, :func:`cascades.bridge.weights.draw_weights`).
    epochs : int
        Passes over the training set (>= 1); ``quick`` caps it at 3.
    batch_size : int
        Mini-batch size (>= 1).
    lr : float
        Learning rate (> 0).
    optimizer : {"adam", "sgd"}
        torch.optim.Adam or plain torch.optim.SGD.
    rng : None, int or numpy.random.Generator
        Source of all randomness (keyword-only): the train/test split, the mask, each init's
        weights (numpy), the seed of PyTorch's default init and the batch order (shared by all
        inits).
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
    ValueError
        For widths not starting at 64 or not ending at 10, an unknown init, optimizer or
        activation, or invalid epochs, batch size, learning rate or density.

    Notes
    -----
    Data: the 1797 8x8 digits, a fixed 75/25 train/test split drawn from ``rng``, features
    standardised with the training mean and standard deviation. Every init trains the same
    masked architecture (masks attached with ``torch.nn.utils.prune.custom_from_mask``, float32,
    CPU) on the same batch sequence, interleaved epoch by epoch. Losses are evaluated on the whole
    train and test sets after each epoch. torch runs single-threaded inside the call (restored
    afterwards) and PyTorch's global random state is forked, so the result depends on ``rng`` only.
    Cost: O(epochs * len(inits) * n_train * sum_l n_l n_{l-1}).

    References
    ----------
    Poole et al., NeurIPS 2016 and Schoenholz et al., ICLR 2017 (edge of chaos); Gadhikar,
    Mukherjee & Burkholz, ICML 2023 (density-corrected init); He et al., ICCV 2015 (He init).
    """
    import torch

    from .._rng import spawn
    from .._validation import check_int, check_real
    from .evidence import INIT_NAMES, TrainingComparison
    from .recommend import recommend

    widths = list(_QUICK_WIDTHS if quick else _FULL_WIDTHS) if widths is None else list(widths)
    rec = recommend(widths, activation, density, scheme)
    if rec.shapes[0].in_channels != 64 or rec.shapes[-1].out_channels != 10:
        raise ValueError(f"widths must start at 64 (digits features) and end at 10 (classes), got {widths}")
    if isinstance(inits, str):
        inits = (inits,)
    inits = tuple(inits)
    bad = [n for n in inits if n not in INIT_NAMES]
    if not inits or bad or len(set(inits)) != len(inits):
        raise ValueError(f"inits must be distinct names from {', '.join(INIT_NAMES)}; got {inits!r}")
    epochs = check_int("epochs", epochs, low=1)
    if quick:
        epochs = min(epochs, _QUICK_EPOCHS)
    batch_size = check_int("batch_size", batch_size, low=1)
    lr = check_real("lr", lr, low=0, low_open=True)
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    _mlp(rec.shapes[:1], rec.activation, torch.float32)  # validates the activation before any training

    gen = as_generator(rng)
    Xtr, ytr, Xte, yte = _digits(gen)
    masks = draw_masks(rec.shapes, rec.densities, rng=gen)
    init_gens = dict(zip(INIT_NAMES, spawn(gen, len(INIT_NAMES)), strict=True))
    torch_seed = int(gen.integers(2**63))
    orders = [gen.permutation(Xtr.shape[0]) for _ in range(epochs)]

    n_e = epochs + 1
    curves = {key: {n: np.full(n_e, np.nan) for n in inits} for key in ("train", "test", "acc")}
    threads = torch.get_num_threads()
    bar = None
    interrupted = False
    done = 0
    try:
        torch.set_num_threads(1)
        dtype = torch.float32
        xtr, xte = torch.from_numpy(Xtr).to(dtype), torch.from_numpy(Xte).to(dtype)
        ttr, tte = torch.from_numpy(ytr), torch.from_numpy(yte)
        models, opts = {}, {}
        for name in inits:
            models[name] = _comparison_model(name, rec, masks, init_gens[name], torch_seed, dtype)
            params = models[name].parameters()
            opts[name] = (torch.optim.Adam(params, lr=lr) if optimizer == "adam"
                          else torch.optim.SGD(params, lr=lr))

        def evaluate(name, e):
            model = models[name]
            with torch.no_grad():
                ltr = torch.nn.functional.cross_entropy(model(xtr), ttr).item()
                out = model(xte)
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
                model, opt = models[name], opts[name]
                for start in range(0, order.numel(), batch_size):
                    idx = order[start:start + batch_size]
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(model(xtr[idx]), ttr[idx]).backward()
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
        "widths": [int(w) for w in widths], "activation": rec.activation, "density": float(density),
        "scheme": scheme, "epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": optimizer,
        "rng": rng if isinstance(rng, int) else None, "quick": bool(quick), "n_train": int(Xtr.shape[0]),
        "n_test": int(Xte.shape[0]), "threads": 1, "torch_version": torch.__version__,
        "sigma_w2": rec.sigma_w2, "sigma_b2": rec.sigma_b2,
        "achieved_density": float(sum(m.sum() for m in masks) / sum(m.size for m in masks)),
        "completed_epochs": done, "interrupted": interrupted,
    }
    return TrainingComparison(
        inits=inits, epochs=np.arange(n_e), train_loss=curves["train"], test_loss=curves["test"],
        test_accuracy=curves["acc"], config=config,
    )
