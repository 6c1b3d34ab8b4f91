"""cascades: cascade models on random graphs, and what they say about neural networks.

The public API is re-exported here; see ``__all__``. Randomness enters every
function through one keyword-only ``rng`` argument (``None``, an ``int`` seed or
a :class:`numpy.random.Generator`), documented in :mod:`cascades._rng`.
"""

__version__ = "0.1.0"

from . import bridge, campaigns, nn
from .bridge import (
    LayerRecommendation,
    Recommendation,
    TrainingComparison,
    apply_to,
    draw_masks,
    layer_densities,
    masks_from,
    recommend,
    to_torch,
    train_comparison,
)
from .campaigns import Campaign, get_campaign, list_campaigns, run_campaign
from .degrees import (
    Binomial,
    DegreeDistribution,
    Empirical,
    Poisson,
    PowerLaw,
    Regular,
)
from .distributions import (
    ConditionalActivation,
    ConditionalActivationInterrupted,
    EmpiricalSizeDistribution,
    SizeDistribution,
    complete_graph_size_distribution,
    conditional_activation,
    empirical_size_distribution,
    sampling_tv_bound,
    size_distribution,
    star_size_distribution,
    total_variation,
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
from .meanfield import (
    CascadeCondition,
    CascadeWindow,
    ConvergenceWarning,
    FinalSize,
    GiantComponent,
    GlobalCascadeProbability,
    cascade_condition,
    cascade_condition_from_graph,
    cascade_window,
    final_size,
    final_size_from_graph,
    giant_component,
    giant_component_from_graph,
    global_cascade_probability,
    global_cascade_probability_from_graph,
)
from .messages import (
    CorrelatedResult,
    DegreeCorrelation,
    MessagePassingResult,
    ModularNetwork,
    final_size_correlated,
    final_size_modular,
    message_passing,
    message_passing_condition,
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
from .simulation import (
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
from .sweeps import ChunkWarning, SweepInterrupted, sweep
from .validation_suite import ValidationCase, ValidationReport, validate

__all__ = [
    "__version__",
    "nn",
    "bridge",
    # the bridge: architecture -> initialization and sparse topology -> PyTorch
    "recommend",
    "Recommendation",
    "train_comparison",
    "TrainingComparison",
    "LayerRecommendation",
    "layer_densities",
    "draw_masks",
    "to_torch",
    "apply_to",
    "masks_from",
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
    # mean-field theory (local tree approximation)
    "final_size",
    "final_size_from_graph",
    "FinalSize",
    "cascade_condition",
    "cascade_condition_from_graph",
    "CascadeCondition",
    "global_cascade_probability",
    "global_cascade_probability_from_graph",
    "GlobalCascadeProbability",
    "giant_component",
    "giant_component_from_graph",
    "GiantComponent",
    "cascade_window",
    "CascadeWindow",
    "ConvergenceWarning",
    # message passing, degree-correlated and modular networks
    "message_passing",
    "message_passing_condition",
    "MessagePassingResult",
    "DegreeCorrelation",
    "final_size_correlated",
    "ModularNetwork",
    "final_size_modular",
    "CorrelatedResult",
    # size distributions on finite networks
    "size_distribution",
    "SizeDistribution",
    "conditional_activation",
    "ConditionalActivation",
    "ConditionalActivationInterrupted",
    "complete_graph_size_distribution",
    "star_size_distribution",
    "empirical_size_distribution",
    "EmpiricalSizeDistribution",
    "total_variation",
    "sampling_tv_bound",
    # parameter sweeps (laptop -> Dask cluster) and the campaigns of simulations/
    "sweep",
    "SweepInterrupted",
    "ChunkWarning",
    "campaigns",
    "Campaign",
    "list_campaigns",
    "get_campaign",
    "run_campaign",
    # theory against simulation (paper figures: the cascades.figures subpackage)
    "validate",
    "ValidationReport",
    "ValidationCase",
]
