"""Runs inside the sandbox: starts the notebooks' kernels and the `python -m pytest ...` of each `llmlab.check()`
already warm.

A fresh Python spends seconds importing torch (and, through it, torch._dynamo), IPython, transformers and pytest
before it does anything, and a graded submission starts five kernels and runs sixteen checks. `python warm.py
serve FOLDER` (started by grading/nbrun.py before it reads any notebook, so that it holds nothing hidden) imports
those libraries once, in two servers: FOLDER/kernels for the kernels, FOLDER/checks for the checks. Each forks
one child per request; `python warm.py run SOCKET -m MODULE ARGS...` is the request: it hands the child its
working directory, environment, arguments and its own stdin, stdout and stderr, forwards SIGINT and SIGTERM to
it and exits with its exit code; the child dies with it if it is killed. So each kernel (`-m ipykernel_launcher
-f CONNECTION_FILE`) and each check still gets a fresh process of its own, which imports the submission's llmlab
and the tests itself; only libraries are imported already, and only those that behave the same whether imported
before or after the fork. nbrun.py starts the kernels this way and points llmlab.check at FOLDER/checks through
LLMLAB_WARM_PYTHON (llmlab/check.py); students' own runs never see it.
"""
import ctypes
import gc
import importlib
import importlib.metadata
import json
import os
import runpy
import signal
import socket
import sys
import threading
import traceback

# Third-party only: nothing of the submission (llmlab) or of the tests is imported before a child forks.
COMMON = ["numpy", "torch", "torch._dynamo"]
# What each server imports on top. Not into the kernels: transformers (it imports tqdm.auto, which decides when
# imported whether it runs in a notebook) nor matplotlib (it picks its backend when imported, and a kernel
# sets MPLBACKEND first): a kernel imports those itself, as a fresh one does.
PRELOAD = {"checks": ["pytest", "_pytest.python", "_pytest.assertion.rewrite", "tokenizers", "safetensors.torch",
                      "transformers", "transformers.models.llama.modeling_llama", "transformers.generation.utils",
                      "transformers.generation.logits_process", "torch.utils.flop_counter"],
           "kernels": ["ipykernel.kernelapp", "ipykernel.ipkernel", "IPython"]}
REQUEST_BYTES = 1 << 20
PR_SET_PDEATHSIG = 1


def serve(folder: str):
    """Two servers, forked from one process once the libraries both need are imported: FOLDER/checks starts
    llmlab.check's pytest, FOLDER/kernels the notebooks' kernels."""
    servers = {}
    for role in PRELOAD:
        servers[role] = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        servers[role].bind(os.path.join(folder, role))
        servers[role].listen()          # requests made while the libraries load wait in the backlog
    _import(COMMON)
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)   # ends with the checks' server
        role = "kernels"
    else:
        role = "checks"
    for other in set(servers) - {role}:
        servers.pop(other).close()
    _import(PRELOAD[role] + (_pytest_plugins() if role == "checks" else []))
    # The libraries' millions of objects are never garbage: kept out of every later collection, which would
    # otherwise walk them all (pytest collects 10 times at exit: 0.4 s of a check's 0.6 s in a child)
    gc.freeze()
    signal.signal(signal.SIGCHLD, _reap)   # waited for, so that their CPU time counts as this process's
    server = servers[role]
    while True:
        connection, _ = server.accept()
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _handle(connection)         # never returns
        connection.close()


def _import(names: list[str]):
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the child imports it (and fails) as a fresh Python would
            pass


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
    threading.Thread(target=_die_with_requester, args=(connection,), daemon=True).start()
    code = _run(request["argv"])
    connection.sendall(f"{code}\n".encode())
    os._exit(code)


def _die_with_requester(connection: socket.socket):
    """The requester holds the connection open until it has our exit code; if it is gone first (a kernel
    manager killed it, say), this process goes too, instead of running on unwatched."""
    try:
        connection.recv(1)
    finally:
        os.kill(os.getpid(), signal.SIGKILL)


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


def kernel_manager(run: list[str]):
    """A jupyter_client kernel manager class that starts each kernel warm: `python -m ipykernel_launcher ...` as
    `RUN -m ipykernel_launcher ...`, where RUN is this file's `run FOLDER/kernels` command."""
    from jupyter_client.manager import AsyncKernelManager

    class WarmKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            command = super().format_kernel_cmd(extra_arguments)   # [python, -m, ipykernel_launcher, -f, FILE]
            if command[1:3] != ["-m", "ipykernel_launcher"]:
                raise RuntimeError(f"warm.py: unexpected kernel command {command[:3]}")
            return run + command[1:]

    return WarmKernelManager


def main():
    role, path, *argv = sys.argv[1:]
    if role == "serve":
        serve(path)             # path: a folder
    elif role == "run":
        sys.exit(run(path, argv))
    else:
        sys.exit(f"warm.py: unknown role {role!r} (serve or run)")


if __name__ == "__main__":
    main()
