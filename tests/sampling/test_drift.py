"""Drift measures: PSI by hand, levels, KS and normalised Wasserstein."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sampling.drift import drift, psi, psi_level


def test_psi_by_hand_two_bins() -> None:
    # Reference median 1.5 splits [0, 1 | 2, 3]: q = (0.5, 0.5); production p = (0.75, 0.25).
    # PSI = (0.75 − 0.5)·ln(0.75/0.5) + (0.25 − 0.5)·ln(0.25/0.5) = 0.25·ln 3
    assert psi([0, 1, 2, 3], [0, 0, 0, 3], bins=2) == pytest.approx(0.25 * math.log(3))


def test_psi_empty_bins_are_floored_at_eps() -> None:
    ref = np.arange(100.0)  # ten deciles of 10 points each: q_b = 0.1
    prod = np.r_[np.zeros(50), np.full(50, 99.0)]  # half in the first bin, half in the last
    eps = 1e-4
    expected = 2 * (0.5 - 0.1) * math.log(0.5 / 0.1) + 8 * (eps - 0.1) * math.log(eps / 0.1)
    assert psi(ref, prod, eps=eps) == pytest.approx(expected)
    assert math.isfinite(psi(ref, np.zeros(10)))


def test_psi_zero_for_identical_distributions() -> None:
    x = np.random.default_rng(0).beta(12, 2, 5000)
    assert psi(x, x) == 0.0
    assert psi(x, x[::-1].copy()) == 0.0


def test_psi_levels() -> None:
    assert psi_level(0.05) == "ok"
    assert psi_level(0.10) == "warn"
    assert psi_level(0.2499) == "warn"
    assert psi_level(0.25) == "alert"


def test_wasserstein_normalised_by_reference_sd() -> None:
    # Reference {0, 2}: sd 1. Production shifted by 1: W1 = 1, normalised 1 → alert.
    result = drift([0.0, 2.0] * 50, [1.0, 3.0] * 50)
    assert result.wasserstein == pytest.approx(1.0)
    assert result.wasserstein_norm == pytest.approx(1.0)
    assert result.wasserstein_level == "alert"
    assert result.level == "alert"


def test_drift_ok_for_same_distribution_alert_for_hidden_intent_mix() -> None:
    rng = np.random.default_rng(1)
    ref = rng.beta(12, 2, 20_000)
    same = drift(ref, rng.beta(12, 2, 20_000))
    assert same.level == "ok"
    assert same.ks_pvalue > 0.01
    # 20 % of traffic from Beta(8, 3): the seed scenario's cheap tier at day 70.
    mixed = np.where(rng.random(20_000) < 0.2, rng.beta(8, 3, 20_000), rng.beta(12, 2, 20_000))
    shifted = drift(ref, mixed)
    assert shifted.psi > same.psi
    assert shifted.wasserstein_norm >= 0.1
    assert shifted.level == "alert"
    assert shifted.ks_pvalue < 1e-6
    assert shifted.n_reference == shifted.n_production == 20_000
