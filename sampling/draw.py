"""The seeded stratified draw: simple random sampling without replacement within each stratum.

Method: give every item an independent Uniform(0, 1) key from a seeded numpy Generator,
sort by (stratum, key) with one ``np.lexsort``, and keep the first n_h items of each stratum.
Keeping the n_h smallest of N_h i.i.d. uniform keys selects every n_h-subset with the same
probability, i.e. simple random sampling without replacement (the "random sort" method;
Tillé 2006, *Sampling Algorithms*, §4.4). Inclusion probability π = n_h/N_h for every item
of stratum h. One vectorised pass: about 0.2 s for a million items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Draw", "draw"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Draw:
    """The selected items and their design facts.

    ``indices`` are positions in the item arrays given to :func:`draw`, in a random order
    across strata (a seeded permutation), which can serve as the queue order.
    ``stratum``, ``N_h``, ``n_h`` and ``pi`` are aligned with ``indices``; ``N`` and ``n``
    are per stratum.
    """

    indices: IntArray
    stratum: IntArray
    N_h: IntArray
    n_h: IntArray
    pi: npt.NDArray[np.float64]
    N: IntArray
    n: IntArray
    seed: int | None


def draw(
    codes: npt.ArrayLike,
    n: npt.ArrayLike,
    *,
    seed: int | np.random.Generator | None,
) -> Draw:
    """Draw ``n[h]`` items without replacement from each stratum h.

    ``codes[i]`` is item i's stratum (0..H−1, as from ``sampling.strata.assign_strata``);
    ``n`` is the allocation per stratum (``n[h] ≤ N_h``, see ``sampling.allocation``).
    Reproducible: the same codes in the same item order and the same integer seed give the
    same sample, so callers should pass items in a stable order (e.g. by id). A Generator may
    be passed instead of a seed (``seed`` is then recorded as None).
    """
    c = np.asarray(codes, dtype=np.int64).ravel()
    nh = np.asarray(n, dtype=np.int64).ravel()
    H = nh.size
    if c.size and (c.min() < 0 or c.max() >= H):
        raise ValueError("stratum codes must lie in 0..len(n)−1")
    Nh = np.bincount(c, minlength=H).astype(np.int64)
    if np.any(nh < 0) or np.any(nh > Nh):
        bad = np.flatnonzero((nh < 0) | (nh > Nh))
        raise ValueError(f"n_h must lie in [0, N_h]; strata {bad[:10].tolist()} do not")

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    recorded_seed = None if isinstance(seed, np.random.Generator) else seed
    keys = rng.random(c.size)
    order = np.lexsort((keys, c))  # by stratum, then key
    sorted_codes = c[order]
    starts = np.concatenate(([0], np.cumsum(Nh)[:-1])).astype(np.int64)
    rank = np.arange(c.size, dtype=np.int64) - starts[sorted_codes]
    chosen = order[rank < nh[sorted_codes]]
    # Queue order: a fresh permutation (sorting by key would put small-π strata first).
    chosen = chosen[rng.permutation(chosen.size)]

    s = c[chosen]
    with np.errstate(divide="ignore", invalid="ignore"):
        pi_h = np.where(Nh > 0, nh / np.maximum(Nh, 1), 0.0)
    return Draw(
        indices=chosen.astype(np.int64),
        stratum=s,
        N_h=Nh[s],
        n_h=nh[s],
        pi=pi_h[s].astype(np.float64),
        N=Nh,
        n=nh,
        seed=recorded_seed,
    )
