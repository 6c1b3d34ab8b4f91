"""Tests of cascades.bridge.torch: masked export, training persistence, init scale, reproducibility."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cascades.bridge import apply_to, masks_from, recommend, to_torch  # noqa: E402

ARCH = [64, 200, 100, 10]


def _linears(model):
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


def test_to_torch_masked_structure():
    rec = recommend(ARCH, "relu", density=0.1)
    model = to_torch(rec, rng=0)
    assert isinstance(model, torch.nn.Sequential)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    for lin, lay in zip(_linears(model), rec.layers, strict=True):
        mask = lin.weight_mask
        assert torch.all(lin.weight[mask == 0] == 0)
        se = math.sqrt(lay.density * (1 - lay.density) / mask.numel())
        assert abs(mask.float().mean().item() - lay.density) <= 5 * se + 1e-12
    out = model(torch.randn(5, 64))
    assert out.shape == (5, 10)


def test_mask_survives_optimizer_step_and_remove():
    rec = recommend(ARCH, "relu", density=0.1)
    model = to_torch(rec, rng=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    masks = masks_from(model)
    for lin, m in zip(_linears(model), masks, strict=True):
        w = lin.weight.detach().numpy()
        assert np.all(w[~m] == 0)
        assert np.any(w[m] != 0)
    for lin in _linears(model):
        torch.nn.utils.prune.remove(lin, "weight")
    for lin, m in zip(_linears(model), masks, strict=True):
        assert np.all(lin.weight.detach().numpy()[~m] == 0)
        assert not hasattr(lin, "weight_mask")


def test_weight_std_matches_recommendation():
    rec = recommend([300, 400, 10], "tanh", density=0.2, scheme="uniform", sigma_b2=0.05)
    model = to_torch(rec, rng=2, dtype=torch.float64)
    for lin, lay in zip(_linears(model), rec.layers, strict=True):
        assert lin.weight.dtype == torch.float64
        w = lin.weight[lin.weight_mask != 0].detach().numpy()
        n = w.size
        s2 = lay.weight_std**2
        # Var of the sample variance of Gaussians: 2 s^4 / (n - 1)
        assert abs(w.var() - s2) <= 5 * math.sqrt(2 / (n - 1)) * s2
        b = lin.bias.detach().numpy()
        assert abs(b.var() - lay.bias_std**2) <= 5 * math.sqrt(2 / (b.size - 1)) * lay.bias_std**2 + 1e-12


def test_per_neuron_rule():
    rec = recommend([400, 300], "relu", density=0.05, scheme="uniform", per_neuron=True)
    lin = _linears(to_torch(rec, rng=4, dtype=torch.float64))[0]
    w = lin.weight.detach().numpy()
    k = lin.weight_mask.numpy().sum(axis=1)
    z = (w**2).sum(axis=1)[k > 0] * (k[k > 0] / 2.0)  # sum of k squared N(0, 2/k) times k/2 ~ chi2_k
    assert abs(z.sum() - k.sum()) <= 5 * math.sqrt(2 * k.sum())


def test_same_rng_same_model():
    rec = recommend(ARCH, "relu", density=0.2)
    a, b, c = to_torch(rec, rng=7), to_torch(rec, rng=7), to_torch(rec, rng=8)
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    assert not torch.equal(a.state_dict()["0.weight_mask"], c.state_dict()["0.weight_mask"])


def test_apply_to_linear_conv_module():
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 16, 3), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10),
    )
    rec = recommend(net, "relu", density=0.2)
    assert [lay.shape for lay in rec.layers] == [("conv2d", 1, 8, 3, 3), ("conv2d", 8, 16, 3, 3),
                                                  ("linear", 256, 10)]
    assert rec.layers[1].fan_in == 72
    apply_to(net, rec, rng=0)
    masks = masks_from(net)
    for layer, m in zip([net[0], net[2], net[5]], masks, strict=True):
        assert m.shape == tuple(layer.weight.shape)
        assert np.all(layer.weight.detach().numpy()[~m] == 0)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    # re-applying replaces the old mask; same rng gives the same masks
    apply_to(net, rec, rng=0)
    assert all(np.array_equal(x, y) for x, y in zip(masks, masks_from(net), strict=True))


def test_bad_modules():
    with pytest.raises(ValueError, match="Conv1d"):
        recommend(torch.nn.Sequential(torch.nn.Conv1d(1, 2, 3), torch.nn.Linear(2, 3)))
    rec = recommend([8, 4], "relu")
    with pytest.raises(ValueError, match="layers"):
        apply_to(torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.Linear(4, 2)), rec)
    with pytest.raises(ValueError, match="MLP"):
        to_torch(recommend([("conv2d", 1, 2, 3, 3)]))


def test_predicted_q_and_dead_fraction_match_forward_pass():
    # the exported network's actual pre-activations against the recommendation's q^l
    torch.manual_seed(0)  # only for the inputs; the model comes from rng
    rec = recommend([400, 400, 400, 400], "tanh", density=0.05, scheme="uniform", sigma_b2=0.05)
    model = to_torch(rec, rng=5, dtype=torch.float64)
    x = torch.randn(400, 400, dtype=torch.float64)
    lins = _linears(model)
    h = x
    with torch.no_grad():
        for i, (lin, lay) in enumerate(zip(lins, rec.layers, strict=True)):
            pre = lin(h)
            q_emp = pre.pow(2).mean().item()
            assert abs(q_emp - lay.q) <= 0.1 * lay.q, (i, q_emp, lay.q)
            h = torch.tanh(pre)
            dead = (lin.weight_mask.sum(dim=1) == 0).double().mean().item()
            se = math.sqrt(lay.dead_fraction * (1 - lay.dead_fraction) / lin.out_features)
            assert abs(dead - lay.dead_fraction) <= 5 * se + 2.5 / lin.out_features


def test_flow_preserving_and_regular_export():
    rec = recommend([200, 100, 50], "relu", density=0.01, scheme="uniform", flow_preserving=True)
    for m in masks_from(to_torch(rec, rng=0)):
        assert m.any(axis=1).all() and m.any(axis=0).all()
    rec = recommend([200, 100, 50], "relu", density=0.05, scheme="uniform", in_degree_regular=True)
    for m in masks_from(to_torch(rec, rng=0)):
        assert len(set(m.sum(axis=1).tolist())) == 1


def test_looks_linear_export_is_linear_and_masked():
    rec = recommend([30, 40, 40, 5], "relu", density=0.3, scheme="uniform")
    model = to_torch(rec, rng=0, dtype=torch.float64, looks_linear=True)
    x, y = torch.randn(7, 30, dtype=torch.float64), torch.randn(7, 30, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(model(2 * x - 3 * y), 2 * model(x) - 3 * model(y), atol=1e-10)
    for lin in _linears(model):
        assert torch.all(lin.weight[lin.weight_mask == 0] == 0)
    with pytest.raises(ValueError, match="relu"):
        to_torch(recommend([4, 6, 2], "tanh"), looks_linear=True)
    with pytest.raises(ValueError, match="even"):
        to_torch(recommend([4, 5, 2], "relu"), looks_linear=True)
