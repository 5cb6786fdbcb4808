"""The intervals drawn around means: Student t against scipy, the range, row by row."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from nnstudy.report.plots.intervals import min_max, spread_rows, t_interval

samples = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=12).filter(
    lambda v: np.std(v) > 1e-6)


@given(samples, st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_t_interval_matches_scipy(values, level):
    x = np.asarray(values)
    lo, hi = stats.t.interval(level, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    interval = t_interval(values, level)
    assert interval.n == len(x)
    assert interval.mean == pytest.approx(x.mean(), rel=1e-12, abs=1e-9)
    assert interval.lo == pytest.approx(lo, rel=1e-9, abs=1e-9)
    assert interval.hi == pytest.approx(hi, rel=1e-9, abs=1e-9)


def test_t_interval_drops_nan_and_inf_and_invents_no_interval_for_one_value():
    assert t_interval([1.0, float("nan"), 3.0, float("inf")]) == t_interval([1.0, 3.0])
    one = t_interval([2.5, float("nan")])
    assert one.mean == 2.5 and one.n == 1 and math.isnan(one.lo) and math.isnan(one.hi)
    none = t_interval([])
    assert none.n == 0 and math.isnan(none.mean)


def test_t_interval_refuses_a_level_outside_0_1():
    with pytest.raises(ValueError, match="level"):
        t_interval([1, 2], level=95)


def test_min_max_is_the_range():
    assert min_max([3.0, 1.0, 2.0, float("nan")]) == (2.0, 1.0, 3.0, 3)


@pytest.mark.parametrize("band", ["ci", "minmax"])
def test_spread_rows_equals_the_interval_of_each_row(band):
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(6, 4))
    matrix[1, 2] = np.nan
    matrix[2, 1:] = np.nan  # one value left: no band
    matrix[3, :] = np.nan   # none left
    mean, lo, hi, n = spread_rows(matrix, band, 0.9)
    for r, row in enumerate(matrix):
        expected = t_interval(row, 0.9) if band == "ci" else min_max(row)
        np.testing.assert_allclose([mean[r], lo[r], hi[r]], expected[:3], rtol=1e-12,
                                   equal_nan=True)
        assert n[r] == expected.n
