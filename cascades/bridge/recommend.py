"""Recommended initialization and sparse topology for an architecture.

:func:`recommend` answers "I have this architecture and this parameter budget: how should I
initialize it and which sparse topology should I start from?" with the mean-field theory of
:mod:`cascades.nn`. Every hidden pre-activation sits at one fixed point q* of the length map on the
edge of chaos of the activation in front of it (:func:`cascades.nn.critical_point`; Hayou, Doucet &
Rousseau 2019), the first layer is scaled so that its output is already at q*, the read-out layer
is scaled for logits, weights are rescaled for each mask's effective fan-in p_l fan_in (Gadhikar,
Mukherjee & Burkholz, ICML 2023), layer-wise densities come from
:func:`cascades.bridge.topology.layer_densities`, and the spread of q across units, the dead units
and the connectivity come from :func:`cascades.nn.sparse_signal_propagation` and the layered tree
recursion. Everything here is numpy (no numba compilation, so the first answer is fast); torch
modules are read by :mod:`cascades.bridge.trace`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings as _warnings
from dataclasses import asdict, dataclass, fields

import numpy as np

from .._validation import check_real
from ..nn import (
    c_fixed_point,
    expect_dphi_dphi,
    expect_dphi_power,
    expect_dphi_sq,
    expect_phi_sq,
    expect_phi_sq_slope,
    get_activation,
    q_fixed_point,
    sparse_signal_propagation,
)
from ..nn._guard import guard
from ..nn.criticality import CriticalPoint, critical_point, is_homogeneous
from ..nn.meanfield import _VARIANCE_MAX
from ..nn.sparse import _propagation_peak_bytes
from .topology import LayerShape, _shown_shapes, layer_densities, parse_architecture
from .weights import WEIGHT_LAWS

__all__ = ["LayerRecommendation", "Recommendation", "recommend"]

_CHI1_TOL = 0.05  # |chi_1 - 1| above this is reported as an ordered / chaotic phase
#: ``stability="auto"`` keeps an unstable q* while a deviation from it grows at most this much over the
#: hidden layers (q_slope ** n_hidden), and moves to the nearest stable point beyond (benchmarks/README.md:
#: on MNIST-5k, 20 x 256, the kept q* = 1 trained as well or better for GELU and SiLU (drift 3.4, 6.0);
#: at 40 x 256 it still did for GELU (drift 12.6) but failed for SiLU (drift 40), where the stable point
#: trained)
AUTO_DRIFT = 20.0
STABILITY = ("auto", "keep", "nearest")
# Below this expected in-degree a masked layer has no (approximate) isometry worth the name
# (cascades.bridge.weights.approximate_isometry, measured on 256 x 256 masks)
_ISOMETRY_MIN_FAN_IN = 8
TRAINABLE_DEPTH_FACTOR = 6.0  # Schoenholz et al. (2017): networks train up to about 6 xi_c layers


def _same(a, b) -> bool:
    """Equality in which NaN equals NaN (recursively through tuples and dataclasses)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "__dataclass_fields__") and type(a) is type(b):
        return all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b


class _NanEq:
    """Dataclass equality that treats NaN fields (undefined quantities) as equal."""

    def __eq__(self, other):
        return type(self) is type(other) and _same(self, other)

    def __hash__(self):
        return hash(json.dumps(_enc(asdict(self)), sort_keys=True))


@dataclass(frozen=True, eq=False)
class LayerRecommendation(_NanEq):
    """Recommendation for one layer (see :func:`recommend`).

    Attributes
    ----------
    index : int
        0-based layer index.
    shape : tuple
        ("linear", in, out) or ("conv2d", c_in, c_out, k_h, k_w).
    fan_in, fan_out : int
        in_features or c_in k_h k_w; out_features or c_out k_h k_w (PyTorch's convention).
    n_weights : int
        N_l, entries of the weight tensor.
    density : float
        p_l, the probability that a weight is kept.
    expected_in_degree : float
        p_l fan_in, the effective fan-in (for in-degree-regular masks the exact in-degree
        max(1, round(p_l fan_in))).
    weight_std : float
        sqrt(sigma_w^2 / (p_l fan_in)) with this layer's sigma_w^2; with ``init_rule == "neuron"``
        the weights of a unit with k inputs get sqrt(sigma_w^2 / k) instead and this is the value at
        k = p_l fan_in.
    bias_std : float
        sqrt(sigma_b^2) of this layer.
    init_rule : str
        "layer" or "neuron".
    q : float
        Mean-field q^l: the variance of the layer's pre-activations (q* for the layers at the
        operating point; the logit variance for the read-out layer).
    q_std : float
        Spread of q across units due to the random in-degree (finite fan-in closure of
        :func:`cascades.nn.sparse_signal_propagation`).
    chi1 : float
        sigma_w^2 E[phi'(sqrt(q^l) z)^2] with phi the activation after this layer and sigma_w^2 the
        weight variance of the layers that follow that activation: the growth factor of squared
        gradients through the next layer. NaN for the read-out layer (no activation after it).
    dead_fraction : float
        (1 - p_l)^{fan_in}: units with no input (expected fraction; 0 for in-degree-regular masks).
        q_std, dead_fraction and p_connected_to_input are Erdos-Renyi-mask predictions, also when the
        recommendation asks for in-degree-regular masks.
    p_connected_to_input : float
        Probability that a unit has a path from the input (layered tree recursion).
    sigma_w2, sigma_b2 : float
        This layer's weight variance (times the effective fan-in) and bias variance.
    activation : str or None
        Registry name of the activation applied to this layer's output; None for the read-out layer.
    readout : bool
        True for a read-out layer (no activation after it; initialised for logits).
    """

    index: int
    shape: tuple
    fan_in: int
    fan_out: int
    n_weights: int
    density: float
    expected_in_degree: float
    weight_std: float
    bias_std: float
    init_rule: str
    q: float
    q_std: float
    chi1: float
    dead_fraction: float
    p_connected_to_input: float
    sigma_w2: float = math.nan
    sigma_b2: float = math.nan
    activation: str | None = None
    readout: bool = False

    @property
    def layer_shape(self) -> LayerShape:
        """The :class:`~cascades.bridge.topology.LayerShape` of this layer."""
        return LayerShape(self.shape[0], self.shape[1], self.shape[2], tuple(self.shape[3:]))


def _enc(x):
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, (tuple, list)):
        return [_enc(v) for v in x]
    if isinstance(x, dict):
        return {k: _enc(v) for k, v in x.items()}
    return x


def _dec_float(x):
    return float(x) if isinstance(x, str) and x in ("inf", "-inf", "nan") else x


_STRINGS = ("activation", "scheme", "weights", "point", "init_rule", "kind")


@dataclass(frozen=True, eq=False)
class Recommendation(_NanEq):
    """Recommended initialization and topology for an architecture (returned by :func:`recommend`).

    Attributes
    ----------
    layers : tuple of LayerRecommendation
        One per weight layer, in order.
    activation : str
        The hidden activation (its registry name); several joined by "," when the layers differ.
    scheme : str
        Density scheme (:func:`cascades.bridge.topology.layer_densities`).
    density : float
        Requested overall density.
    achieved_density : float
        sum_l p_l N_l / sum_l N_l.
    sigma_w2, sigma_b2 : float
        The hidden layers' weight variance (times the effective fan-in) and bias variance (NaN with
        mixed activations: see the layers).
    chi1 : float
        chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] at the operating point (every hidden layer has it).
    depth_scale : float
        xi_c of Schoenholz et al. (2017) at the operating point (inf at the edge of chaos).
    trainable_depth : float
        About 6 xi_c.
    in_degree_regular, flow_preserving : bool
        Mask options used by :func:`cascades.bridge.to_torch` / :func:`cascades.bridge.draw_masks`.
    warnings : tuple of str
        Problems found: an unstable or degenerate operating point, a layer below the connectivity
        threshold, an ordered or chaotic phase, output units disconnected from the input, the overall
        density not met, depth beyond the trainable depth.
    weights : str
        "gaussian" or "orthogonal" (:func:`cascades.bridge.weights.draw_weights`).
    jacobian_mean, jacobian_variance : float
        Predicted mean and variance of the squared singular values of the input-output Jacobian
        J = D_L W_L ... D_1 W_1 of the whole network (mean-field, square-layer free-probability
        formula): mean prod_l sigma_w,l^2 mu_1,l and variance mean^2 sum_l (mu_2,l / mu_1,l^2 - 1 - s_1),
        mu_k,l = E[phi_l'(sqrt(q^l) z)^(2k)] (1 for the read-out layer), s_1 = -1 (Gaussian) or 0
        (orthogonal) (Pennington, Schoenholz & Ganguli 2017, eqs. 16-18). At the operating point the
        mean is readout_variance / q0.
    q_star : float
        The operating point: the variance of every hidden pre-activation (nan when the layers do not
        sit at a fixed point: ``point == "trajectory"``).
    q_slope : float
        Slope of the length map at q* (< 1: deviations from q* decay; > 1: they grow per layer); with
        several activations the largest.
    kind : str
        ``"stable"``, ``"neutral"``, ``"unstable"`` or ``"degenerate"`` (:class:`cascades.nn.CriticalPoint`).
    point : str
        ``"critical"`` (on the edge of chaos at q*), ``"fixed"`` (the user's sigma_w^2: at the fixed
        point q* of its length map, not necessarily critical) or ``"trajectory"`` (no finite fixed point
        the layers sit at; q^l and chi_1 change from layer to layer, see the table).
    target_q_star : float
        The q* that was asked for (nan when sigma_b^2 or sigma_w^2 was fixed).
    q0 : float
        Mean squared input entry the first layer is scaled for.
    readout_variance : float
        Variance of the logits the read-out layer is scaled for (nan without a read-out layer).
    notes : tuple of str
        What the recommendation chose and why (e.g. a moved q*).
    """

    layers: tuple
    activation: str
    scheme: str
    density: float
    achieved_density: float
    sigma_w2: float
    sigma_b2: float
    chi1: float
    depth_scale: float
    trainable_depth: float
    in_degree_regular: bool
    flow_preserving: bool
    warnings: tuple
    weights: str = "gaussian"
    jacobian_mean: float = math.nan
    jacobian_variance: float = math.nan
    q_star: float = math.nan
    q_slope: float = math.nan
    kind: str = ""
    point: str = "critical"
    target_q_star: float = math.nan
    q0: float = 1.0
    readout_variance: float = math.nan
    notes: tuple = ()

    @property
    def shapes(self) -> tuple:
        """The layers' :class:`~cascades.bridge.topology.LayerShape`."""
        return tuple(lay.layer_shape for lay in self.layers)

    @property
    def densities(self) -> np.ndarray:
        """p_l of every layer."""
        return np.array([lay.density for lay in self.layers])

    @property
    def activations(self) -> tuple:
        """The activation after every layer (None for a read-out layer)."""
        return tuple(lay.activation for lay in self.layers)

    @property
    def xi_q(self) -> float:
        """Depth scale -1 / ln(q_slope) of the length map at q* (inf if neutral, nan off a fixed point)."""
        s = self.q_slope
        if not math.isfinite(s):
            return math.nan
        if s >= 1.0 - 1e-9:
            return math.inf if s <= 1.0 + 1e-9 else -1.0 / math.log(s)
        return -1.0 / math.log(s) if s > 0 else 0.0

    def to_dict(self) -> dict:
        """Plain dict (tuples become lists)."""
        return asdict(self)

    def to_json(self, **kwargs) -> str:
        """JSON text; non-finite floats are written as the strings "inf" / "nan" (strict JSON)."""
        return json.dumps(_enc(self.to_dict()), allow_nan=False, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> Recommendation:
        """Inverse of :meth:`to_json` (also reads files written before the per-layer fields existed).

        Raises TypeError if ``text`` is not str / bytes, ValueError if it is not the JSON of a
        recommendation (naming the first missing field).
        """
        if not isinstance(text, (str, bytes, bytearray)):
            raise TypeError(f"text must be the JSON text of a Recommendation (a str), got "
                            f"{type(text).__name__}")
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"text is not JSON: {exc}") from None
        what = "text is not the JSON of a Recommendation"
        if not isinstance(d, dict) or not isinstance(d.get("layers"), list):
            raise ValueError(f"{what}: it must be an object with a list 'layers'")
        need = [f.name for f in fields(cls) if f.default is dataclasses.MISSING]
        lay_need = [f.name for f in fields(LayerRecommendation) if f.default is dataclasses.MISSING]
        missing = [k for k in need if k not in d]
        for i, lay in enumerate(d["layers"]):
            if not isinstance(lay, dict):
                raise ValueError(f"{what}: layers[{i}] must be an object")
            missing += [f"layers[{i}].{k}" for k in lay_need if k not in lay]
        if missing:
            raise ValueError(f"{what}: missing {', '.join(missing[:5])}")
        lay_fields = {f.name for f in fields(LayerRecommendation)}
        top_fields = {f.name for f in fields(cls)}
        layers = []
        for lay in d["layers"]:
            lay = {k: v if k in _STRINGS else _dec_float(v) for k, v in lay.items() if k in lay_fields}
            lay["shape"] = tuple(lay["shape"])
            layers.append(LayerRecommendation(**lay))
        top = {k: v if k in _STRINGS else _dec_float(v) for k, v in d.items() if k in top_fields}
        top["layers"] = tuple(layers)
        top["warnings"] = tuple(d["warnings"])
        top["notes"] = tuple(d.get("notes", ()))
        return cls(**top)

    def _header(self) -> list:
        acts = self.activation
        lines = [f"Recommendation: {acts}, scheme {self.scheme}, density {self.density:g} "
                 f"(achieved {self.achieved_density:.4g}), {self.weights} weights"]
        same = "," not in acts
        var = (f"sigma_w^2 = {self.sigma_w2:.6g}, sigma_b^2 = {self.sigma_b2:.6g}" if same
               else "sigma_w^2 and sigma_b^2 per layer (table)")
        xi_q = (f"deviations from q* grow e-fold every {-self.xi_q:.3g} layers" if self.xi_q < 0
                else f"xi_q = {self.xi_q:.4g}")
        depth = f"{xi_q}, xi_c = {self.depth_scale:.4g}, trainable depth ~ {self.trainable_depth:.4g}"
        slope = "q-map slope" if same else "largest q-map slope"
        if self.point == "critical":
            lines.append(f"edge of chaos at q* = {self.q_star:.6g}: {var}, chi_1 = {self.chi1:.6g}, "
                         f"{slope} {self.q_slope:.4g} ({self.kind}), {depth}")
        elif self.point == "fixed":
            lines.append(f"fixed point q* = {self.q_star:.6g} of the given {var}: chi_1 = {self.chi1:.6g}, "
                         f"q-map slope {self.q_slope:.4g} ({self.kind}), {depth}")
        elif not any(not lay.readout for lay in self.layers):
            lines.append("a single read-out layer (no hidden layer)")
        else:
            hid = [lay for lay in self.layers if not lay.readout]
            q = [lay.q for lay in hid]
            c = [lay.chi1 for lay in hid]
            lines.append(f"no fixed point the layers sit at ({var}): q^l goes from {q[0]:.4g} to {q[-1]:.4g} "
                         f"and chi_1 from {c[0]:.4g} to {c[-1]:.4g} over the layers (table)")
        io = [f"first layer scaled for inputs of mean square q0 = {self.q0:g}"]
        if any(lay.readout for lay in self.layers):
            io.append(f"read-out layer for logits of variance {self.readout_variance:g}")
        io.append(f"Jacobian squared singular values: mean {self.jacobian_mean:.4g}, "
                  f"variance {self.jacobian_variance:.4g}")
        lines.append("; ".join(io))
        return lines

    def __str__(self) -> str:
        cols = ("layer", "shape", "act", "fan_in", "density", "E[k_in]", "sigma_w^2", "w_std", "b_std", "q",
                "chi1", "dead", "P(conn)")
        rows = []
        for lay in self.layers:
            shp = "x".join(str(v) for v in lay.shape[1:])
            act = lay.activation or "(logits)"
            rows.append((
                str(lay.index), f"{lay.shape[0]} {shp}", act, str(lay.fan_in), f"{lay.density:.4g}",
                f"{lay.expected_in_degree:.4g}", f"{lay.sigma_w2:.4g}", f"{lay.weight_std:.4g}",
                f"{lay.bias_std:.4g}", f"{lay.q:.4g}", "-" if lay.readout else f"{lay.chi1:.4g}",
                f"{lay.dead_fraction:.3g}", f"{lay.p_connected_to_input:.4g}"))
        width = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
        lines = self._header()
        lines.append("  ".join(c.rjust(w) for c, w in zip(cols, width, strict=True)))
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, width, strict=True)) for r in rows]
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _ranges(idx) -> str:
    """'1-4, 7' for [1, 2, 3, 4, 7]."""
    out, start = [], idx[0]
    for a, b in zip(idx, idx[1:] + [None], strict=True):
        if b != a + 1:
            out.append(str(start) if start == a else f"{start}-{a}")
            start = b
    return ", ".join(out)


def _is_torch_module(obj) -> bool:
    return hasattr(obj, "modules") and hasattr(obj, "parameters") and callable(obj.modules)


def _input_stats(q0):
    from .graph import InputStats

    return InputStats(q=q0)


def _graph_reading(module, weights, input_shape, example_input) -> bool:
    """True when a torch module is read as a computation graph rather than as a chain of layers."""
    if input_shape is not None or example_input is not None or weights == "isometric":
        if weights == "isometric" and input_shape is None and example_input is None:
            raise ValueError("weights='isometric' reads the module as a computation graph: give input_shape= "
                             "(batch first) or example_input=")
        return True
    from .trace import read_module

    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            read_module(module)
    except ValueError as exc:
        raise ValueError(f"{type(module).__name__} is not a plain chain of Linear / Conv2d layers and "
                         f"activations, so recommend reads it as a computation graph, which needs the "
                         f"input's shape: give input_shape=(batch, ...) or example_input= (in the command "
                         f"line: --input-shape B,...). The chain reader said: {exc}") from None
    return False


def _read_architecture(architecture, activation, readout):
    """Layer shapes, the activation after every layer (None: read-out) and the activation names."""
    if _is_torch_module(architecture):
        from .trace import read_module

        ml = read_module(architecture)
        shapes = tuple(ml.shapes)
        acts = [None if a is None else get_activation(a).name for a in ml.activations]
        if activation is not None:
            given = get_activation(activation).name
            seen = sorted({a for a in acts[:-1] if a is not None} | ({acts[-1]} if acts[-1] else set()))
            if seen and seen != [given]:
                _warnings.warn(
                    f"activation={activation!r} contradicts the module, whose layers apply "
                    f"{', '.join(seen)}; the recommendation follows the module", UserWarning, stacklevel=3)
        if readout is not None:
            acts[-1] = None if readout else (acts[-1] or get_activation(activation or "linear").name)
        return shapes, acts
    shapes = parse_architecture(architecture)
    name = get_activation("relu" if activation is None else activation).name
    acts = [name] * len(shapes)
    if readout is None or readout:
        acts[-1] = None
    return shapes, acts


def _mean_field(act, q) -> tuple[float, float, float]:
    """E[phi^2], E[phi'^2] and E[phi'^4] at q (numpy quadrature or closed forms)."""
    a = get_activation(act)
    return (float(np.asarray(expect_phi_sq(a, q))), float(np.asarray(expect_dphi_sq(a, q))),
            float(np.asarray(expect_dphi_power(a, q, 2))))


def _common_point(names, target, stability) -> dict:
    """Critical points of every activation at one common q*: the target, or the nearest q* fine for all."""
    pts = {a: critical_point(a, q_star=target, stability=stability) for a in names}
    if len({p.q_star for p in pts.values()}) == 1:
        return pts
    cands = sorted({p.q_star for p in pts.values()}, key=lambda q: abs(math.log(q / target)))
    for q in cands:
        at = {a: critical_point(a, q_star=q, stability="keep") for a in names}
        if any(p.moved for p in at.values()):  # inadmissible for one of them
            continue
        if stability == "nearest" and any(p.kind == "unstable" for p in at.values()):
            continue
        reason = "; ".join(p.reason for p in pts.values() if p.reason)
        return {a: CriticalPoint(**{**p.__dict__, "target": target, "reason": reason})
                for a, p in at.items()}
    raise ValueError(
        f"no common q* for the activations {', '.join(names)} near q_star = {target:g}; "
        "pass q_star explicitly"
    )


def recommend(
    architecture,
    activation=None,
    density=1.0,
    scheme="erk",
    *,
    q_star=None,
    sigma_b2=None,
    sigma_w2=None,
    stability="auto",
    readout=None,
    readout_variance=1.0,
    per_neuron=False,
    epsilon=None,
    overrides=None,
    in_degree_regular=False,
    flow_preserving=False,
    q0=1.0,
    weights="gaussian",
    input_shape=None,
    example_input=None,
    branch_scale="stable",
    logit_variance=1.0,
    pass_through=(),
    rng=0,
) -> Recommendation:
    """Recommended initialization and sparse topology for an architecture.

    Parameters
    ----------
    architecture : sequence or torch.nn.Module
        Widths (n_0, ..., n_L) of an MLP, a list of layer shapes ``("linear", in, out)`` /
        ``("conv2d", c_in, c_out, k_h, k_w)`` (see :func:`cascades.bridge.topology.parse_architecture`),
        or a torch module: its Linear and Conv2d layers and the activation after each are read by
        :func:`cascades.bridge.trace.read_module` (torch.fx).
    activation : str, optional
        See :func:`cascades.nn.get_activation`. Default: read from the module; "relu" for widths and
        shapes. For a module, a value that contradicts what the module computes warns (UserWarning)
        and the module's activations are used.
    density : float
        Overall density p in (0, 1].
    scheme : {"erk", "uniform", "balanced", "pyramidal", "set"}
        See :func:`cascades.bridge.topology.layer_densities`.
    q_star : float, optional
        Target fixed point q* > 0: the variance of every hidden pre-activation. Default q0, except
        for the positively homogeneous activations (relu, leaky relu, linear), whose critical point
        (sigma_w^2 = 2 / (1 + a^2), sigma_b^2 = 0) serves every q*: there the default is sigma_w^2 q0,
        so the first layer gets the same sigma_w^2 as the others (He et al. 2015 init throughout).
    sigma_b2 : float, optional
        Fix the hidden bias variance (>= 0) instead of q*: the operating point is the critical point
        with that sigma_b^2 (:func:`cascades.nn.critical_point`). Where none exists at a finite q*
        (tanh or SELU at sigma_b^2 = 0: only q* = 0, which q reaches algebraically) the layers'
        trajectory is reported and a warning says so; where none exists at all (GELU, SiLU at
        sigma_b^2 = 0) it is a ValueError.
    sigma_w2 : float, optional
        Fix the hidden weight variance (>= 0; with ``sigma_b2``, default 0): no criticality is
        imposed; the layers sit at the attracting fixed point q* of that length map when it is finite,
        and the table shows their trajectory when it is not.
    stability : {"auto", "keep", "nearest"}
        When the target q* is unstable (the length map's slope s there exceeds 1, as for GELU and SiLU
        at q* = 1, s = 1.067 and 1.099): ``"keep"`` keeps it; ``"nearest"`` moves to the nearest point
        of the curve with slope <= 0.99 (GELU: q* = 5.11, SiLU: q* = 25.2); ``"auto"`` (default) keeps
        it while a deviation from q* grows at most ``AUTO_DRIFT`` = 20-fold over the hidden layers
        (s^n_hidden <= 20: up to 46 hidden layers for GELU, 31 for SiLU) and moves beyond. A kept
        unstable point is reported with its drift in ``notes`` (in ``warnings`` when the drift exceeds
        20); a move is explained in ``notes``. The rule follows the evidence (benchmarks/README.md,
        ``bench_init_mnist.py``): on MNIST-5k with 20 hidden layers of 256 the kept q* = 1 trained as
        accurately as the stable points when dense (GELU; SiLU 3 points better) and 2-7 points more
        accurately when sparse (the stable points lie in the ReLU-like regime of GELU and SiLU),
        while with 40 hidden layers SiLU at q* = 1 (drift 40) did not train and its stable point
        did. A target that needs sigma_b^2 < 0 (sigmoid at q* = 1) is moved whatever the policy, to
        the nearest admissible point.
    readout : bool, optional
        Whether the last layer is a read-out (no activation after it; logits). Default: read from the
        module; True for widths and shapes.
    readout_variance : float
        Variance v > 0 of the logits at initialisation (the read-out rule below).
    per_neuron : bool
        False: weight std sqrt(sigma_w^2 / (p_l fan_in)); True: sqrt(sigma_w^2 / k_i) with k_i the
        unit's own in-degree (applied by :func:`cascades.bridge.to_torch`).
    epsilon, overrides :
        Passed to :func:`cascades.bridge.topology.layer_densities`.
    in_degree_regular, flow_preserving : bool
        Mask options (see :func:`cascades.bridge.topology.draw_masks`), recorded for export.
    q0 : float
        Mean squared input entry (> 0): the first layer is scaled for it.
    weights : {"gaussian", "orthogonal", "isometric"}
        Weight law used by the export (:func:`cascades.bridge.weights.draw_weights`): Gaussian, or
        orthogonal (Haar for dense layers, the approximate isometry of Lee et al. 2020 on a mask), at
        the same mean squared entry. The q and c maps are the same in the mean-field limit; what
        changes is the predicted Jacobian spectrum variance (s_1 = 0 instead of -1) and, on a mask,
        the spread of q across units (that of the per-neuron rule). "isometric" (a torch module,
        dense): the isometric scheme the theory knows for the architecture,
        :func:`cascades.bridge.isometric_init` (looks-linear for ReLU chains, RISOTTO for ReLU
        residual blocks, orthogonal where it suffices); the result says which layer got which.
    input_shape, example_input : optional
        For a torch module: read it as a computation graph (:func:`cascades.bridge.recommend_network`)
        on an input of this shape (batch first) or this example. Needed for every module that is not
        a plain chain of Linear / Conv2d layers and activations (residual additions, normalization,
        attention, Conv1d / Conv3d / grouped convolutions, Embedding, ...); the result is then a
        :class:`~cascades.bridge.NetworkRecommendation` with a per-node table.
    branch_scale, logit_variance, pass_through, rng
        Graph reading only: see :func:`cascades.bridge.recommend_network`.

    Returns
    -------
    Recommendation
        ``str(rec)`` prints a header and a per-layer table; at the operating point every hidden
        layer's q equals the header's q* and its chi1 the header's chi_1, by construction.

    Raises
    ------
    ValueError
        For a density outside (0, 1] or too low for any connected topology (fewer kept weights
        than units), an unknown scheme, activation (in the module or by name) or weight law,
        orthogonal weights with the per-neuron rule, q_star <= 0, q0 <= 0, invalid widths or layer
        shapes, negative variances, a module with no weight layer or an unsupported layer, and an
        activation or bias variance without a critical point.

    Notes
    -----
    Rules, layer by layer (sigma_w^2 always relative to the effective fan-in p_l fan_in):

    * hidden layer l >= 1 after activation phi: (sigma_w^2, sigma_b^2) of the edge of chaos of phi
      at q* (sigma_w^2 = 1 / E[phi'^2], sigma_b^2 = q* - E[phi^2] / E[phi'^2]; Hayou, Doucet &
      Rousseau 2019), so q^l = q* and chi_1 = 1;
    * first layer: the bias variance of the hidden layers and sigma_w^2 = (q* - sigma_b^2) / q0, so
      that inputs of mean square q0 give q^1 = q* (for ReLU at the default q* this is He's 2);
    * read-out layer (no activation after it): sigma_w^2 = v / E[phi(sqrt(q*) z)^2] and no bias, so
      the logits have variance v (``readout_variance``, default 1) whatever the width and density.
      With C classes and logits N(0, v) the expected initial cross-entropy is E[log sum_c e^{z_c}],
      about ln C + v (1 - 1 / C) / 2 for small v (2.73 for C = 10, v = 1; ln 10 = 2.30), instead
      of 2.9-4.5 when the read-out layer gets the hidden sigma_w^2 = 2.

    With the per-layer rule the q and c maps are those of the dense network with the effective
    fan-in (Gadhikar, Mukherjee & Burkholz 2023), so the network sits at the edge of chaos for any
    density. The spread of q across units and the dead fraction come from
    :func:`cascades.nn.sparse_signal_propagation` (finite fan-in Gamma closure), chained layer by
    layer through the mean and the kurtosis of phi(h)^2. The probability of a path from the input
    is the layered tree recursion P_l = 1 - (1 - p_l P_{l-1})^{fan_in} of
    :func:`cascades.nn.input_connectivity`. A layer is flagged when p_l fan_in < ln(out units), the
    connectivity threshold of Erdos-Renyi graphs. Cost: a few hundred one-dimensional Gaussian
    expectations in numpy (no numba compilation); with ``sigma_w2`` in the chaotic phase, one
    correlation fixed point (two-dimensional expectations).

    References
    ----------
    Poole et al., NeurIPS 2016; Schoenholz et al., ICLR 2017 (xi_c, trainable depth ~ 6 xi_c);
    Hayou, Doucet & Rousseau, ICML 2019 (the edge of chaos as a curve); He et al., ICCV 2015;
    Evci et al., ICML 2020 (ERK); Mocanu et al., Nat. Commun. 2018 (SET); Gadhikar, Mukherjee &
    Burkholz, ICML 2023 (sparse rescaling); Pennington, Schoenholz & Ganguli, NeurIPS 2017 and
    AISTATS 2018 (Jacobian spectrum, orthogonal weights); Lee et al., ICLR 2020 (approximate
    isometry on a mask).

    Examples
    --------
    >>> rec = recommend([784, 300, 100, 10], "relu", density=0.1)
    >>> [round(lay.density, 4) for lay in rec.layers]
    [0.0796, 0.2302, 1.0]
    >>> [round(lay.sigma_w2, 4) for lay in rec.layers]   # He, He, logits of variance 1
    [2.0, 2.0, 1.0]
    >>> rec = recommend([784, 256, 256, 10], "tanh")
    >>> round(rec.q_star, 6), round(rec.sigma_w2, 4), round(rec.sigma_b2, 4), round(rec.chi1, 6)
    (1.0, 2.1533, 0.151, 1.0)
    >>> [round(lay.q, 6) for lay in rec.layers]          # the table agrees with the header
    [1.0, 1.0, 1.0]
    >>> rec = recommend([784, 256, 256, 10], "gelu")     # q* = 1 is unstable for GELU: kept, noted
    >>> rec.q_star, rec.kind, round(rec.q_slope, 3)
    (1.0, 'unstable', 1.067)
    >>> rec = recommend([784, 256, 256, 10], "gelu", stability="nearest")   # or moved
    >>> round(rec.q_star, 3), rec.kind
    (5.109, 'stable')
    >>> Recommendation.from_json(rec.to_json()) == rec
    True
    """
    if _is_torch_module(architecture):
        graph = _graph_reading(architecture, weights, input_shape, example_input)
        if graph:
            from .network import recommend_network

            if sigma_w2 is not None or sigma_b2 is not None or per_neuron or overrides or in_degree_regular \
                    or flow_preserving or scheme not in ("erk", "uniform"):
                raise ValueError(
                    "the graph reading (input_shape / example_input, or an architecture that is not a plain "
                    "chain) supports q_star, density with scheme 'erk' or 'uniform', weights, "
                    "branch_scale, logit_variance, readout_variance and pass_through; not sigma_w2, "
                    "sigma_b2, per_neuron, overrides, in_degree_regular, flow_preserving or another scheme")
            given = None if activation is None else get_activation(activation).name
            rec = recommend_network(architecture, example_input, input_shape=input_shape, q_star=q_star,
                                    density=density, scheme=scheme, weights=weights,
                                    branch_scale=branch_scale,
                                    logit_variance=logit_variance, readout_variance=readout_variance,
                                    pass_through=pass_through, rng=rng,
                                    inputs=None if q0 == 1.0 else _input_stats(q0))
            if given is not None and rec.signal is not None:
                seen = sorted({row.op.split(" ", 1)[1] for row in rec.signal.nodes
                               if row.op.startswith("activation ")})
                if seen != [given]:
                    raise ValueError(f"activation={activation!r} contradicts the module, whose graph applies "
                                     f"{', '.join(seen) or 'no activation'}; the graph reading takes the "
                                     f"activations from the module: drop activation=")
            return rec
    elif weights == "isometric":
        raise ValueError("weights='isometric' needs a torch module (the scheme depends on its structure); "
                         "for an MLP given by widths use to_torch(..., looks_linear=True)")
    shapes, acts = _read_architecture(architecture, activation, readout)
    L = len(shapes)
    density = check_real("density", density, low=0, high=1, low_open=True)
    # variances up to 1e100, as in cascades.nn.meanfield (beyond, the 2-D expectations overflow)
    q0 = check_real("q0", q0, low=0, low_open=True, high=_VARIANCE_MAX)
    v = check_real("readout_variance", readout_variance, low=0, low_open=True, high=_VARIANCE_MAX)
    if stability not in STABILITY:
        raise ValueError(f"stability must be one of {', '.join(STABILITY)}; got {stability!r}")
    policy = "keep" if stability == "auto" else stability  # for critical_point
    if weights not in WEIGHT_LAWS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_LAWS)}; got {weights!r}")
    if weights == "orthogonal" and per_neuron:
        raise ValueError("per_neuron=True applies to Gaussian weights only; orthogonal weights already "
                         "give every unit the same row norm")
    if q_star is not None:
        q_star = check_real("q_star", q_star, low=0, low_open=True, high=_VARIANCE_MAX)
    if sigma_b2 is not None:
        sigma_b2 = check_real("sigma_b2", sigma_b2, low=0, high=_VARIANCE_MAX)
    if sigma_w2 is not None:
        sigma_w2 = check_real("sigma_w2", sigma_w2, low=0, high=_VARIANCE_MAX)
    if q_star is not None and (sigma_b2 is not None or sigma_w2 is not None):
        raise ValueError("q_star fixes the operating point: give it without sigma_b2 and sigma_w2")

    readout_flags = [a is None for a in acts]
    if any(readout_flags[:-1]):
        raise ValueError("only the last layer can be a read-out layer (an activation must follow the others)")
    is_readout = readout_flags[-1]
    n_hidden = sum(1 for i in range(1, L) if not (is_readout and i == L - 1))  # layers fed by an activation
    names = list(dict.fromkeys(a for a in acts if a is not None))  # in order; [] for a lone read-out layer
    mixed = len(names) > 1
    notes, warns = [], []

    # -------- the operating point of the hidden layers --------
    point, pts, q_star_op = "critical", {}, math.nan
    target = math.nan
    if sigma_w2 is not None:
        if mixed:
            raise ValueError("sigma_w2 fixes one weight variance: give it for a network with one activation")
        point = "fixed"
        sb = 0.0 if sigma_b2 is None else sigma_b2
        for a in names:
            qs = float(q_fixed_point(a, sigma_w2, sb))
            q_star_op = qs
            pts[a] = (sigma_w2, sb)
        if not (math.isfinite(q_star_op) and q_star_op > 0):
            point = "trajectory"
    elif sigma_b2 is not None:
        if mixed:
            raise ValueError("with several activations fix q_star, not sigma_b2 (each would get its own q*)")
        for a in names:
            cp = critical_point(a, sigma_b2=sigma_b2)
            pts[a] = (cp.sigma_w2, cp.sigma_b2, cp)
            if cp.kind == "degenerate":
                point = "trajectory"
                alt = critical_point(a, q_star=q0, stability=policy)
                warns.append(
                    f"with sigma_b2 = {sigma_b2:g}, {a} has no critical point at a finite q*: its only one "
                    f"is q* = 0 (sigma_w^2 = {cp.sigma_w2:.6g}), which the length map approaches only "
                    f"algebraically, so q^l decays and every layer has chi_1 < 1 (gradients vanish; see the "
                    f"table); leave sigma_b2 unset for the edge-of-chaos point at q* = {alt.q_star:.4g} "
                    f"(sigma_w^2 = {alt.sigma_w2:.6g}, sigma_b^2 = {alt.sigma_b2:.6g}), or give sigma_b2 > 0")
            elif math.isinf(cp.q_star):  # ReLU-like with a bias: chi_1 = 1, q grows linearly
                point = "trajectory"
                notes.append(f"{a} at sigma_b2 = {sigma_b2:g}: {cp.reason} (chi_1 = 1 in every layer; "
                             "sigma_b2 = 0 keeps q fixed)")
            else:
                q_star_op = cp.q_star if not is_homogeneous(a) else cp.sigma_w2 * q0
    elif names:
        if q_star is None:
            homog = all(is_homogeneous(a) for a in names)
            target = critical_point(names[0]).sigma_w2 * q0 if homog else q0
        else:
            target = q_star
        cps = _common_point(names, target, policy)
        unstable = [cp for cp in cps.values() if cp.kind == "unstable"]
        if stability == "auto" and unstable:
            worst = max(unstable, key=lambda cp: cp.q_slope)
            drift = worst.q_slope ** n_hidden
            if drift > AUTO_DRIFT:
                cps = _common_point(names, target, "nearest")
                q_new = next(iter(cps.values())).q_star
                notes.append(
                    f"q* = {worst.q_star:.4g} is unstable for {worst.activation} (length-map slope "
                    f"{worst.q_slope:.4g}): over the {n_hidden} hidden layers a deviation from it would grow "
                    f"x{drift:.3g} > {AUTO_DRIFT:g}, so stability='auto' moved to the nearest stable point, "
                    f"q* = {q_new:.4g} (stability='keep' keeps q* = {worst.q_star:.4g})")
                cps = {a: CriticalPoint(**{**cp.__dict__, "reason": ""}) for a, cp in cps.items()}
        q_star_op = next(iter(cps.values())).q_star
        for a, cp in cps.items():
            pts[a] = (cp.sigma_w2, cp.sigma_b2, cp)
        reasons = {cp.reason for cp in cps.values() if cp.reason}
        notes += sorted(reasons)
    else:  # one read-out layer and nothing else
        point = "trajectory"

    cps = {a: p[2] for a, p in pts.items() if len(p) == 3}
    kinds = {cp.kind for cp in cps.values()}
    if point == "fixed" and names:
        a = names[0]
        slope = float(sigma_w2 * np.asarray(expect_phi_sq_slope(a, q_star_op)))
        kind = "neutral" if is_homogeneous(a) else ("stable" if slope < 1 else "unstable")
        slopes = {a: slope}
    elif cps:
        slopes = {a: cp.q_slope for a, cp in cps.items()}
        kind = "unstable" if "unstable" in kinds else ("stable" if "stable" in kinds else min(kinds))
    else:
        slopes, kind = {}, ""

    # -------- per-layer variances and mean-field q --------
    def hidden_sw2(a):
        return pts[a][0]

    sw2_l, sb2_l, q_l = [], [], []
    if point in ("critical", "fixed"):
        for i in range(L):
            if i == 0:
                a_after = acts[0]
                if is_readout and L == 1:
                    sw2_l.append(v / q0)
                    sb2_l.append(0.0)
                    q_l.append(v)
                    continue
                sb = pts[a_after][1]
                sw2_l.append((q_star_op - sb) / q0)
                sb2_l.append(sb)
                q_l.append(q_star_op)
            elif is_readout and i == L - 1:
                e2 = _mean_field(acts[i - 1], q_star_op)[0]
                sw2_l.append(v / e2)
                sb2_l.append(0.0)
                q_l.append(v)
            else:
                sw2_l.append(pts[acts[i - 1]][0])
                sb2_l.append(pts[acts[i - 1]][1])
                q_l.append(q_star_op)
    else:  # trajectory: the first layer gets the hidden sigma_w^2 too, q follows the length map
        q = None
        for i in range(L):
            if is_readout and i == L - 1:
                if i == 0:
                    e2 = q0
                else:
                    e2 = _mean_field(acts[i - 1], q)[0]
                sw2_l.append(v / e2 if e2 > 0 else 1.0)
                sb2_l.append(0.0)
                q_l.append(sw2_l[-1] * e2)
                continue
            a_in = acts[i] if i == 0 else acts[i - 1]
            sw, sb = pts[a_in][0], pts[a_in][1]
            e2 = q0 if i == 0 else _mean_field(acts[i - 1], q)[0]
            q = sw * e2 + sb
            sw2_l.append(sw)
            sb2_l.append(sb)
            q_l.append(q)

    # chi_1 of every non-read-out layer: the next layer's critical sigma_w^2 times E[phi'^2] at q^l
    chi_l = []
    for i in range(L):
        a = acts[i]
        if a is None:
            chi_l.append(math.nan)
            continue
        sw_next = pts[a][0] if a in pts else sw2_l[i + 1] if i + 1 < L else math.nan
        chi_l.append(sw_next * _mean_field(a, q_l[i])[1])

    # -------- topology and finite fan-in statistics --------
    dens = layer_densities(shapes, density, scheme, epsilon=epsilon, overrides=overrides)
    N = np.array([s.n_weights for s in shapes], dtype=float)
    need = sum(s.out_channels for s in shapes)
    if density * N.sum() < need:
        raise ValueError(
            f"density = {density:g} keeps {density * N.sum():.3g} weights, fewer than the {need} units that "
            f"each need at least one input: no connected topology exists; raise density"
        )
    achieved = float(dens @ N / N.sum())
    widest = max(s.fan_in for s in shapes)
    guard(_propagation_peak_bytes(widest),
          parameter=f"architecture = {_shown_shapes(shapes)} (fan-in {widest})",
          what="the in-degree distribution of the widest layer (every in-degree 0..fan_in is tabulated)")
    rule = "neuron" if per_neuron else "layer"
    layers, thin_conn = [], []
    m, kurt, P = q0, 3.0, 1.0
    for i, (s, p) in enumerate(zip(shapes, dens, strict=True)):
        scaling = "neuron" if weights == "orthogonal" else rule
        a_out = acts[i] or "linear"
        st = sparse_signal_propagation(a_out, sw2_l[i], sb2_l[i], [s.fan_in, s.out_channels], [float(p)],
                                       scaling=scaling, q0=m, input_kurtosis=kurt)[0]
        dead = 0.0 if in_degree_regular else float(st.dead_fraction)
        # in-degree-regular masks give every unit exactly k = max(1, round(p fan_in)) inputs
        k_mean = float(max(1, min(s.fan_in, round(p * s.fan_in))) if in_degree_regular else p * s.fan_in)
        P = 1.0 - (1.0 - p * P) ** s.fan_in
        layers.append(LayerRecommendation(
            index=i, shape=s.to_tuple(), fan_in=s.fan_in, fan_out=s.fan_out, n_weights=s.n_weights,
            density=float(p), expected_in_degree=k_mean, weight_std=math.sqrt(sw2_l[i] / k_mean),
            bias_std=math.sqrt(sb2_l[i]), init_rule=rule, q=float(q_l[i]), q_std=float(st.q_std),
            chi1=float(chi_l[i]), dead_fraction=dead, p_connected_to_input=float(P),
            sigma_w2=float(sw2_l[i]), sigma_b2=float(sb2_l[i]), activation=acts[i],
            readout=bool(is_readout and i == L - 1),
        ))
        if k_mean < math.log(max(s.out_channels, 2)):
            thin_conn.append((i, k_mean, math.log(max(s.out_channels, 2))))
        m = float(st.mean_phi_sq)
        kurt = (float(st.var_phi_sq) + m * m) / (m * m) if m > 0 else 3.0
    groups = {}  # one warning per (in-degree, threshold), listing its layers
    for i, k, thr in thin_conn:
        groups.setdefault((round(k, 6), round(thr, 6)), []).append(i)
    for (k, thr), idx in groups.items():
        which = f"layer {idx[0]}" if len(idx) == 1 else f"layers {_ranges(idx)}"
        warns.append(f"{which}: expected in-degree p*fan_in = {k:.3g} is below the connectivity threshold "
                     f"ln(n_out) = {thr:.3g}; expect disconnected and dead units")
    n_out = shapes[-1].out_channels
    if n_out * (1.0 - P) > 0.5:
        warns.append(
            f"output layer: about {n_out * (1.0 - P):.3g} of its {n_out} units have no path from the input "
            f"(P(connected) = {P:.4g}); raise the last layers' density or use flow_preserving=True"
        )

    # -------- header quantities: chi_1, depth scales, Jacobian --------
    if point in ("critical", "fixed") and names:
        chis = [hidden_sw2(a) * _mean_field(a, q_star_op)[1] for a in names]
        chi_star = chis[0] if not mixed else float(np.prod(chis) ** (1 / len(chis)))
        if point == "fixed":
            a = names[0]
            if chi_star <= 1.0 + 1e-12:
                chic = chi_star
            else:
                cs = float(c_fixed_point(a, sigma_w2, pts[a][1]))
                chic = float(sigma_w2 * expect_dphi_dphi(a, q_star_op, q_star_op, cs * q_star_op))
        else:
            chic = chi_star
        xi_c = math.inf if abs(chic - 1.0) <= 1e-9 else (-1.0 / math.log(chic) if chic > 0 else 0.0)
        q_slope = float(max(slopes.values())) if slopes else math.nan  # the least stable activation
    else:
        chi_star, xi_c, q_slope = math.nan, math.nan, math.nan
    trainable = TRAINABLE_DEPTH_FACTOR * xi_c
    s1 = -1.0 if weights == "gaussian" else 0.0
    jm, jv = 1.0, 0.0
    for i in range(L):
        mu1 = mu2 = 1.0
        if acts[i] is not None:
            _, mu1, mu2 = _mean_field(acts[i], q_l[i])
        jm *= sw2_l[i] * mu1
        jv += (mu2 / mu1**2 - 1.0 if mu1 > 0 else 0.0) - s1
    jv *= jm * jm

    # -------- warnings that are true --------
    if point == "critical" and "unstable" in kinds:
        for a, cp in cps.items():
            if cp.kind == "unstable":
                try:
                    alt = critical_point(a, q_star=cp.q_star, stability="nearest")
                    other = (f"; stability='nearest' moves to the stable q* = {alt.q_star:.4g} "
                             f"(sigma_w^2 = {alt.sigma_w2:.6g}, sigma_b^2 = {alt.sigma_b2:.6g})")
                except ValueError:
                    other = ""
                drift = cp.q_slope ** n_hidden
                text = (f"q* = {cp.q_star:.4g} is unstable for {a}: the length map's slope there is "
                        f"{cp.q_slope:.4g}, so a deviation from q* grows by that factor per layer "
                        f"(x{drift:.3g} over the {n_hidden} hidden layer{'s' if n_hidden != 1 else ''})"
                        f"{other}")
                # a drift the benchmarks found harmless is a note; a larger one a warning
                (warns if drift > AUTO_DRIFT else notes).append(text)
    if point == "fixed":
        if chi_star > 1 + _CHI1_TOL or chi_star < 1 - _CHI1_TOL:
            a = names[0]
            alt = critical_point(a, q_star=q_star_op, stability=policy) if not is_homogeneous(a) else \
                critical_point(a)
            phase = "chaotic" if chi_star > 1 else "ordered"
            grad = "explode" if chi_star > 1 else "vanish"
            warns.append(f"{phase} phase: chi_1 = {chi_star:.4g} {'>' if chi_star > 1 else '<'} 1 (gradients "
                         f"{grad}); the edge of chaos at q* = {alt.q_star:.4g} is sigma_w^2 = "
                         f"{alt.sigma_w2:.6g}, sigma_b^2 = {alt.sigma_b2:.6g}")
        if slopes and kind == "unstable":
            warns.append(f"the fixed point q* = {q_star_op:.4g} is unstable (length-map slope {q_slope:.4g})")
    if point == "trajectory" and sigma_w2 is not None and names:
        qs = float(q_fixed_point(names[0], sigma_w2, 0.0 if sigma_b2 is None else sigma_b2))
        grow = "grows without bound" if math.isinf(qs) else "decays to 0"
        warns.append(f"the length map of sigma_w^2 = {sigma_w2:g} has no finite fixed point > 0: q^l {grow} "
                     "(see the table)")
    if point == "critical" and "selu" in names and not mixed:
        p1 = critical_point("selu", q_star=1.0)
        notes.append(
            "SELU's self-normalising init (LeCun normal, sigma_w^2 = 1, sigma_b^2 = 0; Klambauer et al. "
            f"2017) is the fixed point q* = 1 with chi_1 = {1.0 / p1.sigma_w2:.4g}, slightly chaotic; the "
            f"edge of chaos at q* = 1 is sigma_w^2 = {p1.sigma_w2:.4g}, sigma_b^2 = {p1.sigma_b2:.4g} "
            "(sigma_w2=1, sigma_b2=0 gives LeCun's)")
    thin = [i for i, lay in enumerate(layers) if lay.expected_in_degree < _ISOMETRY_MIN_FAN_IN]
    if weights == "orthogonal" and thin:
        i = thin[0]
        warns.append(
            f"orthogonal weights on layer{'s' if len(thin) > 1 else ''} {_ranges(thin)} with fewer than "
            f"{_ISOMETRY_MIN_FAN_IN} inputs per unit (layer {i}: {layers[i].expected_in_degree:.3g}): no "
            "isometry exists on such masks, the approximate one leaves singular values at 0 (about 11 % at "
            "4 inputs per unit, 3.5 % at 8) and the loss compounds over depth; on MNIST-5k at density 0.02 "
            "(5.3 inputs per unit) these networks did not train; use weights='gaussian'")
    if L > trainable:
        warns.append(f"depth {L} exceeds the trainable depth ~ 6 xi_c = {trainable:.3g}")
    if abs(achieved - density) > 1e-6 * density:
        warns.append(f"overall density not met: achieved {achieved:.6g}, requested {density:.6g}")

    same = not mixed and names
    return Recommendation(
        layers=tuple(layers), activation=",".join(names) if names else "linear", scheme=scheme,
        density=density, achieved_density=achieved,
        sigma_w2=float(pts[names[0]][0]) if same else math.nan,
        sigma_b2=float(pts[names[0]][1]) if same else math.nan,
        chi1=float(chi_star), depth_scale=float(xi_c), trainable_depth=float(trainable),
        in_degree_regular=bool(in_degree_regular), flow_preserving=bool(flow_preserving),
        warnings=tuple(warns), weights=weights, jacobian_mean=float(jm), jacobian_variance=float(jv),
        q_star=float(q_star_op) if point != "trajectory" else math.nan, q_slope=float(q_slope),
        kind=kind if point != "trajectory" else ("degenerate" if "degenerate" in kinds else ""),
        point=point, target_q_star=float(target), q0=float(q0),
        readout_variance=float(v) if is_readout else math.nan, notes=tuple(notes),
    )
