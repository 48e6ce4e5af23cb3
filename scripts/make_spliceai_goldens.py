#!/usr/bin/env python
"""Make ``test-data/spliceai_goldens/``: outputs of the ORIGINAL ``spliceai`` 1.3.1 tool on real chr20 records.

Runs in a side virtual environment that has ``spliceai==1.3.1`` with TensorFlow and Keras 2 (``bash
scripts/make_spliceai_goldens.sh`` makes one and runs this script there); it never imports genome_plugin,
so nothing here comes from the code the goldens check. What it writes:

- ``annotation.txt``: the genes of the package's own ``annotations/grch37.txt`` that lie in the slice,
  shifted into slice coordinates (contig ``chr20``, slice position = GRCh37 chr20 position - 33,420,000), in
  the package's table format: the custom annotation the tool takes with ``-A``.
- ``input.vcf``: real records built from the slice and that annotation: SNVs within 10 bp of exon
  boundaries, 1-10 bp deletions and insertions across them, records where two genes overlap (MYH7B and
  TRPC4AP), multi-allelic records and an MNV. REF comes from the FASTA; intron numbers in the IDs count in
  genomic order.
- ``spliceai_M0.vcf`` and ``spliceai_M1.vcf``: the tool's command line run on ``input.vcf`` with
  ``-D 50 -M 0`` and ``-M 1`` (its annotated VCFs, as written).
- ``windows.npz``: raw per-position probabilities of each of the five Keras models for three 15 kb
  windows of the slice (``probabilities`` (5, windows, 5,000, 3) float32, classes none/acceptor/donor;
  ``starts`` 0-based window starts; the models see the one-hot window as the tool encodes it). No
  object arrays: load with ``allow_pickle=False``.
- ``manifest.json``: versions, commands, counts and SHA-256 of every file.

Usage (from the repository root)::

    bash scripts/make_spliceai_goldens.sh          # side venv in /tmp/spliceai-orig-venv, then this script
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
FASTA = REPO / "test-data" / "chr20_slice.fa"
OUT = REPO / "test-data" / "spliceai_goldens"
SLICE_CONTIG = "chr20"
SOURCE_CONTIG = "20"
OFFSET = 33_420_000
LENGTH = 360_000
DISTANCE = 50
SPLICEAI_VERSION = "1.3.1"
WINDOW = 15_000  # 5,000 outputs with the models' 5,000 bp of context each side
WINDOW_STARTS = (20_000, 75_000, 105_000)  # inside GGT7 (-), ACSS2 (+), GSS (-)
# Where two genes overlap in the slice (0-based, half-open): the end of MYH7B (+) and the start of TRPC4AP (-).
TWO_GENE_SPAN = (170_206, 170_240)
INTRONS_PER_GENE = 6
# Offsets of SNVs from an intron's first base (left boundary) and last base (right boundary), all within 10 bp.
LEFT_OFFSETS = (1, -1, 5, -3, 0, 10, -10, 2, 7, -6, 3, -2)
RIGHT_OFFSETS = (-2, 1, 0, -5, 3, -10, 8, -1, 2, 10, -7, 4)
INSERTIONS = ("A", "GT", "TAG", "GTAA", "AGGTA", "CAGGTA", "GTAAGTA", "TTTCAGGT", "ACGTACGTA", "GGTAAGTATC")


def read_slice(path: Path) -> str:
    """The one contig of the slice FASTA, upper case."""
    lines = path.read_text().splitlines()
    if not lines or lines[0].split()[0] != f">{SLICE_CONTIG}":
        raise SystemExit(f"{path}: expected one contig {SLICE_CONTIG}")
    seq = "".join(lines[1:]).upper()
    if len(seq) != LENGTH:
        raise SystemExit(f"{path}: {len(seq)} bp, expected {LENGTH}")
    return seq


def package_file(relative: str) -> Path:
    return Path(importlib.metadata.distribution("spliceai").locate_file(f"spliceai/{relative}"))


def slice_annotation() -> list[dict]:
    """Genes of the package's grch37 table inside the slice, in slice coordinates (table conventions kept)."""
    table = package_file("annotations/grch37.txt")
    lines = table.read_text().splitlines()
    header = lines[0].split("\t")
    genes = []
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=True))
        start, end = int(row["TX_START"]), int(row["TX_END"])
        if row["CHROM"] != SOURCE_CONTIG or end <= OFFSET or start >= OFFSET + LENGTH:
            continue
        if start < OFFSET or end > OFFSET + LENGTH:
            raise SystemExit(f"{table}: gene {row['#NAME']} crosses a slice end")
        exon_starts = [int(x) - OFFSET for x in row["EXON_START"].split(",")[:-1]]
        exon_ends = [int(x) - OFFSET for x in row["EXON_END"].split(",")[:-1]]
        genes.append({"name": row["#NAME"], "strand": row["STRAND"], "start": start - OFFSET, "end": end - OFFSET,
                      # table: starts 0-based, ends 1-based inclusive, i.e. half-open [start, end) in 0-based terms
                      "exons": sorted(zip(exon_starts, exon_ends, strict=True))})
    return sorted(genes, key=lambda g: g["start"])


def annotation_text(genes: list[dict]) -> str:
    rows = ["#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END"]
    for g in genes:
        starts = "".join(f"{s}," for s, _ in g["exons"])
        ends = "".join(f"{e}," for _, e in g["exons"])
        rows.append("\t".join([g["name"], SLICE_CONTIG, g["strand"], str(g["start"]), str(g["end"]), starts, ends]))
    return "\n".join(rows) + "\n"


def build_records(seq: str, genes: list[dict]) -> list[tuple[int, str, str, str]]:
    """(POS 1-based, ID, REF, ALT) records, sorted by position, unique by (POS, REF, ALT)."""
    records: dict[tuple[int, str, str], str] = {}
    counter = 0

    def snv(zero_based: int, vid: str, *, alts: int = 1) -> None:
        nonlocal counter
        ref = seq[zero_based]
        choices = [b for b in "ACGT" if b != ref]
        alt = ",".join(choices[(counter + k) % 3] for k in range(alts))
        counter += 1
        records.setdefault((zero_based + 1, ref, alt), vid)

    def deletion(first_deleted: int, length: int, vid: str) -> None:
        # VCF: POS is the base before the deleted bases, REF = that base + the deleted ones, ALT = that base
        records.setdefault((first_deleted, seq[first_deleted - 1:first_deleted + length], seq[first_deleted - 1]),
                           vid)

    def insertion(after: int, inserted: str, vid: str) -> None:
        records.setdefault((after + 1, seq[after], seq[after] + inserted), vid)

    deletions = insertions = 0
    for g in genes:
        introns = [(a[1], b[0]) for a, b in zip(g["exons"], g["exons"][1:], strict=False)]
        for k, (start, end) in enumerate(introns[:INTRONS_PER_GENE]):
            left = LEFT_OFFSETS[(k + len(g["name"])) % len(LEFT_OFFSETS)]
            right = RIGHT_OFFSETS[(k + len(g["name"])) % len(RIGHT_OFFSETS)]
            snv(start + left, f"{g['name']}_intron{k + 1}_left{left:+d}_snv")
            snv(end - 1 + right, f"{g['name']}_intron{k + 1}_right{right:+d}_snv")
        # indels across the boundaries of the next introns (genomic order), lengths cycling through 1..10
        for k, (start, end) in enumerate(introns[INTRONS_PER_GENE:INTRONS_PER_GENE + 2] or introns[:2]):
            length = deletions % 10 + 1
            deletion(start - length // 2, length, f"{g['name']}_del{length}bp_at_intron_start")
            deletions += 1
            inserted = INSERTIONS[insertions % len(INSERTIONS)]
            insertion(end - 1 - k, inserted, f"{g['name']}_ins{len(inserted)}bp_at_intron_end")
            insertions += 1
        if g["exons"] and len(g["exons"]) > 2:
            exon_start, exon_end = g["exons"][1]
            snv((exon_start + exon_end) // 2, f"{g['name']}_exon_multiallelic_snv", alts=2)
    lo, hi = TWO_GENE_SPAN
    for i, p in enumerate(range(lo, hi, 4)):
        snv(p, f"two_genes_MYH7B_TRPC4AP_snv{i + 1}")
    deletion(lo + 9, 3, "two_genes_MYH7B_TRPC4AP_del3bp")
    insertion(lo + 22, "GTAAG", "two_genes_MYH7B_TRPC4AP_ins5bp")
    mnv = genes[0]["exons"][1][0]
    records.setdefault((mnv, seq[mnv - 1:mnv + 1], "".join("T" if b != "T" else "A" for b in seq[mnv - 1:mnv + 1])),
                       "mnv_2bp_at_exon_start")
    rows = [(pos, vid, ref, alt) for (pos, ref, alt), vid in records.items()]
    for pos, vid, ref, _ in rows:
        if seq[pos - 1:pos - 1 + len(ref)] != ref:
            raise SystemExit(f"record {vid}: REF {ref} is not the FASTA's")
    return sorted(rows)


def vcf_text(rows: list[tuple[int, str, str, str]]) -> str:
    head = [
        "##fileformat=VCFv4.2",
        "##source=genome-plugin scripts/make_spliceai_goldens.py",
        "##reference=chr20_slice.fa",
        f"##slice=GRCh37 chromosome 20 positions {OFFSET + 1}-{OFFSET + LENGTH}; position here = GRCh37 - {OFFSET}",
        f"##contig=<ID={SLICE_CONTIG},length={LENGTH}>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    body = ["\t".join([SLICE_CONTIG, str(pos), vid, ref, alt, ".", ".", "."]) for pos, vid, ref, alt in rows]
    return "\n".join(head + body) + "\n"


def run_tool(vcf: Path, out: Path, annotation: Path, mask: int) -> list[str]:
    """The package's own command line, as a user runs it; returns the command."""
    tool = Path(sys.executable).with_name("spliceai")
    command = [str(tool), "-I", str(vcf), "-O", str(out), "-R", str(FASTA), "-A", str(annotation),
               "-D", str(DISTANCE), "-M", str(mask)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run(command, check=True, env=env)
    return [tool.name, *command[1:]]


def raw_windows(seq: str) -> np.ndarray:
    """(5 models, windows, 5,000, 3) probabilities, the windows one-hot encoded by the package's encoder."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from keras.models import load_model
    from spliceai.utils import one_hot_encode

    x = np.stack([one_hot_encode(seq[s:s + WINDOW]) for s in WINDOW_STARTS]).astype(np.float32)
    models = [load_model(str(package_file(f"models/spliceai{k}.h5")), compile=False) for k in range(1, 6)]
    return np.stack([m.predict(x, verbose=0) for m in models]).astype(np.float32)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--skip-tool", action="store_true", help="only rewrite annotation, input VCF and windows")
    args = parser.parse_args(argv)
    version = importlib.metadata.version("spliceai")
    if version != SPLICEAI_VERSION:
        raise SystemExit(f"needs spliceai {SPLICEAI_VERSION}, found {version}")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    seq = read_slice(FASTA)
    genes = slice_annotation()
    annotation = out / "annotation.txt"
    annotation.write_text(annotation_text(genes))
    rows = build_records(seq, genes)
    vcf = out / "input.vcf"
    vcf.write_text(vcf_text(rows))
    commands = {}
    if not args.skip_tool:
        for mask in (0, 1):
            commands[f"M{mask}"] = run_tool(vcf, out / f"spliceai_M{mask}.vcf", annotation, mask)
    probabilities = raw_windows(seq)
    np.savez_compressed(out / "windows.npz", probabilities=probabilities,
                        starts=np.asarray(WINDOW_STARTS, dtype=np.int64), length=np.int64(WINDOW))
    versions = {name: importlib.metadata.version(name) for name in ("spliceai", "tensorflow-cpu", "keras", "numpy",
                                                                     "pysam", "pyfaidx", "pandas")}
    manifest = {
        "made_by": "scripts/make_spliceai_goldens.py (the original spliceai tool, in a side environment)",
        "python": platform.python_version(),
        "versions": versions,
        "fasta": {"path": "test-data/chr20_slice.fa", "sha256": sha256(FASTA)},
        "slice": {"contig": SLICE_CONTIG, "grch37_offset": OFFSET, "length": LENGTH},
        "distance": DISTANCE,
        "records": len(rows),
        "genes": [g["name"] for g in genes],
        "commands": {k: " ".join(v).replace(str(REPO) + "/", "") for k, v in commands.items()},
        "windows": {"starts": list(WINDOW_STARTS), "length": WINDOW, "models": 5, "classes": ["none", "acceptor",
                                                                                               "donor"]},
        "files": {p.name: sha256(p) for p in sorted(out.iterdir()) if p.name != "manifest.json"},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {out}: {len(rows)} records, {len(genes)} genes, windows {probabilities.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
