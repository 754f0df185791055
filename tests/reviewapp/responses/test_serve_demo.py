"""`make run` ends with the address and the demo logins: serve_demo prints them once the
server listens, after Django's start-up banner."""

from __future__ import annotations

from io import StringIO

from django.core.management.base import OutputWrapper

from reviewapp.responses.management.commands.serve_demo import Command
from reviewapp.responses.management.commands.setup_demo import DEMO_USERS


def test_the_logins_are_the_last_lines_once_the_server_listens(monkeypatch):
    monkeypatch.setenv("DJANGO_RUNSERVER_HIDE_WARNING", "true")
    out = StringIO()
    command = Command(stdout=out)
    command.stdout = OutputWrapper(out)
    command.addr, command.port, command.protocol, command._raw_ipv6 = (
        "127.0.0.1",
        "8000",
        "http",
        False,
    )
    command.on_bind(8000)
    lines = out.getvalue().rstrip("\n").splitlines()
    assert "Starting development server at http://127.0.0.1:8000/" in lines
    assert lines[-len(DEMO_USERS) - 1].startswith("Longtail: http://127.0.0.1:8000/")
    for line, (username, password, _) in zip(lines[-len(DEMO_USERS) :], DEMO_USERS, strict=True):
        assert line.split()[:2] == [username, password]
