"""An external reference: sampling.estimate against R's `survey` package (Lumley).

tests/sampling/survey_reference/ holds the fixtures (fixtures.csv: fixture, stratum, N_h, score;
made by make_fixtures.py), the R script that answers them (fixtures.R: svydesign(ids = ~1,
strata = ~stratum, fpc = ~N), svymean, svyciprop(method = "beta")) and R's answers
(survey_outputs.csv, R 4.2.2, survey 4.1.1). The test compares

* the stratified mean and its standard error, to 1e-6, with stratified_estimate(...,
  variance_floor="none") — the textbook V̂ that svymean computes (the product's default pooled
  floor deliberately departs from it where a stratum's reviews are all alike);
* the Korn–Graubard limits, to 1e-4, with stratified_estimate(method="korn-graubard",
  variance_floor="none") — svyciprop's "beta" with df = degf(design) = n − H, which the
  degrees of freedom are checked against too.

Single-review strata: R refuses them by default (options(survey.lonely.psu = "fail")), and
none of its options is the package's rule (a single-review stratum contributes
W_h²·(1 − 1/N_h)·0.25, the largest variance a [0, 1] score can have). The honest mapping is
"certainty", under which such a stratum contributes nothing: the package's V̂ minus that
explicit term must equal R's V̂ to 1e-6 (everything else — weights, FPC, the other strata —
is then checked), and korn_graubard_interval on R's V̂ must give R's limits. The package's own
(wider) interval for that fixture is not R's and is not compared.

R is run live when `Rscript` is on PATH (CI installs r-base-core and r-cran-survey: with
CI=true a missing Rscript FAILS), and its fresh output must equal the stored one; a developer
without R still compares with the stored outputs.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sampling.estimate import SINGLE_REVIEW_VARIANCE, korn_graubard_interval, stratified_estimate

HERE = Path(__file__).resolve().parent / "survey_reference"
FIXTURES = HERE / "fixtures.csv"
STORED = HERE / "survey_outputs.csv"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
NUMERIC = ("n", "strata", "degf", "mean", "se", "beta_low", "beta_high")


def _read_outputs(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as fh:
        return {row["fixture"]: row for row in csv.DictReader(fh)}


def _fixtures() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per fixture: N (per stratum), stratum code and score per review."""
    rows: dict[str, list[tuple[int, int, float]]] = {}
    with FIXTURES.open(newline="") as fh:
        for row in csv.DictReader(fh):
            rows.setdefault(row["fixture"], []).append(
                (int(row["stratum"]), int(row["N"]), float(row["score"]))
            )
    out = {}
    for name, items in rows.items():
        codes = np.array([h for h, _, _ in items])
        N = np.zeros(codes.max() + 1, dtype=np.int64)
        for h, Nh, _ in items:
            N[h] = Nh
        out[name] = (N, codes, np.array([y for _, _, y in items]))
    return out


FIXTURE_DATA = _fixtures()
STORED_OUTPUTS = _read_outputs(STORED)


def test_the_fixtures_cover_the_edges():
    assert len(FIXTURE_DATA) >= 10 and set(FIXTURE_DATA) == set(STORED_OUTPUTS)
    fpcs, single, fractional = [], 0, False
    for N, codes, y in FIXTURE_DATA.values():
        n = np.bincount(codes, minlength=N.size)
        fpcs += list(n / N)
        single += int(np.sum(n == 1))
        fractional |= bool(np.any((y > 0) & (y < 1)))
        assert len(set(N.tolist())) > 1  # unequal strata
    assert max(f for f in fpcs if f < 1) >= 0.9  # sampling fraction near 1 (FPC near 0)
    assert 1.0 in fpcs  # a census stratum
    assert single >= 2 and fractional
    p_hats = [float(row["mean"]) for row in STORED_OUTPUTS.values()]
    assert min(p_hats) < 0.001 and max(p_hats) > 0.998
    assert all(0 < p < 1 for p in p_hats)  # near, not at, 0 and 1: R's n.eff is 0/0 there


@pytest.mark.parametrize("name", sorted(FIXTURE_DATA))
def test_mean_se_and_korn_graubard_match_r(name):
    N, codes, y = FIXTURE_DATA[name]
    r = {k: float(STORED_OUTPUTS[name][k]) for k in NUMERIC}
    est = stratified_estimate(N, codes, y, method="korn-graubard", variance_floor="none")
    assert est.n_reviewed == r["n"] and est.n_strata == r["strata"]
    assert est.df == r["degf"] == r["n"] - r["strata"]  # svyciprop's df = degf = n − H
    assert est.estimate == pytest.approx(r["mean"], abs=1e-6)
    n = np.bincount(codes, minlength=N.size)
    lonely = n == 1
    if STORED_OUTPUTS[name]["lonely_psu"] == "certainty":
        assert lonely.any()
        W = N / N.sum()
        lonely_term = float(np.sum(W[lonely] ** 2 * (1 - 1 / N[lonely]) * SINGLE_REVIEW_VARIANCE))
        assert est.variance - lonely_term == pytest.approx(r["se"] ** 2, abs=1e-9)
        assert np.sqrt(est.variance - lonely_term) == pytest.approx(r["se"], abs=1e-6)
        assert est.se > r["se"]  # the package's rule is the conservative one
        p = est.estimate
        lo, hi = korn_graubard_interval(p, p * (1 - p) / r["se"] ** 2, est.n_reviewed, est.df)
    else:
        assert not lonely.any()
        assert est.se == pytest.approx(r["se"], abs=1e-6)
        lo, hi = est.ci_low, est.ci_high
    assert (lo, hi) == pytest.approx((r["beta_low"], r["beta_high"]), abs=1e-4)


def test_r_live_equals_the_stored_outputs(tmp_path):
    rscript = shutil.which("Rscript")
    if rscript is None:
        message = "Rscript is not installed (apt-get install r-base-core r-cran-survey)"
        if IN_CI:
            pytest.fail(message + " — CI needs it", pytrace=False)
        pytest.skip(message)
    out = tmp_path / "outputs.csv"
    subprocess.run(
        [rscript, str(HERE / "fixtures.R"), str(FIXTURES), str(out)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    live = _read_outputs(out)
    assert set(live) == set(STORED_OUTPUTS)
    for name, row in live.items():
        stored = STORED_OUTPUTS[name]
        assert row["lonely_psu"] == stored["lonely_psu"]
        for key in NUMERIC:
            # A newer R or survey may differ in the last bits, never beyond the tolerances.
            assert float(row[key]) == pytest.approx(float(stored[key]), rel=1e-9, abs=1e-12)
