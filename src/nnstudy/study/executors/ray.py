"""The Ray executor: each work unit is a Ray task on a cluster (or on a Ray instance it
starts on this machine and stops at the end).

What crosses the network: the data set, loaded once by the driver and put in Ray's object
store once (every task gets the same object; a node fetches it once); each unit's payload
(trial ids and their configs as JSON); per-epoch progress, through a small actor; and each
unit's results (epoch rows, summaries, best-epoch weights) back to the driver, which alone
writes the SQLite store. A task asks for the study's thread count in CPUs, and for a GPU
when the study's device is CUDA.

A task whose worker process or node dies is retried by Ray (`max_retries` times); after
that its unit's trials are marked failed with the error and the study goes on. A unit is
committed once, by the driver, when its one result arrives, so no trial is lost or
recorded twice. Ctrl-C cancels the tasks and leaves the store resumable.

Ray is an optional dependency (`pip install 'nnstudy[ray]'`), imported only here and only
when this executor runs.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

from nnstudy.errors import ConfigError
from nnstudy.study.executors.base import Payload, UnitEvents

INSTALL_HINT = "pip install 'nnstudy[ray]'"
# Ray's retries of a task whose worker process or node died (not of a Python exception:
# a unit that raises is a result, its trials are marked failed).
MAX_RETRIES = 3
POLL_S = 0.5  # how often the driver drains the progress actor while it waits
CONNECT_TIMEOUT_S = 10.0  # for the first look at an --address


def import_ray():
    """The `ray` module, or a ConfigError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--executor ray: Ray is not installed; install it with "
                          f"{INSTALL_HINT}") from None
    return ray


def check_address(address: str) -> None:
    """Refuse a `host:port` where nothing accepts a connection, before anything is written
    (Ray itself keeps retrying such an address for minutes). Other forms (`auto`,
    `ray://...`) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ConfigError(f"--address {address}: no Ray cluster answers there "
                          f"({exc.strerror or exc}); start one with `ray start --head`, "
                          "see docs/distributed.md") from None


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, max_retries: int = MAX_RETRIES) -> None:
        self.address = address
        self.max_retries = max_retries

    def run(self, payloads: list[Payload], threads: int, events: UnitEvents
            ) -> dict[str, Any]:
        ray = import_ray()
        stats: dict[str, Any] = {"executor": self.name, "address": self.address,
                                 "units": len(payloads), "max_retries": self.max_retries}
        start = time.perf_counter()
        started_here = self.address is None
        _connect(ray, self.address)
        stats["connect_s"] = round(time.perf_counter() - start, 3)
        refs: dict[Any, tuple[Payload, float]] = {}
        try:
            stats["nodes"] = len([n for n in ray.nodes() if n.get("Alive")])
            t = time.perf_counter()
            data_refs, stats["data_load_s"], stats["data_put_s"] = _put_data(ray, payloads,
                                                                            threads)
            progress = _progress_actor(ray)
            task = ray.remote(run_unit)
            stats["setup_s"] = round(time.perf_counter() - t, 3)
            for payload in payloads:
                data, cuda = unit_needs(payload)
                events.started(payload)
                ref = task.options(
                    name=f"nnstudy:{payload['group']}", num_cpus=threads,
                    num_gpus=1 if cuda else 0,
                    max_retries=self.max_retries, retry_exceptions=False,
                ).remote(payload, data_refs[data], progress)
                refs[ref] = (payload, time.time())
            units = []
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
                for unit, epoch, epochs in _drain(ray, progress):
                    events.epoch(unit, epoch, epochs)
                for ref in done:
                    payload, submitted = refs.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # retries spent: worker/node died
                        outcome = {"group": payload["group"],
                                   "error": f"ray: {_first_line(exc)}"}
                    timing = outcome.pop("timing", None)
                    if timing is not None:
                        units.append(_unit_timing(timing, submitted, time.time()))
                    events.finished(payload, outcome)
            stats["unit_timings"] = units
            stats["wall_s"] = round(time.perf_counter() - start, 3)
            stats["started_local_instance"] = started_here
            return stats
        except BaseException:  # Ctrl-C above all: nothing more runs; resume reruns these
            for ref in refs:
                ray.cancel(ref, force=True)
            raise
        finally:
            ray.shutdown()  # stops the instance started here; disconnects from a cluster


def _progress_actor(ray):
    """The actor that holds epoch events, on the driver's own node: a node that dies takes
    its tasks (which Ray retries) but not the progress display."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
    return ray.remote(num_cpus=0, scheduling_strategy=here)(_Progress).remote()


def _drain(ray, progress) -> list[tuple[str, int, int]]:
    """The epoch events since the last call; none when the actor is gone (progress is a
    display, never a reason to stop the study)."""
    try:
        return ray.get(progress.drain.remote(), timeout=10 * POLL_S)
    except (ray.exceptions.RayError, TimeoutError):
        return []


def _connect(ray, address: str | None) -> None:
    kwargs = dict(log_to_driver=False, logging_level=logging.WARNING)
    if ray.is_initialized():
        ray.shutdown()
    try:
        if address is None:
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except ConnectionError as exc:
        raise ConfigError(f"--address {address}: no Ray cluster there ({_first_line(exc)}); "
                          "start one with `ray start --head`") from None


def _put_data(ray, payloads: list[Payload], threads: int
              ) -> tuple[dict[str, Any], float, float]:
    """Load each distinct data set once, in the driver, with the study's thread count (a
    transform's statistics are sums whose rounding could depend on it), and put it in the
    object store once."""
    import torch

    from nnstudy.study.worker import load_bundle

    refs: dict[str, Any] = {}
    load_s = put_s = 0.0
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        for payload in payloads:
            key, _ = unit_needs(payload)
            if key in refs:
                continue
            t = time.perf_counter()
            bundle = load_bundle(key)
            load_s += time.perf_counter() - t
            t = time.perf_counter()
            refs[key] = ray.put(bundle)
            put_s += time.perf_counter() - t
    finally:
        torch.set_num_threads(saved)
    return refs, round(load_s, 3), round(put_s, 3)


def unit_needs(payload: Payload) -> tuple[str, bool]:
    """A unit's data set (its spec as JSON, the key its bundle is put under) and whether it
    asks for a GPU: a device of `cuda` or `cuda:N`, or `auto` where the driver sees CUDA
    (give the device explicitly when the driver's machine differs from the workers')."""
    from nnstudy.config.run import RunSpec

    spec = RunSpec.model_validate_json(payload["trials"][0][1])
    if spec.device == "auto":
        import torch

        cuda = torch.cuda.is_available()
    else:
        cuda = spec.device.startswith("cuda")
    return spec.data.model_dump_json(), cuda


def run_unit(payload: Payload, bundle: Any, progress: Any) -> dict[str, Any]:
    """The Ray task: train one unit on the shared data, report each epoch to `progress`."""
    from nnstudy.study.worker import run_group

    started = time.time()
    unit = payload["group"]

    def on_epoch(epoch: int, epochs: int, _metrics: Any) -> None:
        progress.add.remote(unit, epoch, epochs)

    outcome = run_group(payload, bundle=bundle, progress=on_epoch)
    outcome["timing"] = {"started": started, "ended": time.time(),
                         "train_s": _train_seconds(outcome)}
    return outcome


def _train_seconds(outcome: dict[str, Any]) -> float | None:
    for r in outcome.get("results", ()):
        return r["summary"].get("group_wall_time_s")
    return None


def _unit_timing(timing: dict[str, Any], submitted: float, received: float) -> dict[str, Any]:
    """Where a unit's time went: waiting for a worker (queue and worker start-up), running
    the task (training, plus building and summarizing), and returning its results."""
    run_s = timing["ended"] - timing["started"]
    train = timing["train_s"]
    return {"wait_s": round(timing["started"] - submitted, 3), "run_s": round(run_s, 3),
            "train_s": train, "return_s": round(received - timing["ended"], 3),
            "overhead_s": round(run_s - (train or 0.0) + received - timing["ended"], 3)}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class _Progress:
    """An actor holding the epoch events of running tasks until the driver drains them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int]] = []

    def add(self, unit: str, epoch: int, epochs: int) -> None:
        self.events.append((unit, epoch, epochs))

    def drain(self) -> list[tuple[str, int, int]]:
        events, self.events = self.events, []
        return events
