"""Imports every command module so that each registers its commands on the app."""

from nnstudy.cli import version  # noqa: F401
from nnstudy.cli import train  # noqa: F401
from nnstudy.cli import study  # noqa: F401
