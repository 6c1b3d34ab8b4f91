"""Recipes for Watts (2002), Figs. 1-3, and Gleeson & Cahalane (2007): the threshold model on
Erdos-Renyi graphs, analytic predictions against simulation.

Conventions: Watts' rule, a node activates when the fraction of its active neighbours is >= phi
(:class:`~cascades.models.FractionalThreshold`); a cascade is *global* when its final active
fraction exceeds ``size_threshold`` (0.05, as :func:`~cascades.simulation.global_cascade_frequency`);
each run draws a new G(n, z / (n - 1)) graph and its seeds from its own child generator.

Full scale against the papers (notebooks/README.md): ``watts-window`` uses Watts' n = 10^4 and 100
single-seed runs per point on a 17 x 13 grid (z log-spaced in [1, 16], phi in [0.06, 0.30]; the
paper's grid is not stated here); ``watts-frequency`` uses n = 10^4 and 1000 runs per z, on a z step
of 0.5; ``watts-size-distributions`` uses 10^4 runs at z = 1.05 and z = 5.6 (values chosen here near
the two boundaries of phi = 0.18: 1.02 < z < 5.76; the paper's exact z values are unverified);
``gleeson-cahalane`` uses n = 10^5 and 10 runs per point.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .._rng import spawn
from ..degrees import Poisson
from ..graphs import erdos_renyi
from ..meanfield import cascade_window, final_size, global_cascade_probability
from ..models import FractionalThreshold
from ..simulation import global_cascade_frequency, simulate_ensemble
from ._base import Recipe, nan_fill, register, run_points, subplots

__all__: list[str] = []


def _er_factory(n, z):
    def make(gen):
        return erdos_renyi(n, z, rng=gen)

    return make


def _ensemble(n, z, phi, runs, gen, **seeding):
    """Final fractions of ``runs`` cascades on new G(n, z) graphs (threads; Ctrl-C propagates)."""
    return simulate_ensemble(_er_factory(n, z), FractionalThreshold(phi), runs, rng=gen, **seeding)


def _global_stats(fractions, threshold):
    """(frequency, its binomial standard error, mean size of the global runs)."""
    r = global_cascade_frequency(fractions, threshold=threshold)
    big = fractions[fractions > threshold]
    return r.frequency, r.stderr, (float(big.mean()) if big.size else np.nan)




# ---------------------------------------------------------------------------------------------
# Fig. 1: the cascade window
# ---------------------------------------------------------------------------------------------


def _window_compute(p, gen, progress):
    z = np.geomspace(p["z_min"], p["z_max"], p["n_z"])
    phi = np.linspace(p["phi_min"], p["phi_max"], p["n_phi"])
    zt = np.geomspace(p["z_min"], p["z_max"], 400)
    phit = np.linspace(p["phi_min"], p["phi_max"], 241)
    single = cascade_window(zt, phit)
    seeded = cascade_window(zt, phit, seed_fraction=1.0 / p["n"], size_threshold=p["size_threshold"])
    points = [(zi, fj) for zi in z for fj in phi]
    gens = spawn(gen, len(points))

    def one(i, pt):
        f = _ensemble(p["n"], pt[0], pt[1], p["runs"], gens[i], n_seeds=1)
        return _global_stats(f, p["size_threshold"])

    res, complete = run_points(one, points, progress=progress, desc="watts-window")
    stats = nan_fill(res, (3,)).reshape(z.size, phi.size, 3)
    return xr.Dataset(
        {
            "frequency": (("z", "phi"), stats[..., 0], {"long_name": "frequency of global cascades"}),
            "frequency_stderr": (("z", "phi"), stats[..., 1]),
            "mean_global_size": (("z", "phi"), stats[..., 2], {"long_name": "mean size of global cascades"}),
            "c1": (("z_theory", "phi_theory"), np.asarray(single.c1), {"long_name": "Watts C1"}),
            "lta_final_size": (
                ("z_theory", "phi_theory"),
                np.asarray(seeded.final_size),
                {"long_name": "LTA final size from rho0 = 1/n"},
            ),
        },
        coords={"z": z, "phi": phi, "z_theory": zt, "phi_theory": phit},
        attrs={"complete": int(complete)},
    )


def _window_plot(ds):
    fig, ax = subplots(figsize=(6.4, 5.6))
    phi, z = ds.phi.values, ds.z.values
    mesh = ax.pcolormesh(phi, z, ds.frequency.values, shading="nearest", cmap="Greys", vmin=0, vmax=1)
    fig.colorbar(mesh, ax=ax, label="simulated frequency of global cascades (single seed)")
    pt, zt = ds.phi_theory.values, ds.z_theory.values
    ax.contour(pt, zt, ds.c1.values, levels=[1.0], colors="C3", linewidths=2)
    ax.contour(
        pt, zt, ds.lta_final_size.values, levels=[_params(ds)["size_threshold"]],
        colors="C0", linestyles="--", linewidths=1.5,
    )
    hit = ds.frequency.values > 0
    pp, zz = np.meshgrid(phi, z)
    ax.plot(pp[hit], zz[hit], "o", ms=3, mfc="none", mec="C1")
    ax.plot([], [], "-", color="C3", lw=2, label="analytic boundary, C1 = 1 (single seed)")
    ax.plot([], [], "--", color="C0", label="LTA with seed fraction 1/n")
    ax.plot([], [], "o", mfc="none", mec="C1", label="simulation: at least one global cascade")
    ax.set_yscale("log")
    ax.set_xlabel(r"threshold $\phi$ (fraction of active neighbours needed)")
    ax.set_ylabel(r"mean degree $z$ (Erdos-Renyi)")
    prm = _params(ds)
    ax.set_title(
        f"Cascade window, n = {prm['n']}, {prm['runs']} single-seed runs per point", fontsize=10
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, ncol=2)
    return fig


def _params(ds):
    import json

    return json.loads(ds.attrs["parameters"])


register(
    Recipe(
        name="watts-window",
        number=1,
        title="cascade window in the (phi, z) plane, analytic boundary and simulation",
        source="Watts 2002, PNAS 99, 5766, Fig. 1",
        params={
            "quick": dict(n=1000, runs=10, z_min=1.0, z_max=16.0, n_z=6, phi_min=0.08, phi_max=0.30,
                          n_phi=5, size_threshold=0.05),
            "full": dict(n=10_000, runs=100, z_min=1.0, z_max=16.0, n_z=17, phi_min=0.06, phi_max=0.30,
                         n_phi=13, size_threshold=0.05),
        },
        compute=_window_compute,
        plot=_window_plot,
    )
)


# ---------------------------------------------------------------------------------------------
# Fig. 2: frequency and size of global cascades vs z at phi = 0.18
# ---------------------------------------------------------------------------------------------


def _frequency_compute(p, gen, progress):
    z = np.arange(p["z_min"], p["z_max"] + 1e-9, p["z_step"])
    model = FractionalThreshold(p["phi"])
    zt = np.linspace(p["z_min"], p["z_max"], 300)
    prob = np.array([global_cascade_probability(model, Poisson(x)).probability for x in zt])
    size = np.array([final_size(model, Poisson(x), 1.0 / p["n"]).rho for x in zt])
    gens = spawn(gen, z.size)

    def one(i, zi):
        f = _ensemble(p["n"], zi, p["phi"], p["runs"], gens[i], n_seeds=1)
        return _global_stats(f, p["size_threshold"])

    res, complete = run_points(one, list(z), progress=progress, desc="watts-frequency")
    stats = nan_fill(res, (3,))
    return xr.Dataset(
        {
            "frequency": ("z", stats[:, 0], {"long_name": "frequency of global cascades"}),
            "frequency_stderr": ("z", stats[:, 1]),
            "mean_global_size": ("z", stats[:, 2], {"long_name": "mean size of global cascades"}),
            "theory_probability": ("z_theory", prob, {"long_name": "extended vulnerable cluster size"}),
            "theory_size": ("z_theory", size, {"long_name": "LTA final size from rho0 = 1/n"}),
        },
        coords={"z": z, "z_theory": zt},
        attrs={"complete": int(complete)},
    )


def _frequency_plot(ds):
    prm = _params(ds)
    fig, ax = subplots(figsize=(6.4, 5.0))
    zt = ds.z_theory.values
    ax.plot(zt, ds.theory_probability.values, "-", color="C0",
            label="analytic probability (extended vulnerable cluster)")
    size = ds.theory_size.values
    ax.plot(zt, np.where(size > prm["size_threshold"], size, np.nan), "--", color="C3",
            label=r"LTA final size, seed fraction $1/n$")
    ax.errorbar(ds.z.values, ds.frequency.values, yerr=ds.frequency_stderr.values, fmt="o", mfc="none",
                color="C0", ms=5, label="simulated frequency (± 1 s.e.)")
    ax.plot(ds.z.values, ds.mean_global_size.values, "^", color="C3", ms=5,
            label="simulated mean size of global cascades")
    ax.set_xlabel(r"mean degree $z$ (Erdos-Renyi)")
    ax.set_ylabel("frequency / fraction of nodes")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title(
        rf"$\phi$ = {prm['phi']}, n = {prm['n']}, {prm['runs']} single-seed runs per z; "
        f"global: size > {prm['size_threshold']}", fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    return fig


register(
    Recipe(
        name="watts-frequency",
        number=2,
        title="frequency and mean size of global cascades vs mean degree at phi = 0.18",
        source="Watts 2002, PNAS 99, 5766, Fig. 2",
        params={
            "quick": dict(n=1000, runs=60, phi=0.18, z_min=0.5, z_max=10.0, z_step=1.0, size_threshold=0.05),
            "full": dict(n=10_000, runs=1000, phi=0.18, z_min=0.5, z_max=10.0, z_step=0.5,
                         size_threshold=0.05),
        },
        compute=_frequency_compute,
        plot=_frequency_plot,
    )
)


# ---------------------------------------------------------------------------------------------
# Fig. 3: cumulative cascade-size distributions near the two boundaries
# ---------------------------------------------------------------------------------------------


def _sizes_compute(p, gen, progress):
    zs = [p["z_lower"], p["z_upper"]]
    gens = spawn(gen, 2)

    def one(i, zi):
        return _ensemble(p["n"], zi, p["phi"], p["runs"], gens[i], n_seeds=1)

    res, complete = run_points(one, zs, progress=progress, desc="watts-size-distributions")
    sizes = np.full((2, p["runs"]), np.nan)
    for i, r in enumerate(res):
        if r is not None:
            sizes[i] = np.round(r * p["n"])
    model = FractionalThreshold(p["phi"])
    prob = [global_cascade_probability(model, Poisson(z)).probability for z in zs]
    return xr.Dataset(
        {
            "size": (("z", "run"), sizes, {"long_name": "final cascade size", "units": "nodes"}),
            "theory_probability": ("z", np.array(prob), {"long_name": "analytic global cascade probability"}),
        },
        coords={"z": np.array(zs), "run": np.arange(p["runs"])},
        attrs={"complete": int(complete)},
    )


def _sizes_plot(ds):
    prm = _params(ds)
    fig, axes = subplots(1, 2, figsize=(10, 4.2))
    labels = ["(a) near the lower boundary", "(b) near the upper boundary"]
    for ax, z, lab in zip(axes, ds.z.values, labels, strict=True):
        s = ds["size"].sel(z=z).values
        s = np.sort(s[np.isfinite(s)])
        if s.size:
            ccdf = 1.0 - np.arange(s.size) / s.size  # P(S >= s_i)
            ax.step(s, ccdf, where="post", color="C0", label="simulation")
        if lab.startswith("(a)") and s.size:
            x = np.geomspace(1, prm["n"], 50)
            ax.plot(x, x**-0.5, ":", color="grey", label=r"$\propto s^{-1/2}$ (density $s^{-3/2}$)")
        pg = float(ds.theory_probability.sel(z=z))
        ax.axhline(pg, color="C3", ls="--", lw=1, label=f"analytic P(global) = {pg:.3f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cascade size s (number of active nodes, seed included)")
        ax.set_ylabel(r"cumulative distribution $P(S \geq s)$")
        ax.set_title(f"{lab}: z = {z:g}", fontsize=10)
        ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(rf"$\phi$ = {prm['phi']}, n = {prm['n']}, {prm['runs']} single-seed runs per panel",
                 fontsize=10)
    return fig


register(
    Recipe(
        name="watts-size-distributions",
        number=3,
        title="cumulative cascade-size distributions near the lower and upper boundary",
        source="Watts 2002, PNAS 99, 5766, Fig. 3",
        params={
            "quick": dict(n=1000, runs=200, phi=0.18, z_lower=1.05, z_upper=5.6),
            "full": dict(n=10_000, runs=10_000, phi=0.18, z_lower=1.05, z_upper=5.6),
        },
        compute=_sizes_compute,
        plot=_sizes_plot,
    )
)


# ---------------------------------------------------------------------------------------------
# Gleeson & Cahalane (2007): final size vs z for several seed fractions
# ---------------------------------------------------------------------------------------------


def _gleeson_compute(p, gen, progress):
    z = np.arange(p["z_min"], p["z_max"] + 1e-9, p["z_step"])
    seeds = np.array(p["seed_fractions"])
    zt = np.linspace(p["z_min"], p["z_max"], 400)
    model = FractionalThreshold(p["phi"])
    theory = np.array([[final_size(model, Poisson(x), r0).rho for x in zt] for r0 in seeds])
    points = [(r0, zi) for r0 in seeds for zi in z]
    gens = spawn(gen, len(points))

    def one(i, pt):
        f = _ensemble(p["n"], pt[1], p["phi"], p["runs"], gens[i], seed_fraction=pt[0])
        return f

    res, complete = run_points(one, points, progress=progress, desc="gleeson-cahalane")
    runs = nan_fill(res, (p["runs"],)).reshape(seeds.size, z.size, p["runs"])
    return xr.Dataset(
        {
            "final_fraction": (("seed_fraction", "z", "run"), runs, {"long_name": "simulated final size"}),
            "theory": (("seed_fraction", "z_theory"), theory, {"long_name": "LTA final size rho"}),
        },
        coords={"seed_fraction": seeds, "z": z, "z_theory": zt, "run": np.arange(p["runs"])},
        attrs={"complete": int(complete)},
    )


def _gleeson_plot(ds):
    prm = _params(ds)
    fig, ax = subplots(figsize=(7.0, 5.2))
    markers = "osd^v"
    for i, r0 in enumerate(ds.seed_fraction.values):
        col = f"C{i}"
        ax.plot(ds.z_theory.values, ds.theory.sel(seed_fraction=r0).values, "-", color=col,
                label=rf"LTA, $\rho_0$ = {r0:g}")
        f = ds.final_fraction.sel(seed_fraction=r0).values
        cnt = np.sum(np.isfinite(f), axis=1)
        mean = np.nanmean(np.where(cnt[:, None] > 0, f, 0.0), axis=1)
        mean[cnt == 0] = np.nan
        ax.plot(ds.z.values, mean, markers[i % len(markers)], mfc="none", color=col, ms=5,
                label=rf"simulation, $\rho_0$ = {r0:g}")
    ax.set_xlabel(r"mean degree $z$ (Erdos-Renyi)")
    ax.set_ylabel(r"final active fraction $\rho$ (seeds included)")
    ax.set_title(
        rf"$\phi$ = {prm['phi']}, n = {prm['n']}, mean of {prm['runs']} runs per point", fontsize=10
    )
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    return fig


register(
    Recipe(
        name="gleeson-cahalane",
        number=4,
        title="final cascade size vs mean degree for several seed fractions, LTA vs simulation",
        source="Gleeson & Cahalane 2007, PRE 75, 056103 (figure number unverified)",
        params={
            "quick": dict(n=5000, runs=2, phi=0.18, seed_fractions=[1e-3, 5e-3, 1e-2], z_min=0.5,
                          z_max=12.0, z_step=1.5),
            "full": dict(n=100_000, runs=10, phi=0.18, seed_fractions=[1e-3, 5e-3, 1e-2], z_min=0.5,
                         z_max=12.0, z_step=0.5),
        },
        compute=_gleeson_compute,
        plot=_gleeson_plot,
    )
)
