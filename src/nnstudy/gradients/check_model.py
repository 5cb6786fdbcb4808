"""`check_model`: a gradient check of a model named as on the command line, on random data."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from nnstudy.config.loading import load_yaml
from nnstudy.config.train import TrainSpec
from nnstudy.errors import ConfigError
from nnstudy.gradients.gradcheck import GradcheckReport, gradcheck
from nnstudy.gradients.losses import random_targets

Shape = tuple[int, ...]


def parse_shape(text: str, where: str = "--input") -> Shape:
    """`1,28,28`, `1x28x28` or `784` as a tuple of positive sizes."""
    parts = [p for p in re.split(r"[,x\s]+", text.strip().strip("()[]")) if p]
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"{where}: {text!r} is not a shape like 1,28,28 or 784")
    return tuple(int(p) for p in parts)


def resolve_model(arg: str, input_shape: Shape | None = None, overrides: Sequence[str] = ()
                  ) -> tuple[nn.Module, Shape, TrainSpec | None]:
    """The model `arg` names, the input shape it is built for, and the run config's
    `train:` block (its loss and L2 term; None when `arg` is not a run config).

    `arg` is a zoo name, a YAML model spec, `package.module:factory`, or a run config
    (a YAML file with `data:`): then, without `input_shape`, the data set gives the shape
    and the number of classes.
    """
    from nnstudy.models import build_model, load_model

    path = Path(arg)
    if path.suffix in {".yaml", ".yml"} or path.is_file():
        raw = load_yaml(path)
        if isinstance(raw, dict) and "data" in raw:
            from nnstudy.config.run import load_run_spec

            spec = load_run_spec(path, tuple(overrides))
            classes = None
            if input_shape is None:
                from nnstudy.data import load_data

                bundle = load_data(spec.data, progress=False)
                input_shape, classes = bundle.input_shape, bundle.num_classes
            return build_model(spec.model, input_shape, classes), tuple(input_shape), spec.train
    model, shape = load_model(arg, input_shape, overrides=overrides)
    return model, shape, None


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
    with torch.no_grad():  # eval: one example is too few for batchnorm's batch statistics
        probe = model.eval()(x[:1])
    model.train(train)
    targets = random_targets(loss, probe.expand(batch, *probe.shape[1:]), gen)
    report = gradcheck(model, x, targets, loss=loss, params=params, eps=eps, samples=samples,
                       seed=seed, l2=l2)
    report.title = arg
    return report
