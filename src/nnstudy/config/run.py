"""A run config: the `data:`, `model:` and `train:` blocks, validated as one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from nnstudy.config.base import Spec, key_error
from nnstudy.config.data import DataSpec
from nnstudy.config.loading import apply_overrides, load_yaml, validate
from nnstudy.config.model import parse_model_spec
from nnstudy.config.train import TrainSpec
from nnstudy.errors import ConfigError

# The device of runs and studies when the config does not say: CUDA when torch sees a GPU,
# else the CPU (resolved where training happens: `nnstudy.training.device`).
DEFAULT_DEVICE = "auto"


class RunSpec(Spec):
    """One training run.

    Example:
        >>> spec = RunSpec.model_validate({"model": "softmax_regression"})
        >>> spec.data.name, spec.train.optimizer
        ('digits', 'sgd')
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str | None = None
    data: DataSpec = Field(default_factory=DataSpec)
    model: Any = Field(default_factory=lambda: {"mlp": {}})
    train: TrainSpec = Field(default_factory=TrainSpec)
    device: str = DEFAULT_DEVICE

    @field_validator("model", mode="before")
    @classmethod
    def _parse_model(cls, value: Any) -> Any:
        return parse_model_spec(value).to_config()

    @model_validator(mode="after")
    def _features_seed(self) -> RunSpec:
        """A random backbone (no weights) is seeded by the run's seed, written into the
        model so that the resolved config says which backbone it was, and trials of other
        seeds (other backbones, other features) do not share a group."""
        model = self.model
        features = model.get("features") if isinstance(model, dict) else None
        if not isinstance(features, dict):
            return self
        if features.get("finetune") and self.train.init != "default":
            raise ConfigError(  # not a ValueError: pydantic would prefix it with "config"
                f"train.init: {self.train.init} would re-initialize the backbone layers that "
                "model.features.finetune trains; leave init default with finetune")
        if features.get("weights") is None and features.get("seed") is None:
            filled = {**model, "features": {**features, "seed": self.train.seed}}
            object.__setattr__(self, "model", filled)
        return self

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value not in {"cpu", "cuda", "auto"} and not value.startswith("cuda:"):
            raise ValueError(f"{value!r} is not one of cpu, cuda, cuda:N, auto")
        return value

    @model_validator(mode="after")
    def _stopping_metric_has_its_split(self) -> RunSpec:
        """Early stopping on a validation metric needs a validation split."""
        stopping = self.train.early_stopping
        if stopping is not None and stopping.metric.startswith("valid_"):
            reason = self.data.why_no_valid_split()
            if reason is not None:
                raise key_error("RunSpec", ("train", "early_stopping", "metric"),
                                stopping.metric, no_valid_split(stopping.metric, reason,
                                                                "stop on train_loss"))
        return self

    def to_config(self) -> dict[str, Any]:
        """The resolved config as plain data (what config.yaml of a run holds); keys left
        unset (None: the optimizer's own default) are omitted."""
        return self.model_dump(mode="json", exclude_none=True)


def no_valid_split(metric: str, reason: str, instead: str) -> str:
    """The message for a validation `metric` asked of data without a validation split."""
    return (f"{metric} needs a validation split, but {reason}; set data.valid_fraction "
            f"above 0 (e.g. 0.1), or {instead}")


def load_run_spec(source: str | Path | dict[str, Any] | RunSpec,
                  overrides: list[str] | tuple[str, ...] = ()) -> RunSpec:
    """A RunSpec from a YAML path, a dict or a RunSpec, with `--set` overrides applied."""
    if isinstance(source, RunSpec):
        if not overrides:
            return source
        source = source.to_config()
    raw = load_yaml(source) if isinstance(source, str | Path) else source
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with data, model, train; got {raw!r}")
    raw = apply_overrides(dict(raw), overrides)
    return validate(RunSpec, raw)
