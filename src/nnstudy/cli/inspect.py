"""`nnstudy inspect MODEL`: shapes, parameters, MACs and FLOPs per layer, and totals."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from nnstudy.cli.app import app, console
from nnstudy.config.shape import parse_shape
from nnstudy.errors import ConfigError

if TYPE_CHECKING:
    from nnstudy.analysis import Summary

_FORMATS = ("table", "markdown", "json", "csv")


@app.command("inspect")
def inspect_command(
    model: str = typer.Argument(
        ..., help="Zoo name (lenet5, alexnet, ...), YAML model spec, or package.module:factory."
    ),
    input_: str = typer.Option(
        None, "--input", help="Shape of one sample: C,H,W or N [default: the model's]."
    ),
    classes: int = typer.Option(None, "--classes", help="Number of classes (output units)."),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a spec key, e.g. --set model.mlp.hidden=[50]."
    ),
    format_: str = typer.Option("table", "--format", help="table, markdown, json or csv."),
    no_bias: bool = typer.Option(
        False, "--no-bias", help="Report the figures without biases (parameters and adds)."
    ),
) -> None:
    """Count shapes, parameters, MACs, FLOPs (with and without bias) and activation memory
    of every layer on a real forward pass, and the training cost per sample (backward pass
    counted too). Conventions: docs/counting.md."""
    from nnstudy.analysis import inspect
    from nnstudy.models import load_model

    if format_ not in _FORMATS:
        raise ConfigError(f"--format: {format_!r} is not one of {', '.join(_FORMATS)}")
    if classes is not None and classes <= 0:
        raise ConfigError(f"--classes: {classes} is not a positive number of classes")
    shape = parse_shape(input_) if input_ is not None else None
    net, resolved = load_model(model, shape, classes, set_)
    summary = inspect(net, resolved, name=model)
    bias = not no_bias
    if format_ == "json":
        typer.echo(json.dumps(summary.to_dict(bias), indent=2))
    elif format_ == "csv":
        typer.echo(summary.to_csv(bias), nl=False)
    elif format_ == "markdown":
        typer.echo(summary.to_markdown(bias), nl=False)
    else:
        _print_table(summary, bias)


def _print_table(summary: Summary, bias: bool) -> None:
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    from nnstudy.analysis.summary import format_shape

    headers, body, total = summary.table(bias)
    table = Table(
        title=f"{summary.model}, input {format_shape(summary.input_shape)}",
        title_justify="left",
        show_edge=False,
    )
    for i, header in enumerate(headers):
        table.add_column(header, justify="right" if i >= 4 else "left", no_wrap=i >= 4)
    for cells in body:
        table.add_row(*cells)
    table.add_section()
    table.add_row(*total, style="bold")
    # Print at the table's natural width: squeezed columns would hide layer names.
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    wide = Console(
        width=max(console.width, natural),
        file=console.file,
        force_terminal=console.is_terminal,
        no_color=console.no_color,
    )
    wide.print(table, highlight=False)
    for note in summary.notes(bias):
        console.print(note, highlight=False, markup=False, soft_wrap=True)
