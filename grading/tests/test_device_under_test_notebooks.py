"""The five source notebooks with the model on the fake GPU (see test_device_under_test.py)."""
import re

from grading.tests.test_device_under_test import run_on_the_fake_gpu


def test_source_notebooks_run_with_the_model_on_the_fake_gpu():
    summary = run_on_the_fake_gpu("--nbval", "solutions/notebooks")
    assert int(re.search(r"(\d+) passed", summary)[1]) >= 100, summary
