"""Tests of cascades.models: the cascade models and their simulation rules.

Tiers (the three ways of testing in README.md, Contributing):
(a) exact: thresholds by hand on stars, paths and complete graphs, the integer
    threshold rule against exact ``fractions.Fraction`` arithmetic, response
    tables against hand values (to 1e-12), weights by hand;
(b) invariants: F in [0, 1], nondecreasing in m, nonincreasing in phi,
    strict <= non-strict, thresholds equal min{m : F(m, k) = 1}, value
    semantics, reproducibility in ``rng``, and every bad input;
(c) statistics: drawn thresholds, weights and capacities against their laws
    on n = 10^5 nodes, each within 5 binomial (or normal) standard errors,
    with fixed seeds (deterministic).
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from cascades.graphs import Graph, erdos_renyi, from_edges
from cascades.models import (
    AbsoluteThreshold,
    CascadeModel,
    FiberBundle,
    FractionalThreshold,
    IndependentCascade,
    SimulationRule,
    WeightedThreshold,
)

# ---------------------------------------------------------------------------
# small graphs and helpers
# ---------------------------------------------------------------------------

STAR = from_edges([(0, 1), (0, 2), (0, 3)])  # centre 0 of degree 3, leaves of degree 1
PATH = from_edges([(0, 1), (1, 2), (2, 3)])  # degrees 1, 2, 2, 1
K5 = from_edges([(i, j) for i in range(5) for j in range(i + 1, 5)])  # all degrees 4
ISOLATED = from_edges([(0, 1)], n=3)  # node 2 has degree 0
# directed: 0 -> 1, 0 -> 2, 0 -> 3, 1 -> 2; in-degrees 0, 1, 2, 1; out-degrees 3, 1, 0, 0
DIRECTED = from_edges([(0, 1), (0, 2), (0, 3), (1, 2)], directed=True)


class TwoPoint:
    """A duck-typed threshold law with atoms 1/2 at 0.2 and at 0.6 (no scipy family)."""

    atoms = np.array([0.2, 0.6])

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        return 0.5 * (x >= 0.2) + 0.5 * (x >= 0.6)

    def rvs(self, size, random_state):
        return self.atoms[random_state.integers(0, 2, size=size)]


class BadLaw(TwoPoint):
    """Draws NaN: a rule must refuse it."""

    def rvs(self, size, random_state):
        return np.full(size, np.nan)


def exact_threshold(phi: Fraction, k: int, strict: bool) -> int:
    """The integer threshold of m/k >= phi (or > phi) in exact rational arithmetic."""
    if k == 0:
        alone = phi < 0 if strict else phi <= 0
        return 0 if alone else 1
    t = math.floor(phi * k) + 1 if strict else math.ceil(phi * k)
    return min(max(t, 0), k + 1)


def thresholds_from_response(model, k: np.ndarray) -> np.ndarray:
    """min{m in 0..k : F(m, k) = 1} per node, k + 1 if there is none (what the response implies)."""
    degrees = np.arange(int(k.max()) + 1 if k.size else 1)
    m, kk = np.meshgrid(degrees, degrees)  # row: degree, column: m
    valid = m <= kk
    table = np.zeros(m.shape)
    table[valid] = model.response(m[valid], kk[valid])  # one vectorised call
    hit = valid & (table == 1.0)
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), degrees + 1)
    return first[k]


# ---------------------------------------------------------------------------
# (a) exact: thresholds by hand
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phi", "strict", "expected"),
    [
        (0.5, False, [2, 1, 1, 1]),  # centre ceil(1.5) = 2, leaves ceil(0.5) = 1
        (0.5, True, [2, 1, 1, 1]),  # centre 2/3 > 0.5, leaves 1 > 0.5
        (1 / 3, False, [1, 1, 1, 1]),  # 1/3 >= 1/3
        (1 / 3, True, [2, 1, 1, 1]),  # 1/3 > 1/3 is false
        (0.0, False, [0, 0, 0, 0]),  # everybody activates by itself
        (0.0, True, [1, 1, 1, 1]),  # m/k > 0 needs one active neighbour
        (1.0, False, [3, 1, 1, 1]),
        (1.0, True, [4, 2, 2, 2]),  # m/k > 1 never: k + 1
    ],
)
def test_fractional_thresholds_on_star(phi, strict, expected):
    rule = FractionalThreshold(phi, strict=strict).rule(STAR)
    assert rule.kind == "count"
    assert rule.threshold.tolist() == expected


@pytest.mark.parametrize(
    ("phi", "strict", "expected"),
    [(0.5, False, 2), (0.5, True, 3), (0.25, False, 1), (0.25, True, 2), (0.75, False, 3), (1.0, True, 5)],
)
def test_fractional_thresholds_on_complete_graph(phi, strict, expected):
    assert FractionalThreshold(phi, strict=strict).rule(K5).threshold.tolist() == [expected] * 5


def test_fractional_thresholds_on_path_per_node_array():
    rule = FractionalThreshold([0.0, 0.5, 0.51, 1.0]).rule(PATH)  # degrees 1, 2, 2, 1
    assert rule.threshold.tolist() == [0, 1, 2, 1]


def test_thresholds_use_in_degrees_on_directed_graphs():
    # in-degrees 0, 1, 2, 1: node 0 has no in-neighbours, so phi > 0 means never (threshold 1)
    assert FractionalThreshold(0.5).rule(DIRECTED).threshold.tolist() == [1, 1, 1, 1]
    assert FractionalThreshold(0.6).rule(DIRECTED).threshold.tolist() == [1, 1, 2, 1]
    assert AbsoluteThreshold(2).rule(DIRECTED).threshold.tolist() == [1, 2, 2, 2]


def test_degree_zero_nodes():
    # node 2 of ISOLATED has no neighbours: m/k := 0
    assert FractionalThreshold(0.0).rule(ISOLATED).threshold.tolist() == [0, 0, 0]
    assert FractionalThreshold(0.1).rule(ISOLATED).threshold.tolist() == [1, 1, 1]
    assert FractionalThreshold(0.0, strict=True).rule(ISOLATED).threshold.tolist() == [1, 1, 1]
    assert FractionalThreshold([0.5, 0.5, -0.0]).rule(ISOLATED).threshold.tolist() == [1, 1, 0]
    assert float(FractionalThreshold(0.0).response(0, 0)) == 1.0
    assert float(FractionalThreshold(0.3).response(0, 0)) == 0.0
    assert float(FractionalThreshold(0.0, strict=True).response(0, 0)) == 0.0
    # a random phi: degree-0 nodes activate iff their phi <= 0 (">=") / < 0 (">")
    law = stats.norm(0.0, 1.0)
    g = from_edges([], n=2000)
    rule = FractionalThreshold(law).rule(g, rng=3)
    phi = law.rvs(size=2000, random_state=np.random.default_rng(3))
    assert np.array_equal(rule.threshold, np.where(phi <= 0, 0, 1))
    assert float(FractionalThreshold(law).response(0, 0)) == 0.5


@pytest.mark.parametrize(
    ("phi", "k", "ge", "gt"),
    [
        (0.7, 10, 7, 8),  # 0.7 * 10 == 7.000000000000001 in floats
        (0.2, 5, 1, 2),
        (1 / 3, 3, 1, 2),
        (0.1, 30, 3, 4),  # 0.1 * 30 == 3.0000000000000004
        (0.6, 5, 3, 4),  # 0.6 * 5 == 3.0000000000000004
        (0.28, 100_000, 28_000, 28_001),  # off by 1.5e-11: an absolute 1e-12 tolerance fails here
        (0.07, 10**7, 700_000, 700_001),
        # 0.999999 * 999999 = 999998.000001: a relative tolerance of 1e-12 (1e-6 here) rounds it down
        (0.999999, 999_999, 999_999, 999_999),
    ],
)
def test_tricky_float_products(phi, k, ge, gt):
    assert FractionalThreshold(phi).response([ge - 1, ge], k).tolist() == [0.0, 1.0]
    assert FractionalThreshold(phi, strict=True).response([gt - 1, gt], k).tolist() == [0.0, 1.0]
    g = from_edges([(0, i) for i in range(1, k + 1)]) if k <= 30 else None
    if g is not None:
        assert FractionalThreshold(phi).rule(g).threshold[0] == ge
        assert FractionalThreshold(phi, strict=True).rule(g).threshold[0] == gt


_DECIMALS = [f"{i / 100:.2f}" for i in range(101)] + [f"{i / 1000:.3f}" for i in range(1, 1000, 13)]
_KS = np.concatenate([np.arange(0, 301), [1000, 4096, 10**4, 99_999, 10**5, 123_457, 10**6]])


@pytest.mark.parametrize("strict", [False, True])
def test_integer_rule_matches_fraction_arithmetic(strict):
    """Decimal phi: the threshold is the exact one of the decimal, checked through response at the edge."""
    for text in _DECIMALS:
        model = FractionalThreshold(float(text), strict=strict)
        phi = Fraction(text)
        exact = np.array([exact_threshold(phi, int(k), strict) for k in _KS])
        below = exact - 1
        ok = below >= 0
        assert np.all(model.response(below[ok], _KS[ok]) == 0.0), text
        reach = exact <= _KS
        assert np.all(model.response(exact[reach], _KS[reach]) == 1.0), text
        # exact > k means never: F(k, k) = 0
        assert np.all(model.response(_KS[~reach], _KS[~reach]) == 0.0), text


@pytest.mark.parametrize("strict", [False, True])
def test_integer_rule_matches_fractions_i_over_j(strict):
    """phi = i / j as a float (1/3, 2/7, ...): thresholds of the exact rational."""
    k = np.arange(0, 121)
    for j in range(1, 13):
        for i in range(j + 1):
            if math.gcd(i, j) != 1:
                continue  # the same float as a reduced fraction
            model = FractionalThreshold(i / j, strict=strict)
            phi = Fraction(i, j)
            exact = np.array([exact_threshold(phi, int(kk), strict) for kk in k])
            assert np.array_equal(thresholds_from_response(model, k), exact), (i, j)


@settings(max_examples=150, deadline=None)
@given(
    numerator=st.integers(0, 10**6),
    k=st.integers(0, 10**7),
    strict=st.booleans(),
)
def test_integer_rule_random_decimals(numerator, k, strict):
    text = f"{numerator / 10**6:.6f}"
    t = exact_threshold(Fraction(text), k, strict)
    model = FractionalThreshold(float(text), strict=strict)
    if t >= 1:
        assert float(model.response(t - 1, k)) == 0.0
    if t <= k:
        assert float(model.response(t, k)) == 1.0


def test_absolute_thresholds_by_hand():
    assert AbsoluteThreshold(0).rule(PATH).threshold.tolist() == [0, 0, 0, 0]
    assert AbsoluteThreshold(1).rule(PATH).threshold.tolist() == [1, 1, 1, 1]
    assert AbsoluteThreshold(2).rule(PATH).threshold.tolist() == [2, 2, 2, 2]  # ends: k + 1 = 2
    assert AbsoluteThreshold(3).rule(PATH).threshold.tolist() == [2, 3, 3, 2]
    assert AbsoluteThreshold(10**12).rule(STAR).threshold.tolist() == [4, 2, 2, 2]
    assert AbsoluteThreshold(10**30).rule(STAR).threshold.tolist() == [4, 2, 2, 2]  # no int64 overflow
    assert AbsoluteThreshold([0, 1, 5, 1]).rule(PATH).threshold.tolist() == [0, 1, 3, 1]
    assert AbsoluteThreshold(1).rule(ISOLATED).threshold.tolist() == [1, 1, 1]


# ---------------------------------------------------------------------------
# (a) exact: response tables
# ---------------------------------------------------------------------------


def test_response_tables_by_hand():
    m = np.arange(5)
    assert FractionalThreshold(0.5).response(m, 4).tolist() == [0, 0, 1, 1, 1]
    assert FractionalThreshold(0.5, strict=True).response(m, 4).tolist() == [0, 0, 0, 1, 1]
    assert FractionalThreshold(0.18).response(m, 4).tolist() == [0, 1, 1, 1, 1]  # 1/4 >= 0.18
    assert FractionalThreshold(0.26).response(m, 4).tolist() == [0, 0, 1, 1, 1]
    assert AbsoluteThreshold(3).response(m, 4).tolist() == [0, 0, 0, 1, 1]
    assert AbsoluteThreshold(0).response(0, 0) == 1.0
    # broadcasting: a (k, m) table
    table = FractionalThreshold(0.5).response(np.arange(3)[None, :], np.array([[2], [3], [4]]))
    assert table.tolist() == [[0, 1, 1], [0, 0, 1], [0, 0, 1]]


def test_independent_cascade_closed_form():
    expected = [0.0, 0.3, 0.51, 0.657, 0.7599, 0.83193]  # 1 - 0.7^m by hand
    np.testing.assert_allclose(
        IndependentCascade(0.3).response(np.arange(6), 5), expected, rtol=0, atol=1e-12
    )
    assert IndependentCascade(1.0).response([0, 1, 2], 2).tolist() == [0.0, 1.0, 1.0]
    assert IndependentCascade(0.0).response([0, 1, 2], 2).tolist() == [0.0, 0.0, 0.0]
    p = np.full(6, 0.25)  # per-CSR-entry array with equal entries: the same response
    assert IndependentCascade(p).response(2, 3) == pytest.approx(1 - 0.75**2, abs=1e-15)


def test_random_threshold_response():
    uniform = FractionalThreshold(stats.uniform(0, 1))  # cdf(x) = x on [0, 1]
    m, k = np.arange(7), 6
    np.testing.assert_allclose(uniform.response(m, k), m / k, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        FractionalThreshold(stats.uniform(0, 1), strict=True).response(m, k), m / k, rtol=0, atol=1e-12
    )
    law = stats.norm(0.2, 0.1)
    np.testing.assert_allclose(FractionalThreshold(law).response(m, k), law.cdf(m / k), rtol=0, atol=1e-15)


def test_strict_response_of_discrete_laws():
    # scipy's bernoulli(0.3) has atoms at 0 and 1: P[phi < m/k] = cdf - pmf at m/k
    law = stats.bernoulli(0.3)
    m, k = np.arange(5), 4
    ge = FractionalThreshold(law).response(m, k)
    gt = FractionalThreshold(law, strict=True).response(m, k)
    np.testing.assert_allclose(ge, [0.7, 0.7, 0.7, 0.7, 1.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(gt, [0.0, 0.7, 0.7, 0.7, 0.7], rtol=0, atol=1e-12)
    np.testing.assert_allclose(gt, law.cdf(m / k) - law.pmf(m / k), rtol=0, atol=1e-12)
    # atoms at non-integers (0.2 and 0.6; 0.6 * 5 is 3.0000000000000004 in floats)
    two = TwoPoint()
    assert FractionalThreshold(two).response([0, 1, 2, 3, 4], 5).tolist() == [0, 0.5, 0.5, 1.0, 1.0]
    assert FractionalThreshold(two, strict=True).response([0, 1, 2, 3, 4], 5).tolist() == [0, 0, 0.5, 0.5, 1]


def test_random_thresholds_in_rule_match_the_drawn_phi():
    g = from_edges([(0, i) for i in range(1, 6)])  # centre of degree 5, leaves of degree 1
    for strict in (False, True):
        model = FractionalThreshold(TwoPoint(), strict=strict)
        rule = model.rule(g, rng=11)
        phi = TwoPoint().rvs(6, np.random.default_rng(11))
        k = g.in_degrees
        expected = [exact_threshold(Fraction(str(p)), int(kk), strict) for p, kk in zip(phi, k, strict=True)]
        assert rule.threshold.tolist() == expected


def test_exposure_weights_are_watts():
    for theta in (0.0, 0.18, 0.5, 1.0, [0.1, 0.2, 0.3, 0.9], stats.norm(0.3, 0.2), TwoPoint()):
        watts = FractionalThreshold(theta)
        exposure = WeightedThreshold(theta, "exposure")
        for graph in (STAR, PATH, DIRECTED):
            a, b = watts.rule(graph, rng=5), exposure.rule(graph, rng=5)
            assert a.kind == b.kind == "count"
            assert np.array_equal(a.threshold, b.threshold)
        m = np.arange(6)
        if watts.has_response:
            assert np.array_equal(watts.response(m, 5), exposure.response(m, 5))
        assert exposure.has_response == watts.has_response
    # theta > 1 is allowed for exposure weights: never (k + 1)
    assert WeightedThreshold(1.5, "exposure").rule(STAR).threshold.tolist() == [4, 2, 2, 2]
    assert WeightedThreshold(1.5, "exposure").response(3, 3) == 0.0


def test_damage_weights_by_hand():
    rule = WeightedThreshold(0.5, "damage").rule(STAR)
    assert rule.kind == "load"
    # CSR rows: 0 -> (1, 2, 3) split 1/3 each; each leaf's single entry carries 1
    np.testing.assert_allclose(rule.weight, [1 / 3, 1 / 3, 1 / 3, 1, 1, 1], rtol=0, atol=1e-15)
    assert rule.theta.tolist() == [0.5] * 4
    rule = WeightedThreshold([0.0, 0.2, 0.4, 2.0], "damage").rule(DIRECTED)
    # rows: 0 -> 1, 2, 3 (out-degree 3); 1 -> 2 (out-degree 1)
    np.testing.assert_allclose(rule.weight, [1 / 3, 1 / 3, 1 / 3, 1.0], rtol=0, atol=1e-15)
    assert rule.theta.tolist() == [0.0, 0.2, 0.4, 2.0]
    # the load a node gets from all its neighbours: sum over rows pointing to it
    rule = WeightedThreshold(1.0, "damage").rule(PATH)  # rows: 0:(1) 1:(0,2) 2:(1,3) 3:(2)
    np.testing.assert_allclose(rule.weight, [1, 0.5, 0.5, 0.5, 0.5, 1], rtol=0, atol=1e-15)


def test_iid_weights_rule():
    law = stats.expon(scale=0.5)
    rule = WeightedThreshold(1.0, law).rule(STAR, rng=4)
    assert rule.kind == "load" and rule.weight.shape == (STAR.nnz,)
    assert np.array_equal(rule.weight, law.rvs(size=STAR.nnz, random_state=np.random.default_rng(4)))
    # draw order: theta first, then the weights
    rule = WeightedThreshold(stats.uniform(0, 1), law).rule(STAR, rng=4)
    gen = np.random.default_rng(4)
    theta = stats.uniform(0, 1).rvs(size=4, random_state=gen)
    assert np.array_equal(rule.theta, theta)
    assert np.array_equal(rule.weight, law.rvs(size=STAR.nnz, random_state=gen))


def test_independent_cascade_rule():
    rule = IndependentCascade(0.3).rule(STAR)
    assert rule.kind == "independent" and rule.p_edge.tolist() == [0.3] * 6
    p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    assert IndependentCascade(p).rule(STAR).p_edge.tolist() == p


def test_fiber_bundle_rule():
    rule = FiberBundle(2.0).rule(PATH)
    assert rule.kind == "fiber"
    assert rule.capacity.tolist() == [2.0] * 4 and rule.initial_load.tolist() == [1.0] * 4
    rule = FiberBundle([1.0, np.inf, -0.5, 3.0], initial_load=[0.0, 1.0, 2.0, 0.5]).rule(PATH)
    assert rule.capacity.tolist() == [1.0, np.inf, -0.5, 3.0]
    assert rule.initial_load.tolist() == [0.0, 1.0, 2.0, 0.5]
    law = stats.weibull_min(2.0, scale=1.5)
    rule = FiberBundle(law, initial_load=0.5).rule(PATH, rng=9)
    assert np.array_equal(rule.capacity, law.rvs(size=4, random_state=np.random.default_rng(9)))
    assert FiberBundle(math.inf).rule(PATH).capacity.tolist() == [math.inf] * 4


def test_scipy_new_style_distributions():
    law = stats.Normal(mu=0.2, sigma=0.1)
    model = FractionalThreshold(law)
    rule = model.rule(K5, rng=2)
    phi = law.sample(5, rng=np.random.default_rng(2))
    assert rule.threshold.tolist() == [exact_threshold(Fraction(float(p)), 4, False) for p in phi]
    np.testing.assert_allclose(model.response([0, 1, 2], 4), law.cdf(np.array([0, 0.25, 0.5])), atol=1e-15)


# ---------------------------------------------------------------------------
# (b) invariants of the response
# ---------------------------------------------------------------------------

_PHIS = np.round(np.linspace(0, 1, 41), 10)
_K_MAX = 40


def _table(model):
    """F(m, k) for k = 0.._K_MAX (rows) and m = 0..k (NaN above the diagonal)."""
    k = np.arange(_K_MAX + 1)[:, None]
    m = np.arange(_K_MAX + 1)[None, :]
    mm = np.minimum(m, k)
    return np.where(m <= k, model.response(mm, np.broadcast_to(k, mm.shape)), np.nan)


_LAWS = (stats.norm(0.3, 0.2), stats.beta(2, 5))
_RESPONSE_MODELS = (
    [FractionalThreshold(p, strict=s) for p in _PHIS for s in (False, True)]
    + [FractionalThreshold(d, strict=s) for d in _LAWS for s in (False, True)]
    + [AbsoluteThreshold(a) for a in range(0, 6)]
    + [IndependentCascade(p) for p in (0.0, 0.1, 0.5, 0.9, 1.0)]
    + [WeightedThreshold(t, "exposure") for t in (0.0, 0.3, 1.2)]
)


@pytest.mark.parametrize("model", _RESPONSE_MODELS, ids=repr)
def test_response_is_a_nondecreasing_probability(model):
    table = _table(model)
    valid = ~np.isnan(table)
    assert np.all((table[valid] >= 0) & (table[valid] <= 1))
    for k in range(_K_MAX + 1):
        assert np.all(np.diff(table[k, : k + 1]) >= 0), k


def test_response_nonincreasing_in_phi_and_strict_below_non_strict():
    previous = None
    for phi in _PHIS:
        ge = _table(FractionalThreshold(phi))
        gt = _table(FractionalThreshold(phi, strict=True))
        valid = ~np.isnan(ge)
        assert np.all(gt[valid] <= ge[valid])
        if phi > 0:
            assert np.all(ge[:, 0] == 0)  # F(0, k) = 0 for phi > 0 (k = 0 included)
        if previous is not None:
            assert np.all(ge[valid] <= previous[valid])
        previous = ge
    for law in (stats.norm(0.3, 0.2), stats.bernoulli(0.4), TwoPoint()):
        ge = _table(FractionalThreshold(law))
        gt = _table(FractionalThreshold(law, strict=True))
        valid = ~np.isnan(ge)
        assert np.all(gt[valid] <= ge[valid])


def test_independent_cascade_response_increasing_in_p():
    tables = [_table(IndependentCascade(p)) for p in np.linspace(0, 1, 11)]
    valid = ~np.isnan(tables[0])
    for low, high in zip(tables, tables[1:], strict=False):
        assert np.all(low[valid] <= high[valid])


@pytest.mark.parametrize("phi", [0.0, 0.1, 0.18, 0.2, 1 / 3, 0.5, 0.7, 0.9, 1.0])
@pytest.mark.parametrize("strict", [False, True])
def test_rule_thresholds_are_what_the_response_implies(phi, strict):
    graph = erdos_renyi(300, 8.0, rng=1)  # degrees 0 .. about 20, including isolated nodes
    model = FractionalThreshold(phi, strict=strict)
    k = graph.in_degrees
    assert np.array_equal(model.rule(graph).threshold, thresholds_from_response(model, k))


@pytest.mark.parametrize("a", [0, 1, 2, 5, 40])
def test_absolute_rule_thresholds_are_what_the_response_implies(a):
    graph = erdos_renyi(300, 8.0, rng=2)
    model = AbsoluteThreshold(a)
    assert np.array_equal(model.rule(graph).threshold, thresholds_from_response(model, graph.in_degrees))


def test_has_response_flags():
    assert FractionalThreshold(0.2).has_response
    assert FractionalThreshold(stats.norm(0.2, 0.1)).has_response
    assert FractionalThreshold([0.2, 0.2]).has_response
    assert not FractionalThreshold([0.2, 0.3]).has_response
    assert AbsoluteThreshold(2).has_response and not AbsoluteThreshold([1, 2]).has_response
    assert WeightedThreshold(0.2, "exposure").has_response
    assert not WeightedThreshold(0.2, "damage").has_response
    assert not WeightedThreshold(0.2, stats.expon()).has_response
    assert IndependentCascade(0.2).has_response and not IndependentCascade([0.1, 0.2]).has_response
    assert not FiberBundle(1.0).has_response
    assert all(m.monotone for m in _RESPONSE_MODELS)
    assert not FiberBundle(1.0).monotone and not FiberBundle.monotone
    # equal per-node entries: the response of the common value
    assert np.array_equal(FractionalThreshold([0.2, 0.2]).response([0, 1], 4), [0.0, 1.0])
    assert AbsoluteThreshold([2, 2, 2]).response(2, 3) == 1.0


def test_responses_that_do_not_exist_raise():
    with pytest.raises(NotImplementedError, match="per-node"):
        FractionalThreshold([0.2, 0.3]).response(1, 2)
    with pytest.raises(NotImplementedError, match="per-node"):
        AbsoluteThreshold([1, 2]).response(1, 2)
    with pytest.raises(NotImplementedError, match="per-edge"):
        IndependentCascade([0.1, 0.2]).response(1, 2)
    with pytest.raises(NotImplementedError, match="excess degree"):
        WeightedThreshold(0.5, "damage").response(1, 2)
    with pytest.raises(NotImplementedError, match="convolution"):
        WeightedThreshold(0.5, stats.expon()).response(1, 2)
    with pytest.raises(NotImplementedError, match="history dependent"):
        FiberBundle(1.0).response(1, 2)


def test_response_output_types():
    r = FractionalThreshold(0.5).response(1, 2)
    assert isinstance(r, np.floating) and float(r) == 1.0
    r = FractionalThreshold(0.5).response([[1]], [2])
    assert isinstance(r, np.ndarray) and r.shape == (1, 1) and r.dtype == np.float64
    assert FractionalThreshold(0.5).response(np.zeros(0, int), 3).shape == (0,)
    assert FractionalThreshold(0.5).response([1.0, 2.0], 2).tolist() == [1.0, 1.0]  # integral floats


# ---------------------------------------------------------------------------
# (b) rules: dtypes, read-only arrays, reproducibility
# ---------------------------------------------------------------------------

_ALL_MODELS = [
    FractionalThreshold(0.2),
    FractionalThreshold(stats.norm(0.2, 0.1), strict=True),
    AbsoluteThreshold(2),
    WeightedThreshold(0.4, "exposure"),
    WeightedThreshold(0.4, "damage"),
    WeightedThreshold(stats.norm(1.0, 0.3), stats.expon()),
    IndependentCascade(0.3),
    FiberBundle(stats.uniform(1, 2), initial_load=0.5),
]


@pytest.mark.parametrize("model", _ALL_MODELS, ids=repr)
def test_rule_arrays(model):
    graph = erdos_renyi(200, 4.0, rng=3)
    rule = model.rule(graph, rng=0)
    assert isinstance(rule, SimulationRule)
    rule.check_graph(graph)
    for f in dataclasses.fields(rule):
        value = getattr(rule, f.name)
        if isinstance(value, np.ndarray):
            assert not value.flags.writeable
            assert value.dtype == (np.int64 if f.name == "threshold" else np.float64)
    if rule.kind == "count":
        assert np.all((rule.threshold >= 0) & (rule.threshold <= graph.in_degrees + 1))


@pytest.mark.parametrize("model", _ALL_MODELS, ids=repr)
def test_same_rng_same_rule_different_rng_different_rule(model):
    graph = erdos_renyi(500, 4.0, rng=3)
    a, b, c = model.rule(graph, rng=7), model.rule(graph, rng=7), model.rule(graph, rng=8)
    names = [f.name for f in dataclasses.fields(a) if isinstance(getattr(a, f.name), np.ndarray)]
    assert all(np.array_equal(getattr(a, n), getattr(b, n)) for n in names)
    random = any(hasattr(getattr(model, f.name), "cdf") for f in dataclasses.fields(model))
    differs = any(not np.array_equal(getattr(a, n), getattr(c, n)) for n in names)
    assert differs == random
    # a Generator is used in place: two calls with one generator give different draws
    if random:
        gen = np.random.default_rng(7)
        first, second = model.rule(graph, rng=gen), model.rule(graph, rng=gen)
        assert all(np.array_equal(getattr(first, n), getattr(a, n)) for n in names)  # same seed 7
        assert any(not np.array_equal(getattr(first, n), getattr(second, n)) for n in names)


def test_scalar_and_array_parameters_give_the_same_rule():
    graph = erdos_renyi(100, 3.0, rng=5)
    phi = np.full(graph.n, 0.3)
    assert np.array_equal(
        FractionalThreshold(0.3).rule(graph).threshold, FractionalThreshold(phi).rule(graph).threshold
    )
    a = WeightedThreshold(0.3, "damage").rule(graph)
    b = WeightedThreshold(phi, "damage").rule(graph)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.weight, b.weight)
    assert np.array_equal(
        IndependentCascade(0.3).rule(graph).p_edge,
        IndependentCascade(np.full(graph.nnz, 0.3)).rule(graph).p_edge,
    )


# ---------------------------------------------------------------------------
# degree_thresholds: the per-degree table the simulator uses instead of rule()
# ---------------------------------------------------------------------------


def test_degree_thresholds_by_hand():
    # (a) exact: ceil(phi k) with k = 0 never (phi > 0); strict: floor(phi k) + 1; capped at k + 1
    assert FractionalThreshold(0.5).degree_thresholds(5).tolist() == [1, 1, 1, 2, 2, 3]
    assert FractionalThreshold(0.5, strict=True).degree_thresholds(5).tolist() == [1, 1, 2, 2, 3, 3]
    assert FractionalThreshold(0.0).degree_thresholds(3).tolist() == [0, 0, 0, 0]
    assert FractionalThreshold(0.0, strict=True).degree_thresholds(3).tolist() == [1, 1, 1, 1]
    assert FractionalThreshold(1.0).degree_thresholds(3).tolist() == [1, 1, 2, 3]
    assert FractionalThreshold(0.7).degree_thresholds(10)[10] == 7  # 0.7 * 10 = 7.000000000000001
    assert AbsoluteThreshold(2).degree_thresholds(4).tolist() == [1, 2, 2, 2, 2]
    assert AbsoluteThreshold(0).degree_thresholds(2).tolist() == [0, 0, 0]
    assert AbsoluteThreshold(10**30).degree_thresholds(3).tolist() == [1, 2, 3, 4]  # never, no overflow
    assert WeightedThreshold(1.5, "exposure").degree_thresholds(3).tolist() == [1, 2, 3, 4]
    assert WeightedThreshold(0.5, "exposure").degree_thresholds(4).tolist() == [1, 1, 1, 2, 2]
    assert FractionalThreshold(0.3).degree_thresholds(0).tolist() == [1]


@pytest.mark.parametrize(
    "model",
    [
        FractionalThreshold(np.array([0.5, 0.5])),
        FractionalThreshold(stats.norm(0.2, 0.1)),
        AbsoluteThreshold([1, 2]),
        WeightedThreshold(0.4, "damage"),
        WeightedThreshold(np.array([0.3, 0.3]), "exposure"),
        WeightedThreshold(0.4, stats.expon()),
        IndependentCascade(0.3),
        FiberBundle(1.5),
    ],
    ids=repr,
)
def test_degree_thresholds_none_without_a_degree_rule(model):
    assert model.degree_thresholds(5) is None


@pytest.mark.parametrize("k_max", [-1, 2.5, "3", None, True])
def test_degree_thresholds_bad_k_max(k_max):
    for model in (FractionalThreshold(0.2), AbsoluteThreshold(1), IndependentCascade(0.2)):
        with pytest.raises(ValueError, match="k_max must be an integer >= 0"):
            model.degree_thresholds(k_max)


_DEGREE_GRAPHS = [
    STAR,
    PATH,
    K5,
    ISOLATED,
    DIRECTED,
    erdos_renyi(300, 6.0, rng=11),
    # a random directed multigraph with self-loops
    from_edges(np.random.default_rng(12).integers(0, 200, size=(900, 2)), n=200, directed=True),
    # a directed multigraph: node 1 has in-degree 3 > n = 2
    Graph.from_csr([0, 3, 3], [1, 1, 1], directed=True),
]


@pytest.mark.parametrize("graph", _DEGREE_GRAPHS, ids=repr)
def test_degree_thresholds_are_the_rule(graph):
    # (b) invariant: table[in_degree] is exactly rule().threshold, for every degree-only model
    k = graph.in_degrees
    k_max = int(k.max()) if k.size else 0
    models = [
        FractionalThreshold(p, strict=s)
        for p in (0.0, 0.1, 0.18, 0.2, 1 / 3, 0.5, 0.7, 1.0)
        for s in (False, True)
    ]
    models += [AbsoluteThreshold(a) for a in (0, 1, 2, 3, 7, 10**30)]
    models += [WeightedThreshold(t, "exposure") for t in (0.0, 0.25, 0.9, 1.5, 40.0)]
    for model in models:
        for extra in (0, 3):  # a table longer than needed gives the same thresholds
            table = model.degree_thresholds(k_max + extra)
            assert table.dtype == np.int64 and table.shape == (k_max + extra + 1,)
            assert not table.flags.writeable
            assert np.array_equal(table[k], model.rule(graph).threshold), (model, extra)
            ks = np.arange(k_max + extra + 1)
            assert np.all((table >= 0) & (table <= ks + 1))


def test_absolute_threshold_above_every_in_degree_on_a_multigraph():
    # Node 1 has in-degree 3 > n = 2 through three parallel edges 0 -> 1. m = 10**30 can never be
    # reached, so the threshold must stay above the in-degree (3 + 1), not be capped at n + 1 = 3.
    multi = Graph.from_csr([0, 3, 3], [1, 1, 1], directed=True)
    assert AbsoluteThreshold(10**30).rule(multi).threshold.tolist() == [1, 4]
    assert AbsoluteThreshold(3).rule(multi).threshold.tolist() == [1, 3]


def test_empty_graph():
    empty = Graph.from_csr([0], [])
    for model in _ALL_MODELS:
        rule = model.rule(empty, rng=0)
        rule.check_graph(empty)


# ---------------------------------------------------------------------------
# (b) value semantics
# ---------------------------------------------------------------------------


def test_equality_hash_and_copies():
    values = np.array([0.1, 0.2, 0.3])
    model = FractionalThreshold(values)
    values[0] = 0.9  # the model holds its own copy
    assert model.phi[0] == 0.1
    with pytest.raises(ValueError, match="read-only"):
        model.phi[0] = 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.phi = 0.3
    assert model == FractionalThreshold([0.1, 0.2, 0.3])
    assert hash(model) == hash(FractionalThreshold((0.1, 0.2, 0.3)))
    assert model != FractionalThreshold([0.1, 0.2, 0.4])
    assert FractionalThreshold(0.2) != FractionalThreshold(0.2, strict=True)
    assert FractionalThreshold(0.2) != WeightedThreshold(0.2, "exposure")
    assert FractionalThreshold(stats.norm(0.2, 0.1)) == FractionalThreshold(stats.norm(0.2, 0.1))
    assert hash(FractionalThreshold(stats.norm(0.2, 0.1))) == hash(FractionalThreshold(stats.norm(0.2, 0.1)))
    assert FractionalThreshold(stats.norm(0.2, 0.1)) != FractionalThreshold(stats.norm(0.2, 0.2))
    assert FractionalThreshold(stats.norm(0.2, 0.1)) != FractionalThreshold(stats.logistic(0.2, 0.1))
    law = TwoPoint()
    assert FractionalThreshold(law) == FractionalThreshold(law)  # other objects: by identity
    assert FractionalThreshold(law) != FractionalThreshold(TwoPoint())
    assert len({AbsoluteThreshold(2), AbsoluteThreshold(2), AbsoluteThreshold(3)}) == 2
    assert FractionalThreshold(0.2).replace(phi=0.3) == FractionalThreshold(0.3)
    with pytest.raises(ValueError, match="phi"):
        FractionalThreshold(0.2).replace(phi=2.0)
    assert isinstance(FractionalThreshold(0.2), CascadeModel)


def test_repr_is_short_and_readable():
    assert repr(FractionalThreshold(0.18)) == "FractionalThreshold(phi=0.18, strict=False)"
    assert repr(AbsoluteThreshold([1, 2])) == "AbsoluteThreshold(m=array([1, 2]))"
    assert repr(WeightedThreshold(0.5, "damage")) == "WeightedThreshold(theta=0.5, weights='damage')"
    assert repr(IndependentCascade(0.3)) == "IndependentCascade(p=0.3)"
    assert (
        repr(FiberBundle(stats.uniform(loc=1, scale=2)))
        == "FiberBundle(capacity=uniform(loc=1, scale=2), initial_load=1.0)"
    )
    long = repr(FractionalThreshold(np.linspace(0, 1, 10**5)))
    assert len(long) < 100 and "100000" in long
    assert eval(repr(FractionalThreshold(0.18, strict=True))) == FractionalThreshold(0.18, strict=True)


# ---------------------------------------------------------------------------
# (b) bad input: ValueError naming the parameter
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: FractionalThreshold(-0.1), r"phi must be a finite number in \[0, 1\]"),
        (lambda: FractionalThreshold(1.1), r"phi must be a finite number in \[0, 1\]"),
        (lambda: FractionalThreshold(math.nan), "phi"),
        (lambda: FractionalThreshold(math.inf), "phi"),
        (lambda: FractionalThreshold(True), "phi"),
        (lambda: FractionalThreshold("0.2"), "phi"),
        (lambda: FractionalThreshold(None), "phi"),
        (lambda: FractionalThreshold([[0.1, 0.2]]), "phi must be a number"),
        (lambda: FractionalThreshold([[0.1], [0.1, 0.2]]), "phi must be a number"),
        (
            lambda: FractionalThreshold([0.1, 1.5]),
            r"phi must hold finite numbers in \[0, 1\]; entry 1 is 1.5",
        ),
        (lambda: FractionalThreshold([0.1, np.nan]), "phi must hold finite numbers"),
        (lambda: FractionalThreshold(["a"]), "phi must hold real numbers"),
        (lambda: FractionalThreshold(stats.norm), "phi must be a frozen distribution"),
        (lambda: FractionalThreshold(0.2, strict="yes"), "strict must be True or False"),
        (lambda: FractionalThreshold(0.2, strict=1), "strict must be True or False"),
        (lambda: AbsoluteThreshold(-1), "m must be an integer >= 0"),
        (lambda: AbsoluteThreshold(1.5), "m must be an integer >= 0"),
        (lambda: AbsoluteThreshold("2"), "m must be an integer"),
        (lambda: AbsoluteThreshold([1, -1]), "m must hold integers >= 0; entry 1 is -1"),
        (lambda: AbsoluteThreshold([1.5]), "m must hold integers"),
        (lambda: WeightedThreshold(0.2, "load"), "weights must be 'exposure', 'damage'"),
        (lambda: WeightedThreshold(0.2, 3), "weights must be"),
        (
            lambda: WeightedThreshold(0.2, stats.norm(0, 1)),
            r"weights must be a distribution with support in \[0, inf\)",
        ),
        (lambda: WeightedThreshold(0.2, stats.expon), "weights must be a frozen distribution"),
        (lambda: WeightedThreshold(-0.1, "damage"), "theta must be a finite number >= 0"),
        (lambda: WeightedThreshold(math.nan, "damage"), "theta"),
        (lambda: WeightedThreshold([0.1, -1.0], "exposure"), "theta must hold finite numbers >= 0; entry 1"),
        (lambda: IndependentCascade(1.5), r"p must be a finite number in \[0, 1\]"),
        (lambda: IndependentCascade(-0.1), "p must be"),
        (lambda: IndependentCascade(math.nan), "p must be"),
        (lambda: IndependentCascade([0.5, 1.2]), r"p must hold finite numbers in \[0, 1\]; entry 1"),
        (lambda: IndependentCascade(stats.uniform()), "p must be a probability"),
        (lambda: FiberBundle(math.nan), "capacity"),
        (lambda: FiberBundle(-math.inf), r"capacity must be a number \(no NaN or -inf\)"),
        (lambda: FiberBundle("big"), "capacity"),
        (lambda: FiberBundle([1.0, np.nan]), r"capacity must hold numbers \(no NaN or -inf\); entry 1"),
        (lambda: FiberBundle(1.0, initial_load=-1.0), "initial_load must be a finite number >= 0"),
        (lambda: FiberBundle(1.0, initial_load=math.inf), "initial_load"),
        (lambda: FiberBundle(1.0, initial_load=[1.0, -2.0]), "initial_load must hold finite numbers >= 0"),
        (lambda: FiberBundle(1.0, initial_load=stats.uniform()), "initial_load must be a number"),
    ],
)
def test_bad_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (FractionalThreshold([0.1, 0.2, 0.3]), "phi has 3 entries but the graph has n = 4 nodes"),
        (AbsoluteThreshold([1, 2]), "m has 2 entries but the graph has n = 4 nodes"),
        (WeightedThreshold([0.1] * 5, "damage"), "theta has 5 entries but the graph has n = 4 nodes"),
        (WeightedThreshold([0.1] * 5, "exposure"), "theta has 5 entries"),
        (IndependentCascade([0.1] * 4), "p has 4 entries but the graph has 6 CSR entries"),
        (FiberBundle([1.0] * 3), "capacity has 3 entries but the graph has n = 4 nodes"),
        (FiberBundle(1.0, initial_load=[1.0] * 5), "initial_load has 5 entries"),
        (FractionalThreshold(BadLaw()), "phi must hold finite numbers"),
        (WeightedThreshold(BadLaw(), "damage"), "theta must hold finite numbers"),
        (FiberBundle(BadLaw()), "capacity must hold numbers"),
    ],
)
def test_bad_arrays_for_the_graph(model, match):
    with pytest.raises(ValueError, match=match):
        model.rule(STAR, rng=0)


def test_bad_drawn_weights():
    class Negative(TwoPoint):
        atoms = np.array([-1.0, 1.0])

        def support(self):
            return (0.0, np.inf)  # lies about its support: the draws are checked too

    with pytest.raises(ValueError, match="weights must hold finite numbers >= 0"):
        WeightedThreshold(0.5, Negative()).rule(K5, rng=0)


def test_bad_graph_and_rng():
    with pytest.raises(TypeError, match="graph must be a cascades Graph"):
        FractionalThreshold(0.2).rule("not a graph")
    with pytest.raises(ValueError, match="rng"):
        FractionalThreshold(0.2).rule(STAR, rng=-1)
    with pytest.raises(ValueError, match="rng"):
        IndependentCascade(0.2).rule(STAR, rng=-1)


@pytest.mark.parametrize(
    ("m", "k", "match"),
    [
        (-1, 3, "m must hold integers >= 0"),
        (4, 3, "m must satisfy 0 <= m <= k, got m = 4 with k = 3"),
        (0, -1, "k must hold integers >= 0"),
        (1.5, 3, "m must hold integers"),
        (1, 2.5, "k must hold integers"),
        ([1, 2], [3, 4, 5], "m and k must broadcast together"),
        (True, 3, "m must hold integers"),
        ("1", 3, "m must hold integers"),
    ],
)
def test_bad_response_arguments(m, k, match):
    for model in (
        FractionalThreshold(0.2),
        FractionalThreshold(stats.norm(0.2, 0.1)),
        AbsoluteThreshold(2),
        IndependentCascade(0.5),
        WeightedThreshold(0.3, "exposure"),
    ):
        with pytest.raises(ValueError, match=match):
            model.response(m, k)


# ---------------------------------------------------------------------------
# (c) statistics: drawn parameters against their laws (n = 10^5, fixed seeds)
# ---------------------------------------------------------------------------


def _within_5_se(count: int, n: int, f: float) -> bool:
    """count ~ Bin(n, f) to within 5 standard errors sqrt(n f (1 - f)).

    Where n f (1 - f) < 10 the normal approximation fails in the tails, so the
    exact two-sided binomial p-value is compared with the two-sided 5-sigma
    level 5.7e-7 instead. F = 0 or 1 demands the count 0 or n exactly.
    """
    if f in (0.0, 1.0):
        return count == n * f
    if n * f * (1 - f) >= 10:
        return abs(count - n * f) <= 5 * math.sqrt(n * f * (1 - f))
    return stats.binomtest(count, n, f).pvalue >= 5.7e-7


@pytest.fixture(scope="module")
def big_graph():
    return erdos_renyi(10**5, 6.0, rng=2024)


@pytest.mark.parametrize(
    ("law", "strict"),
    [
        (stats.norm(0.25, 0.1), False),
        (stats.beta(2, 6), True),
        (stats.bernoulli(0.3), True),
        (TwoPoint(), False),
    ],
    ids=["norm", "beta-strict", "bernoulli-strict", "two-point"],
)
def test_random_thresholds_match_the_response(big_graph, law, strict):
    """Among the N_k nodes of degree k, the fraction with threshold <= m is Bin(N_k, F(m, k)) / N_k."""
    model = FractionalThreshold(law, strict=strict)
    threshold = model.rule(big_graph, rng=99).threshold
    k_all = big_graph.in_degrees
    checked = 0
    for k in range(0, 13):
        at_k = threshold[k_all == k]
        n_k = at_k.size
        if n_k < 100:
            continue
        for m in range(k + 1):
            f = float(model.response(m, k))
            count = int(np.sum(at_k <= m))
            assert _within_5_se(count, n_k, f), (k, m, count / n_k, f)
            checked += 1
    assert checked > 50


def test_iid_weights_statistics(big_graph):
    law = stats.gamma(2.0, scale=0.25)  # mean 0.5, variance 0.125
    rule = WeightedThreshold(1.0, law).rule(big_graph, rng=5)
    w = rule.weight
    nnz = w.size
    # mean within 5 standard errors sqrt(var / nnz)
    assert abs(w.mean() - law.mean()) <= 5 * math.sqrt(law.var() / nnz)
    # the two directions of an undirected edge are independent draws: correlation ~ N(0, 1/m)
    rows = np.repeat(np.arange(big_graph.n), big_graph.degrees)
    cols = big_graph.indices.astype(np.int64)
    forward = rows < cols
    key_fwd = rows[forward] * big_graph.n + cols[forward]
    backward = rows > cols
    key_bwd = cols[backward] * big_graph.n + rows[backward]
    order_f, order_b = np.argsort(key_fwd), np.argsort(key_bwd)
    assert np.array_equal(key_fwd[order_f], key_bwd[order_b])
    a, b = w[forward][order_f], w[backward][order_b]
    assert abs(np.corrcoef(a, b)[0, 1]) <= 5 / math.sqrt(a.size)
    assert not np.array_equal(a, b)


def test_random_capacities_statistics(big_graph):
    law = stats.weibull_min(1.5, scale=2.0)
    capacity = FiberBundle(law).rule(big_graph, rng=6).capacity
    n = capacity.size
    for x in (0.5, 1.0, 2.0, 4.0):
        f = law.cdf(x)
        assert abs(np.mean(capacity <= x) - f) <= 5 * math.sqrt(f * (1 - f) / n)


def test_damage_weights_sum_to_one_per_row(big_graph):
    """Exact on a large graph: every failing node hands out total damage 1 (0 if it has no neighbours)."""
    rule = WeightedThreshold(0.5, "damage").rule(big_graph)
    sums = np.add.reduceat(rule.weight, big_graph.indptr[:-1][big_graph.degrees > 0])
    np.testing.assert_allclose(sums, 1.0, rtol=0, atol=1e-12)
