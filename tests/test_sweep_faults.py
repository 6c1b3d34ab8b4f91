"""Regression tests of issue 15 for the sweep runner and the ensembles: no orphan, no late failure, no
runaway allocation. Each test is a reproducer found by fuzzing:

- a sweep whose process was SIGKILLed left its forkserver, both pool workers and the multiprocessing
  resource tracker running forever (each worker held both ends of the pool's call queue, so it never
  saw the parent die, and with it the forkserver's "alive" pipe and the tracker's pipe);
- ``sweep(f, {'x': [1, 2]}, 3, rng=0, out=d)`` with ``f`` returning integers >= 2**31 did all the
  work, then failed writing ``sweep.nc`` with a message about datetime64 (xarray casts int64 to int32
  for netCDF 3, and its error message is written for times), and every resume failed the same way;
  ``attrs={'a': None}`` likewise failed only at the end;
- ``simulate_ensemble(g, model, 2**40)`` spawned its per-run generators until memory ran out.

Tiers (the three ways of testing in README.md, Contributing): all (b), invariants: processes gone,
values stored exactly, errors raised before any work (calls counted with one file per call) and
naming the parameter.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
import uuid
import warnings

import numpy as np
import pytest

import cascades
from cascades import MemoryLimitError
from cascades.graphs import erdos_renyi
from cascades.models import FractionalThreshold
from cascades.simulation import simulate_ensemble
from cascades.sweeps import ChunkWarning, sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLEEP = "CASCADES_TEST_SWEEP_SLEEP"  # seconds each call of sleepy() sleeps (unset: none)


# ---------------------------------------------------------------------------
# module-level functions (picklable: sent to worker processes)
# ---------------------------------------------------------------------------


def sleepy(i, *, rng):
    time.sleep(float(os.environ.get(SLEEP, "0")))
    return {"u": rng.random(), "k": i}


def big_counts(x, *, rng):
    """The fuzzing reproducer's outputs: integers beyond int32, up to the largest stored exactly."""
    return {"value": 2**31 + x, "neg": -(2**40) - x, "edge": 2**53 - x, "small": x, "u": rng.random()}


def counted(*, rng, log_dir, value, **point):
    """Returns ``value``, logging one file per call."""
    os.makedirs(log_dir, exist_ok=True)
    with open(os.path.join(log_dir, uuid.uuid4().hex), "w"):
        pass
    return value


def n_calls(log_dir) -> int:
    return len(os.listdir(log_dir)) if os.path.isdir(log_dir) else 0


# ---------------------------------------------------------------------------
# processes, from /proc
# ---------------------------------------------------------------------------


def proc_stat(pid: int):
    """(state, ppid, start time) of a process, from /proc/<pid>/stat; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return fields[0], int(fields[1]), int(fields[19])


def descendants(root: int) -> dict:
    """{pid: start time} of every descendant of ``root`` (children, grandchildren, ...)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None:
                children.setdefault(stat[1], []).append((int(entry), stat[2]))
    found, todo = {}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            found[pid] = start
            todo.append(pid)
    return found


def running(pid: int, start: int) -> bool:
    """The process that had this start time still runs (a zombie does not; a reused pid is another)."""
    stat = proc_stat(pid)
    return stat is not None and stat[2] == start and stat[0] != "Z"


# ---------------------------------------------------------------------------
# 1. orphans: the workers, the forkserver and the resource tracker die with the sweep's process
# ---------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads processes from /proc (Linux)")
def test_sigkilled_sweep_leaves_no_process_behind_and_resumes(tmp_path):
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {os.path.join(ROOT, 'tests')!r})\n"
        "from test_sweep_faults import sleepy\n"
        "from cascades.sweeps import sweep\n"
        "if __name__ == '__main__':\n"
        "    sweep(sleepy, {'i': list(range(16))}, 1, rng=3, workers=2, chunk_size=1, progress=False,\n"
        "          out=sys.argv[1])\n"
    )
    env = dict(os.environ, PYTHONPATH=ROOT, **{SLEEP: "0.5"})
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, str(script), str(out)], env=env, stderr=err)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            family = descendants(proc.pid)
            workers = [p for p in family if proc_stat(p) and proc_stat(p)[1] != proc.pid]
            if len(workers) >= 2 and any(out.glob("chunk-*")):
                break
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            time.sleep(0.05)
        else:
            pytest.fail("the sweep did not start its workers within 90 s")
        # the resource tracker and the forkserver (children), the two workers (grandchildren)
        assert len(family) >= 4, family
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed = time.monotonic()
    while time.monotonic() - killed < 10 and any(running(p, s) for p, s in family.items()):
        time.sleep(0.05)
    left = [p for p, s in family.items() if running(p, s)]
    for pid in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running 10 s after the SIGKILL: {left} of {sorted(family)}"

    # the chunks written before the kill are valid and are not computed again
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("chunk-*")}
    assert 1 <= len(kept) < 16
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChunkWarning)
        ds = sweep(
            sleepy, {"i": list(range(16))}, 1, rng=3, chunk_size=1, out=out, backend="serial", progress=False
        )
    assert {name: (out / name).stat().st_mtime_ns for name in kept} == kept
    ref = sweep(sleepy, {"i": list(range(16))}, 1, rng=3, backend="serial", progress=False)
    assert np.array_equal(ds["u"].values, ref["u"].values)


# ---------------------------------------------------------------------------
# 2. outputs and attributes the result file cannot store: refused at once, or stored exactly
# ---------------------------------------------------------------------------


def test_integers_beyond_int32_are_saved_exactly(tmp_path):
    import xarray as xr

    # the fuzzing reproducer (default backend "processes", two workers)
    ds = sweep(big_counts, {"x": [1, 2]}, 3, rng=0, out=tmp_path, workers=2, progress=False)
    disk = xr.load_dataset(tmp_path / "sweep.nc", engine="scipy")
    for name in ("value", "neg", "edge", "small"):
        assert ds[name].dtype == np.int64
        restored = disk[name].astype(disk[name].attrs.get("cascades_dtype", disk[name].dtype))
        assert np.array_equal(restored.values, ds[name].values), name
    assert ds["value"].values.tolist() == [[2**31 + 1] * 3, [2**31 + 2] * 3]
    assert disk["value"].attrs["cascades_dtype"] == "int64" and disk["small"].dtype == np.int32


def test_resume_of_a_directory_left_by_the_failing_version(tmp_path):
    import xarray as xr

    from cascades import sweeps

    log, out = tmp_path / "log", tmp_path / "out"
    fn = functools.partial(counted, log_dir=str(log), value=2**31 + 5)
    kw = {"rng": 0, "out": out, "backend": "serial", "progress": False, "chunk_size": 2}
    sweep(fn, {"x": [1, 2]}, 3, **kw)
    assert n_calls(log) == 6
    # the old version wrote the same chunk files, then failed on sweep.nc: the resume now finishes
    (out / "sweep.nc").unlink()
    ds = sweep(fn, {"x": [1, 2]}, 3, **kw)
    assert n_calls(log) == 6  # nothing computed again
    assert (
        xr.load_dataset(out / "sweep.nc", engine="scipy")["value"].values.tolist() == [[2**31 + 5.0] * 3] * 2
    )
    assert (ds["value"].values == 2**31 + 5).all()
    # a chunk holding an integer that cannot be stored exactly (only an older version could write
    # it): refused at once, naming the output and the file, instead of after all the work
    manifest = sweeps._load_manifest(str(out))
    rec = {"value": np.array([2**60, 1])}
    sweeps._write_chunk(str(out), 0, manifest["signature"], 0, 2, rec)
    with pytest.raises(
        ValueError, match=r"output 'value' of chunk file .*chunk-000000\.bin.*2\*\*53.*another out"
    ):
        sweep(fn, {"x": [1, 2]}, 3, **kw)
    assert n_calls(log) == 6


@pytest.mark.parametrize(
    "value, fragment",
    [
        (2**60, r"output 'value' of the function's result is the integer 1152921504606846976, beyond"),
        (-(2**53) - 1, r"output 'value' .* beyond \+-2\*\*53"),
        (np.uint64(2**64 - 1), r"output 'value' .*18446744073709551615"),
        (2**70, r"output 'value' .*the integer 1180591620717411303424"),
        ({"k": [1, 2**64]}, r"output 'k' .*the integer 18446744073709551616"),
        (None, r"output 'value' .*integer within \+-2\*\*53.*got None"),
        ("text", r"output 'value' .*got 'text'"),
        (1j, r"output 'value' .*complex"),
        ({"a": np.zeros((2, 0))}, r"output 'a' .*empty axis"),
        ({"a": [[1], [1, 2]]}, r"output 'a' .*fixed shape"),
        ({"x": 1.0}, r"output 'x' .*name of a grid parameter.*rename"),
        ({"completed": 1.0}, r"output 'completed' .*reserved"),
        ({"v": np.zeros(2), "v_dim0": 1.0}, r"output 'v_dim0' .*dimension of output 'v'"),
    ],
)
def test_unstorable_outputs_are_refused_on_the_first_result(tmp_path, value, fragment):
    log, out = tmp_path / "log", tmp_path / "out"
    fn = functools.partial(counted, log_dir=str(log), value=value)
    with pytest.raises(ValueError, match=fragment):
        sweep(fn, {"x": [1, 2, 3]}, 4, rng=0, out=out, backend="serial", progress=False, chunk_size=4)
    assert n_calls(log) <= 4  # the first chunk at most: nothing after the first result
    assert not list(out.glob("chunk-*")) and not (out / "sweep.nc").exists()


@pytest.mark.parametrize(
    "attrs, fragment",
    [
        ({"a": None}, r"attrs\['a'\] = None cannot be stored"),
        ({"a": {"b": 1}}, r"attrs\['a'\]"),
        ({"a": [[1, 2]]}, r"attrs\['a'\] .*1-dimensional"),
        ({"a": 1j}, r"attrs\['a'\]"),
        ({"float": 1.0}, r"attrs\['float'\] .*CDL keyword"),
        ({"a/b": 1}, r"attrs\['a/b'\] .*valid netCDF names"),
        ({1: "x"}, r"attrs keys must be strings.*got the key 1"),
    ],
)
def test_unstorable_attrs_are_refused_before_any_work(tmp_path, attrs, fragment):
    log, out = tmp_path / "log", tmp_path / "out"
    fn = functools.partial(counted, log_dir=str(log), value=1.0)
    with pytest.raises(ValueError, match=fragment):
        sweep(fn, {"x": [1, 2]}, 3, rng=0, out=out, backend="serial", progress=False, attrs=attrs)
    assert n_calls(log) == 0 and not out.exists()


def test_attrs_of_the_wrong_kind_and_big_integer_attrs(tmp_path):
    import xarray as xr

    fn = functools.partial(counted, log_dir=str(tmp_path / "log"), value=1.0)
    with pytest.raises(TypeError, match="attrs must be a mapping"):
        sweep(fn, {"x": [1]}, 1, rng=0, backend="serial", progress=False, attrs=[("a", 1)])
    ds = sweep(
        fn, {"x": [1]}, 1, rng=0, out=tmp_path / "out", backend="serial", progress=False, attrs={"n": 2**40}
    )
    assert ds.attrs["n"] == 2**40
    assert xr.load_dataset(tmp_path / "out" / "sweep.nc", engine="scipy").attrs["n"] == str(2**40)


def test_unstorable_grid_is_refused_before_any_work(tmp_path):
    import xarray as xr

    fn = functools.partial(counted, log_dir=str(tmp_path / "log"), value=1.0)
    with pytest.raises(ValueError, match=r"grid\['x'\] must hold integers within \+-2\*\*53"):
        sweep(fn, {"x": [1, 2**60]}, 1, rng=0, backend="serial", progress=False)
    assert n_calls(tmp_path / "log") == 0
    sweep(fn, {"x": [1, 2**40]}, 1, rng=0, out=tmp_path / "out", backend="serial", progress=False)
    assert xr.load_dataset(tmp_path / "out" / "sweep.nc", engine="scipy")["x"].values.tolist() == [1, 2**40]


def test_chunk_size_beyond_the_sweep_and_int32_finishes(tmp_path):
    import xarray as xr

    # chunk_size = 2**40 once made a 1 TiB mask of finished realizations, after all the work
    fn = functools.partial(counted, log_dir=str(tmp_path / "log"), value=1.0)
    ds = sweep(
        fn, {"x": [1, 2]}, 3, rng=0, out=tmp_path / "out", backend="serial", progress=False, chunk_size=2**40
    )
    assert ds["value"].shape == (2, 3) and ds.attrs["chunk_size"] == 2**40
    assert xr.load_dataset(tmp_path / "out" / "sweep.nc", engine="scipy").attrs["chunk_size"] == str(2**40)


# ---------------------------------------------------------------------------
# 3. allocations that grow with the input are refused before they are made
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [None, "1G"])
def test_simulate_ensemble_with_2_40_runs_is_refused_at_once(limit, monkeypatch):
    monkeypatch.delenv("CASCADES_MEMORY_LIMIT", raising=False)  # None: the machine's available memory
    g = erdos_renyi(100, 3.0, rng=0)
    context = cascades.memory_limit(limit) if limit else warnings.catch_warnings()
    start = time.monotonic()
    with context, pytest.raises(MemoryLimitError, match=r"n_runs = 1099511627776 needs about 1\.\d PiB"):
        simulate_ensemble(g, FractionalThreshold(0.18), 2**40, n_seeds=1, rng=0)
    assert time.monotonic() - start < 2


def test_simulate_ensemble_estimate_counts_generators_and_results():
    g = erdos_renyi(20_000, 3.0, rng=0)
    model = FractionalThreshold(0.18)
    with cascades.memory_limit("1G"):
        with pytest.raises(MemoryLimitError, match=r"n_runs = 1000000 needs about 1\.2 GiB"):
            simulate_ensemble(g, model, 10**6, n_seeds=1, rng=0)  # ~1.3 KiB of generators per run
        with pytest.raises(MemoryLimitError, match=r"n_runs = 20000 .*CascadeResult"):
            simulate_ensemble(g, model, 20_000, n_seeds=1, rng=0, return_results=True)  # 100 kB per run
        f = simulate_ensemble(g, model, 4, n_seeds=1, rng=0, workers=1)
    assert np.array_equal(f, simulate_ensemble(g, model, 4, n_seeds=1, rng=0, workers=1))


def test_sweep_too_large_for_memory_is_refused_before_any_work(tmp_path):
    log, out = tmp_path / "log", tmp_path / "out"
    fn = functools.partial(counted, log_dir=str(log), value=1.0)
    kw = {"rng": 0, "backend": "serial", "progress": False}
    with cascades.memory_limit("1G"):
        # 10**12 realizations: at least a byte each
        with pytest.raises(MemoryLimitError, match=r"10000 grid points x n_realizations = 100000000"):
            sweep(fn, {"a": range(100), "b": range(100)}, 10**8, out=out, **kw)
        # 10**7 chunks of one realization to schedule
        with pytest.raises(MemoryLimitError, match=r"chunk_size = 1 needs about 19\.\d GiB"):
            sweep(fn, {"a": range(10)}, 10**6, chunk_size=1, out=out, **kw)
    assert n_calls(log) == 0 and not out.exists()
    # outputs of 1000 floats: known on the first result, refused after the first chunk (20 calls)
    fn = functools.partial(counted, log_dir=str(log), value={"v": np.zeros(1000)})
    with (
        cascades.memory_limit("100M"),
        pytest.raises(MemoryLimitError, match=r"7\.8 KiB of outputs per realiz"),
    ):
        sweep(fn, {"a": range(100)}, 100, out=out, **kw)
    assert n_calls(log) == 20 and not list(out.glob("chunk-*"))


def test_figure_data_keeps_integers_beyond_int32(tmp_path):
    # Figure data went through astype(int32): 2**40 came back as 0 (a silent wrap).
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import xarray as xr

    from cascades.figures._base import FigureResult

    data = xr.Dataset({"count": ("i", np.array([3, 2**40])), "flag": ("i", np.array([True, False]))})
    fig = plt.figure()
    try:
        paths = FigureResult("ints", "quick", data, fig).save(tmp_path)
    finally:
        plt.close(fig)
    back = xr.load_dataset(paths["data"], engine="scipy")
    assert back["count"].values.tolist() == [3, 2**40]
    assert back["flag"].values.tolist() == [1, 0]


def _identity(x, rng):
    return x


def test_a_million_workers_are_refused_before_any_process_starts():
    with cascades.memory_limit("4G"), pytest.raises(cascades.MemoryLimitError, match="workers = 1000000"):
        cascades.sweep(_identity, {"x": list(range(100))}, 10**4, rng=0, workers=10**6, chunk_size=1)
