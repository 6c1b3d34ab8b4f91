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
