"""Image folders: `root/<split>/<class>/*` (splits train, valid or val, test) or `root/<class>/*`.

Classes are the sorted folder names under `train/` (or under `root`), as torchvision's
ImageFolder has them. Images are decoded once with Pillow into RGB or 8-bit grayscale
(`Image.convert`, as ImageFolder + Grayscale do) and stacked as uint8. The decoded arrays are
cached on disk under the cache directory, keyed by the list of files with their sizes and
modification times, so a second load reads one file; changing, adding or removing an image
makes a new key.

Images of different sizes are resized one by one at decode (bilinear, antialiased, as the
`resize` transform) when the transforms start with `resize` (after at most `grayscale`);
otherwise they are an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from nnstudy.config.datasets import SPLITS
from nnstudy.data.atomic import atomic_path
from nnstudy.data.cache import cache_dir
from nnstudy.data.raw import RawData, RawPart, as_images
from nnstudy.data.transforms import resize
from nnstudy.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")
#: The folder names of each split: its own name, and `val` for valid (as many sets have it).
SPLIT_FOLDERS = {split: (split, *{"valid": ("val",)}.get(split, ())) for split in SPLITS}
CACHE_VERSION = 1


def read_folder(
    root: Path,
    color: str = "rgb",
    resize_to: tuple[int, int] | None = None,
) -> RawData:
    """Decode every image under `root` (see the module docstring for the layout)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"data.root: {root}: no such directory")
    folders = _split_folders(root)
    classes = _class_names(folders["train"])
    listing = {split: _list_images(folder, classes) for split, folder in folders.items()}
    for split, files in listing.items():
        if not files:
            raise DataError(f"{folders[split]}: no class folders (expected <class>/<image>.png)")
    entries = [
        [split, str(p.relative_to(root)), st.st_size, st.st_mtime_ns, label]
        for split, files in listing.items()
        for p, st, label in files
    ]
    key_source = json.dumps([CACHE_VERSION, color, resize_to, classes, entries])
    key = hashlib.sha256(key_source.encode()).hexdigest()[:24]
    cache_file = cache_dir() / "folders" / f"{key}.npz"
    if cache_file.is_file():
        arrays = _load_cache(cache_file)
    else:
        arrays = _decode(root, listing, color, resize_to)
        _save_cache(cache_file, arrays)
    parts: dict[str, RawPart | None] = {"valid": None, "test": None}
    for split in listing:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        parts[split] = RawPart(as_images(x), torch.from_numpy(y.astype(np.int64)))
    return RawData(classes, parts["train"], parts["valid"], parts["test"], origin=str(root))


def _split_folders(root: Path) -> dict[str, Path]:
    """{split: folder} for the split layout, or {"train": root} for a folder of classes."""
    found = {}
    for split, names in SPLIT_FOLDERS.items():
        for name in names:
            if (root / name).is_dir():
                found[split] = root / name
                break
    if not found:
        return {"train": root}
    if "train" not in found:
        raise DataError(
            f"data.root: {root}: has {', '.join(p.name for p in found.values())}/ but no train/"
        )
    return found


def _class_names(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DataError(f"{folder}: no class folders (expected {folder}/<class>/<image>.png)")
    return names


def _list_images(folder: Path, classes: list[str]) -> list[tuple[Path, os.stat_result, int]]:
    index = {name: i for i, name in enumerate(classes)}
    out = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if sub.name not in index:
            raise DataError(
                f"{sub}: class {sub.name!r} is not among the training classes "
                f"({', '.join(classes)})"
            )
        files = sorted(
            p
            for p in sub.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(sub).parts)
        )
        if not files:
            raise DataError(f"{sub}: empty class folder (no {', '.join(IMAGE_SUFFIXES)} images)")
        out += [(p, p.stat(), index[sub.name]) for p in files]
    return out


def _decode(
    root: Path,
    listing: dict[str, list[tuple[Path, os.stat_result, int]]],
    color: str,
    resize_to: tuple[int, int] | None,
) -> dict[str, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    mode = "L" if color == "grayscale" else "RGB"
    decoded: dict[str, list[np.ndarray]] = {}
    first: tuple[Path, tuple[int, ...]] | None = None
    mixed = False
    for split, files in listing.items():
        images = []
        for path, _, _ in files:
            try:
                with Image.open(path) as img:
                    array = np.array(img.convert(mode), dtype=np.uint8)
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise DataError(f"{path}: cannot read image ({exc})") from None
            array = array[np.newaxis] if array.ndim == 2 else array.transpose(2, 0, 1)
            if first is None:
                first = (path, array.shape)
            elif array.shape != first[1]:
                if resize_to is None:
                    raise DataError(
                        f"{path}: {array.shape[2]}x{array.shape[1]} image, but "
                        f"{first[0].name} is {first[1][2]}x{first[1][1]}; images must share a "
                        "size, or put {resize: [H, W]} first in data.transforms"
                    )
                mixed = True
            images.append(array)
        decoded[split] = images
    arrays: dict[str, np.ndarray] = {}
    for split, images in decoded.items():
        if mixed and resize_to is not None:
            images = [_resized(a, resize_to) for a in images]
        arrays[f"x_{split}"] = np.stack(images)
        arrays[f"y_{split}"] = np.array([label for _, _, label in listing[split]], dtype=np.int64)
    return arrays


def _resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 [C, H, W] -> float32 [C, *size] in [0, 1], as the resize transform does it."""
    x = torch.from_numpy(image).to(torch.float32).div_(255).unsqueeze(0)
    return resize(x, size)[0].numpy()


def _load_cache(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{path}: unreadable decode cache ({exc}); delete it to decode again"
        ) from None


def _save_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the decode cache atomically; a cache that cannot be written is skipped."""
    with contextlib.suppress(OSError), atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez(f, **arrays)
