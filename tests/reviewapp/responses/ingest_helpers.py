"""Shared by the ingest tests: record builders, a JSONL writer, and a database a `manage.py`
subprocess can reach (the real command, real process, real commits)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

MANAGE_PY = Path(__file__).resolve().parents[3] / "manage.py"


def response_record(i: int, **overrides: Any) -> dict[str, Any]:
    """A valid response record, different for every i, using most of the schema."""
    record: dict[str, Any] = {
        "id": f"r-{i:06d}",
        "timestamp": f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:07Z",
        "query": f"How do I change the billing date of invoice {i}?",
        "response": f"Open Settings → Billing and pick a new date ({i}).",
        "tier": "cheap" if i % 3 else "capable",
        "model": "small-v2" if i % 3 else "large-v1",
        "router_label": "simple" if i % 3 else "complex",
        "router_confidence": round(0.5 + (i % 50) / 100, 2),
        "embedding": [round((i * 7 + k) % 13 / 13 - 0.5, 4) for k in range(8)],
        "segment": "billing",
        "cost_usd": 0.0001 * (i % 10),
    }
    record.update(overrides)
    return record


def write_jsonl(path: Path, records: list[Any]) -> Path:
    """Each item is a dict (dumped as JSON) or bytes/str written as the line itself."""
    with path.open("wb") as out:
        for record in records:
            if isinstance(record, bytes):
                line = record
            elif isinstance(record, str):
                line = record.encode()
            else:
                line = json.dumps(record, ensure_ascii=False).encode()
            out.write(line + b"\n")
    return path


class SubprocessDatabase:
    """The database a `manage.py` subprocess writes to.

    On PostgreSQL it is the test database itself (the test must use real commits:
    `transaction=True`). pytest-django's SQLite test database lives in memory, which no other
    process can see, so on SQLite the subprocess gets its own migrated file instead, read
    back here with sqlite3.
    """

    _sqlite_template: Path | None = None

    def __init__(self, tmp_path: Path) -> None:
        from django.db import connection

        self.vendor = connection.vendor
        settings = connection.settings_dict
        if self.vendor == "postgresql":
            user = quote(settings["USER"] or "")
            password = f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
            host = settings["HOST"] or "127.0.0.1"
            port = settings["PORT"] or 5432
            self.url = f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"
            self.sqlite_path: Path | None = None
        else:
            self.sqlite_path = tmp_path / "subprocess.sqlite3"
            shutil.copyfile(self._migrated_sqlite_template(), self.sqlite_path)
            self.url = f"sqlite:///{self.sqlite_path}"

    @classmethod
    def _migrated_sqlite_template(cls) -> Path:
        # Migrating takes seconds: do it once per test session and copy the file.
        if cls._sqlite_template is None:
            template = Path(tempfile.mkdtemp(prefix="longtail-test-")) / "migrated.sqlite3"
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{template}"}
            env["DJANGO_SETTINGS_MODULE"] = "reviewapp.settings_test"
            subprocess.run(
                [sys.executable, str(MANAGE_PY), "migrate", "--no-input", "-v0"],
                env=env,
                check=True,
                timeout=300,
                cwd=MANAGE_PY.parent,
            )
            db = sqlite3.connect(template)
            # One file, no -wal beside it, so a copy is the whole database.
            db.execute("PRAGMA journal_mode=DELETE")
            db.close()
            cls._sqlite_template = template
        return cls._sqlite_template

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "DJANGO_SETTINGS_MODULE": "reviewapp.settings_test",
            "PYTHONUNBUFFERED": "1",
        }
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, str(MANAGE_PY), *args]

    def manage(
        self,
        *args: str,
        stdin: bytes | None = None,
        check: bool = False,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args),
            input=stdin.decode() if stdin is not None else None,
            capture_output=True,
            text=True,
            env=env or self.env(),
            timeout=timeout,
            cwd=MANAGE_PY.parent,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read what the subprocess committed (`?` placeholders are rewritten for psycopg)."""
        if self.sqlite_path is None:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), params)
                return list(cursor.fetchall())
        db = sqlite3.connect(self.sqlite_path, timeout=20)
        try:
            return list(db.execute(sql, params).fetchall())
        finally:
            db.close()
