"""train.log_every: the running training loss every N mini-batches, against a plain loop."""

import math

import pytest
import torch

from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.training.step_log import StepLog
from nnstudy.training.trainer import train_group


@pytest.fixture(scope="module")
def digits():
    return load_data({"name": "digits", "valid_fraction": 0.1})  # 1294 train: 41 batches of 32


def spec(**train):
    base = {"epochs": 2, "batch_size": 32, "seed": 0, "lr": 0.1}
    base.update(train)
    return RunSpec.model_validate({"data": {"name": "digits", "valid_fraction": 0.1},
                                   "model": {"mlp": {"hidden": [16]}}, "train": base})


def windows(values: list[float], n: int) -> list[tuple[int, float]]:
    """(step, mean of the n values up to it) for every full window, steps from 1."""
    return [(s, sum(values[s - n : s]) / n) for s in range(n, len(values) + 1, n)]


@pytest.mark.parametrize("every", [1, 7, 41])
def test_logged_running_losses_equal_a_plain_loops(digits, plain_sgd, every):
    s = spec(log_every=every)
    ours = train_group([s], digits, dtype=torch.float64)[0]
    ref = plain_sgd(s, digits)
    expected = windows(ref.losses, every)
    assert [r["step"] for r in ours.steps] == [step for step, _ in expected]
    for row, (step, value) in zip(ours.steps, expected, strict=True):
        assert math.isclose(row["train_loss_running"], value, rel_tol=1e-10)
        assert row["epoch"] == ref.epochs[step - 1]
        assert "train_regularized_loss_running" not in row
    assert ours.steps_run == len(ref.losses) == 82


def test_windows_span_epoch_ends_and_a_partial_last_window_is_not_logged(digits):
    ours = train_group([spec(log_every=30)], digits, dtype=torch.float64)[0]
    # 82 steps: windows end at 30 (epoch 1), 60 (epoch 2, from step 31 of epoch 1), not 82
    assert [(r["step"], r["epoch"]) for r in ours.steps] == [(30, 1), (60, 2)]


def test_with_l2_the_regularized_running_loss_adds_the_l2_term_of_each_step(digits, plain_sgd):
    s = spec(log_every=10, l2=0.01)
    ours = train_group([s], digits, dtype=torch.float64)[0]
    ref = plain_sgd(s, digits)
    objective = [loss + pen for loss, pen in zip(ref.losses, ref.penalties, strict=True)]
    for row, (_, data), (_, regularized) in zip(
            ours.steps, windows(ref.losses, 10), windows(objective, 10), strict=True):
        assert math.isclose(row["train_loss_running"], data, rel_tol=1e-10)
        assert math.isclose(row["train_regularized_loss_running"], regularized, rel_tol=1e-10)
        assert regularized > data


def test_models_of_a_group_log_each_at_its_own_pace(digits):
    specs = [spec(log_every=5), spec(seed=1, log_every=20), spec(seed=2)]
    together = train_group(specs, digits, dtype=torch.float64)
    for s, ours in zip(specs, together, strict=True):
        alone = train_group([s], digits, dtype=torch.float64)[0]
        assert len(ours.steps) == len(alone.steps) == (82 // s.train.log_every
                                                        if s.train.log_every else 0)
        for a, b in zip(ours.steps, alone.steps, strict=True):
            assert a["step"] == b["step"]
            assert math.isclose(a["train_loss_running"], b["train_loss_running"],
                                rel_tol=1e-10)


def test_no_model_logging_costs_no_log():
    assert StepLog.of([None, None], [False, False], torch.device("cpu")) is None


def test_a_window_a_model_stopped_in_gives_no_row():
    log = StepLog([2, 2], [False, False], torch.device("cpu"))
    log.add(1, 1, torch.tensor([1.0, 10.0]), None, [True, True])
    log.add(2, 1, torch.tensor([3.0, 30.0]), None, [True, False])  # model 1 stopped
    log.add(3, 1, torch.tensor([5.0, 50.0]), None, [True, False])
    log.add(4, 1, torch.tensor([7.0, 70.0]), None, [True, False])
    assert log.rows[0] == [{"step": 2, "epoch": 1, "train_loss_running": 2.0},
                           {"step": 4, "epoch": 1, "train_loss_running": 6.0}]
    assert log.rows[1] == []
