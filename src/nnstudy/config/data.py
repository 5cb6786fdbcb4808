"""The `data:` block of a config: which data set, where it lives, splits, transforms, augmentation.

```yaml
data:
  name: mnist                 # a data set of the catalog (nnstudy/config/datasets.py)
  root: ../shared/data/mnist-10k
  valid_fraction: 0.1         # stratified share of train held out for validation
  split_seed: 0
  classes: [5, 6, 7, 8, 9]    # keep these classes (indices or names), relabelled 0..K-1
  max_per_class: 50           # at most 50 training images per class (valid is carved first)
  transforms:                 # deterministic, applied once at load, in this order
    - grayscale
    - to_rgb                  # 1 channel -> 3 equal channels
    - {resize: [32, 32]}
    - {gaussian_blur: {kernel: 3, sigma: 0.7}}
    - {normalize: auto}       # or imagenet, mnist, or {mean: [0.5], std: [0.5]}
    - {pad: 2}
    - flatten                 # must come last
  augment:                    # random, training batches only
    - {random_crop: {size: 28, padding: 2}}
    - hflip
```

A transform is a bare name or a one-key mapping; a bad one is a ConfigError that names its
place, e.g. `data.transforms[2]: unknown transform 'blurr'; one of grayscale, resize, ...`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from nnstudy.config.base import Spec
from nnstudy.config.datasets import CATALOG, Dataset
from nnstudy.config.loading import format_validation_error, split_named
from nnstudy.errors import ConfigError

#: Data sets that come without a test split of their own; one is carved out (see `fractions`).
DEFAULT_TEST_FRACTION = 0.2

#: Named mean and std per channel for `{normalize: NAME}`: ImageNet's (what torchvision's
#: pretrained models expect, on RGB in [0, 1]) and MNIST's training set (PyTorch's MNIST
#: example).
NORMALIZE_PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "mnist": ((0.1307,), (0.3081,)),
}


def _pair(value: Any) -> Any:
    """`32` -> `[32, 32]`; anything else unchanged (pydantic checks it)."""
    return [value, value] if isinstance(value, int) and not isinstance(value, bool) else value


class StepSpec(Spec):
    """Base of transform and augmentation specs. `kind` is the name written in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str
    shorthand: ClassVar[str | None] = None  # the argument a scalar value fills: {pad: 2}

    def to_config(self) -> Any:
        """The YAML form of this step: `name` or `{name: {args}}` (what the parser reads)."""
        return self.model_dump()

    @model_serializer(mode="plain")
    def _serialize(self) -> Any:
        fields = type(self).model_fields
        args = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in self.__dict__.items()
            if name != "kind" and (fields[name].is_required() or value != fields[name].default)
        }
        if not args:
            return self.kind
        if list(args) == [self.shorthand]:
            return {self.kind: args[self.shorthand]}
        return {self.kind: args}


class Grayscale(StepSpec):
    """RGB to one channel: 0.2989 R + 0.587 G + 0.114 B (torchvision's tensor Grayscale)."""

    kind: Literal["grayscale"] = "grayscale"


class ToRGB(StepSpec):
    """One grey channel to three equal ones (R = G = B = L, as PIL's `convert("RGB")`); three
    channels as they are. `[grayscale, to_rgb]` is torchvision's `Grayscale(3)`."""

    kind: Literal["to_rgb"] = "to_rgb"


class Resize(StepSpec):
    """Bilinear resize to (H, W) with antialiasing, as torchvision's tensor Resize."""

    kind: Literal["resize"] = "resize"
    shorthand = "size"
    size: Annotated[
        tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]], BeforeValidator(_pair)
    ]


class GaussianBlur(StepSpec):
    """torchvision's GaussianBlur: a normalized Gaussian of odd size `kernel`, reflect padding.

    Without `sigma`, torchvision's default for the size: 0.3 * ((kernel - 1) / 2 - 1) + 0.8.
    """

    kind: Literal["gaussian_blur"] = "gaussian_blur"
    shorthand = "kernel"
    kernel: int = Field(gt=0)
    sigma: float | None = Field(None, gt=0)

    @field_validator("kernel")
    @classmethod
    def _odd(cls, kernel: int) -> int:
        if kernel % 2 == 0:
            raise ValueError(f"must be odd, got {kernel}")
        return kernel

    @model_validator(mode="after")
    def _default_sigma(self) -> GaussianBlur:
        if self.sigma is None:
            object.__setattr__(self, "sigma", 0.3 * ((self.kernel - 1) * 0.5 - 1) + 0.8)
        return self


class Normalize(StepSpec):
    """(x - mean) / std per channel; `auto` takes mean and std from the training split, a
    `preset` name (`imagenet`, `mnist`) the numbers of NORMALIZE_PRESETS (and is written
    back by its name)."""

    kind: Literal["normalize"] = "normalize"
    mean: tuple[float, ...] | None = None
    std: tuple[Annotated[float, Field(gt=0)], ...] | None = None
    preset: str | None = None

    @property
    def auto(self) -> bool:
        """True until `load_data` has measured mean and std on the training split."""
        return self.mean is None

    @model_validator(mode="after")
    def _both_or_none(self) -> Normalize:
        if self.preset is not None:
            if self.preset not in NORMALIZE_PRESETS:
                raise ValueError(
                    f"unknown preset {self.preset!r}; one of {', '.join(NORMALIZE_PRESETS)}"
                )
            mean, std = NORMALIZE_PRESETS[self.preset]
            if self.mean is None and self.std is None:
                object.__setattr__(self, "mean", mean)
                object.__setattr__(self, "std", std)
            elif (self.mean, self.std) != (mean, std):
                raise ValueError(
                    f"preset {self.preset} is mean {list(mean)}, std {list(std)}; leave out "
                    "mean and std, or the preset"
                )
        if (self.mean is None) != (self.std is None):
            raise ValueError("give both mean and std (one number per channel), or write auto")
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise ValueError(
                f"mean has {len(self.mean)} values and std {len(self.std)}; one per channel"
            )
        return self

    @model_serializer(mode="plain")
    def _serialize(self) -> Any:
        if self.auto:
            return {"normalize": "auto"}
        if self.preset is not None:
            return {"normalize": self.preset}
        return {"normalize": {"mean": list(self.mean or ()), "std": list(self.std or ())}}


class Pad(StepSpec):
    """Zero padding of `padding` pixels on every side (zero at this point of the list)."""

    kind: Literal["pad"] = "pad"
    shorthand = "padding"
    padding: int = Field(gt=0)


class Flatten(StepSpec):
    """[C, H, W] -> [C*H*W]; must be the last transform."""

    kind: Literal["flatten"] = "flatten"


class RandomCrop(StepSpec):
    """Training batches: zero-pad by `padding`, then crop `size` at a random place per image.

    Evaluation batches take the centre crop when `size` differs from the image size.
    """

    kind: Literal["random_crop"] = "random_crop"
    shorthand = "size"
    size: Annotated[
        tuple[Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]], BeforeValidator(_pair)
    ]
    padding: int = Field(0, ge=0)


class HFlip(StepSpec):
    """Training batches: mirror each image left-right with probability `p`."""

    kind: Literal["hflip"] = "hflip"
    shorthand = "p"
    p: float = Field(0.5, ge=0.0, le=1.0)


TRANSFORMS: dict[str, type[StepSpec]] = {
    c.model_fields["kind"].default: c
    for c in (Grayscale, ToRGB, Resize, GaussianBlur, Normalize, Pad, Flatten)
}
AUGMENTS: dict[str, type[StepSpec]] = {
    c.model_fields["kind"].default: c for c in (RandomCrop, HFlip)
}


def _step_reader(table: dict[str, type[StepSpec]], what: str):
    """A before-validator turning `name` / `{name: value}` / `{name: {args}}` into kind + args."""

    def read(item: Any) -> Any:
        if isinstance(item, StepSpec):
            return item
        named = split_named(item)
        if named is None:
            raise ValueError(
                f"expected a {what} name or a one-key mapping like {{resize: [32, 32]}}, "
                f"got {item!r}"
            )
        name, args = named
        cls = table.get(name)
        if cls is None:
            raise ValueError(f"unknown {what} {name!r}; one of {', '.join(table)}")
        if cls is Normalize and (args is None or args == "auto"):
            return {"kind": name}
        if cls is Normalize and not isinstance(args, dict):
            if isinstance(args, str) and args in NORMALIZE_PRESETS:
                return {"kind": name, "preset": args}
            raise ValueError(
                f"unknown normalize preset {args!r}; one of auto, {', '.join(NORMALIZE_PRESETS)}, "
                "or {mean: [...], std: [...]}"
            )
        if args is None:
            args = {}
        elif not isinstance(args, dict):
            if cls.shorthand is None:
                raise ValueError(f"{name} takes no value, got {args!r}; write just {name}")
            args = {cls.shorthand: args}
        if "kind" in args:
            raise ValueError(f"{name}: unknown key 'kind'")
        return {"kind": name, **args}

    return read


TransformSpec = Annotated[
    Annotated[
        Grayscale | ToRGB | Resize | GaussianBlur | Normalize | Pad | Flatten,
        Field(discriminator="kind"),
    ],
    BeforeValidator(_step_reader(TRANSFORMS, "transform")),
]
AugmentSpec = Annotated[
    Annotated[RandomCrop | HFlip, Field(discriminator="kind")],
    BeforeValidator(_step_reader(AUGMENTS, "augmentation")),
]


class Fractions(Spec):
    """Shares of the whole for data without a test split of its own; they sum to 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    train: float = Field(gt=0, le=1)
    valid: float = Field(0.0, ge=0, lt=1)
    test: float = Field(ge=0, lt=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> Fractions:
        total = self.train + self.valid + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"train + valid + test must be 1, got {self.train} + {self.valid} + "
                f"{self.test} = {total:g}"
            )
        return self


#: A class of `data.classes`: its label index (an int) or its name (a string).
ClassRef = int | str


def resolve_classes(
    selection: list[ClassRef], names: list[str] | tuple[str, ...], dataset: str
) -> list[int]:
    """The label indices of `selection`, in its order: an int is a label index, a string a
    class name. A ValueError names a class the data set does not have (and lists those it
    has), or a class given twice (also as index and name)."""
    index = {name: i for i, name in enumerate(names)}
    valid = f"{dataset} has classes 0..{len(names) - 1}: {', '.join(names)}"
    out: list[int] = []
    for item in selection:
        if isinstance(item, str):
            if item not in index:
                raise ValueError(f"unknown class {item!r}; {valid}")
            label = index[item]
        elif not 0 <= item < len(names):
            raise ValueError(f"no class {item}; {valid}")
        else:
            label = item
        if label in out:
            first = selection[out.index(label)]
            same = "" if first == item else f" ({first!r} and {item!r} are both class {label})"
            raise ValueError(f"class {names[label]!r} is given twice{same}")
        out.append(label)
    return out


def _class_list(value: Any) -> Any:
    """A list of label indices and class names, each once; the rest is checked by the data."""
    if value is None:
        return value
    if not isinstance(value, list | tuple):
        raise ValueError(
            f"expected a list of class indices or names, e.g. [5, 6, 7, 8, 9], got {value!r}"
        )
    if not value:
        raise ValueError("is empty; give the classes to keep, e.g. [5, 6, 7, 8, 9]")
    for i, item in enumerate(value):
        whole = isinstance(item, int) and not isinstance(item, bool)
        if not (whole and item >= 0) and not (isinstance(item, str) and item):
            raise ValueError(
                f"[{i}] is {item!r}; a class is a label index (0, 1, ...) or a class name"
            )
        if item in value[:i]:
            raise ValueError(f"class {item!r} is given twice")
    return list(value)


def _plain(value: Any) -> Any:
    """NumPy and torch numbers and arrays as the Python numbers and lists YAML would give, so
    that they validate as numbers do and an error shows `0.9`, not `tensor([0.9000], ...)`."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and not isinstance(value, str | bytes):
        return tolist()
    return value


class DataSpec(Spec):
    """Which data set to load, from where, how to split it and how to transform it.

    `name` is a data set of the catalog (`nnstudy.config.datasets.CATALOG`), which also says
    which of `root`, `path` and the reader's options (`color`) it takes.

    Splits: the data set's own test split (data without one, such as digits, a folder
    without split folders or an npz without `x_test`, gets a stratified test split of 20%,
    or `fractions.test`, always drawn with seed 0 so it never depends on `split_seed`);
    validation is the data set's own (a folder's `valid/`, an npz's `x_valid`), else a
    stratified `valid_fraction` of train drawn with `split_seed`.

    Subsets: `classes` keeps those classes (label indices or names) in every split, relabelled
    0..K-1 in the order given, after the test split is made and before the validation split
    is drawn; `max_per_class` then keeps at most N training samples per class, drawn after
    the validation split so that it does not eat them (see docs/data.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = "digits"
    root: Path | None = Field(None, validate_default=True)
    path: Path | None = Field(None, validate_default=True)
    valid_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    split_seed: int = Field(0, ge=0)
    fractions: Fractions | None = None
    classes: Annotated[list[ClassRef] | None, BeforeValidator(_class_list)] = None
    max_per_class: int | None = Field(None, ge=1, strict=True)
    color: Literal["rgb", "grayscale"] | None = Field(None, validate_default=True)
    transforms: list[TransformSpec] = Field(default_factory=list)
    augment: list[AugmentSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _plain_and_fractions_or_valid_fraction(cls, data: Any) -> Any:
        data = _plain(data)
        if (
            isinstance(data, dict)
            and data.get("fractions") is not None
            and ("valid_fraction" in data)
        ):
            raise ValueError(
                "fractions and valid_fraction both set; fractions already gives the valid share"
            )
        return data

    @field_validator("name")
    @classmethod
    def _in_catalog(cls, name: str) -> str:
        if name not in CATALOG:
            raise ValueError(f"{name!r} is not one of {', '.join(CATALOG)}")
        return name

    @field_validator("root", "path")
    @classmethod
    def _location(cls, value: Any, info: ValidationInfo) -> Any:
        dataset = _dataset(info)
        if dataset is None:
            return value
        key, where = info.field_name, dataset.location
        if where is not None and where.key == key:
            if value is None and where.required:
                raise ValueError(f"required for name {dataset.name}: {where.what}")
            return value
        if value is None:
            return value
        takers = [d.name for d in CATALOG.values() if d.location and d.location.key == key]
        takes = f"{where.key}: {where.what}" if where else "no files"
        raise ValueError(
            f"not used by name {dataset.name} (only by {', '.join(takers)}); "
            f"{dataset.name} takes {takes}"
        )

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[ClassRef] | None, info: ValidationInfo) -> Any:
        # Data sets that name their classes in the catalog are checked here; folders and npz
        # files name theirs in the files, so load_data checks those.
        dataset = _dataset(info)
        if value is not None and dataset is not None and dataset.classes:
            resolve_classes(value, dataset.classes, dataset.name)
        return value

    @field_validator("color")
    @classmethod
    def _reader_option(cls, value: Any, info: ValidationInfo) -> Any:
        dataset = _dataset(info)
        if value is None or dataset is None or info.field_name in dataset.options:
            return value
        takers = [d.name for d in CATALOG.values() if info.field_name in d.options]
        raise ValueError(f"only for name {' or '.join(takers)}, not {dataset.name}")

    @field_validator("fractions")
    @classmethod
    def _fractions_only_without_test(cls, value: Any, info: ValidationInfo) -> Any:
        dataset = _dataset(info)
        if value is not None and dataset is not None and dataset.own_test:
            raise ValueError(f"{dataset.name} has a test split of its own; use valid_fraction")
        return value

    @field_validator("transforms")
    @classmethod
    def _flatten_last(cls, steps: list[StepSpec]) -> list[StepSpec]:
        for i, step in enumerate(steps[:-1]):
            if isinstance(step, Flatten):
                raise ValueError(f"flatten must be the last transform, found at [{i}]")
        return steps

    @model_serializer(mode="wrap")
    def _drop_unused(self, handler: Any) -> Any:
        # With fractions, valid_fraction has no effect; leaving it out lets a dump validate again.
        out = handler(self)
        if self.fractions is not None and isinstance(out, dict):
            out.pop("valid_fraction", None)
        return out

    def to_config(self) -> dict[str, Any]:
        """The YAML form of this spec (what `parse_data_spec` reads back)."""
        out = self.model_dump(mode="json", exclude_defaults=True)
        out["name"] = self.name
        return out

    @property
    def dataset(self) -> Dataset:
        """The catalog entry of `name`."""
        return CATALOG[self.name]

    def why_no_valid_split(self) -> str | None:
        """Why the loaded data will have no validation split (`data.valid_fraction is 0 and
        digits has none of its own`), or None when it has one or its files may hold one."""
        if self.dataset.valid_in_files:
            return None
        if self.fractions is not None:
            return None if self.fractions.valid > 0 else (
                f"data.fractions.valid is 0 and {self.name} has no validation split of its own")
        return None if self.valid_fraction > 0 else (
            f"data.valid_fraction is 0 and {self.name} has no validation split of its own")

    def describe(self) -> str:
        """A short human name: `mnist`, `folder faces/ (grayscale)`."""
        where = self.root or self.path
        color = f" ({self.color})" if self.color else ""
        return f"{self.name} {where}{color}" if where else self.name


def _dataset(info: ValidationInfo) -> Dataset | None:
    """The catalog entry of the `name` validated so far (None when `name` was bad)."""
    name = info.data.get("name")
    return CATALOG.get(name) if isinstance(name, str) else None


_INDEX = re.compile(r"\.(\d+)(?=[.:\[]|$)")


def parse_data_spec(raw: Any, where: str = "data") -> DataSpec:
    """Validate the `data:` block; a failure is a ConfigError naming the key path under `where`.

    List items are written `transforms[2]`, as in the YAML they come from.
    """
    if isinstance(raw, DataSpec):
        return raw
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        raw = {"name": raw}
    try:
        return DataSpec.model_validate(raw)
    except ValidationError as exc:
        line = format_validation_error(exc, where)
        path, sep, message = line.partition(": ")
        raise ConfigError(_INDEX.sub(r"[\1]", path) + sep + message) from None
