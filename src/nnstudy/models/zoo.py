"""The zoo's builders: for each name of `nnstudy.config.zoo.ZOO`, how to make the model.

A builder takes the parsed options and the number of classes, and returns either the
list of layer specs (built by `nnstudy.models.build`) or, for a model that is not a plain
sequence of layers (alexnet), the module itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from nnstudy.config import layers as spec
from nnstudy.config.model import CnnSpec, MlpSpec
from nnstudy.config.zoo import CifarNetOptions, LeNetOptions

Shape = tuple[int, ...]


def mlp_layers(m: MlpSpec, num_classes: int) -> list[spec.LayerSpec]:
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


def cnn_layers(c: CnnSpec, num_classes: int) -> list[spec.LayerSpec]:
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
    head = MlpSpec(hidden=c.hidden, activation=c.activation, dropout=c.dropout,
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


@dataclass(frozen=True)
class ZooBuilder:
    """How to make one zoo model: its layer specs, or (alexnet) its module."""

    layers: Callable[[Any, int], list[spec.LayerSpec]] | None = None
    module: Callable[[Any, Shape, int], nn.Module] | None = None


BUILDERS: dict[str, ZooBuilder] = {
    "softmax_regression": ZooBuilder(layers=lambda o, k: mlp_layers(MlpSpec(hidden=[]), k)),
    "mlp": ZooBuilder(layers=lambda o, k: mlp_layers(MlpSpec(), k)),
    "cnn": ZooBuilder(layers=lambda o, k: cnn_layers(CnnSpec(), k)),
    "lenet5": ZooBuilder(layers=_lenet5),
    "cifar_net": ZooBuilder(layers=_cifar_net),
    "alexnet": ZooBuilder(module=lambda o, shape, k: AlexNet(k, o.dropout)),
}
