"""Benchmark: OOD k-NN scoring throughput (embeddings scored per second), exact vs indexed.

Default: 1,000,000 query embeddings × 384 dimensions against a 20,000-point reference, k = 10.
Queries are produced in chunks (a simulated day each) so the script never holds all of them;
only scoring time is counted. Reference fitting (its own leave-one-out k-NN distances,
20,000², plus the index) is timed separately.

All ``--n`` queries are scored with ``--method`` (default ``pruned``: the exact cluster-pruned
search of sampling.ood). The other methods in ``--compare`` (default ``exact`` brute force and
``hnsw``, faiss's approximate graph index) score the first ``--compare-n`` queries, for their
rate; on the first ``--sample`` queries every method's k nearest similarities are checked
against brute force: recall@k (share of the returned neighbours whose similarity reaches the
exact k-th one, as ann-benchmarks counts it), and the mean / max absolute error of the OOD
percentile (points of 0–100).

    .venv/bin/python benchmarks/ood.py            # the full run (minutes on 2 cores)
    .venv/bin/python benchmarks/ood.py --n 20000  # a quick check
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from sampling.ood import (  # noqa: E402
    KnnReference,
    fit_knn_reference,
    knn_similarities,
    ood_scores,
)
from sampling.simulate import load_scenario, reference_set, simulate_day  # noqa: E402


def _load() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "load average n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="query embeddings to score")
    parser.add_argument("--reference", type=int, default=20_000, help="reference size")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=40_000, help="queries per chunk (a day)")
    parser.add_argument("--method", default="pruned", choices=["exact", "pruned", "hnsw"])
    parser.add_argument("--compare", default="exact,hnsw", help="other methods, comma-separated")
    parser.add_argument("--compare-n", type=int, default=40_000, help="queries for --compare")
    parser.add_argument("--sample", type=int, default=5_000, help="queries checked vs exact")
    parser.add_argument("--ef-search", type=int, default=128, help="HNSW efSearch")
    args = parser.parse_args()

    print(f"{os.cpu_count()} CPUs, {_load()}")
    scenario = replace(load_scenario("seed"), embedding_dim=args.dim)
    ref_emb = reference_set(scenario, args.reference, seed=0).embedding

    def day(d: int, n: int) -> np.ndarray:
        return simulate_day(scenario, d, np.random.default_rng(d), per_day=n).embedding

    methods = [args.method] + [m for m in args.compare.split(",") if m and m != args.method]
    refs: dict[str, KnnReference] = {}
    for m in methods:
        t0 = time.perf_counter()
        refs[m] = fit_knn_reference(ref_emb, k=args.k, method=m, ef_search=args.ef_search)  # type: ignore[arg-type]
        print(f"fit {m}: {time.perf_counter() - t0:.1f} s (leave-one-out + index)")

    # Accuracy against brute force on a sample.
    sample = day(40, min(args.sample, args.n))
    exact_top = knn_similarities(refs[methods[0]], sample, method="exact")
    exact_pct = refs[methods[0]].percentile(1.0 - exact_top[:, -1])
    quality: dict[str, str] = {}
    for m in methods:
        top = knn_similarities(refs[m], sample)
        recall = np.mean(top >= exact_top[:, -1:] - 1e-6)
        err = np.abs(refs[m].percentile(1.0 - top[:, -1]) - exact_pct)
        quality[m] = (
            f"recall@{args.k} {recall:.4f}, percentile error mean {err.mean():.3f} "
            f"max {err.max():.2f} points (on {len(sample):,})"
        )

    # Rates of the comparison methods on the first --compare-n queries.
    rates: dict[str, str] = {}
    for m in methods[1:]:
        n = min(args.compare_n, args.n)
        emb = day(40, n)
        t0 = time.perf_counter()
        ood_scores(refs[m], emb)
        rates[m] = f"{n / (time.perf_counter() - t0):,.0f} embeddings/s (on {n:,}, {_load()})"

    ref = refs[methods[0]]
    scored, busy, d = 0, 0.0, 40
    while scored < args.n:
        n = min(args.chunk, args.n - scored)
        emb = day(d, n)
        t0 = time.perf_counter()
        _, pct = ood_scores(ref, emb)
        busy += time.perf_counter() - t0
        scored += n
        d += 1
        print(f"  {scored:>9,} scored, {scored / busy:,.0f}/s, p99 share {np.mean(pct >= 99):.3f}")
    rates[methods[0]] = f"{scored / busy:,.0f} embeddings/s (on {scored:,}, {_load()})"
    print(f"{args.dim}-d queries vs {args.reference:,} reference, k={args.k}:")
    for m in methods:
        print(f"  {m:>6}: {rates[m]}; {quality[m]}")


if __name__ == "__main__":
    main()
