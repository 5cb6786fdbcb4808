"""A network: named layers in order; forward runs them, backward runs them in reverse."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from nnstudy.reference.layer import Layer


class Network:
    """y = f_L(... f_1(x)); backward(dL/dy) applies each layer's backward in reverse order
    and leaves dL/dparam in every layer's `grads`.

    Parameters are named `<layer name>.<param>` as in the torch module the network was
    read from (`fc1.weight`, `features.0.bias`), so gradients compare by key.
    """

    def __init__(self, layers: Iterable[tuple[str, Layer]]) -> None:
        self.layers: list[tuple[str, Layer]] = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for _, layer in self.layers:
            x = layer.forward(x)
        return x

    __call__ = forward

    def backward(self, dy: np.ndarray) -> np.ndarray:
        for _, layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def train(self, mode: bool = True) -> Network:
        """Training mode (batch statistics, dropout on) or, with mode=False, eval mode."""
        for _, layer in self.layers:
            layer.training = mode
        return self

    def eval(self) -> Network:
        return self.train(False)

    def layer(self, name: str) -> Layer:
        """The layer called `name`."""
        return dict(self.layers)[name]

    def params(self) -> dict[str, np.ndarray]:
        """Every parameter by its dotted name (the arrays themselves: updates are in place)."""
        return {_join(n, k): v for n, layer in self.layers for k, v in layer.params.items()}

    def buffers(self) -> dict[str, np.ndarray | int]:
        """Non-trained state by torch's names (`bn1.running_mean`, `bn1.num_batches_tracked`),
        to copy back into the torch model after training here."""
        return {_join(n, k): v for n, layer in self.layers for k, v in layer.buffers.items()}

    def grads(self) -> dict[str, np.ndarray]:
        """dL/dparam of the last backward, by the same names as `params`."""
        return {_join(n, k): v for n, layer in self.layers for k, v in layer.grads.items()}

    def __repr__(self) -> str:
        rows = "\n".join(f"  ({n}): {layer!r}" for n, layer in self.layers)
        return f"Network(\n{rows}\n)"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
