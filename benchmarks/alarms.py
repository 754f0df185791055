"""Quality alarms as users get them: false alarms per stable quarter, and detection on `seed`.

What runs is the product's own alarm code: ``sampling.monitor.plan_alarms`` — the function
``reviewapp/reports/services.py`` calls after each day's reviews — with the default plan
(``reviewapp/reports/oracle.py:default_plan_config``, the plan ``make run`` creates; floor =
PlanVersion's default ``stratum_min``) and the shipped alarm settings (``settings.LONGTAIL``:
ALARM_BASELINE_DAYS, ALARM_CUSUM_RUNS, ALARM_FALSE_ALARMS_PER_QUARTER, ALARM_QUARTER_SHARE).
Its steps are ``sampling.baseline.baseline_rates`` → ``sampling.monitor.chart_groups`` /
``chart_baselines`` / ``calibrate_plan`` → ``sampling.detect.cusum(restart=True)``; the
below-target rule is ``sampling.estimate.stratified_estimate`` on the trailing 7 days' strata
→ ``sampling.detect.below_target``, as the service's ``_below_target_alarms`` does.

What is the study's, not the product's (running the Django path 200 times is too slow):

* The traffic: ``benchmarks/efficiency.py``'s populations (the ``seed`` and ``stable``
  scenarios of ``sampling.simulate``, 10,000 answers a day instead of 40,000 with the same
  shares; strata tier × uncertainty band × OOD band, bands as the product computes them).
* The queue: each day ``sampling.allocation.design_allocation`` (what the queue build calls)
  with the default plan's method (Neyman), oversampling, floor and budget (200), fed with the
  plan's past reviews per stratum through ``sampling.allocation.neyman_history`` over the
  NEYMAN_WINDOW_DAYS window (as ``review/services.py:allocation_history``); the product's
  functions. The study's part: the draw is a simple random sample per stratum,
  drawn as counts (hypergeometric: the distribution of ``sampling.draw``'s sample) in a
  random order within the day; the reviewer is wrong on 2 % of items (``ORACLE_ERROR``).
* One "review" is one item's verdict (no partial credit: the simulated reviewer says correct
  or wrong).

(a) Stable quarters: the ``stable`` scenario, the baseline (the first ALARM_BASELINE_DAYS
    days), then one quarter (91 days) monitored. Per run: the plan's quality alarms (every
    chart's alarm plus every below-target day, both tiers) — the plan's count the promise is
    about. Beside it, "main": the shipped rule before this change (one chart per tier, each
    calibrated separately for ≤ 1 alarm per quarter in 95 % with p0 treated as known,
    ``sampling.detect.calibrate_h_for_false_alarms``).
(b) Detection on ``seed`` (hidden intents from day 14, the end of the default baseline): days
    from the onset to the first cheap-tier alarm (a cheap chart's CUSUM alarm or the cheap
    tier below target) for the default plan, and — same detector, same run — uniform review
    with one aggregate chart ("uniform") and uniform review with one chart per tier
    ("uniform by tier").

    nice .venv/bin/python benchmarks/alarms.py --quick   # 20 runs each: a few minutes
    nice .venv/bin/python benchmarks/alarms.py           # 200 runs each
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.efficiency import LABELS, population, sample_day, stratum_totals  # noqa: E402
from sampling.allocation import (  # noqa: E402
    NEYMAN_PRIOR_REVIEWS,
    design_allocation,
    neyman_history,
)
from sampling.detect import below_target, calibrate_h_for_false_alarms, cusum  # noqa: E402
from sampling.estimate import stratified_estimate  # noqa: E402
from sampling.monitor import QUARTER_DAYS, plan_alarms  # noqa: E402
from sampling.strata import Strata  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from reviewapp.reports.oracle import default_plan_config  # noqa: E402
from reviewapp.review.models import PlanVersion  # noqa: E402

H = len(LABELS)
ONSET = 14  # seed: hidden intents from day 14
WINDOW = 7  # below-target: trailing 7 days (services.BELOW_TARGET_WINDOW_DAYS)
DIMS = ("tier", "uncertainty", "ood")
PLAN = default_plan_config()
FLOOR = int(PlanVersion._meta.get_field("stratum_min").default)
ALARM = {
    "baseline_days": int(settings.LONGTAIL["ALARM_BASELINE_DAYS"]),
    "n_runs": int(settings.LONGTAIL.get("ALARM_CUSUM_RUNS", 1000)),
    "max_alarms": int(settings.LONGTAIL.get("ALARM_FALSE_ALARMS_PER_QUARTER", 1)),
    "share": float(settings.LONGTAIL.get("ALARM_QUARTER_SHARE", 0.95)),
}
# Neyman's history as the queue build reads it (review/services.py:allocation_history): the
# last NEYMAN_WINDOW_DAYS days in full, older reviews as a capped prior; 0 = all history.
NEYMAN_WINDOW = int(settings.LONGTAIL.get("NEYMAN_WINDOW_DAYS", 0))
BELOW_CONFIDENCE = float(settings.LONGTAIL.get("ALARM_BELOW_TARGET_CONFIDENCE", 0.95))
ORACLE_ERROR = 0.02
ODDS_RATIO = 2.0  # services.CUSUM_ODDS_RATIO
TARGET_NOTE = "  (target median ≤ 5, p90 ≤ 7)"


def reviews(N: np.ndarray, K: np.ndarray, rng: np.random.Generator, plan: bool) -> dict[str, Any]:
    """Daily counts and review streams: the default plan's queue, or a uniform sample."""
    days = N.shape[0]
    budget = int(PLAN["daily_budget"])
    n = np.zeros((days, H), dtype=np.int64)
    w = np.zeros((days, H), dtype=np.int64)
    cells, wrong, day_of = [], [], []
    for d in range(days):
        if plan:
            lo = max(0, d - NEYMAN_WINDOW) if NEYMAN_WINDOW else 0
            successes, failures = neyman_history(
                (n[lo:d] - w[lo:d]).sum(0),
                w[lo:d].sum(0),
                (n[:lo] - w[:lo]).sum(0),
                w[:lo].sum(0),
                prior_reviews=NEYMAN_PRIOR_REVIEWS,
            )
            strata = Strata(
                codes=np.zeros(0, dtype=np.int64),
                labels=tuple(LABELS),
                dimensions=DIMS,
                sizes=N[d].astype(np.int64),
            )
            n[d] = design_allocation(
                strata,
                budget,
                method=PLAN["allocation"],
                successes=successes,
                failures=failures,
                oversampling=PLAN["oversampling"],
                floor=FLOOR,
            ).n
        else:
            n[d] = rng.multivariate_hypergeometric(N[d], budget)
        w[d], lab, x = sample_day(rng, N[d], K[d], n[d])
        cells.append(lab)
        wrong.append(x.astype(np.int64))
        day_of.append(np.full(lab.size, d))
    return {
        "n": n,
        "w": w,
        "cell": np.concatenate(cells),
        "wrong": np.concatenate(wrong),
        "day": np.concatenate(day_of),
    }


def chart_alarm_days(rev: dict[str, Any], end: int, design: str) -> dict[str, list[int]]:
    """Per tier: the days of its charts' alarms, baseline days 0..B-1, monitored B..end-1.

    design "plan": the product (tier × band charts, calibrated together); "uniform": one chart
    and one cell (all traffic); "uniform_tier": one chart and one cell per tier; "main": the
    rule before this change (tier charts, cells tier × band × OOD, each calibrated alone with
    p0 treated as known)."""
    b = ALARM["baseline_days"]
    base = rev["day"] < b
    mon = (rev["day"] >= b) & (rev["day"] < end)
    if design == "uniform":
        cell_of, tiers, bands = np.zeros(H, np.int64), ["all"], None
    elif design == "uniform_tier":
        cell_of = np.array([lab[0] == "cheap" for lab in LABELS], dtype=np.int64)
        tiers, bands = ["capable", "cheap"], None
    else:
        cell_of = np.arange(H)
        tiers = [lab[0] for lab in LABELS]
        bands = [lab[1] for lab in LABELS] if design == "plan" else None
    cells = cell_of[rev["cell"]]
    out: dict[str, list[int]] = {}
    if design != "main":
        result = plan_alarms(
            baseline_wrong=rev["wrong"][base],
            baseline_cell=cells[base],
            monitored_wrong=rev["wrong"][mon],
            monitored_cell=cells[mon],
            cell_tier=tiers,
            cell_band=bands,
            baseline_days=b,
            days=QUARTER_DAYS,
            max_alarms=ALARM["max_alarms"],
            share=ALARM["share"],
            odds_ratio=ODDS_RATIO,
            n_runs=ALARM["n_runs"],
        )
        mon_day = rev["day"][mon]
        for chart in result.charts:
            days = mon_day[chart.reviews[chart.result.alarms]].tolist()
            out.setdefault(chart.tier, []).extend(int(d) for d in days)
        return out
    # main: per tier, p0 per cell (Beta(1,1)-shrunk as sampling.baseline), h per tier alone.
    from sampling.baseline import baseline_rates

    tier_idx = np.array([t == "cheap" for t in tiers], dtype=np.int64)
    rates = baseline_rates(rev["wrong"][base], cells[base], tier_idx, n_tiers=2)
    for t, tier in enumerate(("capable", "cheap")):
        in_tier = tier_idx[cells] == t
        pool = rates.stratum_rate[cells[base & in_tier]]
        per_day = float((base & in_tier).sum()) / b
        h = calibrate_h_for_false_alarms(
            pool, QUARTER_DAYS * per_day, 1, 0.95, odds_ratio=ODDS_RATIO, n_runs=ALARM["n_runs"]
        ).h
        sel = mon & in_tier
        res = cusum(
            rev["wrong"][sel],
            rates.stratum_rate[cells[sel]],
            odds_ratio=ODDS_RATIO,
            h=h,
            restart=True,
        )
        out[tier] = [int(d) for d in rev["day"][sel][res.alarms]]
    return out


def below_target_days(N: np.ndarray, rev: dict[str, Any], end: int) -> dict[str, list[int]]:
    """Per tier with a target: days from the baseline's end on which a below-target episode
    starts — the trailing-7-day stratified interval lies wholly below the target and the
    previous day's did not (the service raises one alarm per episode)."""
    out: dict[str, list[int]] = {}
    n, w = rev["n"], rev["w"]
    for tier, target in PLAN["targets"].items():
        cols = np.array([lab[0] == tier for lab in LABELS])
        days, below_before = [], False
        for d in range(ALARM["baseline_days"] - 1, end):
            sl = slice(max(0, d - WINDOW + 1), d + 1)
            Nw, nw, ww = N[sl][:, cols].ravel(), n[sl][:, cols].ravel(), w[sl][:, cols].ravel()
            cov = nw > 0
            below = False
            p_hat = np.sum(Nw[cov] * (1 - ww[cov] / nw[cov])) / max(Nw[cov].sum(), 1)
            if cov.any() and p_hat < target:  # the interval contains p̂: else not below
                codes = np.repeat(np.arange(nw.size), nw)
                starts = np.concatenate(([0], np.cumsum(nw)[:-1]))
                y = ((np.arange(codes.size) - starts[codes]) >= ww[codes]).astype(float)
                est = stratified_estimate(Nw, codes, y, confidence=BELOW_CONFIDENCE)
                below = below_target((est.ci_low, est.ci_high), float(target))
            if below and not below_before and d >= ALARM["baseline_days"]:
                days.append(d)
            below_before = below
        out[tier] = days
    return out


_STATE: dict[str, Any] = {}


def stable_run(seed: int) -> dict[str, Any]:
    N, K = _STATE["stable"]
    end = ALARM["baseline_days"] + QUARTER_DAYS
    rev = reviews(N[:end], K[:end], np.random.default_rng([seed, 1]), plan=True)
    out: dict[str, Any] = {"below": below_target_days(N, rev, end)}
    for design in _STATE["stable_designs"]:
        out[design] = chart_alarm_days(rev, end, design)
    return out


def seed_run(seed: int) -> dict[str, Any]:
    N, K = _STATE["seed"]
    end = N.shape[0]
    rng = np.random.default_rng([seed, 2])
    out: dict[str, Any] = {}
    plan_rev = reviews(N, K, rng, plan=True)
    uni_rev = reviews(N, K, rng, plan=False)
    for design, rev in (("plan", plan_rev), ("uniform", uni_rev), ("uniform_tier", uni_rev)):
        if design not in _STATE["seed_designs"]:
            continue
        charts = chart_alarm_days(rev, end, design)
        cheap = charts.get("all" if design == "uniform" else "cheap", [])
        below = below_target_days(N, rev, end)["cheap"] if design != "uniform" else []
        first = min((d for d in cheap + below if d >= ONSET), default=None)
        out[design] = math.inf if first is None else first - ONSET
        out[design + "_cusum_only"] = min(
            (d - ONSET for d in cheap if d >= ONSET), default=math.inf
        )
    return out


def quantile(values: list[float], p: float) -> float:
    return float(np.quantile(np.array(values, dtype=float), p, method="higher"))


def summarize_stable(stable: list[dict[str, Any]]) -> None:
    for design in _STATE["stable_designs"]:
        cusum_n = np.array([sum(len(v) for v in r[design].values()) for r in stable])
        below_n = np.array([sum(len(v) for v in r["below"].values()) for r in stable])
        total = cusum_n + below_n
        label = {"plan": "this branch", "main": "main's rule"}[design]
        counts = dict(zip(*np.unique(total, return_counts=True), strict=True))
        print(
            f"  {label:12s} quality alarms per quarter per plan: mean {total.mean():.2f}"
            f" (CUSUM {cusum_n.mean():.2f}, below target {below_n.mean():.2f}); "
            f"≤ 1 in {np.mean(total <= 1):.1%} of quarters (target ≥ 95 %), CUSUM alone ≤ 1 in "
            f"{np.mean(cusum_n <= 1):.1%}; ≥ 3 in {np.mean(total >= 3):.1%}; quarters by "
            f"count { ({int(k): int(v) for k, v in counts.items()}) }"
        )


def summarize_seed(seeded: list[dict[str, Any]]) -> None:
    names = {
        "plan": "default plan",
        "uniform": "uniform, one chart",
        "uniform_tier": "uniform by tier",
    }
    for design, label in names.items():
        if design not in _STATE["seed_designs"]:
            continue
        for suffix, what in (("", "CUSUM or below target"), ("_cusum_only", "CUSUM")):
            d = [r[design + suffix] for r in seeded]
            print(
                f"  {label:20s} first cheap-tier alarm ({what}), days after onset: "
                f"median {quantile(d, 0.5):g}, p90 {quantile(d, 0.9):g}, none within "
                f"the run in {np.mean(np.isinf(d)):.0%}"
                + (TARGET_NOTE if design == "plan" and not suffix else "")
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per study")
    parser.add_argument("--quick", action="store_true", help="20 runs per study")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--skip-main", action="store_true", help="no 'main' comparison")
    parser.add_argument("--only", choices=("stable", "seed"), default=None)
    parser.add_argument("--every", type=int, default=25, help="print figures every N runs")
    parser.add_argument("--plan-only", action="store_true", help="seed: no uniform baselines")
    parser.add_argument(
        "--oversample",
        type=float,
        default=None,
        help="OTHER SETTINGS (a sweep): the weight of tier=cheap&uncertainty=high",
    )
    args = parser.parse_args()
    if args.oversample is not None:
        PLAN["oversampling"] = {
            **PLAN["oversampling"],
            "tier=cheap&uncertainty=high": args.oversample,
        }
        print(f"NOT THE DEFAULT PLAN: cheap high-uncertainty oversampled ×{args.oversample:g}")
    _STATE["seed_designs"] = ("plan",) if args.plan_only else ("plan", "uniform", "uniform_tier")
    runs = 20 if args.quick else args.runs
    t_start = time.perf_counter()
    end = ALARM["baseline_days"] + QUARTER_DAYS
    _STATE["stable"] = stratum_totals(population("stable", end, args.workers))
    _STATE["seed"] = stratum_totals(population("seed", 90, args.workers))
    _STATE["stable_designs"] = ("plan",) if args.skip_main else ("plan", "main")
    print(
        f"default plan: {PLAN['allocation']}, budget {PLAN['daily_budget']}, floor {FLOOR}, "
        f"oversampling {PLAN['oversampling']}, targets {PLAN['targets']}; Neyman history: "
        f"{f'{NEYMAN_WINDOW} days in full, older reviews a prior' if NEYMAN_WINDOW else 'all'}"
    )
    print(
        f"alarm settings: baseline {ALARM['baseline_days']} days, ≤ {ALARM['max_alarms']} per "
        f"quarter ({QUARTER_DAYS} days) in {ALARM['share']:.0%}, {ALARM['n_runs']} calibration "
        f"runs, odds ratio {ODDS_RATIO}; reviewer error {ORACLE_ERROR:.0%}; {runs} runs"
    )
    every = max(1, args.every)
    with ProcessPoolExecutor(args.workers) as pool:
        if args.only != "seed":
            t0 = time.perf_counter()
            stable: list[dict[str, Any]] = []
            for result in pool.map(stable_run, range(runs)):
                stable.append(result)
                if len(stable) % every == 0 or len(stable) == runs:
                    secs = time.perf_counter() - t0
                    print(f"\n(a) stable quarters: {len(stable)} of {runs} runs, {secs:.0f} s")
                    summarize_stable(stable)
        if args.only != "stable":
            t0 = time.perf_counter()
            seeded: list[dict[str, Any]] = []
            for result in pool.map(seed_run, range(runs)):
                seeded.append(result)
                if len(seeded) % every == 0 or len(seeded) == runs:
                    secs = time.perf_counter() - t0
                    print(f"\n(b) detection on seed: {len(seeded)} of {runs} runs, {secs:.0f} s")
                    summarize_seed(seeded)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s on {args.workers} workers")


if __name__ == "__main__":
    main()
