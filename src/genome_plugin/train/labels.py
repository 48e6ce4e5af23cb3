"""Training labels that are not bigWig coverage: folds, splice-site classes, junction counts and site usage.

Coordinates are 0-based. A splice donor is the last exon base before an intron and an acceptor the first
exon base after it, both on the transcript's strand (SpliceAI's labels; the contract in ``train.batch``).
On the - strand the donor therefore lies at the genomically higher end of the intron.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from genome_plugin.errors import InputError
from genome_plugin.genome.reference import Reference

__all__ = [
    "FOLDS",
    "FoldRegion",
    "JunctionTable",
    "read_folds",
    "read_junctions",
    "splice_sites_from_genes",
    "site_usage",
]

log = logging.getLogger(__name__)

FOLDS = ("train", "valid", "test")
_SJ_COLUMNS = 9


@dataclasses.dataclass(frozen=True)
class FoldRegion:
    """One BED line of the folds file: a region of a contig (FASTA name) assigned to one fold."""

    chrom: str
    start: int
    end: int
    fold: str
    line: int


def read_folds(path: str | os.PathLike[str], reference: Reference) -> list[FoldRegion]:
    """Read a folds BED (column 4 = ``train``, ``valid`` or ``test``) and check it against ``reference``.

    Raises a one-line :class:`InputError` naming the BED line for a malformed line, an unknown fold, a
    contig missing from the FASTA, a region past the contig end, or two overlapping regions (naming both
    lines): a window must never see sequence of two folds.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("folds BED file not found", path=path)
    regions: list[FoldRegion] = []
    with open(path) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip() or text.startswith(("#", "track", "browser")):
                continue
            fields = text.rstrip("\n\r").split("\t")
            if len(fields) < 4:
                raise InputError(f"expected chrom, start, end and fold name, got {len(fields)} column(s)",
                                 path=path, line=number)
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise InputError(f"start/end {fields[1]!r}/{fields[2]!r} are not integers", path=path,
                                 line=number) from None
            if not 0 <= start < end:
                raise InputError(f"bad region {start}-{end} (need 0 <= start < end)", path=path, line=number)
            fold = fields[3].strip()
            if fold not in FOLDS:
                raise InputError(f"fold name {fold!r} is not one of {', '.join(FOLDS)}", path=path, line=number)
            chrom = reference.resolve(fields[0])
            if chrom is None:
                raise InputError(f"contig {fields[0]!r} is not in the FASTA {reference.name}", path=path, line=number)
            if end > reference.contigs[chrom]:
                raise InputError(f"region ends at {end}, past the end of {chrom} ({reference.contigs[chrom]} bp)",
                                 path=path, line=number)
            regions.append(FoldRegion(chrom, start, end, fold, number))
    if not regions:
        raise InputError("folds BED has no regions", path=path)
    by_chrom: dict[str, list[FoldRegion]] = {}
    for region in regions:
        by_chrom.setdefault(region.chrom, []).append(region)
    for chrom_regions in by_chrom.values():
        chrom_regions.sort(key=lambda r: (r.start, r.end))
        reach = chrom_regions[0]
        for region in chrom_regions[1:]:
            if region.start < reach.end:
                first, second = sorted((reach.line, region.line))
                shared = f"{region.chrom}:{max(region.start, reach.start)}-{min(region.end, reach.end)}"
                raise InputError(f"regions of lines {first} and {second} overlap ({shared}); folds must not overlap",
                                 path=path, line=second)
            if region.end > reach.end:
                reach = region
    return regions


def splice_sites_from_genes(genes, reference: Reference) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Splice-site classes of every intron of a SpliceAI-style gene table, per FASTA contig.

    ``genes`` is a :class:`genome_plugin.scoring.spliceai.GeneTable` (one transcript per gene; from the
    ``spliceai`` package's tables or a GTF via ``load_gene_table``). Genes on contigs the FASTA lacks, or
    running past the end of the FASTA's contig (a truncated chromosome), are left out and counted in the
    log (a genome-wide table against a one-chromosome FASTA is the normal case).

    Returns
    -------
    ``{contig: (positions, classes)}``, positions sorted (0-based), classes as in ``SPLICE_CLASSES``. Where
    two genes label the same base differently, the later gene in the table wins.
    """
    from genome_plugin.train.batch import SPLICE_CLASSES

    donor_plus, acceptor_plus = SPLICE_CLASSES.index("donor+"), SPLICE_CLASSES.index("acceptor+")
    donor_minus, acceptor_minus = SPLICE_CLASSES.index("donor-"), SPLICE_CLASSES.index("acceptor-")
    positions: dict[str, list[np.ndarray]] = {}
    classes: dict[str, list[np.ndarray]] = {}
    past_end = 0
    for i in range(len(genes)):
        chrom = reference.resolve(str(genes.chroms[i]))
        if chrom is None:
            continue
        if genes.tx_ends[i] > reference.contigs[chrom]:
            past_end += 1
            continue
        order = np.argsort(genes.exon_starts[i])
        starts = np.asarray(genes.exon_starts[i])[order] - 1  # 0-based first exon base
        ends = np.asarray(genes.exon_ends[i])[order] - 1  # 0-based last exon base
        if len(starts) < 2:
            continue
        left, right = ends[:-1], starts[1:]  # exon bases flanking each intron, genomic order
        if str(genes.strands[i]) == "-":
            site_classes = (np.full(len(left), acceptor_minus), np.full(len(right), donor_minus))
        else:
            site_classes = (np.full(len(left), donor_plus), np.full(len(right), acceptor_plus))
        positions.setdefault(chrom, []).extend([left, right])
        classes.setdefault(chrom, []).extend(site_classes)
    if past_end:
        log.info("%s: %d gene(s) running past the end of their FASTA contig left out", genes.source, past_end)
    out = {}
    for chrom in positions:
        pos = np.concatenate(positions[chrom]).astype(np.int64)
        cls = np.concatenate(classes[chrom]).astype(np.int32)
        # Stable sort, then keep the last label of each base (the later gene wins).
        order = np.argsort(pos, kind="stable")
        pos, cls = pos[order], cls[order]
        last = np.r_[pos[1:] != pos[:-1], True]
        out[chrom] = (pos[last], cls[last])
    return out


@dataclasses.dataclass(frozen=True)
class JunctionTable:
    """Junctions of one STAR ``SJ.out.tab``: 0-based donor and acceptor bases, strand 0 '+' / 1 '-', reads."""

    chrom: np.ndarray
    donor: np.ndarray
    acceptor: np.ndarray
    strand: np.ndarray
    reads: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return len(self.donor)


def read_junctions(path: str | os.PathLike[str], reference: Reference) -> JunctionTable:
    """Read a STAR ``SJ.out.tab`` (chrom, intron start, intron end (1-based, closed), strand 0/1/2, motif,
    annotated, unique reads, multi-mapping reads, max overhang).

    Counts are the uniquely mapped reads (column 7), as most junction quantifications use. Junctions of
    undefined strand (0: non-canonical motif in unstranded data) have no donor or acceptor side, so they
    are left out and their number is logged. Contigs the FASTA lacks are left out and logged too.
    A malformed line is a one-line :class:`InputError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("junction table not found", path=path)
    chroms, donors, acceptors, strands, reads = [], [], [], [], []
    unstranded = missing_contig = 0
    with open(path) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip() or text.startswith("#"):
                continue
            fields = text.rstrip("\n\r").split("\t")
            if len(fields) < _SJ_COLUMNS:
                raise InputError(f"expected the {_SJ_COLUMNS} tab-separated columns of STAR's SJ.out.tab, got "
                                 f"{len(fields)}", path=path, line=number)
            try:
                first, last, strand, unique = int(fields[1]), int(fields[2]), int(fields[3]), int(fields[6])
            except ValueError:
                raise InputError("intron start, end, strand and unique reads must be integers", path=path,
                                 line=number) from None
            if not 1 <= first <= last:
                raise InputError(f"bad intron {first}-{last} (1-based, need 1 <= start <= end)", path=path,
                                 line=number)
            if strand not in (0, 1, 2):
                raise InputError(f"strand {strand} is not 0 (undefined), 1 (+) or 2 (-)", path=path, line=number)
            if unique < 0:
                raise InputError(f"negative read count {unique}", path=path, line=number)
            if strand == 0:
                unstranded += 1
                continue
            chrom = reference.resolve(fields[0])
            if chrom is None:
                missing_contig += 1
                continue
            if last > reference.contigs[chrom]:
                raise InputError(f"intron ends at {last}, past the end of {chrom}", path=path, line=number)
            # 0-based: the exon base before the intron is first - 2, the one after it is last.
            before, after = first - 2, last
            plus = strand == 1
            chroms.append(chrom)
            donors.append(before if plus else after)
            acceptors.append(after if plus else before)
            strands.append(0 if plus else 1)
            reads.append(unique)
    if unstranded:
        log.info("%s: %d junction(s) of undefined strand left out", path.name, unstranded)
    if missing_contig:
        log.info("%s: %d junction(s) on contigs not in the FASTA left out", path.name, missing_contig)
    return JunctionTable(
        chrom=np.asarray(chroms, dtype=object),
        donor=np.asarray(donors, dtype=np.int64),
        acceptor=np.asarray(acceptors, dtype=np.int64),
        strand=np.asarray(strands, dtype=np.int8),
        reads=np.asarray(reads, dtype=np.float64),
        source=str(path),
    )


def site_usage(junctions: JunctionTable) -> pd.DataFrame:
    """Usage of every splice site of ``junctions``, with no unspliced reads (an approximation; see below).

    SpliSER's splice-site strength is ``alpha / (alpha + beta1 + beta2)``: alpha = reads splicing at the
    site, beta1 = reads running through it unspliced, beta2 = reads splicing a partner of the site to a
    competing site. A junction table has no unspliced reads, so beta1 = 0: usage of a donor is its junction
    reads over all reads arriving at its junctions' acceptors (and symmetrically for acceptors). A
    constitutive site gets 1; a site skipped by exon skipping gets its share of the skipping.

    Returns
    -------
    Columns ``chrom``, ``position``, ``strand`` (0 '+', 1 '-'), ``site`` (``donor``/``acceptor``), ``usage``.
    """
    frame = pd.DataFrame({"chrom": junctions.chrom, "donor": junctions.donor, "acceptor": junctions.acceptor,
                          "strand": junctions.strand, "reads": junctions.reads})
    frame = frame.groupby(["chrom", "strand", "donor", "acceptor"], as_index=False)["reads"].sum()
    parts = []
    for site, partner in (("donor", "acceptor"), ("acceptor", "donor")):
        partner_total = frame.groupby(["chrom", "strand", partner])["reads"].transform("sum")
        grouped = frame.assign(partner_total=partner_total).groupby(["chrom", "strand", site], as_index=False)[
            ["reads", "partner_total"]].sum()
        usage = np.divide(grouped["reads"], grouped["partner_total"], out=np.zeros(len(grouped)),
                          where=grouped["partner_total"].to_numpy() > 0)
        parts.append(pd.DataFrame({"chrom": grouped["chrom"], "position": grouped[site].astype(np.int64),
                                   "strand": grouped["strand"].astype(np.int8), "site": site, "usage": usage}))
    return pd.concat(parts, ignore_index=True)


def strand_filter(strand: str) -> Sequence[int]:
    """Junction strands (0 '+', 1 '-') a track of ``strand`` (``+``, ``-`` or ``.``) counts."""
    return {"+": (0,), "-": (1,), ".": (0, 1)}[strand]
