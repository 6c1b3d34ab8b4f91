"""The command line's promise under bad input: one line on stderr, exit 2, never a traceback.

Reproducers of issue 15 (items 7 and 2): an unwritable --torch-out, node counts
beyond the machine, and empty, truncated or incomplete graph files.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

import cascades
from cascades.cli import main


def run(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "cascades", *args], capture_output=True, text=True, timeout=300, env=env
    )


def assert_one_line_error(code, err, fragment=""):
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("cascades: error:"), err
    assert fragment in lines[0], err


@pytest.fixture
def bad_files(tmp_path):
    """Graph files that are not graphs: empty, truncated, a layered graph without its widths."""
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    good = tmp_path / "good.npz"
    cascades.save(cascades.erdos_renyi(200, 3, rng=0), good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:100])
    layered = tmp_path / "layered.npz"
    cascades.save(cascades.layered([5, 4, 3], [0.5, 0.5], rng=0), layered)
    with np.load(layered, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key != "widths"}
    no_widths = tmp_path / "no_widths.npz"
    np.savez(no_widths, **arrays)
    return {"empty": empty, "truncated": truncated, "no_widths": no_widths}


@pytest.mark.parametrize("kind", ["empty", "truncated", "no_widths"])
def test_graph_info_on_bad_files(bad_files, kind, capsys):
    code = main(["graph", "info", str(bad_files[kind])])
    captured = capsys.readouterr()
    assert_one_line_error(code, captured.err, str(bad_files[kind].name))
    assert captured.out == ""


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["demo", "--n", "1099511627776"], "1099511627776"),
        (["graph", "er", "1099511627776", "4"], "1099511627776"),
        (["graph", "regular", "1099511627776", "3"], "1099511627776"),
    ],
)
def test_sizes_beyond_the_machine(args, fragment, capsys):
    with cascades.memory_limit("2G"):
        code = main(args)
    assert_one_line_error(code, capsys.readouterr().err, fragment)


def test_unwritable_outputs_fail_before_the_work(tmp_path, capsys):
    for args in (
        ["recommend", "--torch-out", "/no/such/dir/x.pt"],
        ["recommend", "--json", "/no/such/dir/x.json"],
        ["recommend", "--json", str(tmp_path)],
        ["graph", "er", "100", "3", "--out", "/no/such/dir/g.npz"],
    ):
        code = main(args)
        captured = capsys.readouterr()
        assert_one_line_error(code, captured.err, args[-1] if "dir" not in args[-1] else "/no/such/dir")
        assert captured.out == ""  # refused before computing anything


def test_torch_out_in_a_subprocess_has_no_traceback():
    out = run("recommend", "--torch-out", "/no/such/dir/x.pt")
    assert_one_line_error(out.returncode, out.stderr, "/no/such/dir")


def test_json_to_stdout_parses(capsys):
    assert main(["recommend", "100", "50", "10", "--json", "-"]) == 0
    captured = capsys.readouterr()
    data = json.loads(captured.out)  # stdout holds the JSON alone
    assert [layer["fan_in"] for layer in data["layers"]] == [100, 50]
    assert "density" in captured.err  # the table went to stderr


def test_internal_errors_are_one_line_with_a_debug_switch(monkeypatch, capsys):
    import cascades.cli as cli

    def broken(args):
        raise RuntimeError("boom")

    parser = cli.build_parser()
    args = parser.parse_args(["demo"])
    monkeypatch.setattr(cli, "build_parser", lambda: _Fixed(parser, args, broken))
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "boom" in err and "Traceback" not in err
    monkeypatch.setenv("CASCADES_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(["demo"])


class _Fixed:
    """A parser stand-in returning fixed arguments whose command is ``func``."""

    def __init__(self, parser, args, func):
        self.parser, self.args = parser, args
        self.args.func = func

    def parse_args(self, argv):
        return self.args


def test_broken_pipe_is_quiet():
    # `cascades sweep --list | head -1`: the reader leaves early; no traceback, no error message.
    proc = subprocess.Popen(
        [sys.executable, "-m", "cascades", "reproduce", "--list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # nobody reads
    _, err = proc.communicate(timeout=300)
    assert err == b"" and proc.returncode == 141  # quiet, with the shell's exit code for SIGPIPE


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "--density", "nan"],
        ["recommend", "--density", "0"],
        ["recommend", "--q-star", "-1"],
        ["recommend", "--weights", "foo"],
        ["recommend", "--scheme", "foo"],
        ["recommend", "--activation", "foo"],
        ["recommend", "3"],
        ["recommend", "0", "0"],
        ["recommend", "--model", "nofile.py:f"],
        ["recommend", "--model", "x"],
        ["demo", "--mean-degree", "-1"],
        ["demo", "--mean-degree", "inf"],
        ["graph", "regular", "5", "3"],
        ["graph", "powerlaw", "100", "0.5"],
        ["graph", "powerlaw", "100", "1.01"],
        ["graph", "powerlaw", "100", "2.5", "--kmin", "0"],
        ["graph", "er", "10", "nan"],
        ["graph", "info", "/"],
        ["sweep"],
        ["sweep", "nonsense"],
        ["sweep", "watts-window", "--scheduler", "x", "--serial"],
        ["reproduce"],
        ["reproduce", "nonsense"],
        ["validate", "--seed", "-1"],
    ],
)
def test_bad_invocations_are_one_line_exit_2(args, capsys):
    try:
        code = main(args)
    except SystemExit as exc:  # argparse refuses some itself, before a command runs
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], err


def test_graph_info_on_a_corrupt_graph_exits_2(tmp_path, capsys):
    # `cascades graph info` printed a summary and exited 0 for a file whose ids exceed n.
    g = cascades.erdos_renyi(50, 3, rng=0)
    indices = np.array(g.indices)
    indices[0] = 10**6
    path = tmp_path / "corrupt.npz"
    np.savez(
        path,
        format_version=np.array(1),
        kind=np.array("Graph"),
        indptr=g.indptr,
        indices=indices,
        directed=np.array(False),
        info=np.array("{}"),
    )
    code = main(["graph", "info", str(path)])
    captured = capsys.readouterr()
    assert_one_line_error(code, captured.err, "corrupt.npz")
    assert "node ids" in captured.err and captured.out == ""
