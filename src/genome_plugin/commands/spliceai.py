"""Score a VCF's variants with SpliceAI, as the original ``spliceai`` tool (1.3.1) does.

Writes to --out: spliceai.vcf (the input VCF with the original's SpliceAI INFO field,
ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL, plus SpliceAI_REASON where an ALT got
no score), spliceai.tsv (one line per variant x gene, unrounded delta scores) and spliceai.h5ad
(obs = variant x gene rows, X = DS_*, layers["positions"] = DP_*). Every record of the VCF is in
every output; the original drops some silently, here they carry a reason. The weights are the
spliceai package's, licensed CC BY-NC 4.0 (non-commercial use), unless --checkpoint names a SpliceAI-architecture
model saved here (a distilled student, whose card states its licence).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

NAME = "spliceai"
HELP = "SpliceAI delta scores of a VCF (compatible with the spliceai tool's VCF output)"

log = logging.getLogger(__name__)


def _distance(text: str) -> int:
    from genome_plugin.scoring.spliceai import MAX_DISTANCE

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_DISTANCE:
        msg = f"distance must be an integer from 0 to {MAX_DISTANCE} bp, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fasta", required=True, help="reference FASTA (plain or bgzipped) the VCF was called against")
    parser.add_argument("--vcf", required=True, help="variants to score (plain or bgzipped VCF)")
    parser.add_argument(
        "--annotation",
        required=True,
        help="genes: grch37 or grch38 (the spliceai package's GENCODE canonical tables), "
        "a table in that format, or a GTF (longest transcript per gene)",
    )
    parser.add_argument(
        "--distance",
        type=_distance,
        default=50,
        help="largest distance in bp between the variant and a gained or lost splice site (the original's -D)",
    )
    parser.add_argument(
        "--mask",
        action="store_true",
        help="mask gains at annotated splice sites and losses at unannotated ones (the original's -M 1)",
    )
    parser.add_argument(
        "--model",
        default="spliceai",
        help="a registered SpliceAI-family model (default: spliceai, the package's five-model ensemble)",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="a SpliceAI-architecture model saved here, e.g. a distilled student (genome-plugin distill)",
    )
    parser.add_argument("--out", required=True, help="output folder (created if missing)")


def _persistent_compilation_cache() -> None:
    """Keep compiled programs between runs (unless the user chose a cache): later runs skip most compilation."""
    import os

    import jax

    from genome_plugin.model.spliceai import cache_dir

    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        jax.config.update("jax_compilation_cache_dir", str(cache_dir() / "jax"))


def run(args: argparse.Namespace) -> int:
    from genome_plugin.plugins import load_model
    from genome_plugin.scoring.spliceai import load_gene_table, score_vcf

    _persistent_compilation_cache()

    genes = load_gene_table(args.annotation)
    model = load_model(args.model, **({"checkpoint": args.checkpoint} if args.checkpoint else {}))
    result = score_vcf(
        args.vcf,
        args.fasta,
        genes,
        model=model,
        distance=args.distance,
        mask=args.mask,
        progress=not args.quiet,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result.write_vcf(out / "spliceai.vcf")
    result.write_tsv(out / "spliceai.tsv")
    result.write_h5ad(out / "spliceai.h5ad")
    frame = result.frame
    alts = frame.drop_duplicates(["record", "allele"])
    unscored = alts[
        ~alts.set_index(["record", "allele"]).index.isin(
            frame[frame["reason"] == ""].set_index(["record", "allele"]).index
        )
    ]
    log.info(
        "SpliceAI: %d record(s), %d ALT(s) scored, %d not scored; wrote %s/spliceai.{vcf,tsv,h5ad}",
        frame["record"].nunique(),
        len(alts) - len(unscored),
        len(unscored),
        out,
    )
    for reason, count in unscored["reason"].value_counts().head(5).items():
        log.info("  not scored (%d): %s", count, reason)
    return 0
