"""Benchmark: 50 reviewers claiming and submitting through the API, served by gunicorn on
PostgreSQL.

What it does, all on loopback:
1. creates (drops first) a PostgreSQL database `longtail_loadbench` and migrates it;
2. loads a queue of --items responses (10 % overlap) for one plan, and --reviewers reviewer
   users with API tokens, assigned to the plan;
3. starts gunicorn (gthread, --workers × --threads) serving the app with DEBUG off and
   persistent database connections (DB_CONN_MAX_AGE=60, as in production);
4. runs --reviewers simulated reviewers (asyncio + httpx, one keep-alive connection each)
   for --seconds: each loop claims an item (POST /api/v1/queues/{id}/claim/), fetches the
   trivial view GET /healthz/live (the baseline: same server, same moment, same load), waits
   --think seconds (a person reading; 0 = back-to-back, the worst case) and submits a review
   (POST /api/v1/reviews/);
5. prints p50/p99 of claim, submit and the baseline, throughput and errors, and checks that
   no item got more reviews than it needs.

Aim (issue 4): p99 ≤ 100 ms and ≤ 3× the baseline's p99.

    .venv/bin/python benchmarks/review_load.py                   # 60 s, back-to-back
    .venv/bin/python benchmarks/review_load.py --seconds 20 --think 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this directory comes first on sys.path, and benchmarks/queue.py would
# shadow the standard library's queue module (which psycopg and httpx import).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument("--think", type=float, default=0.0, help="seconds between claim and submit")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", default="longtail_loadbench")
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get(
            "LONGTAIL_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    return parser.parse_args()


def database_url(admin_url: str, name: str) -> str:
    return urlunparse(urlparse(admin_url)._replace(path=f"/{name}"))


def create_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="reviewapp.settings",
        DEBUG="0",
        SECRET_KEY="loadbench-" + secrets.token_hex(24),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DB_CONN_MAX_AGE="60",
        # Plain HTTP on loopback: a TLS proxy would sit in front in production.
        SECURE_SSL_REDIRECT="0",
    )
    return env


def load(env: dict[str, str], items: int, reviewers: int) -> tuple[int, list[str]]:
    """Migrate, then write the queue and the reviewers in this process; (queue id, tokens)."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG")})
    os.environ.update({k: env[k] for k in ("SECRET_KEY", "ALLOWED_HOSTS")})
    import datetime as dt

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from reviewapp.api.tokens import token_create
    from reviewapp.responses.models import Response, Source
    from reviewapp.review.models import Queue, QueueItem
    from reviewapp.review.services import plan_save

    User = get_user_model()
    group, _ = Group.objects.get_or_create(name="reviewer")
    users = User.objects.bulk_create(
        [User(username=f"loadbench-{i:03d}") for i in range(reviewers)]
    )
    group.user_set.add(*users)
    tokens = [token_create(user=u, name="loadbench")[1] for u in users]
    source = Source.objects.create(name="loadbench")
    day = dt.date(2026, 1, 20)
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    rng = np.random.default_rng(7)
    # Answers of a realistic length (~1.5 KB) so that rendering the claim costs what it would.
    body = "You can change the billing date under Settings → Billing → Cycle. " * 22
    responses = Response.objects.bulk_create(
        [
            Response(
                source=source,
                external_id=f"lb-{i}",
                timestamp=stamp,
                query=f"How do I move my billing date to the 15th? ({i})",
                response=body,
                tier="cheap" if rng.random() < 0.65 else "capable",
                model="small-model",
                router_confidence=float(rng.beta(12, 2)),
                shadow_response=body[::-1] if i % 5 == 0 else None,
                content_hash=f"{i:032d}",
            )
            for i in range(items)
        ],
        batch_size=5000,
    )
    version = plan_save(name="loadbench", config={}, sources=[source], reviewers=users)
    queue = Queue.objects.create(
        plan=version.plan, plan_version=version, day=day, population=items, size=items
    )
    overlap = rng.random(items) < version.overlap_share
    QueueItem.objects.bulk_create(
        [
            QueueItem(
                queue=queue,
                response=r,
                inclusion_probability=0.01,
                required_reviews=2 if overlap[i] else 1,
                served_side=("A" if i % 2 else "B") if r.shadow_response else "",
                position=i,
            )
            for i, r in enumerate(responses)
        ],
        batch_size=5000,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would give a live table
    connection.close()
    return queue.pk, tokens


def start_server(env: dict[str, str], args: argparse.Namespace, log: Path) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "reviewapp.wsgi:application",
        f"--workers={args.workers}",
        "--worker-class=gthread",
        f"--threads={args.threads}",
        f"--bind=127.0.0.1:{args.port}",
        "--keep-alive=30",
        "--log-level=warning",
    ]
    handle = log.open("w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=handle)


def wait_ready(base: str, timeout: float = 120.0) -> None:
    import logging

    import httpx

    # django.setup() configured logging; httpx would log every request at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz/live in time")


async def reviewer_loop(
    base: str, token: str, queue_id: int, deadline: float, think: float, timings: dict
) -> None:
    import httpx

    headers = {"Authorization": f"Token {token}"}
    verdicts = ("correct", "partial", "incorrect")
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        n = 0
        while time.monotonic() < deadline and n < 100_000:  # bounded
            n += 1
            started = time.perf_counter()
            claim = await client.post(f"/api/v1/queues/{queue_id}/claim/")
            timings["claim"].append(time.perf_counter() - started)
            if claim.status_code == 204:
                timings["empty"] += 1
                await asyncio.sleep(0.5)
                continue
            if claim.status_code != 200:
                timings["errors"].append(f"claim {claim.status_code}")
                continue
            item = claim.json()
            started = time.perf_counter()
            health = await client.get("/healthz/live")
            timings["baseline"].append(time.perf_counter() - started)
            if health.status_code != 200:
                timings["errors"].append(f"healthz {health.status_code}")
            if think:
                await asyncio.sleep(think)
            review = {"item": item["item"], "verdict": verdicts[n % 3], "time_spent_ms": 1000}
            if item["pairwise"]:
                review["preference"] = "A"
            started = time.perf_counter()
            answer = await client.post("/api/v1/reviews/", json=review)
            timings["submit"].append(time.perf_counter() - started)
            if answer.status_code != 201:
                timings["errors"].append(f"submit {answer.status_code} {answer.text[:80]}")


async def run_load(base: str, tokens: list[str], queue_id: int, args: argparse.Namespace) -> dict:
    timings: dict = {"claim": [], "submit": [], "baseline": [], "errors": [], "empty": 0}
    deadline = time.monotonic() + args.seconds
    await asyncio.gather(
        *(reviewer_loop(base, t, queue_id, deadline, args.think, timings) for t in tokens)
    )
    return timings


def check_counts(url: str, queue_id: int) -> tuple[int, int]:
    """(reviews stored, items with more reviews than required) straight from the database."""
    import psycopg

    with psycopg.connect(url) as conn:
        reviews = conn.execute(
            "SELECT count(*) FROM review_review r JOIN review_queueitem i ON i.id = r.item_id "
            "WHERE i.queue_id = %s",
            [queue_id],
        ).fetchone()[0]
        over = conn.execute(
            "SELECT count(*) FROM (SELECT i.id FROM review_queueitem i "
            "JOIN review_review r ON r.item_id = i.id WHERE i.queue_id = %s "
            "GROUP BY i.id, i.required_reviews HAVING count(*) > i.required_reviews) t",
            [queue_id],
        ).fetchone()[0]
    return reviews, over


def ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q)) if values else float("nan")


def main() -> None:
    args = parse_args()
    url = database_url(args.pg_admin, args.db)
    env = server_env(url)
    print(f"database {args.db}: creating, migrating, loading {args.items:,} items ...")
    started = time.perf_counter()
    create_database(args.pg_admin, args.db)
    server = None
    try:
        queue_id, tokens = load(env, args.items, args.reviewers)
        print(f"  loaded in {time.perf_counter() - started:.1f} s")
        log = Path("/tmp") / f"review_load_gunicorn_{args.port}.log"
        server = start_server(env, args, log)
        base = f"http://127.0.0.1:{args.port}"
        wait_ready(base)
        print(
            f"gunicorn: {args.workers} workers × {args.threads} threads (gthread), DEBUG off; "
            f"{args.reviewers} reviewers for {args.seconds:.0f} s, think {args.think} s"
        )
        began = time.perf_counter()
        timings = asyncio.run(run_load(base, tokens, queue_id, args))
        elapsed = time.perf_counter() - began
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    reviews, over = check_counts(url, queue_id)
    print(f"\n{'request':<22}{'count':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, label in (
        ("claim", "claim (+ render JSON)"),
        ("submit", "submit review"),
        ("baseline", "baseline GET /healthz/live"),
    ):
        values = timings[name]
        print(
            f"{label:<22}{len(values):>8}{ms(values, 50):>10.1f}{ms(values, 99):>10.1f}"
            f"{ms(values, 100):>10.1f}"
        )
    requests = sum(len(timings[k]) for k in ("claim", "submit", "baseline"))
    print(
        f"\n{len(timings['submit']) / elapsed:.0f} reviews/s, {requests / elapsed:.0f} "
        f"requests/s over {elapsed:.1f} s; errors {len(timings['errors'])}; "
        f"empty claims {timings['empty']}"
    )
    for error in sorted(set(timings["errors"]))[:5]:
        print("  e.g.", error)
    print(f"stored reviews {reviews}; items with more reviews than required: {over}")
    worst = max(ms(timings["claim"], 99), ms(timings["submit"], 99))
    base99 = ms(timings["baseline"], 99)
    print(
        f"aim p99 ≤ 100 ms: {'met' if worst <= 100 else 'NOT met'} ({worst:.1f} ms); "
        f"≤ 3× baseline p99 ({3 * base99:.1f} ms): {'met' if worst <= 3 * base99 else 'NOT met'}"
    )
    if not args.keep_db:
        drop_database(args.pg_admin, args.db)


if __name__ == "__main__":
    main()
