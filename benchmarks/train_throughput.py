"""Training throughput: the data loader alone (examples/s), with and without the prefetch thread, and train
steps/s per model preset.

The loader part reads either a synthetic data set written here (random FASTA, dense 1 bp bigWig tracks, a
GTF, an SJ.out.tab and a 2,048 bp .cool: every target type) or, with ``--real``, GRCh37 chr20 from
``scripts/fetch_real_genomes.sh`` with splice-site labels from the spliceai package's GRCh37 table.
``--presets tiny small`` then times the loop's compiled train step (forward, losses of every target,
backward, AdamW) on the same batches, one head per output type of the data set: compile time of the first
step, steps/s over ``--train-steps`` steps after it, and the peak RSS of the process so far.

    .venv-test/bin/python benchmarks/train_throughput.py [--length 16384] [--batch 4] [--steps 20] [--real FASTA]
                                                         [--presets tiny small] [--train-steps 5]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from genome_plugin.train.data import DataConfig, TrainingData


def write_synthetic(root: Path, *, length: int, tracks: int, seed: int = 0) -> Path:
    """A one-contig data set with every target type; returns the track table's path."""
    import cooler
    import pyBigWig

    rng = np.random.default_rng(seed)
    with open(root / "genome.fa", "w") as handle:
        text = "".join(np.array(list("ACGT"))[rng.integers(0, 4, length)])
        handle.write(">chr1\n" + "\n".join(text[i : i + 60] for i in range(0, length, 60)) + "\n")
    rows = ["output_type\tname\tstrand\tfile"]
    for t in range(tracks):
        bw = pyBigWig.open(str(root / f"track{t}.bw"), "w")
        bw.addHeader([("chr1", length)])
        values = rng.poisson(0.5, length).astype(np.float64)
        bw.addEntries("chr1", 0, values=values, span=1, step=1)
        bw.close()
        rows.append(f"rna_seq\ttrack{t // 2}\t{'+-'[t % 2]}\ttrack{t}.bw")
    gtf, sj = [], []
    for g, start in enumerate(range(5_000, length - 20_000, 20_000)):
        strand = "+-"[g % 2]
        for e in range(4):
            first = start + e * 3_000
            gtf.append(f'chr1\tsim\texon\t{first + 1}\t{first + 200}\t.\t{strand}\t.\tgene_id "G{g}"; '
                       f'transcript_id "T{g}";')
            if e < 3:
                sj.append(f"chr1\t{first + 201}\t{first + 3_000}\t{1 if strand == '+' else 2}\t1\t1\t"
                          f"{rng.integers(1, 50)}\t0\t30")
    (root / "genes.gtf").write_text("\n".join(gtf) + "\n")
    (root / "SJ.out.tab").write_text("\n".join(sj) + "\n")
    rows += ["splice_sites\tsim\t.\tgenes.gtf", "splice_site_usage\tsim\t+\tSJ.out.tab",
             "splice_junctions\tsim\t+\tSJ.out.tab", "splice_junctions\tsim\t-\tSJ.out.tab"]
    n = -(-length // 2048)
    bins = pd.DataFrame({"chrom": "chr1", "start": np.arange(n) * 2048,
                         "end": np.minimum(np.arange(1, n + 1) * 2048, length)})
    i, j = np.triu_indices(n)
    near = j - i < 64
    pixels = pd.DataFrame({"bin1_id": i[near], "bin2_id": j[near],
                           "count": rng.poisson(100 / (1 + j[near] - i[near])).astype(float)})
    cooler.create_cooler(str(root / "hic.cool"), bins, pixels, dtypes={"count": float})
    rows.append("contact_maps\thic\t.\thic.cool")
    (root / "tracks.tsv").write_text("\n".join(rows) + "\n")
    (root / "folds.bed").write_text(f"chr1\t0\t{length}\ttrain\n")
    return root / "tracks.tsv"


def write_real(root: Path, fasta: Path) -> Path:
    """Splice-site labels (spliceai GRCh37 table) on a real chr20 FASTA; returns the track table's path."""
    (root / "tracks.tsv").write_text("output_type\tname\tstrand\tfile\nsplice_sites\tgrch37\t.\tspliceai:grch37\n")
    (root / "folds.bed").write_text("20\t60000\t62960000\ttrain\n")
    return root / "tracks.tsv"


def loader_rate(data: TrainingData, steps: int, prefetch: int) -> float:
    """Examples per second over ``steps`` training batches (after one warm-up batch)."""
    batches = data.batches(start_step=0, num_steps=steps + 1, prefetch=prefetch)
    next(batches)
    start = time.perf_counter()
    count = sum(len(batch["sequence"]) for batch in batches)
    return count / (time.perf_counter() - start)


def train_rate(data: TrainingData, preset: str, steps: int) -> tuple[float, float]:
    """Seconds of the first (compiling) train step and steps/s of the next ``steps``, batches prepared ahead."""
    import jax
    from flax import nnx

    from genome_plugin.model.config import AlphaGenomeConfig
    from genome_plugin.train.config import OptimizerConfig
    from genome_plugin.train.loop import (
        build_model,
        junction_track_tissues,
        make_optimizer,
        make_train_step,
        prepare_batch,
        resolve_precision,
    )

    model, _ = build_model(AlphaGenomeConfig.preset(preset), data.tracks, precision=resolve_precision("auto"))
    model.train()
    optimizer = nnx.Optimizer(model, make_optimizer(OptimizerConfig(), steps + 1), wrt=nnx.Param)
    step = make_train_step()
    tissues = junction_track_tissues(data.tracks)
    batches = [jax.device_put(prepare_batch(b, num_sites=model.config.heads.num_splice_sites,
                                            junction_tissues=tissues))
               for b in data.batches(start_step=0, num_steps=steps + 1, prefetch=0)]
    start = time.perf_counter()
    jax.block_until_ready(step(model, optimizer, batches[0]))
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    for batch in batches[1:]:
        out = step(model, optimizer, batch)
    jax.block_until_ready(out)
    return compile_seconds, steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=16_384, help="window length (bp)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--genome", type=int, default=4_000_000, help="synthetic contig length (bp)")
    parser.add_argument("--tracks", type=int, default=8, help="synthetic bigWig tracks")
    parser.add_argument("--real", type=Path, help="GRCh37 chr20 FASTA (splice-site labels only)")
    parser.add_argument("--presets", nargs="*", default=[], help="model presets whose train steps are timed")
    parser.add_argument("--train-steps", type=int, default=5, help="timed train steps per preset")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        if args.real:
            table, fasta = write_real(root, args.real), args.real
        else:
            table, fasta = write_synthetic(root, length=args.genome, tracks=args.tracks), root / "genome.fa"
        written = time.perf_counter() - start
        config = DataConfig(fasta=str(fasta), track_table=str(table), folds=str(root / "folds.bed"),
                            sequence_length=args.length, batch_size=args.batch, max_shift=2048,
                            mutation_rate=0.01, seed=0, min_splice_sites=1 if args.real else 0)
        start = time.perf_counter()
        data = TrainingData(config)
        built = time.perf_counter() - start
        print(f"data set: {'real ' + str(args.real) if args.real else 'synthetic'}; targets {data.target_keys}")
        print(f"files written in {written:.1f} s; index built in {built:.1f} s "
              f"({len(data.windows())} train windows of {args.length} bp)")
        for prefetch in (0, 4):
            rate = loader_rate(data, args.steps, prefetch)
            print(f"loader, prefetch {prefetch}: {rate:.1f} examples/s ({rate * args.length / 1e6:.2f} Mbp/s)")
        for preset in args.presets:
            compile_seconds, rate = train_rate(data, preset, args.train_steps)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"train step, {preset} preset, batch {args.batch} x {args.length} bp: first step (compiling) "
                  f"{compile_seconds:.1f} s, then {rate:.3f} steps/s ({rate * args.batch:.2f} examples/s); "
                  f"peak RSS so far {peak:.0f} MiB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
