"""Train-time augmentation of float image batches [B, C, H, W], random per image.

- random_crop: pad by `padding` with the value a black pixel has after the transforms
  (torchvision pads before ToTensor and Normalize, so its padding is black too), then take
  a `size` window at a uniformly random offset; evaluation batches take the centre window.
- hflip: mirror left-right with probability `p`.

Random numbers come from the `generator` the trainer passes, so a seeded generator gives
the same batches on every run.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from nnstudy.config.data import HFlip, RandomCrop, StepSpec
from nnstudy.errors import ConfigError


class Augmenter:
    """The augmentation steps of a data set, checked against its image shape."""

    def __init__(
        self,
        steps: Sequence[StepSpec],
        image_shape: tuple[int, ...],
        fill: Sequence[float],
        where: str = "data.augment",
    ) -> None:
        self.steps = list(steps)
        self.fill = torch.tensor(list(fill), dtype=torch.float32)
        shape = tuple(image_shape)
        for i, step in enumerate(self.steps):
            here = f"{where}[{i}]"
            if len(shape) != 3:
                raise ConfigError(
                    f"{here}: {step.kind} needs images [C, H, W]; these samples are vectors"
                )
            if isinstance(step, RandomCrop):
                _, h, w = shape
                sh, sw = step.size
                if sh > h + 2 * step.padding or sw > w + 2 * step.padding:
                    raise ConfigError(
                        f"{here}.random_crop.size: {sh}x{sw} does not fit in {h}x{w} images "
                        f"padded by {step.padding}"
                    )
                shape = (shape[0], sh, sw)
        self.output_shape = shape

    def __bool__(self) -> bool:
        return bool(self.steps)

    def train(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Apply every step with fresh random numbers per image."""
        for step in self.steps:
            if isinstance(step, RandomCrop):
                x = self._crop(x, step, generator)
            elif isinstance(step, HFlip):
                x = hflip(x, step.p, generator)
        return x

    def eval(self, x: Tensor) -> Tensor:
        """The deterministic counterpart: centre crops, no flips."""
        for step in self.steps:
            if isinstance(step, RandomCrop):
                x = self._crop(x, step, None, centre=True)
        return x

    def _crop(
        self, x: Tensor, step: RandomCrop, generator: torch.Generator | None, centre: bool = False
    ) -> Tensor:
        p = step.padding
        sh, sw = step.size
        if x.shape[-2:] == (sh, sw) and (centre or p == 0):
            return x
        fill = self.fill.to(x.device)
        return random_crop(x, (sh, sw), p, fill, generator, centre=centre)


def random_crop(
    x: Tensor,
    size: tuple[int, int],
    padding: int,
    fill: Tensor,
    generator: torch.Generator | None = None,
    centre: bool = False,
) -> Tensor:
    """Pad [B, C, H, W] by `padding` with `fill` (one value per channel), then cut `size`.

    Offsets are uniform in 0..H + 2p - size (drawn on the generator's device), one per image;
    `centre=True` takes the centre offset instead.
    """
    b, c, h, w = x.shape
    sh, sw = size
    if padding:
        padded = x.new_empty((b, c, h + 2 * padding, w + 2 * padding))
        padded.copy_(fill.view(1, -1, 1, 1).expand_as(padded))
        padded[:, :, padding : padding + h, padding : padding + w] = x
        x, h, w = padded, h + 2 * padding, w + 2 * padding
    if centre:
        top, left = (h - sh) // 2, (w - sw) // 2
        return x[:, :, top : top + sh, left : left + sw]
    device = generator.device if generator is not None else x.device
    top = torch.randint(0, h - sh + 1, (b,), generator=generator, device=device).to(x.device)
    left = torch.randint(0, w - sw + 1, (b,), generator=generator, device=device).to(x.device)
    # All windows as a view [B, C, rows, cols, sh, sw]; pick one per image.
    windows = x.unfold(2, sh, 1).unfold(3, sw, 1)
    return windows[torch.arange(b, device=x.device), :, top, left]


def hflip(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image of [B, C, H, W] left-right with probability p (a new tensor)."""
    device = generator.device if generator is not None else x.device
    flip = (torch.rand(x.shape[0], generator=generator, device=device) < p).to(x.device)
    chosen = flip.nonzero().squeeze(1)
    out = x.clone()
    return out.index_copy_(0, chosen, x.index_select(0, chosen).flip(-1))
