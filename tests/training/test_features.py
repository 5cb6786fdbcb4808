"""Heads trained on a backbone's features: features computed once (equal to a direct forward
pass), cached under everything they depend on, heads equal to plain loops, fine-tuning equal
to a plain loop, and summaries that count the backbone once per example."""

import json
import warnings

import pytest
import torch
import torch.nn.functional as F
import yaml

import nnstudy
from nnstudy.cli import main
from nnstudy.config.run import RunSpec
from nnstudy.data import load_data
from nnstudy.data.feature_cache import FeaturesTooLargeError, clear_memory
from nnstudy.data.memory import AvailableMemory
from nnstudy.errors import ConfigError
from nnstudy.models import build_model
from nnstudy.training import features as features_module
from nnstudy.training.features import HeadRunSpec, prepare_features
from nnstudy.training.trainer import group_key, train_group

# conv1 4@3x3, relu1, pool1, conv2 6@2x2, relu2, flatten, fc1 (on 1x8x8: 4x6x6, 4x3x3, 6x2x2)
BACKBONE = [{"conv": {"out": 4, "kernel": 3}}, "relu", {"maxpool": 2},
            {"conv": {"out": 6, "kernel": 2}}, "relu", "flatten", {"linear": 10}]
SHAPE = (1, 8, 8)
DATA = {"name": "digits", "valid_fraction": 0.1}
HEAD = {"mlp": {"hidden": [16]}}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDY_DATA_DIR", str(tmp_path / "cache"))
    clear_memory()
    yield tmp_path / "cache"
    clear_memory()


@pytest.fixture(scope="module")
def digits():
    return load_data(DATA)


@pytest.fixture
def weights(tmp_path):
    net = build_model(BACKBONE, SHAPE, 10, seed=5)
    path = tmp_path / "backbone.pt"
    torch.save(net.state_dict(), path)
    return net, path


def config(path, layer="relu2", train=None, data=None, **block):
    return {"data": data or DATA,
            "model": {"features": {"backbone": BACKBONE, "layer": layer,
                                   "weights": str(path), **block}, "head": HEAD},
            "train": {"optimizer": "sgd", "lr": 0.1, "epochs": 2, "batch_size": 32,
                      **(train or {})}}


def spec(cfg):
    return RunSpec.model_validate(cfg)


def direct(net, x):
    """conv1 relu1 pool1 conv2 relu2, flattened: the backbone applied layer by layer."""
    return net[4](net[3](net[2](net[1](net[0](x))))).flatten(1)


def test_cached_features_equal_a_direct_forward_pass(digits, weights):
    net, path = weights
    prepared = prepare_features(spec(config(path)), digits)
    for split in ("train", "valid", "test"):
        x = digits.batch(split, torch.arange(len(getattr(digits, split))))
        got = getattr(prepared.bundle, split).x
        torch.testing.assert_close(got, direct(net, x))
        assert torch.equal(getattr(prepared.bundle, split).y, getattr(digits, split).y)
    assert prepared.bundle.input_shape == (24,)
    assert prepared.info["cache"]["source"] == "computed"


def test_a_second_run_reuses_the_features_from_memory_then_from_disk(digits, weights):
    _, path = weights
    first = prepare_features(spec(config(path)), digits)
    again = prepare_features(spec(config(path, train={"seed": 7})), digits)
    assert again.info["cache"]["source"] == "memory"
    clear_memory()  # as a new process
    disk = prepare_features(spec(config(path)), digits)
    assert disk.info["cache"]["source"] == "disk"
    assert disk.info["cache"]["digest"] == first.info["cache"]["digest"]
    assert torch.equal(disk.bundle.train.x, first.bundle.train.x)


def test_changed_weights_layer_data_or_preprocessing_miss_the_cache(digits, weights, tmp_path):
    net, path = weights
    base = prepare_features(spec(config(path)), digits).info["cache"]["digest"]
    changed = net.state_dict()
    changed["conv1.weight"] = changed["conv1.weight"] + 1e-3
    other = tmp_path / "other.pt"
    torch.save(changed, other)
    fewer = {**DATA, "max_per_class": 50}
    cases = {
        "weights": (config(other), digits),
        "layer": (config(path, layer="pool1"), digits),
        "data": (config(path, data=fewer), load_data(fewer)),
        "preprocess": (config(path, preprocess={"normalize": "mnist"}), digits),
    }
    digests = {base}
    for what, (cfg, bundle) in cases.items():
        got = prepare_features(spec(cfg), bundle).info["cache"]
        assert got["source"] == "computed", what
        digests.add(got["digest"])
    assert len(digests) == 1 + len(cases)


def test_a_change_after_the_layer_is_not_a_change_of_the_features(digits, weights, tmp_path):
    net, path = weights
    base = prepare_features(spec(config(path)), digits).info["cache"]["digest"]
    changed = net.state_dict()
    changed["fc1.weight"] = changed["fc1.weight"] + 1.0
    other = tmp_path / "other.pt"
    torch.save(changed, other)
    got = prepare_features(spec(config(other)), digits).info["cache"]
    assert (got["source"], got["digest"]) == ("memory", base)


def test_features_that_do_not_fit_in_memory_are_refused_before_the_backbone_runs(
        digits, weights, monkeypatch):
    _, path = weights
    monkeypatch.setattr("nnstudy.data.feature_cache.available_memory",
                        lambda: AvailableMemory(100_000, "test"))

    def never(*args, **kwargs):
        raise AssertionError("the backbone ran")

    monkeypatch.setattr(features_module, "compute_features", never)
    n = sum(len(s) for s in digits.splits)
    with pytest.raises(FeaturesTooLargeError) as err:
        prepare_features(spec(config(path)), digits)
    assert f"({n * 24 * 4:,} bytes) in memory, and 97.7 KiB (100,000 bytes)" in str(err.value)


def test_augmented_data_is_refused_for_cached_features(weights):
    _, path = weights
    data = {**DATA, "augment": [{"random_crop": {"size": 8, "padding": 1}}]}
    with pytest.raises(ConfigError, match=r"^data\.augment: random_crop cannot apply to a "
                                          r"backbone's features"):
        prepare_features(spec(config(path, data=data)), load_data(data))


def plain_loop(net, inputs, y, seed, epochs, batch_size, lr):
    """SGD on (inputs, y) in the trainer's order: one randperm per epoch from the seed."""
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen)
        for i in range(0, len(y), batch_size):
            idx = perm[i : i + batch_size]
            loss = F.cross_entropy(net(inputs[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def test_heads_trained_on_features_equal_heads_of_a_plain_loop(digits, weights):
    _, path = weights
    cfg = config(path, train={"early_stopping": {"metric": "train_loss", "patience": 100}})
    specs = [spec({**cfg, "train": {**cfg["train"], "seed": s}}) for s in (0, 1)]
    prepared = prepare_features(specs, digits)
    assert all(isinstance(s, HeadRunSpec) for s in prepared.specs)
    trained = train_group(prepared.specs, prepared.bundle, dtype=torch.float64)
    feats, y = prepared.bundle.train.x.double(), prepared.bundle.train.y
    for s, ours in zip(specs, trained, strict=True):
        assert ours.best_epoch == 2
        head = build_model(HEAD, (24,), 10, seed=s.train.seed).double()
        plain_loop(head, feats, y, s.train.seed, 2, 32, 0.1)
        for name, value in head.state_dict().items():
            torch.testing.assert_close(ours.state_dict[name], value, rtol=1e-9, atol=1e-12)


def test_cached_heads_equal_heads_trained_with_the_backbone_in_every_step(digits, weights):
    _, path = weights
    s = spec(config(path, train={"early_stopping": {"metric": "train_loss", "patience": 100}}))
    prepared = prepare_features(s, digits)
    cached = train_group(prepared.specs, prepared.bundle, dtype=torch.float64)[0]
    naive = train_group([s], digits, dtype=torch.float64)[0]  # FeatureModel, backbone frozen
    for name, value in cached.state_dict.items():
        torch.testing.assert_close(naive.state_dict[f"head.{name}"], value,
                                   rtol=1e-7, atol=1e-9)
    assert cached.history[-1]["accuracy"] == pytest.approx(naive.history[-1]["accuracy"])


def test_finetune_trains_the_last_k_layers_as_a_plain_torch_step(digits, weights):
    _, path = weights
    n = len(digits.train)
    s = spec(config(path, finetune=1, train={
        "epochs": 1, "batch_size": n, "lr": 0.5,
        "early_stopping": {"metric": "train_loss", "patience": 100}}))
    prepared = prepare_features(s, digits)
    assert prepared.specs == [s] and prepared.bundle is digits
    assert prepared.info["cache"]["source"] == "none"
    ours = train_group(prepared.specs, prepared.bundle, dtype=torch.float64)[0]
    assert ours.best_epoch == 1
    start = build_model(s.model, SHAPE, 10, seed=0)
    ref = build_model(s.model, SHAPE, 10, seed=0).double()
    ref.train()
    x, y = digits.batch("train", torch.arange(n)).double(), digits.train.y
    plain_loop(ref, x, y, 0, 1, n, 0.5)
    for name, value in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict[name], value, rtol=1e-9, atol=1e-12)
    moved = {k for k, v in start.state_dict().items()
             if not torch.equal(v.double(), ours.state_dict[k])}
    assert moved == {"backbone.conv2.weight", "backbone.conv2.bias", "head.fc1.weight",
                     "head.fc1.bias", "head.fc2.weight", "head.fc2.bias"}


def test_the_numpy_engine_trains_heads_on_features_but_does_not_fine_tune(digits, weights):
    _, path = weights
    cfg = config(path, train={"engine": "numpy", "epochs": 1})
    prepared = prepare_features(spec(cfg), digits)
    assert prepared.bundle.input_shape == (24,)
    with pytest.raises(ConfigError, match=r"^train\.engine: numpy trains MLPs on vectors"):
        prepare_features(spec(config(path, finetune=1, train={"engine": "numpy"})), digits)


def test_fine_tuning_models_train_together_as_alone(digits, weights):
    _, path = weights
    cfg = config(path, finetune=2, train={"epochs": 1, "batch_size": 64})
    specs = [spec({**cfg, "train": {**cfg["train"], "seed": s, "lr": lr}})
             for s, lr in ((0, 0.1), (1, 0.05))]
    together = train_group(specs, digits, dtype=torch.float64)
    for s, ours in zip(specs, together, strict=True):
        alone = train_group([s], digits, dtype=torch.float64)[0]
        for name, value in alone.state_dict.items():
            torch.testing.assert_close(ours.state_dict[name], value, rtol=1e-9, atol=1e-12)


def test_a_random_backbone_is_seeded_by_the_trial_and_reported(digits):
    cfg = {"data": DATA, "model": {"features": {"backbone": BACKBONE, "layer": "relu2"},
                                   "head": HEAD}, "train": {"epochs": 1}}
    specs = [spec({**cfg, "train": {"epochs": 1, "seed": s}}) for s in (0, 1)]
    assert group_key(specs[0]) != group_key(specs[1])  # other backbones: other groups
    result = nnstudy.train(specs[0])
    net = build_model(BACKBONE, SHAPE, 10, seed=0)
    x = digits.batch("test", torch.arange(5))
    feats = prepare_features(specs[0], digits).bundle.test.x[:5]
    torch.testing.assert_close(feats, direct(net, x))
    (finding,) = [d for d in result.summary["diagnostics"] if d["code"] == "random_backbone"]
    assert "random (seed 0)" in finding["message"]
    assert result.summary["features"]["weights"] == "random (seed 0)"


def test_a_summary_counts_the_backbone_once_per_example_and_the_head_per_step(
        digits, weights, tmp_path):
    _, path = weights
    result = nnstudy.train(config(path), out=tmp_path / "run")
    summary = result.summary
    info = summary["features"]
    # by hand (docs/counting.md): conv1 4x6x6 outputs x 2n (n = 9), relu1 144,
    # pool1 4x3x3 x (4 - 1), conv2 6x2x2 x 2n (n = 4 x 2 x 2), relu2 24
    per_example = 144 * 18 + 144 + 36 * 3 + 24 * 32 + 24
    assert info["backbone_flops_per_example"] == per_example == 3636
    examples = sum(len(s) for s in digits.splits)
    assert info["backbone_flops"] == per_example * examples
    head = nnstudy.inspect(build_model(HEAD, (24,), 10), (24,))
    head_part = head.training.flops * len(digits.train) * 2
    assert info["head_training_flops"] == head_part
    assert summary["training_flops"] == per_example * examples + head_part
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert written["model"]["features"]["weights"] == str(path)
    assert written["model"]["head"]["mlp"]["hidden"] == [16]
    on_disk = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert on_disk["features"]["cache"]["source"] == "computed"
    head_state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert set(head_state) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}


def test_a_fine_tuning_summary_counts_the_backbone_every_step(digits, weights):
    _, path = weights
    summary = nnstudy.train(config(path, finetune=1, train={"epochs": 1})).summary
    assert summary["features"]["cache"]["source"] == "none"
    assert "backbone_flops" not in summary["features"]
    model = build_model(config(path, finetune=1)["model"], SHAPE, 10)
    step = nnstudy.inspect(model, SHAPE).training.flops
    assert summary["training_flops"] == step * len(digits.train)


def run_cli(args):
    try:
        main(args)
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_cli_refuses_a_misshapen_state_dict_in_one_line_and_writes_nothing(
        weights, tmp_path, capsys):
    net, _ = weights
    state = net.state_dict()
    state["conv2.bias"] = torch.zeros(7)
    del state["conv1.weight"]
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(config(bad)))
    out = tmp_path / "runs" / "r"
    assert run_cli(["train", str(cfg), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "missing keys: conv1.weight" in err
    assert "misshapen keys: conv2.bias (file [7], backbone [6])" in err
    assert not out.exists() and not (tmp_path / "runs").exists()
    assert not (tmp_path / "cache" / "features").exists()


def test_cli_trains_on_a_runs_features_and_the_next_run_reads_them_from_disk(
        tmp_path, capsys):
    backbone_cfg = tmp_path / "backbone.yaml"
    backbone_cfg.write_text(yaml.safe_dump({
        "data": DATA, "model": BACKBONE, "train": {"optimizer": "adam", "lr": 0.01,
                                                   "epochs": 2}}))
    assert run_cli(["train", str(backbone_cfg), "--out", str(tmp_path / "bb"), "-q"]) == 0
    cfg = config("unused", train={"optimizer": "adam", "lr": 0.01, "epochs": 3})
    cfg["model"]["features"]["weights"] = f"run:{tmp_path / 'bb'}"
    path = tmp_path / "head.yaml"
    path.write_text(yaml.safe_dump(cfg))
    sources = []
    for name in ("h1", "h2"):
        clear_memory()  # each CLI call as its own process
        assert run_cli(["train", str(path), "--out", str(tmp_path / name), "-q"]) == 0
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        sources.append(summary["features"]["cache"]["source"])
        assert summary["best"]["test"]["accuracy"] > 0.5
    assert sources == ["computed", "disk"]
    assert (tmp_path / "h1" / "metrics.csv").read_text() == \
        (tmp_path / "h2" / "metrics.csv").read_text()


def test_cli_without_a_network_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    cfg = {"data": DATA, "model": {"features": {"backbone": "alexnet", "layer": "features.8",
                                                "weights": "imagenet"}, "head": HEAD},
           "train": {"epochs": 1}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert run_cli(["train", str(path), "--out", str(tmp_path / "r"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in err
    assert "give weights: PATH" in err
    assert not (tmp_path / "r").exists()


def test_feature_batches_are_large_but_bounded():
    from nnstudy.training.features import MAX_FEATURE_BATCH, feature_batch_size

    class Small:
        backbone_input = (1, 8, 8)

    class Large:
        backbone_input = (3, 224, 224)

    assert feature_batch_size(Small, 4_000) == MAX_FEATURE_BATCH
    per_example = 4 * 3 * 224 * 224 + 3_678_024
    assert feature_batch_size(Large, 3_678_024) == (256 << 20) // per_example == 62
    assert per_example * 62 <= 256 << 20 < per_example * 63


def test_counting_a_fine_tuned_model_on_the_meta_device_checks_the_file_and_warns_nothing(
        weights):
    from nnstudy.models.footprint import parameter_count

    _, path = weights
    model = config(path, finetune=1)["model"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when a state dict is copied into meta
        count = parameter_count(model, SHAPE, 10)
    assert count == sum(p.numel() for p in build_model(model, SHAPE, 10).parameters())
