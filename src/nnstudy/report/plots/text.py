"""How keys, values and metrics are written on a figure: `lr`, `0.001`, `test accuracy`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter


def format_value(value: Any) -> str:
    """A grid value as a person writes it: 0.001, 1e-05, [100, 100], adam."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return format(float(value), "g")
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, list | tuple | np.ndarray):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def short_key(key: str, keys: Sequence[str] = ()) -> str:
    """The last part of a dotted key (`train.lr` -> `lr`), or the whole key when another key
    in `keys` ends the same way."""
    last = key.rsplit(".", 1)[-1]
    clash = [k for k in keys if k != key and k.rsplit(".", 1)[-1] == last]
    return key if clash else last


def config_label(values: dict[str, Any], keys: Sequence[str] | None = None) -> str:
    """A configuration's name: strings stand alone, numbers get their short key:
    {train.optimizer: adam, train.lr: 0.001} -> `adam lr 0.001`; no keys -> `all trials`."""
    keys = list(values) if keys is None else list(keys)
    parts = []
    for key, value in values.items():
        text = format_value(value)
        if key == "variant" or isinstance(value, str):
            parts.append(text)
        else:
            parts.append(f"{short_key(key, keys)} {text}")
    return " ".join(p for p in parts if p) or "all trials"


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
