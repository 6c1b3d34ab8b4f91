"""Recipe for cascade-size distributions on finite networks (Burkholz et al.): exact message passing
on a tree and the closed forms for the complete graph and the star, against Monte Carlo histograms.

Conventions (those of :mod:`cascades.distributions`): every node is a seed independently with
probability ``seed_probability``; sizes count active nodes, seeds included; thresholds are iid
per node and drawn anew in every simulated run.
"""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import xarray as xr
from scipy import stats

from .._rng import spawn
from ..graphs import from_edges, from_networkx
from ..models import FractionalThreshold
from ..simulation import simulate
from ._base import Recipe, register, run_points, subplots

__all__: list[str] = []

_PANELS = ("tree", "complete", "star")


def _model(p):
    return FractionalThreshold(stats.norm(p["phi_mean"], p["phi_std"]))


def _graph(kind, p, gen):
    if kind == "tree":
        seed = int(gen.integers(2**31))
        return from_networkx(nx.random_labeled_tree(p["tree_n"], seed=seed))
    if kind == "complete":
        n = p["complete_n"]
        return from_edges([(i, j) for i in range(n) for j in range(i + 1, n)], n)
    return from_edges([(0, i) for i in range(1, p["star_leaves"] + 1)], p["star_leaves"] + 1)


def _theory(kind, graph, model, p):
    from ..distributions import complete_graph_size_distribution, size_distribution, star_size_distribution

    if kind == "tree":
        return size_distribution(graph, model, p["seed_probability"], method="tree").pmf
    if kind == "complete":
        return complete_graph_size_distribution(graph.n, model, p["seed_probability"]).pmf
    return star_size_distribution(graph.n - 1, model, p["seed_probability"]).pmf


def _compute(p, gen, progress):
    # imported here: cascades.distributions is heavy to import, and the registry should stay light
    from ..distributions import empirical_size_distribution, sampling_tv_bound, total_variation

    model = _model(p)
    g_tree, g_runs = spawn(gen, 2)
    graphs = {k: _graph(k, p, g_tree) for k in _PANELS}
    nmax = max(g.n for g in graphs.values())
    theory = np.zeros((len(_PANELS), nmax + 1))
    for i, k in enumerate(_PANELS):
        pmf = _theory(k, graphs[k], model, p)
        theory[i, : pmf.size] = pmf
    jobs = [(k, r) for k in _PANELS for r in range(p["runs"])]
    gens = spawn(g_runs, len(jobs))

    def one(t, job):
        g = graphs[job[0]]
        gr = gens[t]
        seeds = gr.random(g.n) < p["seed_probability"]  # Bernoulli seeds, as the theory
        return simulate(g, model, seeds=seeds, rng=gr).n_active

    res, complete = run_points(one, jobs, progress=progress, desc="size-distributions")
    sizes = np.array([np.nan if r is None else r for r in res], dtype=float).reshape(len(_PANELS), -1)
    tv = np.full(len(_PANELS), np.nan)
    bound = np.full(len(_PANELS), np.nan)
    for i, k in enumerate(_PANELS):
        s = sizes[i][np.isfinite(sizes[i])]
        if s.size:
            emp = empirical_size_distribution(s.astype(np.int64), graphs[k].n)
            tv[i] = total_variation(emp, theory[i, : graphs[k].n + 1])
            bound[i] = sampling_tv_bound(theory[i, : graphs[k].n + 1], s.size)
    return xr.Dataset(
        {
            "theory_pmf": (("graph", "size"), theory, {"long_name": "P(S = s), exact / closed form"}),
            "sim_size": (("graph", "run"), sizes, {"long_name": "simulated final size", "units": "nodes"}),
            "n_nodes": ("graph", np.array([graphs[k].n for k in _PANELS])),
            "total_variation": ("graph", tv),
            "sampling_tv_bound": ("graph", bound),
        },
        coords={"graph": list(_PANELS), "size": np.arange(nmax + 1), "run": np.arange(p["runs"])},
        attrs={"complete": int(complete)},
    )


def _plot(ds):
    prm = json.loads(ds.attrs["parameters"])
    fig, axes = subplots(1, 3, figsize=(14, 4.2))
    titles = {
        "tree": f"(a) random tree, n = {prm['tree_n']} (exact message passing)",
        "complete": f"(b) complete graph, n = {prm['complete_n']} (closed form)",
        "star": f"(c) star, {prm['star_leaves']} leaves (closed form)",
    }
    for ax, k in zip(axes, ds.graph.values, strict=True):
        n = int(ds.n_nodes.sel(graph=k))
        s = np.arange(n + 1)
        pmf = ds.theory_pmf.sel(graph=k).values[: n + 1]
        sim = ds.sim_size.sel(graph=k).values
        sim = sim[np.isfinite(sim)].astype(np.int64)
        ax.plot(s, pmf, "-", color="C0", label="theory")
        if sim.size:
            emp = np.bincount(sim, minlength=n + 1) / sim.size
            tv, bd = float(ds.total_variation.sel(graph=k)), float(ds.sampling_tv_bound.sel(graph=k))
            ax.plot(s, np.where(emp > 0, emp, np.nan), "o", ms=3, mfc="none", color="C3",
                    label=f"Monte Carlo, {sim.size} runs\nTV = {tv:.3f} (sampling E[TV] <= {bd:.3f})")
        ax.set_yscale("log")
        ax.set_ylim(max(1e-5, 0.3 / max(sim.size, 1)), 1.0)
        ax.set_xlabel("final size s (active nodes, seeds included)")
        ax.set_ylabel("P(S = s)")
        ax.set_title(titles[k], fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle(rf"Watts' model, thresholds $\phi \sim N({prm['phi_mean']}, {prm['phi_std']}^2)$ iid, "
                 f"each node a seed with probability {prm['seed_probability']}", fontsize=10)
    return fig


register(
    Recipe(
        name="size-distributions",
        number=5,
        title="cascade-size distributions on finite networks: tree message passing, complete graph, star",
        source="Burkholz, Herrmann & Schweitzer 2018 (Sci. Rep.); Burkholz 2019 (Sci. Rep. 9, 6561)",
        params={
            "quick": dict(tree_n=40, complete_n=20, star_leaves=20, phi_mean=0.3, phi_std=0.1,
                          seed_probability=0.05, runs=300),
            "full": dict(tree_n=200, complete_n=100, star_leaves=100, phi_mean=0.3, phi_std=0.1,
                         seed_probability=0.02, runs=20_000),
        },
        compute=_compute,
        plot=_plot,
    )
)


# ---------------------------------------------------------------------------------------------
# graphs with cycles: the two-branch and bp-tree approximations against simulation
# ---------------------------------------------------------------------------------------------

_LOOPY = ("window-edge", "random-thresholds", "icm")


def _loopy_case(kind, p):
    """(model, mean degree, expected seeds, n) of a panel."""
    from ..models import IndependentCascade

    if kind == "window-edge":
        return FractionalThreshold(0.18), 5.6, 2.0, p["n_window"]
    if kind == "random-thresholds":
        return FractionalThreshold(stats.norm(0.2, 0.05)), 4.0, 2.0, p["n"]
    return IndependentCascade(0.25), 3.0, 5.0, p["n"]


def _loopy_compute(p, gen, progress):
    import warnings

    from ..distributions import (
        empirical_size_distribution,
        sampling_tv_bound,
        size_distribution,
        total_variation,
    )
    from ..graphs import erdos_renyi

    g_graph, g_runs = spawn(gen, 2)
    graph_gens = spawn(g_graph, len(_LOOPY))
    cases = {k: _loopy_case(k, p) for k in _LOOPY}
    graphs = {k: erdos_renyi(cases[k][3], cases[k][1], rng=graph_gens[i]) for i, k in enumerate(_LOOPY)}
    nmax = max(c[3] for c in cases.values())
    two = np.zeros((len(_LOOPY), nmax + 1))
    bp = np.zeros((len(_LOOPY), nmax + 1))
    weight, large, warned = (np.zeros(len(_LOOPY)) for _ in range(3))
    notes = {}
    for i, k in enumerate(_LOOPY):
        model, _, seeds, n = cases[k]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            d = size_distribution(graphs[k], model, seeds / n)
        msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        warned[i] = len(msgs)
        notes[k] = " | ".join(msgs)
        two[i, : n + 1] = d.pmf
        weight[i], large[i] = d.info["global_weight"], d.info["ignited"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            bp[i, : n + 1] = size_distribution(graphs[k], model, seeds / n, method="bp-tree").pmf
    jobs = [(k, r) for k in _LOOPY for r in range(p["runs"])]
    gens = spawn(g_runs, len(jobs))

    def one(t, job):
        k = job[0]
        model, _, seeds, n = cases[k]
        gr = gens[t]
        return simulate(graphs[k], model, seeds=gr.random(n) < seeds / n, rng=gr).n_active

    res, complete = run_points(one, jobs, progress=progress, desc="loopy-size-distributions")
    sizes = np.array([np.nan if r is None else r for r in res], dtype=float).reshape(len(_LOOPY), -1)
    tv2, tvb, bound = (np.full(len(_LOOPY), np.nan) for _ in range(3))
    for i, k in enumerate(_LOOPY):
        n = cases[k][3]
        s = sizes[i][np.isfinite(sizes[i])]
        if s.size:
            emp = empirical_size_distribution(s.astype(np.int64), n)
            tv2[i] = total_variation(emp, two[i, : n + 1])
            tvb[i] = total_variation(emp, bp[i, : n + 1])
            bound[i] = sampling_tv_bound(two[i, : n + 1], s.size)
    return xr.Dataset(
        {
            "two_branch_pmf": (("case", "size"), two, {"long_name": "P(S = s), two-branch approximation"}),
            "bp_tree_pmf": (("case", "size"), bp, {"long_name": "P(S = s), bp-tree approximation"}),
            "sim_size": (("case", "run"), sizes, {"long_name": "simulated final size", "units": "nodes"}),
            "n_nodes": ("case", np.array([cases[k][3] for k in _LOOPY])),
            "mean_degree": ("case", np.array([cases[k][1] for k in _LOOPY])),
            "expected_seeds": ("case", np.array([cases[k][2] for k in _LOOPY])),
            "global_weight": ("case", weight, {"long_name": "two-branch weight of the global branch"}),
            "ignited": ("case", large, {"long_name": "local-branch mass moved to the global branch"}),
            "warned": ("case", warned, {"long_name": "number of RuntimeWarnings of the two-branch call"}),
            "tv_two_branch": ("case", tv2),
            "tv_bp_tree": ("case", tvb),
            "sampling_tv_bound": ("case", bound),
        },
        coords={"case": list(_LOOPY), "size": np.arange(nmax + 1), "run": np.arange(p["runs"])},
        attrs={"complete": int(complete), "warnings": json.dumps(notes)},
    )


def _loopy_plot(ds):
    fig, axes = subplots(1, 3, figsize=(15, 4.4))
    titles = {
        "window-edge": r"(a) Watts $\phi$ = 0.18, edge of the window",
        "random-thresholds": r"(b) $\phi \sim N(0.2, 0.05^2)$ iid",
        "icm": "(c) independent cascade, w = 0.25 (no giant)",
    }
    for ax, k in zip(axes, ds.case.values, strict=True):
        n = int(ds.n_nodes.sel(case=k))
        s = np.arange(n + 1)
        sim = ds.sim_size.sel(case=k).values
        sim = np.sort(sim[np.isfinite(sim)])
        if sim.size:
            cdf = np.arange(1, sim.size + 1) / sim.size
            bound = float(ds.sampling_tv_bound.sel(case=k))
            ax.step(sim + 1, cdf, where="post", color="C3", lw=1.5,
                    label=f"simulation, {sim.size} runs (E[TV] <= {bound:.3f})")
        for var, style, name, tv in (
            ("two_branch_pmf", "-", "two-branch", "tv_two_branch"),
            ("bp_tree_pmf", "--", "bp-tree", "tv_bp_tree"),
        ):
            pmf = ds[var].sel(case=k).values[: n + 1]
            label = f"{name} (TV {float(ds[tv].sel(case=k)):.3f})"
            ax.plot(s + 1, np.cumsum(pmf), style, lw=1.2, label=label)
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("final size s + 1 (active nodes, seeds included)")
        ax.set_ylabel(r"$P(S \leq s)$")
        extra = " (warned)" if float(ds.warned.sel(case=k)) else ""
        ax.set_title(
            f"{titles[k]}\nER n = {n}, z = {float(ds.mean_degree.sel(case=k)):g}, "
            f"{float(ds.expected_seeds.sel(case=k)):g} expected seeds; "
            f"global weight {float(ds.global_weight.sel(case=k)):.2f}{extra}",
            fontsize=9,
        )
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("cascade-size distributions on graphs with cycles: approximations against simulation",
                 fontsize=10)
    return fig


register(
    Recipe(
        name="loopy-size-distributions",
        number=10,
        title="size distributions on Erdos-Renyi graphs: two-branch and bp-tree approximations vs simulation",
        source="Burkholz 2019 (Sci. Rep. 9, 6561), approximation on general networks; cascades' two-branch",
        params={
            "quick": dict(n_window=1000, n=500, runs=300),
            "full": dict(n_window=10_000, n=2000, runs=4000),
        },
        compute=_loopy_compute,
        plot=_loopy_plot,
    )
)
