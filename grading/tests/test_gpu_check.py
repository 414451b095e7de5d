"""The GPU check's driver (grading/gpu_check.py) on the CPU: its plan, its argument errors, the grade check, and
its first step for real. The steps themselves are the test suites, nbval, the autograder and the benchmark,
each tested on its own."""
import subprocess
import sys

import pytest

from grading import gpu_check


def run(*args):
    return subprocess.run([sys.executable, "-m", "grading.gpu_check", *args], cwd=gpu_check.ROOT,
                          capture_output=True, text=True, timeout=300)


def test_dry_run_prints_every_step_with_the_device_under_test():
    result = run("--dry-run", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in gpu_check.STEPS:
        assert f"== {step}:" in out and f"\n{step} " in out.split("== summary")[1]
    assert "LLMLAB_DEVICE=cpu" in out and "--nbval solutions/notebooks" in out and "tests grading/hidden" in out
    assert "llmlab.instructor.bench --reference --device cpu" in out and "grading autograde" in out


@pytest.mark.parametrize("args,message", [(["--steps", "env,nope"], "--steps: unknown step(s) ['nope']"),
                                          (["--wheels", "."], "--wheels: . holds no .whl files")])
def test_bad_arguments_give_one_error_naming_the_option(args, message):
    result = run("--dry-run", *args)
    assert result.returncode == 2 and message in result.stderr


def test_wheels_are_installed_first_without_the_network(tmp_path):
    (tmp_path / "nbval-0.11.0-py2.py3-none-any.whl").write_bytes(b"")
    out = run("--dry-run", "--steps", "env", "--wheels", str(tmp_path)).stdout
    assert out.index("== wheels:") < out.index("== env:")
    assert f"pip install -q --no-index --find-links {tmp_path} nbval" in out


def test_env_step_runs_and_a_missing_device_stops_the_check():
    ok = run("--device", "cpu", "--steps", "env")
    assert ok.returncode == 0 and "device cpu" in ok.stdout and "env        ok" in ok.stdout
    missing = run("--device", "cuda:7", "--steps", "env,tests")
    assert missing.returncode == 1 and "env        FAILED" in missing.stdout and "\ntests " not in missing.stdout


def test_grades_check_wants_full_marks_for_the_reference_and_zero_for_the_blank(tmp_path):
    grades = tmp_path / "grades.csv"
    grades.write_text("student_id,t01_greedy,total,max\nblank,0,0,86\nreference,2,86,86\n")
    assert gpu_check.check_grades(grades) == ""
    grades.write_text("student_id,t01_greedy,total,max\nblank,1,1,86\nreference,2,84.5,86\n")
    assert gpu_check.check_grades(grades) == "reference scored 84.5 of 86; blank release scored 1"
