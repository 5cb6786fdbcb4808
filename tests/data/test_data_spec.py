"""The `data:` block: parsing, defaults, round trips, and errors that name the key."""

from __future__ import annotations

import pytest

from nnstudy.config.data import (
    DataSpec,
    GaussianBlur,
    Normalize,
    Resize,
    parse_data_spec,
)
from nnstudy.errors import ConfigError


def test_default_spec_is_digits_with_a_tenth_for_validation():
    spec = parse_data_spec(None)
    assert spec.name == "digits"
    assert spec.valid_fraction == 0.1
    assert spec.split_seed == 0
    assert spec.transforms == [] and spec.augment == []


def test_transforms_parse_from_names_shorthands_and_mappings():
    spec = parse_data_spec(
        {
            "name": "mnist",
            "transforms": [
                "grayscale",
                {"resize": 32},
                {"gaussian_blur": {"kernel": 5, "sigma": 1.0}},
                {"normalize": "auto"},
                {"normalize": {"mean": [0.5], "std": [0.5]}},
                {"pad": 2},
                "flatten",
            ],
            "augment": [{"random_crop": {"size": 28, "padding": 2}}, "hflip"],
        }
    )
    kinds = [t.kind for t in spec.transforms]
    assert kinds == [
        "grayscale",
        "resize",
        "gaussian_blur",
        "normalize",
        "normalize",
        "pad",
        "flatten",
    ]
    assert spec.transforms[1] == Resize(size=(32, 32))
    assert spec.transforms[3].auto and not spec.transforms[4].auto
    assert spec.augment[0].size == (28, 28) and spec.augment[1].p == 0.5


def test_to_config_round_trips_through_yaml_form_and_json():
    spec = parse_data_spec(
        {
            "name": "folder",
            "root": "faces",
            "color": "grayscale",
            "fractions": {"train": 0.7, "valid": 0.1, "test": 0.2},
            "transforms": [{"resize": [64, 32]}, {"gaussian_blur": 3}, "normalize", "flatten"],
            "augment": [{"hflip": 0.25}],
        }
    )
    config = spec.to_config()
    assert config["transforms"][0] == {"resize": [64, 32]}
    assert config["transforms"][2] == {"normalize": "auto"}
    assert config["augment"] == [{"hflip": 0.25}]
    assert parse_data_spec(config) == spec
    assert DataSpec.model_validate_json(spec.model_dump_json()) == spec


def test_blur_without_sigma_takes_torchvisions_default_for_the_kernel():
    blur = parse_data_spec({"transforms": [{"gaussian_blur": 5}]}).transforms[0]
    assert isinstance(blur, GaussianBlur)
    assert blur.sigma == pytest.approx(0.3 * ((5 - 1) * 0.5 - 1) + 0.8)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"transforms": ["grayscale", {"resize": 32}, {"blurr": 1}]},
            "data.transforms[2]: unknown transform 'blurr'; one of grayscale, resize, "
            "gaussian_blur, normalize, pad, flatten",
        ),
        (
            {"transforms": [{"gaussian_blur": {"kernel": 4, "sigma": 1.0}}]},
            "data.transforms[0].gaussian_blur.kernel: must be odd, got 4",
        ),
        (
            {"transforms": [{"gaussian_blur": 0}]},
            "data.transforms[0].gaussian_blur.kernel: Input should be greater than 0",
        ),
        (
            {"transforms": ["flatten", "grayscale"]},
            "data.transforms: flatten must be the last transform, found at [0]",
        ),
        (
            {"transforms": [{"normalize": {"mean": [0.5]}}]},
            "data.transforms[0].normalize: give both mean and std",
        ),
        (
            {"transforms": [{"normalize": {"mean": [0.5, 0.1], "std": [0.5]}}]},
            "data.transforms[0].normalize: mean has 2 values and std 1",
        ),
        (
            {"transforms": [{"normalize": {"mean": [0.5], "std": [0.0]}}]},
            "data.transforms[0].normalize.std[0]: Input should be greater than 0",
        ),
        (
            {"transforms": [{"pad": {"padding": 2, "fill": 1}}]},
            "data.transforms[0].pad.fill: unknown key",
        ),
        ({"transforms": [{"grayscale": 3}]}, "data.transforms[0]: grayscale takes no value, got 3"),
        (
            {"transforms": [{"resize": 32, "pad": 2}]},
            "data.transforms[0]: expected a transform name or a one-key mapping",
        ),
        (
            {"augment": ["vflip"]},
            "data.augment[0]: unknown augmentation 'vflip'; one of random_crop, hflip",
        ),
        ({"augment": [{"hflip": 2}]}, "data.augment[0].hflip.p: Input should be less than"),
        ({"name": "mnst"}, "data.name: 'mnst' is not one of digits, mnist"),
        ({"valid_fraction": 1.0}, "data.valid_fraction: Input should be less than 1"),
        ({"name": "folder"}, "data.root: required for name folder"),
        ({"name": "npz"}, "data.path: required for name npz"),
        ({"name": "npz", "root": "x"}, "data.root: not used by name npz"),
        ({"name": "mnist", "path": "x.npz"}, "data.path: not used by name mnist (only by npz)"),
        ({"name": "mnist", "color": "rgb"}, "data.color: only for name folder"),
        (
            {"name": "cifar10", "fractions": {"train": 0.8, "test": 0.2}},
            "data.fractions: cifar10 has a test split of its own",
        ),
        (
            {"fractions": {"train": 0.8, "test": 0.1}},
            "data.fractions: train + valid + test must be 1",
        ),
        (
            {"fractions": {"train": 0.8, "test": 0.2}, "valid_fraction": 0.2},
            "data: fractions and valid_fraction both set",
        ),
        ({"bogus": 1}, "data.bogus: unknown key"),
    ],
)
def test_bad_data_block_is_one_line_naming_the_key(data, message):
    with pytest.raises(ConfigError) as err:
        parse_data_spec(data)
    text = str(err.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_a_spec_embedded_in_another_model_keeps_the_key_path():
    from pydantic import BaseModel

    from nnstudy.config.loading import validate

    class Run(BaseModel):
        data: DataSpec

    with pytest.raises(
        ConfigError, match=r"^data\.transforms\[1\]\.gaussian_blur\.kernel: must be odd"
    ):
        validate(Run, {"data": {"transforms": ["grayscale", {"gaussian_blur": 2}]}})


def test_normalize_with_numbers_serializes_as_a_mapping():
    step = Normalize(mean=(0.1307,), std=(0.3081,))
    assert step.to_config() == {"normalize": {"mean": [0.1307], "std": [0.3081]}}
    assert Normalize().to_config() == {"normalize": "auto"}


def test_values_given_as_tensors_or_arrays_are_named_as_plain_numbers():
    import numpy as np
    import torch

    with pytest.raises(ConfigError) as err:
        parse_data_spec({"valid_fraction": torch.tensor(1.5, dtype=torch.float64)})
    assert str(err.value) == "data.valid_fraction: Input should be less than 1 (got 1.5)"
    with pytest.raises(ConfigError) as err:
        parse_data_spec({"valid_fraction": torch.tensor([0.9], dtype=torch.float64)})
    assert "(got [0.9])" in str(err.value) and "tensor" not in str(err.value)
    spec = parse_data_spec({"valid_fraction": np.float64(0.25), "split_seed": np.int64(3)})
    assert spec.valid_fraction == 0.25 and spec.split_seed == 3
    assert type(spec.valid_fraction) is float and type(spec.split_seed) is int
