"""The instructor's similarity report: pairs of submissions whose exercise code is suspiciously similar.

copydetect (https://github.com/blingenf/copydetect) compares winnowed fingerprints of each module's token
stream, with variable, function and object names and strings normalised, so renaming variables does not hide
a copy. The stubs every student received are its boilerplate: only code beyond them counts. Each exercise
module is compared with the same module of every other submission; a pair is reported when copydetect's
similarity (the share of one file's code found in the other) exceeds its default display threshold.
Written to OUT_DIR/logs/ (instructor only): similarity.csv and similarity.html (copydetect's report, the
shared code highlighted). A reported pair is a lead to read both submissions, not a verdict.
"""
import csv
import tempfile
from pathlib import Path

from grading.sandbox import ROOT
from grading.submission import SubmissionProblem, read_submission
from llmlab.tasks import EXERCISE_MODULES

COLUMNS = ["module", "student_a", "student_b", "share_of_a", "share_of_b", "shared_tokens"]


def similarity_report(entries, logs) -> list[dict]:
    """Compare the exercise modules of the submissions `entries` ([(student_id, path)]); write
    logs/similarity.csv (most similar first) and logs/similarity.html; return the csv's rows."""
    from copydetect import CopyDetector
    from copydetect.defaults import DISPLAY_THRESHOLD
    logs = Path(logs)
    logs.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="llmlab-similarity-") as tmp:
        code, stubs = Path(tmp) / "code", Path(tmp) / "stubs"
        _write_modules(stubs, {m: (ROOT / "llmlab" / f"{m}.py").read_text(encoding="utf-8") for m in EXERCISE_MODULES})
        for student, path in entries:
            try:
                submission = read_submission(path, Path(tmp) / "unpacked" / student)
            except SubmissionProblem:       # nothing to compare; its feedback says why
                continue
            _write_modules(code / student, submission.modules)
        if list(code.rglob("*.py")):
            detector = CopyDetector(test_dirs=[str(code)], boilerplate_dirs=[str(stubs)], extensions=["py"],
                                    same_name_only=True, ignore_leaf=True, display_t=DISPLAY_THRESHOLD,
                                    autoopen=False, silent=True, out_file=str(logs / "similarity.html"))
            detector.run()
            rows = [_row(*found) for found in detector.get_copied_code_list()]
            detector.generate_html_report()
    with open(logs / "similarity.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _write_modules(folder: Path, modules: dict):
    folder.mkdir(parents=True)
    for module, text in modules.items():
        (folder / f"{module}.py").write_text(text, encoding="utf-8")


def _row(share_a, share_b, file_a, file_b, _highlighted_a, _highlighted_b, tokens) -> dict:
    """One pair, as copydetect found it: the shares of each file's code found in the other."""
    a, b = Path(file_a), Path(file_b)
    return {"module": a.stem, "student_a": a.parent.name, "student_b": b.parent.name,
            "share_of_a": round(float(share_a), 2), "share_of_b": round(float(share_b), 2),
            "shared_tokens": int(tokens)}
