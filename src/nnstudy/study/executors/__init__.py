"""Where a study's work units run: `inprocess` (the driver process), `local` (a pool of
worker processes on this machine) or `ray` (tasks on a Ray cluster). See `base.py` for the
seam; the runner, the store and the report do not know which executor ran a unit.

`auto`, the default: `ray` when an `--address` is given; else `inprocess` for one unit or
one worker (no worker start-up); else `local`.
"""

from __future__ import annotations

from nnstudy.errors import ConfigError
from nnstudy.study.executors.base import Executor, UnitEvents
from nnstudy.study.executors.inprocess import InProcessExecutor
from nnstudy.study.executors.local import LocalExecutor

EXECUTORS = ("auto", "inprocess", "local", "ray")


def check_executor(name: str | Executor, address: str | None = None) -> None:
    """Refuse an unknown executor, an address without Ray, and Ray where it is not
    installed, before anything is written. An Executor object is taken as it is."""
    if not isinstance(name, str):
        return
    if name not in EXECUTORS:
        raise ConfigError(f"--executor: {name!r} is not one of {', '.join(EXECUTORS)}")
    if address is not None and name not in ("auto", "ray"):
        raise ConfigError(f"--address: a Ray cluster's address needs --executor ray "
                          f"(got --executor {name})")
    if name == "ray" or address is not None:
        from nnstudy.study.executors.ray import check_address, import_ray

        import_ray()
        if address is not None:
            check_address(address)


def choose_executor(name: str | Executor, units: int, workers: int,
                    address: str | None = None) -> Executor:
    """The executor `name` stands for, for `units` work units and `workers` processes (an
    Executor object, such as `RayExecutor(address, max_retries=0)`, is itself)."""
    if not isinstance(name, str):
        return name
    check_executor(name, address)
    if name == "auto":
        if address is not None:
            name = "ray"
        else:
            name = "inprocess" if units <= 1 or workers <= 1 else "local"
    if name == "ray":
        from nnstudy.study.executors.ray import RayExecutor

        return RayExecutor(address)
    if name == "local":
        return LocalExecutor(workers)
    return InProcessExecutor()


__all__ = ["EXECUTORS", "Executor", "UnitEvents", "check_executor", "choose_executor"]
