"""The living regression suite: recent reviewed items as tier-split JSONL sets that follow the
live traffic, for offline evaluation of the models.

What goes in: the items of the plan's *probability* queues over the window that have at least
one review. Each line carries the query and the served response, the tier, the stratum key,
the day, the item's inclusion probability π, its verdict (the adjudicated one where there is
one, else the reviews' common verdict; `null` with `verdict_source: "disputed"` when reviewers
disagreed and nobody adjudicated), and the share of the window's live traffic its stratum
stands for (`stratum_share` = N_key / N, N_key the stratum's responses over the window's days).
`weight` = (N_h / n_h) / N for the item's (day, stratum) with n_h its reviewed items: summed
over a file's lines it gives the tier's covered share of traffic, and a weighted mean of an
offline metric with these weights is the traffic-weighted (1/π) estimate.

What stays out, on purpose:
* gold copies (they test reviewers, and a regression set must not leak the gold answers);
* ad-hoc queues: they are hand-picked, not a probability sample, so they have no π and no
  traffic share — mixing them in would silently re-weight the suite. Export them separately
  if needed (they are visible in the review pages);
* strata nobody reviewed: they are listed in `manifest.json` with their share, so the share
  of traffic the suite does not cover is explicit.

`manifest.json` lists every stratum of the window with its population and share (the shares sum
to 1), the files and what was excluded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils import timezone

from reviewapp.review.models import Adjudication, Plan, Queue, QueueItem, Review, StratumCount

DEFAULT_DAYS = 28
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class RegressionExport:
    plan: Plan
    start: dt.date
    end: dt.date
    manifest: dict[str, Any]
    tiers: dict[str, list[dict[str, Any]]]

    def files(self) -> dict[str, str]:
        """File name -> content: one `<tier>.jsonl` per tier and `manifest.json`."""
        out = {
            tier_filename(tier): "".join(_jsonl_line(line) for line in lines)
            for tier, lines in self.tiers.items()
        }
        out["manifest.json"] = json.dumps(self.manifest, ensure_ascii=False, indent=2) + "\n"
        return out


# Characters JSON may leave raw inside a string that Python's str.splitlines() and JavaScript
# line readers take for line breaks: escaped, so that one record is one line to any reader.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _jsonl_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True).translate(_LINE_BREAKS) + "\n"


def tier_filename(tier: str) -> str:
    """`<tier>.jsonl`, a safe file name, distinct for distinct tiers.

    A tier name is data: when it is not already a safe name ("a|b", "a/b", "../x"), its unsafe
    characters become "_" and a digest of the real name is appended after a "~" ("a_b~3f2c…"),
    so two tiers never share a file (one would silently overwrite the other in the zip), and a
    safe name, which has no "~", never meets a changed one."""
    stem = _UNSAFE.sub("_", tier).strip("._")
    if stem == tier:
        return stem + ".jsonl"
    digest = hashlib.blake2b(tier.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()
    return f"{stem or 'untiered'}~{digest}.jsonl"


def regression_window(
    *, plan: Plan, days: int = DEFAULT_DAYS, end: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The last `days` days ending on `end` (default: the plan's latest probability queue day,
    else today)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if end is None:
        end = (
            Queue.objects.filter(plan=plan, kind=Queue.Kind.PROBABILITY)
            .order_by("-day")
            .values_list("day", flat=True)
            .first()
        ) or timezone.now().date()
    return end - dt.timedelta(days=days - 1), end


def _verdict(adjudicated: str | None, verdicts: list[str]) -> tuple[str | None, str]:
    if adjudicated:
        return adjudicated, "adjudicated"
    if len(set(verdicts)) == 1:
        return verdicts[0], "review" if len(verdicts) == 1 else "reviews agree"
    return None, "disputed"


def regression_export(*, plan: Plan, start: dt.date, end: dt.date) -> RegressionExport:
    strata = list(
        StratumCount.objects.filter(
            queue__plan=plan,
            queue__kind=Queue.Kind.PROBABILITY,
            queue__day__gte=start,
            queue__day__lte=end,
        ).values("pk", "key", "tier", "population", "queue__day")
    )
    total = sum(s["population"] for s in strata)
    by_key: dict[str, dict[str, Any]] = {}
    for s in strata:
        entry = by_key.setdefault(
            s["key"], {"key": s["key"], "tier": s["tier"], "population": 0, "reviewed_items": 0}
        )
        entry["population"] += s["population"]
    items = list(
        QueueItem.objects.filter(
            stratum_id__in=[s["pk"] for s in strata], is_gold=False, review_count__gte=1
        )
        .order_by("queue__day", "position")
        .values(
            "pk",
            "stratum_id",
            "inclusion_probability",
            "queue__day",
            "response__external_id",
            "response__source__name",
            "response__query",
            "response__response",
            "response__timestamp",
        )
    )
    ids = [i["pk"] for i in items]
    reviews: dict[int, list[tuple[str, list[str]]]] = defaultdict(list)
    for item_id, verdict, tags in Review.objects.filter(item_id__in=ids).values_list(
        "item_id", "verdict", "failure_tags"
    ):
        reviews[item_id].append((verdict, list(tags or [])))
    adjudicated = dict(
        Adjudication.objects.filter(item_id__in=ids).values_list("item_id", "verdict")
    )
    stratum_of = {s["pk"]: s for s in strata}
    reviewed_in: dict[int, int] = defaultdict(int)
    for item in items:
        reviewed_in[item["stratum_id"]] += 1
    tiers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        s = stratum_of[item["stratum_id"]]
        given = reviews[item["pk"]]
        verdicts = [v for v, _ in given]
        verdict, source = _verdict(adjudicated.get(item["pk"]), verdicts)
        by_key[s["key"]]["reviewed_items"] += 1
        tiers[s["tier"]].append(
            {
                "item_id": item["pk"],
                "id": item["response__external_id"],
                "source": item["response__source__name"],
                "timestamp": item["response__timestamp"].isoformat(),
                "day": item["queue__day"].isoformat(),
                "query": item["response__query"],
                "response": item["response__response"],
                "tier": s["tier"],
                "stratum": s["key"],
                "inclusion_probability": item["inclusion_probability"],
                "stratum_share": by_key[s["key"]]["population"] / total if total else None,
                "weight": (s["population"] / reviewed_in[s["pk"]] / total if total else None),
                "verdict": verdict,
                "verdict_source": source,
                "score": Review.SCORES[verdict] if verdict else None,
                "reviews": verdicts,
                "failure_tags": sorted({t for _, tags in given for t in tags}),
                "adhoc": False,
            }
        )
    tier_population: dict[str, int] = defaultdict(int)
    for entry in by_key.values():
        entry["share"] = entry["population"] / total if total else 0.0
        tier_population[entry["tier"]] += entry["population"]
    manifest = {
        "plan": plan.name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "generated": timezone.now().astimezone(dt.UTC).isoformat(),
        "population": total,
        "tiers": {
            tier: {
                "file": tier_filename(tier),
                "items": len(tiers.get(tier, [])),
                "population": population,
                "share": population / total if total else 0.0,
            }
            for tier, population in sorted(tier_population.items())
        },
        "strata": sorted(by_key.values(), key=lambda e: (e["tier"], e["key"])),
        "covered_share": (
            sum(e["population"] for e in by_key.values() if e["reviewed_items"]) / total
            if total
            else 0.0
        ),
        "excluded": (
            "gold copies (never exported); ad-hoc queues (not a probability sample: no "
            "inclusion probability, no traffic share); strata with no review (listed here "
            "with reviewed_items 0)"
        ),
    }
    return RegressionExport(
        plan=plan, start=start, end=end, manifest=manifest, tiers=dict(sorted(tiers.items()))
    )


def regression_write(export: RegressionExport, out_dir: Path) -> list[Path]:
    """Write the files into `out_dir` (created if missing), each atomically. A tier file of an
    earlier run whose tier is absent now is left alone: `manifest.json` lists the current
    files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in export.files().items():
        path = out_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written


def regression_zip(export: RegressionExport) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in export.files().items():
            archive.writestr(name, content)
    return buffer.getvalue()
