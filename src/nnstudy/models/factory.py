"""From a model spec (or a name, a YAML file, a `package.module:factory`) to an nn.Module."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnstudy.config.loading import apply_overrides, load_yaml
from nnstudy.config.model import ModelSpec, parse_model_spec
from nnstudy.config.zoo import ZOO
from nnstudy.errors import ConfigError, ShapeError
from nnstudy.models.build import Shape, SpecNet, build_layers
from nnstudy.models.zoo import BUILDERS, cnn_layers, mlp_layers


def spec_layers(model: ModelSpec, num_classes: int):
    """The layer specs of a layer-list, builder or layer-based zoo spec (None for alexnet
    and for a features model)."""
    if model.features is not None:
        return None
    if model.layers is not None:
        return list(model.layers)
    if model.mlp is not None:
        return mlp_layers(model.mlp, num_classes)
    if model.cnn is not None:
        return cnn_layers(model.cnn, num_classes)
    builder = BUILDERS[model.zoo]
    if builder.layers is None:
        return None
    options = ZOO[model.zoo].check_options(model.options, f"model.{model.zoo}")
    return builder.layers(options, num_classes)


def default_input_shape(model: ModelSpec) -> Shape | None:
    """The input a zoo model is made for (lenet5: 1x32x32), a features model's backbone's;
    None for other specs."""
    if model.features is not None:
        return default_input_shape(model.features.backbone)
    return ZOO[model.zoo].input_shape if model.zoo is not None else None


def default_num_classes(model: ModelSpec) -> int:
    return ZOO[model.zoo].num_classes if model.zoo is not None else 10


def build_model(
    model: Any, input_shape: Sequence[int], num_classes: int | None = None, seed: int | None = None
) -> nn.Module:
    """Build the torch module of `model` (a spec in any form) for one sample of `input_shape`.

    `num_classes` sizes the output layer of builders and zoo models; for a list of layers
    it is checked against the last layer when given. `seed` seeds the initial weights.
    A features spec gives a `nnstudy.models.features.FeatureModel` (its backbone's weights
    loaded, or random from `model.features.seed`; its head seeded by `seed` alone).

    Example:
        >>> from nnstudy.models import build_model
        >>> net = build_model("lenet5", (1, 32, 32))
        >>> sum(p.numel() for p in net.parameters())
        61706
    """
    spec = parse_model_spec(model)
    shape: Shape = tuple(int(s) for s in input_shape)
    k = num_classes if num_classes is not None else default_num_classes(spec)
    if spec.features is not None:
        from nnstudy.models.features import build_feature_model

        return build_feature_model(spec, shape, k, seed)
    if seed is not None:
        torch.manual_seed(seed)
    layers = spec_layers(spec, k)
    if layers is None:
        entry = ZOO[spec.zoo]
        opts = entry.check_options(spec.options, f"model.{entry.name}")
        if shape != entry.input_shape and len(shape) != 3:
            raise ShapeError(f"{entry.name}: needs a C x H x W input, got {shape}")
        net = BUILDERS[spec.zoo].module(opts, shape, k)
        net.input_shape = shape
        return net
    net = build_layers(layers, shape)
    if num_classes is not None and spec.layers is not None and net.output_shape != (k,):
        raise ShapeError(
            f"model: the last layer gives {'x'.join(map(str, net.output_shape))} outputs, "
            f"but the data has {k} classes; end the list with {{linear: {k}}}"
        )
    return net


def load_model(
    arg: str,
    input_shape: Sequence[int] | None = None,
    num_classes: int | None = None,
    overrides: Sequence[str] = (),
) -> tuple[nn.Module, Shape]:
    """Resolve a zoo name, a YAML model spec file, or `package.module:factory` to a model.

    The YAML file holds either a model spec (a list of layers, a builder, a zoo name) or a
    run config with a `model:` key (and optionally `input:`); `overrides` are `--set`
    strings applied to it. Returns the model and the input shape it was built for.
    """
    if ":" in arg and not Path(arg).exists():
        return _from_factory(arg, input_shape)
    if arg.endswith((".yaml", ".yml")) or Path(arg).is_file():
        raw = load_yaml(arg)
        if isinstance(raw, dict) and "model" in raw:
            raw = apply_overrides(raw, overrides)
            if input_shape is None and raw.get("input") is not None:
                input_shape = tuple(raw["input"])
            raw = raw["model"]
        elif overrides:
            raw = apply_overrides({"model": raw}, overrides)["model"]
    else:
        raw = arg
        if overrides:
            wrapped = apply_overrides({"model": {arg: {}}}, overrides)["model"]
            raw = wrapped
    spec = parse_model_spec(raw)
    shape = tuple(input_shape) if input_shape is not None else default_input_shape(spec)
    if shape is None:
        shape = (1, 28, 28)
    return build_model(spec, shape, num_classes), tuple(int(s) for s in shape)


def _from_factory(arg: str, input_shape: Sequence[int] | None) -> tuple[nn.Module, Shape]:
    module_name, _, attr = arg.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{arg}: cannot import module {module_name!r} ({exc})") from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ConfigError(f"{arg}: module {module_name!r} has no callable {attr!r}")
    model = factory()
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{arg}: returned {type(model).__name__}, not a torch.nn.Module")
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise ConfigError(f"{arg}: give the input shape with --input C,H,W or --input N")
    return model, tuple(int(s) for s in shape)


__all__ = ["SpecNet", "build_model", "default_input_shape", "load_model", "spec_layers"]
