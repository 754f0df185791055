"""CSV downloads of report tables: streamed, ready for a spreadsheet or a `csv`/pandas reader.

Every report page offers a CSV of exactly the table it shows. To keep "exactly" true, a page
builds its table once as display strings (a `Table`: the same cells the template prints) and
hands the same rows to `csv_response`. Reuse from any report page:

    from reviewapp.reports.exports import csv_response, export_filename

    return csv_response(
        export_filename("drift", plan=plan.name, start=start, end=end, method="psi"),
        columns=["Day", "Tier", "PSI", "Level"],
        rows=((r.day, r.tier, f"{r.psi:.3f}", r.level) for r in drift_rows),
    )

`csv_response(filename, columns, rows)`:
* `filename`: the download's name, which says what the file is: anything outside
  [A-Za-z0-9._-] becomes "_" and ".csv" is appended when missing (`export_filename` builds the
  conventional one: kind, plan, window, method and generation time, UTC). The file itself has
  no title line: spreadsheets, pandas and `csv` readers take the first row as the header.
* `columns`: the column names, the first row.
* `rows`: any iterable of sequences, consumed lazily (a generator keeps memory flat for any
  number of rows). A cell that is None is written empty; anything else through `str()`.
  Numbers are written as the page prints them ("70.0", "-1.2", "+0.5": ASCII signs, so they
  read back as numbers); an unknown value is an empty cell, never "0.00".
Every cell, column names included, passes through `neutralise`: a text cell that a spreadsheet
would read as a formula (first character =, +, -, @, tab or carriage return) gets a leading
single quote (OWASP "CSV injection"); a plain number such as "-0.5", "+0.5" or "1e-3" is left
alone (it cannot run anything, and quoting it would turn it into text).
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
#: A plain decimal number, optionally signed, optionally in exponent form: never a formula.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
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


def csv_lines(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text, one encoded row at a time: the header first (carrying the BOM)."""
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow([neutralise(c) for c in columns])
    for row in rows:
        yield writer.writerow([neutralise(c) for c in row])


def safe_filename(filename: str) -> str:
    name = _UNSAFE_FILENAME.sub("_", filename).strip("._") or "export"
    return name if name.lower().endswith(".csv") else name + ".csv"


def csv_response(
    filename: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> StreamingHttpResponse:
    """A streamed CSV download (see the module docstring for the contract)."""
    response = StreamingHttpResponse(
        csv_lines(columns, rows), content_type="text/csv; charset=utf-8"
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


def report_title(
    title: str,
    *,
    plan: str,
    start: dt.date,
    end: dt.date,
    method: str = "",
    generated: dt.datetime | None = None,
    extra: str = "",
) -> str:
    """One line saying what a table is (the plan, the window, the method, when, UTC), for the
    `report` command's terminal output (a CSV says it in its file name instead)."""
    at = (generated or timezone.now()).astimezone(dt.UTC)
    bits = [f"Longtail {title}", f"plan {plan}", f"window {start:%Y-%m-%d} to {end:%Y-%m-%d}"]
    if method:
        bits.append(f"method {method}")
    if extra:
        bits.append(extra)
    bits.append(f"generated {at:%Y-%m-%d %H:%M:%S} UTC")
    return " · ".join(bits)


@dataclass
class Table:
    """A report table as display strings: the template prints `rows`, the CSV writes them.

    `records` (optional) carries the same rows unformatted, for JSON output. `numeric` marks
    the columns of numbers (right-aligned), `technical` those a page hides behind its
    "details" toggle (the CSV holds every column).
    """

    columns: list[str]
    rows: list[list[str]]
    records: list[dict[str, Any]] = field(default_factory=list)
    numeric: set[int] = field(default_factory=set)
    technical: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.rows)
