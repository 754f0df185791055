"""Simulated production stream of a routed LLM support agent (the "seed" Pareto trap).

The simulator reproduces the story of ``docs/design.md`` ("The problem it answers"): a router sends
65 % of about 40,000 daily answers to a cheap tier (a quarter of the capable tier's cost); from
day 14 a growing share of cheap-tier traffic (up to 20 % at day 70) carries *hidden intents*
(fraud, reconciliation, billing-cycle changes) written to look like billing questions, which
the cheap model answers confidently and wrongly; a product launch brings queries unlike the
reference set. The ``stable`` scenario is the same without the drift and the launch.

It emits the shared record formats (``docs/schema/response.schema.json``,
``feedback.schema.json``, ``reference.schema.json``) plus per-response ground truth kept apart
(``truth.jsonl``: ``{"id", "correct", "hidden_intent", "topic", "launch", "day"}``).

Modelling assumptions (all parameters live in the scenario JSON file):

- Every answer is independent given its day; a day's records are generated in one vectorised
  pass (numpy), so a day of 40,000 records takes well under a second before JSON encoding.
  Each day has its own generator ``np.random.default_rng([seed, day])`` so any day can be
  regenerated alone and the stream is reproducible under a seed.
- Tier: ``cheap`` with probability ``cheap_share`` (router label ``simple``), else ``capable``
  (label ``complex``). Within the cheap tier an answer is hidden-intent with probability
  ``hidden_share(day)`` (0 before ``hidden_share_start_day``, a linear ramp to
  ``hidden_share_max`` at ``hidden_share_full_day``, constant after), so the hidden share *of the
  cheap tier* is exact in expectation. From ``launch_day``, a share ``launch_share`` of the
  remaining traffic of both tiers is about the new product.
- Correctness is Bernoulli with a per-(tier, kind) accuracy. Router confidence is Beta per
  kind; easy Beta(12, 2) and hidden Beta(8, 3) overlap on purpose, so a confidence threshold
  alone cannot separate them.
- Embeddings: each topic has a fixed random unit centroid (seeded by ``embedding_seed``);
  a query is ``normalise(centroid + embedding_noise * z / sqrt(dim))`` with z standard normal.
  Hidden-intent centroids have cosine ``hidden_billing_similarity`` with the billing centroid:
  near it, not on it. The launch topic has its own centroid, far from everything.
- ``auto_score`` is an imperfect judge: Beta(``judge_correct``) on correct answers,
  Beta(``judge_wrong``) on wrong ones (overlapping), and on a share ``judge_fooled_share`` of
  wrong hidden-intent answers it is confidently wrong, Beta(``judge_fooled``).
- Feedback is sparse: per answer, independent thumbs-down / thumbs-up / handoff events with
  probabilities that depend on correctness (about 3 thumbs-down per 1,000 answers overall;
  handoffs much more frequent after a wrong answer), delayed by an exponential time.
- ``oracle_verdicts`` simulates a human reviewer with a given error rate or
  sensitivity/specificity.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DayBatch",
    "ReferenceSet",
    "Scenario",
    "hidden_share",
    "launch_share",
    "load_scenario",
    "oracle_verdicts",
    "reference_set",
    "simulate",
    "simulate_day",
    "write_scenario",
]

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True)
class Scenario:
    """All parameters of a simulated deployment. Defaults are the ``seed`` scenario.

    Pairs such as ``confidence_easy`` are Beta(a, b) parameters. Days count from 0 at
    ``start_date``.
    """

    name: str = "seed"
    start_date: str = "2025-01-06"
    days: int = 90
    answers_per_day: int = 40_000
    cheap_share: float = 0.65
    capable_cost_usd: float = 0.004
    cheap_cost_ratio: float = 0.25
    cheap_model: str = "cheap-llm-8b"
    capable_model: str = "capable-llm-70b"
    hidden_share_start_day: int = 14
    hidden_share_full_day: int = 70
    hidden_share_max: float = 0.20
    cheap_accuracy_easy: float = 0.97
    cheap_accuracy_hidden: float = 0.25
    cheap_accuracy_launch: float = 0.80
    capable_accuracy: float = 0.95
    capable_accuracy_launch: float = 0.90
    confidence_easy: tuple[float, float] = (12.0, 2.0)
    confidence_hidden: tuple[float, float] = (8.0, 3.0)
    confidence_complex: tuple[float, float] = (10.0, 3.0)
    confidence_launch: tuple[float, float] = (6.0, 3.0)
    launch_day: int | None = 35
    launch_share: float = 0.08
    embedding_dim: int = 384
    embedding_noise: float = 0.6
    embedding_seed: int = 20250106
    hidden_billing_similarity: float = 0.98
    judge_correct: tuple[float, float] = (5.0, 2.0)
    judge_wrong: tuple[float, float] = (2.0, 4.0)
    judge_fooled_share: float = 0.6
    judge_fooled: tuple[float, float] = (8.0, 2.0)
    shadow_share: float = 0.02
    thumbs_down_wrong: float = 0.03
    thumbs_down_correct: float = 0.0018
    thumbs_up_wrong: float = 0.004
    thumbs_up_correct: float = 0.02
    handoff_wrong: float = 0.15
    handoff_correct: float = 0.01
    segments: tuple[str, ...] = ("self_serve", "smb", "enterprise")
    segment_weights: tuple[float, ...] = (0.6, 0.3, 0.1)
    latency_cheap_ms: float = 600.0
    latency_capable_ms: float = 1800.0
    latency_sigma: float = 0.35


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a scenario by name (``sampling/scenarios/<name>.json``) or by file path.

    A file may say ``"extends": "<name>"`` to start from another scenario; any key it gives
    overrides. Unknown keys are an error (a typo must not silently fall back to a default).
    JSON lists become tuples so that the dataclass stays hashable.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name_or_path}.json"
    raw: dict[str, Any] = json.loads(path.read_text())
    base = Scenario()
    parent = raw.pop("extends", None)
    if parent is not None:
        base = load_scenario(parent)
    known = {f.name for f in dataclasses.fields(Scenario)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown scenario parameters {sorted(unknown)}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    scenario = dataclasses.replace(base, **values)
    if len(scenario.segments) != len(scenario.segment_weights):
        raise ValueError(f"{path}: segments and segment_weights differ in length")
    return scenario


def hidden_share(scenario: Scenario, day: int) -> float:
    """Share of cheap-tier traffic with a hidden intent on ``day``.

    0 up to ``hidden_share_start_day``, then a linear ramp reaching ``hidden_share_max`` at
    ``hidden_share_full_day``, constant afterwards.
    """
    start, full = scenario.hidden_share_start_day, scenario.hidden_share_full_day
    if day <= start or scenario.hidden_share_max <= 0:
        return 0.0
    if day >= full:
        return scenario.hidden_share_max
    return scenario.hidden_share_max * (day - start) / (full - start)


def launch_share(scenario: Scenario, day: int) -> float:
    """Share of non-hidden traffic about the newly launched product on ``day`` (a step)."""
    if scenario.launch_day is None or day < scenario.launch_day:
        return 0.0
    return scenario.launch_share


# --- Topics -------------------------------------------------------------------------------
# Query and answer texts are templated per topic so that a text vectoriser has something to
# see; hidden intents are phrased like billing questions on purpose.

EASY_TOPICS = ("billing_status", "password_reset", "order_tracking", "refunds")
COMPLEX_TOPICS = ("integrations", "api_errors", "data_export")
HIDDEN_TOPICS = ("fraud", "reconciliation", "billing_cycle_change")
LAUNCH_TOPIC = "payouts_launch"
ALL_TOPICS = EASY_TOPICS + COMPLEX_TOPICS + HIDDEN_TOPICS + (LAUNCH_TOPIC,)

QUERY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "billing_status": (
        "What is the status of my invoice {inv} for {month}?",
        "Has my payment of {amount} for {month} gone through?",
        "Why does my billing page say the {month} invoice is pending?",
        "Can you check whether invoice {inv} is paid?",
    ),
    "password_reset": (
        "How do I reset my password? The reset email never arrives.",
        "I forgot my password and I am locked out of {plan}.",
        "The password reset link says it expired, what do I do?",
        "Can you send me a new password reset link for my account?",
    ),
    "order_tracking": (
        "Where is my order {order}? It was due on {month} {dom}.",
        "Tracking for order {order} has not updated in three days.",
        "Can you tell me when order {order} will be delivered?",
        "My order {order} shows shipped but nothing arrived.",
    ),
    "refunds": (
        "How long does a refund of {amount} take to reach my card?",
        "I returned order {order}, when will I get my refund?",
        "Can I get a refund for the {plan} plan I cancelled?",
        "My refund for order {order} has not arrived yet.",
    ),
    "integrations": (
        "How do I connect {app} to my workspace with OAuth scopes for read and write?",
        "The {app} integration stopped syncing contacts after I rotated the webhook secret.",
        "Can the {app} connector map custom fields both ways without duplicating records?",
        "Our {app} sync fails with a rate limit when we import more than {count} rows.",
    ),
    "api_errors": (
        "The API returns 409 conflict on idempotent retries of POST /v2/orders, why?",
        "Webhook deliveries to our endpoint time out after {count} ms and are not retried.",
        "Bulk export via the API paginates past the last cursor and loops forever.",
        "We get 401 on token refresh only for service accounts created after {month}.",
    ),
    "data_export": (
        "How do I export all tickets with custom fields to CSV for the {month} audit?",
        "The scheduled export to S3 drops rows with unicode names, can you help?",
        "Can I export the audit log for {count} users and keep the timezone offsets?",
        "Our GDPR data export for one user is missing attachments from {month}.",
    ),
    "fraud": (
        "Why was I charged {amount} twice on my card for {month}? I only have one account.",
        "There is a charge of {amount} on my invoice I never made, can you check the billing?",
        "My billing shows a payment of {amount} from a card that is not mine.",
        "What is this {amount} charge on my {month} invoice? Nobody here bought it.",
    ),
    "reconciliation": (
        "My {month} invoice total of {amount} does not match the payments in my bank statement.",
        "Why does invoice {inv} not add up to the charges in my billing history?",
        "The billing total for {month} is {amount} but our ledger says otherwise, which is right?",
        "Can you check invoice {inv}? The line items do not match what we paid in {month}.",
    ),
    "billing_cycle_change": (
        "Can I move my billing date to the {dom}th and what happens to invoice {inv}?",
        "If I switch {plan} from monthly to annual billing in {month}, what is my invoice?",
        "What is the status of my billing if I change the cycle to start on the {dom}th?",
        "Will my {month} invoice of {amount} change if I move to quarterly billing?",
    ),
    "payouts_launch": (
        "How do I set up instant payouts to my bank account in the new Payouts dashboard?",
        "Payouts says my KYC verification is pending, when can I withdraw {amount}?",
        "Can Payouts split a settlement of {amount} across two connected accounts?",
        "Why was payout {inv} held for review in the Payouts tab?",
    ),
}

ANSWER_TEMPLATES: dict[str, str] = {
    "billing_status": "Your invoice is marked paid; receipts are under Settings > Billing.",
    "password_reset": "Use 'Forgot password' on the sign-in page; check spam for the email.",
    "order_tracking": "Your order is in transit; tracking updates within 24 hours of scanning.",
    "refunds": "Refunds reach your card within 5 to 10 business days after approval.",
    "integrations": "Reconnect the app under Integrations, re-authorise scopes and re-sync.",
    "api_errors": "Send the same Idempotency-Key on retries; conflicts mean a changed body.",
    "data_export": "Use Reports > Export with 'include custom fields', UTF-8 encoded.",
    "fraud": "I have locked the card and opened a dispute with our payments team for you.",
    "reconciliation": "The difference is a prorated credit; here is the line-by-line breakdown.",
    "billing_cycle_change": "Changing the cycle prorates this invoice; here is the new date.",
    "payouts_launch": "Payouts release after verification; set the bank account in Payouts.",
}
WRONG_ANSWER = "Your billing looks up to date and there is nothing to do."
GENERIC_WRONG = "Please try again later or check the help centre for more information."

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip
PLANS = ("Starter", "Pro", "Business", "Enterprise")
APPS = ("Salesforce", "HubSpot", "Slack", "Zendesk", "Shopify", "Xero")

_KIND_EASY, _KIND_HIDDEN, _KIND_COMPLEX, _KIND_LAUNCH = 0, 1, 2, 3


@lru_cache(maxsize=8)
def _centroids(dim: int, seed: int, hidden_similarity: float) -> npt.NDArray[np.float32]:
    """Topic centroids (one unit row per topic in ``ALL_TOPICS`` order), fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((len(ALL_TOPICS), dim))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    billing = c[ALL_TOPICS.index("billing_status")]
    for topic in HIDDEN_TOPICS:
        i = ALL_TOPICS.index(topic)
        own = c[i] - (c[i] @ billing) * billing  # part orthogonal to billing
        own /= np.linalg.norm(own)
        s = hidden_similarity
        c[i] = s * billing + math.sqrt(max(0.0, 1.0 - s * s)) * own
    return c.astype(np.float32)


@dataclass(frozen=True)
class DayBatch:
    """One simulated day: arrays of length n (row i is answer i), feedback as index arrays.

    ``correct``, ``hidden_intent``, ``launch`` and ``topic`` are ground truth: they go to
    ``truth.jsonl``, never into the response records.
    """

    scenario: Scenario
    day: int
    ids: StrArray
    timestamps: StrArray  # RFC 3339 UTC, millisecond precision
    query: list[str]
    response: list[str]
    tier: StrArray
    model: StrArray
    router_label: StrArray
    router_confidence: FloatArray
    embedding: npt.NDArray[np.float32]
    auto_score: FloatArray
    segment: StrArray
    cost_usd: FloatArray
    latency_ms: FloatArray
    shadow: BoolArray
    topic: StrArray
    correct: BoolArray
    hidden_intent: BoolArray
    launch: BoolArray
    feedback_index: npt.NDArray[np.int64]
    feedback_kind: StrArray
    feedback_timestamps: StrArray

    def __len__(self) -> int:
        return len(self.ids)

    def response_records(
        self, *, embeddings: bool = True, digits: int = 5
    ) -> Iterator[dict[str, Any]]:
        """Yield response.schema.json records; embeddings rounded to ``digits`` decimals."""
        emb = np.round(self.embedding.astype(np.float64), digits) if embeddings else None
        for i in range(len(self.ids)):
            rec: dict[str, Any] = {
                "id": str(self.ids[i]),
                "timestamp": str(self.timestamps[i]),
                "query": self.query[i],
                "response": self.response[i],
                "tier": str(self.tier[i]),
                "model": str(self.model[i]),
                "router_label": str(self.router_label[i]),
                "router_confidence": round(float(self.router_confidence[i]), 6),
                "auto_score": round(float(self.auto_score[i]), 6),
                "segment": str(self.segment[i]),
                "cost_usd": round(float(self.cost_usd[i]), 7),
                "latency_ms": round(float(self.latency_ms[i]), 1),
            }
            if emb is not None:
                rec["embedding"] = emb[i].tolist()
            if self.shadow[i]:
                rec["shadow"] = {
                    "model": self.scenario.capable_model,
                    "response": ANSWER_TEMPLATES[str(self.topic[i])],
                }
            yield rec

    def feedback_records(self) -> Iterator[dict[str, Any]]:
        """Yield feedback.schema.json records (with a stable event id)."""
        for j, i in enumerate(self.feedback_index.tolist()):
            yield {
                "id": f"{self.ids[i]}-fb{j}",
                "response_id": str(self.ids[i]),
                "timestamp": str(self.feedback_timestamps[j]),
                "kind": str(self.feedback_kind[j]),
            }

    def truth_records(self) -> Iterator[dict[str, Any]]:
        """Yield ground-truth records, kept apart from the responses."""
        for i in range(len(self.ids)):
            yield {
                "id": str(self.ids[i]),
                "correct": bool(self.correct[i]),
                "hidden_intent": bool(self.hidden_intent[i]),
                "launch": bool(self.launch[i]),
                "topic": str(self.topic[i]),
                "day": self.day,
            }


def _beta(rng: np.random.Generator, ab: tuple[float, float], n: int) -> FloatArray:
    return rng.beta(ab[0], ab[1], size=n)


def _embeddings(
    scenario: Scenario, topic_idx: npt.NDArray[np.intp], rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    dim = scenario.embedding_dim
    cents = _centroids(dim, scenario.embedding_seed, scenario.hidden_billing_similarity)
    noise = rng.standard_normal((len(topic_idx), dim), dtype=np.float32)
    noise *= np.float32(scenario.embedding_noise / math.sqrt(dim))
    noise += cents[topic_idx]
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return noise


def _texts(topics: npt.NDArray[np.intp], rng: np.random.Generator) -> list[str]:
    n = len(topics)
    tmpl = rng.integers(0, 4, n).tolist()
    inv = rng.integers(10_000, 99_999, n).tolist()
    order = rng.integers(100_000, 999_999, n).tolist()
    amount = (rng.integers(5, 2_000, n) + rng.integers(0, 100, n) / 100).tolist()
    month = rng.integers(0, 12, n).tolist()
    dom = rng.integers(1, 29, n).tolist()
    plan = rng.integers(0, len(PLANS), n).tolist()
    app = rng.integers(0, len(APPS), n).tolist()
    count = rng.choice([500, 1000, 5000, 10000, 30000], n).tolist()
    tlist = topics.tolist()
    out = []
    for i in range(n):
        out.append(
            QUERY_TEMPLATES[ALL_TOPICS[tlist[i]]][tmpl[i]].format(
                inv=f"INV-{inv[i]}",
                order=f"#{order[i]}",
                amount=f"${amount[i]:.2f}",
                month=MONTHS[month[i]],
                dom=dom[i],
                plan=PLANS[plan[i]],
                app=APPS[app[i]],
                count=count[i],
            )
        )
    return out


def _draw_traffic(
    scenario: Scenario, n: int, h_share: float, l_share: float, rng: np.random.Generator
) -> tuple[BoolArray, npt.NDArray[np.int8], npt.NDArray[np.intp], FloatArray]:
    """Tier (True = cheap), kind, topic index and router confidence for ``n`` queries."""
    cheap = rng.random(n) < scenario.cheap_share
    u = rng.random(n)
    kind = np.where(cheap, _KIND_EASY, _KIND_COMPLEX).astype(np.int8)
    # cheap tier: hidden with prob h; launch with prob (1-h)*L; else easy.
    kind[cheap & (u < h_share)] = _KIND_HIDDEN
    kind[cheap & (u >= h_share) & (u < h_share + (1 - h_share) * l_share)] = _KIND_LAUNCH
    kind[~cheap & (u < l_share)] = _KIND_LAUNCH
    sub = rng.integers(0, 12, n)  # topic within the kind's topic list (modulo its length)
    topic = np.empty(n, dtype=np.intp)
    base = {
        _KIND_EASY: (0, len(EASY_TOPICS)),
        _KIND_COMPLEX: (len(EASY_TOPICS), len(COMPLEX_TOPICS)),
        _KIND_HIDDEN: (len(EASY_TOPICS) + len(COMPLEX_TOPICS), len(HIDDEN_TOPICS)),
        _KIND_LAUNCH: (len(ALL_TOPICS) - 1, 1),
    }
    conf_params = {
        _KIND_EASY: scenario.confidence_easy,
        _KIND_HIDDEN: scenario.confidence_hidden,
        _KIND_COMPLEX: scenario.confidence_complex,
        _KIND_LAUNCH: scenario.confidence_launch,
    }
    conf = np.empty(n)
    for k, (offset, count) in base.items():
        m = kind == k
        topic[m] = offset + sub[m] % count
        conf[m] = _beta(rng, conf_params[k], int(m.sum()))
    return cheap, kind, topic, conf


def _rfc3339(day_start: np.datetime64, seconds: FloatArray) -> StrArray:
    ts = day_start + (seconds * 1000).astype("timedelta64[ms]")
    return np.char.add(np.datetime_as_string(ts, unit="ms"), "Z")


def simulate_day(
    scenario: Scenario, day: int, rng: np.random.Generator, per_day: int | None = None
) -> DayBatch:
    """Simulate one day of production traffic (vectorised; see the module docstring).

    ``per_day`` overrides ``scenario.answers_per_day``. ``rng`` supplies all randomness; the
    topic centroids depend only on ``scenario.embedding_seed``.
    """
    s = scenario
    n = s.answers_per_day if per_day is None else per_day
    cheap, kind, topic, conf = _draw_traffic(s, n, hidden_share(s, day), launch_share(s, day), rng)
    hidden = kind == _KIND_HIDDEN
    launch = kind == _KIND_LAUNCH

    acc = np.where(cheap, s.cheap_accuracy_easy, s.capable_accuracy)
    acc[hidden] = s.cheap_accuracy_hidden
    acc[launch & cheap] = s.cheap_accuracy_launch
    acc[launch & ~cheap] = s.capable_accuracy_launch
    correct = rng.random(n) < acc

    auto = np.where(correct, _beta(rng, s.judge_correct, n), _beta(rng, s.judge_wrong, n))
    fooled = hidden & ~correct & (rng.random(n) < s.judge_fooled_share)
    auto[fooled] = _beta(rng, s.judge_fooled, int(fooled.sum()))

    embedding = _embeddings(s, topic, rng)
    query = _texts(topic, rng)
    topic_names = np.array(ALL_TOPICS)[topic]
    response = [
        ANSWER_TEMPLATES[t] if ok else (WRONG_ANSWER if h else GENERIC_WRONG)
        for t, ok, h in zip(topic_names.tolist(), correct.tolist(), hidden.tolist(), strict=True)
    ]

    seconds = np.sort(rng.random(n) * 86_400.0)
    day_start = np.datetime64(date.fromisoformat(s.start_date) + timedelta(days=day), "ms")
    ids = np.char.add(f"{s.name}-d{day:03d}-", np.char.zfill(np.arange(n).astype(str), 6))

    tier = np.where(cheap, "cheap", "capable")
    model = np.where(cheap, s.cheap_model, s.capable_model)
    router_label = np.where(cheap, "simple", "complex")
    weights = np.asarray(s.segment_weights, dtype=float)
    segment = np.asarray(s.segments)[rng.choice(len(weights), n, p=weights / weights.sum())]
    unit_cost = np.where(cheap, s.capable_cost_usd * s.cheap_cost_ratio, s.capable_cost_usd)
    cost = unit_cost * rng.lognormal(0.0, 0.25, n)
    latency = np.where(cheap, s.latency_cheap_ms, s.latency_capable_ms) * rng.lognormal(
        0.0, s.latency_sigma, n
    )
    shadow = cheap & (rng.random(n) < s.shadow_share)

    # Feedback: independent sparse events per answer; thumbs within minutes, handoffs hours.
    idx_parts, kind_parts, delay_parts = [], [], []
    for name, p_wrong, p_right, mean_delay in (
        ("thumbs_down", s.thumbs_down_wrong, s.thumbs_down_correct, 120.0),
        ("thumbs_up", s.thumbs_up_wrong, s.thumbs_up_correct, 120.0),
        ("handoff", s.handoff_wrong, s.handoff_correct, 3 * 3600.0),
    ):
        hit = np.flatnonzero(rng.random(n) < np.where(correct, p_right, p_wrong))
        idx_parts.append(hit)
        kind_parts.append(np.full(len(hit), name))
        delay_parts.append(rng.exponential(mean_delay, len(hit)))
    fb_index = np.concatenate(idx_parts).astype(np.int64)
    fb_seconds = seconds[fb_index] + np.concatenate(delay_parts)
    order = np.argsort(fb_seconds, kind="stable")

    return DayBatch(
        scenario=s,
        day=day,
        ids=ids,
        timestamps=_rfc3339(day_start, seconds),
        query=query,
        response=response,
        tier=tier,
        model=model,
        router_label=router_label,
        router_confidence=conf,
        embedding=embedding,
        auto_score=auto,
        segment=segment,
        cost_usd=cost,
        latency_ms=latency,
        shadow=shadow,
        topic=topic_names,
        correct=correct,
        hidden_intent=hidden,
        launch=launch,
        feedback_index=fb_index[order],
        feedback_kind=np.concatenate(kind_parts)[order],
        feedback_timestamps=_rfc3339(day_start, fb_seconds[order]),
    )


def simulate(
    scenario: Scenario, days: int | None = None, per_day: int | None = None, seed: int = 0
) -> Iterator[DayBatch]:
    """Stream days 0 .. days-1, one ``DayBatch`` at a time (never all in memory).

    Day d uses ``np.random.default_rng([seed, d])``, so day d is the same whether it is
    generated alone or within a stream.
    """
    for day in range(scenario.days if days is None else days):
        yield simulate_day(scenario, day, np.random.default_rng([seed, day]), per_day)


@dataclass(frozen=True)
class ReferenceSet:
    """Queries from the pre-launch distribution (day 0: no hidden intents, no launch)."""

    query: list[str]
    router_label: StrArray
    router_confidence: FloatArray
    embedding: npt.NDArray[np.float32]
    tier: StrArray

    def records(self, *, digits: int = 5) -> Iterator[dict[str, Any]]:
        """Yield reference.schema.json records."""
        emb = np.round(self.embedding.astype(np.float64), digits)
        for i in range(len(self.query)):
            yield {
                "query": self.query[i],
                "router_label": str(self.router_label[i]),
                "router_confidence": round(float(self.router_confidence[i]), 6),
                "embedding": emb[i].tolist(),
            }


def reference_set(scenario: Scenario, n: int = 20_000, seed: int = 0) -> ReferenceSet:
    """Draw ``n`` reference queries from the distribution the router was trained on.

    Same generator as day 0 of production with hidden share and launch share forced to 0,
    and an independent random stream (``default_rng([seed, -1 mod 2**32])``).
    """
    rng = np.random.default_rng([seed, 2**32 - 1])
    cheap, _kind, topic, conf = _draw_traffic(scenario, n, 0.0, 0.0, rng)
    return ReferenceSet(
        query=_texts(topic, rng),
        router_label=np.where(cheap, "simple", "complex"),
        router_confidence=conf,
        embedding=_embeddings(scenario, topic, rng),
        tier=np.where(cheap, "cheap", "capable"),
    )


def oracle_verdicts(
    correct: BoolArray,
    error_rate: float = 0.0,
    rng: np.random.Generator | None = None,
    *,
    sensitivity: float | None = None,
    specificity: float | None = None,
) -> BoolArray:
    """A simulated human reviewer's verdicts (True = "the answer is correct").

    With only ``error_rate``, each verdict is flipped independently with that probability.
    ``sensitivity`` = P(verdict correct | truly correct) and ``specificity`` = P(verdict wrong
    | truly wrong) override it per class, the convention of the Rogan–Gladen correction
    (A_obs + Sp − 1)/(Se + Sp − 1) (Rogan & Gladen 1978).
    """
    rng = np.random.default_rng() if rng is None else rng
    correct = np.asarray(correct, dtype=bool)
    se = 1.0 - error_rate if sensitivity is None else sensitivity
    sp = 1.0 - error_rate if specificity is None else specificity
    keep = np.where(correct, se, sp)
    flip = rng.random(correct.shape) >= keep
    return correct ^ flip


def _write_jsonl(fh: Any, records: Iterator[dict[str, Any]]) -> int:
    count = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for rec in records:
        fh.write(dumps(rec))
        fh.write("\n")
        count += 1
    return count


def write_scenario(
    out_dir: str | Path,
    scenario: Scenario | str = "seed",
    *,
    days: int | None = None,
    per_day: int | None = None,
    seed: int = 0,
    reference_n: int = 20_000,
    embeddings: bool = True,
) -> dict[str, int]:
    """Write responses.jsonl, feedback.jsonl, reference.jsonl and truth.jsonl to ``out_dir``.

    Streams day by day. Returns the number of records written per file.
    """
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"responses": 0, "feedback": 0, "reference": 0, "truth": 0}
    with (
        (out / "responses.jsonl").open("w", encoding="utf-8") as fr,
        (out / "feedback.jsonl").open("w", encoding="utf-8") as ff,
        (out / "truth.jsonl").open("w", encoding="utf-8") as ft,
    ):
        for batch in simulate(sc, days, per_day, seed):
            counts["responses"] += _write_jsonl(fr, batch.response_records(embeddings=embeddings))
            counts["feedback"] += _write_jsonl(ff, batch.feedback_records())
            counts["truth"] += _write_jsonl(ft, batch.truth_records())
    with (out / "reference.jsonl").open("w", encoding="utf-8") as fref:
        counts["reference"] = _write_jsonl(fref, reference_set(sc, reference_n, seed).records())
    return counts
