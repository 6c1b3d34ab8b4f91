"""Generating functions and moments of the degree distributions, derived with sympy.

For a degree distribution p_k, Newman, Strogatz & Watts (PRE 64, 026118, 2001) define

    G0(x) = sum_k p_k x^k,        G1(x) = G0'(x) / G0'(1),
    <k> = G0'(1),                  <k^2> = G0''(1) + G0'(1).

Each derivation below starts from p_k, lets sympy do the summation and the
differentiation, and then checks the result against the textbook closed form:

* Poisson p_k = z^k e^{-z} / k!:  G0 = G1 = exp(z (x - 1)), <k> = z, <k^2> = z + z^2.
* Binomial Bin(n, p):  G0 = (1 - p + p x)^n, G1 = (1 - p + p x)^(n-1), <k> = n p,
  <k^2> = n p (1 - p) + (n p)^2.
* Power law p_k = k^-g / zeta(g, kmin), k >= kmin (no cutoff): normalisation and moments are
  Hurwitz zeta functions, <k> = zeta(g-1, kmin)/zeta(g, kmin) (g > 2), <k^2> = zeta(g-2, kmin)/zeta(g, kmin)
  (g > 3). For kmin = 1, G0 = Li_g(x)/zeta(g) and G1 = Li_{g-1}(x)/(x zeta(g-1)).
  sympy cannot sum sum_k x^k/k^g itself; we use the defining series of the polylogarithm,
  Li_s(x) = sum_{k>=1} x^k / k^s (|x| < 1), and verify it termwise symbolically (series expansion
  of sympy's polylog to order 12) and as a whole numerically (mpmath, 30 digits).

The numeric functions at the bottom are sympy.lambdify'd from the derived expressions
(numpy for Poisson and binomial, mpmath for the power law) and serve as oracles in
``tests/test_theory.py``. Run ``python -m theory.generating_functions`` to print the derivations.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from ._check import check as _check

__all__ = [
    "Derivation",
    "poisson",
    "binomial",
    "power_law",
    "poisson_g0",
    "poisson_g1",
    "poisson_mean",
    "poisson_second_moment",
    "binomial_g0",
    "binomial_g1",
    "binomial_mean",
    "binomial_second_moment",
    "power_law_g0",
    "power_law_g1",
    "power_law_mean",
    "power_law_second_moment",
    "main",
]

# x is taken positive so that sympy simplifies powers; every identity derived below is between
# analytic functions of x, so it holds on the whole domain of convergence.
x, z, p, g = sp.symbols("x z p g", positive=True)
n = sp.Symbol("n", integer=True, positive=True)
kmin = sp.Symbol("kmin", integer=True, positive=True)
k = sp.Symbol("k", integer=True, nonnegative=True)
k1 = sp.Symbol("k", integer=True, positive=True)


@dataclass(frozen=True)
class Derivation:
    """The derived expressions for one family (sympy expressions in x and the parameters)."""

    name: str
    pk: sp.Expr
    G0: sp.Expr
    G1: sp.Expr
    mean: sp.Expr
    second_moment: sp.Expr
    steps: tuple[str, ...]




def _is_zero(expr) -> bool:
    return sp.simplify(expr) == 0


def _main_branch(expr):
    """For a Piecewise result of Sum.doit(), the first branch and its condition."""
    if isinstance(expr, sp.Piecewise):
        return expr.args[0].expr, expr.args[0].cond
    return expr, sp.true


def _from_g0(G0):
    """G1, <k> and <k^2> from G0 by differentiation."""
    d1 = sp.diff(G0, x)
    G1 = sp.simplify(d1 / d1.subs(x, 1))
    mean = sp.simplify(d1.subs(x, 1))
    second = sp.simplify((sp.diff(G0, x, 2) + d1).subs(x, 1))
    return G1, mean, second


@functools.cache
def poisson() -> Derivation:
    """Derive G0, G1, <k>, <k^2> of the Poisson distribution by summing the series."""
    pk = z**k * sp.exp(-z) / sp.factorial(k)
    norm = sp.simplify(sp.Sum(pk, (k, 0, sp.oo)).doit())
    _check(norm == 1, "Poisson pmf sums to 1")
    raw = sp.Sum(pk * x**k, (k, 0, sp.oo)).doit()
    G0 = sp.simplify(raw)
    _check(_is_zero(G0 - sp.exp(z * (x - 1))), "Poisson G0 = exp(z(x-1))")
    G1, mean, second = _from_g0(G0)
    _check(_is_zero(G1 - G0), "Poisson G1 = G0")
    _check(_is_zero(mean - z), "Poisson <k> = z")
    _check(_is_zero(second - (z + z**2)), "Poisson <k^2> = z + z^2")
    steps = (
        f"p_k = {pk}",
        f"sum_k p_k = {norm}",
        f"G0(x) = Sum(p_k x^k, k=0..oo) = {raw} = {G0}",
        f"G1(x) = G0'(x)/G0'(1) = {G1}",
        f"<k> = G0'(1) = {mean}",
        f"<k^2> = G0''(1) + G0'(1) = {sp.expand(second)}",
    )
    return Derivation("Poisson", pk, G0, G1, mean, sp.expand(second), steps)


@functools.cache
def binomial() -> Derivation:
    """Derive G0, G1, <k>, <k^2> of Bin(n, p) by summing the series."""
    pk = sp.binomial(n, k) * p**k * (1 - p) ** (n - k)
    raw = sp.Sum(pk * x**k, (k, 0, n)).doit()
    branch, cond = _main_branch(raw)
    G0 = sp.simplify(branch)
    _check(_is_zero(G0 - (1 - p + p * x) ** n), "binomial G0 = (1-p+px)^n")
    # sympy's hypergeometric route attaches a convergence condition (an x-interval with nonempty
    # interior). Both sides are polynomials of degree n in x, equal on that interval, hence equal
    # everywhere; confirm by expanding the finite sum for n = 0..8.
    for nn in range(9):
        finite = sp.Sum(pk.subs(n, nn) * x**k, (k, 0, nn)).doit()
        _check(sp.expand(finite - (1 - p + p * x) ** nn) == 0, f"binomial G0 for n = {nn}")
    G1, mean, second = _from_g0(G0)
    _check(_is_zero(G1 - (1 - p + p * x) ** (n - 1)), "binomial G1 = (1-p+px)^(n-1)")
    _check(_is_zero(mean - n * p), "binomial <k> = np")
    _check(_is_zero(second - (n * p * (1 - p) + (n * p) ** 2)), "binomial <k^2>")
    steps = (
        f"p_k = {pk}",
        f"G0(x) = Sum(p_k x^k, k=0..n) = {G0}   (sympy's branch condition: {cond};"
        " polynomial identity, checked for n = 0..8)",
        f"G1(x) = G0'(x)/G0'(1) = {G1}",
        f"<k> = G0'(1) = {mean}",
        f"<k^2> = G0''(1) + G0'(1) = {sp.factor(second)}",
    )
    return Derivation("Binomial", pk, G0, G1, mean, second, steps)


@functools.cache
def power_law() -> Derivation:
    """Derive the power law's normalisation and moments (Hurwitz zeta) and G0, G1 for kmin = 1."""
    steps = []
    # normalisation and moments for general kmin: sympy sums these to Hurwitz zeta functions
    # zeta(s, kmin) = sum_{k >= kmin} k^-s, valid for s > 1
    kk = sp.Symbol("k", integer=True, positive=True)
    C, c_cond = _main_branch(sp.Sum(kk ** (-g), (kk, kmin, sp.oo)).doit())
    # k^j * k^-g must be combined into k^(j-g) before sympy recognises the Hurwitz series
    S1, s1_cond = _main_branch(sp.Sum(sp.powsimp(kk * kk ** (-g)), (kk, kmin, sp.oo)).doit())
    S2, s2_cond = _main_branch(sp.Sum(sp.powsimp(kk**2 * kk ** (-g)), (kk, kmin, sp.oo)).doit())
    _check(_is_zero(C - sp.zeta(g, kmin)), "power-law normalisation zeta(g, kmin)")
    _check(_is_zero(S1 - sp.zeta(g - 1, kmin)), "sum k^(1-g) = zeta(g-1, kmin)")
    _check(_is_zero(S2 - sp.zeta(g - 2, kmin)), "sum k^(2-g) = zeta(g-2, kmin)")
    mean_h = S1 / C
    second_h = S2 / C
    steps += [
        f"C = Sum(k^-g, k=kmin..oo) = {C}   for {c_cond}",
        f"<k> = Sum(k^(1-g))/C = {mean_h}   for {s1_cond}",
        f"<k^2> = Sum(k^(2-g))/C = {second_h}   for {s2_cond}",
    ]

    # kmin = 1: the generating function is a polylogarithm
    pk = k1 ** (-g) / C.subs(kmin, 1)
    unevaluated = sp.Sum(k1 ** (-g) * x**k1, (k1, 1, sp.oo)).doit()
    _check(isinstance(unevaluated, sp.Sum), "sympy leaves sum x^k/k^g unevaluated (else revisit)")
    order = 12
    series = sp.series(sp.polylog(g, x), x, 0, order).removeO()
    termwise = sum(x**j / sp.Integer(j) ** g for j in range(1, order))
    _check(sp.expand(series - termwise) == 0, "Li_g(x) = sum x^k/k^g termwise to order 12")
    with mpmath.workdps(30):
        for gv, xv in [(1.5, 0.3), (2.5, 0.9), (3.7, 0.99)]:
            # partial sum to N terms; the rest is < x^(N+1) / (1 - x) < 1e-27
            xm = mpmath.mpf(xv)
            N = int(mpmath.ceil(mpmath.log(mpmath.mpf(10) ** -27 * (1 - xm)) / mpmath.log(xm)))
            direct = mpmath.fsum(xm**j / mpmath.mpf(j) ** gv for j in range(1, N + 1))
            _check(abs(direct - mpmath.polylog(gv, xv)) < mpmath.mpf(10) ** -25, "Li series (mpmath)")
    G0 = sp.polylog(g, x) / sp.zeta(g)
    _check(_is_zero(G0.subs(x, 1) - 1), "G0(1) = Li_g(1)/zeta(g) = 1")
    G1, mean, second = _from_g0(G0)
    _check(_is_zero(G1 - sp.polylog(g - 1, x) / (x * sp.zeta(g - 1))), "G1 = Li_{g-1}(x)/(x zeta(g-1))")
    _check(_is_zero(mean - mean_h.subs(kmin, 1)), "<k> from G0'(1) agrees with the Hurwitz form")
    _check(_is_zero(second - second_h.subs(kmin, 1)), "<k^2> from G0 agrees with the Hurwitz form")
    steps += [
        f"kmin = 1: p_k = {pk}",
        f"Sum(x^k/k^g, k=1..oo): sympy returns {unevaluated} (unevaluated); by the series of the"
        " polylogarithm (checked termwise to order 12, and numerically with mpmath) it is polylog(g, x)",
        f"G0(x) = {G0},  G0(1) = {sp.simplify(G0.subs(x, 1))}",
        f"G1(x) = G0'(x)/G0'(1) = {G1}",
        f"<k> = G0'(1) = {mean},  <k^2> = G0''(1) + G0'(1) = {sp.simplify(second)}",
        f"G1(0) = lim_(x->0) G1(x) = {sp.limit(G1, x, 0)}",
    ]
    return Derivation("PowerLaw", pk, G0, G1, mean_h, second_h, tuple(steps))


# ----------------------------------------------------------------------------
# numeric oracles (lambdified from the derived expressions)
# ----------------------------------------------------------------------------


@functools.cache
def _numpy_fn(family: str, what: str):
    d = {"poisson": poisson, "binomial": binomial}[family]()
    params = {"poisson": (z,), "binomial": (n, p)}[family]
    expr = getattr(d, what)
    args = (x, *params) if what in ("G0", "G1") else params
    return sp.lambdify(args, expr, modules="numpy")


@functools.cache
def _mpmath_fn(what: str):
    d = power_law()
    if what in ("G0", "G1"):
        return sp.lambdify((x, g), getattr(d, what), modules="mpmath")
    if what == "G1_at_0":
        return sp.lambdify((g,), sp.limit(d.G1, x, 0), modules="mpmath")
    return sp.lambdify((g, kmin), getattr(d, what), modules="mpmath")


def _mp_vectorized(fn, *args, dps: int = 30):
    def one(*a):
        with mpmath.workdps(dps):
            return float(fn(*(mpmath.mpf(float(v)) for v in a)))

    out = np.vectorize(one, otypes=[float])(*args)
    return out[()] if out.ndim == 0 else out


def poisson_g0(x, z):
    """Poisson G0(x) = exp(z (x - 1)), from :func:`poisson`."""
    return _numpy_fn("poisson", "G0")(np.asarray(x), z)


def poisson_g1(x, z):
    """Poisson G1(x), from :func:`poisson`."""
    return _numpy_fn("poisson", "G1")(np.asarray(x), z)


def poisson_mean(z):
    """Poisson <k> = G0'(1), from :func:`poisson`."""
    return float(_numpy_fn("poisson", "mean")(z))


def poisson_second_moment(z):
    """Poisson <k^2> = G0''(1) + G0'(1), from :func:`poisson`."""
    return float(_numpy_fn("poisson", "second_moment")(z))


def binomial_g0(x, n, p):
    """Binomial G0(x) = (1 - p + p x)^n, from :func:`binomial`."""
    return _numpy_fn("binomial", "G0")(np.asarray(x), n, p)


def binomial_g1(x, n, p):
    """Binomial G1(x) = (1 - p + p x)^(n-1), from :func:`binomial`."""
    return _numpy_fn("binomial", "G1")(np.asarray(x), n, p)


def binomial_mean(n, p):
    """Binomial <k>, from :func:`binomial`."""
    return float(_numpy_fn("binomial", "mean")(n, p))


def binomial_second_moment(n, p):
    """Binomial <k^2>, from :func:`binomial`."""
    return float(_numpy_fn("binomial", "second_moment")(n, p))


def power_law_g0(x, g):
    """Power law (kmin = 1, no cutoff) G0(x) = Li_g(x)/zeta(g), 0 <= x < 1, in mpmath at 30 digits."""
    return _mp_vectorized(_mpmath_fn("G0"), x, g)


def power_law_g1(x, g):
    """Power law (kmin = 1, no cutoff) G1(x) = Li_{g-1}(x)/(x zeta(g-1)), 0 <= x < 1 (limit at 0)."""
    fn, at_0 = _mpmath_fn("G1"), _mpmath_fn("G1_at_0")
    return _mp_vectorized(lambda xv, gv: at_0(gv) if xv == 0 else fn(xv, gv), x, g)


def power_law_mean(g, kmin=1):
    """Power law <k> = zeta(g-1, kmin)/zeta(g, kmin) (g > 2), in mpmath at 30 digits."""
    return _mp_vectorized(_mpmath_fn("mean"), g, kmin)


def power_law_second_moment(g, kmin=1):
    """Power law <k^2> = zeta(g-2, kmin)/zeta(g, kmin) (g > 3), in mpmath at 30 digits."""
    return _mp_vectorized(_mpmath_fn("second_moment"), g, kmin)


def main() -> None:
    """Print the derivations."""
    for derive in (poisson, binomial, power_law):
        d = derive()
        print(f"== {d.name} ==")
        for line in d.steps:
            print("  " + line)
        print()


if __name__ == "__main__":
    main()
