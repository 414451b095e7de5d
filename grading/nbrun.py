"""Runs inside the sandbox: executes a submission's notebooks with nbgrader's own Execute preprocessor.

Started by grading/notebooks.py as `python nbrun.py` with the submission's notebooks/ folder (which holds no
hidden test) as working directory. Reads one frame (as grading/worker.py) {"notebooks": {name: notebook JSON},
"cell_seconds": s} on stdin: the notebooks prepared by the trusted side (hidden test cells restored, outputs
cleared), which never touch a disk the kernel can read, and this process is made non-dumpable so that the
kernels it starts cannot read them from its memory either. For each notebook in order it writes one JSON line
{"name", "notebook" (the executed notebook), "error"} on the original stdout. The kernel and the student's code
print to stderr, a size-limited log. What comes back is only ever used to lower a score, never to raise one,
and reaches students only as a fixed vocabulary (grading/notebooks.py, _why).
"""
import ctypes
import json
import os
import sys

from worker import enter_sandbox, read_frame

PR_SET_DUMPABLE = 4


def main():
    enter_sandbox()
    ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0)  # the kernels we start cannot read our memory (the notebooks)
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)                                   # the kernel and the student's code print to the log
    request = json.loads(read_frame(sys.stdin.buffer))
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.modules["rfc3987_syntax"] = None   # an optional jsonschema format checker; importing it costs 1.5 CPU s
    import nbformat
    from nbgrader.preprocessors import Execute
    for name, text in request["notebooks"].items():
        notebook = nbformat.reads(text, as_version=4)
        error = None
        try:
            Execute(timeout=int(request["cell_seconds"]), execute_retries=0).preprocess(
                notebook, {"metadata": {"path": os.getcwd()}})
        except Exception as e:  # noqa: BLE001 - reported; the grade cells that did not run count as failed
            error = f"{type(e).__name__}: {str(e)[:500]}"
        results.write(json.dumps({"name": name, "notebook": nbformat.writes(notebook), "error": error}) + "\n")
        results.flush()


if __name__ == "__main__":
    main()
