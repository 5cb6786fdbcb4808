"""A metric against one grid key, one line per value of another: accuracy against learning
rate, one line per optimizer, with the Student t interval over seeds as error bars.

The x axis is logarithmic when the key's values are numbers, all positive, spanning two
decades or more (learning rates, weight decays); other numbers are drawn on a linear axis
and anything else (names, lists of hidden sizes) as evenly spaced categories.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from nnstudy.report.labels import format_value, short_key
from nnstudy.report.plots.figure import WRONG, add_caption, category_colour, new_figure
from nnstudy.report.plots.frames import (
    configurations,
    count_status,
    done_values,
    hashable,
    key_values,
    require_columns,
)
from nnstudy.report.plots.intervals import t_interval
from nnstudy.report.plots.text import is_accuracy, metric_label, percent_axis


def numeric_positions(values: Sequence[Any]) -> tuple[np.ndarray, bool] | None:
    """(x positions, log axis?) when every value is a real number, else None (categories).

    Log when all are positive and max / min >= 100 (two decades or more)."""
    if not values or any(isinstance(v, bool | str | list | tuple | dict) or v is None
                         for v in values):
        return None
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(x).all():
        return None
    log = bool((x > 0).all() and x.max() / x.min() >= 100)
    return x, log


def place_values(ax: Axes, values: Sequence[Any], log: str | bool = "auto") -> np.ndarray:
    """Set up the x axis for a key's values and return their positions: the numbers
    themselves (log scale when `log` is True, or `auto` and they span two decades), or
    0, 1, 2, ... with the values as tick labels."""
    numeric = numeric_positions(values)
    if numeric is None:
        positions = np.arange(len(values), dtype=float)
        ax.set_xticks(positions, [format_value(v) for v in values])
        ax.set_xlim(-0.5, len(values) - 0.5)
        return positions
    x, auto_log = numeric
    if (auto_log if log == "auto" else bool(log)) and (x > 0).all():
        ax.set_xscale("log")
    ax.set_xticks(x, [format_value(v) for v in values])
    ax.minorticks_off()
    return x


def plot_metric_vs_key(
    trials: pd.DataFrame,
    x: str,
    metric: str,
    *,
    hue: str | None = None,
    level: float = 0.95,
    log_x: str | bool = "auto",
    title: str | None = None,
) -> Figure:
    """The mean of `metric` over seeds against the values of key `x`, one line per value of
    key `hue`, with `level` Student t intervals as error bars (none for a single seed).

    Args:
        trials: one row per trial; columns `status`, `x`, `metric`, and `hue` if given.
            Only done trials with a finite metric count.
        x, hue: grid keys (`train.lr`, `train.optimizer`).
        metric: a column (`best_test_accuracy`, `best_valid_loss`, `wall_time_s`).
        log_x: `auto` (log for positive numbers spanning two decades), True or False.

    A point whose seeds all diverged has no mean; it is drawn as a red X on the bottom
    edge, and a point with some diverged seeds says how many beside it.
    """
    require_columns(trials, ["status", x, metric, *([hue] if hue else [])], "trials")
    xs = key_values(trials, x)
    fig = new_figure(7.5 if hue else 6.5, 4.6)
    ax = fig.subplots()
    positions = place_values(ax, xs, log_x)
    lines = configurations(trials, [hue]) if hue else [({}, np.arange(len(trials)))]
    categorical = numeric_positions(xs) is None
    # Names on the x axis have no order between them: no joining line, and the hues side by
    # side so their bars do not hide each other.
    dodge = 0.1 if categorical and len(lines) > 1 else 0.0
    edge = blended_transform_factory(ax.transData, ax.transAxes)
    any_lost = False
    for colour_at, (hue_values, rows) in enumerate(lines):
        part = trials.iloc[rows]
        colour = category_colour(colour_at)
        shift = dodge * (colour_at - (len(lines) - 1) / 2)
        where = {hashable(v): p + shift for v, p in zip(xs, positions, strict=True)}
        name = format_value(hue_values[hue]) if hue else metric_label(metric)
        means, lows, highs, at = [], [], [], []
        for cell_values, cell_rows in configurations(part, [x]):
            cell = part.iloc[cell_rows]
            xi = where[hashable(cell_values[x])]
            interval = t_interval(done_values(cell, metric), level)
            lost = count_status(cell, "diverged")
            if interval.n == 0:
                if lost:
                    ax.plot([xi], [0.0], "X", color=WRONG, mec="black", ms=11,
                            transform=edge, clip_on=False, zorder=6,
                            gid=f"diverged|{name}|{format_value(cell_values[x])}")
                    any_lost = True
                continue
            at.append(xi)
            means.append(interval.mean)
            lows.append(interval.lo)
            highs.append(interval.hi)
            if lost:
                ax.annotate(f"{lost} of {lost + interval.n} diverged", (xi, interval.mean),
                            xytext=(0, 9), textcoords="offset points", fontsize=8,
                            color=WRONG, ha="center")
        order = np.argsort(at)
        x_arr = np.asarray(at)[order]
        m = np.asarray(means)[order]
        err = np.vstack([m - np.asarray(lows)[order], np.asarray(highs)[order] - m])
        bars = ax.errorbar(x_arr, m, yerr=np.nan_to_num(err, nan=0.0), color=colour,
                           marker="o", ms=6, lw=1.8, capsize=4, label=name,
                           ls="none" if categorical else "-")
        bars.lines[0].set_gid(f"mean|{name}")
    ax.set_xlabel(x + (" (log scale)" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel(metric_label(metric))
    if is_accuracy(metric):
        percent_axis(ax)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if any_lost:
        handles.append(Line2D([], [], ls="", marker="X", color=WRONG, mec="black", ms=10))
        labels.append("every seed diverged")
    if hue or any_lost:
        ax.legend(handles, labels, title=hue,
                  fontsize=9, loc="best", framealpha=0.9)
    fig.suptitle(title or f"{metric_label(metric)} against {short_key(x)}", fontsize=13)
    add_caption(fig, f"points: mean over seeds; bars: {level:.0%} CI of the mean (Student t)")
    return fig

