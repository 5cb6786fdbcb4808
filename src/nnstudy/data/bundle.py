"""A data set in memory: splits, classes, and the batch function the trainer calls."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from nnstudy.config.data import DataSpec
from nnstudy.config.datasets import SPLITS
from nnstudy.data.augment import Augmenter
from nnstudy.data.describe import DataDescription, describe_bundle
from nnstudy.data.transforms import channel_stats
from nnstudy.errors import ConfigError

#: The version of `DataBundle.fingerprint`'s recipe; part of every fingerprint.
FINGERPRINT_VERSION = 1


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

    def fingerprint(self) -> str:
        """The hex sha256 of what `batch(split, idx)` returns for evaluation, for every split:
        the prepared samples (bytes, dtype, shape), the labels, the class names, the input
        shape and the augmentation (whose evaluation form, a centre crop, is part of it).

        Equal fingerprints mean equal inputs and labels, however they were read (another
        root, a downloaded copy): the data part of a feature cache key. It hashes every
        prepared byte (about a second per GB).
        """
        digest = hashlib.sha256()
        header = {
            "version": FINGERPRINT_VERSION,
            "classes": self.classes,
            "input_shape": list(self.input_shape),
            "augment": [s.to_config() for s in self.spec.augment],
        }
        digest.update(json.dumps(header, sort_keys=True).encode())
        for s in self.splits:
            for t in (s.prepared, s.y):
                flat = t.detach().cpu().contiguous().reshape(-1)
                digest.update(f"|{s.name}|{t.dtype}|{list(t.shape)}|".encode())
                digest.update(flat.view(torch.uint8).numpy())
        return digest.hexdigest()

    def with_inputs(self, inputs: Mapping[str, Tensor], *, origin: str = "") -> DataBundle:
        """A bundle of the same samples, labels and classes whose inputs are `inputs[split]`
        (one row per sample, in the order of the split; e.g. a backbone's features), each
        flattened to [N, D] and held as float32: `batch` then gathers rows of D values and
        `input_shape` is (D,), so the trainer trains on them as on pixels.

        `origin` says where the inputs come from (default: "inputs computed from <origin>").
        A data block with `augment` is refused: random augmentation cannot apply to inputs
        computed once.
        """
        if self.spec.augment:
            kinds = ", ".join(s.kind for s in self.spec.augment)
            raise ConfigError(
                f"data.augment: {kinds} cannot apply to inputs computed once from the "
                "unaugmented images (such as cached features); remove data.augment"
            )
        missing = [s for s in SPLITS if s not in inputs]
        if missing:
            raise ValueError(f"with_inputs: no inputs for split {', '.join(missing)}")
        splits = {}
        width = None
        for s in self.splits:
            x = inputs[s.name]
            if x.dim() == 0 or x.shape[0] != len(s):
                raise ValueError(
                    f"with_inputs: {s.name} has {len(s)} samples, its inputs {list(x.shape)}"
                )
            x = x.reshape(len(s), math.prod(x.shape[1:])).to(torch.float32)
            if width is not None and x.shape[1] != width:
                raise ValueError(
                    f"with_inputs: {s.name} inputs have {x.shape[1]} values, train {width}"
                )
            width = int(x.shape[1])
            splits[s.name] = Split(s.name, x, s.y, x)
        return replace(
            self,
            train=splits["train"],
            valid=splits["valid"],
            test=splits["test"],
            input_shape=(int(width or 0),),
            augmenter=Augmenter([], (int(width or 0),), []),
            origin=origin or f"inputs computed from {self.origin}",
        )

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
