"""The track filter language: answers worked out by hand on a five-track table, and hostile text refused unevaluated."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from genome_plugin.errors import InputError
from genome_plugin.predict import select_tracks
from genome_plugin.selector import MAX_DEPTH, SelectorSyntaxError, UnknownColumnError, parse_selector
from genome_plugin.tracks import TrackTable


@pytest.fixture
def table() -> TrackTable:
    return TrackTable(pd.DataFrame({
        "name": ["lung DNase", "liver DNase", "CTCF", "CTCF", "splice"],
        "strand": ["+", "-", "+", "-", "."],
        "Assay title": ["DNase-seq", "DNase-seq", "ChIP-seq", "ChIP-seq", "RNA"],
        "biosample_name": ["lung", "liver", "Peyer's patch", "liver", None],
        "ontology_curie": ["UBERON:0002048", "UBERON:0002107", "EFO:1", "EFO:1", "X"],
        "nonzero_mean": [1.0, 2.5, None, 4.0, 5.0],
    }))


# Row numbers:              0 lung DNase +   1 liver DNase -   2 CTCF +   3 CTCF -   4 splice .
@pytest.mark.parametrize(("text", "rows"), [
    ('biosample_name == "liver"', [1, 3]),
    ('strand == "+"', [0, 2]),
    ("strand == '+'", [0, 2]),
    ('strand != "+"', [1, 3, 4]),
    ('biosample_name != "liver"', [0, 2, 4]),  # a missing value is != anything
    ('name contains "DNase" and strand == "-"', [1]),
    ('name contains "dnase"', []),  # case-sensitive
    ('biosample_name contains "r"', [1, 2, 3]),  # row 4 is missing: contains nothing
    ('assay_title in ["DNase-seq", "RNA"]', [0, 1, 4]),
    ("assay_title in ('ChIP-seq',)", [2, 3]),
    ('strand not in ["+", "-"]', [4]),
    ('ontology_curie matches "^UBERON:[0-9]+7$"', [1]),
    ('ontology_curie matches "1"', [1, 2, 3]),  # searched anywhere: UBERON:0002107, EFO:1, EFO:1
    ('name matches "^C" or strand == "."', [2, 3, 4]),
    ('not strand == "+"', [1, 3, 4]),
    ('not (strand == "+" or strand == "-")', [4]),
    ('name == "CTCF" and not (strand in ["+"])', [3]),
    ('strand == "+" or strand == "-" and name == "CTCF"', [0, 2, 3]),  # and binds tighter than or
    ('(strand == "+" or strand == "-") and name == "CTCF"', [2, 3]),
    ('nonzero_mean == 2.5', [1]),
    ('nonzero_mean in [1, 4]', [0, 3]),
    ('nonzero_mean != 1', [1, 2, 3, 4]),
    ('Assay_Title == "RNA"', [4]),  # column names read as the table spells them (snake case)
    ('biosample_name == "Peyer\'s patch"', [2]),
    (r"biosample_name == 'Peyer\'s patch'", [2]),  # a backslash escapes the quote
    ("(" * MAX_DEPTH + 'strand == "."' + ")" * MAX_DEPTH, [4]),
    ('name matches "^(CT)+CF$"', [2, 3]),  # a repeated group without a repeat inside is fine
    ('name matches "^(l[a-z]+ )?DNase"', [0, 1]),
    ('name matches "[(]+|^s"', [4]),
])
def test_filters_select_the_rows_worked_out_by_hand(table, text, rows):
    _, indices = table.select(text)
    assert indices.tolist() == rows


@pytest.mark.parametrize(("text", "message"), [
    ('@pd.io.common.os.system("touch pwned") == 0', "position 1: unexpected '@'"),
    ('__import__("os").system("touch pwned")', "position 17: unexpected '.'"),
    ('`name` == "x"', "position 1: unexpected character"),
    ('name == "x"; import os', "position 12: unexpected character"),
    ('name == "x" & strand == "+"', "position 13: unexpected '&' (use and)"),
    ('name.str.contains("x")', "position 5: unexpected '.'"),
    ("name = 'x'", "position 6: unexpected '=' (use ==)"),
    ("name ==", "position 8: expected a quoted string or a number, found the end"),
    ('name == "x', "position 9: string not closed"),
    ("strand == +", "position 11: unexpected character"),
    ('(name == "x"', "position 13: expected ')'"),
    ('name == "x" name', "position 13: expected 'and', 'or' or the end"),
    ('name in "x"', "position 9: expected a list"),
    ('name in ["x" "y"]', "position 14: expected ',' or ']'"),
    ('name contains 3', "position 15: expected a quoted string"),
    ('name matches "("', "position 14: bad regular expression"),
    ('name matches "^(a+)+$"', "position 14: a repeated group holds a repeat or a choice"),
    ('name matches "(DNase|ATAC)*"', "position 14: a repeated group holds a repeat or a choice"),
    ('name matches "((C|T)x){2,}"', "position 14: a repeated group holds a repeat or a choice"),
    ('name matches "' + "a" * 201 + '"', "regular expression longer than 200"),
    ("   ", "is empty"),
    ("(" * (MAX_DEPTH + 1) + 'name == "x"' + ")" * (MAX_DEPTH + 1), f"position {MAX_DEPTH + 1}: nested deeper"),
    ("not " * (MAX_DEPTH + 1) + 'name == "x"', f"position {4 * MAX_DEPTH + 1}: nested deeper"),
    ('name == "x" or ' * 200 + 'name == "y"', "at most 2000 are accepted"),
])
def test_text_outside_the_grammar_is_a_one_line_error_at_its_position(table, text, message):
    with pytest.raises(SelectorSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        table.select(text)
    assert isinstance(caught.value, InputError) and "\n" not in str(caught.value)


@pytest.mark.parametrize("text", [
    '@pd.io.common.os.system("touch pwned") == 0',
    '__import__("os").system("touch pwned") == 0',
    '`os`.system("touch pwned") == 0',
    'name == "x"; __import__("os").system("touch pwned")',
    'name == @os.system("touch pwned")',
    'name in [@__builtins__["exec"]("open(\'pwned\', \'w\')")]',
])
def test_hostile_filters_run_nothing(table, tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SelectorSyntaxError):
        table.select(text)
    assert not os.path.exists("pwned") and list(tmp_path.iterdir()) == []


def test_a_string_literal_is_data_even_when_it_looks_like_code(table):
    _, indices = table.select('name == "@pd.io.common.os.system(\'touch pwned\')"')
    assert indices.tolist() == []


def test_unknown_column_lists_the_columns(table):
    with pytest.raises(UnknownColumnError, match="no track column 'tissue'; columns are name, strand, assay_title"):
        table.select('tissue == "lung"')
    assert parse_selector('tissue == "lung" or Assay_title == "x"').columns == {"tissue", "assay_title"}


class _TwoTables:
    """Only what ``select_tracks`` reads: the output types and their track tables."""

    name = "two-tables"

    def __init__(self, table: TrackTable) -> None:
        from genome_plugin.tracks import OutputType

        self.tables = {OutputType.DNASE: table,
                       OutputType.CONTACT_MAPS: TrackTable(pd.DataFrame({"name": ["map"], "strand": ["."]}))}

    def output_types(self):
        return tuple(self.tables)

    def tracks(self, output_type, organism="human"):
        return self.tables[output_type]


def test_select_tracks_parses_once_and_fails_on_syntax_before_any_table(table):
    from genome_plugin.tracks import OutputType

    model = _TwoTables(table)
    # a column only one type's table has: the other type is left out, not an error
    requests = select_tracks(model, query='biosample_name == "lung"')
    assert list(requests) == [OutputType.DNASE] and requests[OutputType.DNASE].tolist() == [0]
    with pytest.raises(SelectorSyntaxError, match="position 1"):
        select_tracks(model, query='@pd.io.common.os.system("touch pwned") == 0')
    with pytest.raises(ValueError, match="matched no track.*no track column 'tissue'"):
        select_tracks(model, query='tissue == "lung"')


HOSTILE = '@pd.io.common.os.system("touch pwned") == 0'
FASTA = str(Path(__file__).resolve().parents[1] / "test-data" / "chr20_slice.fa")
VCF = str(Path(__file__).resolve().parents[1] / "test-data" / "variants.vcf")


@pytest.mark.parametrize("command", [
    ["predict", "--interval", "chr20:110500-111500"],
    ["predict-variant", "--variant", "chr20:110811:T>C"],
    ["score", "--vcf", VCF],
    ["ism", "--interval", "chr20:110808-110812"],
    ["contact-map", "--model", "alphagenome-tiny", "--interval", "chr20:24576-40960"],
], ids=lambda c: c[0])
def test_cli_refuses_a_hostile_track_filter_in_one_line_and_runs_nothing(tmp_path, command):
    result = subprocess.run([sys.executable, "-m", "genome_plugin.cli", *command, "--fasta", FASTA, "--out", "out",
                             "--tracks", HOSTILE], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"genome-plugin {command[0]}: error: track filter {HOSTILE!r}, position 1: unexpected '@' "
                     "(a filter reads only the track table's columns), found '@pd.io.common.os.sys'"]
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "out").exists()  # refused before any output


def _toy_model():
    spec = importlib.util.spec_from_file_location("genome_plugin_toy_models", Path(__file__).with_name("toy_models.py"))
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "ToyModel"):
        spec.loader.exec_module(module)
    return module.SymmetricModel()


def test_python_api_filters_go_through_the_same_parser(tmp_path, monkeypatch):
    from genome_plugin import api
    from genome_plugin.scoring.engine import score_variants

    monkeypatch.chdir(tmp_path)
    model = _toy_model()
    with pytest.raises(SelectorSyntaxError, match="position 1: unexpected '@'"):
        api.predict_interval(model, "chr20:1000-1064", reference=FASTA, tracks=HOSTILE)
    with pytest.raises(SelectorSyntaxError, match="position 1: unexpected '@'"):
        score_variants(model, FASTA, VCF, scorers=["center_mask_dnase_501_diff_log2_sum"], out_dir=tmp_path / "out",
                       track_query=HOSTILE, progress=False)
    assert not (tmp_path / "pwned").exists()
    kept = api.predict_interval(model, "chr20:1000-1064", reference=FASTA, tracks='name contains "motif"')
    # the toy's DNase table: motif+, gc, motif-, other; its contact maps (hic, micro_c) match nothing: left out
    assert set(kept) == {"dnase_1bp", "dnase_8bp"}
    assert list(kept["dnase_1bp"].var_names) == ["motif+", "motif-"]
