"""Predict REF and ALT over the same window around each variant and write both.

Writes to --out, per output type and resolution, ``variant.<type>_<res>bp.h5ad`` with
``layers["ref"]``, ``layers["alt"]`` and ``X = alt - ref`` (ALT aligned to REF coordinates for
indels); bigWig/bedGraph files per track for X (ALT - REF), ``.ref`` and ``.alt``; PNG figures with
REF/ALT overlays and the variant marked (``--plot``). Positions are 1-based as in VCF.
"""

from __future__ import annotations

import argparse
import logging

from genome_plugin.commands._common import add_model_arguments, check_track_filter, load_model_from_args
from genome_plugin.commands.predict import (
    add_output_arguments,
    add_track_arguments,
    formats,
    output_types,
    read_annotation,
)

NAME = "predict-variant"
HELP = "predict REF and ALT around variants (h5ad with ref/alt layers, bigWig, PNG overlays)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--fasta", required=True, help="reference FASTA the variants are called against")
    parser.add_argument("--variant", action="append", required=True, metavar="CHR:POS:REF>ALT",
                        help="variant (1-based position, VCF style), repeatable, e.g. chr20:29367:T>C")
    parser.add_argument("--width", type=int, metavar="BP",
                        help="window predicted around each variant in bp (raised to a length the model accepts; "
                             "unset, the model's preferred length)")
    parser.add_argument("--strand", choices=("+", "-"), default="+",
                        help="strand to predict on (outputs are in + strand order either way)")
    add_track_arguments(parser)
    parser.add_argument("--zoom", type=int, metavar="BP",
                        help="figures show only this many bp around the variant (default: the whole window)")
    add_output_arguments(parser, default_formats="h5ad")


def run(args: argparse.Namespace) -> int:
    from genome_plugin.api import predict_variant
    from genome_plugin.genome import Reference
    from genome_plugin.writers import resolve_writers, write_results

    chosen = formats(args)
    resolve_writers(chosen)
    check_track_filter(args)
    reference = Reference(args.fasta)
    results = predict_variant(
        load_model_from_args(args), args.variant, reference=reference, width=args.width, strand=args.strand,
        output_types=output_types(args), tracks=args.tracks, organism=args.organism, rc_average=args.rc_average,
        batch_size=args.batch_size, progress=not args.quiet, context=args.context,
    )
    paths = write_results(results, chosen, args.out, basename="variant", reference=reference,
                          annotation=read_annotation(args), zoom=args.zoom)
    log.info("wrote %d file(s) to %s", len(paths), args.out)
    return 0
