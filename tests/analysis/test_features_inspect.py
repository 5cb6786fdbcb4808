"""`inspect` of a features model: the backbone counted once per example, the head per step,
each figure checked by hand or against the head inspected alone."""

import json

import torch
from torch import nn

import nnstudy
from nnstudy.analysis.features import FeaturesSummary
from nnstudy.analysis.training_cost import measure_training_cost
from nnstudy.cli import main
from nnstudy.models import build_model

BACKBONE = [{"conv": {"out": 4, "kernel": 3}}, "relu", {"maxpool": 2},
            {"conv": {"out": 6, "kernel": 2}}, "relu", "flatten", {"linear": 10}]
SHAPE = (1, 8, 8)
HEAD = {"mlp": {"hidden": [8]}}
# by hand (docs/counting.md): conv1 144 outputs x 2 x 9, relu1 144, pool1 36 x 3,
# conv2 24 outputs x 2 x 16, relu2 24
BACKBONE_FLOPS = 144 * 18 + 144 + 36 * 3 + 24 * 32 + 24


def spec(**block):
    return {"features": {"backbone": BACKBONE, "layer": "relu2", "seed": 0, **block},
            "head": HEAD}


def test_the_backbone_is_counted_per_example_and_the_head_per_step():
    summary = nnstudy.inspect(build_model(spec(), SHAPE, 10), SHAPE)
    assert isinstance(summary, FeaturesSummary)
    assert [r.name for r in summary.rows] == [
        "backbone.conv1", "backbone.relu1", "backbone.pool1", "backbone.conv2",
        "backbone.relu2", "head.fc1", "head.relu1", "head.fc2"]
    assert summary.backbone_cost.flops == BACKBONE_FLOPS
    assert summary.backbone_params == (4 * 9 + 4) + (6 * 16 + 6)
    head = build_model(HEAD, (24,), 10)
    assert summary.head_params == summary.trainable_params == sum(
        p.numel() for p in head.parameters())
    assert summary.training.flops == measure_training_cost(head, (24,)).flops
    assert summary.head_cost.flops == nnstudy.inspect(head, (24,)).flops
    notes = "\n".join(summary.notes())
    assert "(frozen), per example: " in notes
    assert "run once per example of each split (train, valid, test)" in notes
    assert f"A run: {BACKBONE_FLOPS:,} x (train + valid + test examples) + " \
           f"{summary.training.flops:,} x train examples x epochs FLOPs" in notes
    frozen = {r.name: r.trainable_params for r in summary.rows}
    assert frozen["backbone.conv1"] == 0 and frozen["head.fc1"] == 24 * 8 + 8


def test_fine_tuning_counts_the_backbone_in_every_step():
    frozen = nnstudy.inspect(build_model(spec(), SHAPE, 10), SHAPE)
    tuned = nnstudy.inspect(build_model(spec(finetune=1), SHAPE, 10), SHAPE)
    assert tuned.fine_tuned == ("conv2",)
    assert tuned.trainable_params == frozen.trainable_params + 6 * 16 + 6
    # forward through everything, backward through the head and conv2 (weights and bias:
    # conv1 is frozen, so nothing asks for the gradient of conv2's input)
    assert tuned.training.forward_flops == BACKBONE_FLOPS + frozen.head_cost.flops
    assert tuned.training.flops > frozen.training.flops + BACKBONE_FLOPS
    notes = "\n".join(tuned.notes())
    assert "fine-tuning the last 1 with weights: conv2" in notes
    assert "run at every training step (fine-tuning: no cache)" in notes


def test_preprocessing_is_named_and_not_counted():
    model = build_model({"features": {"backbone": "alexnet", "layer": "features.2", "seed": 0},
                         "head": HEAD}, (1, 28, 28), 10)
    summary = nnstudy.inspect(model, (1, 28, 28))
    assert summary.input_shape == (3, 224, 224) and summary.data_shape == (1, 28, 28)
    # features.0: 64x55x55 outputs x 2 x (3 x 11 x 11); relu; maxpool 3x3 on 64x27x27
    conv = 64 * 55 * 55 * 2 * 3 * 11 * 11
    assert summary.backbone_cost.flops == conv + 64 * 55 * 55 + 64 * 27 * 27 * 8
    assert "Preprocess (data preparation, not counted): 1x28x28 -> 3x224x224: to_rgb, " \
           "resize 224x224, normalize imagenet" in summary.notes()
    assert summary.uncounted == {}


def test_containers_are_listed_as_names_of_the_model_too():
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), nn.Linear(4, 2))
    summary = nnstudy.inspect(model, (4,))
    assert summary.containers == ("0",)
    assert summary.notes()[-1].startswith("Containers (modules holding the rows' modules")
    assert summary.to_dict()["containers"] == ["0"]


def run_cli(args):
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_inspect_command_shows_both_parts_of_a_features_spec(tmp_path, capsys):
    import yaml

    path = tmp_path / "features.yaml"
    path.write_text(yaml.safe_dump(spec()))
    assert run_cli(["inspect", str(path), "--input", "1,8,8"]) == 0
    out = capsys.readouterr().out
    assert "backbone.conv2" in out and "head.fc1" in out
    assert "Backbone 7 layers relu2 (frozen), per example: " in out
    assert run_cli(["inspect", str(path), "--input", "1,8,8", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["features"]["backbone_flops_per_example"] == BACKBONE_FLOPS
    assert data["features"]["layer"] == "relu2"


def test_inspect_alexnet_names_its_containers(capsys):
    assert run_cli(["inspect", "alexnet", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "features.8" in out
    assert "also names of the model, e.g. for model.features.layer): features, classifier" in out


def test_the_cut_backbone_alone_has_no_training_step():
    from nnstudy.config.model import parse_model_spec
    from nnstudy.models.features import cut_backbone

    features = parse_model_spec(spec()).features
    summary = nnstudy.inspect(cut_backbone(features, SHAPE).extractor, SHAPE)
    assert summary.training is None and summary.flops == BACKBONE_FLOPS
    assert torch.Size(summary.feature_shape).numel() == summary.feature_dim == 24
