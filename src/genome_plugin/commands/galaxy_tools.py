"""Regenerate the Galaxy tool suite (tool XML, macros, data tables, Tool Shed metadata) from the registry.

The model, output-type, scorer and format choices of the tools list what the loaded plugins registered.
The suite committed in this repository is generated with ``--builtin-only``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "galaxy-tools"
HELP = "write the Galaxy tool suite (galaxy/) generated from the installed plugins"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the suite into (e.g. galaxy/)")
    parser.add_argument("--builtin-only", action="store_true",
                        help="offer only what the built-in plugins register (how the committed suite is made)")
    parser.add_argument("--test-data", metavar="DIR", default="test-data",
                        help="folder with the tool tests' input files, linked into DIR/test-data "
                             "(skipped when the folder does not exist)")


def run(args: argparse.Namespace) -> int:
    from genome_plugin.galaxy import Registry, write_suite

    test_data = Path(args.test_data)
    written = write_suite(args.out, Registry.from_plugins(builtin_only=args.builtin_only),
                          test_data=test_data if test_data.is_dir() else None)
    print(f"wrote {len(written)} files to {args.out}")
    return 0
