"""The shape of an incoming record (docs/schema/*.json), validated by msgspec.

A record arrives as a dict (parsed JSON line, CSV row, API item, pulled page item). `validate_*`
turns it into a typed struct or raises `RecordError` with the field and a sentence a person
understands. Unknown top-level fields of a response are kept under `metadata`, never dropped.
"""

from __future__ import annotations

import math
import re
import struct
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

# Texts longer than this are almost certainly a logging accident, and would make review pages
# and exports unusable; the whole record is rejected with a reason instead.
MAX_TEXT_CHARS = 200_000

Id = Annotated[str, Meta(min_length=1, max_length=255)]
Text = Annotated[str, Meta(max_length=MAX_TEXT_CHARS)]
NonEmptyText = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT_CHARS)]
Probability = Annotated[float, Meta(ge=0, le=1)]
NonNegative = Annotated[float, Meta(ge=0)]
Embedding = Annotated[list[float], Meta(min_length=2, max_length=16_384)]
# The largest float32: embeddings are stored as float32, where a larger number would be infinity.
FLOAT32_MAX = 3.4028234663852886e38


class MappingError(ValueError):
    """A field mapping that cannot be applied: said before any record is read."""


class RecordError(ValueError):
    """A record that cannot be accepted: which field, and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class Shadow(msgspec.Struct, forbid_unknown_fields=False):
    response: Text
    model: Annotated[str, Meta(max_length=255)] | None = None


class ResponseRecord(msgspec.Struct, forbid_unknown_fields=True):
    id: Id
    timestamp: datetime
    query: NonEmptyText
    response: Text
    tier: Annotated[str, Meta(min_length=1, max_length=64)]
    model: Annotated[str, Meta(max_length=255)] | None = None
    router_label: Annotated[str, Meta(max_length=64)] | None = None
    router_confidence: Probability | None = None
    self_confidence: Probability | None = None
    escalated: bool | None = None
    auto_score: Probability | None = None
    embedding: Embedding | None = None
    conversation_id: Annotated[str, Meta(max_length=255)] | None = None
    user_id: Annotated[str, Meta(max_length=255)] | None = None
    segment: Annotated[str, Meta(max_length=128)] | None = None
    cost_usd: NonNegative | None = None
    latency_ms: NonNegative | None = None
    shadow: Shadow | None = None
    metadata: dict[str, Any] | None = None


class FeedbackRecord(msgspec.Struct, forbid_unknown_fields=True):
    response_id: Id
    timestamp: datetime
    kind: Literal["thumbs_up", "thumbs_down", "handoff"]
    id: Annotated[str, Meta(max_length=255)] | None = None
    comment: Text | None = None


class ReferenceRecordIn(msgspec.Struct, forbid_unknown_fields=True):
    query: NonEmptyText
    router_label: Annotated[str, Meta(max_length=64)] | None = None
    router_confidence: Probability | None = None
    embedding: Embedding | None = None


RECORD_TYPES: dict[str, type[msgspec.Struct]] = {
    "responses": ResponseRecord,
    "feedback": FeedbackRecord,
    "reference": ReferenceRecordIn,
}
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    kind: tuple(
        name
        for name, default in zip(
            struct.__struct_fields__,
            (msgspec.NODEFAULT,) * (len(struct.__struct_fields__) - len(struct.__struct_defaults__))
            + struct.__struct_defaults__,
            strict=True,
        )
        if default is msgspec.NODEFAULT
    )
    for kind, struct in RECORD_TYPES.items()
}
_RESPONSE_FIELDS = frozenset(ResponseRecord.__struct_fields__)
_SHADOW_FIELDS = frozenset(Shadow.__struct_fields__)
_FIELDS = {kind: frozenset(struct.__struct_fields__) for kind, struct in RECORD_TYPES.items()}
# Fields whose CSV cell holds JSON text (nested values).
JSON_FIELDS = frozenset({"embedding", "shadow", "metadata"})
NUMBER_FIELDS = frozenset(
    {"router_confidence", "self_confidence", "auto_score", "cost_usd", "latency_ms"}
)
BOOL_FIELDS = frozenset({"escalated"})
_FINITE_FIELDS = (*sorted(NUMBER_FIELDS),)

_PATH_RE = re.compile(r"at `\$((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)`")
_MISSING_RE = re.compile(r"Object missing required field `([^`]+)`")
_UNKNOWN_RE = re.compile(r"Object contains unknown field `([^`]+)`")


_EXAMPLE_TIME = " (2026-01-31T12:00:00Z)"
_PLAIN_REASONS = [
    (re.compile(pattern), plain)
    for pattern, plain in [
        (r"Expected `float` <= 1\.0", "must be a number from 0 to 1"),
        (r"Expected `float` >= 0\.0", "must be a number ≥ 0"),
        (r"Expected `str` of length >= 1", "must not be empty"),
        (r"Expected `str` of length <= (\d+)", r"is longer than \1 characters"),
        (r"Expected `array` of length >= 2", "must have at least 2 numbers"),
        (r"Expected `array` of length <= (\d+)", r"has more than \1 numbers"),
        (
            r"Invalid RFC3339 encoded datetime",
            "is not an RFC 3339 date-time (2026-01-31T12:00:00Z)",
        ),
        (r"Expected `datetime( \| null)?`", "must be an RFC 3339 date-time (2026-01-31T12:00:00Z)"),
        (r"Expected `str( \| null)?`", "must be text"),
        (r"Expected `float( \| null)?`", "must be a number"),
        (r"Expected `bool( \| null)?`", "must be true or false"),
        (r"Expected `array( \| null)?`", "must be a list"),
        (r"Expected `object( \| null)?`", "must be an object"),
        (r"Expected `(.+?)`", r"must be \1"),
        (r"Invalid enum value (.+)", r"\1 is not one of the allowed values"),
        (r"^Number out of range$", "is a number too large to store"),
        (r"got `null`", "got null"),
        (r"got `bool`", "got true or false"),
        (r"got `str`", "got text"),
        (r"got `int`|got `float`", "got a number"),
        (r"got `array`", "got a list"),
        (r"got `object`", "got an object"),
        (r"got `(\w+)`", r"got \1"),
    ]
]


def _explain(exc: msgspec.ValidationError) -> RecordError:
    """Turn msgspec's message ("Expected `float` <= 1.0, got 1.7 - at `$.router_confidence`")
    into a field name and a plain reason."""
    message = str(exc)
    if match := _MISSING_RE.search(message):
        path = _PATH_RE.search(message)
        prefix = path.group(1).lstrip(".") + "." if path and path.group(1) else ""
        return RecordError(prefix + match.group(1), "is required but missing")
    if match := _UNKNOWN_RE.search(message):
        return RecordError(match.group(1), "is not a field of this record")
    field = ""
    if match := _PATH_RE.search(message):
        field = match.group(1).lstrip(".")
        message = message[: match.start()].rstrip(" -")
    for pattern, plain in _PLAIN_REASONS:
        message = pattern.sub(plain, message)
    return RecordError(field, message)


def _as_utc(value: datetime) -> datetime:
    # The schema: "a value without offset is UTC".
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _field_name(key: Any) -> str:
    # An empty key is a field too; the quarantine must show that it was named "".
    return str(key) if key != "" else '""'


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON (true is not 1), whatever the key order."""
    try:
        return bool(
            msgspec.json.encode(a, order="sorted") == msgspec.json.encode(b, order="sorted")
        )
    except (TypeError, ValueError, OverflowError, RecursionError):  # not JSON: compared as is
        return bool(a == b)


def _metadata_with(data: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    """The record's metadata with `kept` (what has no column of its own) merged in. A key on
    both sides with different values would lose one of them: that rejects the record."""
    metadata = data.get("metadata")
    if metadata is None:
        return kept
    if not isinstance(metadata, dict):
        raise RecordError("metadata", "must be an object")
    for key in kept.keys() & metadata.keys():
        if not _same_json(kept[key], metadata[key]):
            raise RecordError(
                _field_name(key),
                "is also a key of metadata, with a different value; one of them would be lost",
            )
    return {**kept, **metadata}


def _keep_unknown_fields(data: dict[str, Any]) -> dict[str, Any]:
    """Unknown top-level fields of a response go to metadata, and unknown keys of its shadow
    answer to metadata.shadow: nothing a record carries is dropped."""
    if not _RESPONSE_FIELDS.issuperset(data):
        unknown = {key: value for key, value in data.items() if key not in _RESPONSE_FIELDS}
        data = {key: value for key, value in data.items() if key in _RESPONSE_FIELDS}
        data["metadata"] = _metadata_with(data, unknown)
    shadow = data.get("shadow")
    if isinstance(shadow, dict) and not _SHADOW_FIELDS.issuperset(shadow):
        unknown = {key: value for key, value in shadow.items() if key not in _SHADOW_FIELDS}
        metadata = data.get("metadata")
        if (
            isinstance(metadata, dict)
            and "shadow" in metadata
            and not _same_json(metadata["shadow"], unknown)
        ):
            raise RecordError(
                "shadow",
                "has keys other than response and model, which are kept as metadata.shadow, "
                "but metadata already has a different 'shadow'",
            )
        data = {
            **data,
            "shadow": {key: value for key, value in shadow.items() if key in _SHADOW_FIELDS},
            "metadata": _metadata_with(data, {"shadow": unknown}),
        }
    return data


def _fits_float32(values: list[float]) -> bool:
    try:
        struct.pack(f"<{len(values)}f", *values)
    except OverflowError:  # struct rounds first: only what rounds to infinity overflows
        return False
    return True


def validate(kind: str, data: dict[str, Any], *, strict: bool = True) -> msgspec.Struct:
    """Validate one record of `kind`. `strict=False` accepts numbers and booleans written as
    text, for CSV cells."""
    struct_type = RECORD_TYPES[kind]
    # This runs once per ingested record: the common case (only known keys, no nulls) is
    # tested with set and membership operations done in C, and the copies below are only made
    # when they change something.
    if kind == "responses":
        shadow = data.get("shadow")
        if not _RESPONSE_FIELDS.issuperset(data) or (
            isinstance(shadow, dict) and not _SHADOW_FIELDS.issuperset(shadow)
        ):
            data = _keep_unknown_fields(data)
    elif not _FIELDS[kind].issuperset(data):
        # Feedback and reference records have no metadata: an unknown field is an error. It is
        # named here, not read from msgspec's message, which cannot quote "" or a backtick.
        key = next(key for key in data if key not in _FIELDS[kind])
        raise RecordError(_field_name(key), "is not a field of this record")
    # null in an optional field means "not given"; in a required one it is an error (below).
    if None in data.values():
        required = REQUIRED_FIELDS[kind]
        data = {key: value for key, value in data.items() if value is not None or key in required}
    try:
        record = msgspec.convert(data, struct_type, strict=strict)
    except msgspec.ValidationError as exc:
        raise _explain(exc) from None
    if isinstance(record, ResponseRecord | FeedbackRecord):
        try:
            record.timestamp = _as_utc(record.timestamp)
        except OverflowError:  # 0001-01-01T00:00:00+01:00 is in year 0 in UTC
            raise RecordError("timestamp", "is outside the years 1 to 9999 in UTC") from None
    if isinstance(record, ResponseRecord | ReferenceRecordIn) and not record.query.strip():
        raise RecordError("query", "must not be blank")
    for name in _FINITE_FIELDS:
        # A CSV cell "inf" (or a JSON 1e999) is a float no bound rejects; it would poison sums.
        value = getattr(record, name, None)
        if value is not None and not math.isfinite(value):
            raise RecordError(name, "must be a finite number")
    embedding = getattr(record, "embedding", None)
    # A NaN or infinity anywhere makes the sum non-finite, so a finite sum (one C loop) proves
    # every number finite; only a non-finite sum (which can also be a finite overflow) is
    # checked number by number.
    if embedding is not None:
        if not math.isfinite(sum(embedding)) and not all(math.isfinite(x) for x in embedding):
            raise RecordError("embedding", "must contain only finite numbers")
        # A finite 1e39 would be stored as float32 infinity: refuse it as the infinity it becomes.
        if (max(embedding) > FLOAT32_MAX or min(embedding) < -FLOAT32_MAX) and not _fits_float32(
            embedding
        ):
            raise RecordError(
                "embedding", "has a number beyond ±3.4e38, the largest an embedding can hold"
            )
    return record


def lookup(record: Any, path: str) -> Any:
    """Follow a dotted path ("metadata.tier", "messages.-1.content") into nested dicts and
    lists; a missing step gives None."""
    value = record
    for step in path.split("."):
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list):
            try:
                value = value[int(step)]
            except (ValueError, IndexError):
                return None
        else:
            return None
        if value is None:
            return None
    return value


def apply_mapping(data: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Rename a foreign record into ours: `mapping` maps our field names to dotted paths in
    `data`. Top-level keys the mapping does not consume are kept (and so reach metadata)."""
    if not mapping:
        return data
    consumed = {path.split(".", 1)[0] for path in mapping.values() if "." not in path}
    mapped = {key: value for key, value in data.items() if key not in consumed}
    for field, path in mapping.items():
        value = lookup(data, path)
        if value is not None:
            mapped[field] = value
        elif field in mapped and path != field:
            # A same-named key in the source must not stand in for the mapped one.
            mapped.pop(field)
    return mapped


def validate_mapping(mapping: Any) -> dict[str, str]:
    """A mapping must be {our_field: "dotted.path"}; say exactly what is wrong otherwise."""
    if not isinstance(mapping, dict):
        raise MappingError("a mapping must be a JSON object from field names to dotted paths")
    known = set().union(*(struct.__struct_fields__ for struct in RECORD_TYPES.values()))
    for field, path in mapping.items():
        if field not in known:
            raise MappingError(f"mapping: {field!r} is not a field of any record kind")
        if not isinstance(path, str) or not path or path.startswith(".") or path.endswith("."):
            raise MappingError(f"mapping: the path for {field!r} must be a dotted path like 'a.b'")
    return dict(mapping)


def coerce_csv_row(
    row: dict[str, str], json_columns: frozenset[str] = JSON_FIELDS
) -> dict[str, Any]:
    """A CSV row is all text: empty cells are absent, nested fields (`json_columns`: ours, or
    the columns a mapping reads them from) are JSON text."""
    data: dict[str, Any] = {}
    for key, cell in row.items():
        if key is None:
            raise RecordError("", "the row has more cells than the header has columns")
        if cell is None or cell == "":
            continue
        if key in json_columns:
            try:
                data[key] = msgspec.json.decode(cell)
            except msgspec.DecodeError:
                raise RecordError(key, "must be JSON text in a CSV cell") from None
        else:
            data[key] = cell
    return data
