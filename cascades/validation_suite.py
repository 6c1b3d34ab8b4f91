"""A fixed suite of theory-against-simulation checks: ``cascades.validate()`` and ``cascades validate``.

Every case computes a prediction with the analytic layer of the package and measures the same
quantity in seeded simulations, then compares the two with a tolerance derived from the
statistical error of the simulation (the formula is in each case's ``note`` and next to the
code). The tolerances are set for a false-alarm probability of about ALPHA = 1e-3 per case, so
the suite passes for the default seed and for almost every other seed; a failure means a real
disagreement (or a one-in-a-thousand fluke: re-run with another ``rng`` to tell).

Cases (``quick=True`` sizes in brackets run in well under 20 s on an idle machine):

* cascade final sizes of Watts' model (phi = 0.18) on Erdos-Renyi graphs, seed fraction 0.01,
  z = 2, 4, 12, against :func:`cascades.final_size` (local tree approximation);
* the synchronous time course rho_t at z = 4 against the LTA trajectory (worst step reported);
* the cascade window near its lower edge: the frequency of global cascades from one seed at
  z = 1.5 and 2 against :func:`cascades.global_cascade_probability`;
* the q and c fixed points of tanh networks and the correlation depth scale xi_c against
  :func:`cascades.nn.q_fixed_point`, :func:`cascades.nn.c_fixed_point` and
  :func:`cascades.nn.depth_scales`, measured with :func:`cascades.nn.simulate_network`;
* the fraction of dead neurons (in-degree 0) in Erdos-Renyi sparse layers, (1 - p)^{n_in}, and
  the sparse length q^L against :func:`cascades.nn.sparse_signal_propagation`;
* whole cascade-size distributions (Watts' model, random thresholds, Bernoulli seeds): exact
  message passing on a random tree and the closed form on the complete graph
  (:mod:`cascades.distributions`), against Monte Carlo histograms, by total variation distance.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._rng import as_generator, spawn
from .degrees import Binomial
from .graphs import erdos_renyi
from .meanfield import final_size, global_cascade_probability
from .models import FractionalThreshold
from .nn import (
    c_fixed_point,
    c_trajectory,
    depth_scales,
    q_fixed_point,
    simulate_network,
    sparse_signal_propagation,
)
from .simulation import global_cascade_frequency, simulate, simulate_ensemble

__all__ = ["ValidationCase", "ValidationReport", "validate"]

#: False-alarm probability per case.
ALPHA = 1e-3


@dataclass(frozen=True)
class ValidationCase:
    """One theory-against-simulation comparison.

    Attributes
    ----------
    case : str
        What is compared.
    theory, simulation : float
        The prediction and the simulated estimate.
    error : float
        |simulation - theory|.
    tolerance : float
        The allowed error (see ``note``).
    note : str
        How the tolerance is derived and the simulation's size.
    seconds : float
        Wall time of the case.
    """

    case: str
    theory: float
    simulation: float
    error: float
    tolerance: float
    note: str
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """error <= tolerance (False when either is NaN)."""
        return bool(self.error <= self.tolerance)

    @property
    def verdict(self) -> str:
        """``"pass"`` or ``"FAIL"``."""
        return "pass" if self.passed else "FAIL"


@dataclass(frozen=True)
class ValidationReport:
    """The result of :func:`validate`: one :class:`ValidationCase` per row.

    Attributes
    ----------
    rows : tuple of ValidationCase
    quick : bool
    rng : str
        The seed the suite ran with.
    complete : bool
        False when Ctrl-C stopped the suite (the finished rows are kept).
    """

    rows: tuple
    quick: bool
    rng: str
    complete: bool = True

    @property
    def passed(self) -> bool:
        """True when every case passed (and the suite was not interrupted)."""
        return self.complete and all(r.passed for r in self.rows)

    def table(self, *, notes: bool = False) -> str:
        """The rows as a fixed-width text table (with ``notes=True``, each tolerance's derivation)."""
        head = f"{'case':<52} {'theory':>11} {'simulation':>11} {'error':>10} {'tolerance':>10}  verdict"
        lines = [head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r.case:<52} {r.theory:>11.5g} {r.simulation:>11.5g} {r.error:>10.3g} "
                f"{r.tolerance:>10.3g}  {r.verdict}"
            )
            if notes:
                lines.append(f"    {r.note}")
        n_fail = sum(not r.passed for r in self.rows)
        mode = "quick" if self.quick else "full"
        status = "all passed" if self.passed else f"{n_fail} failed"
        if not self.complete:
            status += " (interrupted: not every case ran)"
        lines.append(f"{len(self.rows)} cases ({mode}, rng={self.rng}): {status}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _t_quantile(df: int, comparisons: int = 1) -> float:
    """Two-sided Student-t quantile for a false alarm ALPHA split over ``comparisons`` (Bonferroni)."""
    return float(stats.t.ppf(1 - ALPHA / (2 * comparisons), df))


def _z_quantile(comparisons: int = 1) -> float:
    return float(stats.norm.ppf(1 - ALPHA / (2 * comparisons)))


def _mean_case(name, values, theory, bias, what, seconds, comparisons=1):
    """Mean of independent replicates within t * se (estimated) + bias of the theory."""
    v = np.asarray(values, dtype=float)
    se = float(v.std(ddof=1) / math.sqrt(v.size))
    c = _t_quantile(v.size - 1, comparisons)
    tol = c * se + bias
    sim = float(v.mean())
    return ValidationCase(
        name, float(theory), sim, abs(sim - theory), tol,
        f"tol = t_{{R-1}}(1 - {ALPHA:g}/2) * se + bias = {c:.2f} * {se:.2g} + {bias:.2g}; {what}",
        seconds,
    )


# ---------------------------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------------------------


def _er_runs(n, z, phi, rho0, R, gen, record):
    """R synchronous runs of Watts' model on new G(n, z) graphs: final fractions and padded steps."""
    finals, steps = [], []
    model = FractionalThreshold(phi)
    for child in spawn(gen, R):
        g = erdos_renyi(n, z, rng=child)
        r = simulate(g, model, seed_fraction=rho0, rng=child, record_steps=record, dynamics="sync")
        finals.append(r.final_fraction)
        if record:
            steps.append(r.steps)
    return np.array(finals), steps


def _final_size_case(p, gen, z):
    t0 = time.perf_counter()
    n, R, phi, rho0 = p["n"], p["runs"], p["phi"], p["rho0"]
    finals, _ = _er_runs(n, z, phi, rho0, R, gen, False)
    # G(n, p) has exactly Binomial(n - 1, z / (n - 1)) degrees; bias allowance 2/n for short
    # cycles and the exact seed count (the local tree approximation is exact as n -> infinity)
    theory = final_size(FractionalThreshold(phi), Binomial(n - 1, z / (n - 1)), rho0).rho
    return _mean_case(
        f"final size, ER z={z:g}, phi={phi:g}, rho0={rho0:g}", finals, theory, 2.0 / n,
        f"R = {R} runs, n = {n}, bias 2/n", time.perf_counter() - t0,
    )


def _trajectory_case(p, gen):
    t0 = time.perf_counter()
    n, R, phi, rho0, z = p["n"], p["runs"], p["phi"], p["rho0"], 4.0
    _, steps = _er_runs(n, z, phi, rho0, R, gen, True)
    lta = final_size(FractionalThreshold(phi), Binomial(n - 1, z / (n - 1)), rho0, trajectory=True)
    T = max(max(s.size for s in steps), lta.rho_t.size)
    sim = np.array([np.concatenate([s, np.full(T - s.size, s[-1])]) for s in steps])
    th = np.concatenate([lta.rho_t, np.full(T - lta.rho_t.size, lta.rho_t[-1])])
    # one comparison per time step, Bonferroni over the T steps
    se = sim.std(axis=0, ddof=1) / math.sqrt(R)
    c = _t_quantile(R - 1, T)
    tol = c * se + 2.0 / n
    diff = np.abs(sim.mean(axis=0) - th)
    worst = int(np.argmax(diff / tol))
    return ValidationCase(
        f"trajectory rho_t, ER z=4, worst step t={worst} of {T - 1}", float(th[worst]),
        float(sim.mean(axis=0)[worst]), float(diff[worst]), float(tol[worst]),
        f"per step tol = t_{{R-1}}(1 - {ALPHA:g}/(2T)) * se_t + 2/n = {c:.2f} * se_t + {2.0 / n:.2g}; "
        f"R = {R} synchronous runs, n = {n}", time.perf_counter() - t0,
    )


def _frequency_case(p, gen, z):
    t0 = time.perf_counter()
    n, R, phi = p["freq_n"], p["freq_runs"], p["phi"]
    model = FractionalThreshold(phi)
    f = simulate_ensemble(lambda g: erdos_renyi(n, z, rng=g), model, R, n_seeds=1, rng=gen)
    sim = global_cascade_frequency(f, threshold=0.05).frequency
    theory = global_cascade_probability(model, Binomial(n - 1, z / (n - 1))).probability
    # binomial standard error from the theory, z-quantile, plus a finite-size allowance: near the
    # lower edge the giant vulnerable cluster has finite-size corrections of order n^{-1/3}
    # (critical percolation scaling), allowed for as 0.5 n^{-1/3}
    se = math.sqrt(theory * (1 - theory) / R)
    c = _z_quantile()
    fs = 0.5 * n ** (-1.0 / 3.0)
    return ValidationCase(
        f"global cascade frequency, ER z={z:g}, one seed", theory, sim, abs(sim - theory), c * se + fs,
        f"tol = z(1 - {ALPHA:g}/2) * sqrt(P(1-P)/R) + 0.5 n^(-1/3) = {c:.2f} * {se:.2g} + {fs:.2g}; "
        f"R = {R}, n = {n}, global: size > 0.05", time.perf_counter() - t0,
    )


def _net_runs(p, gen, sw2, sb2, q1, c0, depth):
    """(R, depth) arrays of simulated q^l and c^l, l = 1..depth, inputs whose q^1 is q1."""
    q0 = (q1 - sb2) / sw2
    qs, cs = [], []
    for child in spawn(gen, p["networks"]):
        s = simulate_network("tanh", sw2, sb2, [p["width"]] * (depth + 1), q0=q0, c0=c0, rng=child)
        qs.append(s.q[1:].mean(axis=1))
        cs.append(s.c[1:])
    return np.array(qs), np.array(cs)


def _fixed_point_cases(p, gen):
    t0 = time.perf_counter()
    sw2, sb2, N, burn = p["sw2_chaotic"], 0.05, p["width"], p["burn_in"]
    qs = float(q_fixed_point("tanh", sw2, sb2))
    cs = float(c_fixed_point("tanh", sw2, sb2))
    # inputs whose first (linear) layer puts both pre-activations at length q* and correlation c*:
    # c^1 = (sw2 q0 c0 + sb2) / q* = c*. Started elsewhere, c^l would approach c* only over the
    # depth scale xi_c (about 10 layers here), and the residual approach would bias the average.
    c0 = (cs * qs - sb2) / (qs - sb2)
    q, c = _net_runs(p, gen, sw2, sb2, qs, c0, burn + p["average_over"])
    # per network: the average over the layers after the burn-in; finite-width bias allowance
    # 2 q*/N resp. 2 (1 - c*^2)/N (the corrections to the mean-field maps are O(1/N))
    qv, cv = q[:, burn:].mean(axis=1), c[:, burn:].mean(axis=1)
    dt = time.perf_counter() - t0
    what = f"R = {p['networks']} tanh networks, width {N}, layers {burn + 1}..{burn + p['average_over']}"
    return [
        _mean_case(f"q* tanh, sigma_w2={sw2:g}, sigma_b2=0.05", qv, qs, 2 * qs / N, what, dt / 2),
        _mean_case(f"c* tanh, sigma_w2={sw2:g}, sigma_b2=0.05", cv, cs, 2 * (1 - cs**2) / N, what, dt / 2),
    ]


def _fit_xi(dev):
    layers = np.arange(dev.size)
    slope = np.polyfit(layers, np.log(dev), 1)[0]
    return -1.0 / slope


def _depth_scale_case(p, gen):
    t0 = time.perf_counter()
    sw2, sb2, L = p["sw2_ordered"], 0.05, p["xi_layers"]
    qs = float(q_fixed_point("tanh", sw2, sb2))
    xi = float(depth_scales("tanh", sw2, sb2).xi_c)
    c1 = 1.0 - p["xi_start"]
    # inputs with c^1 = c1 at length q*: the first layer is linear, c^1 = (sw2 q0 c0 + sb2) / q*
    q0 = (qs - sb2) / sw2
    c0 = (c1 * qs - sb2) / (sw2 * q0)
    _, c = _net_runs(p, gen, sw2, sb2, qs, c0, L)
    fits = np.array([_fit_xi(np.maximum(1 - ci, 1e-300)) for ci in c])
    # systematic allowance: the same fit on the mean-field trajectory from the same c^1 differs from
    # the asymptotic xi_c by the map's curvature over the fitted window
    mf = c_trajectory("tanh", sw2, sb2, c1, L - 1)
    bias = abs(_fit_xi(1 - mf) - xi)
    return _mean_case(
        f"depth scale xi_c tanh, sigma_w2={sw2:g}, sigma_b2=0.05", fits, xi, bias,
        f"R = {p['networks']} networks, width {p['width']}, fit of log(1 - c^l), l = 1..{L}, "
        f"from 1 - c^1 = {p['xi_start']:g}; bias = |window fit on the mean-field trajectory - xi_c|",
        time.perf_counter() - t0,
    )


def _dead_case(p, gen):
    t0 = time.perf_counter()
    n_in, d, L, R = p["dead_n_in"], p["dead_density"], p["dead_layers"], p["networks"]
    fr = []
    for child in spawn(gen, R):
        s = simulate_network("tanh", 1.0, 0.0, [n_in] * (L + 1), densities=d, n_inputs=1, rng=child)
        fr.append(s.dead_fraction[1:])
    sim = float(np.mean(fr))
    theory = (1.0 - d) ** n_in
    M = n_in * L * R  # neurons; their in-degrees are independent Binomial(n_in, d)
    se = math.sqrt(theory * (1 - theory) / M)
    c = _z_quantile()
    return ValidationCase(
        f"dead-neuron fraction, ER mask p={d:g}, n_in={n_in}", theory, sim, abs(sim - theory), c * se,
        f"tol = z(1 - {ALPHA:g}/2) * sqrt(d(1-d)/M) = {c:.2f} * {se:.2g}; M = {M} neurons",
        time.perf_counter() - t0,
    )


def _sparse_q_case(p, gen):
    t0 = time.perf_counter()
    n, d, L, sw2, sb2 = p["dead_n_in"], p["sparse_density"], p["sparse_layers"], 1.76, 0.05
    st = sparse_signal_propagation("tanh", sw2, sb2, [n] * (L + 1), d, q0=1.0)
    theory = st[-1].q_mean
    vals = []
    for child in spawn(gen, p["networks"]):
        s = simulate_network("tanh", sw2, sb2, [n] * (L + 1), densities=d, q0=1.0, n_inputs=8, c0=0.0,
                             rng=child)
        vals.append(float(s.q[-1].mean()))
    return _mean_case(
        f"sparse q^L tanh, p={d:g}, width {n}, L={L}, layer scaling", vals, theory, 2 * theory / n,
        f"R = {p['networks']} networks x 8 inputs; bias 2 q/n", time.perf_counter() - t0,
    )


def _size_distribution_case(p, gen, kind):
    """Total variation between the exact size law and a Monte Carlo histogram of it."""
    from scipy import stats as _st

    from .distributions import (
        complete_graph_size_distribution,
        empirical_size_distribution,
        sampling_tv_bound,
        size_distribution,
        total_variation,
    )
    from .graphs import from_edges

    t0 = time.perf_counter()
    model = FractionalThreshold(_st.norm(0.3, 0.1))
    rho = p["size_seed_probability"]
    g_graph, g_runs = spawn(gen, 2)
    if kind == "tree":
        n = p["size_tree_n"]
        # a random recursive tree (node i >= 1 joins a uniformly chosen earlier node), relabelled
        # at random
        parent = np.array([g_graph.integers(i) for i in range(1, n)])
        perm = g_graph.permutation(n)
        graph = from_edges(np.column_stack([perm[1:], perm[parent]]), n)
        law = size_distribution(graph, model, rho, method="tree").pmf
        what = f"random tree n={n} (message passing)"
    else:
        n = p["size_complete_n"]
        graph = from_edges([(i, j) for i in range(n) for j in range(i + 1, n)], n)
        law = complete_graph_size_distribution(n, model, rho).pmf
        what = f"complete graph n={n} (closed form)"
    R = p["size_runs"]
    sizes = []
    for child in spawn(g_runs, R):
        seeds = child.random(n) < rho  # Bernoulli seeds, as the theory
        sizes.append(simulate(graph, model, seeds=seeds, rng=child).n_active)
    tv = total_variation(empirical_size_distribution(np.array(sizes), n), law)
    # E[TV] <= B = (1/2) sum_s sqrt(p_s (1 - p_s) / R), and TV is 1/R-Lipschitz in each run, so by
    # McDiarmid P(TV > E[TV] + t) <= exp(-2 R t^2) = ALPHA: t = sqrt(ln(1/ALPHA) / (2 R))
    bound = sampling_tv_bound(law, R)
    t = math.sqrt(math.log(1.0 / ALPHA) / (2 * R))
    return ValidationCase(
        f"size law TV, {what}", 0.0, tv, tv, bound + t,
        f"theory = 0 (same law), simulation = TV distance; tol = B + sqrt(ln(1/ALPHA)/(2R)) = "
        f"{bound:.3g} + {t:.3g}; R = {R} runs, phi ~ N(0.3, 0.1^2), seed probability {rho:g}",
        time.perf_counter() - t0,
    )


_PARAMS = {
    True: dict(n=20_000, runs=12, phi=0.18, rho0=0.01, freq_n=10_000, freq_runs=1000, width=400,
               networks=8, sw2_chaotic=2.5, burn_in=2, average_over=10, sw2_ordered=1.2, xi_layers=8,
               xi_start=0.02, dead_n_in=200, dead_density=0.01, dead_layers=4, sparse_density=0.05,
               sparse_layers=4, size_seed_probability=0.05, size_tree_n=60, size_complete_n=30,
               size_runs=2000),
    False: dict(n=100_000, runs=40, phi=0.18, rho0=0.01, freq_n=50_000, freq_runs=5000, width=1000,
                networks=24, sw2_chaotic=2.5, burn_in=5, average_over=20, sw2_ordered=1.2, xi_layers=10,
                xi_start=0.02, dead_n_in=500, dead_density=0.005, dead_layers=8, sparse_density=0.02,
                sparse_layers=8, size_seed_probability=0.02, size_tree_n=300, size_complete_n=100,
                size_runs=20_000),
}


def validate(quick=True, *, rng=0, progress=True) -> ValidationReport:
    """Run the theory-against-simulation suite and return its report (module docstring).

    Parameters
    ----------
    quick : bool
        Small simulations (under ~20 s on an idle machine; what CI runs) or larger ones (minutes)
        with proportionally tighter tolerances.
    rng : None, int or numpy.random.Generator
        Randomness (keyword-only; see :mod:`cascades._rng`); each case gets its own child stream.
    progress : bool
        Show a tqdm bar over the cases.

    Returns
    -------
    ValidationReport
        ``report.passed`` is True when every case is within its tolerance; ``print(report)``
        shows the table. Ctrl-C stops after the running case and returns the finished rows
        (``complete=False``).

    Examples
    --------
    >>> from cascades.validation_suite import ValidationCase, ValidationReport
    >>> row = ValidationCase("toy", 0.5, 0.52, 0.02, 0.05, "tol = 0.05")
    >>> row.verdict, ValidationReport((row,), quick=True, rng="0").passed
    ('pass', True)
    """
    if not isinstance(quick, (bool, np.bool_)):
        raise ValueError(f"quick must be True or False, got {quick!r}")
    if not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"progress must be True or False, got {progress!r}")
    p = _PARAMS[bool(quick)]
    seed = "None" if rng is None else str(rng) if not isinstance(rng, np.random.Generator) else "Generator"
    gen = as_generator(rng)
    jobs = [
        lambda g: [_final_size_case(p, g, 2.0)],
        lambda g: [_final_size_case(p, g, 4.0)],
        lambda g: [_final_size_case(p, g, 12.0)],
        lambda g: [_trajectory_case(p, g)],
        lambda g: [_frequency_case(p, g, 1.5)],
        lambda g: [_frequency_case(p, g, 2.0)],
        lambda g: _fixed_point_cases(p, g),
        lambda g: [_depth_scale_case(p, g)],
        lambda g: [_dead_case(p, g)],
        lambda g: [_sparse_q_case(p, g)],
        lambda g: [_size_distribution_case(p, g, "tree")],
        lambda g: [_size_distribution_case(p, g, "complete")],
    ]
    gens = spawn(gen, len(jobs))
    rows: list[ValidationCase] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="validate", unit="case")
    complete = True
    try:
        for job, g in zip(jobs, gens, strict=True):
            rows.extend(job(g))
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        complete = False
    finally:
        if bar is not None:
            bar.close()
    return ValidationReport(rows=tuple(rows), quick=bool(quick), rng=seed, complete=complete)
