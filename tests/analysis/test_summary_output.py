"""The ways a Summary prints: JSON layout, Markdown, CSV, and figures without bias."""

from __future__ import annotations

import csv
import io
import json

from torch import nn

from nnstudy.analysis import inspect

_NET = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


def test_json_layout_has_the_documented_keys():
    data = json.loads(json.dumps(inspect(_NET, (1, 4, 4)).to_dict()))
    assert data["model"] == "Sequential" and data["input_shape"] == [1, 4, 4]
    layer_keys = {"name", "type", "input_shape", "output_shape", "params", "trainable_params",
                  "macs", "flops", "flops_no_bias", "activation_bytes"}  # fmt: skip
    assert all(layer_keys <= set(layer) for layer in data["layers"])
    assert {"params", "trainable_params", "macs", "flops", "flops_no_bias"} <= set(data["total"])
    assert data["layers"][0]["output_shape"] == [2, 2, 2]
    assert data["total"]["params"] == 20 + 27


def test_without_bias_leaves_out_bias_parameters_and_bias_additions():
    summary = inspect(_NET, (1, 4, 4))
    with_bias, without = summary.to_dict(), summary.to_dict(bias=False)
    assert without["total"]["params"] == with_bias["total"]["params"] - 5
    assert without["total"]["flops"] == with_bias["total"]["flops_no_bias"]
    assert without["layers"][0]["params"] == 18
    assert without["total"]["training_flops"] == summary.training.flops_no_bias
    assert "| Bias |" not in summary.to_markdown(bias=False)


def test_markdown_has_one_row_per_layer_and_a_total():
    lines = inspect(_NET, (1, 4, 4)).to_markdown().splitlines()
    table = [line for line in lines if line.startswith("| ")]
    assert len(table) == 1 + 4 + 1  # header, four layers, total
    assert table[1].startswith("| 0 | Conv2d | 1x4x4 | 2x2x2 | 20 | 2 |")
    assert table[-1].startswith("| **total** |")


def test_csv_has_every_row_and_a_total_line():
    summary = inspect(_NET, (1, 4, 4), training=False)
    rows = list(csv.DictReader(io.StringIO(summary.to_csv())))
    assert [r["name"] for r in rows] == ["0", "1", "2", "3", "total"]
    assert int(rows[-1]["flops"]) == summary.flops
    assert int(rows[0]["macs"]) == 8 * 9
