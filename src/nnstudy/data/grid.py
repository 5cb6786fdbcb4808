"""A PNG grid of random samples, one row per class (like Figure 1 of report 001).

The images are shown as the network sees them before flatten: after the deterministic
transforms, mapped linearly from the range of the shown pixels to black..white per channel
(so normalized images look like the originals).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from nnstudy.data.bundle import DataBundle, Split
from nnstudy.errors import ConfigError

MAX_ROWS = 20


def save_sample_grid(
    bundle: DataBundle,
    path: str | Path,
    *,
    per_class: int = 8,
    split: str | Split = "train",
    seed: int = 0,
) -> Path:
    """Draw `per_class` random samples of each class (at most 20 classes) into `path`.

    The file is written to a temporary name and renamed when complete.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    suffix = path.suffix.lower() or ".png"
    formats = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if suffix.lstrip(".") not in formats:
        raise ConfigError(
            f"--out {path}: unknown image format {suffix!r}; one of " + ", ".join(sorted(formats))
        )
    part = bundle.split(split)
    images = part.prepared
    if images.dim() != 4:
        raise ConfigError(
            f"--out {path}: the samples are vectors of {images.shape[-1]} values, not images"
        )
    rng = np.random.default_rng(seed)
    labels = part.y.cpu().numpy()
    rows = list(range(min(bundle.num_classes, MAX_ROWS)))
    picks = []
    for c in rows:
        members = np.flatnonzero(labels == c)
        picks.append(rng.permutation(members)[:per_class])
    shown = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    pixels = _display_range(images[torch.as_tensor(shown, dtype=torch.int64)])
    fig, axes = plt.subplots(
        len(rows),
        per_class,
        figsize=(0.9 * per_class + 1.2, 0.9 * len(rows) + 0.4),
        squeeze=False,
    )
    start = 0
    for r, c in enumerate(rows):
        count = len(picks[r])
        for k in range(per_class):
            ax = axes[r][k]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if k < count:
                img = pixels[start + k]
                if img.shape[0] == 1:
                    ax.imshow(img[0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
                else:
                    ax.imshow(img[:3].transpose(1, 2, 0), interpolation="nearest")
        axes[r][0].set_ylabel(bundle.classes[c], rotation=0, ha="right", va="center", fontsize=9)
        start += count
    title = f"{bundle.spec.name}: {per_class} random {part.name} images per class"
    if bundle.num_classes > MAX_ROWS:
        title += f" (first {MAX_ROWS} of {bundle.num_classes} classes)"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100, format=suffix.lstrip("."))
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _display_range(x: torch.Tensor) -> np.ndarray:
    """Floats in [0, 1] per channel: (x - min_c) / (max_c - min_c) over the shown images."""
    x = x.detach().cpu().to(torch.float32)
    if x.numel() == 0:
        return x.numpy()
    low = x.amin(dim=(0, 2, 3), keepdim=True)
    high = x.amax(dim=(0, 2, 3), keepdim=True)
    return ((x - low) / (high - low).clamp_min(1e-12)).clamp(0, 1).numpy()
