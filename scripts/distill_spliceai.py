"""Distil one SpliceAI-10k network from the five built-in SpliceAI networks on real chr20, then compare them.

Usage (after ``scripts/fetch_real_genomes.sh build/genomes``)::

    python scripts/distill_spliceai.py [--steps N] [--mutation-rate R] [--eval-batches N] [--out DIR]

1. Runs ``train/configs/distill_spliceai_chr20.toml`` (the overrides above replace its values): teachers =
   spliceai members 1-5, student = one SpliceAI-10k network, windows of GRCh37 chr20 + chrX.
2. Reports, on the validation region (chr20 44-50 Mb), the Pearson correlation with the ensemble's outputs
   and top-k against the annotated (spliceai GRCh37) sites, for the student, each teacher and the ensemble.
3. Scores the same VCF with ``genome-plugin spliceai`` through the ensemble, the student and each single
   member (saved as model directories), timing each, and reports the fraction of delta-score entries within
   0.05 of the ensemble's.

Everything measured goes to ``DIR/report.json`` and is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "train/configs/distill_spliceai_chr20.toml"
DS = ["DS_AG", "DS_AL", "DS_DG", "DS_DL"]


def _score(out: Path, args: argparse.Namespace, extra: list[str]) -> tuple[float, pd.DataFrame]:
    command = [sys.executable, "-m", "genome_plugin.cli", "-q", "spliceai", "--fasta", args.fasta, "--vcf", args.vcf,
               "--annotation", args.annotation, "--out", str(out), *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    return seconds, pd.read_csv(out / "spliceai.tsv", sep="\t")


def _agreement(frame: pd.DataFrame, reference: pd.DataFrame) -> float:
    """Fraction of delta-score entries (4 per scored variant x gene) within 0.05 of the reference's."""
    keys = ["variant_id", "gene_name"]
    merged = reference.merge(frame, on=keys, suffixes=("_ref", ""))
    merged = merged.dropna(subset=[f"{c}_ref" for c in DS])
    diffs = np.abs(merged[DS].to_numpy(float) - merged[[f"{c}_ref" for c in DS]].to_numpy(float))
    return float((diffs <= 0.05).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--mutation-rate", type=float)
    parser.add_argument("--eval-batches", type=int)
    parser.add_argument("--random-init", action="store_true", help="distil from random weights, not member 1")
    parser.add_argument("--out", default=str(ROOT / "build/distill_spliceai_chr20"))
    parser.add_argument("--vcf", default=str(ROOT / "test-data/variants_1000.vcf"))
    parser.add_argument("--fasta", default=str(ROOT / "test-data/chr20_slice.fa"))
    parser.add_argument("--annotation", default=str(ROOT / "test-data/genes.gtf"))
    parser.add_argument("--skip-distill", action="store_true", help="reuse the student already in --out")
    parser.add_argument("--skip-members", action="store_true", help="score with the ensemble and the student only")
    args = parser.parse_args()

    from genome_plugin.model.spliceai import load_ensemble
    from genome_plugin.model.spliceai_checkpoint import save_spliceai_dir
    from genome_plugin.train.distill import distill_from_config, read_distill_config

    out = Path(args.out).resolve()
    student_dir = out / "student"
    report: dict = {}
    if not args.skip_distill:
        config = read_distill_config(CONFIG, out=str(student_dir))
        data = config.data
        if args.mutation_rate is not None:
            data = dataclasses.replace(data, mutation_rate=args.mutation_rate)
        loop = config.loop
        if args.steps is not None:
            loop = dataclasses.replace(loop, steps=args.steps, checkpoint_every=max(args.steps, 1))
        if args.eval_batches is not None:
            loop = dataclasses.replace(loop, eval_batches=args.eval_batches)
        student = config.student
        if args.random_init:
            student = dataclasses.replace(student, init_teacher=None)
        config = dataclasses.replace(config, data=data, loop=loop, student=student)
        result, _ = distill_from_config(config, out_dir=student_dir, progress=False)
        report["distillation"] = {"steps": result.steps, "seconds": round(result.seconds, 1),
                                  "mutation_rate": data.mutation_rate, "init_teacher": student.init_teacher,
                                  "first_losses": result.losses[:5], "last_losses": result.losses[-5:],
                                  "before": result.initial, "after": result.metrics}
    else:
        card = json.loads((student_dir / "model_card.json").read_text())["distillation"]
        report["distillation"] = {k: card[k] for k in ("steps", "seconds", "augmentation", "metrics_before",
                                                       "metrics")}
    members = out / "members"
    ensemble = load_ensemble()
    for i in range(ensemble.size):
        path = members / f"member{i + 1}"
        if not path.exists():
            save_spliceai_dir(ensemble.member(i), path, {"name": f"spliceai-member{i + 1}", "version": "1.3.1",
                                                          "licence": "CC BY-NC 4.0 (spliceai package weights)"})
    runs = {}
    t_ens, ref = _score(out / "scores_ensemble", args, [])
    runs["ensemble (5 networks)"] = {"seconds": round(t_ens, 1), "within_0.05": 1.0}
    t_student, frame = _score(out / "scores_student", args, ["--checkpoint", str(student_dir)])
    runs["student"] = {"seconds": round(t_student, 1), "within_0.05": _agreement(frame, ref)}
    for i in range(0 if args.skip_members else ensemble.size):
        t, frame = _score(out / f"scores_member{i + 1}", args, ["--checkpoint", str(members / f"member{i + 1}")])
        runs[f"member {i + 1}"] = {"seconds": round(t, 1), "within_0.05": _agreement(frame, ref)}
    report["scoring"] = {"vcf": args.vcf, "variants": int(ref["variant_id"].nunique()), "runs": runs,
                         "speed_ratio_student_vs_ensemble": round(t_ens / t_student, 2)}
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
