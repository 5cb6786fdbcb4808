"""The run directory of `nnstudy.train`: what it holds, how it is written, and which existing
directory a run may replace.

A run directory holds (DESIGN.md):
- `config.yaml`: the resolved config (every default filled in);
- `metrics.csv`: epoch, split, loss, accuracy (epoch 0 is the untrained model);
- `summary.json`: best epoch, final and best metrics per split, parameters, FLOPs, wall
  time, status, diagnostics;
- `model.pt`: the state dict of the best epoch (`torch.load(..., weights_only=True)`);
- `steps.csv`, with `train.log_every` only: step, epoch, train_loss_running (and
  train_regularized_loss_running with L2), see `nnstudy.training.step_log`;
- `report.html`: the run's page, written after the rest by `nnstudy.train` (nnstudy/api.py).

It is written to a temporary directory beside the target and renamed when complete, so an
interrupted run leaves no half-written directory.

What a run may write to (`check_run_out`): a path that does not exist, or an empty
directory. With `overwrite`, also a directory that is recognisably a run directory: it
holds config.yaml, metrics.csv whose header is `epoch,split,loss,accuracy`, and
summary.json (a JSON object with `status` and `best_epoch`), optionally model.pt,
steps.csv and report.html, and nothing else. Anything else (a file, a directory with one foreign entry) is
refused with a ConfigError, and nothing is touched. The place must also take files: a
probe file is written there (and removed) before training, so that a read-only directory
or a full disk is found before the training runs, not after; and the disk must have room
for model.pt.

The temporary directory is named as `nnstudy.data.atomic` names them
(`.NAME.HOST-PID.RANDOM.part`): one left by a killed run is removed by the next run
written beside it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from nnstudy.config.run import RunSpec
from nnstudy.data.atomic import new_part_dir
from nnstudy.errors import ConfigError
from nnstudy.training.step_log import REGULARIZED_COLUMN, STEP_COLUMNS
from nnstudy.training.trainer import TrainedModel

METRICS_HEADER = ("epoch", "split", "loss", "accuracy")
REQUIRED_FILES = ("config.yaml", "metrics.csv", "summary.json")
RUN_FILES = (*REQUIRED_FILES, "model.pt", "steps.csv", "report.html")


def step_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The columns of steps.csv for these rows: step, epoch, train_loss_running, and
    train_regularized_loss_running when the rows have it."""
    regularized = any(REGULARIZED_COLUMN in r for r in rows)
    return [*STEP_COLUMNS, *([REGULARIZED_COLUMN] if regularized else [])]


def why_not_a_run_dir(path: Path) -> str | None:
    """None when `path` is a run directory as `write_run_dir` writes it; else the reason."""
    if not path.is_dir():
        return "not a directory"
    entries = {p.name: p for p in path.iterdir()}
    foreign = sorted(n for n, p in entries.items() if n not in RUN_FILES or not p.is_file())
    if foreign:
        return f"it holds {', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}"
    missing = [n for n in REQUIRED_FILES if n not in entries]
    if missing:
        return f"it has no {missing[0]}"
    with open(path / "metrics.csv", newline="") as f:
        header = next(csv.reader(f), [])
    if tuple(header) != METRICS_HEADER:
        return "its metrics.csv is not one nnstudy wrote"
    try:
        summary = json.loads((path / "summary.json").read_text())
    except (ValueError, UnicodeDecodeError):
        summary = None
    if not isinstance(summary, dict) or not {"status", "best_epoch"} <= summary.keys():
        return "its summary.json is not one nnstudy wrote"
    return None


def check_run_out(out: Path, overwrite: bool) -> None:
    """Raise a ConfigError, touching nothing, unless a run may be written to `out`: a new
    path, an empty directory, or (with `overwrite`) a run directory; in a place that
    takes files (`check_writable`)."""
    check_writable(out)
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError(f"{out}: is a file; a run is written to a new directory")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise ConfigError(f"{out} already exists; choose another directory, or pass "
                          "overwrite=True (--overwrite on the command line) to replace the "
                          "run in it")
    reason = why_not_a_run_dir(out)
    if reason is not None:
        raise ConfigError(f"{out}: not replaced, it is not a run directory ({reason}); only "
                          f"a directory holding {', '.join(RUN_FILES)} as nnstudy writes "
                          "them, and nothing else, is overwritten")


# The probe's size: one block of common file systems, so that a disk with no block left
# refuses it.
PROBE_BYTES = 4096


def _existing_parent(out: Path) -> Path:
    """The directory the run directory (and the folders above it not made yet) goes in."""
    here = out.parent
    while not here.exists() and here != here.parent:
        here = here.parent
    return here


def check_writable(out: Path) -> None:
    """Raise a ConfigError unless files can be written where `out` goes: a probe file of
    PROBE_BYTES is written, synced to disk and removed in the nearest existing folder
    above `out` (a read-only folder, a full disk, or a file on the way fails it)."""
    here = _existing_parent(out)
    if not here.is_dir():
        raise ConfigError(f"{out}: {here} is a file, not a directory; choose another --out")
    try:
        with tempfile.NamedTemporaryFile(dir=here, prefix=".nnstudy-probe.", suffix=".part"
                                         ) as probe:
            probe.write(b"\0" * PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write in {here} ({exc.strerror or exc}); choose "
                          "another --out") from None


def check_disk_room(out: Path, nbytes: int) -> None:
    """Raise a ConfigError when the disk `out` goes on has less than `nbytes` free."""
    free = shutil.disk_usage(_existing_parent(out)).free
    if free < nbytes:
        from nnstudy.data.memory import format_bytes

        raise ConfigError(f"{out}: the run directory needs about {format_bytes(nbytes)} "
                          f"(model.pt), but the disk has {format_bytes(free)} free; free "
                          "some space or choose another --out")


def run_dir_bytes(params: int) -> int:
    """About what a run directory takes: model.pt (float32 weights) and a margin for
    config.yaml, metrics.csv and summary.json."""
    return params * 4 + (1 << 20)


def write_run_dir(out: Path, spec: RunSpec, trained: TrainedModel, summary: dict[str, Any],
                  overwrite: bool = False) -> Path:
    """Write the run directory atomically: a temporary sibling renamed when complete. An
    existing `out` is checked again (`check_run_out`) just before it is replaced: it may
    have changed while the model trained."""
    out = Path(out)
    tmp = new_part_dir(out)
    try:
        (tmp / "config.yaml").write_text(yaml.safe_dump(spec.to_config(), sort_keys=False))
        with open(tmp / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(METRICS_HEADER))
            writer.writeheader()
            writer.writerows(trained.history)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=True) + "\n")
        torch.save(trained.state_dict, tmp / "model.pt")
        if spec.train.log_every is not None:
            with open(tmp / "steps.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=step_columns(trained.steps))
                writer.writeheader()
                writer.writerows(trained.steps)
        check_run_out(out, overwrite)
        if out.exists() and any(out.iterdir()):
            # The old run stays whole until the new one is in place.
            old = new_part_dir(out)
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)  # rename(2) replaces an empty directory
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
