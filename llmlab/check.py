"""check("t01_top_k"): run one exercise's public tests from a notebook and say plainly how it went."""
import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from llmlab.tasks import BY_ID, prerequisites


def _tests_dir() -> Path:
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "tests" / "adapters.py").is_file():
            return folder / "tests"
    raise FileNotFoundError("cannot find the tests/ folder (with adapters.py) above " + str(Path.cwd()))


STUB = re.compile(r"""NotImplementedError\((['"])(t\d\d_\w+: implement .*?)\1\)""")
SHOWN_FAILURES = 4    # failure messages shown (distinct ones), so that the report fits on one screen
SHOWN_LINES = 12      # lines of one message at most


def untouched_stub(task_id: str) -> str | None:
    """The stub's message when one of the task's functions/classes still raises it, else None."""
    task = BY_ID[task_id]
    module = importlib.import_module(f"llmlab.{task.module}")
    for name in task.names:
        found = STUB.search(inspect.getsource(getattr(module, name)))
        if found and found.group(2).startswith(task_id):
            return found.group(2)
    return None


def check(task_id: str) -> None:
    """Run the public tests of `task_id` on your llmlab/. Prints a pass line; raises NotImplementedError while
    the task's stub (or the stub of a task it needs, see llmlab/tasks.py) is untouched, AssertionError with the
    first failing tests and their messages when some fail."""
    if task_id not in BY_ID:
        raise ValueError(f"task_id {task_id!r} is not a task; see llmlab/tasks.py")
    todo = untouched_stub(task_id)
    if todo:
        raise NotImplementedError(todo)
    for need in prerequisites(task_id):
        todo = untouched_stub(need)
        if todo:
            raise NotImplementedError(f"{task_id} builds on {need}, which is not done yet: {todo}")
    tests = _tests_dir()
    files = [str(f) for f in sorted(tests.glob("test_*.py")) if task_id in f.read_text(encoding="utf-8")]
    if not files:
        raise FileNotFoundError(f"no public test in {tests} mentions {task_id}")
    returncode, output, failures = _run_pytest(task_id, [*files, "--task", task_id, "-q", "--tb=no",
                                                         "-p", "no:cacheprovider", "-W", "ignore", "--color=no"],
                                               cwd=tests.parent)
    summary = output.strip().splitlines()[-1].strip("= ") if output.strip() else ""
    if returncode == 0:
        print(f"✓ {task_id}: public tests pass ({summary})")
        return
    for failure in failures:
        if re.match(r"NotImplementedError: t\d\d_\w+: implement", failure["message"]):
            raise NotImplementedError(failure["message"].split(": ", 1)[1])  # a task this one builds on
    raise AssertionError(report(task_id, summary, failures, output, tests.parent))


def report(task_id: str, summary: str, failures: list[dict], output: str, folder: Path) -> str:
    """The failing tests (those with the same message once), each with its assertion's message, and the
    command that shows everything."""
    by_message = {}
    for failure in failures:
        by_message.setdefault(shown_message(failure["message"]), []).append(failure["test"])
    lines = [f"{task_id}: public tests fail ({summary})"]
    for message, tests in list(by_message.items())[:SHOWN_FAILURES]:
        more = f"  (and {len(tests) - 1} more with this message)" if len(tests) > 1 else ""
        lines += [f"✗ {tests[0].split('/')[-1]}{more}", *("    " + line for line in message.splitlines())]
    hidden = sum(len(tests) for tests in list(by_message.values())[SHOWN_FAILURES:])
    if hidden:
        lines.append(f"... and {hidden} more failing tests")
    if not failures:  # pytest itself could not run: show its last lines
        lines += output.strip().splitlines()[-SHOWN_LINES:]
    lines.append(f"Full pytest output: python -m pytest tests --task {task_id}   (in a terminal, in {folder})")
    return "\n".join(lines)


def shown_message(message: str) -> str:
    """A failure's message without pytest's explanation of where each value came from: an assertion's own
    message when it has one (pytest appends "assert ..." after it), else the comparison that failed."""
    message = message.removeprefix("AssertionError: ")
    lines = message.splitlines()
    explanation = next((i for i, line in enumerate(lines) if line.startswith("assert ")), None)
    if explanation:  # lines before "assert ...": the assertion's own message
        lines = lines[:explanation]
    else:
        lines = [line for line in lines if line.strip() and not line.startswith("Use -v")]
        lines = lines[:next((i for i, line in enumerate(lines) if line.startswith(" +")), len(lines))]
    if len(lines) > SHOWN_LINES:
        lines = lines[:SHOWN_LINES] + [f"({len(lines) - SHOWN_LINES} more lines in the full output)"]
    return "\n".join(lines)


def _run_pytest(task_id: str, args: list[str], cwd: Path) -> tuple[int, str, list[dict]]:
    """Run pytest in a fresh process with a progress bar fed by tests/conftest.py; (exit code, output,
    [{"test": node id, "message": the exception's message}] of the failures in the order they happened)."""
    from llmlab.progress import progress
    # The tests import the llmlab beside tests/ (yours); in the instructor's repository LLMLAB_TARGET=reference
    # (set by its conftest.py for its own test run) tests the reference instead.
    env = {**os.environ, PROGRESS: "1", "LLMLAB_TARGET": os.environ.get("LLMLAB_TARGET", "student")}
    # Under the autograder, LLMLAB_WARM_PYTHON is a command that starts this same fresh pytest with its
    # libraries already imported; everywhere else it is this Python.
    python = json.loads(os.environ.get("LLMLAB_WARM_PYTHON") or "null") or [sys.executable]
    process = subprocess.Popen([*python, "-m", "pytest", *args], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, encoding="utf-8", env=env)
    lines, failures, bar = [], [], None
    for line in process.stdout:
        if line.startswith(COLLECTED):
            bar = progress(total=int(line[len(COLLECTED):]), desc=task_id, unit="test", leave=False,
                       mininterval=0, miniters=1)  # draw every test, the last one too
        elif line.startswith(DONE):
            bar.update()
        elif line.startswith(FAILED):
            failures.append(json.loads(line[len(FAILED):]))
        else:
            lines.append(line)
    if bar is not None:
        bar.close()
    return process.wait(), "".join(lines), failures


# What tests/conftest.py prints, when PROGRESS is set, to feed the progress bar and the report: the number of
# tests, a line per finished test, a line per failure (JSON: test, message).
PROGRESS, COLLECTED, DONE, FAILED = "LLMLAB_PROGRESS", "@@llmlab collected ", "@@llmlab done", "@@llmlab failed "
