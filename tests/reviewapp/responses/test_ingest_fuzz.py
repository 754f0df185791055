"""Ingest, fuzzed (issue 6): hypothesis sends random response and feedback records, and records
in random foreign shapes with random field mappings, through `ingest_records` and the JSONL
file reader, and checks the one promise ingest makes about every record: it is stored exactly,
or it is quarantined with its line, the field and a reason a person can act on. No exception
escapes, the counts add up, and sending the same batch again changes nothing.

Records are built from docs/schema/response.schema.json (the constraints are restated in
the strategies below): valid values first, then zero, one or two "breaks" the schema forbids
(such a record must be rejected, naming a broken field), and sometimes wild values (nested
garbage, wrong types, NaN, NUL, lone surrogates) whose fate is not predicted, only that it is
one of the two.

Reproducibility: with CI=true the examples are derandomised (seeded from each test's source)
and no example database is read or written, so a CI failure is the same failure on every rerun
and on a laptop with CI=true. Elsewhere the examples are random and failing ones are kept in
.hypothesis/ and replayed first, so local runs keep exploring new records.

Each example runs in a savepoint that is rolled back at its end: the examples of one test share
pytest-django's transaction but never see each other's rows.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from reviewapp.responses.models import FeedbackEvent, IngestRun, RejectedRecord, Response, Source
from reviewapp.responses.readers import RawRecord
from reviewapp.responses.services import MAX_METADATA_DEPTH, ingest_path, ingest_records
from tests.conftest import IN_CI

pytestmark = pytest.mark.django_db


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
        derandomize=IN_CI,
        **({"database": None} if IN_CI else {}),
    )


# ---------------------------------------------------------------------------------------------
# The schema, restated: required fields, optional texts with their maximum length, numbers.

REQUIRED = ("id", "timestamp", "query", "response", "tier")
OPTIONAL_TEXTS = {
    "model": 255,
    "router_label": 64,
    "conversation_id": 255,
    "user_id": 255,
    "segment": 128,
}
PROBABILITIES = ("router_confidence", "self_confidence", "auto_score")
NON_NEGATIVES = ("cost_usd", "latency_ms")
SCHEMA_FIELDS = frozenset(
    {
        *REQUIRED,
        *OPTIONAL_TEXTS,
        *PROBABILITIES,
        *NON_NEGATIVES,
        "escalated",
        "embedding",
        "shadow",
        "metadata",
    }
)
MAX_TEXT = 200_000  # query, response, shadow.response
MAX_EMBEDDING = 16_384
FLOAT32_MAX = float(np.finfo(np.float32).max)

DROP = object()  # a break that removes the field


# ---------------------------------------------------------------------------------------------
# Values

# Text that any database can hold: no NUL (PostgreSQL text cannot), no lone surrogate (not UTF-8).
STORABLE_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
TRICKY_TEXTS = (
    "\u202eevil\u202c",  # right-to-left override
    "مرحبا بالعالم",
    "שלום עולם",
    "👩‍👩‍👧‍👦",  # a ZWJ sequence, four astral characters
    "e\u0301",  # a combining accent
    "\ufeffbom",
    "line\u2028para\u2029",
    "a\r\nb\rc\n",
    "\\u0000 is how JSON writes NUL",  # the six characters, not a NUL
    "\\x00\\ud800",
    "<script>alert(1)</script>",
    "'; DROP TABLE responses_response; --",
    "null",
    "NaN",
    " padded ",
    "\t",
    "\U0010ffff\uffff\ufffe",
    "%s %(x)s {0} {{",
    "\x7f\x01\x1b[31mred",
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
)


def weighted(*options: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return st.sampled_from([o for weight, o in options for _ in range(weight)]).flatmap(lambda o: o)


def texts(*, min_size: int = 0, max_size: int) -> st.SearchStrategy[str]:
    """Mostly short random text, the tricky texts that fit, runs of one character, and now and
    then a text of exactly max_size (rarely: 200,000 characters make an example slow)."""
    options: list[tuple[int, st.SearchStrategy[str]]] = [
        (6, st.text(STORABLE_CHARS, min_size=min_size, max_size=min(max_size, 24)))
    ]
    tricky = [t for t in TRICKY_TEXTS if min_size <= len(t) <= max_size]
    if tricky:
        options.append((3, st.sampled_from(tricky)))
    if max_size >= max(min_size, 1):
        lengths = st.integers(max(min_size, 1), min(max_size, 2_000))
        options.append((2, st.builds(lambda char, n: char * n, STORABLE_CHARS, lengths)))
        options.append((1, STORABLE_CHARS.map(lambda char: char * max_size)))
    return weighted(*options)


def is_blank(text: str) -> bool:
    return not text.strip()


ID_TEXTS = texts(min_size=1, max_size=255)
QUERY_TEXTS = texts(min_size=1, max_size=MAX_TEXT).filter(lambda t: not is_blank(t))

PROBABILITY_VALUES = st.one_of(
    st.floats(0, 1),
    st.sampled_from([0, 1, 0.0, -0.0, 1.0, 5e-324, 0.5]),
)
NON_NEGATIVE_VALUES = st.one_of(
    st.floats(min_value=0, allow_infinity=False),
    st.integers(0, 10**30),
    st.sampled_from([-0.0, 1.7976931348623157e308, 5e-324]),
)
# Numbers an embedding (float32) can hold, as float64 (rounded to float32 when stored) and ints.
EMBEDDING_NUMBERS = st.one_of(
    st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.floats(-FLOAT32_MAX, FLOAT32_MAX),
    st.integers(-(2**70), 2**70),
    st.sampled_from([-0.0, 1e-46, FLOAT32_MAX, -FLOAT32_MAX]),
)


@functools.cache  # built once per dimension: building strategies is most of an example's cost
def embeddings(dim: int) -> st.SearchStrategy[list[Any]]:
    return st.lists(EMBEDDING_NUMBERS, min_size=dim, max_size=dim)


JSON_KEYS = st.one_of(
    st.text(STORABLE_CHARS, max_size=10).filter(lambda k: "." not in k),
    st.sampled_from(TRICKY_TEXTS),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(STORABLE_CHARS, max_size=12),
    st.sampled_from(TRICKY_TEXTS),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_KEYS, inner, max_size=3),
    max_leaves=8,
)
# Anything JSON-shaped, including what no column can hold: NaN, infinities, NUL, surrogates.
WILD_SCALARS = st.one_of(
    JSON_SCALARS,
    st.floats(),
    st.integers(),
    st.text(max_size=8),
    st.text(st.characters(codec=None), max_size=4),
)
WILD_VALUES = st.recursive(
    WILD_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def nested(depth: int) -> Any:
    """Lists inside lists, `depth` containers deep."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


# ---------------------------------------------------------------------------------------------
# Timestamps: a wall time, a separator, a fraction and an offset, in the spellings RFC 3339
# (and msgspec, leniently) accept. The expected instant is computed here independently.

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:?\d{2})?"
)
_EPOCH = datetime(1970, 1, 1)


def expected_instant(text: Any) -> datetime | None:
    """The instant a timestamp names, in UTC, rounded to the microsecond (halves away from
    zero, as stored); None when it names none, or none that a datetime (years 1-9999) holds."""
    match = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    digits, offset = match.group(7), match.group(8)
    try:
        wall = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    offset_minutes = 0
    if offset and offset not in "Zz":
        hours, minutes = int(offset[1:3]), int(offset[-2:])
        if hours > 23 or minutes > 59:
            return None
        offset_minutes = (hours * 60 + minutes) * (-1 if offset[0] == "-" else 1)
    fraction = Fraction(int(digits), 10 ** len(digits)) if digits else Fraction(0)
    micros = math.floor(fraction * 1_000_000 + Fraction(1, 2))
    # Integer microseconds since the epoch: no intermediate datetime can overflow.
    total = (wall - _EPOCH) // timedelta(microseconds=1) + micros - offset_minutes * 60_000_000
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=total)
    except OverflowError:
        return None


WALL_TIMES = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
FRACTIONS = st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,9}", fullmatch=True))


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    wall = draw(WALL_TIMES)
    separator = draw(st.sampled_from("Tt "))
    fraction = draw(FRACTIONS)
    minutes = draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    offset = draw(
        st.sampled_from(
            ["Z", "z", "", "-00:00", f"{sign}{hh:02d}:{mm:02d}", f"{sign}{hh:02d}{mm:02d}"]
        )
    )
    date = f"{wall.year:04d}-{wall.month:02d}-{wall.day:02d}"  # strftime's %Y does not pad
    return f"{date}{separator}{wall:%H:%M:%S}{fraction}{offset}"


BAD_TIMESTAMPS = (
    "",
    "yesterday",
    "2026-01-05",
    "2026-01-05T10:00Z",
    "20260105T100000Z",
    "2026-02-30T10:00:00Z",
    "2026-01-05T24:00:00Z",
    "2026-01-05T23:59:60Z",
    "2026-01-05T10:00:00+24:00",
    "2026-01-05T10:00:00.Z",
    "+12026-01-05T10:00:00Z",
    "0001-01-01T00:00:00+00:01",  # before year 1 in UTC
    "9999-12-31T23:59:59-00:01",  # after year 9999 in UTC
    "9999-12-31T23:59:59.9999999Z",  # rounds into year 10000
    "2026-01-05T10:00:00Z\n",
    1767225600,
    1767225600.5,
    ["2026-01-05T10:00:00Z"],
)


# ---------------------------------------------------------------------------------------------
# Breaks: values the schema forbids, per field. A record with one must be rejected, naming it.


@functools.cache
def breaks(dim: int) -> dict[str, st.SearchStrategy[Any]]:
    def over(limit: int) -> st.SearchStrategy[str]:
        return STORABLE_CHARS.map(lambda char: char * (limit + 1))

    nul_text = st.text(STORABLE_CHARS, max_size=5).map(lambda t: t + "\x00" + t)
    surrogate_text = st.text(STORABLE_CHARS, max_size=5).map(lambda t: t + "\udc80")
    not_text = st.sampled_from([5, 0.5, True, ["x"], {"x": 1}])
    unstorable = nul_text | surrogate_text
    whitespace = st.text(st.sampled_from(" \t\r\n\u3000\u2003\u00a0\u2028"), max_size=6)
    bad_probability = st.sampled_from(
        [-0.001, 1.0000000000000002, -5e-324, 2, math.nan, math.inf, -math.inf, "0.5", True, [0.5]]
    ) | st.just(10**400)
    bad_non_negative = st.sampled_from(
        [-1, -5e-324, math.nan, math.inf, "1", False, {"usd": 1}]
    ) | st.just(10**400)

    def embedding_with(value: Any) -> st.SearchStrategy[list[Any]]:
        return st.builds(
            lambda numbers, i: [*numbers[:i], value, *numbers[i + 1 :]],
            embeddings(dim),
            st.integers(0, dim - 1),
        )

    result: dict[str, st.SearchStrategy[Any]] = {
        "id": st.sampled_from([DROP, None, ""]) | over(255) | not_text | unstorable,
        "timestamp": st.sampled_from([DROP, None, *BAD_TIMESTAMPS]),
        "query": st.sampled_from([DROP, None, ""])
        | whitespace
        | over(MAX_TEXT)
        | not_text
        | unstorable,
        "response": st.sampled_from([DROP, None]) | over(MAX_TEXT) | not_text | unstorable,
        "tier": st.sampled_from([DROP, None, ""]) | over(64) | not_text | unstorable,
        "escalated": st.sampled_from(["true", 1, 0, "yes", [True], 0.0]),
        "embedding": st.one_of(
            embedding_with(math.nan),
            embedding_with(math.inf),
            embedding_with(-math.inf),
            embedding_with(1e39),  # finite, but beyond float32
            embedding_with(-3.5e38),
            embedding_with(10**400),
            embedding_with("0.5"),
            embedding_with(True),
            embedding_with([0.5]),
            embeddings(dim + 1),  # this source's embeddings have `dim` numbers
            st.sampled_from([[], [0.5], "[0.1, 0.2]", 5, {"0": 0.1}]),
        ),
        "shadow": st.sampled_from(
            [
                "the shadow answer",
                [],
                {},
                {"model": "big"},
                {"response": 5},
                {"response": "x", "model": 5},
                {"response": "x", "model": "m" * 256},
                {"response": "a\x00b"},
                {"response": "\ud800"},
                {"response": "x" * (MAX_TEXT + 1)},
            ]
        ),
        "metadata": st.sampled_from(
            [
                [],
                "text",
                5,
                {"a\x00": 1},
                {"k": "a\x00"},
                {"k": ["\ud800"]},
                {"\udfff": 1},
                {"k": math.nan},
                {"k": [1, {"x": math.inf}]},
                {"deep": nested(MAX_METADATA_DEPTH)},
            ]
        ),
    }
    for name, limit in OPTIONAL_TEXTS.items():
        result[name] = over(limit) | not_text | unstorable
    for name in PROBABILITIES:
        result[name] = bad_probability
    for name in NON_NEGATIVES:
        result[name] = bad_non_negative
    return result


# ---------------------------------------------------------------------------------------------
# Cases


@dataclass
class Case:
    record: dict[str, Any]
    # "store": built from valid values only; "reject": `broken` names the fields broken;
    # "either": wild values, not predicted.
    expect: str
    broken: frozenset[str] = frozenset()


def set_field(record: dict[str, Any], name: str, value: Any) -> None:
    if value is DROP:
        record.pop(name, None)
    else:
        record[name] = value


RESPONSE_TEXTS = texts(max_size=MAX_TEXT)
TIER_TEXTS = texts(min_size=1, max_size=64)
OPTIONAL_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{name: texts(max_size=limit) for name, limit in OPTIONAL_TEXTS.items()},
    **dict.fromkeys(PROBABILITIES, PROBABILITY_VALUES),
    **dict.fromkeys(NON_NEGATIVES, NON_NEGATIVE_VALUES),
    "escalated": st.booleans(),
    "shadow": st.fixed_dictionaries(
        {"response": RESPONSE_TEXTS},
        # Keys other than response and model are kept as metadata.shadow.
        optional={"model": st.none() | texts(max_size=255), "latency_ms": JSON_VALUES},
    ),
    "metadata": st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=4)
    | st.just({"deep": nested(MAX_METADATA_DEPTH - 1)}),  # as deep as metadata may be
}
GIVEN = st.sampled_from(["absent", "value", "value", "null"])
EXTRAS = st.dictionaries(JSON_KEYS, JSON_VALUES, max_size=3)
HOW_BROKEN = st.sampled_from(["valid", "valid", "break", "break", "break2", "clash", "wild"])
WILD_FIELDS = st.lists(st.sampled_from(sorted(SCHEMA_FIELDS)), min_size=1, max_size=3)


@st.composite
def valid_records(draw: st.DrawFn, *, record_id: str, dim: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": record_id,
        "timestamp": draw(timestamps()),
        "query": draw(QUERY_TEXTS),
        "response": draw(RESPONSE_TEXTS),
        "tier": draw(TIER_TEXTS),
    }
    for name, values in {**OPTIONAL_VALUES, "embedding": embeddings(dim)}.items():
        # null in an optional field means "not given".
        choice = draw(GIVEN)
        if choice == "value":
            record[name] = draw(values)
        elif choice == "null":
            record[name] = None
    # Unknown top-level fields go to metadata; a key also in metadata must hold the same value
    # (copied here now and then).
    metadata = record.get("metadata") or {}
    if isinstance(record.get("shadow"), dict) and "latency_ms" in record["shadow"]:
        metadata.pop("shadow", None)  # where the shadow's own keys go
    extras = {
        key: value
        for key, value in draw(EXTRAS).items()
        if key not in SCHEMA_FIELDS and key not in metadata
    }
    if metadata and draw(st.booleans()):
        key = next(iter(metadata))
        if key not in SCHEMA_FIELDS:
            extras[key] = copy.deepcopy(metadata[key])
    record.update(extras)
    return record


@st.composite
def cases(draw: st.DrawFn, *, record_id: str, dim: int) -> Case:
    record = draw(valid_records(record_id=record_id, dim=dim))
    if expected_instant(record["timestamp"]) is None:
        # A valid wall time whose offset takes it past year 1 or 9999 in UTC.
        return Case(record, "reject", frozenset({"timestamp"}))
    how = draw(HOW_BROKEN)
    if how == "valid":
        return Case(record, "store")
    if how == "clash":
        # The same key at the top level and in metadata, with different values: one would be lost.
        key = draw(JSON_KEYS)
        if key in SCHEMA_FIELDS or key in record:
            key += "\u2603"
        record[key] = "top-level value"
        record["metadata"] = {**(record.get("metadata") or {}), key: "metadata value"}
        return Case(record, "reject", frozenset({key}))
    if how == "wild":
        for name in draw(WILD_FIELDS):
            set_field(record, name, draw(WILD_VALUES))
        return Case(record, "either")
    table = breaks(dim)
    names = draw(broken_fields(2 if how == "break2" else 1))
    for name in names:
        set_field(record, name, draw(table[name]))
    if isinstance(record.get("metadata"), dict):
        # A broken metadata object must not also clash with a top-level copy of one of its keys
        # (that is a second reason, and may be the one named).
        for key in [k for k in record if k not in SCHEMA_FIELDS and k in record["metadata"]]:
            del record[key]
    return Case(record, "reject", frozenset(names))


@functools.cache
def broken_fields(count: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(sorted(breaks(2))), min_size=count, max_size=count, unique=True)


@st.composite
def batches(draw: st.DrawFn, *, dim: int, max_size: int = 10, repeats: bool = True) -> list[Case]:
    n = draw(st.integers(1, max_size))
    ids = draw(st.lists(ID_TEXTS, min_size=n, max_size=n, unique=True))
    result: list[Case] = []
    for i in range(n):
        record_id = ids[i]
        if repeats and i and draw(st.integers(0, 5)) == 0:
            record_id = ids[draw(st.integers(0, i - 1))]  # the same id again: the later one wins
        result.append(draw(cases(record_id=record_id, dim=dim)))
    return result


# ---------------------------------------------------------------------------------------------
# What "stored exactly" and "rejected with a reason" mean


def json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON values: true is not 1, and numbers compare as numbers (PostgreSQL's jsonb
    keeps 1e23 as the exact decimal and gives it back as the integer 10**23)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def given_value(record: dict[str, Any], name: str) -> Any:
    return record.get(name)  # absent and null are the same: not given


def assert_stored_exactly(record: dict[str, Any], response: Response) -> None:
    """The stored row is the record, field by field, after only these documented normalisations:

    - timestamp: an aware datetime in UTC (a value without offset is UTC), rounded to the
      microsecond;
    - numbers: float64 (an integer 3 is stored as 3.0);
    - embedding: little-endian float32, each number rounded to the nearest float32;
    - an optional text field that is absent or null is stored as "" (shadow_response: None);
    - unknown top-level fields are kept in metadata, merged with the record's own metadata
      object, and unknown keys of the shadow answer as metadata.shadow; metadata compares as
      JSON (`json_equal`).
    """
    assert response.external_id == record["id"]
    assert response.timestamp == expected_instant(record["timestamp"]), record["timestamp"]
    assert response.timestamp.utcoffset() == timedelta(0)
    for name in ("query", "response", "tier"):
        assert getattr(response, name) == record[name], name
    for name in OPTIONAL_TEXTS:
        assert getattr(response, name) == (given_value(record, name) or ""), name
    for name in (*PROBABILITIES, *NON_NEGATIVES):
        value = given_value(record, name)
        stored = getattr(response, name)
        if value is None:
            assert stored is None, name
        else:
            assert type(stored) is float and stored == float(value), (name, value, stored)
    assert response.escalated == given_value(record, "escalated")
    embedding = given_value(record, "embedding")
    if embedding is None:
        assert response.embedding is None
    else:
        expected = np.asarray([float(x) for x in embedding], dtype="<f8").astype("<f4")
        assert bytes(response.embedding) == expected.tobytes()
    shadow = given_value(record, "shadow")
    if shadow is None:
        assert (response.shadow_model, response.shadow_response) == ("", None)
    else:
        assert response.shadow_response == shadow["response"]
        assert response.shadow_model == (shadow.get("model") or "")
    extras = {key: value for key, value in record.items() if key not in SCHEMA_FIELDS}
    expected_metadata = {**extras, **(given_value(record, "metadata") or {})}
    shadow_extras = {k: v for k, v in (shadow or {}).items() if k not in ("response", "model")}
    if shadow_extras:
        expected_metadata["shadow"] = shadow_extras
    assert json_equal(response.metadata, expected_metadata), (response.metadata, expected_metadata)


_JARGON = ("`", "$.", "Expected ", "Object ", "msgspec", "Traceback")


def assert_rejected_with_reason(
    reject: RejectedRecord, case: Case, *, whole_line_ok: bool = False
) -> None:
    """A reject says why in words (not a library's message), and names a field of the record;
    `whole_line_ok`: from a file, a line that is not a JSON object has no field to name."""
    assert reject.reason.strip(), f"a reject without a reason: {reject.field!r}"
    assert not any(jargon in reject.reason for jargon in _JARGON), reject.reason
    if whole_line_ok and not reject.field:
        assert re.search(r"JSON|UTF-8|the limit is", reject.reason), reject.reason
        return
    assert reject.field, f"a field problem without the field: {reject.reason}"
    record_keys = {_escaped(key) for key in case.record}
    # The field, or the top-level field of a path into it (shadow.response, embedding[3]).
    head = reject.field
    if head not in record_keys:
        head = re.split(r"[.\[]", reject.field, maxsplit=1)[0]
    # A required field (of a response or of feedback) may be named because it is missing.
    nameable = record_keys | {"metadata", *REQUIRED, "response_id", "kind"}
    assert head in nameable, (reject.field, sorted(record_keys))
    if case.expect == "reject" and len(case.broken) == 1:
        assert head in {_escaped(name) for name in case.broken}, (reject.field, case.broken)


def _escaped(key: str) -> str:
    # The quarantine stores a NUL or a lone surrogate in a field name escaped, and names a
    # field called "" by its quotes.
    if key == "":
        return '""'
    return key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def check_ingest(
    run: IngestRun, batch: list[Case], source: Source, *, whole_line_ok: bool = False
) -> dict[str, dict[str, Any]]:
    """Every line is stored exactly (the last accepted line of an id wins) or rejected with a
    reason, and nothing else is stored; returns the stored records by id."""
    run.refresh_from_db()
    assert run.status == IngestRun.Status.FINISHED, run.error
    rejects: dict[int, RejectedRecord] = {}
    all_rejects = list(RejectedRecord.objects.filter(run=run))
    assert run.rejected_count == len(all_rejects)
    for reject in all_rejects:
        assert reject.line_number not in rejects, f"two rejects for line {reject.line_number}"
        rejects[reject.line_number] = reject
    accepted: dict[str, dict[str, Any]] = {}
    for line, case in enumerate(batch, start=1):
        reject = rejects.pop(line, None)
        if reject is None:
            assert case.expect != "reject", (
                f"line {line} breaks {sorted(case.broken)} but was stored: {case.record!r}"
            )
            accepted[case.record["id"]] = case.record
        else:
            assert case.expect != "store", (
                f"line {line} is valid but was rejected: {reject.field}: {reject.reason}"
            )
            assert_rejected_with_reason(reject, case, whole_line_ok=whole_line_ok)
    assert not rejects, f"rejects for lines that are not in the batch: {sorted(rejects)}"
    rows = {row.external_id: row for row in Response.objects.filter(source=source)}
    assert sorted(rows) == sorted(accepted)
    for external_id, record in accepted.items():
        assert_stored_exactly(record, rows[external_id])
    total = run.created_count + run.updated_count + run.unchanged_count + run.rejected_count
    assert total == len(batch)
    assert run.created_count == len(accepted)
    return accepted


def raw_records(records: list[dict[str, Any]]) -> Iterator[RawRecord]:
    """As the REST push hands them over: the parsed object, and its text for the quarantine."""
    for line, record in enumerate(records, start=1):
        # A copy: what ingest does to its input must not change what the test expects.
        yield RawRecord(line, copy.deepcopy(record), json.dumps(record).encode())


def jsonl_line(record: dict[str, Any], ascii_only: bool) -> bytes:
    # A lone surrogate written raw is not UTF-8: the reader must quarantine the line.
    return json.dumps(record, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def fits_a_line(line: bytes) -> bool:
    """A longer line (LONGTAIL_MAX_RECORD_BYTES) is rejected whole, however valid: two texts of
    200,000 astral characters are 1.6 MB of UTF-8, or 2.4 MB as JSON escapes."""
    return len(line) + 1 <= django_settings.LONGTAIL["MAX_RECORD_BYTES"]


class Rollback(Exception):
    pass


def in_savepoint(body: Callable[[], None]) -> None:
    """Run one example and undo its writes, whether it passed or failed."""
    try:
        with transaction.atomic():
            body()
            raise Rollback
    except Rollback:
        pass


def new_source(dim: int) -> Source:
    # The embedding dimension is fixed up front: otherwise the first embedding of the batch,
    # broken or not, would decide which of the others are wrong.
    return Source.objects.create(name="fuzz", embedding_dim=dim)


DIMS = st.integers(2, 6)
BATCH_SIZES = st.sampled_from([1, 3, 5000])


# ---------------------------------------------------------------------------------------------
# Property 1: random records


@fuzz_settings(max_examples=150)
@given(data=st.data(), dim=DIMS, batch_size=BATCH_SIZES)
def test_every_record_is_stored_exactly_or_rejected_with_a_reason(data, dim, batch_size):
    batch = data.draw(batches(dim=dim))

    def example() -> None:
        source = new_source(dim)
        run = ingest_records(
            source=source,
            kind="responses",
            records=raw_records([case.record for case in batch]),
            batch_size=batch_size,
        )
        check_ingest(run, batch, source)

    in_savepoint(example)


@fuzz_settings(max_examples=60)
@given(data=st.data(), dim=DIMS, ascii_only=st.booleans())
def test_every_jsonl_line_is_stored_exactly_or_rejected_with_a_reason(
    data, dim, ascii_only, tmp_path_factory
):
    batch = data.draw(batches(dim=dim))
    lines = [jsonl_line(case.record, ascii_only) for case in batch]
    path = tmp_path_factory.mktemp("fuzz") / "records.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    expected = [
        case if fits_a_line(line) else Case(case.record, "reject")
        for case, line in zip(batch, lines, strict=True)
    ]

    def example() -> None:
        source = new_source(dim)
        run = ingest_path(path=str(path), source=source, kind="responses")
        check_ingest(run, expected, source, whole_line_ok=True)

    in_savepoint(example)


# ---------------------------------------------------------------------------------------------
# Property 2: random mappings


def walk(record: Any, path: str) -> Any:
    """The docs' rule for a path: a name steps into an object, an integer (negative: from the
    end) into a list; anything else gives nothing."""
    value = record
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and re.fullmatch(r"-?[0-9]+", step):
            index = int(step)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def expected_after_mapping(foreign: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Our record, as docs/mappings/README.md describes it: a mapped field is read from its
    path; a field the mapping does not mention is read under its own name; a key consumed by a
    one-step path is not kept; every other top-level key is (as an unknown field: metadata)."""
    consumed = {path for path in mapping.values() if "." not in path}
    ours: dict[str, Any] = {}
    for key, value in foreign.items():
        if key in consumed or (key in mapping and mapping[key] != key):
            continue  # consumed, or our field's name while the mapping reads it elsewhere
        ours[key] = value
    for field, path in mapping.items():
        value = walk(foreign, path)
        if value is not None:
            ours[field] = value
    return ours


FOREIGN_KEYS = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00."), min_size=1, max_size=8
).map(lambda k: "\u2603" + k)  # a snowman: never one of our names or a metadata key
HOW = ("same", "identity", "rename", "object", "list-end", "list-start", "lost")
PADDING_OBJECTS = st.dictionaries(FOREIGN_KEYS, JSON_SCALARS, max_size=2)
PADDING_LISTS = st.lists(JSON_SCALARS, max_size=3)


@st.composite
def plans(draw: st.DrawFn) -> dict[str, tuple[str, str]]:
    """Where each of our fields sits in the foreign records of one batch: under its own name
    (unmapped, or mapped to itself), renamed, nested in an object or a list (a dotted path),
    or, for a required field, somewhere the mapping's path does not reach ("lost")."""
    plan: dict[str, tuple[str, str]] = {}
    for i, name in enumerate(sorted(SCHEMA_FIELDS)):
        choices = HOW if name in REQUIRED else HOW[:-1]
        if name == "metadata":
            choices = HOW[:3]  # nested, it would be kept whole beside itself
        how = draw(st.sampled_from(choices))
        plan[name] = (how, f"{draw(FOREIGN_KEYS)}{i}")  # numbered: no two fields share a key
    return plan


def mapping_of(plan: dict[str, tuple[str, str]]) -> dict[str, str]:
    paths = {
        "identity": "{name}",
        "rename": "{key}",
        "object": "{key}.inner",
        "list-end": "{key}.-1",
        "list-start": "{key}.0.content",
        "lost": "{key}.missing",
    }
    return {
        name: paths[how].format(name=name, key=key)
        for name, (how, key) in plan.items()
        if how != "same"
    }


@st.composite
def foreign_records(
    draw: st.DrawFn, record: dict[str, Any], plan: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    """`record` in the plan's foreign shape. A renamed or nested field sometimes leaves a decoy
    under our name, which the mapping must not read."""
    foreign: dict[str, Any] = {}
    for name, value in record.items():
        how, key = plan.get(name, ("same", name))
        if how in ("same", "identity"):
            foreign[name] = value
            continue
        if how in ("rename", "lost"):
            foreign[key] = value
        elif how == "object":
            foreign[key] = {**draw(PADDING_OBJECTS), "inner": value}
        elif how == "list-end":
            foreign[key] = [*draw(PADDING_LISTS), value]
        else:
            foreign[key] = [{"content": value}, *draw(PADDING_LISTS)]
        if draw(st.integers(0, 4)) == 0:
            foreign[name] = "decoy"
    return foreign


def mapped_case(case: Case, ours: dict[str, Any], plan: dict[str, tuple[str, str]]) -> Case:
    """What the mapped record must come to: the case's verdict, plus "missing" for a required
    field the mapping loses. A broken value nested in a container is also inside metadata
    (the container is kept whole), so it may be named there instead; that is still "reject"."""
    lost = frozenset(
        name for name, (how, _) in plan.items() if how == "lost" and name in case.record
    )
    if lost:
        # Rejected for certain; when the case had wild values, they may be named instead.
        named = case.broken | lost | (SCHEMA_FIELDS if case.expect == "either" else frozenset())
        return Case(ours, "reject", named)
    return Case(ours, case.expect, case.broken)


@fuzz_settings(max_examples=120)
@given(data=st.data(), dim=DIMS, plan=plans(), on_source=st.booleans())
def test_mapped_records_are_stored_exactly_or_rejected_with_a_reason(data, dim, plan, on_source):
    batch = data.draw(batches(dim=dim, max_size=6, repeats=False))
    mapping = mapping_of(plan)
    note(f"mapping: {mapping!r}")
    foreign = [data.draw(foreign_records(case.record, plan)) for case in batch]
    expected = []
    for case, record in zip(batch, foreign, strict=True):
        ours = expected_after_mapping(record, mapping)
        expected.append(mapped_case(case, ours, plan))

    def example() -> None:
        source = new_source(dim)
        if on_source:
            source.mapping = mapping
            source.save()
        run = ingest_records(
            source=source,
            kind="responses",
            records=raw_records(foreign),
            mapping=None if on_source else mapping,
        )
        check_ingest(run, expected, source)

    in_savepoint(example)


BAD_MAPPINGS = st.one_of(
    st.sampled_from(
        [
            ["id", "request_id"],
            "id=request_id",
            5,
            {"question": "q"},
            {"id": 5},
            {"id": None},
            {"id": ["request_id"]},
            {"id": ""},
            {"id": ".request_id"},
            {"id": "request_id."},
            {"tier": "meta.tier", "Tier": "route"},
        ]
    ),
    st.dictionaries(
        st.text(STORABLE_CHARS, max_size=8).filter(
            lambda k: k not in SCHEMA_FIELDS | {"response_id", "kind", "comment"}
        ),
        st.text(STORABLE_CHARS, max_size=8),
        min_size=1,
        max_size=3,
    ),
)


@fuzz_settings(max_examples=40)
@given(mapping=BAD_MAPPINGS, on_source=st.booleans())
def test_an_invalid_mapping_is_refused_before_anything_is_stored(mapping, on_source):
    def example() -> None:
        source = new_source(4)
        if on_source:
            source.mapping = mapping
            source.save()
        runs_before = IngestRun.objects.count()
        record = {
            "id": "r1",
            "timestamp": "2026-01-05T10:00:00Z",
            "query": "q",
            "response": "a",
            "tier": "t",
        }
        with pytest.raises(ValueError, match="mapping") as refused:
            ingest_records(
                source=source,
                kind="responses",
                records=raw_records([record]),
                mapping=None if on_source else mapping,
            )
        note(str(refused.value))
        assert IngestRun.objects.count() == runs_before
        assert not Response.objects.filter(source=source).exists()

    in_savepoint(example)


# ---------------------------------------------------------------------------------------------
# Property 3: the same batch twice


@fuzz_settings(max_examples=60)
@given(data=st.data(), dim=DIMS, batch_size=BATCH_SIZES, second_batch_size=BATCH_SIZES)
def test_the_same_batch_twice_changes_nothing(
    data, dim, batch_size, second_batch_size, tmp_path_factory
):
    batch = data.draw(batches(dim=dim, repeats=False))
    lines = [jsonl_line(case.record, True) for case in batch]
    path = tmp_path_factory.mktemp("fuzz") / "again.jsonl"
    # Only the lines a file can carry (fits_a_line); all of them, the third time, as objects.
    path.write_bytes(b"".join(line + b"\n" for line in lines if fits_a_line(line)))
    in_file = {
        case.record.get("id")
        for case, line in zip(batch, lines, strict=True)
        if fits_a_line(line) and isinstance(case.record.get("id"), str)
    }

    def example() -> None:
        source = new_source(dim)
        first = ingest_records(
            source=source,
            kind="responses",
            records=raw_records([case.record for case in batch]),
            batch_size=batch_size,
        )
        accepted = check_ingest(first, batch, source)
        before = {
            row["external_id"]: row for row in Response.objects.filter(source=source).values()
        }
        # The same records again, once as objects and once as a JSONL file: the digest that
        # decides "unchanged" must not depend on the path a record came by.
        second = ingest_records(
            source=source,
            kind="responses",
            records=raw_records([case.record for case in batch]),
            batch_size=second_batch_size,
        )
        third = (
            ingest_path(path=str(path), source=source, kind="responses")
            if path.stat().st_size
            else None
        )
        second.refresh_from_db()
        assert (second.created_count, second.updated_count) == (0, 0)
        assert second.unchanged_count == len(accepted)
        assert second.rejected_count == first.rejected_count
        if third is not None:
            third.refresh_from_db()
            assert (third.created_count, third.updated_count) == (0, 0)
            assert third.unchanged_count == len(accepted.keys() & in_file)
        after = {row["external_id"]: row for row in Response.objects.filter(source=source).values()}
        assert after == before

    in_savepoint(example)


# ---------------------------------------------------------------------------------------------
# Feedback records (feedback.schema.json)

FEEDBACK_FIELDS = frozenset({"id", "response_id", "timestamp", "kind", "comment"})


@st.composite
def feedback_cases(draw: st.DrawFn) -> Case:
    record: dict[str, Any] = {
        "response_id": draw(ID_TEXTS),
        "timestamp": draw(timestamps()),
        "kind": draw(st.sampled_from(["thumbs_up", "thumbs_down", "handoff"])),
    }
    if draw(st.booleans()):
        record["id"] = draw(ID_TEXTS)
    if draw(st.booleans()):
        record["comment"] = draw(texts(max_size=MAX_TEXT))
    if expected_instant(record["timestamp"]) is None:
        return Case(record, "reject", frozenset({"timestamp"}))
    how = draw(st.sampled_from(["valid", "valid", "unknown", "break", "wild"]))
    if how == "valid":
        return Case(record, "store")
    if how == "unknown":
        key = draw(st.text(max_size=4).filter(lambda k: k not in FEEDBACK_FIELDS))
        record[key] = draw(JSON_SCALARS)
        return Case(record, "reject", frozenset({key}))
    if how == "wild":
        name = draw(st.sampled_from(sorted(FEEDBACK_FIELDS)))
        record[name] = draw(WILD_VALUES)
        return Case(record, "either")
    name, bad = draw(
        st.sampled_from(
            [
                ("response_id", DROP),
                ("response_id", ""),
                ("response_id", "r" * 256),
                ("response_id", 7),
                ("timestamp", DROP),
                ("timestamp", "2026-01-05"),
                ("kind", "thumbs_sideways"),
                ("kind", DROP),
                ("kind", ""),
                ("id", "e" * 256),
                ("id", 3),
                ("comment", "a\x00b"),
                ("comment", "\ud800"),
                ("comment", "c" * (MAX_TEXT + 1)),
            ]
        )
    )
    set_field(record, name, bad)
    return Case(record, "reject", frozenset({name}))


def assert_feedback_stored_exactly(record: dict[str, Any], event: FeedbackEvent) -> None:
    """As assert_stored_exactly; an event without an id (or with an empty one) is identified by
    its content."""
    assert event.response_external_id == record["response_id"]
    assert event.timestamp == expected_instant(record["timestamp"])
    assert event.kind == record["kind"]
    assert event.comment == (record.get("comment") or "")
    if record.get("id"):
        assert event.external_id == record["id"]
    else:
        assert event.external_id.startswith("content:")


@fuzz_settings(max_examples=60)
@given(batch=st.lists(feedback_cases(), min_size=1, max_size=8))
def test_every_feedback_event_is_stored_exactly_or_rejected_with_a_reason(batch):
    def example() -> None:
        source = new_source(2)
        run = ingest_records(
            source=source, kind="feedback", records=raw_records([case.record for case in batch])
        )
        run.refresh_from_db()
        assert run.status == IngestRun.Status.FINISHED, run.error
        rejects = {r.line_number: r for r in RejectedRecord.objects.filter(run=run)}
        assert len(rejects) == run.rejected_count
        stored = []
        for line, case in enumerate(batch, start=1):
            if line in rejects:
                assert case.expect != "store", rejects[line].reason
                assert_rejected_with_reason(rejects[line], case)
            else:
                assert case.expect != "reject", case.record
                stored.append(case.record)
        events = list(FeedbackEvent.objects.filter(source=source))
        total = run.created_count + run.updated_count + run.unchanged_count + run.rejected_count
        assert total == len(batch)
        by_id = {e.external_id: e for e in events}
        for record in stored:
            if record.get("id"):
                latest = [r for r in stored if r.get("id") == record["id"]][-1]
                assert_feedback_stored_exactly(latest, by_id[record["id"]])
            else:
                assert any(
                    e.external_id.startswith("content:")
                    and e.response_external_id == record["response_id"]
                    and e.kind == record["kind"]
                    and e.comment == (record.get("comment") or "")
                    and e.timestamp == expected_instant(record["timestamp"])
                    for e in events
                ), record

    in_savepoint(example)
