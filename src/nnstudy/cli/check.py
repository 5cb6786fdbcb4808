"""`nnstudy check MODEL|CONFIG`: a gradient check in float64 on random inputs and targets."""

from __future__ import annotations

import typer

from nnstudy.cli.app import app, console


@app.command("check")
def check_command(
    model: str = typer.Argument(
        ..., help="Zoo name, YAML model spec or run config, or package.module:factory."),
    input_: str = typer.Option(
        None, "--input", help="Shape of one input: C,H,W or N [default: the model's or data's]."),
    params: str = typer.Option("all", "--params", help="all, or names (parameters or modules), "
                                                       "comma-separated."),
    eps: float = typer.Option(1e-6, "--eps", help="Step of the central differences."),
    samples: int = typer.Option(100, "--samples", help="Entries checked per tensor; 0: all."),
    batch: int = typer.Option(4, "--batch", help="Random examples in the batch."),
    loss: str = typer.Option(None, "--loss", help="cross_entropy, nll or mse "
                                                  "[default: the config's, else cross_entropy]."),
    seed: int = typer.Option(0, "--seed", help="Seed of the inputs, targets, samples, masks."),
    l2: float = typer.Option(None, "--l2", help="Add the L2 term l2 Σ‖W‖² to the loss "
                                                "[default: the config's train.l2, else 0]."),
    eval_mode: bool = typer.Option(False, "--eval", help="Check eval mode (running statistics, "
                                                         "no dropout) instead of training mode."),
    set_: list[str] = typer.Option([], "--set", help="Override a key: --set model.mlp.hidden=[50]"),
) -> None:
    """Check autograd's gradients against central differences (and the NumPy reference
    engine); print the worst entries and the analytic vs numeric time. Exit code 0 on pass
    or warn, 1 on fail."""
    from nnstudy.config.shape import parse_shape
    from nnstudy.gradients.check_model import check_model

    shape = parse_shape(input_) if input_ is not None else None
    report = check_model(model, shape, overrides=set_, batch=batch, loss=loss, params=params,
                         eps=eps, samples=samples if samples > 0 else None, seed=seed,
                         train=not eval_mode, l2=l2)
    console.print(report.render(), highlight=False, markup=False, soft_wrap=True)
    if not report.passed:
        raise typer.Exit(1)
