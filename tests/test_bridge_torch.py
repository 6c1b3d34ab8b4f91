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


@pytest.mark.parametrize("act,sb2", [("relu", 0.0), ("tanh", 0.05)])
def test_predicted_q_and_dead_fraction_match_forward_pass(act, sb2):
    # the exported network's actual forward pass on Gaussian inputs against the recommendation's q^l
    # and dead fractions. First layer fan-in 40 at density 0.1: E[k] = 4, dead fraction 0.9^40 = 1.5%.
    n, n_inputs = 800, 200
    rec = recommend([40, n, n, n], act, density=0.1, scheme="uniform", sigma_b2=sb2)
    model = to_torch(rec, rng=5, dtype=torch.float64)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((n_inputs, 40)))  # q0 = 1, kurtosis 3
    var = 2.0 / (40 * n_inputs)  # relative variance of the inputs' measured q0
    h = x
    with torch.no_grad():
        for i, (lin, lay) in enumerate(zip(_linears(model), rec.layers, strict=True)):
            pre = lin(h)
            # q_emp averages n units; a unit's q_i (over the inputs) is a sum of k squared Gaussian weights
            # times the layer below's (nearly equal) mean squares, relative variance 2 / k, plus the
            # in-degree spread (q_std / q)^2; the relative errors of successive layers add up (this sigma is
            # 0.034-0.035; over 12 seeds the measured sd of q_emp / q - 1 was 0.033, 0.038, 0.055 (relu) and
            # 0.033, 0.018, 0.013 (tanh), mean within 1.2 standard errors of 0)
            var += (2.0 / lay.expected_in_degree + (lay.q_std / lay.q) ** 2) / n
            q_emp = pre.pow(2).mean().item()
            assert abs(q_emp / lay.q - 1.0) <= 5 * math.sqrt(var), (i, q_emp, lay.q, math.sqrt(var))
            # dead units, seen in the forward pass: the pre-activation is the bias for every input
            dead = (pre.std(dim=0) == 0).double().mean().item()
            assert dead == (lin.weight_mask.sum(dim=1) == 0).double().mean().item()
            se = math.sqrt(lay.dead_fraction * (1 - lay.dead_fraction) / n)  # binomial count of n units
            assert abs(dead - lay.dead_fraction) <= 5 * se + 1e-12, (i, dead, lay.dead_fraction)
            h = torch.relu(pre) if act == "relu" else torch.tanh(pre)
    assert rec.layers[0].dead_fraction > 0.01  # the test has dead units to count


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


def test_orthogonal_export_uses_draw_weights():
    from cascades.bridge import draw_masks, draw_weights, orthogonality_defect

    rec = recommend([40, 40, 40, 10], "tanh", density=0.5, scheme="uniform", sigma_b2=0.05,
                    weights="orthogonal")
    model = to_torch(rec, rng=3, dtype=torch.float64)
    gen = np.random.default_rng(3)
    masks = draw_masks(rec.shapes, rec.densities, rng=gen)
    ws, bs = draw_weights(rec, masks, rng=gen)
    for lin, m, w, b in zip(_linears(model), masks, ws, bs, strict=True):
        assert np.array_equal(lin.weight_mask.numpy() != 0, m)
        assert np.allclose(lin.weight.detach().numpy(), w, rtol=0, atol=1e-15)
        assert np.allclose(lin.bias.detach().numpy(), b, rtol=0, atol=1e-15)
    sw = math.sqrt(rec.sigma_w2)
    assert orthogonality_defect(ws[1] / sw) < 0.1


def test_looks_linear_orthogonal_is_an_isometry():
    # equal half widths (20): the network is x -> W0^3 W0^2 W0^1 x with every W0 orthogonal
    rec = recommend([20, 40, 40, 20], "relu", weights="orthogonal")
    model = to_torch(rec, rng=1, dtype=torch.float64, looks_linear=True)
    x = torch.randn(9, 20, dtype=torch.float64)
    with torch.no_grad():
        y = model(x)
    assert torch.allclose(y.norm(dim=1), x.norm(dim=1), rtol=1e-12)
    # masked blocks: the approximate isometry, close to norm preserving
    rec = recommend([20, 40, 40, 20], "relu", density=0.6, scheme="uniform", weights="orthogonal")
    model = to_torch(rec, rng=1, dtype=torch.float64, looks_linear=True)
    with torch.no_grad():
        y = model(x)
    for lin in _linears(model):
        assert torch.all(lin.weight[lin.weight_mask == 0] == 0)
    ratio = (y.norm(dim=1) / x.norm(dim=1)).numpy()
    assert np.all(np.abs(ratio - 1) < 0.2)


@pytest.mark.parametrize("module,name", [
    (lambda: torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 2)), "Embedding"),
    (lambda: torch.nn.Sequential(torch.nn.ConvTranspose2d(1, 2, 3)), "ConvTranspose2d"),
    (lambda: torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, groups=2)), "grouped Conv2d"),
    (lambda: torch.nn.Sequential(torch.nn.ReLU()), "no Linear or Conv2d"),
])
def test_unsupported_layers_named(module, name):
    with pytest.raises(ValueError, match=name):
        recommend(module())


def test_train_comparison_quick_and_deterministic():
    from cascades.bridge import TrainingComparison, train_comparison

    kw = dict(quick=True, rng=3, progress=False, widths=[64, 64, 64, 64, 64, 10])
    a = train_comparison(**kw)
    b = train_comparison(**kw)
    assert isinstance(a, TrainingComparison)
    assert a.inits == ("recommended", "torch-default", "he-dense-mask")
    assert a.epochs.tolist() == [0, 1, 2, 3] and a.config["completed_epochs"] == 3
    for name in a.inits:
        for key in ("train_loss", "test_loss", "test_accuracy"):
            arr = getattr(a, key)[name]
            assert arr.shape == (4,) and arr.dtype == np.float64 and np.all(np.isfinite(arr))
            assert np.array_equal(arr, getattr(b, key)[name])  # same rng, same curves
        assert np.all((a.test_accuracy[name] >= 0) & (a.test_accuracy[name] <= 1))
    # the recommended init learns: its training loss falls below the initial one
    assert a.train_loss["recommended"][-1] < a.train_loss["recommended"][0]
    assert torch.get_num_threads() >= 1
    with pytest.raises(ValueError, match="widths"):
        train_comparison(widths=[10, 20, 10], progress=False)
    with pytest.raises(ValueError, match="inits"):
        train_comparison(inits=("magic",), progress=False, quick=True)
    with pytest.raises(ValueError, match="optimizer"):
        train_comparison(optimizer="lbfgs", progress=False, quick=True)
    with pytest.raises(ValueError, match="density"):
        train_comparison(density=0.0, progress=False, quick=True)


def test_training_comparison_plot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cascades.bridge import TrainingComparison

    e = np.arange(3)
    ones = {"a": np.ones(3), "b": np.ones(3)}
    r = TrainingComparison(("a", "b"), e, ones, ones, {"a": np.array([0.1, 0.5, 0.9]), "b": np.full(3, 0.1)},
                           {"widths": [64, 10]})
    ax_loss, ax_acc = r.plot()
    assert len(ax_loss.lines) == 4 and len(ax_acc.lines) == 2
    assert np.allclose(ax_acc.lines[0].get_ydata(), [0.1, 0.5, 0.9])
    fig, ax = plt.subplots()
    ax_loss, ax_acc = r.plot(ax=ax)
    assert ax_loss is ax and ax_acc is not ax
    plt.close("all")
    assert r.final("test_accuracy") == {"a": 0.9, "b": 0.1}
    assert "a:acc" in r.table()


def test_activation_without_torch_module():
    rec = recommend([8, 8, 4], "erf")
    with pytest.raises(ValueError, match="no torch module"):
        to_torch(rec, rng=0)
    from cascades.bridge import train_comparison

    with pytest.raises(ValueError, match="no torch module"):
        train_comparison(activation="erf", quick=True, progress=False)
