"""Studies as `import nnstudy` offers them: run, resume or reread a study, then write its
report.

Two rooms meet here and nowhere else: `nnstudy.study` runs a study, stores it and returns a
`StudyResult` (it never imports `nnstudy.report`); `nnstudy.report` writes results.csv and
report.md from a StudyResult (it never trains or writes to the store). The functions below
are what the README promises and what the CLI calls:

```python
import nnstudy
result = nnstudy.Study.from_yaml("studies/quickstart.yaml").run(out="runs/quickstart")
# runs/quickstart/: study.db, study.yaml, models/, results.csv, report.md
```
"""

from __future__ import annotations

from pathlib import Path

from nnstudy.report.study_report import StudyReport
from nnstudy.study import runner
from nnstudy.study.executors import Executor
from nnstudy.study.result import StudyResult, load_result


class Study(runner.Study):
    """A study loaded from a file (see `nnstudy.study.Study`) whose `run` also writes
    results.csv and report.md into the study directory."""

    def run(self, out: str | Path | None = None, workers: int | None = None,
            threads: int | None = None, progress: bool = False,
            executor: str | Executor = "auto", address: str | None = None) -> StudyResult:
        result = super().run(out, workers=workers, threads=threads, progress=progress,
                             executor=executor, address=address)
        StudyReport(result).write()
        return result


def resume(out: str | Path, workers: int | None = None, progress: bool = False,
           executor: str | Executor = "auto", address: str | None = None) -> StudyResult:
    """Run exactly the trials of the study in `out` that are not done, then write its
    results.csv and report.md."""
    result = runner.resume(out, workers=workers, progress=progress, executor=executor,
                           address=address)
    StudyReport(result).write()
    return result


def report(out: str | Path) -> StudyResult:
    """Reread the study in `out` and write its results.csv and report.md again."""
    result = load_result(out)
    StudyReport(result).write()
    return result


__all__ = ["Study", "report", "resume"]
