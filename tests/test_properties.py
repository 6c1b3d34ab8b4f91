"""Property-based tests over the public API: a named refusal or a result that passes its invariants.

For any generated input (nan, inf, huge and negative numbers, wrong kinds,
corrupted graph files), a public function either raises ValueError/TypeError
naming one of its parameters (a MemoryLimitError is a ValueError that names the
parameter whose size would not fit), or returns a result with probabilities in
[0, 1], pmfs summing to 1 and sizes within [0, n]. numpy's overflow and invalid-
value warnings count as failures: a number that only warns is a silent wrong answer.

Profiles (tests/_properties.py): ``quick`` (25 derandomized examples per property,
what CI runs) and ``slow`` (400 fresh examples; ``python -m pytest -m slow
tests/test_properties.py``). Properties that hand outside arrays to numba kernels
run in a child process (tests/_graph_properties.py), so a segfault fails one test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _properties import PROFILES, activations, hostile_ints, hostile_reals, outcome, run_in_child, unit_reals
from hypothesis import given
from hypothesis import strategies as st

import cascades
from cascades import nn

pytestmark = pytest.mark.filterwarnings("ignore::cascades.ConvergenceWarning")


@pytest.fixture(params=["quick", pytest.param("slow", marks=pytest.mark.slow)])
def profile(request):
    return request.param


def in_unit(x, tol=1e-12) -> bool:
    x = np.asarray(x, dtype=float)
    return bool(np.all(np.isfinite(x)) and np.all(x >= -tol) and np.all(x <= 1 + tol))


def is_pmf(p, tol=1e-9) -> bool:
    p = np.asarray(p, dtype=float)
    return bool(p.ndim == 1 and p.size and in_unit(p) and abs(p.sum() - 1.0) < tol)


# -- crash-prone: outside graph data to numba kernels, in a child process ------------------------


@pytest.mark.parametrize("check", ["check_graph_doors", "check_edge_lists", "check_networkx"])
def test_graph_inputs_never_crash(check, profile):
    run_in_child("_graph_properties", check, profile)


# -- degree distributions -----------------------------------------------------------------------

DEGREE_NAMES = ("mean", "n", "p", "exponent", "kmin", "kmax", "k", "pmf", "degree")


@st.composite
def degree_distributions(draw):
    kind = draw(st.sampled_from(["poisson", "binomial", "powerlaw", "regular", "empirical"]))
    if kind == "poisson":
        return cascades.Poisson, (draw(hostile_reals),), {}
    if kind == "binomial":
        return cascades.Binomial, (draw(hostile_ints), draw(unit_reals)), {}
    if kind == "powerlaw":
        kmax = draw(st.one_of(st.none(), hostile_ints))
        return cascades.PowerLaw, (draw(hostile_reals),), {"kmin": draw(hostile_ints), "kmax": kmax}
    if kind == "regular":
        return cascades.Regular, (draw(hostile_ints),), {}
    values = draw(st.lists(st.one_of(st.floats(0, 1), hostile_reals), max_size=8))
    return cascades.Empirical, (np.array(values, dtype=float),), {}


def test_degree_distributions_and_giant_component(profile):
    @PROFILES[profile]
    @given(degree_distributions())
    def prop(spec):
        cls, args, kwargs = spec
        dist = outcome(cls, *args, names=DEGREE_NAMES, **kwargs)
        if dist is None:
            return
        pmf = outcome(dist.pmf, names=DEGREE_NAMES)
        if pmf is None:
            return
        assert np.all(pmf >= 0) and np.all(np.isfinite(pmf))
        assert abs(pmf.sum() - 1.0) < 1e-6, pmf.sum()
        assert math.isfinite(dist.mean) and dist.mean >= 0
        gc = outcome(cascades.giant_component, dist, names=DEGREE_NAMES)
        if gc is not None:
            assert in_unit(gc.size) and in_unit(gc.u)

    prop()


# -- cascade models and the local tree approximation -------------------------------------------

MODEL_NAMES = ("phi", "m", "p", "theta", "capacity", "initial_load", "seed_fraction", "model") + DEGREE_NAMES


@st.composite
def models(draw):
    kind = draw(st.sampled_from(["fractional", "absolute", "independent", "fiber"]))
    if kind == "fractional":
        return cascades.FractionalThreshold, (draw(unit_reals),)
    if kind == "absolute":
        return cascades.AbsoluteThreshold, (draw(hostile_ints),)
    if kind == "independent":
        return cascades.IndependentCascade, (draw(unit_reals),)
    return cascades.FiberBundle, (draw(hostile_reals),)


safe_degrees = st.one_of(
    st.builds(cascades.Poisson, st.floats(0, 12)),
    st.builds(cascades.Regular, st.integers(0, 8)),
    st.builds(cascades.PowerLaw, st.floats(2.05, 4.0), kmin=st.integers(1, 3), kmax=st.integers(3, 60)),
)


def test_final_size_and_conditions(profile):
    @PROFILES[profile]
    @given(models(), safe_degrees, unit_reals)
    def prop(spec, degrees, seed_fraction):
        cls, args = spec
        model = outcome(cls, *args, names=MODEL_NAMES)
        if model is None:
            return
        fs = outcome(cascades.final_size, model, degrees, seed_fraction, names=MODEL_NAMES)
        if fs is not None:
            assert in_unit(fs.rho) and in_unit(fs.q)
            if fs.converged:
                assert fs.rho >= seed_fraction - 1e-9  # seeds stay active
        cc = outcome(cascades.cascade_condition, model, degrees, names=MODEL_NAMES)
        if cc is not None:
            assert math.isfinite(cc.c1) and cc.cascades == (cc.c1 > 1)
        gp = outcome(cascades.global_cascade_probability, model, degrees, names=MODEL_NAMES)
        if gp is not None:
            assert in_unit(gp.probability) and in_unit(gp.vulnerable_fraction)

    prop()


def test_correlated_and_modular(profile):
    @PROFILES[profile]
    @given(models(), st.integers(1, 5), st.integers(0, 2**16), unit_reals)
    def prop(spec, kmax, seed, seed_fraction):
        cls, args = spec
        model = outcome(cls, *args, names=MODEL_NAMES)
        if model is None:
            return
        rng = np.random.default_rng(seed)
        joint = rng.random((kmax + 1, kmax + 1))
        joint[0, :] = joint[:, 0] = 0
        joint = joint + joint.T
        joint /= joint.sum()
        corr = cascades.DegreeCorrelation(joint)
        res = outcome(cascades.final_size_correlated, model, corr, seed_fraction, names=MODEL_NAMES)
        if res is not None:
            assert in_unit(res.size) and in_unit(res.group_sizes)
        fractions = rng.random(2) + 0.1
        mixing = rng.random((2, 2))
        mixing = (mixing + mixing.T) / 2
        net = outcome(
            cascades.ModularNetwork,
            fractions / fractions.sum(),
            (cascades.Poisson(float(kmax)), cascades.Regular(kmax)),
            mixing,
            names=("fractions", "degrees", "mixing"),
        )
        if net is not None:
            res = outcome(cascades.final_size_modular, model, net, seed_fraction, names=MODEL_NAMES)
            if res is not None:
                assert in_unit(res.size) and in_unit(res.group_sizes)

    prop()


def test_cascade_window(profile):
    @PROFILES[profile]
    @given(
        st.lists(st.one_of(st.floats(0, 10), hostile_reals), min_size=1, max_size=3),
        st.lists(unit_reals, min_size=1, max_size=3),
    )
    def prop(z, phi):
        w = outcome(cascades.cascade_window, z, phi, names=("z", "phi", "mean", "seed_fraction"))
        if w is not None:
            assert w.cascades.shape == (len(z), len(phi)) or w.cascades.size == len(z) * len(phi)

    prop()


# -- size distributions and their comparisons ---------------------------------------------------


def test_total_variation(profile):
    vectors = st.lists(st.one_of(st.floats(0, 1), hostile_reals), max_size=6)

    @PROFILES[profile]
    @given(vectors, vectors)
    def prop(p, q):
        tv = outcome(cascades.total_variation, p, q, names=("p", "q"))
        if tv is None:
            return
        assert is_pmf(p, 1e-6) and is_pmf(q, 1e-6), "total_variation accepted something that is not a pmf"
        assert in_unit(tv)
        assert tv == pytest.approx(cascades.total_variation(q, p))

    prop()


def test_empirical_size_distribution(profile):
    @PROFILES[profile]
    @given(st.lists(hostile_ints, max_size=20), hostile_ints, unit_reals)
    def prop(sizes, n, confidence):
        dist = outcome(
            cascades.empirical_size_distribution,
            sizes,
            n,
            confidence=confidence,
            names=("sizes", "n", "confidence"),
        )
        if dist is None:
            return
        assert is_pmf(dist.pmf) and in_unit(dist.lower) and in_unit(dist.upper)
        assert np.all(dist.lower <= dist.pmf + 1e-12) and np.all(dist.pmf <= dist.upper + 1e-12)
        assert dist.pmf.shape == (int(n) + 1,)

    prop()


def test_closed_form_size_distributions(profile):
    @PROFILES[profile]
    @given(hostile_ints, models(), unit_reals, st.sampled_from(["complete", "star"]))
    def prop(n, spec, seed_probability, shape):
        cls, args = spec
        model = outcome(cls, *args, names=MODEL_NAMES)
        if model is None:
            return
        fn = (
            cascades.complete_graph_size_distribution
            if shape == "complete"
            else cascades.star_size_distribution
        )
        names = MODEL_NAMES + ("n", "n_leaves", "seed_probability")
        dist = outcome(fn, n, model, seed_probability, names=names)
        if dist is not None:
            assert is_pmf(dist.pmf)
            assert dist.pmf.shape == (int(n) + 1 + (shape == "star"),)

    prop()


def test_simulate_on_generated_graphs(profile):
    @PROFILES[profile]
    @given(st.integers(0, 60), st.floats(0, 6), models(), unit_reals, st.integers(0, 2**32 - 1))
    def prop(n, z, spec, seed_fraction, seed):
        cls, args = spec
        model = outcome(cls, *args, names=MODEL_NAMES)
        if model is None:
            return
        g = cascades.erdos_renyi(n, p=min(z / max(n - 1, 1), 1.0), rng=seed)
        res = outcome(
            cascades.simulate, g, model, seed_fraction=seed_fraction, rng=seed, names=MODEL_NAMES + ("n",)
        )
        if res is None:
            return
        assert in_unit(res.final_fraction) and res.active.shape == (n,)
        assert res.active.sum() >= res.n_seeds
        if n <= 9:
            dist = outcome(cascades.size_distribution, g, model, seed_fraction, names=MODEL_NAMES + ("seed",))
            if dist is not None:
                assert is_pmf(dist.pmf) and dist.pmf.shape == (n + 1,)

    prop()


# -- networks as cascades ------------------------------------------------------------------------

NN_NAMES = ("activation", "sigma_w2", "sigma_b2", "q", "q0", "q_star", "keep", "depth", "c")


def test_meanfield_maps(profile):
    @PROFILES[profile]
    @given(activations, hostile_reals, hostile_reals)
    def prop(act, sigma_w2, sigma_b2):
        q_star = outcome(nn.q_fixed_point, act, sigma_w2, sigma_b2, names=NN_NAMES)
        if q_star is not None:
            assert float(q_star) >= 0 and not math.isnan(float(q_star))
        chi = outcome(nn.chi1, act, sigma_w2, sigma_b2, names=NN_NAMES)
        if chi is not None:
            assert float(chi) >= 0 and not math.isnan(float(chi))
        scales = outcome(nn.depth_scales, act, sigma_w2, sigma_b2, names=NN_NAMES)
        if scales is not None:
            for value in (scales.xi_q, scales.xi_c):
                # nan only where the scale does not exist, and then the result says why
                assert float(value) >= 0 or (math.isnan(float(value)) and scales.reason), scales

    prop()


def test_critical_points(profile):
    @PROFILES[profile]
    @given(activations, hostile_reals)
    def prop(act, q_star):
        point = outcome(nn.critical_point, act, q_star=q_star, names=NN_NAMES)
        if point is not None:
            assert point.sigma_w2 > 0 and point.sigma_b2 >= 0 and math.isfinite(point.sigma_w2)

    prop()


SPARSE_NAMES = ("widths", "densities", "density", "architecture", "scheme", "method", "rho0", "x")
widths_lists = st.lists(st.one_of(st.integers(1, 600), hostile_ints), min_size=1, max_size=6)
density_values = st.one_of(st.floats(0.0, 1.0), unit_reals)


def test_input_connectivity(profile):
    @PROFILES[profile]
    @given(widths_lists, density_values, st.sampled_from(["tree", "exact"]))
    def prop(widths, density, method):
        p = outcome(nn.input_connectivity, widths, density, method=method, names=SPARSE_NAMES)
        if p is not None:
            assert in_unit(p) and len(p) == len(widths)

    prop()


def test_layer_densities_and_recommend(profile):
    @PROFILES[profile]
    @given(widths_lists, density_values, st.sampled_from(["erk", "uniform", "balanced"]), activations)
    def prop(widths, density, scheme, act):
        d = outcome(cascades.layer_densities, widths, density, scheme, names=SPARSE_NAMES)
        if d is None:
            return
        assert np.all((d > 0) & (d <= 1)) and len(d) == len(widths) - 1
        rec = outcome(cascades.recommend, widths, act, density, scheme, names=SPARSE_NAMES + NN_NAMES)
        if rec is not None:
            for layer in rec.layers:
                assert math.isfinite(layer.weight_std) and layer.weight_std > 0
                assert 0 < layer.density <= 1 and in_unit(layer.p_connected_to_input)

    prop()


def test_relu_output_norm_cdf(profile):
    @PROFILES[profile]
    @given(
        st.lists(st.one_of(st.floats(0, 10), hostile_reals), min_size=1, max_size=5),
        st.lists(st.one_of(st.integers(1, 50), hostile_ints), min_size=1, max_size=3),
        hostile_reals,
    )
    def prop(x, widths, sigma_w2):
        cdf = outcome(nn.relu_output_norm_cdf, x, widths, sigma_w2, names=SPARSE_NAMES + NN_NAMES)
        if cdf is None:
            return
        x, cdf = np.asarray(x, dtype=float), np.asarray(cdf)
        assert np.all(np.isnan(cdf) == np.isnan(x))  # nan only at nan, as scipy's cdfs
        cdf, x = cdf[~np.isnan(x)], x[~np.isnan(x)]
        assert in_unit(cdf)
        order = np.argsort(x)
        assert np.all(np.diff(np.asarray(cdf)[order]) >= -1e-9)  # a cdf never decreases

    prop()


def test_simulate_network(profile):
    @PROFILES[profile]
    @given(
        activations,
        hostile_reals,
        hostile_reals,
        st.lists(st.one_of(st.integers(1, 40), hostile_ints), min_size=1, max_size=4),
        st.integers(0, 2**16),
    )
    def prop(act, sigma_w2, sigma_b2, widths, seed):
        sim = outcome(
            nn.simulate_network, act, sigma_w2, sigma_b2, widths, rng=seed, names=SPARSE_NAMES + NN_NAMES
        )
        if sim is not None:
            assert np.all(np.asarray(sim.q) >= 0) and in_unit(sim.dead_fraction)

    prop()


def test_torch_entry_points_refuse_wrong_kinds(profile):
    torch = pytest.importorskip("torch")
    names = ("recommendation", "module", "model", "path", "architecture")
    kinds = st.sampled_from([None, 3, "mlp", 1.5, [1, 2], {"a": 1}, torch.zeros(2), object()])

    @PROFILES[profile]
    @given(kinds)
    def prop(thing):
        rec = cascades.recommend([8, 8, 4], "relu", 0.5)
        assert outcome(cascades.to_torch, thing, names=names) is None
        assert outcome(cascades.apply_to, thing, rec, names=names) is None
        assert outcome(cascades.masks_from, thing, names=names) is None
        assert outcome(cascades.read_module, thing, names=names) is None

    prop()


def test_sparse_signal_propagation_and_masks(profile):
    @PROFILES[profile]
    @given(
        activations,
        st.one_of(st.floats(0.1, 4.0), hostile_reals),
        st.one_of(st.floats(0.0, 1.0), hostile_reals),
        widths_lists,
        density_values,
        st.integers(0, 2**16),
    )
    def prop(act, sigma_w2, sigma_b2, widths, density, seed):
        names = SPARSE_NAMES + NN_NAMES
        stats = outcome(nn.sparse_signal_propagation, act, sigma_w2, sigma_b2, widths, density, names=names)
        if stats is not None:
            for layer in stats:
                assert in_unit(layer.dead_fraction) and is_pmf(layer.degree_pmf, 1e-6)
                assert layer.q_mean >= 0 and not math.isnan(layer.q_mean)
        masks = outcome(cascades.draw_masks, widths, density, rng=seed, names=names)
        if masks is not None:
            assert len(masks) == len(widths) - 1
            for mask, (a, b) in zip(masks, zip(widths[:-1], widths[1:], strict=True), strict=True):
                assert mask.shape == (int(b), int(a))

    prop()


def test_residual_propagation(profile):
    @PROFILES[profile]
    @given(
        activations,
        st.one_of(st.floats(0.0, 4.0), hostile_reals),
        st.one_of(st.floats(0.0, 1.0), hostile_reals),
        st.one_of(st.floats(0.01, 4.0), hostile_reals),
        st.one_of(st.integers(0, 30), hostile_ints),
        st.one_of(st.floats(-1.0, 1.0), hostile_reals),
        st.one_of(st.floats(-2.0, 2.0), hostile_reals),
        st.one_of(st.none(), st.floats(0.0, 2.0), hostile_reals),
    )
    def prop(act, sigma_w2, sigma_b2, q0, depth, c, alpha, beta):
        names = NN_NAMES + ("q11", "alpha", "beta")
        t = outcome(
            nn.residual_propagate,
            act,
            sigma_w2,
            sigma_b2,
            q0,
            depth,
            c=c,
            alpha=alpha,
            beta=beta,
            names=names,
        )
        if t is not None:
            assert np.all(t.q11 >= 0) and np.all(np.isfinite(t.q11)) and np.all(np.abs(t.c) <= 1)

    prop()
