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
    for lin, lay, mask in zip(_linears(model), rec.layers, masks_from(model), strict=True):
        assert hasattr(lin, "weight_mask") == (lay.density < 1)  # dense layers keep a plain weight
        assert np.all(lin.weight.detach().numpy()[~mask] == 0)
        se = math.sqrt(lay.density * (1 - lay.density) / mask.size)
        assert abs(mask.mean() - lay.density) <= 5 * se + 1e-12
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
    for lin, lay, mask in zip(_linears(model), rec.layers, masks_from(model), strict=True):
        assert lin.weight.dtype == torch.float64
        w = lin.weight.detach().numpy()[mask]
        n = w.size
        s2 = lay.weight_std**2
        # Var of the sample variance of Gaussians: 2 s^4 / (n - 1)
        assert abs(w.var() - s2) <= 5 * math.sqrt(2 / (n - 1)) * s2
        b = lin.bias.detach().numpy()
        assert abs(b.var() - lay.bias_std**2) <= 5 * math.sqrt(2 / (b.size - 1)) * lay.bias_std**2 + 1e-12


def test_per_neuron_rule():
    rec = recommend([400, 300], "relu", density=0.05, scheme="uniform", per_neuron=True)
    lay = rec.layers[0]
    sw2 = lay.weight_std**2 * lay.expected_in_degree  # the layer's sigma_w^2 (weight_std at k = E[k])
    lin = _linears(to_torch(rec, rng=4, dtype=torch.float64))[0]
    w = lin.weight.detach().numpy()
    k = lin.weight_mask.numpy().sum(axis=1)
    z = (w**2).sum(axis=1)[k > 0] * (k[k > 0] / sw2)  # sum of k squared N(0, sw2/k) times k/sw2 ~ chi2_k
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


# ---------------------------------------------------------------------------------------------
# device, dtype, meta, dense layers, re-application, forward order, per-layer activations
# ---------------------------------------------------------------------------------------------

def _net(dtype=None, device=None):
    kw = dict(dtype=dtype, device=device)
    return torch.nn.Sequential(torch.nn.Linear(12, 24, **kw), torch.nn.ReLU(), torch.nn.Linear(24, 24, **kw),
                               torch.nn.ReLU(), torch.nn.Linear(24, 3, **kw))


_REC = dict(architecture=[12, 24, 24, 3], activation="relu", density=0.5, scheme="uniform")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
def test_apply_to_keeps_dtype_and_values(dtype):
    from cascades.bridge import draw_masks, draw_weights

    rec = recommend(**_REC)
    net = apply_to(_net(dtype), rec, rng=0)
    gen = np.random.default_rng(0)
    masks = draw_masks(rec.shapes, rec.densities, rng=gen)
    ws, bs = draw_weights(rec, masks, rng=gen)
    for lin, m, w, b in zip(_linears(net), masks, ws, bs, strict=True):
        assert lin.weight_orig.dtype == dtype and lin.weight_mask.dtype == dtype and lin.bias.dtype == dtype
        assert lin.weight_mask.device == lin.weight_orig.device
        assert np.array_equal(lin.weight_mask.float().numpy() != 0, m)
        # the float64 draws rounded once to dtype
        assert torch.equal(lin.weight_orig, torch.from_numpy(w).to(dtype))
        assert torch.equal(lin.bias, torch.from_numpy(b).to(dtype))
    assert net(torch.randn(4, 12, dtype=dtype)).dtype == dtype


def test_to_torch_dtype_device_and_bad_dtype():
    rec = recommend(**_REC)
    model = to_torch(rec, rng=0, dtype=torch.bfloat16, device="cpu")
    assert all(p.dtype == torch.bfloat16 and p.device.type == "cpu" for p in model.parameters())
    with pytest.raises(ValueError, match="floating"):
        to_torch(rec, dtype=torch.int32)


def test_meta_structure_then_values_after_to_empty():
    rec = recommend(**_REC)
    meta = to_torch(rec, rng=0, device="meta")
    ref = to_torch(rec, rng=0)
    assert sorted(meta.state_dict()) == sorted(ref.state_dict())
    assert all(t.is_meta for t in meta.state_dict().values())
    with pytest.raises(ValueError, match="meta"):
        masks_from(meta)
    meta.to_empty(device="cpu")
    apply_to(meta, rec, rng=0)  # now the values (the same rng: the same model)
    for k, v in ref.state_dict().items():
        assert torch.equal(meta.state_dict()[k], v), k
    x = torch.randn(3, 12)
    assert torch.equal(meta(x), ref(x))


def test_meta_module_apply_to_structure_only():
    rec = recommend(**_REC)
    net = apply_to(_net(device="meta"), rec, rng=0)
    for lin in _linears(net):
        assert lin.weight_orig.is_meta and lin.weight_mask.is_meta


def test_dense_layers_keep_plain_names():
    rec = recommend([12, 24, 3], "relu", density=1.0)
    model = to_torch(rec, rng=0)
    assert sorted(model.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    assert not torch.nn.utils.prune.is_pruned(model)
    # mixed: a sparse first layer, a dense read-out
    rec = recommend([12, 24, 3], "relu", density=0.5, scheme="uniform", overrides={1: 1.0})
    model = to_torch(rec, rng=0)
    assert sorted(model.state_dict()) == ["0.bias", "0.weight_mask", "0.weight_orig", "2.bias", "2.weight"]


def test_reapplying_draws_new_values():
    # a second apply_to replaces the first one's values and masks, as a fresh apply_to would
    rec = recommend(**_REC)
    net = apply_to(apply_to(_net(), rec, rng=0), rec, rng=1)
    fresh = apply_to(_net(), rec, rng=1)
    for k, v in fresh.state_dict().items():
        assert torch.equal(net.state_dict()[k], v), k
    dense = recommend([12, 24, 24, 3], "relu", density=1.0)
    apply_to(net, dense, rng=2)  # pruned -> dense: the pruning is removed
    assert not torch.nn.utils.prune.is_pruned(net)


def test_apply_to_follows_forward_order():
    class Backwards(torch.nn.Module):  # layers defined in the reverse of the forward order
        def __init__(self):
            super().__init__()
            self.out = torch.nn.Linear(16, 2)
            self.hidden = torch.nn.Linear(8, 16)

        def forward(self, x):
            return self.out(torch.tanh(self.hidden(x)))

    from cascades.bridge.torch import layer_shapes

    net = Backwards()
    assert [s.to_tuple() for s in layer_shapes(net)] == [("linear", 8, 16), ("linear", 16, 2)]
    rec = recommend([8, 16, 2], "tanh", density=0.5, scheme="uniform")
    apply_to(net, rec, rng=0)
    masks = masks_from(net)
    assert masks[0].shape == (16, 8) and masks[1].shape == (2, 16)


@pytest.mark.parametrize("name,cls,attr", [
    ("relu", "ReLU", None), ("leaky_relu", "LeakyReLU", ("negative_slope", 0.01)),
    ("leaky_relu(0.2)", "LeakyReLU", ("negative_slope", 0.2)), ("elu", "ELU", ("alpha", 1.0)),
    ("elu(0.5)", "ELU", ("alpha", 0.5)), ("gelu", "GELU", ("approximate", "none")),
    ("gelu_tanh", "GELU", ("approximate", "tanh")), ("silu", "SiLU", None), ("selu", "SELU", None),
    ("hardtanh", "Hardtanh", ("min_val", -1.0)), ("linear", "Identity", None), ("sigmoid", "Sigmoid", None),
])
def test_activation_modules_from_registry_names(name, cls, attr):
    from cascades.bridge.torch import _activation_module

    mod = _activation_module(name)
    assert type(mod).__name__ == cls
    if attr is not None:
        assert getattr(mod, attr[0]) == attr[1]


def test_to_torch_per_layer_activations_from_a_module():
    nn = torch.nn
    src = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.LeakyReLU(0.2), nn.Linear(8, 8),
                        nn.GELU(approximate="tanh"), nn.Linear(8, 2))
    rec = recommend(src, density=1.0)
    model = to_torch(rec, rng=0)
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear", "LeakyReLU", "Linear", "GELU",
                                                 "Linear"]
    assert model[3].negative_slope == 0.2 and model[5].approximate == "tanh"
    x = torch.randn(3, 6)
    apply_to(src, rec, rng=0)
    with torch.no_grad():
        assert torch.equal(model(x), src(x))  # the same layers, the same draws


def test_to_torch_recommendation_without_per_layer_activations():
    # a recommendation saved before the per-layer fields existed: rec.activation after every hidden layer
    import dataclasses

    rec = recommend([6, 8, 8, 2], "tanh", density=1.0)
    old = dataclasses.replace(rec, layers=tuple(dataclasses.replace(lay, activation=None, readout=False)
                                                for lay in rec.layers))
    model = to_torch(old, rng=0)
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]


# ---------------------------------------------------------------------------------------------
# the read-out rule and training any module
# ---------------------------------------------------------------------------------------------


def _expected_initial_loss(v, classes, n=400_000):
    """E[log sum_c exp(z_c)] for z ~ N(0, v I) by Monte Carlo (E[z_y] = 0), standard error ~1e-3."""
    z = np.random.default_rng(0).standard_normal((n, classes)) * np.sqrt(v)
    m = z.max(axis=1)
    return float(np.mean(m + np.log(np.exp(z - m[:, None]).sum(axis=1))))


@pytest.mark.parametrize("act", ["relu", "tanh", "gelu"])
def test_readout_gives_logits_of_unit_variance_and_loss_near_ln_classes(act):
    from cascades.datasets import digits

    pytest.importorskip("sklearn")
    data = digits()
    rec = recommend([64, 256, 256, 256, 10], act, q0=data.q0)
    x = torch.from_numpy(np.array(data.X_train, dtype=np.float32))
    y = torch.from_numpy(np.array(data.y_train))
    msq, loss = [], []
    for seed in range(32):
        with torch.no_grad():
            z = to_torch(rec, rng=seed)(x)
        msq.append(float((z * z).mean()))
        loss.append(float(torch.nn.functional.cross_entropy(z, y)))
    # E[z^2] = readout_variance = 1. The digits are strongly correlated, so within one network the
    # logits of all samples are nearly equal: about 10 independent values per network, 320 in all,
    # relative standard error sqrt(2 / 320) = 0.08; tolerance 3 of those
    assert np.mean(msq) == pytest.approx(rec.readout_variance, rel=0.25)
    # the initial loss: E[logsumexp(z)] = 2.73 for 10 classes at v = 1 (ln 10 = 2.30; the old rule,
    # the hidden sigma_w^2 on the read-out layer, gave 2.9-4.5); sd of logsumexp ~0.35 per network,
    # standard error 0.06 over 32, tolerance 0.2
    assert np.mean(loss) == pytest.approx(_expected_initial_loss(1.0, 10), abs=0.2)


def _small_cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.GELU(), torch.nn.Conv2d(8, 8, 3, padding=1),
        torch.nn.GELU(), torch.nn.Flatten(), torch.nn.Linear(8 * 8 * 8, 10))


def test_train_comparison_on_a_module_and_the_nearest_policy():
    from cascades.bridge import train_comparison

    pytest.importorskip("sklearn")
    r = train_comparison(model=_small_cnn, density=0.5, scheme="erk", epochs=1, progress=False, rng=0,
                         inits=("recommended", "recommended-nearest", "torch-default"), optimizer="sgd",
                         momentum=0.9, lr=0.01)
    assert r.config["dataset"] == "digits" and r.config["layers"][0][0] == "conv2d"
    assert r.config["q_star"] == pytest.approx(r.config["q0"]) and r.config["q_star_nearest"] > 4
    for name in r.inits:
        assert np.all(np.isfinite(r.test_accuracy[name]))
    # the two recommendations differ (q* moved vs kept), so do the curves
    assert r.train_loss["recommended"][0] != r.train_loss["recommended-nearest"][0]
    with pytest.raises(ValueError, match="widths or model"):
        train_comparison(widths=[64, 10], model=_small_cnn, progress=False)
    with pytest.raises(ValueError, match="dataset"):
        train_comparison(dataset="cifar", progress=False, quick=True)
    with pytest.raises(ValueError, match="momentum"):
        train_comparison(momentum=1.0, progress=False, quick=True)
