"""List the installed models; with ``--tracks MODEL``, that model's track table per output type."""

from __future__ import annotations

import argparse
import sys

NAME = "models"
HELP = "list installed models (output types, input lengths, licence) or one model's tracks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracks", metavar="MODEL", help="print this model's track table as TSV")
    parser.add_argument("--organism", default="human", help="organism for --tracks")
    parser.add_argument("--output", metavar="TSV", help="write the --tracks table here instead of stdout")


def run(args: argparse.Namespace) -> int:
    from genome_plugin.plugins import get_models, load_model, registered_models

    if args.tracks:
        model = load_model(args.tracks)
        frames = []
        for output_type in model.output_types():
            table = model.tracks(output_type, args.organism).df
            table.insert(0, "output_type", output_type.value)
            table.insert(1, "resolutions", ",".join(str(r) for r in model.resolutions(output_type)))
            frames.append(table)
        import pandas as pd

        out = pd.concat(frames, ignore_index=True)
        out.to_csv(args.output or sys.stdout, sep="\t", index=False)
        return 0
    registered = registered_models()
    for name, entry in get_models().items():
        types = ", ".join(t.value for t in entry.output_types) or "(see --tracks)"
        print(f"{name}  [{registered[name].plugin}]")
        print(f"    {entry.description}")
        print(f"    output types: {types}")
        if entry.licence:
            print(f"    licence: {entry.licence}")
        if not entry.real_weights:
            print("    weights: random initialisation (for tests and teaching; not a real prediction)")
    return 0
