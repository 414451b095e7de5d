"""llmlab.check(), the notebooks' exercise check: a pass line, a progress bar while the public tests run."""
import pytest

import llmlab


def test_check_prints_a_pass_line_after_a_full_progress_bar(capsys):
    llmlab.check("t04_flops")
    out, err = capsys.readouterr()
    assert out.startswith("✓ t04_flops: public tests pass (") and " passed" in out
    bar = err.replace("\r", "\n").splitlines()
    total = next(int(line.split("/")[1].split()[0]) for line in bar if line.startswith("t04_flops:"))
    assert total > 1 and any(f"| {total}/{total} [" in line for line in bar), err


def test_check_rejects_an_unknown_task():
    with pytest.raises(ValueError, match="'t99_nothing' is not a task"):
        llmlab.check("t99_nothing")
