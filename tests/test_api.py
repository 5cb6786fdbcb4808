"""`nnstudy.Study`: the public API runs a study and writes its report; `nnstudy.study` alone
stores and returns results without writing one."""

from __future__ import annotations

import csv

import pandas as pd
import yaml

import nnstudy
from nnstudy import api
from nnstudy.cli import main
from nnstudy.report import StudyReport
from nnstudy.study import Study as StoringStudy
from nnstudy.study import load_result

STUDY = {
    "name": "tiny",
    "data": {"name": "digits", "valid_fraction": 0.2},
    "model": {"mlp": {"hidden": [8]}},
    "train": {"epochs": 2, "batch_size": 64},
    "grid": {"train.lr": [0.01, 0.1]},
    "seeds": [0, 1],
}


def test_public_study_run_writes_results_and_report(tmp_path):
    result = nnstudy.Study.from_dict(STUDY).run(out=tmp_path / "s", workers=1)
    out = tmp_path / "s"
    report = (out / "report.md").read_text()
    assert report == StudyReport(result).text()
    assert report.startswith("# Study report: tiny\n")
    # read with Python's own float(), exact for a repr, whatever the pandas version
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["trial_id"] for r in rows] == list(result.trials["trial_id"])
    assert [float(r["best_valid_loss"]) for r in rows] == result.trials["best_valid_loss"].tolist()


def test_the_study_room_alone_stores_and_returns_but_writes_no_report(tmp_path):
    out = tmp_path / "s"
    result = StoringStudy.from_dict(STUDY).run(out=out, workers=1)
    assert not (out / "report.md").exists() and not (out / "results.csv").exists()
    assert (out / "study.db").is_file() and len(result.trials) == 4
    again = api.report(out)  # what `nnstudy study report` does
    pd.testing.assert_frame_equal(again.trials, result.trials)
    assert (out / "report.md").read_text() == StudyReport(load_result(out)).text()


def test_cli_prints_the_head_of_the_report_it_wrote(tmp_path, capsys):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(STUDY))
    out = tmp_path / "s"
    try:
        main(["study", "run", str(path), "--out", str(out), "--workers", "1", "-q"])
    except SystemExit as exc:
        assert exc.code in (None, 0)
    printed = capsys.readouterr().out
    report = (out / "report.md").read_text()
    head = report.split("\n## All configurations", 1)[0].rstrip()
    first, rest = printed.split("\n", 1)
    assert first.startswith("study tiny: 4 trials in ")
    assert rest == (f"{head}\nreport: {out / 'report.md'}  page: {out / 'report.html'}  "
                    f"results: {out / 'results.csv'}\n")
    assert StudyReport(load_result(out)).head().rstrip() == head
