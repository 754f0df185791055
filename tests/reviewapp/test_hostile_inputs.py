"""Untrusted text end to end (issue 6, item 2): the hostile corpus (tests/fixtures/
hostile_corpus.py) goes in as queries, answers, shadow answers, conversation context, tiers,
segments, models and other text fields, through the file ingest (JSONL and CSV, `manage.py
ingest`) and the push API.

* Every text is stored exactly as sent, or (a NUL, a lone surrogate, bytes that are not UTF-8)
  rejected with its line, field and a specific reason; nothing else in the file is lost.
* Every CSV export that shows the text holds it exactly, except that a cell a spreadsheet would
  run as a formula starts with "'".
* In headless Chromium, the reviewer's page (each hostile item, the raw text shown), the report
  pages and drill-downs, the admin's lists and change pages (responses, quarantine, ingest runs)
  run nothing: no dialog, `window.__pwned` never set, no 5xx, and every HTML page carries the
  strict Content-Security-Policy. The walk runs twice: with the policy (what users get; any
  violation it reports is counted and must be zero, since a violation means injected markup
  went live and only the policy stopped it) and with the policy bypassed (so escaping alone
  must keep everything inert).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from reviewapp.responses.models import IngestRun, RejectedRecord, Response
from tests.fixtures.hostile_corpus import (
    HOSTILE,
    INVALID_UTF8,
    SHORT_SEGMENTS,
    SHORT_TIERS,
    UNSTORABLE,
    UNSTORABLE_REASONS,
    Hostile,
)

DAY = dt.date(2026, 2, 10)
MEGABYTE = 1_000_000
# The text fields a response record carries, and the longest each may be.
TEXT_FIELDS = {
    "query": 200_000,
    "response": 200_000,
    "model": 255,
    "router_label": 64,
    "conversation_id": 255,
    "user_id": 255,
}


def hostile_record(i: int, hostile: Hostile, *, prefix: str = "h") -> dict[str, Any]:
    """A response record with `hostile.text` in every text field (cut to the field's limit),
    a short hostile tier and segment, a hostile shadow answer and conversation context, and a
    hostile metadata key. The id is hostile too (the admin lists ids). The longest text's
    context is a megabyte (the line is then ~1.6 MB, under the 2 MiB line limit)."""
    text = hostile.text
    context = (text * (1 + MEGABYTE // len(text)))[:MEGABYTE] if len(text) > 100_000 else text
    record: dict[str, Any] = {
        "id": f"{prefix}{i:03d}:{text[:200]}",
        "timestamp": (
            dt.datetime.combine(DAY, dt.time(8), tzinfo=dt.UTC) + dt.timedelta(minutes=i)
        ).isoformat(),
        "tier": SHORT_TIERS[i % len(SHORT_TIERS)],
        "segment": SHORT_SEGMENTS[(i // len(SHORT_TIERS)) % len(SHORT_SEGMENTS)],
        "router_confidence": round(0.35 + (i % 13) / 20, 3),
        "self_confidence": round(0.2 + (i % 7) / 10, 3),
        "auto_score": float(i % 2),
        "cost_usd": 0.001,
        "metadata": {
            "context": [
                {"role": text[:40], "content": context},
                {"role": "assistant", "content": "Earlier answer."},
            ],
            text[:100]: text,
        },
    }
    for field, limit in TEXT_FIELDS.items():
        record[field] = text[:limit]
    if i % 3 == 0:
        record["shadow"] = {"response": text, "model": text[:255]}
    return record


def hostile_records(*, prefix: str = "h") -> list[dict[str, Any]]:
    return [hostile_record(i, h, prefix=prefix) for i, h in enumerate(HOSTILE)]


def unstorable_records(*, prefix: str = "u") -> list[tuple[dict[str, Any], str, str]]:
    """(record, the field its reject must name, the text's category): each unstorable text
    in the query, the answer, the tier and metadata."""
    out = []
    fields = ["query", "response", "tier", "metadata"]
    for i, bad in enumerate(UNSTORABLE):
        for j, field in enumerate(fields):
            record = hostile_record(i, HOSTILE[0], prefix=f"{prefix}{j}-")
            record["id"] = f"{prefix}-{bad.name}-{field}"
            if field == "metadata":
                record["metadata"] = {"note": bad.text}
            else:
                record[field] = bad.text
            out.append((record, field, bad.category))
    return out


def reject_matches(reject: RejectedRecord, field: str, category: str) -> bool:
    """A NUL is valid JSON and is refused by field; a lone surrogate ("\\ud800") is not valid
    JSON text at all, so its whole line is refused as not JSON, saying why."""
    if category == "surrogate":
        return reject.field == "" and "surrogate" in reject.reason
    return (reject.field, reject.reason) == (field, UNSTORABLE_REASONS[category])


def assert_stored_exactly(source: str, records: list[dict[str, Any]]) -> None:
    """Every record is stored, every text field equal to what was sent."""
    stored = {r.external_id: r for r in Response.objects.filter(source__name=source)}
    assert set(stored) == {r["id"] for r in records}
    for record in records:
        row = stored[record["id"]]
        for field in (*TEXT_FIELDS, "tier", "segment"):
            assert getattr(row, field) == record[field], (record["id"], field)
        assert row.metadata == record["metadata"], record["id"]
        shadow = record.get("shadow")
        assert row.shadow_response == (shadow["response"] if shadow else None)
        assert row.shadow_model == (shadow["model"] if shadow else "")


def write_jsonl(path, lines: list[Any]) -> None:
    """Each line a record (dumped as JSON, its text as UTF-8) or raw bytes. Unlike
    ingest_helpers.write_jsonl, a lone surrogate, which UTF-8 cannot hold, is written as its
    JSON escape ("\\ud800"), as a client's JSON encoder would."""
    with path.open("wb") as out:
        for line in lines:
            if not isinstance(line, bytes):
                line = json.dumps(line, ensure_ascii=False).encode("utf-8", "backslashreplace")
            out.write(line + b"\n")


def _ingest(path, source: str, *args: str) -> str:
    out = StringIO()
    call_command("ingest", str(path), "--source", source, *args, stdout=out)
    return out.getvalue()


def _rejects(source: str) -> dict[int, RejectedRecord]:
    return {r.line_number: r for r in RejectedRecord.objects.filter(run__source__name=source)}


# --- ingest ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_file_ingest_stores_every_hostile_text_exactly_and_rejects_the_unstorable(tmp_path):
    good = hostile_records()
    bad = unstorable_records()
    # The bad records are spread through the file: nothing before or after one is lost.
    lines: list[Any] = []
    expected_rejects: dict[int, tuple[str, str]] = {}
    for i, record in enumerate(good):
        lines.append(record)
        if i < len(bad):
            lines.append(bad[i][0])
            expected_rejects[len(lines)] = bad[i][1:]
    path = tmp_path / "hostile.jsonl"
    write_jsonl(path, lines)

    output = _ingest(path, "hostile-file")

    assert f"{len(good)} new, 0 updated, 0 unchanged, {len(bad)} rejected" in output
    assert_stored_exactly("hostile-file", good)
    rejects = _rejects("hostile-file")
    assert set(rejects) == set(expected_rejects)
    for line_number, (field, category) in expected_rejects.items():
        reject = rejects[line_number]
        assert reject_matches(reject, field, category), (line_number, reject.field, reject.reason)
    # Sent again: unchanged, not updated (the stored text is byte-for-byte what was sent).
    assert f"0 new, 0 updated, {len(good)} unchanged" in _ingest(path, "hostile-file")


CSV_COLUMNS = [
    "id",
    "timestamp",
    *TEXT_FIELDS,
    "tier",
    "segment",
    "router_confidence",
    "self_confidence",
    "auto_score",
    "cost_usd",
    "shadow",
    "metadata",
]


def csv_bytes(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        cells = []
        for column in CSV_COLUMNS:
            value = record.get(column)
            if value is None:
                cells.append("")  # an empty cell is an absent field
            elif column in ("shadow", "metadata"):
                cells.append(json.dumps(value, ensure_ascii=False))
            else:
                cells.append(str(value))
        writer.writerow(cells)
    return out.getvalue().encode()


@pytest.mark.django_db
def test_csv_file_ingest_stores_every_hostile_text_exactly(tmp_path):
    good = hostile_records(prefix="c")
    bad = [(r, f, c) for r, f, c in unstorable_records(prefix="cu") if c == "nul"]
    path = tmp_path / "hostile.csv"
    path.write_bytes(csv_bytes(good[:20] + [r for r, _, _ in bad] + good[20:]))

    output = _ingest(path, "hostile-csv")

    assert f"{len(good)} new, 0 updated, 0 unchanged, {len(bad)} rejected" in output
    assert_stored_exactly("hostile-csv", good)
    rejects = sorted(
        RejectedRecord.objects.filter(run__source__name="hostile-csv"), key=lambda r: r.line_number
    )
    assert [(r.field, r.reason) for r in rejects] == [(f, UNSTORABLE_REASONS[c]) for _, f, c in bad]


def _push_body(records: list[dict[str, Any]]) -> bytes:
    # ensure_ascii=False: the text travels as UTF-8, as most clients send it.
    return json.dumps(records, ensure_ascii=False).encode("utf-8", "backslashreplace")


@pytest.mark.django_db
def test_push_api_stores_every_hostile_text_exactly(token_client):
    good = hostile_records(prefix="p")
    nul = [(r, f, c) for r, f, c in unstorable_records(prefix="pu") if c == "nul"]
    url = "/api/v1/responses/?source=hostile-push"

    answer = token_client.post(
        url, data=_push_body(good + [r for r, _, _ in nul]), content_type="application/json"
    )

    assert answer.status_code == 207, answer.content[:500]
    body = answer.json()
    assert (body["created"], body["rejected"]) == (len(good), len(nul))
    assert_stored_exactly("hostile-push", good)
    run = IngestRun.objects.get(pk=body["run"])
    rejects = list(RejectedRecord.objects.filter(run=run).order_by("line_number"))
    assert [(r.field, r.reason) for r in rejects] == [(f, UNSTORABLE_REASONS[c]) for _, f, c in nul]
    # A lone surrogate cannot be UTF-8, so a body holding one (escaped: "\\ud800") is not
    # JSON text: the body is refused whole with a 400 that says so, and nothing is stored.
    for record, _, category in unstorable_records(prefix="ps"):
        if category != "surrogate":
            continue
        answer = token_client.post(url, data=json.dumps([record]), content_type="application/json")
        assert answer.status_code == 400, answer.content[:300]
        assert answer.json()["detail"].startswith("The body is not valid JSON: "), answer.json()
    assert Response.objects.filter(source__name="hostile-push").count() == len(good)
    assert IngestRun.objects.filter(source__name="hostile-push").count() == 1


def _plain(i: int, **overrides: Any) -> dict[str, Any]:
    record = {
        "id": f"plain-{i}",
        "timestamp": "2026-02-10T09:00:00Z",
        "query": f"How do I export invoice {i}?",
        "response": "From Billing, Invoices.",
        "tier": "cheap",
    }
    record.update(overrides)
    return record


@pytest.mark.django_db
def test_jsonl_bad_bytes_and_megabyte_lines_are_rejected_by_line_and_lose_nothing_else(tmp_path):
    lines: list[Any] = [_plain(0)]
    expected: dict[int, str] = {}
    for i, (_, bad_bytes) in enumerate(INVALID_UTF8, start=1):
        good_line = json.dumps(_plain(1000 + i, query="QUERY")).encode()
        lines.append(good_line.replace(b"QUERY", bad_bytes))
        expected[len(lines)] = "is not valid UTF-8 text"
        lines.append(_plain(i))
    # A megabyte of query: read whole (under the 2 MiB line limit), refused by the text limit.
    lines.append(_plain(100, query="q" * MEGABYTE))
    expected[len(lines)] = "is longer than 200000 characters"
    # A megabyte of hostile context in metadata: stored exactly.
    big_context = ("<img src=x onerror=alert(1)>\u202e" * (MEGABYTE // 30))[:MEGABYTE]
    lines.append(_plain(101, metadata={"context": big_context}))
    lines.append(_plain(102))
    path = tmp_path / "bytes.jsonl"
    write_jsonl(path, lines)
    assert max(len(line) for line in path.read_bytes().split(b"\n")) > MEGABYTE

    output = _ingest(path, "bad-bytes")

    stored = dict(
        Response.objects.filter(source__name="bad-bytes").values_list("external_id", "query")
    )
    assert set(stored) == {f"plain-{i}" for i in range(len(INVALID_UTF8) + 1)} | {
        "plain-101",
        "plain-102",
    }, output
    assert Response.objects.get(external_id="plain-101").metadata == {"context": big_context}
    rejects = _rejects("bad-bytes")
    assert set(rejects) == set(expected)
    for line_number, reason in expected.items():
        assert reason in rejects[line_number].reason, (line_number, rejects[line_number].reason)


PLAIN_CSV = ["id", "timestamp", "query", "response", "tier", "metadata"]


def _plain_csv_line(record: dict[str, Any]) -> bytes:
    out = io.StringIO(newline="")
    cells = [record.get(c, "") for c in PLAIN_CSV]
    metadata = record.get("metadata")
    cells[PLAIN_CSV.index("metadata")] = "" if metadata is None else json.dumps(metadata)
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue().encode()


@pytest.mark.django_db
def test_csv_bad_bytes_and_megabyte_rows_are_rejected_by_row_and_lose_nothing_else(tmp_path):
    """A byte that is not UTF-8 in a CSV row rejects that row (line and column named), as a
    JSONL line would be, and every other row is stored: before, the file stopped there and the
    rows decoded in the same chunk before the bad byte were lost too."""
    body = [",".join(PLAIN_CSV).encode() + b"\r\n"]
    expected: dict[int, tuple[str, str]] = {}
    line = 2
    for i in range(300):
        body.append(_plain_csv_line(_plain(i, metadata=None)))
        line += 1
        if i % 50 == 25:
            _, bad_bytes = INVALID_UTF8[i // 50]
            good_line = _plain_csv_line(_plain(1000 + i, query="QUERY", metadata=None))
            body.append(good_line.replace(b"QUERY", bad_bytes))
            expected[line] = ("query", "is not valid UTF-8 text")
            line += 1
    body.append(_plain_csv_line(_plain(1000, query="q" * MEGABYTE, metadata=None)))
    expected[line] = ("query", "is longer than 200000 characters")
    big_context = ("</script><svg onload=alert(1)>\u202e" * (MEGABYTE // 30))[:MEGABYTE]
    body.append(_plain_csv_line(_plain(1001, metadata={"context": big_context})))
    body.append(_plain_csv_line(_plain(1002, metadata=None)))
    path = tmp_path / "bytes.csv"
    path.write_bytes(b"".join(body))

    output = _ingest(path, "bad-bytes-csv")

    assert f"302 new, 0 updated, 0 unchanged, {len(expected)} rejected" in output
    stored = set(
        Response.objects.filter(source__name="bad-bytes-csv").values_list("external_id", flat=True)
    )
    assert stored == {f"plain-{i}" for i in [*range(300), 1001, 1002]}
    assert Response.objects.get(external_id="plain-1001").metadata == {"context": big_context}
    rejects = _rejects("bad-bytes-csv")
    assert set(rejects) == set(expected)
    for line_number, (field, reason) in expected.items():
        reject = rejects[line_number]
        assert reject.field == field and reason in reject.reason, (line_number, reject.reason)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_byte_order_mark_at_the_start_of_a_file_is_not_part_of_the_first_record(tmp_path, fmt):
    """Windows tools (Excel's "CSV UTF-8", Notepad) start UTF-8 files with a byte-order mark;
    it is not part of the first record or column name."""
    records = [_plain(1, metadata=None), _plain(2, metadata=None)]
    if fmt == "csv":
        content = ",".join(PLAIN_CSV).encode() + b"\r\n"
        content += b"".join(_plain_csv_line(r) for r in records)
    else:
        content = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    path = tmp_path / f"bom.{fmt}"
    path.write_bytes(b"\xef\xbb\xbf" + content)

    output = _ingest(path, f"bom-{fmt}")

    assert "2 new, 0 updated, 0 unchanged, 0 rejected" in output
    assert set(Response.objects.values_list("external_id", flat=True)) == {"plain-1", "plain-2"}


@pytest.mark.django_db
def test_a_queue_builds_when_tier_and_segment_hold_the_stratum_key_separator(reviewer):
    """Tier "a|b" with segment "c" and tier "a" with segment "b|c" are two strata. Their keys
    were both "a|b|c": the unique (queue, key) constraint failed, queue_build took that for a
    concurrent build of the same queue, and crashed looking for it (found by the browser walk
    below)."""
    from reviewapp.responses.models import Source
    from reviewapp.review.services import plan_save, queue_build

    source = Source.objects.create(name="pipes")
    start = dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC)
    for i, (tier, segment) in enumerate([("a|b", "c"), ("a", "b|c")] * 3):
        Response.objects.create(
            source=source,
            external_id=f"p{i}",
            timestamp=start + dt.timedelta(minutes=i),
            query="q",
            response="a",
            tier=tier,
            segment=segment,
            content_hash=f"p{i}",
        )
    version = plan_save(
        name="pipes",
        config={"dimensions": ["tier", "segment"], "daily_budget": 10, "stratum_min": 2},
        sources=[source],
        reviewers=[reviewer],
    )

    queue, created = queue_build(plan=version.plan, day=DAY)

    assert created and queue.items.count() == 6
    strata = {(s.tier, s.segment): (s.key, s.population) for s in queue.strata.all()}
    assert strata == {("a|b", "c"): ("a\\|b|c", 3), ("a", "b|c"): ("a|b\\|c", 3)}


# --- the hostile world: ingested, reviewed, reported ------------------------------------------

PLAN_BLIND = "hostile-blind"
PLAN_OPEN = "hostile-open"
# The tier report's splits, the trends page's tables, the agreement page's tables.
BY = ("tier", "uncertainty", "ood", "segment", "stratum", "longtail")
TRENDS = ("accuracy", "feedback", "drift")
AGREEMENT = ("pairs", "alpha", "reviewers", "correction", "tags")
HOSTILE_TAG = "<img src=x onerror=alert(1)>"
WINDOW = {"start": DAY.isoformat(), "end": DAY.isoformat()}


# Each hostile router label's reference records, repeated: a tier's drift is measured against
# the records of its own router labels only when they number at least DRIFT_MIN_REFERENCE (100),
# and each short tier carries about 14 of the labels.
REFERENCE_COPIES = 8


def _reference_lines() -> list[dict[str, Any]]:
    """A reference set (router confidence drift is measured against it) with hostile queries
    and router labels: the production's labels, so every tier is compared with its own."""
    return [
        {
            "query": h.text[:5000],
            "router_label": h.text[:64],
            "router_confidence": round(0.4 + ((i + copy) % 11) / 20, 3),
        }
        for copy in range(REFERENCE_COPIES)
        for i, h in enumerate(HOSTILE)
    ]


def _feedback_lines(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"fb-{i}-{r['id'][:100]}",
            "response_id": r["id"],
            "timestamp": r["timestamp"],
            "kind": ("thumbs_down", "handoff", "thumbs_up")[i % 3],
            "comment": HOSTILE[i].text,
        }
        for i, r in enumerate(records)
    ]


def build_hostile_world(tmp_path, user, second_reviewer) -> dict[str, Any]:
    """Ingest the corpus through the file (with rejects) and the push API, a reference set and
    feedback; two plans (blind over the file source, not blind over the pushed one, with a
    hostile failure tag and targets for the hostile tiers); their queues for DAY, holding every
    response; and three overlap items per queue already reviewed "correct" by a second reviewer
    (the browser reviewer's "incorrect" makes them disputed, for the adjudication page)."""
    from rest_framework.test import APIClient

    from reviewapp.api.tokens import token_create
    from reviewapp.responses.models import Source
    from reviewapp.review.models import QueueItem
    from reviewapp.review.services import item_claim, plan_save, queue_build, review_submit

    file_records = hostile_records(prefix="f")
    lines: list[Any] = []
    for i, record in enumerate(file_records):
        lines.append(record)
        if i < len(UNSTORABLE):
            lines.append(unstorable_records(prefix="fu")[i * 4][0])
    lines.append(json.dumps(_plain(0)).encode().replace(b"How", b"H\xe9w"))  # not UTF-8
    write_jsonl(tmp_path / "hostile.jsonl", lines)
    _ingest(tmp_path / "hostile.jsonl", "hostile-file")
    write_jsonl(tmp_path / "reference.jsonl", _reference_lines())
    for source in ("hostile-file", "hostile-push"):
        _ingest(tmp_path / "reference.jsonl", source, "--kind", "reference")

    client = APIClient()
    _, key = token_create(user=user, name="hostile")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    push_records = hostile_records(prefix="p")
    nul = [r for r, _, c in unstorable_records(prefix="pu") if c == "nul"]
    answer = client.post(
        "/api/v1/responses/?source=hostile-push",
        data=_push_body(push_records + nul),
        content_type="application/json",
    )
    assert answer.status_code == 207, answer.content[:300]
    for source, records in (("hostile-file", file_records), ("hostile-push", push_records)):
        answer = client.post(
            f"/api/v1/feedback/?source={source}",
            data=_push_body(_feedback_lines(records)),
            content_type="application/json",
        )
        assert answer.status_code == 200, answer.content[:300]
    assert_stored_exactly("hostile-file", file_records)
    assert_stored_exactly("hostile-push", push_records)

    queues = {}
    for name, source, blind in (
        (PLAN_BLIND, "hostile-file", True),
        (PLAN_OPEN, "hostile-push", False),
    ):
        version = plan_save(
            name=name,
            config={
                "dimensions": ["tier", "segment", "uncertainty"],
                "daily_budget": 1000,
                "stratum_min": 2,
                "overlap_share": 0.0,
                "blind": blind,
                "failure_tags": ["factual error", HOSTILE_TAG],
                "targets": dict.fromkeys(SHORT_TIERS, 0.99),
                "reviewers_see_reports": True,
            },
            sources=[Source.objects.get(name=source)],
            reviewers=[user, second_reviewer],
            description=HOSTILE[0].text,
        )
        queue, _ = queue_build(plan=version.plan, day=DAY)
        # Every response is in the queue (a census of the day).
        assert queue.items.count() == len(HOSTILE)
        QueueItem.objects.filter(queue=queue, position__lt=3).update(required_reviews=2)
        for _ in range(3):
            item = item_claim(queue=queue, reviewer=second_reviewer)
            review_submit(
                item=item, reviewer=second_reviewer, verdict="correct", comment=HOSTILE[1].text
            )
        queues[name] = queue
    return queues


# --- the browser walk -------------------------------------------------------------------------

# Runs before any page script, in every document: the canary's setter reports an execution the
# moment it happens, and CSP violations are reported as the browser raises them.
WATCH_SCRIPT = """
(() => {
  const report = (kind, detail) => {
    try { window.__hostileReport(kind, String(detail), location.href); } catch (e) {}
  };
  Object.defineProperty(window, "__pwned", {
    configurable: false,
    get() { return undefined; },
    set(value) { report("executed", value); },
  });
  document.addEventListener("securitypolicyviolation", (e) =>
    report("csp", `${e.violatedDirective} ${e.blockedURI} ${e.sample || ""}`));
})();
"""


API_OWN_VIOLATIONS = ("style-src-elem inline", "style-src-attr inline")


# Markup that only an injection would put in a page body: event-handler attributes, script-
# capable URL schemes, elements that load or run something, inline scripts and styles, htmx
# attributes the pages do not use, and inside a rendered answer any element outside the
# sanitiser's allow-list.
LIVE_MARKUP_SCRIPT = """
(allowed) => {
  const found = [];
  const urlAttributes = ["href", "src", "action", "formaction", "data", "srcdoc", "xlink:href",
                         "background", "poster", "ping", "cite"];
  const appHtmx = ["hx-get", "hx-post", "hx-headers", "hx-push-url", "hx-swap", "hx-target"];
  const loaders = ["IFRAME", "FRAME", "OBJECT", "EMBED", "BASE", "SVG", "MATH", "APPLET",
                   "PORTAL", "FENCEDFRAME"];
  // Injected text lands in the body; the head is the frameworks' own. The admin draws its
  // icons with inline SVG of its own (.base-svgs, .theme-toggle); the reports draw each tier's
  // interval against its target as an SVG of their own template (.glance-figure).
  for (const el of document.body.querySelectorAll("*")) {
    const tag = el.tagName.toUpperCase();
    const own = el.closest(".base-svgs, .theme-toggle, .glance-figure");
    if (loaders.includes(tag) && !own) found.push(tag);
    if (tag === "META" && el.hasAttribute("http-equiv")) found.push("META http-equiv");
    if (tag === "STYLE" || (tag === "SCRIPT" && el.src === "" && el.type !== "application/json"))
      found.push(`inline ${tag}`);
    for (const attribute of el.attributes) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value.replace(/[\\u0000-\\u0020]/g, "").toLowerCase();
      if (name.startsWith("on")) found.push(`${tag} ${name}`);
      // htmx acts on hx-* attributes: the pages use only these.
      if ((name.startsWith("hx-") && !appHtmx.includes(name)) || name.startsWith("data-hx-"))
        found.push(`${tag} ${name}`);
      if (urlAttributes.includes(name) && /^(javascript|vbscript|data):/.test(value))
        found.push(`${tag} ${name}=${attribute.value.slice(0, 40)}`);
    }
  }
  for (const el of document.querySelectorAll(".markdown *")) {
    if (!allowed.includes(el.tagName.toLowerCase())) found.push(`answer ${el.tagName}`);
  }
  return found;
}
"""


class Watch:
    """What a browser context saw: dialogs, script executions, CSP violations, page errors,
    console errors, 5xx answers, failed loads, live markup and HTML answers without the strict
    policy."""

    def __init__(self, context) -> None:
        from tests.reviewapp.test_csp import EXPECTED

        self.expected_policy = EXPECTED
        self.pages_visited = 0
        self.dialogs: list[str] = []
        self.executions: list[str] = []
        self.violations: list[str] = []
        self.api_style_violations: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.server_errors: list[str] = []
        self.failed_loads: list[str] = []
        self.live_markup: list[str] = []
        self.weak_policy: list[str] = []
        self.html_pages: set[str] = set()
        context.expose_function("__hostileReport", self._report)
        context.add_init_script(WATCH_SCRIPT)
        context.on("response", self._response)

    def attach(self, page) -> None:
        page.on("dialog", lambda d: (self.dialogs.append(f"{page.url}: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda exc: self.page_errors.append(f"{page.url}: {exc}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        url = (message.location or {}).get("url", "")
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource"):
            return  # every failed load is in `failed_loads`, with its own URL
        if "/api/v1/" in url and "inline style" in message.text:
            return  # the browsable API's own styling, counted with the violations
        self.console_errors.append(f"{url}: {message.text}")

    def _report(self, kind: str, detail: str, url: str) -> None:
        if kind == "executed":
            self.executions.append(f"{url}: {detail}")
        elif "/api/v1/" in url and detail.startswith(API_OWN_VIOLATIONS):
            # DRF's browsable API (HTML pages of the API) has inline style elements and
            # attributes of its own (Pygments, a dropdown); the policy blocks them, which
            # costs some styling and nothing else.
            self.api_style_violations.append(f"{url}: {detail}")
        else:
            self.violations.append(f"{url}: {detail}")

    def _response(self, response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.url}")
        elif response.status >= 400 and not response.url.endswith("/favicon.ico"):
            # Chromium asks every page for /favicon.ico, which the app does not serve; any
            # other failed load (an injected <img src=x>, say) is listed.
            self.failed_loads.append(f"{response.status} {response.url}")
        if response.request.resource_type not in ("document", "xhr", "fetch"):
            return
        if not response.headers.get("content-type", "").startswith("text/html"):
            return
        self.html_pages.add(response.url)
        header = response.headers.get("content-security-policy", "")
        directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
        policy = {d[0]: (d[1] if len(d) > 1 else "") for d in directives}
        if policy != self.expected_policy or "unsafe-inline" in header:
            self.weak_policy.append(f"{response.url}: {header!r}")

    def inspect(self, page) -> None:
        from reviewapp.review.rendering import ALLOWED_TAGS

        found = page.evaluate(LIVE_MARKUP_SCRIPT, sorted(ALLOWED_TAGS))
        self.live_markup.extend(f"{page.url}: {what}" for what in found)

    def assert_nothing_ran(self) -> None:
        assert self.executions == []
        assert self.dialogs == []
        # A violation would mean injected markup went live and only the policy stopped it.
        assert self.violations == [], "\n".join(self.violations)
        assert self.page_errors == []
        assert self.console_errors == [], "\n".join(self.console_errors)
        assert self.server_errors == []
        assert self.failed_loads == []
        assert self.live_markup == [], sorted({m.split(": ", 2)[-1] for m in self.live_markup})
        assert self.weak_policy == []


def _visit(page, watch: Watch, url: str) -> None:
    response = page.goto(url)
    assert response is not None, url
    assert response.status < 400, (response.status, url)
    watch.pages_visited += 1
    # Event handlers (onerror, ontoggle, onfocus) fire after load; give them a moment.
    page.wait_for_timeout(15)
    watch.inspect(page)


def _shown_item(page) -> str:
    return page.eval_on_selector("#item", "el => el.dataset.item || ''")


def _as_html_text(text: str) -> str:
    """What a browser's DOM holds for `text` put in an element: the HTML parser turns CR and
    CRLF into LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def review_every_item(page, watch: Watch, base: str, queue) -> int:
    """The reviewer's page for every item of `queue`: the raw text shown (and equal to the
    stored answer), a verdict, sometimes the hostile tag, a hostile comment on the first."""
    from reviewapp.review.models import QueueItem

    answers = {
        str(item.pk): item.response
        for item in QueueItem.objects.filter(queue=queue).select_related("response")
    }
    _visit(page, watch, f"{base}/review/queues/{queue.pk}/")
    hostile_key = page.eval_on_selector(
        f"#rubric input[name=failure_tags][value='{HOSTILE_TAG}']", "el => el.dataset.key"
    )
    reviewed: set[str] = set()
    for n in range(len(answers)):
        page.wait_for_selector("#item[data-item]")
        current = _shown_item(page)
        response = answers[current]
        # Every hostile text is on the page as text, exactly: the query, the conversation
        # before it, and where the plan is not blind, the tier and model.
        assert page.text_content("#item .query") == _as_html_text(response.query)
        context = response.metadata["context"][0]["content"]
        assert _as_html_text(context) in page.text_content("#item .turn")
        if not queue.plan_version.blind:
            reveal = page.text_content("#item .reveal")
            assert _as_html_text(response.tier) in reveal
            assert _as_html_text(response.model)[:20] in reveal
        page.keyboard.press("r")
        raw = page.locator("#item details.raw pre").first
        assert raw.is_visible()
        assert raw.text_content() == _as_html_text(response.response)
        watch.inspect(page)
        if page.locator("#rubric input[name=preference]").count():
            page.keyboard.press("a")
        page.keyboard.press("1" if n % 4 == 3 else "3")
        if n % 5 == 1:
            page.keyboard.press(hostile_key)
            assert page.is_checked(f"#rubric input[data-key='{hostile_key}']")
        if n == 0:
            page.fill("#comment", HOSTILE[0].text + HOSTILE[6].text)
        page.click("#rubric button[type=submit]")
        page.wait_for_function(
            "prev => { const s = document.getElementById('item');"
            " return s && (s.dataset.item || '') !== prev; }",
            arg=current,
        )
        page.wait_for_timeout(15)
        reviewed.add(current)
    page.wait_for_selector("#queue-done")
    assert reviewed == set(answers)
    return len(reviewed)


def report_urls(plan: str) -> list[str]:
    from urllib.parse import urlencode

    query = urlencode({"plan": plan, **WINDOW})
    cascade = urlencode({"cheap": SHORT_TIERS[0], "capable": SHORT_TIERS[1]})
    urls = [f"/reports/?{query}&by={by}" for by in BY]
    urls += [
        f"/reports/?{query}&method=korn-graubard",
        f"/reports/summary/?{query}&cost_per_wrong=3",
        f"/reports/trends/?{query}",
        f"/reports/trends/?{query}&period=week",
        *(
            f"/reports/trends/drift/?{query}&{urlencode({'tier': tier, 'day': DAY.isoformat()})}"
            for tier in SHORT_TIERS
        ),
        "/reports/alarms/",
        f"/reports/alarms/?plan={plan}&status=all",
        f"/reports/agreement/?{query}",
        f"/reports/shadow/?{query}",
        f"/reports/cascade/?{query}&{cascade}",
    ]
    return urls


def review_urls(plan: str, queue, user) -> list[str]:
    from reviewapp.review.models import Review

    reviews = Review.objects.filter(item__queue=queue, reviewer=user).order_by("pk")
    return [
        "/review/",
        "/review/history/",
        *(f"/review/history/{r.pk}/" for r in reviews[:5]),
        "/review/adjudication/",
        "/review/plans/",
        f"/review/plans/{plan}/",
        f"/review/plans/{plan}/edit/",
        "/sources/",
    ]


def admin_urls(source: str) -> list[str]:
    from urllib.parse import urlencode

    from reviewapp.responses.models import FeedbackEvent, ReferenceRecord

    runs = IngestRun.objects.filter(source__name=source)
    rejects = RejectedRecord.objects.filter(run__source__name=source)
    responses = Response.objects.filter(source__name=source).order_by("pk")
    feedback = FeedbackEvent.objects.filter(source__name=source).order_by("pk")
    return [
        "/admin/",
        "/admin/responses/response/",
        f"/admin/responses/response/?{urlencode({'q': HOSTILE[0].text})}",
        *(f"/admin/responses/response/?{urlencode({'tier': tier})}" for tier in SHORT_TIERS),
        *(f"/admin/responses/response/{r.pk}/change/" for r in responses),
        "/admin/responses/rejectedrecord/",
        f"/admin/responses/rejectedrecord/?{urlencode({'q': 'NUL'})}",
        *(f"/admin/responses/rejectedrecord/{r.pk}/change/" for r in rejects),
        "/admin/responses/ingestrun/",
        *(f"/admin/responses/ingestrun/{r.pk}/change/" for r in runs),
        "/admin/responses/feedbackevent/",
        *(f"/admin/responses/feedbackevent/{f.pk}/change/" for f in feedback[:10]),
        "/admin/responses/referencerecord/",
        *(
            f"/admin/responses/referencerecord/{r.pk}/change/"
            for r in ReferenceRecord.objects.order_by("pk")[:10]
        ),
        "/admin/responses/source/",
        # The browsable API (HTML) of the ingest runs and their quarantine, and of the reports.
        "/api/v1/ingest-runs/",
        *(f"/api/v1/ingest-runs/{r.pk}/rejects/" for r in runs),
        "/api/v1/alarms/",
        "/api/v1/queues/",
    ]


@pytest.mark.browser
@pytest.mark.parametrize("policy", ["enforced", "bypassed"])
def test_the_hostile_corpus_runs_nothing_in_chromium(
    transactional_db, live_server, chromium_browser, tmp_path, django_user_model, reviewer, policy
):
    """`enforced`: what a user's browser does. `bypassed`: Chromium ignores the policy, so
    escaping and sanitising alone must keep every payload inert. The blind plan is reviewed
    in the first, the plan that shows tier, model and stratum in the second."""
    from django.contrib.auth.models import Group

    from reviewapp.reports.services import alarms_compute_quality_all

    lead = django_user_model.objects.create_user(
        username="hostile-lead", password="pass-hostile-lead", is_staff=True, is_superuser=True
    )
    lead.groups.add(Group.objects.get_or_create(name="qa_lead")[0])
    queues = build_hostile_world(tmp_path, lead, reviewer)
    plan = PLAN_BLIND if policy == "enforced" else PLAN_OPEN
    source = "hostile-file" if policy == "enforced" else "hostile-push"
    queue = queues[plan]

    context = chromium_browser.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=policy == "bypassed"
    )
    try:
        watch = Watch(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        watch.attach(page)
        base = live_server.url
        page.goto(f"{base}/login/?next=/review/")
        page.fill("input[name=username]", lead.username)
        page.fill("input[name=password]", "pass-hostile-lead")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/review/")

        reviewed = review_every_item(page, watch, base, queue)
        alarms = alarms_compute_quality_all(plan=queue.plan)
        assert alarms, "the hostile tiers are below their 0.99 target: alarms to show"

        urls = report_urls(plan) + review_urls(plan, queue, lead) + admin_urls(source)
        for url in urls:
            _visit(page, watch, base + url)
        # The disputed items wait for adjudication, their texts shown; decide one, commenting
        # with hostile text.
        _visit(page, watch, f"{base}/review/adjudication/")
        disputed = page.locator("section[id^=item-]")
        assert disputed.count() == 3
        disputed.first.locator("input[name=verdict][value=incorrect]").check()
        disputed.first.locator("textarea[name=comment]").fill(HOSTILE[2].text)
        disputed.first.locator("button[type=submit]").click()
        page.wait_for_load_state("load")
        assert page.locator("section[id^=item-]").count() == 2
        # htmx swaps: a drill-down link of the tier report, a drift day of the trends page.
        _visit(page, watch, f"{base}{report_urls(plan)[0]}")
        page.get_by_role("link", name="Tier × segment").click()
        page.wait_for_selector("#report table.report tbody tr")
        trends = next(u for u in report_urls(plan) if u.startswith("/reports/trends/?"))
        _visit(page, watch, base + trends)
        drift_links = page.locator("#drift-table a")
        assert drift_links.count() >= len(SHORT_TIERS)
        drift_links.first.click()
        page.wait_for_selector("#histogram canvas")
        page.wait_for_timeout(50)
    finally:
        context.close()

    watch.assert_nothing_ran()
    assert reviewed == len(HOSTILE)
    assert len(watch.html_pages) >= len(urls)
    print(
        f"\n{policy}: {len(HOSTILE)} hostile texts, {reviewed} items reviewed, "
        f"{watch.pages_visited} pages visited, {len(watch.html_pages)} distinct HTML answers, "
        f"{len(watch.violations)} CSP violations ({len(watch.api_style_violations)} more: the "
        "browsable API's own inline styles)"
    )


# --- CSV exports and the regression download ------------------------------------------------


def review_all(queue, user) -> int:
    """`user` reviews every item left in `queue` through the service: mostly incorrect (the
    hostile tiers then miss their targets), the hostile tag on some, a hostile comment, and a
    preference where there is a shadow answer."""
    from reviewapp.review.services import item_claim, review_submit

    n = 0
    while (item := item_claim(queue=queue, reviewer=user)) is not None:
        review_submit(
            item=item,
            reviewer=user,
            verdict="correct" if n % 4 == 3 else "incorrect",
            failure_tags=[HOSTILE_TAG] if n % 5 == 1 else [],
            comment=HOSTILE[n % len(HOSTILE)].text[:10_000],
            preference="A" if item.served_side else "",
        )
        n += 1
    return n


def csv_table(response) -> list[list[str]]:
    """The rows of a CSV download, header first (the byte-order mark dropped)."""
    assert response.status_code == 200, response
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert not rows[0][0].startswith("#")  # the header is the first row: no title line
    return rows


def column(rows: list[list[str]], name: str) -> list[str]:
    index = rows[0].index(name)
    return [row[index] for row in rows[1:]]


def spreadsheet_safe(cell: str) -> bool:
    """What a spreadsheet would run as a formula starts with =, +, -, @, a tab or a carriage
    return; a plain number ("-0.5") is a number, not a formula."""
    from reviewapp.reports.exports import FORMULA_PREFIXES

    try:
        float(cell)
    except ValueError:
        return not cell.startswith(FORMULA_PREFIXES)
    return True


@pytest.mark.django_db
def test_csv_exports_hold_the_hostile_text_with_formulas_neutralised(
    client, tmp_path, django_user_model, reviewer
):
    from django.contrib.auth.models import Group

    from reviewapp.reports.exports import neutralise
    from reviewapp.reports.services import alarms_compute_quality_all

    lead = django_user_model.objects.create_user(username="lead", password="x", is_staff=True)
    lead.groups.add(Group.objects.get_or_create(name="qa_lead")[0])
    queues = build_hostile_world(tmp_path, lead, reviewer)
    for queue in queues.values():
        assert review_all(queue, lead) == len(HOSTILE)
        assert alarms_compute_quality_all(plan=queue.plan)
    client.force_login(lead)

    downloads: dict[str, list[list[str]]] = {}
    for plan in queues:
        query = {"plan": plan, **WINDOW, "format": "csv"}
        cascade = {"cheap": SHORT_TIERS[0], "capable": SHORT_TIERS[1]}
        urls = {
            **{f"tiers-{by}": ("/reports/", {"by": by}) for by in BY},
            "summary": ("/reports/summary/", {"cost_per_wrong": "3"}),
            **{f"trends-{t}": ("/reports/trends/", {"table": t}) for t in TRENDS},
            **{f"agreement-{t}": ("/reports/agreement/", {"table": t}) for t in AGREEMENT},
            "shadow": ("/reports/shadow/", {}),
            "cascade": ("/reports/cascade/", cascade),
        }
        for name, (path, extra) in urls.items():
            downloads[f"{plan} {name}"] = csv_table(client.get(path, {**query, **extra}))
    downloads["alarms"] = csv_table(
        client.get("/reports/alarms/", {"status": "all", "format": "csv"})
    )

    # No cell of any download is a formula; the hostile tier and segment names are there,
    # exactly as stored but for the quote in front of a formula.
    for name, rows in downloads.items():
        unsafe = [cell for row in rows for cell in row if not spreadsheet_safe(cell)]
        assert unsafe == [], name
    tiers = {neutralise(t) for t in SHORT_TIERS}
    segments = {neutralise(s) for s in SHORT_SEGMENTS}
    assert '\'=HYPERLINK("https://evil.example","x")' in tiers and "'@SUM(1+1)" in segments
    for plan in queues:
        assert set(column(downloads[f"{plan} tiers-tier"], "Tier")) == tiers
        assert set(column(downloads[f"{plan} tiers-segment"], "Segment")) == segments
        assert set(column(downloads[f"{plan} tiers-stratum"], "Tier")) == tiers
        assert set(column(downloads[f"{plan} trends-accuracy"], "Tier")) == tiers
        assert set(column(downloads[f"{plan} summary"], "Tier")) == tiers
    assert set(column(downloads["alarms"], "Tier")) == tiers

    # The regression suite: one file per tier (names safe and distinct), each line the stored
    # query and answer exactly, and one record a line even to a reader that splits on every
    # Unicode line break (U+2028 and U+0085 are escaped).
    import zipfile

    for plan, queue in queues.items():
        answer = client.get("/reports/regression.zip", {"plan": plan, "days": "7"})
        assert answer.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(answer.content))
        manifest = json.loads(archive.read("manifest.json"))
        assert set(manifest["tiers"]) == set(SHORT_TIERS)
        files = {entry["file"] for entry in manifest["tiers"].values()}
        assert len(files) == len(SHORT_TIERS) and files <= set(archive.namelist())
        assert all("/" not in f and "\\" not in f and not f.startswith(".") for f in files)
        lines = [
            json.loads(line) for f in files for line in archive.read(f).decode("utf-8").splitlines()
        ]
        stored = {
            item.response.external_id: item.response
            for item in queue.items.select_related("response")
        }
        assert len(lines) == len(stored)
        for line in lines:
            response = stored[line["id"]]
            assert (line["query"], line["response"], line["tier"]) == (
                response.query,
                response.response,
                response.tier,
            )


@pytest.mark.django_db
def test_the_regression_suite_keeps_tiers_apart_whose_names_sanitise_alike(reviewer):
    """ "a|b", "a/b" and "a_b" are three tiers; their files were all "a_b.jsonl", so the zip
    kept one tier's lines and silently dropped the others'."""
    from reviewapp.reports.regression import regression_export, tier_filename
    from reviewapp.responses.models import Source
    from reviewapp.review.services import plan_save, queue_build

    tiers = ["a|b", "a/b", "a_b", "../etc/passwd", "cheap"]
    source = Source.objects.create(name="lookalikes")
    start = dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC)
    for i, tier in enumerate(tiers * 2):
        Response.objects.create(
            source=source,
            external_id=f"l{i}",
            timestamp=start + dt.timedelta(minutes=i),
            query=f"q{i}",
            response=f"a{i}",
            tier=tier,
            content_hash=f"l{i}",
        )
    version = plan_save(
        name="lookalikes",
        config={
            "dimensions": ["tier"],
            "daily_budget": 20,
            "stratum_min": 2,
            "failure_tags": [HOSTILE_TAG],
        },
        sources=[source],
        reviewers=[reviewer],
    )
    queue, _ = queue_build(plan=version.plan, day=DAY)
    assert review_all(queue, reviewer) == 10

    export = regression_export(plan=version.plan, start=DAY, end=DAY)
    files = export.files()

    names = {tier: tier_filename(tier) for tier in tiers}
    assert len(set(names.values())) == len(tiers)
    assert names["cheap"] == "cheap.jsonl" and names["a_b"] == "a_b.jsonl"
    assert names["a|b"].startswith("a_b~") and names["../etc/passwd"].startswith("etc_passwd~")
    assert set(files) == {*names.values(), "manifest.json"}
    for tier, name in names.items():
        lines = [json.loads(line) for line in files[name].splitlines()]
        assert [line["tier"] for line in lines] == [tier, tier]
    manifest = json.loads(files["manifest.json"])
    assert {t: e["file"] for t, e in manifest["tiers"].items()} == names


@pytest.mark.browser
@pytest.mark.parametrize("policy", ["enforced", "bypassed"])
def test_the_watch_sees_payloads_that_do_run(chromium_browser, policy):
    """The control for the walk above: the same corpus served raw (no escaping) is seen. With
    the policy, Chromium blocks it and reports violations; without it, the canary runs."""
    from tests.reviewapp.test_csp import EXPECTED

    header = "; ".join(f"{name} {value}" for name, value in EXPECTED.items())
    body = "<!doctype html><html><body>" + "\n".join(h.text for h in HOSTILE) + "</body></html>"
    context = chromium_browser.new_context(bypass_csp=policy == "bypassed")
    try:
        watch = Watch(context)
        page = context.new_page()
        watch.attach(page)
        page.route(
            "http://hostile.test/**",
            lambda route: route.fulfill(
                status=200,
                content_type="text/html; charset=utf-8",
                headers={"Content-Security-Policy": header},
                body=body,
            ),
        )
        page.goto("http://hostile.test/")
        page.wait_for_timeout(300)
        watch.inspect(page)
    finally:
        context.close()

    assert watch.live_markup and watch.weak_policy == []
    if policy == "enforced":
        assert watch.violations and watch.executions == [] and watch.dialogs == []
    else:
        assert watch.executions and watch.dialogs
