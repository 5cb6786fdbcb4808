"""`nnstudy train CONFIG.yaml`: train one model and write its run directory."""

from __future__ import annotations

from pathlib import Path

import typer

from nnstudy.cli.app import app, console, free_run_dir


@app.command("train")
def train_command(
    config: Path = typer.Argument(..., help="Run config (YAML) with data:, model:, train:."),
    set_: list[str] = typer.Option([], "--set", help="Override a key: --set train.lr=0.01"),
    out: Path = typer.Option(None, "--out", help="Run directory [default: runs/<config name>]."),
    device: str = typer.Option(None, "--device", help="cpu, cuda or auto [default: config]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    overwrite: bool = typer.Option(False, "--overwrite",
                                   help="Replace the run directory given by --out (only a "
                                        "directory nnstudy wrote as a run)."),
) -> None:
    """Train one model; print its metrics and diagnostics; write config.yaml, metrics.csv,
    summary.json, model.pt and report.html to the run directory."""
    from nnstudy.api import train

    out_dir = out if out is not None else free_run_dir(Path("runs") / config.stem)
    result = train(config, out=out_dir, overrides=set_, device=device,
                   progress=not quiet and console.is_terminal, overwrite=overwrite)
    console.print(result)
