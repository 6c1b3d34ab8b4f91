"""The extended vulnerable cluster of Watts' model on Erdos-Renyi graphs, derived with sympy.

A single seed triggers a global cascade iff one of its neighbours leads into the giant cluster of
vulnerable nodes (those that one active neighbour activates, probability F(1, k)). With v the
probability that an edge from an active node leads into an infinite vulnerable subtree and
e_k = k p_k / z (Watts, PNAS 99, 5766, 2002; Gleeson & Cahalane, PRE 75, 056103, 2007;
docs/guide/theory/cascades.md):

    v = sum_k e_k F(1, k) (1 - (1 - v)^(k-1)),        P_global = 1 - sum_k p_k (1 - v)^k,

and the giant vulnerable cluster holds sum_k p_k F(1, k) (1 - (1 - v)^k) of the nodes.
Derived here for the Poisson p_k and F(1, k) = 1[k <= K*] (K* = floor(1/phi)):

1. sympy sums the series with symbolic K*:
   v = Q(K*, z) - e^{-z v} Q(K*, z(1 - v)),   P_global = 1 - e^{-z v},
   vulnerable fraction = Q(K* + 1, z) - e^{-z v} Q(K* + 1, z(1 - v)),
   with Q the regularized upper incomplete gamma function (checked term by term symbolically for
   K* = 1..7 and with mpmath at 40 digits).
2. The slope of the right side at v = 0 is z Q(K* - 1, z) = C1 (theory.watts_condition), so a
   root v > 0 exists iff C1 > 1 (the right side is concave in v, so the root is unique);
   checked symbolically for K* = 2..7.
3. For K* -> infinity (every node vulnerable) the equation becomes v = 1 - e^{-z v}: the giant
   component of theory.giant_component.

Run ``python -m theory.vulnerable_cluster`` to print the derivation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mpmath
import sympy as sp

from . import watts_condition as wc
from ._check import check as _check

__all__ = ["VulnerableDerivation", "derivation", "er_global_cascade", "main"]

z = sp.Symbol("z", positive=True)
v = sp.Symbol("v", positive=True)
K = sp.Symbol("K", integer=True, positive=True)
j = sp.Symbol("j", integer=True, nonnegative=True)


@dataclass(frozen=True)
class VulnerableDerivation:
    """The closed forms (sympy expressions in z, v and K = K*)."""

    rhs: sp.Expr
    probability: sp.Expr
    vulnerable: sp.Expr
    steps: tuple[str, ...]




def _Q(s, x):
    return 1 - sp.lowergamma(s, x) / sp.gamma(s)


@functools.cache
def derivation() -> VulnerableDerivation:
    """Derive the vulnerable-cluster equations for Erdos-Renyi graphs and check them."""
    steps = []
    pois = z**j * sp.exp(-z) / sp.factorial(j)
    # e_k = k p_k / z = Poisson(k - 1; z): the edge-biased degree minus one is Poisson again
    kk = sp.Symbol("k", integer=True, positive=True)
    ek = kk * (z**kk * sp.exp(-z) / sp.factorial(kk)) / z
    _check(sp.simplify(sp.combsimp(ek - pois.subs(j, kk - 1))) == 0, "e_k = Poisson(k-1; z)")
    # right side: sum_{k=1}^{K} e_k (1 - (1-v)^(k-1)) = sum_{j=0}^{K-1} Pois(j) (1 - (1-v)^j)
    u = sp.Symbol("u", positive=True)  # u = 1 - v, kept positive so that sympy sums without branches
    s_all = sp.simplify(sp.Sum(pois, (j, 0, K - 1)).doit())
    s_thin = sp.simplify(sp.Sum(pois * u**j, (j, 0, K - 1)).doit()).subs(u, 1 - v)
    rhs = s_all - s_thin
    closed = _Q(K, z) - sp.exp(-z * v) * _Q(K, z * (1 - v))
    _check(sp.simplify(rhs - closed) == 0, "v-equation in closed form")

    def finite(expr, hi):
        return sp.Add(*[expr.subs(j, i) for i in range(0, hi + 1)])

    def same(a, b):
        return sp.expand(sp.expand_func(a - b) * sp.exp(z)) == 0

    for KK in range(1, 8):
        direct = finite(pois * (1 - (1 - v) ** j), KK - 1)
        _check(same(direct, closed.subs(K, KK)), f"v-equation term by term, K* = {KK}")
    steps.append("e_k = k p_k / z = Poisson(k - 1; z)")
    steps.append(f"sum_(k<=K*) e_k (1 - (1-v)^(k-1)) = {sp.simplify(closed)}")

    # P_global = 1 - sum_k p_k (1 - v)^k = 1 - e^{-z v}
    thin_all = sp.simplify(sp.Sum(pois * u**j, (j, 0, sp.oo)).doit()).subs(u, 1 - v)
    pg = 1 - thin_all
    _check(sp.simplify(pg - (1 - sp.exp(-z * v))) == 0, "P_global = 1 - exp(-z v)")
    steps.append(f"P_global = 1 - sum_k p_k (1-v)^k = {pg}")

    # vulnerable fraction: sum_{k<=K} p_k (1 - (1-v)^k)
    vul = _Q(K + 1, z) - sp.exp(-z * v) * _Q(K + 1, z * (1 - v))
    for KK in range(1, 8):
        direct = finite(pois * (1 - (1 - v) ** j), KK)
        _check(same(direct, vul.subs(K, KK)), f"vulnerable fraction, K* = {KK}")
    steps.append(f"vulnerable fraction = sum_(k<=K*) p_k (1 - (1-v)^k) = {vul}")

    # slope at v = 0 is C1 = z Q(K-1, z)
    for KK in range(2, 8):
        slope = sp.diff(finite(pois * (1 - (1 - v) ** j), KK - 1), v).subs(v, 0)
        _check(same(slope, z * _Q(KK - 1, z)), f"slope at 0 = C1, K* = {KK}")
    steps.append("d/dv of the right side at v = 0 = z Q(K* - 1, z) = C1 (K* = 2..7)")

    # K* -> oo: v = 1 - exp(-z v), the giant component equation
    lim = sp.simplify(sp.Sum(pois, (j, 0, sp.oo)).doit() - thin_all)
    _check(sp.simplify(lim - (1 - sp.exp(-z * v))) == 0, "K* -> oo gives v = 1 - exp(-z v)")
    steps.append(f"K* -> oo: v = {lim} (the giant component, theory.giant_component)")

    # numeric cross-check of the closed forms with mpmath
    f_closed = sp.lambdify((v, z, K), closed, modules="mpmath")
    with mpmath.workdps(40):
        for KK in (3, 5, 12):
            for zv in ("1.5", "4.0", "9.0"):
                for vv in ("0.01", "0.4", "0.97"):
                    zz, vv_ = mpmath.mpf(zv), mpmath.mpf(vv)
                    direct = mpmath.fsum(
                        mpmath.exp(-zz) * zz**i / mpmath.factorial(i) * (1 - (1 - vv_) ** i)
                        for i in range(KK)
                    )
                    _check(
                        abs(direct - f_closed(vv_, zz, KK)) < mpmath.mpf(10) ** -35, "closed form (mpmath)"
                    )
    return VulnerableDerivation(
        rhs=closed, probability=1 - sp.exp(-z * v), vulnerable=vul, steps=tuple(steps)
    )


def er_global_cascade(z_value, phi_value, strict: bool = False):
    """(v, P_global, vulnerable fraction) for an Erdos-Renyi graph and threshold phi (mpmath, 40 digits).

    v is the largest root in [0, 1]: 0 when C1 <= 1; otherwise bracketed between a point where the
    concave right side lies above the diagonal and v = 1 (where it lies below), and refined.
    """
    d = derivation()
    Kst = wc.k_star(phi_value, strict)
    with mpmath.workdps(40):
        zz = mpmath.mpf(z_value)
        if Kst < 2 or zz * mpmath.gammainc(Kst - 1, zz, mpmath.inf, regularized=True) <= 1:
            return 0.0, 0.0, 0.0
        rhs = sp.lambdify((v, z, K), d.rhs, modules="mpmath")
        f = lambda vv: rhs(vv, zz, Kst) - vv  # noqa: E731
        lo = mpmath.mpf(1)
        while f(lo) <= 0:
            lo /= 2
        root = mpmath.findroot(f, (lo, mpmath.mpf(1)), solver="bisect")
        root = mpmath.findroot(f, root)
        vul = sp.lambdify((v, z, K), d.vulnerable, modules="mpmath")(root, zz, Kst)
        return float(root), float(1 - mpmath.exp(-zz * root)), float(vul)


def main() -> None:
    """Print the derivation."""
    print("== Extended vulnerable cluster, Erdos-Renyi graphs ==")
    for line in derivation().steps:
        print("  " + line)
    for zv in (2.0, 4.0, 5.5):
        vv, pg, vul = er_global_cascade(zv, 0.18)
        print(f"  phi = 0.18, z = {zv}: v = {vv:.10f}, P_global = {pg:.10f}, vulnerable = {vul:.10f}")


if __name__ == "__main__":
    main()
