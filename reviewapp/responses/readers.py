"""Turn files into a stream of raw records: (line number, dict) or a per-line error.

Readers never raise on a bad record: a line that is not JSON, is not UTF-8, or is too long
comes out as a `RawRecord` carrying its error, so the service can quarantine it and go on.
Problems with the file as a whole (empty, a CSV without a required column or whose header is not
UTF-8, a truncated gzip) raise `FileError`. A UTF-8 byte-order mark at the start of a file (Excel's
"CSV UTF-8", Notepad) is not part of the first record.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec

from .records import JSON_FIELDS, REQUIRED_FIELDS, RecordError, coerce_csv_row

# Kept of a rejected line in the quarantine: enough to recognise it, not 50 MB of it.
RAW_KEEP_CHARS = 10_000
TOO_DEEP = "is JSON nested too deeply to read (objects or lists about 1,000 levels deep)"
UTF8_BOM = b"\xef\xbb\xbf"
# CSV text is decoded with "surrogateescape": a byte that is not UTF-8 becomes one of these
# (U+DC80..U+DCFF), which valid UTF-8 never decodes to, so its row can be rejected alone.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


class FileError(Exception):
    """The file as a whole cannot be read (as far as it got): a sentence for a person."""


@dataclass(slots=True)
class RawRecord:
    line_number: int | None
    data: dict[str, Any] | None
    raw: str = ""
    error: RecordError | None = None
    # CSV cells are text: numbers and booleans are converted, not demanded.
    lenient_types: bool = False


def _raw_text(line: bytes) -> str:
    return line[:RAW_KEEP_CHARS].decode("utf-8", errors="replace")


def open_input(path: str) -> tuple[IO[bytes], int | None]:
    """Open a path ('-' is stdin; '.gz' is decompressed) for binary reading, with its size in
    bytes when known (for progress)."""
    if path == "-":
        return sys.stdin.buffer, None
    file_path = Path(path)
    if not file_path.is_file():
        raise FileError(f"{path}: no such file")
    size = file_path.stat().st_size
    raw = file_path.open("rb")
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw), size  # type: ignore[return-value]
    return raw, size


def _read_lines(
    stream: IO[bytes], max_bytes: int, on_bytes: Callable[[int], None] | None
) -> Iterator[tuple[int, bytes, int, bool]]:
    """Yield (line number, line, its length, whether it is over max_bytes). A line over the
    limit is skipped in chunks, never held whole in memory: only its head is yielded."""
    line_number = 0
    try:
        while True:
            line = stream.readline(max_bytes + 1)
            if not line:
                return
            line_number += 1
            length = len(line)
            if length > max_bytes and not line.endswith(b"\n"):
                while chunk := stream.readline(1 << 20):
                    length += len(chunk)
                    if chunk.endswith(b"\n"):
                        break
                if on_bytes:
                    on_bytes(length)
                yield line_number, line[:RAW_KEEP_CHARS], length, True
                continue
            if on_bytes:
                on_bytes(length)
            yield line_number, line, length, False
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise FileError(
            f"the compressed file is truncated or corrupt after line {line_number} ({exc}); "
            f"the records before it were ingested, run again with a complete file"
        ) from None


def read_jsonl(
    stream: IO[bytes], *, max_bytes: int, on_bytes: Callable[[int], None] | None = None
) -> Iterator[RawRecord]:
    decoder = msgspec.json.Decoder()
    seen_any = False
    for line_number, line, length, too_long in _read_lines(stream, max_bytes, on_bytes):
        seen_any = True
        if line_number == 1 and line.startswith(UTF8_BOM):
            line = line[len(UTF8_BOM) :]
        if too_long:
            # The quarantine keeps the line's head, so a person can recognise it.
            yield RawRecord(
                line_number,
                None,
                _raw_text(line),
                RecordError("", f"the line is {length:,} bytes; the limit is {max_bytes:,}"),
            )
            continue
        if not line.strip():
            continue
        try:
            data = decoder.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            yield RawRecord(
                line_number,
                None,
                _raw_text(line),
                RecordError("", _why_not_json(decoder, line, exc)),
            )
            continue
        except RecursionError:
            # msgspec decodes nested values recursively: a line of [[[[... runs out of stack.
            yield RawRecord(line_number, None, _raw_text(line), RecordError("", TOO_DEEP))
            continue
        if not isinstance(data, dict):
            yield RawRecord(
                line_number,
                None,
                _raw_text(line),
                RecordError("", "is JSON but not an object ({...})"),
            )
            continue
        # The raw text is only kept when the record is rejected; decode it lazily then.
        yield RawRecord(line_number, data, line)  # type: ignore[arg-type]
    if not seen_any:
        raise FileError("the file is empty: there is nothing to ingest")


def _why_not_json(decoder: msgspec.json.Decoder, line: bytes, exc: Exception) -> str:
    """Say why a line is not a JSON record in the words a person fixing the file needs."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad_bytes:
        # msgspec reports bad bytes as UnicodeDecodeError in some releases and as a
        # DecodeError ("Invalid UTF-8 encoded string") in others; the user needs the same
        # answer either way.
        return f"is not valid UTF-8 text ({bad_bytes.reason} at byte {bad_bytes.start})"
    # A cut-off line still ends in its newline, which msgspec reports as a bad character;
    # without it, msgspec says "truncated", which is what happened.
    if "truncated" in str(exc).lower() or _is_truncated(decoder, line):
        return "is not valid JSON (the line is cut off)"
    return f"is not valid JSON ({exc})"


def _is_truncated(decoder: msgspec.json.Decoder, line: bytes) -> bool:
    try:
        decoder.decode(line.rstrip(b"\r\n"))
    except msgspec.DecodeError as exc:
        return "truncated" in str(exc).lower()
    except UnicodeDecodeError:
        return False
    return False


def read_csv(
    stream: IO[bytes],
    *,
    kind: str,
    mapping: dict[str, str],
    max_bytes: int,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[RawRecord]:
    csv.field_size_limit(max_bytes)
    # Decoding never fails ("surrogateescape"): a row with a byte that is not UTF-8 is rejected
    # on its own below, as a JSONL line is, instead of the file stopping in the middle of a
    # decoded chunk. "utf-8-sig" drops a leading byte-order mark.
    text = io.TextIOWrapper(
        _CountingReader(stream, on_bytes),
        encoding="utf-8-sig",
        errors="surrogateescape",
        newline="",
    )
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise FileError(f"the CSV header cannot be read: {exc}") from None
    if not header:
        raise FileError("the file is empty: there is nothing to ingest")
    for name in header:
        if match := _ESCAPED_BYTE.search(name):
            raise FileError(
                f"the CSV header is not UTF-8 text (byte 0x{ord(match.group()) - 0xDC00:02X}); "
                "save the file as UTF-8 and run again"
            )
    provided = set(header) | set(mapping)
    missing = [field for field in REQUIRED_FIELDS[kind] if field not in provided]
    if missing:
        raise FileError(
            f"the CSV header lacks the required column(s) {', '.join(missing)} "
            f"(it has: {', '.join(header)}); add them or map them with --mapping"
        )
    # A mapped nested field ("embedding": "query_vector") and the first step of a dotted path
    # ("tier": "meta.tier") name columns that hold JSON text.
    json_columns = JSON_FIELDS | {
        path.split(".", 1)[0]
        for field, path in mapping.items()
        if "." in path or field in JSON_FIELDS
    }
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRecord(reader.line_num, None, "", RecordError("", f"bad CSV row: {exc}"))
            continue
        # DictReader's line_num counts physical lines; rows here are numbered as the file's lines.
        line_number = reader.line_num
        raw = ",".join(value or "" for value in row.values() if isinstance(value, str))
        if not raw.isascii() and _ESCAPED_BYTE.search(raw):
            yield RawRecord(line_number, None, _unescaped(raw), _not_utf8_cell(row))
            continue
        try:
            data = coerce_csv_row(row, json_columns)
        except RecordError as exc:
            yield RawRecord(line_number, None, raw[:RAW_KEEP_CHARS], exc)
            continue
        yield RawRecord(line_number, data, raw[:RAW_KEEP_CHARS], lenient_types=True)


def _not_utf8_cell(row: dict[Any, Any]) -> RecordError:
    for column, value in row.items():
        if isinstance(value, str) and (match := _ESCAPED_BYTE.search(value)):
            byte = ord(match.group()) - 0xDC00
            return RecordError(
                column or "",
                f"is not valid UTF-8 text (byte 0x{byte:02X}); save the file as UTF-8",
            )
    return RecordError("", "is not valid UTF-8 text; save the file as UTF-8")


def _unescaped(raw: str) -> str:
    """The row's text for the quarantine, each byte that is not UTF-8 shown as U+FFFD."""
    return raw[:RAW_KEEP_CHARS].encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _CountingReader(io.RawIOBase):
    """Report bytes read to the progress bar, for CSV (whose rows span lines)."""

    def __init__(self, stream: IO[bytes], on_bytes: Callable[[int], None] | None) -> None:
        self._stream = stream
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._stream.read(len(buffer))
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise FileError(f"the compressed file is truncated or corrupt ({exc})") from None
        buffer[: len(data)] = data
        if self._on_bytes:
            self._on_bytes(len(data))
        return len(data)


def raw_text_of(record: RawRecord) -> str:
    if isinstance(record.raw, bytes | bytearray):
        return _raw_text(record.raw)
    return record.raw


__all__ = ["FileError", "RawRecord", "open_input", "read_csv", "read_jsonl", "raw_text_of"]
