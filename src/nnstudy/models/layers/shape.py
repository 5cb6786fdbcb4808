"""Shape checks shared by the layer kinds: one line that names the layer and what fits."""

from __future__ import annotations

from nnstudy.errors import ShapeError

Shape = tuple[int, ...]


def pair(v: int | tuple[int, int]) -> tuple[int, int]:
    """3 -> (3, 3); (3, 5) -> (3, 5)."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def fmt(shape: Shape) -> str:
    """(6, 28, 28) -> "6x28x28"."""
    return "x".join(str(s) for s in shape)


def need_image(name: str, shape: Shape) -> None:
    """Raise ShapeError unless `shape` is C x H x W."""
    if len(shape) != 3:
        raise ShapeError(
            f"{name}: needs a C x H x W input, got {fmt(shape)}"
            + (" (a flat vector: remove `flatten` before it)" if len(shape) == 1 else "")
        )


def window_out(name: str, shape: Shape, kernel, stride, padding, what: str) -> tuple[int, int]:
    """out = floor((W - F + 2P) / S) + 1 per spatial dimension; at least 1."""
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    if min(kh, kw) <= 0 or min(sh, sw) <= 0 or min(ph, pw) < 0:
        raise ShapeError(
            f"{name}: {what} {kh}x{kw}, stride {sh}x{sw}, padding {ph}x{pw}: kernel and stride "
            "must be > 0 and padding >= 0"
        )
    h, w = shape[1], shape[2]
    oh = (h - kh + 2 * ph) // sh + 1
    ow = (w - kw + 2 * pw) // sw + 1
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"{name}: input {fmt(shape)} is smaller than {what} {kh}x{kw} "
            f"(out = (W - F + 2P)/S + 1 = {min(oh, ow)})"
        )
    if 2 * max(ph, pw) > max(kh, kw) and what != "kernel":
        raise ShapeError(f"{name}: padding {ph}x{pw} is more than half of the window {kh}x{kw}")
    return oh, ow
