"""`autograde --scheduler` on a real Dask cluster (a LocalCluster of 2 worker processes): the same grades as
--jobs 2, and a worker killed in the middle of grading loses no submission and counts none twice; the batch's
similarity report lists the two submissions that share code."""
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

from grading.autograde import autograde, inventory
from grading.distributed import check_workers, local_cluster
from grading.release import build_release
from grading.sandbox import ROOT
from grading.tests import builders as b
from llmlab.tasks import BY_ID, EXERCISE_MODULES


def grades(out) -> dict:
    """{student: (grade sheet row without timings, every task's result as the student sees it)}."""
    with open(out / "grades.csv", encoding="utf-8") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    seen = {}
    for student, row in rows.items():
        data = json.loads((out / student / "results.json").read_text(encoding="utf-8"))
        seen[student] = (row, data["score"], data["tests"], data["output"])
    return seen


def kill_a_grading_worker(client, killed: dict):
    """As soon as a worker runs a submission's trusted pytest process, SIGKILL the worker's process; record
    what it was grading and which of its child processes still run 5 s later."""
    pids = client.run(os.getpid)
    while True:
        for worker, pid in pids.items():
            children = psutil.Process(pid).children(recursive=True)
            if any("pytest" in " ".join(_cmdline(child)) for child in children):
                keys = client.processing(workers=[worker])[worker]
                psutil.Process(pid).send_signal(signal.SIGKILL)
                _, alive = psutil.wait_procs(children, timeout=5)      # its pytest would run on for longer
                killed.update(worker=worker, pid=pid, keys=list(keys), children_alive=alive)
                return
        time.sleep(0.05)


def _cmdline(process) -> list:
    try:
        return process.cmdline()
    except psutil.Error:        # it has ended meanwhile
        return []


def test_local_cluster_grades_as_jobs_2_and_survives_a_killed_worker(tmp_path):
    graded = inventory()
    module, other = b.choose_modules(graded)
    tasks = [t for t in graded if BY_ID[t].module == module] + [other]
    release = build_release(tmp_path / "release")
    subs, reference = tmp_path / "submissions", b.reference_modules()
    b.submission(release, subs / "reference", reference)
    b.submission(release, subs / "blank")
    b.submission(release, subs / "partial", reference | {module: b.stub(module)})
    autograde(subs, tmp_path / "jobs2", jobs=2, tasks=tasks, notebooks=None, progress=False)
    expected = grades(tmp_path / "jobs2")
    assert expected["reference"][1] > expected["partial"][1] > expected["blank"][1] == 0

    command = [sys.executable, "-m", "grading", "autograde", str(subs), "--no-notebooks", *(f"--task={t}" for t in tasks)]
    with local_cluster(2) as client:                    # as `dask scheduler` and `dask worker` would be
        scheduler = ["--scheduler", client.scheduler.address]
        with pytest.raises(RuntimeError, match=f"does not see {tmp_path / 'missing'}"):
            check_workers(client, [tmp_path / "missing"])       # as a worker without the shared file system
        killed = {}
        killer = threading.Thread(target=kill_a_grading_worker, args=(client, killed))
        killer.start()
        run = subprocess.run([*command, "--out", str(tmp_path / "dask"), *scheduler], cwd=ROOT, capture_output=True,
                             text=True, timeout=600)
        killer.join()
        assert run.returncode == 0, run.stderr[-3000:]
        story = client.cluster.scheduler.story(*killed["keys"])
        client.wait_for_workers(2)                      # the nanny started a new worker process
        assert killed["pid"] not in client.run(os.getpid).values()

    # graded again, elsewhere: the killed task went to "processing" a second time
    assert killed["keys"] and sum(entry[2] == "processing" for entry in story) >= 2 * len(killed["keys"]), story
    assert grades(tmp_path / "dask") == expected                        # nothing lost, nothing changed
    with open(tmp_path / "dask" / "grades.csv", encoding="utf-8") as f:
        assert [r["student_id"] for r in csv.DictReader(f)] == ["blank", "partial", "reference"]  # each once
    assert "graded 3 of 3 submissions" in (tmp_path / "dask" / "logs" / "autograde.log").read_text()
    with open(tmp_path / "dask" / "logs" / "similarity.csv", encoding="utf-8") as f:    # instructor only
        similar = {(r["module"], r["student_a"], r["student_b"]) for r in csv.DictReader(f)}
    assert {(m, *sorted(pair)) for m, *pair in similar} == {(m, "partial", "reference") for m in EXERCISE_MODULES
                                                            if m != module}
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{tmp_path / 'dask' / 'nbgrader' / 'gradebook.db'}") as gradebook:
        assert sorted(s.student.id for s in gradebook.assignment_submissions("lecture11")) == sorted(expected)
    assert killed["children_alive"] == [], "the killed worker's grading processes kept running"

