"""Max, average and adaptive average pooling over (N, C, H, W)."""

from __future__ import annotations

import numpy as np

from nnstudy.reference.layer import Layer
from nnstudy.reference.windows import col2im, im2col, pad_image, unpad_image, window_out

Pair = tuple[int, int]


def _geometry(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
              ceil_mode: bool):
    """Output size and ((top, bottom), (left, right)) padding of a pooling window."""
    sizes = [window_out(x.shape[2 + a], kernel[a], stride[a], padding[a], dilation[a], ceil_mode)
             for a in (0, 1)]
    out = (sizes[0][0], sizes[1][0])
    pads = ((padding[0], sizes[0][1]), (padding[1], sizes[1][1]))
    return out, pads


class MaxPool2d(Layer):
    """y[n, c, p, q] = max over the window at (p, q) of x (padding counts as -inf).

    Backward: the whole dy of a window goes to the entry that was the maximum (the first
    one in row-major order on ties, as torch does), dx = col2im(that scatter).
    """

    def __init__(self, kernel: Pair, stride: Pair, padding: Pair = (0, 0),
                 dilation: Pair = (1, 1), ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, pads = _geometry(x, self.kernel, self.stride, self.padding, self.dilation,
                              self.ceil_mode)
        xp = pad_image(x, pads, -np.inf)
        cols = im2col(xp, self.kernel, self.stride, self.dilation, out)
        flat = cols.reshape(*x.shape[:2], -1, *out)
        arg = flat.argmax(axis=2)[:, :, None]
        self.cache = (xp.shape, pads, flat.shape, arg)
        return np.take_along_axis(flat, arg, axis=2)[:, :, 0]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        padded_shape, pads, flat_shape, arg = self.cache
        dflat = np.zeros(flat_shape, dtype=dy.dtype)
        np.put_along_axis(dflat, arg, dy[:, :, None], axis=2)
        dcols = dflat.reshape(*flat_shape[:2], *self.kernel, *flat_shape[3:])
        return unpad_image(col2im(dcols, padded_shape, self.stride, self.dilation), pads)


class AvgPool2d(Layer):
    """y[n, c, p, q] = (sum over the window at (p, q) of x) / divisor[p, q].

    The divisor is the window's size clipped to input + padding (count_include_pad) or to
    the input alone, or `divisor_override`. Backward: every entry of a window receives
    dy[p, q] / divisor[p, q], dx = col2im.
    """

    def __init__(self, kernel: Pair, stride: Pair, padding: Pair = (0, 0),
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}"

    def _divisor(self, size: int, out: int, a: int) -> tuple[np.ndarray, np.ndarray]:
        start = np.arange(out) * self.stride[a] - self.padding[a]
        end = np.minimum(start + self.kernel[a], size + self.padding[a])
        with_pad = end - start
        return with_pad, np.minimum(end, size) - np.maximum(start, 0)

    def forward(self, x: np.ndarray) -> np.ndarray:
        out, pads = _geometry(x, self.kernel, self.stride, self.padding, (1, 1), self.ceil_mode)
        xp = pad_image(x, pads)
        cols = im2col(xp, self.kernel, self.stride, (1, 1), out)
        (hp, hx), (wp, wx) = (self._divisor(x.shape[2 + a], out[a], a) for a in (0, 1))
        if self.divisor_override is not None:
            div = np.full(out, float(self.divisor_override))
        elif self.count_include_pad:
            div = np.outer(hp, wp).astype(x.dtype)
        else:
            div = np.outer(hx, wx).astype(x.dtype)
        self.cache = (xp.shape, pads, div)
        return cols.sum(axis=(2, 3)) / div

    def backward(self, dy: np.ndarray) -> np.ndarray:
        padded_shape, pads, div = self.cache
        per_entry = (dy / div)[:, :, None, None]
        dcols = np.broadcast_to(per_entry, (*dy.shape[:2], *self.kernel, *dy.shape[2:]))
        return unpad_image(col2im(dcols, padded_shape, self.stride, (1, 1)), pads)


def adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """Bin i covers [floor(i*size/out), ceil((i+1)*size/out)), as torch's adaptive pooling."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


class AdaptiveAvgPool2d(Layer):
    """y[n, c, i, j] = mean of x over bin i of the rows and bin j of the columns.

    The bins overlap when the output is larger than the input (a 1x1 map to 6x6 copies it).
    Backward: every entry of bin (i, j) receives dy[i, j] / (its area).
    """

    def __init__(self, output_size: tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        oh, ow = (o if o is not None else x.shape[2 + a] for a, o in enumerate(self.output_size))
        rows, cols = adaptive_bins(x.shape[2], oh), adaptive_bins(x.shape[3], ow)
        y = np.empty((*x.shape[:2], oh, ow), dtype=x.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                y[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
        self.cache = (x.shape, rows, cols)
        return y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        shape, rows, cols = self.cache
        dx = np.zeros(shape, dtype=dy.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                area = (r1 - r0) * (c1 - c0)
                dx[:, :, r0:r1, c0:c1] += dy[:, :, i, j, None, None] / area
        return dx
