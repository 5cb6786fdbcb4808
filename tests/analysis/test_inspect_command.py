"""`nnstudy inspect`: formats, options, and one line with exit code 2 on bad input."""

from __future__ import annotations

import csv
import io
import json
import textwrap

import pytest

from nnstudy.cli import main
from nnstudy.config.shape import parse_shape as parse_input_shape
from nnstudy.errors import ConfigError


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(["inspect", *argv])
    out = capsys.readouterr()
    return exit_.value.code or 0, out.out, out.err


def _error(err: str) -> str:
    """The one line the error boundary prints."""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    return err.strip()


def test_table_shows_every_layer_and_the_totals(capsys):
    code, out, _ = _run(capsys, "lenet5")
    assert code == 0
    assert "conv2" in out and "2,416" in out and "61,706" in out and "416,520" in out
    assert "Uncounted operators: none" in out


def test_json_output_has_the_documented_layout(capsys):
    code, out, _ = _run(capsys, "lenet5", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["model"] == "lenet5" and data["input_shape"] == [1, 32, 32]
    assert data["total"]["params"] == 61_706 and data["total"]["macs"] == 416_520
    assert data["layers"][0]["name"] == "conv1" and data["layers"][0]["params"] == 156


def test_no_bias_reports_weights_only(capsys):
    _, out, _ = _run(capsys, "lenet5", "--format", "json", "--no-bias")
    total = json.loads(out)["total"]
    assert total["params"] == 61_706 - 236 and total["flops"] == total["flops_no_bias"]


def test_csv_and_markdown_formats(capsys):
    _, out, _ = _run(capsys, "softmax_regression", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[-1]["name"] == "total" and int(rows[-1]["params"]) == 7_850
    _, out, _ = _run(capsys, "softmax_regression", "--format", "markdown")
    assert out.startswith("**softmax_regression**") and "| **total** |" in out


def test_input_classes_and_set_change_the_model(capsys):
    _, out, _ = _run(capsys, "mlp", "--input", "1x8x8", "--classes", "3", "--format", "json")
    assert json.loads(out)["total"]["params"] == 64 * 100 + 100 + 100 * 3 + 3
    _, out, _ = _run(capsys, "mlp", "--set", "model.mlp.hidden=[50]", "--format", "json")
    assert json.loads(out)["total"]["params"] == 784 * 50 + 50 + 50 * 10 + 10


def test_a_factory_model_is_inspected(capsys, tmp_path, monkeypatch):
    (tmp_path / "my_nets.py").write_text(
        textwrap.dedent("""
        from torch import nn
        def make():
            return nn.Sequential(nn.Linear(4, 3), nn.Identity(), nn.Linear(3, 2))
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = _run(capsys, "my_nets:make", "--input", "4")
    assert code == 0
    assert "0..2 with identity activations = one affine map 4 -> 2" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lenet5", "--input", "3x"], "--input: '3x' is not a shape"),
        (["lenet5", "--input", "1,8,8"], "conv2: input 6x2x2 is smaller than kernel 5x5"),
        (["nnstudy_no_such_module:make"], "cannot import module 'nnstudy_no_such_module'"),
        (["json:no_such_factory"], "module 'json' has no callable 'no_such_factory'"),
        (["lenet5", "--format", "xml"], "--format: 'xml' is not one of table, markdown"),
    ],
)
def test_bad_input_is_one_error_with_exit_code_2(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in _error(err)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ("- {conv: {out: 6, kernel: 5}}\n- {foo: 3}\n", "model[1]: unknown layer 'foo'"),
        ("- {conv: {out: 6, kernel: -5}}\n", "conv1: kernel -5x-5"),
    ],
)
def test_a_bad_model_spec_is_one_error_with_exit_code_2(capsys, tmp_path, layers, message):
    spec = tmp_path / "net.yaml"
    spec.write_text(layers)
    code, _, err = _run(capsys, str(spec), "--input", "1,28,28")
    assert code == 2 and message in _error(err)


@pytest.mark.parametrize("text", ["3x", "", "0,3", "-1", "1,,2", "1.5", "a"])
def test_input_shape_must_be_positive_integers(text):
    with pytest.raises(ConfigError, match="is not a shape"):
        parse_input_shape(text)


def test_input_shape_accepts_commas_x_and_brackets():
    assert parse_input_shape("(1, 32, 32)") == parse_input_shape("1x32x32") == (1, 32, 32)
    assert parse_input_shape("784") == (784,)


def test_a_silu_layer_is_a_row_of_4_flops_per_element(capsys, tmp_path):
    spec = tmp_path / "silu.yaml"
    spec.write_text("- {linear: 5}\n- swish\n- {linear: 3}\n")
    code, out, _ = _run(capsys, str(spec), "--input", "4", "--format", "json")
    assert code == 0
    row = json.loads(out)["layers"][1]
    assert (row["name"], row["type"], row["kind"], row["flops"]) == ("silu1", "SiLU",
                                                                     "activation", 20)
