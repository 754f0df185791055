"""The QA lead's pages: plans (with the preview and planner), queues, adjudication.

Only QA leads (and admins) may use them; reviewers and viewers get 403, anonymous users the
login page. The preview is an htmx fragment (`plan_form.html#preview`); without JavaScript the
"Preview" button posts the whole form and the page comes back with the preview filled in.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors
from .forms_plans import AdhocQueueForm, AdjudicateForm, BuildQueueForm, PlanForm
from .models import Plan, QueueItem
from .roles import QA_LEAD, role_required
from .selectors import adhoc_responses, disputed_items, plan_rows, queue_rows
from .services import ReviewError, item_adjudicate, plan_save, queue_build, queue_build_adhoc


@role_required(QA_LEAD)
def plan_list(request: HttpRequest) -> HttpResponse:
    return render(request, "review/plans.html", {"rows": plan_rows()})


def _preview_for(form: PlanForm) -> dict[str, Any]:
    """The preview context of a bound form: the numbers, or why there are none."""
    config = form.config_or_none() if form.is_valid() else None
    if config is None:
        return {
            "preview_error": "Fix the fields marked in red to see the preview:",
            "preview_fields": _errors_by_field(form),
        }
    data = form.cleaned_data
    points = data.get("planner_points")
    preview = selectors.plan_preview(
        config=config,
        sources=list(data["sources"]),
        plan=form.plan,
        planner_tier=(data.get("planner_tier") or "").strip(),
        planner_half_width=points / 100 if points else None,
    )
    return {"preview": preview}


def _errors_by_field(form: PlanForm) -> list[tuple[str, str, list[str]]]:
    """(field name, label, messages) per field in error, for the list beside the preview; an
    error of the whole design links to the form."""
    rows = []
    for name, errors in form.errors.items():
        if name in form.fields:
            rows.append((name, str(form.fields[name].label or name), list(errors)))
        else:
            rows.append(("plan-form", "The design", list(errors)))
    return rows


def _plan_form_page(request: HttpRequest, plan: Plan | None) -> HttpResponse:
    context: dict[str, Any] = {"plan": plan}
    if request.method == "POST":
        form = PlanForm(request.POST, plan=plan)
        if request.POST.get("action") == "preview":
            context.update(_preview_for(form))
        elif form.is_valid() and form.config_or_none() is not None:
            data = form.cleaned_data
            try:
                version = plan_save(
                    name=plan.name if plan else data["name"],
                    config=form.config_or_none() or {},
                    sources=list(data["sources"]),
                    reviewers=list(data["reviewers"]),
                    user=request.user,
                    description=data["description"],
                )
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"Saved {version}.")
                return redirect("review:plan", name=version.plan.name)
    else:
        form = PlanForm(initial=PlanForm.initial_for(plan) if plan else None, plan=plan)
    context["form"] = form
    return render(request, "review/plan_form.html", context)


@role_required(QA_LEAD)
@require_http_methods(["GET", "POST"])
def plan_create(request: HttpRequest) -> HttpResponse:
    return _plan_form_page(request, None)


@role_required(QA_LEAD)
@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, name: str) -> HttpResponse:
    plan = get_object_or_404(Plan, name=name)
    return _plan_form_page(request, plan)


@role_required(QA_LEAD)
@require_POST
def plan_preview(request: HttpRequest) -> HttpResponse:
    """htmx: the preview fragment for the form as it stands (a plain POST gets the page)."""
    plan = Plan.objects.filter(name=request.POST.get("plan", "")).first()
    form = PlanForm(request.POST, plan=plan)
    context = {"form": form, "plan": plan, **_preview_for(form)}
    template = "review/plan_form.html"
    if request.headers.get("HX-Request") != "true":
        return render(request, template, context)
    # htmx swaps the preview; the fields come along out of band, so each error shows (and a
    # fixed one clears) on its own field.
    preview = render_to_string(template + "#preview", context, request=request)
    fields = render_to_string(template + "#fields", {**context, "oob": True}, request=request)
    return HttpResponse(preview + fields)


@role_required(QA_LEAD)
def plan_detail(request: HttpRequest, name: str) -> HttpResponse:
    plan = get_object_or_404(Plan.objects.select_related("current_version"), name=name)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    return render(
        request,
        "review/plan_detail.html",
        {
            "plan": plan,
            "versions": plan.versions.prefetch_related("sources").select_related("created_by"),
            "queues": queue_rows(queues=plan.queues.all()),
            "build_form": BuildQueueForm(initial={"day": yesterday}),
            "latest_traffic_day": selectors.latest_traffic_day(
                sources=list(plan.current_version.sources.all()) if plan.current_version else []
            ),
            "adhoc_form": AdhocQueueForm(),
        },
    )


@role_required(QA_LEAD)
@require_POST
def plan_queue_build(request: HttpRequest, name: str) -> HttpResponse:
    plan = get_object_or_404(Plan, name=name)
    form = BuildQueueForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("review:plan", name=plan.name)
    day = form.cleaned_data["day"]
    try:
        queue, created = queue_build(
            plan=plan, day=day, seed=form.cleaned_data["seed"], user=request.user
        )
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("review:plan", name=plan.name)
    if created:
        messages.success(
            request,
            f"Built the queue for {day:%Y-%m-%d}: {queue.size} items from "
            f"{queue.population} responses (v{queue.plan_version.number}, seed {queue.seed}).",
        )
    else:
        messages.info(
            request,
            f"The queue for {day:%Y-%m-%d} is already built ({queue.size} items); nothing changed.",
        )
    return redirect("review:plan", name=plan.name)


@role_required(QA_LEAD)
@require_POST
def plan_queue_adhoc(request: HttpRequest, name: str) -> HttpResponse:
    plan = get_object_or_404(Plan, name=name)
    form = AdhocQueueForm(request.POST)
    if not form.is_valid() or plan.current_version is None:
        messages.error(request, "Choose a filter and a number of days (1–90).")
        return redirect("review:plan", name=plan.name)
    kind, days = form.cleaned_data["kind"], form.cleaned_data["days"]
    label = dict(AdhocQueueForm.FILTERS)[kind]
    queue = queue_build_adhoc(
        plan=plan,
        name=form.cleaned_data["name"] or f"{label}, last {days} days",
        responses=adhoc_responses(plan=plan, kind=kind, days=days),
        user=request.user,
        description=f"Ad hoc (non-probability): {label.lower()} in the last {days} days.",
    )
    messages.success(
        request,
        f"Built the ad-hoc queue “{queue.name}”: {queue.size} items. It is not a probability "
        "sample: it is reviewed like any other and never fed to estimates.",
    )
    return redirect("review:plan", name=plan.name)


@role_required(QA_LEAD)
def adjudication_list(request: HttpRequest) -> HttpResponse:
    items = list(disputed_items()[:200])
    return render(
        request,
        "review/adjudication.html",
        {"items": items, "form": AdjudicateForm()},
    )


@role_required(QA_LEAD)
@require_POST
def adjudication_decide(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(QueueItem, pk=item_id, is_gold=False)
    form = AdjudicateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the final verdict.")
        return redirect(reverse("review:adjudication") + f"#item-{item.pk}")
    try:
        item_adjudicate(
            item=item,
            verdict=form.cleaned_data["verdict"],
            user=request.user,
            comment=form.cleaned_data["comment"],
            gold=form.cleaned_data["gold"],
        )
    except ReviewError as exc:
        messages.error(request, str(exc))
    else:
        gold = " and marked it gold" if form.cleaned_data["gold"] else ""
        messages.success(request, f"Adjudicated item {item.pk}{gold}.")
    return redirect("review:adjudication")
