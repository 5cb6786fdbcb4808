"""`nnstudy trajectory CONFIG --weights W1 W2 --momentum 0 0.25 0.8 --lr 0.1 --steps 100`:
the loss contour over two weights and the gradient-descent path of each momentum over it."""

from __future__ import annotations

from pathlib import Path

import typer

from nnstudy.cli.app import LIST_OPTIONS, app, console

LIST_OPTIONS["trajectory"] = frozenset({"--weights", "--momentum", "--start", "--offset"})


@app.command("trajectory")
def trajectory_command(
    config: Path = typer.Argument(..., help="Run config (YAML), trained first; or a run "
                                            "directory, whose model.pt is loaded."),
    weights: list[str] = typer.Option(..., "--weights",
                                      help="Two weights as parameter[index]: "
                                           "--weights 'fc1.weight[3,7]' 'fc2.weight[0,1]'."),
    momentum: list[float] = typer.Option([0.0, 0.25, 0.8], "--momentum",
                                         help="One path per value, each in [0, 1)."),
    lr: float = typer.Option(0.1, "--lr", help="Learning rate of the paths."),
    steps: int = typer.Option(100, "--steps", help="Gradient steps per path."),
    start: list[float] = typer.Option(None, "--start",
                                      help="Where the paths start: two values [default: the "
                                           "trained values plus --offset]."),
    offset: list[float] = typer.Option([-1.0, 1.0], "--offset",
                                       help="Start minus the trained values."),
    samples: int = typer.Option(2000, "--samples",
                                help="Training examples in the loss (full batch)."),
    grid: int = typer.Option(60, "--grid", help="Grid points per axis of the contour."),
    out: Path = typer.Option(None, "--out",
                             help="Figure file, .png or .svg [default: <config or run "
                                  "directory name>-trajectory.png here]."),
    set_: list[str] = typer.Option([], "--set", help="Override a key: --set train.epochs=5"),
    device: str = typer.Option(None, "--device", help="cpu, cuda or auto [default: config]."),
) -> None:
    """Train (or load) a model, then draw the contour of its training loss over two weights,
    all others held at their trained values, and gradient descent on those two weights for
    each momentum, start and end marked (report 001, Figures 6 and 7). The grid is computed
    batched: many weight pairs in one forward pass."""
    from nnstudy.api import trajectory
    from nnstudy.errors import ConfigError
    from nnstudy.report.plots import save_figure

    if not config.exists():
        raise ConfigError(f"{config}: no such file or directory")
    if out is None:  # beside, not inside, a run directory: that stays as nnstudy wrote it
        out = Path(f"{config.name if config.is_dir() else config.stem}-trajectory.png")
    if out.suffix.lower() not in (".png", ".svg"):
        raise ConfigError(f"--out {out}: figure format {out.suffix or '(no suffix)'!r} is not "
                          ".png or .svg")
    t = trajectory(config, weights, momentum=momentum, lr=lr, steps=steps,
                   start=start or None, offset=offset, samples=samples, grid=grid,
                   overrides=set_, device=device)
    say = lambda text: console.print(text, highlight=False, markup=False)  # noqa: E731
    say(f"trained: {t.weights[0]} = {t.trained[0]:.4f}, {t.weights[1]} = {t.trained[1]:.4f}; "
        f"training loss {t.trained_loss:.4f} on {t.samples:,} examples")
    for p in t.paths:
        a, b = p.points[-1]
        ended = "" if len(p.points) == steps + 1 else " (loss stopped being finite)"
        say(f"momentum {p.momentum:g}: loss {p.losses[0]:.4f} -> {p.losses[-1]:.4f} "
            f"(lowest {p.losses.min():.4f}) in {len(p.points) - 1} steps{ended}, "
            f"ends at ({a:.4f}, {b:.4f})")
    say(f"loss grid: {len(t.ys)} x {len(t.xs)} points in {t.grid_seconds:.1f} s (batched)")
    say(f"figure: {save_figure(t.figure, out)}")
