"""The :class:`Graph` value and the random-graph generators.

A graph is stored once, in compressed sparse row (CSR) form, as an immutable
:class:`Graph`: ``indptr`` (int64, length n + 1) and ``indices`` (int32 while
n < 2**31, else int64), with the neighbours of node i in
``indices[indptr[i]:indptr[i + 1]]``. Every generator here returns that form
directly, built by the numba kernels of :mod:`cascades._graph_kernels` in
O(n + m) time, without Python loops over nodes or edges.

Conventions
-----------
* Rows are sorted ascending (every generator guarantees it; the kernels of the
  package rely on it).
* Undirected graphs are stored symmetric: an edge {i, j} appears in row i and
  in row j, and :attr:`Graph.m` counts it once. An undirected self-loop is
  stored twice in row i, so it adds 2 to the degree of i (the convention of
  networkx and of Newman, *Networks*, 2nd ed., sec. 6.2, where A_ii = 2).
* Directed graphs store out-neighbours: row i lists the j with an edge
  i -> j. :meth:`Graph.transpose` gives the in-neighbour CSR.
* Multigraphs (from ``"keep"`` policies) store a repeated edge as repeated
  entries.
* Randomness enters through the keyword-only ``rng`` argument
  (``None``, an ``int`` seed or a :class:`numpy.random.Generator`; see
  :mod:`cascades._rng`). A Generator is used and advanced in place.

Validation and the trusted path
-------------------------------
Every kernel of the package indexes arrays with the ids it reads from a CSR,
so a Graph is a checked value: whatever builds one from outside data (the
constructors ``Graph(...)`` and ``LayeredGraph(...)``, which
:func:`dataclasses.replace` also calls, :meth:`Graph.from_csr`,
:func:`from_edges`, :func:`from_networkx` and :func:`load`) runs
:func:`_check_csr`, one O(n + m) numba pass
(:func:`cascades._graph_kernels.csr_defect`): ``indptr`` int64, starting at
0, never decreasing and ending at ``len(indices)``; ``indices`` int32 (only
while n < 2**31) or int64, ids in [0, n), rows sorted ascending; an
undirected graph symmetric with every self-loop stored twice; and for a
:class:`LayeredGraph`, positive widths summing to n and every edge going
from layer l to layer l + 1. Failures raise ValueError naming the array and
the defect.

The *trusted path* is the private classmethod ``Graph._trusted(...)``: it
calls the ordinary constructor with a :mod:`contextvars` flag set for that
one call only, and the O(n + m) pass is skipped (the O(1) shape and dtype
checks still run). Only arrays this module has just built itself go that
way: the generators, :meth:`Graph.transpose`, and the conversions after their
own checks. The flag is a context variable, so a trusted construction in one
thread never lets an unchecked one through in another, and it is never set
while user code runs.

The guard on memory (:func:`cascades._memory.check_memory`) runs before every
allocation that grows with a user's input (a node count, a degree sum, the
largest id of an edge list, the sizes in a file's header), with the peak
estimated in Python integers.

Generators
----------
:func:`erdos_renyi`, :func:`configuration_model`, :func:`random_regular`,
:func:`layered` (feed-forward DAG of random bipartite layers, the topology of
a sparse MLP, returned as a :class:`LayeredGraph`). Conversions:
:func:`from_edges`, :func:`from_networkx`, :func:`to_networkx`,
:meth:`Graph.to_scipy`, :func:`save` / :func:`load`.
"""

from __future__ import annotations

import contextvars
import json
import math
import numbers
import os
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np

from . import _graph_kernels as _k
from ._arrays import readonly as _readonly
from ._memory import check_memory
from ._rng import as_generator
from ._validation import check_int, check_int_array, check_probability, check_real

__all__ = [
    "Graph",
    "LayeredGraph",
    "erdos_renyi",
    "configuration_model",
    "random_regular",
    "layered",
    "from_edges",
    "from_networkx",
    "to_networkx",
    "save",
    "load",
]

_FORMAT_VERSION = 1
_POLICIES = ("erase", "keep")


def _index_dtype(n: int) -> type:
    """int32 node ids while they fit, int64 beyond."""
    return np.int32 if n < 2**31 else np.int64


def _id_bytes(n: int) -> int:
    """Bytes per node id for a graph on n nodes."""
    return np.dtype(_index_dtype(n)).itemsize


# ---------------------------------------------------------------------------
# Validation (one place) and the trusted path
# ---------------------------------------------------------------------------

# True only inside Graph._trusted(...): the arrays come from this module's own kernels.
_TRUSTED: contextvars.ContextVar[bool] = contextvars.ContextVar("cascades_graph_trusted", default=False)

_UNSORTED_HINT = (
    "Graph(...) takes the arrays over without copying and cannot sort them; "
    "use Graph.from_csr(indptr, indices), which sorts a copy"
)


def _check_arrays(indptr, indices) -> tuple[np.ndarray, np.ndarray]:
    """O(1) checks of the CSR arrays' kind, shape and dtype; return them as ndarrays."""
    if isinstance(indptr, Graph) or isinstance(indices, Graph):
        raise TypeError("indptr and indices must be arrays, got a Graph")
    indptr = np.asarray(indptr)
    indices = np.asarray(indices)
    if indptr.ndim != 1 or indptr.shape[0] < 1 or indptr.dtype != np.int64:
        raise ValueError(
            f"indptr must be a 1-dimensional int64 array of length n + 1 >= 1, "
            f"got dtype {indptr.dtype} and shape {indptr.shape}"
        )
    n = indptr.shape[0] - 1
    if indices.ndim != 1 or indices.dtype not in (np.int32, np.int64):
        raise ValueError(
            f"indices must be a 1-dimensional int32 or int64 array, "
            f"got dtype {indices.dtype} and shape {indices.shape}"
        )
    if indices.dtype == np.int32 and n >= 2**31:
        raise ValueError(f"indices must be int64 when n >= 2**31 (n = {n}), got int32")
    if indptr[0] != 0 or indptr[-1] != indices.shape[0]:
        raise ValueError(
            f"indptr must start at 0 and end at len(indices) = {indices.shape[0]}, "
            f"got indptr[0] = {indptr[0]} and indptr[-1] = {indptr[-1]}"
        )
    return indptr, indices


def _check_csr(indptr, indices, directed: bool) -> None:
    """Raise ValueError unless (indptr, indices) is a valid CSR for this package. O(n + m).

    The arrays must already have passed :func:`_check_arrays` (int64 indptr,
    int32/int64 indices, 1-dimensional). See the module docstring for the list
    of checks; the messages name ``indptr`` or ``indices`` and the first defect.
    """
    code, a, b = _k.csr_defect(indptr, indices, not directed)
    a, b = int(a), int(b)
    n = indptr.shape[0] - 1
    if code == _k.CSR_OK:
        return
    if code == _k.CSR_START:
        raise ValueError(f"indptr must start at 0, got indptr[0] = {a}")
    if code == _k.CSR_END:
        raise ValueError(f"indptr must end at len(indices) = {indices.shape[0]}, got indptr[-1] = {a}")
    if code == _k.CSR_DECREASING:
        raise ValueError(
            f"indptr must never decrease, got indptr[{a + 1}] = {indptr[a + 1]} < indptr[{a}] = {indptr[a]}"
        )
    if code == _k.CSR_RANGE:
        raise ValueError(
            f"indices must hold node ids in [0, {n - 1}] (n = {n}); entry {b} (row {a}) is {indices[b]}"
        )
    if code == _k.CSR_UNSORTED:
        raise ValueError(
            f"indices: every row must be sorted ascending, but row {a} has {indices[b]} after "
            f"{indices[b - 1]} (entry {b}); {_UNSORTED_HINT}"
        )
    if code == _k.CSR_ASYMMETRIC:
        raise ValueError(
            f"indices: an undirected graph must be stored symmetric (edge {a} -> {b} lacks {b} -> {a}); "
            "pass directed=True for a directed graph"
        )
    if code == _k.CSR_LOOP_ONCE:
        raise ValueError(
            f"indices: an undirected self-loop must be stored twice in its row (row {a} has it {b} time(s))"
        )
    raise AssertionError(f"unknown CSR defect code {code}")


# ---------------------------------------------------------------------------
# The Graph value
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Graph:
    """An immutable graph in CSR form.

    Construct graphs with the generators of this module or with
    :meth:`Graph.from_csr` (which copies, converts and sorts the rows). The
    plain constructor takes the arrays over without copying, makes them
    read-only and validates them in O(n + m) (see the module docstring); as
    it does not copy, it cannot sort, and rejects unsorted rows. Do not keep
    writing to the arrays through another view after handing them over.

    Parameters
    ----------
    indptr : numpy.ndarray
        Row pointers, int64, length n + 1, starting at 0, never decreasing,
        ending at ``len(indices)``.
    indices : numpy.ndarray
        Column indices (neighbour ids) in [0, n), int32 (only while
        n < 2**31) or int64; each row sorted ascending. Undirected: the CSR
        is symmetric and a self-loop is stored twice in its row.
    directed : bool
        False (default): symmetric storage, each edge in both rows. True:
        row i holds the out-neighbours of i.
    info : Mapping
        Read-only provenance: ``"generator"`` and its parameters, and for
        generators that clean up multigraphs ``"self_loops_erased"`` and
        ``"multi_edges_erased"``. Ignored by ``==``.

    Raises
    ------
    ValueError
        If the arrays are not a valid CSR; the message names ``indptr`` or
        ``indices`` and the first defect.

    Attributes
    ----------
    n, m : int
        Numbers of nodes and of edges (an undirected edge counts once).
    degrees : numpy.ndarray
        Row lengths (int64): degrees, or out-degrees if directed.
    in_degrees, out_degrees : numpy.ndarray
        In- and out-degrees (both equal to ``degrees`` when undirected).

    Examples
    --------
    >>> g = Graph.from_csr([0, 1, 3, 4], [1, 0, 2, 1])
    >>> g
    Graph(n=3, m=2, undirected)
    >>> g.degrees
    array([1, 2, 1])
    >>> g.neighbors(1)
    array([0, 2], dtype=int32)
    >>> g.to_scipy().toarray()
    array([[0., 1., 0.],
           [1., 0., 1.],
           [0., 1., 0.]])
    """

    indptr: np.ndarray
    indices: np.ndarray
    directed: bool = False
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        indptr, indices = _check_arrays(self.indptr, self.indices)
        if not isinstance(self.directed, bool | np.bool_):
            raise TypeError(f"directed must be a bool, got {type(self.directed).__name__}")
        if not isinstance(self.info, Mapping):
            raise TypeError(f"info must be a Mapping, got {type(self.info).__name__}")
        if not _TRUSTED.get():
            _check_csr(indptr, indices, bool(self.directed))
        object.__setattr__(self, "indptr", _readonly(indptr))
        object.__setattr__(self, "indices", _readonly(indices))
        object.__setattr__(self, "directed", bool(self.directed))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    # -- construction -----------------------------------------------------

    @classmethod
    def _trusted(cls, indptr, indices, **fields):
        """Construct from arrays this module's kernels have just built, skipping the O(n + m) checks.

        Private: the trusted path of the module docstring. ``fields`` are the
        other dataclass fields (``directed``, ``info``, ``widths``).
        """
        token = _TRUSTED.set(True)
        try:
            return cls(indptr, indices, **fields)
        finally:
            _TRUSTED.reset(token)

    @classmethod
    def from_csr(cls, indptr, indices, *, directed=False, validate=True, info=None):
        """Build a graph from CSR arrays (copied), checking them by default.

        Parameters
        ----------
        indptr, indices : array_like of int
            CSR row pointers and column indices. Rows need not be sorted:
            they are sorted on the copy.
        directed : bool
            Whether row i lists the out-neighbours of a directed graph.
        validate : bool
            Deprecated, kept for compatibility: the checks always run (that
            ``indptr`` starts at 0, never decreases and ends at
            ``len(indices)``, that the ids lie in [0, n), and, for an
            undirected graph, that the CSR is symmetric with every self-loop
            stored twice; O(n + m), about the cost of the copy), since every
            kernel indexes memory with these ids. ``validate=False`` only
            emits a DeprecationWarning.
        info : Mapping, optional
            Provenance to attach.

        Raises
        ------
        ValueError
            If a check fails; the message names ``indptr`` or ``indices``.

        Examples
        --------
        >>> Graph.from_csr([0, 1, 1], [1]).m  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: indices: an undirected graph must be stored symmetric (edge 0 -> 1 lacks 1 -> 0); pass ...
        >>> Graph.from_csr([0, 1, 1], [1], directed=True).m
        1
        """
        if not validate:
            import warnings

            warnings.warn(
                "Graph.from_csr(validate=False) is deprecated and ignored: the arrays are always checked",
                DeprecationWarning,
                stacklevel=2,
            )
        if not isinstance(directed, bool | np.bool_):
            raise TypeError(f"directed must be a bool, got {type(directed).__name__}")
        indptr = np.array(check_int_array("indptr", indptr, low=0), dtype=np.int64)  # own copy
        if indptr.shape[0] < 1:
            raise ValueError("indptr must have length n + 1 >= 1")
        n = indptr.shape[0] - 1
        indices = check_int_array("indices", indices, low=0, high=max(n - 1, 0))
        indices = np.array(indices, dtype=_index_dtype(n))  # always a private copy
        code, _, _ = _k.csr_defect(indptr, indices, False)
        if code == _k.CSR_UNSORTED:  # indptr is sound (it is checked first): sort the copy
            _k._sort_rows(indptr, indices)
        _check_csr(indptr, indices, bool(directed))
        return cls._trusted(indptr, indices, directed=bool(directed), info=info or {})

    # -- sizes and degrees ------------------------------------------------

    @property
    def n(self) -> int:
        """Number of nodes."""
        return self.indptr.shape[0] - 1

    @property
    def nnz(self) -> int:
        """Number of stored CSR entries (2m for an undirected graph)."""
        return self.indices.shape[0]

    @property
    def m(self) -> int:
        """Number of edges; an undirected edge (or self-loop) counts once."""
        return self.nnz if self.directed else self.nnz // 2

    @cached_property
    def degrees(self) -> np.ndarray:
        """Row lengths, int64 (out-degrees of a directed graph)."""
        return _readonly(np.diff(self.indptr))

    @property
    def out_degrees(self) -> np.ndarray:
        """Out-degrees (the degrees of an undirected graph)."""
        return self.degrees

    @cached_property
    def in_degrees(self) -> np.ndarray:
        """In-degrees, int64 (the degrees of an undirected graph)."""
        if not self.directed:
            return self.degrees
        out = np.zeros(self.n, dtype=np.int64)
        _k.in_degree_counts(self.indices, self.n, out)
        return _readonly(out)

    @property
    def mean_degree(self) -> float:
        """Mean degree 2m / n (mean out-degree m / n if directed); 0.0 for n = 0."""
        return self.nnz / self.n if self.n else 0.0

    @property
    def max_degree(self) -> int:
        """Largest row length (0 for n = 0)."""
        return int(self.degrees.max()) if self.n else 0

    def neighbors(self, i) -> np.ndarray:
        """Neighbours of node ``i`` (out-neighbours if directed), a read-only view, sorted."""
        i = check_int("i", i, low=0, high=self.n - 1)
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    # -- structure checks -------------------------------------------------

    @cached_property
    def _counts(self) -> tuple[int, int, int]:
        loop_entries = 1 if self.directed else 2
        return _k.loop_and_duplicate_counts(self.indptr, self.indices, loop_entries)

    @property
    def n_self_loops(self) -> int:
        """Number of self-loops (each counted once)."""
        loops = self._counts[0]
        return loops if self.directed else loops // 2

    @property
    def n_multi_edges(self) -> int:
        """Number of surplus copies of repeated edges (0 for a graph without multi-edges)."""
        dups = self._counts[1]
        return dups if self.directed else dups // 2

    @property
    def n_isolated(self) -> int:
        """Number of nodes without any neighbour (neither in- nor out-neighbours if directed)."""
        if self.directed:
            return int(np.count_nonzero((self.degrees == 0) & (self.in_degrees == 0)))
        return self._counts[2]

    @property
    def is_simple(self) -> bool:
        """True when the graph has neither self-loops nor multi-edges."""
        return self._counts[0] == 0 and self._counts[1] == 0

    # -- derived graphs and arrays ----------------------------------------

    def transpose(self) -> Graph:
        """The reversed graph: row i lists the in-neighbours of i (self if undirected).

        O(n + m) counting sort; the rows come out sorted. The result is a
        plain directed :class:`Graph` (``info["transposed"]`` flips).

        Examples
        --------
        >>> g = from_edges([[0, 1], [0, 2], [1, 2]], directed=True)
        >>> g.transpose().neighbors(2)
        array([0, 1], dtype=int32)
        """
        if not self.directed:
            return self
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        indices = np.empty_like(self.indices)
        _k.transpose_csr(self.indptr, self.indices, self.n, indptr, indices)
        info = dict(self.info)
        info["transposed"] = not info.get("transposed", False)
        return Graph._trusted(indptr, indices, directed=True, info=info)

    reverse = transpose

    def edges(self) -> np.ndarray:
        """The edge list as an (m, 2) array, each undirected edge once as (i, j), i <= j.

        Directed edges are (source, target), in CSR order.
        """
        n, dtype = self.n, self.indices.dtype
        if self.directed:
            out = np.empty((self.nnz, 2), dtype=dtype)
            out[:, 0] = np.repeat(np.arange(n, dtype=dtype), self.degrees)
            out[:, 1] = self.indices
            return out
        out = np.empty((self.m, 2), dtype=dtype)
        written = _k.undirected_edge_list(self.indptr, self.indices, out)
        assert written == self.m
        return out

    def to_scipy(self, dtype=np.float64):
        """Adjacency matrix as a ``scipy.sparse.csr_array`` of shape (n, n).

        Row i holds the (out-)edges of i; entries count edges, so a repeated
        edge gives its multiplicity and an undirected self-loop gives
        A[i, i] = 2 (row sums equal the degrees). For a simple graph the
        index arrays are shared, read-only, with the graph.
        """
        from scipy import sparse

        n, nnz = self.n, self.nnz
        idx_t = np.int32 if max(n, nnz) < 2**31 else np.int64
        indptr = self.indptr.astype(idx_t, copy=False)
        indices = self.indices.astype(idx_t, copy=False)
        data = np.ones(nnz, dtype=dtype)
        if self.is_simple:
            return sparse.csr_array((data, indices, indptr), shape=(n, n), copy=False)
        a = sparse.csr_array((data, indices.copy(), indptr.copy()), shape=(n, n))
        a.sum_duplicates()
        return a

    # -- text and comparison ----------------------------------------------

    def _describe(self) -> str:
        return "directed" if self.directed else "undirected"

    def __repr__(self) -> str:
        gen = self.info.get("generator")
        tail = f", generator={gen!r}" if gen else ""
        return f"{type(self).__name__}(n={self.n}, m={self.m}, {self._describe()}{tail})"

    def summary(self) -> str:
        """A short multi-line description: sizes, degrees, loops, isolated nodes, provenance.

        Examples
        --------
        >>> print(from_edges([[0, 1], [1, 2]], n=4).summary())
        Graph, undirected
          nodes: 4
          edges: 2
          mean degree: 1
          max degree: 2
          self-loops: 0
          multi-edges: 0
          isolated nodes: 1
          generator: from_edges (self_loops_erased=0, multi_edges_erased=0)
        """
        d = "out-" if self.directed else ""
        lines = [
            f"{type(self).__name__}, {self._describe()}",
            f"  nodes: {self.n}",
            f"  edges: {self.m}",
            f"  mean {d}degree: {self.mean_degree:.6g}",
            f"  max {d}degree: {self.max_degree}",
            f"  self-loops: {self.n_self_loops}",
            f"  multi-edges: {self.n_multi_edges}",
            f"  isolated nodes: {self.n_isolated}",
        ]
        info = dict(self.info)
        if info:
            gen = info.pop("generator", "?")
            params = ", ".join(f"{key}={value}" for key, value in info.items())
            lines.append(f"  generator: {gen}" + (f" ({params})" if params else ""))
        return "\n".join(lines)

    def __eq__(self, other) -> bool:
        """Structural equality: same ``directed``, ``indptr`` and ``indices`` (``info`` ignored).

        Two :class:`LayeredGraph` objects must also have the same widths.
        """
        if not isinstance(other, Graph):
            return NotImplemented
        if isinstance(self, LayeredGraph) and isinstance(other, LayeredGraph):
            if self.widths != other.widths:
                return False
        return (
            self.directed == other.directed
            and np.array_equal(self.indptr, other.indptr)
            and np.array_equal(self.indices, other.indices)
        )

    __hash__ = None  # mutable-free but array-valued: not hashable, like numpy arrays

    def __reduce__(self):
        """Pickle through the checked constructor (``info`` as a plain dict), e.g. to send a graph to a
        process pool or a Dask worker; the arrays are validated again when unpickled."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["info"] = dict(values["info"])
        return (_unpickle_graph, (type(self), values))

    @property
    def nbytes(self) -> int:
        """Bytes held by the CSR arrays."""
        return self.indptr.nbytes + self.indices.nbytes

    def save(self, path, *, compressed=False) -> None:
        """Write the graph to an ``.npz`` file; see :func:`save`."""
        save(self, path, compressed=compressed)


def _unpickle_graph(cls, values):
    return cls(**values)


@dataclass(frozen=True, eq=False)
class LayeredGraph(Graph):
    """A feed-forward DAG of node layers: the connection topology of a sparse MLP.

    Nodes are numbered layer by layer: layer l (0 <= l <= L) holds the ids
    ``offsets[l] .. offsets[l + 1] - 1``. Every edge goes from a node of
    layer l - 1 to a node of layer l; the graph is directed and its rows list
    the out-neighbours (the rows of the last layer are empty).

    Attributes
    ----------
    widths : tuple of int
        The layer widths (n_0, ..., n_L).
    n_layers : int
        L = len(widths) - 1, the number of connection (weight) layers.
    offsets : numpy.ndarray
        int64, length L + 2: ``offsets[l]`` is the first node id of layer l
        and ``offsets[L + 1] == n``.

    Examples
    --------
    >>> g = layered([4, 3, 2], 1.0, rng=0)
    >>> g.n_layers, g.n, g.m
    (2, 9, 18)
    >>> g.mask(2, dense=True).shape
    (2, 3)
    >>> g.layer_nodes(1)
    array([4, 5, 6])
    """

    widths: tuple[int, ...] = ()

    def __post_init__(self):
        super().__post_init__()
        if not self.directed:
            raise ValueError("directed must be True: a LayeredGraph is directed (rows list out-neighbours)")
        widths = self.widths
        if isinstance(widths, np.ndarray):
            widths = widths.tolist()
        if isinstance(widths, str | bytes) or not isinstance(widths, tuple | list):
            raise TypeError(f"widths must be a tuple of layer widths, got {type(widths).__name__}")
        widths = tuple(check_int(f"widths[{i}]", w, low=1) for i, w in enumerate(widths))
        if len(widths) < 2 or sum(widths) != self.n:
            raise ValueError(
                f"widths must list at least two layer widths >= 1 summing to n = {self.n}, got {list(widths)}"
            )
        object.__setattr__(self, "widths", widths)
        if not _TRUSTED.get():
            row, x = (int(v) for v in _k.layered_defect(self.indptr, self.indices, self.offsets))
            if row >= 0:
                l = self.layer_of(row)
                raise ValueError(
                    f"indices: every edge of a LayeredGraph must go from layer l to layer l + 1, but "
                    f"node {row} of layer {l} has an edge to node {self.indices[x]}"
                    + (
                        f" (layer {l + 1} is nodes {self.offsets[l + 1]}..{self.offsets[l + 2] - 1})"
                        if l < self.n_layers
                        else f" (layer {l} is the last one)"
                    )
                )

    @property
    def n_layers(self) -> int:
        """L, the number of connection layers (len(widths) - 1)."""
        return len(self.widths) - 1

    @cached_property
    def offsets(self) -> np.ndarray:
        """First node id of each layer, followed by n (length L + 2)."""
        out = np.zeros(len(self.widths) + 1, dtype=np.int64)
        np.cumsum(self.widths, out=out[1:])
        return _readonly(out)

    def layer_of(self, node):
        """Layer index of ``node`` (an int or an integer array)."""
        nodes = np.asarray(node)
        if nodes.dtype.kind not in "iu" or np.any((nodes < 0) | (nodes >= self.n)):
            raise ValueError(f"node must hold integers in [0, {self.n - 1}], got {node!r}")
        layer = np.searchsorted(self.offsets, nodes, side="right") - 1
        return int(layer) if layer.ndim == 0 else layer

    def layer_nodes(self, l) -> np.ndarray:
        """Node ids of layer ``l`` (0 <= l <= L)."""
        l = check_int("l", l, low=0, high=self.n_layers)
        return np.arange(self.offsets[l], self.offsets[l + 1])

    def mask(self, l, *, dense=False, dtype=bool):
        """Connection mask of layer ``l`` (1 <= l <= L), in PyTorch's weight layout.

        Shape (n_l, n_{l-1}) = (out_features, in_features): entry [j, i] is
        True when node i of layer l - 1 feeds node j of layer l, so
        ``weight * mask`` masks an ``nn.Linear(n_{l-1}, n_l).weight``.

        Parameters
        ----------
        l : int
            Connection layer, 1 <= l <= L.
        dense : bool
            False (default): ``scipy.sparse.csr_array``; True: dense numpy array.
        dtype : numpy dtype
            Entry type (default bool).
        """
        from scipy import sparse

        l = check_int("l", l, low=1, high=self.n_layers)
        src0, src1 = int(self.offsets[l - 1]), int(self.offsets[l])
        a, b = self.widths[l - 1], self.widths[l]
        lo, hi = int(self.indptr[src0]), int(self.indptr[src1])
        sub_indptr = self.indptr[src0 : src1 + 1] - lo
        sub_indices = self.indices[lo:hi] - self.indices.dtype.type(src1)
        if dense:
            check_memory(
                b * a * np.dtype(dtype).itemsize + 8 * (hi - lo),
                parameter=f"mask({l}, dense=True) of a {b} x {a} layer",
                what="the dense mask; the sparse one (dense=False) holds only the edges",
            )
            out = np.zeros((b, a), dtype=dtype)
            rows = np.repeat(np.arange(a), np.diff(sub_indptr))
            out[sub_indices, rows] = 1
            return out
        t_indptr = np.zeros(b + 1, dtype=np.int64)
        t_indices = np.empty_like(sub_indices)
        _k.transpose_csr(sub_indptr, sub_indices, b, t_indptr, t_indices)
        idx_t = np.int32 if hi - lo < 2**31 else np.int64
        return sparse.csr_array(
            (np.ones(hi - lo, dtype=dtype), t_indices.astype(idx_t), t_indptr.astype(idx_t)),
            shape=(b, a),
        )

    def _describe(self) -> str:
        return f"widths={list(self.widths)}"

    def __repr__(self) -> str:
        return f"LayeredGraph(widths={list(self.widths)}, m={self.m})"


# ---------------------------------------------------------------------------
# Erdos-Renyi
# ---------------------------------------------------------------------------


def _initial_capacity(pairs: float, p: float) -> int:
    """Buffer size that holds a Binomial(pairs, p) edge count with overwhelming probability."""
    mean = pairs * p
    return int(min(pairs, mean + 8.0 * math.sqrt(mean + 1.0) + 1024))


def _bucket_shift(n: int) -> int:
    """log2 of the rows per bucket in the cache-blocked transpose: about 256 buckets, >= 1024 rows."""
    return max(10, math.ceil(math.log2(max(n, 1) / 256)))


def _er_peak_bytes(n: int, p: float) -> int:
    """Peak bytes of :func:`erdos_renyi`, in Python ints.

    ``indptr`` (8 (n + 1)), ``lower`` (n ids), the edge buffer (capacity ids)
    and, inside ``er_symmetrize``, the symmetric ``indices`` (2m ids) and two
    m-id temporaries, with m the expected number of edges.
    """
    if n < 2 or p == 0.0:
        return 8 * (n + 1)
    d = _id_bytes(n)
    pairs = n * (n - 1) // 2
    m = int(pairs * p)
    return 8 * (n + 1) + d * (n + _initial_capacity(float(pairs), p) + 4 * m)


def erdos_renyi(n, mean_degree=None, *, p=None, rng=None) -> Graph:
    """Erdos-Renyi random graph G(n, p), with p = mean_degree / (n - 1).

    Each of the n(n - 1)/2 node pairs is an edge independently with
    probability p. Give exactly one of ``mean_degree`` and ``p``.

    Parameters
    ----------
    n : int
        Number of nodes, >= 0.
    mean_degree : float, optional
        Expected degree c = p (n - 1), in [0, n - 1].
    p : float, optional
        Edge probability, in [0, 1].
    rng : None, int or numpy.random.Generator
        Source of randomness (keyword-only).

    Returns
    -------
    Graph
        Undirected, simple, rows sorted. ``info`` holds ``generator``, ``n``,
        ``p`` and ``mean_degree`` (the expected degree).

    Raises
    ------
    ValueError
        If n < 0, if ``mean_degree`` is outside [0, n - 1], if ``p`` is outside
        [0, 1], or if both or neither of them are given.
    cascades.MemoryLimitError
        If the estimated peak (see Notes) exceeds the available memory or the
        limit set with :func:`cascades.memory_limit`; checked before anything
        is allocated.

    Notes
    -----
    Exact sampling in O(n + m) time by geometric skipping over the pairs in
    lexicographic order (Batagelj & Brandes 2005, algorithm "G(n, p)"): the
    gap to the next present pair is floor(log(1 - U) / log(1 - p)), U uniform
    from ``rng.random()``, one uniform per edge plus one. Pairs (v, w),
    w < v, come out ordered by v then w, i.e. as the sorted rows of the lower
    triangle; the upper triangle is its transpose, built by a cache-blocked
    counting sort (bucket the entries by blocks of rows, then scatter each
    bucket in cache), so every row comes out sorted without a sort. Serial.
    Memory: the graph (8 bytes per edge with int32 ids, plus 8 bytes per
    node) and 12 bytes per edge plus 4 per node of temporaries, 20 m + 12 n
    bytes in all (twice that with the int64 ids of n >= 2**31); this is the
    estimate the memory guard checks: n = 2 * 10^7, mean degree 10 (10^8
    edges, a 0.96 GB graph) is estimated at 2.24 GB and peaks at 2.45 GB
    resident, interpreter included. The uniform stream is numpy's own (the
    generator is passed to the numba kernel), so a seed determines the graph.

    References
    ----------
    V. Batagelj and U. Brandes, "Efficient generation of large random
    networks", Phys. Rev. E 71, 036113 (2005).

    Examples
    --------
    >>> g = erdos_renyi(1000, 5.0, rng=0)
    >>> g.n, g.is_simple, g == erdos_renyi(1000, 5.0, rng=0)
    (1000, True, True)
    >>> abs(g.mean_degree - 5.0) < 0.5
    True
    >>> erdos_renyi(10, 10)
    Traceback (most recent call last):
    ...
    ValueError: mean_degree must be a finite number in [0, 9], got 10.0
    """
    n = check_int("n", n, low=0)
    if (mean_degree is None) == (p is None):
        raise ValueError("give exactly one of mean_degree and p")
    if p is None:
        mean_degree = check_real("mean_degree", mean_degree, low=0, high=max(n - 1, 0))
        p = mean_degree / (n - 1) if n > 1 else 0.0
    else:
        p = check_probability("p", p)
        mean_degree = p * (n - 1) if n > 1 else 0.0
    p = min(p, 1.0)
    check_memory(
        _er_peak_bytes(n, p),
        parameter=f"erdos_renyi(n = {n}, mean_degree = {mean_degree:.6g})",
        what=f"about {int(n * (n - 1) // 2 * p)} edges: the CSR and the generator's working arrays",
    )
    gen = as_generator(rng)
    dtype = _index_dtype(n)
    info = {"generator": "erdos_renyi", "n": n, "p": p, "mean_degree": mean_degree}
    indptr = np.zeros(n + 1, dtype=np.int64)
    if n < 2 or p == 0.0:
        return Graph._trusted(indptr, np.empty(0, dtype=dtype), info=info)

    log_q = math.log1p(-p) if p < 1.0 else -math.inf
    pairs = n * (n - 1) / 2
    lower = np.zeros(n, dtype=dtype)  # lower[v] = #{edges (v, w), w < v}
    buf = np.empty(_initial_capacity(pairs, p), dtype=dtype)
    v, w, filled = 1, -1, 0
    while True:
        v, w, filled = _k.er_lower(gen, n, log_q, v, w, lower, buf, filled)
        if v >= n:
            break
        grown = np.empty(int(buf.shape[0] * 1.5) + 1024, dtype=dtype)  # rare: > 8 sd
        grown[:filled] = buf[:filled]
        buf = grown
    lower_indices = buf[:filled]
    indices = np.empty(2 * filled, dtype=dtype)
    _k.er_symmetrize(lower, lower_indices, _bucket_shift(n), indptr, indices)
    del buf, lower_indices
    return Graph._trusted(indptr, indices, info=info)


# ---------------------------------------------------------------------------
# Configuration model
# ---------------------------------------------------------------------------

_MAX_PARITY_REDRAWS = 1000


def _check_policy(name: str, value: str) -> bool:
    """Return True for "erase", False for "keep"."""
    if value not in _POLICIES:
        raise ValueError(f"{name} must be 'erase' or 'keep', got {value!r}")
    return value == "erase"


def _simplify(indptr, indices, erase_loops, erase_multi, directed):
    """Apply erase policies; return (indptr, indices, loops_erased, multi_erased)."""
    if not (erase_loops or erase_multi):
        return indptr, indices, 0, 0
    out_indptr = np.empty_like(indptr)
    per = 1 if directed else 2
    loops, dups = _k.simplify_csr(indptr, indices, erase_loops, erase_multi, per, out_indptr)
    size = int(out_indptr[-1])
    if size != indices.shape[0]:
        indices = indices[:size].copy()
    return out_indptr, indices, loops // per, dups // per


def _draw_even_degrees(dist, n, gen) -> tuple[np.ndarray, int]:
    degrees = np.array(check_int_array("degrees", dist.sample(n, rng=gen), low=0))  # own copy
    if degrees.shape != (n,):
        raise ValueError(f"degrees.sample(n) must return n = {n} values, got shape {degrees.shape}")
    redraws = 0
    if n == 0:
        return degrees, 0
    while int(degrees.sum()) % 2:
        if redraws == _MAX_PARITY_REDRAWS:
            raise ValueError(
                f"degrees: could not make the sampled degree sum even after {redraws} redraws "
                "(does the distribution put all its mass on odd degrees with n odd?)"
            )
        i = int(gen.integers(n))
        new = check_int_array("degrees", dist.sample(1, rng=gen), low=0)
        degrees[i] = new[0]
        redraws += 1
    return degrees, redraws


def _cm_peak_bytes(n: int, stub_ends: int) -> int:
    """Peak bytes of :func:`configuration_model`: degrees (int64, and a copy), stubs, CSR, cursor."""
    return 8 * 2 * n + 8 * (n + 1) + 8 * n + _id_bytes(n) * 2 * stub_ends


def _check_stub_memory(deg: np.ndarray) -> int:
    """Memory guard on a degree sequence's stubs; return the degree sum.

    The sum is first taken in float64, which cannot overflow, so absurd degrees
    are refused here rather than wrapping around in int64.
    """
    n = deg.shape[0]
    approx = float(deg.sum(dtype=np.float64))
    check_memory(
        _cm_peak_bytes(n, int(approx)),
        parameter=f"configuration_model(n = {n}, degree sum {int(approx)})",
        what="the stubs and the CSR",
    )
    return int(deg.sum()) if approx < 2**62 else int(approx)


def configuration_model(degrees, n=None, *, rng=None, self_loops="erase", multi_edges="erase") -> Graph:
    """Configuration-model random graph with a given degree sequence or distribution.

    Parameters
    ----------
    degrees : array_like of int, or a degree distribution
        Either a degree sequence (non-negative integers with an even sum) or
        an object with a ``.sample(n, *, rng)`` method (for instance
        ``cascades.Poisson``), from which n degrees are drawn.
    n : int, optional
        Number of nodes: required with a distribution; with a sequence it
        must be None or ``len(degrees)``.
    rng : None, int or numpy.random.Generator
        Source of randomness (keyword-only).
    self_loops, multi_edges : {"erase", "keep"}
        What to do with the self-loops and repeated edges that the random
        matching creates. ``"erase"`` (default) deletes them, so the result
        is simple but its degrees can fall below the target; ``"keep"``
        keeps them (a multigraph CSR with repeated entries, each self-loop
        stored twice in its row), so the degree sequence is exact.

    Returns
    -------
    Graph
        Undirected. ``info`` holds ``generator``, ``n``, ``degrees`` (the
        distribution's repr, or ``"sequence"``), the two policies,
        ``self_loops_erased`` and ``multi_edges_erased`` (number of erased
        self-loops, and of erased surplus copies of repeated edges; the
        degree sum drops by twice their total), and for a distribution
        ``parity_redraws``.

    Raises
    ------
    ValueError
        For negative degrees, an odd degree sum, a mismatched or missing
        ``n``, an unknown policy, or a distribution whose sampled sum cannot
        be made even.
    cascades.MemoryLimitError
        If the stubs and the graph would not fit in memory (checked before
        sampling from the distribution's mean, and again on the degree sum).

    Notes
    -----
    Random stub matching (Bollobas 1980; Newman, Strogatz & Watts 2001):
    node i contributes ``degrees[i]`` stubs, the stubs are shuffled
    (``Generator.shuffle``) and consecutive stubs are paired. The symmetric
    CSR is filled by one scatter, rows are sorted, then self-loops and repeated
    entries are removed in place. O(n + m log(max degree)) time; memory: the
    graph plus one 4-byte stub per edge end (8 bytes with the int64 ids of
    n >= 2**31), plus 24 bytes per node.

    With a distribution, the n degrees are drawn with ``dist.sample(n,
    rng=rng)``; if their sum is odd, a uniformly chosen node's degree is
    redrawn from the distribution (and again, with a new node, until the sum
    is even; at most 1000 redraws, then ValueError). For n large this
    changes one degree and leaves the degree law unchanged to O(1/n).

    References
    ----------
    M. E. J. Newman, S. H. Strogatz and D. J. Watts, "Random graphs with
    arbitrary degree distributions and their applications", Phys. Rev. E 64,
    026118 (2001).

    Examples
    --------
    >>> g = configuration_model([3, 3, 2, 2, 1, 1], rng=0, self_loops="keep", multi_edges="keep")
    >>> g.degrees
    array([3, 3, 2, 2, 1, 1])
    >>> h = configuration_model([3, 3, 2, 2, 1, 1], rng=0)
    >>> bool(h.is_simple)
    True
    >>> int(h.degrees.sum()) + 2 * (h.info["self_loops_erased"] + h.info["multi_edges_erased"])
    12
    """
    erase_loops = _check_policy("self_loops", self_loops)
    erase_multi = _check_policy("multi_edges", multi_edges)
    gen = as_generator(rng)
    info: dict[str, Any] = {"generator": "configuration_model"}
    if hasattr(degrees, "sample") and callable(degrees.sample):
        if n is None:
            raise ValueError("n is required when degrees is a degree distribution")
        n = check_int("n", n, low=0)
        try:
            mean = float(degrees.mean)
        except Exception:  # noqa: BLE001 - any sampler will do; its mean is only a hint
            mean = 0.0
        mean = mean if math.isfinite(mean) and mean > 0 else 0.0
        # before sampling: the n degrees (twice) and the CSR of about n * mean stub ends
        check_memory(
            _cm_peak_bytes(n, int(n * mean)),
            parameter=f"configuration_model(n = {n}) with {degrees!r}",
            what=f"the degrees and about {int(n * mean)} stub ends",
        )
        info["degrees"] = repr(degrees)
        deg, redraws = _draw_even_degrees(degrees, n, gen)
        info["parity_redraws"] = redraws
    else:
        deg = check_int_array("degrees", degrees, low=0)
        if n is not None and check_int("n", n, low=0) != deg.shape[0]:
            raise ValueError(f"n must be None or len(degrees) = {deg.shape[0]}, got {n}")
        n = deg.shape[0]
        total = _check_stub_memory(deg)
        if total % 2:
            raise ValueError(f"degrees must have an even sum (a sum of stubs), got sum {total}")
        info["degrees"] = "sequence"
    if info["degrees"] != "sequence":
        _check_stub_memory(deg)
    info.update(n=n, self_loops=self_loops, multi_edges=multi_edges)

    dtype = _index_dtype(n)
    stubs = np.repeat(np.arange(n, dtype=dtype), deg)
    gen.shuffle(stubs)
    indptr = np.empty(n + 1, dtype=np.int64)
    indices = np.empty(stubs.shape[0], dtype=dtype)
    _k.csr_from_stub_pairs(stubs, deg, indptr, indices)
    del stubs
    indptr, indices, loops, multi = _simplify(indptr, indices, erase_loops, erase_multi, False)
    info.update(self_loops_erased=loops, multi_edges_erased=multi)
    return Graph._trusted(indptr, indices, info=info)


# ---------------------------------------------------------------------------
# Random regular graphs
# ---------------------------------------------------------------------------

_REGULAR_METHODS = ("switching", "rejection")
_MAX_PAIRINGS = 1000  # fresh pairings after a stuck switching phase


def _rr_peak_bytes(n: int, k: int) -> int:
    """Peak bytes of :func:`random_regular`, in Python ints.

    Direct (2k <= n - 1): the n k stubs, the n x k neighbour table, a fill
    count per node and ``indptr`` (a rejected pairing briefly holds a second
    copy of the stubs; not counted, the estimate is a lower bound).
    Complement: the base (n - 1 - k)-regular graph and the n k-entry result.
    """
    d = _id_bytes(n)
    if 2 * k > n - 1:
        base = n - 1 - k
        return max(_rr_peak_bytes(n, base), d * n * (base + k) + 2 * 8 * (n + 1))
    return 2 * d * n * k + 8 * n + 8 * (n + 1)


def random_regular(n, k, *, rng=None, method="switching", max_tries=None) -> Graph:
    """Random simple k-regular graph on n nodes.

    Parameters
    ----------
    n : int
        Number of nodes, >= 1 (n = 0 is allowed with k = 0).
    k : int
        Degree, 0 <= k < n, with n * k even.
    rng : None, int or numpy.random.Generator
        Source of randomness (keyword-only).
    method : {"switching", "rejection"}
        ``"switching"`` (default): pairing model, then every self-loop and
        repeated edge is removed by a random switching; O(n k^2) time,
        asymptotically (not exactly) uniform, see Notes. ``"rejection"``:
        redraw the pairing until it is simple, exactly uniform, but the
        expected number of pairings grows like exp((k^2 - 1) / 4), so it is
        practical only for small k (about k <= 6).
    max_tries : int, optional
        ``"rejection"``: maximum number of pairings (default 10000).
        ``"switching"``: maximum number of rejected proposals in a row for one
        edge before a fresh pairing is drawn (default 1000 + 10 n k).

    Returns
    -------
    Graph
        Undirected, simple, every degree equal to k. ``info`` holds
        ``generator``, ``n``, ``k``, ``method``, ``pairings`` (pairings drawn)
        and for switching ``switchings`` (number of switchings applied).

    Raises
    ------
    ValueError
        If k is outside [0, n - 1], if n * k is odd, or for an unknown method.
    RuntimeError
        If ``"rejection"`` exceeds ``max_tries`` pairings, or if the
        switchings get stuck in 1000 fresh pairings (not observed; possible
        in principle only for very small n).
    cascades.MemoryLimitError
        If the stubs and the neighbour table (2 n k ids) would not fit in
        memory.

    Notes
    -----
    Pairing (configuration) model of Bollobas (1980): n k stubs are shuffled
    and paired. Conditioned on being simple, the pairing is exactly uniform
    over k-regular graphs, which ``"rejection"`` exploits. ``"switching"``
    keeps an n x k neighbour table (adjacency tests cost O(k)) and rewires
    each bad edge {a, b} together with a uniformly chosen edge {x, y} into
    {a, x}, {b, y} whenever this creates no loop and no repeated edge. For
    fixed k the pairing has O(1) bad edges (asymptotically Poisson, with
    means (k - 1)/2 loops and (k - 1)^2/4 double edges), so only O(1) edges
    are rewired; the output is close to uniform, with a bias that vanishes as
    n grows, in the spirit of the switching arguments of McKay & Wormald
    (1990) and of Steger & Wormald (1999), whose algorithms are proven
    asymptotically uniform. This method is not one of theirs and carries no
    proof of its own. For k > (n - 1)/2 the complement of a random
    (n - 1 - k)-regular graph is returned (complementing maps the uniform law
    to the uniform law).

    References
    ----------
    B. D. McKay and N. C. Wormald, "Uniform generation of random regular
    graphs of moderate degree", J. Algorithms 11, 52-67 (1990).
    A. Steger and N. C. Wormald, "Generating random regular graphs quickly",
    Combin. Probab. Comput. 8, 377-396 (1999).

    Examples
    --------
    >>> g = random_regular(100, 3, rng=0)
    >>> bool(np.all(g.degrees == 3)), g.is_simple, g.m
    (True, True, 150)
    >>> random_regular(5, 3)
    Traceback (most recent call last):
    ...
    ValueError: n * k must be even, got n = 5, k = 3
    """
    n = check_int("n", n, low=0)
    if n == 0:
        check_int("k", k, low=0, high=0)
        return Graph._trusted(
            np.zeros(1, dtype=np.int64),
            np.empty(0, dtype=np.int32),
            info={"generator": "random_regular", "n": 0, "k": 0, "method": method},
        )
    k = check_int("k", k, low=0, high=n - 1)
    if (n * k) % 2:
        raise ValueError(f"n * k must be even, got n = {n}, k = {k}")
    if method not in _REGULAR_METHODS:
        raise ValueError(f"method must be one of {_REGULAR_METHODS}, got {method!r}")
    if max_tries is not None:
        max_tries = check_int("max_tries", max_tries, low=1)
    check_memory(
        _rr_peak_bytes(n, k),
        parameter=f"random_regular(n = {n}, k = {k})",
        what=f"{n * k // 2} edges: the stubs, the neighbour table and the CSR",
    )
    gen = as_generator(rng)
    if 2 * k > n - 1:
        base = random_regular(n, n - 1 - k, rng=gen, method=method, max_tries=max_tries)
        indptr = np.empty(n + 1, dtype=np.int64)
        indices = np.empty(n * k, dtype=base.indices.dtype)
        _k.complement_csr(base.indptr, base.indices, indptr, indices)
        info = dict(base.info, k=k, complement_of=n - 1 - k)
        return Graph._trusted(indptr, indices, info=info)

    dtype = _index_dtype(n)
    info: dict[str, Any] = {"generator": "random_regular", "n": n, "k": k, "method": method}
    stubs = np.repeat(np.arange(n, dtype=dtype), k)
    nbr = np.empty((n, k), dtype=dtype)
    pairings = 0
    limit = max_tries if max_tries is not None else (10000 if method == "rejection" else 1000 + 10 * n * k)
    while True:
        pairings += 1
        gen.shuffle(stubs)
        ends = stubs.reshape(-1, 2)
        _k.neighbour_table(ends, n, k, nbr)
        if method == "rejection":
            if _k.pairing_is_simple(ends, nbr):
                break
            if pairings >= limit:
                raise RuntimeError(
                    f"no simple pairing in {pairings} tries; use method='switching' for k = {k}"
                )
            stubs = np.repeat(np.arange(n, dtype=dtype), k)
            continue
        switches = _k.regular_pairing_switch(gen, ends, nbr, limit)
        if switches >= 0:
            info["switchings"] = int(switches)
            break
        if pairings >= _MAX_PAIRINGS:
            raise RuntimeError(f"random_regular(n={n}, k={k}): switchings stuck in {pairings} pairings")
        stubs = np.repeat(np.arange(n, dtype=dtype), k)  # stuck (tiny n): start again
    info["pairings"] = pairings
    nbr.sort(axis=1)
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64) if k else np.zeros(n + 1, dtype=np.int64)
    return Graph._trusted(indptr, nbr.reshape(-1), info=info)


# ---------------------------------------------------------------------------
# Layered feed-forward graphs (sparse MLP topologies)
# ---------------------------------------------------------------------------


def _layered_peak_bytes(widths: tuple[int, ...], dens: list[float]) -> int:
    """Peak bytes of :func:`layered`: per-node counts and ``indptr``, every layer's buffer, the result."""
    n = sum(widths)
    d = _id_bytes(n)
    buffers = edges = 0
    for a, b, p in zip(widths[:-1], widths[1:], dens, strict=True):
        if p > 0.0:
            buffers += _initial_capacity(float(a) * b, p)
            edges += int(a * b * p)
    return 8 * n + 8 * (n + 1) + d * (buffers + edges)


def layered(widths, densities, *, rng=None) -> LayeredGraph:
    """Feed-forward DAG of Erdos-Renyi bipartite layers: the topology of a sparse MLP.

    Parameters
    ----------
    widths : sequence of int
        Layer widths (n_0, ..., n_L), each >= 1, at least two layers.
    densities : float or sequence of float
        Edge probabilities (p_1, ..., p_L) in [0, 1]; a scalar is used for
        every layer. Each possible edge i -> j, i in layer l - 1 and j in
        layer l, is present independently with probability p_l.
    rng : None, int or numpy.random.Generator
        Source of randomness (keyword-only).

    Returns
    -------
    LayeredGraph
        Directed (rows = out-neighbours), nodes numbered layer by layer;
        ``mask(l)`` gives layer l in PyTorch's (out_features, in_features)
        layout. ``info`` holds ``generator``, ``widths`` and ``densities``.

    Raises
    ------
    ValueError
        If a width is not a positive integer, a density is outside [0, 1],
        or ``densities`` does not have len(widths) - 1 entries.
    cascades.MemoryLimitError
        If the expected edges (sum of n_{l-1} n_l p_l) would not fit in memory.

    Notes
    -----
    For each layer, geometric skipping (Batagelj & Brandes 2005) over the
    pair index i * n_l + j visits the present pairs in lexicographic order,
    which is CSR order: each row is written sequentially, sorted, in
    O(n_{l-1} + m_l) time. In-degrees of layer l are Binomial(n_{l-1}, p_l),
    out-degrees Binomial(n_l, p_l); :func:`cascades.nn.sparse_signal_propagation` gives their effect
    on signal propagation.

    Examples
    --------
    >>> g = layered([784, 300, 100, 10], [0.1, 0.1, 1.0], rng=0)
    >>> g.n_layers, g.widths
    (3, (784, 300, 100, 10))
    >>> g.mask(3).shape, g.mask(3).nnz
    ((10, 100), 1000)
    >>> bool(np.all(g.layer_of(g.indices) == g.layer_of(np.repeat(np.arange(g.n), g.degrees)) + 1))
    True
    """
    w = check_int_array("widths", widths, low=1)
    if w.shape[0] < 2:
        raise ValueError(f"widths must list at least two layer widths, got {list(w)}")
    L = w.shape[0] - 1
    if isinstance(densities, numbers.Real):
        dens = [check_probability("densities", densities)] * L
    else:
        dens_arr = np.asarray(densities, dtype=float)
        if dens_arr.ndim != 1 or dens_arr.shape[0] != L:
            raise ValueError(
                f"densities must be a number or have len(widths) - 1 = {L} entries, "
                f"got shape {dens_arr.shape}"
            )
        dens = [check_probability(f"densities[{i}]", float(x)) for i, x in enumerate(dens_arr)]
    widths_t = tuple(int(x) for x in w)
    n = sum(widths_t)
    shown = (
        list(widths_t) if L < 8 else f"[{widths_t[0]}, {widths_t[1]}, ..., {widths_t[-1]}] ({L + 1} layers)"
    )
    n_edges = sum(int(a * b * p) for a, b, p in zip(widths_t[:-1], widths_t[1:], dens, strict=True))
    check_memory(
        _layered_peak_bytes(widths_t, dens),
        parameter=f"layered(widths = {shown})",
        what=f"about {n_edges} edges",
    )
    gen = as_generator(rng)
    dtype = _index_dtype(n)
    offsets = np.concatenate([[0], np.cumsum(w)])
    counts = np.zeros(n, dtype=np.int64)
    parts = []
    for l in range(1, L + 1):  # loop over layers, not nodes
        a, b, p = widths_t[l - 1], widths_t[l], dens[l - 1]
        if p == 0.0:
            continue
        log_q = math.log1p(-p) if p < 1.0 else -math.inf
        row_counts = counts[offsets[l - 1] : offsets[l]]
        buf = np.empty(_initial_capacity(float(a) * b, p), dtype=dtype)
        i, j, filled = 0, -1, 0
        while True:
            i, j, filled = _k.bipartite_fill(gen, a, b, log_q, int(offsets[l]), i, j, row_counts, buf, filled)
            if i >= a:
                break
            grown = np.empty(int(buf.shape[0] * 1.5) + 1024, dtype=dtype)
            grown[:filled] = buf[:filled]
            buf = grown
        parts.append(buf[:filled])
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)
    info = {"generator": "layered", "widths": list(widths_t), "densities": dens}
    return LayeredGraph._trusted(indptr, indices, directed=True, info=info, widths=widths_t)


# ---------------------------------------------------------------------------
# Conversions
# ---------------------------------------------------------------------------


def _from_edges_peak_bytes(n: int, m: int, directed: bool, erase: bool) -> int:
    """Peak bytes of :func:`from_edges` on m edges and n nodes, in Python ints.

    The int64 edge array already held (16 m), its two id-typed copies, the
    CSR (``indptr``, and m or 2m entries), the kernel's row cursor, and with
    an erase policy the compacted ``indptr`` and entries.
    """
    d = _id_bytes(n)
    entries = m if directed else 2 * m
    peak = 16 * m + 2 * d * m + 8 * (n + 1) + d * entries + 8 * n
    if erase:
        peak += 8 * (n + 1) + d * entries
    return peak


def from_edges(edges, n=None, *, directed=False, self_loops="keep", multi_edges="keep") -> Graph:
    """Graph from an edge list.

    Parameters
    ----------
    edges : array_like of int, shape (m, 2), or a tuple (sources, targets)
        The edges, one per row, or two equal-length 1-d arrays. (A tuple of
        exactly two 1-d sequences is read as (sources, targets); pass a 2 x 2
        edge list as a list or an array.)
    n : int, optional
        Number of nodes; defaults to the largest id + 1 (0 without edges).
    directed : bool
        Whether (u, v) means u -> v. Undirected edges are stored in both rows.
    self_loops, multi_edges : {"keep", "erase"}
        ``"keep"`` (default) stores the edges exactly as given, repeats
        included; ``"erase"`` drops self-loops / repeated edges (for an
        undirected graph, (u, v) and (v, u) are the same edge). Erased counts
        go to ``info["self_loops_erased"]`` and ``info["multi_edges_erased"]``.

    Raises
    ------
    ValueError
        If an id lies outside [0, n) or the array has the wrong shape.
    TypeError
        If ``directed`` is not a bool.
    cascades.MemoryLimitError
        If the CSR would not fit in memory; without ``n``, a single large id
        makes n large (``indptr`` holds n + 1 int64), and the message names it.

    Examples
    --------
    >>> g = from_edges([[0, 1], [1, 2], [2, 0]])
    >>> g.m, g.degrees.tolist()
    (3, [2, 2, 2])
    >>> from_edges(([0, 0], [1, 1]), multi_edges="erase").m
    1
    >>> from_edges([[0, 5]], n=3)
    Traceback (most recent call last):
    ...
    ValueError: edges must hold integers in [0, 2]; entry 1 is 5
    """
    erase_loops = _check_policy("self_loops", self_loops)
    erase_multi = _check_policy("multi_edges", multi_edges)
    if not isinstance(directed, bool | np.bool_):
        raise TypeError(f"directed must be a bool, got {type(directed).__name__}")
    directed = bool(directed)
    if isinstance(edges, tuple) and len(edges) == 2 and np.ndim(edges[0]) == 1:
        src = check_int_array("edges", edges[0], low=0)
        dst = check_int_array("edges", edges[1], low=0)
        if src.shape != dst.shape:
            raise ValueError(f"edges: sources and targets differ in length ({src.size} != {dst.size})")
    else:
        arr = np.asarray(edges)
        if arr.size == 0:
            arr = arr.reshape(0, 2)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"edges must have shape (m, 2), got {arr.shape}")
        arr = check_int_array("edges", arr, low=0, ndim=2)
        src, dst = arr[:, 0], arr[:, 1]
    top = int(max(src.max(initial=-1), dst.max(initial=-1)))
    if n is None:
        n = top + 1
        parameter = f"from_edges: the largest id {top} (so n = {n})"
    else:
        n = check_int("n", n, low=0)
        parameter = f"from_edges(n = {n})"
    if top >= n:
        check_int_array("edges", np.concatenate([src, dst]), low=0, high=n - 1)
    m = src.shape[0]
    check_memory(
        _from_edges_peak_bytes(n, m, directed, erase_loops or erase_multi),
        parameter=parameter,
        what=f"a CSR of {n + 1} row pointers and {m} edges",
    )
    dtype = _index_dtype(n)
    src = src.astype(dtype)
    dst = dst.astype(dtype)
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices = np.empty(src.shape[0] * (1 if directed else 2), dtype=dtype)
    _k.csr_from_pairs(src, dst, n, not directed, indptr, indices)
    indptr, indices, loops, multi = _simplify(indptr, indices, erase_loops, erase_multi, directed)
    info = {"generator": "from_edges", "self_loops_erased": loops, "multi_edges_erased": multi}
    return Graph._trusted(indptr, indices, directed=directed, info=info)


def from_networkx(G, *, return_labels=False):
    """Graph from a networkx graph, nodes relabelled 0..n-1 in ``G``'s node order.

    Directed graphs stay directed; a MultiGraph's parallel edges become
    repeated entries and self-loops are kept (stored twice in the row if
    undirected). Edge attributes are dropped.

    Parameters
    ----------
    G : networkx.Graph, DiGraph, MultiGraph or MultiDiGraph
    return_labels : bool
        Also return the list ``labels`` with ``labels[i]`` the networkx node
        that became node i.

    Returns
    -------
    Graph, or (Graph, list) with ``return_labels=True``

    Raises
    ------
    TypeError
        If ``G`` is not a networkx graph.

    Notes
    -----
    The arrays built from networkx's adjacency go through the constructor's
    O(n + m) checks like any outside data.

    Examples
    --------
    >>> import networkx as nx
    >>> g, labels = from_networkx(nx.path_graph(["a", "b", "c"]), return_labels=True)
    >>> g.degrees.tolist(), labels
    ([1, 2, 1], ['a', 'b', 'c'])
    >>> from_networkx(None)
    Traceback (most recent call last):
    ...
    TypeError: G must be a networkx graph (Graph, DiGraph, MultiGraph or MultiDiGraph), got NoneType
    """
    import networkx as nx

    if not isinstance(G, nx.Graph):
        raise TypeError(
            f"G must be a networkx graph (Graph, DiGraph, MultiGraph or MultiDiGraph), got {type(G).__name__}"
        )
    labels = list(G.nodes())
    n = len(labels)
    directed = G.is_directed()
    dtype = _index_dtype(n)
    if n == 0:
        graph = Graph(
            np.zeros(1, dtype=np.int64),
            np.empty(0, dtype=dtype),
            directed=directed,
            info={"generator": "from_networkx"},
        )
        return (graph, labels) if return_labels else graph
    a = nx.to_scipy_sparse_array(G, nodelist=labels, weight=None, format="csr", dtype=np.int64)
    a.sort_indices()
    mult = a.data.astype(np.int64)
    rows = np.repeat(np.arange(n), np.diff(a.indptr))
    if not directed:  # networkx puts one count per undirected self-loop on the diagonal
        mult = np.where(rows == a.indices, 2 * mult, mult)
    indices = np.repeat(a.indices.astype(dtype), mult)
    row_len = np.bincount(rows, weights=mult, minlength=n).astype(np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(row_len, out=indptr[1:])
    graph = Graph(indptr, indices, directed=directed, info={"generator": "from_networkx"})
    return (graph, labels) if return_labels else graph


def to_networkx(graph: Graph, *, labels=None):
    """Convert to networkx: Graph / DiGraph, or MultiGraph / MultiDiGraph if edges repeat.

    Nodes are 0..n-1 (or ``labels[i]`` when given). For a
    :class:`LayeredGraph`, each node gets a ``"layer"`` attribute.

    Raises
    ------
    TypeError
        If ``graph`` is not a cascades :class:`Graph`.
    ValueError
        If ``labels`` does not have n entries.

    Examples
    --------
    >>> G = to_networkx(erdos_renyi(50, 3.0, rng=1))
    >>> type(G).__name__, G.number_of_nodes()
    ('Graph', 50)
    """
    import networkx as nx

    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a cascades Graph, got {type(graph).__name__}")

    if graph.n_multi_edges:
        G = nx.MultiDiGraph() if graph.directed else nx.MultiGraph()
    else:
        G = nx.DiGraph() if graph.directed else nx.Graph()
    nodes = list(range(graph.n)) if labels is None else list(labels)
    if len(nodes) != graph.n:
        raise ValueError(f"labels must have n = {graph.n} entries, got {len(nodes)}")
    if isinstance(graph, LayeredGraph):
        layer = graph.layer_of(np.arange(graph.n)).tolist()
        G.add_nodes_from((v, {"layer": l}) for v, l in zip(nodes, layer, strict=True))
    else:
        G.add_nodes_from(nodes)
    pairs = graph.edges().tolist()
    if labels is None:
        G.add_edges_from(pairs)
    else:
        G.add_edges_from((nodes[u], nodes[v]) for u, v in pairs)
    return G


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def save(graph: Graph, path, *, compressed=False) -> None:
    """Write ``graph`` to a NumPy ``.npz`` file (numpy appends ``.npz`` if missing).

    Stored: ``indptr``, ``indices``, ``directed``, ``info`` (as a JSON string;
    values JSON cannot hold are stored as their repr), the class name and,
    for a :class:`LayeredGraph`, ``widths``. No pickles: :func:`load` reads
    the file with ``allow_pickle=False``.

    Parameters
    ----------
    graph : Graph
    path : str or os.PathLike
    compressed : bool
        Use ``numpy.savez_compressed`` (smaller, slower) instead of ``savez``.

    Examples
    --------
    >>> import os, tempfile
    >>> g = erdos_renyi(100, 4.0, rng=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save(g, os.path.join(d, "g.npz"))
    ...     load(os.path.join(d, "g.npz")) == g
    True
    """
    if not isinstance(graph, Graph):
        raise TypeError(f"graph must be a cascades Graph, got {type(graph).__name__}")
    arrays = {
        "format_version": np.array(_FORMAT_VERSION),
        "kind": np.array(type(graph).__name__),
        "indptr": graph.indptr,
        "indices": graph.indices,
        "directed": np.array(graph.directed),
        "info": np.array(json.dumps(dict(graph.info), default=_json_default)),
    }
    if isinstance(graph, LayeredGraph):
        arrays["widths"] = np.array(graph.widths, dtype=np.int64)
    writer = np.savez_compressed if compressed else np.savez
    writer(os.fspath(path), **arrays)


# What numpy and zipfile raise on a damaged, truncated or foreign file (OSError, for a missing
# or unreadable file, is left to propagate).
_FILE_ERRORS = (EOFError, zipfile.BadZipFile, zlib.error, ValueError, KeyError)
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _member_header(data, key: str) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) of the array ``key`` of an open ``.npz``, from its ``.npy`` header only.

    None for a header version this does not parse. Raises the readers' errors
    on a damaged header, and ValueError when the header announces more bytes
    than the archive's directory gives the member (a forged or truncated array).
    """
    member = key + ".npy"
    with data.zip.open(member) as fh:
        read = _HEADER_READERS.get(np.lib.format.read_magic(fh))
        if read is None:
            return None
        shape, _, dtype = read(fh)
        offset = fh.tell()
    shape = tuple(int(x) for x in shape)
    announced = math.prod(shape) * dtype.itemsize
    stored = data.zip.getinfo(member).file_size - offset
    if announced > stored:
        raise ValueError(f"the array {key!r} announces {announced} bytes of data but holds {stored}")
    return shape, dtype


def _load_peak_bytes(headers: dict) -> tuple[int, int]:
    """(peak bytes of :func:`load`, n) from the arrays' headers, in Python ints.

    Every array as stored, plus an int64 copy of ``indptr`` or ``indices``
    when their dtype needs converting, plus the check's cursor (n int64).
    """
    total = 0
    for header in headers.values():
        if header is not None:
            total += math.prod(header[0]) * header[1].itemsize
    ptr, idx = headers.get("indptr"), headers.get("indices")
    n = max(math.prod(ptr[0]) - 1, 0) if ptr is not None else 0
    if ptr is not None and ptr[1] != np.int64:
        total += 8 * math.prod(ptr[0])
    if idx is not None and idx[1] not in (np.int32, np.int64):
        total += 8 * math.prod(idx[0])
    return total + 8 * n, n


def _file_scalar(data, key: str, kinds: str):
    """The 0-d array ``key`` of a graph file as a Python value; its dtype kind must be in ``kinds``."""
    value = data[key]
    if value.shape != () or value.dtype.kind not in kinds:
        raise ValueError(f"{key!r} must be a single value, got dtype {value.dtype} and shape {value.shape}")
    return value.item()


def _file_ids(data, key: str) -> np.ndarray:
    """The integer array ``key`` of a graph file: int64, or int32 kept as stored for ``indices``."""
    arr = data[key]
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{key} must hold integers, got dtype {arr.dtype}")
    if key == "indptr" or arr.dtype not in (np.int32, np.int64):
        # exact widening (an unsigned value >= 2**63 turns negative, and fails the checks)
        arr = arr.astype(np.int64, copy=False)
    return arr


def load(path) -> Graph:
    """Read a graph written by :func:`save` (same class, arrays and ``info``).

    The arrays are checked like those handed to the constructor (see the
    module docstring), after a memory check on the sizes written in the
    file's array headers.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.npz`` file written by :func:`save` (or by hand, with the same
        arrays: ``kind``, ``indptr``, ``indices``, ``directed``, ``info``,
        and ``widths`` for a LayeredGraph).

    Raises
    ------
    ValueError
        If the file is not a cascades graph file (empty, truncated, not an
        ``.npz`` archive, an array missing or of the wrong kind) or holds an
        invalid graph; the message names the file and the defect.
    cascades.MemoryLimitError
        If the arrays the headers announce would not fit in memory.
    OSError
        If the file cannot be opened (missing, unreadable).
    """
    name = os.fspath(path)

    def not_a_graph(problem: str) -> ValueError:
        return ValueError(f"path: {name!r} is not a cascades graph file ({problem})")

    if os.path.isfile(name) and os.path.getsize(name) == 0:
        raise not_a_graph("the file is empty")
    try:
        data = np.load(name, allow_pickle=False)
    except _FILE_ERRORS as exc:
        with open(name, "rb") as fh:
            zipped = fh.read(2) == b"PK"
        detail = f"{type(exc).__name__}: {exc}"
        raise not_a_graph(
            f"a damaged or truncated .npz archive; {detail}" if zipped else "not an .npz archive"
        ) from exc
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise not_a_graph("a single .npy array, not an .npz archive")
    with data:
        missing = [key for key in ("kind", "indptr", "indices", "directed", "info") if key not in data.files]
        if "kind" in missing or "indptr" in missing:
            raise not_a_graph(f"no {' or '.join(repr(k) for k in missing[:2])} array")
        try:  # sizes first, from the headers alone: nothing is read before the memory check
            peak, n = _load_peak_bytes({key: _member_header(data, key) for key in data.files})
        except _FILE_ERRORS as exc:
            raise not_a_graph(str(exc)) from exc
        check_memory(peak, parameter=f"path: the graph file {name!r} (n = {n})", what="its arrays")
        try:
            kind = _file_scalar(data, "kind", "U")
            if kind not in ("Graph", "LayeredGraph"):
                raise ValueError(f"'kind' must be 'Graph' or 'LayeredGraph', got {kind!r}")
            if missing:
                raise ValueError(f"the array(s) {', '.join(map(repr, missing))} missing")
            if kind == "LayeredGraph" and "widths" not in data.files:
                raise ValueError("a LayeredGraph file must hold the layer 'widths', and has none")
            if "format_version" in data.files:
                version = _file_scalar(data, "format_version", "iu")
                if version > _FORMAT_VERSION:
                    raise ValueError(f"format_version {version} is newer than this version of cascades reads")
            indptr = _file_ids(data, "indptr")
            indices = _file_ids(data, "indices")
            directed = _file_scalar(data, "directed", "bui")
            try:
                info = json.loads(_file_scalar(data, "info", "U"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"'info' must hold JSON: {exc}") from exc
            if not isinstance(info, dict):
                raise ValueError(f"'info' must hold a JSON object, got {type(info).__name__}")
            widths = data["widths"] if kind == "LayeredGraph" else None
        except _FILE_ERRORS as exc:
            raise not_a_graph(str(exc)) from exc
    if directed not in (0, 1):
        raise not_a_graph(f"'directed' must be a bool, got {directed!r}")
    try:
        if widths is not None:
            if widths.ndim != 1 or widths.dtype.kind not in "iu":
                raise ValueError(
                    f"widths must be a 1-dimensional integer array, got {widths.dtype} {widths.shape}"
                )
            widths = tuple(int(w) for w in widths)
            return LayeredGraph(indptr, indices, directed=bool(directed), info=info, widths=widths)
        return Graph(indptr, indices, directed=bool(directed), info=info)
    except ValueError as exc:
        raise ValueError(f"path: {name!r} holds an invalid graph: {exc}") from exc
