"""The submission side of the seam: runs scenarios (tests/adapters.py) against a submission's llmlab.

Started by grading/sandbox.py as `python worker.py` inside the sandbox, with the submission's package and a
copy of adapters.py on sys.path. It reads requests on stdin and answers on the original stdout; the student's
own prints and warnings go to a log file instead, so they cannot garble the replies.

Frames: 8-byte little-endian length, then the bytes. A request is adapters.encode((name, args, kwargs)); a
reply is one status byte (b"R" result, b"E" error) followed by adapters.encode(result) or by
adapters.encode([exception type name, message]).
"""
import os
import struct
import sys
import traceback


def read_frame(stream) -> bytes | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    (n,) = struct.unpack("<Q", header)
    return stream.read(n)


def write_frame(stream, data: bytes):
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def main(log_path: str):
    replies = os.fdopen(os.dup(1), "wb")          # keep the real stdout for replies only
    requests = os.fdopen(os.dup(0), "rb")
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)                                 # everything the student prints goes to the log
    os.dup2(log, 2)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    import adapters                                 # the grader's copy, beside this file
    import doubles                                  # grading-only test doubles, as extra scenarios
    doubles.register(adapters)
    while (frame := read_frame(requests)) is not None:
        try:
            name, args, kwargs = adapters.decode(frame)
            reply = b"R" + adapters.encode(adapters.SCENARIOS[name](*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - every failure of student code is reported back
            if isinstance(e, KeyboardInterrupt):
                raise
            print(traceback.format_exc(), flush=True)
            reply = b"E" + adapters.encode([type(e).__name__, str(e)[:2000]])
        write_frame(replies, reply)


if __name__ == "__main__":
    main(sys.argv[1])
