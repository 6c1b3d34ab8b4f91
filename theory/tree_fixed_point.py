"""Exact fixed points and time courses of the local tree approximation, derived with sympy.

The local tree approximation (Gleeson & Cahalane, PRE 75, 056103, 2007, Eqs. (1)-(2);
docs/guide/theory/cascades.md) iterates, from q_0 = rho0,

    q_{t+1} = rho0 + (1 - rho0) sum_k e_k sum_{m<k}  Bin(m; k-1, q_t) F(m, k),
    rho_{t+1} = rho0 + (1 - rho0) sum_k p_k sum_{m<=k} Bin(m; k, q_t) F(m, k),     rho_0 = rho0,

(rho_t is the active fraction after t synchronous steps; Burkholz & Schweitzer, PRE 97, 042312,
2018). Two cases with exact answers, and the identity behind the fast path for integer thresholds,
P[Bin(n, q) >= M] = I_q(M, n - M + 1) (regularized incomplete beta function), checked symbolically
for 1 <= M <= n <= 8:

1. **k-regular graphs, absolute threshold M** (bootstrap percolation): the maps are the
   polynomials G(q) = P[Bin(k-1, q) >= M], H(q) = P[Bin(k, q) >= M]. For rational rho0 the
   trajectory is computed in exact rational arithmetic, and the final size is the smallest root
   >= rho0 of rho0 + (1 - rho0) G(q) - q, isolated exactly by sympy's ``real_roots`` and evaluated
   at 50 digits. Closed form for k = 3, M = 2: q = rho0/(1 - rho0) for rho0 < 1/2, derived with
   ``solve``.
2. **Independent cascade on Erdos-Renyi graphs** (F(m, k) = 1 - (1-p)^m, Poisson(z) degrees):
   sum_m Bin(m; n, q) (1 - (1-p)^m) = 1 - (1 - p q)^n, and since G0 = G1 for the Poisson
   distribution, q = rho = 1 - (1 - rho0) exp(-a q) with a = z p, solved by sympy as
   q = 1 + W(-a (1 - rho0) e^{-a}) / a (principal branch of Lambert W), checked at 50 digits.

Run ``python -m theory.tree_fixed_point`` to print the derivation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import mpmath
import sympy as sp

from ._check import check as _check

__all__ = [
    "TreeDerivation",
    "derivation",
    "regular_bootstrap_trajectory",
    "regular_bootstrap_final",
    "er_independent_cascade",
    "main",
]

q, r0, a, p, s = sp.symbols("q rho0 a p s", positive=True)
m = sp.Symbol("m", integer=True, nonnegative=True)


@dataclass(frozen=True)
class TreeDerivation:
    """The derived closed forms."""

    regular_32: sp.Expr
    ic_er: sp.Expr
    steps: tuple[str, ...]




def _tail(n: int, M: int, x):
    """P[Bin(n, x) >= M] as a polynomial."""
    return sp.Add(*[sp.binomial(n, i) * x**i * (1 - x) ** (n - i) for i in range(max(M, 0), n + 1)])


@functools.cache
def derivation() -> TreeDerivation:
    """Derive the closed forms and check them."""
    steps = []
    # 1. 3-regular, M = 2: rho0 + (1 - rho0) q^2 = q
    G = _tail(2, 2, q)
    _check(sp.expand(G - q**2) == 0, "P[Bin(2, q) >= 2] = q^2")
    roots = sp.solve(sp.Eq(r0 + (1 - r0) * G, q), q)
    _check(len(roots) == 2, f"two roots, got {roots}")
    small = [x for x in roots if sp.simplify(x.subs(r0, sp.Rational(1, 10)) - sp.Rational(1, 9)) == 0]
    _check(len(small) == 1, "the root rho0/(1-rho0) at rho0 = 1/10")
    closed = sp.simplify(small[0])
    _check(sp.simplify(closed - r0 / (1 - r0)) == 0, "q = rho0/(1 - rho0)")
    others = [sp.simplify(x) for x in roots if x is not small[0]]
    _check(others == [1], f"the other root is 1, got {others}")
    steps.append(f"3-regular, M = 2: q = rho0 + (1-rho0) q^2 has roots {roots}")
    steps.append(f"  smallest root >= rho0 for rho0 < 1/2: q = {closed}; the iteration from rho0 reaches it")
    rho32 = sp.simplify(r0 + (1 - r0) * _tail(3, 2, closed))
    steps.append(f"  rho = rho0 + (1-rho0) P[Bin(3, q) >= 2] = {sp.factor(rho32)}")
    # the iteration reaches the smallest root: q_t < q* for all t (monotone map, q_0 = rho0 < q*)
    for rr in (sp.Rational(1, 10), sp.Rational(1, 4), sp.Rational(2, 5)):
        traj = regular_bootstrap_trajectory(3, 2, rr, 6)[1]
        qstar = closed.subs(r0, rr)
        _check(all(t < qstar for t in traj), "iterates stay below the smallest root")
        _check(all(b > c for b, c in zip(traj[1:], traj[:-1], strict=True)), "iterates increase")

    # binomial tails as regularized incomplete beta functions (the O(1) per degree path of final_size):
    # P[Bin(n, q) >= M] = I_q(M, n - M + 1) = int_0^q t^(M-1) (1-t)^(n-M) dt / B(M, n - M + 1)
    tt = sp.Symbol("t", positive=True)
    for n in range(1, 9):
        for M in range(1, n + 1):
            beta = sp.integrate(tt ** (M - 1) * (1 - tt) ** (n - M), (tt, 0, q)) / sp.beta(M, n - M + 1)
            _check(sp.expand(sp.expand_func(beta) - _tail(n, M, q)) == 0, f"I_q(M, n-M+1), n={n}, M={M}")
    steps.append(
        "P[Bin(n, q) >= M] = I_q(M, n - M + 1) (regularized incomplete beta; checked for 1 <= M <= n <= 8)"
    )

    # 2. IC: sum_m Bin(m; n, x) (1 - (1-p)^m) = 1 - (1 - p x)^n (binomial theorem), n = 0..8
    for n in range(9):
        lhs = sp.Add(
            *[sp.binomial(n, i) * q**i * (1 - q) ** (n - i) * (1 - (1 - p) ** i) for i in range(n + 1)]
        )
        _check(sp.expand(lhs - (1 - (1 - p * q) ** n)) == 0, f"IC binomial sum, n = {n}")
    steps.append("IC: sum_m Bin(m; n, q)(1 - (1-p)^m) = 1 - (1 - p q)^n (checked for n = 0..8)")
    # Poisson: sum_k e_k (1 - (1 - p q)^(k-1)) = 1 - exp(-z p q) = sum_k p_k (1 - (1 - p q)^k)
    z, x = sp.symbols("z x", positive=True)
    j = sp.Symbol("j", integer=True, nonnegative=True)
    G1 = sp.simplify(sp.Sum(z**j * sp.exp(-z) / sp.factorial(j) * x**j, (j, 0, sp.oo)).doit())
    _check(sp.simplify(G1 - sp.exp(z * (x - 1))) == 0, "Poisson G0 = G1 = exp(z(x-1))")
    eq = sp.Eq(q, 1 - (1 - r0) * sp.exp(-a * q))
    sol = sp.solve(eq, q)
    _check(len(sol) == 1, f"one closed-form solution, got {sol}")
    ic = sol[0]
    target = 1 + sp.LambertW(-a * (1 - r0) * sp.exp(-a)) / a
    _check(sp.simplify(ic - target) == 0 or _numeric_equal(ic, target), "q = 1 + W(-a(1-rho0)e^-a)/a")
    steps.append(f"IC on ER: q = rho = 1 - (1-rho0) exp(-a q), a = z p  =>  q = {ic}")
    f = sp.lambdify((a, r0), target, modules="mpmath")
    with mpmath.workdps(50):
        for av, rv in (("0.5", "0.01"), ("1.2", "0.01"), ("3.0", "0.001"), ("0.9", "0.3")):
            aa, rr = mpmath.mpf(av), mpmath.mpf(rv)
            qq = f(aa, rr)
            _check(abs(qq - (1 - (1 - rr) * mpmath.exp(-aa * qq))) < mpmath.mpf(10) ** -45, "IC residual")
            it = rr  # the iteration from rho0 converges to the principal-branch root
            for _ in range(5000):  # contraction rates here are <= 0.8: 400 steps reach 1e-40
                new = 1 - (1 - rr) * mpmath.exp(-aa * it)
                if abs(new - it) < mpmath.mpf(10) ** -42:
                    break
                it = new
            _check(abs(it - qq) < mpmath.mpf(10) ** -30, f"iteration reaches the W root at a={av}, rho0={rv}")
    steps.append("  the principal branch is the root reached from rho0 (checked at 50 digits)")
    return TreeDerivation(regular_32=closed, ic_er=target, steps=tuple(steps))


def _numeric_equal(e1, e2) -> bool:
    f1 = sp.lambdify((a, r0), e1, modules="mpmath")
    f2 = sp.lambdify((a, r0), e2, modules="mpmath")
    with mpmath.workdps(30):
        return all(
            abs(f1(mpmath.mpf(x), mpmath.mpf(y)) - f2(mpmath.mpf(x), mpmath.mpf(y))) < 1e-25
            for x, y in (("0.5", "0.1"), ("2", "0.01"), ("4", "0.3"))
        )


def regular_bootstrap_trajectory(k: int, M: int, rho0, steps: int):
    """Exact (rho_t, q_t), t = 0..steps, for a k-regular graph, threshold M, rational rho0.

    ``rho_t`` has ``steps + 2`` entries (rho_0 = rho0, rho_{t+1} = H(q_t)), ``q_t`` ``steps + 1``,
    matching :class:`cascades.meanfield.FinalSize`'s trajectory after ``steps`` iterations.
    """
    rr = sp.Rational(rho0)
    qt = [rr]
    rt = [rr]
    for _ in range(steps):
        qq = qt[-1]
        rt.append(rr + (1 - rr) * _tail(k, M, qq))
        qt.append(rr + (1 - rr) * _tail(k - 1, M, qq))
    rt.append(rr + (1 - rr) * _tail(k, M, qt[-1]))
    return rt, qt


def regular_bootstrap_final(k: int, M: int, rho0, dps: int = 50):
    """(q, rho) at the smallest fixed point >= rho0 (exact root isolation, evaluated at ``dps`` digits)."""
    rr = sp.Rational(rho0)
    poly = sp.Poly(sp.expand(rr + (1 - rr) * _tail(k - 1, M, q) - q), q)
    roots = [x for x in sp.real_roots(poly) if x >= rr]
    if not roots:  # pragma: no cover - the map sends [rho0, 1] into itself, so a root exists
        raise AssertionError("no fixed point above rho0")
    qs = min(roots)
    qv = sp.N(qs, dps)
    rho = sp.N(rr + (1 - rr) * _tail(k, M, qs), dps)
    return float(qv), float(rho)


def er_independent_cascade(z_value, p_value, rho0) -> float:
    """rho = q for the independent cascade on an Erdos-Renyi graph (mpmath, 50 digits)."""
    f = sp.lambdify((a, r0), derivation().ic_er, modules="mpmath")
    with mpmath.workdps(50):
        return float(mpmath.re(f(mpmath.mpf(z_value) * mpmath.mpf(p_value), mpmath.mpf(rho0))))


def main() -> None:
    """Print the derivation."""
    print("== Exact fixed points of the local tree approximation ==")
    for line in derivation().steps:
        print("  " + line)
    print(f"  4-regular, M = 2, rho0 = 1/20: (q, rho) = {regular_bootstrap_final(4, 2, '1/20')}")
    print(f"  IC on ER, z = 4, p = 0.3, rho0 = 0.01: rho = {er_independent_cascade(4.0, 0.3, 0.01):.12f}")


if __name__ == "__main__":
    main()
