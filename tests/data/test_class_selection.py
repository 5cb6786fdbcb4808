"""`classes` and `max_per_class` in the data block: which samples each split keeps, checked
against the same data set loaded whole and filtered here by hand."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from nnstudy.config.data import parse_data_spec
from nnstudy.data import load_data
from nnstudy.data.splits import per_class_subset
from nnstudy.errors import ConfigError


def keep_and_relabel(x: torch.Tensor, y: torch.Tensor, chosen: list[int]):
    """The rows of (x, y) whose label is in `chosen`, in order, labelled by place in `chosen`."""
    mask = torch.isin(y, torch.tensor(chosen))
    new = torch.tensor([chosen.index(int(v)) for v in y[mask]], dtype=torch.int64)
    return x[mask], new


def row_ids(x: torch.Tensor) -> list[str]:
    """A digest per sample, to compare splits as sets of images."""
    return [hashlib.sha1(row.numpy().tobytes()).hexdigest() for row in x]


def expected_stratified_counts(sizes: list[int], fraction: float) -> list[int]:
    """floor(f n_c) per class, the remainders (largest first) topping up to round(f N)."""
    exact = [fraction * n for n in sizes]
    take = [int(np.floor(e)) for e in exact]
    short = round(fraction * sum(sizes)) - sum(take)
    order = sorted(range(len(sizes)), key=lambda c: (-(exact[c] - take[c]), c))
    for c in order[:short]:
        take[c] += 1
    return take


def test_classes_keep_the_test_images_of_those_classes_relabelled_in_the_order_given():
    whole = load_data({"name": "digits", "valid_fraction": 0.0})
    part = load_data({"name": "digits", "valid_fraction": 0.0, "classes": [9, 2, "4"]})
    assert part.classes == ["9", "2", "4"] and part.num_classes == 3
    for split in ("train", "test"):
        x, y = keep_and_relabel(whole.split(split).x, whole.split(split).y, [9, 2, 4])
        assert torch.equal(part.split(split).x, x)
        assert torch.equal(part.split(split).y, y)
    # The test split is the data set's (drawn from all classes with seed 0), then filtered.
    assert "the test split was drawn from all classes first" in part.provenance["classes"]


def test_validation_is_drawn_after_the_selection_so_it_is_stratified_over_the_kept_classes():
    part = load_data({"name": "digits", "valid_fraction": 0.2, "classes": [5, 6, 7, 8, 9]})
    pool = [a + b for a, b in zip(part.counts["train"], part.counts["valid"], strict=True)]
    assert part.counts["valid"] == expected_stratified_counts(pool, 0.2)
    whole = load_data({"name": "digits", "valid_fraction": 0.0})
    x, _ = keep_and_relabel(whole.train.x, whole.train.y, [5, 6, 7, 8, 9])
    assert sorted(row_ids(torch.cat([part.train.x, part.valid.x]))) == sorted(row_ids(x))


def test_class_names_select_from_a_catalog_data_set_and_follow_as_names(mnist_dir):
    root = mnist_dir()
    bundle = load_data({"name": "fashion_mnist", "root": str(root), "classes": ["Bag", 7]})
    assert bundle.classes == ["Bag", "Sneaker"]
    whole = load_data({"name": "fashion_mnist", "root": str(root)})
    x, y = keep_and_relabel(whole.test.x, whole.test.y, [8, 7])
    assert torch.equal(bundle.test.x, x) and torch.equal(bundle.test.y, y)
    assert bundle.counts["test"] == [5, 5]


def test_folder_classes_are_checked_when_the_folder_names_them(image_folder):
    root = image_folder(classes=("cat", "dog", "fox"))
    bundle = load_data({"name": "folder", "root": str(root), "classes": ["fox", "cat"]})
    assert bundle.classes == ["fox", "cat"]
    assert bundle.counts == {"train": [4, 4], "valid": [4, 4], "test": [4, 4]}
    with pytest.raises(ConfigError) as err:
        load_data({"name": "folder", "root": str(root), "classes": ["cow"]})
    assert str(err.value) == (
        f"data.classes: unknown class 'cow'; {root} has classes 0..2: cat, dog, fox"
    )


def npz_with_classes(path: Path, train_labels: list[int], test_labels: list[int]) -> Path:
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x=rng.random((len(train_labels), 4)).astype(np.float32),
        y=np.array(train_labels),
        x_test=rng.random((len(test_labels), 4)).astype(np.float32),
        y_test=np.array(test_labels),
        classes=np.array(["a", "b", "c", "d"]),
    )
    return path


def test_a_chosen_class_without_training_samples_is_one_config_error(tmp_path):
    path = npz_with_classes(tmp_path / "gap.npz", [0, 1, 3] * 10, [0, 1, 2, 3])
    with pytest.raises(ConfigError) as err:
        load_data({"name": "npz", "path": str(path), "classes": ["d", "c"]})
    assert str(err.value) == (
        f"data.classes: class 'c' (label 2) has no training samples in {path}"
    )
    # Samples in a validation split of the data set's own do not make up for none in train.
    path = tmp_path / "valid.npz"
    np.savez(
        path,
        x=np.zeros((6, 2), np.float32),
        y=np.array([0, 1, 3, 0, 1, 3]),
        x_valid=np.zeros((4, 2), np.float32),
        y_valid=np.array([0, 1, 2, 3]),
        classes=np.array(["a", "b", "c", "d"]),
    )
    with pytest.raises(ConfigError, match=r"^data.classes: class 'c' \(label 2\) has no training"):
        load_data({"name": "npz", "path": str(path), "classes": ["c", "a"]})
    with pytest.raises(ConfigError, match=r"^data.classes: the test split of .* has no samples"):
        path = npz_with_classes(tmp_path / "notest.npz", [0, 1, 2, 3] * 5, [0, 1])
        load_data({"name": "npz", "path": str(path), "classes": ["c", "d"]})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"classes": []}, "data.classes: is empty; give the classes to keep, e.g. [5, 6, 7, 8, 9]"),
        ({"classes": 5}, "data.classes: expected a list of class indices or names"),
        ({"classes": [5, 6, 5]}, "data.classes: class 5 is given twice"),
        (
            {"classes": [5, "5"]},
            "data.classes: class '5' is given twice (5 and '5' are both class 5)",
        ),
        (
            {"classes": [3, 10]},
            "data.classes: no class 10; digits has classes 0..9: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9",
        ),
        ({"classes": [-1]}, "data.classes: [0] is -1; a class is a label index"),
        ({"classes": [True]}, "data.classes: [0] is True; a class is a label index"),
        (
            {"name": "kmnist", "classes": ["na", "ka"]},
            "data.classes: unknown class 'ka'; kmnist has classes 0..9: o, ki, su, tsu, na, ha,",
        ),
        ({"max_per_class": 0}, "data.max_per_class: Input should be greater than or equal to 1"),
        ({"max_per_class": 2.5}, "data.max_per_class: Input should be a valid integer"),
        ({"split_seed": -1}, "data.split_seed: Input should be greater than or equal to 0"),
    ],
)
def test_bad_classes_and_max_per_class_are_one_error_naming_the_key(data, message):
    with pytest.raises(ConfigError) as err:
        parse_data_spec(data)
    assert str(err.value).startswith(message)


def test_max_per_class_caps_train_after_valid_is_drawn_and_leaves_valid_and_test_alone(
    mnist_dir,
):
    root = str(mnist_dir(n_train=400))  # 40 per class
    spec = {"name": "mnist", "root": root, "valid_fraction": 0.25}
    whole = load_data(spec)
    capped = load_data({**spec, "max_per_class": 12})
    assert torch.equal(capped.valid.x, whole.valid.x) and torch.equal(capped.test.x, whole.test.x)
    assert capped.counts["train"] == [12] * 10 and whole.counts["train"] == [30] * 10
    # The kept samples are among the uncapped training samples, in the data set's order.
    position = {rid: i for i, rid in enumerate(row_ids(whole.train.x))}
    places = [position[rid] for rid in row_ids(capped.train.x)]
    assert places == sorted(places)
    assert torch.equal(capped.train.y, whole.train.y[places])
    assert (
        "at most 12 per class (max_per_class, split_seed 0): 120 of 300"
        in (capped.provenance["train"])
    )


def test_max_per_class_subsets_are_nested_deterministic_and_drawn_by_split_seed(mnist_dir):
    spec = {"name": "mnist", "root": str(mnist_dir(n_train=400))}
    small = set(row_ids(load_data({**spec, "max_per_class": 5}).train.x))
    large = set(row_ids(load_data({**spec, "max_per_class": 20}).train.x))
    again = set(row_ids(load_data({**spec, "max_per_class": 5}).train.x))
    other = set(row_ids(load_data({**spec, "max_per_class": 5, "split_seed": 1}).train.x))
    assert len(small) == 50 and len(large) == 200
    assert small < large and small == again and small != other


def test_max_per_class_above_a_class_size_keeps_the_whole_class(mnist_dir):
    spec = {"name": "mnist", "root": str(mnist_dir()), "classes": [3, 1]}
    whole = load_data(spec)
    capped = load_data({**spec, "max_per_class": 1000})
    assert torch.equal(capped.train.x, whole.train.x) and capped.counts["train"] == [18, 18]


def test_per_class_subset_keeps_at_most_the_limit_per_class_and_grows_by_adding():
    labels = np.array([2, 0, 1, 2, 2, 0, 1, 2, 0, 2, 2])
    subsets = [per_class_subset(labels, limit, seed=3) for limit in (1, 2, 3, 10)]
    for limit, kept in zip((1, 2, 3, 10), subsets, strict=True):
        assert list(kept) == sorted(kept)
        counts = np.bincount(labels[kept], minlength=3)
        assert list(counts) == [min(limit, n) for n in np.bincount(labels)]
    for smaller, larger in itertools.pairwise(subsets):
        assert set(smaller) <= set(larger)
    assert list(subsets[-1]) == list(range(len(labels)))
    draws = {tuple(per_class_subset(labels, 2, seed)) for seed in range(20)}
    assert len(draws) > 1  # the seed chooses which samples


def test_spec_with_classes_round_trips_and_is_described(mnist_dir):
    spec = parse_data_spec({"name": "mnist", "classes": [5, "6"], "max_per_class": 50})
    assert spec.to_config() == {"name": "mnist", "classes": [5, "6"], "max_per_class": 50}
    assert parse_data_spec(spec.to_config()) == spec
    bundle = load_data({"name": "mnist", "root": str(mnist_dir()), "classes": [5, 6]})
    text = str(bundle.describe())
    assert "classes: 2 (5, 6)" in text
    assert "chosen: 2 of 10 (5, 6; data.classes), relabelled 0..1 in that order" in text
