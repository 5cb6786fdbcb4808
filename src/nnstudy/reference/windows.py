"""Sliding windows over images (im2col) and their adjoint (col2im), shared by conv and pool.

cols[n, c, i, j, p, q] = x_pad[n, c, p*sh + i*dh, q*sw + j*dw]: for every kernel offset
(i, j) the strided slice of the padded input that it meets at each output position (p, q).
col2im adds each such slice back where it came from, so it is the transpose of im2col:
the gradient of a sum over windows.
"""

from __future__ import annotations

import numpy as np

Pair = tuple[int, int]
Pads = tuple[Pair, Pair]


def window_out(size: int, kernel: int, stride: int, pad: int, dilation: int = 1,
               ceil_mode: bool = False) -> tuple[int, int]:
    """Output length and the right padding it needs, as torch computes it.

    out = floor((size + 2 pad - dilation (kernel - 1) - 1 [+ stride - 1 if ceil]) / stride) + 1;
    with ceil_mode the last window must start inside the input or the left padding.
    """
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * pad - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    right = max((out - 1) * stride + span - size - pad, 0)
    return out, right


def pad_image(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """x (N, C, H, W) padded by ((top, bottom), (left, right)) with `value`."""
    return np.pad(x, ((0, 0), (0, 0), *pads), constant_values=value)


def _rows(offset: int, stride: int, out: int) -> slice:
    """The positions offset, offset + stride, ... that one kernel entry meets, out of them."""
    return slice(offset, offset + stride * (out - 1) + 1, stride)


def im2col(xp: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair, out: Pair) -> np.ndarray:
    """cols (N, C, kh, kw, OH, OW) of an already padded xp (N, C, H, W)."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out
    cols = np.empty((*xp.shape[:2], kh, kw, oh, ow), dtype=xp.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, _rows(i * dh, sh, oh), _rows(j * dw, sw, ow)]
    return cols


def col2im(cols: np.ndarray, padded_shape: tuple[int, ...], stride: Pair,
           dilation: Pair) -> np.ndarray:
    """The adjoint of im2col: each window entry is added back to the pixel it was read from."""
    _, _, kh, kw, oh, ow = cols.shape
    (sh, sw), (dh, dw) = stride, dilation
    dxp = np.zeros(padded_shape, dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, _rows(i * dh, sh, oh), _rows(j * dw, sw, ow)] += cols[:, :, i, j]
    return dxp


def unpad_image(xp: np.ndarray, pads: Pads) -> np.ndarray:
    """The inverse of pad_image: cut the padding off."""
    (top, bottom), (left, right) = pads
    return xp[:, :, top : xp.shape[2] - bottom, left : xp.shape[3] - right]
