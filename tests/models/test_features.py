"""Backbones cut at a layer: what runs, what is kept, which weights are frozen, and the
weights themselves (files, runs, ImageNet's), each checked against a direct computation."""

import urllib.error
import urllib.request

import pytest
import torch
import torch.nn.functional as F
import yaml

import nnstudy
from nnstudy.config.model import parse_model_spec
from nnstudy.errors import ConfigError, DataError
from nnstudy.models import build_model
from nnstudy.models.features import FeatureModel, cut_backbone
from nnstudy.models.weights import IMAGENET_SHA256, IMAGENET_URL

# conv1 4@3x3, relu1, pool1, conv2 6@2x2, relu2, flatten, fc1 (on 1x8x8: 4x6x6, 4x3x3, 6x2x2)
BACKBONE = [{"conv": {"out": 4, "kernel": 3}}, "relu", {"maxpool": 2},
            {"conv": {"out": 6, "kernel": 2}}, "relu", "flatten", {"linear": 10}]
SHAPE = (1, 8, 8)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA_DIR", str(tmp_path / "cache"))


def features(**block):
    return parse_model_spec({"features": {"backbone": BACKBONE, "layer": "relu2", **block},
                             "head": {"mlp": {"hidden": [8]}}}).features


def saved_backbone(tmp_path, seed=5, name="backbone.pt"):
    net = build_model(BACKBONE, SHAPE, 10, seed=seed)
    path = tmp_path / name
    torch.save(net.state_dict(), path)
    return net, path


def test_the_cut_is_the_output_of_the_layer_flattened_with_the_files_weights(tmp_path):
    net, path = saved_backbone(tmp_path)
    cut = cut_backbone(features(weights=str(path)), SHAPE)
    x = torch.rand(5, *SHAPE)
    direct = net[4](net[3](net[2](net[1](net[0](x)))))  # conv1 relu1 pool1 conv2 relu2
    torch.testing.assert_close(cut.extractor(x), direct.flatten(1), rtol=0, atol=0)
    assert cut.extractor.feature_shape == (6, 2, 2) and cut.extractor.feature_dim == 24
    assert cut.with_weights == ("conv1", "conv2")


def test_modules_after_the_layer_are_not_kept_and_the_rest_is_frozen(tmp_path):
    _, path = saved_backbone(tmp_path)
    extractor = cut_backbone(features(weights=str(path)), SHAPE).extractor
    assert list(extractor.parameters()) == []
    assert sorted(extractor.frozen_weights) == [
        "conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight"]
    assert isinstance(extractor.backbone.fc1, torch.nn.Identity)
    assert sorted(extractor.state_dict()) == sorted(f"backbone.{n}" for n in extractor.frozen_weights)


def test_finetune_unfreezes_the_last_k_modules_with_weights_up_to_the_layer(tmp_path):
    _, path = saved_backbone(tmp_path)
    extractor = cut_backbone(features(weights=str(path), finetune=1), SHAPE).extractor
    assert extractor.trainable == ("conv2",)
    assert [n for n, _ in extractor.named_parameters()] == [
        "backbone.conv2.weight", "backbone.conv2.bias"]
    extractor.train()
    assert extractor.backbone.conv2.training and not extractor.backbone.conv1.training
    with pytest.raises(ConfigError, match=r"model\.features\.finetune: 3, but the backbone has "
                                          r"2 modules with weights up to relu2 \(conv1, conv2\)"):
        cut_backbone(features(weights=str(path), finetune=3), SHAPE)


def test_an_unknown_layer_lists_the_names_there_are():
    with pytest.raises(ConfigError) as err:
        cut_backbone(features(layer="relu9"), SHAPE)
    assert str(err.value) == (
        "model.features.layer: 'relu9' is not a module of the backbone 7 layers; one of "
        "conv1, relu1, pool1, conv2, relu2, flatten, fc1")


def test_alexnets_many_names_are_listed_in_part_with_the_command_that_lists_all():
    spec = parse_model_spec({"features": {"backbone": "alexnet", "layer": "conv5"},
                             "head": "mlp"}).features
    with torch.device("meta"), pytest.raises(ConfigError) as err:
        cut_backbone(spec, (3, 224, 224))
    message = str(err.value)
    assert "one of features, features.0, features.1," in message
    assert message.endswith("(23 in all; `nnstudy inspect alexnet` lists them)")


def test_alexnet_cut_at_features_8_preprocesses_grey_digits_as_torchvision_would():
    spec = parse_model_spec({"features": {"backbone": "alexnet", "layer": "features.8"},
                             "head": "mlp"}).features
    cut = cut_backbone(spec, (1, 28, 28), seed=0)
    extractor = cut.extractor
    assert extractor.backbone_input == (3, 224, 224)
    assert extractor.feature_shape == (256, 13, 13)
    assert cut.describe_weights() == "random (seed 0)"
    x = torch.rand(2, 1, 28, 28)
    rgb = F.interpolate(x.expand(-1, 3, -1, -1), size=(224, 224), mode="bilinear",
                        align_corners=False, antialias=True)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = extractor.backbone.features[:9]((rgb - mean) / std).flatten(1)
    torch.testing.assert_close(extractor(x), expected)
    kept = sum(b.numel() for b in extractor.buffers())
    assert kept == 23_296 + 307_392 + 663_936 + 884_992  # features.0, .3, .6, .8


def test_every_missing_unexpected_and_misshapen_key_is_named_in_one_error(tmp_path):
    net = build_model(BACKBONE, SHAPE, 10, seed=0)
    state = net.state_dict()
    del state["conv1.bias"]
    state["conv2.weight"] = torch.zeros(6, 4, 3, 3)
    state["conv3.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(ConfigError) as err:
        cut_backbone(features(weights=str(path)), SHAPE)
    assert str(err.value) == (
        f"model.features.weights: {path} does not fit the backbone; missing keys: conv1.bias; "
        "unexpected keys: conv3.weight; misshapen keys: conv2.weight (file [6, 4, 3, 3], "
        "backbone [6, 4, 2, 2])")


def test_keys_of_modules_after_the_layer_may_differ(tmp_path):
    # a backbone trained on 5 classes: its fc1 is 5 x 24, the spec's 10 x 24
    net = build_model([*BACKBONE[:-1], {"linear": 5}], SHAPE, 5, seed=0)
    path = tmp_path / "five.pt"
    torch.save(net.state_dict(), path)
    cut = cut_backbone(features(weights=str(path)), SHAPE)
    torch.testing.assert_close(cut.extractor.backbone.conv2.weight, net.conv2.weight)


@pytest.mark.parametrize(("content", "message"), [
    (b"not a pickle", "not a state dict torch.load can read with weights_only=True"),
    ({"state_dict": {"a": torch.zeros(1)}}, "not a state dict (a mapping of names to tensors), "
                                            "got dict; it holds one under 'state_dict'"),
    ([torch.zeros(1)], "not a state dict (a mapping of names to tensors), got list"),
])
def test_a_file_that_is_not_a_state_dict_says_so(tmp_path, content, message):
    path = tmp_path / "w.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(ConfigError, match=r"^model\.features\.weights: ") as err:
        cut_backbone(features(weights=str(path)), SHAPE)
    assert message in str(err.value)


def test_a_missing_weights_file_is_named():
    with pytest.raises(ConfigError, match=r"^model\.features\.weights: nope\.pt: no such file"):
        cut_backbone(features(weights="nope.pt"), SHAPE)


@pytest.fixture
def digits_run(tmp_path):
    config = {"data": {"name": "digits"}, "model": BACKBONE,
              "train": {"optimizer": "adam", "lr": 0.01, "epochs": 1}}
    return nnstudy.train(config, out=tmp_path / "run")


def test_run_dir_weights_are_the_runs_model(digits_run):
    cut = cut_backbone(features(weights=f"run:{digits_run.out_dir}"), SHAPE)
    x = torch.rand(3, *SHAPE)
    net = digits_run.model
    torch.testing.assert_close(cut.extractor(x), net[4](net[3](net[2](net[1](net[0](x)))))
                               .flatten(1))
    assert cut.describe_weights() == f"run {digits_run.out_dir}"


def test_run_dir_of_another_architecture_names_what_differs(digits_run):
    other = [{"conv": {"out": 5, "kernel": 3}}, *BACKBONE[1:]]
    spec = parse_model_spec({"features": {"backbone": other, "layer": "relu2",
                                          "weights": f"run:{digits_run.out_dir}"},
                             "head": "mlp"}).features
    with pytest.raises(ConfigError) as err:
        cut_backbone(spec, SHAPE)
    assert str(err.value) == (
        f"model.features.backbone: not the model of run {digits_run.out_dir} "
        f"({digits_run.out_dir / 'config.yaml'}): [0].conv.out: 5 here, 4 in the run")


def test_run_dir_that_is_not_a_run_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"no model\.pt, config\.yaml, summary\.json there"):
        cut_backbone(features(weights=f"run:{tmp_path}"), SHAPE)


def test_imagenet_without_a_network_is_one_line_naming_the_url(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    spec = parse_model_spec({"features": {"backbone": "alexnet", "layer": "features.8",
                                          "weights": "imagenet"}, "head": "mlp"}).features
    with pytest.raises(DataError) as err:
        cut_backbone(spec, (3, 224, 224))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"model.features.weights: imagenet: cannot download {IMAGENET_URL}"
                              " (cannot connect (")
    assert "download it where there is a network and give weights: PATH" in message


def test_imagenet_weights_in_the_cache_are_used_without_a_download(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise AssertionError("no download expected")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    from nnstudy.models.weights import imagenet_file

    folder = tmp_path / "cache" / "weights"
    folder.mkdir(parents=True)
    (folder / "alexnet-owt-7be5be79.pth").write_bytes(b"x")
    assert imagenet_file() == folder / "alexnet-owt-7be5be79.pth"
    assert IMAGENET_SHA256.startswith("7be5be79")  # torchvision's name holds its first 8


def test_a_feature_model_heads_start_as_the_same_head_alone(tmp_path):
    _, path = saved_backbone(tmp_path)
    spec = {"features": {"backbone": BACKBONE, "layer": "relu2", "weights": str(path)},
            "head": {"mlp": {"hidden": [8]}}}
    model = build_model(spec, SHAPE, 10, seed=3)
    assert isinstance(model, FeatureModel)
    head = build_model({"mlp": {"hidden": [8]}}, (24,), 10, seed=3)
    for name, value in head.state_dict().items():
        torch.testing.assert_close(model.head.state_dict()[name], value, rtol=0, atol=0)


def test_a_layer_the_forward_pass_never_reaches_is_refused():
    class Skips(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)

        def forward(self, x):
            return self.used(x.flatten(1))

    from nnstudy.models.features import run_to

    with pytest.raises(ConfigError, match="unused did not run in the backbone's forward"):
        run_to(Skips(), "unused", torch.zeros(1, 4))


def test_the_resolved_spec_of_a_run_dir_is_plain_yaml(digits_run):
    config = yaml.safe_load((digits_run.out_dir / "config.yaml").read_text())
    assert parse_model_spec(config["model"]).layers is not None
