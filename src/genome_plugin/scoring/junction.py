"""SpliceJunction: the largest change in predicted junction read counts within each gene.

Junction predictions come as a long table: ``ref`` and ``alt`` are ``(junctions, tracks)`` counts of
the same junctions (same donor/acceptor pairs for both alleles), and ``context.extra["junctions"]``
is a DataFrame with one row per junction: ``start`` and ``end`` (the intron, 0-based half-open,
genome coordinates) and ``strand``.

The engine gets them from a model that predicts SPLICE_JUNCTIONS through an extra method::

    model.junctions(ref_onehot, alt_onehot, *, organism) -> (table, ref_counts, alt_counts)

with one-hot ``(S, 4)`` windows, ``table`` a DataFrame (``start``, ``end`` as 0-based offsets in the
window, ``strand``) and counts ``(junctions, tracks)`` for the tracks of
``model.tracks(SPLICE_JUNCTIONS)``. As in the SDK, the ALT counts should be predicted at the splice
sites chosen on REF, so that both alleles describe the same junctions.

Per junction and track the score is ``|ln(alt + 1e-7) - ln(ref + 1e-7)|``. For each gene overlapping
the variant, junctions on the gene's strand strictly inside its body count; for each track the
junction with the highest score is picked, and each picked junction becomes one row (gene columns plus
``junction_Start``, ``junction_End``) holding that junction's scores in every track, as in the SDK.
At most ``MAX_JUNCTIONS`` junctions are considered (the model's top splice sites come first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genome_plugin.scoring.base import Scorer, ScoreResult, ScoringContext, strand_mismatch
from genome_plugin.scoring.genes import GeneIndex, gene_rows
from genome_plugin.tracks import OutputType

__all__ = ["JUNCTION_OFFSET", "SpliceJunction"]

JUNCTION_OFFSET = 1e-7
MAX_JUNCTIONS = 256 * 256


class SpliceJunction(Scorer):
    """Max |log fold change| of predicted junction counts per gene and tissue."""

    name = "splice_junction"
    output_type = OutputType.SPLICE_JUNCTIONS
    requires = (OutputType.SPLICE_JUNCTIONS,)
    row_kind = "junction"
    signed = False
    needs_annotation = True
    description = "max |ln ALT - ln REF| of predicted junction counts inside each gene overlapping the variant"

    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        if context.annotation is None:
            msg = f"scorer {self.name} needs a gene annotation (a GTF)"
            raise ValueError(msg)
        junctions = context.extra.get("junctions")
        if junctions is None or len(junctions) != ref.shape[0]:
            msg = f"scorer {self.name} needs context.extra['junctions'] with one row per junction of ref/alt"
            raise ValueError(msg)
        junctions = junctions.iloc[:MAX_JUNCTIONS]
        delta = np.abs(np.log(alt[:MAX_JUNCTIONS].astype(np.float64) + JUNCTION_OFFSET)
                       - np.log(ref[:MAX_JUNCTIONS].astype(np.float64) + JUNCTION_OFFSET))
        genes = GeneIndex.of(context.annotation).variant_genes(context.variant)
        starts = junctions["start"].to_numpy()
        ends = junctions["end"].to_numpy()
        strands = junctions["strand"].astype(str).to_numpy()
        frames, blocks = [], []
        for (_, gene), row in zip(genes.iterrows(), gene_rows(genes).itertuples(index=False)):
            inside = np.flatnonzero((strands == gene["strand"]) & (starts > gene["start"]) & (ends < gene["end"]))
            if not len(inside):
                continue
            picked = np.unique(inside[delta[inside].argmax(axis=0)])
            frame = pd.DataFrame([row._asdict()] * len(picked))
            frame["junction_Start"] = starts[picked].astype(np.int64)
            frame["junction_End"] = ends[picked].astype(np.int64)
            frames.append(frame)
            blocks.append(delta[picked])
        if not frames:
            rows = gene_rows(genes.iloc[:0])
            rows["junction_Start"] = pd.Series(dtype=np.int64)
            rows["junction_End"] = pd.Series(dtype=np.int64)
            return ScoreResult(rows, np.zeros((0, ref.shape[1]), dtype=np.float32))
        rows = pd.concat(frames, ignore_index=True)
        values = np.concatenate(blocks).astype(np.float32)
        values[strand_mismatch(rows["gene_strand"].to_numpy(), context.tracks.strands)] = np.nan
        return ScoreResult(rows, values)
