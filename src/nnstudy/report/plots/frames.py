"""Reading the tables the plots take: required columns, configurations, metric values.

The plots take plain pandas DataFrames:
- a trials table: one row per trial, with `trial_id`, `status` (done, diverged, failed,
  pending, running), `seed`, one column per grid key (`train.optimizer`, `train.lr`) and
  metric columns (`best_test_accuracy`, `training_flops`, `wall_time_s`, ...);
- an epochs table: one row per (trial, epoch, split) with `trial_id`, `epoch`, `split`,
  `loss`, `accuracy`; epoch 0 is the untrained model.
Only `done` trials give means; `diverged` trials are counted and drawn as such.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nnstudy.errors import ConfigError


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise ConfigError naming the missing columns of `frame` and the ones it has."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{what}: no column {', '.join(repr(c) for c in missing)}; it has "
                          f"{', '.join(map(str, frame.columns)) or 'no columns'}")


def hashable(value: Any) -> Any:
    """A grid value as a dictionary key: lists (hidden sizes) become tuples, NaN one token."""
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def configurations(frame: pd.DataFrame, keys: Sequence[str]
                   ) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Rows grouped by the values of `keys`, in order of first appearance (the grid order):
    (values, row positions for `.iloc`). With no keys every row is one configuration.
    Not DataFrame.groupby: grid values may be lists, and groupby sorts."""
    if not keys:
        return [({}, np.arange(len(frame)))]
    order: dict[tuple, list[int]] = {}
    first: dict[tuple, dict[str, Any]] = {}
    for position, row in enumerate(frame[list(keys)].itertuples(index=False)):
        key = tuple(hashable(v) for v in row)
        if key not in order:
            order[key] = []
            first[key] = dict(zip(keys, row, strict=True))
        order[key].append(position)
    return [(first[k], np.asarray(v, dtype=int)) for k, v in order.items()]


def key_values(frame: pd.DataFrame, key: str) -> list[Any]:
    """The distinct values of one key, in order of first appearance."""
    return [values[key] for values, _ in configurations(frame, [key])]


def as_float(values: Any) -> np.ndarray:
    """A column as floats; anything that is not a number becomes NaN."""
    return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)


def done_values(rows: pd.DataFrame, column: str) -> np.ndarray:
    """The finite values of `column` over the rows whose status is done."""
    done = rows[rows["status"].astype(str) == "done"]
    values = as_float(done[column])
    return values[np.isfinite(values)]


def count_status(rows: pd.DataFrame, status: str) -> int:
    """How many rows have this status."""
    return int((rows["status"].astype(str) == status).sum())
