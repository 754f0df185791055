"""The alarms page: when, which tier, what crossed, and the evidence, in words and numbers.

QA leads and viewers read it (and download its CSV: exactly the table shown); QA leads
acknowledge or close an alarm and can recompute a plan's quality alarms. Every POST is QA-lead
only: a viewer gets 403, an anonymous user the login page. Reviewers and users without a role
get 403 on the page too.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from reviewapp.review.models import Plan
from reviewapp.review.roles import QA_LEAD, VIEWER, has_role, role_required

from .models import Alarm
from .selectors import alarm_queryset
from .services import (
    AlarmError,
    alarm_acknowledge,
    alarm_baseline_set,
    alarm_baseline_window,
    alarm_close,
    alarm_describe,
    quality_alarm_promise,
)

STATUS_CHOICES = [("active", "Open or acknowledged"), ("all", "All")] + [
    (value, label) for value, label in Alarm.Status.choices
]
COLUMNS = [
    "Day of data",
    "Opened (UTC)",
    "Plan or source",
    "Tier",
    "Kind",
    "Level",
    "What crossed",
    "Status",
    "Acknowledged by",
    "Notified (UTC)",
]
PAGE_LIMIT = 500


class AlarmFilterForm(forms.Form):
    plan = forms.ChoiceField(required=False, label="Plan")
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, label="Status")
    kind = forms.ChoiceField(
        required=False, choices=[("", "Any kind"), *Alarm.Kind.choices], label="Kind"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", "Every plan and source")] + [
            (name, name) for name in Plan.objects.order_by("name").values_list("name", flat=True)
        ]


class RecomputeForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.all(), to_field_name="name")
    day = forms.DateField(
        required=False,
        help_text="Empty: every queue day of the plan.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class BaselineForm(forms.Form):
    """A plan's in-control window for its quality alarms: queue days known to be good."""

    plan = forms.ModelChoiceField(queryset=Plan.objects.all(), to_field_name="name")
    start = forms.DateField(
        required=False, label="First day", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="Last day", widget=forms.DateInput(attrs={"type": "date"})
    )
    use_default = forms.BooleanField(
        required=False, label="Use the default (the plan's first queue days)"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("use_default"):
            return data
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            raise forms.ValidationError(
                "Give the first and the last day of the baseline, or tick the default."
            )
        if end < start:
            raise forms.ValidationError("The baseline's last day is before its first day.")
        return data


def baseline_rows(plan_name: str = "") -> list[dict[str, Any]]:
    """Each active plan's (or the chosen plan's) quality baseline, as the page shows it."""
    plans = Plan.objects.order_by("name")
    plans = plans.filter(name=plan_name) if plan_name else plans.filter(active=True)
    return [{"plan": plan, "window": alarm_baseline_window(plan)} for plan in plans]


def _when(value: dt.datetime | None) -> str:
    return f"{value.astimezone(dt.UTC):%Y-%m-%d %H:%M}" if value else ""


def alarm_row(alarm: Alarm) -> list[str]:
    """One line of the table, as the page and the CSV show it."""
    return [
        f"{alarm.day:%Y-%m-%d}",
        _when(alarm.opened_at),
        alarm.subject,
        alarm.tier,
        alarm.get_kind_display(),
        alarm.get_level_display(),
        alarm_describe(alarm),
        alarm.get_status_display(),
        alarm.acknowledged_by.get_username() if alarm.acknowledged_by else "",
        _when(alarm.notified_at),
    ]


def _evidence_items(alarm: Alarm) -> list[tuple[str, str]]:
    out = []
    for key, value in sorted((alarm.evidence or {}).items()):
        if key == "drivers":
            continue
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        out.append((key.replace("_", " "), text))
    return out


@role_required(QA_LEAD, VIEWER)
@require_safe
def alarm_list(request: HttpRequest) -> HttpResponse:
    form = AlarmFilterForm(request.GET or None)
    filters = {"plan": "", "status": "active", "kind": ""}
    if form.is_bound and form.is_valid():
        filters.update({k: v for k, v in form.cleaned_data.items() if v})
    alarms = list(alarm_queryset(**filters)[:PAGE_LIMIT])
    if request.GET.get("format") == "csv":
        from .exports import csv_response, safe_filename

        now = timezone.now()
        label = filters["plan"] or "all"
        return csv_response(
            safe_filename(
                "-".join(
                    ["longtail-alarms", label, filters["status"]]
                    + ([filters["kind"]] if filters["kind"] else [])
                    + [f"{now:%Y%m%dT%H%M%SZ}"]
                )
            ),
            COLUMNS,
            (alarm_row(a) for a in alarms),
        )
    rows = [{"alarm": a, "cells": alarm_row(a), "evidence": _evidence_items(a)} for a in alarms]
    query = request.GET.copy()
    query["format"] = "csv"
    return render(
        request,
        "reports/alarms.html",
        {
            "form": form if form.is_bound else AlarmFilterForm(initial=filters),
            "columns": COLUMNS,
            "rows": rows,
            "limit": PAGE_LIMIT,
            "csv_query": query.urlencode(),
            "can_change": has_role(request.user, QA_LEAD),
            "recompute_form": RecomputeForm(initial={"plan": filters["plan"] or None}),
            "baselines": baseline_rows(filters["plan"]),
            "baseline_form": BaselineForm(initial={"plan": filters["plan"] or None}),
            "promise": quality_alarm_promise(),
        },
    )


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target.startswith("/reports/alarms/") and "//" not in target:
        return redirect(target)
    return redirect("reports:alarms")


@role_required(QA_LEAD)
@require_POST
def alarm_change(request: HttpRequest, alarm_id: int, action: str) -> HttpResponse:
    alarm = get_object_or_404(Alarm, pk=alarm_id)
    change = {"acknowledge": alarm_acknowledge, "close": alarm_close}[action]
    try:
        change(alarm=alarm, user=request.user)
    except AlarmError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"{alarm}: {'acknowledged' if action == 'acknowledge' else 'closed'}."
        )
    return _back(request)


@role_required(QA_LEAD)
@require_POST
def alarm_recompute(request: HttpRequest) -> HttpResponse:
    """Send the plan's quality-alarm computation for a day, or for every queue day."""
    from .tasks import compute_alarms_for_day, compute_alarms_for_plan

    form = RecomputeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a plan (and a valid day, or none).")
        return _back(request)
    plan = form.cleaned_data["plan"]
    day = form.cleaned_data["day"]
    if day:
        compute_alarms_for_day.delay(plan.pk, day.isoformat())
        messages.success(request, f"Recomputing {plan.name}'s quality alarms for {day:%Y-%m-%d}.")
    else:
        compute_alarms_for_plan.delay(plan.pk)
        messages.success(request, f"Recomputing {plan.name}'s quality alarms for every queue day.")
    return _back(request)


@role_required(QA_LEAD)
@require_POST
def alarm_baseline(request: HttpRequest) -> HttpResponse:
    """Set (or reset to the default) a plan's quality-alarm baseline window."""
    form = BaselineForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return _back(request)
    plan = form.cleaned_data["plan"]
    if form.cleaned_data.get("use_default"):
        alarm_baseline_set(plan=plan, start=None, end=None, user=request.user)
        messages.success(request, f"{plan.name}: the quality baseline is the default again.")
    else:
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        try:
            alarm_baseline_set(plan=plan, start=start, end=end, user=request.user)
        except AlarmError as exc:
            messages.error(request, str(exc))
            return _back(request)
        messages.success(
            request,
            f"{plan.name}: quality baseline set to {start:%Y-%m-%d} – {end:%Y-%m-%d}; "
            "recompute its alarms to apply it to past days.",
        )
    return _back(request)
