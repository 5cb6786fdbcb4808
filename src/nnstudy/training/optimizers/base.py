"""BatchedOptimizer: the machinery shared by every optimizer that steps G models at once.

Every parameter is one tensor of shape [G, ...], model axis first, and each model may
have its own hyperparameters. An optimizer subclass declares its hyperparameters
(`hyper`), its per-parameter state (`_slots`) and the update of one stacked parameter
(`_update`); this class validates the hyperparameters, holds them and the state, counts
steps per model, freezes the models `active` leaves out, and reads and writes state.

How the update stays fast (the step is memory-bound on CPU):
- A hyperparameter that all models share is a Python float and goes into the kernels as
  a scalar; one that differs is a [G] tensor, cast to the parameters' dtype and device
  and viewed as [G, 1, ..., 1] once per parameter rank when the optimizer is built (or
  lr changes), not per step.
- Coefficients that depend on the step count (bias corrections, Adagrad's decayed lr) are
  Python floats while all models share their step count and the hyperparameters in them;
  otherwise [G] tensors made per step (a few tiny operations).
- Updates are in place (mul_, lerp_, addcmul_, addcdiv_); temporaries live in scratch
  buffers allocated once.
- With `active` given and some model off, the step runs on each contiguous run of active
  models through slices of the stacked tensors (views: no copy, no masking arithmetic).
- sqrt of an exact zero (or of a tiny number) is several times slower than of a normal
  number on the CPU this was built for; `sqrt_floor` lifts such entries to a floor far
  below eps before the sqrt (see its docstring for the bound on the change).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from nnstudy.errors import ConfigError, ShapeError

# Hyperparameters are keys of a run config's `train:` block; errors name them there.
KEY_PREFIX = "train."

Coef = float | Tensor  # one value for all models, or a [G, 1, ..., 1] view (per model)


class HyperparameterError(ConfigError):
    """A hyperparameter an optimizer does not have, or a value it refuses.

    `key` is the hyperparameter and `detail` what is wrong with it; the message is the
    two as a config names them: `train.rho: not a hyperparameter of adam (got 0.9); ...`.
    """

    def __init__(self, key: str, detail: str) -> None:
        super().__init__(f"{KEY_PREFIX}{key}: {detail}")
        self.key, self.detail = key, detail


@dataclass(frozen=True)
class Hyper:
    """A hyperparameter: its default and, for numbers, the interval it must lie in.

    `default` is a float (per-model values allowed), a bool (one switch for the whole
    group) or a pair of floats (`betas`; each element per-model).
    """

    default: float | bool | tuple[float, float]
    low: float = 0.0
    high: float = math.inf
    high_open: bool = False

    @property
    def switch(self) -> bool:
        """Whether this is a true/false setting, one for the whole group (amsgrad, nesterov)."""
        return isinstance(self.default, bool)

    @property
    def pair(self) -> bool:
        """Whether this is a pair of numbers (betas)."""
        return isinstance(self.default, tuple)

    def accepts(self, x: float) -> bool:
        below = x < self.high if self.high_open else x <= self.high
        return math.isfinite(x) and self.low <= x and below

    def describe(self) -> str:
        if self.high == math.inf:
            return f"a finite number >= {self.low:g}"
        return f"a number in [{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


def _plain(value: float | Tensor) -> float | list[float]:
    return value if isinstance(value, float) else [float(v) for v in value.tolist()]


def _runs(active: Tensor) -> list[tuple[int, int]]:
    """The [start, stop) index ranges of consecutive True entries."""
    runs, start = [], None
    for g, on in enumerate(active.tolist()):
        if on and start is None:
            start = g
        elif not on and start is not None:
            runs.append((start, g))
            start = None
    if start is not None:
        runs.append((start, len(active)))
    return runs


class BatchedOptimizer:
    """Base class: G models, one stacked tensor per parameter, per-model hyperparameters.

    Args:
        params: the stacked parameters, each of shape [G, ...], all of one dtype and
            device; updated in place by `step`.
        **hparams: the optimizer's hyperparameters (see the subclass); each number is a
            float or a 1-D tensor (or list) of G per-model values.

    Raises:
        ConfigError: a hyperparameter this optimizer does not have, or a value out of range.
    """

    name: ClassVar[str]
    hyper: ClassVar[dict[str, Hyper]]
    # Hyperparameters a variant fixes (e.g. nesterov's dampening = 0); not settable.
    fixed: ClassVar[dict[str, float | bool]] = {}
    # (b1, b2) pairs are held as two per-model values under these names.
    pairs: ClassVar[dict[str, tuple[str, str]]] = {"betas": ("beta1", "beta2")}

    def __init__(self, params: Sequence[Tensor], **hparams: Any) -> None:
        self.params = list(params)
        self.num_models = self._check_params(self.params)
        self._values, self.flags = self._parse(hparams)
        self._check(self._with_fixed(self._compact(self._values)))
        self.steps = torch.zeros(self.num_models, dtype=torch.float64)
        self.state: dict[str, list[Tensor]] = {
            slot: [torch.zeros_like(p) for p in self.params] for slot in self._slots()
        }
        self._init_state()
        self._scratch = [[torch.empty_like(p) for p in self.params] for _ in range(self._n_scratch())]
        self._ranks = sorted({p.dim() for p in self.params})
        self._refresh()

    @classmethod
    def check(cls, hparams: Mapping[str, Any]) -> None:
        """Check one model's hyperparameters as a run config gives them: names, ranges and
        the optimizer's cross-checks (nesterov needs momentum). It builds the optimizer
        over one scalar parameter, so a config is refused with exactly the error that
        training would raise.

        Raises:
            HyperparameterError: naming the first key that is wrong.
        """
        cls([torch.zeros(1)], **hparams)

    # -- what a subclass provides ------------------------------------------------------

    def _slots(self) -> tuple[str, ...]:
        """Names of the per-parameter state tensors (zeros at the start)."""
        raise AttributeError(f"{type(self).__name__} must define _slots")

    def _n_scratch(self) -> int:
        """How many parameter-sized scratch buffers `_update` needs."""
        return 0

    def _init_state(self) -> None:
        """Set state that does not start at zero (Adagrad's initial accumulator)."""

    def _check(self, h: Mapping[str, float | Tensor]) -> None:
        """Cross-checks between hyperparameters (nesterov needs momentum)."""

    def _constants(self, h: Mapping[str, float | Tensor]) -> dict[str, float | Tensor]:
        """Coefficients that do not change from step to step: floats or [G] tensors."""
        return dict(h)

    def _step_factors(self, h: Mapping[str, float | Tensor], step: float | Tensor,
                      ) -> dict[str, float | Tensor]:
        """Coefficients of this step (step counts from 1): floats or [n] tensors."""
        return {}

    def _sqrt_scale(self, h: Mapping[str, float | Tensor]) -> float:
        """A lower bound of the eps term next to the optimizer's sqrt (0: no floor)."""
        return 0.0

    def _update(self, p: Tensor, g: Tensor, s: dict[str, Tensor], tmp: list[Tensor],
                c: Mapping[str, Coef]) -> None:
        """Update one stacked parameter `p` in place from its gradient `g`."""
        raise AttributeError(f"{type(self).__name__} must define _update")

    # -- public interface ----------------------------------------------------------------

    @property
    def lr(self) -> Tensor:
        """The learning rate of each model, float64 [G]; in-place changes take effect."""
        return self._values["lr"]

    @lr.setter
    def lr(self, value: float | Tensor) -> None:
        self.set_lr(value)

    def set_lr(self, lr: float | Tensor | Sequence[float]) -> None:
        """Set every model's learning rate (a float, or G values), e.g. from a schedule."""
        new = self._per_model("lr", lr, self.hyper["lr"])
        self._values["lr"].copy_(new)
        self._refresh()

    @torch.no_grad()
    def step(self, grads: Sequence[Tensor], active: Tensor | None = None) -> None:
        """Update every parameter in place from `grads` (aligned with params, [G, ...]).

        Models where `active` (bool [G]) is False change neither parameters nor state,
        as if they had skipped this step.
        """
        if len(grads) != len(self.params):
            raise ShapeError(f"{self.name}.step: {len(grads)} gradients for "
                             f"{len(self.params)} parameters")
        if self._values["lr"]._version != self._lr_version:
            self._refresh()
        if active is not None:
            active = active.to("cpu", torch.bool)
            if bool(active.all()):
                active = None
        if active is None:
            self.steps += 1
            if self._step is not None:
                self._step += 1.0
            step = self._step if self._step is not None else self.steps
            self._apply(self.params, grads, self.state, self._scratch, self._h, self._const,
                        step, None)
            return
        for start, stop in _runs(active):
            sl = slice(start, stop)
            self.steps[sl] += 1
            run_steps = self.steps[sl]
            step = float(run_steps[0]) if bool((run_steps == run_steps[0]).all()) else run_steps
            h = {k: v if isinstance(v, float) else v[sl] for k, v in self._h.items()}
            const = {r: {k: v if isinstance(v, float) else v[sl] for k, v in cr.items()}
                     for r, cr in self._const.items()}
            self._apply([p[sl] for p in self.params], [g[sl] for g in grads],
                        {k: [t[sl] for t in ts] for k, ts in self.state.items()},
                        [[t[sl] for t in ts] for ts in self._scratch], h, const, step, sl)
        self._step = self._uniform_step()

    def state_dict(self) -> dict[str, Tensor]:
        """Steps, hyperparameters, switches and state, as tensors (weights_only-safe)."""
        out = {"steps": self.steps.clone()}
        out.update({f"hparams.{k}": v.clone() for k, v in self._values.items()})
        out.update({f"flags.{k}": torch.tensor(v) for k, v in self.flags.items()})
        for slot, tensors in self.state.items():
            out.update({f"state.{slot}.{i}": t.clone() for i, t in enumerate(tensors)})
        return out

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Restore what `state_dict` returned; the optimizer must be built the same way."""
        mine = self.state_dict()
        if set(state) != set(mine):
            odd = sorted(set(state) ^ set(mine))
            raise ConfigError(f"{self.name} state: keys differ from this optimizer's: "
                              f"{', '.join(odd[:5])}")
        for key, value in state.items():
            if value.shape != mine[key].shape:
                raise ConfigError(f"{self.name} state: {key} has shape {tuple(value.shape)}, "
                                  f"expected {tuple(mine[key].shape)}")
            if key.startswith("flags.") and bool(value) != bool(mine[key]):
                raise ConfigError(f"{self.name} state: {key} is {bool(value)}, "
                                  f"this optimizer has {bool(mine[key])}")
        self.steps.copy_(state["steps"])
        for k, v in self._values.items():
            v.copy_(state[f"hparams.{k}"])
        for slot, tensors in self.state.items():
            for i, t in enumerate(tensors):
                t.copy_(state[f"state.{slot}.{i}"])
        self._refresh()

    def get_config(self) -> dict[str, Any]:
        """Name and hyperparameters as plain Python; per-model values are lists.

        `make_optimizer(**config, params=...)` builds the same optimizer.
        """
        h = self._compact(self._values)
        out: dict[str, Any] = {"name": self.name}
        for key in self.hyper:
            if key in self.pairs:
                out[key] = [_plain(h[part]) for part in self.pairs[key]]
            elif key in self.flags:
                out[key] = self.flags[key]
            else:
                out[key] = _plain(h[key])
        return out

    def select(self, idx: Tensor, params: Sequence[Tensor] | None = None) -> None:
        """Keep only the models `idx` (a LongTensor of model indices), state included.

        `params` are the trainer's parameters already reduced to those models; without
        them the optimizer indexes its own, and `self.params` holds the new tensors.
        """
        idx = torch.as_tensor(idx, dtype=torch.long)
        dev_idx = idx.to(self.params[0].device)
        if params is None:
            params = [p.detach().index_select(0, dev_idx) for p in self.params]
        self.params = list(params)
        self.num_models = self._check_params(self.params)
        if self.num_models != len(idx):
            raise ShapeError(f"{self.name}.select: params hold {self.num_models} models, "
                             f"idx selects {len(idx)}")
        self.steps = self.steps.index_select(0, idx)
        self._values = {k: v.index_select(0, idx) for k, v in self._values.items()}
        self.state = {k: [t.index_select(0, dev_idx) for t in ts] for k, ts in self.state.items()}
        self._scratch = [[torch.empty_like(p) for p in self.params] for _ in self._scratch]
        self._refresh()

    def __repr__(self) -> str:
        config = self.get_config()
        name = config.pop("name")
        args = ", ".join(f"{k}={v!r}" for k, v in config.items())
        return f"{type(self).__name__}({name}, G={self.num_models}, {args})"

    # -- machinery -----------------------------------------------------------------------

    def _apply(self, params: Sequence[Tensor], grads: Sequence[Tensor],
               state: Mapping[str, list[Tensor]], scratch: list[list[Tensor]],
               h: Mapping[str, float | Tensor], const: Mapping[int, dict[str, Coef]],
               step: float | Tensor, sl: slice | None) -> None:
        factors = self._step_factors(h, step)
        per_rank = self._resolve(factors)
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            c = {**const[p.dim()], **per_rank[p.dim()]}
            self._update(p, g, {k: ts[i] for k, ts in state.items()}, [t[i] for t in scratch], c)

    def _resolve(self, coefs: Mapping[str, float | Tensor]) -> dict[int, dict[str, Coef]]:
        """Floats stay floats; [n] tensors become [n, 1, ..., 1] views per parameter rank."""
        p0 = self.params[0]
        out: dict[int, dict[str, Coef]] = {r: {} for r in self._ranks}
        for k, v in coefs.items():
            if isinstance(v, float):
                for r in self._ranks:
                    out[r][k] = v
            else:
                v = v.to(device=p0.device, dtype=p0.dtype)
                for r in self._ranks:
                    out[r][k] = v.view(-1, *([1] * (r - 1)))
        return out

    def _refresh(self) -> None:
        """Recompute what depends on the hyperparameters (after building, set_lr, load)."""
        self._lr_version = self._values["lr"]._version
        self._h = self._with_fixed(self._compact(self._values))
        const = self._constants(self._h)
        scale = self._sqrt_scale(self._h)
        const["sqrt_floor"] = sqrt_floor_value(scale, self.params[0].dtype)
        self._const = self._resolve(const)
        self._step = self._uniform_step()

    def _uniform_step(self) -> float | None:
        first = self.steps[0]
        return float(first) if bool((self.steps == first).all()) else None

    def _with_fixed(self, h: dict[str, float | Tensor]) -> dict[str, float | Tensor]:
        h.update({k: float(v) for k, v in self.fixed.items() if not isinstance(v, bool)})
        return h

    @staticmethod
    def _compact(values: Mapping[str, Tensor]) -> dict[str, float | Tensor]:
        """Per-model values that all agree become one float."""
        return {k: float(v[0]) if bool((v == v[0]).all()) else v for k, v in values.items()}

    def _flag(self, key: str) -> bool:
        return bool(self.flags[key]) if key in self.flags else bool(self.fixed[key])

    @staticmethod
    def _check_params(params: Sequence[Tensor]) -> int:
        if not params:
            raise ShapeError("optimizer: no parameters to optimize")
        p0 = params[0]
        for i, p in enumerate(params):
            if p.dim() < 1 or p.shape[0] != p0.shape[0]:
                raise ShapeError(f"optimizer: parameter {i} has shape {tuple(p.shape)}; every "
                                 f"parameter needs the model axis first, {p0.shape[0]} models")
            if p.dtype != p0.dtype or p.device != p0.device:
                raise ShapeError(f"optimizer: parameter {i} is {p.dtype} on {p.device}; "
                                 f"parameter 0 is {p0.dtype} on {p0.device}")
            if not p.dtype.is_floating_point:
                raise ShapeError(f"optimizer: parameter {i} is {p.dtype}, not floating point")
        return int(p0.shape[0])

    @classmethod
    def accepted(cls) -> str:
        """The names of this optimizer's hyperparameters, as a message lists them."""
        return ", ".join(cls.hyper)

    def _parse(self, hparams: Mapping[str, Any]) -> tuple[dict[str, Tensor], dict[str, bool]]:
        """Validate the given hyperparameters and fill in defaults."""
        for key, value in hparams.items():
            if key not in self.hyper:
                raise HyperparameterError(
                    key, f"not a hyperparameter of {self.name} (got {value!r}); "
                         f"{self.name} accepts {self.accepted()}")
        values: dict[str, Tensor] = {}
        flags: dict[str, bool] = {}
        for key, spec in self.hyper.items():
            value = hparams.get(key, spec.default)
            if spec.switch:
                if not isinstance(value, bool):
                    raise HyperparameterError(key, f"must be true or false for the whole "
                                                   f"group (got {value!r})")
                flags[key] = value
            elif spec.pair:
                if not isinstance(value, tuple | list) or len(value) != 2:
                    raise HyperparameterError(key, f"must be a pair (b1, b2) (got {value!r})")
                for part, v in zip(self.pairs[key], value, strict=True):
                    values[part] = self._per_model(key, v, spec)
            else:
                values[key] = self._per_model(key, value, spec)
        return values, flags

    def _per_model(self, key: str, value: Any, spec: Hyper) -> Tensor:
        """One float or G per-model values as a float64 [G] tensor on the CPU, checked."""
        G = self.num_models
        if isinstance(value, bool | str | bytes | Mapping):
            raise HyperparameterError(key, f"must be a number or {G} per-model numbers "
                                           f"(got {value!r})")
        try:
            t = torch.as_tensor(value, dtype=torch.float64).detach().to("cpu")
        except (TypeError, ValueError, RuntimeError):
            raise HyperparameterError(key, f"must be a number or {G} per-model numbers "
                                           f"(got {value!r})") from None
        if t.dim() != 0 and t.shape != (G,):
            raise HyperparameterError(key, f"per-model values need one per model, {G} "
                                           f"(got shape {tuple(t.shape)})")
        shown = float(t) if t.dim() == 0 else _plain(t)
        t = t.expand(G)
        if not all(spec.accepts(float(x)) for x in t.tolist()):
            raise HyperparameterError(key, f"must be {spec.describe()} (got {shown!r})")
        return t.clone()


def is_zero(v: float | Tensor) -> bool:
    """Whether every model's value is 0 (per-model tensors always hold two that differ)."""
    return isinstance(v, float) and v == 0.0


def lowest(v: float | Tensor) -> float:
    """The smallest of the models' values."""
    return v if isinstance(v, float) else float(v.min())


def highest(v: float | Tensor) -> float:
    """The largest of the models' values."""
    return v if isinstance(v, float) else float(v.max())


def sqrt_floor_value(scale: float, dtype: torch.dtype) -> float:
    """The floor below which `sqrt_floor` lifts its input, or 0.0 for none.

    With s a lower bound of the term added to sqrt(x) in the denominator (eps, or Adam's
    eps * sqrt(1 - beta2 ** t) after its bias correction is folded in), the floor is
    t = (s * delta) ** 2, rounded down to a power of two, with delta = 2**-16 in float32
    and 2**-32 in float64. Where x < t, sqrt(max(x, t)) - sqrt(x) <= s * delta, so the
    denominator changes by at most a relative delta, and only where the accumulated squared
    gradient is below t: there the update is itself at most about lr * delta, so the
    change is below lr * delta**2 (2.3e-10 * lr in float32). Floors that would fall in
    the slow range of sqrt, or eps = 0, give no floor (the plain sqrt, exact as torch).
    """
    if scale <= 0.0 or not math.isfinite(scale):
        return 0.0
    double = dtype == torch.float64
    t = (scale * (2.0**-32 if double else 2.0**-16)) ** 2
    t = 2.0 ** math.floor(math.log2(t))
    smallest_fast = 2.0**-960 if double else 2.0**-100
    return t if t >= smallest_fast else 0.0


def sqrt_floor(x: Tensor, floor: float, out: Tensor) -> Tensor:
    """out = sqrt(max(x, floor)), or sqrt(x) when floor is 0 (see `sqrt_floor_value`)."""
    if floor > 0.0:
        return torch.clamp(x, min=floor, out=out).sqrt_()
    return torch.sqrt(x, out=out)


def add_scaled_(y: Tensor, x: Tensor, a: Coef) -> Tensor:
    """y += a * x, with a a float or a per-model view."""
    if isinstance(a, float):
        return y.add_(x, alpha=a)
    return y.addcmul_(x, a)


def addcmul_scaled_(y: Tensor, a: Tensor, b: Tensor, c: Coef, tmp: Tensor) -> Tensor:
    """y += c * a * b; `tmp` (parameter-sized) holds c * a when c is per model."""
    if isinstance(c, float):
        return y.addcmul_(a, b, value=c)
    return y.addcmul_(torch.mul(a, c, out=tmp), b)


def addcdiv_scaled_(y: Tensor, a: Tensor, d: Tensor, c: Coef) -> Tensor:
    """y += c * a / d; overwrites d when c is per model (c may be 0 for some models)."""
    if isinstance(c, float):
        return y.addcdiv_(a, d, value=c)
    return y.addcmul_(torch.div(a, d, out=d), c)


def decayed_grad(g: Tensor, p: Tensor, weight_decay: Coef, out: Tensor | None) -> Tensor:
    """g + weight_decay * p (L2 as torch.optim applies it), or g itself when it is 0."""
    if isinstance(weight_decay, float):
        if weight_decay == 0.0:
            return g
        return torch.add(g, p, alpha=weight_decay, out=out)
    return torch.addcmul(g, p, weight_decay, out=out)
