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

Generators
----------
:func:`erdos_renyi`, :func:`configuration_model`, :func:`random_regular`,
:func:`layered` (feed-forward DAG of random bipartite layers, the topology of
a sparse MLP, returned as a :class:`LayeredGraph`). Conversions:
:func:`from_edges`, :func:`from_networkx`, :func:`to_networkx`,
:meth:`Graph.to_scipy`, :func:`save` / :func:`load`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np

from . import _graph_kernels as _k
from ._arrays import readonly as _readonly
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


# ---------------------------------------------------------------------------
# The Graph value
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Graph:
    """An immutable graph in CSR form.

    Construct graphs with the generators of this module or with
    :meth:`Graph.from_csr` (which validates); the plain constructor takes the
    arrays over without copying, makes them read-only and checks only their
    shapes.

    Parameters
    ----------
    indptr : numpy.ndarray
        Row pointers, int64, length n + 1, ``indptr[0] == 0``.
    indices : numpy.ndarray
        Column indices (neighbour ids), int32 while n < 2**31, else int64;
        each row sorted ascending.
    directed : bool
        False (default): symmetric storage, each edge in both rows. True:
        row i holds the out-neighbours of i.
    info : Mapping
        Read-only provenance: ``"generator"`` and its parameters, and for
        generators that clean up multigraphs ``"self_loops_erased"`` and
        ``"multi_edges_erased"``. Ignored by ``==``.

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
        indptr = np.asarray(self.indptr)
        indices = np.asarray(self.indices)
        if indptr.ndim != 1 or indptr.shape[0] < 1 or indptr.dtype != np.int64:
            raise ValueError("indptr must be a 1-dimensional int64 array of length n + 1 >= 1")
        if indices.ndim != 1 or indices.dtype not in (np.int32, np.int64):
            raise ValueError("indices must be a 1-dimensional int32 or int64 array")
        if indptr[0] != 0 or indptr[-1] != indices.shape[0]:
            raise ValueError("indptr must start at 0 and end at len(indices)")
        object.__setattr__(self, "indptr", _readonly(indptr))
        object.__setattr__(self, "indices", _readonly(indices))
        object.__setattr__(self, "directed", bool(self.directed))
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    # -- construction -----------------------------------------------------

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
            Check that ``indptr`` starts at 0 and never decreases, that the
            indices lie in [0, n), and, for an undirected graph, that the CSR
            is symmetric with every self-loop stored twice. Costs O(n + m).
            With ``validate=False`` the arrays are only converted, copied and
            range-checked, and the rows are assumed sorted.
        info : Mapping, optional
            Provenance to attach.

        Raises
        ------
        ValueError
            If a check fails; the message names ``indptr`` or ``indices``.

        Examples
        --------
        >>> Graph.from_csr([0, 1, 1], [1]).m
        Traceback (most recent call last):
        ...
        ValueError: indices: an undirected graph must be stored symmetric (edge 0 -> 1 lacks 1 -> 0)
        >>> Graph.from_csr([0, 1, 1], [1], directed=True).m
        1
        """
        indptr = np.array(check_int_array("indptr", indptr, low=0), dtype=np.int64)  # own copy
        if indptr.shape[0] < 1:
            raise ValueError("indptr must have length n + 1 >= 1")
        n = indptr.shape[0] - 1
        indices = check_int_array("indices", indices, low=0, high=max(n - 1, 0))
        indices = np.array(indices, dtype=_index_dtype(n))  # always a private copy
        if validate:
            if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != indices.shape[0]:
                raise ValueError("indptr must start at 0, never decrease and end at len(indices)")
            if n == 0 and indices.shape[0]:
                raise ValueError("indices must be empty when n = 0")
            if not _k.rows_sorted(indptr, indices):
                _k._sort_rows(indptr, indices)
            if not directed:
                _check_symmetric(indptr, indices)
        graph = cls(indptr, indices, directed=directed, info=info or {})
        return graph

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
        return Graph(indptr, indices, directed=True, info=info)

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

    @property
    def nbytes(self) -> int:
        """Bytes held by the CSR arrays."""
        return self.indptr.nbytes + self.indices.nbytes

    def save(self, path, *, compressed=False) -> None:
        """Write the graph to an ``.npz`` file; see :func:`save`."""
        save(self, path, compressed=compressed)


def _check_symmetric(indptr, indices) -> None:
    """Raise ValueError unless the CSR (sorted rows) equals its transpose, loops stored twice."""
    n = indptr.shape[0] - 1
    t_indptr = np.zeros(n + 1, dtype=np.int64)
    t_indices = np.empty_like(indices)
    _k.transpose_csr(indptr, indices, n, t_indptr, t_indices)
    rows = np.repeat(np.arange(n, dtype=indices.dtype), np.diff(indptr))
    if not (np.array_equal(t_indptr, indptr) and np.array_equal(t_indices, indices)):
        # Both entry lists are sorted by (row, column); at the first difference the
        # smaller entry is missing from the other list.
        t_rows = np.repeat(np.arange(n, dtype=indices.dtype), np.diff(t_indptr))
        k = int(np.flatnonzero((rows != t_rows) | (indices != t_indices))[0])
        a, b = (int(rows[k]), int(indices[k])), (int(t_rows[k]), int(t_indices[k]))
        i, j = a if a < b else (b[1], b[0])
        raise ValueError(
            f"indices: an undirected graph must be stored symmetric (edge {i} -> {j} lacks {j} -> {i})"
        )
    per_row = np.bincount(rows[indices == rows], minlength=n)
    if np.any(per_row % 2):
        i = int(np.flatnonzero(per_row % 2)[0])
        raise ValueError(
            f"indices: an undirected self-loop must be stored twice in its row (row {i} has it "
            f"{per_row[i]} time(s))"
        )


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
        widths = tuple(int(w) for w in self.widths)
        if not widths or sum(widths) != self.n or not self.directed:
            raise ValueError("widths must sum to n and a LayeredGraph must be directed")
        object.__setattr__(self, "widths", widths)

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
    node) and 12 bytes per edge of temporaries: n = 2 * 10^7, mean degree 10
    (10^8 edges, a 0.96 GB graph) peaks at 2.45 GB resident, interpreter
    included. The uniform stream is numpy's own (the generator is passed to
    the numba kernel), so a seed determines the graph.

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
    gen = as_generator(rng)
    dtype = _index_dtype(n)
    info = {"generator": "erdos_renyi", "n": n, "p": p, "mean_degree": mean_degree}
    indptr = np.zeros(n + 1, dtype=np.int64)
    if n < 2 or p == 0.0:
        return Graph(indptr, np.empty(0, dtype=dtype), info=info)

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
    return Graph(indptr, indices, info=info)


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

    Notes
    -----
    Random stub matching (Bollobas 1980; Newman, Strogatz & Watts 2001):
    node i contributes ``degrees[i]`` stubs, the stubs are shuffled
    (``Generator.shuffle``) and consecutive stubs are paired. The symmetric
    CSR is filled by one scatter, rows are sorted, then self-loops and repeated
    entries are removed in place. O(n + m log(max degree)) time; memory: the
    graph plus one 4-byte stub per edge end.

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
        info["degrees"] = repr(degrees)
        deg, redraws = _draw_even_degrees(degrees, n, gen)
        info["parity_redraws"] = redraws
    else:
        deg = check_int_array("degrees", degrees, low=0)
        if n is not None and check_int("n", n, low=0) != deg.shape[0]:
            raise ValueError(f"n must be None or len(degrees) = {deg.shape[0]}, got {n}")
        n = deg.shape[0]
        total = int(deg.sum())
        if total % 2:
            raise ValueError(f"degrees must have an even sum (a sum of stubs), got sum {total}")
        info["degrees"] = "sequence"
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
    return Graph(indptr, indices, info=info)


# ---------------------------------------------------------------------------
# Random regular graphs
# ---------------------------------------------------------------------------

_REGULAR_METHODS = ("switching", "rejection")
_MAX_PAIRINGS = 1000  # fresh pairings after a stuck switching phase


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
        return Graph(
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
    gen = as_generator(rng)
    if 2 * k > n - 1:
        base = random_regular(n, n - 1 - k, rng=gen, method=method, max_tries=max_tries)
        indptr = np.empty(n + 1, dtype=np.int64)
        indices = np.empty(n * k, dtype=base.indices.dtype)
        _k.complement_csr(base.indptr, base.indices, indptr, indices)
        info = dict(base.info, k=k, complement_of=n - 1 - k)
        return Graph(indptr, indices, info=info)

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
    return Graph(indptr, nbr.reshape(-1), info=info)


# ---------------------------------------------------------------------------
# Layered feed-forward graphs (sparse MLP topologies)
# ---------------------------------------------------------------------------


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
    gen = as_generator(rng)
    widths_t = tuple(int(x) for x in w)
    n = int(w.sum())
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
    return LayeredGraph(indptr, indices, directed=True, info=info, widths=widths_t)


# ---------------------------------------------------------------------------
# Conversions
# ---------------------------------------------------------------------------


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
    n = top + 1 if n is None else check_int("n", n, low=0)
    if top >= n:
        check_int_array("edges", np.concatenate([src, dst]), low=0, high=n - 1)
    dtype = _index_dtype(n)
    src = src.astype(dtype)
    dst = dst.astype(dtype)
    indptr = np.zeros(n + 1, dtype=np.int64)
    indices = np.empty(src.shape[0] * (1 if directed else 2), dtype=dtype)
    _k.csr_from_pairs(src, dst, n, not directed, indptr, indices)
    indptr, indices, loops, multi = _simplify(indptr, indices, erase_loops, erase_multi, directed)
    info = {"generator": "from_edges", "self_loops_erased": loops, "multi_edges_erased": multi}
    return Graph(indptr, indices, directed=directed, info=info)


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

    Examples
    --------
    >>> import networkx as nx
    >>> g, labels = from_networkx(nx.path_graph(["a", "b", "c"]), return_labels=True)
    >>> g.degrees.tolist(), labels
    ([1, 2, 1], ['a', 'b', 'c'])
    """
    import networkx as nx

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

    Examples
    --------
    >>> G = to_networkx(erdos_renyi(50, 3.0, rng=1))
    >>> type(G).__name__, G.number_of_nodes()
    ('Graph', 50)
    """
    import networkx as nx

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
        raise ValueError(f"graph must be a cascades Graph, got {type(graph).__name__}")
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


def load(path) -> Graph:
    """Read a graph written by :func:`save` (same class, arrays and ``info``).

    Raises
    ------
    ValueError
        If the file is not a cascades graph file.
    """
    with np.load(os.fspath(path), allow_pickle=False) as data:
        if "kind" not in data or "indptr" not in data:
            raise ValueError(f"path: {os.fspath(path)!r} is not a cascades graph file")
        kind = str(data["kind"])
        indptr = data["indptr"].astype(np.int64, copy=False)
        indices = data["indices"]
        directed = bool(data["directed"])
        info = json.loads(str(data["info"]))
        if kind == "LayeredGraph":
            widths = tuple(int(x) for x in data["widths"])
            return LayeredGraph(indptr, indices, directed=directed, info=info, widths=widths)
    return Graph(indptr, indices, directed=directed, info=info)
