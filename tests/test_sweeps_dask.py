"""cascades.sweeps on a real Dask cluster (distributed.LocalCluster, 2 worker processes).

(a) a sweep on the cluster, given as a Client or as the scheduler's address, is bitwise the serial
    result; (b) a worker process killed mid-sweep (os._exit in a task) loses no finished chunk: the
    nanny restarts the worker, the scheduler reschedules its tasks, the sweep completes with the
    serial result, and no chunk file written before the death is written again. One cluster is
    shared by the module (its start-up costs seconds).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

pytest.importorskip("dask", reason="the Dask backend needs the 'distributed' extra")
distributed = pytest.importorskip("distributed", reason="the Dask backend needs the 'distributed' extra")

from test_sweeps import GRID, R, calls_by_point, counted, dies_once, draws, serial  # noqa: E402

from cascades.sweeps import sweep  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=40
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_dask_equals_serial(client, tmp_path):
    ref = serial(draws)
    ds = sweep(draws, GRID, R, rng=7, backend=client, chunk_size=4, progress=False)
    by_address = sweep(
        draws, GRID, R, rng=7, backend=client.scheduler.address, chunk_size=1, progress=False, out=tmp_path
    )
    for name in ("u", "small", "k", "vec"):
        assert ds[name].dtype == ref[name].dtype
        assert np.array_equal(ds[name].values, ref[name].values), name
        assert np.array_equal(by_address[name].values, ref[name].values), name
    assert len(list(tmp_path.glob("chunk-*"))) == 30


def test_killed_dask_worker_loses_no_finished_chunk(client, tmp_path):
    log, out = tmp_path / "log", tmp_path / "out"
    log.mkdir()
    fn = functools.partial(dies_once, log_dir=str(log), out=str(out), when=3)
    # chunk_size = R: chunk c is grid point c; the first call at a = 3 (points 4, 5) kills its worker
    ds = sweep(fn, GRID, R, rng=7, backend=client, chunk_size=R, progress=False, out=out)
    snapshot = eval((log / "died").read_text())
    assert len(snapshot) >= 1
    points = [(a, b) for a in GRID["a"] for b in GRID["b"]]
    per_point = calls_by_point(log)
    for name, mtime in snapshot.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was written again"
        assert per_point[points[int(name[6:12])]] == R
    ref = serial(functools.partial(counted, log_dir=str(tmp_path / "log2")))
    assert np.array_equal(ds["value"].values, ref["value"].values)
    client.wait_for_workers(2, timeout=60)  # the nanny has restarted the killed worker
