"""Degree distributions: closed forms (tier a), invariants (tier b), sampling fit (tier c), validation.

Tolerances: tier (a) compares independent computations of the same exact quantity at about
1e-10 relative (1e-12 where both sides are closed forms); tier (c) uses seeded chi-square tests at
significance 1e-3 and proportion tests at 4 standard errors (deterministic, since seeded).
"""

import dataclasses
import math
import pickle

import mpmath
import numpy as np
import pytest
from _stats import chi_square_pvalue
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats

import cascades.degrees as degrees_module
from cascades.degrees import (
    MAX_PMF_LENGTH,
    TAIL_TOL,
    Binomial,
    DegreeDistribution,
    Empirical,
    Poisson,
    PowerLaw,
    Regular,
)

RTOL = 1e-10  # tier (a): two exact computations of one number
# The cut-off K guarantees an exact tail <= tol; summing the ~10^3 table entries in float64 and the
# special functions that locate K add round-off of order 1e-16 per entry, so a sum may undershoot
# 1 - tol by that much.
ROUNDOFF = 1e-14

FINITE = [
    Binomial(10, 0.3),
    Binomial(50, 0.02),
    Binomial(1, 1.0),
    Regular(1),
    Regular(4),
    PowerLaw(2.5, kmax=500),
    PowerLaw(2.0, kmin=2, kmax=50),
    PowerLaw(-1.0, kmax=10),
    Empirical([1, 2, 2, 3, 7]),
    Empirical.from_pmf([0.1, 0.0, 0.6, 0.3]),
]
# unbounded power laws here have exponent > 4, so that even the edge-biased table with tail
# 1e-12 fits in MAX_PMF_LENGTH (PowerLaw(3.5) would need ~6e7 entries; see the validation tests)
UNBOUNDED = [Poisson(0.5), Poisson(3.0), Poisson(40.0), PowerLaw(4.5), PowerLaw(5.0, kmin=3)]
EXAMPLES = FINITE + UNBOUNDED


def ids(d):
    return repr(d)


def exact_tail(d, K):
    """sum_{k>K} p_k computed independently of the table."""
    if isinstance(d, Poisson):
        return special.pdtrc(K, d.mean)
    assert isinstance(d, PowerLaw) and d.kmax is None
    return special.zeta(d.exponent, K + 1) / special.zeta(d.exponent, d.kmin)


# ----------------------------------------------------------------------------
# tier (a): closed forms and independent computations
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("z", [0.1, 1.0, 3.0, 40.0])
def test_poisson_pmf_matches_scipy(z):
    p = Poisson(z).pmf()
    np.testing.assert_allclose(p, stats.poisson.pmf(np.arange(p.size), z), rtol=RTOL, atol=0)


@pytest.mark.parametrize("n, q", [(0, 0.3), (10, 0.3), (50, 0.02), (7, 0.0), (7, 1.0)])
def test_binomial_pmf_matches_scipy(n, q):
    d = Binomial(n, q)
    p = d.pmf()
    assert p.size == d.kmax + 1
    full = stats.binom.pmf(np.arange(n + 1), n, q)
    np.testing.assert_allclose(p, full[: p.size], rtol=RTOL, atol=0)
    assert full[p.size :].sum() == 0


def test_power_law_pmf_matches_scipy_zipf():
    # scipy's zipf is k^-a / zeta(a) on k >= 1; zipfian(a, N) is the same truncated at N
    p = PowerLaw(3.5).pmf()
    k = np.arange(1, p.size)
    np.testing.assert_allclose(p[1:], stats.zipf.pmf(k, 3.5), rtol=RTOL)
    assert p[0] == 0
    p = PowerLaw(2.5, kmax=500).pmf()
    np.testing.assert_allclose(p[1:], stats.zipfian.pmf(np.arange(1, 501), 2.5, 500), rtol=RTOL)


def test_power_law_kmin_pmf_matches_mpmath():
    d = PowerLaw(2.7, kmin=5)
    p = d.pmf(tol=1e-6)
    assert np.all(p[:5] == 0)
    with mpmath.workdps(30):
        norm = mpmath.zeta(2.7, 5)
        for k in (5, 6, 50, p.size - 1):
            assert p[k] == pytest.approx(float(mpmath.mpf(k) ** -2.7 / norm), rel=RTOL)


def test_power_law_finite_pmf_negative_exponent():
    p = PowerLaw(-1.0, kmin=2, kmax=5).pmf()
    np.testing.assert_allclose(p, np.array([0, 0, 2, 3, 4, 5]) / 14, rtol=RTOL)


@pytest.mark.parametrize("d", FINITE + UNBOUNDED[:3], ids=ids)
def test_moments_match_sums_over_pmf(d):
    # for the unbounded Poisson the table leaves out <= 1e-15 of mass; its share of <k^2> is
    # far below the tolerance (the terms decay faster than geometrically)
    p = d.pmf(tol=1e-15)
    k = np.arange(p.size, dtype=float)
    mean = k @ p
    second = (k * k) @ p
    assert d.mean == pytest.approx(mean, rel=RTOL)
    assert d.second_moment == pytest.approx(second, rel=RTOL)
    assert d.variance == pytest.approx(((k - mean) ** 2) @ p, rel=RTOL, abs=1e-12)
    assert d.mean_excess == pytest.approx((second - mean) / mean, rel=RTOL, abs=1e-12)


@pytest.mark.parametrize("g, kmin", [(3.5, 1), (4.2, 1), (3.1, 3), (5.0, 10)])
def test_power_law_hurwitz_moments(g, kmin):
    d = PowerLaw(g, kmin=kmin)
    # (1) against mpmath's Hurwitz zeta at 30 digits
    with mpmath.workdps(30):
        c = mpmath.zeta(g, kmin)
        assert d.mean == pytest.approx(float(mpmath.zeta(g - 1, kmin) / c), rel=1e-12)
        assert d.second_moment == pytest.approx(float(mpmath.zeta(g - 2, kmin) / c), rel=1e-12)

    # (2) against a long finite sum plus the Euler-Maclaurin tail
    #     sum_{k>=N} k^-s = N^(1-s)/(s-1) + N^-s/2 + s N^(-s-1)/12 - s(s+1)(s+2) N^(-s-3)/720 + ...
    def zeta_sum(s, N=20_000):
        k = np.arange(kmin, N, dtype=float)
        head = math.fsum(k**-s)
        tail = N ** (1 - s) / (s - 1) + N**-s / 2 + s * N ** (-s - 1) / 12
        tail -= s * (s + 1) * (s + 2) * N ** (-s - 3) / 720
        return head + tail

    assert d.mean == pytest.approx(zeta_sum(g - 1) / zeta_sum(g), rel=RTOL)
    assert d.second_moment == pytest.approx(zeta_sum(g - 2) / zeta_sum(g), rel=RTOL)


def test_power_law_divergent_moments():
    assert PowerLaw(1.5).mean == math.inf
    assert PowerLaw(2.0).mean == math.inf
    assert PowerLaw(2.5).second_moment == math.inf
    assert PowerLaw(3.0).second_moment == math.inf
    assert PowerLaw(2.5).variance == math.inf
    assert PowerLaw(2.5).mean_excess == math.inf
    assert math.isfinite(PowerLaw(2.01).mean)


def points():
    real = np.linspace(-1.0, 1.0, 11)
    circle = 0.9 * np.exp(1j * np.linspace(0, 2 * np.pi, 7))
    return real, circle


def direct_g0(p, x):
    k = np.arange(p.size)
    return (x[..., None] ** k) @ p


def direct_g1(p, z, x):
    # G0'(x) / G0'(1), differentiated term by term (independent of excess_pmf)
    k = np.arange(1, p.size)
    return (x[..., None] ** (k - 1)) @ (k * p[1:]) / z


def reference_pmf(d):
    """p_0..p_K computed without the library's tables, long enough that the left-out
    sum_{k>K} k p_k / z is below 1e-12."""
    if isinstance(d, Poisson):
        K = int(d.mean + 20 * math.sqrt(d.mean)) + 40  # tail < 1e-17 for these means
        return stats.poisson.pmf(np.arange(K + 1), d.mean)
    if isinstance(d, PowerLaw) and d.kmax is None:
        g, kmin = d.exponent, d.kmin
        K = kmin
        while special.zeta(g - 1, K + 1) / special.zeta(g - 1, kmin) > 1e-12:
            K *= 2
        k = np.arange(K + 1, dtype=float)
        p = np.zeros(K + 1)
        p[kmin:] = k[kmin:] ** -g / special.zeta(g, kmin)
        return p
    return np.asarray(d.pmf())  # finite tables: checked against scipy/formulas above


@pytest.mark.parametrize("d", EXAMPLES, ids=ids)
def test_generating_functions_match_direct_sums(d):
    # the reference leaves out <= 1e-12 of p_k and of k p_k / z: absolute error <= 1e-12 on
    # |x| <= 1, so 1e-10 measures only the implementations
    p = reference_pmf(d)
    for x in points():
        np.testing.assert_allclose(d.g0(x), direct_g0(p, x), rtol=0, atol=1e-10)
        np.testing.assert_allclose(d.g1(x), direct_g1(p, d.mean, x), rtol=0, atol=1e-10)


def test_closed_form_generating_functions():
    x = np.array([-0.7, 0.0, 0.3, 1.0, 2.0, 0.5 + 0.5j])
    np.testing.assert_allclose(Poisson(2.5).g0(x), np.exp(2.5 * (x - 1)), rtol=1e-14)
    np.testing.assert_allclose(Poisson(2.5).g1(x), np.exp(2.5 * (x - 1)), rtol=1e-14)
    np.testing.assert_allclose(Binomial(9, 0.4).g0(x), (0.6 + 0.4 * x) ** 9, rtol=1e-14)
    np.testing.assert_allclose(Binomial(9, 0.4).g1(x), (0.6 + 0.4 * x) ** 8, rtol=1e-14)
    np.testing.assert_allclose(Regular(3).g0(x), x**3, rtol=1e-14)
    np.testing.assert_allclose(Regular(3).g1(x), x**2, rtol=1e-14)
    assert Regular(1).g1(0.0) == 1.0  # x^0


def test_power_law_unbounded_series_adaptive_truncation():
    # exponent 2.5: the pmf table at tol 1e-12 would need ~6e7 entries, so g0/g1 at |x| < 1
    # use the |x|-dependent truncation; compare with a direct sum over 5e4 terms (the left-out
    # tail is < 0.99^5e4 = e^-502, i.e. nothing)
    d = PowerLaw(2.5)
    k = np.arange(1, 50_001, dtype=float)
    pk = k**-2.5 / special.zeta(2.5)
    x = np.concatenate([np.linspace(-0.99, 0.99, 23), 0.95 * np.exp(1j * np.linspace(0, 6, 7))])
    ref0 = (x[:, None] ** k) @ pk
    ref1 = (x[:, None] ** (k - 1)) @ (k * pk) / d.mean
    np.testing.assert_allclose(d.g0(x), ref0, rtol=0, atol=2 * TAIL_TOL)
    np.testing.assert_allclose(d.g1(x), ref1, rtol=0, atol=2 * TAIL_TOL)
    assert d.g0(1.0) == 1.0 and d.g1(1.0) == 1.0
    np.testing.assert_array_equal(d.g0(np.array([0.5, 1.0]))[1], 1.0)


@pytest.mark.parametrize("d", EXAMPLES, ids=ids)
def test_edge_biased_and_excess(d):
    p = reference_pmf(d)
    z = d.mean
    edge = d.edge_biased_pmf()
    exc = d.excess_pmf()
    n = edge.size
    assert p.size >= n
    np.testing.assert_allclose(edge, np.arange(n) * p[:n] / z, rtol=RTOL, atol=1e-300)
    np.testing.assert_array_equal(exc, edge[1:])
    assert edge[0] == 0
    assert 1 - TAIL_TOL - ROUNDOFF <= edge.sum() <= 1 + 1e-12
    # the mean of the excess degree is the branching factor <k(k-1)>/<k>
    if d.kmax is not None:
        assert np.arange(exc.size) @ exc == pytest.approx(d.mean_excess, rel=RTOL)


def test_poisson_excess_is_poisson():
    d = Poisson(3.0)
    q = d.excess_pmf()
    np.testing.assert_allclose(q, stats.poisson.pmf(np.arange(q.size), 3.0), rtol=RTOL)


def test_empirical_from_degree_sequence():
    seq = np.array([0, 3, 3, 1, 5, 3, 1])
    d = Empirical(seq)
    np.testing.assert_allclose(d.pmf(), np.bincount(seq) / seq.size, rtol=0, atol=0)
    assert d.mean == pytest.approx(seq.mean(), rel=1e-14)
    assert d.second_moment == pytest.approx(np.mean(seq.astype(float) ** 2), rel=1e-14)
    assert d.variance == pytest.approx(seq.var(), rel=1e-14)
    assert (d.kmin, d.kmax) == (0, 5)
    assert d == Empirical.from_degrees(seq) == Empirical.from_degrees(seq.astype(float))


def test_special_cases():
    assert Poisson(0.0).pmf().tolist() == [1.0]
    assert Poisson(0.0).kmax == 0
    assert Regular(0).pmf().tolist() == [1.0]
    assert float(Regular(0).g0(0.3)) == 1.0
    assert (Binomial(5, 0.0).kmin, Binomial(5, 0.0).kmax) == (0, 0)
    assert (Binomial(5, 1.0).kmin, Binomial(5, 1.0).kmax) == (5, 5)
    assert Binomial(5, 1.0).pmf().tolist() == [0, 0, 0, 0, 0, 1.0]
    assert (PowerLaw(2.5, kmin=3).kmin, PowerLaw(2.5, kmin=3).kmax) == (3, None)
    assert Regular(3).variance == 0.0 and Regular(3).mean_excess == 2.0


# ----------------------------------------------------------------------------
# tier (b): invariants
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("d", EXAMPLES, ids=ids)
def test_pmf_invariants(d):
    p = d.pmf()
    assert p.dtype == np.float64 and p.ndim == 1
    assert not p.flags.writeable
    with pytest.raises(ValueError):
        p[0] = 0.5
    assert np.all(p >= 0)
    assert 1 - TAIL_TOL - ROUNDOFF <= p.sum() <= 1 + 1e-12
    assert p[d.kmin] > 0 and np.all(p[: d.kmin] == 0)
    if d.kmax is not None:
        assert p.size == d.kmax + 1
    else:
        # exact tail beyond the table <= tol, and the table is the shortest that achieves it
        K = p.size - 1
        assert exact_tail(d, K) <= TAIL_TOL < exact_tail(d, K - 1)
        assert abs((1 - p.sum()) - exact_tail(d, K)) < 1e-14
        # a looser tolerance gives a prefix with the same entries
        loose = d.pmf(tol=1e-4)
        assert loose.size < p.size
        np.testing.assert_array_equal(loose, p[: loose.size])


@pytest.mark.parametrize("d", EXAMPLES, ids=ids)
def test_generating_function_invariants(d):
    assert float(d.g0(1.0)) == pytest.approx(1.0, abs=1e-12)
    assert float(d.g1(1.0)) == pytest.approx(1.0, abs=1e-12)
    assert float(d.g0(0.0)) == pytest.approx(d.pmf()[0], abs=1e-15)
    grid = np.linspace(0.0, 1.0, 101)
    for fn in (d.g0, d.g1):
        values = fn(grid)
        assert np.all(np.diff(values) >= -1e-15)  # nondecreasing on [0, 1]
        assert np.all((values >= -1e-15) & (values <= 1 + 1e-12))
    # shapes: scalar in, scalar out; arrays keep their shape; complex stays complex
    assert np.ndim(d.g0(0.5)) == 0
    assert d.g0(np.full((2, 3), 0.5)).shape == (2, 3)
    assert d.g1(np.array([0.5j])).dtype == np.complex128
    # G1 = G0' / G0'(1): central difference at x = 0.5
    h = 1e-5
    deriv = (d.g0(0.5 + h) - d.g0(0.5 - h)) / (2 * h)
    assert float(d.g1(0.5)) == pytest.approx(deriv / d.mean, rel=1e-7, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(z=st.floats(0.0, 60.0), tol=st.sampled_from([1e-4, 1e-9, TAIL_TOL]))
def test_poisson_properties(z, tol):
    d = Poisson(z)
    p = d.pmf(tol)
    assert np.all(p >= 0) and 1 - tol - ROUNDOFF <= p.sum() <= 1 + 1e-12
    assert special.pdtrc(p.size - 1, z) <= tol
    assert d.variance == pytest.approx(z)
    if z > 0:
        assert 1 - tol - ROUNDOFF <= d.edge_biased_pmf(tol).sum() <= 1 + 1e-12


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 300), q=st.floats(0.0, 1.0))
def test_binomial_properties(n, q):
    d = Binomial(n, q)
    p = d.pmf()
    k = np.arange(p.size)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert k @ p == pytest.approx(d.mean, rel=1e-10, abs=1e-12)
    assert float(d.g0(1.0)) == pytest.approx(1.0, abs=1e-12)
    assert d.variance >= 0


@settings(max_examples=25, deadline=None)
@given(
    g=st.floats(-2.0, 6.0),
    kmin=st.integers(1, 20),
    width=st.integers(0, 300),
)
def test_finite_power_law_properties(g, kmin, width):
    d = PowerLaw(g, kmin=kmin, kmax=kmin + width)
    p = d.pmf()
    assert p.size == kmin + width + 1
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(p[:kmin] == 0)
    assert kmin <= d.mean <= kmin + width
    if g > 0 and width:
        assert np.all(np.diff(p[kmin:]) <= 0)  # decreasing for positive exponents


@settings(max_examples=25, deadline=None)
@given(seq=st.lists(st.integers(0, 60), min_size=1, max_size=80))
def test_empirical_properties(seq):
    d = Empirical(np.array(seq, dtype=np.int64))
    assert d.mean == pytest.approx(np.mean(seq), rel=1e-12, abs=1e-15)
    assert (d.kmin, d.kmax) == (min(seq), max(seq))
    assert d == Empirical.from_pmf(d.pmf()) and hash(d) == hash(Empirical.from_pmf(d.pmf()))
    s = d.sample(50, rng=1)
    assert set(s.tolist()) <= set(seq)


def test_frozen_equality_hash_pickle():
    d = Poisson(2)
    assert d == Poisson(2.0) and hash(d) == hash(Poisson(2.0)) and d != Poisson(2.5)
    assert isinstance(d.mean, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.mean = 3.0
    assert PowerLaw(2.5, kmin=2) == PowerLaw(2.5, 2, None)
    assert Binomial(3, 0.5) != Poisson(1.5)
    assert isinstance(Regular(3), DegreeDistribution)
    e = Empirical([0.25, 0.5, 0.25, 0.0])
    assert e.kmax == 2 and e == Empirical.from_pmf([0.25, 0.5, 0.25])
    assert e != Empirical.from_pmf([0.5, 0.5])
    assert len({e, Empirical.from_pmf([0.25, 0.5, 0.25]), Empirical([2, 2])}) == 2
    assert not e.probabilities.flags.writeable
    assert e == eval(repr(e), {"Empirical": Empirical, "array": np.array})
    for obj in (d, e, PowerLaw(3.5)):
        obj.pmf()  # fill the cache; it must not be pickled or affect equality
        clone = pickle.loads(pickle.dumps(obj))
        assert clone == obj
        np.testing.assert_array_equal(clone.pmf(), obj.pmf())
    assert dataclasses.replace(PowerLaw(2.5), kmax=10) == PowerLaw(2.5, kmax=10)


def test_tables_are_cached():
    d = PowerLaw(4.5)
    assert d.pmf() is d.pmf()
    assert d.edge_biased_pmf() is d.edge_biased_pmf()


# ----------------------------------------------------------------------------
# tier (c): sampling goodness of fit (seeded, so deterministic)
# ----------------------------------------------------------------------------

N_SAMPLES = 10**5
ALPHA = 1e-3  # significance of each chi-square test


def degree_counts(samples, K):
    """Counts of degrees 0..K and one last bin for degrees > K."""
    return np.bincount(np.minimum(samples, K + 1), minlength=K + 2)


@pytest.mark.parametrize(
    "d",
    [
        Poisson(3.0),
        Poisson(0.2),
        Binomial(20, 0.3),
        PowerLaw(2.5, kmax=200),
        PowerLaw(2.2, kmin=2, kmax=10**4),
        PowerLaw(3.5),
        Empirical([1, 1, 2, 5, 5, 5, 9]),
        Empirical.from_pmf([0.0, 0.5, 0.0, 0.49, 0.01]),
    ],
    ids=ids,
)
def test_sampling_chi_square(d):
    s = d.sample(N_SAMPLES, rng=12345)
    assert s.dtype == np.int64 and s.shape == (N_SAMPLES,)
    p = d.pmf()
    K = p.size - 1
    probs = np.append(p, max(0.0, 1.0 - p.sum()))  # last bin: degrees > K
    assert chi_square_pvalue(degree_counts(s, K), probs) > ALPHA


def test_regular_sample():
    np.testing.assert_array_equal(Regular(4).sample(10, rng=0), np.full(10, 4))


def power_law_interval_mass(g, kmin, edges):
    """P(edges[i] <= k < edges[i+1]) for an unbounded power law, via Hurwitz zeta."""
    z = np.array([special.zeta(g, e) if np.isfinite(e) else 0.0 for e in edges])
    return (z[:-1] - z[1:]) / special.zeta(g, kmin)


@pytest.mark.parametrize("g, kmin", [(1.5, 1), (2.5, 1), (2.5, 1000), (3.2, 40), (1.7, 1000)])
def test_power_law_unbounded_sampling_log_bins(g, kmin):
    # exact sampler: table below K0 = max(kmin, 1000), rejection above; log-spaced bins straddle
    # the boundary (kmin = 1) or test the rejection sampler alone (kmin = 1000)
    d = PowerLaw(g, kmin=kmin)
    s = d.sample(N_SAMPLES, rng=7)
    assert s.min() >= kmin
    edges = np.unique(np.round(kmin * np.logspace(0, 9, 60)))
    edges = np.append(edges, np.inf)
    counts = np.histogram(s, bins=np.append(edges[:-1], 2.0**63))[0]
    probs = power_law_interval_mass(g, kmin, edges)
    assert chi_square_pvalue(counts, probs) > ALPHA


@pytest.mark.parametrize("g, kmin", [(2.5, 1), (1.5, 1), (3.5, 2)])
def test_power_law_rejection_sampler_alone(monkeypatch, g, kmin):
    # Above K0 = 1000 the rejection step corrects the Pareto proposal by only O(g/K0), too little
    # to see in 1e5 draws. With the table switched off (K0 = kmin) every draw comes from the
    # rejection sampler at its worst case, M = (1 + 1/kmin)^g, where the correction is O(1).
    monkeypatch.setattr(degrees_module, "_POWER_LAW_TABLE_END", 1)
    d = PowerLaw(g, kmin=kmin)
    s = d.sample(N_SAMPLES, rng=99)
    K = 200
    k = np.arange(K + 1, dtype=float)
    probs = np.where(k >= kmin, np.maximum(k, 1) ** -g, 0.0) / special.zeta(g, kmin)
    probs = np.append(probs, special.zeta(g, K + 1) / special.zeta(g, kmin))
    assert chi_square_pvalue(degree_counts(s, K), probs) > ALPHA


@pytest.mark.parametrize("g", [1.5, 2.0, 2.5])
def test_power_law_tail_fraction(g):
    # fraction of samples >= 1000 (all drawn by the rejection sampler) vs the exact tail mass;
    # 4 standard errors of a binomial proportion
    n = 10**6
    s = PowerLaw(g).sample(n, rng=2024)
    tail = special.zeta(g, 1000) / special.zeta(g, 1)
    se = math.sqrt(tail * (1 - tail) / n)
    assert abs(np.mean(s >= 1000) - tail) <= 4 * se


def test_sampling_reproducible_and_seed_sensitive():
    for d in (Poisson(3.0), Binomial(10, 0.5), PowerLaw(2.5), PowerLaw(2.5, kmax=50), Empirical([1, 2])):
        a = d.sample(1000, rng=3)
        np.testing.assert_array_equal(a, d.sample(1000, rng=3))
        assert not np.array_equal(a, d.sample(1000, rng=4))
        gen = np.random.default_rng(5)
        first = d.sample(1000, rng=gen)
        assert not np.array_equal(first, d.sample(1000, rng=gen))  # the Generator advanced
        assert d.sample(0, rng=0).shape == (0,)


def test_power_law_sample_overflow_is_reported():
    # exponent 1.05: P(k > 2**53) is about 15% per draw
    with pytest.raises(ValueError, match="2\\*\\*53.*kmax"):
        PowerLaw(1.05).sample(1000, rng=0)


# ----------------------------------------------------------------------------
# validation: every bad input raises ValueError naming the parameter
# ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Poisson(-1.0), "mean must be a finite number >= 0"),
        (lambda: Poisson(float("nan")), "mean"),
        (lambda: Poisson(float("inf")), "mean"),
        (lambda: Binomial(-1, 0.5), "n must be an integer >= 0"),
        (lambda: Binomial(2.5, 0.5), "n must be an integer"),
        (lambda: Binomial(3, 1.5), r"p must be a finite number in \[0"),
        (lambda: Binomial(3, -0.1), "p must"),
        (lambda: Regular(-1), "k must be an integer >= 0"),
        (lambda: Regular(1.5), "k must be an integer"),
        (lambda: PowerLaw(1.0), "exponent must be a finite number > 1.*normalisable"),
        (lambda: PowerLaw(0.5), "exponent"),
        (lambda: PowerLaw(float("nan"), kmax=5), "exponent"),
        (lambda: PowerLaw(2.5, kmin=0), "kmin must be an integer >= 1"),
        (lambda: PowerLaw(2.5, kmin=-3), "kmin"),
        (lambda: PowerLaw(2.5, kmin=5, kmax=3), r"kmax must be an integer in \[5, "),
        (lambda: PowerLaw(2.5, kmax=MAX_PMF_LENGTH), "kmax"),
        (lambda: PowerLaw(200.0, kmin=100), "exponent"),
        (lambda: Empirical([]), "pmf_or_degree_sequence must be non-empty"),
        (lambda: Empirical([-1, 2]), r"pmf_or_degree_sequence must hold integers in \[0, "),
        (lambda: Empirical([0.5, 0.6]), "pmf_or_degree_sequence must sum to 1"),
        (lambda: Empirical([0.5, -0.1, 0.6]), "pmf_or_degree_sequence must hold probabilities >= 0"),
        (lambda: Empirical(np.array([1.0, 2.0])), "sum to 1.*degree sequence"),
        (lambda: Empirical([0.5, float("nan")]), "pmf_or_degree_sequence"),
        (lambda: Empirical([[0.5, 0.5]]), "pmf_or_degree_sequence must be a 1-dimensional"),
        (lambda: Empirical([True, False]), "pmf_or_degree_sequence must be"),
        (lambda: Empirical(["a"]), "pmf_or_degree_sequence"),
        (lambda: Empirical.from_pmf([0.3]), "pmf must sum to 1"),
        (lambda: Empirical.from_degrees([]), "degrees must be a non-empty"),
        (lambda: Empirical.from_degrees([1.5]), "degrees must hold integers"),
        (lambda: Poisson(2.0).pmf(tol=0.0), r"tol must be a finite number in \(0"),
        (lambda: Poisson(2.0).pmf(tol=1.5), "tol"),
        (lambda: Poisson(2.0).g0(0.5, tol=-1.0), "tol"),
        (lambda: Poisson(2.0).sample(-1), "n must be an integer >= 0"),
        (lambda: Poisson(2.0).sample(10, rng=-1), "rng"),
        (lambda: Poisson(2.0).g0("a"), "x must hold real or complex"),
        (lambda: Regular(0).edge_biased_pmf(), "edge_biased_pmf is undefined.*mean degree is 0"),
        (lambda: Poisson(0.0).g1(0.5), "g1 is undefined.*mean degree is 0"),
        (lambda: Binomial(5, 0.0).mean_excess, "mean_excess is undefined"),
        (lambda: Empirical([0, 0]).excess_pmf(), "mean degree is 0"),
        (lambda: PowerLaw(1.8).g1(0.5), "g1 is undefined.*infinite"),
        (lambda: PowerLaw(1.8).edge_biased_pmf(tol=1e-3), "infinite"),
        (lambda: PowerLaw(2.5).pmf(), "MAX_PMF_LENGTH.*pass a finite kmax or a larger tol"),
        (lambda: PowerLaw(2.5).g0(1.5), r"\|x\| <= 1"),
        (lambda: PowerLaw(2.5).g0(np.exp(0.3j)), "pass a finite kmax or a larger tol"),
        (lambda: Poisson(1e9).pmf(), "MAX_PMF_LENGTH.*mean degree is too large"),
    ],
)
def test_bad_input_raises_naming_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_larger_tol_makes_heavy_tail_tables_possible():
    d = PowerLaw(2.5)
    p = d.pmf(tol=1e-6)
    assert exact_tail(d, p.size - 1) <= 1e-6
    assert float(d.g0(np.exp(0.3j), tol=1e-6).real) == pytest.approx(
        float(direct_g0(p, np.array(np.exp(0.3j))).real), abs=1e-12
    )
