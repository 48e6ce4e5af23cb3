"""Fast gene look-ups for the gene-level scorers: which genes a window or a variant touches, and their masks.

Built once per :class:`~genome_plugin.genome.Annotation` (cached), so scoring thousands of variants does
not scan the GTF tables again for each one.
"""

from __future__ import annotations

import dataclasses
import os
from collections import OrderedDict

import numpy as np
import pandas as pd

from genome_plugin.errors import InputError
from genome_plugin.genome.annotation import Annotation
from genome_plugin.genome.intervals import Interval, Variant

__all__ = ["GeneIndex", "gene_rows", "read_polya_bed", "spans_to_bins"]

_GENE_ROW_COLUMNS = ("gene_id", "gene_name", "gene_type", "gene_strand")


def spans_to_bins(spans: list[tuple[int, int]] | np.ndarray, *, interval: Interval, resolution: int) -> np.ndarray:
    """Boolean bin mask over ``interval``: a bin is in when any of its bases lies in one of the genomic ``spans``."""
    bins = interval.width // resolution
    mask = np.zeros(bins, dtype=bool)
    for start, end in spans:
        lo = max(int(start) - interval.start, 0)
        hi = min(int(end) - interval.start, bins * resolution)
        if hi > lo:
            mask[lo // resolution: (hi - 1) // resolution + 1] = True
    return mask


def gene_rows(genes: pd.DataFrame) -> pd.DataFrame:
    """The gene columns of a scorer result (SDK names; strand becomes ``gene_strand``)."""
    sources = ("gene_id", "gene_name", "gene_type", "strand")
    return pd.DataFrame({column: genes[source].to_numpy().astype(str).astype(object)
                         for column, source in zip(_GENE_ROW_COLUMNS, sources)})


@dataclasses.dataclass
class _Chrom:
    genes: pd.DataFrame
    gene_starts: np.ndarray
    gene_ends: np.ndarray
    tss: np.ndarray
    tss_transcripts: np.ndarray
    tss_genes: np.ndarray


class GeneIndex:
    """Per-chromosome arrays over one annotation, with small caches keyed by window."""

    _cache: OrderedDict[int, tuple[Annotation, GeneIndex]] = OrderedDict()

    def __init__(self, annotation: Annotation) -> None:
        self.annotation = annotation
        self._chroms: dict[str, _Chrom] = {}
        transcripts = annotation.transcripts
        tss_all = np.where(transcripts["strand"] == "-", transcripts["end"] - 1, transcripts["start"])
        for chrom, genes in annotation.genes.groupby("chrom", sort=True):
            genes = genes.sort_values(["start", "gene_id"]).reset_index(drop=True)
            on = (transcripts["chrom"] == chrom).to_numpy()
            order = np.argsort(tss_all[on], kind="stable")
            self._chroms[str(chrom)] = _Chrom(
                genes=genes,
                gene_starts=genes["start"].to_numpy(),
                gene_ends=genes["end"].to_numpy(),
                tss=tss_all[on][order],
                tss_transcripts=transcripts["transcript_id"].to_numpy()[on][order],
                tss_genes=transcripts["gene_id"].to_numpy()[on][order],
            )
        self._exons = {tid: group[["start", "end"]].to_numpy() for tid, group in
                       annotation.exons.groupby("transcript_id", sort=False)}
        self._exon_cache: OrderedDict[tuple[str, int, int], tuple[pd.DataFrame, list[np.ndarray]]] = OrderedDict()
        self._polya: dict[str, pd.DataFrame] | None = None
        # read_gtf writes "unknown" where a GTF has neither gene_type nor gene_biotype
        self.has_gene_types = bool((annotation.genes["gene_type"].astype(str) != "unknown").any())

    @classmethod
    def of(cls, annotation: Annotation) -> GeneIndex:
        """The (cached) index of ``annotation``."""
        key = id(annotation)
        hit = cls._cache.get(key)
        if hit is not None and hit[0] is annotation:
            return hit[1]
        index = cls(annotation)
        cls._cache[key] = (annotation, index)
        while len(cls._cache) > 4:
            cls._cache.popitem(last=False)
        return index

    def _chrom(self, chrom: str) -> _Chrom | None:
        found = self._chroms.get(chrom)
        if found is None:
            from genome_plugin.genome.reference import contig_aliases

            for alias in contig_aliases(chrom):
                if alias in self._chroms:
                    return self._chroms[alias]
        return found

    def overlapping(self, chrom: str, start: int, end: int) -> pd.DataFrame:
        """Genes whose body overlaps ``[start, end)``, in genomic order."""
        c = self._chrom(chrom)
        if c is None:
            return self.annotation.genes.iloc[:0]
        hit = (c.gene_starts < end) & (c.gene_ends > start)
        return c.genes[hit]

    def variant_genes(self, variant: Variant) -> pd.DataFrame:
        """Genes overlapping the variant (its REF span, or as many bases as ALT has, whichever is longer)."""
        return self.overlapping(variant.chrom, variant.start, variant.start + max(len(variant.ref), len(variant.alt)))

    def exon_genes(self, interval: Interval) -> tuple[pd.DataFrame, list[np.ndarray]]:
        """Genes with a transcript whose TSS lies in ``interval``, and each gene's exon spans.

        As in the AlphaGenome SDK, a gene's mask is the union of the exons of those transcripts
        (clipped to the window later), so large genes whose start is in the window still count.
        """
        key = (interval.chrom, interval.start, interval.end)
        if key in self._exon_cache:
            self._exon_cache.move_to_end(key)
            return self._exon_cache[key]
        c = self._chrom(interval.chrom)
        if c is None:
            result = (self.annotation.genes.iloc[:0], [])
        else:
            lo, hi = np.searchsorted(c.tss, [interval.start, interval.end], side="left")
            spans: dict[str, list[np.ndarray]] = {}
            for transcript, gene in zip(c.tss_transcripts[lo:hi], c.tss_genes[lo:hi]):
                spans.setdefault(str(gene), []).append(self._exons.get(transcript, np.zeros((0, 2), dtype=int)))
            genes = c.genes[c.genes["gene_id"].isin(list(spans))]
            result = (genes, [np.concatenate(spans[g]) for g in genes["gene_id"]])
        self._exon_cache[key] = result
        while len(self._exon_cache) > 16:
            self._exon_cache.popitem(last=False)
        return result

    def splice_site_masks(self, variant: Variant, interval: Interval) -> tuple[np.ndarray, np.ndarray]:
        """Where the junction scorer may choose splice sites in ``interval``, and the annotated ones, as the SDK does.

        Returns the ``(S,)`` mask of the bodies of the genes overlapping ``variant`` (every gene type) and
        the ``(S, 4)`` annotated sites (donor+, acceptor+, donor-, acceptor-) of every transcript's introns,
        inside that mask. An intron ``[s, e)`` has its donor at ``s - 1`` and acceptor at ``e`` on ``+``, and
        its donor at ``e`` and acceptor at ``s - 1`` on ``-`` (donor: the last base of the exon before the
        intron in transcription order; acceptor: the first base of the exon after it).
        """
        width = interval.width
        mask = np.zeros(width, dtype=bool)
        for start, end in self.variant_genes(variant)[["start", "end"]].to_numpy():
            mask[max(int(start) - interval.start, 0): max(min(int(end) - interval.start, width), 0)] = True
        sites = np.zeros((width, 4), dtype=bool)
        c = self._chrom(interval.chrom)
        if c is None or not mask.any():
            return mask, sites
        t = self.annotation.transcripts
        chrom = c.genes["chrom"].iloc[0]
        near = t[(t["chrom"] == chrom) & (t["start"] < interval.end) & (t["end"] > interval.start)]
        for transcript, strand in zip(near["transcript_id"], near["strand"]):
            exons = self._exons.get(transcript)
            if exons is None or len(exons) < 2:
                continue
            exons = exons[np.argsort(exons[:, 0], kind="stable")]
            intron_start, intron_end = exons[:-1, 1], exons[1:, 0]
            real = intron_end > intron_start  # touching or overlapping exons leave no intron
            intron_start, intron_end = intron_start[real], intron_end[real]
            if strand == "+":
                donors, acceptors, columns = intron_start - 1, intron_end, (0, 1)
            else:
                donors, acceptors, columns = intron_end, intron_start - 1, (2, 3)
            for column, positions in zip(columns, (donors, acceptors)):
                offsets = positions - interval.start
                offsets = offsets[(offsets >= 0) & (offsets < width)]
                sites[offsets, column] = True
        sites &= mask[:, None]
        return mask, sites

    def polya_sites(self, gene_id: str, sites: pd.DataFrame | None = None) -> pd.DataFrame:
        """PolyA sites of one gene (columns chrom, position, strand), from ``sites`` or the GTF's transcript ends."""
        if sites is not None:
            return sites[sites["gene_id"] == gene_id]
        if self._polya is None:
            table = self.annotation.polya_sites()
            self._polya = {str(g): frame for g, frame in table.groupby("gene_id", sort=False)}
        return self._polya.get(gene_id, pd.DataFrame(columns=["chrom", "position", "strand", "gene_id"]))


def read_polya_bed(path: str | os.PathLike[str], annotation: Annotation) -> pd.DataFrame:
    """PolyA sites from a BED (one site per line: the 0-based base in column 2, strand in column 6).

    Column 4 names the gene (gene_id or gene_name); sites with no name there are given to the genes on
    the same strand whose body holds them.
    """
    from genome_plugin.genome.bed import read_bed

    genes = annotation.genes
    names = dict(zip(genes["gene_name"].astype(str), genes["gene_id"].astype(str)))
    ids = set(genes["gene_id"].astype(str))
    rows = []
    for site in read_bed(path):
        if site.strand not in ("+", "-"):
            raise InputError(f"polyA site {site} has no strand (column 6)", path=path)
        if site.name and (site.name in ids or site.name in names):
            owners = [site.name if site.name in ids else names[site.name]]
        else:
            hit = genes[(genes["chrom"] == site.chrom) & (genes["strand"] == site.strand)
                        & (genes["start"] <= site.start) & (genes["end"] > site.start)]
            owners = list(hit["gene_id"].astype(str))
        rows += [{"chrom": site.chrom, "position": site.start, "strand": site.strand, "gene_id": g} for g in owners]
    return pd.DataFrame(rows, columns=["chrom", "position", "strand", "gene_id"])
