"""The preprocessing that fits a data set's samples to a backbone's input shape."""

from __future__ import annotations

import pytest
import torch

from nnstudy.config.data import Grayscale, Normalize, Resize, ToRGB
from nnstudy.data.preprocess import backbone_pipeline, backbone_steps
from nnstudy.errors import ConfigError


def test_grey_digits_for_alexnet_become_rgb_then_224_then_imagenet_normalized():
    steps = backbone_steps((1, 28, 28), (3, 224, 224))
    assert steps == [ToRGB(), Resize(size=(224, 224)), Normalize(preset="imagenet")]
    assert [s.to_config() for s in steps] == [
        "to_rgb",
        {"resize": [224, 224]},
        {"normalize": "imagenet"},
    ]


def test_only_what_differs_is_adapted():
    assert backbone_steps((3, 32, 32), (3, 32, 32), None) == []
    assert backbone_steps((3, 32, 32), (1, 32, 32), None) == [Grayscale()]
    custom = Normalize(mean=(0.5,), std=(0.25,))
    assert backbone_steps((1, 28, 28), (1, 32, 32), custom) == [Resize(size=(32, 32)), custom]
    assert backbone_steps((1, 28, 28), (1, 28, 28), "mnist") == [Normalize(preset="mnist")]


def test_the_pipeline_of_a_constant_grey_image_is_the_normalized_constant_per_channel():
    pipe = backbone_pipeline((1, 28, 28), (3, 64, 64))
    x = torch.full((2, 1, 28, 28), 51, dtype=torch.uint8)  # 51 / 255 = 0.2
    out = pipe(x)
    assert out.shape == (2, 3, 64, 64)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    expected = [(0.2 - m) / s for m, s in zip(mean, std, strict=True)]
    for c in range(3):
        assert out[:, c].min().item() == pytest.approx(expected[c], abs=1e-5)
        assert out[:, c].max().item() == pytest.approx(expected[c], abs=1e-5)


@pytest.mark.parametrize(
    ("sample", "target", "normalize", "message"),
    [
        (
            (784,),
            (3, 224, 224),
            "imagenet",
            "model.features.preprocess: a backbone taking [3, 224, 224] needs images [C, H, W]; "
            "the data gives [784] (remove flatten from data.transforms)",
        ),
        (
            (2, 28, 28),
            (3, 224, 224),
            "imagenet",
            "model.features.preprocess: the backbone takes 3 channels, the images have 2; "
            "only 1 and 3 channels convert into each other",
        ),
        (
            (3, 28, 28),
            (3, 28, 28),
            "cifar",
            "model.features.preprocess.normalize: unknown preset 'cifar'; one of imagenet, mnist",
        ),
    ],
)
def test_shapes_that_cannot_be_adapted_are_config_errors(sample, target, normalize, message):
    with pytest.raises(ConfigError) as err:
        backbone_steps(sample, target, normalize)
    assert str(err.value).startswith(message)


def test_a_preset_with_more_channels_than_the_backbone_takes_is_refused_by_the_pipeline():
    with pytest.raises(ConfigError, match=r"normalize: 3 means for 1 channels"):
        backbone_pipeline((1, 28, 28), (1, 32, 32), "imagenet", where="preprocess")
