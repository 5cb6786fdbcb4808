"""Main effects: one panel per grid key, the mean of the selection metric at each of its
values with a Student t interval (the report's main-effects table, drawn).

For key k and value v:

    mean(v) = mean of the metric over the done trials with k = v, so averaged over the
              other keys' values and the seeds
    CI(v)   = that mean's Student t interval over those trials

The interval spans the other keys' spread as well as the seeds', so it is wider than the
paired differences of the report's table; two values whose intervals overlap here may still
differ there. The dashed line is the mean over every done trial.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nnstudy.errors import ConfigError
from nnstudy.report.labels import format_value
from nnstudy.report.plots.figure import WRONG, add_caption, new_figure
from nnstudy.report.plots.frames import (
    configurations,
    count_status,
    done_values,
    require_columns,
)
from nnstudy.report.plots.intervals import t_interval
from nnstudy.report.plots.sweep import numeric_positions
from nnstudy.report.plots.text import is_accuracy, metric_label, percent_axis


def plot_main_effects(
    trials: pd.DataFrame,
    keys: Sequence[str],
    metric: str,
    *,
    level: float = 0.95,
    title: str | None = None,
) -> Figure:
    """One panel per key in `keys`, sharing the y axis: mean `metric` per value with its
    `level` Student t interval over the done trials that have that value.

    Args:
        trials: one row per trial; columns `status`, the `keys`, and `metric`.
        keys: the grid keys, one panel each, in this order.
        metric: the column to average (`best_valid_loss`, `best_test_accuracy`).

    A value some of whose trials diverged says how many under its tick label; a value whose
    trials all diverged has no point and is labelled `all diverged`.
    """
    keys = list(keys)
    if not keys:
        raise ConfigError("main effects: no keys given; pass the grid keys, one panel each")
    require_columns(trials, ["status", *keys, metric], "trials")
    # Each panel as wide as its values need (about an inch each, for labels such as
    # "0.05\n(3 diverged)"), at least 3.4 inches.
    widths = [max(3.4, 1.0 * len(configurations(trials, [key]))) for key in keys]
    fig = new_figure(max(4.5, sum(widths) + 0.6), 4.4)
    axes = fig.subplots(1, len(keys), sharey=True, squeeze=False,
                        gridspec_kw={"width_ratios": widths})[0]
    overall = t_interval(done_values(trials, metric), level).mean
    for ax, key in zip(axes, keys, strict=True):
        levels = configurations(trials, [key])
        x, means, los, his, labels = [], [], [], [], []
        for position, (values, rows) in enumerate(levels):
            cell = trials.iloc[rows]
            interval = t_interval(done_values(cell, metric), level)
            lost = count_status(cell, "diverged")
            label = format_value(values[key])
            if lost:
                label += f"\n(all {lost} diverged)" if interval.n == 0 else f"\n({lost} diverged)"
            labels.append(label)
            if interval.n:
                x.append(position)
                means.append(interval.mean)
                los.append(interval.lo)
                his.append(interval.hi)
        m = np.asarray(means)
        err = np.nan_to_num(np.vstack([m - np.asarray(los), np.asarray(his) - m]), nan=0.0)
        ordered = numeric_positions([v[key] for v, _ in levels]) is not None
        bars = ax.errorbar(x, m, yerr=err, marker="o", ms=7, capsize=5, lw=1.6,
                           color="#1f77b4", ls="-" if ordered else "none")
        bars.lines[0].set_gid(f"mean|{key}")
        ax.set_xticks(range(len(levels)), labels)
        for tick, text in zip(ax.get_xticklabels(), labels, strict=True):
            if "diverged" in text:
                tick.set_color(WRONG)
        ax.set_xlim(-0.5, len(levels) - 0.5)
        if np.isfinite(overall):
            ax.axhline(overall, color="0.5", ls="--", lw=1, gid="overall")
        ax.set_xlabel(key)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel(f"mean {metric_label(metric)}")
    if is_accuracy(metric):
        percent_axis(axes[0])
    fig.suptitle(title or f"Main effects on {metric_label(metric)}", fontsize=13)
    add_caption(fig, "points: mean over the trials with that value (all other keys and seeds); "
                     f"bars: {level:.0%} CI (Student t); dashed: mean of all trials")
    return fig
