"""The prediction grid: each image as given, its predicted label as the title, the wrong ones
in red with a red frame; only the mistakes, most confident first, when asked."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.colors import to_rgba

from nnstudy.report.plots.figure import WRONG
from nnstudy.report.plots.predictions import pick_samples, plot_predictions


def _data():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(12, 1, 6, 5))
    labels = np.arange(12) % 3
    predictions = labels.copy()
    predictions[[2, 7, 9]] = [0, 2, 1]
    confidences = np.linspace(0.3, 0.95, 12)
    return images, labels, predictions, confidences


def _shown(fig) -> list[tuple[int, str, object]]:
    out = []
    for ax in fig.axes:
        if ax.get_gid():
            _, index, verdict = ax.get_gid().split("|")
            out.append((int(index), verdict, ax))
    return out


def test_each_image_is_drawn_as_given_with_its_labels():
    images, labels, predictions, confidences = _data()
    fig = plot_predictions(torch.as_tensor(images), labels, predictions, confidences=confidences,
                           class_names=["a", "b", "c"], count=12, columns=6)
    shown = _shown(fig)
    assert [i for i, _, _ in shown] == list(range(12))
    for i, verdict, ax in shown:
        image = ax.images[0].get_array()
        lo, hi = images[i].min(), images[i].max()
        np.testing.assert_allclose(image, (images[i, 0] - lo) / (hi - lo))
        title = ax.get_title()
        assert title.startswith(f"{'abc'[predictions[i]]} ({confidences[i]:.0%})")
        wrong = labels[i] != predictions[i]
        assert verdict == ("wrong" if wrong else "right")
        if wrong:
            assert title.endswith(f"true: {'abc'[labels[i]]}")
            assert ax.title.get_color() == WRONG
            assert all(s.get_visible() and s.get_edgecolor() == to_rgba(WRONG)
                       for s in ax.spines.values())
        else:
            assert not any(s.get_visible() for s in ax.spines.values())
    assert "3 wrong (red), 9 right" in fig.get_suptitle()


def test_only_mistakes_shows_the_wrong_ones_most_confident_first():
    images, labels, predictions, confidences = _data()
    fig = plot_predictions(images, labels, predictions, confidences=confidences,
                           only_mistakes=True)
    assert [i for i, _, _ in _shown(fig)] == [9, 7, 2]
    assert all(verdict == "wrong" for _, verdict, _ in _shown(fig))


def test_a_seed_draws_the_same_random_sample_each_time():
    labels = np.zeros(100, dtype=int)
    first = pick_samples(labels, labels, None, 10, seed=4)
    assert len(set(first)) == 10
    np.testing.assert_array_equal(first, pick_samples(labels, labels, None, 10, seed=4))
    assert not np.array_equal(first, np.arange(10))
