"""Each exercise is checkable on its own: in the student release, with only one task's reference (and the
tasks it declares in llmlab/tasks.py as needed) laid over the stubs, llmlab.check(task) passes."""
import shutil

from grading.release import build_release
from grading.tests.references import lay_reference, run_check
from llmlab.tasks import TASKS, prerequisites


def test_each_task_passes_its_check_with_only_its_reference_and_prerequisites(tmp_path):
    release = build_release(tmp_path / "release")
    pristine = {path.name: path.read_text(encoding="utf-8") for path in (release / "llmlab").glob("*.py")}
    outcomes = {}
    for task in TASKS:
        for name, text in pristine.items():  # every stub back as the student received it
            (release / "llmlab" / name).write_text(text, encoding="utf-8")
        lay_reference(release, [task.id, *prerequisites(task.id)])
        run = run_check(release, task.id)
        outcomes[task.id] = "pass" if run.returncode == 0 else (run.stdout + run.stderr).strip()[-1500:]
        assert run.returncode != 0 or f"✓ {task.id}: public tests pass" in run.stdout, run.stdout
        shutil.rmtree(release / "llmlab" / "__pycache__", ignore_errors=True)
    failed = {task: outcome for task, outcome in outcomes.items() if outcome != "pass"}
    assert not failed, "\n\n".join(f"{task}:\n{outcome}" for task, outcome in failed.items())
