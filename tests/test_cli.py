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
