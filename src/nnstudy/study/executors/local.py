"""The local executor: a pool of worker processes on this machine (spawned, so that each
starts clean), one unit per worker at a time.

Workers die with the driver (`worker.init_worker`), ignore Ctrl-C (the driver handles it),
and run each unit with the study's thread count. A worker process that dies fails its
unit's trials with the error; `resume` runs them again.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any

from nnstudy.study.executors.base import Payload, UnitEvents


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def run(self, payloads: list[Payload], threads: int, events: UnitEvents
            ) -> dict[str, Any]:
        from nnstudy.study.worker import init_worker, run_group

        start = time.perf_counter()
        ctx = get_context("spawn")
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init_worker,
                                 initargs=(threads, os.getpid())) as pool:
            pending = {}
            queue = list(payloads)
            try:
                while queue or pending:
                    while queue and len(pending) < self.workers:
                        payload = queue.pop(0)
                        events.started(payload)
                        pending[pool.submit(run_group, payload)] = payload
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        payload = pending.pop(fut)
                        try:
                            outcome = fut.result()
                        except Exception as exc:  # the worker process died
                            outcome = {"group": payload["group"], "error": f"worker died: {exc}"}
                        events.finished(payload, outcome)
            except KeyboardInterrupt:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        return {"executor": self.name, "workers": self.workers, "units": len(payloads),
                "wall_s": round(time.perf_counter() - start, 3)}
