"""The bridge: recommended initialization and sparse topology for a network, exported to PyTorch.

:func:`recommend` (numpy only) gives per-layer densities, weight and bias scales and the predicted
signal statistics; :func:`draw_masks` and :func:`draw_weights` draw masks and (Gaussian or
orthogonal / approximately isometric) weights in numpy, :func:`signal_statistics` measures them;
:func:`to_torch` and :func:`apply_to` build or initialise a masked torch model, and
:func:`train_comparison` trains one against PyTorch's default and dense He init.
torch is imported only when one of the torch functions is called (STYLE.md item 6).
"""

from .evidence import SignalStatistics, TrainingComparison, jacobian_singular_values, signal_statistics
from .recommend import LayerRecommendation, Recommendation, recommend
from .topology import SCHEMES, LayerShape, draw_masks, layer_densities, parse_architecture
from .torch import apply_to, masks_from, to_torch, train_comparison  # torch itself: only when called
from .weights import WEIGHT_LAWS, approximate_isometry, draw_weights, orthogonal_matrix, orthogonality_defect

__all__ = [
    "LayerRecommendation",
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
    "masks_from",
    "orthogonal_matrix",
    "orthogonality_defect",
    "parse_architecture",
    "recommend",
    "signal_statistics",
    "to_torch",
    "train_comparison",
]

