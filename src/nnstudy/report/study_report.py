"""The report of a study's results: its Markdown text, its head, and the files it writes
(results.csv, report.md and report.html).

It reads a `StudyResult` and never trains or touches the store; `nnstudy.Study.run` and the
CLI write it once the study has run.

```python
report = StudyReport(nnstudy.study.load_result("runs/quickstart"))
print(report.head())          # what `nnstudy study run` prints
report.write()                # results.csv, report.md and report.html
```
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from nnstudy.report.html import write_page
from nnstudy.report.markdown import render_head, render_report
from nnstudy.report.tables import write_results_csv, write_text_atomic
from nnstudy.study.result import StudyResult


@dataclass(frozen=True)
class StudyReport:
    """report.md, report.html and results.csv of one study."""

    result: StudyResult

    @cached_property
    def _inputs(self) -> tuple[dict[str, Any], Any, dict[str, Any]]:
        result = self.result
        return result.overview(), result.trials, result.spec.select.model_dump()

    @property
    def markdown_path(self) -> Path:
        return self.result.out_dir / "report.md"

    @property
    def html_path(self) -> Path:
        return self.result.out_dir / "report.html"

    @property
    def csv_path(self) -> Path:
        return self.result.out_dir / "results.csv"

    def text(self) -> str:
        """The whole of report.md."""
        return render_report(*self._inputs)

    def head(self) -> str:
        """The header, the best configuration (per group), and the winner against the
        runner-up: the part a reader wants first."""
        return render_head(*self._inputs)

    def html(self) -> str:
        """The whole of report.html (see `nnstudy.report.study_page`)."""
        from nnstudy.report.study_page import study_page

        return study_page(self.result)

    def write(self, html: bool = True) -> StudyReport:
        """Write results.csv, report.md and (unless `html` is False) report.html into the
        study directory, each to a temporary file renamed over the old one, so that a reader
        never sees half a file."""
        write_results_csv(self.result.trials, self.csv_path)
        write_text_atomic(self.markdown_path, self.text())
        if html:
            write_page(self.html_path, self.html())
        return self
