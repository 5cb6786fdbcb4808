"""`nnstudy data show NAME` and `nnstudy data download NAME`."""

from __future__ import annotations

from pathlib import Path

import typer

from nnstudy.cli.app import app, console
from nnstudy.config.datasets import CATALOG

data_app = typer.Typer(
    name="data",
    help="Look at a data set (sizes, classes, counts, a sample grid) or download one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(data_app, name="data")


@data_app.command("show")
def show_command(
    name: str = typer.Argument(..., help=f"One of {', '.join(CATALOG)}."),
    root: Path = typer.Option(None, "--root", help="Local directory of the data set."),
    set_: list[str] = typer.Option(
        [], "--set", help="Set a data key: --set valid_fraction=0.2, --set path=x.npz"
    ),
    out: Path = typer.Option(None, "--out", help="Sample grid image [default: NAME-samples.png]."),
    per_class: int = typer.Option(8, "--per-class", help="Samples per class in the grid (1-100)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the samples drawn for the grid."),
) -> None:
    """Load a data set; print sizes, classes, counts per split, input shape and pixel
    statistics; write a PNG grid of random training samples per class."""
    from nnstudy.config.data import parse_data_spec
    from nnstudy.config.loading import apply_overrides
    from nnstudy.data import load_data
    from nnstudy.data.grid import check_grid_target, grid_refusal, save_sample_grid

    raw: dict = {"name": name}
    if root is not None:
        raw["root"] = str(root)
    raw = apply_overrides(raw, [s.removeprefix("data.") for s in set_])
    spec = parse_data_spec(raw)
    grid = check_grid_target(out if out is not None else f"{spec.name}-samples.png", per_class)
    bundle = load_data(spec, progress=console.is_terminal)
    console.print(bundle.describe())
    refusal = grid_refusal(bundle)
    if refusal is not None:
        console.print(f"grid: none ({refusal})", highlight=False, markup=False)
        return
    save_sample_grid(bundle, grid, per_class=per_class, seed=seed)
    console.print(
        f"grid: {grid} ({per_class} random train images per class, seed {seed})",
        highlight=False,
        markup=False,
    )


@data_app.command("download")
def download_command(
    name: str = typer.Argument(
        ...,
        help=f"One of {', '.join(n for n, d in CATALOG.items() if d.download is not None)}.",
    ),
) -> None:
    """Download a data set into the cache ($NNSTUDY_DATA_DIR or ~/.cache/nnstudy), trying
    its mirrors in order and checking every file's sha256."""
    from nnstudy.data.download import download_dataset

    copy = download_dataset(name, progress=console.is_terminal)
    if copy is None:
        console.print(f"{name}: nothing to download ({CATALOG[name].summary})", markup=False)
        return
    for path, sha256 in copy.files:
        console.print(f"{path}  sha256 {sha256} ok", highlight=False, markup=False)
    console.print(f"ready: {copy.folder}", highlight=False, markup=False)
