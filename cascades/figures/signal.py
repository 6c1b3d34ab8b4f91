"""Recipes for signal propagation in random networks: Poole et al. (2016), Schoenholz et al.
(2017) and sparse Erdos-Renyi masks (Gadhikar, Mukherjee & Burkholz 2023), mean-field theory against the numpy
network simulator :func:`cascades.nn.simulate_network`.

Conventions: weights W_ij ~ N(0, sigma_w^2 / n_in), biases ~ N(0, sigma_b^2). Poole et al. plot
*standard deviations* sigma_w, sigma_b (the phase diagram's axes here too); Schoenholz et al. and
everything else here use *variances* sigma_w^2, sigma_b^2; every axis label says which. q^l is the
mean squared pre-activation of layer l (q^0 the mean squared input entry, for which the first
layer is linear: q^1 = sigma_w^2 q^0 + sigma_b^2), c^l the correlation of two inputs'
pre-activations.

Full scale: ``poole-phase-diagram`` computes chi_1 and c* on Poole's 41 x 41 grid (sigma_b in
[0, 4], sigma_w in [1, 5]) and simulates width-1000 networks (the maps, and c^L after 30 layers on a
5 x 5 sub-grid); the sigma_w values of the map panels (1, 2, 3, 4 at sigma_b = 0.3) are chosen here.
``schoenholz-depth-scales`` uses sigma_b^2 = 0.05 and 8 networks of width 1000 and depth 30 per
simulated sigma_w^2; its xi_q markers are fitted to the linear response of q^l to first-layer
lengths q*(1 +- 0.05) in the same networks. ``sparse-signal-propagation`` uses width 300, depth 10,
6 networks per point.
"""

from __future__ import annotations

import json
import math

import numpy as np
import xarray as xr

from .._rng import spawn
from ..nn import (
    c_fixed_point,
    c_map,
    c_trajectory,
    critical_weight_variance,
    depth_scales,
    gaussian_inputs,
    phase_diagram,
    q_fixed_point,
    q_map,
    q_trajectory,
    simulate_network,
    sparse_signal_propagation,
)
from ._base import Recipe, nan_fill, register, run_points, subplots

__all__: list[str] = []




def _params(ds):
    return json.loads(ds.attrs["parameters"])


def _q0_for(q1, sw2, sb2):
    """Input length q^0 whose linear first layer gives pre-activations of length q1."""
    return max((q1 - sb2) / sw2, 1e-12)


# ---------------------------------------------------------------------------------------------
# Poole et al. (2016), Figs. 1-2: q-map, c-map, phase diagram
# ---------------------------------------------------------------------------------------------


def _poole_compute(p, gen, progress):
    act = p["activation"]
    sws = np.array(p["map_sigma_w"])
    sb = p["map_sigma_b"]
    sb2 = sb**2
    qg = np.linspace(0.0, p["q_max"], 200)
    cg = np.linspace(-1.0, 1.0, 101)
    qmap = np.array([q_map(act, s**2, sb2, qg) for s in sws])
    qstar = np.array([float(q_fixed_point(act, s**2, sb2)) for s in sws])
    cmap_ = np.array([c_map(act, s**2, sb2, cg) for s in sws])
    pd = phase_diagram(act, np.linspace(1, 5, p["grid"]), np.linspace(0, 4, p["grid"]))
    gw = np.linspace(1, 5, p["sim_grid"])
    gb = np.linspace(0, 4, p["sim_grid"])
    width, depth = p["width"], p["map_depth"]
    jobs = [("q", i, q1) for i in range(sws.size) for q1 in p["q_starts"]]
    jobs += [("c", i, c0) for i in range(sws.size) for c0 in p["c_starts"]]
    jobs += [("pd", i, j) for i in range(gw.size) for j in range(gb.size)]
    gens = spawn(gen, len(jobs))

    def one(t, job):
        kind, i, x = job
        if kind == "pd":
            sw2, sbb2 = gw[i] ** 2, gb[x] ** 2
            qs = float(q_fixed_point(act, sw2, sbb2))
            sim = simulate_network(act, sw2, sbb2, [width] * (p["pd_depth"] + 1),
                                   q0=_q0_for(qs, sw2, sbb2), c0=p["pd_c0"], rng=gens[t])
            return np.array([sim.c[-1]])
        sw2 = sws[i] ** 2
        if kind == "q":
            sim = simulate_network(act, sw2, sb2, [width] * (depth + 1), q0=_q0_for(x, sw2, sb2),
                                   n_inputs=1, rng=gens[t])
            return sim.q[1:, 0]
        sim = simulate_network(act, sw2, sb2, [width] * (p["c_depth"] + 1),
                               q0=_q0_for(qstar[i], sw2, sb2), c0=x, rng=gens[t])
        return sim.c[1:]

    res, complete = run_points(one, jobs, progress=progress, desc="poole-phase-diagram")
    nq, nc = sws.size * len(p["q_starts"]), sws.size * len(p["c_starts"])
    qsim = nan_fill(res[:nq], (depth,)).reshape(sws.size, len(p["q_starts"]), depth)
    csim = nan_fill(res[nq : nq + nc], (p["c_depth"],)).reshape(sws.size, len(p["c_starts"]), p["c_depth"])
    pdsim = nan_fill(res[nq + nc :], (1,)).reshape(gw.size, gb.size)
    return xr.Dataset(
        {
            "q_map": (("sigma_w_map", "q_in"), qmap, {"long_name": "length map q^l(q^{l-1})"}),
            "q_star": ("sigma_w_map", qstar),
            "c_map": (("sigma_w_map", "c_in"), cmap_, {"long_name": "correlation map at q*"}),
            "sim_q": (("sigma_w_map", "q_start", "layer"), qsim, {"long_name": "simulated q^l"}),
            "sim_c": (("sigma_w_map", "c_start", "c_layer"), csim, {"long_name": "simulated c^l"}),
            "chi1": (("sigma_w", "sigma_b"), pd.chi1),
            "c_star": (("sigma_w", "sigma_b"), pd.c_star),
            "sim_c_deep": (("sigma_w_sim", "sigma_b_sim"), pdsim,
                           {"long_name": "simulated c^L after pd_depth layers"}),
        },
        coords={
            "sigma_w_map": sws, "q_in": qg, "c_in": cg, "q_start": np.array(p["q_starts"]),
            "c_start": np.array(p["c_starts"]), "layer": np.arange(1, depth + 1),
            "c_layer": np.arange(1, p["c_depth"] + 1), "sigma_w": pd.sigma_w, "sigma_b": pd.sigma_b,
            "sigma_w_sim": gw, "sigma_b_sim": gb,
        },
        attrs={"complete": int(complete), "axes_units": "standard deviations sigma_w, sigma_b"},
    )


def _poole_plot(ds):
    from matplotlib.colors import LogNorm

    prm = _params(ds)
    fig, axes = subplots(2, 3, figsize=(15, 8.8))
    ax = axes[0, 0]
    qg = ds.q_in.values
    for i, s in enumerate(ds.sigma_w_map.values):
        col = f"C{i}"
        ax.plot(qg, ds.q_map.values[i], color=col, label=rf"$\sigma_w$ = {s:g}")
        q = ds.sim_q.values[i]  # (starts, layers): pairs (q^{l-1}, q^l)
        ax.plot(q[:, :-1].ravel(), q[:, 1:].ravel(), "o", color=col, ms=3, mfc="none")
    ax.plot(qg, qg, ":", color="grey", lw=1, label="identity")
    ax.plot([], [], "o", color="k", mfc="none", ms=3, label=f"simulation, width {prm['width']}")
    ax.set_xlim(0, qg[-1])
    ax.set_ylim(0, qg[-1])
    ax.set_xlabel(r"$q^{l-1}$ (mean squared pre-activation)")
    ax.set_ylabel(r"$q^{l}$")
    ax.set_title(rf"(a) length map, {prm['activation']}, $\sigma_b$ = {prm['map_sigma_b']:g}", fontsize=10)
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    cg = ds.c_in.values
    for i, s in enumerate(ds.sigma_w_map.values):
        col = f"C{i}"
        ax.plot(cg, ds.c_map.values[i], color=col, label=rf"$\sigma_w$ = {s:g}")
        c = ds.sim_c.values[i]
        ax.plot(c[:, :-1].ravel(), c[:, 1:].ravel(), "o", color=col, ms=3, mfc="none")
    ax.plot(cg, cg, ":", color="grey", lw=1)
    ax.set_xlabel(r"$c^{l-1}$ (correlation of two inputs' pre-activations)")
    ax.set_ylabel(r"$c^{l}$")
    ax.set_title(r"(b) correlation map at $q^*$ (dots: simulation)", fontsize=10)
    ax.legend(fontsize=8)

    sb, sw = ds.sigma_b.values, ds.sigma_w.values
    ax = axes[0, 2]
    m = ax.pcolormesh(sb, sw, ds.chi1.values, shading="nearest", cmap="RdBu_r",
                      norm=LogNorm(vmin=0.1, vmax=10))
    fig.colorbar(m, ax=ax, label=r"$\chi_1$ (log scale)")
    ax.contour(sb, sw, ds.chi1.values, levels=[1.0], colors="k", linewidths=2)
    ax.text(0.3, 4.5, "chaotic", fontsize=10)
    ax.text(3.0, 1.3, "ordered", fontsize=10)
    ax.set_xlabel(r"$\sigma_b$ (bias standard deviation)")
    ax.set_ylabel(r"$\sigma_w$ (weight standard deviation $\times\sqrt{n_{in}}$)")
    ax.set_title(r"(c) $\chi_1$, black line $\chi_1 = 1$ (edge of chaos)", fontsize=10)

    ax = axes[1, 0]
    m = ax.pcolormesh(sb, sw, ds.c_star.values, shading="nearest", cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(m, ax=ax, label=r"$c^*$ (theory)")
    ax.contour(sb, sw, ds.chi1.values, levels=[1.0], colors="w", linewidths=1.5)
    B, W = np.meshgrid(ds.sigma_b_sim.values, ds.sigma_w_sim.values)
    ax.plot(B.ravel(), W.ravel(), "+", color="k", ms=7, label="simulated points (panel e)")
    ax.set_xlabel(r"$\sigma_b$ (bias standard deviation)")
    ax.set_ylabel(r"$\sigma_w$ (weight standard deviation $\times\sqrt{n_{in}}$)")
    ax.set_title(r"(d) fixed point $c^*$ of the correlation map", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")

    ax = axes[1, 1]
    i_w = np.abs(sw[:, None] - ds.sigma_w_sim.values[None, :]).argmin(axis=0)
    i_b = np.abs(sb[:, None] - ds.sigma_b_sim.values[None, :]).argmin(axis=0)
    c_th = ds.c_star.values[np.ix_(i_w, i_b)].ravel()
    chi = ds.chi1.values[np.ix_(i_w, i_b)].ravel()
    sc = ax.scatter(c_th, ds.sim_c_deep.values.ravel(), c=chi, cmap="RdBu_r",
                    norm=LogNorm(vmin=0.1, vmax=10), edgecolors="k", linewidths=0.5, s=40)
    fig.colorbar(sc, ax=ax, label=r"$\chi_1$ at the point")
    ax.plot([-0.05, 1.05], [-0.05, 1.05], ":", color="grey")
    ax.set_xlabel(r"$c^*$ (theory)")
    ax.set_ylabel(rf"simulated $c^L$, L = {prm['pd_depth']}, width {prm['width']}")
    ax.set_title("(e) simulation against theory on the grid points of (d)", fontsize=10)
    axes[1, 2].axis("off")
    axes[1, 2].text(
        0.0, 0.95,
        "Axes are standard deviations (Poole et al.):\n"
        r"$W_{ij} \sim N(0, \sigma_w^2 / n_{in})$, $b_i \sim N(0, \sigma_b^2)$." "\n\n"
        "(e): points off the diagonal lie near the\n"
        r"edge of chaos ($\chi_1 \approx 1$), where $c^l$ converges" "\n"
        "only over a diverging depth scale.",
        va="top", fontsize=9, transform=axes[1, 2].transAxes,
    )
    return fig


register(
    Recipe(
        name="poole-phase-diagram",
        number=6,
        title="q-map, c-map and the chi_1 order-to-chaos phase diagram for tanh",
        source="Poole et al. 2016, NeurIPS, Figs. 1-2",
        params={
            "quick": dict(activation="tanh", map_sigma_w=[1.0, 2.5, 4.0], map_sigma_b=0.3, q_max=15.0,
                          q_starts=[1.0, 12.0], c_starts=[0.1, 0.9], map_depth=4, c_depth=3, width=200,
                          grid=11, sim_grid=3, pd_depth=6, pd_c0=0.5),
            "full": dict(activation="tanh", map_sigma_w=[1.0, 2.0, 3.0, 4.0], map_sigma_b=0.3, q_max=15.0,
                         q_starts=[0.5, 4.0, 14.0], c_starts=[0.0, 0.4, 0.8, 0.95], map_depth=8, c_depth=4,
                         width=1000, grid=41, sim_grid=5, pd_depth=30, pd_c0=0.5),
        },
        compute=_poole_compute,
        plot=_poole_plot,
    )
)


# ---------------------------------------------------------------------------------------------
# Schoenholz et al. (2017): depth scales xi_q, xi_c at sigma_b^2 = 0.05
# ---------------------------------------------------------------------------------------------


def _fit_depth_scale(dev, lo, hi, window=None):
    """-1 / slope of log(dev) against the layer index, over the entries with lo <= window <= hi.

    ``window`` (default ``dev``) selects the layers; the figure passes the mean-field deviation,
    so that the fitting window is chosen without looking at the noisy simulated values.
    """
    layers = np.arange(dev.size)
    w = dev if window is None else np.asarray(window)
    ok = np.isfinite(dev) & (dev > 0) & (w >= lo) & (w <= hi)
    if ok.sum() < 3:
        return math.nan
    slope = np.polyfit(layers[ok], np.log(dev[ok]), 1)[0]
    return -1.0 / slope if slope < 0 else math.nan


def _fit_xi_q_response(response, xi_q_theory, floor):
    """xi_q fitted to the simulated linear response of the length, ``response`` (networks, layers).

    ``response[r, l - 1]`` = (q_+^l - q_-^l) / (2 eps q*) in network r, for two inputs of the same
    direction whose first-layer lengths are q*(1 + eps) and q*(1 - eps). Near q* the q-map is
    linear, so the mean-field response is chi_q^(l - 1), geometric from the first layer on; the
    fit (-1 / slope of the log of the mean over networks) uses the layers where that mean-field
    value is >= ``floor`` (one decade for floor = 0.1): below it the finite-width noise, which
    grows relative to the signal with depth, would dominate.
    """
    chi_q = math.exp(-1.0 / xi_q_theory) if xi_q_theory > 0 else math.nan
    mean = np.nanmean(response, axis=0)
    window = chi_q ** np.arange(mean.size)
    return _fit_depth_scale(mean, floor, np.inf, window=window)


def _schoenholz_compute(p, gen, progress):
    act, sb2 = p["activation"], p["sigma_b2"]
    swt = np.linspace(p["sw2_min"], p["sw2_max"], 241)
    ds_t = depth_scales(act, swt, sb2)
    crit = float(critical_weight_variance(act, sb2))
    sws = np.array(p["sim_sigma_w2"])
    width, depth, R = p["width"], p["depth"], p["networks"]
    qstar = np.array([float(q_fixed_point(act, s, sb2)) for s in sws])
    cstar = np.array([float(c_fixed_point(act, s, sb2)) for s in sws])
    c0 = np.where(cstar < 1 - 1e-9, p["c0_chaotic"], p["c0_ordered"])
    jobs = [(i, r) for i in range(sws.size) for r in range(R)]
    gens = spawn(gen, len(jobs))

    def one(t, job):
        i, _ = job
        s = sws[i]
        g = gens[t]
        sim_c = simulate_network(act, s, sb2, [width] * (depth + 1), q0=_q0_for(qstar[i], s, sb2),
                                 c0=float(c0[i]), rng=g)
        # one input at q^1 = q1_factor q*, and two of the same direction at q^1 = q*(1 +- eps) for
        # the linear response that xi_q is fitted to (drawn as simulate_network would draw one input)
        q0 = _q0_for(p["q1_factor"] * qstar[i], s, sb2)
        x = gaussian_inputs(1, width, q0=q0, rng=g)[0]
        eps = p["response_eps"]
        pair = [math.sqrt(_q0_for(qstar[i] * (1 + e), s, sb2) / q0) * x for e in (eps, -eps)]
        sim_q = simulate_network(act, s, sb2, [width] * (depth + 1), inputs=np.stack([x, *pair]), rng=g)
        response = (sim_q.q[1:, 1] - sim_q.q[1:, 2]) / (2 * eps * qstar[i])
        return np.stack([sim_c.c[1:], sim_q.q[1:, 0], response])

    res, complete = run_points(one, jobs, progress=progress, desc="schoenholz-depth-scales")
    sims = nan_fill(res, (3, depth)).reshape(sws.size, R, 3, depth)
    th_c = np.array([_c_theory(act, s, sb2, qstar[i], c0[i], depth) for i, s in enumerate(sws)])
    th_q = np.array(
        [q_trajectory(act, s, sb2, p["q1_factor"] * qstar[i], depth - 1) for i, s in enumerate(sws)]
    )
    # xi_c fitted to the simulated mean deviations over the layers where the mean-field deviation
    # lies between a noise floor and fit_ceiling (near-linear regime; at least 3 layers).
    # Floors: 3 standard errors of the mean of R networks of width N, with the Gaussian-pair
    # sampling errors sd(c) ~ (1 - c*^2) / sqrt(N) and sd(q / q*) ~ sqrt(2 / N) (floor_q: the band
    # shaded in panel (c)); at least fit_floor.
    mean_c = np.nanmean(sims[:, :, 0], axis=1)
    floor_c = np.maximum(p["fit_floor"], 3 * (1 - cstar**2) / math.sqrt(width * R))
    floor_q = max(p["fit_floor"], 3 * math.sqrt(2.0 / (width * R)))
    xi_c_sim = np.array([
        _fit_depth_scale(np.abs(mean_c[i] - cstar[i]), floor_c[i], p["fit_ceiling"],
                         window=np.abs(th_c[i] - cstar[i]))
        for i in range(sws.size)
    ])
    # xi_q is fitted to the linear response, not to the decay from q1_factor q* of panel (c): with
    # xi_q < 2 that decay crosses floor_q within about three layers, before it is geometric (at
    # sigma_w^2 = 1.1 the mean-field curve itself fitted over those layers gives 1.69 against
    # xi_q = 1.80), and a fit to three noisy points gave 1.07 there.
    ds_s = depth_scales(act, sws, sb2)
    xi_q_sim = np.array([
        _fit_xi_q_response(sims[i, :, 2], float(ds_s.xi_q[i]), p["response_floor"]) for i in range(sws.size)
    ])
    return xr.Dataset(
        {
            "xi_q": ("sigma_w2", np.where(np.isfinite(ds_t.xi_q), ds_t.xi_q, np.nan),
                     {"long_name": "depth scale of q (theory)", "units": "layers"}),
            "xi_c": ("sigma_w2", np.where(np.isfinite(ds_t.xi_c), ds_t.xi_c, np.nan),
                     {"long_name": "depth scale of c (theory)", "units": "layers"}),
            "sim_c": (("sigma_w2_sim", "network", "layer"), sims[:, :, 0]),
            "sim_q": (("sigma_w2_sim", "network", "layer"), sims[:, :, 1]),
            "sim_q_response": (("sigma_w2_sim", "network", "layer"), sims[:, :, 2],
                               {"long_name": "(q_+^l - q_-^l) / (2 eps q*), q_+-^1 = q*(1 +- eps)"}),
            "theory_c": (("sigma_w2_sim", "layer"), th_c),
            "theory_q": (("sigma_w2_sim", "layer"), th_q),
            "q_star": ("sigma_w2_sim", qstar),
            "c_star": ("sigma_w2_sim", cstar),
            "fit_floor_c": ("sigma_w2_sim", floor_c),
            "fit_floor_q": ((), floor_q),
            "xi_c_theory_sim": ("sigma_w2_sim", np.asarray(ds_s.xi_c, dtype=float)),
            "xi_q_theory_sim": ("sigma_w2_sim", np.asarray(ds_s.xi_q, dtype=float)),
            "xi_c_fit": ("sigma_w2_sim", xi_c_sim, {"long_name": "xi_c fitted to simulation"}),
            "xi_q_fit": ("sigma_w2_sim", xi_q_sim,
                         {"long_name": "xi_q fitted to the simulated linear response of q"}),
        },
        coords={"sigma_w2": swt, "sigma_w2_sim": sws, "network": np.arange(R),
                "layer": np.arange(1, depth + 1)},
        attrs={"complete": int(complete), "critical_sigma_w2": crit,
               "axes_units": "variances sigma_w^2, sigma_b^2"},
    )


def _c_theory(act, sw2, sb2, qs, c0, depth):
    """Mean-field c^1..c^depth for inputs whose first-layer pre-activations have length q*."""
    q0 = _q0_for(qs, sw2, sb2)
    c1 = (sw2 * q0 * c0 + sb2) / (sw2 * q0 + sb2)  # the linear first layer
    return c_trajectory(act, sw2, sb2, float(c1), depth - 1)


def _schoenholz_plot(ds):
    prm = _params(ds)
    fig, axes = subplots(1, 3, figsize=(14, 4.4))
    ax = axes[0]
    sw = ds.sigma_w2.values
    ax.plot(sw, ds.xi_q.values, "-", color="C0", label=r"$\xi_q$ theory")
    ax.plot(sw, ds.xi_c.values, "-", color="C3", label=r"$\xi_c$ theory")
    ax.plot(ds.sigma_w2_sim.values, ds.xi_q_fit.values, "o", color="C0", mfc="none",
            label=r"$\xi_q$ fitted to simulation (response to $q^1 = q^*(1 \pm \epsilon)$)")
    ax.plot(ds.sigma_w2_sim.values, ds.xi_c_fit.values, "s", color="C3", mfc="none",
            label=r"$\xi_c$ fitted to simulation")
    ax.axvline(ds.attrs["critical_sigma_w2"], color="grey", ls=":", label=r"edge of chaos ($\chi_1 = 1$)")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\sigma_w^2$ (weight variance $\times n_{in}$)")
    ax.set_ylabel("depth scale (layers)")
    ax.set_title(rf"(a) depth scales, {prm['activation']}, $\sigma_b^2$ = {prm['sigma_b2']}", fontsize=10)
    ax.legend(fontsize=8)
    layer = ds.layer.values
    for ax, var, star, lab in (
        (axes[1], "c", ds.c_star.values, r"$|c^l - c^*|$"),
        (axes[2], "q", ds.q_star.values, r"$|q^l / q^* - 1|$"),
    ):
        for i, s in enumerate(ds.sigma_w2_sim.values):
            col = f"C{i}"
            sim = np.nanmean(ds[f"sim_{var}"].values[i], axis=0)
            th = ds[f"theory_{var}"].values[i]
            if var == "c":
                dev_s, dev_t = np.abs(sim - star[i]), np.abs(th - star[i])
            else:
                dev_s, dev_t = np.abs(sim / star[i] - 1), np.abs(th / star[i] - 1)
            ax.plot(layer, dev_t, "-", color=col, label=rf"$\sigma_w^2$ = {s:g}")
            ax.plot(layer, dev_s, "o", color=col, ms=3, mfc="none")
        floors = ds[f"fit_floor_{var}"].values
        ax.axhspan(prm["fit_floor"] / 10, float(np.max(floors)), color="grey", alpha=0.15, lw=0)
        ax.set_yscale("log")
        ax.set_ylim(prm["fit_floor"] / 10, 2)
        ax.set_xlabel("layer l")
        ax.set_ylabel(lab)
        ax.legend(fontsize=7, ncol=2)
    axes[1].set_title(f"(b) correlation decay (lines: theory; dots: mean of {prm['networks']} networks, "
                      f"width {prm['width']})", fontsize=9)
    axes[2].set_title(r"(c) length decay from $q^1 = 3 q^*$ (grey: below the noise floor)", fontsize=9)
    return fig


register(
    Recipe(
        name="schoenholz-depth-scales",
        number=7,
        title="depth scales xi_q and xi_c vs sigma_w^2 at sigma_b^2 = 0.05, with simulated decay",
        source="Schoenholz et al. 2017, ICLR, Figs. 1-2 (figure numbers unverified)",
        params={
            "quick": dict(activation="tanh", sigma_b2=0.05, sw2_min=1.0, sw2_max=4.0,
                          sim_sigma_w2=[1.2, 3.0], width=150, depth=10, networks=2, c0_ordered=0.2,
                          c0_chaotic=0.0, q1_factor=3.0, fit_floor=0.01, fit_ceiling=0.3,
                          response_eps=0.05, response_floor=0.1),
            "full": dict(activation="tanh", sigma_b2=0.05, sw2_min=1.0, sw2_max=4.0,
                         sim_sigma_w2=[1.1, 1.3, 1.5, 2.2, 2.8, 3.6], width=1000, depth=30, networks=8,
                         c0_ordered=0.2, c0_chaotic=0.0, q1_factor=3.0, fit_floor=0.005,
                         fit_ceiling=0.3, response_eps=0.05, response_floor=0.1),
        },
        compute=_schoenholz_compute,
        plot=_schoenholz_plot,
    )
)


# ---------------------------------------------------------------------------------------------
# Sparse signal propagation: dead neurons and q^l for Erdos-Renyi masks
# ---------------------------------------------------------------------------------------------

_SCALINGS = ("dense", "layer", "neuron")


def _sparse_compute(p, gen, progress):
    act, sw2, sb2 = p["activation"], p["sigma_w2"], p["sigma_b2"]
    width, L, R = p["width"], p["depth"], p["networks"]
    widths = [width] * (L + 1)
    dens_dead = np.array(p["dead_densities"])
    dens_q = np.array(p["q_densities"])
    # theory: dead fraction (1 - p)^{n_in}; q^l from the finite fan-in closure of sparse_signal_propagation
    dens_t = np.geomspace(dens_dead.min(), dens_dead.max(), 200)
    dead_theory = (1.0 - dens_t) ** width
    q_theory = np.empty((dens_q.size, len(_SCALINGS), L))
    for i, d in enumerate(dens_q):
        for j, sc in enumerate(_SCALINGS):
            # "dense" scaling: the dense init sigma_w^2 / n_in on a sparse mask is the
            # per-layer scaling with p sigma_w^2
            w2, mode = (sw2 * d, "layer") if sc == "dense" else (sw2, sc)
            st = sparse_signal_propagation(act, w2, sb2, widths, float(d), scaling=mode, q0=p["q0"])
            q_theory[i, j] = [s.q_mean for s in st]
    q_dense = q_trajectory(act, sw2, sb2, sw2 * p["q0"] + sb2, L - 1)
    jobs = [("dead", i, r) for i in range(dens_dead.size) for r in range(R)]
    jobs += [("q", i, j, r) for i in range(dens_q.size) for j in range(len(_SCALINGS)) for r in range(R)]
    gens = spawn(gen, len(jobs))

    def one(t, job):
        if job[0] == "dead":
            d = float(dens_dead[job[1]])
            sim = simulate_network(act, sw2, sb2, widths, densities=d, n_inputs=1, rng=gens[t])
            return np.concatenate([sim.dead_fraction[1:], np.full(L, np.nan)])
        _, i, j, _ = job
        d, sc = float(dens_q[i]), _SCALINGS[j]
        w2, mode = (sw2 * d, "layer") if sc == "dense" else (sw2, sc)
        sim = simulate_network(act, w2, sb2, widths, densities=d, scaling=mode, q0=p["q0"],
                               n_inputs=p["inputs"], c0=0.0, rng=gens[t])
        return np.concatenate([sim.dead_fraction[1:], sim.q[1:].mean(axis=1)])

    res, complete = run_points(one, jobs, progress=progress, desc="sparse-signal-propagation")
    nd = dens_dead.size * R
    dead_sim = nan_fill(res[:nd], (2 * L,))[:, :L].reshape(dens_dead.size, R, L)
    q_sim = nan_fill(res[nd:], (2 * L,))[:, L:].reshape(dens_q.size, len(_SCALINGS), R, L)
    return xr.Dataset(
        {
            "dead_theory": ("density_theory", dead_theory, {"long_name": "(1 - p)^n_in"}),
            "dead_sim": (("density", "network", "layer"), dead_sim,
                         {"long_name": "fraction of neurons with in-degree 0"}),
            "q_theory": (("q_density", "scaling", "layer"), q_theory),
            "q_sim": (("q_density", "scaling", "network", "layer"), q_sim),
            "q_dense": ("layer", q_dense, {"long_name": "dense network length map"}),
        },
        coords={"density": dens_dead, "density_theory": dens_t, "q_density": dens_q,
                "scaling": list(_SCALINGS), "network": np.arange(R), "layer": np.arange(1, L + 1)},
        attrs={"complete": int(complete), "axes_units": "variances sigma_w^2, sigma_b^2"},
    )


def _sparse_plot(ds):
    prm = _params(ds)
    fig, axes = subplots(1, 2, figsize=(11, 4.4))
    ax = axes[0]
    d = ds.density.values
    ax.plot(ds.density_theory.values, ds.dead_theory.values, "-", color="C0",
            label=rf"theory $(1-p)^{{n_{{in}}}}$, $n_{{in}}$ = {prm['width']}")
    sim = ds.dead_sim.values.reshape(d.size, -1)
    n_neurons = np.sum(np.isfinite(sim), axis=1) * prm["width"]
    mean = np.nanmean(sim, axis=1)
    se = np.sqrt(np.maximum(mean * (1 - mean), 0) / np.maximum(n_neurons, 1))
    ax.errorbar(d, mean, yerr=se, fmt="o", mfc="none", color="C3", label="simulation (± 1 s.e.)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter

    ax.set_xticks(d, [f"{x:g}" for x in d])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("mask density p")
    ax.set_ylabel("fraction of dead neurons (in-degree 0)")
    ax.set_title(f"(a) dead neurons, {prm['networks']} networks x {prm['depth']} layers per point",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax = axes[1]
    layer = ds.layer.values
    ax.plot(layer, ds.q_dense.values, "k-", lw=2.5, alpha=0.3, label="dense network")
    styles = {"dense": ":", "layer": "-", "neuron": "--"}
    names = {"dense": r"dense init $\sigma_w^2/n_{in}$", "layer": r"layer $\sigma_w^2/(p\,n_{in})$",
             "neuron": r"neuron $\sigma_w^2/k_i$"}
    markers = {"dense": "v", "layer": "o", "neuron": "s"}
    for i, dq in enumerate(ds.q_density.values):
        col = f"C{i}"
        for sc in ds.scaling.values:
            ax.plot(layer, ds.q_theory.sel(q_density=dq, scaling=sc).values, styles[sc], color=col,
                    label=f"p = {dq:g}, {names[sc]}")
            ax.plot(layer, np.nanmean(ds.q_sim.sel(q_density=dq, scaling=sc).values, axis=0),
                    markers[sc], color=col, mfc="none", ms=4)
    ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("layer l")
    ax.set_ylabel(r"$q^l$ (mean squared pre-activation)")
    ax.set_title(rf"(b) {prm['activation']}, $\sigma_w^2$ = {prm['sigma_w2']}, $\sigma_b^2$ = "
                 rf"{prm['sigma_b2']}, width {prm['width']} (lines: theory, markers: simulation)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    return fig


register(
    Recipe(
        name="sparse-signal-propagation",
        number=8,
        title="dead-neuron fraction and q^l vs depth for Erdos-Renyi masks, three weight scalings",
        source="Gadhikar, Mukherjee & Burkholz 2023 (density-scaled init); Burkholz & Dubatovka 2019",
        params={
            "quick": dict(activation="tanh", sigma_w2=1.76, sigma_b2=0.05, width=100, depth=3, networks=2,
                          dead_densities=[0.01, 0.03, 0.1], q_densities=[0.05], q0=1.0, inputs=4),
            "full": dict(activation="tanh", sigma_w2=1.76, sigma_b2=0.05, width=300, depth=10, networks=6,
                         dead_densities=[0.002, 0.004, 0.007, 0.01, 0.015, 0.02, 0.03],
                         q_densities=[0.1, 0.02], q0=1.0, inputs=16),
        },
        compute=_sparse_compute,
        plot=_sparse_plot,
    )
)
