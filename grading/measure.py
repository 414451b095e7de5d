"""python -m grading.measure [--students N] [--notebooks]: how long autograding takes on this machine.

Builds the release, makes N copies of the reference submission and grades them with --jobs 1, with --jobs 2
and on a Dask LocalCluster of 2 worker processes (grading/distributed.py); prints seconds per submission (wall
clock, without the fixed cost of a batch: collecting the hidden tests, opening the gradebook; and CPU), the
speedup, and the load average, which says how much else the machine was doing. The figures in grading/README.md come from here.
"""
import argparse
import contextlib
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from grading.autograde import autograde
from grading.distributed import local_cluster_executor
from grading.notebooks import SOURCE, release_files, source_notebooks
from grading.release import build_release
from grading.sandbox import ROOT


def _cpu() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def measure(students: int, notebooks: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="llmlab-measure-") as tmp:
        tmp = Path(tmp)
        release = build_release(tmp / "release")
        if notebooks:
            for name, data in release_files(SOURCE).items():
                (release / "notebooks" / name).write_bytes(data)
        subs = tmp / "submissions"
        for i in range(students):
            shutil.copytree(release, subs / f"student{i:02d}")
            for solution in (ROOT / "solutions" / "llmlab").glob("*.py"):
                shutil.copyfile(solution, subs / f"student{i:02d}" / "llmlab" / solution.name)
        figures, empty = {}, tmp / "empty"
        empty.mkdir()
        for i, (way, jobs, executor) in enumerate(_ways()):
            out, source = tmp / f"out-{i}", SOURCE if notebooks else None
            autograde(empty, out, notebooks=source, progress=False)      # makes the nbgrader course, once
            started = time.monotonic()
            autograde(empty, out, notebooks=source, progress=False)      # what every batch costs
            overhead = time.monotonic() - started
            with executor as pool:              # a Dask cluster starts here, before the clock
                wall, cpu = time.monotonic(), _cpu()
                rows = autograde(subs, out, jobs=jobs, executor=pool, notebooks=source, progress=False)
                wall, cpu = time.monotonic() - wall, _cpu() - cpu
            assert all(row["total"] == rows[0]["total"] for row in rows)
            figures[way] = {"seconds_per_submission": (wall - overhead) / students, "overhead": overhead,
                            "cpu_per_submission": None if pool else cpu / students, "total": rows[0]["total"]}
        return figures, os.getloadavg()


def _ways() -> list:
    """(name, jobs, executor context) of each way of grading measured. The CPU time of a Dask cluster's worker
    processes is not counted (they are still running when the clock stops)."""
    return [("--jobs 1", 1, contextlib.nullcontext()), ("--jobs 2", 2, contextlib.nullcontext()),
            ("Dask LocalCluster, 2 workers", 2, local_cluster_executor(2))]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--notebooks", action="store_true", help="grade the notebooks too (solutions/notebooks)")
    args = parser.parse_args()
    if args.notebooks and not source_notebooks():
        parser.error("no source notebooks in solutions/notebooks")
    figures, load = measure(args.students, args.notebooks)
    print(f"{args.students} reference submissions, {os.cpu_count()} CPUs, notebooks: {args.notebooks}")
    one = figures["--jobs 1"]["seconds_per_submission"]
    for way, f in figures.items():
        cpu = "" if f["cpu_per_submission"] is None else f"{f['cpu_per_submission']:.1f} CPU s per submission, "
        print(f"{way}: {f['seconds_per_submission']:.1f} s per submission (wall), {cpu}"
              f"{f['overhead']:.1f} s per batch, score {f['total']}, speedup {one / f['seconds_per_submission']:.2f}x")
    print("load average after: " + " ".join(f"{x:.1f}" for x in load))


if __name__ == "__main__":
    main()
