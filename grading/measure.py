"""python -m grading.measure [--students N] [--notebooks]: how long autograding takes on this machine.

Builds the release, makes N copies of the reference submission and grades them twice, with --jobs 1 and with
--jobs 2; prints seconds per submission (wall clock, without the fixed cost of a batch: collecting the hidden
tests, opening the gradebook; and CPU), the speedup, and the load average, which says how much else the
machine was doing. The figures in grading/README.md come from here.
"""
import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from grading.autograde import autograde
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
        for jobs in (1, 2):
            out, source = tmp / f"out-{jobs}", SOURCE if notebooks else None
            autograde(empty, out, notebooks=source, progress=False)      # makes the nbgrader course, once
            started = time.monotonic()
            autograde(empty, out, notebooks=source, progress=False)      # what every batch costs
            overhead = time.monotonic() - started
            wall, cpu = time.monotonic(), _cpu()
            rows = autograde(subs, out, jobs=jobs, notebooks=source, progress=False)
            wall, cpu = time.monotonic() - wall, _cpu() - cpu
            assert all(row["total"] == rows[0]["total"] for row in rows)
            figures[jobs] = {"seconds_per_submission": (wall - overhead) / students,
                             "cpu_per_submission": cpu / students, "overhead": overhead, "total": rows[0]["total"]}
        figures["speedup"] = figures[1]["seconds_per_submission"] / figures[2]["seconds_per_submission"]
        figures["load_average"] = os.getloadavg()
        return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=4)
    parser.add_argument("--notebooks", action="store_true", help="grade the notebooks too (solutions/notebooks)")
    args = parser.parse_args()
    if args.notebooks and not source_notebooks():
        parser.error("no source notebooks in solutions/notebooks")
    figures = measure(args.students, args.notebooks)
    print(f"{args.students} reference submissions, {os.cpu_count()} CPUs, notebooks: {args.notebooks}")
    for jobs in (1, 2):
        f = figures[jobs]
        print(f"--jobs {jobs}: {f['seconds_per_submission']:.1f} s per submission (wall), "
              f"{f['cpu_per_submission']:.1f} CPU s per submission, {f['overhead']:.1f} s per batch, "
              f"score {f['total']}")
    print(f"speedup of --jobs 2: {figures['speedup']:.2f}x; load average after: "
          + " ".join(f"{x:.1f}" for x in figures["load_average"]))


if __name__ == "__main__":
    main()
