"""README screenshots, written only by `make screenshots` (LONGTAIL_SCREENSHOTS=1): a plain
test run must leave the working tree as it found it."""

from __future__ import annotations

import os
from pathlib import Path

SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
WRITE = os.environ.get("LONGTAIL_SCREENSHOTS", "").lower() in {"1", "true", "yes"}


def save_screenshot(page, name: str, *, full_page: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Save `page` as docs/screenshots/<name>.png under `make screenshots`; else nothing."""
    if not WRITE:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)
