"""What a reader hands to `load_data`: decoded arrays per split, before splitting and transforms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nnstudy.errors import DataError


@dataclass
class RawPart:
    """Samples x [N, C, H, W] or [N, D] (uint8 or float32) and labels y (int64, 0..K-1)."""

    x: Tensor
    y: Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class RawData:
    """A data set as its files give it: train always; valid and test where it has them."""

    classes: list[str]
    train: RawPart
    valid: RawPart | None = None
    test: RawPart | None = None
    origin: str = ""


def as_images(x: np.ndarray) -> Tensor:
    """A tensor from decoded samples: uint8 stays uint8, other numbers become float32."""
    x = np.ascontiguousarray(x)
    if x.dtype != np.uint8:
        x = x.astype(np.float32)
    return torch.from_numpy(x)


def as_labels(y: np.ndarray, num_classes: int | None, where: str) -> Tensor:
    """int64 labels; one outside 0..num_classes-1 is a DataError naming `where`."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{where}: labels must be one number per sample, got shape {y.shape}")
    whole = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and bool(np.all(np.mod(y, 1) == 0))
    )
    if len(y) and not whole:
        raise DataError(f"{where}: labels must be integers, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if len(y):
        low, high = int(y.min()), int(y.max())
        if low < 0 or (num_classes is not None and high >= num_classes):
            limit = f"0..{num_classes - 1}" if num_classes is not None else ">= 0"
            bad = low if low < 0 else high
            raise DataError(f"{where}: label {bad} is out of range (expected {limit})")
    return torch.from_numpy(y)
