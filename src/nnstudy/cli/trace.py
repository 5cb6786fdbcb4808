"""`nnstudy trace SPEC.yaml`: the chain rule with numbers for a small network."""

from __future__ import annotations

from pathlib import Path

import typer

from nnstudy.cli.app import app, console


@app.command("trace")
def trace_command(
    spec: Path = typer.Argument(..., help="YAML with input (one, or a list: a batch), target, "
                                          "loss (or none), layers (with their weights), l2 "
                                          "and wrt."),
    wrt: str = typer.Option(None, "--wrt", help="The entry to differentiate by, e.g. "
                                                "layers.0.weight[1,2] [default: the spec's]."),
    example: int = typer.Option(None, "--example",
                                help="With a batch: print example N's trace in full."),
    latex: bool = typer.Option(False, "--latex", help="Print LaTeX (align*) instead of text."),
) -> None:
    """Print every node's forward value, dL/dnode, and the chain of partial derivatives
    from the loss (or a raw output) to one weight or input: each factor's form and value,
    their product, and the L2 term's; for a batch, each example's factors and the mean."""
    from nnstudy.errors import ConfigError
    from nnstudy.gradients.trace import BatchTrace, trace

    result = trace(spec, wrt)
    if example is not None:
        if not isinstance(result, BatchTrace):
            raise ConfigError("--example: the spec has one input, not a batch; --example "
                              "picks one example of a list of inputs")
        if not 0 <= example < len(result.examples):
            raise ConfigError(f"--example: {example} is out of range for a batch of "
                              f"{len(result.examples)} (0..{len(result.examples) - 1})")
        result = result.examples[example]
    text = result.render_latex() if latex else result.render()
    console.print(text, highlight=False, markup=False, soft_wrap=True)
