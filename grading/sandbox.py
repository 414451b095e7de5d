"""The trusted side of the seam: run scenarios in a separate worker process that imports the submission.

`Sandbox(target).call(name, args, kwargs)` sends one scenario to the worker (started on first use, restarted
after a crash or a time-out) and returns the decoded plain-data result. Nothing but encoded plain data crosses
the pipe, in either direction.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grading import worker as protocol
from tests import adapters

ROOT = Path(__file__).resolve().parents[1]


class SubmissionError(Exception):
    """The submission's code raised, crashed or ran out of time; the message says which and why."""


class Sandbox:
    def __init__(self, target, timeout: float = 60.0):
        """target: a directory holding the submission's `llmlab/` package."""
        self.target = Path(target).resolve()
        self.timeout = timeout
        self.workdir = Path(tempfile.mkdtemp(prefix="llmlab-sandbox-"))
        for source in (ROOT / "grading" / "worker.py", ROOT / "tests" / "adapters.py", ROOT / "grading" / "doubles.py"):
            shutil.copy2(source, self.workdir / source.name)
        self.log = self.workdir / "student-output.log"
        self.process = None

    def _start(self):
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.workdir), "PYTHONHASHSEED": "0",
               "PYTHONPATH": os.pathsep.join([str(self.target), str(self.workdir)]),
               "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.process = subprocess.Popen([sys.executable, str(self.workdir / "worker.py"),
                                         str(self.log)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, cwd=self.workdir, env=env,
                                        start_new_session=True)

    def call(self, name, args=(), kwargs=None):
        if self.process is None or self.process.poll() is not None:
            self._start()
        request = adapters.encode((name, tuple(args), dict(kwargs or {})))
        try:
            protocol.write_frame(self.process.stdin, request)
            reply = self._read_reply()
        except (BrokenPipeError, EOFError) as e:
            self.close()
            raise SubmissionError(f"the submission's process ended during {name!r} ({e})") from None
        status, body = reply[:1], adapters.decode(reply[1:])
        if status == b"R":
            return body
        kind, message = body
        if kind == "NotImplementedError":
            raise NotImplementedError(message)
        raise SubmissionError(f"{kind}: {message}")

    def _read_reply(self) -> bytes:
        import selectors
        with selectors.DefaultSelector() as sel:
            sel.register(self.process.stdout, selectors.EVENT_READ)
            if not sel.select(self.timeout):
                self.close()
                raise SubmissionError(f"time limit of {self.timeout:.0f} s exceeded")
        frame = protocol.read_frame(self.process.stdout)
        if frame is None:
            raise EOFError("no reply")
        return frame

    def close(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait()
        self.process = None
