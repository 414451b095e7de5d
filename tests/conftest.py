"""Public test set-up. `pytest --task t01_top_k` runs only the tests of one exercise."""
import json
import os

import pytest

from llmlab.check import COLLECTED, DONE, FAILED, PROGRESS
from llmlab.tasks import TASK_IDS


def pytest_addoption(parser):
    parser.addoption("--task", action="append", default=[], choices=TASK_IDS,
                     help="run only the tests marked with this task ID (repeatable)")


def pytest_collection_modifyitems(config, items):
    wanted = set(config.getoption("--task"))
    if not wanted:
        return
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("task")
        (keep if marker and marker.args[0] in wanted else drop).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep


# llmlab.check() shows a progress bar and the failures' messages, fed by these lines.
def pytest_collection_finish(session):
    if os.environ.get(PROGRESS):
        print(f"\n{COLLECTED}{len(session.items)}", flush=True)


def pytest_runtest_logfinish(nodeid, location):
    if os.environ.get(PROGRESS):
        print(f"\n{DONE}", flush=True)


def pytest_runtest_logreport(report):
    if os.environ.get(PROGRESS) and report.failed:
        _print_failure(report)


def pytest_collectreport(report):
    if os.environ.get(PROGRESS) and report.failed:
        _print_failure(report)


def _print_failure(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash else str(report.longrepr).strip()
    print(f"\n{FAILED}{json.dumps({'test': report.nodeid, 'message': message})}", flush=True)
