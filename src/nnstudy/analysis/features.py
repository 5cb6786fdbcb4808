"""`inspect` of a features model: the backbone up to its layer, counted once per example, and
the head, counted per training step.

A run of a features model with a frozen backbone costs (docs/counting.md, docs/transfer.md)

    B x (N_train + N_valid + N_test)  +  T_head x N_train x epochs

FLOPs, where B is the backbone's forward cost per example up to the layer (its features are
computed once per example of each split and cached) and T_head the head's training cost
per sample (forward + backward). Fine-tuning (`finetune: K`) runs the backbone at every step:
T x N_train x epochs, with T counted on the whole model (forward through the backbone and
the head, backward through the head and the K fine-tuned layers).

The preprocessing (channels, resize, normalize) is data preparation, not a layer: it is
named in the notes and not counted.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from torch import nn

from nnstudy.analysis.op_costs import OpCost
from nnstudy.analysis.summary import Summary, format_count, format_shape
from nnstudy.analysis.training_cost import measure_training_cost
from nnstudy.models.features import FeatureExtractor, FeatureModel

__all__ = ["FeaturesSummary", "frozen_as_parameters", "inspect_features"]

BACKBONE, HEAD = "backbone.", "head."


@dataclass(frozen=True)
class FeaturesSummary(Summary):
    """A Summary whose rows are the backbone's (`backbone.*`) and the head's (`head.*`),
    with the cost of each part: `backbone_cost` per example (run once per example when
    `fine_tuned` is empty), `head_cost` per example forward; `training` is the head's
    training step (or, fine-tuning, the whole model's)."""

    description: str = ""
    layer: str = ""
    data_shape: tuple[int, ...] = ()
    feature_shape: tuple[int, ...] = ()
    preprocess: tuple[str, ...] = ()
    fine_tuned: tuple[str, ...] = ()
    backbone_cost: OpCost = field(default_factory=OpCost)
    head_cost: OpCost = field(default_factory=OpCost)
    backbone_params: int = 0
    head_params: int = 0

    @property
    def feature_dim(self) -> int:
        return math.prod(self.feature_shape)

    def notes(self, bias: bool = True) -> list[str]:
        """The parts, their costs, and how a run adds them up; then the base notes on
        uncounted operators, unused parameters and containers."""
        t = self.totals(bias)

        def flops(cost: OpCost) -> str:
            return (f"{format_count(cost.flops)} FLOPs with bias, "
                    f"{format_count(cost.flops_no_bias)} without" if bias
                    else f"{format_count(cost.flops_no_bias)} FLOPs without bias")

        frozen = ("frozen" if not self.fine_tuned else
                  f"fine-tuning the last {len(self.fine_tuned)} with weights: "
                  + ", ".join(self.fine_tuned))
        when = ("run once per example of each split (train, valid, test): its features are "
                "cached, training steps do not run it" if not self.fine_tuned else
                "run at every training step (fine-tuning: no cache)")
        lines = [
            f"Parameters: {format_count(t['params'])} ({format_count(t['trainable_params'])} "
            f"trainable): backbone {format_count(self.backbone_params)}, head "
            f"{format_count(self.head_params)}",
            f"Backbone {self.description} ({frozen}), per example: "
            f"{format_count(self.backbone_cost.macs)} MACs, {flops(self.backbone_cost)}; "
            f"{when}",
        ]
        if self.preprocess:
            lines.append(
                f"Preprocess (data preparation, not counted): {format_shape(self.data_shape)} "
                f"-> {format_shape(self.input_shape)}: {', '.join(self.preprocess)}")
        lines.append(f"Features: {format_shape(self.feature_shape)} = "
                     f"{format_count(self.feature_dim)} values per example")
        lines.append(f"Head, per example (forward): {format_count(self.head_cost.macs)} MACs, "
                     f"{flops(self.head_cost)}")
        if self.training is not None:
            step = self.training.flops if bias else self.training.flops_no_bias
            part = "head" if not self.fine_tuned else "backbone and head"
            lines.append(
                f"Training per sample ({part}, forward + backward, counted): "
                f"{format_count(step)} FLOPs{'' if bias else ' without bias'} per step; "
                f"measured on a batch of {self.training.batch_size}")
            once = self.backbone_cost.flops if bias else self.backbone_cost.flops_no_bias
            lines.append(
                f"A run: {format_count(once)} x (train + valid + test examples) + "
                f"{format_count(step)} x train examples x epochs FLOPs" if not self.fine_tuned
                else f"A run: {format_count(step)} x train examples x epochs FLOPs")
        base = super().notes(bias)
        lines += [line for line in base if line.startswith(("Uncounted", "Unused", "Collapse"))]
        return lines

    def to_dict(self, bias: bool = True) -> dict[str, object]:
        out = super().to_dict(bias)
        out["features"] = {
            "backbone": self.description,
            "layer": self.layer,
            "data_shape": list(self.data_shape),
            "backbone_input": list(self.input_shape),
            "feature_shape": list(self.feature_shape),
            "preprocess": list(self.preprocess),
            "fine_tuned": list(self.fine_tuned),
            "backbone_params": self.backbone_params,
            "head_params": self.head_params,
            "backbone_flops_per_example": (self.backbone_cost.flops if bias
                                           else self.backbone_cost.flops_no_bias),
            "head_flops_per_example": (self.head_cost.flops if bias
                                       else self.head_cost.flops_no_bias),
        }
        return out


def frozen_as_parameters(model: FeatureExtractor) -> FeatureExtractor:
    """A copy without its preprocessing whose frozen weights are parameters again, with
    `requires_grad=False`: what `inspect` counts as frozen parameters."""
    view = copy.deepcopy(model)
    if "preprocess" in view._modules:
        del view._modules["preprocess"]
    for name in view.frozen_weights:
        owner, _, key = name.rpartition(".")
        module = view.backbone.get_submodule(owner)
        tensor = module._buffers.pop(key)
        module.register_parameter(key, nn.Parameter(tensor, requires_grad=False))
    return view


def inspect_features(model: FeatureExtractor, *, name: str,
                     training: bool = True) -> FeaturesSummary:
    """Rows and costs of a FeatureExtractor or FeatureModel, from its backbone input on (see
    the module docstring)."""
    from nnstudy.analysis.inspection import inspect_module

    view = frozen_as_parameters(model)
    has_head = isinstance(model, FeatureModel)
    fine_tuned = tuple(model.trainable) if has_head else ()
    whole = inspect_module(view, model.backbone_input, name=name,
                           training=training and has_head and bool(fine_tuned))
    backbone_rows = [r for r in whole.rows if not r.name.startswith(HEAD)]
    head_rows = [r for r in whole.rows if r.name.startswith(HEAD)]
    step = whole.training
    if training and has_head and not fine_tuned:
        step = measure_training_cost(view.head, (view.feature_dim,))
    preprocess = model._modules.get("preprocess")
    fields = {f: getattr(whole, f) for f in Summary.__dataclass_fields__}
    fields["training"] = step
    return FeaturesSummary(
        **fields,
        description=model.description,
        layer=model.layer,
        data_shape=model.input_shape,
        feature_shape=model.feature_shape,
        preprocess=tuple(_step_name(s) for s in preprocess.to_config()) if preprocess else (),
        fine_tuned=fine_tuned,
        backbone_cost=sum((r.cost for r in backbone_rows), OpCost()),
        head_cost=sum((r.cost for r in head_rows), OpCost()),
        backbone_params=sum(r.params for r in backbone_rows),
        head_params=sum(r.params for r in head_rows),
    )


def _step_name(step: object) -> str:
    """`to_rgb`, `resize 224x224`, `normalize imagenet`, `normalize mean [..] std [..]`."""
    if isinstance(step, str):
        return step
    (kind, value), = step.items()
    if kind == "resize":
        return f"resize {'x'.join(map(str, value))}"
    if isinstance(value, dict):
        return f"{kind} " + " ".join(f"{k} {v}" for k, v in value.items())
    return f"{kind} {value}"
