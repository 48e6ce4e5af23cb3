"""GTF reading (pyranges) on the bundled real annotation, and bad GTFs."""

import pytest

from genome_plugin.errors import InputError
from genome_plugin.genome import Interval, read_gtf


def test_real_gtf_genes_transcripts_exons(test_data):
    ann = read_gtf(test_data / "genes.gtf")
    assert {"GGT7", "ACSS2", "MYH7B"} <= set(ann.genes["gene_name"])
    assert list(ann.genes.columns) == ["chrom", "start", "end", "strand", "gene_id", "gene_name", "gene_type"]
    ggt7 = ann.genes.set_index("gene_name").loc["GGT7"]
    assert (ggt7["start"], ggt7["end"], ggt7["strand"]) == (12522, 40663, "-")  # GTF 12523 (1-based) -> 12522
    exons = ann.exons_of(ggt7["gene_id"])
    assert len(exons) == 15 and exons["start"].min() == 12522 and exons["end"].max() == 40663
    inside = ann.genes_in(Interval("chr20", 0, 100_000))
    assert set(inside["gene_name"]) == {"GGT7", "ACSS2"}
    sites = ann.polya_sites()
    ggt7_site = sites[sites["gene_name"] == "GGT7"]["position"].item()
    assert ggt7_site == 12522  # minus strand: the 3' end is the transcript's lowest base


def _gtf(tmp_path, body):
    path = tmp_path / "bad.gtf"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "not found"),
        ("", "empty"),
        ('chr1\tx\texon\t10\t20\t.\t+\t.\ttranscript_id "t1";\n', "gene_id"),
        ('chr1\tx\texon\t10\t20\t.\t+\t.\tgene_id "g1";\n', "transcript_id"),
        ('chr1\tx\tgene\t10\t20\t.\t+\t.\tgene_id "g1";\n', "no exon"),
    ],
)
def test_bad_gtfs(tmp_path, body, message):
    path = tmp_path / "missing.gtf" if body is None else _gtf(tmp_path, body)
    with pytest.raises(InputError, match=message) as info:
        read_gtf(path)
    assert str(path) in str(info.value)
