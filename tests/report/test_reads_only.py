"""The rooms' directions: `nnstudy.study` never imports `nnstudy.report` (not even inside a
function), and `nnstudy.report` reads results without importing what trains or writes."""

from __future__ import annotations

import ast
from pathlib import Path

import nnstudy

PACKAGE = Path(nnstudy.__file__).parent

# What report/ must not import: training, and the parts of study/ that run or write a study.
WRITERS = ("nnstudy.training", "nnstudy.study.runner", "nnstudy.study.worker",
           "nnstudy.study.lock", "nnstudy.api", "nnstudy.cli")


def imports(room: str) -> dict[str, set[str]]:
    """Module file -> every module it imports, at any depth of the syntax tree."""
    out = {}
    for path in sorted((PACKAGE / room).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        out[path.relative_to(PACKAGE).as_posix()] = names
    return out


def test_study_never_imports_report():
    found = {f: sorted(n for n in names if n == "nnstudy.report"
                       or n.startswith("nnstudy.report."))
             for f, names in imports("study").items()}
    assert {f: n for f, n in found.items() if n} == {}
    assert len(found) >= 5  # the walk saw the room


def test_report_imports_nothing_that_trains_or_writes_a_study():
    found = {f: sorted(n for n in names if n.startswith(WRITERS))
             for f, names in imports("report").items()}
    assert {f: n for f, n in found.items() if n} == {}
    assert "report/markdown.py" in found
