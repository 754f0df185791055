"""Simulator: reproducibility, the seed scenario's drift story, record formats."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from sampling.simulate import (
    Scenario,
    hidden_share,
    load_scenario,
    oracle_verdicts,
    reference_set,
    simulate,
    simulate_day,
    write_scenario,
)

SEED = load_scenario("seed")
STABLE = load_scenario("stable")


def test_seed_file_lists_every_parameter_and_matches_the_defaults() -> None:
    raw = json.loads((Path(__file__).parents[2] / "sampling/scenarios/seed.json").read_text())
    assert set(raw) == {f.name for f in dataclasses.fields(Scenario)}
    assert Scenario() == SEED


def test_stable_extends_seed_without_drift_or_launch() -> None:
    assert STABLE.name == "stable"
    assert STABLE.hidden_share_max == 0.0
    assert STABLE.launch_day is None
    assert STABLE.cheap_share == SEED.cheap_share


def test_unknown_parameter_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "typo.json"
    path.write_text('{"extends": "seed", "cheap_shar": 0.5}')
    with pytest.raises(ValueError, match="cheap_shar"):
        load_scenario(path)


def test_same_seed_same_day() -> None:
    a = simulate_day(SEED, 20, np.random.default_rng(7), per_day=500)
    b = simulate_day(SEED, 20, np.random.default_rng(7), per_day=500)
    for field in ("ids", "tier", "router_confidence", "embedding", "auto_score", "correct"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.query == b.query
    np.testing.assert_array_equal(a.feedback_index, b.feedback_index)


def test_stream_day_equals_day_generated_alone() -> None:
    days = list(simulate(SEED, days=4, per_day=300, seed=11))
    alone = simulate_day(SEED, 3, np.random.default_rng([11, 3]), per_day=300)
    np.testing.assert_array_equal(days[3].embedding, alone.embedding)
    assert days[3].ids[0] == "seed-d003-000000"
    other = next(iter(simulate(SEED, days=1, per_day=300, seed=12)))
    assert not np.array_equal(days[0].router_confidence, other.router_confidence)


def test_hidden_share_ramp_by_hand() -> None:
    # 0 up to day 14, then linear to 20 % at day 70: day 42 is half-way.
    assert hidden_share(SEED, 0) == 0.0
    assert hidden_share(SEED, 14) == 0.0
    assert hidden_share(SEED, 42) == pytest.approx(0.10)
    assert hidden_share(SEED, 70) == pytest.approx(0.20)
    assert hidden_share(SEED, 89) == pytest.approx(0.20)
    assert hidden_share(STABLE, 70) == 0.0


def test_hidden_intent_share_of_cheap_tier_in_the_stream() -> None:
    early = simulate_day(SEED, 10, np.random.default_rng(1), per_day=20_000)
    assert not early.hidden_intent.any()
    late = simulate_day(SEED, 70, np.random.default_rng(1), per_day=20_000)
    cheap = late.tier == "cheap"
    assert cheap.mean() == pytest.approx(0.65, abs=0.01)
    # ~13,000 cheap answers: SE of the share ≈ 0.0035.
    assert late.hidden_intent[cheap].mean() == pytest.approx(0.20, abs=0.015)
    assert not late.hidden_intent[~cheap].any()


def test_cheap_tier_accuracy_starts_near_097_and_drops() -> None:
    day0 = simulate_day(SEED, 0, np.random.default_rng(2), per_day=20_000)
    cheap0 = day0.tier == "cheap"
    assert day0.correct[cheap0].mean() == pytest.approx(0.97, abs=0.006)
    assert day0.correct[~cheap0].mean() == pytest.approx(0.95, abs=0.01)
    day70 = simulate_day(SEED, 70, np.random.default_rng(2), per_day=20_000)
    cheap70 = day70.tier == "cheap"
    # 0.2·0.25 + 0.8·(0.08·0.80 + 0.92·0.97) ≈ 0.815
    assert day70.correct[cheap70].mean() == pytest.approx(0.815, abs=0.015)
    hidden = day70.hidden_intent
    assert day70.correct[hidden].mean() == pytest.approx(0.25, abs=0.03)


def test_stable_scenario_does_not_drift() -> None:
    day = simulate_day(STABLE, 70, np.random.default_rng(3), per_day=10_000)
    assert not day.hidden_intent.any()
    assert not day.launch.any()
    assert day.correct[day.tier == "cheap"].mean() == pytest.approx(0.97, abs=0.01)


def test_launch_topic_appears_from_launch_day() -> None:
    before = simulate_day(SEED, 34, np.random.default_rng(4), per_day=5000)
    after = simulate_day(SEED, 35, np.random.default_rng(4), per_day=5000)
    assert not before.launch.any()
    assert after.launch.mean() == pytest.approx(
        0.08 * (1 - hidden_share(SEED, 35) * 0.65), abs=0.015
    )


def test_confidence_overlaps_and_judge_is_informative_but_fooled() -> None:
    day = simulate_day(SEED, 70, np.random.default_rng(5), per_day=20_000)
    easy = (day.tier == "cheap") & ~day.hidden_intent & ~day.launch
    hid = day.hidden_intent
    # Beta(12,2) mean 0.857, Beta(8,3) mean 0.727
    assert day.router_confidence[easy].mean() == pytest.approx(12 / 14, abs=0.01)
    assert day.router_confidence[hid].mean() == pytest.approx(8 / 11, abs=0.015)
    assert (day.router_confidence[hid] > 0.8).mean() > 0.2  # overlapping
    ok, bad = day.correct & ~hid, ~day.correct & ~hid
    assert day.auto_score[ok].mean() > day.auto_score[bad].mean() + 0.2  # informative
    assert (day.auto_score[bad] > 0.5).mean() > 0.1  # but overlapping
    wrong_hidden = hid & ~day.correct
    assert (day.auto_score[wrong_hidden] > 0.7).mean() > 0.3  # confidently wrong judge


def test_embeddings_are_unit_float32_and_dimension_configurable() -> None:
    small = dataclasses.replace(SEED, embedding_dim=16)
    day = simulate_day(small, 0, np.random.default_rng(6), per_day=100)
    assert day.embedding.shape == (100, 16)
    assert day.embedding.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(day.embedding, axis=1), 1.0, rtol=1e-5)


def test_records_follow_the_shared_schemas() -> None:
    day = simulate_day(SEED, 40, np.random.default_rng(8), per_day=10_000)
    recs = list(day.response_records())
    assert len({r["id"] for r in recs}) == len(recs)
    required = {"id", "timestamp", "query", "response", "tier"}
    for r in recs[:500]:
        assert required <= set(r)
        assert r["timestamp"].endswith("Z")
        datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
        assert 0 <= r["router_confidence"] <= 1 and 0 <= r["auto_score"] <= 1
        assert r["cost_usd"] >= 0 and r["latency_ms"] >= 0
        assert len(r["embedding"]) == SEED.embedding_dim
        assert r["query"]
    cheap = [r for r in recs if r["tier"] == "cheap"]
    shadow_share = np.mean(["shadow" in r for r in cheap])
    assert shadow_share == pytest.approx(0.02, abs=0.006)
    assert all(r["tier"] == "cheap" for r in recs if "shadow" in r)
    cheap_cost = np.mean([r["cost_usd"] for r in cheap])
    capable_cost = np.mean([r["cost_usd"] for r in recs if r["tier"] == "capable"])
    assert cheap_cost / capable_cost == pytest.approx(0.25, rel=0.05)
    # Ground truth is never in the response records.
    assert not {"correct", "hidden_intent"} & set(recs[0])
    truth = next(day.truth_records())
    assert {"id", "correct", "hidden_intent"} <= set(truth)


def test_feedback_is_sparse_and_tied_to_wrong_answers() -> None:
    day = simulate_day(SEED, 0, np.random.default_rng(9), per_day=40_000)
    kinds = day.feedback_kind
    per_1000 = 1000 * (kinds == "thumbs_down").sum() / len(day)
    assert 1.5 < per_1000 < 4.5
    handoff = day.feedback_index[kinds == "handoff"]
    wrong = ~day.correct
    after_wrong = np.isin(np.flatnonzero(wrong), handoff).mean()
    after_right = np.isin(np.flatnonzero(~wrong), handoff).mean()
    assert after_wrong > 5 * after_right
    fb = list(day.feedback_records())
    assert {f["kind"] for f in fb} <= {"thumbs_up", "thumbs_down", "handoff"}
    ids = set(day.ids.tolist())
    assert all(f["response_id"] in ids for f in fb)
    ts = {str(i): str(t) for i, t in zip(day.ids, day.timestamps, strict=True)}
    assert all(f["timestamp"] >= ts[f["response_id"]] for f in fb)


def test_reference_set_is_pre_launch() -> None:
    ref = reference_set(SEED, 2000, seed=1)
    recs = list(ref.records())
    assert len(recs) == 2000
    assert {"query", "router_label", "router_confidence", "embedding"} <= set(recs[0])
    assert ref.embedding.shape == (2000, SEED.embedding_dim)
    assert not any("Payouts" in q for q in ref.query)


def test_write_scenario(tmp_path: Path) -> None:
    counts = write_scenario(tmp_path, "seed", days=2, per_day=300, seed=1, reference_n=200)
    for name in ("responses", "feedback", "reference", "truth"):
        lines = (tmp_path / f"{name}.jsonl").read_text().splitlines()
        assert len(lines) == counts[name]
        json.loads(lines[0]) if lines else None
    assert counts["responses"] == counts["truth"] == 600
    assert counts["reference"] == 200


def test_a_full_day_has_the_scenario_volume() -> None:
    # ~0.4 s a day measured; speed belongs to benchmarks, not to a timed test.
    batch = simulate_day(SEED, 60, np.random.default_rng(0))
    assert len(batch) == 40_000


def test_oracle_verdicts() -> None:
    rng = np.random.default_rng(10)
    truth = rng.random(100_000) < 0.8
    np.testing.assert_array_equal(oracle_verdicts(truth, 0.0, rng), truth)
    noisy = oracle_verdicts(truth, 0.1, rng)
    assert (noisy != truth).mean() == pytest.approx(0.1, abs=0.005)
    v = oracle_verdicts(truth, rng=rng, sensitivity=0.95, specificity=0.7)
    assert v[truth].mean() == pytest.approx(0.95, abs=0.005)
    assert (~v[~truth]).mean() == pytest.approx(0.7, abs=0.01)
