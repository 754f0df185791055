"""sampling.estimate.rogan_gladen_interval: the corrected interval with Se and Sp from gold.

Hand-computed limits (arithmetic in the comments), the edges (known Se/Sp, Ŝe = 1, clipping,
bad input), and a reduced seeded version of benchmarks/rogan_gladen.py's coverage study.
"""

import math

import numpy as np
import pytest

from benchmarks.rogan_gladen import simulate_row
from sampling.estimate import rogan_gladen, rogan_gladen_interval

INF = float("inf")


def test_hand_computed_limits():
    # A = 0.80 in [0.77, 0.83]; Se = 0.95 on 100 gold reviews, Sp = 0.90 on 50; J = 0.85,
    # θ̂ = 0.7/0.85 = 0.823529. Jeffreys limits, Beta(x + ½, m − x + ½) quantiles from R's
    # qbeta: Se 95/100 in [0.893900, 0.980668], Sp 45/50 in [0.794645, 0.960806].
    # Below: A (0.80 − 0.77)/0.85 = 0.035294; Se → 0.980668: 0.823529 − 0.7/0.930668 = 0.028678;
    # Sp → 0.794645: 0.823529 − 0.594645/0.744645 = 0.024968; √(Σ²) = 0.051880 → 0.771650.
    # Above: A 0.035294; Se → 0.893900: 0.7/0.843900 − 0.823529 = 0.058194;
    # Sp → 0.960806: 0.760806/0.910806 − 0.823529 = 0.011781; √(Σ²) = 0.069072 → 0.892602.
    r = rogan_gladen_interval(
        0.80, 0.77, 0.83, sensitivity=0.95, gold_correct=100, specificity=0.90, gold_wrong=50
    )
    assert r.estimate == pytest.approx(0.7 / 0.85)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.771650, 0.892602), abs=2e-6)
    below = math.sqrt(0.035294**2 + 0.028678**2 + 0.024968**2)
    above = math.sqrt(0.035294**2 + 0.058194**2 + 0.011781**2)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.823529 - below, 0.823529 + above), abs=1e-5)
    assert (r.gold_correct, r.gold_wrong) == (100, 50)


def test_known_se_sp_carries_the_raw_endpoints_over():
    r = rogan_gladen_interval(
        0.80, 0.77, 0.83, sensitivity=0.95, gold_correct=INF, specificity=0.90, gold_wrong=INF
    )
    mapped = [float(rogan_gladen(x, 0.95, 0.90)) for x in (0.77, 0.83)]
    assert [r.ci_low, r.ci_high] == pytest.approx(mapped)


def test_fewer_gold_reviews_give_a_wider_interval():
    widths = []
    for gold in (20, 80, 320, 5000):
        r = rogan_gladen_interval(
            0.93, 0.92, 0.94, sensitivity=0.97, gold_correct=gold, specificity=0.96, gold_wrong=gold
        )
        widths.append(r.ci_high - r.ci_low)
    assert widths == sorted(widths, reverse=True)
    known = rogan_gladen_interval(
        0.93, 0.92, 0.94, sensitivity=0.97, gold_correct=INF, specificity=0.96, gold_wrong=INF
    )
    assert widths[-1] > known.ci_high - known.ci_low


def test_all_gold_right_still_has_uncertainty():
    # Ŝe = Ŝp = 1 from 40 + 10 gold reviews: a plain Wald variance would be 0 and the interval
    # the raw one. The Jeffreys lower limits of 40/40 and 10/10 (qbeta(0.025, n + ½, ½):
    # 0.939502, 0.782804) widen it both ways, upward more; the upper limits are 1 (no move).
    # Below: A 0.02; Sp → 0.782804: 0.9 − 0.682804/0.782804 = 0.027746; √ → 0.034203.
    # Above: A 0.02; Se → 0.939502: 0.9/0.939502 − 0.9 = 0.057954; √ → 0.061308.
    r = rogan_gladen_interval(
        0.90, 0.88, 0.92, sensitivity=1.0, gold_correct=40, specificity=1.0, gold_wrong=10
    )
    assert r.estimate == pytest.approx(0.90)
    assert (r.ci_low, r.ci_high) == pytest.approx((0.9 - 0.034203, 0.9 + 0.061308), abs=2e-6)


def test_clipped_to_zero_one():
    r = rogan_gladen_interval(
        0.995, 0.98, 1.0, sensitivity=0.97, gold_correct=60, specificity=0.95, gold_wrong=20
    )
    assert r.estimate == 1.0 and r.ci_high == 1.0 and 0.0 <= r.ci_low < 1.0
    r = rogan_gladen_interval(
        0.01, 0.0, 0.03, sensitivity=0.97, gold_correct=60, specificity=0.95, gold_wrong=20
    )
    assert r.estimate == 0.0 and r.ci_low == 0.0 and 0.0 < r.ci_high <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sensitivity": 0.5, "specificity": 0.5}, "must exceed 1"),
        ({"sensitivity": 1.2}, "must lie in"),
        ({"gold_correct": 0}, "≥ 1 gold review"),
        ({"observed_low": 0.95}, "observed_low ≤ observed"),
        ({"confidence": 1.0}, "confidence"),
    ],
)
def test_bad_input_is_refused_clearly(kwargs, message):
    args = {
        "observed": 0.9,
        "observed_low": 0.85,
        "observed_high": 0.95,
        "sensitivity": 0.95,
        "gold_correct": 50,
        "specificity": 0.9,
        "gold_wrong": 20,
    } | kwargs
    observed = args.pop("observed")
    low = args.pop("observed_low")
    high = args.pop("observed_high")
    with pytest.raises(ValueError, match=message):
        rogan_gladen_interval(observed, low, high, **args)


@pytest.mark.parametrize("error", [0.02, 0.05])
def test_reduced_coverage_study(error):
    # benchmarks/rogan_gladen.py with 300 repetitions, 50 gold reviews (the hard end: Ŝe = 1
    # half the time at 2 % error), a week of ~1,400 reviews at true accuracy 0.97. The full
    # study (2,000 per row) gives about 95 % there; with 300 the binomial sd is 1.3 points, so
    # 90–99.5 % still catches the old endpoint mapping, which covers about 30 % here.
    row = simulate_row(
        error=error, gold=50, accuracy=0.97, reviews=1400, reps=300, gold_wrong=0.25, seed=17
    )
    assert 0.90 <= row.covered <= 0.995
    assert row.covered_old < 0.6
    assert np.isfinite(row.width) and row.width < 0.15


def test_rounding_past_one_is_tolerated_not_a_crash():
    # Σ W_h·p̂_h of an all-correct domain can come out as 1 + 2e-16 (issue 9, item 1).
    r = rogan_gladen_interval(
        1.0 + 2e-16, 0.96, 1.0, sensitivity=0.98, gold_correct=60, specificity=0.97, gold_wrong=20
    )
    assert r.estimate == 1.0 and r.ci_high == 1.0 and 0.9 < r.ci_low < 1.0
