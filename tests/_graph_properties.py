"""Crash-prone properties: outside graph data handed to the numba kernels (run in a child process).

``test_properties.py`` runs each ``check_*`` function here through
``_properties.run_in_child``: a segfault or an abort then fails that test with
the child's output instead of killing the test run.

The graphs are valid CSR arrays from the package's own generators, then, most of
the time, corrupted in one way a saved or hand-built file can be: an id out of
range, a negative id, a decreasing ``indptr``, a missing reverse edge, an
unsorted row, a self-loop stored once, a wrong length, a wrong dtype. Each
enters through every public door (the constructor, ``Graph.from_csr``, ``load``,
``from_edges``) and, when accepted, goes through every consumer of a graph.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from _properties import PROFILES, guarded, outcome
from hypothesis import given
from hypothesis import strategies as st

import cascades

GRAPH_NAMES = ("indptr", "indices", "directed", "path", "graph", "edges", "n", "widths")
MUTATIONS = (
    "none",
    "id_too_large",
    "negative_id",
    "decreasing_indptr",
    "drop_entry",
    "unsorted_row",
    "loop_once",
    "bad_last_pointer",
    "float_dtype",
    "int16_dtype",
    "two_dimensional",
)


def _mutate(indptr, indices, mutation, draw):
    indptr, indices = indptr.copy(), indices.astype(np.int64)
    n = indptr.shape[0] - 1
    if mutation == "id_too_large" and indices.size:
        indices[draw(st.integers(0, indices.size - 1))] = n + draw(st.integers(0, 2**40))
    elif mutation == "negative_id" and indices.size:
        indices[draw(st.integers(0, indices.size - 1))] = -draw(st.integers(1, 2**31))
    elif mutation == "decreasing_indptr" and n >= 2:
        i = draw(st.integers(1, n - 1))
        indptr[i] = indptr[i + 1] + draw(st.integers(1, 5))
    elif mutation == "drop_entry" and indices.size:
        k = draw(st.integers(0, indices.size - 1))
        row = int(np.searchsorted(indptr, k, side="right") - 1)
        indices = np.delete(indices, k)
        indptr[row + 1 :] -= 1
    elif mutation == "unsorted_row":
        long_rows = np.flatnonzero(np.diff(indptr) >= 2)
        if long_rows.size:
            row = int(long_rows[draw(st.integers(0, long_rows.size - 1))])
            a, b = indptr[row], indptr[row + 1]
            indices[a:b] = indices[a:b][::-1].copy()
    elif mutation == "loop_once" and n:
        i = draw(st.integers(0, n - 1))
        indices = np.insert(indices, indptr[i], i)
        indptr[i + 1 :] += 1
    elif mutation == "bad_last_pointer":
        indptr[-1] += draw(st.sampled_from([-1, 1, 2**40]))
    elif mutation == "float_dtype":
        return indptr.astype(np.float64), indices.astype(np.float64)
    elif mutation == "int16_dtype":
        return indptr.astype(np.int16), indices.astype(np.int16)
    elif mutation == "two_dimensional":
        return indptr[None, :], indices
    return indptr, indices.astype(np.int32)


@st.composite
def graph_arrays(draw):
    """(indptr, indices, directed, mutation): a generator's CSR, possibly corrupted."""
    n = draw(st.integers(0, 11))
    directed = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    z = draw(st.floats(0.0, 4.0))
    if directed:
        rng = np.random.default_rng(seed)
        edges = rng.integers(0, max(n, 1), size=(int(z * n), 2)) if n else np.zeros((0, 2), int)
        g = cascades.from_edges(edges, n=n, directed=True)
    else:
        g = cascades.erdos_renyi(n, p=min(z / max(n - 1, 1), 1.0), rng=seed)
    mutation = draw(st.sampled_from(MUTATIONS))
    indptr, indices = _mutate(np.array(g.indptr), np.array(g.indices), mutation, draw)
    return indptr, indices, directed, mutation


def _oracle(indptr, indices, directed, door):
    """Whether ``door`` must accept these arrays (None: either answer is allowed), by plain Python.

    The constructor takes arrays over as they are: int64 ``indptr``, int32/int64
    ``indices``, sorted rows. ``from_csr`` copies, converts integral arrays and
    sorts rows; ``load`` may convert or sort too (not asserted).
    """
    if indptr.ndim != 1 or indices.ndim != 1 or indptr.shape[0] < 1:
        return False
    integral = indptr.dtype.kind in "iu" and indices.dtype.kind in "iu"
    if door == "constructor" and (indptr.dtype != np.int64 or indices.dtype not in (np.int32, np.int64)):
        return False
    if not integral:
        return None
    ptr, idx = [int(x) for x in indptr], [int(x) for x in indices]
    n = len(ptr) - 1
    if ptr[0] != 0 or ptr[-1] != len(idx) or any(a > b for a, b in zip(ptr[:-1], ptr[1:], strict=True)):
        return False
    if any(not 0 <= j < n for j in idx):
        return False
    rows = [idx[ptr[i] : ptr[i + 1]] for i in range(n)]
    if any(row != sorted(row) for row in rows):
        if door == "constructor":
            return False
        if door == "load":
            return None
    if not directed:
        count = {}
        for i, row in enumerate(rows):
            for j in row:
                count[i, j] = count.get((i, j), 0) + 1
        for (i, j), c in count.items():
            if (i != j and count.get((j, i), 0) != c) or (i == j and c % 2):
                return False
    return True


def _is_valid_csr(g: cascades.Graph) -> bool:
    n, indptr, indices = g.n, g.indptr, g.indices
    ok = indptr[0] == 0 and indptr[-1] == indices.size and np.all(np.diff(indptr) >= 0)
    ok = ok and (indices.size == 0 or (indices.min() >= 0 and indices.max() < n))
    if ok and not g.directed:
        a = g.to_scipy()
        ok = (a != a.T).nnz == 0
    return bool(ok)


def _consume(g: cascades.Graph) -> None:
    """Every consumer of a graph either refuses it naming a parameter or returns a valid result."""
    assert _is_valid_csr(g), "an accepted graph must be a valid CSR"
    n = g.n
    assert g.in_degrees.sum() == g.nnz and g.degrees.sum() == g.nnz
    t = g.transpose()
    assert t.n == n and t.nnz == g.nnz
    with guarded():
        g.summary()
        assert g.to_scipy().shape == (n, n)
        assert g.edges().shape == (g.m, 2)
    model = cascades.FractionalThreshold(0.3)
    res = outcome(cascades.simulate, g, model, seed_fraction=0.3, rng=0, names=GRAPH_NAMES + ("seed",))
    if res is not None:
        assert 0.0 <= res.final_fraction <= 1.0
        assert res.active.shape == (n,) and res.final_fraction == (res.active.mean() if n else 0.0)
    fs = outcome(cascades.final_size_from_graph, g, model, 0.1, names=GRAPH_NAMES)
    if fs is not None:
        assert 0.0 <= fs.rho <= 1.0
    mp = outcome(cascades.message_passing, g, model, 0.1, names=GRAPH_NAMES)
    if mp is not None:
        assert 0.0 <= mp.size <= 1.0 and np.all((mp.node_probabilities >= 0) & (mp.node_probabilities <= 1))
    if n <= 10:
        dist = outcome(cascades.size_distribution, g, model, 0.2, names=GRAPH_NAMES)
        if dist is not None:
            assert dist.pmf.shape == (n + 1,) and np.all(dist.pmf >= -1e-12)
            assert abs(dist.pmf.sum() - 1.0) < 1e-9
        cond = outcome(cascades.conditional_activation, g, model, 0.2, names=GRAPH_NAMES)
        if cond is not None:
            assert np.all(cond.joint >= -1e-12) and np.all(cond.joint <= 1 + 1e-12)


def check_graph_doors(profile: str) -> None:
    """Constructor, from_csr and load: a corrupted CSR is refused; a valid one survives every consumer."""

    @PROFILES[profile]
    @given(graph_arrays(), st.sampled_from(["constructor", "from_csr", "load"]))
    def prop(arrays, door):
        indptr, indices, directed, mutation = arrays
        if door == "constructor":
            g = outcome(cascades.Graph, indptr, indices, directed=directed, names=GRAPH_NAMES)
        elif door == "from_csr":
            g = outcome(cascades.Graph.from_csr, indptr, indices, directed=directed, names=GRAPH_NAMES)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "g.npz")
                np.savez(
                    path,
                    format_version=np.array(1),
                    kind=np.array("Graph"),
                    indptr=indptr,
                    indices=indices,
                    directed=np.array(directed),
                    info=np.array("{}"),
                )
                g = outcome(cascades.load, path, names=GRAPH_NAMES + ("g.npz",))
        verdict = _oracle(indptr, indices, directed, door)
        if verdict is not None:
            assert (g is not None) == verdict, (
                f"{door} {'accepted' if g is not None else 'refused'} a graph with mutation {mutation!r} "
                f"that is {'valid' if verdict else 'invalid'}"
            )
        if g is None:
            return
        _consume(g)

    prop()


def check_edge_lists(profile: str) -> None:
    """from_edges on arbitrary edge lists: refused with a named parameter, or a valid graph."""
    ids = st.one_of(st.integers(-3, 12), st.sampled_from([2**31, 2**40, 2**63 - 1, -(2**63)]))

    @PROFILES[profile]
    @given(
        st.lists(st.tuples(ids, ids), max_size=25),
        st.one_of(st.none(), st.integers(-2, 15), st.sampled_from([2**40])),
        st.booleans(),
    )
    def prop(edges, n, directed):
        g = outcome(cascades.from_edges, edges, n=n, directed=directed, names=GRAPH_NAMES)
        if g is None:
            return
        assert g.m == len(edges)
        _consume(g)

    prop()


def check_networkx(profile: str) -> None:
    """from_networkx on random graphs (and non-graphs): a graph with the same edges, or a named error."""
    import networkx as nx

    @PROFILES[profile]
    @given(
        st.integers(0, 12),
        st.floats(0, 1),
        st.booleans(),
        st.integers(0, 2**16),
        st.sampled_from(["graph", "none", "int"]),
    )
    def prop(n, p, directed, seed, what):
        if what == "graph":
            G = nx.gnp_random_graph(n, p, seed=seed, directed=directed)
        else:
            G = None if what == "none" else 3
        g = outcome(cascades.from_networkx, G, names=("G", "graph"))
        if what != "graph":
            assert g is None
            return
        assert g.n == n and g.m == G.number_of_edges() and g.directed == directed
        back = cascades.to_networkx(g)
        assert back.number_of_edges() == G.number_of_edges()
        _consume(g)

    prop()
