"""Uncertainty and out-of-distribution (OOD) scores, and a local text vectoriser.

- Uncertainty of a response is ``1 − confidence`` (the router's, or the serving model's own
  in a cascade).
- OOD distance follows Sun, Ming, Zhu & Li (2022), "Out-of-Distribution Detection with Deep
  Nearest Neighbors" (ICML): the k-th nearest-neighbour distance of the L2-normalised query
  embedding to the L2-normalised reference embeddings, here as cosine distance
  ``1 − cos`` (k = 10 by default). It is reported as a percentile of the reference's own k-NN
  distances computed leave-one-out, so "p99" means "farther than 99 % of training traffic".
  Assumptions: the reference is a sample of the in-distribution traffic, and the embeddings
  carry the notion of similarity the router relied on. Computation is exact (brute force),
  float32, in blocks of queries so that memory stays bounded by ``block_bytes``; a fitted
  reference may instead carry an index (``fit_knn_reference(method=...)``): ``"pruned"``,
  still exact, skips the spherical k-means lists (faiss) whose bounding cone cannot hold a
  neighbour; ``"hnsw"`` is faiss's approximate graph search (Malkov & Yashunin 2018).
- Records without embeddings are embedded by ``TextVectoriser``: character 3–5-grams of the
  lower-cased text, hashed into ``n_features`` buckets with a fixed polynomial hash over
  Unicode code points finished by the SplitMix64 mixer (Steele, Lea & Flood 2014) — stable
  across processes and platforms, unlike Python's salted ``hash()`` — weighted by sublinear
  TF × smoothed IDF (as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``), reduced by a
  truncated SVD fitted on the reference (latent semantic analysis, Deerwester et al. 1990)
  and L2-normalised. Fitting is deterministic; a fitted vectoriser is plain arrays.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.linalg import svds

__all__ = [
    "KnnReference",
    "Method",
    "TextVectoriser",
    "fit_knn_reference",
    "fit_text_vectoriser",
    "knn_distance",
    "knn_similarities",
    "l2_normalise",
    "ood_scores",
    "uncertainty",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

DEFAULT_K = 10
DEFAULT_BLOCK_BYTES = 64 * 2**20


def uncertainty(confidence: npt.ArrayLike) -> F64:
    """``1 − confidence``; confidence is a probability in [0, 1] (NaN stays NaN)."""
    return 1.0 - np.asarray(confidence, dtype=np.float64)


def l2_normalise(x: npt.ArrayLike) -> F32:
    """Rows scaled to unit L2 norm, as float32. All-zero rows stay zero."""
    a = np.array(x, dtype=np.float32, copy=True, ndmin=2)
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    a /= norms
    return a


def _kth_largest_sims(
    queries: F32, reference: F32, k: int, block_bytes: int, exclude_self: bool = False
) -> F32:
    """k-th largest cosine similarity of each (normalised) query row against the reference.

    Blocks of queries are multiplied by the transposed reference (BLAS sgemm); the k-th
    largest similarity per row is found with ``np.partition`` (linear time). With
    ``exclude_self``, query i is reference row i and its own similarity is ignored.
    """
    n_ref = reference.shape[0]
    if not 1 <= k <= n_ref - (1 if exclude_self else 0):
        raise ValueError(f"k={k} needs more reference points (have {n_ref})")
    ref_t = np.ascontiguousarray(reference.T)
    block = max(1, block_bytes // (4 * n_ref))
    out = np.empty(queries.shape[0], dtype=np.float32)
    for start in range(0, queries.shape[0], block):
        stop = min(start + block, queries.shape[0])
        sims = queries[start:stop] @ ref_t
        if exclude_self:
            rows = np.arange(stop - start)
            sims[rows, rows + start] = -np.inf
        out[start:stop] = _kth_largest_rows(sims, k)
    return out


_GROUP = 16


def _kth_largest_rows(sims: F32, k: int) -> F32:
    """k-th largest value of each row, exactly.

    Short rows: ``np.partition``. Long rows: split the columns into groups (column j goes to
    group j mod G, G = n // 16) and take each group's maximum with one vectorised pass. The
    k groups with the largest maxima contain the row's k largest values: any value at least
    the k-th largest is at least the k-th largest group maximum, so its group is among those
    k (ties at that maximum can only hold equal values). Partitioning those 16·k values
    (plus the n mod 16 leftover columns) is far cheaper than partitioning the whole row.
    """
    b, n = sims.shape
    n_groups = n // _GROUP
    if n_groups < 4 * k:
        # k-th largest = element at position n − k in ascending order.
        return np.partition(sims, n - k, axis=1)[:, n - k]
    m = n_groups * _GROUP
    grouped = sims[:, :m].reshape(b, _GROUP, n_groups)
    gmax = grouped.max(axis=1)
    top = np.argpartition(gmax, n_groups - k, axis=1)[:, n_groups - k :]
    cand = np.take_along_axis(grouped, top[:, None, :], axis=2).reshape(b, _GROUP * k)
    if m < n:
        cand = np.concatenate([cand, sims[:, m:]], axis=1)
    c = cand.shape[1]
    result: F32 = np.partition(cand, c - k, axis=1)[:, c - k]
    return result


def knn_distance(
    queries: npt.ArrayLike,
    reference: npt.ArrayLike,
    k: int = DEFAULT_K,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> F32:
    """Cosine distance ``1 − cos`` from each query to its k-th nearest reference point.

    Both inputs are L2-normalised here (pass raw embeddings). Exact, float32, memory bounded
    by about ``block_bytes`` for the similarity block.
    """
    q = l2_normalise(queries)
    r = l2_normalise(reference)
    return np.float32(1.0) - _kth_largest_sims(q, r, k, block_bytes)


Method = Literal["exact", "pruned", "hnsw", "auto"]

#: ``method="auto"`` uses ``"pruned"`` from this many reference points on, ``"exact"`` below
#: (below it the cluster index's bookkeeping costs more than the brute-force product saves).
AUTO_PRUNED_MIN_REFERENCE = 5_000
PRUNE_MARGIN = 1e-4  # slack added to the pruning bounds against float32 rounding


def _threads() -> int:
    """Threads for faiss: the CPUs this process may use (2 on the project's machines)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _faiss() -> Any:
    """Import faiss lazily (only the ANN / clustering paths need it), untyped."""
    import faiss  # type: ignore[import-untyped, unused-ignore]

    return faiss


@dataclass(frozen=True)
class _ClusterIndex:
    """Reference rows grouped by spherical k-means list, with a cone per list.

    List j holds ``members[offsets[j]:offsets[j+1]]``; every member x satisfies
    ``angle(x, directions[j]) ≤ θ_j`` with ``cos θ_j = cos_max[j]``, ``sin θ_j = sin_max[j]``.
    """

    directions: F32  # (n_lists, d), unit rows
    cos_max: F32
    sin_max: F32
    members: F32  # (n, d), reference rows sorted by list
    offsets: npt.NDArray[np.int64]  # (n_lists + 1,)

    def upper_bounds(self, sims_to_directions: F32) -> F32:
        """Largest possible cosine between a unit query and any member of each list.

        With α the query's angle to the list direction, no member is closer than
        ``max(0, α − θ_j)``, so cos ≤ 1 if α ≤ θ_j else ``cos α cos θ_j + sin α sin θ_j``.
        """
        a = np.clip(sims_to_directions, -1.0, 1.0)
        sin_a = np.sqrt(np.maximum(0.0, 1.0 - a * a))
        ub = np.where(a >= self.cos_max, 1.0, a * self.cos_max + sin_a * self.sin_max)
        return (ub + PRUNE_MARGIN).astype(np.float32)


def _fit_cluster_index(r: F32, n_lists: int | None, seed: int) -> _ClusterIndex:
    n, d = r.shape
    n_lists = n_lists or max(1, int(round(np.sqrt(n) / 2)))
    n_lists = max(1, min(n_lists, n // 40 or 1))
    faiss = _faiss()
    faiss.omp_set_num_threads(1)  # single-threaded training: bitwise reproducible
    try:
        km = faiss.Kmeans(d, n_lists, niter=20, seed=seed, spherical=True, verbose=False)
        km.cp.min_points_per_centroid = 1
        km.train(np.ascontiguousarray(r))
        cents = np.asarray(km.centroids, dtype=np.float32)
    finally:
        faiss.omp_set_num_threads(_threads())
    cents = l2_normalise(cents)
    # Assign by exact argmax (numpy), so the cones hold whatever faiss did internally.
    assign = np.empty(n, dtype=np.int64)
    block = max(1, DEFAULT_BLOCK_BYTES // (4 * n_lists))
    for start in range(0, n, block):
        assign[start : start + block] = np.argmax(r[start : start + block] @ cents.T, axis=1)
    order = np.argsort(assign, kind="stable")
    counts = np.bincount(assign, minlength=n_lists)
    keep = counts > 0
    members = np.ascontiguousarray(r[order])
    offsets = np.concatenate([[0], np.cumsum(counts[keep])]).astype(np.int64)
    cents = cents[keep]
    cos_min = np.empty(len(cents), dtype=np.float32)
    for j in range(len(cents)):
        lo, hi = offsets[j], offsets[j + 1]
        cos_min[j] = float(np.min(members[lo:hi] @ cents[j]))
    # Widen each cone a little: the bound must hold despite float32 rounding.
    theta = np.minimum(np.arccos(np.clip(cos_min, -1.0, 1.0)) + 1e-3, np.pi)
    return _ClusterIndex(
        directions=np.ascontiguousarray(cents),
        cos_max=np.cos(theta).astype(np.float32),
        sin_max=np.sin(theta).astype(np.float32),
        members=members,
        offsets=offsets,
    )


def _merge_topk(top: F32, sims: F32, k: int) -> F32:
    cand = np.concatenate([top, sims], axis=1)
    c = cand.shape[1]
    merged: F32 = np.partition(cand, c - k, axis=1)[:, c - k :]
    return merged


def _pruned_topk(queries: F32, index: _ClusterIndex, k: int, block_bytes: int) -> F32:
    """The k largest cosines of each query against the reference, exactly, unsorted.

    Each query first scans the list whose direction is closest; then every other list whose
    upper bound (``_ClusterIndex.upper_bounds``) exceeds the query's current k-th largest
    cosine. A skipped list cannot hold a value above the final k-th largest, so the result
    equals brute force (up to float32 rounding of the products). Queries are processed in
    groups per list so that each scan is one matrix product.
    """
    nq = queries.shape[0]
    n_lists = index.directions.shape[0]
    offs = index.offsets
    out = np.empty((nq, k), dtype=np.float32)
    block = max(1, min(nq, block_bytes // (4 * max(n_lists, 1) * 4)))

    def scan(top: F32, kth: F32, qb: F32, rows: npt.NDArray[np.intp], j: int) -> None:
        mem = index.members[offs[j] : offs[j + 1]]
        step = max(1, block_bytes // (4 * max(1, mem.shape[0])))
        for s in range(0, len(rows), step):
            rr = rows[s : s + step]
            merged = _merge_topk(top[rr], qb[rr] @ mem.T, k)
            top[rr] = merged
            kth[rr] = merged.min(axis=1)

    for start in range(0, nq, block):
        qb = queries[start : start + block]
        b = qb.shape[0]
        a = qb @ index.directions.T
        ub = index.upper_bounds(a)
        first = np.argmax(a, axis=1)
        top = np.full((b, k), -np.inf, dtype=np.float32)
        kth = np.full(b, -np.inf, dtype=np.float32)
        grouped = np.argsort(first, kind="stable")
        cuts = np.searchsorted(first[grouped], np.arange(n_lists + 1))
        for j in range(n_lists):
            if cuts[j] < cuts[j + 1]:
                scan(top, kth, qb, grouped[cuts[j] : cuts[j + 1]], j)
        ub[np.arange(b), first] = -np.inf  # already scanned
        # Then the others, most promising first (by how many queries still need them).
        need = ub > kth[:, None]
        for j in np.argsort(-need.sum(axis=0), kind="stable"):
            rows = np.flatnonzero(ub[:, j] > kth)
            if len(rows):
                scan(top, kth, qb, rows, int(j))
        out[start : start + b] = top
    return out


@dataclass(frozen=True)
class _HnswIndex:
    index: Any  # faiss.IndexHNSWFlat, inner product
    ef_search: int


def _fit_hnsw(r: F32, m: int, ef_construction: int, ef_search: int) -> _HnswIndex:
    faiss = _faiss()
    idx = faiss.IndexHNSWFlat(r.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    idx.hnsw.efConstruction = ef_construction
    faiss.omp_set_num_threads(1)  # parallel insertion order is not reproducible
    try:
        idx.add(np.ascontiguousarray(r))
    finally:
        faiss.omp_set_num_threads(_threads())
    return _HnswIndex(index=idx, ef_search=ef_search)


def _hnsw_topk(queries: F32, h: _HnswIndex, k: int) -> F32:
    faiss = _faiss()
    faiss.omp_set_num_threads(_threads())
    params = faiss.SearchParametersHNSW()
    params.efSearch = max(h.ef_search, k)
    sims, _ids = h.index.search(np.ascontiguousarray(queries), k, params=params)
    out: F32 = np.asarray(sims, dtype=np.float32)
    out[_ids < 0] = -np.inf  # fewer than k found
    return out


@dataclass(frozen=True)
class KnnReference:
    """A fitted OOD reference: normalised embeddings and sorted leave-one-out k-NN distances.

    ``method`` is how ``ood_scores`` searches it (see ``fit_knn_reference``); ``index`` is the
    fitted search structure for ``"pruned"`` and ``"hnsw"`` (None for ``"exact"``).
    """

    embeddings: F32
    loo_distances: F32  # ascending
    k: int = DEFAULT_K
    method: Literal["exact", "pruned", "hnsw"] = "exact"
    index: _ClusterIndex | _HnswIndex | None = field(default=None, repr=False, compare=False)

    def percentile(self, distances: npt.ArrayLike) -> F64:
        """Percent of reference points whose leave-one-out k-NN distance is ≤ ``distances``.

        In [0, 100]; 100 means farther than every reference point.
        """
        d = np.asarray(distances, dtype=np.float32)
        rank = np.searchsorted(self.loo_distances, d, side="right")
        return 100.0 * rank.astype(np.float64) / len(self.loo_distances)


def fit_knn_reference(
    embeddings: npt.ArrayLike,
    k: int = DEFAULT_K,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    method: Method = "exact",
    n_lists: int | None = None,
    hnsw_m: int = 32,
    ef_construction: int = 80,
    ef_search: int = 128,
    seed: int = 0,
) -> KnnReference:
    """Normalise the reference and compute its leave-one-out k-NN distances (O(n²·d)).

    Leave-one-out: a reference point is not its own neighbour (exact duplicates of it still
    count, as they would for a production query). These distances are always exact.

    ``method`` chooses how queries are searched later by ``ood_scores``:

    - ``"exact"`` (default): brute force, one matrix product against the whole reference.
    - ``"pruned"``: also exact (same values up to float32 rounding), but the reference is
      split into ``n_lists`` spherical k-means lists (faiss, seeded, single-threaded;
      default ≈ √n / 2) each bounded by a cone, and a query scans only the lists that could
      hold one of its k nearest neighbours (``_pruned_topk``). Much faster on clustered
      references; no faster than exact for queries far from every cluster.
    - ``"hnsw"``: approximate, faiss ``IndexHNSWFlat`` (inner product; ``hnsw_m`` links,
      ``ef_construction``, ``ef_search``), built single-threaded so the graph is reproducible.
      Measured on the simulator (isotropic noise inside 384-d topic clusters, the hardest case
      for graph search) it needs ef_search ≥ 128 for recall@10 ≈ 0.96 and is then slower
      than exact search; it is kept for references with lower intrinsic dimension.
    - ``"auto"``: ``"pruned"`` from ``AUTO_PRUNED_MIN_REFERENCE`` points on, else
      ``"exact"``.
    """
    r = l2_normalise(embeddings)
    loo = np.float32(1.0) - _kth_largest_sims(r, r, k, block_bytes, exclude_self=True)
    chosen = method
    if chosen == "auto":
        chosen = "pruned" if r.shape[0] >= AUTO_PRUNED_MIN_REFERENCE else "exact"
    index: _ClusterIndex | _HnswIndex | None
    if chosen == "exact":
        index = None
    elif chosen == "pruned":
        index = _fit_cluster_index(r, n_lists, seed)
    elif chosen == "hnsw":
        index = _fit_hnsw(r, hnsw_m, ef_construction, ef_search)
    else:
        raise ValueError(f"unknown method {method!r}")
    return KnnReference(embeddings=r, loo_distances=np.sort(loo), k=k, method=chosen, index=index)


def _exact_topk(q: F32, r: F32, k: int, block_bytes: int) -> F32:
    block = max(1, block_bytes // (4 * r.shape[0]))
    out = np.empty((q.shape[0], k), dtype=np.float32)
    for start in range(0, q.shape[0], block):
        sims = q[start : start + block] @ r.T
        n = sims.shape[1]
        out[start : start + block] = np.partition(sims, n - k, axis=1)[:, n - k :]
    return out


def knn_similarities(
    reference: KnnReference,
    queries: npt.ArrayLike,
    *,
    method: Literal["exact", "reference"] = "reference",
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> F32:
    """The k largest cosine similarities of each query to the reference, descending.

    With ``method="reference"`` the reference's own search (exact, pruned or HNSW) is used;
    ``"exact"`` forces brute force (e.g. to measure an approximate index's recall).
    """
    q = l2_normalise(queries)
    k = reference.k
    if method == "exact" or reference.index is None:
        top = _exact_topk(q, reference.embeddings, k, block_bytes)
    elif isinstance(reference.index, _ClusterIndex):
        top = _pruned_topk(q, reference.index, k, block_bytes)
    else:
        top = _hnsw_topk(q, reference.index, k)
    result: F32 = -np.sort(-top, axis=1)
    return result


def ood_scores(
    reference: KnnReference,
    queries: npt.ArrayLike,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> tuple[F32, F64]:
    """k-NN cosine distance of each query to the reference, and its reference percentile.

    The search is the reference's ``method`` (exact brute force by default).
    """
    q = l2_normalise(queries)
    k = reference.k
    if reference.index is None:
        sims = _kth_largest_sims(q, reference.embeddings, k, block_bytes)
    elif isinstance(reference.index, _ClusterIndex):
        sims = _pruned_topk(q, reference.index, k, block_bytes).min(axis=1)
    else:
        sims = _hnsw_topk(q, reference.index, k)[:, k - 1]
    d = np.float32(1.0) - sims
    return d, reference.percentile(d)


# --- Text vectoriser ----------------------------------------------------------------------

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_PRIME = np.uint64(1_000_003)


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64 finaliser (Steele et al. 2014); numpy uint64 arithmetic wraps modulo 2^64."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _normalise_text(text: str) -> str:
    return " " + " ".join(text.lower().split()) + " "


def _hashed_counts(
    texts: Sequence[str], ngram_range: tuple[int, int], n_features: int
) -> sp.csr_matrix:
    """Sparse (len(texts) × n_features) counts of hashed character n-grams (vectorised)."""
    docs = [_normalise_text(t) for t in texts]
    lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
    # Separators (code point 0) break n-grams between documents.
    joined = "\x00".join(docs)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    doc_of = np.repeat(np.arange(len(docs)), lengths + 1)[: len(cps)]
    is_sep = cps == 0
    rows_parts, cols_parts = [], []
    lo, hi = ngram_range
    for n in range(lo, hi + 1):
        m = len(cps) - n + 1
        if m <= 0:
            continue
        h = np.full(m, np.uint64(n), dtype=np.uint64)
        bad = np.zeros(m, dtype=bool)
        for j in range(n):
            h = h * _PRIME + cps[j : j + m]
            bad |= is_sep[j : j + m]
        keep = ~bad
        buckets = _splitmix64(h[keep]) % np.uint64(n_features)
        rows_parts.append(doc_of[:m][keep])
        cols_parts.append(buckets.astype(np.int64))
    rows = np.concatenate(rows_parts) if rows_parts else np.empty(0, np.int64)
    cols = np.concatenate(cols_parts) if cols_parts else np.empty(0, np.int64)
    data = np.ones(len(rows), dtype=np.float32)
    mat = sp.csr_matrix((data, (rows, cols)), shape=(len(docs), n_features), dtype=np.float32)
    mat.sum_duplicates()
    return mat


@dataclass(frozen=True)
class TextVectoriser:
    """A fitted hashed-n-gram + TF-IDF + SVD text embedder. Only arrays: store with
    ``to_arrays`` / ``from_arrays`` (e.g. ``np.savez``).

    ``features`` are the hashed buckets seen in the reference (ascending); ``idf`` and the rows
    of ``components`` (features × dim) are aligned with them. Buckets never seen in the
    reference have zero weight.
    """

    features: npt.NDArray[np.int64]
    idf: F32
    components: F32
    n_features: int
    ngram_range: tuple[int, int]

    @property
    def dim(self) -> int:
        return int(self.components.shape[1])

    def _tfidf(self, texts: Sequence[str]) -> sp.csr_matrix:
        counts = _hashed_counts(texts, self.ngram_range, self.n_features).tocoo()
        pos = np.searchsorted(self.features, counts.col)
        pos = np.minimum(pos, len(self.features) - 1)
        seen = self.features[pos] == counts.col
        tf = 1.0 + np.log(counts.data[seen])
        mat = sp.csr_matrix(
            (tf * self.idf[pos[seen]], (counts.row[seen], pos[seen])),
            shape=(len(texts), len(self.features)),
            dtype=np.float32,
        )
        norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms).astype(np.float32) @ mat)

    def transform(self, texts: Sequence[str]) -> F32:
        """Embed ``texts``: (len(texts) × dim) float32, rows L2-normalised."""
        if len(texts) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return l2_normalise(self._tfidf(texts) @ self.components)

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        return {
            "features": self.features,
            "idf": self.idf,
            "components": self.components,
            "n_features": np.array(self.n_features),
            "ngram_range": np.array(self.ngram_range),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[np.generic]]) -> TextVectoriser:
        lo, hi = (int(v) for v in arrays["ngram_range"])
        return cls(
            features=np.asarray(arrays["features"], dtype=np.int64),
            idf=np.asarray(arrays["idf"], dtype=np.float32),
            components=np.asarray(arrays["components"], dtype=np.float32),
            n_features=int(arrays["n_features"]),
            ngram_range=(lo, hi),
        )


def fit_text_vectoriser(
    texts: Sequence[str],
    dim: int = 128,
    *,
    n_features: int = 2**18,
    ngram_range: tuple[int, int] = (3, 5),
) -> TextVectoriser:
    """Fit IDF and a rank-``dim`` truncated SVD on reference ``texts`` (deterministic).

    Small references use the exact eigendecomposition of the Gram matrix; larger ones ARPACK
    (``svds``) from a fixed start vector. Component signs are fixed (largest-magnitude loading
    positive) so results do not depend on the solver. ``dim`` is capped at rank − 1.
    """
    if len(texts) < 2:
        raise ValueError("need at least two reference texts")
    counts = _hashed_counts(texts, ngram_range, n_features)
    features = np.unique(counts.indices).astype(np.int64)
    counts = counts[:, features]
    n_docs = counts.shape[0]
    df = np.bincount(counts.indices, minlength=len(features))
    idf = (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)
    draft = TextVectoriser(
        features=features,
        idf=idf,
        components=np.zeros((len(features), 1), np.float32),
        n_features=n_features,
        ngram_range=ngram_range,
    )
    x = draft._tfidf(texts).astype(np.float64)
    k = max(1, min(dim, min(x.shape) - 1))
    if n_docs <= 3000:
        gram = (x @ x.T).toarray()
        evals, evecs = np.linalg.eigh(gram)
        top = np.argsort(evals)[::-1][:k]
        s = np.sqrt(np.clip(evals[top], 1e-12, None))
        vt = (x.T @ evecs[:, top]).T / s[:, None]
    else:
        v0 = np.full(min(x.shape), 1.0 / np.sqrt(min(x.shape)))
        _u, s, vt = svds(x, k=k, v0=v0, solver="arpack", random_state=0)
        order = np.argsort(s)[::-1]
        vt = vt[order]
    comps = np.asarray(vt).T  # features × k
    signs = np.sign(comps[np.argmax(np.abs(comps), axis=0), np.arange(comps.shape[1])])
    signs[signs == 0] = 1.0
    comps = comps * signs
    return TextVectoriser(
        features=features,
        idf=idf,
        components=comps.astype(np.float32),
        n_features=n_features,
        ngram_range=ngram_range,
    )
