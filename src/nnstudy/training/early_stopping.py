"""Early stopping per model, and the copy of each model's best weights.

A model's rule watches one metric. With best the best value so far, epoch e improves on it
when

    value < best - min_delta      (a loss: minimize)
    value > best + min_delta      (an accuracy: maximize)

and epoch 0 (the untrained model) always counts as the first best. The model stops when
`patience` epochs in a row have not improved; it then gets its best epoch's weights back.
A model without `train.early_stopping` keeps the rule with no patience: it never stops
early, but its best epoch (by the validation loss, or the training loss when there is no
validation split) is still the one whose weights are kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from nnstudy.config.run import no_valid_split
from nnstudy.config.train import EarlyStoppingSpec
from nnstudy.errors import ConfigError
from nnstudy.training.stacked import StackedModel


@dataclass
class EarlyStopping:
    """One model's stopping rule and where it stands."""

    metric: str
    maximize: bool
    patience: int | None
    min_delta: float
    best_value: float
    best_epoch: int = 0
    since_best: int = 0

    @classmethod
    def of(cls, spec: EarlyStoppingSpec | None, has_valid: bool) -> EarlyStopping:
        """The rule `spec` describes; without one, the best epoch by the validation loss
        (the training loss without a validation split) and no stopping."""
        if spec is None:
            metric = "valid_loss" if has_valid else "train_loss"
            return cls(metric, maximize=False, patience=None, min_delta=0.0,
                       best_value=math.inf)
        if spec.metric.startswith("valid_") and not has_valid:  # files without valid/
            raise ConfigError("train.early_stopping.metric: " + no_valid_split(
                spec.metric, "the data has none (data.valid_fraction is 0, and its files "
                "hold no validation split)", "stop on train_loss"))
        return cls(spec.metric, spec.maximize, spec.patience, spec.min_delta,
                   best_value=-math.inf if spec.maximize else math.inf)

    def update(self, epoch: int, value: float) -> tuple[bool, bool]:
        """Record `value` of the metric at `epoch`; return (improved, stop now)."""
        if math.isnan(value):
            better = False
        elif self.maximize:
            better = value > self.best_value + self.min_delta
        else:
            better = value < self.best_value - self.min_delta
        improved = better or epoch == 0
        if improved:
            if not math.isnan(value):
                self.best_value = value
            self.best_epoch = epoch
            self.since_best = 0
        else:
            self.since_best += 1
        return improved, self.patience is not None and self.since_best >= self.patience


class BestWeights:
    """Each model's weights (and buffers) of its best epoch so far, stacked as the group's."""

    def __init__(self, stacked: StackedModel) -> None:
        self.params = {k: v.detach().clone() for k, v in stacked.params.items()}
        self.buffers = {k: v.clone() for k, v in stacked.buffers.items()}

    def save(self, stacked: StackedModel, models: Sequence[bool]) -> None:
        """Copy the current weights of the models where `models` is True."""
        if not any(models):
            return
        mask = torch.tensor(list(models), device=next(iter(stacked.params.values())).device)
        for k, v in stacked.params.items():
            self.params[k][mask] = v.detach()[mask]
        for k, v in stacked.buffers.items():
            self.buffers[k][mask] = v[mask]

    def restore(self, stacked: StackedModel) -> None:
        """Put every model's best weights back into `stacked`."""
        with torch.no_grad():
            for k, v in stacked.params.items():
                v.copy_(self.params[k])
            for k, v in stacked.buffers.items():
                v.copy_(self.buffers[k])
