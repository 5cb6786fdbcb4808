"""Cost against quality: the Pareto front against brute force, and the figure's points and
front against the configurations' means."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnstudy.errors import ConfigError
from nnstudy.report.plots.cost import configuration_costs, pareto_front, plot_cost_quality

KEYS = ["train.optimizer", "train.lr"]


def brute_force_front(cost, quality) -> list[int]:
    """Every finite point that no other point dominates, by checking every pair."""
    n = len(cost)
    front = []
    for i in range(n):
        if not (np.isfinite(cost[i]) and np.isfinite(quality[i])):
            continue
        beaten = any(
            np.isfinite(cost[j]) and np.isfinite(quality[j])
            and cost[j] <= cost[i] and quality[j] >= quality[i]
            and (cost[j] < cost[i] or quality[j] > quality[i])
            for j in range(n))
        if not beaten:
            front.append(i)
    return sorted(front, key=lambda i: (cost[i], -quality[i], i))


values = st.one_of(st.integers(0, 6).map(float), st.just(float("nan")))


@given(st.lists(st.tuples(values, values), max_size=25))
def test_pareto_front_matches_brute_force(points):
    cost = np.array([p[0] for p in points], dtype=float)
    quality = np.array([p[1] for p in points], dtype=float)
    front = pareto_front(cost, quality)
    assert sorted(front.tolist()) == sorted(brute_force_front(cost, quality))
    assert np.all(np.diff(cost[front]) >= 0)  # ordered by cost


def test_the_figure_draws_each_configurations_mean_and_joins_the_front(trials):
    fig = plot_cost_quality(trials, KEYS)
    table = configuration_costs(trials, KEYS, "best_test_accuracy",
                                ["training_flops", "wall_time_s"])
    for ax, column in zip(fig.axes[:2], ["training_flops", "wall_time_s"], strict=True):
        points = next(ln for ln in ax.get_lines() if ln.get_gid() == "points").get_xydata()
        finite = table["quality"].notna()
        np.testing.assert_allclose(points, table.loc[finite, [column, "quality"]].to_numpy())
        cost = table[column].to_numpy()
        quality = table["quality"].to_numpy()
        expected = brute_force_front(cost, quality)
        front = next(ln for ln in ax.get_lines() if ln.get_gid() == "front").get_xydata()
        np.testing.assert_allclose(front, np.c_[cost[expected], quality[expected]])
        labels = [t.get_text() for t in ax.texts if t.get_gid() == "front-label"]
        assert labels == table["label"].iloc[expected].tolist()
    assert "adam lr 0.1" in fig.get_supxlabel()  # every seed diverged: named, not drawn


def test_means_are_over_done_trials_only(trials):
    table = configuration_costs(trials, KEYS, "best_test_accuracy", ["wall_time_s"])
    sgd = table.set_index("label").loc["sgd lr 0.1"]
    done = trials[(trials["trial_id"].isin(["g02-s0", "g02-s1"]))]
    assert sgd["n"] == 2 and sgd["n_diverged"] == 1
    assert sgd["quality"] == pytest.approx(done["best_test_accuracy"].mean())
    assert sgd["wall_time_s"] == pytest.approx(done["wall_time_s"].mean())


def test_a_cost_column_without_values_is_left_out(trials):
    fig = plot_cost_quality(trials.assign(wall_time_s=np.nan), KEYS)
    assert [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()] == ["training FLOPs"]
    with pytest.raises(ConfigError, match="none of the cost columns"):
        plot_cost_quality(trials.drop(columns=["wall_time_s", "training_flops"]), KEYS)
