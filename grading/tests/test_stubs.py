"""Single source: the student stubs are generated from solutions/, and the reference overlay imports as llmlab."""
import ast
import subprocess
import sys

import pytest

from grading.overlay import ROOT, build_overlay
from grading.stubs import SOLUTIONS, expected_stubs, make_stub
from llmlab.tasks import EXERCISE_MODULES, TASKS


def test_every_exercise_module_has_a_solution():
    assert sorted(p.stem for p in SOLUTIONS.glob("*.py")) == EXERCISE_MODULES


def test_committed_stubs_are_generated_from_solutions():
    stale = [str(p.relative_to(ROOT)) for p, text in expected_stubs().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"run `python -m grading stubs`: out of date: {stale}"


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_names_exist_and_stub_raises_with_task_id(task):
    solution = ast.parse((SOLUTIONS / f"{task.module}.py").read_text(encoding="utf-8"))
    defined = {n.name for n in solution.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert set(task.names) <= defined, f"{task.id}: {set(task.names) - defined} not in solutions/llmlab/{task.module}.py"
    stub = (ROOT / "llmlab" / f"{task.module}.py").read_text(encoding="utf-8")
    assert f"NotImplementedError('{task.id}: implement" in stub or f'NotImplementedError("{task.id}: implement' in stub
    assert "### BEGIN SOLUTION" not in stub and "### END SOLUTION" not in stub


def test_stub_keeps_signature_and_docstring_and_drops_the_body():
    source = '''
def cached_attention(q, k, v, cache, layer, pos, rope):
    """Spec."""
    x = 1
    ### BEGIN SOLUTION
    secret = 42
    return secret
    ### END SOLUTION
'''
    stub = make_stub(source, "kv_cache")
    assert 'def cached_attention(q, k, v, cache, layer, pos, rope):\n    """Spec."""\n    x = 1\n' in stub
    assert "secret" not in stub
    assert "raise NotImplementedError('t05_cached_attention: implement cached_attention in llmlab/kv_cache.py" in stub


@pytest.mark.parametrize("source, problem", [
    ("def nobody():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n", "no task"),
    ("def cached_attention():\n    ### BEGIN SOLUTION\n    pass\n", "without END"),
])
def test_stub_generation_rejects_bad_markers(source, problem):
    with pytest.raises(ValueError, match=problem):
        make_stub(source, "kv_cache")


def test_reference_overlay_imports_as_llmlab(tmp_path):
    build_overlay(tmp_path)
    code = ("import llmlab, llmlab.kv_cache as kv, inspect; print(llmlab.__file__); "
            "print('NotImplementedError' in inspect.getsource(kv.KVCache.update))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(tmp_path), "PATH": ""}, check=True).stdout.split()
    assert out[0].startswith(str(tmp_path)) and out[1] == "False"
