"""CSV downloads of report tables: streamed, self-describing, safe to open in a spreadsheet.

Every report page offers a CSV of exactly the table it shows. To keep "exactly" true, a page
builds its table once as display strings (a `Table`: the same cells the template prints) and
hands the same rows to `csv_response`. Reuse from any report page:

    from reviewapp.reports.exports import csv_response, export_filename, export_header

    return csv_response(
        export_filename("drift", plan=plan.name, start=start, end=end, method="psi"),
        export_header("Router-confidence drift", plan=plan.name, start=start, end=end,
                      method="psi"),
        columns=["Day", "Tier", "PSI", "Level"],
        rows=((r.day, r.tier, f"{r.psi:.3f}", r.level) for r in drift_rows),
    )

`csv_response(filename, header_line, columns, rows)`:
* `filename`: the download's name; anything outside [A-Za-z0-9._-] becomes "_" and ".csv" is
  appended when missing (`export_filename` builds the conventional one: kind, plan, window,
  method and generation time, UTC).
* `header_line`: one line of text written as the file's first row, a single cell starting with
  "# " (added if missing), e.g. what `export_header` returns: what the file is, plan, window,
  method and when it was generated. Spreadsheets show it as a title row; `csv` readers skip it
  by dropping the first row.
* `columns`: the column names (second row).
* `rows`: any iterable of sequences, consumed lazily (a generator keeps memory flat for any
  number of rows). A cell that is None is written empty; anything else through `str()`.
Every cell, header and column name included, passes through `neutralise`: a text cell that a
spreadsheet would read as a formula (first character =, +, -, @, tab or carriage return) gets a
leading single quote (OWASP "CSV injection"); a plain number such as "-0.5" is left alone.
The body is UTF-8 with a byte-order mark, so Excel reads accents and "·" correctly.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
BOM = "\ufeff"


def neutralise(cell: object) -> str:
    """The text of a CSV cell, with a leading "'" if a spreadsheet would run it as a formula."""
    text = "" if cell is None else str(cell)
    if text.startswith(FORMULA_PREFIXES) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer over a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(
    header_line: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Iterator[str]:
    """The CSV text, one encoded row at a time (the first chunk carries the BOM)."""
    writer = csv.writer(_Echo())
    title = header_line if header_line.startswith("#") else "# " + header_line
    yield BOM + writer.writerow([neutralise(title)])
    yield writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        yield writer.writerow([neutralise(c) for c in row])


def safe_filename(filename: str) -> str:
    name = _UNSAFE_FILENAME.sub("_", filename).strip("._") or "export"
    return name if name.lower().endswith(".csv") else name + ".csv"


def csv_response(
    filename: str,
    header_line: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> StreamingHttpResponse:
    """A streamed CSV download (see the module docstring for the contract)."""
    response = StreamingHttpResponse(
        csv_lines(header_line, columns, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{safe_filename(filename)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def export_filename(
    kind: str,
    *,
    plan: str,
    start: dt.date,
    end: dt.date,
    method: str = "",
    generated: dt.datetime | None = None,
) -> str:
    """e.g. longtail-tiers-default-2025-01-14_2025-01-27-wilson-20250128T101500Z.csv"""
    at = (generated or timezone.now()).astimezone(dt.UTC)
    parts = ["longtail", kind, plan, f"{start:%Y-%m-%d}_{end:%Y-%m-%d}"]
    if method:
        parts.append(method)
    parts.append(f"{at:%Y%m%dT%H%M%SZ}")
    return safe_filename("-".join(parts))


def export_header(
    title: str,
    *,
    plan: str,
    start: dt.date,
    end: dt.date,
    method: str = "",
    generated: dt.datetime | None = None,
    extra: str = "",
) -> str:
    """The file's first line: what it is, the plan, the window, the method, when (UTC)."""
    at = (generated or timezone.now()).astimezone(dt.UTC)
    bits = [f"# Longtail {title}", f"plan {plan}", f"window {start:%Y-%m-%d} to {end:%Y-%m-%d}"]
    if method:
        bits.append(f"method {method}")
    if extra:
        bits.append(extra)
    bits.append(f"generated {at:%Y-%m-%d %H:%M:%S} UTC")
    return " · ".join(bits)


@dataclass
class Table:
    """A report table as display strings: the template prints `rows`, the CSV writes them.

    `records` (optional) carries the same rows unformatted, for JSON output.
    """

    columns: list[str]
    rows: list[list[str]]
    records: list[dict[str, Any]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.rows)
