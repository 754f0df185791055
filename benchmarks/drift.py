"""Drift alarms (issue 9, item 3): how often a stable day alarms, how fast a real drift does.

Every figure is decided by the product's own function: ``sampling.drift.drift`` (PSI, KS,
Wasserstein/σ and ``drift_decision``'s level), called with the Bonferroni family the service
passes (``tiers`` = the tiers of the source tested that day). "Before" rows apply main's rule
to the same samples: a tier-day alarmed when PSI ≥ 0.10 (warn) or W/σ ≥ 0.1 (alert),
whatever its size.

1. Stable tier-days. The stable scenario's two tiers, each with exactly n answers a day
   (n = 100, 300, 1,000), against a reference of its own router label drawn from the
   router's training distribution (``sampling.simulate.reference_set``): 1,000 records per
   tier, and the product's default (the 2,000-record reference ``make run`` builds, which
   splits about 1,300 cheap / 700 capable). Fresh reference and day per repetition.
2. Detection on ``seed``: each tier's router confidence against its label's records of the
   reference, day by day (as ``alarms_compute_drift`` does), at the demo's volume (1,500
   answers a day, 2,000-record reference: ``manage.py setup_demo``) and at the scenario's
   (40,000 a day, 20,000-record reference: ``manage.py simulate``'s default). Two onsets:
   the hidden intents' ramp from day 14 (0 → 20 % of the cheap tier by day 70, confidence
   Beta(8, 3) instead of Beta(12, 2)) and the launch on day 35 (8 % of both tiers,
   Beta(6, 3)). Reported: false alarms on days 0–13 and the first alarm from each onset;
   a last run at 40,000 a day leaves the launch out, to time the ramp alone.
3. Three tiers, a reference without tiers (21 days, 500 answers per tier a day, a
   3,000-record reference mixing the tiers' confidences Beta(12, 2), Beta(10, 3), Beta(6, 3)
   in equal parts, no router labels; from day 10 a third of the cheap tier's answers come
   from Beta(8, 3)). Before: each tier against the whole reference (main). After: each tier
   against its own first ``DRIFT_BASELINE_DAYS`` (7) production days before the day, as
   ``services.DriftReference.for_tier`` chooses; day 0 has nothing to compare with. The same
   choice through the database is tested in tests/reviewapp/reports/test_daily_drift.py.
4. ``--db``: one seed run (50 days × 1,500 answers, 2,000-record reference) written to a
   fresh SQLite database and passed through ``services.alarms_compute_drift`` day by day.

    .venv/bin/python benchmarks/drift.py            # 1,000 stable days per cell, 20 seed runs
    .venv/bin/python benchmarks/drift.py --quick    # 300 days per cell, 3 seed runs (minutes)
    .venv/bin/python benchmarks/drift.py --quick --db   # + one 50-day seed run on SQLite

Embeddings are drawn at dimension 8 (they play no part in drift) to keep runs short.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, benchmarks/ would be first on the path (benchmarks/queue.py shadows the
# standard library's queue) and the repository root absent: use the repository's code.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from sampling.drift import PSI_WARN, WASSERSTEIN_ALERT, drift  # noqa: E402
from sampling.simulate import Scenario, load_scenario, reference_set, simulate_day  # noqa: E402

LABELS = {"cheap": "simple", "capable": "complex"}
# services.DRIFT_BASELINE_DAYS (the service is Django code; the benchmark stays pure).
BASELINE_DAYS = 7


def _old_level(result: Any) -> bool:
    """main's rule: PSI ≥ 0.10 or W/σ ≥ 0.1, whatever the sample sizes."""
    return bool(result.psi >= PSI_WARN or result.wasserstein_norm >= WASSERSTEIN_ALERT)


def _light(scenario: Scenario) -> Scenario:
    return dataclasses.replace(scenario, embedding_dim=8)


def _tier_reference(scenario: Scenario, size: int | None, total: int, seed: int) -> dict:
    """Per tier, the reference records of its router label: ``size`` of them when given (a
    larger set is drawn and cut), else the natural split of a ``total``-record set."""
    draw = total if size is None else int(size / 0.35 * 1.2) + 50
    ref = reference_set(scenario, n=draw, seed=seed)
    out = {}
    for tier, label in LABELS.items():
        values = ref.router_confidence[ref.router_label == label]
        out[tier] = values if size is None else values[:size]
        assert size is None or len(out[tier]) == size
    return out


def stable_days(reps: int) -> list[dict[str, Any]]:
    scenario = _light(load_scenario("stable"))
    rows = []
    for reference_label, size, total in (
        ("1,000 per tier", 1000, 0),
        ("2,000 (default)", None, 2000),
    ):
        for n in (100, 300, 1000):
            new = old = old_psi = old_w = days_any = 0
            m_seen = []
            for rep in range(reps):
                refs = _tier_reference(scenario, size, total, seed=10_000 * n + rep)
                day = simulate_day(
                    scenario,
                    40 + rep % 40,
                    np.random.default_rng([n, rep]),
                    per_day=int(n / 0.35 * 1.3) + 60,
                )
                any_new = False
                for tier in LABELS:
                    production = day.router_confidence[day.tier == tier][:n]
                    assert len(production) == n
                    result = drift(refs[tier], production, tiers=len(LABELS))
                    m_seen.append(len(refs[tier]))
                    new += result.level != "ok"
                    any_new |= result.level != "ok"
                    old += _old_level(result)
                    old_psi += result.psi >= PSI_WARN
                    old_w += result.wasserstein_norm >= WASSERSTEIN_ALERT
                days_any += any_new
            tier_days = reps * len(LABELS)
            rows.append(
                {
                    "reference": reference_label,
                    "m": f"{min(m_seen)}–{max(m_seen)}",
                    "n": n,
                    "tier_days": tier_days,
                    "after": new / tier_days,
                    "after_source_days": days_any / reps,
                    "before": old / tier_days,
                    "before_psi": old_psi / tier_days,
                    "before_w": old_w / tier_days,
                }
            )
            print(
                f"  stable {reference_label:<16} n={n:>5}: after {new / tier_days:6.2%} of "
                f"{tier_days} tier-days (source-days {days_any / reps:.2%}); before "
                f"{old / tier_days:6.2%} (PSI warn {old_psi / tier_days:.1%}, "
                f"W/σ alert {old_w / tier_days:.1%})",
                flush=True,
            )
    return rows


def seed_detection(
    runs: int, per_day: int, reference_n: int, days: int, *, launch: bool = True
) -> dict[str, Any]:
    """First alarm per tier from each onset; without ``launch`` the seed's launch is left out
    (``launch_day`` None), so the hidden intents' ramp is measured alone."""
    scenario = _light(load_scenario("seed"))
    if not launch:
        scenario = dataclasses.replace(scenario, launch_day=None)
    onsets = {"hidden intents": scenario.hidden_share_start_day}
    if scenario.launch_day is not None:
        onsets["launch"] = scenario.launch_day
    first: dict[str, dict[str, list[float]]] = {
        rule: {f"{o} {t}": [] for o in onsets for t in LABELS} for rule in ("after", "before")
    }
    false_pre: dict[str, int] = {"after": 0, "before": 0}
    pre_tier_days = scenario.hidden_share_start_day * len(LABELS) * runs
    for run in range(runs):
        refs = _tier_reference(scenario, None, reference_n, seed=run)
        alarmed: dict[str, dict[str, list[int]]] = {
            "after": {t: [] for t in LABELS},
            "before": {t: [] for t in LABELS},
        }
        for d in range(days):
            batch = simulate_day(scenario, d, np.random.default_rng([run, d]), per_day=per_day)
            for tier in LABELS:
                result = drift(
                    refs[tier], batch.router_confidence[batch.tier == tier], tiers=len(LABELS)
                )
                if result.level != "ok":
                    alarmed["after"][tier].append(d)
                if _old_level(result):
                    alarmed["before"][tier].append(d)
        for rule in ("after", "before"):
            for tier in LABELS:
                hits = alarmed[rule][tier]
                false_pre[rule] += sum(d < scenario.hidden_share_start_day for d in hits)
                for name, onset in onsets.items():
                    later = [d - onset for d in hits if d >= (onset or 0)]
                    first[rule][f"{name} {tier}"].append(later[0] if later else math.inf)
    out: dict[str, Any] = {
        "per_day": per_day,
        "reference": reference_n,
        "runs": runs,
        "days": days,
        "false_pre": {k: v / pre_tier_days for k, v in false_pre.items()},
    }
    for rule in ("after", "before"):
        out[rule] = {k: _delays(v) for k, v in first[rule].items()}
    return out


def _delays(values: list[float]) -> str:
    arr = np.array(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    never = int((~np.isfinite(arr)).sum())
    if not len(finite):
        return f"never ({never}/{len(arr)})"
    text = f"median {np.median(arr):.0f}, max {finite.max():.0f}"
    return text + (f", never in {never}/{len(arr)}" if never else "")


def three_tiers(runs: int) -> dict[str, Any]:
    tiers = {"cheap": (12.0, 2.0), "mid": (10.0, 3.0), "capable": (6.0, 3.0)}
    days, onset, per_tier = 21, 10, 500
    before_pre = before_post = after_pre = after_post = 0
    after_pre_days = 0
    cheap_psi_before: list[tuple[float, float]] = []
    first_after: list[float] = []
    for run in range(runs):
        rng = np.random.default_rng([77, run])
        reference = np.concatenate([rng.beta(a, b, 1000) for a, b in tiers.values()])
        history: dict[str, list[np.ndarray]] = {t: [] for t in tiers}
        pre_psi, post_psi = [], []
        first = math.inf
        for d in range(days):
            for tier, (a, b) in tiers.items():
                values = rng.beta(a, b, per_tier)
                if tier == "cheap" and d >= onset:
                    values = np.where(
                        rng.random(per_tier) < 1 / 3, rng.beta(8, 3, per_tier), values
                    )
                whole = drift(reference, values, tiers=len(tiers))
                if _old_level(whole):
                    if d < onset:
                        before_pre += 1
                    else:
                        before_post += 1
                if tier == "cheap":
                    (pre_psi if d < onset else post_psi).append(whole.psi)
                window = history[tier][:BASELINE_DAYS]
                if window:
                    own = drift(np.concatenate(window), values, tiers=len(tiers))
                    if own.level != "ok":
                        if d < onset:
                            after_pre += 1
                        else:
                            after_post += tier == "cheap"
                            if tier == "cheap":
                                first = min(first, d - onset)
                    if d < onset:
                        after_pre_days += 1
                history[tier].append(values)
        cheap_psi_before.append((float(np.mean(pre_psi)), float(np.mean(post_psi))))
        first_after.append(first)
    pre_psi_mean = np.mean([p for p, _ in cheap_psi_before])
    post_psi_mean = np.mean([q for _, q in cheap_psi_before])
    return {
        "runs": runs,
        "before_false": before_pre,
        "before_false_of": runs * onset * len(tiers),
        "before_post": before_post,
        "cheap_psi_whole_pre": float(pre_psi_mean),
        "cheap_psi_whole_post": float(post_psi_mean),
        "after_false": after_pre,
        "after_false_of": after_pre_days,
        "after_cheap_post": after_post,
        "after_cheap_post_of": runs * (days - onset),
        "after_first": _delays(first_after),
    }


def db_run(days: int, per_day: int, reference_n: int) -> dict[str, Any]:
    """One seed run through the product's database path: a fresh SQLite database in a
    temporary directory, the reference set and each day's answers written as the ingest
    would store them, then ``services.alarms_compute_drift`` for each day (what the ingest
    hook runs). Returns the alarms per tier and day."""
    import tempfile

    tmp = tempfile.mkdtemp(prefix="drift-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/drift.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings_test")
    import datetime as dt

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.LONGTAIL = {**settings.LONGTAIL, "ALARM_EMAILS": [], "ALARM_WEBHOOK_URL": ""}
    call_command("migrate", verbosity=0)
    from reviewapp.reports.services import alarms_compute_drift
    from reviewapp.responses.models import ReferenceRecord, ReferenceSet, Response, Source

    scenario = _light(load_scenario("seed"))
    source = Source.objects.create(name="drift-bench")
    reference_set_row = ReferenceSet.objects.create(name="drift-bench", source=source)
    ref = reference_set(scenario, n=reference_n, seed=0)
    ReferenceRecord.objects.bulk_create(
        ReferenceRecord(
            reference_set=reference_set_row,
            query=f"r{i}",
            router_label=str(label),
            router_confidence=float(value),
            content_hash=f"r{i}",
        )
        for i, (label, value) in enumerate(
            zip(ref.router_label, ref.router_confidence, strict=True)
        )
    )
    start = dt.date.fromisoformat(scenario.start_date)
    alarms: dict[str, list[int]] = {t: [] for t in LABELS}
    seconds = 0.0
    for d in range(days):
        batch = simulate_day(scenario, d, np.random.default_rng([0, d]), per_day=per_day)
        day = start + dt.timedelta(days=d)
        at = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
        Response.objects.bulk_create(
            (
                Response(
                    source=source,
                    external_id=f"{d}-{i}",
                    timestamp=at + dt.timedelta(seconds=20 * i),
                    query="q",
                    response="a",
                    tier=str(batch.tier[i]),
                    router_label=str(batch.router_label[i]),
                    router_confidence=float(batch.router_confidence[i]),
                    content_hash=f"{d}-{i}",
                )
                for i in range(len(batch.tier))
            ),
            batch_size=2000,
        )
        began = time.perf_counter()
        raised = alarms_compute_drift(source=source, day=day)
        seconds += time.perf_counter() - began
        for tier in {a.tier for a in raised}:
            alarms[tier].append(d)
    return {"alarms": alarms, "seconds_per_day": seconds / days, "path": tmp}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a run of a few minutes")
    parser.add_argument("--reps", type=int, help="stable days per cell")
    parser.add_argument("--runs", type=int, help="seed runs at 1,500 answers a day")
    parser.add_argument(
        "--db", action="store_true", help="also one seed run through the database (SQLite)"
    )
    args = parser.parse_args()
    reps = args.reps or (300 if args.quick else 1000)
    runs = args.runs or (3 if args.quick else 20)
    started = time.perf_counter()
    print(f"load average {os.getloadavg()[0]:.2f}; reps {reps}, seed runs {runs}")
    print("1. stable tier-days (two tiers tested a day)")
    stable_days(reps)
    print("2. seed detection (each tier against its router label's reference records)")
    cases = ((1500, 2000, runs, True), (40_000, 20_000, 1, True), (40_000, 20_000, 1, False))
    for per_day, reference_n, n_runs, launch in cases:
        result = seed_detection(n_runs, per_day, reference_n, days=50, launch=launch)
        print(
            f"  {per_day} answers/day, {reference_n}-record reference, {n_runs} run(s)"
            f"{'' if launch else ', WITHOUT the launch (the ramp alone)'}, days "
            f"0–{result['days'] - 1}: false alarms on days 0–13: after "
            f"{result['false_pre']['after']:.1%} of tier-days, before "
            f"{result['false_pre']['before']:.1%}"
        )
        for rule in ("after", "before"):
            for key, text in result[rule].items():
                print(f"    {rule:<6} days from {key} onset to first alarm: {text}")
    print("3. three tiers, reference without tiers (21 days, onset day 10)")
    t = three_tiers(runs)
    print(
        f"  before (whole reference): {t['before_false']} of {t['before_false_of']} tier-days "
        f"before the onset alarmed; cheap tier's PSI against the whole reference "
        f"{t['cheap_psi_whole_pre']:.3f} before the onset, {t['cheap_psi_whole_post']:.3f} after"
    )
    print(
        f"  after (own first {BASELINE_DAYS} days): {t['after_false']} of {t['after_false_of']} "
        f"compared tier-days before the onset alarmed; cheap tier alarmed on "
        f"{t['after_cheap_post']} of {t['after_cheap_post_of']} days from the onset; first "
        f"alarm {t['after_first']} days after it"
    )
    if args.db:
        print("4. one seed run through the database (alarms_compute_drift per day)")
        db = db_run(days=50, per_day=1500, reference_n=2000)
        for tier, hit in db["alarms"].items():
            print(f"  {tier}: alarms on days {hit or 'none'}")
        print(f"  alarms_compute_drift: {db['seconds_per_day']:.3f} s a day ({db['path']})")
    print(f"done in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
