"""Runs inside the sandbox: executes a submission's notebooks with nbgrader's own Execute preprocessor.

Started by grading/notebooks.py as `python nbrun.py` with the submission's notebooks/ folder (which holds no
hidden test) as working directory. Reads one frame (as grading/worker.py) {"notebooks": {name: notebook JSON},
"cell_seconds": s} on stdin: the notebooks prepared by the trusted side (hidden test cells restored, outputs
cleared), which never touch a disk the kernel can read, and this process is made non-dumpable so that the
kernels it starts cannot read them from its memory either. For each notebook in order it writes one JSON line
{"name", "notebook" (the executed notebook), "error"} on the original stdout. The kernel and the student's code
print to stderr, a size-limited log. What comes back is only ever used to lower a score, never to raise one,
and reaches students only as a fixed vocabulary (grading/notebooks.py, _why).

With `--warm`, each notebook's kernel and the public tests of each `llmlab.check()` start from grading/warm.py's
server, started here before the request is read (it never holds a notebook), instead of from a cold Python.
"""
import ctypes
import json
import os
import subprocess
import sys
import tempfile

import warm
from worker import enter_sandbox, read_frame

PR_SET_DUMPABLE = 4


def main():
    enter_sandbox()
    server, kernel = start_warm() if "--warm" in sys.argv[1:] else (None, None)
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0)  # the kernels we start cannot read our memory (the notebooks)
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)                                   # the kernel and the student's code print to the log
    request = json.loads(read_frame(sys.stdin.buffer))
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    try:
        run_notebooks(request, results, kernel)
    finally:
        if server is not None:
            server.terminate()
            server.wait()


def start_warm() -> tuple[subprocess.Popen, list[str]]:
    """grading/warm.py's servers, and the command that starts a kernel warm (before its `-m ipykernel_launcher
    -f FILE`); LLMLAB_WARM_PYTHON, inherited by the kernels, points llmlab.check at the pytest server."""
    server, run = warm.start([sys.executable, "-s"], tempfile.mkdtemp(prefix="warm-"), ["pytest", "kernels"],
                             stdout=2, close_fds=True)
    os.environ["LLMLAB_WARM_PYTHON"] = json.dumps(run["pytest"])
    return server, run["kernels"]


def run_notebooks(request: dict, results, kernel: list[str] | None):
    """Execute each notebook of the request and write its line; kernel: the command that starts kernels warm."""
    sys.modules["rfc3987_syntax"] = None   # an optional jsonschema format checker; importing it costs 1.5 CPU s
    import nbformat
    from nbgrader.preprocessors import Execute
    kernels = {"kernel_manager_class": warm.kernel_manager(kernel)} if kernel else {}
    for name, text in request["notebooks"].items():
        notebook = nbformat.reads(text, as_version=4)
        error = None
        try:
            Execute(timeout=int(request["cell_seconds"]), execute_retries=0, **kernels).preprocess(
                notebook, {"metadata": {"path": os.getcwd()}})
        except Exception as e:  # noqa: BLE001 - reported; the grade cells that did not run count as failed
            error = f"{type(e).__name__}: {str(e)[:500]}"
        results.write(json.dumps({"name": name, "notebook": nbformat.writes(notebook), "error": error}) + "\n")
        results.flush()


if __name__ == "__main__":
    main()
