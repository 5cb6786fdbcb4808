"""HTML pages as plain strings: escaping, the subset of Markdown report.md uses, figures
inline, sortable tables, and one self-contained page.

A page holds everything it needs: styles inline, figures as base64 PNG, one short script
(sorting a table by clicking its header) written here, nothing from a network; it opens from
disk with no server. Every piece of text from a config, a file name or a class name goes
through `escape` (the Markdown converter escapes before it formats), so a study named
`<script>alert(1)</script>` shows those characters and runs nothing.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import html
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from nnstudy.errors import NNStudyError
from nnstudy.report.plots.figure import figure_bytes


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a page draws its figures (also a
    decorator). Matplotlib makes thousands of objects per figure, and the collections they
    set off took a fifth of a study page's time (0.8 of 3.6 s for the quick start's nine
    figures and four kept models); their cycles are freed by the first collection after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def escape(text: Any) -> str:
    """`<`, `>`, `&`, `"` and `'` as entities: text, never markup."""
    return html.escape(str(text), quote=True)


# ---------------------------------------------------------------- Markdown (report.md's subset)

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def _inline(text: str) -> str:
    """Escaped text with report.md's inline marks: **bold** and `code`."""
    out = escape(text)
    out = _CODE.sub(r"<code>\1</code>", out)
    return _BOLD.sub(r"<strong>\1</strong>", out)


def _cells(line: str) -> list[str]:
    inner = line.strip()[1:-1]
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(inner)]


def _table(lines: list[str]) -> str:
    header, rule, *body = lines
    right = [c.endswith(":") for c in _cells(rule)]

    def cls(i: int) -> str:
        return ' class="num"' if i < len(right) and right[i] else ""

    head = "".join(f"<th{cls(i)} title=\"sort by this column\">{_inline(c)}</th>"
                   for i, c in enumerate(_cells(header)))
    rows = "".join("<tr>" + "".join(f"<td{cls(i)}>{_inline(c)}</td>"
                                    for i, c in enumerate(_cells(row))) + "</tr>"
                   for row in body)
    return (f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def markdown_html(text: str) -> str:
    """report.md's Markdown as HTML: `#` headings, `-` lists, pipe tables (sortable), and
    paragraphs, with **bold** and `code` inline. All text is escaped first."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
            i += 1
        elif line.lstrip().startswith("|"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            out.append(_table(block))
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append(f"<ul>{''.join(items)}</ul>")
        else:
            para = []
            while (i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "- "))
                   and not lines[i].lstrip().startswith("|")):
                para.append(lines[i].strip())
                i += 1
            out.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(out)


def split_sections(markdown: str) -> list[tuple[str, str]]:
    """report.md cut at its `## ` headings: (heading, the section's Markdown with it); the
    part before the first heading has the heading ``."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in markdown.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        sections[-1][1].append(line)
    return [(title, "\n".join(body)) for title, body in sections]


# ---------------------------------------------------------------- pieces

def table_html(header: Iterable[Any], rows: Iterable[Iterable[Any]],
               numeric: Iterable[int] = ()) -> str:
    """A sortable table of escaped cells; the columns at positions `numeric` align right."""
    right = set(numeric)
    head = "".join(f'<th{" class=num" if i in right else ""} title="sort by this column">'
                   f"{escape(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i in right else ""}>{escape(c)}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return (f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def figure_html(fig: Figure, alt: str, dpi: int = 100, size: str = "") -> str:
    """The figure as an inline base64 PNG in a <figure>, its alt text escaped; `size`
    "small" shows it at most 560 pixels wide (a confusion matrix)."""
    data = base64.b64encode(figure_bytes(fig, "png", dpi=dpi)).decode("ascii")
    css = f' class="{escape(size)}"' if size else ""
    return (f'<figure{css}><img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
            f"</figure>")


def try_figure(draw: Callable[[], Figure | None], alt: str, size: str = "") -> str:
    """`figure_html` of what `draw` returns, or one line saying why the figure is not there
    (a table without the columns it needs, a model the tiles do not fit, a model that does
    not run on the data): one figure that cannot be drawn never costs the page."""
    try:
        fig = draw()
    except (NNStudyError, ValueError, KeyError, RuntimeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f'<p class="note">{escape(alt)}: not drawn ({escape(message)})</p>'
    return "" if fig is None else figure_html(fig, alt, size=size)


def section(title: str, body: str, anchor: str | None = None) -> str:
    ident = f' id="{escape(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{escape(title)}</h2>\n{body}\n</section>"


STYLE = """
.nnstudy-report{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:#222;max-width:1200px;margin:0 auto;padding:0 16px 40px}
.nnstudy-report h1{font-size:1.6em;border-bottom:2px solid #1f77b4;padding-bottom:4px}
.nnstudy-report h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}
.nnstudy-report h3{font-size:1.05em}
.nnstudy-report table{border-collapse:collapse;font-size:13px;margin:8px 0}
.nnstudy-report th,.nnstudy-report td{border:1px solid #ddd;padding:3px 7px;text-align:left}
.nnstudy-report th{background:#f3f6fa;cursor:pointer;user-select:none;white-space:nowrap}
.nnstudy-report th.sorted-asc::after{content:" \\25B2";font-size:10px}
.nnstudy-report th.sorted-desc::after{content:" \\25BC";font-size:10px}
.nnstudy-report .num{text-align:right;font-variant-numeric:tabular-nums}
.nnstudy-report td:first-child{white-space:nowrap}
.nnstudy-report tbody tr:nth-child(even){background:#fafafa}
.nnstudy-report .scroll{overflow-x:auto}
.nnstudy-report figure{margin:12px 0}
.nnstudy-report img{max-width:100%;height:auto}
.nnstudy-report figure.small img{max-width:min(100%,560px)}
.nnstudy-report .partial{background:#fff3cd;border:1px solid #e0c060;padding:8px 12px}
.nnstudy-report .verdict{background:#eef6ee;border-left:4px solid #2ca02c;padding:8px 12px}
.nnstudy-report .note{color:#666;font-style:italic}
.nnstudy-report .diag{border-left:4px solid #d62728;padding:2px 12px;margin:8px 0}
.nnstudy-report nav a{margin-right:12px}
.nnstudy-report code{background:#f3f3f3;padding:0 3px}
"""

# Sorting: a click on a header sorts its table's rows by that column, again reverses. Cells
# that read as numbers (a leading number, `%`, thousands separators, k/M/G/T) sort as numbers.
SCRIPT = """
(function(){
 var scale={k:1e3,M:1e6,G:1e9,T:1e12};
 function key(text){var t=text.replace(/,/g,'').trim();
  var m=t.match(/^([-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:e[-+]?\\d+)?)\\s*(%|[kMGT]\\b)?/i);
  if(!m){return null;} var v=parseFloat(m[1]); if(m[2]&&scale[m[2]]){v*=scale[m[2]];}
  return v;}
 function sortBy(th){var table=th.closest('table'),body=table.tBodies[0];
  var col=Array.prototype.indexOf.call(th.parentNode.children,th);
  var asc=!th.classList.contains('sorted-asc');
  Array.prototype.forEach.call(th.parentNode.children,function(h){
   h.classList.remove('sorted-asc','sorted-desc');});
  th.classList.add(asc?'sorted-asc':'sorted-desc');
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){var x=a.cells[col].textContent,y=b.cells[col].textContent;
   var p=key(x),q=key(y),r;
   if(p!==null&&q!==null){r=p-q;}else if(p!==null){r=-1;}else if(q!==null){r=1;}
   else{r=x.localeCompare(y);}
   return asc?r:-r;});
  rows.forEach(function(r){body.appendChild(r);});}
 document.querySelectorAll('table.sortable th').forEach(function(th){
  if(th.dataset.sortable){return;} th.dataset.sortable='1';
  th.addEventListener('click',function(){sortBy(th);});});
})();
"""


def fragment(body: str) -> str:
    """The page's content as one <div> with its styles and script: what a notebook shows
    (`_repr_html_`), and the body of the page."""
    return (f'<div class="nnstudy-report">\n<style>{STYLE}</style>\n{body}\n'
            f"<script>{SCRIPT}</script>\n</div>")


def page(title: str, body: str) -> str:
    """A whole self-contained HTML document."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title></head>\n<body>\n{fragment(body)}\n</body></html>\n")


def write_page(path: str | Path, text: str) -> Path:
    """Write a page atomically (a browser refreshing it never sees half of it), with the
    permissions of the run's other files (`write_text_atomic`)."""
    from nnstudy.report.tables import write_text_atomic

    return write_text_atomic(path, text)
