"""The zoo's names, options and inputs: what a config may say about a named model.

| name | what |
|---|---|
| softmax_regression | flatten + one linear layer (report 001) |
| mlp | the `mlp` builder with its defaults: 100 hidden ReLU units |
| cnn | the `cnn` builder with its defaults |
| lenet5 | LeCun et al. 1998 at 1x32x32: C1 conv 6@5x5, S2 pool 2, C3 conv 16@5x5 (all 6 maps), S4 pool 2, C5 conv 120@5x5, F6 linear 84, output |
| cifar_net | the PyTorch CIFAR-10 tutorial net (report 003), 1-3 conv layers, doubled channels |
| alexnet | torchvision's AlexNet layout (same module names: a torchvision state dict loads by key) |

How each is built lives beside the torch code, in `nnstudy.models.zoo` (one builder per
name here; a test holds the two tables to the same names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from nnstudy.config.base import Spec
from nnstudy.config.layers import parse_activation
from nnstudy.config.loading import format_validation_error
from nnstudy.errors import ConfigError

Shape = tuple[int, ...]


class ZooOptions(Spec):
    """Base of a zoo model's options; an `activation` field is checked as an activation."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(ZooOptions):
    pass


class LeNetOptions(ZooOptions):
    activation: Any = "tanh"
    pool: Literal["avg", "max"] = "avg"


class CifarNetOptions(ZooOptions):
    conv_layers: int = Field(2, ge=1, le=3)
    double_channels: bool = False
    kernel: int = Field(5, gt=0)
    padding: int = Field(0, ge=0)
    activation: Any = "relu"


class AlexNetOptions(ZooOptions):
    dropout: float = Field(0.5, ge=0.0, lt=1.0)


@dataclass(frozen=True)
class ZooModel:
    """A named model: its options, the input and classes it is made for, and the
    normalization its published weights expect of that input (a preset of
    `nnstudy.config.data.NORMALIZE_PRESETS`, or None): what a backbone's preprocessing
    applies by default (`model.features.preprocess.normalize`)."""

    name: str
    options: type[ZooOptions]
    input_shape: Shape
    num_classes: int
    normalize: str | None = None

    def check_options(self, options: dict[str, Any], where: str) -> ZooOptions:
        """The options parsed; errors name the key under `where`."""
        try:
            parsed = self.options.model_validate(options)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, where)) from None
        act = getattr(parsed, "activation", None)
        if act is not None:
            parse_activation(act, f"{where}.activation")
        return parsed


ZOO: dict[str, ZooModel] = {
    m.name: m
    for m in [
        ZooModel("softmax_regression", NoOptions, (1, 28, 28), 10),
        ZooModel("mlp", NoOptions, (1, 28, 28), 10),
        ZooModel("cnn", NoOptions, (1, 28, 28), 10),
        ZooModel("lenet5", LeNetOptions, (1, 32, 32), 10),
        ZooModel("cifar_net", CifarNetOptions, (3, 32, 32), 10),
        ZooModel("alexnet", AlexNetOptions, (3, 224, 224), 1000, normalize="imagenet"),
    ]
}
