"""python -m grading autograde SUBMISSIONS_DIR --out OUT_DIR [--jobs N]: grade every submission.

Per submission (`grade_submission`, which any concurrent.futures executor can run):
1. read it (grading/submission.py): a folder or a zip, checked; the package that will run is the grader's
   release llmlab/ with the student's exercise modules laid over it;
2. hidden tests: a trusted pytest process (memory-limited) runs grading/hidden/ with LLMLAB_SUBMISSION set, so
   that every scenario runs in the submission's sandbox; grading/record.py writes each test's outcome and
   public message;
3. notebooks (grading/notebooks.py): nbgrader-style autograding, executed in the sandbox, with what is left of
   the submission's time budgets (Limits.submission_seconds of wall time and submission_cpu_seconds of CPU
   time cover 2 and 3 together); the formgrader's copies sanitised;
4. scores: a task's score is its points (llmlab/tasks.py) × the fraction of its hidden tests passed, rounded to
   2 decimals; halved when its notebook check cell failed, is missing or was edited. Sandbox results can only
   lower a score: the hidden tests compare in the trusted process.
The main process writes OUT_DIR/<student>/{results.json, feedback.html} (for the student), OUT_DIR/grades.csv,
the nbgrader gradebook OUT_DIR/nbgrader/gradebook.db, and instructor-only logs under OUT_DIR/logs/ (with the
similarity report of grading/similarity.py); every one of them says which sandbox graded (or why there was none).
"""
import atexit
import csv
import datetime
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path

from grading import feedback, warm
from grading.notebooks import (ASSIGNMENT, SOURCE, Course, grade_notebooks, gradebook_url, load_course,
                              prepare_course, source_notebooks)
from grading.sandbox import (FALLBACK_NOTE, ROOT, SANDBOX_DID_NOT_START, Limits, backend, no_sandbox_reason,
                             readable_by_students, sandbox_summary)
from grading.similarity import similarity_report
from grading.submission import SubmissionProblem, build_package, find_submissions, read_submission
from llmlab.tasks import BY_ID, MAX_POINTS, TASK_IDS, TASKS

HIDDEN = ROOT / "grading" / "hidden"
LOG_BYTES = 256 << 10       # of each instructor log kept per student


@dataclass
class Plan:
    """What grading one submission needs, as plain data (picklable, for remote executors)."""
    out: str
    tests: dict                     # task ID -> hidden test node IDs (tasks graded in this run)
    limits: Limits = field(default_factory=Limits)
    course: Course | None = None
    sandbox: str = "bwrap"
    no_sandbox: str | None = None                       # why there is no sandbox (sandbox "none")
    skipped_tasks: dict = field(default_factory=dict)   # task ID -> why it is not graded


# ---- the hidden tests ---------------------------------------------------------------------------------------

def _pytest_env(**extra) -> dict:
    """The trusted pytest process's environment: the reference as llmlab, no third-party pytest plugins
    (hypothesis, nbval, ... cost seconds per submission at start-up and are not used by the hidden tests),
    one thread per process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LLMLAB_", "COV_"))}
    env.update(LLMLAB_TARGET="reference", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **extra)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # small tensors; parallel jobs must not oversubscribe
    return env


_warm_lock = threading.Lock()
_warm = {}          # this process's warm pytest server (grading/warm.py): {"server": Popen, "run": command}


def _pytest_python() -> list[str]:
    """What runs the trusted `-m pytest ...`: a child forked from this grading process's warm server, which
    imported pytest, torch and transformers once (started at the first call, again if it has gone); with
    LLMLAB_START=cold, a fresh Python."""
    if not warm.warm_start():
        return [sys.executable]
    with _warm_lock:
        if not _warm or _warm["server"].poll() is not None:
            _warm["server"], _warm["run"] = _start_warm_server()
        return _warm["run"]


def _start_warm_server() -> tuple[subprocess.Popen, list[str]]:
    """The server, started from a thread of its own that never ends: a process started with PR_SET_PDEATHSIG
    (warm.die_with_parent) is killed when the thread that started it ends, so the server goes when this grading
    process does (a Dask worker killed mid-grading, say), and only then."""
    started = Future()

    def start():
        folder = tempfile.mkdtemp(prefix="llmlab-warm-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        try:
            started.set_result(warm.start([sys.executable], folder, ["pytest"], cwd=ROOT, env=_pytest_env(),
                                          stdout=subprocess.DEVNULL, start_new_session=True,
                                          preexec_fn=warm.die_with_parent))
        except BaseException as e:  # noqa: BLE001 - raised in the thread that asked
            started.set_exception(e)
            return
        threading.Event().wait()

    threading.Thread(target=start, name="warm pytest server", daemon=True).start()
    server, run = started.result()
    return server, run["pytest"]


def _stop_warm():
    with _warm_lock:
        if _warm:
            _warm["server"].kill()          # its children each die with their requester
            _warm["server"].wait()
            _warm.clear()


def inventory(tasks=None) -> dict:
    """{task ID: {hidden test node ID: its weight}} from collecting grading/hidden/ (once, in a subprocess)."""
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "collected.json"
        result = subprocess.run([sys.executable, "-m", "pytest", str(HIDDEN), "--collect-only", "-q",
                                 "-p", "grading.record", "-p", "no:cacheprovider"],
                                cwd=ROOT, env=_pytest_env(LLMLAB_RECORD=str(record), LLMLAB_SCRATCH=tmp),
                                capture_output=True, text=True)
        collected = json.loads(record.read_text()) if record.exists() else None
    if result.returncode not in (0, 5) or collected is None or collected["errors"]:
        errors = "\n".join(e["error"] for e in (collected or {}).get("errors", []))
        raise RuntimeError(f"the hidden tests do not collect:\n{errors or result.stdout[-3000:] + result.stderr[-3000:]}")
    found = {}
    for test in collected["tests"]:
        if test["task"] not in BY_ID:
            raise RuntimeError(f"hidden test {test['nodeid']} has no task marker with a task ID of llmlab/tasks.py")
        found.setdefault(test["task"], {})[test["nodeid"]] = test["weight"]
    return {t: ids for t, ids in found.items() if tasks is None or t in tasks}


def run_hidden_tests(package: Path, plan: Plan, scratch: Path, logs: Path, seconds: float) -> tuple[list, float]:
    """The records (grading/record.py) of the plan's hidden tests run against `package` in the sandbox, all
    calls of student code together within `seconds`, and the CPU seconds the sandbox used (all of the budget
    when the trusted process did not say)."""
    nodeids = [n for ids in plan.tests.values() for n in ids]
    if not nodeids:
        return [], 0.0
    record, output, cpu = scratch / "hidden-tests.json", scratch / "hidden-tests.txt", scratch / "cpu-seconds"
    limits = replace(plan.limits, submission_seconds=seconds)
    env = _pytest_env(LLMLAB_SUBMISSION=str(package), LLMLAB_RECORD=str(record), LLMLAB_LIMITS=limits.to_env(),
                      LLMLAB_CPU_RECORD=str(cpu),
                      LLMLAB_SANDBOX=plan.sandbox, LLMLAB_SANDBOX_LOG=str(scratch / "sandbox-output.log"),
                      LLMLAB_SCRATCH=str(scratch))     # where its reference overlay goes (grading/overlay.py)
    command = [*_pytest_python(), "-m", "pytest", *nodeids, "-p", "grading.record", "-p", "no:cacheprovider",
               "-q", "--no-header", "--tb=short", "-o", "addopts="]
    timeout = seconds + plan.limits.start_seconds + 120
    with open(output, "wb") as out:
        memory = plan.limits.trusted_memory_mb << 20      # what it reads from the sandbox cannot exhaust the grader
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, preexec_fn=lambda: _limit_trusted_process(memory))
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    _keep_log(output, logs / "hidden-tests.txt")
    _keep_log(scratch / "sandbox-output.log", logs / "sandbox-output.log")
    try:
        used = float(cpu.read_text())
    except (OSError, ValueError):
        used = plan.limits.submission_cpu_seconds
    try:
        return json.loads(record.read_text(encoding="utf-8"))["tests"], used
    except (OSError, ValueError, KeyError):
        return [], used


def _limit_trusted_process(memory: int):
    """In the trusted pytest process, before it starts: its memory limit, and SIGKILL when the grader's thread
    that waits for it dies (a Dask worker killed mid-grading: the retry elsewhere must be the only grading)."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    warm.die_with_parent()


def _keep_log(source: Path, dest: Path):
    if source.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(source, "rb") as f:
            data = f.read(LOG_BYTES + 1)
        dest.write_bytes(data[:LOG_BYTES] + (b"\n[... cut]\n" if len(data) > LOG_BYTES else b""))


# ---- one submission -----------------------------------------------------------------------------------------

def grade_submission(student_id: str, path, plan: Plan) -> dict:
    """Grade one submission; returns the result (plain data). Writes instructor logs and notebook copies under
    plan.out; the caller writes the student's files, the gradebook and the grade sheet."""
    started = time.monotonic()
    out, logs = Path(plan.out), Path(plan.out) / "logs" / student_id
    notes = [FALLBACK_NOTE.format(reason=plan.no_sandbox)] if plan.sandbox == "none" else []
    with tempfile.TemporaryDirectory(prefix="llmlab-grade-") as scratch:
        scratch = Path(scratch)
        try:
            submission = read_submission(path, scratch)
        except SubmissionProblem as e:
            return _result(student_id, plan, notes + [str(e)], [], None, started, problem=str(e))
        notes += submission.notes
        package = build_package(submission, scratch / "package")
        budget = started + plan.limits.submission_seconds     # for hidden tests and notebooks together
        records, cpu = run_hidden_tests(package, plan, scratch, logs, budget - time.monotonic())
        notebooks = None
        if plan.course is not None:
            limits = replace(plan.limits, submission_seconds=max(0.0, budget - time.monotonic()),
                             submission_cpu_seconds=max(0.0, plan.limits.submission_cpu_seconds - cpu))
            notebooks = grade_notebooks(plan.course, submission.notebooks, package, scratch, limits,
                                        scratch / "notebooks-output.log")
            _keep_log(scratch / "notebooks-output.log", logs / "notebooks-output.log")
            notes += notebooks.notes
            _save_notebooks(out / "nbgrader", student_id, submission.notebooks, notebooks.executed)
    return _result(student_id, plan, notes, records, notebooks, started) | {"submitted_at": submission.submitted_at}


def _save_notebooks(course: Path, student_id: str, submitted: dict, executed: dict):
    """nbgrader's folders, for the formgrader: submitted/ (as handed in) and autograded/ (as executed, without
    anything a browser would run: the formgrader shows these as HTML)."""
    autograded = {f"{k}.ipynb": _sanitised(v) for k, v in executed.items()}
    for kind, files in (("submitted", submitted), ("autograded", autograded)):
        folder = course / kind / student_id / ASSIGNMENT
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for name, data in files.items():
            (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def _sanitised(notebook: str) -> str:
    """The notebook with its HTML (outputs, markdown and raw cells) cleaned by bleach, outputs that only a
    browser runs (Javascript, SVG, widgets) removed, and no widget state; an empty notebook if it is invalid."""
    import nbformat
    from nbconvert.preprocessors.sanitize import SanitizeHTML
    try:
        data = nbformat.reads(notebook, as_version=4)
    except Exception:  # noqa: BLE001 - made in the sandbox: anything may come back
        return nbformat.writes(nbformat.v4.new_notebook())
    data.metadata.pop("widgets", None)
    SanitizeHTML().preprocess(data, {})
    return nbformat.writes(data)


def _result(student_id, plan: Plan, notes, records, notebooks, started, problem=None) -> dict:
    by_task = {}
    for record in records:
        by_task.setdefault(record.get("task"), {})[record.get("nodeid")] = record
    tasks = [_task_result(task, plan, by_task.get(task.id, {}), notebooks, problem) for task in TASKS]
    result = {"student_id": student_id, "tasks": tasks, "total": round(sum(t["score"] for t in tasks), 2),
              "max": MAX_POINTS, "notes": list(dict.fromkeys(notes)), "sandbox": plan.sandbox,
              "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "seconds": round(time.monotonic() - started, 1)}
    if any(SANDBOX_DID_NOT_START in r.get("message", "") for r in records):   # before any student code ran
        result["grader_error"] = True
        result["notes"].append("the sandbox failed to start on the grading machine (not your fault): this "
                               "submission will be graded again")
    return result


def _task_result(task, plan: Plan, records: dict, notebooks, problem) -> dict:
    entry = {"id": task.id, "max": task.points, "score": 0.0, "tests": 0, "passed": 0, "messages": []}
    if problem:
        return entry | {"status": "failed", "messages": [problem]}
    if task.id not in plan.tests:
        return entry | {"status": "ungraded", "messages": [plan.skipped_tasks.get(task.id, "not graded")]}
    weights = plan.tests[task.id]       # {node ID: weight}, declared with the hidden tests (grading/record.py)
    outcomes = [records.get(nodeid, {"outcome": "not run"}) | {"weight": weight} for nodeid, weight in weights.items()]
    counted = [r for r in outcomes if r.get("outcome") != "skipped"]
    passed = sum(r.get("outcome") == "passed" for r in counted)
    messages = [r.get("message") or "did not run: the grading of this submission ran out of time or crashed"
                for r in counted if r.get("outcome") != "passed"]
    score = round(task.points * weighted_fraction_passed(counted), 2) if counted else 0.0
    todo = [m for m in messages if m.startswith("not implemented")]
    if passed == len(counted):
        status = "passed"
    elif passed == 0 and todo:     # the stub still raises; failures of other tests follow from that
        status, messages = "not implemented", todo
    else:
        status = "partial" if passed else "failed"
    if notebooks is not None and task.id in plan.course.notebooks.get(task.notebook, {}).get("points", {}):
        why = notebooks.failures.get(task.id)
        if why and status != "not implemented":
            messages.insert(0, f"notebook: {why}; the task's score is halved")  # first: the list is cut at 12
            score = round(score / 2, 2)
            status = "partial" if status == "passed" else status
    return entry | {"status": status, "score": score, "tests": len(counted), "passed": passed,
                    "messages": list(dict.fromkeys(messages))[:12]}


def weighted_fraction_passed(records) -> float:
    """The share of the records' weight that passed: a task's score is its points times this."""
    total = sum(r["weight"] for r in records)
    return sum(r["weight"] for r in records if r.get("outcome") == "passed") / total if total else 0.0


def _crashed(student_id, plan: Plan, error: str) -> dict:
    result = _result(student_id, plan, [], [], None, time.monotonic(),
                     problem=f"the grader itself failed on this submission ({error}); tell your instructor")
    result["grader_error"] = True
    return result


# ---- the batch ----------------------------------------------------------------------------------------------

def autograde(submissions, out, *, jobs: int = 1, executor: Executor | None = None, force: bool = False,
              tasks=None, notebooks: Path | None = SOURCE, limits: Limits | None = None,
              progress: bool = True) -> list[dict]:
    """Grade every submission in `submissions` into `out`; returns the grade sheet rows.

    executor: any concurrent.futures.Executor (e.g. a Dask distributed Client's get_executor()); by default a
    thread pool of `jobs` workers (each submission's work happens in its own processes). tasks: grade only
    these task IDs. notebooks: the nbgrader source notebooks (None: do not grade notebooks)."""
    out = Path(out).resolve()
    out.mkdir(mode=0o700, parents=True, exist_ok=True)      # logs hold hidden test output: the instructor's only
    plan = Plan(out=str(out), tests=inventory(tasks), limits=limits or Limits(), sandbox=backend(),
                no_sandbox=no_sandbox_reason())
    exposed = readable_by_students([Path(submissions).resolve(), out]) if plan.sandbox == "none" else []
    if exposed:
        raise RuntimeError(f"refusing to grade without a sandbox ({plan.no_sandbox}): an unprivileged user "
                           f"could read {', '.join(exposed)} (chmod o-rwx them, or use bubblewrap)")
    for task in TASK_IDS:
        if task not in plan.tests:
            plan.skipped_tasks[task] = ("not graded in this run" if tasks is not None and task not in tasks
                                        else "no hidden tests for this task yet: not graded")
    missing = [t for t, why in plan.skipped_tasks.items() if why.startswith("no hidden tests")]
    if missing:
        print(f"warning: no hidden tests for {', '.join(missing)}: these tasks score 0", file=sys.stderr)
    if notebooks is not None:
        plan.course = _course(out / "nbgrader", Path(notebooks))
    _ensure_gradebook(out / "nbgrader", plan.course)
    entries, warnings = find_submissions(submissions)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    todo = [(s, p) for s, p in entries if force or _needs_grading(out / s / "results.json")]
    own = executor is None
    executor = executor or ThreadPoolExecutor(max_workers=max(1, jobs))
    try:
        futures = {executor.submit(grade_submission, s, str(p), plan): s for s, p in todo}
        bar = _progress(len(entries), len(entries) - len(todo), progress)
        for future in as_completed(futures):
            student = futures[future]
            try:
                result = future.result()
            except Exception as e:  # noqa: BLE001 - one submission must never stop the batch
                traceback.print_exc()
                result = _crashed(student, plan, f"{type(e).__name__}: {e}")
            try:
                feedback.write(result, out / student)
                _record_in_gradebook(out / "nbgrader", result)
            except Exception:  # noqa: BLE001 - nor keep the others' results from being written
                traceback.print_exc()
            bar.update(1)
        bar.close()
    finally:
        if own:
            executor.shutdown()
        _stop_warm()
    rows = [_row(s, out / s / "results.json") for s, _ in entries]
    _write_sheet(out / "grades.csv", rows)
    similar = similarity_report(entries, out / "logs")
    _log(out, f"graded {len(todo)} of {len(entries)} submissions, {sandbox_summary()}; {len(similar)} pairs of "
              f"similar exercise modules (logs/similarity.csv)")
    return rows


def _log(out: Path, line: str):
    """One line in the instructor's log of every run, OUT_DIR/logs/autograde.log."""
    (out / "logs").mkdir(exist_ok=True)
    with open(out / "logs" / "autograde.log", "a", encoding="utf-8") as f:
        f.write(f"{datetime.datetime.now().isoformat(timespec='seconds')} {line}\n")


def _needs_grading(results: Path) -> bool:
    try:
        return bool(json.loads(results.read_text(encoding="utf-8"))["extra_data"].get("grader_error"))
    except (OSError, ValueError, KeyError):
        return True


def _progress(total: int, done: int, show: bool):
    from tqdm import tqdm
    return tqdm(total=total, initial=done, desc="students graded", unit="student", disable=not show,
                file=sys.stderr)


def _row(student: str, results: Path) -> dict:
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"warning: {student} has no readable {results} ({e}): 0 points in grades.csv", file=sys.stderr)
        return {"student_id": student, **dict.fromkeys(TASK_IDS, 0), "total": 0, "max": MAX_POINTS, "sandbox": "",
                "submitted_at": ""}
    row = {"student_id": student}
    row.update({task: data["extra_data"]["tasks"].get(task, 0) for task in TASK_IDS})
    row.update(total=data["score"], max=data["extra_data"]["max"], sandbox=data["extra_data"].get("sandbox", ""),
               submitted_at=data["extra_data"].get("submitted_at") or "")
    return row


def _write_sheet(path: Path, rows: list):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["student_id", *TASK_IDS, "total", "max", "sandbox", "submitted_at"])
        writer.writeheader()
        writer.writerows(rows)


# ---- nbgrader's gradebook -----------------------------------------------------------------------------------

def _course(directory: Path, source: Path) -> Course | None:
    """The nbgrader course in OUT_DIR/nbgrader, regenerated only when the source notebooks changed (nbgrader
    refuses to change notebooks that already have submissions); None without source notebooks."""
    sources = source_notebooks(source)
    if not sources:
        return None
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sources)).hexdigest()
    stamp = directory / ".source-sha256"
    if stamp.exists() and stamp.read_text() == digest and (directory / "gradebook.db").exists():
        return load_course(directory)
    course = prepare_course(directory, source)
    stamp.write_text(digest)
    return course


def _ensure_gradebook(directory: Path, course: Course | None):
    """The assignment in the gradebook, with a grade cell (grade_id = task ID, max_score = points) for every
    task; tasks of notebooks that the course lacks get them in a notebook named as in llmlab/tasks.py."""
    from nbgrader.api import Gradebook
    directory.mkdir(parents=True, exist_ok=True)
    have = set(course.notebooks) if course else set()
    with Gradebook(gradebook_url(directory)) as gradebook:
        gradebook.update_or_create_assignment(ASSIGNMENT)
        for task in TASKS:
            if task.notebook in have:
                continue
            gradebook.update_or_create_notebook(task.notebook, ASSIGNMENT)
            gradebook.update_or_create_grade_cell(task.id, task.notebook, ASSIGNMENT, max_score=task.points,
                                                  cell_type="code")


def _record_in_gradebook(directory: Path, result: dict):
    """Each task's final score as the auto_score of its grade cell, so that `nbgrader export` and the
    formgrader show it."""
    from nbgrader.api import Gradebook, MissingEntry
    student = result["student_id"]
    with warnings.catch_warnings(), Gradebook(gradebook_url(directory)) as gradebook:
        warnings.simplefilter("ignore")     # SQLAlchemy's autoflush notes from inside nbgrader
        gradebook.update_or_create_student(student)
        try:
            submission = gradebook.find_submission(ASSIGNMENT, student)
        except MissingEntry:
            submission = gradebook.add_submission(ASSIGNMENT, student)
        if result.get("submitted_at"):      # nbgrader's own field (late penalties, the formgrader)
            submission.timestamp = datetime.datetime.fromisoformat(result["submitted_at"]).replace(tzinfo=None)
        for task in result["tasks"]:
            try:
                grade = gradebook.find_grade(task["id"], BY_ID[task["id"]].notebook, ASSIGNMENT, student)
            except MissingEntry:
                continue
            grade.auto_score = task["score"]
        gradebook.db.commit()

