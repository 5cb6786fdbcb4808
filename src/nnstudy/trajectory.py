"""`nnstudy trajectory`: report 001's Figures 6 and 7, gradient descent over two weights of a
trained model (every other weight held at its trained value) drawn over the loss surface.

Like `api.py`, this module sits above the rooms and composes two of them: the arithmetic
is `nnstudy.training.loss_surface` (the descent paths, the loss grid), the figure
`nnstudy.report.plots.plot_loss_surface` (the report room draws, it never trains); here
the model is trained or loaded, run and drawn. `nnstudy.api.trajectory` is the public name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from nnstudy.training.run import RunResult, train


@dataclasses.dataclass
class Trajectory:
    """`trajectory`'s result: the two weights, their trained values, one descent path per
    momentum, the loss grid under them (z[i, j] at xs[j], ys[i]) and its figure."""

    weights: tuple[str, str]
    trained: tuple[float, float]
    trained_loss: float
    samples: int
    paths: list[Any]  # nnstudy.training.loss_surface.DescentPath
    xs: Any
    ys: Any
    z: Any
    grid_seconds: float
    figure: Figure
    run: RunResult | None = None  # when trained here (nnstudy.training.run.RunResult)


def trajectory(config: str | Path | dict[str, Any], weights: Sequence[str],
               momentum: Sequence[float] = (0.0, 0.25, 0.8), lr: float = 0.1,
               steps: int = 100, start: Sequence[float] | None = None,
               offset: Sequence[float] = (-1.0, 1.0), samples: int = 2000, grid: int = 60,
               overrides: Sequence[str] = (), device: str | None = None) -> Trajectory:
    """Report 001's Figures 6 and 7: the training loss over two weights, every other weight
    held at its trained value, and full-batch gradient descent on those two weights from one
    start for each momentum.

    `config` is a run config (trained here, as `nnstudy train` would, without a run
    directory) or a run directory (its config.yaml and model.pt are loaded). The loss is that
    of the first `samples` training examples; the descent starts at `start`, or at the
    trained values plus `offset`; the contour is a `grid` x `grid` grid around every path
    and the trained point, computed batched (`loss_grid`: many weight pairs per forward pass).
    """
    import time

    import numpy as np
    import torch

    from nnstudy.config.run import load_run_spec
    from nnstudy.data import load_data
    from nnstudy.errors import ConfigError
    from nnstudy.models import build_model
    from nnstudy.report.plots import plot_loss_surface
    from nnstudy.training.loss_surface import (
        cross_entropy,
        descent_path,
        grid_around,
        loss_grid,
        parse_weight_name,
        weight_value,
    )
    from nnstudy.training.run_dir import why_not_a_run_dir

    if len(weights) != 2:
        raise ConfigError(f"--weights: give exactly two weights, got {len(weights)}")
    if not momentum:
        raise ConfigError("--momentum: give at least one value")
    if samples < 1:
        raise ConfigError(f"--samples: {samples} is not a number of examples (1 or more)")
    if grid < 2:
        raise ConfigError(f"--grid: {grid} points per axis cannot make a contour (2 or more)")
    bad = [m for m in momentum if not 0 <= m < 1]
    if bad or lr <= 0 or steps < 0:
        raise ConfigError(f"trajectory: lr must be > 0 (got {lr:g}), each momentum in [0, 1) "
                          f"(got {', '.join(f'{m:g}' for m in momentum)}), steps >= 0 "
                          f"(got {steps})")
    for name, pair in (("start", start), ("offset", offset)):
        if pair is not None and len(pair) != 2:
            raise ConfigError(f"--{name}: give two numbers, got {len(pair)}")
    run = None
    path = Path(config) if isinstance(config, str | Path) else None
    if path is not None and path.is_dir():
        reason = why_not_a_run_dir(path)
        if reason is None and not (path / "model.pt").is_file():
            reason = "it has no model.pt"
        if reason is not None:
            raise ConfigError(f"{path}: not a run directory ({reason})")
        spec = load_run_spec(path / "config.yaml", tuple(overrides))
        bundle = load_data(spec.data)
        model = build_model(spec.model, bundle.input_shape, bundle.num_classes)
        try:
            model.load_state_dict(torch.load(path / "model.pt", map_location="cpu",
                                             weights_only=True))
        except (RuntimeError, OSError, ValueError) as exc:  # another model's, or damaged
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"{path / 'model.pt'}: does not load into the model of "
                              f"{path / 'config.yaml'} ({first})") from None
    else:
        spec = load_run_spec(config, tuple(overrides))
        bundle = load_data(spec.data)
        untrained = build_model(spec.model, bundle.input_shape, bundle.num_classes)
        for name in weights:  # a wrong name fails before the training
            parse_weight_name(untrained, name)
        run = train(spec, device=device)
        model = run.model.cpu()
    model.eval()
    for name in weights:
        parse_weight_name(model, name)
    n = min(samples, len(bundle.train))
    x = bundle.batch("train", torch.arange(n))
    y = bundle.train.y[:n]
    trained = tuple(weight_value(model, w) for w in weights)
    begin = (tuple(start) if start is not None
             else (trained[0] + offset[0], trained[1] + offset[1]))
    paths = [descent_path(model, x, y, weights, lr=lr, momentum=m, steps=steps, start=begin)
             for m in momentum]
    xs, ys = grid_around(np.vstack([*(p.points for p in paths), [trained]]), n=grid,
                         margin=0.15)
    clock = time.perf_counter()
    z = loss_grid(model, x, y, weights, xs, ys)
    seconds = time.perf_counter() - clock
    with torch.no_grad():
        trained_loss = float(cross_entropy(model(x), y))
    figure = plot_loss_surface(
        xs, ys, z, {p.label: p.points for p in paths}, xlabel=weights[0], ylabel=weights[1],
        mark=trained, title=f"Gradient descent over two weights, lr {lr:g}, {steps} steps")
    return Trajectory(weights=(weights[0], weights[1]), trained=trained,
                      trained_loss=trained_loss, samples=n, paths=paths, xs=xs, ys=ys, z=z,
                      grid_seconds=seconds, figure=figure, run=run)
