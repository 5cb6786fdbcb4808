"""nnstudy: build, check, train and compare small neural networks, reproducibly and fast.

The public API, imported on first use (so that `nnstudy --help` does not wait for
pandas or the analysis machinery):

    inspect(model_or_spec, input_shape) -> Summary        shapes, parameters, MACs, FLOPs
    gradcheck(model, inputs, targets) -> report            finite differences vs autograd
    trace(spec) -> Trace                                   the chain rule with numbers
    load_data(spec) -> DataBundle                          data sets in memory
    train(config) -> RunResult                             one training run (and its page)
    Study.from_yaml(path).run() -> StudyResult             grids x seeds, and their report
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nnstudy.errors import ConfigError, DataError, NNStudyError, ShapeError

__version__ = "0.1.0"

_LAZY = {
    "inspect": "nnstudy.analysis",
    "DataBundle": "nnstudy.data",
    "load_data": "nnstudy.data",
    "gradcheck": "nnstudy.gradients.gradcheck",
    "trace": "nnstudy.gradients.trace",
    "Study": "nnstudy.api",
    "StudyResult": "nnstudy.api",
    "RunResult": "nnstudy.api",
    "train": "nnstudy.api",
}

if TYPE_CHECKING:
    from nnstudy.analysis import inspect
    from nnstudy.api import RunResult, Study, StudyResult, train
    from nnstudy.data import DataBundle, load_data
    from nnstudy.gradients.gradcheck import gradcheck
    from nnstudy.gradients.trace import trace


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nnstudy' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ConfigError",
    "DataBundle",
    "DataError",
    "NNStudyError",
    "RunResult",
    "ShapeError",
    "Study",
    "StudyResult",
    "__version__",
    "gradcheck",
    "inspect",
    "load_data",
    "trace",
    "train",
]
