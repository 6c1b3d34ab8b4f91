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

__all__ = ["to_torch", "apply_to", "masks_from", "layer_shapes"]

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


def _init_layer(layer, mask, lay, gen, dtype):
    """Draw weights/biases at the recommended scale, zero the pruned entries and attach the mask."""
    import torch
    from torch.nn.utils import prune

    shape = tuple(layer.weight.shape)
    if lay.init_rule == "neuron":
        k = mask.reshape(shape[0], -1).sum(axis=1)
        std = np.sqrt(lay.weight_std**2 * lay.expected_in_degree / np.maximum(k, 1))
        std = std.reshape((shape[0],) + (1,) * (len(shape) - 1))
    else:
        std = lay.weight_std
    w = gen.standard_normal(shape) * std * mask
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w).to(dtype))
        if layer.bias is not None:
            layer.bias.copy_(torch.from_numpy(gen.standard_normal(layer.bias.shape) * lay.bias_std).to(dtype))
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
    ``looks_linear=True`` is the sparse version of :func:`cascades.nn.looks_linear_weights`
    (Balduzzi et al. 2017; Burkholz & Dubatovka 2019): with half widths m_l = n_l / 2 (m_0 = n_0,
    m_L = n_L), a block W0 of shape (m_l, m_{l-1}) with Gaussian entries and an Erdos-Renyi mask
    of density p_l is tiled as [W0; -W0] (first layer), [[W0, -W0], [-W0, W0]] (hidden) and
    [W0, -W0] (last), and so is its mask; biases are zero. The network is then exactly linear at
    initialisation, x -> W0^L ... W0^1 x. The entries have variance 1 / (p_l m_{l-1}), i.e. the
    recommended sigma_w^2 / (p_l n_{l-1}) with sigma_w^2 = 2 for hidden and last layers, and half
    the recommended variance for the first layer, so that the linear map preserves the mean
    squared activation.
    """
    import torch
    import torch.nn as nn

    dtype = torch.float32 if dtype is None else dtype
    shapes = recommendation.shapes
    for i, s in enumerate(shapes):
        if s.kind != "linear":
            raise ValueError(f"to_torch builds MLPs only; layer {i} is {s.kind} "
                             "(use apply_to on your module)")
        if i and shapes[i - 1].out_channels != s.in_channels:
            raise ValueError(f"layer {i} has {s.in_channels} inputs but layer {i - 1} has "
                             f"{shapes[i - 1].out_channels} outputs")
    act = _ACTIVATIONS.get(recommendation.activation)
    if act is None:
        raise ValueError(f"activation {recommendation.activation!r} has no torch module here; "
                         f"supported: {', '.join(sorted(_ACTIVATIONS))}")
    mods = []
    for i, s in enumerate(shapes):
        mods.append(nn.Linear(s.in_channels, s.out_channels, dtype=dtype))
        if i < len(shapes) - 1:
            mods.append(getattr(nn, act)())
    model = nn.Sequential(*mods)
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
        w0 = gen.standard_normal(m0.shape) * std * m0
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

    Weights and biases are redrawn at the recommended scale and each layer is pruned with a mask
    drawn by :func:`cascades.bridge.topology.draw_masks`.

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
    for (_, layer), mask, lay in zip(layers, masks, recommendation.layers, strict=True):
        _init_layer(layer, mask, lay, gen, layer.weight.dtype)
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
