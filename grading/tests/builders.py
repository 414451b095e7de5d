"""Fixture submissions, built at test time from the student release: the blank release itself, the reference
(every exercise module from solutions/), a partial one, and hostile ones (grading/fixtures/*.py appended to one
exercise module, the attack module), plus malformed input. Expected scores come from llmlab/tasks.py and the
set of hidden tests, so they stay right as hidden tests are added."""
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from grading.sandbox import ROOT, backend, no_sandbox_reason
from llmlab.tasks import BY_ID, EXERCISE_MODULES, TASKS

FIXTURES = ROOT / "grading" / "fixtures"
SOLUTIONS = ROOT / "solutions" / "llmlab"


def require_bwrap():
    """Skip only where bubblewrap is not installed (never under CI=true); fail where it is but cannot be used."""
    if shutil.which("bwrap") is None and os.environ.get("CI") != "true":
        pytest.skip("bubblewrap is not installed")
    assert backend() == "bwrap", f"bubblewrap is installed but unusable: {no_sandbox_reason()}"


def reference_modules() -> dict:
    return {m: (SOLUTIONS / f"{m}.py").read_text(encoding="utf-8") for m in EXERCISE_MODULES
            if (SOLUTIONS / f"{m}.py").exists()}


def stub(module: str) -> str:
    return (ROOT / "llmlab" / f"{module}.py").read_text(encoding="utf-8")


def task_names(module: str) -> tuple:
    return tuple(name for t in TASKS if t.module == module for name in t.names)


def attacked(module: str, fixture: str, **substitutions) -> str:
    """The reference of `module` with grading/fixtures/<fixture>.py appended (its _TASK_NAMES defined)."""
    source = (FIXTURES / f"{fixture}.py").read_text(encoding="utf-8")
    for key, value in substitutions.items():
        source = source.replace("{{" + key + "}}", str(value))
    return (reference_modules()[module] + f"\n\n# ---- fixture: {fixture} ----\n_TASK_NAMES = {task_names(module)!r}\n"
            + source)


def choose_modules(graded: dict) -> tuple[str, str]:
    """(attack module, other task): a module with graded tasks to attack (the one with the fewest hidden
    tests, to keep the batch fast), and a graded task of another module whose reference does not mention the
    attack module, to show that the rest of a submission keeps its score (t04_flops, pure arithmetic, first)."""
    def cost(module):
        return sum(len(ids) for task, ids in graded.items() if BY_ID[task].module == module)
    for other in sorted(graded, key=lambda t: (BY_ID[t].module != "flops", t)):
        source = (SOLUTIONS / f"{BY_ID[other].module}.py").read_text(encoding="utf-8")
        for module in sorted({BY_ID[t].module for t in graded} - {BY_ID[other].module}, key=cost):
            if not re.search(rf"\b{module}\b", source):
                return module, other
    raise AssertionError(f"need graded tasks in two independent modules, have {sorted(graded)}")


def submission(release: Path, dest: Path, modules: dict | None = None, notebooks: dict | None = None) -> Path:
    """A copy of the release with some exercise modules (and notebooks: {file name: bytes or None to delete})
    replaced."""
    shutil.copytree(release, dest)
    for module, text in (modules or {}).items():
        (dest / "llmlab" / f"{module}.py").write_text(text, encoding="utf-8")
    for name, data in (notebooks or {}).items():
        path = dest / "notebooks" / name
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)
    return dest


def zipped(folder: Path, zip_path: Path, extra: dict | None = None) -> Path:
    """zip `folder`'s content (plus extra {archive name: bytes}) into zip_path, then delete the folder."""
    with zipfile.ZipFile(zip_path, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    shutil.rmtree(folder)
    return zip_path


# ---- a throwaway nbgrader source notebook for one task ------------------------------------------------------

def _cell(cell_type, source, nbgrader=None):
    cell = {"cell_type": cell_type, "metadata": {}, "source": source}
    if nbgrader:
        cell["metadata"]["nbgrader"] = {"schema_version": 3, "solution": False, "task": False, **nbgrader}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def source_notebook(task_id: str) -> dict:
    """An nbgrader source notebook with a locked intro and one check cell (grade_id = task_id)."""
    task = BY_ID[task_id]
    check = (f"import llmlab.{task.module} as exercise\nassert callable(exercise.{task.names[0]})\n"
             f"### BEGIN HIDDEN TESTS\nassert exercise.{task.names[0]}.__doc__\n### END HIDDEN TESTS\n")
    cells = [_cell("markdown", f"# {task.notebook}", {"grade": False, "grade_id": "intro", "locked": True}),
             _cell("code", "import llmlab\nprint(llmlab.__name__)"),
             _cell("code", check, {"grade": True, "grade_id": task_id, "locked": True, "points": task.points})]
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                         "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


def write_source_notebook(folder: Path, task_id: str) -> Path:
    notebook = source_notebook(task_id)
    for i, cell in enumerate(notebook["cells"]):
        cell["id"] = f"cell-{i}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{BY_ID[task_id].notebook}.ipynb"
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return path


def edit_grade_cell(notebook: bytes, grade_id: str, new_source: str | None) -> bytes:
    """The notebook with the cell `grade_id` given new source, or deleted (None)."""
    data = json.loads(notebook)
    cells = []
    for cell in data["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            if new_source is None:
                continue
            cell["source"] = new_source
        cells.append(cell)
    data["cells"] = cells
    return json.dumps(data).encode()
