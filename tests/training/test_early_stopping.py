"""Each model's early-stopping rule, and the copy of its best weights."""

import math

import torch
from torch import nn

from nnstudy.config.train import EarlyStoppingSpec
from nnstudy.training.early_stopping import BestWeights, EarlyStopping
from nnstudy.training.stacked import StackedModel


def run(rule: EarlyStopping, values: list[float]) -> list[tuple[bool, bool]]:
    return [rule.update(epoch, v) for epoch, v in enumerate(values)]


def test_a_loss_stops_after_patience_epochs_without_an_improvement_of_min_delta():
    rule = EarlyStopping.of(EarlyStoppingSpec(patience=2, min_delta=0.05), has_valid=True)
    steps = run(rule, [1.0, 0.9, 0.88, 0.87])
    assert steps == [(True, False), (True, False), (False, False), (False, True)]
    assert (rule.best_epoch, rule.best_value) == (1, 0.9)


def test_an_accuracy_is_maximized_and_epoch_0_always_counts():
    rule = EarlyStopping.of(EarlyStoppingSpec(metric="valid_accuracy", patience=1),
                            has_valid=True)
    assert rule.maximize
    assert run(rule, [0.1, 0.5, 0.4]) == [(True, False), (True, False), (False, True)]
    assert rule.best_epoch == 1


def test_without_a_spec_the_best_epoch_is_tracked_and_nothing_stops():
    rule = EarlyStopping.of(None, has_valid=False)
    assert rule.metric == "train_loss"
    steps = run(rule, [2.0] + [3.0] * 50)
    assert not any(stop for _, stop in steps) and rule.best_epoch == 0


def test_nan_never_improves():
    rule = EarlyStopping.of(EarlyStoppingSpec(patience=3), has_valid=True)
    assert run(rule, [math.nan, 1.0, math.nan]) == [(True, False), (True, False),
                                                     (False, False)]
    assert rule.best_value == 1.0


def test_best_weights_copy_and_restore_only_the_chosen_models():
    torch.manual_seed(0)
    stacked = StackedModel([nn.Sequential(nn.Linear(3, 2)) for _ in range(3)])
    best = BestWeights(stacked)
    first = {k: v.detach().clone() for k, v in stacked.params.items()}
    with torch.no_grad():
        for v in stacked.params.values():
            v.add_(1.0)
    best.save(stacked, [False, True, False])
    with torch.no_grad():
        for v in stacked.params.values():
            v.add_(1.0)
    best.restore(stacked)
    for k, v in stacked.params.items():
        assert torch.equal(v[0], first[k][0]) and torch.equal(v[2], first[k][2])
        assert torch.equal(v[1], first[k][1] + 1.0)
