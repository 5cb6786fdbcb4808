"""Exact analysis of a model: shapes, parameters, MACs, FLOPs, activation memory, the
cost of a training step, and which layers collapse into one affine map.

The counting convention (docs/counting.md): per output of a conv or linear layer with
n = C_in/groups * k_h * k_w (or in_features), n multiplications and n - 1 additions,
plus 1 addition for the bias; MACs = n per output.
"""

from nnstudy.analysis.collapse import AffineRun, affine_runs, collapse
from nnstudy.analysis.counting import OpCounter
from nnstudy.analysis.inspection import inspect, layer_kind
from nnstudy.analysis.op_costs import OpCost, op_cost
from nnstudy.analysis.summary import LayerRow, Summary
from nnstudy.analysis.training_cost import TrainingCost, measure_training_cost

__all__ = [
    "AffineRun",
    "LayerRow",
    "OpCost",
    "OpCounter",
    "Summary",
    "TrainingCost",
    "affine_runs",
    "collapse",
    "inspect",
    "layer_kind",
    "measure_training_cost",
    "op_cost",
]
