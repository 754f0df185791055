"""Query-string forms of the report pages: plan, window, interval method, split."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from reviewapp.review.models import Plan

from .selectors import METHODS, default_plan, default_window
from .tables import BY_CHOICES

#: The longest window a report reads (the 90-day report of issue 5 fits, with room).
MAX_WINDOW_DAYS = 366
ISO = "%Y-%m-%d"


class ReportForm(forms.Form):
    """GET parameters of a report: `plan` (a name among the plans the user may read), `start`
    and `end` (YYYY-MM-DD, inclusive; both default to the last 14 days of the plan's queues),
    `method` (wilson | korn-graubard) and `by` (the split).

    Build it with `ReportForm.for_request(request.GET, plans=...)`: missing values are filled
    with the defaults before validation, so the page always shows what it computed.
    """

    plan = forms.ChoiceField(choices=())
    start = forms.DateField(
        input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"})
    )
    method = forms.ChoiceField(
        choices=[(m, "Wilson" if m == "wilson" else "Korn–Graubard") for m in METHODS],
        initial="wilson",
    )
    by = forms.ChoiceField(choices=[(k, label) for k, (label, _) in BY_CHOICES.items()])

    def __init__(self, *args: Any, plans: list[Plan], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plans = {p.name: p for p in plans}
        self.fields["plan"].choices = [(p.name, p.name) for p in plans]

    @classmethod
    def for_request(cls, query: Any, *, plans: list[Plan], with_by: bool = True) -> ReportForm:
        data = {k: query.get(k) for k in ("plan", "start", "end", "method", "by") if query.get(k)}
        if "plan" not in data:
            plan = default_plan(plans)
            if plan is not None:
                data["plan"] = plan.name
        chosen = next((p for p in plans if p.name == data.get("plan")), None)
        if chosen is not None and not ("start" in data and "end" in data):
            window = default_window(plan=chosen)
            if window is None:
                today = dt.date.today()
                window = (today - dt.timedelta(days=13), today)
            data.setdefault("start", window[0].isoformat())
            data.setdefault("end", window[1].isoformat())
        data.setdefault("method", "wilson")
        data.setdefault("by", "tier")
        form = cls(data, plans=plans)
        if not with_by:
            del form.fields["by"]
        return form

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                self.add_error("end", "The window ends before it starts.")
            elif (end - start).days + 1 > MAX_WINDOW_DAYS:
                self.add_error("end", f"A window is at most {MAX_WINDOW_DAYS} days long.")
        if data.get("plan"):
            data["plan_obj"] = self.plans[data["plan"]]
        return data


class SummaryForm(ReportForm):
    """The leadership summary's parameters: a report window plus the cost of one wrong answer
    (any currency; 0 hides the cost of quality)."""

    cost_per_wrong = forms.DecimalField(
        min_value=0,
        max_digits=12,
        decimal_places=2,
        required=False,
        initial=0,
        label="Cost per wrong answer",
    )

    @classmethod
    def for_request(cls, query: Any, *, plans: list[Plan], with_by: bool = False) -> ReportForm:
        form = super().for_request(query, plans=plans, with_by=with_by)
        if query.get("cost_per_wrong"):
            form.data = {**form.data, "cost_per_wrong": query.get("cost_per_wrong")}
        return form
