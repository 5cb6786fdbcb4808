"""A metric against one grid key: the points are the means over done seeds, the bars their
Student t intervals, the axis logarithmic where the values span decades."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnstudy.errors import ConfigError
from nnstudy.report.plots.intervals import t_interval
from nnstudy.report.plots.sweep import numeric_positions, plot_metric_vs_key


def _bars(ax, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(points [k, 2], bar segments [k, 2, 2]) of the error bar series with this label."""
    container = next(c for c in ax.containers if c.get_label() == label)
    points = container.lines[0].get_xydata()
    segments = np.asarray(container.lines[2][0].get_segments())
    return points, segments


def _expected(trials: pd.DataFrame, opt: str, level: float = 0.95) -> dict[float, tuple]:
    out = {}
    for lr in (0.001, 0.01, 0.1):
        rows = trials[(trials["train.optimizer"] == opt) & (trials["train.lr"] == lr)
                      & (trials["status"] == "done")]
        if len(rows):
            out[lr] = t_interval(rows["best_test_accuracy"], level)
    return out


def test_points_and_bars_are_the_means_and_t_intervals_per_hue(trials):
    fig = plot_metric_vs_key(trials, "train.lr", "best_test_accuracy", hue="train.optimizer")
    ax = fig.axes[0]
    for opt in ("sgd", "adam"):
        expected = _expected(trials, opt)
        points, segments = _bars(ax, opt)
        np.testing.assert_allclose(points[:, 0], list(expected))
        np.testing.assert_allclose(points[:, 1], [i.mean for i in expected.values()])
        for (x, interval), segment in zip(expected.items(), segments, strict=True):
            low, high = (interval.lo, interval.hi) if interval.n > 1 else (interval.mean,) * 2
            np.testing.assert_allclose(segment, [[x, low], [x, high]], rtol=1e-9)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "train.lr (log scale)"


def test_a_cell_whose_seeds_all_diverged_is_an_x_on_the_bottom_edge(trials):
    fig = plot_metric_vs_key(trials, "train.lr", "best_test_accuracy", hue="train.optimizer")
    ax = fig.axes[0]
    crosses = [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("diverged|")]
    assert [ln.get_gid() for ln in crosses] == ["diverged|adam|0.1"]
    assert crosses[0].get_xydata().tolist() == [[0.1, 0.0]]  # x in data, y in axes fraction
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["1 of 3 diverged"]  # sgd lr 0.1: two done, one diverged
    assert "every seed diverged" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_names_on_the_x_axis_are_categories_without_a_joining_line(trials):
    fig = plot_metric_vs_key(trials, "train.optimizer", "best_valid_loss")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sgd", "adam"]
    container = ax.containers[0]
    assert container.lines[0].get_linestyle() == "None"
    done = trials[trials["status"] == "done"]
    means = [done[done["train.optimizer"] == o]["best_valid_loss"].mean() for o in ("sgd", "adam")]
    np.testing.assert_allclose(container.lines[0].get_xydata(), [[0, means[0]], [1, means[1]]])


@pytest.mark.parametrize(("values", "expected"), [
    ([0.001, 0.01, 0.1], True),        # three decades: log
    ([0.01, 0.05, 0.1], False),        # one decade: linear
    ([-1.0, 1.0, 1000.0], False),      # not all positive
    (["relu", "tanh"], None),          # names: categories
    ([[64], [64, 64]], None),          # lists of hidden sizes: categories
])
def test_the_axis_is_log_only_for_positive_numbers_spanning_two_decades(values, expected):
    found = numeric_positions(values)
    assert (None if found is None else found[1]) == expected


def test_a_missing_column_is_named(trials):
    with pytest.raises(ConfigError, match="no column 'best_test_f1'"):
        plot_metric_vs_key(trials, "train.lr", "best_test_f1")
