"""Tests of cascades.bridge.isometric: exact dynamical isometry at init for ReLU chains and residual nets."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cascades.bridge.isometric import IsometricInit, isometric_init  # noqa: E402

nn = torch.nn


# ---------------------------------------------------------------------------------------------
# architectures
# ---------------------------------------------------------------------------------------------

class Block(nn.Module):
    """x + fc2(relu(fc1(x))), optionally with a projection on the skip."""

    def __init__(self, d, hidden, d_out=None, act=None, dtype=None):
        super().__init__()
        d_out = d if d_out is None else d_out
        self.fc1 = nn.Linear(d, hidden, dtype=dtype)
        self.act = nn.ReLU() if act is None else act
        self.fc2 = nn.Linear(hidden, d_out, dtype=dtype)
        self.proj = nn.Linear(d, d_out, dtype=dtype) if d_out != d else None

    def forward(self, x):
        skip = x if self.proj is None else self.proj(x)
        return skip + self.fc2(self.act(self.fc1(x)))


class ResMLP(nn.Module):
    def __init__(self, depth=50, width=64, hidden=64, stem_relu=False, project_at=None, wide=96,
                 dtype=torch.float64):
        super().__init__()
        self.stem = nn.Linear(width, width, dtype=dtype)
        self.stem_act = nn.ReLU() if stem_relu else nn.Identity()
        blocks, d = [], width
        for i in range(depth):
            d_out = wide if i == project_at else d
            blocks.append(Block(d, hidden, d_out, dtype=dtype))
            d = d_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(d, width, dtype=dtype)

    def forward(self, x):
        return self.head(self.blocks(self.stem_act(self.stem(x))))


def _svals(net, x):
    J = torch.autograd.functional.jacobian(net, x, vectorize=True)
    J = J.reshape(int(np.prod(J.shape[: J.dim() // 2])), -1)
    return torch.linalg.svdvals(J.double()).numpy()


def _max_dev(net, x):
    return float(np.max(np.abs(_svals(net, x) - 1)))


# ---------------------------------------------------------------------------------------------
# acceptance: 50-block ReLU residual MLPs
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("hidden", [64, 128])
def test_residual_mlp_is_exactly_isometric(hidden):
    net = ResMLP(hidden=hidden)
    rep = isometric_init(net, rng=0)
    assert isinstance(rep, IsometricInit) and rep.isometric and rep.reason is None
    assert len(rep.blocks) == 50 and all(b.isometric and b.skip is None for b in rep.blocks)
    assert rep.blocks[0].rotated == min(hidden // 2, 64)
    sch = rep.schemes
    assert sch["stem"] == sch["head"] == "orthogonal"
    assert sch["blocks.0.fc1"] == sch["blocks.49.fc2"] == "risotto"
    x = torch.randn(64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    assert _max_dev(net, x) < 1e-5


def test_residual_mlp_float32():
    net = ResMLP(dtype=torch.float32)
    assert isometric_init(net, rng=0).isometric
    assert net.head.weight.dtype == torch.float32
    assert _max_dev(net, torch.randn(64)) < 1e-4


def test_projection_skip_expand_then_contract():
    net = ResMLP(project_at=25, wide=96)
    rep = isometric_init(net, rng=3)
    assert rep.isometric, rep.reason
    assert rep.blocks[25].skip == "blocks.25.proj" and rep.schemes["blocks.25.proj"] == "risotto-skip"
    assert rep.blocks[24].skip is None
    # 64 -> 96 -> 64: exact only because the frames are aligned
    assert _max_dev(net, torch.randn(64, dtype=torch.float64)) < 1e-5


def test_relu_stem_is_reported_not_isometric():
    net = ResMLP(depth=3, stem_relu=True)
    rep = isometric_init(net, rng=0)
    assert not rep.isometric
    assert "ReLU" in rep.reason and "'stem_act'" in rep.reason and "'stem'" in rep.reason
    assert any("blocks.0.fc1" in n and "ReLU" in n for n in rep.notes)
    assert rep.schemes["blocks.0.fc1"] == "risotto"   # the blocks themselves are still RISOTTO
    s = _svals(net, torch.randn(64, dtype=torch.float64))
    assert np.isclose(s, 1, atol=1e-6).sum() < 64 and np.all(s < 1 + 1e-6)
    with pytest.raises(ValueError, match="strict=True.*ReLU 'stem_act'"):
        isometric_init(ResMLP(depth=3, stem_relu=True), rng=0, strict=True)


# ---------------------------------------------------------------------------------------------
# looks-linear chains and convolutions
# ---------------------------------------------------------------------------------------------

def test_looks_linear_mlp():
    net = nn.Sequential(nn.Linear(20, 40), nn.ReLU(), nn.Linear(40, 60), nn.ReLU(),
                        nn.Linear(60, 20)).double()
    rep = isometric_init(net, rng=1)
    assert rep.isometric and set(rep.schemes.values()) == {"looks-linear"}
    W1, W2 = net[0].weight.detach().numpy(), net[2].weight.detach().numpy()
    assert np.allclose(W1[:20], -W1[20:]) and np.allclose(W2[:30, :20], -W2[:30, 20:])
    assert _max_dev(net, torch.randn(20, dtype=torch.float64)) < 1e-10
    # an expanding then contracting chain with a functional ReLU
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(10, 60, dtype=torch.float64), nn.Linear(60, 4, dtype=torch.float64)

        def forward(self, x):
            return self.b(torch.nn.functional.relu(self.a(x)))
    net = Net()
    assert isometric_init(net, rng=0).isometric
    assert _max_dev(net, torch.randn(10, dtype=torch.float64)) < 1e-10


def test_bottleneck_reported():
    net = nn.Sequential(nn.Linear(16, 8), nn.Linear(8, 16)).double()
    rep = isometric_init(net, rng=0)
    assert not rep.isometric and "narrow to 8" in rep.reason
    assert rep.schemes == {"0": "orthogonal", "1": "orthogonal"}


class ConvBlock(nn.Module):
    def __init__(self, c, hidden):
        super().__init__()
        kw = dict(kernel_size=3, padding=1, padding_mode="circular", dtype=torch.float64)
        self.conv1, self.conv2 = nn.Conv2d(c, hidden, **kw), nn.Conv2d(hidden, c, **kw)

    def forward(self, x):
        out = self.conv2(torch.relu(self.conv1(x)))
        out += x
        return out


def test_conv_residual_block():
    net = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, padding_mode="circular", dtype=torch.float64),
                        ConvBlock(8, 16), ConvBlock(8, 8),
                        nn.Conv2d(8, 8, 1, dtype=torch.float64))
    rep = isometric_init(net, rng=0)
    assert rep.isometric, rep.reason
    assert rep.schemes["0"] == "delta-orthogonal" and rep.schemes["1.conv1"] == "risotto"
    k = net[1].conv1.weight.detach()
    assert torch.count_nonzero(k[:, :, 0]) == 0 and torch.count_nonzero(k[:, :, 1, 1]) > 0
    x = torch.randn(1, 8, 6, 6, dtype=torch.float64)
    assert _max_dev(net, x) < 1e-10


def test_conv_looks_linear_chain_zero_padding():
    net = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 4, 5, padding="same")).double()
    assert isometric_init(net, rng=0).isometric
    assert _max_dev(net, torch.randn(1, 4, 5, 5, dtype=torch.float64)) < 1e-10


# ---------------------------------------------------------------------------------------------
# invariants of the construction
# ---------------------------------------------------------------------------------------------

def _block_matrices(block):
    W1 = block.fc1.weight.detach().numpy()
    W2 = block.fc2.weight.detach().numpy()
    h = W1.shape[0] // 2
    return W1[:h], W2[:, :h]


@pytest.mark.parametrize("hidden", [16, 32, 64])
def test_block_is_identity_plus_partial_rotation(hidden):
    d = 32
    net = nn.Sequential(Block(d, hidden, dtype=torch.float64), Block(d, hidden, dtype=torch.float64))
    isometric_init(net, rng=5)
    blk = net[0]
    assert torch.count_nonzero(blk.fc1.bias) == 0 and torch.count_nonzero(blk.fc2.bias) == 0
    W0, U = _block_matrices(blk)
    A = U @ W0
    B = np.eye(d) + A
    # the function at init is the linear map B x
    x = torch.randn(7, d, dtype=torch.float64)
    assert np.allclose(blk(x).detach().numpy(), x.numpy() @ B.T, atol=1e-12)
    assert np.allclose(B.T @ B, np.eye(d), atol=1e-12)
    # A = V C V^T: a partial isometry of rank r with A^T A = V V^T, the projection on the rotated subspace
    r = min(hidden // 2, d) // 2 * 2
    P = A.T @ A
    assert np.allclose(P @ P, P, atol=1e-12) and round(np.trace(P)) == r
    # balance: ||branch(x)|| = ||x|| for x in the rotated subspace, rotation angle pi/3 of the block
    z = P @ np.random.default_rng(0).standard_normal(d)
    zt = torch.from_numpy(z)
    branch = blk.fc2(blk.act(blk.fc1(zt))).detach().numpy()
    assert np.isclose(np.linalg.norm(branch), np.linalg.norm(z), rtol=1e-12)
    assert np.isclose(z @ (B @ z) / (z @ z), 0.5, atol=1e-12)   # cos(pi/3)
    # directions outside the rotated subspace pass the block unchanged
    assert np.allclose(A @ (np.eye(d) - P), 0, atol=1e-12)


def test_seeded_reproducibility():
    def weights(rng):
        net = ResMLP(depth=2, width=16, hidden=16)
        isometric_init(net, rng=rng)
        return torch.cat([p.detach().flatten() for p in net.parameters()])

    assert torch.equal(weights(7), weights(7))
    assert not torch.allclose(weights(7), weights(8))
    g = np.random.default_rng(3)
    assert not torch.equal(weights(g), weights(g))   # a Generator advances


def test_dtype_and_device_preserved():
    net = ResMLP(depth=2, width=16, hidden=16, dtype=torch.float32)
    net.head.to(torch.float64)
    isometric_init(net, rng=0)
    assert net.stem.weight.dtype == torch.float32 and net.head.weight.dtype == torch.float64
    assert all(p.device.type == "cpu" for p in net.parameters())
    ref = ResMLP(depth=2, width=16, hidden=16, dtype=torch.float64)
    isometric_init(ref, rng=0)
    assert torch.allclose(net.blocks[0].fc1.weight.double(), ref.blocks[0].fc1.weight, atol=1e-7)


def test_meta_device_structure_only_then_values():
    with torch.device("meta"):
        net = ResMLP(depth=2, width=16, hidden=16)
    rep = isometric_init(net, rng=0)
    assert not rep.drawn and rep.isometric and rep.schemes["blocks.1.fc2"] == "risotto"
    assert "not drawn" in str(rep)
    net = net.to_empty(device="cpu")
    rep = isometric_init(net, rng=0)
    assert rep.drawn
    ref = ResMLP(depth=2, width=16, hidden=16)
    isometric_init(ref, rng=0)
    for p, q in zip(net.parameters(), ref.parameters(), strict=True):
        assert torch.equal(p, q)


def test_pruned_layer_unpruned():
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8)).double()
    torch.nn.utils.prune.random_unstructured(net[0], "weight", amount=0.5)
    assert isometric_init(net, rng=0).isometric
    assert not hasattr(net[0], "weight_mask")
    assert _max_dev(net, torch.randn(8, dtype=torch.float64)) < 1e-10


def test_report_table():
    rep = isometric_init(ResMLP(depth=2, width=16, hidden=16), rng=0)
    text = str(rep)
    assert "blocks.0.fc1" in text and "risotto" in text and "isometric: yes" in text
    assert "block blocks.1.fc1 -> relu -> blocks.1.fc2, skip identity" in text
    with pytest.raises(Exception):  # noqa: B017 - frozen dataclass
        rep.isometric = False


# ---------------------------------------------------------------------------------------------
# non-isometric and bad input
# ---------------------------------------------------------------------------------------------

def test_tanh_branch_reported_or_strict_error():
    net = nn.Sequential(Block(16, 16, act=nn.Tanh()), nn.Linear(16, 16))
    rep = isometric_init(net, rng=0)
    assert not rep.isometric and "tanh" in rep.reason and "orthogonal weights only" in rep.reason
    assert rep.blocks[0].activation == "tanh" and not rep.blocks[0].isometric
    assert rep.schemes["0.fc1"] == "orthogonal"
    before = net[0].fc1.weight.detach().clone()
    with pytest.raises(ValueError, match="strict=True.*tanh branch"):
        isometric_init(net, rng=1, strict=True)
    assert torch.equal(before, net[0].fc1.weight)   # nothing changed


def test_not_a_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        isometric_init([nn.Linear(2, 2)])


def test_odd_hidden_width_names_layer():
    with pytest.raises(ValueError, match=r"'0\.fc1' has 15 outputs.*even hidden width"):
        isometric_init(nn.Sequential(Block(16, 15)))
    with pytest.raises(ValueError, match=r"'0' has 7 outputs"):
        isometric_init(nn.Sequential(nn.Linear(4, 7), nn.ReLU(), nn.Linear(7, 4)))


def test_untraceable_module_names_op():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            if x.sum() > 0:
                return self.fc(x)
            return x

    with pytest.raises(ValueError, match=r"cannot trace Branchy.*if x\.sum\(\) > 0.*control flow"):
        isometric_init(Branchy())


def test_unsupported_layers():
    with pytest.raises(ValueError, match=r"'1' \(Conv2d\) has kernel size \(2, 2\)"):
        isometric_init(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 2)))
    with pytest.raises(ValueError, match=r"'0' \(Conv2d\) has padding.*'same'"):
        isometric_init(nn.Sequential(nn.Conv2d(3, 3, 3)))
    with pytest.raises(ValueError, match=r"'0' of type Embedding.*supports Linear, Conv1d"):
        isometric_init(nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 4)))
    with pytest.raises(ValueError, match="no Linear or Conv layer"):
        isometric_init(nn.Sequential(nn.ReLU()))


def test_other_structures_reported():
    rep = isometric_init(nn.Sequential(nn.Linear(8, 8), nn.LayerNorm(8), nn.Linear(8, 8)), rng=0)
    assert not rep.isometric and "LayerNorm" in rep.reason

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

        def forward(self, x):
            return x + 0.5 * self.b(torch.relu(self.a(x)))

    rep = isometric_init(Scaled(), rng=0)
    assert not rep.isometric and "not a residual block" in rep.reason
    assert rep.schemes == {"a": "looks-linear", "b": "looks-linear"}

    class Strided(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(4, 8, 3, padding=1, stride=2)

        def forward(self, x):
            return self.c(x)

    rep = isometric_init(Strided(), rng=0)
    assert not rep.isometric and "stride (2, 2)" in rep.reason

    flat = nn.Sequential(nn.Flatten(), nn.Linear(12, 12), nn.Dropout(0.1), nn.Linear(12, 6)).double()
    rep = isometric_init(flat, rng=0)
    assert rep.isometric and any("dropout" in n for n in rep.notes)
    flat.eval()
    assert _max_dev(flat, torch.randn(1, 3, 4, dtype=torch.float64)) < 1e-10


class AddForms(nn.Module):
    """torch.add / Tensor.add / in-place ReLU, a block of odd width, a narrow branch."""

    def __init__(self, d, hidden, form):
        super().__init__()
        self.a, self.r, self.b = nn.Linear(d, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, d)
        self.form = form

    def forward(self, x):
        y = self.b(self.r(self.a(x)))
        return torch.add(x, y) if self.form else y.add(x)


@pytest.mark.parametrize("d, hidden, rotated", [(7, 16, 6), (16, 6, 2), (16, 2, 0)])
def test_add_forms_odd_width_narrow_branch(d, hidden, rotated):
    net = nn.Sequential(AddForms(d, hidden, 0), AddForms(d, hidden, 1)).double()
    rep = isometric_init(net, rng=0)
    assert rep.isometric and [b.rotated for b in rep.blocks] == [rotated, rotated]
    assert any("zero at initialization" in n for n in rep.notes) == (rotated == 0)
    assert _max_dev(net, torch.randn(d, dtype=torch.float64)) < 1e-12


def test_more_reports_and_errors():
    class Down(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(4, 8, 3, padding=1, stride=2), nn.Conv2d(8, 8, 3, padding=1)
            self.p = nn.Conv2d(4, 8, 1, stride=2)

        def forward(self, x):
            return self.p(x) + self.b(torch.relu(self.a(x)))

    rep = isometric_init(Down(), rng=0)
    assert not rep.isometric and "'a' has stride (2, 2)" in rep.reason and not rep.blocks[0].isometric
    assert rep.schemes == {"a": "risotto", "b": "risotto", "p": "risotto-skip"}

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x, y):
            return self.a(x) + y

    assert "takes 2 inputs" in isometric_init(Two(), rng=0).reason

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x):
            return self.a(self.a(x))

    with pytest.raises(ValueError, match="'a' is called more than once"):
        isometric_init(Shared())
    late = nn.Sequential(nn.Linear(4, 4), nn.Flatten(), nn.Linear(4, 4))
    assert "reshapes are handled before the first weight layer" in isometric_init(late, rng=0).reason
    with pytest.raises(ValueError, match=r"'0' \(Conv2d\) has groups=2"):
        isometric_init(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=2)))
    wn = nn.Sequential(torch.nn.utils.parametrizations.weight_norm(nn.Linear(4, 4)))
    with pytest.raises(ValueError, match="'0' has a reparametrised weight"):
        isometric_init(wn)


def test_single_layer_module():
    lin = nn.Linear(4, 6, dtype=torch.float64)
    rep = isometric_init(lin, rng=0)
    assert rep.isometric and rep.schemes == {"": "orthogonal"} and "(root)" in str(rep)
    assert torch.allclose(lin.weight.T @ lin.weight, torch.eye(4, dtype=torch.float64))
    assert torch.count_nonzero(lin.bias) == 0
