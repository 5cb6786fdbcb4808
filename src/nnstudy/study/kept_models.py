"""Which trials keep their weights, and reading them back.

Every trial's best-epoch weights are written to `models/<trial>.pt` as its group commits
(a study stopped midway keeps them all: which trial is best is known only at the end). Once
every trial has finished, the study's `keep_models` decides what stays:

- `best` (the default): for each configuration that `select` picks (the best overall, or the
  best per value of the `select.per` keys), the weights of its best seed by the select
  metric; the page's confusion matrix, weight images and predictions come from them;
- `all`: every trial's;
- `none`: no weights; `models/` is removed.

```python
from nnstudy.study.kept_models import load_trial_model
spec, model = load_trial_model(result, "t0003")   # a RunSpec and its nn.Module, eval mode
```
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from nnstudy.errors import ConfigError
from nnstudy.study.aggregate import resolve_mode
from nnstudy.study.result import StudyResult
from nnstudy.study.store import open_store
from nnstudy.study.trials import metric_column

KEEP_CHOICES = ("best", "all", "none")


def model_path(result: StudyResult, trial_id: str) -> Path:
    return result.out_dir / "models" / f"{trial_id}.pt"


def best_trial(result: StudyResult, rows: pd.DataFrame) -> str | None:
    """The id of the done trial among `rows` with the best select metric (None if none has a
    finite one)."""
    select = result.spec.select
    column = metric_column(result.trials, select.metric)
    done = rows[rows["status"].astype(str) == "done"]
    values = pd.to_numeric(done[column], errors="coerce")
    values = values[values.map(lambda v: math.isfinite(v))]
    if values.empty:
        return None
    mode = resolve_mode(select.metric, select.resolved_mode)
    position = values.idxmin() if mode == "min" else values.idxmax()
    return str(done.loc[position, "trial_id"])


def trials_to_keep(result: StudyResult, policy: str) -> set[str]:
    """The trial ids whose weights `policy` keeps (see the module doc)."""
    if policy not in KEEP_CHOICES:
        raise ConfigError(f"keep_models: {policy!r} is not one of {', '.join(KEEP_CHOICES)}")
    trials = result.trials
    if policy == "none" or trials.empty:
        return set()
    if policy == "all":
        return set(trials["trial_id"].astype(str))
    keep = set()
    for label in result.best()["config"]:
        if label:
            trial = best_trial(result, trials[trials["config"] == label])
            if trial is not None:
                keep.add(trial)
    return keep


def prune_models(result: StudyResult, policy: str | None = None) -> list[Path]:
    """Delete the weights `policy` (default: the study's `keep_models`) does not keep, once
    no trial is pending or running; returns the files removed."""
    policy = policy or result.spec.keep_models
    keep = trials_to_keep(result, policy)  # checks the policy before anything is removed
    status = result.trials["status"].astype(str) if len(result.trials) else pd.Series([])
    if status.isin(["pending", "running"]).any():
        return []
    folder = result.out_dir / "models"
    removed = [p for p in sorted(folder.glob("*.pt")) if p.stem not in keep]
    for path in removed:
        path.unlink()
    if policy == "none" and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return removed


def kept_trials(result: StudyResult) -> list[str]:
    """The trials whose weights are on disk, in trial order."""
    return [t for t in result.trials["trial_id"].astype(str) if model_path(result, t).exists()]


def trial_spec(result: StudyResult, trial_id: str):
    """The resolved RunSpec a trial trained with, from the store."""
    from nnstudy.config.run import RunSpec

    store = open_store(result.out_dir, must_exist=True)
    try:
        row = next((r for r in store.trials() if r["id"] == trial_id), None)
    finally:
        store.close()
    if row is None:
        raise ConfigError(f"{result.out_dir}: no trial {trial_id!r}")
    return RunSpec.model_validate_json(row["config_json"])


def trial_summaries(result: StudyResult) -> dict[str, dict]:
    """Each finished trial's summary (diagnostics with their messages and signals)."""
    store = open_store(result.out_dir, must_exist=True)
    try:
        return {r["id"]: json.loads(r["summary_json"]) for r in store.trials()
                if r["summary_json"]}
    finally:
        store.close()


def load_trial_model(result: StudyResult, trial_id: str, bundles: dict | None = None):
    """(RunSpec, nn.Module in eval mode, DataBundle) of a trial whose weights were kept.
    `bundles` (data spec JSON -> DataBundle), when given, keeps the data sets loaded for the
    next call."""
    import torch

    from nnstudy.data import load_data
    from nnstudy.models import build_model

    path = model_path(result, trial_id)
    if not path.exists():
        raise ConfigError(f"{path}: no weights kept for trial {trial_id} (keep_models: "
                          f"{result.spec.keep_models})")
    spec = trial_spec(result, trial_id)
    key = spec.data.model_dump_json()
    bundles = {} if bundles is None else bundles
    if key not in bundles:
        bundles[key] = load_data(spec.data)
    bundle = bundles[key]
    model = build_model(spec.model, bundle.input_shape, bundle.num_classes)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
    return spec, model, bundle
