"""Convert an official AlphaGenome checkpoint (Orbax, Haiku ``(params, state)``) into a genome-plugin checkpoint.

Every official leaf must be used exactly once; missing, left-over or mis-shaped leaves are named in the
error. Use the result with ``--model alphagenome --checkpoint OUT``.
"""

from __future__ import annotations

import argparse

NAME = "convert-weights"
HELP = "convert official AlphaGenome weights (+ track metadata textprotos) to a genome-plugin checkpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="official Orbax checkpoint directory")
    parser.add_argument("--from", dest="source", default="alphagenome", choices=["alphagenome"],
                        help="which model family the checkpoint comes from")
    parser.add_argument("--metadata", nargs="+", required=True, metavar="TEXTPROTO",
                        help="official OutputMetadataResponse textprotos, one per organism in organism-index "
                             "order (human first, then mouse)")
    parser.add_argument("--version", default="official", help="version string recorded in the model card")
    parser.add_argument("--out", required=True, help="output directory (Orbax checkpoint + model_card.json)")


def run(args: argparse.Namespace) -> int:
    from genome_plugin.model.convert import convert_official

    out = convert_official(args.checkpoint, args.metadata, args.out, version=args.version)
    print(f"wrote {out} (use: --model alphagenome --checkpoint {out})")
    return 0
