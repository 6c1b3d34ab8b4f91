"""The library against the sympy derivations in theory/ (tier a: closed forms, about 1e-10)."""

import mpmath
import numpy as np
import pytest
from scipy import optimize

from cascades.degrees import TAIL_TOL, Binomial, Poisson, PowerLaw
from theory import generating_functions as gf
from theory import giant_component as gc

REAL = np.linspace(-1.0, 1.0, 21)
COMPLEX = 0.8 * np.exp(1j * np.linspace(0.0, 2 * np.pi, 9)) + 0.1


def test_derivations_run():
    # each derivation checks its own steps and raises AssertionError if one fails
    for d in (gf.poisson(), gf.binomial(), gf.power_law()):
        assert d.steps
    assert gc.derivation().steps


@pytest.mark.parametrize("z", [0.1, 1.0, 3.7, 25.0])
def test_poisson_against_theory(z):
    d = Poisson(z)
    for x in (REAL, COMPLEX):
        np.testing.assert_allclose(d.g0(x), gf.poisson_g0(x, z), rtol=1e-12)
        np.testing.assert_allclose(d.g1(x), gf.poisson_g1(x, z), rtol=1e-12)
    assert d.mean == pytest.approx(gf.poisson_mean(z), rel=1e-12)
    assert d.second_moment == pytest.approx(gf.poisson_second_moment(z), rel=1e-12)


@pytest.mark.parametrize("n, p", [(1, 0.5), (10, 0.3), (60, 0.05), (200, 0.9)])
def test_binomial_against_theory(n, p):
    d = Binomial(n, p)
    for x in (REAL, COMPLEX):
        np.testing.assert_allclose(d.g0(x), gf.binomial_g0(x, n, p), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(d.g1(x), gf.binomial_g1(x, n, p), rtol=1e-12, atol=1e-300)
    assert d.mean == pytest.approx(gf.binomial_mean(n, p), rel=1e-12)
    assert d.second_moment == pytest.approx(gf.binomial_second_moment(n, p), rel=1e-12)
    # and the table-based route (the pmf summed) agrees with the derived closed form
    pmf = d.pmf()
    np.testing.assert_allclose(
        np.polynomial.polynomial.polyval(REAL, pmf), gf.binomial_g0(REAL, n, p), rtol=1e-10, atol=1e-13
    )


# Power law, kmin = 1, no cutoff. The library sums the series, truncated where the bound
# |x|^(K+1) * (tail mass beyond K) <= TAIL_TOL; the oracle is mpmath's polylogarithm at 30 digits.
# So the difference is at most TAIL_TOL plus rounding (~1e-15): we allow 2 * TAIL_TOL, absolute
# (|G0|, |G1| <= 1 on [0, 1]).
POWER_LAW_ATOL = 2 * TAIL_TOL
X_UNIT = np.linspace(0.0, 0.99, 12)


@pytest.mark.parametrize("g", [1.5, 2.2, 2.5, 3.0, 3.5])
def test_power_law_g0_against_polylog(g):
    np.testing.assert_allclose(
        PowerLaw(g).g0(X_UNIT), gf.power_law_g0(X_UNIT, g), rtol=0, atol=POWER_LAW_ATOL
    )


@pytest.mark.parametrize("g", [2.2, 2.5, 3.0, 3.5])
def test_power_law_g1_against_polylog(g):
    np.testing.assert_allclose(
        PowerLaw(g).g1(X_UNIT), gf.power_law_g1(X_UNIT, g), rtol=0, atol=POWER_LAW_ATOL
    )


@pytest.mark.parametrize("g, kmin", [(3.5, 1), (4.5, 2), (3.2, 10)])
def test_power_law_moments_against_hurwitz(g, kmin):
    d = PowerLaw(g, kmin=kmin)
    assert d.mean == pytest.approx(float(gf.power_law_mean(g, kmin)), rel=1e-12)
    assert d.second_moment == pytest.approx(float(gf.power_law_second_moment(g, kmin)), rel=1e-12)


# ---- Erdos-Renyi giant component -------------------------------------------

Z_ABOVE = np.concatenate([1 + np.logspace(-9, -1, 9), np.linspace(1.2, 20.0, 30)])


def test_er_giant_component_solves_its_equation():
    S = gc.er_giant_component(Z_ABOVE)
    assert np.all((S > 0) & (S < 1))
    np.testing.assert_allclose(S, 1 - np.exp(-Z_ABOVE * S), rtol=0, atol=1e-12)
    assert np.all(np.diff(S) > 0)  # increasing in z


def test_er_giant_component_matches_high_precision_root():
    # relative accuracy also just above the threshold, where S ~ 2 (z - 1)
    with mpmath.workdps(40):
        for zv in (1 + 1e-9, 1 + 1e-5, 1.01, 1.5, 4.0):
            z = mpmath.mpf(zv)
            exact = mpmath.findroot(lambda s, z=z: s - 1 + mpmath.exp(-z * s), min(1, 2 * (zv - 1)))
            assert float(gc.er_giant_component(zv)) == pytest.approx(float(exact), rel=1e-12)


def test_er_giant_component_limits():
    np.testing.assert_array_equal(gc.er_giant_component([0.0, 0.3, 0.999, 1.0]), 0.0)
    assert float(gc.er_giant_component(50.0)) == pytest.approx(1.0, abs=1e-15)
    assert float(gc.er_giant_component(20.0)) == pytest.approx(1 - np.exp(-20.0), abs=1e-15)
    # near threshold: S = 2 d - (8/3) d^2 + O(d^3), d = z - 1
    for dz in (1e-4, 1e-3):
        assert float(gc.er_giant_component(1 + dz)) == pytest.approx(2 * dz - 8 / 3 * dz**2, abs=10 * dz**3)
    with pytest.raises(ValueError, match="z must"):
        gc.er_giant_component(-1.0)


@pytest.mark.parametrize("z", [1.5, 2.0, 4.0])
def test_giant_component_from_library_generating_functions(z):
    # u = G1(u), S = 1 - G0(u) solved with the library's Poisson G0, G1 (not the closed form);
    # u < 1 - S/2 brackets the nontrivial root away from the trivial root u = 1
    d = Poisson(z)
    u = optimize.brentq(lambda v: float(d.g1(v)) - v, 0.0, 1 - 0.25, xtol=1e-15, rtol=1e-15)
    assert 1 - float(d.g0(u)) == pytest.approx(float(gc.er_giant_component(z)), rel=1e-12)


@pytest.mark.parametrize("z", [1.5, 2.0, 4.0])
def test_er_giant_component_matches_generated_graphs(z):
    """Tier (c): the theory's S(z) against the largest component of generated G(n, p) graphs.

    The size of the giant component of G(n, c/n) is asymptotically normal with variance
    n S (1 - S) / (1 - c (1 - S))^2 (Pittel 1990; Barraez, Boucheron & Fernandez de la Vega 2000), so
    the fraction's standard error is sqrt(S (1 - S) / n) / (1 - c (1 - S)); we allow 5 of them (the
    seed is fixed, so the test is deterministic; a two-sided 5-sigma miss has probability ~6e-7).
    """
    from scipy.sparse.csgraph import connected_components

    import cascades

    n = 200_000
    g = cascades.erdos_renyi(n, z, rng=12345)
    _, labels = connected_components(g.to_scipy(), directed=False)
    largest = np.bincount(labels).max() / n
    S = gc.er_giant_component(z)
    se = np.sqrt(S * (1 - S) / n) / (1 - z * (1 - S))
    assert abs(largest - S) < 5 * se, (largest, S, se)
