"""Closed forms of the cascade size distribution on the complete graph and the star, derived with sympy.

Setting (Burkholz, Herrmann & Schweitzer, Sci. Rep. 8, 6878, 2018): iid node thresholds, every node a seed
independently with probability p. A seed behaves like a node whose threshold is always met, so node i is
active once m of its k neighbours are with probability G(m) = p + (1 - p) F(m, k) (F the response); in
other words its *effective count threshold* T satisfies P(T <= m) = G(m), and T = k + 1 means never.

Complete graph K_n (k = n - 1). Let N(m) = #{i : T_i <= m}. Every inactive node sees all active nodes, so
the cascade stops at the first m with N(m) <= m and then S = m (N is nondecreasing). Splitting the s
nodes that end active from the others:

    P(S = s) = C(n, s) Q_s (1 - G(s))^(n - s),                                                     (1)

where Q_s is the probability that s iid thresholds satisfy #{j : T_j <= m} >= m + 1 for all m < s (and
G(s) := 1 for s = n). Q_s follows from a first-passage decomposition of the event "all s thresholds
<= s - 1" at the first m with #{T_j <= m} = m:

    G(s-1)^s = Q_s + sum_{j<s} C(s, j) Q_j (G(s-1) - G(j))^(s-j),     Q_0 = 1.                      (2)

Star with centre 0 and d leaves: a = G_leaf(0) is the probability that a leaf is active on its own,
b = (G_leaf(1) - a) / (1 - a) that a leaf not active on its own follows the active centre, G_c(M) that the
centre is active given M active leaves; M ~ Binomial(d, a):

    P(S = s) = sum_M Bin(M; d, a) [ (1 - G_c(M)) 1{s = M} + G_c(M) Bin(s - 1 - M; d - M, b) ].        (3)

The equation numbers of the paper could not be checked here: (1)-(3) are derived in this module and
verified, with symbolic G-values, against enumeration of every effective threshold for small n (exact
polynomial identities), which is the check the library is held to (tests/test_distributions.py).

Run ``python -m theory.size_distributions`` to print the derivation.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from ._check import check as _check

__all__ = [
    "SizeDerivation",
    "derivation",
    "complete_graph_pmf",
    "complete_graph_pmf_float",
    "star_pmf",
    "star_pmf_float",
    "main",
]


@dataclass(frozen=True)
class SizeDerivation:
    """The checks that were run (human-readable)."""

    steps: tuple[str, ...]


def _final_size(nb, T) -> int:
    """Number of active nodes at the end of a count-threshold cascade (T_i <= 0: active at once)."""
    n = len(nb)
    active = [T[i] <= 0 for i in range(n)]
    changed = True
    while changed:
        changed = False
        for i in range(n):
            if not active[i] and sum(active[j] for j in nb[i]) >= T[i]:
                active[i] = changed = True
    return sum(active)


def _enumerate(nb, G):
    """pmf of S (list of sympy expressions) by enumerating effective thresholds; G[i][m], m = 0..k_i."""
    n = len(nb)
    laws = []
    for i in range(n):
        cdf = [*G[i], sp.Integer(1)]
        laws.append([cdf[0]] + [cdf[t] - cdf[t - 1] for t in range(1, len(cdf))])
    pmf = [sp.Integer(0)] * (n + 1)
    for T in itertools.product(*[range(len(law)) for law in laws]):
        w = sp.Mul(*[laws[i][T[i]] for i in range(n)])
        pmf[_final_size(nb, T)] += w
    return pmf


def _complete_formula(n, G):
    """Equations (1)-(2) with a common table G[m], m = 0..n-1 (any ring: sympy or Fraction)."""
    one = G[0] * 0 + 1
    Q = [one]
    for s in range(1, n + 1):
        top = G[s - 1] ** s
        top -= sum(sp.binomial(s, j) * Q[j] * (G[s - 1] - G[j]) ** (s - j) for j in range(s))
        Q.append(top)
    return [sp.binomial(n, s) * Q[s] * ((one - G[s]) ** (n - s) if s < n else one) for s in range(n + 1)]


def _star_formula(d, Gc, Gl):
    """Equation (3): Gc[m], m = 0..d (centre), Gl[m], m = 0..1 (leaves)."""
    a = Gl[0]
    pmf = [sp.Integer(0)] * (d + 2)
    for M in range(d + 1):
        bm = sp.binomial(d, M) * a**M * (1 - a) ** (d - M)
        pmf[M] += bm * (1 - Gc[M])
        # a leaf not active on its own follows the centre with probability b = (Gl[1] - a) / (1 - a);
        # multiplied out so that the identity is polynomial: b^j (1 - b)^(r - j) (1 - a)^r
        r = d - M
        for j in range(r + 1):
            pmf[M + 1 + j] += (
                sp.binomial(d, M) * a**M * Gc[M] * sp.binomial(r, j) * (Gl[1] - a) ** j * (1 - Gl[1]) ** (r - j)
            )
    return pmf


@functools.cache
def derivation() -> SizeDerivation:
    """Check (1)-(3) against enumeration with symbolic G-values (polynomial identities)."""
    steps = []
    for n in (1, 2, 3, 4):
        G = list(sp.symbols(f"g0:{n}"))
        nb = [[j for j in range(n) if j != i] for i in range(n)]
        brute = _enumerate(nb, [G] * n)
        formula = _complete_formula(n, G)
        for s in range(n + 1):
            _check(sp.expand(brute[s] - formula[s]) == 0, f"complete graph n = {n}, s = {s}")
        _check(sp.expand(sum(formula) - 1) == 0, f"complete graph n = {n}: normalised")
        steps.append(f"K_{n}: equations (1)-(2) equal the enumeration of all {(n + 1) ** n} threshold vectors")
    for d in (1, 2, 3):
        Gc = list(sp.symbols(f"c0:{d + 1}"))
        Gl = list(sp.symbols("l0:2"))
        nb = [list(range(1, d + 1))] + [[0] for _ in range(d)]
        brute = _enumerate(nb, [Gc] + [Gl] * d)
        formula = _star_formula(d, Gc, Gl)
        for s in range(d + 2):
            _check(sp.expand(brute[s] - formula[s]) == 0, f"star d = {d}, s = {s}")
        steps.append(f"star with {d} leaves: equation (3) equals the enumeration")
    return SizeDerivation(tuple(steps))


def _fractional_G(k: int, phi: Fraction, p: Fraction) -> list[Fraction]:
    """G(m) = p + (1 - p) 1[m >= ceil(phi k)], m = 0..k, in exact rationals (k = 0: m/k := 0)."""
    if k == 0:
        return [p + (1 - p) * (1 if phi <= 0 else 0)]
    t = -((-phi.numerator * k) // phi.denominator)  # ceil(phi k) exactly
    return [p + (1 - p) * (1 if m >= t else 0) for m in range(k + 1)]


def complete_graph_pmf(n: int, phi, p) -> list[Fraction]:
    """Equations (1)-(2) for Watts' model with a fixed threshold phi, exact (Fractions)."""
    phi, p = Fraction(phi).limit_denominator(10**9), Fraction(p).limit_denominator(10**9)
    G = _fractional_G(n - 1, phi, p)
    Q = [Fraction(1)]
    for s in range(1, n + 1):
        top = G[s - 1] ** s - sum(_binom(s, j) * Q[j] * (G[s - 1] - G[j]) ** (s - j) for j in range(s))
        Q.append(top)
    return [_binom(n, s) * Q[s] * ((1 - G[s]) ** (n - s) if s < n else 1) for s in range(n + 1)]


def star_pmf(d: int, phi, p) -> list[Fraction]:
    """Equation (3) for Watts' model with a fixed threshold phi on a star with d leaves, exact."""
    phi, p = Fraction(phi).limit_denominator(10**9), Fraction(p).limit_denominator(10**9)
    Gc, Gl = _fractional_G(d, phi, p), _fractional_G(1, phi, p)
    a = Gl[0]
    b = (Gl[1] - a) / (1 - a) if a < 1 else Fraction(0)
    pmf = [Fraction(0)] * (d + 2)
    for M in range(d + 1):
        bm = _binom(d, M) * a**M * (1 - a) ** (d - M)
        pmf[M] += bm * (1 - Gc[M])
        r = d - M
        for j in range(r + 1):
            pmf[M + 1 + j] += bm * Gc[M] * _binom(r, j) * b**j * (1 - b) ** (r - j)
    return pmf


def complete_graph_pmf_float(n: int, phi, p) -> list[float]:
    """:func:`complete_graph_pmf` rounded to floats."""
    return [float(x) for x in complete_graph_pmf(n, phi, p)]


def star_pmf_float(d: int, phi, p) -> list[float]:
    """:func:`star_pmf` rounded to floats."""
    return [float(x) for x in star_pmf(d, phi, p)]


def _binom(n: int, k: int) -> int:
    return int(sp.binomial(n, k))


def main() -> None:
    for step in derivation().steps:
        print(step)
    pmf = complete_graph_pmf(6, Fraction(1, 2), Fraction(1, 10))
    _check(sum(pmf) == 1, "exact normalisation")
    print("K_6, phi = 1/2, p = 1/10:", [str(x) for x in pmf])


if __name__ == "__main__":
    main()
