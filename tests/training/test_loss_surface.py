"""The loss over two weights: the batched grid against a point-by-point loop, the descent
path against torch.optim.SGD, and weight names checked against the model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnstudy.errors import ConfigError
from nnstudy.training.loss_surface import (
    WeightRef,
    cross_entropy,
    descent_path,
    grid_around,
    loss_grid,
    parse_weight_name,
    weight_value,
)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Tanh(), nn.Dropout(0.5),
                         nn.Linear(5, 3))


def _batch(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 1, 3, 4, generator=g), torch.randint(0, 3, (n,), generator=g)


def _loop_grid(model, x, y, refs, xs, ys) -> np.ndarray:
    """The loss at each grid point, one forward pass per point, the two weights written into
    a copy of the model in place."""
    params = dict(model.named_parameters())
    z = np.empty((len(ys), len(xs)))
    saved = [params[r.param].detach().clone() for r in refs]
    model.eval()
    with torch.no_grad():
        for i, b in enumerate(ys):
            for j, a in enumerate(xs):
                params[refs[0].param][refs[0].index] = float(a)
                params[refs[1].param][refs[1].index] = float(b)
                z[i, j] = F.cross_entropy(model(x), y).item()
        for r, value in zip(refs, saved, strict=True):
            params[r.param].copy_(value)
    return z


@pytest.mark.parametrize("names", [
    ("1.weight[3,7]", "4.weight[0,1]"),   # two layers
    ("1.weight[3,7]", "1.weight[0,2]"),   # the same parameter tensor
    ("1.bias[2]", "4.weight[2,4]"),
])
def test_the_batched_grid_equals_a_point_by_point_loop(names):
    model = _mlp()
    x, y = _batch()
    xs, ys = np.linspace(-2, 2, 7), np.linspace(-1.5, 3, 5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    z = loss_grid(model, x, y, names, xs, ys, chunk_size=8)
    assert model.training  # the mode is put back
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    refs = [parse_weight_name(model, n) for n in names]
    np.testing.assert_allclose(z, _loop_grid(model, x, y, refs, xs, ys), rtol=1e-5, atol=1e-6)


def test_the_default_loss_is_cross_entropy():
    logits, y = torch.randn(9, 4), torch.randint(0, 4, (9,))
    torch.testing.assert_close(cross_entropy(logits, y), F.cross_entropy(logits, y))


@pytest.mark.parametrize("momentum", [0.0, 0.25, 0.8])
def test_the_descent_path_is_sgd_with_momentum_on_the_two_weights(momentum):
    """Against torch.optim.SGD on a model written by hand: two nn.Parameters placed into a
    copy of the weight matrices, the loss through F.linear."""
    model = _mlp()
    x, y = _batch()
    names = ("1.weight[3,7]", "4.weight[0,1]")
    start = (0.9, -1.2)
    path = descent_path(model, x, y, names, lr=0.3, momentum=momentum, steps=25, start=start)

    w1, b1 = model[1].weight.detach(), model[1].bias.detach()
    w2, b2 = model[4].weight.detach(), model[4].bias.detach()
    a, b = (nn.Parameter(torch.tensor(v)) for v in start)
    optimizer = torch.optim.SGD([a, b], lr=0.3, momentum=momentum)

    def loss() -> torch.Tensor:
        first, second = w1.clone(), w2.clone()
        first[3, 7] = a
        second[0, 1] = b
        hidden = torch.tanh(F.linear(x.flatten(1), first, b1))
        return F.cross_entropy(F.linear(hidden, second, b2), y)

    expected, losses = [[a.item(), b.item()]], []
    for _ in range(25):
        optimizer.zero_grad()
        value = loss()
        losses.append(value.item())
        value.backward()
        optimizer.step()
        expected.append([a.item(), b.item()])
    losses.append(loss().item())
    np.testing.assert_allclose(path.points, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(path.losses, losses, rtol=1e-5)
    assert path.label == f"momentum {momentum:g}"


def test_the_path_starts_at_the_trained_values_and_stops_when_the_loss_blows_up():
    model = _mlp()
    x, y = _batch()
    names = ("1.weight[0,0]", "4.weight[1,1]")
    path = descent_path(model, x, y, names, lr=0.1, steps=3)
    assert path.points[0].tolist() == [weight_value(model, n) for n in names]
    assert path.points.shape == (4, 2)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    exploding = descent_path(linear, x, y, ("1.weight[0,0]", "1.weight[1,1]"), lr=1e4,
                             steps=50, loss=lambda out, _: (out**2).mean())
    assert 1 < len(exploding.points) < 51
    assert np.isfinite(exploding.losses).all()
    assert len(exploding.losses) == len(exploding.points)


@pytest.mark.parametrize(("name", "message"), [
    ("fc1.weight", r"write a parameter and an index, as 'fc1\.weight\[3,7\]'; the parameters "
                   r"are 1\.weight \[5, 12\], 1\.bias \[5\], 4\.weight \[3, 5\], 4\.bias \[3\]"),
    ("fc9.weight[0,0]", r"no parameter 'fc9\.weight'; it has 1\.weight \[5, 12\]"),
    ("1.weight[3]", r"1\.weight has 2 dimension\(s\) \[5, 12\], the index gives 1"),
    ("1.weight[3,12]", r"index 12 is out of range for dimension 1 of 1\.weight "
                       r"\(size 12: 0\.\.11\)"),
    ("1.bias[-1]", r"index -1 is out of range for dimension 0"),
])
def test_a_bad_weight_name_says_what_is_wrong_and_lists_the_parameters(name, message):
    with pytest.raises(ConfigError, match=message):
        parse_weight_name(_mlp(), name)


def test_a_weight_name_parses_with_spaces_and_refuses_the_same_weight_twice():
    assert parse_weight_name(_mlp(), " 1.weight[ 3 , 7 ] ") == WeightRef("1.weight", (3, 7))
    assert str(WeightRef("1.weight", (3, 7))) == "1.weight[3,7]"
    x, y = _batch()
    with pytest.raises(ConfigError, match=r"both are 1\.weight\[3,7\]"):
        loss_grid(_mlp(), x, y, ("1.weight[3,7]", "1.weight[3, 7]"), [0], [0])


def test_grid_around_covers_every_point_with_a_margin():
    points = np.array([[0.0, 1.0], [2.0, 5.0], [1.0, np.nan]])
    xs, ys = grid_around(points, n=11, margin=0.5)
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (-1.0, 3.0, -1.0, 7.0)
    assert len(xs) == len(ys) == 11
