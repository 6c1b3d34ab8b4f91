"""Sparse training with the theory in the loop: drop-and-grow, topology monitoring, feature selection.

torch is imported only when a function or class here is used.
"""

from .core import GROW_INITS, METHODS, SCHEDULES, DropAndGrow, UpdateRecord

__all__ = ["GROW_INITS", "METHODS", "SCHEDULES", "DropAndGrow", "UpdateRecord"]
