"""The hidden tests tell right from wrong: they fail every known-wrong implementation of a task and pass
the reference and every correct alternative."""
import pytest

from grading.mutants import ALTERNATIVES, MUTANTS, build_target, run_hidden_tests, variants


def _id(path):
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("mutant", variants(MUTANTS), ids=_id)
def test_hidden_tests_fail_mutant(mutant, tmp_path):
    result = run_hidden_tests(mutant.parent.name, build_target(tmp_path, mutant))
    # exit code 1: tests ran and at least one failed (not a collection or usage error)
    assert result.returncode == 1, f"hidden tests did not catch {_id(mutant)}:\n{result.stdout[-3000:]}"


@pytest.mark.parametrize("alternative", variants(ALTERNATIVES), ids=_id)
def test_hidden_tests_pass_alternative(alternative, tmp_path):
    result = run_hidden_tests(alternative.parent.name, build_target(tmp_path, alternative))
    assert result.returncode == 0, f"hidden tests rejected the correct {_id(alternative)}:\n{result.stdout[-3000:]}"


@pytest.mark.parametrize("task_id", sorted({p.parent.name for p in variants(MUTANTS)}))
def test_hidden_tests_pass_reference_through_sandbox(task_id, tmp_path):
    from grading.overlay import build_overlay
    result = run_hidden_tests(task_id, build_overlay(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_caught_mutant_gets_a_message_a_student_can_act_on(tmp_path):
    import json
    mutant = MUTANTS / "t01_greedy" / "highest_index_on_ties.py"
    record = tmp_path / "record.json"
    run_hidden_tests("t01_greedy", build_target(tmp_path / "target", mutant), record=record)
    failed = [t for t in json.loads(record.read_text(encoding="utf-8"))["tests"] if t["outcome"] == "failed"]
    assert [t["message"] for t in failed] == ["failed: ties pick the lowest index (AssertionError)"]
