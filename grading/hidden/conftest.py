"""Hidden tests run in the trusted process. With LLMLAB_SUBMISSION=<dir holding llmlab/>, every scenario they
call runs in that submission's sandbox (grading/sandbox.py) instead of in-process against the reference;
LLMLAB_LIMITS (JSON of sandbox.Limits) sets the limits. After a time-out in one test, the remaining tests of
the same task fail at once instead of each waiting for its own time-out."""
import os
import sys
from pathlib import Path

import pytest

from tests import adapters

try:
    from grading import doubles
except ImportError:  # no test doubles yet
    doubles = None
if doubles is not None:
    doubles.register(adapters)

_timed_out_tasks = set()


def _task(item):
    marker = item.get_closest_marker("task")
    return marker.args[0] if marker else None


@pytest.fixture(scope="session", autouse=True)
def route_scenarios_to_submission():
    target = os.environ.get("LLMLAB_SUBMISSION")
    if not target:
        yield
        return
    from grading.sandbox import Limits, Sandbox
    sandbox = Sandbox(target, Limits.from_env(), log=os.environ.get("LLMLAB_SANDBOX_LOG"),
                      host=doubles.serve if doubles is not None else None)
    adapters.set_remote(sandbox.call)
    yield
    adapters.set_remote(None)
    sandbox.close()
    _assert_submission_not_imported(Path(target).resolve())


def _assert_submission_not_imported(target: Path):
    """The trusted process must never have imported a module of the submission."""
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve().is_relative_to(target):
            raise RuntimeError(f"the trusted process imported the submission's {path}")


@pytest.fixture(autouse=True)
def _stop_after_time_out(request):
    if _task(request.node) in _timed_out_tasks:
        from grading.sandbox import TimeLimit
        raise TimeLimit("not run: an earlier test of this task ran out of time")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    from grading.sandbox import TimeLimit
    if call.excinfo is not None and isinstance(call.excinfo.value, TimeLimit):
        _timed_out_tasks.add(_task(item))
    return outcome
