"""BED reading with line-numbered errors."""

import pytest

from genome_plugin.errors import InputError
from genome_plugin.genome import Interval, parse_regions, read_bed


def test_real_bed(test_data):
    intervals = read_bed(test_data / "intervals.bed")
    assert len(intervals) == 3 and all(isinstance(i, Interval) for i in intervals)
    assert all(i.chrom == "chr20" and i.width > 0 for i in intervals)


def test_bed_columns(tmp_path):
    path = tmp_path / "a.bed"
    path.write_text("track name=x\n# comment\nchr1\t10\t20\nchr1\t30\t40\tpeak\t0\t-\n")
    a, b = read_bed(path)
    assert (a.chrom, a.start, a.end, a.strand, a.name) == ("chr1", 10, 20, "+", "")
    assert (b.name, b.strand) == ("peak", "-")


@pytest.mark.parametrize(
    ("body", "message"),
    [("chr1\t20\t10\n", "line 1: start 20 >= end 10"), ("chr1\t1\t5\nchr1\t-5\t10\n", "line 2: negative start"),
     ("chr1\tx\t10\n", "not integers"), ("chr1 1 5\n", "3 tab-separated"), ("", "no intervals")],
)
def test_bad_beds(tmp_path, body, message):
    path = tmp_path / "bad.bed"
    path.write_text(body)
    with pytest.raises(InputError, match=message):
        read_bed(path)


def test_bundled_bad_bed_is_rejected(test_data):
    with pytest.raises(InputError, match="bad_intervals.bed, line"):
        read_bed(test_data / "bad_intervals.bed")


def test_parse_regions():
    assert parse_regions(["chr1:1-5:-"]) == [Interval("chr1", 1, 5, "-")]
