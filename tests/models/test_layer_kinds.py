"""Every layer spec has one kind, and every kind keeps its promises: the module it builds
and the shape it announces, the operators that price it, its NumPy twin, and (for an
activation) the gradient the hand-written training pass uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nnstudy.analysis.counting import OpCounter
from nnstudy.analysis.op_costs import FREE_OPS, has_formula
from nnstudy.config import layers as spec
from nnstudy.models.layers import KINDS, kind_of, kind_of_module
from nnstudy.models.layers.kind import FAMILIES, LayerKind, register
from nnstudy.models.to_reference import from_torch

# One example per kind whose spec has required arguments; a kind whose spec has none
# (every activation so far) is tried with its defaults on a 3x5 input.
EXAMPLES: dict[type[spec.LayerSpec], tuple[spec.LayerSpec, tuple[int, ...]]] = {
    spec.Linear: (spec.Linear(out=5), (6,)),
    spec.Conv: (spec.Conv(out=4, kernel=3, padding=1, groups=2), (2, 6, 6)),
    spec.MaxPool: (spec.MaxPool(kernel=2), (2, 6, 6)),
    spec.AvgPool: (spec.AvgPool(kernel=3, stride=2, padding=1), (2, 7, 7)),
    spec.AdaptiveAvgPool: (spec.AdaptiveAvgPool(size=2), (2, 5, 5)),
    spec.Flatten: (spec.Flatten(), (2, 3, 3)),
    spec.Dropout: (spec.Dropout(p=0.3), (7,)),
    spec.BatchNorm: (spec.BatchNorm(), (3, 4, 4)),
}


def _example(cls: type[spec.LayerSpec]) -> tuple[spec.LayerSpec, tuple[int, ...]]:
    if cls in EXAMPLES:
        return EXAMPLES[cls]
    return cls(), (3, 5)  # fails here for a new kind with required arguments: add it above


CASES = [pytest.param(*_example(cls), id=name) for name, cls in spec.LAYERS.items()]


def _built(layer: spec.LayerSpec, shape: tuple[int, ...]) -> nn.Module:
    torch.manual_seed(0)
    module, _ = kind_of(layer).build(layer, shape, "layer1")
    return module.double()


def test_every_layer_spec_has_a_kind_and_every_kind_a_spec():
    assert set(KINDS) == set(spec.LAYERS.values())
    assert all(kind.family in FAMILIES for kind in KINDS.values())


def test_every_activation_has_the_activation_family_and_a_hand_written_gradient():
    for cls in spec.ACTIVATIONS.values():
        assert KINDS[cls].family == "activation"
        assert KINDS[cls].backward is not None, cls.kind


def test_a_spec_class_or_module_class_cannot_be_registered_twice():
    relu = KINDS[spec.ReLU]
    with pytest.raises(ValueError, match="ReLU is registered twice"):
        register(relu)
    with pytest.raises(ValueError, match="ReLU already belongs to ReLU"):
        register(LayerKind(spec=spec.Pool, modules=(nn.ReLU,), family="pool", prefix="p",
                           build=relu.build, to_reference=relu.to_reference, ops=()))


def test_module_lookup_follows_subclasses_unless_exact():
    class MyReLU(nn.ReLU):
        pass

    assert kind_of_module(MyReLU()) is KINDS[spec.ReLU]
    assert kind_of_module(MyReLU(), exact=True) is None
    assert kind_of_module(nn.Conv1d(1, 1, 1)) is None


@pytest.mark.parametrize(("layer", "shape"), CASES)
def test_each_kind_builds_its_module_with_the_output_shape_it_announces(layer, shape):
    kind = kind_of(layer)
    module, out = kind.build(layer, shape, "layer1")
    assert type(module) in kind.modules
    assert kind_of_module(module) is kind
    assert kind.prefix
    y = module.eval()(torch.randn(2, *shape))
    assert tuple(y.shape) == (2, *out)


@pytest.mark.parametrize(("layer", "shape"), CASES)
def test_each_kind_is_priced_by_the_operators_it_declares(layer, shape):
    """Forward and backward in training mode: no operator goes uncounted, and every one
    that runs is declared in `ops`, each of which has a formula in op_costs."""
    kind = kind_of(layer)
    for name in kind.ops:
        packet = getattr(torch.ops.aten, name, None)
        if packet is not None:  # some names exist in other torch versions only
            overload = getattr(packet, packet.overloads()[0])
            assert has_formula(overload) and packet not in FREE_OPS, name
    module = _built(layer, shape).train()
    x = torch.randn(2, *shape, dtype=torch.float64, requires_grad=True)
    dy = torch.randn(2, *module(x).shape[1:], dtype=torch.float64)
    with OpCounter(module) as counter:
        y = module(x)
        torch.autograd.grad(y, [x, *module.parameters()], dy)
    assert counter.uncounted() == {}
    assert {record.op for record in counter.records} <= set(kind.ops)


@pytest.mark.parametrize(("layer", "shape"), CASES)
def test_each_kind_reads_into_the_reference_engine_which_computes_the_same(layer, shape):
    module = _built(layer, shape).eval()
    net = from_torch(nn.Sequential(module))
    x = torch.randn(4, *shape, dtype=torch.float64, requires_grad=True)
    y = module(x)
    dy = torch.randn_like(y)
    grads = torch.autograd.grad(y, [x, *module.parameters()], dy)
    ref_y = net.forward(x.detach().numpy())
    ref_dx = net.backward(dy.numpy())
    np.testing.assert_allclose(ref_y, y.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ref_dx, grads[0].numpy(), rtol=1e-10, atol=1e-12)
    ref_grads = net.grads()
    for (name, _), grad in zip(module.named_parameters(), grads[1:], strict=True):
        np.testing.assert_allclose(ref_grads[f"0.{name}"], grad.numpy(), rtol=1e-10,
                                   atol=1e-12)


ACTIVATION_CASES = [pytest.param(cls(), id=name) for name, cls in spec.ACTIVATIONS.items()]


@pytest.mark.parametrize("layer", ACTIVATION_CASES)
def test_each_activation_gradient_equals_autograd_in_float64(layer):
    kind = kind_of(layer)
    module = _built(layer, (3, 5))
    assert kind.dense_covers(module)
    x = torch.randn(4, 3, 5, dtype=torch.float64, requires_grad=True)
    y = module(x)
    dy = torch.randn_like(y)
    (expected,) = torch.autograd.grad(y, x, dy)
    with torch.no_grad():
        got = kind.backward(module, dy, x.detach(), y.detach())
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)


def test_in_place_modules_and_softmax_over_another_axis_are_left_to_autograd():
    assert not KINDS[spec.ELU].dense_covers(nn.ELU(inplace=True))
    assert not KINDS[spec.LeakyReLU].dense_covers(nn.LeakyReLU(inplace=True))
    assert not KINDS[spec.SiLU].dense_covers(nn.SiLU(inplace=True))
    assert not KINDS[spec.Softmax].dense_covers(nn.Softmax(dim=1))
    assert KINDS[spec.ReLU].dense_covers(nn.ReLU(inplace=True))  # its gradient reads y


def test_only_softmax_and_log_softmax_are_not_element_wise():
    not_elementwise = {cls.kind for cls in spec.ACTIVATIONS.values()
                       if not KINDS[cls].elementwise}
    assert not_elementwise == {"softmax", "log_softmax"}
