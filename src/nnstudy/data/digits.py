"""scikit-learn's 8x8 handwritten digits: 1,797 images, values 0..16, shipped with the library.

The images are scaled to [0, 1] by x / 16 and held as float32 [N, 1, 8, 8]. The data set has
no test split of its own; `load_data` draws a stratified one (20% by default).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from nnstudy.data.raw import RawData, RawPart


def read_digits(classes: tuple[str, ...] | list[str]) -> RawData:
    """The 1,797 digits as float32 [N, 1, 8, 8] in [0, 1] with labels 0..9 (no network),
    named `classes`."""
    images, target = _digits_arrays()
    x = (images / 16.0).astype(np.float32)[:, np.newaxis]
    return RawData(
        list(classes),
        RawPart(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(target)),
        origin="scikit-learn (sklearn.datasets.load_digits)",
    )


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images float64 [N, 8, 8], labels int64 [N]): the file scikit-learn ships,
    `sklearn/datasets/data/digits.csv.gz` (64 pixel values and the label per row), read
    as `load_digits` reads it, without importing scikit-learn (most of a second, which every
    study worker would pay); through `load_digits` where the file is not found."""
    spec = importlib.util.find_spec("sklearn")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            data = np.loadtxt(path, delimiter=",")
            return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return (np.asarray(digits.images, dtype=np.float64),
            np.asarray(digits.target, dtype=np.int64))
