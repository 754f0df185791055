"""Risk-adjusted CUSUM and the below-target rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sampling.detect import (
    _running_max_paths,
    below_target,
    calibrate_h,
    cusum,
    cusum_weights,
    run_lengths,
)


def test_weights_by_hand() -> None:
    # R = 2, p0 = 0.1: wrong → ln 2 − ln 1.1; right → −ln 1.1.
    w = cusum_weights([1, 0], [0.1, 0.1], odds_ratio=2.0)
    np.testing.assert_allclose(w, [math.log(2) - math.log(1.1), -math.log(1.1)])
    # Higher baseline risk → a wrong answer is less surprising.
    assert cusum_weights([1], [0.3])[0] < cusum_weights([1], [0.05])[0]


def test_cusum_hand_computed_sequence() -> None:
    up, down = math.log(2 / 1.1), -math.log(1.1)  # 0.5978, −0.0953
    result = cusum([0, 1, 0, 1, 1], [0.1] * 5, h=1.0)
    expected = [0.0, up, up + down, 2 * up + down, 3 * up + down]
    np.testing.assert_allclose(result.statistic, expected)
    assert result.first_alarm == 3  # 1.1004 ≥ 1.0 at the fourth review
    assert cusum([0, 0, 0], [0.2] * 3, h=1.0).first_alarm is None
    assert cusum([1], [0.1]).first_alarm is None  # no threshold, no alarm


def test_invalid_baseline_rejected() -> None:
    with pytest.raises(ValueError):
        cusum_weights([1], [0.0])


def test_calibrated_h_gives_the_target_in_control_arl() -> None:
    pool = np.array([0.03, 0.03, 0.05, 0.10, 0.30])  # strata baselines of one tier
    cal = calibrate_h(pool, 500, n_runs=1000, seed=1)
    assert cal.arl == pytest.approx(500, rel=0.02)
    assert cal.censored_share < 0.01
    # Independent in-control runs: ARL within 12 % (MC SE ≈ 4 %).
    paths = _running_max_paths(pool, 2.0, 2000, 4000, np.random.default_rng(2))
    assert run_lengths(paths, cal.h).mean() == pytest.approx(500, rel=0.12)
    # Out of control (odds doubled) the chart alarms much sooner.
    p1 = 2 * pool / (1 + pool)
    rng = np.random.default_rng(3)
    delays = []
    for _ in range(200):
        p = p1[rng.integers(0, len(pool), 2000)]
        x = rng.random(2000) < p
        first = cusum(x, pool[np.searchsorted(p1, p)], h=cal.h).first_alarm
        delays.append(2000 if first is None else first + 1)
    assert np.mean(delays) < 150


def test_below_target() -> None:
    assert below_target((0.80, 0.88), 0.90)
    assert not below_target((0.85, 0.92), 0.90)
    assert not below_target((0.85, 0.90), 0.90)  # touching the target is not below it
    assert not below_target((float("nan"), float("nan")), 0.90)
