"""sampling.draw: seeded stratified sampling without replacement."""

import numpy as np
import pytest

from sampling.draw import draw


def test_counts_inclusion_probabilities_and_no_duplicates():
    codes = np.array([0] * 10 + [1] * 4 + [2] * 6)
    d = draw(codes, [3, 4, 0], seed=1)
    assert len(d.indices) == 7
    assert len(set(d.indices.tolist())) == 7
    assert np.bincount(codes[d.indices], minlength=3).tolist() == [3, 4, 0]
    assert (d.stratum == codes[d.indices]).all()
    assert d.N.tolist() == [10, 4, 6]
    assert d.n.tolist() == [3, 4, 0]
    # π = n_h/N_h: 3/10 for stratum 0, 4/4 for stratum 1 (a census).
    assert sorted(set(d.pi.tolist())) == [0.3, 1.0]
    assert ((d.pi == 0.3) == (d.stratum == 0)).all()
    assert ((d.N_h == 10) == (d.stratum == 0)).all()
    assert d.seed == 1


def test_reproducible_with_the_same_seed_and_different_otherwise():
    codes = np.random.default_rng(0).integers(0, 5, 10_000)
    n = [50, 50, 50, 50, 50]
    a, b, c = draw(codes, n, seed=42), draw(codes, n, seed=42), draw(codes, n, seed=43)
    assert (a.indices == b.indices).all()
    assert set(a.indices.tolist()) != set(c.indices.tolist())


def test_rejects_impossible_sizes():
    with pytest.raises(ValueError):
        draw([0, 0, 1], [3, 1], seed=0)
    with pytest.raises(ValueError):
        draw([0, 2], [1, 1], seed=0)


def test_every_item_is_selected_with_probability_pi():
    # Stratum 0: 8 items, n = 2 (π = 1/4); stratum 1: 4 items, n = 3 (π = 3/4).
    codes = np.array([0] * 8 + [1] * 4)
    reps = 4000
    counts = np.zeros(12)
    rng = np.random.default_rng(123)
    for _ in range(reps):
        counts[draw(codes, [2, 3], seed=rng).indices] += 1
    pi = np.where(codes == 0, 0.25, 0.75)
    se = np.sqrt(pi * (1 - pi) / reps)
    assert np.all(np.abs(counts / reps - pi) < 4.5 * se)


def test_all_pairs_equally_likely_within_a_stratum():
    # Without replacement, each of the C(5,2) = 10 pairs has probability 1/10.
    codes = np.zeros(5, dtype=int)
    reps = 5000
    seen: dict[tuple[int, ...], int] = {}
    rng = np.random.default_rng(9)
    for _ in range(reps):
        key = tuple(sorted(draw(codes, [2], seed=rng).indices.tolist()))
        seen[key] = seen.get(key, 0) + 1
    assert len(seen) == 10
    freq = np.array(list(seen.values())) / reps
    assert np.all(np.abs(freq - 0.1) < 4.5 * np.sqrt(0.1 * 0.9 / reps))


def test_queue_order_mixes_strata():
    # The returned order is a permutation, not grouped by stratum or by π.
    codes = np.array([0] * 1000 + [1] * 10)
    d = draw(codes, [50, 10], seed=5)
    first_half = d.stratum[: len(d.stratum) // 2]
    assert 0 < (first_half == 1).sum() < 10


def test_one_million_items_in_one_pass():
    # Speed is measured by benchmarks/queue.py, not asserted here (timed tests flake).
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 84, 1_000_000)
    n = np.full(84, 25)
    d = draw(codes, n, seed=7)
    assert len(d.indices) == 84 * 25
    assert len(np.unique(d.indices)) == 84 * 25
    assert np.bincount(d.stratum, minlength=84).tolist() == [25] * 84
