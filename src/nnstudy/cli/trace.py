"""`nnstudy trace SPEC.yaml`: the chain rule with numbers for a small network."""

from __future__ import annotations

from pathlib import Path

import typer

from nnstudy.cli.app import app, console


@app.command("trace")
def trace_command(
    spec: Path = typer.Argument(..., help="YAML with input, target, loss, layers (with their "
                                          "weights) and wrt."),
    wrt: str = typer.Option(None, "--wrt", help="The entry to differentiate by, e.g. "
                                                "layers.0.weight[1,2] [default: the spec's]."),
    latex: bool = typer.Option(False, "--latex", help="Print LaTeX (align*) instead of text."),
) -> None:
    """Print every node's forward value, dL/dnode, and the chain of partial derivatives
    from the loss to one weight: each factor's form and value, and their product."""
    from nnstudy.gradients.trace import trace

    result = trace(spec, wrt)
    text = result.render_latex() if latex else result.render()
    console.print(text, highlight=False, markup=False, soft_wrap=True)
