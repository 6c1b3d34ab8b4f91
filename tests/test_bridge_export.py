"""Tests of cascades.bridge.export: save_torch / load_torch round trips, safe loading, masks, foreign files"""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cascades.bridge import apply_to, masks_from, recommend, to_torch  # noqa: E402
from cascades.bridge.export import EXPORT_FORMAT, load_torch, save_torch  # noqa: E402

ARCH = [12, 24, 24, 3]


def _rec(**kw):
    return recommend(ARCH, "relu", density=0.4, scheme="uniform", **kw)


def _plain_mlp(dtype=torch.float32):
    nn = torch.nn
    return nn.Sequential(nn.Linear(12, 24, dtype=dtype), nn.ReLU(), nn.Linear(24, 24, dtype=dtype), nn.ReLU(),
                         nn.Linear(24, 3, dtype=dtype))


def test_round_trip_into_unpruned_copy(tmp_path):
    rec = _rec()
    model = to_torch(rec, rng=0)
    path = tmp_path / "mlp.pt"
    assert save_torch(model, path, recommendation=rec) == str(path)
    assert [p.name for p in tmp_path.iterdir()] == ["mlp.pt"]  # atomic write: no temporary left over
    mine = load_torch(path, _plain_mlp())
    x = torch.randn(5, 12)
    with torch.no_grad():
        assert torch.equal(mine(x), model(x))
    assert all(np.array_equal(a, b) for a, b in zip(masks_from(mine), masks_from(model), strict=True))
    # rebuilt from the stored recommendation
    rebuilt = load_torch(path)
    assert [type(m).__name__ for m in rebuilt] == [type(m).__name__ for m in model]
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))
    # into a model that is itself pruned (e.g. built by to_torch with another seed): replaced
    other = load_torch(path, to_torch(rec, rng=5))
    with torch.no_grad():
        assert torch.equal(other(x), model(x))


def test_file_loads_with_weights_only(tmp_path):
    rec = _rec()
    path = tmp_path / "mlp.pt"
    save_torch(to_torch(rec, rng=1), path, recommendation=rec)
    sd = torch.load(path, weights_only=True)
    assert sd["format"] == EXPORT_FORMAT and sd["version"] == 1
    assert isinstance(sd["cascades_version"], str)
    assert sorted(sd["state_dict"]) == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"]
    assert all(m.dtype == torch.bool for m in sd["masks"].values())
    assert all(t.device.type == "cpu" for t in sd["state_dict"].values())
    w = sd["state_dict"]["0.weight"]
    assert torch.all(w[~sd["masks"]["0.weight"]] == 0)
    # plain torch, without cascades
    model = _plain_mlp()
    model.load_state_dict(sd["state_dict"])
    assert sd["recommendation"] == rec.to_json()


def test_dense_layers_keep_names_and_have_no_mask(tmp_path):
    rec = recommend(ARCH, "relu", density=0.4, scheme="uniform", overrides={2: 1.0})
    path = tmp_path / "mlp.pt"
    save_torch(to_torch(rec, rng=0), path)
    sd = torch.load(path, weights_only=True)
    assert sorted(sd["masks"]) == ["0.weight", "2.weight"]
    assert sd["recommendation"] is None
    model = load_torch(path, _plain_mlp())
    assert not hasattr(model[4], "weight_orig") and isinstance(model[4].weight, torch.nn.Parameter)
    assert hasattr(model[0], "weight_mask")
    with pytest.raises(ValueError, match="no recommendation"):
        load_torch(path)


def test_masks_enforced_after_optimizer_step(tmp_path):
    rec = _rec()
    path = tmp_path / "mlp.pt"
    save_torch(to_torch(rec, rng=2), path, recommendation=rec)
    model = load_torch(path, _plain_mlp())
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 12), torch.randint(0, 3, (16,))
    for _ in range(2):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    masks = torch.load(path, weights_only=True)["masks"]
    for name, m in masks.items():
        w = model.get_submodule(name.split(".")[0]).weight
        assert torch.all(w[~m] == 0) and torch.any(w[m] != 0)
    # masks=False: the values only, no pruning
    free = load_torch(path, _plain_mlp(), masks=False)
    assert not torch.nn.utils.prune.is_pruned(free)


def test_dtype_and_meta_targets(tmp_path):
    rec = _rec()
    model = to_torch(rec, rng=3, dtype=torch.float64)
    path = tmp_path / "mlp.pt"
    save_torch(model, path, recommendation=rec)
    assert torch.load(path, weights_only=True)["state_dict"]["0.weight"].dtype == torch.float64
    mine = load_torch(path, _plain_mlp(torch.float32))  # the model's own dtype wins
    assert mine[0].weight.dtype == torch.float32 and mine[0].weight_mask.dtype == torch.float32
    with torch.device("meta"):
        meta = _plain_mlp()
    meta = load_torch(path, meta)  # assigned: the stored tensors, on map_location
    assert mine[0].weight.device.type == "cpu" and not meta[0].weight_orig.is_meta
    x = torch.randn(2, 12, dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(meta(x), model(x))
    # a model with meta tensors cannot be saved
    with pytest.raises(ValueError, match="meta"):
        save_torch(to_torch(rec, device="meta"), tmp_path / "meta.pt")
    assert not (tmp_path / "meta.pt").exists()


def test_conv_model_round_trip(tmp_path):
    nn = torch.nn

    def build():
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 5))

    net = build()
    rec = recommend(net, density=0.5, scheme="uniform")
    apply_to(net, rec, rng=0)
    path = tmp_path / "cnn.pt"
    save_torch(net, path, recommendation=rec)
    mine = load_torch(path, build())
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(mine(x), net(x))
    with pytest.raises(ValueError, match="MLPs only"):
        load_torch(path)


def test_foreign_files_rejected(tmp_path):
    model = _plain_mlp()
    cases = {
        "state_dict.pt": lambda p: torch.save(model.state_dict(), p),
        "module.pt": lambda p: torch.save(model, p),
        "garbage.pt": lambda p: p.write_bytes(b"not a torch file at all"),
        "list.pt": lambda p: torch.save([1, 2, 3], p),
        "newer.pt": lambda p: torch.save({"format": EXPORT_FORMAT, "version": 99, "state_dict": {},
                                          "masks": {}}, p),
    }
    fragments = {"state_dict.pt": "plain state_dict", "module.pt": "pickled Python objects",
                 "garbage.pt": "not a file written by torch.save", "list.pt": "holds a list",
                 "newer.pt": "newer"}
    for name, write in cases.items():
        path = tmp_path / name
        write(path)
        with pytest.raises(ValueError, match=fragments[name]) as info:
            load_torch(path, _plain_mlp())
        assert str(path) in str(info.value)
        if name != "newer.pt":
            assert "allowed: a file written by cascades.save_torch" in str(info.value)
    with pytest.raises(FileNotFoundError):
        load_torch(tmp_path / "missing.pt", model)


def test_mismatched_model_is_a_value_error(tmp_path):
    rec = _rec()
    path = tmp_path / "mlp.pt"
    save_torch(to_torch(rec, rng=0), path)
    wrong = torch.nn.Sequential(torch.nn.Linear(12, 24), torch.nn.ReLU(), torch.nn.Linear(24, 3))
    with pytest.raises(ValueError, match="does not fit the model"):
        load_torch(path, wrong)
    with pytest.raises(TypeError, match="torch.nn.Module"):  # a wrong kind of object (issue 15)
        save_torch("not a model", tmp_path / "x.pt")
    assert sorted(os.listdir(tmp_path)) == ["mlp.pt"]
