"""One real run end to end: softmax regression trained on the digits for a few epochs, and
its figures drawn from what `nnstudy.train` returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import nnstudy
from nnstudy.report.plots import (
    plot_confusion_matrix,
    plot_learning_curves,
    plot_predictions,
    plot_weight_tiles,
)

DATA = {"name": "digits", "transforms": [{"normalize": "auto"}]}


@pytest.fixture(scope="module")
def run():
    torch.set_num_threads(1)
    result = nnstudy.train({"model": "softmax_regression", "data": DATA,
                            "train": {"epochs": 4, "lr": 0.1}})
    bundle = nnstudy.load_data(result.spec.data)
    with torch.no_grad():
        # The model takes the prepared (normalised) inputs; `x` is the data as decoded.
        probabilities = result.model(bundle.test.prepared).softmax(dim=1)
    return result, bundle, probabilities


def test_the_confusion_matrix_of_the_kept_weights_agrees_with_the_summary(run):
    result, bundle, probabilities = run
    predictions = probabilities.argmax(dim=1)
    fig = plot_confusion_matrix(bundle.test.y, predictions, class_names=bundle.classes)
    counts = np.array([[int(t.get_text()) for t in fig.axes[0].texts
                        if t.get_gid().startswith(f"count|{i}|")] for i in range(10)])
    assert counts.sum() == len(bundle.test.y)
    accuracy = np.trace(counts) / counts.sum()
    assert accuracy == pytest.approx(result.summary["best"]["test"]["accuracy"], abs=1e-9)
    assert f"accuracy {accuracy:.1%}" in fig.get_suptitle()


def test_the_weight_tiles_are_the_trained_weights_into_each_digit(run):
    result, bundle, _ = run
    weight = result.model.state_dict()["fc1.weight"].numpy()
    fig = plot_weight_tiles(result.model, bundle.input_shape, unit_names=bundle.classes)
    tiles = {im.get_gid(): im.get_array() for ax in fig.axes for im in ax.images}
    for k in range(10):
        np.testing.assert_allclose(tiles[f"tile|{k}"], weight[k].reshape(8, 8), rtol=1e-6)


def test_the_curves_and_the_mistakes_come_from_the_run(run):
    result, bundle, probabilities = run
    history = pd.DataFrame(result.history)
    trial = pd.DataFrame([{"status": result.summary["status"],
                           "best_epoch": result.summary["best_epoch"]}])
    fig = plot_learning_curves(history, trial)
    valid = next(ln for ln in fig.axes[0].get_lines()
                 if ln.get_gid() == "mean|all trials|valid|loss").get_xydata()
    expected = history[history["split"] == "valid"].sort_values("epoch")
    np.testing.assert_allclose(valid, expected[["epoch", "loss"]].to_numpy())

    confidence, predictions = probabilities.max(dim=1)
    fig = plot_predictions(bundle.test.x, bundle.test.y, predictions, confidences=confidence,
                           only_mistakes=True, count=8)
    shown = [int(ax.get_gid().split("|")[1]) for ax in fig.axes if ax.get_gid()]
    wrong = (predictions != bundle.test.y).numpy()
    assert all(wrong[i] for i in shown)
    assert list(confidence.numpy()[shown]) == sorted(confidence.numpy()[shown], reverse=True)
