"""Blind mode leaves no trace of tier, model, confidence, OOD or stratum in the reviewer's HTML,
and an answer built to attack the page renders inert."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from reviewapp.review.rendering import markdown_safe

from .conftest import (
    SECRET_CONFIDENCE,
    SECRET_MODEL,
    SECRET_SHADOW_MODEL,
    SECRET_STRATUM,
    SECRET_TIER,
)

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}
ATTACK = (
    "Here you go.\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
    "[click](javascript:alert(1)) and [also](JaVaScRiPt:alert(2)) "
    '<a href="javascript:alert(3)">raw link</a> <svg onload=alert(4)>\n\n'
    "[fine](https://example.com/docs)"
)
SECRETS = [
    SECRET_TIER,
    SECRET_MODEL,
    SECRET_SHADOW_MODEL,
    str(SECRET_CONFIDENCE),
    SECRET_STRATUM,
    "band-high-qq",
    "ood-edge-qq",
    "97.3125",  # the OOD percentile
    "0.1235",  # the uncertainty
]


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser would build them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _assert_inert(html: str) -> None:
    tags = _tags(html)
    scripts = [attrs.get("src") for tag, attrs in tags if tag == "script"]
    # The page's own scripts (static files) only; never an inline or injected one.
    assert all(src and src.startswith("/static/") for src in scripts), scripts
    for tag, attrs in tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("href", "src", "action", "formaction"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), (tag, attrs)
    assert not any(tag in {"img", "svg", "iframe", "object", "embed"} for tag, _ in tags)


def _pages(client, queue):
    """The full page, and the fragments a submission and an undo return."""
    page = client.get(reverse("review:queue", args=[queue.pk]))
    item = page.context["item"]["pk"]
    fragment = client.post(
        reverse("review:queue", args=[queue.pk]), {"item": item, "verdict": "correct"}, **HX
    )
    undo = client.post(reverse("review:undo", args=[queue.pk]), **HX)
    history = client.get(reverse("review:history"))
    return [r.content.decode() for r in (page, fragment, undo, history)]


@pytest.mark.parametrize("shadow", [False, True])
def test_a_blind_page_names_no_tier_model_confidence_or_stratum(
    client, make_queue, reviewer, shadow
):
    queue = make_queue(3, blind=True, shadow=shadow)
    client.force_login(reviewer)
    for html in _pages(client, queue):
        for secret in SECRETS:
            assert secret not in html, secret


def test_a_page_that_is_not_blind_shows_them(client, make_queue, reviewer):
    """The control: the same data with blind off does reach the page, so the test above is
    looking at the right strings."""
    queue = make_queue(2, blind=False)
    client.force_login(reviewer)
    html = client.get(reverse("review:queue", args=[queue.pk])).content.decode()
    for secret in (SECRET_TIER, SECRET_MODEL, str(SECRET_CONFIDENCE), SECRET_STRATUM):
        assert secret in html


@pytest.mark.parametrize("shadow", [False, True])
def test_an_attacking_answer_renders_inert(client, make_queue, reviewer, shadow):
    queue = make_queue(2, answers=[ATTACK], shadow=shadow)
    client.force_login(reviewer)
    page = client.get(reverse("review:queue", args=[queue.pk]))
    html = page.content.decode()
    _assert_inert(html)
    # The text is there for the reviewer to read (escaped), and the safe link still works.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    links = [
        attrs
        for tag, attrs in _tags(html)
        if tag == "a" and "example.com" in (attrs.get("href") or "")
    ]
    assert links == [{"href": "https://example.com/docs", "rel": "noopener noreferrer nofollow"}]
    for html in _pages(client, queue):
        _assert_inert(html)


def test_an_attacking_query_and_context_render_inert(client, make_queue, reviewer):
    queue = make_queue(
        1,
        metadata={"messages": [{"role": "<script>x</script>", "content": ATTACK}]},
    )
    from reviewapp.responses.models import Response

    Response.objects.update(query=ATTACK)
    client.force_login(reviewer)
    _assert_inert(client.get(reverse("review:queue", args=[queue.pk])).content.decode())


def test_markdown_safe_keeps_formatting_and_drops_everything_live():
    html = markdown_safe(
        ATTACK + "\n\n**bold** `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n[m](mailto:x@y.z)"
    )
    _assert_inert(html)
    assert "<strong>bold</strong>" in html and "<code>code</code>" in html and "<table>" in html
    assert 'href="mailto:x@y.z"' in html
    assert markdown_safe("") == "" and markdown_safe(None) == ""
