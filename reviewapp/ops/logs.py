"""Request ids and structured (JSON lines) logs.

A request id lives in a contextvar, so every record logged while serving a request (or running
a Celery task) carries it without passing it around: a log record factory copies it onto each
record, and the JSON formatter writes one object per line for a log collector.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LogContext:
    """What is known about the request or task being served."""

    request_id: str
    path: str = ""
    user_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


current: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar(
    "longtail_log_context", default=None
)

#: The fields a JSON line carries beyond time, level, logger and message.
CONTEXT_FIELDS = ("request_id", "path", "user_id", "status", "duration_ms", "task_id")


def install_record_factory() -> None:
    """Copy the current request's (or task's) id, path and user onto every record as it is
    made: any handler then sees them (the console, a collector, pytest's caplog)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_longtail_context", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        context = current.get()
        if context is not None:
            record.request_id = context.request_id
            if context.path:
                record.path = context.path
            if context.user_id is not None:
                record.user_id = context.user_id
            for key, value in context.extra.items():
                setattr(record, key, value)
        return record

    factory._longtail_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class PlainFormatter(logging.Formatter):
    """`make run`'s readable lines, with the request id ("-" outside a request)."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            defaults={"request_id": "-"},
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and whichever context fields
    the record has (absent ones are left out, not written as null)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "-":
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def connect_celery_signals() -> None:
    """Tasks log with their task id as the request id (a worker has no HTTP request)."""
    from celery import signals

    # An eager task runs inside the request that sent it: it keeps that request's id, adds its
    # own task id, and hands the request's context back when it ends.
    tokens: dict[str, contextvars.Token[LogContext | None]] = {}

    def _before(task_id: str | None = None, task: Any = None, **_: Any) -> None:
        tid = task_id or ""
        outer = current.get()
        context = LogContext(
            request_id=outer.request_id if outer else tid,
            path=outer.path if outer else "",
            user_id=outer.user_id if outer else None,
            extra={"task_id": tid, "task": getattr(task, "name", "")},
        )
        tokens[tid] = current.set(context)

    def _after(task_id: str | None = None, **_: Any) -> None:
        token = tokens.pop(task_id or "", None)
        if token is not None:
            try:
                current.reset(token)
            except ValueError:  # set in another context (a thread pool): just clear it
                current.set(None)

    # weak=False: the receivers are local functions that would otherwise be collected.
    signals.task_prerun.connect(_before, weak=False)
    signals.task_postrun.connect(_after, weak=False)
