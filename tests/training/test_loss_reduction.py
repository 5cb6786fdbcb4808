"""train.loss_reduction: sum, against a plain loop with reduction='sum'; the regularized
loss beside the data loss, against a hand computation."""

import math

import pytest
import torch

from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.models import build_model
from nnstudy.training.losses import reduction_scale
from nnstudy.training.summary import build_summary
from nnstudy.training.trainer import train_group


@pytest.fixture(scope="module")
def digits():
    return load_data({"name": "digits", "valid_fraction": 0.1})


def spec(**train):
    base = {"epochs": 2, "batch_size": 32, "seed": 0,
            "early_stopping": {"metric": "train_loss", "patience": 100}}
    if "steps" in train:
        del base["epochs"]
    base.update(train)
    return RunSpec.model_validate({"data": {"name": "digits", "valid_fraction": 0.1},
                                   "model": {"mlp": {"hidden": [16]}}, "train": base})


def test_reduction_scale_is_one_for_a_mean_and_the_batch_for_a_sum():
    assert reduction_scale("mean", 32) == 1.0
    assert reduction_scale("sum", 32) == 32.0
    with pytest.raises(ValueError, match="loss_reduction"):
        reduction_scale("max", 32)


@pytest.mark.parametrize("train", [
    {"lr": 0.003},
    {"lr": 0.003, "l2": 0.01},
    {"optimizer": "momentum", "lr": 0.001, "momentum": 0.9, "l2": 0.001},
    {"lr": 0.003, "steps": 50},  # the last batch of epoch 1 is smaller (14 samples)
])
def test_a_summed_loss_trains_as_a_plain_loop_with_reduction_sum(digits, plain_sgd, train):
    s = spec(loss_reduction="sum", log_every=1, **train)
    ours = train_group([s], digits, dtype=torch.float64)[0]
    ref = plain_sgd(s, digits, steps=s.train.steps)
    for name, value in ref.net.state_dict().items():
        torch.testing.assert_close(ours.state_dict[name], value, rtol=1e-9, atol=1e-12)
    # the logged loss is the batch sum, as the plain loop's loss.item()
    assert len(ours.steps) == len(ref.losses)
    for row, value in zip(ours.steps, ref.losses, strict=True):
        assert math.isclose(row["train_loss_running"], value, rel_tol=1e-10)
    assert ours.steps[0]["train_loss_running"] > 20  # a sum over 32 samples near ln 10 each
    # the epoch metrics stay per-sample means
    mean = train_group([spec(**{k: v for k, v in train.items() if k != "steps"})],
                       digits, dtype=torch.float64)[0]
    assert 0 < ours.history[0]["loss"] == mean.history[0]["loss"] < 3


def test_the_same_lr_takes_batch_size_times_longer_steps_with_a_sum(digits):
    # one SGD step from the same weights: the sum's step is B = 32 times the mean's
    mean = train_group([spec(lr=0.001, steps=1)], digits, dtype=torch.float64)
    total = train_group([spec(lr=0.001, steps=1, loss_reduction="sum")],
                        digits, dtype=torch.float64)
    s = spec()
    w0 = build_model(s.model, digits.input_shape, digits.num_classes,
                     seed=0).state_dict()["fc1.weight"].double()
    assert mean[0].best_epoch == total[0].best_epoch == 1  # the weights after the step
    assert float((mean[0].state_dict["fc1.weight"] - w0).abs().max()) > 0
    torch.testing.assert_close(total[0].state_dict["fc1.weight"] - w0,
                               32 * (mean[0].state_dict["fc1.weight"] - w0),
                               rtol=1e-9, atol=1e-15)


def test_the_regularized_loss_is_the_data_loss_plus_the_l2_term_by_hand(digits):
    lam = 0.02
    trained = train_group([spec(l2=lam, lr=0.1)], digits, dtype=torch.float64)[0]
    assert trained.best_epoch == trained.epochs_run == 2  # the kept weights are the last
    w = trained.state_dict
    by_hand = lam * float((w["fc1.weight"] ** 2).sum() + (w["fc2.weight"] ** 2).sum())
    assert math.isclose(trained.l2_term["final"], by_hand, rel_tol=1e-12)
    assert math.isclose(trained.l2_term["best"], by_hand, rel_tol=1e-12)
    for split, m in trained.final.items():
        assert math.isclose(m["regularized_loss"], m["loss"] + by_hand, rel_tol=1e-12), split
    summary = build_summary(trained, (64,), 1.0, None, 1294)
    assert summary["l2_term"] == trained.l2_term
    assert summary["best"]["valid"]["regularized_loss"] > summary["best"]["valid"]["loss"]


def test_without_l2_there_is_no_regularized_loss(digits):
    trained = train_group([spec(lr=0.1)], digits, dtype=torch.float64)[0]
    assert trained.l2_term is None
    assert all("regularized_loss" not in m for m in trained.final.values())
