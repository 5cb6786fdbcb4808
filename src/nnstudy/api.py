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
from nnstudy.trajectory import Trajectory
from nnstudy.trajectory import trajectory as _trajectory


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


def trajectory(config: str | Path | dict[str, Any], weights: Sequence[str],
               **options: Any) -> Trajectory:
    """Report 001's Figures 6 and 7: `nnstudy.trajectory.trajectory` (arguments and defaults
    as there); its `run`, when the model was trained here, is this module's RunResult (with
    its page and figures)."""
    out = _trajectory(config, weights, **options)
    if out.run is not None:
        out.run = RunResult.of(out.run)
    return out


__all__ = ["RunResult", "Study", "StudyResult", "Trajectory", "report", "resume", "train",
           "trajectory"]
