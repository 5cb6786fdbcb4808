"""Cost against quality: test accuracy against training FLOPs and against wall time, one
point per configuration (the mean over its seeds), with the Pareto front joined.

A configuration is on the Pareto front when no other is at least as cheap and at least as
good, and strictly better in one of the two: nothing beats it on both counts. The front is
the menu worth choosing from; every point off it is beaten by a point on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

from nnstudy.errors import ConfigError
from nnstudy.report.plots.figure import WRONG, add_caption, new_figure
from nnstudy.report.plots.frames import (
    as_float,
    configurations,
    count_status,
    done_values,
    require_columns,
)
from nnstudy.report.plots.intervals import t_interval
from nnstudy.report.plots.text import config_label, is_accuracy, metric_label, percent_axis

COSTS = ("training_flops", "wall_time_s")


def pareto_front(cost: Sequence[float], quality: Sequence[float]) -> np.ndarray:
    """Indices of the points no other point dominates (lower cost is better, higher quality
    is better), ordered by cost. Point j dominates i when

        cost[j] <= cost[i] and quality[j] >= quality[i], with one of the two strict.

    Points with a non-finite cost or quality are never on the front. Equal points are both
    on it (neither is strictly better). One sweep in cost order: O(n log n).
    """
    c = np.asarray(cost, dtype=float)
    q = np.asarray(quality, dtype=float)
    ok = np.flatnonzero(np.isfinite(c) & np.isfinite(q))
    # Cheapest first; among equal costs the best first, so a worse point at the same cost
    # meets the better one's quality already on record.
    order = ok[np.lexsort((-q[ok], c[ok]))]
    front: list[int] = []
    best = -np.inf
    best_cost = np.nan
    for i in order:
        if q[i] > best:
            front.append(int(i))
            best, best_cost = q[i], c[i]
        elif q[i] == best and c[i] == best_cost:
            front.append(int(i))
    return np.asarray(front, dtype=int)


def configuration_costs(trials: pd.DataFrame, keys: Sequence[str], quality: str,
                        costs: Sequence[str], level: float = 0.95) -> pd.DataFrame:
    """One row per configuration: `label`, `n` (done trials), `n_diverged`, `quality`,
    `quality_lo`, `quality_hi` (Student t interval), and the mean of each cost column over
    the done trials."""
    records = []
    for values, rows in configurations(trials, list(keys)):
        cell = trials.iloc[rows]
        interval = t_interval(done_values(cell, quality), level)
        record = {"label": config_label(values, list(keys)), "n": interval.n,
                  "n_diverged": count_status(cell, "diverged"), "quality": interval.mean,
                  "quality_lo": interval.lo, "quality_hi": interval.hi}
        for column in costs:
            spent = done_values(cell, column)
            record[column] = float(spent.mean()) if spent.size else np.nan
        records.append(record)
    return pd.DataFrame.from_records(records)


def plot_cost_quality(
    trials: pd.DataFrame,
    keys: Sequence[str],
    *,
    quality: str = "best_test_accuracy",
    costs: Sequence[str] = COSTS,
    level: float = 0.95,
    title: str | None = None,
) -> Figure:
    """One panel per cost column: each configuration's mean `quality` against its mean cost,
    with `level` Student t error bars on the quality; the Pareto front joined and labelled.

    Args:
        trials: one row per trial; columns `status`, the `keys`, `quality`, and the `costs`
            (`training_flops`: FLOPs of the whole training; `wall_time_s`: seconds). A cost
            column that is absent or has no finite value is left out.
        keys: the grid keys that make a configuration.
        quality: higher is better when it is an accuracy, lower otherwise (a loss).

    The cost axis is logarithmic when the costs span two decades or more.
    """
    require_columns(trials, ["status", *keys, quality], "trials")
    present = [c for c in costs if c in trials.columns and np.isfinite(as_float(trials[c])).any()]
    if not present:
        raise ConfigError(f"cost against quality: none of the cost columns {', '.join(costs)} "
                          f"has a value; the trials have {', '.join(map(str, trials.columns))}")
    table = configuration_costs(trials, keys, quality, present, level)
    higher = is_accuracy(quality)
    fig = new_figure(5.6 * len(present), 4.8)
    axes = fig.subplots(1, len(present), sharey=True, squeeze=False)[0]
    for ax, column in zip(axes, present, strict=True):
        c = table[column].to_numpy(dtype=float)
        q = table["quality"].to_numpy(dtype=float)
        shown = np.isfinite(c) & np.isfinite(q)
        err = np.nan_to_num(np.vstack([q - table["quality_lo"], table["quality_hi"] - q]), nan=0.0)
        ax.errorbar(c[shown], q[shown], yerr=err[:, shown], ls="none", marker="o", ms=7,
                    color="#1f77b4", ecolor="0.6", capsize=3, zorder=3,
                    label="configuration (mean over seeds)").lines[0].set_gid("points")
        front = pareto_front(c, q if higher else -q)
        ax.plot(c[front], q[front], "-", color=WRONG, lw=1.8, zorder=2, gid="front",
                label="Pareto front")
        ax.plot(c[front], q[front], "o", ms=11, mfc="none", mec=WRONG, mew=1.8, zorder=4)
        for k, i in enumerate(front):
            # Neighbours on the front are often close: alternate their labels below and above.
            ax.annotate(table["label"].iloc[i], (c[i], q[i]), xytext=(7, -13 if k % 2 else 7),
                        textcoords="offset points", fontsize=8, color="0.15", gid="front-label")
        finite_c = c[shown]
        if finite_c.size and (finite_c > 0).all() and finite_c.max() / finite_c.min() >= 100:
            ax.set_xscale("log")
        if column == "training_flops":
            ax.xaxis.set_major_formatter(EngFormatter())  # 175M rather than 1.75 and 1e8
        ax.set_xlabel(metric_label(column) + (" (log scale)" if ax.get_xscale() == "log" else ""))
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(f"mean {metric_label(quality)}")
    if higher:
        percent_axis(axes[0])
    axes[0].legend(fontsize=8, loc="lower right" if higher else "upper right")
    lost = table[(table["n"] == 0) & (table["n_diverged"] > 0)]["label"].tolist()
    note = f"; not drawn (every seed diverged): {', '.join(lost)}" if lost else ""
    fig.suptitle(title or f"{metric_label(quality)} against cost", fontsize=13)
    add_caption(fig, f"points: mean over seeds, bars: {level:.0%} CI (Student t); the front: "
                     f"nothing is both cheaper and better{note}")
    return fig
