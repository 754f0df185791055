"""sampling.strata: band cut-offs and stratum assignment (plain pytest, no database)."""

import numpy as np
import pytest

from sampling.strata import (
    Bands,
    assign_strata,
    band,
    ood_bands,
    uncertainty_bands,
    uncertainty_cuts_from_reference,
)


def test_default_uncertainty_cut_is_reference_p90():
    # 0, 1, ..., 100: numpy's type-7 quantile at 0.9 is exactly 90.
    bands = uncertainty_cuts_from_reference(np.arange(101.0))
    assert bands.cuts == (90.0,)
    assert bands.labels == ("low", "high")


def test_uncertainty_band_edge_is_inclusive_on_the_upper_band():
    b = Bands(cuts=(0.3,), labels=("low", "high"))
    assert band([0.0, 0.2999, 0.3, 0.9], b).tolist() == ["low", "low", "high", "high"]


def test_uncertainty_bands_from_reference_equals_explicit_cuts():
    rng = np.random.default_rng(1)
    ref = rng.random(1000)
    x = rng.random(50)
    explicit = uncertainty_bands(x, uncertainty_cuts_from_reference(ref))
    assert (uncertainty_bands(x, reference_uncertainty=ref) == explicit).all()
    with pytest.raises(ValueError):
        uncertainty_bands(x)


def test_ood_bands_in_edge_out():
    pct = [0.0, 94.99, 95.0, 98.99, 99.0, 100.0]
    assert ood_bands(pct).tolist() == ["in", "in", "edge", "edge", "out", "out"]


def test_three_bands_from_two_quantiles():
    bands = uncertainty_cuts_from_reference(
        np.arange(101.0), quantiles=(0.5, 0.9), labels=("low", "mid", "high")
    )
    assert bands.cuts == (50.0, 90.0)
    assert band([10, 50, 89, 90], bands).tolist() == ["low", "mid", "mid", "high"]


def test_bands_validate():
    with pytest.raises(ValueError):
        Bands(cuts=(1.0, 0.5), labels=("a", "b", "c"))
    with pytest.raises(ValueError):
        Bands(cuts=(1.0,), labels=("a",))
    with pytest.raises(ValueError):
        band([np.nan], Bands((0.5,), ("a", "b")))


def test_assign_strata_small_table():
    tier = ["cheap", "cheap", "capable", "cheap", "capable"]
    unc = ["high", "low", "low", "high", "low"]
    s = assign_strata({"tier": tier, "uncertainty": unc})
    # Only the 3 combinations that occur become strata, ordered by sorted labels.
    assert s.labels == (("capable", "low"), ("cheap", "high"), ("cheap", "low"))
    assert s.codes.tolist() == [1, 2, 0, 1, 0]
    assert s.sizes.tolist() == [2, 2, 1]
    assert s.keys() == ("capable|low", "cheap|high", "cheap|low")
    assert s.mask(tier="cheap").tolist() == [False, True, True]
    assert s.dimensions == ("tier", "uncertainty")


def test_stratum_keys_stay_distinct_when_labels_hold_the_separator():
    """Tier and segment are data: tier "a|b" with segment "c" and tier "a" with segment "b|c"
    joined naively are both "a|b|c" (queue building then broke on the unique key)."""
    tier = ["a|b", "a", "a\\", "a", "plain"]
    segment = ["c", "b|c", "|c", "\\|c", "x"]
    s = assign_strata({"tier": tier, "segment": segment})
    keys = s.keys()
    assert len(set(keys)) == s.n_strata == 5
    assert dict(zip(s.labels, keys, strict=True)) == {
        ("a|b", "c"): "a\\|b|c",
        ("a", "b|c"): "a|b\\|c",
        ("a\\", "|c"): "a\\\\|\\|c",
        ("a", "\\|c"): "a|\\\\\\|c",
        ("plain", "x"): "plain|x",  # the usual case is unchanged
    }


def test_assign_strata_labels_match_inputs_for_every_item():
    rng = np.random.default_rng(7)
    n = 5000
    dims = {
        "tier": rng.choice(["cheap", "capable"], n),
        "ood": rng.choice(["in", "edge", "out"], n),
        "day": rng.integers(0, 3, n),
    }
    s = assign_strata(dims)
    for i in rng.choice(n, 200, replace=False):
        assert s.labels[s.codes[i]] == (dims["tier"][i], dims["ood"][i], str(dims["day"][i]))
    assert s.sizes.sum() == n
    assert np.bincount(s.codes).tolist() == s.sizes.tolist()


def test_assign_strata_rejects_ragged_input():
    with pytest.raises(ValueError):
        assign_strata({"tier": ["a", "b"], "ood": ["in"]})
    with pytest.raises(ValueError):
        assign_strata({})


def test_assign_strata_one_million_items():
    rng = np.random.default_rng(0)
    n = 1_000_000
    tier = rng.choice(np.array(["cheap", "capable"]), n)
    unc = rng.random(n)
    ood = rng.random(n) * 100
    bands = uncertainty_cuts_from_reference(rng.random(10_000))
    s = assign_strata(
        {
            "tier": tier,
            "uncertainty": uncertainty_bands(unc, bands),
            "ood": ood_bands(ood),
            "day": rng.integers(0, 7, n),
        }
    )
    assert s.n_strata == 2 * 2 * 3 * 7
    assert int(s.sizes.sum()) == n
