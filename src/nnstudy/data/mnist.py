"""MNIST-style data sets (MNIST, KMNIST, ...): four IDX files, a train and a test pair.

The folder (a local `root`, or the cache the files were downloaded into) holds the files
under their published names (`IDX_FILES`), gzip-compressed (`train-images-idx3-ubyte.gz`)
or not (`train-images-idx3-ubyte`); it may hold a subset of the data set (any sizes). Class
names come from the catalog entry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnstudy.config.datasets import IDX_FILES
from nnstudy.data.idx import IMAGES_MAGIC, LABELS_MAGIC, load_idx
from nnstudy.data.raw import RawData, RawPart, as_images, as_labels
from nnstudy.errors import DataError


def read_mnist_style(folder: Path, classes: tuple[str, ...] | list[str]) -> RawData:
    """Read the train and t10k IDX pairs in `folder`; labels index `classes`."""
    paths = [_find(folder, f) for f in IDX_FILES]
    train = _read_pair(paths[0], paths[1], len(classes))
    test = _read_pair(paths[2], paths[3], len(classes))
    return RawData(list(classes), train, None, test, origin=str(folder))


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
