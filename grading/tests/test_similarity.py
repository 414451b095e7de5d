"""The similarity report (copydetect): a copy with every variable renamed is reported; two independent correct
solutions are not, nor are untouched stubs (the shared boilerplate)."""
import ast
import csv
import io
import tokenize

from grading.similarity import similarity_report
from grading.submission import find_submissions
from grading.tests import builders as b
from grading.tests.references import definitions, replace_definitions
from llmlab.tasks import EXERCISE_MODULES

MODULE, ALTERNATIVE = "flops", b.ROOT / "grading" / "alternatives" / "t04_flops" / "closed_forms.py"


def renamed(source: str) -> str:
    """`source` with every argument and assigned variable renamed, as a student hiding a copy would."""
    tree = ast.parse(source)
    names = {a.arg for node in ast.walk(tree) if isinstance(node, ast.arguments) for a in node.args + node.kwonlyargs}
    names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    tokens = [(t.type, f"my_{t.string}_value" if t.type == tokenize.NAME and t.string in names else t.string)
              for t in tokenize.generate_tokens(io.StringIO(source).readline)]
    return tokenize.untokenize(tokens)


def student(folder, modules: dict):
    """A submission folder: the stubs, with `modules` ({module: source}) laid over them."""
    (folder / "llmlab").mkdir(parents=True)
    for module in EXERCISE_MODULES:
        (folder / "llmlab" / f"{module}.py").write_text(modules.get(module, b.stub(module)), encoding="utf-8")
    return folder


def test_a_renamed_copy_is_reported_and_independent_solutions_are_not(tmp_path):
    subs, reference = tmp_path / "submissions", b.reference_modules()[MODULE]
    copy = renamed(reference)
    assert copy != reference and "my_b_value" in copy
    student(subs / "original", {MODULE: reference})
    b.zipped(student(subs / "copier", {MODULE: copy}), subs / "copier.zip")     # zips are compared too
    independent = student(subs / "independent", {}) / "llmlab" / f"{MODULE}.py"
    alternative = definitions(ALTERNATIVE.read_text(encoding="utf-8"))
    replace_definitions(independent, {name: alternative[name][2] for name in definitions(b.stub(MODULE))})
    student(subs / "blank", {})
    entries, _ = find_submissions(subs)

    rows = similarity_report(entries, tmp_path / "logs")
    assert [(r["module"], {r["student_a"], r["student_b"]}) for r in rows] == [(MODULE, {"original", "copier"})]
    assert min(rows[0]["share_of_a"], rows[0]["share_of_b"]) > 0.5, rows
    with open(tmp_path / "logs" / "similarity.csv", encoding="utf-8") as f:
        assert [(r["student_a"], r["student_b"]) for r in csv.DictReader(f)] == [(rows[0]["student_a"],
                                                                                  rows[0]["student_b"])]
    report = (tmp_path / "logs" / "similarity.html").read_text(encoding="utf-8")
    assert "copier/flops.py" in report and "original/flops.py" in report and "highlight-red" in report
