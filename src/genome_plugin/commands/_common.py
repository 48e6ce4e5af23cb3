"""Arguments every prediction command shares (model choice and options, reference FASTA, organism)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_model_arguments", "add_tracks_argument", "check_track_filter", "load_model_from_args"]


def add_model_arguments(parser: argparse.ArgumentParser, *, default_model: str | None = "spliceai") -> None:
    """``--model``, ``--checkpoint`` and ``--organism``."""
    parser.add_argument("--model", default=default_model, required=default_model is None,
                        help="registered model name (list them with `genome-plugin models`)")
    parser.add_argument("--checkpoint", metavar="DIR",
                        help="checkpoint directory for models whose weights you supply (e.g. converted AlphaGenome)")
    parser.add_argument("--organism", default="human", help="organism whose heads and tracks are used")


def add_tracks_argument(parser: argparse.ArgumentParser, *, what: str = "tracks") -> None:
    """``--tracks FILTER``: the track filter language of :mod:`genome_plugin.selector` (parsed, never evaluated)."""
    parser.add_argument("--tracks", metavar="FILTER",
                        help=f"keep only {what} matching this filter on the track table: column == \"text\", "
                             "!=, in [\"a\", \"b\"], not in, contains \"text\", matches \"regex\", joined by and, "
                             "or, not and parentheses; e.g. 'biosample_name == \"liver\" and strand != \"-\"' "
                             "(columns: `genome-plugin models --tracks MODEL`)")


def check_track_filter(args: argparse.Namespace) -> None:
    """Fail on a bad ``--tracks`` filter (one line, its position) before a model is loaded."""
    from genome_plugin.selector import parse_selector

    if getattr(args, "tracks", None):
        parse_selector(args.tracks)


def load_model_from_args(args: argparse.Namespace) -> Any:
    """The model named by ``--model``, loaded once per process with ``--checkpoint`` when given."""
    from genome_plugin.plugins import load_model

    options = {"checkpoint": args.checkpoint} if getattr(args, "checkpoint", None) else {}
    return load_model(args.model, **options)
