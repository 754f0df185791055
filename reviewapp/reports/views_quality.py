"""Quality-of-review pages: reviewer agreement and reviewers (/reports/agreement/), shadow
comparison (/reports/shadow/), cascade threshold advice (/reports/cascade/) and the living
regression suite download (/reports/regression.zip).

Same access rules as the tier report (QA leads and viewers read every plan, a reviewer only
plans that let reviewers see reports, anyone else 403), read-only; every table has a CSV of
exactly its cells (`?…&format=csv&table=<name>`). The regression download holds production
queries and answers, so it is for QA leads only.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from reviewapp.review.roles import QA_LEAD, has_role

from .exports import Table, csv_response, export_filename
from .forms import ReportForm
from .regression import DEFAULT_DAYS, regression_export, regression_window, regression_zip
from .selectors_quality import agreement_report, cascade_report, shadow_report
from .tables import pct
from .views import _query, _readable_plans, _signed_in

AGREEMENT_TABLES = {
    "pairs": "Cohen's kappa per reviewer pair",
    "alpha": "Krippendorff's alpha",
    "reviewers": "reviewers",
    "correction": "Rogan-Gladen corrected accuracy per tier",
    "tags": "failure tags per tier",
}


def _form(request: HttpRequest) -> tuple[ReportForm, list[Any]]:
    plans = _readable_plans(request)
    return ReportForm.for_request(request.GET, plans=plans, with_by=False), plans


def _csv(kind: str, table: Table, form: ReportForm) -> HttpResponse:
    data = form.cleaned_data
    meta = {
        "plan": data["plan"],
        "start": data["start"],
        "end": data["end"],
        "generated": timezone.now(),
    }
    return csv_response(
        export_filename(kind, **meta),
        table.columns,
        iter(table.rows),
    )


@_signed_in
@require_safe
def agreement(request: HttpRequest) -> HttpResponse:
    form, plans = _form(request)
    context: dict[str, Any] = {"form": form, "plans": plans}
    if plans and form.is_valid():
        data = form.cleaned_data
        report = agreement_report(plan=data["plan_obj"], start=data["start"], end=data["end"])
        if request.GET.get("format") == "csv":
            name = request.GET.get("table", "")
            if name not in AGREEMENT_TABLES:
                raise Http404("No such table.")
            return _csv(f"agreement-{name}", getattr(report, name), form)
        context.update(
            report=report,
            csv_query={name: _query(form, format="csv", table=name) for name in AGREEMENT_TABLES},
            query=_query(form),
            can_export=has_role(request.user, QA_LEAD),
            regression_days=DEFAULT_DAYS,
        )
    return render(request, "reports/agreement.html", context)


@_signed_in
@require_safe
def shadow(request: HttpRequest) -> HttpResponse:
    form, plans = _form(request)
    context: dict[str, Any] = {"form": form, "plans": plans}
    if plans and form.is_valid():
        data = form.cleaned_data
        report = shadow_report(plan=data["plan_obj"], start=data["start"], end=data["end"])
        if request.GET.get("format") == "csv":
            return _csv("shadow", report.table, form)
        context.update(report=report, csv_query=_query(form, format="csv"))
    return render(request, "reports/shadow.html", context)


@_signed_in
@require_safe
def cascade(request: HttpRequest) -> HttpResponse:
    form, plans = _form(request)
    context: dict[str, Any] = {"form": form, "plans": plans}
    if plans and form.is_valid():
        data = form.cleaned_data
        report = cascade_report(
            plan=data["plan_obj"],
            start=data["start"],
            end=data["end"],
            cheap=request.GET.get("cheap") or None,
            capable=request.GET.get("capable") or None,
        )
        tiers = {"cheap": report.cheap or "", "capable": report.capable or ""}
        if request.GET.get("format") == "csv":
            kind = f"cascade-{tiers['cheap']}-to-{tiers['capable']}"
            return _csv(kind, report.table, form)
        context.update(
            report=report,
            csv_query=_query(form, format="csv", **tiers),
            target_pct=pct(report.target),
            capable_pct=pct(report.capable_accuracy),
        )
    return render(request, "reports/cascade.html", context)


@_signed_in
@require_safe
def regression_download(request: HttpRequest) -> HttpResponse:
    """The regression suite as a zip of `<tier>.jsonl` files and `manifest.json`."""
    if not has_role(request.user, QA_LEAD):
        raise PermissionDenied("The regression suite download is for QA leads.")
    plans = _readable_plans(request)
    plan = next((p for p in plans if p.name == request.GET.get("plan")), None)
    if plan is None:
        raise Http404("Choose a plan.")
    try:
        days = int(request.GET.get("days", DEFAULT_DAYS))
    except ValueError:
        days = DEFAULT_DAYS
    days = min(max(days, 1), 366)
    start, end = regression_window(plan=plan, days=days)
    body = regression_zip(regression_export(plan=plan, start=start, end=end))
    response = HttpResponse(body, content_type="application/zip")
    name = export_filename("regression", plan=plan.name, start=start, end=end)
    response["Content-Disposition"] = f'attachment; filename="{name[:-4]}.zip"'
    return response
