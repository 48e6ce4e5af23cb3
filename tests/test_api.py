"""The public prediction API: intervals, sequences and variants as AnnData in the shared schema."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import genome_plugin
from genome_plugin import api
from genome_plugin.adata import validate
from genome_plugin.genome import Interval, Reference, Variant, one_hot, variant_sequences
from genome_plugin.predict import Predictor
from genome_plugin.scoring.align import align_alternate
from genome_plugin.tracks import OutputType

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


def test_top_level_names_resolve_to_the_api():
    assert genome_plugin.predict_interval is api.predict_interval
    assert genome_plugin.predict_variant is api.predict_variant
    assert genome_plugin.ism is api.ism
    assert genome_plugin.contact_map is api.contact_map


def test_predict_interval_one_anndata_per_type_and_resolution(reference):
    model = toy.AsymmetricModel()
    results = api.predict_interval(model, ["chr20:1000-1100", "20:5000-5064:-"], reference=reference)
    assert set(results) == {"dnase_1bp", "dnase_8bp", "contact_maps_16bp"}
    fine = results["dnase_1bp"]
    validate(fine)
    assert fine.shape == (164, 4)
    assert list(fine.var["name"]) == ["motif", "gc", "motif", "other"]
    first = fine[fine.obs["interval_id"] == "chr20:1000-1100:+"]
    assert first.obs["start"].tolist() == list(range(1000, 1100))
    second = fine[fine.obs["interval_id"] == "chr20:5000-5064:-"]
    assert set(second.obs["chrom"]) == {"chr20"}  # contig alias 20 -> chr20 from the FASTA
    # values are the Predictor's, cropped to the interval
    predictor = Predictor(model, progress=False)
    window = predictor.window(Interval("chr20", 1000, 1100))
    direct = predictor.predict_intervals(reference, [window])[0][(OutputType.DNASE, 1)]
    np.testing.assert_allclose(first.X, direct[1000 - window.start:1100 - window.start], rtol=1e-6)
    coarse = results["dnase_8bp"]
    assert coarse.obs["start"].iloc[0] == 1000 and coarse.obs["end"].iloc[-1] >= 1100
    meta = fine.uns["genome_plugin"]
    assert meta["model"] == "toy-asymmetric" and meta["output_type"] == "dnase" and meta["resolution"] == 1
    assert meta["reference"] == "chr20_slice.fa"
    assert list(meta["windows"]) == [str(window), "chr20:5000-5064:-"]
    assert list(meta["intervals"]) == ["chr20:1000-1100:+", "chr20:5000-5064:-"]
    assert meta["cropped"]


def test_repeated_intervals_get_unique_ids(reference):
    adata = api.predict_interval(toy.SymmetricModel(), ["chr20:1000-1064", "chr20:1000-1064"], reference=reference,
                                 output_types=["dnase"])["dnase_8bp"]
    assert list(dict.fromkeys(adata.obs["interval_id"])) == ["chr20:1000-1064:+", "chr20:1000-1064:+#2"]
    assert adata.obs_names.is_unique and adata.n_obs == 16


def test_predict_interval_uncropped_covers_the_window(reference):
    results = api.predict_interval(toy.SymmetricModel(), "chr20:1000-1100", reference=reference,
                                   output_types=["dnase"], crop=False)
    fine = results["dnase_1bp"]
    assert fine.obs["start"].iloc[0] == 992 and fine.obs["end"].iloc[-1] == 1120
    assert set(results) == {"dnase_1bp", "dnase_8bp"}


def test_track_filters_select_before_predicting(reference):
    model = toy.SymmetricModel()
    by_query = api.predict_interval(model, "chr20:1000-1064", reference=reference, tracks='biosample_name == "lung"',
                                    track_filters={"assay_title": "DNase-seq"})
    assert set(by_query) == {"dnase_1bp", "dnase_8bp"}  # contact maps have no biosample: left out
    assert list(by_query["dnase_1bp"].var_names) == ["motif+", "motif-"]
    assert model.calls[-1][1][OutputType.DNASE].tolist() == [0, 2]  # only the two tracks reached the model
    by_name = api.predict_interval(model, "chr20:1000-1064", reference=reference, tracks=["gc"])
    assert list(by_name["dnase_1bp"].var_names) == ["gc"]
    assert 'biosample_name == "lung"' in by_query["dnase_1bp"].uns["genome_plugin"]["track_filter"]
    with pytest.raises(ValueError, match="matched no track"):
        api.predict_interval(model, "chr20:1000-1064", reference=reference, tracks='biosample_name == "kidney"')


def test_predict_interval_with_a_registered_model_name(reference):
    pytest.importorskip("genome_plugin_example", reason="the example plugin (tests/example_plugin) is not installed")
    results = api.predict_interval("example-gc", "chr20:30000-30500", reference=reference)
    assert results
    for adata in results.values():
        assert adata.uns["genome_plugin"]["model"] == "example-gc"
        assert adata.obs["start"].iloc[0] <= 30000 and adata.obs["end"].iloc[-1] >= 30500
        assert np.isfinite(adata.X).all()


def test_unknown_contig_is_a_one_line_error(reference):
    with pytest.raises(ValueError, match="contig 'chr7' is not in the FASTA"):
        api.predict_interval(toy.SymmetricModel(), "chr7:1-100", reference=reference)


def test_predict_sequence_matches_the_same_sequence_from_the_genome(reference):
    model = toy.AsymmetricModel()
    sequence = reference.fetch(Interval("chr20", 2048, 2176))
    results = api.predict_sequence(model, sequence.lower(), name="my_seq")
    fine = results["dnase_1bp"]
    assert fine.obs["chrom"].iloc[0] == "my_seq" and fine.obs["start"].iloc[0] == 0
    genomic = api.predict_interval(model, "chr20:2048-2176", reference=reference)["dnase_1bp"]
    np.testing.assert_allclose(fine.X, genomic.X, rtol=1e-6)
    assert fine.uns["genome_plugin"]["sequence_length"] == 128
    with pytest.raises(ValueError, match="non-empty"):
        api.predict_sequence(model, "  ")


def test_predict_variant_ref_and_alt_layers(reference):
    model = toy.AsymmetricModel()
    variant = Variant.parse("chr20:29367:T>C")
    results = api.predict_variant(model, variant, reference=reference, width=128)
    adata = results["dnase_1bp"]
    np.testing.assert_allclose(adata.X, adata.layers["alt"] - adata.layers["ref"], rtol=1e-6, atol=1e-7)
    window = Interval.parse(adata.uns["genome_plugin"]["windows"][0])
    assert window.contains(variant.start) and window.width == 128
    ref_seq, alt_seq = variant_sequences(reference, window, variant)
    raw = model.predict(np.stack([one_hot(ref_seq), one_hot(alt_seq)]))[(OutputType.DNASE, 1)]
    np.testing.assert_allclose(adata.layers["ref"], raw[0], rtol=1e-6)
    np.testing.assert_allclose(adata.layers["alt"], raw[1], rtol=1e-6)
    changed = np.flatnonzero(np.abs(adata.X).max(axis=1) > 0)
    assert variant.start - window.start in changed  # the variant base itself changes
    assert set(adata.obs["variant_id"]) == {"chr20:29367:T>C"}
    contact = results["contact_maps_16bp"]
    assert {"ref", "alt"} <= set(contact.layers) and contact.uns["genome_plugin"]["kind"] == "contact_map"


def test_predict_variant_aligns_indels_to_ref_coordinates(reference):
    model = toy.SymmetricModel()
    variant = Variant.parse("chr20:80945:C>CA")  # the insertion in test-data/variants.vcf
    adata = api.predict_variant(model, [variant], reference=reference, width=128, output_types=["dnase"])["dnase_1bp"]
    window = Interval.parse(adata.uns["genome_plugin"]["windows"][0])
    ref_seq, alt_seq = variant_sequences(reference, window, variant)
    raw = model.predict(np.stack([one_hot(ref_seq), one_hot(alt_seq)]))[(OutputType.DNASE, 1)]
    aligned = align_alternate(raw[1], raw[0], variant=variant, interval=window, resolution=1)
    np.testing.assert_allclose(adata.layers["alt"], aligned, rtol=1e-6)
    assert not np.allclose(aligned, raw[1])


def test_predict_variant_several_variants_and_minus_strand(reference):
    model = toy.SymmetricModel()
    variants = ["chr20:29367:T>C", "chr20:31115:C>T", "chr20:50695:A>G"]
    plus = api.predict_variant(model, variants, reference=reference, width=128, output_types=["dnase"], batch_size=2)
    minus = api.predict_variant(model, variants, reference=reference, width=128, output_types=["dnase"],
                                strand="-")
    assert list(dict.fromkeys(plus["dnase_1bp"].obs["variant_id"])) == variants
    np.testing.assert_allclose(minus["dnase_1bp"].layers["alt"], plus["dnase_1bp"].layers["alt"], rtol=1e-5,
                               atol=1e-5)


def test_predict_variant_reports_a_ref_mismatch(reference):
    with pytest.raises(ValueError, match=r"variant chr20:29367:A>C: REF A does not match the reference T"):
        api.predict_variant(toy.SymmetricModel(), "chr20:29367:A>C", reference=reference, width=128)
