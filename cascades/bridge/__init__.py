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


def to_torch(recommendation, *, rng=None, dtype=None, looks_linear=False):
    """Masked ``torch.nn.Sequential`` MLP from a recommendation.

    See :func:`cascades.bridge.torch.to_torch`.
    """
    from .torch import to_torch as _f

    return _f(recommendation, rng=rng, dtype=dtype, looks_linear=looks_linear)


def apply_to(module, recommendation, *, rng=None):
    """Apply a recommendation to a module in place; see :func:`cascades.bridge.torch.apply_to`."""
    from .torch import apply_to as _f

    return _f(module, recommendation, rng=rng)


def masks_from(module):
    """Masks of a module's Linear/Conv2d layers; see :func:`cascades.bridge.torch.masks_from`."""
    from .torch import masks_from as _f

    return _f(module)


def train_comparison(
    widths=None,
    *,
    activation="relu",
    density=0.1,
    scheme="uniform",
    inits=("recommended", "torch-default", "he-dense-mask"),
    epochs=10,
    batch_size=64,
    lr=1e-3,
    optimizer="adam",
    rng=0,
    progress=True,
    quick=False,
):
    """Train one sparse MLP on digits from several inits (same mask); see
    :func:`cascades.bridge.torch.train_comparison`. Returns a :class:`TrainingComparison`.
    """
    from .torch import train_comparison as _f

    return _f(widths, activation=activation, density=density, scheme=scheme, inits=inits, epochs=epochs,
              batch_size=batch_size, lr=lr, optimizer=optimizer, rng=rng, progress=progress, quick=quick)
