"""Sparse training with the theory in the loop: drop-and-grow, topology monitoring, feature selection.

torch is imported only when a function or class here is used.
"""

from .core import GROW_INITS, METHODS, SCHEDULES, DropAndGrow, UpdateRecord
from .features import FS_METHODS, STRENGTHS, FeatureSelection, select_features
from .monitor import LayerTopology, TopologyMonitor, topology
from .training import TrainResult, train

__all__ = [
    "FS_METHODS",
    "GROW_INITS",
    "METHODS",
    "SCHEDULES",
    "STRENGTHS",
    "DropAndGrow",
    "FeatureSelection",
    "LayerTopology",
    "TopologyMonitor",
    "TrainResult",
    "UpdateRecord",
    "select_features",
    "topology",
    "train",
]
