"""cascades.dst: drop-and-grow invariants, determinism, RigL growth, theory-scaled regrowth, the monitor."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cascades.bridge import apply_to, draw_masks, recommend  # noqa: E402
from cascades.dst import METHODS, DropAndGrow, TopologyMonitor, topology  # noqa: E402


def _mlp(density=0.1, seed=0, widths=(64, 128, 64, 10)):
    layers = []
    for i in range(len(widths) - 1):
        layers += [torch.nn.Linear(widths[i], widths[i + 1]), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    rec = recommend(net, density=density, scheme="erk")
    return apply_to(net, rec, rng=seed), rec


def _cnn(density=0.2, seed=0):
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 16, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 6 * 6, 10),
    )
    rec = recommend(net, density=density, scheme="erk")
    return apply_to(net, rec, rng=seed), rec


def _run(net, dg, opt, steps, x_shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    counts = [int(m.sum()) for m in dg.masks()]
    for _ in range(steps):
        x = torch.randn(*x_shape, generator=g)
        y = torch.randint(0, 10, (x_shape[0],), generator=g)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        dg.step()
        assert [int(m.sum()) for m in dg.masks()] == counts  # the density is exact after every step
        for _, mod in dg.layers:  # masked weights stay zero
            eff = mod.weight_orig.detach() * mod.weight_mask  # what the next forward uses
            assert float((eff * (1 - mod.weight_mask)).abs().max()) == 0
            assert float((mod.weight.detach() * (1 - mod.weight_mask)).abs().max()) == 0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_density_is_exact_and_masked_weights_stay_zero(method, kind):
    net, rec = _mlp() if kind == "mlp" else _cnn()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-5)
    dg = DropAndGrow(
        net,
        rec,
        method=method,
        update_every=3,
        drop_fraction=0.5,
        optimizer=opt,
        rng=1,
        flow_preserving=method == "theory",
        per_neuron=method == "random",
    )
    _run(net, dg, opt, 12, (16, 64) if kind == "mlp" else (16, 1, 8, 8))
    assert len(dg.history) == (0 if method == "static" else 4)
    if method != "static":
        rec0 = dg.history[0]
        assert rec0.dropped == rec0.grown and all(d > 0 for d in rec0.dropped)
        assert dg.explored_fraction() > sum(int(m.sum()) for m in dg.masks()) / sum(
            m.numel() for m in dg.masks()
        )


def test_bitwise_determinism():
    def once():
        torch.manual_seed(0)
        net, rec = _mlp(seed=3)
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        dg = DropAndGrow(net, rec, method="rigl", update_every=2, optimizer=opt, rng=5)
        _run(net, dg, opt, 8, (16, 64))
        return [m.clone() for m in dg.masks()], [p.detach().clone() for p in net.parameters()]

    (m1, p1), (m2, p2) = once(), once()
    assert all(torch.equal(a, b) for a, b in zip(m1, m2, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(p1, p2, strict=True))


def test_rigl_grows_where_the_dense_gradient_is_largest_and_resets_the_optimizer_state():
    net, rec = _mlp(density=0.05)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    dg = DropAndGrow(
        net, rec, method="rigl", update_every=1, drop_fraction=0.2, optimizer=opt, rng=0, grow_init="zero"
    )
    x, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    before = [m.clone() for m in dg.masks()]
    # the dense gradient of the effective weight, computed independently
    out = net(x)
    loss = torch.nn.functional.cross_entropy(out, y)
    eff = [mod.weight for _, mod in dg.layers]
    for w in eff:
        w.retain_grad()
    opt.zero_grad()
    loss.backward()
    dense = [w.grad.detach().abs().clone() for w in eff]
    opt.step()
    dg.step()
    for b, a, g, (_, mod) in zip(before, dg.masks(), dense, dg.layers, strict=True):
        grown = a & ~b
        others = ~a & ~b  # inactive before and after (the dropped ones excluded)
        assert grown.any()
        assert float(g[grown].min()) >= float(g[others].max())
        buf = opt.state[mod.weight_orig]["momentum_buffer"]
        assert float(buf[grown].abs().max()) == 0  # optimizer state of grown weights reset
        assert float(mod.weight_orig.detach()[grown].abs().max()) == 0  # grow_init="zero"


def test_flow_preservation_keeps_every_unit_and_input_connected():
    net, rec = _mlp(density=0.03)
    dg = DropAndGrow(net, rec, method="set", update_every=1, drop_fraction=0.95, flow_preserving=True, rng=0)
    for _ in range(5):
        dg.step()
    for m in dg.masks():
        assert bool(m.any(1).all()) and bool(m.any(0).all())


@pytest.mark.parametrize("per_neuron", [False, True])
def test_theory_scaled_regrowth_restores_the_predicted_q_on_a_wide_layer(per_neuron):
    # after an update the layer's pre-activations are back at q = sigma_w^2 q_in, whatever the kept weights
    n_in, n_out, p = 1000, 2000, 0.1
    net = torch.nn.Sequential(
        torch.nn.Linear(n_in, n_out, bias=False), torch.nn.ReLU(), torch.nn.Linear(n_out, 10)
    )
    rec = recommend(net, density=p, scheme="uniform")
    apply_to(net, rec, rng=0)
    sw2 = rec.layers[0].sigma_w2
    x = torch.randn(512, n_in, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        net[0].weight_orig.mul_(0.5)  # training shrank the layer: q = sw2 / 4
        q0 = float(net[0](x).double().pow(2).mean())
    dg = DropAndGrow(
        net,
        rec,
        method="set",
        update_every=1,
        drop_fraction=0.3,
        schedule="constant",
        rng=1,
        per_neuron=per_neuron,
    )
    dg.step()
    with torch.no_grad():
        q = float(net[0](x).double().pow(2).mean())
    assert q0 == pytest.approx(sw2 / 4, rel=0.05)
    # exact in expectation over the grown draws; the input batch and the 2000 units scatter by about 1 %
    assert q == pytest.approx(sw2, rel=0.05)
    with torch.no_grad():
        rows = (net[0].weight_orig * net[0].weight_mask).double().pow(2).sum(1)
    assert float(rows.mean()) == pytest.approx(sw2, rel=0.02)
    if per_neuron:  # every unit with a grown weight is restored on its own
        assert float(rows.std() / rows.mean()) < 0.25


def test_dead_units_against_the_binomial_prediction():
    # Erdos-Renyi masks: the number of units with in-degree 0 is Binomial(n_out, (1 - p)^n_in)
    for seed in range(3):
        m = draw_masks([("linear", 20, 4000)], [0.05], rng=seed)[0]
        t = topology([m])[0]
        assert t.dead_expected == pytest.approx(4000 * (1 - t.density) ** 20)
        assert abs(t.dead_units - t.dead_expected) <= 4 * t.dead_sd
        assert t.indegree_tv < 0.05 and t.binomial_var == pytest.approx(20 * t.density * (1 - t.density))


def test_monitor_records_q_and_explored_fraction():
    net, rec = _mlp(density=0.2, widths=(64, 512, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    dg = DropAndGrow(net, rec, method="set", update_every=2, optimizer=opt, rng=0)
    mon = TopologyMonitor(dg, rec, probe=torch.randn(256, 64))
    _run(net, dg, opt, 4, (16, 64))
    mon.record()
    ds = mon.to_xarray()
    assert ds.sizes["layer"] == 2 and float(ds["explored_fraction"][-1]) > 0.2
    # the first layer's q right after a short run is near the recommendation's q* = 1 (width 512)
    assert float(ds["q_measured"][-1, 0]) == pytest.approx(float(ds["q_predicted"][-1, 0]), rel=0.15)


def test_bad_input():
    net, rec = _mlp()
    with pytest.raises(ValueError, match="update_every"):
        DropAndGrow(net, rec, update_every=0)
    with pytest.raises(ValueError, match="drop_fraction"):
        DropAndGrow(net, rec, drop_fraction=1.0)
    with pytest.raises(ValueError, match="method"):
        DropAndGrow(net, rec, method="magic")
    with pytest.raises(ValueError, match="no masked layers"):
        DropAndGrow(torch.nn.Linear(3, 3))
    with pytest.raises(TypeError):
        DropAndGrow("net")
    with pytest.raises(ValueError, match="masks must"):
        topology([np.ones(3, bool)])


def test_recommended_sigma_w2_is_used_when_the_read_out_stays_dense():
    from cascades.bridge import to_torch

    rec = recommend([64, 256, 10], "relu", density=0.3, scheme="erk")
    assert rec.layers[1].density == 1.0  # ERK keeps the small read-out dense
    dg = DropAndGrow(to_torch(rec, rng=0), rec, method="set", rng=0)
    assert dg.sigma_w2 == [rec.layers[0].sigma_w2]


def test_channels_last_convolutions_with_adam():
    net, rec = _cnn()
    net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    dg = DropAndGrow(net, rec, method="set", update_every=1, optimizer=opt, rng=0)
    x = torch.randn(4, 1, 8, 8).to(memory_format=torch.channels_last)
    before = [m.clone() for m in dg.masks()]
    net(x).pow(2).mean().backward()
    opt.step()
    assert dg.step()
    for b, a, (_, mod) in zip(before, dg.masks(), dg.layers, strict=True):
        assert int(a.sum()) == int(b.sum())
        changed = a ^ b  # grown or dropped
        assert bool(changed.any())
        for key in ("exp_avg", "exp_avg_sq"):  # their Adam moments are reset, in any memory layout
            assert float(opt.state[mod.weight_orig][key][changed].abs().max()) == 0


def test_masks_given_directly():
    net = torch.nn.Sequential(torch.nn.Linear(20, 40), torch.nn.ReLU(), torch.nn.Linear(40, 5))
    masks = draw_masks([("linear", 20, 40), ("linear", 40, 5)], [0.2, 1.0], rng=0)
    dg = DropAndGrow(net, masks, method="set", update_every=1, rng=0)
    assert len(dg.layers) == 1 and torch.equal(dg.masks()[0].cpu(), torch.from_numpy(masks[0]))
    assert dg.step() and int(dg.masks()[0].sum()) == int(masks[0].sum())
    with pytest.raises(ValueError, match="2 Linear / Conv2d layers"):
        DropAndGrow(
            torch.nn.Sequential(torch.nn.Linear(20, 40), torch.nn.ReLU(), torch.nn.Linear(40, 5)), masks[:1]
        )


def test_layers_follow_the_forward_order_of_the_recommendation():
    class Reordered(torch.nn.Module):  # defined out, hidden; called hidden, out
        def __init__(self):
            super().__init__()
            self.out = torch.nn.Linear(64, 10)
            self.hidden = torch.nn.Linear(20, 64)

        def forward(self, x):
            return self.out(torch.relu(self.hidden(x)))

    net = Reordered()
    rec = recommend(net, density=0.3, scheme="uniform")
    dg = DropAndGrow(net, rec, method="set", rng=0)
    assert [name for name, _ in dg.layers] == ["hidden", "out"]
    assert dg.sigma_w2 == [lay.sigma_w2 for lay in rec.layers]
