"""SpliceJunction: the largest change in predicted junction read counts within each protein-coding gene.

Junction predictions come as a long table: ``ref`` and ``alt`` are ``(junctions, tracks)`` counts of
the same junctions, and ``context.extra["junctions"]`` is a DataFrame with one row per junction:
``start`` and ``end`` in genome coordinates and ``strand``, and optionally ``donor_rank`` and
``acceptor_rank``. Coordinates are the SDK's: with donor the last base of the exon before the intron
and acceptor the first base of the exon after it (0-based), ``start = donor + 1, end = acceptor`` on
``+`` and ``start = acceptor + 1, end = donor`` on ``-``, so ``[start, end)`` is the intron.

The engine gets them from a model that predicts SPLICE_JUNCTIONS through an extra method::

    model.junctions(ref_onehot, alt_onehot, *, organism, site_mask, annotated_sites, indel)
        -> (table, ref_counts, alt_counts)

with one-hot ``(S, 4)`` windows, ``site_mask`` ``(S,)`` (the bodies of the genes overlapping the
variant), ``annotated_sites`` ``(S, 4)`` (donor+, acceptor+, donor-, acceptor- of the annotation's
introns), ``indel`` None or (the variant's start in the window, len(REF), len(ALT)) so that ALT can
be aligned to REF coordinates, ``table`` as above but in window offsets, and counts for the tracks of
``model.tracks(SPLICE_JUNCTIONS)``. As the SDK does, the model should choose splice sites from the
element-wise max of the REF and ALT splice-site probabilities and the annotated sites, inside the
mask, and read both alleles' counts at those sites, so that a junction only ALT creates is scored
(see :meth:`genome_plugin.model.adapter.AlphaGenomeModel.junctions`). The ranks are each site's index
in its class's position-ordered list of chosen sites; as in the SDK, only junctions between the first
``MAX_SPLICE_SITES`` sites of each class count.

Per junction and track the score is ``|ln(alt + 1e-7) - ln(ref + 1e-7)|``. For each protein-coding
gene overlapping the variant (the SDK filters the rest; an annotation without gene types, all
``unknown``, keeps every gene), the junctions on its strand strictly inside
its body (``start > gene start``, ``end < gene end``) count; for each track of the gene's strand (or
unstranded) the junction with the highest score is picked, and each picked junction becomes one row
(gene columns plus ``junction_Start``, ``junction_End``), in the order the tracks first pick them,
holding that junction's scores in every track; tracks of the other strand are NaN. Two differences
from the SDK: scores stay float32 (the SDK rounds the log ratios to float16 before picking), and the
junction tracks stay per strand (the SDK folds the two strands into one column per tissue).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genome_plugin.scoring.base import Scorer, ScoreResult, ScoringContext, strand_mismatch
from genome_plugin.scoring.genes import GeneIndex, gene_rows
from genome_plugin.tracks import OutputType

__all__ = ["JUNCTION_OFFSET", "MAX_SPLICE_SITES", "SpliceJunction"]

JUNCTION_OFFSET = 1e-7
MAX_SPLICE_SITES = 256
PROTEIN_CODING = "protein_coding"


class SpliceJunction(Scorer):
    """Max |log fold change| of predicted junction counts per protein-coding gene and tissue, as in the SDK."""

    name = "splice_junction"
    output_type = OutputType.SPLICE_JUNCTIONS
    requires = (OutputType.SPLICE_JUNCTIONS,)
    row_kind = "junction"
    signed = False
    needs_annotation = True
    description = ("max |ln ALT - ln REF| of predicted junction counts inside each protein-coding gene "
                   "overlapping the variant")

    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        if context.annotation is None:
            msg = f"scorer {self.name} needs a gene annotation (a GTF)"
            raise ValueError(msg)
        junctions = context.extra.get("junctions")
        if junctions is None or len(junctions) != ref.shape[0]:
            msg = f"scorer {self.name} needs context.extra['junctions'] with one row per junction of ref/alt"
            raise ValueError(msg)
        starts = junctions["start"].to_numpy()
        ends = junctions["end"].to_numpy()
        strands = junctions["strand"].astype(str).to_numpy()
        usable = starts > 0  # as the SDK's unstacking: no junction starting at or before the contig start
        for column in ("donor_rank", "acceptor_rank"):
            if column in junctions:
                usable &= junctions[column].to_numpy() < MAX_SPLICE_SITES
        index = GeneIndex.of(context.annotation)
        genes = index.variant_genes(context.variant)
        if index.has_gene_types:
            genes = genes[genes["gene_type"].astype(str) == PROTEIN_CODING]
        track_strands = np.asarray(context.tracks.strands).astype(str)
        frames, picks = [], []
        for (_, gene), row in zip(genes.iterrows(), gene_rows(genes).itertuples(index=False)):
            inside = np.flatnonzero(usable & (strands == gene["strand"])
                                    & (starts > gene["start"]) & (ends < gene["end"]))
            own = np.flatnonzero(~strand_mismatch([gene["strand"]], track_strands)[0])
            if not len(inside) or not len(own):
                continue
            delta = _delta(ref[inside][:, own], alt[inside][:, own])
            picked = inside[pd.unique(delta.argmax(axis=0))]  # in the order the tracks pick them, as the SDK
            frame = pd.DataFrame([row._asdict()] * len(picked))
            frame["junction_Start"] = starts[picked].astype(np.int64)
            frame["junction_End"] = ends[picked].astype(np.int64)
            frames.append(frame)
            picks.append(picked)
        if not frames:
            rows = gene_rows(genes.iloc[:0])
            rows["junction_Start"] = pd.Series(dtype=np.int64)
            rows["junction_End"] = pd.Series(dtype=np.int64)
            return ScoreResult(rows, np.zeros((0, ref.shape[1]), dtype=np.float32))
        rows = pd.concat(frames, ignore_index=True)
        picked = np.concatenate(picks)
        values = _delta(ref[picked], alt[picked]).astype(np.float32)
        values[strand_mismatch(rows["gene_strand"].to_numpy(), track_strands)] = np.nan
        return ScoreResult(rows, values)


def _delta(ref: np.ndarray, alt: np.ndarray) -> np.ndarray:
    return np.abs(np.log(alt.astype(np.float64) + JUNCTION_OFFSET) - np.log(ref.astype(np.float64) + JUNCTION_OFFSET))
