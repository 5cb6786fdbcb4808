"""The words of a report: names of configurations, keys and metrics, p-values, effects, and
the sentence that says whether the winner is distinguishable from the runner-up.

Numbers come from `nnstudy.study.aggregate`; this module only writes them as a person reads
them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnstudy.study.aggregate import Comparison


def short_key(key: str, keys: Sequence[str] = ()) -> str:
    """The last part of a dotted key (`train.lr` -> `lr`), or the whole key when another key in
    `keys` ends the same way."""
    last = key.rsplit(".", 1)[-1]
    clash = [k for k in keys if k != key and k.rsplit(".", 1)[-1] == last]
    return key if clash else last


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


def config_label(values: dict[str, Any], keys: Sequence[str] | None = None) -> str:
    """A readable name of a configuration: names (strings) stand alone, numbers get their
    short key: {train.optimizer: adam, train.lr: 0.001} -> `adam lr 0.001`; no keys: `base`."""
    keys = list(values) if keys is None else list(keys)
    parts = []
    for key, value in values.items():
        text = format_value(value)
        if key == "variant" or isinstance(value, str):
            parts.append(text)
        else:
            parts.append(f"{short_key(key, keys)} {text}")
    return " ".join(p for p in parts if p) or "base"


def effect_label(key: str, value: Any, keys: Sequence[str] = ()) -> str:
    """`dropout 0.5`: the short key and the value, for main effects."""
    return f"{short_key(key, keys)} {format_value(value)}"


def metric_title(metric: str) -> str:
    """`valid_loss` -> `valid loss`; `final_test_accuracy` -> `final test acc`."""
    name = metric.removeprefix("best_").replace("accuracy", "acc")
    return name.replace("_", " ")


def metric_kind(metric: str) -> str:
    """`accuracy` (differences in percentage points), `loss`, or `other`."""
    if metric.endswith("accuracy"):
        return "accuracy"
    return "loss" if metric.endswith("loss") else "other"


def format_p(p: float) -> str:
    """p = 0.31, p = 0.002, p < 0.001."""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def format_level(level: float) -> str:
    """0.95 -> `95%`."""
    return f"{level * 100:g}%"


def format_effect(label: str, diff: float, lo: float, hi: float, kind: str) -> str:
    """`dropout 0.5: +0.4 points [-0.1, +0.9]` for accuracies (points = 100 x fraction);
    `lr 0.1: -0.0123 [-0.0210, -0.0036]` for losses and other metrics."""
    if kind == "accuracy":
        fmt, unit = (lambda x: f"{100 * x:+.1f}"), " points"
    else:
        fmt, unit = (lambda x: f"{x:+.4f}"), ""
    if math.isnan(diff):
        return f"{label}: no pair of trials to compare"
    if math.isnan(lo):
        return f"{label}: {fmt(diff)}{unit} (one pair: no interval)"
    return f"{label}: {fmt(diff)}{unit} [{fmt(lo)}, {fmt(hi)}]"


def comparison_sentence(result: Comparison, keys: Sequence[str]) -> str:
    """What a comparison found, in one sentence: "adam lr 0.001 is best, but not
    distinguishable from rmsprop lr 0.001 at 95% (p = 0.31, 3 seeds)"."""
    if result.best_values is None:
        return f"no configuration has a finite {result.metric}: nothing to compare"
    best = config_label(result.best_values, keys)
    if result.runner_up_values is None:
        return f"{best} is the only configuration with results"
    runner_up = config_label(result.runner_up_values, keys)
    if result.test == "none":
        one = ("one seed" if max(result.seeds_best, result.seeds_runner_up) <= 1
               else "too few seeds")
        return f"{one}: cannot tell whether {best} is better than {runner_up} (run more seeds)"
    detail = (f"{result.n_seeds} seeds" if result.test == "paired"
              else f"Welch, {result.seeds_best} and {result.seeds_runner_up} seeds")
    verdict = ("distinguishable from" if result.distinguishable
               else "but not distinguishable from")
    return (f"{best} is best, {verdict} {runner_up} at {format_level(result.level)} "
            f"({format_p(result.p_value)}, {detail})")
