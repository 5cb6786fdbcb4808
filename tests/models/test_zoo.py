"""The zoo's names live in config, its builders here: one builder for every name."""

from __future__ import annotations

import pytest

from nnstudy.config.zoo import ZOO
from nnstudy.models import build_model
from nnstudy.models.zoo import BUILDERS


def test_every_zoo_name_has_one_builder_and_every_builder_a_name():
    assert list(BUILDERS) == list(ZOO)
    for name, builder in BUILDERS.items():
        assert (builder.layers is None) != (builder.module is None), name


@pytest.mark.parametrize("name", [n for n in ZOO if n != "alexnet"])
def test_each_zoo_model_builds_for_its_own_input_and_classes(name):
    entry = ZOO[name]
    net = build_model(name, entry.input_shape)
    assert net.output_shape == (entry.num_classes,)
