"""Mean-field propagation through torch computation graphs (cascades.bridge.graph / network).

Three ways: closed forms computed here independently (tight tolerance), invariants, and wide random
torch modules (width >= 512) whose measured per-node statistics must match the prediction within a
tolerance from replicas.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from cascades import nn as cnn  # noqa: E402
from cascades.bridge import (  # noqa: E402
    InputStats,
    apply_to,
    measure_signal_graph,
    recommend,
    recommend_network,
    signal_graph,
)


def relu_kernel(q1, q2, q12):
    """E[relu(u1) relu(u2)] (arc-cosine kernel of degree 1, Cho & Saul 2009), written independently."""
    root = math.sqrt(q1 * q2)
    c = max(-1.0, min(1.0, q12 / root))
    return root / (2 * math.pi) * (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c)


class ReducedBlock(nn.Module):
    """x + fc(relu(x)): the reduced residual block of Yang & Schoenholz (2017)."""

    def __init__(self, d):
        super().__init__()
        self.fc = nn.Linear(d, d)

    def forward(self, x):
        return x + self.fc(torch.relu(x))


class Block(nn.Module):
    def __init__(self, d, hidden=None, act=F.relu):
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(d, hidden or d), nn.Linear(hidden or d, d), act

    def forward(self, x):
        return x + self.fc2(self.act(self.fc1(x)))


# ---------------------------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------------------------


def test_chain_matches_the_covariance_map():
    net = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    var = {"0": (1.7, 0.2, 0.0), "2": (2.1, 0.05, 0.0), "4": (1.0, 0.0, 0.0)}
    g = signal_graph(net, input_shape=(4, 16), inputs=InputStats(q=1.3, c=0.4), variances=var)
    q, q12 = 1.7 * 1.3 + 0.2, 1.7 * 0.4 * 1.3 + 0.2
    assert g["0"].state.q == pytest.approx(q, rel=1e-14)
    assert g["0"].state.c == pytest.approx(q12 / q, rel=1e-14)
    cov = cnn.covariance_map("tanh", 2.1, 0.05, q, q, q12)
    assert g["2"].state.q == pytest.approx(float(cov.q11), rel=1e-12)
    assert g["2"].state.c == pytest.approx(float(cov.q12) / float(cov.q11), rel=1e-12)
    q2, k2 = float(cov.q11), float(cov.q12)
    assert g["3"].state.q == pytest.approx(q2 / 2, rel=1e-12)
    assert g["3"].state.c * g["3"].state.q == pytest.approx(relu_kernel(q2, q2, k2), rel=1e-12)
    assert g["3"].state.mean == pytest.approx(math.sqrt(q2 / (2 * math.pi)), rel=1e-12)


def test_reduced_residual_network_matches_residual_propagate():
    d, L = 8, 6
    net = nn.Sequential(nn.Linear(4, d), *[ReducedBlock(d) for _ in range(L)])
    var = {"0": (1.0, 0.0, 0.0), **{f"{i}.fc": (2.0, 0.1, 0.0) for i in range(1, L + 1)}}
    g = signal_graph(net, input_shape=(2, 4), inputs=InputStats(q=1.5, c=0.3), variances=var)
    t = cnn.residual_propagate("relu", 2.0, 0.1, 1.5, L, q22=1.5, c=0.3, alpha=1.0, beta=1.0)
    adds = [n for n in g.nodes if n.op == "residual add"]
    assert len(adds) == L
    for layer, node in enumerate(adds, start=1):
        assert node.state.q == pytest.approx(t.q11[layer], rel=1e-12)
        assert node.state.c * node.state.q == pytest.approx(t.q12[layer], rel=1e-11)


def test_zero_padding_counts_the_taps_that_meet_the_input():
    # Conv1d k = 3, padding 1 on L = 4: taps meet 3, 4, 3 outputs: q' = s_w (10 / 12) q
    conv = nn.Conv1d(1, 1, 3, padding=1)
    g = signal_graph(conv, input_shape=(2, 1, 4), variances={"0": (2.0, 0.0, 0.0)})
    assert g.output.q == pytest.approx(2.0 * 10 / 12, rel=1e-14)
    # pairs of different outputs share a weight through the same tap only: sum n_t (n_t - 1) / (k P (P - 1))
    g = signal_graph(
        conv, input_shape=(2, 1, 4), inputs=InputStats(c_pos=0.5), variances={"0": (2.0, 0.0, 0.0)}
    )
    k_pos = 2.0 * 0.5 * (3 * 2 + 4 * 3 + 3 * 2) / (3 * 4 * 3)
    assert g.output.c_pos * g.output.q == pytest.approx(k_pos, rel=1e-14)
    # circular padding: every tap meets every output
    circ = nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular")
    assert signal_graph(
        circ, input_shape=(2, 1, 4), variances={"0": (2.0, 0.0, 0.0)}
    ).output.q == pytest.approx(2.0)


def test_transposed_convolution_counts():
    # ConvTranspose1d k = 3, stride 2, L = 3 -> 7 outputs; each tap meets all 3 inputs: q' = s_w 9 / (3 * 7) q
    ct = nn.ConvTranspose1d(1, 1, 3, stride=2)
    g = signal_graph(ct, input_shape=(2, 1, 3), variances={"0": (3.0, 0.0, 0.0)})
    assert g.output.shape == (2, 1, 7)
    assert g.output.q == pytest.approx(3.0 * 9 / 21, rel=1e-14)


def test_batchnorm_maps_exchangeable_inputs_to_minus_one_over_b_minus_one():
    # Yang et al. (ICLR 2019): batch statistics on B exchangeable inputs give c' = -1 / (B - 1)
    for B in (2, 5, 16):
        net = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))
        g = signal_graph(net, input_shape=(B, 8), inputs=InputStats(c=0.6), variances={"0": (1.0, 0.0, 0.0)})
        assert g["1"].state.c == pytest.approx(-1 / (B - 1), rel=1e-12)
        var = 1.0 - (1.0 + (B - 1) * 0.6) / B  # the centred variance over the batch
        assert g["1"].state.q == pytest.approx(var / (var + 1e-5), rel=1e-14)  # gamma^2 var / (var + eps)


def test_layernorm_centres_a_relu_output():
    net = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.LayerNorm(8, eps=0.0))
    g = signal_graph(net, input_shape=(2, 8), inputs=InputStats(c=0.2), variances={"0": (2.0, 0.0, 0.0)})
    q, k = 2.0, 0.4
    m2 = q / (2 * math.pi)  # E[relu]^2
    qa, ka = q / 2, relu_kernel(q, q, k)
    # large-width LayerNorm: (K - m^2) / (q - m^2) up to the 1/n correction of the feature mean
    n = 8
    r_same = (qa + (n - 1) * m2) / n
    r_cross = (ka + (n - 1) * m2) / n
    assert g["2"].state.c == pytest.approx((ka - r_cross) / (qa - r_same), rel=1e-12)
    assert g["2"].state.q == pytest.approx(1.0, rel=1e-12)


def test_rmsnorm_and_global_pooling_and_dropout():
    if not hasattr(nn, "RMSNorm"):
        pytest.skip("torch without RMSNorm")
    net = nn.Sequential(nn.Linear(8, 8), nn.RMSNorm(8, eps=0.0))
    g = signal_graph(net, input_shape=(2, 8), inputs=InputStats(c=0.3), variances={"0": (2.5, 0.0, 0.0)})
    assert g.output.q == pytest.approx(1.0, rel=1e-14)
    assert g.output.c == pytest.approx(0.3, rel=1e-14)
    pool = nn.Sequential(nn.Conv2d(1, 4, 1), nn.AdaptiveAvgPool2d(1))
    g = signal_graph(
        pool,
        input_shape=(2, 1, 3, 5),
        inputs=InputStats(c_pos=0.25, c_x=0.1, c=0.5),
        variances={"0": (1.0, 0.0, 0.0)},
    )
    P = 15
    assert g.output.q == pytest.approx((1 + (P - 1) * 0.25) / P, rel=1e-12)
    assert g.output.c * g.output.q == pytest.approx((0.5 + (P - 1) * 0.1) / P, rel=1e-12)
    drop = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.25)).train()
    g = signal_graph(drop, input_shape=(2, 4), inputs=InputStats(c=0.5), variances={"0": (1.0, 0.0, 0.0)})
    assert g.output.q == pytest.approx(1 / 0.75, rel=1e-14)
    assert g.output.c * g.output.q == pytest.approx(0.5, rel=1e-14)
    assert signal_graph(drop.eval(), input_shape=(2, 4), variances={"0": (1.0, 0.0, 0.0)}).output.q == 1.0


def test_embedding_and_concatenation():
    emb = nn.Embedding(50, 16)
    with torch.no_grad():
        emb.weight.fill_(0.5)
    g = signal_graph(emb, input_shape=(2, 7))
    assert g.output.q == pytest.approx(0.25)
    assert g.output.c == pytest.approx(1 / 50)

    class Cat(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 6), nn.Linear(4, 2)

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], dim=1)

    g = signal_graph(Cat(), input_shape=(2, 4), variances={"a": (1.0, 0.0, 0.0), "b": (3.0, 0.0, 0.0)})
    assert g.output.q == pytest.approx((6 * 1 + 2 * 3) / 8)


def test_recommendation_rules():
    d, L = 32, 4
    net = nn.Sequential(nn.Linear(8, d), *[Block(d) for _ in range(L)], nn.Linear(d, 3))
    rec = recommend(net, input_shape=(4, 8))
    assert rec.n_residual == L and rec.branch_scale == pytest.approx(1 / math.sqrt(L))
    assert rec["0"].role == "linear"
    q_stream = 1.0
    for i in range(1, L + 1):
        pre, br = rec[f"{i}.fc1"], rec[f"{i}.fc2"]
        assert pre.role == "pre-activation" and pre.activation == "relu"
        assert pre.q_in == pytest.approx(q_stream, rel=1e-12)
        assert pre.sigma_w2 == pytest.approx(1.0 / q_stream, rel=1e-12)  # lands on q* = 1
        assert br.role == "branch" and br.sigma_w2 == pytest.approx(2.0 / L, rel=1e-12)
        q_stream += 1.0 / L  # ReLU at q* = 1 gives 1/2, times 2 / L
    assert rec["5"].role == "read-out"
    assert rec.signal.output.q == pytest.approx(1.0, rel=1e-12)  # readout_variance


# ---------------------------------------------------------------------------------------------
# invariants
# ---------------------------------------------------------------------------------------------


def test_invariants_of_the_table():
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.GroupNorm(2, 8),
        nn.GELU(),
        nn.Conv2d(8, 8, 3, groups=8),
        nn.SiLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 16, 5),
    )
    g = signal_graph(net, input_shape=(4, 3, 10, 10), inputs=InputStats(c=0.3, c_pos=0.2, c_x=0.1))
    for n in g.nodes:
        s = n.state
        assert s.q > 0
        for c in (s.c, s.c_pos, s.c_x):
            assert math.isnan(c) or -1 <= c <= 1
        assert s.mean * s.mean <= s.q * (1 + 1e-12)
    assert "GroupNorm" in str(g) and g.output.shape == (4, 5)


def test_homogeneous_networks_scale_with_the_input():
    # without biases a ReLU network is positively homogeneous: every q scales with the input's, c stays
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.LeakyReLU(0.2), nn.Linear(16, 2))
    var = {k: (1.7, 0.0, 0.0) for k in ("0", "2", "4")}
    a = signal_graph(net, input_shape=(2, 8), inputs=InputStats(q=1.0, c=0.3), variances=var)
    b = signal_graph(net, input_shape=(2, 8), inputs=InputStats(q=4.0, c=0.3), variances=var)
    for x, y in zip(a.nodes, b.nodes, strict=True):
        assert y.state.q == pytest.approx(4 * x.state.q, rel=1e-12)
        assert y.state.c == pytest.approx(x.state.c, rel=1e-12)
        assert y.state.mean == pytest.approx(2 * x.state.mean, rel=1e-12, abs=1e-300)


def test_transposes_do_not_change_statistics():
    class T(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(6, 6)
            self.conv = nn.Conv1d(6, 6, 1)

        def forward(self, x):  # (B, T, d) -> Linear over d -> (B, d, T) -> Conv1d over d
            return self.conv(self.lin(x).transpose(1, 2))

    g = signal_graph(
        T(),
        input_shape=(2, 5, 6),
        inputs=InputStats(c_pos=0.4),
        variances={"lin": (1.0, 0.0, 0.0), "conv": (1.0, 0.0, 0.0)},
    )
    assert g.output.q == pytest.approx(1.0)
    assert g.output.c_pos == pytest.approx(0.4)


# ---------------------------------------------------------------------------------------------
# errors naming the node
# ---------------------------------------------------------------------------------------------


def test_errors_name_the_node():
    class Gate(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x):
            return self.a(x) * torch.sigmoid(self.b(x))

    with pytest.raises(ValueError, match="multiplies two tensors"):
        signal_graph(Gate(), input_shape=(2, 4))

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x):
            y = self.a(x)
            return y + torch.relu(y)

    with pytest.raises(ValueError, match="share their last weight layer"):
        signal_graph(Branchy(), input_shape=(2, 4))
    with pytest.raises(ValueError, match="max pooling"):
        signal_graph(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)), input_shape=(2, 1, 8, 8))
    g = signal_graph(
        nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)),
        input_shape=(2, 1, 8, 8),
        pass_through=("MaxPool2d",),
    )
    assert g.pass_through == ("_1",) and "pass_through" in str(g)
    with pytest.raises(ValueError, match="two activations|non-Gaussian"):
        signal_graph(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Tanh()), input_shape=(2, 4))

    class Untraceable(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x):
            if x.sum() > 0:
                return self.a(x)
            return x

    with pytest.raises(
        ValueError, match=r"cannot be traced by torch.fx at .*test_bridge_graph.py:\d+ \('if x.sum"
    ):
        signal_graph(Untraceable(), input_shape=(2, 4))

    class Wrapped(nn.Module):  # the untraceable part as a declared pass-through submodule
        def __init__(self):
            super().__init__()
            self.inner, self.out = Untraceable(), nn.Linear(4, 4)

        def forward(self, x):
            return self.out(self.inner(x))

    g = signal_graph(Wrapped(), input_shape=(2, 4), pass_through=("inner",))
    assert g.pass_through == ("inner",) and g["out"].state.q > 0
    with pytest.raises(ValueError, match="input_shape"):
        signal_graph(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="does not run"):
        signal_graph(nn.Linear(4, 4), input_shape=(2, 5))
    with pytest.raises(ValueError, match="input_shape"):
        recommend(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True))
    with pytest.raises(ValueError, match="LSTM"):
        signal_graph(nn.Sequential(nn.LSTM(4, 4)), input_shape=(2, 3, 4))
    with pytest.raises(TypeError):
        signal_graph("not a module", input_shape=(2, 4))
    with pytest.raises(ValueError, match="density"):
        recommend_network(nn.Linear(4, 4), input_shape=(2, 4), density=0)
    resnet = nn.Sequential(nn.Linear(4, 8), Block(8), nn.Linear(8, 2))
    with pytest.raises(ValueError, match="contradicts the module, whose graph applies relu"):
        recommend(resnet, "tanh", input_shape=(2, 4))
    assert recommend(resnet, "relu", input_shape=(2, 4)).n_residual == 1
    with pytest.raises(ValueError, match="per_neuron"):
        recommend(resnet, input_shape=(2, 4), per_neuron=True)
    with pytest.raises(ValueError, match="needs density = 1"):
        recommend(resnet, input_shape=(2, 4), weights="isometric", density=0.5)
    with pytest.raises(ValueError, match="torch module"):
        recommend([4, 8, 2], weights="isometric")


# ---------------------------------------------------------------------------------------------
# simulation: wide random modules, theory vs measured forward pass
# ---------------------------------------------------------------------------------------------


def _compare(make, x_of, replicas=4, rel=0.02, abs_c=0.015, k_se=5.0, skip=(), positions_until=None):
    """Mean over replicas of measured vs predicted q, mean and correlations at every node."""
    pred, meas = [], []
    for r in range(replicas):
        torch.manual_seed(1000 + r)
        net = make(r)
        x = x_of(r)
        # the prediction is conditioned on the statistics of the drawn inputs (their empirical correlations
        # fluctuate by O(1 / sqrt(entries)); the theory maps the input's state, not the population's)
        s0 = measure_signal_graph(net, x).nodes[0].state  # None for token ids
        inputs = None
        if s0 is not None:
            c_pos = 0.0 if math.isnan(s0.c_pos) else s0.c_pos
            c_x = 0.0 if math.isnan(s0.c_x) else s0.c_x
            inputs = InputStats(q=s0.q, mean=s0.mean, c=s0.c, c_pos=c_pos, c_x=c_x)
        p = signal_graph(net, x, inputs=inputs)
        m = measure_signal_graph(net, x, like=p)
        pred.append(p)
        meas.append(m)

    def width(state):
        return math.prod(
            n for n, lab in zip(state.shape, state.labels, strict=True) if lab in ("feature", "mixed")
        )

    # narrow read-outs (10 units) are dominated by the draw of their few rows: compared where width >= 128
    names = [
        n.name
        for n in pred[0].nodes
        if n.state is not None and n.name not in skip and (n.op == "input" or width(n.state) >= 128)
    ]
    checked = 0
    beyond = False
    for name in names:
        if any(g[name].state is None for g in meas):  # token ids: not a float tensor
            continue
        for field in ("q", "c", "mean") if beyond else ("q", "c", "c_pos", "c_x", "mean"):
            pv = np.array([getattr(g[name].state, field) for g in pred])
            mv = np.array([getattr(g[name].state, field) for g in meas])
            if np.isnan(pv).any() or np.isnan(mv).any():  # a class the tensor does not have
                continue
            se = mv.std(ddof=1) / math.sqrt(replicas)
            scale = abs(pv.mean()) if field in ("q", "mean") else 1.0
            floor = (
                rel * max(scale, 1e-12)
                if field == "q"
                else abs_c * (math.sqrt(pred[0][name].state.q) if field == "mean" else 1.0)
            )
            err = abs(mv.mean() - pv.mean())
            assert err <= k_se * se + floor, (name, field, pv.mean(), mv.mean(), se)
            checked += 1
        beyond = beyond or name == positions_until
    return checked


class TwoBranches(nn.Module):
    """Two Linear branches of different scales concatenated along the features, then mixed by a Linear."""

    def __init__(self, d):
        super().__init__()
        self.a, self.b, self.mix = nn.Linear(d, d), nn.Linear(d, d // 2), nn.Linear(d + d // 2, d)
        with torch.no_grad():
            self.b.weight.mul_(3.0)

    def forward(self, x):
        return self.mix(torch.cat([self.a(x), self.b(x)], dim=-1))


def test_simulation_mlp_with_dropout_norms_and_concatenation():
    def make(r):
        return nn.Sequential(
            nn.Linear(64, 768),
            nn.Tanh(),
            nn.Dropout(0.3),
            TwoBranches(768),
            nn.LayerNorm(768),
            nn.GELU(),
            nn.Linear(768, 768),
            nn.RMSNorm(768),
            nn.SiLU(),
            nn.Linear(768, 768),
        ).train()

    assert _compare(make, lambda r: torch.randn(16, 64)) > 30


def test_simulation_embedding_with_positions_and_attention():
    class Tokens(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 512)
            self.pos = nn.Parameter(torch.randn(8, 512) * 0.5)
            self.attn = nn.MultiheadAttention(512, 4, batch_first=True)

        def forward(self, ids):
            x = self.emb(ids) + self.pos
            return x + self.attn(x, x, x, need_weights=False)[0]

    # the ids are drawn uniformly: two positions (or inputs) hold the same token with probability 1/50
    assert _compare(lambda r: Tokens(), lambda r: torch.randint(0, 50, (8, 8)), replicas=6, abs_c=0.02) > 10


def test_simulation_residual_mlp_recommended():
    def make(r):
        net = nn.Sequential(nn.Linear(32, 512), *[Block(512) for _ in range(6)], nn.Linear(512, 10))
        return apply_to(net, recommend(net, input_shape=(16, 32)), rng=r)

    assert _compare(make, lambda r: torch.randn(16, 32)) > 40


def test_simulation_cnn_blocks():
    class ConvBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c1 = nn.Conv2d(c, c, 3, padding=1, padding_mode="circular", groups=4)
            self.bn = nn.BatchNorm2d(c)
            self.c2 = nn.Conv2d(c, c, 3, padding=1, padding_mode="circular", groups=c)  # depthwise
            self.c3 = nn.Conv2d(c, c, 1)

        def forward(self, x):
            return x + self.c3(F.relu(self.c2(F.relu(self.bn(self.c1(x))))))

    def make(r):
        return nn.Sequential(
            nn.Conv2d(3, 512, 3, padding=1, padding_mode="circular"),
            ConvBlock(512),
            nn.GroupNorm(8, 512),
            nn.Tanh(),
            nn.AvgPool2d(2),
            nn.Conv2d(512, 512, 1),
            nn.InstanceNorm2d(512),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(512, 10),
        ).train()

    assert _compare(make, lambda r: torch.randn(8, 3, 16, 16), replicas=3) > 40


def test_simulation_conv1d_and_transposed():
    def make(r):
        return nn.Sequential(
            nn.Conv1d(4, 512, 5, padding=2, padding_mode="circular"),
            nn.ReLU(),
            nn.ConvTranspose1d(512, 512, 4, stride=2, padding=1),
            nn.Tanh(),
            nn.Conv1d(512, 512, 1),
            nn.ReLU(),
            nn.Conv1d(512, 8, 1),
        )

    # after the strided transposed convolution even and odd outputs read different taps, so the pairs of
    # positions are no longer exchangeable (the table notes it): position correlations are compared up to it
    assert _compare(make, lambda r: torch.randn(8, 4, 16), replicas=3, positions_until="2") > 20
    g = signal_graph(make(0), input_shape=(2, 4, 16))
    assert any("transposed" in n for n in g.notes)


# ---------------------------------------------------------------------------------------------
# attention: MultiheadAttention, TransformerEncoderLayer, scaled_dot_product_attention
# ---------------------------------------------------------------------------------------------


class SelfAttention(nn.Module):
    """A user's attention block written with F.scaled_dot_product_attention and head reshapes."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))

    def forward(self, x):
        B, T, d = x.shape
        h = self.heads

        def split(t):
            return t.view(B, T, h, d // h).transpose(1, 2)

        y = F.scaled_dot_product_attention(split(self.q(x)), split(self.k(x)), split(self.v(x)))
        return x + self.o(y.transpose(1, 2).reshape(B, T, d))


class MHABlock(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.inp = nn.Linear(d, d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)

    def forward(self, x):
        x = self.inp(x)
        return x + self.attn(x, x, x, need_weights=False)[0]


def _tokens(r, B=8, T=8, d=64, c_pos=0.4):
    g = torch.Generator().manual_seed(r)
    shared = torch.randn(B, 1, d, generator=g)
    return math.sqrt(c_pos) * shared + math.sqrt(1 - c_pos) * torch.randn(B, T, d, generator=g)


def test_simulation_multihead_attention():
    def make(r):
        net = MHABlock(512, 4)
        with torch.no_grad():  # logits of variance ~ 1.5: a softmax far from uniform
            net.attn.in_proj_weight[:1024] *= 2.0
        return net

    assert _compare(make, lambda r: _tokens(r, d=512), replicas=6) > 15


def test_simulation_scaled_dot_product_attention():
    def make(r):
        net = nn.Sequential(nn.Linear(64, 512), SelfAttention(512, 4))
        return apply_to(net, recommend(net, input_shape=(8, 8, 64)), rng=r)

    assert _compare(make, lambda r: _tokens(r), replicas=6) > 20


@pytest.mark.parametrize("norm_first", [False, True])
def test_simulation_transformer_encoder_layer(norm_first):
    def make(r):
        layer = nn.TransformerEncoderLayer(512, 4, 1024, dropout=0.0, batch_first=True, norm_first=norm_first)
        net = nn.Sequential(nn.Linear(64, 512), layer)
        return apply_to(net, recommend(net, input_shape=(8, 8, 64)), rng=r)

    assert _compare(make, lambda r: _tokens(r), replicas=4) > 30


def test_attention_recommendation_sets_unit_logits_and_keeps_q():
    from cascades.nn import attention_propagate

    net = nn.Sequential(nn.Linear(16, 32), MHABlock(32, 4))
    rec = recommend(net, input_shape=(4, 6, 16), logit_variance=1.5)
    lay = rec["1.attn"]
    sq, sk, sv, so = lay.detail
    assert sq == sk and sq * sk * lay.q_in**2 == pytest.approx(1.5, rel=1e-12)
    node = rec.signal["1.attn"]
    assert "logit variance 1.5" in node.note
    # value/output scale: the attention output keeps q (times beta^2 = 1 / L for the one residual addition)
    s_in = rec.signal["1.inp"].state
    st = attention_propagate(
        s_in.q,
        s_in.c_pos,
        c=s_in.c,
        c_x=s_in.c_x,
        seq_len=6,
        sigma_q2=sq,
        sigma_k2=sk,
        sigma_v2=sv,
        sigma_o2=so,
    )
    assert st.q == pytest.approx(s_in.q, rel=1e-9)
    assert rec.n_residual == 1 and node.state.q == pytest.approx(s_in.q, rel=1e-9)


def test_transformer_errors_name_the_node():
    class Causal(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x, is_causal=True, attn_mask=torch.ones(3, 3).triu(1).bool())[0]

    with pytest.raises(ValueError, match="masked|causal"):
        signal_graph(Causal(), input_shape=(2, 3, 8))

    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

        def forward(self, x):
            return self.attn(self.a(x), self.b(x), self.b(x))[0]

    with pytest.raises(ValueError, match="cross-attention"):
        signal_graph(Cross(), input_shape=(2, 3, 8))

    class SeqFirst(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2)

        def forward(self, x):
            return self.attn(x, x, x)[0]

    with pytest.raises(ValueError, match="batch_first"):
        signal_graph(SeqFirst(), input_shape=(3, 2, 8))


def test_isometric_recommendation_of_a_50_block_relu_resnet():
    # the acceptance check of issue 16 through the user-facing path: recommend(..., weights="isometric")
    net = nn.Sequential(nn.Linear(64, 64), *[Block(64) for _ in range(50)], nn.Linear(64, 64)).double()
    rec = recommend(net, input_shape=(2, 64), weights="isometric")
    assert dict(rec.schemes)["1.fc1"] == "risotto" and dict(rec.schemes)["0"] == "orthogonal"
    assert any("singular values are all 1" in n for n in rec.notes)
    apply_to(net, rec, rng=3)
    x = torch.randn(64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    jac = torch.autograd.functional.jacobian(lambda v: net(v[None])[0], x)
    s = torch.linalg.svdvals(jac)
    assert float((s - 1).abs().max()) < 1e-5
    # the default (Gaussian) recommendation is far from isometric: its spread is what RISOTTO removes
    gauss = nn.Sequential(nn.Linear(64, 64), *[Block(64) for _ in range(50)], nn.Linear(64, 64)).double()
    apply_to(gauss, recommend(gauss, input_shape=(2, 64)), rng=3)
    sg = torch.linalg.svdvals(torch.autograd.functional.jacobian(lambda v: gauss(v[None])[0], x))
    assert float(sg.max() / sg.min()) > 10


@pytest.mark.parametrize("style", ["arange", "buffer", "expand"])
def test_positional_embeddings(style):
    class Tokens(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pe = nn.Embedding(40, 512), nn.Embedding(8, 512)
            self.register_buffer("positions", torch.arange(8))
            self.attn = nn.MultiheadAttention(512, 4, batch_first=True)

        def forward(self, ids):
            if style == "arange":
                pos = self.pe(torch.arange(ids.shape[1], device=ids.device))
            elif style == "buffer":
                pos = self.pe(self.positions)
            else:
                pos = self.pe(torch.arange(ids.shape[1]).unsqueeze(0).expand(ids.shape[0], -1))
            x = self.tok(ids) + pos
            return x + self.attn(x, x, x, need_weights=False)[0]

    rec = recommend(Tokens(), input_shape=(4, 8))
    assert rec.n_residual == 1 and rec["pe"].role == "embedding"  # the positional add is a shift
    g = signal_graph(Tokens(), input_shape=(4, 8))
    assert g["pe"].state.c == 1.0  # the same rows for every input
    assert _compare(lambda r: Tokens(), lambda r: torch.randint(0, 40, (8, 8)), replicas=4, abs_c=0.02) > 10


def test_measuring_leaves_batchnorm_statistics_alone():
    net = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU()).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    measure_signal_graph(net, torch.randn(32, 8))
    signal_graph(net, input_shape=(32, 8))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
