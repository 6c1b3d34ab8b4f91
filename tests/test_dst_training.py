"""cascades.dst.train: tiny drop-and-grow runs on digits (finish, exact densities, determinism, errors)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")  # the digits file ships with scikit-learn

from cascades.bridge import recommend  # noqa: E402
from cascades.dst import METHODS, TrainResult, train  # noqa: E402

WIDTHS = [64, 32, 10]
KW = dict(density=0.2, epochs=2)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def runs():
    return {m: train(WIDTHS, "digits", method=m, rng=3, **KW) for m in METHODS}


@pytest.mark.parametrize("method", METHODS)
def test_finishes_with_exact_densities(runs, method):
    res = runs[method]
    assert isinstance(res, TrainResult)
    assert 0.0 <= res.test_accuracy <= 100.0 and np.isfinite(res.test_accuracy)
    rec = recommend(WIDTHS, "relu", 0.2, "erk")
    want = res.settings["initial_active"]  # the Erdos-Renyi masks at init: about p_l N_l
    for k, p, s in zip(want, rec.densities, rec.shapes, strict=True):
        assert abs(k - p * s.n_weights) < 5 * np.sqrt(p * s.n_weights) + 1
    got = [int(m.sum()) for m in res.masks]
    assert got == want == res.settings["active"]
    assert [m.shape for m in res.masks] == [(32, 64), (10, 32)]
    assert all(m.dtype == bool for m in res.masks)
    if method == "static":
        assert res.updates == ()
    else:
        assert len(res.updates) >= 10  # short runs lower the default update_every
        assert all(u.dropped == u.grown and list(u.active) == want for u in res.updates)
        assert res.history.explored_fraction.values[-1] > res.history.explored_fraction.values[0]


@pytest.mark.parametrize("method", METHODS)
def test_history_epochs_and_variables(runs, method):
    h = runs[method].history
    assert list(h.epoch.values) == [0, 1, 2]
    for name in ("train_loss", "test_loss", "test_accuracy", "explored_fraction", "dead_units"):
        assert np.all(np.isfinite(h[name].values)), name
    assert h.test_accuracy.values[-1] == runs[method].test_accuracy
    assert h.train_loss.values[-1] < h.train_loss.values[0]
    dead = sum(int((m.sum(1) == 0).sum()) for m in runs[method].masks)
    assert int(h.dead_units.values[-1]) == dead


@pytest.mark.parametrize("method", ["set", "rigl", "theory"])
def test_deterministic(runs, method):
    again = train(WIDTHS, "digits", method=method, rng=3, **KW)
    assert again.test_accuracy == runs[method].test_accuracy
    assert all(np.array_equal(a, b) for a, b in zip(again.masks, runs[method].masks, strict=True))
    np.testing.assert_array_equal(again.history.train_loss.values, runs[method].history.train_loss.values)
    other = train(WIDTHS, "digits", method=method, rng=4, **KW)
    assert any(not np.array_equal(a, b) for a, b in zip(other.masks, runs[method].masks, strict=True))


def test_module_and_cnn():
    def lenet_small():
        return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                   torch.nn.Linear(4 * 6 * 6, 10))

    res = train(lenet_small, "digits", density=0.3, method="set", epochs=1, rng=0)
    assert res.masks[0].shape == (4, 1, 3, 3) and len(res.updates) >= 1
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Tanh(), torch.nn.Linear(16, 10))
    res = train(mlp, "digits", density=0.3, method="theory", epochs=1, rng=0, update_every=5)
    assert res.settings["update_every"] == 5 and res.settings["activation"] == "tanh"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(density=0.0), "density"),
        (dict(density=1.5), "density"),
        (dict(density=0.2, epochs=0), "epochs"),
        (dict(density=0.2, update_every=0), "update_every"),
        (dict(density=0.2, drop_fraction=1.0), "drop_fraction"),
        (dict(density=0.2, drop_fraction=-0.1), "drop_fraction"),
        (dict(density=0.2, method="magic"), "method must be one of set, rigl"),
        (dict(density=0.2, grow_init="big"), "grow_init"),
        (dict(density=0.2, schedule="linear"), "schedule"),
        (dict(density=0.2, lr=0), "lr"),
        (dict(density=0.2, batch_size=0), "batch_size"),
    ],
)
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train(WIDTHS, "digits", **kwargs)


def test_bad_dataset_and_architecture():
    with pytest.raises(ValueError, match="dataset must be one of mnist5k, digits"):
        train(WIDTHS, "cifar", density=0.2)
    with pytest.raises(ValueError, match="64 input features"):
        train([784, 30, 10], "digits", density=0.2)
    with pytest.raises(TypeError, match="architecture"):
        train(42, "digits", density=0.2)
    with pytest.raises(ValueError, match="sparse network"):
        train(WIDTHS, "digits", density=1.0, method="set")
