"""Neural networks viewed as cascades: signal propagation in random deep networks.

Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) throughout uses the *variances*
sigma_w^2 (``sigma_w2``) and sigma_b^2 (``sigma_b2``) of the weights (times fan-in) and biases.
torch is never imported here.
"""

from .activations import (
    Activation,
    available_activations,
    custom_activation,
    elu_activation,
    erf_activation,
    expect_dphi_dphi,
    expect_dphi_power,
    expect_dphi_sq,
    expect_phi_phi,
    expect_phi_sq,
    expect_phi_sq_slope,
    gaussian_expectation,
    gaussian_expectation_2d,
    get_activation,
    leaky_relu_activation,
    quadrature_rule,
)
from .attention import (
    AttentionScales,
    AttentionStats,
    AttentionTrajectory,
    attention_propagate,
    attention_residual_propagate,
    logit_variance,
    recommended_attention_scales,
)
from .criticality import (
    STABLE_SLOPE,
    CriticalPoint,
    EdgeOfChaos,
    critical_point,
    edge_of_chaos,
    is_homogeneous,
)
from .exact import (
    ReluLayerNormLaw,
    looks_linear_weights,
    relu_dead_signal_probability,
    relu_norm_moments,
    relu_output_norm_cdf,
    sample_relu_norms,
)
from .meanfield import (
    Covariance,
    DepthScales,
    JacobianMoments,
    PhaseDiagram,
    Trajectory,
    c_fixed_point,
    c_map,
    c_trajectory,
    chi1,
    chi_c,
    covariance_map,
    critical_weight_variance,
    depth_scales,
    gradient_norms,
    jacobian_spectrum_moments,
    phase_diagram,
    propagate,
    q_fixed_point,
    q_map,
    q_trajectory,
)
from .residual import residual_propagate, stable_branch_scale
from .simulate import NetworkSimulation, gaussian_inputs, simulate_network
from .sparse import (
    SparseLayerStats,
    input_connectivity,
    layered_cascade_sizes,
    sparse_signal_propagation,
)

__all__ = [
    # activations
    "Activation",
    "available_activations",
    "custom_activation",
    "elu_activation",
    "erf_activation",
    "expect_dphi_dphi",
    "expect_dphi_power",
    "expect_dphi_sq",
    "expect_phi_phi",
    "expect_phi_sq",
    "expect_phi_sq_slope",
    "quadrature_rule",
    "gaussian_expectation",
    "gaussian_expectation_2d",
    "get_activation",
    "leaky_relu_activation",
    # attention
    "AttentionStats",
    "AttentionScales",
    "AttentionTrajectory",
    "attention_propagate",
    "attention_residual_propagate",
    "logit_variance",
    "recommended_attention_scales",
    # the edge of chaos as a curve
    "CriticalPoint",
    "EdgeOfChaos",
    "STABLE_SLOPE",
    "critical_point",
    "edge_of_chaos",
    "is_homogeneous",
    # meanfield
    "Covariance",
    "DepthScales",
    "JacobianMoments",
    "PhaseDiagram",
    "Trajectory",
    "c_fixed_point",
    "c_map",
    "c_trajectory",
    "chi1",
    "chi_c",
    "covariance_map",
    "critical_weight_variance",
    "depth_scales",
    "gradient_norms",
    "jacobian_spectrum_moments",
    "phase_diagram",
    "propagate",
    "q_fixed_point",
    "q_map",
    "q_trajectory",
    # sparse Erdos-Renyi masks
    "SparseLayerStats",
    "sparse_signal_propagation",
    "layered_cascade_sizes",
    "input_connectivity",
    # exact finite width (ReLU)
    "ReluLayerNormLaw",
    "relu_norm_moments",
    "relu_dead_signal_probability",
    "sample_relu_norms",
    "relu_output_norm_cdf",
    "looks_linear_weights",
    # simulated random networks
    "simulate_network",
    "NetworkSimulation",
    "gaussian_inputs",
    # residual networks
    "residual_propagate",
    "stable_branch_scale",
]
