"""python -m grading release OUT_DIR: the student release, checked for leaks.

The release holds notebooks/ (nbgrader release form), llmlab/ with the stubs (without the instructors' tools in
llmlab/instructor/), the public tests/, a pyproject.toml and a Chinese README.md (grading/student_README.md).
It must hold no solution code and no hidden test: `leaks(OUT_DIR)` looks in every released file for the body
of every solution block (solutions/llmlab/*.py), every hidden test function (test_* in grading/hidden/test_*.py;
their helpers may well share code with the public tests) and every hidden-test or solution block of the source
notebooks, and the build fails on any hit.
"""
import ast
import json
import re
import shutil
from pathlib import Path

from grading.notebooks import SOURCE as SOURCE_NOTEBOOKS
from grading.sandbox import ROOT
from grading.stubs import expected_stubs
from llmlab.tasks import TASKS

IGNORE_PATTERNS = ("__pycache__", "*.pyc", ".ipynb_checkpoints", ".pytest_cache", "*.egg-info")
IGNORE = shutil.ignore_patterns(*IGNORE_PATTERNS)
INSTRUCTOR_ONLY = "instructor"  # llmlab/instructor/: the benchmark and the training script stay here
BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)[^\n]*\n(.*?)### END \1", re.S)
MIN_FRAGMENT = 12   # characters (whitespace collapsed): shorter bodies are too common to mean a leak


def build_release(out) -> Path:
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty")
    stale = [str(p.relative_to(ROOT)) for p, text in expected_stubs().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    if stale:
        raise RuntimeError(f"stubs out of date: {stale}; run python -m grading stubs")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "llmlab", out / "llmlab",
                    ignore=shutil.ignore_patterns(*IGNORE_PATTERNS, INSTRUCTOR_ONLY))
    shutil.copytree(ROOT / "tests", out / "tests", ignore=IGNORE)
    shutil.copytree(ROOT / "notebooks", out / "notebooks", ignore=IGNORE)
    (out / "pyproject.toml").write_text(release_pyproject(), encoding="utf-8")
    (out / "README.md").write_text(student_readme(), encoding="utf-8")
    (out / ".gitignore").write_text("__pycache__/\n*.egg-info/\n.ipynb_checkpoints/\n.pytest_cache/\n")
    hits = leaks(out)
    if hits:
        shutil.rmtree(out)
        raise RuntimeError("the release would leak:\n" + "\n".join(f"{f}: {origin}" for f, origin in hits))
    return out


def release_pyproject() -> str:
    """The repository's pyproject.toml with the public tests as the only test path."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.sub(r"(?m)^testpaths = .*$", 'testpaths = ["tests"]', text)


def student_readme() -> str:
    table = "\n".join(f"| {t.notebook} | `{t.id}` | `llmlab/{t.module}.py` | {t.points:g} |" for t in TASKS)
    return (ROOT / "grading" / "student_README.md").read_text(encoding="utf-8").replace("{{TASKS}}", table)


# ---- leak scanning ------------------------------------------------------------------------------------------

def _squash(text: str) -> str:
    return " ".join(text.split())


def secret_fragments() -> list[tuple[str, str]]:
    """[(where it comes from, whitespace-collapsed text)] for everything students must not get."""
    fragments = []
    for path in sorted((ROOT / "solutions" / "llmlab").glob("*.py")):
        for kind, body in BLOCK.findall(path.read_text(encoding="utf-8")):
            fragments.append((f"{path.relative_to(ROOT)}: a {kind.lower()} block", _squash(body)))
    for path in sorted((ROOT / "grading" / "hidden").glob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                body = node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
                text = "\n".join(ast.get_source_segment(source, stmt) or "" for stmt in body)
                fragments.append((f"{path.relative_to(ROOT)}::{node.name}", _squash(text)))
    for path in sorted(Path(SOURCE_NOTEBOOKS).glob("*.ipynb")):
        for kind, body in BLOCK.findall(_notebook_text(path)):
            fragments.append((f"{path.relative_to(ROOT)}: a {kind.lower()} block", _squash(body)))
    return [(origin, text) for origin, text in fragments if len(text) >= MIN_FRAGMENT]


def _notebook_text(path: Path) -> str:
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (ValueError, KeyError, UnicodeDecodeError):
        return path.read_text(encoding="utf-8", errors="replace")
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells)


def leaks(folder) -> list[tuple[str, str]]:
    """[(released file, what leaked)] for every secret fragment found in a file of `folder`."""
    fragments, hits = secret_fragments(), []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or path.stat().st_size > 16 << 20:
            continue
        if path.suffix == ".ipynb":
            text = _notebook_text(path)
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
        text = _squash(text)
        hits += [(str(path.relative_to(folder)), origin) for origin, fragment in fragments if fragment in text]
    return hits
