"""The efficiency study of issue 3: does Longtail's stratified plan catch the seed's failure?

Design-based Monte Carlo. Each scenario's POPULATION (every day's answers with their ground
truth) is simulated once with a fixed seed and scored once (uncertainty band from the
reference's 90th percentile, OOD band from the k-NN percentile). To keep it to minutes on a
shared 2-core machine the population has 10,000 answers a day instead of the story's 40,000
(same shares, so the same strata proportions; the finite-population correction of 200
reviews is 2 % instead of 0.5 %), embeddings of dimension 32 and a 1,000-point reference.
The repetitions redraw only the review sample and the oracle's verdicts. Three review
strategies, 200 reviews a day:

(a) uniform random review, one aggregate estimate and one aggregate alarm (the story's team);
(b) the same uniform sample, estimates split by tier (post-stratified);
(c) Longtail's default plan: strata tier × uncertainty band × OOD band per day, Neyman
    allocation from the last 14 days' reviews (Beta(1,1) prior), floor 5 per stratum,
    oversampling weights toward the cheap tier's high-uncertainty and OOD strata.

Alarms (sampling.detect), watching from day 14 (the drift onset) on: a risk-adjusted Bernoulli
CUSUM on the watched domain's reviews (p0 = each review's stratum's baseline error rate
from days 0–13, Beta(1,1) posterior mean; restarted after each alarm:
``sampling.detect.cusum(..., restart=True).alarms``) and the "upper bound below target" rule
on a rolling 7-day estimate. For (a) the watched domain is all traffic, for (b) and (c) the
cheap tier. Two CUSUM thresholds are reported: DESIGN.md's in-control ARL of 500 reviews
(``sampling.detect.calibrate_h``), and h calibrated on in-control streams so that 97.5 % of
quarters (90 days of the strategy's reviews) raise at most one alarm
(``sampling.detect.calibrate_h_for_false_alarms``).

Estimators: ``stratified_estimate`` with its default (pooled, collapsed-strata) variance floor;
``ppi_estimate`` with its default single λ per domain and the same Wilson-on-n* interval, so
the PPI / stratified width ratio compares like with like.

Within a stratum, a simple random sample's number of wrong answers is hypergeometric and
its order random, so the detection study draws counts (exactly the distribution of
``sampling.draw``'s sample, 100× faster); the coverage and PPI study calls
``sampling.draw`` itself on the item arrays.

    .venv/bin/python benchmarks/efficiency.py            # 200 runs, 500 coverage reps
    .venv/bin/python benchmarks/efficiency.py --quick    # a smoke run (about a minute)
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

from sampling.allocation import allocate  # noqa: E402
from sampling.detect import (  # noqa: E402
    below_target,
    calibrate_h,
    calibrate_h_for_false_alarms,
    cusum,
)
from sampling.draw import draw  # noqa: E402
from sampling.estimate import ppi_estimate, stratified_estimate  # noqa: E402
from sampling.ood import fit_knn_reference, ood_scores, uncertainty  # noqa: E402
from sampling.simulate import (  # noqa: E402
    load_scenario,
    oracle_verdicts,
    reference_set,
    simulate_day,
)
from sampling.strata import (  # noqa: E402
    Bands,
    ood_bands,
    uncertainty_bands,
    uncertainty_cuts_from_reference,
)

ROOT = Path(__file__).resolve().parents[1]

# --- configuration ------------------------------------------------------------------------
PER_DAY = 10_000  # answers/day in the population (the story has 40,000; see docstring)
BUDGET = 200
ONSET = 14  # drift onset and the end of the baseline (days 0–13)
SEED_DAYS = 90
STABLE_DAYS = ONSET + 90  # baseline + one monitored quarter
POP_SEED = 2025
EMBED_DIM = 32
REF_N = 1_000
ORACLE_ERROR = 0.02  # the simulated reviewer is wrong on 2 % of items (detection study)
TARGET = 0.93  # accuracy target of the cheap tier (and, for (a), of all traffic)
WINDOW = 7  # days in the rolling below-target estimate and in the half-width window
HW_DAYS = range(42, 49)  # week 7: mid-ramp, before the hidden share is large
COV_DAYS = range(40, 47)  # the coverage / PPI window
ODDS_RATIO = 3.0
FLOOR = 5
HISTORY = 14  # days of past reviews feeding Neyman's S_h
# h for "≤ 1 false alarm per quarter": calibrated to 97.5 % of simulated in-control quarters,
# a margin over the 95 % target for what the simulation leaves out (p0 estimated from 14
# days of reviews, the oracle's error, the below-target rule's own alarms).
QUARTER_SHARE = 0.975
ESTIMATOR_NOTE = (
    "Estimators: `stratified_estimate` with its default pooled (collapsed-strata) variance "
    "floor, which touches only strata whose reviews are all correct (or all wrong); "
    "`ppi_estimate` with one λ per domain and the same Wilson-on-n* interval as the "
    "stratified estimate, so the width ratios compare like with like. CUSUM: "
    "`sampling.detect.cusum(..., restart=True)`; thresholds from `calibrate_h` (ARL) and "
    "`calibrate_h_for_false_alarms` (≤ 1 alarm per quarter)."
)

TIERS = ("capable", "cheap")
UBANDS = ("low", "high")
OBANDS = ("in", "edge", "out")
# Fixed stratum labels 0..11: tier × uncertainty band × OOD band.
LABELS = [(t, u, o) for t in TIERS for u in UBANDS for o in OBANDS]
H = len(LABELS)
L_CHEAP = np.array([lab[0] == "cheap" for lab in LABELS])
L_HIGH = np.array([lab[1] == "high" for lab in LABELS])
L_OOD = np.array([lab[2] != "in" for lab in LABELS])
# Oversampling weights of plan (c): ×8 cheap high-uncertainty, ×3 any OOD band.
WEIGHTS = np.where(L_CHEAP & L_HIGH, 8.0, 1.0) * np.where(L_OOD, 3.0, 1.0)
STRATEGIES = ("a", "b", "c")
STRATEGY_NAMES = {
    "a": "(a) uniform, aggregate",
    "b": "(b) uniform, split by tier",
    "c": "(c) Longtail stratified",
}


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
def observed_error(p: np.ndarray, e: float = ORACLE_ERROR) -> np.ndarray:
    """Error rate the (imperfect) oracle reports for a true error rate p."""
    return p * (1 - e) + (1 - p) * e


def sample_day(
    rng: np.random.Generator, N: np.ndarray, K: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SRSWOR of n[h] from each stratum: per-stratum observed wrong counts, and the day's
    reviews in a random queue order (labels, wrong flags)."""
    wrong = rng.hypergeometric(K, N - K, n) if n.sum() else np.zeros(H, dtype=np.int64)
    flip_w = rng.binomial(wrong, ORACLE_ERROR)
    flip_r = rng.binomial(n - wrong, ORACLE_ERROR)
    obs = wrong - flip_w + flip_r
    labels = np.repeat(np.arange(H), n)
    starts = np.concatenate(([0], np.cumsum(n)[:-1]))
    x = (np.arange(labels.size) - starts[labels]) < obs[labels]
    perm = rng.permutation(labels.size)
    return obs, labels[perm], x[perm]


def plan_c(N: np.ndarray, n_hist: np.ndarray, w_hist: np.ndarray) -> np.ndarray:
    """Longtail's default allocation for one day, from the last HISTORY days' reviews."""
    return allocate(
        N,
        BUDGET,
        method="neyman",
        successes=n_hist - w_hist,
        failures=w_hist,
        weights=WEIGHTS,
        floor=FLOOR,
    ).n


def run_strategies(N: np.ndarray, K: np.ndarray, seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Daily review counts and queue streams for the uniform sample and plan (c)."""
    days = N.shape[0]
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, Any]] = {}
    # Uniform: one SRS of 200 from the day's 40,000 = multivariate hypergeometric counts.
    n_u = np.stack([rng.multivariate_hypergeometric(N[d], BUDGET) for d in range(days)])
    n_c = np.zeros((days, H), dtype=np.int64)
    for key, nn in (("u", n_u), ("c", n_c)):
        w = np.zeros((days, H), dtype=np.int64)
        labels, xs, dayof = [], [], []
        for d in range(days):
            if key == "c":
                lo = max(0, d - HISTORY)
                nn[d] = plan_c(N[d], nn[lo:d].sum(0), w[lo:d].sum(0))
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


def watched(strategy: str, rev: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Baseline p0 per review of the watched domain (from days 0–13) and review mask."""
    n, w = rev["n"][:ONSET], rev["w"][:ONSET]
    if strategy == "a":  # one aggregate rate
        p = (w.sum() + 1) / (n.sum() + 2)
        p0_label = np.full(H, p)
        mask = np.ones(rev["label"].size, dtype=bool)
    elif strategy == "b":  # the cheap tier's rate
        p = (w[:, L_CHEAP].sum() + 1) / (n[:, L_CHEAP].sum() + 2)
        p0_label = np.full(H, p)
        mask = L_CHEAP[rev["label"]]
    else:  # each stratum's rate
        p0_label = (w.sum(0) + 1) / (n.sum(0) + 2)
        mask = L_CHEAP[rev["label"]]
    return p0_label, mask


def cusum_alarm_days(
    x: np.ndarray, p0: np.ndarray, day: np.ndarray, h: float, odds_ratio: float
) -> list[int]:
    """Days of the CUSUM's alarms, the chart restarting at 0 after each alarm."""
    res = cusum(x, p0, odds_ratio=odds_ratio, h=h, restart=True)
    return [int(d) for d in day[res.alarms]]


def below_target_days(strategy: str, N: np.ndarray, rev: dict[str, np.ndarray]) -> list[int]:
    """Days (from ONSET) starting a below-target episode of the rolling WINDOW estimate."""
    n, w = rev["n"], rev["w"]
    if strategy == "a":  # one stratum per day: all traffic
        Nd, nd, wd = N.sum(1, keepdims=True), n.sum(1, keepdims=True), w.sum(1, keepdims=True)
    elif strategy == "b":  # post-stratified by tier: the cheap tier is one stratum per day
        Nd = N[:, L_CHEAP].sum(1, keepdims=True)
        nd, wd = n[:, L_CHEAP].sum(1, keepdims=True), w[:, L_CHEAP].sum(1, keepdims=True)
    else:
        Nd, nd, wd = N[:, L_CHEAP], n[:, L_CHEAP], w[:, L_CHEAP]
    episodes, below_prev = [], False
    for d in range(ONSET, N.shape[0]):
        sl = slice(d - WINDOW + 1, d + 1)
        Nw, nw, ww = Nd[sl].ravel(), nd[sl].ravel(), wd[sl].ravel()
        cov = nw > 0
        p_hat = np.sum(Nw[cov] * (1 - ww[cov] / nw[cov])) / Nw[cov].sum()
        below = False
        if p_hat < TARGET:  # a Wilson interval contains p̂: only then can it lie below
            codes = np.repeat(np.arange(nw.size), nw)
            starts = np.concatenate(([0], np.cumsum(nw)[:-1]))
            y = ((np.arange(codes.size) - starts[codes]) >= ww[codes]).astype(float)
            est = stratified_estimate(Nw, codes, y)
            below = below_target((est.ci_low, est.ci_high), TARGET)
        if below and not below_prev:
            episodes.append(d)
        below_prev = below
    return episodes


def half_width_cheap_high(strategy: str, N: np.ndarray, rev: dict[str, np.ndarray]) -> float:
    """Half-width of the 95 % interval for the cheap tier's high-uncertainty band, week 7."""
    dom = L_CHEAP & L_HIGH
    days = list(HW_DAYS)
    n, w = rev["n"][days][:, dom], rev["w"][days][:, dom]
    if strategy == "b":  # uniform: one post-stratum (cheap × high) over the week
        Nv, nv, wv = np.array([N[days][:, dom].sum()]), np.array([n.sum()]), np.array([w.sum()])
    else:  # each day's strata
        Nv, nv, wv = N[days][:, dom].ravel(), n.ravel(), w.ravel()
    codes = np.repeat(np.arange(nv.size), nv)
    starts = np.concatenate(([0], np.cumsum(nv)[:-1]))
    y = ((np.arange(codes.size) - starts[codes]) >= wv[codes]).astype(float)
    est = stratified_estimate(Nv, codes, y)
    return (est.ci_high - est.ci_low) / 2


_STATE: dict[str, Any] = {}


def monitor_run(seed: int) -> dict[str, Any]:
    """Every strategy on seed and stable for one seeded run (reads _STATE set before fork)."""
    result: dict[str, Any] = {}
    for scen in ("seed", "stable"):
        N, K = _STATE[f"{scen}_N"], _STATE[f"{scen}_K"]
        revs = run_strategies(N, K, seed * 2 + (scen == "stable"))
        for s in STRATEGIES:
            rev = revs["c" if s == "c" else "u"]
            p0_label, mask = watched(s, rev)
            mon = mask & (rev["day"] >= ONSET)
            x, lab, day = rev["x"][mon], rev["label"][mon], rev["day"][mon]
            bt = below_target_days(s, N, rev)
            for hname in ("arl500", "quarter"):
                h = _STATE["h"][s][hname]
                cs = cusum_alarm_days(x, p0_label[lab], day, h, ODDS_RATIO)
                result[(scen, s, hname)] = {"cusum": cs, "below": bt}
            if scen == "seed" and s != "a":
                result[("hw", s)] = half_width_cheap_high(s, N, rev)
            if scen == "stable":
                result[("daily", s)] = float(mask.sum() / N.shape[0])
    return result


# --- CUSUM thresholds ---------------------------------------------------------------------
def design_pool(N: np.ndarray, K: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Per strategy: the baseline p0 of the watched domain's reviews (a pool to resample)
    and the expected number of such reviews per day, from a pilot run of days 0–13."""
    p_label = observed_error(K[:ONSET].sum(0) / np.maximum(N[:ONSET].sum(0), 1))
    pilot = run_strategies(N[:ONSET], K[:ONSET], seed=10_000)
    out: dict[str, tuple[np.ndarray, float]] = {}
    for s in STRATEGIES:
        n = pilot["c" if s == "c" else "u"]["n"]
        if s == "a":
            p = np.sum(p_label * N[:ONSET].sum(0)) / N[:ONSET].sum()
            out[s] = (np.array([p]), float(n.sum() / ONSET))
        elif s == "b":
            m = L_CHEAP
            p = np.sum(p_label[m] * N[:ONSET, m].sum(0)) / N[:ONSET, m].sum()
            out[s] = (np.array([p]), float(n[:, m].sum() / ONSET))
        else:
            counts = n[:, L_CHEAP].sum(0)
            out[s] = (np.repeat(p_label[L_CHEAP], counts), float(counts.sum() / ONSET))
    return out


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


def coverage_rep(rep: int) -> dict[str, Any]:
    """One repetition of the heavily oversampled design over COV_DAYS (uses sampling.draw)."""
    pop = _STATE["cov"]
    rng = np.random.default_rng([777, rep])
    codes, ys, autos, noises, Ns, Fa, Fn = [], [], [], [], [], [], []
    for j, d in enumerate(COV_DAYS):
        code = pop["code"][j].astype(np.int64)
        N = np.bincount(code, minlength=H)
        # Heavy oversampling: equal allocation over the day's strata (floor 5).
        n = allocate(N, BUDGET, method="equal", floor=FLOOR).n
        dr = draw(code, n, seed=rng)
        idx = dr.indices
        y = oracle_verdicts(pop["correct"][j][idx], 0.0, rng).astype(float)
        codes.append(code[idx] + j * H)
        ys.append(y)
        autos.append(pop["auto"][j][idx])
        noises.append(pop["noise"][j][idx])
        Ns.append(N)
        Fa.append(_STATE["cov_Fauto"][j])
        Fn.append(_STATE["cov_Fnoise"][j])
        del d
    code = np.concatenate(codes)
    y = np.concatenate(ys)
    N = np.concatenate(Ns)
    label = np.tile(np.arange(H), len(COV_DAYS))
    out: dict[str, Any] = {}
    for name, f in COV_DOMAINS.items():
        dom = f(label)
        e = stratified_estimate(N, code, y, domain=dom)
        out[name] = (e.estimate, e.ci_low, e.ci_high, float(y[dom[code]].mean()))
    for name in ("tier cheap", "tier capable"):
        dom = COV_DOMAINS[name](label)
        for judge, fa, fbar in (
            ("auto", np.concatenate(autos), np.concatenate(Fa)),
            ("noise", np.concatenate(noises), np.concatenate(Fn)),
        ):
            e = ppi_estimate(N, fbar, code, y, fa, domain=dom)
            out[(name, judge)] = (e.estimate, e.ci_low, e.ci_high)
    return out


# --- the report ---------------------------------------------------------------------------
def q(values: list[float], p: float) -> float:
    arr = np.asarray(values, dtype=float)
    return float(np.quantile(arr, p)) if arr.size else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="seeded monitoring runs")
    parser.add_argument("--reps", type=int, default=500, help="coverage/PPI repetitions")
    parser.add_argument("--quick", action="store_true", help="20 runs, 100 reps, no files")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.reps = 20, 100
    t_start = time.perf_counter()

    print("populations (simulated once, cached):")
    seed_pop = population("seed", SEED_DAYS, args.workers)
    stable_pop = population("stable", STABLE_DAYS, args.workers)
    for name, pop in (("seed", seed_pop), ("stable", stable_pop)):
        _STATE[f"{name}_N"], _STATE[f"{name}_K"] = stratum_totals(pop)
    cov_idx = list(COV_DAYS)
    _STATE["cov"] = {k: seed_pop[k][cov_idx] for k in ("code", "correct", "auto", "noise")}
    _STATE["cov_Fauto"] = [
        np.bincount(seed_pop["code"][d], weights=seed_pop["auto"][d], minlength=H)
        / np.maximum(np.bincount(seed_pop["code"][d], minlength=H), 1)
        for d in cov_idx
    ]
    _STATE["cov_Fnoise"] = [
        np.bincount(seed_pop["code"][d], weights=seed_pop["noise"][d], minlength=H)
        / np.maximum(np.bincount(seed_pop["code"][d], minlength=H), 1)
        for d in cov_idx
    ]
    del seed_pop, stable_pop

    t0 = time.perf_counter()
    pools = design_pool(_STATE["stable_N"], _STATE["stable_K"])
    cal_runs = 300 if args.quick else 600
    _STATE["h"] = {}
    for s in STRATEGIES:
        pool, per_day = pools[s]
        h500 = calibrate_h(pool, 500.0, odds_ratio=ODDS_RATIO, n_runs=cal_runs, seed=1).h
        fa_cal = calibrate_h_for_false_alarms(
            pool, 90 * per_day, 1, QUARTER_SHARE, odds_ratio=ODDS_RATIO, n_runs=cal_runs, seed=2
        )
        hq = fa_cal.h
        _STATE["h"][s] = {
            "arl500": h500,
            "quarter": hq,
            "per_day": per_day,
            "cal_share": fa_cal.share,
            "cal_mean": fa_cal.mean_alarms,
        }
        print(
            f"  {STRATEGY_NAMES[s]}: {per_day:.0f} watched reviews/day, "
            f"h(ARL 500) = {h500:.2f}, h(quarter) = {hq:.2f}"
        )
    print(f"CUSUM thresholds calibrated in {time.perf_counter() - t0:.0f} s")

    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool_ex:
        runs = list(pool_ex.map(monitor_run, range(args.runs), chunksize=4))
        reps = list(pool_ex.map(coverage_rep, range(args.reps), chunksize=10))
    secs = time.perf_counter() - t0
    print(f"{args.runs} monitoring runs and {args.reps} coverage reps in {secs:.0f} s")

    rows: list[tuple[str, str, str, str]] = []  # figure, value, target, verdict

    def add(figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append((figure, value, target, "" if ok is None else ("PASS" if ok else "FAIL")))

    horizon = SEED_DAYS - ONSET
    delays: dict[tuple[str, str], list[float]] = {}
    for hname, hlabel in (("quarter", "h for ≤1 alarm/quarter"), ("arl500", "h for ARL 500")):
        for s in STRATEGIES:
            d = []
            fa = []
            for r in runs:
                ev = r[("seed", s, hname)]
                first = min(ev["cusum"] + ev["below"], default=None)
                d.append(math.inf if first is None else first - ONSET)
                st = r[("stable", s, hname)]
                fa.append(len(st["cusum"]) + len(st["below"]))
            delays[(s, hname)] = d
            med, p90 = q(d, 0.5), q(d, 0.9)
            share_ok = float(np.mean(np.asarray(fa) <= 1))
            fmt = lambda v: f"{v:.0f}" if np.isfinite(v) else f">{horizon}"  # noqa: E731
            is_c = s == "c"
            add(
                f"{STRATEGY_NAMES[s]}, {hlabel}: days onset→first alarm, median / p90",
                f"{fmt(med)} / {fmt(p90)}",
                "median ≤ 7" if is_c else "",
                (med <= 7) if is_c else None,
            )
            add(
                f"{STRATEGY_NAMES[s]}, {hlabel}: stable runs with ≤1 false alarm/quarter",
                f"{100 * share_ok:.1f} % (mean {np.mean(fa):.2f} alarms)",
                "≥ 95 %" if is_c else "",
                (share_ok >= 0.95) if is_c else None,
            )
    only_below = [min(r[("seed", "c", "quarter")]["below"], default=math.inf) - ONSET for r in runs]
    add(
        "(c) below-target rule alone (target 0.93): days onset→alarm, median",
        f"{q(only_below, 0.5):.0f}",
    )
    hw_b = [r[("hw", "b")] for r in runs]
    hw_c = [r[("hw", "c")] for r in runs]
    ratio = float(np.mean(hw_c) / np.mean(hw_b))
    add(
        "cheap × high-uncertainty 95 % half-width, week 7: (b) / (c), mean",
        f"{np.mean(hw_b):.4f} / {np.mean(hw_c):.4f} (ratio {ratio:.2f})",
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
        add(f"{name} (truth {t:.4f}): bias of stratified estimate, points", f"{bias:+.2f}",
            "|bias| ≤ 0.5", abs(bias) <= 0.5)  # fmt: skip
        add(f"{name}: 95 % interval coverage", f"{100 * cover:.1f} %", "93–97 %",
            0.93 <= cover <= 0.97)  # fmt: skip
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
    lines = [f"{'figure':<{width}}  {'measured':<34} {'target':<14} verdict"]
    lines += [f"{f:<{width}}  {v:<34} {t:<14} {ok}" for f, v, t, ok in rows]
    print("\n".join(lines))
    print(f"total run time {elapsed:.0f} s on {args.workers} workers")
    if args.quick:
        return

    args.out.mkdir(parents=True, exist_ok=True)
    md = [
        '# Efficiency study (issue 3, "Must show")',
        "",
        f"Generated by `benchmarks/efficiency.py --runs {args.runs} --reps {args.reps}` "
        f"in {elapsed:.0f} s on {args.workers} workers. Chart: [efficiency.png](efficiency.png).",
        "",
        f"Setup: seed and stable populations of {PER_DAY:,} answers/day simulated once "
        f"(seed {POP_SEED}; embeddings of dimension {EMBED_DIM}, {REF_N:,}-point reference); "
        f"{BUDGET} reviews/day; oracle reviewer error {ORACLE_ERROR:.0%} in the monitoring runs "
        "and 0 in the coverage study; drift onset day 14; baseline p0 from days 0–13; "
        f"CUSUM odds ratio {ODDS_RATIO:g}; below-target rule on a rolling {WINDOW}-day "
        f"estimate with target {TARGET}; plan (c): Neyman from the last {HISTORY} days' "
        f"reviews, floor {FLOOR}, weights ×8 cheap × high uncertainty, ×3 OOD edge/out. "
        "Coverage study: days 40–46 of seed, equal allocation over the 12 daily strata "
        f"(heavy oversampling of small strata), {args.reps} repetitions.",
        "",
        ESTIMATOR_NOTE,
        "",
        "| figure | measured | target | verdict |",
        "|---|---|---|---|",
    ]
    md += [f"| {f} | {v} | {t} | {ok} |" for f, v, t, ok in rows]
    md += ["", "CUSUM thresholds:", ""]
    for s in STRATEGIES:
        hh = _STATE["h"][s]
        md.append(
            f"- {STRATEGY_NAMES[s]}: {hh['per_day']:.0f} watched reviews/day; "
            f"h = {hh['arl500']:.2f} for ARL 500, h = {hh['quarter']:.2f} for ≤ 1 alarm in "
            f"{QUARTER_SHARE:.1%} of in-control quarters (calibration runs: "
            f"{hh['cal_share']:.1%} with ≤ 1, mean {hh['cal_mean']:.2f} alarms)"
        )
    (args.out / "efficiency.md").write_text("\n".join(md) + "\n")
    chart(args.out / "efficiency.png", delays, hw_b, hw_c, reps, truth, ppi_rows, horizon)
    print(f"wrote {args.out / 'efficiency.md'} and {args.out / 'efficiency.png'}")


def chart(
    path: Path,
    delays: dict[tuple[str, str], list[float]],
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
    data = [np.minimum(np.asarray(delays[(s, "quarter")]), horizon + 2) for s in STRATEGIES]
    a.boxplot(data, tick_labels=[STRATEGY_NAMES[s] for s in STRATEGIES], orientation="horizontal")
    a.axvline(7, color="tab:red", ls="--", label="target: median ≤ 7 days")
    a.set_xlabel(f"days from drift onset to first cheap-tier alarm (>{horizon} = never)")
    a.set_title("Detection delay on seed (h: ≤1 false alarm/quarter)")
    a.legend(loc="lower right")

    a = ax[0, 1]
    a.hist(hw_b, bins=30, alpha=0.7, label="(b) uniform, split by tier")
    a.hist(hw_c, bins=30, alpha=0.7, label="(c) Longtail stratified")
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
    a.set_xlabel("95 % interval coverage (heavily oversampled design)")
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
