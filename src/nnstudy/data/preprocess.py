"""The preprocessing that makes a data set's samples fit a backbone's input.

A backbone trained on ImageNet (the zoo's alexnet) takes RGB images of its input size,
normalized with ImageNet's mean and std; a digits data set gives grey 28 x 28 images. The
steps, in this order:

1. channels: 1 -> 3 is `to_rgb` (R = G = B = L), 3 -> 1 is `grayscale`; others cannot be
   adapted;
2. size: `resize` to the backbone's (H, W) (bilinear, antialiased when shrinking), when it
   differs;
3. `normalize`: a preset (`imagenet`, `mnist`), explicit numbers, or none.

Channels come first because grey to RGB and resize commute (each acts on one pixel, or on
one channel, at a time) and resizing one channel is a third of the work of three.
"""

from __future__ import annotations

from collections.abc import Sequence

from nnstudy.config.data import (
    NORMALIZE_PRESETS,
    Grayscale,
    Normalize,
    Resize,
    StepSpec,
    ToRGB,
)
from nnstudy.data.transforms import Pipeline, pipeline
from nnstudy.errors import ConfigError


def backbone_steps(
    sample_shape: Sequence[int],
    input_shape: Sequence[int],
    normalize: str | Normalize | None = "imagenet",
    where: str = "model.features.preprocess",
) -> list[StepSpec]:
    """The steps that turn samples of `sample_shape` [C, H, W] into the backbone's
    `input_shape` [C', H', W']: channels, resize, then `normalize` (a preset name of
    NORMALIZE_PRESETS, a resolved Normalize, or None for none). A ConfigError names `where`
    when the shapes cannot be matched (vectors, or channel counts other than 1 and 3)."""
    sample, target = tuple(sample_shape), tuple(input_shape)
    if len(sample) != 3 or len(target) != 3:
        raise ConfigError(
            f"{where}: a backbone taking {list(target)} needs images [C, H, W]; the data gives "
            f"{list(sample)} (remove flatten from data.transforms)"
        )
    steps: list[StepSpec] = []
    (c, h, w), (tc, th, tw) = sample, target
    if (c, tc) == (1, 3):
        steps.append(ToRGB())
    elif (c, tc) == (3, 1):
        steps.append(Grayscale())
    elif c != tc:
        raise ConfigError(
            f"{where}: the backbone takes {tc} channels, the images have {c}; only 1 and 3 "
            "channels convert into each other"
        )
    if (h, w) != (th, tw):
        steps.append(Resize(size=(th, tw)))
    if isinstance(normalize, str):
        if normalize not in NORMALIZE_PRESETS:
            raise ConfigError(
                f"{where}.normalize: unknown preset {normalize!r}; one of "
                f"{', '.join(NORMALIZE_PRESETS)}, or mean and std"
            )
        normalize = Normalize(preset=normalize)
    if normalize is not None:
        steps.append(normalize)
    return steps


def backbone_pipeline(
    sample_shape: Sequence[int],
    input_shape: Sequence[int],
    normalize: str | Normalize | None = "imagenet",
    where: str = "model.features.preprocess",
) -> Pipeline:
    """`backbone_steps` as a Pipeline (checked: a preset's 3 means need 3 channels)."""
    steps = backbone_steps(sample_shape, input_shape, normalize, where)
    return pipeline(steps, sample_shape, where)
