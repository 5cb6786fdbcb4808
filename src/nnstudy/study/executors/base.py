"""What every executor is given and what it calls back: the seam between the runner and
the place work units run.

An executor runs a list of work units (payloads, see `nnstudy.study.worker.run_group`) and
reports each through `UnitEvents`, in the driver process: `started` before a unit is
handed out, `epoch` as its epochs end (where the executor streams them), `finished` once
with the unit's outcome ({"results": ...} or {"error": ...}). The runner commits in
`finished`, so the driver alone writes the store; an executor never touches it, and the
runner, the store and the report never know which executor ran a unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

Payload = dict[str, Any]
Outcome = dict[str, Any]


@dataclass(frozen=True)
class UnitEvents:
    """The runner's callbacks, called in the driver process."""

    started: Callable[[Payload], None]
    finished: Callable[[Payload, Outcome], None]
    epoch: Callable[[str, int, int], None]  # (unit id, epoch, epochs)


class Executor(Protocol):
    """Runs work units; `run` returns what it measured (JSON-ready, stored in the study's
    meta under `executions`), and propagates KeyboardInterrupt after cancelling its work."""

    name: str

    def run(self, payloads: list[Payload], threads: int, events: UnitEvents
            ) -> dict[str, Any]: ...


def earliest(first: float | None, outcome: Outcome) -> float | None:
    """The earlier of `first` and the time (`time.time()`) the unit of `outcome` began to
    train, its data loaded (`run_group`'s "train_start"; absent when it failed first)."""
    began = outcome.get("train_start")
    if began is None:
        return first
    return began if first is None else min(first, began)


def first_step_stat(first: float | None, started: float) -> dict[str, float]:
    """`first_train_s`: seconds from the executor's start to the first unit's training
    (worker start-up, import, data loading), for the study's `executions` record."""
    return {} if first is None else {"first_train_s": round(max(0.0, first - started), 3)}
