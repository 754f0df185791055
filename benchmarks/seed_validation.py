"""Does Longtail catch the seed's failure, end to end? (issue 5, "Must show", first bullet)

The `seed` scenario is loaded into a database through the ingest service (`simulate --load`,
source "sim-seed-val-<days>x<per-day>", ground truth kept apart in simulated/<source>/),
then three plans are run day by day exactly as in production — build the day's queue
(queue_build: strata, allocation from past reviews, seeded draw), review it with the
simulator's oracle (reviewapp.reports.oracle: claim + submit, 2 % reviewer error by default),
next day — each with the same daily budget (200 reviews):

  stratified  Longtail's default plan: tier × uncertainty × OOD, Neyman, oversampling ×8 of
              the cheap tier's high-uncertainty answers and ×3 of OOD edge/out;
  by-tier     uniform review split by tier: dimensions ["tier"], proportional allocation;
  uniform     the seed team's uniform sample: dimensions ["segment"], proportional allocation
              (a simple random sample up to segment balance), read as one aggregate.

Then it reads the plans back only through the reports bridge (reviewapp.reports.selectors:
stored StratumCount populations + reviews) and compares with the TRUE accuracy computed from
truth.jsonl over the same responses:
  - per tier and weekly window, whether the report's 95 % interval contains the true accuracy
    (and the accuracy the oracle "sees", a(1−2e)+e, since an erring reviewer shifts it; and
    whether the Rogan–Gladen corrected interval, Se = Sp = 1 − e, contains the true accuracy);
    per tier and day, whether the day's interval contains the day's true accuracy (one
    interval per tier and day pins coverage down better than a handful of weekly ones);
  - the day the cheap tier's first quality alarm fires: the alarm service
    (reviewapp.reports.services.alarms_compute_quality_all: CUSUM and below-target) where it
    exists, and the issue 3 study's own CUSUM (odds ratio 3, p0 = the stratum's days-0–13
    error rate, h from docs/efficiency.md for ≤ 1 false alarm a quarter) on the stored reviews,
    compared with the detection window issue 3 measured (median 7, p90 9 days after onset).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/longtail_seedval \\
        .venv/bin/python benchmarks/seed_validation.py --days 56 --per-day 4000
    (default database: that one, created if missing; --transport api reviews through DRF
    in-process, --transport service through the same services without DRF, 6× faster)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

# benchmarks/queue.py would shadow the standard library's queue: drop this folder from the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/longtail_seedval"
ONSET = 14
# docs/efficiency.md: h for ≤ 1 alarm per in-control quarter, odds ratio 3, per strategy.
H_QUARTER = {"uniform": 7.80, "by-tier": 7.25, "stratified": 7.15}
ODDS_RATIO = 3.0


def _ensure_pg_database(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = url.replace(parsed.path, "/postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    os.environ.setdefault("DEBUG", "1")
    _ensure_pg_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def plan_configs(budget: int) -> dict[str, dict[str, Any]]:
    from reviewapp.reports.oracle import default_plan_config

    uniform = {"allocation": "proportional", "daily_budget": budget, "stratum_min": 2}
    return {
        "stratified": default_plan_config(budget=budget),
        "by-tier": {**uniform, "dimensions": ["tier"], "targets": {"cheap": 0.93, "capable": 0.93}},
        "uniform": {**uniform, "dimensions": ["segment"], "targets": {"": 0.93}},
    }


def true_accuracy(truth: dict[str, bool], source: Any) -> dict[tuple[str, dt.date], list[int]]:
    """{(tier, day): [correct, total]} over every response of the source."""
    from reviewapp.responses.models import Response

    cells: dict[tuple[str, dt.date], list[int]] = defaultdict(lambda: [0, 0])
    for external_id, tier, ts in (
        Response.objects.filter(source=source)
        .values_list("external_id", "tier", "timestamp")
        .iterator(chunk_size=20_000)
    ):
        cell = cells[(tier, ts.astimezone(dt.UTC).date())]
        cell[0] += int(truth[external_id])
        cell[1] += 1
    return cells


def _truth_over(cells: dict[tuple[str, dt.date], list[int]], tier: str | None, days: list[dt.date]):
    good = total = 0
    for (t, d), (c, n) in cells.items():
        if (tier is None or t == tier) and d in days:
            good += c
            total += n
    return good / total if total else float("nan")


def coverage(
    plan: Any, windows: list[list[dt.date]], cells: dict[tuple[str, dt.date], list[int]], e: float
) -> dict[str, list[tuple[bool, bool, bool, float, float, float, float]]]:
    """Per tier (all traffic for the uniform plan) and window: whether the report's 95 %
    interval contains the true accuracy, the accuracy the oracle sees (a(1−2e)+e), and
    whether the Rogan–Gladen corrected interval (the agreement page's rogan_gladen_interval
    with Se = Sp = 1 − e known, so without the uncertainty of Se/Sp from gold) contains the
    true accuracy; then the true accuracy, the estimate and its interval."""
    from reviewapp.reports.selectors import domain_rows, report_data
    from sampling.estimate import rogan_gladen_interval

    cover: dict[str, list[tuple[bool, bool, bool, float, float, float, float]]] = defaultdict(list)
    for window in windows:
        data = report_data(plan=plan, start=window[0], end=window[-1])
        for row in domain_rows(data, ("tier",)):
            if row.ci_low is None:
                continue
            tier = row.key[0] or None  # the uniform plan has no tier: all traffic
            true = _truth_over(cells, tier, window)
            seen = true * (1 - 2 * e) + e
            # Se and Sp are the oracle's, known here (the seed run reviews no gold): the
            # agreement page's interval adds their uncertainty (benchmarks/rogan_gladen.py).
            fixed = rogan_gladen_interval(
                row.accuracy,
                row.ci_low,
                row.ci_high if row.ci_high is not None else 1.0,
                sensitivity=1 - e,
                gold_correct=float("inf"),
                specificity=1 - e,
                gold_wrong=float("inf"),
            )
            low, high = fixed.ci_low, fixed.ci_high
            cover[tier or "all"].append(
                (
                    row.ci_low <= true <= row.ci_high,
                    row.ci_low <= seen <= row.ci_high,
                    low <= true <= high,
                    true,
                    row.accuracy,
                    row.ci_low,
                    row.ci_high,
                )
            )
    return cover


def cusum_first_alarm(plan: Any, name: str, start: dt.date) -> tuple[int | None, int]:
    """The issue 3 study's CUSUM over the plan's stored reviews of the watched domain (cheap
    tier; all traffic for the uniform plan): (first alarm day − onset, watched reviews/day)."""
    import numpy as np

    from reviewapp.review.models import Queue, Review
    from sampling.detect import cusum_weights

    reviews = list(
        Review.objects.filter(
            item__queue__plan=plan, item__queue__kind=Queue.Kind.PROBABILITY, item__is_gold=False
        )
        .order_by("item__queue__day", "created_at", "pk")
        .values_list("item__queue__day", "item__stratum__key", "item__stratum__tier", "verdict")
    )
    watched = [r for r in reviews if name == "uniform" or r[2] == "cheap"]
    day_no = np.array([(r[0] - start).days for r in watched])
    wrong = np.array([Review.SCORES[r[3]] < 0.5 for r in watched], dtype=float)
    keys = np.array([r[1] if name == "stratified" else "all" for r in watched], dtype=object)
    base = day_no < ONSET
    p0 = np.empty(len(watched))
    for key in set(keys.tolist()):
        k = keys == key
        p0[k] = (wrong[k & base].sum() + 1) / ((k & base).sum() + 2)
    mon = ~base
    s, first = 0.0, None
    weights = cusum_weights(wrong[mon], p0[mon], ODDS_RATIO).tolist()
    for w, d in zip(weights, day_no[mon].tolist(), strict=True):
        s = max(0.0, s + w)
        if s >= H_QUARTER[name]:
            first = d - ONSET
            break
    per_day = int(round(len(watched) / max(day_no.max() + 1, 1))) if len(watched) else 0
    return first, per_day


def service_alarm_days(plan: Any, start: dt.date) -> dict[str, int | None]:
    """First cheap-tier alarm per kind from the alarm service (days after onset), if it exists."""
    try:
        from reviewapp.reports.models import Alarm
        from reviewapp.reports.services import alarms_compute_quality_all
    except ImportError:
        return {}
    alarms_compute_quality_all(plan=plan)
    out: dict[str, int | None] = {}
    for alarm in Alarm.objects.filter(plan=plan, tier="cheap").order_by("day"):
        out.setdefault(alarm.kind, (alarm.day - start).days - ONSET)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--per-day", type=int, default=4000)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--error-rate", type=float, default=0.02)
    parser.add_argument("--reviewers", type=int, default=2)
    parser.add_argument("--transport", choices=("api", "service"), default="api")
    parser.add_argument("--reference", type=int, default=5000)
    parser.add_argument("--plans", default="stratified,by-tier,uniform")
    parser.add_argument("--out", help="write the markdown tables to this file")
    args = parser.parse_args()
    t0 = time.time()
    _setup(args.database_url)

    from django.core.management import call_command

    from reviewapp.reports.oracle import plan_build_and_review, source_days, truth_load
    from reviewapp.responses.models import Response, Source
    from reviewapp.review.models import Plan, Queue, Review
    from reviewapp.review.services import plan_save

    SOURCE = f"sim-seed-val-{args.days}x{args.per_day}"
    source = Source.objects.filter(name=SOURCE).first()
    if source is None or not Response.objects.filter(source=source).exists():
        print(f"loading seed: {args.days} days × {args.per_day}/day into {SOURCE} ...", flush=True)
        call_command(
            "simulate",
            "--scenario",
            "seed",
            "--days",
            str(args.days),
            "--per-day",
            str(args.per_day),
            "--reference",
            str(args.reference),
            "--source",
            SOURCE,
            "--load",
        )
        source = Source.objects.get(name=SOURCE)
    t_load = time.time() - t0
    truth = truth_load(ROOT / "simulated" / SOURCE / "truth.jsonl")
    days = source_days(source)
    start = days[0]
    print(
        f"{len(days)} days, {Response.objects.filter(source=source).count()} responses "
        f"(load {t_load:.0f} s)",
        flush=True,
    )
    cells = true_accuracy(truth, source)

    results: dict[str, Any] = {}
    for name in args.plans.split(","):
        t1 = time.time()
        plan = Plan.objects.filter(name=f"seedval-{name}").first()
        if plan is None:
            plan = plan_save(
                name=f"seedval-{name}", config=plan_configs(args.budget)[name], sources=[source]
            ).plan
        summary = plan_build_and_review(
            plan=plan,
            days=days,
            truth=truth,
            reviewers=args.reviewers,
            error_rate=args.error_rate,
            transport=args.transport,
            seed=1,
        )
        t_review = time.time() - t1
        e = args.error_rate
        windows = [days[i : i + 7] for i in range(0, len(days) - 6, 7)]
        cover = coverage(plan, windows, cells, e)
        daily = coverage(plan, [[d] for d in days], cells, e)
        first, per_day = cusum_first_alarm(plan, name, start)
        t2 = time.time()
        service = service_alarm_days(plan, start) if name != "uniform" else {}
        results[name] = {
            # Stored reviews, not this run's: a rerun on the same database only reports.
            "reviews": Review.objects.filter(
                item__queue__plan=plan, item__queue__kind=Queue.Kind.PROBABILITY
            ).count(),
            "cover": cover,
            "daily": daily,
            "cusum": first,
            "per_day": per_day,
            "service": service,
            "t_review": t_review,
            "t_alarm": time.time() - t2,
        }
        print(
            f"{name}: {summary.reviews} new reviews in {t_review:.0f} s; cusum first alarm "
            f"{first} days after onset ({per_day} watched reviews/day); alarm service {service}",
            flush=True,
        )
        for tier, rows in cover.items():
            print(
                f"  {tier}: truth in interval {sum(r[0] for r in rows)}/{len(rows)} weekly "
                f"windows; reviewer-seen accuracy in interval {sum(r[1] for r in rows)}/{len(rows)}"
                f"; truth in the Rogan–Gladen corrected interval {sum(r[2] for r in rows)}/"
                f"{len(rows)}; days: truth in interval "
                f"{sum(r[0] for r in daily[tier])}/{len(daily[tier])}"
            )

    lines = [
        f"Generated by `benchmarks/seed_validation.py --days {args.days} --per-day {args.per_day}"
        f" --budget {args.budget} --error-rate {args.error_rate} --reviewers {args.reviewers}"
        f" --transport {args.transport}` on {connection_vendor()} in {time.time() - t0:.0f} s.",
        "",
        "| plan | reviews | tier | weekly windows whose 95 % interval contains the true "
        "accuracy | … contains the accuracy the oracle sees, a(1−2e)+e | … whose Rogan–Gladen "
        "corrected interval (Se = Sp = 1 − e) contains the true accuracy | days whose 95 % "
        "interval contains the true accuracy | … whose corrected interval does | cheap-tier "
        "CUSUM: days from onset to first alarm | alarm service: first cheap-tier alarm |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    # weekly: true, seen, corrected, windows; daily: true, corrected, days
    totals = [0, 0, 0, 0, 0, 0, 0]
    for name, r in results.items():
        for tier, rows in sorted(r["cover"].items()):
            service = (
                ", ".join(
                    f"{k} +{v}" for k, v in sorted(r["service"].items(), key=lambda kv: kv[1])
                )
                or "—"
            )
            daily = r["daily"].get(tier, [])
            counts = [sum(x[i] for x in rows) for i in range(3)]
            totals = [
                a + b
                for a, b in zip(
                    totals,
                    [
                        *counts,
                        len(rows),
                        sum(x[0] for x in daily),
                        sum(x[2] for x in daily),
                        len(daily),
                    ],
                    strict=True,
                )
            ]
            lines.append(
                f"| {name} | {r['reviews']} | {tier} | {counts[0]}/{len(rows)} | "
                f"{counts[1]}/{len(rows)} | {counts[2]}/{len(rows)} | "
                f"{sum(x[0] for x in daily)}/{len(daily)} | "
                f"{sum(x[2] for x in daily)}/{len(daily)} | "
                f"{'none' if r['cusum'] is None else r['cusum']} ({r['per_day']} watched/day) | "
                f"{service} |"
            )
    if totals[3] and totals[6]:
        lines.append(
            f"| all | | | {totals[0]}/{totals[3]} ({100 * totals[0] / totals[3]:.0f} %) | "
            f"{totals[1]}/{totals[3]} ({100 * totals[1] / totals[3]:.0f} %) | "
            f"{totals[2]}/{totals[3]} ({100 * totals[2] / totals[3]:.0f} %) | "
            f"{totals[4]}/{totals[6]} ({100 * totals[4] / totals[6]:.1f} %) | "
            f"{totals[5]}/{totals[6]} ({100 * totals[5] / totals[6]:.1f} %) | | |"
        )
    lines += ["", "Per window (true accuracy; report estimate [95 % interval]):", ""]
    lines.append(
        "| plan | tier | " + " | ".join(f"week {i + 1}" for i in range(len(windows))) + " |"
    )
    lines.append("|---|---|" + "---|" * len(windows))
    for name, r in results.items():
        for tier, rows in sorted(r["cover"].items()):
            cells_txt = [
                f"{x[3]:.3f}; {x[4]:.3f} [{x[5]:.3f}, {x[6]:.3f}]{'' if x[0] else ' ✗'}"
                for x in rows
            ]
            lines.append(f"| {name} | {tier} | " + " | ".join(cells_txt) + " |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


def connection_vendor() -> str:
    from django.db import connection

    return {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(
        connection.vendor, connection.vendor
    )


if __name__ == "__main__":
    main()
