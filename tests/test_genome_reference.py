"""Reference FASTA access over real chr20 sequence: plain and bgzipped, aliases, padding, bad input."""

import gzip
import os
import shutil

import pysam
import pytest

from genome_plugin.errors import InputError
from genome_plugin.genome import Interval, Reference, Variant, contig_aliases, reverse_complement, variant_sequences


@pytest.fixture(scope="module")
def real_sequence(chr20_fasta):
    with pysam.FastaFile(str(chr20_fasta)) as fasta:
        name = fasta.references[0]
        return fasta.fetch(name, 100_000, 102_000).upper()


@pytest.fixture
def small_fasta(tmp_path, real_sequence):
    path = tmp_path / "small.fa"
    body = real_sequence[:1000]
    path.write_text(">chr7 a real chr20 piece\n" + "\n".join(body[i:i + 60] for i in range(0, 1000, 60)) + "\n"
                    + ">MT\n" + "ACGTRYKMacgtn" * 5 + "\n")
    return path, body


def test_index_is_built_and_sequence_read(small_fasta):
    path, body = small_fasta
    ref = Reference(path)
    assert os.path.exists(f"{path}.fai")
    assert ref.contigs == {"chr7": 1000, "MT": 65}
    assert ref.fetch(Interval("chr7", 10, 70)) == body[10:70]
    assert ref.fetch(Interval("chr7", 10, 70, "-")) == reverse_complement(body[10:70])


def test_contig_aliases(small_fasta):
    ref = Reference(small_fasta[0])
    assert ref.resolve("7") == "chr7"
    assert ref.resolve("chrM") == "MT" and ref.resolve("M") == "MT"
    assert set(contig_aliases("chr1")) == {"1"}
    with pytest.raises(InputError, match=r"contig 'chr99' is not in the FASTA"):
        ref.fetch(Interval("chr99", 0, 10))


def test_padding_past_both_ends(small_fasta):
    path, body = small_fasta
    ref = Reference(path)
    assert ref.fetch(chrom="chr7", start=-5, end=5) == "NNNNN" + body[:5]
    assert ref.fetch(chrom="chr7", start=995, end=1005) == body[995:] + "NNNNN"
    assert ref.fetch(chrom="chr7", start=2000, end=2003) == "NNN"


def test_lowercase_and_iupac_become_upper_and_n(small_fasta, caplog):
    ref = Reference(small_fasta[0])
    seq = ref.fetch(chrom="MT", start=0, end=13)
    assert seq == "ACGTNNNNACGTN"
    assert "IUPAC" in caplog.text


def test_bgzipped_fasta(tmp_path, small_fasta):
    path, body = small_fasta
    bgz = tmp_path / "small.fa.gz"
    pysam.tabix_compress(str(path), str(bgz))
    ref = Reference(bgz)
    assert ref.fetch(Interval("chr7", 500, 560)) == body[500:560]


def test_real_chr20_slice_is_dna(chr20_fasta):
    ref = Reference(chr20_fasta)
    (name, length), = ref.contigs.items()
    seq = ref.fetch(chrom=name, start=0, end=min(length, 50_000))
    gc = (seq.count("G") + seq.count("C")) / len(seq)
    assert 0.3 < gc < 0.65  # human-like GC content, not an artefact


def test_variant_sequences_keep_length_and_centre(small_fasta):
    path, body = small_fasta
    ref = Reference(path)
    window = Interval("chr7", 100, 120)
    pos = 111
    deletion = Variant("chr7", pos, body[pos - 1:pos + 2], body[pos - 1])
    ref_seq, alt_seq = variant_sequences(ref, window, deletion)
    assert ref_seq == body[100:120] and len(alt_seq) == 20
    assert alt_seq == body[100:pos] + body[pos + 2:122]
    rc_ref, rc_alt = variant_sequences(ref, window.with_strand("-"), deletion)
    assert rc_ref == reverse_complement(ref_seq) and rc_alt == reverse_complement(alt_seq)


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "not found"), (b"", "empty"), (b"hello\n", "not a FASTA"), ("gzip", "not with bgzip")],
)
def test_bad_fasta_inputs(tmp_path, content, message):
    path = tmp_path / "bad.fa"
    if content == "gzip":
        path = tmp_path / "bad.fa.gz"
        with gzip.open(path, "wb") as handle:
            handle.write(b">chr1\nACGT\n")
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        Reference(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_fasta_in_read_only_folder_gets_a_temporary_index(tmp_path, small_fasta, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    shutil.copy(small_fasta[0], folder / "ro.fa")
    # CI runs as root, who may write anywhere: make the folder look read-only the way os.access reports it.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(folder) else real_access(p, mode))
    ref = Reference(folder / "ro.fa")
    assert ref.contigs["chr7"] == 1000
    assert ref.fetch(chrom="chr7", start=0, end=30) == small_fasta[1][:30]
    assert not (folder / "ro.fa.fai").exists()
