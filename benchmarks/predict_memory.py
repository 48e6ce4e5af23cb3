"""Host memory of predicting one 1 Mb interval with a track filter, against predicting every track.

The model is the AlphaGenome architecture (``tiny`` trunk, random weights) with the released DNase
head width (384 tracks), behind :class:`~genome_plugin.model.adapter.AlphaGenomeModel`, predicted
through :class:`~genome_plugin.predict.Predictor` exactly as the API and CLI do. The sequence is a
1 Mb window of real GRCh37 chr20 (the bundled 360 kb slice repeated into one 1.08 Mb contig).

Each case runs in a fresh subprocess so its peak memory is its own:

- ``filtered``: the 10 first DNase tracks requested (``--tracks``);
- ``all tracks``: every DNase track (``--no-full`` skips it).

Printed per case: the bytes of the arrays the Predictor returned, the Python/numpy peak traced by
``tracemalloc`` during prediction (host allocations made by the Predictor and the returned arrays),
and the process's peak RSS (which on a CPU also holds XLA's buffers, i.e. the "device" memory). The
last lines give what all seven 1-D heads of the released model (4,992 tracks) would take on the host
for the same interval, which the filter never allocates.

Usage: ``python benchmarks/predict_memory.py [--length 1048576] [--tracks 10] [--preset tiny]``.
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
DNASE_WIDTH = 384  # the released DNase head width (OFFICIAL_TRACK_COUNTS["dnase"])


def _fasta(directory: Path, length: int) -> Path:
    """A contig of at least ``length`` + 64 kb bp made of the bundled chr20 slice, repeated."""
    from genome_plugin.genome import Interval, Reference

    with Reference(REPO / "test-data" / "chr20_slice.fa") as reference:
        piece = reference.fetch(Interval("chr20", 0, reference.length("chr20")))
    sequence = piece * (-(-(length + 65_536) // len(piece)))
    path = directory / "repeated.fa"
    with open(path, "w") as handle:
        handle.write(">chrT\n")
        for i in range(0, len(sequence), 60):
            handle.write(sequence[i:i + 60] + "\n")
    return path


def _case(length: int, tracks: int | None, preset: str, fasta: str) -> dict:
    """One measurement (run in a subprocess)."""
    import tracemalloc

    from flax import nnx

    from genome_plugin.genome import Interval, Reference
    from genome_plugin.model.adapter import AlphaGenomeModel
    from genome_plugin.model.config import AlphaGenomeConfig
    from genome_plugin.model.network import AlphaGenome
    from genome_plugin.predict import Predictor
    from genome_plugin.tracks import OutputType

    config = AlphaGenomeConfig.preset(preset).with_track_counts({"dnase": DNASE_WIDTH},
                                                                 junction_tissues_per_organism=())
    started = time.perf_counter()
    model = AlphaGenomeModel(AlphaGenome(config, rngs=nnx.Rngs(0)), input_lengths=None)
    built = time.perf_counter() - started
    requests = {OutputType.DNASE: None if tracks is None else list(range(tracks))}
    predictor = Predictor(model, requests=requests, batch_size=1, progress=False)
    reference = Reference(fasta)
    interval = Interval("chrT", 32_768, 32_768 + length)
    assert predictor.window(interval).width == length
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    started = time.perf_counter()
    [predictions] = predictor.predict_intervals(reference, [interval])
    seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "tracks": len(predictor.tracks(OutputType.DNASE)),
        "shapes": {f"{t.value}@{r}bp": list(v.shape) for (t, r), v in predictions.items()},
        "returned_bytes": int(sum(v.nbytes for v in predictions.values())),
        "traced_peak_bytes": int(traced_peak),
        "rss_peak_bytes": int(rss_peak),
        "rss_before_predict_bytes": int(rss_before),
        "seconds": round(seconds, 1),
        "build_seconds": round(built, 1),
    }


def _mb(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=1_048_576, help="interval length in bp")
    parser.add_argument("--tracks", type=int, default=10, help="tracks kept by the filter")
    parser.add_argument("--preset", default="tiny", help="AlphaGenome trunk preset (tiny, small, full)")
    parser.add_argument("--no-full", action="store_true", help="skip the all-tracks case")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--fasta", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        tracks = None if args.case == "all" else int(args.case)
        print(json.dumps(_case(args.length, tracks, args.preset, args.fasta)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fasta = _fasta(Path(tmp), args.length)
        cases = [("filtered", str(args.tracks))] + ([] if args.no_full else [("all tracks", "all")])
        results = {}
        for label, case in cases:
            command = [sys.executable, __file__, "--case", case, "--fasta", str(fasta), "--length", str(args.length),
                       "--preset", args.preset]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                print(done.stderr[-3000:], file=sys.stderr)
                return done.returncode
            results[label] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"Predicting one {args.length:,} bp interval, AlphaGenome '{args.preset}' trunk, DNase head of "
          f"{DNASE_WIDTH} tracks, on the host CPU")
    print(f"{'case':<12}{'tracks':>7}{'returned':>14}{'traced peak':>14}{'RSS peak':>14}{'predict':>10}  shapes")
    for label, r in results.items():
        print(f"{label:<12}{r['tracks']:>7}{_mb(r['returned_bytes']):>14}{_mb(r['traced_peak_bytes']):>14}"
              f"{_mb(r['rss_peak_bytes']):>14}{r['seconds']:>9}s  {r['shapes']}")
    # released 1-D heads: atac, dnase, procap, cage, rna_seq at 1 bp and 128 bp; chip_tf, chip_histone at 128 bp
    fine, coarse_only = 256 + 384 + 128 + 640 + 768, 1664 + 1152
    full = 4 * (args.length * fine + args.length // 128 * (fine + coarse_only))
    print(f"all {fine + coarse_only:,} tracks of the released model's 1-D heads would take {_mb(full)} of float32 on "
          f"the host for this interval; the filter never allocates them")
    bins = args.length + args.length // 128
    filtered = results["filtered"]
    dnase_full = bins * DNASE_WIDTH * 4
    print(f"the filter's traced peak is {filtered['traced_peak_bytes'] / dnase_full:.1%} of the "
          f"{_mb(dnase_full)} the {DNASE_WIDTH} DNase tracks alone would need")
    return 0


if __name__ == "__main__":
    sys.exit(main())
