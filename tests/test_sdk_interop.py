"""The AlphaGenome SDK as an oracle: its ``tidy_scores`` reads our score h5ad files and gives our scores.tsv.

Only the SDK's offline code runs (scorer dataclasses, enums, ``tidy_scores``); nothing calls its API.
The scorer names we write are checked against the SDK's own reprs, never against hand-written strings.
"""

from __future__ import annotations

import itertools
import socket
from importlib import metadata
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from alphagenome.models import variant_scorers as vs

from genome_plugin import cli
from genome_plugin.genome import Interval, Reference
from genome_plugin.scoring.catalogue import RECOMMENDED, builtin_scorers, recommended_scorers
from genome_plugin.scoring.outputs import TSV_OURS, scored_interval
from genome_plugin.scoring.sdk import SDK_TRACK_COLUMNS, ForeignScorer, sdk_scorer, sdk_scorer_name, to_sdk_anndatas
from genome_plugin.tracks import OutputType

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
FASTA = TEST_DATA / "chr20_slice.fa"
VARIANTS = TEST_DATA / "variants.vcf"
METADATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "alphagenome-track-metadata"
EARLY_POS = 300  # a variant this close to the contig start has a window that starts before it


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Every test here runs with internet sockets refused: the SDK is used offline only."""

    def refuse(sock, address, *args, **kwargs):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"test_sdk_interop: a network connection to {address!r} was attempted")
        return connect(sock, address, *args, **kwargs)

    connect = socket.socket.connect
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        yield


def test_the_network_is_refused_here():
    with pytest.raises(OSError, match="network connection"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def _sdk_configurations() -> list[object]:
    """Every scorer configuration the SDK accepts, built from its own SUPPORTED_* tables."""
    base = vs.BaseVariantScorer
    out: list[object] = [vs.ContactMapScorer(), vs.PolyadenylationScorer(), vs.SpliceJunctionScorer()]
    for output, width, aggregation in itertools.product(vs.SUPPORTED_OUTPUT_TYPES[base.CENTER_MASK],
                                                        vs.SUPPORTED_WIDTHS[base.CENTER_MASK],
                                                        vs.SUPPORTED_AGGREGATIONS[base.CENTER_MASK]):
        out.append(vs.CenterMaskScorer(requested_output=output, width=width, aggregation_type=aggregation))
    out += [vs.GeneMaskLFCScorer(requested_output=o) for o in vs.SUPPORTED_OUTPUT_TYPES[base.GENE_MASK_LFC]]
    out += [vs.GeneMaskActiveScorer(requested_output=o) for o in vs.SUPPORTED_OUTPUT_TYPES[base.GENE_MASK_ACTIVE]]
    for output, width in itertools.product(vs.SUPPORTED_OUTPUT_TYPES[base.GENE_MASK_SPLICING],
                                           vs.SUPPORTED_WIDTHS[base.GENE_MASK_SPLICING]):
        out.append(vs.GeneMaskSplicingScorer(requested_output=output, width=width))
    return out


def test_recommended_preset_is_the_sdks_in_its_order():
    ours = [sdk_scorer_name(s) for s in recommended_scorers()]
    assert ours == [str(s) for s in vs.RECOMMENDED_VARIANT_SCORERS.values()]
    assert "GeneMaskLFCScorer(requested_output=RNA_SEQ)" in ours  # the example, as the SDK prints it


def test_builtin_scorers_are_exactly_the_sdks_configurations():
    theirs = {str(s): s for s in _sdk_configurations()}
    ours = {sdk_scorer_name(s): s for s in builtin_scorers()}
    assert set(ours) == set(theirs)
    for name, scorer in ours.items():
        assert scorer.signed == theirs[name].is_signed, name
        assert scorer.output_type.name == theirs[name].requested_output.name, name
        rebuilt = sdk_scorer(name)  # parsed back into the SDK's object, as to_sdk_anndatas does
        assert rebuilt == theirs[name] and type(rebuilt) is type(theirs[name])


def test_sdk_scorer_refuses_what_is_not_an_sdk_scorer():
    assert sdk_scorer("example_max_abs_diff", "dnase") == ForeignScorer("example_max_abs_diff", OutputType.DNASE)
    assert str(sdk_scorer("spliceai_delta", OutputType.SPLICE_SITES)) == "spliceai_delta"
    with pytest.raises(ValueError, match="not an SDK scorer"):
        sdk_scorer("os.system('x')")
    with pytest.raises(KeyError):
        sdk_scorer("CenterMaskScorer(requested_output=NOPE, width=501, aggregation_type=DIFF_SUM)")


def test_scored_interval_is_the_genomic_part_of_the_window():
    assert scored_interval(Interval("chr20", -8000, 8384), 360_000) == "chr20:0-8384:+"
    assert scored_interval(Interval("chr20", 355_000, 371_384), 360_000) == "chr20:355000-360000:+"
    assert scored_interval(Interval("chr20", 100, 200, "."), 360_000) == "chr20:100-200:."


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The bundled VCF plus one variant near the contig start; a 3-record background; genes typed protein-coding."""
    folder = tmp_path_factory.mktemp("inputs")
    lines = VARIANTS.read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    records = [line for line in lines if line and not line.startswith("#")]
    ref = Reference(FASTA).fetch(chrom="chr20", start=EARLY_POS - 1, end=EARLY_POS)
    alt = "T" if ref != "T" else "C"
    vcf = folder / "variants.vcf"
    vcf.write_text("\n".join([*header, *records, f"chr20\t{EARLY_POS}\tearly\t{ref}\t{alt}\t.\tPASS\t."]) + "\n")
    background = folder / "background.vcf"
    background.write_text("\n".join([*header, *records[3:6]]) + "\n")
    # genes.gtf holds GENCODE canonical transcripts typed "unknown" (its source has no biotype); the junction
    # scorer keeps protein-coding genes only, as the SDK does, so type them for junction rows to exist
    gtf = folder / "genes.gtf"
    gtf.write_text((TEST_DATA / "genes.gtf").read_text().replace('gene_type "unknown"', 'gene_type "protein_coding"'))
    # polyA sites (the test data has none; each gene's transcript end is one site, and the scorer needs two):
    # two per variant inside a gene, 1 kb either side of it, so that polyadenylation rows exist to compare
    genes = [line.split("\t") for line in gtf.read_text().splitlines() if "\tgene\t" in line]
    sites = set()
    for pos in (int(r.split("\t")[1]) for r in records):
        for fields in genes:
            if int(fields[3]) + 1000 <= pos <= int(fields[4]) - 1000:
                name = fields[8].split('gene_name "')[1].split('"')[0]
                sites |= {(pos - 1000, name, fields[6]), (pos + 1000, name, fields[6])}
    polya = folder / "polya.bed"
    polya.write_text("".join(f"chr20\t{p}\t{p + 1}\t{n}\t0\t{s}\n" for p, n, s in sorted(sites)))
    return {"vcf": vcf, "background": background, "gtf": gtf, "polya": polya, "records": len(records) + 1}


@pytest.fixture(scope="module")
def cli_run(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("scores")
    code = cli.main(["-q", "score", "--model", "alphagenome-tiny", "--fasta", str(FASTA), "--vcf", str(inputs["vcf"]),
                     "--gtf", str(inputs["gtf"]), "--polya-bed", str(inputs["polya"]), "--scorer", "recommended",
                     "--background-vcf", str(inputs["background"]), "--sequence-length", "16384", "--out", str(out)])
    assert code == 0
    return out


def _text(value: object) -> str:
    """A tidy_scores cell as our TSV writes it (None / NaN as empty)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


@pytest.mark.slow
def test_sdk_tidy_scores_reads_our_h5ad_and_gives_our_tsv(cli_run):
    tsv = pd.read_csv(cli_run / "scores.tsv", sep="\t", keep_default_na=False, dtype=str)
    names = list(dict.fromkeys(tsv["scorer"]))  # scorer blocks in the order the TSV has them
    assert set(names) == set(RECOMMENDED) == {p.stem for p in cli_run.glob("*.h5ad")}
    files = {name: ad.read_h5ad(cli_run / f"{name}.h5ad") for name in names}
    for name, adata in files.items():
        assert "quantiles" in adata.layers and "quantile" not in adata.layers, name
        if "gene_name" in adata.obs.columns:
            assert {"gene_id", "strand", "gene_type"} <= set(adata.obs.columns), name
    tidy = vs.tidy_scores([to_sdk_anndatas(files[name]) for name in names])
    ours = tsv[tsv["reason"] == ""].reset_index(drop=True)
    # the SDK's columns in its order are ours, with our own columns (reason, ...) before the scores
    assert list(tidy.columns) == [c for c in tsv.columns if c not in TSV_OURS]
    assert list(tsv.columns[-2:]) == ["raw_score", "quantile_score"]
    assert len(tidy) == len(ours) > 1000
    for column in tidy.columns:
        if column in ("raw_score", "quantile_score"):
            # the TSV prints 6 significant digits (%.6g): at most half a unit of the 6th off
            np.testing.assert_allclose(pd.to_numeric(ours[column]).to_numpy(float), tidy[column].to_numpy(float),
                                       rtol=5.1e-6, atol=1e-30, equal_nan=True, err_msg=column)
        else:
            assert [_text(v) for v in tidy[column]] == list(ours[column]), column
    # every family has rows, junction coordinates and quantiles among them
    assert set(tidy["variant_scorer"]) == {str(s) for s in vs.RECOMMENDED_VARIANT_SCORERS.values()}
    junctions = tidy[tidy["variant_scorer"] == "SpliceJunctionScorer()"]
    assert len(junctions) and junctions["junction_Start"].notna().all()
    assert junctions["gene_strand"].isin(["+", "-"]).all()
    assert np.isfinite(tidy["quantile_score"].to_numpy(float)).sum() > 100
    # unscored lines (no gene in reach, ...) are ours only: one each, no scores
    assert (tsv.loc[tsv["reason"] != "", "raw_score"] == "").all()


@pytest.mark.slow
def test_files_in_the_layout_before_the_sdk_names_read_the_same(cli_run):
    """h5ad written before the SDK's names (obs gene_strand, layers["quantile"], no uns["variant_scorer"])."""
    for name in ("gene_mask_lfc_rna_seq", "center_mask_dnase_501_diff_log2_sum"):
        adata = ad.read_h5ad(cli_run / f"{name}.h5ad")
        old = adata.copy()
        old.obs = old.obs.rename(columns={"strand": "gene_strand"})
        old.layers["quantile"] = old.layers.pop("quantiles")
        del old.uns["variant_scorer"]
        pd.testing.assert_frame_equal(vs.tidy_scores([to_sdk_anndatas(old)]), vs.tidy_scores([to_sdk_anndatas(adata)]))


@pytest.mark.slow
def test_no_scored_interval_starts_before_the_contig(cli_run, inputs):
    tsv = pd.read_csv(cli_run / "scores.tsv", sep="\t", keep_default_na=False, dtype=str)
    intervals = tsv.loc[tsv["scored_interval"] != "", "scored_interval"]
    starts = intervals.str.split(":").str[1].str.rsplit("-", n=1).str[0].astype(int)
    assert (starts >= 0).all()
    early = tsv.loc[tsv["vcf_id"] == "early", "scored_interval"]
    # windows centre on multiples of the stride (2,048 bp here, the contact maps' bin): 299 -> 0, so the
    # 16,384 bp window is [-8192, 8192) and its genomic part [0, 8192)
    assert len(early) and (early == "chr20:0-8192:+").all()
    assert tsv["vcf_record"].astype(int).nunique() == inputs["records"]


@pytest.mark.parametrize("organism", ["HOMO_SAPIENS", "MUS_MUSCULUS"])
def test_track_tables_equal_the_sdks_reading_of_the_official_metadata(organism, require):
    """Our reader of the official track metadata against the SDK's protobuf parse and its metadata_from_proto.

    Also that the h5ad ``var`` of those tables, renamed by :data:`SDK_TRACK_COLUMNS`, has the SDK's columns.
    """
    from alphagenome.models import dna_client
    from alphagenome.protos import dna_model_pb2, dna_model_service_pb2
    from google.protobuf import text_format

    from genome_plugin.model.metadata import OUTPUT_TYPE_TO_HEAD, read_output_metadata
    from genome_plugin.tracks import TrackTable

    path = METADATA_DIR / f"OutputMetadataResponse_ORGANISM_{organism}.textproto"
    require(path.exists(), f"official track metadata not found at {path}")
    response = text_format.Parse(path.read_text(), dna_model_service_pb2.MetadataResponse())
    theirs = dna_client.construct_output_metadata(iter([response]))
    ours = read_output_metadata(path)
    for entry in response.output_metadata:
        output_type = dna_model_pb2.OutputType.Name(entry.output_type)
        frame = theirs.get(_sdk_output(output_type))
        table = ours.tables[OUTPUT_TYPE_TO_HEAD[output_type]]
        assert len(table) == len(frame), output_type
        for column in frame.columns:
            if column == "nonzero_mean":
                np.testing.assert_allclose(table[column].to_numpy(float), frame[column].to_numpy(float),
                                           rtol=1e-6, equal_nan=True, err_msg=output_type)
                continue
            present = frame[column].notna().to_numpy()  # the SDK leaves a field the proto lacks as NaN
            assert [str(v) for v in table[column][present]] == [str(v) for v in frame[column][present]], column
            assert (table[column][~present].astype(str).isin(["", "False"])).all(), column
        real = table[table["name"] != "Padding"]  # head padding rows are not tracks of a model's table
        var = TrackTable(real, source=str(path)).to_var().rename(columns=SDK_TRACK_COLUMNS)
        assert set(frame.columns) <= set(var.columns), output_type


def _sdk_output(output_type: str):
    """The SDK's OutputType for an official proto enum name (``OUTPUT_TYPE_ATAC`` -> ``OutputType.ATAC``)."""
    from alphagenome.models import dna_output

    return dna_output.OutputType[output_type.removeprefix("OUTPUT_TYPE_")]


def test_merged_chunks_read_as_the_whole(tmp_path):
    """Two --chunk runs merged by genome-plugin merge: the SDK reads the merged h5ad as both chunks' TSV lines."""
    from genome_plugin.commands.merge import merge_h5ad

    scorer = "center_mask_dnase_501_diff_sum"
    tables = []
    for chunk in ("1/2", "2/2"):
        out = tmp_path / chunk.replace("/", "of")
        assert cli.main(["-q", "score", "--model", "example-gc", "--fasta", str(FASTA), "--vcf", str(VARIANTS),
                         "--scorer", scorer, "--chunk", chunk, "--sequence-length", "4096", "--out", str(out)]) == 0
        tables.append(pd.read_csv(out / "scores.tsv", sep="\t", keep_default_na=False, dtype=str))
    merged = merge_h5ad([tmp_path / "1of2" / f"{scorer}.h5ad", tmp_path / "2of2" / f"{scorer}.h5ad"])
    tidy = vs.tidy_scores([to_sdk_anndatas(merged)])
    ours = pd.concat(tables)
    ours = ours[ours["reason"] == ""].reset_index(drop=True)
    assert len(tidy) == len(ours) == 25 * len(set(ours["track_name"]))  # every record scored once
    assert [str(v) for v in tidy["variant_id"]] == list(ours["variant_id"])
    assert set(tidy["variant_scorer"]) == {str(vs.CenterMaskScorer(requested_output=_sdk_output("OUTPUT_TYPE_DNASE"),
                                                                     width=501,
                                                                     aggregation_type=vs.AggregationType.DIFF_SUM))}
    np.testing.assert_allclose(pd.to_numeric(ours["raw_score"]).to_numpy(float), tidy["raw_score"].to_numpy(float),
                               rtol=5.1e-6, atol=1e-30)


def _spliceai_installed() -> bool:
    try:
        metadata.distribution("spliceai")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.slow
def test_sdk_tidy_scores_reads_the_spliceai_h5ad(tmp_path, require):
    require(_spliceai_installed(), "the `spliceai` package (trained weights) is not installed")
    from genome_plugin.plugins import load_model
    from genome_plugin.scoring import spliceai as ss

    lines = VARIANTS.read_text().splitlines()
    vcf = tmp_path / "four.vcf"
    vcf.write_text("\n".join([line for line in lines if line.startswith("#")]
                             + [line for line in lines if line and not line.startswith("#")][:4]) + "\n")
    scored = ss.score_vcf(vcf, FASTA, TEST_DATA / "genes.gtf", model=load_model("spliceai"), progress=False)
    adata = ad.read_h5ad(scored.write_h5ad(tmp_path / "spliceai.h5ad"))
    tidy = vs.tidy_scores([to_sdk_anndatas(adata)])
    table = scored.table()
    table = table[table["reason"] == ""].reset_index(drop=True)
    # per variant, the SDK's table lists each delta score (track) for each gene row
    assert len(tidy) == 4 * len(table) and set(tidy["variant_scorer"]) == {"spliceai_delta"}
    assert list(tidy["track_name"]) == list(ss.SCORE_NAMES) * len(table)
    for column, ours in (("variant_id", "variant_id"), ("gene_name", "gene_name"), ("gene_strand", "gene_strand")):
        assert [_text(v) for v in tidy[column]] == list(np.repeat(table[ours].astype(str).to_numpy(), 4)), column
    np.testing.assert_array_equal(tidy["raw_score"].to_numpy(np.float32),
                                  table[list(ss.SCORE_NAMES)].to_numpy(np.float32).ravel())
    for variant, interval in zip(tidy["variant_id"], tidy["scored_interval"]):
        assert interval.start == variant.position - 1 - scored.distance >= 0
        assert interval.end == variant.end + scored.distance
