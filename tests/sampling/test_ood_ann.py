"""OOD scoring with an index: the exact cluster-pruned search and faiss HNSW vs brute force."""

from __future__ import annotations

import numpy as np
import pytest

from sampling.ood import (
    AUTO_PRUNED_MIN_REFERENCE,
    fit_knn_reference,
    knn_similarities,
    ood_scores,
)


def _clustered(n: int, dim: int, seed: int, n_topics: int = 8) -> np.ndarray:
    """Unit vectors around random topic centroids, plus a few far-away points."""
    rng = np.random.default_rng(seed)
    cents = rng.standard_normal((n_topics, dim))
    cents /= np.linalg.norm(cents, axis=1, keepdims=True)
    topic = rng.integers(0, n_topics, n)
    x = cents[topic] + 0.6 * rng.standard_normal((n, dim)) / np.sqrt(dim)
    far = rng.random(n) < 0.05
    x[far] = rng.standard_normal((int(far.sum()), dim))
    return x.astype(np.float32)


REF = _clustered(3000, 32, seed=0)
QUERIES = _clustered(1500, 32, seed=1)


def _recall(top: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean(top >= exact[:, -1:] - 1e-6))


@pytest.fixture(scope="module")
def exact_scores() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ref = fit_knn_reference(REF)
    d, pct = ood_scores(ref, QUERIES)
    return d, pct, knn_similarities(ref, QUERIES)


def test_pruned_search_equals_brute_force(exact_scores: tuple[np.ndarray, ...]) -> None:
    d0, p0, top0 = exact_scores
    for n_lists in (None, 1, 7, 40):
        ref = fit_knn_reference(REF, method="pruned", n_lists=n_lists)
        d, pct = ood_scores(ref, QUERIES, block_bytes=4 * 2**16)  # several blocks
        np.testing.assert_allclose(d, d0, atol=2e-6)
        assert np.abs(pct - p0).mean() < 0.01
        np.testing.assert_allclose(knn_similarities(ref, QUERIES), top0, atol=2e-6)


def test_hnsw_agrees_with_exact(exact_scores: tuple[np.ndarray, ...]) -> None:
    _d0, p0, top0 = exact_scores
    ref = fit_knn_reference(REF, method="hnsw", ef_search=256)
    _d, pct = ood_scores(ref, QUERIES)
    assert np.abs(pct - p0).mean() < 1.0
    assert _recall(knn_similarities(ref, QUERIES), top0) > 0.95
    # Forcing brute force on the same reference gives the exact answer back.
    np.testing.assert_allclose(knn_similarities(ref, QUERIES, method="exact"), top0, atol=1e-6)


@pytest.mark.parametrize("method", ["pruned", "hnsw"])
def test_index_is_deterministic(method: str) -> None:
    a = fit_knn_reference(REF, method=method)  # type: ignore[arg-type]
    b = fit_knn_reference(REF, method=method)  # type: ignore[arg-type]
    np.testing.assert_array_equal(ood_scores(a, QUERIES)[0], ood_scores(b, QUERIES)[0])


def test_methods_share_leave_one_out_distances_and_auto_switches() -> None:
    exact = fit_knn_reference(REF)
    pruned = fit_knn_reference(REF, method="pruned")
    np.testing.assert_array_equal(exact.loo_distances, pruned.loo_distances)
    assert exact.method == "exact" and exact.index is None
    assert fit_knn_reference(REF, method="auto").method == "exact"
    big = _clustered(AUTO_PRUNED_MIN_REFERENCE, 8, seed=2)
    assert fit_knn_reference(big, method="auto").method == "pruned"
    with pytest.raises(ValueError):
        fit_knn_reference(REF, method="bogus")  # type: ignore[arg-type]
