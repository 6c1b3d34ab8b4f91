"""`cascades recommend --model FILE.py:FUNCTION --input-shape ...`: the per-node table of any architecture."""

import json
import math

import pytest

from cascades.cli import main

torch = pytest.importorskip("torch")

_MODELS = """
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        return x + self.fc2(nn.functional.relu(self.fc1(x)))


def resmlp():
    return nn.Sequential(nn.Linear(16, 32), *[Block(32) for _ in range(3)], nn.Linear(32, 4))


def cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 10))
"""


@pytest.fixture
def models(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(_MODELS)
    return path


def test_per_node_table_agrees_with_its_header(models, capsys):
    assert (
        main(["recommend", "--model", f"{models}:resmlp", "--input-shape", "8,16", "--density", "0.5"]) == 0
    )
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    assert "3 residual additions" in header and f"branch scale {1 / math.sqrt(3):.4g}" in header
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("1.fc2", "2.fc2"))}
    # the branch rows: sigma_w2 = 2 beta^2 = 2 / 3 in the layer table (column 6)
    assert all(float(r[5]) == pytest.approx(2 / 3, rel=1e-3) for r in rows.values() if r[2] == "branch")
    assert "predicted signal per node" in out and "residual add" in out


def test_json_and_cnn(models, capsys):
    assert (
        main(
            [
                "recommend",
                "--model",
                f"{models}:cnn",
                "--input-shape",
                "4,3,8,8",
                "--density",
                "1",
                "--json",
                "-",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "network" and data["input_shape"] == [4, 3, 8, 8]
    kinds = {lay["name"]: lay["role"] for lay in data["layers"]}
    assert kinds["1"] == "norm" and kinds["5"] == "read-out"
    bn = next(n for n in data["nodes"] if n["node"] == "1")
    assert bn["q"] == pytest.approx(1.0, rel=1e-3)


def test_isometric_and_errors(models, capsys):
    assert (
        main(
            [
                "recommend",
                "--model",
                f"{models}:resmlp",
                "--input-shape",
                "8,16",
                "--weights",
                "isometric",
                "--density",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "risotto" in out and "singular values are all 1" in out
    assert main(["recommend", "--model", f"{models}:resmlp"]) == 2
    err = capsys.readouterr().err
    assert "--input-shape" in err and len(err.strip().splitlines()) == 1
    assert main(["recommend", "--input-shape", "8,16"]) == 2
    assert "--model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["recommend", "--model", f"{models}:resmlp", "--input-shape", "8,-1"])
