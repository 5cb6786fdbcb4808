"""The memory training a model takes, estimated before anything is built.

    bytes = parameters x 4 (float32) x (3 + optimizer state tensors) x models

Per parameter, training holds the weights, their gradients and the best epoch's copy (see
`early_stopping.BestWeights`), and the optimizer's state: as many tensors as the
optimizer keeps (none for plain SGD, one with momentum, two for Adam's moments, ...),
counted on the optimizer class itself. Activations and data are left out, so the estimate
is a floor: a run it refuses could not have trained.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from nnstudy.config.run import RunSpec
from nnstudy.models.footprint import FLOAT32_BYTES, check_fits, parameter_count
from nnstudy.training.optimizers import OPTIMIZER_CLASSES

# Weights, gradients, and the best epoch's copy.
TENSORS_WITHOUT_OPTIMIZER = 3


def optimizer_tensors(spec: RunSpec) -> int:
    """Parameter-sized state tensors the run's optimizer keeps, with its hyperparameters
    (momentum 0 keeps none, amsgrad one more), read from the optimizer built over one
    number."""
    train = spec.train
    optimizer = OPTIMIZER_CLASSES[train.optimizer]([torch.zeros(1)], **train.optimizer_hparams())
    return len(optimizer.state)


def check_training_fits(spec: RunSpec, input_shape: Sequence[int], num_classes: int,
                        device: torch.device | str = "cpu", models: int = 1) -> int | None:
    """Raise a ConfigError when training `models` models of `spec` cannot fit in the
    memory of `device` (see the module doc); return the parameters of one model (None
    when the model cannot be built on the meta device: nothing is checked then)."""
    params = parameter_count(spec.model, input_shape, num_classes)
    if params is None:
        return None
    tensors = TENSORS_WITHOUT_OPTIMIZER + optimizer_tensors(spec)
    need = params * FLOAT32_BYTES * tensors * models
    state = tensors - TENSORS_WITHOUT_OPTIMIZER
    check_fits(need, f"its {params:,} parameters, {tensors} float32 tensors each to train "
                     f"(weights, gradients, the best epoch's copy, {state} of "
                     f"{spec.train.optimizer}'s state), x {models} model(s),", device)
    return params
