"""The reference package: llmlab/ with solutions/llmlab/*.py laid over it, importable as `llmlab`."""
import atexit
import os
import shutil
import signal
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_overlay(dest, package=ROOT / "llmlab", overlay=ROOT / "solutions" / "llmlab") -> Path:
    """Copy `package` to dest/llmlab and lay the .py files of `overlay` over it; return dest for sys.path.

    The shipped checkpoints are linked, not copied."""
    target = Path(dest) / "llmlab"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "checkpoints"))
    if (package / "checkpoints").exists():
        (target / "checkpoints").symlink_to((package / "checkpoints").resolve(), target_is_directory=True)
    for source in sorted(Path(overlay).glob("*.py")):
        shutil.copy2(source, target / source.name)
    return Path(dest)


def temporary_overlay() -> Path:
    """A reference overlay in a fresh temporary folder, removed when this process exits, also on Ctrl-C and
    SIGTERM (which then interrupts like Ctrl-C). It holds the solutions: no copy may stay behind. Under the
    autograder it lies in the submission's scratch folder ($LLMLAB_SCRATCH), which the grader removes even
    after killing this process."""
    folder = tempfile.mkdtemp(prefix="llmlab-reference-", dir=os.environ.get("LLMLAB_SCRATCH") or None)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    return build_overlay(folder)
