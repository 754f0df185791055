"""Report tables as display strings, built once and shared by the page, its CSV download and
`manage.py report`: what the CSV holds is, cell for cell, what the page prints.

Numbers are rounded here and nowhere else: percentages to one decimal (in percent, the unit is
in the column name), design effects to two decimals, wrong answers per day to one decimal,
costs to four decimals. An empty cell means "not available" (no review, no cost recorded).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from reviewapp.review.models import Plan
from sampling.compare import Change, change_interval

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

    @property
    def glance(self) -> list[GlanceRow]:
        """The at-a-glance block (per tier): only for the plain tier split."""
        return glance_rows(self.rows) if self.by == "tier" else []

    @property
    def glance_axis(self) -> list[tuple[float, str]]:
        """Axis labels of the glance figures: (x in SVG units, "85 %"), every 5 points."""
        start = glance_start(self.rows)
        ticks = np.arange(round(100 * start), 101, 5 if start >= 0.7 else 10)
        return [(round(GLANCE_WIDTH * (t / 100 - start) / (1 - start), 1), f"{t} %") for t in ticks]


#: Width of a glance figure in SVG user units (the figure scales to its box).
GLANCE_WIDTH = 400.0


@dataclass(frozen=True)
class GlanceRow:
    """One tier at a glance: its interval drawn against its target on the scale every tier of
    the block shares (x positions in SVG units over GLANCE_WIDTH), the status word and one
    plain sentence."""

    tier: str
    status: str
    sentence: str
    x_low: float | None
    x_high: float | None
    x_estimate: float | None
    x_target: float | None


def _people_pct(value: float, width: float) -> str:
    """A percentage for a sentence: whole points unless the interval is narrower than 3."""
    return f"{100 * value:.0f}" if width >= 0.03 else f"{100 * value:.1f}"


def glance_sentence(row: DomainRow) -> str:
    """One sentence a reader without statistics can act on, e.g. "Between 89 % and 98 % of
    the cheap tier's answers are correct (95 % confidence); target 93 %: not yet known." """
    tier = row.key[0]
    if row.accuracy is None or row.ci_low is None or row.ci_high is None:
        return f"No review of the {tier} tier in this window, so its accuracy is unknown."
    width = row.ci_high - row.ci_low
    if width <= 0:
        what = f"{_people_pct(row.accuracy, width)} % of the {tier} tier's answers are correct"
        what += " (every answer was reviewed)"
    else:
        low, high = _people_pct(row.ci_low, width), _people_pct(row.ci_high, width)
        what = f"Between {low} % and {high} % of the {tier} tier's answers are correct"
        what += " (95 % confidence)"
    if row.uncovered_share:
        what += (
            f", in the {100 * (1 - row.uncovered_share):.0f} % of its traffic with reviews"
            f" (the other {100 * row.uncovered_share:.0f} % has none yet)"
        )
    if row.target is None:
        return what + "; no target is set."
    target = f"{100 * row.target:.1f}".removesuffix(".0")
    advice = {
        "below target": "below target",
        "meets target": "meets target",
        "not yet known": "not yet known (more reviews will tell)",
    }.get(row.status, row.status)
    return f"{what}; target {target} %: {advice}."


def glance_rows(rows: list[DomainRow]) -> list[GlanceRow]:
    """Every tier on one scale: from the lowest interval end or target, rounded down to 5
    points, to 100 %."""
    start = glance_start(rows)

    def x(value: float | None) -> float | None:
        if value is None:
            return None
        return round(GLANCE_WIDTH * (min(max(value, start), 1.0) - start) / (1.0 - start), 1)

    return [
        GlanceRow(
            tier=r.key[0],
            status=r.status,
            sentence=glance_sentence(r),
            x_low=x(r.ci_low),
            x_high=x(r.ci_high),
            x_estimate=x(r.accuracy),
            x_target=x(r.target),
        )
        for r in rows
    ]


def glance_start(rows: list[DomainRow]) -> float:
    """Where the shared scale of glance_rows starts (it ends at 100 %): the lowest interval end
    or target, rounded down to 5 points (at most 95 %)."""
    ends = [v for r in rows for v in (r.ci_low, r.target) if v is not None]
    return min(0.95, max(0.0, float(np.floor(20 * min(ends)) / 20))) if ends else 0.0


#: Columns for readers who know survey statistics: behind the pages' "details" toggle.
TECHNICAL_COLUMNS = {
    "Design effect",
    "PPI accuracy (%)",
    "PPI 95% CI low (%)",
    "PPI 95% CI high (%)",
    "Change 95% CI low (points)",
    "Change 95% CI high (points)",
}


def _alarm_cell(row: DomainRow, alarms: set[str]) -> str:
    """ "yes" when the row's tier has an open quality alarm on a day of the window."""
    return "yes" if row.key and row.key[0] in alarms else ""


def _numeric(columns: list[str], text_columns: set[str]) -> set[int]:
    return {i for i, c in enumerate(columns) if c not in text_columns}


def _estimate_table(rows: list[DomainRow], key_columns: list[str], alarms: set[str]) -> Table:
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
        "Uncovered share (%)",
        "Target (%)",
        "Status",
        "Open alarm",
        "Wrong answers per day",
    ]
    if show_cost:
        columns.append("Cost per answer (USD)")
    if show_ppi:
        columns += ["PPI accuracy (%)", "PPI 95% CI low (%)", "PPI 95% CI high (%)"]
    table = Table(columns=columns, rows=[])
    table.numeric = _numeric(columns, {*key_columns, "Status", "Open alarm"})
    table.technical = {i for i, c in enumerate(columns) if c in TECHNICAL_COLUMNS}
    for r in rows:
        alarm = _alarm_cell(r, alarms)
        cells = [
            *r.key,
            pct(r.share),
            str(r.population),
            str(r.reviewed),
            pct(r.accuracy),
            pct(r.ci_low),
            pct(r.ci_high),
            num(r.design_effect, 2),
            pct(r.uncovered_share),
            pct(r.target),
            r.status,
            alarm,
            num(r.wrong_per_day, 1),
        ]
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
                    "status": r.status,
                    "open_alarm": bool(alarm),
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


ARROWS = {"up": "▲", "down": "▼", "none": ""}


def row_change(current: DomainRow, previous: DomainRow | None) -> Change | None:
    """The change of a row's accuracy since the previous window, with its interval
    (``sampling.compare.change_interval``); None when either window has no estimate."""
    if (
        previous is None
        or previous.accuracy is None
        or previous.ci_low is None
        or previous.ci_high is None
        or current.accuracy is None
        or current.ci_low is None
        or current.ci_high is None
    ):
        return None
    return change_interval(
        current.accuracy,
        (current.ci_low, current.ci_high),
        previous.accuracy,
        (previous.ci_low, previous.ci_high),
    )


def points(value: float | None) -> str:
    """A change in points, signed ("+0.5", "-1.2": ASCII, so spreadsheets read a number)."""
    return "" if value is None else f"{100 * value:+.1f}"


def summary_table(
    *,
    plan: Plan,
    start: dt.date,
    end: dt.date,
    method: str = "wilson",
    cost_per_wrong: float | None = None,
) -> tuple[TierReport, Table, dict[str, float | None]]:
    """The leadership summary: per tier, accuracy with its interval, the change against the
    previous window of the same length with the change's interval (an arrow only when that
    interval excludes 0), status, wrong answers and their cost (empty without a cost per wrong
    answer). Returns the current tier report, the summary table and totals (wrong per day,
    cost per day and over the window: None without a cost)."""
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
        "Uncovered share (%)",
        "Previous window accuracy (%)",
        "Trend",
        "Change (points)",
        "Change 95% CI low (points)",
        "Change 95% CI high (points)",
        "Target (%)",
        "Status",
        "Open alarm",
        "Wrong answers per day",
        "Cost of quality per day",
        "Cost of quality in window",
    ]
    table = Table(columns=columns, rows=[])
    table.numeric = _numeric(columns, {"Tier", "Trend", "Status", "Open alarm"})
    table.technical = {i for i, c in enumerate(columns) if c in TECHNICAL_COLUMNS}
    days = current.data.days
    costed = bool(cost_per_wrong)
    wrong_total = 0.0
    for r in current.rows:
        prior = before.get(r.key)
        change = row_change(r, prior)
        cost_day = (
            r.wrong_per_day * cost_per_wrong
            if costed and cost_per_wrong is not None and r.wrong_per_day is not None
            else None
        )
        wrong_total += r.wrong_per_day or 0.0
        alarm = _alarm_cell(r, alarms)
        table.rows.append(
            [
                r.key[0],
                pct(r.share),
                str(r.reviewed),
                pct(r.accuracy),
                pct(r.ci_low),
                pct(r.ci_high),
                pct(r.uncovered_share),
                pct(prior.accuracy if prior else None),
                ARROWS[change.direction] if change else "",
                points(change.difference if change else None),
                points(change.ci_low if change else None),
                points(change.ci_high if change else None),
                pct(r.target),
                r.status,
                alarm,
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
                    "uncovered_share": r.uncovered_share,
                    "previous_accuracy": prior.accuracy if prior else None,
                    "change": change.difference if change else None,
                    "change_ci_low": change.ci_low if change else None,
                    "change_ci_high": change.ci_high if change else None,
                    "change_direction": change.direction if change else None,
                    "status": r.status,
                    "open_alarm": bool(alarm),
                    "wrong_per_day": r.wrong_per_day,
                    "cost_per_day": cost_day,
                }
            )
        )
    cost_total = wrong_total * cost_per_wrong if costed and cost_per_wrong is not None else None
    totals: dict[str, float | None] = {
        "wrong_per_day": wrong_total,
        "cost_per_day": cost_total,
        "cost_window": cost_total * days if cost_total is not None else None,
    }
    return current, table, totals
