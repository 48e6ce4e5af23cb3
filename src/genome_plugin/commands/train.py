"""Train an AlphaGenome-architecture model (or fine-tune a saved one) on your own tracks, from a TOML config.

Writes to --out (or the config's ``out``): model_card.json and state/ (the trained model; use it with
``--model alphagenome --checkpoint DIR`` in predict, score, ism and contact-map), checkpoints/ (resume a
killed run with --resume) and metrics.csv (loss per head; Pearson per track and splice-site top-k accuracy
on the validation fold). Example configs are in train/configs/ of the source repository.
"""

from __future__ import annotations

import argparse
import logging

NAME = "train"
HELP = "train or fine-tune an AlphaGenome-architecture model from a TOML config"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="TOML", help="training config (see train/configs/)")
    parser.add_argument("--out", help="output folder; unset, the config's `out` (relative to the config file)")
    parser.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")


def run(args: argparse.Namespace) -> int:
    from genome_plugin.errors import InputError
    from genome_plugin.train.config import read_config
    from genome_plugin.train.run import train_from_config

    config = read_config(args.config, out=args.out)
    if config.out is None:
        raise InputError("no output folder: pass --out or set `out` in the config", path=args.config)
    result, model_dir = train_from_config(config, out_dir=config.out, resume=args.resume, progress=not args.quiet)
    shown = {k: v for k, v in result.metrics.items() if k == "valid/loss" or "pearson_mean" in k
             or k.endswith(("top_k/donor", "top_k/acceptor"))}
    log.info("trained %d step(s) (from step %d) in %.1f s on %d device(s); %s", result.steps, result.resumed_from,
             result.seconds, result.devices, ", ".join(f"{k} {v:.4g}" for k, v in sorted(shown.items())))
    print(f"wrote {model_dir} (use: --model alphagenome --checkpoint {model_dir})")
    return 0
