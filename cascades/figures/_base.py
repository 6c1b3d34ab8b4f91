"""The recipe registry, the result type and the helpers shared by the figure recipes.

A recipe is two functions: ``compute(params, gen, progress) -> xarray.Dataset`` does the science
with the library, ``plot(data) -> matplotlib.figure.Figure`` draws the figure from the data alone
(so a saved data file can be re-plotted). :func:`reproduce` glues them together, records every
parameter, the seed and the package version in the dataset's attributes, and returns a
:class:`FigureResult`.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._rng import as_generator
from ..sweeps import save_netcdf

__all__ = ["FigureResult", "Recipe", "register", "list_figures", "reproduce", "SCALES"]

SCALES = ("quick", "full")

_REGISTRY: dict[str, Recipe] = {}


@dataclass(frozen=True)
class Recipe:
    """One reproducible figure.

    Attributes
    ----------
    name : str
        The registry name (``cascades reproduce NAME``).
    title : str
        One line: what the figure shows.
    source : str
        The paper and figure it reproduces.
    params : dict
        ``{"quick": {...}, "full": {...}}``: every parameter of the computation per scale.
    compute : callable
        ``compute(params, gen, progress) -> xarray.Dataset``.
    plot : callable
        ``plot(data) -> matplotlib.figure.Figure``.
    number : int
        The figure's number in the project's list (notebooks/README.md); orders :func:`list_figures`.
    """

    name: str
    title: str
    source: str
    params: dict
    compute: Callable
    plot: Callable
    number: int = 0


def register(recipe: Recipe) -> Recipe:
    """Add ``recipe`` to the registry (names are unique)."""
    if recipe.name in _REGISTRY:
        raise ValueError(f"a figure recipe named {recipe.name!r} is already registered")
    if set(recipe.params) != set(SCALES):
        raise ValueError(f"recipe {recipe.name!r} must give parameters for the scales {SCALES}")
    _REGISTRY[recipe.name] = recipe
    return recipe


def list_figures() -> dict[str, str]:
    """The registered figures: ``{name: "title (source)"}``, in the order of notebooks/README.md.

    Examples
    --------
    >>> import cascades.figures as cf
    >>> "watts-window" in cf.list_figures()
    True
    """
    recipes = sorted(_REGISTRY.values(), key=lambda r: r.number)
    return {r.name: f"{r.title} ({r.source})" for r in recipes}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name`` (ValueError listing the known names otherwise)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown figure {name!r}; known figures: {', '.join(list_figures())}")
    return _REGISTRY[name]


@dataclass(frozen=True, eq=False)
class FigureResult:
    """A reproduced figure: its data, its parameters and the drawn matplotlib figure.

    Attributes
    ----------
    name : str
        The recipe name.
    scale : str
        ``"quick"`` or ``"full"``.
    data : xarray.Dataset
        Everything plotted. ``data.attrs`` holds every parameter (JSON in ``parameters``), the
        seed (``rng``), ``cascades_version``, the source paper and ``complete`` (0 when the run
        was interrupted with Ctrl-C: unfinished points are NaN).
    figure : matplotlib.figure.Figure
        The figure (Agg-backed when there is no display).
    """

    name: str
    scale: str
    data: object
    figure: object

    def _repr_png_(self) -> bytes:
        """PNG of the figure, so that a notebook displays a FigureResult as its figure."""
        import io

        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=100)
        return buf.getvalue()

    @property
    def complete(self) -> bool:
        """False when Ctrl-C stopped the computation (the finished points are kept)."""
        return bool(self.data.attrs.get("complete", 1))

    def save(self, out_dir=".") -> dict[str, Path]:
        """Write ``NAME.png``, ``NAME.pdf`` and the data ``NAME.nc`` (netCDF 3) into ``out_dir``.

        Returns
        -------
        dict
            ``{"png": path, "pdf": path, "data": path}``.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "png": out / f"{self.name}.png",
            "pdf": out / f"{self.name}.pdf",
            "data": out / f"{self.name}.nc",
        }
        self.figure.savefig(paths["png"], dpi=150)
        self.figure.savefig(paths["pdf"])
        save_netcdf(_to_netcdf3(self.data), paths["data"])
        return paths


def _to_netcdf3(ds):
    """A copy of ``ds`` with booleans as int8; :func:`~cascades.sweeps.save_netcdf` stores the integers
    exactly (int32 when they fit, else float64 marked ``cascades_dtype``, never a silent wrap)."""
    ds = ds.copy()
    for name in list(ds.variables):
        v = ds[name]
        if v.dtype == np.bool_:
            ds[name] = v.astype(np.int8)
    return ds


def _use_agg_without_display() -> None:
    """Select matplotlib's non-interactive Agg backend when there is no display."""
    import matplotlib

    if os.environ.get("MPLBACKEND"):
        return
    if os.name != "nt" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        import sys

        if "ipykernel" not in sys.modules:  # notebooks pick their inline backend themselves
            matplotlib.use("Agg")


def _seed_attr(rng) -> str:
    if rng is None:
        return "None (fresh entropy: not reproducible)"
    if isinstance(rng, np.random.Generator):
        return f"numpy Generator ({type(rng.bit_generator).__name__}, state not recorded)"
    return str(rng)


def reproduce(name, *, scale="full", out=None, rng=0, progress=True) -> FigureResult:
    """Compute and draw one of the papers' figures (see :func:`list_figures`).

    Parameters
    ----------
    name : str
        A registered figure name, e.g. ``"watts-window"``.
    scale : {"full", "quick"}
        ``"full"``: the paper's parameters (or the largest faithful scale, documented per recipe);
        ``"quick"``: a small version that runs in seconds (what the tests and CI run).
    out : str or path-like, optional
        Directory to write ``NAME.png``, ``NAME.pdf`` and ``NAME.nc`` into (see
        :meth:`FigureResult.save`); None: write nothing.
    rng : None, int or numpy.random.Generator
        Randomness (keyword-only; see :mod:`cascades._rng`); every simulated point gets its own
        child stream, so results do not depend on the number of threads. Default 0.
    progress : bool
        Show tqdm progress bars for the simulation loops.

    Returns
    -------
    FigureResult

    Raises
    ------
    ValueError
        For an unknown ``name`` or ``scale``.

    Notes
    -----
    Ctrl-C during the computation stops it cleanly: the points finished so far are kept, the
    others are NaN, ``data.attrs["complete"]`` is 0, a warning says so, and the figure is drawn
    (and saved, with ``out``) from what finished.

    Examples
    --------
    >>> from cascades.figures import reproduce
    >>> res = reproduce("sparse-signal-propagation", scale="quick", progress=False)
    >>> res.name, res.scale, res.complete
    ('sparse-signal-propagation', 'quick', True)
    >>> res.data.attrs["rng"], "q_density" in res.data.coords
    ('0', True)
    """
    recipe = get_recipe(name)
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"progress must be True or False, got {progress!r}")
    gen = as_generator(rng)
    params = dict(recipe.params[scale])
    _use_agg_without_display()
    data = recipe.compute(params, gen, bool(progress))
    from .. import __version__

    data.attrs.update(
        figure=name,
        title=recipe.title,
        source=recipe.source,
        scale=scale,
        rng=_seed_attr(rng),
        cascades_version=__version__,
        parameters=json.dumps(params, sort_keys=True),
    )
    data.attrs.setdefault("complete", 1)
    if not data.attrs["complete"]:
        warnings.warn(
            f"{name}: interrupted; the figure shows only the points that finished (the others are NaN)",
            RuntimeWarning,
            stacklevel=2,
        )
    fig = recipe.plot(data)
    result = FigureResult(name=name, scale=scale, data=data, figure=fig)
    if out is not None:
        result.save(out)
    return result


def run_points(fn, items, *, progress: bool, desc: str):
    """Run ``fn(i, item)`` over ``items`` with a progress bar; Ctrl-C keeps the finished points.

    Returns
    -------
    results : list
        One entry per item, None for the items that did not finish.
    complete : bool
        False when Ctrl-C stopped the loop.
    """
    items = list(items)
    out = [None] * len(items)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=desc, unit="pt")
    complete = True
    try:
        for i, item in enumerate(items):
            out[i] = fn(i, item)
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:  # EnsembleInterrupted included: that point counts as unfinished
        complete = False
    finally:
        if bar is not None:
            bar.close()
    return out, complete


def nan_fill(results, shape, pick=lambda r: r) -> np.ndarray:
    """Stack ``pick(r)`` of the finished results into an array, NaN where a result is None."""
    arr = np.full((len(results), *shape), np.nan)
    for i, r in enumerate(results):
        if r is not None:
            arr[i] = pick(r)
    return arr


def subplots(nrows=1, ncols=1, *, figsize):
    """A constrained-layout :class:`matplotlib.figure.Figure` and its axes, outside pyplot.

    The figure is not registered with pyplot, so recipes leak no open figures and a notebook shows
    it once (through :meth:`FigureResult._repr_png_`) whatever the backend.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols)
