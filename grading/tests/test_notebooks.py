"""The students' notebooks as they live them: in sync with the task table, failing only at the exercises
while the stubs are untouched, and in a real JupyterLab in a real browser, on the student release: running
cleanly once their exercises are done (notebook 01 with nothing else done), and with the stubs stopping at the
first check with its task's message."""
import os
import re
import shutil
from contextlib import ExitStack
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grading.overlay import ROOT
from grading.release import build_release
from grading.tests.references import lay_reference
from llmlab.tasks import NOTEBOOKS, TASK_IDS, TASKS

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
    """open_lab(variant) -> (driver, url, token, folder): JupyterLab serving a copy of the student release
    whose kernels import that copy's llmlab: "reference" (every exercise done), "t01" (only notebook 01's
    exercises done) or "stubs" (as the student receives it); one headless Chromium for all."""
    from grading.browser import chromium, jupyter_lab
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        pytest.fail("Debian chromium and chromium-driver are required for the browser test (see .ci/run)")
    release = build_release(tmp_path_factory.mktemp("lab") / "release")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LLMLAB_TARGET")}
    with ExitStack() as stack:
        driver, servers = stack.enter_context(chromium()), {}

        def open_lab(variant):
            if variant not in servers:
                root = shutil.copytree(release, release.parent / variant, symlinks=True)
                if variant != "stubs":
                    lay_reference(root, TASK_IDS if variant == "reference" else TASKS_OF_01)
                servers[variant] = stack.enter_context(jupyter_lab(root, dict(env, PYTHONPATH=str(root))))
            return (driver, *servers[variant], release.parent / variant)
        yield open_lab


TASKS_OF_01 = [t.id for t in tasks_of("01_decoding_strategies")]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_in_jupyterlab(name, lab):
    """Every cell runs without an error and draws its figures; every check passes. Notebook 01 runs with only
    its own exercises done, as a student who has finished it and nothing else."""
    from grading.browser import cjk_font_available, run_notebook_in_lab, scroll_to_cell
    driver, url, token, _ = lab("t01" if name == "01_decoding_strategies" else "reference")
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
    scroll_to_cell(driver, f"notebooks/{name}.ipynb", first_figure)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def test_with_stubs_run_all_stops_at_the_first_check_with_its_message(lab):
    """A student who runs notebook 01 before writing any code: every cell before the first exercise runs, the
    first check cell fails with t01_greedy's NotImplementedError, and nothing else fails or runs."""
    from grading.browser import run_notebook_in_lab
    driver, url, token, _ = lab("stubs")
    cells = run_notebook_in_lab(driver, url, token, "notebooks/01_decoding_strategies.ipynb")
    nb = nbformat.read(ROOT / "notebooks" / "01_decoding_strategies.ipynb", as_version=4)
    first_check = next(i for i, c in enumerate(nb.cells) if c in graded_cells(nb))
    assert 'check("t01_greedy")' in nb.cells[first_check].source
    for index, (cell, shown) in enumerate(zip(nb.cells, cells)):
        where = f"cell {index}: {cell.source[:60]!r}"
        if index == first_check:
            assert shown["ran"] and len(shown["errors"]) == 1, (where, shown["errors"])
            assert shown["errors"][0].startswith("NotImplementedError: t01_greedy: implement greedy in "
                                                 "llmlab/decoding.py"), (where, shown["errors"])
        else:
            assert not shown["errors"], (where, shown["errors"])
            assert shown["ran"] == (cell.cell_type == "code" and index < first_check), f"{where}: ran?"


def test_the_lab_driver_needs_no_page_focus(lab, tmp_path):
    """Some headless browsers never give the page the focus, so JupyterLab has no current widget: the driver
    must still run every cell, and report the cell that fails."""
    from grading.browser import run_notebook_in_lab
    driver, url, token, folder = lab("stubs")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)"), nbformat.v4.new_code_cell("1 / 0"),
                nbformat.v4.new_code_cell("print('after the error')")]
    nbformat.write(nb, folder / "no_focus.ipynb")
    no_focus = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",  # a page that never takes the focus
                                      {"source": "HTMLElement.prototype.focus = function () {};"
                                                 "Document.prototype.hasFocus = () => false;"})
    try:
        cells = run_notebook_in_lab(driver, url, token, "no_focus.ipynb", timeout=120)
        assert driver.execute_script("return window.jupyterapp.shell.currentWidget") is None  # no focus indeed
    finally:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", no_focus)
    assert [c["ran"] for c in cells] == [True, True, False]
    assert cells[0]["text"].strip() == "42" and not cells[0]["errors"]
    assert cells[1]["errors"] == ["ZeroDivisionError: division by zero"]
