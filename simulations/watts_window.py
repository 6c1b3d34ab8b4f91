"""Campaign 'watts-window'.

Watts (2002), Fig. 1: the cascade window in the (phi, z) plane, simulated on fresh Erdos-Renyi
graphs with n = 10^4 (100 single-seed runs per point), with Watts' cascade condition and the
single-seed global-cascade probability attached.

Thin: the grid, the per-realization function, the root seed and the theory are defined once, in
`cascades.campaigns`; this script only chooses where to run and where to write.

Usage (from the repository root)::

    python simulations/watts_window.py                          # local processes, all cores
    python simulations/watts_window.py --workers 2 --quick      # the small variant (seconds)
    python simulations/watts_window.py --scheduler tcp://host:8786   # an existing Dask cluster

Results: `simulations/results/watts-window/` (resumable chunks, `sweep.json`, and `watts-window.nc`, the
dataset with its metadata). Run the same command again after an interruption: it resumes.
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout without installing

from cascades import campaigns  # noqa: E402

NAME = "watts-window"
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
