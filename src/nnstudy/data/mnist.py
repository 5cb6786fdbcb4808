"""MNIST, Fashion-MNIST and KMNIST: four IDX files, from a local directory or the cache.

A local `root` must hold the four files under their standard names, gzip-compressed
(`train-images-idx3-ubyte.gz`) or not (`train-images-idx3-ubyte`); it may hold a subset of
the data set (any sizes). Without `root` the files are downloaded once into the cache.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnstudy.data.catalog import CATALOG, IDX_FILES
from nnstudy.data.download import ensure_downloaded
from nnstudy.data.idx import IMAGES_MAGIC, LABELS_MAGIC, load_idx
from nnstudy.data.raw import RawData, RawPart, as_images, as_labels
from nnstudy.errors import DataError


def read_mnist_style(name: str, root: Path | None, *, progress: bool = True) -> RawData:
    """Read the train and t10k IDX pairs of `name` (mnist, fashion_mnist, kmnist)."""
    dataset = CATALOG[name]
    if root is None:
        directory = ensure_downloaded(dataset, progress=progress)
    else:
        directory = Path(root).expanduser()
        if not directory.is_dir():
            raise DataError(f"data.root: {directory}: no such directory")
    paths = [_find(directory, f) for f in IDX_FILES]
    train = _read_pair(paths[0], paths[1], len(dataset.classes))
    test = _read_pair(paths[2], paths[3], len(dataset.classes))
    return RawData(list(dataset.classes), train, None, test, origin=str(directory))


def _find(directory: Path, gz_name: str) -> Path:
    for candidate in (directory / gz_name, directory / gz_name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    raise DataError(
        f"{directory / gz_name}: no such file (an IDX directory holds "
        f"{', '.join(IDX_FILES)}, gzip-compressed or not)"
    )


def _read_pair(images_path: Path, labels_path: Path, num_classes: int) -> RawPart:
    images = load_idx(images_path, IMAGES_MAGIC)
    labels = load_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            f"{labels_path}: {len(labels)} labels for the {len(images)} images of "
            f"{images_path.name}"
        )
    x = as_images(images[:, np.newaxis, :, :])
    return RawPart(x, as_labels(labels, num_classes, str(labels_path)))
