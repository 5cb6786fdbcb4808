"""The confusion matrix: counts against scikit-learn's, and the numbers written in the cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix

from nnstudy.errors import ConfigError
from nnstudy.report.plots.confusion import confusion_counts, plot_confusion_matrix


def test_counts_match_scikit_learn():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, 400)
    predictions = np.where(rng.random(400) < 0.7, labels, rng.integers(0, 5, 400))
    np.testing.assert_array_equal(confusion_counts(labels, predictions, 5),
                                  confusion_matrix(labels, predictions, labels=range(5)))


def test_every_cell_shows_its_count_and_the_colour_is_the_rows_share():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    predictions = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0, 2])
    fig = plot_confusion_matrix(labels, predictions, class_names=["cat", "dog", "emu"])
    ax = fig.axes[0]
    counts = confusion_matrix(labels.numpy(), predictions.numpy())
    written = {t.get_gid(): int(t.get_text()) for t in ax.texts}
    assert written == {f"count|{i}|{j}": counts[i, j] for i in range(3) for j in range(3)}
    share = next(im for im in ax.images if im.get_gid() == "share").get_array()
    np.testing.assert_allclose(share, counts / counts.sum(axis=1, keepdims=True))
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "emu"]
    assert fig.get_suptitle() == "Confusion matrix, test split: accuracy 77.8% of 9 samples"


def test_a_class_never_seen_still_gets_its_row():
    fig = plot_confusion_matrix([0, 1], [0, 1], num_classes=3)
    written = {t.get_gid(): t.get_text() for t in fig.axes[0].texts}
    assert written["count|2|2"] == "0" and len(written) == 9


def test_bad_labels_are_one_clear_error():
    with pytest.raises(ConfigError, match="3 labels but 2 predictions"):
        confusion_counts([0, 1, 1], [0, 1], 2)
    with pytest.raises(ConfigError, match=r"predictions must be classes 0\.\.1, got values from 0 to 4"):
        confusion_counts([0, 1], [0, 4], 2)
    with pytest.raises(ConfigError, match="2 class names for 3 classes"):
        plot_confusion_matrix([0, 2], [0, 2], class_names=["a", "b"], num_classes=3)
