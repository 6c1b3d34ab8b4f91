"""Tests of cascades.validation_suite (the theory-vs-simulation suite) and of the reproduce/validate CLI."""

import math

import numpy as np
import pytest
from scipy import stats

import cascades.validation_suite as cv
from cascades.cli import main
from cascades.validation_suite import ValidationCase, ValidationReport, validate


def _row(error, tol, name="toy"):
    return ValidationCase(name, 1.0, 1.0 + error, abs(error), tol, "note")


def test_case_verdicts():
    assert _row(0.01, 0.02).verdict == "pass"
    assert _row(0.02, 0.02).passed  # the tolerance itself passes
    assert _row(0.03, 0.02).verdict == "FAIL"
    assert not _row(float("nan"), 0.02).passed  # NaN never passes
    assert not ValidationCase("x", 1.0, 1.0, 0.0, float("nan"), "n").passed


def test_report_table_and_passed():
    ok = ValidationReport((_row(0.01, 0.02, "a"), _row(0.0, 0.1, "b")), quick=True, rng="0")
    assert ok.passed
    text = str(ok)
    assert text.splitlines()[0].split() == ["case", "theory", "simulation", "error", "tolerance", "verdict"]
    assert text.endswith("2 cases (quick, rng=0): all passed")
    bad = ValidationReport((_row(0.01, 0.02), _row(0.5, 0.1, "c")), quick=False, rng="3")
    assert not bad.passed and "1 failed" in bad.table() and "FAIL" in bad.table()
    assert "    note" in bad.table(notes=True)
    cut = ValidationReport((_row(0.0, 0.1),), quick=True, rng="0", complete=False)
    assert not cut.passed and "interrupted" in cut.table()


def test_quantiles():
    # tier a: the two-sided quantiles the tolerances use
    assert cv._z_quantile() == pytest.approx(stats.norm.isf(cv.ALPHA / 2), rel=1e-12)
    assert cv._z_quantile() == pytest.approx(3.2905267, rel=1e-6)
    assert cv._t_quantile(11) == pytest.approx(4.437, abs=5e-4)  # t-table, 11 d.o.f., 0.9995
    assert cv._t_quantile(11, 20) > cv._t_quantile(11)  # Bonferroni widens


def test_fit_xi_closed_form():
    layers = np.arange(12)
    assert cv._fit_xi(0.02 * np.exp(-layers / 5.5)) == pytest.approx(5.5, rel=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="quick must be True or False"):
        validate("yes")
    with pytest.raises(ValueError, match="progress must be True or False"):
        validate(progress=1)


def test_quick_suite_passes():
    # tier c: every case compares theory with seeded simulation within its derived tolerance
    report = validate(quick=True, rng=0, progress=False)
    assert report.complete and len(report.rows) == 13
    for row in report.rows:
        assert row.tolerance > 0 and math.isfinite(row.theory) and math.isfinite(row.simulation)
        assert row.error == pytest.approx(abs(row.simulation - row.theory), rel=1e-12, abs=1e-15)
    assert report.passed, report.table(notes=True)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quick_suite_passes_other_seeds(seed):
    report = validate(quick=True, rng=seed, progress=False)
    assert report.passed, report.table(notes=True)


@pytest.mark.slow
def test_full_suite_passes():
    report = validate(quick=False, rng=0, progress=False)
    assert report.passed, report.table(notes=True)


# --- the command line --------------------------------------------------------------------------


def test_cli_validate_exit_codes(monkeypatch, capsys):
    rows = (_row(0.01, 0.02, "fine"),)
    monkeypatch.setattr(cv, "validate", lambda **kw: ValidationReport(rows, quick=kw["quick"], rng="5"))
    assert main(["validate", "--quick", "--seed", "5"]) == 0
    assert "1 cases (quick, rng=5): all passed" in capsys.readouterr().out
    rows = (_row(0.01, 0.02, "fine"), _row(1.0, 0.02, "broken"))
    monkeypatch.setattr(cv, "validate", lambda **kw: ValidationReport(rows, quick=kw["quick"], rng="0"))
    assert main(["validate"]) == 1
    out = capsys.readouterr().out
    assert "broken" in out and "FAIL" in out


def test_cli_reproduce_list_and_errors(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert "watts-window" in out and "poole-phase-diagram" in out
    assert main(["reproduce", "no-such-figure", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cascades: error: unknown figure 'no-such-figure'") and err.count("\n") == 1
    assert main(["reproduce"]) == 2
    assert "needs a figure NAME" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["reproduce", "watts-window", "--seed", "-1"])
    assert exc.value.code == 2


def test_cli_reproduce_writes_files(tmp_path, capsys):
    import xarray as xr

    from cascades.figures import _base

    def compute(p, gen, progress):
        return xr.Dataset({"y": ("x", gen.random(p["n"]))}, coords={"x": np.arange(p["n"])})

    def plot(ds):
        fig, ax = _base.subplots(figsize=(2, 2))
        ax.plot(ds.x.values, ds.y.values)
        return fig

    params = {"quick": {"n": 3}, "full": {"n": 5}}
    _base.register(_base.Recipe("cli-toy", "t", "tests", params, compute, plot))
    try:
        assert main(["reproduce", "cli-toy", "--quick", "--out", str(tmp_path), "--seed", "3",
                     "--no-progress"]) == 0
    finally:
        del _base._REGISTRY["cli-toy"]
    for ext in ("png", "pdf", "nc"):
        assert (tmp_path / f"cli-toy.{ext}").exists()
    ds = xr.load_dataset(tmp_path / "cli-toy.nc", engine="scipy")
    assert ds.sizes["x"] == 3 and ds.attrs["rng"] == "3" and ds.attrs["scale"] == "quick"
    np.testing.assert_array_equal(ds.y.values, np.random.default_rng(3).random(3))
    assert "png: " in capsys.readouterr().out
