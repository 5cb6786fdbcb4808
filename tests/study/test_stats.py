"""Statistics of a study, checked against figures computed by hand.

Quantiles and p-values are cross-checked with closed forms of Student's t distribution:
  df = 1 (Cauchy):  F(t) = 1/2 + atan(t) / pi
  df = 2:           F(t) = 1/2 + t / (2 sqrt(2 + t^2)),   so  t_p = a sqrt(2 / (1 - a^2)), a = 2p - 1
  df = 3:           F(t) = 1/2 + (t / (sqrt(3) (1 + t^2 / 3)) + atan(t / sqrt(3))) / pi
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from nnstudy.errors import ConfigError
from nnstudy.study.stats import (
    aggregate,
    best_per,
    compare,
    config_label,
    grid_keys,
    main_effects,
    mean_ci,
    metric_column,
    paired_t,
    welch_t,
)

NAN = math.nan
OPT, LR, DROP = "train.optimizer", "train.lr", "model.mlp.dropout"


def t_quantile_df2(p: float) -> float:
    a = 2 * p - 1
    return a * math.sqrt(2 / (1 - a * a))


def two_sided_p_df2(t: float) -> float:
    return 1 - abs(t) / math.sqrt(2 + t * t)


def two_sided_p_df1(t: float) -> float:
    return 1 - 2 / math.pi * math.atan(abs(t))


def cdf_df3(t: float) -> float:
    return 0.5 + (t / (math.sqrt(3) * (1 + t * t / 3)) + math.atan(t / math.sqrt(3))) / math.pi


def trial(values: dict, seed: int, status: str = "done", valid_loss: float = NAN,
          valid_accuracy: float = NAN, **extra) -> dict:
    """One row as the runner writes it; test metrics are offset from valid ones."""
    row = {"trial_id": f"t{len(str(values))}-{seed}", "group": "g", "variant": "", "seed": seed,
           "status": status, "config": " ".join(f"{k}={v}" for k, v in values.items()),
           **values}
    for prefix in ("best", "final"):
        row[f"{prefix}_train_loss"] = valid_loss - 0.1
        row[f"{prefix}_valid_loss"] = valid_loss
        row[f"{prefix}_test_loss"] = valid_loss + 0.05
        row[f"{prefix}_train_accuracy"] = valid_accuracy + 0.05
        row[f"{prefix}_valid_accuracy"] = valid_accuracy
        row[f"{prefix}_test_accuracy"] = valid_accuracy - 0.01
    row.update(best_epoch=5 + seed, epochs_run=8 + seed, wall_time_s=2.0 + seed,
               training_flops=1e9, params=1000, diagnostics="", error="")
    row.update(extra)
    return row


def frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    out["trial_id"] = [f"t{i:02d}" for i in range(len(out))]
    return out


def grid(losses: dict[tuple[str, float], list[float]], status: dict | None = None
         ) -> pd.DataFrame:
    """Optimizer x lr trials with the given valid losses per seed (seed = list position)."""
    status = status or {}
    rows = []
    for (opt, lr), values in losses.items():
        for seed, v in enumerate(values):
            s = status.get((opt, lr, seed), "done")
            rows.append(trial({OPT: opt, LR: lr}, seed, s, valid_loss=v,
                              valid_accuracy=1 - v))
    return frame(rows)


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
    assert (lo, hi) == pytest.approx((7 / 3 - half, 7 / 3 + half), rel=1e-12)


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


# --------------------------------------------------------------------------- aggregate

def test_aggregate_mean_and_interval_per_configuration():
    trials = grid({("adam", 0.001): [0.20, 0.22, 0.27], ("sgd", 0.1): [0.50, 0.40, 0.45]})
    table = aggregate(trials, [OPT, LR], ["valid_loss", "test_accuracy"])
    assert list(table[OPT]) == ["adam", "sgd"]
    row = table.iloc[0]
    mean = (0.20 + 0.22 + 0.27) / 3
    s = math.sqrt(((0.20 - mean) ** 2 + (0.22 - mean) ** 2 + (0.27 - mean) ** 2) / 2)
    half = t_quantile_df2(0.975) * s / math.sqrt(3)
    assert row["valid_loss_mean"] == pytest.approx(mean)
    assert row["valid_loss_std"] == pytest.approx(s)
    assert (row["valid_loss_lo"], row["valid_loss_hi"]) == pytest.approx((mean - half,
                                                                          mean + half))
    assert row["test_accuracy_mean"] == pytest.approx(1 - mean - 0.01)
    assert row["label"] == "adam lr 0.001"
    assert row["n"] == 3 and row["n_diverged"] == 0


def test_aggregate_excludes_diverged_and_failed_and_counts_them():
    trials = grid({("adam", 0.1): [0.30, 0.10, 0.40, 0.35]},
                  status={("adam", 0.1, 1): "diverged", ("adam", 0.1, 3): "failed"})
    # a diverged trial may still report a finite accuracy: it must not enter the mean
    table = aggregate(trials, [OPT, LR], ["valid_loss", "valid_accuracy"])
    row = table.iloc[0]
    assert (row["n"], row["n_diverged"], row["n_failed"]) == (2, 1, 1)
    assert row["valid_loss_mean"] == pytest.approx(0.35)
    assert row["valid_accuracy_mean"] == pytest.approx(0.65)
    assert row["valid_loss_n"] == 2


def test_aggregate_all_diverged_gives_nan_means():
    trials = grid({("sgd", 1.0): [NAN, NAN]},
                  status={("sgd", 1.0, 0): "diverged", ("sgd", 1.0, 1): "diverged"})
    row = aggregate(trials, [OPT, LR], ["valid_loss"]).iloc[0]
    assert row["n"] == 0 and row["n_diverged"] == 2
    assert math.isnan(row["valid_loss_mean"])


def test_aggregate_groups_list_values_and_counts_pending():
    rows = [trial({"model.mlp.hidden": h}, s, st_, valid_loss=v)
            for h, s, st_, v in [([100], 0, "done", 0.3), ([100], 1, "done", 0.5),
                                 ([100, 100], 0, "done", 0.2), ([100, 100], 1, "pending", NAN)]]
    table = aggregate(frame(rows), ["model.mlp.hidden"], ["valid_loss"])
    assert list(table["label"]) == ["hidden [100]", "hidden [100, 100]"]
    assert list(table["valid_loss_mean"]) == pytest.approx([0.4, 0.2])
    assert list(table["n_pending"]) == [0, 1]


def test_metric_names_resolve_to_best_columns_and_unknown_names_the_metric():
    trials = grid({("adam", 0.1): [0.3]})
    assert metric_column(trials, "valid_loss") == "best_valid_loss"
    assert metric_column(trials, "final_valid_loss") == "final_valid_loss"
    with pytest.raises(ConfigError, match="'valid_los'"):
        aggregate(trials, [OPT], ["valid_los"])


def test_grid_keys_and_labels():
    trials = grid({("adam", 0.001): [0.3]})
    assert grid_keys(trials) == [OPT, LR]
    trials["variant"] = "no-normalization"
    assert grid_keys(trials) == ["variant", OPT, LR]
    assert config_label({OPT: "adam", LR: 0.001}) == "adam lr 0.001"
    assert config_label({"variant": "wide", LR: 1e-5, "train.schedule.lr": 2}) == \
        "wide train.lr 1e-05 train.schedule.lr 2"


# --------------------------------------------------------------------------- compare

def test_compare_distinguishable_with_paired_test_by_hand():
    trials = grid({("sgd", 0.1): [0.50, 0.52, 0.49],
                   ("adam", 0.001): [0.20, 0.22, 0.19],
                   ("rmsprop", 0.001): [0.23, 0.25, 0.21]})
    result = compare(trials, [OPT, LR], "valid_loss", "min")
    p = two_sided_p_df2(-8.0)  # d = adam - rmsprop = (-0.03, -0.03, -0.02): t = -8
    assert (result.best, result.runner_up, result.test) == ("adam lr 0.001",
                                                            "rmsprop lr 0.001", "paired")
    assert result.statistic == pytest.approx(-8.0)
    assert result.p_value == pytest.approx(p)
    assert result.distinguishable is True
    assert result.sentence == ("adam lr 0.001 is best, distinguishable from rmsprop lr 0.001 "
                               f"at 95% (p = {p:.2f}, 3 seeds)")
    assert f"{p:.2f}" == "0.02"


def test_compare_not_distinguishable_sentence():
    trials = grid({("adam", 0.001): [0.20, 0.25, 0.19], ("rmsprop", 0.001): [0.21, 0.24, 0.22]})
    d = [-0.01, 0.01, -0.03]
    dbar = sum(d) / 3
    sd = math.sqrt(sum((x - dbar) ** 2 for x in d) / 2)
    p = two_sided_p_df2(dbar / (sd / math.sqrt(3)))
    result = compare(trials, [OPT, LR], "valid_loss", "min")
    assert result.distinguishable is False
    assert result.p_value == pytest.approx(p)
    assert result.sentence == ("adam lr 0.001 is best, but not distinguishable from "
                               f"rmsprop lr 0.001 at 95% (p = {p:.2f}, 3 seeds)")


def test_compare_max_mode_for_accuracy():
    trials = grid({("adam", 0.001): [0.20, 0.22, 0.19], ("rmsprop", 0.001): [0.23, 0.25, 0.21]})
    result = compare(trials, [OPT, LR], "valid_accuracy", "auto")
    assert result.mode == "max" and result.best == "adam lr 0.001"
    assert result.statistic == pytest.approx(8.0)


def test_compare_pairs_only_the_shared_seeds():
    # rmsprop's seed 2 failed: the test pairs seeds 0 and 1 (df = 1)
    trials = grid({("adam", 0.001): [0.20, 0.22, 0.10], ("rmsprop", 0.001): [0.25, 0.26, 0.0]},
                  status={("rmsprop", 0.001, 2): "failed"})
    result = compare(trials, [OPT, LR], "valid_loss", "min")
    d = [-0.05, -0.04]
    t = (sum(d) / 2) / (math.sqrt(((d[0] - d[1]) ** 2) / 2) / math.sqrt(2))
    assert result.test == "paired" and result.n_seeds == 2
    assert result.statistic == pytest.approx(t)
    assert result.p_value == pytest.approx(two_sided_p_df1(t))
    assert result.sentence.endswith(f"(p = {two_sided_p_df1(t):.2f}, 2 seeds)")


def test_compare_uses_welch_when_seeds_are_not_shared():
    rows = [trial({OPT: "adam"}, s, valid_loss=v) for s, v in zip([0, 1, 2], [1.0, 2.0, 3.0],
                                                                   strict=True)]
    rows += [trial({OPT: "sgd"}, s, valid_loss=v) for s, v in zip([3, 4, 5, 6],
                                                                  [2.0, 4.0, 6.0, 8.0],
                                                                  strict=True)]
    result = compare(frame(rows), [OPT], "valid_loss", "min")
    assert result.test == "welch"
    assert result.df == pytest.approx(4.0754716981, rel=1e-9)
    assert result.sentence.startswith("adam is best, but not distinguishable from sgd at 95%")
    assert result.sentence.endswith("Welch, 3 and 4 seeds)")


def test_compare_with_one_seed_says_it_cannot_tell():
    trials = grid({("adam", 0.001): [0.20], ("rmsprop", 0.001): [0.23]})
    result = compare(trials, [OPT, LR], "valid_loss", "min")
    assert result.test == "none" and result.distinguishable is None
    assert math.isnan(result.p_value)
    assert result.sentence == ("one seed: cannot tell whether adam lr 0.001 is better than "
                               "rmsprop lr 0.001 (run more seeds)")


def test_compare_ignores_diverged_configurations():
    trials = grid({("adam", 1.0): [0.01, 0.01], ("adam", 0.001): [0.20, 0.22],
                   ("sgd", 0.1): [0.3, 0.4]},
                  status={("adam", 1.0, 0): "diverged", ("adam", 1.0, 1): "diverged"})
    result = compare(trials, [OPT, LR], "valid_loss", "min")
    assert (result.best, result.runner_up) == ("adam lr 0.001", "sgd lr 0.1")


def test_compare_with_one_or_no_configuration():
    one = grid({("adam", 0.001): [0.2, 0.3]})
    assert compare(one, [OPT, LR], "valid_loss").sentence == \
        "adam lr 0.001 is the only configuration with results"
    none = grid({("adam", 1.0): [NAN]}, status={("adam", 1.0, 0): "diverged"})
    assert compare(none, [OPT, LR], "valid_loss").best is None


# --------------------------------------------------------------------------- best_per

def test_best_per_optimizer_picks_the_best_learning_rate_of_each():
    trials = grid({("sgd", 0.01): [0.60, 0.62], ("sgd", 0.1): [0.40, 0.44],
                   ("adam", 0.001): [0.20, 0.24], ("adam", 0.01): [0.30, 0.30],
                   ("adadelta", 1.0): [NAN, NAN]},
                  status={("adadelta", 1.0, 0): "diverged", ("adadelta", 1.0, 1): "diverged"})
    table = best_per(trials, [OPT, LR], "valid_loss", "min", per=[OPT])
    assert list(table[OPT]) == ["sgd", "adam", "adadelta"]
    assert list(table[LR][:2]) == [0.1, 0.001]
    assert list(table["label"]) == ["lr 0.1", "lr 0.001", "none finished"]
    adam = table.iloc[1]
    half = math.tan(math.pi * 0.475) * math.sqrt(0.02**2 * 2) / math.sqrt(2)
    assert adam["select_mean"] == pytest.approx(0.22)
    assert (adam["select_lo"], adam["select_hi"]) == pytest.approx((0.22 - half, 0.22 + half))
    assert adam["train_loss"] == pytest.approx(0.12)
    assert adam["test_loss"] == pytest.approx(0.27)
    assert adam["valid_accuracy"] == pytest.approx(0.78)
    assert adam["test_accuracy"] == pytest.approx(0.77)
    assert adam["best_epoch"] == pytest.approx(5.5)
    assert table.iloc[2]["n_diverged"] == 2 and math.isnan(table.iloc[2]["select_mean"])


def test_best_per_overall_and_by_accuracy():
    trials = grid({("sgd", 0.1): [0.40, 0.44], ("adam", 0.001): [0.20, 0.24]})
    overall = best_per(trials, [OPT, LR], "valid_accuracy", "max", per=[])
    assert len(overall) == 1 and overall.iloc[0]["label"] == "adam lr 0.001"
    with pytest.raises(ConfigError, match=r"select\.per"):
        best_per(trials, [OPT, LR], "valid_loss", "min", per=["train.momentum"])


# --------------------------------------------------------------------------- main effects

def test_main_effects_paired_over_other_keys_and_seeds_by_hand():
    # accuracy with dropout 0.5 minus dropout 0.0, per (lr, seed) cell: 0.4, 0.2, 0.6, 0.4 pts
    base = {(0.01, 0): 0.900, (0.01, 1): 0.910, (0.1, 0): 0.880, (0.1, 1): 0.890}
    plus = {(0.01, 0): 0.004, (0.01, 1): 0.002, (0.1, 0): 0.006, (0.1, 1): 0.004}
    rows = []
    for drop in (0.0, 0.5):
        for (lr, seed), acc in base.items():
            value = acc + (plus[(lr, seed)] if drop == 0.5 else 0.0)
            rows.append(trial({DROP: drop, LR: lr}, seed, valid_loss=1 - value,
                              valid_accuracy=value))
    effects = main_effects(frame(rows), [DROP, LR], "valid_accuracy")
    d = [0.004, 0.002, 0.006, 0.004]
    sd = math.sqrt(sum((x - 0.004) ** 2 for x in d) / 3)
    t3 = 3.182446305284263  # t_{0.975, 3}, checked against the closed-form CDF below
    assert cdf_df3(t3) == pytest.approx(0.975, abs=1e-12)
    half = t3 * sd / 2
    row = effects[(effects["key"] == DROP) & (effects["value"] == 0.5)].iloc[0]
    assert row["diff"] == pytest.approx(0.004)
    assert (row["diff_lo"], row["diff_hi"]) == pytest.approx((0.004 - half, 0.004 + half))
    assert row["n_pairs"] == 4
    assert row["mean"] == pytest.approx(np.mean(list(base.values())) + 0.004)
    assert row["text"] == (f"dropout 0.5: +0.4 points [{100 * (0.004 - half):+.1f}, "
                           f"{100 * (0.004 + half):+.1f}]")
    assert row["text"] == "dropout 0.5: +0.4 points [+0.1, +0.7]"
    reference = effects[(effects["key"] == DROP) & (effects["value"] == 0.0)].iloc[0]
    assert reference["text"] == "dropout 0: reference"
    lr = effects[(effects["key"] == LR) & (effects["value"] == 0.1)].iloc[0]
    # lr 0.1 - lr 0.01 per (dropout, seed): -0.020, -0.020, -0.018, -0.018
    assert lr["diff"] == pytest.approx(-0.019)


def test_main_effects_losses_are_plain_differences_and_one_pair_has_no_interval():
    rows = [trial({DROP: 0.0}, 0, valid_loss=0.30), trial({DROP: 0.5}, 0, valid_loss=0.25)]
    effects = main_effects(frame(rows), [DROP], "valid_loss")
    assert list(effects["text"]) == ["dropout 0: reference",
                                     "dropout 0.5: -0.0500 (one pair: no interval)"]


def test_main_effects_skip_diverged_cells_and_single_valued_keys():
    rows = [trial({DROP: 0.0, LR: 0.1}, s, valid_loss=v) for s, v in [(0, 0.3), (1, 0.4),
                                                                      (2, 0.5)]]
    rows += [trial({DROP: 0.5, LR: 0.1}, 0, valid_loss=0.2),
             trial({DROP: 0.5, LR: 0.1}, 1, "diverged", valid_loss=NAN),
             trial({DROP: 0.5, LR: 0.1}, 2, valid_loss=0.3)]
    effects = main_effects(frame(rows), [DROP, LR], "valid_loss")
    assert list(effects["key"]) == [DROP, DROP]
    row = effects.iloc[1]
    assert row["n_pairs"] == 2 and row["n_diverged"] == 1 and row["n"] == 2
    assert row["diff"] == pytest.approx(-0.15)


def test_results_do_not_depend_on_the_frame_index():
    trials = grid({("adam", 0.001): [0.20, 0.22, 0.19], ("rmsprop", 0.001): [0.23, 0.25, 0.21]})
    shuffled = trials.iloc[[3, 0, 4, 1, 5, 2]].set_axis([7, 7, 7, 1, 1, 1])
    a = aggregate(trials, [OPT, LR], ["valid_loss"]).set_index(OPT)
    b = aggregate(shuffled, [OPT, LR], ["valid_loss"]).set_index(OPT)
    pd.testing.assert_frame_equal(a.loc[["adam", "rmsprop"]], b.loc[["adam", "rmsprop"]])
    assert compare(shuffled, [OPT, LR], "valid_loss").p_value == pytest.approx(
        compare(trials, [OPT, LR], "valid_loss").p_value)
