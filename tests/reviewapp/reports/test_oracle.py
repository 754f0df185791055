"""The oracle reviewer: reviews a queue through the review API (in-process DRF), its stored
verdicts are the truth's (error rate 0), and the tier report's intervals then contain the
true per-tier accuracy of a small simulated design."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from reviewapp.reports.oracle import ORACLE_PREFIX
from reviewapp.reports.selectors import tier_report
from reviewapp.responses.models import Response, Source
from reviewapp.review.models import Queue, QueueItem, Review
from reviewapp.review.roles import REVIEWER, has_role
from reviewapp.review.services import plan_save, queue_build

DAY = dt.date(2025, 3, 4)
# (tier, uncertainty, count, accuracy): the cheap tier's uncertain answers are much worse.
CELLS = (
    ("cheap", 0.05, 240, 0.97),
    ("cheap", 0.45, 60, 0.60),
    ("capable", 0.05, 150, 0.95),
    ("capable", 0.45, 50, 0.85),
)


@pytest.fixture
def design(db, tmp_path):
    """A day of 500 responses with known correctness, a tier × uncertainty plan (Neyman,
    cheap × high oversampled) and its queue; the truth in a truth.jsonl like the simulator's."""
    rng = np.random.default_rng(7)
    source = Source.objects.create(name="sim-oracle-test")
    start = dt.datetime.combine(DAY, dt.time(8), tzinfo=dt.UTC)
    truth: dict[str, bool] = {}
    rows = []
    for tier, uncertainty, count, accuracy in CELLS:
        correct = rng.random(count) < accuracy
        for ok in correct.tolist():
            i = len(rows)
            truth[f"t{i}"] = ok
            rows.append(
                Response(
                    source=source,
                    external_id=f"t{i}",
                    timestamp=start + dt.timedelta(seconds=i),
                    query=f"Question {i}?",
                    response=f"Answer {i}.",
                    tier=tier,
                    router_confidence=1 - uncertainty,
                    uncertainty=uncertainty,
                    ood_percentile=50.0,
                    content_hash=f"h{i}",
                )
            )
    Response.objects.bulk_create(rows)
    path = tmp_path / "truth.jsonl"
    path.write_text("\n".join(json.dumps({"id": k, "correct": v}) for k, v in truth.items()) + "\n")
    version = plan_save(
        name="oracle-plan",
        config={
            "dimensions": ["tier", "uncertainty"],
            "uncertainty_cuts": [0.2],
            "daily_budget": 80,
            "allocation": "neyman",
            "oversampling": {"tier=cheap&uncertainty=high": 3.0},
            "overlap_share": 0.1,
            "targets": {"cheap": 0.93, "capable": 0.93},
        },
        sources=[source],
    )
    queue, _ = queue_build(plan=version.plan, day=DAY)
    return version.plan, queue, truth, path


def _run(plan, path, *extra: str) -> str:
    out = StringIO()
    call_command("oracle_review", "--plan", plan.name, "--truth", str(path), *extra, stdout=out)
    return out.getvalue()


def test_it_reviews_through_the_api_with_the_oracles_verdicts(design):
    plan, queue, truth, path = design

    output = _run(plan, path, "--error-rate", "0", "--reviewers", "2")

    items = QueueItem.objects.filter(queue=queue)
    assert all(i.review_count == i.required_reviews for i in items)
    reviews = Review.objects.filter(item__queue=queue).select_related("item__response", "reviewer")
    assert reviews.count() == sum(i.required_reviews for i in items) > 0
    for review in reviews:
        expected = "correct" if truth[review.item.response.external_id] else "incorrect"
        assert review.verdict == expected
        assert review.reviewer.username.startswith(ORACLE_PREFIX)
        # The oracle reviewers are ordinary reviewers assigned to the plan, with API tokens.
        assert has_role(review.reviewer, REVIEWER)
        assert plan.reviewers.filter(pk=review.reviewer.pk).exists()
        assert review.reviewer.api_tokens.filter(revoked_at__isnull=True).exists()
    overlap = [i for i in items if i.required_reviews == 2]
    assert overlap and all(len({r.reviewer_id for r in i.reviews.all()}) == 2 for i in overlap)
    assert f"{reviews.count()} reviews" in output

    # Nothing is left open: a second run reviews nothing.
    assert "0 reviews" in _run(plan, path, "--error-rate", "0", "--reviewers", "2")


def test_the_tier_intervals_contain_the_true_accuracy(design):
    plan, queue, truth, path = design
    _run(plan, path, "--error-rate", "0")

    rows = {r.key[0]: r for r in tier_report(plan=plan, start=DAY, end=DAY)}
    tiers = dict(Response.objects.values_list("external_id", "tier"))
    for tier in ("cheap", "capable"):
        values = [ok for key, ok in truth.items() if tiers[key] == tier]
        true_accuracy = sum(values) / len(values)
        row = rows[tier]
        assert row.reviewed > 0
        assert row.ci_low <= true_accuracy <= row.ci_high, (tier, true_accuracy, row)
    # The oversampled cheap × high stratum makes a naive mean of the cheap tier's reviews
    # much lower than the truth; the report's estimate is weighted and is not.
    cheap = [
        Review.SCORES[r.verdict]
        for r in Review.objects.filter(item__queue=queue, item__stratum__tier="cheap")
    ]
    assert np.mean(cheap) < rows["cheap"].accuracy


def test_it_can_leave_reviewer_error_in(design):
    plan, queue, truth, path = design
    output = _run(plan, path, "--error-rate", "0.3", "--seed", "5")
    wrong = sum(
        (r.verdict == "correct") != truth[r.item.response.external_id]
        for r in Review.objects.filter(item__queue=queue).select_related("item__response")
    )
    assert wrong > 0
    assert f"({wrong} verdicts differ from the truth)" in output


def test_it_refuses_a_truth_file_of_another_source(design, tmp_path):
    plan, queue, truth, path = design
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "nobody", "correct": True}) + "\n")
    with pytest.raises(Exception, match="no ground truth"):
        _run(plan, other)
    assert not Review.objects.filter(item__queue=queue).exists()
    assert Queue.objects.filter(plan=plan).count() == 1


def test_the_ppi_reads_the_auto_scores_the_queue_was_built_with(db, tmp_path):
    """Items keep their response's auto_score from build time, like the stratum's
    auto_score_sum: the PPI estimate does not move when the judge's scores are re-sent later
    (and the report never joins reviewed items to the responses table)."""
    source = Source.objects.create(name="ppi-snapshot")
    start = dt.datetime.combine(DAY, dt.time(8), tzinfo=dt.UTC)
    # An imperfect judge: right on 4 of 5 answers. 200 cheap answers, 170 of them correct.
    correct = [i % 20 >= 3 for i in range(200)]
    Response.objects.bulk_create(
        Response(
            source=source,
            external_id=f"p{i}",
            timestamp=start + dt.timedelta(seconds=i),
            query=f"Question {i}?",
            response=f"Answer {i}.",
            tier="cheap",
            router_confidence=0.9,
            uncertainty=0.1,
            ood_percentile=50.0,
            auto_score=float(ok) if i % 5 else float(not ok),
            content_hash=f"h{i}",
        )
        for i, ok in enumerate(correct)
    )
    truth = tmp_path / "truth.jsonl"
    truth.write_text(
        "\n".join(json.dumps({"id": f"p{i}", "correct": ok}) for i, ok in enumerate(correct))
    )
    version = plan_save(
        name="ppi-plan", config={"dimensions": ["tier"], "daily_budget": 40}, sources=[source]
    )
    queue, _ = queue_build(plan=version.plan, day=DAY)
    built_with = dict(Response.objects.filter(source=source).values_list("pk", "auto_score"))
    items = list(QueueItem.objects.filter(queue=queue))
    assert len(items) == 40
    assert all(item.auto_score == built_with[item.response_id] for item in items)
    _run(version.plan, truth, "--error-rate", "0", "--reviewers", "1")

    (before,) = tier_report(plan=version.plan, start=DAY, end=DAY)
    assert before.ppi_accuracy is not None
    assert before.ppi_ci_low < before.ppi_accuracy < before.ppi_ci_high
    # The judge's scores are re-sent, all inverted, after the queue was built.
    for pk, score in built_with.items():
        Response.objects.filter(pk=pk).update(auto_score=1.0 - score)

    (after,) = tier_report(plan=version.plan, start=DAY, end=DAY)
    assert (after.ppi_accuracy, after.ppi_ci_low, after.ppi_ci_high) == (
        before.ppi_accuracy,
        before.ppi_ci_low,
        before.ppi_ci_high,
    )
