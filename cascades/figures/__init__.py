"""Recipes that reproduce the papers' figures (the list in notebooks/README.md), theory against simulation.

Each recipe computes its data with the library at the paper's parameters (``scale="full"``) or
at a small scale that runs in seconds (``scale="quick"``), returns it as an
:class:`xarray.Dataset` whose attributes record every parameter, the seed and the package
version, and draws the figure with matplotlib (Agg backend when there is no display).

>>> import cascades.figures as cf
>>> list(cf.list_figures())[:2]
['watts-window', 'watts-frequency']

The command line mirrors it: ``cascades reproduce --list``, ``cascades reproduce NAME --quick
--out DIR``.
"""

from . import dst, signal, sizes, training, watts  # noqa: F401  (importing registers the recipes)
from ._base import SCALES, FigureResult, Recipe, list_figures, reproduce

__all__ = ["FigureResult", "Recipe", "SCALES", "list_figures", "reproduce"]
