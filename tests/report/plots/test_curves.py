"""Learning curves: the lines are the means over seeds of the epochs table, the band its
interval, and the best epoch, early stops and divergences are marked where the data put them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnstudy.errors import ConfigError
from nnstudy.report.plots.curves import plot_learning_curves
from nnstudy.report.plots.intervals import t_interval

KEYS = ["train.optimizer", "train.lr"]


def _config(trials: pd.DataFrame, opt: str, lr: float) -> pd.DataFrame:
    return trials[(trials["train.optimizer"] == opt) & (trials["train.lr"] == lr)]


def _values(epochs: pd.DataFrame, ids, split: str, metric: str) -> pd.DataFrame:
    part = epochs[epochs["trial_id"].isin(list(ids)) & (epochs["split"] == split)]
    return part.pivot(index="epoch", columns="trial_id", values=metric)


def _bounds(lo: float, hi: float) -> np.ndarray:
    return np.unique(np.round([lo, hi], 12))  # one value where every seed agrees


def _band_at(fig, gid: str, x: float) -> np.ndarray:
    band = next(c for ax in fig.axes for c in ax.collections if c.get_gid() == gid)
    vertices = band.get_paths()[0].vertices
    return np.unique(np.round(vertices[np.isclose(vertices[:, 0], x), 1], 12))


def test_the_line_is_the_mean_over_seeds_and_the_band_its_t_interval(trials, make_epochs,
                                                                     gid_lines):
    config = _config(trials, "sgd", 0.01)
    epochs = make_epochs(config)
    fig = plot_learning_curves(epochs, config, by=KEYS, band="ci", level=0.9)
    lines = gid_lines(fig, "mean|")
    assert set(lines) == {f"mean|sgd lr 0.01|{s}|{m}" for s in ("train", "valid", "test")
                          for m in ("loss", "accuracy")}
    for split in ("train", "valid", "test"):
        for metric in ("loss", "accuracy"):
            table = _values(epochs, config["trial_id"], split, metric)
            drawn = lines[f"mean|sgd lr 0.01|{split}|{metric}"].get_xydata()
            np.testing.assert_array_equal(drawn[:, 0], table.index)
            np.testing.assert_allclose(drawn[:, 1], table.mean(axis=1), rtol=1e-12)
    table = _values(epochs, config["trial_id"], "valid", "loss")
    for epoch, row in table.iterrows():
        interval = t_interval(row, 0.9)
        np.testing.assert_allclose(_band_at(fig, "band|sgd lr 0.01|valid|loss", epoch),
                                   _bounds(interval.lo, interval.hi), rtol=1e-9)
    assert "90% CI of the mean (Student t)" in fig.get_supxlabel()
    assert "3 seeds" in fig.get_supxlabel()


def test_minmax_band_spans_the_lowest_to_the_highest_seed(trials, make_epochs):
    config = _config(trials, "adam", 0.01)
    epochs = make_epochs(config)
    fig = plot_learning_curves(epochs, config, by=KEYS, band="minmax")
    table = _values(epochs, config["trial_id"], "test", "accuracy")
    for epoch, row in table.iterrows():
        np.testing.assert_allclose(_band_at(fig, "band|adam lr 0.01|test|accuracy", epoch),
                                   _bounds(row.min(), row.max()), rtol=1e-12)
    assert "min to max" in fig.get_supxlabel()


def test_the_best_epoch_is_starred_on_the_mean_curve(trials, make_epochs, gid_lines):
    config = _config(trials, "sgd", 0.01)  # best epochs 3, 4, 5: the star at 4
    epochs = make_epochs(config)
    fig = plot_learning_curves(epochs, config, by=KEYS)
    table = _values(epochs, config["trial_id"], "valid", "loss")
    star = gid_lines(fig, "best|sgd lr 0.01|valid|loss")["best|sgd lr 0.01|valid|loss"]
    np.testing.assert_allclose(star.get_xydata(), [[4, table.loc[4].mean()]])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "best epoch 4 (mean of 3 seeds)" in legend


def test_an_early_stop_is_marked_at_the_trials_last_epoch(trials, make_epochs, gid_lines):
    config = _config(trials, "sgd", 0.01)
    epochs = make_epochs(config, epochs=6, stop={"g01-s1": 3})
    fig = plot_learning_curves(epochs, config, by=KEYS, max_epochs=6)
    marks = gid_lines(fig, "stopped|")
    assert {g.split("|")[1] for g in marks} == {"g01-s1"}
    value = _values(epochs, ["g01-s1"], "valid", "accuracy").loc[3, "g01-s1"]
    np.testing.assert_allclose(marks["stopped|g01-s1|sgd lr 0.01|valid|accuracy"].get_xydata(),
                               [[3, value]])
    # After the stop the mean goes on over the two seeds still training.
    mean = gid_lines(fig, "mean|sgd lr 0.01|valid|accuracy")[
        "mean|sgd lr 0.01|valid|accuracy"].get_xydata()
    rest = _values(epochs, ["g01-s0", "g01-s2"], "valid", "accuracy")
    np.testing.assert_allclose(mean[mean[:, 0] == 5, 1], rest.loc[5].mean())


def test_a_stopped_early_column_decides_without_max_epochs(trials, make_epochs, gid_lines):
    config = _config(trials, "sgd", 0.01).assign(stopped_early=[False, True, False])
    epochs = make_epochs(config, stop={"g01-s1": 2, "g01-s2": 4})
    fig = plot_learning_curves(epochs, config, by=KEYS)
    assert {g.split("|")[1] for g in gid_lines(fig, "stopped|")} == {"g01-s1"}


def test_a_diverged_seed_is_in_no_mean_and_ends_with_an_x(trials, make_epochs, gid_lines):
    config = _config(trials, "sgd", 0.1)  # seed 2 diverged at epoch 2
    epochs = make_epochs(config)
    fig = plot_learning_curves(epochs, config, by=KEYS)
    mean = gid_lines(fig, "mean|sgd lr 0.1|train|loss")["mean|sgd lr 0.1|train|loss"]
    done = _values(epochs, ["g02-s0", "g02-s1"], "train", "loss")
    np.testing.assert_allclose(mean.get_xydata()[:, 1], done.mean(axis=1))
    cross = gid_lines(fig, "diverged|g02-s2|sgd lr 0.1|train|loss")
    last = _values(epochs, ["g02-s2"], "train", "loss").loc[1, "g02-s2"]
    np.testing.assert_allclose(next(iter(cross.values())).get_xydata(), [[1, last]])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "diverged (last finite value)" in legend


def test_a_huge_diverged_loss_sits_on_the_top_edge_not_on_the_axis_limits(trials, make_epochs,
                                                                          gid_lines):
    config = _config(trials, "sgd", 0.1)
    epochs = make_epochs(config)
    epochs.loc[(epochs["trial_id"] == "g02-s2") & (epochs["epoch"] == 1), "loss"] = 1e9
    fig = plot_learning_curves(epochs, config, by=KEYS, splits=["train"])
    ax = fig.axes[0]
    top = ax.get_ylim()[1]
    assert top < 10
    cross = next(iter(gid_lines(fig, "diverged|g02-s2|sgd lr 0.1|train|loss").values()))
    assert cross.get_xydata()[0, 1] == top and cross.get_clip_on() is False


def test_several_configurations_get_one_colour_each_and_a_figure_legend(trials, make_epochs,
                                                                        gid_lines):
    chosen = trials[trials["train.lr"] == 0.01]
    epochs = make_epochs(chosen)
    fig = plot_learning_curves(epochs, chosen, by=KEYS, splits=["valid", "test"])
    lines = gid_lines(fig, "mean|")
    assert {g.split("|")[1] for g in lines} == {"sgd lr 0.01", "adam lr 0.01"}
    sgd = lines["mean|sgd lr 0.01|valid|loss"]
    adam = lines["mean|adam lr 0.01|valid|loss"]
    assert sgd.get_color() != adam.get_color()
    assert lines["mean|sgd lr 0.01|test|loss"].get_linestyle() != sgd.get_linestyle()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:4] == ["sgd lr 0.01", "adam lr 0.01", "valid", "test"]


def test_a_runs_history_draws_as_one_trial():
    history = pd.DataFrame([{"epoch": e, "split": s, "loss": 2.0 / (e + 1) + i,
                             "accuracy": 0.2 * e + 0.01 * i}
                            for e in range(4) for i, s in enumerate(("train", "valid", "test"))])
    summary = pd.DataFrame([{"status": "done", "best_epoch": 2}])
    fig = plot_learning_curves(history, summary)
    line = next(ln for ln in fig.axes[1].get_lines() if ln.get_gid() == "mean|all trials|test|accuracy")
    np.testing.assert_allclose(line.get_xydata(), [[e, 0.2 * e + 0.02] for e in range(4)])
    assert any(ln.get_gid() == "best-epoch" and ln.get_xdata()[0] == 2
               for ln in fig.axes[0].get_lines())
    assert fig.get_supxlabel() == "one trial per line"


def test_bad_input_is_one_clear_error(trials, make_epochs):
    epochs = make_epochs(trials)
    with pytest.raises(ConfigError, match="splits are train, valid, test"):
        plot_learning_curves(epochs, trials, splits=["dev"])
    with pytest.raises(ConfigError, match="epochs: no column 'epoch'"):
        plot_learning_curves(epochs.drop(columns="epoch"), trials)
    with pytest.raises(ConfigError, match=r"trials: no column 'model\.hidden'"):
        plot_learning_curves(epochs, trials, by=["model.hidden"])
    with pytest.raises(ConfigError, match="band: 'sd' is not one of ci, minmax"):
        plot_learning_curves(epochs, trials, band="sd")


def test_log_loss_puts_only_the_loss_on_a_log_axis_with_the_same_data(trials, make_epochs,
                                                                      gid_lines):
    config = _config(trials, "sgd", 0.01)
    epochs = make_epochs(config)
    linear = plot_learning_curves(epochs, config, by=KEYS)
    log = plot_learning_curves(epochs, config, by=KEYS, log_loss=True)
    assert [ax.get_yscale() for ax in log.axes[:2]] == ["log", "linear"]
    assert log.axes[0].get_ylim()[0] > 0
    gid = "mean|sgd lr 0.01|valid|loss"
    np.testing.assert_array_equal(gid_lines(log, gid)[gid].get_xydata(),
                                  gid_lines(linear, gid)[gid].get_xydata())
