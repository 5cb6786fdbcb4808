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

