"""`nnstudy.train`'s result renders its own summary: the CLI prints exactly that."""

from __future__ import annotations

import re

import yaml

from nnstudy import train
from nnstudy.cli import main

DIVERGING = {"data": {"name": "digits"}, "model": {"mlp": {"hidden": [16]}},
             "train": {"optimizer": "sgd", "lr": 1000.0, "epochs": 2}}


def without_times_and_paths(text: str, *paths) -> str:
    for path in paths:
        text = text.replace(str(path), "DIR")
    return re.sub(r", \d+\.\d s\)", ", T s)", text)


def test_summary_text_gives_the_best_epoch_table_diagnoses_and_directory(tmp_path):
    result = train(DIVERGING, out=tmp_path / "r")
    s = result.summary
    lines = result.summary_text().splitlines()
    assert lines[0] == (f"best epoch {s['best_epoch']} of {s['epochs_run']} "
                        f"({s['status']}, {s['wall_time_s']:.1f} s)")
    for split, m in s["best"].items():
        row = next(line for line in lines if line.startswith(f"│ {split} "))
        assert f"{m['loss']:.4f}" in row and f"{m['accuracy']:.2%}" in row
    assert s["status"] == "diverged" and s["diagnostics"]
    for d in s["diagnostics"]:
        assert f"{d['code']}: {d['message']}" in lines
        assert f"  suggestion: {d['suggestion']}" in lines
    assert lines[-2:] == [f"run directory: {tmp_path / 'r'}",
                          f"report: {tmp_path / 'r' / 'report.html'}"]
    assert train(DIVERGING).summary_text().splitlines()[-1].startswith("  suggestion:")


def test_the_cli_prints_the_results_own_summary(tmp_path, capsys):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(DIVERGING))
    try:
        main(["train", str(path), "--out", str(tmp_path / "cli"), "-q"])
    except SystemExit as exc:
        assert exc.code in (None, 0)
    printed = capsys.readouterr().out
    api = train(DIVERGING, out=tmp_path / "api").summary_text()
    assert without_times_and_paths(printed, tmp_path / "cli") == \
        without_times_and_paths(api, tmp_path / "api")
