"""The bridge: recommended initialization and sparse topology for a network, exported to PyTorch.

:func:`recommend` (numpy only) gives per-layer densities, weight and bias scales and the predicted
signal statistics; :func:`to_torch` and :func:`apply_to` build or initialise a masked torch model.
torch is imported only when one of the torch functions is called (STYLE.md item 6).
"""

from .recommend import LayerRecommendation, Recommendation, recommend
from .topology import SCHEMES, LayerShape, draw_masks, layer_densities, parse_architecture

__all__ = [
    "LayerRecommendation",
    "LayerShape",
    "Recommendation",
    "SCHEMES",
    "apply_to",
    "draw_masks",
    "layer_densities",
    "masks_from",
    "parse_architecture",
    "recommend",
    "to_torch",
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
