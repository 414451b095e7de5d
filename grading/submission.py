"""Reading submissions, never trusting them: a folder `<student_id>/` (the student's copy of the release) or
a `<student_id>.zip` of it, or nbgrader's collect layout `submitted/<student_id>/<assignment>/` with nbgrader's
timestamp.txt (the submission time, kept in the results).

Only what is graded is read: the exercise modules llmlab/<module>.py (llmlab.tasks.EXERCISE_MODULES) and the
notebooks. Zips are checked before anything is unpacked (no absolute or `..` paths, no links, bounded size and
file count); links in folders are refused. The package that runs in the sandbox is the grader's own copy of
the release llmlab/ with only the student's exercise modules laid over it: a submission cannot change the model,
the task table or anything else.
"""
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grading.notebooks import ASSIGNMENT
from grading.sandbox import ROOT
from llmlab.tasks import EXERCISE_MODULES

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_FILES = 5000                 # in one zip
MAX_UNPACKED = 512 << 20         # bytes, all files of one zip
MAX_MODULE = 1 << 20             # bytes, one exercise module
MAX_NOTEBOOK = 64 << 20          # bytes, one notebook (outputs included)
TIMESTAMP = "timestamp.txt"      # nbgrader's, in a collected submission: "2026-11-30 17:05:12.123456 UTC"
# What the grader writes into OUT_DIR besides one folder per student (compared without case and ".zip")
RESERVED = {"grades.csv", "logs", "nbgrader"}


class SubmissionProblem(Exception):
    """The submission as a whole cannot be graded; the message tells the student why."""


@dataclass
class Submission:
    modules: dict = field(default_factory=dict)     # exercise module -> source text (absent: missing/unreadable)
    notebooks: dict = field(default_factory=dict)   # notebook file name -> bytes
    notes: list = field(default_factory=list)       # remarks for the student
    submitted_at: str | None = None                 # ISO 8601 UTC, from nbgrader's timestamp.txt


def find_submissions(folder) -> tuple[list[tuple[str, Path]], list[str]]:
    """([(student_id, path)], warnings) for the entries of a submissions folder, sorted by student ID. Every
    entry that is not graded gets a warning. In nbgrader's collect layout (`submitted/<student_id>/<assignment>/`)
    a student's submission is their <ASSIGNMENT>/ folder; one who has only other assignments is skipped."""
    found, warnings = {}, []
    for entry in sorted(Path(folder).iterdir()):
        student = entry.stem if entry.suffix.lower() == ".zip" else entry.name
        if entry.name.startswith(".") or entry.name == "__MACOSX":
            warnings.append(f"{entry.name}: ignored (a hidden or system entry)")
        elif entry.is_file() and entry.suffix.lower() != ".zip":
            warnings.append(f"{entry.name}: ignored (neither a folder nor a .zip)")
        elif not STUDENT_ID.match(student):
            warnings.append(f"{entry.name}: ignored ({student!r} is not a valid student ID: letters, digits, _ . -)")
        elif student.lower().removesuffix(".zip") in RESERVED:
            warnings.append(f"{entry.name}: ignored ({student!r} is the name of one of the grader's own outputs)")
        elif student.lower() in found:
            warnings.append(f"{entry.name}: ignored (a second submission of {student}; "
                            f"{found[student.lower()][0]} is graded)")
        elif not _is_folder(entry / ASSIGNMENT) and any(entry.glob(f"*/{TIMESTAMP}")):
            warnings.append(f"{entry.name}: ignored (nbgrader's collect layout, but no {ASSIGNMENT}/ folder: "
                            f"nothing collected for this assignment)")
        else:                                            # IDs that differ in case only would share a folder
            found[student.lower()] = (student, entry / ASSIGNMENT if _is_folder(entry / ASSIGNMENT) else entry)
    return sorted(found.values()), warnings


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def read_submission(path, scratch) -> Submission:
    """Read a submission folder or zip (unpacked into `scratch`). Raises SubmissionProblem."""
    path = Path(path)
    if path.is_symlink():
        raise SubmissionProblem(f"{path.name} is a symbolic link")
    if path.is_file():
        root = Path(scratch) / "unpacked"
        unpack(path, root)
    elif path.is_dir():
        root = path
    else:
        raise SubmissionProblem(f"{path.name} is neither a folder nor a zip file")
    base = _release_root(root)
    submission = Submission()
    if (root / TIMESTAMP).exists():
        submission.submitted_at, problem = _submission_time(root / TIMESTAMP)
        if problem:
            submission.notes.append(f"{TIMESTAMP} {problem}: the submission time is not known")
    for module in EXERCISE_MODULES:
        text, problem = _read_text(base / "llmlab" / f"{module}.py", MAX_MODULE)
        if problem:
            submission.notes.append(f"llmlab/{module}.py {problem}: its tasks are graded as not implemented")
        else:
            submission.modules[module] = text
    for folder in (base / "notebooks", base):
        if folder.is_dir() and not folder.is_symlink():
            for notebook in sorted(folder.glob("*.ipynb")):
                if notebook.name not in submission.notebooks and not notebook.is_symlink() and notebook.is_file():
                    if notebook.stat().st_size > MAX_NOTEBOOK:
                        submission.notes.append(f"{notebook.name} is larger than {MAX_NOTEBOOK >> 20} MiB: ignored")
                    else:
                        submission.notebooks[notebook.name] = notebook.read_bytes()
    return submission


def _release_root(root: Path) -> Path:
    """The shallowest folder (depth <= 3, links not followed) that holds llmlab/."""
    level = [root]
    for _ in range(4):
        for folder in level:
            candidate = folder / "llmlab"
            if candidate.is_dir() and not candidate.is_symlink():
                return folder
        level = [sub for folder in level for sub in sorted(folder.iterdir())
                 if sub.is_dir() and not sub.is_symlink() and sub.name not in ("__MACOSX",)]
    raise SubmissionProblem("no llmlab/ folder found in the submission (submit the whole release folder, "
                            "see README.md)")


def _submission_time(path: Path) -> tuple[str | None, str | None]:
    """(the ISO 8601 UTC time of nbgrader's timestamp.txt, None) or (None, the problem)."""
    from nbgrader.utils import parse_utc
    text, problem = _read_text(path, 1 << 10)
    if problem:
        return None, problem
    try:
        return parse_utc(text.strip()).isoformat() + "+00:00", None     # parse_utc: naive, in UTC
    except (ValueError, OverflowError):
        return None, f"is not a time as nbgrader writes it ({text.strip()[:60]!r})"


def _read_text(path: Path, limit: int) -> tuple[str | None, str | None]:
    """(text, None) or (None, the problem)."""
    if path.is_symlink():
        return None, "is a symbolic link"
    if not path.is_file():
        return None, "is missing"
    if path.stat().st_size > limit:
        return None, f"is larger than {limit >> 10} KiB"
    try:
        return path.read_text(encoding="utf-8"), None
    except UnicodeDecodeError:
        return None, "is not UTF-8 text"


def unpack(zip_path: Path, dest: Path):
    """Unpack a zip after checking every member; raises SubmissionProblem (nothing is written outside dest)."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise SubmissionProblem(f"{zip_path.name} is not a valid zip file ({e})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_FILES:
            raise SubmissionProblem(f"{zip_path.name} holds {len(members)} files, more than {MAX_FILES}")
        if sum(m.file_size for m in members) > MAX_UNPACKED:
            raise SubmissionProblem(f"{zip_path.name} unpacks to more than {MAX_UNPACKED >> 20} MiB")
        for member in members:
            name = member.filename.replace("\\", "/")
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                raise SubmissionProblem(f"{zip_path.name} holds an unsafe path {name!r}: refused")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise SubmissionProblem(f"{zip_path.name} holds a symbolic link {name!r}: refused")
        dest.mkdir(parents=True, exist_ok=True)
        written = 0
        for member in members:
            name = member.filename.replace("\\", "/")
            if name.startswith("__MACOSX/") or PurePosixPath(name).name.startswith("._"):
                continue
            target = dest / name
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(member) as source, open(target, "wb") as out:
                    while chunk := source.read(1 << 20):
                        written += len(chunk)
                        if written > MAX_UNPACKED:
                            raise SubmissionProblem(f"{zip_path.name} unpacks to more than {MAX_UNPACKED >> 20} MiB")
                        out.write(chunk)
            except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError) as e:
                raise SubmissionProblem(f"{zip_path.name} is damaged or encrypted ({type(e).__name__}: {e})") from None


def build_package(submission: Submission, dest) -> Path:
    """dest/llmlab: the grader's release llmlab/ with the submission's exercise modules; returns dest."""
    dest = Path(dest)
    shutil.copytree(ROOT / "llmlab", dest / "llmlab", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module, text in submission.modules.items():
        (dest / "llmlab" / f"{module}.py").write_text(text, encoding="utf-8")
    return dest
