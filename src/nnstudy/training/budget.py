"""How long a model trains: `train.epochs` or `train.steps`.

A run gives one of the two (`TrainSpec` refuses both). With N training samples and batch
size B an epoch is

    batches_per_epoch = ceil(N / B)

optimizer steps (the last batch may be smaller). `epochs: E` trains E epochs, E *
batches_per_epoch steps. `steps: S` trains exactly S steps: the epochs run in order, each
over its own shuffle as always, and the last one, number

    ceil(S / batches_per_epoch),

stops after its step S - (that number - 1) * batches_per_epoch. Evaluation still happens at
each epoch's end, and once after step S (the end of that last, partial epoch), which is
recorded as its epoch.
"""

from __future__ import annotations

import math

from nnstudy.config.train import TrainSpec


def batches_per_epoch(n_train: int, batch_size: int) -> int:
    """ceil(N / B): optimizer steps in one epoch over N samples."""
    return math.ceil(n_train / batch_size)


def epochs_of(train: TrainSpec, n_train: int) -> int:
    """The epochs the run spans: `epochs`, or ceil(steps / batches_per_epoch) (the last one
    partial when it does not divide)."""
    if train.epochs is not None:
        return train.epochs
    return math.ceil(train.steps / batches_per_epoch(n_train, train.batch_size))


def steps_of(train: TrainSpec, n_train: int) -> int:
    """The optimizer steps the run takes when it is not stopped early: `steps`, or
    epochs * batches_per_epoch."""
    if train.steps is not None:
        return train.steps
    return train.epochs * batches_per_epoch(n_train, train.batch_size)

