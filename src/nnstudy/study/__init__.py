"""Studies: grids x seeds, grouped training, the SQLite store, resume, statistics.

`nnstudy.study` computes and stores; it does not write reports (`nnstudy.report` does, and
`nnstudy.Study` runs a study and then writes its report).
"""

from nnstudy.study.result import StudyResult, load_result
from nnstudy.study.runner import Study, resume, status

__all__ = ["Study", "StudyResult", "load_result", "resume", "status"]
