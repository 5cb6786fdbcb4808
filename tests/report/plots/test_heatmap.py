"""The heatmap: the image holds the cell means, each cell's text is its mean, and cells
with no mean say why (diverged, failed, not run, missing) instead of staying blank."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnstudy.report.plots.heatmap import cell_means, plot_heatmap
from nnstudy.report.plots.intervals import t_interval


def _texts(ax) -> dict[str, str]:
    return {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}


def test_the_image_and_the_annotations_are_the_cell_means(trials):
    fig = plot_heatmap(trials, "train.optimizer", "train.lr", "best_test_accuracy")
    ax = fig.axes[0]
    image = next(im for im in ax.images if im.get_gid() == "means")
    drawn = image.get_array()
    texts = _texts(ax)
    for i, opt in enumerate(("sgd", "adam")):
        for j, lr in enumerate((0.001, 0.01, 0.1)):
            rows = trials[(trials["train.optimizer"] == opt) & (trials["train.lr"] == lr)
                          & (trials["status"] == "done")]
            if not len(rows):
                assert drawn.mask[i, j]
                continue
            interval = t_interval(rows["best_test_accuracy"])
            assert drawn[i, j] == interval.mean
            assert texts[f"mean|{i}|{j}"] == f"{interval.mean:.1%}"
            if interval.n > 1:
                half = (interval.hi - interval.lo) / 2
                assert texts[f"detail|{i}|{j}"].startswith(f"± {half:.1%}")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.001", "0.01", "0.1"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sgd", "adam"]


def test_diverged_and_missing_cells_are_labelled_and_hatched(trials):
    fig = plot_heatmap(trials, "train.optimizer", "train.lr", "best_valid_loss")
    ax = fig.axes[0]
    texts = _texts(ax)
    assert texts["label|1|2"] == "diverged\n(3 of 3)"     # adam lr 0.1
    assert texts["label|1|0"] == "missing"                # adam lr 0.001: no trial
    assert texts["detail|0|2"].endswith("1 of 3 diverged")  # sgd lr 0.1: one seed
    hatched = {p.get_gid(): p.get_hatch() for p in ax.patches}
    assert hatched == {"diverged|1|2": "///", "missing|1|0": "///"}


def test_failed_and_pending_cells_say_so():
    trials = pd.DataFrame([
        {"status": "failed", "a": 1, "b": "x", "m": np.nan},
        {"status": "pending", "a": 1, "b": "y", "m": np.nan},
        {"status": "done", "a": 2, "b": "x", "m": 0.5},
        {"status": "running", "a": 2, "b": "y", "m": np.nan},
    ])
    cells = cell_means(trials, "a", "b", "m")
    assert cells.states == [["failed", "not run"], ["ok", "not run"]]
    np.testing.assert_array_equal(cells.means, [[np.nan, np.nan], [0.5, np.nan]])
    assert cells.trials.tolist() == [[1, 1], [1, 1]]
    texts = _texts(plot_heatmap(trials, "a", "b", "m").axes[0])
    assert texts["label|0|0"] == "failed" and texts["label|0|1"] == "not run"
    assert texts["mean|1|0"] == "0.5"
