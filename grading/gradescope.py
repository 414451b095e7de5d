"""Gradescope: `python -m grading gradescope OUT.zip [--no-notebooks]` builds an autograder bundle; in it,
`run_autograder [ROOT]` grades the one submission in ROOT/submission (ROOT: its argument, else
$AUTOGRADER_ROOT, else /autograder) into ROOT/results/results.json, Gradescope's format (grading/feedback.py).

The bundle (Gradescope unpacks it into /autograder/source) holds setup.sh, run_autograder and the grader:
pyproject.toml, llmlab/ (the release), grading/ (hidden tests included, its own tests not), solutions/ and
tests/. Grading is `autograde` on a batch of one, so scores, sandbox and feedback are those of
`python -m grading autograde`.
"""
import argparse
import os
import shutil
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

from grading.sandbox import ROOT

BUNDLED = ["pyproject.toml", "README.md", "conftest.py", "llmlab", "grading", "solutions", "tests"]
NOT_BUNDLED = {"grading/tests", "grading/fixtures", "grading/mutants", "grading/alternatives"}
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
STUDENT = "student"         # the submission's ID in the batch of one (Gradescope knows who it is)
VENV = "/opt/llmlab-venv"   # outside /autograder: student code without bwrap must be able to run its Python

SETUP = f"""#!/usr/bin/env bash
# Gradescope runs this once, as root and with network access, when it builds the autograder's image.
set -euo pipefail
apt-get install -y --no-install-recommends bubblewrap python3 python3-venv
python3 -m venv {VENV}
{VENV}/bin/pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
{VENV}/bin/pip install --no-cache-dir "/autograder/source[grading]"
chmod -R go-rwx /autograder/source      # hidden tests and solutions: for the grader (root) only
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this (copied to /autograder/run_autograder) for every submission.
set -euo pipefail
root="${{1:-${{AUTOGRADER_ROOT:-/autograder}}}}"
cd "$root/source"
exec "${{LLMLAB_PYTHON:-{venv}/bin/python}}" -m grading.gradescope "$root" {options}
"""


def build_bundle(zip_path, notebooks: bool = True) -> Path:
    """Write the autograder bundle to zip_path; returns its path."""
    zip_path = Path(zip_path)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as bundle:
        _add(bundle, "setup.sh", SETUP)
        _add(bundle, "run_autograder", RUN.format(venv=VENV, options="" if notebooks else "--no-notebooks"))
        for path in _grader_files():
            bundle.write(path, path.relative_to(ROOT).as_posix())
    return zip_path


def _add(bundle: zipfile.ZipFile, name: str, script: str):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFREG | 0o755) << 16       # executable once unpacked
    bundle.writestr(info, script)


def _grader_files() -> list[Path]:
    files = []
    for top in BUNDLED:
        path = ROOT / top
        if path.is_file():
            files.append(path)
            continue
        for folder, subfolders, names in os.walk(path):
            folder, skipped = Path(folder), SKIPPED(folder, subfolders + names)
            subfolders[:] = [s for s in subfolders if s not in skipped
                             and (folder / s).relative_to(ROOT).as_posix() not in NOT_BUNDLED]
            files += [folder / n for n in sorted(names) if n not in skipped]
    return files


def grade_one(root, notebooks: bool = True) -> dict:
    """Grade root/submission (a folder, or a folder holding only the student's zip) into
    root/results/results.json; returns the grade sheet row."""
    from grading.autograde import autograde
    from grading.notebooks import SOURCE
    root = Path(root)
    submission = root / "submission"
    if not submission.is_dir():
        raise SystemExit(f"error: {submission} is not a folder (Gradescope's submission)")
    with tempfile.TemporaryDirectory(prefix="llmlab-gradescope-") as tmp:
        batch, out = Path(tmp) / "submissions", Path(tmp) / "out"
        zips = list(submission.glob("*.zip"))
        if len(zips) == 1 and not (submission / "llmlab").exists():
            batch.mkdir()
            shutil.copyfile(zips[0], batch / f"{STUDENT}.zip")
        else:
            shutil.copytree(submission, batch / STUDENT, symlinks=True)    # links are refused, not followed
        [row] = autograde(batch, out, notebooks=SOURCE if notebooks else None, progress=False)
        (root / "results").mkdir(exist_ok=True)
        shutil.copyfile(out / STUDENT / "results.json", root / "results" / "results.json")
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(prog="run_autograder", description=__doc__)
    parser.add_argument("root", type=Path, help="Gradescope's /autograder")
    parser.add_argument("--no-notebooks", action="store_true", help="grade the hidden tests only")
    args = parser.parse_args(argv)
    row = grade_one(args.root, notebooks=not args.no_notebooks)
    print(f"score {row['total']} / {row['max']}: {args.root / 'results' / 'results.json'}")


if __name__ == "__main__":
    sys.exit(main())
