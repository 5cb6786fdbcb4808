"""`from nnstudy.cli import app` is the whole command tree of DESIGN.md's CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from nnstudy.cli import app, main

# DESIGN.md: `nnstudy inspect | check | trace | data | train | study run | study resume |
# study report | trajectory`. Besides: data show/download, study status, version.
CONTRACT = [("inspect",), ("check",), ("trace",), ("data",), ("train",), ("study", "run"),
            ("study", "resume"), ("study", "report"), ("trajectory",)]
OTHERS = [("data", "show"), ("data", "download"), ("study", "status"), ("version",)]

TREE = """
import json, typer
from nnstudy.cli import app

def walk(command, path=()):
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield [*path, name]
        yield from walk(sub, (*path, name))

print(json.dumps(list(walk(typer.main.get_command(app)))))
"""


def test_importing_the_app_alone_registers_every_command():
    # A fresh interpreter: nothing else has imported the command modules before.
    out = subprocess.run([sys.executable, "-c", TREE], capture_output=True, text=True,
                         check=True).stdout
    tree = {tuple(path) for path in json.loads(out)}
    assert set(CONTRACT + OTHERS) <= tree


@pytest.mark.parametrize("path", CONTRACT + OTHERS, ids=" ".join)
def test_every_command_answers_help_through_clirunner(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_an_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(app, ["trian"])
    assert result.exit_code == 2


def test_user_text_is_printed_literally_without_emoji_codes(capsys):
    try:
        main(["inspect", "nosuchmod.sub:factory"])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: nosuchmod.sub:factory: cannot import module")
