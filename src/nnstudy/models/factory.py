"""From a model spec (or a name, a YAML file, a `package.module:factory`) to an nn.Module."""

from __future__ import annotations

import importlib
import inspect
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
from nnstudy.models.footprint import FLOAT32_BYTES, check_fits, parameter_count
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

    The YAML file holds a model spec (a list of layers, a builder, a zoo name), a model
    spec with its input (`model:` and `input:`), or a run config (`model:` with `data:` or
    `train:`, as `nnstudy train` reads it): the model is then built for the data the run
    trains on, its input shape and classes (the data set is loaded, as training would),
    unless `input_shape` and `num_classes` are given. `overrides` are `--set` strings
    applied to the file. Returns the model and the input shape it was built for.

    A model whose parameters alone would not fit in memory is refused before it is built
    (`nnstudy.models.footprint`).
    """
    if ":" in arg and not Path(arg).exists():
        return _from_factory(arg, input_shape)
    if arg.endswith((".yaml", ".yml")) or Path(arg).is_file():
        raw = load_yaml(arg)
        if is_run_config(raw):
            return _from_run_config(apply_overrides(raw, overrides), input_shape, num_classes)
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
    return _built(spec, shape, num_classes), tuple(int(s) for s in shape)


def is_run_config(raw: Any) -> bool:
    """Whether a YAML file's content is a run config (a `data:` or `train:` block, no
    `input:`), as opposed to a model spec, with or without its `input:`."""
    return isinstance(raw, dict) and "input" not in raw and bool(raw.keys() & {"data", "train"})


def _built(spec: Any, shape: Sequence[int], num_classes: int | None) -> nn.Module:
    """`build_model`, once the parameters are known to fit in memory."""
    count = parameter_count(spec, shape, num_classes)
    if count is not None:
        check_fits(count * FLOAT32_BYTES, f"its {count:,} parameters (float32)")
    return build_model(spec, shape, num_classes)


def _from_run_config(raw: dict[str, Any], input_shape: Sequence[int] | None,
                     num_classes: int | None) -> tuple[nn.Module, Shape]:
    """The model of a run config, for the input shape and classes of its data."""
    from nnstudy.config.run import load_run_spec

    spec = load_run_spec(raw)
    if input_shape is None or num_classes is None:
        # The data room, imported here only: the shape and classes are the loaded data's
        # (transforms, class selection), exactly what training builds the model for.
        from nnstudy.data import load_data

        bundle = load_data(spec.data, progress=False)
        input_shape = input_shape if input_shape is not None else bundle.input_shape
        num_classes = num_classes if num_classes is not None else bundle.num_classes
    shape = tuple(int(s) for s in input_shape)
    return _built(spec.model, shape, num_classes), shape


def _from_factory(arg: str, input_shape: Sequence[int] | None) -> tuple[nn.Module, Shape]:
    """The module `package.module:factory()` returns; any failure to import the module,
    to call the factory (it must take no arguments) or a result that is not a module is
    a ConfigError naming `arg`."""
    module_name, _, attr = arg.partition(":")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # ImportError, SyntaxError, whatever it raises
        raise ConfigError(f"{arg}: cannot import module {module_name!r} "
                          f"({_one_line(exc)})") from None
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ConfigError(f"{arg}: module {module_name!r} has no callable {attr!r}")
    try:
        inspect.signature(factory).bind()
    except TypeError as exc:
        raise ConfigError(f"{arg}: a factory is called with no arguments, but {exc}; wrap "
                          f"it in a function that takes none") from None
    except ValueError:
        pass  # no signature to read (a builtin): calling it tells
    try:
        model = factory()
    except Exception as exc:
        raise ConfigError(f"{arg}: the factory raised {_one_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{arg}: returned {type(model).__name__}, not a torch.nn.Module")
    shape = input_shape if input_shape is not None else getattr(model, "input_shape", None)
    if shape is None:
        raise ConfigError(f"{arg}: give the input shape with --input C,H,W or --input N")
    return model, tuple(int(s) for s in shape)


def _one_line(exc: BaseException) -> str:
    """`Type: first line of the message`."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


__all__ = ["SpecNet", "build_model", "default_input_shape", "is_run_config", "load_model",
           "spec_layers"]
