"""A study of heads on a backbone's features: pixels against features as variants, the
features computed once per data set and layer and reused by every group after the first."""

import json

import pytest
import torch

from nnstudy.data.feature_cache import clear_memory
from nnstudy.models import build_model
from nnstudy.study import Study
from nnstudy.study.store import open_store

BACKBONE = [{"conv": {"out": 4, "kernel": 3}}, "relu", {"maxpool": 2},
            {"conv": {"out": 6, "kernel": 2}}, "relu", "flatten", {"linear": 10}]
HEAD = {"mlp": {"hidden": [16], "activation": "leaky_relu"}}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA_DIR", str(tmp_path / "cache"))
    clear_memory()
    yield
    clear_memory()


def study(weights):
    features = {"backbone": BACKBONE, "weights": str(weights)}
    return {
        "name": "transfer",
        "data": {"name": "digits", "valid_fraction": 0.1},
        "model": HEAD,
        "train": {"optimizer": "adam", "lr": 0.01, "epochs": 3},
        "grid": {"train.batch_size": [16, 32]},
        "variants": [
            {"name": "pixels", "set": {}},
            {"name": "relu2", "set": {"model": {"features": {**features, "layer": "relu2"},
                                                "head": HEAD}}},
            {"name": "pool1", "set": {"model": {"features": {**features, "layer": "pool1"},
                                                "head": HEAD}}},
        ],
        "seeds": [0, 1],
    }


def summaries(out):
    store = open_store(out)
    try:
        return {t["id"]: json.loads(t["summary_json"]) for t in store.trials()}
    finally:
        store.close()


def saved_backbone(tmp_path):
    path = tmp_path / "backbone.pt"
    torch.save(build_model(BACKBONE, (1, 8, 8), 10, seed=5).state_dict(), path)
    return path


def test_pixels_and_two_layers_run_in_one_study_with_features_computed_once(tmp_path):
    path = saved_backbone(tmp_path)
    result = Study.from_dict(study(path)).run(out=tmp_path / "s", workers=1)
    trials = result.trials
    assert len(trials) == 12 and set(trials["status"]) == {"done"}
    got = summaries(tmp_path / "s")
    by_variant = {}
    for trial_id, summary in got.items():
        variant = trial_id.split("-")[0]
        by_variant.setdefault(variant, []).append(summary)
    assert all("features" not in s for s in by_variant["v0"])
    for variant, layer, dim in (("v1", "relu2", 24), ("v2", "pool1", 36)):
        assert {s["features"]["layer"] for s in by_variant[variant]} == {layer}
        assert {s["input_shape"][0] for s in by_variant[variant]} == {dim}
        digests = {s["features"]["cache"]["digest"] for s in by_variant[variant]}
        assert len(digests) == 1  # both batch sizes, both seeds: the same features
    sources = sorted(s["features"]["cache"]["source"] for v in ("v1", "v2")
                     for s in by_variant[v])
    # groups run in order in this process: each layer's first computes, the next reuses
    assert sources == ["computed"] * 4 + ["memory"] * 4


def test_worker_processes_share_the_features_through_the_disk_cache(tmp_path):
    spec = study(saved_backbone(tmp_path))
    spec.update(grid={}, variants=[spec["variants"][1]])
    # one group, split between two worker processes (one seed each)
    result = Study.from_dict(spec).run(out=tmp_path / "s", workers=2, threads=1)
    assert set(result.trials["status"]) == {"done"}
    got = list(summaries(tmp_path / "s").values())
    assert len({s["features"]["cache"]["digest"] for s in got}) == 1
    # each worker computes them or finds them on disk (when the other was first)
    assert {s["features"]["cache"]["source"] for s in got} <= {"computed", "disk"}
    files = list((tmp_path / "cache" / "features").glob("*.pt"))
    assert [f.stem for f in files] == [got[0]["features"]["cache"]["digest"]]
