"""Benchmark: D days × 40,000 responses a day in PostgreSQL, day after day, as production runs.

For each day, in a fresh subprocess per step (so each step's peak memory, ru_maxrss, is its
own and comparable between day 1 and day D):

  ingest   40,000 JSONL records of that day through `ingest_path` (tasks it schedules held back)
  score    uncertainty and OOD distance of the day's new rows (`responses_score`: text
           vectoriser + k-NN against a 5,000-query reference set), then the day's drift alarms
  queue    the plan's probability queue for that day (`queue_build`: strata, Neyman
           allocation, seeded draw of 200), then oracle verdicts for its items (not timed)

then the tier report over the whole window (p50/p99 of repeated runs), the database size per
million responses, and EXPLAIN of a day's queue-build query (it must use the (source,
timestamp) index and read only that day). None of the per-day figures may grow with the
number of days already loaded: everything works in bounded batches on one day's rows.

    .venv/bin/python benchmarks/scale.py --days 7       # a quick run (280,000 responses)
    .venv/bin/python benchmarks/scale.py                # 90 days, 3.6 M responses (hours)

The database is `longtail_scale` on LONGTAIL_SCALE_PG (default
postgres://postgres@127.0.0.1:5432/longtail_scale); --fresh drops it first, otherwise days
already loaded are skipped (a stopped run resumes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PER_DAY = 40_000
START = dt.date(2026, 1, 1)
SOURCE = "scale"
PLAN = "scale"
REFERENCE_SIZE = 5_000
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/longtail_scale"


def _peak_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings_test")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


# --- steps (each runs in its own process) ----------------------------------------------------


def step_setup(url: str, fresh: bool) -> dict[str, Any]:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if fresh:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from ingest import generate, write_jsonl  # benchmarks/ingest.py

    from reviewapp.responses.models import ReferenceSet, Source
    from reviewapp.responses.services import ingest_path
    from reviewapp.review.models import Plan
    from reviewapp.review.services import plan_save

    source, _ = Source.objects.get_or_create(name=SOURCE)
    if not ReferenceSet.objects.filter(name=SOURCE).exists():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "reference.jsonl"
            write_jsonl(
                path,
                (
                    {
                        "query": r["query"],
                        "router_label": r["router_label"],
                        "router_confidence": r["router_confidence"],
                    }
                    for r in generate(REFERENCE_SIZE, seed=999)
                ),
            )
            ingest_path(path=str(path), source=source, kind="reference")
    if not Plan.objects.filter(name=PLAN).exists():
        plan_save(
            name=PLAN,
            config={"daily_budget": 200, "targets": {"cheap": 0.9, "capable": 0.9}},
            sources=[source],
        )
    return {"peak_mb": _peak_mb()}


def _day_records(day_index: int) -> Any:
    from ingest import generate  # benchmarks/ingest.py: realistic texts, tiers, metadata

    start, _ = _day_bounds(START + dt.timedelta(days=day_index))
    for i, record in enumerate(generate(PER_DAY, seed=day_index + 1)):
        record["id"] = f"d{day_index:03d}-{i:06d}"
        # 86,400 s / 40,000 = 2.16 s apart: exactly one day.
        record["timestamp"] = (start + dt.timedelta(seconds=i * 2.16)).isoformat()
        yield record


def step_ingest(url: str, day_index: int) -> dict[str, Any]:
    _setup_django(url)
    from ingest import run_ingest, write_jsonl

    from reviewapp.responses.models import Response, Source

    source = Source.objects.get(name=SOURCE)
    start, end = _day_bounds(START + dt.timedelta(days=day_index))
    if (
        Response.objects.filter(source=source, timestamp__gte=start, timestamp__lt=end).count()
        >= PER_DAY
    ):
        return {"skipped": True}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.jsonl"
        write_jsonl(path, _day_records(day_index))
        seconds, run = run_ingest(path, source)
    return {
        "seconds": seconds,
        "rate": PER_DAY / seconds,
        "created": run.created_count,
        "rejected": run.rejected_count,
        "peak_mb": _peak_mb(),
    }


def step_score(url: str, day_index: int) -> dict[str, Any]:
    _setup_django(url)
    from reviewapp.reports.services import alarms_compute_drift
    from reviewapp.responses.models import Source
    from reviewapp.responses.scoring import responses_score

    source = Source.objects.get(name=SOURCE)
    started = time.perf_counter()
    scored = responses_score(source_id=source.pk)
    score_seconds = time.perf_counter() - started
    started = time.perf_counter()
    alarms_compute_drift(source=source, day=START + dt.timedelta(days=day_index))
    drift_seconds = time.perf_counter() - started
    return {
        "scored": scored,
        "seconds": score_seconds,
        "rate": scored / score_seconds if scored else None,
        "drift_seconds": drift_seconds,
        "peak_mb": _peak_mb(),
    }


def _oracle_reviews(queue: Any) -> int:
    """A verdict per required review, straight to the database (the review API's cost is
    measured by benchmarks/review_load.py, not here)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from reviewapp.review.models import QueueItem, Review

    users = [
        get_user_model().objects.get_or_create(username=f"scale-oracle-{i}")[0] for i in (1, 2)
    ]
    rng = random.Random(queue.pk)
    items = list(
        QueueItem.objects.filter(queue=queue, review_count=0).values_list(
            "pk", "required_reviews", "response__tier", "response__uncertainty"
        )
    )
    reviews = []
    for pk, required, tier, uncertainty in items:
        # The cheap tier fails on its uncertain edge: what the report must see.
        p_wrong = 0.04 + (0.3 if tier == "cheap" and (uncertainty or 0) > 0.3 else 0.0)
        verdict = "incorrect" if rng.random() < p_wrong else "correct"
        reviews += [Review(item_id=pk, reviewer=users[r], verdict=verdict) for r in range(required)]
    with transaction.atomic():
        Review.objects.bulk_create(reviews, batch_size=1000)
        for required in (1, 2):
            QueueItem.objects.filter(queue=queue, required_reviews=required).update(
                review_count=required
            )
    return len(reviews)


def step_queue(url: str, day_index: int) -> dict[str, Any]:
    _setup_django(url)
    from reviewapp.review.models import Plan
    from reviewapp.review.services import queue_build

    plan = Plan.objects.get(name=PLAN)
    started = time.perf_counter()
    queue, created = queue_build(plan=plan, day=START + dt.timedelta(days=day_index))
    seconds = time.perf_counter() - started
    if not created:
        return {"skipped": True}
    peak = _peak_mb()
    reviews = _oracle_reviews(queue)
    return {
        "seconds": seconds,
        "population": queue.population,
        "size": queue.size,
        "reviews": reviews,
        "peak_mb": peak,
    }


def step_report(url: str, days: int, repeats: int) -> dict[str, Any]:
    _setup_django(url)
    from reviewapp.reports.selectors import tier_report
    from reviewapp.review.models import Plan

    plan = Plan.objects.get(name=PLAN)
    start, end = START, START + dt.timedelta(days=days - 1)
    timings = []
    rows: list[Any] = []
    for _ in range(repeats):
        started = time.perf_counter()
        rows = tier_report(plan=plan, start=start, end=end)
        timings.append(time.perf_counter() - started)
    timings.sort()
    return {
        "p50_ms": 1000 * statistics.median(timings),
        "p99_ms": 1000 * timings[min(len(timings) - 1, int(0.99 * len(timings)))],
        "rows": [
            {
                "tier": r.key[0],
                "population": r.population,
                "reviewed": r.reviewed,
                "accuracy": r.accuracy,
                "ci": [r.ci_low, r.ci_high],
            }
            for r in rows
        ],
        "peak_mb": _peak_mb(),
    }


def step_facts(url: str, day_index: int) -> dict[str, Any]:
    """EXPLAIN of the queue build's day query, and the database's size."""
    _setup_django(url)
    from django.db import connection

    from reviewapp.responses.models import Response, Source

    source = Source.objects.get(name=SOURCE)
    start, end = _day_bounds(START + dt.timedelta(days=day_index))
    # The same query plan_design runs (reviewapp/review/services.py).
    query = (
        Response.objects.filter(source__in=[source], timestamp__gte=start, timestamp__lt=end)
        .order_by("pk")
        .values_list(
            "pk", "tier", "uncertainty", "ood_percentile", "segment", "auto_score", "cost_usd"
        )
    )
    with connection.cursor() as cursor:
        # Fresh statistics, as autovacuum would have them after a day's ingest.
        cursor.execute("ANALYZE responses_response")
    explain = query.explain(analyze=True, buffers=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM responses_response")
        responses = cursor.fetchone()[0]
        cursor.execute(
            "SELECT pg_total_relation_size('responses_response'),"
            " pg_database_size(current_database())"
        )
        table_bytes, database_bytes = cursor.fetchone()
    return {
        "explain": explain,
        "responses": responses,
        "table_bytes": table_bytes,
        "database_bytes": database_bytes,
        "table_gb_per_million": table_bytes / 1e9 / (responses / 1e6),
        "database_gb_per_million": database_bytes / 1e9 / (responses / 1e6),
    }


STEPS = {
    "ingest": step_ingest,
    "score": step_score,
    "queue": step_queue,
    "facts": step_facts,
}


# --- the driver -------------------------------------------------------------------------------


def _run(url: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--url", url, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"step {args} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _summary(name: str, values: list[dict[str, Any]], key: str, unit: str) -> str:
    figures = [v[key] for v in values if v.get(key) is not None]
    if not figures:
        return f"{name}: (nothing new)"
    return (
        f"{name}: median {statistics.median(figures):,.1f} {unit}, "
        f"min {min(figures):,.1f}, max {max(figures):,.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--url", default=os.environ.get("LONGTAIL_SCALE_PG", DEFAULT_URL))
    parser.add_argument("--fresh", action="store_true", help="drop the database first")
    parser.add_argument("--repeats", type=int, default=50, help="tier report runs for p50/p99")
    parser.add_argument("--step", choices=[*STEPS, "setup", "report"], help=argparse.SUPPRESS)
    parser.add_argument("--day", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.step:
        if args.step == "setup":
            result = step_setup(args.url, args.fresh)
        elif args.step == "report":
            result = step_report(args.url, args.days, args.repeats)
        else:
            result = STEPS[args.step](args.url, args.day)
        print(json.dumps(result, default=str))
        return

    print(f"load: {os.getloadavg()} on {os.cpu_count()} CPUs; database {args.url}")
    setup = _run(args.url, "--step", "setup", *(["--fresh"] if args.fresh else []))
    print(
        f"setup (migrate, {REFERENCE_SIZE:,}-query reference, plan): peak {setup['peak_mb']:.0f} MB"
    )
    per_step: dict[str, list[dict[str, Any]]] = {"ingest": [], "score": [], "queue": []}
    reports: dict[int, dict[str, Any]] = {}
    for day in range(args.days):
        line = [f"day {day + 1:>3}"]
        for step in ("ingest", "score", "queue"):
            result = _run(args.url, "--step", step, "--day", str(day))
            per_step[step].append(result)
            if result.get("skipped"):
                line.append(f"{step} (done before)")
            elif step == "queue":
                line.append(f"queue {result['seconds']:.2f} s {result['peak_mb']:.0f} MB")
            else:
                line.append(f"{step} {result['rate'] or 0:,.0f}/s {result['peak_mb']:.0f} MB")
        print("  ".join(line), flush=True)
        if day == 0 or day + 1 == args.days:
            reports[day + 1] = _run(
                args.url, "--step", "report", "--days", str(day + 1), "--repeats", str(args.repeats)
            )
    facts = _run(args.url, "--step", "facts", "--day", str(args.days - 1))

    print()
    print(f"EXPLAIN of day {args.days}'s queue-build query:")
    print(facts["explain"])
    print()
    print(_summary("ingest rate", per_step["ingest"], "rate", "responses/s"))
    print(_summary("OOD scoring rate", per_step["score"], "rate", "responses/s"))
    print(_summary("drift alarms per day", per_step["score"], "drift_seconds", "s"))
    print(_summary("queue build per day", per_step["queue"], "seconds", "s"))
    for step in ("ingest", "score", "queue"):
        peaks = [r["peak_mb"] for r in per_step[step] if "peak_mb" in r]
        if peaks:
            print(
                f"peak memory of {step}: day 1 {peaks[0]:.0f} MB, "
                f"last day {peaks[-1]:.0f} MB, max {max(peaks):.0f} MB"
            )
    for days, report in reports.items():
        print(
            f"tier report over {days} days: p50 {report['p50_ms']:.1f} ms, "
            f"p99 {report['p99_ms']:.1f} ms, "
            f"peak {report['peak_mb']:.0f} MB; "
            + "; ".join(
                f"{r['tier']} N={r['population']:,} n={r['reviewed']} acc={r['accuracy']:.3f}"
                for r in report["rows"]
                if r["accuracy"] is not None
            )
        )
    print(
        f"database: {facts['responses']:,} responses; "
        f"responses table {facts['table_bytes'] / 1e9:.2f} GB "
        f"({facts['table_gb_per_million']:.2f} GB per million), whole database "
        f"{facts['database_bytes'] / 1e9:.2f} GB "
        f"({facts['database_gb_per_million']:.2f} GB per million)"
    )
    print(f"load at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
