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
"""

import numpy as np
import pytest

from sampling.estimate import stratified_variance

N = np.array([14, 8, 8])
n = np.array([4, 3, 3])
# Likewise the means, printed as 6.29, 10.13, 5.38, are 44/7, 81/8 and 43/8 (stratum totals
# 88, 81 and 43 of a population total of 212).
MEANS = np.array([44 / 7, 81 / 8, 43 / 8])
# Table 1 prints σ_h² rounded (3.49, 4.86, 2.48); table 3's σ_h²/n_h (0.87244898, 1.61979167,
# 0.828125) gives them exactly: 171/49, 311/64 and 159/64.
SIGMA2 = np.array([171 / 49, 311 / 64, 159 / 64])


def test_published_stratified_mean():
    W = N / N.sum()
    assert float(np.sum(W * MEANS)) == pytest.approx(7.0667, abs=5e-5)
    assert list(W * MEANS) == pytest.approx([2.9333, 2.7000, 1.4333], abs=5e-5)


def test_published_error_variance():
    W = N / N.sum()
    s2 = SIGMA2 * N / (N - 1)  # parametric σ² (divisor N) to S² (divisor N − 1)
    assert stratified_variance(W, N, n, s2) == pytest.approx(0.270492, abs=5e-6)


def test_published_per_stratum_terms():
    W = N / N.sum()
    s2 = SIGMA2 * N / (N - 1)
    terms = [stratified_variance(W[[h]], N[[h]], n[[h]], s2[[h]]) for h in range(3)]
    assert terms == pytest.approx([0.146154, 0.082275, 0.042063], abs=5e-6)
