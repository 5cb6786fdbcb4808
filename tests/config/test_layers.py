"""Layer specs: one registry of names, aliases written back by their own name, and errors
that list what is accepted."""

from __future__ import annotations

import pytest

from nnstudy.config import layers as spec
from nnstudy.config.model import parse_model_spec
from nnstudy.errors import ConfigError


def test_every_spec_class_with_a_kind_is_registered_under_it():
    assert spec.LAYERS["silu"] is spec.SiLU
    assert spec.ACTIVATIONS["silu"] is spec.SiLU
    assert "linear" in spec.LAYERS and "linear" not in spec.ACTIVATIONS
    assert "pool" not in spec.LAYERS  # the abstract base of the two pools


def test_swish_is_silu_and_is_written_back_as_silu():
    assert spec.parse_layer("swish", "model[0]") == spec.SiLU()
    assert spec.parse_activation("swish", "model.mlp.activation") == spec.SiLU()
    model = parse_model_spec(["flatten", {"linear": 4}, "swish", {"linear": 2}])
    assert model.to_config() == ["flatten", {"linear": {"out": 4}}, "silu",
                                 {"linear": {"out": 2}}]


def test_a_new_spec_class_cannot_take_a_name_already_used():
    with pytest.raises(TypeError, match="layer name 'swish' is already taken"):
        type("Swish", (spec.ActivationSpec,), {"kind": "swish", "__module__": __name__})


def test_unknown_activation_lists_the_activations_without_aliases():
    with pytest.raises(ConfigError) as info:
        spec.parse_activation("swishy", "model.mlp.activation")
    assert str(info.value) == (
        "model.mlp.activation: unknown activation 'swishy'; one of identity, "
        "linear_activation, sigmoid, tanh, relu, leaky_relu, elu, gelu, silu, softmax, "
        "log_softmax"
    )


def test_a_zoo_name_in_a_list_of_layers_is_called_a_whole_model():
    with pytest.raises(ConfigError, match=r"model\[1\]: unknown layer 'lenet5' \(a whole "
                                          r"model, not a layer\); one of linear, conv"):
        parse_model_spec(["flatten", "lenet5"])
