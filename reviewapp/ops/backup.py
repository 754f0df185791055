"""Back up one plan's review work as JSONL and restore it, into this or another database.

The file references responses by (source name, external id) and people by username, never by
primary key, so it restores into any database that holds the same responses (re-ingested from
the same files, say). It is written one queue at a time — the queue, its strata, items,
reviews, adjudications and audit rows — so backup and restore hold one queue in memory.

Restoring is idempotent: every row is matched on its natural key (plan version number; queue
kind, day, name and build time; stratum key; the item's response; the reviewer; the audit
row's actor, action and time) and only what is missing is created.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.dateparse import parse_date, parse_datetime

from reviewapp.responses.models import Response, Source
from reviewapp.review.models import (
    Adjudication,
    Plan,
    PlanVersion,
    Queue,
    QueueItem,
    Review,
    ReviewAudit,
    StratumCount,
)
from reviewapp.review.services import PLAN_FIELDS

FORMAT = "longtail-plan-backup"
FORMAT_VERSION = 1

_STRATUM_FIELDS = (
    "key",
    "tier",
    "uncertainty_band",
    "ood_band",
    "segment",
    "population",
    "quota",
    "auto_score_sum",
    "auto_score_count",
    "cost_sum",
    "cost_count",
)
_REVIEW_FIELDS = (
    "verdict",
    "failure_tags",
    "helpfulness",
    "comment",
    "preference",
    "served_side",
    "time_spent_ms",
)


class BackupError(ValueError):
    """The file cannot be restored here; the message says why (nothing was written)."""


@dataclass
class Counts:
    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    existing: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    created_users: list[str] = field(default_factory=list)

    def summary(self) -> str:
        kinds = sorted(set(self.created) | set(self.existing))
        return ", ".join(
            f"{kind}: {self.created.get(kind, 0)} new / {self.existing.get(kind, 0)} present"
            for kind in kinds
        )


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _username(user_id: int | None, cache: dict[int, str]) -> str | None:
    if user_id is None:
        return None
    if user_id not in cache:
        cache[user_id] = get_user_model().objects.get(pk=user_id).get_username()
    return cache[user_id]


def plan_backup(*, plan: Plan, out: TextIO) -> dict[str, int]:
    """Write the plan's versions, queues and review work to `out`; returns rows per kind."""
    users: dict[int, str] = {}
    counts: dict[str, int] = defaultdict(int)

    def write(kind: str, row: dict[str, Any]) -> None:
        out.write(json.dumps({"kind": kind, **row}, ensure_ascii=False, default=str) + "\n")
        counts[kind] += 1

    write(
        "plan",
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": plan.name,
            "description": plan.description,
            "active": plan.active,
            "created_at": _iso(plan.created_at),
            "created_by": _username(plan.created_by_id, users),
            "current_version": plan.current_version.number if plan.current_version else None,
            "reviewers": sorted(u.get_username() for u in plan.reviewers.all()),
        },
    )
    for version in plan.versions.order_by("number").prefetch_related("sources"):
        write(
            "plan_version",
            {
                "number": version.number,
                "sources": sorted(s.name for s in version.sources.all()),
                "config": {name: getattr(version, name) for name in PLAN_FIELDS},
                "created_at": _iso(version.created_at),
                "created_by": _username(version.created_by_id, users),
            },
        )
    sources = dict(Source.objects.values_list("pk", "name"))
    for queue in plan.queues.order_by("day", "pk").select_related("plan_version"):
        write(
            "queue",
            {
                "ref": queue.pk,
                "version": queue.plan_version.number,
                "queue_kind": queue.kind,
                "day": _iso(queue.day),
                "name": queue.name,
                "description": queue.description,
                "seed": queue.seed,
                "population": queue.population,
                "size": queue.size,
                "built_at": _iso(queue.built_at),
                "built_by": _username(queue.built_by_id, users),
            },
        )
        strata = {}
        for stratum in queue.strata.order_by("pk"):
            strata[stratum.pk] = stratum.key
            write(
                "stratum", {"queue": queue.pk, **{f: getattr(stratum, f) for f in _STRATUM_FIELDS}}
            )
        for item in queue.items.order_by("position", "pk").values(
            "pk",
            "response__source_id",
            "response__external_id",
            "stratum_id",
            "inclusion_probability",
            "required_reviews",
            "review_count",
            "is_gold",
            "served_side",
            "position",
        ):
            write(
                "item",
                {
                    "ref": item["pk"],
                    "queue": queue.pk,
                    "response": [
                        sources[item["response__source_id"]],
                        item["response__external_id"],
                    ],
                    "stratum": strata.get(item["stratum_id"]),
                    **{
                        f: item[f]
                        for f in (
                            "inclusion_probability",
                            "required_reviews",
                            "review_count",
                            "is_gold",
                            "served_side",
                            "position",
                        )
                    },
                },
            )
        for review in Review.objects.filter(item__queue=queue).order_by("pk"):
            write(
                "review",
                {
                    "ref": review.pk,
                    "item": review.item_id,
                    "reviewer": _username(review.reviewer_id, users),
                    **{f: getattr(review, f) for f in _REVIEW_FIELDS},
                    "created_at": _iso(review.created_at),
                    "updated_at": _iso(review.updated_at),
                },
            )
        for adjudication in Adjudication.objects.filter(item__queue=queue).order_by("pk"):
            write(
                "adjudication",
                {
                    "item": adjudication.item_id,
                    "verdict": adjudication.verdict,
                    "adjudicator": _username(adjudication.adjudicator_id, users),
                    "is_gold": adjudication.is_gold,
                    "comment": adjudication.comment,
                    "created_at": _iso(adjudication.created_at),
                },
            )
        for audit in ReviewAudit.objects.filter(item__queue=queue).order_by("pk"):
            write(
                "audit",
                {
                    "item": audit.item_id,
                    "review": audit.review_id_value,
                    "actor": _username(audit.actor_id, users),
                    "action": audit.action,
                    "before": audit.before,
                    "after": audit.after,
                    "at": _iso(audit.at),
                },
            )
    return dict(counts)


# --- restore --------------------------------------------------------------------------------


def _rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BackupError(f"line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or "kind" not in row:
            raise BackupError(f"line {number}: not a backup row")
        yield number, row


def _when(value: str | None) -> dt.datetime | None:
    return parse_datetime(value) if value else None


class _Restorer:
    def __init__(self, name: str | None) -> None:
        self.name = name
        self.counts = Counts()
        self.users: dict[str, Any] = {}
        self.plan: Plan | None = None
        self.versions: dict[int, PlanVersion] = {}
        self.queues: dict[int, Queue] = {}
        self.strata: dict[tuple[int, str], StratumCount] = {}
        self.items: dict[int, QueueItem] = {}
        self.reviews: dict[int, int] = {}
        self.responses: dict[tuple[str, str], int] = {}

    def user(self, username: str | None) -> Any:
        if username is None:
            return None
        if username not in self.users:
            model = get_user_model()
            user = model.objects.filter(**{model.USERNAME_FIELD: username}).first()
            if user is None:
                # A reviewer of the backed-up database who has no account here: kept as an
                # inactive account so that agreement and audit still tell reviewers apart.
                user = model(**{model.USERNAME_FIELD: username}, is_active=False)
                user.set_unusable_password()
                user.save()
                self.counts.created_users.append(username)
            self.users[username] = user
        return self.users[username]

    def _tally(self, kind: str, created: bool) -> None:
        (self.counts.created if created else self.counts.existing)[kind] += 1

    def restore(self, number: int, row: dict[str, Any]) -> None:
        kind = row["kind"]
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            raise BackupError(f"line {number}: unknown kind {kind!r}")
        if kind != "plan" and self.plan is None:
            raise BackupError(f"line {number}: a {kind} row before the plan row")
        try:
            handler(row)
        except KeyError as exc:
            raise BackupError(f"line {number}: {kind} refers to unknown {exc}") from exc

    def _plan(self, row: dict[str, Any]) -> None:
        if row.get("format") != FORMAT or row.get("format_version") != FORMAT_VERSION:
            raise BackupError(f"not a {FORMAT} file of version {FORMAT_VERSION}")
        name = self.name or row["name"]
        plan, created = Plan.objects.get_or_create(
            name=name,
            defaults={
                "description": row["description"],
                "active": row["active"],
                "created_by": self.user(row["created_by"]),
            },
        )
        if created and row["created_at"]:
            Plan.objects.filter(pk=plan.pk).update(created_at=_when(row["created_at"]))
        self._tally("plan", created)
        plan.reviewers.add(*[self.user(u) for u in row["reviewers"]])
        self.plan = plan
        self.current_version = row["current_version"]

    def _plan_version(self, row: dict[str, Any]) -> None:
        assert self.plan is not None
        version, created = PlanVersion.objects.get_or_create(
            plan=self.plan,
            number=row["number"],
            defaults={**row["config"], "created_by": self.user(row["created_by"])},
        )
        if created:
            PlanVersion.objects.filter(pk=version.pk).update(created_at=_when(row["created_at"]))
            sources = list(Source.objects.filter(name__in=row["sources"]))
            missing = set(row["sources"]) - {s.name for s in sources}
            if missing:
                raise BackupError(f"sources missing here: {', '.join(sorted(missing))}")
            version.sources.set(sources)
        self._tally("plan_version", created)
        self.versions[row["number"]] = version
        if row["number"] == self.current_version and self.plan.current_version_id != version.pk:
            self.plan.current_version = version
            self.plan.save(update_fields=["current_version"])

    def _queue(self, row: dict[str, Any]) -> None:
        assert self.plan is not None
        built_at = _when(row["built_at"])
        key = {"plan": self.plan, "kind": row["queue_kind"], "day": parse_date(row["day"])}
        if row["queue_kind"] != Queue.Kind.PROBABILITY:
            # Ad-hoc queues may share a day: their name and build time tell them apart.
            key.update(name=row["name"], built_at=built_at)
        queue = Queue.objects.filter(**key).first()
        created = queue is None
        if queue is None:
            queue = Queue.objects.create(
                plan=self.plan,
                plan_version=self.versions[row["version"]],
                kind=row["queue_kind"],
                day=key["day"],
                name=row["name"],
                description=row["description"],
                seed=row["seed"],
                population=row["population"],
                size=row["size"],
                built_by=self.user(row["built_by"]),
            )
            Queue.objects.filter(pk=queue.pk).update(built_at=built_at)
        self._tally("queue", created)
        # Rows refer only to their own queue's strata, items and reviews: forget the previous
        # queue's, so memory holds one queue however long the plan has run.
        self.queues = {row["ref"]: queue}
        self.strata.clear()
        self.items.clear()
        self.reviews.clear()

    def _stratum(self, row: dict[str, Any]) -> None:
        queue = self.queues[row["queue"]]
        values = {f: row[f] for f in _STRATUM_FIELDS if f != "key"}
        stratum, created = StratumCount.objects.get_or_create(
            queue=queue, key=row["key"], defaults=values
        )
        self._tally("stratum", created)
        self.strata[(row["queue"], row["key"])] = stratum

    def _item(self, row: dict[str, Any]) -> None:
        queue = self.queues[row["queue"]]
        source, external_id = row["response"]
        response_id = self.responses[(source, external_id)]
        values = {
            f: row[f]
            for f in (
                "inclusion_probability",
                "required_reviews",
                "review_count",
                "is_gold",
                "served_side",
                "position",
            )
        }
        stratum = self.strata[(row["queue"], row["stratum"])] if row["stratum"] else None
        item, created = QueueItem.objects.get_or_create(
            queue=queue, response_id=response_id, defaults={**values, "stratum": stratum}
        )
        self._tally("item", created)
        self.items[row["ref"]] = item

    def _review(self, row: dict[str, Any]) -> None:
        item = self.items[row["item"]]
        review, created = Review.objects.get_or_create(
            item=item,
            reviewer=self.user(row["reviewer"]),
            defaults={f: row[f] for f in _REVIEW_FIELDS},
        )
        if created:
            # auto_now(_add) would stamp the restore time; the review's own times matter
            # (throughput, first-review order for the CUSUM).
            Review.objects.filter(pk=review.pk).update(
                created_at=_when(row["created_at"]), updated_at=_when(row["updated_at"])
            )
        self._tally("review", created)
        self.reviews[row["ref"]] = review.pk

    def _adjudication(self, row: dict[str, Any]) -> None:
        item = self.items[row["item"]]
        adjudication, created = Adjudication.objects.get_or_create(
            item=item,
            defaults={
                "verdict": row["verdict"],
                "adjudicator": self.user(row["adjudicator"]),
                "is_gold": row["is_gold"],
                "comment": row["comment"],
            },
        )
        if created:
            Adjudication.objects.filter(pk=adjudication.pk).update(
                created_at=_when(row["created_at"])
            )
        self._tally("adjudication", created)

    def _audit(self, row: dict[str, Any]) -> None:
        item = self.items[row["item"]]
        at = _when(row["at"])
        actor = self.user(row["actor"])
        exists = ReviewAudit.objects.filter(
            item=item, actor=actor, action=row["action"], at=at
        ).exists()
        if not exists:
            audit = ReviewAudit.objects.create(
                item=item,
                actor=actor,
                action=row["action"],
                before=row["before"],
                after=row["after"],
                # The review it was about, renumbered here; an undone review is gone, and its
                # old id is kept as it was (it refers to nothing in either database).
                review_id_value=self.reviews.get(row["review"], row["review"]),
            )
            ReviewAudit.objects.filter(pk=audit.pk).update(at=at)
        self._tally("audit", not exists)


def _response_keys(path_lines: Iterable[str]) -> set[tuple[str, str]]:
    return {
        (row["response"][0], row["response"][1])
        for _, row in _rows(path_lines)
        if row["kind"] == "item"
    }


def _resolve_responses(keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(source, external id) → response pk, in chunks; raise naming what is missing."""
    found: dict[tuple[str, str], int] = {}
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, external_id in keys:
        by_source[source].append(external_id)
    for source, ids in by_source.items():
        for start in range(0, len(ids), 5_000):
            chunk = ids[start : start + 5_000]
            for pk, external_id in Response.objects.filter(
                source__name=source, external_id__in=chunk
            ).values_list("pk", "external_id"):
                found[(source, external_id)] = pk
    missing = sorted(keys - set(found))
    if missing:
        shown = ", ".join(f"{s}/{e}" for s, e in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise BackupError(
            f"{len(missing)} responses of the backup are not in this database: {shown}{more}. "
            "Ingest them (same source names and ids) before restoring."
        )
    return found


def plan_restore(*, path: str, name: str | None = None) -> Counts:
    """Restore the backup at `path` (as plan `name`, default its own); all or nothing.

    The file is read twice: first to check every response it needs is here, then to write."""
    with open(path, encoding="utf-8") as handle:
        keys = _response_keys(handle)
    responses = _resolve_responses(keys)
    restorer = _Restorer(name)
    restorer.responses = responses
    with transaction.atomic(), open(path, encoding="utf-8") as handle:
        for number, row in _rows(handle):
            restorer.restore(number, row)
    if restorer.plan is None:
        raise BackupError("the file has no plan row")
    return restorer.counts
