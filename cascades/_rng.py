"""The one place where user-supplied randomness is normalised.

Convention (used by every random function of the package)
----------------------------------------------------------
Every function that draws random numbers takes a keyword-only argument
``rng``, which may be

* ``None``: fresh, unpredictable entropy from the operating system;
* an ``int`` (>= 0): a seed, so the same call gives the same result;
* a :class:`numpy.random.Generator`: used (and advanced) in place;
* a :class:`numpy.random.SeedSequence`: turned into a new ``Generator``.

The global ``numpy.random`` state and the :mod:`random` module are never used.
Work split across processes, threads or Dask tasks receives child seeds from
:func:`spawn`, so a result depends on the root ``rng`` only, never on the number
of workers.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_generator", "spawn"]

def as_generator(rng=None) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``rng``.

    Parameters
    ----------
    rng : None, int, numpy.random.Generator or numpy.random.SeedSequence
        See the module docstring for the convention.

    Returns
    -------
    numpy.random.Generator
        ``rng`` itself when it already is a Generator (so its state advances),
        otherwise a new PCG64 generator.

    Raises
    ------
    ValueError
        If ``rng`` is a negative integer.
    TypeError
        If ``rng`` is of any other type (in particular the legacy
        ``numpy.random.RandomState``, whose streams differ).

    Examples
    --------
    >>> g = as_generator(0)
    >>> bool(g.random() == as_generator(0).random())
    True
    >>> as_generator(g) is g
    True
    """
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng must be a non-negative integer seed, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        "rng must be None, a non-negative int, a numpy.random.Generator or a "
        f"numpy.random.SeedSequence, got {type(rng).__name__}"
    )


def spawn(rng, n: int) -> list[np.random.Generator]:
    """Return ``n`` independent child generators derived from ``rng``.

    The children depend only on ``rng`` (and, for a Generator, on its current
    state, which advances by one draw), so task ``i`` gets the same stream
    whether the tasks run serially, in a process pool or on Dask.

    Examples
    --------
    >>> a = [g.integers(10**9) for g in spawn(1, 3)]
    >>> b = [g.integers(10**9) for g in spawn(1, 3)]
    >>> a == b
    True
    """
    if isinstance(rng, np.random.SeedSequence):
        seq = rng
    elif isinstance(rng, np.random.Generator):
        seq = np.random.SeedSequence(int(rng.integers(2**63)))
    else:
        as_generator(rng)  # validates None / int seeds with the same messages
        seq = np.random.SeedSequence(None if rng is None else int(rng))
    return [np.random.default_rng(child) for child in seq.spawn(int(n))]
