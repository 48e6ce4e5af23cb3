"""Run the real SpliceAI model on the bundled human chr20 slice: predictions, top-k check, variant scores."""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "the main job on bundled real data: SpliceAI splice-site predictions and variant scores on chr20"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", help="output folder")


def run(args: argparse.Namespace) -> int:
    from genome_plugin.demo import run_demo

    summary = run_demo(args.out, progress=not args.quiet)
    print(f"SpliceAI (5-model ensemble, trained weights from the spliceai package) over {summary['interval']}")
    for kind, (hits, k) in summary["topk"].items():
        print(f"  annotated {kind}s in the model's top {k}: {hits}/{k} ({hits / k:.0%})")
    print(f"variants: {summary['records']} record rows, {summary['scored']} scored; highest delta scores:")
    top = summary["top_variants"]
    for _, row in top.iterrows():
        print(f"  {row['variant_id']:<28} {row.get('gene_name', row.get('SYMBOL', ''))!s:<8} max DS {row['best']:.2f}")
    print(f"wrote {len(summary['files'])} files to {args.out}/")
    return 0
