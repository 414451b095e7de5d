"""The reference package: llmlab/ with solutions/llmlab/*.py laid over it, importable as `llmlab`."""
import shutil
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
