"""Interval and Variant parsing, geometry and validation."""

import pytest

from genome_plugin.genome import Interval, Variant


def test_interval_parse_and_geometry():
    iv = Interval.parse("chr1:100-200:-")
    assert (iv.chrom, iv.start, iv.end, iv.strand) == ("chr1", 100, 200, "-")
    assert iv.width == 100 and iv.center == 150
    assert Interval.parse("chr1:1,000-2,000").strand == "+"
    resized = iv.resize(10)
    assert (resized.start, resized.end, resized.strand) == (145, 155, "-")
    assert iv.resize(301).width == 301
    assert str(Interval.parse("chrX:5-9:+")) == "chrX:5-9:+"


def test_resize_may_hang_off_the_chromosome_start():
    window = Interval("chr1", 10, 11).resize(100)
    assert window.start == -40 and window.width == 100


@pytest.mark.parametrize(
    ("text", "message"),
    [("chr1:200-100", "start >= end"), ("chr1:100-100", "start >= end"), ("chr1:-5-10", "negative start"),
     ("chr1:100", "cannot parse"), ("chr1:1-5:*", "cannot parse")],
)
def test_bad_intervals_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        Interval.parse(text)


def test_variant_parse_kinds_and_coordinates():
    snv = Variant.parse("chr22:1024:a>c")
    assert (snv.ref, snv.alt, snv.start, snv.end, snv.kind) == ("A", "C", 1023, 1024, "SNV")
    assert Variant("1", 5, "AT", "A").kind == "deletion"
    assert Variant("1", 5, "A", "ATT").kind == "insertion"
    assert Variant("1", 5, "AC", "GT").kind == "MNV"
    assert Variant("1", 5, "AC", "G").kind == "complex"
    assert str(snv) == "chr22:1024:A>C"
    window = snv.interval(10)
    assert window.width == 10 and window.center == snv.start


@pytest.mark.parametrize("text", ["chr1:0:A>C", "chr1:10:A>", "chr1:10:A>C>G", "chr1:x:A>C"])
def test_bad_variants(text):
    with pytest.raises(ValueError):
        Variant.parse(text)


def test_variant_rejects_non_dna():
    with pytest.raises(ValueError, match="not a DNA sequence"):
        Variant("chr1", 10, "A", "<DEL>")
