"""Risk-adjusted CUSUM and the below-target rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sampling.detect import (
    _count_alarms,
    _in_control_weights,
    _records,
    _running_max_paths,
    below_target,
    calibrate_h,
    calibrate_h_for_false_alarms,
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


def test_cusum_restart_hand_computed() -> None:
    up = math.log(2 / 1.1)  # 0.5978; a correct review adds −ln 1.1 = −0.0953
    # Without restart: S = up, 2up = 1.1956 (≥ 1: alarm), 2up + down, 3up + down, 4up + down;
    # the path stays above h, so there is one up-crossing.
    plain = cusum([1, 1, 0, 1, 1], [0.1] * 5, h=1.0)
    assert plain.alarms.tolist() == [1] and plain.first_alarm == 1
    # With restart: alarm at index 1 (S = 1.1956), reset to 0; index 2: max(0, −0.0953) = 0;
    # index 3: up; index 4: 2up = 1.1956 -> second alarm.
    res = cusum([1, 1, 0, 1, 1], [0.1] * 5, h=1.0, restart=True)
    assert res.alarms.tolist() == [1, 4] and res.first_alarm == 1 and res.restart
    np.testing.assert_allclose(res.statistic, [up, 2 * up, 0.0, up, 2 * up])
    # Without restart, episodes: the path dips below h and crosses again.
    dips = cusum([1, 1, 0, 0, 0, 0, 0, 1], [0.1] * 8, h=1.0)
    # S: up, 2up, 2up+d, 2up+2d (1.0050), 2up+3d (0.9097 < 1), ..., then +up -> crossing.
    assert dips.alarms.tolist() == [1, 7]
    assert cusum([1], [0.1]).alarms.size == 0
    with pytest.raises(ValueError):
        cusum([1], [0.1], restart=True)  # restart needs h


def test_records_give_the_same_run_lengths_as_full_paths() -> None:
    # The memory-bounded records reproduce run_lengths on the full running-maximum paths.
    pool = np.array([0.02, 0.05, 0.2])
    rec = _records(pool, 2.0, 37, 500, seed=5, max_bytes=8 * 500 * 6)  # chunks of 6 runs
    rng = np.random.default_rng(5)
    full = []
    for start in range(0, 37, 6):  # the same chunks and random stream as _records
        w = _in_control_weights(pool, 2.0, min(6, 37 - start), 500, rng)
        full += [np.maximum.accumulate(_path(row)) for row in w]
    paths = np.array(full)
    for h in (0.5, 1.5, 2.5, 4.0):
        np.testing.assert_array_equal(rec.run_lengths(h), run_lengths(paths, h))


def _path(w: np.ndarray) -> np.ndarray:
    s, out = 0.0, np.empty_like(w)
    for i, wi in enumerate(w):
        s = max(0.0, s + wi)
        out[i] = s
    return out


def test_count_alarms_matches_restarting_cusum() -> None:
    rng = np.random.default_rng(9)
    p = np.full((4, 300), 0.1)
    x = rng.random((4, 300)) < 0.15
    w = cusum_weights(x, p)
    counts = _count_alarms(w, np.array([1.0, 2.0, 3.0, 1.0]))
    for k, h in enumerate([1.0, 2.0, 3.0, 1.0]):
        assert counts[k] == cusum(x[k], p[k], h=h, restart=True).alarms.size
    # Monotone in h on the same weights (the property the calibration's bisection uses).
    c = [_count_alarms(w, np.full(4, h)).sum() for h in np.linspace(0.5, 6, 23)]
    assert all(a >= b for a, b in zip(c, c[1:], strict=False))


def test_false_alarm_calibration_holds_on_independent_periods() -> None:
    pool = np.array([0.03, 0.05, 0.10, 0.30])
    cal = calibrate_h_for_false_alarms(pool, 2000, 1, 0.95, n_runs=400, seed=1)
    assert cal.share >= 0.95 and cal.reviews_per_period == 2000 and cal.max_alarms == 1
    # Fresh in-control periods: the share with ≤ 1 alarm is near 95 % (MC SE ≈ 1.5 points).
    rng = np.random.default_rng(7)
    ok = []
    for _ in range(300):
        p = pool[rng.integers(0, 4, 2000)]
        x = rng.random(2000) < p
        ok.append(cusum(x, p, h=cal.h, restart=True).alarms.size <= 1)
    assert np.mean(ok) == pytest.approx(0.95, abs=0.045)
    # Allowing more alarms, or asking for a smaller share, lowers h.
    assert calibrate_h_for_false_alarms(pool, 2000, 3, 0.95, n_runs=400, seed=1).h < cal.h
    assert calibrate_h_for_false_alarms(pool, 2000, 1, 0.5, n_runs=400, seed=1).h < cal.h
    # Memory-bounded: chunks of 7 runs (7 × 500 floats) at a time.
    small = calibrate_h_for_false_alarms(
        pool, 500, 1, 0.9, n_runs=50, seed=3, max_bytes=8 * 500 * 7
    )
    assert small.n_runs == 50 and small.share >= 0.9
    with pytest.raises(ValueError):
        calibrate_h_for_false_alarms(pool, 100, share=1.0)


def test_calibrate_h_is_memory_bounded() -> None:
    # 40 runs × 4000 reviews in chunks of 2 runs: the same ARL target within MC error.
    pool = np.array([0.03, 0.05, 0.10, 0.30])
    a = calibrate_h(pool, 300, n_runs=400, seed=4, max_bytes=8 * 2400 * 2)
    assert a.arl == pytest.approx(300, rel=0.02)
    b = calibrate_h(pool, 300, n_runs=400, seed=4)
    assert a.h == pytest.approx(b.h, rel=0.15)


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
