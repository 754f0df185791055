"""Benchmark: 50 reviewers claiming and submitting through the API, served by gunicorn on
PostgreSQL, under two load models.

What it does, all on loopback:
1. creates (drops first) a PostgreSQL database `longtail_loadbench` and migrates it;
2. loads a queue of --items responses (10 % overlap) for one plan, and --reviewers reviewer
   users with API tokens, assigned to the plan;
3. starts gunicorn (gthread, --gunicorn WORKERSxTHREADS) serving the app with DEBUG off,
   persistent database connections (DB_CONN_MAX_AGE=60, as in production) and JSON request
   logs;
4. runs --reviewers simulated reviewers (asyncio + httpx, one keep-alive connection each). A
   reviewer claims an item (POST /api/v1/queues/{id}/claim/), fetches the trivial view
   GET /healthz/live (the baseline: same server, same moment, same load) and submits a review
   (POST /api/v1/reviews/), again and again, in each of two load models:
   - closed loop: back-to-back, no pause. 50 requests are always waiting, so this measures
     saturation: throughput, and latency that is mostly time spent queueing for a worker;
   - paced: before each submit the reviewer reads the item for a think time drawn uniformly
     from 0.5–1.5 × --think-time (default 2 s), and the reviewers start spread over one
     think time. 2 s is far faster than anyone reads and judges an answer (people take
     30–120 s), so 50 paced reviewers still offer 15–60 times the load of 50 people;
   each model gets --warmup seconds unmeasured, then --seconds measured. With --client page
   the reviewers use the htmx review page instead (a session each, as after a login): one GET
   of the item fragment (claim and render), then each POST of a verdict answers with the next
   item's fragment (submit, claim and render in one request); answers are ~1.5 KB of Markdown
   (steps, a table, a link, code), so rendering costs what it would;
5. prints per model: p50/p99 of claim, submit and the baseline as the client saw them, and
   server-side (the duration_ms of each request's log line: Django's own time, without the
   wait for a worker thread), throughput, errors, the CPU (in cores) used by gunicorn, by the
   PostgreSQL backends and by this load generator, and the whole machine's; finally it checks
   that no item got more reviews than it needs. Exit status 1 if any request failed or an
   item was over-reviewed.

Aim (issue 4): p99 ≤ 100 ms and ≤ 3× the baseline's p99; issue 6: no request fails.

    .venv/bin/python benchmarks/review_load.py                        # both models, 60 s each
    .venv/bin/python benchmarks/review_load.py --mode paced --think-time 5
    .venv/bin/python benchmarks/review_load.py --gunicorn 2x8,3x4,4x4 --seconds 30  # compare
    .venv/bin/python benchmarks/review_load.py --client page       # through the review page
    .venv/bin/python benchmarks/review_load.py --with-ingest    # + 4 parallel 10k pushes

Figures (29 Nov 2026, a 2-core machine, at a moment when other jobs were light; "all" is the
whole machine's busy cores in the window): 30,000-item queue, 50 reviewers, 5 s warm-up + 60 s
measured per model. ms are p50 / p99 as the client saw them; "server" is Django's own time for
the request (from its log line), without the wait for a worker.

  gunicorn 16 × 1 thread (gthread, the default), --client api
  model       claim        submit       baseline     reviews/s req/s  cores: gunicorn PG client all
  closed      625 / 862    104 / 646    148 / 822    59.7      178           1.27  0.32 0.24  1.86
  paced, 2 s  21.5 / 80.1  17.9 / 73.0  2.6 / 46.5   25.0       73           0.59  0.16 0.13  0.91
  server: closed claim 15.5 / 28, submit 11.5 / 23; paced claim 17 / 52, submit 14 / 42.

Paced meets the aim: p99 80 ms ≤ 100 ms and ≤ 3 × 46.5 = 140 ms, and no request failed (an
earlier run with other jobs on the machine: 82 / 74 against a 54 ms baseline). The closed loop
cannot meet it by construction: 50 requests always wait for 2 cores, so every request, the
trivial baseline too, queues (Django's own time stays 15 ms); it measures capacity, ~60
reviews/s (178 requests/s), well over twice what the 50 paced reviewers ask for.

  --client page (16 × 1): one POST submits, claims and renders the next item (~1.5 KB of
  Markdown): paced 46 / 147 ms (server 39 / 110), baseline 3.3 / 98; closed 309 / 3,569 at
  42.6 reviews/s. The page does more per request (22 queries, among them the queue's progress,
  a sum over its 30,000 items, and the render) and misses 100 ms p99 at this pace.

Before the query work (the same script, 16 × 1, on the old code, just before the runs above):
closed 41.7 reviews/s on 1.42 gunicorn cores (29 per core-second; now 47); paced claim 26.6 /
113, submit 23.5 / 108, baseline 2.9 / 69 (server claim 21 / 65), gunicorn 0.69 cores and
PostgreSQL 0.19 for the same 25 reviews/s (now 0.59 and 0.16). The old code's submission also
locked its queue's row until it committed (now only the item's row; test_query_counts.py shows
a submission passing a locked queue row); on a fresh queue the new item_claimable index changes
little, half-way through one it saves walking the items already done.

Choosing gunicorn's workers × threads for 2 cores (paced 2 s, 30 s runs; p99 ms of claim and
submit at the client, and of claim at the server):
  2 × 8 gthread 158 / 178, server 140     12 × 1        120 / 114, server 51
  4 × 2         174 / 139, server 85      16 × 1        93 / 85 and 62 / 59 (two runs), 71 and 47
  8 × 1         170 / 145, server 64      16 sync       134 / 129, server 91
Closed-loop throughput hardly differs (39–51 reviews/s for 2 × 8, 3 × 4, 4 × 4, 12 × 1, 16 × 1,
16 sync in 30 s runs, with some other jobs on the machine), so latency decides. A request is
Python holding the GIL between ~10 database round trips; threads of one process queue for it
(back from the database, a thread waits for the running one, up to the 5 ms switch interval
each time), so the server-side p99 grows with threads per process: 140 ms at 8, ~50 at 1. With
one thread per worker the kernel schedules, finely. Sixteen workers, because each of the 50
keep-alive connections is served by the worker that accepted it: with 8 a request more often
waits behind a slow one on its worker (8 × 1: baseline p99 139 ms). Sync workers (no
keep-alive, a shared accept queue) did worse, paying a connection per request. Cost: 16 processes of
~170 MB and 16 database connections.

--with-ingest (issue 6): after each load model's run, the same model runs again while rounds of
--ingest-pushes parallel pushes of --ingest-records records each (POST /api/v1/responses/,
one qa_lead token, into the queue's source) go on back-to-back from the start of the warm-up to
the end of the measured window. Neighbouring pushes of a round share --ingest-shared ids, sent
in opposite orders (the upsert race). The server runs tasks eagerly (no broker), so a push's
request time includes what ingest schedules (scoring, drift alarms); the run's own time (parse,
validate, upsert) is printed beside it. Prints each push's seconds and rows/s, failures (must be
0), the review p50/p99 without and with the ingest, and checks that the database holds exactly
the pushed ids.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this directory comes first on sys.path, and benchmarks/queue.py would
# shadow the standard library's queue module (which psycopg and httpx import).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

# gunicorn workers × threads: 16 single-threaded gthread workers on 2 cores; the docstring
# has the comparison that chose it.
DEFAULT_SERVER = "16x1"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="measured, per mode")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured, before each mode")
    parser.add_argument("--reviewers", type=int, default=50)
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument(
        "--mode",
        choices=("closed", "paced", "both"),
        default="both",
        help="closed: back-to-back (saturation); paced: with --think-time",
    )
    parser.add_argument(
        "--think-time",
        type=float,
        default=2.0,
        help="paced mode: mean seconds a reviewer reads an item before submitting",
    )
    parser.add_argument(
        "--client",
        choices=("api", "page"),
        default="api",
        help="api: the REST claim and review calls; page: the htmx review page (session login)",
    )
    parser.add_argument(
        "--gunicorn",
        default=DEFAULT_SERVER,
        help="WORKERSxTHREADS (gthread), or several to compare, e.g. 2x8,3x4,4x4",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--db", default="longtail_loadbench")
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get(
            "LONGTAIL_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    add_ingest_arguments(parser)
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
        # Plain HTTP on loopback: a TLS proxy would sit in front in production (and the
        # cookies of the page client must travel without TLS).
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    return env


ANSWER = """To move your billing date to the 15th:

1. Open **Settings → Billing** in the web app (the mobile app cannot do it).
2. Under *Billing cycle*, click **Change date** and pick `15`.
3. Confirm. The next invoice is prorated; see [the billing FAQ](https://example.com/billing).

| Plan | Can change the date? | Notes |
|------|----------------------|-------|
| Free | No | upgrade first |
| Pro | Yes | once per cycle |
| Team | Yes | admins only |

> If you pay by invoice, ask support instead: the date follows the contract.

```
curl -X POST https://api.example.com/v1/billing/cycle -d '{"day": 15}'
```

- You keep your current features until the change.
- ~~Refunds~~ Credits for the shorter cycle are applied automatically.
- The change shows on the next invoice, not the current one.

Anything else about billing? Ask away.
"""


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
    # Answers shaped like an LLM's (~1.5 KB of Markdown: steps, a table, a link, code) so that
    # rendering one on the review page costs what it would.
    body = ANSWER
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


def reviewer_sessions() -> list[str]:
    """A signed-in session for each loadbench reviewer (their keys, for the page client's
    sessionid cookie), as a login would leave; run in the process that called load()."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    keys = []
    users = get_user_model().objects.filter(username__regex=r"^loadbench-[0-9]+$")
    for user in users.order_by("username"):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    connection.close()
    return keys


def start_server(
    env: dict[str, str], args: argparse.Namespace, workers: int, threads: int, log: Path
) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "reviewapp.wsgi:application",
        f"--workers={workers}",
        # threads 0: sync workers (one request at a time, no keep-alive: every request is a
        # new connection, taken by whichever worker is free).
        *(
            ["--worker-class=gthread", f"--threads={threads}"]
            if threads
            else ["--worker-class=sync"]
        ),
        f"--bind=127.0.0.1:{args.port}",
        "--keep-alive=30",
        "--log-level=warning",
    ]
    handle = log.open("w")
    # JSON log lines: each request's own line carries duration_ms, the time Django spent on it
    # (without the time it waited for a worker thread), which the report sets beside the
    # latency the client saw.
    return subprocess.Popen(
        command, cwd=ROOT, env={**env, "LOG_FORMAT": "json"}, stdout=handle, stderr=handle
    )


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


# --- CPU accounting (Linux /proc) -----------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # a thread that just ended
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / TICK, sum(values) / TICK


class CpuMeter:
    """CPU seconds spent between start() and stop() by gunicorn (master and workers), by the
    PostgreSQL backends serving the benchmark's database, by this load generator, and by the
    whole machine (anything else running shows up there)."""

    def __init__(self, server_pid: int, admin_url: str, db: str) -> None:
        self.server_pid, self.admin_url, self.db = server_pid, admin_url, db

    def _backends(self) -> list[int]:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [self.db],
            ).fetchall()
        return [r[0] for r in rows]

    def _sample(self) -> dict[str, Any]:
        server = [self.server_pid, *_children(self.server_pid)]
        backends = self._backends()
        return {
            "server": {p: _cpu_seconds(p) for p in server},
            "postgres": {p: _cpu_seconds(p) for p in backends},
            "client": time.process_time(),
            "machine": _machine_busy(),
            "wall": time.perf_counter(),
        }

    def start(self) -> None:
        self.begin = self._sample()
        self.last = {kind: dict(self.begin[kind]) for kind in ("server", "postgres")}

    def poll(self) -> dict[str, Any]:
        """Note each process's CPU so far: a backend that ends before stop() (DB_CONN_MAX_AGE
        closes each connection after 60 s) still counts, up to its last poll."""
        sample = self._sample()
        for kind in ("server", "postgres"):
            for pid, seconds in sample[kind].items():
                self.last[kind][pid] = max(self.last[kind].get(pid, 0.0), seconds)
        return sample

    def stop(self) -> dict[str, float]:
        end, begin = self.poll(), self.begin
        wall = end["wall"] - begin["wall"]

        def used(kind: str) -> float:
            return sum(v - begin[kind].get(p, 0.0) for p, v in self.last[kind].items())

        busy = end["machine"][0] - begin["machine"][0]
        total = end["machine"][1] - begin["machine"][1]
        return {
            "gunicorn": used("server") / wall,
            "postgres": used("postgres") / wall,
            "client": (end["client"] - begin["client"]) / wall,
            "machine": busy / wall,
            "cores": total / wall,
        }


# --- the simulated reviewers ----------------------------------------------------------------

LOAD_REQUEST_ID = "review-load"


def _recorders(timings: dict, measure_from: float) -> tuple[Any, Any]:
    """record(name, started, seconds) and fail(started, text), keeping only requests started
    inside the measured window."""

    def record(name: str, started: float, seconds: float) -> None:
        if started >= measure_from:
            timings[name].append(seconds)

    def fail(started: float, text: str) -> None:
        if started >= measure_from:
            timings["errors"].append(text)

    return record, fail


async def baseline_then_read(
    client: Any, record: Any, fail: Any, think: float, rng: np.random.Generator
) -> None:
    """The trivial view on the same server at the same moment (the baseline), then the read:
    uniform in [0.5, 1.5] × think, so that 50 readers do not fall into step."""
    import httpx

    started = time.monotonic()
    try:
        health = await client.get("/healthz/live")
        record("baseline", started, time.monotonic() - started)
        if health.status_code != 200:
            fail(started, f"healthz {health.status_code}")
    except httpx.HTTPError as exc:
        fail(started, f"healthz {type(exc).__name__}")
    if think:
        await asyncio.sleep(think * rng.uniform(0.5, 1.5))


async def reviewer_loop(
    base: str,
    token: str,
    queue_id: int,
    think: float,
    window: tuple[float, float],
    rng: np.random.Generator,
    timings: dict,
) -> None:
    """Claim, fetch the baseline, read for `think` seconds (none in the closed model), submit;
    again until the window's end. Only requests started inside `window` are recorded."""
    import httpx

    measure_from, deadline = window
    # The request id marks the benchmark's own requests in the server's log (the readiness
    # probe's are left out of the server-side times).
    headers = {"Authorization": f"Token {token}", "X-Request-ID": LOAD_REQUEST_ID}
    verdicts = ("correct", "partial", "incorrect")

    record, fail = _recorders(timings, measure_from)

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        if think:
            # Paced reviewers start over one think time, not all in the same instant.
            await asyncio.sleep(rng.uniform(0, think))
        n = 0
        while time.monotonic() < deadline and n < 100_000:  # bounded
            n += 1
            started = time.monotonic()
            try:
                claim = await client.post(f"/api/v1/queues/{queue_id}/claim/")
            except httpx.HTTPError as exc:
                fail(started, f"claim {type(exc).__name__}")
                continue
            record("claim", started, time.monotonic() - started)
            if claim.status_code == 204:
                timings["empty"] += 1
                await asyncio.sleep(0.5)
                continue
            if claim.status_code != 200:
                fail(started, f"claim {claim.status_code}")
                continue
            item = claim.json()
            await baseline_then_read(client, record, fail, think, rng)
            review = {"item": item["item"], "verdict": verdicts[n % 3], "time_spent_ms": 1000}
            if item["pairwise"]:
                review["preference"] = "A"
            started = time.monotonic()
            try:
                answer = await client.post("/api/v1/reviews/", json=review)
            except httpx.HTTPError as exc:
                fail(started, f"submit {type(exc).__name__}")
                continue
            record("submit", started, time.monotonic() - started)
            if answer.status_code != 201:
                fail(started, f"submit {answer.status_code} {answer.text[:80]}")


ITEM_ON_PAGE = re.compile(r'data-item="(\d+)"')


async def page_reviewer_loop(
    base: str,
    session_key: str,
    queue_id: int,
    think: float,
    window: tuple[float, float],
    rng: np.random.Generator,
    timings: dict,
) -> None:
    """The review page as htmx drives it: GET the item fragment (claim and render) once, then
    read, POST the verdict and get the next item's fragment back (submit, claim and render in
    one request), again and again; the baseline as in the API loop."""
    import httpx

    measure_from, deadline = window
    url = f"/review/queues/{queue_id}/"
    headers = {"X-Request-ID": LOAD_REQUEST_ID, "HX-Request": "true"}
    verdicts = ("correct", "partial", "incorrect")

    record, fail = _recorders(timings, measure_from)

    async with httpx.AsyncClient(
        base_url=base, headers=headers, cookies={"sessionid": session_key}, timeout=30
    ) as client:
        if think:
            await asyncio.sleep(rng.uniform(0, think))
        html = None
        n = 0
        while time.monotonic() < deadline and n < 100_000:  # bounded
            n += 1
            if html is None:
                started = time.monotonic()
                try:
                    page = await client.get(url)
                except httpx.HTTPError as exc:
                    fail(started, f"page GET {type(exc).__name__}")
                    continue
                record("claim", started, time.monotonic() - started)
                if page.status_code != 200:
                    fail(started, f"page GET {page.status_code}")
                    await asyncio.sleep(0.5)
                    continue
                html = page.text
            found = ITEM_ON_PAGE.search(html)
            if found is None:
                timings["empty"] += 1
                html = None
                await asyncio.sleep(0.5)
                continue
            await baseline_then_read(client, record, fail, think, rng)
            form = {"item": found.group(1), "verdict": verdicts[n % 3], "time_spent_ms": "1000"}
            if 'name="preference"' in html:
                form["preference"] = "A"
            started = time.monotonic()
            try:
                answer = await client.post(
                    url, data=form, headers={"X-CSRFToken": client.cookies.get("csrftoken", "")}
                )
            except httpx.HTTPError as exc:
                fail(started, f"page POST {type(exc).__name__}")
                html = None
                continue
            record("submit", started, time.monotonic() - started)
            if answer.status_code != 200 or "Saved:" not in answer.text:
                fail(started, f"page POST {answer.status_code} {answer.text[:80]!r}")
                html = None
                continue
            html = answer.text


async def run_load(
    base: str,
    credentials: list[str],
    queue_id: int,
    think: float,
    warmup: float,
    seconds: float,
    client: str = "api",
) -> dict:
    """Every reviewer's loop at once; `credentials` are API tokens (client "api") or session
    keys (client "page")."""
    timings: dict = {"claim": [], "submit": [], "baseline": [], "errors": [], "empty": 0}
    now = time.monotonic()
    window = (now + warmup, now + warmup + seconds)
    rngs = np.random.default_rng(11).spawn(len(credentials))
    loop = page_reviewer_loop if client == "page" else reviewer_loop
    await asyncio.gather(
        *(
            loop(base, c, queue_id, think, window, rng, timings)
            for c, rng in zip(credentials, rngs, strict=True)
        )
    )
    return timings


# --- the server's own view: Django's time per request, from the JSON request log ------------


def server_durations(log: Path, start: int, end: int) -> dict[str, list[float]]:
    """duration_ms of the request log lines written between two offsets of the log, by kind."""
    import json

    out: dict[str, list[float]] = {"claim": [], "submit": [], "baseline": []}
    with log.open("rb") as handle:
        handle.seek(start)
        chunk = handle.read(max(0, end - start)).decode("utf-8", "replace")
    for line in chunk.splitlines():
        if '"duration_ms"' not in line or LOAD_REQUEST_ID not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("request_id") != LOAD_REQUEST_ID:
            continue
        path, message = entry.get("path", ""), entry.get("message", "")
        if path.startswith("/review/queues/"):
            kind: str | None = "submit" if message.startswith("POST") else "claim"
        elif path.endswith("/claim/"):
            kind = "claim"
        elif path == "/api/v1/reviews/":
            kind = "submit"
        elif path == "/healthz/live":
            kind = "baseline"
        else:
            kind = None
        if kind:
            out[kind].append(entry["duration_ms"] / 1000)
    return out


async def run_mode(
    base: str,
    tokens: list[str],
    queue_id: int,
    think: float,
    args: argparse.Namespace,
    log: Path,
    meter: CpuMeter,
) -> dict:
    """One load model: warm up, then measure for args.seconds (latencies, server-side times
    from the log, CPU of each party)."""
    measured: dict[str, Any] = {}

    async def watch() -> None:
        await asyncio.sleep(args.warmup)
        measured["log_start"] = log.stat().st_size
        await asyncio.to_thread(meter.start)
        began = time.perf_counter()
        while (left := began + args.seconds - time.perf_counter()) > 0:
            await asyncio.sleep(min(1.0, left))
            if left > 1.0:
                await asyncio.to_thread(meter.poll)
        measured["cpu"] = await asyncio.to_thread(meter.stop)
        measured["elapsed"] = time.perf_counter() - began
        measured["log_end"] = log.stat().st_size

    watcher = asyncio.create_task(watch())
    timings = await run_load(base, tokens, queue_id, think, args.warmup, args.seconds, args.client)
    await watcher
    await asyncio.sleep(0.5)  # the last requests' log lines
    measured["server"] = server_durations(log, measured["log_start"], log.stat().st_size)
    return {**timings, **measured}


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


LABELS = {
    "api": (
        ("claim", "claim (+ item JSON)"),
        ("submit", "submit review"),
        ("baseline", "baseline /healthz/live"),
    ),
    "page": (
        ("claim", "page GET: claim+render"),
        ("submit", "POST: submit+next+render"),
        ("baseline", "baseline /healthz/live"),
    ),
}


def report(name: str, result: dict, client: str = "api") -> bool:
    """Print one mode's figures; True when the aim is met."""
    elapsed, cpu = result["elapsed"], result["cpu"]
    print(f"\n  {name}")
    print(
        f"  {'request':<24}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'server p50':>12}{'server p99':>12}"
    )
    for key, label in LABELS[client]:
        values, server = result[key], result["server"][key]
        print(
            f"  {label:<24}{len(values):>7}{ms(values, 50):>9.1f}{ms(values, 99):>9.1f}"
            f"{ms(values, 100):>9.1f}{ms(server, 50):>12.1f}{ms(server, 99):>12.1f}"
        )
    requests = sum(len(result[k]) for k in ("claim", "submit", "baseline"))
    print(
        f"  {len(result['submit']) / elapsed:.1f} reviews/s, {requests / elapsed:.0f} requests/s "
        f"over {elapsed:.0f} s; errors {len(result['errors'])}; empty claims {result['empty']}"
    )
    for error in sorted(set(result["errors"]))[:5]:
        print("    e.g.", error)
    print(
        f"  CPU (cores busy): gunicorn {cpu['gunicorn']:.2f}, PostgreSQL backends "
        f"{cpu['postgres']:.2f}, load generator {cpu['client']:.2f}; whole machine "
        f"{cpu['machine']:.2f} of {cpu['cores']:.0f}"
    )
    # The page client claims by GET only once per reviewer (then every POST brings the next
    # item): a kind without samples does not count.
    worst = max(ms(result[k], 99) for k in ("claim", "submit") if result[k])
    base99 = ms(result["baseline"], 99)
    met = worst <= 100 and worst <= 3 * base99
    print(
        f"  aim p99 ≤ 100 ms: {'met' if worst <= 100 else 'NOT met'} ({worst:.1f} ms); "
        f"≤ 3× baseline p99 ({3 * base99:.1f} ms): {'met' if worst <= 3 * base99 else 'NOT met'}"
    )
    return met


def parse_servers(spec: str) -> list[tuple[int, int]]:
    """ "2x8,8xsync" → [(2, 8), (8, 0)]: threads 0 stands for sync workers."""
    try:
        pairs = [
            tuple(0 if n == "sync" else int(n) for n in part.strip().lower().split("x"))
            for part in spec.split(",")
        ]
    except ValueError:
        pairs = []
    if not pairs or any(len(p) != 2 or p[0] < 1 or p[1] < 0 for p in pairs):
        raise SystemExit(
            f"--gunicorn: WORKERSxTHREADS or WORKERSxsync[,…], e.g. 2x8,8xsync (not {spec!r})"
        )
    return [(p[0], p[1]) for p in pairs]


# --- --with-ingest: parallel pushes while the reviewers work (issue 6) ----------------------

ROUND_MARK = b"@ROUND@"  # in every pushed id; each round stamps its number there


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("concurrent ingest (--with-ingest)")
    group.add_argument(
        "--with-ingest",
        action="store_true",
        help="run each load model again while rounds of parallel pushes go on",
    )
    group.add_argument("--ingest-pushes", type=int, default=4, help="parallel pushes per round")
    group.add_argument(
        "--ingest-records", type=int, default=10_000, help="records per push (at most 10,000)"
    )
    group.add_argument(
        "--ingest-shared",
        type=int,
        default=500,
        help="ids each push shares with each neighbouring push of its round",
    )
    group.add_argument(
        "--ingest-embeddings", type=int, default=0, help="embedding dimensions (0: none)"
    )


@dataclass
class Pusher:
    token: str
    source: str
    records: int  # per push
    templates: list[bytes]  # one JSON body per push of a round, ROUND_MARK in every id
    ids_per_round: int  # distinct ids a round sends (shared ids count once)
    rounds: int = 0  # rounds sent so far, over every run
    runs: list[int] = field(default_factory=list)  # ingest runs of the successful pushes


def ingest_setup(args: argparse.Namespace) -> Pusher:
    """A qa_lead with a token; the queue's source scored now (so that a push's scoring is its
    own rows'); the JSON body of each push of a round, built once (a round stamps new ids in).
    Neighbouring pushes share ids, sent in opposite orders, each id with one content."""
    import json

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from benchmarks.ingest import generate
    from reviewapp.api.tokens import token_create
    from reviewapp.responses.models import Source
    from reviewapp.responses.scoring import responses_score

    n, k, shared = args.ingest_records, args.ingest_pushes, args.ingest_shared
    if not 0 < n <= 10_000 or k < 1 or shared < 0 or (k > 1 and 2 * shared > n):
        raise SystemExit(
            "--ingest-records 1..10,000, --ingest-pushes ≥ 1, --ingest-shared ≤ half a push"
        )
    if k == 1:
        shared = 0
    user = get_user_model().objects.create_user(username="loadbench-pusher")
    user.groups.add(Group.objects.get_or_create(name="qa_lead")[0])
    token = token_create(user=user, name="loadbench-push")[1]
    source = Source.objects.get(name="loadbench")
    responses_score(source_id=source.pk)
    mark = ROUND_MARK.decode()

    def shared_ids(pair: int) -> list[str]:
        return [f"mix-{mark}-s{pair}-{i:05d}" for i in range(shared)]

    pushes = []
    for push in range(k):
        ids = shared_ids(push) + shared_ids((push - 1) % k)[::-1] if shared else []
        ids += [f"mix-{mark}-p{push}-{i:05d}" for i in range(n - len(ids))]
        pushes.append(ids)
    unique = list(dict.fromkeys(i for ids in pushes for i in ids))
    content = dict(
        zip(unique, generate(len(unique), embeddings=args.ingest_embeddings, seed=19), strict=True)
    )
    templates = [json.dumps([{**content[i], "id": i} for i in ids]).encode() for ids in pushes]
    from django.db import connection

    connection.close()
    return Pusher(token, source.name, n, templates, len(unique))


async def push_rounds(base: str, pusher: Pusher, until: float, pushes: list[dict]) -> None:
    """Rounds of parallel pushes, back-to-back, until `until` (a round under way finishes)."""
    import httpx

    headers = {"Authorization": f"Token {pusher.token}", "Content-Type": "application/json"}

    async def push(client: httpx.AsyncClient, round_: int, index: int, body: bytes) -> None:
        entry: dict[str, Any] = {"round": round_, "push": index, "start": time.monotonic()}
        try:
            answer = await client.post(f"/api/v1/responses/?source={pusher.source}", content=body)
            entry["status"] = answer.status_code
            if answer.status_code == 200:
                entry["result"] = answer.json()
            else:
                entry["error"] = f"{answer.status_code} {answer.text[:120]}"
        except httpx.HTTPError as exc:
            entry["status"], entry["error"] = None, f"{type(exc).__name__}: {exc}"
        entry["seconds"] = time.monotonic() - entry["start"]
        pushes.append(entry)

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as client:
        while time.monotonic() < until:
            pusher.rounds += 1
            stamp = f"{pusher.rounds:05d}".encode()
            await asyncio.gather(
                *(
                    push(client, pusher.rounds, i, template.replace(ROUND_MARK, stamp))
                    for i, template in enumerate(pusher.templates)
                )
            )


def report_ingest(pushes: list[dict], pusher: Pusher) -> int:
    """Print each push (request time as the client saw it, and the run's own time from the
    database); return the number of failed pushes."""
    from reviewapp.responses.models import IngestRun

    ok = [p for p in pushes if p.get("status") == 200]
    runs = {
        run.pk: run for run in IngestRun.objects.filter(pk__in=[p["result"]["run"] for p in ok])
    }
    pusher.runs += list(runs)
    n = pusher.records
    wall = max(p["start"] + p["seconds"] for p in pushes) - min(p["start"] for p in pushes)
    rounds = len({p["round"] for p in pushes})
    print(
        f"\n  ingest alongside: {rounds} round(s) × {len(pusher.templates)} parallel pushes of "
        f"{n:,} records, {len(pushes) * n / wall:,.0f} records/s over {wall:.1f} s"
    )
    print(
        f"  {'push':<8}{'request s':>10}{'rows/s':>9}{'run s':>8}{'run rows/s':>11}"
        f"{'new':>8}{'unchanged':>10}{'updated':>9}  status"
    )
    for p in sorted(pushes, key=lambda p: (p["round"], p["push"])):
        name = f"{p['round']}.{p['push']}"
        run = runs.get(p["result"]["run"]) if "result" in p else None
        if run is None:
            print(f"  {name:<8}{p['seconds']:>10.2f}{'':>9}{'':>8}{'':>11}  {p.get('error')}")
            continue
        print(
            f"  {name:<8}{p['seconds']:>10.2f}{n / p['seconds']:>9,.0f}"
            f"{run.duration_seconds:>8.2f}{n / run.duration_seconds:>11,.0f}"
            f"{run.created_count:>8,}{run.unchanged_count:>10,}{run.updated_count:>9,}  "
            f"{run.status}"
        )
    failures = (
        len(pushes) - len(ok) + sum(r.status != IngestRun.Status.FINISHED for r in runs.values())
    )
    seconds = sorted(p["seconds"] for p in ok)
    if seconds:
        print(
            f"  request seconds p50 {np.percentile(seconds, 50):.2f}, max {seconds[-1]:.2f}; "
            f"failures {failures} (must be 0)"
        )
    else:
        print(f"  failures {failures} (must be 0)")
    return failures


def with_ingest(
    base: str,
    tokens: list[str],
    queue_id: int,
    think: float,
    args: argparse.Namespace,
    log: Path,
    meter: CpuMeter,
    pusher: Pusher,
    title: str,
    without: dict,
) -> bool:
    """The load model again, with pushes from the start of its warm-up to the end of its
    measured window; prints it, the pushes, and the comparison. True when anything failed."""
    pushes: list[dict] = []

    async def both() -> dict:
        until = time.monotonic() + args.warmup + args.seconds
        result, _ = await asyncio.gather(
            run_mode(base, tokens, queue_id, think, args, log, meter),
            push_rounds(base, pusher, until, pushes),
        )
        return result

    result = asyncio.run(both())
    report(f"{title}, WITH concurrent ingest", result)
    failures = report_ingest(pushes, pusher)
    print("  review requests, client p50 / p99 ms: without ingest → with ingest")
    for key in ("claim", "submit", "baseline"):
        print(
            f"    {key:<24}{ms(without[key], 50):>7.1f} /{ms(without[key], 99):>7.1f}  →"
            f"{ms(result[key], 50):>7.1f} /{ms(result[key], 99):>7.1f}"
        )
    print(
        f"    {'reviews/s':<24}{len(without['submit']) / without['elapsed']:>16.1f}  →"
        f"{len(result['submit']) / result['elapsed']:>16.1f}"
    )
    return bool(result["errors"]) or failures > 0


def ingest_check(url: str, pusher: Pusher) -> bool:
    """The database holds exactly the pushed ids, each once; every run's counts add up."""
    import psycopg

    expected = pusher.rounds * pusher.ids_per_round
    with psycopg.connect(url) as conn:
        stored = conn.execute(
            "SELECT count(*), count(DISTINCT external_id) FROM responses_response "
            "WHERE external_id LIKE 'mix-%%'"
        ).fetchone()
        sent, counted = conn.execute(
            "SELECT %s::int * count(*), coalesce(sum(created_count + updated_count "
            "+ unchanged_count), 0) FROM responses_ingestrun WHERE id = ANY(%s)",
            [pusher.records, pusher.runs],
        ).fetchone()
    good = stored == (expected, expected) and sent == counted
    print(
        f"pushed ids stored: {stored[0]:,} rows ({stored[1]:,} distinct) of {expected:,} sent "
        f"in {pusher.rounds} rounds; run counts add up to the records sent: "
        f"{'yes' if sent == counted else f'NO ({counted:,} of {sent:,})'}"
    )
    return good


def main() -> None:
    args = parse_args()
    servers = parse_servers(args.gunicorn)
    modes = [("closed", 0.0), ("paced", args.think_time)]
    modes = [m for m in modes if args.mode in (m[0], "both")]
    url = database_url(args.pg_admin, args.db)
    env = server_env(url)
    if args.with_ingest:
        # Tasks run eagerly inside the push request (the embedded default), never sent to a
        # broker that has no worker for this database.
        env["CELERY_BROKER_URL"] = ""
    print(f"database {args.db}: creating, migrating, loading {args.items:,} items ...")
    started = time.perf_counter()
    create_database(args.pg_admin, args.db)
    failed = False
    try:
        queue_id, tokens = load(env, args.items, args.reviewers)
        if args.client == "page":
            tokens = reviewer_sessions()  # session keys instead of API tokens
        pusher = ingest_setup(args) if args.with_ingest else None
        print(f"  loaded in {time.perf_counter() - started:.1f} s")
        for workers, threads in servers:
            log = Path("/tmp") / f"review_load_gunicorn_{args.port}.log"
            server = start_server(env, args, workers, threads, log)
            try:
                base = f"http://127.0.0.1:{args.port}"
                wait_ready(base)
                meter = CpuMeter(server.pid, args.pg_admin, args.db)
                print(
                    f"\ngunicorn {workers} workers × "
                    f"{f'{threads} threads (gthread)' if threads else '1 (sync)'}, DEBUG off; "
                    f"{args.reviewers} reviewers ({args.client}), {args.warmup:.0f} s warm-up + "
                    f"{args.seconds:.0f} s measured per mode"
                )
                for _, think in modes:
                    title = (
                        "closed loop: back-to-back, no think time (saturation)"
                        if not think
                        else f"paced: think time {think:g} s (uniform ×0.5–1.5) before each submit"
                    )
                    result = asyncio.run(run_mode(base, tokens, queue_id, think, args, log, meter))
                    report(title, result, args.client)
                    failed |= bool(result["errors"])
                    if pusher is not None:
                        failed |= with_ingest(
                            base, tokens, queue_id, think, args, log, meter, pusher, title, result
                        )
            finally:
                server.terminate()
                server.wait(timeout=30)
        reviews, over = check_counts(url, queue_id)
        print(f"\nstored reviews {reviews}; items with more reviews than required: {over}")
        failed |= over > 0
        if pusher is not None:
            failed |= not ingest_check(url, pusher)
    finally:
        if not args.keep_db:
            drop_database(args.pg_admin, args.db)
    if failed:
        raise SystemExit("requests failed or an item was over-reviewed")


if __name__ == "__main__":
    main()
