"""Fixtures of the training tests: a plain PyTorch loop, written out as the reports write
theirs, to check the trainer against (the same initial weights and data order as
`train_group`, torch.optim.SGD, float64, every batch loss kept)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
import torch.nn.functional as F

from nnstudy.config.run import RunSpec
from nnstudy.models import build_model


@dataclass
class PlainRun:
    net: torch.nn.Module
    losses: list[float] = field(default_factory=list)     # each step's batch loss
    penalties: list[float] = field(default_factory=list)  # each step's l2 * sum ||W||^2
    epochs: list[int] = field(default_factory=list)       # each step's epoch


def plain_sgd(s: RunSpec, bundle, steps: int | None = None) -> PlainRun:
    """SGD (with momentum when the spec has one) on `s`'s data order, for `s`'s epochs or
    until `steps` steps, with the loss reduced as `train.loss_reduction` says and the L2
    term l2 * sum over Linear weights of ||W||^2."""
    t = s.train
    net = build_model(s.model, bundle.input_shape, bundle.num_classes, seed=t.seed).double()
    opt = torch.optim.SGD(net.parameters(), lr=t.lr,
                          momentum=t.optimizer_hparams().get("momentum", 0.0))
    gen = torch.Generator().manual_seed(t.seed)
    n = len(bundle.train)
    run = PlainRun(net)
    epoch = 0
    while True:
        epoch += 1
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, t.batch_size):
            if steps is not None and len(run.losses) == steps:
                return run
            idx = perm[i : i + t.batch_size]
            x = bundle.batch("train", idx).double()
            loss = F.cross_entropy(net(x), bundle.train.y[idx], reduction=t.loss_reduction)
            penalty = t.l2 * sum((m.weight**2).sum() for m in net.modules()
                                 if isinstance(m, torch.nn.Linear))
            run.losses.append(loss.item())
            run.penalties.append(float(penalty.detach()))
            run.epochs.append(epoch)
            opt.zero_grad()
            (loss + penalty).backward()
            opt.step()
        if steps is None and epoch == t.epochs:
            return run


@pytest.fixture(name="plain_sgd")
def plain_sgd_fixture():
    """`plain_sgd(spec, bundle, steps=None) -> PlainRun`."""
    return plain_sgd
