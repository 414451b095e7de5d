"""The course notebooks, graded with nbgrader's own machinery, their student code run in the sandbox.

- solutions/notebooks/NN_name.ipynb are nbgrader *source* notebooks. Each exercise has one autograded test
  cell whose grade_id is the task ID and whose points are the task's (llmlab/tasks.py); its visible code runs
  the public tests (`llmlab.check(...)`), its `### BEGIN/END HIDDEN TESTS` block adds property checks.
- `python -m grading notebooks` regenerates notebooks/ (the student form: solutions and hidden tests stripped,
  outputs cleared) with `nbgrader generate_assignment` in a temporary course directory.
- Autograding prepares a real nbgrader course directory (`prepare_course`, with its gradebook.db) and grades
  each submission's notebooks as `nbgrader autograde` would: locked cells restored from the gradebook (which
  puts the hidden tests back), outputs cleared, the notebooks executed by nbgrader's Execute preprocessor, each
  grade cell scored by nbgrader's determine_grade. The differences: the execution happens in the sandbox, and
  a grade cell that was deleted or edited, or that fails, is reported per task (the caller halves the task).
"""
import builtins
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grading.sandbox import ROOT, Jail, Limits, SubmissionError
from grading.warm import warm_start
from llmlab.tasks import BY_ID, NOTEBOOKS

ASSIGNMENT = "lecture11"
SOURCE = ROOT / "solutions" / "notebooks"
RELEASED = ROOT / "notebooks"
CONFIG = '''c = get_config()
c.CourseDirectory.course_id = "llm-lecture11"
c.CourseDirectory.root = {root!r}
'''
MAX_JSON_ITEMS = 1_000_000   # commas, brackets and braces of one executed notebook from the sandbox: what parsing
                             # it costs in the grader's memory (a real one has a few thousand)
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def source_notebooks(source: Path = SOURCE) -> list[Path]:
    return sorted(Path(source).glob("*.ipynb"))


def generate_assignment(course: Path, source: Path = SOURCE) -> Path:
    """Run `nbgrader generate_assignment` on `source` in the course directory `course`; return the release."""
    course = Path(course).resolve()
    target = course / "source" / ASSIGNMENT
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    (course / "nbgrader_config.py").write_text(CONFIG.format(root=str(course)), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
                            cwd=course, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return course / "release" / ASSIGNMENT


def release_files(source: Path = SOURCE) -> dict[str, bytes]:
    """{relative path: content} of the student form of the source notebooks (and their other files)."""
    with tempfile.TemporaryDirectory() as course:
        released = generate_assignment(Path(course), source)
        for notebook in released.glob("*.ipynb"):
            strip_widgets(notebook)
        return {p.relative_to(released).as_posix(): p.read_bytes()
                for p in sorted(released.rglob("*")) if p.is_file()}


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def widgets_of(notebook: dict) -> list[str]:
    """Where a notebook holds saved widgets: widget state in its metadata, widget views among the outputs.

    A reopened notebook has no live widget models, so JupyterLab shows "Error displaying widget: model not
    found" for every saved view (tqdm's progress bars are widgets)."""
    found = ["metadata.widgets"] if "widgets" in notebook.get("metadata", {}) else []
    return found + [f"cell {i}" for i, cell in enumerate(notebook["cells"])
                    if any(WIDGET_VIEW in output.get("data", {}) for output in cell.get("outputs", []))]


def strip_widgets(path: Path) -> bool:
    """Remove saved widget state and widget-view outputs from a notebook file (written as Jupyter writes it);
    True if there were any."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    if not widgets_of(notebook):
        return False
    notebook["metadata"].pop("widgets", None)
    for cell in notebook["cells"]:
        if "outputs" in cell:
            cell["outputs"] = [o for o in cell["outputs"] if WIDGET_VIEW not in o.get("data", {})]
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def write_release(source: Path = SOURCE, dest: Path = RELEASED) -> list[str]:
    """Strip saved widgets from solutions/notebooks/ and regenerate notebooks/ from it; return the paths that
    changed."""
    changed = [f"{p} (saved widgets removed)" for p in source_notebooks(source) if strip_widgets(p)]
    wanted = release_files(source)
    dest.mkdir(exist_ok=True)
    for rel, data in wanted.items():
        path = dest / rel
        if not path.exists() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            changed.append(str(path.relative_to(ROOT)))
    for path in dest.rglob("*"):
        if path.is_file() and path.relative_to(dest).as_posix() not in wanted and ".ipynb_checkpoints" not in path.parts:
            path.unlink()
            changed.append(str(path.relative_to(ROOT)))
    return changed


def grade_cells(path: Path) -> list[dict]:
    """The nbgrader metadata of every grade cell of a notebook file."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    return [cell["metadata"]["nbgrader"] for cell in notebook["cells"]
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade")]


def check_sources(source: Path = SOURCE) -> list[str]:
    """Problems with the source notebooks: names, grade_ids and points must match llmlab/tasks.py."""
    problems, seen = [], {}
    for path in source_notebooks(source):
        if path.stem not in NOTEBOOKS.values():
            problems.append(f"{path.name}: not a notebook of llmlab/tasks.py NOTEBOOKS")
        for meta in grade_cells(path):
            task_id = meta.get("grade_id")
            task = BY_ID.get(task_id)
            if task is None:
                problems.append(f"{path.name}: grade cell {task_id!r} is not a task ID")
                continue
            if task_id in seen:
                problems.append(f"{path.name}: a second grade cell {task_id} (first in {seen[task_id]})")
            seen[task_id] = path.name
            if task.notebook != path.stem:
                problems.append(f"{path.name}: {task_id} belongs in {task.notebook}.ipynb")
            if float(meta.get("points", -1)) != float(task.points):
                problems.append(f"{path.name}: {task_id} has {meta.get('points')} points, tasks.py says {task.points}")
            if not meta.get("locked"):
                problems.append(f"{path.name}: the grade cell {task_id} is not locked")
    present = {p.stem for p in source_notebooks(source)}
    for task in BY_ID.values():
        if task.notebook in present and task.id not in seen:
            problems.append(f"{task.notebook}.ipynb: no grade cell for {task.id}")
    return problems


# ---- the course for autograding -----------------------------------------------------------------------------

@dataclass
class Course:
    """What grading a submission's notebooks needs from the gradebook, as plain data (also for remote workers).

    notebooks: {name: {"release": notebook JSON as students got it, "cells": {grade_id: source cell},
    "points": {grade_id: max score}}}; files: the release's other files, {relative path: bytes}."""
    directory: str
    notebooks: dict
    files: dict = field(default_factory=dict)


def prepare_course(course: Path, source: Path = SOURCE) -> Course | None:
    """Make `course` an nbgrader course directory for the source notebooks (gradebook.db with the source and
    grade cells, the release) and return what grading needs; None when there are no source notebooks."""
    if not source_notebooks(source):
        return None
    problems = check_sources(source)
    if problems:
        raise RuntimeError("the source notebooks do not match llmlab/tasks.py:\n" + "\n".join(problems))
    generate_assignment(course, source)
    return load_course(course)


def load_course(course: Path) -> Course:
    """What grading needs from an nbgrader course directory made by prepare_course."""
    from nbgrader.api import Gradebook
    released, notebooks = Path(course) / "release" / ASSIGNMENT, {}
    with Gradebook(gradebook_url(course)) as gradebook:
        for notebook in gradebook.find_assignment(ASSIGNMENT).notebooks:
            if not (released / f"{notebook.name}.ipynb").exists():
                continue            # a notebook made from llmlab/tasks.py alone: nothing to run
            notebooks[notebook.name] = {
                "release": (released / f"{notebook.name}.ipynb").read_text(encoding="utf-8"),
                "cells": {c.name: {"name": c.name, "cell_type": c.cell_type, "locked": c.locked,
                                   "checksum": c.checksum, "source": c.source} for c in notebook.source_cells},
                "points": {c.name: c.max_score for c in notebook.grade_cells}}
    files = {p.relative_to(released).as_posix(): p.read_bytes() for p in released.rglob("*")
             if p.is_file() and p.suffix != ".ipynb"}
    return Course(str(Path(course).resolve()), notebooks, files)


def gradebook_url(course) -> str:
    return f"sqlite:///{Path(course).resolve()}/gradebook.db"


class _Entry:
    def __init__(self, **fields):
        self.__dict__.update(fields)


class _GradebookSnapshot:
    """The part of nbgrader's Gradebook that OverwriteCells reads, served from the Course's plain data."""

    def __init__(self, course: Course):
        self.course = course

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def find_source_cell(self, name, notebook, assignment):
        from nbgrader.api import MissingEntry
        try:
            return _Entry(**self.course.notebooks[notebook]["cells"][name])
        except KeyError:
            raise MissingEntry() from None

    def find_graded_cell(self, name, notebook, assignment):
        return _Entry(max_score=self.course.notebooks[notebook]["points"][name])


def _restore(notebook, course: Course, name: str):
    """nbgrader autograde's sanitizing steps: clear outputs, deduplicate cell ids, restore locked cells (the
    hidden tests come back) and grade metadata from the gradebook, then check the metadata."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteCells

    class OverwriteFromSnapshot(OverwriteCells):
        def preprocess(self, nb, resources):
            self.notebook_id, self.assignment_id = name, ASSIGNMENT
            self.gradebook = _GradebookSnapshot(course)
            return super(OverwriteCells, self).preprocess(nb, resources)

    resources = {"nbgrader": {"notebook": name, "assignment": ASSIGNMENT, "db_url": None}}
    for step in (ClearOutput(), DeduplicateIds(), OverwriteFromSnapshot(), CheckCellMetadata()):
        notebook, resources = step.preprocess(notebook, resources)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    return notebook


def _by_grade_id(notebook) -> dict:
    cells = {}
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            cells.setdefault(grade_id, cell)
    return cells


def tampering(submitted, released) -> dict[str, str]:
    """{grade_id: "deleted" | "edited"} for the locked cells of the release that the submission lacks or
    changed (compared with the cell as released; nbgrader restores edited ones when it runs the notebook)."""
    mine, problems = _by_grade_id(submitted), {}
    for grade_id, cell in _by_grade_id(released).items():
        if not cell.metadata["nbgrader"].get("locked"):
            continue
        theirs = mine.get(grade_id)
        if theirs is None:
            problems[grade_id] = "deleted"
        elif theirs.cell_type != cell.cell_type or theirs.source.strip() != cell.source.strip():
            problems[grade_id] = "edited"
    return problems


@dataclass
class NotebookResult:
    failures: dict = field(default_factory=dict)    # task ID -> why its check cell does not count as passed
    notes: list = field(default_factory=list)       # other remarks for the student
    executed: dict = field(default_factory=dict)    # notebook name -> executed notebook JSON (instructor only)


def grade_notebooks(course: Course, submitted: dict, package: Path, scratch: Path, limits: Limits,
                    log: Path) -> NotebookResult:
    """Grade a submission's notebooks. submitted: {file name: bytes}; package: the folder holding the
    submission's assembled llmlab/. Only failures are reported: a task absent from `failures` passed."""
    result = NotebookResult()
    folder = Path(scratch) / "notebook-run"
    shutil.copytree(package / "llmlab", folder / "llmlab", symlinks=False)
    shutil.copytree(ROOT / "tests", folder / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ROOT / "pyproject.toml", folder / "pyproject.toml")
    for rel, data in course.files.items():
        (folder / "notebooks" / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / "notebooks" / rel).write_bytes(data)
    (folder / "notebooks").mkdir(exist_ok=True)
    runnable = {}   # name -> the prepared notebook (hidden tests restored): sent to the sandbox, never on its disk
    for name, info in course.notebooks.items():
        fail = _failer(result, name, info)
        data = submitted.get(f"{name}.ipynb")
        if data is None:
            fail(f"{name}.ipynb is missing from the submission")
            continue
        try:
            notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
            nbformat.validate(notebook)
        except Exception as e:  # noqa: BLE001 - any unreadable notebook
            fail(f"{name}.ipynb is not a valid notebook ({type(e).__name__}: {str(e)[:150]})")
            continue
        released = nbformat.reads(info["release"], as_version=4)
        for grade_id, what in tampering(notebook, released).items():
            if grade_id in info["points"]:
                fail(f"the locked check cell {grade_id} in {name}.ipynb was {what}; locked cells must stay as "
                     f"released", grade_id)
            else:
                result.notes.append(f"the locked cell {grade_id} in {name}.ipynb was {what}"
                                    + ("; it was restored" if what == "edited" else ""))
        try:
            notebook = _restore(notebook, course, name)
        except Exception as e:  # noqa: BLE001 - nbgrader refuses the notebook
            fail(f"{name}.ipynb could not be prepared for grading ({type(e).__name__}: {str(e)[:150]})")
            continue
        runnable[name] = nbformat.writes(notebook)
    if runnable:
        runs = _execute(folder, runnable, limits, log)
        for name in runnable:
            _score(result, name, course.notebooks[name], runs.get(name))
    return result


def _failer(result: NotebookResult, name: str, info: dict):
    def fail(reason: str, grade_id: str | None = None):
        for task_id in ([grade_id] if grade_id else info["points"]):
            result.failures.setdefault(task_id, reason)
    return fail


def _execute(folder: Path, notebooks: dict[str, str], limits: Limits, log: Path) -> dict:
    """Run the notebooks ({name: notebook JSON}) in the sandbox, in the folder's notebooks/ (which holds no
    hidden test); {name: {"notebook": JSON, "error": ...}} for those that finished."""
    jail = Jail(folder, [sys.executable, "-s", "{harness}/grading/nbrun.py", *(["--warm"] if warm_start() else [])], limits, log,
                cwd="{package}/notebooks")
    deadline = time.monotonic() + limits.submission_seconds
    output = b""
    try:
        request = json.dumps({"notebooks": notebooks, "cell_seconds": limits.cell_seconds})
        jail.send(request.encode(), deadline)
        output = jail.read_all(deadline)
    except (TimeoutError, OSError, SubmissionError):
        output = jail.partial           # the notebooks that finished before the time limit or a crash
    finally:
        jail.close()
    return parse_runs(output)


def parse_runs(output: bytes) -> dict:
    """{name: run} from nbrun.py's JSON lines; a line that is malformed, or whose JSON structure is too large
    to parse safely here (MAX_JSON_ITEMS), is left out, so that its notebook counts as not finished."""
    runs = {}
    for line in output.splitlines():
        if sum(line.count(c) for c in (b",", b"[", b"{")) > MAX_JSON_ITEMS:
            continue
        try:
            run = json.loads(line.decode("utf-8", "replace"))
            runs[Path(run["name"]).stem] = run
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return runs


def _score(result: NotebookResult, name: str, info: dict, run: dict | None):
    from nbgrader.utils import determine_grade
    fail = _failer(result, name, info)
    if not isinstance(run, dict) or not isinstance(run.get("notebook"), str):
        fail(f"{name}.ipynb did not finish running (the time limit for the notebooks ran out, or it crashed)")
        return
    try:
        executed = nbformat.reads(run["notebook"], as_version=4)
    except Exception:  # noqa: BLE001 - whatever came back from the sandbox
        fail(f"{name}.ipynb came back unreadable from the sandbox")
        return
    result.executed[name] = run["notebook"]
    cells = _by_grade_id(executed)
    for grade_id in info["points"]:
        cell = cells.get(grade_id)
        if cell is None or cell.cell_type != "code" or not cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            fail(f"the check cell {grade_id} in {name}.ipynb did not run", grade_id)
            continue
        try:
            score, points = determine_grade(cell)
        except Exception:  # noqa: BLE001
            score, points = 0, 1
        if score is None or score < points:
            fail(f"the check cell {grade_id} in {name}.ipynb failed ({_why(cell)}); run it in the notebook "
                 f"to see the details", grade_id)


BUILTIN_EXCEPTIONS = {name for name, value in vars(builtins).items()
                      if isinstance(value, type) and issubclass(value, BaseException)}


def _why(cell) -> str:
    """Why a check cell failed, in a fixed vocabulary: the kernel that ran it held the hidden test code, so no
    text of its outputs may reach the student (an exception's type name could carry that code)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            name = output.get("ename")
            return name if name in BUILTIN_EXCEPTIONS else "an exception of its own type"
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return "it wrote to stderr, which nbgrader counts as a failure"
    if not cell.get("outputs") and cell.get("execution_count") is None:
        return "it was not executed"
    return "a partial score"
