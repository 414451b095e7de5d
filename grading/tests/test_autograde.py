"""End to end: the student release is built, fixture submissions are made from it (grading/tests/builders.py)
and graded, with --jobs 2. The reference scores full marks, the blank release 0 with every task "not
implemented", a partial submission exactly the points of what it implements, and every hostile or broken
submission 0 for the affected tasks with a clear reason while the rest of the batch is untouched."""
import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from grading.autograde import autograde, inventory
from grading.notebooks import release_files
from grading.release import build_release, secret_fragments
from grading.sandbox import ROOT, Limits, backend, no_sandbox_reason
from grading.tests import builders as b
from llmlab.tasks import BY_ID, MAX_POINTS, TASK_IDS

HOSTILE = {  # fixture -> what its reason must say (None: the score alone is checked)
    "exit_at_import": "sys.exit(3)",
    "os_exit_at_import": "exited with code 7",
    "infinite_loop": "time limit",
    "memory_bomb": "memory limit",
    "always_equal": None,
    "monkeypatch": None,
    "read_solutions": "no solution found",
    "read_other_student": "no other submission found",
    "forge_results": None,
    "network": "no network",
    "print_flood": "output limit",
    "fork_bomb": None,
    "huge_exception": "your code raised EEEE",
}
MALFORMED = {"not-a-zip": "not a valid zip file", "traversal": "unsafe path", "no-llmlab": "no llmlab/ folder"}
MARKER = "FORGED-BY-STUDENT"


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return build_release(tmp_path_factory.mktemp("release") / "llmlab-release")


@pytest.fixture(scope="module")
def graded():
    tests = inventory()
    if len({BY_ID[t].module for t in tests}) < 2:
        pytest.skip("needs hidden tests for two exercise modules")
    return tests


def results(out, student) -> dict:
    data = json.loads((out / student / "results.json").read_text(encoding="utf-8"))
    return {t["number"]: t for t in data["tests"]} | {"_total": data["score"], "_data": data}


def sheet(out) -> dict:
    with open(out / "grades.csv", encoding="utf-8") as f:
        return {row["student_id"]: {k: float(v) for k, v in row.items() if k not in ("student_id", "sandbox", "submitted_at")}
                for row in csv.DictReader(f)}


def assert_no_secrets(out, extra=()):
    """Nothing for students (feedback.html, results.json) holds hidden test code or solution code."""
    fragments = [text for _, text in secret_fragments()] + list(extra)
    for path in list(out.glob("*/feedback.html")) + list(out.glob("*/results.json")):
        text = " ".join(path.read_text(encoding="utf-8").split())
        leaked = [f for f in fragments if f in text]
        assert not leaked, f"{path} shows hidden material: {leaked[0][:200]}"


# ---- every task: reference, blank, partial -----------------------------------------------------------------

def test_reference_blank_and_partial_on_every_task(release, graded, tmp_path):
    module, _ = b.choose_modules(graded)
    reference, subs, out = b.reference_modules(), tmp_path / "submissions", tmp_path / "out"
    b.submission(release, subs / "reference", reference)
    b.submission(release, subs / "blank")
    b.submission(release, subs / "partial", reference | {module: b.stub(module)})
    rows = autograde(subs, out, jobs=2, notebooks=None, progress=False)
    assert [r["student_id"] for r in rows] == ["blank", "partial", "reference"]
    scores = sheet(out)
    full = {t: float(BY_ID[t].points) if t in graded else 0.0 for t in TASK_IDS}
    total = sum(full.values())

    assert {k: v for k, v in scores["reference"].items() if k in TASK_IDS} == full
    assert scores["reference"]["total"] == total and scores["reference"]["max"] == MAX_POINTS
    ref = results(out, "reference")
    for task in TASK_IDS:
        assert ref[task]["max_score"] == BY_ID[task].points
        assert ref[task]["status"] == ("passed" if task in graded else "failed"), ref[task]["output"]
        if task not in graded:
            assert "no hidden tests" in ref[task]["output"]

    assert scores["blank"]["total"] == 0
    blank = results(out, "blank")
    for task in graded:
        assert blank[task]["output"].startswith("not implemented"), blank[task]["output"]
        assert f"not implemented yet ({task}: implement" in blank[task]["output"]

    lost = sum(BY_ID[t].points for t in graded if BY_ID[t].module == module)
    assert scores["partial"]["total"] == total - lost
    partial = results(out, "partial")
    for task in graded:
        expected = 0 if BY_ID[task].module == module else BY_ID[task].points
        assert partial[task]["score"] == expected, (task, partial[task]["output"])
    assert_no_secrets(out)


# ---- notebooks: restored, executed in the sandbox, tampering halves the task; the gradebook -----------------

def test_notebooks_and_gradebook(release, graded, tmp_path):
    _, task = b.choose_modules(graded)
    source = tmp_path / "course-source"
    b.write_source_notebook(source, task)
    name = f"{BY_ID[task].notebook}.ipynb"
    released = release_files(source)[name]
    reference, subs, out = b.reference_modules(), tmp_path / "submissions", tmp_path / "out"
    b.submission(release, subs / "reference", reference, {name: released})
    b.submission(release, subs / "nb-invalid", reference, {name: b"{ this is not json"})
    b.submission(release, subs / "nb-deleted", reference, {name: b.edit_grade_cell(released, task, None)})
    b.submission(release, subs / "nb-edited", reference, {name: b.edit_grade_cell(
        b.edit_grade_cell(released, task, "pass"), "intro", "# my own title")})
    b.submission(release, subs / "nb-failing", reference | {BY_ID[task].module: b.attacked(
        BY_ID[task].module, "undocumented")}, {name: released})
    injection = json.loads((b.FIXTURES / "script_injection.json").read_text(encoding="utf-8"))["cells"]
    b.submission(release, subs / "nb-script", reference, {name: _with_cells(released, injection)})
    submitted = []

    class CountingExecutor(ProcessPoolExecutor):  # any concurrent.futures executor will do: what it runs
        #                                           and what it returns must pickle, as for Dask's
        def submit(self, fn, *args, **kwargs):
            submitted.append(args[0])
            return super().submit(fn, *args, **kwargs)

    with CountingExecutor(max_workers=2) as executor:
        autograde(subs, out, executor=executor, tasks=[task], notebooks=source, progress=False)
    assert sorted(submitted) == sorted(p.name for p in subs.iterdir())
    scores = sheet(out)
    points = BY_ID[task].points
    assert scores["reference"]["total"] == scores["nb-script"]["total"] == points
    for student, reason in [("nb-invalid", "not a valid notebook"), ("nb-deleted", "was deleted"),
                            ("nb-edited", "was edited"), ("nb-failing", "failed (AssertionError)")]:
        got = results(out, student)[task]
        assert scores[student]["total"] == points / 2, (student, got["output"])
        assert reason in got["output"] and "halved" in got["output"], (student, got["output"])
    assert "the locked cell intro in" in results(out, "nb-edited")["_data"]["output"]   # restored, noted

    # the gradebook holds the same scores: nbgrader's export and the formgrader read them from there
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{out / 'nbgrader' / 'gradebook.db'}") as gradebook:
        for student, row in scores.items():
            assert gradebook.find_submission("lecture11", student).score == pytest.approx(row["total"])
    export = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(tmp_path / "nbgrader.csv")],
                            cwd=out / "nbgrader", capture_output=True, text=True)
    assert export.returncode == 0, export.stderr[-2000:]
    with open(tmp_path / "nbgrader.csv", encoding="utf-8") as f:
        exported = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}
    assert exported == pytest.approx({s: r["total"] for s, r in scores.items()})
    executed = out / "nbgrader" / "autograded" / "reference" / "lecture11" / name
    assert "### BEGIN HIDDEN TESTS" in executed.read_text()   # instructors see the restored hidden tests...
    assert_no_secrets(out, extra=[f"assert exercise.{BY_ID[task].names[0]}.__doc__"])  # ...students never
    autograded = json.loads((out / "nbgrader" / "autograded" / "nb-script" / "lecture11" / name).read_text())
    shown = json.dumps([c["outputs"] if c["cell_type"] == "code" else c["source"] for c in autograded["cells"]])
    assert "&lt;script&gt;document.title" in shown and "<b>shown</b>" in shown   # it ran, and was cleaned
    for script in ("<script", "<img", "application/javascript", "image/svg+xml"):   # code is shown escaped
        assert script not in shown, script

    # a second run grades nobody again (unless --force) and writes the same sheet
    before = (out / "grades.csv").read_text()
    submitted.clear()
    with CountingExecutor(max_workers=2) as executor:
        autograde(subs, out, executor=executor, tasks=[task], notebooks=source, progress=False)
    assert submitted == [] and (out / "grades.csv").read_text() == before


# ---- a batch of hostile and broken submissions, from the command line -------------------------------------

def test_batch_of_hostile_and_broken_submissions(release, graded, tmp_path):
    b.require_bwrap()
    module, other = b.choose_modules(graded)
    tasks = [t for t in graded if BY_ID[t].module == module] + [other]
    listener, heard = _listen()
    reference = b.reference_modules()
    subs = tmp_path / "submissions"
    b.submission(release, subs / "reference", reference)
    b.zipped(b.submission(release, subs / "zipped", reference), subs / "zipped.zip")
    b.submission(release, subs / "blank")
    b.submission(release, subs / "partial", reference | {module: b.stub(module)})
    for name in HOSTILE:
        b.submission(release, subs / name.replace("_", "-"),
                     reference | {module: b.attacked(module, name, PORT=listener.getsockname()[1])})
    (subs / "not-a-zip.zip").write_bytes(b"PK\x03\x04 not really a zip " * 100)
    escaped = tmp_path / "escaped-by-traversal.txt"
    b.zipped(b.submission(release, subs / "traversal", reference), subs / "traversal.zip",
             {f"../../{escaped.name}": MARKER.encode()})
    (subs / "no-llmlab" / "notebooks").mkdir(parents=True)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grading", "autograde", str(subs), "--out", str(out), "--jobs", "2",
               "--no-notebooks", "--call-timeout", "30", "--output-mb", "4", "--sandbox", "bwrap",
               *[f"--task={t}" for t in tasks]]
    started = time.monotonic()
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    seconds = time.monotonic() - started
    assert "students graded: 100%" in run.stderr

    scores = sheet(out)
    assert len(scores) == 4 + len(HOSTILE) + len(MALFORMED) >= 10
    full = {t: float(BY_ID[t].points) if t in tasks else 0.0 for t in TASK_IDS}
    for student in ("reference", "zipped"):
        assert {k: v for k, v in scores[student].items() if k in TASK_IDS} == full, student
    assert scores["blank"]["total"] == 0
    for student in ["partial", *(n.replace("_", "-") for n in HOSTILE)]:
        got = results(out, student)
        for task in tasks:
            expected = BY_ID[task].points if task == other else 0
            assert got[task]["score"] == expected, (student, task, got[task]["output"])
    for name, reason in HOSTILE.items():
        if reason:
            outputs = " ".join(results(out, name.replace("_", "-"))[t]["output"] for t in tasks if t != other)
            assert reason in outputs, (name, outputs)
    for student, reason in MALFORMED.items():
        assert scores[student]["total"] == 0
        assert reason in results(out, student)["_data"]["output"], (student, results(out, student)["_data"])

    for path in list(out.glob("*/results.json")) + list(out.glob("*/feedback.html")):
        assert path.stat().st_size < 256 << 10, f"{path} is {path.stat().st_size} bytes"
    assert heard == [], f"the sandbox reached the network: {heard}"
    assert not escaped.exists() and not list(tmp_path.rglob(escaped.name))
    for path in out.rglob("*"):
        if path.is_file() and "logs" not in path.parts:
            assert MARKER.encode() not in path.read_bytes(), f"{path} holds forged content"
    assert_no_secrets(out)

    # again without --force: nobody is graded twice
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and sheet(out) == scores
    print(f"graded {len(scores)} submissions in {seconds:.0f} s with --jobs 2")


# ---- the command line by the interpreter's full path; names that would collide with the grader's own files ---

def test_full_interpreter_path_and_names_of_the_graders_own_files(release, tmp_path):
    """`/path/to/venv/bin/python -m grading autograde` with a PATH that lacks the venv (as cron runs it) grades,
    with notebooks (nbgrader runs `alembic`); submissions named like the grader's outputs are refused, each
    with a warning, and the others are graded; every output says which sandbox was used."""
    task, subs, out = "t04_flops", tmp_path / "submissions", tmp_path / "out"
    b.write_source_notebook(tmp_path / "source", task)
    b.submission(release, subs / "blank")
    refused = ["grades.csv.zip", "LOGS", "nbgrader.zip", ".hidden.zip"]
    for name in refused:
        b.zipped(b.submission(release, subs / "copy"), subs / name) if name.endswith(".zip") else \
            b.submission(release, subs / name)
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/"), "LANG": "C.UTF-8",   # as cron's
           "TMPDIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "grading", "autograde", str(subs), "--out", str(out),
                          "--notebooks", str(tmp_path / "source"), f"--task={task}"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for name in refused:
        assert f"warning: {name}: ignored" in run.stderr, name
    how = f"WITHOUT a sandbox ({no_sandbox_reason()})" if backend() == "none" else "in the bwrap sandbox"
    assert f"graded 1 submissions, {how}" in run.stdout
    assert f"graded 1 of 1 submissions, {how}" in (out / "logs" / "autograde.log").read_text()
    with open(out / "grades.csv", encoding="utf-8") as f:
        assert [(r["student_id"], r["sandbox"]) for r in csv.DictReader(f)] == [("blank", backend())]
    assert results(out, "blank")["_data"]["extra_data"]["sandbox"] == backend()
    assert sorted(p.name for p in out.iterdir()) == ["blank", "grades.csv", "logs", "nbgrader"]
    assert not (out / "logs" / "feedback.html").exists() and not (out / "nbgrader" / "results.json").exists()
    assert list(tmp_path.glob("llmlab-reference-*")) == []    # no copy of the solutions left by the trusted runs


@pytest.mark.parametrize("interrupt", [signal.SIGINT, signal.SIGTERM])
def test_reference_copies_are_removed_on_interrupt(tmp_path, interrupt):
    """A pytest run of this repository, interrupted as soon as its reference overlay exists, removes it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LLMLAB_"))} | {"TMPDIR": str(tmp_path)}
    run = subprocess.Popen([sys.executable, "-m", "pytest", "tests/test_flops.py", "-q", "-p", "no:cacheprovider"],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not list(tmp_path.glob("llmlab-reference-*")) and run.poll() is None:
        time.sleep(0.01)
    seen = len(list(tmp_path.glob("llmlab-reference-*")))
    run.send_signal(interrupt)
    run.wait(timeout=120)
    assert seen == 1 and list(tmp_path.glob("llmlab-reference-*")) == []


# ---- a budget per submission -------------------------------------------------------------------------------

def test_one_submission_cannot_cost_more_than_its_budget(release, graded, tmp_path):
    """With 4 s per call and 20 s per submission (hidden tests and notebooks together): a submission whose
    every call stalls just under 4 s runs out of its budget and its notebook does not finish; a module that
    loops or ends its process at import is imported once, and its tests fail at once with that reason; a
    memory bomb in every test ends each call at a limit."""
    b.require_bwrap()
    module, other = b.choose_modules(graded)
    tasks = [t for t in graded if BY_ID[t].module == module]
    b.write_source_notebook(tmp_path / "source", other)
    name = f"{BY_ID[other].notebook}.ipynb"
    released = release_files(tmp_path / "source")[name]
    subs, out, reference = tmp_path / "submissions", tmp_path / "out", b.reference_modules()
    for fixture in ("sleep_under_limit", "loop_at_import", "os_exit_at_import", "memory_bomb"):
        b.submission(release, subs / fixture, reference | {module: b.attacked(module, fixture, SECONDS=3.8)},
                     {name: released})
    autograde(subs, out, jobs=2, tasks=[*tasks, other], notebooks=tmp_path / "source", progress=False,
              limits=Limits(call_seconds=4, submission_seconds=20, memory_mb=2048))
    messages = {}
    for student in sheet(out):
        got = results(out, student)
        assert all(got[t]["score"] == 0 for t in tasks), (student, got)
        messages[student] = [m for t in tasks for m in got[t]["output"].splitlines() if m.startswith("- ")]
        print(student, got["_data"]["extra_data"]["seconds"], "s")
    stalled = results(out, "sleep_under_limit")[other]["output"]    # the tests after the stalled ones
    assert "the time limit of 20 s for the whole submission is used up" in stalled
    assert "did not finish running (the time limit for the notebooks ran out" in stalled
    for student, reason in [("loop_at_import", f"time limit of 4 s exceeded in the import of llmlab/{module}.py"),
                            ("os_exit_at_import", "exited with code 7")]:
        imported = [m for m in messages[student] if "could not be imported" in m and reason in m]
        assert imported and all(m in imported or "used up" in m for m in messages[student]), messages[student]
    assert all(re.search("memory limit|time limit|ran out of time", m) for m in messages["memory_bomb"])


def test_cpu_time_of_one_submission_is_bounded(release, graded, tmp_path):
    """Three processes that spin in every call of one module: the submission's CPU budget (15 s, all of its
    sandboxed processes together, the worker's start included) ends its grading long before its wall budget
    (120 s) or the per-call limit (30 s a test) would; its tests fail with the CPU budget's reason."""
    b.require_bwrap()
    module, _ = b.choose_modules(graded)
    tasks = [t for t in graded if BY_ID[t].module == module]
    subs, out = tmp_path / "submissions", tmp_path / "out"
    b.submission(release, subs / "burn_cpu_in_parallel",
                 b.reference_modules() | {module: b.attacked(module, "burn_cpu_in_parallel")})
    autograde(subs, out, tasks=tasks, notebooks=None, progress=False,
              limits=Limits(call_seconds=30, submission_seconds=120, submission_cpu_seconds=15))
    got = results(out, "burn_cpu_in_parallel")
    assert all(got[t]["score"] == 0 for t in tasks), got
    reasons = " ".join(got[t]["output"] for t in tasks)
    if "CPU time limited per process only" in (out / "logs" / "autograde.log").read_text():
        pytest.skip("no cgroup counts CPU time here (not root, or no cpuacct)")
    assert "the CPU time limit of 15 s for the whole submission is used up" in reasons, reasons
    assert got["_data"]["extra_data"]["seconds"] < 60, "ended by the wall budget, not by the CPU budget"


def _with_cells(notebook: bytes, cells: list) -> bytes:
    data = json.loads(notebook)
    data["cells"] += [dict(cell, id=f"added-{i}") for i, cell in enumerate(cells)]
    return json.dumps(data).encode()


def _listen():
    """A TCP listener on 127.0.0.1 of the grading machine; `heard` collects whatever reaches it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    heard = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            heard.append(connection.recv(100))
            connection.close()
    threading.Thread(target=serve, daemon=True).start()
    return server, heard
