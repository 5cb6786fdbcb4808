"""Test-wide settings: under CI, hypothesis draws the same examples every run; under
pytest-xdist (`-n 2 --dist loadgroup`, what scripts/test.sh runs), every test that uses the
Ray cluster runs on one worker, which starts that cluster once."""

import os

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "ray_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("ray"))
