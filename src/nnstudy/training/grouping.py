"""Which run specs train together as one group, and what the group's optimizer gets.

G models train together when they share what one batched computation must share: the
data, the architecture, the optimizer and its switches (nesterov, amsgrad, ...), which of
its hyperparameters are given, the batch size, the loss, the engine, the evaluation's batch
size and cadence, and the device (`group_key`). Everything else may differ per model: seed, the optimizer's numbers (lr,
momentum, betas, ...), L2, schedule, epochs, init, early stopping.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from nnstudy.config.run import RunSpec
from nnstudy.training.optimizers import OPTIMIZER_CLASSES


def group_key(spec: RunSpec) -> str:
    """What G models trained together must share; specs with equal keys form one group."""
    t = spec.train
    hp = t.optimizer_hparams()
    hyper = OPTIMIZER_CLASSES[t.optimizer].hyper
    shared = {
        "data": spec.data.model_dump(mode="json"),
        "model": spec.model,
        "optimizer": t.optimizer,
        "hparam_keys": sorted(hp),
        "flags": {k: v for k, v in hp.items() if hyper[k].switch},
        "batch_size": t.batch_size,
        "loss": t.loss,
        "engine": t.engine,
        "eval_batch_size": t.eval_batch_size,
        "eval_every": t.eval_every,
        "device": spec.device,
    }
    return json.dumps(shared, sort_keys=True, default=str)


def per_model(values: Sequence[Any], device: torch.device) -> Tensor:
    """One number per model as a float64 [G] tensor on `device`."""
    return torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)


def optimizer_hparams(specs: Sequence[RunSpec], device: torch.device) -> dict[str, Any]:
    """The keyword arguments of the group's batched optimizer: each hyperparameter as one
    float when every model has the same value, else G per-model values; switches (one for
    the group, by `group_key`) as they are; `betas` as a pair of per-model values."""
    hps = [s.train.optimizer_hparams() for s in specs]
    hyper = OPTIMIZER_CLASSES[specs[0].train.optimizer].hyper
    out: dict[str, Any] = {}
    for key in hps[0]:
        values = [h[key] for h in hps]
        if hyper[key].switch:
            out[key] = values[0]
        elif hyper[key].pair:
            out[key] = (per_model([v[0] for v in values], device),
                        per_model([v[1] for v in values], device))
        elif all(v == values[0] for v in values):
            out[key] = float(values[0])
        else:
            out[key] = per_model(values, device)
    return out
