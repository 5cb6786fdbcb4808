"""A data set in memory: splits, classes, and the batch function the trainer calls."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from nnstudy.config.data import DataSpec
from nnstudy.config.datasets import SPLITS
from nnstudy.data.augment import Augmenter
from nnstudy.data.describe import DataDescription, describe_bundle
from nnstudy.data.transforms import channel_stats


@dataclass
class Split:
    """One split: `x` as decoded (uint8 where the source is uint8, else float32), `y` int64.

    `prepared` is `x` after the deterministic transforms (float32), or `x` itself when there
    are none; `DataBundle.batch` gathers from it.
    """

    name: str
    x: Tensor
    y: Tensor
    prepared: Tensor = field(repr=False)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def __repr__(self) -> str:
        return (
            f"Split({self.name!r}, {len(self)} samples, x {tuple(self.x.shape)} "
            f"{str(self.x.dtype).removeprefix('torch.')})"
        )


@dataclass
class DataBundle:
    """The loaded data set. `batch(split, idx)` makes the float inputs of a batch.

    `input_shape` is the shape of one sample as `batch` returns it (after transforms,
    augmentation crop and flatten); `counts[split][c]` the number of samples of class c;
    `origin` where the files were read; `provenance[split]` how each split was made;
    `load_seconds` how long `load_data` took.
    """

    spec: DataSpec
    classes: list[str]
    train: Split
    valid: Split
    test: Split
    input_shape: tuple[int, ...]
    augmenter: Augmenter = field(repr=False)
    origin: str = ""
    #: Where each split comes from, e.g. {"valid": "10% of train, stratified, split_seed 0"}.
    provenance: dict[str, str] = field(default_factory=dict)
    load_seconds: float = 0.0

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.classes)

    @property
    def counts(self) -> dict[str, list[int]]:
        """Samples per class in each split: {"train": [n_0, n_1, ...], "valid": [...], ...}."""
        return {
            s.name: torch.bincount(s.y, minlength=self.num_classes).tolist() for s in self.splits
        }

    @property
    def splits(self) -> tuple[Split, Split, Split]:
        """(train, valid, test)."""
        return (self.train, self.valid, self.test)

    def split(self, which: str | Split) -> Split:
        """The split named `which` (train, valid, test), or `which` itself."""
        if isinstance(which, Split):
            return which
        if which not in SPLITS:
            raise KeyError(f"no split {which!r}; one of {', '.join(SPLITS)}")
        return getattr(self, which)

    def batch(
        self,
        split: str | Split,
        idx: Tensor,
        *,
        train: bool = False,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The float32 inputs [*idx.shape, *input_shape] of the samples `idx` of `split`.

        Gathers the prepared samples (deterministic transforms were applied at load), turns
        uint8 into floats in [0, 1], and with `train=True` applies the augmentation with
        random numbers from `generator`.
        """
        data = self.split(split).prepared
        flat = idx.reshape(-1)
        if flat.device != data.device:
            flat = flat.to(data.device)
        out = data.index_select(0, flat)
        if out.dtype == torch.uint8:
            out = out.to(torch.float32).div_(255)
        if self.augmenter:
            out = self.augmenter.train(out, generator) if train else self.augmenter.eval(out)
        return out.reshape(*idx.shape, *self.input_shape)

    def to(self, device: str | torch.device) -> DataBundle:
        """A bundle whose prepared tensors and labels live on `device` (x stays where it is)."""

        def move(s: Split) -> Split:
            return replace(s, y=s.y.to(device), prepared=s.prepared.to(device))

        return replace(self, train=move(self.train), valid=move(self.valid), test=move(self.test))

    def pixel_stats(self, split: str | Split = "train") -> tuple[list[float], list[float]]:
        """Mean and std per channel of the prepared samples of `split` (after transforms)."""
        return channel_stats(self.split(split).prepared)

    def describe(self) -> DataDescription:
        """What `nnstudy data show` prints: origin, classes, shapes, split sizes and how each
        split was made, pixel statistics, transforms, and a table of images per class.
        `print(bundle.describe())` gives it as text; rich renders it as a table."""
        return describe_bundle(self)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s.name} {len(s)}" for s in self.splits)
        return (
            f"DataBundle({self.spec.name}: {sizes}; {self.num_classes} classes; "
            f"input {self.input_shape})"
        )
