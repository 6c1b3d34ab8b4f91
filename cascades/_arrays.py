"""Read-only arrays for results: one helper for every module that hands arrays to the user."""

from __future__ import annotations

import numpy as np


def readonly(a, *, copy: bool = False, dtype=None):
    """``a`` as an array marked read-only (``None`` stays ``None``).

    Without ``copy`` an ndarray of the right dtype is marked in place and
    returned; with ``copy`` the caller's array is left writable and a
    read-only copy is returned.
    """
    if a is None:
        return None
    a = np.array(a, dtype=dtype, copy=True) if copy else np.asarray(a, dtype=dtype)
    a.flags.writeable = False
    return a
