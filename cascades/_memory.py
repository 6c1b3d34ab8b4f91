"""The memory guard: refuse, before allocating, work that cannot fit in memory.

Every public function whose allocation grows with a user's input (a node
count, a width, a number of runs) estimates the bytes first and calls
:func:`check_memory`. Over the limit it raises :class:`MemoryLimitError`,
which names the parameter, the estimate and the memory available, instead of
letting numpy fail with "Unable to allocate", numba with "Allocation failed",
or the operating system's OOM killer end the process.

The limit is the memory the operating system reports available
(``MemAvailable`` in ``/proc/meminfo``, else psutil, else the physical
memory), read at each check. Override it:

- for a block of code, with the context manager :func:`memory_limit`
  (``with cascades.memory_limit("64G"): ...``; ``None`` switches the guard off);
- for a process, with the environment variable ``CASCADES_MEMORY_LIMIT``
  (bytes, or a number with a ``K``/``M``/``G``/``T`` suffix, or ``off``).

The estimates count the arrays a call must hold at its peak; they are lower
bounds (Python overhead is left out), so a refused call would certainly not
have fitted.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re

__all__ = ["MemoryLimitError", "memory_limit", "check_memory", "available_memory", "format_bytes"]

_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_OFF = "off"
# None: no override in this context (use the environment, then the OS figure)
_override: contextvars.ContextVar = contextvars.ContextVar("cascades_memory_limit", default=None)


class MemoryLimitError(ValueError, MemoryError):
    """A call would need more memory than is available (or than the set limit).

    Both a :class:`ValueError` (the argument is too large for this machine) and
    a :class:`MemoryError`, so either ``except`` clause catches it.
    """


MemoryLimitError.__module__ = "cascades"


def parse_bytes(value) -> int | str:
    """Bytes from an int or a string such as ``"512M"``, ``"24G"``, ``"1.5T"``; ``"off"`` stays.

    >>> parse_bytes("2K"), parse_bytes(100), parse_bytes("off")
    (2048, 100, 'off')
    """
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in (_OFF, "none", "0"):
            return _OFF
        match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([KMGT]?)(i?B)?", text, flags=re.IGNORECASE)
        if match is None:
            raise ValueError(
                f"memory limit must be a number of bytes, optionally with a K, M, G or T suffix, "
                f"or 'off'; got {value!r}"
            )
        return int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"memory limit must be a positive number of bytes, a string or None; got {value!r}")
    return int(value)


def available_memory() -> int:
    """Bytes the operating system reports available now (MemAvailable), or total memory."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil is optional; fall through to sysconf
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 2**63 - 1


def _limit() -> tuple[int | None, str]:
    """(limit in bytes or None for off, where the figure comes from)."""
    override = _override.get()
    if override is not None:
        return (None, "memory_limit(None)") if override == _OFF else (override, "memory_limit()")
    env = os.environ.get("CASCADES_MEMORY_LIMIT")
    if env:
        value = parse_bytes(env)
        return (None, "CASCADES_MEMORY_LIMIT") if value == _OFF else (value, "CASCADES_MEMORY_LIMIT")
    return available_memory(), "available memory"


@contextlib.contextmanager
def memory_limit(limit):
    """Set the memory guard's limit inside a ``with`` block (``None`` switches it off).

    Parameters
    ----------
    limit : int, str or None
        Bytes (``2**34``), a string with a unit (``"16G"``), or ``None`` for no
        limit. Thread- and task-local (a :mod:`contextvars` variable).

    Examples
    --------
    >>> with memory_limit("1M"):  # doctest: +ELLIPSIS
    ...     check_memory(2**30, parameter="n = 10**8")
    Traceback (most recent call last):
    ...
    cascades.MemoryLimitError: n = 10**8 needs about 1.0 GiB, more than the limit of 1.0 MiB set by ...
    >>> with memory_limit(None):
    ...     check_memory(2**70, parameter="n = 2**67")
    """
    value = _OFF if limit is None else parse_bytes(limit)
    token = _override.set(value)
    try:
        yield
    finally:
        _override.reset(token)


def format_bytes(nbytes: float) -> str:
    """Human-readable bytes: ``format_bytes(3 * 2**30)`` is ``'3.0 GiB'``."""
    nbytes = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(nbytes) < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def check_memory(nbytes, *, parameter: str, what: str = "") -> None:
    """Raise :class:`MemoryLimitError` if ``nbytes`` exceeds the limit.

    Parameters
    ----------
    nbytes : int or float
        The estimated peak allocation (Python ints do not overflow: compute it
        with them, not with int64 arrays).
    parameter : str
        What the user controls, written as it should appear in the message,
        e.g. ``"n = 1000000000"`` or ``"widths = [100000, 100000]"``.
    what : str
        Optional detail: what the memory holds.

    Examples
    --------
    >>> check_memory(10, parameter="n = 1")
    >>> with memory_limit(1000):  # doctest: +ELLIPSIS
    ...     check_memory(2**20, parameter="n = 5", what="the adjacency")
    Traceback (most recent call last):
    ...
    cascades.MemoryLimitError: n = 5 needs about 1.0 MiB (the adjacency), more than the limit of 1000 B ...
    """
    limit, source = _limit()
    if limit is None or nbytes <= limit:
        return
    detail = f" ({what})" if what else ""
    kind = "more than the " + ("available memory" if source == "available memory" else "limit")
    raise MemoryLimitError(
        f"{parameter} needs about {format_bytes(nbytes)}{detail}, {kind} of {format_bytes(limit)}"
        + (f" set by {source}" if source != "available memory" else "")
        + "; reduce it, or raise the limit with cascades.memory_limit(...) or the "
        "CASCADES_MEMORY_LIMIT environment variable"
    )
