"""grading/warm.py: Python processes started warm (forked from a server that imported the libraries once) behave
as fresh ones: a notebook's kernel, llmlab.check()'s pytest, and the trusted pytest of the hidden tests. Grading
both ways takes minutes (grading.measure does it); these compare exactly how a process starts."""
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grading import warm as warm_py
from grading.autograde import autograde
from grading.measure import graded
from grading.tests import builders as b
from grading.overlay import ROOT
from grading.release import build_release
from grading.tests.references import lay_reference
from llmlab.tasks import BY_ID


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    """grading/warm.py's servers, started as nbrun.py starts them, with the sandbox's MPLBACKEND; yields the
    command prefix that runs a module warm, per server: {"pytest": [...], "kernels": [...]}."""
    server, run = warm_py.start([sys.executable, "-s"], str(tmp_path_factory.mktemp("warm")), ["pytest", "kernels"],
                                env=dict(os.environ, MPLBACKEND="Agg"))
    try:
        yield run
    finally:
        server.terminate()
        server.wait()


@pytest.fixture
def warm_python(warm):
    """LLMLAB_WARM_PYTHON as nbrun.py sets it."""
    return json.dumps(warm["pytest"])


PROBE = [  # what a notebook could notice of how its kernel started
    "import os, sys\nprint(os.getcwd(), os.environ['PROBE'], __name__, sys.argv[0].endswith('ipykernel_launcher.py'))",
    "from tqdm.auto import tqdm\nfrom tqdm.notebook import tqdm as bar\nprint(issubclass(tqdm, bar))",  # decided at import
    "import matplotlib\nprint(matplotlib.get_backend(), matplotlib.get_cachedir(), matplotlib.matplotlib_fname())",
    "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()",       # decided at import: its backend, files
    "%matplotlib inline\nplt.plot([2, 1])\nplt.show()",
    "print('to stderr', file=sys.stderr)",
    "import llmlab\nprint(llmlab.__file__)",
    "from llmlab.progress import progress\nfor _ in progress(range(3), desc='bar', bar_format='{desc} {n}/{total}'):\n    pass",  # as check() shows it
    "1 / 0",
]


def _probe(cwd: Path, **client) -> list:
    cells = ["import sys\nprint('torch' in sys.modules, end='')"] + PROBE
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in cells])
    NotebookClient(notebook, timeout=120, allow_errors=True, resources={"metadata": {"path": str(cwd)}},
                   **client).execute(env=dict(os.environ, PROBE="yes", MPLBACKEND="Agg"))   # as in the sandbox
    outputs = [_merged_streams(cell.outputs) for cell in notebook.cells]
    return outputs[1:], outputs[0][0]["text"]


def _merged_streams(outputs) -> list[dict]:
    """A cell's outputs, consecutive pieces of one stream joined (how a print arrives, in one message or two,
    depends on when the kernel flushes), without tracebacks (they name the kernel's temporary files)."""
    merged = []
    for output in outputs:
        output = {k: v for k, v in output.items() if k != "traceback"}
        if merged and output["output_type"] == "stream" and merged[-1]["output_type"] == "stream" \
                and merged[-1]["name"] == output["name"]:
            merged[-1] = {**merged[-1], "text": merged[-1]["text"] + output["text"]}
        else:
            merged.append(output)
    return merged


def test_a_warm_kernel_runs_a_notebook_as_a_fresh_one(warm, tmp_path):
    """The same outputs, cell for cell (working directory, environment, tqdm's and matplotlib's choices, a plot,
    stderr, imports from the working directory, errors); only the libraries were imported before (torch)."""
    from grading.warm import kernel_manager
    release = build_release(tmp_path / "release")
    fresh, preloaded = _probe(release)
    warmed, warm_preloaded = _probe(release, kernel_manager_class=kernel_manager(warm["kernels"]))
    assert warmed == fresh
    assert fresh[1][0]["text"] == "True\n", "tqdm.auto should pick its notebook bar in a kernel"
    assert (preloaded, warm_preloaded) == ("False", "True")


def test_a_warm_child_dies_with_its_requester(warm, tmp_path):
    """A kernel manager that kills a kernel kills the `warm.py run` process it started: the child goes too."""
    (tmp_path / "sleeper.py").write_text("import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(120)\n")
    requester = subprocess.Popen([*warm["pytest"], "-m", "sleeper"], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    child = int(requester.stdout.readline())
    requester.kill()
    requester.wait()
    for _ in range(100):
        if not _running(child):
            return
        time.sleep(0.05)
    os.kill(child, 9)
    raise AssertionError("the warm child outlived its requester")


def _check(release: Path, task_id: str, **env) -> subprocess.CompletedProcess:
    """llmlab.check(task_id) in a fresh Python in the release folder, as a notebook's kernel runs it."""
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LLMLAB_TARGET", "LLMLAB_WARM_PYTHON")}
    return subprocess.run([sys.executable, "-c", f"import llmlab; llmlab.check({task_id!r})"], cwd=release,
                          env=dict(base, PYTHONPATH=str(release), **env), capture_output=True, text=True, timeout=600)


def _decided(run: subprocess.CompletedProcess) -> tuple:
    """What a check decides and shows: its exit, its printed line, its error (the progress bar and pytest's own
    timing left out)."""
    error = run.stderr[run.stderr.find("Traceback"):] if "Traceback" in run.stderr else ""
    return run.returncode, *(re.sub(r" in [0-9.]+s\b", " in (time)", text) for text in (run.stdout, error))


def test_a_warm_check_decides_as_a_fresh_python(warm_python, tmp_path):
    """The same exit, printed line and failure report, for a task that passes and for one that fails; and the
    check really goes through LLMLAB_WARM_PYTHON (pointed at no server, it cannot run)."""
    release = build_release(tmp_path / "release")
    lay_reference(release, ["t04_flops"])
    passed = (_check(release, "t04_flops"), _check(release, "t04_flops", LLMLAB_WARM_PYTHON=warm_python))
    assert passed[0].returncode == 0 and "✓ t04_flops: public tests pass" in passed[0].stdout, passed[0].stderr
    nowhere = json.loads(warm_python)[:-1] + [str(tmp_path / "no-server")]
    unreachable = _check(release, "t04_flops", LLMLAB_WARM_PYTHON=json.dumps(nowhere))
    assert unreachable.returncode == 1 and "FileNotFoundError" in unreachable.stderr, unreachable.stderr
    with open(release / "llmlab" / "flops.py", "a", encoding="utf-8") as module:   # counts MACs, not FLOPs
        module.write("\n\n" + (ROOT / "grading" / "mutants" / "t04_flops" / "macs.py").read_text(encoding="utf-8"))
    failed = (_check(release, "t04_flops"), _check(release, "t04_flops", LLMLAB_WARM_PYTHON=warm_python))
    assert failed[0].returncode == 1 and "AssertionError: t04_flops: public tests fail" in failed[0].stderr
    for cold, warm in (passed, failed):
        assert _decided(warm) == _decided(cold)


LIMIT = 3 << 30     # bytes of address space


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def test_a_warm_child_takes_its_requesters_limits(warm, tmp_path):
    """The trusted pytest's memory limit is set on the process the grader starts (the requester); the child that
    runs the tests must be bound by it as a fresh Python would be."""
    (tmp_path / "hog.py").write_text(
        "import resource\nprint(resource.getrlimit(resource.RLIMIT_AS))\n"
        "try:\n    block = bytearray(4 << 30)\n    print('allocated')\nexcept MemoryError:\n    print('MemoryError')\n")
    runs = [subprocess.run([*python, "-m", "hog"], cwd=tmp_path, preexec_fn=_limited, capture_output=True,
                           text=True, timeout=120) for python in ([sys.executable, "-s"], warm["pytest"])]
    assert runs[0].stdout == f"({LIMIT}, {LIMIT})\nMemoryError\n", runs[0].stderr
    assert runs[1].stdout == runs[0].stdout, runs[1].stderr
    free = subprocess.run([*warm["pytest"], "-m", "hog"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert free.stdout.endswith("allocated\n"), free.stderr      # the server's own limits are not the child's


GRADER = """
import threading, time
from grading import autograde
asker = threading.Thread(target=autograde._pytest_python)   # a thread that ends, as a pool's thread may
asker.start()
asker.join()
time.sleep(1)
print(autograde._warm["server"].pid, autograde._warm["server"].poll(), flush=True)
time.sleep(600)
"""


def test_the_trusted_server_lives_and_dies_with_its_grading_process():
    """The grader's warm server outlives the thread that started it, and goes when the grading process is
    killed (a Dask worker, say), even while it is still importing its libraries."""
    grader = subprocess.Popen([sys.executable, "-c", GRADER], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    pid, status = grader.stdout.readline().split()
    assert status == "None"             # running
    grader.kill()
    grader.wait()
    for _ in range(100):
        if not _running(int(pid)):
            return
        time.sleep(0.05)
    os.kill(int(pid), 9)
    raise AssertionError("the warm server outlived its grading process")


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_hidden_tests_grade_the_same_warm_and_cold(tmp_path, monkeypatch):
    """The trusted pytest started warm (once per grading process) gives every submission what a fresh one gives
    (grade sheet row, results.json but for its time stamps, feedback, gradebook scores): a reference, a blank
    and a partly done submission."""
    tasks = ["t02_temperature", "t04_flops"]
    release, subs = build_release(tmp_path / "release"), tmp_path / "submissions"
    reference = b.reference_modules()
    b.submission(release, subs / "reference", reference)
    b.submission(release, subs / "blank")
    b.submission(release, subs / "partial", reference | {"flops": b.stub("flops")})
    decided, started, start = {}, [], warm_py.start
    monkeypatch.setattr(warm_py, "start", lambda *args, **kwargs: started.append(args[2]) or start(*args, **kwargs))
    for way in ("cold", "warm"):
        monkeypatch.setenv(warm_py.START, way)
        rows = autograde(subs, tmp_path / way, jobs=2, tasks=tasks, notebooks=None, progress=False)
        decided[way] = graded(tmp_path / way, rows)  # grade sheet, results.json, feedback, gradebook
    assert started == [["pytest"]]        # once, for the warm way's batch
    assert decided["warm"] == decided["cold"]
    scores = {student: found["results.json"]["score"] for student, found in decided["warm"].items()}
    assert scores == {"reference": sum(BY_ID[t].points for t in tasks), "blank": 0,
                      "partial": BY_ID["t02_temperature"].points}
