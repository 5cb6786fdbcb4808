"""A gradient-check report as text: the table, the worst entries, the timing, the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nnstudy.gradients.gradcheck import GradcheckReport

REFERENCE_TOL = 1e-6


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms"
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _err(e: float | None) -> str:
    return "-" if e is None else f"{e:.1e}"


def render_gradcheck(r: GradcheckReport) -> str:
    """Plain text with fixed columns, the same on any terminal."""
    objective = f"loss {r.loss} = {r.loss_value:.6g}"
    if r.l2:
        objective = (f"loss {r.loss} + {r.l2:g} Σ‖W‖² = {r.loss_value:.6g} (data loss "
                     f"{r.loss_value - r.l2_value:.6g}, L2 term {r.l2_value:.6g})")
    lines = [
        f"gradient check of {r.title}: input {_shape(r.input_shape)}, {objective}, float64, "
        f"central differences with eps {r.eps:g}",
        "",
    ]
    width = max([len("parameter"), *(len(p.name) for p in r.params)])
    header = (f"{'parameter':<{width}}  {'shape':<12} {'checked':>15}  {'max rel err':>11}  "
              f"{'at floor':>8}  {'verdict':<7}  {'reference':>9}")
    lines += [header, "-" * len(header)]
    for p in r.params:
        lines.append(
            f"{p.name:<{width}}  {_shape(p.shape):<12} {f'{p.checked:,}/{p.numel:,}':>15}  "
            f"{_err(p.max_rel_error):>11}  {p.at_floor:>8,}  {p.verdict:<7}  "
            f"{_err(p.reference_error):>9}"
        )
    limit = 10 * r.rounding_floor
    lines += [
        "",
        f"rounding floor of a central difference: 2.2e-16 |L| / eps = {r.rounding_floor:.1e}. "
        f"Where |a - n| <= 10x the floor ({limit:.1e}),",
        "float64 cannot tell a from n: the verdict counts such entries as agreeing; "
        "`at floor` counts those among them with rel >= 1e-07.",
        "",
        "worst entries (a: autograd, n: central difference, rel: |a-n|/(|a|+|n|))",
    ]
    worst = r.worst_entries(5)
    labels = [f"{name}[{','.join(map(str, e.index))}]" for name, e in worst]
    lw = max((len(label) for label in labels), default=0)
    for label, (_, e) in zip(labels, worst, strict=True):
        lines.append(f"  {label:<{lw}}  a = {e.analytic: .9e}  n = {e.numeric: .9e}  "
                     f"rel = {_err(e.rel_error)}" + ("  (at floor)" if e.within_rounding else ""))
    lines += ["", f"reference engine (NumPy): {r.reference}"]
    if r.reference_output_error is not None:
        bad = [p.name for p in r.params
               if p.reference_error is not None and p.reference_error >= REFERENCE_TOL]
        worst_ref = max((p.reference_error or 0.0) for p in r.params)
        lines.append(
            f"  output rel err {_err(r.reference_output_error)}, gradients rel err at most "
            f"{_err(worst_ref)}"
            + (f"; DISAGREES with autograd on {', '.join(bad)}" if bad else
               f": agrees with autograd (< {REFERENCE_TOL:g})")
        )
    ratio = r.full_numeric_seconds / r.analytic_seconds if r.analytic_seconds > 0 else 0.0
    rows = [
        ("one forward pass", r.forward_seconds, ""),
        ("analytic gradient (forward + backward)", r.analytic_seconds, ""),
        (f"numeric, {r.checked_entries:,} entries x 2 forward passes", r.numeric_seconds,
         f"(mean {_seconds(r.mean_entry_seconds)}, median {_seconds(r.entry_seconds)} "
         "per entry)"),
    ]
    if r.checked_entries < r.total_entries:
        rows.append((f"numeric, all {r.total_entries:,} entries (mean x count)",
                     r.full_numeric_seconds, f"({ratio:,.0f} x the analytic gradient)"))
    else:
        rows[-1] = (*rows[-1][:2], f"({ratio:,.0f} x the analytic gradient)")
    label = max(len(row[0]) for row in rows)
    lines += ["", "timing (best of 5)"]
    lines += [f"  {name:<{label}}  {_seconds(sec):>9}  {note}".rstrip() for name, sec, note in rows]
    beyond = (f"largest relative error beyond rounding {_err(r.verdict_error)}"
              if r.verdict_error > 0 else "no entry differs beyond the rounding floor")
    floor_note = (f"; {r.at_floor:,} entries at the rounding floor, rel up to "
                  f"{_err(r.max_rel_error)}" if r.at_floor else "")
    lines += ["", f"verdict: {r.verdict} ({beyond}{floor_note}; pass < 1e-07, warn < 1e-04)"]
    return "\n".join(lines)
