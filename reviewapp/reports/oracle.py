"""The simulator's oracle as a reviewer: it reviews a plan's queues THROUGH THE REVIEW API
(claim, then submit), exactly as an external labelling workforce would, with verdicts drawn by
`sampling.simulate.oracle_verdicts` from the ground truth the simulator kept apart
(simulated/<source>/truth.jsonl, never in the database).

Two transports, the same calls: real HTTP to a running server (urllib, a token per oracle
reviewer), or DRF in-process (`rest_framework.test.APIClient`, same views, serializers,
permissions and services, no server), which is what `make run`'s setup and the tests use.

The oracle knows which response it was handed by looking the claimed item up in the database:
the API is blind (it shows the text, not the response id), and a simulated reviewer needs the
id to find the truth. A human reviewer reads the text instead.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import F
from django.test.utils import override_settings

from reviewapp.api.tokens import token_create
from reviewapp.responses.models import Response, Source
from reviewapp.review.models import Plan, Queue, QueueItem
from reviewapp.review.roles import REVIEWER
from reviewapp.review.services import plan_save, queue_build
from sampling.simulate import oracle_verdicts

ORACLE_PREFIX = "oracle-"


def truth_load(path: str | Path) -> dict[str, bool]:
    """{response external id: truly correct} from a simulator truth.jsonl."""
    truth: dict[str, bool] = {}
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                record = json.loads(line)
                truth[str(record["id"])] = bool(record["correct"])
    return truth


def default_truth_path(plan: Plan) -> Path:
    """simulated/<source>/truth.jsonl of the plan's first source (where `simulate --load`
    writes it)."""
    version = plan.current_version
    names = sorted(s.name for s in version.sources.all()) if version else []
    if not names:
        raise ValueError(f"plan {plan.name} has no source")
    return Path(settings.BASE_DIR) / "simulated" / names[0] / "truth.jsonl"


def oracle_reviewers_ensure(*, plan: Plan, count: int) -> list[Any]:
    """Users oracle-1..oracle-N in the reviewer group, assigned to the plan."""
    users = []
    group = Group.objects.get_or_create(name=REVIEWER)[0]
    for i in range(1, count + 1):
        user, created = get_user_model().objects.get_or_create(username=f"{ORACLE_PREFIX}{i}")
        if created:
            user.set_unusable_password()
            user.save()
        user.groups.add(group)
        users.append(user)
    plan.reviewers.add(*users)
    return users


class ApiClient(Protocol):
    """The two calls the oracle makes; `claim` returns the claimed item's JSON or None (204)."""

    def claim(self, queue_id: int) -> dict[str, Any] | None: ...

    def review(self, item_id: int, verdict: str) -> int: ...


class ApiError(RuntimeError):
    pass


class InProcessClient:
    """DRF in-process: the real URL routing, authentication (the user's token), permissions,
    serializers and services, without a server."""

    def __init__(self, token: str) -> None:
        from rest_framework.test import APIClient

        self._client = APIClient(SERVER_NAME="localhost")
        self._client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    def claim(self, queue_id: int) -> dict[str, Any] | None:
        response = self._client.post(f"/api/v1/queues/{queue_id}/claim/")
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise ApiError(f"claim on queue {queue_id}: HTTP {response.status_code}")
        data: dict[str, Any] = response.json()
        return data

    def review(self, item_id: int, verdict: str) -> int:
        response = self._client.post(
            "/api/v1/reviews/", {"item": item_id, "verdict": verdict}, format="json"
        )
        if response.status_code not in (201, 409):
            raise ApiError(f"review of item {item_id}: HTTP {response.status_code}")
        return int(response.status_code)


class HttpClient:
    """Real HTTP against a running Longtail (gunicorn or runserver) sharing this database."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._timeout = timeout

    def _post(self, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(
            self._base + path, data=data, headers=self._headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def claim(self, queue_id: int) -> dict[str, Any] | None:
        status, body = self._post(f"/api/v1/queues/{queue_id}/claim/", None)
        if status == 204:
            return None
        if status != 200:
            raise ApiError(f"claim on queue {queue_id}: HTTP {status} {body[:200]!r}")
        data: dict[str, Any] = json.loads(body)
        return data

    def review(self, item_id: int, verdict: str) -> int:
        status, body = self._post("/api/v1/reviews/", {"item": item_id, "verdict": verdict})
        if status not in (201, 409):
            raise ApiError(f"review of item {item_id}: HTTP {status} {body[:200]!r}")
        return status


class ServiceClient:
    """The services the API views call (item_claim, review_submit), without HTTP or DRF: only
    for long benchmarks (about 6× faster than in-process DRF on a loaded machine). Same claim
    order, same checks, same rows written."""

    def __init__(self, user: Any) -> None:
        self._user = user

    def claim(self, queue_id: int) -> dict[str, Any] | None:
        from reviewapp.review.services import item_claim

        item = item_claim(queue=Queue.objects.get(pk=queue_id), reviewer=self._user)
        return None if item is None else {"item": item.pk}

    def review(self, item_id: int, verdict: str) -> int:
        from reviewapp.review.services import review_submit

        review_submit(item=QueueItem.objects.get(pk=item_id), reviewer=self._user, verdict=verdict)
        return 201


@dataclass
class OracleSummary:
    queues: int = 0
    reviews: int = 0
    wrong_verdicts: int = 0  # verdicts that disagree with the truth (the oracle's own errors)
    missing_truth: int = 0  # items whose response has no truth record (not reviewed)
    per_queue: dict[int, int] = field(default_factory=dict)


def queues_to_review(
    *, plan: Plan, start: dt.date | None = None, end: dt.date | None = None
) -> list[Queue]:
    """The plan's probability queues (oldest first) that still need reviews."""
    queues = Queue.objects.filter(plan=plan, kind=Queue.Kind.PROBABILITY).order_by("day")
    if start:
        queues = queues.filter(day__gte=start)
    if end:
        queues = queues.filter(day__lte=end)
    return [
        q
        for q in queues
        if QueueItem.objects.filter(queue=q, review_count__lt=F("required_reviews")).exists()
    ]


def oracle_review(
    *,
    plan: Plan,
    truth: dict[str, bool],
    queues: Iterable[Queue],
    clients: list[ApiClient],
    error_rate: float = 0.02,
    seed: int = 0,
    on_queue: Callable[[Queue, int], None] | None = None,
) -> OracleSummary:
    """Review every queue to the end: reviewers take turns claiming and submitting until each
    is told there is nothing left for them (204). Each reviewer's verdict on an item is drawn
    independently (seeded by seed, item and reviewer): the truth, flipped with `error_rate`."""
    summary = OracleSummary()
    for queue in queues:
        done = 0
        active = list(range(len(clients)))
        while active:
            for who in list(active):
                claimed = clients[who].claim(queue.pk)
                if claimed is None:
                    active.remove(who)
                    continue
                item_id = int(claimed["item"])
                external_id = (
                    QueueItem.objects.filter(pk=item_id)
                    .values_list("response__external_id", flat=True)
                    .first()
                )
                if external_id is None or external_id not in truth:
                    summary.missing_truth += 1
                    raise ApiError(
                        f"item {item_id} (response {external_id!r}) has no ground truth: "
                        "is --truth the file of this plan's source?"
                    )
                correct = truth[external_id]
                rng = np.random.default_rng([seed, item_id, who])
                verdict_ok = bool(oracle_verdicts(np.array([correct]), error_rate, rng)[0])
                if clients[who].review(item_id, "correct" if verdict_ok else "incorrect") == 201:
                    done += 1
                    summary.wrong_verdicts += int(verdict_ok != correct)
        summary.queues += 1
        summary.reviews += done
        summary.per_queue[queue.pk] = done
        if on_queue:
            on_queue(queue, done)
    return summary


def oracle_clients(
    *, users: list[Any], api_url: str | None = None, transport: str = "api"
) -> list[ApiClient]:
    """One API client per oracle reviewer, authenticated by the user's token (transport
    "service" skips the API: benchmarks only)."""
    clients: list[ApiClient] = []
    for user in users:
        if transport == "service":
            clients.append(ServiceClient(user))
            continue
        # Keys are stored hashed, so an existing one cannot be read back: a fresh one per run.
        token = token_create(user=user, name="oracle")[1]
        clients.append(HttpClient(api_url, token) if api_url else InProcessClient(token))
    return clients


def in_process_hosts() -> Any:
    """The in-process client talks as host "localhost"; allow it even where ALLOWED_HOSTS is
    a production list (the request never leaves the process)."""
    return override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "localhost"])


# --- the default plan, built and reviewed day by day -------------------------------------------

DEFAULT_PLAN = "default"


def default_plan_config(*, budget: int = 200) -> dict[str, Any]:
    """Longtail's default design (DESIGN.md, the issue 3 study's plan (c)): tier × uncertainty
    × OOD per day, Neyman allocation from recent reviews, the budget pushed towards the cheap
    tier's uncertain answers (×32) and out-of-distribution ones (×3), target 0.93 per tier.

    ×32 was chosen by measurement (benchmarks/alarms.py on `seed`, 200 reviews a day, the plan's
    charts calibrated together): days from onset to the first cheap-tier alarm, median / p90,
    ×8: 7 / 8 (5 runs), ×16: 6 / 8 (10 runs), ×32: 5 / 6 (5 runs), a sweep with Neyman on all
    history (before the 14-day window); the full study's figures
    for ×32 are in README's "Quality alarms". The cheap tier's uncertain band is ~4 % of the
    traffic and where its hidden failures land; ×32 gives it about half the budget."""
    return {
        "dimensions": ["tier", "uncertainty", "ood"],
        "allocation": "neyman",
        "daily_budget": budget,
        "oversampling": {"tier=cheap&uncertainty=high": 32.0, "ood=edge": 3.0, "ood=out": 3.0},
        "targets": {"cheap": 0.93, "capable": 0.93},
    }


def source_days(source: Source) -> list[dt.date]:
    """The UTC days on which the source has responses."""
    return sorted(
        d.date() if isinstance(d, dt.datetime) else d
        for d in Response.objects.filter(source=source).dates("timestamp", "day")
    )


def plan_build_and_review(
    *,
    plan: Plan,
    days: list[dt.date],
    truth: dict[str, bool],
    reviewers: int = 3,
    error_rate: float = 0.02,
    api_url: str | None = None,
    transport: str = "api",
    seed: int = 0,
    review_last: bool = True,
    on_day: Callable[[Queue, int], None] | None = None,
) -> OracleSummary:
    """As in production, day after day: build the day's queue (Neyman reads the reviews of
    the days before), then the oracle reviews it through the API. With review_last=False the
    last day's queue is left open (for a human to try the reviewer pages)."""
    users = oracle_reviewers_ensure(plan=plan, count=reviewers)
    clients = oracle_clients(users=users, api_url=api_url, transport=transport)
    total = OracleSummary()
    with in_process_hosts():
        for i, day in enumerate(days):
            queue, _ = queue_build(plan=plan, day=day)
            if not review_last and i == len(days) - 1:
                if on_day:
                    on_day(queue, 0)
                continue
            one = oracle_review(
                plan=plan,
                truth=truth,
                queues=[queue],
                clients=clients,
                error_rate=error_rate,
                seed=seed,
            )
            total.queues += one.queues
            total.reviews += one.reviews
            total.wrong_verdicts += one.wrong_verdicts
            total.per_queue.update(one.per_queue)
            if on_day:
                on_day(queue, one.reviews)
    return total


def default_plan_ensure(
    *, source: Source, name: str = DEFAULT_PLAN, budget: int = 200, extra_reviewers: list[Any]
) -> Plan:
    """The default plan over `source` (created once; an existing plan is left as it is)."""
    plan = Plan.objects.filter(name=name).first()
    if plan is None:
        version = plan_save(
            name=name,
            config=default_plan_config(budget=budget),
            sources=[source],
            reviewers=extra_reviewers,
            description="Longtail's default design: tier × uncertainty × OOD, Neyman, "
            "oversampling of the cheap tier's uncertain and out-of-distribution answers.",
        )
        plan = version.plan
    return plan


def demo_review(*, budget: int, stdout: Any, source_name: str = "sim-seed") -> None:
    """`make run`'s reviews: the default plan over the demo source, a queue per loaded day,
    each reviewed by the oracle through the API in-process (2 % reviewer error), except the
    last day's, left open for a person to try the reviewer pages."""
    import time

    source = Source.objects.filter(name=source_name).first()
    if source is None:
        return
    demo_reviewer = get_user_model().objects.filter(username="reviewer").first()
    plan = default_plan_ensure(
        source=source,
        budget=budget,
        extra_reviewers=[demo_reviewer] if demo_reviewer else [],
    )
    days = source_days(source)
    path = Path(settings.BASE_DIR) / "simulated" / source_name / "truth.jsonl"
    if not days or not path.exists():
        return
    started = time.monotonic()
    stdout.write(
        f"Plan {plan.name!r}: building a queue per day ({len(days)} days, "
        f"{plan.current_version.daily_budget} reviews/day) and reviewing it with the "
        "simulator's oracle through the API..."
    )
    summary = plan_build_and_review(
        plan=plan, days=days, truth=truth_load(path), reviewers=2, review_last=False
    )
    stdout.write(
        f"  {summary.reviews} oracle reviews on {summary.queues} queues in "
        f"{time.monotonic() - started:.0f} s; the {days[-1]:%Y-%m-%d} queue is left open "
        "for the demo reviewer"
    )
    try:
        from reviewapp.reports.services import alarms_compute_quality_all
    except ImportError:
        return
    alarms = alarms_compute_quality_all(plan=plan)
    stdout.write(f"  quality alarms computed: {len(alarms)}")
