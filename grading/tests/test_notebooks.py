"""The students' notebooks as they live them: in sync with the task table, failing only at the exercises
while the stubs are untouched, and running cleanly in a real JupyterLab in a real browser (reference)."""
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grading.overlay import ROOT
from llmlab.tasks import NOTEBOOKS, TASKS

ARTIFACTS = ROOT / "test-artifacts"
PLOT_CALL = re.compile(r"plt\.|bar_distribution\(|\.plot\(|\.bar\(|\.imshow\(|\.scatter\(|\.hist\(")
NAMES = sorted(NOTEBOOKS.values())


def graded_cells(nb):
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]


def tasks_of(name):
    return [t for t in TASKS if t.notebook == name]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_matches_task_table(name):
    for folder in ("solutions/notebooks", "notebooks"):
        nb = nbformat.read(ROOT / folder / f"{name}.ipynb", as_version=4)
        cells = {c.metadata.nbgrader.grade_id: c for c in graded_cells(nb)}
        assert sorted(cells) == sorted(t.id for t in tasks_of(name)), folder
        for task in tasks_of(name):
            assert cells[task.id].metadata.nbgrader.points == task.points, (folder, task.id)
            assert f'check("{task.id}")' in cells[task.id].source
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{folder}/{name}: no kernelspec"


def test_committed_student_notebooks_are_generated_from_the_sources():
    from grading.notebooks import RELEASED, release_files
    wanted = release_files()
    stale = [rel for rel, data in wanted.items()
             if not (RELEASED / rel).exists() or (RELEASED / rel).read_bytes() != data]
    assert not stale, f"notebooks/ is stale ({stale}): run `python -m grading notebooks`"


@pytest.mark.parametrize("name", NAMES)
def test_stub_state_fails_exactly_at_the_exercises(name, tmp_path):
    """Against the release stubs: every cell before the first exercise runs; each exercise check cell fails
    with its own task's NotImplementedError; any other failure is some task's NotImplementedError."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    env = dict(os.environ, PYTHONPATH=str(ROOT), LLMLAB_TARGET="student")
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute(env=env)
    seen_exercise = False
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        task_id = cell.metadata.get("nbgrader", {}).get("grade_id") if cell in graded_cells(nb) else None
        where = f"{name} cell {index}: {cell.source[:60]!r}"
        if task_id:
            seen_exercise = True
            assert errors and errors[0].ename == "NotImplementedError", where
            assert errors[0].evalue.startswith(f"{task_id}: implement"), (where, errors[0].evalue)
        elif not seen_exercise:
            assert not errors, (where, errors and errors[0].evalue)
        elif errors:
            assert errors[0].ename == "NotImplementedError", (where, errors[0].ename, errors[0].evalue)
            assert re.match(r"t\d\d_\w+: implement", errors[0].evalue), (where, errors[0].evalue)
    assert seen_exercise


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a copy of notebooks/ and tests/, kernels importing the reference (root conftest)."""
    from grading.browser import chromium, jupyter_lab
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        pytest.fail("Debian chromium and chromium-driver are required for the browser test (see .ci/run)")
    root = tmp_path_factory.mktemp("lab")
    for folder in ("notebooks", "tests"):
        shutil.copytree(ROOT / folder, root / folder)
    with jupyter_lab(root, dict(os.environ)) as (url, token), chromium() as driver:
        yield driver, url, token


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_jupyterlab(name, lab):
    from grading.browser import cjk_font_available, run_notebook_in_lab
    driver, url, token = lab
    cells = run_notebook_in_lab(driver, url, token, f"notebooks/{name}.ipynb")
    ARTIFACTS.mkdir(exist_ok=True)
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    assert len(cells) == len(nb.cells)
    for index, (cell, shown) in enumerate(zip(nb.cells, cells)):
        where = f"{name} cell {index}: {cell.source[:60]!r}"
        assert not shown["errors"], (where, shown["errors"])
        assert shown["ran"] or cell.cell_type != "code", f"{where}: did not run"
        if cell.cell_type == "code" and PLOT_CALL.search(cell.source):
            assert shown["images"] >= 1, f"{where}: no figure rendered"
    assert "Chinese font: Noto Sans CJK" in cells[[c.cell_type for c in nb.cells].index("code")]["text"]
    assert cjk_font_available(driver), "no CJK font in the browser: Chinese would show as boxes"
    for task in tasks_of(name):
        index = next(i for i, c in enumerate(nb.cells) if c in graded_cells(nb) and task.id in c.source)
        assert f"{task.id}: public tests pass" in cells[index]["text"], (task.id, cells[index]["text"][-500:])
    first_figure = next((i for i, c in enumerate(cells) if c["images"]), 0)
    driver.execute_script("window.jupyterapp.shell.currentWidget.node.querySelectorAll('.jp-Cell')"
                          "[arguments[0]].scrollIntoView()", first_figure)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
