"""The `train:` block of a run config: optimizer, schedule, regularization, stopping."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nnstudy.config.schedule import ScheduleSpec

OptimizerName = Literal["sgd", "momentum", "nesterov", "adam", "rmsprop", "adadelta", "adagrad"]
InitName = Literal[
    "default", "xavier_normal", "xavier_uniform", "glorot_normal", "glorot_uniform",
    "he_normal", "he_uniform", "kaiming_normal", "kaiming_uniform", "normal", "uniform",
]
Metric = Literal[
    "valid_loss", "valid_accuracy", "train_loss", "train_accuracy", "test_loss", "test_accuracy"
]

# Learning rates when `lr` is not given: torch.optim's defaults, and 0.1 for plain SGD (the
# reports' setting), since torch.optim.SGD has no meaningful default.
DEFAULT_LR = {
    "sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adam": 1e-3, "rmsprop": 1e-2,
    "adadelta": 1.0, "adagrad": 1e-2,
}

# The optimizer hyperparameters a config may set; each goes to make_optimizer by name.
OPTIMIZER_KEYS = (
    "momentum", "dampening", "betas", "eps", "rho", "alpha", "centered", "amsgrad",
    "weight_decay", "decoupled_weight_decay", "lr_decay", "initial_accumulator_value",
)


class EarlyStoppingSpec(BaseModel):
    """Stop a model when `metric` has not improved by `min_delta` for `patience` epochs;
    its weights go back to the best epoch."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: Metric = "valid_loss"
    patience: int = Field(5, ge=1)
    min_delta: float = Field(0.0, ge=0.0)
    mode: Literal["auto", "min", "max"] = "auto"

    @property
    def maximize(self) -> bool:
        return self.mode == "max" or (self.mode == "auto" and self.metric.endswith("accuracy"))


class TrainSpec(BaseModel):
    """How to train: see docs/training.md for every key with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    optimizer: OptimizerName = "sgd"
    lr: float | None = Field(None, gt=0)
    momentum: float | None = Field(None, ge=0)
    dampening: float | None = Field(None, ge=0, le=1)
    betas: tuple[float, float] | None = None
    eps: float | None = Field(None, gt=0)
    rho: float | None = Field(None, ge=0, le=1)
    alpha: float | None = Field(None, ge=0, le=1)
    centered: bool | None = None
    amsgrad: bool | None = None
    weight_decay: float | None = Field(None, ge=0)
    decoupled_weight_decay: bool | None = None
    lr_decay: float | None = Field(None, ge=0)
    initial_accumulator_value: float | None = Field(None, ge=0)
    l2: float = Field(0.0, ge=0)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    batch_size: int = Field(64, gt=0)
    epochs: int = Field(10, gt=0)
    seed: int = 0
    init: InitName = "default"
    init_scale: float = Field(0.01, gt=0)
    loss: Literal["cross_entropy", "mse"] = "cross_entropy"
    early_stopping: EarlyStoppingSpec | None = None
    eval_batch_size: int = Field(4096, gt=0)
    engine: Literal["torch", "numpy"] = "torch"

    @model_validator(mode="after")
    def _betas_in_range(self) -> TrainSpec:
        if self.betas is not None and not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas: each must be in [0, 1), got {list(self.betas)}")
        if self.lr is None:  # resolved here, so that configs and reports show the value used
            return self.model_copy(update={"lr": DEFAULT_LR[self.optimizer]})
        return self

    def optimizer_hparams(self) -> dict[str, object]:
        """The hyperparameters given for the optimizer, `lr` included."""
        out: dict[str, object] = {"lr": self.lr}
        for key in OPTIMIZER_KEYS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out
