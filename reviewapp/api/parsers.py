"""A JSON parser for batch pushes.

A push of 10,000 records with 384-dim embeddings is ~90 MB of JSON. DRF's JSONParser builds
the whole object tree with `json` before the view can even count the records. This parser
splits the top-level array with msgspec into one `msgspec.Raw` slice per record without
decoding them, so the view can check the record limit first, and each record is decoded
only when the ingest reaches it (and its raw text is right there for the quarantine).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

from reviewapp.responses.readers import TOO_DEEP, RawRecord
from reviewapp.responses.records import RecordError

_SPLITTER = msgspec.json.Decoder(list[msgspec.Raw])
_DECODER = msgspec.json.Decoder()
_JSON_KINDS = {
    dict: "an object",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class RawJSONListParser(BaseParser):
    """Parses `application/json` whose top level is an array into `list[msgspec.Raw]`.

    Anything else is a 400 with a sentence saying what was wrong.
    """

    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> list[msgspec.Raw]:
        # DRF hands the view the raw WSGI stream, which skips Django's own size check on
        # request.body: apply DATA_UPLOAD_MAX_MEMORY_SIZE here, before reading anything.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise PayloadTooLarge(
                    f"The request body is {length:,} bytes; the limit is {limit:,}. "
                    "Send the records in several requests."
                )
        body = stream.read()
        try:
            return _SPLITTER.decode(body)
        except msgspec.ValidationError:
            pass
        except msgspec.DecodeError as exc:
            raise ParseError(f"The body is not valid JSON: {exc}.") from None
        except RecursionError:
            # msgspec walks nested values recursively, even to split the list.
            raise ParseError(
                "The body is JSON nested too deeply to read (objects or lists about 1,000 "
                "levels deep)."
            ) from None
        # Not an array (msgspec stops at the first token): say what it is, if it is JSON.
        try:
            value = _DECODER.decode(body)
        except msgspec.DecodeError as exc:
            raise ParseError(f"The body is not valid JSON: {exc}.") from None
        what = "null" if value is None else _JSON_KINDS.get(type(value), "a JSON value")
        raise ParseError(f"The body must be a JSON list (array) of records, not {what}.")


def raw_records(items: list[msgspec.Raw], ids: list[str | None]) -> Iterator[RawRecord]:
    """Decode each pushed item on demand into the `RawRecord` the ingest service takes.

    The line number is the item's position in the list counting from 1. `ids` receives each
    item's "id" (or None) as it is decoded, so the response can name rejected records.
    """
    for index, item in enumerate(items, start=1):
        raw = bytes(item)
        try:
            data = _DECODER.decode(raw)
        except RecursionError:
            # The list was split higher up the stack than this decodes: near the limit, an
            # item that split may still be too deep here.
            ids.append(None)
            yield RawRecord(index, None, raw, RecordError("", TOO_DEEP))  # type: ignore[arg-type]
            continue
        if isinstance(data, dict):
            record_id = data.get("id")
            ids.append(record_id if isinstance(record_id, str) else None)
            # Bytes, as read_jsonl passes: the service decodes them only for a reject.
            yield RawRecord(index, data, raw)  # type: ignore[arg-type]
        else:
            ids.append(None)
            error = RecordError("", "must be a JSON object ({...})")
            yield RawRecord(index, None, raw, error)  # type: ignore[arg-type]
