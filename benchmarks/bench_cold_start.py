"""Time the cold start of the ``cascades`` command: ``cascades recommend --activation NAME`` per activation.

Usage (from the repository root)::

    python benchmarks/bench_cold_start.py              # every activation once (about a minute)
    python benchmarks/bench_cold_start.py --repeats 3  # best of 3 cold runs per command
    python benchmarks/bench_cold_start.py --quick      # relu and tanh only, plus the references
    python benchmarks/bench_cold_start.py --warm       # also a second run on the filled numba cache

What it measures:

* Every command runs in a fresh subprocess with an empty numba cache: ``NUMBA_CACHE_DIR`` is set
  to a new temporary directory for every run, so each run compiles (or would load) its kernels
  from scratch, as on a fresh install. The Python bytecode of the package (``__pycache__``) is
  not cleared. ``PYTHONPATH`` puts this checkout first, so the checkout is what runs.
* Commands: ``cascades recommend --activation NAME`` (the default LeNet-300-100 MLP at density
  0.1) for every registry name of ``cascades.nn.available_activations()`` (aliases such as
  ``swish`` or ``identity`` are left out: they name the same activation), and for reference
  ``python -c "import cascades"`` and ``cascades validate --quick``. An activation the command
  rejects (non-zero exit) is listed with its error and left out of the summary.
* Per run: the wall time from the start of the child to its exit; the child's CPU time, user +
  system, from ``os.wait4`` (so it counts the child only, whatever else runs on the machine);
  ``cpu/wall`` (below 1: the child waited, for I/O or for a core); and the 1-minute load average
  just before the run. With ``--repeats``, the run with the least CPU time counts (all runs are in
  the JSON). ``--warm`` adds a second run of each command on the cache its first run filled.

The machine is shared: the load average is printed with every row, and CPU time is the better
measure on a loaded machine. The console script next to the running Python is used when it
exists, else ``python -m cascades``. Results go to
``benchmarks/results/bench_cold_start-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cascades  # noqa: E402
from cascades.nn import available_activations, get_activation  # noqa: E402

QUICK_ACTIVATIONS = ("relu", "tanh")
TIMEOUT_S = 600.0


def _load1() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _cascades_command() -> list[str]:
    script = Path(sys.executable).with_name("cascades")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cascades"]


def registry_names() -> list[str]:
    """Registry names of available_activations(), without aliases (an alias resolves to another name)."""
    return [name for name in available_activations() if get_activation(name).name == name]


def run_once(cmd: list[str], cache_dir: str) -> dict:
    """Run ``cmd`` with NUMBA_CACHE_DIR=cache_dir; wall time, the child's rusage, exit code, output tail."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load1 = _load1()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=tempfile.gettempdir())
        while True:  # poll os.wait4 (2 ms resolution) so that a hung child can be killed
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > TIMEOUT_S:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace").strip().splitlines()
        out.seek(0)
        n_out = len(out.read())
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "load1_before": load1,
        "stdout_bytes": n_out,
        "stderr_tail": stderr[-1] if stderr else "",
    }


def measure(cmd: list[str], repeats: int, warm: bool) -> dict:
    """The cold runs (a new empty numba cache each), the best of them, and optionally a warm run."""
    cold, warm_run = [], None
    for r in range(repeats):
        with tempfile.TemporaryDirectory(prefix="cascades-numba-cache-") as cache:
            cold.append(run_once(cmd, cache))
            if warm and r == 0:
                warm_run = run_once(cmd, cache)
    ok = [c for c in cold if c["returncode"] == 0]
    best = min(ok, key=lambda c: c["cpu_s"]) if ok else cold[0]
    return {"command": cmd, "best": best, "cold_runs": cold, "warm": warm_run}


def _row(label: str, m: dict, warm: bool) -> str:
    b = m["best"]
    if b["returncode"] != 0:
        return f"{label:34s} exit {b['returncode']}: {b['stderr_tail'][:80]}"
    line = (
        f"{label:34s} {b['wall_s']:7.2f} {b['cpu_s']:7.2f} {b['user_s']:7.2f} {b['sys_s']:6.2f} "
        f"{b['cpu_s'] / b['wall_s']:8.2f} {b['max_rss_mb']:7.0f} {b['load1_before']:6.2f}"
    )
    if warm and m["warm"] is not None:
        w = m["warm"]
        line += f" {w['wall_s']:7.2f} {w['cpu_s']:7.2f}"
    return line


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK_ACTIVATIONS)}")
    parser.add_argument("--repeats", type=int, default=1, help="cold runs per command (default 1)")
    parser.add_argument("--warm", action="store_true", help="also time a run on the filled numba cache")
    parser.add_argument("--activations", nargs="*", default=None, help="these names only")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be an integer >= 1, got {args.repeats}")
    names = registry_names()
    if args.activations:
        names = list(args.activations)
    elif args.quick:
        names = [n for n in names if n in QUICK_ACTIVATIONS]
    cli = _cascades_command()

    print(f"cascades {cascades.__version__}, Python {platform.python_version()}, {os.cpu_count()} cores")
    print(f"command: {' '.join(cli)}; numba cache: a new empty directory per run")
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"load average before: {load_before}")

    cases = {"python -c 'import cascades'": [sys.executable, "-c", "import cascades"]}
    cases.update({f"recommend --activation {n}": [*cli, "recommend", "--activation", n] for n in names})
    cases["validate --quick"] = [*cli, "validate", "--quick"]

    header = (
        f"\n{'command':34s} {'wall s':>7s} {'cpu s':>7s} {'user s':>7s} {'sys s':>6s} {'cpu/wall':>8s}"
        f" {'rss MB':>7s} {'load1':>6s}"
    )
    if args.warm:
        header += f" {'warm wall':>7s} {'warm cpu':>7s}"
    print(header)
    results = {}
    for label, cmd in cases.items():
        results[label] = measure(cmd, args.repeats, args.warm)
        print(_row(label, results[label], args.warm), flush=True)

    recommend = {k: m["best"] for k, m in results.items() if k.startswith("recommend")}
    rec = [b for b in recommend.values() if b["returncode"] == 0]
    rejected = [k.rsplit(" ", 1)[1] for k, b in recommend.items() if b["returncode"] != 0]
    summary = {}
    if rec:
        for key in ("wall_s", "cpu_s"):
            vals = [r[key] for r in rec]
            summary[key] = {"min": min(vals), "median": statistics.median(vals), "max": max(vals)}
        print(
            f"\nrecommend over {len(rec)} activations: wall {summary['wall_s']['min']:.2f} / "
            f"{summary['wall_s']['median']:.2f} / {summary['wall_s']['max']:.2f} s, CPU "
            f"{summary['cpu_s']['min']:.2f} / {summary['cpu_s']['median']:.2f} / "
            f"{summary['cpu_s']['max']:.2f} s (min / median / max)"
        )
    if rejected:
        print(f"rejected by the command: {', '.join(rejected)}")
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(f"load average after: {load_after}")

    versions = {}
    for pkg in ("numpy", "scipy", "numba", "xarray", "networkx", "matplotlib"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    record = {
        "benchmark": "bench_cold_start",
        "quick": args.quick,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "cascades": cascades.__version__,
        "versions": versions,
        "cpu_count": os.cpu_count(),
        "command": cli,
        "load_before": load_before,
        "load_after": load_after,
        "results": results,
        "recommend_summary": summary,
        "rejected": rejected,
    }
    results_dir = ROOT / "benchmarks" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = results_dir / f"bench_cold_start-{stamp}{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(record, indent=1))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
