"""The trial table: one row per trial of a study, as a pandas DataFrame.

Columns, in this order: `trial_id`, `group`, `variant`, `seed`, `status`, `config` (the
runner's label of the configuration, `train.optimizer=adam train.lr=0.001`), one column per
grid key named by its dotted key, the metrics `{best|final}_{train|valid|test}_{loss|accuracy}`
(best: at the trial's best epoch; final: at its last), `best_epoch`, `epochs_run`,
`wall_time_s`, `training_flops`, `params`, `diagnostics` (codes, comma-separated) and `error`.

A metric name as a select spec writes it (`valid_loss`) means the `best_` column; a name that
is already a column (`final_valid_loss`, `wall_time_s`) is taken as it is.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from nnstudy.errors import ConfigError

SPLITS = ("train", "valid", "test")
SUMMARY_METRICS = tuple(f"{split}_{m}" for m in ("loss", "accuracy") for split in SPLITS)
METRIC_COLUMNS = tuple(f"{kind}_{m}" for kind in ("best", "final") for m in SUMMARY_METRICS)
IDENTITY_COLUMNS = ("trial_id", "group", "variant", "seed", "status", "config")
COST_COLUMNS = ("best_epoch", "epochs_run", "wall_time_s", "training_flops", "params",
                "diagnostics", "error")
STANDARD_COLUMNS = frozenset((*IDENTITY_COLUMNS, *METRIC_COLUMNS, *COST_COLUMNS))


def trials_frame(rows: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    """The trial table of a study from its store's trial rows (`TrialStore.trials()`)."""
    records = []
    for row in rows:
        values = json.loads(row["keys_json"])
        summary = json.loads(row["summary_json"]) if row["summary_json"] else {}
        rec: dict[str, Any] = {
            "trial_id": row["id"], "group": row["grp"], "variant": row["variant"],
            "seed": row["seed"], "status": row["status"], "config": row["label"],
        }
        for key in keys:
            if key != "variant":
                rec[key] = values.get(key)
        for kind in ("final", "best"):
            for split in SPLITS:
                metrics = summary.get(kind, {}).get(split, {})
                rec[f"{kind}_{split}_loss"] = metrics.get("loss", float("nan"))
                rec[f"{kind}_{split}_accuracy"] = metrics.get("accuracy", float("nan"))
        rec["best_epoch"] = summary.get("best_epoch")
        rec["epochs_run"] = summary.get("epochs_run")
        rec["wall_time_s"] = summary.get("wall_time_s", float("nan"))
        rec["training_flops"] = summary.get("training_flops", float("nan"))
        rec["params"] = summary.get("params")
        rec["diagnostics"] = ",".join(d["code"] for d in summary.get("diagnostics", []))
        rec["error"] = row["error"] or ""
        records.append(rec)
    return pd.DataFrame.from_records(records)


def has_metric(trials: pd.DataFrame, metric: str) -> bool:
    """Whether `metric_column` finds a column for `metric`."""
    return metric in trials.columns or f"best_{metric}" in trials.columns


def metric_column(trials: pd.DataFrame, metric: str) -> str:
    """The column a metric name refers to: `valid_loss` -> `best_valid_loss`; a name that is
    already a column is itself. Raises ConfigError naming the metric when there is none."""
    if metric in trials.columns:
        return metric
    if f"best_{metric}" in trials.columns:
        return f"best_{metric}"
    known = [c[len("best_"):] for c in trials.columns if c.startswith("best_")]
    raise ConfigError(f"select.metric: {metric!r} is not a metric of these trials; known: "
                      f"{', '.join(known) or 'none'}")


def grid_keys(trials: pd.DataFrame) -> list[str]:
    """The keys that tell configurations apart: `variant` (when any trial has one), then every
    column that is not a standard column, in column order (the dotted grid keys)."""
    keys = [c for c in trials.columns if c not in STANDARD_COLUMNS]
    if "variant" in trials.columns and (trials["variant"].fillna("").astype(str) != "").any():
        keys.insert(0, "variant")
    return keys
