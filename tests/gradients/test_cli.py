"""`nnstudy check` and `nnstudy trace` from the command line: output, exit codes, errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from nnstudy.cli import main
from nnstudy.cli.app import err_console

EXAMPLE = str(Path(__file__).parents[2] / "examples" / "trace_2-2-1.yaml")


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return info.value.code or 0, out, err


@pytest.fixture(autouse=True)
def _wide_stderr(monkeypatch):
    """Error lines are checked as one line; keep the console from wrapping them at 80."""
    monkeypatch.setattr(err_console, "width", 1000)


def test_trace_prints_the_worked_example(capsys):
    code, out, _ = _run(["trace", EXAMPLE], capsys)
    assert code == 0
    assert "∂L/∂W1[1,2] = ∂L/∂y · ∂y/∂z2 · ∂z2/∂a1[1] · ∂a1[1]/∂z1[1] · ∂z1[1]/∂W1[1,2]" in out
    for value in ["0.29090", "0.22884", "-0.20000", "0.15562", "-0.30000", "6.2158e-04"]:
        assert value in out


def test_trace_latex_and_wrt(capsys):
    code, out, _ = _run(["trace", EXAMPLE, "--wrt", "layers.2.weight[0,1]", "--latex"], capsys)
    assert code == 0
    assert "\\begin{align*}" in out
    assert "\\frac{\\partial L}{\\partial W^{(2)}_{0,1}}" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["trace", "missing.yaml"], "error: missing.yaml: no such file"),
    (["trace", EXAMPLE, "--wrt", "layers.9.weight[0,0]"],
     "error: wrt: 'layers.9.weight[0,0]' is not a parameter of the network"),
    (["trace", EXAMPLE, "--wrt", "layers.0.weight[2,0]"],
     "error: wrt: index [2,0] is out of range for layers.0.weight of shape 2x4"),
    (["check", "lenet5", "--loss", "hinge"],
     "error: loss: 'hinge' is not one of cross_entropy, nll, mse"),
    (["check", "lenet5", "--input", "1,a"], "error: --input: '1,a' is not a shape"),
    (["check", "lenet5", "--params", "conv9"], "error: params: 'conv9' is not a parameter"),
    (["check", "resnet"], "error: model: unknown model 'resnet'"),
    (["check", "missing.yaml"], "error: missing.yaml: no such file"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, message, capsys):
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(message)


def test_trace_with_a_bad_loss_is_one_line_and_exit_code_2(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(Path(EXAMPLE).read_text().replace("squared_error", "hinge"))
    code, _, err = _run(["trace", str(spec)], capsys)
    assert code == 2
    assert err.strip() == ("error: loss: 'hinge' is not one of squared_error, cross_entropy, "
                           "none")


def test_check_lenet5_passes_or_warns_with_exit_code_0(capsys):
    code, out, _ = _run(["check", "lenet5", "--samples", "5", "--batch", "2"], capsys)
    assert code == 0
    assert "gradient check of lenet5: input 2x1x32x32" in out
    assert "conv1.weight" in out and "fc2.bias" in out
    assert "reference engine (NumPy): covered" in out
    assert "numeric, all 61,706 entries (mean x count)" in out
    assert "verdict: fail" not in out


def test_check_a_factory_with_a_wrong_backward_fails_with_exit_code_1(tmp_path, monkeypatch,
                                                                     capsys):
    (tmp_path / "wrong_grad_models.py").write_text(textwrap.dedent('''
        import torch
        from torch import nn

        class _Square(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, dy):
                (x,) = ctx.saved_tensors
                return dy * x  # should be 2 x dy

        class SquareAct(nn.Module):
            def forward(self, x):
                return _Square.apply(x)

        def make():
            torch.manual_seed(0)
            return nn.Sequential(nn.Linear(5, 4), SquareAct(), nn.Linear(4, 3))
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, _ = _run(["check", "wrong_grad_models:make", "--input", "5"], capsys)
    sys.modules.pop("wrong_grad_models", None)
    assert code == 1
    assert "verdict: fail" in out
    assert "not covered" in out and "SquareAct" in out
    worst = out.split("worst entries")[1].splitlines()[1]
    assert worst.strip().startswith("0.")  # the layer before the wrong backward


def test_check_a_run_config_takes_the_shape_from_its_data(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("data: {name: digits}\nmodel: {mlp: {hidden: [8]}}\ntrain: {loss: mse}\n")
    code, out, _ = _run(["check", str(config), "--samples", "3"], capsys)
    assert code == 0
    assert "loss mse" in out
    assert "fc1.weight" in out


def test_check_a_silu_mlp_passes_and_the_reference_engine_covers_it(tmp_path, capsys):
    spec = tmp_path / "silu.yaml"
    spec.write_text("mlp: {hidden: [6, 5], activation: swish}\n")
    code, out, _ = _run(["check", str(spec), "--input", "4", "--samples", "0"], capsys)
    assert code == 0
    assert "fc1.weight" in out and "fc3.bias" in out
    assert "reference engine (NumPy): covered" in out
    assert "verdict: pass" in out


def test_check_includes_the_configs_l2_in_the_objective(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("data: {name: digits}\nmodel: {mlp: {hidden: [8]}}\n"
                      "train: {l2: 0.12}\n")
    code, with_l2, _ = _run(["check", str(config), "--samples", "5"], capsys)
    assert code == 0 and "verdict: pass" in with_l2
    code, without, _ = _run(["check", str(config), "--samples", "5", "--set", "train.l2=0"],
                            capsys)
    assert code == 0
    loss = float(without.split("loss cross_entropy = ")[1].split(",")[0])
    head = with_l2.splitlines()[0]
    assert "loss cross_entropy + 0.12 Σ‖W‖² = " in head
    total = float(head.split("Σ‖W‖² = ")[1].split(" ")[0])
    data = float(head.split("data loss ")[1].split(",")[0])
    term = float(head.split("L2 term ")[1].split(")")[0])
    assert data == loss  # the same weights and batch: only the L2 term differs
    assert total == pytest.approx(loss + term, rel=1e-5) and term > 0.1
    assert "agrees with autograd" in with_l2  # the reference engine's L2 gradient too


def test_check_l2_on_the_command_line_and_a_bad_value(capsys):
    code, out, _ = _run(["check", "softmax_regression", "--input", "6", "--l2", "0.5",
                         "--samples", "5"], capsys)
    assert code == 0 and "+ 0.5 Σ‖W‖²" in out
    code, _, err = _run(["check", "softmax_regression", "--input", "6", "--l2", "-1"], capsys)
    assert code == 2 and err.strip() == "error: l2: must be >= 0, got -1.0"


def test_trace_prints_one_example_of_a_batch_and_refuses_a_bad_index(capsys):
    batch = str(Path(EXAMPLE).parent / "trace_2-2-1_batch.yaml")
    code, out, _ = _run(["trace", batch, "--example", "0"], capsys)
    assert code == 0 and "∂L/∂W1[1,2] = (0.29090) x (0.22884)" in out
    code, _, err = _run(["trace", batch, "--example", "3"], capsys)
    assert code == 2 and "--example: 3 is out of range for a batch of 3 (0..2)" in err
    code, _, err = _run(["trace", EXAMPLE, "--example", "0"], capsys)
    assert code == 2 and "--example: the spec has one input, not a batch" in err
