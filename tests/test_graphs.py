"""Tests of cascades.graphs and its kernels.

Tiers (the three ways of testing in README.md, Contributing):
(a) exact: every numba kernel against a slow, readable pure-Python reference,
    including generators that consume the same uniforms;
(b) invariants: CSR structure, degree sums, round trips, seeding, bad input;
(c) statistics: degree histograms and counts against their laws, with the
    significance or tolerance stated next to each assertion. All seeds are
    fixed, so every test is deterministic.
"""

from __future__ import annotations

import math
from collections import Counter

import networkx as nx
import numpy as np
import pytest
from _stats import sample_pvalue
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse, stats

from cascades import _graph_kernels as gk
from cascades.degrees import Poisson, Regular
from cascades.graphs import (
    Graph,
    LayeredGraph,
    configuration_model,
    erdos_renyi,
    from_edges,
    from_networkx,
    layered,
    load,
    random_regular,
    save,
    to_networkx,
)

# ---------------------------------------------------------------------------
# helpers: pure-Python references and checks
# ---------------------------------------------------------------------------


def ref_gnp_edges(n, p, gen):
    """Batagelj & Brandes G(n, p), one uniform per present edge, readable Python."""
    log_q = math.log1p(-p)
    edges = []
    v, w = 1, -1
    while v < n:
        w += 1 + math.floor(math.log(1.0 - gen.random()) / log_q)
        while w >= v and v < n:
            w -= v
            v += 1
        if v < n:
            edges.append((w, v))
    return edges


def ref_bipartite_edges(a, b, p, gen):
    """All pairs (i, j) of an a x b grid visited in order, geometric gaps, readable Python."""
    log_q = math.log1p(-p)
    edges = []
    k = -1
    while True:
        k += 1 + math.floor(math.log(1.0 - gen.random()) / log_q)
        if k >= a * b:
            return edges
        edges.append(divmod(k, b))


def ref_rows(n, pairs, directed):
    """Dict-of-lists adjacency: sorted rows, an undirected pair stored in both rows."""
    rows = {i: [] for i in range(n)}
    for u, v in pairs:
        rows[u].append(v)
        if not directed:
            rows[v].append(u)
    return {i: sorted(r) for i, r in rows.items()}


def ref_simplify(rows, erase_loops, erase_multi, per):
    """Drop self-loop entries and/or repeats; a self-loop is ``per`` entries of its row."""
    out = {}
    for i, row in rows.items():
        counts = Counter(row)
        new = []
        for j in sorted(counts):
            c = counts[j]
            if j == i:
                c = 0 if erase_loops else (min(c, per) if erase_multi else c)
            elif erase_multi:
                c = 1
            new += [j] * c
        out[i] = new
    return out


def rows_of(g):
    return {i: g.neighbors(i).tolist() for i in range(g.n)}


def csr_of_rows(rows):
    n = len(rows)
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(rows[i]) for i in range(n)])
    indices = np.array([j for i in range(n) for j in rows[i]], dtype=np.int32)
    return indptr, indices


def assert_valid_csr(g, *, simple=True):
    """Structure every generator promises."""
    assert g.indptr.dtype == np.int64 and g.indices.dtype == np.int32
    assert not g.indptr.flags.writeable and not g.indices.flags.writeable
    assert g.indptr[0] == 0 and g.indptr[-1] == g.indices.size
    assert np.all(np.diff(g.indptr) >= 0)
    assert g.indices.size == 0 or (g.indices.min() >= 0 and g.indices.max() < g.n)
    assert gk.rows_sorted(g.indptr, g.indices)
    if not g.directed:
        a = g.to_scipy()
        assert (a != a.T).nnz == 0  # symmetric
        assert g.indices.size == 2 * g.m
    if simple:
        rows = np.repeat(np.arange(g.n), g.degrees)
        assert not np.any(g.indices == rows), "self-loop"
        same_row = rows[1:] == rows[:-1]
        assert not np.any(same_row & (g.indices[1:] == g.indices[:-1])), "repeated entry"


# ---------------------------------------------------------------------------
# (a) kernels against references
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, p, seed", [(2, 0.5, 0), (40, 0.1, 1), (60, 0.5, 2), (25, 0.999, 3), (300, 0.01, 4)]
)
def test_er_kernel_matches_reference_on_same_uniforms(n, p, seed):
    gen_ref = np.random.default_rng(seed)
    ref = ref_gnp_edges(n, p, gen_ref)
    gen = np.random.default_rng(seed)
    g = erdos_renyi(n, p=p, rng=gen)
    assert sorted(map(tuple, g.edges().tolist())) == sorted(ref)
    # same number of uniforms consumed: both generators are in the same state
    assert gen.random() == gen_ref.random()
    assert_valid_csr(g)


def test_er_kernel_resumes_after_a_full_buffer():
    """A tiny buffer forces the grow-and-resume path; the result equals a one-shot run."""
    n, log_q = 200, math.log1p(-0.05)
    lower_a = np.zeros(n, np.int32)
    big = np.empty(n * n, np.int32)
    v, w, filled = gk.er_lower(np.random.default_rng(5), n, log_q, 1, -1, lower_a, big, 0)
    assert v >= n
    lower_b = np.zeros(n, np.int32)
    gen = np.random.default_rng(5)
    parts, state, calls = [], (1, -1), 0
    while True:
        buf = np.empty(7, np.int32)
        v2, w2, f2 = gk.er_lower(gen, n, log_q, state[0], state[1], lower_b, buf, 0)
        parts.append(buf[:f2])
        calls += 1
        if v2 >= n:
            break
        state = (v2, w2)
    assert calls > 10
    np.testing.assert_array_equal(np.concatenate(parts), big[:filled])
    np.testing.assert_array_equal(lower_a, lower_b)


@pytest.mark.parametrize("shift", [0, 1, 10])
def test_er_symmetrize_matches_dict_of_lists(shift):
    gen = np.random.default_rng(6)
    n = 50
    pairs = ref_gnp_edges(n, 0.2, gen)  # (w, v), w < v, lexicographic in (v, w)
    lower = np.bincount([v for _, v in pairs], minlength=n).astype(np.int32)
    lower_indices = np.array([w for w, _ in pairs], dtype=np.int32)
    indptr = np.zeros(n + 1, np.int64)
    indices = np.empty(2 * len(pairs), np.int32)
    gk.er_symmetrize(lower, lower_indices, shift, indptr, indices)
    want_indptr, want_indices = csr_of_rows(ref_rows(n, pairs, directed=False))
    np.testing.assert_array_equal(indptr, want_indptr)
    np.testing.assert_array_equal(indices, want_indices)


@pytest.mark.parametrize(
    "a, b, p, seed", [(1, 1, 0.5, 0), (7, 11, 0.3, 1), (30, 4, 0.05, 2), (5, 6, 0.999, 3)]
)
def test_bipartite_kernel_matches_reference(a, b, p, seed):
    gen_ref = np.random.default_rng(seed)
    ref = ref_bipartite_edges(a, b, p, gen_ref)
    g = layered([a, b], p, rng=seed)
    got = [(int(i), int(j) - a) for i, j in g.edges().tolist()]
    assert got == ref  # same order too: CSR order is lexicographic
    # resume path with a 3-slot buffer
    counts = np.zeros(a, np.int64)
    gen, state, parts = np.random.default_rng(seed), (0, -1), []
    while True:
        buf = np.empty(3, np.int32)
        i, j, f = gk.bipartite_fill(gen, a, b, math.log1p(-p), a, state[0], state[1], counts, buf, 0)
        parts.append(buf[:f])
        if i >= a:
            break
        state = (i, j)
    np.testing.assert_array_equal(np.concatenate(parts), g.indices)
    np.testing.assert_array_equal(counts, g.degrees[:a])


edge_lists = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40)
    )
)


@settings(max_examples=60, deadline=None)
@given(edge_lists, st.booleans(), st.booleans(), st.booleans())
def test_csr_builder_and_simplify_match_reference(case, directed, erase_loops, erase_multi):
    n, pairs = case
    src = np.array([u for u, _ in pairs], np.int32)
    dst = np.array([v for _, v in pairs], np.int32)
    indptr = np.zeros(n + 1, np.int64)
    indices = np.empty(len(pairs) * (1 if directed else 2), np.int32)
    gk.csr_from_pairs(src, dst, n, not directed, indptr, indices)
    rows = ref_rows(n, pairs, directed)
    want = csr_of_rows(rows)
    np.testing.assert_array_equal(indptr, want[0])
    np.testing.assert_array_equal(indices, want[1])

    per = 1 if directed else 2
    out_indptr = np.empty_like(indptr)
    loops, dups = gk.simplify_csr(indptr, indices, erase_loops, erase_multi, per, out_indptr)
    simple = ref_simplify(rows, erase_loops, erase_multi, per)
    want_indptr, want_indices = csr_of_rows(simple)
    np.testing.assert_array_equal(out_indptr, want_indptr)
    np.testing.assert_array_equal(indices[: out_indptr[-1]], want_indices)
    assert loops + dups == len(pairs) * (1 if directed else 2) - want_indices.size

    g = from_edges(
        (src, dst),
        n,
        directed=directed,
        self_loops="erase" if erase_loops else "keep",
        multi_edges="erase" if erase_multi else "keep",
    )
    assert rows_of(g) == simple
    # counts of the kept graph against Counter-based references
    kept_loops = sum(simple[i].count(i) for i in range(n)) // per
    assert g.n_self_loops == kept_loops
    surplus = sum(c - 1 for i in range(n) for j, c in Counter(simple[i]).items() if j != i)
    surplus += sum(max(simple[i].count(i) - per, 0) for i in range(n))
    assert g.n_multi_edges == surplus // per


@settings(max_examples=40, deadline=None)
@given(edge_lists)
def test_transpose_edge_list_and_complement_match_reference(case):
    n, pairs = case
    g = from_edges(pairs, n, directed=True)
    t = g.transpose()
    assert rows_of(t) == ref_rows(n, [(v, u) for u, v in pairs], directed=True)
    np.testing.assert_array_equal(t.in_degrees, g.out_degrees)
    np.testing.assert_array_equal(g.in_degrees, np.bincount([v for _, v in pairs], minlength=n))
    assert t.transpose() == g

    u = from_edges(pairs, n)
    want = sorted((min(a, b), max(a, b)) for a, b in pairs)
    assert sorted(map(tuple, u.edges().tolist())) == want

    s = from_edges(pairs, n, self_loops="erase", multi_edges="erase")
    indptr = np.empty(n + 1, np.int64)
    indices = np.empty(n * (n - 1) - s.nnz, np.int32)
    gk.complement_csr(s.indptr, s.indices, indptr, indices)
    present = {(a, b) for a, b in pairs} | {(b, a) for a, b in pairs}
    comp = {i: [j for j in range(n) if j != i and (i, j) not in present] for i in range(n)}
    np.testing.assert_array_equal(indptr, csr_of_rows(comp)[0])
    np.testing.assert_array_equal(indices, csr_of_rows(comp)[1])


def ref_switch(gen, ends, k, n, max_tries):
    """Readable Python version of the switching repair (same random calls as the kernel)."""
    ends = [list(e) for e in ends]
    nbr = [[] for _ in range(n)]
    for a, b in ends:
        nbr[a].append(b)
        nbr[b].append(a)
    m = len(ends)
    for e in range(m):
        while True:
            a, b = ends[e]
            if a != b and nbr[a].count(b) == 1:
                break
            for _ in range(max_tries):
                f = min(int(gen.random() * m), m - 1)
                if f == e:
                    continue
                x, y = ends[f] if gen.random() < 0.5 else ends[f][::-1]
                if a == x or b == y or (a == b and x == y) or (a == y and b == x):
                    continue
                if x in nbr[a] or y in nbr[b]:
                    continue
                for u, old, new in ((a, b, x), (b, a, y), (x, y, a), (y, x, b)):
                    nbr[u][nbr[u].index(old)] = new
                ends[e], ends[f] = [a, x], [b, y]
                break
            else:
                return None
    return ends


@pytest.mark.parametrize("n, k, seed", [(10, 3, 0), (12, 4, 1), (30, 5, 2), (8, 3, 3)])
def test_switching_kernel_matches_reference(n, k, seed):
    gen = np.random.default_rng(seed)
    stubs = np.repeat(np.arange(n, dtype=np.int32), k)
    gen.shuffle(stubs)
    ends = stubs.reshape(-1, 2).copy()
    ref_gen = np.random.default_rng(seed + 100)
    want = ref_switch(ref_gen, ends.tolist(), k, n, 10_000)
    nbr = np.empty((n, k), np.int32)
    gk.neighbour_table(ends, n, k, nbr)
    got_gen = np.random.default_rng(seed + 100)
    switches = gk.regular_pairing_switch(got_gen, ends, nbr, 10_000)
    assert switches >= 0 and want is not None
    assert ends.tolist() == want
    assert gk.pairing_is_simple(ends, nbr)
    # the kernel kept its neighbour table in step with the switched edges
    fresh = np.empty_like(nbr)
    gk.neighbour_table(np.array(want, np.int32), n, k, fresh)
    np.testing.assert_array_equal(np.sort(nbr, axis=1), np.sort(fresh, axis=1))


def test_sort_rows_on_short_and_long_rows():
    gen = np.random.default_rng(0)
    lengths = [0, 1, 2, 24, 25, 26, 100, 257]
    indptr = np.zeros(len(lengths) + 1, np.int64)
    indptr[1:] = np.cumsum(lengths)
    indices = gen.integers(0, 50, indptr[-1]).astype(np.int32)
    want = np.concatenate([np.sort(indices[a:b]) for a, b in zip(indptr[:-1], indptr[1:], strict=True)])
    gk._sort_rows(indptr, indices)
    np.testing.assert_array_equal(indices, want)


def test_loop_and_duplicate_counts_match_counter():
    pairs = [(0, 0), (0, 0), (0, 1), (1, 0), (1, 2), (2, 2), (3, 1), (1, 3), (1, 3)]
    g = from_edges(pairs, 5)
    loops, dups, isolated = gk.loop_and_duplicate_counts(g.indptr, g.indices, 2)
    assert loops == 2 * 3  # three undirected self-loops, two entries each
    assert dups == 2 * 1 + 2 * 1 + 2 * 2  # one surplus loop at 0, {0,1} twice, {1,3} three times
    assert isolated == 1
    assert (g.n_self_loops, g.n_multi_edges, g.n_isolated) == (3, 4, 1)


# ---------------------------------------------------------------------------
# (b) structure and invariants of the generators
# ---------------------------------------------------------------------------


def test_er_structure_and_edge_cases():
    g = erdos_renyi(2000, 8.0, rng=1)
    assert_valid_csr(g)
    assert g.info["generator"] == "erdos_renyi" and g.info["p"] == pytest.approx(8.0 / 1999)
    for n in (0, 1):
        e = erdos_renyi(n, 0.0, rng=0)
        assert (e.n, e.m) == (n, 0)
        assert_valid_csr(e)
    assert erdos_renyi(5, 0.0, rng=0).m == 0
    k5 = erdos_renyi(5, 4.0, rng=0)  # p = 1: the complete graph
    assert k5.m == 10 and np.all(k5.degrees == 4)
    assert erdos_renyi(5, p=1.0, rng=0) == k5
    # tiny p: the expected number of edges is 1e-12, the skip overflows every integer type
    assert erdos_renyi(1000, p=1e-300, rng=0).m == 0


def test_configuration_model_keep_preserves_the_sequence():
    deg = np.random.default_rng(0).poisson(6, 3000)
    deg[0] += deg.sum() % 2
    g = configuration_model(deg, rng=1, self_loops="keep", multi_edges="keep")
    np.testing.assert_array_equal(g.degrees, deg)
    assert_valid_csr(g, simple=False)
    assert g.info["self_loops_erased"] == 0 and g.info["multi_edges_erased"] == 0
    assert g.m == deg.sum() // 2
    # erasing from the same pairing (same seed) removes exactly the kept loops and repeats
    h = configuration_model(deg, rng=1)
    assert_valid_csr(h)
    assert h.info["self_loops_erased"] == g.n_self_loops
    assert h.info["multi_edges_erased"] == g.n_multi_edges
    drop = deg.sum() - h.degrees.sum()
    assert drop == 2 * h.info["self_loops_erased"] + 2 * h.info["multi_edges_erased"]
    assert np.all(h.degrees <= deg)
    # only loops erased: multi-edges remain, loops gone
    only = configuration_model(deg, rng=1, self_loops="erase", multi_edges="keep")
    assert only.n_self_loops == 0 and only.n_multi_edges == g.n_multi_edges


def test_configuration_model_from_a_distribution():
    g = configuration_model(Poisson(3.0), 501, rng=2)
    assert g.n == 501 and g.degrees.sum() % 2 == 0
    assert_valid_csr(g)
    assert g.info["parity_redraws"] >= 0 and "Poisson" in g.info["degrees"]
    r = configuration_model(Regular(3), 500, rng=0)
    assert r.n == 500 and r.info["parity_redraws"] == 0
    with pytest.raises(ValueError, match="degrees: could not make the sampled degree sum even"):
        configuration_model(Regular(3), 501, rng=0)
    with pytest.raises(ValueError, match="n is required"):
        configuration_model(Poisson(3.0), rng=0)


def test_random_regular_is_simple_and_regular():
    for n, k in [(1000, 3), (500, 10), (11, 10), (12, 7), (10, 0), (2, 1), (50, 25)]:
        g = random_regular(n, k, rng=n + k)
        assert_valid_csr(g)
        assert np.all(g.degrees == k), (n, k)
        assert g.m == n * k // 2
    assert random_regular(0, 0).n == 0
    g = random_regular(40, 4, rng=0, method="rejection")
    assert_valid_csr(g)
    assert np.all(g.degrees == 4)


def test_layered_structure_and_mask_orientation():
    widths = [6, 5, 4]
    g = layered(widths, [0.5, 0.7], rng=3)
    assert isinstance(g, LayeredGraph) and g.directed
    assert_valid_csr(g)
    assert g.n_layers == 2 and g.widths == (6, 5, 4)
    np.testing.assert_array_equal(g.offsets, [0, 6, 11, 15])
    np.testing.assert_array_equal(g.layer_of(np.arange(15)), [0] * 6 + [1] * 5 + [2] * 4)
    assert g.layer_of(11) == 2
    np.testing.assert_array_equal(g.layer_nodes(2), [11, 12, 13, 14])
    assert np.all(g.degrees[11:] == 0)  # the output layer has no out-edges
    dense_adj = g.to_scipy().toarray().astype(bool)
    for l in (1, 2):
        m = g.mask(l, dense=True)
        assert m.shape == (widths[l], widths[l - 1]) and m.dtype == bool
        block = dense_adj[g.offsets[l - 1] : g.offsets[l], g.offsets[l] : g.offsets[l + 1]]
        np.testing.assert_array_equal(m, block.T)  # entry [j, i]: input i feeds output j
        sp = g.mask(l)
        assert isinstance(sp, sparse.csr_array) and sp.shape == m.shape
        np.testing.assert_array_equal(sp.toarray(), m)
    # every edge goes from layer l - 1 to layer l
    sources = np.repeat(np.arange(g.n), g.degrees)
    np.testing.assert_array_equal(g.layer_of(g.indices), g.layer_of(sources) + 1)
    full = layered([3, 2], 1.0, rng=0)
    assert full.m == 6 and full.mask(1, dense=True).all()
    empty = layered([3, 2], 0.0, rng=0)
    assert empty.m == 0 and not empty.mask(1, dense=True).any()
    with pytest.raises(ValueError, match="l must be an integer in \\[1, 2\\]"):
        g.mask(0)


def test_graph_value_semantics():
    g = erdos_renyi(300, 4.0, rng=0)
    with pytest.raises(ValueError):
        g.indices[0] = 1  # read-only
    with pytest.raises(AttributeError):
        g.n_edges = 3
    with pytest.raises(TypeError):
        hash(g)
    with pytest.raises(TypeError):
        g.info["x"] = 1
    assert len(repr(g)) < 100 and "n=300" in repr(g)
    text = g.summary()
    assert "nodes: 300" in text and f"edges: {g.m}" in text and "erdos_renyi" in text
    assert g.mean_degree == pytest.approx(2 * g.m / g.n)
    assert g.max_degree == g.degrees.max()
    np.testing.assert_array_equal(g.in_degrees, g.degrees)
    assert g.transpose() is g
    assert g != erdos_renyi(300, 4.0, rng=1)
    a = g.to_scipy()
    np.testing.assert_array_equal(a.sum(axis=1), g.degrees)
    nx_a = nx.to_scipy_sparse_array(to_networkx(g), nodelist=range(g.n), format="csr")
    assert (a != nx_a).nnz == 0
    # undirected self-loop: A[i, i] = 2 and row sums are degrees
    loop = from_edges([[0, 0], [0, 1]])
    np.testing.assert_array_equal(loop.to_scipy().toarray(), [[2, 1], [1, 0]])
    np.testing.assert_array_equal(loop.degrees, [3, 1])
    assert loop.m == 2 and loop.n_self_loops == 1
    d = from_edges([[0, 0], [0, 1]], directed=True)
    assert d.m == 2 and d.degrees.tolist() == [2, 0] and d.in_degrees.tolist() == [1, 1]


def test_from_csr_validates_and_sorts():
    g = Graph.from_csr([0, 2, 3, 4], [2, 1, 0, 0])
    assert g.neighbors(0).tolist() == [1, 2] and g.indices.dtype == np.int32
    with pytest.raises(ValueError, match="symmetric.*edge 0 -> 1 lacks 1 -> 0"):
        Graph.from_csr([0, 1, 1], [1])
    with pytest.raises(ValueError, match="indptr"):
        Graph.from_csr([0, 2, 1], [1, 0])
    with pytest.raises(ValueError, match="indices must hold integers in \\[0, 1\\]"):
        Graph.from_csr([0, 1, 2], [1, 2])
    with pytest.raises(ValueError, match="self-loop must be stored twice"):
        Graph.from_csr([0, 1], [0])
    assert Graph.from_csr([0, 1], [0], directed=True).n_self_loops == 1
    raw = np.array([0, 1, 2])
    Graph.from_csr(raw, [1, 0])
    assert raw.flags.writeable  # the caller's arrays are copied, not frozen


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: erdos_renyi(200, 5.0, rng=0),
        lambda: configuration_model([4, 3, 3, 2, 2, 2, 1, 1], rng=3, self_loops="keep", multi_edges="keep"),
        lambda: from_edges([[0, 1], [1, 0], [2, 2], [3, 1], [3, 1]], n=5, directed=True),
        lambda: random_regular(30, 3, rng=0),
        lambda: Graph.from_csr([0], []),
    ],
)
def test_networkx_round_trip(make):
    g = make()
    G = to_networkx(g)
    assert G.is_directed() == g.directed and G.number_of_edges() == g.m
    assert G.is_multigraph() == (g.n_multi_edges > 0)
    assert from_networkx(G) == g
    if not g.directed and g.n:
        assert dict(G.degree()) == dict(enumerate(g.degrees.tolist()))


def test_from_networkx_labels_and_order():
    G = nx.Graph()
    G.add_edges_from([("c", "a"), ("a", "b"), ("b", "b")])
    g, labels = from_networkx(G, return_labels=True)
    assert labels == ["c", "a", "b"]
    assert rows_of(g) == {0: [1], 1: [0, 2], 2: [1, 2, 2]}
    back = to_networkx(g, labels=labels)
    assert nx.utils.graphs_equal(back, G)
    lg = to_networkx(layered([2, 2], 1.0, rng=0))
    assert lg.nodes[3]["layer"] == 1


def test_save_load_round_trip(tmp_path):
    g = configuration_model(Poisson(3.0), 100, rng=0)
    save(g, tmp_path / "g.npz")
    h = load(tmp_path / "g.npz")
    assert h == g and type(h) is Graph and dict(h.info) == dict(g.info)
    assert not h.indices.flags.writeable
    lay = layered([5, 4, 3], [0.5, 0.2], rng=1)
    lay.save(tmp_path / "lay", compressed=True)  # numpy appends .npz
    back = load(tmp_path / "lay.npz")
    assert isinstance(back, LayeredGraph) and back == lay and back.widths == (5, 4, 3)
    np.testing.assert_array_equal(back.mask(2, dense=True), lay.mask(2, dense=True))
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(ValueError, match="not a cascades graph file"):
        load(tmp_path / "other.npz")


def test_from_edges_forms_and_defaults():
    a = from_edges(np.array([[0, 3], [1, 2]]))
    b = from_edges((np.array([0, 1]), np.array([3, 2])))
    assert a == b and a.n == 4
    assert from_edges(np.empty((0, 2), int)).n == 0
    assert from_edges([], n=3).n == 3
    assert from_edges([[0, 1]], n=10).n_isolated == 8


# ---------------------------------------------------------------------------
# seeding
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: erdos_renyi(500, 4.0, rng=rng),
        lambda rng: configuration_model(Poisson(4.0), 500, rng=rng),
        lambda rng: random_regular(500, 4, rng=rng),
        lambda rng: layered([30, 20, 10], 0.3, rng=rng),
    ],
)
def test_seeding(make):
    assert make(7) == make(7)
    assert make(7) != make(8)
    assert make(np.random.default_rng(7)) == make(7)  # an int seed means default_rng(seed)
    gen = np.random.default_rng(7)
    first, second = make(gen), make(gen)
    assert first != second  # the Generator advanced


# ---------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: erdos_renyi(-1, 1.0), "n must be an integer >= 0"),
        (lambda: erdos_renyi(10, 10.0), "mean_degree must be a finite number in \\[0, 9\\]"),
        (lambda: erdos_renyi(10, -1.0), "mean_degree"),
        (lambda: erdos_renyi(10, p=1.5), "p must be a finite number in \\[0, 1\\]"),
        (lambda: erdos_renyi(10, p=-0.1), "p must be"),
        (lambda: erdos_renyi(10), "exactly one of mean_degree and p"),
        (lambda: erdos_renyi(10, 2.0, p=0.1), "exactly one of mean_degree and p"),
        (lambda: configuration_model([1, -1, 2]), "degrees must hold integers >= 0"),
        (lambda: configuration_model([1, 1, 1]), "degrees must have an even sum"),
        (lambda: configuration_model([1, 1], n=3), "n must be None or len\\(degrees\\) = 2"),
        (lambda: configuration_model([1, 1], self_loops="drop"), "self_loops must be 'erase' or 'keep'"),
        (lambda: configuration_model([1, 1], multi_edges=None), "multi_edges must be"),
        (lambda: random_regular(5, 5), "k must be an integer in \\[0, 4\\]"),
        (lambda: random_regular(5, -1), "k must be"),
        (lambda: random_regular(5, 3), "n \\* k must be even"),
        (lambda: random_regular(-2, 0), "n must be"),
        (lambda: random_regular(6, 2, method="mcmc"), "method must be one of"),
        (lambda: layered([3, 0, 2], 0.5), "widths must hold integers >= 1"),
        (lambda: layered([3], 0.5), "widths must list at least two"),
        (lambda: layered([3, 4, 2], [0.5]), "densities must be a number or have len\\(widths\\) - 1 = 2"),
        (lambda: layered([3, 4], 1.5), "densities must be a finite number in \\[0, 1\\]"),
        (lambda: layered([3, 4, 2], [0.5, -0.2]), "densities\\[1\\] must be"),
        (lambda: from_edges([[0, 5]], n=3), "edges must hold integers in \\[0, 2\\]"),
        (lambda: from_edges([[0, -1]]), "edges must hold integers >= 0"),
        (lambda: from_edges([[0, 1, 2]]), "edges must have shape \\(m, 2\\)"),
        (lambda: erdos_renyi(10, 2.0).neighbors(10), "i must be an integer in \\[0, 9\\]"),
    ],
)
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------
# (c) statistics against the laws
# ---------------------------------------------------------------------------

# Significance: each chi-square test rejects at p-value < 1e-3, so a correct
# generator fails one seeded run with probability 1e-3; seeds are fixed, so the
# outcome is deterministic.
ALPHA = 1e-3


def test_er_degree_histogram_and_edge_count():
    n, c = 100_000, 6.0
    g = erdos_renyi(n, c, rng=11)
    p = c / (n - 1)
    pmf = stats.binom.pmf(np.arange(40), n - 1, p)
    assert sample_pvalue(g.degrees, pmf) > ALPHA
    # edge count ~ Binomial(n(n-1)/2, p): within 4 standard deviations
    pairs = n * (n - 1) / 2
    assert abs(g.m - pairs * p) < 4 * math.sqrt(pairs * p * (1 - p))


def test_er_edge_count_over_seeds():
    """Mean of 50 edge counts (n = 500, c = 3) within 4 standard errors of the binomial mean."""
    n, c, runs = 500, 3.0, 50
    p = c / (n - 1)
    pairs = n * (n - 1) / 2
    ms = np.array([erdos_renyi(n, c, rng=s).m for s in range(runs)])
    assert abs(ms.mean() - pairs * p) < 4 * math.sqrt(pairs * p * (1 - p) / runs)


def test_configuration_model_loop_and_multi_edge_counts():
    """Pairing model: self-loops ~ Poisson(lam), double edges ~ Poisson(lam^2), lam = <k(k-1)>/(2<k>).

    (Bollobas 1980; Janson 2009 for general degree sequences.) The means of
    200 runs must lie within 4 standard errors (plus a 5 % allowance for the
    O(1/n) finite-size bias at n = 2000).
    """
    deg = np.random.default_rng(1).poisson(4.0, 2000)
    deg[0] += deg.sum() % 2
    lam = float((deg * (deg - 1)).sum() / (2 * deg.sum()))
    runs = 200
    loops, multi = [], []
    gen = np.random.default_rng(2)
    for _ in range(runs):
        g = configuration_model(deg, rng=gen)
        loops.append(g.info["self_loops_erased"])
        multi.append(g.info["multi_edges_erased"])
    assert abs(np.mean(loops) - lam) < 4 * math.sqrt(lam / runs) + 0.05 * lam
    assert abs(np.mean(multi) - lam**2) < 4 * math.sqrt(lam**2 / runs) + 0.05 * lam**2


def test_layered_edge_counts_and_degree_laws():
    widths, dens = [400, 3000, 200], [0.02, 0.3]
    g = layered(widths, dens, rng=5)
    for l in (1, 2):
        a, b, p = widths[l - 1], widths[l], dens[l - 1]
        mask = g.mask(l)
        # edge count ~ Binomial(a b, p): within 4 standard deviations
        assert abs(mask.nnz - a * b * p) < 4 * math.sqrt(a * b * p * (1 - p))
        # in-degrees of layer l are iid Binomial(a, p); out-degrees of layer l-1 Binomial(b, p)
        in_deg = np.asarray(mask.sum(axis=1)).astype(np.int64)
        assert sample_pvalue(in_deg, stats.binom.pmf(np.arange(a + 1), a, p)) > ALPHA
        out_deg = g.degrees[g.offsets[l - 1] : g.offsets[l]]
        assert sample_pvalue(out_deg, stats.binom.pmf(np.arange(b + 1), b, p)) > ALPHA
    np.testing.assert_array_equal(g.in_degrees[g.offsets[1] : g.offsets[2]], g.mask(1).sum(axis=1))


def test_random_regular_rejection_is_uniform_on_six_nodes():
    """2-regular graphs on 6 labelled nodes: 60 hexagons and 10 pairs of triangles, all equally likely.

    Chi-square over the 70 graphs from 3500 exact (rejection) samples; rejected at p < ALPHA.
    """
    gen = np.random.default_rng(3)
    counts = Counter()
    for _ in range(3500):
        g = random_regular(6, 2, rng=gen, method="rejection")
        counts[tuple(g.indices.tolist())] += 1
    assert len(counts) == 70
    assert stats.chisquare(list(counts.values())).pvalue > ALPHA


def test_random_regular_switching_triangle_count():
    """Uniform random 3-regular graphs have Poisson((k-1)^3 / 6) triangles as n grows (Wormald 1981).

    Mean over 150 graphs with n = 2000 within 4 standard errors of 4/3.
    """
    k, runs = 3, 150
    lam = (k - 1) ** 3 / 6
    gen = np.random.default_rng(4)
    tri = []
    for _ in range(runs):
        a = random_regular(2000, k, rng=gen).to_scipy()
        tri.append(round((a @ a).multiply(a).sum() / 6))
    assert abs(np.mean(tri) - lam) < 4 * math.sqrt(lam / runs)


@pytest.mark.slow  # compiles every kernel a second time (int64 ids): about 5 s cold
def test_int64_node_ids_give_the_same_graphs(monkeypatch):
    """The kernels also run on int64 ids (used for n >= 2**31): force that path on small graphs."""
    from cascades import graphs

    makers = [
        lambda: erdos_renyi(300, 4.0, rng=0),
        lambda: configuration_model(Poisson(3.0), 300, rng=0),
        lambda: configuration_model([3, 3, 2, 2, 2], rng=0, self_loops="keep", multi_edges="keep"),
        lambda: random_regular(100, 4, rng=0),
        lambda: random_regular(12, 8, rng=0),
        lambda: layered([20, 30, 10], 0.2, rng=0),
        lambda: from_edges([[0, 1], [1, 1], [2, 0]], directed=True),
    ]
    small = [make() for make in makers]
    monkeypatch.setattr(graphs, "_index_dtype", lambda n: np.int64)
    for make, want in zip(makers, small, strict=True):
        got = make()
        assert got.indices.dtype == np.int64
        assert got == want
        assert gk.rows_sorted(got.indptr, got.indices)
        if got.directed:
            assert got.transpose() == want.transpose()
        else:
            np.testing.assert_array_equal(got.edges(), want.edges())
