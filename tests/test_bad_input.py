"""Bad input that once ended in an internal error, a message naming nothing, or a silently wrong result.

Every case is a real file made in ``tmp_path`` (real gzip, real bgzip, real truncation, real FASTA +
.fai), and every error is one line that names the file (and the line or option) and what is wrong.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pytest

from genome_plugin.errors import InputError
from genome_plugin.genome import read_vcf

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
VARIANTS = TEST_DATA / "variants.vcf"
VARIANTS_1000 = TEST_DATA / "variants_1000.vcf"


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text.strip(), text
    return text


# --- item 10: gzip that is not bgzip, truncated bgzip --------------------------------------------------------


def test_plain_gzip_vcf_says_use_bgzip(tmp_path):
    path = tmp_path / "plain.vcf.gz"
    path.write_bytes(gzip.compress(VARIANTS.read_bytes()))
    with pytest.raises(InputError, match="plain gzip, not bgzip") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


@pytest.mark.parametrize("keep", [60, 1000, -10])
def test_truncated_bgzipped_vcf_names_the_file(tmp_path, keep):
    whole = tmp_path / "whole.vcf.gz"
    pysam.tabix_compress(str(VARIANTS_1000), str(whole))
    data = whole.read_bytes()
    path = tmp_path / "cut.vcf.gz"
    path.write_bytes(data[:keep])
    with pytest.raises(InputError, match="truncated") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


# --- item 15: errors that named nothing ---------------------------------------------------------------------


def _edit_line(tmp_path, number: int, old: bytes, new: bytes, name="edited.vcf") -> Path:
    lines = VARIANTS.read_bytes().split(b"\n")
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines))
    return path


@pytest.mark.parametrize(("number", "old", "new"), [
    (7, b"GGT7_intron3", b"GG\xff7"),  # a data line's ID
    (2, b"genome-plugin", b"caf\xe9"),  # a header line (Latin-1)
])
def test_non_utf8_byte_names_file_and_line(tmp_path, number, old, new):
    path = _edit_line(tmp_path, number, old, new)
    with pytest.raises(InputError, match=f"line {number}: byte 0x(ff|e9) is not UTF-8") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


def test_bcf_is_refused_by_name(tmp_path):
    path = tmp_path / "variants.bcf"
    with pysam.VariantFile(str(VARIANTS)) as source, pysam.VariantFile(str(path), "wb", header=source.header) as out:
        for record in source:
            out.write(record)
    with pytest.raises(InputError, match="is a BCF") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


def test_random_bytes_are_not_a_vcf(tmp_path):
    path = tmp_path / "random.vcf"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(InputError, match="line 1: not a VCF") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


def test_pos_0_is_a_reason_not_a_crash(tmp_path):
    path = _edit_line(tmp_path, 7, b"\t29367\t", b"\t0\t")
    records = list(read_vcf(path))
    assert len(records) == len(list(read_vcf(VARIANTS)))  # nothing dropped
    assert records[0].pos == 0 and not records[0].ok and "POS 0" in records[0].reason and records[0].line == 7
    assert all(r.ok for r in records[1:3])


def test_htslib_prints_nothing_of_its_own(tmp_path, capfd):
    # chr9 is not declared in the header: htslib logs a [W::vcf_parse] warning for it by default
    path = _edit_line(tmp_path, 7, b"chr20\t29367", b"chr9\t29367")
    records = list(read_vcf(path))
    assert records[0].chrom == "chr9"
    assert "[W::" not in capfd.readouterr().err
    malformed = _edit_line(tmp_path, 8, b"\t31115\t", b"\tten\t", name="malformed.vcf")
    with pytest.raises(InputError, match="line 8"):
        list(read_vcf(malformed))
    assert "[E::" not in capfd.readouterr().err
