from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from reviewapp.review.roles import QA_LEAD, REVIEWER, VIEWER, has_role, role_required

from .selectors import source_overview


@role_required(REVIEWER, QA_LEAD, VIEWER)
def home(request: HttpRequest) -> HttpResponse:
    # QA leads and leadership land on the tier report; reviewers work in their queues.
    if has_role(request.user, QA_LEAD, VIEWER):
        return redirect("reports:tiers")
    return redirect("review:queues")


@role_required(QA_LEAD, VIEWER)
def sources(request: HttpRequest) -> HttpResponse:
    """The overview of sources: what was ingested, per tier."""
    return render(request, "responses/home.html", {"sources": source_overview()})
