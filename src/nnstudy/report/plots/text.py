"""How keys, values and metrics are written on a figure: `lr`, `0.001`, `test accuracy`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from nnstudy.report import labels


def config_label(values: dict[str, Any], keys: Sequence[str] | None = None) -> str:
    """A configuration's name as the report writes it (`adam lr 0.001`, see
    `nnstudy.report.labels.config_label`); no keys -> `all trials`."""
    return labels.config_label(values, keys) if values else "all trials"


_METRIC_WORDS = {
    "wall_time_s": "wall time (s)",
    "training_flops": "training FLOPs",
    "epochs_run": "epochs run",
    "best_epoch": "best epoch",
    "params": "parameters",
}


def metric_label(metric: str) -> str:
    """`best_test_accuracy` -> `test accuracy (at best epoch)`; `final_valid_loss` ->
    `valid loss (final epoch)`; `wall_time_s` -> `wall time (s)`."""
    if metric in _METRIC_WORDS:
        return _METRIC_WORDS[metric]
    for prefix, words in (("best_", " (at best epoch)"), ("final_", " (final epoch)")):
        if metric.startswith(prefix):
            return metric[len(prefix):].replace("_", " ") + words
    return metric.replace("_", " ")


def is_accuracy(metric: str) -> bool:
    return metric.endswith("accuracy")


def format_metric(metric: str, value: float, digits: int = 4) -> str:
    """An accuracy as a percentage with one decimal (`96.2%`), anything else with `digits`
    significant digits (`0.04781`)."""
    if not np.isfinite(value):
        return "—"
    if is_accuracy(metric):
        return f"{value:.1%}"
    return f"{value:.{digits}g}"


def percent_axis(ax: Axes, axis: str = "y") -> None:
    """Show fractions (0.962) as percentages (96%) on one axis; the data stay fractions."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=1.0, decimals=None))
