"""The cascade models: one model object for the theory and the simulator.

A binary-state cascade model says when an inactive node becomes active (or a
functional node fails): a node with (in-)degree k and m active
(in-)neighbours activates with probability F(m, k), the *response function*
(Watts 2002; Gleeson & Cahalane 2007; Burkholz & Schweitzer 2018). Every model
here gives

* ``response(m, k)``: F(m, k), vectorised with numpy broadcasting, for the
  analytic solvers (where the model has a fixed response; ``has_response``
  says so);
* ``rule(graph, rng=...)``: a :class:`SimulationRule` holding the per-node and
  per-edge arrays the simulators need on that graph (random thresholds and iid
  edge weights are drawn here, with the explicit ``rng``), in O(n + nnz)
  vectorised numpy;
* ``degree_thresholds(k_max)``: for the threshold models with one number as
  threshold, the integer threshold of every in-degree 0..k_max (the same
  values ``rule`` gives node by node; None for other models). The simulator
  reads it straight into its kernel instead of building a per-node rule.

Models
------
:class:`FractionalThreshold`
    Watts' threshold model, m/k >= phi (or > phi), with a fixed, per-node or
    random threshold.
:class:`AbsoluteThreshold`
    Bootstrap percolation, m >= M.
:class:`WeightedThreshold`
    Sum of edge weights >= theta, with exposure diversification (1/k_i),
    damage diversification (1/k_j) or iid random weights.
:class:`IndependentCascade`
    Each newly active node gets one chance per out-edge (Kempe et al.).
:class:`FiberBundle`
    Load redistribution: a failing node hands its whole load to its
    functional neighbours (history dependent, no fixed response).

Conventions
-----------
* Graph orientation: activity spreads along CSR rows (row j lists the nodes
  that j influences); k_i is the in-degree. Undirected graphs are stored
  symmetric, so there in- and out-degrees coincide.
* Integer thresholds, never a float comparison of m/k with phi: with
  x = phi k and tol = 4 eps max(1, |x|) (eps = 2.2e-16, machine epsilon),
  the ">=" rule needs m >= ceil(x - tol) and the strict ">" rule
  m >= floor(x + tol) + 1, clipped to [0, k + 1] (k + 1 = never). A product
  within 4 ulps of an integer is that integer: this absorbs the rounding of a
  decimal phi to a float and of the product (together at most about 1 ulp;
  ``0.7 * 10 == 7.000000000000001``, ``0.28 * 100000`` is off by 1.5e-11) for
  every degree, while a genuine fractional part of a d-decimal phi times k
  (at least 10^-d) stays far above it up to k ~ 10^(15 - d).
  Degree-0 nodes use m/k := 0: they activate by themselves iff phi <= 0
  (">=") or phi < 0 (">").
* Random parameters: a threshold (or capacity, or edge weight) may be a frozen
  ``scipy.stats`` distribution, recognised by duck typing (a ``cdf`` and an
  ``rvs`` or ``sample`` method), e.g. ``scipy.stats.norm(0.2, 0.05)``. Values
  are drawn in :meth:`CascadeModel.rule`, one per node (or per CSR entry),
  with the ``rng`` of the call (see :mod:`cascades._rng`), so the same
  ``rng`` gives the same rule. The construction refuses (``ValueError``
  naming the parameter) a law that is not a valid distribution: a scipy
  family with a NaN or infinite parameter, or a cdf that at a few probe
  points from -inf to inf is not finite, in [0, 1], nondecreasing from 0 to
  1 (scipy's own answer to e.g. a negative scale is a cdf that is NaN
  everywhere). A cdf found NaN later, where a solver evaluates it, raises
  ``ValueError`` there.
* Models are frozen dataclasses, validated at construction; array parameters
  are stored as read-only float64 / int64 copies. ``==`` and ``hash`` compare
  array fields by value and frozen scipy distributions by family and
  parameters; ``replace(**changes)`` gives a validated modified copy.

References
----------
D. J. Watts, "A simple model of global cascades on random networks",
PNAS 99, 5766 (2002).
J. P. Gleeson and D. J. Cahalane, "Seed size strongly affects cascades on
random networks", Phys. Rev. E 75, 056103 (2007).
R. Burkholz and F. Schweitzer, "A framework for cascade size calculations on
random networks", Phys. Rev. E 97, 042312 (2018), arXiv:1701.06970.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
import numbers
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import stats

from ._memory import check_memory
from ._rng import as_generator
from ._validation import check_int, check_int_array, check_real
from .graphs import Graph

__all__ = [
    "CascadeModel",
    "SimulationRule",
    "FractionalThreshold",
    "AbsoluteThreshold",
    "WeightedThreshold",
    "IndependentCascade",
    "FiberBundle",
]

_RULE_KINDS = ("count", "load", "independent", "fiber")

# Relative tolerance of the integer threshold rule (see the module docstring): 4 ulps.
_TOL = 4 * np.finfo(np.float64).eps

_WEIGHT_KINDS = ("exposure", "damage")

# Bytes per entry of a response or threshold table and its temporaries (a lower bound for the guard).
_PER_ENTRY_BYTES = 32

# Allocations below this many bytes skip the memory guard (it reads the OS's figure, ~10 us a call,
# and response / degree_thresholds are called in loops).
_GUARD_FROM = 2**20


@dataclass(frozen=True, eq=False)
class SimulationRule:
    """The arrays a simulator needs to run one model on one graph.

    Produced by :meth:`CascadeModel.rule`; arrays are read-only.

    Attributes
    ----------
    kind : {"count", "load", "independent", "fiber"}
        ``"count"``: node i activates once the number of its active
        in-neighbours is >= ``threshold[i]`` (0: the node activates by itself
        at step 1; ``in_degree + 1``: never, unless seeded).
        ``"load"``: node i activates once the summed weights of its active
        in-neighbours reach ``theta[i]`` (up to a round-off tolerance of
        1e-12; ``theta[i] <= 0``: the node activates by itself at step 1);
        ``weight[e]`` is the weight that the activation of row node j adds to
        node ``indices[e]``.
        ``"independent"``: each newly active node j gets one chance to activate
        each out-neighbour, edge e succeeding with probability ``p_edge[e]``.
        ``"fiber"``: load redistribution with ``capacity`` and
        ``initial_load`` per node, synchronous rounds only (see
        :class:`FiberBundle`): every node starts with its initial load; the
        functional nodes whose load exceeds their capacity (by more than
        1e-12) fail together, and each failing node passes its whole current
        load in equal parts to its out-neighbours that are still functional
        after that round (a repeated CSR entry counts with its multiplicity;
        without functional out-neighbours the load is lost). Nodes overloaded
        from the start fail at step 1.
    threshold : numpy.ndarray or None
        int64 (n,), for ``"count"``.
    theta : numpy.ndarray or None
        float64 (n,), for ``"load"``.
    weight : numpy.ndarray or None
        float64 (nnz,), aligned with the graph's CSR ``indices``, for ``"load"``.
    p_edge : numpy.ndarray or None
        float64 (nnz,), aligned with the graph's CSR ``indices``, for
        ``"independent"``.
    capacity, initial_load : numpy.ndarray or None
        float64 (n,), for ``"fiber"``.
    """

    kind: str
    threshold: np.ndarray | None = None
    theta: np.ndarray | None = None
    weight: np.ndarray | None = None
    p_edge: np.ndarray | None = None
    capacity: np.ndarray | None = None
    initial_load: np.ndarray | None = None

    _REQUIRED: ClassVar[dict] = {
        "count": ("threshold",),
        "load": ("theta", "weight"),
        "independent": ("p_edge",),
        "fiber": ("capacity", "initial_load"),
    }

    def __post_init__(self):
        if self.kind not in _RULE_KINDS:
            raise ValueError(f"kind must be one of {_RULE_KINDS}, got {self.kind!r}")
        dtypes = {"threshold": np.int64}
        for name in ("threshold", "theta", "weight", "p_edge", "capacity", "initial_load"):
            value = getattr(self, name)
            if name in self._REQUIRED[self.kind]:
                if value is None:
                    raise ValueError(f"a {self.kind!r} rule needs {name}")
                arr = np.array(value, dtype=dtypes.get(name, np.float64), copy=True)
                if arr.ndim != 1:
                    raise ValueError(f"{name} must be a 1-dimensional array, got shape {arr.shape}")
                arr.setflags(write=False)
                object.__setattr__(self, name, arr)
            elif value is not None:
                raise ValueError(f"a {self.kind!r} rule takes no {name}")

    def check_graph(self, graph) -> None:
        """Raise ``ValueError`` unless the arrays match ``graph`` (n nodes, nnz CSR entries)."""
        for name in ("threshold", "theta", "capacity", "initial_load"):
            arr = getattr(self, name)
            if arr is not None and arr.shape[0] != graph.n:
                raise ValueError(f"{name} has {arr.shape[0]} entries but the graph has n = {graph.n} nodes")
        for name in ("weight", "p_edge"):
            arr = getattr(self, name)
            if arr is not None and arr.shape[0] != graph.nnz:
                raise ValueError(
                    f"{name} has {arr.shape[0]} entries but the graph has {graph.nnz} CSR entries"
                )


class CascadeModel(abc.ABC):
    """Base of the cascade models (frozen dataclasses, validated at construction).

    Subclasses implement :meth:`rule` and, when the model has a fixed response
    function, :meth:`response`. The base class gives every model value
    semantics: ``==`` and ``hash`` compare the fields (arrays by value, frozen
    scipy distributions by family and parameters, any other distribution
    object by identity), the ``repr`` is short even for long arrays, and
    :meth:`replace` returns a validated modified copy.
    """

    #: True when the final state does not depend on the update order.
    monotone: ClassVar[bool] = True
    #: True when the model has a fixed response function F(m, k).
    has_response: ClassVar[bool] = True

    def response(self, m, k) -> np.ndarray:
        """F(m, k): probability that a node with in-degree k and m active in-neighbours is active."""
        raise NotImplementedError(f"{type(self).__name__} has no fixed response function F(m, k)")

    @abc.abstractmethod
    def rule(self, graph, *, rng=None) -> SimulationRule:
        """The :class:`SimulationRule` of this model on ``graph`` (random parts drawn with ``rng``)."""

    def degree_thresholds(self, k_max) -> np.ndarray | None:
        """Integer thresholds by in-degree, when they depend on the in-degree alone; else None.

        For a ``"count"`` model whose threshold is one number for all nodes
        (not a per-node array or a distribution), the threshold of a node is
        a function of its in-degree k only. This returns that function as a
        read-only int64 table ``t`` of length ``k_max + 1`` with
        ``t[k]`` in [0, k + 1], so that ``rule(graph).threshold`` equals
        ``t[graph.in_degrees]`` whenever ``k_max`` >= the largest in-degree.
        The simulator uses it to skip building the per-node array. Models
        without such a table (the default) return None; so do per-node or
        random parameters, whose :meth:`rule` must run. A subclass that
        overrides :meth:`rule` should override this method too: the
        simulator ignores a table inherited from above the class that
        defines :meth:`rule`.

        Parameters
        ----------
        k_max : int
            Largest in-degree to cover, >= 0.

        Returns
        -------
        numpy.ndarray or None

        Raises
        ------
        ValueError
            If ``k_max`` is not an integer >= 0.

        Examples
        --------
        >>> FractionalThreshold(0.5).degree_thresholds(4)  # ceil(k / 2); k = 0 never
        array([1, 1, 1, 2, 2])
        >>> FractionalThreshold([0.5, 0.5]).degree_thresholds(4) is None  # per-node array
        True
        """
        _check_k_max(k_max)
        return None

    # -- value semantics ----------------------------------------------------

    def replace(self, **changes) -> CascadeModel:
        """A copy with some fields changed, validated like a new model.

        Examples
        --------
        >>> FractionalThreshold(0.18).replace(strict=True)
        FractionalThreshold(phi=0.18, strict=True)
        """
        return dataclasses.replace(self, **changes)

    def _field_values(self) -> tuple:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        pairs = zip(self._field_values(), other._field_values(), strict=True)
        return all(_key(a) == _key(b) for a, b in pairs)

    def __hash__(self):
        return hash((type(self).__name__, *(_key(v) for v in self._field_values())))

    def __repr__(self) -> str:
        parts = (f"{f.name}={_fmt(getattr(self, f.name))}" for f in dataclasses.fields(self))
        return f"{type(self).__name__}({', '.join(parts)})"


# ---------------------------------------------------------------------------
# Parameter helpers (validation, drawing, equality, repr)
# ---------------------------------------------------------------------------


def _is_distribution(value) -> bool:
    """Duck typing for a frozen distribution: a ``cdf`` and an ``rvs`` or ``sample`` method."""
    if isinstance(value, (str, bytes, np.ndarray)):
        return False
    return callable(getattr(value, "cdf", None)) and (
        callable(getattr(value, "rvs", None)) or callable(getattr(value, "sample", None))
    )


#: Where a distribution's cdf is probed at construction (see :func:`_check_distribution`).
_CDF_PROBE = np.array([-np.inf, -1.0, 0.0, 0.25, 0.5, 0.75, 1.0, 2.0, np.inf])


def _check_distribution(name: str, value):
    """Refuse a distribution that is not a valid, fully specified law of a real number.

    A frozen scipy family must have finite parameters (scipy itself turns a
    NaN location or a negative scale into a cdf that is NaN everywhere, which
    the solvers would read as "activates at once"). Every distribution's cdf,
    probed at a few points from -inf to inf, must be a real cdf: finite,
    in [0, 1], nondecreasing, 0 at -inf and 1 at +inf.
    """
    if isinstance(value, (stats.rv_continuous, stats.rv_discrete)):
        raise ValueError(
            f"{name} must be a frozen distribution such as scipy.stats.norm(0.2, 0.05), "
            f"got the unfrozen family {value.name!r}"
        )
    shown = _fmt(value)
    family = getattr(value, "dist", None)
    scipy_frozen = isinstance(family, (stats.rv_continuous, stats.rv_discrete))
    params = [*value.args, *value.kwds.values()] if scipy_frozen else []
    for param in params:
        try:
            arr = np.asarray(param, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name}: the parameters of the distribution {shown} must be finite numbers, got {param!r}"
            ) from None
        if not np.all(np.isfinite(arr)):
            raise ValueError(
                f"{name}: the parameters of the distribution {shown} must be finite numbers, got {param!r}"
            )
    try:
        with np.errstate(all="ignore"):
            cdf = np.asarray(value.cdf(_CDF_PROBE), dtype=np.float64)
    except Exception as err:  # noqa: BLE001 - a user's duck-typed law may raise anything: report it as such
        raise ValueError(
            f"{name}: the cdf of the distribution {shown} could not be evaluated at "
            f"{_CDF_PROBE.tolist()} ({type(err).__name__}: {err})"
        ) from err
    probe = _CDF_PROBE.tolist()
    if cdf.shape != _CDF_PROBE.shape:
        raise ValueError(
            f"{name}: the cdf of the distribution {shown} returned shape {cdf.shape} "
            f"for {_CDF_PROBE.size} points"
        )
    values = dict(zip(probe, cdf.tolist(), strict=True))
    if not (np.all(np.isfinite(cdf)) and np.all((cdf >= 0) & (cdf <= 1))):
        raise ValueError(
            f"{name} must be a valid distribution (finite parameters, scale > 0): the cdf of {shown} "
            f"must lie in [0, 1], got {values}"
        )
    if np.any(np.diff(cdf) < -1e-12) or cdf[0] > 1e-12 or cdf[-1] < 1 - 1e-12:
        raise ValueError(
            f"{name} must be a valid distribution: the cdf of {shown} must be nondecreasing from 0 at -inf "
            f"to 1 at +inf, got {values}"
        )
    return value


def _cdf(name: str, dist, x) -> np.ndarray:
    """``dist.cdf(x)`` as float64 in [0, 1] (round-off clipped); ValueError naming ``name`` on NaN.

    The construction checks the cdf at a few points only; a law whose cdf is NaN (or far outside
    [0, 1]) elsewhere must not reach a solver, where NaN would pass comparisons as "activated".
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(all="ignore"):
        f = np.array(dist.cdf(x), dtype=np.float64)  # a writable array (also for 0-d input)
    if f.shape != x.shape:
        f = np.broadcast_to(f, x.shape).copy()
    bad = ~((f >= -1e-12) & (f <= 1 + 1e-12))  # also NaN
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(
            f"{name}: the cdf of the distribution {_fmt(dist)} is {float(f.ravel()[i])!r} at "
            f"{float(x.ravel()[i])!r}, not a probability; it must be a valid cdf everywhere"
        )
    return np.clip(f, 0.0, 1.0, out=f)


def _real_array(name: str, value, *, low=None, high=None, allow_posinf=False) -> np.ndarray:
    """A read-only float64 copy of a 1-d array of reals in [low, high] (NaN never allowed)."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a number, a 1-dimensional array or a frozen scipy.stats distribution, "
            f"got {type(value).__name__} of shape {arr.shape}"
        )
    if arr.size and arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64)
    _check_reals(name, arr, low=low, high=high, allow_posinf=allow_posinf)
    arr.setflags(write=False)
    return arr


def _check_reals(name: str, arr: np.ndarray, *, low=None, high=None, allow_posinf=False) -> None:
    """Raise ValueError naming ``name`` and the first bad entry unless all entries are allowed."""
    if not arr.size:
        return
    ok = ~np.isnan(arr) & (arr != -np.inf)
    if not allow_posinf:
        ok &= arr != np.inf
    if low is not None:
        ok &= arr >= low
    if high is not None:
        ok &= arr <= high
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        what = "finite numbers" if not allow_posinf else "numbers (no NaN or -inf)"
        rng = _range_text(low, high)
        raise ValueError(f"{name} must hold {what}{rng}; entry {i} is {float(arr[i])!r}")


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def _real_param(name: str, value, *, low=None, high=None, allow_posinf=False):
    """Normalise a parameter that is a real number, a 1-d array or a frozen distribution."""
    if _is_distribution(value):
        return _check_distribution(name, value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if allow_posinf:
            if math.isnan(value) or value == -math.inf:
                raise ValueError(f"{name} must be a number (no NaN or -inf), got {value!r}")
            if value == math.inf:
                return math.inf
        return check_real(name, value, low=low, high=high)
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None or _ndim(value) != 1:
        raise ValueError(
            f"{name} must be a number{_range_text(low, high)}, a 1-dimensional array of such numbers "
            f"or a frozen scipy.stats distribution, got {value!r}"
        )
    return _real_array(name, value, low=low, high=high, allow_posinf=allow_posinf)


def _ndim(value) -> int:
    try:
        return np.ndim(value)
    except ValueError:  # a ragged nested sequence
        return -1


def _draw(name: str, dist, size: int, gen: np.random.Generator) -> np.ndarray:
    """``size`` iid draws from ``dist`` with ``gen``, as a float64 array."""
    if callable(getattr(dist, "rvs", None)):
        values = dist.rvs(size=size, random_state=gen)
    else:  # the scipy >= 1.15 distribution objects (scipy.stats.Normal(...)) sample with rng=
        values = dist.sample(size, rng=gen)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (size,):
        raise ValueError(f"{name}: the distribution returned shape {values.shape} for {size} draws")
    return values


def _per_node(name: str, value, n: int, gen):
    """A float scalar (kept scalar), or an (n,) array: checked or drawn."""
    if _is_distribution(value):
        return _draw(name, value, n, gen)
    if isinstance(value, np.ndarray):
        if value.shape[0] != n:
            raise ValueError(f"{name} has {value.shape[0]} entries but the graph has n = {n} nodes")
    return value


def _per_edge(name: str, value, nnz: int):
    """A float scalar (kept scalar), or an (nnz,) array checked against the graph."""
    if isinstance(value, np.ndarray) and value.shape[0] != nnz:
        raise ValueError(f"{name} has {value.shape[0]} entries but the graph has {nnz} CSR entries")
    return value


def _check_graph(graph) -> Graph:
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a cascades Graph, got {type(graph).__name__}")
    return graph


def _unequal_array(value) -> bool:
    """True for a per-node (or per-edge) array whose entries are not all equal."""
    return isinstance(value, np.ndarray) and value.size > 1 and bool(np.any(value != value[0]))


def _common_value(name: str, value, model: str):
    """The single value of a parameter for ``response``: scalar, or all array entries equal."""
    if isinstance(value, np.ndarray):
        if _unequal_array(value):
            raise NotImplementedError(
                f"{model}.response is not defined for a per-node / per-edge array {name} with unequal "
                f"entries: F(m, k) would depend on the node; give a number or a distribution"
            )
        if value.size == 0:
            raise NotImplementedError(f"{model}.response is not defined for an empty array {name}")
        return value[0].item()
    return value


def _check_k_max(k_max) -> int:
    """``k_max`` of ``degree_thresholds``: an integer >= 0 whose table fits in memory."""
    k_max = check_int("k_max", k_max, low=0)
    nbytes = _PER_ENTRY_BYTES * (k_max + 1)
    if nbytes > _GUARD_FROM:  # the simulator asks for a table per run: small ones skip the guard
        check_memory(nbytes, parameter=f"k_max = {k_max}", what="a threshold per degree")
    return k_max


def _check_mk(m, k) -> tuple[np.ndarray, np.ndarray]:
    """Validate and broadcast the arguments of ``response``."""
    m = check_int_array("m", m, low=0, ndim=np.ndim(m))
    k = check_int_array("k", k, low=0, ndim=np.ndim(k))
    try:
        shape = np.broadcast_shapes(m.shape, k.shape)
    except ValueError:
        raise ValueError(f"m and k must broadcast together, got shapes {m.shape} and {k.shape}") from None
    nbytes = _PER_ENTRY_BYTES * math.prod(shape)
    if nbytes > _GUARD_FROM:  # response is called in loops: small calls skip the guard
        check_memory(nbytes, parameter=f"m and k (broadcast shape {shape})", what="the response, temporaries")
    m, k = np.broadcast_arrays(m, k)
    bad = m > k
    if bad.any():
        i = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
        raise ValueError(f"m must satisfy 0 <= m <= k, got m = {m[i]} with k = {k[i]}")
    return m, k


def _output(values: np.ndarray):
    """float64 array of the broadcast shape; a numpy scalar for scalar input."""
    values = np.asarray(values, dtype=np.float64)
    return values[()] if values.ndim == 0 else values


def _key(value):
    """A hashable key with which model fields compare (arrays by value)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if _is_distribution(value):
        return ("distribution", *_dist_key(value))
    return ("value", value)


def _dist_key(dist) -> tuple:
    family = getattr(dist, "dist", None)
    if (
        family is not None
        and hasattr(dist, "args")
        and type(family) is type(getattr(stats, getattr(family, "name", ""), None))
    ):  # a frozen standard scipy.stats family: compare family and parameters
        kwds = tuple(sorted((key, _plain(v)) for key, v in dist.kwds.items()))
        return (family.name, tuple(_plain(a) for a in dist.args), kwds)
    if type(dist).__module__.startswith("scipy.stats") and not hasattr(dist, "rvs"):
        return (type(dist).__name__, repr(dist))  # scipy >= 1.15 objects have a full repr
    return ("object", id(dist))


def _plain(value):
    if isinstance(value, (numbers.Number, np.generic)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, np.ndarray):
        return ("array", value.tolist().__repr__())
    return repr(value)


def _fmt(value) -> str:
    """Short readable text of a model field for ``repr``."""
    if isinstance(value, np.ndarray):
        if value.size <= 8:
            return repr(np.asarray(value).tolist()).join(("array(", ")"))
        lo, hi = value.min(), value.max()
        return f"<{value.dtype} array of {value.size} entries in [{lo:g}, {hi:g}]>"
    if _is_distribution(value):
        family = getattr(value, "dist", None)
        if family is not None and hasattr(value, "args"):
            args = [_fmt_number(a) for a in value.args]
            args += [f"{key}={_fmt_number(v)}" for key, v in value.kwds.items()]
            return f"{getattr(family, 'name', type(family).__name__)}({', '.join(args)})"
        return repr(value)
    return repr(value)


def _fmt_number(value) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


# ---------------------------------------------------------------------------
# The integer threshold rule, shared by FractionalThreshold and exposure weights
# ---------------------------------------------------------------------------


def _fractional_thresholds(phi, k, strict: bool) -> np.ndarray:
    """Integer thresholds of the rule m/k >= phi (or > phi), broadcast over phi and k.

    ">=": ceil(phi k - tol), strict ">": floor(phi k + tol) + 1, with
    tol = 4 eps max(1, |phi k|), clipped to [0, k + 1]; k = 0 gives 0 iff
    phi <= 0 (">=") / phi < 0 (">"), else 1 (never).
    """
    k = np.asarray(k, dtype=np.int64)
    # phi outside [-1, 2] gives the same thresholds as its clipped value; clipping keeps phi k finite.
    phi = np.clip(np.asarray(phi, dtype=np.float64), -1.0, 2.0)
    x = np.multiply(phi, k, out=np.empty(np.broadcast_shapes(phi.shape, k.shape)))
    tol = np.abs(x, out=np.empty_like(x))
    np.maximum(tol, 1.0, out=tol)
    tol *= _TOL
    if strict:
        x += tol
        np.floor(x, out=x)
        x += 1.0
    else:
        x -= tol
        np.ceil(x, out=x)
    np.clip(x, 0, k + 1, out=x)
    t = x.astype(np.int64)
    zero = k == 0
    if zero.any():
        alone = phi < 0 if strict else phi <= 0  # m/k := 0 for a node without in-neighbours
        t = np.where(zero, np.where(alone, 0, 1), t)
    return t


@functools.lru_cache(maxsize=1024)
def _fractional_table_cached(phi_hex: str, strict: bool, k_max: int) -> np.ndarray:
    table = _fractional_thresholds(float.fromhex(phi_hex), np.arange(k_max + 1), strict)
    table.setflags(write=False)
    return table


def _fractional_table(phi: float, strict: bool, k_max: int) -> np.ndarray:
    """Read-only thresholds of in-degrees 0..k_max for one number phi (cached; keyed by the exact float)."""
    return _fractional_table_cached(float(phi).hex(), bool(strict), int(k_max))


def _fractional_rule(name: str, phi, strict: bool, graph: Graph, gen) -> SimulationRule:
    """The "count" rule of m/k >= phi (or > phi) on ``graph``; ``phi`` as stored in a model."""
    k = graph.in_degrees
    phi = _per_node(name, phi, graph.n, gen)
    if isinstance(phi, np.ndarray):
        _check_reals(name, phi)  # drawn values must be finite
        threshold = _fractional_thresholds(phi, k, strict)
    elif k.size:  # one threshold per degree, then a gather: O(n + kmax)
        threshold = _fractional_table(phi, strict, int(k.max()))[k]
    else:
        threshold = np.zeros(0, dtype=np.int64)
    rule = SimulationRule("count", threshold=threshold)
    rule.check_graph(graph)
    return rule


def _fractional_response(name: str, model: str, phi, strict: bool, m, k):
    """F(m, k) of the rule m/k >= phi (or > phi); ``phi`` as stored in a model."""
    m, k = _check_mk(m, k)
    if _is_distribution(phi):
        x = np.zeros(m.shape)
        np.divide(m, k, out=x, where=k > 0)  # m/k := 0 for k = 0
        f = _cdf(name, phi, x)
        if strict:  # P[phi < x]: the cdf at the largest float below x (never above cdf(x))
            np.minimum(f, _cdf(name, phi, np.nextafter(x, -np.inf)), out=f)
        return _output(f)
    phi = _common_value(name, phi, model)
    return _output(m >= _fractional_thresholds(phi, k, strict))


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class FractionalThreshold(CascadeModel):
    """Watts' threshold model: a node activates once a fraction phi of its in-neighbours is active.

    A node with in-degree k and m active in-neighbours activates iff
    m/k >= phi (or m/k > phi with ``strict=True``), decided in integers:
    ``threshold = ceil(phi k - tol)`` (">=") or ``floor(phi k + tol) + 1``
    (">"), tol = 4 eps max(1, |phi k|) (eps the float64 machine epsilon),
    clipped to [0, k + 1] where k + 1
    means never. A node without in-neighbours uses m/k := 0, so it activates
    by itself iff phi <= 0 (">=") or phi < 0 (">").

    Parameters
    ----------
    phi : float, array_like or frozen distribution
        The threshold: one number in [0, 1] for all nodes; a per-node array
        (values in [0, 1], length n, checked in :meth:`rule`); or a frozen
        ``scipy.stats`` distribution from which :meth:`rule` draws one
        threshold per node (any real values; phi <= 0 activates a node at
        step 1, which is how Gleeson & Cahalane (2007) place seeds).
    strict : bool
        False (default): activate iff m/k >= phi (Watts 2002: a node is
        vulnerable iff phi <= 1/k). True: iff m/k > phi. At phi = 0.2 the two
        give different cascade windows.

    Notes
    -----
    :meth:`response` is 1[m >= threshold(k)] for a number phi (or an array
    whose entries are all equal). For a random phi it is P[phi <= m/k] =
    ``cdf(m/k)`` (">=") and P[phi < m/k] (">"), evaluated as the cdf at the
    largest float below m/k, capped at ``cdf(m/k)`` so that strict <=
    non-strict survives round-off. For a law with an atom at m/k this is
    exactly ``cdf(m/k) - P[phi = m/k]`` (``cdf - pmf`` for scipy's discrete
    laws); for a continuous law it is ``cdf(m/k)`` up to round-off. A
    per-node array with unequal entries has no F(m, k) (``has_response`` is
    False and :meth:`response` raises ``NotImplementedError``).

    References
    ----------
    D. J. Watts, "A simple model of global cascades on random networks",
    PNAS 99, 5766 (2002).
    J. P. Gleeson and D. J. Cahalane, "Seed size strongly affects cascades on
    random networks", Phys. Rev. E 75, 056103 (2007) (random thresholds).

    Examples
    --------
    A star with centre 0 and three leaves: the centre needs 2 of its 3
    neighbours (ceil(0.5 * 3) = 2), a leaf its only neighbour.

    >>> from cascades.graphs import from_edges
    >>> star = from_edges([(0, 1), (0, 2), (0, 3)])
    >>> model = FractionalThreshold(0.5)
    >>> model.rule(star).threshold
    array([2, 1, 1, 1])
    >>> model.response([0, 1, 2, 3], 3)
    array([0., 0., 1., 1.])
    >>> FractionalThreshold(0.5, strict=True).rule(star).threshold  # m/3 > 0.5, m/1 > 0.5
    array([2, 1, 1, 1])
    >>> FractionalThreshold(0.5, strict=True).response(1, 2)  # 1/2 > 0.5 is false
    np.float64(0.0)

    Float round-off does not leak into the thresholds (0.7 * 10 is
    7.000000000000001 in floating point):

    >>> int(FractionalThreshold(0.7).response(7, 10))
    1

    Random thresholds, drawn per node in :meth:`rule`:

    >>> from scipy import stats
    >>> random = FractionalThreshold(stats.norm(0.2, 0.05))
    >>> random
    FractionalThreshold(phi=norm(0.2, 0.05), strict=False)
    >>> bool(random.response(1, 5) == stats.norm(0.2, 0.05).cdf(0.2))
    True
    >>> a = random.rule(star, rng=0).threshold
    >>> bool((a == random.rule(star, rng=0).threshold).all())
    True
    """

    phi: float | np.ndarray | object
    strict: bool = False

    def __post_init__(self):
        object.__setattr__(self, "phi", _real_param("phi", self.phi, low=0, high=1))
        object.__setattr__(self, "strict", _check_bool("strict", self.strict))

    @property
    def has_response(self) -> bool:
        """False only for a per-node array phi with unequal entries."""
        return not _unequal_array(self.phi)

    def response(self, m, k):
        """F(m, k) = 1[m/k >= phi] (or > phi) in integers; P[phi <= m/k] for a random phi.

        Parameters
        ----------
        m, k : array_like of int
            Active in-neighbours and in-degree, broadcast together,
            0 <= m <= k.

        Returns
        -------
        numpy.ndarray or numpy.float64
            Probabilities in [0, 1], of the broadcast shape.

        Raises
        ------
        ValueError
            If m or k is not an integer array, is negative, or m > k.
        NotImplementedError
            For a per-node array phi with unequal entries.
        """
        return _fractional_response("phi", "FractionalThreshold", self.phi, self.strict, m, k)

    def rule(self, graph, *, rng=None) -> SimulationRule:
        """The ``"count"`` rule: one integer threshold per node (phi drawn with ``rng`` if random).

        Raises
        ------
        ValueError
            If a per-node array phi does not have ``graph.n`` entries, or a
            drawn phi is not finite.
        """
        gen = as_generator(rng)
        return _fractional_rule("phi", self.phi, self.strict, _check_graph(graph), gen)

    def degree_thresholds(self, k_max) -> np.ndarray | None:
        """The thresholds ``ceil(phi k - tol)`` (or ``floor(phi k + tol) + 1``) of k = 0..k_max.

        None for a per-node array or random phi. See
        :meth:`CascadeModel.degree_thresholds`.
        """
        k_max = _check_k_max(k_max)
        if isinstance(self.phi, float):
            return _fractional_table(self.phi, self.strict, k_max)
        return None


@dataclass(frozen=True, eq=False, repr=False)
class AbsoluteThreshold(CascadeModel):
    """Bootstrap percolation: a node activates once at least m of its in-neighbours are active.

    F(m', k) = 1[m' >= m]. In the simulator rule, a threshold above the
    in-degree is stored as in-degree + 1 (never, unless seeded); m = 0
    activates a node by itself at step 1.

    Parameters
    ----------
    m : int or array_like of int
        The absolute threshold, an integer >= 0, or a per-node array of such
        integers (length n, checked in :meth:`rule`).

    References
    ----------
    J. Chalupa, P. L. Leath and G. R. Reich, "Bootstrap percolation on a
    Bethe lattice", J. Phys. C 12, L31 (1979).
    G. J. Baxter, S. N. Dorogovtsev, A. V. Goltsev and J. F. F. Mendes,
    "Bootstrap percolation on complex networks", Phys. Rev. E 82, 011103
    (2010).

    Examples
    --------
    >>> from cascades.graphs import from_edges
    >>> path = from_edges([(0, 1), (1, 2), (2, 3)])
    >>> AbsoluteThreshold(2).rule(path).threshold  # ends have degree 1 < 2: never
    array([2, 2, 2, 2])
    >>> AbsoluteThreshold(2).response([0, 1, 2, 3], 3)
    array([0., 0., 1., 1.])
    >>> AbsoluteThreshold([0, 1, 5, 1]).rule(path).threshold
    array([0, 1, 3, 1])
    """

    m: int | np.ndarray

    def __post_init__(self):
        value = self.m
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if np.ndim(value) == 0:
            value = check_int("m", value, low=0)
        else:
            value = np.array(check_int_array("m", value, low=0), dtype=np.int64)
            value.setflags(write=False)
        object.__setattr__(self, "m", value)

    @property
    def has_response(self) -> bool:
        """False only for a per-node array m with unequal entries."""
        return not _unequal_array(self.m)

    def response(self, m, k):
        """F(m', k) = 1[m' >= m] (the argument m' counts active in-neighbours, 0 <= m' <= k).

        Raises
        ------
        ValueError
            If the arguments are not integers with 0 <= m' <= k.
        NotImplementedError
            For a per-node array m with unequal entries.
        """
        m_active, k = _check_mk(m, k)
        return _output(m_active >= _common_value("m", self.m, "AbsoluteThreshold"))

    def rule(self, graph, *, rng=None) -> SimulationRule:
        """The ``"count"`` rule: threshold min(m, k_in + 1) per node (``rng`` is not used).

        Raises
        ------
        ValueError
            If a per-node array m does not have ``graph.n`` entries.
        """
        as_generator(rng)  # validates rng, draws nothing
        graph = _check_graph(graph)
        m = _per_node("m", self.m, graph.n, None)
        k = graph.in_degrees
        if not isinstance(m, np.ndarray):
            # any m above every in-degree acts alike (never); keeps int64 safe. The cap is the
            # largest in-degree + 1, not n + 1: with multi-edges an in-degree can exceed n.
            m = min(m, (int(k.max()) if k.size else 0) + 1)
        rule = SimulationRule("count", threshold=np.minimum(m, k + 1))
        rule.check_graph(graph)
        return rule

    def degree_thresholds(self, k_max) -> np.ndarray | None:
        """The thresholds ``min(m, k + 1)`` of k = 0..k_max; None for a per-node array m.

        See :meth:`CascadeModel.degree_thresholds`.
        """
        k_max = _check_k_max(k_max)
        if isinstance(self.m, np.ndarray):
            return None
        table = np.minimum(min(self.m, k_max + 1), np.arange(1, k_max + 2, dtype=np.int64))
        table.setflags(write=False)
        return table


@dataclass(frozen=True, eq=False, repr=False)
class WeightedThreshold(CascadeModel):
    """Weighted threshold model: node i activates once sum_j w_ji s_j >= theta_i.

    The weight w_ji is what the activation of in-neighbour j adds to the load
    of i:

    * ``"exposure"`` (exposure diversification): w_ji = 1/k_i, k_i the
      in-degree of i. Then the rule is m/k_i >= theta_i, exactly Watts'
      model with phi = theta; :meth:`rule` gives the same integer
      ``"count"`` rule as :class:`FractionalThreshold` (same code path).
    * ``"damage"`` (damage diversification): w_ji = 1/k_j, k_j the
      out-degree of j (the length of row j, so on undirected graphs its
      degree): a failing node splits its damage equally among the nodes it
      points to. A ``"load"`` rule.
    * a frozen ``scipy.stats`` distribution with support in [0, inf): iid
      weights, one draw per CSR entry. On an undirected graph the two
      directions j -> i and i -> j of an edge are two CSR entries and get
      independent weights. A ``"load"`` rule.

    A ``"load"`` node activates when its load reaches theta - 1e-12
    (tolerance against summation round-off); theta <= 0 activates it by
    itself at step 1.

    Parameters
    ----------
    theta : float, array_like or frozen distribution
        The threshold: a number >= 0 (no upper bound: with damage or iid
        weights a load can exceed 1; with exposure weights theta > 1 means
        never), a per-node array of such numbers (length n), or a frozen
        distribution drawn once per node in :meth:`rule` (any real values).
    weights : {"exposure", "damage"} or frozen distribution
        How a failing in-neighbour loads a node, see above.

    Notes
    -----
    :meth:`response` exists for exposure weights only (it is Watts' F(m, k)
    with phi = theta, see :class:`FractionalThreshold`). With damage weights
    the load of a node depends on the degrees of its failing neighbours, so
    its response needs the law of 1/k' over the excess degree, and with iid
    weights the m-fold convolution P[W_1 + ... + W_m >= theta]; both are
    properties of the degree distribution rather than of the model and are
    left to the mean-field solvers (issue 4): :meth:`response` raises
    ``NotImplementedError`` there. Random draws in :meth:`rule` come in a
    fixed order: theta (if random), then the weights (if random).

    References
    ----------
    R. Burkholz, A. Garas and F. Schweitzer, "How damage diversification can
    reduce systemic risk", Phys. Rev. E 93, 042313 (2016).

    Examples
    --------
    >>> from cascades.graphs import from_edges
    >>> star = from_edges([(0, 1), (0, 2), (0, 3)])
    >>> damage = WeightedThreshold(0.5, "damage").rule(star)
    >>> damage.kind, damage.weight  # row 0 (the centre) splits 1 in three
    ('load', array([0.33333333, 0.33333333, 0.33333333, 1.        , 1.        ,
           1.        ]))
    >>> exposure = WeightedThreshold(0.5, "exposure")
    >>> exposure.rule(star).threshold
    array([2, 1, 1, 1])
    >>> bool(exposure.response(2, 3) == FractionalThreshold(0.5).response(2, 3))
    True
    >>> from scipy import stats
    >>> iid = WeightedThreshold(1.0, stats.expon(scale=0.5)).rule(star, rng=0)
    >>> iid.weight.shape, bool((iid.weight >= 0).all())
    ((6,), True)
    """

    theta: float | np.ndarray | object
    weights: str | object

    def __post_init__(self):
        object.__setattr__(self, "theta", _real_param("theta", self.theta, low=0))
        weights = self.weights
        if not (_is_distribution(weights) or (isinstance(weights, str) and weights in _WEIGHT_KINDS)):
            raise ValueError(
                f"weights must be 'exposure', 'damage' or a frozen scipy.stats distribution, got {weights!r}"
            )
        if _is_distribution(weights):
            _check_distribution("weights", weights)
            support = getattr(weights, "support", None)
            if callable(support) and not float(support()[0]) >= 0:
                raise ValueError(
                    f"weights must be a distribution with support in [0, inf) (negative weights make "
                    f"the model non-monotone), got support {tuple(float(s) for s in support())}"
                )

    @property
    def has_response(self) -> bool:
        """True for exposure weights (unless theta is a per-node array with unequal entries)."""
        return isinstance(self.weights, str) and self.weights == "exposure" and not _unequal_array(self.theta)

    def response(self, m, k):
        """F(m, k) for exposure weights (Watts with phi = theta); otherwise NotImplementedError.

        Raises
        ------
        ValueError
            If m or k is not an integer array, is negative, or m > k.
        NotImplementedError
            For damage or iid weights (the response depends on the degree
            distribution: the mean-field solvers provide it), and for a
            per-node array theta with unequal entries.
        """
        if isinstance(self.weights, str) and self.weights == "exposure":
            return _fractional_response("theta", "WeightedThreshold", self.theta, False, m, k)
        if isinstance(self.weights, str):  # damage
            raise NotImplementedError(
                "WeightedThreshold with damage weights w_ji = 1/k_j has no response F(m, k) of its own: "
                "the load depends on the degrees k_j of the failing neighbours, so F needs the law of "
                "1/k' over the excess degree; that belongs to the mean-field solvers (issue 4)"
            )
        raise NotImplementedError(
            "WeightedThreshold with iid random weights has F(m, k) = P[W_1 + ... + W_m >= theta], "
            "an m-fold convolution of the weight law; that belongs to the mean-field solvers (issue 4)"
        )

    def rule(self, graph, *, rng=None) -> SimulationRule:
        """The ``"count"`` (exposure) or ``"load"`` (damage, iid) rule on ``graph``.

        Raises
        ------
        ValueError
            If a per-node array theta does not have ``graph.n`` entries, a
            drawn theta is NaN or infinite, or a drawn weight is negative or
            not finite.
        """
        gen = as_generator(rng)
        graph = _check_graph(graph)
        if isinstance(self.weights, str) and self.weights == "exposure":
            return _fractional_rule("theta", self.theta, False, graph, gen)
        theta = _per_node("theta", self.theta, graph.n, gen)
        if isinstance(theta, np.ndarray):
            _check_reals("theta", theta)
        theta = np.broadcast_to(np.asarray(theta, dtype=np.float64), (graph.n,))
        if isinstance(self.weights, str):  # damage: weight of CSR entry e in row j is 1/len(row j)
            row_length = graph.degrees
            inverse = np.zeros(graph.n)
            np.divide(1.0, row_length, out=inverse, where=row_length > 0)
            weight = np.repeat(inverse, row_length)
        else:
            weight = _draw("weights", self.weights, graph.nnz, gen)
            _check_reals("weights", weight, low=0)
        rule = SimulationRule("load", theta=theta, weight=weight)
        rule.check_graph(graph)
        return rule

    def degree_thresholds(self, k_max) -> np.ndarray | None:
        """For exposure weights and one number theta: Watts' thresholds with phi = theta; else None.

        See :meth:`CascadeModel.degree_thresholds`.
        """
        k_max = _check_k_max(k_max)
        if isinstance(self.weights, str) and self.weights == "exposure" and isinstance(self.theta, float):
            return _fractional_table(self.theta, False, k_max)
        return None


@dataclass(frozen=True, eq=False, repr=False)
class IndependentCascade(CascadeModel):
    """Independent cascade model: each newly active node gets one chance per out-edge.

    When node j becomes active it tries once to activate each out-neighbour
    i, succeeding with probability p (independently per edge); a node with m
    active in-neighbours is therefore active with probability
    F(m, k) = 1 - (1 - p)^m. No node activates by itself (F(0, k) = 0).

    Parameters
    ----------
    p : float or array_like
        Transmission probability in [0, 1]: one number, or a per-CSR-entry
        array (length nnz, aligned with the graph's ``indices``, checked in
        :meth:`rule`).

    References
    ----------
    D. Kempe, J. Kleinberg and E. Tardos, "Maximizing the spread of influence
    through a social network", Proc. KDD 2003, 137-146.

    Examples
    --------
    >>> model = IndependentCascade(0.5)
    >>> model.response([0, 1, 2], 2)
    array([0.  , 0.5 , 0.75])
    >>> from cascades.graphs import from_edges
    >>> model.rule(from_edges([(0, 1)])).p_edge
    array([0.5, 0.5])
    """

    p: float | np.ndarray

    def __post_init__(self):
        p = self.p
        if _is_distribution(p):
            raise ValueError("p must be a probability in [0, 1] or a per-CSR-entry array, not a distribution")
        object.__setattr__(self, "p", _real_param("p", p, low=0, high=1))

    @property
    def has_response(self) -> bool:
        """False only for a per-edge array p with unequal entries."""
        return not _unequal_array(self.p)

    def response(self, m, k):
        """F(m, k) = 1 - (1 - p)^m.

        Raises
        ------
        ValueError
            If m or k is not an integer array, is negative, or m > k.
        NotImplementedError
            For a per-edge array p with unequal entries.
        """
        m, k = _check_mk(m, k)
        p = _common_value("p", self.p, "IndependentCascade")
        return _output(1.0 - (1.0 - p) ** m)

    def rule(self, graph, *, rng=None) -> SimulationRule:
        """The ``"independent"`` rule: ``p_edge`` per CSR entry (``rng`` is not used).

        Raises
        ------
        ValueError
            If a per-edge array p does not have ``graph.nnz`` entries.
        """
        as_generator(rng)  # validates rng, draws nothing
        graph = _check_graph(graph)
        p = _per_edge("p", self.p, graph.nnz)
        rule = SimulationRule("independent", p_edge=np.broadcast_to(np.asarray(p, np.float64), (graph.nnz,)))
        rule.check_graph(graph)
        return rule


@dataclass(frozen=True, eq=False, repr=False)
class FiberBundle(CascadeModel):
    """Fiber bundle model on a network: failing nodes hand their whole load to functional neighbours.

    Every node i carries a load, initially ``initial_load[i]``, and has a
    capacity (threshold) ``capacity[i]``. A functional node fails when its
    load exceeds its capacity. A node that fails at step t passes its full
    current load (its initial load plus everything it has received) in equal
    parts to its neighbours that are still functional after step t; failed
    nodes carry and receive no load. The dynamics runs in synchronous rounds:

    * step 0: the seeds of the simulation fail;
    * step t + 1: the nodes failed at step t share their loads as above
      (none of it goes to a node failing at step t; a node without
      functional neighbours loses its load), then every functional node
      whose load exceeds its capacity fails at step t + 1. In particular a
      node with initial load above its capacity fails at step 1, so a
      cascade can start without seeds when some capacities lie below the
      initial load (as when the capacities are random).

    Loads travel along CSR rows (out-neighbours on a directed graph); a
    repeated CSR entry receives a share per entry. Which nodes fail depends on
    the order of the failures (the shared load grows with what a node has
    received before it fails), so the model is not monotone
    (``monotone = False``): only synchronous dynamics is defined, and there
    is no response function (``has_response = False``).

    Parameters
    ----------
    capacity : float, array_like or frozen distribution
        The capacities: one number, a per-node array (length n, checked in
        :meth:`rule`), or a frozen ``scipy.stats`` distribution drawn once
        per node in :meth:`rule` (iid capacities). Any real value; ``inf``
        means the node never fails; NaN and ``-inf`` are refused.
    initial_load : float or array_like
        The load every node carries before the cascade: a number >= 0
        (default 1.0) or a per-node array of such numbers.

    Notes
    -----
    This is the fiber bundle example of Burkholz & Schweitzer (2018),
    Sec. 1.2.1: iid thresholds, an initial load on every node, and the local
    load-sharing rule "a failing node shares its full load equally among its
    still functional neighbours", whose history dependence their framework
    handles by tracking the distribution of the load received so far. The
    conventions that the paper leaves implicit are fixed here as above:
    failure means load > capacity (simulated with a round-off tolerance of
    1e-12, as ``load > capacity + 1e-12``), nodes failing in the same round do
    not receive each other's load, and load sent to no functional neighbour
    is lost. The equation numbers of the paper could not be checked against
    its text for this docstring.

    References
    ----------
    R. Burkholz and F. Schweitzer, "A framework for cascade size calculations
    on random networks", Phys. Rev. E 97, 042312 (2018), arXiv:1701.06970,
    Sec. 1.2.1.

    Examples
    --------
    >>> from scipy import stats
    >>> from cascades.graphs import from_edges
    >>> path = from_edges([(0, 1), (1, 2)])
    >>> model = FiberBundle(stats.uniform(1, 2), initial_load=1.0)
    >>> model
    FiberBundle(capacity=uniform(1, 2), initial_load=1.0)
    >>> rule = model.rule(path, rng=0)
    >>> rule.kind, rule.initial_load
    ('fiber', array([1., 1., 1.]))
    >>> bool((rule.capacity >= 1).all() and (rule.capacity <= 3).all())
    True
    >>> model.monotone, model.has_response
    (False, False)
    """

    monotone: ClassVar[bool] = False
    has_response: ClassVar[bool] = False

    capacity: float | np.ndarray | object
    initial_load: float | np.ndarray = 1.0

    def __post_init__(self):
        object.__setattr__(self, "capacity", _real_param("capacity", self.capacity, allow_posinf=True))
        initial_load = self.initial_load
        if _is_distribution(initial_load):
            raise ValueError("initial_load must be a number >= 0 or a per-node array, not a distribution")
        object.__setattr__(self, "initial_load", _real_param("initial_load", initial_load, low=0))

    def response(self, m, k):
        """Not defined: the fiber bundle model is history dependent.

        Raises
        ------
        NotImplementedError
            Always: whether a node fails depends on the loads its neighbours
            had accumulated when they failed, not on (m, k) alone.
        """
        raise NotImplementedError(
            "FiberBundle has no response function F(m, k): the model is history dependent (a failing node "
            "passes on all the load it has accumulated), so whether a node fails is not a function of its "
            "number of failed neighbours"
        )

    def rule(self, graph, *, rng=None) -> SimulationRule:
        """The ``"fiber"`` rule: capacity (drawn with ``rng`` if random) and initial load per node.

        Raises
        ------
        ValueError
            If a per-node array does not have ``graph.n`` entries, or a drawn
            capacity is NaN or ``-inf``.
        """
        gen = as_generator(rng)
        graph = _check_graph(graph)
        capacity = _per_node("capacity", self.capacity, graph.n, gen)
        if isinstance(capacity, np.ndarray):
            _check_reals("capacity", capacity, allow_posinf=True)
        initial_load = _per_node("initial_load", self.initial_load, graph.n, None)
        rule = SimulationRule(
            "fiber",
            capacity=np.broadcast_to(np.asarray(capacity, np.float64), (graph.n,)),
            initial_load=np.broadcast_to(np.asarray(initial_load, np.float64), (graph.n,)),
        )
        rule.check_graph(graph)
        return rule


def _check_bool(name: str, value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")
