"""PyTorch side of a :class:`~cascades.bridge.Recommendation`: build or initialise a masked torch model.

torch is imported inside the functions, only when one of them is called, never by
``import cascades``. Modules are read by :mod:`cascades.bridge.trace` (layers
in forward order, the activation after each) and saved / loaded by :mod:`cascades.bridge.export`.
Masks of sparse layers (density < 1) are attached with
:func:`torch.nn.utils.prune.custom_from_mask`, so a layer's ``weight`` is recomputed as
``weight_orig * weight_mask`` before every forward pass (the pruned entries stay zero through
training) and ``torch.nn.utils.prune.remove(layer, "weight")`` makes the pruning permanent;
dense layers keep a plain ``weight``. Masks and values are created on each layer's device with
its dtype. All randomness (masks and weights) comes from the numpy generator made from ``rng``,
so the same ``rng`` gives the same model.
"""

from __future__ import annotations

import re

import numpy as np

from .._rng import as_generator
from ..nn._guard import guard
from .topology import _masks_peak_bytes, _shown_shapes, draw_masks
from .trace import _forward_order, _shape_of
from .weights import _weights_peak_bytes, approximate_isometry, draw_weights, orthogonal_matrix

__all__ = ["to_torch", "apply_to", "masks_from", "layer_shapes"]

_ACTIVATIONS = {
    "relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "logistic": "Sigmoid", "gelu": "GELU",
    "gelu_tanh": "GELU", "silu": "SiLU", "swish": "SiLU", "selu": "SELU", "elu": "ELU",
    "leaky_relu": "LeakyReLU", "leakyrelu": "LeakyReLU", "leaky-relu": "LeakyReLU", "hardtanh": "Hardtanh",
    "hard_tanh": "Hardtanh", "hard-tanh": "Hardtanh", "linear": "Identity", "identity": "Identity",
}
_PARAMETRISED = re.compile(r"(leaky_relu|elu)\(\s*([^()]+?)\s*\)")


def _activation_module(name):
    """A fresh torch module for a registry activation name ("relu", "leaky_relu(0.2)", "gelu_tanh", ...)."""
    import torch.nn as nn

    key = name.strip().lower() if isinstance(name, str) else name
    m = _PARAMETRISED.fullmatch(key) if isinstance(key, str) else None
    if m is not None:
        try:
            value = float(m.group(2))
        except ValueError:
            value = None
        if value is not None:
            return nn.LeakyReLU(value) if m.group(1) == "leaky_relu" else nn.ELU(value)
    cls = _ACTIVATIONS.get(key) if isinstance(key, str) else None
    if cls is None:
        raise ValueError(f"activation {name!r} has no torch module here; supported: "
                         f"{', '.join(sorted(_ACTIVATIONS))}, leaky_relu(a), elu(a)")
    if key == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    return getattr(nn, cls)()


def _layer_activations(rec):
    """The activation after each layer of a recommendation (None for the read-out layer).

    Reads ``LayerRecommendation.activation`` (None with ``readout``). A layer without these fields,
    or with neither set (a recommendation saved as JSON before they existed), gets the network's
    ``rec.activation``, except the last layer, which gets none.
    """
    n = len(rec.layers)
    out = []
    for i, lay in enumerate(rec.layers):
        act = getattr(lay, "activation", None)
        if act is None and not getattr(lay, "readout", False):  # no per-layer activation recorded
            act = rec.activation if i < n - 1 else None
        out.append(act)
    return out


def layer_shapes(module) -> tuple:
    """The :class:`~cascades.bridge.topology.LayerShape` of a torch module's Linear / Conv2d layers.

    In the order the forward pass calls them (read with :func:`torch.fx.symbolic_trace`; definition
    order if the module cannot be traced), the order :func:`apply_to` uses.

    Raises
    ------
    ValueError
        If the module has no such layer, or a weight layer of another type (named in the message).
    """
    return tuple(_shape_of(layer) for _, layer in _forward_order(module))


def _weight(layer):
    """The weight parameter of a layer, also when pruned (``weight_orig``; ``weight`` is then derived)."""
    return getattr(layer, "weight_orig", None) if hasattr(layer, "weight_orig") else layer.weight


def _unprune(layer):
    """Remove every pruning reparametrisation of ``layer`` (the current values become plain parameters)."""
    from torch.nn.utils import prune

    for hook in list(layer._forward_pre_hooks.values()):
        if isinstance(hook, prune.BasePruningMethod):
            prune.remove(layer, hook._tensor_name)


def _init_layer(layer, pruned, mask=None, w=None, b=None):
    """Copy numpy weights / biases into ``layer`` where it lives and attach the mask if ``pruned``.

    Any earlier pruning is removed first, so the new values land in the parameter. The mask and the
    values are created on the parameter's device with its dtype. On the meta device (``w is None``)
    only the structure is set: a meta mask buffer and the pruning reparametrisation.
    """
    import torch
    from torch.nn.utils import prune

    _unprune(layer)
    weight = layer.weight
    if not weight.dtype.is_floating_point:
        raise ValueError(f"layer {type(layer).__name__} has a {weight.dtype} weight; apply_to needs a "
                         f"floating point dtype (float16, bfloat16, float32, float64)")
    if w is not None:
        with torch.no_grad():
            weight.copy_(torch.from_numpy(np.asarray(w, dtype=np.float64)).to(device=weight.device,
                                                                               dtype=weight.dtype))
            if layer.bias is not None:
                layer.bias.copy_(torch.from_numpy(np.asarray(b, dtype=np.float64)).to(
                    device=layer.bias.device, dtype=layer.bias.dtype))
    if pruned:
        if mask is None:
            m = torch.ones(weight.shape, device=weight.device, dtype=weight.dtype)
        else:
            m = torch.from_numpy(np.asarray(mask, dtype=bool)).to(device=weight.device, dtype=weight.dtype)
        prune.custom_from_mask(layer, "weight", mask=m)


def _check_recommendation(rec, name="recommendation"):
    """TypeError unless ``rec`` is a Recommendation (or has its ``layers`` and ``shapes``)."""
    from .recommend import Recommendation

    if not isinstance(rec, Recommendation) and not (hasattr(rec, "layers") and hasattr(rec, "shapes")):
        raise TypeError(f"{name} must be a cascades.bridge.Recommendation (from cascades.bridge.recommend), "
                        f"got {type(rec).__name__}")


def _check_module(module, name="module"):
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")


def _host_bytes(rec, itemsizes, on_host, *, build=False):
    """Host-memory peak of drawing a recommendation into torch layers (see :func:`apply_to`, Notes).

    numpy: the masks (1 byte per weight) and float64 weights (8) of every layer, with the largest
    layer's drawing temporaries (:func:`cascades.bridge.topology._masks_peak_bytes`,
    :func:`cascades.bridge.weights._weights_peak_bytes`) and its float64 -> dtype copy. torch, for
    the layers whose parameters live in host memory (CPU): the mask buffer and the masked weight of
    every pruned layer (dtype), and with ``build`` the parameters themselves.
    """
    shapes, dens = rec.shapes, [lay.density for lay in rec.layers]
    numpy_peak = max(_masks_peak_bytes(shapes, dens, bool(getattr(rec, "in_degree_regular", False))),
                     sum(s.n_weights for s in shapes) + _weights_peak_bytes(rec))
    copy = max(size * s.n_weights for s, size in zip(shapes, itemsizes, strict=True))
    torch_kept = 0
    for s, lay, size, host in zip(shapes, rec.layers, itemsizes, on_host, strict=True):
        if host:
            torch_kept += size * s.n_weights * (2 * (lay.density < 1) + build) + size * s.out_channels * build
    return numpy_peak + copy + torch_kept


def _draw(rec, gen):
    return draw_masks(rec.shapes, rec.densities, rng=gen, in_degree_regular=rec.in_degree_regular,
                      flow_preserving=rec.flow_preserving)


def _check_mlp(shapes):
    for i, s in enumerate(shapes):
        if s.kind != "linear":
            raise ValueError(f"to_torch builds MLPs only; layer {i} is {s.kind} "
                             "(use apply_to on your module)")
        if i and shapes[i - 1].out_channels != s.in_channels:
            raise ValueError(f"layer {i} has {s.in_channels} inputs but layer {i - 1} has "
                             f"{shapes[i - 1].out_channels} outputs")


def to_torch(recommendation, *, rng=None, dtype=None, device=None, looks_linear=False):
    """Build a masked ``torch.nn.Sequential`` MLP from a recommendation.

    Parameters
    ----------
    recommendation : Recommendation
        All layers must be Linear with matching consecutive widths.
    rng : None, int or numpy.random.Generator
        Source of randomness for masks, weights and biases (keyword-only).
    dtype : torch.dtype, optional
        A floating dtype: torch.float32 (default), float64, float16 or bfloat16.
    device : torch.device or str, optional
        Where the model is built (default CPU): "cuda", "meta", ... (see :func:`apply_to`).
    looks_linear : bool
        ReLU only, sigma_b^2 = 0, even hidden widths: looks-linear parameter sharing (Notes).

    Returns
    -------
    torch.nn.Sequential
        Linear, activation, ..., Linear, with the activation the recommendation gives after each
        layer (none after the read-out layer). Each sparse Linear (density < 1) is pruned by its
        mask (``weight_mask`` buffer, ``weight_orig`` parameter); dense layers keep a plain
        ``weight``.

    Raises
    ------
    TypeError
        If ``recommendation`` is not a Recommendation.
    ValueError
        If a layer is not Linear, widths do not chain, an activation has no torch module, the
        dtype is not floating point or the device is not a device; with ``looks_linear``, if the
        activation is not ReLU, sigma_b^2 > 0 or a hidden width is odd.
    cascades.MemoryLimitError
        If the model (on CPU), its masks and the numpy draws do not fit in host memory (checked
        before anything is built; never on the meta device, where nothing is allocated).

    Notes
    -----
    Masks come from :func:`cascades.bridge.draw_masks` and weights from
    :func:`cascades.bridge.draw_weights` (``recommendation.weights``: Gaussian, or orthogonal /
    approximate isometry on the mask), both from the one generator made from ``rng``, so
    ``to_torch(rec, rng=s)`` holds exactly the numpy arrays of those two calls, whatever the
    device and dtype (the float64 numbers are rounded to ``dtype``).

    ``looks_linear=True`` is the sparse version of :func:`cascades.nn.looks_linear_weights`
    (Balduzzi et al. 2017; Burkholz & Dubatovka 2019): with half widths m_l = n_l / 2 (m_0 = n_0,
    m_L = n_L), a block W0 of shape (m_l, m_{l-1}) and an Erdos-Renyi mask
    of density p_l is tiled as [W0; -W0] (first layer), [[W0, -W0], [-W0, W0]] (hidden) and
    [W0, -W0] (last), and so is its mask; biases are zero. The network is then exactly linear at
    initialisation, x -> W0^L ... W0^1 x. The entries have mean square 1 / (p_l m_{l-1}), i.e. the
    recommended sigma_w^2 / (p_l n_{l-1}) with sigma_w^2 = 2 for hidden and last layers, and half
    the recommended variance for the first layer, so that the linear map preserves the mean
    squared activation. The blocks W0 follow ``recommendation.weights``: Gaussian, or orthogonal
    (Burkholz & Dubatovka's choice, NeurIPS 2019): a dense block is sqrt(max(1, m_l / m_{l-1})) times
    a Haar matrix (all singular values 1 when m_l = m_{l-1}, so with equal half widths the whole
    network is an isometry), a masked block is the approximate isometry of
    :func:`cascades.bridge.weights.approximate_isometry` at the same mean square.

    Examples
    --------
    >>> import torch
    >>> from cascades.bridge import recommend
    >>> model = to_torch(recommend([20, 30, 5], "tanh", density=0.5, scheme="uniform"), rng=0)
    >>> [type(m).__name__ for m in model]
    ['Linear', 'Tanh', 'Linear']
    >>> model(torch.zeros(2, 20)).shape
    torch.Size([2, 5])
    """
    import torch

    _check_recommendation(recommendation)
    dtype = torch.float32 if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating torch.dtype (float16, bfloat16, float32, float64), "
                         f"got {dtype!r}")
    try:
        dev = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device must be a torch.device or a device name ('cpu', 'cuda', 'cuda:0', 'meta', "
                         f"...), got {device!r}") from None
    shapes = recommendation.shapes
    _check_mlp(shapes)
    if dev.type != "meta":  # on meta nothing is allocated
        size = torch.empty((), dtype=dtype, device="meta").element_size()
        n = len(shapes)
        guard(_host_bytes(recommendation, [size] * n, [dev.type == "cpu"] * n, build=True),
              parameter=f"recommendation for {_shown_shapes(shapes)} on device {str(dev)!r}",
              what=f"the {dtype} parameters, masks and the float64 numpy draws")
    model = _mlp(shapes, _layer_activations(recommendation), dtype, device)
    if looks_linear:
        _looks_linear(model, recommendation, as_generator(rng))
    else:
        apply_to(model, recommendation, rng=rng)
    return model


def _looks_linear(model, rec, gen):
    """Sparse looks-linear initialisation of a ReLU Sequential built by :func:`to_torch`."""
    import torch

    acts = _layer_activations(rec)
    if any(a != "relu" for a in acts[:-1]) or acts[-1] is not None:
        raise ValueError(f"looks_linear needs activation 'relu' after every hidden layer and none after the "
                         f"last, got {acts}")
    if any(lay.bias_std != 0 for lay in rec.layers):
        raise ValueError(f"looks_linear needs sigma_b2 = 0 (zero biases), got bias std "
                         f"{[lay.bias_std for lay in rec.layers]}")
    widths = [rec.shapes[0].in_channels] + [s.out_channels for s in rec.shapes]
    L = len(widths) - 1
    if L < 2 or any(w % 2 for w in widths[1:L]):
        raise ValueError(f"looks_linear needs at least one hidden layer and even hidden widths, got {widths}")
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    pruned = [lay.density < 1 for lay in rec.layers]
    if all(_weight(lin).is_meta for lin in lins):  # structure only: no values on meta
        for lin, p in zip(lins, pruned, strict=True):
            _init_layer(lin, p)
        return
    half = [widths[0]] + [w // 2 for w in widths[1:L]] + [widths[L]]
    masks = draw_masks(half, rec.densities, rng=gen)
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
        _init_layer(lin, pruned[i], mask, w, np.zeros(lin.out_features))


def apply_to(module, recommendation, *, rng=None):
    """Apply a recommendation to an existing module's Linear and Conv2d layers, in forward order (in place).

    Weights and biases are redrawn at the recommended scale with the recommendation's weight law
    (:func:`cascades.bridge.weights.draw_weights`: Gaussian, or orthogonal / approximate isometry
    on the mask) and each sparse layer (density < 1) is pruned with a mask drawn by
    :func:`cascades.bridge.topology.draw_masks`.

    Parameters
    ----------
    module : torch.nn.Module
        Its Linear / Conv2d layers, in the order the forward pass calls them (definition order if
        :func:`torch.fx.symbolic_trace` fails), must have the recommendation's shapes.
    recommendation : Recommendation
        From :func:`cascades.bridge.recommend`.
    rng : None, int or numpy.random.Generator
        Source of randomness for masks, weights and biases (keyword-only).

    Returns
    -------
    module
        The same module.

    Raises
    ------
    TypeError
        If ``module`` is not a torch.nn.Module or ``recommendation`` not a Recommendation.
    ValueError
        If the module's weight layers do not match the recommendation's layers (count or shape),
        it has an unsupported weight layer (named) or a weight that is not floating point.
    cascades.MemoryLimitError
        If the masks and float64 weights drawn in numpy (9 bytes per weight) and, for layers in
        host memory, the pruning buffers (mask and masked weight in the layer's dtype) do not fit
        (not checked on the meta device, where nothing is drawn).

    Notes
    -----
    Device and dtype: masks and values are created where each layer's parameters live
    (``device=layer.weight.device``, ``dtype=layer.weight.dtype``), so CPU and CUDA modules of
    any floating dtype (float32, float64, float16, bfloat16) take the same code path; the numbers
    are drawn in float64 numpy from ``rng`` and rounded to the layer's dtype, so the same ``rng``
    gives the same model on every device.

    Meta device: a module built on ``device="meta"`` has no values. ``apply_to`` then sets only
    the structure (the pruning reparametrisation with a meta ``weight_mask`` buffer on each sparse
    layer) and draws nothing; after ``module.to_empty(device=...)`` the parameters and masks hold
    uninitialised memory, so call ``apply_to`` again to draw the masks and the values.

    A dense layer (density 1) keeps its plain ``weight`` parameter (no pruning hooks). A layer
    pruned before (by an earlier ``apply_to`` or by ``torch.nn.utils.prune``) has that pruning
    removed first and the new mask attached.

    Examples
    --------
    >>> import torch
    >>> from cascades.bridge import recommend
    >>> net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    >>> rec = recommend([16, 32, 4], "relu", density=0.5, scheme="uniform")
    >>> net = apply_to(net, rec, rng=0)
    >>> sorted(net.state_dict())
    ['0.bias', '0.weight_mask', '0.weight_orig', '2.bias', '2.weight_mask', '2.weight_orig']
    >>> meta = torch.nn.Sequential(torch.nn.Linear(16, 32, device="meta"), torch.nn.ReLU(),
    ...                            torch.nn.Linear(32, 4, device="meta"))
    >>> meta = apply_to(meta, rec)                       # structure only
    >>> meta = apply_to(meta.to_empty(device="cpu"), rec, rng=0)   # now the values
    >>> bool(torch.equal(meta[0].weight_mask, net[0].weight_mask))
    True
    """
    _check_module(module)
    from .network import NetworkRecommendation, apply_network

    if isinstance(recommendation, NetworkRecommendation):  # from the graph reading of recommend
        return apply_network(module, recommendation, rng=rng)
    _check_recommendation(recommendation)
    layers = _forward_order(module)
    shapes = recommendation.shapes
    if len(layers) != len(shapes):
        raise ValueError(f"module has {len(layers)} Linear/Conv2d layers, the recommendation {len(shapes)}")
    for (name, layer), s in zip(layers, shapes, strict=True):
        if _shape_of(layer) != s:
            raise ValueError(f"module layer {name!r} has shape {_shape_of(layer).to_tuple()}, "
                             f"the recommendation {s.to_tuple()}")
    for name, layer in layers:
        if not _weight(layer).dtype.is_floating_point:
            raise ValueError(f"module layer {name!r} has a {_weight(layer).dtype} weight; apply_to needs a "
                             f"floating point dtype (float16, bfloat16, float32, float64)")
    pruned = [lay.density < 1 for lay in recommendation.layers]
    if all(_weight(layer).is_meta for _, layer in layers):
        for (_, layer), p in zip(layers, pruned, strict=True):
            _init_layer(layer, p)
        return module
    weights = [_weight(layer) for _, layer in layers]
    guard(_host_bytes(recommendation, [w.element_size() for w in weights],
                      [w.device.type == "cpu" for w in weights]),
          parameter=f"recommendation for {_shown_shapes(shapes)}",
          what="the masks, the float64 numpy weights and the pruning buffers")
    gen = as_generator(rng)
    masks = _draw(recommendation, gen)
    ws, bs = draw_weights(recommendation, masks, rng=gen)
    for (_, layer), p, mask, w, b in zip(layers, pruned, masks, ws, bs, strict=True):
        if _weight(layer).is_meta:
            _init_layer(layer, p)
        else:
            _init_layer(layer, p, mask, w, b)
    return module


def masks_from(module) -> tuple:
    """Read the masks back: boolean numpy arrays, one per Linear/Conv2d layer (all True if unpruned).

    In the order of :func:`apply_to` (forward order).

    Raises
    ------
    TypeError
        If ``module`` is not a torch.nn.Module.
    ValueError
        If a mask is on the meta device (no values yet).
    cascades.MemoryLimitError
        If the boolean masks (one byte per weight) do not fit in memory (a module on the meta
        device takes none, but its masks would).
    """
    _check_module(module)
    layers = _forward_order(module)
    guard(sum(_weight(layer).numel() for _, layer in layers), parameter=f"module {type(module).__name__}",
          what="one byte per weight for the boolean masks")
    out = []
    for name, layer in layers:
        m = getattr(layer, "weight_mask", None)
        if m is None:
            out.append(np.ones(tuple(layer.weight.shape), dtype=bool))
        elif m.is_meta:
            raise ValueError(f"module layer {name!r} has its mask on the meta device (no values); "
                             f"call to_empty and apply_to first")
        else:
            out.append(m.detach().cpu().numpy() != 0)
    return tuple(out)


def _mlp(shapes, activations, dtype, device=None):
    """Linear layers with ``activations[i]`` (a registry name, or None for none) after layer i."""
    import torch.nn as nn

    acts = [None if a is None else _activation_module(a) for a in activations]  # validates before building
    mods = []
    for s, act in zip(shapes, acts, strict=True):
        mods.append(nn.Linear(s.in_channels, s.out_channels, dtype=dtype, device=device))
        if act is not None:
            mods.append(act)
    return nn.Sequential(*mods)
