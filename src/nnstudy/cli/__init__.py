"""The `nnstudy` command line: a thin skin over the Python API."""

from nnstudy.cli.app import app, main

__all__ = ["app", "main"]
