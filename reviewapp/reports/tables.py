"""Report tables as display strings, built once and shared by the page, its CSV download and
`manage.py report`: what the CSV holds is, cell for cell, what the page prints.

Numbers are rounded here and nowhere else: percentages to one decimal (in percent, the unit is
in the column name), design effects to two decimals, wrong answers per day to one decimal,
costs to four decimals. An empty cell means "not available" (no review, no cost recorded).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from reviewapp.review.models import Plan

from .exports import Table
from .selectors import (
    DomainRow,
    ReportData,
    domain_rows,
    longtail_rows,
    open_alarm_tiers,
    report_data,
)

#: The `by` choices of the tier report: a split of each tier (dimensions), or the long tail.
BY_CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "tier": ("Tier", ("tier",)),
    "uncertainty": ("Tier × uncertainty band", ("tier", "uncertainty")),
    "ood": ("Tier × OOD band", ("tier", "ood")),
    "segment": ("Tier × segment", ("tier", "segment")),
    "stratum": ("Full stratum", ("tier", "uncertainty", "ood", "segment")),
    "longtail": ("Long tail beside the easy centre", ()),
}
KEY_COLUMNS = {
    "tier": "Tier",
    "uncertainty": "Uncertainty band",
    "ood": "OOD band",
    "segment": "Segment",
}
#: A trend arrow needs the estimate to move by at least this much (in points).
TREND_POINTS = 0.5


def _finite(record: dict[str, object]) -> dict[str, object]:
    """A record for JSON: NaN (e.g. a census's design effect) becomes None."""
    return {k: None if isinstance(v, float) and v != v else v for k, v in record.items()}


def pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def num(value: float | None, digits: int) -> str:
    if value is None or value != value:  # None or NaN
        return ""
    return f"{value:.{digits}f}"


@dataclass
class TierReport:
    """The tier report of one plan and window: the table and what it was built from."""

    plan: Plan
    start: dt.date
    end: dt.date
    method: str
    by: str
    table: Table
    rows: list[DomainRow]
    data: ReportData

    @property
    def empty(self) -> bool:
        return self.data.n_strata == 0


def _status(row: DomainRow, alarms: set[str]) -> str:
    if row.reviewed and row.key and row.key[0] in alarms:
        return "alarm"
    return row.status


def _estimate_table(rows: list[DomainRow], key_columns: list[str], alarms: set[str]) -> Table:
    show_uncovered = any(r.uncovered_share for r in rows)
    show_cost = any(r.cost_per_answer is not None for r in rows)
    show_ppi = any(r.ppi_accuracy is not None for r in rows)
    columns = [
        *key_columns,
        "Share of traffic (%)",
        "Responses",
        "Reviews",
        "Accuracy (%)",
        "95% CI low (%)",
        "95% CI high (%)",
        "Design effect",
    ]
    if show_uncovered:
        columns.append("Uncovered share (%)")
    columns += ["Target (%)", "Status", "Wrong answers per day"]
    if show_cost:
        columns.append("Cost per answer (USD)")
    if show_ppi:
        columns += ["PPI accuracy (%)", "PPI 95% CI low (%)", "PPI 95% CI high (%)"]
    table = Table(columns=columns, rows=[])
    table.numeric = {i for i, c in enumerate(columns) if c not in (*key_columns, "Status")}
    for r in rows:
        status = _status(r, alarms)
        cells = [
            *r.key,
            pct(r.share),
            str(r.population),
            str(r.reviewed),
            pct(r.accuracy),
            pct(r.ci_low),
            pct(r.ci_high),
            num(r.design_effect, 2),
        ]
        if show_uncovered:
            cells.append(pct(r.uncovered_share) if r.uncovered_share else "")
        cells += [pct(r.target), status, num(r.wrong_per_day, 1)]
        if show_cost:
            cells.append(num(r.cost_per_answer, 4))
        if show_ppi:
            cells += [pct(r.ppi_accuracy), pct(r.ppi_ci_low), pct(r.ppi_ci_high)]
        table.rows.append(cells)
        table.records.append(
            _finite(
                {
                    **dict(
                        zip([k.lower().replace(" ", "_") for k in key_columns], r.key, strict=True)
                    ),
                    "population": r.population,
                    "share": r.share,
                    "reviewed": r.reviewed,
                    "accuracy": r.accuracy,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "method": r.method,
                    "design_effect": r.design_effect,
                    "uncovered_share": r.uncovered_share,
                    "target": r.target,
                    "status": status,
                    "wrong_per_day": r.wrong_per_day,
                    "cost_per_answer": r.cost_per_answer,
                    "ppi_accuracy": r.ppi_accuracy,
                    "ppi_ci_low": r.ppi_ci_low,
                    "ppi_ci_high": r.ppi_ci_high,
                }
            )
        )
    return table


def tier_report(
    *, plan: Plan, start: dt.date, end: dt.date, method: str = "wilson", by: str = "tier"
) -> TierReport:
    """The tier report table (or one of its drill-downs, chosen by `by`)."""
    if by not in BY_CHOICES:
        raise ValueError(f"by must be one of {', '.join(BY_CHOICES)}")
    data = report_data(plan=plan, start=start, end=end)
    version = plan.current_version
    targets = dict(version.targets) if version else {}
    if by == "longtail":
        rows = longtail_rows(data, method=method, targets=targets)
        key_columns = ["Tier", "Slice"]
    else:
        dimensions = BY_CHOICES[by][1]
        rows = domain_rows(data, dimensions, method=method, targets=targets)
        key_columns = [KEY_COLUMNS[d] for d in dimensions]
    alarms = open_alarm_tiers(plan=plan, start=start, end=end) if rows else set()
    return TierReport(
        plan=plan,
        start=start,
        end=end,
        method=method,
        by=by,
        table=_estimate_table(rows, key_columns, alarms),
        rows=rows,
        data=data,
    )


def _trend(current: DomainRow, previous: DomainRow | None) -> tuple[str, str]:
    """(arrow, change in points) of the accuracy against the previous window."""
    if previous is None or previous.accuracy is None or current.accuracy is None:
        return "", ""
    change = 100 * (current.accuracy - previous.accuracy)
    arrow = "▲" if change >= TREND_POINTS else "▼" if change <= -TREND_POINTS else "→"
    return arrow, f"{change:+.1f}"


def summary_table(
    *,
    plan: Plan,
    start: dt.date,
    end: dt.date,
    method: str = "wilson",
    cost_per_wrong: float = 0.0,
) -> tuple[TierReport, Table, dict[str, float]]:
    """The leadership summary: per tier, accuracy with its interval, the trend against the
    previous window of the same length, status, wrong answers and their cost. Returns the
    current tier report, the summary table and totals (wrong per day, cost per day, cost over
    the window)."""
    current = tier_report(plan=plan, start=start, end=end, method=method)
    length = end - start + dt.timedelta(days=1)
    previous = tier_report(
        plan=plan, start=start - length, end=start - dt.timedelta(days=1), method=method
    )
    before = {r.key: r for r in previous.rows}
    alarms = open_alarm_tiers(plan=plan, start=start, end=end) if current.rows else set()
    columns = [
        "Tier",
        "Share of traffic (%)",
        "Reviews",
        "Accuracy (%)",
        "95% CI low (%)",
        "95% CI high (%)",
        "Previous window accuracy (%)",
        "Trend",
        "Change (points)",
        "Target (%)",
        "Status",
        "Wrong answers per day",
        "Cost of quality per day",
        "Cost of quality in window",
    ]
    table = Table(columns=columns, rows=[])
    table.numeric = {1, 2, 3, 4, 5, 6, 8, 9, 11, 12, 13}
    days = current.data.days
    totals = {"wrong_per_day": 0.0, "cost_per_day": 0.0, "cost_window": 0.0}
    for r in current.rows:
        prior = before.get(r.key)
        arrow, change = _trend(r, prior)
        cost_day = r.wrong_per_day * cost_per_wrong if r.wrong_per_day is not None else None
        if r.wrong_per_day is not None and cost_day is not None:
            totals["wrong_per_day"] += r.wrong_per_day
            totals["cost_per_day"] += cost_day
            totals["cost_window"] += cost_day * days
        status = _status(r, alarms)
        table.rows.append(
            [
                r.key[0],
                pct(r.share),
                str(r.reviewed),
                pct(r.accuracy),
                pct(r.ci_low),
                pct(r.ci_high),
                pct(prior.accuracy if prior else None),
                arrow,
                change,
                pct(r.target),
                status,
                num(r.wrong_per_day, 1),
                num(cost_day, 2),
                num(cost_day * days if cost_day is not None else None, 2),
            ]
        )
        table.records.append(
            _finite(
                {
                    "tier": r.key[0],
                    "accuracy": r.accuracy,
                    "ci_low": r.ci_low,
                    "ci_high": r.ci_high,
                    "previous_accuracy": prior.accuracy if prior else None,
                    "status": status,
                    "wrong_per_day": r.wrong_per_day,
                    "cost_per_day": cost_day,
                }
            )
        )
    return current, table, totals
