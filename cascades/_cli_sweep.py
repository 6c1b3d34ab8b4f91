"""Subcommands of the ``cascades`` command for the sweep work (registered by :mod:`cascades.cli`).

``cascades sweep CAMPAIGN [--quick] [--scheduler ADDRESS] [--workers N] [--out DIR] [--seed S]``
runs a campaign of :mod:`cascades.campaigns` (resumable: run the same command
again after an interruption); ``cascades sweep --list`` lists the campaigns.
"""

from __future__ import annotations

import os

from ._cli_types import nonneg_int as _nonneg_int
from ._cli_types import positive_int as _positive_int


def register(sub) -> None:
    """Add this module's subcommands to the ``cascades`` subparsers ``sub``."""
    p = sub.add_parser(
        "sweep",
        help="run a simulation campaign (parameter sweep) locally or on a Dask cluster",
        description="Run a simulation campaign of cascades.campaigns over its parameter grid, with its "
        "theory attached, on local worker processes or a Dask cluster. Every finished chunk is saved "
        "under --out; running the same command again resumes an interrupted sweep and recomputes "
        "nothing that had finished.",
    )
    p.add_argument("campaign", nargs="?", help="campaign name (see --list)")
    p.add_argument("--list", action="store_true", help="list the campaigns and exit")
    p.add_argument("--quick", action="store_true", help="the small variant (small graphs and grid)")
    p.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786"
    )
    p.add_argument(
        "--workers", type=_positive_int, default=None, help="local worker processes (default: all cores)"
    )
    p.add_argument("--serial", action="store_true", help="run in this process (no workers)")
    p.add_argument("--out", default=None, help="results directory (default: sweep-results/CAMPAIGN[-quick])")
    p.add_argument("--seed", type=_nonneg_int, default=None, help="root seed (default: the campaign's)")
    p.add_argument("--chunk-size", type=_positive_int, default=None, help="realizations per task")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_sweep)


def _cmd_sweep(args) -> int:
    from . import campaigns

    if args.list:
        for name in campaigns.list_campaigns():
            full, quick = campaigns.get_campaign(name), campaigns.get_campaign(name, quick=True)
            print(f"{name:20s} {full.description} ({full.n_runs} runs; --quick: {quick.n_runs})")
        return 0
    if not args.campaign:
        raise ValueError("give a campaign name (cascades sweep --list shows them)")
    if args.scheduler and args.serial:
        raise ValueError("give at most one of --scheduler and --serial")
    campaign = campaigns.get_campaign(args.campaign, quick=args.quick)
    label = campaign.name + ("-quick" if campaign.quick else "")
    out = args.out or os.path.join("sweep-results", label)
    backend = args.scheduler or ("serial" if args.serial else "processes")
    ds = campaigns.run_campaign(
        campaign,
        rng=args.seed,
        backend=backend,
        out=out,
        workers=args.workers,
        chunk_size=args.chunk_size,
        progress=not args.no_progress,
    )
    print(ds)
    print(f"results written to {os.path.join(out, label + '.nc')} (chunks and manifest in {out})")
    return 0
