"""The `train:` block of a run config: optimizer, schedule, regularization, stopping.

The optimizer's hyperparameters are keys of this block beside `optimizer`: `lr`,
`momentum`, `betas`, `eps`, ... Which keys an optimizer has, their defaults and their
ranges are written once, in the optimizer class's `hyper` table
(`nnstudy.training.optimizers`, docs/optimizers.md). This block asks the class: a key the
chosen optimizer does not have, or a value it refuses, is an error when the config is
loaded, in the optimizer's own words (`train.rho: not a hyperparameter of adam (got 0.5);
adam accepts lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from nnstudy.config.base import Spec, as_yaml, bool_as_number, key_error
from nnstudy.config.schedule import ScheduleSpec
from nnstudy.training.optimizers import OPTIMIZER_CLASSES, OPTIMIZERS, HyperparameterError

InitName = Literal[
    "default", "xavier_normal", "xavier_uniform", "glorot_normal", "glorot_uniform",
    "he_normal", "he_uniform", "kaiming_normal", "kaiming_uniform", "normal", "uniform",
]
Metric = Literal[
    "valid_loss", "valid_accuracy", "train_loss", "train_accuracy", "test_loss", "test_accuracy"
]

DEFAULT_EPOCHS = 10  # when neither `epochs` nor `steps` is given

# Every key that is some optimizer's hyperparameter: such a key is checked against the
# chosen optimizer; any other key that is not a field is unknown.
HYPERPARAMETERS = frozenset(key for cls in OPTIMIZER_CLASSES.values() for key in cls.hyper)
# How a value of each kind is read from YAML (as a pydantic field of that type would).
_SWITCH, _PAIR, _NUMBER = TypeAdapter(bool), TypeAdapter(tuple[float, float]), TypeAdapter(float)


class EarlyStoppingSpec(Spec):
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


class TrainSpec(Spec):
    """How to train: see docs/training.md for every key with its default.

    Besides the fields below, the block holds the chosen optimizer's hyperparameters
    other than `lr` (pydantic's extra keys: `spec.model_extra`, or `optimizer_hparams()`
    with `lr`); only those given are stored, the rest are the optimizer's defaults.
    """

    # Extra keys are allowed only because `_optimizer_keys` lets none through but the
    # chosen optimizer's hyperparameters.
    model_config = ConfigDict(extra="allow", frozen=True)
    optimizer: str = "sgd"
    lr: float | None = Field(None, gt=0)  # None: the optimizer's default, filled in
    l2: float = Field(0.0, ge=0)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    batch_size: int = Field(64, gt=0)
    epochs: int | None = Field(None, gt=0)  # None with `steps`; else filled in (10)
    steps: int | None = Field(None, gt=0)  # a budget in optimizer steps, instead of epochs
    log_every: int | None = Field(None, gt=0)  # running training loss every N mini-batches
    seed: int = 0
    init: InitName = "default"
    init_scale: float = Field(0.01, gt=0)
    loss: Literal["cross_entropy", "mse"] = "cross_entropy"
    loss_reduction: Literal["mean", "sum"] = "mean"
    early_stopping: EarlyStoppingSpec | None = None
    eval_batch_size: int = Field(4096, gt=0)
    eval_every: int = Field(1, gt=0)  # evaluate every N epochs and at the last (see trainer)
    engine: Literal["torch", "numpy"] = "torch"

    @field_validator("optimizer")
    @classmethod
    def _known_optimizer(cls, value: str) -> str:
        if value not in OPTIMIZER_CLASSES:
            raise ValueError(f"{value!r} is not one of {', '.join(OPTIMIZERS)}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _optimizer_keys(cls, data: Any) -> Any:
        """Keep, besides the fields, the chosen optimizer's hyperparameters, each read as
        its kind (number, pair, switch), in the order of the optimizer's table; fill in
        the optimizer's default lr. A key the optimizer does not have is an error."""
        if not isinstance(data, dict):
            return data
        name = data.get("optimizer", "sgd")
        optimizer = OPTIMIZER_CLASSES.get(name) if isinstance(name, str) else None
        if optimizer is None:
            return data  # `_known_optimizer` says what is wrong
        out = {k: v for k, v in data.items() if k in cls.model_fields}
        for key, value in data.items():
            if key not in cls.model_fields and key not in HYPERPARAMETERS:
                raise _error(key, value, "extra_forbidden")
        # null is the optimizer's default, whichever optimizer has the key
        given = {k: v for k, v in data.items() if k not in cls.model_fields and v is not None}
        for key, value in given.items():
            if key not in optimizer.hyper:
                raise _error(key, value, f"not a hyperparameter of {name} (got {value!r}); "
                                         f"{name} accepts {optimizer.accepted()}")
        for key, hyper in optimizer.hyper.items():
            if key not in given:
                continue
            value = given[key]
            if hyper.pair and not (isinstance(value, list | tuple) and len(value) == 2):
                raise _error(key, value, f"must be a pair (b1, b2) (got {value!r})")
            if not hyper.switch and bool_as_number(tuple[float, float] if hyper.pair
                                                   else float, value):
                raise _error(key, value, f"{as_yaml(value)}: a boolean where a number "
                                         "belongs (write a number such as 0.9)")
            kind = _SWITCH if hyper.switch else _PAIR if hyper.pair else _NUMBER
            out[key] = _read(kind, key, value)
        if out.get("lr") is None:  # filled in, so that configs and reports show the value used
            out["lr"] = optimizer.hyper["lr"].default
        return out

    @model_validator(mode="before")
    @classmethod
    def _epochs_or_steps(cls, data: Any) -> Any:
        """Training lasts `epochs` or `steps`, never both; neither given: 10 epochs."""
        if not isinstance(data, dict):
            return data
        epochs, steps = data.get("epochs"), data.get("steps")
        if epochs is not None and steps is not None:
            raise _error("steps", steps, f"give epochs or steps, not both (got epochs "
                                         f"{epochs!r} and steps {steps!r})")
        if epochs is None and steps is None:
            return {**data, "epochs": DEFAULT_EPOCHS}
        return data

    @model_validator(mode="after")
    def _numpy_evaluates_every_epoch(self) -> TrainSpec:
        if self.engine == "numpy" and self.eval_every != 1:
            raise _error("eval_every", self.eval_every,
                         f"the numpy engine evaluates after every epoch (got eval_every "
                         f"{self.eval_every}); remove it, or use engine: torch")
        return self

    @model_validator(mode="after")
    def _optimizer_accepts(self) -> TrainSpec:
        """The values, as the optimizer checks them (ranges, nesterov needs momentum)."""
        hparams = self.optimizer_hparams()
        try:
            OPTIMIZER_CLASSES[self.optimizer].check(hparams)
        except HyperparameterError as exc:
            raise _error(exc.key, hparams.get(exc.key), exc.detail) from None
        return self

    def optimizer_hparams(self) -> dict[str, Any]:
        """The hyperparameters given for the optimizer, `lr` included."""
        return {"lr": self.lr, **(self.model_extra or {})}


def _read(kind: TypeAdapter, key: str, value: Any) -> Any:
    """`value` read by `kind`; an error names `key`."""
    try:
        return kind.validate_python(value)
    except ValidationError as exc:
        errors = [InitErrorDetails(type=e["type"], loc=(key, *e["loc"]), input=e["input"],
                                   ctx=e.get("ctx", {})) for e in exc.errors()]
        raise ValidationError.from_exception_data("TrainSpec", errors) from None


def _error(key: str, value: Any, detail: str) -> ValidationError:
    """A validation error at `train.<key>`: pydantic's `extra_forbidden` (unknown key), or
    `detail` as the message."""
    if detail == "extra_forbidden":
        error = InitErrorDetails(type="extra_forbidden", loc=(key,), input=value)
        return ValidationError.from_exception_data("TrainSpec", [error])
    return key_error("TrainSpec", (key,), value, detail)
