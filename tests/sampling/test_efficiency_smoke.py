"""Smoke version of benchmarks/efficiency.py: the study's core claims at reduced scale.

A seeded seed-scenario population (8,000 answers/day, strata tier × uncertainty band) is
simulated once; the repetitions redraw the review sample (sampling.draw) only. The plan is
the default one (`default_plan_config`'s oversampling, Neyman on the shipped window via
`neyman_history`, allocated by `design_allocation` as the queue build does; its OOD patterns
match nothing here, as on a plan without the OOD dimension). The claims: the default plan
estimates the cheap tier's high-uncertainty band far more precisely than uniform review split
by tier, and the product's quality charts (`sampling.monitor.plan_alarms`: one CUSUM per tier ×
band, calibrated together for the plan's quarterly promise, p0 from the first 14 days) raise a
cheap-tier alarm after the drift onset on seed but stay quiet on the same days of `stable`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reviewapp.reports.oracle import default_plan_config
from reviewapp.reports.services import CUSUM_ODDS_RATIO
from sampling.allocation import NEYMAN_WINDOW_DAYS, design_allocation, neyman_history
from sampling.draw import draw
from sampling.estimate import stratified_estimate
from sampling.monitor import plan_alarms
from sampling.ood import uncertainty
from sampling.simulate import load_scenario, reference_set, simulate_day
from sampling.strata import Strata, uncertainty_bands, uncertainty_cuts_from_reference

PER_DAY = 8_000
BUDGET = 200
ONSET = 14
DAYS = 30
RUNS = 5
# Labels: 0 capable/low, 1 capable/high, 2 cheap/low, 3 cheap/high.
CHEAP = np.array([False, False, True, True])
CHEAP_HIGH = np.array([False, False, False, True])
LABELS = (("capable", "low"), ("capable", "high"), ("cheap", "low"), ("cheap", "high"))
PLAN = default_plan_config(budget=BUDGET)


def _population(name: str, days: range) -> list[tuple[np.ndarray, np.ndarray]]:
    sc = dataclasses.replace(load_scenario(name), embedding_dim=8)
    ref = reference_set(sc, 5_000, seed=3)
    bands = uncertainty_cuts_from_reference(uncertainty(ref.router_confidence))
    out = []
    for d in days:
        b = simulate_day(sc, d, np.random.default_rng([11, d]), PER_DAY)
        high = uncertainty_bands(uncertainty(b.router_confidence), bands) == "high"
        out.append(((b.tier == "cheap") * 2 + high, b.correct))
    return out


@pytest.fixture(scope="module")
def populations() -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    seed = _population("seed", range(DAYS))
    # Days before the onset are the same in both scenarios (same per-day generators).
    stable = seed[:ONSET] + _population("stable", range(ONSET, DAYS))
    return {"seed": seed, "stable": stable}


def _run(pop: list[tuple[np.ndarray, np.ndarray]], plan: str, seed: int) -> dict[str, list]:
    """Draw each day's reviews (perfect reviewer); the default plan's allocation for 'c'."""
    rng = np.random.default_rng(seed)
    n_hist, w_hist = np.zeros((len(pop), 4)), np.zeros((len(pop), 4))
    days: dict[str, list] = {"code": [], "y": [], "N": []}
    for d, (code, correct) in enumerate(pop):
        N = np.bincount(code, minlength=4)
        if plan == "c":
            lo = max(0, d - NEYMAN_WINDOW_DAYS)
            recent_n, recent_w = n_hist[lo:d].sum(0), w_hist[lo:d].sum(0)
            older_n, older_w = n_hist[:lo].sum(0), w_hist[:lo].sum(0)
            s, f = neyman_history(recent_n - recent_w, recent_w, older_n - older_w, older_w)
            strata = Strata(np.zeros(0, np.int64), LABELS, ("tier", "uncertainty"), N)
            n = design_allocation(
                strata,
                BUDGET,
                method=PLAN["allocation"],
                successes=s,
                failures=f,
                oversampling=PLAN["oversampling"],
            ).n
            sample = draw(code, n, seed=rng).indices
        else:
            sample = rng.choice(code.size, BUDGET, replace=False)
        c, y = code[sample], correct[sample].astype(float)
        n_hist[d] = np.bincount(c, minlength=4)
        w_hist[d] = np.bincount(c, weights=1 - y, minlength=4)
        days["code"].append(c)
        days["y"].append(y)
        days["N"].append(N)
    return days


def _half_width_cheap_high(days: dict[str, list], plan: str, window: range) -> float:
    codes = [days["code"][d] for d in window]
    ys = [days["y"][d] for d in window]
    if plan == "c":  # each day's strata
        N = np.concatenate([days["N"][d] for d in window])
        code = np.concatenate([c + 4 * j for j, c in enumerate(codes)])
        dom = np.tile(CHEAP_HIGH, len(window))
    else:  # uniform: the cheap × high post-stratum pooled over the window
        N = np.array([sum(days["N"][d][3] for d in window)])
        keep = [c == 3 for c in codes]
        code = np.zeros(sum(int(k.sum()) for k in keep), dtype=np.int64)
        ys = [y[k] for y, k in zip(ys, keep, strict=True)]
        dom = np.array([True])
    est = stratified_estimate(N, code, np.concatenate(ys), domain=dom)
    return (est.ci_high - est.ci_low) / 2


def test_stratified_plan_halves_the_half_width_on_the_failing_band(populations) -> None:
    window = range(21, 28)
    hw = {"b": [], "c": []}
    for r in range(RUNS):
        for plan in hw:
            days = _run(populations["seed"], plan, r)
            hw[plan].append(_half_width_cheap_high(days, plan, window))
    assert np.mean(hw["c"]) < 0.5 * np.mean(hw["b"]), hw


def _first_alarm_day(days: dict[str, list]) -> int | None:
    """First cheap-tier alarm day of the product's charts (`sampling.monitor.plan_alarms`:
    one chart per tier × band, calibrated together, p0 from the first ONSET days)."""
    base = np.concatenate(days["code"][:ONSET])
    y_base = np.concatenate(days["y"][:ONSET])
    code = np.concatenate(days["code"][ONSET:])
    y = np.concatenate(days["y"][ONSET:])
    day = np.concatenate([np.full(c.size, d + ONSET) for d, c in enumerate(days["code"][ONSET:])])
    result = plan_alarms(
        baseline_wrong=(1 - y_base).astype(np.int64),
        baseline_cell=base,
        monitored_wrong=(1 - y).astype(np.int64),
        monitored_cell=code,
        cell_tier=[label[0] for label in LABELS],
        cell_band=[label[1] for label in LABELS],
        baseline_days=ONSET,
        odds_ratio=CUSUM_ODDS_RATIO,
        n_runs=200,
    )
    alarm_days = [
        int(day[chart.reviews[i]])
        for chart in result.charts
        if chart.tier == "cheap"
        for i in chart.result.alarms
    ]
    return min(alarm_days, default=None)


def test_cusum_alarms_after_onset_on_seed_not_on_stable(populations) -> None:
    seed_alarms = [_first_alarm_day(_run(populations["seed"], "c", 100 + r)) for r in range(RUNS)]
    stable_alarms = [
        _first_alarm_day(_run(populations["stable"], "c", 200 + r)) for r in range(RUNS)
    ]
    detected = [a for a in seed_alarms if a is not None]
    assert len(detected) >= RUNS - 1, seed_alarms
    assert all(a >= ONSET for a in detected)
    assert np.median(np.array(detected) - ONSET) <= 10, seed_alarms
    assert sum(a is not None for a in stable_alarms) <= 1, stable_alarms
