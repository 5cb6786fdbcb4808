"""The `train.schedule` spec: how the learning rate changes from epoch to epoch.

One class, discriminated by `name`; each schedule accepts only its own keys:

    constant      no keys                                 no scheduler
    step          step_size (required), gamma (0.1)       StepLR(step_size, gamma)
    exponential   gamma (0.95, as in report 002)          ExponentialLR(gamma)
    cosine        t_max (the run's epochs),               CosineAnnealingLR(T_max,
                  min_factor (0.0)                          eta_min=min_factor * lr)

A bare name is accepted where every key has a default: `schedule: exponential`. The math
is in `nnstudy.training.schedules.lr_factor`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from nnstudy.config.base import Spec

ScheduleName = Literal["constant", "step", "exponential", "cosine"]

# The keys each schedule accepts besides `name`.
SCHEDULE_KEYS: dict[str, tuple[str, ...]] = {
    "constant": (),
    "step": ("step_size", "gamma"),
    "exponential": ("gamma",),
    "cosine": ("t_max", "min_factor"),
}
DEFAULT_GAMMA = {"step": 0.1, "exponential": 0.95}


class ScheduleSpec(Spec):
    """A per-epoch learning-rate schedule; `ScheduleSpec()` is the constant one.

    Args:
        name: constant, step, exponential or cosine (default constant).
        step_size: step: multiply the lr by `gamma` every `step_size` epochs.
        gamma: step (default 0.1) and exponential (default 0.95): the decay factor.
        t_max: cosine: the epochs of one half-period (default: the run's epochs).
        min_factor: cosine: the lowest lr as a fraction of the base lr (default 0).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ScheduleName = "constant"
    step_size: int | None = Field(None, ge=1)
    gamma: float | None = Field(None, gt=0)
    t_max: int | None = Field(None, ge=1)
    min_factor: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data}
        return data

    @field_validator("step_size", "gamma", "t_max", "min_factor")
    @classmethod
    def _key_of_this_schedule(cls, value: Any, info: ValidationInfo) -> Any:
        name = info.data.get("name")
        accepted = SCHEDULE_KEYS.get(name, ())
        if value is not None and name is not None and info.field_name not in accepted:
            keys = ", ".join(accepted) or "no other key"
            raise ValueError(
                f"not a key of the {name} schedule (got {value!r}); {name} accepts {keys}"
            )
        return value

    @model_validator(mode="after")
    def _step_size_given(self) -> ScheduleSpec:
        if self.name == "step" and self.step_size is None:
            raise ValueError("the step schedule requires step_size, e.g. step_size: 5")
        return self

    @property
    def decay(self) -> float:
        """gamma, or its default for this schedule (step 0.1, exponential 0.95)."""
        return self.gamma if self.gamma is not None else DEFAULT_GAMMA.get(self.name, 1.0)
