"""A chain-rule trace as text (for the terminal) and as LaTeX (for a report): one example
(`render_text`, `render_latex`) or a batch (`render_batch_text`, `render_batch_latex`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nnstudy.gradients.trace import BatchTrace, Factor, Node, Trace


def fmt(v: float) -> str:
    """5 decimals between 1e-3 and 1e4 (0.29090), else 5 significant digits (6.2158e-04)."""
    if v == 0:
        return "0"
    return f"{v:.5f}" if 1e-3 <= abs(v) < 1e4 else f"{v:.4e}"


def _values(v: np.ndarray) -> str:
    return fmt(float(v[0])) if v.size == 1 else "[" + ", ".join(fmt(float(e)) for e in v) + "]"


def _loss_text(t: Trace) -> tuple[str, str]:
    y = t.nodes[-1]
    if t.loss == "none":
        return t.top, "the output itself, no loss"
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


def _l2_form(t: Trace | BatchTrace, wrt_name: str, wrt_kind: str) -> str:
    """The L2 term's derivative by the entry, as a form."""
    if wrt_kind == "weight":
        return f"2 λ {wrt_name}"
    return f"0 (λ‖W‖² holds no {'bias' if wrt_kind == 'bias' else 'input'})"


def _l2_numbers(lam: float, value: float, kind: str) -> str:
    """2 λ w with numbers: 2 (0.12) (0.24000); 0 for a bias or an input."""
    return f"2 ({lam:g}) {_paren(value)}" if kind == "weight" else "0"


def render_text(t: Trace) -> str:
    """Forward values, backward gradients, and the table of factors with their product
    (and, with L2, the L2 term's row and the total)."""
    top = t.top
    loss_expr, target = _loss_text(t)
    if t.l2:
        loss_expr += " + λ Σ‖W‖²"
        target += f", λ = {t.l2:g}, λ Σ‖W‖² = {fmt(t.penalty)}"
    last = f"L = {loss_expr}" if t.loss != "none" else f"differentiated: {top}"
    labels = [_node_label(n) for n in t.nodes] + [last]
    width = max(len(label) for label in labels)
    lines = ["forward"]
    for label, node in zip(labels, t.nodes, strict=False):
        lines.append(f"  {label:<{width}} = {_values(node.value)}")
    lines.append(f"  {labels[-1]:<{width}} = {fmt(t.loss_value)}   ({target})")
    lines += ["", f"backward (∂{top}/∂node)" + ("   (of the data loss: the L2 term does not "
                                                "depend on the nodes)" if t.l2 else "")]
    grads = [(f"∂{top}/∂{n.name}", n.grad) for n in reversed(t.nodes) if n.grad is not None]
    gw = max(len(g[0]) for g in grads)
    lines += [f"  {name:<{gw}} = {_values(g)}" for name, g in grads]
    target_d = _d(top, t.wrt_name)
    chain = _chain_text(t)
    if t.l2:
        chain = f"{chain} + ∂(λ Σ‖W‖²)/∂{t.wrt_name}"
    lines += [
        "",
        f"chain rule for {target_d}   ({t.wrt} = {fmt(t.wrt_value)})",
        f"  {target_d} = {chain}",
        "",
    ]
    rows = [(_d(f.top, f.bottom), f.form, fmt(f.value)) for f in t.factors]
    tail = [("product", "", fmt(t.product))]
    if t.l2:
        tail += [(f"∂(λ Σ‖W‖²)/∂{t.wrt_name}", _l2_form(t, t.wrt_name, t.wrt_kind),
                  fmt(t.l2_grad)), ("total", "product + L2 term", fmt(t.gradient))]
    w0 = max(len("factor"), *(len(r[0]) for r in rows + tail))
    w1 = max(len("form"), *(len(r[1]) for r in rows + tail))
    w2 = max(len("value"), *(len(r[2]) for r in rows + tail))
    lines.append(f"  {'factor':<{w0}}  {'form':<{w1}}  {'value':>{w2}}")
    lines += [f"  {a:<{w0}}  {b:<{w1}}  {c:>{w2}}" for a, b, c in rows + tail]
    for f in t.factors:
        if f.terms:
            lines += ["", _sum_text(f)]
    equation = f"{target_d} = {' x '.join(_paren(f.value) for f in t.factors)}"
    if t.l2:
        equation += (f" + {_l2_numbers(t.l2, t.wrt_value, t.wrt_kind)}"
                     f" = {fmt(t.product)} + {fmt(t.l2_grad)}")
    lines += ["", f"{equation} = {fmt(t.gradient)}"]
    return "\n".join(lines)


def render_batch_text(b: BatchTrace) -> str:
    """One row per example (its L_n, each factor of dL_n/d(entry), their product), the
    batch's mean (or sum) of the products, the L2 term and dL/d(entry)."""
    first = b.first
    n = len(b.examples)
    top = first.top
    per = "L_n" if first.loss != "none" else f"{top}_n"
    loss_expr, _ = _loss_text(first)
    reduce = f"1/{n} Σ_n" if b.reduction == "mean" else "Σ_n"
    head = f"batch of {n} examples: L = {reduce} {per}"
    if b.l2:
        head += f" + λ Σ‖W‖²   (λ = {b.l2:g}, λ Σ‖W‖² = {fmt(b.penalty)})"
    lines = [head]
    if first.loss != "none":
        lines.append(f"  {per} = {loss_expr} of example n")
    lines.append(f"  L = {fmt(b.loss_value)}")
    target_d = _d(per, first.wrt_name)
    lines += ["", f"chain rule for {target_d}, each example   ({first.wrt} = "
                  f"{fmt(first.wrt_value)}; --example N prints example N in full)",
              f"  {target_d} = {_chain_text(first).replace(top, per, 1)}", ""]
    columns = ["n", per, *(_d(per if f.top == top else f.top, f.bottom)
                            for f in first.factors), "product"]
    body = [[str(k), fmt(t.loss_value), *(fmt(f.value) for f in t.factors), fmt(t.product)]
            for k, t in enumerate(b.examples)]
    label = "mean" if b.reduction == "mean" else "sum"
    footer = [[label, fmt(b.weight * sum(t.loss_value for t in b.examples)),
               *([""] * len(first.factors)), fmt(b.product)]]
    widths = [max(len(r[i]) for r in [columns, *body, *footer]) for i in range(len(columns))]
    for row in [columns, *body, *footer]:
        lines.append("  " + "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
    whole = _d("L", first.wrt_name)
    products = " + ".join(_paren(p) for p in b.products)
    scale = f"1/{n} " if b.reduction == "mean" else ""
    lines += ["", f"{whole} = {scale}Σ_n {target_d}"
                  + (f" + ∂(λ Σ‖W‖²)/∂{first.wrt_name}" if b.l2 else "")]
    equation = f"  = {scale}({products})"
    if b.l2:
        equation += (f" + {_l2_numbers(b.l2, first.wrt_value, first.wrt_kind)}"
                     f"\n  = {fmt(b.product)} + {fmt(b.l2_grad)}")
    lines.append(f"{equation} = {fmt(b.gradient)}")
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


def _loss_latex(t: Trace) -> str:
    if t.loss == "cross_entropy":
        return "-\\log \\operatorname{softmax}(y)_c"
    return "(t - y)^2" if t.nodes[-1].value.size == 1 else "\\sum_k (t_k - y_k)^2"


def render_latex(t: Trace) -> str:
    """Two align* environments: the forward pass, then the chain with every factor (and,
    with L2, the L2 term's derivative and the total)."""
    _, target = _loss_text(t)
    lines = ["\\begin{align*}"]
    for n in t.nodes:
        expr = f" {n.expr_latex} =" if n.expr_latex else ""
        lines.append(f"{n.latex} &={expr} {_lvalues(n.value)} \\\\")
    if t.loss != "none":
        l2 = (" + \\lambda \\textstyle\\sum \\|W\\|^2" if t.l2 else "")
        note = f", \\quad \\lambda = {latex_number(t.l2)}" if t.l2 else ""
        lines.append(f"L &= {_loss_latex(t)}{l2} = {latex_number(t.loss_value)}, "
                     f"\\quad {target}{note}")
    else:
        lines[-1] = lines[-1].removesuffix(" \\\\")
    lines += ["\\end{align*}", "", "\\begin{align*}"]
    whole = _frac(t.top_latex, t.wrt_latex)
    chain = " \\cdot ".join(_frac(f.top_latex, f.bottom_latex) for f in t.factors)
    if len(t.factors) == 1 and t.factors[0].terms:
        chain = t.factors[0].form_latex
    if t.l2:
        chain += f" + 2\\lambda {t.wrt_latex}" if t.wrt_kind == "weight" else ""
    lines.append(f"{whole} &= {chain} \\\\")
    for f in t.factors:
        lines.append(f"{_frac(f.top_latex, f.bottom_latex)} &= {f.form_latex} "
                     f"= {latex_number(f.value)} \\\\")
    product = " ".join(f"({latex_number(f.value)})" for f in t.factors)
    if t.l2 and t.wrt_kind == "weight":
        product += f" + 2 ({latex_number(t.l2)}) ({latex_number(t.wrt_value)})"
    lines.append(f"{whole} &= {product} = {latex_number(t.gradient)}")
    lines.append("\\end{align*}")
    return "\n".join(lines)


def render_batch_latex(b: BatchTrace) -> str:
    """One align*: each example's product, then their mean (or sum) and the L2 term."""
    first, n = b.first, len(b.examples)
    whole = _frac("L", first.wrt_latex)
    part = _frac("L_n" if first.loss != "none" else f"{first.top_latex}_n", first.wrt_latex)
    scale = f"\\frac{{1}}{{{n}}}" if b.reduction == "mean" else ""
    l2 = " + 2\\lambda " + first.wrt_latex if b.l2 and first.wrt_kind == "weight" else ""
    lines = ["\\begin{align*}", f"{whole} &= {scale}\\sum_{{n=0}}^{{{n - 1}}} {part}{l2} \\\\"]
    for k, t in enumerate(b.examples):
        product = " ".join(f"({latex_number(f.value)})" for f in t.factors)
        lines.append(f"{part.replace('_n', f'_{{{k}}}')} &= {product} "
                     f"= {latex_number(t.product)} \\\\")
    total = " + ".join(f"({latex_number(p)})" for p in b.products)
    if l2:
        total = f"{scale}[{total}] + 2 ({latex_number(b.l2)}) ({latex_number(first.wrt_value)})"
    else:
        total = f"{scale}[{total}]"
    lines += [f"{whole} &= {total} = {latex_number(b.gradient)}", "\\end{align*}"]
    return "\n".join(lines)
