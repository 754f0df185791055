"""The fault tests' helper process: `python -m tests.faults.scenario COMMAND ...`.

It runs with DATABASE_URL (and CELERY_BROKER_URL for the worker) pointing at the private
servers of tests/faults/conftest.py, so that the pytest process never switches its database.

    setup-plan DAY... --per-day N   a source, a plan over it and N scored responses per day
    setup-review --items N --reviewers R   a queue of N items and R reviewers with API tokens
    setup-sql-source DSN [--limit N]   a SQL source "warehouse" reading table answers at DSN
    worker --queue NAME [--visibility S]   a Celery worker (solo pool) on that queue only

The setup commands print one line of JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys

# The plan of tests/reviewapp/review/plans: Neyman allocation over tier x uncertainty x OOD.
PLAN_CONFIG = {
    "dimensions": ["tier", "uncertainty", "ood"],
    "uncertainty_cuts": [0.3],
    "daily_budget": 60,
    "allocation": "neyman",
    "stratum_min": 5,
    "overlap_share": 0.2,
}


def setup_plan(days: list[str], per_day: int) -> dict:
    from reviewapp.responses.models import Response, Source
    from reviewapp.review.services import plan_save

    source = Source.objects.create(name="faults")
    shapes = [("cheap", 0.9, 50.0), ("cheap", 0.5, 50.0), ("capable", 0.9, 97.0)]
    for day_text in days:
        day = dt.date.fromisoformat(day_text)
        base = dt.datetime.combine(day, dt.time(8), tzinfo=dt.UTC)
        rows = []
        for n in range(per_day):
            tier, confidence, ood = shapes[n % len(shapes)]
            rows.append(
                Response(
                    source=source,
                    external_id=f"f-{day:%Y%m%d}-{n}",
                    timestamp=base + dt.timedelta(seconds=n),
                    query=f"question {n}",
                    response=f"answer {n}",
                    tier=tier,
                    model=f"{tier}-model",
                    router_confidence=confidence,
                    content_hash=f"{n:032x}",
                    uncertainty=1 - confidence,
                    ood_percentile=ood,
                    scored_at=base,
                )
            )
        Response.objects.bulk_create(rows, batch_size=5000)
    version = plan_save(name="faults-plan", config=dict(PLAN_CONFIG), sources=[source])
    return {"plan": version.plan.pk}


def setup_review(items: int, reviewers: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from reviewapp.responses.models import Response, Source
    from reviewapp.review.models import Queue, QueueItem
    from reviewapp.review.services import plan_save

    user_model = get_user_model()
    group, _ = Group.objects.get_or_create(name="reviewer")
    users = user_model.objects.bulk_create(
        [user_model(username=f"faults-{i:03d}") for i in range(reviewers)]
    )
    group.user_set.add(*users)
    tokens = [_token(user) for user in users]
    source = Source.objects.create(name="faults-review")
    day = dt.date(2026, 1, 20)
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    responses = Response.objects.bulk_create(
        [
            Response(
                source=source,
                external_id=f"rv-{i}",
                timestamp=stamp,
                query=f"How do I move my billing date? ({i})",
                response=f"Settings, Billing, Cycle ({i}).",
                tier="cheap" if i % 3 else "capable",
                model="small-model",
                router_confidence=0.9,
                content_hash=f"{i:032d}",
            )
            for i in range(items)
        ],
        batch_size=5000,
    )
    version = plan_save(
        name="faults-review", config={"overlap_share": 0}, sources=[source], reviewers=users
    )
    queue = Queue.objects.create(
        plan=version.plan, plan_version=version, day=day, population=items, size=items
    )
    QueueItem.objects.bulk_create(
        [
            QueueItem(queue=queue, response=r, inclusion_probability=0.01, position=i)
            for i, r in enumerate(responses)
        ],
        batch_size=5000,
    )
    return {"queue": queue.pk, "tokens": tokens}


def setup_sql_source(dsn: str, limit: int) -> dict:
    from reviewapp.responses.models import Source

    source = Source.objects.create(
        name="warehouse",
        kind=Source.Kind.SQL,
        settings={
            "dsn": dsn,
            "query": "SELECT id, updated_at, question, answer, tier FROM answers "
            f"WHERE updated_at > :watermark ORDER BY updated_at LIMIT {limit}",
            "initial_watermark": "1970-01-01T00:00:00Z",
            "kind": "responses",
            "timeout": 10,
        },
        mapping={"query": "question", "response": "answer", "timestamp": "updated_at"},
    )
    return {"source": source.pk}


def _token(user: object) -> str:
    try:
        # Hashed API tokens (reviewapp/api/tokens.py), where they exist.
        from reviewapp.api.tokens import token_create
    except ImportError:
        from rest_framework.authtoken.models import Token

        return str(Token.objects.create(user=user).key)
    return token_create(user=user, name="faults")[1]


def worker(queue: str, visibility: int) -> None:
    from reviewapp.celery import app

    app.conf.update(
        task_always_eager=False,
        task_default_queue=queue,
        # A message whose worker died unacknowledged goes back to the queue after this long
        # (Redis has no per-connection acks: kombu restores by age). Production keeps the
        # default hour; the test cannot wait that long.
        broker_transport_options={"visibility_timeout": visibility},
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_hijack_root_logger=False,
    )
    app.worker_main(
        [
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            f"--queues={queue}",
            f"--hostname=faults-{os.getpid()}@localhost",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="scenario")
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("setup-plan")
    plan.add_argument("days", nargs="+")
    plan.add_argument("--per-day", type=int, default=600)
    review = commands.add_parser("setup-review")
    review.add_argument("--items", type=int, required=True)
    review.add_argument("--reviewers", type=int, required=True)
    sql = commands.add_parser("setup-sql-source")
    sql.add_argument("dsn")
    sql.add_argument("--limit", type=int, default=100)
    work = commands.add_parser("worker")
    work.add_argument("--queue", required=True)
    work.add_argument("--visibility", type=int, default=3)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings_test")
    import django

    django.setup()
    if args.command == "setup-plan":
        print(json.dumps(setup_plan(args.days, args.per_day)))
    elif args.command == "setup-review":
        print(json.dumps(setup_review(args.items, args.reviewers)))
    elif args.command == "setup-sql-source":
        print(json.dumps(setup_sql_source(args.dsn, args.limit)))
    else:
        worker(args.queue, args.visibility)


if __name__ == "__main__":
    main(sys.argv[1:])
