"""Reads for the quality-of-review pages: reviewer agreement, reviewers, failure tags, shadow
comparisons and cascade threshold advice. Each report is built once as `Table`s of display
strings, so the page and its CSV download hold the same cells.

The statistics live in `sampling/` (agreement, ratio, cascade, estimate); this module turns the
stored reviews into arrays and back into tables. Which reviews count:

* agreement (kappa, alpha): every non-gold item of the plan's queues in the window (probability
  or ad hoc) that has two or more reviews — reliability is about the reviewers, not traffic;
* per-reviewer figures: the reviewer's reviews of items of the window's queues;
* gold: reviews of gold copies, scored against the gold adjudication of the original item;
* failure tags, shadow preference and cascade advice: the probability queues only, weighted by
  1/π through the stored design (`report_data`), never a raw share of an oversampled queue.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import numpy as np

from reviewapp.review.models import Adjudication, Plan, QueueItem, Review
from sampling.agreement import cohen_kappa, krippendorff_alpha_interval
from sampling.cascade import cascade_advice
from sampling.estimate import rogan_gladen_interval, stratified_estimate
from sampling.ratio import subdomain_proportion

from .exports import Table
from .selectors import ReportData, domain_estimate, domain_rows, report_data
from .tables import num, pct

#: Verdict codes for alpha, in their order (incorrect < partial < correct).
VERDICT_CODES = {"incorrect": 0.0, "partial": 1.0, "correct": 2.0}
VERDICTS = ("correct", "partial", "incorrect")
ALPHA_BOOT = 1000
ALPHA_SEED = 20070101  # fixed: the page shows the same interval on every load


def _items_in_window(plan: Plan, start: dt.date, end: dt.date) -> Any:
    return QueueItem.objects.filter(queue__plan=plan, queue__day__gte=start, queue__day__lte=end)


def _user_names(ids: set[int]) -> dict[int, str]:
    from django.contrib.auth import get_user_model

    return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))


# --------------------------------------------------------------------------- agreement page


@dataclass
class AgreementReport:
    plan: Plan
    start: dt.date
    end: dt.date
    pairs: Table
    alpha: Table
    reviewers: Table
    correction: Table
    tags: Table
    overlap_items: int
    gold_reviews: int
    pooled_se: float | None = None
    pooled_sp: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.reviewers.rows or self.tags.rows)


def _gold_truth(plan: Plan) -> dict[int, str]:
    """response id -> gold verdict (the gold adjudication of an original, non-gold item)."""
    return dict(
        Adjudication.objects.filter(
            is_gold=True, item__queue__plan=plan, item__is_gold=False
        ).values_list("item__response_id", "verdict")
    )


def agreement_report(*, plan: Plan, start: dt.date, end: dt.date) -> AgreementReport:
    items = _items_in_window(plan, start, end)
    reviews = list(
        Review.objects.filter(item__in=items).values_list(
            "item_id",
            "reviewer_id",
            "verdict",
            "time_spent_ms",
            "created_at",
            "item__is_gold",
            "item__response_id",
        )
    )
    names = _user_names({r[1] for r in reviews})
    by_item: dict[int, dict[int, str]] = defaultdict(dict)
    for item_id, reviewer_id, verdict, _, _, is_gold, _ in reviews:
        if not is_gold:
            by_item[item_id][reviewer_id] = verdict
    overlap = {i: v for i, v in by_item.items() if len(v) >= 2}

    # Kappa per pair of reviewers, on the items both reviewed.
    pairs = Table(
        columns=[
            "Reviewer A",
            "Reviewer B",
            "Items both reviewed",
            "Observed agreement (%)",
            "Chance agreement (%)",
            "Cohen's kappa",
            "95% CI low",
            "95% CI high",
        ],
        rows=[],
        numeric={2, 3, 4, 5, 6, 7},
    )
    shared: dict[tuple[int, int], list[tuple[str, str]]] = defaultdict(list)
    for verdicts in overlap.values():
        ordered = sorted(verdicts, key=lambda r: (names.get(r, ""), r))
        for a, b in itertools.combinations(ordered, 2):
            shared[(a, b)].append((verdicts[a], verdicts[b]))
    for (a, b), ratings in sorted(
        shared.items(), key=lambda kv: (names.get(kv[0][0], ""), names.get(kv[0][1], ""))
    ):
        k = cohen_kappa([x for x, _ in ratings], [y for _, y in ratings], categories=VERDICTS)
        pairs.rows.append(
            [
                names.get(a, str(a)),
                names.get(b, str(b)),
                str(k.n),
                pct(k.observed),
                pct(k.expected),
                num(k.kappa, 3),
                num(k.ci_low, 3),
                num(k.ci_high, 3),
            ]
        )
        pairs.records.append({"reviewer_a": names.get(a), "reviewer_b": names.get(b), **vars(k)})

    # Alpha over all overlap items: units × reviewers, NaN where a reviewer did not review.
    alpha = Table(
        columns=[
            "Level",
            "Items (pairable)",
            "Verdicts",
            "Krippendorff's alpha",
            "95% CI low",
            "95% CI high",
            "P(alpha < 0.667) (%)",
            "P(alpha < 0.8) (%)",
        ],
        rows=[],
        numeric={1, 2, 3, 4, 5, 6, 7},
    )
    if overlap:
        raters = sorted({r for v in overlap.values() for r in v})
        column = {r: j for j, r in enumerate(raters)}
        matrix = np.full((len(overlap), len(raters)), np.nan)
        for u, verdicts in enumerate(overlap.values()):
            for r, verdict in verdicts.items():
                matrix[u, column[r]] = VERDICT_CODES[verdict]
        for level in ("nominal", "ordinal"):
            res = krippendorff_alpha_interval(
                matrix,
                level=level,
                categories=sorted(VERDICT_CODES.values()),
                n_boot=ALPHA_BOOT,
                seed=ALPHA_SEED,
            )
            alpha.rows.append(
                [
                    level,
                    str(res.units),
                    str(res.values),
                    num(res.alpha, 3),
                    num(res.ci_low, 3),
                    num(res.ci_high, 3),
                    pct(res.p_below.get(0.667)),
                    pct(res.p_below.get(0.8)),
                ]
            )
            alpha.records.append({k: v for k, v in vars(res).items() if k != "p_below"})

    # Per reviewer.
    adjudicated = dict(
        Adjudication.objects.filter(item__in=items, item__is_gold=False).values_list(
            "item_id", "verdict"
        )
    )
    truth = _gold_truth(plan)
    stats: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "reviews": 0,
            "days": set(),
            "times": [],
            "adj": [0, 0],
            "pos": [],
            "neg": [],
        }
    )
    for item_id, reviewer_id, verdict, ms, created, is_gold, response_id in reviews:
        s = stats[reviewer_id]
        if is_gold:
            gold = truth.get(response_id)
            if gold == "correct":
                s["pos"].append(Review.SCORES[verdict])
            elif gold == "incorrect":
                s["neg"].append(Review.SCORES[verdict])
            continue
        s["reviews"] += 1
        s["days"].add(created.date())
        if ms is not None:
            s["times"].append(ms)
        if item_id in adjudicated:
            s["adj"][0] += verdict == adjudicated[item_id]
            s["adj"][1] += 1
    reviewers = Table(
        columns=[
            "Reviewer",
            "Reviews",
            "Active days",
            "Reviews per active day",
            "Median time per item (s)",
            "Adjudicated items",
            "Agreement with adjudication (%)",
            "Gold items truly correct",
            "Sensitivity (%)",
            "Gold items truly wrong",
            "Specificity (%)",
        ],
        rows=[],
        numeric=set(range(1, 11)),
    )
    pos_all: list[float] = []
    neg_all: list[float] = []
    for reviewer_id, s in sorted(stats.items(), key=lambda kv: names.get(kv[0], "")):
        pos_all += s["pos"]
        neg_all += s["neg"]
        se = float(np.mean(s["pos"])) if s["pos"] else None
        sp = 1.0 - float(np.mean(s["neg"])) if s["neg"] else None
        days = len(s["days"])
        reviewers.rows.append(
            [
                names.get(reviewer_id, str(reviewer_id)),
                str(s["reviews"]),
                str(days),
                num(s["reviews"] / days if days else None, 1),
                num(median(s["times"]) / 1000 if s["times"] else None, 1),
                str(s["adj"][1]),
                pct(s["adj"][0] / s["adj"][1] if s["adj"][1] else None),
                str(len(s["pos"])),
                pct(se),
                str(len(s["neg"])),
                pct(sp),
            ]
        )

    # Rogan–Gladen beside the raw accuracy per tier, with pooled Se/Sp from gold.
    data = report_data(plan=plan, start=start, end=end)
    pooled_se = float(np.mean(pos_all)) if pos_all else None
    pooled_sp = 1.0 - float(np.mean(neg_all)) if neg_all else None
    correction = Table(
        columns=[
            "Tier",
            "Reviews",
            "Raw accuracy (%)",
            "95% CI low (%)",
            "95% CI high (%)",
            "Pooled sensitivity (%)",
            "Pooled specificity (%)",
            "Corrected accuracy (%)",
            "Corrected CI low (%)",
            "Corrected CI high (%)",
            "Gold reviews behind Se / Sp",
            "Note",
        ],
        rows=[],
        numeric=set(range(1, 10)),
    )
    notes = []
    if pooled_se is None or pooled_sp is None:
        reason = "no gold reviews with both truly correct and truly wrong gold items"
    elif pooled_se + pooled_sp <= 1:
        reason = "reviewers no better than chance on gold (Se + Sp ≤ 1): no correction"
    else:
        reason = ""
    # The corrected interval carries the uncertainty of Se and Sp as well as the raw interval's:
    # with ~80 gold reviews the former is the larger part (benchmarks/rogan_gladen.py).
    gold_counts = f"{len(pos_all)} / {len(neg_all)}"
    for row in domain_rows(data, ("tier",)):
        corrected: list[float | None] = [None, None, None]
        if not reason and row.accuracy is not None:
            fixed = rogan_gladen_interval(
                row.accuracy,
                row.ci_low if row.ci_low is not None else 0.0,
                row.ci_high if row.ci_high is not None else 1.0,
                sensitivity=pooled_se or 0.0,
                gold_correct=len(pos_all),
                specificity=pooled_sp or 0.0,
                gold_wrong=len(neg_all),
            )
            corrected = [fixed.estimate, fixed.ci_low, fixed.ci_high]
        correction.rows.append(
            [
                row.key[0],
                str(row.reviewed),
                pct(row.accuracy),
                pct(row.ci_low),
                pct(row.ci_high),
                pct(pooled_se),
                pct(pooled_sp),
                *(pct(x) for x in corrected),
                gold_counts,
                reason or ("" if row.accuracy is not None else "no reviews"),
            ]
        )
    tags = failure_tag_table(data)
    if not overlap:
        notes.append("No item in the window has two reviews, so no agreement figure.")
    return AgreementReport(
        plan=plan,
        start=start,
        end=end,
        pairs=pairs,
        alpha=alpha,
        reviewers=reviewers,
        correction=correction,
        tags=tags,
        overlap_items=len(overlap),
        gold_reviews=len(pos_all) + len(neg_all),
        pooled_se=pooled_se,
        pooled_sp=pooled_sp,
        notes=notes,
    )


def _item_reviews(item_ids: np.ndarray, *fields: str) -> dict[int, list[tuple[Any, ...]]]:
    out: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in Review.objects.filter(item_id__in=item_ids.tolist()).values_list("item_id", *fields):
        out[row[0]].append(row[1:])
    return out


def failure_tag_table(data: ReportData) -> Table:
    """Per tier and tag: the estimated share of the tier's traffic whose answer carries the tag
    (stratified, each item weighted by 1/π; an item's value is the share of its reviews that
    gave the tag), with its interval, and beside it the raw count of reviewed items tagged."""
    table = Table(
        columns=[
            "Tier",
            "Failure tag",
            "Reviewed items in tier",
            "Items tagged (unweighted count)",
            "Est. share of tier traffic (%)",
            "95% CI low (%)",
            "95% CI high (%)",
        ],
        rows=[],
        numeric={2, 3, 4, 5, 6},
    )
    if data.item_ids.size == 0:
        return table
    tags_of = _item_reviews(data.item_ids, "failure_tags")
    names = sorted({str(t) for rows in tags_of.values() for (tags,) in rows for t in tags or []})
    shares = {
        tag: np.array(
            [np.mean([tag in (tags or []) for (tags,) in tags_of[int(i)]]) for i in data.item_ids]
        )
        for tag in names
    }
    for tier in sorted(set(data.labels["tier"])):
        domain = data.mask(tier=tier)
        in_tier = domain[data.item_stratum]
        if not in_tier.any():
            continue
        for tag in names:
            share = shares[tag]
            tagged = int(np.sum(share[in_tier] > 0))
            if tagged == 0:
                continue
            est = stratified_estimate(
                data.population, data.item_stratum, share, domain=domain, method="wilson"
            )
            table.rows.append(
                [
                    tier,
                    tag,
                    str(int(in_tier.sum())),
                    str(tagged),
                    pct(est.estimate),
                    pct(est.ci_low),
                    pct(est.ci_high),
                ]
            )
            table.records.append(
                {
                    "tier": tier,
                    "tag": tag,
                    "reviewed": int(in_tier.sum()),
                    "tagged": tagged,
                    "share": est.estimate,
                    "ci_low": est.ci_low,
                    "ci_high": est.ci_high,
                }
            )
    return table


# --------------------------------------------------------------------------- shadow page


@dataclass
class ShadowReport:
    plan: Plan
    start: dt.date
    end: dt.date
    table: Table

    @property
    def empty(self) -> bool:
        return not self.table.rows


def shadow_outcomes(preference: str, served_side: str) -> str:
    """'shadow', 'served' or 'tie' for one review's pairwise preference: A/B name a side, and
    the served answer was on `served_side`, so the other side was the shadow (capable) one."""
    if preference == "tie":
        return "tie"
    if preference not in ("A", "B") or served_side not in ("A", "B"):
        return ""
    return "served" if preference == served_side else "shadow"


def shadow_report(*, plan: Plan, start: dt.date, end: dt.date) -> ShadowReport:
    """Per tier: how often reviewers preferred the shadow (capable) answer over the served one,
    estimated over the tier's traffic that has a shadow answer (1/π-weighted ratio), ties apart."""
    data = report_data(plan=plan, start=start, end=end)
    table = Table(
        columns=[
            "Tier",
            "Items compared",
            "Shadow preferred (reviews)",
            "Served preferred (reviews)",
            "Ties (reviews)",
            "Est. shadow preferred, ties excluded (%)",
            "95% CI low (%)",
            "95% CI high (%)",
            "Est. tie share (%)",
            "Tie 95% CI low (%)",
            "Tie 95% CI high (%)",
        ],
        rows=[],
        numeric=set(range(1, 11)),
    )
    report = ShadowReport(plan=plan, start=start, end=end, table=table)
    if data.item_ids.size == 0:
        return report
    item_side = dict(
        QueueItem.objects.filter(pk__in=data.item_ids.tolist()).values_list("pk", "served_side")
    )
    prefs = _item_reviews(data.item_ids, "preference", "served_side")
    n = data.item_ids.size
    shadow_share = np.zeros(n)
    tie_share = np.zeros(n)
    decided = np.zeros(n, dtype=bool)
    compared = np.zeros(n, dtype=bool)
    counts = np.zeros((n, 3), dtype=int)  # shadow, served, tie
    for i, item_id in enumerate(data.item_ids.tolist()):
        outcomes = [
            shadow_outcomes(pref, side or item_side.get(item_id, ""))
            for pref, side in prefs[item_id]
        ]
        outcomes = [o for o in outcomes if o]
        if not outcomes:
            continue
        compared[i] = True
        counts[i] = [outcomes.count(k) for k in ("shadow", "served", "tie")]
        tie_share[i] = counts[i, 2] / len(outcomes)
        if counts[i, :2].sum():
            decided[i] = True
            shadow_share[i] = counts[i, 0] / counts[i, :2].sum()
    for tier in sorted(set(data.labels["tier"])):
        in_tier = data.mask(tier=tier)[data.item_stratum]
        if not (compared & in_tier).any():
            continue
        # The sample of the tier's strata (all its reviewed items), members = compared items.
        codes = data.item_stratum[in_tier]
        rate = subdomain_proportion(
            data.population, codes, shadow_share[in_tier], (decided & in_tier)[in_tier]
        )
        ties = subdomain_proportion(
            data.population, codes, tie_share[in_tier], (compared & in_tier)[in_tier]
        )
        c = counts[in_tier].sum(axis=0)
        table.rows.append(
            [
                tier,
                str(int((compared & in_tier).sum())),
                str(int(c[0])),
                str(int(c[1])),
                str(int(c[2])),
                pct(rate.estimate if rate else None),
                pct(rate.ci_low if rate else None),
                pct(rate.ci_high if rate else None),
                pct(ties.estimate if ties else None),
                pct(ties.ci_low if ties else None),
                pct(ties.ci_high if ties else None),
            ]
        )
        table.records.append(
            {
                "tier": tier,
                "compared": int((compared & in_tier).sum()),
                "shadow_preferred_reviews": int(c[0]),
                "served_preferred_reviews": int(c[1]),
                "tie_reviews": int(c[2]),
                "shadow_preferred": rate.estimate if rate else None,
                "ci_low": rate.ci_low if rate else None,
                "ci_high": rate.ci_high if rate else None,
                "tie_share": ties.estimate if ties else None,
            }
        )
    return report


# --------------------------------------------------------------------------- cascade page


@dataclass
class CascadeReport:
    plan: Plan
    start: dt.date
    end: dt.date
    tiers: list[str]
    cheap: str | None
    capable: str | None
    table: Table
    empty_reason: str = ""
    recommended: dict[str, Any] | None = None
    #: The recommended threshold's row of the table (display strings), for the page's sentence.
    recommended_cells: list[str] | None = None
    target: float | None = None
    capable_accuracy: float | None = None
    n_reviewed: int = 0
    n_with_confidence: int = 0


def _cost_per_answer(data: ReportData, domain: np.ndarray) -> float | None:
    count = int(data.cost_count[domain].sum())
    return float(data.cost_sum[domain].sum()) / count if count else None


def default_cascade_tiers(data: ReportData) -> tuple[str | None, str | None]:
    """(cheap, capable): tiers named so, else the cheapest and dearest by cost per answer."""
    tiers = sorted(set(data.labels["tier"]))
    if "cheap" in tiers and "capable" in tiers:
        return "cheap", "capable"
    if len(tiers) < 2:
        return (tiers[0] if tiers else None), None
    costs = {t: _cost_per_answer(data, data.mask(tier=t)) for t in tiers}
    ranked = sorted(tiers, key=lambda t: (costs[t] is None, costs[t] or 0.0, t))
    return ranked[0], ranked[-1]


def cascade_report(
    *,
    plan: Plan,
    start: dt.date,
    end: dt.date,
    cheap: str | None = None,
    capable: str | None = None,
) -> CascadeReport:
    data = report_data(plan=plan, start=start, end=end)
    default_cheap, default_capable = default_cascade_tiers(data)
    cheap = cheap or default_cheap
    capable = capable or default_capable
    table = Table(
        columns=[
            "Escalation threshold",
            "Escalated share of traffic (%)",
            "Est. accuracy (%)",
            "95% CI low (%)",
            "95% CI high (%)",
            "Cost per answer (USD)",
            "Meets target",
        ],
        rows=[],
        numeric={0, 1, 2, 3, 4, 5},
    )
    report = CascadeReport(
        plan=plan,
        start=start,
        end=end,
        tiers=sorted(set(data.labels["tier"])),
        cheap=cheap,
        capable=capable,
        table=table,
    )
    if cheap is None or capable is None or cheap == capable:
        report.empty_reason = (
            "Cascade advice needs two tiers in the window: a cheap and a capable one."
        )
        return report
    cheap_domain = data.mask(tier=cheap)
    items = cheap_domain[data.item_stratum]
    if not items.any():
        report.empty_reason = f"No reviewed item of the {cheap} tier in the window."
        return report
    confidence_of = dict(
        QueueItem.objects.filter(pk__in=data.item_ids[items].tolist()).values_list(
            "pk", "response__self_confidence"
        )
    )
    conf = np.array(
        [
            np.nan if confidence_of.get(int(i)) is None else confidence_of[int(i)]
            for i in data.item_ids[items]
        ],
        dtype=float,
    )
    if np.isnan(conf).all():
        report.empty_reason = (
            f"No reviewed {cheap} answer carries a self_confidence, so there is no threshold "
            "to tune. Send self_confidence with each response (the cheap model's own "
            "confidence) to get this advice."
        )
        return report
    capable_estimate = domain_estimate(data, data.mask(tier=capable))
    if capable_estimate is None:
        report.empty_reason = f"No reviewed item of the {capable} tier: its accuracy is unknown."
        return report
    version = plan.current_version
    target = (version.targets or {}).get(cheap) if version else None
    advice = cascade_advice(
        data.population,
        data.item_stratum[items],
        data.item_score[items],
        conf,
        capable_accuracy=capable_estimate.estimate,
        capable_variance=capable_estimate.variance,
        cheap_cost=_cost_per_answer(data, cheap_domain),
        capable_cost=_cost_per_answer(data, data.mask(tier=capable)),
        target=target,
    )
    for r in advice.rows:
        table.rows.append(
            [
                f"{r.threshold:.2f}",
                pct(r.escalation_share),
                pct(r.accuracy),
                pct(r.ci_low),
                pct(r.ci_high),
                num(r.cost_per_answer, 5),
                "" if r.meets_target is None else ("yes" if r.meets_target else "no"),
            ]
        )
        table.records.append(vars(r))
    if advice.recommended is not None:
        report.recommended = vars(advice.recommended)
        report.recommended_cells = table.rows[advice.rows.index(advice.recommended)]
    report.target = target
    report.capable_accuracy = capable_estimate.estimate
    report.n_reviewed = advice.n_reviewed
    report.n_with_confidence = advice.n_with_confidence
    return report


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and value != value else value


def agreement_summary_table(report: AgreementReport) -> Table:
    """Alpha (nominal, ordinal) and kappa per pair in one table, for `manage.py report
    agreement`: the same cells as the page's alpha and kappa tables."""
    table = Table(
        columns=["Measure", "Reviewers", "Items", "Value", "95% CI low", "95% CI high"],
        rows=[],
        numeric={2, 3, 4, 5},
    )
    for row in report.alpha.rows:
        table.rows.append([f"Krippendorff's alpha ({row[0]})", "all", row[1], *row[3:6]])
    for record, row in zip(report.alpha.records, report.alpha.rows, strict=True):
        table.records.append(
            {
                "measure": f"alpha_{row[0]}",
                "reviewers": "all",
                "items": record["units"],
                "value": _finite(record["alpha"]),
                "ci_low": _finite(record["ci_low"]),
                "ci_high": _finite(record["ci_high"]),
            }
        )
    for row, record in zip(report.pairs.rows, report.pairs.records, strict=True):
        table.rows.append(["Cohen's kappa", f"{row[0]} + {row[1]}", row[2], *row[5:8]])
        table.records.append(
            {
                "measure": "kappa",
                "reviewers": f"{row[0]} + {row[1]}",
                "items": record["n"],
                "value": _finite(record["kappa"]),
                "ci_low": _finite(record["ci_low"]),
                "ci_high": _finite(record["ci_high"]),
            }
        )
    return table
