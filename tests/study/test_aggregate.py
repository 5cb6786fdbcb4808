"""Aggregation of a study's trial table, checked against figures computed by hand.

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

from nnstudy.errors import ConfigError
from nnstudy.study.aggregate import aggregate, best_per, compare, compare_per, main_effects
from nnstudy.study.trials import grid_keys, metric_column

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
    assert row["config"] == "train.optimizer=adam train.lr=0.001"
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
    assert list(table["model.mlp.hidden"]) == [[100], [100, 100]]
    assert list(table["valid_loss_mean"]) == pytest.approx([0.4, 0.2])
    assert list(table["n_pending"]) == [0, 1]


def test_metric_names_resolve_to_best_columns_and_unknown_names_the_metric():
    trials = grid({("adam", 0.1): [0.3]})
    assert metric_column(trials, "valid_loss") == "best_valid_loss"
    assert metric_column(trials, "final_valid_loss") == "final_valid_loss"
    with pytest.raises(ConfigError, match="'valid_los'"):
        aggregate(trials, [OPT], ["valid_los"])


def test_grid_keys_are_the_variant_then_the_non_standard_columns():
    trials = grid({("adam", 0.001): [0.3]})
    assert grid_keys(trials) == [OPT, LR]
    trials["variant"] = "no-normalization"
    assert grid_keys(trials) == ["variant", OPT, LR]


# --------------------------------------------------------------------------- compare

def test_compare_distinguishable_with_paired_test_by_hand():
    trials = grid({("sgd", 0.1): [0.50, 0.52, 0.49],
                   ("adam", 0.001): [0.20, 0.22, 0.19],
                   ("rmsprop", 0.001): [0.23, 0.25, 0.21]})
    result = compare(trials, [OPT, LR], "valid_loss", "min")
    p = two_sided_p_df2(-8.0)  # d = adam - rmsprop = (-0.03, -0.03, -0.02): t = -8
    assert result.best_values == {OPT: "adam", LR: 0.001}
    assert result.runner_up_values == {OPT: "rmsprop", LR: 0.001}
    assert (result.test, result.n_seeds, result.df) == ("paired", 3, 2)
    assert result.best_mean == pytest.approx(0.61 / 3)
    assert result.runner_up_mean == pytest.approx(0.69 / 3)
    assert result.statistic == pytest.approx(-8.0)
    assert result.p_value == pytest.approx(p) and p < 0.05
    assert result.distinguishable is True


def test_compare_not_distinguishable_when_p_is_above_one_minus_level():
    trials = grid({("adam", 0.001): [0.20, 0.25, 0.19], ("rmsprop", 0.001): [0.21, 0.24, 0.22]})
    d = [-0.01, 0.01, -0.03]
    dbar = sum(d) / 3
    sd = math.sqrt(sum((x - dbar) ** 2 for x in d) / 2)
    p = two_sided_p_df2(dbar / (sd / math.sqrt(3)))
    result = compare(trials, [OPT, LR], "valid_loss", "min")
    assert result.distinguishable is False
    assert result.p_value == pytest.approx(p) and p > 0.05


def test_compare_max_mode_for_accuracy():
    trials = grid({("adam", 0.001): [0.20, 0.22, 0.19], ("rmsprop", 0.001): [0.23, 0.25, 0.21]})
    result = compare(trials, [OPT, LR], "valid_accuracy", "auto")
    assert result.mode == "max" and result.best_values == {OPT: "adam", LR: 0.001}
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
    assert (result.seeds_best, result.seeds_runner_up) == (3, 2)


def test_compare_uses_welch_when_seeds_are_not_shared():
    rows = [trial({OPT: "adam"}, s, valid_loss=v) for s, v in zip([0, 1, 2], [1.0, 2.0, 3.0],
                                                                   strict=True)]
    rows += [trial({OPT: "sgd"}, s, valid_loss=v) for s, v in zip([3, 4, 5, 6],
                                                                  [2.0, 4.0, 6.0, 8.0],
                                                                  strict=True)]
    result = compare(frame(rows), [OPT], "valid_loss", "min")
    assert result.test == "welch"
    assert result.df == pytest.approx(4.0754716981, rel=1e-9)
    assert result.best_values == {OPT: "adam"} and result.distinguishable is False
    assert (result.seeds_best, result.seeds_runner_up, result.n_seeds) == (3, 4, 3)


def test_compare_with_one_seed_makes_no_test():
    trials = grid({("adam", 0.001): [0.20], ("rmsprop", 0.001): [0.23]})
    result = compare(trials, [OPT, LR], "valid_loss", "min")
    assert result.test == "none" and result.distinguishable is None
    assert math.isnan(result.p_value)
    assert (result.seeds_best, result.seeds_runner_up) == (1, 1)


def test_compare_ignores_diverged_configurations():
    trials = grid({("adam", 1.0): [0.01, 0.01], ("adam", 0.001): [0.20, 0.22],
                   ("sgd", 0.1): [0.3, 0.4]},
                  status={("adam", 1.0, 0): "diverged", ("adam", 1.0, 1): "diverged"})
    result = compare(trials, [OPT, LR], "valid_loss", "min")
    assert result.best_values == {OPT: "adam", LR: 0.001}
    assert result.runner_up_values == {OPT: "sgd", LR: 0.1}


def test_compare_with_one_or_no_configuration():
    one = compare(grid({("adam", 0.001): [0.2, 0.3]}), [OPT, LR], "valid_loss")
    assert one.best_values == {OPT: "adam", LR: 0.001} and one.runner_up_values is None
    assert one.test == "none" and one.best_mean == pytest.approx(0.25)
    none = grid({("adam", 1.0): [NAN]}, status={("adam", 1.0, 0): "diverged"})
    assert compare(none, [OPT, LR], "valid_loss").best_values is None


def test_compare_per_group_only_where_there_is_a_choice():
    trials = grid({("sgd", 0.01): [0.60, 0.62], ("sgd", 0.1): [0.40, 0.44],
                   ("adam", 0.001): [0.20, 0.24]})
    within = compare_per(trials, [OPT, LR], [OPT], "valid_loss", "min")
    assert [values for values, _ in within] == [{OPT: "sgd"}]
    sgd = within[0][1]
    assert sgd.best_values == {OPT: "sgd", LR: 0.1}
    assert sgd.runner_up_values == {OPT: "sgd", LR: 0.01}
    assert sgd.statistic == pytest.approx(
        compare(trials.iloc[:4], [OPT, LR], "valid_loss", "min").statistic)


# --------------------------------------------------------------------------- best_per

def test_best_per_optimizer_picks_the_best_learning_rate_of_each():
    trials = grid({("sgd", 0.01): [0.60, 0.62], ("sgd", 0.1): [0.40, 0.44],
                   ("adam", 0.001): [0.20, 0.24], ("adam", 0.01): [0.30, 0.30],
                   ("adadelta", 1.0): [NAN, NAN]},
                  status={("adadelta", 1.0, 0): "diverged", ("adadelta", 1.0, 1): "diverged"})
    table = best_per(trials, [OPT, LR], "valid_loss", "min", per=[OPT])
    assert list(table[OPT]) == ["sgd", "adam", "adadelta"]
    assert list(table[LR][:2]) == [0.1, 0.001] and pd.isna(table[LR].iloc[2])
    assert list(table["select_n"]) == [2, 2, 0]
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
    assert len(overall) == 1
    assert (overall.iloc[0][OPT], overall.iloc[0][LR]) == ("adam", 0.001)
    assert overall.iloc[0]["select_mean"] == pytest.approx(0.78)
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
    assert not row["reference"]
    reference = effects[(effects["key"] == DROP) & (effects["value"] == 0.0)].iloc[0]
    assert reference["reference"] and reference["diff"] == 0.0
    assert math.isnan(reference["diff_lo"])
    lr = effects[(effects["key"] == LR) & (effects["value"] == 0.1)].iloc[0]
    # lr 0.1 - lr 0.01 per (dropout, seed): -0.020, -0.020, -0.018, -0.018
    assert lr["diff"] == pytest.approx(-0.019)


def test_main_effects_one_pair_has_a_difference_but_no_interval():
    rows = [trial({DROP: 0.0}, 0, valid_loss=0.30), trial({DROP: 0.5}, 0, valid_loss=0.25)]
    effects = main_effects(frame(rows), [DROP], "valid_loss")
    assert list(effects["reference"]) == [True, False]
    row = effects.iloc[1]
    assert row["diff"] == pytest.approx(-0.05) and row["n_pairs"] == 1
    assert math.isnan(row["diff_lo"]) and math.isnan(row["diff_hi"])


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


def test_no_keys_make_one_configuration_of_every_trial():
    # With no grid keys every trial is the one configuration (pandas >= 2.1 iterates a
    # frame of no columns as no rows; the grouping must not depend on that).
    trials = grid({("adam", 0.001): [0.20, 0.22, 0.19]})
    table = aggregate(trials, [], ["valid_loss"])
    assert len(table) == 1 and table.iloc[0]["n"] == 3
    assert table.iloc[0]["valid_loss_mean"] == pytest.approx(0.61 / 3)
    best = best_per(trials, [], "valid_loss", "min")
    assert len(best) == 1 and best.iloc[0]["select_n"] == 3
    assert compare(trials, [], "valid_loss").best_values == {}
    assert aggregate(trials.iloc[:0], [], ["valid_loss"]).empty
