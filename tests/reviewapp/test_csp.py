"""A strict Content-Security-Policy on every page, and templates that need nothing looser: no
inline <script>, <style>, style="" or on*="" handler anywhere in templates/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
EXPECTED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def _policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {d[0]: (d[1] if len(d) > 1 else "") for d in directives}


def _plain_paths(resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    """Every URL of the project that takes no argument (the admin's included)."""
    resolver = resolver or get_resolver()
    paths: list[str] = []
    for pattern in resolver.url_patterns:
        route = str(pattern.pattern)
        takes_arguments = "<" in route or "(?P" in route or route.startswith("^")
        if takes_arguments and not (isinstance(pattern, URLResolver) and route == "admin/"):
            continue
        route = route.lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            paths.extend(_plain_paths(pattern, prefix + route))
        elif isinstance(pattern, URLPattern):
            paths.append("/" + prefix + route)
    return sorted(set(paths))


def test_every_page_sends_the_strict_policy(client, qa_lead):
    qa_lead.is_staff = qa_lead.is_superuser = True
    qa_lead.save()
    client.force_login(qa_lead)
    paths = _plain_paths()
    assert len(paths) > 20, paths
    checked = []
    for path in paths:
        if path.rstrip("/").endswith("logout"):
            continue
        response = client.get(path)
        assert response.status_code < 500, path
        # django-csp leaves DEBUG's technical 404/500 pages alone; every other answer has it.
        if response.status_code == 404:
            continue
        assert _policy(response) == EXPECTED, path
        checked.append(path)
    assert len(checked) > 20
    assert "/admin/" in checked and "/reports/" in checked and "/api/v1/plans/" in checked


def test_anonymous_pages_and_api_errors_send_it_too(client, api_client):
    assert _policy(client.get("/login/")) == EXPECTED
    assert _policy(client.get("/reports/")) == EXPECTED  # the redirect to the login page
    assert _policy(api_client.get("/api/v1/plans/")) == EXPECTED  # 401/403


INLINE = [
    (re.compile(r"<style", re.I), "an inline <style> block"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_no_template_needs_an_inline_script_or_style():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                # json_script's <script type="application/json"> is data, not code.
                if "application/json" in text[match.start() : match.start() + 80]:
                    continue
                found.append(f"{path.relative_to(TEMPLATES)}: {what}: {match.group(0)!r}")
    assert found == []


def test_htmx_is_told_not_to_inject_its_indicator_style(client):
    page = client.get("/login/").content.decode()
    assert '"includeIndicatorStyles": false' in page
