"""Studies: grids x seeds, grouped training, the SQLite store, resume, statistics.

`nnstudy.study` computes and stores; it does not write reports (`nnstudy.report` does, and
`nnstudy.Study` runs a study and then writes its report).

The names below are imported on first use: a worker process imports `nnstudy.study.worker`,
which needs torch and the trainer, not the store, pandas or scipy's statistics (half a
second more of every worker's start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "Study": "nnstudy.study.runner",
    "resume": "nnstudy.study.runner",
    "status": "nnstudy.study.runner",
    "StudyResult": "nnstudy.study.result",
    "load_result": "nnstudy.study.result",
}

if TYPE_CHECKING:
    from nnstudy.study.result import StudyResult, load_result
    from nnstudy.study.runner import Study, resume, status


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nnstudy.study' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["Study", "StudyResult", "load_result", "resume", "status"]
