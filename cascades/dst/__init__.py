"""Sparse training with the theory in the loop: drop-and-grow, topology monitoring, feature selection.

torch is imported only when a function or class here is used.
"""

from .core import GROW_INITS, METHODS, SCHEDULES, DropAndGrow, UpdateRecord
from .monitor import LayerTopology, TopologyMonitor, topology
from .training import TrainResult, train

__all__ = [
    "GROW_INITS",
    "METHODS",
    "SCHEDULES",
    "DropAndGrow",
    "LayerTopology",
    "TopologyMonitor",
    "TrainResult",
    "UpdateRecord",
    "topology",
    "train",
]
