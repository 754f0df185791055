"""Alarms: below target, CUSUM, drift, idempotent recompute, the page, the API, permissions."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pytest

from reviewapp.reports.models import Alarm
from reviewapp.reports.services import (
    alarm_baseline_set,
    alarm_baseline_window,
    alarms_compute_drift,
    alarms_compute_quality,
    alarms_compute_quality_all,
)
from sampling.estimate import stratified_estimate
from sampling.monitor import plan_alarms

from .alarm_factory import START, add_day, flags, make_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def alarm_settings(settings):
    settings.LONGTAIL = {
        **settings.LONGTAIL,
        "ALARM_BASELINE_DAYS": 3,
        "ALARM_CUSUM_RUNS": 400,
        "ALARM_EMAILS": [],
        "ALARM_WEBHOOK_URL": "",
    }
    return settings


# --- below target -----------------------------------------------------------------------------


def test_below_target_fires_only_when_the_whole_interval_is_under(reviewer, alarm_settings):
    # cheap: 30 of 40 correct (75 %) in a stratum of 1,000; capable: 38 of 40 (95 %).
    plan = make_plan(targets={"cheap": 0.95, "capable": 0.90})
    add_day(
        plan,
        START,
        [("cheap", "low", 1000, flags(40, 10)), ("capable", "low", 500, flags(40, 2))],
        reviewer=reviewer,
    )
    raised = alarms_compute_quality(plan=plan, day=START)
    assert [(a.tier, a.kind, a.level) for a in raised] == [("cheap", "below_target", "alert")]
    alarm = raised[0]
    # The interval is the design's own (one stratum: N = 1,000, n = 40, p̂ = 0.75).
    expected = stratified_estimate(
        np.array([1000]), np.zeros(40, int), np.array([1.0] * 30 + [0.0] * 10), confidence=0.999
    )
    assert alarm.evidence["estimate"] == pytest.approx(0.75)
    assert alarm.evidence["ci_high"] == pytest.approx(expected.ci_high)
    assert alarm.evidence["ci_high"] < 0.95 and alarm.evidence["confidence"] == 0.999
    assert alarm.evidence["target"] == 0.95
    assert alarm.day == START


def test_below_target_is_quiet_when_the_interval_reaches_the_target(reviewer, alarm_settings):
    # 75 % on 40 reviews: the interval's upper bound is above 0.80, so no alarm at 0.80.
    plan = make_plan(targets={"cheap": 0.80})
    add_day(plan, START, [("cheap", "low", 1000, flags(40, 10))], reviewer=reviewer)
    assert alarms_compute_quality(plan=plan, day=START) == []
    assert not Alarm.objects.exists()


def test_below_target_is_one_alarm_per_episode(reviewer, alarm_settings):
    # Three days in a row under target: one alarm, on the first; a day back above it ends the
    # episode, and falling under again is a new one.
    plan = make_plan(name="episodes", targets={"cheap": 0.95})
    for d, wrong in enumerate([10, 10, 10]):
        add_day(
            plan,
            START + dt.timedelta(days=d),
            [("cheap", "low", 1000, flags(40, wrong))],
            reviewer=reviewer,
        )
    for d in range(3):
        alarms_compute_quality(plan=plan, day=START + dt.timedelta(days=d))
    assert list(Alarm.objects.filter(kind="below_target").values_list("day", flat=True)) == [START]


# --- CUSUM --------------------------------------------------------------------------------------


def _cusum_plan(
    reviewer,
    *,
    monitored_wrong_rate: float,
    monitored_days: int = 4,
    seed: int = 7,
    targets: dict[str, float] | None = None,
):
    """Two strata of the cheap tier (baseline error 5 % and 30 %); 3 baseline days, then
    `monitored_days` days whose error rates are multiplied to `monitored_wrong_rate` of the
    hard stratum (and a third of it in the easy one). Returns (plan, days, flags per day)."""
    rng = np.random.default_rng(seed)
    plan = make_plan(name=f"cusum-{seed}-{monitored_wrong_rate}", targets=targets)
    days = []
    for d in range(3 + monitored_days):
        day = START + dt.timedelta(days=d)
        easy_p, hard_p = (0.05, 0.30) if d < 3 else (monitored_wrong_rate / 3, monitored_wrong_rate)
        easy = (rng.random(30) < easy_p).tolist()
        hard = (rng.random(20) < hard_p).tolist()
        add_day(
            plan,
            day,
            [("cheap", "low", 3000, easy), ("cheap", "high", 500, hard)],
            reviewer=reviewer,
        )
        days.append((day, easy, hard))
    return plan, days


def _expected_alarm_days(days, baseline_days: int = 3):
    """The plan's charts computed straight from sampling/ (`plan_alarms`, what the service
    calls): cells (cheap, high) = 0 and (cheap, low) = 1, charts per tier × band, reviews in
    the order the factory stamps them. Returns (sorted alarm days, thresholds per chart)."""
    base_wrong, base_cell, wrong, cell, where = [], [], [], [], []
    for d, (day, easy, hard) in enumerate(days):
        flags_, cells_ = easy + hard, [1] * len(easy) + [0] * len(hard)
        if d < baseline_days:
            base_wrong += flags_
            base_cell += cells_
        else:
            wrong += flags_
            cell += cells_
            where += [day] * len(flags_)
    result = plan_alarms(
        baseline_wrong=np.array(base_wrong, int),
        baseline_cell=np.array(base_cell, int),
        monitored_wrong=np.array(wrong, int),
        monitored_cell=np.array(cell, int),
        cell_tier=["cheap", "cheap"],
        cell_band=["high", "low"],
        baseline_days=baseline_days,
        n_runs=400,
    )
    alarm_days = sorted(
        {where[int(chart.reviews[i])] for chart in result.charts for i in chart.result.alarms}
    )
    return alarm_days, {c.name: c.h for c in result.charts}


def test_cusum_alarms_are_the_plan_charts_of_sampling_monitor(reviewer, alarm_settings):
    # The service raises exactly the alarms sampling.monitor.plan_alarms computes (the function
    # benchmarks/alarms.py measures): same days, same thresholds, one chart per tier × band.
    # Three baseline days of 50 reviews leave p0 uncertain, so h is high (≈ 27 and 34): the
    # calibration holds the plan to its promise whatever the true in-control rates are.
    plan, days = _cusum_plan(reviewer, monitored_wrong_rate=0.9, monitored_days=6)
    expected_days, h = _expected_alarm_days(days)
    assert expected_days, "the seeded shift is strong enough to cross"
    alarms_compute_quality(plan=plan, day=days[-1][0])
    cusum_alarms = list(Alarm.objects.filter(kind="cusum").order_by("day"))
    assert sorted({a.day for a in cusum_alarms}) == expected_days
    first = cusum_alarms[0]
    assert first.tier == "cheap" and first.level == "warn"
    assert first.evidence["chart"] in {"cheap|high", "cheap|low"}
    assert first.evidence["h"] == pytest.approx(h[first.evidence["chart"]])
    assert first.evidence["statistic"] >= first.evidence["h"]
    assert first.evidence["charts_in_plan"] == 2
    assert "per plan per quarter (91 days)" in first.evidence["promise"]
    assert first.evidence["drivers"], "the reviews that drove it are listed"
    assert first.evidence["baseline_end"] == days[2][0].isoformat()
    assert first.evidence["baseline_chosen"] == "default"
    # No CUSUM alarm ever dates from the baseline period.
    assert all(a.day > days[2][0] for a in cusum_alarms)


def test_cusum_restarts_and_keeps_alarming_on_a_persistent_shift(reviewer, alarm_settings):
    plan, days = _cusum_plan(reviewer, monitored_wrong_rate=0.95, monitored_days=9)
    alarms_compute_quality(plan=plan, day=days[-1][0])
    alarms = list(Alarm.objects.filter(kind="cusum").order_by("day"))
    assert alarms and all(a.evidence["calibration"] == "plan" for a in alarms)
    # A strong, persistent shift keeps crossing after each restart: more than one day alarms.
    assert len({a.day for a in alarms}) > 1


def test_cusum_stays_quiet_in_control(reviewer, alarm_settings):
    # The same error rates as the baseline (5 % and 30 %): in control.
    plan, days = _cusum_plan(reviewer, monitored_wrong_rate=0.30, seed=11)
    expected_days, _ = _expected_alarm_days(days)
    assert expected_days == []
    alarms_compute_quality(plan=plan, day=days[-1][0])
    assert not Alarm.objects.filter(kind="cusum").exists()


def test_a_baseline_set_by_the_qa_lead_is_the_one_used(reviewer, alarm_settings, qa_lead):
    # A shift inside the default window (days 0–2) is absorbed as "normal"; a QA lead who knows
    # only days 0–1 were good sets them, and day 2 onwards is watched against them.
    plan, days = _cusum_plan(reviewer, monitored_wrong_rate=0.95, monitored_days=6)
    window = alarm_baseline_window(plan)
    assert (window.start, window.end, window.chosen) == (days[0][0], days[2][0], "default")
    alarm_baseline_set(plan=plan, start=days[0][0], end=days[1][0], user=qa_lead)
    window = alarm_baseline_window(plan)
    assert (window.start, window.end, window.days, window.chosen) == (
        days[0][0],
        days[1][0],
        2,
        "set",
    )
    expected_days, _ = _expected_alarm_days(days, baseline_days=2)
    assert expected_days
    alarms_compute_quality(plan=plan, day=days[-1][0])
    alarms = list(Alarm.objects.filter(kind="cusum"))
    assert sorted({a.day for a in alarms}) == expected_days
    assert all(a.evidence["baseline_end"] == days[1][0].isoformat() for a in alarms)
    assert all(a.evidence["baseline_chosen"] == "set" for a in alarms)
    # Back to the default.
    alarm_baseline_set(plan=plan, start=None, end=None, user=qa_lead)
    assert alarm_baseline_window(plan).chosen == "default"


def test_a_baseline_needs_both_days_in_order(reviewer, alarm_settings, qa_lead):
    from reviewapp.reports.services import AlarmError

    plan = make_plan(name="bad-baseline")
    with pytest.raises(AlarmError, match="both"):
        alarm_baseline_set(plan=plan, start=START, end=None, user=qa_lead)
    with pytest.raises(AlarmError, match="before its first day"):
        alarm_baseline_set(plan=plan, start=START, end=START - dt.timedelta(days=1), user=qa_lead)
    # A window without any queue day: no chart can run, and no error either.
    alarm_baseline_set(plan=plan, start=START, end=START, user=qa_lead)
    assert not alarm_baseline_window(plan).complete
    assert alarms_compute_quality(plan=plan, day=START + dt.timedelta(days=5)) == []


def test_no_cusum_during_the_baseline(reviewer, alarm_settings):
    plan, days = _cusum_plan(reviewer, monitored_wrong_rate=0.9, monitored_days=0)
    alarms_compute_quality(plan=plan, day=days[-1][0])
    assert not Alarm.objects.filter(kind="cusum").exists()


def test_recompute_is_idempotent(reviewer, alarm_settings, django_capture_on_commit_callbacks):
    # Targets as of the queues' plan version: below target uses the version a day was built from.
    plan, days = _cusum_plan(
        reviewer, monitored_wrong_rate=0.95, monitored_days=6, targets={"cheap": 0.99}
    )
    with django_capture_on_commit_callbacks() as first_callbacks:
        alarms_compute_quality_all(plan=plan)
    before = sorted(Alarm.objects.values_list("plan_id", "tier", "kind", "day", "level"))
    assert {k for _, _, k, _, _ in before} == {"cusum", "below_target"}
    with django_capture_on_commit_callbacks() as second_callbacks:
        alarms_compute_quality_all(plan=plan)
        for day, _, _ in days:
            alarms_compute_quality(plan=plan, day=day)
    after = sorted(Alarm.objects.values_list("plan_id", "tier", "kind", "day", "level"))
    assert after == before
    # Only new alarms are notified: one callback each the first time, none the second.
    assert len(first_callbacks) == len(before)
    assert len(second_callbacks) == 0


def test_the_page_shows_each_plan_baseline_and_the_promise(
    client, qa_lead, viewer, reviewer, alarm_settings
):
    plan, days = _cusum_plan(reviewer, monitored_wrong_rate=0.30, monitored_days=1)
    client.force_login(viewer)
    text = client.get("/reports/alarms/").content.decode()
    assert "Quality baselines" in text
    assert f"{days[0][0]:%Y-%m-%d} – {days[2][0]:%Y-%m-%d}" in text
    assert "default: first 3 queue days" in text
    assert "per plan per quarter (91 days) in 95% of stable quarters" in text
    assert "per 500" not in text
    new = {"plan": plan.name, "start": days[1][0].isoformat(), "end": days[2][0].isoformat()}
    assert client.post("/reports/alarms/baseline/", new).status_code == 403
    client.force_login(qa_lead)
    assert client.post("/reports/alarms/baseline/", new).status_code == 302
    text = client.get("/reports/alarms/").content.decode()
    assert f"{days[1][0]:%Y-%m-%d} – {days[2][0]:%Y-%m-%d}" in text and "set by a QA lead" in text
    # Reversed days are refused with a clear message; the window stays.
    bad = {**new, "start": days[2][0].isoformat(), "end": days[1][0].isoformat()}
    page = client.post("/reports/alarms/baseline/", bad, follow=True).content.decode()
    assert "last day is before its first day" in page
    assert alarm_baseline_window(plan).start == days[1][0]
    client.post("/reports/alarms/baseline/", {"plan": plan.name, "use_default": "on"})
    assert alarm_baseline_window(plan).chosen == "default"


# --- drift --------------------------------------------------------------------------------------


def _drift_source(n_reference: int = 3000):
    from reviewapp.responses.models import ReferenceRecord, ReferenceSet, Source

    source = Source.objects.create(name="drift-src")
    reference = ReferenceSet.objects.create(name="drift-src", source=source)
    rng = np.random.default_rng(1)
    ReferenceRecord.objects.bulk_create(
        [
            ReferenceRecord(
                reference_set=reference,
                query=f"q{i}",
                router_label="simple",
                router_confidence=float(c),
                content_hash=f"c{i}",
            )
            for i, c in enumerate(rng.beta(12, 2, n_reference))
        ]
    )
    return source


def _answers(source, day: dt.date, confidences, tier: str = "cheap", prefix: str = "") -> None:
    from reviewapp.responses.models import Response

    at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    Response.objects.bulk_create(
        [
            Response(
                source=source,
                external_id=f"{prefix}{day}-{i}",
                timestamp=at,
                query="q",
                response="a",
                tier=tier,
                router_label="simple",
                router_confidence=float(c),
                content_hash=f"{prefix}{i}",
            )
            for i, c in enumerate(confidences)
        ]
    )


def test_drift_alarm_on_a_shifted_day_and_none_on_a_reference_like_day(alarm_settings):
    source = _drift_source()
    rng = np.random.default_rng(2)
    quiet, shifted = START, START + dt.timedelta(days=1)
    _answers(source, quiet, rng.beta(12, 2, 1500))
    _answers(source, shifted, rng.beta(8, 3, 1500))
    assert alarms_compute_drift(source=source, day=quiet) == []
    raised = alarms_compute_drift(source=source, day=shifted)
    kinds = {a.kind: a for a in raised}
    assert set(kinds) == {"drift_psi", "drift_wasserstein"}
    psi_alarm = kinds["drift_psi"]
    assert psi_alarm.evidence["psi"] >= 0.10
    assert psi_alarm.level == ("alert" if psi_alarm.evidence["psi"] >= 0.25 else "warn")
    assert kinds["drift_wasserstein"].evidence["wasserstein_norm"] >= 0.1
    assert psi_alarm.source == source and psi_alarm.plan is None and psi_alarm.tier == "cheap"
    # Recomputing raises nothing new.
    alarms_compute_drift(source=source, day=shifted)
    assert Alarm.objects.count() == 2


def test_drift_needs_enough_answers(alarm_settings):
    source = _drift_source()
    _answers(source, START, np.full(50, 0.2))
    assert alarms_compute_drift(source=source, day=START) == []


def test_ingest_computes_drift_for_the_days_it_wrote(
    alarm_settings, django_capture_on_commit_callbacks
):
    from reviewapp.responses.readers import RawRecord
    from reviewapp.responses.services import ingest_records

    source = _drift_source()
    rng = np.random.default_rng(5)
    records = [
        RawRecord(
            line_number=i + 1,
            data={
                "id": f"x{i}",
                "timestamp": "2025-03-02T08:00:00Z",
                "query": "q",
                "response": "a",
                "tier": "cheap",
                "router_label": "simple",
                "router_confidence": float(c),
            },
        )
        for i, c in enumerate(rng.beta(8, 3, 400))
    ]
    with django_capture_on_commit_callbacks() as callbacks:
        ingest_records(source=source, kind="responses", records=records)
    # Run the drift hook only (OOD scoring, the other hook, is tested with ingest).
    drift_hooks = [
        c
        for c in callbacks
        if "compute_drift_alarms_after_ingest" in (c.__code__.co_names + c.__code__.co_freevars)
    ]
    assert len(drift_hooks) == 1
    drift_hooks[0]()
    assert set(Alarm.objects.values_list("kind", "day")) >= {("drift_psi", dt.date(2025, 3, 2))}


# --- the page, the API, permissions -------------------------------------------------------------


@pytest.fixture
def some_alarms(reviewer, alarm_settings):
    plan = make_plan(name="plan-page", targets={"cheap": 0.95})
    add_day(plan, START, [("cheap", "low", 1000, flags(40, 10))], reviewer=reviewer)
    alarms_compute_quality(plan=plan, day=START)
    source = _drift_source()
    _answers(source, START, np.random.default_rng(3).beta(8, 3, 800), prefix="p")
    alarms_compute_drift(source=source, day=START)
    # An evidence value that would be markup if rendered as HTML.
    Alarm.objects.filter(kind="drift_psi").update(
        evidence={"reference_set": "<script>alert(1)</script>", "psi": 0.3}
    )
    return plan


def test_anonymous_goes_to_login_and_outsiders_and_reviewers_get_403(
    client, outsider, reviewer, some_alarms
):
    response = client.get("/reports/alarms/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    for user in (outsider, reviewer):
        client.force_login(user)
        assert client.get("/reports/alarms/").status_code == 403


def test_viewer_reads_and_downloads_but_cannot_change(client, viewer, some_alarms):
    client.force_login(viewer)
    page = client.get("/reports/alarms/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Below target" in text and "is below the target 95.0 %" in text
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text
    assert "Acknowledge</button>" not in text
    alarm = Alarm.objects.get(kind="below_target")
    assert client.post(f"/reports/alarms/{alarm.pk}/acknowledge/").status_code == 403
    assert client.post(f"/reports/alarms/{alarm.pk}/close/").status_code == 403
    assert client.post("/reports/alarms/recompute/", {"plan": "plan-page"}).status_code == 403
    alarm.refresh_from_db()
    assert alarm.status == "open"
    # CSV: the same rows as the page's table.
    download = client.get("/reports/alarms/?format=csv")
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(download.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "Day of data"  # the header first
    assert len(rows) - 1 == Alarm.objects.count() == len(page.context["rows"])
    assert [r[6] for r in rows[1:]] == [r["cells"][6] for r in page.context["rows"]]


def test_filters_by_plan_and_status(client, qa_lead, some_alarms):
    client.force_login(qa_lead)
    page = client.get(
        "/reports/alarms/", {"plan": "plan-page", "status": "all", "kind": "below_target"}
    )
    assert [r["alarm"].kind for r in page.context["rows"]] == ["below_target"]


def test_qa_lead_acknowledges_then_closes(client, qa_lead, some_alarms):
    client.force_login(qa_lead)
    alarm = Alarm.objects.get(kind="below_target")
    assert "Acknowledge</button>" in client.get("/reports/alarms/").content.decode()
    response = client.post(f"/reports/alarms/{alarm.pk}/acknowledge/")
    assert response.status_code == 302
    alarm.refresh_from_db()
    assert alarm.status == "acknowledged" and alarm.acknowledged_by == qa_lead
    client.post(f"/reports/alarms/{alarm.pk}/close/")
    alarm.refresh_from_db()
    assert alarm.status == "closed" and alarm.closed_at is not None
    # Closed alarms leave the default (active) view but stay in "all".
    assert alarm.pk not in [r["alarm"].pk for r in client.get("/reports/alarms/").context["rows"]]
    rows = client.get("/reports/alarms/", {"status": "all"}).context["rows"]
    assert alarm.pk in [r["alarm"].pk for r in rows]
    # A recompute neither reopens nor duplicates it.
    assert client.post("/reports/alarms/recompute/", {"plan": "plan-page"}).status_code == 302
    alarm.refresh_from_db()
    assert alarm.status == "closed"
    assert Alarm.objects.filter(kind="below_target").count() == 1


def test_api_lists_alarms_for_staff_readers_only(api_client, viewer, outsider, some_alarms):
    assert api_client.get("/api/v1/alarms/").status_code == 401
    api_client.force_authenticate(outsider)
    assert api_client.get("/api/v1/alarms/").status_code == 403
    api_client.force_authenticate(viewer)
    body = api_client.get("/api/v1/alarms/", {"plan": "plan-page"}).json()
    kinds = sorted(a["kind"] for a in body["results"])
    assert kinds == ["below_target"]  # the drift source is not one of this plan's sources
    first = body["results"][0]
    assert first["plan"] == "plan-page" and first["tier"] == "cheap"
    assert first["evidence"]["target"] == 0.95 and "below the target" in first["summary"]
    assert api_client.get("/api/v1/alarms/", {"status": "nonsense"}).status_code == 400
