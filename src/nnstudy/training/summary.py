"""A trained model's summary (summary.json): metrics, cost, data, machine.

Its own module, apart from `run.py` (which writes run directories and imports pandas and
rich): a study's worker process builds the summaries of its units and needs none of that.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from nnstudy.training.trainer import TrainedModel


def training_flops(model: nn.Module, input_shape: Sequence[int]) -> dict[str, int] | None:
    """Forward FLOPs and training FLOPs per sample, from nnstudy.analysis when available."""
    try:
        from nnstudy.analysis import inspect
    except ImportError:
        return None
    summary = inspect(model, tuple(input_shape))
    out = {"forward_flops_per_sample": int(summary.flops)}
    if summary.training is not None:
        out["training_flops_per_sample"] = int(summary.training.flops)
    return out


def data_summary(bundle) -> dict[str, Any]:
    """The data set's name, classes and split sizes, for summary.json."""
    return {"name": bundle.spec.name, "classes": len(bundle.classes),
            "sizes": {s: len(getattr(bundle, s)) for s in ("train", "valid", "test")}}


def build_summary(trained: TrainedModel, input_shape: Sequence[int], wall_time: float,
                  flops: dict[str, int] | None, n_train: int) -> dict[str, Any]:
    """The summary.json of one trained model; training FLOPs = per-sample training cost x
    training samples seen (training samples x epochs run, when every epoch ran whole;
    evaluation passes not included). With L2 on, `final` and `best` give each split's
    `regularized_loss` (loss + lambda sum ||W||^2) and `l2_term` the term itself."""
    spec = trained.spec
    summary: dict[str, Any] = {
        "name": spec.name,
        "status": trained.status,
        "best_epoch": trained.best_epoch,
        "epochs_run": trained.epochs_run,
        "steps_run": trained.steps_run,
        "stopped_early": trained.stopped_early,
        "final": trained.final,
        "best": trained.best,
        "params": trained.params,
        "input_shape": list(input_shape),
        "wall_time_s": round(wall_time, 3),
        "epoch_time_s": [round(t, 4) for t in trained.epoch_times],
        "diagnostics": trained.diagnostics,
        "signals": trained.signals,
        "l2_term": trained.l2_term,
        "machine": {"platform": platform.platform(), "torch": torch.__version__,
                    "threads": torch.get_num_threads()},
    }
    if flops:
        summary.update(flops)
        if "training_flops_per_sample" in flops:
            seen = trained.samples_seen or n_train * trained.epochs_run
            summary["training_flops"] = flops["training_flops_per_sample"] * seen
    return summary
