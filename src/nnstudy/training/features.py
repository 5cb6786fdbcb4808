"""Transfer learning's training side: a frozen backbone runs once, the heads train on its
features.

`prepare_features(specs, bundle)` is the step before training. For specs whose model is
`{features: {...}, head: ...}` (one group: they share the model and the data) it

1. builds the backbone cut at its layer (`nnstudy.models.features.cut_backbone`): weights
   loaded and checked, or random from `model.features.seed`;
2. gets the features of every example of every split from `cached_features` (memory, then
   disk, else computed): the backbone runs in inference mode, in large batches, each batch
   preprocessed on its way in (224 x 224 images never exist for a whole split), with a
   progress bar when asked. The key is everything the features depend on: the backbone's
   spec, the sha256 of the weights it holds, the layer, the input shape and preprocessing,
   and the data's fingerprint; the memory they need is checked before anything runs;
3. returns head specs (`HeadRunSpec`: the head's model, written back as the run's whole
   config) and `bundle.with_inputs(features)`, so the batched trainer trains every head of
   the group at once, on vectors, as it trains MLPs on pixels.

With `finetune: K` nothing is cached (the backbone trains, so it runs at every step): the
specs and the data pass through unchanged, and the trainer trains the whole FeatureModel.

`Prepared.annotate(summary)` then adds to a run's summary what the features were and cost:
training FLOPs count the backbone once per example of each split and the head per step
(docs/counting.md), and a random backbone is reported as a finding (`random_backbone`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from pydantic import PrivateAttr
from torch import Tensor

from nnstudy.config.model import ModelSpec, parse_model_spec
from nnstudy.config.run import RunSpec
from nnstudy.errors import ConfigError

#: The backbone's batches are sized so that one batch's input and activations take about
#: this much memory (AlexNet up to features.8 at 224 x 224: 4.3 MB per example, 62 a batch),
#: and hold at most MAX_FEATURE_BATCH examples (more does not run faster on a CPU).
FEATURE_BATCH_BYTES = 256 << 20
MAX_FEATURE_BATCH = 1024


class HeadRunSpec(RunSpec):
    """The run spec the trainer sees for a features model: the head's model, on the
    features. `to_config()` gives the config of the run it stands for (backbone and all),
    which is what a run directory's config.yaml records."""

    _written: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def of(cls, spec: RunSpec, head: ModelSpec) -> HeadRunSpec:
        written = spec.to_config()
        out = cls.model_validate({**written, "model": head.to_config()})
        out._written = written
        return out

    def to_config(self) -> dict[str, Any]:
        return dict(self._written)


@dataclass
class Prepared:
    """What the trainer trains (`specs` on `bundle`) and what the summary is to say about
    the features (`info`, None for a model without them)."""

    specs: list[RunSpec]
    bundle: Any
    info: dict[str, Any] | None = None
    findings: list[dict[str, str]] = field(default_factory=list)

    def annotate(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Add `features` to a run's summary; with a frozen backbone, training FLOPs become
        the backbone's once per example of each split plus the head's per step."""
        if self.info is None:
            return summary
        info = dict(self.info)
        once = info.get("backbone_flops")
        if once is not None and "training_flops" in summary:
            info["head_training_flops"] = summary["training_flops"]
            summary["training_flops"] = summary["training_flops"] + once
        summary["features"] = info
        summary["diagnostics"] = [*summary.get("diagnostics", []), *self.findings]
        return summary


def prepare_features(specs: RunSpec | Sequence[RunSpec], bundle, *, progress: bool = False,
                     device: str | torch.device | None = None) -> Prepared:
    """(specs, bundle) -> what to train on (see the module docstring). `specs` are one
    group's (same model and data); `device` overrides theirs for running the backbone."""
    specs = [specs] if isinstance(specs, RunSpec) else list(specs)
    model = parse_model_spec(specs[0].model)
    if model.features is None:
        return Prepared(specs, bundle)
    if any(s.model != specs[0].model for s in specs):
        raise ValueError("prepare_features: the specs of one group must share their model")
    from nnstudy.models.features import cut_backbone

    features = model.features
    if bundle.spec.augment:
        kinds = ", ".join(s.kind for s in bundle.spec.augment)
        raise ConfigError(f"data.augment: {kinds} cannot apply to a backbone's features, "
                          "which are computed once from the unaugmented images; remove "
                          "data.augment (or fine-tune: model.features.finetune)")
    cut = cut_backbone(features, bundle.input_shape, specs[0].train.seed, progress=progress)
    extractor = cut.extractor
    info = _describe(cut, bundle)
    findings = [_random_finding(cut)] if cut.weights.path is None else []
    say = _Say(progress)
    if features.finetune:
        if any(s.train.engine == "numpy" for s in specs):
            raise ConfigError("train.engine: numpy trains MLPs on vectors; fine-tuning a "
                              "backbone (model.features.finetune) needs engine torch")
        info["cache"] = {"source": "none", "why": (
            f"fine-tuning {', '.join(extractor.trainable)}: the backbone trains, so it runs at "
            "every training step")}
        say(f"features: {extractor.description}, weights {cut.describe_weights()}; "
            f"{info['cache']['why']} (no cache)")
        return Prepared(specs, bundle, info, findings)

    from nnstudy.analysis.features import inspect_features
    from nnstudy.data.feature_cache import cached_features, feature_bytes, state_dict_sha256
    from nnstudy.training.trainer import resolve_device

    cost = inspect_features(extractor, name=extractor.description, training=False)
    per_example = cost.backbone_cost.flops
    examples = {s.name: len(s) for s in bundle.splits}
    info.update(backbone_flops_per_example=per_example,
                backbone_flops=per_example * sum(examples.values()), examples=examples)
    dev = resolve_device(str(device or specs[0].device))
    batch = feature_batch_size(extractor, cost.activation_bytes)
    weights_sha = state_dict_sha256(extractor.backbone.state_dict())
    key = features_key(model, extractor, weights_sha, bundle.fingerprint())
    got = cached_features(
        key,
        lambda: compute_features(extractor, bundle, dev, batch, progress),
        expected_bytes=feature_bytes(sum(examples.values()), extractor.feature_shape,
                                     torch.float32),
        what=f"features of {extractor.description}",
    )
    info["weights_sha256"] = weights_sha
    info["cache"] = {"source": got.source, "path": str(got.path), "digest": got.digest,
                     "seconds": round(got.seconds, 3), "bytes": got.nbytes,
                     "batch_size": batch, "device": str(dev), "notes": list(got.notes)}
    how = {"computed": f"computed in {got.seconds:.1f} s on {dev} (batches of {batch}), "
                       f"cached in {got.path}",
           "disk": f"read from the cache {got.path} in {got.seconds:.1f} s",
           "memory": "reused from memory"}[got.source]
    say(f"features: {extractor.description} "
        f"({'x'.join(map(str, extractor.feature_shape))} = {extractor.feature_dim:,} values) "
        f"of {sum(examples.values()):,} images, weights {cut.describe_weights()}: {how}")
    heads = bundle.with_inputs(
        got.tensors, origin=f"{extractor.description} features of {bundle.origin}")
    return Prepared([HeadRunSpec.of(s, model.head) for s in specs], heads, info, findings)


def features_key(model: ModelSpec, extractor, weights_sha256: str, data: str
                 ) -> dict[str, Any]:
    """Everything a backbone's features depend on (the feature cache's key)."""
    assert model.features is not None
    preprocess = extractor._modules.get("preprocess")
    return {
        "backbone": model.features.backbone.to_config(),
        "layer": model.features.layer,
        "weights": weights_sha256,
        "input": list(extractor.backbone_input),
        "preprocess": preprocess.to_config() if preprocess is not None else [],
        "data": data,
        "dtype": "float32",
    }


def feature_batch_size(extractor, activation_bytes: int) -> int:
    """Examples per backbone batch: FEATURE_BATCH_BYTES over one example's input and
    activations (float32), between 1 and MAX_FEATURE_BATCH."""
    per_example = 4 * math.prod(extractor.backbone_input) + activation_bytes
    return max(1, min(MAX_FEATURE_BATCH, FEATURE_BATCH_BYTES // max(1, per_example)))


@torch.inference_mode()
def compute_features(extractor, bundle, device: torch.device, batch_size: int,
                     progress: bool = False) -> dict[str, Tensor]:
    """The flattened features [N, D] of every split, float32 on the CPU: the extractor (in
    eval mode, on `device`) on batches of `batch_size` examples, each preprocessed alone."""
    extractor = extractor.to(device).eval()
    total = sum(len(s) for s in bundle.splits)
    out: dict[str, Tensor] = {}
    with _Bar(extractor.description, total, progress) as bar:
        for split in bundle.splits:
            n = len(split)
            feats = torch.empty(n, extractor.feature_dim, dtype=torch.float32)
            for start in range(0, n, batch_size):
                idx = torch.arange(start, min(n, start + batch_size))
                x = bundle.batch(split.name, idx).to(device)
                feats[start : start + len(idx)] = extractor(x).to("cpu", torch.float32)
                bar.advance(split.name, len(idx))
            out[split.name] = feats
    return out


def _describe(cut, bundle) -> dict[str, Any]:
    extractor = cut.extractor
    preprocess = extractor._modules.get("preprocess")
    return {
        "backbone": extractor.description,
        "layer": extractor.layer,
        "weights": cut.describe_weights(),
        "input_shape": list(bundle.input_shape),
        "backbone_input": list(extractor.backbone_input),
        "preprocess": preprocess.to_config() if preprocess is not None else [],
        "feature_shape": list(extractor.feature_shape),
        "feature_dim": extractor.feature_dim,
        "frozen_params": sum(extractor.backbone.get_buffer(n).numel()
                             for n in extractor.frozen_weights),
        "finetune": list(extractor.trainable),
    }


def _random_finding(cut) -> dict[str, str]:
    return {
        "code": "random_backbone",
        "message": (f"the backbone's weights are {cut.describe_weights()}: no "
                    f"model.features.weights was given, so the features are those of an "
                    f"untrained {cut.extractor.description}"),
        "suggestion": ("give model.features.weights: a state dict file, run:DIR of a trained "
                       "nnstudy run, or imagenet (alexnet)"),
    }


class _Say:
    """One line on stderr when progress is shown, else nothing."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str) -> None:
        if self.enabled:
            from rich.console import Console

            Console(stderr=True, soft_wrap=True).print(text, highlight=False, markup=False)


class _Bar:
    """A rich progress bar on stderr for the backbone's pass: images done, rate, ETA."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self._bar = None
        self.label = label
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("images  {task.fields[rate]}"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True),
            )
            self._task = self._bar.add_task(f"backbone {label}", total=total, rate="")
            self._start = time.perf_counter()
            self._done = 0

    def __enter__(self) -> _Bar:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, split: str, n: int) -> None:
        if self._bar is not None:
            self._done += n
            rate = self._done / max(time.perf_counter() - self._start, 1e-9)
            self._bar.update(self._task, advance=n, rate=f"{rate:,.0f}/s",
                             description=f"backbone {self.label}: {split}")
