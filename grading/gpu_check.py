"""The GPU check: everything that must work with the model on a GPU, in one command (grading/README.md).

    python -m grading.gpu_check [--wheels DIR] [--device cuda] [--steps env,tests,...] [--dry-run]

For a CUDA machine with Python, torch and transformers but no network: the other packages come from a folder
of wheels (--wheels, installed with pip --no-index). Steps, each a subprocess whose output is shown as it
comes, then one summary line per step:
- env: torch, the device, its name; stops here when the device is not there.
- tests: the public and hidden tests, student code on the device (LLMLAB_DEVICE, grading/device_under_test.py).
- notebooks: the five source notebooks under nbval, the model on the device.
- autograde: the student release graded twice, the reference (full marks expected) and the blank release
  (0 expected); the grader's notebooks run with the model on the device when the sandbox lets it be seen.
- bench: python -m llmlab.instructor.bench on the device: a random 1.2B Llama in bf16, llmlab's cached decode against
  transformers' generate() on the same weights, and the share of the roofline from the measured copy bandwidth.
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("env", "tests", "notebooks", "autograde", "bench")
PACKAGES = ("nbval", "nbclient", "ipykernel", "fvcore", "nbgrader", "pytest-xdist")  # beyond torch, transformers


def commands(args, work: Path) -> dict:
    """step -> list of (argv, environment additions)."""
    py, device = sys.executable, {"LLMLAB_DEVICE": args.device}
    pytest = [py, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf"]
    env_probe = ("import torch; d = torch.device(%r); print('torch', torch.__version__, 'device', d, "
                 "torch.cuda.get_device_name(d) if d.type == 'cuda' else ''); torch.ones(1, device=d)" % args.device)
    subs, graded = work / "submissions", work / "graded"
    return {
        "env": [([py, "-c", env_probe], {})],
        "tests": [([*pytest, "-n", str(args.jobs), "tests", "grading/hidden"], device)],
        "notebooks": [([*pytest, "-n", "5", "--dist", "loadfile", "--nbval", "solutions/notebooks"], device)],
        "autograde": [([py, "-m", "grading", "release", str(work / "release")], {}),
                      ([py, "-c", f"from grading.gpu_check import make_submissions; "
                                  f"make_submissions({str(work / 'release')!r}, {str(subs)!r})"], {}),
                      ([py, "-m", "grading", "autograde", str(subs), "--out", str(graded), "--jobs", "2"], device)],
        "bench": [([py, "-m", "llmlab.instructor.bench", "--reference", "--device", args.device]
                   + (["--quick"] if args.quick else []), {})],
    }


def make_submissions(release, dest) -> None:
    """dest/reference (the release with the reference exercise modules) and dest/blank (the release as is)."""
    release, dest = Path(release), Path(dest)
    shutil.copytree(release, dest / "blank")
    shutil.copytree(release, dest / "reference")
    for module in (ROOT / "solutions" / "llmlab").glob("*.py"):
        shutil.copy2(module, dest / "reference" / "llmlab" / module.name)


def check_grades(grades_csv: Path) -> str:
    """'' when the reference has full marks and the blank release 0, else what is wrong."""
    rows = {row["student_id"]: row for row in csv.DictReader(grades_csv.open())}
    problems = []
    if float(rows["reference"]["total"]) != float(rows["reference"]["max"]):
        problems.append(f"reference scored {rows['reference']['total']} of {rows['reference']['max']}")
    if float(rows["blank"]["total"]) != 0:
        problems.append(f"blank release scored {rows['blank']['total']}")
    return "; ".join(problems)


def install_wheels(folder: Path) -> list:
    return [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(folder), *PACKAGES]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.gpu_check", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="the device under test (default cuda; cpu for a dry run "
                                                         "of the steps on a laptop)")
    parser.add_argument("--wheels", type=Path, help=f"a folder of wheels to install first: {', '.join(PACKAGES)} "
                                                    f"and what they need (pip install --no-index)")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)}")
    parser.add_argument("--jobs", type=int, default=8, help="pytest-xdist workers for the tests (default 8)")
    parser.add_argument("--quick", action="store_true", help="the benchmark's smoke run (few tokens, one repeat)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"--steps: unknown step(s) {unknown}; the steps are {', '.join(STEPS)}")
    if args.wheels is not None and not any(args.wheels.glob("*.whl")):
        parser.error(f"--wheels: {args.wheels} holds no .whl files")
    work = Path(tempfile.mkdtemp(prefix="llmlab-gpu-check-"))
    plan = commands(args, work)
    if args.wheels is not None:
        plan = {"wheels": [(install_wheels(args.wheels), {})], **plan}
        steps = ["wheels", *steps]
    results = []
    for step in steps:
        start, failed = time.perf_counter(), ""
        for argv_, extra in plan[step]:
            print(f"\n== {step}: {' '.join(f'{k}={v}' for k, v in extra.items())} {' '.join(argv_)}", flush=True)
            if args.dry_run:
                continue
            code = subprocess.run(argv_, cwd=ROOT, env={**os.environ, **extra}).returncode
            if code:
                failed = f"exit code {code}"
                break
        if step == "autograde" and not failed and not args.dry_run:
            failed = check_grades(work / "graded" / "grades.csv")
        results.append((step, failed, time.perf_counter() - start))
        if step in ("wheels", "env") and failed:
            break  # nothing else can run
    print("\n== summary" + (" (dry run)" if args.dry_run else ""))
    for step, failed, seconds in results:
        print(f"{step:<10} {'FAILED: ' + failed if failed else 'ok':<40} {seconds:6.0f} s")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if any(failed for _, failed, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
