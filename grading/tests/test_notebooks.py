"""The students' notebooks as they live them: in sync with the task table, failing only at the exercises
while the stubs are untouched, and in a real JupyterLab in a real browser, on the student release: running
cleanly once their exercises are done (notebook 01 with nothing else done), and with the stubs stopping at the
first check with its task's message."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
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


# ---- the autograder's warm start of kernels and llmlab.check() (grading/warm.py) -------------------------------
# Grading the notebooks both ways takes minutes (grading.measure does it); the two ways differ only in how a
# kernel and llmlab.check()'s `python -m pytest` start, so these compare exactly that.

@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """grading/warm.py's servers, started as nbrun.py starts them; yields the command prefix that runs a module
    warm, per server: {"checks": [...], "kernels": [...]}."""
    script, folder = ROOT / "grading" / "warm.py", tmp_path_factory.mktemp("warm")
    server = subprocess.Popen([sys.executable, "-s", str(script), "serve", str(folder)])
    try:
        yield {role: [sys.executable, "-s", str(script), "run", str(folder / role)] for role in ("checks", "kernels")}
    finally:
        server.terminate()
        server.wait()


@pytest.fixture
def warm_python(warm):
    """LLMLAB_WARM_PYTHON as nbrun.py sets it."""
    return json.dumps(warm["checks"])


PROBE = [  # what a notebook could notice of how its kernel started
    "import os, sys\nprint(os.getcwd(), os.environ['PROBE'], __name__, sys.argv[0].endswith('ipykernel_launcher.py'))",
    "from tqdm.auto import tqdm\nfrom tqdm.notebook import tqdm as bar\nprint(issubclass(tqdm, bar))",  # decided at import
    "import matplotlib\nprint(matplotlib.get_backend())",                  # decides at import: its backend
    "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",
    "print('to stderr', file=sys.stderr)",
    "import llmlab\nprint(llmlab.__file__)",
    "from llmlab.progress import progress\nfor _ in progress(range(3), desc='bar', bar_format='{desc} {n}/{total}'):\n    pass",  # as check() shows it
    "1 / 0",
]


def _probe(cwd: Path, **client) -> list:
    cells = ["import sys\n'torch' in sys.modules"] + PROBE
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in cells])
    NotebookClient(notebook, timeout=120, allow_errors=True, resources={"metadata": {"path": str(cwd)}},
                   **client).execute(env=dict(os.environ, PROBE="yes"))
    outputs = [_merged_streams(cell.outputs) for cell in notebook.cells]
    return outputs[1:], outputs[0][0]["data"]["text/plain"]


def _merged_streams(outputs) -> list[dict]:
    """A cell's outputs, consecutive pieces of one stream joined (how a print arrives, in one message or two,
    depends on when the kernel flushes), without tracebacks (they name the kernel's temporary files)."""
    merged = []
    for output in outputs:
        output = {k: v for k, v in output.items() if k != "traceback"}
        if merged and output["output_type"] == "stream" and merged[-1]["output_type"] == "stream" \
                and merged[-1]["name"] == output["name"]:
            merged[-1] = {**merged[-1], "text": merged[-1]["text"] + output["text"]}
        else:
            merged.append(output)
    return merged


def test_a_warm_kernel_runs_a_notebook_as_a_fresh_one(warm, tmp_path):
    """The same outputs, cell for cell (working directory, environment, tqdm's and matplotlib's choices, a plot,
    stderr, imports from the working directory, errors); only the libraries were imported before (torch)."""
    from grading.warm import kernel_manager
    release = build_release(tmp_path / "release")
    fresh, preloaded = _probe(release)
    warmed, warm_preloaded = _probe(release, kernel_manager_class=kernel_manager(warm["kernels"]))
    assert warmed == fresh
    assert fresh[1][0]["text"] == "True\n", "tqdm.auto should pick its notebook bar in a kernel"
    assert (preloaded, warm_preloaded) == ("False", "True")


def test_a_warm_child_dies_with_its_requester(warm, tmp_path):
    """A kernel manager that kills a kernel kills the `warm.py run` process it started: the child goes too."""
    (tmp_path / "sleeper.py").write_text("import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(120)\n")
    requester = subprocess.Popen([*warm["checks"], "-m", "sleeper"], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    child = int(requester.stdout.readline())
    requester.kill()
    requester.wait()
    for _ in range(100):
        if not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]:
            return
        time.sleep(0.05)
    os.kill(child, 9)
    raise AssertionError("the warm child outlived its requester")


def _check(release: Path, task_id: str, **env) -> subprocess.CompletedProcess:
    """llmlab.check(task_id) in a fresh Python in the release folder, as a notebook's kernel runs it."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LLMLAB_TARGET", "LLMLAB_WARM_PYTHON")}
    return subprocess.run([sys.executable, "-c", f"import llmlab; llmlab.check({task_id!r})"], cwd=release,
                          env=dict(base, PYTHONPATH=str(release), **env), capture_output=True, text=True, timeout=600)


def _decided(run: subprocess.CompletedProcess) -> tuple:
    """What a check decides and shows: its exit, its printed line, its error (the progress bar and pytest's own
    timing left out)."""
    error = run.stderr[run.stderr.find("Traceback"):] if "Traceback" in run.stderr else ""
    return run.returncode, *(re.sub(r" in [0-9.]+s\b", " in (time)", text) for text in (run.stdout, error))


def test_a_warm_check_decides_as_a_fresh_python(warm_python, tmp_path):
    """The same exit, printed line and failure report, for a task that passes and for one that fails; and the
    check really goes through LLMLAB_WARM_PYTHON (pointed at no server, it cannot run)."""
    release = build_release(tmp_path / "release")
    lay_reference(release, ["t04_flops"])
    passed = (_check(release, "t04_flops"), _check(release, "t04_flops", LLMLAB_WARM_PYTHON=warm_python))
    assert passed[0].returncode == 0 and "✓ t04_flops: public tests pass" in passed[0].stdout, passed[0].stderr
    nowhere = json.loads(warm_python)[:-1] + [str(tmp_path / "no-server")]
    unreachable = _check(release, "t04_flops", LLMLAB_WARM_PYTHON=json.dumps(nowhere))
    assert unreachable.returncode == 1 and "FileNotFoundError" in unreachable.stderr, unreachable.stderr
    with open(release / "llmlab" / "flops.py", "a", encoding="utf-8") as module:   # counts MACs, not FLOPs
        module.write("\n\n" + (ROOT / "grading" / "mutants" / "t04_flops" / "macs.py").read_text(encoding="utf-8"))
    failed = (_check(release, "t04_flops"), _check(release, "t04_flops", LLMLAB_WARM_PYTHON=warm_python))
    assert failed[0].returncode == 1 and "AssertionError: t04_flops: public tests fail" in failed[0].stderr
    for cold, warm in (passed, failed):
        assert _decided(warm) == _decided(cold)
