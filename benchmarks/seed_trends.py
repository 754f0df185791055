"""Daily accuracy points of the trends page on the `seed` scenario (issue 9, "Must show").

Check: on `seed`, the daily trend points of every tier with ≥ 50 reviews that day: no 95 %
interval spans 0–100 %, and ≤ 5 % are wider than 40 points.

Runs the product's path end to end, as benchmarks/seed_validation.py does (and with its
helpers): the seed scenario is loaded through the ingest service (`simulate --load`), the
default plan `make run` creates (reviewapp.reports.oracle.default_plan_config) builds each
day's queue (strata, Neyman allocation from past reviews, seeded draw) and the simulator's
oracle reviews it (claim + submit, 2 % reviewer error), day after day. The points are then
read exactly as the trends page reads them: reviewapp.reports.trends.accuracy_series(period=
"day") → selectors.domain_estimate → sampling.estimate.stratified_estimate (its defaults).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/longtail_seedtrends \\
        .venv/bin/python benchmarks/seed_trends.py --days 28 --per-day 4000 --review-days 21
    # the same stored reviews read with another checkout's code (e.g. main, for "before"):
    .venv/bin/python benchmarks/seed_trends.py --days 28 --per-day 4000 --review-days 21 \
        --read-only --root ../main

A rerun on the same database reuses the loaded source and the plan's stored queues and
reviews (``--read-only`` only reads; ``--review-days N`` builds and reviews the first N days
only). Exit status 1 when the check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# benchmarks/queue.py would shadow the standard library's queue: drop this folder from the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/longtail_seedtrends"
MIN_REVIEWS = 50
WIDE = 0.40


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--per-day", type=int, default=4000)
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--error-rate", type=float, default=0.02)
    parser.add_argument("--reference", type=int, default=5000)
    parser.add_argument("--root", default=str(_HERE.parent), help="checkout whose code reads")
    parser.add_argument(
        "--review-days", type=int, default=None, help="build and review only the first N days"
    )
    parser.add_argument(
        "--read-only", action="store_true", help="only read the plan's stored reviews"
    )
    args = parser.parse_args()
    root = Path(args.root).resolve()
    sys.path.insert(0, str(root))
    os.chdir(root)  # celery's Django fix-up puts the working directory first on sys.path
    t0 = time.time()

    from benchmarks.seed_validation import _setup, plan_configs

    _setup(args.database_url)
    from django.core.management import call_command

    from reviewapp.reports.oracle import plan_build_and_review, source_days, truth_load
    from reviewapp.reports.trends import accuracy_series
    from reviewapp.responses.models import Response, Source
    from reviewapp.review.models import Plan, Queue, Review
    from reviewapp.review.services import plan_save
    from sampling import estimate

    print(f"estimates by {Path(estimate.__file__).resolve()}", flush=True)
    name = f"sim-seed-trends-{args.days}x{args.per_day}"
    source = Source.objects.filter(name=name).first()
    if source is None or not Response.objects.filter(source=source).exists():
        print(f"loading seed: {args.days} days × {args.per_day}/day into {name} ...", flush=True)
        call_command(
            "simulate",
            "--scenario",
            "seed",
            "--days",
            str(args.days),
            "--per-day",
            str(args.per_day),
            "--reference",
            str(args.reference),
            "--source",
            name,
            "--load",
        )
        source = Source.objects.get(name=name)
    days = source_days(source)[: args.review_days]
    plan = Plan.objects.filter(name="seedtrends-default").first()
    if plan is None:
        config = plan_configs(args.budget)["stratified"]  # = oracle.default_plan_config
        plan = plan_save(name="seedtrends-default", config=config, sources=[source]).plan
    reviewed = Review.objects.filter(
        item__queue__plan=plan, item__queue__kind=Queue.Kind.PROBABILITY
    )
    if not args.read_only:  # queue_build and the oracle skip what is already done
        truth = truth_load(root / "simulated" / name / "truth.jsonl")
        summary = plan_build_and_review(
            plan=plan,
            days=days,
            truth=truth,
            reviewers=2,
            error_rate=args.error_rate,
            transport="service",
            seed=1,
        )
        print(f"{summary.reviews} reviews over {len(days)} days", flush=True)
    print(f"{reviewed.count()} stored reviews ({time.time() - t0:.0f} s)", flush=True)

    points = accuracy_series(plan=plan, start=days[0], end=days[-1], period="day")
    print(
        "\n| tier | days | days with ≥ 50 reviews | reviews/day (min–max) | span 0–100 % "
        "| wider than 40 points | widest | median width |"
    )
    print("|---|---|---|---|---|---|---|---|")
    failed = False
    all_full = all_wide = all_n = 0
    for tier in sorted({p.tier for p in points}):
        rows = [p for p in points if p.tier == tier]
        big = [p for p in rows if p.reviewed >= MIN_REVIEWS and p.ci_low is not None]
        widths = sorted((p.ci_high or 0.0) - (p.ci_low or 0.0) for p in big)
        full = sum(1 for p in big if (p.ci_low or 0) < 0.0005 and (p.ci_high or 0) > 0.9995)
        wide = sum(1 for w in widths if w > WIDE)
        all_full, all_wide, all_n = all_full + full, all_wide + wide, all_n + len(big)
        counts = [p.reviewed for p in rows]
        print(
            f"| {tier} | {len(rows)} | {len(big)} | {min(counts)}–{max(counts)} | {full} "
            f"| {wide} ({100 * wide / max(len(big), 1):.1f} %) "
            f"| {max(widths, default=float('nan')):.3f} "
            f"| {widths[len(widths) // 2] if widths else float('nan'):.3f} |"
        )
    failed = all_full > 0 or all_wide > 0.05 * all_n
    print(
        f"\n{all_n} tier-days with ≥ {MIN_REVIEWS} reviews: {all_full} span 0–100 %, "
        f"{all_wide} ({100 * all_wide / max(all_n, 1):.1f} %) wider than 40 points → "
        + ("check FAILED" if failed else "check met")
        + f" ({time.time() - t0:.0f} s)"
    )
    print("\nper day (tier: reviewed, estimate [interval]):")
    for p in points:
        if p.accuracy is not None:
            print(
                f"  {p.period} {p.tier}: {p.reviewed}, {p.accuracy:.3f} "
                f"[{p.ci_low:.3f}, {p.ci_high:.3f}]"
            )
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
