"""train.steps: a budget in optimizer steps, against a plain loop stopped after that many."""

import math

import pytest
import torch

from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.training.budget import batches_per_epoch, epochs_of, steps_of
from nnstudy.training.trainer import train_group


@pytest.fixture(scope="module")
def digits():
    return load_data({"name": "digits", "valid_fraction": 0.1})  # 1294 train: 41 batches of 32


def spec(model=None, **train):
    base = {"batch_size": 32, "seed": 0, "lr": 0.1}
    base.update(train)
    return RunSpec.model_validate({"data": {"name": "digits", "valid_fraction": 0.1},
                                   "model": model or {"mlp": {"hidden": [16]}},
                                   "train": base})


def test_epochs_and_steps_of_a_budget():
    assert batches_per_epoch(1294, 32) == 41
    assert (epochs_of(spec(steps=100).train, 1294), steps_of(spec(steps=100).train, 1294)) \
        == (3, 100)
    assert (epochs_of(spec(epochs=2).train, 1294), steps_of(spec(epochs=2).train, 1294)) \
        == (2, 82)
    assert epochs_of(spec(steps=82).train, 1294) == 2  # a whole last epoch
    assert spec().train.epochs == 10  # neither given: 10 epochs


@pytest.mark.parametrize("steps", [30, 82, 100])
def test_a_step_budget_trains_exactly_that_many_steps_as_a_plain_loop(digits, plain_sgd,
                                                                       steps):
    # best epoch by the training loss, which falls: the kept weights are the last ones
    s = spec(steps=steps, early_stopping={"metric": "train_loss", "patience": 100})
    ours = train_group([s], digits, dtype=torch.float64)[0]
    ref = plain_sgd(s, digits, steps=steps)
    assert ours.steps_run == len(ref.losses) == steps
    for name, value in ref.net.state_dict().items():
        torch.testing.assert_close(ours.state_dict[name], value, rtol=1e-9, atol=1e-12)
    # evaluated at each epoch's end and after the last step, recorded as its epoch
    last = math.ceil(steps / 41)
    assert ours.epochs_run == ours.best_epoch == last
    assert sorted({r["epoch"] for r in ours.history}) == list(range(last + 1))
    assert ours.samples_seen == sum(min(32, 1294 - i) for k in range(steps)
                                    for i in [32 * (k % 41)])


def test_models_with_different_budgets_train_together_as_alone(digits):
    specs = [spec(steps=30), spec(seed=1, steps=50), spec(seed=2, epochs=1),
             spec(seed=3, steps=120)]
    together = train_group(specs, digits, dtype=torch.float64)
    for s, ours in zip(specs, together, strict=True):
        alone = train_group([s], digits, dtype=torch.float64)[0]
        assert ours.steps_run == alone.steps_run
        assert ours.epochs_run == alone.epochs_run
        for a, b in zip(ours.history, alone.history, strict=True):
            assert (a["epoch"], a["split"]) == (b["epoch"], b["split"])
            assert math.isclose(a["loss"], b["loss"], rel_tol=1e-10)
        for name, value in alone.state_dict.items():
            torch.testing.assert_close(ours.state_dict[name], value, rtol=1e-9, atol=1e-12)


def test_batch_norm_statistics_stop_with_the_budget(digits):
    # the other model's forward passes after the budget must not move its running stats
    model = {"mlp": {"hidden": [16], "batchnorm": True}}
    specs = [spec(model, steps=20), spec(model, seed=1, steps=60)]
    together = train_group(specs, digits, dtype=torch.float64)
    alone = train_group(specs[:1], digits, dtype=torch.float64)[0]
    for name, value in alone.state_dict.items():
        torch.testing.assert_close(together[0].state_dict[name], value, rtol=1e-9, atol=1e-12)


def test_budgets_and_step_logs_are_the_same_with_evaluation_overlapped(digits):
    specs = [spec(steps=50, log_every=7), spec(seed=1, steps=90, log_every=10, l2=0.01),
             spec(seed=2, epochs=2, early_stopping={"metric": "valid_loss", "patience": 1})]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        apart = train_group(specs, digits, overlap=False)
        overlapped = train_group(specs, digits, overlap=True)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(apart, overlapped, strict=True):
        assert (a.history, a.steps, a.steps_run, a.epochs_run) == (
            b.history, b.steps, b.steps_run, b.epochs_run)
        for name, value in a.state_dict.items():
            assert torch.equal(b.state_dict[name], value)
