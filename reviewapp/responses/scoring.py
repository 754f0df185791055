"""Scores that stratification needs, computed per ingest batch: uncertainty and OOD distance.

The maths is in sampling/ood.py; this module only reads arrays from the database, calls it,
and writes the results back, in blocks so memory stays bounded whatever the backlog.
"""

from __future__ import annotations

import hashlib
import io
import logging

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from sampling.ood import (
    KnnReference,
    TextVectoriser,
    fit_knn_reference,
    fit_text_vectoriser,
    ood_scores,
    uncertainty,
)

from .models import ReferenceRecord, ReferenceSet, Response, Source

logger = logging.getLogger(__name__)

SCORE_BLOCK = 20_000


class FittedReference:
    """A reference set ready to score against: by embedding, or by text when a source sends no
    embeddings (the vectoriser is fitted on the reference's queries)."""

    def __init__(self, knn: KnnReference, vectoriser: TextVectoriser | None) -> None:
        self.knn = knn
        self.vectoriser = vectoriser


def _reference_version(reference_set: ReferenceSet) -> str:
    ids = ReferenceRecord.objects.filter(reference_set=reference_set).values_list(
        "content_hash", flat=True
    )
    digest = hashlib.blake2b(digest_size=16)
    for content_hash in ids.order_by("content_hash").iterator(chunk_size=10_000):
        digest.update(content_hash.encode())
    return digest.hexdigest()


def reference_fit(*, reference_set: ReferenceSet, by_text: bool) -> FittedReference | None:
    """Fit (or load the cached fit of) the OOD reference; None when the set is empty."""
    version = f"{'text' if by_text else 'emb'}:{_reference_version(reference_set)}"
    if reference_set.fitted and reference_set.fitted_version == version:
        arrays = dict(np.load(io.BytesIO(bytes(reference_set.fitted))))
        knn = KnnReference(
            embeddings=arrays.pop("knn_embeddings"),
            loo_distances=arrays.pop("knn_loo"),
            k=int(arrays.pop("knn_k")),
        )
        vectoriser = TextVectoriser.from_arrays(arrays) if by_text else None
        return FittedReference(knn, vectoriser)
    records = ReferenceRecord.objects.filter(reference_set=reference_set)
    if by_text:
        texts = list(records.values_list("query", flat=True))
        if len(texts) < 2:
            return None
        vectoriser = fit_text_vectoriser(texts)
        embeddings = vectoriser.transform(texts)
    else:
        blobs = [
            bytes(b) for b in records.exclude(embedding=None).values_list("embedding", flat=True)
        ]
        if len(blobs) < 2:
            return None
        vectoriser = None
        embeddings = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), -1)
    knn = fit_knn_reference(embeddings, k=min(10, len(embeddings) - 1))
    buffer = io.BytesIO()
    np.savez(
        buffer,
        knn_embeddings=knn.embeddings,
        knn_loo=knn.loo_distances,
        knn_k=np.asarray(knn.k),
        **(vectoriser.to_arrays() if vectoriser else {}),
    )
    ReferenceSet.objects.filter(pk=reference_set.pk).update(
        fitted=buffer.getvalue(), fitted_version=version
    )
    return FittedReference(knn, vectoriser)


def _reference_for(source: Source) -> ReferenceSet | None:
    if source.reference_set_id:
        return source.reference_set
    return ReferenceSet.objects.filter(name=source.name).first()


def responses_score(*, source_id: int) -> int:
    """Score every response of the source not scored yet; returns how many were scored.

    Idempotent and resumable: a block is committed with its scores, and only rows without
    `scored_at` are read, so a retried or concurrent run does no harm.
    """
    source = Source.objects.get(pk=source_id)
    reference_set = _reference_for(source)
    fits: dict[bool, FittedReference | None] = {}
    scored = 0
    last_pk = 0
    while True:
        block = list(
            Response.objects.filter(source=source, scored_at__isnull=True, pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "router_confidence", "self_confidence", "embedding", "query")[
                :SCORE_BLOCK
            ]
        )
        if not block:
            return scored
        last_pk = block[-1][0]
        pks = np.fromiter((row[0] for row in block), dtype=np.int64, count=len(block))
        # A cascade's own confidence is what decided escalation; otherwise the router's.
        confidence = np.array(
            [row[2] if row[2] is not None else row[1] for row in block], dtype=np.float64
        )
        uncertainty_values = uncertainty(confidence)
        distance = np.full(len(block), np.nan)
        percentile = np.full(len(block), np.nan)
        if reference_set is not None:
            with_embedding = np.array([row[3] is not None for row in block])
            for by_text, mask in ((False, with_embedding), (True, ~with_embedding)):
                if not mask.any():
                    continue
                if by_text not in fits:
                    fits[by_text] = reference_fit(reference_set=reference_set, by_text=by_text)
                fit = fits[by_text]
                if fit is None:
                    continue
                rows = [row for row, keep in zip(block, mask, strict=True) if keep]
                if by_text:
                    assert fit.vectoriser is not None
                    queries = fit.vectoriser.transform([row[4] for row in rows])
                else:
                    queries = np.frombuffer(
                        b"".join(bytes(row[3]) for row in rows), dtype="<f4"
                    ).reshape(len(rows), -1)
                    if queries.shape[1] != fit.knn.embeddings.shape[1]:
                        logger.warning(
                            "source %s: embeddings have %s dims, reference %s has %s; "
                            "OOD left empty",
                            source.name,
                            queries.shape[1],
                            reference_set.name,
                            fit.knn.embeddings.shape[1],
                        )
                        continue
                distance[mask], percentile[mask] = ood_scores(fit.knn, queries)
        _store_scores(pks, uncertainty_values, distance, percentile)
        scored += len(block)


def _store_scores(
    pks: np.ndarray, uncertainty_values: np.ndarray, distance: np.ndarray, percentile: np.ndarray
) -> None:
    now = timezone.now()

    def clean(values: np.ndarray) -> list[float | None]:
        return [None if np.isnan(v) else float(v) for v in values]

    columns = [pks.tolist(), clean(uncertainty_values), clean(distance), clean(percentile)]
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Lock the block's rows in the order an ingest upsert locks them (source, then
                # external id; see _ResponseWriter._write_postgres) before updating: a push
                # re-sending rows this block scores would otherwise take them in one order and
                # this UPDATE in another, and each could wait for the other.
                cursor.execute(
                    """
                    SELECT id FROM responses_response WHERE id = ANY(%s::bigint[])
                    ORDER BY source_id, external_id FOR NO KEY UPDATE
                    """,
                    [columns[0]],
                )
                cursor.execute(
                    """
                    UPDATE responses_response AS r
                    SET uncertainty = v.u, ood_distance = v.d, ood_percentile = v.p,
                        scored_at = %s
                    FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::float8[])
                        AS v(id, u, d, p)
                    WHERE r.id = v.id
                    """,
                    [now, *columns],
                )
            return
        # SQLite: executemany of a prepared UPDATE is far faster than bulk_update's CASE WHEN.
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE responses_response SET uncertainty = %s, ood_distance = %s, "
                "ood_percentile = %s, scored_at = %s WHERE id = %s",
                [(u, d, p, now, pk) for pk, u, d, p in zip(*columns, strict=True)],
            )
