"""Predict genome tracks over intervals (``--interval`` or a BED file) and write them in the chosen formats.

Writes to --out one file per output type and resolution and format:
``predictions.<type>_<resolution>bp.h5ad`` (obs = bins of every interval, var = tracks), bigWig and
bedGraph files per track (``predictions.<type>_<res>bp.<track>.bw``), a TSV, PNG figures (``--plot``)
and, for contact maps, ``.cool`` files. Coordinates are 0-based, end exclusive (as in BED); minus-strand
intervals are predicted on the reverse complement and reported in + strand order.
With ``--chunk i/n`` or ``--region`` several jobs split one BED; file names then carry the chunk
(``predictions.chunk2of8...``) and ``genome-plugin merge`` joins the h5ad files without loss.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from genome_plugin.commands._common import (
    add_model_arguments,
    add_tracks_argument,
    check_track_filter,
    load_model_from_args,
)

NAME = "predict"
HELP = "predict genome tracks over intervals (h5ad, bigWig, bedGraph, TSV, PNG, .cool)"

log = logging.getLogger(__name__)

DEFAULT_FORMATS = "h5ad"


def add_output_arguments(parser: argparse.ArgumentParser, *, default_formats: str,
                         gtf_help: str | None = "gene annotation (GTF) drawn as a gene lane under the tracks in "
                                                "figures") -> None:
    """``--format``, ``--plot``, ``--gtf`` (unless ``gtf_help`` is None) and ``--out``, shared by the prediction
    commands."""
    parser.add_argument("--format", default=default_formats, metavar="F[,F...]",
                        help="comma-separated output formats: h5ad, bigwig, bedgraph, tsv, png, cool "
                             "(and any a plugin registers)")
    parser.add_argument("--plot", action="store_true", help="also write PNG figures (same as adding png to --format)")
    if gtf_help is not None:
        parser.add_argument("--gtf", help=gtf_help)
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")


def add_track_arguments(parser: argparse.ArgumentParser) -> None:
    """``--output-type``, ``--tracks``, ``--rc-average`` and ``--batch-size``."""
    from genome_plugin.tracks import OutputType

    parser.add_argument("--output-type", action="append", metavar="T",
                        help=f"output type to predict, repeatable or comma-separated "
                             f"({', '.join(t.value for t in OutputType)}; default: all the model predicts)")
    add_tracks_argument(parser)
    parser.add_argument("--rc-average", action="store_true",
                        help="average the forward and the reverse-complement prediction")
    parser.add_argument("--batch-size", type=int, default=4, metavar="N", help="sequences per model call")
    add_context_argument(parser)


def add_context_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--context", type=int, metavar="BP",
                        help="reference bases added on each side of every window and cropped from the output, for "
                             "models that read beyond what they predict (default: what the model declares, else 0)")


def output_types(args: argparse.Namespace) -> list[str] | None:
    if not args.output_type:
        return None
    return [t.strip() for item in args.output_type for t in item.split(",") if t.strip()]


def formats(args: argparse.Namespace) -> list[str]:
    from genome_plugin.errors import InputError

    chosen = [f.strip() for f in args.format.split(",") if f.strip()]
    if getattr(args, "plot", False) and "png" not in chosen:
        chosen.append("png")
    if not chosen:
        msg = f"--format {args.format!r} names no output format (e.g. --format h5ad,bigwig)"
        raise InputError(msg)
    return chosen


def read_annotation(args: argparse.Namespace):
    from genome_plugin.genome import read_gtf

    return read_gtf(args.gtf) if getattr(args, "gtf", None) else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--fasta", required=True, help="reference FASTA (plain or bgzipped; .fai built if missing)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--interval", action="append", metavar="CHR:START-END[:STRAND]",
                        help="interval to predict (0-based start, end exclusive; strand + or -), repeatable")
    source.add_argument("--bed", help="BED file of intervals (name in column 4 and strand in column 6 used)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", metavar="CHR[:START-END]",
                       help="only intervals overlapping this chromosome or region (0-based, end exclusive)")
    where.add_argument("--chunk", metavar="I/N", help="only the I-th of N contiguous blocks of intervals (1-based I)")
    add_track_arguments(parser)
    parser.add_argument("--no-crop", action="store_true",
                        help="keep every bin of the model window, not only those overlapping each interval")
    add_output_arguments(parser, default_formats=DEFAULT_FORMATS)


def select_intervals(intervals: Sequence, *, region: str | None, chunk: str | None) -> tuple[list, str]:
    """The intervals of ``region`` or of chunk ``i/n`` (contiguous blocks, as the score command splits a VCF).

    Returns the intervals and a file-name tag (``chunk2of8`` / ``region_chr1_0_1000``, empty for all).
    """
    from genome_plugin.genome import Interval
    from genome_plugin.genome.reference import contig_aliases
    from genome_plugin.scoring.engine import parse_chunk
    from genome_plugin.writers.base import file_part

    intervals = list(intervals)
    if region:
        whole = ":" not in region
        area = Interval(region.strip(), 0, 2**62) if whole else Interval.parse(region)
        names = {area.chrom, *contig_aliases(area.chrom)}
        kept = [i for i in intervals if i.chrom in names and i.start < area.end and area.start < i.end]
        chrom = file_part(area.chrom)  # the tag names files: a contig called "../x" must not leave --out
        return kept, f"region_{chrom}" if whole else f"region_{chrom}_{area.start}_{area.end}"
    parsed = parse_chunk(chunk)
    if parsed is None:
        return intervals, ""
    i, n = parsed
    total = len(intervals)
    return [x for index, x in enumerate(intervals) if index * n // max(total, 1) + 1 == i], f"chunk{i}of{n}"


def stamp(results: dict, **fields: str) -> None:
    """Record command-level facts (chunk, region) in every result's provenance."""
    for adata in results.values():
        adata.uns["genome_plugin"].update({k: v for k, v in fields.items() if v})


def run(args: argparse.Namespace) -> int:
    from genome_plugin.api import predict_interval
    from genome_plugin.genome import Reference, parse_regions, read_bed
    from genome_plugin.writers import resolve_writers, write_results

    chosen = formats(args)
    resolve_writers(chosen)  # fail on a bad --format before any prediction
    check_track_filter(args)
    intervals = read_bed(args.bed) if args.bed else parse_regions(args.interval)
    selected, tag = select_intervals(intervals, region=args.region, chunk=args.chunk)
    if not selected:
        log.warning("no interval in %s; nothing to predict", args.region or f"chunk {args.chunk}")
        return 0
    log.info("predicting %d of %d interval(s)", len(selected), len(intervals))
    reference = Reference(args.fasta)
    results = predict_interval(
        load_model_from_args(args), selected, reference=reference, output_types=output_types(args),
        tracks=args.tracks, organism=args.organism, rc_average=args.rc_average, crop=not args.no_crop,
        batch_size=args.batch_size, progress=not args.quiet, context=args.context,
    )
    stamp(results, chunk=args.chunk or "", region=args.region or "")
    basename = ".".join(p for p in ("predictions", tag) if p)
    paths = write_results(results, chosen, args.out, basename=basename, reference=reference,
                          annotation=read_annotation(args))
    log.info("wrote %d file(s) to %s", len(paths), args.out)
    return 0
