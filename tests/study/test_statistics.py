"""Pure statistics of a study, checked against figures computed by hand and against scipy.

Quantiles and p-values are cross-checked with closed forms of Student's t distribution:
  df = 1 (Cauchy):  F(t) = 1/2 + atan(t) / pi
  df = 2:           F(t) = 1/2 + t / (2 sqrt(2 + t^2)),   so  t_p = a sqrt(2 / (1 - a^2)), a = 2p - 1
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from nnstudy.study.statistics import finite_values, mean_ci, paired_t, welch_t

NAN = math.nan


def t_quantile_df2(p: float) -> float:
    a = 2 * p - 1
    return a * math.sqrt(2 / (1 - a * a))


def two_sided_p_df2(t: float) -> float:
    return 1 - abs(t) / math.sqrt(2 + t * t)


def test_finite_values_keeps_finite_numbers_in_order():
    values = [1, "2.5", None, NAN, math.inf, -math.inf, "adam", np.float32(0.5)]
    assert finite_values(values).tolist() == [1.0, 2.5, 0.5]
    assert finite_values([]).dtype == np.float64


# --------------------------------------------------------------------------- mean_ci

def test_mean_ci_matches_hand_computation_with_t_quantile():
    mean, std, lo, hi, n = mean_ci([1.0, 2.0, 4.0])
    # mean 7/3; squared deviations 16/9 + 1/9 + 25/9 = 42/9; s^2 = 21/9
    assert n == 3
    assert mean == pytest.approx(7 / 3)
    assert std == pytest.approx(math.sqrt(21 / 9))
    t = t_quantile_df2(0.975)
    assert t == pytest.approx(4.303, abs=5e-4)  # the textbook table value
    half = t * math.sqrt(21 / 9) / math.sqrt(3)
    # scipy 1.10's t quantile is good to about 1e-10 (relative); a wrong one is off by far more
    assert (lo, hi) == pytest.approx((7 / 3 - half, 7 / 3 + half), rel=1e-9)


def test_mean_ci_level_changes_the_quantile():
    _, _, lo, hi, _ = mean_ci([1.0, 2.0, 4.0], level=0.90)
    half = t_quantile_df2(0.95) * math.sqrt(21 / 9) / math.sqrt(3)
    assert hi - lo == pytest.approx(2 * half, rel=1e-12)


def test_mean_ci_two_values_uses_cauchy_quantile():
    mean, std, lo, hi, n = mean_ci([0.5, 0.7])
    t = math.tan(math.pi * (0.975 - 0.5))  # 12.706
    half = t * std / math.sqrt(2)
    assert (n, mean, std) == (2, pytest.approx(0.6), pytest.approx(math.sqrt(0.02)))
    assert (lo, hi) == pytest.approx((0.6 - half, 0.6 + half))


def test_mean_ci_one_value_has_no_interval():
    mean, std, lo, hi, n = mean_ci([0.3])
    assert (mean, n) == (0.3, 1)
    assert math.isnan(std) and math.isnan(lo) and math.isnan(hi)


def test_mean_ci_drops_nan_and_inf_and_empty_is_nan():
    assert mean_ci([1.0, NAN, 3.0, math.inf])[0] == 2.0
    assert mean_ci([1.0, NAN, 3.0, math.inf])[4] == 2
    mean, _, _, _, n = mean_ci([NAN])
    assert n == 0 and math.isnan(mean)


def test_mean_ci_rejects_a_level_outside_zero_one():
    with pytest.raises(ValueError, match="level"):
        mean_ci([1.0, 2.0], level=95)


# --------------------------------------------------------------------------- tests

def test_paired_t_matches_hand_computation():
    a, b = [0.20, 0.22, 0.19], [0.23, 0.25, 0.21]
    d = [-0.03, -0.03, -0.02]
    dbar = sum(d) / 3
    sd = math.sqrt(sum((x - dbar) ** 2 for x in d) / 2)
    t_hand = dbar / (sd / math.sqrt(3))
    t, df, p = paired_t(a, b)
    assert t == pytest.approx(t_hand) and t == pytest.approx(-8.0)
    assert df == 2
    assert p == pytest.approx(two_sided_p_df2(t_hand), rel=1e-9)


def test_welch_df_matches_welch_satterthwaite_by_hand():
    a, b = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0, 8.0]
    va, vb = 1.0 / 3, (20 / 3) / 4  # s_a^2 = 1, s_b^2 = 20/3
    t_hand = (2.0 - 5.0) / math.sqrt(va + vb)
    df_hand = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 3)
    t, df, p = welch_t(a, b)
    assert t == pytest.approx(t_hand) and df == pytest.approx(df_hand)
    assert df == pytest.approx(4.0754716981, rel=1e-9)
    assert p == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-9)


def test_tests_degenerate_when_differences_are_constant():
    assert paired_t([1.0, 2.0], [1.0, 2.0])[2] == 1.0
    t, _, p = paired_t([1.0, 2.0], [0.5, 1.5])
    assert t == math.inf and p == 0.0
    assert welch_t([1.0, 1.0], [1.0, 1.0])[2] == 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), min_size=2, max_size=8))
def test_paired_t_agrees_with_scipy_ttest_rel(pairs):
    a, b = zip(*pairs, strict=True)
    d = np.subtract(a, b)
    if np.std(d) < 1e-6 * (1 + np.abs(d).max()):
        return
    t, df, p = paired_t(a, b)
    ref = sps.ttest_rel(a, b)
    assert t == pytest.approx(ref.statistic, rel=1e-6)
    assert p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)
    assert df == len(pairs) - 1


@pytest.mark.parametrize("df", [1, 2, 4.5, 29, 1e3])
def test_the_t_functions_are_scipy_stats_t_without_importing_it(df):
    """t_quantile and t_two_sided_p are scipy.stats.t's ppf and 2 sf, bit for bit (scipy.stats
    computes them with the same scipy.special functions); importing statistics does not
    import scipy.stats (half a second of a study's start)."""
    import subprocess
    import sys

    from nnstudy.study.statistics import t_quantile, t_two_sided_p

    for q in (0.5, 0.8, 0.975, 0.995):
        assert t_quantile(q, df) == sps.t.ppf(q, df)
    for t in (-3.2, -0.4, 0.0, 1.7, 12.0):
        assert t_two_sided_p(t, df) == float(2 * sps.t.sf(abs(t), df))
    code = "import sys, nnstudy.study.statistics; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
