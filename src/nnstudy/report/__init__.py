"""Reports of a study: Markdown tables, report.md and results.csv (plots and HTML come later).

`report` reads results (`nnstudy.study.StudyResult`, or any trial table); it never trains
and never writes to the store.
"""

from nnstudy.report.markdown import render_head, render_report
from nnstudy.report.study_report import StudyReport
from nnstudy.report.tables import markdown_table, write_results_csv, write_text_atomic

__all__ = ["StudyReport", "markdown_table", "render_head", "render_report", "write_results_csv",
           "write_text_atomic"]
