"""`nnstudy trajectory`: trains or loads a model, prints each momentum's path, draws the
contour; the numbers printed are those of the descent, the grid those of the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

import nnstudy
from nnstudy.api import trajectory
from nnstudy.cli import main
from nnstudy.cli.app import expand_list_options
from nnstudy.data import load_data
from nnstudy.training.loss_surface import cross_entropy, descent_path

CONFIG = {"model": {"mlp": {"hidden": [8]}}, "train": {"epochs": 2, "lr": 0.1}}
WEIGHTS = ["fc1.weight[3,7]", "fc2.weight[0,1]"]
SMALL = ["--samples", "200", "--grid", "10", "--steps", "15", "--lr", "0.5"]


def run_cli(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_several_values_follow_one_flag():
    args = ["trajectory", "c.yaml", "--weights", "a[0]", "b[1]", "--momentum", "0", "0.25",
            "--offset", "-1", "2", "--lr", "0.1"]
    assert expand_list_options(args) == [
        "trajectory", "c.yaml", "--weights", "a[0]", "--weights", "b[1]", "--momentum", "0",
        "--momentum", "0.25", "--offset", "-1", "--offset", "2", "--lr", "0.1"]
    assert expand_list_options(["train", "--momentum", "0", "1"]) == [
        "train", "--momentum", "0", "1"]


def test_the_command_prints_each_paths_losses_and_writes_the_figure(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    figure = tmp_path / "t.svg"
    code, out, err = run_cli(["trajectory", str(config), "--weights", *WEIGHTS, "--momentum",
                              "0", "0.25", "0.8", *SMALL, "--out", str(figure)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("trained: fc1.weight[3,7] = ")
    assert [line.split(":")[0] for line in lines[1:4]] == [
        "momentum 0", "momentum 0.25", "momentum 0.8"]
    assert lines[4].startswith("loss grid: 10 x 10 points in ")
    assert figure.read_text().lstrip().startswith("<?xml")
    # The same training (deterministic on the CPU) and the same descent, computed here.
    run = nnstudy.train(CONFIG)
    bundle = load_data(run.spec.data)
    x, y = bundle.batch("train", torch.arange(200)), bundle.train.y[:200]
    trained = [float(run.model.fc1.weight[3, 7].detach()),
               float(run.model.fc2.weight[0, 1].detach())]
    start = (trained[0] - 1.0, trained[1] + 1.0)
    for line, m in zip(lines[1:4], (0.0, 0.25, 0.8), strict=True):
        path = descent_path(run.model, x, y, WEIGHTS, lr=0.5, momentum=m, steps=15,
                            start=start)
        assert f"loss {path.losses[0]:.4f} -> {path.losses[-1]:.4f}" in line
        assert f"ends at ({path.points[-1][0]:.4f}, {path.points[-1][1]:.4f})" in line


def test_a_run_directory_is_loaded_and_the_grid_is_the_loss_point_by_point(tmp_path):
    run = nnstudy.train(CONFIG, out=tmp_path / "run")
    t = trajectory(tmp_path / "run", WEIGHTS, momentum=(0.5,), lr=0.5, steps=5, samples=100,
                   grid=4)
    assert t.run is None  # loaded, not trained
    assert t.trained == (pytest.approx(float(run.model.fc1.weight[3, 7].detach())),
                         pytest.approx(float(run.model.fc2.weight[0, 1].detach())))
    bundle = load_data(run.spec.data)
    x, y = bundle.batch("train", torch.arange(100)), bundle.train.y[:100]
    model = run.model
    for i, j in ((0, 0), (1, 3), (3, 2)):
        with torch.no_grad():
            model.fc1.weight[3, 7] = float(t.xs[j])
            model.fc2.weight[0, 1] = float(t.ys[i])
            expected = float(cross_entropy(model(x), y))
        assert t.z[i, j] == pytest.approx(expected, rel=1e-5)
    assert np.isfinite(t.z).all()


@pytest.mark.parametrize(("args", "text"), [
    (["--weights", "fc9.weight[0,0]", "fc2.weight[0,1]"], "has no parameter 'fc9.weight'"),
    (["--weights", "fc1.weight[0,0]"], "give exactly two weights"),
    (["--weights", *WEIGHTS, "--out", "x.pdf"], "is not .png or .svg"),
    (["--weights", *WEIGHTS, "--momentum", "1.5"], "momentum in [0, 1)"),
    (["--weights", *WEIGHTS, "--start", "1"], "--start: give two numbers, got 1"),
    (["--weights", *WEIGHTS, "--grid", "1"], "--grid: 1 points per axis"),
    (["--weights", *WEIGHTS, "--samples", "0"], "--samples: 0 is not a number"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, text):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    code, _out, err = run_cli(["trajectory", str(config), *SMALL, *args], capsys)
    assert code == 2
    assert text in err and len(err.strip().splitlines()) == 1, err


def test_a_run_directory_whose_model_does_not_fit_its_config_is_one_line(tmp_path, capsys):
    nnstudy.train(CONFIG, out=tmp_path / "run")
    code, _out, err = run_cli(["trajectory", str(tmp_path / "run"), "--weights", *WEIGHTS,
                               "--set", "model.mlp.hidden=[9]", *SMALL], capsys)
    assert code == 2
    assert "model.pt: does not load into the model of" in err
    assert len(err.strip().splitlines()) == 1, err
