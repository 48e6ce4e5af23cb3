"""Consistency of the bundled real test data in ``test-data/`` (chr20 slice, GTF, VCFs, BEDs).

The files are made by ``scripts/make_test_data.py``; these tests check they agree with each other and
with biology (annotated exon boundaries sit on AG/GT splice signals), and that the text files are exactly
what the script writes from the committed slice and annotation.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

import pyfaidx
import pysam
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "test-data"
SCRIPT = ROOT / "scripts" / "make_test_data.py"
AWKWARD_IDS = {
    "good_snv_control",
    "ref_mismatch",
    "multiallelic_snv",
    "multiallelic_snv_and_insertion",
    "symbolic_del",
    "star_allele",
    "breakend",
    "no_alt",
    "mnv_2bp",
    "lowercase_alleles",
    "deletion_200bp_too_long",
    "deletion_at_chrom_start",
    "insertion_at_chrom_start",
    "deletion_at_chrom_end",
    "insertion_at_chrom_end",
    "missing_contig",
    "duplicate",
    "unsorted_after_later_positions",
}


def _load_script():
    spec = importlib.util.spec_from_file_location("make_test_data", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class body is processed
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mtd():
    return _load_script()


@pytest.fixture(scope="module")
def meta() -> dict:
    return json.loads((DATA / "chr20_slice.json").read_text())


@pytest.fixture(scope="module")
def seq() -> str:
    with pyfaidx.Fasta(str(DATA / "chr20_slice.fa"), rebuild=False) as fasta:
        return str(fasta["chr20"][:])


@pytest.fixture(scope="module")
def genes(mtd):
    return mtd.genes_from_gtf(DATA / "genes.gtf")


def _data_lines(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines() if not line.startswith("#")]


def test_fasta_is_the_documented_real_slice(seq, meta):
    assert meta["contig"] == "chr20"
    assert len(seq) == meta["length"] == 360_000
    assert hashlib.sha256(seq.upper().encode()).hexdigest() == meta["sequence_sha256"]
    assert set(seq) <= set("ACGT")
    # human DNA, not uniform random letters: GC near 45 % and CpG depleted well below (C * G) expectation
    gc = (seq.count("G") + seq.count("C")) / len(seq)
    cpg_ratio = seq.count("CG") * len(seq) / (seq.count("C") * seq.count("G"))
    assert 0.38 < gc < 0.55
    assert cpg_ratio < 0.5
    assert (DATA / "chr20_slice.fa.fai").read_text() == "chr20\t360000\t7\t60\t61\n"


def test_bgzipped_fasta_matches_plain(seq):
    with pysam.FastaFile(str(DATA / "chr20_slice.fa.gz")) as fasta:
        assert list(fasta.references) == ["chr20"]
        assert fasta.fetch("chr20") == seq
        assert fasta.fetch("chr20", 200_000, 200_100) == seq[200_000:200_100]
    assert (DATA / "chr20_slice.fa.gz.gzi").stat().st_size > 0


@pytest.mark.parametrize(
    ("name", "count"), [("variants.vcf", 25), ("variants.vcf.gz", 25), ("variants_1000.vcf", 1000)]
)
def test_vcf_ref_alleles_match_fasta(name, count):
    with pysam.FastaFile(str(DATA / "chr20_slice.fa")) as fasta, pysam.VariantFile(str(DATA / name)) as vcf:
        assert list(vcf.header.contigs) == ["chr20"]
        records = list(vcf)
        for rec in records:
            assert fasta.fetch(rec.chrom, rec.start, rec.stop) == rec.ref, f"{name}: {rec.id} REF differs"
            assert all(alt != rec.ref and set(alt) <= set("ACGT") for alt in rec.alts)
    assert len(records) == count
    keys = [(r.pos, r.ref, r.alts) for r in records]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


def test_tabix_index_finds_region():
    with pysam.VariantFile(str(DATA / "variants.vcf")) as plain:
        expected = [r.id for r in plain if 100_000 <= r.start < 150_000]
    with pysam.VariantFile(str(DATA / "variants.vcf.gz")) as indexed:
        assert [r.id for r in indexed.fetch("chr20", 100_000, 150_000)] == expected
    assert len(expected) >= 5


def test_good_variants_hit_splice_sites_or_exons(genes):
    sites = {p for g in genes for p in (*g.acceptors(), *g.donors())}
    exons = [e for g in genes for e in g.exons]
    for _chrom, pos, vid, ref, *_ in _data_lines(DATA / "variants.vcf"):
        start = int(pos) - 1
        touched = range(start, start + len(ref))
        near_site = any(abs(p - s) <= 3 for p in touched for s in sites)
        in_exon = any(a <= p < b for p in touched for a, b in exons)
        assert near_site or in_exon, vid
        assert vid.split("_")[0] in {g.name for g in genes}


def test_benchmark_variants_lie_in_genes(genes):
    for _, pos, vid, *_ in _data_lines(DATA / "variants_1000.vcf"):
        assert any(g.start <= int(pos) - 1 < g.end for g in genes), vid


def test_gtf_exons_inside_slice_and_well_formed(genes, meta):
    assert [g.name for g in genes] == [g["name"] for g in meta["genes"]]
    flank = meta["min_flank"]
    for gene in genes:
        assert flank <= gene.start < gene.end <= meta["length"] - flank
        assert gene.exons[0][0] == gene.start and gene.exons[-1][1] == gene.end
        assert all(a < b <= c < d for (a, b), (c, d) in zip(gene.exons, gene.exons[1:], strict=False))
        assert len(gene.exons) >= 4
    counts = {
        "acceptors": len({p for g in genes for p in g.acceptors()}),
        "donors": len({p for g in genes for p in g.donors()}),
    }
    assert counts == meta["splice_sites"] == {"acceptors": 116, "donors": 116}


def _fractions(mtd, seq: str, genes, shift: int = 0) -> tuple[float, float]:
    acceptor_ok = donor_ok = 0
    for gene in genes:
        for pos in gene.acceptors():
            pos += shift
            signal = seq[pos - 2 : pos] if gene.strand == "+" else mtd.reverse_complement(seq[pos + 1 : pos + 3])
            acceptor_ok += signal == "AG"
        for pos in gene.donors():
            pos += shift
            signal = seq[pos + 1 : pos + 3] if gene.strand == "+" else mtd.reverse_complement(seq[pos - 2 : pos])
            donor_ok += signal in ("GT", "GC")
    n = sum(len(g.introns()) for g in genes)
    return acceptor_ok / n, donor_ok / n


def test_exon_boundaries_are_splice_signals(mtd, seq, genes):
    acceptors, donors = _fractions(mtd, seq, genes)
    assert acceptors >= 0.95 and donors >= 0.95
    # the same check on annotation moved by a few bases fails: the check tells real sites from others
    for shift in (-3, -1, 1, 2, 5):
        acceptors, donors = _fractions(mtd, seq, genes, shift)
        assert acceptors < 0.5 and donors < 0.5, shift


def test_gtf_reads_with_pyranges():
    import pyranges as pr

    df = pr.read_gtf(str(DATA / "genes.gtf"), as_df=True)
    assert set(df["Feature"]) == {"gene", "transcript", "exon"}
    assert {"gene_id", "gene_name", "gene_type", "transcript_id"} <= set(df.columns)
    assert df.loc[df["Feature"] == "exon", "transcript_id"].notna().all()
    assert (df["Chromosome"].astype(str) == "chr20").all()


def test_awkward_vcf_has_every_kind(seq):
    rows = _data_lines(DATA / "awkward.vcf")
    by_id: dict[str, list[list[str]]] = {}
    for row in rows:
        by_id.setdefault(row[2], []).append(row)
    assert set(by_id) == AWKWARD_IDS
    assert len(rows) == 19

    def one(vid):
        (row,) = by_id[vid]
        return row[0], int(row[1]), row[3], row[4]

    def fasta_ref(pos, ref):
        return seq[pos - 1 : pos - 1 + len(ref)]

    _, pos, ref, _ = one("ref_mismatch")
    assert ref != fasta_ref(pos, ref)
    assert len(one("multiallelic_snv")[3].split(",")) == 2
    assert {len(a) for a in one("multiallelic_snv_and_insertion")[3].split(",")} == {1, 3}
    assert one("symbolic_del")[3] == "<DEL>"
    assert "*" in one("star_allele")[3].split(",")
    assert "[" in one("breakend")[3]
    assert one("no_alt")[3] == "."
    _, pos, ref, alt = one("lowercase_alleles")
    assert ref.islower() and alt.islower() and ref.upper() == fasta_ref(pos, ref)
    assert len(one("deletion_200bp_too_long")[2]) == 201
    assert one("deletion_at_chrom_start")[1] == one("insertion_at_chrom_start")[1] == 1
    assert one("deletion_at_chrom_end")[1] + 1 == one("insertion_at_chrom_end")[1] == len(seq)
    assert one("missing_contig")[0] == "chr99"
    assert len(by_id["duplicate"]) == 2 and by_id["duplicate"][0] == by_id["duplicate"][1]
    positions = [int(r[1]) for r in rows if r[0] == "chr20"]
    assert positions != sorted(positions)
    for row in rows:
        if row[0] == "chr20" and row[2] not in {"ref_mismatch", "lowercase_alleles"}:
            assert row[3] == fasta_ref(int(row[1]), row[3]), row[2]


def test_awkward_vcf_reads_with_pysam():
    with pysam.VariantFile(str(DATA / "awkward.vcf")) as vcf:
        assert set(vcf.header.contigs) == {"chr20", "chr99"}
        assert len(list(vcf)) == 19


def test_failure_case_vcfs(seq):
    with pysam.VariantFile(str(DATA / "ref_mismatch.vcf")) as vcf:
        (rec,) = list(vcf)
        assert seq[rec.start : rec.stop] != rec.ref
    with pysam.VariantFile(str(DATA / "missing_contig.vcf")) as vcf:
        (rec,) = list(vcf)
        assert rec.chrom == "chr99"
    with pysam.FastaFile(str(DATA / "chr20_slice.fa")) as fasta:
        assert "chr99" not in fasta.references
    with pysam.VariantFile(str(DATA / "empty.vcf")) as vcf:
        assert list(vcf) == [] and "chr20" in vcf.header.contigs
    assert "malformed_pos_not_a_number" in (DATA / "malformed.vcf").read_text()
    with pysam.VariantFile(str(DATA / "malformed.vcf")) as vcf, pytest.raises(OSError):
        list(vcf)


def test_bed_files(meta):
    rows = _data_lines(DATA / "intervals.bed")
    assert len(rows) == 3 and len({r[3] for r in rows}) == 3
    for chrom, start, end, _, _, strand in rows:
        assert chrom == "chr20" and strand in "+-"
        assert 0 <= int(start) < int(end) <= meta["length"]
    bad = {r[3]: (int(r[1]), int(r[2])) for r in _data_lines(DATA / "bad_intervals.bed")}
    assert bad["start_equals_end"][0] == bad["start_equals_end"][1]
    assert bad["start_after_end"][0] > bad["start_after_end"][1]
    assert bad["negative_start"][0] < 0


def test_text_files_are_what_the_script_writes(mtd, seq, genes):
    expected = {"genes.gtf": mtd.gtf_text(genes), **mtd.vcf_texts(seq, genes), **mtd.bed_texts(genes)}
    for name, text in expected.items():
        assert (DATA / name).read_text() == text, name
    assert mtd.fasta_text(seq) == (DATA / "chr20_slice.fa").read_text()


def test_gtf_matches_installed_spliceai_table(mtd, genes):
    try:
        table = importlib.metadata.distribution("spliceai").locate_file("spliceai/annotations/grch37.txt")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the spliceai package is not installed; cannot compare with its grch37.txt")
    assert mtd.genes_from_spliceai_table(Path(table)) == genes


def test_test_data_stays_small():
    total = sum(p.stat().st_size for p in DATA.iterdir() if p.is_file())
    assert total < 3_000_000
