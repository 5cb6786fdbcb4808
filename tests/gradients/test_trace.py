"""trace: the chain rule with numbers, checked on the reports' example and against autograd."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
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


# -- batches, raw outputs and the L2 term -------------------------------------------------

EXAMPLES = EXAMPLE.parent


def _autograd_general(spec: dict, wrt: tuple[str, int | None, tuple[int, ...]]) -> float:
    """dL/d(entry) by torch.autograd for any spec: a batch (L = mean or sum of the
    examples' losses), loss none (L = y[output]), and the L2 term over the weights."""
    rows = spec["input"] if isinstance(spec["input"][0], list) else [spec["input"]]
    x = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    h, params = x, []
    for layer in spec["layers"]:
        if isinstance(layer, dict) and "linear" in layer:
            w = torch.tensor(layer["linear"]["weight"], dtype=torch.float64, requires_grad=True)
            b = layer["linear"].get("bias", False)
            b = torch.tensor(b, dtype=torch.float64, requires_grad=True) if b else None
            params.append((w, b))
            h = h @ w.T + (b if b is not None else 0.0)
        else:
            h = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[layer](h)
    loss = spec.get("loss", "squared_error")
    batched = isinstance(spec["input"][0], list)
    targets = spec.get("target") if batched else [spec.get("target")]
    if loss == "none":
        per = h[:, spec.get("output", 0)]
    elif loss == "cross_entropy":
        per = F.cross_entropy(h, torch.tensor(targets), reduction="none")
    else:
        t = torch.tensor([v if isinstance(v, list) else [v] for v in targets],
                         dtype=torch.float64)
        per = ((t - h) ** 2).sum(1)
    total = per.mean() if spec.get("reduction", "mean") == "mean" else per.sum()
    total = total + spec.get("l2", 0.0) * sum((w**2).sum() for w, _ in params)
    kind, number, index = wrt
    if kind == "input":
        (grad,) = torch.autograd.grad(total, x)
        return float(grad[0][index])  # the first example's input (a batch: the one traced)
    (grad,) = torch.autograd.grad(total, params[number][0 if kind == "weight" else 1])
    return float(grad[index])


@settings(max_examples=60, deadline=None)
@given(
    widths=st.lists(st.integers(1, 3), min_size=2, max_size=4),
    n=st.integers(1, 4),
    loss=st.sampled_from(["squared_error", "cross_entropy", "none"]),
    reduction=st.sampled_from(["mean", "sum"]),
    l2=st.sampled_from([0.0, 0.05, 0.3]),
    data=st.data(),
    seed=st.integers(0, 2**16),
)
def test_a_batch_trace_equals_autograd_of_the_batch_loss(widths, n, loss, reduction, l2, data,
                                                         seed):
    rng = np.random.default_rng(seed)
    layers = []
    depth = len(widths) - 1
    acts = data.draw(st.lists(st.sampled_from([None, "sigmoid", "tanh", "relu"]),
                              min_size=depth, max_size=depth))
    for i, act in enumerate(acts):
        layers.append({"linear": {
            "weight": rng.uniform(-1.5, 1.5, size=(widths[i + 1], widths[i])).round(3).tolist(),
            "bias": rng.uniform(-1, 1, size=widths[i + 1]).round(3).tolist()}})
        if act:
            layers.append(act)
    k = widths[-1]
    inputs = rng.uniform(-1, 1, size=(n, widths[0])).round(3).tolist()
    spec = {"input": inputs, "loss": loss, "layers": layers, "reduction": reduction, "l2": l2}
    if loss == "none":
        spec["output"] = int(rng.integers(0, k))
    elif loss == "cross_entropy":
        spec["target"] = rng.integers(0, k, size=n).tolist()
    else:
        spec["target"] = rng.uniform(-1, 1, size=(n, k)).round(3).tolist()
    m = data.draw(st.integers(0, depth - 1))
    kind = data.draw(st.sampled_from(["weight", "bias"]))
    i = data.draw(st.integers(0, widths[m + 1] - 1))
    j = data.draw(st.integers(0, widths[m] - 1))
    index = (i, j) if kind == "weight" else (i,)
    wrt = f"{'W' if kind == 'weight' else 'b'}{m + 1}[{','.join(map(str, index))}]"
    batch = trace(spec, wrt=wrt)
    assert batch.gradient == pytest.approx(_autograd_general(spec, (kind, m, index)),
                                           rel=1e-9, abs=1e-12)
    # the examples' part is the mean (sum) of their own chain products
    weight = 1 / n if reduction == "mean" else 1
    assert batch.product == pytest.approx(weight * sum(t.product for t in batch.examples),
                                           rel=1e-12, abs=1e-15)
    for e, (one, x) in enumerate(zip(batch.examples, inputs, strict=True)):  # each alone
        alone = {**spec, "input": x, "l2": 0.0}
        if loss != "none":
            alone["target"] = spec["target"][e]
        assert one.product == pytest.approx(trace(alone, wrt=wrt).product, rel=1e-12)


def test_the_batch_example_renders_each_examples_factors_and_the_mean():
    batch = trace(EXAMPLES / "trace_2-2-1_batch.yaml")
    assert len(batch.examples) == 3
    # example 0 is the reports' network and input: its factors are the worked example's
    assert [round(f.value, 5) for f in batch.examples[0].factors] == [
        0.29090, 0.22884, -0.2, 0.15562, -0.3]
    text = batch.render()
    assert "batch of 3 examples: L = 1/3 Σ_n L_n" in text
    rows = [line.split() for line in text.splitlines() if line[:4] in ("  0 ", "  1 ", "  2 ")]
    assert [r[0] for r in rows] == ["0", "1", "2"]
    assert rows[0][-1] == "6.2158e-04"
    mean = next(line.split() for line in text.splitlines() if line.strip().startswith("mean"))
    assert mean[-1] == f"{batch.product:.5f}" == "0.00373"
    assert "\\frac{1}{3}\\sum_{n=0}^{2}" in batch.render_latex()


def test_the_l2_term_is_a_row_of_its_own_and_the_total_is_autograds():
    t = trace(EXAMPLES / "trace_2-2-1_l2.yaml")
    assert f"{t.product:.4e}" == "6.2158e-04"  # the chain: the data loss's part
    assert t.l2_grad == pytest.approx(2 * 0.12 * 0.24, rel=1e-15)
    assert t.gradient == pytest.approx(6.2158e-4 + 0.0576, rel=1e-4)
    spec = yaml.safe_load((EXAMPLES / "trace_2-2-1_l2.yaml").read_text())
    assert t.gradient == pytest.approx(_autograd_general(spec, ("weight", 0, (1, 2))),
                                       rel=1e-12)
    penalty = 0.12 * (0.75**2 + 0.63**2 + 0.24**2 + 1.7**2 + 0.8**2 + 0.2**2)
    assert t.penalty == pytest.approx(penalty, rel=1e-12)
    assert t.loss_value == pytest.approx((0.5 - 0.64545) ** 2 + penalty, rel=1e-4)
    text = t.render()
    assert "∂(λ Σ‖W‖²)/∂W1[1,2]  2 λ W1[1,2]           0.05760" in text
    assert "total                product + L2 term     0.05822" in text
    # a bias is not penalized: its L2 row is 0
    bias = trace({**spec, "layers": [{"linear": {**spec["layers"][0]["linear"],
                                                 "bias": [0.1, -0.2]}}, *spec["layers"][1:]]},
                 wrt="b1[0]")
    assert bias.l2_grad == 0.0 and "0 (λ‖W‖² holds no bias)" in bias.render()


def test_the_raw_output_of_reports_000_q5_is_g_1_minus_g_times_w():
    t = trace(EXAMPLES / "trace_q5_output.yaml")
    z = 0.5 * 0.9 + 0.4 * 1.1 - 0.3 * 0.3 + 0.1
    g = 1 / (1 + math.exp(-z))
    assert t.top == "y" and t.loss_value == pytest.approx(g, rel=1e-14)
    assert [f.form for f in t.factors] == ["y (1 - y)", "W1[0,0]"]
    assert t.gradient == pytest.approx(g * (1 - g) * 0.5, rel=1e-14)
    spec = yaml.safe_load((EXAMPLES / "trace_q5_output.yaml").read_text())
    for i in range(3):  # every input, against autograd
        assert trace(spec, wrt=f"x[{i}]").gradient == pytest.approx(
            _autograd_general(spec, ("input", None, (i,))), rel=1e-14)
    assert "∂y/∂x[0] = (0.20550) x (0.50000) = 0.10275" in t.render()


def test_a_raw_output_off_the_path_has_a_zero_factor():
    spec = {"input": [0.3, -0.2], "loss": "none", "output": 1,
            "layers": [{"linear": {"weight": [[0.5, -0.4], [0.2, 0.7]]}}, "tanh"],
            "wrt": "W1[0,1]"}
    t = trace(spec)
    assert t.factors[0].form == "[0 = 1]" and t.gradient == 0.0
    assert t.gradient == _autograd_general(spec, ("weight", 0, (0, 1)))


@pytest.mark.parametrize(("changes", "message"), [
    ({"loss": "none"}, "target: loss none differentiates the output itself"),
    ({"output": 0}, "output: only with loss none"),
    ({"loss": "none", "target": None, "output": 3}, r"output: 3 is not an output index \(0..0\)"),
    ({"l2": -0.1}, "l2: must be >= 0, got -0.1"),
    ({"l2": "big"}, "l2: expected a number"),
    ({"reduction": "max"}, "reduction: 'max' is not one of mean, sum"),
    ({"input": [[0.9, -1.1], [0.1, 0.2]]}, "target: a batch of 2 inputs needs a list of 2"),
    ({"input": [[0.9, -1.1], [0.1]], "target": [0.5, 0.5]}, r"input: rows of different "
                                                            r"lengths \[2, 1\]"),
    ({"input": [[0.9, -1.1], [0.1, 0.2]], "target": [0.5, [1, 2]]},
     r"target\[1\]: 2 values for 1 outputs"),
])
def test_bad_batch_output_and_l2_specs_name_the_key(changes, message):
    with pytest.raises((ConfigError, ShapeError), match=message) as info:
        trace(_with(**changes))
    assert "\n" not in str(info.value)


def test_loss_none_needs_the_output_index_when_there_are_several():
    spec = {"input": [0.3], "loss": "none", "layers": [{"linear": {"weight": [[1.0], [2.0]]}}],
            "wrt": "x[0]"}
    with pytest.raises(ConfigError, match="output: the network has 2 outputs; say which"):
        trace(spec)
