"""Recommended initialization and sparse topology for an architecture (THEORY.md B4).

:func:`recommend` answers "I have this architecture and this parameter budget: how should I
initialize it and which sparse topology should I start from?" with the mean-field theory of
:mod:`cascades.nn`: weights at the edge of chaos, sigma_w^2 = critical_weight_variance(activation,
sigma_b^2), rescaled for the mask's effective fan-in p_l fan_in (Gadhikar, Mukherjee & Burkholz,
ICML 2023), layer-wise densities from :func:`cascades.bridge.topology.layer_densities`, and the
predicted per-layer signal statistics of :func:`cascades.nn.sparse_signal_propagation`.
torch is never imported here (torch modules are read by :mod:`cascades.bridge.torch`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from .._validation import check_real
from ..nn import chi1 as _chi1
from ..nn import (
    critical_weight_variance,
    depth_scales,
    get_activation,
    jacobian_spectrum_moments,
    sparse_signal_propagation,
)
from .topology import LayerShape, layer_densities, parse_architecture
from .weights import WEIGHT_LAWS

__all__ = ["LayerRecommendation", "Recommendation", "recommend"]

_CHI1_TOL = 0.05  # |chi_1 - 1| above this is reported as an ordered / chaotic phase
TRAINABLE_DEPTH_FACTOR = 6.0  # Schoenholz et al. (2017): networks train up to about 6 xi_c layers


@dataclass(frozen=True)
class LayerRecommendation:
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
        sqrt(sigma_w^2 / (p_l fan_in)); with ``init_rule == "neuron"`` the weights of a unit with k
        inputs get sqrt(sigma_w^2 / k) instead and this is the value at k = p_l fan_in.
    bias_std : float
        sqrt(sigma_b^2).
    init_rule : str
        "layer" or "neuron".
    q : float
        Predicted mean squared pre-activation q^l of the layer's units.
    q_std : float
        Spread of q across units due to the random in-degree.
    chi1 : float
        sigma_w^2 E[phi'(sqrt(q^l) z)^2], the layer's mean squared-gradient growth factor.
    dead_fraction : float
        (1 - p_l)^{fan_in}: units with no input (expected fraction; 0 for in-degree-regular masks).
        q, q_std, chi1 and p_connected_to_input are Erdos-Renyi-mask predictions, also when the
        recommendation asks for in-degree-regular masks. With orthogonal weights q and q_std are
        those of the per-neuron rule (an isometry's rows all have norm sigma_w, whatever their
        in-degree).
    p_connected_to_input : float
        Probability that a unit has a path from the input (layered tree recursion).
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
    return float(x) if isinstance(x, str) else x


@dataclass(frozen=True)
class Recommendation:
    """Recommended initialization and topology for an architecture (returned by :func:`recommend`).

    Attributes
    ----------
    layers : tuple of LayerRecommendation
        One per weight layer, in order.
    activation : str
    scheme : str
        Density scheme (:func:`cascades.bridge.topology.layer_densities`).
    density : float
        Requested overall density.
    achieved_density : float
        sum_l p_l N_l / sum_l N_l.
    sigma_w2, sigma_b2 : float
        Weight variance (times the effective fan-in) and bias variance.
    chi1 : float
        chi_1 at the fixed point q* of the dense map with (sigma_w2, sigma_b2).
    depth_scale : float
        xi_c of Schoenholz et al. (2017) (inf at the edge of chaos).
    trainable_depth : float
        About 6 xi_c.
    in_degree_regular, flow_preserving : bool
        Mask options used by :func:`cascades.bridge.to_torch` / :func:`cascades.bridge.draw_masks`.
    warnings : tuple of str
        Problems found: a layer below the connectivity threshold, an ordered or chaotic phase,
        output units disconnected from the input, the overall density not met, depth beyond the
        trainable depth.
    weights : str
        "gaussian" or "orthogonal" (:func:`cascades.bridge.weights.draw_weights`).
    jacobian_mean, jacobian_variance : float
        Predicted mean chi_1^L and variance chi_1^{2L} L (mu_2 / mu_1^2 - 1 - s_1) of the squared
        singular values of the input-output Jacobian of L layers at q*, s_1 = -1 (Gaussian) or 0
        (orthogonal) (Pennington, Schoenholz & Ganguli 2017; THEORY.md B2); NaN when q* is
        infinite. Dense-network theory: for masked orthogonal layers it holds as far as the
        approximate isometry is reached (:func:`cascades.bridge.weights.approximate_isometry`).
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

    @property
    def shapes(self) -> tuple:
        """The layers' :class:`~cascades.bridge.topology.LayerShape`."""
        return tuple(lay.layer_shape for lay in self.layers)

    @property
    def densities(self) -> np.ndarray:
        """p_l of every layer."""
        return np.array([lay.density for lay in self.layers])

    def to_dict(self) -> dict:
        """Plain dict (tuples become lists)."""
        return asdict(self)

    def to_json(self, **kwargs) -> str:
        """JSON text; non-finite floats are written as the strings "inf" / "nan" (strict JSON)."""
        return json.dumps(_enc(self.to_dict()), allow_nan=False, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> Recommendation:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        lay_fields = {f.name for f in fields(LayerRecommendation)}
        layers = []
        for lay in d["layers"]:
            lay = {k: _dec_float(v) if k not in ("shape", "init_rule") else v for k, v in lay.items()
                   if k in lay_fields}
            lay["shape"] = tuple(lay["shape"])
            layers.append(LayerRecommendation(**lay))
        top = {k: _dec_float(v) if k not in ("activation", "scheme", "weights") else v for k, v in d.items()}
        top["layers"] = tuple(layers)
        top["warnings"] = tuple(d["warnings"])
        return cls(**top)

    def __str__(self) -> str:
        head = (f"Recommendation: {self.activation}, scheme {self.scheme}, density {self.density:g} "
                f"(achieved {self.achieved_density:.4g}), sigma_w^2 = {self.sigma_w2:.6g}, "
                f"sigma_b^2 = {self.sigma_b2:.6g}, chi_1 = {self.chi1:.4g}, xi_c = {self.depth_scale:.4g}, "
                f"trainable depth ~ {self.trainable_depth:.4g}; {self.weights} weights, Jacobian squared "
                f"singular values mean {self.jacobian_mean:.4g}, variance {self.jacobian_variance:.4g}")
        cols = ("layer", "shape", "fan_in", "density", "E[k_in]", "w_std", "b_std", "q", "chi1", "dead",
                "P(conn)")
        rows = []
        for lay in self.layers:
            shp = "x".join(str(v) for v in lay.shape[1:])
            rows.append((str(lay.index), f"{lay.shape[0]} {shp}", str(lay.fan_in), f"{lay.density:.4g}",
                         f"{lay.expected_in_degree:.4g}", f"{lay.weight_std:.4g}", f"{lay.bias_std:.4g}",
                         f"{lay.q:.4g}", f"{lay.chi1:.4g}", f"{lay.dead_fraction:.3g}",
                         f"{lay.p_connected_to_input:.4g}"))
        width = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
        lines = [head, "  ".join(c.rjust(w) for c, w in zip(cols, width, strict=True))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, width, strict=True)) for r in rows]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _is_torch_module(obj) -> bool:
    return hasattr(obj, "modules") and hasattr(obj, "parameters") and callable(obj.modules)


def recommend(
    architecture,
    activation="relu",
    density=1.0,
    scheme="erk",
    *,
    sigma_b2=0.0,
    sigma_w2=None,
    per_neuron=False,
    epsilon=None,
    overrides=None,
    in_degree_regular=False,
    flow_preserving=False,
    q0=1.0,
    weights="gaussian",
) -> Recommendation:
    """Recommended initialization and sparse topology for an architecture.

    Parameters
    ----------
    architecture : sequence or torch.nn.Module
        Widths (n_0, ..., n_L) of an MLP, a list of layer shapes ``("linear", in, out)`` /
        ``("conv2d", c_in, c_out, k_h, k_w)`` (see :func:`cascades.bridge.topology.parse_architecture`),
        or a torch module whose Linear and Conv2d layers are read in order.
    activation : str
        See :func:`cascades.nn.get_activation`.
    density : float
        Overall density p in (0, 1].
    scheme : {"erk", "uniform", "balanced", "pyramidal", "set"}
        See :func:`cascades.bridge.topology.layer_densities`.
    sigma_b2 : float
        Bias variance (>= 0).
    sigma_w2 : float, optional
        Weight variance; default the edge of chaos ``critical_weight_variance(activation, sigma_b2)``.
    per_neuron : bool
        False: weight std sqrt(sigma_w^2 / (p_l fan_in)); True: sqrt(sigma_w^2 / k_i) with k_i the
        unit's own in-degree (applied by :func:`cascades.bridge.to_torch`).
    epsilon, overrides :
        Passed to :func:`cascades.bridge.topology.layer_densities`.
    in_degree_regular, flow_preserving : bool
        Mask options (see :func:`cascades.bridge.topology.draw_masks`), recorded for export.
    q0 : float
        Mean squared input entry, for the predicted q^l.
    weights : {"gaussian", "orthogonal"}
        Weight law used by the export (:func:`cascades.bridge.weights.draw_weights`): Gaussian,
        or orthogonal (Haar for dense layers, the approximate isometry of Lee et al. 2020 on a
        mask), at the same mean squared entry. The q and c maps are the same in the mean-field
        limit; what changes is the predicted Jacobian spectrum variance (s_1 = 0 instead of -1)
        and, on a mask, the spread of q across units (that of the per-neuron rule).

    Returns
    -------
    Recommendation

    Raises
    ------
    ValueError
        For a density outside (0, 1] or too low for any connected topology (fewer kept weights
        than units), an unknown scheme, activation or weight law, orthogonal weights with the
        per-neuron rule, invalid widths or layer shapes, negative variances, or (from
        :mod:`cascades.bridge.torch`) a module with unsupported layers.

    Notes
    -----
    With the per-layer rule the q and c maps are those of the dense network with the effective
    fan-in p_l fan_in (THEORY.md B4), so the network sits at the edge of chaos for any density;
    the predicted q^l, its spread and the dead fraction come from
    :func:`cascades.nn.sparse_signal_propagation` (finite fan-in Gamma closure), chained layer by
    layer through the mean and the kurtosis of phi(h)^2 (so conv layers with fan-in c_in k_h k_w
    are handled too). The probability of a path from the input is the layered tree recursion
    P_l = 1 - (1 - p_l P_{l-1})^{fan_in} of :func:`cascades.nn.input_connectivity`. A layer is
    flagged when p_l fan_in < ln(out units), the connectivity threshold of Erdos-Renyi graphs.

    References
    ----------
    Poole et al., NeurIPS 2016; Schoenholz et al., ICLR 2017 (xi_c, trainable depth ~ 6 xi_c);
    Evci et al., ICML 2020 (ERK); Mocanu et al., Nat. Commun. 2018 (SET); Gadhikar, Mukherjee &
    Burkholz, ICML 2023 (sparse rescaling); Pennington, Schoenholz & Ganguli, NeurIPS 2017 and
    AISTATS 2018 (Jacobian spectrum, orthogonal weights); Lee et al., ICLR 2020 (approximate
    isometry on a mask).

    Examples
    --------
    >>> rec = recommend([784, 300, 100, 10], "relu", density=0.1)
    >>> [round(lay.density, 4) for lay in rec.layers]
    [0.0796, 0.2302, 1.0]
    >>> lay = rec.layers[0]
    >>> bool(abs(lay.weight_std - (2 / (lay.density * 784)) ** 0.5) < 1e-12)
    True
    >>> Recommendation.from_json(rec.to_json()) == rec
    True
    >>> rec.jacobian_variance, recommend([784, 300, 100, 10], weights="orthogonal").jacobian_variance
    (6.0, 3.0)
    """
    if _is_torch_module(architecture):
        from .torch import layer_shapes

        shapes = layer_shapes(architecture)
    else:
        shapes = parse_architecture(architecture)
    act = get_activation(activation)
    act_name = activation if isinstance(activation, str) else act.name
    density = check_real("density", density, low=0, high=1, low_open=True)
    sigma_b2 = check_real("sigma_b2", sigma_b2, low=0)
    q0 = check_real("q0", q0, low=0)
    if weights not in WEIGHT_LAWS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_LAWS)}; got {weights!r}")
    if weights == "orthogonal" and per_neuron:
        raise ValueError("per_neuron=True applies to Gaussian weights only; orthogonal weights already "
                         "give every unit the same row norm")
    if sigma_w2 is None:
        sigma_w2 = float(critical_weight_variance(act, sigma_b2))
    else:
        sigma_w2 = check_real("sigma_w2", sigma_w2, low=0)
    dens = layer_densities(shapes, density, scheme, epsilon=epsilon, overrides=overrides)
    N = np.array([s.n_weights for s in shapes], dtype=float)
    need = sum(s.out_channels for s in shapes)
    if density * N.sum() < need:
        raise ValueError(
            f"density = {density:g} keeps {density * N.sum():.3g} weights, fewer than the {need} units that "
            f"each need at least one input: no connected topology exists; raise density"
        )
    achieved = float(dens @ N / N.sum())
    rule = "neuron" if per_neuron else "layer"

    layers = []
    warnings = []
    m, kurt, P = q0, 3.0, 1.0
    for i, (s, p) in enumerate(zip(shapes, dens, strict=True)):
        scaling = "neuron" if weights == "orthogonal" else rule
        st = sparse_signal_propagation(act, sigma_w2, sigma_b2, [s.fan_in, s.out_channels], [float(p)],
                                       scaling=scaling, q0=m, input_kurtosis=kurt)[0]
        dead = 0.0 if in_degree_regular else float(st.dead_fraction)
        # in-degree-regular masks give every unit exactly k = max(1, round(p fan_in)) inputs
        k_mean = float(max(1, min(s.fan_in, round(p * s.fan_in))) if in_degree_regular else p * s.fan_in)
        P = 1.0 - (1.0 - p * P) ** s.fan_in
        q = float(st.q_mean)
        c1 = float(_chi1(act, sigma_w2, sigma_b2, q=max(q, 1e-12)))
        layers.append(LayerRecommendation(
            index=i, shape=s.to_tuple(), fan_in=s.fan_in, fan_out=s.fan_out, n_weights=s.n_weights,
            density=float(p), expected_in_degree=k_mean, weight_std=math.sqrt(sigma_w2 / k_mean),
            bias_std=math.sqrt(sigma_b2), init_rule=rule, q=q, q_std=float(st.q_std), chi1=c1,
            dead_fraction=dead, p_connected_to_input=float(P),
        ))
        if k_mean < math.log(max(s.out_channels, 2)):
            warnings.append(
                f"layer {i}: expected in-degree p*fan_in = {k_mean:.3g} is below the connectivity threshold "
                f"ln(n_out) = {math.log(max(s.out_channels, 2)):.3g}; expect disconnected and dead units"
            )
        m = float(st.mean_phi_sq)
        kurt = (float(st.var_phi_sq) + m * m) / (m * m) if m > 0 else 3.0
    n_out = shapes[-1].out_channels
    if n_out * (1.0 - P) > 0.5:
        warnings.append(
            f"output layer: about {n_out * (1.0 - P):.3g} of its {n_out} units have no path from the input "
            f"(P(connected) = {P:.4g}); raise the last layers' density or use flow_preserving=True"
        )
    ds = depth_scales(act, sigma_w2, sigma_b2)
    chi_star = float(ds.chi1)
    if chi_star > 1 + _CHI1_TOL:
        warnings.append(f"chaotic phase: chi_1 = {chi_star:.4g} > 1 (gradients explode); "
                        f"the edge of chaos is "
                        f"sigma_w^2 = {float(critical_weight_variance(act, sigma_b2)):.6g}")
    elif chi_star < 1 - _CHI1_TOL:
        warnings.append(f"ordered phase: chi_1 = {chi_star:.4g} < 1 (gradients vanish); the edge of chaos is "
                        f"sigma_w^2 = {float(critical_weight_variance(act, sigma_b2)):.6g}")
    xi_c = float(ds.xi_c)
    trainable = TRAINABLE_DEPTH_FACTOR * xi_c
    if len(shapes) > trainable:
        warnings.append(f"depth {len(shapes)} exceeds the trainable depth ~ 6 xi_c = {trainable:.3g}")
    if abs(achieved - density) > 1e-6 * density:
        warnings.append(f"overall density not met: achieved {achieved:.6g}, requested {density:.6g}")
    try:
        jm = jacobian_spectrum_moments(act, sigma_w2, sigma_b2, len(shapes), weights=weights)
        jac_mean, jac_var = float(jm.mean), float(jm.variance)
    except ValueError:  # q* infinite: the moments are undefined
        jac_mean = jac_var = math.nan
    return Recommendation(
        layers=tuple(layers), activation=act_name, scheme=scheme, density=density, achieved_density=achieved,
        sigma_w2=float(sigma_w2), sigma_b2=float(sigma_b2), chi1=chi_star, depth_scale=xi_c,
        trainable_depth=trainable, in_degree_regular=bool(in_degree_regular),
        flow_preserving=bool(flow_preserving), warnings=tuple(warnings), weights=weights,
        jacobian_mean=jac_mean, jacobian_variance=jac_var,
    )
