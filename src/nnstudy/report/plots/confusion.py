"""The confusion matrix of a classifier on one split: row = true class, column = predicted
class, each cell the number of samples, annotated. The diagonal holds the right answers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from nnstudy.errors import ConfigError
from nnstudy.report.plots.figure import new_figure


def confusion_counts(labels: ArrayLike, predictions: ArrayLike, num_classes: int) -> np.ndarray:
    """counts[i, j] = number of samples with true class i predicted as class j, shape [K, K]."""
    y = np.asarray(labels).astype(np.int64).ravel()
    p = np.asarray(predictions).astype(np.int64).ravel()
    if y.shape != p.shape:
        raise ConfigError(f"confusion matrix: {y.size} labels but {p.size} predictions")
    for name, values in (("labels", y), ("predictions", p)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ConfigError(f"confusion matrix: {name} must be classes 0..{num_classes - 1}, "
                              f"got values from {values.min()} to {values.max()}")
    return np.bincount(y * num_classes + p, minlength=num_classes**2).reshape(
        num_classes, num_classes)


def plot_confusion_matrix(
    labels: ArrayLike,
    predictions: ArrayLike,
    *,
    class_names: Sequence[str] | None = None,
    num_classes: int | None = None,
    split: str = "test",
    title: str | None = None,
) -> Figure:
    """The confusion matrix with every count written in its cell.

    Args:
        labels: true classes, integers 0..K-1 (a numpy array or torch tensor, any shape).
        predictions: predicted classes, the same shape (`logits.argmax(1)`).
        class_names: K names for the axes (default 0..K-1).
        num_classes: K (default: len(class_names), else the largest class seen + 1).
        split: the split's name, for the title.

    Colour is the fraction of the true class's samples (the row), so a rare class's errors
    show as clearly as a common one's; the number written is the count.
    """
    y = np.asarray(labels).ravel()
    p = np.asarray(predictions).ravel()
    if num_classes is None:
        seen = int(max(y.max(initial=-1), p.max(initial=-1))) + 1
        num_classes = len(class_names) if class_names is not None else seen
    if class_names is not None and len(class_names) != num_classes:
        raise ConfigError(f"confusion matrix: {len(class_names)} class names for "
                          f"{num_classes} classes")
    counts = confusion_counts(y, p, num_classes)
    names = [str(c) for c in class_names] if class_names is not None else [
        str(i) for i in range(num_classes)]
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    side = min(11.0, max(4.8, 0.55 * num_classes + 2.4))
    fig = new_figure(side + 1.0, side)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    image.set_gid("share")
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("fraction of the true class")
    size = 10 if num_classes <= 10 else 8 if num_classes <= 20 else 6
    for i in range(num_classes):
        for j in range(num_classes):
            n = counts[i, j]
            ink = "white" if share[i, j] > 0.6 else ("black" if n else "0.7")
            ax.text(j, i, str(n), ha="center", va="center", fontsize=size, color=ink,
                    weight="bold" if i == j else "normal", gid=f"count|{i}|{j}")
    ax.set_xticks(range(num_classes), names, rotation=45 if max(map(len, names)) > 3 else 0,
                  ha="right" if max(map(len, names)) > 3 else "center")
    ax.set_yticks(range(num_classes), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else float("nan")
    fig.suptitle(title or f"Confusion matrix, {split} split: accuracy {accuracy:.1%} of "
                 f"{total} samples", fontsize=12)
    return fig
