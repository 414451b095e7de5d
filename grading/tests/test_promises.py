"""Every promise of a task's docstrings has a hidden test, every hidden test checks a promise, and the coverage
table of grading/README.md is generated from them (grading/promises.py)."""
import re

from grading import promises
from grading.autograde import inventory


def test_every_promise_has_a_hidden_test_and_every_test_a_promise():
    assert promises.problems() == []


def test_a_promise_no_longer_in_the_docstring_or_without_a_test_is_found(monkeypatch):
    module = promises.hidden_module("t01_greedy")
    monkeypatch.setitem(module.PROMISES, "ties", "On ties the highest index wins.")
    monkeypatch.setitem(module.PROMISES, "untested", "Greedy decoding")
    found = promises.problems()
    assert any("'ties' quotes" in p for p in found) and any("no hidden test checks promise 'untested'" in p
                                                            for p in found)


def test_the_readme_table_is_current():
    text = promises.README.read_text(encoding="utf-8")
    section = re.search(re.escape(promises.BEGIN) + "\n(.*?)" + re.escape(promises.END), text, flags=re.S)
    assert section and section.group(1) == promises.table(), "run python -m grading.promises"


def test_a_parametrized_test_splits_its_weight_over_its_parameter_sets():
    weights = inventory(["t01_greedy"])["t01_greedy"]
    random_batches = {k: w for k, w in weights.items() if "test_random_batches_with_minus_inf[" in k}
    assert len(random_batches) == 3 and all(w == 4 / 3 for w in random_batches.values())
    assert weights["grading/hidden/test_t01_greedy.py::test_ties_pick_the_lowest_index"] == 1.5
