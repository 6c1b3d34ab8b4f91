"""Read a torch module for the theory: its weight layers, in forward order, and the activation after each.

:func:`read_module` turns a ``torch.nn.Module`` into what :func:`cascades.bridge.recommend` needs:
the :class:`~cascades.bridge.topology.LayerShape` of every Linear / Conv2d layer in the order the
forward pass calls them, and the registry name (:func:`cascades.nn.get_activation`) of the
pointwise activation applied to each layer's output, or None for a read-out layer. The module is
traced with :func:`torch.fx.symbolic_trace`; a module that cannot be traced (data-dependent
control flow) is read in module definition order instead, with a warning.
torch is imported inside the functions only, never by ``import cascades``.
"""

from __future__ import annotations

import math
import operator
import warnings
from dataclasses import dataclass

from .topology import LayerShape

__all__ = ["ModuleLayers", "read_module"]

KNOWN_ACTIVATIONS = ("ReLU", "LeakyReLU", "ELU", "SELU", "GELU", "SiLU", "Tanh", "Sigmoid", "Hardtanh")
_KNOWN_TEXT = (", ".join(KNOWN_ACTIVATIONS) + " (torch.nn modules, or their torch.nn.functional / torch / "
               "Tensor-method forms; Hardtanh with bounds (-1, 1) only)")
_ADVICE = "give recommend the layer shapes and activation= instead"


@dataclass(frozen=True)
class ModuleLayers:
    """The weight layers of a torch module and the activation after each (returned by :func:`read_module`).

    Attributes
    ----------
    names : tuple of str
        Qualified names of the Linear / Conv2d layers (as in ``module.named_modules()``), in the
        order the forward pass calls them.
    shapes : tuple of LayerShape
        Their :class:`~cascades.bridge.topology.LayerShape`.
    activations : tuple of (str or None)
        For each layer, the registry name (:func:`cascades.nn.get_activation`) of the pointwise
        activation applied to its output: "relu", "leaky_relu" / "leaky_relu(0.2)", "elu" /
        "elu(0.5)", "selu", "gelu", "gelu_tanh", "silu", "tanh", "sigmoid", "hardtanh"; "linear"
        when the next weight layer follows with no activation in between; None when only the
        network output (or a terminal softmax / log-softmax) follows: a read-out layer.
    traced : bool
        True when read from the :mod:`torch.fx` graph, False when read in module definition order
        (tracing failed, or the module is a single weight layer).
    ops : tuple of tuple of str
        For each layer, the shape-only / statistics-transparent operations passed on the way to
        its activation or the next layer (flatten, pooling, dropout, ...), for messages.
    """

    names: tuple
    shapes: tuple
    activations: tuple
    traced: bool
    ops: tuple = ()

    def __post_init__(self):
        n = len(self.names)
        if len(self.shapes) != n or len(self.activations) != n or (self.ops and len(self.ops) != n):
            raise ValueError(f"ModuleLayers: names, shapes, activations (and ops) must have one entry per "
                             f"layer; got {n}, {len(self.shapes)}, {len(self.activations)}, {len(self.ops)}")


# ---------------------------------------------------------------------------------------------
# weight layers
# ---------------------------------------------------------------------------------------------

def _weight_layers(module):
    """Linear and Conv2d layers of ``module`` in definition order; ValueError naming other weight layers."""
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    out = []
    for name, sub in module.named_modules():
        if isinstance(sub, (nn.Linear, nn.Conv2d)):
            if isinstance(sub, nn.Conv2d) and sub.groups != 1:
                raise ValueError(f"module layer {name!r} is a grouped Conv2d (groups={sub.groups}); "
                                 "unsupported")
            out.append((name, sub))
        elif any(isinstance(p, nn.Parameter) and p.dim() >= 2 for p in sub._parameters.values()):
            own = [k for k, p in sub._parameters.items() if isinstance(p, nn.Parameter) and p.dim() >= 2]
            raise ValueError(
                f"module layer {name!r} of type {type(sub).__name__} holds the weight {own[0]!r}, which the "
                f"chain reader does not cover (only Linear and Conv2d weight layers): read the module as a "
                f"computation graph (recommend(..., input_shape=...))")
        elif not list(sub.children()):
            w = getattr(sub, "weight", None)
            if isinstance(w, nn.Parameter) and w.dim() >= 2:
                raise ValueError(
                    f"module layer {name!r} of type {type(sub).__name__} is not supported "
                    f"(only Linear and Conv2d weight layers)"
                )
    if not out:
        raise ValueError(f"module {type(module).__name__} has no Linear or Conv2d layer")
    return out


def _shape_of(layer) -> LayerShape:
    import torch.nn as nn

    if isinstance(layer, nn.Linear):
        return LayerShape("linear", layer.in_features, layer.out_features)
    return LayerShape("conv2d", layer.in_channels, layer.out_channels, tuple(layer.kernel_size))


def _user_frame(err) -> str:
    """" at FILE:LINE ('source')" of the last frame of ``err`` outside torch and cascades, or ""."""
    import os
    import traceback

    import torch

    ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the cascades package
    theirs = os.path.dirname(os.path.abspath(torch.__file__))
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not os.path.abspath(f.filename).startswith((ours + os.sep, theirs + os.sep))]
    if not frames:
        return ""
    f = frames[-1]
    return f" at {f.filename}:{f.lineno}" + (f" ({f.line.strip()!r})" if f.line else "")


def _trace(module):
    import torch.fx

    return torch.fx.symbolic_trace(module)


def _forward_order(module):
    """Weight layers in the order forward calls them (definition order if tracing fails or skips a layer).

    Used by :func:`cascades.bridge.apply_to` and :func:`cascades.bridge.torch.layer_shapes`, so that
    a recommendation made from :func:`read_module` lines up with the module's layers; never raises
    on an architecture that :func:`read_module` refuses (residual blocks, normalization, ...).
    """
    layers = _weight_layers(module)
    if len(layers) < 2:
        return layers
    try:
        gm = _trace(module)
    except Exception:  # noqa: BLE001 - any tracing failure: fall back to definition order
        return layers
    by_name = dict(layers)
    order = []
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.target in by_name and node.target not in order:
            order.append(node.target)
    if len(order) != len(layers):
        return layers
    return [(name, by_name[name]) for name in order]


# ---------------------------------------------------------------------------------------------
# what sits after a layer: classification of modules and graph nodes
# ---------------------------------------------------------------------------------------------

_TRANSPARENT_MODULES = (
    "Flatten", "Unflatten", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
    "FeatureAlphaDropout", "Identity", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d",
    "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
)
_NORM_MODULES = (
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d", "LazyBatchNorm2d",
    "LazyBatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
    "LocalResponseNorm", "RMSNorm",
)
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict")
_TRANSPARENT_FUNCS = frozenset((
    "flatten", "unflatten", "view", "reshape", "squeeze", "unsqueeze", "transpose", "permute", "t",
    "contiguous", "clone", "detach", "view_as", "reshape_as", "expand_as", "type_as", "to", "type", "float",
    "double", "half", "bfloat16", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
    "feature_alpha_dropout", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "identity", "getitem",
))
_NORM_FUNCS = frozenset(("batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm", "normalize",
                         "local_response_norm"))
_SOFTMAX_FUNCS = frozenset(("softmax", "log_softmax"))
_KNOWN_FUNCS = frozenset(("relu", "gelu", "tanh", "silu", "elu", "selu", "leaky_relu", "sigmoid", "hardtanh"))
_UNKNOWN_ACT_FUNCS = frozenset((
    "softplus", "mish", "softsign", "prelu", "rrelu", "celu", "hardswish", "hardsigmoid", "relu6",
    "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "threshold", "glu", "softmin", "erf", "exp",
    "sin", "cos", "abs", "sign", "square", "sqrt", "log", "log1p", "expm1", "atan", "sinh", "cosh",
))
_SHAPE_METHODS = frozenset(("size", "dim", "numel", "ndimension", "nelement", "get_device"))
_SHAPE_ATTRS = frozenset(("shape", "ndim", "dtype", "device", "is_cuda", "layout"))


def _num(x) -> str:
    """Shortest text for a float parameter in a registry name: "0.2", "0.5", "0.3333333333333333"."""
    x = float(x)
    s = f"{x:g}"
    return s if float(s) == x else repr(x)


def _leaky_name(slope) -> str:
    slope = float(slope)
    return "relu" if slope == 0 else "leaky_relu" if slope == 0.01 else f"leaky_relu({_num(slope)})"


def _elu_name(alpha) -> str:
    alpha = float(alpha)
    return "elu" if alpha == 1.0 else f"elu({_num(alpha)})"


def _gelu_name(approximate, where) -> str:
    if approximate == "none":
        return "gelu"
    if approximate == "tanh":
        return "gelu_tanh"
    raise ValueError(f"{where}: GELU approximate={approximate!r}; allowed 'none' or 'tanh'")


def _hardtanh_name(lo, hi, where) -> str:
    if float(lo) == -1.0 and float(hi) == 1.0:
        return "hardtanh"
    raise ValueError(f"{where} is a hardtanh with bounds ({lo:g}, {hi:g}); the theory knows hardtanh "
                     f"with the default bounds (-1, 1) only; {_ADVICE}")


def _module_kind(mod, where):
    """("activation", name) | ("softmax"|"transparent"|"norm"|"container"|"unknown_activation"|"op", None)."""
    import torch.nn as nn

    t = type(mod)
    simple = {nn.ReLU: "relu", nn.SELU: "selu", nn.SiLU: "silu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}
    if t in simple:
        return "activation", simple[t]
    if t is nn.LeakyReLU:
        return "activation", _leaky_name(mod.negative_slope)
    if t is nn.ELU:
        return "activation", _elu_name(mod.alpha)
    if t is nn.GELU:
        return "activation", _gelu_name(mod.approximate, where)
    if t is nn.Hardtanh:
        return "activation", _hardtanh_name(mod.min_val, mod.max_val, where)
    if t in (nn.Softmax, nn.LogSoftmax):
        return "softmax", None
    name = t.__name__
    torch_module = t.__module__.startswith("torch.")
    if torch_module and name in _TRANSPARENT_MODULES:
        return "transparent", None
    if torch_module and name in _NORM_MODULES:
        return "norm", None
    if torch_module and name in _CONTAINERS:
        return "container", None
    if t.__module__ == "torch.nn.modules.activation":  # PReLU, Softplus, ...; not MultiheadAttention
        return ("op", None) if list(mod.children()) else ("unknown_activation", None)
    # user subclasses of the known modules (seen in module-order reading; fx traces through them)
    for base, kind in ((nn.Softmax, "softmax"), (nn.LogSoftmax, "softmax"), (nn.Identity, "transparent"),
                       (nn.Flatten, "transparent")):
        if isinstance(mod, base):
            return kind, None
    for base in (nn.ReLU, nn.SELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Hardtanh):
        if isinstance(mod, base):
            return _module_kind(_as_base(mod, base), where)
    return "op", None


def _as_base(mod, base):
    """A fresh ``base`` instance with the parameters of ``mod`` (an instance of a subclass of ``base``)."""
    import torch.nn as nn

    if base is nn.LeakyReLU:
        return nn.LeakyReLU(mod.negative_slope)
    if base is nn.ELU:
        return nn.ELU(mod.alpha)
    if base is nn.GELU:
        return nn.GELU(approximate=mod.approximate)
    if base is nn.Hardtanh:
        return nn.Hardtanh(mod.min_val, mod.max_val)
    return base()


def _func_name(node):
    """(name without an in-place "_", in_place, torch_namespace) of a call_function / call_method node."""
    t = node.target
    if node.op == "call_method":
        name, torch_ns = str(t), True
    else:
        name = getattr(t, "__name__", str(t))
        mod = getattr(t, "__module__", None) or ""
        torch_ns = mod.startswith("torch") or mod in ("_operator", "operator")
    in_place = name.endswith("_") and not name.endswith("__") and len(name) > 1
    if in_place:
        name = name[:-1]
    if node.kwargs.get("inplace") is True:
        in_place = True
    return name, in_place, torch_ns


def _describe(node, root):
    """A short human name of a graph node: "ReLU 'act'", "torch.nn.functional.softplus", "Tensor.mul()"."""
    if node.op == "call_module":
        mod = root.get_submodule(node.target)
        text = f"{type(mod).__name__} {node.target!r}"
    elif node.op == "call_method":
        text = f"Tensor.{node.target}()"
    elif node.op == "call_function":
        t = node.target
        mod = getattr(t, "__module__", None) or ""
        mod = {"_operator": "operator", "torch._C._nn": "torch.nn.functional",
               "torch._C._VariableFunctions": "torch"}.get(mod, mod)
        text = f"{mod}.{getattr(t, '__name__', t)}" if mod else str(getattr(t, "__name__", t))
    elif node.op == "output":
        text = "the network output"
    else:
        text = f"{node.op} {node.target}"
    inside = _custom_owner(node)
    if inside is not None:
        text += f" (inside module {inside[0]!r} of type {inside[1]})"
    return text


def _stack(node):
    """[(qualified path, class)] of the modules the node was traced inside, outermost first."""
    st = node.meta.get("nn_module_stack") or {}
    out = []
    for key, val in st.items():
        if isinstance(val, tuple) and len(val) == 2:
            path, cls = val
        else:
            path, cls = key, val
        out.append((str(path), cls))
    return out


def _custom_owner(node):
    """The innermost user-defined (non-torch) module a functional node was traced inside, or None."""
    for path, cls in reversed(_stack(node)):
        if node.op == "call_module" and path == str(node.target):
            continue  # the called module itself
        if not (getattr(cls, "__module__", "") or "").startswith("torch."):
            return path, getattr(cls, "__name__", str(cls))
        return None
    return None


def _arg(node, pos, key, default):
    if len(node.args) > pos:
        return node.args[pos]
    return node.kwargs.get(key, default)


def _function_activation(node, name, where):
    """Registry name of a known functional activation node."""
    import torch.fx

    params = {"leaky_relu": (1, "negative_slope", 0.01), "elu": (1, "alpha", 1.0)}
    if name in params:
        value = _arg(node, *params[name])
        if isinstance(value, torch.fx.Node):
            raise ValueError(f"{where}: the parameter of {name} is computed in forward; it must be a "
                             f"constant")
        return _leaky_name(value) if name == "leaky_relu" else _elu_name(value)
    if name == "gelu":
        return _gelu_name(_arg(node, 1, "approximate", "none"), where)
    if name == "hardtanh":
        return _hardtanh_name(_arg(node, 1, "min_val", -1.0), _arg(node, 2, "max_val", 1.0), where)
    return name


def _flat_nodes(args):
    import torch.fx

    out = []

    def visit(a):
        if isinstance(a, torch.fx.Node):
            out.append(a)
        elif isinstance(a, (tuple, list)):
            for b in a:
                visit(b)
        elif isinstance(a, dict):
            for b in a.values():
                visit(b)

    visit(args)
    return out


def _is_shape_value(node, memo):
    """True if the node computes shapes or metadata (x.size(0), x.shape[1:], x.dim(), arithmetic on them)."""
    if node in memo:
        return memo[node]
    memo[node] = False
    result = False
    if node.op == "call_method" and node.target in _SHAPE_METHODS:
        result = True
    elif node.op == "call_function" and node.target is getattr and len(node.args) > 1 \
            and node.args[1] in _SHAPE_ATTRS:
        result = True
    elif node.op == "call_function" and node.target in (operator.getitem, len, operator.mul, operator.add,
                                                        operator.sub, operator.floordiv, math.prod):
        inputs = _flat_nodes((node.args, node.kwargs))
        result = bool(inputs) and all(_is_shape_value(n, memo) for n in inputs)
    memo[node] = result
    return result


def _node_kind(node, cur, ctx):
    """Classify a user ``node`` of the tensor ``cur``: (kind, activation name or None)."""
    if node.op == "output":
        return "output", None
    if node.op == "call_module":
        if node.target in ctx["weights"]:
            return "weight", None
        mod = ctx["root"].get_submodule(node.target)
        return _module_kind(mod, f"{_describe(node, ctx['root'])} after layer {ctx['layer']!r}")
    name, _, torch_ns = _func_name(node)
    others = [n for n in _flat_nodes((node.args, node.kwargs))
              if n is not cur and n.op != "get_attr" and not _is_shape_value(n, ctx["memo"])]
    if torch_ns and name in _TRANSPARENT_FUNCS:
        if name == "getitem" and others:
            return "op", None
        return "transparent", None
    if others:
        return "merge", None
    if not torch_ns:
        return "op", None
    if name in _KNOWN_FUNCS:
        return "activation", _function_activation(node, name, f"{_describe(node, ctx['root'])} after layer "
                                                              f"{ctx['layer']!r}")
    if name in _SOFTMAX_FUNCS:
        return "softmax", None
    if name in _NORM_FUNCS:
        return "norm", None
    if name in _UNKNOWN_ACT_FUNCS:
        return "unknown_activation", None
    return "op", None


def _unknown_activation_error(layer, desc):
    return ValueError(f"layer {layer!r} is followed by {desc}, an activation the mean-field theory does not "
                      f"know; known: {_KNOWN_TEXT}. For another activation {_ADVICE} (e.g. an Activation "
                      f"from cascades.nn.custom_activation)")


def _custom_activation_error(layer, node):
    path, cls = _custom_owner(node)
    return ValueError(f"layer {layer!r} is followed by module {path!r} of type {cls}, which is not an "
                      f"activation the mean-field theory knows; known: {_KNOWN_TEXT}. For another activation "
                      f"{_ADVICE} (e.g. an Activation from cascades.nn.custom_activation)")


def _is_custom_activation(node, layer, ctx):
    """True if ``node`` lies inside a user module, entered after ``layer``, that holds no weight layer."""
    owner = _custom_owner(node)
    if owner is None:
        return False
    path = owner[0]
    if path == "" or layer == path or layer.startswith(path + "."):
        return False
    return not any(w == path or w.startswith(path + ".") for w in ctx["weights"])


def _in_place(node, root) -> bool:
    """True for an in-place call: ``relu_``, ``inplace=True``, or a module built with ``inplace=True``."""
    if node.op == "call_module":
        return bool(getattr(root.get_submodule(node.target), "inplace", False))
    return node.op in ("call_function", "call_method") and _func_name(node)[1]


def _walk(start, ctx):
    """Follow weight node ``start`` to the next weight layer or the output: (activation, ops)."""
    layer = ctx["layer"] = start.target
    root = ctx["root"]
    order = ctx["order"]
    cur, act, ops = start, None, []
    while True:
        users = [u for u in cur.users if not _is_shape_value(u, ctx["memo"])]
        # an in-place activation whose result is not used (``F.relu(x, inplace=True)`` as a statement)
        side = [u for u in users if not u.users and u.op != "output" and len(users) > 1 and _in_place(u, root)
                and _node_kind(u, cur, ctx)[0] == "activation"]
        if len(side) == 1:
            rest = [u for u in users if u is not side[0]]
            if all(order[side[0]] < order[u] for u in rest):
                if act is not None:
                    raise ValueError(f"layer {layer!r} is followed by two activations ({act} and "
                                     f"{_describe(side[0], root)}); {_ADVICE}")
                act = _node_kind(side[0], cur, ctx)[1]
                users = rest
        if not users:
            raise ValueError(f"the output of layer {layer!r} is not used by the forward pass "
                             f"(after {_describe(cur, root) if cur is not start else 'the layer'})")
        if len(users) > 1:
            if all(_is_custom_activation(u, layer, ctx) for u in users):
                raise _custom_activation_error(layer, users[0])
            what = "layer" if cur is start else f"{_describe(cur, root)} after layer"
            raise ValueError(
                f"the output of {what} {layer!r} is used {len(users)} times (by "
                f"{', '.join(_describe(u, root) for u in users)}): branching architectures (residual "
                f"connections, skips, concatenations) are not supported by recommend yet; {_ADVICE}")
        u = users[0]
        kind, name = _node_kind(u, cur, ctx)
        if kind == "output":
            return (act, tuple(ops))
        if kind == "weight":
            return ("linear" if act is None else act, tuple(ops))
        if kind == "transparent":
            ops.append(_describe(u, root))
        elif kind == "activation":
            if act is not None:
                raise ValueError(f"layer {layer!r} is followed by two activations ({act}, then "
                                 f"{_describe(u, root)}); {_ADVICE}")
            act = name
        elif kind == "softmax":
            _terminal(u, layer, ctx)
            return (act, tuple(ops))
        elif _is_custom_activation(u, layer, ctx):
            raise _custom_activation_error(layer, u)
        elif kind == "norm":
            raise ValueError(f"layer {layer!r} is followed by {_describe(u, root)}: normalization layers "
                             f"(BatchNorm, LayerNorm, GroupNorm, ...) are not supported by recommend yet; "
                             f"{_ADVICE}")
        elif kind == "merge":
            raise ValueError(f"{_describe(u, root)} after layer {layer!r} combines it with another tensor (a "
                             f"residual addition, skip or concatenation): branching architectures are not "
                             f"supported by recommend yet; {_ADVICE}")
        elif kind == "unknown_activation":
            raise _unknown_activation_error(layer, _describe(u, root))
        elif kind == "container":
            pass
        else:
            where = "its activation" if act is None else "the next layer"
            raise ValueError(
                f"{_describe(u, root)} sits between layer {layer!r} and {where}: it is not a shape-only or "
                f"statistics-transparent op (flatten, view, reshape, dropout, pooling, Identity), so the "
                f"signal statistics the theory predicts do not reach the next layer; {_ADVICE}")
        cur = u


def _terminal(node, layer, ctx):
    """Check that a softmax / log-softmax node reaches only the network output (through transparent ops)."""
    cur = node
    while True:
        users = [u for u in cur.users if not _is_shape_value(u, ctx["memo"])]
        kinds = [_node_kind(u, cur, ctx)[0] for u in users]
        if len(users) == 1 and kinds[0] == "output":
            return
        if len(users) == 1 and kinds[0] == "transparent":
            cur = users[0]
            continue
        raise ValueError(f"{_describe(node, ctx['root'])} after layer {layer!r} is not the last operation of "
                         f"the network: a softmax between layers is not supported by recommend; {_ADVICE}")


def _read_graph(gm, module, layers):
    by_name = dict(layers)
    nodes, seen = [], {}
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.target in by_name:
            seen[node.target] = seen.get(node.target, 0) + 1
            nodes.append(node)
    shared = [n for n, c in seen.items() if c > 1]
    if shared:
        raise ValueError(f"layer {shared[0]!r} is called {seen[shared[0]]} times in forward (weight "
                         f"sharing); not supported by recommend")
    missing = [n for n in by_name if n not in seen]
    if missing:
        called = {n.target: n for n in gm.graph.nodes if n.op == "call_module"}
        owner = next((c for c in called if missing[0].startswith(c + ".")), None)
        if owner is not None:
            raise ValueError(f"{_describe(called[owner], module)} holds the weight layer {missing[0]!r} "
                             f"inside it, which the bridge cannot read: not supported by recommend yet; "
                             f"{_ADVICE}")
        raise ValueError(f"layer {missing[0]!r} ({type(by_name[missing[0]]).__name__}) is never called by "
                         f"forward; remove it from the module or {_ADVICE}")
    ctx = {"root": module, "weights": set(by_name), "memo": {},
           "order": {n: i for i, n in enumerate(gm.graph.nodes)}}
    acts, ops = [], []
    for node in nodes:
        act, op = _walk(node, ctx)
        acts.append(act)
        ops.append(op)
    names = tuple(n.target for n in nodes)
    return ModuleLayers(names=names, shapes=tuple(_shape_of(by_name[n]) for n in names),
                        activations=tuple(acts), traced=True, ops=tuple(ops))


def _read_module_order(module, layers):
    """Module-order reading: the leaf modules between weight layers, in ``named_modules`` order."""
    weights = {name for name, _ in layers}
    seq = []
    skip = None
    for name, sub in module.named_modules():
        if skip is not None and name.startswith(skip):
            continue
        if name in weights:
            seq.append((name, sub, True))
            skip = name + "."
        elif not list(sub.children()):
            seq.append((name, sub, False))
    pos = [i for i, (_, _, w) in enumerate(seq) if w]
    acts, ops = [], []
    for j, i in enumerate(pos):
        layer = seq[i][0]
        end = pos[j + 1] if j + 1 < len(pos) else len(seq)
        act, op, terminal = None, [], False
        for name, sub, _ in seq[i + 1:end]:
            desc = f"{type(sub).__name__} {name!r}"
            kind, act_name = _module_kind(sub, f"{desc} after layer {layer!r}")
            if terminal and kind != "transparent":
                raise ValueError(f"{desc} follows the softmax after layer {layer!r}; a softmax between "
                                 f"layers is not supported by recommend; {_ADVICE}")
            if kind in ("transparent", "container"):
                op.append(desc)
            elif kind == "activation":
                if act is not None:
                    raise ValueError(f"layer {layer!r} is followed by two activations ({act}, then {desc}); "
                                     f"{_ADVICE}")
                act = act_name
            elif kind == "softmax":
                if j + 1 < len(pos):
                    raise ValueError(f"{desc} after layer {layer!r} is not the last operation of the "
                                     f"network: a softmax between layers is not supported by recommend; "
                                     f"{_ADVICE}")
                terminal = True
            elif kind == "norm":
                raise ValueError(f"layer {layer!r} is followed by {desc}: normalization layers (BatchNorm, "
                                 f"LayerNorm, GroupNorm, ...) are not supported by recommend yet; {_ADVICE}")
            elif kind == "unknown_activation":
                raise _unknown_activation_error(layer, desc)
            else:
                raise ValueError(f"{desc} after layer {layer!r} is not a module the bridge can read "
                                 f"(activations: {_KNOWN_TEXT}; or flatten, dropout, pooling, Identity); "
                                 f"{_ADVICE}")
        if act is None and j + 1 < len(pos):
            act = "linear"
        acts.append(act)
        ops.append(tuple(op))
    names = tuple(seq[i][0] for i in pos)
    by_name = dict(layers)
    return ModuleLayers(names=names, shapes=tuple(_shape_of(by_name[n]) for n in names),
                        activations=tuple(acts), traced=False, ops=tuple(ops))


def read_module(module) -> ModuleLayers:
    """The weight layers of a torch module, in forward order, and the activation applied to each.

    Parameters
    ----------
    module : torch.nn.Module
        A network of Linear and Conv2d layers (ungrouped) with pointwise activations, possibly with
        flatten / view / reshape, dropout, pooling and Identity in between, and optionally a
        terminal softmax or log-softmax.

    Returns
    -------
    ModuleLayers
        Names, :class:`~cascades.bridge.topology.LayerShape` and activation of each weight layer
        (None for a read-out layer; "linear" when the next layer follows directly).

    Raises
    ------
    TypeError
        If ``module`` is not a ``torch.nn.Module``.
    ValueError
        If the module has no Linear / Conv2d layer or another weight layer (named), a layer is
        called twice or never, an activation the theory does not know follows a layer (named, with
        the known ones listed; also a user-defined activation module), an op that is not
        shape-only sits between a layer and its activation (named, with the layer), or the
        architecture branches (residual additions, skips, concatenations, a tensor used twice) or
        normalizes (BatchNorm, LayerNorm, ...): not supported by recommend yet.

    Warns
    -----
    UserWarning
        If :func:`torch.fx.symbolic_trace` fails (data-dependent control flow, ...): the module is
        then read in ``named_modules()`` order, where functional activations (``F.relu``,
        ``torch.tanh``, ``x.relu()``) are invisible and an activation module defined once and
        reused is seen once.

    Notes
    -----
    The module is traced with :func:`torch.fx.symbolic_trace` (torch.nn modules are leaves, user
    modules are traced through). From each weight layer's node the walk follows the single user
    of the tensor through shape-only and statistics-transparent nodes (flatten, view, reshape,
    squeeze, permute, contiguous, dropout, max / average pooling, Identity, slicing; ``x.size()``
    and ``x.shape`` used for shapes are ignored) to the activation, then on to the next weight
    layer or the output. Activations are recognised in module form (``nn.ReLU``, ``nn.GELU``,
    ...), functional form (``F.relu``, ``torch.relu``, ``x.relu()``, ``F.gelu(x,
    approximate="tanh")``, ``F.leaky_relu(x, 0.2)``, ...) and in-place form (``relu_``,
    ``inplace=True``). Cost: one trace, O(nodes).

    Examples
    --------
    >>> import torch.nn as nn
    >>> net = nn.Sequential(nn.Linear(8, 16), nn.GELU(approximate="tanh"), nn.Dropout(0.1),
    ...                     nn.Linear(16, 16), nn.LeakyReLU(0.2), nn.Linear(16, 4), nn.Softmax(dim=1))
    >>> layers = read_module(net)
    >>> layers.names, layers.activations
    (('0', '3', '5'), ('gelu_tanh', 'leaky_relu(0.2)', None))
    >>> [s.to_tuple() for s in layers.shapes][0]
    ('linear', 8, 16)
    """
    layers = _weight_layers(module)
    if len(layers) == 1 and layers[0][0] == "":  # the module is a bare weight layer: a read-out
        return ModuleLayers(names=("",), shapes=(_shape_of(module),), activations=(None,), traced=False,
                            ops=((),))
    try:
        gm = _trace(module)
    except Exception as exc:  # noqa: BLE001 - any tracing failure: fall back to module order
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        warnings.warn(
            f"read_module: torch.fx could not trace {type(module).__name__} "
            f"({type(exc).__name__}: {reason}); "
            f"reading its layers in module definition order instead, where functional activations (F.relu, "
            f"torch.tanh, x.relu(), ...) are invisible and an activation module reused by several layers is "
            f"seen once; check the activations, or give recommend the layer shapes and activation=",
            UserWarning, stacklevel=2,
        )
        return _read_module_order(module, layers)
    return _read_graph(gm, module, layers)
