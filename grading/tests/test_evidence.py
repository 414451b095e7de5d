"""What the hidden tests trust cannot be forged from inside the sandbox: each attack in grading/fixtures/evidence
grades no higher than the honest submission it builds on (the same code without the attack)."""
import json

import pytest

from grading.mutants import MUTANTS, build_target, run_hidden_tests
from grading.sandbox import ROOT

ATTACKS = ROOT / "grading" / "fixtures" / "evidence"
HONEST_TWIN = {  # attack -> the mutant that is the same submission without the attack
    "t03_prefill_decode/forge_call_log": "t03_prefill_decode/naive_loop",
    "t03_prefill_decode/patch_the_double": "t03_prefill_decode/naive_loop",
    "t03_prefill_decode/replace_new_cache": "t03_prefill_decode/naive_loop",
    "t03_prefill_decode/forge_step_times": "t03_prefill_decode/times_argmax_only",
}


def passed(task_id, variant, folder):
    record = folder / "record.json"
    run_hidden_tests(task_id, build_target(folder / "target", variant), record=record, stop_at_first_failure=False)
    tests = json.loads(record.read_text(encoding="utf-8"))["tests"]
    assert tests, "no hidden test ran"
    return sum(t["outcome"] == "passed" for t in tests), len(tests)


def test_every_attack_has_an_honest_twin():
    assert sorted(HONEST_TWIN) == sorted(f"{p.parent.name}/{p.stem}" for p in ATTACKS.glob("t*/*.py"))


@pytest.mark.parametrize("attack", sorted(HONEST_TWIN))
def test_attack_grades_no_higher_than_its_honest_twin(attack, tmp_path):
    task_id = attack.split("/")[0]
    (tmp_path / "attack").mkdir()
    (tmp_path / "honest").mkdir()
    attacked, total = passed(task_id, ATTACKS / f"{attack}.py", tmp_path / "attack")
    honest, _ = passed(task_id, MUTANTS / f"{HONEST_TWIN[attack]}.py", tmp_path / "honest")
    assert honest < total, f"{HONEST_TWIN[attack]} is not caught at all"
    assert attacked <= honest, f"{attack} passed {attacked} of {total} hidden tests, its honest twin {honest}"
