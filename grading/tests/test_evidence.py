"""What the grader trusts cannot be forged from inside the sandbox, and hidden tests never reach students: each
attack in grading/fixtures/evidence grades no higher than the honest submission it builds on (the same code
without the attack), and a submission hunting for hidden notebook tests sends none of them back."""
import json
import uuid

import pytest

from grading.autograde import autograde
from grading.mutants import MUTANTS, build_target, run_hidden_tests
from grading.notebooks import ASSIGNMENT, release_files
from grading.release import build_release
from grading.sandbox import ROOT
from grading.tests import builders as b
from llmlab.tasks import BY_ID

ATTACKS = ROOT / "grading" / "fixtures" / "evidence"
HONEST_TWIN = {  # attack -> the mutant it is laid over: the same submission without the attack
    "t03_prefill_decode/forge_call_log": "t03_prefill_decode/naive_loop",
    "t03_prefill_decode/patch_the_double": "t03_prefill_decode/naive_loop",
    "t03_prefill_decode/replace_new_cache": "t03_prefill_decode/naive_loop",
    "t03_prefill_decode/forge_step_times": "t03_prefill_decode/times_argmax_only",
    "t02_temperature/patch_torch_equal": "t02_temperature/in_place",
}


def passed(task_id, folder, *variants):
    """(hidden tests passed, hidden tests run) for the reference with `variants` appended in turn."""
    target = build_target(folder / "target", variants[0])
    module = target / "llmlab" / f"{BY_ID[task_id].module}.py"
    for variant in variants[1:]:
        module.write_text(module.read_text(encoding="utf-8") + "\n\n# ---- attack ----\n"
                          + variant.read_text(encoding="utf-8"), encoding="utf-8")
    record = folder / "record.json"
    run_hidden_tests(task_id, target, record=record, stop_at_first_failure=False)
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
    twin = MUTANTS / f"{HONEST_TWIN[attack]}.py"
    attacked, total = passed(task_id, tmp_path / "attack", twin, ATTACKS / f"{attack}.py")
    honest, _ = passed(task_id, tmp_path / "honest", twin)
    assert honest < total, f"{HONEST_TWIN[attack]} is not caught at all"
    assert attacked <= honest, f"{attack} passed {attacked} of {total} hidden tests, its honest twin {honest}"


def test_hidden_notebook_tests_reach_no_student_facing_output(tmp_path):
    """A submission that looks for the hidden check-cell code everywhere it can (disk, other processes, its own
    kernel's stack and history) and sends it back through every channel (exception type name and message,
    printed output) gets none of it into results.json, feedback.html or grades.csv."""
    task = "t04_flops"   # alone in its notebook
    marker = f"hidden-marker-{uuid.uuid4().hex}"
    source = b.write_source_notebook(tmp_path / "course-source", task)
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if "### BEGIN HIDDEN TESTS" in cell["source"]:
            cell["source"] = cell["source"].replace("### BEGIN HIDDEN TESTS\n",
                                                    f"### BEGIN HIDDEN TESTS\nassert '{marker}'\n")
    source.write_text(json.dumps(notebook), encoding="utf-8")
    release = build_release(tmp_path / "release")
    module = BY_ID[task].module
    subs, out = tmp_path / "submissions", tmp_path / "out"
    b.submission(release, subs / "thief", b.reference_modules() | {module: b.attacked(module, "exfiltrate_hidden_cells")},
                 {source.name: release_files(source.parent)[source.name]})
    autograde(subs, out, tasks=[task], notebooks=source.parent, progress=False)

    executed = (out / "nbgrader" / "autograded" / "thief" / ASSIGNMENT / source.name).read_text(encoding="utf-8")
    check_cell = next(c for c in json.loads(executed)["cells"] if c.get("metadata", {}).get("nbgrader", {}).get(
        "grade_id") == task)
    assert any(marker in o.get("ename", "") for o in check_cell["outputs"]), \
        "the attack did not find the hidden code"
    feedback = json.loads((out / "thief" / "results.json").read_text(encoding="utf-8"))
    graded = next(t for t in feedback["tests"] if t["number"] == task)
    assert "failed (an exception of its own type)" in graded["output"], graded["output"]
    for path in [out / "grades.csv", *out.glob("*/results.json"), *out.glob("*/feedback.html")]:
        assert marker not in path.read_text(encoding="utf-8"), f"{path} shows the hidden check-cell code"
