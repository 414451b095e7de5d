"""Runs inside the sandbox: executes a submission's notebooks with nbgrader's own Execute preprocessor.

Started by grading/notebooks.py as `python nbrun.py` with the notebooks' folder as working directory. Reads
one frame (as grading/worker.py) {"notebooks": [file names], "cell_seconds": s} on stdin and, for each notebook in order, writes one JSON line
{"name", "notebook" (the executed notebook), "error"} on the original stdout. The kernel and the student's code
print to stderr, a size-limited log. The notebooks were prepared by the trusted side (hidden test cells
restored, outputs cleared); what comes back is only ever used to lower a score, never to raise one.
"""
import json
import os
import sys

from worker import enter_sandbox, read_frame


def main():
    enter_sandbox()
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)                                   # the kernel and the student's code print to the log
    request = json.loads(read_frame(sys.stdin.buffer))
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.modules["rfc3987_syntax"] = None   # an optional jsonschema format checker; importing it costs 1.5 CPU s
    import nbformat
    from nbgrader.preprocessors import Execute
    for name in request["notebooks"]:
        notebook = nbformat.read(name, as_version=4)
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
