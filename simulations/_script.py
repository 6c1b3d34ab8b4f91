"""What every campaign script in this folder shares: its parameters, ``run`` and the command line.

A script is thin: it names a campaign of :mod:`cascades.campaigns` (where its grid, per-realization
function, root seed and theory are defined once) and gets from :func:`campaign_script` the
``PARAMETERS`` it publishes, a ``run`` function and a ``main`` command line.
"""

from __future__ import annotations

import argparse
import os

from cascades import campaigns

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "simulations", "results")


def campaign_script(name: str, description: str):
    """``(PARAMETERS, run, main)`` of the campaign script for the campaign ``name``."""
    campaign = campaigns.get_campaign(name)
    #: Parameters of the full campaign, root seed included (the source of truth is cascades.campaigns).
    parameters = {
        "campaign": name,
        "grid": {k: list(v) for k, v in campaign.grid.items()},
        "n_realizations": campaign.n_realizations,
        "seed": campaign.seed,
        **campaign.parameters,
    }

    def run(quick=False, rng=None, backend="processes", out=None, workers=None, progress=True):
        """Run the campaign (see cascades.campaigns.run_campaign) and return its xarray.Dataset."""
        if out is None:
            out = os.path.join(RESULTS, name + ("-quick" if quick else ""))
        return campaigns.run_campaign(
            name, quick=quick, rng=rng, backend=backend, out=out, workers=workers, progress=progress
        )

    def main(argv=None):
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--scheduler", default=None, help="Dask scheduler address (default: local)")
        parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: all)")
        parser.add_argument("--out", default=None, help="results directory (default: simulations/results/)")
        parser.add_argument("--quick", action="store_true", help="the small variant")
        parser.add_argument("--seed", type=int, default=None, help="root seed (default: the campaign's)")
        args = parser.parse_args(argv)
        backend = args.scheduler or "processes"
        ds = run(quick=args.quick, rng=args.seed, backend=backend, out=args.out, workers=args.workers)
        print(ds)

    return parameters, run, main
