"""Imports every command module so that each registers its commands on the app."""

from nnstudy.cli import (
    check,  # noqa: F401
    data,  # noqa: F401
    inspect,  # noqa: F401
    study,  # noqa: F401
    trace,  # noqa: F401
    train,  # noqa: F401
    trajectory,  # noqa: F401
    version,  # noqa: F401
)
