"""Arrays in a NumPy .npz file: `x` [N, C, H, W], [N, H, W] or [N, D] and `y` [N].

Optional: `x_valid`/`y_valid` and `x_test`/`y_test` (splits of their own), and `classes`
(class names; otherwise "0", "1", ... up to the largest label). uint8 arrays stay uint8 (and
are scaled by 1/255 per batch); any other number type is read as float32 as it is.
The file is read with `allow_pickle=False`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from nnstudy.config.datasets import SPLITS
from nnstudy.data.raw import RawData, RawPart, as_images, as_labels
from nnstudy.errors import DataError

#: The arrays of each split: x and y for train, x_<split> and y_<split> for the others.
PARTS = {s: ("x", "y") if s == "train" else (f"x_{s}", f"y_{s}") for s in SPLITS}


def read_npz(path: Path) -> RawData:
    """Read the arrays of `path` (see the module docstring)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"data.path: {path}: no such file")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (not a zip archive of .npy arrays)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as exc:
        raise DataError(f"{path}: holds pickled objects or bad arrays ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    found = ", ".join(sorted(arrays)) or "nothing"
    for key in ("x", "y"):
        if key not in arrays:
            raise DataError(f"{path}: no array {key!r} (found {found}); expected x and y")
    classes = _class_names(path, arrays)
    raw_labels = [arrays[y] for x, y in PARTS.values() if y in arrays]
    num = (
        len(classes)
        if classes
        else int(max((int(y.max()) for y in raw_labels if len(y)), default=-1)) + 1
    )
    parts: dict[str, RawPart | None] = {"valid": None, "test": None}
    shape = None
    for split, (kx, ky) in PARTS.items():
        if (kx in arrays) != (ky in arrays):
            have, missing = (kx, ky) if kx in arrays else (ky, kx)
            raise DataError(f"{path}: has {have!r} but no {missing!r}")
        if kx not in arrays:
            continue
        x = _samples(path, kx, arrays[kx])
        if len(x) == 0:
            raise DataError(f"{path}: {kx!r} holds 0 samples; a split needs at least one")
        if shape is not None and x.shape[1:] != shape:
            raise DataError(
                f"{path}: {kx!r} samples are {list(x.shape[1:])}, 'x' samples {list(shape)}"
            )
        shape = x.shape[1:]
        if len(arrays[ky]) != len(x):
            raise DataError(
                f"{path}: {len(arrays[ky])} labels in {ky!r} for {len(x)} samples in {kx!r}"
            )
        parts[split] = RawPart(as_images(x), as_labels(arrays[ky], num, f"{path}:{ky}"))
    names = classes or [str(i) for i in range(num)]
    return RawData(names, parts["train"], parts["valid"], parts["test"], origin=str(path))


def _samples(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise DataError(f"{path}: {key!r} must hold numbers, got dtype {x.dtype}")
    if x.ndim == 3:
        return x[:, np.newaxis]
    if x.ndim not in {2, 4}:
        raise DataError(
            f"{path}: {key!r} has shape {list(x.shape)}; expected [N, C, H, W], [N, H, W] or [N, D]"
        )
    return x


def _class_names(path: Path, arrays: dict[str, np.ndarray]) -> list[str]:
    if "classes" not in arrays:
        return []
    names = arrays["classes"]
    if names.ndim != 1 or not len(names):
        raise DataError(f"{path}: 'classes' must be a 1-D array of names, got shape {names.shape}")
    return [str(n) for n in names.tolist()]
