"""report.md and results.csv from hand-made trials: the expected sentences, tables, figures."""

from __future__ import annotations

import csv
import math

import pandas as pd
import pytest

from nnstudy.errors import ConfigError
from nnstudy.report import markdown_table, render_head, render_report, write_results_csv
from nnstudy.report.tables import fmt_count, fmt_mean_pm, fmt_seconds

NAN = math.nan
OPT, LR = "train.optimizer", "train.lr"
SELECT = {"metric": "valid_loss", "mode": "min", "per": [OPT]}
META = {
    "name": "optimizers-and-learning-rates",
    "data": "mnist-10k",
    "data_sizes": {"train": 9000, "valid": 1000, "test": 10000},
    "model": "mlp hidden [100] relu",
    "params": 79510,
    "flops": 159010,
    "machine": "2-core x86_64, CPU",
    "wall_time_s": 723.4,
    "seeds": [0, 1, 2],
    "grid": {OPT: ["sgd", "adam", "rmsprop"], LR: [0.001, 0.01]},
}


def row(opt: str, lr: float, seed: int, valid_loss: float, status: str = "done",
        **extra) -> dict:
    done = status == "done"
    r = {"trial_id": f"{opt}-{lr}-{seed}", "group": "g0", "variant": "", "seed": seed,
         "status": status, "config": f"{OPT}={opt} {LR}={lr}", OPT: opt, LR: lr}
    for prefix in ("best", "final"):
        for split, offset in (("train", -0.05), ("valid", 0.0), ("test", 0.01)):
            r[f"{prefix}_{split}_loss"] = valid_loss + offset if done else NAN
            r[f"{prefix}_{split}_accuracy"] = 1 - valid_loss / 2 - offset if done else NAN
    r.update(best_epoch=10 + seed, epochs_run=13 + seed, wall_time_s=4.0 + seed,
             training_flops=1.5e11, params=79510, diagnostics="", error="")
    r.update(extra)
    return r


def study_trials() -> pd.DataFrame:
    """adam 0.001 wins over rmsprop 0.001 by exactly (0.03, 0.03, 0.02): paired t = -8."""
    losses = {("sgd", 0.001): [0.60, 0.62, 0.59], ("sgd", 0.01): [0.40, 0.42, NAN],
              ("adam", 0.001): [0.20, 0.22, 0.19], ("adam", 0.01): [0.30, 0.33, 0.29],
              ("rmsprop", 0.001): [0.23, 0.25, 0.21], ("rmsprop", 0.01): [NAN, NAN, NAN]}
    rows = []
    for (opt, lr), values in losses.items():
        for seed, v in enumerate(values):
            status = "done"
            if opt == "rmsprop" and lr == 0.01:
                status = "diverged"
            elif math.isnan(v):
                status = "failed"
            extra = {}
            if status == "failed":
                extra["error"] = "Traceback ...\nRuntimeError: CUDA out of memory"
            if opt == "sgd" and seed == 1:
                extra["diagnostics"] = "overfitting,dead_relus"
            if status == "diverged":
                extra["diagnostics"] = "diverged"
            rows.append(row(opt, lr, seed, v, status, **extra))
    return pd.DataFrame(rows)


def section(report: str, title: str) -> str:
    """The text of one `## title` section."""
    start = report.index(f"## {title}")
    end = report.find("\n## ", start + 1)
    return report[start:] if end < 0 else report[start:end]


def table_rows(text: str) -> list[list[str]]:
    """Cells of the Markdown table rows in `text` (header and rule excluded)."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines[2:]]


# --------------------------------------------------------------------------- tables.py

def test_markdown_table_pads_columns_and_right_aligns_numbers():
    frame = pd.DataFrame({"name": ["adam", "rmsprop|x"], "loss": [0.2, 12.34567],
                          "n": [3, 12000]})
    text = markdown_table(frame)
    lines = text.splitlines()
    assert len({len(ln) for ln in lines}) == 1
    assert lines[0] == "| name       |    loss |      n |"
    assert lines[1] == "| ---------- | ------: | -----: |"
    assert lines[2] == "| adam       |  0.2000 |      3 |"
    assert lines[3] == "| rmsprop\\|x | 12.3457 | 12,000 |"


def test_number_formats():
    assert fmt_count(4.77e12) == "4.77 T"
    assert fmt_count(1.5e11) == "150 G"
    assert fmt_count(9999) == "9,999"
    assert fmt_seconds(4.21) == "4.2 s"
    assert fmt_seconds(723.4) == "12 min 3 s"
    assert fmt_seconds(7380) == "2 h 3 min"
    assert fmt_mean_pm(0.2, 0.19, 0.21, 3) == "0.2000 ± 0.0100"
    assert fmt_mean_pm(0.2, NAN, NAN, 1) == "0.2000 (1 seed)"
    assert fmt_mean_pm(NAN, NAN, NAN, 0) == "—"


def test_write_results_csv_one_row_per_trial_atomically(tmp_path):
    trials = study_trials()
    path = write_results_csv(trials, tmp_path / "results.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]
    back = pd.read_csv(path, keep_default_na=True)
    assert len(back) == len(trials)
    assert list(back.columns[:8]) == ["trial_id", "group", "variant", "seed", "status",
                                      "config", OPT, LR]
    assert back["best_valid_loss"].iloc[0] == trials["best_valid_loss"].iloc[0]
    assert back.loc[back["status"] == "diverged", "best_valid_loss"].isna().all()
    assert back["trial_id"].is_unique
    trials.loc[trials["status"] == "failed", ["best_epoch", "params"]] = None
    write_results_csv(trials, path)
    with open(path, newline="") as handle:
        records = {r["trial_id"]: r for r in csv.DictReader(handle)}
    failed = records["sgd-0.01-2"]  # no summary: counts are empty, not NaN or 0
    assert (failed["best_epoch"], failed["epochs_run"], failed["params"]) == ("", "15", "")
    assert failed["error"] == "Traceback ...\nRuntimeError: CUDA out of memory"
    done = records["sgd-0.001-0"]
    assert (done["best_epoch"], done["epochs_run"], done["params"]) == ("10", "13", "79510")


# --------------------------------------------------------------------------- report

def test_report_header_gives_study_data_model_machine_and_counts():
    report = render_report(META, study_trials(), SELECT)
    assert report.startswith("# Study report: optimizers-and-learning-rates\n")
    assert "- **Data**: mnist-10k: 9,000 train, 1,000 valid, 10,000 test examples" in report
    assert ("- **Model**: mlp hidden [100] relu: 79,510 parameters, 159,010 FLOPs per "
            "example (forward)") in report
    assert "- **Machine**: 2-core x86_64, CPU" in report
    assert "- **Wall time**: 12 min 3 s" in report
    assert "(6 configurations)" in report
    assert "- **Trials**: 18: 14 done, 3 diverged, 1 failed" in report
    assert ("- **Selection**: valid loss at each trial's best epoch, lower is better, best per "
            "optimizer") in report


def test_report_best_per_table_as_the_reports_show_it():
    report = render_report(META, study_trials(), SELECT)
    best = section(report, "Best configuration per optimizer")
    header = next(ln for ln in best.splitlines() if ln.startswith("|"))
    for title in ("train loss", "valid loss", "test loss", "train acc", "valid acc",
                  "test acc", "best epoch", "95% CI of valid loss"):
        assert title in header
    rows = table_rows(best)
    assert [r[0] for r in rows] == ["sgd", "adam", "rmsprop"]
    assert [r[1] for r in rows] == ["lr 0.01", "lr 0.001", "lr 0.001"]
    adam = rows[1]
    mean = (0.20 + 0.22 + 0.19) / 3
    assert adam[2] == "3"
    assert adam[4:7] == [f"{mean - 0.05:.4f}", f"{mean:.4f}", f"{mean + 0.01:.4f}"]
    assert adam[7:10] == [f"{1 - mean / 2 + 0.05:.4f}", f"{1 - mean / 2:.4f}",
                          f"{1 - mean / 2 - 0.01:.4f}"]
    assert adam[10] == "11.0"
    s = math.sqrt(sum((x - mean) ** 2 for x in (0.20, 0.22, 0.19)) / 2)
    t = 0.95 * math.sqrt(2 / (1 - 0.95**2))  # t_{0.975, 2} in closed form (table: 4.303)
    half = t * s / math.sqrt(3)
    assert adam[3] == f"[{mean - half:.4f}, {mean + half:.4f}]"
    assert rows[0][2] == "2"  # sgd 0.01: one of three seeds failed


def test_report_comparison_sentences():
    report = render_report(META, study_trials(), SELECT)
    p = 1 - 8 / math.sqrt(66)  # paired t = -8 on 2 df: p = 1 - |t| / sqrt(2 + t^2)
    text = section(report, "Winner and runner-up")
    assert (f"adam lr 0.001 is best, distinguishable from rmsprop lr 0.001 at 95% "
            f"(p = {p:.2f}, 3 seeds).") in text
    assert "- rmsprop: rmsprop lr 0.001 is the only configuration with results." in text
    assert "- adam: adam lr 0.001 is best, distinguishable from adam lr 0.01" in text


def test_report_aggregated_table_sorted_with_cost_columns():
    report = render_report(META, study_trials(), SELECT)
    text = section(report, "All configurations")
    header = next(ln for ln in text.splitlines() if ln.startswith("|"))
    for title in ("epochs", "wall time", "training FLOPs", "diverged", "failed"):
        assert title in header
    rows = table_rows(text)
    assert [(r[0], r[1]) for r in rows] == [("adam", "0.001"), ("rmsprop", "0.001"),
                                            ("adam", "0.01"), ("sgd", "0.01"),
                                            ("sgd", "0.001"), ("rmsprop", "0.01")]
    assert rows[-1][3] == "3" and rows[-1][5] == "—"  # all diverged: no mean
    assert rows[3][4] == "1"  # sgd 0.01: one failed
    assert rows[0][5].startswith(f"{(0.20 + 0.22 + 0.19) / 3:.4f} ± ")
    assert rows[0][-3:] == ["14.0", "5.0 s", "150 G"]


def test_report_main_effects_trials_failures_and_diagnostics():
    report = render_report(META, study_trials(), SELECT)
    effects = section(report, "Main effects")
    assert "- optimizer sgd: reference" in effects
    assert "- lr 0.01: " in effects
    assert "(mean 0.2300 over 3 trials, 3 pairs; 3 diverged, left out)" in effects
    trials = section(report, "Trials")
    assert len(table_rows(trials.split("### Failed")[0])) == 18
    assert ("- sgd-0.01-2 (train.optimizer=sgd train.lr=0.01, seed 2): RuntimeError: CUDA "
            "out of memory") in trials
    diagnostics = section(report, "Diagnostics")
    rows = table_rows(diagnostics)
    assert [r[0] for r in rows] == ["sgd-0.001-1", "sgd-0.01-1", "rmsprop-0.01-0",
                                    "rmsprop-0.01-1", "rmsprop-0.01-2"]
    assert rows[0][-1] == "overfitting, dead_relus"


def test_report_with_one_seed_gives_no_interval_and_says_so():
    trials = pd.DataFrame([row("adam", 0.001, 0, 0.20), row("rmsprop", 0.001, 0, 0.23)])
    report = render_report({"name": "one"}, trials, {"metric": "valid_loss", "per": []})
    assert ("one seed: cannot tell whether adam lr 0.001 is better than rmsprop lr 0.001 "
            "(run more seeds).") in report
    assert "no CI (1 seed)" in section(report, "Best configuration")
    assert "0.2000 (1 seed)" in section(report, "All configurations")
    assert "With one seed there is no interval" in report
    assert "(one pair: no interval)" in section(report, "Main effects")
    assert "No trial has diagnostic findings." in report


def test_report_of_an_unfinished_study_is_partial():
    trials = pd.DataFrame([row("adam", 0.001, 0, 0.20), row("adam", 0.001, 1, NAN, "pending")])
    report = render_report({"name": "partial"}, trials, {"metric": "valid_accuracy"})
    assert "- **Trials**: 2: 1 done, 0 diverged, 0 failed, 1 not finished" in report
    assert "higher is better" in report
    none = pd.DataFrame([row("adam", 0.001, 0, NAN, "running")])
    text = render_report({"name": "none"}, none, SELECT)
    assert "No trial has finished" in text and "## Trials" in text


def test_report_rejects_an_unknown_select_metric():
    with pytest.raises(ConfigError, match="valid_los"):
        render_report(META, study_trials(), {"metric": "valid_los"})


def test_report_of_no_trials_at_all():
    report = render_report({"name": "empty"}, pd.DataFrame(), SELECT)
    assert "- **Trials**: 0: 0 done, 0 diverged, 0 failed" in report
    assert "No trials." in report


def test_report_with_variants_and_list_valued_keys():
    rows = []
    for variant in ("normalized", "raw"):
        for hidden in ([100], [100, 100]):
            for seed in (0, 1):
                loss = 0.3 + 0.1 * (variant == "raw") - 0.02 * len(hidden) + 0.01 * seed
                r = row("adam", 0.001, seed, loss, variant=variant)
                del r[OPT], r[LR]
                r["model.mlp.hidden"] = hidden
                r["trial_id"] = f"{variant}-{len(hidden)}-{seed}"
                r["params"] = 79510 if len(hidden) == 1 else 89610
                rows.append(r)
    meta = {"name": "variants", "variants": ["normalized", "raw"],
            "training_flops_per_sample": 477030}
    report = render_report(meta, pd.DataFrame(rows),
                           {"metric": "valid_loss", "mode": "auto", "per": ["variant"]})
    assert "- **Variants**: normalized, raw" in report
    assert "79,510 to 89,610 parameters (depends on the configuration)" in report
    assert "477,030 per training example" in report
    best = table_rows(section(report, "Best configuration per variant"))
    assert [(r[0], r[1]) for r in best] == [("normalized", "hidden [100, 100]"),
                                            ("raw", "hidden [100, 100]")]
    assert "- variant raw: +0.1000 [" in section(report, "Main effects")
    rows_all = table_rows(section(report, "All configurations"))
    assert rows_all[0][:2] == ["normalized", "[100, 100]"]
    assert rows_all[0][-1] == "89,610"  # params differ between configurations: shown


def test_head_is_the_report_up_to_the_winner_and_runner_up():
    report = render_report(META, study_trials(), SELECT)
    head = render_head(META, study_trials(), SELECT)
    assert head == report.split("\n## All configurations", 1)[0].rstrip() + "\n"
    assert "## Winner and runner-up" in head and "Within each optimizer:" in head


def test_head_of_a_study_with_nothing_finished_shows_its_trials():
    trials = pd.DataFrame([row("adam", 0.001, 0, NAN, "failed",
                               error="RuntimeError: out of memory")])
    head = render_head({"name": "none"}, trials, SELECT)
    assert head == render_report({"name": "none"}, trials, SELECT)
    assert "No trial has finished" in head and "RuntimeError: out of memory" in head
