"""The bridge: recommended initialization and sparse topology for a network, exported to PyTorch.

:func:`recommend` (numpy only) gives per-layer densities, weight and bias scales and the predicted
signal statistics; :func:`draw_masks` and :func:`draw_weights` draw masks and (Gaussian or
orthogonal / approximately isometric) weights in numpy, :func:`signal_statistics` measures them;
:func:`to_torch` and :func:`apply_to` build or initialise a masked torch model, and
:func:`train_comparison` trains one against PyTorch's default and dense He init.
:func:`read_module` reads a torch module's weight layers and activations (torch.fx);
:func:`signal_graph` propagates the mean-field state through any traced module node by node
(residual additions, normalization, attention, ...), :func:`measure_signal_graph` measures the same
table on a forward pass, :func:`recommend_network` / :func:`apply_network` recommend and apply an
initialization from the graph, and :func:`isometric_init` the isometric schemes (looks-linear,
RISOTTO, orthogonal);
:func:`save_torch` / :func:`load_torch` write and read weights and masks as a plain state_dict that
loads with ``torch.load(path, weights_only=True)``. torch is imported only when one of the torch
functions is called.
"""

from .evidence import SignalStatistics, TrainingComparison, jacobian_singular_values, signal_statistics
from .export import EXPORT_FORMAT, EXPORT_VERSION, load_torch, save_torch
from .graph import InputStats, NodeSignal, SignalGraph, SignalState, measure_signal_graph, signal_graph
from .isometric import IsometricBlock, IsometricInit, IsometricLayer, isometric_init
from .network import NetworkLayer, NetworkRecommendation, apply_network, recommend_network
from .recommend import LayerRecommendation, Recommendation, recommend
from .topology import SCHEMES, LayerShape, draw_masks, layer_densities, parse_architecture
from .torch import apply_to, masks_from, to_torch  # torch itself: only when called
from .trace import ModuleLayers, read_module
from .training import train_comparison
from .weights import WEIGHT_LAWS, approximate_isometry, draw_weights, orthogonal_matrix, orthogonality_defect

__all__ = [
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "InputStats",
    "IsometricBlock",
    "IsometricInit",
    "IsometricLayer",
    "NetworkLayer",
    "NetworkRecommendation",
    "NodeSignal",
    "SignalGraph",
    "SignalState",
    "apply_network",
    "isometric_init",
    "measure_signal_graph",
    "recommend_network",
    "signal_graph",
    "LayerRecommendation",
    "ModuleLayers",
    "LayerShape",
    "Recommendation",
    "SCHEMES",
    "SignalStatistics",
    "TrainingComparison",
    "WEIGHT_LAWS",
    "apply_to",
    "approximate_isometry",
    "draw_masks",
    "draw_weights",
    "jacobian_singular_values",
    "layer_densities",
    "load_torch",
    "masks_from",
    "orthogonal_matrix",
    "orthogonality_defect",
    "parse_architecture",
    "read_module",
    "recommend",
    "save_torch",
    "signal_statistics",
    "to_torch",
    "train_comparison",
]

