"""sampling.allocation: allocation methods, constraints, rounding and the budget planner."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.allocation import (
    AllocationError,
    Target,
    allocate,
    beta_posterior_mean,
    beta_posterior_variance,
    design_allocation,
    expected_half_width,
    largest_remainder,
    neyman_history,
    oversampling_weights,
    plan_budget,
)
from sampling.strata import Strata, assign_strata


def test_beta_posterior_variance_hand_values():
    # Beta(1,1): ab/((a+b)(a+b+1)) = 1/(2·3) = 1/6.
    assert beta_posterior_variance(0, 0) == pytest.approx(1 / 6)
    # 8 successes, 2 failures -> Beta(9,3): 27/(12·13) = 0.173076...
    assert beta_posterior_variance(8, 2) == pytest.approx(27 / 156)
    assert beta_posterior_mean(8, 2) == pytest.approx(0.75)
    # With much history it tends to p(1-p).
    assert beta_posterior_variance(9000, 1000) == pytest.approx(0.09, rel=1e-3)


def test_largest_remainder_hand_example():
    # 10 seats over shares 4.4, 3.3, 2.3: floors 4,3,2 (=9), one left -> largest fraction .4.
    assert largest_remainder([4.4, 3.3, 2.3], 10).tolist() == [5, 3, 2]
    # Ties go to the lower index.
    assert largest_remainder([0.5, 0.5], 1).tolist() == [1, 0]
    # Upper bounds are respected.
    assert largest_remainder([1.9, 1.1], 3, upper=[1, 5]).tolist() == [1, 2]


def test_proportional_hand_example():
    # n = 100 over N = 600, 300, 100: exactly 60, 30, 10.
    a = allocate([600, 300, 100], 100)
    assert a.n.tolist() == [60, 30, 10]
    assert a.inclusion_probability.tolist() == [0.1, 0.1, 0.1]


def test_floor_lifts_small_strata_and_the_rest_is_proportional():
    # N = 1000, 200, 50, 10, 3, 0 and n = 100, floor 5. The floors are 5, 5, 5, 5, 3, 0
    # (N = 3 caps its floor). Strata 2-4 get their floors (13 in all) because their
    # proportional share is below 5 at every feasible t; strata 0-1 share the other 87 in the
    # ratio 1000:200 -> 72.5 and 14.5 (check: stratum 2 would get 87·50/1200 = 3.6 < 5).
    # Largest remainder: floors 72 + 14 = 86, one unit left, tie .5/.5 -> lower index.
    a = allocate([1000, 200, 50, 10, 3, 0], 100)
    assert a.n.tolist() == [73, 14, 5, 5, 3, 0]
    assert a.total == 100


def test_equal_and_neyman():
    N = [1000, 1000, 1000]
    assert allocate(N, 90, method="equal").n.tolist() == [30, 30, 30]
    # Neyman with S = 0.1, 0.2, 0.3: n_h ∝ N_h S_h -> 15, 30, 45.
    assert allocate(N, 90, method="neyman", sd=[0.1, 0.2, 0.3]).n.tolist() == [15, 30, 45]
    # No history at all: every S_h is the same, so Neyman = proportional.
    assert allocate([500, 300, 200], 100, method="neyman").n.tolist() == [50, 30, 20]


def test_neyman_from_review_history():
    # Stratum 0 has 98/100 correct: Beta(99, 3), S² = 297/(102·103) = 0.02827, S = 0.1681.
    # Stratum 1 has 50/100: Beta(51, 51), S² = 2601/(102·103) = 0.2476, S = 0.4976.
    # Equal N, so n_h ∝ S_h: 100·0.1681/0.6657 = 25.3 and 74.7 -> 25, 75.
    a = allocate([1000, 1000], 100, method="neyman", successes=[98, 50], failures=[2, 50])
    s = np.sqrt(beta_posterior_variance([98, 50], [2, 50]))
    expected = 100 * s / s.sum()
    assert np.abs(a.n - expected).max() < 1
    assert a.n.tolist() == [25, 75]


def test_neyman_history_caps_what_older_reviews_weigh():
    # Stratum 0: 1,000 older reviews all correct, 10 recent with 5 wrong. a_0 = 20/1000, so
    # the older ones weigh 20 pseudo-reviews: (5 + 20, 5 + 0).
    # Stratum 1: 8 older reviews (below the cap, a_0 = 1) and none recent: (6, 2) as they are.
    # Stratum 2: nothing at all: (0, 0), i.e. Beta(1, 1) and S² = 1/6.
    s, f = neyman_history([5, 0, 0], [5, 0, 0], [1000, 6, 0], [0, 2, 0], prior_reviews=20)
    assert s.tolist() == pytest.approx([25.0, 6.0, 0.0])
    assert f.tolist() == pytest.approx([5.0, 2.0, 0.0])
    # Fractional (partial-credit) counts keep their older rate: 30.5/40 scaled to 20.
    s, f = neyman_history([0.0], [0.0], [30.5], [9.5], prior_reviews=20)
    assert (s[0], f[0]) == pytest.approx((15.25, 4.75))
    # prior 0 = the window only; prior inf = all history in full (the old behaviour).
    assert neyman_history([1], [2], [50], [50], prior_reviews=0)[0].tolist() == [1.0]
    assert neyman_history([1], [2], [50], [50], prior_reviews=np.inf)[1].tolist() == [52.0]


def test_neyman_history_lets_a_drifted_stratum_take_its_share_back():
    # A stratum right 2,000 times, then wrong on 10 of its 20 recent reviews, beside a stratum
    # of steady 80 % accuracy. Over all history its S_h stays ≈ 0.07 and Neyman gives it 16
    # of 100; over the window (+ capped prior) S_h ≈ 0.43 and it gets more than the 80 %
    # stratum (S ≈ 0.41): 52 of 100.
    N, budget = [1000, 1000], 100
    recent_s, recent_f = np.array([10.0, 16.0]), np.array([10.0, 4.0])
    older_s, older_f = np.array([2000.0, 1600.0]), np.array([0.0, 400.0])
    everything = allocate(
        N, budget, method="neyman", successes=recent_s + older_s, failures=recent_f + older_f
    )
    s, f = neyman_history(recent_s, recent_f, older_s, older_f)
    windowed = allocate(N, budget, method="neyman", successes=s, failures=f)
    assert everything.n[0] < 25
    assert windowed.n[0] > windowed.n[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1], [1], [1, 2], [1, 2]), "one shape"),
        (([1], [-1], [0], [0]), "≥ 0"),
        (([1], [np.nan], [0], [0]), "finite"),
    ],
)
def test_neyman_history_refuses_bad_counts(args, message):
    with pytest.raises(ValueError, match=message):
        neyman_history(*args)
    with pytest.raises(ValueError, match="prior_reviews"):
        neyman_history([1], [1], [1], [1], prior_reviews=-1)


def test_oversampling_weights_and_manual_quotas():
    # Weights 1 and 4 over equal N: shares 1:4 -> 20, 80.
    assert allocate([1000, 1000], 100, weights=[1, 4]).n.tolist() == [20, 80]
    # Manual quotas summing to the budget are kept exactly.
    assert allocate([1000, 500, 80], 100, method="manual", quotas=[50, 30, 20]).n.tolist() == [
        50,
        30,
        20,
    ]


def test_caps_at_population_and_maximum():
    # Stratum 1 wants 50 by proportion but has only 10 items: capped, rest spread.
    a = allocate([90, 10], 60, method="equal")
    assert a.n.tolist() == [50, 10]
    a = allocate([1000, 1000], 100, maximum=30)
    assert a.n.tolist() == [30, 30]  # the maxima stop the total below the budget
    assert a.total == 60 and a.budget == 100
    a = allocate([1000, 1000, 1000], 100, maximum=[10, 1000, 1000])
    assert a.n.tolist() == [10, 45, 45]


def test_everything_taken_when_population_below_budget():
    a = allocate([3, 4, 0], 100)
    assert a.n.tolist() == [3, 4, 0]


def test_floors_above_budget_raise():
    with pytest.raises(AllocationError, match="floors need 15"):
        allocate([100, 100, 100], 10, floor=5)
    with pytest.raises(ValueError):
        allocate([100], 10, floor=1)


def test_zero_share_strata_get_their_floor():
    a = allocate([1000, 1000], 50, weights=[1, 0])
    assert a.n.tolist() == [45, 5]


@settings(max_examples=300, deadline=None)
@given(
    N=st.lists(st.integers(0, 5000), min_size=1, max_size=25),
    n=st.integers(0, 20000),
    floor=st.integers(2, 10),
    method=st.sampled_from(["proportional", "equal", "neyman"]),
    data=st.data(),
)
def test_allocation_invariants(N, n, floor, method, data):
    H = len(N)
    weights = data.draw(st.lists(st.floats(0.0, 20.0), min_size=H, max_size=H))
    sd = data.draw(st.lists(st.floats(0.0, 0.5), min_size=H, max_size=H))
    maximum = data.draw(st.one_of(st.none(), st.integers(2, 3000)))
    Narr = np.array(N)
    cap = np.minimum(Narr, maximum) if maximum is not None else Narr
    lo = np.minimum(floor, cap)
    try:
        a = allocate(N, n, method=method, weights=weights, sd=sd, floor=floor, maximum=maximum)
    except AllocationError:
        assert lo.sum() > n and cap.sum() > n
        return
    assert (a.n >= 0).all()
    assert (a.n <= cap).all()
    assert (a.n >= lo).all()
    if cap.sum() <= n:
        assert a.n.tolist() == cap.tolist()
    else:
        assert a.total == n
    pi = a.inclusion_probability
    assert ((pi > 0) & (pi <= 1))[Narr > 0].all()


@settings(max_examples=200, deadline=None)
@given(
    N=st.lists(st.integers(50, 5000), min_size=1, max_size=10),
    n_frac=st.floats(0.05, 0.5),
)
def test_proportional_is_within_one_of_exact_share_when_no_constraint_binds(N, n_frac):
    n = int(sum(N) * n_frac)
    exact = n * np.array(N) / sum(N)
    if exact.min() < 6:
        return
    a = allocate(N, n, floor=2)
    assert np.abs(a.n - exact).max() < 1


def test_expected_half_width_hand_value():
    # One stratum, N huge, n = 100, S² = 0.25: 1.959964·√(0.25/100·(1 − 1e-7)) ≈ 0.0979982.
    hw = expected_half_width([10**9], [100], [0.25])
    assert hw == pytest.approx(1.959964 * 0.05, rel=1e-5)
    assert expected_half_width([100, 100], [10, 0], [0.25, 0.25]) == float("inf")


def test_planner_single_stratum_hand_value():
    # Beta(1,1): S² = 1/6. Need 1.959964²/(6n) ≤ 0.03² -> n ≥ 3.841459/(6·0.0009) = 711.4.
    N = np.array([10**7])
    plan = plan_budget(N, [Target("all", np.array([True]), 0.03)])
    assert plan.feasible
    assert plan.budget == 712
    assert plan.half_widths[0] <= 0.03


def test_planner_meets_every_target_and_is_minimal():
    N = np.array([30000, 3000, 500, 12000, 800])
    tier = np.array(["cheap", "cheap", "cheap", "capable", "capable"])
    succ = np.array([950, 60, 10, 400, 20])
    fail = np.array([50, 40, 20, 20, 10])
    targets = [
        Target("cheap", tier == "cheap", 0.03),
        Target("capable", tier == "capable", 0.05),
    ]
    plan = plan_budget(N, targets, successes=succ, failures=fail)
    assert plan.feasible
    assert all(h <= t.half_width for h, t in zip(plan.half_widths, targets, strict=True))
    s2 = beta_posterior_variance(succ, fail)
    smaller = allocate(N, plan.budget - 1, method="neyman", successes=succ, failures=fail)
    assert any(expected_half_width(N, smaller.n, s2, t.mask) > t.half_width for t in targets)


def test_planner_reports_infeasible_target():
    N = np.array([20, 20])
    plan = plan_budget(N, [Target("x", np.array([True, True]), 0.0001)], max_budget=30)
    assert not plan.feasible
    assert plan.budget == 30


def _strata_tier_band() -> Strata:
    # cheap|high 100, cheap|low 300, capable|high 50, capable|low 550.
    dims = {
        "tier": ["cheap"] * 400 + ["capable"] * 600,
        "uncertainty": ["high"] * 100 + ["low"] * 300 + ["high"] * 50 + ["low"] * 550,
    }
    return assign_strata(dims)


def test_oversampling_weights_multiply_matching_patterns():
    strata = _strata_tier_band()
    w = dict(zip(strata.keys(), oversampling_weights(strata, {
        "tier=cheap&uncertainty=high": 8.0,  # one stratum
        "uncertainty=high": 3.0,  # two strata: cheap|high gets 8 × 3
        "capable|low": 0.5,  # a full key
        "ood=out": 10.0,  # a dimension the strata lack: matches nothing
    }), strict=True))  # fmt: skip
    assert w == {"cheap|high": 24.0, "cheap|low": 1.0, "capable|high": 3.0, "capable|low": 0.5}
    assert oversampling_weights(strata, None).tolist() == [1.0] * 4


def test_design_allocation_is_allocate_with_weights_and_lowers_the_floor_when_it_must():
    strata = _strata_tier_band()
    over = {"tier=cheap&uncertainty=high": 8.0}
    a = design_allocation(strata, 100, method="proportional", oversampling=over, floor=5)
    b = allocate(strata.sizes, 100, weights=oversampling_weights(strata, over), floor=5)
    assert a.n.tolist() == b.n.tolist()
    # 4 strata × floor 5 = 20 > 10: the floor drops to 2 instead of raising.
    small = design_allocation(strata, 10, method="neyman", floor=5)
    assert small.total == 10 and small.n.min() >= 2
    with pytest.raises(AllocationError):
        allocate(strata.sizes, 10, method="neyman", floor=5)
