"""The running-loss plot: each line is the mean over seeds of the logged running losses, the
band their spread, the L2 objective dashed beside the data loss, and a diverged seed drawn
alone with an X where its log ends; one real run with `train.log_every` end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import nnstudy
from nnstudy.errors import ConfigError
from nnstudy.report.plots import plot_step_losses
from nnstudy.report.plots.intervals import t_interval

EVERY = 5


def _steps(trials: pd.DataFrame, points: int = 6, l2: bool = False) -> pd.DataFrame:
    rows = []
    for t, row in enumerate(trials.itertuples(index=False)):
        for k in range(1, points + 1):
            loss = 2.3 / (1 + k * (0.3 + 0.05 * t))
            if row.status == "diverged" and k > 3:
                break
            rows.append({"trial_id": row.trial_id, "step": k * EVERY, "epoch": 1 + k // 3,
                         "train_loss_running": loss,
                         "train_regularized_loss_running": loss + 0.1 * t if l2 else np.nan})
    return pd.DataFrame(rows)


def _trials(statuses: list[str], lrs: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"trial_id": [f"t{i}" for i in range(len(statuses))],
                         "status": statuses, "train.lr": lrs})


def test_each_line_is_the_mean_over_seeds_and_the_band_their_t_interval(gid_lines):
    trials = _trials(["done", "done", "done", "done"], [0.1, 0.1, 0.1, 0.01])
    steps = _steps(trials)
    fig = plot_step_losses(steps, trials, by=["train.lr"], level=0.9)
    lines = gid_lines(fig, "mean|")
    assert set(lines) == {"mean|lr 0.1|train_loss_running", "mean|lr 0.01|train_loss_running"}
    drawn = lines["mean|lr 0.1|train_loss_running"].get_xydata()
    wide = steps[steps["trial_id"].isin(["t0", "t1", "t2"])].pivot(
        index="step", columns="trial_id", values="train_loss_running")
    np.testing.assert_allclose(drawn, np.c_[wide.index, wide.mean(axis=1)])
    band = next(c for c in fig.axes[0].collections if c.get_gid() == "band|lr 0.1|"
                "train_loss_running").get_paths()[0].vertices
    at = band[np.isclose(band[:, 0], 3 * EVERY), 1]
    ci = t_interval(wide.loc[3 * EVERY], level=0.9)
    np.testing.assert_allclose(sorted(set(np.round(at, 12))), np.round([ci.lo, ci.hi], 12))
    # one seed: a line and no band
    assert not any(c.get_gid() == "band|lr 0.01|train_loss_running"
                   for c in fig.axes[0].collections)
    assert "mean over the 5 steps before it" in fig.texts[-1].get_text()
    assert "90% CI" in fig.texts[-1].get_text()


def test_the_regularized_loss_is_dashed_and_a_diverged_seed_ends_with_an_x(gid_lines):
    trials = _trials(["done", "done", "diverged"], [0.1, 0.1, 0.1])
    steps = _steps(trials, l2=True)
    fig = plot_step_losses(steps, trials, by=["train.lr"], band="minmax")
    lines = gid_lines(fig, "")
    mean = lines["mean|lr 0.1|train_loss_running"].get_xydata()[:, 1]
    both = steps[steps["trial_id"].isin(["t0", "t1"])].pivot(
        index="step", columns="trial_id", values="train_loss_running")
    np.testing.assert_allclose(mean, both.mean(axis=1))  # the diverged seed is in no mean
    dashed = lines["mean|lr 0.1|train_regularized_loss_running"]
    assert dashed.get_linestyle() == "--"
    reg = steps[steps["trial_id"].isin(["t0", "t1"])].pivot(
        index="step", columns="trial_id", values="train_regularized_loss_running")
    np.testing.assert_allclose(dashed.get_ydata(), reg.mean(axis=1))
    x = lines["diverged|t2|lr 0.1|train_loss_running"].get_xydata()
    last = steps[steps["trial_id"] == "t2"].iloc[-1]
    np.testing.assert_allclose(x, [[last["step"], last["train_loss_running"]]])


def test_missing_columns_and_an_empty_log_are_one_clear_error():
    with pytest.raises(ConfigError, match="steps: no column 'train_loss_running'"):
        plot_step_losses(pd.DataFrame({"step": [1]}))
    with pytest.raises(ConfigError, match="log_every"):
        plot_step_losses(pd.DataFrame(columns=["step", "train_loss_running"]))
    with pytest.raises(ConfigError, match="band"):
        plot_step_losses(pd.DataFrame({"step": [1], "train_loss_running": [1.0]}), band="sd")


def test_a_real_run_logged_every_ten_steps_is_drawn_as_logged(gid_lines):
    torch.set_num_threads(1)
    result = nnstudy.train({"model": "softmax_regression", "data": {"name": "digits"},
                            "train": {"epochs": 2, "lr": 0.05, "batch_size": 64,
                                      "log_every": 10, "l2": 0.01}})
    steps = result.steps
    fig = plot_step_losses(steps)
    drawn = gid_lines(fig, "mean|")
    np.testing.assert_allclose(drawn["mean|training loss|train_loss_running"].get_xydata(),
                               steps[["step", "train_loss_running"]].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        drawn["mean|training loss|train_regularized_loss_running"].get_ydata(),
        steps["train_regularized_loss_running"].to_numpy(), rtol=1e-12)
    assert (steps["train_regularized_loss_running"] > steps["train_loss_running"]).all()
