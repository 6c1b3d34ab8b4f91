"""Mean-field signal propagation through a torch module's computation graph.

:func:`signal_graph` traces a ``torch.nn.Module`` with :mod:`torch.fx`, records every tensor's
shape with one forward pass on an example input, and carries the mean-field state of the tensors
through every node of the graph, in the order the forward pass computes them: weight layers
(Linear, Conv1d/2d/3d with groups, ConvTranspose1d/2d/3d, Embedding, MultiheadAttention),
activations, residual additions and concatenations, normalizations (BatchNorm, LayerNorm,
GroupNorm, InstanceNorm, RMSNorm), average pooling, dropout and shape operations. A node the
theory does not cover is an error naming it; max pooling (and any other op the user lists) can be
declared a pass-through with ``pass_through=``, and is then marked in the table.

The state of a tensor
---------------------
A tensor has a batch axis (axis 0), feature axes (units, channels, heads) and position axes
(sequence positions, pixels). Its mean-field state (:class:`SignalState`) is

* ``q = E[x^2]``, the second moment of one entry (uncentred; :mod:`cascades.nn`'s q),
* ``mean = E[x]``,
* three *uncentred* correlations ``E[x y] / q`` between two entries of the same feature:
  ``c`` at the same position of two inputs (the c of Poole et al. 2016), ``c_pos`` at two
  positions of one input, ``c_x`` at two positions of two inputs.

Two entries of different features have E[x y] = mean^2 (independent weights make different units
independent in the mean-field limit). The positions are treated as exchangeable: every pair of
positions has the same correlation. That is exact for inputs whose positions are exchangeable
(white-noise images, i.i.d. tokens) and for every map below; for real images the position
correlation carried here is the average over pairs (the nonlinear maps of the activations are then
applied to that average: the table says so in its notes).

The maps
--------
With s_w = fan_in E[W^2] (the weight variance times fan-in, read from the module's parameters, or
set by :func:`cascades.bridge.recommend`) and s_b = E[b^2]:

* Linear: K' = s_w K + s_b for each class (Poole et al. 2016, eq. 3 before the activation).
* Convolution (Xiao et al., ICML 2018, Sec. 2; zero padding counted exactly): with n_t the number of
  output positions where kernel tap t meets the input, P' the number of output positions and
  kvol the kernel volume, q' = s_w (sum_t n_t / (kvol P')) q + s_b, and the position classes get
  the factor sum_t n_t (n_t - 1) / (kvol P' (P' - 1)) (two outputs share a weight only through the
  same tap). Transposed convolutions use the same counts.
* Activations: q' = E[phi(u)^2], mean' = E[phi(u)], K' = E[phi(u1) phi(u2)] for a centred Gaussian
  pair with covariance [[q, K], [K, q]] (Poole et al. 2016, eqs. 3 and 5); the input must be
  Gaussian (the output of a weight layer, a sum of such, or a normalized one): an activation of
  an activation's output is an error.
* Residual additions a x + b y of tensors from independent weight layers: K' = a^2 K_x + b^2 K_y +
  2 a b mean_x mean_y (Yang & Schoenholz, NeurIPS 2017; the cross term of the branch vanishes
  because its last weights are fresh and centred). Adding two tensors that share their last weight
  layer (x + relu(x), ...) is an error.
* Concatenation along features: feature-count-weighted averages of q, mean and K.
* Normalizations centre over a group of entries and divide by its standard deviation; with r the
  mean second moment over the group (BatchNorm: batch x positions of one channel; LayerNorm: the
  normalized features of one position; GroupNorm: the channels of a group x positions of one input;
  InstanceNorm: the positions of one channel), K' = gamma^2 (K - r) / (q - r + eps) + beta^2 for
  every class, where BatchNorm's one centre makes r the same for all pairs, and the per-input norms
  use r_ab (the mean over the group of cross-input second moments) for pairs of two inputs.
  BatchNorm in training mode on B inputs of exchangeable correlation (no position axes, gamma = 1,
  beta = 0) maps every pair of inputs to c' = -1/(B - 1) (Yang et al., ICLR 2019, "A mean field
  theory of batch normalization", the finite-batch fixed point); in evaluation mode it is the
  affine map of its running statistics.
  RMSNorm divides by sqrt(q + eps) without centring (Zhang & Sennrich 2019).
* Dropout(p) in training mode: q' = q / (1 - p), other pairs unchanged (independent masks;
  Schoenholz et al., ICLR 2017, Sec. 5).
* Average pooling: the exact pooling matrix on the example's positions gives
  q' = mean_o [S2_o (q - K_pos) + S1_o^2 K_pos] and the analogous sums for the other classes.
* Self-attention: :func:`cascades.nn.attention_propagate` (softmax of Gaussian logits).

References
----------
B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein and S. Ganguli, "Exponential expressivity in deep
neural networks through transient chaos", NeurIPS 2016.
L. Xiao, Y. Bahri, J. Sohl-Dickstein, S. S. Schoenholz and J. Pennington, "Dynamical isometry and a
mean field theory of CNNs", ICML 2018.
G. Yang and S. S. Schoenholz, "Mean field residual networks: on the edge of chaos", NeurIPS 2017.
G. Yang, J. Pennington, V. Rao, J. Sohl-Dickstein and S. S. Schoenholz, "A mean field theory of
batch normalization", ICLR 2019.
L. Noci, S. Anagnostidis, L. Biggio, A. Orvieto, S. P. Singh and A. Lucchi, "Signal propagation in
transformers: theoretical perspectives and the role of rank collapse", NeurIPS 2022.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .._validation import check_real
from ..nn import expect_phi_phi, expect_phi_sq, gaussian_expectation, get_activation

__all__ = ["InputStats", "NodeSignal", "SignalGraph", "SignalState", "measure_signal_graph", "signal_graph"]

_GAUSS_TOL = 1e-9


# ---------------------------------------------------------------------------------------------
# the state
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputStats:
    """Statistics of the network's input entries (the state of the placeholder).

    Attributes
    ----------
    q : float
        E[x^2] of an input entry (default 1: standardized data).
    mean : float
        E[x] (default 0).
    c, c_pos, c_x : float
        Uncentred correlations E[x y] / q between the same entry of two inputs, two positions of one
        input and two positions of two inputs (default 0: white noise).
    """

    q: float = 1.0
    mean: float = 0.0
    c: float = 0.0
    c_pos: float = 0.0
    c_x: float = 0.0

    def __post_init__(self):
        q = check_real("q", self.q, low=0, low_open=True, high=1e100)
        check_real("mean", self.mean, low=-math.sqrt(q), high=math.sqrt(q))
        for name in ("c", "c_pos", "c_x"):
            check_real(name, getattr(self, name), low=-1, high=1)


@dataclass(frozen=True)
class SignalState:
    """Mean-field state of one tensor (see the module docstring).

    Attributes
    ----------
    q, mean, c, c_pos, c_x : float
        Second moment, mean and the uncentred correlations of the three classes of pairs
        (NaN for a class the tensor does not have: c_pos and c_x without positions).
    gaussian : bool
        True when the entries are Gaussian in the mean-field limit (an activation needs it).
    shape : tuple of int
        The tensor's shape on the example input.
    labels : tuple of str
        Per axis: "batch", "feature", "position", "mixed" (features and positions merged by a
        reshape) or "any" (an input axis, read by its first consumer).
    merged : int
        Positions merged into a "mixed" axis (1 when there is none).
    """

    q: float
    mean: float
    c: float
    c_pos: float
    c_x: float
    gaussian: bool
    shape: tuple
    labels: tuple
    merged: int = 1
    sources: frozenset = field(default=frozenset(), repr=False, compare=False)

    @property
    def positions(self) -> int:
        """The number of positions (product of the position axes; 1 without)."""
        return int(np.prod([s for s, lab in zip(self.shape, self.labels, strict=True) if lab == "position"]))

    def K(self):
        """(K_c, K_pos, K_x): the raw second moments of the three classes."""
        return self.q * self.c, self.q * self.c_pos, self.q * self.c_x


def _corr(K, q):
    if not math.isfinite(K) or q <= 0:
        return math.nan if not math.isfinite(K) else (1.0 if q <= 0 else K / q)
    return float(min(1.0, max(-1.0, K / q)))


def _state(q, mean, Kc, Kpos, Kx, *, like, gaussian=None, **changes):
    q = float(q)
    base = replace(
        like,
        q=q,
        mean=float(mean),
        c=_corr(Kc, q),
        c_pos=_corr(Kpos, q),
        c_x=_corr(Kx, q),
        **({} if gaussian is None else {"gaussian": gaussian}),
        **changes,
    )
    if base.positions <= 1 and "any" not in base.labels:
        base = replace(base, c_pos=math.nan, c_x=math.nan)
    return base


@dataclass(frozen=True)
class NodeSignal:
    """One row of a :class:`SignalGraph`: a node of the traced graph and its output state."""

    name: str
    op: str
    target: str
    state: SignalState | None
    note: str = ""


@dataclass(frozen=True)
class SignalGraph:
    """The mean-field state of every tensor of a module (returned by :func:`signal_graph`).

    Attributes
    ----------
    nodes : tuple of NodeSignal
        Every tensor-valued node in execution order (the input first, the output last).
    output : SignalState
        The state of the network output.
    pass_through : tuple of str
        The nodes the user declared pass-through (their statistics are copied, not predicted).
    notes : tuple of str
        Assumptions the prediction rests on (exchangeable positions, ...).
    """

    nodes: tuple
    output: SignalState
    pass_through: tuple = ()
    notes: tuple = ()

    def __getitem__(self, name) -> NodeSignal:
        for n in self.nodes:
            if n.name == name or n.target == name:
                return n
        raise KeyError(f"no node {name!r}; nodes: {', '.join(n.name for n in self.nodes)}")

    def table(self) -> list:
        """Rows (name, op, shape, q, mean, c, c_pos, c_x, note) for printing or a DataFrame."""
        rows = []
        for n in self.nodes:
            s = n.state
            if s is None:
                rows.append((n.name, n.op, "", math.nan, math.nan, math.nan, math.nan, math.nan, n.note))
            else:
                rows.append(
                    (n.name, n.op, "x".join(map(str, s.shape)), s.q, s.mean, s.c, s.c_pos, s.c_x, n.note)
                )
        return rows

    def __str__(self) -> str:
        head = ("node", "op", "shape", "q", "mean", "c", "c_pos", "c_x", "note")
        body = [
            (a, b, c, *(("-" if not math.isfinite(v) else f"{v:.4g}") for v in (q, m, c1, c2, c3)), note)
            for a, b, c, q, m, c1, c2, c3, note in self.table()
        ]
        widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(len(head))]
        lines = [
            "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [head, *body]
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# tracing
# ---------------------------------------------------------------------------------------------


class _Unsupported(ValueError):
    pass


@dataclass(frozen=True)
class _Index:
    """A constant integer tensor (``torch.arange``, an index buffer): the positions an Embedding looks up."""

    values: object  # a 1-D int64 numpy array: the indices of one input
    shape: tuple
    batched: bool = False  # expanded over the batch axis


def _where(node, root):
    from .trace import _describe

    return f"node {node.name!r} ({_describe(node, root)})"


def _trace_with_shapes(module, example, leaves=()):
    """fx GraphModule of ``module`` with ``tensor_meta`` on every tensor node (one forward pass)."""
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    class _Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m, qualname):
            return _is_leaf(m) or qualname in leaves or type(m).__name__ in leaves

        def call_module(self, m, forward, args, kwargs):
            explicit = _explicit_forward(m)
            if explicit is not None:  # trace the plain computation of a torch.nn transformer module
                return explicit(m, *args, **kwargs)
            return super().call_module(m, forward, args, kwargs)

    if _is_leaf(module):  # a bare layer: trace it as the only layer "0" of a Sequential
        module = torch.nn.Sequential(module)
    explicit = _explicit_forward(module)
    cls = type(module)
    try:
        if explicit is not None:  # the root itself: trace its plain computation (class swapped for the trace)
            module.__class__ = type(cls.__name__, (cls,), {"forward": lambda self, src: explicit(self, src)})
        try:
            graph = _Tracer().trace(module)
        finally:
            module.__class__ = cls
        gm = torch.fx.GraphModule(module, graph, class_name=cls.__name__)
    except _Unsupported as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - report the op torch.fx stopped at
        from .trace import _user_frame

        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ValueError(
            f"module {type(module).__name__} cannot be traced by torch.fx{_user_frame(exc)} "
            f"({type(exc).__name__}: {reason}); the graph propagation needs a traceable forward (no "
            "data-dependent control flow): move the untraceable part into a submodule listed in pass_through "
            "(its input statistics are then copied), or give recommend the layer shapes"
        ) from None
    modes = {m: m.training for m in gm.modules()}
    try:
        gm.eval()
        with torch.no_grad():
            ShapeProp(gm).propagate(*example)
    except Exception as exc:  # noqa: BLE001
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ValueError(
            f"the example input of shape {[tuple(e.shape) for e in example]} does not run "
            f"through {type(module).__name__} ({type(exc).__name__}: {reason}); give "
            f"input_shape / example_input the module accepts"
        ) from None
    finally:
        for m, t in modes.items():
            m.train(t)
    return gm


def _example(module, example_input, input_shape, input_dtype):
    import torch

    if (example_input is None) == (input_shape is None):
        raise ValueError(
            "give exactly one of example_input (a tensor or a tuple of tensors) and input_shape "
            "(a tuple of ints, batch first)"
        )
    if example_input is not None:
        ex = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
        if not all(isinstance(e, torch.Tensor) for e in ex):
            raise TypeError("example_input must be a torch.Tensor or a tuple of tensors")
        return tuple(ex)
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape must be a tuple of positive ints, got {input_shape!r}") from None
    if len(shape) < 2 or any(s < 1 for s in shape):
        raise ValueError(
            f"input_shape must have a batch axis and at least one more, all sizes >= 1; got {shape}"
        )
    if int(np.prod(shape)) > 1 << 26:
        raise ValueError(
            f"input_shape {shape} has {int(np.prod(shape))} entries; the shapes are the same on a "
            f"smaller example (at most 2**26 entries)"
        )
    p = next(iter(module.parameters()), None)
    device = p.device if p is not None else torch.device("cpu")
    if input_dtype is None:
        has_embedding = any(isinstance(m, torch.nn.Embedding) for m in module.modules())
        input_dtype = torch.long if has_embedding else (p.dtype if p is not None else torch.float32)
    return (torch.zeros(shape, dtype=input_dtype, device=device),)


# ---------------------------------------------------------------------------------------------
# classification of nodes
# ---------------------------------------------------------------------------------------------

_SHAPE_FUNCS = frozenset(
    (
        "flatten",
        "unflatten",
        "view",
        "reshape",
        "squeeze",
        "unsqueeze",
        "transpose",
        "permute",
        "t",
        "contiguous",
        "clone",
        "detach",
        "view_as",
        "reshape_as",
        "to",
        "type",
        "float",
        "double",
        "half",
        "bfloat16",
        "identity",
        "movedim",
        "swapaxes",
        "swapdims",
    )
)
_DROPOUT_FUNCS = frozenset(
    ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout")
)
_AVGPOOL_FUNCS = frozenset(
    (
        "avg_pool1d",
        "avg_pool2d",
        "avg_pool3d",
        "adaptive_avg_pool1d",
        "adaptive_avg_pool2d",
        "adaptive_avg_pool3d",
    )
)
_MAXPOOL = (
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
)


def _tensor_meta(node):
    tm = node.meta.get("tensor_meta")
    if tm is None or not hasattr(tm, "shape"):
        return None
    return tm


def _args_nodes(node):
    from .trace import _flat_nodes

    return _flat_nodes((node.args, node.kwargs))


# ---------------------------------------------------------------------------------------------
# the maps
# ---------------------------------------------------------------------------------------------


def _activation_map(act, s: SignalState, where) -> SignalState:
    if not s.gaussian:
        raise _Unsupported(
            f"{where} applies an activation to a non-Gaussian tensor (the output of an activation, "
            f"dropout or a pass-through): the mean-field covariance map needs Gaussian "
            f"pre-activations; put a weight layer or a normalization in front of it"
        )
    if abs(s.mean) > 1e-9 * math.sqrt(s.q):
        raise _Unsupported(
            f"{where} applies an activation to a tensor of mean {s.mean:.3g} (a normalization's "
            f"shift or a sum with a non-centred tensor); the covariance map covers centred "
            f"pre-activations only"
        )
    a = get_activation(act)
    q = s.q
    q2 = float(np.asarray(expect_phi_sq(a, q)))
    mean = float(np.asarray(gaussian_expectation(a.phi, q, kinks=a.kinks)))
    Ks = []
    for K in s.K():
        Ks.append(math.nan if not math.isfinite(K) else float(np.asarray(expect_phi_phi(a, q, q, K))))
    return _state(q2, mean, *Ks, like=s, gaussian=False)


def _affine_map(
    s: SignalState,
    sw,
    sb,
    mean_b=0.0,
    *,
    factor_q=1.0,
    factor_pos=1.0,
    sources=None,
    labels=None,
    shape=None,
    merged=None,
) -> SignalState:
    """K' = s_w f K + s_b with the tap factors f (1 for dense maps); mean' = mean of the bias."""
    Kc, Kp, Kx = s.K()
    changes = {}
    if sources is not None:
        changes["sources"] = sources
    if labels is not None:
        changes["labels"] = labels
    if shape is not None:
        changes["shape"] = shape
    if merged is not None:
        changes["merged"] = merged
    return _state(
        sw * factor_q * s.q + sb,
        mean_b,
        sw * factor_q * Kc + sb,
        sw * factor_pos * Kp + sb,
        sw * factor_pos * Kx + sb,
        like=s,
        gaussian=True,
        **changes,
    )


def _linear_stats(weight, bias):
    """(s_w, s_b, mean_b) of a weight (out, ...) and bias: mean row norm^2 and mean bias^2."""
    w = weight.detach()
    if w.is_meta:
        raise _Unsupported(
            "the module's parameters are on the meta device: the prediction needs their values; "
            "use recommend, which sets them"
        )
    w = w.double().reshape(w.shape[0], -1)
    sw = float((w * w).sum(1).mean())
    if bias is None:
        return sw, 0.0, 0.0
    b = bias.detach().double()
    return sw, float((b * b).mean()), 0.0  # biases: centred random values of second moment s_b


def _tap_counts(in_sizes, out_sizes, kernel, stride, padding, dilation, transposed):
    """n_t for every tap t (product over spatial dims): outputs where tap t meets an input entry."""
    per_dim = []
    for L, Lo, k, s, p, d in zip(in_sizes, out_sizes, kernel, stride, padding, dilation, strict=True):
        n = np.zeros(k, dtype=np.int64)
        for t in range(k):
            if transposed:  # input i reaches output i s - p + t d
                o = np.arange(L) * s - p + t * d
                n[t] = int(np.count_nonzero((o >= 0) & (o < Lo)))
            else:  # output o reads input o s - p + t d
                i = np.arange(Lo) * s - p + t * d
                n[t] = int(np.count_nonzero((i >= 0) & (i < L)))
        per_dim.append(n)
    n = per_dim[0]
    for m in per_dim[1:]:
        n = np.multiply.outer(n, m)
    return n.ravel().astype(float)


def _pair_mean(vals_sum, vals_sq_sum, P):
    """Mean over ordered pairs o != o' of a_o a_o' from sum a and sum a^2."""
    return (vals_sum**2 - vals_sq_sum) / (P * (P - 1)) if P > 1 else math.nan


# ---------------------------------------------------------------------------------------------
# the walk
# ---------------------------------------------------------------------------------------------


class _Walker:
    def __init__(self, gm, module, inputs, pass_through, variances, training):
        self.gm = gm
        self.root = module
        self.inputs = inputs
        self.pass_through = set(pass_through)
        self.used_pass = []
        self.variances = variances or {}
        self.training = training
        self.env = {}
        self.rows = []
        self.notes = []
        self.input_labels = None

    # --- helpers
    def where(self, node):
        return _where(node, self.root)

    def st(self, node):
        s = self.env.get(node)
        if s is None:
            raise _Unsupported(f"{self.where(node)} is not a tensor the propagation knows")
        return s

    def shape(self, node):
        tm = _tensor_meta(node)
        return tuple(int(v) for v in tm.shape) if tm is not None else None

    # --- parameters (read from the module, or given by ``variances``; the recommender overrides these)
    def layer_variances(self, node, mod):
        """(s_w, s_b, mean_b) of a Linear / Conv / ConvTranspose layer."""
        import torch.nn as nn

        if node.target in self.variances:
            return tuple(self.variances[node.target])
        if isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
            # weight (in, out / groups, k...): an output channel reads in / groups channels x the taps
            wt = mod.weight.detach()
            if wt.is_meta:
                raise _Unsupported(
                    "the module's parameters are on the meta device: the prediction needs their "
                    "values; use recommend, which sets them"
                )
            g = mod.groups
            per_out = wt.double().reshape(g, wt.shape[0] // g, wt.shape[1], -1)
            sw = float((per_out * per_out).sum(dim=(1, 3)).mean())
            b = mod.bias
            return sw, 0.0 if b is None else float((b.detach().double() ** 2).mean()), 0.0
        return _linear_stats(mod.weight, getattr(mod, "bias", None))

    def embedding_q(self, node, mod):
        if node.target in self.variances:
            return float(self.variances[node.target][0])
        wt = mod.weight.detach()
        if wt.is_meta:
            raise _Unsupported("the module's parameters are on the meta device")
        return float((wt.double() ** 2).mean())

    def attention_variances(self, node, mod, s, T):
        """(s_q, s_k, s_v, s_o, s_b) of a MultiheadAttention module."""
        if node.target in self.variances:
            return tuple(self.variances[node.target])
        d = mod.embed_dim
        W = mod.in_proj_weight.detach()
        if W.is_meta:
            raise _Unsupported("the module's parameters are on the meta device")
        W = W.double()
        rows = (W * W).sum(1)
        sq, sk, sv = (float(rows[i * d : (i + 1) * d].mean()) for i in range(3))
        Wo = mod.out_proj.weight.detach().double()
        so = float((Wo * Wo).sum(1).mean())
        for b in (mod.in_proj_bias, mod.out_proj.bias):
            if b is not None and float(b.detach().abs().max()) > 0:
                raise _Unsupported(
                    f"{self.where(node)} has nonzero attention biases; the propagation covers "
                    f"zero biases (PyTorch's initialization)"
                )
        return sq, sk, sv, so, 0.0

    def norm_affine(self, node, mod):
        """(mean gamma^2, mean beta^2, mean beta) of a normalization's affine parameters."""
        if node.target in self.variances:
            return tuple(self.variances[node.target])
        return _affine_params(mod, None)

    def resolve(self, s: SignalState, feature_axes, where):
        """Labels with the given axes as features and the other non-batch axes as positions."""
        nd = len(s.shape)
        feats = {a % nd for a in feature_axes}
        labels = list(s.labels)
        for a in range(1, nd):
            lab = labels[a]
            want = "feature" if a in feats else "position"
            if lab == "any" or lab == want or (lab == "mixed" and want == "feature") or s.shape[a] == 1:
                labels[a] = want if lab != "mixed" else "mixed"
            else:
                raise _Unsupported(
                    f"{where} treats axis {a} (size {s.shape[a]}, a {lab} axis) as a {want} axis: "
                    f"a weight layer or norm across positions is not covered; transpose the tensor "
                    f"so that features are where the layer reads them"
                )
        if "any" in s.labels and s.sources == frozenset({"input"}) and self.input_labels is None:
            self.input_labels = tuple(labels)  # how the first consumer reads the input's axes
        return replace(s, labels=tuple(labels))

    def out_labels(self, s, shape, feature_axes):
        nd = len(shape)
        feats = {a % nd for a in feature_axes}
        return tuple("batch" if a == 0 else ("feature" if a in feats else "position") for a in range(nd))

    # --- main
    def run(self):
        placeholders = [n for n in self.gm.graph.nodes if n.op == "placeholder"]
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                self.placeholder(node, placeholders)
            elif node.op == "output":
                out = _args_nodes(node)
                tensors = [n for n in out if n in self.env]
                if not tensors:
                    raise _Unsupported("the network output is not a tensor the propagation reached")
                self.output = self.env[tensors[0]]
                if self.input_labels is not None and self.rows and self.rows[0].op == "input":
                    first = self.rows[0]
                    st = replace(first.state, labels=self.input_labels)
                    self.rows[0] = replace(first, state=_state(st.q, st.mean, *st.K(), like=st))
            elif node.op == "get_attr":
                self.env[node] = self.index_constant(node)
            else:
                if _tensor_meta(node) is None and node.op != "call_module":
                    continue  # shapes, sizes, tuples of tensors handled by getitem
                self.visit(node)
        return self.output

    def record(self, node, s, op, note=""):
        self.env[node] = s
        self.rows.append(NodeSignal(_row_name(node), op, _target_name(node), s, note))

    def placeholder(self, node, placeholders):
        if node is not placeholders[0]:
            if node.args:  # an argument with a default value: leave it to the default
                self.env[node] = None
                return
            raise _Unsupported(
                f"forward takes more than one tensor input ({', '.join(p.name for p in placeholders)}); "
                f"the propagation covers modules with one input"
            )
        shape = self.shape(node)
        self.batch = shape[0]
        tm = _tensor_meta(node)
        integer = tm is not None and not tm.dtype.is_floating_point
        i = self.inputs
        labels = ("batch",) + ("any",) * (len(shape) - 1)
        s = SignalState(
            q=i.q,
            mean=i.mean,
            c=i.c,
            c_pos=i.c_pos,
            c_x=i.c_x,
            gaussian=False,
            shape=shape,
            labels=labels,
            sources=frozenset({"input"}),
        )
        if integer:
            s = replace(s, q=math.nan, mean=math.nan, c=math.nan, c_pos=math.nan, c_x=math.nan)
        self.record(node, s, "input", "token ids" if integer else "")

    def visit(self, node):
        if node.op == "call_module":
            mod = self.root.get_submodule(node.target)
            if node.target in self.pass_through or type(mod).__name__ in self.pass_through:
                return self.passthrough(node, f"{type(mod).__name__}")
            handler = _MODULE_HANDLERS.get(type(mod))
            if handler is None:
                for base, h in _MODULE_HANDLERS.items():
                    if isinstance(mod, base):
                        handler = h
                        break
            if handler is None:
                from .trace import _module_kind

                kind, name = _module_kind(mod, self.where(node))
                if kind == "activation":
                    return self.activation(node, name)
                if kind == "softmax":
                    return self.softmax(node)
                if type(mod).__name__ in _MAXPOOL:
                    raise _Unsupported(
                        f"{self.where(node)} is max pooling, whose output statistics depend on "
                        f"the joint law of the pooled entries, which the mean-field state does not "
                        f"carry; use average pooling, or pass_through=({node.target!r},) to copy "
                        f"its input statistics (an approximation you opt into)"
                    )
                raise _Unsupported(
                    f"{self.where(node)}: {type(mod).__name__} is not covered by the graph "
                    f"propagation; covered: {_COVERED}; or list it in pass_through"
                )
            return handler(self, node, mod)
        name, _, torch_ns = _func_name(node)
        if name in self.pass_through:
            return self.passthrough(node, name)
        if not torch_ns:
            raise _Unsupported(
                f"{self.where(node)} is a call to a function outside torch; covered: {_COVERED}"
            )
        h = _FUNC_HANDLERS.get(name)
        if h is not None:
            return h(self, node, name)
        from .trace import _KNOWN_FUNCS, _SOFTMAX_FUNCS, _function_activation

        if name in _KNOWN_FUNCS:
            return self.activation(node, _function_activation(node, name, self.where(node)))
        if name in _SOFTMAX_FUNCS:
            return self.softmax(node)
        if name in _MAXPOOL:
            raise _Unsupported(
                f"{self.where(node)} is max pooling, not covered (see MaxPool); use average "
                f"pooling or pass_through=({name!r},)"
            )
        raise _Unsupported(
            f"{self.where(node)} is not covered by the graph propagation; covered: {_COVERED}; "
            f"or list it in pass_through (its input statistics are then copied)"
        )

    def passthrough(self, node, what):
        ins = [n for n in _args_nodes(node) if self.env.get(n) is not None]
        if len(ins) != 1:
            raise _Unsupported(
                f"{self.where(node)} is declared pass-through but takes {len(ins)} tensors; a "
                f"pass-through needs exactly one"
            )
        s = self.env[ins[0]]
        shape = self.shape(node)
        if shape is not None and shape != s.shape:
            if math.prod(shape) == math.prod(s.shape) or shape[0] != s.shape[0]:
                s = self.relabel(s, shape, node)
            else:  # pooling-like: keep labels, new shape
                s = replace(s, shape=shape)
        s = replace(s, gaussian=False)
        self.used_pass.append(node.name)
        self.record(node, s, f"pass-through {what}", "statistics copied (pass_through)")

    # --- activations and softmax
    def activation(self, node, name):
        ins = [n for n in _args_nodes(node) if self.env.get(n) is not None]
        s = self.st(ins[0])
        self.record(node, _activation_map(name, s, self.where(node)), f"activation {name}")

    def softmax(self, node):
        users = list(node.users)
        if not (len(users) == 1 and users[0].op == "output"):
            raise _Unsupported(
                f"{self.where(node)}: a softmax inside the network (outside attention) is not "
                f"covered; a terminal softmax / log-softmax is"
            )
        self.record(node, None, "softmax (output)", "probabilities: not a mean-field quantity")
        ins = [n for n in _args_nodes(node) if self.env.get(n) is not None]
        self.env[node] = self.st(ins[0])  # the output row shows the logits' state

    # --- shapes
    def relabel(self, s, shape, node):
        labels, merged = _reshape_labels(s.shape, s.labels, shape, s.merged, self.where(node))
        return replace(s, shape=shape, labels=labels, merged=merged)

    def shape_op(self, node, name):
        ins = [n for n in _args_nodes(node) if self.env.get(n) is not None]
        if len(ins) != 1:
            raise _Unsupported(f"{self.where(node)} takes {len(ins)} tensors")
        s = self.env[ins[0]]
        shape = self.shape(node)
        if isinstance(s, _Index):  # positions reshaped or expanded over the batch: the same indices
            batched = (
                s.batched or (len(shape) > len(s.shape) or s.shape[0] == 1) and shape[0] == self.batch > 1
            )
            self.env[node] = _Index(s.values, shape, batched and shape[0] == self.batch)
            return
        if name in ("transpose", "permute", "t", "movedim", "swapaxes", "swapdims"):
            perm = _permutation(node, name, len(s.shape))
            if perm[0] != 0:
                raise _Unsupported(f"{self.where(node)} moves the batch axis; not covered")
            s = replace(s, shape=shape, labels=tuple(s.labels[p] for p in perm))
        elif shape != s.shape:
            s = self.relabel(s, shape, node)
        self.record(node, s, name)

    def getitem(self, node, name):
        src = node.args[0]
        idx = node.args[1]
        if self.env.get(src) is None and src in self.env:
            raise _Unsupported(f"{self.where(node)} indexes a value the propagation does not carry")
        if isinstance(self.env.get(src), tuple):  # (attn_output, weights) of MultiheadAttention
            value = self.env[src][idx]
            if value is None:
                raise _Unsupported(f"{self.where(node)} uses the attention weights, which are not covered")
            self.record(node, value, "getitem")
            return
        s = self.st(src)
        shape = self.shape(node)
        idx = idx if isinstance(idx, tuple) else (idx,)
        labels = []
        axis = 0
        for it in idx:
            if it is Ellipsis:
                raise _Unsupported(f"{self.where(node)}: indexing with ... is not covered")
            if isinstance(it, slice):
                if it != slice(None) and s.labels[axis] not in ("position", "any"):
                    raise _Unsupported(f"{self.where(node)} slices a {s.labels[axis]} axis; not covered")
                labels.append(s.labels[axis] if s.labels[axis] != "any" else "position")
                axis += 1
            elif isinstance(it, int):
                if s.labels[axis] not in ("position", "any") or axis == 0:
                    raise _Unsupported(
                        f"{self.where(node)} picks one entry of a {s.labels[axis]} axis; only "
                        f"position axes can be indexed (e.g. the first token)"
                    )
                axis += 1
            elif it is None:
                labels.append("feature")
            else:
                raise _Unsupported(f"{self.where(node)}: indexing with {type(it).__name__} is not covered")
        labels += list(s.labels[axis:])
        if len(labels) != len(shape):
            raise _Unsupported(f"{self.where(node)}: indexing not understood")
        out = _state(s.q, s.mean, *s.K(), like=s, shape=shape, labels=tuple(labels))
        self.record(node, out, "getitem")

    def index_constant(self, node):
        """An integer buffer or constant as an :class:`_Index`, else None (parameters are read where used)."""
        t = self.root
        try:
            for part in str(node.target).split("."):
                t = getattr(t, part)
        except AttributeError:
            return None
        if hasattr(t, "dtype") and not t.dtype.is_floating_point and not t.is_meta and t.dim() >= 1:
            return _Index(t.detach().cpu().numpy().reshape(-1).astype(np.int64), tuple(t.shape))
        return None

    def embedding_table(self, node, mod, idx: _Index):
        """(q, K_pos) of the rows ``idx`` of an Embedding's table: a positional embedding."""
        wt = mod.weight.detach()
        if wt.is_meta:
            raise _Unsupported("the module's parameters are on the meta device")
        rows = wt.double()[torch_index(idx.values)]
        q = float((rows * rows).mean())
        T = rows.shape[0]
        S = rows.sum(0)
        Kpos = (
            float(((S * S).sum() - (rows * rows).sum()) / (T * (T - 1) * rows.shape[1]))
            if T > 1
            else math.nan
        )
        return q, Kpos

    def parameter_state(self, attr, like: SignalState, node) -> SignalState:
        """State of a parameter added to a tensor (a learned positional table or a bias), from its values.

        A parameter of shape (T, d) (or (1, T, d)) adds the same value to every input at a position:
        q_p = E[P^2], two inputs at one position share it (K = q_p), two positions have the mean
        inner product of distinct rows; a (d,) parameter is the same at every position.
        """
        t = self.root
        for part in str(attr.target).split("."):
            t = getattr(t, part)
        if not hasattr(t, "detach") or t.is_meta:
            raise _Unsupported(
                f"{self.where(node)} adds {attr.target!r}, which is not a parameter with values"
            )
        P = t.detach().double()
        while P.dim() > 1 and P.shape[0] == 1:
            P = P[0]
        if P.dim() == 0 or P.shape[-1] != like.shape[-1] or P.dim() > 2:
            raise _Unsupported(
                f"{self.where(node)} adds the parameter {attr.target!r} of shape {tuple(t.shape)}; "
                f"covered: a (d,) bias or a (T, d) positional table over the last axis"
            )
        qp = float((P * P).mean())
        if P.dim() == 1:
            Kpos = qp
        else:
            T = P.shape[0]
            S = P.sum(0)
            Kpos = float(((S * S).sum() - (P * P).sum()) / (T * (T - 1) * P.shape[1])) if T > 1 else math.nan
        return _state(
            qp,
            float(P.mean()),
            qp,
            Kpos,
            Kpos,
            like=like,
            gaussian=True,
            sources=frozenset({str(attr.target)}),
        )

    # --- arithmetic
    def arith(self, node, name):
        a, b = (node.args + (None, None))[:2]
        alpha = node.kwargs.get("alpha", 1)
        if name in ("mul", "truediv", "div"):
            t, k = (a, b) if self.env.get(a) is not None else (b, a)
            if not isinstance(k, (int, float)) or self.env.get(t) is None:
                raise _Unsupported(
                    f"{self.where(node)} multiplies two tensors (gating, attention written by hand, "
                    f"...); not covered: only scaling by a constant is"
                )
            f = float(k) if name == "mul" else 1.0 / float(k)
            s = self.st(t)
            out = _state(f * f * s.q, f * s.mean, *(f * f * K for K in s.K()), like=s)
            self.record(node, out, f"scale {f:g}")
            return
        sign = -1.0 if name == "sub" else 1.0
        terms = []
        for arg, coef in ((a, 1.0), (b, sign * float(alpha))):
            if isinstance(arg, (int, float)):
                terms.append(("const", float(arg) * coef))
            elif self.env.get(arg) is not None:
                terms.append((arg, coef))
            elif getattr(arg, "op", None) == "get_attr":
                other = next(x for x in (a, b) if x is not arg)
                self.env[arg] = self.parameter_state(arg, self.st(other), node)
                terms.append((arg, coef))
            else:
                raise _Unsupported(f"{self.where(node)} adds a value the propagation does not carry")
        tens = [(n, c) for n, c in terms if n != "const"]
        const = sum(c for n, c in terms if n == "const")
        if len(tens) == 1:
            ((n, c),) = tens
            s = self.st(n)
            K = [c * c * k + 2 * c * const * s.mean + const * const for k in s.K()]
            out = _state(
                c * c * s.q + 2 * c * const * s.mean + const * const,
                c * s.mean + const,
                *K,
                like=s,
                gaussian=s.gaussian and const == 0,
            )
            self.record(node, out, f"{name} constant")
            return
        (n1, a1), (n2, a2) = tens
        s1, s2 = self.st(n1), self.st(n2)
        if n1 is n2:
            f = a1 + a2
            out = _state(f * f * s1.q, f * s1.mean, *(f * f * k for k in s1.K()), like=s1)
            self.record(node, out, f"{name} (same tensor)")
            return
        if s1.sources & s2.sources:
            raise _Unsupported(
                f"{self.where(node)} adds two tensors that share their last weight layer "
                f"({', '.join(sorted(s1.sources & s2.sources))}), so their covariance is not "
                f"zero; the graph propagation covers sums of independent branches (a residual "
                f"stream plus a branch ending in its own weight layer)"
            )
        if s1.shape != s2.shape and ("constant" in s1.sources) != ("constant" in s2.sources):
            stream, const = (s1, s2) if "constant" in s2.sources else (s2, s1)
            tail = stream.shape[len(stream.shape) - len(const.shape) :]
            if len(const.shape) > len(stream.shape) or any(
                c not in (1, t) for c, t in zip(const.shape, tail, strict=True)
            ):
                raise _Unsupported(
                    f"{self.where(node)} adds a table of shape {const.shape} to a tensor of shape "
                    f"{stream.shape}: not covered"
                )
            const = replace(const, shape=stream.shape, labels=stream.labels)
            s1, s2 = (stream, const) if s1 is stream else (const, stream)
        if s1.shape != s2.shape:
            raise _Unsupported(
                f"{self.where(node)} adds tensors of shapes {s1.shape} and {s2.shape} "
                f"(broadcasting): not covered"
            )
        cross = 2 * a1 * a2 * s1.mean * s2.mean
        K = [a1 * a1 * k1 + a2 * a2 * k2 + cross for k1, k2 in zip(s1.K(), s2.K(), strict=True)]
        labels = tuple(x if x != "any" else y for x, y in zip(s1.labels, s2.labels, strict=True))
        out = _state(
            a1 * a1 * s1.q + a2 * a2 * s2.q + cross,
            a1 * s1.mean + a2 * s2.mean,
            *K,
            like=s1,
            gaussian=s1.gaussian and s2.gaussian,
            sources=s1.sources | s2.sources,
            labels=labels,
        )
        self.record(node, out, "residual add" if sign > 0 else "subtract")

    def cat(self, node, name):
        parts = node.args[0]
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        states = [self.st(p) for p in parts]
        nd = len(states[0].shape)
        dim = dim % nd
        labs = {s.labels[dim] for s in states}
        if dim == 0 or not labs <= {"feature", "any", "mixed"}:
            raise _Unsupported(
                f"{self.where(node)} concatenates along a {'/'.join(sorted(labs))} axis; only "
                f"concatenation of features is covered"
            )
        w = np.array([s.shape[dim] for s in states], dtype=float)
        w /= w.sum()

        def avg(vals):
            return float(np.dot(w, vals))

        q = avg([s.q for s in states])
        m = avg([s.mean for s in states])
        Ks = [avg([s.K()[i] for s in states]) for i in range(3)]
        same = all(abs(s.q - q) <= 1e-12 * q and abs(s.mean - m) <= 1e-12 * math.sqrt(q) for s in states)
        labels = list(states[0].labels)
        labels[dim] = "feature" if labs <= {"feature", "any"} else "mixed"
        out = _state(
            q,
            m,
            *Ks,
            like=states[0],
            shape=self.shape(node),
            labels=tuple(labels),
            gaussian=all(s.gaussian for s in states) and same,
            sources=frozenset().union(*(s.sources for s in states)),
        )
        self.record(node, out, "concatenate", "" if same else "parts differ: mixture, not Gaussian")

    def mean_op(self, node, name):
        s = self.st(node.args[0])
        dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        if dims is None:
            raise _Unsupported(f"{self.where(node)} averages over every axis; not covered")
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        nd = len(s.shape)
        dims = {d % nd for d in dims}
        if any(s.labels[d] not in ("position", "any") for d in dims):
            raise _Unsupported(
                f"{self.where(node)} averages over a non-position axis; covered: the mean over "
                f"position axes (global average pooling)"
            )
        P = int(np.prod([s.shape[d] for d in dims]))
        Kc, Kp, Kx = s.K()
        Kp = Kp if math.isfinite(Kp) else 0.0
        Kx = Kx if math.isfinite(Kx) else 0.0
        q = (s.q + (P - 1) * Kp) / P
        Kc2 = (Kc + (P - 1) * Kx) / P
        keep = [a for a in range(nd) if a not in dims] if not node.kwargs.get("keepdim") else list(range(nd))
        labels = tuple(s.labels[a] if a not in dims else "position" for a in keep)
        shape = self.shape(node)
        rest = int(np.prod([s.shape[a] for a in range(nd) if s.labels[a] == "position" and a not in dims]))
        out = _state(
            q,
            s.mean,
            Kc2,
            Kp if rest > 1 else math.nan,
            Kx if rest > 1 else math.nan,
            like=s,
            shape=shape,
            labels=labels,
            gaussian=s.gaussian,
        )
        self.record(node, out, f"mean over {P} positions")

    def dropout(self, node, p, active):
        ins = [n for n in _args_nodes(node) if self.env.get(n) is not None]
        s = self.st(ins[0])
        if not active or p == 0:
            self.record(node, s, "dropout (inactive)")
            return
        out = replace(
            s, q=s.q / (1 - p), c=s.c * (1 - p), c_pos=s.c_pos * (1 - p), c_x=s.c_x * (1 - p), gaussian=False
        )
        self.record(node, out, f"dropout p={p:g}")


def _row_name(node) -> str:
    """A module's path for module calls, the fx node name otherwise."""
    return str(node.target) if node.op == "call_module" else node.name


def _target_name(node) -> str:
    t = node.target
    return t if isinstance(t, str) else str(getattr(t, "__name__", t))


def _func_name(node):
    from .trace import _func_name as f

    return f(node)


def _permutation(node, name, nd):
    args = [a for a in node.args[1:]]
    if name == "permute":
        dims = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
        return [d % nd for d in dims]
    if name == "t":
        return [1, 0]
    if name == "movedim":
        src, dst = args[0] % nd, args[1] % nd
        order = [a for a in range(nd) if a != src]
        order.insert(dst, src)
        return order
    a, b = (
        (args[0] % nd, args[1] % nd)
        if len(args) >= 2
        else (node.kwargs["dim0"] % nd, node.kwargs["dim1"] % nd)
    )
    perm = list(range(nd))
    perm[a], perm[b] = perm[b], perm[a]
    return perm


def _reshape_labels(old, labels, new, merged, where):
    """Labels of ``new`` from those of ``old`` by grouping axes of equal products (batch must stay)."""
    if old[0] != new[0]:
        raise _Unsupported(f"{where} reshapes the batch axis ({old} -> {new}); not covered")
    out = ["batch"]
    i, j = 1, 1
    merged_out = 1
    while i < len(old) or j < len(new):
        gi, gj = [i], [j]
        pi = old[i] if i < len(old) else 1
        pj = new[j] if j < len(new) else 1
        i, j = i + 1, j + 1
        while pi != pj:
            if pi < pj:
                if i >= len(old):
                    raise _Unsupported(f"{where}: reshape {old} -> {new} not understood")
                pi *= old[i]
                gi.append(i)
                i += 1
            else:
                if j >= len(new):
                    raise _Unsupported(f"{where}: reshape {old} -> {new} not understood")
                pj *= new[j]
                gj.append(j)
                j += 1
        labs = {labels[a] for a in gi if a < len(old) and old[a] > 1}
        if not labs:
            labs = {"any"} if all(labels[a] == "any" for a in gi if a < len(old)) else {"feature"}
        if labs <= {"any"}:
            lab = "any"
        elif len(labs) == 1:
            lab = labs.pop()
        elif labs <= {"feature", "position", "mixed", "any"}:
            lab = "mixed"
            merged_out *= int(np.prod([old[a] for a in gi if a < len(old) and labels[a] == "position"]))
            merged_out *= merged
        else:
            raise _Unsupported(f"{where}: reshape {old} -> {new} mixes the batch axis")
        out += [lab] * len([b for b in gj if b < len(new)])
    return tuple(out[: len(new)]), merged_out if "mixed" in out else 1


_COVERED = (
    "Linear, Conv1d/2d/3d (groups), ConvTranspose1d/2d/3d, Embedding, MultiheadAttention, "
    "F.scaled_dot_product_attention, the activations of cascades.nn, residual additions, torch.cat of "
    "features, BatchNorm/LayerNorm/GroupNorm/InstanceNorm/RMSNorm, average pooling and mean over "
    "positions, dropout, flatten/view/reshape/permute/transpose, Identity"
)


# ---------------------------------------------------------------------------------------------
# module handlers
# ---------------------------------------------------------------------------------------------


def _h_linear(w: _Walker, node, mod):
    s = w.resolve(w.st(node.args[0]), (-1,), w.where(node))
    sw, sb, mb = w.layer_variances(node, mod)
    shape = w.shape(node)
    labels = s.labels[:-1] + ("feature",)
    merged = s.merged if s.labels[-1] != "mixed" else 1
    out = _affine_map(
        s, sw, sb, mb, sources=frozenset({node.target}), labels=labels, shape=shape, merged=merged
    )
    w.record(node, out, f"Linear {mod.in_features}->{mod.out_features}", f"s_w={sw:.4g} s_b={sb:.4g}")


def _h_conv(w: _Walker, node, mod):
    import torch.nn as nn

    nd = mod.weight.dim() - 2
    s = w.resolve(w.st(node.args[0]), (1,), w.where(node))
    shape = w.shape(node)
    in_sizes, out_sizes = s.shape[2:], shape[2:]
    transposed = isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d))
    if isinstance(mod.padding, str):
        if mod.padding == "valid":
            padding = (0,) * nd
        else:  # "same": torch pads (k - 1) d on the whole, the left half rounded down
            padding = tuple((d * (k - 1)) // 2 for k, d in zip(mod.kernel_size, mod.dilation, strict=True))
    else:
        padding = tuple(mod.padding)
    circular = getattr(mod, "padding_mode", "zeros") != "zeros"
    kvol = int(np.prod(mod.kernel_size))
    sw, sb, mb = w.layer_variances(node, mod)
    if circular:
        n = np.full(kvol, float(np.prod(out_sizes)))
    else:
        n = _tap_counts(in_sizes, out_sizes, mod.kernel_size, mod.stride, padding, mod.dilation, transposed)
    P = int(np.prod(out_sizes))
    f_q = float(n.sum() / (kvol * P))
    f_pos = float((n * (n - 1)).sum() / (kvol * P * (P - 1))) if P > 1 else math.nan
    out = _affine_map(
        s,
        sw,
        sb,
        mb,
        factor_q=f_q,
        factor_pos=f_pos if P > 1 else 0.0,
        sources=frozenset({node.target}),
        labels=w.out_labels(s, shape, (1,)),
        shape=shape,
    )
    kind = type(mod).__name__
    note = f"s_w={sw:.4g} s_b={sb:.4g}" + (f" border {f_q:.4g}" if f_q < 1 - 1e-12 else "")
    if transposed and any(st > 1 for st in mod.stride):
        w.notes.append(
            f"{_row_name(node)}: a strided transposed convolution gives its outputs different taps, so "
            f"pairs of positions downstream differ in correlation; c_pos and c_x after it are averages "
            f"over pairs, mapped as if every pair had the average (approximate)"
        )
    elif f_q < 1 - 1e-12:
        w.notes.append(
            f"{_row_name(node)}: zero padding gives border outputs fewer taps; q is the exact average "
            f"over positions, the maps after it treat every position alike (approximate at borders)"
        )
    w.record(
        node,
        out,
        f"{kind} {mod.in_channels}->{mod.out_channels} k={tuple(mod.kernel_size)} g={mod.groups}",
        note,
    )


def torch_index(values):
    import torch

    return torch.from_numpy(np.asarray(values, dtype=np.int64))


def _h_embedding(w: _Walker, node, mod):
    src = w.env.get(node.args[0])
    if isinstance(src, _Index):  # a positional embedding: the same rows for every input
        if src.values.size and (src.values.min() < 0 or src.values.max() >= mod.num_embeddings):
            raise _Unsupported(f"{w.where(node)} looks up indices outside [0, {mod.num_embeddings})")
        q, Kpos = w.embedding_table(node, mod, src)
        shape = w.shape(node)
        lead = ("batch",) if src.batched else ("position",)
        out = SignalState(
            q=q,
            mean=0.0,
            c=1.0,
            c_pos=math.nan,
            c_x=math.nan,
            gaussian=True,
            shape=shape,
            labels=lead + ("position",) * (len(shape) - 2) + ("feature",),
            sources=frozenset({str(node.target), "constant"}),
        )
        out = _state(q, 0.0, q, Kpos, Kpos, like=out)
        w.record(
            node,
            out,
            f"Embedding {mod.num_embeddings}x{mod.embedding_dim} (positions)",
            "the same rows for every input",
        )
        return
    s = w.st(node.args[0])
    if s.labels and not math.isnan(s.q):
        raise _Unsupported(f"{w.where(node)}: an Embedding needs integer token ids as input")
    shape = w.shape(node)
    q = w.embedding_q(node, mod)
    V = mod.num_embeddings
    coll = 1.0 / V  # two uniform random tokens coincide with probability 1 / V
    out = SignalState(
        q=q,
        mean=0.0,
        c=coll,
        c_pos=coll,
        c_x=coll,
        gaussian=True,
        shape=shape,
        labels=("batch",) + ("position",) * (len(shape) - 2) + ("feature",),
        sources=frozenset({node.target}),
    )
    out = _state(out.q, 0.0, q * coll, q * coll, q * coll, like=out)
    w.record(node, out, f"Embedding {V}x{mod.embedding_dim}", "tokens uniform over the vocabulary")


def _norm_ref(s, eps, gamma2, beta2, mean_beta, r_same, r_cross, r_pos, r_x=None):
    """Centre by the r's (E[x_e xbar] of each class of pairs), scale to gamma^2, add beta^2."""
    var = s.q - r_same
    if var <= 0:
        return None
    k = gamma2 / (var + eps)
    Kc, Kp, Kx = s.K()
    return _state(
        k * var + beta2,
        mean_beta,
        k * (Kc - r_cross) + beta2,
        k * (Kp - r_pos) + beta2,
        k * (Kx - (r_cross if r_x is None else r_x)) + beta2,
        like=s,
        gaussian=True,
    )


def _affine_params(mod, n):
    w = getattr(mod, "weight", None)
    b = getattr(mod, "bias", None)
    if w is None:
        return 1.0, 0.0, 0.0
    if w.is_meta:
        raise _Unsupported("the module's parameters are on the meta device")
    g = w.detach().double()
    gamma2 = float((g * g).mean())
    if b is None:
        return gamma2, 0.0, 0.0
    bb = b.detach().double()
    return gamma2, float((bb * bb).mean()), float(bb.mean())


def _h_batchnorm(w: _Walker, node, mod):
    s = w.resolve(w.st(node.args[0]), (1,), w.where(node))
    gamma2, beta2, mb = w.norm_affine(node, mod)
    train = mod.training or not mod.track_running_stats
    if not train:
        rm = mod.running_mean.detach().double()
        rv = mod.running_var.detach().double()
        a = 1.0 / np.sqrt(rv.numpy() + mod.eps)
        g = mod.weight.detach().double().numpy() if mod.weight is not None else np.ones_like(a)
        b = mod.bias.detach().double().numpy() if mod.bias is not None else np.zeros_like(a)
        A = g * a
        B = b - g * a * rm.numpy()
        a2, ab, b2 = float(np.mean(A * A)), float(np.mean(A * B)), float(np.mean(B * B))
        Ks = [a2 * K + 2 * ab * s.mean + b2 for K in s.K()]
        out = _state(
            a2 * s.q + 2 * ab * s.mean + b2,
            float(np.mean(A)) * s.mean + float(np.mean(B)),
            *Ks,
            like=s,
            gaussian=s.gaussian,
        )
        w.record(node, out, f"{type(mod).__name__} (running statistics)")
        return
    B = s.shape[0]
    P = s.positions
    N = B * P
    if N < 2:
        raise _Unsupported(
            f"{w.where(node)} normalizes one value per channel (batch {B} x {P} positions); "
            f"give an example input with batch size > 1"
        )
    _small_group(w, node, N)
    Kc, Kp, Kx = (0.0 if not math.isfinite(K) else K for K in s.K())
    r = (s.q + (P - 1) * Kp + (B - 1) * Kc + (B - 1) * (P - 1) * Kx) / N
    out = _norm_ref(s, mod.eps, gamma2, beta2, mb, r, r, r)
    if out is None:
        raise _Unsupported(f"{w.where(node)} normalizes a constant channel")
    w.record(node, out, f"{type(mod).__name__} (batch statistics, B={B})")


_SMALL_GROUP = 64


def _small_group(w, node, size):
    """Note a normalization over few entries: its output is Gaussian only as the group grows."""
    if size < _SMALL_GROUP:
        w.notes.append(
            f"{_row_name(node)} normalizes groups of {size} entries: the propagation treats its output "
            f"as Gaussian, which holds as the group grows (corrections of order 1/{size})"
        )


def _per_input_norm(w, node, s, n_f, n_p, eps, gamma2, beta2, mb, what, center=True):
    Kc, Kp, Kx = (0.0 if not math.isfinite(K) else K for K in s.K())
    m2 = s.mean * s.mean
    g = n_f * n_p
    _small_group(w, node, g)
    if center and n_p == 1 and s.positions > 1:
        # per-position groups (LayerNorm over the features of each token): two positions, or two inputs, are
        # centred by different means; the pair's constant is the mean over the partner's group
        r = [(K + (n_f - 1) * m2) / n_f for K in (s.q, Kc, Kp, Kx)]
        out = _norm_ref(s, eps, gamma2, beta2, mb, r[0], r[1], r[2], r[3])
    elif center:  # the group holds every position of the input: positions share its mean
        r_same = (s.q + (n_p - 1) * Kp + (n_f - 1) * n_p * m2) / g
        r_cross = (Kc + (n_p - 1) * Kx + (n_f - 1) * n_p * m2) / g
        out = _norm_ref(s, eps, gamma2, beta2, mb, r_same, r_cross, r_same)
    else:
        k = gamma2 / (s.q + eps)
        out = _state(
            k * s.q + beta2,
            math.sqrt(k) * s.mean + mb,
            k * Kc + beta2,
            k * Kp + beta2,
            k * Kx + beta2,
            like=s,
            gaussian=s.gaussian,
        )
    if out is None:
        raise _Unsupported(f"{w.where(node)} normalizes a constant group")
    w.record(node, out, what)


def _h_layernorm(w: _Walker, node, mod):
    s0 = w.st(node.args[0])
    k = len(mod.normalized_shape)
    s = w.resolve(s0, (-1,), w.where(node)) if k == 1 else s0
    dims = range(len(s.shape) - k, len(s.shape))
    n_p = int(np.prod([s.shape[a] for a in dims if s.labels[a] == "position"]))
    n_f = int(np.prod([s.shape[a] for a in dims if s.labels[a] != "position"]))
    if s.labels[-1] == "mixed":
        n_p *= s.merged
        n_f //= s.merged
    gamma2, beta2, mb = w.norm_affine(node, mod)
    rms = type(mod).__name__ == "RMSNorm"
    eps = mod.eps if mod.eps is not None else float(np.finfo(np.float32).eps)
    if n_p > 1 and s.positions // n_p > 1:
        raise _Unsupported(f"{w.where(node)} normalizes over some positions only; not covered")
    _per_input_norm(
        w, node, s, n_f, n_p, eps, gamma2, beta2, mb, f"{type(mod).__name__} over {n_f * n_p}", center=not rms
    )


def _h_groupnorm(w: _Walker, node, mod):
    s = w.resolve(w.st(node.args[0]), (1,), w.where(node))
    C = s.shape[1]
    groups = mod.num_groups if hasattr(mod, "num_groups") else C
    gamma2, beta2, mb = w.norm_affine(node, mod)
    _per_input_norm(
        w,
        node,
        s,
        C // groups,
        s.positions,
        mod.eps,
        gamma2,
        beta2,
        mb,
        f"{type(mod).__name__} ({groups} groups)",
    )


def _h_instancenorm(w: _Walker, node, mod):
    s = w.resolve(w.st(node.args[0]), (1,), w.where(node))
    if mod.track_running_stats and not mod.training:
        raise _Unsupported(
            f"{w.where(node)}: InstanceNorm with running statistics in evaluation mode is not covered"
        )
    gamma2, beta2, mb = w.norm_affine(node, mod)
    _per_input_norm(w, node, s, 1, s.positions, mod.eps, gamma2, beta2, mb, f"{type(mod).__name__}")


def _h_dropout(w: _Walker, node, mod):
    w.dropout(node, float(mod.p), mod.training)


def _h_identity(w: _Walker, node, mod):
    w.record(node, w.st(node.args[0]), "Identity")


def _h_flatten(w: _Walker, node, mod):
    w.shape_op(node, "flatten")


def _h_avgpool(w: _Walker, node, mod):
    _pool(w, node, lambda t: mod(t), type(mod).__name__)


def _pool(w: _Walker, node, fn, what):
    """Average pooling by its exact pooling matrix on the example's positions."""
    import torch

    s = w.resolve(w.st(node.args[0]), (1,), w.where(node))
    spatial = s.shape[2:]
    P = int(np.prod(spatial))
    shape = w.shape(node)
    Po = int(np.prod(shape[2:]))
    if P * Po > 1 << 24:
        raise _Unsupported(
            f"{w.where(node)} pools {P} positions to {Po}: the pooling matrix would have "
            f"{P * Po} entries; give a smaller example input (the statistics depend on the "
            f"size only through the borders)"
        )
    eye = torch.eye(P, dtype=torch.float64).reshape(P, 1, *spatial)
    with torch.no_grad():
        M = fn(eye).reshape(P, Po).T.numpy()  # (Po, P)
    S1 = M.sum(1)
    S2 = (M * M).sum(1)
    G = M @ M.T
    q, m = s.q, s.mean
    Kc, Kp, Kx = (0.0 if not math.isfinite(K) else K for K in s.K())
    qo = float(np.mean(S2 * (q - Kp) + S1 * S1 * Kp))
    Kco = float(np.mean(S2 * (Kc - Kx) + S1 * S1 * Kx))
    if Po > 1:
        off = ~np.eye(Po, dtype=bool)
        Kpo = float(np.mean(G[off] * (q - Kp) + np.outer(S1, S1)[off] * Kp))
        Kxo = float(np.mean(G[off] * (Kc - Kx) + np.outer(S1, S1)[off] * Kx))
    else:
        Kpo = Kxo = math.nan
    out = _state(
        qo,
        float(np.mean(S1)) * m,
        Kco,
        Kpo,
        Kxo,
        like=s,
        shape=shape,
        labels=w.out_labels(s, shape, (1,)),
        gaussian=s.gaussian,
    )
    w.record(node, out, f"{what} {P}->{Po}")


def _h_mha(w: _Walker, node, mod):
    from ..nn.attention import attention_propagate

    args = list(node.args) + [node.kwargs.get(k) for k in ("query", "key", "value")][len(node.args) :]
    q_node, k_node, v_node = args[:3]
    if not (q_node is k_node is v_node):
        raise _Unsupported(
            f"{w.where(node)} is cross-attention (query, key and value differ); only "
            f"self-attention is covered"
        )
    for key in ("key_padding_mask", "attn_mask"):
        if node.kwargs.get(key) is not None:
            raise _Unsupported(f"{w.where(node)} uses {key}; masked attention is not covered")
    if node.kwargs.get("is_causal"):
        raise _Unsupported(f"{w.where(node)} is causal; masked attention is not covered")
    if not mod._qkv_same_embed_dim or mod.bias_k is not None or mod.add_zero_attn:
        raise _Unsupported(
            f"{w.where(node)}: MultiheadAttention with kdim/vdim, add_bias_kv or add_zero_attn is not covered"
        )
    s = w.st(q_node)
    seq_axis = 1 if mod.batch_first else 0
    if not mod.batch_first:
        raise _Unsupported(
            f"{w.where(node)}: MultiheadAttention with batch_first=False is not covered (the batch "
            f"axis must be axis 0); build it with batch_first=True"
        )
    s = w.resolve(s, (-1,), w.where(node))
    T = s.shape[seq_axis]
    d = mod.embed_dim
    sq, sk, sv, so, sb = w.attention_variances(node, mod, s, T)
    if not s.gaussian and not math.isfinite(s.c):
        raise _Unsupported(f"{w.where(node)}: input state unknown")
    st = attention_propagate(
        s.q,
        s.c_pos if math.isfinite(s.c_pos) else 0.0,
        c=s.c,
        c_x=s.c_x if math.isfinite(s.c_x) else 0.0,
        seq_len=T,
        sigma_q2=sq,
        sigma_k2=sk,
        sigma_v2=sv,
        sigma_o2=so,
        sigma_b2=sb,
        heads=mod.num_heads,
    )
    out = _state(
        st.q,
        0.0,
        st.q * st.c,
        st.q * st.c_pos,
        st.q * st.c_x,
        like=s,
        gaussian=True,
        sources=frozenset({node.target}),
    )
    w.env[node] = (out, None)
    w.rows.append(
        NodeSignal(
            _row_name(node),
            f"MultiheadAttention d={d} heads={mod.num_heads} T={T}",
            node.target,
            out,
            f"logit variance {st.logit_variance:.4g}",
        )
    )


def _f_sdpa(w: _Walker, node, name):
    from ..nn.attention import attention_propagate

    q_n, k_n, v_n = node.args[:3]
    if node.kwargs.get("attn_mask") is not None or node.kwargs.get("is_causal") or len(node.args) > 3:
        raise _Unsupported(f"{w.where(node)}: masked or causal attention is not covered")
    if node.kwargs.get("dropout_p", 0.0):
        raise _Unsupported(f"{w.where(node)}: attention dropout is not covered")
    sq_, sk_, sv_ = (w.st(n) for n in (q_n, k_n, v_n))
    T = sq_.shape[-2]
    dh = sq_.shape[-1]
    scale = node.kwargs.get("scale")
    scale = 1.0 / math.sqrt(dh) if scale is None else float(scale)
    for s_ in (sq_, sk_, sv_):
        if not s_.gaussian or abs(s_.mean) > 1e-9 * math.sqrt(s_.q):
            raise _Unsupported(f"{w.where(node)}: query, key and value must be centred Gaussian projections")
    ref = (sq_.c, sq_.c_pos, sq_.c_x)
    for s_ in (sk_, sv_):
        if any(abs(a - b) > 1e-9 for a, b in zip((s_.c, s_.c_pos, s_.c_x), ref, strict=True)):
            raise _Unsupported(
                f"{w.where(node)}: query, key and value have different correlations (different "
                f"biases); covered: projections of one tensor with equal bias variances"
            )
    # logits s = scale q.k over dh coordinates have variance dh scale^2 q_Q q_K: attention_propagate's
    # sigma_q2 sigma_k2 q^2 at q = 1 (its logits are scaled by 1 / sqrt(dh))
    st = attention_propagate(
        1.0,
        ref[1],
        c=ref[0],
        c_x=ref[2],
        seq_len=T,
        sigma_q2=sq_.q * dh * scale * scale,
        sigma_k2=sk_.q,
        sigma_v2=sv_.q,
        sigma_o2=1.0,
    )
    out = _state(
        st.q, 0.0, st.q * st.c, st.q * st.c_pos, st.q * st.c_x, like=sv_, shape=w.shape(node), gaussian=True
    )
    w.record(node, out, f"scaled_dot_product_attention T={T}", f"logit variance {st.logit_variance:.4g}")


def _f_dropout(w, node, name):
    p = node.args[1] if len(node.args) > 1 else node.kwargs.get("p", 0.5)
    training = node.args[2] if len(node.args) > 2 else node.kwargs.get("training", True)
    if name.startswith("dropout") and node.op == "call_function":
        # F.dropout(x, p, training): the module's mode decides only when forward passes self.training
        import torch.fx

        if isinstance(training, torch.fx.Node):
            training = w.training
    w.dropout(node, float(p), bool(training))


def _f_avgpool(w, node, name):
    import torch.nn.functional as F

    args, kwargs = node.args[1:], dict(node.kwargs)
    fn = getattr(F, name)
    _pool(w, node, lambda t: fn(t, *args, **kwargs), name)


def _f_arange(w, node, name):
    """torch.arange: the indices 0 .. n-1 (or the given start / end / step) as positions to look up."""
    shape = w.shape(node)
    args = [a for a in node.args]
    if args and all(isinstance(a, int) for a in args):
        values = np.arange(*args, dtype=np.int64)
    elif len(args) == 1:  # arange(n) with n computed from a shape
        values = np.arange(shape[0], dtype=np.int64)
    else:
        raise _Unsupported(f"{w.where(node)}: torch.arange with computed start or step is not covered")
    w.env[node] = _Index(values, shape)


_FUNC_HANDLERS = {
    **{n: _Walker.shape_op for n in _SHAPE_FUNCS},
    "add": _Walker.arith,
    "sub": _Walker.arith,
    "mul": _Walker.arith,
    "truediv": _Walker.arith,
    "div": _Walker.arith,
    "iadd": lambda w, node, name: w.arith(node, "add"),
    "getitem": _Walker.getitem,
    "cat": _Walker.cat,
    "concat": _Walker.cat,
    "concatenate": _Walker.cat,
    "mean": _Walker.mean_op,
    **{n: _f_dropout for n in _DROPOUT_FUNCS},
    **{n: _f_avgpool for n in _AVGPOOL_FUNCS},
    "scaled_dot_product_attention": _f_sdpa,
    "arange": _f_arange,
    "expand": _Walker.shape_op,
    "expand_as": _Walker.shape_op,
    "repeat": _Walker.shape_op,
}


def _module_handlers():
    import torch.nn as nn

    table = {
        nn.Linear: _h_linear,
        nn.Conv1d: _h_conv,
        nn.Conv2d: _h_conv,
        nn.Conv3d: _h_conv,
        nn.ConvTranspose1d: _h_conv,
        nn.ConvTranspose2d: _h_conv,
        nn.ConvTranspose3d: _h_conv,
        nn.Embedding: _h_embedding,
        nn.BatchNorm1d: _h_batchnorm,
        nn.BatchNorm2d: _h_batchnorm,
        nn.BatchNorm3d: _h_batchnorm,
        nn.LayerNorm: _h_layernorm,
        nn.GroupNorm: _h_groupnorm,
        nn.InstanceNorm1d: _h_instancenorm,
        nn.InstanceNorm2d: _h_instancenorm,
        nn.InstanceNorm3d: _h_instancenorm,
        nn.Dropout: _h_dropout,
        nn.Dropout1d: _h_dropout,
        nn.Dropout2d: _h_dropout,
        nn.Dropout3d: _h_dropout,
        nn.Identity: _h_identity,
        nn.Flatten: _h_flatten,
        nn.Unflatten: _h_flatten,
        nn.AvgPool1d: _h_avgpool,
        nn.AvgPool2d: _h_avgpool,
        nn.AvgPool3d: _h_avgpool,
        nn.AdaptiveAvgPool1d: _h_avgpool,
        nn.AdaptiveAvgPool2d: _h_avgpool,
        nn.AdaptiveAvgPool3d: _h_avgpool,
        nn.MultiheadAttention: _h_mha,
    }
    if hasattr(nn, "RMSNorm"):
        table[nn.RMSNorm] = _h_layernorm
    return table


class _Handlers(dict):
    """Module handlers, built on first use (torch is imported only then)."""

    def _fill(self):
        if not dict.__len__(self):
            self.update(_module_handlers())

    def get(self, key, default=None):
        self._fill()
        return dict.get(self, key, default)

    def items(self):
        self._fill()
        return dict.items(self)


_MODULE_HANDLERS = _Handlers()


def _no_mask(m, kwargs):
    bad = [
        k for k, v in kwargs.items() if k in ("src_mask", "mask", "src_key_padding_mask", "is_causal") and v
    ]
    if bad:
        raise _Unsupported(
            f"{type(m).__name__} called with {', '.join(bad)}: masked attention is not covered"
        )


def _encoder_layer(m, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
    """nn.TransformerEncoderLayer's computation (its slow path, Xiong et al. 2020 Fig. 1) without masks."""
    _no_mask(m, {"src_mask": src_mask, "src_key_padding_mask": src_key_padding_mask, "is_causal": is_causal})

    def sa(x):
        return m.dropout1(m.self_attn(x, x, x, need_weights=False)[0])

    def ff(x):
        return m.dropout2(m.linear2(m.dropout(m.activation(m.linear1(x)))))

    x = src
    if m.norm_first:
        x = x + sa(m.norm1(x))
        return x + ff(m.norm2(x))
    x = m.norm1(x + sa(x))
    return m.norm2(x + ff(x))


def _encoder(m, src, mask=None, src_key_padding_mask=None, is_causal=None):
    """nn.TransformerEncoder's computation without masks: its layers in turn, then its norm."""
    _no_mask(m, {"mask": mask, "src_key_padding_mask": src_key_padding_mask, "is_causal": is_causal})
    x = src
    for layer in m.layers:
        x = layer(x)
    return m.norm(x) if m.norm is not None else x


def _explicit_forward(m):
    import torch.nn as nn

    if isinstance(m, nn.TransformerEncoderLayer):
        return _encoder_layer
    if isinstance(m, nn.TransformerEncoder):
        return _encoder
    return None


def _root(module):
    """The module the graph's paths refer to: a bare layer is traced as layer "0" of a Sequential."""
    import torch.nn as nn

    return nn.Sequential(module) if _is_leaf(module) else module


def _weight_types():
    """The weight layers whose scale the propagation reads (and the recommendation sets)."""
    import torch.nn as nn

    return (
        nn.Linear,
        nn.Conv1d,
        nn.Conv2d,
        nn.Conv3d,
        nn.ConvTranspose1d,
        nn.ConvTranspose2d,
        nn.ConvTranspose3d,
    )


def _is_leaf(m) -> bool:
    """Modules fx keeps whole: the covered ones and every other torch.nn module but the containers."""
    import torch.nn as nn

    if isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return False
    if _explicit_forward(m) is not None:
        return False
    if _MODULE_HANDLERS.get(type(m)) is not None:
        return True
    return type(m).__module__.startswith("torch.nn")


# ---------------------------------------------------------------------------------------------
# the public entry point
# ---------------------------------------------------------------------------------------------


def signal_graph(
    module,
    example_input=None,
    *,
    input_shape=None,
    input_dtype=None,
    inputs=None,
    pass_through=(),
    variances=None,
) -> SignalGraph:
    """Mean-field state of every tensor of a torch module, node by node (see the module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        Any module torch.fx can trace, made of the covered operations (listed in the error for
        one that is not). Its current parameters (and training / evaluation mode) are read: the
        prediction is for this initialization.
    example_input : torch.Tensor, optional
        An input the module accepts (only its shape and dtype matter), or give ``input_shape``.
    input_shape : tuple of int, optional
        Shape of the input, batch first; zeros of the parameters' dtype (long ids when the module
        has an Embedding) are used.
    input_dtype : torch.dtype, optional
        dtype of the input built from ``input_shape``.
    inputs : InputStats, optional
        Statistics of the input entries (default: q = 1, mean 0, white: every correlation 0).
    pass_through : iterable of str
        Node names, module paths, module class names or function names whose input statistics are
        copied to their output (an approximation the user opts into; marked in the table).
    variances : dict, optional
        Per module path, weight statistics to use instead of the module's: (s_w, s_b, mean_b) for
        weight layers, (s_q, s_k, s_v, s_o, s_b) for MultiheadAttention, (q,) for Embedding.

    Returns
    -------
    SignalGraph

    Raises
    ------
    TypeError
        If ``module`` is not a torch.nn.Module.
    ValueError
        If the module cannot be traced (the fx error's first line), the example does not run, or
        a node is not covered (naming the node, its module path and what is covered).

    Examples
    --------
    >>> import torch.nn as nn
    >>> net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.LayerNorm(64), nn.Linear(64, 10))
    >>> g = signal_graph(net, input_shape=(8, 64), inputs=InputStats(c=0.5),
    ...                  variances={"0": (2.0, 0.0, 0.0)})   # sigma_w^2 = 2, no bias, for layer "0"
    >>> g["1"].state.q                  # ReLU: E[relu(u)^2] = sigma_w^2 q / 2
    1.0
    >>> round(g["1"].state.c, 6)        # the arc-cosine kernel at c = 0.5
    0.608998
    >>> round(g["2"].state.q, 4)        # LayerNorm resets q to gamma^2 = 1 (up to eps)
    1.0
    >>> print(g)  # doctest: +ELLIPSIS
    node     op                 shape  q ...
    """
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    inputs = InputStats() if inputs is None else inputs
    if not isinstance(inputs, InputStats):
        raise TypeError(f"inputs must be an InputStats, got {type(inputs).__name__}")
    if isinstance(pass_through, str):
        pass_through = (pass_through,)
    example = _example(module, example_input, input_shape, input_dtype)
    gm = _trace_with_shapes(module, example, leaves=tuple(pass_through))
    walker = _Walker(gm, _root(module), inputs, pass_through, variances, module.training)
    try:
        out = walker.run()
    except _Unsupported as exc:
        raise ValueError(str(exc)) from None
    notes = ["positions treated as exchangeable (every pair of positions has the same correlation)"]
    notes += walker.notes
    if walker.used_pass:
        notes.append(f"pass-through (statistics copied, not predicted): {', '.join(walker.used_pass)}")
    return SignalGraph(
        nodes=tuple(walker.rows), output=out, pass_through=tuple(walker.used_pass), notes=tuple(notes)
    )


# ---------------------------------------------------------------------------------------------
# measurement: the same table from a forward pass
# ---------------------------------------------------------------------------------------------


def _measure(x, s: SignalState):
    """(q, mean, c, c_pos, c_x) of a tensor measured over its batch, features and positions."""
    import torch

    x = x.detach().double()
    if s.labels[0] != "batch":  # a table shared by every input: one "input"
        x = x[None]
        s = replace(s, labels=("batch",) + s.labels, shape=(1,) + tuple(s.shape))
    nd = x.dim()
    feats = [a for a in range(1, nd) if s.labels[a] in ("feature", "mixed")]
    pos = [a for a in range(1, nd) if s.labels[a] not in ("feature", "mixed")]
    B = x.shape[0]
    F = int(np.prod([x.shape[a] for a in feats])) if feats else 1
    P = int(np.prod([x.shape[a] for a in pos])) if pos else 1
    X = x.permute(0, *feats, *pos).reshape(B, F, P)
    tot2 = float((X * X).sum())
    n = B * F * P
    q = tot2 / n
    mean = float(X.sum()) / n
    sa = X.sum(0)  # (F, P): sum over inputs
    sp = X.sum(2)  # (B, F): sum over positions
    sap = X.sum(dim=(0, 2))  # (F,)
    same_pos = float((sa * sa).sum()) - tot2
    same_in = float((sp * sp).sum()) - tot2
    both = float((sap * sap).sum()) - float((sa * sa).sum()) - float((sp * sp).sum()) + tot2
    c = same_pos / (F * P * B * (B - 1)) / q if B > 1 else math.nan
    c_pos = same_in / (B * F * P * (P - 1)) / q if P > 1 else math.nan
    c_x = both / (F * B * (B - 1) * P * (P - 1)) / q if (B > 1 and P > 1) else math.nan
    del torch
    return q, mean, c, c_pos, c_x


def measure_signal_graph(module, x, *, like: SignalGraph | None = None, pass_through=()) -> SignalGraph:
    """The statistics of :func:`signal_graph` measured on one forward pass of ``module`` on ``x``.

    Each tensor's q, mean and the three correlations are averaged over its entries, inputs and
    positions (the axes are read as :func:`signal_graph` labels them), so a wide random network's
    measured table can be compared with the predicted one row by row.

    Parameters
    ----------
    module : torch.nn.Module
    x : torch.Tensor
        A batch of inputs (at least two for c).
    like : SignalGraph, optional
        The prediction whose axis labels to use (default: :func:`signal_graph` on ``x``'s shape).
    pass_through : iterable of str
        As for :func:`signal_graph` (used when ``like`` is not given).

    Returns
    -------
    SignalGraph
        The same rows as the prediction, with measured states.

    Examples
    --------
    >>> import torch, torch.nn as nn
    >>> g = torch.Generator().manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 256))
    >>> x = torch.randn(16, 256, generator=g)
    >>> m = measure_signal_graph(net, x)
    >>> abs(m["1"].state.q - signal_graph(net, x)["1"].state.q) < 0.01
    True
    """
    import torch
    import torch.fx

    if like is None:
        like = signal_graph(module, x, pass_through=pass_through)
    gm = _trace_with_shapes(module, (x,), leaves=tuple(pass_through) + tuple(like.pass_through))
    values = {}

    class _Record(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            values[_row_name(n)] = out
            return out

    # a forward pass in training mode updates BatchNorm's running statistics: keep the user's
    buffers = [
        (b, b.detach().clone())
        for m in module.modules()
        if isinstance(m, torch.nn.modules.batchnorm._NormBase)
        for b in m.buffers()
    ]
    try:
        with torch.no_grad():
            _Record(gm).run(x)
    finally:
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)
    rows = []
    for row in like.nodes:
        v = values.get(row.name)
        if isinstance(v, tuple):
            v = v[0]
        if row.state is None or not isinstance(v, torch.Tensor) or not v.is_floating_point():
            rows.append(NodeSignal(row.name, row.op, row.target, None, "measured: not a float tensor"))
            continue
        q, mean, c, c_pos, c_x = _measure(v, row.state)
        st = replace(row.state, q=q, mean=mean, c=c, c_pos=c_pos, c_x=c_x, shape=tuple(v.shape))
        rows.append(NodeSignal(row.name, row.op, row.target, st, "measured"))
    out = next((r.state for r in reversed(rows) if r.state is not None), None)
    return SignalGraph(
        nodes=tuple(rows), output=out, pass_through=like.pass_through, notes=("measured on one forward pass",)
    )
