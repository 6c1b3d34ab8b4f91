"""Responses built from summed loads: iid random weights and damage diversification, with sympy.

Weighted threshold models activate a node when the summed weights of its active neighbours reach
its threshold theta (docs/guide/theory/cascades.md, the cascade model class). Two oracles for ``cascades.meanfield``:

1. **iid exponential weights.** With W ~ Exp(scale s), the m-fold convolution of the density is
   the Erlang density x^(m-1) e^(-x/s) / (s^m (m-1)!): sympy convolves the densities by
   integration for m = 1..6 and, for general m, checks the Laplace transform (1 + s t)^(-m).
   Hence F(m) = P[W_1 + ... + W_m >= theta] = Q(m, theta/s) = e^(-theta/s) sum_{j<m} (theta/s)^j/j!
   (Q the regularized upper incomplete gamma function), F(0) = 1[theta <= 0].
2. **Damage diversification** (Burkholz, Garas & Schweitzer, PRE 93, 042313, 2016): a failing
   neighbour of degree k' adds the load 1/k'. In the tree approximation the child at the end of
   an edge has degree k' with probability e_k' = k' p_k' / z and is active (computed without its
   parent) with a degree-dependent probability a_k'; its load X is 1/k' with probability
   e_k' a_k' and 0 otherwise, independently across children, so

       a_k(t+1) = rho0 + (1 - rho0) P[X_1 + ... + X_{k-1} >= theta],
       rho(t+1) = rho0 + (1 - rho0) sum_k p_k P[X_1 + ... + X_k >= theta],   a_k(0) = rho(0) = rho0.

   :func:`damage_trajectory` runs this recursion in exact rational arithmetic (the law of the sum
   by exact convolution of finite distributions) for a finite degree distribution. It is the
   oracle of the degree-resolved solver of ``cascades.meanfield.final_size``. The simpler form
   F(m) = P[sum of m iid 1/K' >= theta], K' ~ e_k' (docs/guide/theory/cascades.md) is the special case
   a_k' independent of k'; :func:`damage_iid_response` gives it exactly for comparison.

Run ``python -m theory.load_sums`` to print the derivation.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import sympy as sp

from ._check import check as _check

__all__ = [
    "LoadDerivation",
    "derivation",
    "exponential_weight_response",
    "damage_trajectory",
    "damage_iid_response",
    "main",
]

x, y, s, t, th = sp.symbols("x y s t theta", positive=True)
mm = sp.Symbol("m", integer=True, positive=True)


@dataclass(frozen=True)
class LoadDerivation:
    """The Erlang density and tail (sympy expressions in x, s, m, theta)."""

    density: sp.Expr
    tail: sp.Expr
    steps: tuple[str, ...]




@functools.cache
def derivation() -> LoadDerivation:
    """Derive the m-fold convolution of exponential weights and its tail."""
    steps = []
    f1 = sp.exp(-x / s) / s
    erlang = x ** (mm - 1) * sp.exp(-x / s) / (s**mm * sp.factorial(mm - 1))
    dens = f1
    for m in range(2, 7):
        dens = sp.simplify(sp.integrate(dens.subs(x, y) * f1.subs(x, x - y), (y, 0, x)))
        _check(sp.simplify(dens - erlang.subs(mm, m)) == 0, f"{m}-fold convolution is Erlang")
    steps.append("f_m = f_(m-1) * f_1 by integration, m = 2..6: x^(m-1) e^(-x/s) / (s^m (m-1)!)")
    lap = sp.simplify(sp.integrate(erlang * sp.exp(-t * x), (x, 0, sp.oo), conds="none"))
    _check(sp.simplify(lap - (1 + s * t) ** (-mm)) == 0, "Laplace transform (1 + s t)^-m")
    _check(
        sp.simplify(sp.integrate(f1 * sp.exp(-t * x), (x, 0, sp.oo), conds="none") ** mm - lap) == 0, "L[f]^m"
    )
    steps.append("general m: L[Erlang] = (1 + s t)^-m = L[f_1]^m")
    tail = sp.simplify(sp.integrate(erlang, (x, th, sp.oo), conds="none"))
    closed = sp.uppergamma(mm, th / s) / sp.gamma(mm)
    lower_form = 1 - sp.lowergamma(mm, th / s) / sp.gamma(mm)
    _check(
        sp.simplify(sp.gammasimp(tail - lower_form)) == 0,
        "P[S_m >= theta] = 1 - lowergamma(m, theta/s)/Gamma(m)",
    )
    for m in range(1, 8):  # lowergamma + uppergamma = Gamma: the two forms agree (Q(m, x))
        _check(
            sp.simplify(sp.expand_func(lower_form.subs(mm, m) - closed.subs(mm, m))) == 0, f"Q identity m={m}"
        )
    j = sp.Symbol("j", integer=True, nonnegative=True)
    for m in range(1, 8):
        series = sp.exp(-th / s) * sp.Add(*[(th / s) ** i / sp.factorial(i) for i in range(m)])
        _check(sp.simplify(sp.expand_func(closed.subs(mm, m)) - series) == 0, f"Poisson-sum form, m = {m}")
    _ = j
    steps.append(f"F(m) = P[S_m >= theta] = {closed} = e^(-theta/s) sum_(j<m) (theta/s)^j / j!")
    return LoadDerivation(density=erlang, tail=closed, steps=tuple(steps))


def exponential_weight_response(m: int, theta: float, scale: float) -> float:
    """F(m) = Q(m, theta/scale) for iid Exp(scale) weights (mpmath, 30 digits); F(0) = 1[theta <= 0]."""
    derivation()
    if m == 0:
        return 1.0 if theta <= 0 else 0.0
    with mpmath.workdps(30):
        return float(mpmath.gammainc(m, mpmath.mpf(theta) / mpmath.mpf(scale), mpmath.inf, regularized=True))


def _convolve(d1: dict, d2: dict) -> dict:
    out = defaultdict(Fraction)
    for a, pa in d1.items():
        for b, pb in d2.items():
            out[a + b] += pa * pb
    return dict(out)


def _tail_probs(law: dict, theta: Fraction, nmax: int) -> list:
    """[P[X_1 + ... + X_n >= theta] for n = 0..nmax] in exact arithmetic."""
    out = []
    dist = {Fraction(0): Fraction(1)}
    for n in range(nmax + 1):
        if n > 0:
            dist = _convolve(dist, law)
        out.append(sum((pr for val, pr in dist.items() if val >= theta), Fraction(0)))
    return out


def damage_trajectory(pk: dict, theta, rho0, steps: int):
    """Exact (rho_t, q_t) of the degree-resolved recursion for damage diversification.

    ``pk`` maps degrees to probabilities (anything ``Fraction`` accepts, summing to 1); theta and
    rho0 likewise. Returns ``rho_t`` with ``steps + 2`` entries and ``q_t = sum_k e_k a_k(t)`` with
    ``steps + 1``, in the layout of :class:`cascades.meanfield.FinalSize` after ``steps``
    iterations (rho_{t+1} uses the a_k(t)).
    """
    p = {int(k): Fraction(v) for k, v in pk.items()}
    if sum(p.values()) != 1:
        raise ValueError("pk must sum to 1")
    theta, rho0 = Fraction(theta), Fraction(rho0)
    z = sum(k * v for k, v in p.items())
    e = {k: k * v / z for k, v in p.items() if k > 0}
    kmax = max(p)
    a = {k: rho0 for k in e}

    def tails(a):
        law = defaultdict(Fraction)
        active = Fraction(0)
        for k, ek in e.items():
            law[Fraction(1, k)] += ek * a[k]
            active += ek * a[k]
        law[Fraction(0)] += 1 - active
        return _tail_probs(dict(law), theta, kmax)

    rho_t = [rho0]
    q_t = [sum(e[k] * a[k] for k in e)]
    f = tails(a)
    for _ in range(steps):
        rho_t.append(rho0 + (1 - rho0) * sum(p[k] * f[k] for k in p))
        a = {k: rho0 + (1 - rho0) * f[k - 1] for k in e}
        q_t.append(sum(e[k] * a[k] for k in e))
        f = tails(a)
    rho_t.append(rho0 + (1 - rho0) * sum(p[k] * f[k] for k in p))
    return rho_t, q_t


def damage_iid_response(pk: dict, theta, m: int) -> Fraction:
    """F(m) = P[sum of m iid 1/K' >= theta], K' ~ k' p_k' / z, exactly (the form of the issue text)."""
    p = {int(k): Fraction(v) for k, v in pk.items()}
    z = sum(k * v for k, v in p.items())
    law = {Fraction(1, k): k * v / z for k, v in p.items() if k > 0}
    return _tail_probs(law, Fraction(theta), m)[m]


def main() -> None:
    """Print the derivation and an exact damage-diversification trajectory."""
    print("== Summed loads ==")
    for line in derivation().steps:
        print("  " + line)
    pk = {1: "1/5", 2: "2/5", 3: "2/5"}
    rho, q = damage_trajectory(pk, "1/2", "1/10", 3)
    print(f"  damage, p = {pk}, theta = 1/2, rho0 = 1/10: rho_t = {[float(r) for r in rho]}")
    print(f"  iid-1/K' form F(2) = {damage_iid_response(pk, '1/2', 2)}")


if __name__ == "__main__":
    main()
