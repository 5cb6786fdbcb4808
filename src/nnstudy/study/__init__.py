"""Studies: grids x seeds, grouped training, the SQLite store, resume, statistics."""

from nnstudy.study.result import StudyResult
from nnstudy.study.runner import Study, report, resume, status

__all__ = ["Study", "StudyResult", "report", "resume", "status"]
