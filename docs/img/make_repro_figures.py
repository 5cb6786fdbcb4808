"""Draw the figures of docs/reproduction.md from the reproduction studies' directories.

Run each study first, into one folder (docs/reproduction.md gives the commands and the time
each took), e.g. for the MNIST sample:

    nnstudy study run studies/NAME.yaml --set data.root=../shared/data/mnist-10k --out RUNS/NAME

then, from the repository root:

    PYTHONPATH=src python docs/img/make_repro_figures.py --runs RUNS

Every figure is drawn from the studies' stored results (study.db, models/*.pt) with the
functions of nnstudy.report.plots; a study that is not in RUNS is skipped, and said so.
A study keeps the weights of the best seed of the configurations its `select` picks
(`keep_models: best`); the weight images and the predictions use the kept model of the
variant they show.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import nnstudy
from nnstudy.config.study import load_study, plan_trials
from nnstudy.models import build_model
from nnstudy.report.plots import (
    plot_heatmap,
    plot_learning_curves,
    plot_main_effects,
    plot_metric_vs_key,
    plot_predictions,
    plot_step_losses,
    plot_weight_tiles,
    save_figure,
)
from nnstudy.study import load_result

HERE = Path(__file__).parent


def save(fig, name: str, dpi: int = 110) -> None:
    path = save_figure(fig, HERE / name, dpi=dpi)
    print(f"{path}: {path.stat().st_size / 1024:.0f} KB")


def kept_trial(study_dir: Path, trials, variant: str) -> tuple[str, int]:
    """The id and seed of a trial of `variant` whose weights the study kept."""
    rows = trials[trials["variant"] == variant].sort_values("seed")
    for trial_id, seed in zip(rows["trial_id"], rows["seed"], strict=True):
        if (study_dir / "models" / f"{trial_id}.pt").is_file():
            return trial_id, int(seed)
    raise FileNotFoundError(f"{study_dir}: no kept model of variant {variant}")


def trained_model(study_dir: Path, trial_id: str):
    """The best-epoch model of one trial, rebuilt from the study's own file, and its data."""
    plan = next(p for p in plan_trials(load_study(study_dir / "study.yaml"))
                if p.trial_id == trial_id)
    bundle = nnstudy.load_data(plan.spec.data, progress=False)
    net = build_model(plan.spec.model, bundle.input_shape, bundle.num_classes)
    state = torch.load(study_dir / "models" / f"{trial_id}.pt", weights_only=True)
    net.load_state_dict(state)
    return net.eval(), bundle


def best_per(trials, keys: list[str], per: str, metric: str, lower: bool):
    """The trials of the configuration with the best mean `metric` within each `per` value."""
    done = trials[trials["status"] == "done"]
    means = done.groupby(keys)[metric].mean().reset_index()
    pick = means.groupby(per)[metric].idxmin() if lower else means.groupby(per)[metric].idxmax()
    return trials.merge(means.loc[pick, keys], on=keys)


def preprocessing(d: Path) -> None:
    r = load_result(d)
    save(plot_metric_vs_key(r.trials, "variant", "best_valid_accuracy",
                            title="Report 000 Task 1: inputs raw, Normalize(0.5, 0.5), "
                                  "blur (3, 0.7)"), "repro_preprocessing.png")


def optimizers(d: Path, name: str, title: str) -> None:
    r = load_result(d)
    save(plot_heatmap(r.trials, "train.optimizer", "train.lr", "best_valid_accuracy",
                      title=title), f"repro_{name}_heatmap.png")
    keys = ["train.optimizer", "train.lr"]
    chosen = best_per(r.trials, keys, "train.optimizer", "best_valid_loss", lower=True)
    epochs = r.epochs[r.epochs["trial_id"].isin(chosen["trial_id"])]
    save(plot_learning_curves(epochs, chosen, by=keys, splits=["train", "valid"],
                              title=f"{title}: best lr per optimizer"),
         f"repro_{name}_curves.png")


def hidden_units(d: Path) -> None:
    r = load_result(d)
    save(plot_metric_vs_key(r.trials, "model.mlp.hidden", "best_valid_accuracy",
                            title="Reports 000/004 Task 3: hidden units"),
         "repro_hidden_units.png")


def layers_and_dropout(d: Path) -> None:
    r = load_result(d)
    save(plot_metric_vs_key(r.trials, "model.mlp.dropout", "best_valid_accuracy",
                            hue="variant",
                            title="Reports 000/004 Tasks 4-5: layers and dropout"),
         "repro_layers_dropout.png")


def softmax_001(d: Path) -> None:
    r = load_result(d)
    save(plot_step_losses(r.steps, r.trials, by=["variant"],
                          title="Report 001: softmax regression, NumPy engine, batch 1000, "
                                "lr 1e-5 (loss: sum over 1,000 images)"),
         "repro_softmax_001_steps.png")
    trial_id, seed = kept_trial(d, r.trials, "momentum")
    net, bundle = trained_model(d, trial_id)
    save(plot_weight_tiles(net, bundle.input_shape, unit_names=bundle.classes, columns=5,
                           title="Report 001 Fig. 5: the weights into each digit "
                                 f"(momentum 0.9, seed {seed})"),
         "repro_softmax_001_weights.png")


def mlp_grid_001(d: Path) -> None:
    r = load_result(d)
    save(plot_main_effects(r.trials, r.keys, "best_valid_accuracy",
                           title="Report 001 Part 8: the grid's main effects"),
         "repro_mlp_grid_001.png")


def two_layer_002(d: Path) -> None:
    r = load_result(d)
    # The schedule is a mapping; its one varied number, gamma, makes a readable label.
    trials = r.trials.assign(**{"lr decay": [s["gamma"] for s in r.trials["train.schedule"]]})
    keys = ["lr decay" if k == "train.schedule" else k for k in r.keys]
    save(plot_main_effects(trials, keys, "best_valid_accuracy",
                           title="Report 002: tuning the two-layer net"),
         "repro_two_layer_002.png")


def deeper_002(d: Path) -> None:
    r = load_result(d)
    save(plot_metric_vs_key(r.trials, "model.mlp.hidden", "best_valid_accuracy",
                            hue="variant", title="Report 002: 2-5 layers, and the fixes"),
         "repro_deeper_002.png")


def fc_depth_003(d: Path) -> None:
    r = load_result(d)
    save(plot_step_losses(r.steps, r.trials, by=["model.mlp.hidden"],
                          title="Report 003 Table 1: 2-5 linear layers, the loss every 2,000 "
                                "mini-batches (batch 4)"),
         "repro_fc_depth_003_steps.png")


def cnn_003(d: Path) -> None:
    r = load_result(d)
    fig = plot_metric_vs_key(r.trials, "variant", "best_test_accuracy",
                             title="Report 003 Tables 3-5: the tutorial CNN's variants")
    fig.set_size_inches(11, 4.5)  # nine variant names side by side
    save(fig, "repro_cnn_003.png")
    trial_id, seed = kept_trial(d, r.trials, "default")
    net, bundle = trained_model(d, trial_id)
    with torch.no_grad():
        probabilities = net(bundle.test.prepared).softmax(dim=1)
    confidence, predictions = probabilities.max(dim=1)
    save(plot_predictions(bundle.test.x, bundle.test.y, predictions, confidences=confidence,
                          class_names=bundle.classes, seed=0,
                          title=f"Report 003 Fig. 4: 20 random test images, the tutorial CNN "
                                f"(seed {seed})"),
         "repro_cnn_003_predictions.png")


FIGURES = {
    "preprocessing": preprocessing,
    "optimizers-and-learning-rates": lambda d: optimizers(
        d, "optimizers", "Report 000 Task 2 without the final softmax"),
    "optimizers-double-softmax": lambda d: optimizers(
        d, "double_softmax", "Report 000 Task 2 with its final softmax"),
    "hidden-units": hidden_units,
    "layers-and-dropout": layers_and_dropout,
    "softmax-regression-001": softmax_001,
    "mlp-grid-001": mlp_grid_001,
    "two-layer-002": two_layer_002,
    "deeper-nets-002": deeper_002,
    "fc-depth-003": fc_depth_003,
    "cnn-variants-003": cnn_003,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True,
                        help="the folder that holds one study directory per study name")
    parser.add_argument("studies", nargs="*", help="only these studies (default: all)")
    args = parser.parse_args()
    for name in args.studies or FIGURES:
        d = args.runs / name
        if not (d / "study.db").is_file():
            print(f"{name}: no study in {d}, skipped")
            continue
        FIGURES[name](d)


if __name__ == "__main__":
    main()
