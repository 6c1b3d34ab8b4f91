"""Shared pieces of the property-based tests: profiles, strategies and the outcome check.

The guarantee kept by ``test_properties.py`` (issue 15): for any generated input a
public function either raises a ValueError or TypeError whose message names one
of its parameters, or returns a result that passes its invariants. Crash-prone
properties (anything that hands outside arrays to a numba kernel) run in a child
process via :func:`run_in_child`, so that a segfault fails one test instead of
killing the run.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import cascades

_COMMON = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
# quick: what CI runs, the same examples every run; slow: an exploratory search with fresh examples.
PROFILES = {
    "quick": settings(max_examples=25, derandomize=True, **_COMMON),
    "slow": settings(max_examples=400, **_COMMON),
}
# Everything a property calls runs under this limit: a generated size that would not fit must be refused
# by the memory guard (a MemoryLimitError is a ValueError naming the parameter), never attempted.
MEMORY_LIMIT = "2G"


@contextlib.contextmanager
def guarded():
    """Memory guard at MEMORY_LIMIT; numpy's overflow/invalid/divide warnings become errors."""
    with cascades.memory_limit(MEMORY_LIMIT), warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*encountered in", category=RuntimeWarning)
        yield


def outcome(fn, *args, names, **kwargs):
    """Call ``fn``; its result, or None when it refused the input with an error naming a parameter.

    Any other exception, or a ValueError/TypeError whose message names none of
    ``names``, propagates and fails the property.
    """
    with guarded():
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            message = str(exc)
            if not any(name in message for name in names):
                raise AssertionError(
                    f"{fn.__name__} raised {type(exc).__name__} naming none of {names}: {message}"
                ) from exc
            return None


def run_in_child(module: str, function: str, profile: str, timeout: float = 900) -> None:
    """Run ``module.function(profile)`` in a fresh interpreter; fail with its output unless it exits 0."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = f"import {module} as m; m.{function}({profile!r})"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=here,
    )
    if proc.returncode != 0:
        tail = (proc.stdout[-3000:] + "\n" + proc.stderr[-6000:]).strip()
        kind = f"crashed with signal {-proc.returncode}" if proc.returncode < 0 else "failed"
        raise AssertionError(f"{module}.{function}({profile!r}) {kind} (exit {proc.returncode}):\n{tail}")


# -- strategies ---------------------------------------------------------------

# Reals that include the hostile ones: nan, +-inf, huge, tiny, negative, and integers.
hostile_reals = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-3.0, 3.0),
    st.sampled_from([0.0, 1.0, -1.0, 1e-300, 1e300, 2.0**31, -(2.0**63)]),
    st.integers(-(2**65), 2**65),
)
unit_reals = st.one_of(st.floats(0.0, 1.0), hostile_reals)
hostile_ints = st.one_of(
    st.integers(-5, 50),
    st.sampled_from([0, 1, 2**31, 2**40, 2**63 - 1, -(2**63), 2**64]),
    st.floats(-5, 50),
    st.booleans(),
    st.none(),
)
activations = st.sampled_from(
    ["relu", "leaky_relu", "linear", "tanh", "erf", "sigmoid", "hardtanh", "gelu", "silu", "selu", "elu"]
)
