"""Evaluation of G models on every split, in inference mode.

For model g and a split of n samples:

    {split}_loss[g]     = sum over the samples of model g's loss / n
    {split}_accuracy[g] = (samples whose largest logit is the label) / n

The sums are taken per batch in the training dtype and accumulated in float64.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nnstudy.training.batches import SPLITS, EvalBatches
from nnstudy.training.losses import correct_counts, loss_sums
from nnstudy.training.stacked import StackedModel


@torch.no_grad()
def evaluate(stacked: StackedModel, batches: EvalBatches, loss: str) -> dict[str, Tensor]:
    """Loss and accuracy of every model on every non-empty split: `{split}_loss` [G]
    and `{split}_accuracy` [G], float64 on the CPU."""
    stacked.eval()
    out: dict[str, Tensor] = {}
    for split in SPLITS:
        n = len(getattr(batches.bundle, split))
        if n == 0:
            continue
        loss_sum = torch.zeros(stacked.G, dtype=torch.float64, device=batches.device)
        correct = torch.zeros(stacked.G, dtype=torch.float64, device=batches.device)
        for x, y in batches(split):
            logits = stacked(x, shared=True)
            loss_sum += loss_sums(loss, logits, y).double()
            correct += correct_counts(logits, y).double()
        out[f"{split}_loss"] = (loss_sum / n).cpu()
        out[f"{split}_accuracy"] = (correct / n).cpu()
    stacked.train()
    return out
