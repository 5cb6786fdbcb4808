"""Run, resume, and report a study: trials grouped by architecture, groups run in workers.

```python
import nnstudy
result = nnstudy.Study.from_yaml("studies/quickstart.yaml").run(out="runs/quickstart")
result.trials            # pandas DataFrame, one row per trial
result.aggregate()       # mean, std, 95% CI per configuration
result.best(per=["train.optimizer"])
```

The study directory holds `study.db` (SQLite, see `store.py`), `study.yaml` (the study
as loaded) and `models/<trial>.pt` (best-epoch weights, those `keep_models` keeps once every
trial has finished: `kept_models.py`); `nnstudy.Study` (nnstudy/api.py) adds
`results.csv`, `report.md` and `report.html` from the StudyResult that `run` and `resume`
return.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from nnstudy.config.loading import validate
from nnstudy.config.study import StudySpec, TrialPlan, check_parallelism, load_study, plan_trials
from nnstudy.errors import ConfigError
from nnstudy.study.executors import Executor, UnitEvents, check_executor, choose_executor
from nnstudy.study.kept_models import prune_models
from nnstudy.study.lock import StudyLock
from nnstudy.study.result import StudyResult, load_result
from nnstudy.study.store import TrialStore, check_new_study_dir, open_store, require_study_dir
from nnstudy.training.grouping import group_key


def group_id(key: str) -> str:
    return "grp-" + hashlib.sha256(key.encode()).hexdigest()[:10]


# Intra-op threads per work unit unless `--threads` says otherwise. Not derived from the
# core count: for models trained through autograd (convolutions) the thread count changes
# float32 rounding (a convolution's weight gradient is summed in per-thread parts), and a
# study's numbers must not depend on the machine's size. Parallelism comes from workers.
DEFAULT_THREADS = 1


def default_parallelism(n_units: int, workers: int | None, threads: int | None
                        ) -> tuple[int, int]:
    """Worker processes and intra-op threads per work unit: by default one worker per core
    (at most one per unit) and DEFAULT_THREADS. Small models run faster as several
    single-threaded processes than as one multi-threaded one on this kind of CPU."""
    w = workers if workers is not None else max(1, min(os.cpu_count() or 1, n_units))
    return w, threads if threads is not None else DEFAULT_THREADS


class Study:
    """A study loaded from a file: plan, run, resume, report."""

    def __init__(self, spec: StudySpec) -> None:
        self.spec = spec
        self.plans: list[TrialPlan] = plan_trials(spec)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Sequence[str] = ()) -> Study:
        return cls(load_study(path, tuple(overrides)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Study:
        return cls(load_study(data))

    @property
    def groups(self) -> dict[str, list[TrialPlan]]:
        out: dict[str, list[TrialPlan]] = {}
        for plan in self.plans:
            out.setdefault(group_id(group_key(plan.spec)), []).append(plan)
        return out

    def work_units(self) -> dict[str, list[TrialPlan]]:
        """The units of work: each group cut into ceil(n / max_group_size) contiguous parts
        of near-equal size (`grp-...-0`, `grp-...-1`; a group that fits stays whole, under
        its group id). A unit's models train together, and a model's numbers depend on the
        unit it trains in (batched products round by shape), so the units depend on the
        study file alone, never on workers or the machine; they are stored with the
        trials, and `resume` reruns exactly the same units."""
        out: dict[str, list[TrialPlan]] = {}
        for gid, plans in self.groups.items():
            parts = math.ceil(len(plans) / self.spec.max_group_size)
            if parts == 1:
                out[gid] = plans
                continue
            size, extra = divmod(len(plans), parts)
            start = 0
            for i in range(parts):
                stop = start + size + (i < extra)
                out[f"{gid}-{i}"] = plans[start:stop]
                start = stop
        return out

    def run(self, out: str | Path | None = None, workers: int | None = None,
            threads: int | None = None, progress: bool = False,
            executor: str | Executor = "auto", address: str | None = None) -> StudyResult:
        """Create the study directory and run every trial. Refuses a directory that already
        holds a study (use `resume`), a file, and a directory that is not empty.

        `executor`: where the units run (`nnstudy.study.executors`: auto, inprocess, local,
        ray); `address`: a Ray cluster's (without it, `ray` starts a local instance)."""
        check_parallelism(workers, threads)
        check_executor(executor, address)
        out = Path(out) if out is not None else Path("runs") / self.spec.dir_name
        if (out / "study.db").exists():
            with StudyLock(out):
                pass
            store = open_store(out)
            counts = store.counts()
            store.close()
            raise ConfigError(
                f"{out}: already holds a study ({counts.get('done', 0)} of "
                f"{sum(counts.values())} trials done); continue it with "
                f"`nnstudy study resume {out}` or choose another --out"
            )
        check_new_study_dir(out)
        out.mkdir(parents=True, exist_ok=True)
        units = self.work_units()
        w, t = default_parallelism(len(units), workers, threads)
        runner = choose_executor(executor, len(units), w, address)
        with StudyLock(out):
            store = open_store(out)
            try:
                store.set_meta(name=self.spec.name, spec=self.spec.model_dump(mode="json"),
                               threads=t, created=time.time(), wall_time_s=0.0)
                store.add_trials(self._rows(units))
                (out / "study.yaml").write_text(
                    yaml.safe_dump(self.spec.model_dump(mode="json"), sort_keys=False))
                _execute(store, out, runner, t, progress)
            finally:
                store.close()
            return _keep_models(out)

    def _rows(self, units: dict[str, list[TrialPlan]]) -> list[dict[str, Any]]:
        rows = []
        for gid, plans in units.items():
            for p in plans:
                rows.append({
                    "id": p.trial_id, "position": p.position, "grp": gid, "variant": p.variant,
                    "seed": p.seed, "label": p.label,
                    "keys_json": json.dumps(p.values, default=str),
                    "config_json": p.spec.model_dump_json(),
                })
        return rows


def resume(out: str | Path, workers: int | None = None, progress: bool = False,
           executor: str | Executor = "auto", address: str | None = None) -> StudyResult:
    """Run exactly the trials of `out` that are not done, with the study's thread count,
    on any executor (a study started on one resumes on another with the same numbers)."""
    check_parallelism(workers)
    check_executor(executor, address)
    out = require_study_dir(out)  # before the lock, which would create study.lock
    open_store(out, must_exist=True).close()  # a damaged study.db is refused before it too
    with StudyLock(out):
        store = open_store(out, must_exist=True)
        try:
            meta = store.meta()
            validate(StudySpec, meta["spec"])
            n_units = len({t["grp"] for t in store.not_done()})
            w, _ = default_parallelism(max(n_units, 1), workers, meta["threads"])
            runner = choose_executor(executor, n_units, w, address)
            _execute(store, out, runner, meta["threads"], progress)
        finally:
            store.close()
        return _keep_models(out)


def _keep_models(out: Path) -> StudyResult:
    """The study's result, once its models/ holds only the weights `keep_models` keeps
    (every trial's stay while any is not finished: see `kept_models.prune_models`)."""
    result = load_result(out)
    prune_models(result)
    return result


def status(out: str | Path) -> dict[str, Any]:
    """Counts of trials per status, and the groups not done."""
    store = open_store(Path(out), must_exist=True)
    try:
        counts = store.counts()
        pending = store.not_done()
        return {"name": store.meta().get("name"), "counts": counts,
                "total": sum(counts.values()),
                "groups_not_done": len({t["grp"] for t in pending})}
    finally:
        store.close()


def _execute(store: TrialStore, out: Path, executor: Executor, threads: int,
             progress: bool) -> None:
    """Run the groups that have trials not done; commit each group's results as it ends.
    The executor runs the units; this process alone writes the store."""
    todo: dict[str, list[dict[str, Any]]] = {}
    for t in store.not_done():
        todo.setdefault(t["grp"], []).append(t)
    if not todo:
        return
    # A group reruns whole: its trials train together, as in an uninterrupted run.
    all_trials = store.trials()
    payloads = []
    for gid in todo:
        members = [t for t in all_trials if t["grp"] == gid]
        payloads.append({"group": gid, "threads": threads,
                         "trials": [(t["id"], t["config_json"]) for t in members]})
    (out / "models").mkdir(exist_ok=True)
    display = _Display(len(payloads), sum(len(p["trials"]) for p in payloads), progress)

    def started(payload: dict[str, Any]) -> None:
        store.mark_running([i for i, _ in payload["trials"]])
        display.started(payload)

    began: list[float] = []  # time.time() each unit began to train (`run_group`'s train_start)

    def finished(payload: dict[str, Any], outcome: dict[str, Any]) -> None:
        if outcome.get("train_start") is not None:
            began.append(outcome["train_start"])
        _commit(store, out, payload, outcome, display)

    start, wall_clock = time.perf_counter(), time.time()
    stats: dict[str, Any] | None = None
    try:
        stats = executor.run(payloads, threads, UnitEvents(started, finished, display.epoch))
    finally:
        display.close()
        meta = store.meta()
        record = stats if stats is not None else {"executor": executor.name,
                                                  "interrupted": True}
        if began:  # worker start-up, imports and data loading, whatever the executor
            record = {**record, "first_train_s": round(max(0.0, min(began) - wall_clock), 3)}
        store.set_meta(wall_time_s=meta.get("wall_time_s", 0.0) + time.perf_counter() - start,
                       executions=[*meta.get("executions", []), record])


def _commit(store: TrialStore, out: Path, payload: dict[str, Any], outcome: dict[str, Any],
            display: _Display) -> None:
    ids = [i for i, _ in payload["trials"]]
    if "error" in outcome:
        store.mark_failed(ids, outcome["error"])
        display.finished(payload, failed=True)
        return
    for r in outcome["results"]:
        path = out / "models" / f"{r['id']}.pt"
        tmp = path.with_suffix(".pt.tmp")
        tmp.write_bytes(r["state"])
        os.replace(tmp, path)
    store.commit_results(outcome["results"])
    display.finished(payload, failed=False)


class _Display:
    """A rich progress display: groups and trials done, running and left, with ETA."""

    def __init__(self, groups: int, trials: int, enabled: bool) -> None:
        self.enabled = enabled
        self.running = 0
        self.groups_done = 0
        self.failed = 0
        self.epochs: dict[str, tuple[int, int]] = {}  # a running unit's last epoch
        self.finished_units: set[str] = set()  # late epoch events of these are dropped
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("trials"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.groups = groups
        self.task = self.progress.add_task("study", total=trials, info="")
        self.progress.start()
        self._refresh()

    def _refresh(self) -> None:
        if self.enabled:
            left = self.groups - self.groups_done - self.running
            info = (f"groups: {self.groups_done} done, {self.running} running, {left} left"
                    + (f", {self.failed} failed" if self.failed else ""))
            if self.epochs:
                info += ", epochs " + " ".join(f"{e}/{n}" for e, n in self.epochs.values())
            self.progress.update(self.task, info=info)

    def started(self, payload: dict[str, Any]) -> None:
        self.running += 1
        self._refresh()

    def epoch(self, unit: str, epoch: int, epochs: int) -> None:
        if self.enabled and unit not in self.finished_units:
            self.epochs[unit] = (epoch, epochs)
            self._refresh()

    def finished(self, payload: dict[str, Any], failed: bool) -> None:
        self.epochs.pop(payload["group"], None)
        self.finished_units.add(payload["group"])
        self.running -= 1
        self.groups_done += 1
        self.failed += int(failed)
        if self.enabled:
            self.progress.advance(self.task, len(payload["trials"]))
        self._refresh()

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()
