"""manage.py export_regression: tier-split JSONL, no gold, ad hoc excluded, traffic shares."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from .quality_factory import DAY, NEXT, build_quality_plan


@pytest.fixture
def plan(reviewer, qa_lead):
    return build_quality_plan(reviewer, qa_lead)


def _export(tmp_path, *extra):
    call_command("export_regression", "--plan", "qa", "--out", str(tmp_path), *extra)
    lines = {
        p.stem: [json.loads(line) for line in p.read_text().splitlines()]
        for p in tmp_path.glob("*.jsonl")
    }
    return lines, json.loads((tmp_path / "manifest.json").read_text())


def test_tier_split_content_and_shares(plan, tmp_path):
    lines, manifest = _export(tmp_path, "--days", "2")
    assert (manifest["start"], manifest["end"]) == (DAY.isoformat(), NEXT.isoformat())
    assert sorted(lines) == ["capable", "cheap"]
    assert {r["tier"] for r in lines["cheap"]} == {"cheap"}
    assert sorted(r["id"] for r in lines["cheap"]) == [
        "a0",
        "a1",
        "a2",
        "a3",
        "b0",
        "b1",
        "b2",
        "b3",
    ]
    assert len(lines["capable"]) == 4
    by_id = {r["id"]: r for tier in lines.values() for r in tier}
    # Adjudicated verdict wins; agreeing reviews; a single review.
    assert (by_id["a1"]["verdict"], by_id["a1"]["verdict_source"]) == ("incorrect", "adjudicated")
    assert (by_id["b0"]["verdict"], by_id["b0"]["verdict_source"]) == ("incorrect", "reviews agree")
    assert (by_id["c0"]["verdict"], by_id["c0"]["verdict_source"]) == ("correct", "review")
    # Stratum shares: 80, 20 and 100 of 200 responses; they sum to 1 over the window.
    assert by_id["a0"]["stratum_share"] == pytest.approx(0.4)
    assert by_id["b0"]["stratum_share"] == pytest.approx(0.1)
    assert by_id["a0"]["inclusion_probability"] == pytest.approx(4 / 80)
    assert sum(s["share"] for s in manifest["strata"]) == pytest.approx(1.0)
    assert sum(t["share"] for t in manifest["tiers"].values()) == pytest.approx(1.0)
    # Weights (N_h/n_h)/N sum to each tier's share: every stratum was reviewed.
    assert sum(r["weight"] for r in lines["cheap"]) == pytest.approx(0.5)
    assert manifest["covered_share"] == pytest.approx(1.0)
    assert by_id["a0"]["query"] == "Question a0?"


def test_never_gold_never_adhoc(plan, tmp_path):
    from reviewapp.review.models import Queue, QueueItem, Review

    gold_ids = set(QueueItem.objects.filter(is_gold=True).values_list("pk", flat=True))
    assert gold_ids
    adhoc = Queue.objects.create(
        plan=plan, plan_version=plan.current_version, kind="adhoc", day=DAY
    )
    item = QueueItem.objects.create(
        queue=adhoc,
        response=QueueItem.objects.get(response__external_id="a0", is_gold=False).response,
        review_count=1,
    )
    Review.objects.create(item=item, reviewer=plan.reviewers.first(), verdict="correct")
    lines, manifest = _export(tmp_path, "--days", "2")
    exported = {r["item_id"] for tier in lines.values() for r in tier}
    assert not exported & gold_ids
    assert item.pk not in exported
    assert len(exported) == 12
    assert "gold" in manifest["excluded"]


def test_window_defaults_to_the_latest_queue_and_errors(plan, tmp_path):
    lines, manifest = _export(tmp_path)  # 28 days ending on the latest queue day (NEXT)
    assert manifest["end"] == NEXT.isoformat() and sum(len(v) for v in lines.values()) == 12
    with pytest.raises(CommandError):
        call_command("export_regression", "--plan", "nope", "--out", str(tmp_path))
    with pytest.raises(CommandError):
        call_command("export_regression", "--plan", "qa", "--days", "0", "--out", str(tmp_path))
