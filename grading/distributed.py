"""Grading on Dask distributed: each submission is one Dask task, `grade_submission(student_id, path, plan)`.

A worker reads the submission at `path` and writes its logs and notebook copies under plan.out, so the
submissions folder and the output folder must be at the same absolute paths on every worker (a shared file
system); the main process writes everything that counts (feedback, grade sheet, gradebook) once per finished
task. When a worker dies, the scheduler runs its tasks again on another worker; what the first attempt wrote
is per student and is overwritten, so a submission is neither lost nor counted twice.
"""
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

from grading.sandbox import ROOT

GRADER_FILES = ("grading/hidden", "grading/autograde.py", "grading/sandbox.py", "grading/worker.py",
                "solutions/llmlab", "tests/adapters.py", "llmlab")


def grader_digest(root=ROOT) -> str:
    """A digest of what decides the grades (hidden tests, reference, harness, release package), to check that
    every worker grades with the same grader as the main process."""
    digest = hashlib.sha256()
    for top in GRADER_FILES:
        path = Path(root) / top
        for file in sorted([path] if path.is_file() else path.rglob("*.py")):
            digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def check_workers(client, folders) -> None:
    """Raise RuntimeError unless every worker sees `folders` (at the same paths) and has the same grader."""
    if not client.scheduler_info()["workers"]:
        raise RuntimeError(f"the Dask cluster at {client.scheduler.address} has no workers")
    problems = []
    for folder in folders:
        for worker, seen in client.run(os.path.isdir, str(folder)).items():
            if not seen:
                problems.append(f"worker {worker} does not see {folder} (a shared file system at the same path)")
    mine = grader_digest()
    for worker, theirs in client.run(grader_digest).items():
        if theirs != mine:
            problems.append(f"worker {worker} has another version of the grader (hidden tests, reference or "
                            f"llmlab/) than this machine")
    if problems:
        raise RuntimeError("cannot grade on this Dask cluster:\n" + "\n".join(problems))


@contextmanager
def cluster_executor(scheduler: str, folders=()):
    """A concurrent.futures executor on the Dask cluster at `scheduler` (e.g. tcp://host:8786), checked first."""
    from dask.distributed import Client
    try:
        client = Client(scheduler, timeout="30s")
    except OSError as e:
        raise RuntimeError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({e})") from None
    with client:
        check_workers(client, folders)
        yield client.get_executor(pure=False)     # the same submission graded again is a new task


@contextmanager
def local_cluster(workers: int = 2):
    """A Dask LocalCluster of `workers` processes with one thread each (one submission at a time per worker),
    and a Client connected to it."""
    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


@contextmanager
def local_cluster_executor(workers: int = 2):
    """A concurrent.futures executor on a fresh LocalCluster of `workers` processes (grading.measure)."""
    with local_cluster(workers) as client:
        yield client.get_executor(pure=False)
