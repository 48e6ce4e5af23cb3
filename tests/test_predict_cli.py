"""The prediction commands end to end: predict (chunks, regions, merge), predict-variant, ism, contact-map.

The toy model is registered through a throw-away plugin object, as a third party's would be.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import anndata as ad
import cooler
import numpy as np
import pandas as pd
import pyBigWig
import pytest

from genome_plugin import hookimpl
from genome_plugin.cli import build_parser, main
from genome_plugin.models import ModelEntry
from genome_plugin.plugins import pm
from genome_plugin.tracks import OutputType

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
FASTA = str(TEST_DATA / "chr20_slice.fa")


def _toy_models():
    spec = importlib.util.spec_from_file_location("genome_plugin_toy_models", Path(__file__).with_name("toy_models.py"))
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "ToyModel"):
        spec.loader.exec_module(module)
    return module


toy = _toy_models()


class ToyPlugin:
    @hookimpl
    def register_models(self, register):
        register(ModelEntry(name="toy-cli", loader=toy.AsymmetricModel, family="test",
                            description="motif convolutions (test model)",
                            output_types=(OutputType.DNASE, OutputType.CONTACT_MAPS)))


@pytest.fixture(scope="module", autouse=True)
def toy_plugin():
    pm.register(ToyPlugin(), name="test-toy-cli")
    yield
    pm.unregister(name="test-toy-cli")


@pytest.fixture(scope="module")
def bed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bed") / "regions.bed"
    rows = [("chr20", 1000, 1400, "a", 0, "+"), ("chr20", 29000, 29600, "b", 0, "-"),
            ("chr20", 50000, 50300, "c", 0, "+"), ("chr20", 80000, 80900, "d", 0, "-"),
            ("chr20", 120000, 120128, "e", 0, "+")]
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def _run(*argv: str) -> int:
    return main(["-q", *argv])


def test_help_shows_units_and_defaults():
    text = build_parser()._subparsers._group_actions[0].choices["predict"].format_help()
    for expected in ("--chunk I/N", "0-based", "(default: 4)", "(default: h5ad)", "--rc-average", "--region"):
        assert expected in text
    variant_help = build_parser()._subparsers._group_actions[0].choices["predict-variant"].format_help()
    variant_help = " ".join(variant_help.split())
    assert "1-based" in variant_help and "the model's preferred length" in variant_help


def test_predict_writes_every_format_readable(tmp_path, bed):
    out = tmp_path / "out"
    code = _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--bed", str(bed), "--output-type", "dnase",
                "--region", "chr20:0-30000", "--format", "h5ad,bigwig,bedgraph,tsv", "--plot",
                "--gtf", str(TEST_DATA / "genes.gtf"), "--out", str(out))
    assert code == 0
    stem = "predictions.region_chr20_0_30000"
    adata = ad.read_h5ad(out / f"{stem}.dnase_8bp.h5ad")
    assert list(dict.fromkeys(adata.obs["interval_id"])) == ["a", "b"]
    assert adata.uns["genome_plugin"]["region"] == "chr20:0-30000"
    with pyBigWig.open(str(out / f"{stem}.dnase_8bp.gc.bw")) as handle:
        first = adata[adata.obs["interval_id"] == "a"]
        values = handle.values("chr20", 1000, 1400)
        np.testing.assert_allclose(values[::8], first.X[:, 1], rtol=1e-6)
    table = pd.read_csv(out / f"{stem}.dnase_8bp.tsv", sep="\t")
    np.testing.assert_allclose(table["gc"], adata.X[:, 1], rtol=1e-6, atol=1e-7)
    assert (out / f"{stem}.dnase_1bp.motif.minus.bedgraph").exists()
    pngs = sorted(out.glob(f"{stem}.dnase_8bp.*.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 10_000 for p in pngs)


def test_chunks_merge_losslessly(tmp_path, bed):
    whole = tmp_path / "whole"
    assert _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--bed", str(bed), "--output-type", "dnase",
                "--out", str(whole)) == 0
    parts = tmp_path / "parts"
    for i in (3, 1, 2):
        assert _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--bed", str(bed), "--output-type", "dnase",
                    "--chunk", f"{i}/3", "--out", str(parts)) == 0
    chunks = sorted(parts.glob("predictions.chunk*of3.dnase_1bp.h5ad"))
    assert [p.name.split(".")[1] for p in chunks] == ["chunk1of3", "chunk2of3", "chunk3of3"]
    merged_path = tmp_path / "merged.h5ad"
    assert _run("merge", *map(str, reversed(chunks)), "--out", str(merged_path)) == 0
    merged = ad.read_h5ad(merged_path)
    reference = ad.read_h5ad(whole / "predictions.dnase_1bp.h5ad")
    np.testing.assert_array_equal(merged.X, reference.X)
    pd.testing.assert_frame_equal(merged.obs.astype(str), reference.obs.astype(str))
    pd.testing.assert_frame_equal(merged.var, reference.var)
    meta = merged.uns["genome_plugin"]
    assert list(meta["intervals"]) == list(reference.uns["genome_plugin"]["intervals"])
    assert list(meta["chunk"]) == ["1/3", "2/3", "3/3"]


def test_merge_refuses_results_of_different_jobs(tmp_path, capsys):
    for tracks, name in (('name == "gc"', "a"), ('name == "other"', "b")):
        assert _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--interval", "chr20:1000-1064",
                    "--output-type", "dnase", "--tracks", tracks, "--out", str(tmp_path / name)) == 0
    code = _run("merge", str(tmp_path / "a" / "predictions.dnase_1bp.h5ad"),
                str(tmp_path / "b" / "predictions.dnase_1bp.h5ad"), "--out", str(tmp_path / "m.h5ad"))
    assert code == 2
    assert "tracks (var) differ" in capsys.readouterr().err
    same = str(tmp_path / "a" / "predictions.dnase_1bp.h5ad")
    assert _run("merge", same, same, "--out", str(tmp_path / "m.h5ad")) == 2
    assert "appears in more than one input" in capsys.readouterr().err


def test_merge_joins_score_chunks_record_by_record(tmp_path):
    vcf = str(TEST_DATA / "variants.vcf")
    scorer = "center_mask_dnase_501_diff_mean"
    common = ["--model", "toy-cli", "--fasta", FASTA, "--vcf", vcf, "--scorer", scorer, "--sequence-length", "4096"]
    assert _run("score", *common, "--out", str(tmp_path / "whole")) == 0
    for i in (1, 2):
        assert _run("score", *common, "--chunk", f"{i}/2", "--out", str(tmp_path / f"chunk{i}")) == 0
    merged_path = tmp_path / "merged.h5ad"
    assert _run("merge", str(tmp_path / "chunk2" / f"{scorer}.h5ad"), str(tmp_path / "chunk1" / f"{scorer}.h5ad"),
                "--out", str(merged_path)) == 0
    merged, whole = ad.read_h5ad(merged_path), ad.read_h5ad(tmp_path / "whole" / f"{scorer}.h5ad")
    chunk1 = ad.read_h5ad(tmp_path / "chunk1" / f"{scorer}.h5ad")
    assert chunk1.obs["reason"].str.startswith("outside chunk").any()  # each chunk lists every record
    assert list(merged.obs_names) == list(whole.obs_names)
    np.testing.assert_array_equal(merged.X, whole.X)
    pd.testing.assert_series_equal(merged.obs["reason"].astype(str), whole.obs["reason"].astype(str))
    assert list(merged.uns["genome_plugin"]["chunk"]) == ["1/2", "2/2"]


def test_region_selects_overlapping_intervals(tmp_path, bed):
    out = tmp_path / "region"
    assert _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--bed", str(bed), "--output-type", "dnase",
                "--region", "chr20:29500-60000", "--out", str(out)) == 0
    adata = ad.read_h5ad(out / "predictions.region_chr20_29500_60000.dnase_8bp.h5ad")
    assert list(dict.fromkeys(adata.obs["interval_id"])) == ["b", "c"]
    assert _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--bed", str(bed), "--output-type", "dnase",
                "--region", "20", "--out", str(out)) == 0  # a whole chromosome, by its alias
    assert ad.read_h5ad(out / "predictions.region_20.dnase_8bp.h5ad").obs["interval_id"].nunique() == 5
    assert _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--bed", str(bed), "--region", "chr9",
                "--out", str(tmp_path / "none")) == 0
    assert not (tmp_path / "none").exists()


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    code = _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--interval", "chr20:1000-1100",
                "--format", "h5ad,bam", "--out", str(tmp_path))
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "unknown output format 'bam'" in err
    code = _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--interval", "chrX:1000-1100", "--out",
                str(tmp_path))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "contig 'chrX' is not in the FASTA" in err
    code = _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--bed", str(TEST_DATA / "bad_intervals.bed"),
                "--out", str(tmp_path))
    err = capsys.readouterr().err.strip()
    assert code == 2 and "bad_intervals.bed, line" in err


def test_predict_variant_command(tmp_path):
    out = tmp_path / "variant"
    assert _run("predict-variant", "--model", "toy-cli", "--fasta", FASTA, "--variant", "chr20:29367:T>C",
                "--variant", "chr20:80945:C>CA", "--width", "256", "--output-type", "dnase", "--tracks",
                'name != "other"', "--format", "h5ad,bigwig", "--plot", "--zoom", "128",
                "--gtf", str(TEST_DATA / "genes.gtf"), "--out", str(out)) == 0
    adata = ad.read_h5ad(out / "variant.dnase_1bp.h5ad")
    assert list(dict.fromkeys(adata.obs["variant_id"])) == ["chr20:29367:T>C", "chr20:80945:C>CA"]
    np.testing.assert_allclose(adata.X, adata.layers["alt"] - adata.layers["ref"], rtol=1e-5, atol=1e-6)
    assert (out / "variant.dnase_1bp.alt.gc.bw").exists() and (out / "variant.dnase_1bp.ref.gc.bw").exists()
    assert len(list(out.glob("variant.dnase_8bp.*.png"))) == 2


def test_ism_command(tmp_path):
    out = tmp_path / "ism"
    assert _run("ism", "--model", "toy-cli", "--fasta", FASTA, "--interval", "chr20:29360-29372",
                "--output-type", "dnase", "--width", "128", "--tracks", 'name != "other"', "--out", str(out)) == 0
    adata = ad.read_h5ad(out / "ism.h5ad")
    assert adata.shape == (36, 3)
    table = pd.read_csv(out / "ism.tsv", sep="\t")
    assert len(table) == 36 and set(table["alt"]) == {"A", "C", "G", "T"}
    np.testing.assert_allclose(table["gc"], adata.X[:, 1], rtol=1e-6, atol=1e-7)
    assert sorted(p.name for p in out.glob("*.png")) == ["ism.gc.png", "ism.motif.minus.png", "ism.motif.plus.png"]


def test_contact_map_command(tmp_path):
    out = tmp_path / "contacts"
    assert _run("contact-map", "--model", "toy-cli", "--fasta", FASTA, "--interval", "chr20:28000-29024",
                "--variant", "chr20:28500:A>C", "--out", str(out)) == 0
    adata = ad.read_h5ad(out / "contacts.h5ad")
    for layer in ("", "ref.", "alt."):
        clr = cooler.Cooler(str(out / f"contacts.{layer}hic.cool"))
        pixels = clr.pixels()[:]
        assert len(pixels) == adata.n_obs
        expected = adata.layers[layer[:-1]][:, 0] if layer else adata.X[:, 0]
        np.testing.assert_allclose(np.sort(pixels["count"].to_numpy()), np.sort(expected), rtol=1e-6)
    assert (out / "contacts.png").stat().st_size > 10_000


def test_random_weights_are_named_in_uns_figure_and_log(tmp_path, caplog, monkeypatch):
    from genome_plugin import plugins
    from genome_plugin.plots import plot_tracks

    monkeypatch.setattr(plugins, "_loaded", {})  # a fresh process: the model is loaded (and warned about) here
    out = tmp_path / "tiny"
    assert main(["predict", "--model", "alphagenome-tiny", "--fasta", FASTA, "--interval", "chr20:29000-29128",
                 "--output-type", "dnase", "--out", str(out)]) == 0
    meta = ad.read_h5ad(out / "predictions.dnase_1bp.h5ad").uns["genome_plugin"]
    assert meta["model"] == "alphagenome-tiny"
    assert meta["weights"] == "random (untrained): predictions carry no biological meaning"
    warned = [r for r in caplog.records if "predictions carry no biological meaning" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelname == "WARNING"
    title = plot_tracks(ad.read_h5ad(out / "predictions.dnase_1bp.h5ad")).get_suptitle()
    assert "alphagenome-tiny" in title and "random (untrained)" in title


def test_trained_weights_carry_no_random_note(tmp_path):
    assert _run("predict", "--model", "toy-cli", "--fasta", FASTA, "--interval", "chr20:29000-29128",
                "--output-type", "dnase", "--out", str(tmp_path)) == 0
    assert ad.read_h5ad(tmp_path / "predictions.dnase_1bp.h5ad").uns["genome_plugin"]["weights"] == ""
