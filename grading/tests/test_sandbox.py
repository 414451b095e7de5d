"""The sandbox itself: what student code can see and do inside it, its limits, and the loud fallback."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import torch

from grading.overlay import build_overlay
from grading.sandbox import (ROOT, SANDBOX_DID_NOT_START, Limits, Sandbox, SubmissionError, TimeLimit,
                             readable_by_students, sandbox_summary)
from grading.submission import Submission, build_package
from grading.tests.builders import require_bwrap

PROBES = textwrap.dedent('''

    def probe(repo, port):
        """Everything worth knowing about the sandbox, as the message of an exception (plain data)."""
        import json, os, resource, socket
        facts = {"uid": os.getuid(), "root": sorted(os.listdir("/")), "repo": os.path.exists(repo),
                 "processes": sorted(p for p in os.listdir("/proc") if p.isdigit()),
                 "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
                 "address_space": resource.getrlimit(resource.RLIMIT_AS)[0], "writable": []}
        for folder in ("/", "/usr", "/etc", "/sandbox/pkg", "/sandbox/harness", "/tmp", os.path.dirname(os.__file__)):
            try:
                with open(os.path.join(folder, "probe.txt"), "w") as f:
                    f.write("x")
                facts["writable"].append(folder)
            except OSError:
                pass
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            facts["network"] = "connected"
        except OSError as e:
            facts["network"] = type(e).__name__
        raise RuntimeError(json.dumps(facts))


    def die(code):
        import os
        os._exit(code)


    def spin():
        while True:
            pass


    def spin_in(processes):
        import os
        for _ in range(processes - 1):
            if os.fork() == 0:
                break
        while True:
            pass


    def hoard():
        blocks = []
        while True:
            blocks.append(bytearray(64 << 20))


    def shout():
        while True:
            print("x" * (1 << 20))


    def two_hogs(mb):
        """Two processes of `mb` MiB each at once; how many of them survived."""
        import subprocess, sys
        hog = f"b = bytearray({mb} << 20); import time; time.sleep(2)"
        return sum(p.wait() == 0 for p in [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(2)])


    def huge_name():
        raise type("E" * 200_000, (Exception,), {})("m" * 200_000)


    def forge_reply(status, size):
        """A reply frame of our own: a JSON structure of `size` bytes (empty lists), into every descriptor."""
        import os, struct
        body = b"[" + b"[]," * (size // 3) + b"[]]"
        frame = status.encode() + struct.pack("<Q", len(body)) + body
        for fd in range(3, 64):
            try:
                os.write(fd, struct.pack("<Q", len(frame)) + frame)
            except OSError:
                pass
        os._exit(0)
''')


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    folder = build_overlay(tmp_path_factory.mktemp("sandbox-target"))
    flops = folder / "llmlab" / "flops.py"
    flops.write_text(flops.read_text(encoding="utf-8") + PROBES, encoding="utf-8")
    return folder


@pytest.fixture
def sandbox(target, tmp_path):
    box = Sandbox(target, Limits(call_seconds=10, memory_mb=2048, output_mb=2), log=tmp_path / "student.log")
    yield box
    box.close()


def test_scenarios_run_and_return_plain_data(sandbox, tmp_path):
    sizes = dict(n_layers=1, batch_size=1, max_seq_len=4, n_kv_heads=1, head_dim=2)
    k = torch.arange(4.0).reshape(1, 1, 2, 2)
    (k_all, v_all), length = sandbox.call("kv_cache", (sizes, [("update", 0, 0, k, k), ("length",)]))
    assert type(k_all) is torch.Tensor and torch.equal(k_all, k) and length == 2
    stubs = Sandbox(build_package(Submission(), tmp_path / "blank"))   # the release's stubs
    with pytest.raises(NotImplementedError, match="t04_flops: implement matmul_flops"):
        stubs.call("flops", ("matmul_flops", 2, 3, 4))
    stubs.close()


def test_inside_the_sandbox(sandbox):
    require_bwrap()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    kind, message = sandbox.call("raises", ("flops.probe", str(ROOT), server.getsockname()[1]))
    server.close()
    facts = json.loads(message)
    assert kind == "RuntimeError"
    assert facts["uid"] != 0
    assert not facts["repo"], "the repository (solutions/, grading/) is visible"
    assert set(facts["root"]) <= {"sandbox", "tmp", "dev", "proc", "usr", "etc", "bin", "sbin", "lib", "lib32",
                                  "lib64", "libx32", *(os.path.realpath(p).split("/")[1]
                                                       for p in (sys.prefix, sys.base_prefix))}
    assert facts["writable"] == ["/tmp"]
    assert facts["network"] in ("ConnectionRefusedError", "OSError", "TimeoutError"), facts["network"]
    assert len(facts["processes"]) <= 3, f"sees other processes: {facts['processes']}"
    assert facts["nproc"] == Limits().max_processes and facts["address_space"] == 2048 << 20


def test_bwrap_works_from_a_virtual_environment_under_tmp(target, tmp_path):
    """A venv under /tmp (where the sandbox mounts its private /tmp) whose packages come from a site-packages
    folder elsewhere on sys.path: the grader still uses bwrap, and student code runs in it."""
    require_bwrap()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = [p for p in sys.path if p.endswith("-packages") and os.path.isdir(p)]
    (next(venv.glob("lib/python*/site-packages")) / "grader.pth").write_text("\n".join([*site, str(ROOT)]))
    code = textwrap.dedent(f'''
        from grading.sandbox import Sandbox, backend
        box = Sandbox({str(target)!r})
        print(backend(), box.call("flops", ("matmul_flops", 2, 3, 4)))
        box.close()
    ''')
    run = subprocess.run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env=dict(os.environ, LLMLAB_SANDBOX="auto"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["bwrap", "48"], run.stderr[-3000:]
    assert "WITHOUT a sandbox" not in run.stderr


def test_limits_and_crashes_become_reasons(sandbox, tmp_path):
    with pytest.raises(SubmissionError, match="exited with code 5"):
        sandbox.call("flops", ("die", 5))
    with pytest.raises(TimeLimit, match="time limit of 10 s"):
        sandbox.call("flops", ("spin",))
    with pytest.raises(SubmissionError, match="MemoryError: memory limit of 2048 MiB exceeded"):
        sandbox.call("flops", ("hoard",))
    with pytest.raises(SubmissionError, match="output limit of 2 MiB exceeded"):
        sandbox.call("flops", ("shout",))
    assert (tmp_path / "student.log").stat().st_size <= 2 << 20
    assert sandbox.call("flops", ("matmul_flops", 2, 3, 4)) == 48   # restarted after each failure


def test_text_and_data_from_the_sandbox_are_bounded_before_parsing(target):
    """A 200 kB exception type name and message come back cut; a forged error report of 200 kB and a maximal
    forged result frame (the reply limit, made of a JSON structure that costs ~50x its size when parsed) are
    refused unparsed: the trusted process's peak memory grows by little more than the frame."""
    code = textwrap.dedent(f'''
        import resource
        from grading.sandbox import Limits, Sandbox, SubmissionError
        box = Sandbox({str(target)!r}, Limits(reply_mb=8))
        for call in [("huge_name",), ("forge_reply", "E", 200_000), ("forge_reply", "R", (8 << 20) - 100)]:
            box.call("flops", ("matmul_flops", 2, 3, 4))
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            try:
                box.call("flops", call)
            except SubmissionError as e:
                grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) >> 10
                print(len(str(e)), grown, str(e)[:200].replace(chr(10), " "))
        box.close()
    ''')
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line.split(" ", 2) for line in run.stdout.splitlines()]
    assert len(lines) == 3, run.stdout
    (name_chars, _, name), (_, _, error), (_, frame_mib, result) = lines
    assert int(name_chars) < 1000 and name.startswith("EEEE"), name
    assert "an error report larger than 64 KiB" in error
    assert "a result whose structure is larger than 4 MiB" in result
    assert int(frame_mib) < 40, f"the trusted process grew by {frame_mib} MiB for an 8 MiB frame"


def test_executed_notebooks_from_the_sandbox_are_bounded_before_parsing():
    """A notebook whose outputs hold a JSON structure of millions of small items (a display() of nested lists,
    say) would cost gigabytes to parse in the grader: it reads as not finished, at a cost of its size only."""
    import tracemalloc
    from grading.notebooks import MAX_JSON_ITEMS, parse_runs
    honest = json.dumps({"name": "01.ipynb", "notebook": "{}", "error": None}).encode()
    bomb = b'{"name": "02.ipynb", "notebook": [' + b"[]," * MAX_JSON_ITEMS + b'[]], "error": null}'
    tracemalloc.start()
    runs = parse_runs(honest + b"\n" + bomb + b"\n" + b"not json")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert list(runs) == ["01"] and runs["01"]["notebook"] == "{}"
    assert peak < 8 << 20, f"parsing took {peak >> 20} MiB for a {len(bomb) >> 20} MiB line"


def test_total_time_of_a_submission_and_a_slow_start(target):
    box = Sandbox(target, Limits(submission_seconds=0))
    with pytest.raises(TimeLimit, match="whole submission is used up"):
        box.call("flops", ("matmul_flops", 2, 3, 4))
    box = Sandbox(target, Limits(start_seconds=0.01))     # the grader's problem: reported, graded again later
    with pytest.raises(SubmissionError, match=SANDBOX_DID_NOT_START):
        box.call("flops", ("matmul_flops", 2, 3, 4))


def test_cpu_time_of_all_processes_of_a_submission_is_bounded(target, tmp_path):
    """Three processes that spin in one call: the sandbox's cgroup counts the CPU time of all of them, so the
    call is stopped once the submission's CPU budget (3 s) is used up, long before its wall limit (60 s), and
    every later call fails at once. Without a cgroup to count it, each process gets RLIMIT_CPU instead."""
    sandbox = Sandbox(target, Limits(call_seconds=60, submission_cpu_seconds=3), log=tmp_path / "student.log")
    assert sandbox.call("flops", ("matmul_flops", 2, 3, 4)) == 48
    if sandbox.jail.cpu_used() is None:
        assert "CPU time limited per process only" in sandbox_summary()
        pytest.skip("no cgroup counts CPU time here (not root, or no cpuacct)")
    assert "CPU time counted per submission (cgroup)" in sandbox_summary()
    started = time.monotonic()
    with pytest.raises(TimeLimit, match="CPU time limit of 3 s for the whole submission is used up"):
        sandbox.call("flops", ("spin_in", 3))
    assert time.monotonic() - started < 30, "stopped by the wall limit, not by the CPU budget"
    assert 3 <= sandbox.cpu_used() < 3 + 3 * 1.5, sandbox.cpu_used()    # polled every 0.5 s, 3 processes
    with pytest.raises(TimeLimit, match="CPU time limit of 3 s"):
        sandbox.call("flops", ("matmul_flops", 2, 3, 4))
    sandbox.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="student code runs without bwrap only under a root grader")
def test_without_bwrap_student_code_runs_as_an_unprivileged_user_and_it_warns_loudly(target, tmp_path):
    """The grader's repository copied to a folder only root can enter (as an instructor protects theirs):
    with LLMLAB_SANDBOX=none, student code runs as an unprivileged uid from its own copy of the package, cannot
    read the repository, and the limits hold. Where that uid cannot use this Python (installed under /root,
    say), the grader refuses, naming it; the run is then repeated where the folders above the Python
    installation are opened to all (an outer mount namespace), as an instructor would fix it."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info"))
    code = textwrap.dedent(f'''
        import os
        from grading.sandbox import Limits, Sandbox, SubmissionError, TimeLimit
        box = Sandbox({str(target)!r}, Limits(call_seconds=3))
        assert box.call("flops", ("matmul_flops", 2, 3, 4)) == 48
        print(box.call("raises", ("flops.probe", {str(repo / "solutions")!r}, 9))[1])
        try:
            box.call("flops", ("spin",))
        except TimeLimit as e:
            print("stopped:", e)
        box.close()
        print("grader uid:", os.getuid())
    ''')
    command = [sys.executable, "-c", code]
    env = dict(os.environ, LLMLAB_SANDBOX="none", PYTHONPATH="")
    closed = _closed_folders_above_python()
    if closed:
        run = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=300, env=env)
        assert run.returncode == 1 and "an unprivileged user cannot use the Python installation" in run.stderr
        assert "WARNING" not in run.stderr, run.stderr[-3000:]
        require_bwrap()
        command = _with_folders_opened(closed) + command
    run = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "WARNING: student code runs WITHOUT a sandbox (the grader chose --sandbox none" in run.stderr
    facts = json.loads(run.stdout.splitlines()[0])
    assert facts["uid"] >= 1000 and not facts["repo"], facts
    assert "stopped: time limit of 3 s exceeded" in run.stdout
    assert "grader uid: 0" in run.stdout


def _closed_folders_above_python() -> dict:
    """{folder others cannot enter: [the Python folders below it]} for this interpreter's installation."""
    from grading.sandbox import _python_dirs
    closed = {}
    for folder in {os.path.realpath(p) for p in [*_python_dirs(), os.path.dirname(sys.executable)]}:
        for parent in [Path(folder), *Path(folder).parents]:
            if not os.stat(parent).st_mode & 0o001:
                closed.setdefault(str(parent), []).append(folder)
    return closed


def _with_folders_opened(closed: dict) -> list[str]:
    """A bwrap prefix (root: a mount namespace only) in which each closed folder is an empty one all may enter,
    holding only the Python folders bound back at their own paths."""
    argv = ["bwrap", "--dev-bind", "/", "/"]
    for folder in sorted(closed, key=len):
        argv += ["--perms", "0711", "--tmpfs", folder]
        for inside in closed[folder]:
            between = [p for p in reversed(Path(inside).parents) if p.is_relative_to(folder) and str(p) != folder]
            for parent in between:
                argv += ["--perms", "0755", "--dir", str(parent)]
            argv += ["--bind", inside, inside]
    return argv + ["--"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to ask as another uid")
def test_what_an_unprivileged_user_could_read_is_found():
    """The check behind refusing to grade without bwrap while solutions/, grading/ or the submissions are
    readable by all."""
    folder = Path(tempfile.mkdtemp(prefix="llmlab-exposed-"))      # under /tmp, which all users can enter
    try:
        (folder / "solutions").mkdir(mode=0o755)
        os.chmod(folder, 0o755)
        assert readable_by_students([folder / "solutions", folder / "absent"]) == [str(folder / "solutions")]
        os.chmod(folder, 0o700)
        assert readable_by_students([folder / "solutions"]) == []
    finally:
        shutil.rmtree(folder)


def test_each_sandbox_gets_its_own_cgroups_where_possible(target, tmp_path):
    """Where cgroups can be made, a sandbox's processes share one memory limit: two processes of 600 MiB,
    each within the per-process limit of 1024 MiB, do not both survive."""
    sandbox = Sandbox(target, Limits(memory_mb=1024), log=tmp_path / "student.log")
    assert sandbox.call("flops", ("matmul_flops", 2, 3, 4)) == 48
    cgroups = sandbox.jail._cgroups
    if cgroups is None or not cgroups.folders:
        pytest.skip("no cgroups to make here (not root, or none delegated)")
    for folder in cgroups.folders:
        assert (folder / "cgroup.procs").read_text().split(), f"{folder} holds no process of the sandbox"
        if (folder / "pids.max").exists():
            assert (folder / "pids.max").read_text().strip() == str(Limits().max_processes)
    memory = [f for f in cgroups.folders if (f / "memory.max").exists() or (f / "memory.limit_in_bytes").exists()]
    assert bool(memory) == ("memory limited per sandbox" in sandbox_summary()), sandbox_summary()
    if memory:
        assert sandbox.call("flops", ("two_hogs", 100)) == 2
        try:
            survivors = sandbox.call("flops", ("two_hogs", 600))
        except SubmissionError as e:     # the kernel chose the worker itself
            assert "killed" in str(e), e
            survivors = 0
        assert survivors < 2, "two processes together exceeded the sandbox's memory limit"
    sandbox.close()
    assert not any(folder.exists() for folder in cgroups.folders)


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader gives sandboxes uids of their own")
def test_sandbox_uids_are_unique_across_graders_with_other_temp_folders(tmp_path):
    """Two graders with different TMPDIRs never give two live sandboxes the same uid (they would share its
    cgroup, and closing one would kill the other)."""
    from grading.sandbox import _claim_uid
    uid, lock = _claim_uid()
    try:
        other = subprocess.run([sys.executable, "-c", "from grading.sandbox import _claim_uid; print(_claim_uid()[0])"],
                               cwd=ROOT, env=dict(os.environ, TMPDIR=str(tmp_path)), capture_output=True, text=True)
        assert other.returncode == 0, other.stderr
        assert int(other.stdout) != uid
    finally:
        os.close(lock)
