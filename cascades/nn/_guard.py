"""The memory guard of :mod:`cascades.nn` and :mod:`cascades.bridge`: estimates in Python ints.

Every public function whose allocation grows with a user's input (widths, depth, grid points,
samples, inputs) estimates its peak here, in Python integers (no int64 overflow), and calls
:func:`cascades._memory.check_memory` before it allocates. The factors are counts of float64
(or bool) arrays alive at the peak, read off the code and checked against peaks measured with
:mod:`tracemalloc` on mid-size cases (tests/test_nn_faults.py); they are lower bounds in the sense
of :mod:`cascades._memory` (interpreter overhead and small arrays are left out).
"""

from __future__ import annotations

import math

from .._memory import check_memory

__all__ = ["shown", "guard", "F8"]

F8 = 8  # bytes of a float64 / int64


def shown(values, *, limit: int = 6) -> str:
    """``[a, b, c]``, or ``[a, b, ..., z] (k entries)`` for a long sequence (for messages)."""
    vals = [int(v) if isinstance(v, int) or float(v).is_integer() else v for v in values]
    if len(vals) <= limit:
        return "[" + ", ".join(str(v) for v in vals) + "]"
    return f"[{vals[0]}, {vals[1]}, ..., {vals[-1]}] ({len(vals)} entries)"


def guard(nbytes, parameter: str, what: str = "") -> None:
    """check_memory with a float estimate rounded up (estimates may be products of floats)."""
    check_memory(int(math.ceil(nbytes)), parameter=parameter, what=what)
