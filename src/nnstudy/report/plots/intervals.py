"""The spread drawn around a mean over seeds: a Student t interval, or the range.

Only finite values count: a diverged seed has no loss, and a NaN must not turn a whole
band into NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal, NamedTuple

import numpy as np

from nnstudy.study.statistics import finite_values, mean_ci, t_quantile

Band = Literal["ci", "minmax"]
BANDS = ("ci", "minmax")


class Interval(NamedTuple):
    """A mean with a lower and an upper bound, over `n` finite values."""

    mean: float
    lo: float
    hi: float
    n: int


def t_interval(values: Iterable[float], level: float = 0.95) -> Interval:
    """The mean and its Student t confidence interval (`nnstudy.study.statistics.mean_ci`):
    NaN bounds for one value (one seed gives no interval), everything NaN for none."""
    mean, _, lo, hi, n = mean_ci(values, level)
    return Interval(mean, lo, hi, n)


def min_max(values: Iterable[float]) -> Interval:
    """The mean with the smallest and largest value as bounds (NaN bounds for one value)."""
    x = finite_values(values)
    n = int(x.size)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    if n == 1:
        return Interval(float(x[0]), math.nan, math.nan, 1)
    return Interval(float(x.mean()), float(x.min()), float(x.max()), n)


def spread(values: Iterable[float], band: Band = "ci", level: float = 0.95) -> Interval:
    """`t_interval` for band `ci`, `min_max` for band `minmax`."""
    if band == "ci":
        return t_interval(values, level)
    if band == "minmax":
        return min_max(values)
    raise ValueError(f"band {band!r} is not one of {', '.join(BANDS)}")


def describe_band(band: Band, level: float, n: int) -> str:
    """The words a figure's caption uses: `band: 95% CI of the mean over 3 seeds (Student t)`."""
    seeds = f"{n} seed{'s' if n != 1 else ''}"
    if band == "ci":
        return f"line: mean over {seeds}; band: {level:.0%} CI of the mean (Student t)"
    return f"line: mean over {seeds}; band: min to max over seeds"


def spread_rows(matrix: np.ndarray, band: Band = "ci", level: float = 0.95
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`spread` of every row of a 2-D array at once (a learning curve: one row per epoch, one
    column per seed): arrays mean, lo, hi, n. Non-finite entries are left out row by row."""
    if band not in BANDS:
        raise ValueError(f"band {band!r} is not one of {', '.join(BANDS)}")
    x = np.asarray(matrix, dtype=float)
    ok = np.isfinite(x)
    n = ok.sum(axis=1)
    filled = np.where(ok, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=1) / n
        if band == "minmax":
            lo = np.where(ok, x, np.inf).min(axis=1)
            hi = np.where(ok, x, -np.inf).max(axis=1)
        else:
            dev = np.where(ok, x - mean[:, None], 0.0)
            std = np.sqrt((dev**2).sum(axis=1) / (n - 1))
            t = t_quantile((1 + level) / 2, np.maximum(n - 1, 1))
            half = t * std / np.sqrt(n)
            lo, hi = mean - half, mean + half
    few = n < 2
    lo = np.where(few, np.nan, lo)
    hi = np.where(few, np.nan, hi)
    mean = np.where(n == 0, np.nan, mean)
    return mean, lo, hi, n
