"""`nnstudy data show NAME` and `nnstudy data download NAME`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from nnstudy.cli.app import app, console

if TYPE_CHECKING:
    from nnstudy.config.data import StepSpec
    from nnstudy.data import DataBundle

data_app = typer.Typer(
    name="data",
    help="Look at a data set (sizes, classes, counts, a sample grid) or download one.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(data_app, name="data")


@data_app.command("show")
def show_command(
    name: str = typer.Argument(
        ..., help="digits, mnist, fashion_mnist, kmnist, cifar10, folder or npz."
    ),
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
    start = time.perf_counter()
    bundle = load_data(spec, progress=console.is_terminal)
    seconds = time.perf_counter() - start
    render_bundle(bundle, seconds)
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


def render_bundle(bundle: DataBundle, seconds: float) -> None:
    """Sizes, classes, shapes, pixel statistics and the per-class table of a DataBundle."""
    spec = bundle.spec
    train, valid, test = bundle.train, bundle.valid, bundle.test
    mean, std = bundle.pixel_stats("train")
    say = console.print
    say(f"{spec.name}: {bundle.origin} (loaded in {seconds:.2f} s)", highlight=False)
    say(f"classes: {bundle.num_classes} ({', '.join(bundle.classes)})", highlight=False)
    stored = str(train.x.dtype).removeprefix("torch.")
    say(
        f"input shape: {bundle.input_shape} (source {stored} {tuple(train.x.shape[1:])}; "
        "float32 batches)",
        highlight=False,
    )
    say(
        f"training images: {len(train) + len(valid):,} = {len(train):,} train "
        f"+ {len(valid):,} valid; test images: {len(test):,}",
        highlight=False,
    )
    for split in ("train", "valid", "test"):
        say(f"  {split}: {bundle.provenance.get(split, '')}", highlight=False)
    say(
        "pixel mean / std (train, after transforms): "
        + ", ".join(f"{m:.4f} / {s:.4f}" for m, s in zip(mean, std, strict=True)),
        highlight=False,
    )
    steps = [_step_text(s) for s in spec.transforms]
    say(f"transforms: {', '.join(steps) if steps else 'none'}", highlight=False)
    augments = [_step_text(s) for s in spec.augment]
    say(
        f"augment (training batches): {', '.join(augments) if augments else 'none'}",
        highlight=False,
    )
    counts = bundle.counts
    table = Table(title="images per class")
    for column in ("class", "train", "valid", "train+valid", "test"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for c, label in enumerate(bundle.classes):
        tr, va, te = counts["train"][c], counts["valid"][c], counts["test"][c]
        table.add_row(
            f"{c} {label}" if label != str(c) else label,
            f"{tr:,}",
            f"{va:,}",
            f"{tr + va:,}",
            f"{te:,}",
        )
    table.add_row(
        "total",
        f"{len(train):,}",
        f"{len(valid):,}",
        f"{len(train) + len(valid):,}",
        f"{len(test):,}",
        style="bold",
    )
    console.print(table)


def _step_text(step: StepSpec) -> str:
    config = step.to_config()
    if isinstance(config, str):
        return config
    ((kind, args),) = config.items()
    if isinstance(args, dict):
        inner = ", ".join(f"{k}: {_short(v)}" for k, v in args.items())
        return f"{kind} {{{inner}}}"
    return f"{kind} {_short(args)}"


def _short(value: object) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@data_app.command("download")
def download_command(
    name: str = typer.Argument(..., help="mnist, fashion_mnist, kmnist or cifar10."),
) -> None:
    """Download a data set into the cache ($NNSTUDY_DATA_DIR or ~/.cache/nnstudy), trying
    its mirrors in order and checking every file's sha256."""
    from nnstudy.data.catalog import CATALOG
    from nnstudy.data.download import cache_dir, download_dataset

    if name == "digits":
        console.print("digits ships with scikit-learn: nothing to download")
        return
    directory = download_dataset(name, progress=console.is_terminal)
    for file in CATALOG[name].files:
        console.print(f"{cache_dir() / name / file.name}  sha256 {file.sha256} ok", highlight=False)
    console.print(f"ready: {directory}", highlight=False)
