"""The generated sequence tasks: targets, reproducibility, shapes and dtypes, and argument checks."""

import dataclasses

import numpy as np
import pytest

from cascades.datasets import SequenceDataset, sequence_task

KINDS = ("sort", "copy", "reverse")


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_dtypes_range_and_read_only(kind):
    d = sequence_task(kind, n_train=300, n_test=70, length=6, vocab=7, seed=3)
    assert isinstance(d, SequenceDataset)
    assert (d.kind, d.length, d.vocab) == (kind, 6, 7)
    assert d.x_train.shape == d.y_train.shape == (300, 6)
    assert d.x_test.shape == d.y_test.shape == (70, 6)
    for a in (d.x_train, d.y_train, d.x_test, d.y_test):
        assert a.dtype == np.int64
        assert a.min() >= 0 and a.max() <= 6
        assert not a.flags.writeable
    assert repr(d) == f"SequenceDataset({kind!r}, train=300, test=70, length=6, vocab=7)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.kind = "copy"


def test_sort_targets_are_the_sorted_inputs():
    d = sequence_task("sort", n_train=500, n_test=200, length=8, vocab=10, seed=0)
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        assert np.all(np.diff(y, axis=1) >= 0)  # ascending
        for xi, yi in zip(x, y, strict=True):  # the same multiset, element by element
            assert yi.tolist() == sorted(xi.tolist())
            assert np.array_equal(np.bincount(xi, minlength=10), np.bincount(yi, minlength=10))
    # a hand-checked row
    one = sequence_task("sort", n_train=1, n_test=0, length=8, vocab=10, seed=0)
    assert one.y_train[0].tolist() == sorted(one.x_train[0].tolist())


def test_copy_and_reverse_targets():
    c = sequence_task("copy", n_train=50, n_test=20, seed=1)
    r = sequence_task("reverse", n_train=50, n_test=20, seed=1)
    assert np.array_equal(c.y_train, c.x_train) and np.array_equal(c.y_test, c.x_test)
    assert np.array_equal(r.y_train, r.x_train[:, ::-1]) and np.array_equal(r.y_test, r.x_test[:, ::-1])
    # the inputs depend on the seed, not on the task
    assert np.array_equal(c.x_train, r.x_train)
    # the target is a copy, not a view of the input
    assert not np.shares_memory(c.y_train, c.x_train)


def test_inputs_are_roughly_uniform():
    d = sequence_task("copy", n_train=20000, n_test=1, length=5, vocab=4, seed=2)
    freq = np.bincount(d.x_train.ravel(), minlength=4) / d.x_train.size
    assert np.allclose(freq, 0.25, atol=0.01)  # sd of a frequency: sqrt(0.1875 / 1e5) = 0.0014
    assert not np.array_equal(d.x_train[:, 0], d.x_train[:, 1])


def test_reproducible_with_seed():
    a = sequence_task("sort", n_train=100, n_test=30, seed=7)
    b = sequence_task("sort", n_train=100, n_test=30, seed=7)
    c = sequence_task("sort", n_train=100, n_test=30, seed=8)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.x_test, c.x_test)
    assert not np.array_equal(a.x_train[:30], a.x_test)  # train and test are different streams


def test_test_set_does_not_depend_on_n_train():
    a = sequence_task("sort", n_train=10, n_test=40, seed=4)
    b = sequence_task("sort", n_train=900, n_test=40, seed=4)
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_test, b.y_test)


def test_generator_seed_is_used_and_advanced():
    g = np.random.default_rng(5)
    a = sequence_task("copy", n_train=20, n_test=5, seed=g)
    b = sequence_task("copy", n_train=20, n_test=5, seed=g)
    assert not np.array_equal(a.x_train, b.x_train)  # g advanced
    c = sequence_task("copy", n_train=20, n_test=5, seed=np.random.default_rng(5))
    assert np.array_equal(a.x_train, c.x_train)


def test_empty_test_set_and_length_one():
    d = sequence_task("sort", n_train=5, n_test=0, length=1, vocab=2, seed=0)
    assert d.x_test.shape == d.y_test.shape == (0, 1)
    assert np.array_equal(d.x_train, d.y_train)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "shuffle"}, "kind must be one of 'sort', 'copy', 'reverse'"),
        ({"kind": None}, "kind must be one of"),
        ({"n_train": 0}, r"n_train must be an integer >= 1, got 0"),
        ({"n_train": 2.5}, r"n_train must be an integer >= 1"),
        ({"n_train": True}, r"n_train must be an integer >= 1"),
        ({"n_test": -1}, r"n_test must be an integer >= 0, got -1"),
        ({"length": 0}, r"length must be an integer >= 1, got 0"),
        ({"length": "8"}, r"length must be an integer >= 1"),
        ({"vocab": 1}, r"vocab must be an integer in \[2, "),
        ({"vocab": 2**70}, r"vocab must be an integer in \[2, "),
        ({"seed": -1}, r"seed must be an integer >= 0, got -1"),
        ({"seed": None}, r"seed must be an integer >= 0 or a numpy.random.Generator, got None"),
        ({"seed": 1.5}, r"seed must be an integer >= 0"),
        ({"n_train": 10**8, "n_test": 1, "length": 100}, r"\(n_train \+ n_test\) \* length must be at most"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = {"kind": "sort", **kwargs}
    kind = args.pop("kind")
    with pytest.raises(ValueError, match=match):
        sequence_task(kind, **args)


def test_dataclass_checks_its_arrays():
    x = np.zeros((3, 4), dtype=np.int64)
    ok = {"kind": "copy", "x_train": x, "y_train": x, "x_test": x, "y_test": x, "vocab": 5, "length": 4}
    SequenceDataset(**ok)
    with pytest.raises(ValueError, match="x_train must be an int64 array of shape"):
        SequenceDataset(**{**ok, "x_train": x.astype(np.int32)})
    with pytest.raises(ValueError, match=r"y_test must hold token ids in \[0, 4\]"):
        SequenceDataset(**{**ok, "y_test": x + 5})
    with pytest.raises(ValueError, match="y_train must have the shape of x_train"):
        SequenceDataset(**{**ok, "y_train": np.zeros((2, 4), dtype=np.int64)})
    with pytest.raises(ValueError, match="kind must be one of"):
        SequenceDataset(**{**ok, "kind": "sorted"})
