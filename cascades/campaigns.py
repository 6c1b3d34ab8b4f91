"""Simulation campaigns: the paper figures' parameter sweeps, with their theory attached.

A campaign is a per-realization function (module level, so it can be sent to
worker processes and Dask workers), a parameter grid, a number of realizations,
a root seed, and the analytic curves of :mod:`cascades.meanfield` for the same
grid. :func:`run_campaign` runs it with :func:`cascades.sweeps.sweep` (locally
or on a Dask cluster, resumable) and returns one self-contained
:class:`xarray.Dataset`: the simulations, the theory as separate variables,
and the parameters, seed and package version as attributes.

Campaigns (:func:`list_campaigns`; each also has a ``quick`` variant with a
small graph and grid, which the tests run):

``"watts-window"``
    Watts (2002), Fig. 1: single-seed cascades of the fractional threshold
    model on a fresh Erdos-Renyi graph with n = 10^4 per run, 100 runs per
    point of a (phi, z) grid. Theory: Watts' cascade condition C1 > 1 (the
    window) and the probability that one seed triggers a global cascade
    (:func:`cascades.meanfield.global_cascade_probability`).
``"gleeson-cahalane"``
    Gleeson & Cahalane (2007): the final active fraction rho against z for
    phi = 0.18 and seed fractions 1e-3, 5e-3 and 1e-2 on Erdos-Renyi graphs
    with n = 10^5, 10 realizations per point. Theory: the local tree
    approximation (:func:`cascades.meanfield.final_size`).

The command line runs them too: ``cascades sweep watts-window --workers 2``,
``cascades sweep gleeson-cahalane --scheduler tcp://host:8786``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .degrees import Poisson
from .graphs import erdos_renyi
from .meanfield import cascade_window, final_size, global_cascade_probability
from .models import FractionalThreshold
from .simulation import simulate
from .sweeps import save_netcdf, sweep

__all__ = [
    "Campaign",
    "list_campaigns",
    "get_campaign",
    "run_campaign",
    "watts_realization",
    "gleeson_cahalane_realization",
]

#: Final fraction above which a single-seed cascade counts as global in the
#: "watts-window" campaign (as :func:`cascades.simulation.global_cascade_frequency`).
#: Watts' own cut-off for Fig. 1 is not restated here (unverified).
GLOBAL_THRESHOLD = 0.05


@dataclass(frozen=True)
class Campaign:
    """A parameter sweep of the package with its theory (see the module docstring).

    Attributes
    ----------
    name : str
        Registry name (``"watts-window"``); the quick variant has the same name.
    quick : bool
        Whether this is the small variant.
    description : str
        One line: what is simulated and which figure it reproduces.
    function : callable
        The per-realization function ``function(**point, rng=...)`` (a
        :func:`functools.partial` of a module-level function, fixed
        parameters bound).
    grid : mapping
        Parameter name -> tuple of values.
    n_realizations : int
        Realizations per grid point.
    seed : int
        Default root seed.
    parameters : mapping
        The fixed parameters (n, phi, ...), stored as attributes of the result.
    theory : callable
        ``theory(campaign) -> {name: (dims, array)}``, the analytic variables.
    reference : str
        The paper (and figure) reproduced.
    """

    name: str
    quick: bool
    description: str
    function: Callable
    grid: Mapping
    n_realizations: int
    seed: int
    parameters: Mapping = field(default_factory=dict)
    theory: Callable | None = None
    reference: str = ""

    @property
    def n_runs(self) -> int:
        """Total number of realizations (grid points x realizations)."""
        return int(np.prod([len(v) for v in self.grid.values()])) * self.n_realizations


# ---------------------------------------------------------------------------
# per-realization functions (module level: picklable for worker processes)
# ---------------------------------------------------------------------------


def watts_realization(phi, z, *, n, size_threshold=GLOBAL_THRESHOLD, rng):
    """One single-seed cascade of Watts' model on a fresh Erdos-Renyi graph.

    Draws G(n, p = z / (n - 1)) and one uniformly random seed node from
    ``rng`` (in that order) and runs the fractional threshold model with
    threshold ``phi`` (rule m / k >= phi, Watts 2002).

    Returns
    -------
    dict
        ``fraction`` (float, the final active fraction, seed included) and
        ``global_cascade`` (bool, ``fraction > size_threshold``).

    Examples
    --------
    >>> r = watts_realization(0.18, 4.0, n=2000, rng=0)
    >>> sorted(r), 1 / 2000 <= r["fraction"] <= 1
    (['fraction', 'global_cascade'], True)
    """
    graph = erdos_renyi(n, z, rng=rng)
    result = simulate(graph, FractionalThreshold(phi), n_seeds=1, rng=rng)
    fraction = result.final_fraction
    return {"fraction": fraction, "global_cascade": fraction > size_threshold}


def gleeson_cahalane_realization(seed_fraction, z, *, n, phi, rng):
    """Final active fraction of Watts' model from a random seed fraction, on a fresh Erdos-Renyi graph.

    Draws G(n, p = z / (n - 1)) and a uniformly random seed set of
    round(seed_fraction * n) nodes from ``rng`` (in that order).

    Returns
    -------
    dict
        ``rho`` (float): the final active fraction, seeds included.

    Examples
    --------
    >>> r = gleeson_cahalane_realization(0.01, 4.0, n=2000, phi=0.18, rng=0)
    >>> 0.01 <= r["rho"] <= 1
    True
    """
    graph = erdos_renyi(n, z, rng=rng)
    result = simulate(graph, FractionalThreshold(phi), seed_fraction=seed_fraction, rng=rng)
    return {"rho": result.final_fraction}


# ---------------------------------------------------------------------------
# theory for the grids
# ---------------------------------------------------------------------------


def _watts_theory(campaign: Campaign) -> dict:
    phi = np.asarray(campaign.grid["phi"], dtype=np.float64)
    z = np.asarray(campaign.grid["z"], dtype=np.float64)
    window = cascade_window(z, phi)  # arrays (z, phi)
    prob = np.array(
        [[global_cascade_probability(FractionalThreshold(p), Poisson(x)).probability for x in z] for p in phi]
    )
    return {
        "theory_c1": (("phi", "z"), np.ascontiguousarray(window.c1.T)),
        "theory_window": (("phi", "z"), np.ascontiguousarray(window.cascades.T)),
        "theory_global_probability": (("phi", "z"), prob),
    }


def _gleeson_theory(campaign: Campaign) -> dict:
    model = FractionalThreshold(campaign.parameters["phi"])
    rho = np.array(
        [
            [final_size(model, Poisson(z), rho0).rho for z in campaign.grid["z"]]
            for rho0 in campaign.grid["seed_fraction"]
        ]
    )
    return {"theory_rho": (("seed_fraction", "z"), rho)}


def _watts(quick: bool) -> Campaign:
    if quick:
        n, grid, runs = 1000, {"phi": (0.12, 0.18, 0.24), "z": (2.0, 4.0, 8.0)}, 8
    else:
        phi = tuple(np.round(np.arange(0.08, 0.261, 0.02), 4).tolist())
        z = tuple(np.arange(1.0, 16.01, 0.5).tolist())
        n, grid, runs = 10**4, {"phi": phi, "z": z}, 100
    return Campaign(
        name="watts-window",
        quick=quick,
        description=f"Watts 2002 Fig. 1: single-seed cascades on fresh ER graphs, n = {n}, over (phi, z)",
        function=functools.partial(watts_realization, n=n, size_threshold=GLOBAL_THRESHOLD),
        grid=grid,
        n_realizations=runs,
        seed=20020430,
        parameters={"n": n, "size_threshold": GLOBAL_THRESHOLD, "seeds": "one random node"},
        theory=_watts_theory,
        reference="D. J. Watts, PNAS 99, 5766 (2002), Fig. 1",
    )


def _gleeson(quick: bool) -> Campaign:
    if quick:
        n, z, runs = 2000, (2.0, 4.0, 6.0, 8.0), 2
    else:
        n, z, runs = 10**5, tuple(np.arange(1.0, 12.01, 0.5).tolist()), 10
    return Campaign(
        name="gleeson-cahalane",
        quick=quick,
        description=f"Gleeson & Cahalane 2007: rho vs z, phi = 0.18, three seed fractions, ER n = {n}",
        function=functools.partial(gleeson_cahalane_realization, n=n, phi=0.18),
        grid={"seed_fraction": (1e-3, 5e-3, 1e-2), "z": z},
        n_realizations=runs,
        seed=20070503,
        parameters={"n": n, "phi": 0.18},
        theory=_gleeson_theory,
        reference="J. P. Gleeson and D. J. Cahalane, Phys. Rev. E 75, 056103 (2007), rho vs z (figure "
        "number unverified)",
    )


_REGISTRY = {"watts-window": _watts, "gleeson-cahalane": _gleeson}


def list_campaigns() -> tuple:
    """Names of the registered campaigns.

    >>> list_campaigns()
    ('gleeson-cahalane', 'watts-window')
    """
    return tuple(sorted(_REGISTRY))


def get_campaign(name: str, *, quick: bool = False) -> Campaign:
    """The campaign ``name`` (its small variant with ``quick=True``).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ones).

    Examples
    --------
    >>> c = get_campaign("watts-window", quick=True)
    >>> c.n_runs, c.parameters["n"]
    (72, 1000)
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown campaign {name!r}; known: {', '.join(list_campaigns())}")
    return _REGISTRY[name](bool(quick))


def run_campaign(
    campaign,
    *,
    quick=False,
    rng=None,
    backend="processes",
    out=None,
    workers=None,
    chunk_size=None,
    progress=True,
):
    """Run a campaign with :func:`~cascades.sweeps.sweep` and attach its theory.

    Parameters
    ----------
    campaign : str or Campaign
        A registered name (:func:`list_campaigns`) or a :class:`Campaign`.
    quick : bool
        With a name: run the small variant.
    rng : None, int, Generator or SeedSequence
        Root seed; None (default) uses the campaign's ``seed``, so two runs of
        a campaign give the same numbers.
    backend, out, workers, chunk_size, progress
        As in :func:`~cascades.sweeps.sweep`. With ``out`` (a directory), the
        sweep is resumable and the dataset is also saved as
        ``out/<name>.nc`` (``<name>-quick.nc`` for the quick variant).

    Returns
    -------
    xarray.Dataset
        The sweep's variables (dims: grid names, ``realization``), the
        theory variables ``theory_*`` on the grid dims, and the attributes of
        the sweep plus ``campaign``, ``description``, ``reference`` and the
        fixed parameters (prefixed ``param_``).

    Examples
    --------
    >>> ds = run_campaign("gleeson-cahalane", quick=True, backend="serial", progress=False)
    >>> ds["rho"].dims, ds["theory_rho"].dims
    (('seed_fraction', 'z', 'realization'), ('seed_fraction', 'z'))
    >>> bool(((ds["rho"] >= 0) & (ds["rho"] <= 1)).all())
    True
    """
    if isinstance(campaign, str):
        campaign = get_campaign(campaign, quick=quick)
    if not isinstance(campaign, Campaign):
        raise TypeError(f"campaign must be a name or a Campaign, got {type(campaign).__name__}")
    attrs = {
        "campaign": campaign.name + ("-quick" if campaign.quick else ""),
        "description": campaign.description,
        "reference": campaign.reference,
    }
    attrs.update({f"param_{k}": v for k, v in campaign.parameters.items()})
    ds = sweep(
        campaign.function,
        campaign.grid,
        campaign.n_realizations,
        rng=campaign.seed if rng is None else rng,
        backend=backend,
        out=out,
        chunk_size=chunk_size,
        workers=workers,
        progress=progress,
        attrs=attrs,
    )
    if campaign.theory is not None:
        for name, (dims, values) in campaign.theory(campaign).items():
            ds[name] = (dims, values)
    if out is not None:
        save_netcdf(ds, os.path.join(os.fspath(out), attrs["campaign"] + ".nc"))
    return ds
