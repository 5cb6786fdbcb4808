"""Deterministic transforms on float image batches [N, C, H, W], applied once at load.

Each function reproduces its torchvision counterpart on float tensors:

- grayscale: L = 0.2989 R + 0.587 G + 0.114 B (`rgb_to_grayscale`);
- to_rgb: R = G = B = L (one grey channel repeated three times);
- resize: bilinear, `align_corners=False`, antialiased (`Resize` on tensors);
- gaussian blur: the 1-D kernel g_i = exp(-x_i^2 / (2 sigma^2)) / sum_j exp(-x_j^2 / (2 sigma^2))
  at x = -(k-1)/2 .. (k-1)/2, applied along H and along W (the 2-D kernel is the outer
  product g g^T), with reflect padding of k // 2 (`GaussianBlur`);
- normalize: (x - mean_c) / std_c;
- pad: zeros on every side.

`prepare` runs a list of them over the splits of a data set, measuring `normalize: auto`
on the training split at its place in the list; `Pipeline` is a resolved list as one
function on batches (the preprocessing a backbone applies to each batch it is fed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from nnstudy.config.data import (
    Flatten,
    GaussianBlur,
    Grayscale,
    Normalize,
    Pad,
    Resize,
    StepSpec,
    ToRGB,
)
from nnstudy.errors import ConfigError, DataError

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)
#: Images per chunk when a transform runs over a whole split (bounds the extra memory).
CHUNK = 4096


def to_float(x: Tensor) -> Tensor:
    """uint8 in 0..255 -> float32 in [0, 1] (x / 255, as torchvision's ToTensor); floats as is."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255)
    return x.to(torch.float32)


def rgb_to_grayscale(x: Tensor) -> Tensor:
    """[..., 3, H, W] -> [..., 1, H, W] with L = 0.2989 R + 0.587 G + 0.114 B; 1 channel as is."""
    if x.shape[-3] == 1:
        return x
    r, g, b = x.unbind(dim=-3)
    return (GRAY_WEIGHTS[0] * r + GRAY_WEIGHTS[1] * g + GRAY_WEIGHTS[2] * b).unsqueeze(-3)


def gray_to_rgb(x: Tensor) -> Tensor:
    """[..., 1, H, W] -> [..., 3, H, W] with R = G = B = L; 3 channels as they are."""
    if x.shape[-3] == 3:
        return x
    return torch.cat([x, x, x], dim=-3)


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of [N, C, H, W] to [N, C, *size], antialiased when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def gaussian_kernel1d(kernel: int, sigma: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """g_i = exp(-x_i^2 / (2 sigma^2)) / sum_j exp(-x_j^2 / (2 sigma^2)), x_i = i - (k-1)/2."""
    half = (kernel - 1) * 0.5
    x = torch.linspace(-half, half, steps=kernel, dtype=dtype)
    pdf = torch.exp(-0.5 * (x / sigma).pow(2))
    return pdf / pdf.sum()


def gaussian_blur(x: Tensor, kernel: int, sigma: float) -> Tensor:
    """Blur [N, C, H, W] with a k x k Gaussian: reflect padding, then the 1-D kernel on W and H."""
    n, c, h, w = x.shape
    g = gaussian_kernel1d(kernel, sigma, dtype=x.dtype).to(x.device)
    half = kernel // 2
    planes = F.pad(x.reshape(n * c, 1, h, w), (half, half, half, half), mode="reflect")
    planes = F.conv2d(planes, g.view(1, 1, 1, kernel))
    planes = F.conv2d(planes, g.view(1, 1, kernel, 1))
    return planes.reshape(n, c, h, w)


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """(x - mean_c) / std_c per channel (dimension 1); one value applies to every channel."""
    shape = (1, -1) + (1,) * (x.dim() - 2)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(shape)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(shape)
    return (x - m) / s


def pad(x: Tensor, padding: int) -> Tensor:
    """Zeros around [N, C, H, W]: [N, C, H + 2p, W + 2p]."""
    return F.pad(x, (padding, padding, padding, padding))


def step_shape(step: StepSpec, shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    """The shape of one sample after `step`; a step that cannot apply is a ConfigError."""
    if isinstance(step, Flatten):
        return (_prod(shape),)
    if isinstance(step, Normalize):
        channels = shape[0] if len(shape) == 3 else 1
        given = len(step.mean or ())
        if not step.auto and given not in {1, channels}:
            accepted = "1" if channels == 1 else f"1 or {channels}"
            hint = "; put to_rgb before it" if (given, channels) == (3, 1) else ""
            raise ConfigError(
                f"{where}.normalize: {given} means for {channels} channels; give {accepted}{hint}"
            )
        return shape
    if len(shape) != 3:
        raise ConfigError(
            f"{where}: {step.kind} needs images [C, H, W]; these samples are vectors of "
            f"{_prod(shape)} values (only normalize and flatten apply)"
        )
    c, h, w = shape
    if isinstance(step, Grayscale):
        if c not in {1, 3}:
            raise ConfigError(f"{where}: grayscale needs 1 or 3 channels, the images have {c}")
        return (1, h, w)
    if isinstance(step, ToRGB):
        if c not in {1, 3}:
            raise ConfigError(f"{where}: to_rgb needs 1 (grey) or 3 channels, the images have {c}")
        return (3, h, w)
    if isinstance(step, Resize):
        return (c, *step.size)
    if isinstance(step, GaussianBlur):
        if step.kernel // 2 >= min(h, w):
            raise ConfigError(
                f"{where}.gaussian_blur.kernel: {step.kernel} is too large for {h}x{w} images "
                f"(reflect padding needs kernel // 2 < {min(h, w)})"
            )
        return shape
    if isinstance(step, Pad):
        return (c, h + 2 * step.padding, w + 2 * step.padding)
    raise ConfigError(f"{where}: {step.kind} is not a transform")


def step_function(step: StepSpec) -> Callable[[Tensor], Tensor]:
    """The batch function of a resolved step (normalize with numbers, not auto)."""
    if isinstance(step, Grayscale):
        return rgb_to_grayscale
    if isinstance(step, ToRGB):
        return gray_to_rgb
    if isinstance(step, Resize):
        return lambda x: resize(x, step.size)
    if isinstance(step, GaussianBlur):
        return lambda x: gaussian_blur(x, step.kernel, float(step.sigma or 0.0))
    if isinstance(step, Normalize):
        return lambda x: normalize(x, step.mean or (), step.std or ())
    if isinstance(step, Pad):
        return lambda x: pad(x, step.padding)
    raise ValueError(f"{step.kind} has no batch function")


@dataclass(frozen=True)
class Pipeline:
    """Resolved transforms as one function on batches: [N, *in_shape] (uint8 or float) ->
    float32 [N, *out_shape], each sample transformed alone (as `prepare` does at load).

    Made by `pipeline(steps, in_shape)`, which checks every step against the shape that
    reaches it. For transforms too large to keep for a whole split (a backbone's 224 x 224
    RGB inputs), apply it batch by batch: `pipe(bundle.batch(split, idx))`.
    """

    steps: tuple[StepSpec, ...]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    _functions: tuple[Callable[[Tensor], Tensor], ...] = field(repr=False, compare=False)

    def __call__(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"expected samples {self.in_shape}, got {tuple(x.shape[1:])}")
        x = to_float(x)
        for fn in self._functions:
            x = fn(x)
        return x.reshape(len(x), *self.out_shape)

    def to_config(self) -> list:
        """The steps in their YAML form (what `parse_data_spec` reads as transforms)."""
        return [step.to_config() for step in self.steps]


def pipeline(
    steps: Sequence[StepSpec], in_shape: Sequence[int], where: str = "preprocess"
) -> Pipeline:
    """The Pipeline of `steps` for samples of `in_shape`; ConfigErrors name `where[i]` for a
    step that cannot apply, and for `normalize: auto` (a pipeline has no training split to
    measure on: give mean and std, or a preset)."""
    shape = tuple(in_shape)
    functions = []
    for i, step in enumerate(steps):
        here = f"{where}[{i}]"
        if isinstance(step, Normalize) and step.auto:
            raise ConfigError(
                f"{here}.normalize: auto is measured at load, not here; give mean and std or "
                "a preset (imagenet, mnist)"
            )
        if isinstance(step, Flatten) and i != len(steps) - 1:
            raise ConfigError(f"{where}: flatten must be the last step, found at [{i}]")
        shape = step_shape(step, shape, here)
        if not isinstance(step, Flatten):
            functions.append(step_function(step))
    return Pipeline(tuple(steps), tuple(in_shape), shape, tuple(functions))


def channel_stats(x: Tensor) -> tuple[list[float], list[float]]:
    """Mean and (population) std per channel of [N, C, H, W], or over all values of [N, D].

    Accumulated in float64 over chunks of CHUNK samples, in two passes (the mean, then the
    mean squared deviation from it), so that no float64 copy of the data is made.
    """
    if x.dtype == torch.uint8:
        return _uint8_stats(x)
    dims = (0, 2, 3) if x.dim() == 4 else tuple(range(x.dim()))
    count = x.numel() // (x.shape[1] if x.dim() == 4 else 1)
    total = sum(to_float(x[i : i + CHUNK]).double().sum(dim=dims) for i in range(0, len(x), CHUNK))
    mean = torch.as_tensor(total, dtype=torch.float64) / count
    shape = (1, -1, 1, 1) if x.dim() == 4 else ()
    squares = sum(
        (to_float(x[i : i + CHUNK]).double() - mean.view(shape)).pow(2).sum(dim=dims)
        for i in range(0, len(x), CHUNK)
    )
    std = (torch.as_tensor(squares, dtype=torch.float64) / count).sqrt()
    return mean.reshape(-1).tolist(), std.reshape(-1).tolist()


def _uint8_stats(x: Tensor) -> tuple[list[float], list[float]]:
    """Exact channel statistics of uint8 data (as x / 255) from a 256-bin histogram per channel."""
    planes = x.transpose(0, 1).reshape(x.shape[1], -1) if x.dim() == 4 else x.reshape(1, -1)
    values = torch.arange(256, dtype=torch.float64) / 255
    means, stds = [], []
    for plane in planes:
        counts = torch.bincount(plane, minlength=256).to(torch.float64)
        total = counts.sum()
        mean = (counts * values).sum() / total
        means.append(float(mean))
        stds.append(float(((counts * (values - mean) ** 2).sum() / total).sqrt()))
    return means, stds


def prepare(
    parts: dict[str, Tensor],
    steps: Sequence[StepSpec],
    where: str = "data.transforms",
    stats_from: str = "train",
) -> tuple[dict[str, Tensor], list[StepSpec], tuple[int, ...]]:
    """Run `steps` (except a final flatten) over every part, once.

    Returns the transformed parts (float32; the parts unchanged when there is nothing to run),
    the steps with `normalize: auto` replaced by the mean and std measured on
    `parts[stats_from]` at that point of the list, and the shape of one sample before flatten.
    Steps run chunk by chunk; a step that keeps the shape overwrites the float buffer of the
    step before it, so the peak memory is about one float copy of the data.
    """
    shape = tuple(next(iter(parts.values())).shape[1:])
    body = [s for s in steps if not isinstance(s, Flatten)]
    resolved: list[StepSpec] = []
    if not body:
        return dict(parts), list(steps), shape
    current = dict(parts)
    owned = set()  # parts whose tensor is a buffer made here (the inputs are never written)
    for i, step in enumerate(body):
        here = f"{where}[{i}]"
        new_shape = step_shape(step, shape, here)
        if isinstance(step, Normalize) and step.auto:
            step = _measure(step, current[stats_from], here)
        fn = step_function(step)
        for name, x in current.items():
            reuse = name in owned and new_shape == shape
            current[name] = _map_chunks(fn, x, new_shape, into=x if reuse else None)
            owned.add(name)
        resolved.append(step)
        shape = new_shape
    resolved += [s for s in steps if isinstance(s, Flatten)]
    return current, resolved, shape


def _measure(step: Normalize, train: Tensor, where: str) -> Normalize:
    if len(train) == 0:
        raise DataError(f"{where}: normalize auto needs training images; the train split is empty")
    mean, std = channel_stats(train)
    for c, s in enumerate(std):
        if s == 0.0:
            raise DataError(
                f"{where}: normalize auto: channel {c} of the training split is constant "
                f"(std 0); give mean and std"
            )
    return Normalize(mean=tuple(mean), std=tuple(std))


def _map_chunks(
    fn: Callable[[Tensor], Tensor], x: Tensor, shape: tuple[int, ...], into: Tensor | None = None
) -> Tensor:
    """fn(to_float(x)) in chunks of CHUNK samples, written into `into` or a new float32 buffer.

    Chunking is exact because every transform acts on each sample alone.
    """
    out = (
        into
        if into is not None
        else torch.empty((len(x), *shape), dtype=torch.float32, device=x.device)
    )
    for start in range(0, len(x), CHUNK):
        out[start : start + CHUNK] = fn(to_float(x[start : start + CHUNK]))
    return out


def _prod(shape: Sequence[int]) -> int:
    out = 1
    for n in shape:
        out *= n
    return out
