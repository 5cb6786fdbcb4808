"""A study's results as a pandas DataFrame, with aggregation, selection and the report."""

from __future__ import annotations

import json
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nnstudy.config.model import parse_model_spec
from nnstudy.config.study import StudySpec
from nnstudy.study.store import open_store

SPLITS = ("train", "valid", "test")


def _metric_columns() -> list[str]:
    return [f"{kind}_{split}_{m}" for kind in ("final", "best") for split in SPLITS
            for m in ("loss", "accuracy")]


def trials_frame(rows: list[dict[str, Any]], keys: list[str]) -> pd.DataFrame:
    """One row per trial: ids, status, grid values, final/best metrics, cost, diagnostics."""
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
                m = summary.get(kind, {}).get(split, {})
                rec[f"{kind}_{split}_loss"] = m.get("loss", float("nan"))
                rec[f"{kind}_{split}_accuracy"] = m.get("accuracy", float("nan"))
        rec["best_epoch"] = summary.get("best_epoch")
        rec["epochs_run"] = summary.get("epochs_run")
        rec["wall_time_s"] = summary.get("wall_time_s", float("nan"))
        rec["training_flops"] = summary.get("training_flops", float("nan"))
        rec["params"] = summary.get("params")
        rec["diagnostics"] = ",".join(d["code"] for d in summary.get("diagnostics", []))
        rec["error"] = row["error"] or ""
        records.append(rec)
    frame = pd.DataFrame.from_records(records)
    return frame


@dataclass
class StudyResult:
    """The trials of a study and what can be read from them."""

    out_dir: Path
    spec: StudySpec
    trials: pd.DataFrame
    meta: dict[str, Any]
    epochs: pd.DataFrame
    first_summary: dict[str, Any]  # of the first trial with one: data sizes, params, FLOPs

    @property
    def keys(self) -> list[str]:
        return self.spec.keys

    def aggregate(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """Mean, std and 95% CI (Student t) per configuration across seeds."""
        from nnstudy.study.stats import aggregate

        metrics = metrics or [c for c in _metric_columns() if c.startswith("best_")]
        return aggregate(self.trials, self.keys, metrics)

    def best(self, per: list[str] | None = None, metric: str | None = None,
             mode: str | None = None) -> pd.DataFrame:
        """The best configuration overall or per group of keys, by the select metric."""
        from nnstudy.study.stats import best_per

        select = self.spec.select
        return best_per(self.trials, self.keys, metric or select.metric,
                        mode or select.resolved_mode,
                        list(select.per if per is None else per))

    def report_meta(self) -> dict[str, Any]:
        varied = [k for k in self.spec.grid if k == "model" or k.startswith("model.")]
        varied += [f"variant {v.name}" for v in self.spec.variants
                   if any(k == "model" or k.startswith("model.") for k in v.set)]
        first = self.first_summary
        counts = self.trials["status"].value_counts().to_dict() if len(self.trials) else {}
        data = first.get("data", {})
        return {
            "name": self.spec.name,
            "data": self.spec.data.get("name", "digits") if isinstance(self.spec.data, dict)
            else str(self.spec.data),
            "data_sizes": data.get("sizes", {}),
            "model": parse_model_spec(self.spec.model).describe() + (
                f" (varied by {', '.join(varied)})"
                if varied else ""),
            "params": None if varied else first.get("params"),
            "flops": None if varied else first.get("forward_flops_per_sample"),
            "training_flops_per_sample": None if varied
            else first.get("training_flops_per_sample"),
            "machine": f"{platform.platform()}, {os.cpu_count()} cores, "
                       f"{self.meta.get('threads')} thread(s) per group",
            "wall_time_s": self.meta.get("wall_time_s"),
            "seeds": self.spec.seed_list,
            "grid": self.spec.grid,
            "variants": [v.name for v in self.spec.variants],
            "counts": counts,
        }

    def render(self) -> str:
        from nnstudy.report.markdown import render_report

        return render_report(self.report_meta(), self.trials, self.spec.select.model_dump())

    def write(self) -> None:
        """Write results.csv and report.md (each via a temporary file and a rename)."""
        from nnstudy.report.tables import write_results_csv

        write_results_csv(self.trials, self.out_dir / "results.csv")
        text = self.render()
        fd, tmp = tempfile.mkstemp(dir=self.out_dir, prefix=".report.", suffix=".md")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, self.out_dir / "report.md")


def load_result(out: Path) -> StudyResult:
    """Read a study directory's store into a StudyResult."""
    store = open_store(out, must_exist=True)
    try:
        meta = store.meta()
        spec = StudySpec.model_validate(meta["spec"])
        rows = store.trials()
        epochs = pd.DataFrame.from_records(store.epochs())
    finally:
        store.close()
    first = next((json.loads(r["summary_json"]) for r in rows if r["summary_json"]), {})
    return StudyResult(out_dir=out, spec=spec, trials=trials_frame(rows, spec.keys), meta=meta,
                       epochs=epochs, first_summary=first)
