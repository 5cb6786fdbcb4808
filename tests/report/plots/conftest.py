"""Small synthetic study tables for the plot tests: 2 optimizers x 3 learning rates x 3 seeds,
with known metrics, one configuration whose seeds all diverged, one seed that diverged in an
otherwise good configuration, and one configuration with no trial at all."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

OPTIMIZERS = ["sgd", "adam"]
LRS = [0.001, 0.01, 0.1]
SEEDS = [0, 1, 2]


def study_trials() -> pd.DataFrame:
    """One row per trial in grid order, like StudyResult.trials.

    - adam lr 0.1: every seed diverged;
    - sgd lr 0.1 seed 2: diverged (the other two done);
    - adam lr 0.001: absent (a missing cell);
    - accuracies and costs differ per configuration and seed by known amounts.
    """
    rng = np.random.default_rng(7)
    rows = []
    for o, opt in enumerate(OPTIMIZERS):
        for k, lr in enumerate(LRS):
            if (opt, lr) == ("adam", 0.001):
                continue
            for seed in SEEDS:
                status = "done"
                if (opt, lr) == ("adam", 0.1) or ((opt, lr) == ("sgd", 0.1) and seed == 2):
                    status = "diverged"
                acc = 0.6 + 0.1 * k + 0.05 * o + 0.01 * seed + rng.normal(0, 0.002)
                loss = 2.0 - acc * 2
                rows.append({
                    "trial_id": f"g{o}{k}-s{seed}", "seed": seed, "status": status,
                    "train.optimizer": opt, "train.lr": lr,
                    "best_test_accuracy": acc if status == "done" else np.nan,
                    "best_valid_loss": loss if status == "done" else np.nan,
                    "best_epoch": 3 + seed if status == "done" else 0,
                    "training_flops": float(1e8 * (k + 1) * (1 + o)),
                    "wall_time_s": 1.0 + k + 0.5 * o + 0.1 * seed,
                })
    return pd.DataFrame(rows)


def curve_epochs(trials: pd.DataFrame, epochs: int = 6, stop: dict[str, int] | None = None
                 ) -> pd.DataFrame:
    """An epochs table for the trials: loss falls and accuracy rises with the epoch, each
    trial by its own amount; a diverged trial has epoch 0 and then a NaN loss; `stop` ends
    some trials early (trial_id -> last epoch)."""
    stop = stop or {}
    rows = []
    for t, row in enumerate(trials.itertuples(index=False)):
        last = stop.get(row.trial_id, epochs)
        for epoch in range(last + 1):
            for s, split in enumerate(("train", "valid", "test")):
                loss = 2.3 / (1 + epoch * (0.5 + 0.05 * t)) + 0.01 * s
                acc = 1 - loss / 2.5
                if row.status == "diverged" and epoch >= 2:
                    loss, acc = (float("nan"), 0.1) if epoch == 2 else (None, None)
                    if loss is None:
                        continue
                rows.append({"trial_id": row.trial_id, "epoch": epoch, "split": split,
                             "loss": loss, "accuracy": acc})
    return pd.DataFrame(rows)


def lines_by_gid(fig: Figure, prefix: str) -> dict[str, object]:
    """Every Line2D of the figure whose gid starts with `prefix`, by gid."""
    return {line.get_gid(): line for ax in fig.axes for line in ax.get_lines()
            if (line.get_gid() or "").startswith(prefix)}


@pytest.fixture
def trials() -> pd.DataFrame:
    return study_trials()


@pytest.fixture
def make_epochs():
    return curve_epochs


@pytest.fixture
def gid_lines():
    return lines_by_gid
