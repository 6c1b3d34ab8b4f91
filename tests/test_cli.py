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


def test_recommend_torch_export(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.pt"
    args = ["recommend", "20", "30", "5", "--density", "0.5", "--activation", "tanh", "--seed", "3",
            "--torch-out", str(path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"cascades.load_torch({str(path)!r}, model)" in out and "weights_only=True" in out
    sd = torch.load(path, weights_only=True)  # loads under torch >= 2.6 defaults
    assert sd["format"] == "cascades-torch-export"
    rec = cascades.Recommendation.from_json(sd["recommendation"])
    ref = cascades.to_torch(rec, rng=3)
    model = cascades.bridge.export.load_torch(path)
    x = torch.randn(4, 20)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))


_MODEL_FILE = """
import torch.nn as nn


def build():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))


def not_a_module():
    return [8, 16, 4]


def broken():
    raise RuntimeError("boom")


CONSTANT = 3
"""


def _model_file(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(_MODEL_FILE)
    return path


def test_recommend_model_file_and_export(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    from cascades.bridge.export import load_torch

    src, out_path = _model_file(tmp_path), tmp_path / "net.pt"
    args = ["recommend", "--model", f"{src}:build", "--density", "0.5", "--scheme", "uniform", "--seed", "2",
            "--torch-out", str(out_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "linear 8x16" in out and "model = build()" in out
    ns = {}
    exec(_MODEL_FILE, ns)
    build = ns["build"]
    rec = cascades.recommend(build(), density=0.5, scheme="uniform")
    ref = cascades.apply_to(build(), rec, rng=2)
    mine = load_torch(out_path, build())
    x = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.equal(mine(x), ref(x))
    assert cascades.Recommendation.from_json(torch.load(out_path, weights_only=True)["recommendation"]) == rec


@pytest.mark.parametrize("spec, extra, fragment", [
    ("{dir}/missing.py:build", [], "no such file"),
    ("{file}:nope", [], "has no function 'nope'"),
    ("{file}:CONSTANT", [], "not callable"),
    ("{file}:not_a_module", [], "must return a torch.nn.Module, got list"),
    ("{file}:broken", [], "broken() failed: RuntimeError: boom"),
    ("{file}", [], "FILE.py:FUNCTION"),
    ("{file}:build", ["8", "4"], "either widths or --model"),
    ("{dir}/bad.py:build", [], "importing"),
])
def test_recommend_model_errors_are_one_line(tmp_path, capsys, spec, extra, fragment):
    pytest.importorskip("torch")
    src = _model_file(tmp_path)
    (tmp_path / "bad.py").write_text("import not_a_module_anywhere_xyz\n")
    spec = spec.format(dir=tmp_path, file=src)
    assert main(["recommend", *extra, "--model", spec]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cascades: error:") and fragment in err[0], err


def test_recommend_passes_only_given_options(monkeypatch, capsys):
    calls = []
    real = cascades.recommend

    def fake(architecture, **kwargs):
        calls.append(kwargs)
        return real(architecture, density=kwargs["density"], scheme=kwargs["scheme"])

    monkeypatch.setattr(cascades, "recommend", fake)
    assert main(["recommend", "8", "16", "4", "--density", "0.5"]) == 0
    assert calls[-1] == {"density": 0.5, "scheme": "erk", "per_neuron": False, "weights": "gaussian"}
    assert main(["recommend", "8", "16", "4", "--density", "0.5", "--activation", "tanh", "--q-star", "0.5",
                 "--stability", "keep", "--sigma-b2", "0.1"]) == 0
    kw = calls[-1]
    assert (kw["activation"], kw["q_star"], kw["stability"], kw["sigma_b2"]) == ("tanh", 0.5, "keep", 0.1)
    capsys.readouterr()


@pytest.mark.parametrize("args, fragment", [
    (["--q-star", "0"], "--q-star"),
    (["--q-star", "-1"], "finite number > 0"),
    (["--q-star", "x"], "expected a number"),
    (["--stability", "maybe"], "invalid choice"),
])
def test_recommend_bad_new_options(capsys, args, fragment):
    with pytest.raises(SystemExit) as info:
        main(["recommend", "8", "4", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


def test_recommend_q_star_reaches_recommend(capsys):
    import inspect

    if "q_star" not in inspect.signature(cascades.recommend).parameters:
        pytest.skip("recommend has no q_star yet")
    assert main(["recommend", "8", "16", "16", "4", "--activation", "tanh", "--q-star", "0.5"]) == 0
    assert "0.5" in capsys.readouterr().out


def test_recommend_bad_density_is_one_line():
    out = run("recommend", "100", "50", "10", "--density", "2")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        "cascades: error: density must be a finite number in (0, 1], got 2.0"
    ]
