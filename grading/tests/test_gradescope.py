"""The Gradescope bundle, unpacked as Gradescope does (ROOT/source, ROOT/run_autograder, ROOT/submission) in a
temporary ROOT, grades the reference to full marks and the blank release to 0 in ROOT/results/results.json.
setup.sh is not run here (it installs from the network); the grader's Python is this one (LLMLAB_PYTHON)."""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile

from grading.autograde import inventory
from grading.release import build_release
from grading.sandbox import ROOT
from grading.tests import builders as b
from llmlab.tasks import BY_ID, MAX_POINTS, TASK_IDS


def test_bundle_grades_one_submission_in_gradescopes_layout(tmp_path):
    bundle = tmp_path / "autograder.zip"
    made = subprocess.run([sys.executable, "-m", "grading", "gradescope", str(bundle), "--no-notebooks"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-3000:]
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        assert {"setup.sh", "run_autograder", "pyproject.toml", "tests/adapters.py"} <= names
        assert {f"grading/hidden/test_{t}.py" for t in TASK_IDS} <= names
        assert not any(n.startswith(("grading/tests/", "grading/fixtures/")) or "__pycache__" in n for n in names)
        assert archive.getinfo("run_autograder").external_attr >> 16 & stat.S_IXUSR
    assert subprocess.run(["bash", "-n", "-c", zipfile.ZipFile(bundle).read("setup.sh")]).returncode == 0

    release, graded = build_release(tmp_path / "release"), inventory()
    full = sum(BY_ID[t].points for t in graded)
    for student, modules, expected in [("reference", b.reference_modules(), full), ("blank", {}, 0)]:
        root = tmp_path / student / "autograder"          # Gradescope's /autograder
        zipfile.ZipFile(bundle).extractall(root / "source")
        shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")
        (root / "run_autograder").chmod(0o755)
        b.submission(release, root / "submission", modules)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LLMLAB_"))}
        run = subprocess.run([str(root / "run_autograder"), str(root)], cwd=root, capture_output=True, text=True,
                             env=env | {"LLMLAB_PYTHON": sys.executable}, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
        assert results["score"] == expected, results["output"]
        assert sum(t["max_score"] for t in results["tests"]) == MAX_POINTS
        for test in results["tests"]:         # Gradescope's fields for each test
            assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
            assert test["score"] == (BY_ID[test["number"]].points if student == "reference" and
                                     test["number"] in graded else 0), test["output"]
