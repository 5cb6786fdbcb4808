"""The in-process executor: the units run one after another in the driver process.

No worker start-up (the first epoch begins as soon as the data is loaded), so it is the
choice for one unit or `--workers 1`. A unit's numbers are those of a worker process: the
study's thread count is set while it runs, and the caller's is restored afterwards.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from nnstudy.study.executors.base import Payload, UnitEvents


class InProcessExecutor:
    name = "inprocess"

    def run(self, payloads: list[Payload], threads: int, events: UnitEvents
            ) -> dict[str, Any]:
        import torch

        from nnstudy.study.worker import run_group

        start = time.perf_counter()
        saved = torch.get_num_threads()
        try:
            for payload in payloads:
                events.started(payload)
                outcome = run_group(payload, progress=partial(_epoch, events, payload["group"]))
                events.finished(payload, outcome)
        finally:
            torch.set_num_threads(saved)
        return {"executor": self.name, "units": len(payloads),
                "wall_s": round(time.perf_counter() - start, 3)}


def _epoch(events: UnitEvents, unit: str, epoch: int, epochs: int, _metrics: Any) -> None:
    events.epoch(unit, epoch, epochs)
