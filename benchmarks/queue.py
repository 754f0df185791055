"""Benchmark: build one day's review queue from 1,000,000 already-scored responses.

Synthetic scored arrays (tier, uncertainty, OOD percentile, segment) stand in for a day of
production traffic; the timed steps are the ones ``build_queue`` runs in sampling/:
banding (uncertainty cut-offs from a reference's quantiles, OOD bands), stratum assignment
(tier × uncertainty band × OOD band × segment), Neyman allocation of the daily budget from
past reviews with floors and oversampling weights, and the seeded draw with inclusion
probabilities. Aim: < 5 s in total.

    .venv/bin/python benchmarks/queue.py               # 1,000,000 responses, budget 200
    .venv/bin/python benchmarks/queue.py --n 100000 --budget 2000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

if __name__ == "queue":  # pragma: no cover - only when shadowing the standard library
    # Any script run as `python benchmarks/X.py` has benchmarks/ first on sys.path, so an
    # `import queue` there (multiprocessing, celery, kombu) finds this file. Hand over to the
    # standard library's queue module; nothing below is needed in that case.
    import importlib.util
    import sysconfig

    _spec = importlib.util.spec_from_file_location(
        "queue", Path(sysconfig.get_path("stdlib")) / "queue.py"
    )
    assert _spec is not None and _spec.loader is not None
    _stdlib_queue = importlib.util.module_from_spec(_spec)
    sys.modules["queue"] = _stdlib_queue
    _spec.loader.exec_module(_stdlib_queue)
    globals().update({k: v for k, v in vars(_stdlib_queue).items() if not k.startswith("__")})

ROOT = Path(__file__).resolve().parents[1]


def synthetic_day(n: int, seed: int) -> dict[str, Any]:
    """Scored responses shaped like the seed scenario: 65 % cheap, Beta confidences."""
    import numpy as np

    rng = np.random.default_rng(seed)
    cheap = rng.random(n) < 0.65
    confidence = np.where(cheap, rng.beta(12, 2, n), rng.beta(10, 3, n))
    return {
        "tier": np.where(cheap, "cheap", "capable"),
        "uncertainty": 1.0 - confidence,
        "ood_percentile": rng.random(n) * 100.0,
        "segment": np.array(["self_serve", "smb", "enterprise"])[
            rng.choice(3, n, p=[0.6, 0.3, 0.1])
        ],
        "reference_uncertainty": 1.0 - rng.beta(12, 2, 20_000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="scored responses in the day")
    parser.add_argument("--budget", type=int, default=200, help="reviews to draw")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))  # run from anywhere
    import numpy as np

    from sampling.allocation import allocate
    from sampling.draw import draw
    from sampling.strata import assign_strata, ood_bands, uncertainty_bands

    day = synthetic_day(args.n, args.seed)
    times: dict[str, float] = {}

    t0 = time.perf_counter()
    u_band = uncertainty_bands(
        day["uncertainty"], reference_uncertainty=day["reference_uncertainty"]
    )
    o_band = ood_bands(day["ood_percentile"])
    strata = assign_strata(
        {"tier": day["tier"], "uncertainty": u_band, "ood": o_band, "segment": day["segment"]}
    )
    times["stratify (bands + strata)"] = time.perf_counter() - t0

    # Past reviews per stratum (what the last fortnight's queue would have left behind).
    rng = np.random.default_rng(args.seed + 1)
    reviewed = rng.integers(10, 60, strata.n_strata)
    failures = rng.binomial(reviewed, 0.05)
    weights = np.where(
        strata.mask(tier="cheap") & ~strata.mask(uncertainty="low"), 4.0, 1.0
    ) * np.where(strata.mask(ood="in"), 1.0, 2.0)
    floor = max(2, min(5, args.budget // strata.n_strata))
    t0 = time.perf_counter()
    alloc = allocate(
        strata.sizes,
        args.budget,
        method="neyman",
        successes=reviewed - failures,
        failures=failures,
        weights=weights,
        floor=floor,
    )
    times["allocate (Neyman, floors, weights)"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sample = draw(strata.codes, alloc.n, seed=args.seed)
    times["draw (seeded, without replacement)"] = time.perf_counter() - t0

    total = sum(times.values())
    print(f"{args.n:,} scored responses, {strata.n_strata} strata, budget {args.budget}")
    for name, secs in times.items():
        print(f"  {name:<38} {secs:7.3f} s")
    print(f"  {'total':<38} {total:7.3f} s  (aim < 5 s: {'PASS' if total < 5 else 'FAIL'})")
    assert sample.indices.size == alloc.total == args.budget
    assert np.all((sample.pi > 0) & (sample.pi <= 1))


if __name__ == "__main__":
    main()
