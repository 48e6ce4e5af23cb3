"""SpliceAI delta scores, computed as the original ``spliceai`` tool computes them, but faster.

This module owns the SpliceAI variant-scoring path: gene tables (the ``spliceai`` package's GRCh37
and GRCh38 tables, a table in that format, or a GTF), the rules of ``spliceai/utils.py``
``get_delta_scores`` (version 1.3.1), the batched computation, and the three outputs (a VCF with the
``SpliceAI`` INFO field, an AnnData with one row per variant x gene, a TSV).

The rules, as in the original:

- A variant is scored against every gene whose transcript (TX_START+1 .. TX_END, 1-based) holds its
  position. The model sees 10,000 + 2 x ``distance`` + 1 bases centred on the first REF base, with N
  outside the gene's transcript; minus-strand genes are predicted on the reverse complement.
- Deletions: the ALT prediction gets zeros where the deleted bases were. Insertions: the ALT
  prediction over the inserted bases is collapsed to their maximum. REF and ALT both longer than one
  base (MNVs, complex): ``ALT|GENE|.|.|.|.|.|.|.|.``.
- DS_AG = max(ALT - REF acceptor), DS_AL = max(REF - ALT acceptor), DS_DG / DS_DL the same for
  donors, within +/- ``distance``; DP_* are the positions of those maxima relative to the variant.
  With ``mask``, gains at the annotated exon boundary nearest the variant and losses anywhere else
  become 0.
- Printed as ``%.2f``; records are skipped near chromosome ends, with a REF that does not match the
  FASTA, or with a REF longer than 2 x ``distance``.

Where the original drops a record or an ALT silently (no gene, near a chromosome end, REF mismatch,
symbolic or ``*`` ALTs), every output here keeps it with a ``reason``.

Deliberate differences: lower-case REF/ALT are read as upper case (the original reports a REF
mismatch), and IUPAC codes in the FASTA are read as N (the original turns them into arbitrary bases).

How it is faster: REF predictions come from long stretches of each gene predicted once (tiles
shared by every variant they cover, see ``_plan_tiles``); an SNV's ALT prediction recomputes only
the activations its base change can reach (:meth:`SpliceAIEnsemble.snv_alt`); indels are predicted
in batches of fixed shapes, so each shape compiles once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from genome_plugin.errors import GenomePluginError, InputError
from genome_plugin.genome.reference import Reference
from genome_plugin.genome.sequence import one_hot, reverse_complement
from genome_plugin.genome.vcf import VcfRecord, _open_text, read_vcf

__all__ = [
    "INFO_HEADER",
    "GeneTable",
    "SpliceAIScores",
    "delta_scores",
    "load_gene_table",
    "score_vcf",
]

log = logging.getLogger(__name__)

#: The INFO header line the original tool (1.3.1) adds, verbatim, so existing filters keep working.
INFO_HEADER = (
    '##INFO=<ID=SpliceAI,Number=.,Type=String,Description="SpliceAIv1.3.1 variant '
    "annotation. These include delta scores (DS) and delta positions (DP) for "
    "acceptor gain (AG), acceptor loss (AL), donor gain (DG), and donor loss (DL). "
    'Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">'
)
REASON_KEY = "SpliceAI_REASON"
REASON_HEADER = (
    f'##INFO=<ID={REASON_KEY},Number=A,Type=String,Description="genome-plugin: why SpliceAI gave this ALT '
    'no score (spaces as _); . when scored">'
)
SCORE_NAMES = ("DS_AG", "DS_AL", "DS_DG", "DS_DL")
POSITION_NAMES = ("DP_AG", "DP_AL", "DP_DG", "DP_DL")
SCORE_DESCRIPTIONS = ("acceptor gain", "acceptor loss", "donor gain", "donor loss")
#: The original's -D accepts 0..4999.
MAX_DISTANCE = 4999
BUILTIN_TABLES = ("grch37", "grch38")
_TABLE_COLUMNS = ("#NAME", "CHROM", "STRAND", "TX_START", "TX_END", "EXON_START", "EXON_END")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/+\-]")
# Work sizes. SNV ALT batches and indel batches are padded to these, so each shape compiles once.
# One sequence per call: on a CPU a batch of long sequences runs no faster per base than one.
_INDEL_BATCH = 1
_LARGE_TILE = 8192
# SNVs per ALT call, by tile kind (a small tile mostly serves one SNV; padding slots cost full work).
_SNV_BATCH = {"small": 1, "large": 4}


# ---------------------------------------------------------------------------------------------
# Genes


def _bare(chrom: str) -> str:
    return chrom[3:] if chrom.lower().startswith("chr") else chrom


@dataclasses.dataclass
class GeneTable:
    """Genes as the SpliceAI tool reads them: one transcript per gene, 1-based closed coordinates.

    ``tx_starts``/``tx_ends`` are the transcript's first and last base; ``boundaries`` holds, per
    gene, the sorted exon starts and ends (1-based) that masking compares against.
    """

    names: np.ndarray
    chroms: np.ndarray
    strands: np.ndarray
    tx_starts: np.ndarray
    tx_ends: np.ndarray
    exon_starts: list[np.ndarray]
    exon_ends: list[np.ndarray]
    source: str = ""

    def __post_init__(self) -> None:
        self.boundaries = [np.union1d(s, e) for s, e in zip(self.exon_starts, self.exon_ends, strict=True)]
        self._by_chrom: dict[str, np.ndarray] = {}
        bare = np.array([_bare(str(c)) for c in self.chroms], dtype=object)
        for chrom in dict.fromkeys(bare):
            self._by_chrom[chrom] = np.flatnonzero(bare == chrom)

    def __len__(self) -> int:
        return len(self.names)

    def genes_at(self, chrom: str, pos: int) -> np.ndarray:
        """Indices (in table order, as the original) of the genes whose transcript holds 1-based ``pos``."""
        rows = self._by_chrom.get(_bare(chrom))
        if rows is None:
            return np.zeros(0, dtype=np.int64)
        hit = (self.tx_starts[rows] <= pos) & (pos <= self.tx_ends[rows])
        return rows[hit]

    def nearest_boundary(self, gene: int, pos: int) -> int:
        """Signed distance from ``pos`` to the gene's nearest exon boundary (the first of a tie, as the original)."""
        offsets = self.boundaries[gene] - pos
        return int(offsets[np.argmin(np.abs(offsets))])

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write the table in the ``spliceai`` package's format (usable as the original tool's ``-A``)."""
        frame = pd.DataFrame(
            {
                "#NAME": self.names,
                "CHROM": self.chroms,
                "STRAND": self.strands,
                "TX_START": self.tx_starts - 1,
                "TX_END": self.tx_ends,
                "EXON_START": ["".join(f"{v - 1}," for v in s) for s in self.exon_starts],
                "EXON_END": ["".join(f"{v}," for v in e) for e in self.exon_ends],
            }
        )
        frame.to_csv(path, sep="\t", index=False)
        return Path(path)


def _package_table(name: str) -> Path:
    from genome_plugin.model.spliceai import INSTALL_HINT

    try:
        dist = metadata.distribution("spliceai")
    except metadata.PackageNotFoundError as exc:
        msg = f"annotation {name!r} is the `spliceai` package's gene table, and that package is not installed: "
        raise GenomePluginError(msg + INSTALL_HINT) from exc
    path = Path(dist.locate_file(f"spliceai/annotations/{name}.txt"))
    if not path.is_file():
        msg = f"the installed `spliceai` {dist.version} lacks {path.name}: {INSTALL_HINT}"
        raise GenomePluginError(msg)
    return path


def _read_table(path: Path, source: str = "") -> GeneTable:
    try:
        frame = pd.read_csv(path, sep="\t", dtype={"CHROM": object})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read the gene table ({exc})", path=path) from exc
    missing = [c for c in _TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"gene table lacks column(s) {', '.join(missing)}", path=path)
    if frame.empty:
        raise InputError("gene table has no genes", path=path)
    bad = (~frame["STRAND"].astype(str).isin(["+", "-"])).to_numpy().nonzero()[0]
    if len(bad):
        raise InputError(f"STRAND is {frame['STRAND'].iloc[bad[0]]!r}; use + or -", path=path, line=int(bad[0]) + 2)

    def positions(text: object, row: int, column: str) -> np.ndarray:
        try:
            return np.asarray([int(v) for v in str(text).split(",")[:-1]], dtype=np.int64)
        except ValueError as exc:
            raise InputError(f"gene {frame['#NAME'].iloc[row]}: bad {column} list {text!r}", path=path) from exc

    return GeneTable(
        names=frame["#NAME"].astype(str).to_numpy(dtype=object),
        chroms=frame["CHROM"].astype(str).to_numpy(dtype=object),
        strands=frame["STRAND"].astype(str).to_numpy(dtype=object),
        tx_starts=frame["TX_START"].to_numpy(dtype=np.int64) + 1,
        tx_ends=frame["TX_END"].to_numpy(dtype=np.int64),
        exon_starts=[positions(v, i, "EXON_START") + 1 for i, v in enumerate(frame["EXON_START"])],
        exon_ends=[positions(v, i, "EXON_END") for i, v in enumerate(frame["EXON_END"])],
        source=source or str(path),
    )


def _gtf_table(path: Path) -> GeneTable:
    """One transcript per gene: the longest (then the one with most exons, then the first by id).

    The GTF reader keeps no ``tag`` attributes, so Ensembl-canonical or MANE transcripts cannot be
    preferred; the package's own tables hold GENCODE canonical transcripts.
    """
    from genome_plugin.genome.annotation import read_gtf

    annotation = read_gtf(path)
    exons = annotation.exons
    counts = exons.groupby("transcript_id").size().rename("exon_count")
    transcripts = annotation.transcripts.join(counts, on="transcript_id")
    transcripts = transcripts.assign(span=transcripts["end"] - transcripts["start"])
    chosen = (
        transcripts.sort_values(["span", "exon_count", "transcript_id"], ascending=[False, False, True])
        .drop_duplicates("gene_id")
        .sort_values(["chrom", "start", "gene_id"])
    )
    by_transcript = {tid: frame for tid, frame in exons.groupby("transcript_id")}
    starts, ends = [], []
    for tid in chosen["transcript_id"]:
        ordered = by_transcript[tid].sort_values("start")
        starts.append(ordered["start"].to_numpy(dtype=np.int64) + 1)
        ends.append(ordered["end"].to_numpy(dtype=np.int64))
    return GeneTable(
        names=chosen["gene_name"].astype(str).to_numpy(dtype=object),
        chroms=chosen["chrom"].astype(str).to_numpy(dtype=object),
        strands=chosen["strand"].astype(str).to_numpy(dtype=object),
        tx_starts=chosen["start"].to_numpy(dtype=np.int64) + 1,
        tx_ends=chosen["end"].to_numpy(dtype=np.int64),
        exon_starts=starts,
        exon_ends=ends,
        source=str(path),
    )


def load_gene_table(annotation: str | os.PathLike[str]) -> GeneTable:
    """Genes from ``"grch37"``/``"grch38"`` (the installed package's tables), a table in that format, or a GTF."""
    if str(annotation).lower() in BUILTIN_TABLES:
        name = str(annotation).lower()
        return _read_table(_package_table(name), source=f"{name} (spliceai package table)")
    path = Path(annotation)
    if not path.is_file():
        msg = f"annotation {str(annotation)!r} is neither grch37, grch38 nor an existing file"
        raise InputError(msg)
    with _open_text(path) as handle:
        first = handle.readline()
    if first.startswith("#NAME"):
        return _read_table(path)
    return _gtf_table(path)


# ---------------------------------------------------------------------------------------------
# The score arithmetic of spliceai/utils.py


def delta_scores(
    y_ref: np.ndarray, y_alt: np.ndarray, *, ref_len: int, alt_len: int, boundary: int, mask: bool, distance: int
) -> tuple[np.ndarray, np.ndarray]:
    """DS_AG, DS_AL, DS_DG, DS_DL and DP_* from REF and raw ALT predictions, exactly as ``spliceai`` 1.3.1.

    Parameters
    ----------
    y_ref
        ``(2 * distance + 1, 3)`` REF probabilities centred on the variant's first base.
    y_alt
        ALT probabilities as predicted: ``2 * distance + 1 - len(ref) + len(alt)`` positions.
    ref_len, alt_len
        Allele lengths (not both above 1).
    boundary
        Signed distance to the nearest annotated exon boundary (for masking).
    mask
        The original's ``-M 1``.

    Returns
    -------
    The four delta scores (float32, masked ones 0) and the four positions relative to the variant.
    """
    cov = 2 * distance + 1
    y_alt = np.asarray(y_alt, dtype=np.float32)
    if ref_len > 1 and alt_len == 1:
        deleted = ref_len - alt_len
        y_alt = np.concatenate(
            [y_alt[: cov // 2 + alt_len], np.zeros((deleted, 3), np.float32), y_alt[cov // 2 + alt_len :]]
        )
    elif ref_len == 1 and alt_len > 1:
        y_alt = np.concatenate(
            [y_alt[: cov // 2], y_alt[cov // 2 : cov // 2 + alt_len].max(axis=0)[None], y_alt[cov // 2 + alt_len :]]
        )
    y_ref = np.asarray(y_ref, dtype=np.float32)
    if y_alt.shape != y_ref.shape:
        msg = f"ALT predictions of shape {y_alt.shape} do not line up with REF {y_ref.shape}"
        raise ValueError(msg)
    gain_acc, loss_acc = y_alt[:, 1] - y_ref[:, 1], y_ref[:, 1] - y_alt[:, 1]
    gain_don, loss_don = y_alt[:, 2] - y_ref[:, 2], y_ref[:, 2] - y_alt[:, 2]
    idx = np.array([gain_acc.argmax(), loss_acc.argmax(), gain_don.argmax(), loss_don.argmax()])
    positions = idx - cov // 2
    masked = np.array(
        [positions[0] == boundary, positions[1] != boundary, positions[2] == boundary, positions[3] != boundary]
    ) & bool(mask)
    raw = np.array([gain_acc[idx[0]], loss_acc[idx[1]], gain_don[idx[2]], loss_don[idx[3]]], dtype=np.float32)
    # The original multiplies by (1 - mask), which keeps the sign of a masked negative value (-0.00).
    scores = raw * (1 - masked).astype(np.float32)
    return scores, positions


# ---------------------------------------------------------------------------------------------
# What to compute


@dataclasses.dataclass
class _Job:
    """One prediction task: a variant in one masked, stranded context (shared by genes with the same one)."""

    chrom: str  # the FASTA's name
    strand: str
    tx: tuple[int, int]  # 0-based half-open span kept; N outside
    pos0: int  # 0-based first REF base
    ref: str
    alt: str
    y_ref: np.ndarray | None = None
    y_alt: np.ndarray | None = None

    @property
    def is_snv(self) -> bool:
        return len(self.ref) == 1 and len(self.alt) == 1


@dataclasses.dataclass
class _Row:
    """One output row: a (record, ALT) with one gene, or without genes when it has a reason."""

    record: VcfRecord
    gene: int | None = None
    job: _Job | None = None
    reason: str = ""
    boundary: int = 0


def _check_distance(distance: int) -> None:
    if not 0 <= distance <= MAX_DISTANCE:
        msg = f"distance must be 0..{MAX_DISTANCE} bp (as the original tool's -D), got {distance}"
        raise InputError(msg)


def _plan_rows(
    records: Iterable[VcfRecord], reference: Reference, genes: GeneTable, distance: int
) -> tuple[list[_Row], list[_Job]]:
    half = 5000 + distance  # the original's wid // 2
    rows: list[_Row] = []
    jobs: dict[tuple, _Job] = {}
    for record in records:
        if not record.ok:
            rows.append(_Row(record, reason=record.reason))
            continue
        variant = record.variant
        hits = genes.genes_at(variant.chrom, variant.pos)
        if len(hits) == 0:
            rows.append(_Row(record, reason=f"no gene of the annotation contains {variant.chrom}:{variant.pos}"))
            continue
        chrom = reference.require(variant.chrom)
        length = reference.length(chrom)
        if variant.pos - half - 1 < 0 or variant.pos + half > length:
            reason = f"closer than {half} bp to an end of {variant.chrom} (SpliceAI needs {2 * half + 1} bp around it)"
            rows.append(_Row(record, reason=reason))
            continue
        if len(variant.ref) > 2 * distance:
            reason = f"REF of {len(variant.ref)} bp is longer than 2 x distance ({2 * distance} bp)"
            rows.append(_Row(record, reason=reason))
            continue
        for gene in hits:
            if len(variant.ref) > 1 and len(variant.alt) > 1:
                reason = "REF and ALT both longer than 1 bp (MNV or complex): SpliceAI does not score it"
                rows.append(_Row(record, gene=int(gene), reason=reason))
                continue
            tx = (int(genes.tx_starts[gene]) - 1, int(genes.tx_ends[gene]))
            key = (chrom, genes.strands[gene], tx, variant.pos - 1, variant.ref, variant.alt)
            job = jobs.setdefault(
                key, _Job(chrom, str(genes.strands[gene]), tx, variant.pos - 1, variant.ref, variant.alt)
            )
            rows.append(_Row(record, gene=int(gene), job=job, boundary=genes.nearest_boundary(gene, variant.pos)))
    return rows, list(jobs.values())


# ---------------------------------------------------------------------------------------------
# Computing the predictions


def _masked(reference: Reference, chrom: str, start: int, end: int, tx: tuple[int, int]) -> str:
    """Bases ``[start, end)`` with N outside the transcript span ``tx`` (and past the chromosome ends)."""
    sequence = reference.fetch(chrom=chrom, start=start, end=end)
    lo = min(max(tx[0] - start, 0), end - start)
    hi = min(max(tx[1] - start, 0), end - start)
    return "N" * lo + sequence[lo:hi] + "N" * (end - start - hi)


@dataclasses.dataclass
class _Tile:
    """REF outputs ``[start, start + size)`` of one masked, stranded context, and the jobs that read them."""

    chrom: str
    strand: str
    tx: tuple[int, int]
    start: int
    size: int
    jobs: list[_Job]


def _tile_sizes(distance: int) -> dict[str, int]:
    small = -(-(2 * distance + 1) // 64) * 64
    return {"small": small, "large": max(_LARGE_TILE, 4 * small)}


def _plan_tiles(jobs: Sequence[_Job], distance: int, flank: int) -> list[_Tile]:
    """Cover every job's REF window with tiles, preferring a large tile where it serves several variants.

    Tracing a tile of ``size`` outputs costs about ``size + 1.29 * flank`` outputs' worth of work
    (the context shrinks layer by layer), so a large tile pays off once it covers two variants.
    """
    sizes = _tile_sizes(distance)
    groups: dict[tuple, list[_Job]] = {}
    for job in jobs:
        groups.setdefault((job.chrom, job.strand, job.tx), []).append(job)
    tiles = []
    for (chrom, strand, tx), members in groups.items():
        members.sort(key=lambda j: j.pos0)
        positions = np.array([j.pos0 for j in members])
        i = 0
        while i < len(members):
            start = positions[i] - distance
            best = None
            for kind, size in sizes.items():
                covered = int(np.searchsorted(positions, start + size - distance, side="left")) - i
                cost = (size + 1.29 * flank) / covered
                if best is None or cost < best[0]:
                    best = (cost, kind, size, covered)
            _, kind, size, covered = best
            tiles.append(_Tile(chrom, strand, tx, int(start), size, members[i : i + covered]))
            i += covered
    return tiles


class _Engine:
    """Fills ``y_ref``/``y_alt`` of jobs with the ensemble, in fixed-shape batches."""

    def __init__(self, ensemble: Any, reference: Reference, distance: int, progress: bool) -> None:
        self.ensemble = ensemble
        self.reference = reference
        self.distance = distance
        self.flank = ensemble.flank
        self.progress = progress

    def run(self, jobs: Sequence[_Job]) -> None:
        tiles = _plan_tiles(jobs, self.distance, self.flank)
        sizes = _tile_sizes(self.distance)
        # Sorted by inserted length, so that batches share input lengths (one compilation each).
        indels = sorted((j for j in jobs if not j.is_snv), key=lambda j: len(j.alt) - len(j.ref))
        with tqdm(total=len(jobs), desc="SpliceAI", unit="variant", disable=not self.progress) as bar:
            for kind, size in sizes.items():
                for tile in (t for t in tiles if t.size == size):
                    bar.update(self._run_tile(tile, _SNV_BATCH[kind]))
            for first in range(0, len(indels), _INDEL_BATCH):
                self._run_indels(indels[first : first + _INDEL_BATCH])
                bar.update(len(indels[first : first + _INDEL_BATCH]))

    def _run_tile(self, tile: _Tile, snv_batch: int) -> int:
        """REF windows of every job of ``tile`` and ALT windows of its SNVs; returns how many jobs finished."""
        d, flank, size = self.distance, self.flank, tile.size
        minus = tile.strand == "-"
        seq = _masked(self.reference, tile.chrom, tile.start - flank, tile.start + size + flank, tile.tx)
        inputs = one_hot(reverse_complement(seq) if minus else seq)[None]
        snvs = [job for job in tile.jobs if job.is_snv]
        # Predicted on the reverse complement for - strand genes: positions and bases mirrored.
        offsets = np.array([job.pos0 - tile.start for job in snvs], dtype=np.int32)
        positions = size - 1 - offsets if minus else offsets
        alts = np.stack([one_hot(reverse_complement(j.alt) if minus else j.alt)[0] for j in snvs] or [np.zeros(4)])
        ref, alt = self.ensemble.ref_and_snv_alt(
            inputs, np.zeros(len(snvs), np.int32), positions, alts[: len(snvs)], distance=d, batch=snv_batch
        )
        plus = ref[0, ::-1] if minus else ref[0]
        for job in tile.jobs:
            p = job.pos0 - tile.start
            job.y_ref = np.array(plus[p - d : p + d + 1])
        for row, job in enumerate(snvs):
            job.y_alt = np.array(alt[row, ::-1] if minus else alt[row])
        return len(snvs)

    def _run_indels(self, jobs: Sequence[_Job]) -> None:
        d, flank = self.distance, self.flank
        half = flank + d
        inserted = max(len(j.alt) - len(j.ref) for j in jobs)
        # Deletions and insertions up to 16 bp share one input length; longer insertions a power of 2.
        extra = 1 << max(4, (max(inserted, 1) - 1).bit_length())
        length = 2 * half + 1 + extra
        inputs = np.zeros((_INDEL_BATCH, length, 4), dtype=np.float32)
        for k, job in enumerate(jobs):
            # As the original: mask the REF window, then put ALT in place of REF; past its end, more REF.
            left = _masked(self.reference, job.chrom, job.pos0 - half, job.pos0, job.tx)
            right_start = job.pos0 + len(job.ref)
            right_len = length - half - len(job.alt)
            right = _masked(self.reference, job.chrom, right_start, right_start + right_len, job.tx)
            seq = left + job.alt + right
            inputs[k] = one_hot(reverse_complement(seq) if job.strand == "-" else seq)
        probabilities = np.asarray(self.ensemble(inputs))
        for k, job in enumerate(jobs):
            values = probabilities[k, ::-1] if job.strand == "-" else probabilities[k]
            job.y_alt = np.array(values[: 2 * d + 1 - len(job.ref) + len(job.alt)])


# ---------------------------------------------------------------------------------------------
# Results and outputs


@dataclasses.dataclass
class SpliceAIScores:
    """SpliceAI scores of a VCF: one row per (record, ALT, gene), or per (record, ALT) when not scored.

    ``frame`` holds the row metadata, ``scores`` (rows, 4) the delta scores DS_AG, DS_AL, DS_DG, DS_DL
    (NaN where not scored), ``positions`` (rows, 4) DP_* (NaN where not scored), ``info`` the
    ``SpliceAI`` INFO entry of each row ("" when the original writes none).
    """

    frame: pd.DataFrame
    scores: np.ndarray
    positions: np.ndarray
    vcf: Path
    reference: Path
    annotation: str
    distance: int
    mask: bool
    model_card: dict[str, Any]

    @property
    def scored(self) -> np.ndarray:
        return (self.frame["reason"] == "").to_numpy()

    def table(self) -> pd.DataFrame:
        """Rows with their scores and positions (what the TSV holds)."""
        out = self.frame.drop(columns=["record", "allele"]).copy()
        for k, name in enumerate(SCORE_NAMES):
            out[name] = self.scores[:, k]
        for k, name in enumerate(POSITION_NAMES):
            out[name] = pd.array([None if np.isnan(v) else int(v) for v in self.positions[:, k]], dtype="Int64")
        return out[[c for c in out.columns if c != "reason"] + ["reason"]]

    def write_tsv(self, path: str | os.PathLike[str]) -> Path:
        """Tab-separated table, one line per row; unscored cells empty, delta scores unrounded (%.6g)."""
        self.table().to_csv(path, sep="\t", index=False, float_format="%.6g", na_rep="")
        return Path(path)

    def to_anndata(self) -> Any:
        """AnnData: obs = rows, var = the four delta scores, X = DS_*, layers["positions"] = DP_*."""
        import anndata as ad

        from genome_plugin.adata import provenance, validate
        from genome_plugin.tracks import OutputType, TrackTable

        var = TrackTable(
            [
                {"name": name, "strand": ".", "description": f"SpliceAI delta score: {what}", "position": pos}
                for name, what, pos in zip(SCORE_NAMES, SCORE_DESCRIPTIONS, POSITION_NAMES, strict=True)
            ],
            source="SpliceAI scores",
        ).to_var()
        obs = self.frame.copy()
        obs["reason"] = obs["reason"].astype(str)
        # the AlphaGenome SDK's obs names (genome_plugin.scoring.sdk); SpliceAI's gene tables name genes only
        obs = obs.rename(columns={"gene_strand": "strand"})
        obs.insert(int(obs.columns.get_loc("gene_name")), "gene_id", "")
        # the bases the delta scores look at, variant +- distance, from 0 (the N padding past the end stays in)
        start = np.maximum(obs["pos"].to_numpy(np.int64) - 1 - self.distance, 0)
        end = obs["pos"].to_numpy(np.int64) - 1 + obs["ref"].str.len().to_numpy(np.int64) + self.distance
        obs["scored_interval"] = [f"{c}:{a}-{b}:." if not r else ""
                                  for c, a, b, r in zip(obs["chrom"], start, end, obs["reason"], strict=True)]
        obs.index = [f"{r}:{a}:{g}" for r, a, g in zip(obs["record"], obs["allele"], obs["gene_name"], strict=True)]
        if not obs.index.is_unique:
            obs.index = [f"{name}#{k}" for k, name in enumerate(obs.index)]
        adata = ad.AnnData(X=self.scores.astype(np.float32), obs=obs, var=var)
        adata.layers["positions"] = self.positions.astype(np.float32)
        uns = provenance(
            "variant_scores",
            output_type=OutputType.SPLICE_SITES,
            resolution=1,
            reference=self.reference,
            scorer="spliceai_delta",
            scorer_definition={
                "name": "spliceai_delta",
                "distance": self.distance,
                "mask": self.mask,
                "annotation": self.annotation,
                "compatible_with": "spliceai 1.3.1 (get_delta_scores)",
            },
            vcf=self.vcf.name,
        )
        uns.update(
            model=str(self.model_card.get("name", "spliceai")),
            model_version=str(self.model_card.get("version", "")),
            checkpoint_sha256=str(self.model_card.get("weights_sha256", "")),
        )
        adata.uns["genome_plugin"] = uns
        adata.uns["variant_scorer"] = "spliceai_delta"  # no SDK equivalent: our name, as in the TSVs
        return validate(adata)

    def write_h5ad(self, path: str | os.PathLike[str]) -> Path:
        from genome_plugin.adata import write_h5ad

        write_h5ad(self.to_anndata(), path)
        return Path(path)

    def write_vcf(self, path: str | os.PathLike[str]) -> Path:
        """The input VCF with the original's ``SpliceAI`` INFO field, plus ``SpliceAI_REASON`` per ALT.

        Every data line comes out in input order; records the original leaves unannotated carry
        only the reason.
        """
        info: dict[int, list[str]] = {}
        reasons: dict[int, dict[int, str]] = {}
        alleles: dict[int, int] = {}
        for row in self.frame.itertuples(index=False):
            alleles[row.record] = max(alleles.get(row.record, 0), row.allele)
            if row.spliceai:
                info.setdefault(row.record, []).append(row.spliceai)
            if row.reason:
                reasons.setdefault(row.record, {})[row.allele] = row.reason
        record = 0
        with _open_text(self.vcf) as handle, open(path, "w", newline="\n") as out:
            for text in handle:
                text = text.rstrip("\n").rstrip("\r")
                if text.startswith("##"):
                    if not text.startswith(("##INFO=<ID=SpliceAI,", f"##INFO=<ID={REASON_KEY},")):
                        out.write(text + "\n")
                    continue
                if text.startswith("#"):
                    out.write(INFO_HEADER + "\n" + REASON_HEADER + "\n" + text + "\n")
                    continue
                if not text.strip():
                    continue
                fields = text.split("\t")
                fields += ["."] * (8 - len(fields))
                kept = [
                    f
                    for f in fields[7].split(";")
                    if f and f != "." and not f.startswith(("SpliceAI=", f"{REASON_KEY}="))
                ]
                if record in info:
                    kept.append("SpliceAI=" + ",".join(info[record]))
                if record in reasons:
                    values = [
                        _UNSAFE.sub("_", reasons[record].get(a, "")) or "." for a in range(1, alleles[record] + 1)
                    ]
                    kept.append(f"{REASON_KEY}=" + ",".join(values))
                fields[7] = ";".join(kept) or "."
                out.write("\t".join(fields) + "\n")
                record += 1
        return Path(path)


def _info_entry(alt: str, gene: str, scores: np.ndarray | None, positions: np.ndarray | None) -> str:
    if scores is None:
        return f"{alt}|{gene}|.|.|.|.|.|.|.|."
    ds = "|".join(f"{v:.2f}" for v in scores)
    dp = "|".join(str(int(v)) for v in positions)
    return f"{alt}|{gene}|{ds}|{dp}"


def score_vcf(
    vcf: str | os.PathLike[str],
    fasta: str | os.PathLike[str],
    annotation: str | os.PathLike[str] | GeneTable,
    *,
    model: Any = None,
    distance: int = 50,
    mask: bool = False,
    progress: bool = True,
) -> SpliceAIScores:
    """Score every record of ``vcf`` as the ``spliceai`` tool (1.3.1) does.

    Parameters
    ----------
    vcf
        Variants (plain or bgzipped VCF).
    fasta
        The reference genome the VCF was called against.
    annotation
        ``"grch37"``, ``"grch38"``, a SpliceAI gene table, a GTF, or a :class:`GeneTable`.
    model
        A loaded ``spliceai`` model (:func:`genome_plugin.plugins.load_model`); loaded when None.
    distance
        Largest distance (bp) between the variant and a gained or lost splice site (the original's ``-D``).
    mask
        Mask gains at annotated sites and losses at unannotated ones (the original's ``-M 1``).
    progress
        Show a progress bar.
    """
    _check_distance(distance)
    genes = annotation if isinstance(annotation, GeneTable) else load_gene_table(annotation)
    if model is None:
        from genome_plugin.plugins import load_model

        model = load_model("spliceai")
    ensemble = getattr(model, "ensemble", None)
    if ensemble is None or not hasattr(ensemble, "ref_and_snv_alt"):
        msg = f"SpliceAI scoring needs the spliceai model, not {getattr(model, 'name', model)!r}"
        raise GenomePluginError(msg)
    with Reference(fasta) as reference:
        records = list(read_vcf(vcf, reference=reference))
        rows, jobs = _plan_rows(records, reference, genes, distance)
        log.info("SpliceAI: %d record ALT(s), %d prediction(s) to make", len(records), len(jobs))
        _Engine(ensemble, reference, distance, progress).run(jobs)

    columns: dict[str, list] = {
        k: []
        for k in (
            "variant_id",
            "chrom",
            "pos",
            "ref",
            "alt",
            "id",
            "record",
            "allele",
            "gene_name",
            "gene_strand",
            "spliceai",
            "reason",
        )
    }
    scores = np.full((len(rows), 4), np.nan, dtype=np.float32)
    positions = np.full((len(rows), 4), np.nan, dtype=np.float32)
    for k, row in enumerate(rows):
        rec = row.record
        gene = "" if row.gene is None else str(genes.names[row.gene])
        entry = ""
        if row.job is not None:
            s, p = delta_scores(
                row.job.y_ref,
                row.job.y_alt,
                ref_len=len(row.job.ref),
                alt_len=len(row.job.alt),
                boundary=row.boundary,
                mask=mask,
                distance=distance,
            )
            scores[k], positions[k] = s, p
            entry = _info_entry(rec.alt, gene, s, p)
        elif row.gene is not None:
            entry = _info_entry(rec.alt, gene, None, None)
        for key, value in (
            ("variant_id", rec.variant_id),
            ("chrom", rec.chrom),
            ("pos", rec.pos),
            ("ref", rec.ref),
            ("alt", rec.alt),
            ("id", rec.id),
            ("record", rec.record),
            ("allele", rec.allele),
            ("gene_name", gene),
            ("gene_strand", "" if row.gene is None else str(genes.strands[row.gene])),
            ("spliceai", entry),
            ("reason", row.reason),
        ):
            columns[key].append(value)
    frame = pd.DataFrame(columns)
    card = model.card() if hasattr(model, "card") else {}
    return SpliceAIScores(frame, scores, positions, Path(vcf), Path(fasta), genes.source, distance, bool(mask), card)
