"""Contact maps: upper-triangle pixels in AnnData, windows on the genome grid, REF vs ALT difference maps."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from genome_plugin import api
from genome_plugin.adata import contact_map_matrix, contact_map_to_anndata, provenance
from genome_plugin.genome import Interval, Reference
from genome_plugin.predict import Predictor
from genome_plugin.tracks import OutputType, TrackTable

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


def test_contact_map_to_anndata_round_trip():
    rng = np.random.default_rng(1)
    values = rng.normal(size=(5, 5, 2)).astype(np.float32)
    values = (values + values.transpose(1, 0, 2)) / 2
    tracks = TrackTable([{"name": "a", "strand": "."}, {"name": "b", "strand": "."}])
    adata = contact_map_to_anndata(values, interval=Interval("chr1", 4096, 4096 + 5 * 2048), resolution=2048,
                                   tracks=tracks, uns=provenance("contact_map", resolution=2048))
    assert adata.n_obs == 15
    assert (adata.obs["bin1_id"] <= adata.obs["bin2_id"]).all()
    assert adata.obs["start1"].iloc[1] == 4096 and adata.obs["start2"].iloc[1] == 6144
    np.testing.assert_array_equal(contact_map_matrix(adata, "b"), values[..., 1])
    with pytest.raises(ValueError, match=r"\(bins, bins, tracks\)"):
        contact_map_to_anndata(values[:, :3], interval=Interval("chr1", 0, 10), resolution=2, tracks=tracks, uns={})


def test_contact_map_prediction(reference):
    model = toy.AsymmetricModel()
    adata = api.contact_map(model, "chr20:28010-29000", reference=reference)
    meta = adata.uns["genome_plugin"]
    assert meta["kind"] == "contact_map" and meta["resolution"] == 16
    window = Interval.parse(meta["windows"][0])
    assert window.start % 16 == 0 and window.start <= 28010 and window.end >= 29000
    bins = window.width // 16
    assert adata.n_obs == bins * (bins + 1) // 2
    expected = Predictor(model, requests={OutputType.CONTACT_MAPS: None}, progress=False).predict_intervals(
        reference, [window])[0][(OutputType.CONTACT_MAPS, 16)]
    np.testing.assert_allclose(contact_map_matrix(adata, 0), expected[..., 0], rtol=1e-6)
    assert set(adata.var_names) == {"hic", "micro_c"}


def test_difference_map_for_a_variant(reference):
    model = toy.AsymmetricModel()
    plain = api.contact_map(model, "chr20:28000-29024", reference=reference)
    paired = api.contact_map(model, "chr20:28000-29024", reference=reference, variant="chr20:28500:A>C")
    np.testing.assert_allclose(paired.layers["ref"], plain.X, rtol=1e-6)
    np.testing.assert_allclose(paired.X, paired.layers["alt"] - paired.layers["ref"], rtol=1e-5, atol=1e-7)
    difference = contact_map_matrix(paired, "hic")
    changed = np.argwhere(np.abs(difference) > 1e-6)
    variant_bin = (28499 - 28000) // 16
    assert len(changed) and set(changed.ravel()) >= {variant_bin}
    assert paired.uns["genome_plugin"]["variant"] == "chr20:28500:A>C"
    with pytest.raises(ValueError, match="outside the contact-map window"):
        api.contact_map(model, "chr20:28000-29024", reference=reference, variant="chr20:40000:A>C")


def test_contact_map_needs_a_model_that_predicts_them(reference):
    pytest.importorskip("genome_plugin_example", reason="the example plugin (tests/example_plugin) is not installed")
    with pytest.raises(ValueError, match="does not predict contact_maps"):
        api.contact_map("example-gc", "chr20:28000-29024", reference=reference)
