"""Model specs: a list of layers, a builder (`mlp`, `cnn`), a zoo name, or a head on a
backbone's features.

The layers and their arguments are in `nnstudy.config.layers`, the zoo's names and
options in `nnstudy.config.zoo`. Parsing checks names and values; shapes, layer names of
a backbone and weights files are checked when the model is built for an input shape
(`nnstudy.models`).

A features model (transfer learning, docs/transfer.md):

```yaml
model:
  features:
    backbone: alexnet            # a zoo name or a model spec (list of layers, builder)
    layer: features.8            # any module of it; the features are its output, flattened
    weights: alexnet.pth         # a state dict file, run:DIR (an nnstudy run), imagenet
    preprocess: {input: [3, 224, 224], normalize: imagenet}   # the defaults for alexnet
    finetune: 0                  # K > 0 trains the last K layers with weights, up to `layer`
  head: {mlp: {hidden: [100], activation: leaky_relu}}
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError

from nnstudy.config.base import Spec
from nnstudy.config.data import NORMALIZE_PRESETS, Normalize
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

#: `weights: run:DIR` takes the model.pt of the nnstudy run in DIR.
RUN_PREFIX = "run:"
#: `weights: imagenet`: torchvision's published AlexNet weights (alexnet backbones only).
IMAGENET = "imagenet"
_FEATURES_KEYS = ("backbone", "layer", "weights", "seed", "preprocess", "finetune")


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
    """A parsed model spec: exactly one of `zoo`, `layers`, `mlp`, `cnn`, or `features`
    with its `head`.

    Build it with `nnstudy.models.build_model(spec, input_shape, num_classes)`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    zoo: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    layers: tuple[LayerSpec, ...] | None = None
    mlp: MlpSpec | None = None
    cnn: CnnSpec | None = None
    features: FeaturesSpec | None = None
    head: ModelSpec | None = None

    def to_config(self) -> Any:
        """The YAML form: a zoo name, `{zoo: {options}}`, a list of layers, a builder, or
        `{features: {...}, head: ...}`."""
        if self.features is not None and self.head is not None:
            return {"features": self.features.to_config(), "head": self.head.to_config()}
        if self.layers is not None:
            return [layer.to_config() for layer in self.layers]
        if self.mlp is not None:
            return {"mlp": self.mlp.model_dump(exclude_none=True)}
        if self.cnn is not None:
            return {"cnn": self.cnn.model_dump(exclude_none=True)}
        return {self.zoo: dict(self.options)} if self.options else self.zoo

    def describe(self) -> str:
        """A short human name: `lenet5`, `mlp 100-100 relu`, `6 layers`,
        `alexnet features.8 -> mlp 100 leaky_relu`."""
        if self.features is not None and self.head is not None:
            return f"{self.features.describe()} -> {self.head.describe()}"
        if self.mlp is not None:
            hidden = "-".join(str(h) for h in self.mlp.hidden) or "no hidden"
            return f"mlp {hidden} {_act_name(self.mlp.activation)}"
        if self.cnn is not None:
            return f"cnn {'-'.join(map(str, self.cnn.channels))} + mlp {self.cnn.hidden}"
        if self.layers is not None:
            return f"{len(self.layers)} layers"
        return str(self.zoo)


class PreprocessSpec(Spec):
    """How samples are made to fit a backbone (`nnstudy.data.preprocess.backbone_steps`):
    channels (1 <-> 3) and size adapted to `input` (C, H, W; None: the backbone's own input,
    see `FeaturesSpec`), then `normalize` (a preset's or explicit mean and std, or None)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    input: tuple[int, ...] | None = None
    normalize: Normalize | None = None

    def to_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.input is not None:
            out["input"] = list(self.input)
        norm = self.normalize
        if norm is None:
            out["normalize"] = "none"
        elif norm.preset is not None:
            out["normalize"] = norm.preset
        else:
            out["normalize"] = {"mean": list(norm.mean or ()), "std": list(norm.std or ())}
        return out


class FeaturesSpec(Spec):
    """A backbone cut at `layer`, whose output (flattened) is the input of a head.

    - `backbone`: a zoo name or a model spec (its own output layer sized as the run it comes
      from, or the zoo's default; modules after `layer` are never built into the model);
    - `layer`: the name of any module of the backbone (`nnstudy inspect BACKBONE` lists them);
    - `weights`: a state dict file, `run:DIR` (the `model.pt` of an nnstudy run), `imagenet`
      (torchvision's published AlexNet weights), or None: random, seeded by `seed`;
    - `seed`: the seed of a random backbone; a run config fills in its `train.seed`;
    - `preprocess`: see PreprocessSpec; `normalize` defaults to the zoo model's (ImageNet's
      for alexnet), else none;
    - `finetune`: K > 0 trains the last K modules with weights up to `layer` (no cache then);
      0 keeps the backbone frozen and its features are computed once and cached.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    backbone: ModelSpec
    layer: str = Field(min_length=1)
    weights: str | None = None
    seed: int | None = None
    preprocess: PreprocessSpec = Field(default_factory=PreprocessSpec)
    finetune: int = Field(0, ge=0)

    def to_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backbone": self.backbone.to_config(), "layer": self.layer}
        if self.weights is not None:
            out["weights"] = self.weights
        if self.seed is not None:
            out["seed"] = self.seed
        out["preprocess"] = self.preprocess.to_config()
        if self.finetune:
            out["finetune"] = self.finetune
        return out

    def describe(self) -> str:
        """`alexnet features.8`, `lenet5 relu3 (fine-tuned: 2)`."""
        tail = f" (fine-tuning {self.finetune})" if self.finetune else ""
        return f"{self.backbone.describe()} {self.layer}{tail}"

    @property
    def run_dir(self) -> str | None:
        """DIR of `weights: run:DIR`, else None."""
        if self.weights is not None and self.weights.startswith(RUN_PREFIX):
            return self.weights[len(RUN_PREFIX):]
        return None


class _FeaturesFields(Spec):
    """The plain fields of a `features:` block, validated for their messages."""

    layer: str = Field(min_length=1)
    weights: str | None = Field(None, min_length=1)
    seed: int | None = None
    finetune: int = Field(0, ge=0)


def parse_features(raw: dict[str, Any], where: str = "model") -> ModelSpec:
    """`{features: {...}, head: ...}` parsed; errors name the key under `where`."""
    extra = [k for k in raw if k not in ("features", "head")]
    if extra:
        raise ConfigError(f"{where}.{extra[0]}: unknown key; a features model has the keys "
                          "features and head")
    block = raw.get("features")
    if not isinstance(block, dict):
        raise ConfigError(f"{where}.features: expected a mapping with backbone, layer, "
                          f"weights, preprocess, finetune; got {block!r}")
    here = f"{where}.features"
    if "backbone" not in block:
        raise ConfigError(f"{here}.backbone: required key is missing; a zoo name "
                          f"({', '.join(ZOO)}) or a model spec")
    backbone = parse_model_spec(block["backbone"], f"{here}.backbone")
    if backbone.features is not None:
        raise ConfigError(f"{here}.backbone: a features model cannot be a backbone; give "
                          "the backbone's own spec")
    fields = {k: v for k, v in block.items() if k not in ("backbone", "preprocess")}
    try:
        plain = _FeaturesFields.model_validate(fields)
    except ValidationError as exc:
        message = format_validation_error(exc, here)
        if message.endswith("unknown key"):
            message += f"; one of {', '.join(_FEATURES_KEYS)}"
        raise ConfigError(message) from None
    if plain.weights == IMAGENET and backbone.zoo != "alexnet":
        raise ConfigError(
            f"{here}.weights: imagenet is torchvision's AlexNet file; the backbone is "
            f"{backbone.describe()!r} (use backbone: alexnet, or a weights file)")
    if plain.weights is not None and plain.weights.startswith(RUN_PREFIX) and \
            not plain.weights[len(RUN_PREFIX):].strip():
        raise ConfigError(f"{here}.weights: 'run:' needs the run directory: run:DIR")
    preprocess = _parse_preprocess(block.get("preprocess"), backbone, f"{here}.preprocess")
    spec = FeaturesSpec(backbone=backbone, layer=plain.layer, weights=plain.weights,
                        seed=plain.seed, preprocess=preprocess, finetune=plain.finetune)
    if "head" not in raw:
        raise ConfigError(f"{where}.head: required key is missing; the model trained on the "
                          "features: {mlp: {hidden: [100]}} or a list of layers")
    head = parse_model_spec(raw["head"], f"{where}.head")
    if head.layers is None and head.mlp is None:
        raise ConfigError(
            f"{where}.head: {head.describe()!r} cannot be a head; the head takes the "
            "flattened features (a vector): a builder {mlp: {...}} or a list of layers")
    return ModelSpec(features=spec, head=head)


def _parse_preprocess(raw: Any, backbone: ModelSpec, where: str) -> PreprocessSpec:
    """The preprocess block; `normalize` not given is the zoo model's default, else none."""
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with input and normalize, got {raw!r}")
    extra = [k for k in raw if k not in ("input", "normalize")]
    if extra:
        raise ConfigError(f"{where}.{extra[0]}: unknown key; one of input, normalize")
    shape = raw.get("input")
    if shape is not None:
        if (not isinstance(shape, list | tuple) or len(shape) != 3
                or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                           for n in shape)):
            raise ConfigError(f"{where}.input: expected the backbone's input [C, H, W] "
                              f"(positive sizes), got {shape!r}")
        shape = tuple(shape)
    if "normalize" in raw:
        normalize = _parse_normalize(raw["normalize"], f"{where}.normalize")
    else:
        preset = ZOO[backbone.zoo].normalize if backbone.zoo is not None else None
        normalize = Normalize(preset=preset) if preset is not None else None
    return PreprocessSpec(input=shape, normalize=normalize)


def _parse_normalize(raw: Any, where: str) -> Normalize | None:
    """A preset name, {mean: [...], std: [...]}, or none (also null / false)."""
    if raw is None or raw is False or raw == "none":
        return None
    if isinstance(raw, str):
        if raw not in NORMALIZE_PRESETS:
            raise ConfigError(f"{where}: unknown preset {raw!r}; one of "
                              f"{', '.join(NORMALIZE_PRESETS)}, none, or {{mean: [..], std: [..]}}")
        return Normalize(preset=raw)
    if isinstance(raw, dict) and set(raw) == {"mean", "std"}:
        try:
            return Normalize(mean=raw["mean"], std=raw["std"])
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, where)) from None
    raise ConfigError(f"{where}: expected a preset ({', '.join(NORMALIZE_PRESETS)}), none, "
                      f"or {{mean: [..], std: [..]}}; got {raw!r}")


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
    if isinstance(raw, dict) and ("features" in raw or "head" in raw):
        return parse_features(raw, where)
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


ModelSpec.model_rebuild()


def _parse_list_item(item: Any, where: str) -> LayerSpec:
    """One item of a list of layers; a model's name there says that it is not a layer."""
    named = split_named(item)
    if named is not None and named[0] not in LAYERS and named[0] in (*ZOO, *BUILDERS):
        raise unknown_layer(named[0], where, LAYERS, " (a whole model, not a layer)")
    return parse_layer(item, where)
