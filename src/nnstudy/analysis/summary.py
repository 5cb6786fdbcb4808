"""The result of `nnstudy.inspect`: one row per layer, totals, and the ways to print it.

`Summary.to_dict()` has the layout other tools read::

    {"model": ..., "input_shape": [...],
     "layers": [{"name", "type", "input_shape", "output_shape", "params",
                 "trainable_params", "macs", "flops", "flops_no_bias", "activation_bytes",
                 ...}],
     "total": {"params", "trainable_params", "macs", "flops", "flops_no_bias", ...},
     "training": {...}, "uncounted": {...}, "collapse": [...]}

Every renderer takes `bias`: with `bias=False` the figures are those of the same model
without its biases (bias parameters left out, bias additions not counted).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from nnstudy.analysis.op_costs import OpCost
from nnstudy.analysis.training_cost import TrainingCost

__all__ = ["LayerRow", "Summary", "format_count", "format_shape"]

FLOAT32_BYTES = 4


def format_shape(shape: tuple[int, ...] | None) -> str:
    """(6, 28, 28) -> "6x28x28"; () -> "scalar"; None -> "-"."""
    if shape is None:
        return "-"
    return "x".join(str(s) for s in shape) if shape else "scalar"


def format_count(value: float) -> str:
    """61706 -> "61,706"; 2.5 -> "2.5"."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


@dataclass(frozen=True)
class LayerRow:
    """One layer (one call of a leaf module, or one operator a container ran itself).

    `params` counts each parameter in the first row that uses it; `bias_params` are
    the ones passed to an operator as its bias. `cost` sums the operators of the row.
    `activation_bytes` is the size of the row's output in float32, per sample.
    """

    name: str
    type: str
    kind: str
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    params: int
    bias_params: int
    trainable_params: int
    trainable_bias_params: int
    cost: OpCost
    activation_bytes: int
    uncounted: tuple[str, ...] = ()

    @property
    def macs(self) -> int:
        return self.cost.macs

    @property
    def flops(self) -> int:
        return self.cost.flops

    @property
    def flops_no_bias(self) -> int:
        return self.cost.flops_no_bias

    @property
    def weight_params(self) -> int:
        return self.params - self.bias_params

    def to_dict(self, bias: bool = True) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "output_shape": list(self.output_shape) if self.output_shape is not None else None,
            "params": self.params if bias else self.weight_params,
            "bias_params": self.bias_params if bias else 0,
            "trainable_params": self.trainable_params - (0 if bias else self.trainable_bias_params),
            "macs": self.macs,
            "flops": self.flops if bias else self.flops_no_bias,
            "flops_no_bias": self.flops_no_bias,
            "activation_bytes": self.activation_bytes,
            "uncounted": list(self.uncounted),
        }


@dataclass(frozen=True)
class Summary:
    """Shapes, parameters, MACs, FLOPs and activation memory of a model, per layer.

    >>> s = inspect(lenet5, (1, 32, 32))      # doctest: +SKIP
    >>> s.total_params, s.macs                 # doctest: +SKIP
    (61706, 416520)
    """

    model: str
    input_shape: tuple[int, ...]
    rows: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int
    bias_params: int
    trainable_bias_params: int
    unused_params: int = 0
    uncounted: dict[str, int] = field(default_factory=dict)
    collapse: tuple[str, ...] = ()
    training: TrainingCost | None = None
    #: Modules that hold other modules (`features`, `classifier`): not rows, but names of
    #: the model too (a features model's `layer` may be one).
    containers: tuple[str, ...] = ()

    @property
    def cost(self) -> OpCost:
        total = OpCost()
        for row in self.rows:
            total = total + row.cost
        return total

    @property
    def macs(self) -> int:
        return self.cost.macs

    @property
    def flops(self) -> int:
        return self.cost.flops

    @property
    def flops_no_bias(self) -> int:
        return self.cost.flops_no_bias

    @property
    def activation_bytes(self) -> int:
        return sum(row.activation_bytes for row in self.rows)

    def totals(self, bias: bool = True) -> dict[str, int | float | None]:
        """The "total" entry of `to_dict`."""
        training = self.training
        return {
            "params": self.total_params if bias else self.total_params - self.bias_params,
            "trainable_params": self.trainable_params - (0 if bias else self.trainable_bias_params),
            "bias_params": self.bias_params if bias else 0,
            "macs": self.macs,
            "flops": self.flops if bias else self.flops_no_bias,
            "flops_no_bias": self.flops_no_bias,
            "activation_bytes": self.activation_bytes,
            "training_flops": None
            if training is None
            else (training.flops if bias else training.flops_no_bias),
        }

    def to_dict(self, bias: bool = True) -> dict[str, object]:
        """Plain data for JSON (see the module docstring for the layout)."""
        return {
            "model": self.model,
            "input_shape": list(self.input_shape),
            "bias": bias,
            "layers": [row.to_dict(bias) for row in self.rows],
            "total": self.totals(bias),
            "training": self.training.to_dict() if self.training is not None else None,
            "uncounted": dict(self.uncounted),
            "unused_params": self.unused_params,
            "collapse": list(self.collapse),
            "containers": list(self.containers),
        }

    def table(self, bias: bool = True) -> tuple[list[str], list[list[str]], list[str]]:
        """Headers, one list of cells per row, and the total row, as display strings."""
        frozen = self.trainable_params != self.total_params
        headers = ["Layer", "Type", "Input", "Output", "Params"]
        headers += ["Bias"] if bias else []
        headers += ["Trainable"] if frozen else []
        headers += ["MACs", "FLOPs", "FLOPs (no bias)"] if bias else ["MACs", "FLOPs (no bias)"]
        headers += ["Act. bytes"]

        def cells(name: str, kind: str, shapes: tuple[str, str], d: dict) -> list[str]:
            out = [name, kind, *shapes, format_count(d["params"])]
            out += [format_count(d["bias_params"])] if bias else []
            out += [format_count(d["trainable_params"])] if frozen else []
            out += [format_count(d["macs"]), format_count(d["flops"])]
            out += [format_count(d["flops_no_bias"])] if bias else []
            return [*out, format_count(d["activation_bytes"])]

        body = [
            cells(
                row.name,
                row.type,
                (format_shape(row.input_shape), format_shape(row.output_shape)),
                row.to_dict(bias),
            )
            for row in self.rows
        ]
        total = cells("total", "", (format_shape(self.input_shape), ""), self.totals(bias))
        return headers, body, total

    def notes(self, bias: bool = True) -> list[str]:
        """The lines printed under the table: totals in words, training cost, uncounted
        operators and collapsed layers."""
        t = self.totals(bias)
        lines = [
            f"Parameters: {format_count(t['params'])} "
            f"({format_count(t['trainable_params'])} trainable)"
            + (f", of which {format_count(self.bias_params)} biases" if bias else ", no biases"),
            f"Per sample: {format_count(self.macs)} MACs, "
            + (
                f"{format_count(self.flops)} FLOPs with bias, "
                f"{format_count(self.flops_no_bias)} without"
                if bias
                else f"{format_count(self.flops_no_bias)} FLOPs without bias"
            )
            + f"; activations {format_count(self.activation_bytes)} bytes (float32)",
        ]
        if self.training is not None:
            training = self.training
            flops = training.flops if bias else training.flops_no_bias
            forward = self.flops if bias else self.flops_no_bias
            ratio = f" = {flops / forward:.2f} x forward" if forward else ""
            lines.append(
                f"Training per sample (forward + backward, counted): {format_count(flops)} "
                f"FLOPs{'' if bias else ' without bias'}{ratio}; "
                f"measured on a batch of {training.batch_size}"
            )
        if self.uncounted:
            listed = ", ".join(f"{op} x{n}" for op, n in sorted(self.uncounted.items()))
            lines.append(f"Uncounted operators (no formula, not in the totals): {listed}")
        else:
            lines.append("Uncounted operators: none")
        if self.training is not None and self.training.uncounted:
            listed = ", ".join(f"{op} x{n}" for op, n in sorted(self.training.uncounted.items()))
            lines.append(f"Uncounted in training: {listed}")
        if self.unused_params:
            lines.append(
                f"Unused parameters: {format_count(self.unused_params)} (no operator read them)"
            )
        lines += [f"Collapse: {message}" for message in self.collapse]
        if self.containers:
            lines.append(
                "Containers (modules holding the rows' modules; also names of the model, "
                f"e.g. for model.features.layer): {', '.join(self.containers)}")
        return lines

    def to_markdown(self, bias: bool = True) -> str:
        """A Markdown table, one row per layer and a total row, then the notes."""
        headers, body, total = self.table(bias)
        numeric = range(4, len(headers))
        align = ["---:" if i in numeric else "---" for i in range(len(headers))]
        lines = [
            f"**{self.model}**, input {format_shape(self.input_shape)}",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "|".join(align) + "|",
        ]
        for cells in [*body, [f"**{c}**" if c else "" for c in total]]:
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines += [f"- {note}" for note in self.notes(bias)]
        return "\n".join(lines) + "\n"

    def to_csv(self, bias: bool = True) -> str:
        """One line per layer with every field of `LayerRow.to_dict`, then a total line."""
        fields = [
            "name",
            "type",
            "kind",
            "input_shape",
            "output_shape",
            "params",
            "bias_params",
            "trainable_params",
            "macs",
            "flops",
            "flops_no_bias",
            "activation_bytes",
        ]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(fields)
        for row in self.rows:
            d = row.to_dict(bias)
            d["input_shape"] = format_shape(row.input_shape)
            d["output_shape"] = format_shape(row.output_shape)
            writer.writerow([d[f] for f in fields])
        t = self.totals(bias)
        writer.writerow(
            ["total", "", "", format_shape(self.input_shape), "", *(t[f] for f in fields[5:])]
        )
        return buffer.getvalue()
