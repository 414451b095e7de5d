"""Starts Python processes already warm: the trusted hidden tests' `python -m pytest ...` (in the grader), and,
inside the sandbox, the notebooks' kernels and the `python -m pytest ...` of each `llmlab.check()`.

A fresh Python spends seconds importing torch, pytest, transformers and IPython before it does anything, and a
graded submission starts one trusted pytest, five kernels and sixteen checks. `python warm.py serve FOLDER
ROLE...` imports those libraries once and serves each ROLE (PRELOAD) on the socket FOLDER/ROLE, forking one
child per request; `python warm.py run SOCKET -m MODULE ARGS...` is the request: it hands the child its working
directory, environment, resource limits, arguments and its own stdin, stdout and stderr, forwards SIGINT and
SIGTERM to it and exits with its exit code; the child dies with it if it is killed. So each kernel (`-m
ipykernel_launcher -f CONNECTION_FILE`) and each pytest still gets a fresh process of its own, which imports
llmlab and the tests itself; only libraries are imported already, and only those that behave the same whether
imported before or after the fork. grading/autograde.py starts the "pytest" server once per grading process;
nbrun.py starts the "pytest" and "kernels" servers in each submission's sandbox, starts the kernels through
them and points llmlab.check at the first through LLMLAB_WARM_PYTHON (llmlab/check.py); students' own runs
never see any of it.
"""
import ctypes
import gc
import importlib
import importlib.metadata
import json
import os
import resource
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

# Third-party only: nothing of the submission (llmlab) or of the tests is imported before a child forks.
COMMON = ["numpy", "torch", "torch._dynamo"]
# What each server imports on top. Not into the kernels: transformers (it imports tqdm.auto, which decides when
# imported whether it runs in a notebook) nor matplotlib (it picks its backend when imported, and a kernel
# sets MPLBACKEND first where it is unset; preloaded where the sandbox sets it, it saved nothing measurable).
PRELOAD = {"pytest": ["pytest", "_pytest.python", "_pytest.assertion.rewrite", "tokenizers", "safetensors.torch",
                      "transformers", "transformers.models.llama.modeling_llama", "transformers.generation.utils",
                      "transformers.generation.logits_process", "torch.utils.flop_counter"],
           "kernels": ["ipykernel.kernelapp", "ipykernel.ipkernel", "IPython"]}
LIMITS = [resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_FSIZE, resource.RLIMIT_NOFILE,
          resource.RLIMIT_NPROC, resource.RLIMIT_CORE]     # a child takes these from its requester
START = "LLMLAB_START"      # the grader's environment: warm (the default) or cold, a fresh Python every time
REQUEST_BYTES = 1 << 20
PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)    # loaded here, not in a child forked from a threaded process


def warm_start() -> bool:
    """Whether the grader starts its Python processes warm (LLMLAB_START); the grades are the same either way."""
    way = os.environ.get(START) or "warm"
    if way not in ("warm", "cold"):
        raise ValueError(f"{START}={way!r}: must be warm or cold")
    return way == "warm"


def die_with_parent():
    """This process gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG)."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def serve(folder: str, roles: list[str]):
    """A server per role, forked from one process once the libraries all need are imported."""
    unknown = set(roles) - set(PRELOAD)
    if unknown or not roles:
        sys.exit(f"warm.py: roles must be some of {sorted(PRELOAD)}, not {roles}")
    servers = {}
    for role in roles:
        servers[role] = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        servers[role].bind(os.path.join(folder, role))
        servers[role].listen()          # requests made while the libraries load wait in the backlog
    _import(COMMON)
    role = roles[0]
    for other in roles[1:]:
        if os.fork() == 0:
            die_with_parent()           # ends with the first server
            role = other
            break
    for name in set(servers) - {role}:
        servers.pop(name).close()
    _import(PRELOAD[role] + (_pytest_plugins() if role == "pytest" else []))
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
    connection.sendall(f"{os.getpid()}\n".encode())
    threading.Thread(target=_die_with_requester, args=(connection,), daemon=True).start()
    try:
        os.chdir(request["cwd"])
        for limit, values in zip(LIMITS, request["limits"]):
            resource.setrlimit(limit, values)      # fails, and says so, where a limit would have to be raised
        os.environ.clear()
        os.environ.update(request["env"])
    except (OSError, ValueError) as e:
        print(f"warm.py: cannot start as the request asks: {e}", file=sys.stderr)
        code = 1
    else:
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
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ),
                          "limits": [resource.getrlimit(limit) for limit in LIMITS]}).encode()
    socket.send_fds(connection, [request], [0, 1, 2])
    replies = connection.makefile("r")
    child = int(replies.readline())
    for sig in (signal.SIGINT, signal.SIGTERM):    # an interrupted cell interrupts its check
        signal.signal(sig, lambda number, frame: os.kill(child, number))
    code = replies.readline()
    return int(code) if code.strip() else 1   # no code: the child was killed


def start(python: list[str], folder: str, roles: list[str], **popen) -> tuple[subprocess.Popen, dict]:
    """`PYTHON warm.py serve FOLDER ROLES...` (Popen's other arguments: popen), once its sockets exist; and, per
    role, the command that runs `-m MODULE ARGS...` warm."""
    server = subprocess.Popen([*python, __file__, "serve", folder, *roles], stdin=subprocess.DEVNULL, **popen)
    sockets = {role: os.path.join(folder, role) for role in roles}
    for _ in range(600):             # it binds the sockets before it imports anything
        if all(os.path.exists(path) for path in sockets.values()) or server.poll() is not None:
            break
        time.sleep(0.01)
    return server, {role: [*python, __file__, "run", path] for role, path in sockets.items()}


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
        serve(path, argv)       # path: a folder; argv: the roles
    elif role == "run":
        sys.exit(run(path, argv))
    else:
        sys.exit(f"warm.py: unknown role {role!r} (serve or run)")


if __name__ == "__main__":
    main()
