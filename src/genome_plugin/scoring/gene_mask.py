"""Gene-level scorers: expression change over a gene's exons, and splicing change over its body.

Rows are genes (``gene_id``, ``gene_name``, ``gene_type``, ``gene_strand``); a stranded track on the
other strand than the gene gives NaN, as in the AlphaGenome SDK.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genome_plugin.scoring.base import Scorer, ScoreResult, ScoringContext, strand_mismatch
from genome_plugin.scoring.center_mask import center_mask
from genome_plugin.scoring.genes import GeneIndex, gene_rows, spans_to_bins
from genome_plugin.tracks import OutputType

__all__ = ["GENE_MASK_OUTPUTS", "SPLICING_OUTPUTS", "SPLICING_WIDTHS", "GeneMaskActive", "GeneMaskLFC",
           "GeneMaskSplicing", "exon_means"]

#: Pseudo-count of the log fold change (the SDK's).
LFC_OFFSET = 1e-3
GENE_MASK_OUTPUTS = (
    OutputType.ATAC, OutputType.CAGE, OutputType.DNASE, OutputType.PROCAP, OutputType.RNA_SEQ,
    OutputType.SPLICE_SITES, OutputType.SPLICE_SITE_USAGE,
)
SPLICING_OUTPUTS = (OutputType.SPLICE_SITES, OutputType.SPLICE_SITE_USAGE)
SPLICING_WIDTHS = (101, 1001, 10_001, None)


def _index(context: ScoringContext, scorer: Scorer) -> GeneIndex:
    if context.annotation is None:
        msg = f"scorer {scorer.name} needs a gene annotation (a GTF)"
        raise ValueError(msg)
    return GeneIndex.of(context.annotation)


def _mask_mismatches(values: np.ndarray, rows, context: ScoringContext) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32)
    values[strand_mismatch(rows["gene_strand"].to_numpy(), context.tracks.strands)] = np.nan
    return values


def exon_means(ref: np.ndarray, alt: np.ndarray, context: ScoringContext, scorer: Scorer):
    """Genes with a TSS in the window, and their REF and ALT means over the exon mask ``(genes, tracks)``."""
    genes, spans = _index(context, scorer).exon_genes(context.interval)
    rows = gene_rows(genes)
    if not len(rows):
        return rows, np.zeros((0, ref.shape[1])), np.zeros((0, ref.shape[1]))
    masks = np.stack([spans_to_bins(s, interval=context.interval, resolution=context.resolution)[: ref.shape[0]]
                      for s in spans]).astype(np.float64)
    counts = masks.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref_mean = masks @ ref.astype(np.float64) / counts
        alt_mean = masks @ alt.astype(np.float64) / counts
    return rows, ref_mean, alt_mean


class GeneMaskLFC(Scorer):
    """Log fold change of the mean over each gene's exons: ln(mean ALT + 1e-3) - ln(mean REF + 1e-3)."""

    row_kind = "gene"
    needs_annotation = True
    signed = True

    def __init__(self, output_type: OutputType | str) -> None:
        self.output_type = _check(OutputType.parse(output_type), GENE_MASK_OUTPUTS, type(self).__name__)
        self.requires = (self.output_type,)
        self.name = f"gene_mask_lfc_{self.output_type.value}"
        self.description = f"log fold change of {self.output_type.value} over the exons of each gene in the window"

    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        rows, ref_mean, alt_mean = exon_means(ref, alt, context, self)
        values = np.log(alt_mean + LFC_OFFSET) - np.log(ref_mean + LFC_OFFSET)
        return ScoreResult(rows, _mask_mismatches(values, rows, context))


class GeneMaskActive(Scorer):
    """Activity of the more active allele: max(mean ALT, mean REF) over each gene's exons."""

    row_kind = "gene"
    needs_annotation = True
    signed = False

    def __init__(self, output_type: OutputType | str) -> None:
        self.output_type = _check(OutputType.parse(output_type), GENE_MASK_OUTPUTS, type(self).__name__)
        self.requires = (self.output_type,)
        self.name = f"gene_mask_active_{self.output_type.value}"
        self.description = f"max of REF and ALT mean {self.output_type.value} over each gene's exons"

    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        rows, ref_mean, alt_mean = exon_means(ref, alt, context, self)
        return ScoreResult(rows, _mask_mismatches(np.maximum(alt_mean, ref_mean), rows, context))


class GeneMaskSplicing(Scorer):
    """Largest splicing change in a gene: max |ALT - REF| over the body of each gene the variant touches.

    With a ``width`` the body is cut to that many bp centred on the variant.
    """

    row_kind = "gene"
    needs_annotation = True
    signed = False

    def __init__(self, output_type: OutputType | str, width: int | None = None) -> None:
        self.output_type = _check(OutputType.parse(output_type), SPLICING_OUTPUTS, type(self).__name__)
        if width not in SPLICING_WIDTHS:
            msg = f"GeneMaskSplicing width {width} is not one of {', '.join(str(w) for w in SPLICING_WIDTHS)}"
            raise ValueError(msg)
        self.width = width
        self.requires = (self.output_type,)
        self.name = f"gene_mask_splicing_{self.output_type.value}_{width or 'all'}"
        where = f"within {width} bp of the variant" if width else "over the gene body"
        self.description = f"max |ALT - REF| of {self.output_type.value} {where}, per gene overlapping the variant"

    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        genes = _index(context, self).variant_genes(context.variant)
        rows = gene_rows(genes)
        values = np.full((len(rows), ref.shape[1]), np.nan, dtype=np.float32)
        if len(rows):
            window = np.zeros(ref.shape[0], dtype=bool)
            window[center_mask(ref.shape[0], context.variant_bin, self.width, context.resolution)] = True
            delta = np.abs(alt.astype(np.float64) - ref.astype(np.float64))
            for i, (start, end) in enumerate(zip(genes["start"], genes["end"])):
                mask = spans_to_bins([(start, end)], interval=context.interval, resolution=context.resolution)
                mask = mask[: ref.shape[0]] & window
                if mask.any():
                    values[i] = delta[mask].max(axis=0)
        return ScoreResult(rows, _mask_mismatches(values, rows, context))

    def definition(self) -> dict[str, Any]:
        return {**super().definition(), "width": self.width or "all"}


def _check(output_type: OutputType, allowed: tuple[OutputType, ...], scorer: str) -> OutputType:
    if output_type not in allowed:
        msg = f"{scorer} does not support {output_type.value}; use one of {', '.join(t.value for t in allowed)}"
        raise ValueError(msg)
    return output_type
