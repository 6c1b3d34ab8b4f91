"""Regression tests for issue 15 on graphs: no crash, no runaway allocation, no silent wrong answer.

A fuzzing pass found that corrupt CSR arrays (from a saved file or handed to
``Graph(...)``) were accepted and then crashed the numba kernels (``simulate``
segfaulted, ``size_distribution`` aborted in ``free()``) or gave silent wrong
answers (``final_size_from_graph`` returned rho = 1 "converged"); that
``from_edges([(0, 2**31)])`` and ``erdos_renyi(10**9, 4)`` started allocating
tens of GiB; and that bad arguments or files raised AttributeError, EOFError,
BadZipFile or KeyError. Every such input must now be refused at the door, with
a ValueError (a MemoryLimitError for sizes) or TypeError naming the parameter
or the file.

Tiers (the three ways of testing in README.md, Contributing): (a) the validation kernel against a
slow, readable reference on random corruptions; (b) refusals, and round trips of valid graphs.
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
import time
import zipfile
from collections import Counter

import networkx as nx
import numpy as np
import pytest

import cascades
from cascades import _graph_kernels as gk
from cascades import graphs
from cascades._memory import available_memory
from cascades.degrees import Poisson
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

I32 = np.int32

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def graph_file(path, **arrays):
    """Write a hand-made graph file: the arrays :func:`save` writes (a valid 2-node edge), overridden."""
    content = {
        "format_version": np.array(1),
        "kind": np.array("Graph"),
        "indptr": np.array([0, 1, 2], dtype=np.int64),
        "indices": np.array([1, 0], dtype=I32),
        "directed": np.array(False),
        "info": np.array("{}"),
    }
    content.update(arrays)
    content = {key: value for key, value in content.items() if value is not None}
    np.savez(path, **content)
    return os.fspath(path)


# Corrupt CSRs that crashed a kernel or gave a wrong answer before: (indptr, indices, directed, message).
CORRUPT = {
    "id_too_large": (
        [0, 1, 2],
        [1, 7],
        False,
        r"indices must hold node ids in \[0, 1\].*entry 1 \(row 1\) is 7",
    ),
    "negative_id": ([0, 1, 2], [1, -3], True, r"indices must hold node ids in \[0, 1\].*is -3"),
    "decreasing_indptr": ([0, 3, 2, 3], [1, 2, 0], True, r"indptr must never decrease.*indptr\[2\] = 2"),
    "bad_start": ([1, 1, 2], [1, 0], True, r"indptr must start at 0"),
    "bad_end": ([0, 1, 3], [1, 0], True, r"indptr must start at 0 and end at len\(indices\) = 2"),
    "asymmetric": ([0, 1, 1], [1], False, r"symmetric \(edge 0 -> 1 lacks 1 -> 0\)"),
    "asymmetric_multi": ([0, 2, 3], [1, 1, 0], False, r"symmetric \(edge 0 -> 1 lacks 1 -> 0\)"),
    "asymmetric_lower": ([0, 0, 1], [0], False, r"symmetric \(edge 1 -> 0 lacks 0 -> 1\)"),
    "unsorted": ([0, 2, 3, 4], [2, 1, 0, 0], False, r"row 0 has 1 after 2.*use Graph\.from_csr"),
    "unsorted_directed": ([0, 2, 2], [1, 0], True, r"row 0 has 0 after 1.*use Graph\.from_csr"),
    "loop_once": ([0, 1], [0], False, r"self-loop must be stored twice in its row \(row 0 has it 1 time"),
    "loop_thrice": ([0, 3], [0, 0, 0], False, r"self-loop must be stored twice.*3 time"),
}


def as_arrays(indptr, indices):
    return np.array(indptr, dtype=np.int64), np.array(indices, dtype=I32)


# ---------------------------------------------------------------------------
# 1. corrupt CSR arrays: refused by every door
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_constructor_refuses_corrupt_csr(case):
    """``Graph(...)`` validates: each of these crashed simulate / size_distribution / message_passing /
    conditional_activation / in_degrees / transpose (or fooled final_size_from_graph) before."""
    indptr, indices, directed, match = CORRUPT[case]
    with pytest.raises(ValueError, match=match):
        Graph(*as_arrays(indptr, indices), directed=directed)


@pytest.mark.parametrize("case", sorted(set(CORRUPT) - {"unsorted", "unsorted_directed"}))
def test_from_csr_refuses_corrupt_csr(case):
    indptr, indices, directed, _ = CORRUPT[case]
    with pytest.raises(ValueError, match="indptr|indices"):
        Graph.from_csr(indptr, indices, directed=directed)


def test_from_csr_sorts_what_the_constructor_refuses():
    indptr, indices, directed, _ = CORRUPT["unsorted"]
    g = Graph.from_csr(indptr, indices, directed=directed)
    assert g.neighbors(0).tolist() == [1, 2]
    with pytest.warns(DeprecationWarning, match="validate=False"):
        with pytest.raises(ValueError, match="symmetric"):  # validate=False no longer skips the checks
            Graph.from_csr([0, 1, 1], [1], validate=False)


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_load_refuses_corrupt_file(tmp_path, case):
    indptr, indices, directed, match = CORRUPT[case]
    path = graph_file(
        tmp_path / f"{case}.npz", indptr=np.array(indptr), indices=np.array(indices, dtype=I32),
        directed=np.array(directed),
    )  # fmt: skip
    with pytest.raises(ValueError, match=f"{case}.npz' holds an invalid graph: .*{match}"):
        load(path)


def test_replace_cannot_smuggle_corrupt_arrays():
    g = erdos_renyi(20, 3.0, rng=0)
    bad = np.array(g.indices)
    bad[0] = 20
    with pytest.raises(ValueError, match="indices must hold node ids in \\[0, 19\\]"):
        dataclasses.replace(g, indices=bad)
    with pytest.raises(ValueError, match="symmetric"):
        dataclasses.replace(from_edges([[0, 1]], directed=True), directed=False)


def test_constructor_dtypes_and_kinds():
    with pytest.raises(ValueError, match="indptr must be a 1-dimensional int64 array"):
        Graph(np.array([0, 1, 2], dtype=I32), np.array([1, 0], dtype=I32))
    with pytest.raises(ValueError, match="indices must be a 1-dimensional int32 or int64 array"):
        Graph(np.array([0, 1, 2]), np.array([1, 0], dtype=np.int16))
    with pytest.raises(ValueError, match="indices must be a 1-dimensional int32 or int64 array"):
        Graph(np.array([0, 1, 2]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="indptr must be a 1-dimensional"):
        Graph(np.array([[0, 1, 2]]), np.array([1, 0], dtype=I32))
    # int32 ids only while n < 2**31 (a zero-stride indptr: no memory)
    big = np.broadcast_to(np.int64(0), (2**31 + 1,))
    with pytest.raises(ValueError, match="indices must be int64 when n >= 2\\*\\*31"):
        Graph(big, np.empty(0, dtype=I32))
    with pytest.raises(TypeError, match="directed must be a bool"):
        Graph(*as_arrays([0, 1, 2], [1, 0]), directed="no")
    with pytest.raises(TypeError, match="directed must be a bool"):
        from_edges([[0, 1]], directed="yes")
    with pytest.raises(TypeError, match="indptr and indices must be arrays"):
        Graph(erdos_renyi(3, 1.0, rng=0), np.empty(0, dtype=I32))
    # int64 ids are fine at any n (the kernels compile for both)
    assert Graph(np.array([0, 1, 2]), np.array([1, 0])).m == 1


# ---------------------------------------------------------------------------
# 2. LayeredGraph: widths consistent with n, edges only from layer l to l + 1
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "edges, n, widths, match",
    [
        ([(0, 2), (1, 3)], 5, (2, 3), None),  # valid: 0, 1 -> 2, 3
        ([(0, 1)], 5, (2, 3), "node 0 of layer 0 has an edge to node 1 \\(layer 1 is nodes 2..4\\)"),
        ([(0, 5)], 6, (2, 3, 1), "node 0 of layer 0 has an edge to node 5"),  # skips a layer
        (
            [(0, 2), (3, 1)],
            5,
            (2, 3),
            "node 3 of layer 1 has an edge to node 1 \\(layer 1 is the last one\\)",
        ),
        ([(2, 3)], 5, (2, 3), "node 2 of layer 1 has an edge to node 3"),  # from the last layer
        ([(0, 2)], 5, (2, 2), "widths must list at least two layer widths >= 1 summing to n = 5"),
        ([(0, 2)], 5, (5,), "widths must list at least two"),
        ([(0, 2)], 5, (), "widths must list at least two"),
        ([(0, 2)], 5, (2, 0, 3), "widths\\[1\\] must be an integer >= 1"),
    ],
)
def test_layered_graph_constructor_checks(edges, n, widths, match):
    g = from_edges(edges, n=n, directed=True)
    indptr, indices = np.array(g.indptr), np.array(g.indices)
    if match is None:
        lay = LayeredGraph(indptr, indices, directed=True, widths=widths)
        assert lay.mask(1, dense=True).sum() == len(edges)
        return
    with pytest.raises(ValueError, match=match):
        LayeredGraph(indptr, indices, directed=True, widths=widths)


def test_layered_graph_must_be_directed():
    indptr, indices = as_arrays([0, 0, 0], [])
    with pytest.raises(ValueError, match="directed must be True"):
        LayeredGraph(indptr, indices, widths=(1, 1))
    with pytest.raises(TypeError, match="widths must be a tuple"):
        LayeredGraph(indptr, indices, directed=True, widths="11")


# ---------------------------------------------------------------------------
# 3. files that are not graph files
# ---------------------------------------------------------------------------


def test_load_refuses_unreadable_files(tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(
        ValueError, match="'.*empty.npz' is not a cascades graph file \\(the file is empty\\)"
    ):
        load(empty)
    save(erdos_renyi(40, 3.0, rng=0), tmp_path / "full.npz")
    raw = (tmp_path / "full.npz").read_bytes()
    for name, cut in (("half.npz", len(raw) // 2), ("tail.npz", len(raw) - 40), ("head.npz", 10)):
        (tmp_path / name).write_bytes(raw[:cut])
        with pytest.raises(
            ValueError, match=f"{name}' is not a cascades graph file \\(.*(damaged|truncated)"
        ):
            load(tmp_path / name)
    (tmp_path / "text.npz").write_text("0 1\n1 2\n")
    with pytest.raises(ValueError, match="text.npz' is not a cascades graph file \\(not an .npz archive"):
        load(tmp_path / "text.npz")
    np.save(tmp_path / "one.npy", np.arange(3))
    with pytest.raises(ValueError, match="one.npy' is not a cascades graph file \\(a single .npy array"):
        load(tmp_path / "one.npy")
    with pytest.raises(FileNotFoundError):  # OSError stays OSError
        load(tmp_path / "missing.npz")


def test_load_refuses_damaged_member(tmp_path):
    """A flipped byte inside an array (CRC error), in a compressed file (zlib error) too."""
    for compressed in (False, True):
        path = tmp_path / f"g{int(compressed)}.npz"
        save(erdos_renyi(200, 5.0, rng=0), path, compressed=compressed)
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("indices.npy")
        raw = bytearray(path.read_bytes())
        at = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
        raw[at] ^= 0xFF
        path.write_bytes(bytes(raw))
        with pytest.raises(ValueError, match=f"g{int(compressed)}.npz' is not a cascades graph file"):
            load(path)


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"kind": np.array("LayeredGraph"), "directed": np.array(True)}, "must hold the layer 'widths'"),
        ({"indices": None}, "the array\\(s\\) 'indices' missing"),
        ({"kind": None}, "no 'kind' array"),
        ({"kind": np.array("Tree")}, "'kind' must be 'Graph' or 'LayeredGraph', got 'Tree'"),
        ({"indptr": np.array([0.0, 1.0, 2.0])}, "indptr must hold integers, got dtype float64"),
        ({"indices": np.array(["a", "b"])}, "indices must hold integers"),
        ({"directed": np.array([True, False])}, "'directed' must be a single value"),
        ({"directed": np.array(2)}, "'directed' must be a bool, got 2"),
        ({"info": np.array("[1, 2]")}, "'info' must hold a JSON object, got list"),
        ({"info": np.array("{not json")}, "'info' must hold JSON: Expecting property name"),
        ({"format_version": np.array(99)}, "format_version 99 is newer"),
    ],
)
def test_load_refuses_malformed_graph_file(tmp_path, arrays, match):
    path = graph_file(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=f"bad.npz' is not a cascades graph file \\(.*{match}"):
        load(path)


def test_load_refuses_layered_file_with_bad_widths(tmp_path):
    lay = layered([3, 2], 1.0, rng=0)
    common = dict(
        kind=np.array("LayeredGraph"), indptr=lay.indptr, indices=lay.indices, directed=np.array(True)
    )
    path = graph_file(tmp_path / "w.npz", widths=np.array([2, 3]), **common)
    with pytest.raises(ValueError, match="w.npz' holds an invalid graph: .*node 2 of layer 1 has an edge"):
        load(path)
    path = graph_file(tmp_path / "s.npz", widths=np.array([3, 3]), **common)
    with pytest.raises(ValueError, match="s.npz' holds an invalid graph: widths must .* summing to n = 5"):
        load(path)


def test_load_guards_memory_from_the_header(tmp_path):
    """The sizes in the arrays' headers are checked before numpy allocates anything."""
    path = tmp_path / "big.npz"
    save(erdos_renyi(20_000, 10.0, rng=0), path)  # about 0.9 MB of arrays
    with (
        cascades.memory_limit("256K"),
        pytest.raises(cascades.MemoryLimitError, match="big.npz' \\(n = 20000\\)"),
    ):
        load(path)
    assert load(path).n == 20_000


def test_load_refuses_a_forged_header(tmp_path):
    """A header announcing 10**11 ids in a 64-byte member: refused, guard on or off, before allocating."""
    path = tmp_path / "forged.npz"
    graph_file(path)
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    fake = io.BytesIO()
    np.lib.format.write_array_header_1_0(fake, {"descr": "<i4", "fortran_order": False, "shape": (10**11,)})
    members["indices.npy"] = fake.getvalue() + b"\0" * 64
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    for limit in ("1G", None):
        with (
            cascades.memory_limit(limit),
            pytest.raises(ValueError, match="'indices' announces 400000000000 bytes"),
        ):
            load(path)


def test_corrupt_file_no_longer_crashes_simulate(tmp_path):
    """The file that made ``simulate`` segfault: the child now exits 1 with a ValueError, not -11 / 139."""
    path = graph_file(
        tmp_path / "crash.npz", indptr=np.array([0, 2, 3, 4]), indices=np.array([1, 2**31 - 1, 0, 0], I32)
    )
    code = (
        "import cascades\n"
        f"g = cascades.load({os.fspath(path)!r})\n"
        "cascades.simulate(g, cascades.FractionalThreshold(0.3), seed_fraction=0.5, rng=0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ValueError: path: ") and "crash.npz' holds an invalid graph" in last, last


# ---------------------------------------------------------------------------
# 4. memory guard
# ---------------------------------------------------------------------------


def test_from_edges_with_a_huge_id_is_refused_fast():
    start = time.perf_counter()
    with cascades.memory_limit("1G"), pytest.raises(cascades.MemoryLimitError) as err:
        from_edges([(0, 2**31)])
    assert time.perf_counter() - start < 1.0
    assert "largest id 2147483648 (so n = 2147483649)" in str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, MemoryError)
    with (
        cascades.memory_limit("1G"),
        pytest.raises(cascades.MemoryLimitError, match="from_edges\\(n = 10000000000\\)"),
    ):
        from_edges([(0, 1)], n=10**10)


def test_erdos_renyi_1e9_is_refused():
    with cascades.memory_limit("1G"), pytest.raises(cascades.MemoryLimitError, match="n = 1000000000") as err:
        erdos_renyi(10**9, 4)
    assert "48.4 GiB" in str(err.value)  # 20 bytes per edge + 12 per node, 2 * 10**9 edges
    if available_memory() < 48 * 2**30 and not os.environ.get("CASCADES_MEMORY_LIMIT"):
        with pytest.raises(cascades.MemoryLimitError, match="more than the available memory"):
            erdos_renyi(10**9, 4)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: erdos_renyi(10**12, 0.0), "erdos_renyi\\(n = 1000000000000"),
        (lambda: random_regular(10**9, 4), "random_regular\\(n = 1000000000, k = 4\\)"),
        (lambda: random_regular(10**5, 10**5 - 2), "random_regular\\(n = 100000, k = 99998\\)"),  # complement
        (lambda: layered([10**6, 10**6], 1.0), "layered\\(widths = \\[1000000, 1000000\\]\\)"),
        (lambda: configuration_model(Poisson(4.0), 10**10), "configuration_model\\(n = 10000000000\\)"),
        (lambda: configuration_model(np.full(4, 2**61)), "degree sum 9223372036854775808"),  # no int64 wrap
    ],
)
def test_generators_refuse_what_cannot_fit(call, match):
    with cascades.memory_limit("1G"), pytest.raises(cascades.MemoryLimitError, match=match):
        call()


def test_dense_mask_is_guarded():
    g = layered([10**5, 10**5], 1e-9, rng=0)
    with (
        cascades.memory_limit("1G"),
        pytest.raises(cascades.MemoryLimitError, match="mask\\(1, dense=True\\)"),
    ):
        g.mask(1, dense=True)
    assert g.mask(1).shape == (10**5, 10**5)


@pytest.mark.parametrize(
    "estimate, fits",
    [
        (lambda: graphs._er_peak_bytes(2 * 10**7, 10 / (2 * 10**7 - 1)), 2.24e9),  # docstring: 2.24 GB
        (lambda: graphs._from_edges_peak_bytes(10, 1, False, False), 16 + 8 + 88 + 8 + 80),
    ],
)
def test_estimates_in_python_ints(estimate, fits):
    value = estimate()
    assert isinstance(value, int) and abs(value - fits) <= 0.01 * fits


# ---------------------------------------------------------------------------
# 5. wrong kinds of objects
# ---------------------------------------------------------------------------


def test_wrong_kinds_raise_type_error_naming_the_parameter():
    with pytest.raises(TypeError, match="graph must be a cascades Graph, got NoneType"):
        to_networkx(None)
    with pytest.raises(TypeError, match="G must be a networkx graph .* got NoneType"):
        from_networkx(None)
    with pytest.raises(TypeError, match="G must be a networkx graph .* got int"):
        from_networkx(3)
    with pytest.raises(TypeError, match="graph must be a cascades Graph"):
        save(None, "never-written.npz")
    assert not os.path.exists("never-written.npz")


# ---------------------------------------------------------------------------
# 6. valid graphs still load, construct and round-trip; the trusted path builds valid CSRs
# ---------------------------------------------------------------------------

MAKERS = {
    "erdos_renyi": lambda: erdos_renyi(300, 4.0, rng=0),
    "erdos_renyi_full": lambda: erdos_renyi(30, p=1.0, rng=0),
    "configuration_erase": lambda: configuration_model(Poisson(3.0), 300, rng=0),
    "configuration_keep": lambda: configuration_model(
        [5, 3, 3, 2, 2, 1], rng=1, self_loops="keep", multi_edges="keep"
    ),
    "random_regular": lambda: random_regular(100, 4, rng=0),
    "random_regular_complement": lambda: random_regular(12, 8, rng=0),
    "layered": lambda: layered([20, 30, 10], 0.2, rng=0),
    "from_edges_loops": lambda: from_edges([[0, 0], [0, 1], [1, 0], [2, 2], [2, 2]]),
    "from_edges_erase": lambda: from_edges([[0, 0], [0, 1], [1, 0]], self_loops="erase", multi_edges="erase"),
    "from_edges_directed": lambda: from_edges([[0, 1], [1, 1], [2, 0], [2, 0]], directed=True),
    "transpose": lambda: from_edges([[0, 2], [1, 2], [2, 0]], directed=True).transpose(),
    "from_networkx": lambda: from_networkx(nx.MultiGraph([(0, 1), (0, 1), (2, 2)])),
    "empty": lambda: Graph.from_csr([0], []),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_valid_graphs_pass_every_door(tmp_path, name):
    g = MAKERS[name]()
    graphs._check_csr(g.indptr, g.indices, g.directed)  # what the trusted path skipped holds
    extra = {"widths": g.widths} if isinstance(g, LayeredGraph) else {}
    again = type(g)(np.array(g.indptr), np.array(g.indices), directed=g.directed, **extra)
    assert again == g
    assert Graph.from_csr(g.indptr, g.indices, directed=g.directed) == g
    save(g, tmp_path / "g.npz")
    back = load(tmp_path / "g.npz")
    assert back == g and type(back) is type(g)
    assert from_networkx(to_networkx(g)) == Graph(
        np.array(g.indptr), np.array(g.indices), directed=g.directed
    )


def test_load_converts_other_integer_dtypes(tmp_path):
    path = graph_file(
        tmp_path / "small.npz", indptr=np.array([0, 1, 2], np.uint8), indices=np.array([1, 0], np.int16)
    )
    g = load(path)
    assert g == Graph.from_csr([0, 1, 2], [1, 0]) and g.indptr.dtype == np.int64


# ---------------------------------------------------------------------------
# (a) the validation kernel against a slow, readable reference
# ---------------------------------------------------------------------------


def ref_csr_defect(indptr, indices, symmetric):
    """Defect code of :func:`gk.csr_defect` by plain Python, with the same priorities."""
    ptr, idx = [int(x) for x in indptr], [int(x) for x in indices]
    n = len(ptr) - 1
    if ptr[0] != 0:
        return gk.CSR_START
    if ptr[-1] != len(idx):
        return gk.CSR_END
    if any(a > b for a, b in zip(ptr[:-1], ptr[1:], strict=True)):
        return gk.CSR_DECREASING
    for i in range(n):
        row = idx[ptr[i] : ptr[i + 1]]
        for x, j in enumerate(row):
            if not 0 <= j < n:
                return gk.CSR_RANGE
            if x and j < row[x - 1]:
                return gk.CSR_UNSORTED
    if not symmetric:
        return gk.CSR_OK
    count = Counter((i, j) for i in range(n) for j in idx[ptr[i] : ptr[i + 1]])
    if any(count[j, i] != c for (i, j), c in count.items()):
        return gk.CSR_ASYMMETRIC
    if any(count[i, i] % 2 for i in range(n)):
        return gk.CSR_LOOP_ONCE
    return gk.CSR_OK


def test_csr_defect_matches_reference_on_random_corruptions():
    gen = np.random.default_rng(15)
    seen = Counter()
    for trial in range(600):
        n = int(gen.integers(0, 9))
        if trial % 2:
            g = erdos_renyi(n, p=float(gen.random()), rng=gen)
        else:
            edges = gen.integers(0, max(n, 1), size=(int(gen.integers(0, 3 * n + 1)), 2)) if n else []
            g = from_edges(edges, n=n)
        indptr, indices = np.array(g.indptr), np.array(g.indices, dtype=np.int64)
        what = int(gen.integers(0, 8))
        if what == 1 and indices.size:  # change one id (possibly out of range)
            indices[gen.integers(indices.size)] = gen.integers(-2, n + 2)
        elif what == 2 and indices.size:  # drop one entry
            k = int(gen.integers(indices.size))
            indices = np.delete(indices, k)
            indptr[np.searchsorted(indptr, k, side="right") :] -= 1
        elif what == 3 and n:  # add one entry somewhere in a row
            i = int(gen.integers(n))
            indices = np.insert(indices, gen.integers(indptr[i], indptr[i + 1] + 1), gen.integers(0, n))
            indptr[i + 1 :] += 1
        elif what == 4 and n >= 2:  # move a row pointer
            indptr[gen.integers(1, n)] += gen.integers(-2, 3)
        elif what == 5 and indices.size >= 2:  # swap two entries
            a, b = gen.integers(indices.size, size=2)
            indices[[a, b]] = indices[[b, a]]
        elif what == 6:  # move the first or the last row pointer
            indptr[-int(gen.integers(0, 2))] += gen.choice([-1, 1])
        for symmetric in (False, True):
            for dtype in (np.int32, np.int64):
                code, _, _ = gk.csr_defect(indptr, indices.astype(dtype), symmetric)
                want = ref_csr_defect(indptr, indices, symmetric)
                assert code == want, (indptr.tolist(), indices.tolist(), symmetric, code, want)
                seen[want] += 1
    assert all(seen[code] for code in range(8)), seen  # every defect met


def test_graphs_pickle_through_the_checked_constructor():
    import pickle

    g = cascades.erdos_renyi(200, 3, rng=0)
    lg = cascades.layered([5, 4, 3], [0.5, 0.5], rng=0)
    for graph in (g, lg):
        back = pickle.loads(pickle.dumps(graph))
        assert back == graph and type(back) is type(graph) and dict(back.info) == dict(graph.info)
    # a tampered pickle meets the same checks as a file
    func, (cls, values) = g.__reduce__()
    values["indices"] = values["indices"].copy()
    values["indices"][0] = g.n + 5
    with pytest.raises(ValueError, match="indices"):
        func(cls, values)
