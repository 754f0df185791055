"""Strata: band cut-offs and the assignment of a stratum key to every item.

A stratum is the cross of any subset of dimensions: tier × uncertainty band × OOD band
(× segment, × day). Bands are defined by cut-offs the QA lead sets or, by default, by the
reference (training) set's quantiles, so that "high uncertainty" means "rarer than 90 % of
training traffic" (DESIGN.md, Statistics).

Everything here is vectorised: a million items are banded and stratified in well under a
second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_OOD_CUTS",
    "DEFAULT_OOD_LABELS",
    "DEFAULT_UNCERTAINTY_LABELS",
    "DEFAULT_UNCERTAINTY_QUANTILES",
    "Bands",
    "Strata",
    "assign_strata",
    "band",
    "ood_bands",
    "uncertainty_bands",
    "uncertainty_cuts_from_reference",
]

#: Default uncertainty cut: the reference's 90th percentile ("high" = rarer than 90 %).
DEFAULT_UNCERTAINTY_QUANTILES: tuple[float, ...] = (0.90,)
DEFAULT_UNCERTAINTY_LABELS: tuple[str, ...] = ("low", "high")
#: OOD bands on the OOD *percentile* (0–100): in (< p95), edge (p95–p99), out (≥ p99).
DEFAULT_OOD_CUTS: tuple[float, ...] = (95.0, 99.0)
DEFAULT_OOD_LABELS: tuple[str, ...] = ("in", "edge", "out")


@dataclass(frozen=True)
class Bands:
    """Ascending cut-offs and one label per band (``len(labels) == len(cuts) + 1``).

    A value ``x`` falls in band ``i`` = number of cut-offs ``c`` with ``c <= x``: the lower
    edge is inclusive, so a value exactly at a cut-off belongs to the upper band (a query at
    the reference's p99 is "out").
    """

    cuts: tuple[float, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.cuts) + 1:
            raise ValueError(
                f"{len(self.cuts)} cut-offs need {len(self.cuts) + 1} labels, "
                f"got {len(self.labels)}"
            )
        if any(b < a for a, b in zip(self.cuts, self.cuts[1:], strict=False)):
            raise ValueError(f"cut-offs must be ascending: {self.cuts}")
        if any(not np.isfinite(c) for c in self.cuts):
            raise ValueError(f"cut-offs must be finite: {self.cuts}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"band labels must be distinct: {self.labels}")


def uncertainty_cuts_from_reference(
    reference_uncertainty: npt.ArrayLike,
    quantiles: Sequence[float] = DEFAULT_UNCERTAINTY_QUANTILES,
    labels: Sequence[str] = DEFAULT_UNCERTAINTY_LABELS,
) -> Bands:
    """Uncertainty bands whose cut-offs are quantiles of the reference set's uncertainty.

    With the default (0.90,), "high" means an uncertainty at or above the reference's 90th
    percentile, i.e. rarer than 90 % of training traffic. Quantiles use numpy's default
    (linear interpolation, Hyndman & Fan type 7). Non-finite reference values are ignored.
    Assumes the reference set is representative of the traffic the router was trained on.
    """
    ref = np.asarray(reference_uncertainty, dtype=float).ravel()
    ref = ref[np.isfinite(ref)]
    if ref.size == 0:
        raise ValueError("the reference set has no finite uncertainty values")
    qs = np.asarray(quantiles, dtype=float)
    if np.any((qs <= 0) | (qs >= 1)):
        raise ValueError(f"quantiles must lie in (0, 1): {tuple(quantiles)}")
    cuts = np.quantile(ref, np.sort(qs))
    return Bands(cuts=tuple(float(c) for c in cuts), labels=tuple(labels))


def band(values: npt.ArrayLike, bands: Bands) -> npt.NDArray[np.str_]:
    """Label of each value's band (vectorised ``searchsorted``; see :class:`Bands`).

    NaN values raise: an item without a score cannot be stratified silently.
    """
    x = np.asarray(values, dtype=float)
    if np.isnan(x).any():
        raise ValueError("cannot band NaN values; score the items first")
    idx = np.searchsorted(np.asarray(bands.cuts, dtype=float), x, side="right")
    return np.asarray(bands.labels)[idx]


def uncertainty_bands(
    uncertainty: npt.ArrayLike,
    bands: Bands | None = None,
    *,
    reference_uncertainty: npt.ArrayLike | None = None,
) -> npt.NDArray[np.str_]:
    """Uncertainty band labels, from explicit ``bands`` or from the reference's quantiles.

    Uncertainty is ``1 − router_confidence`` (or ``1 − self_confidence`` for a cascade).
    Exactly one of ``bands`` and ``reference_uncertainty`` must be given.
    """
    if (bands is None) == (reference_uncertainty is None):
        raise ValueError("give exactly one of bands= or reference_uncertainty=")
    if bands is None:
        assert reference_uncertainty is not None
        bands = uncertainty_cuts_from_reference(reference_uncertainty)
    return band(uncertainty, bands)


def ood_bands(
    ood_percentile: npt.ArrayLike,
    bands: Bands = Bands(DEFAULT_OOD_CUTS, DEFAULT_OOD_LABELS),
) -> npt.NDArray[np.str_]:
    """OOD band labels from the OOD percentile (0–100, see ``sampling.ood``).

    Default: in (< 95), edge (95 ≤ p < 99), out (≥ 99), after Sun et al. 2022's k-NN distance
    expressed as a percentile of the reference's leave-one-out distances.
    """
    return band(ood_percentile, bands)


def _escape_label(label: str, sep: str) -> str:
    if sep not in label and "\\" not in label:
        return label
    return label.replace("\\", "\\\\").replace(sep, "\\" + sep)


@dataclass(frozen=True, eq=False)
class Strata:
    """Integer stratum code per item, and what each code means.

    ``codes[i]`` indexes ``labels`` and ``sizes``; ``labels[h]`` holds one label per
    dimension (in ``dimensions`` order); ``sizes[h]`` is the population N_h. Codes are dense
    (0..H−1) and ordered by the sorted labels, so they are reproducible for the same input.
    """

    codes: npt.NDArray[np.int64]
    labels: tuple[tuple[str, ...], ...]
    dimensions: tuple[str, ...]
    sizes: npt.NDArray[np.int64]

    @property
    def n_strata(self) -> int:
        return len(self.labels)

    def keys(self, sep: str = "|") -> tuple[str, ...]:
        """Human-readable stratum keys, e.g. ``"cheap|high|edge"``: one per stratum, distinct.

        Labels are data (tier and segment come from production records), so a label holding
        ``sep`` or a backslash has it escaped with a backslash: tier ``"a|b"`` with segment
        ``"c"`` is ``"a\\|b|c"``, never the same key as tier ``"a"`` with segment ``"b|c"``
        (``"a|b\\|c"``). Labels without either character, the usual case, are unchanged.
        """
        return tuple(sep.join(_escape_label(label, sep) for label in lab) for lab in self.labels)

    def mask(self, **where: str) -> npt.NDArray[np.bool_]:
        """Boolean mask over strata, e.g. ``mask(tier="cheap")`` selects a domain's strata."""
        out = np.ones(self.n_strata, dtype=bool)
        for dim, value in where.items():
            if dim not in self.dimensions:
                raise KeyError(f"unknown dimension {dim!r}; have {self.dimensions}")
            j = self.dimensions.index(dim)
            out &= np.array([lab[j] == value for lab in self.labels], dtype=bool)
        return out


def assign_strata(dimensions: Mapping[str, npt.ArrayLike]) -> Strata:
    """Stratum code per item from any subset of dimensions (tier, uncertainty, ood, segment, day).

    Each dimension is an array with one value per item (labels of any dtype; they are turned
    into strings in ``Strata.labels``). Each dimension is factorised with ``np.unique(...,
    return_inverse=True)``, the factors are combined by mixed radix into one integer, and
    that integer is factorised again, so only combinations that occur become strata.
    """
    names = tuple(dimensions)
    arrays = [np.asarray(dimensions[k]).ravel() for k in names]
    sizes_in = {a.shape[0] for a in arrays}
    if len(sizes_in) > 1:
        raise ValueError(f"dimensions have different lengths: {sorted(sizes_in)}")
    if not arrays:
        raise ValueError("give at least one dimension (e.g. tier=...)")
    n_items = arrays[0].shape[0]

    uniques: list[npt.NDArray[np.generic]] = []
    combined = np.zeros(n_items, dtype=np.int64)
    radix = 1
    for a in arrays:
        u, inv = np.unique(a, return_inverse=True)
        uniques.append(u)
        radix *= max(len(u), 1)
        if radix > np.iinfo(np.int64).max // 2:
            raise ValueError("too many label combinations to code in 64 bits")
        combined = combined * len(u) + inv.astype(np.int64).ravel()
    keys, codes, counts = np.unique(combined, return_inverse=True, return_counts=True)

    # Decode each occurring combination back to per-dimension labels.
    digits = np.empty((len(keys), len(arrays)), dtype=np.int64)
    rest = keys.copy()
    for j in range(len(arrays) - 1, -1, -1):
        base = len(uniques[j])
        digits[:, j] = rest % base
        rest //= base
    labels = tuple(
        tuple(str(uniques[j][digits[h, j]]) for j in range(len(arrays))) for h in range(len(keys))
    )
    return Strata(
        codes=codes.astype(np.int64).ravel(),
        labels=labels,
        dimensions=names,
        sizes=counts.astype(np.int64),
    )
