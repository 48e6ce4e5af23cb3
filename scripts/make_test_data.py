#!/usr/bin/env python
"""Re-create everything in ``test-data/`` from two public packages.

Sources (fetched with the ordinary package clients into a temporary directory):

- Debian's ``vt-examples`` package (MIT): ``/usr/share/doc/vt/examples/ref/20.fa.gz``, the complete
  GRCh37 chromosome 20, bgzipped; its ``.gzi`` index ships gzipped and is gunzipped here.
- The ``spliceai`` 1.3.1 wheel (GPLv3): ``spliceai/annotations/grch37.txt``, GENCODE V24 canonical
  transcripts (0-based TX_START/EXON_START, 1-based inclusive TX_END/EXON_END, as
  ``spliceai/utils.py`` reads them). The wheel is unzipped, never imported.

Everything written is in *slice coordinates*: the slice GRCh37 chr20:33,420,001-33,780,000 (1-based,
closed) becomes contig ``chr20`` of length 360,000, so slice position p is GRCh37 chr20 position
p + 33,420,000. Text outputs are deterministic (no random generator whose stream could change between
library versions: the benchmark VCF draws its positions from SHA-256 of a counter).

Usage::

    python scripts/make_test_data.py                      # fetch both packages, write test-data/
    python scripts/make_test_data.py --vt-deb X.deb --spliceai-wheel Y.whl   # offline, from local copies
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pysam

SOURCE_CONTIG = "20"
SLICE_CONTIG = "chr20"
OFFSET = 33_420_000
LENGTH = 360_000
# The genes of the GENCODE canonical table that lie in the slice; the script checks that no other gene
# touches it and that each keeps MIN_FLANK bp to both slice ends (SpliceAI needs 5 kb of context).
GENES = ("GGT7", "ACSS2", "GSS", "MYH7B", "TRPC4AP", "EDEM2", "PROCR")
MIN_FLANK = 5_000
# SHA-256 of the upper-case slice sequence; guards against a changed upstream file.
SEQUENCE_SHA256 = "b0b69f3a83c6e1d587366fcc191c84bc449aee9863fc921f16c02dd21696e9dd"

VT_PACKAGE = "vt-examples"
VT_FASTA_PATH = "usr/share/doc/vt/examples/ref/20.fa.gz"
SPLICEAI_VERSION = "1.3.1"
SPLICEAI_TABLE_PATH = "spliceai/annotations/grch37.txt"
MISSING_CONTIG = "chr99"
BENCHMARK_VARIANTS = 1_000
LINE_WIDTH = 60
_COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")
_TRANSITION = {"A": "G", "G": "A", "C": "T", "T": "C"}


@dataclasses.dataclass(frozen=True)
class Gene:
    """One canonical transcript in slice coordinates (0-based, half-open)."""

    name: str
    strand: str
    start: int
    end: int
    exons: tuple[tuple[int, int], ...]  # sorted by genomic start

    def introns(self) -> list[tuple[int, int]]:
        """Introns in transcript order (5' to 3' on the gene's strand), 0-based half-open."""
        introns = [(a[1], b[0]) for a, b in zip(self.exons, self.exons[1:], strict=False)]
        return introns if self.strand == "+" else introns[::-1]

    def exons_in_transcript_order(self) -> list[tuple[int, int]]:
        return list(self.exons) if self.strand == "+" else list(self.exons[::-1])

    def acceptors(self) -> list[int]:
        """0-based position of the first exon base after each intron (the base right of AG on the strand)."""
        return [end if self.strand == "+" else start - 1 for start, end in self.introns()]

    def donors(self) -> list[int]:
        """0-based position of the last exon base before each intron (the base left of GT on the strand)."""
        return [start - 1 if self.strand == "+" else end for start, end in self.introns()]


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


# ---------------------------------------------------------------------------------------------- sources
def fetch_vt_deb(workdir: Path) -> Path:
    """``apt-get download vt-examples`` into ``workdir``; returns the .deb."""
    subprocess.run(["apt-get", "download", VT_PACKAGE], cwd=workdir, check=True)
    return next(workdir.glob(f"{VT_PACKAGE}_*.deb"))


def fetch_spliceai_wheel(workdir: Path) -> Path:
    """``pip download spliceai==1.3.1 --no-deps`` into ``workdir``; returns the wheel."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", f"spliceai=={SPLICEAI_VERSION}", "--no-deps", "-d", str(workdir)],
        check=True,
    )
    return next(workdir.glob(f"spliceai-{SPLICEAI_VERSION}-*.whl"))


def extract_vt_fasta(deb: Path, workdir: Path) -> tuple[Path, str]:
    """Extract the .deb with dpkg-deb, gunzip the gzipped .gzi; returns (20.fa.gz, package version)."""
    root = workdir / "vt-examples"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    version = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True
    ).stdout.strip()
    fasta = root / VT_FASTA_PATH
    with gzip.open(f"{fasta}.gzi.gz", "rb") as src, open(f"{fasta}.gzi", "wb") as dst:
        shutil.copyfileobj(src, dst)
    return fasta, version


def extract_spliceai_table(wheel: Path, workdir: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        return Path(zf.extract(SPLICEAI_TABLE_PATH, workdir / "spliceai"))


def read_slice_sequence(fasta: Path) -> str:
    with pysam.FastaFile(str(fasta)) as fa:
        seq = fa.fetch(SOURCE_CONTIG, OFFSET, OFFSET + LENGTH)
    if len(seq) != LENGTH:
        msg = f"{fasta}: contig {SOURCE_CONTIG} gave {len(seq)} bp for the slice, expected {LENGTH}"
        raise ValueError(msg)
    return seq


def genes_from_spliceai_table(table: Path) -> list[Gene]:
    """Genes of ``GENES`` from the SpliceAI table, shifted into slice coordinates.

    Checks that every transcript of the table touching the slice is one of ``GENES`` and lies inside it
    with ``MIN_FLANK`` to spare, so the slice carries whole genes only.
    """
    genes = {}
    with open(table) as fh:
        header = fh.readline().rstrip("\n").split("\t")
        for line in fh:
            row = dict(zip(header, line.rstrip("\n").split("\t"), strict=True))
            if row["CHROM"] != SOURCE_CONTIG:
                continue
            tx_start, tx_end = int(row["TX_START"]), int(row["TX_END"])
            if tx_end <= OFFSET or tx_start >= OFFSET + LENGTH:
                continue
            name = row["#NAME"]
            if name not in GENES:
                msg = f"{table}: gene {name} overlaps the slice but is not in GENES"
                raise ValueError(msg)
            if tx_start - OFFSET < MIN_FLANK or OFFSET + LENGTH - tx_end < MIN_FLANK:
                msg = f"{table}: gene {name} lies within {MIN_FLANK} bp of a slice end"
                raise ValueError(msg)
            starts = [int(x) - OFFSET for x in row["EXON_START"].split(",") if x]
            ends = [int(x) - OFFSET for x in row["EXON_END"].split(",") if x]
            genes[name] = Gene(
                name, row["STRAND"], tx_start - OFFSET, tx_end - OFFSET, tuple(sorted(zip(starts, ends, strict=True)))
            )
    missing = set(GENES) - set(genes)
    if missing:
        msg = f"{table}: genes {sorted(missing)} not found on contig {SOURCE_CONTIG}"
        raise ValueError(msg)
    return sorted(genes.values(), key=lambda g: (g.start, g.name))


# ---------------------------------------------------------------------------------------------- GTF
def _attributes(gene: Gene, *, transcript: bool, exon_number: int | None = None) -> str:
    parts = [f'gene_id "{gene.name}"']
    if transcript:
        parts.append(f'transcript_id "{gene.name}-canonical"')
    parts += [f'gene_name "{gene.name}"', 'gene_type "unknown"']
    if exon_number is not None:
        parts.append(f'exon_number "{exon_number}"')
    return "; ".join(parts) + ";"


def gtf_text(genes: list[Gene]) -> str:
    """GTF (1-based closed) with gene, transcript and exon lines, exons in transcript order."""
    lines = [
        "#description: GENCODE V24 canonical transcripts from spliceai 1.3.1 grch37.txt, GRCh37 chr20 "
        f"shifted by -{OFFSET} into the test slice (contig {SLICE_CONTIG}, length {LENGTH})",
        "#gene_id: the gene symbol (the source table has no Ensembl ids); gene_type: unknown (not in the source)",
    ]
    for gene in genes:
        cols = [SLICE_CONTIG, "spliceai_grch37"]
        span = [str(gene.start + 1), str(gene.end), ".", gene.strand, "."]
        lines.append("\t".join([*cols, "gene", *span, _attributes(gene, transcript=False)]))
        lines.append("\t".join([*cols, "transcript", *span, _attributes(gene, transcript=True)]))
        for number, (start, end) in enumerate(gene.exons_in_transcript_order(), start=1):
            exon = [str(start + 1), str(end), ".", gene.strand, "."]
            lines.append("\t".join([*cols, "exon", *exon, _attributes(gene, transcript=True, exon_number=number)]))
    return "\n".join(lines) + "\n"


def genes_from_gtf(path: Path) -> list[Gene]:
    """Read back a GTF written by :func:`gtf_text` (used by the tests to rebuild the VCFs offline)."""
    spans: dict[str, tuple[str, int, int]] = {}
    exons: dict[str, list[tuple[int, int]]] = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        name = re.search(r'gene_id "([^"]+)"', fields[8]).group(1)
        start, end = int(fields[3]) - 1, int(fields[4])
        if fields[2] == "gene":
            spans[name] = (fields[6], start, end)
        elif fields[2] == "exon":
            exons.setdefault(name, []).append((start, end))
    genes = [Gene(name, strand, start, end, tuple(sorted(exons[name]))) for name, (strand, start, end) in spans.items()]
    return sorted(genes, key=lambda g: (g.start, g.name))


# ---------------------------------------------------------------------------------------------- VCF
def vcf_header(*, extra_contigs: tuple[str, ...] = (), structural: bool = False) -> list[str]:
    lines = [
        "##fileformat=VCFv4.2",
        "##source=genome-plugin scripts/make_test_data.py",
        "##reference=chr20_slice.fa",
        f"##slice=GRCh37 chromosome 20 positions {OFFSET + 1}-{OFFSET + LENGTH}; position here = GRCh37 - {OFFSET}",
        f"##contig=<ID={SLICE_CONTIG},length={LENGTH}>",
    ]
    lines += [f"##contig=<ID={contig},length=1000000>" for contig in extra_contigs]
    if structural:
        lines += [
            '##ALT=<ID=DEL,Description="Deletion">',
            '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">',
            '##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the structural variant">',
            '##INFO=<ID=SVLEN,Number=.,Type=Integer,Description="Difference in length between REF and ALT alleles">',
        ]
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    return lines


def _record(pos: int, vid: str, ref: str, alt: str, *, chrom: str = SLICE_CONTIG, info: str = ".") -> str:
    return "\t".join([chrom, str(pos), vid, ref, alt, ".", ".", info])


def _snv(seq: str, zero_based: int, vid: str) -> tuple[int, str]:
    ref = seq[zero_based]
    return zero_based + 1, _record(zero_based + 1, vid, ref, _TRANSITION[ref])


def _by_gene(genes: list[Gene]) -> dict[str, Gene]:
    return {g.name: g for g in genes}


def _site_base(gene: Gene, intron: tuple[int, int], offset_in_intron: int) -> int:
    """0-based genomic position of intron base ``offset_in_intron`` counted on the gene's strand.

    0 is the first intron base (donor +1); -1 the last (acceptor -1); -2 the A of the acceptor AG.
    """
    start, end = intron
    if gene.strand == "+":
        return start + offset_in_intron if offset_in_intron >= 0 else end + offset_in_intron
    return end - 1 - offset_in_intron if offset_in_intron >= 0 else start - 1 - offset_in_intron


def variants_records(seq: str, genes: list[Gene]) -> list[str]:
    """About two dozen well-formed variants at splice sites and in exons, sorted by position."""
    records: list[tuple[int, str]] = []
    for gene in genes:
        introns = gene.introns()
        donor_intron = introns[min(1, len(introns) - 1)]
        acceptor_intron = introns[min(2, len(introns) - 1)]
        donor_n = introns.index(donor_intron) + 1
        acceptor_n = introns.index(acceptor_intron) + 1
        records.append(_snv(seq, _site_base(gene, donor_intron, 0), f"{gene.name}_intron{donor_n}_donor+1_snv"))
        records.append(
            _snv(seq, _site_base(gene, acceptor_intron, -2), f"{gene.name}_intron{acceptor_n}_acceptor-2_snv")
        )
        exon_start, exon_end = gene.exons_in_transcript_order()[1]
        records.append(_snv(seq, (exon_start + exon_end) // 2, f"{gene.name}_exon2_snv"))
    g = _by_gene(genes)
    # GSS (minus strand): delete 4 bp across the 3' end of exon 3 and the donor GT.
    intron = g["GSS"].introns()[2]
    anchor = intron[1] - 3
    records.append(
        (anchor + 1, _record(anchor + 1, "GSS_intron3_donor_4bp_del", seq[anchor : anchor + 5], seq[anchor]))
    )
    # TRPC4AP (minus strand): delete the acceptor AG of intron 4 (genomic CT), anchored on the exon base.
    intron = g["TRPC4AP"].introns()[3]
    anchor = intron[0] - 1
    records.append(
        (anchor + 1, _record(anchor + 1, "TRPC4AP_intron4_acceptor_AG_del", seq[anchor : anchor + 3], seq[anchor]))
    )
    # ACSS2 (plus strand): 1 bp insertion (frameshift) in the middle of exon 3.
    start, end = g["ACSS2"].exons_in_transcript_order()[2]
    anchor = (start + end) // 2
    records.append((anchor + 1, _record(anchor + 1, "ACSS2_exon3_1bp_ins", seq[anchor], seq[anchor] + "A")))
    # MYH7B (plus strand): in-frame 3 bp deletion in exon 5.
    start, end = g["MYH7B"].exons_in_transcript_order()[4]
    anchor = (start + end) // 2
    records.append((anchor + 1, _record(anchor + 1, "MYH7B_exon5_3bp_del", seq[anchor : anchor + 4], seq[anchor])))
    return [line for _, line in sorted(records, key=lambda r: (r[0], r[1]))]


def awkward_records(seq: str, genes: list[Gene]) -> list[str]:
    """One record per awkward kind, IDs naming the kind; deliberately unsorted and with a duplicate."""
    g = _by_gene(genes)
    gss_exon = g["GSS"].exons_in_transcript_order()[3]
    acss2_exon = g["ACSS2"].exons_in_transcript_order()[5]
    edem2_exon = g["EDEM2"].exons_in_transcript_order()[2]
    p = (gss_exon[0] + gss_exon[1]) // 2  # 0-based anchor inside a GSS exon
    q = (acss2_exon[0] + acss2_exon[1]) // 2
    r = (edem2_exon[0] + edem2_exon[1]) // 2
    wrong = _TRANSITION[seq[p + 3]]
    other = {"A": "C", "C": "A", "G": "T", "T": "G"}
    end = LENGTH
    return [
        _record(p + 1, "good_snv_control", seq[p], _TRANSITION[seq[p]]),
        _record(p + 4, "ref_mismatch", wrong, other[wrong]),
        _record(p + 7, "multiallelic_snv", seq[p + 6], f"{_TRANSITION[seq[p + 6]]},{other[seq[p + 6]]}"),
        _record(p + 10, "multiallelic_snv_and_insertion", seq[p + 9], f"{_TRANSITION[seq[p + 9]]},{seq[p + 9]}TT"),
        _record(p + 13, "symbolic_del", seq[p + 12], "<DEL>", info=f"SVTYPE=DEL;END={p + 513};SVLEN=-500"),
        _record(p + 16, "star_allele", seq[p + 15], f"{_TRANSITION[seq[p + 15]]},*"),
        _record(p + 19, "breakend", seq[p + 18], f"{seq[p + 18]}[{SLICE_CONTIG}:{r + 1}[", info="SVTYPE=BND"),
        _record(p + 22, "no_alt", seq[p + 21], "."),
        _record(p + 25, "mnv_2bp", seq[p + 24 : p + 26], "".join(_TRANSITION[b] for b in seq[p + 24 : p + 26])),
        _record(q + 1, "lowercase_alleles", seq[q].lower(), _TRANSITION[seq[q]].lower()),
        _record(q + 11, "deletion_200bp_too_long", seq[q + 10 : q + 211], seq[q + 10]),
        _record(1, "deletion_at_chrom_start", seq[0:2], seq[0]),
        _record(1, "insertion_at_chrom_start", seq[0], seq[0] + "A"),
        _record(end - 1, "deletion_at_chrom_end", seq[end - 2 : end], seq[end - 2]),
        _record(end, "insertion_at_chrom_end", seq[end - 1], seq[end - 1] + "A"),
        _record(1000, "missing_contig", "A", "G", chrom=MISSING_CONTIG),
        _record(r + 1, "duplicate", seq[r], _TRANSITION[seq[r]]),
        _record(r + 1, "duplicate", seq[r], _TRANSITION[seq[r]]),
        _record(q + 301, "unsorted_after_later_positions", seq[q + 300], _TRANSITION[seq[q + 300]]),
    ]


def benchmark_records(seq: str, genes: list[Gene], n: int = BENCHMARK_VARIANTS) -> list[str]:
    """``n`` distinct SNVs inside the genes' transcripts (SpliceAI scores only variants inside a gene).

    Positions and alleles come from SHA-256 of a counter, so the file never depends on a random
    generator's version.
    """
    spans = sorted({pos for gene in genes for pos in range(gene.start, gene.end)})
    chosen: dict[int, str] = {}
    counter = 0
    while len(chosen) < n:
        digest = hashlib.sha256(f"genome-plugin benchmark {counter}".encode()).digest()
        counter += 1
        pos = spans[int.from_bytes(digest[:8], "big") % len(spans)]
        ref = seq[pos].upper()
        if pos in chosen or ref not in "ACGT":
            continue
        alts = [b for b in "ACGT" if b != ref]
        chosen[pos] = alts[digest[8] % 3]
    return [_record(pos + 1, f"bench{i:04d}", seq[pos], alt) for i, (pos, alt) in enumerate(sorted(chosen.items()), 1)]


def _vcf(header: list[str], records: list[str]) -> str:
    return "\n".join([*header, *records]) + "\n"


def vcf_texts(seq: str, genes: list[Gene]) -> dict[str, str]:
    """Every plain-text VCF of test-data, by file name."""
    awkward = awkward_records(seq, genes)
    by_id = {line.split("\t")[2]: line for line in awkward}
    variants = variants_records(seq, genes)
    first, second = variants[0], variants[1]
    malformed = first.split("\t")
    malformed[1], malformed[2] = "notanumber", "malformed_pos_not_a_number"
    return {
        "variants.vcf": _vcf(vcf_header(), variants),
        "awkward.vcf": _vcf(vcf_header(extra_contigs=(MISSING_CONTIG,), structural=True), awkward),
        "ref_mismatch.vcf": _vcf(vcf_header(), [by_id["ref_mismatch"]]),
        "missing_contig.vcf": _vcf(vcf_header(extra_contigs=(MISSING_CONTIG,)), [by_id["missing_contig"]]),
        "malformed.vcf": _vcf(vcf_header(), [first, "\t".join(malformed), second]),
        "empty.vcf": _vcf(vcf_header(), []),
        "variants_1000.vcf": _vcf(vcf_header(), benchmark_records(seq, genes)),
    }


# ---------------------------------------------------------------------------------------------- BED
def bed_texts(genes: list[Gene]) -> dict[str, str]:
    g = _by_gene(genes)
    gap_start = g["EDEM2"].end + 5_000
    intervals = [
        (g["GSS"].start, g["GSS"].end, "GSS", "-"),
        (gap_start, gap_start + 10_000, "intergenic_EDEM2_PROCR", "+"),
        (g["PROCR"].start, g["PROCR"].end, "PROCR", "+"),
    ]
    good = [f"{SLICE_CONTIG}\t{start}\t{end}\t{name}\t0\t{strand}" for start, end, name, strand in intervals]
    bad = [
        f"{SLICE_CONTIG}\t1000\t2000\tvalid_interval\t0\t+",
        f"{SLICE_CONTIG}\t5000\t5000\tstart_equals_end\t0\t+",
        f"{SLICE_CONTIG}\t9000\t8000\tstart_after_end\t0\t-",
        f"{SLICE_CONTIG}\t-100\t500\tnegative_start\t0\t+",
    ]
    return {"intervals.bed": "\n".join(good) + "\n", "bad_intervals.bed": "\n".join(bad) + "\n"}


# ---------------------------------------------------------------------------------------------- FASTA
def fasta_text(seq: str) -> str:
    lines = [f">{SLICE_CONTIG}"] + [seq[i : i + LINE_WIDTH] for i in range(0, len(seq), LINE_WIDTH)]
    return "\n".join(lines) + "\n"


def splice_site_counts(genes: list[Gene]) -> dict[str, int]:
    """Annotated acceptors/donors with at least MIN_FLANK bp to both slice ends (distinct positions)."""

    def inside(pos: int) -> bool:
        return MIN_FLANK <= pos < LENGTH - MIN_FLANK

    acceptors = {(g.strand, p) for g in genes for p in g.acceptors() if inside(p)}
    donors = {(g.strand, p) for g in genes for p in g.donors() if inside(p)}
    return {"acceptors": len(acceptors), "donors": len(donors)}


def slice_json(genes: list[Gene], seq: str, *, vt_version: str) -> dict:
    return {
        "assembly": "GRCh37",
        "contig": SLICE_CONTIG,
        "source_contig": SOURCE_CONTIG,
        "offset": OFFSET,
        "length": LENGTH,
        "coordinates": (
            f"slice 0-based position i is GRCh37 chr20 0-based position i + {OFFSET}; "
            f"1-based slice position p is GRCh37 chr20:{OFFSET}+p"
        ),
        "sequence_sha256": hashlib.sha256(seq.upper().encode()).hexdigest(),
        "sources": {
            "sequence": {
                "package": f"Debian {VT_PACKAGE}",
                "version": vt_version,
                "path": f"/{VT_FASTA_PATH}",
                "licence": "MIT (package); the GRCh37 reference sequence itself is public",
            },
            "annotation": {
                "package": "spliceai (PyPI)",
                "version": SPLICEAI_VERSION,
                "path": SPLICEAI_TABLE_PATH,
                "licence": "GPL-3.0 (package); annotation from GENCODE V24 canonical transcripts",
            },
        },
        "min_flank": MIN_FLANK,
        "splice_sites": splice_site_counts(genes),
        "genes": [
            {
                "name": g.name,
                "strand": g.strand,
                "start": g.start,
                "end": g.end,
                "exons": len(g.exons),
                "grch37_start": g.start + OFFSET,
                "grch37_end": g.end + OFFSET,
            }
            for g in genes
        ],
    }


# ---------------------------------------------------------------------------------------------- main
def write_test_data(out: Path, seq: str, genes: list[Gene], *, vt_version: str) -> None:
    """Write every file of test-data into ``out`` from the slice sequence and the genes."""
    out.mkdir(parents=True, exist_ok=True)
    texts = {
        "chr20_slice.fa": fasta_text(seq),
        "genes.gtf": gtf_text(genes),
        "chr20_slice.json": json.dumps(slice_json(genes, seq, vt_version=vt_version), indent=2) + "\n",
        **vcf_texts(seq, genes),
        **bed_texts(genes),
    }
    for name, text in texts.items():
        (out / name).write_text(text)
    if genes_from_gtf(out / "genes.gtf") != genes:
        msg = "genes.gtf does not read back to the genes it was written from"
        raise RuntimeError(msg)
    for stale in (
        "chr20_slice.fa.fai",
        "chr20_slice.fa.gz",
        "chr20_slice.fa.gz.fai",
        "chr20_slice.fa.gz.gzi",
        "variants.vcf.gz",
        "variants.vcf.gz.tbi",
    ):
        (out / stale).unlink(missing_ok=True)
    pysam.faidx(str(out / "chr20_slice.fa"))
    pysam.tabix_compress(str(out / "chr20_slice.fa"), str(out / "chr20_slice.fa.gz"), force=True)
    pysam.faidx(str(out / "chr20_slice.fa.gz"))
    pysam.tabix_compress(str(out / "variants.vcf"), str(out / "variants.vcf.gz"), force=True)
    pysam.tabix_index(str(out / "variants.vcf.gz"), preset="vcf", force=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[1] / "test-data",
        help="output directory (default: test-data/ of this repository)",
    )
    parser.add_argument("--vt-deb", type=Path, help="a local vt-examples .deb instead of `apt-get download`")
    parser.add_argument("--spliceai-wheel", type=Path, help="a local spliceai 1.3.1 wheel instead of `pip download`")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="make_test_data_") as tmp:
        workdir = Path(tmp)
        deb = args.vt_deb or fetch_vt_deb(workdir)
        wheel = args.spliceai_wheel or fetch_spliceai_wheel(workdir)
        fasta, vt_version = extract_vt_fasta(deb, workdir)
        seq = read_slice_sequence(fasta)
        digest = hashlib.sha256(seq.upper().encode()).hexdigest()
        if digest != SEQUENCE_SHA256:
            msg = f"{fasta}: slice SHA-256 {digest} differs from the expected {SEQUENCE_SHA256}"
            raise ValueError(msg)
        genes = genes_from_spliceai_table(extract_spliceai_table(wheel, workdir))
        write_test_data(args.out, seq, genes, vt_version=vt_version)
    counts = splice_site_counts(genes)
    print(f"wrote {args.out}: {len(genes)} genes, {counts['acceptors']} acceptors, {counts['donors']} donors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
