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

__all__ = ["atomic_write", "check_writable", "fsync_dir"]


def check_writable(path: str, name: str = "path") -> str:
    """Fail before the work, not after it, when the file ``path`` cannot be written.

    Raises IsADirectoryError, FileNotFoundError (a missing directory) or PermissionError, each naming
    ``name`` and the path; returns ``path``.

    >>> check_writable("/no/such/dir/x.pt", "--torch-out")
    Traceback (most recent call last):
    ...
    FileNotFoundError: --torch-out '/no/such/dir/x.pt': the directory '/no/such/dir' does not exist
    """
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{name} {path!r} is a directory; give a file name inside it")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{name} {path!r}: the directory {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{name} {path!r}: the directory {folder!r} is not writable")
    return path


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
