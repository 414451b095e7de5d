"""Plotting helpers for the notebooks: a font that shows Chinese, and token labels that stay readable."""
import warnings

import matplotlib
import matplotlib.pyplot as plt
from matplotlib import font_manager

# Fonts with Chinese glyphs, most common first (Linux Noto, macOS, Windows).
CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "PingFang SC",
             "Heiti SC", "Hiragino Sans GB", "Microsoft YaHei", "SimHei", "Arial Unicode MS"]
_cjk_font = None
_checked = False


def cjk_font() -> str | None:
    """The name of an installed font with Chinese glyphs, or None; set as matplotlib's default on first call."""
    global _cjk_font, _checked
    if not _checked:
        _checked = True
        installed = {f.name for f in font_manager.fontManager.ttflist}
        _cjk_font = next((name for name in CJK_FONTS if name in installed), None)
        if _cjk_font:
            matplotlib.rcParams["font.sans-serif"] = [_cjk_font, *matplotlib.rcParams["font.sans-serif"]]
            matplotlib.rcParams["font.family"] = "sans-serif"
            matplotlib.rcParams["axes.unicode_minus"] = False  # CJK fonts often lack the minus glyph
        else:
            warnings.warn("No font with Chinese glyphs found; plots label tokens by id instead "
                          "(install e.g. fonts-noto-cjk to see the text)", stacklevel=2)
    return _cjk_font


def token_label(text: str, token_id: int) -> str:
    """How a token is written on a plot axis: its text when Chinese can be drawn, else its id."""
    if cjk_font() is None and any(ord(c) > 0x2E80 for c in text):
        return f"#{token_id}"
    return text.replace("\n", "\\n") or f"#{token_id}"


def bar_distribution(labels, probs, title="", ax=None, highlight=None):
    """A bar chart of probabilities over labelled tokens; `highlight` marks kept tokens (bool per bar)."""
    cjk_font()
    ax = ax or plt.subplots(figsize=(max(4, 0.6 * len(labels)), 3))[1]
    colors = None if highlight is None else ["tab:blue" if keep else "lightgray" for keep in highlight]
    ax.bar(range(len(labels)), probs, color=colors)
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 8 else 0)
    ax.set_ylabel("probability")
    ax.set_title(title)
    return ax
