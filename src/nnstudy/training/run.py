"""`nnstudy.train(config)`: one run, trained and written to its run directory (see
`run_dir.py` for what it holds and which existing directory it may replace).
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from torch import nn

from nnstudy.config.run import RunSpec, load_run_spec
from nnstudy.data.atomic import remove_stale_parts
from nnstudy.training.budget import epochs_of
from nnstudy.training.device import resolve_device
from nnstudy.training.features import prepare_features
from nnstudy.training.footprint import check_training_fits
from nnstudy.training.run_dir import (
    check_disk_room,
    check_run_out,
    run_dir_bytes,
    step_columns,
    write_run_dir,
)
from nnstudy.training.summary import build_summary, data_summary, training_flops
from nnstudy.training.trainer import train_group


@dataclass
class RunResult:
    """The outcome of `nnstudy.train`: metrics, summary, and the best model."""

    spec: RunSpec
    summary: dict[str, Any]
    history: list[dict[str, Any]]
    model: nn.Module
    out_dir: Path | None = None
    step_log: list[dict[str, Any]] = field(default_factory=list)

    @property
    def steps(self) -> pd.DataFrame:
        """The running training loss every `train.log_every` steps (steps.csv): columns
        step, epoch, train_loss_running (and train_regularized_loss_running with L2);
        empty without `log_every`."""
        return pd.DataFrame.from_records(self.step_log, columns=step_columns(self.step_log))

    @property
    def test_accuracy(self) -> float | None:
        return self.summary["best"].get("test", {}).get("accuracy")

    @property
    def diagnostics(self) -> list[dict[str, Any]]:
        return self.summary["diagnostics"]

    def __rich__(self) -> Group:
        """The run as `nnstudy train` prints it: loss and accuracy per split at the best
        epoch, one line per diagnostic with its suggestion, and the run directory."""
        s = self.summary
        table = Table(title=f"best epoch {s['best_epoch']} of {s['epochs_run']}"
                            f" ({s['status']}, {s['wall_time_s']:.1f} s)")
        table.add_column("split")
        table.add_column("loss", justify="right")
        table.add_column("accuracy", justify="right")
        for split, m in s["best"].items():
            table.add_row(split, f"{m['loss']:.4f}", f"{m['accuracy']:.2%}")
        lines: list[Any] = [table]
        if not s["diagnostics"]:
            lines.append(Text("diagnostics: none fired"))
        for d in s["diagnostics"]:
            lines.append(Text.assemble((d["code"], "bold yellow"), f": {d['message']}"))
            lines.append(Text(f"  suggestion: {d['suggestion']}"))
        if self.out_dir is not None:
            lines.append(Text(f"run directory: {self.out_dir}"))
        return Group(*lines)

    def summary_text(self) -> str:
        """`__rich__` as plain text, for a notebook or a log."""
        console = Console(file=io.StringIO(), width=120, color_system=None, soft_wrap=True)
        console.print(self)
        return console.file.getvalue()


def train(config: str | Path | dict[str, Any] | RunSpec, out: str | Path | None = None,
          overrides: Sequence[str] = (), device: str | None = None,
          progress: bool = False, overwrite: bool = False) -> RunResult:
    """Train one model from a run config (a YAML path, a dict or a RunSpec), and write its
    run directory to `out` when given.

    `out` must not exist or be an empty directory; `overwrite=True` also replaces a run
    directory there (and only that: see `run_dir.check_run_out`). Both are checked before
    training, so a refused `out` costs nothing and is left as it is.

    Example:
        >>> import nnstudy
        >>> result = nnstudy.train({"model": "softmax_regression",
        ...                         "train": {"epochs": 2}})      # doctest: +SKIP
        >>> result.summary["best"]["test"]["accuracy"]             # doctest: +SKIP
        0.93...
    """
    from nnstudy.data import load_data

    spec = load_run_spec(config, tuple(overrides))
    if out is not None:
        check_run_out(Path(out), overwrite)
        remove_stale_parts(Path(out).parent)  # temporary run directories of killed runs
    if device is not None:
        spec = spec.model_copy(update={"device": device})
    bundle = load_data(spec.data)
    spec = spec.model_copy(update={"data": bundle.spec})
    features = prepare_features(spec, bundle, progress=progress)  # a backbone's, cached
    (spec,), bundle = features.specs, features.bundle
    params = check_training_fits(spec, bundle.input_shape, bundle.num_classes,
                                 resolve_device(spec.device))
    if out is not None and params is not None:
        check_disk_room(Path(out), run_dir_bytes(params))
    start = time.perf_counter()
    if spec.train.engine == "numpy":
        from nnstudy.training.numpy_engine import train_with_numpy

        trained = train_with_numpy(spec, bundle)
    else:
        reporter = (_ProgressBar(epochs_of(spec.train, len(bundle.train)))
                    if progress else None)
        try:
            trained = train_group([spec], bundle, progress=reporter)[0]
        finally:
            if reporter is not None:
                reporter.close()
    wall = time.perf_counter() - start
    from nnstudy.models import build_model

    model = build_model(spec.model, bundle.input_shape, bundle.num_classes)
    model.load_state_dict(trained.state_dict)
    model.eval()
    flops = training_flops(model, bundle.input_shape)
    summary = build_summary(trained, bundle.input_shape, wall, flops, len(bundle.train))
    summary["data"] = data_summary(bundle)
    features.annotate(summary)
    out_dir = (write_run_dir(Path(out), spec, trained, summary, overwrite)
               if out is not None else None)
    return RunResult(spec=spec, summary=summary, history=trained.history, model=model,
                     out_dir=out_dir, step_log=trained.steps)


class _ProgressBar:
    """A rich progress bar: epoch, loss, accuracy, ETA."""

    def __init__(self, epochs: int) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("epoch {task.completed}/{task.total}"), BarColumn(),
            TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=False,
        )
        self.task = self.progress.add_task("train", total=epochs, info="")
        self.progress.start()

    def __call__(self, epoch: int, total: int, info: dict[str, float]) -> None:
        text = "  ".join(
            f"{k.replace('_', ' ')} {v:.4f}" if "loss" in k else f"{k.replace('_', ' ')} {v:.2%}"
            for k, v in info.items()
        )
        self.progress.update(self.task, completed=epoch, total=total, info=text)

    def close(self) -> None:
        self.progress.stop()
