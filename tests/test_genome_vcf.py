"""VCF reading with pysam: multi-allelic splitting and per-record reasons, never a dropped record."""

import pysam
import pytest

from genome_plugin.errors import InputError
from genome_plugin.genome import Reference, read_vcf

HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr7,length=1000>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture
def reference(tmp_path, chr20_fasta):
    with pysam.FastaFile(str(chr20_fasta)) as fasta:
        body = fasta.fetch(fasta.references[0], 200_000, 201_000).upper()
    path = tmp_path / "ref.fa"
    path.write_text(">chr7\n" + body + "\n")
    return Reference(path), body


def _write(tmp_path, lines, name="in.vcf"):
    path = tmp_path / name
    path.write_text(HEADER + "".join("\t".join(map(str, fields)) + "\n" for fields in lines))
    return path


def test_every_kind_of_record_comes_back(tmp_path, reference):
    ref, body = reference
    b = body
    alt_of = {"A": "C", "C": "G", "G": "T", "T": "A"}
    rows = [
        ("chr7", 10, "snv", b[9], alt_of[b[9]], ".", ".", "."),
        ("chr7", 20, "multi", b[19], f"{alt_of[b[19]]},{alt_of[alt_of[b[19]]]}", ".", ".", "."),
        ("chr7", 30, "mismatch", alt_of[b[29]], b[29], ".", ".", "."),
        ("chr7", 40, "symbolic", b[39], "<DEL>", ".", ".", "."),
        ("chr7", 50, "star", b[49], "*", ".", ".", "."),
        ("chr7", 60, "bnd", b[59], f"{b[59]}[chr7:500[", ".", ".", "."),
        ("chr7", 70, "lower", b[69].lower(), alt_of[b[69]].lower(), ".", ".", "."),
        ("chr9", 80, "nocontig", "A", "C", ".", ".", "."),
        ("chr7", 90, "long", b[89:89 + 30], b[89], ".", ".", "."),
        ("chr7", 1000, "pastend", b[999] + "A", b[999], ".", ".", "."),
        ("chr7", 10, "dup", b[9], alt_of[b[9]], ".", ".", "."),
    ]
    path = _write(tmp_path, rows)
    out = list(read_vcf(path, reference=ref, max_allele_length=20))
    assert [r.id for r in out] == ["snv", "multi", "multi", "mismatch", "symbolic", "star", "bnd", "lower",
                                   "nocontig", "long", "pastend", "dup"]
    by = {(r.id, r.allele): r for r in out}
    assert by["snv", 1].ok and by["dup", 1].ok and by["lower", 1].ok
    assert by["multi", 1].ok and by["multi", 2].ok and by["multi", 2].alt == alt_of[alt_of[b[19]]]
    assert by["lower", 1].variant.ref == b[69]
    assert "does not match" in by["mismatch", 1].reason
    assert "symbolic" in by["symbolic", 1].reason
    assert "'*'" in by["star", 1].reason
    assert "breakend" in by["bnd", 1].reason
    assert "not in the reference" in by["nocontig", 1].reason
    assert "longer than 20" in by["long", 1].reason
    assert "past the end" in by["pastend", 1].reason
    assert [r.line for r in out[:3]] == [4, 5, 5]


def test_bgzipped_vcf(tmp_path, reference):
    ref, body = reference
    path = _write(tmp_path, [("chr7", 10, "a", body[9], "N" if body[9] != "N" else "A", ".", ".", ".")])
    gz = tmp_path / "in.vcf.gz"
    pysam.tabix_compress(str(path), str(gz))
    (record,) = read_vcf(gz, reference=ref)
    assert record.ok and record.pos == 10


@pytest.mark.parametrize(
    ("text", "message"),
    [(None, "not found"), ("", "empty"), (HEADER + "chr7\tten\t.\tA\tC\t.\t.\t.\n", "line 4"),
     ("not a vcf\n", "VCF")],
)
def test_bad_vcfs_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.vcf"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        list(read_vcf(path))
    assert str(path) in str(info.value)


def test_header_only_vcf_yields_nothing(tmp_path):
    assert list(read_vcf(_write(tmp_path, []))) == []
