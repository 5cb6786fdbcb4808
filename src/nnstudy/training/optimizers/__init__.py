"""Batched optimizers: each steps G stacked models at once, equal to torch.optim's rule.

    opt = make_optimizer("adam", params, lr=torch.tensor([1e-3, 3e-3]), betas=(0.9, 0.99))
    opt.step(grads)                 # grads aligned with params, each [G, ...]
    opt.step(grads, active=mask)    # models where mask is False are frozen
    opt.set_lr(base_lr * factor)    # per epoch, from a schedule

See docs/optimizers.md for each update rule and its hyperparameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor

from nnstudy.errors import ConfigError
from nnstudy.training.optimizers.adadelta import BatchedAdadelta
from nnstudy.training.optimizers.adagrad import BatchedAdagrad
from nnstudy.training.optimizers.adam import BatchedAdam
from nnstudy.training.optimizers.base import KEY_PREFIX, BatchedOptimizer, HyperparameterError
from nnstudy.training.optimizers.nadam import BatchedNAdam
from nnstudy.training.optimizers.rmsprop import BatchedRMSprop
from nnstudy.training.optimizers.sgd import BatchedMomentum, BatchedNesterov, BatchedSGD

OPTIMIZER_CLASSES: dict[str, type[BatchedOptimizer]] = {
    cls.name: cls
    for cls in (BatchedSGD, BatchedMomentum, BatchedNesterov, BatchedAdam, BatchedRMSprop,
                BatchedAdadelta, BatchedAdagrad, BatchedNAdam)
}
OPTIMIZERS: tuple[str, ...] = tuple(OPTIMIZER_CLASSES)


def make_optimizer(name: str, params: Sequence[Tensor], **hparams: Any) -> BatchedOptimizer:
    """The batched optimizer `name` over the stacked `params` ([G, ...] each).

    Each numeric hyperparameter is a float or G per-model values (a 1-D tensor or list);
    switches (nesterov, amsgrad, centered, decoupled_weight_decay) hold for the group.

    Raises:
        ConfigError: an unknown optimizer, or a hyperparameter it does not have or
            a value it does not accept; the message names the key.
    """
    if name not in OPTIMIZER_CLASSES:
        raise ConfigError(f"{KEY_PREFIX}optimizer: {name!r} is not one of {', '.join(OPTIMIZERS)}")
    return OPTIMIZER_CLASSES[name](params, **hparams)


__all__ = [
    "OPTIMIZERS",
    "OPTIMIZER_CLASSES",
    "BatchedAdadelta",
    "BatchedAdagrad",
    "BatchedAdam",
    "BatchedMomentum",
    "BatchedNAdam",
    "BatchedNesterov",
    "BatchedOptimizer",
    "BatchedRMSprop",
    "BatchedSGD",
    "HyperparameterError",
    "make_optimizer",
]
