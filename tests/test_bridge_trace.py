"""Tests of cascades.bridge.trace.read_module: layers in forward order and the activation after each."""

import warnings

import pytest

torch = pytest.importorskip("torch")

import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from cascades.bridge.topology import LayerShape  # noqa: E402
from cascades.bridge.trace import ModuleLayers, read_module  # noqa: E402

# (module form, functional form, registry name)
ACTIVATIONS = [
    (nn.ReLU(), F.relu, "relu"),
    (nn.ReLU(inplace=True), lambda x: F.relu(x, inplace=True), "relu"),
    (None, torch.relu, "relu"),
    (None, lambda x: x.relu(), "relu"),
    (None, torch.relu_, "relu"),
    (nn.LeakyReLU(), F.leaky_relu, "leaky_relu"),
    (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2), "leaky_relu(0.2)"),
    (None, lambda x: F.leaky_relu(x, negative_slope=0.2, inplace=True), "leaky_relu(0.2)"),
    (nn.ELU(), F.elu, "elu"),
    (nn.ELU(alpha=0.5), lambda x: F.elu(x, 0.5), "elu(0.5)"),
    (nn.SELU(), F.selu, "selu"),
    (nn.GELU(), F.gelu, "gelu"),
    (nn.GELU(approximate="tanh"), lambda x: F.gelu(x, approximate="tanh"), "gelu_tanh"),
    (nn.SiLU(), F.silu, "silu"),
    (nn.Tanh(), torch.tanh, "tanh"),
    (None, lambda x: x.tanh_(), "tanh"),
    (nn.Sigmoid(), torch.sigmoid, "sigmoid"),
    (None, lambda x: x.sigmoid(), "sigmoid"),
    (nn.Hardtanh(), F.hardtanh, "hardtanh"),
]


class Functional(nn.Module):
    """Linear -> act(.) -> Linear, the activation called as a function in forward."""

    def __init__(self, act):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.fc2 = nn.Linear(8, 3)
        self.act = act

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


@pytest.mark.parametrize("module,func,name", ACTIVATIONS)
def test_activations_module_and_functional_forms(module, func, name):
    if module is not None:
        layers = read_module(nn.Sequential(nn.Linear(6, 8), module, nn.Linear(8, 8), module, nn.Linear(8, 3)))
        assert layers.names == ("0", "2", "4")
        assert layers.activations == (name, name, None)
        assert layers.traced
    layers = read_module(Functional(func))
    assert layers.names == ("fc1", "fc2") and layers.activations == (name, None)
    assert layers.shapes == (LayerShape("linear", 6, 8), LayerShape("linear", 8, 3))


def test_names_known_to_the_theory():
    from cascades.nn import get_activation

    for name in sorted({a[2] for a in ACTIVATIONS} | {"linear"}):
        assert get_activation(name).name == name


def test_cnn_with_pooling_and_flatten():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 10))
    layers = read_module(net)
    assert layers.shapes == (LayerShape("conv2d", 1, 4, (3, 3)), LayerShape("linear", 36, 10))
    assert layers.activations == ("relu", None)
    assert layers.ops[0] == ("MaxPool2d '2'", "Flatten '3'")


def test_transparent_ops_in_forward():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.fc = nn.Linear(18, 4)

        def forward(self, x):
            h = F.avg_pool2d(F.gelu(self.conv(x)), 2)
            h = F.dropout(h.contiguous(), 0.1, self.training)
            h = h.view(h.size(0), -1)  # size used for the shape only
            return self.fc(h.reshape(h.shape[0], -1))

    layers = read_module(Net())
    assert layers.activations == ("gelu", None) and layers.traced


def test_terminal_softmax_is_a_readout():
    for last in (nn.Softmax(dim=1), nn.LogSoftmax(dim=1)):
        layers = read_module(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), last))
        assert layers.activations == ("tanh", None)

    class Net(Functional):
        def forward(self, x):
            return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)

    assert read_module(Net(None)).activations == ("relu", None)
    with pytest.raises(ValueError, match="softmax between layers"):
        read_module(nn.Sequential(nn.Linear(4, 8), nn.Softmax(dim=1), nn.Linear(8, 3)))


def test_last_activation_kept():
    # a network whose last layer has an activation (e.g. sigmoid outputs) is not a read-out
    layers = read_module(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid()))
    assert layers.activations == ("relu", "sigmoid")


def test_two_linear_layers_in_a_row():
    layers = read_module(nn.Sequential(nn.Linear(4, 8), nn.Identity(), nn.Linear(8, 8), nn.ReLU(),
                                       nn.Linear(8, 2)))
    assert layers.activations == ("linear", "relu", None)


def test_forward_order_not_definition_order():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.Linear(8, 2)
            self.a = nn.Linear(4, 8)

        def forward(self, x):
            return self.b(torch.tanh(self.a(x)))

    layers = read_module(Net())
    assert layers.names == ("a", "b") and layers.activations == ("tanh", None)


def test_in_place_statement():
    class Net(Functional):
        def forward(self, x):
            h = self.fc1(x)
            F.relu(h, inplace=True)  # result not assigned: h itself is activated
            return self.fc2(h)

    assert read_module(Net(None)).activations == ("relu", None)


@pytest.mark.parametrize("act,name", [
    (nn.Softplus(), "Softplus"), (nn.Mish(), "Mish"), (nn.PReLU(), "PReLU"), (nn.Softsign(), "Softsign"),
    (nn.ReLU6(), "ReLU6"),
])
def test_unknown_activation_module_named(act, name):
    with pytest.raises(ValueError, match=name) as info:
        read_module(nn.Sequential(nn.Linear(4, 8), act, nn.Linear(8, 2)))
    assert "known: ReLU" in str(info.value)


def test_unknown_functional_and_custom_activation_named():
    with pytest.raises(ValueError, match="softplus"):
        read_module(Functional(F.softplus))

    class Swish(nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(x)

    with pytest.raises(ValueError, match="'1' of type Swish.*known: ReLU"):
        read_module(nn.Sequential(nn.Linear(4, 8), Swish(), nn.Linear(8, 2)))


def test_hardtanh_bounds_and_gelu_checked():
    with pytest.raises(ValueError, match=r"bounds \(-2, 2\)"):
        read_module(nn.Sequential(nn.Linear(4, 8), nn.Hardtanh(-2.0, 2.0), nn.Linear(8, 2)))
    with pytest.raises(ValueError, match="bounds"):
        read_module(Functional(lambda x: F.hardtanh(x, 0.0, 1.0)))


def test_non_transparent_op_named_with_layer():
    with pytest.raises(ValueError, match=r"operator\.mul sits between layer 'fc1' and its activation.*"
                                         r"activation="):
        read_module(Functional(lambda x: torch.relu(x * 2)))


def test_residual_and_branching_are_not_supported_yet():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(8, 8)
            self.b = nn.Linear(8, 8)

        def forward(self, x):
            return x + self.b(torch.relu(self.a(x)))

    with pytest.raises(ValueError, match="residual.*not supported by recommend yet"):
        read_module(Residual())

    class Skip(Residual):
        def forward(self, x):
            h = torch.relu(self.a(x))
            return self.b(h) + h

    with pytest.raises(ValueError, match="used 2 times.*not supported by recommend yet"):
        read_module(Skip())

    class Concat(Residual):
        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], dim=1)

    with pytest.raises(ValueError, match="not supported by recommend yet"):
        read_module(Concat())


@pytest.mark.parametrize("norm", [nn.BatchNorm1d(8), nn.LayerNorm(8)])
def test_normalization_not_supported_yet(norm):
    with pytest.raises(ValueError, match=f"{type(norm).__name__}.*not supported by recommend yet"):
        read_module(nn.Sequential(nn.Linear(4, 8), norm, nn.ReLU(), nn.Linear(8, 2)))


def test_untraceable_module_falls_back_to_module_order():
    class Dynamic(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 8)
            self.act = nn.Tanh()
            self.fc2 = nn.Linear(8, 8)
            self.fc3 = nn.Linear(8, 2)

        def forward(self, x):
            if x.sum() > 0:  # data-dependent control flow: symbolic tracing fails
                x = -x
            return self.fc3(torch.relu(self.fc2(self.act(self.fc1(x)))))

    with pytest.warns(UserWarning, match="could not trace.*functional activations"):
        layers = read_module(Dynamic())
    assert not layers.traced
    assert layers.names == ("fc1", "fc2", "fc3")
    # module order sees the Tanh module but not the functional relu
    assert layers.activations == ("tanh", "linear", None)


def test_single_layer_and_no_weight_layer():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layers = read_module(nn.Linear(3, 2))
    assert layers.names == ("",) and layers.activations == (None,)
    with pytest.raises(ValueError, match="no Linear or Conv2d"):
        read_module(nn.Sequential(nn.ReLU(), nn.Flatten()))
    with pytest.raises(TypeError, match="torch.nn.Module"):  # a wrong kind of object (issue 15)
        read_module([3, 2])


def test_weight_sharing_and_unused_layers():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            return self.fc(torch.relu(self.fc(x)))

    with pytest.raises(ValueError, match="called 2 times"):
        read_module(Shared())

    class Unused(Shared):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(x)

    with pytest.raises(ValueError, match="'head'.*never called"):
        read_module(Unused())


def test_module_layers_validation():
    with pytest.raises(ValueError, match="one entry per layer"):
        ModuleLayers(names=("a",), shapes=(), activations=(None,), traced=True)


def test_in_place_module_statement_and_discarded_activation():
    class Net(nn.Module):
        def __init__(self, act):
            super().__init__()
            self.fc1 = nn.Linear(4, 8)
            self.act = act
            self.fc2 = nn.Linear(8, 2)

        def forward(self, x):
            h = self.fc1(x)
            self.act(h)  # in place: activates h; otherwise: a discarded result
            return self.fc2(h)

    assert read_module(Net(nn.ReLU(inplace=True))).activations == ("relu", None)
    with pytest.raises(ValueError, match="used 2 times"):
        read_module(Net(nn.Tanh()))
