"""`nnstudy train` end to end: the run directory, diagnostics on exit 0, bad input on exit 2."""

import csv
import json

import pytest
import torch
import yaml

from nnstudy.cli import main
from nnstudy.models import build_model


def write(tmp_path, config):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(args):
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0


CONFIG = {"data": {"name": "digits"}, "model": {"mlp": {"hidden": [32]}},
          "train": {"optimizer": "adam", "lr": 0.01, "epochs": 3}}


def test_train_writes_the_run_directory_and_repeats_exactly(tmp_path, capsys):
    path = write(tmp_path, CONFIG)
    assert run_cli(["train", str(path), "--out", str(tmp_path / "a"), "-q"]) == 0
    assert run_cli(["train", str(path), "--out", str(tmp_path / "b"), "-q"]) == 0
    out = tmp_path / "a"
    assert sorted(p.name for p in out.iterdir()) == [
        "config.yaml", "metrics.csv", "model.pt", "report.html", "summary.json"]
    assert (out / "metrics.csv").read_text() == (tmp_path / "b" / "metrics.csv").read_text()
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["split"] for r in rows} == {"train", "valid", "test"}
    assert [int(r["epoch"]) for r in rows][-1] == 3
    summary = json.loads((out / "summary.json").read_text())
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["train"]["lr"] == 0.01 and resolved["model"]["mlp"]["hidden"] == [32]
    net = build_model(resolved["model"], (1, 8, 8), 10)
    net.load_state_dict(torch.load(out / "model.pt", weights_only=True))
    best = summary["best"]["test"]["accuracy"]
    assert summary["status"] == "done" and 0.8 < best <= 1.0
    assert summary["training_flops"] > 0
    assert "best epoch" in capsys.readouterr().out


def test_a_diverging_run_exits_0_with_its_diagnosis(tmp_path, capsys):
    config = {**CONFIG, "train": {"optimizer": "sgd", "lr": 1000.0, "epochs": 2}}
    path = write(tmp_path, config)
    assert run_cli(["train", str(path), "--out", str(tmp_path / "r"), "-q"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert "diverged:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("config", "text"),
    [
        ({**CONFIG, "train": {"optimizer": "adamm"}}, "train.optimizer: 'adamm' is not one of"),
        ({**CONFIG, "train": {"lr": -1}}, "train.lr: Input should be greater than 0"),
        ({**CONFIG, "trian": {}}, "trian: unknown key"),
        ({**CONFIG, "model": ["relux"]}, "model[0]: unknown layer 'relux'"),
        ({**CONFIG, "train": {"optimizer": "sgd", "betas": [0.9, 0.99]}},
         "not a hyperparameter of sgd"),
    ],
)
def test_bad_configs_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, config, text):
    path = write(tmp_path, config)
    assert run_cli(["train", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_missing_config_file_is_named(tmp_path, capsys):
    assert run_cli(["train", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: no such file" in capsys.readouterr().err


def test_an_existing_run_directory_is_never_replaced_silently(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, {**CONFIG, "train": {"epochs": 1}})
    assert run_cli(["train", str(path), "--out", str(tmp_path / "a"), "-q"]) == 0
    assert run_cli(["train", str(path), "--out", str(tmp_path / "a"), "-q"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert run_cli(["train", str(path), "--out", str(tmp_path / "a"), "-q", "--overwrite"]) == 0
    monkeypatch.chdir(tmp_path)
    assert run_cli(["train", str(path), "-q"]) == 0
    assert run_cli(["train", str(path), "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["run", "run-2"]


def test_overwrite_of_a_directory_that_is_not_a_run_exits_2_and_touches_nothing(tmp_path,
                                                                                capsys):
    path = write(tmp_path, {**CONFIG, "train": {"epochs": 1}})
    out = tmp_path / "mine"
    out.mkdir()
    (out / "results.csv").write_text("my results")
    assert run_cli(["train", str(path), "--out", str(out), "-q", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "not a run directory (it holds results.csv)" in err
    assert len(err.strip().splitlines()) == 1
    assert [p.name for p in out.iterdir()] == ["results.csv"]
    assert (out / "results.csv").read_text() == "my results"
