"""The submission side of the seam: runs scenarios (tests/adapters.py) against a submission's llmlab.

Started by grading/sandbox.py inside the sandbox as `python worker.py MODULE...`, with the submission's package
and the harness (this file, adapters.py, extra scenario modules such as doubles.py) on sys.path. It imports
tests.adapters and the other modules (calling their `register(adapters)`), says it is ready, then reads requests on stdin and answers on the original stdout. The student's own
prints and warnings go to stderr, a size-limited log file, so they cannot garble the replies.

Frames: 8-byte little-endian length, then the bytes. A request is adapters.encode((name, args, kwargs)); a
reply is one status byte (b"R" result, b"E" error) followed by adapters.encode(result) or by
adapters.encode([exception type name, message]). The first frame the worker sends is READY. While a scenario
runs, it may send HOST frames (b"H" + a request for an object the trusted process serves, grading/doubles.py);
each is answered by one frame before the scenario goes on.
"""
import importlib
import json
import os
import resource
import struct
import sys
import traceback
import types

READY = b"ready"
HOST = b"H"   # a frame that asks the trusted process, in the middle of a scenario, instead of replying
IMPORT = "__import__"                       # a request of the harness itself: import llmlab.<module>
UNIMPORTABLE = "LLMLAB_UNIMPORTABLE"        # environment: JSON {exercise module: why importing it fails}
NAME_CHARS, MESSAGE_CHARS = 100, 2000     # of an exception's type name and message sent back (cut again outside)


def read_frame(stream) -> bytes | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    (n,) = struct.unpack("<Q", header)
    return stream.read(n)


def write_frame(stream, data: bytes):
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def enter_sandbox():
    """The harness's first act, before any student code runs: give up root and cap the number of processes.

    Under a root grader, bwrap starts us as root with only CAP_SETUID/CAP_SETGID; we switch to the dedicated
    unprivileged uid the grader chose, which drops every capability. RLIMIT_NPROC (processes and threads) is set
    here rather than before bwrap, so that it counts this sandbox's processes only, not the grader's."""
    uid = os.environ.pop("LLMLAB_SANDBOX_UID", None)
    if uid is not None:
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))
        if os.getuid() == 0 or os.geteuid() == 0:
            raise SystemExit("sandbox: could not give up root")
    nproc = os.environ.pop("LLMLAB_MAX_PROCESSES", None)
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (int(nproc), int(nproc)))


class Unimportable(types.ModuleType):
    """Stands in for an exercise module whose import ended or hung an earlier worker: every use raises."""

    def __init__(self, name: str, reason: str):
        super().__init__(name)
        self.reason = reason

    def __getattr__(self, attribute):
        if attribute.startswith("__"):      # what tools probe for (inspect asks every module for __file__)
            raise AttributeError(attribute)
        raise ImportError(f"{self.__name__.replace('.', '/')}.py could not be imported: {self.reason}")


def _describe(e: BaseException) -> str:
    """The exception's message; its traceback goes to the log (which may be full, or the exception may not
    even print: student code)."""
    try:
        message = str(e)[:MESSAGE_CHARS]
    except BaseException:  # noqa: BLE001
        message = "(the exception could not be printed)"
    try:
        print(traceback.format_exc(), flush=True)
    except BaseException:  # noqa: BLE001
        pass
    return message


def _ask_host(requests, replies, request: bytes) -> bytes:
    """Send a request to an object served by the trusted process (a b"H" frame) and return its answer."""
    write_frame(replies, HOST + request)
    answer = read_frame(requests)
    if answer is None:
        raise EOFError("the grader closed the connection")
    return answer


def main(scenario_modules):
    enter_sandbox()
    replies = os.fdopen(os.dup(1), "wb")          # keep the real stdout for replies only
    requests = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)                                   # everything the student prints goes to the log (stderr)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    unimportable = json.loads(os.environ.pop(UNIMPORTABLE, None) or "{}")
    for module, reason in unimportable.items():
        sys.modules[f"llmlab.{module}"] = Unimportable(f"llmlab.{module}", reason)
    if unimportable:                                # `import llmlab.<module>` looks for the attribute too
        package = importlib.import_module("llmlab")
        for module in unimportable:
            setattr(package, module, sys.modules[f"llmlab.{module}"])
    adapters = importlib.import_module(scenario_modules[0])   # tests.adapters
    for name in scenario_modules[1:]:               # more scenarios, e.g. grading.doubles (test doubles)
        module = importlib.import_module(name)
        if hasattr(module, "register"):
            module.register(adapters)
        if hasattr(module, "connect_host"):         # objects served by the trusted process (HOST frames)
            module.connect_host(lambda request: _ask_host(requests, replies, request))
    write_frame(replies, READY)
    me = os.getpid()
    while (frame := read_frame(requests)) is not None:
        try:
            name, args, kwargs = adapters.decode(frame)
            if name == IMPORT:
                reply = b"R" + adapters.encode(bool(importlib.import_module(f"llmlab.{args[0]}")))
            else:
                reply = b"R" + adapters.encode(adapters.SCENARIOS[name](*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - every failure of student code is reported back
            if isinstance(e, KeyboardInterrupt):
                raise
            reply = b"E" + adapters.encode([type(e).__name__[:NAME_CHARS], _describe(e)])
        if os.getpid() != me:                       # a process the student's code forked came back here
            os._exit(0)
        write_frame(replies, reply)


if __name__ == "__main__":
    main(sys.argv[1:] or ["tests.adapters"])
