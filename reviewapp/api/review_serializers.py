"""Input and output shapes of the review API (plans, queues, claims, reviews).

Outputs are built from plain dicts by the views (review_api.py), so that what a reviewer can
see is decided in one place: a claimed item of a blind plan is built without tier, model,
confidence, OOD or stratum, never built with them and filtered afterwards.
"""

from __future__ import annotations

from rest_framework import serializers

from reviewapp.review.models import ALLOCATIONS, DIMENSIONS, Review
from reviewapp.review.services import PLAN_INT_MAX

# --- plans ---------------------------------------------------------------------------------


class PlanDesignSerializer(serializers.Serializer):
    """A plan's design: every field optional on input (the defaults of DESIGN.md apply);
    reviewapp.review.services.plan_config_clean checks the values and names what is wrong."""

    dimensions = serializers.ListField(
        child=serializers.ChoiceField(choices=DIMENSIONS),
        required=False,
        help_text="Stratification dimensions, in order (default tier, uncertainty, ood).",
    )
    uncertainty_cuts = serializers.ListField(
        child=serializers.FloatField(),
        required=False,
        help_text="Ascending cut-offs of 1 − confidence; empty = the reference's quantiles.",
    )
    ood_cuts = serializers.ListField(
        child=serializers.FloatField(),
        required=False,
        help_text="Ascending OOD percentile cut-offs (default 95, 99).",
    )
    daily_budget = serializers.IntegerField(required=False, min_value=1, max_value=PLAN_INT_MAX)
    allocation = serializers.ChoiceField(choices=ALLOCATIONS, required=False)
    stratum_min = serializers.IntegerField(required=False, min_value=2, max_value=PLAN_INT_MAX)
    stratum_max = serializers.IntegerField(
        required=False, allow_null=True, min_value=2, max_value=PLAN_INT_MAX
    )
    manual_quotas = serializers.DictField(
        child=serializers.FloatField(min_value=0),
        required=False,
        help_text="{stratum key: quota} for manual allocation.",
    )
    oversampling = serializers.DictField(
        child=serializers.FloatField(min_value=0),
        required=False,
        help_text='{stratum key or "tier=cheap&uncertainty=high": weight}.',
    )
    overlap_share = serializers.FloatField(required=False, min_value=0, max_value=0.5)
    gold_share = serializers.FloatField(required=False, min_value=0, max_value=0.5)
    targets = serializers.DictField(
        child=serializers.FloatField(), required=False, help_text="{tier: target accuracy}."
    )
    blind = serializers.BooleanField(required=False)
    failure_tags = serializers.ListField(child=serializers.CharField(), required=False)
    reviewers_see_reports = serializers.BooleanField(required=False)


class PlanWriteSerializer(PlanDesignSerializer):
    """PUT /plans/{name}/: a new version of the plan (versions are immutable)."""

    description = serializers.CharField(required=False, allow_blank=True)
    sources = serializers.ListField(
        # min_length as well as allow_empty: only a validator shows in the schema (minItems).
        child=serializers.SlugField(),
        allow_empty=False,
        min_length=1,
        help_text="Source names.",
    )
    reviewers = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Usernames of the reviewers assigned to the plan; omitted = unchanged.",
    )


class PlanCreateSerializer(PlanWriteSerializer):
    """POST /plans/: create a plan, or give an existing one of that name a new version."""

    name = serializers.SlugField(max_length=100)


class PlanVersionSerializer(PlanDesignSerializer):
    number = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    sources = serializers.ListField(child=serializers.CharField())


class PlanSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    active = serializers.BooleanField()
    reviewers = serializers.ListField(
        child=serializers.CharField(), help_text="Usernames (shown to QA leads only)."
    )
    current_version = PlanVersionSerializer(allow_null=True)


# --- queues --------------------------------------------------------------------------------


class QueueSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    plan = serializers.CharField()
    plan_version = serializers.IntegerField(help_text="The plan version it was built from.")
    kind = serializers.ChoiceField(
        choices=["probability", "adhoc"],
        help_text="adhoc queues are non-probability selections: reviewed, never estimated.",
    )
    day = serializers.DateField()
    name = serializers.CharField()
    description = serializers.CharField()
    blind = serializers.BooleanField()
    size = serializers.IntegerField(help_text="Items drawn.")
    reviews_done = serializers.IntegerField()
    reviews_needed = serializers.IntegerField(help_text="Overlap items count twice.")
    mine_today = serializers.IntegerField(help_text="The caller's reviews in it today (UTC).")
    failure_tags = serializers.ListField(child=serializers.CharField())


# --- claims --------------------------------------------------------------------------------


class PairwiseSerializer(serializers.Serializer):
    """The served answer and the shadow answer, on sides randomised per item."""

    A = serializers.CharField()
    B = serializers.CharField()


class ItemDetailsSerializer(serializers.Serializer):
    """Only for plans that are not blind."""

    tier = serializers.CharField()
    model = serializers.CharField()
    router_confidence = serializers.FloatField(allow_null=True)
    uncertainty = serializers.FloatField(allow_null=True)
    ood_percentile = serializers.FloatField(allow_null=True)
    stratum = serializers.CharField(allow_null=True)
    inclusion_probability = serializers.FloatField(allow_null=True)


class ClaimedItemSerializer(serializers.Serializer):
    item = serializers.IntegerField(help_text="Send it back as `item` in POST /reviews/.")
    queue = serializers.IntegerField()
    query = serializers.CharField(help_text="The user's message (untrusted text).")
    response = serializers.CharField(help_text="The answer to judge (untrusted text).")
    pairwise = PairwiseSerializer(
        allow_null=True,
        help_text="When the item has a shadow answer: which is better, A or B (or a tie)?",
    )
    failure_tags = serializers.ListField(
        child=serializers.CharField(), help_text="The tags this plan's rubric offers."
    )
    claimed_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(
        help_text="After this the item may go to someone else; a late review is accepted only "
        "while nobody has taken it."
    )
    blind = serializers.BooleanField()
    details = ItemDetailsSerializer(
        required=False,
        help_text="Absent for blind plans (the default): tier, model, confidence, OOD and "
        "stratum are never sent to a reviewer of a blind plan.",
    )


class SkipSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    reason = serializers.CharField(max_length=500)


# --- reviews -------------------------------------------------------------------------------


class ReviewFieldsSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(choices=Review.Verdict.choices)
    failure_tags = serializers.ListField(child=serializers.CharField(), required=False)
    helpfulness = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=5
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=10_000)
    preference = serializers.ChoiceField(
        choices=Review.Preference.choices,
        required=False,
        allow_blank=True,
        help_text="Only for items with `pairwise`: A, B or tie.",
    )


class ReviewCreateSerializer(ReviewFieldsSerializer):
    item = serializers.IntegerField(help_text="The claimed item's id.")
    # At most a day, as the review page's form takes it (and within the column's integer).
    time_spent_ms = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=24 * 3600 * 1000
    )


class ReviewEditSerializer(ReviewFieldsSerializer):
    """PATCH: any subset of the rubric fields."""

    verdict = serializers.ChoiceField(choices=Review.Verdict.choices, required=False)


class ReviewSerializer(serializers.Serializer):
    """Read from a Review (with item__response selected)."""

    id = serializers.IntegerField()
    item = serializers.IntegerField(source="item_id")
    queue = serializers.IntegerField(source="item.queue_id")
    query = serializers.CharField(source="item.response.query")
    verdict = serializers.CharField()
    failure_tags = serializers.ListField(child=serializers.CharField())
    helpfulness = serializers.IntegerField(allow_null=True)
    comment = serializers.CharField()
    preference = serializers.CharField()
    time_spent_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
