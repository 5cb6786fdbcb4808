"""scikit-learn's 8x8 handwritten digits: 1,797 images, values 0..16, shipped with the library.

The images are scaled to [0, 1] by x / 16 and held as float32 [N, 1, 8, 8]. The data set has
no test split of its own; `load_data` draws a stratified one (20% by default).
"""

from __future__ import annotations

import numpy as np
import torch

from nnstudy.data.raw import RawData, RawPart


def read_digits(classes: tuple[str, ...] | list[str]) -> RawData:
    """The 1,797 digits as float32 [N, 1, 8, 8] in [0, 1] with labels 0..9 (no network),
    named `classes`."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (np.asarray(digits.images, dtype=np.float64) / 16.0).astype(np.float32)[:, np.newaxis]
    y = np.asarray(digits.target, dtype=np.int64)
    return RawData(
        list(classes),
        RawPart(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)),
        origin="scikit-learn (sklearn.datasets.load_digits)",
    )
