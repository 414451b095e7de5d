"""Instructor-side pytest set-up: tests import `llmlab` as the reference (llmlab/ + solutions/ overlaid), unless
LLMLAB_TARGET=student (the committed stubs, as students receive them). A run with `--task` (a student checking
one exercise, as llmlab.check does) tests the student's llmlab/ unless LLMLAB_TARGET=reference says otherwise."""
import os
import sys

from grading.overlay import temporary_overlay

TARGETS = ("reference", "student")


def _target() -> str:
    target = os.environ.get("LLMLAB_TARGET")
    if target is None:
        checking_one_task = any(arg == "--task" or arg.startswith("--task=") for arg in sys.argv)
        target = "student" if checking_one_task else "reference"
    if target not in TARGETS:
        raise ValueError(f"LLMLAB_TARGET must be one of {TARGETS}, got {target!r}")
    return target


if os.environ.get("PYTEST_XDIST_WORKER"):
    # Parallel test workers share the cores: one thread each (for the subprocesses and kernels they start
    # too), as oversubscribed torch threads slow everything down many times over.
    os.environ["OMP_NUM_THREADS"] = "1"

# Exported so that the processes the tests start (kernels, llmlab.check's pytest, xdist workers) test the same.
os.environ["LLMLAB_TARGET"] = _target()
if os.environ["LLMLAB_TARGET"] == "reference":
    assert "llmlab" not in sys.modules, "llmlab was imported before the reference overlay was set up"
    _overlay = str(temporary_overlay())
    sys.path.insert(0, _overlay)
    import llmlab  # noqa: E402 - bind the name now: pytest later puts the repository root first on sys.path

    assert llmlab.__file__.startswith(_overlay), llmlab.__file__
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_overlay, os.environ.get("PYTHONPATH")]))


if os.environ.get("LLMLAB_DEVICE"):  # student code under test on that device (grading/device_under_test.py)
    from grading.device_under_test import install
    from tests import adapters

    install(adapters)


def pytest_configure(config):
    # Execute the source notebooks with nbval (lax: only cells marked NBVAL_CHECK_OUTPUT compare their stored
    # outputs; the student forms in notebooks/ carry none and run in the browser test and the stub-state test).
    config.option.nbval_lax = True
    config.option.nbval_cell_timeout = 600


def pytest_terminal_summary(terminalreporter):
    seconds = sum(report.duration for reports in terminalreporter.stats.values() for report in reports
                  if getattr(report, "when", None) == "call" and ".ipynb::" in getattr(report, "nodeid", ""))
    if seconds:
        terminalreporter.write_line(f"notebooks under nbval: {seconds:.0f} s of cell execution in total")
