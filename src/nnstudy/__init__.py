"""nnstudy: build, check, train and compare small neural networks, reproducibly and fast."""

from nnstudy.errors import ConfigError, DataError, DivergedError, NNStudyError, ShapeError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "DivergedError",
    "NNStudyError",
    "ShapeError",
    "__version__",
]
