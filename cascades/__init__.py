"""cascades: cascade models on random graphs, and what they say about neural networks.

The public API is re-exported here; see ``__all__``. Randomness enters every
function through one keyword-only ``rng`` argument (``None``, an ``int`` seed or
a :class:`numpy.random.Generator`), documented in :mod:`cascades._rng`.
"""

__version__ = "0.1.0"

from .degrees import (
    Binomial,
    DegreeDistribution,
    Empirical,
    Poisson,
    PowerLaw,
    Regular,
)
from .graphs import (
    Graph,
    LayeredGraph,
    configuration_model,
    erdos_renyi,
    from_edges,
    from_networkx,
    layered,
    load,
    random_regular,
    save,
    to_networkx,
)
from .models import (
    AbsoluteThreshold,
    CascadeModel,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    SimulationRule,
    WeightedThreshold,
)
from .simulate import (
    CascadeFrequency,
    CascadeResult,
    EnsembleInterrupted,
    EnsembleResult,
    SizeHistogram,
    cascade_size_histogram,
    global_cascade_frequency,
    simulate,
    simulate_ensemble,
)

__all__ = [
    "__version__",
    # degree distributions
    "DegreeDistribution",
    "Poisson",
    "Binomial",
    "PowerLaw",
    "Regular",
    "Empirical",
    # graphs
    "Graph",
    "LayeredGraph",
    "erdos_renyi",
    "configuration_model",
    "random_regular",
    "layered",
    "from_edges",
    "from_networkx",
    "to_networkx",
    "save",
    "load",
    # cascade models
    "CascadeModel",
    "SimulationRule",
    "FractionalThreshold",
    "AbsoluteThreshold",
    "WeightedThreshold",
    "IndependentCascade",
    "FiberBundle",
    # simulators
    "simulate",
    "simulate_ensemble",
    "CascadeResult",
    "EnsembleResult",
    "EnsembleInterrupted",
    "cascade_size_histogram",
    "SizeHistogram",
    "global_cascade_frequency",
    "CascadeFrequency",
]
