"""Tests of cascades.sweeps (the generic runner), cascades.campaigns and ``cascades sweep``.

Tiers (the three ways of testing in README.md, Contributing):
(a) exact: every realization's stream is the documented
    ``default_rng(SeedSequence(root, spawn_key=(grid_index, realization)))``, recomputed here
    independently; results are bitwise identical for every chunking, for the serial backend and
    for 1 and 2 worker processes; the campaigns' theory variables against closed forms
    (C1 = z P[Poisson(z) <= floor(1/phi) - 2] for Watts' model on ER graphs);
(b) invariants: resumability (an interrupted sweep restarted computes only the missing chunks, a
    finished one nothing, a dead worker loses no finished chunk), corrupted, truncated and foreign
    chunk files detected and recomputed, never read; dimensions, attributes, netCDF round trip;
    argument checks;
(c) seeded statistics: the per-realization streams are uniform and uncorrelated, and (slow) the
    Gleeson-Cahalane campaign's simulations against its own theory curve.

Calls are counted with one file per call in a directory, so calls made in worker processes count.
The Dask backend is tested in tests/test_sweeps_dask.py. xarray is imported inside the tests that
read files: worker processes import this module for its functions, and need not pay for xarray.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import subprocess
import sys
import time
import uuid
import warnings

import numpy as np
import pytest
from scipy import stats

from cascades import campaigns
from cascades.cli import main
from cascades.sweeps import ChunkWarning, SweepInterrupted, sweep

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRID = {"a": [1, 2, 3], "b": [0.5, 1.5]}  # 6 grid points
R = 5  # realizations per point: 30 tasks


# ---------------------------------------------------------------------------
# module-level functions (picklable: sent to worker processes)
# ---------------------------------------------------------------------------


def draws(a, b, *, rng):
    """A float, a bool, an int and a fixed-shape array per realization."""
    u = rng.random()
    return {"u": u, "small": bool(u < 0.5), "k": int(rng.integers(1000)), "vec": rng.random(3) + a * b}


def counted(a, b, *, rng, log_dir):
    """rng.random(), logging one file per call; raises KeyboardInterrupt at the call number in ``stop_at``."""
    calls = os.path.join(log_dir, "calls")
    os.makedirs(calls, exist_ok=True)
    stop = os.path.join(log_dir, "stop_at")
    if os.path.exists(stop):
        with open(stop) as fh:
            if len(os.listdir(calls)) == int(fh.read()):
                raise KeyboardInterrupt
    with open(os.path.join(calls, f"{a}_{b}_{uuid.uuid4().hex}"), "w"):
        pass
    return rng.random()


def dies_once(a, b, *, rng, log_dir, out, when):
    """counted(), except that the first call with a == when kills its process (os._exit), once.

    Before dying it records which chunk files exist and their modification times, so the test can
    check that none of them was written again.
    """
    if a == when:
        time.sleep(0.5)  # let the parent write the chunks that had finished
        try:
            fd = os.open(os.path.join(log_dir, "died"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            snapshot = {
                name: os.stat(os.path.join(out, name)).st_mtime_ns
                for name in os.listdir(out)
                if name.startswith("chunk-")
            }
            os.write(fd, repr(snapshot).encode())
            os.close(fd)
            os._exit(13)
    return counted(a, b, rng=rng, log_dir=log_dir)


def slow(a, b, *, rng, log_dir):
    time.sleep(0.05)
    return counted(a, b, rng=rng, log_dir=log_dir)


def n_calls(log_dir) -> int:
    path = os.path.join(log_dir, "calls")
    return len(os.listdir(path)) if os.path.isdir(path) else 0


def calls_by_point(log_dir) -> dict:
    out = {}
    for name in os.listdir(os.path.join(log_dir, "calls")):
        a, b, _ = name.split("_")
        out[(int(a), float(b))] = out.get((int(a), float(b)), 0) + 1
    return out


def serial(function, **kw):
    return sweep(function, GRID, R, rng=7, backend="serial", progress=False, **kw)


# ---------------------------------------------------------------------------
# (a) seeds and backends
# ---------------------------------------------------------------------------


def test_streams_follow_the_documented_seed_scheme():
    ds = serial(draws)
    for g, (a, b) in enumerate([(a, b) for a in GRID["a"] for b in GRID["b"]]):
        for r in range(R):
            gen = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(g, r)))
            u, k, vec = gen.random(), gen.integers(1000), gen.random(3) + a * b
            point = ds.sel(a=a, b=b, realization=r)
            assert point["u"].item() == u and point["k"].item() == k and point["small"].item() == (u < 0.5)
            assert np.array_equal(point["vec"].values, vec)


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 30, 100])
def test_chunking_changes_nothing(chunk_size):
    ref = serial(draws, chunk_size=1)
    ds = serial(draws, chunk_size=chunk_size)
    for name in ("u", "small", "k", "vec"):
        assert ds[name].dtype == ref[name].dtype
        assert np.array_equal(ds[name].values, ref[name].values)


def test_processes_with_one_and_two_workers_equal_serial():
    ref = serial(draws)
    for workers, chunk_size in ((1, 8), (2, 3)):
        ds = sweep(
            draws, GRID, R, rng=7, backend="processes", workers=workers, chunk_size=chunk_size, progress=False
        )
        for name in ("u", "small", "k", "vec"):
            assert np.array_equal(ds[name].values, ref[name].values), (workers, name)


def test_dataset_layout_and_attributes(tmp_path):
    import xarray as xr

    ds = sweep(draws, GRID, R, rng=7, backend="serial", progress=False, out=tmp_path, attrs={"note": "x"})
    assert ds["u"].dims == ("a", "b", "realization") and ds["u"].dtype == np.float64
    assert ds["vec"].dims == ("a", "b", "realization", "vec_dim0") and ds["vec"].shape == (3, 2, R, 3)
    assert ds["small"].dtype == bool and ds["k"].dtype == np.int64
    assert ds["a"].values.tolist() == GRID["a"] and ds["realization"].values.tolist() == list(range(R))
    assert ds.attrs["root_seed"] == "7" and ds.attrs["n_realizations"] == R and ds.attrs["note"] == "x"
    assert ds.attrs["function"] == "test_sweeps.draws"
    import cascades

    assert ds.attrs["cascades_version"] == cascades.__version__
    disk = xr.load_dataset(tmp_path / "sweep.nc", engine="scipy")
    for name in ("u", "small", "k", "vec"):
        assert np.array_equal(disk[name].values, ds[name].values)
    assert disk.attrs["signature"] == ds.attrs["signature"]


def test_scalar_output_and_empty_grid():
    def value(*, rng):
        return rng.normal()

    ds = sweep(value, {}, 4, rng=1, backend="serial", progress=False)
    expected = [np.random.default_rng(np.random.SeedSequence(1, spawn_key=(0, r))).normal() for r in range(4)]
    assert ds["value"].dims == ("realization",) and ds["value"].values.tolist() == expected


def test_generator_and_seedsequence_roots():
    a = sweep(draws, GRID, 2, rng=np.random.default_rng(3), backend="serial", progress=False)
    root = int(np.random.default_rng(3).integers(2**63))  # the documented single draw
    b = sweep(draws, GRID, 2, rng=root, backend="serial", progress=False)
    assert np.array_equal(a["u"], b["u"])
    child = np.random.SeedSequence(11).spawn(2)[1]
    c = sweep(draws, GRID, 2, rng=child, backend="serial", progress=False)
    gen = np.random.default_rng(np.random.SeedSequence(11, spawn_key=(1, 0, 1)))  # point 0, realization 1
    assert c["u"].values[0, 0, 1] == gen.random()


# ---------------------------------------------------------------------------
# (b) resumability and file integrity
# ---------------------------------------------------------------------------


def test_interrupted_sweep_resumes_with_only_the_missing_chunks(tmp_path):
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    fn = functools.partial(counted, log_dir=str(log))
    (log / "stop_at").write_text("5")  # the 6th call raises: chunks 0, 1 (tasks 0-3) finished
    with pytest.raises(SweepInterrupted) as info:
        sweep(fn, GRID, R, rng=7, backend="serial", progress=False, out=out, chunk_size=2)
    exc = info.value
    assert exc.n_completed == 4 and exc.n_total == 30 and n_calls(log) == 5
    completed = exc.dataset["completed"].values.reshape(-1)
    assert completed[:4].all() and not completed[4:].any()
    assert np.isnan(exc.dataset["value"].values.reshape(-1)[4:]).all()
    assert sorted(p.name for p in out.glob("chunk-*")) == ["chunk-000000.bin", "chunk-000001.bin"]
    (log / "stop_at").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is reported corrupted
        ds = sweep(fn, GRID, R, rng=7, backend="serial", progress=False, out=out, chunk_size=2)
    assert n_calls(log) == 5 + 26  # the 4 finished realizations were not computed again
    ref = serial(functools.partial(counted, log_dir=str(tmp_path / "log2")))
    assert np.array_equal(ds["value"].values, ref["value"].values)
    assert np.array_equal(ds["value"].values.reshape(-1)[:4], exc.dataset["value"].values.reshape(-1)[:4])
    # a finished sweep computes nothing, and rng=None reuses the recorded root seed
    again = sweep(fn, GRID, R, backend="serial", progress=False, out=out, chunk_size=2)
    assert n_calls(log) == 31 and np.array_equal(again["value"].values, ds["value"].values)
    assert again.attrs["created"] == ds.attrs["created"]


def test_corrupted_truncated_and_foreign_chunks_are_recomputed(tmp_path):
    log, out, other = tmp_path / "log", tmp_path / "out", tmp_path / "other"
    fn = functools.partial(counted, log_dir=str(log))
    kw = {"backend": "serial", "progress": False, "chunk_size": 5}  # 6 chunks
    ref = sweep(fn, GRID, R, rng=7, out=out, **kw)
    sweep(fn, GRID, R, rng=8, out=other, **kw)  # same layout, another seed
    assert n_calls(log) == 60
    chunk = [out / f"chunk-{c:06d}.bin" for c in range(6)]
    blob = chunk[0].read_bytes()
    chunk[0].write_bytes(blob[: len(blob) // 2])  # truncated (a crash mid-copy)
    blob = bytearray(chunk[1].read_bytes())
    blob[-20] ^= 0xFF  # one flipped payload byte
    chunk[1].write_bytes(bytes(blob))
    chunk[2].write_bytes((other / "chunk-000002.bin").read_bytes())  # a valid file of another sweep
    chunk[3].write_bytes(b"garbage")
    chunk[4].unlink()
    (out / ".tmp-leftover").write_bytes(b"half a file")  # a write that a crash interrupted
    with pytest.warns(ChunkWarning) as record:
        ds = sweep(fn, GRID, R, rng=7, out=out, **kw)
    messages = " | ".join(str(w.message) for w in record)
    assert len(record) == 4, messages
    for fragment in ("truncated", "checksum", "different sweep", "not a sweep chunk"):
        assert fragment in messages
    assert n_calls(log) == 60 + 5 * 5  # chunks 0-4 recomputed, chunk 5 read
    for name in ("value",):
        assert np.array_equal(ds[name].values, ref[name].values)
    assert not (out / ".tmp-leftover").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sweep(fn, GRID, R, rng=7, out=out, **kw)
    assert n_calls(log) == 85


def test_out_directory_of_another_sweep_is_refused(tmp_path):
    sweep(draws, GRID, 2, rng=1, backend="serial", progress=False, out=tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    for kw, what in (({"rng": 2}, "root_seed"), ({"rng": 1, "chunk_size": 5}, "chunk_size")):
        with pytest.raises(ValueError, match=what):
            sweep(draws, GRID, 2, backend="serial", progress=False, out=tmp_path, **kw)
    with pytest.raises(ValueError, match="grid"):
        sweep(draws, {"a": [1, 2]}, 2, rng=1, backend="serial", progress=False, out=tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_dead_worker_process_loses_no_finished_chunk(tmp_path):
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    fn = functools.partial(dies_once, log_dir=str(log), out=str(out), when=3)
    # chunk_size = R: chunk c is grid point c; the first call at a = 3 (points 4, 5) kills its worker
    with pytest.warns(RuntimeWarning, match="worker process died"):
        ds = sweep(fn, GRID, R, rng=7, backend="processes", workers=2, chunk_size=R, progress=False, out=out)
    snapshot = eval((log / "died").read_text())  # chunk files that existed when the worker died
    assert len(snapshot) >= 1
    points = [(a, b) for a in GRID["a"] for b in GRID["b"]]
    per_point = calls_by_point(log)
    for name, mtime in snapshot.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was written again"
        assert per_point[points[int(name[6:12])]] == R  # computed once, never again
    assert all(R <= per_point[p] <= 2 * R for p in points)
    ref = serial(functools.partial(counted, log_dir=str(tmp_path / "log2")))
    assert np.array_equal(ds["value"].values, ref["value"].values)


def test_function_errors_propagate_and_keep_finished_chunks(tmp_path):
    def boom(a, b, *, rng):
        if a == 3:
            raise ZeroDivisionError("boom")
        return 1.0

    with pytest.raises(ZeroDivisionError):
        sweep(boom, GRID, R, rng=0, backend="serial", progress=False, out=tmp_path, chunk_size=5)
    assert len(list(tmp_path.glob("chunk-*"))) == 4  # a = 1, 2: 4 grid points, 4 chunks


@pytest.mark.slow
def test_ctrl_c_on_the_processes_backend_keeps_chunks_and_resumes(tmp_path):
    # A real SIGINT to a sweep running on 2 worker processes in a child interpreter.
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    code = (
        "import functools, sys\n"
        f"sys.path.insert(0, {os.path.join(ROOT, 'tests')!r})\n"
        "from test_sweeps import slow, GRID, R\n"
        "from cascades.sweeps import sweep, SweepInterrupted\n"
        "if __name__ == '__main__':\n"
        "    try:\n"
        f"        sweep(functools.partial(slow, log_dir={str(log)!r}), GRID, R, rng=7, workers=2,\n"
        f"              chunk_size=1, progress=False, out={str(out)!r})\n"
        "    except SweepInterrupted as exc:\n"
        "        print(exc.n_completed)\n"
        "        sys.exit(3)\n"
    )
    script = tmp_path / "run.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("chunk-*")) if out.exists() else []) < 5:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 3, stdout
    kept = len(list(out.glob("chunk-*")))
    assert 5 <= kept < 30 and int(stdout.split()[-1]) == kept
    calls_before = n_calls(log)
    ds = sweep(
        functools.partial(slow, log_dir=str(log)),
        GRID,
        R,
        rng=7,
        backend="serial",
        chunk_size=1,
        progress=False,
        out=out,
    )
    assert n_calls(log) == calls_before + 30 - kept
    ref = serial(functools.partial(counted, log_dir=str(tmp_path / "log2")))
    assert np.array_equal(ds["value"].values, ref["value"].values)


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"grid": [1, 2]}, "grid must be a mapping"),
        ({"grid": {"a": []}}, "non-empty 1-d"),
        ({"grid": {"a": [[1, 2]]}}, "non-empty 1-d"),
        ({"grid": {"realization": [1]}}, "reserved"),
        ({"grid": {"a b": [1]}}, "identifiers"),
        ({"grid": {"a": [1.0, float("nan")]}}, "finite"),
        ({"n_realizations": 0}, "n_realizations must be an integer >= 1"),
        ({"chunk_size": 0}, "chunk_size must be an integer >= 1"),
        ({"workers": 0}, "workers must be an integer >= 1"),
        ({"backend": "threads"}, "backend must be"),
        ({"rng": -1}, "non-negative"),
    ],
)
def test_bad_arguments(kwargs, fragment):
    args = {"grid": GRID, "n_realizations": 2, "backend": "serial", "progress": False, "rng": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=fragment):
        sweep(draws, args.pop("grid"), args.pop("n_realizations"), **args)


def test_unpicklable_function_and_inconsistent_outputs():
    with pytest.raises(ValueError, match="picklable"):
        sweep(lambda a, b, *, rng: 1.0, GRID, 1, rng=0, progress=False)

    def changing(a, b, *, rng):
        return {"x": 1.0} if a == 1 else {"y": 1.0}

    with pytest.raises(ValueError, match="outputs"):
        sweep(changing, GRID, 1, rng=0, backend="serial", progress=False)

    def reshaping(a, b, *, rng):
        return {"x": np.zeros(a)}

    with pytest.raises(ValueError, match="shape"):
        sweep(reshaping, GRID, 1, rng=0, backend="serial", progress=False)
    with pytest.raises(TypeError, match="callable"):
        sweep(3, GRID, 1, rng=0, backend="serial", progress=False)


# ---------------------------------------------------------------------------
# (c) the streams are independent uniforms
# ---------------------------------------------------------------------------


def uniform(i, *, rng):
    return rng.random()


def test_streams_are_uniform_and_uncorrelated():
    ds = sweep(uniform, {"i": np.arange(400)}, 5, rng=2026, backend="serial", progress=False)
    u = ds["value"].values.reshape(-1)  # 2000 draws, one per realization stream
    # Kolmogorov-Smirnov against U(0, 1): a false alarm has probability 1e-3 for independent uniforms
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # neighbouring streams (realization r, r + 1 and grid point g, g + 1): the sample correlation of
    # N independent pairs has standard error 1/sqrt(N); 4 standard errors
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 4 / math.sqrt(u.size - 1)
    v = ds["value"].values
    assert abs(np.corrcoef(v[:-1].ravel(), v[1:].ravel())[0, 1]) < 4 / math.sqrt(v[1:].size)
    assert np.unique(u).size == u.size


# ---------------------------------------------------------------------------
# campaigns
# ---------------------------------------------------------------------------


def test_campaign_registry():
    assert campaigns.list_campaigns() == ("gleeson-cahalane", "watts-window")
    full = campaigns.get_campaign("watts-window")
    assert full.parameters["n"] == 10**4 and full.n_realizations == 100
    gc = campaigns.get_campaign("gleeson-cahalane")
    assert gc.parameters == {"n": 10**5, "phi": 0.18} and gc.grid["seed_fraction"] == (1e-3, 5e-3, 1e-2)
    with pytest.raises(ValueError, match="known: gleeson-cahalane, watts-window"):
        campaigns.get_campaign("nope")


def test_watts_theory_against_the_closed_form():
    camp = campaigns.get_campaign("watts-window")
    theory = camp.theory(camp)
    phi = np.asarray(camp.grid["phi"])[:, None]
    z = np.asarray(camp.grid["z"])[None, :]
    # Watts' C1 on ER graphs with the ">=" rule: z P[Poisson(z) <= floor(1/phi) - 2]
    # (docs/guide/theory/cascades.md, cascade conditions)
    c1 = z * stats.poisson.cdf(np.floor(1 / phi + 1e-12) - 2, z)
    np.testing.assert_allclose(theory["theory_c1"][1], c1, rtol=1e-10, atol=1e-12)
    assert np.array_equal(theory["theory_window"][1], c1 > 1)
    prob = theory["theory_global_probability"][1]
    assert np.all((prob >= 0) & (prob <= 1))
    assert np.array_equal(prob > 1e-9, c1 > 1)  # P_global > 0 iff C1 > 1


def test_watts_quick_campaign(tmp_path):
    import xarray as xr

    ds = campaigns.run_campaign("watts-window", quick=True, backend="serial", out=tmp_path, progress=False)
    assert ds["fraction"].dims == ("phi", "z", "realization") and ds["fraction"].shape == (3, 3, 8)
    f = ds["fraction"].values
    assert np.all((f >= 1 / 1000) & (f <= 1))  # one seed of 1000 nodes at least
    assert np.array_equal(ds["global_cascade"].values, f > campaigns.GLOBAL_THRESHOLD)
    assert ds["theory_window"].dims == ("phi", "z") and ds.attrs["campaign"] == "watts-window-quick"
    assert ds.attrs["param_n"] == 1000 and ds.attrs["root_seed"] == "20020430"
    disk = xr.load_dataset(tmp_path / "watts-window-quick.nc", engine="scipy")
    assert np.array_equal(disk["fraction"].values, f)
    assert np.array_equal(disk["theory_c1"].values, ds["theory_c1"].values)


def test_gleeson_cahalane_theory_is_final_size():
    from cascades import FractionalThreshold, Poisson, final_size

    camp = campaigns.get_campaign("gleeson-cahalane", quick=True)
    dims, rho = camp.theory(camp)["theory_rho"]
    assert dims == ("seed_fraction", "z")
    for i, rho0 in enumerate(camp.grid["seed_fraction"]):
        for j, z in enumerate(camp.grid["z"]):
            assert rho[i, j] == final_size(FractionalThreshold(0.18), Poisson(z), rho0).rho
    assert np.all(rho >= np.asarray(camp.grid["seed_fraction"])[:, None])  # seeds stay active
    assert np.all(np.diff(rho, axis=0) >= -1e-12)  # more seeds, larger cascades (monotone model)


@pytest.mark.slow
def test_gleeson_cahalane_simulation_against_theory():
    # n = 2e4, 12 realizations per point, z away from the jump (z = 2, 4: global; z = 12: local).
    # The mean of R = 12 runs must lie within c = 4.4 standard errors (Student t, 11 dof, two-sided
    # false-alarm probability 1e-3; the standard error estimated from the runs) plus 2/n for the
    # O(1/n) finite-size bias of the tree approximation, the rule of test_theory_vs_simulation.py.
    base = campaigns.get_campaign("gleeson-cahalane", quick=True)
    n = 20_000
    camp = campaigns.Campaign(
        name=base.name,
        quick=True,
        description="test",
        function=functools.partial(campaigns.gleeson_cahalane_realization, n=n, phi=0.18),
        grid={"seed_fraction": (5e-3, 1e-2), "z": (2.0, 4.0, 12.0)},
        n_realizations=12,
        seed=1,
        parameters={"n": n, "phi": 0.18},
        theory=base.theory,
    )
    ds = campaigns.run_campaign(camp, backend="processes", workers=2, progress=False)
    mean = ds["rho"].mean("realization")
    se = ds["rho"].std("realization", ddof=1) / math.sqrt(12)
    c = stats.t.ppf(1 - 1e-3 / 2, 11)
    assert np.all(np.abs(mean - ds["theory_rho"]) <= c * se + 2 / n), (mean.values, ds["theory_rho"].values)


# ---------------------------------------------------------------------------
# the command line and the campaign scripts
# ---------------------------------------------------------------------------


def test_cli_sweep(tmp_path, capsys):
    import xarray as xr

    assert main(["sweep", "--list"]) == 0
    out = capsys.readouterr().out
    assert "watts-window" in out and "gleeson-cahalane" in out
    args = ["sweep", "gleeson-cahalane", "--quick", "--serial", "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    assert (tmp_path / "gleeson-cahalane-quick.nc").exists()
    chunks = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("chunk-*")}
    assert len(chunks) == 24
    assert main(args) == 0  # finished: nothing recomputed, no chunk rewritten
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("chunk-*")} == chunks
    ds = xr.load_dataset(tmp_path / "gleeson-cahalane-quick.nc", engine="scipy")
    ref = campaigns.run_campaign("gleeson-cahalane", quick=True, backend="serial", progress=False)
    assert np.array_equal(ds["rho"].values, ref["rho"].values)
    capsys.readouterr()
    for bad, fragment in (
        (["sweep", "nope"], "unknown campaign"),
        (["sweep"], "give a campaign name"),
        (["sweep", "watts-window", "--serial", "--scheduler", "tcp://x:1"], "at most one"),
        (args + ["--seed", "3"], "root_seed"),
    ):
        assert main(bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err


def test_campaign_script_runs(tmp_path):
    import runpy

    module = runpy.run_path(os.path.join(ROOT, "simulations", "gleeson_cahalane.py"))
    assert module["PARAMETERS"]["campaign"] == "gleeson-cahalane"
    ds = module["run"](quick=True, backend="serial", out=str(tmp_path), progress=False)
    assert (tmp_path / "gleeson-cahalane-quick.nc").exists() and "theory_rho" in ds
