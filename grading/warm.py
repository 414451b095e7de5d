"""Runs inside the sandbox: starts the `python -m pytest ...` of each `llmlab.check()` already warm.

A fresh Python spends seconds importing torch, transformers and pytest before the first public test runs, and
a graded submission runs sixteen checks. `python warm.py serve SOCKET` (started by grading/nbrun.py before it
reads any notebook, so that it holds nothing hidden) imports those libraries once and then forks one child per
request; `python warm.py run SOCKET -m pytest ARGS...` is the request: it hands the child its working directory,
environment, arguments and its own stdin, stdout and stderr, forwards SIGINT and SIGTERM to it and exits with
its exit code. So each check still gets a fresh process of its own, which imports the submission's llmlab and
the tests itself; only the libraries are imported already. nbrun.py points llmlab.check at the second command
through LLMLAB_WARM_PYTHON (llmlab/check.py); students' own runs never see it.
"""
import importlib
import importlib.metadata
import json
import os
import runpy
import signal
import socket
import sys
import traceback

# Third-party only: nothing of the submission (llmlab) or of the tests is imported before a child forks.
PRELOAD = ["numpy", "torch", "pytest", "_pytest.python", "_pytest.assertion.rewrite", "tokenizers",
           "safetensors.torch", "transformers", "transformers.models.llama.modeling_llama",
           "transformers.generation.utils", "transformers.generation.logits_process", "torch.utils.flop_counter"]
REQUEST_BYTES = 1 << 20


def serve(path: str):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()                     # requests made while the libraries load wait in the backlog
    for name in PRELOAD + _pytest_plugins():
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the child imports it (and fails) as a fresh Python would
            pass
    signal.signal(signal.SIGCHLD, _reap)   # waited for, so that their CPU time counts as this process's
    while True:
        connection, _ = server.accept()
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _handle(connection)         # never returns
        connection.close()


def _pytest_plugins() -> list[str]:
    """The modules of the installed pytest plugins, which pytest imports at every start (nbval's costs seconds)."""
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return []
    return [entry.module for entry in importlib.metadata.entry_points(group="pytest11")]


def _reap(*_):
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def _handle(connection: socket.socket):
    """In the forked child: become `python ARGV` as the request asks, and send back the pid, then the exit code."""
    request, fds, _, _ = socket.recv_fds(connection, REQUEST_BYTES, 3)
    request = json.loads(request)
    for target, fd in zip((0, 1, 2), fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    connection.sendall(f"{os.getpid()}\n".encode())
    code = _run(request["argv"])
    connection.sendall(f"{code}\n".encode())
    os._exit(code)


def _run(argv: list[str]) -> int:
    """Run `python -m MODULE ARGS...` in this process as the interpreter would; its exit code."""
    if len(argv) < 2 or argv[0] != "-m":
        print(f"warm.py: only `-m MODULE ...` is supported, not {argv[:2]}", file=sys.stderr)
        return 2
    sys.argv = [argv[1], *argv[2:]]
    sys.path[0] = os.getcwd()           # what `python -m` puts first (here: this file's folder)
    try:
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as e:
        code = _exit_code(e.code)
    except BaseException:  # noqa: BLE001 - reported as the interpreter would
        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run(path: str, argv: list[str]) -> int:
    """The request: the warm child runs `python ARGV` with this process's directory, environment and streams."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(path)
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
    socket.send_fds(connection, [request], [0, 1, 2])
    replies = connection.makefile("r")
    child = int(replies.readline())
    for sig in (signal.SIGINT, signal.SIGTERM):    # an interrupted cell interrupts its check
        signal.signal(sig, lambda number, frame: os.kill(child, number))
    code = replies.readline()
    return int(code) if code.strip() else 1   # no code: the child was killed


def main():
    role, path, *argv = sys.argv[1:]
    if role == "serve":
        serve(path)
    elif role == "run":
        sys.exit(run(path, argv))
    else:
        sys.exit(f"warm.py: unknown role {role!r} (serve or run)")


if __name__ == "__main__":
    main()
