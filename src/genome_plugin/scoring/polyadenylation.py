"""Polyadenylation: Borzoi's paQTL statistic, the largest change in proximal vs distal polyA site usage.

For each gene overlapping the variant with at least two polyA sites (PAS) in the window, RNA-seq
coverage is summed in a 400 bp window upstream of each PAS (in the gene's direction, the PAS base
included), giving a per-site ALT / REF coverage ratio ``r``. Over every split of the sites (in genomic
order) into the first ``k`` and the remaining ``n - k``, the statistic is
``|log2(mean(r[:k]) / mean(r[k:]))|``; the score is its maximum over ``k``. Undefined ratios (0/0,
x/0) count as 0.

As in the SDK, a site is the 1 bp interval ``[position, position + 1)``; a gene is skipped unless at
least 80% of its PAS start at or after the window's start and, separately, at least 80% end before the
window's end (``position + 1 < end``, the SDK's strict test), and unless two or more PAS pass both; the
``min_pas_var_distance`` column is measured from the variant's 1-based VCF position, as the SDK does
(``|position - pos|``, ``position`` 0-based).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from genome_plugin.scoring.base import Scorer, ScoreResult, ScoringContext, strand_mismatch
from genome_plugin.scoring.genes import GeneIndex, gene_rows, spans_to_bins
from genome_plugin.tracks import OutputType

__all__ = ["PAS_WINDOW", "Polyadenylation", "pas_statistic"]

PAS_WINDOW = 400
MIN_PAS_IN_WINDOW = 0.8


def pas_statistic(ref_cov: np.ndarray, alt_cov: np.ndarray) -> np.ndarray:
    """The paQTL statistic from per-site coverage ``(sites, tracks)`` in genomic order -> ``(tracks,)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.nan_to_num(alt_cov / ref_cov, nan=0.0, posinf=0.0, neginf=0.0)
        n = ratio.shape[0]
        best = np.zeros(ratio.shape[1])
        for k in range(1, n):
            proximal = ratio[:k].mean(axis=0)
            distal = ratio[k:].mean(axis=0)
            stat = np.nan_to_num(np.abs(np.log2(proximal / distal)), nan=0.0, posinf=0.0, neginf=0.0)
            best = np.maximum(best, stat)
    return best


class Polyadenylation(Scorer):
    """Borzoi paQTL score per gene (human only), from RNA-seq coverage around polyA sites.

    :param sites: polyA sites (columns ``chrom``, ``position`` (0-based), ``strand``, ``gene_id``), e.g.
        from :func:`genome_plugin.scoring.genes.read_polya_bed`; None uses the GTF's transcript 3' ends.
    """

    name = "polyadenylation"
    output_type = OutputType.RNA_SEQ
    requires = (OutputType.RNA_SEQ,)
    row_kind = "gene"
    signed = False
    needs_annotation = True
    organisms = ("human",)
    description = "max |log2 fold change| of proximal vs distal polyA site usage (Borzoi paQTL)"

    def __init__(self, sites: pd.DataFrame | None = None) -> None:
        self.sites = sites

    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        if context.annotation is None:
            msg = f"scorer {self.name} needs a gene annotation (a GTF)"
            raise ValueError(msg)
        index = GeneIndex.of(context.annotation)
        interval = context.interval
        kept, values, extra = [], [], []
        for _, gene in index.variant_genes(context.variant).iterrows():
            sites = index.polya_sites(str(gene["gene_id"]), self.sites)
            sites = sites[sites["strand"] == gene["strand"]]
            if sites.empty:
                continue
            after_start = (sites["position"] >= interval.start).to_numpy()
            before_end = (sites["position"] + 1 < interval.end).to_numpy()
            # the SDK checks the two ends separately: sites past both ends can together exceed 20%
            if after_start.mean() < MIN_PAS_IN_WINDOW or before_end.mean() < MIN_PAS_IN_WINDOW:
                continue
            inside = after_start & before_end
            if inside.sum() < 2:
                continue
            positions = np.sort(sites["position"].to_numpy()[inside])
            masks = np.stack([spans_to_bins([_pas_window(p, gene["strand"])], interval=interval,
                                            resolution=context.resolution)[: ref.shape[0]] for p in positions])
            masks = masks.astype(np.float64)
            values.append(pas_statistic(masks @ ref.astype(np.float64), masks @ alt.astype(np.float64)))
            kept.append(gene)
            extra.append((len(positions), int(np.abs(positions - context.variant.pos).min())))
        rows = gene_rows(pd.DataFrame(kept) if kept else index.annotation.genes.iloc[:0])
        rows["num_pas"] = [n for n, _ in extra]
        rows["min_pas_var_distance"] = [d for _, d in extra]
        matrix = np.array(values, dtype=np.float32).reshape(len(rows), ref.shape[1])
        matrix[strand_mismatch(rows["gene_strand"].to_numpy(), context.tracks.strands)] = np.nan
        return ScoreResult(rows, matrix)


def _pas_window(position: int, strand: str) -> tuple[int, int]:
    """The 400 bp upstream of a PAS in transcription direction, the PAS base included."""
    if strand == "+":
        return position + 1 - PAS_WINDOW, position + 1
    return position, position + PAS_WINDOW
