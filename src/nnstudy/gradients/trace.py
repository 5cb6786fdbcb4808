"""The chain rule with numbers, for a small network given in full in YAML.

    input: [0.9, -1.1, -0.3, 0.8]
    target: 0.5
    loss: squared_error            # (target - y)^2 summed; or cross_entropy, class index
    layers:
      - linear: {weight: [[0.75, -0.63, 0, 0], [0, 0, 0.24, -1.7]], bias: false}
      - sigmoid
      - linear: {weight: [[0.8, -0.2]], bias: false}
      - sigmoid
    wrt: layers.0.weight[1,2]

`trace(spec)` computes every node forward (x, z1 = W1 x + b1, a1 = f(z1), ..., y, L), every
dL/dnode backward, and the chain from L down to the chosen entry: one factor per edge on
its path, each with its symbolic form and value; their product is dL/dparam. Where the
path meets a linear layer with several outputs, the upstream part is one factor,
dL/da[i] = Σ_k dL/dz[k] W[k, i], whose terms are listed.

Three more forms of the spec:
- `l2: lambda` adds lambda Σ_W ||W||^2 (every linear layer's weight, no bias) to the loss;
  its derivative, 2 lambda W[i, j] for a weight entry, is a term of its own beside the
  chain's product: dL/dW[i, j] = product + 2 lambda W[i, j] (`Trace.gradient`).
- `loss: none` traces a raw output, y[k] (`output: k`, needed when y has several
  entries), with no target: dy[k]/dx[j] of report 000's Q5.
- `input` as a list of rows (and `target` as a list, one per row) is a batch: each
  example is traced alone, and L = 1/N Σ_n L_n (`reduction: sum`: Σ_n L_n), plus the L2
  term once; dL/dparam is the mean (sum) of the examples' products (`BatchTrace`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnstudy.config import layers as spec
from nnstudy.config.loading import load_yaml
from nnstudy.errors import ConfigError, ShapeError
from nnstudy.models.layers import KINDS, kind_of

LOSSES = ("squared_error", "cross_entropy", "none")
REDUCTIONS = ("mean", "sum")
KEYS = ("input", "target", "loss", "layers", "wrt", "l2", "reduction", "output")


# -- activations: value, derivative, and the derivative's form in text and LaTeX ----------

@dataclass(frozen=True)
class Activation:
    name: str
    expr: Callable[[str], str]  # the node's formula from its input's name: σ(z1)
    expr_latex: Callable[[str], str]
    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (z, a) -> da/dz
    form: Callable[[str, str], str]  # (z name, a name) -> text of da/dz
    form_latex: Callable[[str, str], str]


@dataclass(frozen=True)
class _Forms:
    """How an activation is written: the node's formula and its derivative's, in text and
    LaTeX, from the input's name z and the output's name a."""

    expr: Callable[[str], str]
    expr_latex: Callable[[str], str]
    form: Callable[[str, str], str]
    form_latex: Callable[[str, str], str]


def _call(symbol: str) -> Callable[[str], str]:
    return lambda arg: f"{symbol}({arg})"


def _leaky_forms(s: float) -> _Forms:
    return _Forms(_call(f"leaky_relu_{s:g}"), _call(f"\\operatorname{{lrelu}}_{{{s:g}}}"),
                  lambda z, a: f"1 if {z} > 0 else {s:g}",
                  lambda z, a: f"[{z} > 0] + {s:g}\\,[{z} \\le 0]")


def _affine_forms(a_: float, c_: float) -> _Forms:
    return _Forms(lambda p: f"{a_:g} {p} + {c_:g}", lambda p: f"{a_:g}\\,{p} + {c_:g}",
                  lambda z, a: f"{a_:g}", lambda z, a: f"{a_:g}")


# The textbook forms; any other element-wise activation is written f(z), f'(z).
_FORMS: dict[type, Callable[[Any], _Forms]] = {
    spec.Sigmoid: lambda s: _Forms(_call("σ"), _call(r"\sigma"),
                                     lambda z, a: f"{a} (1 - {a})",
                                     lambda z, a: f"{a}\\,(1 - {a})"),
    spec.Tanh: lambda s: _Forms(_call("tanh"), _call(r"\tanh"),
                                  lambda z, a: f"1 - {a}^2", lambda z, a: f"1 - {a}^2"),
    spec.ReLU: lambda s: _Forms(_call("relu"), _call(r"\operatorname{relu}"),
                                  lambda z, a: f"[{z} > 0]", lambda z, a: f"[{z} > 0]"),
    spec.LeakyReLU: lambda s: _leaky_forms(s.slope),
    spec.Identity: lambda s: _Forms(str, str, lambda z, a: "1", lambda z, a: "1"),
    spec.LinearActivation: lambda s: _affine_forms(s.a, s.c),
}


def _generic_forms(layer: spec.LayerSpec) -> _Forms:
    name = layer.kind
    return _Forms(_call(name), _call(f"\\operatorname{{{name}}}"),
                  lambda z, a: f"{name}'({z})", lambda z, a: f"\\operatorname{{{name}}}'({z})")


def _traceable() -> list[str]:
    """The activations trace takes: the element-wise ones (not softmax)."""
    return [name for name, cls in spec.ACTIVATIONS.items() if KINDS[cls].elementwise]


def _activation(name: Any, item: Any, where: str) -> Activation:
    """The element-wise activation `item` (named `name`), computed by its NumPy reference
    layer: the value is its forward, da/dz its backward of ones."""
    traceable = _traceable()
    if spec.ALIASES.get(name, name) not in traceable:
        raise ConfigError(f"{where}: unknown layer {name!r}; one of linear, "
                          f"{', '.join(traceable)}")
    layer = spec.parse_activation(item, where)
    kind = kind_of(layer)
    module, _ = kind.build(layer, (1,), where)
    reference = kind.to_reference(module, np.float64)

    def derivative(z: np.ndarray, a: np.ndarray) -> np.ndarray:
        reference.forward(z)
        return reference.backward(np.ones_like(z))

    forms = _FORMS.get(type(layer), _generic_forms)(layer)
    return Activation(layer.kind, forms.expr, forms.expr_latex, reference.forward, derivative,
                      forms.form, forms.form_latex)


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ConfigError(f"{where}: expected a number, got {v!r}")
    return float(v)


def _vector(v: Any, where: str) -> np.ndarray:
    if not isinstance(v, list) or not v:
        raise ConfigError(f"{where}: expected a non-empty list of numbers, got {v!r}")
    return np.array([_number(x, f"{where}[{i}]") for i, x in enumerate(v)])


def _matrix(v: Any, where: str) -> np.ndarray:
    if not isinstance(v, list) or not v or not all(isinstance(r, list) for r in v):
        raise ConfigError(f"{where}: expected a list of rows, e.g. [[0.8, -0.2]], got {v!r}")
    rows = [_vector(r, f"{where}[{i}]") for i, r in enumerate(v)]
    if len({len(r) for r in rows}) != 1:
        raise ConfigError(f"{where}: rows of different lengths {[len(r) for r in rows]}")
    return np.stack(rows)


# -- the network: layers and nodes ------------------------------------------------------

@dataclass
class Node:
    """A vector of the forward pass: its name (x, z1, a1, y), LaTeX name, and values."""

    name: str
    latex: str
    value: np.ndarray
    expr: str = ""
    expr_latex: str = ""
    grad: np.ndarray | None = None  # dL/dnode

    def at(self, i: int) -> str:
        return self.name if self.value.size == 1 and self.name != "x" else f"{self.name}[{i}]"

    def at_latex(self, i: int) -> str:
        if self.value.size == 1 and self.name != "x":
            return self.latex
        return _latex_sub(self.latex, str(i))


def _latex_sub(base: str, index: str) -> str:
    return f"{base}_{{{index}}}"


@dataclass
class Factor:
    """One partial derivative of the chain: d(top)/d(bottom), its form and value."""

    top: str
    bottom: str
    top_latex: str
    bottom_latex: str
    form: str
    form_latex: str
    value: float
    terms: list[tuple[str, float, str, float]] = field(default_factory=list)


@dataclass
class Trace:
    """Forward nodes, their gradients, and the chain of factors down to `wrt`.

    `top` is what is differentiated: "L" (the loss), or the output entry ("y", "y[1]")
    with loss none. `loss_value` is its value, the L2 term included (`penalty`); the
    nodes' gradients are those of the data loss, which the L2 term does not reach.
    """

    nodes: list[Node]
    loss: str
    loss_value: float
    target: np.ndarray | int | None
    wrt: str
    wrt_name: str
    wrt_latex: str
    wrt_value: float
    factors: list[Factor]  # from the loss down to the parameter
    top: str = "L"
    top_latex: str = "L"
    l2: float = 0.0
    penalty: float = 0.0   # lambda Σ ||W||^2
    l2_grad: float = 0.0   # its derivative by the entry: 2 lambda W[i, j], 0 for others
    wrt_kind: str = "weight"

    @property
    def product(self) -> float:
        """The chain's product: d(data loss)/d(entry)."""
        return float(math.prod(f.value for f in self.factors))

    @property
    def gradient(self) -> float:
        """dL/d(entry): the chain's product plus the L2 term's derivative."""
        return self.product + self.l2_grad

    def render(self) -> str:
        from nnstudy.gradients.trace_render import render_text

        return render_text(self)

    def render_latex(self) -> str:
        from nnstudy.gradients.trace_render import render_latex

        return render_latex(self)

    __str__ = render


@dataclass
class BatchTrace:
    """A batch of N examples, each traced alone (`examples[n]`, whose `loss_value` is its
    L_n without the L2 term), and the batch's L = 1/N Σ_n L_n (or Σ_n L_n with reduction
    sum) + lambda Σ ||W||^2."""

    examples: list[Trace]
    reduction: str
    l2: float = 0.0
    penalty: float = 0.0
    l2_grad: float = 0.0

    @property
    def first(self) -> Trace:
        return self.examples[0]

    @property
    def weight(self) -> float:
        """1/N for the mean, 1 for the sum."""
        return 1.0 / len(self.examples) if self.reduction == "mean" else 1.0

    @property
    def products(self) -> list[float]:
        """Each example's chain product dL_n/d(entry)."""
        return [t.product for t in self.examples]

    @property
    def product(self) -> float:
        """The mean (sum) of the examples' products: d(data loss)/d(entry)."""
        return self.weight * math.fsum(self.products)

    @property
    def gradient(self) -> float:
        """dL/d(entry): the examples' part plus the L2 term's derivative."""
        return self.product + self.l2_grad

    @property
    def loss_value(self) -> float:
        return self.weight * math.fsum(t.loss_value for t in self.examples) + self.penalty

    def render(self) -> str:
        from nnstudy.gradients.trace_render import render_batch_text

        return render_batch_text(self)

    def render_latex(self) -> str:
        from nnstudy.gradients.trace_render import render_batch_latex

        return render_batch_latex(self)

    __str__ = render


@dataclass
class _Linear:
    weight: np.ndarray
    bias: np.ndarray | None
    number: int  # 1-based among linear layers: W1, W2, ...


def _parse_layers(raw: Any, width: int) -> list[_Linear | Activation]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("layers: expected a non-empty list of layers")
    layers: list[_Linear | Activation] = []
    for k, item in enumerate(raw):
        where = f"layers[{k}]"
        if isinstance(item, str):
            name, arg = item, None
        elif isinstance(item, dict) and len(item) == 1:
            name, arg = next(iter(item.items()))
        else:
            raise ConfigError(f"{where}: expected a layer name or a one-key mapping, got {item!r}")
        if name != "linear":
            layers.append(_activation(name, item, where))
            continue
        if not isinstance(arg, dict) or "weight" not in arg or set(arg) - {"weight", "bias"}:
            raise ConfigError(f"{where}.linear: expected {{weight: [[...]], bias: false | [...]}}"
                              f", got {arg!r}")
        w = _matrix(arg["weight"], f"{where}.linear.weight")
        if w.shape[1] != width:
            raise ShapeError(f"{where}.linear.weight: {w.shape[0]}x{w.shape[1]} takes "
                             f"{w.shape[1]} inputs, but {width} arrive")
        b = arg.get("bias", False)
        bias = None if b is False or b is None else _vector(b, f"{where}.linear.bias")
        if bias is not None and bias.size != w.shape[0]:
            raise ShapeError(f"{where}.linear.bias: {bias.size} values for {w.shape[0]} outputs")
        layers.append(_Linear(w, bias, 1 + sum(isinstance(x, _Linear) for x in layers)))
        width = w.shape[0]
    return layers


def _forward(x: np.ndarray, layers: list[_Linear | Activation]) -> list[Node]:
    nodes = [Node("x", "x", x)]
    count = 0
    for k, layer in enumerate(layers):
        prev = nodes[-1]
        if isinstance(layer, _Linear):
            count = layer.number
            z = layer.weight @ prev.value + (layer.bias if layer.bias is not None else 0.0)
            plus = f" + b{count}" if layer.bias is not None else ""
            nodes.append(Node(f"z{count}", f"z^{{({count})}}", z, f"W{count} {prev.name}{plus}",
                              f"W^{{({count})}} {prev.latex}"
                              + (f" + b^{{({count})}}" if layer.bias is not None else "")))
        else:
            taken = {n.name for n in nodes}
            name = f"a{count}" if f"a{count}" not in taken else f"a{count}_{k}"
            latex = f"a^{{({count})}}" if name == f"a{count}" else f"a^{{({count},{k})}}"
            nodes.append(Node(name, latex, layer.value(prev.value), layer.expr(prev.name),
                              layer.expr_latex(prev.latex)))
    last = nodes[-1]
    last.expr = f"{last.name} = {last.expr}" if last.expr else last.name
    last.expr_latex = f"{last.latex} = {last.expr_latex}" if last.expr_latex else last.latex
    last.name, last.latex = "y", "y"
    return nodes


def _loss(y: np.ndarray, loss: str, target: Any, where: str = "target"
          ) -> tuple[float, np.ndarray, Any]:
    """L and dL/dy: squared_error L = sum (t - y)^2, dL/dy = -2 (t - y);
    cross_entropy L = -log softmax(y)[c], dL/dy = p - onehot(c); none (the raw output
    y[k], `target` = k) L = y[k], dL/dy = onehot(k)."""
    if loss == "none":
        grad = np.zeros_like(y)
        grad[target] = 1.0
        return float(y[target]), grad, None
    if loss == "squared_error":
        t = (_vector(target, where) if isinstance(target, list)
             else np.array([_number(target, where)]))
        if t.size != y.size:
            raise ShapeError(f"{where}: {t.size} values for {y.size} outputs")
        return float(((t - y) ** 2).sum()), -2.0 * (t - y), t
    if isinstance(target, bool) or not isinstance(target, int):
        raise ConfigError(f"{where}: cross_entropy needs a class index, got {target!r}")
    if not 0 <= target < y.size:
        raise ConfigError(f"{where}: class index {target} is out of range for {y.size} "
                          f"outputs (0..{y.size - 1})")
    shifted = y - y.max()
    p = np.exp(shifted) / np.exp(shifted).sum()
    grad = p.copy()
    grad[target] -= 1.0
    return float(-np.log(p[target])), grad, target


def _backward(nodes: list[Node], layers: list[_Linear | Activation], dy: np.ndarray) -> None:
    nodes[-1].grad = dy
    for k in range(len(layers) - 1, -1, -1):
        layer, out, inp = layers[k], nodes[k + 1], nodes[k]
        if isinstance(layer, _Linear):
            inp.grad = layer.weight.T @ out.grad
        else:
            inp.grad = out.grad * layer.derivative(inp.value, out.value)


_WRT = re.compile(r"^\s*(?:layers\.(\d+)\.(weight|bias)|(W|b)(\d+)|(input|x))"
                  r"\s*\[\s*(\d+)\s*(?:,\s*(\d+)\s*)?\]\s*$")


def _resolve_wrt(wrt: str, layers: list[_Linear | Activation], width: int
                 ) -> tuple[int | None, str, tuple[int, ...]]:
    """(layer position or None for the input, weight|bias|input, index)."""
    names = [f"layers.{k}.weight[i,j]" for k, l_ in enumerate(layers) if isinstance(l_, _Linear)]
    names += [f"layers.{k}.bias[i]" for k, l_ in enumerate(layers)
              if isinstance(l_, _Linear) and l_.bias is not None]
    known = f"; one of {', '.join([*names, 'input[j]'])} (or W1[i,j], b1[i], x[j])"
    m = _WRT.match(wrt)
    if m is None:
        raise ConfigError(f"wrt: {wrt!r} is not a parameter entry{known}")
    pos_s, kind, short, number, inp, i, j = m.groups()
    index = tuple(int(v) for v in (i, j) if v is not None)
    if inp:
        pos, kind = None, "input"
        shape: tuple[int, ...] = (width,)
    else:
        if short:
            linears = [k for k, l_ in enumerate(layers) if isinstance(l_, _Linear)]
            n = int(number)
            pos = linears[n - 1] if 1 <= n <= len(linears) else -1
            kind = "weight" if short == "W" else "bias"
        else:
            pos = int(pos_s)
        layer = layers[pos] if 0 <= pos < len(layers) else None
        if not isinstance(layer, _Linear) or (kind == "bias" and layer.bias is None):
            raise ConfigError(f"wrt: {wrt!r} is not a parameter of the network{known}")
        shape = layer.weight.shape if kind == "weight" else layer.bias.shape
    if len(index) != len(shape) or any(not 0 <= v < s for v, s in zip(index, shape, strict=True)):
        raise ConfigError(f"wrt: index [{','.join(map(str, index))}] is out of range for "
                          f"{wrt.split('[')[0].strip()} of shape {'x'.join(map(str, shape))}")
    return pos, kind, index


def _chain(nodes: list[Node], layers: list[_Linear | Activation], loss: str,
           pos: int | None, kind: str, index: tuple[int, ...], top: str = "L",
           top_latex: str = "L", output: int = 0) -> tuple[list[Factor], str, str]:
    """The factors from the parameter entry up to `top`, the loss or (loss none) the
    output y[`output`] (returned from the top down)."""
    factors: list[Factor] = []
    if pos is None:
        k, i = 0, index[0]
        name, latex = nodes[0].at(i), nodes[0].at_latex(i)
    else:
        layer = layers[pos]
        n = layer.number
        inp, out = nodes[pos], nodes[pos + 1]
        i = index[0]
        if kind == "weight":
            j = index[1]
            name, latex = f"W{n}[{i},{j}]", f"W^{{({n})}}_{{{i},{j}}}"
            factors.append(Factor(out.at(i), name, out.at_latex(i), latex, inp.at(j),
                                  inp.at_latex(j), float(inp.value[j])))
        else:
            name, latex = f"b{n}[{i}]", f"b^{{({n})}}_{{{i}}}"
            factors.append(Factor(out.at(i), name, out.at_latex(i), latex, "1", "1", 1.0))
        k = pos + 1
    while k < len(layers):
        layer, cur, nxt = layers[k], nodes[k], nodes[k + 1]
        if isinstance(layer, Activation):
            factors.append(Factor(nxt.at(i), cur.at(i), nxt.at_latex(i), cur.at_latex(i),
                                  layer.form(cur.at(i), nxt.at(i)),
                                  layer.form_latex(cur.at_latex(i), nxt.at_latex(i)),
                                  float(layer.derivative(cur.value, nxt.value)[i])))
        elif layer.weight.shape[0] == 1:
            n = layer.number
            factors.append(Factor(nxt.at(0), cur.at(i), nxt.at_latex(0), cur.at_latex(i),
                                  f"W{n}[0,{i}]", f"W^{{({n})}}_{{0,{i}}}",
                                  float(layer.weight[0, i])))
            i = 0
        else:
            n = layer.number
            terms = [(nxt.at(r), float(nxt.grad[r]), f"W{n}[{r},{i}]", float(layer.weight[r, i]))
                     for r in range(layer.weight.shape[0])]
            factors.append(Factor(
                top, cur.at(i), top_latex, cur.at_latex(i),
                f"Σ_k ∂{top}/∂{nxt.name}[k] W{n}[k,{i}]",
                f"\\sum_k \\frac{{\\partial {top_latex}}}{{\\partial {nxt.latex}_k}} "
                f"W^{{({n})}}_{{k,{i}}}",
                float(cur.grad[i]), terms))
            return factors[::-1], name, latex
        k += 1
    y = nodes[-1]
    if loss == "none":  # the top is y[output] itself: d y[output] / d y[i] = [i = output]
        if i != output:
            factors.append(Factor(top, y.at(i), top_latex, y.at_latex(i),
                                  f"[{i} = {output}]", f"[{i} = {output}]", 0.0))
        return factors[::-1], name, latex
    if loss == "squared_error":
        form = f"-2 (t{_sub(y, i)} - {y.at(i)})"
        form_latex = f"-2\\,(t{_lsub(y, i)} - {y.at_latex(i)})"
    else:
        form, form_latex = f"p[{i}] - [{i} = c]", f"p_{{{i}}} - [{i} = c]"
    factors.append(Factor("L", y.at(i), "L", y.at_latex(i), form, form_latex, float(y.grad[i])))
    return factors[::-1], name, latex


def _sub(node: Node, i: int) -> str:
    return "" if node.value.size == 1 else f"[{i}]"


def _lsub(node: Node, i: int) -> str:
    return "" if node.value.size == 1 else f"_{{{i}}}"


def trace(spec: str | Path | dict[str, Any], wrt: str | None = None) -> Trace | BatchTrace:
    """The chain-rule trace of the network `spec` describes (a YAML path or its dict)
    with respect to `wrt` (default: the spec's `wrt`): a `Trace` for one input, a
    `BatchTrace` for a list of inputs (see the module doc for l2, loss none, batches).

    Example:
        >>> import nnstudy
        >>> t = nnstudy.trace("examples/trace_2-2-1.yaml")    # doctest: +SKIP
        >>> [round(f.value, 5) for f in t.factors], f"{t.product:.4e}"  # doctest: +SKIP
        ([0.2909, 0.22884, -0.2, 0.15562, -0.3], '6.2158e-04')
    """
    raw = load_yaml(spec) if isinstance(spec, str | Path) else spec
    if not isinstance(raw, dict):
        raise ConfigError(f"{spec}: expected a mapping with input, target, loss, layers")
    extra = set(raw) - set(KEYS)
    if extra:
        raise ConfigError(f"{sorted(extra)[0]}: unknown key; the keys are {', '.join(KEYS)}")
    loss = raw.get("loss", "squared_error")
    if loss not in LOSSES:
        raise ConfigError(f"loss: {loss!r} is not one of {', '.join(LOSSES)}")
    for key in ("input", "layers") if loss == "none" else ("input", "target", "layers"):
        if key not in raw:
            raise ConfigError(f"{key}: required key is missing")
    if loss == "none" and "target" in raw:
        raise ConfigError("target: loss none differentiates the output itself, which takes "
                          "no target; remove it, or give a loss")
    if loss != "none" and "output" in raw:
        raise ConfigError(f"output: only with loss none (the loss {loss} takes every output)")
    batch = isinstance(raw["input"], list) and bool(raw["input"]) and all(
        isinstance(row, list) for row in raw["input"])
    inputs = ([_vector(row, f"input[{n}]") for n, row in enumerate(raw["input"])] if batch
              else [_vector(raw["input"], "input")])
    if len({x.size for x in inputs}) != 1:
        raise ShapeError(f"input: rows of different lengths {[x.size for x in inputs]}")
    targets = _targets(raw, loss, len(inputs), batch)
    layers = _parse_layers(raw["layers"], inputs[0].size)
    l2 = _number(raw.get("l2", 0.0), "l2")
    if l2 < 0:
        raise ConfigError(f"l2: must be >= 0, got {l2:g}")
    reduction = raw.get("reduction", "mean")
    if reduction not in REDUCTIONS:
        raise ConfigError(f"reduction: {reduction!r} is not one of {', '.join(REDUCTIONS)}")
    wrt = wrt if wrt is not None else raw.get("wrt")
    if not isinstance(wrt, str):
        raise ConfigError("wrt: give the entry to differentiate by, e.g. "
                          "wrt: layers.0.weight[1,2] (or --wrt)")
    pos, kind, index = _resolve_wrt(wrt, layers, inputs[0].size)
    output = _output(raw, layers, inputs[0].size) if loss == "none" else 0
    examples = [
        _trace_one(x, target, layers, loss, wrt.strip(), pos, kind, index, output,
                   f"target[{n}]" if batch else "target")
        for n, (x, target) in enumerate(zip(inputs, targets, strict=True))]
    penalty = l2 * sum(float((layer.weight ** 2).sum()) for layer in layers
                       if isinstance(layer, _Linear))
    l2_grad = 2.0 * l2 * examples[0].wrt_value if kind == "weight" else 0.0
    if batch:
        return BatchTrace(examples, reduction, l2, penalty, l2_grad)
    one = examples[0]
    one.l2, one.penalty, one.l2_grad = l2, penalty, l2_grad
    one.loss_value += penalty
    return one


def _targets(raw: dict[str, Any], loss: str, n: int, batch: bool) -> list[Any]:
    """One target per example (None with loss none): the spec's target, or with a batch
    its list of n targets."""
    if loss == "none":
        return [None] * n
    target = raw["target"]
    if not batch:
        return [target]
    if not isinstance(target, list) or len(target) != n:
        raise ConfigError(f"target: a batch of {n} inputs needs a list of {n} targets, one "
                          f"per input, got {target!r}")
    return target


def _output(raw: dict[str, Any], layers: list[_Linear | Activation], width: int) -> int:
    """The output entry k that loss none differentiates: `output`, or 0 when y has one."""
    for layer in layers:
        if isinstance(layer, _Linear):
            width = layer.weight.shape[0]
    k = raw.get("output")
    if k is None:
        if width != 1:
            raise ConfigError(f"output: the network has {width} outputs; say which one to "
                              "differentiate, e.g. output: 0")
        return 0
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < width:
        raise ConfigError(f"output: {k!r} is not an output index (0..{width - 1})")
    return k


def _trace_one(x: np.ndarray, target: Any, layers: list[_Linear | Activation], loss: str,
               wrt: str, pos: int | None, kind: str, index: tuple[int, ...], output: int,
               where: str) -> Trace:
    """The trace of one example (no L2 term: `trace` adds it)."""
    nodes = _forward(x, layers)
    value, dy, target = _loss(nodes[-1].value, loss, output if loss == "none" else target,
                              where)
    _backward(nodes, layers, dy)
    top, top_latex = (("L", "L") if loss != "none" else
                      (nodes[-1].at(output), nodes[-1].at_latex(output)))
    factors, name, latex = _chain(nodes, layers, loss, pos, kind, index, top, top_latex,
                                  output)
    if pos is None:
        wrt_value = float(x[index[0]])
    else:
        layer = layers[pos]
        param = layer.weight if kind == "weight" else layer.bias
        wrt_value = float(param[index])
    return Trace(nodes, loss, value, target, wrt, name, latex, wrt_value, factors, top,
                 top_latex, wrt_kind=kind)
