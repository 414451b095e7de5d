"""A student release with some exercises done: the reference of chosen tasks (their functions and classes from
solutions/llmlab/) or other code laid over the stubs, everything else left as the student received it."""
import ast
import os
import subprocess
import sys
from pathlib import Path

from grading.overlay import ROOT
from llmlab.tasks import BY_ID

SOLUTIONS = ROOT / "solutions" / "llmlab"


def definitions(source: str) -> dict[str, tuple[int, int, str]]:
    """{name: (first line, last line, text)} of the top-level functions and classes, decorators included."""
    lines = source.splitlines(keepends=True)
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found[node.name] = (first, node.end_lineno, "".join(lines[first - 1:node.end_lineno]))
    return found


def replace_definitions(path: Path, new: dict[str, str]) -> None:
    """Replace the top-level functions/classes of the module at `path` by name with new source texts."""
    source = path.read_text(encoding="utf-8")
    old, lines = definitions(source), source.splitlines(keepends=True)
    for name in sorted(new, key=lambda n: -old[n][0]):  # from the bottom up, so line numbers stay valid
        first, last, _ = old[name]
        lines[first - 1:last] = [new[name].rstrip("\n") + "\n"]
    path.write_text("".join(lines), encoding="utf-8")


def lay_reference(release: Path, task_ids) -> None:
    """Replace the stubs of `task_ids` in release/llmlab/ by their reference functions and classes."""
    for task_id in task_ids:
        task = BY_ID[task_id]
        reference = definitions((SOLUTIONS / f"{task.module}.py").read_text(encoding="utf-8"))
        replace_definitions(release / "llmlab" / f"{task.module}.py", {name: reference[name][2] for name in task.names})


def run_check(release: Path, task_id: str) -> subprocess.CompletedProcess:
    """llmlab.check(task_id) in a fresh Python started in the release folder, as a student's kernel would."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LLMLAB_TARGET")}
    return subprocess.run([sys.executable, "-c", f"import llmlab; llmlab.check({task_id!r})"], cwd=release,
                          env=dict(env, PYTHONPATH=str(release)), capture_output=True, text=True, timeout=600)
