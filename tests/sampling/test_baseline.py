"""Baseline error rates for the CUSUM: shrinkage towards the tier, floors, empty strata."""

from __future__ import annotations

import numpy as np
import pytest

from sampling.baseline import baseline_rates


def test_rates_by_hand() -> None:
    # Tier 0: stratum 0 has 1 wrong of 4, stratum 1 has 1 wrong of 2 → tier (2+1)/(6+2) = 0.375.
    # Tier 1: stratum 2 has 0 of 0 (unseen) → tier rate (0+1)/(0+2) = 0.5.
    wrong = [1, 0, 0, 0, 1, 0]
    stratum = [0, 0, 0, 0, 1, 1]
    result = baseline_rates(wrong, stratum, [0, 0, 1], strength=2.0)
    np.testing.assert_allclose(result.tier_rate, [0.375, 0.5])
    np.testing.assert_allclose(result.stratum_rate, [(1 + 2 * 0.375) / 6, (1 + 2 * 0.375) / 4, 0.5])
    assert result.stratum_n.tolist() == [4, 2, 0]
    assert result.tier_wrong.tolist() == [2, 0]


def test_a_perfect_stratum_is_floored_not_zero() -> None:
    result = baseline_rates([0] * 500, [0] * 500, [0], strength=0.0, floor=0.005)
    assert result.stratum_rate[0] == pytest.approx(0.005)


def test_many_reviews_dominate_the_prior() -> None:
    rng = np.random.default_rng(3)
    wrong = (rng.random(2000) < 0.2).astype(int)
    result = baseline_rates(wrong, [0] * 2000, [0])
    assert result.stratum_rate[0] == pytest.approx(wrong.mean(), abs=0.002)


def test_rejects_non_binary_outcomes() -> None:
    with pytest.raises(ValueError):
        baseline_rates([0.5], [0], [0])
