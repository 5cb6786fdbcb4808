"""Read a torch model into the NumPy reference engine: same layers, same weights, same names.

Covered: nn.Sequential (nested), the zoo's AlexNet layout (features, avgpool, flatten,
classifier), and every module a layer spec builds (each kind's `to_reference`, in
`nnstudy.models.layers`): Linear, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
Flatten, Dropout, BatchNorm1d/2d, Identity and every activation. Any other model can be
covered by passing its layers in order (`layers=`). This lives here, not in
`nnstudy.reference`, so that the engine itself needs NumPy alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn

from nnstudy.errors import ConfigError
from nnstudy.models.layers import kind_of_module
from nnstudy.reference.layer import Layer
from nnstudy.reference.network import Network


def _known_children(model: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """The layers in forward order of a container whose forward is known, else None."""
    if isinstance(model, nn.Sequential):
        return list(model.named_children())
    names = {n for n, _ in model.named_children()}
    # torchvision's AlexNet and the zoo's copy: features, avgpool, flatten(1), classifier.
    if type(model).__name__ == "AlexNet" and names == {"features", "avgpool", "classifier"}:
        return [("features", model.features), ("avgpool", model.avgpool),
                ("flatten", nn.Flatten()), ("classifier", model.classifier)]
    return None


def _convert(name: str, module: nn.Module, dtype, out: list[tuple[str, Layer]]) -> None:
    children = _known_children(module)
    if children is not None:
        for child_name, child in children:
            _convert(f"{name}.{child_name}" if name else child_name, child, dtype, out)
        return
    kind = kind_of_module(module, exact=True)  # a subclass may compute something else
    if kind is None:
        raise ConfigError(
            f"reference engine: no NumPy layer for {type(module).__name__} at "
            f"{name or 'the model'!r}; pass its layers in forward order with "
            "layers=[(name, module), ...]"
        )
    layer = kind.to_reference(module, dtype)
    layer.training = module.training
    out.append((name, layer))


def from_torch(model: nn.Module, layers: Sequence[tuple[str, nn.Module]] | None = None,
               dtype: type = np.float64) -> Network:
    """The reference Network computing what `model` computes, with a copy of its weights.

    `layers` gives the modules in forward order for a model whose forward is not a plain
    sequence; by default nn.Sequential and the AlexNet layout are read as such.
    Raises ConfigError naming the first module the engine does not cover.
    """
    out: list[tuple[str, Layer]] = []
    if layers is None:
        _convert("", model, dtype, out)
    else:
        for name, module in layers:
            _convert(name, module, dtype, out)
    return Network(out)


def covers(model: nn.Module) -> str | None:
    """None when the reference engine covers `model`, else the reason why not."""
    try:
        from_torch(model)
    except ConfigError as exc:
        return str(exc)
    return None
