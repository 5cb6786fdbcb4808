"""The relative errors that gradient checks report."""

from __future__ import annotations

import numpy as np


def entry_rel_error(analytic: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    """Per entry: |a - n| / max(|a| + |n|, 1e-12)."""
    a, n = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    return np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), 1e-12)


def tensor_rel_error(a: np.ndarray, b: np.ndarray, scale: float = 0.0) -> float:
    """Whole-tensor: max|a - b| / max(max|a|, max|b|, 1e-6 * scale, 1e-300).

    `scale` is the largest gradient anywhere in the model. The floor makes a gradient that
    is zero up to rounding (the bias of a layer followed by batchnorm: two residues near
    1e-17) compare as zero instead of as a 100% error; an error still shows in full on any
    tensor whose gradient exceeds 1e-6 of the model's largest.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0:
        return 0.0
    denom = max(float(np.abs(a).max()), float(np.abs(b).max()), 1e-6 * scale, 1e-300)
    return float(np.abs(a - b).max() / denom)
