"""report.html of a study and of a run: self-contained, every section there, user text
escaped, a partial page for a study not finished, and the notebook views."""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser

import pytest
from matplotlib.figure import Figure

import nnstudy
from nnstudy.api import Study, report
from nnstudy.config.study import load_study
from nnstudy.report.html import escape, markdown_html
from nnstudy.report.study_page import study_page
from nnstudy.study.result import load_result

HOSTILE = '<script>alert("name")</script>'
STUDY = {
    "name": f"tiny {HOSTILE}",
    "data": {"name": "digits", "valid_fraction": 0.2},
    "model": {"mlp": {"hidden": [16]}},
    "train": {"epochs": 3, "batch_size": 64},
    "grid": {"train.optimizer": ["sgd", "adam"], "train.lr": [0.01, 0.1]},
    "seeds": [0, 1],
    "select": {"per": ["train.optimizer"]},
}


class Tags(HTMLParser):
    """The tags of a page, and the text inside <script> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def parse(text: str) -> Tags:
    tags = Tags()
    tags.feed(text)
    return tags


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("pages") / "s"
    return Study(load_study(STUDY)).run(out=out, workers=1)


def test_the_study_page_is_one_self_contained_file_with_every_section(study):
    text = (study.out_dir / "report.html").read_text()
    tags = parse(text)
    images = [a for t, a in tags.tags if t == "img"]
    assert len(images) >= 8  # curves x2, sweep, heatmap, cost, effects, and a kept model's
    assert all(a["src"].startswith("data:image/png;base64,") for a in images)
    assert not [a for t, a in tags.tags if t in ("script", "link") and ("src" in a or "href" in a)]
    assert not re.search(r"(src|href)=\"https?:", text)
    for heading in ("Best configuration per optimizer", "Winner and runner-up", "Figures",
                    "All configurations", "Main effects", "Trials", "Kept models"):
        assert f">{heading}</" in text, heading
    assert sum(t == "table" for t, _ in tags.tags) >= 4
    assert "Partial report" not in text


def test_user_text_is_escaped_and_runs_nothing(study):
    text = (study.out_dir / "report.html").read_text()
    tags = parse(text)
    assert [t for t, _ in tags.tags].count("script") == 1  # the page's own sorting script
    assert "alert" not in "".join(tags.scripts)
    assert escape(HOSTILE) in text and HOSTILE not in text


def test_markdown_is_escaped_before_it_is_formatted():
    out = markdown_html("# a <b>\n\n- **x** & `y<z>`\n\n| k | v |\n| - | -: |\n| <i> | 1 |")
    assert out.startswith("<h1>a &lt;b&gt;</h1>")
    assert "<li><strong>x</strong> &amp; <code>y&lt;z&gt;</code></li>" in out
    assert '<td>&lt;i&gt;</td><td class="num">1</td>' in out


def test_a_study_not_finished_gives_a_partial_page_that_says_so(study, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(study.out_dir, copy)
    with sqlite3.connect(copy / "study.db") as db:
        ids = [r[0] for r in db.execute("SELECT id FROM trials ORDER BY id")]
        for trial, status in ((ids[0], "pending"), (ids[1], "running")):
            db.execute("UPDATE trials SET status=? WHERE id=?", (status, trial))
            db.execute("DELETE FROM summaries WHERE trial_id=?", (trial,))
            db.execute("DELETE FROM epochs WHERE trial_id=?", (trial,))
    text = study_page(load_result(copy))
    assert "Partial report:</strong> 6 of 8 trials have finished; 1 running, 1 pending" in text
    report(copy)  # what `nnstudy study report` does with it
    assert "Partial report" in (copy / "report.html").read_text()


def test_keep_models_best_keeps_the_best_seed_of_each_selected_configuration(study):
    trials = study.trials
    expected = set()
    for label in study.best()["config"]:
        rows = trials[trials["config"] == label]
        expected.add(rows.loc[rows["best_valid_loss"].idxmin(), "trial_id"])
    assert {p.stem for p in (study.out_dir / "models").glob("*.pt")} == expected
    assert len(expected) == 2  # one per optimizer


@pytest.mark.parametrize(("policy", "count"), [("all", 4), ("none", 0)])
def test_keep_models_all_or_none(tmp_path, policy, count):
    spec = dict(STUDY, grid={"train.lr": [0.01, 0.1]}, select={}, keep_models=policy)
    result = Study(load_study(spec)).run(out=tmp_path / "s", workers=1)
    assert len(list((tmp_path / "s" / "models").glob("*.pt"))) == count
    assert (policy == "none") == ("No weights were kept" in
                                  (tmp_path / "s" / "report.html").read_text())
    assert len(result.trials) == 4


def test_the_study_result_shows_itself_and_draws_its_figures(study):
    assert isinstance(study, nnstudy.StudyResult)
    fragment = study._repr_html_()
    assert fragment.startswith('<div class="nnstudy-report">') and "<html" not in fragment
    for name in ("plot_curves", "plot_metric_vs_key", "plot_heatmap", "plot_main_effects",
                 "plot_cost_quality", "plot_confusion_matrix", "plot_weights",
                 "plot_predictions"):
        assert isinstance(getattr(study, name)(), Figure), name


def test_the_run_page_and_the_run_result_views(tmp_path):
    run = nnstudy.train({"name": f"run {HOSTILE}", "model": {"mlp": {"hidden": [16]}},
                         "train": {"epochs": 2}}, out=tmp_path / "r")
    text = (tmp_path / "r" / "report.html").read_text()
    tags = parse(text)
    assert len([a for t, a in tags.tags if t == "img"]) == 5  # curves, confusion, weights,
    #                                                            sample, mistakes
    for heading in ("Metrics at the best epoch", "Learning curves", "Confusion matrix",
                    "Weights as images", "Predictions", "Diagnostics"):
        assert f">{heading}</h2>" in text, heading
    assert [t for t, _ in tags.tags].count("script") == 1
    assert f"Run report: run {escape(HOSTILE)}" in text and HOSTILE not in text
    assert "gradient norm" in text  # the signals behind the diagnostics
    assert run._repr_html_().startswith('<div class="nnstudy-report">')
    for name in ("plot_curves", "plot_confusion_matrix", "plot_weights", "plot_predictions"):
        assert isinstance(getattr(run, name)(), Figure), name
