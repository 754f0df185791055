"""Generator of fixtures.csv (seeded): rerun it to change the fixtures, then rerun fixtures.R."""

import csv
from pathlib import Path

import numpy as np

rng = np.random.default_rng(20261203)
rows = []


def add(name, N, scores):
    for h, (Nh, ys) in enumerate(zip(N, scores, strict=True)):
        assert len(ys) <= Nh
        for y in ys:
            rows.append((name, h, Nh, y))


def binary(n, p):
    return [float(v) for v in (rng.random(n) < p)]


# 1 unequal strata, moderate p
N = [50, 200, 1000, 30]
add("unequal_basic", N, [binary(5, 0.8), binary(8, 0.85), binary(12, 0.9), [1, 0, 1, 1]])
# 2 FPC near 1: n_h = N_h - 1 in two strata, n_h/N_h = 0.9 in another
add(
    "fpc_near_one",
    [10, 6, 400, 20],
    [[1] * 8 + [0], [1, 1, 0, 1, 1], binary(7, 0.9), [1] * 16 + [0, 0]],
)
# 3 p-hat near 1 (one error in the domain), some strata all correct (s_h^2 = 0)
add(
    "p_near_one",
    [300, 120, 800, 45, 60, 2000],
    [[1] * 5, [1] * 4, [1] * 6 + [0], [1] * 3, [1] * 4, [1] * 9],
)
# 4 p-hat near 0 (mirror)
add("p_near_zero", [300, 120, 800, 45, 60], [[0] * 5, [0, 0, 1, 0], [0] * 7, [0] * 3, [0] * 4])
# 5 fractional scores (partial credit 0.5)
add(
    "fractional",
    [80, 500, 35, 1200],
    [[1, 0.5, 1, 1, 0], [1, 1, 0.5, 1, 1, 1], [0.5, 0.5, 1], [1] * 6 + [0.5, 0, 1, 1]],
)
# 6 twelve strata like the coverage study: N lognormal (median ~400), n uniform on 2-5
N12 = np.maximum(np.round(rng.lognormal(np.log(400), 1.0, 12)).astype(int), 6)
n12 = rng.integers(2, 6, 12)
add("twelve_strata", N12.tolist(), [binary(int(k), 0.93) for k in n12])
# 7 single-review strata mixed with ordinary ones
add(
    "single_review",
    [500, 40, 900, 25, 300],
    [binary(6, 0.85) + [0], [1], [1, 1, 0, 1, 1], [0], [1] * 3 + [0]],
)
# 8 two reviews in every stratum (df = n - H = H)
add(
    "two_per_stratum",
    [100, 250, 60, 900, 30, 400],
    [[1, 0], [1, 1], [0, 1], [1, 1], [1, 0], [1, 1]],
)
# 9 a census stratum (n_h = N_h: no variance) beside sampled ones
add("census_stratum", [5, 400, 150], [[1, 1, 0, 1, 1], binary(9, 0.88), [1, 0, 1, 1, 1, 1]])
# 10 very unequal weights
add("unequal_weights", [20000, 15, 40], [[1] * 7 + [0], [1, 0, 1], [1] * 4 + [0]])
# 11 larger samples
add("larger_samples", [5000, 3000, 800], [binary(60, 0.95), binary(45, 0.8), binary(30, 0.6)])
# 12 p-hat near 1 with fractional scores and FPC near 1
add("near_one_fractional_fpc", [4, 12, 700], [[1, 1, 0.5], [1] * 11, [1] * 9 + [0.5]])
# 13 p-hat within a hair of 1: the only error sits in a tiny stratum (p-hat = 0.99889)
add("p_hair_below_one", [5000, 4000, 30], [[1] * 6, [1] * 5, [1, 1, 0]])
# 14 and of 0, with fractional scores and a sampling fraction near 1 in the tiny stratum
add("p_hair_above_zero", [6000, 2500, 12], [[0] * 7, [0] * 4, [0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])

with (Path(__file__).parent / "fixtures.csv").open("w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["fixture", "stratum", "N", "score"])
    for name, h, Nh, y in rows:
        w.writerow([name, h, Nh, repr(float(y))])
print(len(rows), "rows")
