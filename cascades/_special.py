"""Binomial probabilities that survive tiny success probabilities.

scipy's ``binom.pmf`` / ``binom.sf`` (Boost underneath) raise ``OverflowError``
("ibeta_derivative") for some success probabilities near the smallest normal
float64 (2.2e-308 fails, 2.2e-309 does not). The iterations of the solvers can
produce such values (a seed fraction of 1e-308, or a message decaying towards
0), so every binomial of the package goes through these wrappers, which flush
p < 1e-300 to 0. The change to any probability is below n 1e-300 in absolute
terms, far under float64's resolution of the results.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["binom_pmf", "binom_sf"]

_TINY = 1e-300


def _flush(p):
    p = np.asarray(p, dtype=float)
    return np.where(p < _TINY, 0.0, p)


def binom_pmf(k, n, p):
    """``scipy.stats.binom.pmf(k, n, p)`` with p < 1e-300 taken as 0.

    >>> float(binom_pmf(0, 4, 2.2250738585072014e-308))
    1.0
    """
    return stats.binom.pmf(k, n, _flush(p))


def binom_sf(k, n, p):
    """``scipy.stats.binom.sf(k, n, p)`` with p < 1e-300 taken as 0."""
    return stats.binom.sf(k, n, _flush(p))
