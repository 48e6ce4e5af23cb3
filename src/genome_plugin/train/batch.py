"""The batch contract between the training data loader (``train.data``) and the losses and loop.

A batch is a plain dict of numpy arrays (B = batch, S = window length in bp, T = tracks of a target):

- ``"sequence"``: float32 [B, S, 4], one-hot A, C, G, T as :func:`genome_plugin.genome.sequence.one_hot`
  gives; N and masked input positions are all-zero rows.
- ``"organism_index"``: int32 [B] (0 = human).
- ``"targets"``: ``{key: array}`` with ``key = target_key(output_type, resolution)``, e.g. ``"atac@128"``:

  * 1-D track types (atac, cage, dnase, rna_seq, procap, chip_histone, chip_tf) at 1 bp: float32 [B, S, T],
    raw data-space values as read from the bigWig; at 128 bp: float32 [B, S // 128, T], the SUM of the
    1 bp values of each bin.
  * ``"splice_sites@1"``: int32 [B, S], class index in the head's order (:data:`SPLICE_CLASSES`):
    0 donor+, 1 acceptor+, 2 donor-, 3 acceptor-, 4 none.
  * ``"splice_site_usage@1"``: float32 [B, S, T] in [0, 1].
  * ``"splice_junctions@1"``: a dict ``{"donor": int32 [B, J], "acceptor": int32 [B, J]`` (0-based positions
    in the window; donor = last exon base, acceptor = first exon base, on the junction's strand; -1 =
    padding), ``"strand": int8 [B, J]`` (0 '+', 1 '-'), ``"counts": float32 [B, J, T]}``. J is fixed per
    data set (``max_junctions``), so every batch has the same shapes.
  * ``"contact_maps@2048"``: float32 [B, S // 2048, S // 2048, T].

- ``"weights"``: ``{key: float32}`` broadcastable to the target: 1 = valid, 0 = ignore (past the contig
  end, N in the reference, missing data such as bins a ``.cool`` balancing masked). Shapes: [B, S, 1] for
  1 bp tracks and usage, [B, S // 128, 1] at 128 bp (0 when any base of the bin is invalid), [B, S] for
  splice sites, [B, J, 1] for junctions (0 on padding), [B, S // 2048, S // 2048, 1] for contact maps.

Extension (documented here as the contract asks): ``"example_mask"``: bool [B], False for the copies that
pad the last batch of an evaluation pass (their weights are all 0 too), so every batch has B examples.

Each data set also exposes ``tracks: dict[OutputType, TrackTable]``; reverse complement swaps + and - strand
tracks (:meth:`TrackTable.strand_swap`) and flips positions, so targets stay aligned to the augmented input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genome_plugin.tracks import OutputType

__all__ = [
    "SPLICE_CLASSES",
    "SPLICE_NONE",
    "SPLICE_RC_CLASS",
    "TRACK_TYPES",
    "Batch",
    "parse_target_key",
    "stack_examples",
    "target_key",
]

#: A batch (or one example, without the leading B axis) as described in the module docstring.
Batch = dict[str, Any]

#: Splice-site classes in the order of the model's splice-site head.
SPLICE_CLASSES = ("donor+", "acceptor+", "donor-", "acceptor-", "none")
SPLICE_NONE = 4
#: Class of a site after reverse complement: donor+ <-> donor-, acceptor+ <-> acceptor-, none stays.
SPLICE_RC_CLASS = np.array([2, 3, 0, 1, 4], dtype=np.int32)

#: Output types read from bigWig files, one value per base.
TRACK_TYPES = (
    OutputType.ATAC,
    OutputType.CAGE,
    OutputType.DNASE,
    OutputType.RNA_SEQ,
    OutputType.PROCAP,
    OutputType.CHIP_HISTONE,
    OutputType.CHIP_TF,
)


def target_key(output_type: OutputType, resolution: int) -> str:
    """The batch key of a target, ``f"{output_type.value}@{resolution}"``."""
    return f"{output_type.value}@{resolution}"


def parse_target_key(key: str) -> tuple[OutputType, int]:
    """Inverse of :func:`target_key`."""
    name, _, resolution = key.partition("@")
    return OutputType.parse(name), int(resolution)


def stack_examples(examples: list[Batch]) -> Batch:
    """Stack examples (nested dicts of arrays) into a batch along a new leading axis."""
    first = examples[0]
    if isinstance(first, dict):
        return {k: stack_examples([e[k] for e in examples]) for k in first}
    return np.stack(examples)
