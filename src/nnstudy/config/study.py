"""A study file: a base run config, a grid over dotted keys, variants, seeds, and a selection.

```yaml
name: optimizers-and-learning-rates
data: {name: mnist, valid_fraction: 0.1, transforms: [{normalize: auto}]}
model: {mlp: {hidden: [100], activation: relu}}
train: {epochs: 15, batch_size: 64, early_stopping: {metric: valid_loss, patience: 3}}
grid:                                   # cartesian product
  train.optimizer: [sgd, adam, rmsprop, adadelta]
  train.lr: [0.001, 0.01, 0.05, 0.1, 0.5]
variants:                               # named patches for what is not one key
  - {name: no-normalization, set: {data.transforms: []}}
seeds: [0, 1, 2]                        # or repeats: 3 (seeds 0, 1, 2)
select: {metric: valid_loss, mode: min, per: [train.optimizer]}
max_group_size: 8                       # models trained together in one work unit
device: auto                            # cuda when torch sees a GPU, else cpu
```

Every grid value and variant is validated against the run config when the study is loaded,
so a bad value is reported before anything runs, naming its key: `grid.train.lr[2]: ...`.
Where the grid or the variants change the optimizer, whether a hyperparameter key fits
depends on the trial: every trial's config is then validated too, and an error names the
trial (`trial g003-s0 (train.optimizer=adam train.rho=0.5): train.rho: not a
hyperparameter of adam ...`).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from nnstudy.config.base import Spec
from nnstudy.config.loading import load_yaml, parse_override, set_dotted, validate
from nnstudy.config.run import DEFAULT_DEVICE, RunSpec, no_valid_split
from nnstudy.config.train import HYPERPARAMETERS
from nnstudy.errors import ConfigError

SPLITS = ("train", "valid", "test")
METRICS = tuple(
    f"{prefix}{split}_{m}" for prefix in ("", "best_", "final_") for split in SPLITS
    for m in ("loss", "accuracy")
)
# Trials that can train together (one architecture, optimizer, batch size, ...) are cut
# into work units of at most this many models. Measured on a 2-core CPU (float32, one
# thread): per model, a group of the 784-100-10 MLP gains little beyond 2 to 4 models, the
# 64-unit digits MLP of the quick start keeps gaining up to about 12; 8 gets most of the
# second while still cutting the example studies' groups of 9 and 15 into 2 units each
# (8 units in the quick start, enough for 8 workers).
DEFAULT_MAX_GROUP_SIZE = 8


class SelectSpec(Spec):
    """How to pick the best configuration: by `metric`, overall or per group of keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    metric: str = "valid_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    per: list[str] = Field(default_factory=list)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"{value!r} is not one of {', '.join(METRICS[:6])} "
                             "(or with a best_ / final_ prefix)")
        return value

    @property
    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "max" if self.metric.endswith("accuracy") else "min"


class VariantSpec(Spec):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)


class StudySpec(Spec):
    """A validated study file (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = "study"
    data: dict[str, Any] = Field(default_factory=dict)
    model: Any = Field(default_factory=lambda: {"mlp": {}})
    train: dict[str, Any] = Field(default_factory=dict)
    device: str = DEFAULT_DEVICE
    max_group_size: int = Field(DEFAULT_MAX_GROUP_SIZE, ge=1)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    variants: list[VariantSpec] = Field(default_factory=list)
    seeds: list[int] | None = None
    repeats: int | None = Field(None, ge=1)
    select: SelectSpec = Field(default_factory=SelectSpec)
    # Which trials keep their best-epoch weights (models/<trial>.pt) once every trial is
    # done: the best seed of each configuration `select` picks, all of them, or none.
    keep_models: Literal["best", "all", "none"] = "best"

    @model_validator(mode="after")
    def _seeds_or_repeats(self) -> StudySpec:
        if self.seeds is not None and self.repeats is not None:
            raise ValueError("give seeds or repeats, not both")
        if self.seeds is not None and (not self.seeds or len(set(self.seeds)) != len(self.seeds)):
            raise ValueError(f"seeds must be a non-empty list of distinct integers, got "
                             f"{self.seeds}")
        return self

    @property
    def seed_list(self) -> list[int]:
        if self.seeds is not None:
            return list(self.seeds)
        return list(range(self.repeats or 1))

    @property
    def keys(self) -> list[str]:
        """The keys that tell configurations apart: `variant` first, then the grid keys."""
        return (["variant"] if self.variants else []) + list(self.grid)

    @property
    def dir_name(self) -> str:
        """The name as a directory name (`study_dir_name`): the default study directory is
        runs/<dir_name>; the name itself is kept as written, in the store and the report."""
        return study_dir_name(self.name)

    def base_config(self) -> dict[str, Any]:
        return {"name": self.name, "data": self.data, "model": self.model, "train": self.train,
                "device": self.device}


# A study's name becomes one directory name: at most this many bytes of UTF-8, well under
# the 255 of common file systems, leaving room for the `-2` of a second run.
MAX_DIR_NAME_BYTES = 100
_UNSAFE = re.compile(r"[^\w.\-]+")


def study_dir_name(name: str) -> str:
    """A safe directory name for the study `name`: every run of characters other than
    letters, digits, `_`, `.` and `-` becomes one `-`; leading and trailing `.` and `-` go
    (no hidden directory, never `.` or `..`); at most MAX_DIR_NAME_BYTES bytes; `study`
    when nothing is left. `../../escape` -> `escape`, `a/b` -> `a-b`, `` -> `study`."""
    slug = _UNSAFE.sub("-", unicodedata.normalize("NFKC", name)).strip(".-")
    while len(slug.encode()) > MAX_DIR_NAME_BYTES:
        slug = slug[:-1]
    return slug.rstrip(".-") or "study"


def check_parallelism(workers: int | None = None, threads: int | None = None) -> None:
    """Refuse a worker or thread count below 1 (None: the default), before anything runs:
    `threads` is stored with the study, so a bad one would fail its resumes too."""
    for option, value in (("workers", workers), ("threads", threads)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"--{option}: {value!r} is not a positive whole number of "
                              f"{'worker processes' if option == 'workers' else 'threads'} "
                              "(1 or more)")


@dataclass(frozen=True)
class TrialPlan:
    """One trial of a study: its stable id, its place in the grid, its seed, its config."""

    trial_id: str
    position: int
    variant: str
    values: dict[str, Any]
    seed: int
    spec: RunSpec
    grid_index: tuple[int, ...] = ()  # the index of each grid key's value, in grid order

    @property
    def label(self) -> str:
        """The configuration without the seed: `train.optimizer=adam train.lr=0.001`."""
        return _label(self.variant, self.values)


def _label(variant: str, values: dict[str, Any]) -> str:
    parts = [variant] if variant else []
    parts += [f"{k}={v}" for k, v in values.items()]
    return " ".join(parts) or "base"


def _optimizer_varies(study: StudySpec) -> bool:
    """Whether the grid or a variant sets the optimizer (or the whole train block)."""
    keys = [*study.grid, *(key for v in study.variants for key in v.set)]
    return any(key in ("train", "train.optimizer") for key in keys)


def _is_hyperparameter(key: str) -> bool:
    """Whether the dotted `key` is `train.<some optimizer's hyperparameter>`."""
    head, _, rest = key.partition(".")
    return head == "train" and rest in HYPERPARAMETERS


def _check_key(base: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Validate one dotted key and value against the run config; errors name `where`."""
    try:
        validate(RunSpec, set_dotted(base, key, value))
    except ConfigError as exc:
        text = str(exc)
        detail = text.split(": ", 1)[1] if ": " in text else text
        if detail == "unknown key":
            where = where.rsplit("[", 1)[0] if where.startswith("grid.") else where
            raise ConfigError(f"{where}: {text.split(': ')[0]!r} is not a key of the run "
                              "config") from None
        raise ConfigError(f"{where}: {detail}") from None


def apply_study_overrides(raw: dict[str, Any], overrides: tuple[str, ...] | list[str]
                          ) -> dict[str, Any]:
    """Apply `--set KEY=VALUE` strings in order to a study file's dict.

    `grid.KEY=[...]` sets the one grid key KEY and leaves the others: everything after
    `grid.` is the key, dots and all, so `grid.train.lr=[0.1,0.01]` sets the grid key
    `train.lr` (a new key adds an axis at the end; `grid.KEY=null` removes it);
    `grid={...}` replaces the whole grid. `seeds=[...]` replaces the file's `repeats` and
    `repeats=N` its `seeds` (a study has one or the other). Any other key is set as in a
    run config: `train.epochs=1`, `data.name=mnist`.
    """
    for text in overrides:
        key, value = parse_override(text)
        if key.startswith("grid."):
            grid = raw.get("grid") or {}
            if not isinstance(grid, dict):
                raise ConfigError(f"--set {text!r}: the grid is {grid!r}, not a mapping of "
                                  "keys to lists")
            name = key.removeprefix("grid.")
            grid = {k: v for k, v in grid.items() if k != name or value is not None}
            if value is not None:
                grid[name] = value
            raw = {**raw, "grid": grid}
        elif key in ("seeds", "repeats"):
            other = "repeats" if key == "seeds" else "seeds"
            raw = {k: v for k, v in raw.items() if k != other} | {key: value}
        else:
            raw = set_dotted(raw, key, value)
    return raw


def load_study(source: str | Path | dict[str, Any], overrides: tuple[str, ...] = ()
               ) -> StudySpec:
    """Load and validate a study file; every grid value and variant is checked."""
    raw = load_yaml(source) if isinstance(source, str | Path) else source
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with name, data, model, train, grid")
    raw = apply_study_overrides(dict(raw), overrides)
    study = validate(StudySpec, raw)
    _refuse_seeds_outside_seeds(study)
    base = study.base_config()
    validate(RunSpec, base)
    varies = _optimizer_varies(study)
    for key, values in study.grid.items():
        if not values:
            raise ConfigError(f"grid.{key}: empty list of values")
        if varies and _is_hyperparameter(key):
            continue  # the optimizer it meets depends on the trial: checked per trial below
        for i, value in enumerate(values):
            _check_key(base, key, value, f"grid.{key}[{i}]")
    names = [v.name for v in study.variants]
    if len(set(names)) != len(names):
        raise ConfigError(f"variants: names must be distinct, got {names}")
    for i, variant in enumerate(study.variants):
        own = base  # a variant's hyperparameters meet the variant's own optimizer
        if "train.optimizer" in variant.set:
            own = set_dotted(base, "train.optimizer", variant.set["train.optimizer"])
        for key, value in variant.set.items():
            _check_key(own, key, value, f"variants[{i}].set.{key}")
    for i, key in enumerate(study.select.per):
        if key not in study.keys:
            raise ConfigError(f"select.per[{i}]: {key!r} is not a grid key; one of "
                              f"{', '.join(study.keys) or '(no grid keys)'}")
    plans = plan_trials(study)
    _refuse_equal_configurations(study, plans)
    _refuse_selection_without_its_split(study, plans)
    return study


_SEEDS = ("a study sets its seeds with `seeds: [0, 1, 2]` (or `repeats: 3`), which would "
          "overwrite this one: give the seeds there")


def _refuse_seeds_outside_seeds(study: StudySpec) -> None:
    """A seed in the base train block, a grid or a variant is refused: every trial's
    seed comes from `seeds`, so it would be overwritten (trials labelled `train.seed=1`
    trained with seed 0)."""
    if "seed" in study.train:
        raise ConfigError(f"train.seed: {_SEEDS}")
    places = [(f"grid.{key}", key, value, f"[{i}]") for key, values in study.grid.items()
              for i, value in enumerate(values)]
    places += [(f"variants[{i}].set.{key}", key, value, "") for i, v in enumerate(study.variants)
               for key, value in v.set.items()]
    for where, key, value, index in places:
        if key == "train.seed":
            raise ConfigError(f"{where}: {_SEEDS}")
        if key == "train" and isinstance(value, dict) and "seed" in value:
            raise ConfigError(f"{where}{index}.seed: {_SEEDS}")


def _refuse_equal_configurations(study: StudySpec, plans: list[TrialPlan]) -> None:
    """Two configurations that resolve to the same run config (grid values `0.01` and
    `1e-2`, two variants that set the same thing) are refused: their trials would be
    reported as two configurations, and averaged as if they were extra seeds."""
    seen: dict[str, TrialPlan] = {}
    for plan in plans:
        if plan.seed != study.seed_list[0]:
            continue  # the seed is part of the config: compare within one seed
        config = plan.spec.model_dump_json()
        other = seen.setdefault(config, plan)
        if other is not plan:
            raise ConfigError(_same_configuration(study, other, plan))


def _same_configuration(study: StudySpec, a: TrialPlan, b: TrialPlan) -> str:
    why = ("; every configuration of a study must differ, or its copies are averaged as if "
           "they were extra seeds")
    if a.variant == b.variant:
        for key, i, j in zip(study.grid, a.grid_index, b.grid_index, strict=True):
            if i != j:
                return (f"grid.{key}: [{i}] and [{j}] are the same value ({a.values[key]!r} "
                        f"and {b.values[key]!r} give the same config){why}")
    if a.grid_index == b.grid_index:
        return f"variants: {a.variant!r} and {b.variant!r} train the same config{why}"
    return f"{a.label!r} and {b.label!r} train the same config{why}"


def _refuse_selection_without_its_split(study: StudySpec, plans: list[TrialPlan]) -> None:
    """Selecting by a validation metric needs a validation split in every trial (else no
    trial has the metric, and the study would end with nothing to compare)."""
    metric = study.select.metric
    if "valid_" not in metric:
        return
    for plan in plans:
        reason = plan.spec.data.why_no_valid_split()
        if reason is not None:
            where = f" (in {plan.label})" if plan.label != "base" else ""
            text = no_valid_split(metric, reason + where, "select by a train_ or test_ metric")
            raise ConfigError(f"select.metric: {text}")


def plan_trials(study: StudySpec) -> list[TrialPlan]:
    """Every trial of the study, in a stable order with stable ids: `v1-g007-s2` is variant
    1, grid point 7, seed 2; the same study file always gives the same ids."""
    base = study.base_config()
    variants = study.variants or [VariantSpec.model_construct(name="", set={})]
    keys = list(study.grid)
    points = list(itertools.product(*(range(len(study.grid[k])) for k in keys)))
    plans: list[TrialPlan] = []
    position = 0
    for vi, variant in enumerate(variants):
        for gi, point in enumerate(points):
            values = {k: study.grid[k][i] for k, i in zip(keys, point, strict=True)}
            for seed in study.seed_list:
                config = base
                for key, value in variant.set.items():
                    config = set_dotted(config, key, value)
                for key, value in values.items():
                    config = set_dotted(config, key, value)
                config = set_dotted(config, "train.seed", seed)
                prefix = f"v{vi}-" if study.variants else ""
                trial_id = f"{prefix}g{gi:03d}-s{seed}"
                try:
                    spec = validate(RunSpec, config)
                except ConfigError as exc:
                    raise ConfigError(f"trial {trial_id} ({_label(variant.name, values)}): "
                                      f"{exc}") from None
                plans.append(TrialPlan(
                    trial_id=trial_id, position=position,
                    variant=variant.name, values=values, seed=seed, spec=spec,
                    grid_index=point,
                ))
                position += 1
    return plans
