"""Chinese in the notebooks' plots: drawn from the font shipped in llmlab/fonts/, whatever the machine has."""
import ast
import json
import os
import shutil
import subprocess
import sys
import zipfile

from fontTools.ttLib import TTFont

from grading.font import FONT_FILE, LICENSE_FILE, course_text
from grading.sandbox import ROOT

# Run in a fresh process with an empty matplotlib config dir (so a new font cache), then hide every font that
# is not matplotlib's own, as on a machine without Chinese fonts or with a cache that predates them.
DRAW = r'''
import json, sys, warnings
from pathlib import Path
import matplotlib
matplotlib.use("Agg")
from matplotlib import font_manager
from matplotlib._text_helpers import layout
from matplotlib.font_manager import FontProperties, get_font
own = Path(matplotlib.get_data_path()).resolve()
font_manager.fontManager.ttflist = [f for f in font_manager.fontManager.ttflist if Path(f.fname).resolve().is_relative_to(own)]
font_manager.fontManager._findfont_cached.cache_clear()
import matplotlib.pyplot as plt


def draw(title, labels):
    """Glyph warnings while drawing a bar chart with this title and these tick labels, and the font files
    that drew each character."""
    from llmlab.plotting import bar_distribution
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots()
        bar_distribution(labels, [1 / len(labels)] * len(labels), title=title, ax=ax)
        ax.set_xlabel(title)
        ax.legend([title])
        fig.canvas.draw()
        plt.close(fig)
    font = get_font(font_manager.fontManager._find_fonts_by_props(FontProperties()))
    used = {item.char: Path(item.ft_object.fname).name for text in [title, *labels]
            for line in text.splitlines() for item in layout(line, font)}
    return [str(w.message) for w in caught], used


strings, tokens = json.loads(sys.stdin.read())
before, _ = draw("南京大学", ["算法"])
import llmlab.plotting
print("FONT", llmlab.plotting.cjk_font())
from llmlab.plotting import token_label
labels = [token_label(text, i) for i, text in enumerate(tokens)]
results = [draw(s, labels[:20]) for s in strings] + [draw("", labels[i:i + 20]) for i in range(0, len(labels), 20)]
print(json.dumps({"before": before, "warnings": sorted({w for r in results for w in r[0]}),
                  "fonts": {c: f for r in results for c, f in r[1].items()}, "labels": labels}))
'''


def notebook_strings() -> list[str]:
    """Every string constant (f-string parts too) with a non-ASCII character in the notebooks' code cells."""
    found = set()
    for path in sorted((ROOT / "solutions" / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            code = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.startswith("%"))
            for node in ast.walk(ast.parse(code)):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and not node.value.isascii():
                    found.add(node.value)
    return sorted(found)


def test_notebook_plots_draw_chinese_with_the_shipped_font_on_a_machine_without_one(tmp_path):
    strings = notebook_strings()
    assert any("耗时" in s for s in strings) and len(strings) > 50      # the plots' own titles are among them
    vocab = json.loads((ROOT / "llmlab/checkpoints/tiny-zh/tokenizer.json").read_text(encoding="utf-8"))
    tokens = list(vocab["model"]["vocab"])
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", DRAW], input=json.dumps([strings, tokens]), capture_output=True,
                         text=True, env=env, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Noto Sans CJK SC" in run.stdout.splitlines()[0]
    result = json.loads(run.stdout.splitlines()[-1])
    assert any("Glyph" in w and "missing" in w for w in result["before"]), "the system's Chinese fonts were not hidden"
    assert result["warnings"] == []
    chinese = {c for c in "".join(strings + tokens) if "\u4e00" <= c <= "\u9fff"}
    assert chinese and all(result["fonts"][c] == FONT_FILE.name for c in chinese)
    assert result["labels"] == [t.replace("\n", "\\n") for t in tokens]     # every tiny-zh token shown as text


def test_token_label_falls_back_to_the_id_only_for_characters_no_font_has():
    from llmlab.plotting import token_label
    assert token_label("南京", 7) == "南京" and token_label("▁the", 8) == "▁the" and token_label("a\nb", 9) == "a\\nb"
    assert token_label("\U0001D11E", 5) == "#5" and token_label("", 6) == "#6"   # a musical symbol; nothing


def test_shipped_font_covers_every_character_of_the_course_and_carries_its_license():
    cmap = TTFont(FONT_FILE).getBestCmap()
    chinese_or_ascii = {c for c in course_text() if "\u2e80" <= c <= "\u9fff" or "\uff00" <= c <= "\uffef"
                        or " " <= c <= "~"}
    missing = sorted(c for c in chinese_or_ascii if ord(c) not in cmap)
    assert not missing, f"run `python -m grading.font`: the shipped font lacks {''.join(missing)!r}"
    assert FONT_FILE.stat().st_size < 2 * 2**20
    assert "SIL Open Font License" in LICENSE_FILE.read_text(encoding="utf-8")


def test_an_installed_llmlab_carries_the_font(tmp_path):
    """The wheel (what a non-editable install unpacks) holds the font and its license."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "llmlab", source / "llmlab", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                          "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob("llmlab-*.whl"))).namelist()
    assert f"llmlab/fonts/{FONT_FILE.name}" in names and f"llmlab/fonts/{LICENSE_FILE.name}" in names
