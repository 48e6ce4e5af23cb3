"""Gene annotation from GTF (via pyranges): genes, transcripts, exons and polyA sites as DataFrames.

Coordinates are 0-based half-open (pyranges converts the GTF's 1-based closed ones). Every table has
``chrom``, ``start``, ``end``, ``strand``, ``gene_id``, ``gene_name``, ``gene_type``.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from pathlib import Path

import pandas as pd
import pyranges as pr

from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Interval

__all__ = ["Annotation", "read_gtf"]

GENE_COLUMNS = ["chrom", "start", "end", "strand", "gene_id", "gene_name", "gene_type"]


@dataclasses.dataclass(frozen=True)
class Annotation:
    """Genes, transcripts and exons of one GTF."""

    genes: pd.DataFrame
    transcripts: pd.DataFrame
    exons: pd.DataFrame
    source: str = ""

    def genes_in(self, interval: Interval, *, fully: bool = True) -> pd.DataFrame:
        """Genes inside ``interval`` (``fully``) or overlapping it."""
        g = self.genes
        on = g["chrom"] == interval.chrom
        if fully:
            hit = on & (g["start"] >= interval.start) & (g["end"] <= interval.end)
        else:
            hit = on & (g["start"] < interval.end) & (g["end"] > interval.start)
        return g[hit]

    def exons_of(self, gene_id: str) -> pd.DataFrame:
        return self.exons[self.exons["gene_id"] == gene_id]

    def polya_sites(self) -> pd.DataFrame:
        """One polyA site per distinct transcript 3' end: 0-based ``position`` of the last transcribed base."""
        t = self.transcripts
        position = t["end"].where(t["strand"] == "+", t["start"] + 1) - 1
        sites = t.assign(position=position)[["chrom", "position", "strand", "gene_id", "gene_name", "gene_type"]]
        return sites.drop_duplicates(["chrom", "position", "strand", "gene_id"]).reset_index(drop=True)


def _raise_bad_strand(path: Path) -> None:
    """Name the first line whose strand (column 7) is not +, - or . (pyranges keeps no line numbers)."""
    with open(path, "rb") as handle:
        opener = gzip.open if handle.read(2) == b"\x1f\x8b" else open
    with opener(path, "rt") as handle:
        for number, text in enumerate(handle, start=1):
            fields = text.rstrip("\n\r").split("\t")
            if not text.startswith("#") and len(fields) > 6 and fields[6] not in ("+", "-", "."):
                raise InputError(f"strand (column 7) is {fields[6]!r}; use +, - or .", path=path, line=number)
    raise InputError("a feature's strand is not +, - or .", path=path)


def read_gtf(path: str | os.PathLike[str]) -> Annotation:
    """Read a GTF (plain or gzipped) into genes, transcripts and exons.

    ``gene_type`` falls back to ``gene_biotype`` (Ensembl); ``gene_name`` to ``gene_id``. Genes without a
    ``gene`` line are derived from their exons. Raises a one-line :class:`InputError` naming the file for
    a missing/empty/malformed file or missing ``gene_id`` attributes.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("GTF file not found", path=path)
    if path.stat().st_size == 0:
        raise InputError("GTF file is empty", path=path)
    try:
        df = pr.read_gtf(str(path), as_df=True)
    except Exception as err:  # pyranges/pandas raise a variety of parser errors
        raise InputError(f"cannot parse GTF ({type(err).__name__}: {err})", path=path) from err
    if df is None or len(df) == 0:
        raise InputError("GTF has no features", path=path)
    df = df.rename(columns={"Chromosome": "chrom", "Start": "start", "End": "end", "Strand": "strand",
                            "Feature": "feature"})
    if "gene_id" not in df.columns or df["gene_id"].isna().any():
        bad = df.index[df["gene_id"].isna()][0] + 1 if "gene_id" in df.columns else 1
        raise InputError(f"feature {bad} has no gene_id attribute", path=path)
    if "gene_type" not in df.columns:
        df["gene_type"] = df["gene_biotype"] if "gene_biotype" in df.columns else "unknown"
    if "gene_name" not in df.columns:
        df["gene_name"] = df["gene_id"]
    df["gene_name"] = df["gene_name"].fillna(df["gene_id"])
    df["gene_type"] = df["gene_type"].fillna("unknown")
    df["chrom"] = df["chrom"].astype(str)
    df["strand"] = df["strand"].astype(str)
    if not df["strand"].isin(["+", "-", "."]).all():
        _raise_bad_strand(path)
    df["feature"] = df["feature"].astype(str)

    exons = df[df["feature"] == "exon"].copy()
    if exons.empty:
        raise InputError("GTF has no exon features", path=path)
    if "transcript_id" not in exons.columns or exons["transcript_id"].isna().any():
        raise InputError("an exon has no transcript_id attribute", path=path)
    genes = df[df["feature"] == "gene"][GENE_COLUMNS]
    derived = exons.groupby("gene_id", sort=False).agg(
        chrom=("chrom", "first"), start=("start", "min"), end=("end", "max"), strand=("strand", "first"),
        gene_name=("gene_name", "first"), gene_type=("gene_type", "first")).reset_index()
    genes = pd.concat([genes, derived[~derived["gene_id"].isin(genes["gene_id"])][GENE_COLUMNS]])
    transcripts = exons.groupby("transcript_id", sort=False).agg(
        chrom=("chrom", "first"), start=("start", "min"), end=("end", "max"), strand=("strand", "first"),
        gene_id=("gene_id", "first"), gene_name=("gene_name", "first"), gene_type=("gene_type", "first"),
    ).reset_index()
    exon_columns = [*GENE_COLUMNS, "transcript_id"]
    for frame in (genes, transcripts, exons):
        frame["start"] = frame["start"].astype(int)
        frame["end"] = frame["end"].astype(int)
    return Annotation(
        genes=genes.sort_values(["chrom", "start", "gene_id"]).reset_index(drop=True),
        transcripts=transcripts.sort_values(["chrom", "start", "transcript_id"]).reset_index(drop=True),
        exons=exons[exon_columns].sort_values(["chrom", "start", "transcript_id"]).reset_index(drop=True),
        source=str(path),
    )
