"""The `{features: {...}, head: ...}` model spec: parsing, defaults, written-back form, and
one error naming the key for each kind of bad input."""

import pytest

from nnstudy.config.loading import validate
from nnstudy.config.model import parse_model_spec
from nnstudy.config.run import RunSpec
from nnstudy.errors import ConfigError

HEAD = {"mlp": {"hidden": [100], "activation": "leaky_relu"}}


def features(**block):
    return {"features": {"backbone": "alexnet", "layer": "features.8", **block}, "head": HEAD}


def test_a_features_spec_parses_and_writes_back_what_it_read():
    spec = parse_model_spec(features(weights="w.pt", finetune=2))
    f = spec.features
    assert (f.backbone.zoo, f.layer, f.weights, f.finetune) == ("alexnet", "features.8", "w.pt", 2)
    assert spec.head.mlp.activation == "leaky_relu"
    assert parse_model_spec(spec.to_config()) == spec
    assert spec.describe() == "alexnet features.8 (fine-tuning 2) -> mlp 100 leaky_relu"


def test_alexnet_is_normalized_as_imagenet_by_default_and_other_backbones_not_at_all():
    alexnet = parse_model_spec(features()).features.preprocess
    assert alexnet.normalize.preset == "imagenet"
    assert alexnet.to_config() == {"normalize": "imagenet"}
    lenet = parse_model_spec({"features": {"backbone": "lenet5", "layer": "conv2"},
                              "head": HEAD}).features.preprocess
    assert lenet.normalize is None and lenet.to_config() == {"normalize": "none"}


@pytest.mark.parametrize(("normalize", "mean"), [
    ("mnist", (0.1307,)), ("none", None), (None, None),
    ({"mean": [0.5], "std": [0.25]}, (0.5,)),
])
def test_normalize_takes_a_preset_none_or_numbers(normalize, mean):
    spec = parse_model_spec(features(preprocess={"normalize": normalize, "input": [3, 64, 64]}))
    got = spec.features.preprocess
    assert (got.normalize.mean if got.normalize is not None else None) == mean
    assert got.input == (3, 64, 64)
    assert parse_model_spec(spec.to_config()) == spec


def test_a_backbone_may_be_a_list_of_layers_or_a_builder():
    spec = parse_model_spec({"features": {"backbone": [{"conv": {"out": 4, "kernel": 3}},
                                                       "relu"], "layer": "relu1"},
                             "head": [{"linear": 10}]})
    assert len(spec.features.backbone.layers) == 2 and len(spec.head.layers) == 1
    built = parse_model_spec({"features": {"backbone": {"cnn": {}}, "layer": "pool2"},
                              "head": "mlp"})
    assert built.features.backbone.cnn is not None and built.head.mlp is not None


@pytest.mark.parametrize(("raw", "message"), [
    ({"features": {"backbone": "alexnett", "layer": "x"}, "head": HEAD},
     "model.features.backbone: unknown model 'alexnett'"),
    ({"features": {"layer": "x"}, "head": HEAD}, "model.features.backbone: required"),
    ({"features": {"backbone": "alexnet"}, "head": HEAD}, "model.features.layer: required"),
    ({"features": {"backbone": "alexnet", "layer": ""}, "head": HEAD}, "model.features.layer:"),
    (features(wieghts="w.pt"), "model.features.wieghts: unknown key; one of backbone, layer"),
    (features(finetune=-1), "model.features.finetune:"),
    (features(weights="run:"), "model.features.weights: 'run:' needs the run directory"),
    ({"features": {"backbone": "lenet5", "layer": "conv1", "weights": "imagenet"},
      "head": HEAD}, "model.features.weights: imagenet is torchvision's AlexNet file"),
    (features(preprocess={"normalize": "cifar"}),
     "model.features.preprocess.normalize: unknown preset 'cifar'; one of imagenet, mnist"),
    (features(preprocess={"input": [224, 224]}),
     "model.features.preprocess.input: expected the backbone's input [C, H, W]"),
    (features(preprocess={"size": 3}), "model.features.preprocess.size: unknown key"),
    ({"features": {"backbone": "alexnet", "layer": "x"}}, "model.head: required key"),
    ({"features": {"backbone": "alexnet", "layer": "x"}, "head": "lenet5"},
     "model.head: 'lenet5' cannot be a head; the head takes the flattened features"),
    ({"features": {"backbone": "alexnet", "layer": "x"}, "head": {"cnn": {}}},
     "model.head: 'cnn 6-16 + mlp [120, 84]' cannot be a head"),
    ({"features": {"backbone": "alexnet", "layer": "x"}, "head": HEAD, "extra": 1},
     "model.extra: unknown key"),
    ({"features": {"backbone": features(), "layer": "x"}, "head": HEAD},
     "model.features.backbone: a features model cannot be a backbone"),
    ({"features": "alexnet", "head": HEAD}, "model.features: expected a mapping"),
])
def test_bad_features_specs_fail_naming_the_key(raw, message):
    with pytest.raises(ConfigError) as err:
        parse_model_spec(raw)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_a_random_backbone_is_seeded_by_the_run_and_says_so_in_its_config():
    raw = {"model": {"features": {"backbone": "lenet5", "layer": "conv2"}, "head": HEAD}}
    one = validate(RunSpec, {**raw, "train": {"seed": 3}})
    two = validate(RunSpec, {**raw, "train": {"seed": 4}})
    assert one.model["features"]["seed"] == 3 and two.model["features"]["seed"] == 4
    given = validate(RunSpec, {"model": {"features": {"backbone": "lenet5", "layer": "conv2",
                                                      "seed": 9}, "head": HEAD},
                               "train": {"seed": 3}})
    assert given.model["features"]["seed"] == 9
    weighted = validate(RunSpec, {"model": features(weights="w.pt"), "train": {"seed": 3}})
    assert "seed" not in weighted.model["features"]
    assert validate(RunSpec, one.to_config()) == one


def test_fine_tuning_refuses_an_init_that_would_overwrite_the_pretrained_layers():
    with pytest.raises(ConfigError, match=r"^train\.init: xavier_normal would re-initialize"):
        validate(RunSpec, {"model": features(weights="w.pt", finetune=1),
                           "train": {"init": "xavier_normal"}})
    validate(RunSpec, {"model": features(weights="w.pt"), "train": {"init": "xavier_normal"}})
