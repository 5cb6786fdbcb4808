"""`check_model`: a gradient check of a model named as on the command line, on random data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from nnstudy.config.loading import load_yaml
from nnstudy.config.train import TrainSpec
from nnstudy.errors import ConfigError, ShapeError
from nnstudy.gradients.gradcheck import GradcheckReport, gradcheck
from nnstudy.gradients.losses import random_targets

Shape = tuple[int, ...]


def resolve_model(arg: str, input_shape: Shape | None = None, overrides: Sequence[str] = ()
                  ) -> tuple[nn.Module, Shape, TrainSpec | None]:
    """The model `arg` names, the input shape it is built for, and the run config's
    `train:` block (its loss and L2 term; None when `arg` is not a run config).

    `arg` is a zoo name, a YAML model spec, `package.module:factory`, or a run config
    (a YAML file with `data:` or `train:`): then, without `input_shape`, the data set gives
    the shape and the number of classes (`nnstudy.models.load_model`).
    """
    from nnstudy.models import load_model
    from nnstudy.models.factory import is_run_config

    config = None
    path = Path(arg)
    if path.suffix in {".yaml", ".yml"} or path.is_file():
        raw = load_yaml(path)
        if is_run_config(raw):
            from nnstudy.config.run import load_run_spec

            config = load_run_spec(path, tuple(overrides)).train
    model, shape = load_model(arg, input_shape, overrides=overrides)
    return model, shape, config


def check_model(
    arg: str,
    input_shape: Shape | None = None,
    *,
    overrides: Sequence[str] = (),
    batch: int = 4,
    loss: str | None = None,
    params: str | Sequence[str] = "all",
    eps: float = 1e-6,
    samples: int | None = 100,
    seed: int = 0,
    train: bool = True,
    l2: float | None = None,
) -> GradcheckReport:
    """`gradcheck` of the model `arg` names on a random batch of `batch` inputs (normal) and
    targets (class indices for cross_entropy and nll, normal values for mse), seeded.

    The loss defaults to the run config's, else cross_entropy; `l2` (lambda of the L2 term
    the objective adds) to the run config's `train.l2`, else 0: the check differentiates
    what training minimizes. `train=False` checks the eval mode (batchnorm's running
    statistics, no dropout). The initial weights come from torch's global generator,
    seeded with `seed`, so that a check can be repeated.
    """
    if batch < 1:
        raise ConfigError(f"--batch: must be >= 1, got {batch}")
    torch.manual_seed(seed)
    model, shape, config = resolve_model(arg, input_shape, overrides)
    loss = loss or (config.loss if config is not None else None) or "cross_entropy"
    if l2 is None:
        l2 = config.l2 if config is not None else 0.0
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((batch, *shape), generator=gen)
    try:
        with torch.no_grad():  # eval: one example is too few for batchnorm's batch statistics
            probe = model.eval()(x[:1])
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ShapeError(f"{arg}: an input of shape {'x'.join(map(str, shape))} does not fit "
                         f"the model ({detail}); give one sample's shape with --input"
                         ) from None
    model.train(train)
    targets = random_targets(loss, probe.expand(batch, *probe.shape[1:]), gen)
    report = gradcheck(model, x, targets, loss=loss, params=params, eps=eps, samples=samples,
                       seed=seed, l2=l2)
    report.title = arg
    return report
