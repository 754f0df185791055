"""A published stratified-sampling example, checked against its published answer.

Source: the forest-inventory course wiki of the University of Göttingen, "Stratified sampling
examples", Example 1 (wiki.awf.forst.uni-goettingen.de): a population of N = 30 split into
strata of 14, 8 and 8 elements, a sample of n = 10 allocated 4, 3, 3, with the stratum means
6.29, 10.13, 5.38 and the *parametric* variances σ_h² (divisor N_h) 3.49, 4.86, 2.48. Its
published figures: the stratified mean 7.0667 and the error variance var(ȳ) = 0.270492 (per
stratum W_h²·fpc·σ_h²/n_h = 0.146154, 0.082275, 0.042063, with fpc = (N_h − n_h)/(N_h − 1)).

Our `stratified_variance` is Cochran's eq. 5.6 with S_h² on divisor N_h − 1 and fpc
1 − n_h/N_h; since S_h² = σ_h²·N_h/(N_h − 1), (1 − n_h/N_h)·S_h²/n_h equals the wiki's
(N_h − n_h)/(N_h − 1)·σ_h²/n_h, so the published answer must come out exactly.

The example works from the population's parameters; the package estimates from a sample. So
the end-to-end check runs `stratified_estimate` — what the reports call — on a sample of 4, 3
and 3 values whose stratum means and sample variances s_h² equal the population's μ_h and
S_h²: its V̂ is then exactly the published var(ȳ). Scores must lie in [0, 1], so the values
are divided by 20 (the estimate scales by 1/20, the variance by 1/400).
"""

import numpy as np
import pytest

from sampling.estimate import stratified_estimate, stratified_variance

N = np.array([14, 8, 8])
n = np.array([4, 3, 3])
# Likewise the means, printed as 6.29, 10.13, 5.38, are 44/7, 81/8 and 43/8 (stratum totals
# 88, 81 and 43 of a population total of 212).
MEANS = np.array([44 / 7, 81 / 8, 43 / 8])
# Table 1 prints σ_h² rounded (3.49, 4.86, 2.48); table 3's σ_h²/n_h (0.87244898, 1.61979167,
# 0.828125) gives them exactly: 171/49, 311/64 and 159/64.
SIGMA2 = np.array([171 / 49, 311 / 64, 159 / 64])


SCALE = 20.0


def _matching_sample() -> tuple[np.ndarray, np.ndarray]:
    """Stratum codes and values: mean μ_h and sample variance S_h² = σ_h²·N_h/(N_h − 1).

    n = 4: μ ± a twice each, s² = 4a²/3, so a = S·√3/2; n = 3: μ − S, μ, μ + S, s² = S².
    """
    S = np.sqrt(SIGMA2 * N / (N - 1))
    a = S[0] * np.sqrt(3) / 2
    values = [
        [MEANS[0] - a, MEANS[0] - a, MEANS[0] + a, MEANS[0] + a],
        [MEANS[1] - S[1], MEANS[1], MEANS[1] + S[1]],
        [MEANS[2] - S[2], MEANS[2], MEANS[2] + S[2]],
    ]
    codes = np.repeat(np.arange(3), [len(v) for v in values])
    return codes, np.concatenate(values)


def test_published_stratified_mean():
    W = N / N.sum()
    assert list(W * MEANS) == pytest.approx([2.9333, 2.7000, 1.4333], abs=5e-5)
    codes, y = _matching_sample()
    est = stratified_estimate(N, codes, y / SCALE)
    assert est.estimate * SCALE == pytest.approx(7.0667, abs=5e-5)


def test_published_error_variance_end_to_end():
    codes, y = _matching_sample()
    assert np.bincount(codes).tolist() == n.tolist()
    # No stratum has s_h² = 0, so the default (pooled floor) and the textbook V̂ agree.
    for floor in ("pooled", "none"):
        est = stratified_estimate(N, codes, y / SCALE, variance_floor=floor)
        assert est.variance * SCALE**2 == pytest.approx(0.270492, abs=5e-6)
        assert est.se * SCALE == pytest.approx(np.sqrt(0.270492), abs=1e-5)
        assert est.df == 10 - 3 and est.n_reviewed == 10


def test_published_error_variance():
    W = N / N.sum()
    s2 = SIGMA2 * N / (N - 1)  # parametric σ² (divisor N) to S² (divisor N − 1)
    assert stratified_variance(W, N, n, s2) == pytest.approx(0.270492, abs=5e-6)


def test_published_per_stratum_terms():
    W = N / N.sum()
    s2 = SIGMA2 * N / (N - 1)
    terms = [stratified_variance(W[[h]], N[[h]], n[[h]], s2[[h]]) for h in range(3)]
    assert terms == pytest.approx([0.146154, 0.082275, 0.042063], abs=5e-6)
