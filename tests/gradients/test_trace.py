"""trace: the chain rule with numbers, checked on the reports' example and against autograd."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from nnstudy.errors import ConfigError, ShapeError
from nnstudy.gradients.trace import trace

EXAMPLE = Path(__file__).parents[2] / "examples" / "trace_2-2-1.yaml"


def test_the_2_2_1_example_gives_the_reports_factors_and_product():
    t = trace(EXAMPLE)
    assert [round(f.value, 5) for f in t.factors] == [0.29090, 0.22884, -0.2, 0.15562, -0.3]
    assert f"{t.product:.4e}" == "6.2158e-04"
    assert [f.form for f in t.factors] == [
        "-2 (t - y)", "y (1 - y)", "W2[0,1]", "a1[1] (1 - a1[1])", "x[2]"]
    # report 004 wrote 0.2178 for dy/dz3: the trace shows the slip
    assert abs(t.factors[1].value - 0.2178) > 0.01


def test_the_text_shows_every_node_the_gradients_and_the_chain():
    text = trace(EXAMPLE).render()
    for expected in ["z1 = W1 x", "[1.36800, -1.43200]", "y = a2 = σ(z2)", "0.64545",
                     "∂L/∂a1 = [0.05326, -0.01331]",
                     "∂L/∂W1[1,2] = ∂L/∂y · ∂y/∂z2 · ∂z2/∂a1[1] · ∂a1[1]/∂z1[1] · ∂z1[1]/∂W1[1,2]",
                     "product", "6.2158e-04"]:
        assert expected in text, expected


def test_latex_has_the_same_factors():
    latex = trace(EXAMPLE).render_latex()
    assert latex.count("\\begin{align*}") == 2
    assert "\\frac{\\partial y}{\\partial z^{(2)}} &= y\\,(1 - y) = 0.22884" in latex
    assert "= 6.2158 \\times 10^{-4}" in latex


def test_wrt_by_short_name_and_on_the_command_line_override():
    by_name = trace(EXAMPLE, wrt="W1[1,2]")
    assert by_name.product == trace(EXAMPLE).product
    w6 = trace(EXAMPLE, wrt="layers.2.weight[0,1]")
    assert len(w6.factors) == 3
    assert w6.factors[-1].form == "a1[1]"


def test_a_fan_out_is_one_summed_factor_with_its_terms():
    t = trace(EXAMPLE, wrt="input[1]")
    [factor] = t.factors
    assert factor.form == "Σ_k ∂L/∂z1[k] W1[k,1]"
    assert factor.value == pytest.approx(sum(g * w for _, g, _, w in factor.terms))


def _spec(rng: np.random.Generator, widths: list[int], acts: list[str | None],
          biases: list[bool], loss: str) -> dict:
    layers = []
    for i, (out, act, bias) in enumerate(zip(widths[1:], acts, biases, strict=True)):
        w = rng.uniform(-1.5, 1.5, size=(out, widths[i])).round(3).tolist()
        b = rng.uniform(-1, 1, size=out).round(3).tolist() if bias else False
        layers.append({"linear": {"weight": w, "bias": b}})
        if act is not None:
            layers.append(act)
    k = widths[-1]
    target = int(rng.integers(0, k)) if loss == "cross_entropy" else (
        rng.uniform(-1, 1, size=k).round(3).tolist())
    return {"input": rng.uniform(-1, 1, size=widths[0]).round(3).tolist(), "target": target,
            "loss": loss, "layers": layers}


def _autograd(spec: dict, wrt: tuple[str, int | None, tuple[int, ...]]) -> float:
    """dL/d(entry) by torch.autograd on the same network."""
    x = torch.tensor(spec["input"], dtype=torch.float64, requires_grad=True)
    h, params = x, []
    for layer in spec["layers"]:
        if isinstance(layer, dict) and "linear" in layer:
            w = torch.tensor(layer["linear"]["weight"], dtype=torch.float64, requires_grad=True)
            b = layer["linear"]["bias"]
            b = torch.tensor(b, dtype=torch.float64, requires_grad=True) if b else None
            params.append((w, b))
            h = w @ h + (b if b is not None else 0.0)
        else:
            name, arg = (layer, None) if isinstance(layer, str) else next(iter(layer.items()))
            h = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
                 "identity": lambda v: v, "elu": F.elu, "gelu": F.gelu, "silu": F.silu,
                 "swish": F.silu,
                 "leaky_relu": lambda v, s=arg: F.leaky_relu(v, s),
                 "linear_activation": lambda v, a=arg: a["a"] * v + a["c"]}[name](h)
    if spec["loss"] == "cross_entropy":
        loss = F.cross_entropy(h[None], torch.tensor([spec["target"]]))
    else:
        loss = ((torch.tensor(spec["target"], dtype=torch.float64) - h) ** 2).sum()
    kind, number, index = wrt
    tensor = x if kind == "input" else params[number][0 if kind == "weight" else 1]
    (grad,) = torch.autograd.grad(loss, tensor)
    return float(grad[index])


ACTS = st.sampled_from([None, "sigmoid", "tanh", "relu", "identity", {"leaky_relu": 0.1},
                        {"linear_activation": {"a": 0.5, "c": 0.2}}, "elu", "gelu", "silu",
                        "swish"])


@settings(max_examples=60, deadline=None)
@given(
    widths=st.lists(st.integers(1, 3), min_size=2, max_size=4),
    data=st.data(),
    loss=st.sampled_from(["squared_error", "cross_entropy"]),
    seed=st.integers(0, 2**16),
)
def test_traced_value_equals_autograd_on_random_small_networks(widths, data, loss, seed):
    n = len(widths) - 1
    acts = data.draw(st.lists(ACTS, min_size=n, max_size=n))
    biases = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    spec = _spec(np.random.default_rng(seed), widths, acts, biases, loss)
    choices = [("input", None, (i,)) for i in range(widths[0])]
    for m in range(n):
        choices += [("weight", m, (i, j)) for i in range(widths[m + 1]) for j in range(widths[m])]
        if biases[m]:
            choices += [("bias", m, (i,)) for i in range(widths[m + 1])]
    kind, number, index = data.draw(st.sampled_from(choices))
    wrt = (f"x[{index[0]}]" if kind == "input" else
           f"{'W' if kind == 'weight' else 'b'}{number + 1}[{','.join(map(str, index))}]")
    result = trace(spec, wrt=wrt)
    expected = _autograd(spec, (kind, number, index))
    assert result.product == pytest.approx(expected, rel=1e-9, abs=1e-12)
    for f in result.factors:
        if f.terms:
            assert f.value == pytest.approx(sum(g * w for _, g, _, w in f.terms), abs=1e-12)


def _with(**changes):
    spec = {"input": [0.9, -1.1], "target": 0.5, "loss": "squared_error",
            "layers": [{"linear": {"weight": [[0.5, -0.2]], "bias": [0.1]}}, "sigmoid"],
            "wrt": "layers.0.weight[0,1]"}
    spec.update(changes)
    return {k: v for k, v in spec.items() if v is not None}


@pytest.mark.parametrize(("changes", "message"), [
    ({"wrt": "layers.1.weight[0,0]"}, r"wrt: 'layers.1.weight\[0,0\]' is not a parameter"),
    ({"wrt": "w3"}, "wrt: 'w3' is not a parameter entry"),
    ({"wrt": "layers.0.weight[0,2]"}, r"wrt: index \[0,2\] is out of range for "
                                      r"layers.0.weight of shape 1x2"),
    ({"wrt": "layers.0.bias[0,0]"}, r"wrt: index \[0,0\] is out of range"),
    ({"wrt": None}, "wrt: give the entry"),
    ({"loss": "hinge"}, "loss: 'hinge' is not one of squared_error, cross_entropy"),
    ({"loss": "cross_entropy", "target": 3}, r"target: class index 3 is out of range for "
                                             r"1 outputs \(0..0\)"),
    ({"loss": "cross_entropy", "target": 0.5}, "target: cross_entropy needs a class index"),
    ({"target": [1, 2]}, "target: 2 values for 1 outputs"),
    ({"layers": ["softplus"]}, r"layers\[0\]: unknown layer 'softplus'"),
    ({"layers": [{"linear": {"weight": [[1, 2, 3]]}}]}, r"layers\[0\].linear.weight: 1x3 takes "
                                                        r"3 inputs, but 2 arrive"),
    ({"input": "abc"}, "input: expected a non-empty list of numbers"),
    ({"extra": 1}, "extra: unknown key"),
])
def test_bad_specs_name_the_key(changes, message):
    with pytest.raises((ConfigError, ShapeError), match=message) as info:
        trace(_with(**changes))
    assert "\n" not in str(info.value)


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        trace(tmp_path / "missing.yaml")


def test_trace_is_public_api():
    import nnstudy

    assert f"{nnstudy.trace(str(EXAMPLE)).product:.4e}" == "6.2158e-04"


def test_an_activation_without_a_textbook_form_is_written_f_of_z_and_f_prime():
    spec = _with(layers=[{"linear": {"weight": [[0.5, -0.2]], "bias": [0.1]}}, "swish"])
    t = trace(spec)
    assert t.nodes[-1].expr == "a1 = silu(z1)"
    assert t.factors[1].form == "silu'(z1)"
    z = 0.5 * 0.9 + 0.2 * 1.1 + 0.1
    s = 1 / (1 + np.exp(-z))
    assert t.factors[1].value == pytest.approx(s * (1 + z * (1 - s)), rel=1e-14)
    assert r"\operatorname{silu}'" in t.render_latex()


def test_softmax_is_not_traced_element_wise():
    with pytest.raises(ConfigError, match=r"layers\[1\]: unknown layer 'softmax'; one of "
                                          r"linear, identity, linear_activation, sigmoid"):
        trace(_with(layers=[{"linear": {"weight": [[0.5, -0.2]], "bias": [0.1]}}, "softmax"]))
