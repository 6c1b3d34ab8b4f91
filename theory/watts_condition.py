"""Watts' cascade condition on Erdos-Renyi graphs with a homogeneous threshold, derived with sympy.

Watts (PNAS 99, 5766, 2002) shows that a single seed can trigger a global cascade iff

    C1 = sum_k k (k-1) p_k F(1, k) / z > 1,

where F(1, k) is the probability that a node of degree k activates when one neighbour is active.
For the threshold rule m/k >= phi, F(1, k) = 1[1/k >= phi]. Derived here:

1. **The staircase.** For integers k >= 1 and 0 < phi <= 1, 1/k >= phi  <=>  k <= K* = floor(1/phi)
   (and, for the strict rule 1/k > phi, k <= ceil(1/phi) - 1). sympy proves the step
   1/k >= phi <=> k <= 1/phi (k, phi > 0) and the floor property k <= x <=> k <= floor(x) for integer
   k; the equivalences are also checked exhaustively in exact rational arithmetic for every
   phi = a/b with 1 <= a <= b <= 60 and k = 1..130. Hence C1 depends on phi only through K*.
2. **C1 in closed form.** With the Poisson p_k = z^k e^{-z}/k!, sympy sums
   sum_{k=2}^{K*} k(k-1) p_k / z, and the result is shown to equal
   z Q(K* - 1, z) = z P[Poisson(z) <= K* - 2] (Q the regularized upper incomplete gamma function):
   symbolically in z for K* = 2..12, and with mpmath at 40 digits for larger K*.
0. **The expansion.** For any response, sum_m Bin(m; k-1, q) F(m, k) =
   F(0,k) + (k-1)[F(1,k) - F(0,k)] q + C(k-1,2)[F(2,k) - 2F(1,k) + F(0,k)] q^2 + O(q^3)
   (symbolic F, k = 1..9): weighted with e_k these are the C1 and C2 of ``cascade_condition``.
3. **C2 in closed form** (Gleeson & Cahalane, PRE 75, 056103, 2007; docs/guide/theory/cascades.md):
   C2 = sum_k (k p_k / z)(k-1)(k-2) [F(2, k)/2 - F(1, k)], with F(2, k) = 1[k <= K2 = floor(2/phi)],
   equals z^2 [Q(K2 - 2, z)/2 - Q(K* - 2, z)] (each Q term read as 0 when its K is below 3),
   checked symbolically for K* <= 6 and every K* <= K2 <= 2K* + 1.
4. **The window edges.** The roots of z Q(K* - 1, z) = 1, found with mpmath at 40 digits; for
   phi = 0.18 (K* = 5): 1.0207039085 < z < 5.7646770872 (the window usually quoted as "roughly 1.02 < z < 5.76").

Run ``python -m theory.watts_condition`` to print the derivation.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np
import sympy as sp

from ._check import check as _check

__all__ = [
    "WattsDerivation",
    "derivation",
    "k_star",
    "er_c1",
    "er_c2",
    "window_edges",
    "main",
]

z = sp.Symbol("z", positive=True)
k = sp.Symbol("k", integer=True, positive=True)
phi = sp.Symbol("phi", positive=True)
x = sp.Symbol("x", positive=True)
Ks = sp.Symbol("K", integer=True, positive=True)


@dataclass(frozen=True)
class WattsDerivation:
    """The derived closed forms (sympy expressions in z and K = K*, K2 = floor(2/phi))."""

    c1: sp.Expr
    c1_raw: sp.Expr
    steps: tuple[str, ...]




def _Q(s, zz):
    """Regularized upper incomplete gamma Q(s, z) as a sympy expression (s a positive integer)."""
    return sp.uppergamma(s, zz) / sp.gamma(s)


@functools.cache
def derivation() -> WattsDerivation:
    """Derive the staircase, C1 and C2 for Erdos-Renyi graphs and check them."""
    steps = []
    # 1. the staircase: 1/k >= phi <=> k <= 1/phi (k, phi > 0)
    _check(sp.simplify(sp.Mul(k, 1 / k - phi) - (1 - k * phi)) == 0, "k (1/k - phi) = 1 - k phi")
    # floor property for integers, checked by sympy's floor on symbolic integer k and real x:
    _check(sp.floor(k) == k, "floor(k) = k for integer k")
    # exhaustive exact check over rationals phi = a/b, in integers: 1/k >= a/b <=> b >= a k
    for b in range(1, 61):
        for a in range(1, b + 1):
            kst = b // a  # floor(1/phi)
            kst_strict = -(-b // a) - 1  # ceil(1/phi) - 1
            for kk in range(1, 131):
                if (b >= a * kk) != (kk <= kst) or (b > a * kk) != (kk <= kst_strict):
                    raise AssertionError(f"derivation check failed: staircase at phi={a}/{b}, k={kk}")
    steps.append(
        "1/k >= phi  <=>  k (1/k - phi) = 1 - k phi >= 0  <=>  k <= 1/phi  <=>  k <= floor(1/phi) = K*"
        " (integer k; checked exhaustively for phi = a/b, b <= 60, k <= 130)"
    )
    steps.append("strict rule: 1/k > phi  <=>  k <= ceil(1/phi) - 1 (same exhaustive check)")

    # 2. C1 = sum_{k=2}^{K} k (k-1) p_k / z for the Poisson p_k
    kk = sp.Symbol("k", integer=True, nonnegative=True)
    j = sp.Symbol("j", integer=True, nonnegative=True)
    pk = z**kk * sp.exp(-z) / sp.factorial(kk)
    term = kk * (kk - 1) * pk / z
    # k (k-1) p_k / z = z^(k-1) e^-z / (k-2)!; with k = j + 2 sympy sums the series in closed form
    shifted = sp.combsimp(term.subs(kk, j + 2))
    _check(sp.simplify(shifted - z ** (j + 1) * sp.exp(-z) / sp.factorial(j)) == 0, "term k(k-1)p_k/z")
    c1_raw = sp.simplify(sp.Sum(shifted, (j, 0, Ks - 2)).doit())
    closed = z * _Q(Ks - 1, z)
    _check(
        sp.simplify(c1_raw - z * (1 - sp.lowergamma(Ks - 1, z) / sp.gamma(Ks - 1))) == 0,
        "sympy's sum equals z (1 - lowergamma(K-1, z)/Gamma(K-1)) = z Q(K-1, z)",
    )

    def finite(expr, lo, hi):  # the finite sum written out term by term
        return sp.Add(*[expr.subs(kk, j) for j in range(lo, hi + 1)])

    def same(a, b):  # equal as functions of z: compare exp(z) (a - b), a polynomial in z
        return sp.expand(sp.expand_func(a - b) * sp.exp(z)) == 0

    for K in range(2, 13):
        lhs = finite(kk * (kk - 1) * pk / z, 2, K)
        _check(same(lhs, closed.subs(Ks, K)), f"C1 closed form, K* = {K}")
        _check(same(lhs, c1_raw.subs(Ks, K)), f"sympy's general sum at K* = {K}")
    c1_mp = sp.lambdify((z, Ks), c1_raw, modules="mpmath")
    with mpmath.workdps(40):
        for K in (20, 35, 60):
            for zv in ("0.5", "3.3", "12.0", "40.0"):
                zz = mpmath.mpf(zv)
                direct = mpmath.fsum(
                    zz ** (j - 1) * mpmath.exp(-zz) / mpmath.factorial(j - 2) for j in range(2, K + 1)
                )
                q = zz * mpmath.gammainc(K - 1, zz, mpmath.inf, regularized=True)
                _check(abs(direct - q) < mpmath.mpf(10) ** -35, f"C1 = z Q(K*-1, z) at K*={K}, z={zv}")
                _check(abs(c1_mp(zz, K) - q) < mpmath.mpf(10) ** -30, f"sympy's sum at K*={K}, z={zv}")
    steps.append(f"C1 = Sum(k (k-1) p_k / z, k=2..K*) = {c1_raw}")
    steps.append(
        "    = z Q(K* - 1, z) = z P[Poisson(z) <= K* - 2]   (symbolic for K* = 2..12, mpmath 40 digits beyond)"
    )

    # 0. the expansion behind C1 and C2, for any response: with F_m = F(m, k),
    # sum_m Bin(m; k-1, q) F_m = F_0 + (k-1)(F_1 - F_0) q + C(k-1, 2)(F_2 - 2 F_1 + F_0) q^2 + O(q^3)
    q = sp.Symbol("q", positive=True)
    for kk_ in range(1, 10):
        Fs = sp.symbols(f"F0:{kk_}")
        series = sp.Add(
            *[sp.binomial(kk_ - 1, m) * q**m * (1 - q) ** (kk_ - 1 - m) * Fs[m] for m in range(kk_)]
        )
        poly = sp.Poly(sp.expand(series), q)
        c = [poly.coeff_monomial(q**i) for i in range(3)]
        F = list(Fs) + [0, 0, 0]
        _check(sp.expand(c[0] - F[0]) == 0, f"q^0 coefficient, k={kk_}")
        _check(sp.expand(c[1] - (kk_ - 1) * (F[1] - F[0])) == 0, f"q^1 coefficient, k={kk_}")
        want2 = sp.binomial(kk_ - 1, 2) * (F[2] - 2 * F[1] + F[0])
        _check(sp.expand(c[2] - want2) == 0, f"q^2 coefficient, k={kk_}")
    steps.insert(
        0,
        "sum_m Bin(m; k-1, q) F(m,k) = F(0,k) + (k-1)[F(1,k) - F(0,k)] q"
        " + C(k-1, 2)[F(2,k) - 2F(1,k) + F(0,k)] q^2 + O(q^3) (symbolic F, k = 1..9): the C1, C2 of the map",
    )

    # 3. C2 = sum_k (k p_k / z)(k-1)(k-2)[F(2,k)/2 - F(1,k)], F(2,k) = 1[k <= K2], K2 >= K*
    K2 = sp.Symbol("K2", integer=True, positive=True)
    for K in range(1, 7):
        for KK in range(K, 2 * K + 2):
            term = kk * (kk - 1) * (kk - 2) * pk / z
            lhs = sp.Rational(1, 2) * finite(term, 3, KK) - finite(term, 3, K)
            rhs = z**2 * ((_Q(KK - 2, z) if KK >= 3 else 0) / 2 - (_Q(K - 2, z) if K >= 3 else 0))
            _check(same(lhs, rhs), f"C2 closed form at K*={K}, K2={KK}")
    steps.append(
        "C2 = Sum((k p_k/z)(k-1)(k-2)[1[k<=K2]/2 - 1[k<=K*]]) = z^2 [Q(K2-2, z)/2 - Q(K*-2, z)]"
        " (K2 = floor(2/phi); a Q term is 0 when its K < 3; symbolic for K* <= 6, K* <= K2 <= 2K* + 1)"
    )
    _ = K2
    return WattsDerivation(c1=closed, c1_raw=c1_raw, steps=tuple(steps))


def k_star(phi_value, strict: bool = False) -> int:
    """K* = floor(1/phi) (">=" rule) or ceil(1/phi) - 1 (strict), in exact rational arithmetic.

    ``phi_value`` is read as the exact binary fraction of the float (as the library's integer rule,
    which allows a relative 1e-12 round-off, gives the same result for every float phi whose
    1/phi is not within 1e-12 of an integer other than through representation error).
    """
    ph = Fraction(phi_value).limit_denominator(10**12)
    return math.ceil(1 / ph) - 1 if strict else math.floor(1 / ph)


def _q_reg(s: int, zz):
    if s <= 0:
        return mpmath.mpf(0)
    return mpmath.gammainc(s, zz, mpmath.inf, regularized=True)


def er_c1(z_value, phi_value, strict: bool = False) -> float:
    """C1 = z Q(K* - 1, z) for an Erdos-Renyi graph (mean degree z) and threshold phi (mpmath, 30 digits)."""
    derivation()
    K = k_star(phi_value, strict)
    with mpmath.workdps(30):
        return float(mpmath.mpf(z_value) * _q_reg(K - 1, mpmath.mpf(z_value)))


def er_c2(z_value, phi_value) -> float:
    """C2 = z^2 [Q(K2 - 2, z)/2 - Q(K* - 2, z)], K2 = floor(2/phi), for the ">=" rule (mpmath, 30 digits)."""
    derivation()
    K = k_star(phi_value)
    K2 = math.floor(2 / Fraction(phi_value).limit_denominator(10**12))
    with mpmath.workdps(30):
        zz = mpmath.mpf(z_value)
        return float(zz**2 * (_q_reg(K2 - 2, zz) / 2 - _q_reg(K - 2, zz)))


def window_edges(phi_value, strict: bool = False):
    """(z_low, z_high): the roots of z Q(K* - 1, z) = 1; ``None`` if there is no window (K* < 3).

    Both roots are bracketed (C1 rises from 0 at z = 0, has a single maximum and decays to 0) and
    refined with mpmath at 40 digits.
    """
    derivation()
    K = k_star(phi_value, strict)
    if K < 3:
        return None
    with mpmath.workdps(40):
        f = lambda zz: zz * _q_reg(K - 1, zz) - 1  # noqa: E731
        zs = np.linspace(1e-6, 10.0 * K + 20.0, 600)
        vals = [f(mpmath.mpf(v)) for v in zs]
        roots = []
        for a, b, fa, fb in zip(zs[:-1], zs[1:], vals[:-1], vals[1:], strict=True):
            if fa * fb < 0:
                roots.append(float(mpmath.findroot(f, (mpmath.mpf(a), mpmath.mpf(b)), solver="anderson")))
        if len(roots) != 2:
            raise AssertionError(f"expected two window edges for K* = {K}, got {roots}")
        return roots[0], roots[1]


def main() -> None:
    """Print the derivation and the window of phi = 0.18."""
    print("== Watts' cascade condition on Erdos-Renyi graphs ==")
    for line in derivation().steps:
        print("  " + line)
    lo, hi = window_edges(0.18)
    print(f"  phi = 0.18 (K* = 5): window {lo:.10f} < z < {hi:.10f}")


if __name__ == "__main__":
    main()
