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

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from simulations._script import campaign_script  # noqa: E402

NAME = "gleeson-cahalane"
PARAMETERS, run, main = campaign_script(NAME, __doc__.splitlines()[0])

if __name__ == "__main__":
    main()
