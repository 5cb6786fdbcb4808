"""The cache folder follows $NNSTUDY_DATA_DIR."""

from __future__ import annotations

from nnstudy.data.cache import cache_dir


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NNSTUDY_DATA_DIR", str(tmp_path / "x"))
    assert cache_dir() == tmp_path / "x"
    monkeypatch.delenv("NNSTUDY_DATA_DIR")
    assert cache_dir().parts[-2:] == (".cache", "nnstudy")
