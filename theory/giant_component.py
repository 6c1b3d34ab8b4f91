"""Giant component of Erdos-Renyi (Poisson) random graphs, derived with sympy.

For a configuration-model graph with generating functions G0, G1 (Newman, Strogatz & Watts,
PRE 64, 026118, 2001), the probability u that an edge does not lead to the giant component and
the giant component's size S solve

    u = G1(u),        S = 1 - G0(u).

For the Poisson distribution G0 = G1 = exp(z (x - 1)) (derived in
:mod:`theory.generating_functions`), so u = 1 - S and

    S = 1 - exp(-z S).

Besides the trivial root S = 0 this has, for z > 1, the root

    S = 1 + W(-z e^{-z}) / z,

with W the principal branch of the Lambert W function. For z <= 1 the principal branch gives
W(-z e^{-z}) = -z, i.e. S = 0 (the other real branch W_{-1} gives -z for z > 1, the trivial root).
sympy's ``solve`` produces the closed form; the check that it solves the equation uses the
defining identity W(y) e^{W(y)} = y, i.e. exp(-W(y)) = W(y)/y, and is repeated numerically with
mpmath at 50 digits. Run ``python -m theory.giant_component`` to print the derivation.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp
from scipy import special

from . import generating_functions as gf
from ._check import check as _check

__all__ = ["GiantComponentDerivation", "derivation", "er_giant_component", "main"]

S, u = sp.symbols("S u")
z = gf.z
x = gf.x


@dataclass(frozen=True)
class GiantComponentDerivation:
    """The derived equation S = 1 - exp(-z S) and its Lambert-W solution."""

    equation: sp.Eq
    S: sp.Expr
    steps: tuple[str, ...]




@functools.cache
def derivation() -> GiantComponentDerivation:
    """Derive the Erdos-Renyi giant component and check the closed form."""
    d = gf.poisson()
    _check(sp.simplify(d.G0 - d.G1) == 0, "Poisson G0 = G1")
    # u = G1(u) and S = 1 - G0(u) = 1 - G1(u) = 1 - u, so u = 1 - S:
    fixed_point = sp.Eq(u, d.G1.subs(x, u))
    equation = sp.Eq(S, 1 - d.G0.subs(x, 1 - S))
    _check(sp.simplify(equation.rhs - (1 - sp.exp(-z * S))) == 0, "S = 1 - exp(-z S)")
    solutions = sp.solve(equation, S)
    _check(len(solutions) == 1, f"sympy finds one nontrivial root, got {solutions}")
    S_closed = sp.expand(solutions[0])
    y = -z * sp.exp(-z)
    W = sp.LambertW(y)
    _check(sp.simplify(S_closed - (1 + W / z)) == 0, "S = 1 + W(-z e^-z)/z")

    # symbolic check: substitute, then use exp(-W(y)) = W(y)/y (from W e^W = y)
    residual = S_closed - (1 - sp.exp(-z * S_closed))
    reduced = sp.simplify(sp.expand(sp.expand(residual).subs(sp.exp(-W), W / y)))
    _check(reduced == 0, "the closed form solves S = 1 - exp(-z S)")

    # numeric check at 50 digits: residual, W e^W = y, and the branch behaviour
    closed_mp = sp.lambdify(z, S_closed, modules="mpmath")
    with mpmath.workdps(50):
        for zv in ("1.01", "1.5", "2", "3", "5", "10"):
            zz = mpmath.mpf(zv)
            sv = closed_mp(zz)
            _check(abs(sv - (1 - mpmath.exp(-zz * sv))) < mpmath.mpf(10) ** -45, f"residual at z={zv}")
            _check(0 < sv < 1, f"S in (0, 1) at z={zv}")
            w = mpmath.lambertw(-zz * mpmath.exp(-zz))
            _check(abs(w * mpmath.exp(w) + zz * mpmath.exp(-zz)) < mpmath.mpf(10) ** -45, "W e^W = y")
            _check(abs(mpmath.lambertw(-zz * mpmath.exp(-zz), -1) + zz) < mpmath.mpf(10) ** -40, "W_-1")
        for zv in ("0.2", "0.5", "0.9"):
            _check(abs(closed_mp(mpmath.mpf(zv))) < mpmath.mpf(10) ** -40, f"S = 0 at z={zv}")
    steps = (
        f"Poisson: G0(x) = G1(x) = {d.G0}",
        f"u = G1(u):  {fixed_point}",
        "S = 1 - G0(u) = 1 - G1(u) = 1 - u  =>  u = 1 - S",
        f"{equation.lhs} = {equation.rhs}",
        f"sympy.solve -> S = {S_closed}   (plus the trivial root S = 0)",
        "check: with exp(-W(y)) = W(y)/y the residual S - (1 - exp(-z S)) simplifies to "
        f"{reduced}; at 50 digits the residual is < 1e-45 for z in (1, 10]",
        "branch: principal W gives S = 0 for z <= 1 and the nontrivial root for z > 1",
    )
    return GiantComponentDerivation(equation, S_closed, steps)


@functools.cache
def _closed_form():
    return sp.lambdify(
        z, derivation().S, modules=[{"LambertW": lambda v: special.lambertw(v, 0).real}, "numpy"]
    )


def _phi(t):
    """e^-t - 1 + t, accurate also for small t (series below 0.5)."""
    t = np.asarray(t, dtype=float)
    small = t < 0.5
    ts = np.where(small, t, 0.0)  # the caller uses only the small-t values
    # sum_{j>=2} (-t)^j / j! by Horner; the j = 22 term is < 1e-28 t^2 for t < 0.5
    acc = np.zeros_like(ts)
    for j in range(22, 1, -1):
        acc = acc * (-ts) + 1.0 / math.factorial(j)
    series = acc * ts * ts
    return np.where(small, series, np.expm1(-t) + t)


def er_giant_component(z):
    """Giant-component fraction S(z) of an Erdos-Renyi graph with mean degree z.

    ``S = 1 + W(-z e^{-z}) / z`` for z > 1 (principal branch, scipy's ``lambertw``), 0 for z <= 1.
    Near z = 1 the argument approaches the branch point -1/e, where W loses about half the digits;
    the closed-form value is therefore polished by Newton's method on
    f(S) = S - 1 + exp(-z S), evaluated without cancellation (monotone convergence from the right of the root, which f is convex and
    increasing past), so S has full relative accuracy also just above the threshold.

    Parameters
    ----------
    z : array_like
        Mean degree(s), finite and >= 0.

    Returns
    -------
    float or numpy.ndarray

    Examples
    --------
    >>> from theory.giant_component import er_giant_component
    >>> round(float(er_giant_component(2.0)), 12)
    0.796812130020
    >>> er_giant_component([0.5, 1.0])
    array([0., 0.])
    """
    zz = np.asarray(z, dtype=float)
    if not np.all(np.isfinite(zz)) or np.any(zz < 0):
        raise ValueError("z must hold finite numbers >= 0")
    out = np.zeros(zz.shape)
    above = zz > 1
    if np.any(above):
        za = zz[above]
        s = np.asarray(_closed_form()(za), dtype=float)

        dz = za - 1.0  # exact for z in (1, 2] (Sterbenz)

        def f(sv):
            # near threshold (small z S) write S + expm1(-z S) = -(z-1) S + phi(z S),
            # phi(t) = e^-t - 1 + t, which avoids the cancellation between S and expm1(-z S)
            t = za * sv
            return np.where(t < 0.5, -dz * sv + _phi(t), sv + np.expm1(-t))

        def fprime(sv):
            return -dz - za * np.expm1(-za * sv)  # = 1 - z exp(-z S)

        # start right of the root: the closed form if it is, else S = 1 (f(1) = e^-z > 0)
        s = np.where((s > 0) & (s <= 1) & (f(s) >= 0), s, 1.0)
        for _ in range(200):
            step = f(s) / fprime(s)
            s_new = np.where(step > 0, s - step, s)  # never cross left of the root
            if np.all(np.abs(s_new - s) <= 4 * np.finfo(float).eps * s):
                s = s_new
                break
            s = s_new
        out[above] = s
    return out[()] if out.ndim == 0 else out


def main() -> None:
    """Print the derivation."""
    print("== Erdos-Renyi giant component ==")
    for line in derivation().steps:
        print("  " + line)


if __name__ == "__main__":
    main()
