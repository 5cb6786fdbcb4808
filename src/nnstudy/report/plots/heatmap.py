"""A heatmap of a two-key grid (optimizer x learning rate): one cell per pair of values,
coloured and annotated with the mean of a metric over seeds.

No cell is left blank:
- every seed diverged: hatched red, labelled `diverged` (with the count);
- some seeds diverged: the mean of the others, and `k diverged` under it;
- no done trial (failed, not run yet) or no trial at all: hatched grey, labelled `failed`,
  `not run` or `missing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from nnstudy.report.labels import format_value
from nnstudy.report.plots.figure import MISSING_GREY, WRONG, add_caption, new_figure
from nnstudy.report.plots.frames import (
    configurations,
    count_status,
    done_values,
    hashable,
    key_values,
    require_columns,
)
from nnstudy.report.plots.intervals import t_interval
from nnstudy.report.plots.text import format_metric, is_accuracy, metric_label


@dataclass
class Cells:
    """The grid of a heatmap: values along each axis, and per cell (row i, column j) the mean
    over done trials, the CI half-width, the number of trials and of diverged ones, and a
    state: `ok`, `diverged` (every seed diverged), `failed` (no done trial, some failed),
    `not run` (pending or running only) or `missing` (no trial has that pair)."""

    row_values: list[Any]
    col_values: list[Any]
    means: np.ndarray
    half: np.ndarray
    trials: np.ndarray
    diverged: np.ndarray
    states: list[list[str]]


def cell_means(trials: pd.DataFrame, rows: str, cols: str, metric: str,
               level: float = 0.95) -> Cells:
    """The cells of a two-key grid; means and half-widths are NaN where there are none."""
    row_values, col_values = key_values(trials, rows), key_values(trials, cols)
    at_row = {hashable(v): i for i, v in enumerate(row_values)}
    at_col = {hashable(v): j for j, v in enumerate(col_values)}
    shape = (len(row_values), len(col_values))
    cells = Cells(row_values, col_values, np.full(shape, np.nan), np.full(shape, np.nan),
                  np.zeros(shape, dtype=int), np.zeros(shape, dtype=int),
                  [["missing"] * shape[1] for _ in range(shape[0])])
    for values, index in configurations(trials, [rows, cols]):
        i, j = at_row[hashable(values[rows])], at_col[hashable(values[cols])]
        cell = trials.iloc[index]
        interval = t_interval(done_values(cell, metric), level)
        cells.trials[i, j] = len(cell)
        cells.diverged[i, j] = count_status(cell, "diverged")
        if interval.n:
            cells.means[i, j] = interval.mean
            cells.half[i, j] = (interval.hi - interval.lo) / 2
            state = "ok"
        elif cells.diverged[i, j]:
            state = "diverged"
        elif count_status(cell, "failed"):
            state = "failed"
        else:
            state = "not run"
        cells.states[i][j] = state
    return cells


def plot_heatmap(
    trials: pd.DataFrame,
    rows: str,
    cols: str,
    metric: str,
    *,
    level: float = 0.95,
    title: str | None = None,
) -> Figure:
    """A cell per (value of `rows`, value of `cols`), coloured by the mean of `metric` over
    the done trials, annotated with that mean and its `level` CI half-width (`± 0.4%`).

    Args:
        trials: one row per trial; columns `status`, `rows`, `cols`, `metric`.
        rows, cols: two grid keys (`train.optimizer`, `train.lr`).
        metric: the column to average (`best_test_accuracy`, `best_valid_loss`).

    The colour map runs so that better is brighter: higher accuracy, lower loss (anything
    that is not an accuracy is taken as lower-is-better).
    """
    require_columns(trials, ["status", rows, cols, metric], "trials")
    cells = cell_means(trials, rows, cols, metric, level)
    means, half = cells.means, cells.half
    n_rows, n_cols = means.shape
    fig = new_figure(max(5.0, 1.25 * n_cols + 2.8), max(3.2, 0.75 * n_rows + 1.8))
    ax = fig.subplots()
    cmap = "viridis" if is_accuracy(metric) else "viridis_r"
    image = ax.imshow(np.ma.masked_invalid(means), cmap=cmap, aspect="auto")
    image.set_gid("means")
    bar = fig.colorbar(image, ax=ax, shrink=0.9)
    bar.set_label(f"mean {metric_label(metric)}")
    if is_accuracy(metric):
        from matplotlib.ticker import PercentFormatter

        bar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    norm, colours = image.norm, image.cmap
    for i in range(n_rows):
        for j in range(n_cols):
            state = cells.states[i][j]
            if state != "ok":
                colour = WRONG if state == "diverged" else MISSING_GREY
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white",
                                       edgecolor=colour, hatch="///", lw=0, alpha=0.8,
                                       gid=f"{state}|{i}|{j}"))
                text = state
                if state == "diverged":
                    text = f"diverged\n({cells.diverged[i, j]} of {cells.trials[i, j]})"
                ax.text(j, i, text, ha="center", va="center", fontsize=9, weight="bold",
                        color=WRONG if state == "diverged" else "0.3",
                        bbox={"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.85},
                        gid=f"label|{i}|{j}")
                continue
            r, g, b, _ = colours(norm(means[i, j]))
            ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            lines = [format_metric(metric, means[i, j])]
            if np.isfinite(half[i, j]):
                lines.append(f"± {format_metric(metric, half[i, j], digits=2)}")
            if cells.diverged[i, j]:
                lines.append(f"{cells.diverged[i, j]} of {cells.trials[i, j]} diverged")
            ax.text(j, i, lines[0], ha="center", va="center", fontsize=11, weight="bold",
                    color=ink, gid=f"mean|{i}|{j}")
            if len(lines) > 1:
                ax.text(j, i + 0.3, "\n".join(lines[1:]), ha="center", va="center",
                        fontsize=8, color=ink, gid=f"detail|{i}|{j}")
    ax.set_xticks(range(n_cols), [format_value(v) for v in cells.col_values])
    ax.set_yticks(range(n_rows), [format_value(v) for v in cells.row_values])
    ax.set_xlabel(cols)
    ax.set_ylabel(rows)
    ax.tick_params(length=0)
    fig.suptitle(title or f"mean {metric_label(metric)}", fontsize=13)
    add_caption(fig, f"cell: mean over seeds ± half-width of its {level:.0%} CI (Student t)")
    return fig

