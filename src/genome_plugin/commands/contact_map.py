"""Predict the 3D contact map of an interval, optionally REF vs ALT for a variant.

Writes to --out ``contacts.<track>.cool`` (one per track; bins over every chromosome of the FASTA at
the model's contact-map resolution, readable by cooler and HiCExplorer), ``contacts.h5ad`` (obs =
upper-triangle pixels) and a heatmap PNG. With --variant: X = ALT - REF (``contacts.<track>.cool``
holds the difference map, ``contacts.ref.<track>.cool`` / ``contacts.alt.<track>.cool`` the two maps)
and the figure shows REF, ALT and the difference.
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
from genome_plugin.commands.predict import add_output_arguments, formats

NAME = "contact-map"
HELP = "predict a contact map (.cool, h5ad, PNG); with --variant, REF vs ALT difference maps"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--fasta", required=True, help="reference FASTA (its index gives the chromosome sizes)")
    parser.add_argument("--interval", required=True, metavar="CHR:START-END",
                        help="region of the map (0-based, end exclusive); predicted in a model window around it")
    parser.add_argument("--variant", metavar="CHR:POS:REF>ALT",
                        help="variant inside the window (1-based position): REF, ALT and ALT - REF maps")
    add_tracks_argument(parser, what="contact-map tracks")
    parser.add_argument("--rc-average", action="store_true",
                        help="average the forward and the reverse-complement prediction")
    add_output_arguments(parser, default_formats="cool,h5ad,png", gtf_help=None)


def run(args: argparse.Namespace) -> int:
    from genome_plugin.api import contact_map
    from genome_plugin.genome import Reference
    from genome_plugin.writers import resolve_writers, write_results

    chosen = formats(args)
    resolve_writers(chosen)
    check_track_filter(args)
    reference = Reference(args.fasta)
    adata = contact_map(load_model_from_args(args), args.interval, reference=reference, variant=args.variant,
                        tracks=args.tracks, organism=args.organism, rc_average=args.rc_average)
    paths = write_results({"": adata}, chosen, args.out, basename="contacts", reference=reference)
    log.info("wrote %d file(s) to %s", len(paths), args.out)
    return 0
