"""The CPU check for device mistakes: the public and the hidden tests with the model on the fake GPU
(LLMLAB_DEVICE=fake-cuda: grading/device_under_test.py, llmlab/fake_cuda.py), where any operation that mixes its
tensors with CPU ones fails as it would on a real GPU. The five source notebooks pass the same way with
`LLMLAB_DEVICE=fake-cuda python -m pytest --nbval solutions/notebooks`, but take about 4 minutes on 2 cores
(every operation on the fake GPU goes through Python), too long for this suite; grading/gpu_check.py runs both
on a real GPU."""
import os
import re
import subprocess
import sys

from grading.overlay import ROOT


def run_on_the_fake_gpu(*args) -> str:
    """pytest ARGS with LLMLAB_DEVICE=fake-cuda, in the repository; its summary line, once it passed."""
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                         env=dict(os.environ, LLMLAB_DEVICE="fake-cuda"), capture_output=True, text=True,
                         timeout=1200)
    summary = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "skipped" not in summary and "deselected" not in summary, summary
    return summary


def test_public_and_hidden_tests_pass_with_the_model_on_the_fake_gpu():
    summary = run_on_the_fake_gpu("tests", "grading/hidden")
    assert int(re.search(r"(\d+) passed", summary)[1]) >= 500, summary

