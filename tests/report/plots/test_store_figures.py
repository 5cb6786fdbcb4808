"""The figures of a real study, as its page and its `plot_*` methods draw them, against the
numbers in its store: study.db read here with sqlite3 alone, and the kept model.pt read with
torch.load. One test per figure; the values drawn must be the store's."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

import numpy as np
import pytest
import torch

from nnstudy.api import Study
from nnstudy.config.study import load_study

STUDY = {
    "name": "store-figures",
    "data": {"name": "digits", "valid_fraction": 0.2},
    "model": {"mlp": {"hidden": [16]}},
    "train": {"epochs": 3, "batch_size": 64},
    "grid": {"train.optimizer": ["sgd", "adam"], "train.lr": [0.01, 0.1]},
    "seeds": [0, 1, 2],
    "keep_models": "all",
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return Study(load_study(STUDY)).run(out=tmp_path_factory.mktemp("store") / "s", workers=1)


@pytest.fixture(scope="module")
def store(study):
    """{trial: (optimizer, lr, seed, status, summary)} and the epochs rows, from study.db."""
    db = sqlite3.connect(study.out_dir / "study.db")
    summaries = {t: json.loads(s) for t, s in db.execute("SELECT trial_id, summary_json "
                                                         "FROM summaries")}
    trials = {}
    for trial, keys, seed, status in db.execute("SELECT id, keys_json, seed, status "
                                                "FROM trials"):
        keys = json.loads(keys)
        trials[trial] = (keys["train.optimizer"], keys["train.lr"], seed, status,
                         summaries.get(trial))
    epochs = db.execute("SELECT trial_id, epoch, split, loss, accuracy FROM epochs").fetchall()
    db.close()
    return trials, epochs


def _means(store, metric, by):
    """Mean of summary['best'][split][measure] over done trials, per `by(trial row)`."""
    split, measure = metric
    values = defaultdict(list)
    for row in store[0].values():
        if row[3] == "done":
            values[by(row)].append(row[4]["best"][split][measure])
    return {k: float(np.mean(v)) for k, v in values.items()}


def test_heatmap_cells_are_the_stores_mean_test_accuracy(study, store):
    fig = study.plot_heatmap()
    image = next(im for im in fig.axes[0].images if im.get_gid() == "means").get_array()
    means = _means(store, ("test", "accuracy"), lambda r: (r[0], r[1]))
    for i, opt in enumerate(STUDY["grid"]["train.optimizer"]):
        for j, lr in enumerate(STUDY["grid"]["train.lr"]):
            assert image[i, j] == pytest.approx(means[(opt, lr)], rel=1e-12)


def test_sweep_points_are_the_stores_means_per_optimizer(study, store):
    fig = study.plot_metric_vs_key()
    ax = fig.axes[0]
    means = _means(store, ("test", "accuracy"), lambda r: (r[0], r[1]))
    for opt in STUDY["grid"]["train.optimizer"]:
        container = next(c for c in ax.containers if c.get_label() == opt)
        drawn = container.lines[0].get_xydata()
        expected = [[lr, means[(opt, lr)]] for lr in STUDY["grid"]["train.lr"]
                    if (opt, lr) in means]
        np.testing.assert_allclose(drawn, expected, rtol=1e-12)


def test_main_effects_are_the_stores_means_per_value(study, store):
    fig = study.plot_main_effects()  # the select metric: valid loss
    for ax, position in zip([a for a in fig.axes if a.containers], (0, 1), strict=True):
        means = _means(store, ("valid", "loss"), lambda r, p=position: r[p])
        values = STUDY["grid"][ax.get_xlabel()]
        drawn = ax.containers[0].lines[0].get_xydata()
        np.testing.assert_allclose(drawn[:, 1], [means[v] for v in values if v in means],
                                   rtol=1e-12)


def test_cost_points_are_the_stores_flops_and_accuracy_per_configuration(study, store):
    fig = study.plot_cost_quality()
    flops = defaultdict(list)
    for row in store[0].values():
        if row[3] == "done":
            flops[(row[0], row[1])].append(row[4]["training_flops"])
    quality = _means(store, ("test", "accuracy"), lambda r: (r[0], r[1]))
    expected = sorted((float(np.mean(flops[k])), quality[k]) for k in quality)
    points = next(ln for ln in fig.axes[0].get_lines() if ln.get_gid() == "points")
    np.testing.assert_allclose(sorted(map(tuple, points.get_xydata())), expected, rtol=1e-9)


def test_learning_curves_are_the_stores_epochs_mean_over_seeds(study, store):
    label = study.best()["config"].iloc[0]
    fig = study.plot_curves(configs=[label])
    ids = set(study.trials.loc[study.trials["config"] == label, "trial_id"])
    by_epoch = defaultdict(list)
    for trial, epoch, split, loss, _ in store[1]:
        if trial in ids and split == "valid":
            by_epoch[epoch].append(loss)
    line = next(ln for ax in fig.axes for ln in ax.get_lines()
                if (ln.get_gid() or "").startswith("mean|")
                and ln.get_gid().endswith("|valid|loss"))
    drawn = line.get_xydata()
    np.testing.assert_allclose(drawn[:, 0], sorted(by_epoch))
    np.testing.assert_allclose(drawn[:, 1], [np.mean(by_epoch[e]) for e in sorted(by_epoch)],
                               rtol=1e-6)


def test_confusion_matrix_of_a_kept_model_has_its_stored_test_accuracy(study, store):
    trial = "g000-s0" if "g000-s0" in store[0] else sorted(store[0])[0]
    fig = study.plot_confusion_matrix(trial)
    counts = {t.get_gid(): int(t.get_text()) for t in fig.axes[0].texts
              if (t.get_gid() or "").startswith("count|")}
    total = sum(counts.values())
    right = sum(n for gid, n in counts.items() if gid.split("|")[1] == gid.split("|")[2])
    assert right / total == pytest.approx(store[0][trial][4]["best"]["test"]["accuracy"],
                                          abs=1e-9)


def test_weight_tiles_are_the_kept_model_pt(study):
    trial = sorted(p.stem for p in (study.out_dir / "models").glob("*.pt"))[0]
    weight = torch.load(study.out_dir / "models" / f"{trial}.pt",
                        weights_only=True)["fc1.weight"].numpy()
    fig = study.plot_weights(trial)
    tiles = {im.get_gid(): im.get_array() for ax in fig.axes for im in ax.images}
    for k in range(16):
        np.testing.assert_allclose(tiles[f"tile|{k}"], weight[k].reshape(8, 8), rtol=1e-6)


def test_the_mistakes_shown_are_the_models_mistakes(study, store):
    trial = sorted(store[0])[0]
    accuracy = store[0][trial][4]["best"]["test"]["accuracy"]
    fig = study.plot_predictions(trial, only_mistakes=True, count=10)
    samples = [ax.get_gid() for ax in fig.axes if (ax.get_gid() or "").startswith("sample|")]
    n_test = store[0][trial][4]["data"]["sizes"]["test"]
    assert len(samples) == min(10, round((1 - accuracy) * n_test))
    assert all(s.endswith("|wrong") for s in samples)
