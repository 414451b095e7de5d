"""The GPU check: everything that must work with the model on a GPU, in one command (grading/README.md).

    python -m grading.gpu_check --download-wheels DIR [--python-version 3.12.3]  # here, with network access
    python -m grading.gpu_check [--wheels DIR] [--device cuda] [--steps env,tests,...] [--dry-run]

For a CUDA machine with Python, torch, transformers and pytest but no network: the other packages (WHEELS)
come from a folder of wheels, downloaded beforehand for that machine's Python and platform (--download-wheels)
and installed first (--wheels) with pip --no-index --no-deps. No dependency resolution, on purpose: nbgrader
declares jupyterlab, notebook and the rest of Jupyter's server side, over 70 MB that nothing here imports, and
the GPU machine accepts 64 MiB with the repository; WHEELS names what the steps import instead. Steps, each a
subprocess whose output is shown as it comes, then one summary line per step:
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
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("env", "tests", "notebooks", "autograde", "bench")
# What the steps import beyond what the GPU machine holds (ON_THE_GPU_MACHINE), at the versions the check was
# tried with. Each needs only what is listed here or there (tests/test_gpu_check.py checks this).
WHEELS = (
    "transformers==5.24.0",  # the version the tests are written against (pyproject.toml)
    # the tests and the notebooks under nbval
    "nbval==0.11.0", "fvcore==0.1.5.post20221221", "iopath==0.1.10", "yacs==0.1.8", "termcolor==3.3.0",
    # the notebooks' kernel; stack-data and its helpers turn a cell's exception into an error output
    "ipykernel==7.4.0", "ipython==9.18.1", "ipython-pygments-lexers==1.1.1", "comm==0.2.3",
    "matplotlib-inline==0.2.2", "ipywidgets==8.1.9", "stack-data==0.6.3", "executing==2.3.0", "asttokens==3.0.2",
    "pure-eval==0.2.4",
    # running a notebook: nbclient, jupyter-client and nbformat
    "nbclient==0.11.0", "jupyter-client==8.10.0", "jupyter-core==5.9.1", "platformdirs==4.14.9",
    "pyzmq==27.3.0", "tornado==6.6.1", "traitlets==5.16.1", "nbformat==5.11.1", "fastjsonschema==2.22.3",
    "jsonschema==4.26.0", "jsonschema-specifications==2025.9.1", "referencing==0.37.0", "rpds-py==2026.9.1",
    # the grader: nbgrader (whose package imports jupyter-server), its gradebook, nbconvert's HTML sanitizer
    "nbgrader==0.9.6", "jupyter-server==2.21.1", "sqlalchemy==2.1.9", "alembic==1.20.1", "mako==1.4.3",
    "rapidfuzz==3.14.6", "nbconvert==7.17.2", "bleach==6.4.0", "tinycss2==1.5.1", "webencodings==0.6.1",
    "beautifulsoup4==4.15.0", "soupsieve==4.1.3", "defusedxml==0.7.1", "mistune==3.4.0",
    "pandocfilters==1.5.1", "jupyterlab-pygments==0.3.0",
)
SOURCE_ONLY = ("fvcore", "iopath")  # published as source only: pure-Python wheels built here
# The GPU machine's Python packages that the steps import (its image holds more), besides Python itself.
ON_THE_GPU_MACHINE = (
    "torch", "triton", "transformers", "tokenizers", "safetensors", "huggingface-hub", "hf-xet", "numpy",
    "matplotlib", "contourpy", "cycler", "fonttools", "kiwisolver", "pillow", "pyparsing", "python-dateutil",
    "six", "pytest", "pluggy", "iniconfig", "pytest-xdist", "execnet", "coverage", "hypothesis",
    "sortedcontainers", "attrs", "jinja2", "markupsafe", "pygments", "pyyaml", "tqdm", "tabulate", "portalocker",
    "psutil", "lxml", "packaging", "typing-extensions", "filelock", "fsspec", "regex", "requests", "urllib3", "idna",
    "certifi", "charset-normalizer", "httpx", "httpcore", "h11", "anyio", "click", "typer", "rich",
    "markdown-it-py", "mdurl", "shellingham", "annotated-doc", "prometheus-client", "sympy", "mpmath",
    "networkx", "setuptools", "pip",
)
GPU_MACHINE = {"python_version": "3.12.3", "platforms": ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64",
                                                       "manylinux_2_17_x86_64", "manylinux2014_x86_64",
                                                       "manylinux1_x86_64")}
WHEELS_LIMIT_MIB = 64  # what the GPU machine accepts: the repository and the wheels together


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


def distribution(requirement_or_wheel: str) -> str:
    """'rpds-py==2026.9.1' or 'rpds_py-2026.9.1-cp312-...whl' -> 'rpds_py' (the wheel file's spelling)."""
    name = re.split(r"==|-(?=\d)", Path(requirement_or_wheel).name)[0]
    return re.sub(r"[-_.]+", "_", name).lower()


def wheel_files(folder: Path) -> list:
    """The folder's wheel for each of WHEELS; a ValueError naming those missing or there twice."""
    found = {}
    for wheel in sorted(folder.glob("*.whl")):
        found.setdefault(distribution(wheel.name), []).append(wheel.name)
    missing = [r for r in WHEELS if distribution(r) not in found]
    twice = [name for r in WHEELS for name in found.get(distribution(r), [])[1:]]
    if missing:
        raise ValueError(f"{folder} lacks {', '.join(missing)} (python -m grading.gpu_check --download-wheels DIR)")
    if twice:
        raise ValueError(f"{folder} holds more than one version of a package: {', '.join(twice)}")
    return [folder / found[distribution(r)][0] for r in WHEELS]


def install_wheels(folder: Path) -> list:
    """pip install without the index and without dependencies: exactly WHEELS, from their files (and no warning
    about what nbgrader declares and does not get)."""
    return [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-warn-conflicts",
            *map(str, wheel_files(folder))]


def download_wheels(folder: Path, python_version: str) -> int:
    """WHEELS for the GPU machine's Python and platform into folder; the sizes against the machine's limit."""
    pip = [sys.executable, "-m", "pip"]
    binary = [r for r in WHEELS if distribution(r) not in SOURCE_ONLY]
    source = [r for r in WHEELS if distribution(r) in SOURCE_ONLY]
    platforms = [arg for p in GPU_MACHINE["platforms"] for arg in ("--platform", p)]
    for argv_ in ([*pip, "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", python_version,
                   "--implementation", "cp", *platforms, "-d", str(folder), *binary],
                  [*pip, "wheel", "-q", "--no-deps", "-w", str(folder), *source]):
        print("==", " ".join(argv_), flush=True)
        if subprocess.run(argv_).returncode:
            return 1
    wheels_mib = sum(w.stat().st_size for w in wheel_files(folder)) / 2**20
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True).stdout
    repository_mib = sum((ROOT / f).stat().st_size for f in tracked.split("\0") if (ROOT / f).is_file()) / 2**20
    print(f"{len(WHEELS)} wheels in {folder}: {wheels_mib:.1f} MiB; with the repository's tracked files "
          f"({repository_mib:.1f} MiB): {wheels_mib + repository_mib:.1f} MiB of the GPU machine's "
          f"{WHEELS_LIMIT_MIB} MiB")
    return 0 if wheels_mib + repository_mib < WHEELS_LIMIT_MIB else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.gpu_check", description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="the device under test (default cuda; cpu for a dry run "
                                                         "of the steps on a laptop)")
    parser.add_argument("--wheels", type=Path, help="a folder made by --download-wheels: its wheels are installed "
                                                    "first (pip install --no-index --no-deps)")
    parser.add_argument("--download-wheels", type=Path, metavar="DIR", help="download the wheels the GPU machine "
                        "needs into DIR (needs network access) and stop")
    parser.add_argument("--python-version", default=GPU_MACHINE["python_version"], help="the GPU machine's "
                        f"Python, for --download-wheels (default {GPU_MACHINE['python_version']})")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)}")
    parser.add_argument("--jobs", type=int, default=8, help="pytest-xdist workers for the tests (default 8)")
    parser.add_argument("--quick", action="store_true", help="the benchmark's smoke run (few tokens, one repeat)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    try:
        if args.download_wheels is not None:
            return download_wheels(args.download_wheels, args.python_version)
        if args.wheels is not None:
            install = install_wheels(args.wheels)
    except ValueError as e:
        parser.error(f"--{'download-wheels' if args.download_wheels else 'wheels'}: {e}")
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"--steps: unknown step(s) {unknown}; the steps are {', '.join(STEPS)}")
    work = Path(tempfile.mkdtemp(prefix="llmlab-gpu-check-"))
    plan = commands(args, work)
    if args.wheels is not None:
        plan = {"wheels": [(install, {})], **plan}
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
