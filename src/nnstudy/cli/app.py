"""The typer application and the error boundary every command runs inside.

Commands live one group per module beside this one and register on `app` when
`nnstudy.cli` is imported (see `commands.py`); each parses its arguments, calls the Python
API and renders the result, nothing more.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from nnstudy.errors import NNStudyError

app = typer.Typer(
    name="nnstudy",
    help="Build, check, train and compare small neural networks, reproducibly and fast.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

console = Console(soft_wrap=True, emoji=False)  # user text (":factory") is printed literally
err_console = Console(stderr=True, emoji=False)

@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on errors."),
) -> None:
    """Declares --debug for --help and parsing; `main` reads it from argv, since it must know
    before the app runs whether to turn an error into one line."""


def free_run_dir(base: Path) -> Path:
    """`base`, or `base-2`, `base-3`, ... : the first that does not exist (no run is lost)."""
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


# Options that take several values after one flag (`--momentum 0 0.25 0.8`), per command.
# Click takes a list option as a repeated flag; `expand_list_options` rewrites the first form
# into the second. Filled by the command modules.
LIST_OPTIONS: dict[str, frozenset[str]] = {}


def _is_value(token: str) -> bool:
    if not token.startswith("-"):
        return True
    try:
        float(token)  # a negative number is a value, not a flag
    except ValueError:
        return False
    return True


def expand_list_options(args: list[str]) -> list[str]:
    """`trajectory C --momentum 0 0.25 --lr 1` -> `trajectory C --momentum 0 --momentum 0.25
    --lr 1` for the options LIST_OPTIONS names; everything else is left as it is."""
    options = LIST_OPTIONS.get(args[0], frozenset()) if args else frozenset()
    if not options:
        return args
    out: list[str] = [args[0]]
    i = 1
    while i < len(args):
        token = args[i]
        i += 1
        if token not in options:
            out.append(token)
            continue
        values = []
        while i < len(args) and _is_value(args[i]):
            values.append(args[i])
            i += 1
        out += [token] if not values else [x for v in values for x in (token, v)]
    return out


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `nnstudy` console script: exit code 2 and one line on bad input."""
    argv = expand_list_options(list(argv if argv is not None else sys.argv[1:]))
    debug = "--debug" in argv
    try:
        app(args=argv, prog_name="nnstudy")
    except NNStudyError as exc:
        if debug:
            raise
        err_console.print(f"error: {exc}", style="red", highlight=False, markup=False,
                          soft_wrap=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        if debug:
            raise
        err_console.print("interrupted; a study continues with `nnstudy study resume DIR`",
                          style="red", highlight=False, markup=False, soft_wrap=True)
        raise SystemExit(130) from None
