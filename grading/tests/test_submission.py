"""Reading submissions: folders and zips are checked before anything is unpacked or run; nbgrader's collect
layout is read as it is, with its submission times."""
import csv
import datetime
import json
import os
import stat
import zipfile

import pytest

from grading import submission as submission_module
from grading.autograde import autograde
from grading.notebooks import ASSIGNMENT
from grading.release import build_release
from grading.sandbox import ROOT
from grading.submission import (Submission, SubmissionProblem, build_package, find_submissions, read_submission,
                                unpack)
from grading.tests import builders as b
from llmlab.tasks import BY_ID, EXERCISE_MODULES

MODULE = EXERCISE_MODULES[0]
WHEN = datetime.datetime(2026, 11, 30, 17, 5, 12, 123456, tzinfo=datetime.timezone.utc)


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            if isinstance(data, zipfile.ZipInfo):
                archive.writestr(data, "target")
            else:
                archive.writestr(name, data)
    return path


def test_zip_with_a_top_folder_and_notebooks(tmp_path):
    path = make_zip(tmp_path / "s1.zip", {f"release/llmlab/{MODULE}.py": "x = 1\n",
                                          "release/notebooks/01_decoding_strategies.ipynb": "{}",
                                          "__MACOSX/release/._junk": "junk"})
    submission = read_submission(path, tmp_path / "scratch")
    assert submission.modules == {MODULE: "x = 1\n"}
    assert submission.notebooks == {"01_decoding_strategies.ipynb": b"{}"}
    assert sum("is missing" in note for note in submission.notes) == len(EXERCISE_MODULES) - 1


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil.py", "a/../../evil.py", "C:/evil.py", "a\\..\\..\\evil.py"])
def test_unsafe_paths_are_refused_before_anything_is_written(tmp_path, name):
    path = make_zip(tmp_path / "s.zip", {"llmlab/kv_cache.py": "x", name: "evil"})
    with pytest.raises(SubmissionProblem, match="unsafe path"):
        unpack(path, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.py").exists()


def test_links_bombs_and_garbage_are_refused(tmp_path, monkeypatch):
    link = zipfile.ZipInfo("llmlab/kv_cache.py")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(SubmissionProblem, match="symbolic link"):
        unpack(make_zip(tmp_path / "link.zip", {"link": link}), tmp_path / "a")
    monkeypatch.setattr(submission_module, "MAX_UNPACKED", 1 << 20)
    with pytest.raises(SubmissionProblem, match="unpacks to more than"):
        unpack(make_zip(tmp_path / "bomb.zip", {"zeros": b"\0" * (2 << 20)}), tmp_path / "b")
    (tmp_path / "garbage.zip").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(SubmissionProblem, match="not a valid zip"):
        read_submission(tmp_path / "garbage.zip", tmp_path / "c")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SubmissionProblem, match="no llmlab/ folder"):
        read_submission(tmp_path / "empty", tmp_path / "d")


def test_links_in_folders_are_not_followed(tmp_path):
    (tmp_path / "s" / "llmlab").mkdir(parents=True)
    os.symlink(ROOT / "solutions" / "llmlab" / f"{MODULE}.py", tmp_path / "s" / "llmlab" / f"{MODULE}.py")
    submission = read_submission(tmp_path / "s", tmp_path / "scratch")
    assert MODULE not in submission.modules
    assert f"llmlab/{MODULE}.py is a symbolic link: its tasks are graded as not implemented" in submission.notes


def test_student_ids_and_entries(tmp_path):
    for name in ("2023001", "2023002.zip", "2023002", "bad id", ".hidden", "notes.txt"):
        (tmp_path / name).mkdir() if "." not in name or name == ".hidden" else (tmp_path / name).write_text("x")
    found, warnings = find_submissions(tmp_path)
    assert [s for s, _ in found] == ["2023001", "2023002"]
    assert found[1][1].name == "2023002"            # the folder sorts first; the zip is a second submission
    assert len(warnings) == 4 and ".hidden: ignored (a hidden or system entry)" in warnings


def test_ids_that_would_collide_with_the_graders_outputs_are_refused(tmp_path):
    entries = ["grades.csv.zip", "GRADES.CSV", "logs", "Logs.zip", "nbgrader.zip", "NbGrader", "__MACOSX",
               ".hidden.zip", "Alice", "alice.zip", "logs.zip.zip"]
    for name in entries:
        (tmp_path / name).mkdir()
    found, warnings = find_submissions(tmp_path)
    assert [s for s, _ in found] == ["Alice"]
    assert len(warnings) == len(entries) - 1, warnings
    assert "grades.csv.zip: ignored ('grades.csv' is the name of one of the grader's own outputs)" in warnings
    assert "alice.zip: ignored (a second submission of alice; Alice is graded)" in warnings


def test_package_is_the_graders_release_with_the_students_exercise_modules(tmp_path):
    package = build_package(Submission(modules={MODULE: "# mine\n"}), tmp_path / "p")
    assert (package / "llmlab" / f"{MODULE}.py").read_text() == "# mine\n"
    assert (package / "llmlab" / "tasks.py").read_bytes() == (ROOT / "llmlab" / "tasks.py").read_bytes()
    other = [m for m in EXERCISE_MODULES if m != MODULE][0]
    assert (package / "llmlab" / f"{other}.py").read_bytes() == (ROOT / "llmlab" / f"{other}.py").read_bytes()


# ---- nbgrader's collect layout: submitted/<student_id>/<assignment>/ with timestamp.txt ------------------------

def nbgrader_timestamp(when: datetime.datetime) -> str:
    """timestamp.txt as nbgrader's exchange writes it (its default format and time zone, UTC)."""
    from nbgrader.exchange.abc.exchange import Exchange
    return when.strftime(Exchange.class_traits()["timestamp_format"].default_value)


def test_collect_layout_is_read_with_its_submission_time(tmp_path):
    submitted = tmp_path / "submitted"
    for student, files in {"alice": {"timestamp.txt": nbgrader_timestamp(WHEN)},
                           "bob": {"timestamp.txt": "yesterday, I think"}}.items():
        (submitted / student / ASSIGNMENT / "llmlab").mkdir(parents=True)
        (submitted / student / ASSIGNMENT / "llmlab" / f"{MODULE}.py").write_text("x = 1\n")
        for name, text in files.items():
            (submitted / student / ASSIGNMENT / name).write_text(text)
    (submitted / "carol" / "another_assignment").mkdir(parents=True)          # nothing for this assignment yet
    (submitted / "carol" / "another_assignment" / "timestamp.txt").write_text(nbgrader_timestamp(WHEN))
    (submitted / "dave" / "llmlab").mkdir(parents=True)                       # the plain layout, alongside
    found, warnings = find_submissions(submitted)
    assert found == [("alice", submitted / "alice" / ASSIGNMENT), ("bob", submitted / "bob" / ASSIGNMENT),
                     ("dave", submitted / "dave")]
    assert warnings == [f"carol: ignored (nbgrader's collect layout, but no {ASSIGNMENT}/ folder: nothing "
                        f"collected for this assignment)"]
    alice = read_submission(found[0][1], tmp_path / "scratch")
    assert alice.modules == {MODULE: "x = 1\n"} and alice.submitted_at == "2026-11-30T17:05:12.123456+00:00"
    bob = read_submission(found[1][1], tmp_path / "scratch")
    assert bob.submitted_at is None
    assert "timestamp.txt is not a time as nbgrader writes it ('yesterday, I think'): the submission time is not " \
           "known" in bob.notes


def test_collect_layout_is_graded_and_the_time_kept_in_every_output(tmp_path):
    """`autograde course/submitted` as nbgrader collect left it: grades.csv, results.json, feedback.html and
    nbgrader's gradebook hold each submission's time."""
    task = "t04_flops"
    release, submitted, out = build_release(tmp_path / "release"), tmp_path / "course" / "submitted", tmp_path / "out"
    b.submission(release, submitted / "alice" / ASSIGNMENT, b.reference_modules())
    b.submission(release, submitted / "bob" / ASSIGNMENT)
    for student, when in (("alice", WHEN), ("bob", WHEN + datetime.timedelta(days=1))):
        (submitted / student / ASSIGNMENT / "timestamp.txt").write_text(nbgrader_timestamp(when))
    rows = autograde(submitted, out, tasks=[task], notebooks=None, progress=False)
    assert [(r["student_id"], r["total"]) for r in rows] == [("alice", BY_ID[task].points), ("bob", 0)]
    expected = {"alice": "2026-11-30T17:05:12.123456+00:00", "bob": "2026-12-01T17:05:12.123456+00:00"}
    with open(out / "grades.csv", encoding="utf-8") as f:
        assert {r["student_id"]: r["submitted_at"] for r in csv.DictReader(f)} == expected
    for student, when in expected.items():
        data = json.loads((out / student / "results.json").read_text(encoding="utf-8"))
        assert data["extra_data"]["submitted_at"] == when
        assert f"提交时间 (submitted at): {when}" in (out / student / "feedback.html").read_text(encoding="utf-8")
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{out / 'nbgrader' / 'gradebook.db'}") as gradebook:
        times = {s: gradebook.find_submission(ASSIGNMENT, s).timestamp for s in expected}
    assert times == {"alice": WHEN.replace(tzinfo=None), "bob": (WHEN + datetime.timedelta(days=1)).replace(tzinfo=None)}
