"""DataBundle.batch (the trainer's hot path), augmentation, and load_data's splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnstudy
from nnstudy.data import DataBundle, load_data
from nnstudy.data.augment import hflip, random_crop
from nnstudy.errors import ConfigError


def test_digits_works_offline_with_a_seeded_stratified_test_split(monkeypatch):
    import urllib.request

    monkeypatch.setattr(urllib.request, "urlopen", None)  # any network use would fail
    bundle = nnstudy.load_data("digits")
    assert isinstance(bundle, DataBundle)
    assert len(bundle.train) + len(bundle.valid) + len(bundle.test) == 1797
    assert len(bundle.test) == round(0.2 * 1797)
    assert bundle.train.x.dtype == torch.float32
    assert bundle.train.x.min() >= 0.0 and bundle.train.x.max() <= 1.0
    assert float((bundle.train.x * 16).frac().abs().max()) < 1e-5  # x = value / 16
    other = load_data({"split_seed": 5})
    assert torch.equal(bundle.test.y, other.test.y) and torch.equal(bundle.test.x, other.test.x)
    assert not torch.equal(bundle.valid.x, other.valid.x)


def test_batch_gathers_any_index_shape_and_scales_uint8_by_1_over_255(mnist_dir):
    bundle = load_data({"name": "mnist", "root": str(mnist_dir())})
    idx = torch.tensor([[0, 5, 7], [3, 3, 1]])
    x = bundle.batch("train", idx)
    assert x.shape == (2, 3, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x[1, 0], bundle.train.x[3].float() / 255)
    assert torch.equal(bundle.batch(bundle.test, torch.tensor(4)), bundle.test.x[4].float() / 255)


def test_batch_returns_the_transforms_applied_once_at_load(mnist_dir):
    root = str(mnist_dir())
    spec = {
        "name": "mnist",
        "root": root,
        "transforms": [{"resize": 16}, {"normalize": "auto"}, "flatten"],
    }
    bundle = load_data(spec)
    assert bundle.input_shape == (256,)
    assert bundle.train.prepared.shape[1:] == (1, 16, 16)  # image form kept; flatten per batch
    x = bundle.batch("valid", torch.arange(len(bundle.valid)).view(2, -1))
    assert x.shape == (2, len(bundle.valid) // 2, 256)
    train = bundle.batch("train", torch.arange(len(bundle.train)))
    assert abs(train.mean().item()) < 1e-5 and train.std(unbiased=False).item() == pytest.approx(
        1, abs=1e-4
    )
    (normalize,) = [s for s in bundle.spec.transforms if s.kind == "normalize"]
    assert not normalize.auto and len(normalize.mean) == 1
    again = load_data(bundle.spec)  # the resolved spec loads the same data
    assert torch.allclose(
        again.batch("test", torch.arange(5)), bundle.batch("test", torch.arange(5))
    )


def test_training_batches_are_augmented_reproducibly_and_evaluation_batches_are_not(mnist_dir):
    spec = {
        "name": "mnist",
        "root": str(mnist_dir()),
        "transforms": [{"normalize": {"mean": [0.5], "std": [0.25]}}],
        "augment": [{"random_crop": {"size": 28, "padding": 4}}, "hflip"],
    }
    bundle = load_data(spec)
    idx = torch.arange(32).view(4, 8)
    plain = bundle.batch("train", idx)
    a = bundle.batch("train", idx, train=True, generator=torch.Generator().manual_seed(1))
    b = bundle.batch("train", idx, train=True, generator=torch.Generator().manual_seed(1))
    c = bundle.batch("train", idx, train=True, generator=torch.Generator().manual_seed(2))
    assert a.shape == plain.shape == (4, 8, 1, 28, 28)
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, plain)
    assert torch.equal(plain, (bundle.train.x[idx].float() / 255 - 0.5) / 0.25)
    # Padding is black as torchvision has it (pad before Normalize): (0 - 0.5) / 0.25 = -2.
    assert bundle.augmenter.fill.tolist() == [-2.0]
    assert a.min().item() == -2.0


def test_random_crop_takes_windows_of_the_padded_image():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).view(2, 1, 4, 4)
    gen = torch.Generator().manual_seed(0)
    out = random_crop(x, (3, 3), 1, torch.tensor([-1.0]), gen)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), value=-1.0)
    for i in range(2):
        windows = [padded[i, :, r : r + 3, c : c + 3] for r in range(4) for c in range(4)]
        assert any(torch.equal(out[i], w) for w in windows)
    centre = random_crop(x, (2, 2), 0, torch.tensor([0.0]), centre=True)
    assert torch.equal(centre, x[:, :, 1:3, 1:3])


def test_random_crop_offsets_cover_every_position():
    x = torch.zeros(4000, 1, 3, 3)
    x[:, :, 0, 0] = 1.0
    out = random_crop(x, (3, 3), 1, torch.tensor([0.0]), torch.Generator().manual_seed(0))
    where = out[:, 0].reshape(4000, 9).argmax(1)
    assert set(where.tolist()) == {0, 1, 3, 4}  # the marked pixel lands at 4 places


def test_hflip_probability_zero_one_and_a_half():
    x = torch.arange(6.0).view(1, 1, 2, 3).expand(1000, 1, 2, 3)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(hflip(x, 1.0, gen), x.flip(-1))
    assert torch.equal(hflip(x, 0.0, gen), x)
    flipped = (hflip(x, 0.5, gen)[:, 0, 0, 0] == 2).float().mean().item()
    assert 0.45 < flipped < 0.55


def test_a_crop_smaller_than_the_image_changes_the_input_shape_and_centres_evaluation(mnist_dir):
    spec = {
        "name": "mnist",
        "root": str(mnist_dir()),
        "augment": [{"random_crop": 24}],
        "transforms": ["flatten"],
    }
    bundle = load_data(spec)
    assert bundle.input_shape == (24 * 24,)
    x = bundle.batch("test", torch.tensor([0]))
    expected = bundle.test.x[0, :, 2:26, 2:26].float().div(255).reshape(1, -1)
    assert torch.equal(x, expected)
    assert bundle.batch("train", torch.tensor([0, 1]), train=True).shape == (2, 576)
    with pytest.raises(
        ConfigError,
        match=r"data\.augment\[0\]\.random_crop\.size: 40x40 does "
        r"not fit in 28x28 images padded by 0",
    ):
        load_data({**spec, "augment": [{"random_crop": 40}]})


def test_blur_kernel_too_large_for_the_images_is_a_config_error():
    with pytest.raises(
        ConfigError,
        match=r"^data\.transforms\[0\]\.gaussian_blur\.kernel: 17 is "
        r"too large for 8x8 images",
    ):
        load_data({"transforms": [{"gaussian_blur": 17}]})


def test_bundle_reports_counts_classes_and_moves_to_a_device():
    bundle = load_data("digits")
    counts = bundle.counts
    assert set(counts) == {"train", "valid", "test"} and bundle.num_classes == 10
    assert sum(map(sum, counts.values())) == 1797
    assert np.all(np.array(counts["test"]) >= 35)
    moved = bundle.to("cpu")
    assert torch.equal(
        moved.batch("valid", torch.arange(3)), bundle.batch("valid", torch.arange(3))
    )
    with pytest.raises(KeyError):
        bundle.batch("validation", torch.arange(3))


def all_inputs(bundle: DataBundle) -> dict[str, torch.Tensor]:
    return {s.name: bundle.batch(s, torch.arange(len(s))) for s in bundle.splits}


def test_with_inputs_keeps_labels_and_classes_and_batches_rows_of_the_given_features(mnist_dir):
    bundle = load_data({"name": "mnist", "root": str(mnist_dir()), "classes": [7, 2]})
    features = {s.name: torch.randn(len(s), 4, 3, 3, dtype=torch.float64) for s in bundle.splits}
    on = bundle.with_inputs(features, origin="features of a test backbone")
    assert on.input_shape == (36,) and on.classes == ["7", "2"]
    assert on.counts == bundle.counts and on.origin == "features of a test backbone"
    for s in on.splits:
        assert torch.equal(s.y, bundle.split(s.name).y)
        assert s.prepared.dtype == torch.float32 and s.prepared.shape == (len(s), 36)
    idx = torch.tensor([[3, 0], [1, 1]])
    x = on.batch("valid", idx)
    assert x.shape == (2, 2, 36)
    assert torch.equal(x[0, 0], features["valid"][3].reshape(36).float())
    assert "input shape: (36,)" in str(on.describe())


def test_with_inputs_refuses_augmentation_and_inputs_that_do_not_match_the_splits(mnist_dir):
    root = str(mnist_dir())
    augmented = load_data({"name": "mnist", "root": root, "augment": ["hflip"]})
    with pytest.raises(ConfigError, match=r"^data\.augment: hflip cannot apply to inputs"):
        augmented.with_inputs(all_inputs(augmented))
    bundle = load_data({"name": "mnist", "root": root})
    inputs = all_inputs(bundle)
    with pytest.raises(ValueError, match=r"no inputs for split test"):
        bundle.with_inputs({"train": inputs["train"], "valid": inputs["valid"]})
    with pytest.raises(ValueError, match=r"valid has 20 samples, its inputs \[19, 1, 28, 28\]"):
        bundle.with_inputs({**inputs, "valid": inputs["valid"][1:]})
    with pytest.raises(ValueError, match=r"test inputs have 10 values, train 784"):
        bundle.with_inputs({**inputs, "test": torch.zeros(len(bundle.test), 10)})


def test_the_trainer_trains_on_inputs_given_as_features_exactly_as_on_the_pixels():
    from nnstudy.config.run import RunSpec
    from nnstudy.training.trainer import train_group

    flat = load_data({"name": "digits", "transforms": ["flatten"]})
    images = load_data({"name": "digits"})
    given = images.with_inputs(all_inputs(images))  # the pixels, as if a backbone made them
    assert given.input_shape == flat.input_shape == (64,)
    spec = RunSpec.model_validate(
        {
            "data": {"name": "digits"},
            "model": {"mlp": {"hidden": [16]}},
            "train": {"epochs": 3, "batch_size": 32, "seed": 4, "lr": 0.1},
        }
    )
    on_pixels = train_group([spec], flat, dtype=torch.float64)[0]
    on_given = train_group([spec], given, dtype=torch.float64)[0]
    assert on_given.history == on_pixels.history
    for name, value in on_pixels.state_dict.items():
        assert torch.equal(on_given.state_dict[name], value)


def test_fingerprint_changes_with_the_data_and_not_with_where_it_was_read(mnist_dir):
    first = load_data({"name": "mnist", "root": str(mnist_dir(name="a"))})
    copy = load_data({"name": "mnist", "root": str(mnist_dir(name="b"))})  # same bytes
    assert first.fingerprint() == copy.fingerprint()
    assert len(first.fingerprint()) == 64
    root = str(mnist_dir(name="c"))
    others = [
        load_data({"name": "mnist", "root": root, "split_seed": 1}),
        load_data({"name": "mnist", "root": root, "classes": [0, 1]}),
        load_data({"name": "mnist", "root": root, "max_per_class": 5}),
        load_data({"name": "mnist", "root": root, "transforms": [{"pad": 1}]}),
        load_data({"name": "mnist", "root": root, "augment": [{"random_crop": 24}]}),
        load_data({"name": "mnist", "root": str(mnist_dir(n_test=40, name="d"))}),
    ]
    prints = {first.fingerprint(), *(b.fingerprint() for b in others)}
    assert len(prints) == 1 + len(others)
    relabelled = load_data({"name": "mnist", "root": root})
    relabelled.classes = [f"digit {c}" for c in range(10)]
    assert relabelled.fingerprint() != first.fingerprint()


def test_digits_are_read_from_scikit_learns_file_as_load_digits_reads_them():
    """Without importing scikit-learn (a worker's start-up); equal to load_digits itself."""
    import subprocess
    import sys

    import numpy as np
    from sklearn.datasets import load_digits

    from nnstudy.data.digits import _digits_arrays

    images, target = _digits_arrays()
    reference = load_digits()
    assert np.array_equal(images, reference.images) and images.dtype == reference.images.dtype
    assert np.array_equal(target, reference.target) and target.dtype == np.int64
    code = ("import sys; from nnstudy.data.digits import _digits_arrays; _digits_arrays(); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
