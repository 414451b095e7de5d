"""Known-wrong implementations (grading/mutants/<task id>/*.py) and correct alternatives
(grading/alternatives/<task id>/*.py) of the exercises, as targets for the hidden tests.

Each file holds source that is appended to the reference module of its task (llmlab/<task.module>.py with
the solution), redefining the function or class under test; its docstring says what it gets wrong or how it
differs. grading/tests/test_mutants.py proves the hidden tests fail every mutant and pass every alternative.
"""
import os
import subprocess
import sys
from pathlib import Path

from grading.overlay import ROOT, build_overlay
from llmlab.tasks import BY_ID

MUTANTS = ROOT / "grading" / "mutants"
ALTERNATIVES = ROOT / "grading" / "alternatives"


def variants(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("t*/*.py"))


def build_target(dest, variant: Path) -> Path:
    """The reference package with `variant` appended to its task's module; returns dest (holds llmlab/)."""
    build_overlay(dest)
    module = Path(dest) / "llmlab" / f"{BY_ID[variant.parent.name].module}.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n\n# ---- variant under test ----\n"
                      + variant.read_text(encoding="utf-8"), encoding="utf-8")
    return Path(dest)


def run_hidden_tests(task_id: str, target: Path, record: Path | None = None,
                     stop_at_first_failure: bool = True) -> subprocess.CompletedProcess:
    """Run grading/hidden/test_<task_id>.py with its scenarios executed against `target`; with `record`, the
    autograder's plugin (grading/record.py) writes each test's outcome and student-safe message there."""
    env = dict(os.environ, LLMLAB_SUBMISSION=str(target), LLMLAB_TARGET="reference",
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")      # as the autograder runs them
    plugin = []
    if record is not None:
        env["LLMLAB_RECORD"], plugin = str(record), ["-p", "grading.record"]
    stop = ["-x"] if stop_at_first_failure else []
    return subprocess.run([sys.executable, "-m", "pytest", f"grading/hidden/test_{task_id}.py", "-q",
                           "-p", "no:cacheprovider", *stop, "--no-header", "-rN", *plugin],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
