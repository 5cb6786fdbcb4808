"""docs/reproduction.md names real files: every figure it shows is in docs/img, and every
study and example file it runs is shipped."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = (REPO / "docs" / "reproduction.md").read_text()


def test_every_figure_of_the_reproduction_exists():
    figures = re.findall(r"\]\((img/[^)]+\.png)\)", DOC)
    assert figures
    for figure in figures:
        assert (REPO / "docs" / figure).is_file(), figure


def test_every_study_and_example_the_reproduction_runs_is_shipped():
    files = set(re.findall(r"\b((?:studies|examples)/[a-z0-9][\w.-]*\.yaml)", DOC))
    assert files
    for name in files:
        assert (REPO / name).is_file(), name
