"""check("t01_top_k"): run one exercise's public tests from a notebook and say plainly how it went."""
import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

from llmlab.tasks import BY_ID


def _tests_dir() -> Path:
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "tests" / "adapters.py").is_file():
            return folder / "tests"
    raise FileNotFoundError("cannot find the tests/ folder (with adapters.py) above " + str(Path.cwd()))


STUB = re.compile(r"""NotImplementedError\((['"])(t\d\d_\w+: implement .*?)\1\)""")


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
    """Run the public tests of `task_id`. Prints a pass line; raises NotImplementedError while the stub is
    untouched, AssertionError (with the failing tests) when some fail."""
    if task_id not in BY_ID:
        raise ValueError(f"task_id {task_id!r} is not a task; see llmlab/tasks.py")
    todo = untouched_stub(task_id)
    if todo:
        raise NotImplementedError(todo)
    tests = _tests_dir()
    files = [str(f) for f in sorted(tests.glob("test_*.py")) if task_id in f.read_text(encoding="utf-8")]
    if not files:
        raise FileNotFoundError(f"no public test in {tests} mentions {task_id}")
    returncode, output = _run_pytest(task_id, [*files, "--task", task_id, "-q", "--tb=line", "-p", "no:cacheprovider",
                                   "-W", "ignore", "--color=no"], cwd=tests.parent)
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    if returncode == 0:
        print(f"✓ {task_id}: public tests pass ({summary.strip('= ')})")
        return
    todo = re.search(r"NotImplementedError: (t\d\d_\w+: [^\n']+)", output)
    if todo:  # a task this one builds on is not done yet
        raise NotImplementedError(todo.group(1))
    failures = [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR")) or ": in " in line]
    raise AssertionError(f"{task_id}: public tests fail ({summary.strip('= ')})\n" + "\n".join(failures[:20]))


def _run_pytest(task_id: str, args: list[str], cwd: Path) -> tuple[int, str]:
    """Run pytest in a fresh process with a progress bar fed by tests/conftest.py; (exit code, output)."""
    from tqdm.auto import tqdm
    process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                               env={**os.environ, PROGRESS: "1"})
    lines, bar = [], None
    for line in process.stdout:
        if line.startswith(COLLECTED):
            bar = tqdm(total=int(line[len(COLLECTED):]), desc=task_id, unit="test", leave=False,
                       mininterval=0, miniters=1)  # draw every test, the last one too
        elif line.startswith(DONE):
            bar.update()
        else:
            lines.append(line)
    if bar is not None:
        bar.close()
    return process.wait(), "".join(lines)


# What tests/conftest.py prints, when PROGRESS is set, to feed the progress bar: the number of tests, then a
# line per finished test.
PROGRESS, COLLECTED, DONE = "LLMLAB_PROGRESS", "@@llmlab collected ", "@@llmlab done"
