"""Layer specs: what a layer is called in YAML and which arguments it takes.

A layer is written as a bare name (`relu`, `flatten`), a one-key mapping with a shorthand
value (`{linear: 100}`, `{maxpool: 2}`, `{dropout: 0.5}`) or a one-key mapping with its
arguments (`{conv: {out: 6, kernel: 5, padding: 2}}`). Parsing checks names and values;
shapes are checked when the model is built for an input shape (`nnstudy.models`).

Every spec class registers itself under its `kind` (and its `aliases`) when it is
defined: `LAYERS` holds them all, `ACTIVATIONS` the subclasses of `ActivationSpec`. This
file is the one list of layer and activation names; `nnstudy.models.layers` gives each
spec class its torch module, and `nnstudy.reference` its NumPy twin.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict, Field, ValidationError

from nnstudy.config.base import Spec
from nnstudy.config.loading import format_validation_error, split_named
from nnstudy.errors import ConfigError

IntPair = int | tuple[int, int]

LAYERS: dict[str, type[LayerSpec]] = {}
"""Every layer kind by its YAML name, in the order of this file (aliases not included)."""

ACTIVATIONS: dict[str, type[LayerSpec]] = {}
"""The activations (what a builder's `activation:` accepts), a part of `LAYERS`."""

ALIASES: dict[str, str] = {}
"""Other names a kind is accepted under (swish -> silu); written back by its `kind`."""


class LayerSpec(Spec):
    """Base of every layer spec. `kind` is the name used in YAML.

    A subclass that sets `kind` is a layer: defining it registers it in `LAYERS`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str]
    shorthand: ClassVar[str | None] = None  # field that a scalar value fills: {linear: 100}
    aliases: ClassVar[tuple[str, ...]] = ()  # other YAML names of the same kind

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:
            return  # an abstract base such as Pool
        for name in (cls.kind, *cls.aliases):
            if name in LAYERS or name in ALIASES:
                raise TypeError(f"layer name {name!r} is already taken")
        LAYERS[cls.kind] = cls
        if issubclass(cls, ActivationSpec):
            ACTIVATIONS[cls.kind] = cls
        ALIASES.update({alias: cls.kind for alias in cls.aliases})

    def to_config(self) -> Any:
        """The YAML form of this layer (the inverse of `parse_layer`)."""
        args = self.model_dump(exclude_defaults=True)
        return {self.kind: args} if args else self.kind


class ActivationSpec(LayerSpec):
    """Base of the activations: layers a builder's `activation:` may name."""


# -- layers with parameters, pooling and reshaping ----------------------------------------


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


# -- activations ------------------------------------------------------------------------


class Identity(ActivationSpec):
    kind = "identity"


class LinearActivation(ActivationSpec):
    """The reports' "linear" activation y = a*x + c (in builders: `activation: linear`)."""

    kind = "linear_activation"
    a: float = 1.0
    c: float = 0.0


class Sigmoid(ActivationSpec):
    kind = "sigmoid"


class Tanh(ActivationSpec):
    kind = "tanh"


class ReLU(ActivationSpec):
    kind = "relu"


class LeakyReLU(ActivationSpec):
    kind = "leaky_relu"
    shorthand = "slope"
    slope: float = 0.01


class ELU(ActivationSpec):
    kind = "elu"
    shorthand = "alpha"
    alpha: float = 1.0


class GELU(ActivationSpec):
    kind = "gelu"


class SiLU(ActivationSpec):
    """y = x * sigmoid(x) (Elfwing et al. 2018; "swish" in Ramachandran et al. 2017)."""

    kind = "silu"
    aliases = ("swish",)


class Softmax(ActivationSpec):
    kind = "softmax"


class LogSoftmax(ActivationSpec):
    kind = "log_softmax"


# -- parsing ----------------------------------------------------------------------------


def _one_of(names: Any) -> str:
    return ", ".join(names)


def unknown_layer(name: str, where: str, allowed: dict[str, type[LayerSpec]], hint: str = ""
                  ) -> ConfigError:
    """The error for a name that is not in `allowed` (LAYERS or ACTIVATIONS)."""
    what = "activation" if allowed is ACTIVATIONS else "layer"
    return ConfigError(f"{where}: unknown {what} {name!r}{hint}; one of {_one_of(allowed)}")


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
    cls = allowed.get(ALIASES.get(name, name))
    if cls is None:
        if name == "linear" and allowed is ACTIVATIONS:
            cls = LinearActivation  # a builder's `activation: linear` is y = a*x + c
        else:
            raise unknown_layer(name, where, allowed)
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


def parse_activation(value: Any, where: str) -> LayerSpec:
    """Parse a builder's `activation:` (`relu`, `linear`, `{leaky_relu: 0.1}`)."""
    return parse_layer(value, where, ACTIVATIONS)
