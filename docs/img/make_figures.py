"""Draw the example figures of docs/plots.md from real training runs.

Run from the repository root (about a minute on a laptop CPU):

    PYTHONPATH=src python docs/img/make_figures.py [--mnist ../shared/data/mnist-10k]

The study is studies/quickstart.yaml on the digits that ship with scikit-learn (4 optimizers
x 3 learning rates x 3 seeds). The single runs are a softmax regression and a one-hidden-layer
MLP on the digits; with `--mnist DIR` (the four IDX files), a softmax regression on MNIST as
well, for weight images at 28x28 like report 001's and for the loss surface.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import nnstudy
from nnstudy.report.plots import (
    plot_confusion_matrix,
    plot_cost_quality,
    plot_heatmap,
    plot_learning_curves,
    plot_loss_surface,
    plot_main_effects,
    plot_metric_vs_key,
    plot_predictions,
    plot_step_losses,
    plot_weight_tiles,
    save_figure,
)
from nnstudy.training.loss_surface import descent_path, grid_around, loss_grid, weight_value

HERE = Path(__file__).parent
DIGITS = {"name": "digits", "transforms": [{"normalize": "auto"}]}


def save(fig, name: str, dpi: int = 120) -> None:
    path = save_figure(fig, HERE / name, dpi=dpi)
    print(f"{path}: {path.stat().st_size / 1024:.0f} KB")


def study_figures(out: Path) -> None:
    result = nnstudy.Study.from_yaml("studies/quickstart.yaml").run(out=out)
    trials, epochs, keys = result.trials, result.epochs, result.keys
    done = trials[trials["status"] == "done"]
    # The best learning rate of each optimizer by mean valid loss, as the report picks them.
    means = done.groupby(keys)["best_valid_loss"].mean().reset_index()
    best = means.loc[means.groupby("train.optimizer")["best_valid_loss"].idxmin(), keys]
    chosen = trials.merge(best, on=keys)
    save(plot_learning_curves(epochs[epochs["trial_id"].isin(chosen["trial_id"])], chosen,
                              by=keys, splits=["valid"], max_epochs=20,
                              title="Valid curves of the best learning rate per optimizer"),
         "curves_best_per_optimizer.png")
    one = trials[(trials["train.optimizer"] == "adam") & (trials["train.lr"] == 0.01)]
    save(plot_learning_curves(epochs[epochs["trial_id"].isin(one["trial_id"])], one, by=keys,
                              max_epochs=20, log_loss=True, title="adam, lr 0.01: 3 seeds"),
         "curves_one_configuration.png")
    save(plot_metric_vs_key(trials, "train.lr", "best_test_accuracy", hue="train.optimizer"),
         "accuracy_vs_lr.png")
    save(plot_heatmap(trials, "train.optimizer", "train.lr", "best_test_accuracy"),
         "heatmap.png")
    save(plot_main_effects(trials, keys, "best_valid_loss"), "main_effects.png")
    save(plot_cost_quality(trials, keys), "cost_quality.png")


def run_figures() -> None:
    run = nnstudy.train({"model": "softmax_regression", "data": DIGITS,
                         "train": {"epochs": 15, "optimizer": "sgd", "lr": 0.1}})
    bundle = nnstudy.load_data(run.spec.data)
    with torch.no_grad():
        probabilities = run.model(bundle.test.prepared).softmax(dim=1)
    confidence, predictions = probabilities.max(dim=1)
    save(plot_confusion_matrix(bundle.test.y, predictions, class_names=bundle.classes),
         "confusion.png")
    # A random sample with a mistake in it, to show what one looks like: the first seed
    # whose 20 images hold at least one.
    wrong = (predictions != bundle.test.y).numpy()
    seed = next(s for s in range(100)
                if wrong[np.random.default_rng(s).choice(len(wrong), 20, replace=False)].any())
    save(plot_predictions(bundle.test.x, bundle.test.y, predictions, confidences=confidence,
                          seed=seed), "predictions.png")
    save(plot_predictions(bundle.test.x, bundle.test.y, predictions, confidences=confidence,
                          only_mistakes=True, count=10), "predictions_mistakes.png")
    save(plot_weight_tiles(run.model, bundle.input_shape, unit_names=bundle.classes,
                           columns=10), "weights_softmax_digits.png")
    history = pd.DataFrame(run.history)
    summary = pd.DataFrame([{"status": run.summary["status"],
                             "best_epoch": run.summary["best_epoch"]}])
    save(plot_learning_curves(history, summary, title="One run: softmax regression, digits"),
         "curves_run.png")
    mlp = nnstudy.train({"model": {"mlp": {"hidden": [32]}}, "data": DIGITS,
                         "train": {"epochs": 20}})
    save(plot_weight_tiles(mlp.model, bundle.input_shape, max_tiles=16),
         "weights_mlp_digits.png")


def mnist_figures(root: Path) -> None:
    data = {"name": "mnist", "root": str(root), "transforms": [{"normalize": "auto"}]}
    run = nnstudy.train({"model": "softmax_regression", "data": data,
                         "train": {"epochs": 5, "optimizer": "sgd", "lr": 0.05}})
    bundle = nnstudy.load_data(run.spec.data)
    save(plot_weight_tiles(run.model, bundle.input_shape, unit_names=bundle.classes,
                           columns=5, title="Softmax regression on MNIST: the weights into "
                                            "each digit (red +, blue -)"),
         "weights_softmax_mnist.png")
    surface(run.model, bundle.train.prepared[:2000], bundle.train.y[:2000],
            ("fc1.weight[0,377]", "fc1.weight[1,377]"), lr=2.0, offset=(-1.5, 1.5),
            name="loss_surface_mnist.png")


def surface(model, x, y, weights, lr: float, offset, name: str) -> None:
    """Report 001's Figures 6 and 7: momentum 0, 0.25 and 0.8 from one start."""
    trained = [weight_value(model, w) for w in weights]
    start = (trained[0] + offset[0], trained[1] + offset[1])
    paths = {}
    for momentum in (0.0, 0.25, 0.8):
        path = descent_path(model, x, y, weights, lr=lr, momentum=momentum, steps=60,
                            start=start)
        paths[path.label] = path.points
    xs, ys = grid_around(np.vstack([*paths.values(), [trained]]), n=60, margin=0.15)
    begin = time.perf_counter()
    z = loss_grid(model, x, y, weights, xs, ys)
    print(f"loss grid {z.shape} over {len(x)} samples: {time.perf_counter() - begin:.1f} s")
    save(plot_loss_surface(xs, ys, z, paths, xlabel=weights[0], ylabel=weights[1],
                           mark=trained, title=f"Gradient descent over two weights, lr {lr}"),
         name, dpi=100)  # filled contours compress less well: 100 dpi keeps it under 150 KB


def step_figure() -> None:
    """The running loss every 5 mini-batches of an MLP on the digits with a small L2 term,
    two learning rates x 3 seeds."""
    frames, trials = [], []
    for lr in (0.01, 0.1):
        for seed in (0, 1, 2):
            run = nnstudy.train({"model": {"mlp": {"hidden": [32]}}, "data": {"name": "digits"},
                                 "train": {"epochs": 3, "lr": lr, "batch_size": 32,
                                           "log_every": 5, "l2": 0.001, "seed": seed}})
            trial = f"lr{lr}-s{seed}"
            frames.append(run.steps.assign(trial_id=trial))
            trials.append({"trial_id": trial, "status": "done", "train.lr": lr})
    save(plot_step_losses(pd.concat(frames), pd.DataFrame(trials), by=["train.lr"]),
         "steps_running_loss.png", dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, help="directory with the four MNIST IDX files")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        study_figures(Path(tmp) / "quickstart")
    run_figures()
    step_figure()
    if args.mnist:
        mnist_figures(args.mnist)


if __name__ == "__main__":
    main()
