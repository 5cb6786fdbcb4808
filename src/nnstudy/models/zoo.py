"""The zoo: named models from the reports, each a function of its options.

| name | what |
|---|---|
| softmax_regression | flatten + one linear layer (report 001) |
| mlp | the `mlp` builder with its defaults: 100 hidden ReLU units |
| cnn | the `cnn` builder with its defaults |
| lenet5 | LeCun et al. 1998 at 1x32x32: C1 conv 6@5x5, S2 pool 2, C3 conv 16@5x5 (all 6 maps), S4 pool 2, C5 conv 120@5x5, F6 linear 84, output |
| cifar_net | the PyTorch CIFAR-10 tutorial net (report 003), 1-3 conv layers, doubled channels |
| alexnet | torchvision's AlexNet layout (same module names: a torchvision state dict loads by key) |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from nnstudy.config import model as spec
from nnstudy.config.loading import format_validation_error
from nnstudy.errors import ConfigError

Shape = tuple[int, ...]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(_Options):
    pass


class LeNetOptions(_Options):
    activation: Any = "tanh"
    pool: Literal["avg", "max"] = "avg"


class CifarNetOptions(_Options):
    conv_layers: int = Field(2, ge=1, le=3)
    double_channels: bool = False
    kernel: int = Field(5, gt=0)
    padding: int = Field(0, ge=0)
    activation: Any = "relu"


class AlexNetOptions(_Options):
    dropout: float = Field(0.5, ge=0.0, lt=1.0)


@dataclass(frozen=True)
class ZooEntry:
    """A named model: its options, the input it is made for, and how to make its layers."""

    name: str
    options: type[_Options]
    input_shape: Shape
    num_classes: int
    layers: Callable[[Any], list[spec.LayerSpec]] | None = None
    module: Callable[[Any, Shape, int], nn.Module] | None = None

    def check_options(self, options: dict[str, Any], where: str) -> _Options:
        if self.name in {"mlp", "cnn"}:
            return NoOptions()
        try:
            parsed = self.options.model_validate(options)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, where)) from None
        act = getattr(parsed, "activation", None)
        if act is not None:
            spec.parse_activation(act, f"{where}.activation")
        return parsed


def mlp_layers(m: spec.MlpSpec, num_classes: int) -> list[spec.LayerSpec]:
    """flatten, [linear h, (batchnorm), act, (dropout)] per hidden size, linear K, (out act)."""
    act = spec.parse_activation(m.activation, "model.mlp.activation")
    layers: list[spec.LayerSpec] = [spec.Flatten()]
    for h in m.hidden:
        layers.append(spec.Linear(out=h, bias=m.bias))
        if m.batchnorm:
            layers.append(spec.BatchNorm())
        layers.append(act)
        if m.dropout > 0:
            layers.append(spec.Dropout(p=m.dropout))
    layers.append(spec.Linear(out=num_classes, bias=m.bias))
    if m.output_activation is not None:
        layers.append(spec.parse_activation(m.output_activation, "model.mlp.output_activation"))
    return layers


def cnn_layers(c: spec.CnnSpec, num_classes: int) -> list[spec.LayerSpec]:
    """Per channel count: conv, (batchnorm), act, (pool); then the mlp head."""
    act = spec.parse_activation(c.activation, "model.cnn.activation")
    pool_cls = spec.MaxPool if c.pool_type == "max" else spec.AvgPool
    layers: list[spec.LayerSpec] = []
    for ch in c.channels:
        layers.append(spec.Conv(out=ch, kernel=c.kernel, stride=c.stride, padding=c.padding))
        if c.batchnorm:
            layers.append(spec.BatchNorm())
        layers.append(act)
        if c.pool:
            layers.append(pool_cls(kernel=c.pool))
    head = spec.MlpSpec(hidden=c.hidden, activation=c.activation, dropout=c.dropout,
                        output_activation=c.output_activation)
    return layers + mlp_layers(head, num_classes)


def _lenet5(o: LeNetOptions, num_classes: int) -> list[spec.LayerSpec]:
    act = spec.parse_activation(o.activation, "model.lenet5.activation")
    pool = spec.AvgPool(kernel=2) if o.pool == "avg" else spec.MaxPool(kernel=2)
    return [
        spec.Conv(out=6, kernel=5), act, pool,          # C1, S2
        spec.Conv(out=16, kernel=5), act, pool,         # C3 (all 6 maps), S4
        spec.Conv(out=120, kernel=5), act, spec.Flatten(),  # C5
        spec.Linear(out=84), act,                       # F6
        spec.Linear(out=num_classes),                   # output
    ]


def _cifar_net(o: CifarNetOptions, num_classes: int) -> list[spec.LayerSpec]:
    """conv 6@k, pool 2, conv 16@k, pool 2, fc 120, 84, K; a third conv (32@3x3, padding 1,
    no pool) keeps the 5x5 maps; double_channels doubles every conv's output channels as
    report 003 did (12, 32, 64)."""
    act = spec.parse_activation(o.activation, "model.cifar_net.activation")
    channels = [12, 32, 64] if o.double_channels else [6, 16, 32]
    layers: list[spec.LayerSpec] = []
    for i in range(o.conv_layers):
        if i < 2:
            layers += [spec.Conv(out=channels[i], kernel=o.kernel, padding=o.padding), act,
                       spec.MaxPool(kernel=2)]
        else:
            layers += [spec.Conv(out=channels[i], kernel=3, padding=1), act]
    layers += [spec.Flatten(), spec.Linear(out=120), act, spec.Linear(out=84), act,
               spec.Linear(out=num_classes)]
    return layers


class AlexNet(nn.Module):
    """AlexNet laid out exactly as torchvision.models.AlexNet (Krizhevsky et al. 2012, the
    one-GPU variant of Krizhevsky 2014): `features`, `avgpool`, `classifier`, so that a
    torchvision state dict loads by key. 61,100,840 parameters for 1,000 classes."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        self.input_shape: Shape = (3, 224, 224)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)


ZOO: dict[str, ZooEntry] = {
    e.name: e
    for e in [
        ZooEntry("softmax_regression", NoOptions, (1, 28, 28), 10,
                 layers=lambda o, k: mlp_layers(spec.MlpSpec(hidden=[]), k)),
        ZooEntry("mlp", NoOptions, (1, 28, 28), 10),
        ZooEntry("cnn", NoOptions, (1, 28, 28), 10),
        ZooEntry("lenet5", LeNetOptions, (1, 32, 32), 10, layers=_lenet5),
        ZooEntry("cifar_net", CifarNetOptions, (3, 32, 32), 10, layers=_cifar_net),
        ZooEntry("alexnet", AlexNetOptions, (3, 224, 224), 1000,
                 module=lambda o, shape, k: AlexNet(k, o.dropout)),
    ]
}
