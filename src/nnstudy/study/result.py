"""A study's results: its trial table read from the store, and the aggregates computed from
it. Data only: `nnstudy.report` writes it as results.csv and report.md.

```python
result = nnstudy.Study.from_yaml("studies/quickstart.yaml").run(out="runs/quickstart")
result.trials                          # one row per trial (see `trials.py`)
result.aggregate()                     # mean, std, 95% CI per configuration
result.best(per=["train.optimizer"])   # the best configuration per optimizer
result.compare()                       # winner against runner-up, with its t-test
result.effects()                       # main effect of each grid key
```
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nnstudy.config.model import parse_model_spec
from nnstudy.config.study import StudySpec
from nnstudy.study.aggregate import Comparison, aggregate, best_per, compare, main_effects
from nnstudy.study.store import open_store
from nnstudy.study.trials import METRIC_COLUMNS, trials_frame


@dataclass
class StudyResult:
    """The trials of a study and what can be read from them. Metrics default to the study's
    `select` spec; `level` is the confidence level of every interval and test."""

    out_dir: Path
    spec: StudySpec
    trials: pd.DataFrame
    meta: dict[str, Any]  # the store's: threads per group, creation time, wall time
    epochs: pd.DataFrame  # every trial's metrics per epoch and split
    first_summary: dict[str, Any]  # of the first trial with one: data sizes, params, FLOPs
    level: float = 0.95

    @property
    def keys(self) -> list[str]:
        return self.spec.keys

    def aggregate(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """Mean, std and Student t interval per configuration across seeds (see
        `nnstudy.study.aggregate.aggregate`); by default of every `best_` metric."""
        metrics = metrics or [c for c in METRIC_COLUMNS if c.startswith("best_")]
        return aggregate(self.trials, self.keys, metrics, self.level)

    def best(self, per: list[str] | None = None, metric: str | None = None,
             mode: str | None = None) -> pd.DataFrame:
        """The best configuration overall or per group of keys, by the select metric."""
        select = self.spec.select
        return best_per(self.trials, self.keys, metric or select.metric,
                        mode or select.resolved_mode,
                        list(select.per if per is None else per), self.level)

    def compare(self, metric: str | None = None, mode: str | None = None) -> Comparison:
        """The best configuration against the runner-up, with a paired (or Welch) t-test."""
        select = self.spec.select
        return compare(self.trials, self.keys, metric or select.metric,
                       mode or select.resolved_mode, self.level)

    def effects(self, metric: str | None = None) -> pd.DataFrame:
        """The main effect of each grid key with two or more values, paired by seed."""
        return main_effects(self.trials, self.keys, metric or self.spec.select.metric,
                            self.level)

    def overview(self) -> dict[str, Any]:
        """What the study was: name, data and its split sizes, model with parameters and
        FLOPs (when one architecture), machine, wall time, grid, seeds, variants, counts per
        status; the keys are those `nnstudy.report.render_report` reads as `meta`."""
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
                f" (varied by {', '.join(varied)})" if varied else ""),
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
            "level": self.level,
        }


def load_result(out: str | Path) -> StudyResult:
    """Read a study directory's store into a StudyResult (nothing is written)."""
    out = Path(out)
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
