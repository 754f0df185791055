"""The reviewer's pages: their queues, the review page (claim, score, skip, undo), history.

The review page is one template; its `item` fragment is what every htmx action swaps in, so a
submission saves and returns the next item in one round trip. Without JavaScript the same forms
post and redirect back to the page (post/redirect/get).

Blind mode is enforced here by never putting tier, model, confidence, OOD or stratum into the
template context: what is not in the context cannot leak into the HTML.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from .forms import RubricForm, SkipForm, SubmitForm, plan_tags, tag_keys
from .models import Claim, Queue, QueueItem, Review
from .rendering import markdown_safe
from .roles import QA_LEAD, REVIEWER
from .roles import role_required as _role_required
from .selectors import (
    queue_overview,
    queue_progress,
    queue_to_review,
    review_audit_trail,
    review_last_undoable,
    reviews_of,
)
from .services import (
    EDIT_SECONDS,
    ReviewError,
    claim_next,
    item_skip,
    review_edit,
    review_submit,
    review_undo,
)

TEMPLATE = "review/review.html"
reviewer_required = _role_required(REVIEWER, QA_LEAD)


def _queue_for(request: HttpRequest, queue_id: int) -> Queue:
    queue, allowed = queue_to_review(user=request.user, pk=queue_id)
    if queue is None:
        raise Http404("No such queue.")
    if not allowed:
        raise PermissionDenied("You are not a reviewer of this plan.")
    return queue


def _context_messages(metadata: dict[str, Any]) -> list[dict[str, str]]:
    """The conversation before the query, if the record carries it (metadata "context",
    "conversation" or "messages"). Only these keys are read: the rest of metadata may name the
    tier or model."""
    raw = metadata.get("context") or metadata.get("conversation") or metadata.get("messages")
    if isinstance(raw, str):
        return [{"role": "", "content": raw}]
    if not isinstance(raw, list):
        return []
    out = []
    for turn in raw[-20:]:
        if isinstance(turn, dict):
            out.append(
                {"role": str(turn.get("role", ""))[:40], "content": str(turn.get("content", ""))}
            )
        elif isinstance(turn, str):
            out.append({"role": "", "content": turn})
    return out


def _answer(label: str, text: str, served: bool) -> dict[str, Any]:
    return {"label": label, "html": markdown_safe(text), "raw": text, "served": served}


def _item_context(
    request: HttpRequest,
    queue: Queue,
    item: QueueItem | None,
    *,
    form: RubricForm | None = None,
    skip_form: SkipForm | None = None,
    error: str = "",
    notice: str = "",
) -> dict[str, Any]:
    version = queue.plan_version
    tags = plan_tags(version)
    progress = queue_progress(queue=queue, user=request.user)
    context: dict[str, Any] = {
        "queue": queue,
        "progress": progress,
        "undoable": progress.can_undo,
        "error": error,
        "notice": notice,
        "item": None,
        "blind": version.blind,
        "tag_keys": tag_keys(tags),
    }
    if item is None:
        return context
    response = item.response
    pairwise = bool(item.served_side) and response.shadow_response is not None
    answers = []
    if pairwise:
        other = "B" if item.served_side == "A" else "A"
        by_side = {
            item.served_side: _answer(item.served_side, response.response, True),
            other: _answer(other, response.shadow_response or "", False),
        }
        answers = [by_side["A"], by_side["B"]]
    else:
        answers = [_answer("", response.response, True)]
    form = form or SubmitForm(tags=tags, pairwise=pairwise, initial={"item": item.pk})
    context.update(
        item={
            "pk": item.pk,
            "query": response.query,
            "conversation": _context_messages(response.metadata or {}),
            "answers": answers,
            "pairwise": pairwise,
            "served_side": item.served_side if pairwise else "",
        },
        form=form,
        selected_tags=set(_form_value(form, "failure_tags") or []),
        selected_verdict=_form_value(form, "verdict") or "",
        selected_helpfulness=str(_form_value(form, "helpfulness") or ""),
        selected_preference=_form_value(form, "preference") or "",
        comment=_form_value(form, "comment") or "",
        skip_form=skip_form or SkipForm(initial={"item": item.pk}),
    )
    if not version.blind:
        # Only ever computed when the plan is not blind.
        context["reveal"] = {
            "tier": response.tier,
            "model": response.model,
            "shadow_model": response.shadow_model,
            "router_confidence": response.router_confidence,
            "uncertainty": response.uncertainty,
            "ood_percentile": response.ood_percentile,
            "stratum": item.stratum.key if item.stratum_id else "",
            "inclusion_probability": item.inclusion_probability,
        }
    return context


def _form_value(form: RubricForm, name: str) -> Any:
    if name not in form.fields:
        return None
    if form.is_bound:
        if name == "failure_tags":
            return form.data.getlist(name) if hasattr(form.data, "getlist") else form.data.get(name)
        return form.data.get(name)
    return form.initial.get(name)


def _claim_item(queue: Queue, user: Any) -> QueueItem | None:
    claim = claim_next(queue=queue, reviewer=user)
    return None if claim is None else claim.item


def _render_item(request: HttpRequest, queue: Queue, **kwargs: Any) -> HttpResponse:
    """The next item for this reviewer: the fragment for htmx, the page otherwise."""
    item = kwargs.pop("item", None) or _claim_item(queue, request.user)
    status = kwargs.pop("status", 200)
    context = _item_context(request, queue, item, **kwargs)
    template = f"{TEMPLATE}#item" if request.htmx else TEMPLATE
    # An htmx request gets 200 even for a form error, so that the fragment is swapped in.
    return render(request, template, context, status=200 if request.htmx else status)


def _posted_item(request: HttpRequest, queue: Queue) -> QueueItem:
    try:
        pk = int(request.POST.get("item", ""))
    except ValueError as exc:
        raise Http404("No item.") from exc
    item = get_object_or_404(
        QueueItem.objects.select_related("response", "stratum").defer("response__embedding"),
        pk=pk,
        queue=queue,
    )
    item.queue = queue  # loaded already, with its plan version
    return item


def _time_spent_ms(form: SubmitForm, item: QueueItem, user: Any) -> int | None:
    measured = form.cleaned_data.get("time_spent_ms")
    if measured is not None:
        return measured
    claim = (
        Claim.objects.filter(item=item, reviewer=user, released_at__isnull=True)
        .order_by("-claimed_at")
        .first()
    )
    if claim is None:
        return None
    return int((timezone.now() - claim.claimed_at).total_seconds() * 1000)


def _after_post(request: HttpRequest, queue: Queue, notice: str) -> HttpResponse:
    if request.htmx:
        return _render_item(request, queue, notice=notice)
    messages.success(request, notice)
    return redirect("review:queue", queue_id=queue.pk)


# --- pages ----------------------------------------------------------------------------------


@reviewer_required
def queue_list(request: HttpRequest) -> HttpResponse:
    """The reviewer's queues with progress."""
    rows = queue_overview(user=request.user)
    return render(request, "review/queues.html", {"rows": rows})


@reviewer_required
@require_http_methods(["GET", "POST"])
def queue_review(request: HttpRequest, queue_id: int) -> HttpResponse:
    """Claim the reviewer's next item of the queue and show it (POST = submit the rubric)."""
    queue = _queue_for(request, queue_id)
    if request.method == "POST":
        return _submit(request, queue)
    return _render_item(request, queue)


def _submit(request: HttpRequest, queue: Queue) -> HttpResponse:
    item = _posted_item(request, queue)
    tags = plan_tags(queue.plan_version)
    pairwise = bool(item.served_side) and item.response.shadow_response is not None
    form = SubmitForm(request.POST, tags=tags, pairwise=pairwise)
    if not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _render_item(request, queue, item=item, form=form, error=error, status=400)
    data = form.cleaned_data
    try:
        review_submit(
            item=item,
            reviewer=request.user,
            verdict=data["verdict"],
            failure_tags=data["failure_tags"],
            helpfulness=data["helpfulness"],
            comment=data["comment"],
            preference=data.get("preference") or "",
            time_spent_ms=_time_spent_ms(form, item, request.user),
        )
    except ReviewError as exc:
        if request.htmx:
            # The item is gone or already reviewed: show whatever comes next, with the reason.
            return _render_item(request, queue, error=str(exc))
        messages.error(request, str(exc))
        return redirect("review:queue", queue_id=queue.pk)
    verdict = Review.Verdict(data["verdict"]).label.lower()
    return _after_post(request, queue, f"Saved: {verdict}.")


@reviewer_required
@require_POST
def queue_skip(request: HttpRequest, queue_id: int) -> HttpResponse:
    queue = _queue_for(request, queue_id)
    item = _posted_item(request, queue)
    form = SkipForm(request.POST)
    if not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _render_item(request, queue, item=item, skip_form=form, error=error, status=400)
    try:
        item_skip(item=item, reviewer=request.user, reason=form.cleaned_data["reason"])
    except ReviewError as exc:
        return _render_item(request, queue, item=item, error=str(exc), status=400)
    return _after_post(request, queue, "Skipped.")


@reviewer_required
@require_POST
def queue_undo(request: HttpRequest, queue_id: int) -> HttpResponse:
    """Take back the reviewer's last submission in this queue (within 5 minutes) and show that
    item again with the verdict that was given, ready to be re-scored."""
    queue = _queue_for(request, queue_id)
    review = review_last_undoable(queue=queue, user=request.user)
    if review is None:
        message = "Nothing to undo: undo works for 5 minutes after a submission."
        if request.htmx:
            return _render_item(request, queue, error=message)
        messages.error(request, message)
        return redirect("review:queue", queue_id=queue.pk)
    before = {
        "verdict": review.verdict,
        "failure_tags": list(review.failure_tags or []),
        "helpfulness": review.helpfulness,
        "comment": review.comment,
        "preference": review.preference,
    }
    try:
        item = review_undo(review=review, reviewer=request.user)
    except ReviewError as exc:
        if request.htmx:
            return _render_item(request, queue, error=str(exc))
        messages.error(request, str(exc))
        return redirect("review:queue", queue_id=queue.pk)
    if not request.htmx:
        messages.success(request, "Undone: score this item again.")
        return redirect("review:queue", queue_id=queue.pk)
    item = QueueItem.objects.select_related("response", "stratum").get(pk=item.pk)
    pairwise = bool(item.served_side) and item.response.shadow_response is not None
    form = SubmitForm(
        tags=plan_tags(queue.plan_version), pairwise=pairwise, initial={"item": item.pk, **before}
    )
    return _render_item(
        request, queue, item=item, form=form, notice="Undone: score this item again."
    )


@reviewer_required
def history(request: HttpRequest) -> HttpResponse:
    """The reviewer's own reviews, newest first, with each one's audit trail."""
    page = Paginator(reviews_of(user=request.user), 25).get_page(request.GET.get("page"))
    reviews = list(page.object_list)
    trail = review_audit_trail(review_ids=[r.pk for r in reviews])
    now = timezone.now()
    rows = [
        {
            "review": r,
            "editable": (now - r.created_at).total_seconds() <= EDIT_SECONDS,
            "edit_until": r.created_at + dt.timedelta(seconds=EDIT_SECONDS),
            "audit": [_audit_row(entry) for entry in trail.get(r.pk, [])],
        }
        for r in reviews
    ]
    return render(request, "review/history.html", {"page": page, "rows": rows})


def _audit_row(entry: Any) -> dict[str, Any]:
    before, after = entry.before or {}, entry.after or {}
    changes = [
        {"field": k, "before": before.get(k), "after": after.get(k)}
        for k in ("verdict", "failure_tags", "helpfulness", "comment", "preference")
        if before.get(k) != after.get(k)
    ]
    return {"entry": entry, "changes": changes}


@reviewer_required
@require_http_methods(["GET", "POST"])
def review_change(request: HttpRequest, review_id: int) -> HttpResponse:
    """Edit one's own review within the edit window; every change is audited."""
    review = get_object_or_404(
        Review.objects.select_related("item__queue__plan_version", "item__response"),
        pk=review_id,
        reviewer=request.user,
    )
    item = review.item
    tags = plan_tags(item.queue.plan_version)
    pairwise = bool(item.served_side) and item.response.shadow_response is not None
    editable = (timezone.now() - review.created_at).total_seconds() <= EDIT_SECONDS
    error = ""
    if request.method == "POST" and editable:
        form = RubricForm(request.POST, tags=tags, pairwise=pairwise)
        if form.is_valid():
            changes = {k: v for k, v in form.cleaned_data.items() if k in form.fields}
            try:
                review_edit(review=review, reviewer=request.user, changes=changes)
            except ReviewError as exc:
                error = str(exc)
            else:
                messages.success(request, "Review updated.")
                return redirect(f"{reverse('review:history')}#review-{review.pk}")
    else:
        form = RubricForm(
            tags=tags,
            pairwise=pairwise,
            initial={
                "verdict": review.verdict,
                "failure_tags": review.failure_tags,
                "helpfulness": review.helpfulness,
                "comment": review.comment,
                "preference": review.preference,
            },
        )
    trail = review_audit_trail(review_ids=[review.pk])[review.pk]
    return render(
        request,
        "review/history.html",
        {
            "mode": "edit",
            "review": review,
            "form": form,
            "editable": editable,
            "error": error,
            "answer_html": markdown_safe(review.item.response.response),
            "audit": [_audit_row(entry) for entry in trail],
            "tag_keys": tag_keys(tags),
        },
        status=400 if error or (request.method == "POST" and form.errors) else 200,
    )
