"""Generate the student stubs llmlab/<module>.py from solutions/llmlab/<module>.py.

Each `### BEGIN SOLUTION` ... `### END SOLUTION` block becomes one `raise NotImplementedError(...)` whose
message names the task (looked up in llmlab.tasks by the enclosing top-level function or class) and what to
implement. Everything outside the blocks (imports, signatures, docstrings, helpers) is kept as it is.
"""
import ast
import re
from pathlib import Path

from llmlab.tasks import BY_NAME, EXERCISE_MODULES

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions" / "llmlab"
PACKAGE = ROOT / "llmlab"
BEGIN = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")


def _enclosing(tree: ast.Module, lineno: int):
    """(top-level def/class name, qualified name of the innermost def) around line `lineno`."""
    for top in tree.body:
        if isinstance(top, (ast.FunctionDef, ast.ClassDef)) and top.lineno <= lineno <= top.end_lineno:
            inner = top.name
            for node in ast.walk(top):
                if isinstance(node, ast.FunctionDef) and node is not top and node.lineno <= lineno <= node.end_lineno:
                    inner = f"{top.name}.{node.name}"
            return top.name, inner
    return None, None


def make_stub(source: str, module: str) -> str:
    """The stub text of solution module `module` (e.g. "kv_cache")."""
    tree = ast.parse(source)
    lines, out, i = source.splitlines(keepends=True), [], 0
    while i < len(lines):
        begin = BEGIN.match(lines[i])
        if not begin:
            out.append(lines[i])
            i += 1
            continue
        top, inner = _enclosing(tree, i + 1)
        task = BY_NAME.get((module, top))
        if task is None:
            raise ValueError(f"solutions/llmlab/{module}.py:{i + 1}: solution block inside {top!r}, "
                             f"which no task in llmlab/tasks.py lists in its names")
        j = i + 1
        while j < len(lines) and not END.match(lines[j]):
            j += 1
        if j == len(lines):
            raise ValueError(f"solutions/llmlab/{module}.py:{i + 1}: BEGIN SOLUTION without END SOLUTION")
        message = f"{task.id}: implement {inner} in llmlab/{module}.py ({task.title})"
        out.append(f"{begin.group(1)}raise NotImplementedError({message!r})\n")
        i = j + 1
    return "".join(out)


def expected_stubs() -> dict[Path, str]:
    """{stub path: text} for every exercise module."""
    return {PACKAGE / f"{m}.py": make_stub((SOLUTIONS / f"{m}.py").read_text(encoding="utf-8"), m)
            for m in EXERCISE_MODULES if (SOLUTIONS / f"{m}.py").exists()}  # test_stubs checks all exist


def write_stubs() -> list[Path]:
    """Regenerate the committed stubs; return the paths that changed."""
    changed = []
    for path, text in expected_stubs().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed
