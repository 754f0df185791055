"""Forms of the QA lead's pages: a plan's design, the queue builders, adjudication.

The plan form turns text the QA lead types ("tier=cheap&uncertainty=high: 3", one tag per
line) into the JSON config `services.plan_config_clean` checks; that function's errors name
the field, and the form puts each under its field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model

from reviewapp.responses.models import Source

from .models import ALLOCATIONS, DEFAULT_FAILURE_TAGS, Plan, PlanVersion, Review
from .roles import REVIEWER
from .selectors import traffic_labels
from .services import PLAN_FIELDS, plan_config_clean

DIMENSION_CHOICES = [
    ("tier", "Tier"),
    ("uncertainty", "Uncertainty band"),
    ("ood", "OOD band"),
    ("segment", "Segment"),
]
ALLOCATION_LABELS = {
    "proportional": "Proportional to traffic",
    "equal": "Equal per stratum",
    "neyman": "Neyman (more where past reviews disagree)",
    "manual": "Manual quotas",
}
# Fields the config is made of; plan_config_clean names one of these in its errors.
CONFIG_FIELDS = PLAN_FIELDS


def _numbers(text: str, field: str) -> list[float]:
    values = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            values.append(float(part))
        except ValueError:
            raise forms.ValidationError(f"{part!r} is not a number.", code=field) from None
    return values


def _mapping(text: str, *, number: type = float) -> dict[str, Any]:
    """Lines "key: value" → {key: value}; the key may itself hold "=" and "&"."""
    out: dict[str, Any] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.rpartition(":")
        if not sep or not key.strip():
            raise forms.ValidationError(f"Line {n}: write it as “key: value”.")
        try:
            out[key.strip()] = number(value.strip())
        except ValueError:
            raise forms.ValidationError(f"Line {n}: {value.strip()!r} is not a number.") from None
    return out


def _mapping_text(values: dict[str, Any]) -> str:
    return "\n".join(f"{key}: {value:g}" for key, value in (values or {}).items())


class PlanForm(forms.Form):
    name = forms.SlugField(
        max_length=100, help_text="Letters, digits and hyphens; it names the plan in commands."
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    sources = forms.ModelMultipleChoiceField(
        queryset=Source.objects.order_by("name"), widget=forms.CheckboxSelectMultiple
    )
    dimensions = forms.MultipleChoiceField(
        choices=DIMENSION_CHOICES,
        initial=["tier", "uncertainty", "ood"],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    uncertainty_cuts = forms.CharField(
        required=False,
        label="Uncertainty cut-offs",
        help_text="Values of 1 − confidence, comma-separated; empty = the reference set's "
        "90th percentile.",
    )
    ood_cuts = forms.CharField(
        required=False,
        label="OOD percentile cut-offs",
        help_text="Comma-separated; empty = 95, 99 (in / edge / out).",
    )
    daily_budget = forms.IntegerField(min_value=1, initial=200, label="Daily budget")
    allocation = forms.ChoiceField(
        choices=[(a, ALLOCATION_LABELS[a]) for a in ALLOCATIONS], initial="neyman"
    )
    stratum_min = forms.IntegerField(initial=5, label="Per-stratum minimum")
    stratum_max = forms.IntegerField(required=False, label="Per-stratum maximum")
    manual_quotas = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For manual allocation, one stratum per line: “cheap|high|out: 20”.",
    )
    oversampling = forms.CharField(
        required=False,
        label="Oversampling weights",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: “tier=cheap&uncertainty=high: 3”.",
    )
    overlap_share = forms.FloatField(
        initial=0.1, help_text="Share of items reviewed by two reviewers (0–0.5)."
    )
    gold_share = forms.FloatField(
        initial=0.0, help_text="Share of gold items mixed into each queue (0–0.5)."
    )
    targets = forms.CharField(
        required=False,
        label="Target accuracy per tier (%)",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line: “cheap: 93”. A value of 1 or less is read as a share (0.93).",
    )
    blind = forms.BooleanField(
        required=False, initial=True, help_text="Hide tier, model, confidence and stratum."
    )
    failure_tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        initial="\n".join(DEFAULT_FAILURE_TAGS),
        help_text="One per line.",
        required=False,
    )
    reviewers = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    reviewers_see_reports = forms.BooleanField(required=False)
    # The planner: not part of the design, only of the preview.
    planner_tier = forms.ChoiceField(required=False, label="Target half-width for tier")
    planner_points = forms.FloatField(
        required=False,
        min_value=0.1,
        max_value=50,
        label="± percentage points",
        help_text="e.g. 3 for a 95 % interval of ± 3 points.",
    )

    def __init__(self, *args: Any, plan: Plan | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.fields["reviewers"].queryset = (
            get_user_model().objects.filter(groups__name=REVIEWER).order_by("username").distinct()
        )
        if plan is not None:
            self.fields["name"].disabled = True
            self.fields["name"].initial = plan.name
        # Tiers come from the traffic, not from typing: "Cheap" for "cheap" planned nothing.
        self.traffic = traffic_labels(sources=list(self.fields["sources"].queryset))
        self.traffic_tiers = self.traffic["tier"]
        self.fields["planner_tier"].choices = [("", "—")] + [(t, t) for t in self.traffic_tiers]
        if self.traffic_tiers:
            tiers = ", ".join(self.traffic_tiers)
            self.fields["targets"].help_text += f" Tiers in the traffic: {tiers}."

    @classmethod
    def initial_for(cls, plan: Plan) -> dict[str, Any]:
        version: PlanVersion | None = plan.current_version
        initial: dict[str, Any] = {
            "name": plan.name,
            "description": plan.description,
            "reviewers": list(plan.reviewers.all()),
        }
        if version is None:
            return initial
        initial.update(
            sources=list(version.sources.all()),
            dimensions=version.dimensions,
            uncertainty_cuts=", ".join(f"{c:g}" for c in version.uncertainty_cuts),
            ood_cuts=", ".join(f"{c:g}" for c in version.ood_cuts),
            daily_budget=version.daily_budget,
            allocation=version.allocation,
            stratum_min=version.stratum_min,
            stratum_max=version.stratum_max,
            manual_quotas=_mapping_text(version.manual_quotas),
            oversampling=_mapping_text(version.oversampling),
            overlap_share=version.overlap_share,
            gold_share=version.gold_share,
            targets=_mapping_text({k: round(100 * v, 2) for k, v in version.targets.items()}),
            blind=version.blind,
            failure_tags="\n".join(version.failure_tags),
            reviewers_see_reports=version.reviewers_see_reports,
        )
        return initial

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if self.plan is None and name in ("new", "preview"):
            raise forms.ValidationError("“new” and “preview” are page names; choose another.")
        if self.plan is None and Plan.objects.filter(name=name).exists():
            raise forms.ValidationError("A plan with this name exists; edit it instead.")
        return name

    def clean_uncertainty_cuts(self) -> list[float]:
        return _numbers(self.cleaned_data["uncertainty_cuts"], "uncertainty_cuts")

    def clean_ood_cuts(self) -> list[float]:
        return _numbers(self.cleaned_data["ood_cuts"], "ood_cuts")

    def clean_manual_quotas(self) -> dict[str, Any]:
        return _mapping(self.cleaned_data["manual_quotas"], number=int)

    def clean_oversampling(self) -> dict[str, Any]:
        """As typed; a "tier=…" or "segment=…" clause naming a value the traffic does not have
        is refused with the values it has (the dimension names are checked by
        plan_config_clean, for the API too)."""
        weights = _mapping(self.cleaned_data["oversampling"])
        for key in weights:
            for clause in key.split("&") if "=" in key else ():
                dimension, _, value = (part.strip() for part in clause.partition("="))
                known = self.traffic.get(dimension) or []
                if known and value not in known:
                    raise forms.ValidationError(
                        f"“{key}”: no traffic of {dimension} “{value}” in the sources; "
                        f"their {dimension}s are {', '.join(known)}."
                    )
        return weights

    def clean_targets(self) -> dict[str, Any]:
        """Percentages ("cheap: 93"), or shares for values up to 1 ("cheap: 0.93"), stored as
        shares; a tier the sources' traffic does not have is refused with the ones it has."""
        targets = {}
        for tier, value in _mapping(self.cleaned_data["targets"]).items():
            share = value / 100 if value > 1 else value
            if not 0 < share < 1:
                raise forms.ValidationError(
                    f"{tier}: {value:g} is not a target between 0 and 100 %."
                )
            targets[tier] = round(share, 6)
        unknown = [t for t in targets if self.traffic_tiers and t not in self.traffic_tiers]
        if unknown:
            raise forms.ValidationError(
                f"No traffic of tier {', '.join(unknown)} in the sources; "
                f"their tiers are {', '.join(self.traffic_tiers)}."
            )
        return targets

    def clean_failure_tags(self) -> list[str]:
        lines = [t.strip() for t in self.cleaned_data["failure_tags"].splitlines()]
        return list(dict.fromkeys(t for t in lines if t)) or list(DEFAULT_FAILURE_TAGS)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if any(name in self.errors for name in CONFIG_FIELDS):
            return data
        try:
            self.config = plan_config_clean({k: data.get(k) for k in CONFIG_FIELDS})
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            if field in self.fields:
                self.add_error(field, message[:1].upper() + message[1:] + ".")
            else:
                self.add_error(None, str(exc))
        if data.get("planner_points") and not data.get("planner_tier"):
            self.add_error("planner_tier", "Name the tier the target is for.")
        return data

    def config_or_none(self) -> dict[str, Any] | None:
        return getattr(self, "config", None)


class BuildQueueForm(forms.Form):
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    seed = forms.IntegerField(required=False, min_value=0, help_text="Empty = from plan and day.")

    def clean_day(self) -> dt.date:
        day = self.cleaned_data["day"]
        if day > dt.datetime.now(dt.UTC).date():
            raise forms.ValidationError("A queue is built from a day that has happened.")
        return day


class AdhocQueueForm(forms.Form):
    FILTERS = [
        ("thumbs_down", "Thumbs-down received"),
        ("handoff", "Handoffs to support"),
        ("ood_out", "OOD band “out”"),
    ]
    kind = forms.ChoiceField(choices=FILTERS, label="Responses with")
    days = forms.IntegerField(min_value=1, max_value=90, initial=7, label="in the last N days")
    name = forms.CharField(max_length=200, required=False)


class AdjudicateForm(forms.Form):
    verdict = forms.ChoiceField(choices=Review.Verdict.choices, widget=forms.RadioSelect)
    gold = forms.BooleanField(required=False, label="Mark as gold")
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
