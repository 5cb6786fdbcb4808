"""Pure statistics of a study: the mean with its Student t interval, and the paired and
Welch t-tests. Plain numbers in, plain numbers out; no tables, no words.

Every function drops values that are not finite numbers (NaN, inf, None, text): a diverged
run has no loss, and averaging a huge or missing one in would hide the divergence inside a
number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

# scipy.special's Student t functions, which scipy.stats.t calls (t.ppf(q, df) is
# stdtrit(df, q), t.sf(x, df) is stdtr(df, -x)), without importing scipy.stats: half a
# second of every `nnstudy study run` before its first unit could start.
from scipy.special import stdtr, stdtrit


def t_quantile(q: Any, df: Any) -> Any:
    """The Student t distribution's q-quantile with df degrees of freedom (scipy.stats.t.ppf);
    numbers or arrays."""
    return stdtrit(df, q)


def t_two_sided_p(t: float, df: float) -> float:
    """The two-sided p-value of a t statistic: 2 P(T > |t|) (2 scipy.stats.t.sf(|t|, df))."""
    return float(2 * stdtr(df, -abs(t)))


def finite_values(values: Iterable[Any]) -> np.ndarray:
    """The values that are finite numbers, as float64, in their order."""
    out = []
    for value in values:
        try:
            x = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(x):
            out.append(x)
    return np.asarray(out, dtype=float)


def mean_ci(values: Iterable[Any], level: float = 0.95
            ) -> tuple[float, float, float, float, int]:
    """Mean, standard deviation and Student t confidence interval of the finite values.

        n    = number of finite values
        mean = sum(x) / n
        std  = sqrt(sum((x - mean)^2) / (n - 1))
        h    = t_{(1 + level) / 2, n - 1} * std / sqrt(n)
        CI   = [mean - h, mean + h]

    Returns (mean, std, lo, hi, n). With n = 1 the std and the bounds are NaN: one seed gives
    no interval, and none is invented. With n = 0 everything is NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = finite_values(values)
    n = int(x.size)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan, 1
    std = float(x.std(ddof=1))
    half = float(t_quantile((1 + level) / 2, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half, n


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
    return t, n - 1.0, t_two_sided_p(t, n - 1)


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
    return t, df, t_two_sided_p(t, df)
