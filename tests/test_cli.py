"""The command line: version, help, the demo, graph subcommands and one-line errors."""

import subprocess
import sys

import pytest

import cascades
from cascades.cli import main


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "cascades", *args], capture_output=True, text=True, timeout=300
    )


def test_version_and_help():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"cascades {cascades.__version__}"
    out = run("--help")
    assert out.returncode == 0 and "demo" in out.stdout and "graph" in out.stdout


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["graph", "er", "-5", "2"], "non-negative integer"),
        (["graph", "er", "10", "20"], "mean_degree"),
        (["graph", "regular", "5", "3"], "even"),
        (["nonsense"], "invalid choice"),
        (["graph", "info", "/nonexistent/file.npz"], "error"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(args, fragment):
    out = run(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], out.stderr


def test_demo_runs(capsys):
    assert main(["demo", "--n", "2000", "--mean-degree", "3", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Poisson pmf" in out and "2000" in out


def test_graph_save_and_info(tmp_path, capsys):
    path = tmp_path / "g.npz"
    assert main(["graph", "er", "1000", "4", "--seed", "3", "--out", str(path)]) == 0
    assert main(["graph", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert cascades.load(path) == cascades.erdos_renyi(1000, 4, rng=3)
    assert out.count("1000") >= 2
    assert main(["graph", "powerlaw", "500", "2.5", "--kmin", "2", "--kmax", "50", "--seed", "0"]) == 0
    assert main(["graph", "regular", "10", "3", "--seed", "0"]) == 0


def test_recommend_default_and_json(tmp_path, capsys):
    path = tmp_path / "rec.json"
    assert main(["recommend", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "784x300" in out and "sigma_w^2 = 2" in out
    rec = cascades.Recommendation.from_json(path.read_text())
    assert rec == cascades.recommend([784, 300, 100, 10], density=0.1)


def test_recommend_torch_export(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    assert (
        main(
            [
                "recommend",
                "20",
                "30",
                "5",
                "--density",
                "0.5",
                "--activation",
                "tanh",
                "--torch-out",
                str(path),
                "--seed",
                "3",
            ]
        )
        == 0
    )
    model = torch.load(path, weights_only=False)
    assert isinstance(model, torch.nn.Sequential)


def test_recommend_bad_density_is_one_line():
    out = run("recommend", "100", "50", "10", "--density", "2")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "cascades: error: density must be a finite number in (0, 1], got 2.0"
    ]
