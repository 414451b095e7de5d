"""The trusted side of the seam: student code runs only in sandboxed processes, never in the grader's.

A `Jail` is one process started inside the sandbox: on Linux with bubblewrap (`bwrap`), else, loudly, as a
plain subprocess with resource limits. `Sandbox(target).call(name, args, kwargs)` runs one scenario of
tests/adapters.py in a worker jail (grading/worker.py) that imports the submission's package, and returns the
decoded plain-data result. Nothing but encoded plain data crosses the pipes, in either direction; expected
values never enter the sandbox.

What the sandbox sees (bwrap): read-only /usr and the Python installation; a fresh /proc and /dev; a private,
size-limited /tmp (the only writable place); the submission's package at /sandbox/pkg and the harness at
/sandbox/harness, both read-only. No network (a new network namespace holds only its own loopback), no other
process (a new PID namespace), nothing of the repository, solutions/, grading/ or other submissions.
Limits (`Limits`): wall time per call and per submission, CPU time per process and per submission, address
space, processes and threads, bytes printed, size of /tmp.
"""
import atexit
import fcntl
import functools
import json
import os
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from grading import worker as protocol
from llmlab.tasks import EXERCISE_MODULES
from tests import adapters

ROOT = Path(__file__).resolve().parents[1]

# Files the sandbox gets besides the submission's package (paths from the repository root), and the modules
# the worker imports to register scenarios. Add e.g. grading/doubles.py to both lists for more scenarios;
# files that do not exist are left out.
HARNESS = ["grading/worker.py", "grading/nbrun.py", "grading/warm.py", "tests/adapters.py", "grading/doubles.py"]
SCENARIO_MODULES = ["tests.adapters", "grading.doubles"]

INSIDE_PACKAGE, INSIDE_HARNESS = "/sandbox/pkg", "/sandbox/harness"
MAX_ERROR_REPLY = 64 << 10       # bytes of a reply that reports an exception
MAX_STRUCTURE = 4 << 20          # bytes of a result's JSON structure, and of its safetensors header
UID_BASE = 2_100_000        # a root grader runs each live sandbox as its own unprivileged uid: UID_BASE + slot
UID_SLOTS = 512
UID_LOCKS = Path("/run/llmlab-sandbox-uids")   # a lock file per claimed uid (only a root grader claims uids)
FALLBACK_WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! WARNING: student code runs WITHOUT a sandbox ({reason}).
!! It runs as a plain subprocess of an unprivileged user, with resource limits only: it can read whatever
!! files all users may read and reach the network, loopback included. Install bubblewrap (Debian/Ubuntu:
!! apt-get install bubblewrap) to grade safely.
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""
SANDBOX_DID_NOT_START = "the sandbox did not start"     # a grading problem: no student code has run yet
FALLBACK_NOTE = "graded WITHOUT a sandbox ({reason}): as an unprivileged user with resource limits only"


class SubmissionError(Exception):
    """The submission's code raised, crashed or broke a limit; the message says which, for the student.

    `kind` is the type name of the exception the student's code raised (None when the sandbox itself reports
    a crash or a time-out); then str(error) is "<kind>: <message>", e.g. "ValueError: k must be positive"."""

    def __init__(self, message: str, kind: str | None = None):
        super().__init__(f"{kind}: {message}" if kind else message)
        self.kind = kind


class TimeLimit(SubmissionError):
    """A time limit ran out: wall clock, or the CPU time of the whole submission."""


@dataclass
class Limits:
    """Resource limits of the sandbox; every one can be changed on the command line (see grading/README.md)."""
    call_seconds: float = 60            # wall time of one scenario call (a hidden test makes one or a few)
    submission_seconds: float = 900     # wall time of all of a submission's grading: hidden tests and notebooks
    cell_seconds: float = 300           # wall time of one notebook cell
    cpu_seconds: int = 900              # CPU time of one sandboxed process
    submission_cpu_seconds: float = 1800  # CPU time of all of a submission's sandboxed processes together
    memory_mb: int = 4096               # address space of one sandboxed process
    max_processes: int = 256            # processes and threads in one sandbox (fork bombs)
    output_mb: int = 16                 # what the student's code may print (and the size of any file it writes)
    tmp_mb: int = 256                   # the private, writable /tmp
    reply_mb: int = 256                 # one result sent back from the sandbox
    start_seconds: float = 120          # starting the worker (importing torch) before any student code runs
    trusted_memory_mb: int = 4096       # address space of the trusted process that runs the hidden tests

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> "Limits":
        return cls(**json.loads(os.environ.get("LLMLAB_LIMITS") or "{}"))


# ---- which sandbox ------------------------------------------------------------------------------------------

def backend() -> str:
    """"bwrap", or "none" (a plain subprocess) when bwrap is missing or cannot start here; LLMLAB_SANDBOX=
    auto|bwrap|none chooses (bwrap: fail instead of falling back). Warns loudly, once per process, on "none"."""
    return _choice()[0]


def no_sandbox_reason() -> str | None:
    """Why student code runs without bwrap, or None when it runs in bwrap."""
    return _choice()[1]


def sandbox_summary() -> str:
    """How student code runs, for the instructor's summary and log."""
    reason = no_sandbox_reason()
    how = f"WITHOUT a sandbox ({reason})" if reason else "in the bwrap sandbox"
    root = os.geteuid() == 0
    if root and _cgroup_folder("memory") is not None:
        how += ", memory limited per sandbox (cgroup)"
    else:
        how += ", memory limited per process only (no memory cgroup can be made here)"
    if root and _cpu_accounting_folder() is not None:
        return how + ", CPU time counted per submission (cgroup)"
    return how + ", CPU time limited per process only (no CPU accounting cgroup can be made here)"


@functools.cache
def _choice() -> tuple[str, str | None]:
    choice = os.environ.get("LLMLAB_SANDBOX", "auto")
    if choice not in ("auto", "bwrap", "none"):
        raise ValueError(f"LLMLAB_SANDBOX must be auto, bwrap or none, got {choice!r}")
    reason = "the grader chose --sandbox none (LLMLAB_SANDBOX=none)"
    if choice != "none":
        reason = _bwrap_problem()
        if reason is None:
            return "bwrap", None
        if choice == "bwrap":
            raise RuntimeError(f"LLMLAB_SANDBOX=bwrap, but bwrap cannot run here: {reason}")
    problem = _fallback_problem()
    if problem:
        raise RuntimeError(f"refusing to run student code without a sandbox ({reason}): {problem}")
    print(FALLBACK_WARNING.format(reason=reason), file=sys.stderr, flush=True)
    return "none", reason


def _fallback_problem() -> str | None:
    """Why student code cannot run here without bwrap, or None. It must run as an unprivileged uid (so the
    grader must be root) that can use the Python installation but read nothing of solutions/ and grading/."""
    if os.geteuid() != 0:
        return ("the grader is not root, so it would run as the grader's own user: run the grader as root (it then "
                "gives student code its own unprivileged user) or install bubblewrap")
    blocked = [p for p in [sys.executable, *_python_dirs()] if not can_access_as_student(p)]
    if blocked:
        return (f"an unprivileged user cannot use the Python installation at {', '.join(blocked)} (make it "
                f"readable by all: chmod -R o+rX; or use bubblewrap)")
    exposed = readable_by_students([ROOT / "solutions", ROOT / "grading"])
    if exposed:
        return f"an unprivileged user could read {', '.join(exposed)} (chmod o-rwx them, or use bubblewrap)"
    return None


def readable_by_students(paths) -> list[str]:
    """Those of `paths` that an unprivileged uid could read without bwrap (needs root to find out)."""
    return [str(p) for p in paths if os.path.exists(p) and can_access_as_student(p)]


def can_access_as_student(path) -> bool:
    """Whether an unprivileged uid can read (or, a folder, enter) `path`: asked by a child process with that uid."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(UID_BASE + UID_SLOTS)     # a uid no sandbox uses
            os.setuid(UID_BASE + UID_SLOTS)
            os.write(write, b"y" if os.access(path, os.R_OK) or os.access(path, os.X_OK) else b"n")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    return answer == b"y"


def _bwrap_problem() -> str | None:
    """Why bwrap cannot be used here (missing, or no namespaces for it), or None. When bwrap itself starts but
    the sandbox's own command line fails, that is a bug to fix, never a reason to grade without a sandbox."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed"
    bare = _try(["bwrap", "--unshare-all" if os.geteuid() else "--unshare-pid", "--ro-bind", "/", "/", "--",
                 "/bin/true"])
    if bare:
        return f"bwrap cannot start here: {bare}"
    with tempfile.TemporaryDirectory() as empty:
        os.chmod(empty, 0o755)
        ours = _try(_bwrap_argv(Path(empty), Path(empty), Limits(), "/tmp") + [sys.executable, "-c", "pass"])
    if ours:
        raise RuntimeError(f"bwrap works here, but not with the sandbox's command line: {ours}")
    return None


def _try(argv: list[str]) -> str | None:
    """None when `argv` runs and exits with 0, else what went wrong."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=_environment(""))
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return None if result.returncode == 0 else (result.stderr.strip()[:300] or f"exit code {result.returncode}")


def _bwrap_argv(package: Path, harness: Path, limits: Limits, cwd: str) -> list[str]:
    """The bwrap command line up to (not including) the sandboxed command."""
    argv = ["bwrap", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:   # privileged bwrap: no user namespace; the harness then switches to its own uid
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-all"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf",
                 "fonts", "alternatives", "mime.types"):
        argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    # The private /tmp first: the Python installation may live under /tmp too (a venv), and is bound after it.
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp"]
    made = {"/", "/usr", "/tmp", "/etc"}
    for prefix in sorted(_python_dirs()):
        argv += _parents(prefix, made) + ["--ro-bind", prefix, prefix]
    argv += ["--perms", "0755", "--dir", "/sandbox",
             "--ro-bind", str(package), INSIDE_PACKAGE, "--ro-bind", str(harness), INSIDE_HARNESS,
             "--remount-ro", "/", "--chdir", cwd, "--"]
    return argv


def _python_dirs() -> set[str]:
    """The Python installation (and virtual environment) outside /usr, and any site-packages folder on sys.path
    outside them, which the sandbox needs to see (nothing else of sys.path: it holds the repository)."""
    site = [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages") and os.path.isdir(p)]
    dirs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                          os.path.dirname(os.path.realpath(sys.executable)), *site)}
    return {d for d in dirs if not (d + "/").startswith("/usr/")
            and not any(d != o and (d + "/").startswith(o + "/") for o in dirs)}


def _parents(path: str, made: set) -> list[str]:
    """bwrap arguments that create the missing parent directories of `path`, traversable by everyone."""
    args, parts = [], Path(path).parents
    for parent in reversed(parts):
        if str(parent) not in made:
            made.add(str(parent))
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


# ---- one sandboxed process ----------------------------------------------------------------------------------

@functools.cache
def harness_dir() -> Path:
    """A read-only copy of the harness files, made once per process."""
    folder = Path(tempfile.mkdtemp(prefix="llmlab-harness-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for package in ("grading", "tests"):
        (folder / package).mkdir()
        (folder / package / "__init__.py").write_text("")
    for name in HARNESS:
        if (ROOT / name).exists():
            shutil.copyfile(ROOT / name, folder / name)
    make_readable(folder)
    return folder


def make_readable(folder: Path):
    """Let the sandbox's unprivileged uid read `folder` and everything in it (adds o+r, and o+x to folders)."""
    for base, dirs, files in os.walk(folder):
        os.chmod(base, os.stat(base).st_mode | 0o005)
        for name in files:
            path = os.path.join(base, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o004)


def _claim_uid() -> tuple[int, int]:
    """(uid, lock fd): a uid no other live sandbox of this machine uses, held until the fd is closed.

    The locks live in one folder for the whole machine (not under TMPDIR, which each grader may set otherwise):
    two sandboxes with the same uid would share its cgroup, and closing one would kill the other."""
    locks = UID_LOCKS if UID_LOCKS.parent.is_dir() else Path("/tmp/llmlab-sandbox-uids")
    locks.mkdir(mode=0o700, exist_ok=True)
    for slot in range(UID_SLOTS):
        fd = os.open(locks / str(slot), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return UID_BASE + slot, fd
        except BlockingIOError:
            os.close(fd)
    raise RuntimeError(f"more than {UID_SLOTS} sandboxes at once")


def _give(folder: Path, uid: int):
    """Make `folder` (and all in it) the property of `uid` alone: mode 0700 on the folder itself."""
    for base, dirs, files in os.walk(folder):
        for name in [base, *(os.path.join(base, f) for f in dirs + files)]:
            os.lchown(name, uid, uid)
    os.chmod(folder, 0o700)


def _environment(pythonpath: str, tmp: str = "/tmp") -> dict:
    """The whole environment of a sandboxed process: nothing of the grader's leaks in."""
    return {"PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8", "PYTHONPATH": pythonpath,
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
            "MALLOC_ARENA_MAX": "2", "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{tmp}/matplotlib",
            "JUPYTER_RUNTIME_DIR": f"{tmp}/jupyter", "IPYTHONDIR": f"{tmp}/ipython", "JUPYTER_PLATFORM_DIRS": "1",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "LLMLAB_DEVICE": "cpu"}


class Cgroups:
    """For a root grader where cgroups can be made (v1 hierarchies, or v2 with the controllers delegated):
    each sandbox gets its own cgroup, so that its memory is limited as a whole (`memory_mb` for all its
    processes together, not only per process), `pids.max` caps its processes as a whole, and the CPU is shared
    fairly between sandboxes rather than between their processes (a fork bomb cannot starve another student's
    grading). Without them, the rlimits stay (per process), and each sandbox's session is its own scheduling
    autogroup where the kernel has autogroups; `sandbox_summary()` says which."""
    SETTINGS = {"cpu": {},    # controller -> {file (v1 and v2 names): Limits -> value}; files that exist
                "cpuacct": {},
                "pids": {"pids.max": lambda limits: limits.max_processes},
                "memory": {"memory.limit_in_bytes": lambda limits: limits.memory_mb << 20,
                           "memory.max": lambda limits: limits.memory_mb << 20}}

    def __init__(self, name: str, limits: Limits):
        self.folders, self.cpu_at_start = [], 0.0
        for controller, settings in self.SETTINGS.items():
            folder = _cgroup_folder(controller)
            if folder is None:
                continue
            try:
                (folder / name).mkdir(exist_ok=True)
                for file, value in settings.items():
                    if (folder / name / file).exists():
                        (folder / name / file).write_text(str(value(limits)))
                self.folders.append(folder / name)
            except OSError:
                continue
        self.cpu_at_start = self.cpu_seconds() or 0.0    # a folder left behind by a killed grader counts on

    def enter(self):
        """In the child, before exec: move this process (and so all it starts) into the cgroups."""
        for folder in self.folders:
            with open(folder / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by all processes of the sandbox, or None where no cgroup counts it."""
        for folder in self.folders:
            if (folder / "cpuacct.usage").exists():                 # v1: nanoseconds
                return int(_read(folder / "cpuacct.usage") or 0) / 1e9 - self.cpu_at_start
            for line in _read(folder / "cpu.stat").splitlines():    # v2: usage_usec
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6 - self.cpu_at_start
        return None

    def remove(self):
        for folder in self.folders:
            for _ in range(50):
                try:
                    for pid in (folder / "cgroup.procs").read_text().split():
                        os.kill(int(pid), signal.SIGKILL)
                    folder.rmdir()
                    break
                except (OSError, ValueError):
                    time.sleep(0.1)


@functools.cache
def _cgroup_folder(controller: str) -> Path | None:
    """This process's writable cgroup folder that has `controller` (v1 or v2), or None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            folder = Path("/sys/fs/cgroup") / controller / path.lstrip("/")
        elif controllers == "" and controller in _read(Path("/sys/fs/cgroup") / path.lstrip("/") / "cgroup.subtree_control"):
            folder = Path("/sys/fs/cgroup") / path.lstrip("/")
        else:
            continue
        if (folder / "cgroup.procs").exists() and os.access(folder, os.W_OK):
            return folder
    return None


def _cpu_accounting_folder() -> Path | None:
    """Where a sandbox's cgroup can count its CPU time (v1 cpuacct, or v2 with the cpu controller), or None."""
    v1, v2 = _cgroup_folder("cpuacct"), _cgroup_folder("cpu")
    if v1 is None and v2 is not None and "usage_usec" in _read(v2 / "cpu.stat"):
        return v2
    return v1


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


class Jail:
    """One process in the sandbox, started with `command`; stdin and stdout are pipes, stderr goes to the file
    `log`. In `command`, `cwd` and `pythonpath`, {package} and {harness} stand for the paths at which the sandbox
    sees the package folder and the harness. The working directory defaults to the private /tmp.

    `cpu_seconds`: the CPU time all its processes together may use (default: the submission's whole CPU budget).
    Where a cgroup counts it, the jail is stopped with TimeLimit while it is being waited on, within half a second
    of passing it; elsewhere each of its processes gets at most that much (RLIMIT_CPU)."""

    def __init__(self, package, command: list[str], limits: Limits, log, cwd: str | None = None,
                 pythonpath: str = "{package}", env: dict | None = None, cpu_seconds: float | None = None):
        self.limits, self.log = limits, Path(log)
        self.cpu_budget = limits.submission_cpu_seconds if cpu_seconds is None else cpu_seconds
        self.kind = backend()
        package, harness = Path(package).resolve(), harness_dir()
        make_readable(package)
        self._uid = self._uid_lock = self._scratch = None
        self.partial, self.cpu_at_close = b"", None
        if os.geteuid() == 0:      # always so without bwrap (see _fallback_problem)
            self._uid, self._uid_lock = _claim_uid()
        self._cgroups = Cgroups(f"llmlab-sandbox-{self._uid}", limits) if self._uid is not None else None
        if self.kind == "bwrap":
            paths = {"package": INSIDE_PACKAGE, "harness": INSIDE_HARNESS}
            prefix = _bwrap_argv(package, harness, limits, cwd.format(**paths) if cwd else "/tmp")
            tmp = "/tmp"
        else:   # the uid's own folder, with its own copies: no other sandbox nor anything of the grader's
            self._scratch = Path(tempfile.mkdtemp(prefix="llmlab-jail-"))
            paths = {"package": str(self._scratch / "pkg"), "harness": str(self._scratch / "harness")}
            shutil.copytree(package, paths["package"])
            shutil.copytree(harness, paths["harness"])
            tmp = str(self._scratch / "tmp")
            os.mkdir(tmp)
            _give(self._scratch, self._uid)
            prefix = []
        workdir = cwd.format(**paths) if cwd else tmp
        env = _environment(pythonpath.format(**paths), tmp) | (env or {})
        env["LLMLAB_MAX_PROCESSES"] = str(limits.max_processes)
        if self._uid is not None:
            env["LLMLAB_SANDBOX_UID"] = str(self._uid)
        self._log_file = open(self.log, "ab")
        self.process = subprocess.Popen(prefix + [part.format(**paths) for part in command],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log_file,
                                        cwd=None if prefix else workdir, env=env, bufsize=0,
                                        preexec_fn=self._limit, close_fds=True)

    def _limit(self):
        """In the child, before exec: a new session (to kill it whole), its cgroups and the resource limits."""
        os.setsid()
        if self._cgroups is not None:
            self._cgroups.enter()
        memory = self.limits.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        cpu = max(1, min(self.limits.cpu_seconds, int(self.cpu_budget + 1)))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        output = self.limits.output_mb << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (output, output))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def alive(self) -> bool:
        return self.process.poll() is None

    def cpu_used(self) -> float | None:
        """CPU seconds used so far by all the jail's processes, or None where no cgroup counts them."""
        return self._cgroups.cpu_seconds() if self._cgroups is not None else None

    def _watch(self):
        """Called at least every half second while the grader waits on the jail: enforces its CPU budget."""
        used = self.cpu_used()
        if used is not None and used > self.cpu_budget:
            raise TimeLimit(f"the CPU time limit of {self.limits.submission_cpu_seconds:.0f} s for the whole "
                            f"submission is used up")

    def send(self, data: bytes, deadline: float):
        _write_all(self.process.stdin.fileno(), _frame(data), deadline)

    def receive(self, deadline: float) -> bytes:
        """One reply frame; TimeoutError past the deadline, EOFError when the process ends first."""
        fd = self.process.stdout.fileno()
        (n,) = struct.unpack("<Q", _read_exact(fd, 8, deadline, self._watch))
        if n > self.limits.reply_mb << 20:
            raise SubmissionError(f"a result of {n >> 20} MiB is larger than the limit of {self.limits.reply_mb} MiB")
        return _read_exact(fd, n, deadline, self._watch)

    def read_all(self, deadline: float) -> bytes:
        """Everything the process writes to stdout until it exits (at most reply_mb). On TimeoutError or
        SubmissionError (too much), what was read so far is in `self.partial`."""
        fd, self.partial = self.process.stdout.fileno(), b""
        while chunk := _read_some(fd, deadline, 1 << 20, self._watch):
            self.partial += chunk
            if len(self.partial) > self.limits.reply_mb << 20:
                raise SubmissionError(f"the output is larger than the limit of {self.limits.reply_mb} MiB")
        return self.partial

    def death(self) -> str:
        """Why the process ended, in words a student can act on (after it ended)."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        if self.log.exists() and self.log.stat().st_size >= self.limits.output_mb << 20:
            return f"it printed more than the limit of {self.limits.output_mb} MiB"
        signals = {signal.SIGXCPU: f"it used more than the limit of {self.limits.cpu_seconds} s of CPU time",
                   signal.SIGKILL: "it was killed (SIGKILL), e.g. for using too much memory",
                   signal.SIGSEGV: "it crashed (segmentation fault)",
                   signal.SIGXFSZ: f"it wrote more than the limit of {self.limits.output_mb} MiB"}
        number = -code if code < 0 else code - 128 if code > 128 else None
        if number in signals:
            return signals[number]
        return f"it exited with code {code} (sys.exit or os._exit in the submission?)"

    def close(self):
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)   # bwrap, whose sandbox dies with it
            except ProcessLookupError:
                pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self._log_file):
            stream.close()
        if self._uid is not None:
            if self.kind == "none":                           # no PID namespace: kill what left the session
                _kill_all_of(self._uid)
            self.cpu_at_close = self.cpu_used()
            self._cgroups.remove()
            os.close(self._uid_lock)
            self._uid = None
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)


def _kill_all_of(uid: int):
    """Kill every process of `uid`: a process running as that uid signals all it may signal (kill -1)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _frame(data: bytes) -> bytes:
    return struct.pack("<Q", len(data)) + data


def _read_some(fd: int, deadline: float, size: int, watch=lambda: None) -> bytes:
    """Up to `size` bytes from `fd`; TimeoutError past the deadline; `watch()` is called every half second."""
    while True:
        watch()
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if select.select([fd], [], [], min(left, 0.5))[0]:
            return os.read(fd, size)


def _read_exact(fd: int, n: int, deadline: float, watch=lambda: None) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = _read_some(fd, deadline, min(n - got, 1 << 20), watch)
        if not chunk:
            raise EOFError("the process ended")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes, deadline: float):
    view = memoryview(data)
    while view:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            raise TimeoutError
        view = view[os.write(fd, view[: 1 << 16]):]


# ---- the scenario worker -------------------------------------------------------------------------------------

class Sandbox:
    """Runs scenarios against the submission in `target` (a folder holding its `llmlab/` package), in one worker
    jail started on first use and restarted after a crash or a time-out.

    Every call gets `limits.call_seconds`; all calls together get `limits.submission_seconds`, counted from
    the creation of the Sandbox, and `limits.submission_cpu_seconds` of CPU time (where a cgroup counts it:
    `cpu_used`); after either is used up every call fails at once. On its first start the worker imports
    each exercise module once: a module that ends, hangs or crashes the worker when imported is from then on
    replaced by one that raises ImportError saying why, so that its tests fail at once, not one restart each."""

    def __init__(self, target, limits: Limits | None = None, log=None, host=None):
        self.target = Path(target).resolve()
        self.host = host    # answers the worker's HOST frames: request bytes -> reply bytes (grading/doubles.py)
        self.limits = limits or Limits()
        self.deadline = time.monotonic() + self.limits.submission_seconds
        if log is None:
            folder = tempfile.mkdtemp(prefix="llmlab-sandbox-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            log = Path(folder) / "student-output.log"
        self.log = Path(log)
        self.jail = None
        self.cpu_of_closed_jails = 0.0
        self.unimportable = None        # exercise module -> why importing it ends the worker (after 1st start)

    def cpu_used(self) -> float:
        """CPU seconds used by all the sandbox's workers so far (0 where no cgroup counts them)."""
        live = self.jail.cpu_used() if self.jail is not None else None
        return self.cpu_of_closed_jails + (live or 0.0)

    def _start(self):
        if self.unimportable is None:
            self.unimportable = {}
            self._start_worker()
            self._check_imports()
        if self.jail is None:
            self._start_worker()

    def _check_imports(self):
        for module in EXERCISE_MODULES:
            try:
                self._exchange(protocol.IMPORT, (module,), {}, f"the import of llmlab/{module}.py")
            except NotImplementedError:
                pass
            except SubmissionError as e:
                if time.monotonic() >= self.deadline:
                    raise
                if self.jail is None:                   # it ended or hung the worker, not just raised
                    self.unimportable[module] = str(e)
                    self._start_worker()

    def _start_worker(self):
        modules = [m for m in SCENARIO_MODULES if (ROOT / (m.replace(".", "/") + ".py")).exists()]
        self.jail = Jail(self.target, [sys.executable, "-s", "{harness}/grading/worker.py", *modules],
                         self.limits, self.log, pythonpath="{package}" + os.pathsep + "{harness}",
                         env={protocol.UNIMPORTABLE: json.dumps(self.unimportable)},
                         cpu_seconds=self.limits.submission_cpu_seconds - self.cpu_of_closed_jails)
        try:
            ready = self.jail.receive(time.monotonic() + self.limits.start_seconds)
        except TimeoutError:
            self.close()
            raise SubmissionError(f"{SANDBOX_DID_NOT_START} within {self.limits.start_seconds:.0f} s") from None
        except (EOFError, OSError):
            reason = self.jail.death()
            self.close()
            raise SubmissionError(f"{SANDBOX_DID_NOT_START}: {reason}; {self._log_tail()}") from None
        if ready != protocol.READY:
            self.close()
            raise SubmissionError(f"{SANDBOX_DID_NOT_START}: unexpected first reply")

    def _log_tail(self) -> str:
        try:
            with open(self.log, "rb") as f:
                f.seek(max(0, self.log.stat().st_size - 600))
                return "last output: " + f.read().decode("utf-8", "replace").strip()[-500:]
        except OSError:
            return "no output"

    def call(self, name, args=(), kwargs=None):
        # the grader's own frames stay out of failure reports: they say nothing about the submission, and
        # pytest would parse this long file again for each of them, seconds for a submission with many failures
        __tracebackhide__ = True
        if self.jail is None or not self.jail.alive():
            self._start()
        return self._exchange(name, tuple(args), dict(kwargs or {}), repr(name))

    def _exchange(self, name, args, kwargs, what: str):
        """Send one request to the running worker and return its decoded result; `what` names it in errors."""
        __tracebackhide__ = True
        left = self.deadline - time.monotonic()
        if left <= 0:
            self.close()
            raise TimeLimit(f"the time limit of {self.limits.submission_seconds:.0f} s for the whole "
                            f"submission is used up")
        if self.cpu_used() >= self.limits.submission_cpu_seconds:
            self.close()
            raise TimeLimit(f"the CPU time limit of {self.limits.submission_cpu_seconds:.0f} s for the whole "
                            f"submission is used up")
        request = adapters.encode((name, args, kwargs))
        per_call = min(self.limits.call_seconds, left)
        deadline = time.monotonic() + per_call
        try:
            self.jail.send(request, deadline)
            while (reply := self.jail.receive(deadline))[:1] == protocol.HOST:
                self.jail.send(self._answer_host(reply), deadline)
        except TimeoutError:
            self.close()
            raise TimeLimit(f"time limit of {per_call:.0f} s exceeded in {what}") from None
        except (BrokenPipeError, EOFError, OSError):
            reason = self.jail.death()
            self.close()
            raise SubmissionError(f"the submission's process ended during {what}: {reason}") from None
        except SubmissionError:
            self.close()
            raise
        return self._result(what, reply)

    def _answer_host(self, frame: bytes) -> bytes:
        """The answer to a HOST frame (b"H" + a request for an object the trusted process serves)."""
        if self.host is None:
            return b"E" + adapters.encode(["RuntimeError", "nothing is served to this sandbox"])
        if _too_large(frame):
            return b"E" + adapters.encode(["ValueError", "request too large"])
        try:
            return self.host(frame[1:])
        except Exception:  # noqa: BLE001 - a malformed request from the sandbox
            return b"E" + adapters.encode(["ValueError", "malformed request"])

    def _result(self, name, reply: bytes):
        __tracebackhide__ = True
        status, too_large = reply[:1], _too_large(reply)
        if too_large:
            self.close()
            raise SubmissionError(f"the sandbox sent back {too_large} for {name}")
        try:
            body = adapters.decode(reply[1:])
        except Exception:  # noqa: BLE001 - whatever came back is not a well-formed result
            self.close()
            raise SubmissionError(f"the sandbox sent back a malformed reply for {name}") from None
        if status == b"R":
            return body
        if status == b"E" and isinstance(body, list) and len(body) == 2 and all(type(x) is str for x in body):
            kind, message = body[0][:protocol.NAME_CHARS], body[1][:protocol.MESSAGE_CHARS]
            if kind == "NotImplementedError":
                raise NotImplementedError(message)
            raise SubmissionError(explain(kind, message, self.limits), kind=kind)
        self.close()
        raise SubmissionError(f"the sandbox sent back a malformed reply for {name}")

    def close(self):
        if self.jail is not None:
            self.jail.close()
            self.cpu_of_closed_jails += self.jail.cpu_at_close or 0.0
        self.jail = None


def _too_large(reply: bytes) -> str | None:
    """Checked before a reply is parsed: an error report is small, and so are the parts of a result that cost
    memory per byte when parsed (its JSON structure, its safetensors header). The tensor data itself is bounded
    by Limits.reply_mb and costs about its size."""
    if reply[:1] == b"E" and len(reply) > MAX_ERROR_REPLY:
        return f"an error report larger than {MAX_ERROR_REPLY >> 10} KiB"
    structure = int.from_bytes(reply[1:9], "little")
    header = int.from_bytes(reply[9 + structure:17 + structure], "little")
    if structure > MAX_STRUCTURE or header > MAX_STRUCTURE:
        return f"a result whose structure is larger than {MAX_STRUCTURE >> 20} MiB"
    return None


def explain(kind: str, message: str, limits: Limits) -> str:
    """The message of a student's exception, naming the limit behind it where there is one."""
    if kind == "MemoryError" or "can't allocate memory" in message or "not enough memory" in message:
        return f"memory limit of {limits.memory_mb} MiB exceeded" + (f" ({message[:200]})" if message else "")
    if "File too large" in message or "[Errno 27]" in message:
        return f"output limit of {limits.output_mb} MiB exceeded: the code printed or wrote too much"
    if kind == "BlockingIOError" and "temporarily unavailable" in message:
        return f"process limit of {limits.max_processes} exceeded" + (f" ({message[:200]})" if message else "")
    if kind == "SystemExit":
        return f"the code called sys.exit({message})"
    return message[:500]
