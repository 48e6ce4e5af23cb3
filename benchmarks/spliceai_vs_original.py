"""SpliceAI delta scores: this package against the original ``spliceai`` tool, on the same VCF.

Runs the original tool's scoring path (``spliceai.utils.Annotator`` + ``get_delta_scores``: the five
Keras models through ``model.predict``, as its command line does) in a separate Python that has
TensorFlow, Keras 3 and ``spliceai`` 1.3.1, then scores the same VCF with
:func:`genome_plugin.scoring.spliceai.score_vcf`, and prints for each: records per second of the
scoring loop (model loading excluded and printed separately), the ratio, and how many SpliceAI INFO
entries agree exactly as printed (``%.2f`` scores, integer positions).

The original crashes under numpy 2 (``np.fromstring`` in ``one_hot_encode``); the runner replaces
that one function, at run time and only in the separate Python, by the ``np.frombuffer`` equivalent.

Example (TensorFlow environment in /tmp/tfenv)::

    python benchmarks/spliceai_vs_original.py --tf-python /tmp/tfenv/bin/python \\
        --fasta test-data/chr20_slice.fa --vcf test-data/variants_1000.vcf --annotation test-data/genes.gtf \\
        --limit 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Executed by the TensorFlow Python: the original's main() loop, timed, with one_hot_encode patched.
ORIGINAL_RUNNER = r"""
import json, sys, time
import numpy as np
import pysam
import spliceai.utils as utils

def one_hot_encode(seq):
    table = np.asarray([[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    seq = seq.upper().replace('A', '\x01').replace('C', '\x02')
    seq = seq.replace('G', '\x03').replace('T', '\x04').replace('N', '\x00')
    return table[np.frombuffer(seq.encode('latin-1'), np.int8) % 5]

utils.one_hot_encode = one_hot_encode
vcf_in, vcf_out, fasta, annotation, distance, mask = sys.argv[1:7]
started = time.perf_counter()
ann = utils.Annotator(fasta, annotation)
loaded = time.perf_counter()
vcf = pysam.VariantFile(vcf_in)
header = vcf.header
header.add_line('##INFO=<ID=SpliceAI,Number=.,Type=String,Description="SpliceAIv1.3.1 variant '
                'annotation. These include delta scores (DS) and delta positions (DP) for '
                'acceptor gain (AG), acceptor loss (AL), donor gain (DG), and donor loss (DL). '
                'Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">')
output = pysam.VariantFile(vcf_out, mode='w', header=header)
records = 0
for record in vcf:
    scores = utils.get_delta_scores(record, ann, int(distance), int(mask))
    if len(scores) > 0:
        record.info['SpliceAI'] = scores
    output.write(record)
    records += 1
output.close()
done = time.perf_counter()
print(json.dumps({"load_s": loaded - started, "score_s": done - loaded, "records": records}))
"""


def sample_records(vcf: Path, limit: int | None, out: Path, *, every: int = 1) -> Path:
    """The header and every ``every``-th data line of ``vcf``, at most ``limit`` of them, as a plain VCF."""
    from genome_plugin.genome.vcf import _open_text

    seen = kept = 0
    with _open_text(vcf) as handle, open(out, "w") as target:
        for line in handle:
            if not line.startswith("#"):
                seen += 1
                if (seen - 1) % every:
                    continue
                if limit is not None and kept >= limit:
                    break
                kept += 1
            target.write(line)
    return out


def run_original(tf_python: str, vcf: Path, out: Path, fasta: Path, annotation: str, distance: int, mask: bool) -> dict:
    """Score ``vcf`` with the original tool in ``tf_python``; returns its timings."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [tf_python, "-c", ORIGINAL_RUNNER, str(vcf), str(out), str(fasta), annotation, str(distance), str(int(mask))],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        msg = f"the original spliceai failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
        raise RuntimeError(msg)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ours(
    vcf: Path, out: Path, fasta: Path, annotation: str, distance: int, mask: bool, *, warm: bool = False
) -> dict:
    """Score ``vcf`` with genome-plugin; returns its timings (with ``warm``, also a second, compiled run's)."""
    from genome_plugin.plugins import load_model
    from genome_plugin.scoring.spliceai import score_vcf

    started = time.perf_counter()
    model = load_model("spliceai")
    loaded = time.perf_counter()
    result = score_vcf(vcf, fasta, annotation, model=model, distance=distance, mask=mask, progress=False)
    done = time.perf_counter()
    result.write_vcf(out)
    timings = {"load_s": loaded - started, "score_s": done - loaded, "records": int(result.frame["record"].nunique())}
    if warm:  # the same VCF again in this process: every shape is compiled already
        again = time.perf_counter()
        score_vcf(vcf, fasta, annotation, model=model, distance=distance, mask=mask, progress=False)
        timings["warm_score_s"] = time.perf_counter() - again
    return timings


def spliceai_entries(vcf: Path) -> list[list[str]]:
    """The SpliceAI INFO entries of each data line ([] where it has none)."""
    import pysam

    out = []
    with pysam.VariantFile(str(vcf)) as handle:
        for record in handle:
            value = record.info.get("SpliceAI") if "SpliceAI" in record.header.info else None
            out.append(list(value) if value else [])
    return out


def _same_entry(a: str, b: str) -> bool:
    # The original prints a masked or tiny negative delta as -0.00; the sign of a value that rounds to 0 is noise.
    def norm(entry: str) -> list[str]:
        return ["0.00" if f == "-0.00" else f for f in entry.split("|")]

    return norm(a) == norm(b)


def compare(ours: Path, original: Path) -> dict:
    """Count SpliceAI entries that agree as printed, and list the first differences."""
    mine, theirs = spliceai_entries(ours), spliceai_entries(original)
    if len(mine) != len(theirs):
        msg = f"{ours} has {len(mine)} records, {original} has {len(theirs)}"
        raise ValueError(msg)
    entries = equal = 0
    max_diff = 0.0
    differences = []
    for k, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        if len(a) != len(b):
            differences.append(f"record {k}: ours {a} original {b}")
            entries += max(len(a), len(b))
            continue
        for x, y in zip(a, b, strict=True):
            entries += 1
            if _same_entry(x, y):
                equal += 1
                continue
            differences.append(f"record {k}: ours {x} original {y}")
            fx, fy = x.split("|"), y.split("|")
            for u, v in zip(fx[2:6], fy[2:6], strict=True):
                if u != "." and v != ".":
                    max_diff = max(max_diff, abs(float(u) - float(v)))
    return {
        "records": len(mine),
        "entries": entries,
        "equal": equal,
        "max_printed_ds_diff": max_diff,
        "differences": differences,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument(
        "--tf-python",
        default=os.environ.get("GENOME_PLUGIN_TF_PYTHON"),
        help="Python with tensorflow, keras 3 and spliceai 1.3.1 (env GENOME_PLUGIN_TF_PYTHON)",
    )
    parser.add_argument("--fasta", type=Path, default=root / "test-data" / "chr20_slice.fa")
    parser.add_argument("--vcf", type=Path, default=root / "test-data" / "variants_1000.vcf")
    parser.add_argument(
        "--annotation",
        default=str(root / "test-data" / "genes.gtf"),
        help="grch37, grch38, a SpliceAI gene table or a GTF (converted to a table for the original)",
    )
    parser.add_argument("--distance", type=int, default=50)
    parser.add_argument("--mask", action="store_true")
    parser.add_argument("--limit", type=int, default=100, help="score only the first N records (0: all)")
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        help="take every N-th record (spreads the sample out: fewer variants share a window)",
    )
    parser.add_argument("--out", type=Path, help="keep both output VCFs here")
    args = parser.parse_args(argv)
    if not args.tf_python:
        parser.error("--tf-python (or GENOME_PLUGIN_TF_PYTHON) is required: the original needs TensorFlow")

    from genome_plugin.scoring.spliceai import BUILTIN_TABLES, load_gene_table

    with tempfile.TemporaryDirectory() as tmp:
        work = args.out or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        vcf = sample_records(args.vcf, args.limit or None, work / "input.vcf", every=args.every)
        annotation = args.annotation
        if annotation.lower() not in BUILTIN_TABLES:
            # The same genes for both: our reading of the GTF/table, written in the package's table format.
            annotation = str(load_gene_table(annotation).write(work / "genes_table.txt"))
        load = os.getloadavg()[0]
        original = run_original(
            args.tf_python, vcf, work / "original.vcf", args.fasta, annotation, args.distance, args.mask
        )
        ours = run_ours(vcf, work / "ours.vcf", args.fasta, annotation, args.distance, args.mask, warm=True)
        agreement = compare(work / "ours.vcf", work / "original.vcf")
        load = max(load, os.getloadavg()[0])

    n = original["records"]
    rate_original = n / original["score_s"]
    rate_ours = ours["records"] / ours["score_s"]
    print(
        f"VCF: {args.vcf.name}, first {n} records; annotation {args.annotation}; distance {args.distance}; "
        f"mask {int(args.mask)}; {os.cpu_count()} CPUs, load average up to {load:.1f}"
    )
    print(
        f"original (Keras model.predict): {rate_original:.3f} variants/s "
        f"({original['score_s']:.1f} s scoring, {original['load_s']:.1f} s loading)"
    )
    print(
        f"genome-plugin (JAX):            {rate_ours:.3f} variants/s "
        f"({ours['score_s']:.1f} s scoring incl. compilation, {ours['load_s']:.1f} s loading)"
    )
    rate_warm = ours["records"] / ours["warm_score_s"]
    print(f"genome-plugin, second run:      {rate_warm:.3f} variants/s ({ours['warm_score_s']:.1f} s, compiled)")
    print(
        f"ratio: {rate_ours / rate_original:.2f}x (first run, compilation included); "
        f"{rate_warm / rate_original:.2f}x compiled"
    )
    print(
        f"SpliceAI entries equal as printed: {agreement['equal']}/{agreement['entries']} "
        f"(max printed DS difference {agreement['max_printed_ds_diff']:.2f})"
    )
    for line in agreement["differences"][:10]:
        print("  " + line)
    return 0 if agreement["equal"] == agreement["entries"] else 1


if __name__ == "__main__":
    sys.exit(main())
