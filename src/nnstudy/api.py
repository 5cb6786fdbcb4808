"""Studies as `import nnstudy` offers them: run, resume or reread a study, then write its
report.

Two rooms meet here and nowhere else: `nnstudy.study` runs a study, stores it and returns a
`StudyResult` (it never imports `nnstudy.report`); `nnstudy.report` writes results.csv,
report.md and report.html from a StudyResult (it never trains or writes to the store). The
functions below are what the README promises and what the CLI calls:

```python
import nnstudy
result = nnstudy.Study.from_yaml("studies/quickstart.yaml").run(out="runs/quickstart")
# runs/quickstart/: study.db, study.yaml, models/, results.csv, report.md, report.html
run = nnstudy.train("configs/mlp.yaml", out="runs/mlp")   # and runs/mlp/report.html
```

The results returned are this module's `StudyResult` and `RunResult`: the data classes of
the rooms below with their page as `_repr_html_` (Jupyter and Colab render it) and a
`plot_*` method per figure, each returning a matplotlib Figure (no display server needed):

```python
run                                  # in a notebook: the run's page
run.plot_curves(); run.plot_confusion_matrix(); run.plot_weights(); run.plot_predictions()
result.plot_heatmap(); result.plot_metric_vs_key(); result.plot_main_effects()
```
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from nnstudy.report.html import write_page
from nnstudy.report.model_figures import ModelOnTest
from nnstudy.report.run_page import run_curves, run_fragment, run_on_test, run_page
from nnstudy.report.study_page import StudyFigures, study_fragment
from nnstudy.report.study_report import StudyReport
from nnstudy.study import result as study_result
from nnstudy.study import runner
from nnstudy.study.executors import Executor
from nnstudy.study.kept_models import kept_trials, load_trial_model
from nnstudy.study.result import load_result
from nnstudy.training import run as training_run


def _upgrade(cls, value):
    """`value`, a data class instance, as an instance of its subclass `cls` (same fields)."""
    if isinstance(value, cls):
        return value
    return cls(**{f.name: getattr(value, f.name) for f in dataclasses.fields(value)})


@dataclasses.dataclass
class RunResult(training_run.RunResult):
    """`nnstudy.training.run.RunResult` with its page and figures."""

    @classmethod
    def of(cls, run: training_run.RunResult) -> RunResult:
        return _upgrade(cls, run)

    @cached_property
    def _on_test(self) -> ModelOnTest:
        return run_on_test(self)

    def _repr_html_(self) -> str:
        return run_fragment(self)

    def __rich__(self):
        """What `nnstudy train` prints, and the page's path when there is a run directory."""
        from rich.console import Group
        from rich.text import Text

        shown = super().__rich__()
        page = None if self.out_dir is None else self.out_dir / "report.html"
        if page is None or not page.exists():
            return shown
        return Group(shown, Text(f"report: {page}"))

    def plot_curves(self, title: str | None = None) -> Figure:
        """Loss and accuracy per epoch for train, valid and test."""
        return run_curves(self, title)

    def plot_confusion_matrix(self, title: str | None = None) -> Figure:
        return self._on_test.confusion(title)

    def plot_weights(self, title: str | None = None) -> Figure:
        """The first layer's weights as images of the input's shape."""
        return self._on_test.weights(title)

    def plot_predictions(self, only_mistakes: bool = False, count: int = 20) -> Figure:
        return self._on_test.predictions(only_mistakes=only_mistakes, count=count)


@dataclasses.dataclass
class StudyResult(study_result.StudyResult):
    """`nnstudy.study.StudyResult` with its page and figures."""

    @classmethod
    def of(cls, result: study_result.StudyResult) -> StudyResult:
        return _upgrade(cls, result)

    @property
    def _figures(self) -> StudyFigures:
        return StudyFigures(self)

    def _repr_html_(self) -> str:
        return study_fragment(self)

    def plot_curves(self, configs: list[str] | None = None,
                    splits=("train", "valid", "test")) -> Figure:
        """Learning curves (mean over seeds, 95% CI) of the configurations labelled
        `configs` (the `config` column), by default the selected best ones."""
        return self._figures.curves(configs, splits)

    def plot_metric_vs_key(self, metric: str | None = None) -> Figure:
        """A metric (default: test accuracy) against the grid key with the most numeric
        values, one line per value of another key."""
        return self._figures.sweep(metric)

    def plot_heatmap(self, metric: str | None = None) -> Figure:
        return self._figures.heatmap(metric)

    def plot_main_effects(self, metric: str | None = None) -> Figure:
        return self._figures.effects(metric)

    def plot_cost_quality(self) -> Figure:
        return self._figures.cost()

    def _model(self, trial: str | None) -> ModelOnTest:
        trial = trial or next(iter(kept_trials(self)), None)
        if trial is None:
            from nnstudy.errors import ConfigError

            raise ConfigError(f"{self.out_dir}: no trial's weights were kept (keep_models: "
                              f"{self.spec.keep_models})")
        _, model, bundle = load_trial_model(self, trial)
        return ModelOnTest(model, bundle)

    def plot_confusion_matrix(self, trial: str | None = None) -> Figure:
        """The confusion matrix of a kept trial's model (default: the first kept)."""
        return self._model(trial).confusion()

    def plot_weights(self, trial: str | None = None) -> Figure:
        return self._model(trial).weights()

    def plot_predictions(self, trial: str | None = None, only_mistakes: bool = False,
                         count: int = 20) -> Figure:
        return self._model(trial).predictions(only_mistakes=only_mistakes, count=count)


class Study(runner.Study):
    """A study loaded from a file (see `nnstudy.study.Study`, which runs it and keeps the
    weights its `keep_models` says) whose `run` also writes results.csv, report.md and
    report.html into the study directory."""

    def run(self, out: str | Path | None = None, workers: int | None = None,
            threads: int | None = None, progress: bool = False,
            executor: str | Executor = "auto", address: str | None = None) -> StudyResult:
        return _finish(super().run(out, workers=workers, threads=threads, progress=progress,
                                   executor=executor, address=address))


def _finish(result) -> StudyResult:
    StudyReport(result).write()
    return StudyResult.of(result)


def resume(out: str | Path, workers: int | None = None, progress: bool = False,
           executor: str | Executor = "auto", address: str | None = None) -> StudyResult:
    """Run exactly the trials of the study in `out` that are not done (then keep the models
    its `keep_models` says), and write its results.csv, report.md and report.html."""
    return _finish(runner.resume(out, workers=workers, progress=progress, executor=executor,
                                 address=address))


def report(out: str | Path) -> StudyResult:
    """Reread the study in `out` (finished, running or stopped midway) and write its
    results.csv, report.md and report.html again."""
    result = load_result(out)
    StudyReport(result).write()
    return StudyResult.of(result)


def train(config: str | Path | dict[str, Any], out: str | Path | None = None,
          overrides: Sequence[str] = (), device: str | None = None, progress: bool = False,
          overwrite: bool = False) -> RunResult:
    """`nnstudy.training.run.train` (arguments as there), then, with `out`, the run's
    report.html beside its model.pt."""
    run = RunResult.of(training_run.train(config, out=out, overrides=overrides, device=device,
                                          progress=progress, overwrite=overwrite))
    if run.out_dir is not None:
        write_page(run.out_dir / "report.html", run_page(run))
    return run





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
    run: RunResult | None = None  # when trained here


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
        run = RunResult.of(training_run.train(spec, device=device))
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


__all__ = ["RunResult", "Study", "StudyResult", "Trajectory", "report", "resume", "train",
           "trajectory"]
