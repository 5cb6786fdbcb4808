"""`train.engine: numpy`: train with the NumPy reference engine, every number visible.

The model is built from its spec exactly as the torch engine builds it (same seed, same
initial weights), read into `nnstudy.reference`, and trained there by plain or momentum
SGD over the same per-epoch orders of examples as the torch trainer draws for that seed;
so the curve equals the torch engine's to float tolerance (tested). Slower, and limited to
what reports 001 and 002 do: MLPs and softmax regression, sgd and momentum, L2.
"""

from __future__ import annotations

import numpy as np
import torch

from nnstudy.config.run import RunSpec
from nnstudy.errors import ConfigError
from nnstudy.models import build_model
from nnstudy.models.to_reference import from_torch
from nnstudy.reference.train import evaluate, train_numpy
from nnstudy.training.init import apply_init
from nnstudy.training.schedules import lr_factor
from nnstudy.training.trainer import SPLITS, TrainedModel


def train_with_numpy(spec: RunSpec, bundle) -> TrainedModel:
    """Train `spec` on `bundle` with the reference engine; metrics as the torch trainer's."""
    t = spec.train
    if t.optimizer not in ("sgd", "momentum"):
        raise ConfigError(f"train.optimizer: {t.optimizer!r} with engine numpy; the reference "
                          "engine trains with sgd or momentum")
    if t.early_stopping is not None:
        raise ConfigError("train.early_stopping: not available with engine numpy")
    net = build_model(spec.model, bundle.input_shape, bundle.num_classes, seed=t.seed)
    torch.manual_seed(t.seed)
    apply_init(net, t.init, t.init_scale)
    network = from_torch(net.double())
    arrays = {s: (bundle.batch(s, torch.arange(len(getattr(bundle, s)))).double().numpy(),
                  getattr(bundle, s).y.numpy()) for s in SPLITS if len(getattr(bundle, s))}
    gen = torch.Generator().manual_seed(t.seed)
    n = len(bundle.train)
    perms = [torch.randperm(n, generator=gen).numpy() for _ in range(t.epochs)]
    history = []

    def record(epoch: int) -> None:
        for split, (x, y) in arrays.items():
            loss, acc = evaluate(network, x, y, t.loss)
            history.append({"epoch": epoch, "split": split, "loss": float(loss),
                            "accuracy": float(acc)})

    record(0)
    epoch_box = [0]

    def on_epoch(rows) -> None:
        epoch_box[0] += 1
        record(epoch_box[0])

    x_train, y_train = arrays["train"]
    momentum = t.optimizer_hparams().get("momentum", 0.9)
    train_numpy(network, x_train, y_train, epochs=t.epochs, lr=t.lr,
                batch_size=t.batch_size, optimizer=t.optimizer, momentum=momentum, l2=t.l2,
                loss=t.loss, permutations=perms, seed=t.seed,
                lr_factor=lambda e: lr_factor(t.schedule, e, t.epochs), on_epoch=on_epoch)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)).float()
             for k, v in network.params().items()}
    full = net.float().state_dict()
    full.update(state)
    last = t.epochs
    final = {r["split"]: {"loss": r["loss"], "accuracy": r["accuracy"]}
             for r in history if r["epoch"] == last}
    return TrainedModel(spec=spec, history=history, epoch_times=[], best_epoch=last,
                        epochs_run=last, status="done", state_dict=full, diagnostics=[],
                        params=sum(p.numel() for p in net.parameters()), final=final,
                        best=final)
