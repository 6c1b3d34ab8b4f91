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

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from simulations._script import campaign_script  # noqa: E402

NAME = "watts-window"
PARAMETERS, run, main = campaign_script(NAME, __doc__.splitlines()[0])

if __name__ == "__main__":
    main()
