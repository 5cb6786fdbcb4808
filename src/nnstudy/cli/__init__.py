"""The `nnstudy` command line: a thin skin over the Python API.

Importing the package registers every command on `app`, so `from nnstudy.cli import app`
is the whole command tree (for typer's CliRunner, or to embed it).
"""

from nnstudy.cli import commands  # noqa: F401  (each command module registers on `app`)
from nnstudy.cli.app import app, main

__all__ = ["app", "main"]
