"""Figures without pyplot: making one, its colours, and writing it as PNG or SVG.

Every plot function builds a `matplotlib.figure.Figure` directly. pyplot keeps a global list
of open figures and picks a GUI backend; a Figure made on its own has neither, so the plots
work in threads, in notebooks and on machines with no display, and the caller never has to
call `matplotlib.use("Agg")`. A Figure renders through the Agg canvas (PNG) or the SVG
backend when it is saved, and shows itself in Jupyter and Colab as a PNG: through the inline
backend's display hook when pyplot has set one up, else through `NotebookFigure._repr_png_`
(a plain Figure has no PNG form of its own, and would print as `<Figure size ...>`).
"""

from __future__ import annotations

import io
import os
import tempfile
import textwrap
from pathlib import Path

from matplotlib.figure import Figure

# One colour per split, the same in every figure: train blue, valid orange, test green.
SPLIT_COLOURS = {"train": "#1f77b4", "valid": "#ff7f0e", "test": "#2ca02c"}
# Line styles for the splits when colour already tells configurations apart.
SPLIT_STYLES = {"train": "--", "valid": "-", "test": ":"}
WRONG = "#d62728"  # mistakes, divergence: red
MISSING_GREY = "#bdbdbd"

_TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]
_TAB20_EXTRA = ["#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
                "#c7c7c7", "#dbdb8d", "#9edae5"]

FORMATS = {".png": "png", ".svg": "svg"}


def category_colour(position: int) -> str:
    """The colour of the `position`-th category: matplotlib's tab10, then its light twins."""
    palette = _TAB10 + _TAB20_EXTRA
    return palette[position % len(palette)]


class NotebookFigure(Figure):
    """A Figure that a notebook shows as a PNG (IPython's `_repr_png_` protocol), whether or
    not pyplot was ever imported."""

    def _repr_png_(self) -> bytes:
        return figure_bytes(self, "png", dpi=100)


def new_figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    """An empty Figure of `width` x `height` inches with the constrained layout engine, which
    makes room for titles, tick labels, colour bars and outside legends so nothing is clipped.
    `layout=None`: no engine, for a figure that places its axes itself (a grid of many small
    axes, where the engine's passes over every title cost most of the drawing)."""
    return NotebookFigure(figsize=(width, height), dpi=100, layout=layout)


def add_caption(fig: Figure, text: str) -> None:
    """A short note under the panels (what the line and the band are), wrapped to the
    figure's width; the constrained layout keeps room for it."""
    width = int(fig.get_figwidth() * 15)  # characters of 9-point italic per inch, about
    fig.supxlabel(textwrap.fill(text, width), fontsize=9, style="italic", color="0.3")


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 150) -> bytes:
    """The figure encoded as PNG or SVG bytes (for a file, or inline in an HTML page).
    The date and the software string are left out of the metadata."""
    if fmt not in FORMATS.values():
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS.values())}")
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Write the figure to `path` as PNG or SVG, chosen by the suffix (`.png`, `.svg`).

    The bytes go to a temporary file beside `path`, renamed over it when complete, so a
    reader (a browser refreshing report.html) never sees half an image. Returns the path.
    """
    from nnstudy.data.atomic import give_usual_permissions
    from nnstudy.errors import ConfigError

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{path}: figure format {path.suffix or '(no suffix)'!r} is not one "
                          f"of {', '.join(FORMATS)}")
    data = figure_bytes(fig, fmt, dpi)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        give_usual_permissions(tmp)  # the temporary file was created private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
