"""A grid of test images with the predicted and the true label; the wrong ones marked in
red, title and frame (report 003, Figure 4). With `only_mistakes`, the wrong ones alone,
the most confident first: the mistakes the model is surest of are the ones to look at."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from nnstudy.errors import ConfigError
from nnstudy.report.plots.figure import WRONG, new_figure

RIGHT = "#1a7f37"  # dark green


def pick_samples(labels: np.ndarray, predictions: np.ndarray, confidences: np.ndarray | None,
                 count: int, only_mistakes: bool = False, seed: int | None = None
                 ) -> np.ndarray:
    """Indices of the samples to show, at most `count`:
    - only_mistakes: the wrong ones, most confident first (in data order without
      confidences);
    - seed given: a random sample without replacement (the same seed, the same sample);
    - otherwise the first `count`."""
    if only_mistakes:
        wrong = np.flatnonzero(labels != predictions)
        if confidences is not None:
            wrong = wrong[np.argsort(-confidences[wrong], kind="stable")]
        return wrong[:count]
    if seed is not None:
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(len(labels), size=min(count, len(labels)), replace=False))
    return np.arange(min(count, len(labels)))


def plot_predictions(
    images: ArrayLike,
    labels: ArrayLike,
    predictions: ArrayLike,
    *,
    confidences: ArrayLike | None = None,
    class_names: Sequence[str] | None = None,
    count: int = 20,
    columns: int = 10,
    only_mistakes: bool = False,
    seed: int | None = None,
    title: str | None = None,
) -> Figure:
    """Images with `predicted` as the title (and `true: y` under it when wrong, in red, with
    a red frame). With confidences, the predicted class's probability follows the label.

    Args:
        images: [N, C, H, W] or [N, H, W] (numpy or torch), normalised or not: each image is
            stretched to its own min..max for display.
        labels, predictions: [N] class indices.
        confidences: [N] probability of the predicted class (softmax max), optional.
        class_names: names for the class indices.
        count: how many images at most; columns: images per row.
        only_mistakes: show only wrong predictions, most confident first.
        seed: draw a random sample (reproducible) instead of the first `count`.
    """
    x = np.asarray(images, dtype=float)
    if x.ndim == 3:
        x = x[:, None]
    y = np.asarray(labels).astype(int).ravel()
    p = np.asarray(predictions).astype(int).ravel()
    c = None if confidences is None else np.asarray(confidences, dtype=float).ravel()
    if x.ndim != 4 or not len(x) == len(y) == len(p) or (c is not None and len(c) != len(y)):
        raise ConfigError(f"predictions: images {list(np.shape(images))}, labels {y.size}, "
                          f"predictions {p.size}"
                          + (f", confidences {c.size}" if c is not None else "")
                          + "; expected [N, C, H, W] images and N of each")
    if x.shape[1] not in (1, 3):
        raise ConfigError(f"predictions: images have {x.shape[1]} channels; 1 or 3 can be "
                          "shown")
    chosen = pick_samples(y, p, c, count, only_mistakes, seed)

    def name(k: int) -> str:
        return str(class_names[k]) if class_names is not None else str(k)

    ncols = max(1, min(columns, len(chosen)))
    nrows = max(1, math.ceil(len(chosen) / ncols))
    fig = new_figure(1.25 * ncols + 0.3, 1.55 * nrows + 0.7)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    for ax, i in zip(axes.flat, chosen, strict=False):
        image = x[i]
        lo, hi = float(image.min()), float(image.max())
        shown = (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
        if shown.shape[0] == 1:
            ax.imshow(shown[0], cmap="gray_r" if _dark_background(shown[0]) else "gray",
                      vmin=0, vmax=1, interpolation="nearest").set_gid(f"image|{i}")
        else:
            ax.imshow(shown.transpose(1, 2, 0), interpolation="nearest").set_gid(f"image|{i}")
        wrong = y[i] != p[i]
        text = name(p[i]) + (f" ({c[i]:.0%})" if c is not None else "")
        if wrong:
            text += f"\ntrue: {name(y[i])}"
        ax.set_title(text, fontsize=9, color=WRONG if wrong else RIGHT,
                     weight="bold" if wrong else "normal")
        ax.set_gid(f"sample|{i}|{'wrong' if wrong else 'right'}")
        if wrong:
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_color(WRONG)
                spine.set_linewidth(3)
    n_wrong = int((y[chosen] != p[chosen]).sum())
    if title is None:
        if only_mistakes:
            title = (f"The {len(chosen)} mistakes the model is surest of" if c is not None
                     else f"{len(chosen)} mistakes")
            title += f" ({int((y != p).sum())} of {len(y)} wrong in all)"
        else:
            title = (f"Predictions on {len(chosen)} images: {n_wrong} wrong (red), "
                     f"{len(chosen) - n_wrong} right" if n_wrong
                     else f"Predictions on {len(chosen)} images: all right")
    fig.suptitle(title, fontsize=12)
    return fig


def _dark_background(image: np.ndarray) -> bool:
    """Whether most pixels are dark (digits: light strokes on black). Such images are drawn
    with the grey scale reversed, dark strokes on white, to read like ink on paper."""
    return bool(np.median(image) < 0.5)
