"""What the leadership summary's arrows and statuses say, against the truth (issue 9 item 6).

For each simulated run, the daily review samples of Longtail's default plan (tier ×
uncertainty × OOD, Neyman, ×8 cheap high-uncertainty, ×3 OOD edge/out, 200 reviews a day:
`reviewapp.reports.oracle.default_plan_config`) are drawn on the `stable` and `seed`
populations of benchmarks/efficiency.py (10,000 answers a day, reviewer error 2 %; its plan
(c) allocation, which reads the last 14 days' reviews where the product reads all history —
that difference is the one setting not the product's). The summary's default window is 14
days; each tier's accuracy in consecutive 14-day windows is estimated as the summary does
(`sampling.estimate.stratified_estimate`, Wilson, each day's strata separate) and compared:

* arrows: the old rule (▲/▼ when the estimate moved ≥ 0.5 points) against the new one (only
  when the change's 95 % interval, `sampling.compare.change_interval`, excludes 0), split by
  the tier's true change between the windows;
* statuses against the 0.93 target: the old "ok" (not below) against the new
  below / meets / not yet known (`sampling.compare.target_status`), split by the truth.

    nice .venv/bin/python benchmarks/summary_changes.py            # 200 runs
    nice .venv/bin/python benchmarks/summary_changes.py --quick    # 20 runs (about a minute)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from benchmarks.efficiency import (  # noqa: E402
    L_CHEAP,
    H,
    population,
    run_strategies,
    stratum_totals,
)
from sampling.compare import change_interval, target_status  # noqa: E402
from sampling.estimate import stratified_estimate  # noqa: E402

WINDOW = 14  # the summary's default window (reviewapp.reports.selectors.DEFAULT_WINDOW_DAYS)
TARGET = 0.93  # default_plan_config's target for both tiers
OLD_POINTS = 0.005  # the old arrow rule: a move of at least 0.5 points
TIERS = {"cheap": L_CHEAP, "capable": ~L_CHEAP}


def window_estimate(N, n, w, days: range, tier_mask: np.ndarray):
    """The tier's estimate over `days` as the summary computes it (day × stratum strata)."""
    Nw = N[days.start : days.stop][:, tier_mask].ravel()
    nw = n[days.start : days.stop][:, tier_mask].ravel()
    ww = w[days.start : days.stop][:, tier_mask].ravel()
    codes = np.repeat(np.arange(Nw.size), nw)
    scores = np.concatenate(
        [np.r_[np.zeros(k), np.ones(m - k)] for k, m in zip(ww, nw, strict=True)]
    )
    return stratified_estimate(Nw, codes, scores)


def true_accuracy(N, K, days: range, tier_mask: np.ndarray) -> float:
    sl = slice(days.start, days.stop)
    return float(1 - K[sl][:, tier_mask].sum() / N[sl][:, tier_mask].sum())


def study(name: str, days: int, runs: int, workers: int) -> dict[str, Counter]:
    pop = population(name, days, workers)
    N, K = stratum_totals(pop)
    assert N.shape[1] == H
    windows = [range(s, s + WINDOW) for s in range(0, days - WINDOW + 1, WINDOW)]
    arrows: Counter = Counter()
    statuses: Counter = Counter()
    for seed in range(runs):
        rev = run_strategies(N, K, seed)["c"]
        for mask in TIERS.values():
            est = [window_estimate(N, rev["n"], rev["w"], d, mask) for d in windows]
            truth = [true_accuracy(N, K, d, mask) for d in windows]
            for e, t in zip(est, truth, strict=True):
                new = target_status((e.ci_low, e.ci_high), TARGET)
                old = "below target" if e.ci_high < TARGET else "ok"
                side = "truly below" if t < TARGET else "truly at/above"
                statuses[(side, "old", old)] += 1
                statuses[(side, "new", new)] += 1
                statuses[(side, "all")] += 1
            for i in range(1, len(windows)):
                now, before = est[i], est[i - 1]
                moved = truth[i] - truth[i - 1]
                size = (
                    "|true change| < 0.5 pt"
                    if abs(moved) < 0.005
                    else "0.5–2 pt"
                    if abs(moved) < 0.02
                    else "≥ 2 pt"
                )
                change = change_interval(
                    now.estimate,
                    (now.ci_low, now.ci_high),
                    before.estimate,
                    (before.ci_low, before.ci_high),
                )
                d = now.estimate - before.estimate
                old = "up" if d >= OLD_POINTS else "down" if d <= -OLD_POINTS else "none"
                truly = "up" if moved > 0 else "down"
                for rule, arrow in (("old", old), ("new", change.direction)):
                    verdict = (
                        "no arrow"
                        if arrow == "none"
                        else "right direction"
                        if arrow == truly
                        else "wrong direction"
                    )
                    arrows[(size, rule, verdict)] += 1
                arrows[(size, "all")] += 1
    return {"arrows": arrows, "statuses": statuses}


def report(name: str, result: dict[str, Counter]) -> None:
    arrows, statuses = result["arrows"], result["statuses"]
    print(f"\n### {name}: arrows between consecutive {WINDOW}-day windows (per tier)\n")
    print("| true change | pairs | rule | arrow, right way | arrow, wrong way | no arrow |")
    print("|---|---:|---|---:|---:|---:|")
    for size in ("|true change| < 0.5 pt", "0.5–2 pt", "≥ 2 pt"):
        total = arrows[(size, "all")]
        if not total:
            continue
        for rule in ("old", "new"):
            cells = [
                f"{100 * arrows[(size, rule, v)] / total:.1f} %"
                for v in ("right direction", "wrong direction", "no arrow")
            ]
            label = "≥ 0.5 pt moved" if rule == "old" else "interval excludes 0"
            print(f"| {size} | {total} | {label} | " + " | ".join(cells) + " |")
    print(f"\n### {name}: status of a tier-window against the {TARGET:.0%} target\n")
    print(
        "| truth | tier-windows | old: ok | old: below | new: meets | new: not yet known"
        " | new: below |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for side in ("truly below", "truly at/above"):
        total = statuses[(side, "all")]
        if not total:
            continue
        cells = [
            f"{100 * statuses[(side, rule, s)] / total:.1f} %"
            for rule, s in (
                ("old", "ok"),
                ("old", "below target"),
                ("new", "meets target"),
                ("new", "not yet known"),
                ("new", "below target"),
            )
        ]
        print(f"| {side} | {total} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20 runs")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args()
    runs = 20 if args.quick else args.runs
    t0 = time.perf_counter()
    print(f"# Summary arrows and statuses against the truth: {runs} runs per scenario")
    for name, days in (("stable", 104), ("seed", 90)):
        report(name, study(name, days, runs, args.workers))
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
