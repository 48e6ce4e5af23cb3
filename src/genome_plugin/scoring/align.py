"""Aligning ALT predictions of an indel back to REF coordinates, at any resolution.

The ALT window is built by :func:`genome_plugin.genome.apply_variant`: it starts where the REF window
starts and keeps its length, so after an indel every base right of the variant sits ``len(ALT) -
len(REF)`` positions away from its REF twin. Scorers compare bin ``i`` of REF with bin ``i`` of ALT,
so ALT must first be put back into REF coordinates, as the AlphaGenome SDK does:

- bases shared by both alleles (the VCF anchor base and, for complex variants, the first
  ``min(len(REF), len(ALT))`` bases) map one to one;
- an insertion's extra bases collapse onto the last shared base, which takes the maximum over
  itself and the inserted bases;
- a deletion's removed bases count as 0 in ALT;
- bases right of the variant shift back by the length difference;
- after an insertion the last ``len(ALT) - len(REF)`` REF bases have no ALT prediction (they were
  pushed out of the ALT window). The SDK pads them with 0; we take the REF values there, so that
  running off the window edge adds no spurious difference to whole-window scores.

At a coarser resolution each bin is treated as a constant signal over its bases, the rule above is
applied base by base, and each aligned bin is the mean of its bases; cumulative sums make this
``O(bins x tracks)`` with no per-base array.
"""

from __future__ import annotations

import numpy as np

from genome_plugin.genome.intervals import Interval, Variant

__all__ = ["align_alternate"]


def align_alternate(alt: np.ndarray, ref: np.ndarray, *, variant: Variant, interval: Interval,
                    resolution: int) -> np.ndarray:
    """ALT predictions ``(bins, tracks)`` of ``variant`` re-indexed to REF coordinates.

    Parameters
    ----------
    alt, ref
        Predictions over the same ``interval`` (+ strand, REF window start) at ``resolution`` bp per bin.
    variant
        The variant; SNVs and MNVs are returned unchanged.
    interval
        The predicted window.
    resolution
        Base pairs per bin.
    """
    ref_len, alt_len = len(variant.ref), len(variant.alt)
    if ref_len == alt_len:
        return alt
    alt = np.asarray(alt, dtype=np.float32)
    ref = np.asarray(ref, dtype=np.float32)
    bins = alt.shape[0]
    length = bins * resolution
    offset = variant.start - interval.start
    shared = min(ref_len, alt_len)
    delta = alt_len - ref_len
    # Segments of REF bases [start, end) and where their ALT value comes from.
    segments: list[tuple[int, int, str, int]] = []  # (start, end, source, shift) with source alt|ref|zero|max
    if delta > 0:
        anchor = offset + shared - 1
        segments += [(0, anchor, "alt", 0), (anchor, anchor + 1, "max", 0),
                     (anchor + 1, length - delta, "alt", delta), (length - delta, length, "ref", 0)]
    else:
        removed_start, removed_end = offset + shared, offset + ref_len
        segments += [(0, removed_start, "alt", 0), (removed_start, removed_end, "zero", 0),
                     (removed_end, length, "alt", delta)]
    sums = np.zeros_like(alt, dtype=np.float64)
    alt_integral = _integral(alt, resolution)
    ref_integral = _integral(ref, resolution)
    bin_starts = np.arange(bins) * resolution
    for start, end, source, shift in segments:
        start, end = max(start, 0), min(end, length)
        if end <= start or source == "zero":
            continue
        lo = np.clip(bin_starts, start, end)
        hi = np.clip(bin_starts + resolution, start, end)
        touched = hi > lo
        if not touched.any():
            continue
        if source == "max":
            first, last = (offset + shared - 1) // resolution, (offset + shared - 1 + delta) // resolution
            peak = alt[first: min(last, bins - 1) + 1].max(axis=0)
            sums[touched] += (hi - lo)[touched, None] * peak[None, :]
            continue
        integral = alt_integral if source == "alt" else ref_integral
        sums[touched] += (_evaluate(integral, hi[touched] + shift, resolution)
                          - _evaluate(integral, lo[touched] + shift, resolution))
    return (sums / resolution).astype(np.float32)


def _integral(values: np.ndarray, resolution: int) -> np.ndarray:
    """Cumulative sum over bases at bin boundaries: row ``k`` is the total of bins ``< k``."""
    out = np.zeros((values.shape[0] + 1, values.shape[1]), dtype=np.float64)
    np.cumsum(values.astype(np.float64) * resolution, axis=0, out=out[1:])
    return out


def _evaluate(integral: np.ndarray, positions: np.ndarray, resolution: int) -> np.ndarray:
    """Total signal over bases ``[0, position)`` for each position (bins are constant over their bases)."""
    bins = integral.shape[0] - 1
    positions = np.clip(positions, 0, bins * resolution)
    index = np.minimum(positions // resolution, bins - 1)
    within = (positions - index * resolution)[:, None]
    per_base = (integral[index + 1] - integral[index]) / resolution
    return integral[index] + within * per_base
