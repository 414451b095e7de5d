"""The student release: complete, in sync with its sources, free of solutions and hidden tests, and installable."""
import json
import os
import shlex
import shutil
import subprocess
import sys
import venv
import zipfile

import pytest

from grading.notebooks import RELEASED, SOURCE, check_sources, release_files, source_notebooks
from grading.release import build_release, leaks, secret_fragments
from grading.sandbox import ROOT
from grading.tests.wheelhouse import build_wheelhouse, project_requirements
from llmlab.tasks import EXERCISE_MODULES


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return build_release(tmp_path_factory.mktemp("release") / "llmlab-release")


def test_release_layout(release):
    assert sorted(p.name for p in release.iterdir()) == [".gitignore", "README.md", "llmlab", "notebooks",
                                                         "pyproject.toml", "tests"]
    for module in EXERCISE_MODULES:
        assert (release / "llmlab" / f"{module}.py").read_bytes() == (ROOT / "llmlab" / f"{module}.py").read_bytes()
    assert 'testpaths = ["tests"]' in (release / "pyproject.toml").read_text()
    readme = (release / "README.md").read_text(encoding="utf-8")
    assert "python -m pytest tests --task" in readme and "zipfile" in readme
    assert "| `t05_kv_cache` |" in readme and "{{" not in readme
    assert not list(release.rglob("__pycache__")) and not (release / "solutions").exists()
    assert not (release / "llmlab" / "instructor").exists()  # the benchmark and the training script stay here


def test_readme_submission_command_zips_what_is_graded_and_not_the_checkpoint(release, tmp_path):
    """The one line of the student README, run in a copy of the release a student has worked in."""
    from grading.submission import read_submission
    folder = tmp_path / "work"
    shutil.copytree(release, folder)
    (folder / "notebooks" / ".ipynb_checkpoints").mkdir()
    (folder / "notebooks" / ".ipynb_checkpoints" / "01_decoding_strategies-checkpoint.ipynb").write_text("{}")
    readme = (release / "README.md").read_text(encoding="utf-8")
    line = next(line.strip() for line in readme.splitlines() if line.strip().startswith("python -c") and "zip" in line)
    run = subprocess.run([sys.executable, *shlex.split(line)[1:-1], "s123"], cwd=folder, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    names = zipfile.ZipFile(folder / "s123.zip").namelist()
    assert not [n for n in names if n.startswith("llmlab/checkpoints/") or ".ipynb_checkpoints" in n
                or "__pycache__" in n], names
    submission = read_submission(folder / "s123.zip", tmp_path / "scratch")
    assert sorted(submission.modules) == sorted(EXERCISE_MODULES) and not submission.notes
    assert sorted(submission.notebooks) == sorted(p.name for p in (release / "notebooks").glob("*.ipynb"))


def test_release_holds_no_solution_and_no_hidden_test(release):
    assert len(secret_fragments()) >= len(list((ROOT / "grading" / "hidden").glob("test_*.py")))
    assert leaks(release) == []


def test_leak_scan_finds_planted_leaks(release, tmp_path):
    """The scan can fail: a solution block hidden in a public test and a hidden test in a notebook."""
    (origin_a, solution), (origin_b, hidden) = [next(f for f in secret_fragments() if kind in f[0])
                                                for kind in ("solution block", "grading/hidden")]
    copy = tmp_path / "copy"
    (copy / "tests").mkdir(parents=True)
    (copy / "tests" / "test_x.py").write_text("def test_x():\n    " + solution + "\n")
    notebook = {"cells": [{"cell_type": "code", "source": [hidden[:10], hidden[10:]], "metadata": {}}]}
    (copy / "nb.ipynb").write_text(json.dumps(notebook))
    found = leaks(copy)
    assert ("tests/test_x.py", origin_a) in found and ("nb.ipynb", origin_b) in found


def test_notebook_sources_match_the_task_table():
    assert check_sources() == []


@pytest.mark.skipif(not source_notebooks(), reason="no source notebooks yet")
def test_notebooks_are_generated_from_their_sources():
    generated = release_files(SOURCE)
    committed = {p.relative_to(RELEASED).as_posix(): p.read_bytes() for p in sorted(RELEASED.rglob("*"))
                 if p.is_file() and ".ipynb_checkpoints" not in p.parts}
    stale = sorted(name for name in generated.keys() | committed.keys() if generated.get(name) != committed.get(name))
    assert not stale, f"notebooks/ is out of date, run `python -m grading notebooks`: {stale}"


def test_release_installs_and_runs_in_a_fresh_environment(release, tmp_path):
    """A student's way in: a new virtual environment (no inherited site-packages), `pip install -e .` in the
    release, offline from a wheel cache made of this environment's packages. With the stubs, a task's public
    tests fail with the stub's message; with the exercises done (the reference laid over the stubs), its public
    tests pass and its notebook runs from top to bottom."""
    student = shutil.copytree(release, tmp_path / "release")
    wheels = build_wheelhouse(project_requirements(student / "pyproject.toml"), tmp_path / "wheels")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LLMLAB_TARGET")
               and not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull, "MPLCONFIGDIR": str(tmp_path / "mpl"),
                                                "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}"}  # activated

    def run(*args, cwd=student):
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=environ, timeout=900)

    install = run(python, "-m", "pip", "install", "--no-index", "--find-links", str(wheels), "-e", ".")
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    where = run(python, "-c", "import llmlab.tasks, torch; print(llmlab.tasks.__file__)", cwd=tmp_path)
    assert where.stdout.strip() == str(student / "llmlab" / "tasks.py"), where.stderr

    public_tests = (python, "-m", "pytest", "tests", "--task", "t04_flops", "-q", "-p", "no:cacheprovider")
    with_stubs = run(*public_tests, "-x")
    assert with_stubs.returncode == 1, with_stubs.stdout[-3000:]
    assert "NotImplementedError: t04_flops: implement" in with_stubs.stdout, with_stubs.stdout[-3000:]

    for module in EXERCISE_MODULES:
        shutil.copy(ROOT / "solutions" / "llmlab" / f"{module}.py", student / "llmlab" / f"{module}.py")
    done = run(*public_tests)
    assert done.returncode == 0, done.stdout[-3000:]
    notebook = run(python, "-m", "nbconvert", "--to", "notebook", "--execute", "--output-dir",
                   str(tmp_path / "executed"), "notebooks/04_flops.ipynb")
    assert notebook.returncode == 0, notebook.stderr[-3000:]
