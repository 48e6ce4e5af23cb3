"""Score every variant of a VCF with registered scorers.

Writes to --out: scores.vcf (the input VCF with one INFO key per scorer, top tracks by |score|),
scores.tsv (one line per variant x gene x track, the AlphaGenome SDK's tidy columns) and one
<scorer>.h5ad per scorer (obs = variant or variant x gene rows, var = tracks, X = raw scores).
Every record and ALT of the VCF appears in every output; those not scored carry a reason.
A killed run continues with --resume; --region or --chunk i/n split a VCF across jobs.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from genome_plugin.commands._common import (
    add_model_arguments,
    add_tracks_argument,
    check_track_filter,
    load_model_from_args,
)
from genome_plugin.errors import InputError

NAME = "score"
HELP = "score the variants of a VCF (annotated VCF, tidy TSV and one h5ad per scorer)"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from genome_plugin.scoring.engine import DEFAULT_CHECKPOINT_EVERY, DEFAULT_MAX_ALLELE_LENGTH, DEFAULT_TOP_N

    add_model_arguments(parser)
    parser.add_argument("--fasta", help="reference FASTA (plain or bgzipped) the VCF was called against")
    parser.add_argument("--vcf", help="variants to score (plain or bgzipped VCF)")
    parser.add_argument("--scorer", action="append", metavar="S",
                        help="scorer or preset name, repeatable; none given: the 'recommended' preset (--list-scorers)")
    parser.add_argument("--gtf", help="gene annotation for gene-level scorers")
    parser.add_argument("--polya-bed", metavar="BED",
                        help="polyA sites for the polyadenylation scorer; without it, transcript ends in --gtf")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--region", help="only score variants in chrom or chrom:start-end (0-based, end exclusive)")
    where.add_argument("--chunk", metavar="I/N", help="only score the I-th of N contiguous blocks of VCF records")
    parser.add_argument("--resume", action="store_true", help="continue a killed run from its checkpoint in --out")
    parser.add_argument("--background-vcf", metavar="VCF",
                        help="variants whose scores give the background for quantile scores")
    add_tracks_argument(parser)
    parser.add_argument("--sequence-length", type=int, metavar="BP",
                        help="model input window; unset, the model's preferred length (16384 for alphagenome-tiny)")
    parser.add_argument("--window-stride", type=int, metavar="BP",
                        help="variants whose nearest window centre (a multiple of this) is the same share one "
                             "REF prediction; unset, sequence length / 16; 1 centres each window exactly")
    parser.add_argument("--batch-size", type=int, default=4, help="sequences per model call")
    parser.add_argument("--checkpoint-every", type=int, default=DEFAULT_CHECKPOINT_EVERY, metavar="N",
                        help="store scores on disk after every N variants")
    parser.add_argument("--top-n", type=int, default=DEFAULT_TOP_N, help="cells per scorer shown in the VCF INFO")
    parser.add_argument("--max-allele-length", type=int, default=DEFAULT_MAX_ALLELE_LENGTH, metavar="BP",
                        help="longer REF/ALT alleles are reported as not scored")
    parser.add_argument("--rc-average", action="store_true", help="average forward and reverse-complement predictions")
    parser.add_argument("--out", help="output folder")
    parser.add_argument("--list-scorers", action="store_true", help="list registered scorers and presets, then exit")


def _list_scorers() -> int:
    from genome_plugin.plugins import registered_scorers

    for name, registered in registered_scorers().items():
        obj = registered.obj
        members = getattr(obj, "members", None)
        if members is not None:
            print(f"{name}\tpreset of {len(members)}: {', '.join(members)}\t[{registered.plugin}]")
            continue
        output_type = getattr(getattr(obj, "output_type", None), "value", "")
        print(f"{name}\t{output_type}\t{getattr(obj, 'description', '')}\t[{registered.plugin}]")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list_scorers:
        return _list_scorers()
    missing = [flag for flag, value in (("--fasta", args.fasta), ("--vcf", args.vcf), ("--out", args.out))
               if not value]
    if missing:
        msg = f"{', '.join(missing)} required (or --list-scorers)"
        raise InputError(msg)
    for flag in ("--fasta", "--vcf", "--gtf", "--background-vcf", "--polya-bed"):
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value and not Path(value).is_file():  # before scorers are resolved, whose errors would hide this one
            msg = f"{flag} {value}: no such file"
            raise InputError(msg)
    for flag, value, least in (
        ("--sequence-length", args.sequence_length, 1), ("--window-stride", args.window_stride, 1),
        ("--batch-size", args.batch_size, 1), ("--checkpoint-every", args.checkpoint_every, 1),
        ("--top-n", args.top_n, 0), ("--max-allele-length", args.max_allele_length, 1),
    ):
        if value is not None and value < least:
            msg = f"{flag} {value}: must be at least {least}"
            raise InputError(msg)
    check_track_filter(args)
    from genome_plugin.genome import Reference, read_gtf
    from genome_plugin.scoring.engine import score_variants

    annotation = read_gtf(args.gtf) if args.gtf else None
    scorers: list = list(args.scorer or ["recommended"])
    if args.polya_bed:
        from genome_plugin.scoring.genes import read_polya_bed
        from genome_plugin.scoring.polyadenylation import Polyadenylation

        if annotation is None:
            msg = "--polya-bed needs --gtf (sites are matched to genes)"
            raise InputError(msg)
        custom = Polyadenylation(read_polya_bed(args.polya_bed, annotation))
        if Polyadenylation.name in scorers:
            scorers = [custom if s == Polyadenylation.name else s for s in scorers]
        else:  # listed first, it takes the place of the preset member of the same name
            scorers = [custom, *scorers]
    result = score_variants(
        load_model_from_args(args), Reference(args.fasta), args.vcf, scorers=scorers, annotation=annotation,
        out_dir=args.out, region=args.region, chunk=args.chunk, resume=args.resume,
        checkpoint_every=args.checkpoint_every, batch_size=args.batch_size, background_vcf=args.background_vcf,
        top_n=args.top_n, organism=args.organism, sequence_length=args.sequence_length,
        window_stride=args.window_stride, max_allele_length=args.max_allele_length, track_query=args.tracks,
        rc_average=args.rc_average, progress=not args.quiet,
    )
    for name, reason in result.skipped_scorers.items():
        log.warning("scorer %s skipped: %s", name, reason)
    log.info("scored %d of %d variant(s) (%d resumed from the checkpoint; %d not scored, reasons in the outputs) "
             "in %d window(s), %.1f s", result.scored, result.entries, result.resumed, result.not_scored,
             result.windows, result.seconds)
    log.info("wrote %s, %s and %d h5ad file(s)", result.vcf, result.tsv, len(result.h5ad))
    from genome_plugin.writers import warn_foreign_outputs

    warn_foreign_outputs(result.out_dir, [result.vcf, result.tsv, *result.h5ad.values()])
    return 0
