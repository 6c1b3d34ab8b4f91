"""Campaign 'gleeson-cahalane'.

Gleeson & Cahalane (2007): the final active fraction rho against the mean degree z for phi = 0.18
and seed fractions 1e-3, 5e-3 and 1e-2 on Erdos-Renyi graphs with n = 10^5 (10 realizations per
point), with the local tree approximation attached.

Thin: the grid, the per-realization function, the root seed and the theory are defined once, in
`cascades.campaigns`; this script only chooses where to run and where to write.

Usage (from the repository root)::

    python simulations/gleeson_cahalane.py                          # local processes, all cores
    python simulations/gleeson_cahalane.py --workers 2 --quick      # the small variant (seconds)
    python simulations/gleeson_cahalane.py --scheduler tcp://host:8786   # an existing Dask cluster

Results: `simulations/results/gleeson-cahalane/` (resumable chunks, `sweep.json`, and
`gleeson-cahalane.nc`, the dataset with its metadata). Run the same command again after an
interruption: it resumes.
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout without installing

from cascades import campaigns  # noqa: E402

NAME = "gleeson-cahalane"
_CAMPAIGN = campaigns.get_campaign(NAME)

#: Parameters of the full campaign, root seed included (the source of truth is cascades.campaigns).
PARAMETERS = {
    "campaign": NAME,
    "grid": {k: list(v) for k, v in _CAMPAIGN.grid.items()},
    "n_realizations": _CAMPAIGN.n_realizations,
    "seed": _CAMPAIGN.seed,
    **_CAMPAIGN.parameters,
}

RESULTS = os.path.join(ROOT, "simulations", "results")


def run(quick=False, rng=None, backend="processes", out=None, workers=None, progress=True):
    """Run the campaign (see cascades.campaigns.run_campaign) and return its xarray.Dataset."""
    if out is None:
        out = os.path.join(RESULTS, NAME + ("-quick" if quick else ""))
    return campaigns.run_campaign(
        NAME, quick=quick, rng=rng, backend=backend, out=out, workers=workers, progress=progress
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address (default: local)")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: all)")
    parser.add_argument("--out", default=None, help="results directory (default: simulations/results/)")
    parser.add_argument("--quick", action="store_true", help="the small variant")
    parser.add_argument("--seed", type=int, default=None, help="root seed (default: the campaign's)")
    args = parser.parse_args(argv)
    backend = args.scheduler or "processes"
    ds = run(quick=args.quick, rng=args.seed, backend=backend, out=args.out, workers=args.workers)
    print(ds)


if __name__ == "__main__":
    main()
