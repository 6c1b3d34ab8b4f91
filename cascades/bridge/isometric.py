"""Isometric initialization of a user's torch module: every singular value of the input-output Jacobian is 1.

:func:`isometric_init` reads the module's structure with :func:`torch.fx.symbolic_trace` and sets the
weights of its Linear / Conv1d / Conv2d / Conv3d layers in place so that, at initialization, the
network computes an exactly orthogonal linear map of its input (when the architecture allows it),
and reports what it did in an :class:`IsometricInit`. torch is imported inside the functions only,
never by ``import cascades``.

Schemes
-------
Every layer gets a matrix M (out x in); a Linear layer's weight is M, a convolution's kernel is
zero except its centre tap, which is M (the delta-orthogonal kernel of Xiao et al. 2018: the
convolution then applies M at every pixel, whatever the padding mode, so with stride 1 and 'same'
padding it is I_pixels (x) M on the whole feature map). Biases are zero.

``"orthogonal"`` / ``"delta-orthogonal"`` (Saxe, McClelland & Ganguli 2014; Xiao et al. 2018)
    M has orthonormal rows or columns. Used for layers not followed by an activation (read-out,
    linear chains, a stem) and for any layer that no other scheme covers.

``"looks-linear"`` (Shang et al. 2016; Balduzzi et al. 2017; Burkholz & Dubatovka 2019)
    A chain Linear|Conv (n_0 -> 2 h_1) -> ReLU -> ... -> ReLU -> Linear|Conv (2 h_{k-1} -> n_k) gets
    [W_1; -W_1], [[W_l, -W_l], [-W_l, W_l]], ..., [W_k, -W_k]: with u = W x the ReLU outputs
    [relu(u); relu(-u)] and the next layer gives W' (relu(u) - relu(-u)) = W' u, so the chain
    computes W_k ... W_1 x exactly. Each W_l has orthonormal rows or columns. Hidden widths must be
    even.

``"risotto"`` / ``"risotto-skip"`` (after Gadhikar & Burkholz 2022)
    A residual block out = S x + W_2 relu(W_1 x), with S the identity or a projection Linear /
    Conv on the skip ("risotto-skip"), and a looks-linear branch W_1 = [W_0; -W_0],
    W_2 = [U, -U], computes (S + U W_0) x at initialization. RISOTTO ("Residual dynamical ISOmeTry
    ...", Gadhikar & Burkholz, arXiv:2210.02411) gives ReLU residual networks *perfect* dynamical
    isometry at finite width and depth while balancing the skip and the residual branch, unlike
    SkipInit / Fixup, which start with a zero branch. The paper's exact matrices were not
    available when this module was written; what is implemented is the following construction,
    which has the stated properties. Let d be the block's input width, h = (hidden width) / 2 and
    r the largest even number <= min(h, d). Draw V (d x r) with orthonormal columns (a random
    r-dimensional subspace) and let C be block diagonal with r / 2 blocks R(2 pi / 3) (rotations
    by 120 degrees), and A = V C V^T. Since e^{i pi / 3} - 1 = e^{2 i pi / 3},
    B = I + A = V R(pi / 3) V^T + (I - V V^T) is orthogonal: it rotates by 60 degrees in r / 2
    random planes. The branch has W_0 = V^T (padded to h rows with further orthonormal directions,
    then unit-norm random rows, whose columns of U are zero) and U = Q V C, so U W_0 = Q A and the
    block computes Q B x: B for an identity skip (Q = I), and for a projection skip
    S = Q (d_out x d_in, orthonormal rows or columns, chosen as described below), Q B, which again
    has all singular values 1. Balance: ||A x|| = ||x|| for x in the rotated subspace (the
    whole space when h >= d and d is even), so skip and branch contribute equal norms there.

Whole network
-------------
The forward graph is followed from the input to the output ("the stream"). When the stream is a
sequence of stages (orthogonal layers, looks-linear chains, residual blocks, with Dropout /
Identity in between and reshapes before the first weight layer), the matrices are drawn in
aligned random frames: each stream position k of width n_k gets a Haar-random orthogonal frame
O_k and a stage from k to k + 1 computes O_{k+1} E O_k^T, with E the rectangular identity (for an
identity-skip block O_{k+1} = B O_k). The products telescope, so the network computes
O_L E O_0^T: every singular value is 1 as long as no width along the stream (the half widths h of
looks-linear chains included) is smaller than min(n_0, n_L). An expanding layer followed by a
contracting one is then still exact, which independent draws would not give.

The report says ``isometric=False``, with the ``reason``, when the map is not exactly isometric:
a ReLU on the stream that is not between the two layers of a looks-linear pair (its output is
relu of a linear map), another activation (a residual branch with Tanh, say, gets orthogonal
weights only), normalization, pooling, strides > 1, unrecognised additions, several inputs or
outputs, or a bottleneck narrower than min(n_0, n_L).

References
----------
A. M. Saxe, J. L. McClelland, S. Ganguli, "Exact solutions to the nonlinear dynamics of learning in
deep linear neural networks", ICLR 2014, arXiv:1312.6120.
W. Shang, K. Sohn, D. Almeida, H. Lee, "Understanding and improving convolutional neural networks
via concatenated rectified linear units", ICML 2016.
D. Balduzzi, M. Frean, L. Leary, J. P. Lewis, K. W.-D. Ma, B. McWilliams, "The shattered gradients
problem: if resnets are the answer, then what is the question?", ICML 2017, arXiv:1702.08591.
J. Pennington, S. S. Schoenholz, S. Ganguli, "Resurrecting the sigmoid in deep learning through
dynamical isometry", NeurIPS 2017.
L. Xiao, Y. Bahri, J. Sohl-Dickstein, S. S. Schoenholz, J. Pennington, "Dynamical isometry and a
mean field theory of CNNs: how to train 10,000-layer vanilla convolutional neural networks",
ICML 2018, arXiv:1806.05393.
R. Burkholz, A. Dubatovka, "Initialization of ReLUs for dynamical isometry", NeurIPS 2019.
A. Gadhikar, R. Burkholz, "Dynamical isometry for residual networks", 2022, arXiv:2210.02411.
"""

from __future__ import annotations

import contextlib
import operator
from dataclasses import dataclass

import numpy as np

from .._rng import as_generator
from ..nn._guard import F8, guard
from .weights import orthogonal_matrix

__all__ = ["IsometricBlock", "IsometricInit", "IsometricLayer", "isometric_init"]

_SUPPORTED = ("Linear, Conv1d, Conv2d and Conv3d weight layers (groups=1); parameters of other modules "
              "must be at most 1-D (normalization affine parameters are left as they are)")
_OTHER_ACTIVATIONS = frozenset((
    "tanh", "sigmoid", "gelu", "silu", "elu", "selu", "leaky_relu", "leakyrelu", "hardtanh", "softplus",
    "mish", "relu6", "celu", "prelu", "rrelu", "hardswish", "hardsigmoid", "softsign", "tanhshrink",
    "logsigmoid", "glu", "sin", "cos", "erf", "abs", "square", "exp", "softmax", "log_softmax", "logsoftmax",
))
_TRANSPARENT_MODULES = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Identity")
_TRANSPARENT_FUNCS = frozenset(("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
                                "contiguous", "clone"))
_RESHAPE_MODULES = ("Flatten", "Unflatten")
_RESHAPE_FUNCS = frozenset(("flatten", "view", "reshape", "unflatten"))
_SHAPE_QUERIES = frozenset(("size", "dim", "numel", "ndimension", "nelement"))
_SHAPE_ATTRS = frozenset(("shape", "ndim", "dtype", "device"))


# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IsometricLayer:
    """One weight layer as initialised by :func:`isometric_init`.

    Attributes
    ----------
    name : str
        Qualified name (as in ``module.named_modules()``).
    type : str
        "Linear", "Conv1d", "Conv2d" or "Conv3d".
    in_features, out_features : int
        Input and output features (channels for a convolution).
    scheme : str
        "looks-linear", "risotto", "risotto-skip", "orthogonal" or "delta-orthogonal" (module
        docstring); convolutions in looks-linear chains and residual blocks carry the matrix at
        their centre tap.
    """

    name: str
    type: str
    in_features: int
    out_features: int
    scheme: str


@dataclass(frozen=True)
class IsometricBlock:
    """A residual block found by :func:`isometric_init`.

    Attributes
    ----------
    branch : tuple of str
        Names of the branch's two layers (first, second).
    skip : str or None
        Name of the projection layer on the skip, None for an identity skip.
    activation : str
        The branch activation ("relu" for a RISOTTO block; otherwise the block gets orthogonal
        weights only).
    rotated : int
        Dimension r of the subspace the block rotates (0 when the activation is not ReLU, or the
        branch is too narrow, in which case the branch is zero at initialization).
    isometric : bool
        True when the block's map is exactly orthogonal (or an isometry / co-isometry for a
        rectangular projection skip) at initialization.
    """

    branch: tuple
    skip: str | None
    activation: str
    rotated: int
    isometric: bool


@dataclass(frozen=True)
class IsometricInit:
    """What :func:`isometric_init` did to a module.

    Attributes
    ----------
    layers : tuple of IsometricLayer
        Every weight layer, in forward order (layers the forward pass does not call last).
    blocks : tuple of IsometricBlock
        The residual blocks, in forward order.
    isometric : bool
        True when the whole input-output map is exactly isometric at initialization: every
        singular value of its Jacobian equals 1 (up to rounding in the parameters' dtype).
        Dropout counts as the identity (evaluation mode).
    reason : str or None
        Why not, when ``isometric`` is False.
    notes : tuple of str
        Remarks on single layers (a layer reading an unpaired ReLU, a zero branch, an unused
        layer, dropout on the stream).
    drawn : bool
        False when the module lives on the meta device: nothing was drawn (see
        :func:`isometric_init`, Notes).
    """

    layers: tuple
    blocks: tuple
    isometric: bool
    reason: str | None = None
    notes: tuple = ()
    drawn: bool = True

    @property
    def schemes(self) -> dict:
        """``{layer name: scheme}``, in forward order."""
        return {lay.name: lay.scheme for lay in self.layers}

    def __str__(self) -> str:
        rows = [("layer", "type", "in", "out", "scheme")]
        rows += [(lay.name or "(root)", lay.type, str(lay.in_features), str(lay.out_features), lay.scheme)
                 for lay in self.layers]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        fmt = "  ".join(f"{{:<{w}}}" if i in (0, 1, 4) else f"{{:>{w}}}" for i, w in enumerate(widths))
        lines = [fmt.format(*r).rstrip() for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        for b in self.blocks:
            lines.append(f"block {b.branch[0]} -> {b.activation} -> {b.branch[1]}, skip "
                         f"{b.skip if b.skip is not None else 'identity'}: rotated {b.rotated}, "
                         f"{'isometric' if b.isometric else 'not isometric'}")
        lines.append("isometric: yes" if self.isometric else f"isometric: no ({self.reason})")
        if not self.drawn:
            lines.append("values: not drawn (meta device)")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# layers and graph nodes
# ---------------------------------------------------------------------------------------------

class _Layer:
    """A weight layer with its node in the fx graph (mutable bookkeeping, internal)."""

    def __init__(self, name, mod):
        import torch.nn as nn

        self.name, self.mod = name, mod
        self.conv = not isinstance(mod, nn.Linear)
        self.family = type(mod).__name__
        self.n_in = mod.in_channels if self.conv else mod.in_features
        self.n_out = mod.out_channels if self.conv else mod.out_features
        self.node = None
        self.scheme = None
        self.matrix = None


def _check_module(module):
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")


def _check_conv(name, mod):
    """ValueError naming the layer unless a delta-orthogonal kernel keeps the size (odd kernel, 'same')."""
    kind = type(mod).__name__
    if mod.groups != 1:
        raise ValueError(f"layer {name!r} ({kind}) has groups={mod.groups}; isometric_init supports "
                         f"groups=1 only")
    k, dil, pad = tuple(mod.kernel_size), tuple(mod.dilation), mod.padding
    if any(x % 2 == 0 for x in k):
        raise ValueError(f"layer {name!r} ({kind}) has kernel size {k}; delta-orthogonal initialization "
                         f"needs an odd kernel size (its centre tap) and 'same' padding")
    same = tuple(d * (x - 1) // 2 for d, x in zip(dil, k, strict=True))
    if pad != "same" and not (pad == "valid" and all(s == 0 for s in same)) and tuple(pad) != same:
        raise ValueError(f"layer {name!r} ({kind}) has padding {pad!r}; delta-orthogonal initialization "
                         f"needs 'same' padding (padding={same} for kernel {k}, dilation {dil}) so that the "
                         f"centre tap meets the same pixel")


def _weight_layers(module):
    """``{name: _Layer}`` of the Linear / Conv layers; ValueError for any other layer with a weight matrix."""
    import torch.nn as nn

    out = {}
    for name, sub in module.named_modules():
        if isinstance(sub, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            if not isinstance(sub, nn.Linear):
                _check_conv(name, sub)
            out[name] = _Layer(name, sub)
            continue
        if any(w == "" or name.startswith(f"{w}.") for w in out):  # a parametrization of a weight layer
            continue
        for pname, p in sub.named_parameters(recurse=False):
            if p.dim() >= 2:
                where = f"{name}.{pname}" if name else pname
                raise ValueError(f"module layer {name or '(root)'!r} of type {type(sub).__name__} has the "
                                 f"{p.dim()}-D parameter {where!r}; isometric_init supports {_SUPPORTED}")
    if not out:
        raise ValueError(f"module {type(module).__name__} has no Linear or Conv layer; isometric_init "
                         f"supports {_SUPPORTED}")
    return out


def _trace(module):
    """torch.fx graph of ``module``; ValueError naming the failing operation when it cannot be traced."""
    import torch.fx

    try:
        return torch.fx.symbolic_trace(module)
    except Exception as err:  # noqa: BLE001 - any tracing failure becomes one clear message
        from .trace import _user_frame

        first = next((s for s in str(err).strip().splitlines() if s.strip()), type(err).__name__)
        where = _user_frame(err)
        raise ValueError(f"isometric_init cannot trace {type(module).__name__} with torch.fx{where}: "
                         f"{type(err).__name__}: {first}. It needs a forward pass without data-dependent "
                         f"control flow") from None


def _users(node):
    """Users of ``node`` other than shape queries (``x.size(0)``, ``x.shape``)."""
    out = []
    for u in node.users:
        if u.op == "call_method" and u.target in _SHAPE_QUERIES:
            continue
        if u.op == "call_function" and u.target is getattr and len(u.args) > 1 and u.args[1] in _SHAPE_ATTRS:
            continue
        out.append(u)
    return out


def _name_of(node, mods):
    """Lower-case operation name of a call node ("relu", "tanh", "add", "dropout", ...)."""
    if node.op == "call_module":
        return type(mods[node.target]).__name__.lower()
    if node.op == "call_function":
        return getattr(node.target, "__name__", str(node.target)).lower().rstrip("_")
    if node.op == "call_method":
        return str(node.target).lower().rstrip("_")
    return node.op


def _activation(node, mods):
    """"relu", another activation's name, or None when ``node`` is not a pointwise activation."""
    import torch.nn as nn

    if node.op == "call_module":
        m = mods[node.target]
        if isinstance(m, nn.ReLU):
            return "relu"
        name = type(m).__name__.lower()
        return name if name in _OTHER_ACTIVATIONS else None
    if node.op in ("call_function", "call_method"):
        name = _name_of(node, mods)
        return name if name == "relu" or name in _OTHER_ACTIVATIONS else None
    return None


def _describe(node, mods):
    if node.op == "call_module":
        return f"{node.target!r} ({type(mods[node.target]).__name__})"
    if node.op == "call_method":
        return f"{node.name!r} (.{node.target}())"
    if node.op == "call_function":
        return f"{node.name!r} ({getattr(node.target, '__name__', node.target)})"
    return repr(node.name)


def _single_input(node):
    """The tensor a call node reads when it reads exactly one node (None otherwise)."""
    import torch.fx

    args = [a for a in node.args if isinstance(a, torch.fx.Node)]
    kw = [a for a in node.kwargs.values() if isinstance(a, torch.fx.Node)]
    if len(args) == 1 and not kw and node.args and node.args[0] is args[0]:
        return args[0]
    return None


def _add_operands(node):
    """(a, b) when ``node`` is a + b (operator.add / iadd, torch.add, Tensor.add / add_), else None."""
    import torch
    import torch.fx

    if node.op == "call_function" and node.target in (operator.add, operator.iadd, torch.add):
        if node.kwargs.get("alpha", 1) != 1 or set(node.kwargs) - {"alpha"}:
            return None
    elif not (node.op == "call_method" and node.target in ("add", "add_")):
        return None
    if node.op == "call_method" and (node.kwargs.get("alpha", 1) != 1 or set(node.kwargs) - {"alpha"}):
        return None
    if len(node.args) != 2 or not all(isinstance(a, torch.fx.Node) for a in node.args):
        return None
    return node.args[0], node.args[1]


# ---------------------------------------------------------------------------------------------
# structure: residual blocks, looks-linear chains, single layers
# ---------------------------------------------------------------------------------------------

class _Stage:
    """A unit of the initialization: "block", "chain" (looks-linear) or "layer" (internal)."""

    def __init__(self, kind, layers, start, end, skip=None, activation="relu"):
        self.kind, self.layers, self.start, self.end = kind, layers, start, end
        self.skip, self.activation = skip, activation
        self.rotated = 0
        self.isometric = True

    @property
    def n_in(self):
        return self.layers[0].n_in

    @property
    def n_out(self):
        return (self.skip or self.layers[-1]).n_out

    def widths(self):
        if self.kind == "chain":
            return [self.n_in] + [lay.n_out // 2 for lay in self.layers[:-1]] + [self.n_out]
        return [self.n_in, self.n_out]

    def all_layers(self):
        return self.layers + ([self.skip] if self.skip is not None else [])


def _layer_at(node, by_node):
    return by_node.get(node) if node is not None else None


def _match_block(add, by_node, mods):
    """The residual block ending at the addition ``add``, or None."""
    ops = _add_operands(add)
    if ops is None:
        return None
    for br, sk in (ops, ops[::-1]):
        l2 = _layer_at(br, by_node)
        if l2 is None or _users(br) != [add]:
            continue
        act_node = _single_input(br)
        if act_node is None or _activation(act_node, mods) is None or _users(act_node) != [br]:
            continue
        l1_node = _single_input(act_node)
        l1 = _layer_at(l1_node, by_node)
        if l1 is None or _users(l1_node) != [act_node]:
            continue
        x = _single_input(l1_node)
        if x is None:
            continue
        skip = None
        if sk is not x:
            skip = _layer_at(sk, by_node)
            if skip is None or _single_input(sk) is not x or _users(sk) != [add]:
                continue
        if len({lay.family for lay in (l1, l2, skip) if lay is not None}) != 1:
            continue
        return _Stage("block", [l1, l2], x, add, skip=skip, activation=_activation(act_node, mods))
    return None


def _chain_links(layers, by_node, mods, taken):
    """``{layer: next layer}`` for layer -> ReLU -> layer links (each node used by the next one only)."""
    links = {}
    for lay in layers:
        if lay.node is None or lay in taken:
            continue
        us = _users(lay.node)
        if len(us) != 1 or _activation(us[0], mods) != "relu" or _single_input(us[0]) is not lay.node:
            continue
        nxt = _users(us[0])
        if len(nxt) != 1:
            continue
        m = _layer_at(nxt[0], by_node)
        if m is None or m in taken or m.family != lay.family or _single_input(nxt[0]) is not us[0]:
            continue
        links[lay] = m
    return links


def _hidden_even(lay, where):
    if lay.n_out % 2:
        raise ValueError(f"layer {lay.name!r} has {lay.n_out} outputs feeding a ReLU in {where}; the "
                         f"looks-linear pair [W0; -W0] -> ReLU -> [U, -U] needs an even hidden width 2h")


def _structure(gm, layers, mods):
    """Stages (blocks, chains, layers) in forward order, and the unmatched additions."""
    by_node = {}
    for node in gm.graph.nodes:
        if node.op == "call_module" and node.target in layers:
            lay = layers[node.target]
            if lay.node is not None:
                raise ValueError(f"layer {lay.name!r} is called more than once in forward (shared weights); "
                                 f"isometric_init needs each Linear / Conv layer to be called once")
            lay.node = node
            by_node[node] = lay
    stages, unmatched, taken = [], [], set()
    for node in gm.graph.nodes:
        if _add_operands(node) is None:
            continue
        blk = _match_block(node, by_node, mods)
        if blk is None:
            unmatched.append(node)
            continue
        if blk.activation == "relu":
            _hidden_even(blk.layers[0], f"the residual branch ending at {node.name!r}")
        stages.append(blk)
        taken.update(blk.all_layers())
    ordered = [by_node[node] for node in gm.graph.nodes if node in by_node]
    links = _chain_links(ordered, by_node, mods, taken)
    heads = [lay for lay in ordered if lay not in taken and lay not in links.values()]
    for lay in heads:
        chain = [lay]
        while chain[-1] in links:
            chain.append(links[chain[-1]])
        kind = "chain" if len(chain) > 1 else "layer"
        for c in chain[:-1]:
            _hidden_even(c, "a looks-linear chain")
        stages.append(_Stage(kind, chain, _single_input(lay.node), chain[-1].node))
        taken.update(chain)
    index = {node: i for i, node in enumerate(gm.graph.nodes)}
    stages.sort(key=lambda s: index[s.end])
    return stages, unmatched


# ---------------------------------------------------------------------------------------------
# the stream: is the whole map a sequence of isometric stages?
# ---------------------------------------------------------------------------------------------

def _walk(gm, stages, unmatched, mods, notes):
    """(stages along the input -> output stream, reason or None)."""
    phs = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(phs) != 1:
        return [], f"the module takes {len(phs)} inputs; isometry is defined here for one input tensor"
    by_start = {}
    for s in stages:
        if s.start is not None:
            by_start.setdefault(s.start, []).append(s)
    first_layer = {s.layers[0].node: s for s in stages if s.kind != "block"}
    path, c, prev = [], phs[0], "the input"
    while True:
        us = _users(c)
        blocks = [s for s in by_start.get(c, []) if s.kind == "block"]
        if len(blocks) == 1:
            blk = blocks[0]
            entry = {blk.layers[0].node, blk.end} | ({blk.skip.node} if blk.skip else set())
            if set(us) <= entry:
                path.append(blk)
                c, prev = blk.end, f"the block ending at {blk.end.name!r}"
                continue
        if len(us) != 1:
            adds = [u for u in us if u in unmatched]
            if adds:
                return path, (f"the addition {adds[0].name!r} after {prev} is not a residual block "
                              f"x + Linear|Conv -> activation -> Linear|Conv (optionally with a projection "
                              f"Linear|Conv on the skip)")
            shown = ", ".join(_describe(u, mods) for u in us) or "nothing"
            return path, f"the stream forks after {prev} (used by {shown})"
        u = us[0]
        if u.op == "output":
            if u.args[0] is c:
                return path, None
            return path, "the module returns more than one tensor"
        if u in first_layer:
            s = first_layer[u]
            if s.start is not c:
                return path, f"layer {s.layers[0].name!r} reads more than the stream"
            path.append(s)
            c, prev = s.end, f"layer {s.layers[-1].name!r}"
            continue
        name = _name_of(u, mods)
        single = _single_input(u) is c
        if single and (u.op == "call_module" and type(mods[u.target]).__name__ in _TRANSPARENT_MODULES
                       or u.op != "call_module" and name in _TRANSPARENT_FUNCS):
            if "dropout" in name:
                notes.append(f"dropout {_describe(u, mods)} on the stream: isometric refers to evaluation "
                             f"mode")
            c = u
            continue
        if (u.op == "call_module" and type(mods[u.target]).__name__ in _RESHAPE_MODULES
                or u.op != "call_module" and name in _RESHAPE_FUNCS) and u.args and u.args[0] is c:
            if not path:
                c = u
                continue
            return path, (f"the stream is reshaped by {_describe(u, mods)} after {prev}; reshapes are "
                          f"handled before the first weight layer only")
        act = _activation(u, mods)
        if act == "relu":
            return path, (f"the ReLU {_describe(u, mods)} after {prev} is not between the two layers of a "
                          f"looks-linear pair (layer -> ReLU -> layer, each used once): its output is relu "
                          f"of a linear map, not an isometric function of the input")
        if act is not None:
            return path, (f"the activation {_describe(u, mods)} after {prev} is not linear at initialization "
                          f"(only ReLU layers between looks-linear pairs are)")
        return path, f"the operation {_describe(u, mods)} after {prev} is not an isometry"


def _verdict(path, reason):
    """Reason the whole map is not exactly isometric (None if it is), given the stream stages."""
    if reason is not None:
        return reason
    if not path:
        return "no weight layer lies on the stream from the input to the output"
    for s in path:
        if s.kind == "block" and s.activation != "relu":
            return (f"the residual block ending at {s.end.name!r} has a {s.activation} branch: it gets "
                    f"orthogonal weights only (RISOTTO needs ReLU)")
        for lay in s.all_layers():
            if lay.conv and any(x != 1 for x in lay.mod.stride):
                return f"layer {lay.name!r} has stride {tuple(lay.mod.stride)}: it subsamples the feature map"
    fams = {s.layers[0].conv for s in path}
    if len(fams) > 1:
        return "the stream mixes Linear and Conv layers without a reshape in between"
    widths = [path[0].n_in]
    for s in path:
        widths += s.widths()[1:]
    need = min(widths[0], widths[-1])
    if min(widths) < need:
        return (f"the widths along the stream {_shown(widths)} narrow to {min(widths)} < "
                f"min(input, output) = {need}: some singular values are 0")
    return None


def _shown(values):
    vals = list(values)
    if len(vals) <= 8:
        return "[" + ", ".join(map(str, vals)) + "]"
    return "[" + ", ".join(map(str, vals[:3])) + ", ..., " + ", ".join(map(str, vals[-2:])) + "]"


def _relu_notes(stages, mods, notes):
    """A note for each stage whose input is a ReLU output that no looks-linear pair absorbs."""
    for s in stages:
        node = s.start
        if node is not None and _activation(node, mods) == "relu":
            notes.append(f"layer {s.layers[0].name!r} reads the output of the ReLU {_describe(node, mods)}, "
                         f"which is not part of a looks-linear pair: not isometric")


# ---------------------------------------------------------------------------------------------
# drawing the matrices
# ---------------------------------------------------------------------------------------------

def _one_blas_thread():
    """One BLAS thread while drawing, if threadpoolctl is installed (optional).

    The many small QR decompositions and products run tens of times slower with OpenBLAS threads
    spinning on a loaded machine (measured: 96 x 96 QR, 0.1 ms single-threaded vs 40-120 ms with
    2 threads on 2 busy cores); one thread also makes the numbers independent of the thread count.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _haar(n, gen):
    return orthogonal_matrix(n, n, rng=gen)


def _frame_map(o_in, n_out, gen):
    """(O_out E O_in^T, O_out): a map with orthonormal rows or columns in aligned frames."""
    o_out = _haar(n_out, gen)
    m = min(n_out, o_in.shape[0])
    return o_out[:, :m] @ o_in[:, :m].T, o_out


def _fill_layer(s, o_in, gen):
    lay = s.layers[0]
    o_in = _haar(lay.n_in, gen) if o_in is None else o_in
    lay.matrix, o_out = _frame_map(o_in, lay.n_out, gen)
    lay.scheme = "delta-orthogonal" if lay.conv else "orthogonal"
    return o_out


def _fill_chain(s, o_in, gen):
    o = _haar(s.n_in, gen) if o_in is None else o_in
    k = len(s.layers)
    for i, (lay, n) in enumerate(zip(s.layers, s.widths()[1:], strict=True)):
        w, o = _frame_map(o, n, gen)
        if i == 0:
            lay.matrix = np.vstack([w, -w])
        elif i == k - 1:
            lay.matrix = np.hstack([w, -w])
        else:
            lay.matrix = np.block([[w, -w], [-w, w]])
        lay.scheme = "looks-linear"
    return o


def _rotation(r):
    """Block diagonal (r, r) with r / 2 blocks R(2 pi / 3) = R(pi / 3) - I."""
    c = np.zeros((r, r))
    blk = np.array([[-0.5, -np.sqrt(3.0) / 2], [np.sqrt(3.0) / 2, -0.5]])
    for i in range(0, r, 2):
        c[i:i + 2, i:i + 2] = blk
    return c


def _fill_block(s, o_in, gen):
    l1, l2 = s.layers
    d, d_out = s.n_in, s.n_out
    if s.activation != "relu":
        for lay in s.all_layers():
            lay.matrix = orthogonal_matrix(lay.n_out, lay.n_in, rng=gen)
            lay.scheme = "delta-orthogonal" if lay.conv else "orthogonal"
        return None
    h = l1.n_out // 2
    r = min(h, d) // 2 * 2
    s.rotated = r
    vfull = _haar(d, gen)
    v = vfull[:, :r]
    c = _rotation(r)
    b = np.eye(d) + v @ c @ v.T
    rows = [vfull[:, :min(h, d)].T]
    if h > d:  # more hidden units than directions: unit-norm random rows (their columns of U are zero)
        extra = gen.standard_normal((h - d, d))
        rows.append(extra / np.linalg.norm(extra, axis=1, keepdims=True))
    w0 = np.vstack(rows)
    o_in = _haar(d, gen) if o_in is None else o_in
    if s.skip is None:
        q, o_out = None, b @ o_in
    else:
        sk, o_out = _frame_map(o_in, d_out, gen)
        q = sk @ b.T
        s.skip.matrix = q
        s.skip.scheme = "risotto-skip"
    u = np.zeros((d_out, h))
    u[:, :r] = v @ c if q is None else q @ (v @ c)
    l1.matrix = np.vstack([w0, -w0])
    l2.matrix = np.hstack([u, -u])
    l1.scheme = l2.scheme = "risotto"
    return o_out


_FILL = {"layer": _fill_layer, "chain": _fill_chain, "block": _fill_block}


def _peak_bytes(layers):
    """float64 bytes: every matrix drawn, and a handful of (n, n) frames and products for the widest stage."""
    kept = sum(lay.n_out * lay.n_in for lay in layers)
    widest = max(max(lay.n_in, lay.n_out) for lay in layers)
    return F8 * (kept + 8 * widest * widest)


# ---------------------------------------------------------------------------------------------
# writing into torch
# ---------------------------------------------------------------------------------------------

def _check_parameter(lay):
    """ValueError naming the layer unless its weight is a plain (or pruned) floating point Parameter."""
    import torch.nn as nn
    from torch.nn.utils import parametrize

    mod = lay.mod
    w = getattr(mod, "weight_orig", None) if hasattr(mod, "weight_mask") else mod.weight
    if parametrize.is_parametrized(mod) or not isinstance(w, nn.Parameter):
        raise ValueError(f"layer {lay.name!r} has a reparametrised weight (weight norm, spectral norm, a "
                         f"parametrization); isometric_init sets plain weight parameters only")
    if not w.dtype.is_floating_point:
        raise ValueError(f"layer {lay.name!r} has a {w.dtype} weight; isometric_init needs a floating point "
                         f"dtype (float16, bfloat16, float32, float64)")


def _unprune(lay):
    """Remove the layer's pruning (a mask would break the isometry); the weight is a plain Parameter again."""
    from torch.nn.utils import prune

    for hook in list(lay.mod._forward_pre_hooks.values()):
        if isinstance(hook, prune.BasePruningMethod):
            prune.remove(lay.mod, hook._tensor_name)


def _write(lay):
    import torch

    w = lay.mod.weight
    if w.is_meta:
        return
    m = torch.from_numpy(np.ascontiguousarray(lay.matrix)).to(device=w.device, dtype=w.dtype)
    with torch.no_grad():
        if lay.conv:
            w.zero_()
            centre = tuple(k // 2 for k in lay.mod.kernel_size)
            w[(slice(None), slice(None)) + centre] = m
        else:
            w.copy_(m)
        if lay.mod.bias is not None:
            lay.mod.bias.zero_()


# ---------------------------------------------------------------------------------------------
# public
# ---------------------------------------------------------------------------------------------

def isometric_init(module, *, rng=None, strict=False) -> IsometricInit:
    """Initialise a torch module in place so that its input-output map is an isometry at initialization.

    Parameters
    ----------
    module : torch.nn.Module
        Its Linear / Conv1d / Conv2d / Conv3d layers are set (weights and biases); anything else
        (normalization, activations) is left as it is. The forward pass must be traceable by
        :func:`torch.fx.symbolic_trace` and call each weight layer at most once.
    rng : None, int or numpy.random.Generator
        Source of randomness (keyword-only); the same ``rng`` gives the same weights on every
        device and dtype.
    strict : bool
        Raise a ValueError, before any weight is changed, instead of returning a report with
        ``isometric=False`` (for instance for a residual branch with Tanh).

    Returns
    -------
    IsometricInit
        The scheme of every layer, the residual blocks, whether the whole map is exactly
        isometric, and why not (``print`` it for a table).

    Raises
    ------
    TypeError
        If ``module`` is not a torch.nn.Module.
    ValueError
        If the module cannot be traced (the message names the operation and gives the first
        line of the torch.fx error); it has an unsupported weight layer, a grouped convolution,
        a convolution with an even kernel or without 'same' padding, a weight layer called twice,
        a reparametrised or non-floating weight (each named); a ReLU pair or residual branch has an
        odd hidden width (the layer is named); with ``strict``, if the map would not be isometric.
    cascades.MemoryLimitError
        If the float64 matrices drawn in numpy do not fit in memory.

    Notes
    -----
    The schemes and the RISOTTO construction are described in the module docstring
    (:mod:`cascades.bridge.isometric`). The matrices are drawn in float64 numpy from ``rng`` and
    rounded to each layer's dtype on its device (``device=weight.device, dtype=weight.dtype``):
    the singular values of a 102-layer residual network (50 blocks of width 64) are 1 to within
    1e-14 in float64 and 3e-6 in float32. A module that is itself a single Linear / Conv layer
    is reported under the name "".

    Pruned layers (:mod:`torch.nn.utils.prune`) have their pruning removed first, since a mask
    would break the isometry.

    Meta device: when every weight is on the meta device there are no values to set; the
    structure is analysed and reported (``drawn=False``) and nothing is drawn. After
    ``module.to_empty(device=...)`` call :func:`isometric_init` again. Weights on the meta device
    in an otherwise materialised module are skipped.

    References
    ----------
    See the module docstring: Saxe et al. 2014; Shang et al. 2016; Balduzzi et al. 2017;
    Xiao et al. 2018; Burkholz & Dubatovka 2019; Gadhikar & Burkholz 2022 (arXiv:2210.02411).

    Examples
    --------
    >>> import torch
    >>> class Block(torch.nn.Module):
    ...     def __init__(self, d):
    ...         super().__init__()
    ...         self.fc1, self.fc2 = torch.nn.Linear(d, d), torch.nn.Linear(d, d)
    ...     def forward(self, x):
    ...         return x + self.fc2(torch.relu(self.fc1(x)))
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 8), Block(8), Block(8), torch.nn.Linear(8, 4))
    >>> report = isometric_init(net, rng=0)
    >>> report.isometric
    True
    >>> report.schemes["1.fc1"], report.schemes["3"]
    ('risotto', 'orthogonal')
    >>> J = torch.autograd.functional.jacobian(net, torch.randn(8))
    >>> bool(torch.allclose(torch.linalg.svdvals(J), torch.ones(4), atol=1e-5))
    True
    >>> nn = torch.nn
    >>> mlp = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh())
    >>> isometric_init(mlp, rng=0).reason.startswith("the activation '3' (Tanh)")
    True
    """
    import torch.nn as nn

    _check_module(module)
    layers = _weight_layers(module)
    if "" in layers:  # the module is a single layer: fx would trace into F.linear / F.conv
        layers = {"0": layers[""]}
        layers["0"].name = ""
        gm = _trace(nn.Sequential(module))
    else:
        gm = _trace(module)
    mods = dict(gm.named_modules())
    stages, unmatched = _structure(gm, layers, mods)
    notes = []
    for s in stages:
        if s.kind == "block" and s.activation != "relu":
            s.isometric = False
        for lay in s.all_layers():
            if lay.conv and any(x != 1 for x in lay.mod.stride) and s.kind == "block":
                s.isometric = False
    for lay in layers.values():
        _check_parameter(lay)
    path, reason = _walk(gm, stages, unmatched, mods, notes)
    reason = _verdict(path, reason)
    if strict and reason is not None:
        raise ValueError(f"isometric_init(strict=True): {type(module).__name__} is not isometric at "
                         f"initialization: {reason}")
    _relu_notes(stages, mods, notes)
    unused = [lay for lay in layers.values() if lay.node is None]
    for lay in unused:
        notes.append(f"layer {lay.name!r} is not called by forward: orthogonal weights")
    for lay in layers.values():
        _unprune(lay)
    drawn = not all(lay.mod.weight.is_meta for lay in layers.values())
    if drawn:
        guard(_peak_bytes(list(layers.values())), parameter=f"module {type(module).__name__}",
              what="the float64 weight matrices and random frames")
        gen = as_generator(rng)
        with _one_blas_thread():
            o = None
            for s in path:
                o = _FILL[s.kind](s, o, gen)
            for s in stages:
                if s not in path:
                    _FILL[s.kind](s, None, gen)
            for lay in unused:
                _fill_layer(_Stage("layer", [lay], None, None), None, gen)
        for lay in layers.values():
            _write(lay)
    else:
        for s in stages:  # names only
            _name_schemes(s)
        for lay in unused:
            lay.scheme = "delta-orthogonal" if lay.conv else "orthogonal"
    for s in stages:
        if s.kind == "block" and s.activation == "relu":
            s.rotated = min(s.layers[0].n_out // 2, s.n_in) // 2 * 2
            if s.rotated == 0:
                notes.append(f"the branch {s.layers[0].name!r} -> {s.layers[1].name!r} is zero at "
                             f"initialization (hidden width {s.layers[0].n_out} leaves no plane to rotate)")
    order = [lay for s in stages for lay in s.all_layers()] + unused
    out_layers = tuple(IsometricLayer(lay.name, lay.family, lay.n_in, lay.n_out, lay.scheme) for lay in order)
    blocks = tuple(IsometricBlock((s.layers[0].name, s.layers[1].name), s.skip.name if s.skip else None,
                                  s.activation, s.rotated, s.isometric) for s in stages if s.kind == "block")
    return IsometricInit(out_layers, blocks, reason is None, reason, tuple(notes), drawn)


def _name_schemes(s):
    """The scheme names of a stage's layers, without drawing (meta device)."""
    for lay in s.all_layers():
        if s.kind == "chain":
            lay.scheme = "looks-linear"
        elif s.kind == "block" and s.activation == "relu":
            lay.scheme = "risotto-skip" if lay is s.skip else "risotto"
        else:
            lay.scheme = "delta-orthogonal" if lay.conv else "orthogonal"
