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
  float32, in blocks of queries so that memory stays bounded by ``block_bytes``.
- Records without embeddings are embedded by ``TextVectoriser``: character 3–5-grams of the
  lower-cased text, hashed into ``n_features`` buckets with a fixed polynomial hash over
  Unicode code points finished by the SplitMix64 mixer (Steele, Lea & Flood 2014) — stable
  across processes and platforms, unlike Python's salted ``hash()`` — weighted by sublinear
  TF × smoothed IDF (as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``), reduced by a
  truncated SVD fitted on the reference (latent semantic analysis, Deerwester et al. 1990)
  and L2-normalised. Fitting is deterministic; a fitted vectoriser is plain arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.linalg import svds

__all__ = [
    "KnnReference",
    "TextVectoriser",
    "fit_knn_reference",
    "fit_text_vectoriser",
    "knn_distance",
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


@dataclass(frozen=True)
class KnnReference:
    """A fitted OOD reference: normalised embeddings and sorted leave-one-out k-NN distances."""

    embeddings: F32
    loo_distances: F32  # ascending
    k: int = DEFAULT_K

    def percentile(self, distances: npt.ArrayLike) -> F64:
        """Percent of reference points whose leave-one-out k-NN distance is ≤ ``distances``.

        In [0, 100]; 100 means farther than every reference point.
        """
        d = np.asarray(distances, dtype=np.float32)
        rank = np.searchsorted(self.loo_distances, d, side="right")
        return 100.0 * rank.astype(np.float64) / len(self.loo_distances)


def fit_knn_reference(
    embeddings: npt.ArrayLike, k: int = DEFAULT_K, *, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> KnnReference:
    """Normalise the reference and compute its leave-one-out k-NN distances (O(n²·d)).

    Leave-one-out: a reference point is not its own neighbour (exact duplicates of it still
    count, as they would for a production query).
    """
    r = l2_normalise(embeddings)
    loo = np.float32(1.0) - _kth_largest_sims(r, r, k, block_bytes, exclude_self=True)
    return KnnReference(embeddings=r, loo_distances=np.sort(loo), k=k)


def ood_scores(
    reference: KnnReference,
    queries: npt.ArrayLike,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> tuple[F32, F64]:
    """k-NN cosine distance of each query to the reference, and its reference percentile."""
    q = l2_normalise(queries)
    d = np.float32(1.0) - _kth_largest_sims(q, reference.embeddings, reference.k, block_bytes)
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
