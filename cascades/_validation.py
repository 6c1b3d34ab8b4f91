"""Argument checks shared by the public wrappers.

Every check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object)
with a message that names the parameter and the allowed range, so a user never
meets a numba traceback, a hang or a silently wrong answer.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "check_int",
    "check_real",
    "check_probability",
    "check_int_array",
]


def check_int(name: str, value, *, low=None, high=None) -> int:
    """Return ``value`` as a Python int, checking ``low <= value <= high``.

    >>> check_int("n", 5, low=0)
    5
    >>> check_int("n", -1, low=0)
    Traceback (most recent call last):
    ...
    ValueError: n must be an integer >= 0, got -1
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    if not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer{_range(low, high)}, got {value}")
    return value


def check_real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    """Return ``value`` as a finite float in the given (closed or open) range.

    >>> check_real("mean", 2.5, low=0)
    2.5
    >>> check_real("mean", float("nan"), low=0)
    Traceback (most recent call last):
    ...
    ValueError: mean must be a finite number >= 0, got nan
    """
    rng = _range(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a finite number{rng}, got {value!r}")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        raise ValueError(f"{name} must be a finite number{rng}, got {value!r}")
    return value


def check_probability(name: str, value) -> float:
    """Return ``value`` as a float in [0, 1].

    >>> check_probability("p", 1.5)
    Traceback (most recent call last):
    ...
    ValueError: p must be a finite number in [0, 1], got 1.5
    """
    return check_real(name, value, low=0, high=1)


def check_int_array(name: str, values, *, low=None, high=None, ndim=1) -> np.ndarray:
    """Return ``values`` as an int64 array whose entries lie in the range.

    Float input is accepted only when every entry is integral.

    >>> check_int_array("degrees", [1, 2, 3], low=0)
    array([1, 2, 3])
    >>> check_int_array("degrees", [1, -2], low=0)
    Traceback (most recent call last):
    ...
    ValueError: degrees must hold integers >= 0; entry 1 is -2
    """
    arr = np.asarray(values)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-dimensional array, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iuf":  # bool ("b"), object, strings, complex
        raise ValueError(f"{name} must hold integers{_range(low, high)}, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integers{_range(low, high)}")
    if arr.dtype.kind in "fu" and arr.size and not np.all(np.abs(arr) < 2.0**63):
        # beyond int64 a cast would wrap or fail (a float 2**63 or a uint64 2**64 - 1)
        i = int(np.flatnonzero(~(np.abs(arr.ravel()) < 2.0**63))[0])
        raise ValueError(
            f"{name} must hold integers{_range(low, high)} within int64; entry {i} is {arr.ravel()[i]}"
        )
    arr = arr.astype(np.int64, copy=False)
    for bound, op in ((low, np.less), (high, np.greater)):
        if bound is not None and arr.size:
            bad = np.flatnonzero(op(arr.ravel(), bound))
            if bad.size:
                i = int(bad[0])
                raise ValueError(
                    f"{name} must hold integers{_range(low, high)}; entry {i} is {arr.ravel()[i]}"
                )
    return arr


def _range(low, high, low_open=False, high_open=False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""
