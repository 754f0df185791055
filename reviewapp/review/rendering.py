"""Untrusted text (LLM answers, shadow answers) as safe HTML.

Two layers, because either alone has failed somewhere before: markdown-it-py with HTML disabled
never emits the input's own tags (they come out as escaped text), and nh3 (ammonia) then keeps
only an allow-list of tags and attributes and only http/https/mailto links. A `javascript:`
link, an `onerror` attribute or a `<script>` can therefore never reach the page live.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
# Tables and strikethrough are common in LLM answers.
_markdown.enable(["table", "strikethrough"])

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "a",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"
# Answers are read, not archived: bound the work a pathological answer can cause.
MAX_CHARS = 200_000


def markdown_safe(text: str | None) -> str:
    """Render Markdown to sanitised HTML (a str safe to mark safe in a template)."""
    if not text:
        return ""
    html = _markdown.render(text[:MAX_CHARS])
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )
