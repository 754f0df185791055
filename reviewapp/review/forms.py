"""Forms of the reviewer's pages: the rubric (submit and edit), skip."""

from __future__ import annotations

import string
from typing import Any

from django import forms

from .models import DEFAULT_FAILURE_TAGS, Review

# Keys the reviewer's page keeps for itself: skip, undo, raw toggle, and A / B / tie.
RESERVED_KEYS = frozenset("surabt")
HELPFULNESS_CHOICES = [("", "—")] + [(str(i), str(i)) for i in range(1, 6)]


def tag_keys(tags: list[str]) -> list[tuple[str, str]]:
    """A letter for each failure tag: the first free initial of one of its words, else the first
    free letter of the alphabet. Stable for a given list of tags, so reviewers learn them."""
    used: set[str] = set(RESERVED_KEYS)
    keys: list[tuple[str, str]] = []
    for tag in tags:
        initials = [w[0].lower() for w in tag.split() if w and w[0].isascii() and w[0].isalpha()]
        letters = [c.lower() for c in tag if c.isascii() and c.isalpha()]
        pool = initials + letters + list(string.ascii_lowercase)
        key = next((c for c in pool if c not in used), "")
        used.add(key)
        keys.append((tag, key))
    return keys


def plan_tags(version: Any) -> list[str]:
    return list(version.failure_tags or DEFAULT_FAILURE_TAGS)


class RubricForm(forms.Form):
    verdict = forms.ChoiceField(
        choices=Review.Verdict.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a verdict: 1 correct, 2 partially, 3 incorrect."},
    )
    failure_tags = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )
    helpfulness = forms.TypedChoiceField(
        required=False, choices=HELPFULNESS_CHOICES, coerce=int, empty_value=None
    )
    comment = forms.CharField(required=False, widget=forms.Textarea, max_length=10_000)
    preference = forms.ChoiceField(
        required=False, choices=[("", "—"), *Review.Preference.choices], widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, tags: list[str], pairwise: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["failure_tags"].choices = [(t, t) for t in tags]
        if not pairwise:
            del self.fields["preference"]


class SubmitForm(RubricForm):
    """The rubric plus what the reviewer's page posts with it."""

    item = forms.IntegerField(widget=forms.HiddenInput)
    # Measured by the page; absent without JavaScript (then the claim's age is used).
    time_spent_ms = forms.IntegerField(
        required=False, min_value=0, max_value=24 * 3600 * 1000, widget=forms.HiddenInput
    )


class SkipForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        max_length=500,
        strip=True,
        error_messages={"required": "Say why you skip this item."},
    )
