"""Neyman allocation follows recent reviews: the last NEYMAN_WINDOW_DAYS days count in full,
older ones weigh at most 20 reviews per stratum (sampling.allocation.neyman_history)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from reviewapp.review.selectors import plan_preview
from reviewapp.review.services import (
    allocation_history,
    item_claim,
    plan_design,
    queue_build,
    review_submit,
)
from sampling.allocation import allocate

from .conftest import CONFIG, DAY, make_responses

OLD_DAY = DAY - dt.timedelta(days=20)  # outside the default 14-day window
RECENT_DAY = DAY - dt.timedelta(days=3)
KEY = "cheap|low|in"


def _review_all(plan, day: dt.date, reviewer, verdict: str) -> int:
    queue, _ = queue_build(plan=plan, day=day)
    done = 0
    while (item := item_claim(queue=queue, reviewer=reviewer)) is not None:
        review_submit(item=item, reviewer=reviewer, verdict=verdict)
        done += 1
    return done


@pytest.fixture
def history(plan, traffic, reviewer):
    """30 reviews of KEY, all correct, 20 days before DAY; 10, all wrong, 3 days before."""
    make_responses(traffic, OLD_DAY, {("cheap", 0.9, 50.0): 30}, prefix="old")
    make_responses(traffic, RECENT_DAY, {("cheap", 0.9, 50.0): 10}, prefix="recent")
    assert _review_all(plan, OLD_DAY, reviewer, "correct") == 30
    assert _review_all(plan, RECENT_DAY, reviewer, "incorrect") == 10
    return plan


def _counts(design, key: str) -> tuple[float, float]:
    h = design.strata.keys().index(key)
    return float(design.successes[h]), float(design.failures[h])


def test_older_reviews_weigh_at_most_twenty(history):
    design = plan_design(version=history.current_version, day=DAY)
    # The window's 10 wrong reviews in full; the 30 older right ones scaled to 20.
    assert _counts(design, KEY) == pytest.approx((20.0, 10.0))
    # The allocation is Neyman on exactly these counts.
    version = history.current_version
    expected = allocate(
        design.strata.sizes,
        version.daily_budget,
        method="neyman",
        successes=design.successes,
        failures=design.failures,
        floor=version.stratum_min,
    )
    assert design.allocation.n.tolist() == expected.n.tolist()


def test_window_setting(history, settings):
    keys = plan_design(version=history.current_version, day=DAY).strata.keys()
    h = keys.index(KEY)
    # 0 = all history in full (the behaviour before the window).
    settings.LONGTAIL = {**settings.LONGTAIL, "NEYMAN_WINDOW_DAYS": 0}
    s, f = allocation_history(plan=history, keys=keys, day=DAY)
    assert (s[h], f[h]) == (30.0, 10.0)
    # A window of 2 days holds neither day: both are older, 40 reviews scaled to 20.
    settings.LONGTAIL = {**settings.LONGTAIL, "NEYMAN_WINDOW_DAYS": 2}
    s, f = allocation_history(plan=history, keys=keys, day=DAY)
    assert (s[h], f[h]) == pytest.approx((15.0, 5.0))
    # A stratum never reviewed, and the day of the reviews itself, contribute nothing.
    s, f = allocation_history(plan=history, keys=["capable|high|edge"], day=OLD_DAY)
    assert s.tolist() == f.tolist() == [0.0]
    settings.LONGTAIL = {**settings.LONGTAIL, "NEYMAN_WINDOW_DAYS": -1}
    with pytest.raises(ValueError, match="NEYMAN_WINDOW_DAYS"):
        allocation_history(plan=history, keys=keys, day=DAY)


def test_preview_uses_the_history_the_allocation_used(history, traffic):
    preview = plan_preview(config=dict(CONFIG), sources=[traffic], plan=history)
    assert preview.day == DAY
    assert preview.reviews_in_history == pytest.approx(30.0)  # 20 + 10, not 40
    assert preview.history_window_days == 14
    row = next(r for r in preview.strata if r["key"] == KEY)
    assert row["reviews"] == pytest.approx(30.0)
    assert np.isfinite(preview.overall_half_width)
