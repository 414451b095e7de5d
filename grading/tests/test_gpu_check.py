"""The GPU check's driver (grading/gpu_check.py) on the CPU: its plan, its argument errors, the grade check, its
first step for real, and its wheel list against what the steps import. The steps themselves are the test
suites, nbval, the autograder and the benchmark, each tested on its own."""
import json
import subprocess
import sys
import textwrap

import pytest

from grading import gpu_check


def run(*args):
    return subprocess.run([sys.executable, "-m", "grading.gpu_check", *args], cwd=gpu_check.ROOT,
                          capture_output=True, text=True, timeout=300)


def test_dry_run_prints_every_step_with_the_device_under_test():
    result = run("--dry-run", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in gpu_check.STEPS:
        assert f"== {step}:" in out and f"\n{step} " in out.split("== summary")[1]
    assert "LLMLAB_DEVICE=cpu" in out and "--nbval solutions/notebooks" in out and "tests grading/hidden" in out
    assert "llmlab.instructor.bench --reference --device cpu" in out and "grading autograde" in out


def fake_wheels(folder, wheels=gpu_check.WHEELS):
    for requirement in wheels:
        name, version = requirement.split("==")
        (folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl").write_bytes(b"")
    return folder


@pytest.mark.parametrize("args,message", [(["--steps", "env,nope"], "--steps: unknown step(s) ['nope']"),
                                          (["--wheels", "."], "--wheels: . lacks transformers==")])
def test_bad_arguments_give_one_error_naming_the_option(args, message):
    result = run("--dry-run", *args)
    assert result.returncode == 2 and message in result.stderr


def test_wheels_are_installed_first_without_the_network_or_dependencies(tmp_path):
    fake_wheels(tmp_path)
    out = run("--dry-run", "--steps", "env", "--wheels", str(tmp_path)).stdout
    assert out.index("== wheels:") < out.index("== env:")
    install = out.split("== wheels:")[1].split("\n")[0].split()
    assert install[1:8] == ["-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-warn-conflicts"]
    assert sorted(install[8:]) == sorted(str(w) for w in tmp_path.iterdir())


def test_a_wheel_folder_missing_a_wheel_or_holding_two_versions_is_refused(tmp_path):
    fake_wheels(tmp_path, [w for w in gpu_check.WHEELS if not w.startswith("nbval==")])
    with pytest.raises(ValueError, match=r"lacks nbval==0\.11\.0 \("):
        gpu_check.wheel_files(tmp_path)
    fake_wheels(tmp_path, ["nbval==0.11.0", "nbval==0.10.0"])
    with pytest.raises(ValueError, match=r"more than one version of a package: nbval-0\.11\.0-py3-none-any\.whl"):
        gpu_check.wheel_files(tmp_path)


# Imported when installed, none of them needed: each importer falls back without it.
OPTIONAL = {"arrow", "fqdn", "isoduration", "jsonpointer", "rfc3339-validator", "rfc3986-validator",
            "rfc3987-syntax", "lark", "uri-template", "webcolors",  # jsonschema's format checkers
            "notebook",  # jupyter-server's metrics, when the notebook server is there
            "debugpy",  # ipykernel's debugger
            "msgpack",  # jupyter_client's faster message packer
            "llmlab"}  # this repository, when pip-installed
# setuptools' own copies, which pkg_resources puts on sys.path
SETUPTOOLS_VENDORED = {"jaraco-functools", "jaraco-text", "jaraco-context", "more-itertools", "backports-tarfile"}

# What the steps import: the grader's (nbgrader's app, gradebook, preprocessors, nbconvert's sanitizer), the
# kernel's (a cell's exception formatted, matplotlib inline, the progress widget), the tests' and nbval's. Each
# distribution is printed with the one whose code imported it first: what a package of the GPU machine imports
# is its own version's business there (this environment may hold newer versions with other needs).
STEP_IMPORTS = textwrap.dedent("""
    import importlib.abc, importlib.metadata, json, os, sys, tempfile, traceback
    owners = importlib.metadata.packages_distributions()
    importer = {}                                   # top-level module -> the file that imported it first


    class Tracer(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            top = name.split(".")[0]
            if top not in sys.modules and top not in importer:
                files = [f.filename for f in traceback.extract_stack()[:-1]
                         if "importlib" not in f.filename and not f.filename.startswith("<")]
                importer[top] = files[-1] if files else ""
            return None


    def owner(file):
        if "-packages" + os.sep not in file:
            return "llmlab"                         # this repository, or the probe itself
        top = file.split("-packages" + os.sep, 1)[1].split(os.sep)[0].removesuffix(".py")
        return (owners.get(top) or ["llmlab"])[0]


    sys.meta_path.insert(0, Tracer())
    import grading  # puts this interpreter's scripts on PATH, for nbgrader's alembic
    import nbgrader.apps.nbgraderapp, nbgrader.preprocessors, nbgrader.utils, nbconvert.preprocessors.sanitize
    from nbgrader.api import Gradebook
    with tempfile.TemporaryDirectory() as folder:
        Gradebook(f"sqlite:///{folder}/gradebook.db").close()
    import ipykernel.kernelapp, matplotlib_inline.backend_inline, nbclient, nbval.plugin
    from IPython.core.ultratb import VerboseTB
    try:
        1 / 0
    except ZeroDivisionError:
        VerboseTB().structured_traceback(*sys.exc_info())
    import fvcore.nn, transformers.models.llama.modeling_llama, llmlab.progress
    pairs = {(d, owner(importer.get(m.split(".")[0], ""))) for m in list(sys.modules)
             for d in owners.get(m.split(".")[0], [])}
    print(json.dumps(sorted(pairs)))
""")


def test_the_wheels_hold_every_distribution_the_steps_import_that_the_gpu_machine_lacks():
    result = subprocess.run([sys.executable, "-c", STEP_IMPORTS], cwd=gpu_check.ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    pairs = {(gpu_check.distribution(d), gpu_check.distribution(by))
             for d, by in json.loads(result.stdout.splitlines()[-1])}
    imported = {d for d, _ in pairs}
    assert {"nbgrader", "ipython", "stack_data", "sqlalchemy", "torch"} <= imported  # the probe reached them
    on_the_machine = {gpu_check.distribution(name) for name in gpu_check.ON_THE_GPU_MACHINE}
    needed, frontier = set(), {"llmlab"}        # what our code imports, and what that imports, but not
    while frontier:                             # through a package the GPU machine has (its version decides)
        needed |= frontier
        frontier = {d for d, by in pairs if by in frontier and by not in on_the_machine} - needed
    known = (*gpu_check.WHEELS, *gpu_check.ON_THE_GPU_MACHINE, *OPTIONAL, *SETUPTOOLS_VENDORED)
    assert needed - {gpu_check.distribution(name) for name in known} == set()


def test_env_step_runs_and_a_missing_device_stops_the_check():
    ok = run("--device", "cpu", "--steps", "env")
    assert ok.returncode == 0 and "device cpu" in ok.stdout and "env        ok" in ok.stdout
    missing = run("--device", "cuda:7", "--steps", "env,tests")
    assert missing.returncode == 1 and "env        FAILED" in missing.stdout and "\ntests " not in missing.stdout


def test_grades_check_wants_full_marks_for_the_reference_and_zero_for_the_blank(tmp_path):
    grades = tmp_path / "grades.csv"
    grades.write_text("student_id,t01_greedy,total,max\nblank,0,0,86\nreference,2,86,86\n")
    assert gpu_check.check_grades(grades) == ""
    grades.write_text("student_id,t01_greedy,total,max\nblank,1,1,86\nreference,2,84.5,86\n")
    assert gpu_check.check_grades(grades) == "reference scored 84.5 of 86; blank release scored 1"
