from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from reviewapp.review.roles import QA_LEAD, REVIEWER, VIEWER, has_role, role_required

from .selectors import source_overview


@role_required(REVIEWER, QA_LEAD, VIEWER)
def home(request: HttpRequest) -> HttpResponse:
    # Reviewers work in their queues; the overview of sources is for QA leads and leadership.
    if not has_role(request.user, QA_LEAD, VIEWER):
        return redirect("review:queues")
    return render(request, "responses/home.html", {"sources": source_overview()})
