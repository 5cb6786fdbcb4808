"""`load_data(spec) -> DataBundle`: read, split, transform once, and check the augmentation.

1. The catalog entry of `spec.name` says where the files are: `root` or `path`, or the cache
   (downloaded and unpacked there first); its reader decodes them into tensors (uint8 where
   the files are).
2. Splits: the data set's own test split, else a stratified one (20%, or `fractions.test`)
   drawn with seed 0; its own validation split, else a stratified `valid_fraction` of train
   (or `fractions.valid` of the whole) drawn with `split_seed`.
3. The deterministic transforms run once over every split (normalize `auto` measured on
   train at its place in the list); batches then only gather, convert and augment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from nnstudy.config.data import (
    DEFAULT_TEST_FRACTION,
    DataSpec,
    Flatten,
    Grayscale,
    Resize,
    StepSpec,
    parse_data_spec,
)
from nnstudy.config.datasets import Dataset
from nnstudy.data.augment import Augmenter
from nnstudy.data.bundle import DataBundle, Split
from nnstudy.data.raw import RawData, RawPart
from nnstudy.data.splits import stratified_split
from nnstudy.data.transforms import prepare, step_function
from nnstudy.errors import DataError

#: The seed of carved-out test splits: fixed, so that trials with different `split_seed`
#: are scored on the same test images.
TEST_SEED = 0

#: A reader: (the spec, its catalog entry, where the files are) -> the decoded data.
Reader = Callable[[DataSpec, Dataset, Path | None], RawData]


def _read_digits(spec: DataSpec, dataset: Dataset, where: Path | None) -> RawData:
    from nnstudy.data.digits import read_digits

    return read_digits(dataset.classes)


def _read_idx(spec: DataSpec, dataset: Dataset, where: Path | None) -> RawData:
    from nnstudy.data.mnist import read_mnist_style

    assert where is not None  # a downloadable data set always has a folder
    return read_mnist_style(where, dataset.classes)


def _read_cifar(spec: DataSpec, dataset: Dataset, where: Path | None) -> RawData:
    from nnstudy.data.cifar import read_cifar10

    assert where is not None
    return read_cifar10(where, dataset)


def _read_folder(spec: DataSpec, dataset: Dataset, where: Path | None) -> RawData:
    from nnstudy.data.folder import read_folder

    assert where is not None  # DataSpec requires root for folder
    return read_folder(where, spec.color or "rgb", _decode_size(spec.transforms))


def _read_npz(spec: DataSpec, dataset: Dataset, where: Path | None) -> RawData:
    from nnstudy.data.npz import read_npz

    assert where is not None  # DataSpec requires path for npz
    return read_npz(where)


#: The readers by the format name a catalog entry gives (`Dataset.reader`).
READERS: dict[str, Reader] = {
    "digits": _read_digits,
    "idx": _read_idx,
    "cifar": _read_cifar,
    "folder": _read_folder,
    "npz": _read_npz,
}


def load_data(
    spec: DataSpec | dict[str, Any] | str | None = None, *, progress: bool = True
) -> DataBundle:
    """Load the data set `spec` describes (a DataSpec, its YAML dict, or just a name).

    Errors in the spec are ConfigErrors naming `data.<key>`; unreadable files are
    DataErrors naming the file. `progress` shows download progress bars on stderr.
    """
    start = time.perf_counter()
    spec = parse_data_spec(spec)
    dataset = spec.dataset
    raw = READERS[dataset.reader](spec, dataset, _files(spec, dataset, progress))
    parts, provenance = _split(raw, spec)
    prepared, steps, image_shape = prepare({k: p.x for k, p in parts.items()}, spec.transforms)
    augmenter = Augmenter(
        spec.augment, image_shape, _black_pixel(steps, tuple(raw.train.x.shape[1:]))
    )
    input_shape = augmenter.output_shape
    if any(isinstance(s, Flatten) for s in steps):
        input_shape = (_numel(input_shape),)
    splits = {k: Split(k, p.x, p.y, prepared[k]) for k, p in parts.items()}
    return DataBundle(
        spec=spec.model_copy(update={"transforms": steps}),
        classes=list(raw.classes),
        train=splits["train"],
        valid=splits["valid"],
        test=splits["test"],
        input_shape=tuple(input_shape),
        augmenter=augmenter,
        origin=raw.origin,
        provenance=provenance,
        load_seconds=time.perf_counter() - start,
    )


def _files(spec: DataSpec, dataset: Dataset, progress: bool) -> Path | None:
    """Where the reader finds the files: `root` or `path` as given, or, for a data set that
    can be downloaded, the folder `dataset_folder` makes ready (cache, unpack hook)."""
    given = getattr(spec, dataset.location.key) if dataset.location else None
    if dataset.download is None:
        return given
    from nnstudy.data.download import dataset_folder

    return dataset_folder(dataset, given, progress=progress)


def _split(raw: RawData, spec: DataSpec) -> tuple[dict[str, RawPart], dict[str, str]]:
    """The three splits and a line per split saying how it was made."""
    fractions = spec.fractions
    if fractions is not None and (raw.test is not None or raw.valid is not None):
        own = "test" if raw.test is not None else "validation"
        raise DataError(
            f"data.fractions: {raw.origin} has a {own} split of its own; remove fractions "
            "(valid_fraction sets the validation share of train)"
        )
    default = DataSpec.model_fields["valid_fraction"].default
    if raw.valid is not None and spec.valid_fraction != default:
        raise DataError(
            f"data.valid_fraction: {raw.origin} has a validation split of its own; "
            f"remove valid_fraction (got {spec.valid_fraction})"
        )
    for split, part in (("train", raw.train), ("valid", raw.valid), ("test", raw.test)):
        if part is not None and len(part) == 0:
            raise DataError(f"{raw.origin}: the {split} split has 0 samples")
    train, test = raw.train, raw.test
    how = {"train": "training files", "valid": "validation files", "test": "test files"}
    if test is None:
        share = fractions.test if fractions is not None else DEFAULT_TEST_FRACTION
        keep, held = stratified_split(train.y.numpy(), share, TEST_SEED)
        how["test"] = f"{_pct(share)} of all {len(train):,}, stratified, seed {TEST_SEED}"
        train, test = _take(train, keep), _take(train, held)
        how["train"] = "all but test"
    valid = raw.valid
    if valid is None:
        if fractions is not None:
            share = fractions.valid / (fractions.train + fractions.valid)
        else:
            share = spec.valid_fraction
        keep, held = stratified_split(train.y.numpy(), share, spec.split_seed)
        how["valid"] = (
            f"{_pct(share)} of {len(train):,} ({how['train']}), stratified, "
            f"split_seed {spec.split_seed}"
        )
        how["train"] += ", less valid"
        train, valid = _take(train, keep), _take(train, held)
    return {"train": train, "valid": valid, "test": test}, how


def _pct(share: float) -> str:
    return f"{share * 100:.6g}%"


def _take(part: RawPart, index: Any) -> RawPart:
    idx = torch.as_tensor(index, dtype=torch.int64)
    return RawPart(part.x.index_select(0, idx), part.y.index_select(0, idx))


def _decode_size(steps: list[StepSpec]) -> tuple[int, int] | None:
    """The size images of mixed sizes are resized to at decode: the first resize, when only
    grayscale comes before it (both commute: each is linear per pixel or per channel)."""
    for step in steps:
        if isinstance(step, Resize):
            return step.size
        if not isinstance(step, Grayscale):
            return None
    return None


def _black_pixel(steps: list[StepSpec], sample_shape: tuple[int, ...]) -> list[float]:
    """The value per channel that a black (all-zero) image has after the transforms."""
    if len(sample_shape) != 3:
        return []
    x = torch.zeros((1, *sample_shape), dtype=torch.float32)
    for step in steps:
        if not isinstance(step, Flatten):
            x = step_function(step)(x)
    return x[0, :, x.shape[2] // 2, x.shape[3] // 2].tolist()


def _numel(shape: tuple[int, ...]) -> int:
    out = 1
    for n in shape:
        out *= n
    return out
