"""Issue 5, item 9: a 90-day tier report over 3.6 M responses and 18,000 reviews renders in
under 1 s.

Reports never rescan responses: they read the per-(queue day, stratum) populations stored in
StratumCount when each queue was built, and the reviews. So this benchmark generates the
DESIGN directly, on PostgreSQL (its own database, longtail_reportbench, created if missing):
one plan, 90 daily queues, 12 strata a day (tier × uncertainty band × OOD band) whose
populations sum to 40,000 a day (3.6 M over the 90 days), 200 reviewed items a day (18,000
QueueItems, each with a Review). Only the 18,000 reviewed responses exist as Response rows
(QueueItem needs them); the other 3.58 M are represented by the StratumCount populations,
which is all a report reads. `--full` also inserts the 3.58 M unreviewed responses (COPY), to
show that their presence changes nothing.

It then times the /reports/ page (tier report, the full-stratum drill-down and the long-tail
view) over Django's HTTP test client as a signed-in QA lead, and the selector alone: p50/p99
over --requests requests each.

    .venv/bin/python benchmarks/report.py [--requests 30] [--full] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/longtail_reportbench"
DAYS = 90
PER_DAY = 40_000
REVIEWS_PER_DAY = 200
START = dt.date(2025, 1, 6)
# (tier, uncertainty band, OOD band): traffic share, accuracy, quota share (oversampled tail).
STRATA = [
    (t, u, o) for t in ("capable", "cheap") for u in ("low", "high") for o in ("in", "edge", "out")
]


def _share(t: str, u: str, o: str) -> float:
    tier = 0.65 if t == "cheap" else 0.35
    unc = 0.1 if u == "high" else 0.9
    ood = {"in": 0.95, "edge": 0.04, "out": 0.01}[o]
    return tier * unc * ood


def _accuracy(t: str, u: str, o: str) -> float:
    base = 0.95 if t == "capable" else 0.96
    return base - (0.2 if (t, u) == ("cheap", "high") else 0.0) - (0.1 if o != "in" else 0.0)


def _ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(url.replace(parsed.path, "/postgres"), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _quotas(populations: list[int]) -> list[int]:
    """200 a day, the cheap × high and OOD strata oversampled, floor 5, rounded to sum 200."""
    weights = [
        p * (8 if (t, u) == ("cheap", "high") else 1) * (3 if o != "in" else 1)
        for p, (t, u, o) in zip(populations, STRATA, strict=True)
    ]
    rest = REVIEWS_PER_DAY - 5 * len(STRATA)
    raw = [5 + rest * w / sum(weights) for w in weights]
    quotas = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - quotas[i], reverse=True)[
        : REVIEWS_PER_DAY - sum(quotas)
    ]:
        quotas[i] += 1
    return quotas


def generate(full: bool) -> object:
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection, transaction

    from reviewapp.responses.models import Response, Source
    from reviewapp.review.models import Plan, Queue, QueueItem, Review, StratumCount
    from reviewapp.review.roles import QA_LEAD, REVIEWER
    from reviewapp.review.services import plan_save

    users = get_user_model().objects
    lead, _ = users.get_or_create(username="bench-lead")
    lead.groups.add(Group.objects.get_or_create(name=QA_LEAD)[0])
    plan = Plan.objects.filter(name="reportbench").first()
    if plan is not None and Queue.objects.filter(plan=plan).count() == DAYS:
        return plan, lead
    rng = np.random.default_rng(9)
    reviewer, _ = users.get_or_create(username="bench-reviewer")
    reviewer.groups.add(Group.objects.get_or_create(name=REVIEWER)[0])
    source, _ = Source.objects.get_or_create(name="reportbench")
    t0 = time.time()
    with transaction.atomic():
        version = plan_save(
            name="reportbench",
            config={"daily_budget": REVIEWS_PER_DAY, "targets": {"cheap": 0.93, "capable": 0.93}},
            sources=[source],
            reviewers=[reviewer],
        )
        plan = version.plan
        shares = np.array([_share(*s) for s in STRATA])
        for d in range(DAYS):
            day = START + dt.timedelta(days=d)
            pops = rng.multinomial(PER_DAY, shares / shares.sum()).tolist()
            quotas = _quotas(pops)
            queue = Queue.objects.create(
                plan=plan, plan_version=version, day=day, population=PER_DAY, size=sum(quotas)
            )
            strata = StratumCount.objects.bulk_create(
                [
                    StratumCount(
                        queue=queue,
                        key="|".join(s),
                        tier=s[0],
                        uncertainty_band=s[1],
                        ood_band=s[2],
                        population=p,
                        quota=q,
                        cost_sum=p * (0.001 if s[0] == "cheap" else 0.004),
                        cost_count=p,
                    )
                    for s, p, q in zip(STRATA, pops, quotas, strict=True)
                ]
            )
            stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
            responses, owners = [], []
            for h, (s, q) in enumerate(zip(STRATA, quotas, strict=True)):
                for j in range(q):
                    responses.append(
                        Response(
                            source=source,
                            external_id=f"d{d}-h{h}-{j}",
                            timestamp=stamp,
                            query="q",
                            response="a",
                            tier=s[0],
                            content_hash="x",
                        )
                    )
                    owners.append(h)
            responses = Response.objects.bulk_create(responses)
            items = QueueItem.objects.bulk_create(
                [
                    QueueItem(
                        queue=queue,
                        response=r,
                        stratum=strata[h],
                        inclusion_probability=quotas[h] / pops[h],
                        review_count=1,
                        position=i,
                    )
                    for i, (r, h) in enumerate(zip(responses, owners, strict=True))
                ]
            )
            Review.objects.bulk_create(
                [
                    Review(
                        item=item,
                        reviewer=reviewer,
                        verdict="correct" if rng.random() < _accuracy(*STRATA[h]) else "incorrect",
                    )
                    for item, h in zip(items, owners, strict=True)
                ]
            )
    print(f"design generated in {time.time() - t0:.0f} s", flush=True)
    if full and connection.vendor == "postgresql":
        t1 = time.time()
        cols = "source_id, external_id, timestamp, query, response, tier, content_hash"
        total = DAYS * (PER_DAY - REVIEWS_PER_DAY)
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY responses_response ({cols}) FROM STDIN") as copy,
        ):
            for d in range(DAYS):
                stamp = f"{START + dt.timedelta(days=d)} 12:00:00+00"
                buf = io.StringIO()
                for j in range(PER_DAY - REVIEWS_PER_DAY):
                    tier = "cheap" if j % 20 < 13 else "capable"
                    buf.write(f"{source.pk}\tu{d}-{j}\t{stamp}\tq\ta\t{tier}\tx\n")
                copy.write(buf.getvalue())
        print(f"{total:,} unreviewed responses copied in {time.time() - t1:.0f} s", flush=True)
    return plan, lead


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description="Time a 90-day tier report.")
    parser.add_argument("--database-url", default=os.environ.get("REPORTBENCH_DB", DEFAULT_DB))
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "reportbench-not-secret")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    if args.database_url.startswith("postgres"):
        _ensure_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from reviewapp.reports.selectors import tier_report
    from reviewapp.responses.models import Response
    from reviewapp.review.models import Review, StratumCount

    call_command("migrate", verbosity=0)
    plan, lead = generate(args.full)
    population = sum(
        StratumCount.objects.filter(queue__plan=plan).values_list("population", flat=True)
    )
    print(
        f"plan {plan.name}: {DAYS} days, population {population:,} (StratumCount), "
        f"{Review.objects.filter(item__queue__plan=plan).count():,} reviews, "
        f"{Response.objects.count():,} Response rows"
    )
    start, end = START, START + dt.timedelta(days=DAYS - 1)
    client = Client()
    client.force_login(lead)
    cases = {
        f"/reports/?by={by}": {
            "plan": plan.name,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "method": "wilson",
            "by": by,
        }
        for by in ("tier", "stratum", "longtail")
    }
    print(f"{'request':<34} {'p50 ms':>8} {'p99 ms':>8}  (n = {args.requests})")
    for name, params in cases.items():
        times = []
        for i in range(args.requests + 2):
            t = time.perf_counter()
            response = client.get("/reports/", params, secure=True)
            elapsed = time.perf_counter() - t
            assert response.status_code == 200, response.status_code
            if i >= 2:  # two warm-up requests
                times.append(elapsed * 1000)
        print(f"GET {name:<30} {_pct(times, 0.5):>8.0f} {_pct(times, 0.99):>8.0f}")
    times = []
    for _ in range(args.requests):
        t = time.perf_counter()
        tier_report(plan=plan, start=start, end=end)
        times.append((time.perf_counter() - t) * 1000)
    print(
        f"{'selectors.tier_report (no HTTP)':<34} "
        f"{_pct(times, 0.5):>8.0f} {_pct(times, 0.99):>8.0f}"
    )


if __name__ == "__main__":
    main()
