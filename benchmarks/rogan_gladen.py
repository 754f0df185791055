"""Coverage of the Rogan–Gladen corrected interval with Se and Sp estimated from gold reviews.

Issue 9, "Must show": corrected intervals cover 93–97 % with reviewer error 2 % and 5 % and
50–200 gold items. Each repetition simulates one tier-window of stratified review data and one
set of gold reviews, then runs the functions the agreement page runs, with their defaults:

* a tier of 12 strata, N_h lognormal (median 400 × scale), true accuracy p_h per stratum
  spread around the tier's accuracy a (strata with lower accuracy are smaller and oversampled ×4,
  like the default plan's high-uncertainty strata); each stratum's items are truly correct or
  not (the finite population whose accuracy is the truth), n_h of them are drawn without
  replacement (n_h ≥ 2, total ≈ --reviews) and reviewed by a reviewer who errs with
  probability e in both directions (Se = Sp = 1 − e, sampling.simulate.oracle_verdicts);
* A_obs and its interval: sampling.estimate.stratified_estimate with its defaults (Wilson on
  the design-based effective size, pooled variance floor) — what the tier report shows;
* gold: G gold reviews, a share --gold-wrong of them of truly wrong items, reviewed by the same
  reviewer; Se = share of truly-correct gold called correct, Sp = share of truly-wrong gold
  called wrong (selectors_quality pools them the same way);
* the corrected interval: sampling.estimate.rogan_gladen_interval (the agreement page's call),
  against the old one (rogan_gladen on the raw endpoints, Se and Sp treated as known).

A repetition whose gold gives Se + Sp ≤ 1 (the page shows no correction) counts as not covered.

    nice python benchmarks/rogan_gladen.py            # 2,000 repetitions per row
    nice python benchmarks/rogan_gladen.py --quick    # 300 per row, a few rows
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sampling.estimate import rogan_gladen, rogan_gladen_interval, stratified_estimate  # noqa: E402
from sampling.simulate import oracle_verdicts  # noqa: E402

H = 12


@dataclass(frozen=True)
class Row:
    error: float
    gold: int
    accuracy: float
    reviews: int
    reps: int
    covered: float
    covered_old: float
    covered_raw: float
    width: float
    width_old: float
    no_correction: int


def simulate_row(
    *,
    error: float,
    gold: int,
    accuracy: float,
    reviews: int,
    reps: int,
    gold_wrong: float,
    seed: int,
) -> Row:
    rng = np.random.default_rng(seed)
    hits = hits_old = hits_raw = skipped = 0
    widths: list[float] = []
    widths_old: list[float] = []
    n_wrong_gold = max(1, round(gold * gold_wrong))
    n_right_gold = gold - n_wrong_gold
    for _ in range(reps):
        N = np.maximum(np.round(rng.lognormal(np.log(400), 1.0, H)), 10).astype(np.int64)
        # Lower-accuracy strata: the four smallest, oversampled ×4 (the queue's uncertain band).
        hard = np.argsort(N)[:4]
        shift = np.zeros(H)
        shift[hard] = -3.0 * (1.0 - accuracy)
        p = np.clip(accuracy + shift + rng.normal(0.0, 0.01, H), 0.3, 0.999)
        weight = N.astype(float)
        weight[hard] *= 4.0
        n = np.minimum(np.maximum(np.round(reviews * weight / weight.sum()), 2), N)
        n = n.astype(np.int64)
        codes = []
        scores = []
        truth_total = 0
        seen = 0.0  # what the reviewer sees, in expectation: Σ W_h·(a_h·Se + (1 − a_h)(1 − Sp))
        for h in range(H):
            truth = rng.random(N[h]) < p[h]
            truth_total += int(truth.sum())
            a_h = truth.mean()
            seen += N[h] / N.sum() * (a_h * (1 - error) + (1 - a_h) * error)
            sample = rng.choice(N[h], size=n[h], replace=False)
            verdict = oracle_verdicts(truth[sample], error, rng)
            codes.append(np.full(n[h], h))
            scores.append(verdict.astype(float))
        true_accuracy = truth_total / N.sum()
        raw = stratified_estimate(N, np.concatenate(codes), np.concatenate(scores))
        hits_raw += raw.ci_low <= seen <= raw.ci_high
        gold_truth = np.r_[np.ones(n_right_gold, bool), np.zeros(n_wrong_gold, bool)]
        gold_verdict = oracle_verdicts(gold_truth, error, rng)
        se = float(gold_verdict[gold_truth].mean())
        sp = float(1.0 - gold_verdict[~gold_truth].mean())
        if se + sp <= 1.0:
            skipped += 1
            continue
        fixed = rogan_gladen_interval(
            raw.estimate,
            raw.ci_low,
            raw.ci_high,
            sensitivity=se,
            gold_correct=n_right_gold,
            specificity=sp,
            gold_wrong=n_wrong_gold,
        )
        hits += fixed.ci_low <= true_accuracy <= fixed.ci_high
        widths.append(fixed.ci_high - fixed.ci_low)
        lo, hi = (float(rogan_gladen(x, se, sp)) for x in (raw.ci_low, raw.ci_high))
        hits_old += lo <= true_accuracy <= hi
        widths_old.append(hi - lo)
    return Row(
        error=error,
        gold=gold,
        accuracy=accuracy,
        reviews=reviews,
        reps=reps,
        covered=hits / reps,
        covered_old=hits_old / reps,
        covered_raw=hits_raw / reps,
        width=float(np.mean(widths)) if widths else float("nan"),
        width_old=float(np.mean(widths_old)) if widths_old else float("nan"),
        no_correction=skipped,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 repetitions, fewer rows")
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument(
        "--gold-wrong", type=float, default=0.25, help="share of gold items truly wrong"
    )
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    reps = 300 if args.quick else args.reps
    errors = (0.02, 0.05)
    golds = (50, 200) if args.quick else (50, 80, 100, 200)
    accuracies = (0.97,) if args.quick else (0.90, 0.97)
    sizes = (1400,) if args.quick else (300, 1400)
    print(
        f"{reps} repetitions per row; 12 strata; gold {args.gold_wrong:.0%} truly wrong; "
        "reviewer Se = Sp = 1 − e\n"
    )
    print(
        "| reviewer error | gold reviews | true accuracy | reviews | covered (this) "
        "| mean width, points | covered (old: endpoints mapped) | mean width, points "
        "| raw interval covers the accuracy the reviewer sees | no correction |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    start = time.monotonic()
    k = 0
    for e in errors:
        for g in golds:
            for a in accuracies:
                for m in sizes:
                    k += 1
                    r = simulate_row(
                        error=e,
                        gold=g,
                        accuracy=a,
                        reviews=m,
                        reps=reps,
                        gold_wrong=args.gold_wrong,
                        seed=args.seed * 1000 + k,
                    )
                    print(
                        f"| {e:.0%} | {g} | {a:.2f} | {m} | {r.covered:.1%} | "
                        f"{100 * r.width:.1f} | {r.covered_old:.1%} | {100 * r.width_old:.1f} "
                        f"| {r.covered_raw:.1%} | {r.no_correction} |",
                        flush=True,
                    )
    print(f"\n{time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
