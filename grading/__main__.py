"""Instructor commands: python -m grading <command> (see grading/README.md)."""
import argparse
import contextlib
import sys
from pathlib import Path


def cmd_stubs(args):
    from grading.stubs import write_stubs
    changed = write_stubs()
    print("\n".join(f"regenerated {p}" for p in changed) or "stubs are up to date")


def cmd_notebooks(args):
    from grading.notebooks import check_sources, write_release
    problems = check_sources()
    if problems:
        sys.exit("the source notebooks do not match llmlab/tasks.py:\n" + "\n".join(problems))
    changed = write_release()
    print("\n".join(f"regenerated {p}" for p in changed) or "notebooks/ is up to date")


def cmd_release(args):
    from grading.release import build_release
    out = build_release(args.out_dir)
    print(f"student release written to {out} (no solution code or hidden test found in it)")


def cmd_gradescope(args):
    from grading.gradescope import build_bundle
    print(f"Gradescope autograder bundle written to {build_bundle(args.out_zip, notebooks=not args.no_notebooks)}")


def cmd_autograde(args):
    from grading.autograde import autograde
    from grading.notebooks import SOURCE
    from grading.sandbox import Limits
    limits = Limits(call_seconds=args.call_timeout, submission_seconds=args.submission_timeout,
                    cell_seconds=args.cell_timeout, cpu_seconds=args.cpu_seconds,
                    submission_cpu_seconds=args.submission_cpu_seconds, memory_mb=args.memory_mb,
                    max_processes=args.max_processes, output_mb=args.output_mb)
    if args.sandbox:
        import os
        os.environ["LLMLAB_SANDBOX"] = args.sandbox
    try:
        with _executor(args) as executor:
            rows = autograde(args.submissions, args.out, jobs=args.jobs, executor=executor, force=args.force,
                             tasks=args.task or None, limits=limits,
                             notebooks=None if args.no_notebooks else Path(args.notebooks or SOURCE))
    except RuntimeError as e:       # no safe sandbox here, the hidden tests do not collect, a bad cluster
        sys.exit(f"error: {e}")
    from grading.sandbox import sandbox_summary
    print(f"graded {len(rows)} submissions, {sandbox_summary()}: {Path(args.out) / 'grades.csv'}")


def _executor(args):
    """The Dask cluster's executor with --scheduler (checked: workers see both folders, same grader), else
    None (autograde's own pool of --jobs)."""
    if not args.scheduler:
        return contextlib.nullcontext()
    from grading.distributed import cluster_executor
    args.out.mkdir(mode=0o700, parents=True, exist_ok=True)
    return cluster_executor(args.scheduler, [args.submissions.resolve(), args.out.resolve()])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("stubs", help="regenerate llmlab/<module>.py stubs from solutions/llmlab/").set_defaults(run=cmd_stubs)
    sub.add_parser("notebooks", help="regenerate notebooks/ from solutions/notebooks/ (nbgrader generate_assignment)"
                   ).set_defaults(run=cmd_notebooks)
    release = sub.add_parser("release", help="build the student release in OUT_DIR")
    release.add_argument("out_dir", type=Path)
    release.set_defaults(run=cmd_release)
    gradescope = sub.add_parser("gradescope", help="build a Gradescope autograder bundle (setup.sh, run_autograder, "
                                "the grader and its hidden tests) in OUT_ZIP")
    gradescope.add_argument("out_zip", type=Path)
    gradescope.add_argument("--no-notebooks", action="store_true", help="grade the hidden tests only")
    gradescope.set_defaults(run=cmd_gradescope)
    grade = sub.add_parser("autograde", help="grade every submission (folder <student_id>/ or <student_id>.zip)")
    grade.add_argument("submissions", type=Path, help="folder of submissions")
    grade.add_argument("--out", type=Path, required=True, help="where grades.csv, feedback and the gradebook go")
    grade.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    grade.add_argument("--scheduler", metavar="ADDRESS", help="grade on this Dask cluster (e.g. tcp://host:8786; "
                       "see grading/README.md) instead of --jobs local workers")
    grade.add_argument("--force", action="store_true", help="grade again students already graded")
    grade.add_argument("--task", action="append", default=[], help="grade only this task ID (repeatable)")
    grade.add_argument("--notebooks", type=Path, help="nbgrader source notebooks (default solutions/notebooks)")
    grade.add_argument("--no-notebooks", action="store_true", help="grade the hidden tests only")
    grade.add_argument("--sandbox", choices=["auto", "bwrap", "none"], help="bwrap: refuse to run without it")
    from grading.sandbox import Limits
    d = Limits()
    grade.add_argument("--call-timeout", type=float, default=d.call_seconds, help="seconds per call of student code")
    grade.add_argument("--submission-timeout", type=float, default=d.submission_seconds,
                       help="seconds for all of a submission's grading (hidden tests and notebooks)")
    grade.add_argument("--cell-timeout", type=float, default=d.cell_seconds, help="seconds per notebook cell")
    grade.add_argument("--cpu-seconds", type=int, default=d.cpu_seconds, help="CPU seconds per sandboxed process")
    grade.add_argument("--submission-cpu-seconds", type=float, default=d.submission_cpu_seconds,
                       help="CPU seconds of all of a submission's sandboxed processes together")
    grade.add_argument("--memory-mb", type=int, default=d.memory_mb, help="address space per sandboxed process")
    grade.add_argument("--max-processes", type=int, default=d.max_processes, help="processes+threads per sandbox")
    grade.add_argument("--output-mb", type=int, default=d.output_mb, help="what student code may print")
    grade.set_defaults(run=cmd_autograde)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
