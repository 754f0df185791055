"""sampling.agreement and sampling.ratio: kappa and alpha on hand-computed and textbook data."""

import numpy as np
import pytest

from sampling.agreement import cohen_kappa, krippendorff_alpha, krippendorff_alpha_interval
from sampling.estimate import stratified_estimate
from sampling.ratio import subdomain_proportion

NAN = np.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the worked example with
# missing data: 4 observers (rows) × 12 units (columns); unit 12 has one value (not pairable).
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
).T  # our layout: units × raters


def _pairs(table):
    """Two rating lists from a 2×2 table [[cc, ci], [ic, ii]] (rows: rater a)."""
    a, b = [], []
    for (x, y), count in zip(
        [("c", "c"), ("c", "i"), ("i", "c"), ("i", "i")], np.ravel(table), strict=True
    ):
        a += [x] * count
        b += [y] * count
    return a, b


def test_kappa_on_a_2x2_table_by_hand():
    # [[20, 5], [10, 15]], n = 50: p_o = 35/50 = 0.7; marginals a (0.5, 0.5), b (0.6, 0.4);
    # p_e = 0.5·0.6 + 0.5·0.4 = 0.5; κ = (0.7 − 0.5)/(1 − 0.5) = 0.4.
    # Fleiss–Cohen–Everitt: A = 0.4·(1 − 1.1·0.6)² + 0.3·(1 − 0.9·0.6)² = 0.04624 + 0.06348
    # = 0.10972; B = 0.6²·(0.1·(0.6 + 0.5)² + 0.2·(0.4 + 0.5)²) = 0.36·0.283 = 0.10188;
    # C = (0.4 − 0.5·0.6)² = 0.01; Var = 0.2016/(50·0.25) = 0.016128, SE = 0.126996;
    # interval 0.4 ± 1.959964·0.126996 = (0.15109, 0.64891).
    a, b = _pairs([[20, 5], [10, 15]])
    k = cohen_kappa(a, b)
    assert k.kappa == pytest.approx(0.4)
    assert (k.observed, k.expected, k.n) == (pytest.approx(0.7), pytest.approx(0.5), 50)
    assert k.se == pytest.approx(0.126996, abs=1e-6)
    assert (k.ci_low, k.ci_high) == pytest.approx((0.15109, 0.64891), abs=1e-5)


def test_kappa_perfect_chance_and_degenerate():
    assert cohen_kappa(["c", "i", "p"], ["c", "i", "p"]).kappa == pytest.approx(1.0)
    # Agreement exactly at chance: [[25, 25], [25, 25]] -> p_o = p_e = 0.5, κ = 0.
    a, b = _pairs([[25, 25], [25, 25]])
    assert cohen_kappa(a, b).kappa == pytest.approx(0.0)
    # Both raters always say "correct": p_e = 1, kappa undefined.
    assert np.isnan(cohen_kappa(["c"] * 5, ["c"] * 5).kappa)
    with pytest.raises(ValueError):
        cohen_kappa(["c"], ["c", "i"])


def test_kappa_is_symmetric_in_the_raters():
    a, b = _pairs([[30, 4], [9, 7]])
    assert cohen_kappa(a, b).kappa == pytest.approx(cohen_kappa(b, a).kappa)
    assert cohen_kappa(a, b).se == pytest.approx(cohen_kappa(b, a).se)


@pytest.mark.parametrize(
    ("level", "expected"),
    # Krippendorff (2011) reports α = 0.743 (nominal), 0.815 (ordinal), 0.849 (interval).
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)],
)
def test_alpha_matches_krippendorffs_worked_example(level, expected):
    assert krippendorff_alpha(KRIPPENDORFF_2011, level=level) == pytest.approx(expected, abs=5e-4)


def test_alpha_nominal_by_hand_on_a_tiny_table():
    # Units (c, c), (c, i), (i, i) coded 1/0. Coincidences: o_11 = 2, o_10 = o_01 = 1,
    # o_00 = 2; n_1 = n_0 = 3, n = 6. D_o ∝ Σ o_ck (c≠k) = 2; D_e ∝ 2·n_1·n_0/(n − 1) = 18/5.
    # α = 1 − (n − 1)·2/(2·3·3) = 1 − 10/18 = 0.4444.
    data = np.array([[1, 1], [1, 0], [0, 0]], dtype=float)
    assert krippendorff_alpha(data) == pytest.approx(4 / 9)
    # With two raters, no missing data and nominal codes, α = κ-like (Scott's π with the
    # small-sample correction): π = (p_o − p_e)/(1 − p_e) = (2/3 − 1/2)/(1/2) = 1/3, and
    # α = 1 − (1 − π)·(2n − 1)/(2n) ... here 1 − (2/3)(5/6) = 4/9.
    assert pytest.approx(4 / 9) == 1 - (1 - 1 / 3) * 5 / 6


def test_alpha_ordinal_weighs_distant_disagreement_more():
    # Codes 0 incorrect, 1 partial, 2 correct. Same number of disagreements; near ones
    # (correct vs partial) keep ordinal alpha higher than far ones (correct vs incorrect).
    near = np.array([[2, 2], [2, 1], [1, 1], [0, 0], [2, 2], [0, 0]], dtype=float)
    far = np.array([[2, 2], [2, 0], [1, 1], [0, 0], [2, 2], [0, 0]], dtype=float)
    cats = [0.0, 1.0, 2.0]
    assert krippendorff_alpha(near, level="ordinal", categories=cats) > krippendorff_alpha(
        far, level="ordinal", categories=cats
    )
    assert krippendorff_alpha(near, categories=cats) == pytest.approx(
        krippendorff_alpha(far, categories=cats), abs=0.05
    )


def test_alpha_interval_is_seeded_and_brackets_alpha():
    a = krippendorff_alpha_interval(KRIPPENDORFF_2011, n_boot=1000, seed=7)
    b = krippendorff_alpha_interval(KRIPPENDORFF_2011, n_boot=1000, seed=7)
    assert a == b
    assert a.units == 11 and a.values == 40  # Krippendorff's n = 40 pairable values
    assert a.ci_low < a.alpha <= a.ci_high
    assert 0 <= a.p_below[0.8] <= 1


def test_alpha_interval_covers_in_simulation():
    # 200 units, two raters who agree with a latent truth with probability 0.85: repeated
    # samples' intervals should cover the alpha of a huge sample about 95 % of the time.
    rng = np.random.default_rng(1)

    def sample(n):
        truth = rng.random(n) < 0.7
        raters = [np.where(rng.random(n) < 0.85, truth, ~truth) for _ in range(2)]
        return np.column_stack(raters).astype(float)

    reference = krippendorff_alpha(sample(200_000))
    hits = 0
    runs = 200
    for i in range(runs):
        r = krippendorff_alpha_interval(sample(200), n_boot=400, seed=i)
        hits += r.ci_low <= reference <= r.ci_high
    assert 0.89 <= hits / runs <= 0.99


def test_alpha_missing_and_no_variation():
    assert np.isnan(krippendorff_alpha(np.array([[1.0, NAN], [NAN, 2.0]])))  # nothing pairable
    assert np.isnan(krippendorff_alpha(np.array([[1.0, 1.0], [1.0, 1.0]])))  # D_e = 0


# --------------------------------------------------------------------------- subdomain share


def test_subdomain_share_equals_the_stratified_estimate_when_everyone_is_a_member():
    N = [900, 100]
    stratum = [0, 0, 0, 0, 1, 1, 1, 1]
    y = [1, 1, 0, 1, 0, 0, 1, 0]
    sub = subdomain_proportion(N, stratum, y, [True] * 8)
    full = stratified_estimate(N, stratum, y, variance_floor="none")
    assert sub.estimate == pytest.approx(full.estimate)  # 0.9·0.75 + 0.1·0.25 = 0.7
    assert sub.se == pytest.approx(full.se)


def test_subdomain_share_weights_by_inverse_inclusion_probability():
    # Stratum 0: N 900, 4 reviewed (w = 225), members y = 1, 0 -> weighted 225·1 of 450.
    # Stratum 1: N 100, 4 reviewed (w = 25), members y = 1, 1, 1 -> 75 of 75.
    # p̂ = (225 + 75)/(450 + 75) = 300/525 = 0.5714; the unweighted 4/5 = 0.8 is not it.
    N = [900, 100]
    stratum = [0, 0, 0, 0, 1, 1, 1, 1]
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    member = [True, True, False, False, True, True, True, False]
    sub = subdomain_proportion(N, stratum, y, member)
    assert sub.estimate == pytest.approx(300 / 525)
    assert sub.population == pytest.approx(525)
    assert sub.n == 5
    assert sub.ci_low < sub.estimate < sub.ci_high
    assert subdomain_proportion(N, stratum, y, [False] * 8) is None
