"""In silico mutagenesis: predict every SNV in an interval and score it against the reference.

Writes to --out ``ism.h5ad`` (obs = SNV, or SNV x gene for gene-level scorers, with ``offset`` in
the interval; var = tracks; X = scores), ``ism.tsv`` and a sequence-logo PNG per track (up to 8;
narrow with --tracks). Each SNV costs one model call over the whole window: keep intervals short.
"""

from __future__ import annotations

import argparse
import logging

from genome_plugin.commands._common import (
    add_model_arguments,
    add_tracks_argument,
    check_track_filter,
    load_model_from_args,
)
from genome_plugin.commands.predict import add_context_argument, add_output_arguments, formats, read_annotation

NAME = "ism"
HELP = "in silico mutagenesis: score every SNV in an interval (h5ad, TSV, sequence-logo PNG)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from genome_plugin.mutagenesis import DEFAULT_MAX_FORWARD_PASSES

    add_model_arguments(parser)
    parser.add_argument("--fasta", required=True, help="reference FASTA")
    parser.add_argument("--interval", required=True, metavar="CHR:START-END[:STRAND]",
                        help="bases to mutate (0-based start, end exclusive); 3 SNVs per base")
    parser.add_argument("--scorer", metavar="S",
                        help="registered scorer (see `genome-plugin score --list-scorers`); default: the mean "
                             "ALT - REF over the mutated bases' bins")
    parser.add_argument("--output-type", metavar="T",
                        help="output type for the default effect (default: the model's first 1-D type)")
    parser.add_argument("--width", type=int, metavar="BP",
                        help="window predicted around the interval in bp (default: the smallest the model accepts)")
    add_tracks_argument(parser)
    parser.add_argument("--rc-average", action="store_true",
                        help="average the forward and the reverse-complement prediction")
    parser.add_argument("--batch-size", type=int, default=4, metavar="N", help="sequences per model call")
    parser.add_argument("--max-forward-passes", type=int, default=DEFAULT_MAX_FORWARD_PASSES, metavar="N",
                        help="refuse intervals needing more model calls than this (3 per base, x2 with --rc-average)")
    add_context_argument(parser)
    add_output_arguments(parser, default_formats="h5ad,tsv,png",
                         gtf_help="gene annotation (GTF) for gene-level scorers (--scorer gene_mask_...)")


def run(args: argparse.Namespace) -> int:
    from genome_plugin.api import ism
    from genome_plugin.genome import Reference
    from genome_plugin.writers import resolve_writers, write_results

    chosen = formats(args)
    resolve_writers(chosen)
    check_track_filter(args)
    annotation = read_annotation(args)
    adata = ism(load_model_from_args(args), args.interval, reference=Reference(args.fasta), scorer=args.scorer,
                output_type=args.output_type, width=args.width, tracks=args.tracks, annotation=annotation,
                organism=args.organism, rc_average=args.rc_average, batch_size=args.batch_size,
                progress=not args.quiet, context=args.context, max_forward_passes=args.max_forward_passes)
    paths = write_results({"": adata}, chosen, args.out, basename="ism")
    log.info("scored %d SNV row(s); wrote %d file(s) to %s", adata.n_obs, len(paths), args.out)
    return 0
