"""Distil one student from frozen teachers (registered models or saved ones) on augmented sequence, from a TOML config.

Writes to --out (or the config's ``out``): the student as a model directory (model_card.json with its
teachers, their versions and licences, the augmentation, steps and metrics; and its weights), checkpoints/
(resume a killed run with --resume) and metrics.csv (the distillation loss; on the validation fold, the
Pearson correlation with the ensemble of the student and of every teacher, and splice-site top-k when the
config's data has annotated sites). A SpliceAI-architecture student scores with
``genome-plugin spliceai --checkpoint DIR`` (and every command, ``--model spliceai --checkpoint DIR``); an
AlphaGenome-architecture one with ``--model alphagenome --checkpoint DIR``. Example configs are in
train/configs/ of the source repository.
"""

from __future__ import annotations

import argparse
import logging

NAME = "distill"
HELP = "distil a student model from frozen teachers (ensemble mean on augmented sequence) from a TOML config"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="TOML", help="distillation config (see train/configs/)")
    parser.add_argument("--out", help="output folder (default: the config's `out`, relative to the config file)")
    parser.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")


def run(args: argparse.Namespace) -> int:
    from genome_plugin.errors import InputError
    from genome_plugin.train.distill import distill_from_config, read_distill_config

    config = read_distill_config(args.config, out=args.out)
    if config.out is None:
        raise InputError("no output folder: pass --out or set `out` in the config", path=args.config)
    result, model_dir = distill_from_config(config, out_dir=config.out, resume=args.resume, progress=not args.quiet)
    shown = {k: v for k, v in result.metrics.items() if k == "valid/loss" or k.startswith("valid/student/")}
    before = {k: v for k, v in result.initial.items() if k == "valid/loss" or k.startswith("valid/student/")}
    log.info("distilled %d step(s) (from step %d) in %.1f s; before: %s; after: %s", result.steps,
             result.resumed_from, result.seconds, ", ".join(f"{k} {v:.4g}" for k, v in sorted(before.items())),
             ", ".join(f"{k} {v:.4g}" for k, v in sorted(shown.items())))
    print(f"wrote {model_dir}")
    return 0
