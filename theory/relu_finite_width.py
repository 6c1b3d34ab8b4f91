"""Finite-width moments of a random ReLU layer, derived with sympy (Burkholz & Dubatovka, NeurIPS 2019; docs/guide/theory/networks.md).

Setting (Burkholz & Dubatovka, NeurIPS 2019): given x^{l-1}, the pre-activations of a ReLU
layer of width n with W_ij ~ N(0, sigma_w^2 / n_{l-1}) and zero bias are iid N(0, v),
v = sigma_w^2 |x^{l-1}|^2 / n_{l-1}, so the layer ratio is

    r = |x^l|^2 / |x^{l-1}|^2 = (sigma_w^2 / n_{l-1}) chi^2_K,   K ~ Binomial(n, 1/2).

Derivation (no moment is typed in):

1. the moment generating function of chi^2_k is (1 - 2t)^(-k/2) (sympy integrates the
   density); the probability generating function of K is ((1 + s)/2)^n (sympy sums the pmf
   for a symbolic n through the binomial theorem, checked at n = 1..6 term by term);
2. by conditioning on K, E[exp(t chi^2_K)] = G_K((1 - 2t)^(-1/2)) = ((1 + (1 - 2t)^(-1/2))/2)^n;
3. its m-th derivative at t = 0 is E[(chi^2_K)^m], a polynomial in n; in particular
   E[r] = sigma_w^2 n / (2 n_{l-1}) and, for He initialisation (sigma_w^2 = 2) and
   n_{l-1} = n, E[r] = 1 and E[r^2] = 1 + 5/n;
4. the signal dies (K = 0) with probability G_K(0) = 2^(-n).

Checks: the symbolic results against direct finite sums over k = 0..n for n = 1..8 (exact
rationals). Run ``python -m theory.relu_finite_width`` to print the derivation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from ._check import check as _check

__all__ = [
    "ReluFiniteWidthDerivation",
    "derivation",
    "relu_ratio_moment",
    "relu_dead_probability",
    "main",
]

t, s, x = sp.symbols("t s x", real=True)
n = sp.symbols("n", positive=True, integer=True)
k = sp.symbols("k", positive=True)
sw2 = sp.symbols("sigma_w2", positive=True)

MAX_ORDER = 4


@dataclass(frozen=True)
class ReluFiniteWidthDerivation:
    """The generating function of chi^2_K and the moments of the He-initialised layer ratio."""

    mgf: sp.Expr  # E[exp(t chi^2_K)], K ~ Bin(n, 1/2)
    chi2_moments: tuple[sp.Expr, ...]  # E[(chi^2_K)^m], m = 0..MAX_ORDER, polynomials in n
    he_mean: sp.Expr  # E[r], sigma_w^2 = 2, n_{l-1} = n
    he_second_moment: sp.Expr  # E[r^2]
    dead_probability: sp.Expr  # P[K = 0]
    steps: tuple[str, ...]




@functools.cache
def derivation() -> ReluFiniteWidthDerivation:
    """Derive the moments of chi^2_K, K ~ Bin(n, 1/2), and the He layer ratio."""
    # 1. MGF of chi^2_k from its density (t < 1/2), and the PGF of Bin(n, 1/2)
    density = x ** (k / 2 - 1) * sp.exp(-x / 2) / (2 ** (k / 2) * sp.gamma(k / 2))
    tt = sp.symbols("tt", positive=True)  # integrate at t = -tt < 0, continue analytically to t < 1/2
    mgf_chi2 = sp.simplify(sp.integrate(density * sp.exp(-tt * x), (x, 0, sp.oo), conds="none"))
    mgf_chi2 = mgf_chi2.subs(tt, -t)
    _check(sp.simplify(mgf_chi2 - (1 - 2 * t) ** (-k / 2)) == 0, "MGF of chi^2_k is (1 - 2t)^(-k/2)")
    j = sp.symbols("j", integer=True, nonnegative=True)
    raw = sp.summation(sp.binomial(n, j) * s**j, (j, 0, n))
    # sympy returns Piecewise(((s + 1)^n, |s| <= 1), (Sum, True)); both branches are the same
    # polynomial of degree n (a finite sum), so the closed branch holds for every s -- checked
    # term by term below
    _check(isinstance(raw, sp.Piecewise), "sympy sums the binomial series")
    pgf = raw.args[0].expr / 2**n
    _check(sp.simplify(pgf - ((1 + s) / 2) ** n) == 0, "PGF of Bin(n, 1/2) is ((1 + s)/2)^n")
    for nv in range(1, 7):
        direct = sum(sp.binomial(nv, jv) * sp.Rational(1, 2) ** nv * s**jv for jv in range(nv + 1))
        _check(sp.expand(pgf.subs(n, nv) - direct) == 0, f"PGF term by term at n = {nv}")
    # 2. condition on K: E[exp(t chi^2_K)] = E[((1 - 2t)^(-1/2))^K] = G_K((1 - 2t)^(-1/2))
    mgf = pgf.subs(s, (1 - 2 * t) ** sp.Rational(-1, 2))
    # 3. moments
    moments, deriv = [], mgf
    for _ in range(MAX_ORDER + 1):  # E[(chi^2_K)^m] = m-th derivative at t = 0
        moments.append(sp.factor(sp.expand(sp.simplify(deriv.subs(t, 0)))))
        deriv = sp.diff(deriv, t)
    moments = tuple(moments)
    for nv in range(1, 9):
        for m in range(MAX_ORDER + 1):
            direct = sum(
                sp.binomial(nv, kv) * sp.Rational(1, 2**nv) * sp.prod([kv + 2 * i for i in range(m)])
                for kv in range(nv + 1)
            )
            _check(sp.expand(moments[m].subs(n, nv) - direct) == 0, f"E[(chi^2_K)^{m}] at n = {nv}")
    ratio = sw2 / n  # He: n_{l-1} = n
    he_mean = sp.simplify((ratio * moments[1]).subs(sw2, 2))
    he_second = sp.simplify((ratio**2 * moments[2]).subs(sw2, 2))
    _check(he_mean == 1, "E[r] = 1 under He initialisation")
    _check(sp.simplify(he_second - (1 + 5 / n)) == 0, "E[r^2] = 1 + 5/n under He initialisation")
    dead = sp.simplify(pgf.subs(s, 0))
    _check(sp.simplify(dead - 2 ** (-n)) == 0, "P[K = 0] = 2^-n")
    steps = (
        f"MGF of chi^2_k: {mgf_chi2}",
        f"PGF of K ~ Bin(n, 1/2): {pgf}",
        f"E[exp(t chi^2_K)] = {mgf}",
        f"E[chi^2_K] = {moments[1]},  E[(chi^2_K)^2] = {moments[2]}",
        f"He (sigma_w^2 = 2, n_in = n): E[r] = {he_mean},  E[r^2] = {sp.expand(he_second)}",
        f"signal dies: P[K = 0] = {dead}",
        "checked against direct sums over k for n = 1..8, moments 0..4",
    )
    return ReluFiniteWidthDerivation(mgf, moments, he_mean, he_second, dead, steps)


def relu_ratio_moment(m, n_out, n_in, sigma_w2=2.0):
    """E[r^m] for r = |x^l|^2 / |x^{l-1}|^2 of a zero-bias ReLU layer (exact rational if inputs are).

    ``r = (sigma_w2 / n_in) chi^2_K``, K ~ Bin(n_out, 1/2); m <= 4.

    Examples
    --------
    >>> from theory.relu_finite_width import relu_ratio_moment
    >>> relu_ratio_moment(2, 10, 10, 2)
    3/2
    """
    if not 0 <= int(m) <= MAX_ORDER:
        raise ValueError(f"m must be an integer in [0, {MAX_ORDER}], got {m!r}")
    val = derivation().chi2_moments[int(m)].subs(n, int(n_out)) * (sp.nsimplify(sigma_w2) / int(n_in)) ** int(m)
    return sp.nsimplify(val)


def relu_dead_probability(n_out):
    """P[a zero-bias ReLU layer of width n_out outputs 0] = 2^-n_out (exact rational)."""
    return derivation().dead_probability.subs(n, int(n_out))


def main() -> None:
    """Print the derivation."""
    print("== Finite-width ReLU layer (Burkholz & Dubatovka 2019) ==")
    for line in derivation().steps:
        print("  " + line)


if __name__ == "__main__":
    main()
