"""Training examples from a reference FASTA and the user's own files, declared in a track table.

The track table is a TSV with one row per track: ``output_type``, ``name``, ``strand`` (``+ - .``; default
``.``), ``file`` (relative to the table) and any metadata columns (the ``adata.var`` columns: ``Assay title``,
``biosample_name``, ...), plus ``nonzero_mean`` for 1-D types (computed over the training fold when absent
or empty). Files by output type:

- atac, cage, dnase, rna_seq, procap, chip_histone, chip_tf: a bigWig, read at 1 bp and summed per 128 bp.
  Bases without data are 0; a NaN or infinite value stored in the file is an error naming the position.
- splice_sites: one row; a GTF, a SpliceAI gene table, or ``spliceai:grch37`` / ``spliceai:grch38`` (the
  tables the ``spliceai`` package ships). One transcript per gene, as SpliceAI labels them (the table's
  canonical one; from a GTF the longest, as ``scoring.spliceai.load_gene_table`` picks it).
- splice_site_usage, splice_junctions: a STAR ``SJ.out.tab``; a ``+`` track counts + strand junctions only,
  ``-`` the - strand ones, ``.`` both (see ``train.labels.site_usage`` for how usage is estimated).
- contact_maps: a ``.cool`` (or ``file.mcool::/resolutions/2048``) at 2,048 bp; balanced values when it
  has a ``weight`` column (bins balancing masked get weight 0), raw counts otherwise (a NaN count is an
  error).

Windows tile the regions of a folds BED and never cross a region's edge. Batches follow ``train.batch``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import queue
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genome_plugin.errors import InputError
from genome_plugin.genome.reference import Reference
from genome_plugin.genome.sequence import one_hot
from genome_plugin.tracks import OutputType, TrackTable
from genome_plugin.train.augment import mask_input, mutate, reverse_complement_example
from genome_plugin.train.batch import SPLICE_NONE, TRACK_TYPES, Batch, stack_examples, target_key
from genome_plugin.train.labels import (
    FoldRegion,
    read_folds,
    read_junctions,
    site_usage,
    splice_sites_from_genes,
    strand_filter,
)

__all__ = ["DataConfig", "TrackFile", "TrainingData", "read_track_table"]

log = logging.getLogger(__name__)

CONTACT_RESOLUTION = 2048
TRACK_BIN = 128
_REQUIRED = ("output_type", "name", "file")
_NOT_METADATA = ("output_type", "file")
_SPLICEAI_TABLES = ("spliceai:grch37", "spliceai:grch38")
_NONZERO_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class TrackFile:
    """One row of the track table."""

    output_type: OutputType
    name: str
    strand: str
    file: str  # absolute path, a cooler URI, or spliceai:grch37 / spliceai:grch38
    line: int
    nonzero_mean: float


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """What a training data set reads and how it augments it (paths as given; relative ones from the cwd).

    ``max_shift`` is the largest random shift in bp (rounded down to 2,048 bp steps when contact maps are
    trained, so bins stay on the ``.cool`` grid); ``reverse_complement`` the probability of training on the
    other strand; ``mutation_rate`` the per-base probability of a random substitution; ``mask_fraction`` of
    the input is zeroed in blocks of ``mask_span`` bp. ``stride`` between windows defaults to the window
    length. ``resolutions`` limits the 1-D tracks' resolutions (each type keeps those it has). Windows with
    more than ``max_n_fraction`` N bases, or (with splice-site labels) fewer than ``min_splice_sites``
    labelled sites, are left out of the index of every fold, as SpliceAI trains and tests on gene windows.
    """

    fasta: str
    track_table: str
    folds: str
    sequence_length: int = 16_384
    batch_size: int = 4
    seed: int = 0
    stride: int | None = None
    max_shift: int = 0
    reverse_complement: float = 0.5
    mutation_rate: float = 0.0
    mask_fraction: float = 0.0
    mask_span: int = 128
    max_junctions: int = 256
    organism_index: int = 0
    prefetch: int = 4
    resolutions: tuple[int, ...] = (1, 128)
    strict_contigs: bool = True
    max_n_fraction: float = 1.0
    min_splice_sites: int = 0


def read_track_table(path: str | Path) -> tuple[list[TrackFile], pd.DataFrame]:
    """Read and check a track table (see the module docstring).

    Returns
    -------
    The rows as :class:`TrackFile` objects, and the metadata columns (one row each, same order).
    Raises a one-line :class:`InputError` naming the line for an unknown output type, a missing file,
    a duplicate ``(name, strand)`` within an output type, or a bad strand or ``nonzero_mean``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("track table not found", path=path)
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError) as err:
        raise InputError(f"cannot read the track table ({err})", path=path) from err
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"track table lacks column(s) {', '.join(missing)}", path=path, line=1)
    if frame.empty:
        raise InputError("track table has no tracks", path=path)
    if "strand" not in frame.columns:
        frame["strand"] = "."
    rows: list[TrackFile] = []
    seen: dict[tuple[OutputType, str, str], int] = {}
    for i, record in enumerate(frame.to_dict("records")):
        line = i + 2
        try:
            output_type = OutputType.parse(record["output_type"])
        except ValueError as err:
            raise InputError(str(err), path=path, line=line) from None
        name, strand = record["name"].strip(), (record["strand"].strip() or ".")
        if not name:
            raise InputError("empty track name", path=path, line=line)
        if strand not in ("+", "-", "."):
            raise InputError(f"strand {strand!r} is not +, - or .", path=path, line=line)
        key = (output_type, name, strand)
        if key in seen:
            raise InputError(f"track ({name!r}, {strand!r}) of {output_type.value} is also on line {seen[key]}",
                             path=path, line=line)
        seen[key] = line
        given = record["file"].strip()
        if output_type is OutputType.SPLICE_SITES and given.lower() in _SPLICEAI_TABLES:
            file = given.lower()
        else:
            if not given:
                raise InputError("empty file column", path=path, line=line)
            local, sep, inside = given.partition("::")
            resolved = (path.parent / local).resolve()
            if not resolved.is_file():
                raise InputError(f"track file {local!r} not found (looked for {resolved})", path=path, line=line)
            file = str(resolved) + (sep + inside if sep else "")
        mean_text = str(record.get("nonzero_mean", "")).strip()
        try:
            nonzero_mean = float(mean_text) if mean_text else math.nan
        except ValueError:
            raise InputError(f"nonzero_mean {mean_text!r} is not a number", path=path, line=line) from None
        if output_type in TRACK_TYPES and not (math.isnan(nonzero_mean) or nonzero_mean > 0):
            raise InputError(f"nonzero_mean {nonzero_mean} must be positive", path=path, line=line)
        rows.append(TrackFile(output_type, name, strand, file, line, nonzero_mean))
    splice_rows = [r for r in rows if r.output_type is OutputType.SPLICE_SITES]
    if len(splice_rows) > 1:
        raise InputError(f"splice_sites has {len(splice_rows)} rows (lines {splice_rows[0].line} and "
                         f"{splice_rows[1].line}); give one annotation", path=path, line=splice_rows[1].line)
    metadata = frame.drop(columns=[c for c in _NOT_METADATA if c in frame.columns])
    metadata["name"] = [r.name for r in rows]
    metadata["strand"] = [r.strand for r in rows]
    return rows, metadata


def _contig_map(names_lengths: Mapping[str, int], reference: Reference, *, source: str, kind: str,
                strict: bool) -> dict[str, str]:
    """FASTA contig -> the file's name for it; checks the file's contigs against the FASTA."""
    mapping = {}
    for name, length in names_lengths.items():
        fasta_name = reference.resolve(name)
        if fasta_name is None:
            if strict:
                raise InputError(f"{kind} contig {name!r} is not in the FASTA {reference.name} (a different genome "
                                 "build or contig naming?)", path=source)
            continue
        if int(length) != reference.contigs[fasta_name]:
            raise InputError(f"{kind} contig {name!r} is {int(length)} bp but {fasta_name} in the FASTA "
                             f"{reference.name} is {reference.contigs[fasta_name]} bp (a different genome build?)",
                             path=source)
        mapping[fasta_name] = name
    return mapping


class _BigWigs:
    """The bigWig files of one output type; one handle per file and thread, opened once."""

    def __init__(self, rows: list[TrackFile], reference: Reference, *, strict: bool) -> None:
        import pyBigWig

        self._open = pyBigWig.open
        self.rows = rows
        self.paths = [r.file for r in rows]
        self.maps, self.lengths = [], []
        for row in rows:
            try:
                handle = self._open(row.file)
            except RuntimeError:
                handle = None
            if handle is None or not handle.isBigWig():
                raise InputError("not a bigWig file", path=row.file)
            chroms = handle.chroms()
            handle.close()
            self.maps.append(_contig_map(chroms, reference, source=row.file, kind="bigWig", strict=strict))
            self.lengths.append(chroms)
        self._local = threading.local()

    def _handles(self) -> list:
        handles = getattr(self._local, "handles", None)
        if handles is None:
            handles = self._local.handles = [self._open(p) for p in self.paths]
        return handles

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        """float32 [end - start, T]; 0 where the file has no data or the window leaves the contig."""
        out = np.zeros((end - start, len(self.paths)), dtype=np.float32)
        for t, handle in enumerate(self._handles()):
            name = self.maps[t].get(chrom)
            if name is None:
                continue
            lo, hi = max(start, 0), min(end, int(self.lengths[t][name]))
            if hi <= lo:
                continue
            values = handle.values(name, lo, hi, numpy=True)
            bad = ~np.isfinite(values)
            if bad.any():
                self._check_missing(t, handle, name, lo, hi, values)
                values[bad] = 0.0
            out[lo - start : hi - start, t] = values
        return out

    def _check_missing(self, t: int, handle: Any, name: str, lo: int, hi: int, values: np.ndarray) -> None:
        # pyBigWig returns NaN both for bases without data and for a NaN stored in the file; the exact
        # coverage counts stored bases, so more stored bases than finite values means a stored NaN/inf.
        if np.isinf(values).any():
            position = lo + int(np.flatnonzero(np.isinf(values))[0])
            raise InputError(f"infinite value stored at {name}:{position + 1}", path=self.paths[t])
        fraction = handle.stats(name, lo, hi, type="coverage", exact=True)[0] or 0.0
        if round(fraction * (hi - lo)) > int(np.isfinite(values).sum()):
            for s, e, v in handle.intervals(name, lo, hi) or ():
                if not math.isfinite(v):
                    raise InputError(f"NaN value stored at {name}:{max(s, lo) + 1}-{min(e, hi)}", path=self.paths[t])

    def nonzero_means(self, regions: list[FoldRegion]) -> np.ndarray:
        """Mean of the non-zero values of each track over ``regions`` (NaN for a track with none), in one pass."""
        total = np.zeros(len(self.paths), dtype=np.float64)
        count = np.zeros(len(self.paths), dtype=np.int64)
        for region in regions:
            for lo in range(region.start, region.end, _NONZERO_CHUNK):
                values = self.read(region.chrom, lo, min(lo + _NONZERO_CHUNK, region.end))
                total += values.sum(axis=0, dtype=np.float64)
                count += np.count_nonzero(values, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)


class _Coolers:
    """The ``.cool`` files of the contact maps, checked to be at 2,048 bp."""

    def __init__(self, rows: list[TrackFile], reference: Reference, *, strict: bool) -> None:
        import cooler

        self._cooler = cooler.Cooler
        self.uris = [r.file for r in rows]
        self.maps, self.balance, self.sizes = [], [], []
        for row in rows:
            try:
                handle = self._cooler(row.file)
                binsize, chromsizes, columns = handle.binsize, handle.chromsizes, handle.bins().columns
            except Exception as err:  # cooler/h5py raise several types for a file that is not a cooler
                raise InputError(f"cannot read as a .cool file ({type(err).__name__}: {err})", path=row.file) from err
            if binsize != CONTACT_RESOLUTION:
                raise InputError(f".cool is at {binsize} bp resolution; contact maps train at {CONTACT_RESOLUTION} bp "
                                 "(pick that resolution of an .mcool with file.mcool::/resolutions/2048)",
                                 path=row.file)
            self.maps.append(_contig_map(chromsizes.to_dict(), reference, source=row.file, kind=".cool",
                                         strict=strict))
            self.sizes.append(chromsizes.to_dict())
            self.balance.append("weight" in columns)
        self._local = threading.local()

    def read(self, chrom: str, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Values float32 [n, n, T] (n = bins of the window, start on the grid) and their finite mask."""
        bins = (end - start) // CONTACT_RESOLUTION
        out = np.zeros((bins, bins, len(self.uris)), dtype=np.float32)
        finite = np.zeros(out.shape, dtype=bool)
        selectors = getattr(self._local, "selectors", None)
        if selectors is None:
            selectors = self._local.selectors = [self._cooler(u).matrix(balance=b, as_pixels=False)
                                                 for u, b in zip(self.uris, self.balance, strict=True)]
        for t, selector in enumerate(selectors):
            name = self.maps[t].get(chrom)
            if name is None:
                continue
            lo, hi = max(start, 0), min(end, int(self.sizes[t][name]))
            if hi <= lo:
                continue
            matrix = selector.fetch((name, lo, hi))
            first = (lo - start) // CONTACT_RESOLUTION
            n = min(matrix.shape[0], bins - first)
            block = np.asarray(matrix[:n, :n], dtype=np.float32)
            ok = np.isfinite(block)
            if not self.balance[t] and not ok.all():
                i, j = (int(v) for v in np.argwhere(~ok)[0])
                where = f"{name}:{lo + i * CONTACT_RESOLUTION + 1} x {name}:{lo + j * CONTACT_RESOLUTION + 1}"
                raise InputError(f"non-finite raw count stored at the pixel {where}", path=self.uris[t])
            out[first : first + n, first : first + n, t] = np.where(ok, block, 0.0)
            finite[first : first + n, first : first + n, t] = ok
        return out, finite


class _SiteLabels:
    """Splice-site classes per contig, from a gene table or GTF."""

    def __init__(self, row: TrackFile, reference: Reference) -> None:
        from genome_plugin.scoring.spliceai import load_gene_table

        source = row.file.split(":", 1)[1] if row.file in _SPLICEAI_TABLES else row.file
        self.sites = splice_sites_from_genes(load_gene_table(source), reference)
        self.source = row.file
        if not self.sites:
            log.warning("%s: no splice sites on the contigs of the FASTA %s", row.file, reference.name)

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        out = np.full(end - start, SPLICE_NONE, dtype=np.int32)
        if chrom in self.sites:
            positions, classes = self.sites[chrom]
            lo, hi = np.searchsorted(positions, [start, end])
            out[positions[lo:hi] - start] = classes[lo:hi]
        return out


class _Usage:
    """Splice-site usage per track: a sorted position array and a [sites, T] value table per contig."""

    def __init__(self, rows: list[TrackFile], tables: Mapping[str, Any]) -> None:
        parts = []
        for t, row in enumerate(rows):
            usage = site_usage(tables[row.file])
            usage = usage[usage["strand"].isin(strand_filter(row.strand))]
            parts.append(usage.assign(track=t))
        frame = pd.concat(parts, ignore_index=True)
        # A base that is a site twice for one track (a donor on + and an acceptor on -) takes the larger usage.
        wide = frame.pivot_table(index=["chrom", "position"], columns="track", values="usage", aggfunc="max",
                                 fill_value=0.0).reindex(columns=range(len(rows)), fill_value=0.0)
        self.num_tracks = len(rows)
        self.sites = {}
        for chrom, block in wide.groupby(level="chrom"):
            positions = block.index.get_level_values("position").to_numpy(dtype=np.int64)
            self.sites[chrom] = (positions, block.to_numpy(dtype=np.float32))

    def read(self, chrom: str, start: int, end: int) -> np.ndarray:
        out = np.zeros((end - start, self.num_tracks), dtype=np.float32)
        if chrom in self.sites:
            positions, values = self.sites[chrom]
            lo, hi = np.searchsorted(positions, [start, end])
            out[positions[lo:hi] - start] = values[lo:hi]
        return out


class _Junctions:
    """Junctions of all junction tracks: one (donor, acceptor, strand) list per contig with a count per track."""

    def __init__(self, rows: list[TrackFile], tables: Mapping[str, Any], max_junctions: int) -> None:
        parts = []
        for t, row in enumerate(rows):
            table = tables[row.file]
            frame = pd.DataFrame({"chrom": table.chrom, "donor": table.donor, "acceptor": table.acceptor,
                                  "strand": table.strand, "reads": table.reads, "track": t})
            parts.append(frame[frame["strand"].isin(strand_filter(row.strand))])
        frame = pd.concat(parts, ignore_index=True)
        wide = frame.pivot_table(index=["chrom", "strand", "donor", "acceptor"], columns="track", values="reads",
                                 aggfunc="sum", fill_value=0.0).reindex(columns=range(len(rows)), fill_value=0.0)
        self.num_tracks = len(rows)
        self.max_junctions = max_junctions
        self._warned = False
        self.junctions = {}
        for chrom, block in wide.groupby(level="chrom"):
            index = block.index
            donor = index.get_level_values("donor").to_numpy(dtype=np.int64)
            acceptor = index.get_level_values("acceptor").to_numpy(dtype=np.int64)
            strand = index.get_level_values("strand").to_numpy(dtype=np.int8)
            lo, hi = np.minimum(donor, acceptor), np.maximum(donor, acceptor)
            order = np.argsort(lo, kind="stable")
            self.junctions[chrom] = (lo[order], hi[order], donor[order], acceptor[order], strand[order],
                                     block.to_numpy(dtype=np.float32)[order])

    def read(self, chrom: str, start: int, end: int) -> dict[str, np.ndarray]:
        j = self.max_junctions
        out = {"donor": np.full(j, -1, dtype=np.int32), "acceptor": np.full(j, -1, dtype=np.int32),
               "strand": np.zeros(j, dtype=np.int8), "counts": np.zeros((j, self.num_tracks), dtype=np.float32)}
        if chrom not in self.junctions:
            return out
        lo, hi, donor, acceptor, strand, counts = self.junctions[chrom]
        first, last = np.searchsorted(lo, [start, end])
        inside = np.arange(first, last)[hi[first:last] < end]
        if len(inside) > j:
            if not self._warned:
                log.warning("a window holds %d junctions, more than max_junctions=%d; the most read are kept",
                            len(inside), j)
                self._warned = True
            keep = np.argsort(-counts[inside].sum(axis=1), kind="stable")[:j]
            inside = np.sort(inside[keep])
        n = len(inside)
        out["donor"][:n] = donor[inside] - start
        out["acceptor"][:n] = acceptor[inside] - start
        out["strand"][:n] = strand[inside]
        out["counts"][:n] = counts[inside]
        return out


class TrainingData:
    """Windows of the folds with their targets, read from the files of a track table.

    The window index is built once; each example reads one window of the FASTA and of each file. Iterate
    with :meth:`batches`; ``tracks`` holds the :class:`TrackTable` of every output type trained.
    """

    def __init__(self, config: DataConfig) -> None:
        self.config = config
        s = config.sequence_length
        if s <= 0 or s % TRACK_BIN:
            msg = f"sequence_length {s} must be a positive multiple of {TRACK_BIN}"
            raise ValueError(msg)
        if config.batch_size <= 0:
            msg = f"batch_size {config.batch_size} must be positive"
            raise ValueError(msg)
        self.reference = Reference(config.fasta)
        self.folds = read_folds(config.folds, self.reference)
        # No track table (empty string): windows of sequence only, as distillation reads them (teachers give targets).
        self.files, metadata = read_track_table(config.track_table) if config.track_table else ([], pd.DataFrame())
        by_type: dict[OutputType, list[int]] = {}
        for i, row in enumerate(self.files):
            by_type.setdefault(row.output_type, []).append(i)
        contacts = OutputType.CONTACT_MAPS in by_type
        if contacts and s % CONTACT_RESOLUTION:
            msg = f"sequence_length {s} must be a multiple of {CONTACT_RESOLUTION} to train contact maps"
            raise ValueError(msg)
        self._grid = CONTACT_RESOLUTION if contacts else 1
        self._max_shift = (config.max_shift // self._grid) * self._grid
        if (config.stride or s) % self._grid:
            msg = f"stride {config.stride} must be a multiple of {self._grid} to train contact maps"
            raise ValueError(msg)
        strict = config.strict_contigs

        self._bigwigs = {t: _BigWigs([self.files[i] for i in idx], self.reference, strict=strict)
                         for t, idx in by_type.items() if t in TRACK_TYPES}
        self._sites = (_SiteLabels(self.files[by_type[OutputType.SPLICE_SITES][0]], self.reference)
                       if OutputType.SPLICE_SITES in by_type else None)
        junction_files = {self.files[i].file for t in (OutputType.SPLICE_SITE_USAGE, OutputType.SPLICE_JUNCTIONS)
                          for i in by_type.get(t, [])}
        tables = {f: read_junctions(f, self.reference) for f in sorted(junction_files)}
        self._usage = (_Usage([self.files[i] for i in by_type[OutputType.SPLICE_SITE_USAGE]], tables)
                       if OutputType.SPLICE_SITE_USAGE in by_type else None)
        self._junctions = (_Junctions([self.files[i] for i in by_type[OutputType.SPLICE_JUNCTIONS]], tables,
                                      config.max_junctions)
                           if OutputType.SPLICE_JUNCTIONS in by_type else None)
        self._coolers = (_Coolers([self.files[i] for i in by_type[OutputType.CONTACT_MAPS]], self.reference,
                                  strict=strict) if contacts else None)

        fold_contigs = {r.chrom for r in self.folds}
        for source in self._bigwigs.values():
            for path, mapping in zip(source.paths, source.maps, strict=True):
                absent = sorted(fold_contigs - set(mapping))
                if absent:
                    log.warning("%s has no data on %s (folds use them); its targets there are 0", path,
                                ", ".join(absent))
        train_regions = [r for r in self.folds if r.fold == "train"]
        self.tracks: dict[OutputType, TrackTable] = {}
        for output_type, idx in by_type.items():
            table = metadata.iloc[idx].reset_index(drop=True)
            if output_type not in TRACK_TYPES:
                table = table.drop(columns=["nonzero_mean"], errors="ignore")
            if output_type is OutputType.SPLICE_SITES:
                table = pd.DataFrame({"name": ["donor", "acceptor", "donor", "acceptor", "Padding"],
                                      "strand": ["+", "+", "-", "-", "."]})
            elif output_type in TRACK_TYPES:
                means = []
                given = [self.files[i].nonzero_mean for i in idx]
                computed = (self._bigwigs[output_type].nonzero_means(train_regions)
                            if any(math.isnan(m) for m in given) else given)
                for t, i in enumerate(idx):
                    mean = given[t]
                    if math.isnan(mean):
                        mean = float(computed[t])
                        if math.isnan(mean):
                            raise InputError(f"track {self.files[i].name!r} has no non-zero value in the training "
                                             "fold, so its nonzero_mean is undefined; give one in the table",
                                             path=config.track_table, line=self.files[i].line)
                    means.append(mean)
                table["nonzero_mean"] = np.asarray(means, dtype=np.float64)
            self.tracks[output_type] = TrackTable(table, source=str(config.track_table))
        self.target_keys = self._target_keys()
        self._windows = {fold: self._tile(fold) for fold in ("train", "valid", "test")}
        self._local = threading.local()

    # -- index -----------------------------------------------------------------------------------

    def _target_keys(self) -> list[str]:
        keys = []
        for output_type in self.tracks:
            if output_type in TRACK_TYPES:
                keys += [target_key(output_type, r) for r in output_type.resolutions if r in self.config.resolutions]
            else:
                keys.append(target_key(output_type, output_type.resolutions[0]))
        return keys

    def _tile(self, fold: str) -> pd.DataFrame:
        s, grid, shift = self.config.sequence_length, self._grid, self._max_shift
        stride = self.config.stride or s
        rows = []
        for region in self.folds:
            if region.fold != fold:
                continue
            first = -(-(region.start + shift) // grid) * grid
            starts = self._keep(region, np.arange(first, region.end - shift - s + 1, stride))
            rows += [(region.chrom, int(start), region.line) for start in starts]
            if len(starts) == 0:
                log.info("folds line %d (%s:%d-%d) is too short for one %d bp window with shifts of %d bp",
                         region.line, region.chrom, region.start, region.end, s, shift)
        return pd.DataFrame(rows, columns=["chrom", "start", "fold_line"]).assign(end=lambda f: f["start"] + s)

    def _keep(self, region: FoldRegion, starts: np.ndarray) -> np.ndarray:
        """The window starts that pass ``max_n_fraction`` and ``min_splice_sites``."""
        s, c = self.config.sequence_length, self.config
        if len(starts) and c.max_n_fraction < 1:
            text = self.reference.fetch(chrom=region.chrom, start=region.start, end=region.end)
            is_n = np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("N")
            cumulative = np.r_[0, np.cumsum(is_n)]
            n_count = cumulative[starts - region.start + s] - cumulative[starts - region.start]
            starts = starts[n_count <= c.max_n_fraction * s]
        if len(starts) and c.min_splice_sites > 0 and self._sites is not None:
            positions = self._sites.sites.get(region.chrom, (np.zeros(0, dtype=np.int64),))[0]
            count = np.searchsorted(positions, starts + s) - np.searchsorted(positions, starts)
            starts = starts[count >= c.min_splice_sites]
        return starts

    def windows(self, fold: str = "train") -> pd.DataFrame:
        """The windows of ``fold`` (``chrom``, ``start``, ``end``, the folds BED ``fold_line``), unshifted."""
        return self._windows[fold].copy()

    def steps_per_epoch(self, fold: str = "train") -> int:
        """Full batches per pass over ``fold`` (training drops the incomplete last batch)."""
        return len(self._windows[fold]) // self.config.batch_size

    # -- examples --------------------------------------------------------------------------------

    def _reference(self) -> Reference:
        reference = getattr(self._local, "reference", None)
        if reference is None:
            reference = self._local.reference = Reference(self.config.fasta)
        return reference

    def read(self, chrom: str, start: int) -> Batch:
        """One example (no batch axis) for the window of ``sequence_length`` bp at ``chrom:start``, + strand."""
        end = start + self.config.sequence_length
        sequence = one_hot(self._reference().fetch(chrom=chrom, start=start, end=end))
        valid = sequence.any(axis=1)
        valid_bins = valid.reshape(-1, TRACK_BIN).all(axis=1)
        targets: dict[str, Any] = {}
        weights: dict[str, np.ndarray] = {}
        for output_type, source in self._bigwigs.items():
            values = source.read(chrom, start, end)
            for resolution in output_type.resolutions:
                key = target_key(output_type, resolution)
                if key not in self.target_keys:
                    continue
                if resolution == 1:
                    targets[key], weights[key] = values, valid[:, None].astype(np.float32)
                else:
                    targets[key] = values.reshape(-1, resolution, values.shape[1]).sum(axis=1, dtype=np.float32)
                    weights[key] = valid_bins[:, None].astype(np.float32)
        if self._sites is not None:
            key = target_key(OutputType.SPLICE_SITES, 1)
            targets[key], weights[key] = self._sites.read(chrom, start, end), valid.astype(np.float32)
        if self._usage is not None:
            key = target_key(OutputType.SPLICE_SITE_USAGE, 1)
            targets[key], weights[key] = self._usage.read(chrom, start, end), valid[:, None].astype(np.float32)
        if self._junctions is not None:
            key = target_key(OutputType.SPLICE_JUNCTIONS, 1)
            targets[key] = self._junctions.read(chrom, start, end)
            weights[key] = (targets[key]["donor"] >= 0)[:, None].astype(np.float32)
        if self._coolers is not None:
            key = target_key(OutputType.CONTACT_MAPS, CONTACT_RESOLUTION)
            values, finite = self._coolers.read(chrom, start, end)
            targets[key], weights[key] = values, finite.all(axis=-1, keepdims=True).astype(np.float32)
        return {"sequence": sequence, "organism_index": np.int32(self.config.organism_index), "targets": targets,
                "weights": weights}

    def example(self, fold: str, index: int, rng: np.random.Generator | None = None) -> Batch:
        """Window ``index`` of ``fold``; augmented (shift, reverse complement, mutations, masking) when ``rng``."""
        window = self._windows[fold].iloc[index]
        start = int(window["start"])
        c = self.config
        if rng is not None and self._max_shift:
            start += int(rng.integers(-self._max_shift // self._grid, self._max_shift // self._grid + 1)) * self._grid
        example = self.read(str(window["chrom"]), start)
        if rng is None:
            return example
        if rng.random() < c.reverse_complement:
            example = reverse_complement_example(example, self.tracks)
        example["sequence"] = mask_input(mutate(example["sequence"], c.mutation_rate, rng), c.mask_fraction,
                                         c.mask_span, rng)
        return example

    # -- batches ---------------------------------------------------------------------------------

    def _train_batch(self, step: int) -> Batch:
        spe = self.steps_per_epoch("train")
        epoch, position = divmod(step, spe)
        order = np.random.default_rng([self.config.seed, epoch]).permutation(len(self._windows["train"]))
        b = self.config.batch_size
        examples = []
        for slot in range(position * b, (position + 1) * b):
            rng = np.random.default_rng([self.config.seed, epoch, slot, 1])
            examples.append(self.example("train", int(order[slot]), rng))
        batch = stack_examples(examples)
        batch["example_mask"] = np.ones(b, dtype=bool)
        return batch

    def _eval_batch(self, fold: str, step: int) -> Batch:
        b, n = self.config.batch_size, len(self._windows[fold])
        indices = list(range(step * b, min((step + 1) * b, n)))
        examples = [self.example(fold, i) for i in indices]
        pad = b - len(examples)
        if pad:
            blank = _zero_weights(examples[-1])
            examples += [blank] * pad
        batch = stack_examples(examples)
        batch["example_mask"] = np.arange(b) < len(indices)
        return batch

    def batches(self, fold: str = "train", *, start_step: int = 0, num_steps: int | None = None,
                prefetch: int | None = None) -> Iterator[Batch]:
        """Batches of ``fold``, read ahead by a background thread into a bounded queue.

        ``train``: shuffled and augmented, epoch after epoch (forever unless ``num_steps``); the batch of
        global step ``k`` depends only on the seed and ``k``, so a restarted run passes ``start_step=k`` and
        sees what an uninterrupted one would. ``valid``/``test``: one pass, in order, not augmented, the
        last batch padded with weight-0 copies (``example_mask`` False).
        """
        if fold == "train":
            if self.steps_per_epoch("train") == 0:
                msg = (f"the train fold has {len(self._windows['train'])} window(s), fewer than one batch of "
                       f"{self.config.batch_size}; add regions to {self.config.folds} or shorten the windows")
                raise InputError(msg)
            stop = None if num_steps is None else start_step + num_steps
            steps = _count(start_step, stop)
            make = self._train_batch
        else:
            if fold not in self._windows:
                msg = f"unknown fold {fold!r}; use train, valid or test"
                raise ValueError(msg)
            total = -(-len(self._windows[fold]) // self.config.batch_size)
            stop = total if num_steps is None else min(total, start_step + num_steps)
            steps = iter(range(start_step, stop))

            def make(step: int) -> Batch:
                return self._eval_batch(fold, step)

        depth = self.config.prefetch if prefetch is None else prefetch
        if depth <= 0:
            return (make(step) for step in steps)
        return _prefetched(make, steps, depth)

    def summary(self) -> dict[str, Any]:
        """What the data set is made of, for a model card."""
        return {
            "fasta": str(self.reference.path),
            "track_table": str(self.config.track_table),
            "folds": str(self.config.folds),
            "fold_regions": [dataclasses.asdict(r) for r in self.folds],
            "windows": {fold: len(w) for fold, w in self._windows.items()},
            "sequence_length": self.config.sequence_length,
            "files": [{"output_type": r.output_type.value, "name": r.name, "strand": r.strand, "file": r.file}
                      for r in self.files],
            "targets": list(self.target_keys),
        }


def _zero_weights(example: Batch) -> Batch:
    padded = dict(example)
    padded["weights"] = {k: np.zeros_like(v) for k, v in example["weights"].items()}
    return padded


def _count(start: int, stop: int | None) -> Iterator[int]:
    step = start
    while stop is None or step < stop:
        yield step
        step += 1


_DONE = object()


def _prefetched(make: Any, steps: Iterator[int], depth: int) -> Iterator[Batch]:
    """Run ``make(step)`` for each step in a daemon thread, ``depth`` batches ahead; errors re-raised here."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for step in steps:
                if stop.is_set() or not put(make(step)):
                    return
            put(_DONE)
        except BaseException as err:  # handed to the consumer, which re-raises it
            put(err)

    thread = threading.Thread(target=work, name="genome-plugin-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)

