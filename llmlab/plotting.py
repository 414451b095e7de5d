"""Plotting helpers for the notebooks: a font that shows Chinese on every machine, and readable token labels.

The Chinese font ships with the package (fonts/, a subset of Noto Sans CJK SC under the SIL Open Font License,
see fonts/OFL.txt; grading/font.py makes it) and is registered with matplotlib by its path: so plots show
Chinese whatever fonts the OS has and whatever state matplotlib's font cache is in.
"""
from functools import cache
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

FONT_FILE = Path(__file__).parent / "fonts" / "NotoSansCJKsc-llmlab.otf"


def cjk_font() -> str:
    """Make the shipped Chinese font matplotlib's default font; return its name.

    Characters it lacks (it holds the course's and the 3755 most common Chinese characters) fall back to
    matplotlib's own DejaVu Sans."""
    name = _registered_font()
    matplotlib.rcParams["font.family"] = [name, "sans-serif"]
    return name


@cache
def _registered_font() -> str:
    font_manager.fontManager.addfont(FONT_FILE)
    return FT2Font(FONT_FILE).family_name


@cache
def _drawable() -> frozenset[int]:
    """The characters that the shipped font or matplotlib's own fallback font can draw."""
    fallback = font_manager.findfont("DejaVu Sans")
    return frozenset(FT2Font(FONT_FILE).get_charmap()) | frozenset(FT2Font(fallback).get_charmap())


def token_label(text: str, token_id: int) -> str:
    """How a token is written on a plot axis: its text, or its id where no font at hand can draw the text
    (tokens of another checkpoint may hold rare characters)."""
    text = text.replace("\n", "\\n")
    if not text or any(ord(c) not in _drawable() for c in text):
        return f"#{token_id}"
    return text


def bar_distribution(labels, probs, title="", ax=None, highlight=None):
    """A bar chart of probabilities over labelled tokens; `highlight` marks kept tokens (bool per bar)."""
    cjk_font()
    ax = ax or plt.subplots(figsize=(max(4, 0.6 * len(labels)), 3))[1]
    colors = None if highlight is None else ["tab:blue" if keep else "lightgray" for keep in highlight]
    ax.bar(range(len(labels)), probs, color=colors)
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 8 else 0)
    ax.set_ylabel("概率")
    ax.set_title(title)
    return ax
