"""Benchmark the scoring engine: variants/s and peak memory, and the REF-reuse speed-up over naive scoring.

For each model (each in a fresh subprocess, so peak memory is its own) this scores the first
``--variants`` records of ``test-data/variants_1000.vcf`` on the bundled chr20 slice three ways:

- ``engine``: :func:`genome_plugin.score_variants` as users run it (REF once per window, batches,
  outputs written);
- ``engine, no REF reuse``: the same with ``window_stride=1`` (every variant its own window), to
  separate the gain of REF reuse from that of batching;
- ``naive``: one variant at a time, the window centred on it, REF and ALT predicted in two
  batch-of-one calls and scored, nothing written (the first ``--naive-variants`` variants).

A warm-up run on a few variants compiles every shape first, so the figures are steady-state. Each mode
reports wall time, CPU time of the process (all threads; steadier than wall time on a shared machine)
and the number of sequences the model predicted (padding rows of a batch not counted).
Usage: ``python benchmarks/score_variants.py [--variants 1000] [--models alphagenome-tiny,spliceai]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "test-data"

#: Per model: scorers, input window (bp) and batch size. SpliceAI reads 5 kb of N-padded flank on each side
#: itself, so a 1 kb window covers its own delta-score range (+/- 50 bp, the 101 bp splicing mask).
CONFIGS = {
    "alphagenome-tiny": {"scorers": ["recommended"], "sequence_length": 16_384, "batch_size": 4},
    "spliceai": {"scorers": ["gene_mask_splicing_splice_sites_101", "center_mask_splice_sites_501_diff_sum"],
                 "sequence_length": 1024, "batch_size": 8},
}


def _subset(n: int, directory: Path) -> Path:
    lines = (DATA / "variants_1000.vcf").read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if line and not line.startswith("#")][:n]
    path = directory / f"variants_{n}.vcf"
    path.write_text("\n".join(header + body) + "\n")
    return path


class _Counter:
    """Counts the real (not all-N padding) sequences a model predicts."""

    def __init__(self, model) -> None:
        self.sequences = 0
        predict = model.predict

        def counting(onehot, **kwargs):
            self.sequences += int(onehot.any(axis=(1, 2)).sum())
            return predict(onehot, **kwargs)

        model.predict = counting


class _Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def _naive(model, reference, vcf: Path, scorers, annotation, *, length: int, limit: int) -> int:
    """One variant at a time: REF and ALT windows centred on it, predicted separately, scored.

    Scoring itself is the engine's (``_score_one``, junctions from ``model.junctions`` included), so the
    difference to the engine is only in how windows are shared and predictions batched.
    """
    import functools

    from genome_plugin.genome import Interval, read_vcf, variant_sequences
    from genome_plugin.predict import Predictor
    from genome_plugin.scoring.engine import _junctions, _plan, _score_one

    plan = _plan(model, scorers, organism="human", annotation=annotation, track_query=None)
    predictor = Predictor(model, requests=plan.requests, batch_size=1, progress=False)
    records = [r for r in read_vcf(vcf, reference=reference, max_allele_length=100) if r.ok][:limit]
    errors: dict[str, int] = {}
    for record in records:
        variant = record.variant
        window = Interval(variant.chrom, variant.start - length // 2, variant.start - length // 2 + length)
        ref_seq, alt_seq = variant_sequences(reference, window, variant)
        ref = {k: v[0] for k, v in predictor.predict_batch([ref_seq]).items()}
        alt = {k: v[0] for k, v in predictor.predict_batch([alt_seq]).items()}
        junctions = functools.partial(_junctions, model, ref_seq, alt_seq, window=window, organism="human")
        _score_one(plan, ref, alt, variant=variant, window=window, annotation=annotation, organism="human",
                   errors=errors, junctions=junctions)
    if errors:
        msg = f"naive scoring: scorer errors {errors}"
        raise RuntimeError(msg)
    return len(records)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(model_name: str, n_variants: int, naive_variants: int, sequence_length: int | None = None) -> dict:
    """Measure one model in this process; returns the figures."""
    from genome_plugin.genome import Reference, read_gtf
    from genome_plugin.plugins import load_model
    from genome_plugin.scoring.engine import score_variants

    config = dict(CONFIGS[model_name])
    model = load_model(model_name)
    config["sequence_length"] = model.valid_length(sequence_length or config["sequence_length"])
    counter = _Counter(model)
    reference = Reference(DATA / "chr20_slice.fa")
    annotation = read_gtf(DATA / "genes.gtf")
    loaded_rss = _peak_rss_mb()
    figures: dict = {"model": model_name, "sequence_length": config["sequence_length"],
                     "batch_size": config["batch_size"]}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        vcf = _subset(n_variants, tmp)
        options = {"scorers": config["scorers"], "annotation": annotation, "sequence_length": config["sequence_length"],
                   "batch_size": config["batch_size"], "progress": False}
        score_variants(model, reference, _subset(config["batch_size"] + 1, tmp), out_dir=tmp / "warm", **options)
        _naive(model, reference, vcf, config["scorers"], annotation, length=config["sequence_length"], limit=1)
        for mode, stride in (("engine", None), ("no_reuse", 1)):
            counter.sequences = 0
            with _Clock() as clock:
                run = score_variants(model, reference, vcf, out_dir=tmp / mode, window_stride=stride, **options)
            figures[mode] = {"variants": run.scored, "windows": run.windows, "sequences": counter.sequences,
                             "wall_s": round(clock.wall, 2), "cpu_s": round(clock.cpu, 2),
                             "variants_per_s": round(run.scored / clock.wall, 3),
                             "variants_per_cpu_s": round(run.scored / clock.cpu, 3)}
            if mode == "engine":
                figures["scorers"] = len(run.h5ad)
                figures["peak_rss_mb_engine"] = round(_peak_rss_mb(), 1)
        counter.sequences = 0
        with _Clock() as clock:
            n = _naive(model, reference, vcf, config["scorers"], annotation, length=config["sequence_length"],
                       limit=naive_variants)
        figures["naive"] = {"variants": n, "windows": n, "sequences": counter.sequences, "wall_s": round(clock.wall, 2),
                            "cpu_s": round(clock.cpu, 2), "variants_per_s": round(n / clock.wall, 3),
                            "variants_per_cpu_s": round(n / clock.cpu, 3)}
    figures["peak_rss_mb_after_load"] = round(loaded_rss, 1)
    for basis in ("variants_per_s", "variants_per_cpu_s"):
        figures[f"speedup_{basis}"] = round(figures["engine"][basis] / figures["naive"][basis], 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=1000)
    parser.add_argument("--naive-variants", type=int, default=100)
    parser.add_argument("--models", default=",".join(CONFIGS))
    parser.add_argument("--sequence-length", type=int, help="override the per-model input window (bp)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.variants, args.naive_variants, args.sequence_length)))
        return
    results = []
    for name in args.models.split(","):
        command = [sys.executable, __file__, "--one", name, "--variants", str(args.variants), "--naive-variants",
                   str(args.naive_variants)]
        if args.sequence_length:
            command += ["--sequence-length", str(args.sequence_length)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            print(f"{name}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for r in results:
        print(f"{r['model']}: window {r['sequence_length']} bp, batch {r['batch_size']}, {r['scorers']} scorers")
        modes = (("engine", "engine"), ("no_reuse", "engine, no REF reuse"), ("naive", "naive, 1 at a time"))
        for mode, label in modes:
            m = r[mode]
            print(f"  {label:22s} {m['variants']:5d} variants {m['windows']:5d} windows {m['sequences']:6d} sequences  "
                  f"{m['variants_per_s']:8.3f} variants/s  {m['variants_per_cpu_s']:8.3f} variants/CPU-s")
        print(f"  speed-up engine / naive: {r['speedup_variants_per_s']}x wall, {r['speedup_variants_per_cpu_s']}x CPU")
        print(f"  peak RSS: {r['peak_rss_mb_after_load']} MB after loading, {r['peak_rss_mb_engine']} MB after scoring")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
