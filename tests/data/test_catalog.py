"""The catalog is the one home of the data sets: every entry is well formed and usable."""

from __future__ import annotations

import dataclasses

import pytest

from nnstudy.config.data import DataSpec, parse_data_spec
from nnstudy.config.datasets import CATALOG, IDX_FILES, idx_dataset
from nnstudy.data import load_data
from nnstudy.data.load import READERS
from nnstudy.data.unpack import UNPACKERS

ENTRIES = list(CATALOG.values())


@pytest.mark.parametrize("dataset", ENTRIES, ids=[d.name for d in ENTRIES])
def test_every_entry_names_a_reader_an_unpack_hook_and_keys_that_exist(dataset):
    assert CATALOG[dataset.name] is dataset
    assert dataset.reader in READERS
    assert dataset.location is None or dataset.location.key in DataSpec.model_fields
    assert all(option in DataSpec.model_fields for option in dataset.options)
    assert len(set(dataset.classes)) == len(dataset.classes)
    if dataset.download is not None:
        assert dataset.download.unpack is None or dataset.download.unpack in UNPACKERS
        assert dataset.location is not None and not dataset.location.required
        assert dataset.download.mirrors and all(
            m.startswith(("http://", "https://")) for m in dataset.download.mirrors
        )
        for file in dataset.download.files:
            assert len(file.sha256) == 64 and int(file.sha256, 16) >= 0
    if dataset.reader == "idx":
        assert dataset.download is not None
        assert [f.name for f in dataset.download.files] == list(IDX_FILES)


def test_the_config_knows_exactly_the_catalog_names():
    for name in CATALOG:
        location = CATALOG[name].location
        extra = {location.key: "x"} if location is not None and location.required else {}
        assert parse_data_spec({"name": name, **extra}).dataset is CATALOG[name]


def test_an_entry_added_to_the_catalog_is_a_data_name_with_its_classes(mnist_dir, monkeypatch):
    letters = tuple("abcdefghij")
    entry = idx_dataset(
        "letters",
        "ten letters",
        ("https://example.org/",),
        dict.fromkeys(IDX_FILES, "0" * 64),
        letters,
        "",
    )
    monkeypatch.setitem(CATALOG, "letters", entry)
    bundle = load_data({"name": "letters", "root": str(mnist_dir())}, progress=False)
    assert bundle.classes == list(letters) and bundle.input_shape == (1, 28, 28)
    with pytest.raises(ValueError, match=r"letters: sha256 must name exactly the files"):
        idx_dataset("letters", "", (), {IDX_FILES[0]: "0" * 64}, letters, "")


def test_fractions_are_refused_exactly_for_data_sets_with_their_own_test_split():
    for dataset in ENTRIES:
        location = dataset.location
        raw = {"name": dataset.name, "fractions": {"train": 0.8, "test": 0.2}}
        if location is not None and location.required:
            raw[location.key] = "x"
        if dataset.own_test:
            with pytest.raises(Exception, match="has a test split of its own"):
                parse_data_spec(raw)
        else:
            assert parse_data_spec(raw).fractions is not None


def test_replacing_an_entry_changes_what_the_name_means(monkeypatch):
    renamed = dataclasses.replace(CATALOG["digits"], classes=tuple("ABCDEFGHIJ"))
    monkeypatch.setitem(CATALOG, "digits", renamed)
    assert load_data("digits").classes == list("ABCDEFGHIJ")
