"""Stratification plans, review queues, claims, reviews and their audit trail.

A plan is versioned: editing it writes a new `PlanVersion`, and a queue records the version it
was built from, so every estimate can say which design produced its sample.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from reviewapp.responses.models import Response, Source

DIMENSIONS = ("tier", "uncertainty", "ood", "segment")
ALLOCATIONS = ("proportional", "equal", "neyman", "manual")
DEFAULT_FAILURE_TAGS = [
    "wrong intent",
    "factual error",
    "incomplete",
    "policy or compliance risk",
    "tone",
]


class Plan(models.Model):
    """A QA lead's standing decision about where the daily review budget goes."""

    name = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    active = models.BooleanField(default=True)
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="review_plans"
    )
    current_version = models.ForeignKey(
        "PlanVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PlanVersion(models.Model):
    """One immutable version of a plan's design."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    sources = models.ManyToManyField(Source, related_name="plan_versions")
    # Any subset of DIMENSIONS, in order.
    dimensions = models.JSONField(default=list)
    # Uncertainty cut-offs (values of 1 - confidence); empty = the reference set's quantiles.
    uncertainty_cuts = models.JSONField(default=list, blank=True)
    # OOD percentile cut-offs: in < 95 <= edge < 99 <= out.
    ood_cuts = models.JSONField(default=list, blank=True)
    daily_budget = models.PositiveIntegerField(default=200)
    allocation = models.CharField(max_length=16, default="neyman")
    stratum_min = models.PositiveIntegerField(default=5)
    stratum_max = models.PositiveIntegerField(null=True, blank=True)
    # {stratum key: quota} for manual allocation; {stratum key or "dim=value": weight} for
    # oversampling.
    manual_quotas = models.JSONField(default=dict, blank=True)
    oversampling = models.JSONField(default=dict, blank=True)
    overlap_share = models.FloatField(default=0.1)
    gold_share = models.FloatField(default=0.0)
    # {tier: target accuracy}, e.g. {"cheap": 0.93}.
    targets = models.JSONField(default=dict, blank=True)
    blind = models.BooleanField(default=True)
    failure_tags = models.JSONField(default=list, blank=True)
    reviewers_see_reports = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="plan_version_number"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.name} v{self.number}"


class Queue(models.Model):
    """The items drawn for one plan and day (a probability sample), or an ad-hoc selection
    (shown to reviewers, never fed to estimates)."""

    class Kind(models.TextChoices):
        PROBABILITY = "probability", "Probability sample"
        ADHOC = "adhoc", "Ad hoc (non-probability)"

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="queues")
    plan_version = models.ForeignKey(PlanVersion, on_delete=models.PROTECT, related_name="queues")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PROBABILITY)
    day = models.DateField()
    name = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    seed = models.BigIntegerField(null=True, blank=True)
    population = models.PositiveIntegerField(default=0)
    size = models.PositiveIntegerField(default=0)
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    built_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "plan__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "day"],
                condition=models.Q(kind="probability"),
                name="one_probability_queue_per_plan_day",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.plan.name} {self.day:%Y-%m-%d}"


class StratumCount(models.Model):
    """Per (queue, stratum): population N_h and quota n_h, stored so that reports never rescan
    responses."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="strata")
    # Labels joined by "|" with "|" and "\\" escaped inside them (sampling.strata): a 64-character
    # tier and a 128-character segment made only of those characters take twice their length.
    key = models.CharField(max_length=512)
    tier = models.CharField(max_length=64, blank=True, default="")
    uncertainty_band = models.CharField(max_length=32, blank=True, default="")
    ood_band = models.CharField(max_length=32, blank=True, default="")
    segment = models.CharField(max_length=128, blank=True, default="")
    population = models.PositiveIntegerField()
    quota = models.PositiveIntegerField()
    # Over the stratum's whole population (not just the sample): the automatic judge's scores,
    # for prediction-powered estimates, and the cost of answering, for cost per answer.
    auto_score_sum = models.FloatField(default=0.0)
    auto_score_count = models.PositiveIntegerField(default=0)
    cost_sum = models.FloatField(default=0.0)
    cost_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["queue", "key"], name="stratum_per_queue"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.quota}/{self.population}"

    @property
    def inclusion_probability(self) -> float:
        return self.quota / self.population if self.population else 0.0


class QueueItem(models.Model):
    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="items")
    response = models.ForeignKey(Response, on_delete=models.PROTECT, related_name="queue_items")
    stratum = models.ForeignKey(
        StratumCount, null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    inclusion_probability = models.FloatField(null=True, blank=True)
    # The response's auto_score when the queue was built: the report's PPI reads it here, next
    # to the stratum's auto_score_sum of the same moment, instead of joining every reviewed
    # item to the (large) responses table.
    auto_score = models.FloatField(null=True, blank=True)
    # 2 for overlap items (double review); the item is done when it has this many reviews.
    required_reviews = models.PositiveSmallIntegerField(default=1)
    review_count = models.PositiveSmallIntegerField(default=0)
    # Gold items test reviewers; never counted in estimates.
    is_gold = models.BooleanField(default=False)
    # Which side ("A"/"B") shows the served answer in the pairwise shadow question.
    served_side = models.CharField(max_length=1, blank=True, default="")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["queue", "position"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "response"], name="item_once_per_queue"),
        ]
        indexes = [
            models.Index(fields=["queue", "review_count", "position"], name="item_open"),
            # Only the items that still need a review: a claim walks this one in order, so its
            # cost does not grow with the items already done (item_open would walk past every
            # done single-review item to look for an open overlap item: 13,000 rows at
            # half-way through a 30,000-item queue).
            models.Index(
                fields=["queue", "review_count", "position"],
                condition=models.Q(review_count__lt=models.F("required_reviews")),
                name="item_claimable",
            ),
        ]

    def __str__(self) -> str:
        return f"item {self.pk} of queue {self.queue_id}"

    @property
    def is_done(self) -> bool:
        return self.review_count >= self.required_reviews


class Claim(models.Model):
    """A reviewer holds an item while reading it; it expires and the item returns."""

    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="claims")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="claims"
    )
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A reviewer never holds the same item twice at once.
            models.UniqueConstraint(
                fields=["item", "reviewer"],
                condition=models.Q(released_at__isnull=True),
                name="one_open_claim_per_reviewer_item",
            ),
        ]
        indexes = [
            models.Index(fields=["item", "released_at"], name="claim_open"),
            # A reviewer's open claims (every claim looks them up): bounded by what they hold
            # now, not by every claim they ever made.
            models.Index(
                fields=["reviewer"],
                condition=models.Q(released_at__isnull=True),
                name="claim_open_by_reviewer",
            ),
        ]


class Review(models.Model):
    class Verdict(models.TextChoices):
        CORRECT = "correct", "Correct"
        PARTIAL = "partial", "Partially correct"
        INCORRECT = "incorrect", "Incorrect"

    class Preference(models.TextChoices):
        A = "A", "A is better"
        B = "B", "B is better"
        TIE = "tie", "Tie"

    item = models.ForeignKey(QueueItem, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    failure_tags = models.JSONField(default=list, blank=True)
    helpfulness = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    preference = models.CharField(max_length=3, choices=Preference.choices, blank=True, default="")
    # The side the served answer was shown on when `preference` was given.
    served_side = models.CharField(max_length=1, blank=True, default="")
    time_spent_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="one_review_per_reviewer"),
        ]
        indexes = [
            # "My reviews today" and "my last review, to undo", on every review page: bounded
            # by the day's reviews, not by everything the reviewer ever reviewed.
            models.Index(fields=["reviewer", "created_at"], name="review_by_reviewer_time"),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} on item {self.item_id} by {self.reviewer_id}"

    SCORES = {"correct": 1.0, "partial": 0.5, "incorrect": 0.0}

    @property
    def score(self) -> float:
        """Partial credit: correct 1, partially correct 0.5, incorrect 0."""
        return self.SCORES[self.verdict]


class Skip(models.Model):
    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="skips")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    reason = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)


class Adjudication(models.Model):
    """A QA lead's verdict on an overlap item whose reviewers disagreed: estimates use it."""

    item = models.OneToOneField(QueueItem, on_delete=models.CASCADE, related_name="adjudication")
    verdict = models.CharField(max_length=16, choices=Review.Verdict.choices)
    adjudicator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    is_gold = models.BooleanField(default=False)
    comment = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)


class ReviewAudit(models.Model):
    """Every change to a review: who, when, before, after."""

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Edited"
        UNDO = "undo", "Undone"

    review_id_value = models.BigIntegerField()
    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="audit")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    action = models.CharField(max_length=8, choices=Action.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at"]
