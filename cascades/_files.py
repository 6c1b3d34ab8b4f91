"""Atomic file writes shared by the sweeps, the data cache and the torch export.

A file is written to a temporary file in its own directory, flushed and fsync'ed, then moved into
place with :func:`os.replace` and the directory entry fsync'ed (POSIX), so a killed process leaves
either the old file or the new one, never a partial one: only a temporary file named
``prefix + random`` that the caller may clean up.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["atomic_write", "fsync_dir"]


def fsync_dir(directory) -> None:
    """fsync a directory so that a rename in it survives a crash (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(os.fspath(directory), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path, data: bytes | bytearray | memoryview, *, prefix: str = ".tmp-") -> None:
    """Write ``data`` to ``path`` atomically (temporary file named ``prefix...`` + :func:`os.replace`).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> atomic_write(p, b"abc")
    >>> p.read_bytes()
    b'abc'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
