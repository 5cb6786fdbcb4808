"""The feature cache: memory, then disk, then compute; keys, corruption, and the memory check.

Each test counts the calls of its own compute function: a hit must not call it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from nnstudy.config.data import parse_data_spec
from nnstudy.data.atomic import STALE_AFTER
from nnstudy.data.feature_cache import (
    CACHE_VERSION,
    FeatureCacheWarning,
    FeaturesTooLargeError,
    cached_features,
    canonical_key,
    clear_memory,
    feature_bytes,
    feature_cache_dir,
    key_digest,
    state_dict_sha256,
    tensor_sha256,
)
from nnstudy.data.memory import AvailableMemory, format_bytes

PLENTY = AvailableMemory(1 << 40, "test: plenty")


@pytest.fixture(autouse=True)
def empty_memory():
    """Each test starts as a fresh process would: nothing in memory."""
    clear_memory()
    yield
    clear_memory()


class Counter:
    """A compute function that makes per-split features and counts its calls."""

    def __init__(self, seed: int = 0) -> None:
        self.calls = 0
        self.seed = seed

    def __call__(self) -> dict[str, torch.Tensor]:
        self.calls += 1
        g = torch.Generator().manual_seed(self.seed)
        return {
            "train": torch.randn(30, 8, generator=g),
            "valid": torch.randn(5, 8, generator=g),
            "test": torch.randn(10, 8, generator=g),
        }


def key(**changes):
    base = {
        "weights": "ab" * 32,
        "layer": "features.8",
        "data": parse_data_spec({"name": "mnist", "classes": [5, 6]}),
        "preprocess": ["to_rgb", {"resize": [224, 224]}, {"normalize": "imagenet"}],
    }
    return {**base, **changes}


def get(k, compute, **kwargs):
    kwargs.setdefault("expected_bytes", feature_bytes(45, (8,), torch.float32))
    kwargs.setdefault("memory", PLENTY)
    return cached_features(k, compute, **kwargs)


def test_a_second_call_is_served_from_memory_with_the_same_tensors():
    compute = Counter()
    first = get(key(), compute)
    second = get(key(), compute)
    assert compute.calls == 1
    assert (first.source, second.source) == ("computed", "memory")
    assert all(second.tensors[s] is first.tensors[s] for s in first.tensors)
    for split, t in Counter()().items():
        assert torch.equal(first.tensors[split], t)
    assert first.nbytes == feature_bytes(45, (8,), torch.float32) == 45 * 8 * 4


def test_a_fresh_process_reads_the_file_written_under_the_keys_digest(cache):
    compute = Counter()
    first = get(key(), compute)
    path = cache / "features" / f"{key_digest(key())}.pt"
    assert first.path == path and path.is_file() and feature_cache_dir() == cache / "features"
    clear_memory()
    again = get(key(), compute)
    assert compute.calls == 1 and again.source == "disk"
    for split in first.tensors:
        assert torch.equal(again.tensors[split], first.tensors[split])


@pytest.mark.slow
def test_another_python_process_hits_the_disk_cache_without_computing(cache):
    get(key(layer="features.5"), Counter())
    script = (
        "import torch\n"
        "from nnstudy.config.data import parse_data_spec\n"
        "from nnstudy.data.feature_cache import cached_features\n"
        "k = {'weights': 'ab' * 32, 'layer': 'features.5',\n"
        "     'data': parse_data_spec({'name': 'mnist', 'classes': [5, 6]}),\n"
        "     'preprocess': ['to_rgb', {'resize': [224, 224]}, {'normalize': 'imagenet'}]}\n"
        "def compute():\n"
        "    raise SystemExit('computed: the cache was missed')\n"
        "hit = cached_features(k, compute, expected_bytes=1440)\n"
        "print(hit.source, tuple(hit.tensors['train'].shape))\n"
    )
    env = {**os.environ, "NNSTUDY_DATA_DIR": str(cache)}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "disk (30, 8)"


@pytest.mark.parametrize(
    "change",
    [
        {"weights": "cd" * 32},
        {"layer": "features.10"},
        {"data": parse_data_spec({"name": "mnist", "classes": [5, 7]})},
        {"preprocess": ["to_rgb", {"resize": [227, 227]}, {"normalize": "imagenet"}]},
    ],
)
def test_a_change_of_any_part_of_the_key_misses(change):
    compute = Counter()
    get(key(), compute)
    other = get(key(**change), compute)
    assert compute.calls == 2 and other.source == "computed"
    assert other.digest != key_digest(key())
    clear_memory()
    assert get(key(), compute).source == "disk" and get(key(**change), compute).source == "disk"
    assert compute.calls == 2


def test_the_digest_is_the_sha256_of_the_canonical_json_whatever_the_dict_order():
    a = {"layer": "x", "weights": "w", "data": {"b": 1, "a": [1, 2]}}
    b = {"data": {"a": (1, 2), "b": 1}, "weights": "w", "layer": "x"}
    assert canonical_key(a) == canonical_key(b)
    expected = (
        f'{{"cache_version":{CACHE_VERSION},"key":{{"data":{{"a":[1,2],"b":1}},"layer":"x",'
        '"weights":"w"}}'
    )
    assert canonical_key(a) == expected
    assert key_digest(a) == hashlib.sha256(expected.encode()).hexdigest()
    spec = parse_data_spec({"name": "folder", "root": Path("faces")})
    assert '"root":"faces"' in canonical_key({"data": spec})
    with pytest.raises(TypeError, match=r"feature cache key: .* has no JSON form"):
        canonical_key({"model": object()})


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        lambda p: p.write_bytes(os.urandom(4096)),
        lambda p: p.write_bytes(b""),
    ],
    ids=["truncated", "garbage", "empty"],
)
def test_a_damaged_cache_file_is_recomputed_with_a_warning_and_replaced(damage):
    compute = Counter()
    first = get(key(), compute)
    damage(first.path)
    clear_memory()
    with pytest.warns(FeatureCacheWarning, match=r"unreadable .*; recomputed"):
        again = get(key(), compute)
    assert compute.calls == 2 and again.source == "computed"
    assert "recomputed" in again.notes[0]
    clear_memory()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get(key(), compute).source == "disk"  # the file was written anew


def test_a_file_holding_another_key_or_altered_values_is_never_used():
    compute = Counter()
    first = get(key(), compute)
    other = get(key(layer="other"), Counter(seed=1))
    os.replace(other.path, first.path)  # a file under the wrong name
    clear_memory()
    with pytest.warns(FeatureCacheWarning, match=r"holds another key; recomputed"):
        assert get(key(), compute).source == "computed"
    record = torch.load(first.path, weights_only=True)
    record["tensors"]["test"][3, 2] += 1.0  # one value changed; shapes and dtypes still match
    torch.save(record, first.path)
    clear_memory()
    with pytest.warns(FeatureCacheWarning, match=r"'test' does not have its recorded sha256"):
        again = get(key(), compute)
    assert compute.calls == 3
    assert torch.equal(again.tensors["test"], Counter()()["test"])


def test_features_that_would_not_fit_are_refused_before_computing_naming_both_sizes(cache):
    compute = Counter()
    with pytest.raises(FeaturesTooLargeError) as err:
        get(
            key(),
            compute,
            expected_bytes=3 * 2**30,
            memory=AvailableMemory(2**30, "MemAvailable in /proc/meminfo"),
            what="features of alexnet features.8",
        )
    assert str(err.value).startswith(
        "features of alexnet features.8: need 3 GiB (3,221,225,472 bytes) in memory, and "
        "1 GiB (1,073,741,824 bytes) is available (MemAvailable in /proc/meminfo); "
    )
    assert compute.calls == 0 and not (cache / "features").exists()


def test_the_real_memory_check_refuses_a_huge_expected_size():
    compute = Counter()
    huge = feature_bytes(10**9, (256, 13, 13), torch.float32)  # a billion AlexNet conv4 maps
    with pytest.raises(FeaturesTooLargeError) as err:
        cached_features(key(), compute, expected_bytes=huge)
    assert f"need {format_bytes(huge)} ({huge:,} bytes) in memory, and " in str(err.value)
    assert compute.calls == 0


def test_memory_that_cannot_be_told_is_said_and_not_checked():
    compute = Counter()
    with pytest.warns(FeatureCacheWarning, match=r"cannot be told here \(no way\)"):
        got = get(key(), compute, memory=AvailableMemory(None, "no way"))
    assert got.source == "computed"


def test_a_cache_that_cannot_be_written_keeps_the_features_in_memory(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    compute = Counter()
    with pytest.warns(FeatureCacheWarning, match=r"not written .*; kept in memory only"):
        got = get(key(), compute, directory=blocker / "features")
    assert got.source == "computed" and "kept in memory only" in got.notes[0]
    assert get(key(), compute, directory=blocker / "features").source == "memory"
    assert compute.calls == 1


def test_writing_removes_stale_temporary_files_of_killed_writers(cache):
    folder = cache / "features"
    folder.mkdir(parents=True)
    stale = folder / f".{'0' * 64}.pt.otherhost-12345.abcdefgh.part"
    stale.write_bytes(b"half a file")
    old = time.time() - STALE_AFTER - 60
    os.utime(stale, (old, old))
    get(key(), Counter())
    assert not stale.exists()
    assert [p.suffix for p in folder.iterdir()] == [".pt"]


def test_views_of_a_larger_buffer_are_stored_as_their_own_values():
    whole = torch.arange(100_000.0)
    got = get(key(), lambda: {"train": whole[:10], "test": whole[-10:]}, expected_bytes=80)
    assert got.path.stat().st_size < 20_000  # not the 400,000 bytes of the buffer
    assert torch.equal(got.tensors["test"], whole[-10:])
    assert got.tensors["test"].untyped_storage().nbytes() == 40


def test_state_dict_sha256_depends_on_names_and_values_not_on_order_or_file():
    a = {"0.weight": torch.ones(2, 3), "0.bias": torch.zeros(2)}
    b = {"0.bias": torch.zeros(2), "0.weight": torch.ones(2, 3)}
    assert state_dict_sha256(a) == state_dict_sha256(b)
    changed = {**a, "0.bias": torch.tensor([0.0, 1e-7])}
    renamed = {"1.weight": a["0.weight"], "0.bias": a["0.bias"]}
    assert len({state_dict_sha256(x) for x in (a, changed, renamed)}) == 3
    t = torch.randn(4, 5).t()  # not contiguous: hashed in row-major order of its values
    assert tensor_sha256(t) == hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


def test_feature_bytes_is_samples_times_the_feature_size_times_the_value_size():
    assert feature_bytes(10_000, (256, 13, 13), torch.float32) == 10_000 * 43_264 * 4
    assert feature_bytes(7, (100,), torch.float16) == 7 * 100 * 2
