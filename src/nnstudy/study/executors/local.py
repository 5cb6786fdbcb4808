"""The local executor: a pool of worker processes on this machine, one unit per worker at a
time.

Workers start from a fork server (`worker_context`): a clean process, started once per
study process, that imports torch and the trainer once; each worker is a fork of it, ready
to train within milliseconds instead of importing torch again (a second or more each).
The CLI starts the server before it reads the study file (`start_worker_server`), so that
its imports overlap the study process's own. Each worker takes over the study process's
working directory, import path and environment as it starts (`worker.driver_state`), as
a spawned one would. Where there is no fork server (Windows), workers are spawned.

Workers die with the driver (`worker.init_worker`), ignore Ctrl-C (the driver handles it:
it stops them at once, and their units' trials stay not done for `resume`), run each unit
with the study's thread count, and send an event as each epoch of a unit ends (a queue
the driver reads every quarter second while units run: the progress display's epochs).

A worker process that dies (killed, out of memory) breaks the whole pool: every unit still
in it is lost with it, and which of them killed its worker cannot be told. So the units
lost with a pool become suspects: each runs again alone, in a pool of one worker, where a
death is its own. A unit whose worker died `max_attempts` times (alone, or as the only unit
of its pool) has its trials failed with the reason, and the study goes on (`resume` runs
them again); the other units are never failed for it. A unit that raises is not retried:
that is its result (its trials are failed with the error in `run_group`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from queue import Empty
from typing import Any

from nnstudy.study.executors.base import Outcome, Payload, UnitEvents

# Deaths of a unit's worker, with the unit alone in its pool, before its trials are failed.
MAX_ATTEMPTS = 3
# How often the study process passes on the workers' epoch events while units run.
EPOCH_POLL_S = 0.25

# What the fork server imports before it forks any worker: everything `run_group` needs.
PRELOAD = ["nnstudy.study.worker", "nnstudy.config.run", "nnstudy.data", "nnstudy.models",
           "nnstudy.training.features", "nnstudy.training.summary", "nnstudy.training.trainer"]


def worker_context() -> BaseContext:
    """The multiprocessing context workers start in: the fork server, with `PRELOAD`
    imported, where the platform has one (Linux, macOS); else spawn. The fork server is
    one per process: this sets its preload list (`set_forkserver_preload`), which a program
    that uses the fork server for its own work shares, and which counts only before the
    server starts."""
    if "forkserver" not in get_all_start_methods():
        return get_context("spawn")
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)  # taken when the server starts (once per process)
    return ctx


def start_worker_server() -> None:
    """Start the fork server now, in the background (it takes about a second to import
    torch and the trainer), so that the workers of a study about to run start at once.
    Does nothing where workers are spawned, or when the server already runs."""
    if worker_context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int, max_attempts: int = MAX_ATTEMPTS,
                 unit: Callable[[Payload], Outcome] | None = None) -> None:
        """`unit`: what a worker runs on a payload (default `worker.run_group`); a module-level
        function, since it is sent to the workers by name."""
        self.workers = workers
        self.max_attempts = max_attempts
        self.unit = unit

    def run(self, payloads: list[Payload], threads: int, events: UnitEvents
            ) -> dict[str, Any]:
        start = time.perf_counter()
        deaths = {p["group"]: 0 for p in payloads}
        announced: set[str] = set()
        queue, suspects = list(payloads), []
        pools = 0
        while queue or suspects:
            pools += 1
            if suspects:  # alone in a pool of one: a death is this unit's
                payload = suspects.pop(0)
                lost, _ = self._run_pool([payload], 1, threads, events, announced)
            else:
                lost, queue = self._run_pool(queue, self.workers, threads, events, announced)
                if len(lost) > 1:  # which one killed its worker cannot be told
                    suspects.extend(lost)
                    continue
            for payload in lost:
                group = payload["group"]
                deaths[group] += 1
                if deaths[group] < self.max_attempts:
                    suspects.append(payload)
                else:
                    events.finished(payload, {
                        "group": group,
                        "error": f"worker died {deaths[group]} times running this unit"})
        return {"executor": self.name, "workers": self.workers, "units": len(payloads),
                "pools": pools, "worker_deaths": {g: n for g, n in deaths.items() if n},
                "wall_s": round(time.perf_counter() - start, 3)}

    def _run_pool(self, queue: list[Payload], workers: int, threads: int,
                  events: UnitEvents, announced: set[str]
                  ) -> tuple[list[Payload], list[Payload]]:
        """Run units in one pool until they are done or the pool breaks. Returns the units
        lost with a broken pool and the units not sent to it."""
        from nnstudy.study.worker import driver_state, init_worker, run_group

        unit = self.unit or run_group
        queue = list(queue)
        lost: list[Payload] = []
        ctx = worker_context()
        epochs = ctx.Queue()  # (unit, epoch, epochs) from the workers, for the display
        try:
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=init_worker,
                                     initargs=(threads, driver_state(), epochs)) as pool:
                pending: dict[Future, Payload] = {}
                try:
                    while (queue and not lost) or pending:
                        while queue and not lost and len(pending) < workers:
                            try:
                                future = pool.submit(unit, queue[0])
                            except BrokenProcessPool:  # it broke since the last wait
                                break
                            payload = queue.pop(0)
                            if payload["group"] not in announced:
                                announced.add(payload["group"])
                                events.started(payload)
                            pending[future] = payload
                        if not pending:
                            break
                        done, _ = wait(pending, timeout=EPOCH_POLL_S, return_when=FIRST_COMPLETED)
                        _drain(epochs, events)
                        for fut in done:
                            payload = pending.pop(fut)
                            try:
                                outcome = fut.result()
                            except BrokenProcessPool:  # a worker process died
                                lost.append(payload)
                                continue
                            except Exception as exc:  # the unit could not be sent or read back
                                outcome = {"group": payload["group"], "error": f"worker: {exc!r}"}
                            events.finished(payload, outcome)
                except KeyboardInterrupt:
                    # Workers ignore SIGINT; stop them now rather than wait for their units (the
                    # units' trials stay not done, and `resume` runs them again).
                    for process in list(getattr(pool, "_processes", {}).values()):
                        process.terminate()
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
        finally:  # after the pool: no worker puts on it any more
            epochs.close()
            epochs.cancel_join_thread()
        return lost, queue


def _drain(epochs: Any, events: UnitEvents) -> None:
    """Pass on the epoch events the workers sent since the last call."""
    while True:
        try:
            unit, epoch, total = epochs.get_nowait()
        except (Empty, OSError, ValueError, EOFError):  # none left, or the channel is gone
            return
        events.epoch(unit, epoch, total)
