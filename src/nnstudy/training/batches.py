"""The batches a group trains and evaluates on, gathered from data held in memory.

Training: each model has its own order of the training samples, so a step's inputs are
[G, B, ...] (model g's batch in row g). Without augmentation the training split is
converted to the training dtype on the device once, and a batch is one `index_select`
(no DataLoader); a whole epoch can be gathered at once, ahead of time, so that each
batch is then a slice. Evaluation: every model sees the same batches of each split,
converted once and kept while they fit in CACHE_BYTES.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

SPLITS = ("train", "valid", "test")

# Data converted to the training dtype is kept in memory up to this size (per use).
CACHE_BYTES = 1 << 30
# An epoch gathered ahead of time (the helper thread's work while the main one trains)
# may take this much memory; larger epochs are gathered batch by batch.
EPOCH_GATHER_BYTES = 256 << 20


def sample_bytes(bundle, dtype: torch.dtype) -> int:
    """Bytes of one input sample of `bundle` in `dtype`."""
    return math.prod(bundle.input_shape) * torch.finfo(dtype).bits // 8


class EvalBatches:
    """The evaluation batches of every split, converted once and kept in memory when they
    fit in CACHE_BYTES (else converted again at each evaluation)."""

    def __init__(self, bundle, batch_size: int, device: torch.device, dtype: torch.dtype,
                 train_inputs: Tensor | None = None):
        """`train_inputs`: the training split already converted (`TrainBatches.cache`);
        its batches are then slices of it, not copies."""
        self.bundle, self.batch_size, self.device, self.dtype = bundle, batch_size, device, dtype
        self.train_inputs = train_inputs
        total = sum(len(getattr(bundle, s)) for s in SPLITS) * sample_bytes(bundle, dtype)
        self.cache = {s: list(self._make(s)) for s in SPLITS} if total <= CACHE_BYTES \
            else None

    def _make(self, split: str) -> Iterator[tuple[Tensor, Tensor]]:
        data = getattr(self.bundle, split)
        if split == "train" and self.train_inputs is not None:
            y = data.y.to(self.device)
            for start in range(0, len(data), self.batch_size):
                stop = start + self.batch_size
                yield self.train_inputs[start:stop], y[start:stop]
            return
        for start in range(0, len(data), self.batch_size):
            idx = torch.arange(start, min(start + self.batch_size, len(data)))
            x = self.bundle.batch(split, idx).to(self.device, self.dtype)
            yield x, data.y[idx].to(self.device)

    def __call__(self, split: str):
        """The (inputs [B, ...], labels [B]) batches of `split`, shared by every model."""
        return self.cache[split] if self.cache is not None else self._make(split)


class TrainBatches:
    """The training batches: each model's samples `idx` [G, B] as inputs [G, B, ...].

    Without augmentation, the training split is converted to `dtype` on `device` once
    (when it fits in CACHE_BYTES) and a batch is one `index_select`; otherwise each
    batch is gathered and converted by `DataBundle.batch`, augmentation included.
    Called with a whole epoch's `perms` [G, N], it gathers the epoch at once (a helper
    thread does it ahead of time), so that each batch is then a slice.
    """

    def __init__(self, bundle, device: torch.device, dtype: torch.dtype,
                 generator: torch.Generator):
        self.bundle, self.device, self.dtype, self.generator = bundle, device, dtype, generator
        n = len(bundle.train)
        self.sample_bytes = sample_bytes(bundle, dtype)
        self.cache = None
        if not bundle.augmenter and n * self.sample_bytes <= CACHE_BYTES:
            self.cache = bundle.batch("train", torch.arange(n)).to(device, dtype)
        self.y = bundle.train.y.to(device)

    def __call__(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Inputs [G, B, ...] and labels [G, B] of the samples `idx` [G, B]."""
        flat = idx.reshape(-1)
        y = self.y.index_select(0, flat).view(idx.shape)
        if self.cache is not None:
            x = self.cache.index_select(0, flat)
            return x.view(*idx.shape, *x.shape[1:]), y
        x = self.bundle.batch("train", idx, train=True, generator=self.generator)
        return x.to(self.device, self.dtype), y

    def can_gather_epoch(self, perms_shape: torch.Size) -> bool:
        """Whether an epoch of `perms_shape` [G, N] fits in EPOCH_GATHER_BYTES (cached data)."""
        return self.cache is not None and \
            math.prod(perms_shape) * self.sample_bytes <= EPOCH_GATHER_BYTES
