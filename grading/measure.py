"""python -m grading.measure [--students N] [--notebooks]: how long autograding takes on this machine.

Builds the release and N submissions (the reference and, in turn, the blank release, as students hand in both),
then grades the same batch once per way of WAYS: the old way first (every Python process started cold:
LLMLAB_START=cold, at --jobs 2), then --jobs 1, --jobs 2 and a Dask LocalCluster of 2 worker processes
(grading/distributed.py), all started warm (grading/warm.py); hidden tests only, and with --notebooks the same
ways again with the notebooks too. All one after the other in this one run.
Prints, per way, seconds per submission (wall clock, without the fixed cost of a batch: collecting the hidden
tests, opening the gradebook), CPU seconds per submission of the grader and the processes it waited for (the
sandboxes' own processes are not among them, nor the Dask workers', nor what the warm servers fork), the speedup
over the first way, and the load average, which says how much else the machine was doing; then checks that
every way of a table gave the same grades, feedback and gradebook entries (it fails, naming the first difference,
when they do not). The figures in grading/README.md come from here.
"""
import argparse
import contextlib
import json
import os
import resource
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grading.autograde import autograde
from grading.distributed import local_cluster_executor
from grading.notebooks import ASSIGNMENT, SOURCE, gradebook_url, release_files, source_notebooks
from grading.release import build_release
from grading.sandbox import ROOT
from grading.warm import START


@dataclass
class Way:
    """One way of grading the batch."""
    label: str
    jobs: int
    start: str = "warm"           # how the grader starts Python processes: LLMLAB_START (grading/warm.py)
    dask: bool = False            # on a Dask LocalCluster of `jobs` worker processes

    def executor(self):
        """A context giving the executor to grade with (None: autograde's own pool of `jobs` threads)."""
        return local_cluster_executor(self.jobs) if self.dask else contextlib.nullcontext()


WAYS = [Way("--jobs 2, started cold", 2, "cold"), Way("--jobs 1", 1), Way("--jobs 2", 2),
        Way("Dask LocalCluster, 2 workers", 2, dask=True)]
TIMING_FIELDS = ("graded_at", "seconds")     # results.json fields that differ between any two runs


def _cpu() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


@contextmanager
def _environment(name: str, value: str):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


def make_submissions(folder: Path, students: int, with_blank: bool) -> Path:
    """`students` submissions in folder/submissions: the reference (and, with_blank, the blank release in turn)."""
    release = build_release(folder / "release")
    if with_blank:
        for name, data in release_files(SOURCE).items():
            (release / "notebooks" / name).write_bytes(data)
    subs = folder / "submissions"
    for i in range(students):
        shutil.copytree(release, subs / f"student{i:02d}")
        if with_blank and i % 2:
            continue
        for solution in (ROOT / "solutions" / "llmlab").glob("*.py"):
            shutil.copyfile(solution, subs / f"student{i:02d}" / "llmlab" / solution.name)
    return subs


def graded(out: Path, rows: list[dict]) -> dict:
    """Everything a run decides, per student: the grade sheet row, results.json (without its timing fields),
    feedback.html and the gradebook's scores."""
    from nbgrader.api import Gradebook
    found = {}
    with Gradebook(gradebook_url(out / "nbgrader")) as gradebook:
        for row in rows:
            student = row["student_id"]
            results = json.loads((out / student / "results.json").read_text(encoding="utf-8"))
            for field in TIMING_FIELDS:
                results["extra_data"].pop(field, None)
            submission = gradebook.find_submission(ASSIGNMENT, student)
            scores = {grade.name: (grade.auto_score, grade.manual_score, grade.max_score)
                      for notebook in submission.notebooks for grade in notebook.grades}
            found[student] = {"grades.csv": row, "results.json": results, "gradebook": scores,
                              "feedback.html": (out / student / "feedback.html").read_text(encoding="utf-8")}
    return found


def first_difference(a: dict, b: dict, where: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            found = first_difference(a.get(key), b.get(key), f"{where}/{key}")
            if found:
                return found
        return None
    if a == b:
        return None
    if isinstance(a, str) and isinstance(b, str):   # where the texts part
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        a, b = a[max(0, at - 100):at + 100], b[max(0, at - 100):at + 100]
    return f"{where}: {str(a)[:200]!r} != {str(b)[:200]!r}"


def measure(students: int, notebooks: bool, ways: list[Way]) -> dict:
    with tempfile.TemporaryDirectory(prefix="llmlab-measure-") as tmp:
        tmp = Path(tmp)
        subs = make_submissions(tmp, students, with_blank=True)
        figures, empty, decided = {}, tmp / "empty", {}
        empty.mkdir()
        source = SOURCE if notebooks else None
        for i, way in enumerate(ways):
            out = tmp / f"out-{i}"
            with _environment(START, way.start):
                autograde(empty, out, notebooks=source, progress=False)      # makes the nbgrader course, once
                started = time.monotonic()
                autograde(empty, out, notebooks=source, progress=False)      # what every batch costs
                overhead = time.monotonic() - started
                with way.executor() as pool:              # a Dask cluster starts here, before the clock
                    wall, cpu = time.monotonic(), _cpu()
                    rows = autograde(subs, out, jobs=way.jobs, executor=pool, notebooks=source, progress=False)
                    wall, cpu = time.monotonic() - wall, _cpu() - cpu
            decided[way.label] = graded(out, rows)
            figures[way.label] = {"seconds_per_submission": (wall - overhead) / students,
                                  "cpu_per_submission": None if way.dask else cpu / students,
                                  "overhead": overhead,
                                  "totals": sorted({row["total"] for row in rows}),
                                  "load_average": os.getloadavg()}
        first = ways[0].label
        for way in ways[1:]:
            difference = first_difference(decided[first], decided[way.label])
            if difference:
                raise AssertionError(f"{way.label} graded otherwise than {first}: {difference}")
        return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=4, help="submissions (default 4)")
    parser.add_argument("--notebooks", action="store_true", help="also grade with the notebooks (solutions/notebooks)")
    args = parser.parse_args()
    if args.notebooks and not source_notebooks():
        parser.error("no source notebooks in solutions/notebooks")
    if args.students < 1:
        parser.error(f"--students must be at least 1, not {args.students}")
    print(f"{args.students} submissions (reference and blank in turn), {os.cpu_count()} CPUs")
    for notebooks in [False, True] if args.notebooks else [False]:
        figures = measure(args.students, notebooks, WAYS)
        print(f"\n{'with the notebooks' if notebooks else 'hidden tests only'}:")
        base = figures[WAYS[0].label]["seconds_per_submission"]
        for way in WAYS:
            f = figures[way.label]
            cpu = "" if f["cpu_per_submission"] is None else f"{f['cpu_per_submission']:6.1f} CPU s of the grader itself, "
            print(f"{way.label:32s} {f['seconds_per_submission']:6.1f} s per submission (wall), {cpu}"
                  f"{f['overhead']:.1f} s per batch, {base / f['seconds_per_submission']:.2f}x, totals {f['totals']}, "
                  "load average after " + " ".join(f"{x:.1f}" for x in f["load_average"]))
        print(f"identical grades, feedback and gradebook entries in every way: yes ({len(WAYS)} ways)")


if __name__ == "__main__":
    main()
