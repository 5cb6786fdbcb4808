"""Per-epoch learning-rate schedules against torch.optim.lr_scheduler."""

from __future__ import annotations

import math

import pytest
import torch

from nnstudy.config.loading import validate
from nnstudy.config.schedule import ScheduleSpec
from nnstudy.errors import ConfigError
from nnstudy.training.schedules import lr_factor

BASE_LR = 0.3
EPOCHS = 40


def torch_lrs(make_scheduler, epochs: int = EPOCHS) -> list[float]:
    """The lr torch uses in each epoch: the lr before the e-th `scheduler.step()`."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)
    sched = make_scheduler(opt)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def our_lrs(spec: ScheduleSpec, epochs: int = EPOCHS) -> list[float]:
    return [BASE_LR * lr_factor(spec, e, epochs) for e in range(epochs)]


S = torch.optim.lr_scheduler


@pytest.mark.parametrize(
    ("spec", "make"),
    [
        ({"name": "constant"}, lambda o: S.LambdaLR(o, lambda e: 1.0)),
        ({"name": "step", "step_size": 7}, lambda o: S.StepLR(o, 7)),
        ({"name": "step", "step_size": 3, "gamma": 0.5}, lambda o: S.StepLR(o, 3, gamma=0.5)),
        ({"name": "exponential"}, lambda o: S.ExponentialLR(o, gamma=0.95)),
        ({"name": "exponential", "gamma": 0.8}, lambda o: S.ExponentialLR(o, gamma=0.8)),
        ({"name": "cosine"}, lambda o: S.CosineAnnealingLR(o, T_max=EPOCHS)),
        ({"name": "cosine", "t_max": 15, "min_factor": 0.1},
         lambda o: S.CosineAnnealingLR(o, T_max=15, eta_min=0.1 * BASE_LR)),
    ],
    ids=lambda v: str(v) if isinstance(v, dict) else "",
)
def test_schedule_matches_torch_lr_scheduler_epoch_by_epoch(spec, make):
    ours = our_lrs(ScheduleSpec(**spec))
    theirs = torch_lrs(make)
    for e, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15), (e, a, b)


def test_cosine_reaches_its_floor_at_t_max_and_starts_at_the_base_lr():
    spec = ScheduleSpec(name="cosine", min_factor=0.2)
    assert lr_factor(spec, 0, 10) == 1.0
    assert math.isclose(lr_factor(spec, 10, 10), 0.2)
    assert 0.2 < lr_factor(spec, 5, 10) < 1.0


def test_default_spec_is_constant_and_a_bare_name_is_accepted():
    assert ScheduleSpec().name == "constant"
    assert lr_factor(ScheduleSpec(), 12, 15) == 1.0
    spec = validate(ScheduleSpec, "exponential", "train.schedule")
    assert spec.name == "exponential"
    assert lr_factor(spec, 2, 15) == pytest.approx(0.95**2)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "cosin"}, "train.schedule.name: 'cosin' is not one of constant, step"),
        ({"name": "cosine", "gamma": 0.9}, "train.schedule.gamma: not a key of the cosine"),
        ({"name": "exponential", "step_size": 2}, "train.schedule.step_size: not a key of the"),
        ({"name": "step"}, "train.schedule: the step schedule requires step_size"),
        ({"name": "step", "step_size": 2, "warmup": 3}, "train.schedule.warmup: unknown key"),
        ({"name": "exponential", "gamma": -1}, "train.schedule.gamma:"),
    ],
)
def test_bad_schedule_specs_raise_config_error_naming_the_key(data, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as info:
        validate(ScheduleSpec, data, "train.schedule")
    assert "\n" not in str(info.value)
