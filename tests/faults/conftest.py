"""Private, throwaway PostgreSQL and Redis servers for the fault tests.

The fault tests restart and stop their servers, so they never touch the shared ones on 5432 and
6379 (other suites use those at the same moment): each session gets its own PostgreSQL cluster
(initdb into a temporary directory) and its own redis-server, both on loopback and on free
ports. The code under test runs in subprocesses (manage.py, gunicorn, Celery workers, the
driver in scenario.py) pointed at them by DATABASE_URL and CELERY_BROKER_URL, so the test
process never switches its own database.

A missing binary skips on a developer's machine and FAILS in CI (CI=true).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
MANAGE_PY = ROOT / "manage.py"


def _missing(message: str) -> None:
    if IN_CI:
        pytest.fail(message + " — CI needs it for the fault tests", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Any, *, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll until predicate() is truthy; its value, or an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _pg_bindir() -> Path | None:
    configured = os.environ.get("LONGTAIL_PG_BINDIR")
    candidates = [configured] if configured else sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    for candidate in reversed(candidates):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of this test session only; restart it at will."""

    def __init__(self, bindir: Path, base: Path) -> None:
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.log = base / "postgres.log"
        self.port = free_port()
        # initdb refuses to run as root: run the server as the postgres system user then.
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(base, user="postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self.as_user, *args], check=True, timeout=timeout, capture_output=True, text=True
        )

    def _options(self) -> str:
        # fsync off: a crash of the machine is not what these tests simulate, a server restart
        # is, and that loses nothing committed either way.
        return (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=100"
        )

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()

    def pg_ctl(self, action: str, *extra: str) -> None:
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            *extra,
            action,
            "-o",
            self._options(),
        )

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every open session is cut, the server comes back."""
        self.pg_ctl("restart", "-m", "fast")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres", params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(statement, params)  # type: ignore[arg-type]
            return list(cursor.fetchall()) if cursor.description else []

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop", "-m", "immediate")


class PrivateRedis:
    """A redis-server of this test session only. It keeps an append-only file, as a broker in
    production should: a stop and start must not lose the messages it holds."""

    def __init__(self, binary: str, base: Path) -> None:
        self.binary = binary
        self.base = base
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.base / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.base),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=log,
            stderr=log,
        )
        wait_for(self.ping, timeout=30, what=f"redis-server on port {self.port}")

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Stop the server (SIGTERM: it flushes its append-only file and exits)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process = None


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = _pg_bindir()
    if bindir is None:
        _missing("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _missing("running as root needs runuser to start PostgreSQL as the postgres user")
    base = Path(tempfile.mkdtemp(prefix="longtail-faults-pg-"))
    server = PrivatePostgres(bindir, base)  # type: ignore[arg-type]
    try:
        server.init()
        yield server
    finally:
        server.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_template(private_postgres: PrivatePostgres) -> str:
    """A migrated database, copied for each test (CREATE DATABASE ... TEMPLATE takes ~0.1 s)."""
    private_postgres.sql("CREATE DATABASE longtail_template")
    env = subprocess_env(private_postgres.url("longtail_template"))
    subprocess.run(
        [sys.executable, str(MANAGE_PY), "migrate", "--no-input", "-v0"],
        env=env,
        check=True,
        timeout=300,
        cwd=ROOT,
    )
    return "longtail_template"


@pytest.fixture
def fault_db(private_postgres: PrivatePostgres, migrated_template: str) -> Iterator[str]:
    """The URL of a fresh, migrated database on the private cluster, for one test."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    private_postgres.sql(f"CREATE DATABASE {name} TEMPLATE {migrated_template}")
    yield private_postgres.url(name)
    private_postgres.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    binary = os.environ.get("LONGTAIL_REDIS_SERVER") or shutil.which("redis-server")
    if binary is None:
        _missing("redis-server is not installed")
    base = tmp_path / "redis"
    base.mkdir()
    server = PrivateRedis(binary, base)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


def subprocess_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "reviewapp.settings_test",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
        "CELERY_BROKER_URL": "",
    }
    env.update(extra)
    return env


def run_scenario(database_url: str, *args: str, timeout: float = 180) -> dict[str, Any]:
    """`python -m tests.faults.scenario ARGS` against `database_url`; its JSON line."""
    import json

    result = subprocess.run(
        [sys.executable, "-m", "tests.faults.scenario", *args],
        env=subprocess_env(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"scenario {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def _no_shared_broker_in_env(monkeypatch):
    """CI exports CELERY_BROKER_URL (the shared Redis), and Celery lets that variable override
    the broker a test's producer app is given: the tasks went to the shared Redis while the
    worker listened on the private one. Fault tests name their brokers explicitly."""
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
