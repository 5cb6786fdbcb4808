"""YAML loading: safe, and every bad file is one ConfigError naming it."""

import pytest

from nnstudy.config.loading import load_yaml, parse_override
from nnstudy.errors import ConfigError


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "null\n", "~\n"])
def test_an_empty_or_null_file_is_refused_by_name(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"run\.yaml: the file is empty"):
        load_yaml(path)


@pytest.mark.parametrize(("text", "key", "line"), [
    ("train: {epochs: 1, epochs: 2}\n", "epochs", 1),
    ("data:\n  name: digits\ndata:\n  name: mnist\n", "data", 3),
    ("a:\n  b:\n    c: 1\n    c: 2\n", "c", 4),
])
def test_a_key_written_twice_is_refused_with_its_line(tmp_path, text, key, line):
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"dup\.yaml: line {line}: .*'{key}' is written twice"):
        load_yaml(path)


def test_equal_keys_in_different_mappings_are_fine(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("a: {x: 1}\nb: {x: 2}\nlist: [{x: 1}, {x: 2}]\n")
    assert load_yaml(path) == {"a": {"x": 1}, "b": {"x": 2}, "list": [{"x": 1}, {"x": 2}]}


def test_merge_keys_still_work(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n")
    assert load_yaml(path)["derived"] == {"x": 1, "y": 3}


def test_tags_that_build_objects_are_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_yaml(path)


def test_a_directory_or_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_yaml(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="a directory"):
        load_yaml(tmp_path)


def test_override_values_are_yaml():
    assert parse_override("train.lr=0.01") == ("train.lr", 0.01)
    assert parse_override("grid.train.lr=[0.1, 0.01]") == ("grid.train.lr", [0.1, 0.01])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("train.lr")


@pytest.mark.parametrize(("config", "key", "got"), [
    ({"data": {"name": "digits"}, "model": "mlp", "train": None}, "train", "null"),
    ({"data": 5, "model": "mlp"}, "data", "5"),
    ({"data": {"name": "digits"}, "model": "mlp", "train": {"early_stopping": [1]}},
     "train.early_stopping", "[1]"),
])
def test_a_block_that_is_not_a_mapping_is_named_without_class_names(config, key, got):
    from nnstudy.config.loading import validate
    from nnstudy.config.run import RunSpec

    with pytest.raises(ConfigError) as info:
        validate(RunSpec, config)
    assert str(info.value) == (f"{key}: expected a mapping of keys to values "
                               f"(`{{key: value, ...}}` or indented `key: value` lines) "
                               f"(got {got})")
