"""Tables as text: Markdown with aligned columns, number formats, and the results CSV.

Our own Markdown writer because pandas' `to_markdown` needs `tabulate`. Cells are padded so
that the raw text reads as a table too; numeric columns are right-aligned (`---:`).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnstudy.study.trials import (
    COST_COLUMNS,
    IDENTITY_COLUMNS,
    METRIC_COLUMNS,
    STANDARD_COLUMNS,
    grid_keys,
)

MISSING = "—"


def is_missing(value: Any) -> bool:
    """None, NaN and pandas' NA are missing."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def fmt_float(value: Any, decimals: int = 4) -> str:
    """0.231234 -> `0.2312`; NaN -> `—`; inf stays `inf`."""
    if is_missing(value):
        return MISSING
    return f"{float(value):.{decimals}f}"


def fmt_int(value: Any) -> str:
    """79510 -> `79,510`; a float that is a whole number prints as one."""
    if is_missing(value):
        return MISSING
    return f"{round(float(value)):,}"


def fmt_count(value: Any) -> str:
    """Large counts with an SI prefix, three significant digits: 4.77e12 -> `4.77 T`;
    below 10,000 the exact integer."""
    if is_missing(value):
        return MISSING
    x = float(value)
    for prefix, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale and abs(x) >= 1e4:
            return f"{x / scale:.3g} {prefix}"
    return fmt_int(x)


def fmt_seconds(value: Any) -> str:
    """4.2 -> `4.2 s`; 723 -> `12 min 3 s`; 7380 -> `2 h 3 min`."""
    if is_missing(value):
        return MISSING
    s = float(value)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {round(s % 60)} s"
    return f"{int(s // 3600)} h {round((s % 3600) / 60)} min"


def fmt_mean_pm(mean: Any, lo: Any, hi: Any, n: int, decimals: int = 4) -> str:
    """`0.2312 ± 0.0041` (half-width of the interval); one value: `0.2312 (1 seed)`; none: —."""
    if is_missing(mean) or n == 0:
        return MISSING
    if n == 1 or is_missing(lo):
        return f"{float(mean):.{decimals}f} (1 seed)"
    half = (float(hi) - float(lo)) / 2
    return f"{float(mean):.{decimals}f} ± {half:.{decimals}f}"


def fmt_interval(lo: Any, hi: Any, decimals: int = 4) -> str:
    """`[0.2271, 0.2353]`; without an interval (one seed): `no CI (1 seed)`."""
    if is_missing(lo) or is_missing(hi):
        return "no CI (1 seed)"
    return f"[{float(lo):.{decimals}f}, {float(hi):.{decimals}f}]"


def _cell(value: Any) -> str:
    if is_missing(value):
        return MISSING
    if isinstance(value, float | np.floating):
        return fmt_float(value)
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return fmt_int(value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, numeric: Collection[str] | None = None) -> str:
    """A GitHub Markdown table with every column padded to its widest cell.

    Values are written with `_cell` (floats to 4 decimals, integers with thousands separators,
    NaN as `—`, `|` escaped); format columns beforehand for anything else. Columns named in
    `numeric` are right-aligned; by default those with a numeric dtype.
    """
    if numeric is None:
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
                   and not pd.api.types.is_bool_dtype(frame[c])]
    right = set(numeric)
    header = [str(c).replace("|", "\\|") for c in frame.columns]
    body = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max([len(h), 3, *(len(r[i]) for r in body)]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if col in right else c.ljust(w)
                  for c, w, col in zip(cells, widths, frame.columns, strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if col in right else "-" * w
            for w, col in zip(widths, frame.columns, strict=True)]
    return "\n".join([line(header), "| " + " | ".join(rule) + " |", *(line(r) for r in body)])


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to a temporary file beside `path`, then rename it over `path`, so that a
    reader never sees half a file; the file gets the usual permissions (0666 less the
    umask), as `open` would give it."""
    from nnstudy.data.atomic import give_usual_permissions

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        give_usual_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def results_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials in the column order of results.csv: identity, grid keys, metrics, then any
    other column; counts (seed, best epoch, epochs run, params) as integers even when some
    are missing; grid values that are lists are written as `[100, 100]`."""
    keys = [k for k in grid_keys(trials) if k != "variant"]
    first = [c for c in IDENTITY_COLUMNS if c in trials.columns]
    metrics = [c for c in (*METRIC_COLUMNS, *COST_COLUMNS) if c in trials.columns]
    rest = [c for c in trials.columns if c not in {*first, *keys, *metrics, *STANDARD_COLUMNS}]
    out = trials[[*first, *keys, *metrics, *rest]].copy()
    for column in ("seed", "best_epoch", "epochs_run", "params"):
        if column in out:
            values = pd.to_numeric(out[column], errors="coerce")
            finite = values.dropna()
            if (finite == finite.round()).all():
                out[column] = values.astype("Int64")  # 12, not 12.0, and empty when missing
    for key in keys:
        if out[key].map(lambda v: isinstance(v, list | tuple)).any():
            out[key] = out[key].map(lambda v: str(list(v)) if isinstance(v, list | tuple) else v)
    return out


def write_results_csv(trials: pd.DataFrame, path: str | Path) -> Path:
    """results.csv: one row per trial (see `results_frame`), floats at full precision, NaN as
    an empty field; written to a temporary file and renamed over `path`."""
    return write_text_atomic(path, results_frame(trials).to_csv(index=False, lineterminator="\n"))
