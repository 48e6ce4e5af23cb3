"""Training augmentations of one example: reverse complement (strand-aware), point mutations, input masking.

Random shifts happen where the window is read (``train.data``), so the targets are read for the shifted
window. Every function takes an explicit ``numpy.random.Generator``, so an example's augmentation is a
function of the data set's seed and the example's place in the epoch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from genome_plugin.tracks import OutputType, TrackTable
from genome_plugin.train.batch import SPLICE_RC_CLASS, Batch, parse_target_key

__all__ = ["mask_input", "mutate", "reverse_complement_example"]


def reverse_complement_example(example: Batch, tracks: Mapping[OutputType, TrackTable]) -> Batch:
    """The example as seen from the other strand (one example, no batch axis).

    The sequence is reverse-complemented; every target and weight is flipped along its position axes
    (both axes of a contact map); + and - strand tracks trade places (``TrackTable.strand_swap``);
    splice classes swap strand (donor+ <-> donor-, acceptor+ <-> acceptor-); junction donors and
    acceptors move to their mirrored positions and change strand.
    """
    length = example["sequence"].shape[0]
    out = {k: v for k, v in example.items() if k not in ("sequence", "targets", "weights")}
    # A, C, G, T reversed is T, G, C, A: reversing the channel axis complements.
    out["sequence"] = example["sequence"][::-1, ::-1].copy()
    targets, weights = {}, {}
    for key, target in example["targets"].items():
        output_type, _ = parse_target_key(key)
        weight = example["weights"][key]
        if output_type is OutputType.SPLICE_SITES:
            targets[key] = SPLICE_RC_CLASS[target[::-1]]
            weights[key] = weight[::-1].copy()
        elif output_type is OutputType.SPLICE_JUNCTIONS:
            swap = tracks[output_type].strand_swap()
            valid = target["donor"] >= 0
            targets[key] = {
                "donor": np.where(valid, length - 1 - target["donor"], -1).astype(np.int32),
                "acceptor": np.where(valid, length - 1 - target["acceptor"], -1).astype(np.int32),
                "strand": np.where(valid, 1 - target["strand"], target["strand"]).astype(np.int8),
                "counts": target["counts"][:, swap].copy(),
            }
            weights[key] = weight.copy()
        elif output_type is OutputType.CONTACT_MAPS:
            swap = tracks[output_type].strand_swap()
            targets[key] = target[::-1, ::-1][..., swap].copy()
            weights[key] = weight[::-1, ::-1].copy()
        else:
            swap = tracks[output_type].strand_swap()
            targets[key] = target[::-1][:, swap].copy()
            weights[key] = weight[::-1].copy()
    out["targets"], out["weights"] = targets, weights
    return out


def mutate(sequence: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Replace each A/C/G/T base with probability ``rate`` by one of the three other bases (N stays N)."""
    if rate <= 0:
        return sequence
    base = np.argmax(sequence, axis=-1)
    hit = (rng.random(len(sequence)) < rate) & (sequence.sum(axis=-1) > 0)
    positions = np.flatnonzero(hit)
    new = (base[positions] + rng.integers(1, 4, size=len(positions))) % 4
    out = sequence.copy()
    out[positions] = 0.0
    out[positions, new] = 1.0
    return out


def mask_input(sequence: np.ndarray, fraction: float, span: int, rng: np.random.Generator) -> np.ndarray:
    """Zero about ``fraction`` of the positions, in blocks of ``span`` bp starting at random places.

    The number of blocks is ``round(fraction * len / span)``; blocks may overlap, so slightly less than
    ``fraction`` can end up masked. Targets are left as they are: the model learns to fill the gaps.
    """
    if fraction <= 0:
        return sequence
    length = len(sequence)
    span = min(span, length)
    blocks = round(fraction * length / span)
    if blocks == 0:
        return sequence
    out = sequence.copy()
    for start in rng.integers(0, length - span + 1, size=blocks):
        out[start : start + span] = 0.0
    return out
