"""nnstudy: build, check, train and compare small neural networks, reproducibly and fast."""

from nnstudy.analysis import inspect
from nnstudy.data import DataBundle, load_data
from nnstudy.errors import ConfigError, DataError, DivergedError, NNStudyError, ShapeError
from nnstudy.gradients.gradcheck import gradcheck
from nnstudy.gradients.trace import trace
from nnstudy.study import Study, StudyResult
from nnstudy.training.run import RunResult, train

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataBundle",
    "DataError",
    "DivergedError",
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
