"""Model specs: a list of layers, a builder (`mlp`, `cnn`) or a zoo name.

The layers and their arguments are in `nnstudy.config.layers`, the zoo's names and
options in `nnstudy.config.zoo`. Parsing checks names and values; shapes are checked when
the model is built for an input shape (`nnstudy.models`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from nnstudy.config.base import Spec
from nnstudy.config.layers import (
    LAYERS,
    LayerSpec,
    parse_activation,
    parse_layer,
    unknown_layer,
)
from nnstudy.config.loading import format_validation_error, split_named
from nnstudy.config.zoo import ZOO
from nnstudy.errors import ConfigError

BUILDERS = ("mlp", "cnn")


class MlpSpec(Spec):
    """A multilayer perceptron: flatten, then for each hidden size linear, [batchnorm],
    activation, [dropout]; then a linear output layer (size: the number of classes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    hidden: list[int] = Field(default_factory=lambda: [100])
    activation: Any = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    bias: bool = True
    batchnorm: bool = False
    output_activation: Any = None  # e.g. softmax: what report 000 did before cross-entropy


class CnnSpec(Spec):
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


class ModelSpec(Spec):
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


def parse_model_spec(raw: Any, where: str = "model") -> ModelSpec:
    """Parse a model spec from its YAML form; errors name the key path under `where`."""
    if isinstance(raw, ModelSpec):
        return raw
    if isinstance(raw, str):
        if raw in BUILDERS:
            return parse_model_spec({raw: {}}, where)
        if raw not in ZOO:
            raise ConfigError(
                f"{where}: unknown model {raw!r}; a zoo name ({', '.join(ZOO)}), a list of "
                "layers, or a builder {mlp: {...}} / {cnn: {...}}"
            )
        return ModelSpec(zoo=raw)
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(f"{where}: the list of layers is empty")
        return ModelSpec(layers=tuple(_parse_list_item(x, f"{where}[{i}]")
                                      for i, x in enumerate(raw)))
    if isinstance(raw, dict) and len(raw) == 1:
        name, args = next(iter(raw.items()))
        args = {} if args is None else args
        if not isinstance(args, dict):
            raise ConfigError(f"{where}.{name}: expected a mapping of options, got {args!r}")
        if name in BUILDERS:
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
            f"{where}: unknown model {name!r}; a zoo name ({', '.join(ZOO)}) or mlp, cnn"
        )
    raise ConfigError(
        f"{where}: expected a zoo name, a list of layers or a builder like "
        f"{{mlp: {{hidden: [100]}}}}, got {raw!r}"
    )


def _parse_list_item(item: Any, where: str) -> LayerSpec:
    """One item of a list of layers; a model's name there says that it is not a layer."""
    named = split_named(item)
    if named is not None and named[0] not in LAYERS and named[0] in (*ZOO, *BUILDERS):
        raise unknown_layer(named[0], where, LAYERS, " (a whole model, not a layer)")
    return parse_layer(item, where)
