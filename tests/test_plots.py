"""Every plot type rendered to PNG from real predictions: SpliceAI's trained weights on a real splice
variant of GGT7, the AlphaGenome architecture (tiny preset) when registered, and the test models for
contact maps and ISM."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from genome_plugin import api, plots
from genome_plugin.genome import Reference, read_gtf
from genome_plugin.plugins import get_models

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"


def _toy_models():
    spec = importlib.util.spec_from_file_location("genome_plugin_toy_models", Path(__file__).with_name("toy_models.py"))
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "ToyModel"):
        spec.loader.exec_module(module)
    return module


toy = _toy_models()


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference(TEST_DATA / "chr20_slice.fa")


@pytest.fixture(scope="module")
def annotation():
    return read_gtf(TEST_DATA / "genes.gtf")


def _check_png(path: Path, *, min_width: int = 800) -> np.ndarray:
    """The image: a real PNG, wide enough to read, and not blank."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.shape[1] >= min_width and image.shape[0] >= 300
    ink = (image[..., :3] < 0.9).any(axis=-1).mean()
    assert 0.01 < ink < 0.9  # something drawn, and not one solid block
    return image


def test_tracks_with_gene_lane(tmp_path, reference, annotation):
    results = api.predict_interval(toy.AsymmetricModel(), "chr20:26000-42000", reference=reference,
                                   output_types=["dnase"])
    path = tmp_path / "tracks.png"
    plots.save(plots.plot_tracks(results["dnase_8bp"], annotation=annotation), path)
    _check_png(path)
    figure = plots.plot_tracks(results["dnase_8bp"], annotation=annotation, tracks=["gc"])
    assert len(figure.axes) == 2  # one track panel and the gene lane
    gene_lane = figure.axes[-1]
    assert any("GGT7" in text.get_text() for text in gene_lane.texts)
    assert gene_lane.get_xlabel() == "chr20 position (kb)"


def test_variant_overlay_marks_the_variant(tmp_path, reference, annotation):
    results = api.predict_variant(toy.AsymmetricModel(), "chr20:29367:T>C", reference=reference, width=512,
                                  output_types=["dnase"])
    figure = plots.plot_variant(results["dnase_1bp"], annotation=annotation, zoom=200)
    path = tmp_path / "variant.png"
    plots.save(figure, path)
    _check_png(path)
    first = figure.axes[0]
    assert [t.get_text() for t in first.get_legend().get_texts()] == ["REF", "ALT"]
    assert any(t.get_text() == "chr20:29367:T>C" for t in first.texts)
    assert first.get_xlim() == pytest.approx((29266, 29466), abs=1)


def test_contact_map_and_difference_map(tmp_path, reference):
    model = toy.AsymmetricModel()
    plain = api.contact_map(model, "chr20:28000-29024", reference=reference)
    path = tmp_path / "contacts.png"
    plots.save(plots.plot_contact_map(plain), path)
    _check_png(path, min_width=600)
    paired = api.contact_map(model, "chr20:28000-29024", reference=reference, variant="chr20:28500:A>C")
    figure = plots.plot_contact_map(paired, tracks=["hic"])
    maps = [ax for ax in figure.axes if ax.get_title()]  # the others are colour bars
    assert [ax.get_title() for ax in maps] == ["REF: hic", "ALT: hic", "ALT − REF: hic"]
    assert maps[0].images[0].get_clim() == maps[1].images[0].get_clim()  # REF and ALT share one scale
    difference = maps[2].images[0]
    low, high = difference.get_clim()
    assert low == pytest.approx(-high) and high > 0  # diverging scale centred on 0
    path = tmp_path / "difference.png"
    plots.save(figure, path)
    _check_png(path)


def test_ism_logo(tmp_path, reference):
    adata = api.ism(toy.AsymmetricModel(), "chr20:29355-29380", reference=reference, width=128, output_type="dnase")
    figure = plots.plot_ism(adata, track="gc")
    path = tmp_path / "ism.png"
    plots.save(figure, path)
    _check_png(path)
    logo, heatmap = figure.axes[0], figure.axes[1]
    assert len(logo.patches) == 25  # one letter per base
    assert [t.get_text() for t in heatmap.get_yticklabels()] == ["A", "C", "G", "T"]


@pytest.mark.slow
def test_spliceai_acceptor_variant_plots(tmp_path, reference, annotation):
    """A real model: SpliceAI on the GGT7 intron-3 acceptor -2 SNV (T>C) loses the acceptor it hits."""
    if "spliceai" not in get_models():
        pytest.skip("the spliceai model plugin is not registered (pip install --no-deps spliceai==1.3.1)")
    results = api.predict_variant("spliceai", "chr20:29367:T>C", reference=reference, width=1000, context=5000)
    adata = results["splice_sites_1bp"]
    window_start = int(adata.obs["start"].iloc[0])
    acceptor_minus = list(adata.var_names).index("acceptor-")
    ref = adata.layers["ref"][:, acceptor_minus]
    site = int(np.argmax(ref))
    assert ref[site] > 0.5  # the annotated GGT7 acceptor (minus strand) is predicted on REF
    assert abs(window_start + site - 29366) <= 3
    assert adata.layers["alt"][site, acceptor_minus] < ref[site] - 0.3
    path = tmp_path / "spliceai_variant.png"
    plots.save(plots.plot_variant(adata, annotation=annotation, zoom=300), path)
    _check_png(path)
    tracks_path = tmp_path / "spliceai_tracks.png"
    plots.save(plots.plot_tracks(adata, annotation=annotation, layer="ref"), tracks_path)
    _check_png(tracks_path)


@pytest.mark.slow
def test_alphagenome_tiny_track_and_contact_plots(tmp_path, reference, annotation):
    if "alphagenome-tiny" not in get_models():
        pytest.skip("alphagenome-tiny is not registered")
    results = api.predict_interval("alphagenome-tiny", "chr20:24000-40000", reference=reference)  # every type
    path = tmp_path / "ag_tracks.png"
    plots.save(plots.plot_tracks(results["dnase_128bp"], annotation=annotation), path)
    _check_png(path)
    contacts = api.contact_map("alphagenome-tiny", "chr20:24000-40000", reference=reference)
    path = tmp_path / "ag_contacts.png"
    plots.save(plots.plot_contact_map(contacts), path)
    _check_png(path, min_width=600)
