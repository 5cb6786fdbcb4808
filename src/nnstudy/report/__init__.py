"""Reports of a study: Markdown tables, report.md and results.csv (plots and HTML come later).

`report` reads results; it never trains.
"""

from nnstudy.report.markdown import render_report
from nnstudy.report.tables import markdown_table, write_results_csv, write_text_atomic

__all__ = ["markdown_table", "render_report", "write_results_csv", "write_text_atomic"]
