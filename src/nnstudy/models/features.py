"""A head on a backbone's features: preprocessing, the backbone cut at a layer, the head.

`build_feature_model(spec, input_shape, num_classes, seed)` makes a `FeatureModel` from a
`{features: {...}, head: ...}` spec (nnstudy.config.model.FeaturesSpec):

    x [N, *input_shape] -> preprocess -> backbone up to `layer` -> flatten -> head -> logits

- **preprocess** (`Preprocess`, absent when there is nothing to do): channels 1 <-> 3, resize
  to the backbone's input, normalize (`nnstudy.data.preprocess.backbone_steps`);
- **backbone**: the backbone's own module, with every module that its forward pass does not
  run before `layer` replaced by `nn.Identity` (AlexNet cut at `features.8` keeps
  `features.0`..`features.8`: 2,469,696 parameters of 61,100,840). Its forward runs until
  `layer` has produced its output, and stops there: any module of any model can be the cut,
  whatever its forward does after it;
- **head**: the head spec built for the features, a vector of D = prod(feature shape).

Frozen weights (all of the backbone's, or all but those of the last `finetune` modules with
weights) are held as buffers, not parameters, as torchvision's FrozenBatchNorm2d does: an
optimizer, the batched trainer and autograd never see them, and `state_dict()` still holds
them. Frozen modules run in eval mode whatever the model's mode (dropout off, batch-norm
statistics fixed).

The head's initial weights depend on `seed` alone (the backbone is built before it from its
own seed), so a head on features computed once and cached starts exactly as the same head in
a `FeatureModel`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nnstudy.config.data import Flatten, StepSpec
from nnstudy.config.model import FeaturesSpec, ModelSpec
from nnstudy.errors import ConfigError
from nnstudy.models.weights import WeightsSource, load_checked, locate_weights, read_state_dict

Shape = tuple[int, ...]

#: How many module names an unknown-layer error lists before it points at `nnstudy inspect`.
LISTED_NAMES = 20


class Preprocess(nn.Module):
    """The backbone's preprocessing as a module: the transforms of `steps` on a batch, in the
    batch's own float dtype (uint8 is scaled to [0, 1] first), each sample alone."""

    def __init__(self, steps: Sequence[StepSpec], in_shape: Shape, out_shape: Shape) -> None:
        from nnstudy.data.transforms import step_function

        super().__init__()
        self.steps = tuple(s for s in steps if not isinstance(s, Flatten))
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        self._functions = [step_function(s) for s in self.steps]

    def forward(self, x: Tensor) -> Tensor:
        if not x.is_floating_point():
            x = x.to(torch.float32).div_(255)
        for fn in self._functions:
            x = fn(x)
        return x

    def to_config(self) -> list:
        return [s.to_config() for s in self.steps]

    def extra_repr(self) -> str:
        steps = ", ".join(str(s.to_config()) for s in self.steps)
        shapes = "x".join(map(str, self.in_shape)) + " -> " + "x".join(map(str, self.out_shape))
        return f"{shapes}: {steps}"


class _Reached(Exception):
    """Raised by the hook on the cut layer: carries its output, ends the forward pass."""

    def __init__(self, output: Tensor) -> None:
        super().__init__()
        self.output = output


def _stop(module: nn.Module, args: object, output: Tensor) -> None:
    raise _Reached(output)


def run_to(backbone: nn.Module, layer: str, x: Tensor) -> Tensor:
    """The output of `backbone`'s module `layer` when `backbone(x)` runs; the rest of the
    forward pass does not run. (A hook registered for this call only: copies of the model,
    `torch.func.functional_call` and `vmap` need nothing of it.)"""
    handle = backbone.get_submodule(layer).register_forward_hook(_stop)
    try:
        backbone(x)
    except _Reached as reached:
        return reached.output
    finally:
        handle.remove()
    raise ConfigError(f"model.features.layer: {layer} did not run in the backbone's forward "
                      "pass; choose a module that it calls")


class FeatureExtractor(nn.Module):
    """[N, *input_shape] -> [N, D]: preprocess, the backbone up to `layer`, flatten.

    Attributes: `layer`, `input_shape` (of the data), `backbone_input` (after preprocess),
    `feature_shape` (the layer's output for one example, D = its product), `trainable`
    (names of the backbone modules whose weights train; empty: all frozen),
    `frozen_weights` (the backbone's buffers that are frozen weights, e.g.
    `features.0.weight`), `description` (`alexnet features.8`).
    """

    def __init__(self, backbone: nn.Module, layer: str, input_shape: Shape,
                 backbone_input: Shape, feature_shape: Shape,
                 preprocess: Preprocess | None = None, trainable: Sequence[str] = (),
                 frozen_weights: Sequence[str] = (), description: str = "") -> None:
        super().__init__()
        if preprocess is not None:
            self.preprocess = preprocess
        self.backbone = backbone
        self.layer = layer
        self.input_shape: Shape = tuple(input_shape)
        self.backbone_input: Shape = tuple(backbone_input)
        self.feature_shape: Shape = tuple(feature_shape)
        self.trainable: tuple[str, ...] = tuple(trainable)
        self.frozen_weights: tuple[str, ...] = tuple(frozen_weights)
        self.description = description or layer

    @property
    def feature_dim(self) -> int:
        return math.prod(self.feature_shape)

    def features(self, x: Tensor) -> Tensor:
        if "preprocess" in self._modules:
            x = self.preprocess(x)
        return run_to(self.backbone, self.layer, x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)

    def train(self, mode: bool = True) -> FeatureExtractor:
        super().train(mode)
        self.backbone.train(False)
        for name in self.trainable:
            self.backbone.get_submodule(name).train(mode)
        return self

    def extra_repr(self) -> str:
        shape = "x".join(map(str, self.feature_shape))
        tuned = f", fine-tuning {', '.join(self.trainable)}" if self.trainable else ", frozen"
        return f"layer={self.layer}, features={shape} ({self.feature_dim}){tuned}"


class FeatureModel(FeatureExtractor):
    """A FeatureExtractor with a head: logits = head(features(x))."""

    def __init__(self, extractor: FeatureExtractor, head: nn.Module) -> None:
        super().__init__(extractor.backbone, extractor.layer, extractor.input_shape,
                         extractor.backbone_input, extractor.feature_shape,
                         extractor._modules.get("preprocess"), extractor.trainable,
                         extractor.frozen_weights, extractor.description)
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class Cut:
    """A backbone cut at a layer, with what was learnt while making it."""

    extractor: FeatureExtractor
    weights: WeightsSource
    seed: int | None
    names: tuple[str, ...]          # every module name of the whole backbone
    with_weights: tuple[str, ...]   # the kept modules that hold weights, in the order run

    def describe_weights(self) -> str:
        return self.weights.describe(self.seed)


def backbone_input_shape(features: FeaturesSpec, data_shape: Shape,
                         weights: WeightsSource) -> Shape:
    """What the backbone takes: `preprocess.input`, else the run's input (`run:DIR`), else
    the zoo model's (alexnet: 3x224x224), else the data's."""
    from nnstudy.config.zoo import ZOO

    if features.preprocess.input is not None:
        return tuple(features.preprocess.input)
    if weights.run is not None:
        return weights.run.input_shape
    if features.backbone.zoo is not None:
        return ZOO[features.backbone.zoo].input_shape
    return tuple(data_shape)


def preprocess_steps(features: FeaturesSpec, data_shape: Shape, target: Shape,
                     where: str) -> list[StepSpec]:
    """The steps from the data's samples to the backbone's input: channels and size when
    they differ (`backbone_steps`), then the normalization."""
    from nnstudy.data.preprocess import backbone_steps

    normalize = features.preprocess.normalize
    if tuple(data_shape) == tuple(target):
        return [normalize] if normalize is not None else []
    return backbone_steps(data_shape, target, normalize, where)


def cut_backbone(features: FeaturesSpec, data_shape: Sequence[int], seed: int | None = None,
                 where: str = "model.features", progress: bool = True) -> Cut:
    """Build the backbone of `features` for samples of `data_shape`, cut at its layer, with
    its weights loaded (or random from `features.seed`, else `seed`) and frozen but for the
    last `finetune` modules with weights. ConfigErrors name the key: an unknown layer (with
    the names there are), weights that do not fit (every key), finetune larger than the
    layers there are."""
    from nnstudy.data.transforms import pipeline
    from nnstudy.models.factory import build_model, default_num_classes

    data_shape = tuple(int(n) for n in data_shape)
    weights = locate_weights(features, f"{where}.weights", progress)
    target = backbone_input_shape(features, data_shape, weights)
    classes = weights.run.num_classes if weights.run is not None else \
        default_num_classes(features.backbone)
    random_seed = features.seed if features.seed is not None else (seed or 0)
    torch.manual_seed(random_seed)
    net = build_model(features.backbone, target, classes)
    net.eval()
    names = tuple(n for n, _ in net.named_modules() if n)
    if features.layer not in names:
        raise ConfigError(unknown_layer_message(features, names, where))
    entered, feature_shape = _trace(net, features.layer, target)
    known = set(net.state_dict())
    _prune(net, entered)
    if weights.path is not None:
        state = read_state_dict(weights.path, f"{where}.weights")
        load_checked(net, state, f"{where}.weights", str(weights.path), ignored=known)
    with_weights = tuple(n for n in entered if _own_parameters(net.get_submodule(n)))
    if features.finetune > len(with_weights):
        raise ConfigError(
            f"{where}.finetune: {features.finetune}, but the backbone has "
            f"{len(with_weights)} modules with weights up to {features.layer} "
            f"({', '.join(with_weights) or 'none'})")
    trainable = with_weights[len(with_weights) - features.finetune:] if features.finetune \
        else ()
    frozen = _freeze(net, ["", *(n for n in entered if n not in trainable)])
    steps = preprocess_steps(features, data_shape, target, f"{where}.preprocess")
    preprocess = None
    if steps:
        pipe = pipeline(steps, data_shape, f"{where}.preprocess")
        preprocess = Preprocess(pipe.steps, data_shape, pipe.out_shape)
    extractor = FeatureExtractor(net, features.layer, data_shape, target, feature_shape,
                                 preprocess, trainable, frozen, features.describe())
    extractor.train(False)
    return Cut(extractor, weights, None if weights.path is not None else random_seed,
               names, with_weights)


def build_feature_model(spec: ModelSpec, input_shape: Sequence[int], num_classes: int,
                        seed: int | None = None) -> FeatureModel:
    """The FeatureModel of a `{features, head}` spec; the head is seeded by `seed` alone."""
    from nnstudy.models.factory import build_model

    assert spec.features is not None and spec.head is not None
    cut = cut_backbone(spec.features, input_shape, seed)
    if seed is not None:
        torch.manual_seed(seed)
    head = build_model(spec.head, (cut.extractor.feature_dim,), num_classes)
    model = FeatureModel(cut.extractor, head)
    model.input_shape = tuple(int(n) for n in input_shape)
    return model


def unknown_layer_message(features: FeaturesSpec, names: Sequence[str], where: str) -> str:
    """`model.features.layer: 'x' is not a module of alexnet; one of features, ...`."""
    listed = ", ".join(names[:LISTED_NAMES])
    more = (f", ... ({len(names)} in all; `nnstudy inspect {_inspect_arg(features)}` "
            "lists them)") if len(names) > LISTED_NAMES else ""
    return (f"{where}.layer: {features.layer!r} is not a module of the backbone "
            f"{features.backbone.describe()}; one of {listed}{more}")


def _inspect_arg(features: FeaturesSpec) -> str:
    return features.backbone.zoo if features.backbone.zoo is not None else "BACKBONE.yaml"


def _trace(net: nn.Module, layer: str, shape: Shape) -> tuple[list[str], Shape]:
    """The modules `net`'s forward pass enters before `layer` returns (in order, `layer`
    and its submodules included), and the layer's output shape for one example."""
    names = {id(m): n for n, m in net.named_modules() if n}
    entered: list[str] = []

    def enter(module: nn.Module, args: object) -> None:
        name = names.get(id(module))
        if name is not None and name not in entered:
            entered.append(name)

    handles = [m.register_forward_pre_hook(enter) for n, m in net.named_modules() if n]
    try:
        with torch.no_grad():
            out = run_to(net, layer, torch.zeros(1, *shape))
    except ConfigError:
        raise
    except (RuntimeError, ValueError, IndexError, TypeError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"model.features: the backbone does not run on its input "
                          f"{'x'.join(map(str, shape))}: {detail}") from None
    finally:
        for handle in handles:
            handle.remove()
    return entered, tuple(out.shape[1:])


def _prune(net: nn.Module, entered: Sequence[str]) -> None:
    """Replace every module the cut forward pass does not enter by nn.Identity (it never
    runs; its weights are not part of the features)."""
    keep = set(entered)
    for name in [n for n, _ in net.named_modules()]:
        if not name or name in keep:
            continue
        parent, _, child = name.rpartition(".")
        if parent and parent not in keep:
            continue  # an ancestor is replaced already
        owner = net.get_submodule(parent) if parent else net
        owner._modules[child] = nn.Identity()


def _own_parameters(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False))


def _freeze(net: nn.Module, names: Sequence[str]) -> list[str]:
    """Turn the parameters of the modules `names` ("" is `net` itself) into buffers of the
    same name; returns their full names."""
    frozen = []
    for name in names:
        module = net.get_submodule(name)
        for key, param in list(module.named_parameters(recurse=False)):
            del module._parameters[key]
            module.register_buffer(key, param.detach())
            frozen.append(f"{name}.{key}" if name else key)
    return frozen
