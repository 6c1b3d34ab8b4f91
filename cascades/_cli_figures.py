"""Subcommands of the ``cascades`` command for the figures work (registered by :mod:`cascades.cli`).

``cascades reproduce NAME [--quick] [--out DIR] [--seed S]``, ``cascades reproduce --list`` and
``cascades validate [--quick] [--seed S]``: thin calls into :func:`cascades.figures.reproduce` and
:func:`cascades.validate`.
"""

from __future__ import annotations

from ._cli_types import nonneg_int as _seed


def register(sub) -> None:
    """Add this module's subcommands to the ``cascades`` subparsers ``sub``."""
    rep = sub.add_parser(
        "reproduce",
        help="reproduce a paper figure (PNG, PDF and the data as netCDF)",
        description="Compute and draw one of the papers' figures with the library and write NAME.png, "
        "NAME.pdf and NAME.nc (the data, with every parameter, the seed and the package version in its "
        "attributes). `--list` shows the figures.",
    )
    rep.add_argument("name", nargs="?", default=None, help="figure name (see --list)")
    rep.add_argument("--list", action="store_true", help="list the reproducible figures and exit")
    rep.add_argument("--quick", action="store_true", help="small scale that runs in seconds")
    rep.add_argument("--out", default=".", help="output directory (default: the current directory)")
    rep.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    rep.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    rep.set_defaults(func=_cmd_reproduce)

    val = sub.add_parser(
        "validate",
        help="run the theory-vs-simulation suite; exit 1 if a case fails",
        description="Compare analytic predictions with seeded simulations (cascade sizes and "
        "trajectories, the cascade window edge, q/c fixed points and depth scales, dead neurons in "
        "sparse networks) and print a table; the exit code is 1 if any case is outside its tolerance.",
    )
    val.add_argument("--quick", action="store_true", help="small simulations (seconds; what CI runs)")
    val.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    val.add_argument("--notes", action="store_true", help="also print how each tolerance is derived")
    val.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    val.set_defaults(func=_cmd_validate)


def _cmd_reproduce(args) -> int:
    from . import figures

    if args.list:
        for name, text in figures.list_figures().items():
            print(f"{name:<28} {text}")
        return 0
    if args.name is None:
        raise ValueError("reproduce needs a figure NAME (or --list)")
    result = figures.reproduce(
        args.name,
        scale="quick" if args.quick else "full",
        rng=args.seed,
        progress=not args.no_progress,
    )
    for kind, path in result.save(args.out).items():
        print(f"{kind:>4}: {path}")
    if not result.complete:
        print("interrupted: the files hold the points that finished (the others are NaN)")
        return 130
    return 0


def _cmd_validate(args) -> int:
    from .validation_suite import validate

    report = validate(quick=args.quick, rng=args.seed, progress=not args.no_progress)
    print(report.table(notes=args.notes))
    return 0 if report.passed else 1
