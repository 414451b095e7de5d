"""The hidden tests tell right from wrong: they fail every known-wrong implementation of a task and pass
the reference and every correct alternative; a core mistake loses most of its task, an edge case a little."""
import json

import pytest

from grading.autograde import weighted_fraction_passed
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


# mutant -> (at least, at most) the share of its task's points it keeps (grading/autograde.py's weighted score)
KEPT_SHARE = {
    "t01_greedy/argmax_over_the_batch": (0, 0.5),          # core: a wrong argmax
    "t03_prefill_decode/naive_loop": (0, 0.5),             # core: no cache use, though the tokens are right
    "t02_temperature/multiplies": (0, 0.5),                # core: a wrong formula
    "t01_greedy/highest_index_on_ties": (0.75, 1),         # edge: ties
    "t01_top_k/ignores_min_tokens_to_keep": (0.75, 1),     # edge: min_tokens_to_keep
    "t01_top_p/message_without_the_argument": (0.9, 1),    # edge: a validation message
}


@pytest.mark.parametrize("mutant", sorted(KEPT_SHARE))
def test_points_follow_importance(mutant, tmp_path):
    record = tmp_path / "record.json"
    run_hidden_tests(mutant.split("/")[0], build_target(tmp_path / "target", MUTANTS / f"{mutant}.py"), record=record,
                     stop_at_first_failure=False)
    kept = weighted_fraction_passed(json.loads(record.read_text(encoding="utf-8"))["tests"])
    least, most = KEPT_SHARE[mutant]
    assert least <= kept <= most and kept < 1, f"{mutant} keeps {kept:.0%} of its task's points"


def test_a_caught_mutant_gets_a_message_a_student_can_act_on(tmp_path):
    mutant = MUTANTS / "t01_greedy" / "highest_index_on_ties.py"
    record = tmp_path / "record.json"
    run_hidden_tests("t01_greedy", build_target(tmp_path / "target", mutant), record=record)
    failed = [t for t in json.loads(record.read_text(encoding="utf-8"))["tests"] if t["outcome"] == "failed"]
    assert [t["message"] for t in failed] == ["failed: ties pick the lowest index (AssertionError)"]
