"""The trends page (/reports/trends/): per tier, accuracy per day or ISO week with its 95 %
interval, thumbs-down and handoff rates per 1,000 answers, router-confidence drift (PSI), each
as a chart (drawn by static/charts.js from JSON put in the page by `json_script`) and the same
numbers as a table with a CSV download (`?…&format=csv&table=accuracy|feedback|drift`).

Clicking a drift day loads the reference vs production histograms into the page (htmx); the
same link opens them as a page of their own without JavaScript (/reports/trends/drift/).

Who may read: as the other report pages (QA leads and viewers; reviewers when the plan allows).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from reviewapp.review.models import Plan

from . import trends
from .exports import csv_response, export_filename
from .forms import ReportForm
from .selectors import default_plan, default_window
from .views import _query, _readable_plans, _signed_in

TEMPLATE = "reports/trends.html"
DRIFT_TEMPLATE = "reports/drift.html"
TREND_DAYS = 28
TABLES = {"accuracy": "accuracy trend", "feedback": "feedback rates", "drift": "confidence drift"}


class TrendsForm(ReportForm):
    """The report parameters plus `period` (week, the default, | day); the window defaults to
    28 days."""

    period = forms.ChoiceField(choices=[("week", "Weekly (ISO)"), ("day", "Daily")])

    @classmethod
    def for_request(cls, query: Any, *, plans: list[Plan], with_by: bool = False) -> ReportForm:
        data = {k: query.get(k) for k in ("plan", "start", "end", "method") if query.get(k)}
        if not ("start" in data and "end" in data):
            chosen = next((p for p in plans if p.name == data.get("plan")), None)
            chosen = chosen or default_plan(plans)
            window = default_window(plan=chosen, days=TREND_DAYS) if chosen else None
            if window is not None:
                data.setdefault("start", window[0].isoformat())
                data.setdefault("end", window[1].isoformat())
        form = super().for_request(data, plans=plans, with_by=False)
        # Weekly by default: a week holds about seven days of reviews, so its interval is
        # readable where a day's often spans half the axis.
        form.data = {**form.data, "period": query.get("period") or "week"}
        return form


def _csv(table_name: str, table: Any, *, plan: Plan, start: dt.date, end: dt.date, method: str):  # type: ignore[no-untyped-def]
    meta = {"plan": plan.name, "start": start, "end": end, "generated": timezone.now()}
    return csv_response(
        export_filename(f"trends-{table_name}", method=method, **meta),
        table.columns,
        iter(table.rows),
    )


@_signed_in
@require_safe
def trends_page(request: HttpRequest) -> HttpResponse:
    plans = _readable_plans(request)
    form = TrendsForm.for_request(request.GET, plans=plans)
    context: dict[str, Any] = {"form": form, "plans": plans}
    if plans and form.is_valid():
        data = form.cleaned_data
        plan, start, end = data["plan_obj"], data["start"], data["end"]
        period, method = data["period"], data["method"]
        wanted = request.GET.get("table") if request.GET.get("format") == "csv" else None
        if wanted is not None and wanted not in TABLES:
            raise Http404("No such table.")
        accuracy = feedback = drifts = None
        if wanted in (None, "accuracy"):
            accuracy = trends.accuracy_series(
                plan=plan, start=start, end=end, period=period, method=method
            )
        if wanted in (None, "feedback"):
            feedback = trends.feedback_series(plan=plan, start=start, end=end)
        if wanted in (None, "drift"):
            drifts = trends.drift_series(plan=plan, start=start, end=end)
        if wanted == "accuracy" and accuracy is not None:
            table = trends.accuracy_table(accuracy)
            return _csv(wanted, table, plan=plan, start=start, end=end, method=f"{method}-{period}")
        if wanted == "feedback" and feedback is not None:
            table = trends.feedback_table(feedback)
            return _csv(wanted, table, plan=plan, start=start, end=end, method="wilson")
        if wanted == "drift" and drifts is not None:
            table = trends.drift_table(drifts)
            return _csv(wanted, table, plan=plan, start=start, end=end, method="psi")
        assert accuracy is not None and feedback is not None and drifts is not None
        drift_table = trends.drift_table(drifts)
        context.update(
            plan=plan,
            start=start,
            end=end,
            period=period,
            method=method,
            empty=not (accuracy or feedback or drifts),
            accuracy_table=trends.accuracy_table(accuracy),
            feedback_table=trends.feedback_table(feedback),
            drift_table=drift_table,
            drift_day_column=trends.drift_day_column(drift_table),
            drift_links=[
                (row, _query(form, source=p.source, tier=p.tier, day=p.day.isoformat()))
                for row, p in zip(drift_table.rows, drifts, strict=True)
            ],
            charts=trends.chart_data(
                accuracy,
                feedback,
                drifts,
                drift_alarms=trends.drift_alarm_days(plan=plan, start=start, end=end),
            ),
            query=_query(form),
            csv_query={name: _query(form, format="csv", table=name) for name in TABLES},
        )
    return render(request, TEMPLATE, context)


@_signed_in
@require_safe
def drift_day(request: HttpRequest) -> HttpResponse:
    """Reference vs production router confidence of one source, tier and day (`source` may be
    left out when the plan has one): a fragment for htmx, a page otherwise."""
    plans = _readable_plans(request)
    form = TrendsForm.for_request(request.GET, plans=plans)
    if not plans or not form.is_valid():
        raise Http404("No such plan or window.")
    plan = form.cleaned_data["plan_obj"]
    tier = request.GET.get("tier", "")
    try:
        day = dt.date.fromisoformat(request.GET.get("day", ""))
    except ValueError as exc:
        raise Http404("Give a day as YYYY-MM-DD.") from exc
    if tier not in trends.drift_tiers(plan=plan, start=day, end=day):
        raise Http404("This tier has no queue on this day.")
    if plan not in plans:
        raise PermissionDenied
    sources = trends.plan_sources(plan)
    name = request.GET.get("source", "")
    if name:
        source = next((s for s in sources if s.name == name), None)
        if source is None:
            raise Http404("This source is not one of the plan's.")
    elif len(sources) == 1:
        source = sources[0]
    else:
        raise Http404("The plan has several sources: give one as ?source=NAME.")
    histogram = trends.drift_histogram(plan=plan, source=source, tier=tier, day=day)
    context = {
        "plan": plan,
        "histogram": histogram,
        "histogram_chart": trends.histogram_chart(histogram),
        "histogram_rows": list(
            zip(
                trends.histogram_chart(histogram)["labels"],
                [f"{100 * v:.1f}" for v in histogram.reference_share],
                [f"{100 * v:.1f}" for v in histogram.production_share],
                strict=True,
            )
        ),
        "back_query": _query(form),
    }
    template = f"{DRIFT_TEMPLATE}#histogram" if request.htmx else DRIFT_TEMPLATE
    return render(request, template, context)
