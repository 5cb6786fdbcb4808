"""Evaluation of G models on every split, in inference mode.

For model g and a split of n samples:

    {split}_loss[g]     = sum over the samples of model g's loss / n
    {split}_accuracy[g] = (samples whose largest logit is the label) / n

The sums are taken per batch in the training dtype and accumulated in float64.

On a CPU, the forward pass over an evaluation batch runs in chunks whose largest
activation (all G models together; a flattened input counts) stays under
EVAL_CHUNK_BYTES: a batch of 4,096 makes activations of several to tens of MB that spill
the caches. Measured on a 2-core CPU, one thread: LeNet's evaluation ran 3-4x faster in
chunks of 128 to 256 images than whole, a group of five 784-100-10 MLPs 10-20% faster in
chunks of 512 to 1,024, one MLP the same. A sample's logits do not depend on the chunk (checked bitwise for those and the CIFAR net
with chunks of 8 samples and more, and tested; a chunk of one or two samples can take
another kernel and round differently, so a batch is cut into near-equal chunks of at
least MIN_EVAL_CHUNK), and the loss and accuracy are summed over the whole batch as
before, so the metrics are the same. On a GPU batches run whole.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nnstudy.training.batches import SPLITS, EvalBatches
from nnstudy.training.losses import correct_counts, loss_sums
from nnstudy.training.stacked import StackedModel

EVAL_CHUNK_BYTES = 2 << 20
MIN_EVAL_CHUNK = 64


@torch.no_grad()
def evaluate(stacked: StackedModel, batches: EvalBatches, loss: str) -> dict[str, Tensor]:
    """Loss and accuracy of every model on every non-empty split: `{split}_loss` [G]
    and `{split}_accuracy` [G], float64 on the CPU."""
    stacked.eval()
    chunk: int | None = None  # samples per forward pass, from one sample of the first batch
    out: dict[str, Tensor] = {}
    for split in SPLITS:
        n = len(getattr(batches.bundle, split))
        if n == 0:
            continue
        loss_sum = torch.zeros(stacked.G, dtype=torch.float64, device=batches.device)
        correct = torch.zeros(stacked.G, dtype=torch.float64, device=batches.device)
        for x, y in batches(split):
            if chunk is None:
                chunk = eval_chunk(stacked, x[:1])
            logits = _logits(stacked, x, chunk)
            loss_sum += loss_sums(loss, logits, y).double()
            correct += correct_counts(logits, y).double()
        out[f"{split}_loss"] = (loss_sum / n).cpu()
        out[f"{split}_accuracy"] = (correct / n).cpu()
    stacked.train()
    return out


def eval_chunk(stacked: StackedModel, sample: Tensor) -> int | None:
    """How many samples one forward pass takes during evaluation, from one input `sample`
    [1, ...] shared by every model: on a CPU, as many as keep the largest activation under
    EVAL_CHUNK_BYTES, and at least MIN_EVAL_CHUNK; None (whole batches) elsewhere and for
    models run through vmap."""
    if sample.device.type != "cpu":
        return None
    largest = stacked.largest_activation(sample)
    if largest is None:
        return None
    return max(MIN_EVAL_CHUNK, EVAL_CHUNK_BYTES // (largest * sample.element_size()))


def _logits(stacked: StackedModel, x: Tensor, chunk: int | None) -> Tensor:
    """The G models' logits [G, B, K] for the shared inputs `x`, in ceil(B / chunk)
    near-equal chunks (no chunk much smaller than the others), or whole."""
    if chunk is None or len(x) <= chunk:
        return stacked(x, shared=True)
    parts = -(-len(x) // chunk)
    return torch.cat([stacked(part, shared=True) for part in torch.tensor_split(x, parts)],
                     dim=1)
