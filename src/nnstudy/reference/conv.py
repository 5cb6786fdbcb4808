"""2-D convolution (cross-correlation, as torch computes it) by im2col."""

from __future__ import annotations

import numpy as np

from nnstudy.reference.layer import Layer
from nnstudy.reference.windows import Pads, col2im, im2col, pad_image, unpad_image, window_out


class Conv2d(Layer):
    """y[n, f, p, q] = b[f] + sum_{c, i, j} W[f, c, i, j] x_pad[n, c, p*s + i*d, q*s + j*d].

    With cols = im2col(x) (one column of C/G*kh*kw values per output position) and the
    channels split into G groups, each group is one matrix product: y_g = W_g cols_g.
    Backward: dW_g = dy_g cols_g^T, db = sum over n, p, q of dy, dcols_g = W_g^T dy_g,
    dx = col2im(dcols).
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None = None,
                 stride: tuple[int, int] = (1, 1), pads: Pads = ((0, 0), (0, 0)),
                 dilation: tuple[int, int] = (1, 1), groups: int = 1) -> None:
        super().__init__()
        self.params["weight"] = weight
        if bias is not None:
            self.params["bias"] = bias
        self.stride, self.pads, self.dilation, self.groups = stride, pads, dilation, groups

    def extra_repr(self) -> str:
        return (f"stride={self.stride}, pads={self.pads}, dilation={self.dilation}, "
                f"groups={self.groups}")

    def forward(self, x: np.ndarray) -> np.ndarray:
        w = self.params["weight"]
        f, _, kh, kw = w.shape
        g = self.groups
        xp = pad_image(x, self.pads)
        out = tuple(
            window_out(xp.shape[2 + a], (kh, kw)[a], self.stride[a], 0, self.dilation[a])[0]
            for a in (0, 1)
        )
        cols = im2col(xp, (kh, kw), self.stride, self.dilation, out)
        n = x.shape[0]
        cols_g = cols.reshape(n, g, -1, out[0] * out[1])
        w_g = w.reshape(g, f // g, -1)
        y = np.einsum("gfk,ngkp->ngfp", w_g, cols_g).reshape(n, f, *out)
        self.cache = (xp.shape, cols_g)
        return y + self.params["bias"][:, None, None] if "bias" in self.params else y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        padded_shape, cols_g = self.cache
        w = self.params["weight"]
        n, f = dy.shape[:2]
        g = self.groups
        dy_g = dy.reshape(n, g, f // g, -1)
        self.grads["weight"] = np.einsum("ngfp,ngkp->gfk", dy_g, cols_g).reshape(w.shape)
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=(0, 2, 3))
        dcols = np.einsum("gfk,ngfp->ngkp", w.reshape(g, f // g, -1), dy_g)
        c = padded_shape[1]
        dcols = dcols.reshape(n, c, w.shape[2], w.shape[3], *dy.shape[2:])
        return unpad_image(col2im(dcols, padded_shape, self.stride, self.dilation), self.pads)
