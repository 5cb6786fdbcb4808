"""Aggregation of a study's trial table (see `trials.py`): mean ± Student t interval per
configuration, the winner against the runner-up, the best configuration per group of keys,
and main effects. Tables and numbers in, tables and numbers out: the words a report puts
around them are `nnstudy.report`'s.

Which trials count:
- `done` trials give the means, intervals and tests;
- `diverged` trials are a result, counted in `n_diverged`, and left out of every mean (their
  losses are NaN or huge, and averaging them in would hide the divergence inside a number);
- `failed`, `pending` and `running` trials are counted and otherwise ignored.

Seeds are paired: seed s gives every configuration the same initial weights and data order,
so two configurations are compared seed by seed (a paired t-test), which removes the
seed-to-seed variation they share.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nnstudy.errors import ConfigError
from nnstudy.study.statistics import finite_values, mean_ci, paired_t, welch_t
from nnstudy.study.trials import SUMMARY_METRICS, has_metric, metric_column

STATS = ("mean", "std", "lo", "hi", "n")
BEST_COLUMNS = (*SUMMARY_METRICS, "best_epoch", "epochs_run")


def resolve_mode(metric: str, mode: str) -> str:
    """`min` or `max`; `auto` means max for accuracies and min for everything else."""
    if mode == "auto":
        return "max" if metric.endswith("accuracy") else "min"
    if mode not in ("min", "max"):
        raise ConfigError(f"select.mode: {mode!r} is not one of min, max, auto")
    return mode


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
    (values, row positions for `.iloc`). No keys: one group of every row. Own grouping rather
    than DataFrame.groupby: grid values may be lists (hidden sizes), and positions do not care
    about the index."""
    keys = list(keys)
    if not keys:
        # A frame of no columns has no rows to iterate over (pandas >= 2.1): group directly.
        return [({}, np.arange(len(trials)))] if len(trials) else []
    order: dict[tuple, list[int]] = {}
    first: dict[tuple, dict[str, Any]] = {}
    for position, row in enumerate(trials[keys].itertuples(index=False)):
        key = tuple(_hashable(v) for v in row)
        if key not in order:
            order[key] = []
            first[key] = dict(zip(keys, row, strict=True))
        order[key].append(position)
    return [(first[k], np.asarray(rows, dtype=int)) for k, rows in order.items()]


def _select(trials: pd.DataFrame, keys: Sequence[str], values: dict[str, Any]) -> pd.DataFrame:
    """The trials whose keys equal `values`."""
    if not keys:
        return trials
    target = tuple(_hashable(values[k]) for k in keys)
    mask = [tuple(_hashable(v) for v in row) == target
            for row in trials[list(keys)].itertuples(index=False)]
    return trials[np.asarray(mask, dtype=bool)]


def _per_seed(rows: pd.DataFrame, column: str) -> dict[int, float]:
    """Seed -> value over done trials with a finite value; repeated seeds are averaged."""
    values: dict[int, list[float]] = {}
    done = rows[rows["status"].astype(str) == "done"]
    for seed, value in zip(done["seed"], done[column], strict=True):
        x = finite_values([value])
        if x.size:
            values.setdefault(int(seed), []).append(float(x[0]))
    return {s: float(np.mean(values[s])) for s in sorted(values)}


# --------------------------------------------------------------------------- aggregate

def aggregate(trials: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str],
              level: float = 0.95) -> pd.DataFrame:
    """One row per configuration (the distinct values of `keys`, in grid order).

    Columns: the keys; `config` (the runner's label of the configuration); `n` (done
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
        row["n"] = int((status == "done").sum())
        row["n_diverged"] = int((status == "diverged").sum())
        row["n_failed"] = int((status == "failed").sum())
        row["n_pending"] = int(status.isin(["pending", "running"]).sum())
        for name, column in columns.items():
            row.update(zip((f"{name}_{s}" for s in STATS), mean_ci(done[column], level),
                           strict=True))
        rows.append(row)
    stat_columns = [f"{m}_{s}" for m in metrics for s in STATS]
    return pd.DataFrame(rows, columns=[*keys, "config", "n", "n_diverged", "n_failed",
                                       "n_pending", *stat_columns])


def _rank(table: pd.DataFrame, column: str, mode: str) -> pd.DataFrame:
    """Rows with a finite value, best first; ties keep grid order (a stable sort)."""
    finite = table[np.isfinite(table[column].to_numpy(dtype=float))]
    return finite.sort_values(column, ascending=(mode == "min"), kind="mergesort")


# --------------------------------------------------------------------------- compare

@dataclass(frozen=True)
class Comparison:
    """The winner against the runner-up, and whether the data can tell them apart.

    `best_values` and `runner_up_values` are the keys' values of the two configurations
    (None when there is none: no configuration has a finite metric, or only one has).
    `test` is `paired` (t-test over the seeds both have), `welch` (when fewer than two seeds
    are shared but each has two or more values), or `none` (too few seeds, or fewer than two
    configurations with results). `seeds_best` and `seeds_runner_up` count the seeds with a
    value; `n_seeds` is the number of pairs for the paired test, else the smaller of the two.
    They are `distinguishable` at `level` when p < 1 - level (None without a test).
    """

    metric: str
    mode: str
    level: float
    best_values: dict[str, Any] | None = None
    runner_up_values: dict[str, Any] | None = None
    best_mean: float = math.nan
    runner_up_mean: float = math.nan
    n_best: int = 0
    n_runner_up: int = 0
    seeds_best: int = 0
    seeds_runner_up: int = 0
    test: str = "none"
    n_seeds: int = 0
    statistic: float = math.nan
    df: float = math.nan
    p_value: float = math.nan
    distinguishable: bool | None = None


def compare(trials: pd.DataFrame, keys: Sequence[str], metric: str, mode: str = "auto",
            level: float = 0.95) -> Comparison:
    """The best and second-best configurations by mean `metric`, and a test between them.

    A paired t-test over the seeds both have (see `paired_t`) when at least two are shared;
    otherwise Welch's t-test (see `welch_t`) when each has two or more values; otherwise no
    test.
    """
    keys = list(keys)
    mode = resolve_mode(metric, mode)
    column = metric_column(trials, metric)
    ranked = _rank(aggregate(trials, keys, [metric], level), f"{metric}_mean", mode)
    base = {"metric": metric, "mode": mode, "level": level}
    if ranked.empty:
        return Comparison(**base)
    first = ranked.iloc[0]
    best_values = {k: first[k] for k in keys}
    a = _per_seed(_select(trials, keys, best_values), column)
    winner = {**base, "best_values": best_values, "best_mean": float(first[f"{metric}_mean"]),
              "n_best": int(first[f"{metric}_n"]), "seeds_best": len(a)}
    if len(ranked) == 1:
        return Comparison(**winner)
    second = ranked.iloc[1]
    runner_values = {k: second[k] for k in keys}
    b = _per_seed(_select(trials, keys, runner_values), column)
    pair = {**winner, "runner_up_values": runner_values,
            "runner_up_mean": float(second[f"{metric}_mean"]),
            "n_runner_up": int(second[f"{metric}_n"]), "seeds_runner_up": len(b)}
    shared = sorted(set(a) & set(b))
    if len(shared) >= 2:
        t, df, p = paired_t([a[s] for s in shared], [b[s] for s in shared])
        test, n_seeds = "paired", len(shared)
    elif len(a) >= 2 and len(b) >= 2:
        t, df, p = welch_t(list(a.values()), list(b.values()))
        test, n_seeds = "welch", min(len(a), len(b))
    else:
        return Comparison(**pair, n_seeds=len(shared))
    return Comparison(**pair, test=test, n_seeds=n_seeds, statistic=t, df=df, p_value=p,
                      distinguishable=bool(p < 1 - level))


def compare_per(trials: pd.DataFrame, keys: Sequence[str], per: Sequence[str], metric: str,
                mode: str = "auto", level: float = 0.95
                ) -> list[tuple[dict[str, Any], Comparison]]:
    """`compare` inside each group of the `per` keys that holds two or more configurations:
    (the group's `per` values, its comparison), in grid order."""
    out = []
    for values, index in group_rows(trials, per):
        part = trials.iloc[index]
        if len(group_rows(part, keys)) > 1:
            out.append((values, compare(part, keys, metric, mode, level)))
    return out


# --------------------------------------------------------------------------- best per group

def best_per(trials: pd.DataFrame, keys: Sequence[str], metric: str, mode: str = "auto",
             per: Sequence[str] = (), level: float = 0.95) -> pd.DataFrame:
    """The best configuration overall (per = []) or for each value of the `per` keys: the
    reports' "best learning rate per optimizer" table.

    Best means the best mean `metric` over done trials. One row per group, in grid order,
    with columns: the `per` keys, the other keys, `config` (the runner's label), `n`,
    `n_diverged`, `n_failed`; `select_mean`, `select_std`, `select_lo`, `select_hi`,
    `select_n` (the selection metric and its interval); and the means over seeds of
    `train_loss`, `valid_loss`, `test_loss`, `train_accuracy`, `valid_accuracy`,
    `test_accuracy` (at each trial's best epoch), `best_epoch` and `epochs_run`. A group where
    no configuration has a finite metric keeps its row, with `select_n` 0, the other keys
    None and NaN figures.
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
            row.update(config="", n=int(part["n"].sum()),
                       n_diverged=int(part["n_diverged"].sum()),
                       n_failed=int(part["n_failed"].sum()))
            row.update({f"select_{s}": math.nan for s in ("mean", "std", "lo", "hi")})
            row["select_n"] = 0
            row.update({m: math.nan for m in shown})
        else:
            top = ranked.iloc[0]
            row.update({k: top[k] for k in others})
            row.update(config=top["config"], n=int(top["n"]), n_diverged=int(top["n_diverged"]),
                       n_failed=int(top["n_failed"]))
            row.update({f"select_{s}": top[f"{metric}_{s}"] for s in STATS})
            row.update({m: top[f"{m}_mean"] for m in shown})
        rows.append(row)
    columns = [*per, *others, "config", "n", "n_diverged", "n_failed",
               *(f"select_{s}" for s in STATS), *shown]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- main effects

def main_effects(trials: pd.DataFrame, keys: Sequence[str], metric: str,
                 level: float = 0.95) -> pd.DataFrame:
    """For each grid key with two or more values, and each of its values v (the first value
    v0 is the reference), the effect of changing that key alone.

        mean(v)  = mean of the metric over the done trials with key = v (so averaged over the
                   other keys and the seeds)
        d_c      = y(key = v, c) - y(key = v0, c) for each cell c = (values of the other keys,
                   seed) where both trials are done with a finite metric
        diff     = mean(d_c), with the Student t interval of `mean_ci` over the cells

    Columns: `key`, `value`, `reference` (True for v0, whose diff is 0 with no interval),
    `mean`, `n` (trials in the mean), `n_diverged` (trials with key = v that diverged: in no
    mean and no pair, so a value whose trials often diverge can look good here; the count
    says so), `diff`, `diff_lo`, `diff_hi`, `n_pairs`.
    """
    keys = list(keys)
    column = metric_column(trials, metric)
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
        for value_dict, _ in levels:
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
            row = {"key": key, "value": value, "reference": position == 0,
                   "mean": float(np.mean(ys)) if ys else math.nan, "n": len(ys),
                   "n_diverged": n_diverged}
            if position == 0:
                row.update(diff=0.0, diff_lo=math.nan, diff_hi=math.nan, n_pairs=len(ys))
            else:
                d = [here[c] - reference[c] for c in here if c in reference]
                diff, _, lo, hi, n_pairs = mean_ci(d, level)
                row.update(diff=diff, diff_lo=lo, diff_hi=hi, n_pairs=n_pairs)
            rows.append(row)
    return pd.DataFrame(rows, columns=["key", "value", "reference", "mean", "n", "n_diverged",
                                       "diff", "diff_lo", "diff_hi", "n_pairs"])
