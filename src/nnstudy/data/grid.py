"""A PNG grid of random samples, one row per class (like Figure 1 of report 001).

The images are shown as the network sees them before flatten: after the deterministic
transforms, mapped linearly from the range of the shown pixels to black..white per channel
(so normalized images look like the originals). The grid is one mosaic drawn with a single
`imshow`, which keeps it fast for many classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnstudy.data.atomic import atomic_path
from nnstudy.data.bundle import DataBundle, Split
from nnstudy.errors import ConfigError

MAX_ROWS = 20
MAX_PER_CLASS = 100
GAP = 2  # pixels of background between images, in units of source pixels


def check_grid_target(path: str | Path, per_class: int = 8) -> Path:
    """`path` as a Path, when a grid of `per_class` images per class can be written there.

    Checked before any work: the format (from the suffix; none means PNG), that `path` is not
    a folder nor inside a file, and 1 <= per_class <= MAX_PER_CLASS. Anything else is a
    ConfigError naming the option.
    """
    path = Path(path)
    if not 1 <= per_class <= MAX_PER_CLASS:
        raise ConfigError(
            f"--per-class: {per_class} images per class; a grid shows 1 to {MAX_PER_CLASS}"
        )
    formats = _formats()
    suffix = path.suffix.lower().lstrip(".") or "png"
    if suffix not in formats:
        raise ConfigError(
            f"--out {path}: unknown image format {'.' + suffix!r}; one of "
            + ", ".join(sorted(formats))
        )
    if path.is_dir():
        raise ConfigError(f"--out {path}: is a directory; give a file, e.g. {path / 'grid.png'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"--out {path}: cannot write ({parent} is a file)")
            break
    return path


def grid_refusal(bundle: DataBundle) -> str | None:
    """Why the samples of `bundle` cannot be drawn as a grid, or None when they can."""
    images = bundle.train.prepared
    if images.dim() != 4:
        return f"the samples are vectors of {images.shape[-1]} values, not images"
    return None


def save_sample_grid(
    bundle: DataBundle,
    path: str | Path,
    *,
    per_class: int = 8,
    split: str | Split = "train",
    seed: int = 0,
) -> Path:
    """Draw `per_class` random samples of each class (at most 20 classes) into `path`.

    The file is written to a temporary name and renamed when complete; a path that cannot
    be written is a ConfigError naming it, and leaves nothing behind.
    """
    path = check_grid_target(path, per_class)
    from matplotlib.figure import Figure

    suffix = path.suffix.lower() or ".png"
    part = bundle.split(split)
    images = part.prepared
    if images.dim() != 4:
        raise ConfigError(
            f"--out {path}: the samples are vectors of {images.shape[-1]} values, not images"
        )
    fig = Figure()
    rows = min(bundle.num_classes, MAX_ROWS)
    mosaic = sample_mosaic(part, rows, per_class, seed)
    height, width = mosaic.shape[:2]
    scale = max(1.0, 48.0 / max(1, images.shape[-2]))  # small images get bigger pixels
    fig.set_size_inches(width * scale / 72 + 1.4, height * scale / 72 + 0.6)
    ax = fig.add_axes((1.2 / fig.get_figwidth(), 0.05, 1 - 1.3 / fig.get_figwidth(), 0.85))
    gray = mosaic.shape[2] == 1
    ax.imshow(
        mosaic[..., 0] if gray else mosaic,
        cmap="gray" if gray else None,
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
    )
    cell = images.shape[-2] + GAP
    ax.set_yticks([GAP + r * cell + images.shape[-2] / 2 for r in range(rows)])
    ax.set_yticklabels(bundle.classes[:rows], fontsize=9)
    ax.set_xticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    title = f"{bundle.spec.name}: {per_class} random {part.name} images per class"
    if bundle.num_classes > MAX_ROWS:
        title += f" (first {MAX_ROWS} of {bundle.num_classes} classes)"
    fig.suptitle(title, fontsize=10)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=72 * 1.5, format=suffix.lstrip("."))
    except OSError as exc:
        raise ConfigError(f"--out {path}: cannot write ({exc.strerror or exc})") from None
    return path


def _formats() -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure().canvas.get_supported_filetypes()


def sample_mosaic(part: Split, rows: int, per_class: int, seed: int) -> np.ndarray:
    """[rows * (H + gap) + gap, per_class * (W + gap) + gap, C] floats in [0, 1]: row c holds
    `per_class` random samples of class c (drawn with `seed`), white between images."""
    images = part.prepared
    _, c, h, w = images.shape
    rng = np.random.default_rng(seed)
    labels = part.y.cpu().numpy()
    picks = [rng.permutation(np.flatnonzero(labels == k))[:per_class] for k in range(rows)]
    shown = np.concatenate(picks).astype(np.int64) if picks else np.zeros(0, np.int64)
    pixels = _display_range(images[torch.as_tensor(shown)])
    mosaic = np.ones((rows * (h + GAP) + GAP, per_class * (w + GAP) + GAP, c), np.float32)
    start = 0
    for r, chosen in enumerate(picks):
        for k in range(len(chosen)):
            top, left = GAP + r * (h + GAP), GAP + k * (w + GAP)
            mosaic[top : top + h, left : left + w] = pixels[start + k].transpose(1, 2, 0)
        start += len(chosen)
    return mosaic[..., :3] if c > 3 else mosaic


def _display_range(x: torch.Tensor) -> np.ndarray:
    """Floats in [0, 1] per channel: (x - min_c) / (max_c - min_c) over the shown images."""
    x = x.detach().cpu().to(torch.float32)
    if x.numel() == 0:
        return x.numpy()
    low = x.amin(dim=(0, 2, 3), keepdim=True)
    high = x.amax(dim=(0, 2, 3), keepdim=True)
    return ((x - low) / (high - low).clamp_min(1e-12)).clamp(0, 1).numpy()
