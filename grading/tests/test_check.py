"""llmlab.check(), the notebooks' exercise check: a pass line after a progress bar; for a wrong implementation,
the task, each failing test's own message and the command that shows everything; the student's code, never the
reference, unless the instructor asks for it."""
import os
import shutil
import subprocess
import sys

import pytest

import llmlab
from grading.overlay import ROOT
from grading.release import build_release
from grading.tests.references import lay_reference, replace_definitions, run_check


def test_check_prints_a_pass_line_after_a_full_progress_bar(capsys):
    llmlab.check("t04_flops")
    out, err = capsys.readouterr()
    assert out.startswith("✓ t04_flops: public tests pass (") and " passed" in out
    bar = err.replace("\r", "\n").splitlines()
    total = next(int(line.split("/")[1].split()[0]) for line in bar if line.startswith("t04_flops:"))
    assert total > 1 and any(f"| {total}/{total} [" in line for line in bar), err


def test_check_rejects_an_unknown_task():
    with pytest.raises(ValueError, match="'t99_nothing' is not a task"):
        llmlab.check("t99_nothing")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return build_release(tmp_path_factory.mktemp("check") / "release")


@pytest.fixture
def student(release, tmp_path):
    """A fresh copy of the release, as the student received it."""
    return shutil.copytree(release, tmp_path / "student", symlinks=True)


WRONG_GREEDY = {
    # the largest logit instead of its index: a float tensor
    "values": ("def greedy(logits):\n    return logits.max(-1).values\n",
               ["greedy(logits) of 4 rows: dtype torch.float32, expected torch.int64"]),
    # the argmax over the batch instead of over the vocabulary
    "dim0": ("def greedy(logits):\n    return logits.argmax(dim=0)\n",
             ["greedy(logits) of shape (6, 50): shape (50,), expected (6,)",
              "greedy(logits) of 4 rows: 2 of 4 values differ; the first at index [1]: got 1, expected 0"]),
}


@pytest.mark.parametrize("wrong", sorted(WRONG_GREEDY))
def test_check_shows_why_a_wrong_implementation_fails(student, wrong):
    source, causes = WRONG_GREEDY[wrong]
    replace_definitions(student / "llmlab" / "decoding.py", {"greedy": source})
    run = run_check(student, "t01_greedy")
    assert run.returncode != 0 and "✓" not in run.stdout, run.stdout
    report = run.stderr[run.stderr.index("AssertionError: "):]
    assert report.startswith("AssertionError: t01_greedy: public tests fail ("), report
    for cause in causes:
        assert cause in report, report
    assert "python -m pytest tests --task t01_greedy" in report.splitlines()[-1], report
    assert "+  where" not in report and len(report.splitlines()) <= 30, report  # one screen


def test_check_reports_an_unfinished_prerequisite_whole(student):
    lay_reference(student, ["t02_pipeline"])
    run = run_check(student, "t02_pipeline")
    assert run.returncode != 0
    assert run.stderr.strip().splitlines()[-1] == (
        "NotImplementedError: t02_pipeline builds on t01_greedy, which is not done yet: t01_greedy: implement "
        "greedy in llmlab/decoding.py (greedy decoding: argmax, lowest index on ties)"), run.stderr[-2000:]


def test_check_reports_a_stub_met_in_the_tests_whole(student):
    """A message with an apostrophe (the title of t02_pipeline) comes through whole."""
    uses_a_stub = ("def greedy(logits):\n    from llmlab.processors import process_logits\n"
                   "    return process_logits(logits, logits.new_zeros(len(logits), 0).long(), 0).argmax(-1)\n")
    replace_definitions(student / "llmlab" / "decoding.py", {"greedy": uses_a_stub})
    run = run_check(student, "t01_greedy")
    assert run.stderr.strip().splitlines()[-1] == (
        "NotImplementedError: t02_pipeline: implement process_logits in llmlab/processors.py (the logits "
        "processor chain in transformers' order)"), run.stderr[-2000:]


def test_in_the_repository_a_wrong_stub_never_passes(tmp_path):
    """llmlab.check and `pytest tests --task` in the instructor's repository test the student's llmlab/, not
    the reference; LLMLAB_TARGET=reference asks for the reference."""
    repo = tmp_path / "repo"  # what the reference overlay and the public tests need of the repository
    (repo / "grading").mkdir(parents=True)
    for name in ("conftest.py", "pyproject.toml", "grading/__init__.py", "grading/overlay.py"):
        shutil.copy2(ROOT / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for folder in ("llmlab", "tests", "solutions/llmlab"):
        shutil.copytree(ROOT / folder, repo / folder, ignore=ignore, symlinks=True)
    replace_definitions(repo / "llmlab" / "decoding.py", {"top_p_filter": "def top_p_filter(logits, p, "
                                                          "min_tokens_to_keep=1):\n    return logits\n"})
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LLMLAB_TARGET")}
    check = run_check(repo, "t01_top_p")
    assert check.returncode != 0 and "✓" not in check.stdout, check.stdout
    assert "AssertionError: t01_top_p: public tests fail" in check.stderr, check.stderr[-2000:]
    pytest_args = [sys.executable, "-m", "pytest", "tests", "--task", "t01_top_p", "-q", "-p", "no:cacheprovider"]
    student = subprocess.run(pytest_args, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert student.returncode == 1 and " failed" in student.stdout.splitlines()[-1], student.stdout[-2000:]
    reference = subprocess.run(pytest_args, cwd=repo, env=dict(env, LLMLAB_TARGET="reference"),
                               capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stdout[-2000:]
