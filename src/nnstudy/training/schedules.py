"""Learning-rate schedules per epoch: the factor that multiplies a model's base lr.

With e the epoch being trained, counted from 0, and lr the base learning rate:

    constant      lr_e = lr
    step          lr_e = lr * gamma ** floor(e / step_size)                 (StepLR)
    exponential   lr_e = lr * gamma ** e                                    (ExponentialLR)
    cosine        lr_e = eta_min + (lr - eta_min) * (1 + cos(pi * e / T_max)) / 2,
                  eta_min = min_factor * lr, T_max = the run's epochs       (CosineAnnealingLR)

These are the closed forms of torch.optim.lr_scheduler's per-epoch values (call
`scheduler.step()` once per epoch; the lr of epoch e is the one after e calls). torch
computes StepLR and ExponentialLR by repeated multiplication, so the two agree to
rounding (tests/training/test_schedules.py). The cosine schedule keeps its period after
T_max, as torch's does. Cosine annealing: Loshchilov & Hutter, "SGDR: Stochastic
Gradient Descent with Warm Restarts", ICLR 2017.
"""

from __future__ import annotations

import math

from nnstudy.config.schedule import ScheduleSpec


def lr_factor(spec: ScheduleSpec, epoch: int, epochs: int) -> float:
    """The factor lr_e / lr for `epoch` (from 0) of a run of `epochs` epochs."""
    if spec.name == "constant":
        return 1.0
    if spec.name == "step":
        return spec.decay ** (epoch // spec.step_size)
    if spec.name == "exponential":
        return spec.decay**epoch
    t_max = spec.t_max if spec.t_max is not None else epochs
    low = spec.min_factor or 0.0
    return low + (1.0 - low) * (1.0 + math.cos(math.pi * epoch / t_max)) / 2.0
