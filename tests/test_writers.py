"""Every built-in writer's output is read back with the real reader and compared with the AnnData it came from."""

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

from genome_plugin import api
from genome_plugin.adata import contact_map_matrix
from genome_plugin.genome import Reference
from genome_plugin.plugins import get_writers, registered_writers
from genome_plugin.writers import resolve_writers, write_results
from genome_plugin.writers.formats import BedGraphWriter, BigWigWriter, CoolWriter, H5adWriter, PngWriter, TsvWriter

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
FASTA = TEST_DATA / "chr20_slice.fa"


def _toy_models():
    spec = importlib.util.spec_from_file_location("genome_plugin_toy_models", Path(__file__).with_name("toy_models.py"))
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "ToyModel"):
        spec.loader.exec_module(module)
    return module


toy = _toy_models()


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference(FASTA)


@pytest.fixture(scope="module")
def tracks(reference) -> dict[str, ad.AnnData]:
    # two overlapping intervals, one on the minus strand, and one running past the end of chr20 (360,000 bp)
    return api.predict_interval(toy.AsymmetricModel(), ["chr20:1000-1100", "chr20:1050-1200:-", "chr20:359950-360000"],
                                reference=reference)


@pytest.fixture(scope="module")
def variant(reference) -> dict[str, ad.AnnData]:
    return api.predict_variant(toy.AsymmetricModel(), "chr20:29367:T>C", reference=reference, width=128)


@pytest.fixture(scope="module")
def contacts(reference) -> ad.AnnData:
    return api.contact_map(toy.AsymmetricModel(), "chr20:28000-29024", reference=reference, variant="chr20:28500:A>C")


def test_builtin_writers_are_registered_through_the_plugin_hook():
    registered = registered_writers()
    for name in ("h5ad", "bigwig", "bedgraph", "cool", "tsv", "png"):
        assert registered[name].plugin == "genome_plugin.default_plugins.writers"
        assert get_writers()[name].suffix.startswith(".")
    assert [w.name for w in resolve_writers(["BW", "h5ad", "cooler"])] == ["bigwig", "h5ad", "cool"]
    with pytest.raises(ValueError, match="unknown output format 'bam'"):
        resolve_writers(["bam"])


def test_h5ad_round_trip(tmp_path, tracks, contacts):
    for adata in (tracks["dnase_8bp"], contacts):
        [path] = H5adWriter().write(adata, tmp_path, basename="x")
        back = ad.read_h5ad(path)
        np.testing.assert_array_equal(back.X, adata.X)
        pd.testing.assert_frame_equal(back.obs, adata.obs)
        pd.testing.assert_frame_equal(back.var, adata.var)
        for layer in adata.layers:
            np.testing.assert_array_equal(back.layers[layer], adata.layers[layer])
        assert back.uns["genome_plugin"]["model"] == "toy-asymmetric"
        assert list(back.uns["genome_plugin"]["windows"]) == list(adata.uns["genome_plugin"]["windows"])


def _expected_entries(adata: ad.AnnData, column: int, size: int) -> list[tuple[int, int, float]]:
    """Bins sorted by start, first of overlapping bins kept, clipped to the chromosome: what the writers promise."""
    obs = adata.obs
    rows = sorted(range(adata.n_obs), key=lambda r: (obs["start"].iloc[r], r))
    entries, last_end = [], -1
    for row in rows:
        start, end = int(obs["start"].iloc[row]), int(obs["end"].iloc[row])
        if start >= size or start < last_end:
            continue
        entries.append((start, min(end, size), float(np.float32(adata.X[row, column]))))
        last_end = min(end, size)
    return entries


@pytest.mark.parametrize("key", ["dnase_1bp", "dnase_8bp"])
def test_bigwig_one_file_per_track_with_fasta_chrom_sizes(tmp_path, reference, tracks, key):
    adata = tracks[key]
    paths = BigWigWriter().write(adata, tmp_path, reference=reference, basename="pred")
    assert [p.name for p in paths] == ["pred.motif.plus.bw", "pred.gc.bw", "pred.motif.minus.bw", "pred.other.bw"]
    for column, path in enumerate(paths):
        with pyBigWig.open(str(path)) as handle:
            assert handle.chroms() == {"chr20": 360_000}
            got = [(s, e, pytest.approx(v, rel=1e-6, abs=1e-7)) for s, e, v in handle.intervals("chr20")]
        expected = _expected_entries(adata, column, 360_000)
        assert len(got) == len(expected)
        assert [g[:2] for g in got] == [e[:2] for e in expected]
        assert [e[2] for e in expected] == [g[2] for g in got]
    # the interval at the chromosome end is kept up to 360,000 and no further
    assert expected[-1][1] == 360_000


def test_bigwig_and_bedgraph_write_ref_and_alt_layers(tmp_path, reference, variant):
    adata = variant["dnase_1bp"]
    paths = BigWigWriter().write(adata, tmp_path, reference=reference, basename="v")
    names = [p.name for p in paths]
    assert "v.motif.plus.bw" in names and "v.ref.motif.plus.bw" in names and "v.alt.motif.plus.bw" in names
    start, end = int(adata.obs["start"].iloc[0]), int(adata.obs["end"].iloc[-1])
    for layer in ("ref", "alt"):
        with pyBigWig.open(str(tmp_path / f"v.{layer}.gc.bw")) as handle:
            values = np.array(handle.values("chr20", start, end))
        np.testing.assert_allclose(values, adata.layers[layer][:, 1], rtol=1e-6)
    with pyBigWig.open(str(tmp_path / "v.gc.bw")) as handle:
        diff = np.array(handle.values("chr20", start, end))
    np.testing.assert_allclose(diff, adata.layers["alt"][:, 1] - adata.layers["ref"][:, 1], rtol=1e-5, atol=1e-6)
    assert np.abs(diff).max() > 0
    bedgraphs = BedGraphWriter().write(adata, tmp_path, reference=reference, basename="v")
    table = pd.read_csv(tmp_path / "v.alt.gc.bedgraph", sep="\t", skiprows=1, header=None,
                        names=["chrom", "start", "end", "value"])
    np.testing.assert_allclose(table["value"], adata.layers["alt"][:, 1], rtol=1e-6)
    assert len(bedgraphs) == 3 * adata.n_vars


def test_bedgraph_read_back_with_pandas(tmp_path, reference, tracks):
    adata = tracks["dnase_8bp"]
    paths = BedGraphWriter().write(adata, tmp_path, reference=reference, basename="pred")
    with open(paths[0]) as handle:
        assert handle.readline().startswith('track type=bedGraph name="motif+"')
    for column, path in enumerate(paths):
        table = pd.read_csv(path, sep="\t", skiprows=1, header=None, names=["chrom", "start", "end", "value"])
        expected = _expected_entries(adata, column, 360_000)
        assert list(zip(table["start"], table["end"])) == [e[:2] for e in expected]
        np.testing.assert_allclose(table["value"], [e[2] for e in expected], rtol=1e-6)
        assert set(table["chrom"]) == {"chr20"}


def test_bigwig_without_reference_uses_the_predicted_extent(tmp_path, tracks):
    [path, *_] = BigWigWriter().write(tracks["dnase_8bp"], tmp_path, basename="nofasta")
    with pyBigWig.open(str(path)) as handle:
        assert handle.chroms() == {"chr20": int(tracks["dnase_8bp"].obs["end"].max())}


def test_bigwig_refuses_contact_maps(tmp_path, contacts):
    with pytest.raises(ValueError, match="bigwig writer cannot write contact_map"):
        BigWigWriter().write(contacts, tmp_path)


def test_cool_files_read_back_with_cooler(tmp_path, reference, contacts):
    paths = CoolWriter().write(contacts, tmp_path, reference=reference, basename="cm")
    assert sorted(p.name for p in paths) == sorted(
        f"cm{layer}.{track}.cool" for layer in ("", ".ref", ".alt") for track in ("hic", "micro_c"))
    window = contacts.uns["genome_plugin"]["windows"][0]
    start, end = int(contacts.obs["start1"].min()), int(contacts.obs["end2"].max())
    assert str(window).startswith(f"chr20:{start}-{end}")
    for layer in (None, "ref", "alt"):
        for column, track in enumerate(("hic", "micro_c")):
            clr = cooler.Cooler(str(tmp_path / f"cm{'.' + layer if layer else ''}.{track}.cool"))
            assert clr.binsize == 16
            assert dict(clr.chromsizes) == {"chr20": 360_000}
            assert clr.info["nbins"] == 360_000 // 16
            matrix = clr.matrix(balance=False).fetch(f"chr20:{start}-{end}")
            np.testing.assert_allclose(matrix, contact_map_matrix(contacts, column, layer=layer), rtol=1e-6)
            assert clr.info["metadata"]["track"] == track


def test_cool_refuses_maps_off_the_genome_grid(tmp_path, reference, contacts):
    shifted = contacts.copy()
    for column in ("start1", "end1", "start2", "end2"):
        shifted.obs[column] = shifted.obs[column] + 3
    with pytest.raises(ValueError, match="not on the 16 bp genome grid"):
        CoolWriter().write(shifted, tmp_path, reference=reference)


def test_tsv_read_back_with_pandas(tmp_path, variant):
    adata = variant["dnase_8bp"]
    [path] = TsvWriter().write(adata, tmp_path, basename="v")
    table = pd.read_csv(path, sep="\t")
    assert list(table.columns[:5]) == ["chrom", "start", "end", "interval_id", "variant_id"]
    assert table["start"].tolist() == adata.obs["start"].tolist()
    for column, track in enumerate(adata.var_names):
        np.testing.assert_allclose(table[track], adata.X[:, column], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(table[f"{track}|ref"], adata.layers["ref"][:, column], rtol=1e-6)
        np.testing.assert_allclose(table[f"{track}|alt"], adata.layers["alt"][:, column], rtol=1e-6)


def test_png_writer_one_figure_per_interval(tmp_path, tracks):
    paths = PngWriter().write(tracks["dnase_8bp"], tmp_path, basename="p")
    assert [p.name for p in paths] == ["p.1.png", "p.2.png", "p.3.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_results_skips_formats_that_cannot_hold_a_kind(tmp_path, reference, tracks, contacts):
    results = {"dnase_8bp": tracks["dnase_8bp"], "contact_maps_16bp": contacts}
    paths = write_results(results, ["h5ad", "bigwig", "cool"], tmp_path, basename="all", reference=reference)
    names = sorted(p.name for p in paths)
    assert "all.dnase_8bp.h5ad" in names and "all.contact_maps_16bp.h5ad" in names
    assert "all.dnase_8bp.gc.bw" in names and "all.contact_maps_16bp.hic.cool" in names
    assert not any(n.startswith("all.dnase_8bp") and n.endswith(".cool") for n in names)
    with pytest.raises(ValueError, match="cannot write"):
        write_results(results, ["bigwig"], tmp_path, skip_unsupported=False)
