"""The running training loss every N mini-batches (`train.log_every: N`), per model.

Steps are counted from 1 over the whole run, across epochs. For a model with `log_every`
N, the row at step s = kN (k = 1, 2, ...) holds the mean over the window of the N steps
t = s - N + 1, ..., s:

    train_loss_running             = 1/N sum_t L_t
    train_regularized_loss_running = 1/N sum_t (L_t + lambda sum_W ||W_(t-1)||^2)   (L2 on)

where L_t is the loss of step t's batch, computed before its update (as a plain loop's
`running_loss += loss.item()` takes it), in the unit `train.loss_reduction` gives it (the
batch mean, or the batch sum), and W_(t-1) the weights it was computed with. A window
may span the end of an epoch; `epoch` is the epoch of step s. Only windows the model
trained through in full give a row: a model that stops (its step budget, early stopping,
divergence) logs nothing for the window it stopped in.

The sums stay on the training device in float64 (one addition of G numbers per step);
they are copied to the host once every N steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

STEP_COLUMNS = ("step", "epoch", "train_loss_running")
REGULARIZED_COLUMN = "train_regularized_loss_running"


class StepLog:
    """The running losses of G models, each logged every `every[g]` steps (None: never).

    Args:
        every: per model, its `log_every` or None.
        regularized: per model, whether its L2 term is on (it then also logs the
            regularized loss).
        device: where the losses arrive.
    """

    def __init__(self, every: Sequence[int | None], regularized: Sequence[bool],
                 device: torch.device) -> None:
        self.every = list(every)
        self.regularized = list(regularized)
        G = len(self.every)
        self.loss_sum = torch.zeros(G, dtype=torch.float64, device=device)
        self.penalty_sum = (torch.zeros(G, dtype=torch.float64, device=device)
                            if any(self.regularized) else None)
        self.counts = [0] * G  # steps each model trained in its current window
        self.rows: list[list[dict[str, Any]]] = [[] for _ in range(G)]

    @classmethod
    def of(cls, every: Sequence[int | None], regularized: Sequence[bool],
           device: torch.device) -> StepLog | None:
        """A log for the models, or None when none of them logs (costing nothing)."""
        if all(n is None for n in every):
            return None
        return cls(every, regularized, device)

    @property
    def wants_penalty(self) -> bool:
        """Whether `add` needs the L2 term of each step."""
        return self.penalty_sum is not None

    def add(self, step: int, epoch: int, losses: Tensor, penalty: Tensor | None,
            active: Sequence[bool]) -> None:
        """Add step `step`'s batch losses [G] (and L2 terms [G]) of the models that
        trained in it (`active`), and log the windows that end at `step`."""
        self.loss_sum.add_(losses)
        if self.penalty_sum is not None and penalty is not None:
            self.penalty_sum.add_(penalty)
        for g, on in enumerate(active):
            if on:
                self.counts[g] += 1
        due = [g for g, n in enumerate(self.every) if n is not None and step % n == 0]
        if due:
            self._flush(step, epoch, due)

    def _flush(self, step: int, epoch: int, due: list[int]) -> None:
        losses = self.loss_sum.tolist()  # the one copy to the host of these N steps
        penalties = self.penalty_sum.tolist() if self.penalty_sum is not None else None
        for g in due:
            n = self.every[g]
            if self.counts[g] == n:
                row = {"step": step, "epoch": epoch, "train_loss_running": losses[g] / n}
                if self.regularized[g] and penalties is not None:
                    row[REGULARIZED_COLUMN] = (losses[g] + penalties[g]) / n
                self.rows[g].append(row)
            self.counts[g] = 0
            self.loss_sum[g] = 0.0
            if self.penalty_sum is not None:
                self.penalty_sum[g] = 0.0
