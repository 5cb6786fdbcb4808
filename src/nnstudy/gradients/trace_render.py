"""A chain-rule trace as text (for the terminal) and as LaTeX (for a report)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nnstudy.gradients.trace import Factor, Node, Trace


def fmt(v: float) -> str:
    """5 decimals between 1e-3 and 1e4 (0.29090), else 5 significant digits (6.2158e-04)."""
    if v == 0:
        return "0"
    return f"{v:.5f}" if 1e-3 <= abs(v) < 1e4 else f"{v:.4e}"


def _values(v: np.ndarray) -> str:
    return fmt(float(v[0])) if v.size == 1 else "[" + ", ".join(fmt(float(e)) for e in v) + "]"


def _loss_text(t: Trace) -> tuple[str, str]:
    y = t.nodes[-1]
    if t.loss == "cross_entropy":
        return "-log softmax(y)[c]", f"c = {t.target}"
    if y.value.size == 1:
        return "(t - y)^2", f"t = {fmt(float(np.ravel(t.target)[0]))}"
    return "sum_k (t[k] - y[k])^2", f"t = {_values(np.asarray(t.target))}"


def _d(top: str, bottom: str) -> str:
    return f"∂{top}/∂{bottom}"


def _chain_text(t: Trace) -> str:
    if len(t.factors) == 1 and t.factors[0].terms:  # the path fans out at once: show the sum
        return t.factors[0].form
    return " · ".join(_d(f.top, f.bottom) for f in t.factors)


def _node_label(n: Node) -> str:
    return f"{n.name} = {n.expr}" if n.expr else n.name


def render_text(t: Trace) -> str:
    """Forward values, backward gradients, and the table of factors with their product."""
    loss_expr, target = _loss_text(t)
    labels = [_node_label(n) for n in t.nodes] + [f"L = {loss_expr}"]
    width = max(len(label) for label in labels)
    lines = ["forward"]
    for label, node in zip(labels, t.nodes, strict=False):
        lines.append(f"  {label:<{width}} = {_values(node.value)}")
    lines.append(f"  {labels[-1]:<{width}} = {fmt(t.loss_value)}   ({target})")
    lines += ["", "backward (∂L/∂node)"]
    grads = [(f"∂L/∂{n.name}", n.grad) for n in reversed(t.nodes) if n.grad is not None]
    gw = max(len(g[0]) for g in grads)
    lines += [f"  {name:<{gw}} = {_values(g)}" for name, g in grads]
    target_d = _d("L", t.wrt_name)
    lines += [
        "",
        f"chain rule for {target_d}   ({t.wrt} = {fmt(t.wrt_value)})",
        f"  {target_d} = {_chain_text(t)}",
        "",
    ]
    rows = [(_d(f.top, f.bottom), f.form, fmt(f.value)) for f in t.factors]
    w0 = max(len("factor"), *(len(r[0]) for r in rows))
    w1 = max(len("form"), *(len(r[1]) for r in rows))
    w2 = max(len("value"), *(len(r[2]) for r in rows), len(fmt(t.product)))
    lines.append(f"  {'factor':<{w0}}  {'form':<{w1}}  {'value':>{w2}}")
    lines += [f"  {a:<{w0}}  {b:<{w1}}  {c:>{w2}}" for a, b, c in rows]
    lines.append(f"  {'product':<{w0}}  {'':<{w1}}  {fmt(t.product):>{w2}}")
    for f in t.factors:
        if f.terms:
            lines += ["", _sum_text(f)]
    lines += ["", f"{target_d} = {' x '.join(_paren(f.value) for f in t.factors)} "
                  f"= {fmt(t.product)}"]
    return "\n".join(lines)


def _paren(v: float) -> str:
    return f"({fmt(v)})"


def _sum_text(f: Factor) -> str:
    named = " + ".join(f"∂L/∂{node} {w}" for node, _, w, _ in f.terms)
    valued = " + ".join(f"{_paren(g)}{_paren(wv)}" for _, g, _, wv in f.terms)
    return f"where {_d(f.top, f.bottom)} = {named}\n      = {valued} = {fmt(f.value)}"


def latex_number(v: float) -> str:
    """As fmt, with 6.2158 \\times 10^{-4} for the scientific form."""
    s = fmt(v)
    if "e" not in s:
        return s
    mantissa, exponent = s.split("e")
    return f"{mantissa} \\times 10^{{{int(exponent)}}}"


def _lvalues(v: np.ndarray) -> str:
    if v.size == 1:
        return latex_number(float(v[0]))
    return "(" + ",\\ ".join(latex_number(float(e)) for e in v) + ")"


def _frac(top: str, bottom: str) -> str:
    return f"\\frac{{\\partial {top}}}{{\\partial {bottom}}}"


def render_latex(t: Trace) -> str:
    """Two align* environments: the forward pass, then the chain with every factor."""
    loss_expr = ("-\\log \\operatorname{softmax}(y)_c" if t.loss == "cross_entropy" else
                 "(t - y)^2" if t.nodes[-1].value.size == 1 else "\\sum_k (t_k - y_k)^2")
    _, target = _loss_text(t)
    lines = ["\\begin{align*}"]
    for n in t.nodes:
        expr = f" {n.expr_latex} =" if n.expr_latex else ""
        lines.append(f"{n.latex} &={expr} {_lvalues(n.value)} \\\\")
    lines.append(f"L &= {loss_expr} = {latex_number(t.loss_value)}, \\quad {target}")
    lines += ["\\end{align*}", "", "\\begin{align*}"]
    whole = _frac("L", t.wrt_latex)
    chain = " \\cdot ".join(_frac(f.top_latex, f.bottom_latex) for f in t.factors)
    if len(t.factors) == 1 and t.factors[0].terms:
        chain = t.factors[0].form_latex
    lines.append(f"{whole} &= {chain} \\\\")
    for f in t.factors:
        lines.append(f"{_frac(f.top_latex, f.bottom_latex)} &= {f.form_latex} "
                     f"= {latex_number(f.value)} \\\\")
    product = " ".join(f"({latex_number(f.value)})" for f in t.factors)
    lines.append(f"{whole} &= {product} = {latex_number(t.product)}")
    lines.append("\\end{align*}")
    return "\n".join(lines)
