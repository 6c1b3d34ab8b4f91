"""Parameter sweeps: one function over a grid x realizations, from a laptop to a Dask cluster.

:func:`sweep` calls ``function(**point, rng=generator)`` for every point of the
outer product of a parameter grid and every realization, in chunks, on one of
three backends (this process, local worker processes, or a ``dask.distributed``
cluster), and returns a labelled :class:`xarray.Dataset`. With ``out=`` a
directory, every finished chunk is written to disk at once, atomically and with
a checksum, so an interrupted sweep (Ctrl-C, a dead worker, a crashed machine)
resumes where it stopped, and re-running a finished sweep computes nothing.

This module is generic: it knows nothing of cascades. The cascade campaigns
built on it live in :mod:`cascades.campaigns`.

Reproducibility
---------------
Realization ``r`` of grid point ``g`` (the C-order flat index of the point)
draws all its randomness from ::

    numpy.random.default_rng(SeedSequence(root_seed, spawn_key=(*spawn_key, g, r)))

where ``root_seed`` (and ``spawn_key``, empty unless ``rng`` is a spawned
SeedSequence) come from ``rng`` (see :func:`sweep`). A result therefore depends
on the root seed, the grid and the function only: the backend, the chunking and
the number of workers change nothing, bit for bit.

Files written under ``out``
---------------------------
``sweep.json``
    The manifest: function, grid, number of realizations, chunk size, root
    seed, package version and creation time, and the sweep's signature (a
    SHA-256 of the first five). A directory holds one sweep: calling
    :func:`sweep` with a different signature on it raises ``ValueError``
    instead of overwriting anything.
``chunk-NNNNNN.bin``
    One per finished chunk: a magic line, a JSON header (signature, chunk
    number, task range, payload length, SHA-256 of the payload) and the
    payload (an uncompressed ``.npz`` of the chunk's arrays). A file that is
    truncated, fails its checksum or belongs to another sweep is reported with
    a :class:`ChunkWarning` and recomputed; it is never read as a result.
``sweep.nc``
    The finished dataset as netCDF (``engine="scipy"``, netCDF3, so neither
    netCDF4 nor zarr is needed). netCDF3 has no 64-bit integers: integer
    variables are stored as int32 when their values fit, else as float64,
    exact because :func:`sweep` accepts integers up to :data:`MAX_INT` = 2**53
    in magnitude only, and marked with the attribute ``cascades_dtype``
    (``ds[v].astype(ds[v].attrs["cascades_dtype"])`` restores them); bools
    are stored as int8 with a flag xarray decodes.

Every file is written to a temporary file in the same directory, flushed and
fsync'ed, then moved into place with :func:`os.replace`, so a reader sees the
old file or the new one, never half of one. Only the calling process writes:
workers send their results back, so ``out`` need not be visible to Dask workers.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import io
import json
import math
import multiprocessing
import numbers
import os
import pickle
import signal
import threading
import uuid
import warnings
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from ._files import atomic_write
from ._memory import check_memory, format_bytes
from ._rng import as_generator
from ._validation import check_int

__all__ = ["sweep", "SweepInterrupted", "ChunkWarning", "save_netcdf", "START_METHOD", "MAX_INT"]

#: Start method of the worker processes of ``backend="processes"`` (see :func:`sweep`, Notes):
#: ``"forkserver"`` where available (POSIX), else ``"spawn"`` (Windows).
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"

#: How many times a broken process pool is replaced before :func:`sweep` gives up.
MAX_POOL_RESTARTS = 3

_FORMAT = 1
_MAGIC = b"CASCADES-SWEEP-CHUNK 1\n"
_MANIFEST = "sweep.json"
_RESULT = "sweep.nc"
_TMP_PREFIX = ".tmp-"
_MAX_CHUNKS = 500  # the default chunk size aims at this many chunks
_RESERVED = ("realization", "rng")
_RESERVED_OUTPUTS = ("realization", "completed")  # dimension and variable names the dataset uses
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
#: Largest magnitude of an integer output or grid value: beyond int32, netCDF 3 (which has no 64-bit
#: integers) stores integers as float64, exact up to 2**53.
MAX_INT = 2**53
_WORKER_BYTES = 100 * 2**20  # resident memory of an idle worker after `import cascades` (lower bound)
_CHUNK_BYTES = 2048  # bookkeeping per pending chunk (a Future, its lock and work item), measured


class ChunkWarning(RuntimeWarning):
    """A chunk file (or the manifest) under ``out`` was unreadable, corrupted or foreign; it is recomputed."""


class SweepInterrupted(KeyboardInterrupt):
    """Raised by :func:`sweep` on Ctrl-C; carries what had finished.

    Every finished chunk is already on disk when ``out`` was given, so calling
    :func:`sweep` again with the same arguments continues from there.

    Attributes
    ----------
    dataset : xarray.Dataset or None
        The finished realizations (variables as float64, NaN where not yet
        computed, plus a bool variable ``completed``); None if no chunk had
        finished.
    n_completed : int
        Number of finished realizations (grid points x realizations).
    n_total : int
        Number of realizations in the sweep.
    out : str or None
        The results directory.
    """

    def __init__(self, dataset, n_completed, n_total, out):
        where = f"; finished chunks are kept in {out}" if out else ""
        super().__init__(f"sweep interrupted after {n_completed} of {n_total} realizations{where}")
        self.dataset = dataset
        self.n_completed = n_completed
        self.n_total = n_total
        self.out = out


# ---------------------------------------------------------------------------
# the public function
# ---------------------------------------------------------------------------


def sweep(
    function,
    grid,
    n_realizations,
    *,
    rng=None,
    backend="processes",
    out=None,
    chunk_size=None,
    workers=None,
    progress=True,
    attrs=None,
):
    """Run ``function`` over the outer product of ``grid`` and ``n_realizations`` realizations.

    Parameters
    ----------
    function : callable
        Called as ``function(**point, rng=generator)`` once per grid point and
        realization, where ``point`` maps each grid name to a Python scalar and
        ``generator`` is a :class:`numpy.random.Generator` (module docstring).
        It returns a number, or a mapping from variable names to numbers or
        arrays of a fixed shape with no empty axis: bools, floats, or integers
        within +-2**53 (:data:`MAX_INT`, the largest that the result file
        stores exactly). The first result is checked before any more work is
        done (it must be storable in the dataset and its netCDF file, and fit
        in memory), and every result's values. With
        ``backend="processes"`` it must be picklable: a module-level function,
        or a :func:`functools.partial` of one.
    grid : mapping
        Parameter name -> 1-d sequence of values (numbers or strings). The
        sweep covers their outer product, in the mapping's order. May be empty
        (realizations only). The names ``realization`` and ``rng`` are reserved.
    n_realizations : int
        Realizations per grid point, >= 1.
    rng : None, int, numpy.random.Generator or numpy.random.SeedSequence
        The root seed. An int is used as is; a Generator gives one draw
        ``rng.integers(2**63)`` (and advances); a SeedSequence gives its
        entropy and spawn key; None draws fresh entropy, except that with an
        ``out`` directory holding a manifest the recorded root seed is reused,
        so that the sweep resumes. The root seed is stored in the result.
    backend : {"processes", "serial"}, dask.distributed.Client, cluster or str
        ``"processes"`` (default): a pool of ``workers`` local processes.
        ``"serial"``: this process. A ``distributed.Client``, a cluster object
        (e.g. ``distributed.LocalCluster``) or a scheduler address such as
        ``"tcp://10.0.0.1:8786"``: that Dask cluster (a client opened here is
        closed at the end).
    out : str or path-like, optional
        Directory for resumable results (created if missing). Without it,
        nothing is written and an interruption keeps only what
        :class:`SweepInterrupted` carries.
    chunk_size : int, optional
        Realizations per task (consecutive in grid-point-major order).
        Default: ceil(total / 500), which depends on the sweep's size only, so
        a sweep can resume with another number of workers. Part of the sweep's
        signature.
    workers : int, optional
        Number of processes of ``backend="processes"`` (default:
        ``os.cpu_count()``); ignored by the other backends.
    progress : bool
        Show a tqdm progress bar (in realizations).
    attrs : mapping, optional
        Extra attributes for the dataset: valid netCDF names mapped to
        strings, numbers or 1-d sequences of numbers (checked before any
        work; integers beyond int32 are saved in ``sweep.nc`` as decimal
        strings); not part of the signature.

    Returns
    -------
    xarray.Dataset
        One variable per output name, with dimensions (grid names...,
        ``realization``, then ``<name>_dim0``, ... for array outputs; a plain
        number is called ``value``), the grid as coordinates, and the
        attributes ``function``, ``grid`` (JSON), ``n_realizations``,
        ``chunk_size``, ``root_seed`` (a decimal string), ``spawn_key``,
        ``seed_scheme``, ``signature``, ``cascades_version`` and ``created``
        (UTC, the first start of the sweep). With ``out``, also saved as
        ``out/sweep.nc``.

    Raises
    ------
    SweepInterrupted
        On Ctrl-C (a subclass of KeyboardInterrupt); finished chunks are kept.
    ValueError
        For an empty or non-1-d grid axis, a reserved or duplicated name,
        ``n_realizations``, ``chunk_size`` or ``workers`` < 1, an unknown
        backend, an unpicklable function with ``backend="processes"``,
        outputs whose names or shapes differ between calls, an output or an
        attribute that the result file cannot store (named in the message),
        or an ``out`` directory that holds a different sweep.
    TypeError
        For a ``function`` that is not callable, or ``attrs`` that is not a
        mapping.
    MemoryLimitError
        When the grid, ``n_realizations`` and ``chunk_size`` need more memory
        than is available (see :func:`cascades.memory_limit`): checked before
        anything is allocated with a lower bound (a byte per realization,
        ~2 KiB per chunk), then on the first result with the outputs' sizes.
    RuntimeError
        When worker processes die more than :data:`MAX_POOL_RESTARTS` times
        (finished chunks are kept).

    Notes
    -----
    *Failures.* An exception raised by ``function`` stops the sweep and is
    re-raised here; finished chunks are kept. A worker process that dies
    (``os._exit``, a segfault, the OOM killer) breaks the process pool: the
    chunks that were finished are kept, a new pool is started and only the
    lost chunks are submitted again (up to :data:`MAX_POOL_RESTARTS` times).
    On Dask, the scheduler itself reschedules the tasks of a lost worker (up
    to its ``distributed.scheduler.allowed-failures`` setting, after which
    ``KilledWorker`` is raised here, finished chunks kept).

    *Start method.* Worker processes are never a ``fork`` of this process,
    which may hold threads (numba's, tqdm's monitor, a Dask client's event
    loop) whose locks a forked child inherits in an undefined state. They are
    started with ``"forkserver"`` (:data:`START_METHOD`; Python's default
    from 3.14 on Linux): a single-threaded server process, started once,
    which has imported :mod:`cascades` and forks each worker, so a new pool
    costs milliseconds instead of one package import per worker. Where
    ``forkserver`` does not exist (Windows) ``"spawn"`` is used. With both,
    the worker imports the module of ``function`` (``__main__`` included), so
    a script that calls :func:`sweep` must guard it with
    ``if __name__ == "__main__":``. Workers ignore SIGINT; on Ctrl-C this
    process cancels the pending chunks and terminates the workers.

    *A killed sweep leaves no process behind.* Each worker watches a pipe
    whose write end only this process holds, and exits when it closes, i.e.
    when this process ends in any way (SIGKILL, the OOM killer); the
    forkserver and the resource tracker then exit by themselves, as they
    stop when the last process holding their pipes is gone. Finished chunks
    that were on disk are kept; a chunk finished but not yet written is
    computed again on resume. (A worker running C code that holds the GIL
    exits when that call returns.)

    *Identity of a sweep.* The signature hashes the function's qualified name
    (with the arguments of a ``functools.partial``), not its code: after
    changing what the function computes, use a new ``out`` directory.

    Examples
    --------
    >>> import numpy as np
    >>> def coin(p, *, rng):
    ...     return {"heads": bool(rng.random() < p), "u": rng.random()}
    >>> ds = sweep(coin, {"p": [0.0, 1.0]}, 3, rng=0, backend="serial", progress=False)
    >>> ds["heads"].dims, ds["heads"].values.tolist()
    (('p', 'realization'), [[False, False, False], [True, True, True]])
    >>> again = sweep(coin, {"p": [0.0, 1.0]}, 3, rng=0, backend="serial", progress=False, chunk_size=2)
    >>> bool(np.array_equal(ds["u"], again["u"]))  # chunking changes nothing
    True
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    names, axes = _check_grid(grid)
    n_realizations = check_int("n_realizations", n_realizations, low=1)
    grid_shape = tuple(len(a) for a in axes)
    total = math.prod(grid_shape) * n_realizations
    if chunk_size is None:
        chunk_size = max(1, -(-total // _MAX_CHUNKS))
    chunk_size = check_int("chunk_size", chunk_size, low=1)
    n_chunks = -(-total // chunk_size)
    kind = _backend_kind(backend)
    if workers is None:
        workers = os.cpu_count() or 1
    workers = check_int("workers", workers, low=1)
    size = _size_text(grid_shape, n_realizations, total)
    # before any allocation that grows with the sweep: every pending chunk is a Future, and every
    # realization holds at least one byte (the smallest output, a bool); refined on the first result
    check_memory(
        n_chunks * _CHUNK_BYTES + total,
        parameter=f"{size} in chunks of chunk_size = {chunk_size}",
        what=f"{n_chunks} chunks to schedule and at least 1 byte per realization",
    )
    extra_attrs = _check_attrs(attrs)
    _check_coordinates(names, axes)
    if kind == "processes":
        _check_picklable(function)
        # each worker is an interpreter with numpy, numba and the package loaded (~100 MiB measured)
        check_memory(
            min(workers, n_chunks) * _WORKER_BYTES,
            parameter=f"workers = {workers}",
            what="one Python process per worker",
        )
    fname = _function_name(function)
    if out is not None:
        out = os.fspath(out)
        os.makedirs(out, exist_ok=True)
        _remove_temporaries(out)
    entropy, key = _root_seed(rng, out)
    spec = {
        "format": _FORMAT,
        "function": fname,
        "grid": [[name, list(axis)] for name, axis in zip(names, axes, strict=True)],
        "n_realizations": n_realizations,
        "chunk_size": chunk_size,
        "root_seed": str(entropy),
        "spawn_key": list(key),
    }
    signature = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    manifest = _open_manifest(out, spec, signature, n_chunks) if out is not None else None
    created = manifest["created"] if manifest else _now()

    collector = _Collector(total, chunk_size)
    first = []  # the first record seen (read or computed): checked once, before any more work

    def accept(c, rec, where):
        if not first:
            _check_outputs(rec, names, axes, where)
            rec_bytes = sum(a.itemsize * math.prod(a.shape[1:]) for a in rec.values())
            in_flight = (
                min(workers, n_chunks) * collector.count(0) * rec_bytes * 2 if kind == "processes" else 0
            )
            check_memory(
                n_chunks * _CHUNK_BYTES + total * rec_bytes * (3 if out is not None else 1) + in_flight,
                parameter=f"{size} in chunks of chunk_size = {chunk_size}",
                what=f"{format_bytes(rec_bytes)} of outputs per realization"
                + (", held 3 times while sweep.nc is written" if out is not None else ""),
            )
            first.append(c)
        collector.add(c, rec)

    if out is not None:
        for c in range(n_chunks):
            rec = _read_chunk(out, c, signature, *collector.bounds(c))
            if rec is not None:
                where = f"chunk file {_chunk_path(out, c)} (written earlier by this sweep)"
                try:
                    for name, arr in rec.items():
                        _check_values(name, arr, where, stacked=True)
                    accept(c, rec, where)
                except ValueError as exc:  # results of an older version, which did not check them
                    if isinstance(exc, MemoryError):
                        raise
                    raise ValueError(
                        f"{exc}. This sweep's results cannot be saved: change the function and use "
                        f"another out directory than {out!r}"
                    ) from None
    todo = [c for c in range(n_chunks) if not collector.done[c]]

    bar = None
    if progress and todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=collector.n_completed, unit="run", desc="sweep")

    def finished(c, rec):
        if collector.done[c]:  # a duplicate (a rescheduled Dask task): keep the first
            return
        accept(c, rec, "the function's first result")
        if out is not None:
            _write_chunk(out, c, signature, *collector.bounds(c), rec)
        if bar is not None:
            bar.update(collector.count(c))

    task = functools.partial(_run_chunk, function, names, axes, n_realizations, entropy, key)
    try:
        if kind == "serial":
            for c in todo:
                finished(c, task(*collector.bounds(c)))
        elif kind == "processes":
            _run_processes(task, todo, collector, finished, workers)
        else:
            _run_dask(backend, task, todo, collector, finished, signature)
    except KeyboardInterrupt:
        partial = None
        if collector.n_completed:
            partial = _dataset(collector, names, axes, n_realizations, {}, partial=True)
        raise SweepInterrupted(partial, collector.n_completed, total, out) from None
    finally:
        if bar is not None:
            bar.close()

    meta = _metadata(spec, signature, created)
    meta.update(extra_attrs)
    ds = _dataset(collector, names, axes, n_realizations, meta)
    if out is not None:
        save_netcdf(ds, os.path.join(out, _RESULT))
    return ds


def _metadata(spec, signature, created) -> dict:
    """The dataset's attributes that describe the sweep (see :func:`sweep`, Returns)."""
    from . import __version__

    return {
        "function": spec["function"],
        "grid": json.dumps(dict(spec["grid"])),
        "n_realizations": spec["n_realizations"],
        "chunk_size": spec["chunk_size"],
        "root_seed": spec["root_seed"],
        "spawn_key": json.dumps(spec["spawn_key"]),
        "seed_scheme": "default_rng(SeedSequence(root_seed, spawn_key=(*spawn_key, grid_index, realization)))"
        ", grid_index = C-order flat index of the grid point",
        "signature": signature,
        "cascades_version": __version__,
        "created": created,
    }


def _size_text(grid_shape, n_realizations, total) -> str:
    points = math.prod(grid_shape)
    return (
        f"{points} grid point{'s' if points != 1 else ''} x n_realizations = {n_realizations} "
        f"({total} realizations)"
    )


def save_netcdf(dataset, path) -> None:
    """Write ``dataset`` to ``path`` as netCDF (``engine="scipy"``), atomically.

    The bytes go to a temporary file in the same directory, are fsync'ed and
    then moved onto ``path`` with :func:`os.replace`: a reader finds the old
    file or the complete new one.

    Examples
    --------
    >>> import os, tempfile, xarray as xr
    >>> ds = xr.Dataset({"x": ("i", [1.0, 2.0])})
    >>> path = os.path.join(tempfile.mkdtemp(), "x.nc")
    >>> save_netcdf(ds, path)
    >>> xr.load_dataset(path, engine="scipy")["x"].values.tolist()
    [1.0, 2.0]
    """
    data = _netcdf_bytes(dataset)
    _atomic_write(os.fspath(path), data)


def _netcdf_bytes(dataset) -> memoryview:
    """``dataset`` as netCDF 3 bytes (engine="scipy"), integers beyond int32 stored exactly."""
    return _netcdf3_ready(dataset).to_netcdf(path=None, engine="scipy")


def _netcdf3_ready(dataset):
    """A shallow copy of ``dataset`` that netCDF 3 stores exactly, or ValueError naming what cannot be.

    netCDF 3 (the classic format scipy writes) has no 64-bit or unsigned integers. xarray casts them to
    int32 and, when a value does not fit, raises a message written for datetime64 variables. Here an
    integer variable is stored as int32 when its values fit (as xarray does), else as float64, exact for
    magnitudes up to 2**53 and marked with the attribute ``cascades_dtype``; beyond, ValueError. float16
    becomes float32. An integer attribute beyond int32 is stored as its decimal string (exact).
    """
    ds = dataset.copy(deep=False)
    ds.attrs = {k: _netcdf3_attr(k, v) for k, v in ds.attrs.items()}
    replace, coords = {}, {}
    for name, var in ds.variables.items():
        data = np.asarray(var.values) if var.dtype.kind in "iuf" else None
        if data is None or (data.dtype.kind == "i" and data.dtype.itemsize <= 2):
            continue
        attrs = dict(var.attrs)
        if data.dtype.kind == "f":
            if data.dtype.itemsize >= 4:
                continue
            new = data.astype(np.float32)
        elif data.size == 0 or (data.min() >= _INT32_MIN and data.max() <= _INT32_MAX):
            new = data.astype(np.int32)
        elif data.min() >= -MAX_INT and data.max() <= MAX_INT:
            new = data.astype(np.float64)
            attrs["cascades_dtype"] = str(data.dtype)
        else:
            bad = data.max() if data.max() > MAX_INT else data.min()
            raise ValueError(
                f"variable {name!r} holds the integer {int(bad)}, beyond +-2**53: netCDF 3 has no 64-bit "
                "integers, so integers beyond int32 are stored as float64, exact up to 2**53 in magnitude"
            )
        (coords if name in ds.coords else replace)[name] = (var.dims, new, attrs, var.encoding)
    for name, (dims, new, attrs, encoding) in replace.items():
        ds[name] = (dims, new, attrs)
        ds[name].encoding = encoding
    if coords:
        ds = ds.assign_coords({name: (dims, new, attrs) for name, (dims, new, attrs, _) in coords.items()})
    return ds


def _netcdf3_attr(key, value):
    """An attribute value netCDF 3 stores exactly (integers beyond int32 as decimal strings)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        if not _INT32_MIN <= int(value) <= _INT32_MAX:
            return str(int(value))
    return value


# ---------------------------------------------------------------------------
# arguments, and what the result file can store
# ---------------------------------------------------------------------------

_ALLOWED_ATTRS = (
    "attribute names must be valid netCDF names (a letter, digit, '_' or non-ASCII character first, "
    "no '/', no trailing space, not a CDL keyword such as 'float' or 'int') and values strings, "
    "numbers or 1-d sequences of numbers"
)
_ALLOWED_OUTPUTS = (
    f"a bool, an integer within +-2**53 = +-{MAX_INT}, a float, or an array of them of a fixed shape "
    "with no empty axis"
)


def _check_attrs(attrs) -> dict:
    """``attrs`` as a dict, each item checked by storing it in a netCDF file in memory."""
    if attrs is None:
        return {}
    if not isinstance(attrs, Mapping):
        raise TypeError(f"attrs must be a mapping of attribute names to values, got {type(attrs).__name__}")
    import xarray as xr

    for k, v in attrs.items():
        if not isinstance(k, str):
            raise ValueError(f"attrs keys must be strings ({_ALLOWED_ATTRS}); got the key {k!r}")
        try:
            _netcdf_bytes(xr.Dataset(attrs={k: v}))
        except Exception as exc:  # xarray and scipy raise TypeError, ValueError, KeyError
            raise ValueError(
                f"attrs[{k!r}] = {_short_repr(v)} cannot be stored in a netCDF file ({_reason(exc)}); "
                f"{_ALLOWED_ATTRS}"
            ) from None
    return dict(attrs)


def _check_coordinates(names, axes) -> None:
    """The grid's coordinates must be storable (checked by storing them in a netCDF file in memory)."""
    import xarray as xr

    for name, axis in zip(names, axes, strict=True):
        try:
            _netcdf_bytes(xr.Dataset(coords={name: np.asarray(axis)}))
        except Exception as exc:
            raise ValueError(f"grid[{name!r}] cannot be stored in a netCDF file: {_reason(exc)}") from None


def _check_values(name, arr, where, *, stacked) -> None:
    """ValueError unless output ``name`` holds values the result file stores exactly.

    ``arr`` is one result, or with ``stacked`` a chunk's results along the first axis.
    """
    if arr.dtype.kind in "iu" and arr.size:
        lo, hi = arr.min(), arr.max()
        if hi > MAX_INT or lo < -MAX_INT:
            raise ValueError(
                f"output {name!r} of {where} is the integer {int(hi if hi > MAX_INT else lo)}, beyond "
                f"+-2**53: outputs must be {_ALLOWED_OUTPUTS} (netCDF 3 has no 64-bit integers, so "
                "integers beyond int32 are saved as float64, exact up to 2**53); return a float for an "
                "approximate value"
            )
    if 0 in (arr.shape[1:] if stacked else arr.shape):
        raise ValueError(
            f"output {name!r} of {where} has an empty axis (shape {arr.shape}): outputs must be "
            f"{_ALLOWED_OUTPUTS}"
        )


def _check_outputs(rec, names, axes, where) -> None:
    """The outputs of the first result (read or computed) fit the dataset and a netCDF file.

    Every output is stored, with its first realization, in a netCDF file in memory: alone (to name
    it), then all together (for clashes between outputs). Called once, before any more work is done.
    """
    import xarray as xr

    taken = {*names, *_RESERVED_OUTPUTS}
    dims_of = {name: tuple(f"{name}_dim{i}" for i in range(arr.ndim - 1)) for name, arr in rec.items()}
    for name in rec:
        if name in taken:
            raise ValueError(
                f"output {name!r} of {where} has the name of a grid parameter or of a reserved variable "
                f"({', '.join(sorted(taken))}); rename it"
            )
        for other, dims in dims_of.items():
            if name in dims:
                raise ValueError(
                    f"output {name!r} of {where} has the name of a dimension of output {other!r}; rename it"
                )
    coords = {name: np.asarray(axis[:1]) for name, axis in zip(names, axes, strict=True)}
    coords["realization"] = np.arange(1)
    dims = (*names, "realization")
    variables = {
        name: (dims + dims_of[name], arr[:1].reshape((1,) * len(dims) + arr.shape[1:]))
        for name, arr in rec.items()
    }
    for name, variable in variables.items():
        try:
            _netcdf_bytes(xr.Dataset({name: variable}, coords=coords))
        except Exception as exc:
            raise ValueError(
                f"output {name!r} of {where} cannot be stored in a netCDF file ({_reason(exc)}); "
                f"outputs must be {_ALLOWED_OUTPUTS}, named by a non-empty string"
            ) from None
    try:
        _netcdf_bytes(xr.Dataset(variables, coords=coords))
    except Exception as exc:
        raise ValueError(
            f"the outputs {sorted(rec)} of {where} cannot be stored together in a netCDF file: {_reason(exc)}"
        ) from None


def _short_repr(value, limit=80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(exc) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _check_grid(grid):
    if not isinstance(grid, Mapping):
        raise ValueError(f"grid must be a mapping name -> 1-d values, got {type(grid).__name__}")
    names, axes = [], []
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid names must be Python identifiers, got {name!r}")
        if name in _RESERVED:
            raise ValueError(f"grid name {name!r} is reserved (reserved: {', '.join(_RESERVED)})")
        arr = np.asarray(values)
        if arr.ndim != 1 or arr.shape[0] == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty 1-d sequence, got shape {arr.shape}")
        if arr.dtype.kind not in "biufU":
            raise ValueError(f"grid[{name!r}] must hold numbers or strings, got dtype {arr.dtype}")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError(f"grid[{name!r}] must hold finite numbers")
        if arr.dtype.kind in "iu" and (arr.max() > MAX_INT or arr.min() < -MAX_INT):
            bad = int(arr.max() if arr.max() > MAX_INT else arr.min())
            raise ValueError(
                f"grid[{name!r}] must hold integers within +-2**53 = +-{MAX_INT} (the result file stores "
                f"integers beyond int32 as float64), got {bad}"
            )
        names.append(name)
        axes.append(tuple(arr.tolist()))  # Python scalars: exact in JSON, plain in the function call
    return tuple(names), tuple(axes)


def _backend_kind(backend) -> str:
    if isinstance(backend, str):
        if backend in ("serial", "processes"):
            return backend
        if "://" in backend or ":" in backend:
            return "dask"
        raise ValueError(
            f"backend must be 'processes', 'serial', a dask.distributed Client or cluster, or a "
            f"scheduler address like 'tcp://host:8786', got {backend!r}"
        )
    if hasattr(backend, "submit") and hasattr(backend, "scheduler_info"):  # a distributed.Client
        return "dask"
    if hasattr(backend, "scheduler_address"):  # a cluster object
        return "dask"
    raise ValueError(
        "backend must be 'processes', 'serial', a dask.distributed Client or cluster, or a scheduler "
        f"address, got {type(backend).__name__}"
    )


def _check_picklable(function) -> None:
    try:
        pickle.dumps(function)
    except Exception as exc:  # PicklingError, AttributeError (local objects), TypeError
        raise ValueError(
            "function must be picklable for backend='processes' (a module-level function or a "
            f"functools.partial of one); {exc}"
        ) from None


def _function_name(function) -> str:
    if isinstance(function, functools.partial):
        args = [repr(a) for a in function.args]
        args += [f"{k}={v!r}" for k, v in sorted(function.keywords.items())]
        return f"{_function_name(function.func)}({', '.join(args)})"
    module = getattr(function, "__module__", None) or type(function).__module__
    qualname = getattr(function, "__qualname__", None) or type(function).__qualname__
    return f"{module}.{qualname}"


def _root_seed(rng, out):
    """(entropy, spawn_key) of the root SeedSequence for ``rng`` (see :func:`sweep`)."""
    if rng is None and out is not None:
        recorded = _load_manifest(out)
        if recorded is not None:
            try:
                return int(recorded["root_seed"]), tuple(int(k) for k in recorded["spawn_key"])
            except (KeyError, TypeError, ValueError):
                pass
    if isinstance(rng, np.random.SeedSequence):
        if not isinstance(rng.entropy, numbers.Integral):
            raise ValueError("rng as a SeedSequence must have an integer entropy")
        return int(rng.entropy), tuple(int(k) for k in rng.spawn_key)
    if rng is None:
        return int(np.random.SeedSequence().entropy), ()
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63)), ()
    as_generator(rng)  # the package's messages for negative ints and wrong types
    return int(rng), ()


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------
# the work of one chunk (runs in the workers)
# ---------------------------------------------------------------------------


def _as_record(value) -> dict:
    """One result of the function as {name: array}, checked (every result: the checks are cheap)."""
    items = value.items() if isinstance(value, Mapping) else (("value", value),)
    rec = {}
    where = "the function's result"
    for name, v in items:
        if not isinstance(name, str) or not name:
            raise ValueError(f"output names must be non-empty strings, got {name!r}")
        try:
            arr = np.asarray(v)
        except Exception as exc:  # ragged nested sequences
            raise ValueError(f"output {name!r} of {where} must be {_ALLOWED_OUTPUTS}; {exc}") from None
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"output {name!r} of {where} must be {_ALLOWED_OUTPUTS}, got {_describe(v, arr)}"
            )
        _check_values(name, arr, where, stacked=False)
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        elif arr.dtype.kind == "f":
            arr = arr.astype(np.float64)
        rec[name] = arr
    return rec


def _describe(value, arr) -> str:
    if value is None:
        return "None"
    if arr.dtype.kind == "O":
        ints = [x for x in arr.reshape(-1) if isinstance(x, numbers.Integral) and not isinstance(x, bool)]
        if ints and any(abs(int(x)) > MAX_INT for x in ints):
            big = max(ints, key=lambda x: abs(int(x)))
            return f"the integer {int(big)} (beyond +-2**53; numpy dtype object)"
        return f"{_short_repr(value)} (numpy dtype object)"
    return f"{_short_repr(value)} (numpy dtype {arr.dtype})"


def _store(target: dict, name: str, i: int, arr: np.ndarray, n: int) -> None:
    """target[name][i] = arr, allocating (n, *shape) on first use and widening the dtype if needed."""
    cur = target.get(name)
    if cur is None:
        cur = target[name] = np.zeros((n, *arr.shape), dtype=arr.dtype)
    elif cur.shape[1:] != arr.shape:
        raise ValueError(f"output {name!r} changes shape between calls: {cur.shape[1:]} and {arr.shape}")
    if np.result_type(cur.dtype, arr.dtype) != cur.dtype:
        cur = target[name] = cur.astype(np.result_type(cur.dtype, arr.dtype))
    cur[i] = arr


def _run_chunk(function, names, axes, n_realizations, entropy, key, start, stop) -> dict:
    """Realizations start..stop-1 (flat task index g * n_realizations + r); arrays (stop - start, ...)."""
    shape = tuple(len(a) for a in axes)
    out = {}
    for t in range(start, stop):
        g, r = divmod(t, n_realizations)
        index = np.unravel_index(g, shape) if shape else ()
        point = {name: axes[i][int(j)] for i, (name, j) in enumerate(zip(names, index, strict=True))}
        gen = np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(*key, g, r)))
        rec = _as_record(function(**point, rng=gen))
        if t == start:  # the chunk's arrays are allocated now, for all its realizations
            nbytes = (stop - start) * sum(a.itemsize * a.size for a in rec.values())
            check_memory(nbytes, parameter=f"chunk_size = {stop - start}", what="one chunk's outputs")
        if out and rec.keys() != out.keys():
            raise ValueError(f"the function returned the outputs {sorted(rec)}, earlier {sorted(out)}")
        for name, arr in rec.items():
            _store(out, name, t - start, arr, stop - start)
    return out


# ---------------------------------------------------------------------------
# collecting results
# ---------------------------------------------------------------------------


class _Collector:
    """Flat (total, ...) arrays per output, filled chunk by chunk."""

    def __init__(self, total: int, chunk_size: int):
        self.total = total
        self.chunk_size = chunk_size
        self.n_chunks = -(-total // chunk_size)
        self.done = np.zeros(self.n_chunks, dtype=bool)
        self.data = {}
        self.n_completed = 0

    def bounds(self, c: int):
        return c * self.chunk_size, min((c + 1) * self.chunk_size, self.total)

    def count(self, c: int) -> int:
        lo, hi = self.bounds(c)
        return hi - lo

    def add(self, c: int, rec: dict) -> None:
        lo, hi = self.bounds(c)
        if self.data and rec.keys() != self.data.keys():
            raise ValueError(f"the function returned the outputs {sorted(rec)}, earlier {sorted(self.data)}")
        for name, arr in rec.items():
            if arr.shape[0] != hi - lo:
                raise ValueError(f"chunk {c} holds {arr.shape[0]} realizations, expected {hi - lo}")
            cur = self.data.get(name)
            if cur is None:
                cur = self.data[name] = np.zeros((self.total, *arr.shape[1:]), dtype=arr.dtype)
            elif cur.shape[1:] != arr.shape[1:]:
                raise ValueError(
                    f"output {name!r} changes shape between calls: {cur.shape[1:]} and {arr.shape[1:]}"
                )
            if np.result_type(cur.dtype, arr.dtype) != cur.dtype:
                cur = self.data[name] = cur.astype(np.result_type(cur.dtype, arr.dtype))
            cur[lo:hi] = arr
        self.done[c] = True
        self.n_completed += hi - lo

    def completed_mask(self) -> np.ndarray:
        """bool (total,): the realizations of finished chunks (never more than ``total`` entries)."""
        counts = np.full(self.n_chunks, min(self.chunk_size, self.total), dtype=np.int64)
        counts[-1] = self.count(self.n_chunks - 1)
        return np.repeat(self.done, counts)


def _dataset(collector, names, axes, n_realizations, attrs, partial=False):
    import xarray as xr

    grid_shape = tuple(len(a) for a in axes)
    coords = {name: np.asarray(axis) for name, axis in zip(names, axes, strict=True)}
    coords["realization"] = np.arange(n_realizations)
    dims = (*names, "realization")
    variables = {}
    mask = collector.completed_mask()
    for name, flat in collector.data.items():
        if partial:
            flat = flat.astype(np.float64)
            flat[~mask] = np.nan
        extra = flat.shape[1:]
        arr = flat.reshape(*grid_shape, n_realizations, *extra)
        variables[name] = (dims + tuple(f"{name}_dim{i}" for i in range(len(extra))), arr)
    if partial:
        variables["completed"] = (dims, mask.reshape(*grid_shape, n_realizations))
    return xr.Dataset(variables, coords=coords, attrs=attrs)


# ---------------------------------------------------------------------------
# backends
# ---------------------------------------------------------------------------


def _worker_init(parent_alive) -> None:
    """Set up a worker process: Ctrl-C is left to the parent, and the worker dies with the parent.

    ``parent_alive`` is the read end of a pipe whose only write end the sweep's process holds: the
    read hits end-of-file when that process is gone, however it ended (SIGKILL and the OOM killer
    included), and a daemon thread then ends this worker with :func:`os._exit`. Without it, a worker
    of a killed sweep would wait for work forever: it holds both ends of the pool's call queue itself,
    so that queue never reports the parent's death, and it would keep the forkserver (through the
    forkserver's "alive" pipe, which every worker inherits) and the resource tracker alive with it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(
        target=_exit_with_parent, args=(parent_alive,), name="cascades-parent-watch", daemon=True
    ).start()


def _exit_with_parent(parent_alive) -> None:
    try:
        while True:
            parent_alive.recv_bytes()  # nothing is ever sent: this returns only at end-of-file
    except (EOFError, OSError):
        pass
    os._exit(1)  # the parent is gone: nobody will read a result


def _terminate(pool) -> None:
    kill = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if kill is not None:
        with contextlib.suppress(Exception):
            kill()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()


def _run_processes(task, todo, collector, finished, workers) -> None:
    ctx = multiprocessing.get_context(START_METHOD)
    if START_METHOD == "forkserver":
        ctx.set_forkserver_preload(["cascades"])  # no effect once the server runs
    # the workers exit when this pipe's write end closes: when the sweep is over, or this process dies
    alive_r, alive_w = ctx.Pipe(duplex=False)
    try:
        _run_pools(ctx, task, todo, collector, finished, workers, alive_r)
    finally:
        alive_w.close()  # after every pool is shut down: no worker is left to see it
        alive_r.close()


def _run_pools(ctx, task, todo, collector, finished, workers, alive_r) -> None:
    remaining = list(todo)
    restarts = 0
    while remaining:
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(remaining)),
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(alive_r,),
        )
        futures = {pool.submit(task, *collector.bounds(c)): c for c in remaining}
        broken = False
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    try:
                        rec = f.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    finished(futures[f], rec)
                if broken:
                    break
        except BaseException:
            for f in futures:
                f.cancel()
            _terminate(pool)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        if broken:
            _terminate(pool)
        pool.shutdown(wait=True, cancel_futures=True)
        remaining = [c for c in remaining if not collector.done[c]]
        if broken and remaining:
            restarts += 1
            if restarts > MAX_POOL_RESTARTS:
                raise RuntimeError(
                    f"worker processes died {restarts} times; {int(collector.done.sum())} of "
                    f"{collector.n_chunks} chunks finished and are kept"
                )
            warnings.warn(
                f"a worker process died; resubmitting {len(remaining)} unfinished chunks "
                f"(restart {restarts} of at most {MAX_POOL_RESTARTS})",
                RuntimeWarning,
                stacklevel=4,
            )


def _run_dask(backend, task, todo, collector, finished, signature) -> None:
    from distributed import Client, as_completed

    own = None
    if isinstance(backend, str) or not hasattr(backend, "submit"):
        client = own = Client(backend)
    else:
        client = backend
    token = uuid.uuid4().hex[:8]
    try:
        keys = [f"cascades-sweep-{signature[:8]}-{token}-{c}" for c in todo]
        bounds = [collector.bounds(c) for c in todo]
        # one map call: the graph goes to the scheduler in one message, not one per chunk
        futures = client.map(task, [lo for lo, _ in bounds], [hi for _, hi in bounds], key=keys)
        which = dict(zip(keys, todo, strict=True))
        try:
            # the client's own loop (not the default client's); results are gathered in that loop,
            # concurrently, instead of one blocking round trip per chunk
            for f, rec in as_completed(futures, loop=client.loop, with_results=True):
                finished(which[f.key], rec)
                f.release()
        except BaseException:
            with contextlib.suppress(Exception):
                client.cancel(futures)
            raise
    finally:
        if own is not None:
            own.close()


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------


def _atomic_write(path: str, data: bytes) -> None:
    atomic_write(path, data, prefix=_TMP_PREFIX)


def _remove_temporaries(out: str) -> None:
    """Delete leftovers of writes that a crash interrupted (never a finished file)."""
    for name in os.listdir(out):
        if name.startswith(_TMP_PREFIX):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(out, name))


def _chunk_path(out: str, c: int) -> str:
    return os.path.join(out, f"chunk-{c:06d}.bin")


def _write_chunk(out, c, signature, start, stop, rec) -> None:
    buf = io.BytesIO()
    np.savez(buf, **rec)
    payload = buf.getvalue()
    header = {
        "signature": signature,
        "chunk": c,
        "start": start,
        "stop": stop,
        "payload_bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    _atomic_write(_chunk_path(out, c), _MAGIC + json.dumps(header).encode() + b"\n" + payload)


def _read_chunk(out, c, signature, start, stop):
    """The chunk's arrays, or None when the file is missing or must be recomputed (with a warning)."""
    path = _chunk_path(out, c)
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return _bad_chunk(path, f"unreadable ({exc})")
    if not blob.startswith(_MAGIC):
        return _bad_chunk(path, "not a sweep chunk file")
    end = blob.find(b"\n", len(_MAGIC))
    if end < 0:
        return _bad_chunk(path, "truncated header")
    try:
        header = json.loads(blob[len(_MAGIC) : end].decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _bad_chunk(path, "corrupted header")
    payload = blob[end + 1 :]
    if not isinstance(header, dict) or header.get("payload_bytes") != len(payload):
        return _bad_chunk(path, "truncated (payload length differs from the header)")
    if header.get("sha256") != hashlib.sha256(payload).hexdigest():
        return _bad_chunk(path, "checksum mismatch")
    if header.get("signature") != signature:
        return _bad_chunk(path, "written by a different sweep (parameters, seed or function differ)")
    if (header.get("chunk"), header.get("start"), header.get("stop")) != (c, start, stop):
        return _bad_chunk(path, "covers other realizations than expected")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            rec = {name: z[name] for name in z.files}
    except Exception as exc:  # a payload that passed its checksum but does not parse
        return _bad_chunk(path, f"unreadable payload ({exc})")
    if not rec or any(a.ndim == 0 or a.shape[0] != stop - start for a in rec.values()):
        return _bad_chunk(path, "arrays of the wrong length")
    return rec


def _bad_chunk(path: str, why: str):
    warnings.warn(f"{path}: {why}; recomputing this chunk", ChunkWarning, stacklevel=4)
    return None


def _load_manifest(out: str):
    try:
        with open(os.path.join(out, _MANIFEST), encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _open_manifest(out: str, spec: dict, signature: str, n_chunks: int) -> dict:
    """Check ``out/sweep.json`` against this sweep (or write it); return it."""
    path = os.path.join(out, _MANIFEST)
    old = _load_manifest(out)
    if old is None and os.path.exists(path):
        warnings.warn(f"{path}: unreadable manifest; writing a new one", ChunkWarning, stacklevel=3)
    if old is not None and old.get("signature") is not None:
        if old["signature"] != signature:
            differ = [k for k in spec if old.get(k) != spec[k]] or ["signature"]
            raise ValueError(
                f"out directory {out!r} holds a different sweep ({', '.join(differ)} differ); "
                "use another directory, or delete it to start over"
            )
        return old
    from . import __version__

    manifest = dict(spec)
    manifest.update(signature=signature, n_chunks=n_chunks, created=_now(), cascades_version=__version__)
    _atomic_write(path, json.dumps(manifest, indent=1).encode())
    return manifest
