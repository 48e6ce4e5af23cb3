"""OutputType resolutions and the validated TrackTable, including the official AlphaGenome layout."""

import numpy as np
import pandas as pd
import pytest

from genome_plugin.tracks import OutputType, TrackTable


def test_output_types_and_resolutions():
    assert len(OutputType) == 11
    assert OutputType.DNASE.resolutions == (1, 128)
    assert OutputType.CHIP_TF.resolutions == (128,)
    assert OutputType.CONTACT_MAPS.resolutions == (2048,)
    assert OutputType.parse("DNASE") is OutputType.DNASE
    assert OutputType.parse("rna_seq") is OutputType.RNA_SEQ
    assert OutputType.parse("OutputType.ATAC") is OutputType.ATAC
    with pytest.raises(ValueError, match="unknown output type 'foo'"):
        OutputType.parse("foo")


@pytest.fixture
def table():
    return TrackTable(pd.DataFrame({
        "name": ["lung DNase", "liver DNase", "CTCF", "CTCF", "splice"],
        "strand": ["+", "-", "+", "-", "."],
        "Assay title": ["DNase-seq", "DNase-seq", "ChIP-seq", "ChIP-seq", "RNA"],
        "ontology_curie": ["UBERON:0002048", "UBERON:0002107", "EFO:1", "EFO:1", "X"],
    }))


def test_selection_by_any_column(table):
    dnase, idx = table.select(assay_title="DNase-seq")
    assert list(idx) == [0, 1] and dnase.names == ["lung DNase", "liver DNase"]
    _, idx = table.select(**{"Assay title": "ChIP-seq"}, strand="-")
    assert list(idx) == [3]
    _, idx = table.select(ontology_curie="UBERON:0002048")
    assert list(idx) == [0]
    _, idx = table.select('name contains "DNase" and strand == "-"')
    assert list(idx) == [1]
    _, idx = table.select(name=["CTCF", "splice"])
    assert list(idx) == [2, 3, 4]
    with pytest.raises(ValueError, match="no track column 'tissue'"):
        table.select(tissue="lung")
    with pytest.raises(ValueError, match="position 8: expected a quoted string or a number"):
        table.select("name ==")


def test_strand_swap_pairs_twins(table):
    np.testing.assert_array_equal(table.strand_swap(), [0, 1, 3, 2, 4])


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ({"name": ["a", "a"], "strand": ["+", "+"]}, "duplicate track"),
        ({"name": ["a"], "strand": ["x"]}, "strand 'x'"),
        ({"name": ["a"]}, "missing required column"),
    ],
)
def test_invalid_tables(frame, message):
    with pytest.raises(ValueError, match=message):
        TrackTable(pd.DataFrame(frame))


def test_to_var_is_unique_and_string_indexed(table):
    var = table.to_var()
    assert var.index.is_unique and all(isinstance(i, str) for i in var.index)
    assert list(var.columns[:2]) == ["name", "strand"]
