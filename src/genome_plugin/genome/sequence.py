"""DNA strings to model inputs: one-hot encoding, reverse complement, and applying variants to windows.

The variant rule (documented for users in the README):
the window is fixed by its start, and the variant's first REF base keeps its place in it. The ALT
sequence is ``before + ALT + after``; when ALT is shorter than REF (a deletion) the window is
refilled on the right from the reference beyond the window end, and when ALT is longer (an
insertion) the bases pushed past the right end are dropped. So the window length never changes
and a variant placed at the centre stays at the centre, as in the AlphaGenome SDK.
"""

from __future__ import annotations

import numpy as np

from genome_plugin.errors import InputError

__all__ = ["one_hot", "reverse_complement", "apply_variant", "ALPHABET"]

ALPHABET = "ACGT"
_LOOKUP = np.full(256, -1, dtype=np.int8)
for _i, _base in enumerate(ALPHABET):
    _LOOKUP[ord(_base)] = _i
    _LOOKUP[ord(_base.lower())] = _i
_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def one_hot(sequence: str) -> np.ndarray:
    """One-hot encode ``sequence`` as float32 ``(L, 4)`` in A, C, G, T order; N (and any other letter) -> zeros."""
    codes = _LOOKUP[np.frombuffer(sequence.encode("ascii"), dtype=np.uint8)]
    out = np.zeros((len(sequence), 4), dtype=np.float32)
    valid = codes >= 0
    out[np.flatnonzero(valid), codes[valid]] = 1.0
    return out


def reverse_complement(sequence: str) -> str:
    """Reverse complement of an ACGTN string (case kept)."""
    return sequence.translate(_COMPLEMENT)[::-1]


def apply_variant(window: str, window_start: int, ref: str, alt: str, pos: int, right_flank: str = "") -> str:
    """Apply a variant to a window, keeping its length (see the module docstring for the rule).

    Parameters
    ----------
    window
        Reference sequence of the window.
    window_start
        0-based genomic coordinate of ``window[0]``.
    ref, alt
        Alleles; ``ref`` must match the window at ``pos``.
    pos
        1-based VCF position of the first REF base; it must lie inside the window.
    right_flank
        Reference bases just past the window end, at least ``len(ref) - len(alt)`` of them for deletions
        (N-padded when the chromosome ends).

    Returns
    -------
    The ALT window, ``len(window)`` bases long.
    """
    offset = pos - 1 - window_start
    if not 0 <= offset < len(window):
        msg = f"variant at {pos} lies outside the window starting at {window_start + 1}"
        raise InputError(msg)
    present = window[offset : offset + len(ref)]
    if present.upper() != ref.upper()[: len(present)]:
        msg = f"REF {ref} does not match the reference {present} at position {pos}"
        raise InputError(msg)
    shortfall = len(ref) - len(alt)
    if shortfall > len(right_flank):
        right_flank = right_flank + "N" * (shortfall - len(right_flank))
    altered = window[:offset] + alt + window[offset + len(ref) :] + right_flank
    return altered[: len(window)]
