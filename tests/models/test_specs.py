"""Model specs build the modules they describe, and bad specs name the culprit."""

import pytest
import torch

from nnstudy.errors import ConfigError, ShapeError
from nnstudy.models import build_model, load_model


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_lenet5_has_61706_parameters_with_the_textbook_split():
    net = build_model("lenet5", (1, 32, 32))
    per_layer = [n_params(m) for m in net.children() if n_params(m)]
    assert per_layer == [156, 2416, 48120, 10164, 850]
    assert n_params(net) == 61706


def test_cifar_net_matches_the_pytorch_tutorial_and_its_variants_build():
    assert n_params(build_model("cifar_net", (3, 32, 32))) == 62006
    for layers in (1, 2, 3):
        for double in (False, True):
            net = build_model({"cifar_net": {"conv_layers": layers, "double_channels": double}},
                              (3, 32, 32))
            assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_alexnet_has_torchvision_parameter_count_and_module_names():
    net = build_model("alexnet", (3, 224, 224))
    assert n_params(net) == 61_100_840
    keys = list(net.state_dict())
    assert keys[:2] == ["features.0.weight", "features.0.bias"]
    assert "classifier.6.weight" in keys


def test_mlp_builder_flattens_and_sizes_output_from_classes():
    net = build_model({"mlp": {"hidden": [100, 50], "dropout": 0.2}}, (1, 28, 28), 7)
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 7)
    assert [n for n, _ in net.named_children()][:3] == ["flatten", "fc1", "relu1"]


def test_linear_activation_in_a_builder_means_a_times_x_plus_c():
    net = build_model({"mlp": {"hidden": [4], "activation": "linear"}}, (3,))
    assert type(net.linact1).__name__ == "LinearActivation"


def test_same_seed_gives_same_initial_weights():
    a = build_model("mlp", (1, 8, 8), seed=3)
    b = build_model("mlp", (1, 8, 8), seed=3)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    ("spec", "shape", "error", "text"),
    [
        ([{"conv": {"out": 6, "kernel": 6}}], (16, 5, 5), ShapeError,
         "conv1: input 16x5x5 is smaller than kernel 6x6 (out = (W - F + 2P)/S + 1 = 0)"),
        (["relux"], (4,), ConfigError, "model[0]: unknown layer 'relux'"),
        ([{"conv": {"out": 6, "kernel": -1}}], (1, 8, 8), ShapeError, "kernel and stride must"),
        ([{"linear": 0}], (4,), ConfigError, "model[0].linear.out"),
        ("lenet6", (1, 32, 32), ConfigError, "unknown model 'lenet6'"),
        ({"mlp": {"hidden": [0]}}, (4,), ConfigError, "model.mlp.hidden[0]"),
        ({"mlp": {"activaton": "relu"}}, (4,), ConfigError, "model.mlp.activaton: unknown key"),
        ([{"conv": {"out": 4, "kernel": 3}}], (16,), ShapeError, "needs a C x H x W input"),
        ([{"linear": 10}, {"linear": 3}], (4,), ShapeError, "data has 10 classes"),
    ],
)
def test_bad_specs_raise_one_line_naming_the_layer(spec, shape, error, text):
    with pytest.raises(error) as info:
        build_model(spec, shape, 10 if isinstance(spec, list) else None)
    assert text in str(info.value)
    assert "\n" not in str(info.value)


def test_load_model_resolves_yaml_files_and_factories(tmp_path):
    path = tmp_path / "net.yaml"
    path.write_text("- {linear: 20}\n- relu\n- {linear: 10}\n")
    net, shape = load_model(str(path), input_shape=(5,))
    assert shape == (5,) and n_params(net) == 5 * 20 + 20 + 20 * 10 + 10
    net, shape = load_model("torch.nn:Identity", input_shape=(3,))
    assert isinstance(net, torch.nn.Identity)
    with pytest.raises(ConfigError, match="has no callable 'nope'"):
        load_model("torch.nn:nope", input_shape=(3,))
    with pytest.raises(ConfigError, match="cannot import module"):
        load_model("no_such_pkg_xyz:make", input_shape=(3,))
