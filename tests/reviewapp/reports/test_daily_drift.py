"""Stored daily drift (DailyDrift): one row per (source, tier, day), equal to the on-the-fly
formula on a hand-checked day, updated in place by a late ingest, read by the trends page and the
drift alarms (which compute and store a day that has no row), backfilled by
`manage.py compute_drift`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from reviewapp.reports.models import Alarm, DailyDrift
from reviewapp.reports.services import alarms_compute_drift, drift_compute
from reviewapp.responses.models import ReferenceRecord, ReferenceSet, Response, Source
from reviewapp.review.models import Queue, StratumCount
from reviewapp.review.services import plan_save
from sampling.drift import PSI_EPS, drift, psi

pytestmark = pytest.mark.django_db

DAY = dt.date(2025, 3, 4)
URL = "/reports/trends/"
# 100 reference records, ten in each decile: k/100 + 0.005. Their interior deciles fall at
# 0.104, 0.203, …, 0.896 (numpy's linear interpolation), between the tens.
REFERENCE = [k / 100 + 0.005 for k in range(100)]
# A production day at the deciles' centres (0.05, 0.15, …): 40 in the lowest, 20 in each of the
# next eight, none in the top one.
PRODUCTION = [0.05] * 40 + [0.15 + 0.1 * b for b in range(8) for _ in range(20)]
# PSI = Σ (p − q) ln(p/q), q = 0.1 per bin: the lowest bin (0.2 − 0.1) ln 2, the eight middle
# ones 0, the empty top one floored at 1e-4: (1e-4 − 0.1) ln(1e-4 / 0.1).
HAND_PSI = 0.1 * math.log(2) + (0.1 - PSI_EPS) * math.log(0.1 / PSI_EPS)


@pytest.fixture
def alarm_settings(settings):
    settings.LONGTAIL = {**settings.LONGTAIL, "ALARM_EMAILS": [], "ALARM_WEBHOOK_URL": ""}
    return settings


def _source(name: str = "drift-day", reference: list[float] = REFERENCE) -> Source:
    source = Source.objects.create(name=name)
    reference_set = ReferenceSet.objects.create(name=name, source=source)
    ReferenceRecord.objects.bulk_create(
        ReferenceRecord(
            reference_set=reference_set,
            query=f"r{i}",
            router_label="simple",
            router_confidence=v,
            content_hash=f"r{i}",
        )
        for i, v in enumerate(reference)
    )
    return source


def _answers(source: Source, day: dt.date, values: list[float], prefix: str = "a") -> None:
    at = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
    Response.objects.bulk_create(
        Response(
            source=source,
            external_id=f"{prefix}{day}-{i}",
            timestamp=at + dt.timedelta(seconds=i),
            query="q",
            response="a",
            tier="cheap",
            router_label="simple",
            router_confidence=v,
            content_hash=f"{prefix}{day}{i}"[:32],
        )
        for i, v in enumerate(values)
    )


def _plan(name: str, sources: list[Source], days: list[dt.date], reviewer) -> None:
    """A plan over the sources with a probability queue (one cheap stratum) on each day, so
    the trends page has the cheap tier in its window."""
    version = plan_save(
        name=name,
        config={"daily_budget": 4, "targets": {"cheap": 0.9}},
        sources=sources,
        reviewers=[reviewer],
    )
    for day in days:
        queue = Queue.objects.create(
            plan=version.plan, plan_version=version, day=day, population=200, size=4
        )
        StratumCount.objects.create(queue=queue, key="cheap", tier="cheap", population=200, quota=4)


def _drift_csv(client, plan: str, start: dt.date, end: dt.date) -> list[list[str]]:
    response = client.get(
        URL,
        {"plan": plan, "start": start, "end": end, "format": "csv", "table": "drift"},
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_the_stored_day_equals_the_formula_on_a_hand_checked_example(alarm_settings):
    source = _source()
    _answers(source, DAY, PRODUCTION)
    alarms = alarms_compute_drift(source=source, day=DAY)
    (row,) = DailyDrift.objects.all()
    assert (row.source, row.tier, row.day) == (source, "cheap", DAY)
    assert (row.n_production, row.n_reference, row.reference_labels) == (200, 100, ["simple"])
    assert row.psi_edges == pytest.approx([0.104, 0.203, 0.302, 0.401, 0.5, 0.599, 0.698,
                                           0.797, 0.896])  # fmt: skip
    assert row.psi_reference_counts == [10] * 10
    assert row.psi_production_counts == [40] + [20] * 8 + [0]
    assert row.psi == pytest.approx(HAND_PSI, rel=1e-12)  # 0.7594
    # The on-the-fly formula gives the same numbers.
    assert row.psi == pytest.approx(psi(REFERENCE, PRODUCTION), rel=1e-12)
    fresh = drift(REFERENCE, PRODUCTION)
    assert row.wasserstein_norm == pytest.approx(fresh.wasserstein_norm)
    assert row.ks_pvalue == pytest.approx(fresh.ks_pvalue)
    assert row.production_mean == pytest.approx(np.mean(PRODUCTION))
    assert row.psi_level == "alert"
    # The alarm is read from the row.
    psi_alarm = next(a for a in alarms if a.kind == Alarm.Kind.DRIFT_PSI)
    assert psi_alarm.level == "alert" and psi_alarm.evidence["psi"] == row.psi
    assert psi_alarm.evidence["n_production"] == 200


def test_a_late_ingest_recomputes_the_day_in_place(
    alarm_settings, django_capture_on_commit_callbacks
):
    from reviewapp.responses.readers import RawRecord
    from reviewapp.responses.services import ingest_records

    source = _source()

    def ingest(values: list[float], prefix: str) -> None:
        records = [
            RawRecord(
                line_number=i + 1,
                data={
                    "id": f"{prefix}{i}",
                    "timestamp": "2025-03-04T08:00:00Z",
                    "query": f"q {prefix}{i}",
                    "response": "a",
                    "tier": "cheap",
                    "router_label": "simple",
                    "router_confidence": v,
                },
            )
            for i, v in enumerate(values)
        ]
        with django_capture_on_commit_callbacks() as callbacks:
            ingest_records(source=source, kind="responses", records=records)
        hooks = [
            c
            for c in callbacks
            if "compute_drift_alarms_after_ingest" in (c.__code__.co_names + c.__code__.co_freevars)
        ]
        assert len(hooks) == 1
        hooks[0]()

    # Ten answers at each decile's centre: the reference's shape, PSI 0.
    ingest([0.05 + 0.1 * b for b in range(10) for _ in range(10)], "early")
    row = DailyDrift.objects.get(source=source, tier="cheap", day=DAY)
    assert row.n_production == 100 and row.psi == pytest.approx(0.0, abs=1e-12)
    first_pk, first_at = row.pk, row.computed_at
    # A late ingest: 100 more answers in the lowest decile. Bin shares 110/200 and 9 × 10/200:
    # PSI = (0.55 − 0.1) ln 5.5 + 9 · (0.05 − 0.1) ln 0.5.
    ingest([0.05] * 100, "late")
    row = DailyDrift.objects.get(source=source, tier="cheap", day=DAY)
    assert DailyDrift.objects.count() == 1 and row.pk == first_pk
    assert row.n_production == 200
    assert row.psi_production_counts == [110] + [10] * 9
    assert row.psi == pytest.approx(0.45 * math.log(5.5) + 9 * 0.05 * math.log(2), rel=1e-12)
    assert row.computed_at >= first_at
    assert Alarm.objects.filter(source=source, kind="drift_psi", day=DAY).count() == 1


def test_the_trends_page_reads_stored_rows_and_computes_missing_days(client, qa_lead, reviewer):
    source = _source()
    day2 = DAY + dt.timedelta(days=1)
    _answers(source, DAY, PRODUCTION)
    _answers(source, day2, REFERENCE)  # like the reference: PSI 0
    _plan("drift-plan", [source], [DAY, day2], reviewer)
    assert not DailyDrift.objects.exists()  # bulk-created: no ingest hook ran
    client.force_login(qa_lead)
    rows = _drift_csv(client, "drift-plan", DAY, day2)
    assert rows[0] == ["Tier", "Day", "Level", "Compared with", "Production answers",
                       "Reference values", "PSI", "PSI p-value", "Wasserstein / reference SD",
                       "KS p-value"]  # fmt: skip
    compared = "reference set drift-day, router label simple"
    assert rows[1][:7] == ["cheap", "2025-03-04", "alert", compared, "200", "100", "0.759"]
    assert rows[2][:8] == ["cheap", "2025-03-05", "ok", compared, "100", "100", "0.000", "1"]
    # The missing days were computed and stored...
    assert DailyDrift.objects.filter(source=source).count() == 2
    # ...and the page reads them from now on (a changed stored value shows).
    DailyDrift.objects.filter(day=DAY).update(psi=0.1234)
    assert _drift_csv(client, "drift-plan", DAY, day2)[1][6] == "0.123"
    # A drift day's histograms carry the stored point.
    page = client.get(
        URL + "drift/",
        {
            "plan": "drift-plan",
            "start": DAY,
            "end": day2,
            "tier": "cheap",
            "day": "2025-03-04",
        },  # fmt: skip
    )
    html = page.content.decode()
    assert page.status_code == 200 and "PSI 0.123" in html
    assert "100 values of reference set drift-day, router label simple" in html


def test_a_plan_over_two_sources_shows_the_drift_of_each(client, qa_lead, reviewer):
    a = _source("drift-a")
    b = _source("drift-b")
    _answers(a, DAY, PRODUCTION)
    _answers(b, DAY, REFERENCE)
    _plan("two-sources", [a, b], [DAY], reviewer)
    client.force_login(qa_lead)
    rows = _drift_csv(client, "two-sources", DAY, DAY)
    assert rows[0][:3] == ["Source", "Tier", "Day"]
    assert [r[:3] + r[5:8] for r in rows[1:]] == [
        ["drift-a", "cheap", "2025-03-04", "200", "100", "0.759"],
        ["drift-b", "cheap", "2025-03-04", "100", "100", "0.000"],
    ]
    query = {"plan": "two-sources", "start": DAY, "end": DAY, "tier": "cheap", "day": DAY}
    assert client.get(URL + "drift/", query).status_code == 404  # which source?
    page = client.get(URL + "drift/", {**query, "source": "drift-b"})
    assert page.status_code == 200 and "Source drift-b." in page.content.decode()
    assert client.get(URL + "drift/", {**query, "source": "other"}).status_code == 404
    # The trends page links each row's day with its source.
    html = client.get(URL, {"plan": "two-sources", "start": DAY, "end": DAY}).content.decode()
    assert "source=drift-a" in html and "source=drift-b" in html


def test_compute_drift_backfills_idempotently(alarm_settings):
    source = _source()
    day2 = DAY + dt.timedelta(days=1)
    _answers(source, DAY, PRODUCTION)
    _answers(source, day2, REFERENCE)
    out = io.StringIO()
    call_command("compute_drift", "--since", "2025-01-01", stdout=out)
    assert "drift-day: 2 days computed (2025-03-04 to 2025-03-05)" in out.getvalue()
    first = {(r.day, r.tier): (r.pk, r.psi) for r in DailyDrift.objects.all()}
    assert first[(DAY, "cheap")][1] == pytest.approx(HAND_PSI)
    call_command("compute_drift", "--since", "2025-03-04", stdout=io.StringIO())
    assert {(r.day, r.tier): (r.pk, r.psi) for r in DailyDrift.objects.all()} == first
    # --missing computes only the days without a row; --alarms raises the day's alarms.
    DailyDrift.objects.filter(day=day2).delete()
    out = io.StringIO()
    call_command("compute_drift", "--since", "2025-03-04", "--missing", "--alarms", stdout=out)
    assert "1 days computed" in out.getvalue()
    assert DailyDrift.objects.count() == 2
    # The alarms come from the stored rows: DAY's (PSI 0.759) raised, day2's (PSI 0) not.
    assert not Alarm.objects.exists()  # DAY was not recomputed, so only day2 was checked
    call_command("compute_drift", "--since", "2025-03-04", "--alarms", stdout=io.StringIO())
    assert set(Alarm.objects.values_list("kind", "day")) >= {("drift_psi", DAY)}
    assert not Alarm.objects.filter(day=day2).exists()


def test_compute_drift_rejects_bad_arguments(db):
    _source()
    with pytest.raises(CommandError, match="--since '4 March': give a day as YYYY-MM-DD"):
        call_command("compute_drift", "--since", "4 March")
    with pytest.raises(CommandError, match="no such source: nope"):
        call_command("compute_drift", "--since", "2025-03-04", "--source", "nope")
    with pytest.raises(CommandError, match="before --since"):
        call_command("compute_drift", "--since", "2025-03-04", "--until", "2025-03-01")


def test_a_tier_gone_from_the_day_loses_its_row(db):
    source = _source()
    _answers(source, DAY, PRODUCTION)
    drift_compute(source=source, day=DAY)
    assert DailyDrift.objects.filter(tier="cheap").exists()
    Response.objects.filter(source=source).update(tier="capable")
    drift_compute(source=source, day=DAY)
    assert list(DailyDrift.objects.values_list("tier", flat=True)) == ["capable"]


# --- like with like: a reference set without tiers ----------------------------------------------

THREE_TIERS = {"cheap": (12.0, 2.0), "mid": (10.0, 3.0), "capable": (6.0, 3.0)}


def _three_tier_source(rng: np.random.Generator) -> Source:
    """A reference set of 600 records without router labels (a mixture of three tiers whose
    router confidences differ), and 10 stable days of 150 answers per tier (day 0 = DAY)."""
    source = Source.objects.create(name="three-tiers")
    reference_set = ReferenceSet.objects.create(name="three-tiers", source=source)
    mixture = np.concatenate([rng.beta(a, b, 200) for a, b in THREE_TIERS.values()])
    # A few records do carry the cheap tier's label: too few (< 100) to stand for it.
    labels = ["simple"] * 20 + [""] * (len(mixture) - 20)
    ReferenceRecord.objects.bulk_create(
        ReferenceRecord(
            reference_set=reference_set,
            query=f"r{i}",
            router_label=label,
            router_confidence=float(v),
            content_hash=f"r{i}",
        )
        for i, (label, v) in enumerate(zip(labels, mixture, strict=True))
    )
    return source


def _tier_answers(source: Source, day: dt.date, tier: str, values: np.ndarray) -> None:
    at = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
    Response.objects.bulk_create(
        Response(
            source=source,
            external_id=f"{tier}{day}-{i}",
            timestamp=at + dt.timedelta(seconds=i),
            query="q",
            response="a",
            tier=tier,
            router_label="simple" if tier == "cheap" else "",
            router_confidence=float(v),
            content_hash=f"{tier}{day}{i}"[:32],
        )
        for i, v in enumerate(values)
    )


def test_without_tiers_in_the_reference_each_tier_is_compared_with_its_own_first_days(
    alarm_settings,
):
    """The reference mixes three tiers: comparing each tier with all of it alarmed every tier
    every day. Now each tier is compared with its own first production days (up to
    DRIFT_BASELINE_DAYS before the day), no stable day alarms, a shift of the cheap tier
    from day 10 does, and the row, the evidence and the alarm text say what was compared."""
    from reviewapp.reports.services import DRIFT_BASELINE_DAYS, alarm_describe

    rng = np.random.default_rng(11)
    source = _three_tier_source(rng)
    days = [DAY + dt.timedelta(days=d) for d in range(12)]
    for d, day in enumerate(days):
        for tier, (a, b) in THREE_TIERS.items():
            values = rng.beta(a, b, 150)
            if tier == "cheap" and d >= 10:  # onset: 40 % of the cheap tier from Beta(6, 3)
                values = np.where(rng.random(150) < 0.4, rng.beta(6, 3, 150), values)
            _tier_answers(source, day, tier, values)
    raised = {day: alarms_compute_drift(source=source, day=day) for day in days}
    # Day 0 has nothing earlier to compare with: no row, no alarm (never the whole reference).
    assert not DailyDrift.objects.filter(day=days[0]).exists() and raised[days[0]] == []
    for d, day in enumerate(days[1:10], start=1):
        rows = DailyDrift.objects.filter(source=source, day=day).order_by("tier")
        assert [r.tier for r in rows] == ["capable", "cheap", "mid"]
        for row in rows:
            assert row.reference_kind == DailyDrift.ReferenceKind.PRODUCTION_WINDOW
            assert row.reference_start == DAY
            assert row.reference_end == DAY + dt.timedelta(days=min(d, DRIFT_BASELINE_DAYS) - 1)
            assert row.n_reference == 150 * min(d, DRIFT_BASELINE_DAYS)
            assert row.tiers_tested == 3
        assert raised[day] == [], f"a stable day alarmed: {day}"
    # The shift alarms on the cheap tier only, against its own days 0-6.
    for day in days[10:]:
        assert {a.tier for a in raised[day]} == {"cheap"}
    alarm = raised[days[10]][0]
    assert alarm.evidence["compared_with"] == "tier cheap's own answers, 2025-03-04 to 2025-03-10"
    assert alarm.evidence["reference_kind"] == "production_window"
    assert alarm.evidence["reference_labels"] == []
    assert alarm.evidence["reference_start"] == "2025-03-04"
    assert alarm.evidence["alpha_per_test"] == pytest.approx(0.01 / 6)
    assert "against tier cheap's own answers, 2025-03-04 to 2025-03-10" in alarm_describe(alarm)
    assert "significant" in alarm_describe(alarm)
    # What the old comparison did: every tier against the whole mixed reference is a
    # material difference on a stable day (the false alarms this replaces).
    reference = np.array(
        ReferenceRecord.objects.values_list("router_confidence", flat=True), dtype=float
    )
    stable_capable = np.array(
        Response.objects.filter(tier="capable", timestamp__date=days[5]).values_list(
            "router_confidence", flat=True
        ),
        dtype=float,
    )
    assert drift(reference, stable_capable).level == "alert"


def test_a_reference_with_enough_records_of_the_tier_is_used_before_production(alarm_settings):
    source = _source()  # 100 records labelled "simple": exactly the minimum
    _answers(source, DAY, PRODUCTION)
    (row,) = drift_compute(source=source, day=DAY)
    assert row.reference_kind == DailyDrift.ReferenceKind.REFERENCE_SET
    assert row.compared_with == "reference set drift-day, router label simple"
    # One record fewer: the set no longer stands for the tier, and with no earlier day of
    # production there is nothing like-for-like to compare with.
    ReferenceRecord.objects.filter(query="r0").delete()
    assert drift_compute(source=source, day=DAY) == []
    assert not DailyDrift.objects.exists()
