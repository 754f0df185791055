"""The report pages and who may read each one: the reports hub lists them, the menu links to
the hub, and the browser walk checks every page is reachable from the menu in two clicks.

One entry per page a person opens (downloads and htmx fragments are not pages). `question`
is the one line the hub shows: what the report answers, in plain words."""

from __future__ import annotations

from dataclasses import dataclass

from reviewapp.review.roles import QA_LEAD, REVIEWER, VIEWER, has_role

from .selectors import report_plans

# Who may open a page: "plans" = anyone who may read at least one plan's reports (QA leads,
# viewers, and reviewers of plans that let reviewers see reports); otherwise a set of roles.
PLAN_READERS = "plans"


@dataclass(frozen=True)
class ReportPage:
    url_name: str
    title: str
    question: str
    readers: str | tuple[str, ...] = PLAN_READERS


REPORT_PAGES: tuple[ReportPage, ...] = (
    ReportPage(
        "reports:tiers",
        "Tier report",
        "How often is each routing tier's answer correct, within what margin, and does it meet "
        "its target?",
    ),
    ReportPage(
        "reports:summary",
        "Leadership summary",
        "One printable page: every tier's accuracy, status and open alarms for a window.",
    ),
    ReportPage(
        "reports:trends",
        "Trends",
        "Is a tier's accuracy rising or falling from week to week, and is its traffic changing?",
    ),
    ReportPage(
        "reports:alarms",
        "Alarms",
        "Which tiers crossed a quality or drift limit, when, and has anyone looked at it?",
        (QA_LEAD, VIEWER),
    ),
    ReportPage(
        "reports:agreement",
        "Reviewer agreement",
        "Do reviewers agree with each other, and how much does their disagreement move "
        "the accuracy figures?",
    ),
    ReportPage(
        "reports:shadow",
        "Shadow comparison",
        "Where a second model answered the same question in the background, which answer did "
        "reviewers prefer?",
    ),
    ReportPage(
        "reports:cascade",
        "Cascade thresholds",
        "Which router confidence threshold would send enough traffic to the cheap tier while "
        "still meeting its target?",
    ),
    ReportPage(
        "sources",
        "Sources",
        "What was ingested from each source, per tier, and when was it last updated?",
        (QA_LEAD, VIEWER),
    ),
)


def readable_pages(*, user: object) -> list[ReportPage]:
    """The report pages `user` may open, in the hub's order (empty: the user reads none)."""
    reads_plans: bool | None = None
    pages = []
    for page in REPORT_PAGES:
        if page.readers == PLAN_READERS:
            if reads_plans is None:
                reads_plans = has_role(user, QA_LEAD, VIEWER) or bool(report_plans(user=user))
            allowed = reads_plans
        else:
            allowed = has_role(user, *page.readers)
        if allowed:
            pages.append(page)
    return pages


def reads_reports(*, user: object) -> bool:
    """Whether the menu shows "Reports": QA leads and viewers always; a reviewer when at least
    one of their plans lets reviewers see reports (one query, only for reviewers)."""
    if has_role(user, QA_LEAD, VIEWER):
        return True
    return has_role(user, REVIEWER) and bool(report_plans(user=user))
