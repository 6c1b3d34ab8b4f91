"""Execute every notebook in notebooks/ at the quick scale (CASCADES_FIGURE_SCALE=quick).

The committed notebooks carry the outputs of a full-scale run; here each is re-executed with
nbclient (outputs are not written back), so every figure's code path runs in CI. The notebooks
share one kernel, started once for this module: a kernel start and the imports of the package cost
several seconds, more than most quick recipes; each notebook still runs all its own cells.
"""

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupyter_client = pytest.importorskip("jupyter_client")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_is_a_notebook_per_figure():
    import cascades.figures as cf

    names = {nb.stem.split("-", 1)[1] for nb in NOTEBOOKS}
    assert names == set(cf.list_figures())


@pytest.fixture(scope="module")
def kernel():
    env = dict(os.environ)
    env.update(CASCADES_FIGURE_SCALE="quick", MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=env, cwd=str(ROOT))
    try:
        yield km
    finally:
        km.shutdown_kernel(now=True)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_quick_scale(path, kernel):
    if "bridge" in path.stem:
        pytest.importorskip("torch")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, km=kernel, timeout=300).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "| quick scale |" in text
    assert any("image/png" in o.get("data", {}) for o in outputs), "the figure was not displayed"
