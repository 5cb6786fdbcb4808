"""The local executor: a pool of worker processes on this machine (spawned, so that each
starts clean), one unit per worker at a time.

Workers die with the driver (`worker.init_worker`), ignore Ctrl-C (the driver handles it),
and run each unit with the study's thread count.

A worker process that dies (killed, out of memory) breaks the whole pool: every unit still
in it is lost with it. The executor then starts a new pool and runs those units again, each
at most `max_attempts` times in all; a unit whose workers died that often has its trials
failed with the reason, and the study goes on (`resume` runs them again). A unit that raises
is not retried: that is its result (its trials are failed with the error in `run_group`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from nnstudy.study.executors.base import Outcome, Payload, UnitEvents

# Runs of one unit whose worker died, the first included, before its trials are failed.
MAX_ATTEMPTS = 3


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int, max_attempts: int = MAX_ATTEMPTS,
                 unit: Callable[[Payload], Outcome] | None = None) -> None:
        """`unit`: what a worker runs on a payload (default `worker.run_group`); a module-level
        function, since it is sent to spawned processes by name."""
        self.workers = workers
        self.max_attempts = max_attempts
        self.unit = unit

    def run(self, payloads: list[Payload], threads: int, events: UnitEvents
            ) -> dict[str, Any]:
        start = time.perf_counter()
        attempts = {p["group"]: 0 for p in payloads}
        queue = list(payloads)
        pools = 0
        while queue:
            pools += 1
            queue = self._run_pool(queue, threads, events, attempts)
        return {"executor": self.name, "workers": self.workers, "units": len(payloads),
                "pools": pools, "retried": sorted(g for g, n in attempts.items() if n > 1),
                "wall_s": round(time.perf_counter() - start, 3)}

    def _run_pool(self, queue: list[Payload], threads: int, events: UnitEvents,
                  attempts: dict[str, int]) -> list[Payload]:
        """Run units in one pool until they are done or the pool breaks; return the units
        to run again in a new pool."""
        from nnstudy.study.worker import init_worker, run_group

        unit = self.unit or run_group
        ctx = get_context("spawn")
        again: list[Payload] = []
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init_worker,
                                 initargs=(threads, os.getpid())) as pool:
            pending: dict[Future, Payload] = {}
            try:
                while (queue and not again) or pending:
                    while queue and not again and len(pending) < self.workers:
                        payload = queue.pop(0)
                        try:
                            future = pool.submit(unit, payload)
                        except BrokenProcessPool:  # it broke since the last wait
                            again.append(payload)
                            break
                        if attempts[payload["group"]] == 0:
                            events.started(payload)
                        attempts[payload["group"]] += 1
                        pending[future] = payload
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        payload = pending.pop(fut)
                        try:
                            outcome = fut.result()
                        except BrokenProcessPool as exc:  # a worker process died
                            n = attempts[payload["group"]]
                            if n < self.max_attempts:
                                again.append(payload)
                                continue
                            outcome = {"group": payload["group"],
                                       "error": f"worker died {n} times running this unit: "
                                                f"{exc or 'killed'}"}
                        except Exception as exc:  # the unit could not be sent or read back
                            outcome = {"group": payload["group"], "error": f"worker: {exc!r}"}
                        events.finished(payload, outcome)
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        return again + queue
