"""Report pages: the tier report (the landing page of QA leads and viewers) with its drill-downs
and the long-tail view, and the one-page leadership summary. Each table has a CSV download of
exactly what the page shows (`?…&format=csv`: same table object, same cells).

Who may read: QA leads and viewers every plan; a reviewer only the plans they review whose
current version has `reviewers_see_reports`; anyone else 403; anonymous users the login page.
Reports are read-only: any method but GET/HEAD is 405.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from reviewapp.review.models import Plan

from .exports import csv_response, export_filename
from .forms import ReportForm, SummaryForm
from .selectors import open_alarms, report_plans
from .tables import BY_CHOICES, summary_table, tier_report

#: The summary lists this many of the plan's open alarms (the count is of all of them).
SUMMARY_ALARMS = 10


def _readable_plans(request: HttpRequest) -> list[Plan]:
    """The plans the user may read; raises (login redirect / 403) when they may read none."""
    from reviewapp.review.roles import QA_LEAD, VIEWER, has_role

    plans = report_plans(user=request.user)
    if not plans and not has_role(request.user, QA_LEAD, VIEWER):
        raise PermissionDenied("Your role does not allow reports.")
    asked = request.GET.get("plan")
    if asked and asked not in {p.name for p in plans} and Plan.objects.filter(name=asked).exists():
        raise PermissionDenied("You may not read this plan's reports.")
    return plans


def _signed_in(view):  # type: ignore[no-untyped-def]
    from functools import wraps

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


def _query(form: ReportForm, **extra: str) -> str:
    """The form's cleaned parameters as a query string (for links and the CSV download)."""
    params = {
        k: str(v) for k, v in form.cleaned_data.items() if k in form.fields and v not in (None, "")
    }
    params.update(extra)
    return urlencode(params)


@_signed_in
@require_safe
def tiers(request: HttpRequest) -> HttpResponse:
    plans = _readable_plans(request)
    form = ReportForm.for_request(request.GET, plans=plans)
    context: dict[str, Any] = {"form": form, "plans": plans, "by_choices": BY_CHOICES}
    if plans and form.is_valid():
        data = form.cleaned_data
        report = tier_report(
            plan=data["plan_obj"],
            start=data["start"],
            end=data["end"],
            method=data["method"],
            by=data["by"],
        )
        if request.GET.get("format") == "csv":
            generated = timezone.now()
            kind = "tiers" if report.by == "tier" else f"tiers-by-{report.by}"
            meta = {
                "plan": report.plan.name,
                "start": report.start,
                "end": report.end,
                "method": report.method,
                "generated": generated,
            }
            return csv_response(
                export_filename(kind, **meta),
                report.table.columns,
                iter(report.table.rows),
            )
        context.update(
            report=report,
            query=_query(form),
            csv_query=_query(form, format="csv"),
            by_links=[(key, label, _query(form, by=key)) for key, (label, _) in BY_CHOICES.items()],
        )
    if request.htmx:
        return render(request, "reports/tiers.html#report", context)
    return render(request, "reports/tiers.html", context)


@_signed_in
@require_safe
def summary(request: HttpRequest) -> HttpResponse:
    plans = _readable_plans(request)
    form = SummaryForm.for_request(request.GET, plans=plans)
    context: dict[str, Any] = {"form": form, "plans": plans}
    if plans and form.is_valid():
        data = form.cleaned_data
        cost = float(data["cost_per_wrong"]) if data.get("cost_per_wrong") else None
        report, table, totals = summary_table(
            plan=data["plan_obj"],
            start=data["start"],
            end=data["end"],
            method=data["method"],
            cost_per_wrong=cost,
        )
        if request.GET.get("format") == "csv":
            meta = {
                "plan": report.plan.name,
                "start": report.start,
                "end": report.end,
                "method": report.method,
                "generated": timezone.now(),
            }
            return csv_response(
                export_filename("summary", **meta),
                table.columns,
                iter(table.rows),
            )
        length = (data["end"] - data["start"]).days + 1
        alarms = open_alarms(plan=report.plan)
        context.update(
            report=report,
            table=table,
            totals=totals,
            cost_per_wrong=cost,
            window_days=length,
            previous_start=data["start"] - dt.timedelta(days=length),
            previous_end=data["start"] - dt.timedelta(days=1),
            alarms=alarms[:SUMMARY_ALARMS],
            alarm_count=alarms.count(),
            alarms_query=urlencode({"plan": report.plan.name}),
            generated=timezone.now(),
            csv_query=_query(form, format="csv"),
            tiers_query=_query(form),
        )
    return render(request, "reports/summary.html", context)
