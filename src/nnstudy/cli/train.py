"""`nnstudy train CONFIG.yaml`: train one model and write its run directory."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from nnstudy.cli.app import app, console, free_run_dir
from nnstudy.errors import ConfigError


@app.command("train")
def train_command(
    config: Path = typer.Argument(..., help="Run config (YAML) with data:, model:, train:."),
    set_: list[str] = typer.Option([], "--set", help="Override a key: --set train.lr=0.01"),
    out: Path = typer.Option(None, "--out", help="Run directory [default: runs/<config name>]."),
    device: str = typer.Option(None, "--device", help="cpu, cuda or auto [default: config]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    overwrite: bool = typer.Option(False, "--overwrite",
                                   help="Replace an existing run directory given by --out."),
) -> None:
    """Train one model; print its metrics and diagnostics; write config.yaml, metrics.csv,
    summary.json and model.pt to the run directory."""
    from nnstudy.training.run import train

    if out is None:
        out_dir = free_run_dir(Path("runs") / config.stem)
    elif out.exists() and not overwrite:
        raise ConfigError(f"--out: {out} already exists; choose another directory or pass "
                          "--overwrite to replace it")
    else:
        out_dir = out
    result = train(config, out=out_dir, overrides=set_, device=device,
                   progress=not quiet and console.is_terminal)
    render_summary(result.summary, result.out_dir)


def render_summary(summary: dict, out_dir: Path | None) -> None:
    """The per-split table, the best epoch, and one line per diagnostic."""
    table = Table(title=f"best epoch {summary['best_epoch']} of {summary['epochs_run']}"
                        f" ({summary['status']}, {summary['wall_time_s']:.1f} s)")
    table.add_column("split")
    table.add_column("loss", justify="right")
    table.add_column("accuracy", justify="right")
    for split, m in summary["best"].items():
        table.add_row(split, f"{m['loss']:.4f}", f"{m['accuracy']:.2%}")
    console.print(table)
    if not summary["diagnostics"]:
        console.print("diagnostics: none fired")
    for d in summary["diagnostics"]:
        console.print(f"[bold yellow]{d['code']}[/]: {d['message']}", highlight=False)
        console.print(f"  suggestion: {d['suggestion']}", highlight=False)
    if out_dir is not None:
        console.print(f"run directory: {out_dir}", highlight=False)
