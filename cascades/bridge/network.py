"""Recommended initialization for any traceable network: the rules of the bridge on the computation graph.

:func:`recommend_network` walks a torch module's :mod:`torch.fx` graph with the mean-field
propagation of :mod:`cascades.bridge.graph` and chooses every weight layer's scale from its role
in the graph and the predicted state of its input:

* a layer whose output reaches an activation phi (through shape operations and dropout) puts the
  pre-activations at phi's operating point q* on the edge of chaos
  (:func:`cascades.nn.critical_point`; Hayou, Doucet & Rousseau, ICML 2019):
  s_w = (q* - sigma_b^2*) / q_in, s_b = sigma_b^2* (in a chain this is sigma_w^2* exactly);
* a layer whose output reaches a residual addition (the last layer of a branch) gets the
  variance-preserving scale of what feeds it (sigma_w^2* of the activation before it, else 1) times
  the branch factor beta^2 = 1 / L over the L residual additions of the network (Hayou et al.,
  AISTATS 2021, "Stable ResNet"; Yang & Schoenholz, NeurIPS 2017, for the recursion);
* a read-out layer (its output is the network's) gets logits of variance ``readout_variance``:
  s_w = v / q_in;
* a normalization layer's affine scale is set to gamma^2 = q* of the activation it feeds (it resets
  q to gamma^2), 1 otherwise, its shift to 0;
* self-attention (MultiheadAttention): query and key scales with logit variance
  ``logit_variance`` given the input's q (s_q = s_k = sqrt(v) / q_in, without attention biases),
  the value/output scale that keeps q (:func:`cascades.nn.recommended_attention_scales`; Noci et
  al., NeurIPS 2022), times beta^2 when the attention output is a residual branch;
* Embedding tables get unit variance; every other weight layer the variance-preserving scale.

The predicted state of every tensor under the recommendation comes with it
(:class:`~cascades.bridge.graph.SignalGraph`), and :func:`apply_network` draws the weights (and the
masks of a sparse recommendation: ERK densities over every weight matrix, the query, key and
value projections of an attention module counted as three matrices). ``weights="isometric"``
instead applies :func:`cascades.bridge.isometric_init` (looks-linear for ReLU chains, RISOTTO for
ReLU residual blocks, orthogonal elsewhere) and reports which scheme each layer got.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from .._rng import as_generator
from .._validation import check_real
from ..nn.criticality import critical_point
from .graph import (
    _DROPOUT_FUNCS,
    _SHAPE_FUNCS,
    InputStats,
    SignalGraph,
    _example,
    _func_name,
    _is_leaf,
    _root,
    _trace_with_shapes,
    _Unsupported,
    _Walker,
    _weight_types,
)

__all__ = ["NetworkLayer", "NetworkRecommendation", "apply_network", "recommend_network"]

ROLES = ("pre-activation", "branch", "read-out", "pre-norm", "linear", "embedding", "attention", "norm")
_PASS = _SHAPE_FUNCS | _DROPOUT_FUNCS | {"getitem"}  # what a value passes through on its way to a consumer


@dataclass(frozen=True)
class NetworkLayer:
    """The recommendation for one parametrised module of the network (see :func:`recommend_network`).

    Attributes
    ----------
    name : str
        Module path.
    kind : str
        "Linear", "Conv2d", ..., "MultiheadAttention", "Embedding", "LayerNorm", ...
    role : str
        One of :data:`ROLES`: what the layer's output reaches (an activation, a residual
        addition, the output, a normalization, another weight layer).
    fan_in : int
        Inputs per output unit (in / groups x kernel volume; d for attention projections).
    density : float
        Fraction of weights kept.
    sigma_w2 : float
        Weight variance times fan-in (s_w); for attention (s_q, s_k, s_v, s_o) in ``detail``.
    sigma_b2 : float
        Bias variance.
    weight_std, bias_std : float
        sqrt(sigma_w2 / (density fan_in)), sqrt(sigma_b2).
    q_in : float
        The predicted q of the layer's input.
    activation : str or None
        The activation the layer's output reaches (role "pre-activation").
    detail : tuple
        Extra numbers: (s_q, s_k, s_v, s_o) for attention, (gamma^2,) for a norm.
    """

    name: str
    kind: str
    role: str
    fan_in: int
    density: float
    sigma_w2: float
    sigma_b2: float
    weight_std: float
    bias_std: float
    q_in: float
    activation: str | None = None
    detail: tuple = ()


@dataclass(frozen=True)
class NetworkRecommendation:
    """Initialization of a traced network (returned by :func:`recommend_network`).

    Attributes
    ----------
    layers : tuple of NetworkLayer
        Every weight layer, attention module, embedding and normalization, in forward order.
    signal : SignalGraph or None
        The predicted state of every tensor under this initialization (None for isometric weights,
        whose exact statement is in ``notes``).
    weights : str
        "gaussian" or "isometric".
    q_star : float
        The pre-activation target.
    branch_scale : float
        beta applied to every residual branch (1 / sqrt(L)), 1 without residual additions.
    n_residual : int
        L, the residual additions of the network.
    logit_variance, readout_variance : float
    density : float
        Requested overall density (ERK over the weight matrices).
    input_shape : tuple
        The example input's shape.
    schemes : tuple of (str, str)
        With ``weights="isometric"``: (layer, scheme) pairs from :func:`cascades.bridge.isometric_init`.
    notes : tuple of str
    """

    layers: tuple
    signal: SignalGraph
    weights: str
    q_star: float
    branch_scale: float
    n_residual: int
    logit_variance: float
    readout_variance: float
    density: float
    input_shape: tuple
    schemes: tuple = ()
    notes: tuple = ()

    def to_dict(self) -> dict:
        """Plain data (layers, the per-node table, the settings); non-finite floats as "nan" / "inf"."""
        from dataclasses import asdict

        from .recommend import _enc

        nodes = []
        if self.signal is not None:
            for row in self.signal.nodes:
                st = row.state
                nodes.append(
                    {
                        "node": row.name,
                        "op": row.op,
                        "note": row.note,
                        **(
                            {}
                            if st is None
                            else {
                                "shape": list(st.shape),
                                "q": st.q,
                                "mean": st.mean,
                                "c": st.c,
                                "c_pos": st.c_pos,
                                "c_x": st.c_x,
                            }
                        ),
                    }
                )
        out = {
            "kind": "network",
            "weights": self.weights,
            "input_shape": list(self.input_shape),
            "q_star": self.q_star,
            "branch_scale": self.branch_scale,
            "n_residual": self.n_residual,
            "logit_variance": self.logit_variance,
            "readout_variance": self.readout_variance,
            "density": self.density,
            "layers": [asdict(lay) for lay in self.layers],
            "nodes": nodes,
            "schemes": [list(s) for s in self.schemes],
            "notes": list(self.notes),
        }
        return _enc(out)

    def to_json(self, **kwargs) -> str:
        """:meth:`to_dict` as JSON (keyword arguments go to :func:`json.dumps`)."""
        import json

        return json.dumps(self.to_dict(), **kwargs)

    def __getitem__(self, name) -> NetworkLayer:
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise KeyError(f"no layer {name!r}")

    def __str__(self) -> str:
        head = [
            f"network recommendation ({self.weights} weights) for input {tuple(self.input_shape)}: "
            f"{len(self.layers)} parametrised modules, {self.n_residual} residual additions "
            f"(branch scale {self.branch_scale:.4g}), pre-activations at q* = {self.q_star:.4g}, "
            f"density {self.density:.4g}"
        ]
        cols = ("layer", "kind", "role", "fan_in", "density", "sigma_w2", "sigma_b2", "w std", "q_in")
        rows = [
            (
                lay.name,
                lay.kind,
                lay.role + (f" ({lay.activation})" if lay.activation else ""),
                str(lay.fan_in),
                f"{lay.density:.4g}",
                f"{lay.sigma_w2:.4g}",
                f"{lay.sigma_b2:.4g}",
                f"{lay.weight_std:.4g}",
                f"{lay.q_in:.4g}",
            )
            for lay in self.layers
        ]
        widths = [max(len(str(r[i])) for r in [cols, *rows]) for i in range(len(cols))]
        lines = head + ["", "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        if self.signal is not None:
            lines += ["", "predicted signal per node:", str(self.signal)]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# roles
# ---------------------------------------------------------------------------------------------


def _kind_of(node, root):
    """'weight' | 'activation' | 'norm' | 'add' | 'output' | 'pass' | 'attention' | 'other' for a node."""
    import operator

    import torch.nn as nn

    from .graph import (
        _MODULE_HANDLERS,
        _h_batchnorm,
        _h_dropout,
        _h_flatten,
        _h_groupnorm,
        _h_identity,
        _h_instancenorm,
        _h_layernorm,
        _h_mha,
    )
    from .trace import _KNOWN_FUNCS, _module_kind

    if node.op == "output":
        return "output", None
    if node.op == "call_module":
        mod = root.get_submodule(node.target)
        h = _MODULE_HANDLERS.get(type(mod))
        if isinstance(mod, (*_weight_types(), nn.Embedding)):
            return "weight", None
        if h is _h_mha:
            return "attention", None
        if h in (_h_batchnorm, _h_layernorm, _h_groupnorm, _h_instancenorm):
            return "norm", None
        if h in (_h_dropout, _h_flatten, _h_identity):
            return "pass", None
        try:
            kind, name = _module_kind(mod, node.target)
        except ValueError:
            return "other", None
        return ("activation", name) if kind == "activation" else ("other", None)
    if node.op in ("call_function", "call_method"):
        name, _, _ = _func_name(node)
        if node.target in (operator.add, operator.iadd) or name in ("add", "iadd", "sub"):
            # two computed tensors: a residual addition; a parameter, positional table or constant: a shift
            tensors = [a for a in node.args[:2] if hasattr(a, "op") and not _constant(a, root)]
            return ("add", None) if len(tensors) == 2 else ("pass", None)
        if name in ("mul", "truediv", "div") or name in _PASS:
            return "pass", None
        if name in _KNOWN_FUNCS:
            from .trace import _function_activation

            return "activation", _function_activation(node, name, node.name)
    return "other", None


def _constant(node, root) -> bool:
    """True for a value that is the same for every input: a parameter, or an Embedding of fixed positions."""
    import torch.nn as nn

    if node.op == "get_attr":
        return True
    if node.op == "call_function" and getattr(node.target, "__name__", "") == "arange":
        return True
    if node.op == "call_module" and isinstance(root.get_submodule(node.target), nn.Embedding):
        return bool(node.args) and hasattr(node.args[0], "op") and _constant(node.args[0], root)
    if node.op in ("call_method", "call_function") and _func_name(node)[0] in _PASS | {"expand", "repeat"}:
        inputs = [a for a in node.args if hasattr(a, "op") and a.op != "placeholder"]
        return bool(inputs) and hasattr(node.args[0], "op") and _constant(node.args[0], root)
    return False


def _reaches(node, root):
    """What a node's output reaches through pass-through nodes: (kind, activation name)."""
    seen = set()
    frontier = list(node.users)
    kinds = []
    while frontier:
        u = frontier.pop()
        if u in seen:
            continue
        seen.add(u)
        k, name = _kind_of(u, root)
        if k == "pass":
            frontier.extend(u.users)
        else:
            kinds.append((k, name))
    names = {k for k, _ in kinds}
    act = next((name for k, name in kinds if k == "activation"), None)
    if "activation" in names:
        return "activation", act
    if names == {"add"}:  # only a residual addition: the last layer of a branch
        return "add", None
    if names == {"output"}:
        return "output", None
    if "norm" in names:
        return "norm", None
    return "linear", None


def _fed_by(node, root):
    """The activation whose output feeds ``node`` through pass-through nodes (or None)."""
    cur = node.args[0] if node.args else None
    while cur is not None and hasattr(cur, "op"):
        k, name = _kind_of(cur, root)
        if k == "activation":
            return name
        if k != "pass" or not cur.args:
            return None
        cur = cur.args[0]
    return None


# ---------------------------------------------------------------------------------------------
# the recommending walk
# ---------------------------------------------------------------------------------------------


class _Recommender(_Walker):
    def __init__(
        self,
        gm,
        module,
        inputs,
        pass_through,
        training,
        *,
        q_star,
        logit_variance,
        readout_variance,
        beta2,
        densities,
    ):
        super().__init__(gm, module, inputs, pass_through, None, training)
        self.q_star = q_star
        self.logit_variance = logit_variance
        self.readout_variance = readout_variance
        self.beta2 = beta2
        self.densities = densities
        self.layers = []
        self.points = {}

    def point(self, act):
        if act not in self.points:
            self.points[act] = critical_point(act, q_star=self.q_star, stability="nearest")
        return self.points[act]

    def sw_star(self, act):
        return self.point(act).sigma_w2 if act is not None else 1.0

    def q_in(self, node):
        s = self.env.get(node.args[0])
        return s.q if s is not None and math.isfinite(s.q) else 1.0

    def layer_variances(self, node, mod):
        role, act = _reaches(node, self.root)
        fed = _fed_by(node, self.root)
        q_in = self.q_in(node)
        if role == "activation":
            cp = self.point(act)
            sb = cp.sigma_b2
            sw = max(cp.q_star - sb, 0.0) / q_in
            role_name = "pre-activation"
        elif role == "add":
            sw, sb, role_name, act = self.beta2 * self.sw_star(fed), 0.0, "branch", None
        elif role == "output":
            sw, sb, role_name, act = self.readout_variance / q_in, 0.0, "read-out", None
        elif role == "norm":
            sw, sb, role_name, act = self.sw_star(fed), 0.0, "pre-norm", None
        else:
            sw, sb, role_name, act = self.sw_star(fed), 0.0, "linear", None
        fan_in = _fan_in(mod)
        p = self.densities.get(node.target, 1.0)
        self.layers.append(
            NetworkLayer(
                node.target,
                type(mod).__name__,
                role_name,
                fan_in,
                p,
                sw,
                sb,
                math.sqrt(sw / (p * fan_in)),
                math.sqrt(sb),
                q_in,
                act,
            )
        )
        return sw, sb, 0.0

    def embedding_q(self, node, mod):
        p = self.densities.get(node.target, 1.0)
        self.layers.append(
            NetworkLayer(
                node.target, "Embedding", "embedding", 1, p, 1.0, 0.0, 1.0 / math.sqrt(p), 0.0, math.nan
            )
        )
        return 1.0

    def embedding_table(self, node, mod, idx):
        """A positional Embedding at unit variance: independent N(0, 1) rows (q = 1, K_pos = 0)."""
        self.embedding_q(node, mod)
        return 1.0, 0.0

    def attention_variances(self, node, mod, s, T):
        from ..nn.attention import recommended_attention_scales

        q_in = s.q
        rec = recommended_attention_scales(
            q_in, s.c_pos if math.isfinite(s.c_pos) else 0.0, seq_len=T, logit_variance=self.logit_variance
        )
        sq, sk = rec.sigma_q2, rec.sigma_k2
        sv, so = rec.sigma_v2, rec.sigma_o2
        role, _ = _reaches(node, self.root)
        if role == "add":
            so *= self.beta2
        d = mod.embed_dim
        p = self.densities.get(node.target, 1.0)
        self.layers.append(
            NetworkLayer(
                node.target,
                "MultiheadAttention",
                "attention" + (" branch" if role == "add" else ""),
                d,
                p,
                sv * so,
                0.0,
                math.sqrt(sv / (p * d)),
                0.0,
                q_in,
                None,
                (sq, sk, sv, so),
            )
        )
        return sq, sk, sv, so, 0.0

    def norm_affine(self, node, mod):
        role, act = _reaches(node, self.root)
        g2 = self.point(act).q_star if role == "activation" else 1.0
        if getattr(mod, "weight", None) is None:
            g2 = 1.0
        self.layers.append(
            NetworkLayer(
                node.target,
                type(mod).__name__,
                "norm",
                0,
                1.0,
                math.nan,
                0.0,
                math.nan,
                0.0,
                self.q_in(node),
                act if role == "activation" else None,
                (g2,),
            )
        )
        return g2, 0.0, 0.0


def _fan_in(mod) -> int:
    import torch.nn as nn

    w = mod.weight
    kvol = int(np.prod(w.shape[2:])) if w.dim() > 2 else 1
    if isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        return (w.shape[0] // mod.groups) * kvol
    return int(w.shape[1]) * kvol


def _weight_tensors(gm, root):
    """(path, weight shape) of every weight tensor the densities are spread over, in forward order."""
    import torch.nn as nn

    out, seen = [], set()
    for node in gm.graph.nodes:
        if node.op != "call_module" or node.target in seen:
            continue
        mod = root.get_submodule(node.target)
        if isinstance(mod, nn.MultiheadAttention):
            seen.add(node.target)
            d = mod.embed_dim
            out += [(node.target, (d, d))] * 4  # q, k, v and out: four d x d matrices
        elif isinstance(
            mod,
            _weight_types(),
        ):
            seen.add(node.target)
            w = mod.weight
            out.append((node.target, tuple(int(v) for v in w.shape)))
    return out


def _erk_densities(tensors, density):
    """Erdos-Renyi-Kernel densities p_l ~ sum(dims) / prod(dims) of each weight tensor, scaled to the budget
    and capped at 1 (Mocanu et al. 2018 for matrices; Evci et al. 2020 with the kernel dimensions)."""
    if density >= 1:
        return {t[0]: 1.0 for t in tensors}
    n = np.array([math.prod(dims) for _, dims in tensors], dtype=float)
    raw = np.array([sum(dims) / math.prod(dims) for _, dims in tensors], dtype=float)
    dense = np.zeros(len(tensors), dtype=bool)
    budget = density * n.sum()
    for _ in range(len(tensors) + 1):
        free = ~dense
        eps = (budget - n[dense].sum()) / (raw[free] * n[free]).sum()
        p = np.where(dense, 1.0, eps * raw)
        over = (p > 1) & free
        if not over.any():
            break
        dense |= over
    return {t[0]: float(min(1.0, v)) for t, v in zip(tensors, p, strict=True)}


def _n_residual(gm, root) -> int:
    return sum(1 for node in gm.graph.nodes if _kind_of(node, root)[0] == "add")


def recommend_network(
    module,
    example_input=None,
    *,
    input_shape=None,
    input_dtype=None,
    inputs=None,
    q_star=None,
    density=1.0,
    scheme="erk",
    weights="gaussian",
    branch_scale="stable",
    logit_variance=1.0,
    readout_variance=1.0,
    pass_through=(),
    rng=0,
) -> NetworkRecommendation:
    """Recommended initialization of a torch module from its computation graph (see the module docstring).

    Parameters
    ----------
    module : torch.nn.Module
        A traceable module of the operations :func:`cascades.bridge.signal_graph` covers.
    example_input, input_shape, input_dtype, inputs, pass_through
        As for :func:`cascades.bridge.signal_graph` (one of ``example_input`` and ``input_shape``).
    q_star : float, optional
        Target pre-activation variance (default 1 for every activation; see
        :func:`cascades.nn.critical_point`). Where it is an unstable fixed point of an activation
        (GELU, SiLU at q* = 1), that activation's layers move to the nearest stable point
        (``stability="nearest"``; the chain reading of :func:`cascades.recommend` keeps it while the
        drift over the depth stays small, ``stability="auto"``).
    density : float
        Overall fraction of weights kept, in (0, 1].
    scheme : {"erk", "uniform"}
        How the budget is spread over the weight tensors (every attention projection counted as a
        d x d matrix): Erdos-Renyi-Kernel (Evci et al. 2020), or the same density everywhere.
    weights : {"gaussian", "isometric"}
        "isometric": :func:`cascades.bridge.isometric_init` decides the weights (dense only); the
        prediction is made for a copy initialized that way with ``rng``.
    branch_scale : "stable", "none" or float
        beta of the residual branches: 1 / sqrt(L) ("stable"), 1 ("none"), or the given value.
    logit_variance : float
        Target variance of the attention logits (> 0).
    readout_variance : float
        Target variance of the read-out layer's outputs (> 0).
    rng : None, int or numpy.random.Generator
        Used only with ``weights="isometric"``, for the copy the prediction is made on.

    Returns
    -------
    NetworkRecommendation

    Raises
    ------
    ValueError
        Bad parameters (named, with the allowed range), or a module the graph propagation does
        not cover (the node, its module path and what is covered).

    Examples
    --------
    >>> import torch.nn as nn
    >>> class Block(nn.Module):
    ...     def __init__(self, d):
    ...         super().__init__()
    ...         self.fc1, self.fc2 = nn.Linear(d, d), nn.Linear(d, d)
    ...     def forward(self, x):
    ...         return x + self.fc2(nn.functional.relu(self.fc1(x)))
    >>> net = nn.Sequential(nn.Linear(8, 32), *[Block(32) for _ in range(4)], nn.Linear(32, 3))
    >>> rec = recommend_network(net, input_shape=(2, 8))
    >>> rec.n_residual, round(rec.branch_scale, 3), rec["1.fc2"].role
    (4, 0.5, 'branch')
    """
    import torch.nn as nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    density = check_real("density", density, low=0, high=1, low_open=True)
    q_star = 1.0 if q_star is None else check_real("q_star", q_star, low=0, low_open=True, high=1e100)
    logit_variance = check_real("logit_variance", logit_variance, low=0, low_open=True, high=1e4)
    readout_variance = check_real("readout_variance", readout_variance, low=0, low_open=True, high=1e100)
    if scheme not in ("erk", "uniform"):
        raise ValueError(f"scheme must be 'erk' or 'uniform' for the graph reading, got {scheme!r}")
    if weights not in ("gaussian", "isometric"):
        raise ValueError(f"weights must be 'gaussian' or 'isometric', got {weights!r}")
    if weights == "isometric" and density < 1:
        raise ValueError(
            "weights='isometric' needs density = 1 (--density 1 on the command line): an isometric scheme on "
            "a sparse mask is not exact"
        )
    inputs = InputStats() if inputs is None else inputs
    if isinstance(pass_through, str):
        pass_through = (pass_through,)
    example = _example(module, example_input, input_shape, input_dtype)
    gm = _trace_with_shapes(module, example, leaves=tuple(pass_through))
    root = _root(module)
    L = _n_residual(gm, root)
    if branch_scale == "stable":
        beta = 1.0 / math.sqrt(L) if L else 1.0
    elif branch_scale == "none":
        beta = 1.0
    else:
        beta = check_real("branch_scale", branch_scale, low=0, low_open=True, high=1e50)
    tensors = _weight_tensors(gm, root)
    dens = _erk_densities(tensors, density) if scheme == "erk" else {t[0]: density for t in tensors}
    notes = []
    if weights == "isometric":
        from .isometric import isometric_init

        report = isometric_init(copy.deepcopy(module), rng=rng)  # the structure and schemes, on a copy
        if report.isometric:
            notes.append(
                "exact at initialization: the network computes a linear map whose singular values are all 1, "
                "so every input's squared norm and every pair's inner product reach the output unchanged (no "
                "mean-field approximation; the per-node Gaussian table does not apply to these correlated "
                "weights)"
            )
        else:
            notes.append(f"not exactly isometric: {report.reason}")
        notes += list(report.notes)
        layers = tuple(
            NetworkLayer(
                lay.name, lay.type, lay.scheme, lay.in_features, 1.0, math.nan, 0.0, math.nan, 0.0, math.nan
            )
            for lay in report.layers
        )
        return NetworkRecommendation(
            layers=layers,
            signal=None,
            weights="isometric",
            q_star=q_star,
            branch_scale=1.0,
            n_residual=L,
            logit_variance=logit_variance,
            readout_variance=readout_variance,
            density=1.0,
            input_shape=tuple(example[0].shape),
            schemes=tuple(report.schemes.items()),
            notes=tuple(notes),
        )
    walker = _Recommender(
        gm,
        root,
        inputs,
        pass_through,
        module.training,
        q_star=q_star,
        logit_variance=logit_variance,
        readout_variance=readout_variance,
        beta2=beta * beta,
        densities=dens,
    )
    try:
        walker.run()
    except _Unsupported as exc:
        raise ValueError(str(exc)) from None
    notes.append("positions treated as exchangeable (every pair of positions has the same correlation)")
    notes += walker.notes
    if walker.used_pass:
        notes.append(f"pass-through (statistics copied, not predicted): {', '.join(walker.used_pass)}")
    signal = SignalGraph(
        nodes=tuple(walker.rows),
        output=walker.output,
        pass_through=tuple(walker.used_pass),
        notes=tuple(notes),
    )
    notes = []  # printed once, with the per-node table
    return NetworkRecommendation(
        layers=tuple(walker.layers),
        signal=signal,
        weights="gaussian",
        q_star=q_star,
        branch_scale=beta,
        n_residual=L,
        logit_variance=logit_variance,
        readout_variance=readout_variance,
        density=density,
        input_shape=tuple(example[0].shape),
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------
# applying it
# ---------------------------------------------------------------------------------------------


def _normal(gen, shape, std, like):
    import torch

    w = gen.standard_normal(shape) * std
    return torch.from_numpy(w).to(device=like.device, dtype=like.dtype)


def _mask(gen, shape, p, like):
    import torch

    if p >= 1:
        return None
    n = int(np.prod(shape))
    k = max(1, int(round(p * n)))
    m = np.zeros(n, dtype=bool)
    m[gen.choice(n, size=k, replace=False)] = True
    return torch.from_numpy(m.reshape(shape)).to(device=like.device, dtype=like.dtype)


def apply_network(module, recommendation: NetworkRecommendation, *, rng=None):
    """Initialize ``module`` in place as ``recommendation`` says (from :func:`recommend_network`).

    Weights are Gaussian with the recommended standard deviations (a sparse layer's kept weights
    at sqrt(sigma_w2 / (density fan_in)), its mask a uniformly random set of round(density n)
    entries attached with :func:`torch.nn.utils.prune.custom_from_mask`); biases N(0, sigma_b2);
    attention projections with their own scales; normalization scales gamma = sqrt(gamma^2) and
    shifts 0. With ``weights="isometric"``, :func:`cascades.bridge.isometric_init` is applied.
    Values are drawn in float64 numpy from ``rng`` and created where each parameter lives.

    Returns
    -------
    module
        The same module.

    Examples
    --------
    >>> import torch.nn as nn
    >>> net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))
    >>> rec = recommend_network(net, input_shape=(4, 8))
    >>> rec["0"].role, round(rec["0"].sigma_w2, 3), round(rec["0"].sigma_b2, 3)   # tanh at q* = 1
    ('pre-activation', 0.849, 0.151)
    >>> rec["2"].role, round(rec["2"].sigma_w2, 3)       # logits of variance 1 from q_in = E[tanh^2]
    ('read-out', 2.536)
    >>> net = apply_network(net, rec, rng=0)
    >>> round(float(net[0].weight.detach().pow(2).sum(1).mean()), 2)   # 16 rows of about 0.849
    0.77
    """
    import torch
    from torch.nn.utils import prune

    from .torch import _unprune

    if not isinstance(recommendation, NetworkRecommendation):
        raise TypeError(
            f"recommendation must be a NetworkRecommendation, got {type(recommendation).__name__}"
        )
    if recommendation.weights == "isometric":
        from .isometric import isometric_init

        isometric_init(module, rng=rng)
        return module
    gen = as_generator(rng)
    with torch.no_grad():
        for lay in recommendation.layers:
            try:
                mod = module if (lay.name == "0" and _is_leaf(module)) else module.get_submodule(lay.name)
            except AttributeError:
                raise ValueError(
                    f"module has no submodule {lay.name!r}: the recommendation was made for another module"
                ) from None
            if lay.kind == "MultiheadAttention":
                sq, sk, sv, so = lay.detail
                d = mod.embed_dim
                _unprune(mod)
                W = mod.in_proj_weight
                if W.is_meta:
                    continue
                masks = []
                for i, s2 in enumerate((sq, sk, sv)):  # q, k and v: each its own scale and mask
                    W[i * d : (i + 1) * d] = _normal(gen, (d, d), math.sqrt(s2 / (lay.density * d)), W)
                    masks.append(_mask(gen, (d, d), lay.density, W))
                if masks[0] is not None:
                    prune.custom_from_mask(mod, "in_proj_weight", mask=torch.cat(masks))
                if mod.in_proj_bias is not None:
                    mod.in_proj_bias.zero_()
                _unprune(mod.out_proj)
                Wo = mod.out_proj.weight
                Wo.copy_(_normal(gen, tuple(Wo.shape), math.sqrt(so / (lay.density * d)), Wo))
                m = _mask(gen, tuple(Wo.shape), lay.density, Wo)
                if m is not None:
                    prune.custom_from_mask(mod.out_proj, "weight", mask=m)
                if mod.out_proj.bias is not None:
                    mod.out_proj.bias.zero_()
            elif lay.role == "norm":
                if getattr(mod, "weight", None) is not None and not mod.weight.is_meta:
                    mod.weight.fill_(math.sqrt(lay.detail[0]))
                if getattr(mod, "bias", None) is not None and not mod.bias.is_meta:
                    mod.bias.zero_()
            else:
                _unprune(mod)
                W = mod.weight
                if W.is_meta:
                    continue
                W.copy_(_normal(gen, tuple(W.shape), lay.weight_std, W))
                b = getattr(mod, "bias", None)
                if b is not None:
                    b.copy_(_normal(gen, tuple(b.shape), lay.bias_std, b))
                m = _mask(gen, tuple(W.shape), lay.density, W)
                if m is not None:
                    prune.custom_from_mask(mod, "weight", mask=m)
    return module
