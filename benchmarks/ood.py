"""Benchmark: OOD k-NN scoring throughput (embeddings scored per second).

Default: 1,000,000 query embeddings × 384 dimensions against a 20,000-point reference, k = 10,
exact float32 brute force in blocks (sampling.ood). Queries are produced in chunks so the
script never holds all of them; only scoring time is counted. Reference fitting (its own
leave-one-out k-NN distances, 20,000²) is timed separately.

    .venv/bin/python benchmarks/ood.py            # the full run (a few minutes on 2 cores)
    .venv/bin/python benchmarks/ood.py --n 20000  # a quick check
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from sampling.ood import fit_knn_reference, ood_scores  # noqa: E402
from sampling.simulate import load_scenario, reference_set, simulate_day  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="query embeddings to score")
    parser.add_argument("--reference", type=int, default=20_000, help="reference size")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=40_000, help="queries per chunk (a day)")
    args = parser.parse_args()

    scenario = replace(load_scenario("seed"), embedding_dim=args.dim)
    ref_emb = reference_set(scenario, args.reference, seed=0).embedding

    t0 = time.perf_counter()
    ref = fit_knn_reference(ref_emb, k=args.k)
    fit_s = time.perf_counter() - t0
    print(f"reference {args.reference} x {args.dim}: leave-one-out fit {fit_s:.1f} s")

    scored, busy, day = 0, 0.0, 40
    while scored < args.n:
        n = min(args.chunk, args.n - scored)
        emb = simulate_day(scenario, day, np.random.default_rng(day), per_day=n).embedding
        t0 = time.perf_counter()
        _, pct = ood_scores(ref, emb)
        busy += time.perf_counter() - t0
        scored += n
        day += 1
        print(f"  {scored:>9,} scored, {scored / busy:,.0f}/s, p99 share {np.mean(pct >= 99):.3f}")
    print(
        f"{scored:,} embeddings x {args.dim} vs {args.reference:,} reference, k={args.k}: "
        f"{busy:.1f} s scoring, {scored / busy:,.0f} embeddings/s"
    )


if __name__ == "__main__":
    main()
