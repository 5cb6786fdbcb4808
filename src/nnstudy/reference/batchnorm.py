"""Batch normalization over the channel axis (1) of (N, C) , (N, C, L) or (N, C, H, W)."""

from __future__ import annotations

import numpy as np

from nnstudy.reference.layer import Layer


class BatchNorm(Layer):
    """y = gamma * xhat + beta, xhat = (x - mu) / sqrt(var + eps), per channel.

    In training mu and var (biased) are the batch's, over every axis but the channel one,
    and the running statistics move: r <- (1 - m) r + m * batch (unbiased var; m = None is
    the cumulative average). In eval mu and var are the running statistics.
    Backward in training, with M values per channel:
        dgamma = sum dy xhat, dbeta = sum dy,
        dx = gamma / (M sqrt(var + eps)) * (M dy - sum dy - xhat sum(dy xhat)).
    In eval xhat is affine in x: dx = gamma dy / sqrt(var + eps).
    """

    def __init__(self, weight: np.ndarray | None, bias: np.ndarray | None,
                 running_mean: np.ndarray | None, running_var: np.ndarray | None,
                 eps: float = 1e-5, momentum: float | None = 0.1,
                 num_batches_tracked: int = 0) -> None:
        super().__init__()
        if weight is not None and bias is not None:
            self.params["weight"], self.params["bias"] = weight, bias
        if running_mean is not None and running_var is not None:
            self.buffers.update(running_mean=running_mean, running_var=running_var,
                                num_batches_tracked=num_batches_tracked)
        self.eps, self.momentum = eps, momentum

    def extra_repr(self) -> str:
        return f"eps={self.eps}, momentum={self.momentum}"

    def _shape(self, x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
        axes = (0, *range(2, x.ndim))
        return axes, (1, x.shape[1]) + (1,) * (x.ndim - 2)

    def forward(self, x: np.ndarray) -> np.ndarray:
        axes, bshape = self._shape(x)
        batch_stats = self.training or not self.buffers
        if batch_stats:
            mu, var = x.mean(axis=axes), x.var(axis=axes)
            if self.training and self.buffers:
                self._update_running(mu, var, x.size // x.shape[1])
        else:
            mu, var = self.buffers["running_mean"], self.buffers["running_var"]
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = (x - mu.reshape(bshape)) * inv_std.reshape(bshape)
        self.cache = (xhat, inv_std, batch_stats)
        if not self.params:
            return xhat
        return self.params["weight"].reshape(bshape) * xhat + self.params["bias"].reshape(bshape)

    def _update_running(self, mu: np.ndarray, var: np.ndarray, m: int) -> None:
        b = self.buffers
        b["num_batches_tracked"] += 1
        rate = 1.0 / b["num_batches_tracked"] if self.momentum is None else self.momentum
        b["running_mean"] = (1 - rate) * b["running_mean"] + rate * mu
        b["running_var"] = (1 - rate) * b["running_var"] + rate * var * m / max(m - 1, 1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        xhat, inv_std, batch_stats = self.cache
        axes, bshape = self._shape(dy)
        if self.params:
            self.grads["weight"] = (dy * xhat).sum(axis=axes)
            self.grads["bias"] = dy.sum(axis=axes)
            dxhat = dy * self.params["weight"].reshape(bshape)
        else:
            dxhat = dy
        scale = inv_std.reshape(bshape)
        if not batch_stats:
            return dxhat * scale
        m = dy.size // dy.shape[1]
        return scale / m * (
            m * dxhat
            - dxhat.sum(axis=axes, keepdims=True)
            - xhat * (dxhat * xhat).sum(axis=axes, keepdims=True)
        )
