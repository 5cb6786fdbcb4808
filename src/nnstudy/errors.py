"""The errors nnstudy raises on bad input.

Every message is one line that says which key, file or layer is wrong, what it got, and
what it accepts. The CLI prints that line and exits with code 2.
"""

from __future__ import annotations


class NNStudyError(Exception):
    """Base class of every error nnstudy raises on purpose."""


class ConfigError(NNStudyError):
    """A config, spec or command-line value is invalid; the message names the key."""


class ShapeError(NNStudyError):
    """A layer does not fit the shape that reaches it; the message names the layer."""


class DataError(NNStudyError):
    """A data set cannot be read or checked; the message names the file."""

