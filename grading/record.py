"""A pytest plugin of the trusted hidden-test process (`-p grading.record`): writes every hidden test's task,
outcome and student-safe message to the JSON file $LLMLAB_RECORD, rewritten after each test so that a run cut
short still leaves what it did. Only this trusted process writes that file; the sandbox cannot see it.

The message never holds hidden test code or an assertion message (which may hold expected values):
- passed: ""
- the stub still raises NotImplementedError: "not implemented yet (<the stub's message>)"
- otherwise: the first line of the test's docstring (public-safe by convention: the property checked and an
  input reproducible from the public tests), else the property the test's name states ("test_ties_pick_the_
  lowest_index" -> "failed: ties pick the lowest index (AssertionError)"); when
  the sandbox reported the failure (an exception of the student's code, a time-out, a crash, a limit), its
  reason is appended.
With --collect-only, the file lists the collected tests and any collection errors instead.

Each record also holds the test's `weight`: its share of the task's points. A hidden test declares what it checks
and how much that matters with `@pytest.mark.promise(*promise_keys, weight=w)` (default 1; see
grading/promises.py); a parametrized test's weight is split evenly over its parameter sets, so points follow
what is checked, not how many inputs check it.
"""
import json
import os
from collections import Counter
from pathlib import Path

import pytest

_records = {}
_errors = []


def _task(item):
    marker = item.get_closest_marker("task")
    return marker.args[0] if marker else None


def weights(items) -> dict:
    """{node ID: weight}: each test function's declared weight split evenly over its collected parameter sets."""
    def function(item):
        return item.nodeid.split("[")[0]
    instances = Counter(function(item) for item in items)
    return {item.nodeid: declared_weight(item) / instances[function(item)] for item in items}


def declared_weight(item) -> float:
    marker = item.get_closest_marker("promise")
    return float(marker.kwargs.get("weight", 1)) if marker else 1.0


def _write():
    path = os.environ.get("LLMLAB_RECORD")
    if not path:
        return
    tmp = Path(path + ".tmp")
    tmp.write_text(json.dumps({"tests": list(_records.values()), "errors": _errors}, indent=1), encoding="utf-8")
    tmp.replace(path)


def public_message(item, excinfo) -> str:
    from grading.sandbox import SubmissionError
    error = excinfo.value
    if isinstance(error, NotImplementedError):
        return f"not implemented yet ({str(error)[:300]})"
    doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip().splitlines()
    if doc:
        message = doc[0].strip()
    else:  # the name states the property checked
        name = getattr(item, "originalname", None) or item.name
        message = f"failed: {name.removeprefix('test_').replace('_', ' ')} ({type(error).__name__})"
    if isinstance(error, SubmissionError):
        message += f" [your code raised {error}]" if error.kind else f" [{error}]"
    return message


def pytest_collection_finish(session):
    for item in session.items:
        _records[item.nodeid] = {"nodeid": item.nodeid, "task": _task(item), "outcome": "not run", "message": ""}
    for nodeid, weight in weights(session.items).items():
        _records[nodeid]["weight"] = weight
    _write()


def pytest_collectreport(report):
    if report.failed:
        _errors.append({"nodeid": report.nodeid, "error": str(report.longrepr)[-3000:]})
        _write()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    record = _records.setdefault(item.nodeid, {"nodeid": item.nodeid, "task": _task(item)})
    if report.when == "call" or report.failed or report.skipped:
        if report.failed:
            record.update(outcome="failed", message=public_message(item, call.excinfo))
        elif report.skipped:
            record.update(outcome="skipped", message="")
        elif report.when == "call":
            record.update(outcome="passed", message="")
        record["seconds"] = round(record.get("seconds", 0) + report.duration, 3)
        _write()
