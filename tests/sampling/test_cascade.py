"""sampling.cascade: accuracy and cost by escalation threshold on a hand-made design."""

import numpy as np
import pytest

from sampling.cascade import cascade_advice
from sampling.estimate import stratified_estimate

# Cheap tier, two strata. Stratum 0: N 800, 200 reviewed (π = 1/4), all confident (0.9) and
# correct. Stratum 1: N 200, 40 reviewed (π = 1/5): five copies of the 8 self-confidences and
# scores below; the two least confident answers and one at 0.3 are wrong. Per stratum-1 block
# of 8 the fractions are what matter, so the hand arithmetic below uses one block.
N = [800, 200]
STRATUM = [0] * 200 + [1] * 40
CONF = [0.9] * 200 + [0.2, 0.2, 0.3, 0.3, 0.6, 0.6, 0.8, 0.8] * 5
SCORES = [1.0] * 200 + [0, 0, 0, 1, 1, 1, 1, 1] * 5
THRESHOLDS = [0.0, 0.25, 0.35, 0.65, 0.85, 0.95]


def advice(**kw):
    args = {
        "capable_accuracy": 0.96,
        "capable_variance": 0.0,
        "cheap_cost": 1.0,
        "capable_cost": 4.0,
        "target": 0.96,
        "thresholds": THRESHOLDS,
    }
    args.update(kw)
    return cascade_advice(N, STRATUM, SCORES, CONF, **args)


def test_accuracy_share_and_cost_by_hand():
    rows = {r.threshold: r for r in advice().rows}
    # t = 0: nothing escalated: 0.8·1 + 0.2·5/8 = 0.925 (the naive mean 225/240 is not it)
    assert rows[0.0].accuracy == pytest.approx(0.925)
    assert rows[0.0].escalation_share == 0 and rows[0.0].cost_per_answer == pytest.approx(1.0)
    # t = 0.25: two escalated in stratum 1: (2·0.96 + 0 + 5)/8 = 0.865 -> 0.8 + 0.2·0.865
    assert rows[0.25].accuracy == pytest.approx(0.973)
    assert rows[0.25].escalation_share == pytest.approx(0.05)  # 0.2·2/8
    assert rows[0.25].cost_per_answer == pytest.approx(1.2)  # 1 + 0.05·4 (cascade pays both)
    # t = 0.35: four escalated: (4·0.96 + 4)/8 = 0.98 -> 0.996, share 0.1, cost 1.4
    assert rows[0.35].accuracy == pytest.approx(0.996)
    assert rows[0.35].cost_per_answer == pytest.approx(1.4)
    # t = 0.65: six: (6·0.96 + 2)/8 = 0.97 -> 0.994; t = 0.85: all of stratum 1 -> 0.992
    assert rows[0.65].accuracy == pytest.approx(0.994)
    assert rows[0.85].accuracy == pytest.approx(0.992)
    # t = 0.95: everything escalated: the capable accuracy, share 1, cost 1 + 4
    assert rows[0.95].accuracy == pytest.approx(0.96)
    assert rows[0.95].escalation_share == pytest.approx(1.0)
    assert rows[0.95].cost_per_answer == pytest.approx(5.0)
    for r in rows.values():
        assert r.ci_low <= r.accuracy <= r.ci_high


def test_threshold_zero_is_the_tier_estimate():
    row = advice().rows[0]
    tier = stratified_estimate(N, STRATUM, SCORES)
    assert (row.accuracy, row.ci_low, row.ci_high) == pytest.approx(
        (tier.estimate, tier.ci_low, tier.ci_high)
    )


def test_recommends_the_cheapest_threshold_whose_lower_bound_meets_the_target():
    result = advice()
    rows = {r.threshold: r for r in result.rows}
    # 0.25 leaves one wrong answer in eight of stratum 1: 0.973 with a lower bound under the
    # 0.96 target; 0.35 escalates all three wrong answers (0.996) and clears it at cost 1.4.
    assert rows[0.25].ci_low < 0.96 <= rows[0.35].ci_low
    assert result.recommended is not None and result.recommended.threshold == 0.35
    assert [r.meets_target for r in result.rows][:3] == [False, False, True]


def test_without_costs_the_fewest_escalations_win_and_no_target_means_no_advice():
    assert advice(cheap_cost=None, capable_cost=None).recommended.threshold == 0.35
    assert advice(target=None).recommended is None
    assert advice(target=0.999).recommended is None


def test_capable_uncertainty_widens_escalated_rows_only():
    tight = {r.threshold: r for r in advice().rows}
    loose = {r.threshold: r for r in advice(capable_variance=0.02**2).rows}
    assert loose[0.0].ci_low == pytest.approx(tight[0.0].ci_low)
    assert loose[0.95].ci_low < tight[0.95].ci_low


def test_items_without_self_confidence_are_never_escalated():
    conf = np.array(CONF, dtype=float)
    conf[200:240:8] = np.nan  # in each block of stratum 1, the first wrong answer (0.2)
    conf[201:240:8] = np.nan  # the two least confident wrong answers carry no score
    result = cascade_advice(
        N,
        STRATUM,
        SCORES,
        conf,
        capable_accuracy=0.96,
        capable_variance=0.0,
        thresholds=[0.95],
        target=None,
    )
    # Stratum 1: 2 kept wrong + 6 escalated at 0.96 -> 5.76/8 = 0.72 -> 0.8 + 0.144 = 0.944
    # (stratum 0 is escalated too: 0.8·0.96 + 0.144 = 0.912)
    assert result.rows[0].accuracy == pytest.approx(0.8 * 0.96 + 0.2 * 0.72)
    assert result.n_with_confidence == 230
