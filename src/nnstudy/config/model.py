"""Model specs: a list of layers, a builder (`mlp`, `cnn`) or a zoo name.

A layer is written as a bare name (`relu`, `flatten`), a one-key mapping with a shorthand
value (`{linear: 100}`, `{maxpool: 2}`, `{dropout: 0.5}`) or a one-key mapping with its
arguments (`{conv: {out: 6, kernel: 5, padding: 2}}`). Parsing checks names and values;
shapes are checked when the model is built for an input shape (`nnstudy.models`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nnstudy.config.loading import format_validation_error, split_named
from nnstudy.errors import ConfigError

IntPair = int | tuple[int, int]


class LayerSpec(BaseModel):
    """Base of every layer spec. `kind` is the name used in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str]
    shorthand: ClassVar[str | None] = None  # field that a scalar value fills: {linear: 100}

    def to_config(self) -> Any:
        """The YAML form of this layer (the inverse of `parse_layer`)."""
        args = self.model_dump(exclude_defaults=True)
        return {self.kind: args} if args else self.kind


class Linear(LayerSpec):
    kind = "linear"
    shorthand = "out"
    out: int = Field(gt=0)
    bias: bool = True


class Conv(LayerSpec):
    kind = "conv"
    out: int = Field(gt=0)
    kernel: IntPair
    stride: IntPair = 1
    padding: IntPair = 0
    groups: int = Field(1, gt=0)
    bias: bool = True


class Pool(LayerSpec):
    """Base of the two pooling layers (not a layer of its own)."""

    shorthand = "kernel"
    kernel: IntPair
    stride: IntPair | None = None  # None: equal to kernel, as torch does
    padding: IntPair = 0


class MaxPool(Pool):
    kind = "maxpool"


class AvgPool(Pool):
    kind = "avgpool"


class AdaptiveAvgPool(LayerSpec):
    kind = "adaptive_avgpool"
    shorthand = "size"
    size: IntPair


class Flatten(LayerSpec):
    kind = "flatten"


class Dropout(LayerSpec):
    kind = "dropout"
    shorthand = "p"
    p: float = Field(0.5, ge=0.0, lt=1.0)


class BatchNorm(LayerSpec):
    """Batch normalization; 1d or 2d follows from the input shape."""

    kind = "batchnorm"
    eps: float = Field(1e-5, gt=0)
    momentum: float = Field(0.1, ge=0.0, le=1.0)


class Identity(LayerSpec):
    kind = "identity"


class LinearActivation(LayerSpec):
    """The reports' "linear" activation y = a*x + c (in builders: `activation: linear`)."""

    kind = "linear_activation"
    a: float = 1.0
    c: float = 0.0


class Sigmoid(LayerSpec):
    kind = "sigmoid"


class Tanh(LayerSpec):
    kind = "tanh"


class ReLU(LayerSpec):
    kind = "relu"


class LeakyReLU(LayerSpec):
    kind = "leaky_relu"
    shorthand = "slope"
    slope: float = 0.01


class ELU(LayerSpec):
    kind = "elu"
    shorthand = "alpha"
    alpha: float = 1.0


class GELU(LayerSpec):
    kind = "gelu"


class Softmax(LayerSpec):
    kind = "softmax"


class LogSoftmax(LayerSpec):
    kind = "log_softmax"


ACTIVATIONS: dict[str, type[LayerSpec]] = {
    c.kind: c
    for c in (Identity, LinearActivation, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU, Softmax,
              LogSoftmax)
}
LAYERS: dict[str, type[LayerSpec]] = {
    **{c.kind: c for c in (Linear, Conv, MaxPool, AvgPool, AdaptiveAvgPool, Flatten, Dropout,
                           BatchNorm)},
    **ACTIVATIONS,
}


def _one_of(names: Any) -> str:
    return ", ".join(names)


def parse_layer(item: Any, where: str, allowed: dict[str, type[LayerSpec]] = LAYERS) -> LayerSpec:
    """Parse one layer written as `name`, `{name: value}` or `{name: {args}}`."""
    if isinstance(item, LayerSpec):
        return item
    named = split_named(item)
    if named is None:
        raise ConfigError(
            f"{where}: expected a layer name or a one-key mapping like {{linear: 100}}, "
            f"got {item!r}"
        )
    name, args = named
    cls = allowed.get(name)
    if cls is None:
        hint = ""
        if name == "linear" and allowed is ACTIVATIONS:
            cls = LinearActivation
        else:
            if name in {"softmax_regression", "mlp", "cnn", "lenet5", "cifar_net", "alexnet"}:
                hint = " (a whole model, not a layer)"
            raise ConfigError(
                f"{where}: unknown {'activation' if allowed is ACTIVATIONS else 'layer'} "
                f"{name!r}{hint}; one of {_one_of(allowed)}"
            )
    if args is None:
        args = {}
    elif not isinstance(args, dict):
        if cls.shorthand is None:
            raise ConfigError(f"{where}.{name}: expected a mapping of arguments, got {args!r}")
        args = {cls.shorthand: args}
    if name == "linear" and cls is Linear and "out" not in args:
        raise ConfigError(
            f"{where}: linear needs its output size, e.g. {{linear: 100}}; "
            "for the activation a*x + c write linear_activation"
        )
    try:
        return cls.model_validate(args)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, f"{where}.{name}")) from None


class MlpSpec(BaseModel):
    """A multilayer perceptron: flatten, then for each hidden size linear, [batchnorm],
    activation, [dropout]; then a linear output layer (size: the number of classes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hidden: list[int] = Field(default_factory=lambda: [100])
    activation: Any = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    bias: bool = True
    batchnorm: bool = False
    output_activation: Any = None  # e.g. softmax: what report 000 did before cross-entropy


class CnnSpec(BaseModel):
    """Conv blocks (conv + activation + pool), then an MLP head."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channels: list[int] = Field(default_factory=lambda: [6, 16])
    kernel: int = Field(5, gt=0)
    stride: int = Field(1, gt=0)
    padding: int = Field(0, ge=0)
    pool: int | None = Field(2, gt=0)
    pool_type: Literal["max", "avg"] = "max"
    activation: Any = "relu"
    batchnorm: bool = False
    hidden: list[int] = Field(default_factory=lambda: [120, 84])
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    output_activation: Any = None


class ModelSpec(BaseModel):
    """A parsed model spec: exactly one of `zoo`, `layers`, `mlp` or `cnn`.

    Build it with `nnstudy.models.build_model(spec, input_shape, num_classes)`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    zoo: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    layers: tuple[LayerSpec, ...] | None = None
    mlp: MlpSpec | None = None
    cnn: CnnSpec | None = None

    def to_config(self) -> Any:
        """The YAML form: a zoo name, `{zoo: {options}}`, a list of layers, or a builder."""
        if self.layers is not None:
            return [layer.to_config() for layer in self.layers]
        if self.mlp is not None:
            return {"mlp": self.mlp.model_dump(exclude_none=True)}
        if self.cnn is not None:
            return {"cnn": self.cnn.model_dump(exclude_none=True)}
        return {self.zoo: dict(self.options)} if self.options else self.zoo

    def describe(self) -> str:
        """A short human name: `lenet5`, `mlp 100-100 relu`, `6 layers`."""
        if self.mlp is not None:
            hidden = "-".join(str(h) for h in self.mlp.hidden) or "no hidden"
            return f"mlp {hidden} {_act_name(self.mlp.activation)}"
        if self.cnn is not None:
            return f"cnn {'-'.join(map(str, self.cnn.channels))} + mlp {self.cnn.hidden}"
        if self.layers is not None:
            return f"{len(self.layers)} layers"
        return str(self.zoo)


def _act_name(act: Any) -> str:
    return act if isinstance(act, str) else next(iter(act))


def parse_activation(value: Any, where: str) -> LayerSpec:
    """Parse a builder's `activation:` (`relu`, `linear`, `{leaky_relu: 0.1}`)."""
    return parse_layer(value, where, ACTIVATIONS)


def parse_model_spec(raw: Any, where: str = "model") -> ModelSpec:
    """Parse a model spec from its YAML form; errors name the key path under `where`."""
    from nnstudy.models.zoo import ZOO  # the zoo names are defined beside their builders

    if isinstance(raw, ModelSpec):
        return raw
    if isinstance(raw, str):
        if raw in {"mlp", "cnn"}:
            return parse_model_spec({raw: {}}, where)
        if raw not in ZOO:
            raise ConfigError(
                f"{where}: unknown model {raw!r}; a zoo name ({_one_of(ZOO)}), a list of "
                "layers, or a builder {mlp: {...}} / {cnn: {...}}"
            )
        return ModelSpec(zoo=raw)
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(f"{where}: the list of layers is empty")
        return ModelSpec(layers=tuple(parse_layer(x, f"{where}[{i}]") for i, x in enumerate(raw)))
    if isinstance(raw, dict) and len(raw) == 1:
        name, args = next(iter(raw.items()))
        args = {} if args is None else args
        if not isinstance(args, dict):
            raise ConfigError(f"{where}.{name}: expected a mapping of options, got {args!r}")
        if name in {"mlp", "cnn"}:
            cls = MlpSpec if name == "mlp" else CnnSpec
            try:
                spec = cls.model_validate(args)
            except ValidationError as exc:
                raise ConfigError(format_validation_error(exc, f"{where}.{name}")) from None
            parse_activation(spec.activation, f"{where}.{name}.activation")
            if spec.output_activation is not None:
                parse_activation(spec.output_activation, f"{where}.{name}.output_activation")
            for i, h in enumerate(spec.hidden):
                if h <= 0:
                    raise ConfigError(f"{where}.{name}.hidden[{i}]: must be > 0, got {h}")
            return ModelSpec(**{name: spec})
        if name in ZOO:
            ZOO[name].check_options(args, f"{where}.{name}")
            return ModelSpec(zoo=name, options=args)
        if name in LAYERS:
            raise ConfigError(f"{where}: a single layer {raw!r}; write a list of layers: [...]")
        raise ConfigError(
            f"{where}: unknown model {name!r}; a zoo name ({_one_of(ZOO)}) or mlp, cnn"
        )
    raise ConfigError(
        f"{where}: expected a zoo name, a list of layers or a builder like "
        f"{{mlp: {{hidden: [100]}}}}, got {raw!r}"
    )
