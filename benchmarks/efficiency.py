"""The efficiency study: does the default plan, as shipped, catch the seed's failure?

It runs what users get. Every figure below comes from the functions the product calls, with
the shipped defaults, unless the row says otherwise beside it:

* the plan: ``reviewapp.reports.oracle.default_plan_config`` (what ``make run`` creates),
  completed by ``plan_config_clean`` (floor 5 per stratum, no maximum);
* the allocation: ``sampling.allocation.design_allocation`` (the pure part of
  ``review/services.py:plan_design``: oversampling patterns, Neyman, floor, the floor dropped
  to 2 when the budget cannot give every stratum its floor) on the history of
  ``sampling.allocation.neyman_history`` over ``LONGTAIL_NEYMAN_WINDOW_DAYS`` (what
  ``review/services.py:allocation_history`` computes from the database);
* the estimates: ``reviewapp.reports.selectors.domain_estimate`` and
  ``domain_ppi_estimate`` with their defaults, on a ``ReportData`` built from the simulated
  reviews (the arrays ``report_data`` loads);
* the alarms: the quality alarms of ``reviewapp/reports/services.py`` — below target on the
  trailing ``BELOW_TARGET_WINDOW_DAYS`` (one alarm per episode) and the plan's CUSUM charts,
  ``sampling.monitor.plan_alarms`` (charts per tier × uncertainty band, all calibrated
  together on each run's own baseline of ``LONGTAIL_ALARM_BASELINE_DAYS`` days for the shipped
  false-alarm promise, odds ratio ``CUSUM_ODDS_RATIO``), each alarm unique per tier, kind
  and day as the product stores it. :func:`quality_alarms` is the one place that calls them.

Design-based Monte Carlo. Each scenario's POPULATION (every day's answers with their ground
truth) is simulated once with a fixed seed and scored once (uncertainty band from the
reference's 90th percentile, OOD band from the k-NN percentile). To keep it to minutes on a
shared 2-core machine the population has 10,000 answers a day instead of the story's 40,000
(same shares, so the same strata proportions; the finite-population correction of 200
reviews is 2 % instead of 0.5 %), embeddings of dimension 32 and a 1,000-point reference.
The repetitions redraw only the review sample and the oracle's verdicts (2 % reviewer error).
Strategies, 200 reviews a day, the same detector for each:

(a) uniform random review, one chart and one estimate on all traffic (the story's team);
(b) the same uniform sample split by tier (a plan with dimension tier, no oversampling);
(c) the default plan as shipped;
(c0) the default plan with LONGTAIL_NEYMAN_WINDOW_DAYS=0 (Neyman over all history, the
     product before the window): other settings, said beside its rows.

Differences from the product, said beside the figures: items are monitored in their queue's
random order (the product: order of first review); the overlap share (10 % of items reviewed
twice) is left out of the simulated history; drift alarms are not counted.

Within a stratum, a simple random sample's number of wrong answers is hypergeometric and
its order random, so the monitoring runs draw counts (exactly the distribution of
``sampling.draw``'s sample, 100× faster); the coverage and PPI study calls ``sampling.draw``
itself on the item arrays.

    nice .venv/bin/python benchmarks/efficiency.py          # 40 runs, 500 coverage reps
    nice .venv/bin/python benchmarks/efficiency.py --quick  # 10 runs: a smoke run, no files

Each run calibrates its plan's charts on its own baseline, as the service does (about a
minute of CPU per run and design), hence 40 runs by default; the ≥ 200-run false-alarm and
detection figures of the alarms are benchmarks/alarms.py's.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/queue.py would shadow the standard library's queue (multiprocessing needs it)
# when this file runs as a script: drop the script's own directory from the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from functools import lru_cache  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

# The product's own functions read Django settings (the alarm and window defaults): configure
# them as `make run` does; no database is touched.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.settings")
os.environ.setdefault("DEBUG", "1")
import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

from reviewapp.reports.oracle import default_plan_config  # noqa: E402
from reviewapp.reports.selectors import (  # noqa: E402
    ReportData,
    domain_estimate,
    domain_ppi_estimate,
)
from reviewapp.reports.services import (  # noqa: E402
    BELOW_TARGET_WINDOW_DAYS,
    CUSUM_ODDS_RATIO,
)
from reviewapp.review.services import neyman_window_days, plan_config_clean  # noqa: E402
from sampling.allocation import (  # noqa: E402
    NEYMAN_PRIOR_REVIEWS,
    design_allocation,
    neyman_history,
)
from sampling.detect import below_target  # noqa: E402
from sampling.draw import draw  # noqa: E402
from sampling.estimate import stratified_variance  # noqa: E402
from sampling.monitor import QUARTER_DAYS, plan_alarms  # noqa: E402
from sampling.ood import fit_knn_reference, ood_scores, uncertainty  # noqa: E402
from sampling.simulate import (  # noqa: E402
    load_scenario,
    oracle_verdicts,
    reference_set,
    simulate_day,
)
from sampling.strata import (  # noqa: E402
    DEFAULT_OOD_LABELS,
    DEFAULT_UNCERTAINTY_LABELS,
    Bands,
    Strata,
    ood_bands,
    uncertainty_bands,
    uncertainty_cuts_from_reference,
)

ROOT = Path(__file__).resolve().parents[1]

# --- configuration ------------------------------------------------------------------------
PER_DAY = 10_000  # answers/day in the population (the story has 40,000; see docstring)
BUDGET = 200
# The default plan `make run` creates, with plan_config_clean's defaults filled in.
PLAN = plan_config_clean(default_plan_config(budget=BUDGET))
BASELINE_DAYS = int(settings.LONGTAIL.get("ALARM_BASELINE_DAYS", 14))
ONSET = 14  # the seed's drift onset: the day after the baseline
assert BASELINE_DAYS == ONSET, "the study's onset is the day after the shipped baseline"
SEED_DAYS = 90
STABLE_DAYS = ONSET + 91  # baseline + one monitored quarter (91 days, as the product counts)
POP_SEED = 2025
EMBED_DIM = 32
REF_N = 1_000
ORACLE_ERROR = 0.02  # the simulated reviewer is wrong on 2 % of items (detection study)
HW_DAYS = range(42, 49)  # week 7: mid-ramp, before the hidden share is large
COV_DAYS = range(40, 47)  # the coverage / PPI window

TIERS = ("capable", "cheap")
UBANDS = DEFAULT_UNCERTAINTY_LABELS
OBANDS = DEFAULT_OOD_LABELS
DIMENSIONS = ("tier", "uncertainty", "ood")
# Fixed stratum labels 0..11: tier × uncertainty band × OOD band (the default plan's strata).
LABELS = [(t, u, o) for t in TIERS for u in UBANDS for o in OBANDS]
H = len(LABELS)
L_CHEAP = np.array([lab[0] == "cheap" for lab in LABELS])
L_HIGH = np.array([lab[1] == "high" for lab in LABELS])
TARGETS: dict[str, float] = {t: float(v) for t, v in PLAN["targets"].items()}
STRATEGIES = ("a", "b", "c", "c0")
STRATEGY_NAMES = {
    "a": "(a) uniform, aggregate",
    "b": "(b) uniform, split by tier",
    "c": "(c) default plan",
    "c0": "(c0) default plan, Neyman over all history [LONGTAIL_NEYMAN_WINDOW_DAYS=0]",
}
# Per strategy: each of the 12 labels' alarm cell (the product's cells are the plan's strata),
# each cell's tier, the tiers' names and the target each is held to.
_CELLS: dict[str, tuple[np.ndarray, np.ndarray, tuple[str, ...]]] = {
    "a": (np.zeros(H, dtype=np.int64), np.zeros(1, dtype=np.int64), ("all traffic",)),
    "b": (L_CHEAP.astype(np.int64), np.array([0, 1]), TIERS),
    "c": (np.arange(H), L_CHEAP.astype(np.int64), TIERS),
}
_CELLS["c0"] = _CELLS["c"]
# Strategy (a) holds all traffic to the tiers' common target.
TARGETS["all traffic"] = min(TARGETS.values())


# The previous version of this study measured a configuration the product does not run.
BEFORE_NOTE = (
    "Before this version the study measured another configuration (CUSUM odds ratio 3, h for "
    "≤ 1 alarm in 97.5 % of quarters, the cheap tier's chart only, no below-target alarms "
    "counted, Neyman on 14 days without a prior, the coverage study on an equal allocation): "
    "plan (c) median / p90 7 / 9 days to the first cheap-tier alarm and 95.5 % of stable "
    "quarters with ≤ 1 alarm (200 runs). Those figures do not describe the product; the ones "
    "below do."
)


def settings_note() -> str:
    return (
        f"default plan: dimensions {' × '.join(PLAN['dimensions'])}, {PLAN['allocation']}, "
        f"budget {PLAN['daily_budget']}, floor {PLAN['stratum_min']}, oversampling "
        + ", ".join(f"{k} ×{v:g}" for k, v in PLAN["oversampling"].items())
        + f", targets {', '.join(f'{t} {v}' for t, v in sorted(PLAN['targets'].items()))}; "
        f"Neyman window {neyman_window_days()} days; alarms: baseline {BASELINE_DAYS} days, "
        f"CUSUM odds ratio {CUSUM_ODDS_RATIO:g}, ≤ {ALARM['max_alarms']} alarm per plan per "
        f"{ALARM['days']}-day quarter in {ALARM['share']:.0%} of stable quarters "
        f"({ALARM['n_runs']} calibration runs), below target on {BELOW_TARGET_WINDOW_DAYS} days"
    )


# --- the population -----------------------------------------------------------------------
@lru_cache(maxsize=2)
def _reference(dim: int, n: int) -> tuple[Any, tuple[float, ...]]:
    sc = dataclasses.replace(load_scenario("seed"), embedding_dim=dim)
    ref = reference_set(sc, n, seed=POP_SEED)
    cuts = uncertainty_cuts_from_reference(uncertainty(ref.router_confidence))
    return fit_knn_reference(ref.embedding), cuts.cuts


def _population_day(args: tuple[str, int]) -> dict[str, np.ndarray]:
    """One day of a scenario, scored and reduced to the arrays the study needs."""
    name, day = args
    sc = dataclasses.replace(load_scenario(name), embedding_dim=EMBED_DIM)
    knn, ucuts = _reference(EMBED_DIM, REF_N)
    b = simulate_day(sc, day, np.random.default_rng([POP_SEED, day]), PER_DAY)
    u = uncertainty_bands(uncertainty(b.router_confidence), Bands(ucuts, UBANDS))
    _, pct = ood_scores(knn, b.embedding)
    o = ood_bands(pct)
    code = (
        (b.tier == "cheap").astype(np.int8) * 6
        + (u == "high").astype(np.int8) * 3
        + np.select([o == "in", o == "edge"], [0, 1], 2).astype(np.int8)
    )
    noise = np.random.default_rng([POP_SEED, day, 7]).random(len(b.correct))
    return {
        "code": code.astype(np.int8),
        "correct": b.correct,
        "hidden": b.hidden_intent,
        "auto": b.auto_score.astype(np.float32),
        "noise": noise.astype(np.float32),
    }


def population(name: str, days: int, workers: int) -> dict[str, np.ndarray]:
    """(days × PER_DAY) arrays for a scenario, cached in the temp directory."""
    key = f"{name}-d{days}-n{PER_DAY}-s{POP_SEED}-e{EMBED_DIM}-r{REF_N}"
    path = Path(tempfile.gettempdir()) / "longtail-efficiency" / f"{key}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_population_day, [(name, d) for d in range(days)]))
    pop = {k: np.stack([p[k] for p in parts]) for k in parts[0]}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **pop)
    print(f"  population {name}: {days} days × {PER_DAY:,} in {time.perf_counter() - t0:.0f} s")
    return pop


def stratum_totals(pop: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """N[d, h] and the number of truly wrong answers K[d, h]."""
    days = pop["code"].shape[0]
    N = np.zeros((days, H), dtype=np.int64)
    K = np.zeros((days, H), dtype=np.int64)
    for d in range(days):
        N[d] = np.bincount(pop["code"][d], minlength=H)
        K[d] = np.bincount(pop["code"][d], weights=~pop["correct"][d], minlength=H)
    return N, K


# --- one monitored run --------------------------------------------------------------------
def sample_day(
    rng: np.random.Generator, N: np.ndarray, K: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SRSWOR of n[h] from each stratum: per-stratum observed wrong counts (the oracle errs on
    ORACLE_ERROR of items), and the day's reviews in a random queue order (labels, wrong)."""
    wrong = rng.hypergeometric(K, N - K, n) if n.sum() else np.zeros(H, dtype=np.int64)
    flip_w = rng.binomial(wrong, ORACLE_ERROR)
    flip_r = rng.binomial(n - wrong, ORACLE_ERROR)
    obs = wrong - flip_w + flip_r
    labels = np.repeat(np.arange(H), n)
    starts = np.concatenate(([0], np.cumsum(n)[:-1]))
    x = (np.arange(labels.size) - starts[labels]) < obs[labels]
    perm = rng.permutation(labels.size)
    return obs, labels[perm], x[perm]


def day_strata(N: np.ndarray) -> Strata:
    """One day's strata as plan_design builds them (tier × uncertainty × OOD labels)."""
    return Strata(
        codes=np.zeros(0, dtype=np.int64),
        labels=tuple(LABELS),
        dimensions=DIMENSIONS,
        sizes=N.astype(np.int64),
    )


def plan_allocation(
    N: np.ndarray,
    n_hist: np.ndarray,
    w_hist: np.ndarray,
    window_days: int,
    prior_reviews: float = NEYMAN_PRIOR_REVIEWS,
) -> np.ndarray:
    """The default plan's allocation of one day: what queue_build draws. ``n_hist``/``w_hist``
    are the past days' reviews and wrong verdicts per stratum (one row per day)."""
    d = n_hist.shape[0]
    lo = max(0, d - window_days) if window_days else 0
    recent_n, recent_w = n_hist[lo:].sum(0), w_hist[lo:].sum(0)
    older_n, older_w = n_hist[:lo].sum(0), w_hist[:lo].sum(0)
    successes, failures = neyman_history(
        recent_n - recent_w, recent_w, older_n - older_w, older_w, prior_reviews=prior_reviews
    )
    return design_allocation(
        day_strata(N),
        PLAN["daily_budget"],
        method=PLAN["allocation"],
        successes=successes,
        failures=failures,
        oversampling=PLAN["oversampling"],
        floor=PLAN["stratum_min"],
        maximum=PLAN.get("stratum_max"),
    ).n


def run_strategies(
    N: np.ndarray, K: np.ndarray, seed: int, strategies: tuple[str, ...] = STRATEGIES
) -> dict[str, dict[str, np.ndarray]]:
    """Daily review counts and queue streams: the uniform sample (shared by (a) and (b)) and
    the default plan with the shipped window (c) and over all history (c0)."""
    days = N.shape[0]
    out: dict[str, dict[str, Any]] = {}
    # Uniform: one SRS of 200 from the day's answers = multivariate hypergeometric counts.
    rng_u = np.random.default_rng([seed, 0])
    n_u = np.stack([rng_u.multivariate_hypergeometric(N[d], BUDGET) for d in range(days)])
    windows = {"c": neyman_window_days(), "c0": 0}
    keys = ["u"] * any(s in strategies for s in ("a", "b")) + [
        s for s in ("c", "c0") if s in strategies
    ]
    for key in keys:
        # (c) and (c0) draw from the same stream: identical until their histories differ
        # (day 15), so they share their baseline and its calibration (plan_alarms caches it).
        rng = rng_u if key == "u" else np.random.default_rng([seed, 1])
        nn = n_u if key == "u" else np.zeros((days, H), dtype=np.int64)
        w = np.zeros((days, H), dtype=np.int64)
        labels, xs, dayof = [], [], []
        for d in range(days):
            if key != "u":
                nn[d] = plan_allocation(N[d], nn[:d], w[:d], windows[key])
            w[d], lab, x = sample_day(rng, N[d], K[d], nn[d])
            labels.append(lab)
            xs.append(x)
            dayof.append(np.full(lab.size, d))
        out[key] = {
            "n": nn,
            "w": w,
            "label": np.concatenate(labels),
            "x": np.concatenate(xs),
            "day": np.concatenate(dayof),
        }
    return out


def reviews_of(strategy: str, revs: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return revs["u" if strategy in ("a", "b") else strategy]


# --- the product's estimates and alarms ---------------------------------------------------
def report_window(
    strategy: str, N: np.ndarray, n: np.ndarray, w: np.ndarray, days: range
) -> ReportData:
    """The ReportData report_data would load for these days: one stratum per (day, cell) —
    for the default plan its 12 strata, for (b) the tiers (post-strata), for (a) all traffic
    — with each reviewed item's score (1 right, 0 wrong)."""
    cell_of, cell_tier, tiers = _CELLS[strategy]
    n_cells = len(cell_tier)
    pop, rev, bad, day_label, cell_label = [], [], [], [], []
    for d in days:
        pop.append(np.bincount(cell_of, weights=N[d], minlength=n_cells))
        rev.append(np.bincount(cell_of, weights=n[d], minlength=n_cells))
        bad.append(np.bincount(cell_of, weights=w[d], minlength=n_cells))
        day_label += [str(d)] * n_cells
        cell_label += list(range(n_cells))
    population = np.concatenate(pop).astype(np.int64)
    reviewed = np.concatenate(rev).astype(np.int64)
    wrong = np.concatenate(bad).astype(np.int64)
    item_stratum = np.repeat(np.arange(population.size), reviewed)
    starts = np.concatenate(([0], np.cumsum(reviewed)[:-1]))
    score = ((np.arange(item_stratum.size) - starts[item_stratum]) >= wrong[item_stratum]).astype(
        float
    )
    tier_label = np.array([tiers[cell_tier[c]] for c in cell_label], dtype=object)
    zeros = np.zeros(population.size)
    return ReportData(
        plan=None,  # type: ignore[arg-type]  # the estimators never read it
        start=None,  # type: ignore[arg-type]
        end=None,  # type: ignore[arg-type]
        labels={"tier": tier_label, "day": np.array(day_label, dtype=object)},
        population=population,
        quota=reviewed,
        auto_score_sum=zeros,
        auto_score_count=np.zeros(population.size, dtype=np.int64),
        cost_sum=zeros,
        cost_count=np.zeros(population.size, dtype=np.int64),
        item_ids=np.arange(item_stratum.size),
        item_stratum=item_stratum,
        item_score=score,
        item_auto_score=np.full(item_stratum.size, np.nan),
        days=len(days),
    )


# The alarm settings the service reads (reviewapp/reports/services.py:_plan_charts).
ALARM = {
    "days": QUARTER_DAYS,
    "max_alarms": int(settings.LONGTAIL.get("ALARM_FALSE_ALARMS_PER_QUARTER", 1)),
    "share": float(settings.LONGTAIL.get("ALARM_QUARTER_SHARE", 0.95)),
    "odds_ratio": CUSUM_ODDS_RATIO,
    "n_runs": int(settings.LONGTAIL.get("ALARM_CUSUM_RUNS", 500)),
}


def quality_alarms(
    strategy: str, N: np.ndarray, rev: dict[str, np.ndarray]
) -> dict[tuple[str, str], list[int]]:
    """The product's quality alarms of one plan from day BASELINE_DAYS on: per (tier, kind),
    the days with an alarm (an alarm is unique per tier, kind and day, as the product stores
    it).

    The one place that calls the alarm logic: ``sampling.monitor.plan_alarms`` as
    reviewapp/reports/services.py:_plan_charts calls it (baseline = the first BASELINE_DAYS
    days, cells = the plan's strata across days, charts per tier × uncertainty band when the
    plan has the band, all charts calibrated together on this run's own baseline), and the
    below-target rule of _below_target_alarms (domain_estimate over the trailing
    BELOW_TARGET_WINDOW_DAYS, sampling.detect.below_target, one alarm per episode)."""
    cell_of, cell_tier, tiers = _CELLS[strategy]
    cell = cell_of[rev["label"]]
    base = rev["day"] < BASELINE_DAYS
    wrong = rev["x"].astype(np.int64)
    bands = [LABELS[h][1] for h in range(H)] if strategy in ("c", "c0") else None
    result = plan_alarms(
        baseline_wrong=wrong[base],
        baseline_cell=cell[base],
        monitored_wrong=wrong[~base],
        monitored_cell=cell[~base],
        cell_tier=[tiers[t] for t in cell_tier],
        cell_band=bands,
        baseline_days=BASELINE_DAYS,
        **ALARM,
    )
    out: dict[tuple[str, str], list[int]] = {}
    monitored_day = rev["day"][~base]
    for tier in tiers:
        out[(tier, "cusum")] = []
        out[(tier, "below target")] = []
    for chart in result.charts:
        days = monitored_day[chart.reviews[chart.result.alarms]]
        out[(chart.tier, "cusum")] = sorted(set(out[(chart.tier, "cusum")]) | set(days.tolist()))
    n, w = rev["n"], rev["w"]
    below_before = dict.fromkeys(tiers, False)
    for d in range(BASELINE_DAYS - 1, N.shape[0]):
        days = range(max(0, d - BELOW_TARGET_WINDOW_DAYS + 1), d + 1)
        data = report_window(strategy, N, n, w, days)
        right = np.bincount(data.item_stratum, weights=data.item_score, minlength=data.n_strata)
        mean = np.divide(right, np.maximum(data.quota, 1))
        for tier in tiers:
            domain = data.mask(tier=tier)
            # The interval holds its estimate: only a window whose design-weighted mean is
            # near or under the target can be below it, so the others skip the estimator
            # (speed only).
            covered = domain & (data.quota > 0)
            p_hat = np.sum(data.population[covered] * mean[covered]) / max(
                data.population[covered].sum(), 1
            )
            below = False
            if p_hat < TARGETS[tier] + 0.01:
                est = domain_estimate(data, domain)
                below = est is not None and below_target((est.ci_low, est.ci_high), TARGETS[tier])
            if below and not below_before[tier] and d >= BASELINE_DAYS:
                out[(tier, "below target")].append(d)  # one alarm per episode, on its start
            below_before[tier] = below
    return out


def half_width_cheap_high(strategy: str, N: np.ndarray, rev: dict[str, np.ndarray]) -> float:
    """Half-width of domain_estimate's 95 % interval for the cheap tier's high-uncertainty
    answers over week 7: the default plan's strata, or (b)'s cheap × high post-stratum."""
    days = list(HW_DAYS)
    dom = L_CHEAP & L_HIGH
    if strategy == "b":  # uniform: one post-stratum (cheap × high) over the week
        pop = np.array([N[days][:, dom].sum()])
        n = np.array([rev["n"][days][:, dom].sum()])
        w = np.array([rev["w"][days][:, dom].sum()])
        data = report_window("a", _one_cell(pop), _one_cell(n), _one_cell(w), range(1))
        est = domain_estimate(data, np.ones(data.n_strata, dtype=bool))
    else:
        Nd = np.where(dom, N[days], 0)
        data = report_window("c", Nd, np.where(dom, rev["n"][days], 0),
                             np.where(dom, rev["w"][days], 0), range(len(days)))  # fmt: skip
        keep = data.population > 0
        est = domain_estimate(data, keep)
    assert est is not None
    return (est.ci_high - est.ci_low) / 2


def _one_cell(x: np.ndarray) -> np.ndarray:
    """A (1, H) day whose only non-zero entry (label 0) is x: one post-stratum for (a)."""
    out = np.zeros((1, H), dtype=np.int64)
    out[0, 0] = int(x[0])
    return out


_STATE: dict[str, Any] = {}


def monitor_run(seed: int) -> dict[Any, Any]:
    """Every strategy on seed and stable for one seeded run (reads _STATE set before fork)."""
    result: dict[Any, Any] = {}
    for scen in ("seed", "stable"):
        N, K = _STATE[f"{scen}_N"], _STATE[f"{scen}_K"]
        # The same run seed on both scenarios: their days 0–13 are the same population, so a
        # run's baseline (and its calibration, cached) is shared; the days after differ.
        revs = run_strategies(N, K, seed)
        for s in STRATEGIES:
            rev = reviews_of(s, revs)
            result[(scen, s)] = quality_alarms(s, N, rev)
            if scen == "seed" and s in ("b", "c", "c0"):
                result[("hw", s)] = half_width_cheap_high(s, N, rev)
    return result


# --- the Neyman window ---------------------------------------------------------------------
WINDOW_VARIANTS: tuple[tuple[int, float], ...] = (
    (0, math.inf),  # all history in full: the product before the window
    (7, NEYMAN_PRIOR_REVIEWS),
    (14, 0.0),
    (14, NEYMAN_PRIOR_REVIEWS),
    (28, NEYMAN_PRIOR_REVIEWS),
    (56, NEYMAN_PRIOR_REVIEWS),
)


def window_run(args: tuple[str, int, float, int]) -> np.ndarray:
    """One seeded run of the default plan with another Neyman window and prior: per day, the
    true standard error of the cheap and capable tiers' daily stratified estimate under the
    day's allocation (Cochran 1977 eq. 5.6 with the population's own S_h²)."""
    scen, window_days, prior, seed = args
    N, K = _STATE[f"{scen}_N"], _STATE[f"{scen}_K"]
    rng = np.random.default_rng([seed, 31])
    days = N.shape[0]
    n = np.zeros((days, H), dtype=np.int64)
    w = np.zeros((days, H), dtype=np.int64)
    se = np.zeros((days, 2))
    for d in range(days):
        n[d] = plan_allocation(N[d], n[:d], w[:d], window_days, prior)
        w[d], _, _ = sample_day(rng, N[d], K[d], n[d])
        p = 1 - K[d] / np.maximum(N[d], 1)
        s2 = p * (1 - p) * N[d] / np.maximum(N[d] - 1, 1)
        for j, m in enumerate((L_CHEAP, ~L_CHEAP)):
            m = m & (N[d] > 0)
            W = N[d][m] / N[d][m].sum()
            se[d, j] = math.sqrt(stratified_variance(W, N[d][m], n[d][m], s2[m]))
    return se


def window_study(runs: int, workers: int) -> list[str]:
    """Markdown rows: mean SE (points) of each tier's daily estimate, per window variant."""
    lines = [
        "| Neyman history | seed, days 14–27: cheap / capable | seed, days 14–89: cheap / "
        "capable | stable, days 14–104: cheap / capable |",
        "|---|---|---|---|",
    ]
    with ProcessPoolExecutor(workers) as pool_ex:
        for window_days, prior in WINDOW_VARIANTS:
            cells = []
            for scen, spans in (("seed", ((14, 28), (14, 90))), ("stable", ((14, 105),))):
                jobs = [(scen, window_days, prior, r) for r in range(runs)]
                results = list(pool_ex.map(window_run, jobs))
                for lo, hi in spans:
                    se = np.mean([x[lo:hi].mean(0) for x in results], 0)
                    cells.append(f"{100 * se[0]:.2f} / {100 * se[1]:.2f}")
            name = (
                "all history (window 0)"
                if window_days == 0
                else f"{window_days} days + older as ≤ {prior:g} reviews"
            )
            if (window_days, prior) == (neyman_window_days(), NEYMAN_PRIOR_REVIEWS):
                name += " (shipped)"
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


# --- coverage, bias and PPI ---------------------------------------------------------------
COV_DOMAINS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tier cheap": lambda c: c >= 6,
    "tier capable": lambda c: c < 6,
    "band high": lambda c: (c % 6) >= 3,
    "band low": lambda c: (c % 6) < 3,
    "cheap × high": lambda c: (c >= 6) & ((c % 6) >= 3),
    "cheap × low": lambda c: (c >= 6) & ((c % 6) < 3),
    "capable × high": lambda c: (c < 6) & ((c % 6) >= 3),
    "capable × low": lambda c: (c < 6) & ((c % 6) < 3),
}


def coverage_rep(rep: int) -> dict[Any, Any]:
    """One repetition of the default plan's queues over COV_DAYS (the allocation of a seeded
    monitoring run on those days), drawn with sampling.draw, estimated by domain_estimate and
    domain_ppi_estimate (perfect reviewer)."""
    pop = _STATE["cov"]
    rng = np.random.default_rng([777, rep])
    labels = np.tile(np.arange(H), len(COV_DAYS))
    population = np.concatenate([np.bincount(c, minlength=H) for c in pop["code"]])
    stratum, score, auto, noise = [], [], [], []
    for j in range(len(COV_DAYS)):
        code = pop["code"][j].astype(np.int64)
        idx = draw(code, _STATE["cov_n"][j], seed=rng).indices
        stratum.append(code[idx] + j * H)
        score.append(oracle_verdicts(pop["correct"][j][idx], 0.0, rng).astype(float))
        auto.append(pop["auto"][j][idx].astype(float))
        noise.append(pop["noise"][j][idx].astype(float))
    item_stratum = np.concatenate(stratum)
    order = np.argsort(item_stratum, kind="stable")
    base = ReportData(
        plan=None,  # type: ignore[arg-type]  # the estimators never read it
        start=None,  # type: ignore[arg-type]
        end=None,  # type: ignore[arg-type]
        labels={"label": labels},
        population=population,
        quota=np.bincount(item_stratum, minlength=population.size),
        auto_score_sum=np.concatenate(_STATE["cov_auto_sum"]),
        auto_score_count=population,
        cost_sum=np.zeros(population.size),
        cost_count=np.zeros(population.size, dtype=np.int64),
        item_ids=np.arange(item_stratum.size),
        item_stratum=item_stratum[order],
        item_score=np.concatenate(score)[order],
        item_auto_score=np.concatenate(auto)[order],
        days=len(COV_DAYS),
    )
    out: dict[Any, Any] = {}
    for name, f in COV_DOMAINS.items():
        dom = f(labels)
        e = domain_estimate(base, dom)
        assert e is not None
        in_dom = dom[base.item_stratum]
        out[name] = (e.estimate, e.ci_low, e.ci_high, float(base.item_score[in_dom].mean()))
    noisy = dataclasses.replace(
        base,
        auto_score_sum=np.concatenate(_STATE["cov_noise_sum"]),
        item_auto_score=np.concatenate(noise)[order],
    )
    for name in ("tier cheap", "tier capable"):
        dom = COV_DOMAINS[name](labels)
        for judge, data in (("auto", base), ("noise", noisy)):
            e = domain_ppi_estimate(data, dom)
            assert e is not None
            out[(name, judge)] = (e.estimate, e.ci_low, e.ci_high)
    return out


# --- the report ---------------------------------------------------------------------------
def q(values: list[float], p: float) -> float:
    arr = np.asarray(values, dtype=float)
    return float(np.quantile(arr, p)) if arr.size else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="seeded monitoring runs")
    parser.add_argument("--reps", type=int, default=500, help="coverage/PPI repetitions")
    parser.add_argument("--quick", action="store_true", help="10 runs, 100 reps, no files")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument(
        "--window-study", action="store_true", help="only the Neyman window comparison"
    )
    parser.add_argument("--window-runs", type=int, default=8, help="runs per window variant")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.reps = 10, 100
    t_start = time.perf_counter()

    print("populations (simulated once, cached):")
    seed_pop = population("seed", SEED_DAYS, args.workers)
    stable_pop = population("stable", STABLE_DAYS, args.workers)
    for name, pop in (("seed", seed_pop), ("stable", stable_pop)):
        _STATE[f"{name}_N"], _STATE[f"{name}_K"] = stratum_totals(pop)
    cov_idx = list(COV_DAYS)
    _STATE["cov"] = {k: seed_pop[k][cov_idx] for k in ("code", "correct", "auto", "noise")}
    for key in ("auto", "noise"):
        _STATE[f"cov_{key}_sum"] = [
            np.bincount(seed_pop["code"][d], weights=seed_pop[key][d], minlength=H) for d in cov_idx
        ]
    del seed_pop, stable_pop
    if args.window_study:
        print("\n".join(window_study(args.window_runs, args.workers)))
        return

    # The coverage study's allocation: the default plan's on COV_DAYS in one seeded run.
    cov_run = run_strategies(_STATE["seed_N"], _STATE["seed_K"], seed=20_000, strategies=("c",))
    _STATE["cov_n"] = cov_run["c"]["n"][cov_idx]

    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool_ex:
        runs = list(pool_ex.map(monitor_run, range(args.runs), chunksize=2))
        reps = list(pool_ex.map(coverage_rep, range(args.reps), chunksize=10))
    secs = time.perf_counter() - t0
    print(f"{args.runs} monitoring runs and {args.reps} coverage reps in {secs:.0f} s")

    rows: list[tuple[str, str, str, str]] = []  # figure, value, target, verdict

    def add(figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append((figure, value, target, "" if ok is None else ("PASS" if ok else "FAIL")))

    horizon = SEED_DAYS - ONSET
    quarter_end = ONSET + 91
    delays: dict[str, list[float]] = {}
    by_kind: dict[tuple[str, str, str], list[int]] = {}
    fmt = lambda v: f"{v:.0f}" if np.isfinite(v) else f">{horizon}"  # noqa: E731
    for s in STRATEGIES:
        watched = "all traffic" if s == "a" else "cheap"
        d, fa, fa_cusum = [], [], []
        for r in runs:
            ev = r[("seed", s)]
            first = min(
                (
                    x
                    for kind in ("cusum", "below target")
                    for x in ev[(watched, kind)]
                    if x >= ONSET
                ),
                default=None,
            )
            d.append(math.inf if first is None else first - ONSET)
            st = r[("stable", s)]
            in_quarter = {k: sum(ONSET <= x < quarter_end for x in v) for k, v in st.items()}
            fa.append(sum(in_quarter.values()))
            fa_cusum.append(sum(v for k, v in in_quarter.items() if k[1] == "cusum"))
            for k, v in in_quarter.items():
                by_kind.setdefault((s, *k), []).append(v)
        delays[s] = d
        med, p90 = q(d, 0.5), q(d, 0.9)
        share_ok = float(np.mean(np.asarray(fa) <= 1))
        share_cusum = float(np.mean(np.asarray(fa_cusum) <= 1))
        main_row = s == "c"
        what = "all-traffic" if s == "a" else "cheap-tier"
        add(
            f"{STRATEGY_NAMES[s]}: days onset→first {what} alarm, median / p90",
            f"{fmt(med)} / {fmt(p90)}",
            "median ≤ 5, p90 ≤ 7" if main_row else "",
            (med <= 5 and p90 <= 7) if main_row else None,
        )
        add(
            f"{STRATEGY_NAMES[s]}: stable quarters with ≤ 1 quality alarm per plan, all kinds",
            f"{100 * share_ok:.1f} % (mean {np.mean(fa):.2f} alarms)",
            "≥ 95 %" if main_row else "",
            (share_ok >= 0.95) if main_row else None,
        )
        add(
            f"{STRATEGY_NAMES[s]}: stable quarters with ≤ 1 CUSUM alarm per plan",
            f"{100 * share_cusum:.1f} % (mean {np.mean(fa_cusum):.2f}, "
            f"≥ 3: {100 * np.mean(np.asarray(fa_cusum) >= 3):.1f} %)",
            "≥ 95 %" if main_row else "",
            (share_cusum >= 0.95) if main_row else None,
        )
    # What "stable" means for the below-target rule: the tiers' true accuracy over the quarter,
    # and the accuracy a reviewer wrong on ORACLE_ERROR of items reports (what is estimated).
    for tier, m in (("capable", ~L_CHEAP), ("cheap", L_CHEAP)):
        Nq = _STATE["stable_N"][ONSET:quarter_end][:, m].sum()
        Kq = _STATE["stable_K"][ONSET:quarter_end][:, m].sum()
        p_true = 1 - Kq / Nq
        p_seen = p_true * (1 - ORACLE_ERROR) + (1 - p_true) * ORACLE_ERROR
        add(
            f"stable quarter, tier {tier}: true accuracy / as reviewed (reviewer error "
            f"{ORACLE_ERROR:.0%}) / target",
            f"{p_true:.4f} / {p_seen:.4f} / {TARGETS[tier]}",
        )
    for (s, tier, kind), v in sorted(by_kind.items()):
        if s == "c":
            add(f"(c) stable quarter: mean {kind} alarms of tier {tier}", f"{np.mean(v):.2f}")
    hw = {s: [r[("hw", s)] for r in runs] for s in ("b", "c", "c0")}
    ratio = float(np.mean(hw["c"]) / np.mean(hw["b"]))
    add(
        "cheap × high-uncertainty 95 % half-width, week 7: (b) / (c) / (c0), mean",
        f"{np.mean(hw['b']):.4f} / {np.mean(hw['c']):.4f} / {np.mean(hw['c0']):.4f} "
        f"(c/b {ratio:.2f})",
        "(c) ≤ ½ (b)",
        ratio <= 0.5,
    )

    # Coverage and bias.
    truth = {}
    cov = _STATE["cov"]
    label = cov["code"].astype(np.int64)
    for name, f in COV_DOMAINS.items():
        truth[name] = float(cov["correct"][f(label)].mean())
    for name in COV_DOMAINS:
        est = np.array([r[name][0] for r in reps])
        lo = np.array([r[name][1] for r in reps])
        hi = np.array([r[name][2] for r in reps])
        naive = np.array([r[name][3] for r in reps])
        t = truth[name]
        bias = 100 * (est.mean() - t)
        cover = float(np.mean((lo <= t) & (t <= hi)))
        add(f"{name} (truth {t:.4f}): bias of domain_estimate, points", f"{bias:+.2f}",
            "|bias| ≤ 0.5", abs(bias) <= 0.5)  # fmt: skip
        add(f"{name}: 95 % interval coverage, mean width", f"{100 * cover:.1f} %, "
            f"{100 * np.mean(hi - lo):.1f} pts", "93–97 %", 0.93 <= cover <= 0.97)  # fmt: skip
        add(f"{name}: naive unweighted mean bias, points", f"{100 * (naive.mean() - t):+.2f}")
    ppi_rows = {}
    for name in ("tier cheap", "tier capable"):
        t = truth[name]
        w_st = np.array([r[name][2] - r[name][1] for r in reps])
        for judge in ("auto", "noise"):
            lo = np.array([r[(name, judge)][1] for r in reps])
            hi = np.array([r[(name, judge)][2] for r in reps])
            cover = float(np.mean((lo <= t) & (t <= hi)))
            wr = float(np.mean(hi - lo) / np.mean(w_st))
            ppi_rows[(name, judge)] = (cover, wr)
            jl = "seed judge" if judge == "auto" else "pure-noise judge"
            add(f"PPI {name}, {jl}: coverage", f"{100 * cover:.1f} %", "93–97 %",
                0.93 <= cover <= 0.97)  # fmt: skip
            if judge == "auto":
                add(f"PPI {name}, {jl}: width / stratified width", f"{wr:.3f}", "< 1", wr < 1)
            else:
                add(f"PPI {name}, {jl}: width / stratified width", f"{wr:.3f}", "≤ 1.05",
                    wr <= 1.05)  # fmt: skip

    elapsed = time.perf_counter() - t_start
    width = max(len(r[0]) for r in rows)
    lines = [f"{'figure':<{width}}  {'measured':<40} {'target':<20} verdict"]
    lines += [f"{f:<{width}}  {v:<40} {t:<20} {ok}" for f, v, t, ok in rows]
    print(settings_note())
    print("\n".join(lines))
    load = os.getloadavg()
    print(f"total run time {elapsed:.0f} s on {args.workers} workers (load {load[0]:.1f})")
    if args.quick:
        return

    args.out.mkdir(parents=True, exist_ok=True)
    md = [
        "# Efficiency study: the default plan as shipped",
        "",
        f"Generated by `benchmarks/efficiency.py --runs {args.runs} --reps {args.reps}` "
        f"in {elapsed:.0f} s on {args.workers} workers (load average {load[0]:.1f}). "
        "Chart: [efficiency.png](efficiency.png).",
        "",
        "What runs: the product's own functions with the shipped defaults — the plan "
        "`default_plan_config` (what `make run` creates), its allocation "
        "(`sampling.allocation.design_allocation`, the pure part of the queue build, with "
        "Neyman's history from `neyman_history`), the report estimators (`domain_estimate`, "
        "`domain_ppi_estimate`) and the quality alarms of `reviewapp/reports/services.py` "
        "(`sampling.monitor.plan_alarms`: charts per tier × uncertainty band calibrated together "
        "on each run's own baseline; below target on "
        f"{BELOW_TARGET_WINDOW_DAYS} days, one alarm per episode). Settings: {settings_note()}.",
        "",
        f"Setup: seed and stable populations of {PER_DAY:,} answers/day simulated once "
        f"(seed {POP_SEED}; embeddings of dimension {EMBED_DIM}, {REF_N:,}-point reference); "
        f"{BUDGET} reviews/day; oracle reviewer error {ORACLE_ERROR:.0%} in the monitoring runs "
        f"and 0 in the coverage study; drift onset day {ONSET}, the day after the baseline. "
        "A stable quarter is days 14–104 of `stable` (91 days); a quality alarm is one "
        "(tier, kind, day) as the product stores it, both tiers and both kinds counted. "
        "Coverage study: days 40–46 of seed, the default plan's allocation of a seeded run on "
        f"those days, drawn by `sampling.draw`, {args.reps} repetitions.",
        "",
        "Not as in the product (said here because it touches every alarm row): reviews are "
        "monitored in queue order, not first-review order; the 10 % overlap reviews are not in "
        "the simulated history; the drift alarms are not counted (quality alarms only). Row "
        "(c0) runs other settings (Neyman over all history) and says so.",
        "",
        BEFORE_NOTE,
        "",
        "| figure | measured | target | verdict |",
        "|---|---|---|---|",
    ]
    md += [f"| {f} | {v} | {t} | {ok} |" for f, v, t, ok in rows]
    md += [
        "",
        "## The Neyman window",
        "",
        "Mean true standard error (points) of each tier's daily estimate under the default "
        "plan's allocation, with Neyman's history over other windows and priors "
        f"({args.window_runs} runs each; `--window-study` runs only this table). The seed "
        "fails in the cheap tier: a shorter window moves budget to it sooner after the onset "
        "and the capable tier gives some back; on stable traffic the window should cost "
        "nothing.",
        "",
        *window_study(args.window_runs, args.workers),
    ]
    (args.out / "efficiency.md").write_text("\n".join(md) + "\n")
    chart(args.out / "efficiency.png", delays, hw["b"], hw["c"], reps, truth, ppi_rows, horizon)
    print(f"wrote {args.out / 'efficiency.md'} and {args.out / 'efficiency.png'}")


def chart(
    path: Path,
    delays: dict[str, list[float]],
    hw_b: list[float],
    hw_c: list[float],
    reps: list[dict[str, Any]],
    truth: dict[str, float],
    ppi_rows: dict[tuple[str, str], tuple[float, float]],
    horizon: int,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(13, 9))
    a = ax[0, 0]
    data = [np.minimum(np.asarray(delays[s]), horizon + 2) for s in STRATEGIES]
    names = [STRATEGY_NAMES[s].split(" [")[0].replace(", Neyman", ",\nNeyman") for s in STRATEGIES]
    a.boxplot(data, tick_labels=names, orientation="horizontal")
    a.axvline(5, color="tab:red", ls="--", label="target: median ≤ 5 days")
    a.set_xlabel(f"days from drift onset to first cheap-tier alarm (>{horizon} = never)")
    a.set_title("Detection delay on seed (shipped alarm settings)")
    a.legend(loc="lower right")

    a = ax[0, 1]
    a.hist(hw_b, bins=30, alpha=0.7, label="(b) uniform, split by tier")
    a.hist(hw_c, bins=30, alpha=0.7, label="(c) default plan")
    a.set_xlabel("95 % half-width, cheap tier × high uncertainty, one week")
    a.set_title("Precision where the failure hides")
    a.legend()

    a = ax[1, 0]
    names = list(COV_DOMAINS)
    cover = []
    for n in names:
        t = truth[n]
        cover.append(100 * np.mean([(r[n][1] <= t) & (t <= r[n][2]) for r in reps]))
    bias_naive = [100 * (np.mean([r[n][3] for r in reps]) - truth[n]) for n in names]
    a.barh(names, cover, color="tab:blue")
    a.axvspan(93, 97, color="tab:green", alpha=0.2, label="target 93–97 %")
    a.set_xlim(80, 100)
    for i, b in enumerate(bias_naive):
        a.text(80.5, i, f"naive mean bias {b:+.1f} pts", va="center", fontsize=8, color="white")
    a.set_xlabel("95 % interval coverage (default plan's allocation)")
    a.set_title("Stratified estimates: coverage per tier and band")
    a.legend(loc="lower right")

    a = ax[1, 1]
    labels = [f"{n}\n{'seed judge' if j == 'auto' else 'noise judge'}" for n, j in ppi_rows]
    ratios = [v[1] for v in ppi_rows.values()]
    covs = [100 * v[0] for v in ppi_rows.values()]
    bars = a.bar(labels, ratios, color=["tab:purple", "tab:gray"] * 2)
    a.axhline(1.0, color="k", lw=0.8)
    a.axhline(1.05, color="tab:red", ls="--", label="noise judge: ≤ 1.05")
    for bar, c in zip(bars, covs, strict=True):
        a.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.01, f"cov {c:.1f} %",
               ha="center", fontsize=8)  # fmt: skip
    a.set_ylabel("PPI width / stratified width")
    a.set_title("Prediction-powered intervals")
    a.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
