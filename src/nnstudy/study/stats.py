"""Statistics of a study: mean ± Student t interval per configuration, the winner against the
runner-up, the best configuration per group of keys, and main effects.

Every function takes the `trials` DataFrame the study runner produces (one row per trial:
`trial_id`, `group`, `variant`, `seed`, `status`, `config`, one column per grid key named by
its dotted key, and the metric columns `best_{split}_{loss|accuracy}`,
`final_{split}_{loss|accuracy}`, `best_epoch`, `epochs_run`, `wall_time_s`, `training_flops`,
`params`, `diagnostics`, `error`) and returns plain numbers or DataFrames; nothing is stored.

Which trials count:
- `done` trials give the means, intervals and tests;
- `diverged` trials are a result, counted in `n_diverged`, and left out of every mean (their
  losses are NaN or huge, and averaging them in would hide the divergence inside a number);
- `failed`, `pending` and `running` trials are counted and otherwise ignored.

Seeds are paired: seed s gives every configuration the same initial weights and data order,
so two configurations are compared seed by seed (a paired t-test), which removes the
seed-to-seed variation they share.

Metric names are those of the select spec: `valid_loss` means the column `best_valid_loss`
(the metric at each trial's best epoch); `final_valid_loss`, `best_valid_loss`, and any other
column (`wall_time_s`, `epochs_run`) are taken as they are.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from nnstudy.errors import ConfigError

SPLITS = ("train", "valid", "test")
SUMMARY_METRICS = tuple(f"{split}_{m}" for m in ("loss", "accuracy") for split in SPLITS)
STANDARD_COLUMNS = frozenset(
    ["trial_id", "group", "variant", "seed", "status", "config", "best_epoch", "epochs_run",
     "wall_time_s", "training_flops", "params", "diagnostics", "error"]
    + [f"{p}_{m}" for p in ("best", "final") for m in SUMMARY_METRICS]
)


# --------------------------------------------------------------------------- names and labels

def metric_column(trials: pd.DataFrame, metric: str) -> str:
    """The column a metric name refers to: `valid_loss` -> `best_valid_loss`; a name that is
    already a column is itself. Raises ConfigError naming the metric when there is none."""
    if metric in trials.columns:
        return metric
    if f"best_{metric}" in trials.columns:
        return f"best_{metric}"
    known = [c[len("best_"):] for c in trials.columns if c.startswith("best_")]
    raise ConfigError(f"select.metric: {metric!r} is not a metric of these trials; known: "
                      f"{', '.join(known) or 'none'}")


def resolve_mode(metric: str, mode: str) -> str:
    """`min` or `max`; `auto` means max for accuracies and min for everything else."""
    if mode == "auto":
        return "max" if metric.endswith("accuracy") else "min"
    if mode not in ("min", "max"):
        raise ConfigError(f"select.mode: {mode!r} is not one of min, max, auto")
    return mode


def grid_keys(trials: pd.DataFrame) -> list[str]:
    """The keys that tell configurations apart: `variant` (when any trial has one), then every
    column that is not a standard column, in column order (the dotted grid keys)."""
    keys = [c for c in trials.columns if c not in STANDARD_COLUMNS]
    if "variant" in trials.columns and (trials["variant"].fillna("").astype(str) != "").any():
        keys.insert(0, "variant")
    return keys


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
    short key: {train.optimizer: adam, train.lr: 0.001} -> `adam lr 0.001`."""
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


def _hashable(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def group_rows(trials: pd.DataFrame, keys: Sequence[str]
               ) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Rows grouped by the values of `keys`, in order of first appearance (the grid order):
    (values, row positions for `.iloc`). Own grouping rather than DataFrame.groupby: grid
    values may be lists (hidden sizes), and positions do not care about the index."""
    order: dict[tuple, list[int]] = {}
    first: dict[tuple, dict[str, Any]] = {}
    for position, row in enumerate(trials[list(keys)].itertuples(index=False)):
        key = tuple(_hashable(v) for v in row)
        if key not in order:
            order[key] = []
            first[key] = dict(zip(keys, row, strict=True))
        order[key].append(position)
    return [(first[k], np.asarray(rows, dtype=int)) for k, rows in order.items()]


def _finite(values: Iterable[Any]) -> np.ndarray:
    array = np.asarray(pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce"),
                       dtype=float)
    return array[np.isfinite(array)]


def _per_seed(rows: pd.DataFrame, column: str) -> dict[int, float]:
    """Seed -> value over done trials with a finite value; repeated seeds are averaged."""
    done = rows[rows["status"] == "done"]
    values = pd.to_numeric(done[column], errors="coerce")
    keep = np.isfinite(values.to_numpy(dtype=float))
    series = pd.Series(values.to_numpy(dtype=float)[keep], index=done["seed"].to_numpy()[keep])
    return {int(s): float(v) for s, v in series.groupby(level=0, sort=True).mean().items()}


# --------------------------------------------------------------------------- mean and interval

def mean_ci(values: Iterable[float], level: float = 0.95
            ) -> tuple[float, float, float, float, int]:
    """Mean, standard deviation and Student t confidence interval of the finite values.

        n    = number of finite values (NaN and inf are dropped: a diverged run has no loss)
        mean = sum(x) / n
        std  = sqrt(sum((x - mean)^2) / (n - 1))
        h    = t_{(1 + level) / 2, n - 1} * std / sqrt(n)
        CI   = [mean - h, mean + h]

    Returns (mean, std, lo, hi, n). With n = 1 the std and the bounds are NaN: one seed gives
    no interval, and none is invented. With n = 0 everything is NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = _finite(values)
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan, 1
    std = float(x.std(ddof=1))
    half = float(sps.t.ppf((1 + level) / 2, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half, n


# --------------------------------------------------------------------------- aggregate

def aggregate(trials: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str],
              level: float = 0.95) -> pd.DataFrame:
    """One row per configuration (the distinct values of `keys`, in grid order).

    Columns: the keys; `config` (the runner's label) and `label` (`adam lr 0.001`); `n` (done
    trials), `n_diverged`, `n_failed`, `n_pending` (pending or running); and for each metric m
    `m_mean`, `m_std`, `m_lo`, `m_hi`, `m_n` from `mean_ci` over the done trials with a finite
    value. Diverged and failed trials are in no mean.
    """
    keys = list(keys)
    columns = {m: metric_column(trials, m) for m in metrics}
    rows = []
    for values, index in group_rows(trials, keys):
        part = trials.iloc[index]
        status = part["status"].astype(str)
        done = part[status == "done"]
        row: dict[str, Any] = dict(values)
        row["config"] = str(part["config"].iloc[0]) if "config" in part else ""
        row["label"] = config_label(values, keys) if keys else row["config"] or "base"
        row["n"] = int((status == "done").sum())
        row["n_diverged"] = int((status == "diverged").sum())
        row["n_failed"] = int((status == "failed").sum())
        row["n_pending"] = int(status.isin(["pending", "running"]).sum())
        for name, column in columns.items():
            mean, std, lo, hi, n = mean_ci(done[column], level)
            row.update({f"{name}_mean": mean, f"{name}_std": std, f"{name}_lo": lo,
                        f"{name}_hi": hi, f"{name}_n": n})
        rows.append(row)
    stat_columns = [f"{m}_{s}" for m in metrics for s in ("mean", "std", "lo", "hi", "n")]
    out = pd.DataFrame(rows, columns=[*keys, "config", "label", "n", "n_diverged", "n_failed",
                                      "n_pending", *stat_columns])
    return out


def _rank(table: pd.DataFrame, column: str, mode: str) -> pd.DataFrame:
    """Rows with a finite value, best first; ties keep grid order (a stable sort)."""
    finite = table[np.isfinite(table[column].to_numpy(dtype=float))]
    return finite.sort_values(column, ascending=(mode == "min"), kind="mergesort")


# --------------------------------------------------------------------------- compare

@dataclass(frozen=True)
class Comparison:
    """The winner against the runner-up, and whether the data can tell them apart.

    `test` is `paired` (t-test over the seeds both have), `welch` (when fewer than two seeds are
    shared but each has two or more values), or `none` (too few seeds, or fewer than two
    configurations with results). `n_seeds` is the number of pairs for the paired test, else
    the smaller of the two sample sizes.
    """

    metric: str
    mode: str
    level: float
    best: str | None
    runner_up: str | None
    best_values: dict[str, Any] = field(default_factory=dict)
    runner_up_values: dict[str, Any] = field(default_factory=dict)
    best_mean: float = math.nan
    runner_up_mean: float = math.nan
    test: str = "none"
    n_seeds: int = 0
    n_best: int = 0
    n_runner_up: int = 0
    statistic: float = math.nan
    df: float = math.nan
    p_value: float = math.nan
    distinguishable: bool | None = None
    sentence: str = ""


def paired_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Paired t-test of a against b (same length, matched by seed).

        d_i = a_i - b_i,  n pairs,  dbar = mean(d),  s_d = sqrt(sum((d_i - dbar)^2) / (n - 1))
        t   = dbar / (s_d / sqrt(n)),  df = n - 1,  p = 2 * (1 - F_t(|t|; df))

    Returns (t, df, p). When every difference is the same (s_d = 0) the test degenerates:
    p = 1 if that difference is 0, else p = 0 (t = ±inf).
    """
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = d.size
    if n < 2:
        raise ValueError(f"a paired t-test needs at least 2 pairs, got {n}")
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    if sd == 0:
        return (0.0, n - 1.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), n - 1.0, 0.0)
    t = mean / (sd / math.sqrt(n))
    return t, n - 1.0, float(2 * sps.t.sf(abs(t), n - 1))


def welch_t(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Welch's t-test of two independent samples (unequal variances).

        v_a = s_a^2 / n_a,  v_b = s_b^2 / n_b
        t   = (mean_a - mean_b) / sqrt(v_a + v_b)
        df  = (v_a + v_b)^2 / (v_a^2 / (n_a - 1) + v_b^2 / (n_b - 1))   (Welch-Satterthwaite)
        p   = 2 * (1 - F_t(|t|; df))

    Returns (t, df, p); with both variances 0 the test degenerates as in `paired_t`.
    """
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size < 2 or y.size < 2:
        raise ValueError(f"Welch's t-test needs 2 values per sample, got {x.size} and {y.size}")
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    diff = float(x.mean() - y.mean())
    if va + vb == 0:
        df = float(x.size + y.size - 2)
        return (0.0, df, 1.0) if diff == 0 else (math.copysign(math.inf, diff), df, 0.0)
    t = diff / math.sqrt(va + vb)
    df = float((va + vb) ** 2 / (va**2 / (x.size - 1) + vb**2 / (y.size - 1)))
    return t, df, float(2 * sps.t.sf(abs(t), df))


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


def compare(trials: pd.DataFrame, keys: Sequence[str], metric: str, mode: str = "auto",
            level: float = 0.95) -> Comparison:
    """The best and second-best configurations by mean `metric`, and a test between them.

    A paired t-test over the seeds both have (see `paired_t`) when at least two are shared;
    otherwise Welch's t-test (see `welch_t`) when each has two or more values; otherwise no
    test. They are distinguishable at `level` when p < 1 - level. The sentence says it:
    "adam lr 0.001 is best, but not distinguishable from rmsprop lr 0.001 at 95%
    (p = 0.31, 3 seeds)".
    """
    keys = list(keys)
    mode = resolve_mode(metric, mode)
    column = metric_column(trials, metric)
    table = aggregate(trials, keys, [metric], level)
    ranked = _rank(table, f"{metric}_mean", mode)
    base = {"metric": metric, "mode": mode, "level": level}
    if ranked.empty:
        return Comparison(**base, best=None, runner_up=None,
                          sentence=f"no configuration has a finite {metric}: nothing to compare")
    first = ranked.iloc[0]
    best_values = {k: first[k] for k in keys}
    winner = {**base, "best": str(first["label"]), "best_values": best_values,
              "best_mean": float(first[f"{metric}_mean"]), "n_best": int(first[f"{metric}_n"])}
    if len(ranked) == 1:
        return Comparison(**winner, runner_up=None,
                          sentence=f"{first['label']} is the only configuration with results")
    second = ranked.iloc[1]
    runner_values = {k: second[k] for k in keys}
    pair = {**winner, "runner_up": str(second["label"]), "runner_up_values": runner_values,
            "runner_up_mean": float(second[f"{metric}_mean"]),
            "n_runner_up": int(second[f"{metric}_n"])}
    a = _per_seed(_select(trials, keys, best_values), column)
    b = _per_seed(_select(trials, keys, runner_values), column)
    shared = sorted(set(a) & set(b))
    at = format_level(level)
    if len(shared) >= 2:
        t, df, p = paired_t([a[s] for s in shared], [b[s] for s in shared])
        test, n_seeds, detail = "paired", len(shared), f"{len(shared)} seeds"
    elif len(a) >= 2 and len(b) >= 2:
        t, df, p = welch_t(list(a.values()), list(b.values()))
        test, n_seeds = "welch", min(len(a), len(b))
        detail = f"Welch, {len(a)} and {len(b)} seeds"
    else:
        one = "one seed" if max(len(a), len(b)) <= 1 else "too few seeds"
        sentence = (f"{one}: cannot tell whether {first['label']} is better than "
                    f"{second['label']} (run more seeds)")
        return Comparison(**pair, n_seeds=len(shared), sentence=sentence)
    distinguishable = p < 1 - level
    verdict = "distinguishable from" if distinguishable else "but not distinguishable from"
    sentence = (f"{first['label']} is best, {verdict} {second['label']} at {at} "
                f"({format_p(p)}, {detail})")
    return Comparison(**pair, test=test, n_seeds=n_seeds, statistic=t, df=df, p_value=p,
                      distinguishable=distinguishable, sentence=sentence)


def _select(trials: pd.DataFrame, keys: Sequence[str], values: dict[str, Any]) -> pd.DataFrame:
    """The trials whose keys equal `values`."""
    target = tuple(_hashable(values[k]) for k in keys)
    mask = [tuple(_hashable(v) for v in row) == target
            for row in trials[list(keys)].itertuples(index=False)]
    return trials[np.asarray(mask, dtype=bool)] if keys else trials


# --------------------------------------------------------------------------- best per group

BEST_COLUMNS = (*SUMMARY_METRICS, "best_epoch", "epochs_run")


def best_per(trials: pd.DataFrame, keys: Sequence[str], metric: str, mode: str = "auto",
             per: Sequence[str] = (), level: float = 0.95) -> pd.DataFrame:
    """The best configuration overall (per = []) or for each value of the `per` keys: the
    reports' "best learning rate per optimizer" table.

    Best means the best mean `metric` over done trials. One row per group, in grid order,
    with columns: the `per` keys, the other keys, `label` (the other keys, or the whole
    configuration when per is empty), `n`, `n_diverged`, `n_failed`; `select_mean`,
    `select_std`, `select_lo`, `select_hi`, `select_n` (the selection metric and its
    interval); and the means over seeds of `train_loss`, `valid_loss`, `test_loss`,
    `train_accuracy`, `valid_accuracy`, `test_accuracy` (at each trial's best epoch),
    `best_epoch` and `epochs_run`. A group where no configuration has a finite metric keeps
    its row, with label "none finished" and NaN figures.
    """
    keys, per = list(keys), list(per)
    missing = [p for p in per if p not in keys]
    if missing:
        raise ConfigError(f"select.per: {missing[0]!r} is not a grid key; keys: "
                          f"{', '.join(keys) or 'none'}")
    mode = resolve_mode(metric, mode)
    others = [k for k in keys if k not in per]
    shown = [m for m in BEST_COLUMNS if has_metric(trials, m)]
    table = aggregate(trials, keys, [metric, *(m for m in shown if m != metric)], level)
    rows = []
    for group_values, index in group_rows(table, per):
        part = table.iloc[index]
        ranked = _rank(part, f"{metric}_mean", mode)
        row: dict[str, Any] = dict(group_values)
        if ranked.empty:
            row.update({k: None for k in others})
            row.update(label="none finished", n=int(part["n"].sum()),
                       n_diverged=int(part["n_diverged"].sum()),
                       n_failed=int(part["n_failed"].sum()))
            row.update({f"select_{s}": math.nan for s in ("mean", "std", "lo", "hi")})
            row["select_n"] = 0
            row.update({m: math.nan for m in shown})
        else:
            top = ranked.iloc[0]
            row.update({k: top[k] for k in others})
            label = config_label({k: top[k] for k in others}, keys) if others else "—"
            row.update(label=label if per else str(top["label"]), n=int(top["n"]),
                       n_diverged=int(top["n_diverged"]), n_failed=int(top["n_failed"]))
            row.update({f"select_{s}": top[f"{metric}_{s}"]
                        for s in ("mean", "std", "lo", "hi", "n")})
            row.update({m: top[f"{m}_mean"] for m in shown})
        rows.append(row)
    columns = [*per, *others, "label", "n", "n_diverged", "n_failed", "select_mean",
               "select_std", "select_lo", "select_hi", "select_n", *shown]
    return pd.DataFrame(rows, columns=columns)


def has_metric(trials: pd.DataFrame, metric: str) -> bool:
    """Whether `metric_column` would find a column for `metric`."""
    return metric in trials.columns or f"best_{metric}" in trials.columns


# --------------------------------------------------------------------------- main effects

def metric_kind(metric: str) -> str:
    """`accuracy` (differences in percentage points), `loss`, or `other`."""
    if metric.endswith("accuracy"):
        return "accuracy"
    return "loss" if metric.endswith("loss") else "other"


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


def main_effects(trials: pd.DataFrame, keys: Sequence[str], metric: str,
                 level: float = 0.95) -> pd.DataFrame:
    """For each grid key with two or more values, and each of its values v (first value v0 is
    the reference), the effect of changing that key alone.

        mean(v)  = mean of the metric over the done trials with key = v (so averaged over the
                   other keys and the seeds)
        d_c      = y(key = v, c) - y(key = v0, c) for each cell c = (values of the other keys,
                   seed) where both trials are done with a finite metric
        diff     = mean(d_c), with the Student t interval of `mean_ci` over the cells

    Columns: `key`, `value`, `label` (`dropout 0.5`), `mean`, `n` (trials in the mean),
    `n_diverged` (trials with key = v that diverged: in no mean and no pair, so a value whose
    trials often diverge can look good here; the count says so), `diff`, `diff_lo`,
    `diff_hi`, `n_pairs`, `text` (see `format_effect`; the reference row reads
    "dropout 0: reference").
    """
    keys = list(keys)
    column = metric_column(trials, metric)
    kind = metric_kind(metric)
    done = trials[trials["status"].astype(str) == "done"]
    y = pd.to_numeric(done[column], errors="coerce").to_numpy(dtype=float)
    done = done[np.isfinite(y)].assign(_y=y[np.isfinite(y)])
    rows = []
    for key in keys:
        levels = group_rows(trials, [key])
        if len(levels) < 2:
            continue
        others = [k for k in keys if k != key]
        cells = {}
        for (value_dict, _) in levels:
            part = _select(done, [key], value_dict)
            by_cell: dict[tuple, list[float]] = {}
            for row, value in zip(part[[*others, "seed"]].itertuples(index=False),
                                  part["_y"], strict=True):
                by_cell.setdefault(tuple(_hashable(v) for v in row), []).append(float(value))
            cells[_hashable(value_dict[key])] = {c: float(np.mean(v)) for c, v in by_cell.items()}
        reference = cells[_hashable(levels[0][0][key])]
        for position, (value_dict, index) in enumerate(levels):
            value = value_dict[key]
            n_diverged = int((trials["status"].iloc[index].astype(str) == "diverged").sum())
            here = cells[_hashable(value)]
            ys = list(here.values())
            mean = float(np.mean(ys)) if ys else math.nan
            label = effect_label(key, value, keys)
            if position == 0:
                rows.append({"key": key, "value": value, "label": label, "mean": mean,
                             "n": len(ys), "n_diverged": n_diverged, "diff": 0.0, "diff_lo": math.nan,
                             "diff_hi": math.nan, "n_pairs": len(ys),
                             "text": f"{label}: reference"})
                continue
            shared = [c for c in here if c in reference]
            d = [here[c] - reference[c] for c in shared]
            diff, _, lo, hi, n_pairs = mean_ci(d, level)
            rows.append({"key": key, "value": value, "label": label, "mean": mean,
                         "n": len(ys), "n_diverged": n_diverged, "diff": diff, "diff_lo": lo, "diff_hi": hi,
                         "n_pairs": n_pairs, "text": format_effect(label, diff, lo, hi, kind)})
    return pd.DataFrame(rows, columns=["key", "value", "label", "mean", "n", "n_diverged",
                                       "diff", "diff_lo", "diff_hi", "n_pairs", "text"])
