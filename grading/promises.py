"""The spec coverage of the hidden tests: which promise of a task's docstrings each hidden test checks, and with
what weight.

Each hidden test module grading/hidden/test_<task>.py declares
- PROMISES = {key: quote}: every promise its task's docstrings make (a behaviour, an argument, a raised error,
  an output's dtype / device / shape, mutability, state after the call), each quoted word for word from the
  solution's docstrings (the module's, the task's functions and classes and their methods, the module's
  helpers), so that a docstring edit that drops a promise shows;
- on every test, `@pytest.mark.promise(*keys, weight=w)`: the promises it checks and how much they matter
  (its share of the task's points, split evenly over its parameter sets: grading/record.py).

`python -m grading.promises` writes the coverage table into grading/README.md; grading/tests/test_promises.py
checks that every promise has a test, every test names a promise, every quote is in the docstrings and the table
is current.
"""
import ast
import importlib
import re
from pathlib import Path

from llmlab.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "grading" / "README.md"
BEGIN, END = "<!-- promises: begin (python -m grading.promises) -->", "<!-- promises: end -->"


def hidden_module(task_id: str):
    return importlib.import_module(f"grading.hidden.test_{task_id}")


def hidden_tests(task_id: str) -> dict:
    """{test function name: (promise keys, weight)} of the task's hidden test module."""
    module, tests = hidden_module(task_id), {}
    for name, fn in vars(module).items():
        if name.startswith("test_") and callable(fn):
            marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "promise"]
            tests[name] = (marks[0].args, marks[0].kwargs.get("weight", 1)) if marks else ((), 1)
    return tests


def normalised(text: str) -> str:
    return " ".join(text.split())


def docstrings(module: str) -> str:
    """Every docstring of solutions/llmlab/<module>.py (module, functions, classes, methods), whitespace
    normalised and joined."""
    tree = ast.parse((ROOT / "solutions" / "llmlab" / f"{module}.py").read_text(encoding="utf-8"))
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef)))]
    return "\n".join(normalised(ast.get_docstring(n) or "") for n in nodes)


def problems() -> list[str]:
    """What is wrong with the declared coverage (empty when every promise has a test and so on)."""
    found = []
    for task in TASKS:
        promises, tests = hidden_module(task.id).PROMISES, hidden_tests(task.id)
        text = docstrings(task.module)
        found += [f"{task.id}: promise {k!r} quotes {q!r}, which is not in llmlab/{task.module}.py's docstrings"
                  for k, q in promises.items() if normalised(q) not in text]
        named = {k for keys, _ in tests.values() for k in keys}
        found += [f"{task.id}: no hidden test checks promise {k!r}" for k in promises if k not in named]
        for name, (keys, weight) in tests.items():
            if not keys:
                found.append(f"{task.id}: {name} names no promise (@pytest.mark.promise)")
            found += [f"{task.id}: {name} names {k!r}, not a promise of PROMISES" for k in keys if k not in promises]
            if not weight > 0:
                found.append(f"{task.id}: {name} has weight {weight!r}")
    return found


def table() -> str:
    """The coverage table, one section per task: each promise, the tests that check it and their points."""
    out = []
    for task in TASKS:
        promises, tests = hidden_module(task.id).PROMISES, hidden_tests(task.id)
        total = sum(weight for _, weight in tests.values())
        out += [f"**{task.id}** ({task.points:g} points; {len(promises)} promises, {len(tests)} test functions)", "",
                "| promise (quoted from the docstring) | hidden tests (their share of the task's points) |",
                "|---|---|"]
        for key, quote in promises.items():
            checking = [f"`{name}` ({task.points * weight / total:.2g})"
                        for name, (keys, weight) in tests.items() if key in keys]
            out.append(f"| {key}: \"{normalised(quote)}\" | {', '.join(checking)} |")
        out.append("")
    return "\n".join(out)


def write_readme() -> bool:
    """Rewrite the table between the markers of grading/README.md; True if it changed."""
    text = README.read_text(encoding="utf-8")
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: f"{BEGIN}\n{table()}{END}", text, flags=re.S)
    if new != text:
        README.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    issues = problems()
    print("\n".join(issues) or ("grading/README.md updated" if write_readme() else "grading/README.md is current"))
    raise SystemExit(1 if issues else 0)
