"""The description of a loaded data set, as `nnstudy data show` prints it (`bundle.describe()`)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from nnstudy.config.datasets import SPLITS

if TYPE_CHECKING:
    from nnstudy.config.data import StepSpec
    from nnstudy.data.bundle import DataBundle


@dataclass(frozen=True)
class DataDescription:
    """Lines of text about a data set and its table of images per class and split.

    `counts[split][c]` is the number of samples of class c (rows labelled `labels[c]`). Rich
    renders it (`console.print(description)`), `str()` gives plain text; user text (class
    names, paths) is shown literally, never read as markup.
    """

    lines: tuple[str, ...]
    labels: tuple[str, ...]
    counts: dict[str, list[int]]

    def table(self) -> Table:
        """Columns class, train, valid, train+valid, test, and a total row."""
        table = Table(title="images per class")
        for column in ("class", "train", "valid", "train+valid", "test"):
            table.add_column(column, justify="left" if column == "class" else "right")
        train, valid, test = (self.counts[s] for s in SPLITS)
        rows = [(Text(label), train[c], valid[c], test[c]) for c, label in enumerate(self.labels)]
        rows.append((Text("total"), sum(train), sum(valid), sum(test)))
        for i, (label, tr, va, te) in enumerate(rows):
            cells = (f"{tr:,}", f"{va:,}", f"{tr + va:,}", f"{te:,}")
            table.add_row(label, *cells, style="bold" if i == len(rows) - 1 else None)
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for line in self.lines:
            yield Text(line, no_wrap=True, overflow="ignore")
        yield self.table()

    def __str__(self) -> str:
        out = io.StringIO()
        Console(file=out, width=100, color_system=None, soft_wrap=True).print(self)
        return out.getvalue()


def describe_bundle(bundle: DataBundle) -> DataDescription:
    """The description of `bundle`: where it was read and how long that took, its classes,
    input shape (and how it is stored), split sizes and how each split was made, pixel mean
    and std per channel of train after the transforms, the transforms and augmentation."""
    spec, train, valid, test = bundle.spec, bundle.train, bundle.valid, bundle.test
    mean, std = bundle.pixel_stats("train")
    stored = str(train.x.dtype).removeprefix("torch.")
    steps = ", ".join(step_text(s) for s in spec.transforms) or "none"
    augments = ", ".join(step_text(s) for s in spec.augment) or "none"
    lines = [
        f"{spec.name}: {bundle.origin} (loaded in {bundle.load_seconds:.2f} s)",
        f"classes: {bundle.num_classes} ({', '.join(bundle.classes)})",
        f"input shape: {bundle.input_shape} (source {stored} {tuple(train.x.shape[1:])}; "
        "float32 batches)",
        f"training images: {len(train) + len(valid):,} = {len(train):,} train "
        f"+ {len(valid):,} valid; test images: {len(test):,}",
        *(f"  {split}: {bundle.provenance.get(split, '')}" for split in SPLITS),
        "pixel mean / std (train, after transforms): "
        + ", ".join(f"{m:.4f} / {s:.4f}" for m, s in zip(mean, std, strict=True)),
        f"transforms: {steps}",
        f"augment (training batches): {augments}",
    ]
    labels = tuple(
        f"{c} {name}" if name != str(c) else name for c, name in enumerate(bundle.classes)
    )
    return DataDescription(tuple(lines), labels, bundle.counts)


def step_text(step: StepSpec) -> str:
    """A transform or augmentation step as one short phrase: `resize [32, 32]`,
    `gaussian_blur {kernel: 3, sigma: 0.7}`."""
    config = step.to_config()
    if isinstance(config, str):
        return config
    ((kind, args),) = config.items()
    if isinstance(args, dict):
        inner = ", ".join(f"{k}: {_short(v)}" for k, v in args.items())
        return f"{kind} {{{inner}}}"
    return f"{kind} {_short(args)}"


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
